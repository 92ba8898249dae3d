// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the waagent.conf editor. The input is the file's text, then a NUL,
 * then the value to set (or "y" when that is not a valid value). A result must be
 * stable when set again, differ from the input in one line (or one appended line), and
 * read back as the value the way WALinuxAgent reads its configuration.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define KEY "OS.EnableRDMA"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Python's str.strip(chars), in place on [*s, *e). */
static void strip(const char **s, const char **e, bool (*drop)(char))
{
	while (*s < *e && drop(**s))
		(*s)++;
	while (*e > *s && drop((*e)[-1]))
		(*e)--;
}

/* str.isspace() within ASCII. */
static bool space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static bool quote_or_blank(char c)
{
	return c == '"' || c == ' ';
}

/* A value as load() keeps it: split('#')[0].strip("\" ").strip(). */
static char *value_of(const char *v, const char *ve)
{
	const char *hash = memchr(v, '#', (size_t)(ve - v));
	char *s;

	if (hash)
		ve = hash;
	strip(&v, &ve, quote_or_blank);
	strip(&v, &ve, space);
	s = strndup(v, (size_t)(ve - v));
	if (!s)
		abort();
	return s;
}

/* ConfigurationProvider.load(): the last "KEY=..." line's value; NULL when none. */
static char *waagent_value(const char *text)
{
	char *found = NULL;

	for (const char *line = text; *line;) {
		const char *end = line + strcspn(line, "\n"), *eq, *k = line, *ke;

		if (*line != '#' && (eq = memchr(line, '=', (size_t)(end - line)))) {
			ke = eq;
			strip(&k, &ke, space);
			if ((size_t)(ke - k) == strlen(KEY) &&
			    memcmp(k, KEY, strlen(KEY)) == 0) {
				free(found);
				found = value_of(eq + 1, end);
			}
		}
		line = *end ? end + 1 : end;
	}
	return found;
}

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static unsigned count_lines(const char *s, size_t len)
{
	unsigned n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n + (len > 0 && s[len - 1] != '\n');
}

/* Lines of @a and @b outside their common leading and trailing lines. */
static void diff_lines(const char *a, const char *b, unsigned *removed, unsigned *added)
{
	size_t la = strlen(a), lb = strlen(b), pre = 0, suf = 0;

	/* Common whole lines at the start. */
	for (size_t i = 0; i < la && i < lb && a[i] == b[i]; i++)
		if (a[i] == '\n')
			pre = i + 1;
	/* ... and at the end, not overlapping them. */
	for (size_t i = 1; i <= la - pre && i <= lb - pre && a[la - i] == b[lb - i]; i++)
		if (i == la - pre || a[la - i - 1] == '\n')
			if (i == lb - pre || b[lb - i - 1] == '\n')
				suf = i;
	*removed = count_lines(a + pre, la - pre - suf);
	*added = count_lines(b + pre, lb - pre - suf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char yes[] = "y";
	char *buf = malloc(size + 2), *value, *out = NULL, *again = NULL, *read, *want;
	unsigned removed, added;
	size_t tlen;
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	tlen = strlen(buf);
	value = tlen < size ? buf + tlen + 1 : yes;
	r = ibup_waagent_set(buf, KEY, value, &out);
	if (r == -EINVAL) {
		value = yes;
		r = ibup_waagent_set(buf, KEY, value, &out);
	}
	if (r < 0) {
		free(buf);
		return 0;
	}
	if (ibup_waagent_set(out, KEY, value, &again) < 0 || strcmp(again, out) != 0)
		abort();
	diff_lines(buf, out, &removed, &added);
	if (removed > 1 || added > 2 || (added == 2 && removed != 1) ||
	    (removed == 1 && added == 0))
		abort();
	read = waagent_value(out);
	want = value_of(value, value + strlen(value));
	if (!read || strcmp(read, want) != 0)
		abort();
	/* The one reader (checked against the agent's own by unit-waagent-vs-agent)
	 * agrees with this model wherever the text is ASCII. */
	if (ascii(out)) {
		char *v = NULL;
		int rr = ibup_waagent_conf_value(out, KEY, &v);

		if (strcmp(read, "None") == 0 ? rr != -ENOENT
					      : rr != 0 || strcmp(v, read))
			abort();
		free(v);
	}
	free(want);
	free(read);
	free(again);
	free(out);
	free(buf);
	return 0;
}

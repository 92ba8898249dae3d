// SPDX-License-Identifier: MIT
/*
 * The /etc/waagent.conf editor. waagent.conf is shared with the distribution and the
 * agent, so only the one line that matters changes, in place. The line chosen follows
 * WALinuxAgent's own reader (ConfigurationProvider.load): lines split on '\n', a
 * comment is a line whose first byte is '#', the key is what precedes the first '='
 * with whitespace stripped (matched exactly: the agent's keys are case-sensitive), the
 * value ends at the first '#', and the last assignment wins.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

struct span {
	const char *start, *end; /* [start, end), excluding the '\n' */
};

/* Python's str.strip() whitespace within ASCII: C's six and the separators 0x1c-0x1f. */
static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Whether @s cannot be a KEY or VALUE: besides whitespace, '=' and '#', which would
 * change where the line splits, a '"' (load() strips quotes from the value, but not past
 * a CR), control characters and bytes beyond ASCII (Python strips Unicode spaces too)
 * would not read back as written.
 */
static bool bad_token(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c > '~' || c == '=' || c == '#' || c == '"')
			return true;
	}
	return false;
}

/* An assignment of @key, as waagent reads it: "  KEY  = value # comment". */
static bool is_assignment(struct span l, const char *key, size_t klen)
{
	const char *eq, *k = l.start;

	if (l.start == l.end || *l.start == '#')
		return false;
	eq = memchr(l.start, '=', (size_t)(l.end - l.start));
	if (!eq)
		return false;
	while (k < eq && is_space(*k))
		k++;
	while (eq > k && is_space(eq[-1]))
		eq--;
	return (size_t)(eq - k) == klen && memcmp(k, key, klen) == 0;
}

/* "# KEY=..." or "#KEY=...": where KEY starts, or NULL. */
static const char *commented_key(struct span l, const char *key, size_t klen)
{
	const char *k = l.start + 1, *p;

	if (l.start == l.end || *l.start != '#')
		return NULL;
	while (k < l.end && is_blank(*k))
		k++;
	if ((size_t)(l.end - k) < klen || memcmp(k, key, klen) != 0)
		return NULL;
	p = k + klen;
	while (p < l.end && is_blank(*p))
		p++;
	return p < l.end && *p == '=' ? k : NULL;
}

/* Python's str.isspace(): what str.strip() removes. */
static bool is_py_space(uint32_t c)
{
	return (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= ' ') || c == 0x85 ||
	       c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static bool strips(uint32_t c, const char *chars)
{
	return chars ? c && c < 0x80 && strchr(chars, (int)c) : is_py_space(c);
}

/* Python's s.strip(chars) (@chars NULL: whitespace) on [*start, *end) of valid UTF-8. */
static void py_strip(const char **start, const char **end, const char *chars)
{
	uint32_t c;
	size_t n;

	while (*start < *end && (n = ibup_utf8_decode(*start, &c)) > 0 &&
	       strips(c, chars))
		*start += n;
	while (*end > *start) {
		const char *q = *end - 1;

		/* Back to the lead byte of the last character (at most four bytes). */
		while (q > *start && ((unsigned char)*q & 0xc0) == 0x80 && *end - q < 4)
			q--;
		if (ibup_utf8_decode(q, &c) != (size_t)(*end - q) || !strips(c, chars))
			break;
		*end = q;
	}
}

int ibup_waagent_conf_value(const char *text, const char *key, char **ret_value)
{
	const char *found = NULL, *found_end = NULL, *line = text;
	size_t klen = strlen(key);

	/* read_file() decodes UTF-8 strictly: the agent cannot load anything else. */
	for (const char *p = text; *p;) {
		uint32_t c;
		size_t n = ibup_utf8_decode(p, &c);

		if (!n)
			return -EILSEQ;
		p += n;
	}
	while (*line) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		const char *eq = memchr(line, '=', (size_t)(end - line));

		/* load(): not startswith("#") and "=" in line */
		if (*line != '#' && eq) {
			const char *k = line, *kend = eq, *v = eq + 1, *vend;

			py_strip(&k, &kend, NULL);
			if ((size_t)(kend - k) == klen && memcmp(k, key, klen) == 0) {
				/* parts[1].split('#')[0].strip("\" ").strip() */
				vend = memchr(v, '#', (size_t)(end - v));
				if (!vend)
					vend = end;
				py_strip(&v, &vend, "\" ");
				py_strip(&v, &vend, NULL);
				found = v;
				found_end = vend;
			}
		}
		line = nl ? nl + 1 : end;
	}
	/* The value "None" is stored as None: as good as absent. */
	if (!found || (found_end - found == 4 && memcmp(found, "None", 4) == 0))
		return -ENOENT;
	*ret_value = strndup(found, (size_t)(found_end - found));
	return *ret_value ? 0 : -ENOMEM;
}

int ibup_waagent_conf_switch(const char *text, const char *key, int default_value)
{
	_cleanup_free_ char *v = NULL;
	int r = ibup_waagent_conf_value(text, key, &v);

	if (r == -ENOMEM || r == -EILSEQ)
		return r;
	/* get_switch(): val.lower() == 'y' / 'n', else the default. */
	if (r == 0 && strlen(v) == 1 && (v[0] == 'y' || v[0] == 'Y'))
		return 1;
	if (r == 0 && strlen(v) == 1 && (v[0] == 'n' || v[0] == 'N'))
		return 0;
	return default_value;
}

/* @text with its bytes [@from, @to) replaced by @mid. */
static int splice(const char *text, const char *from, const char *to, const char *mid,
		  char **ret_text)
{
	size_t head = (size_t)(from - text), mlen = strlen(mid), tail = strlen(to);
	char *out = malloc(head + mlen + tail + 1);

	if (!out)
		return -ENOMEM;
	memcpy(out, text, head);
	memcpy(out + head, mid, mlen);
	memcpy(out + head + mlen, to, tail + 1);
	*ret_text = out;
	return 0;
}

/*
 * Give assignment line @l, whose key starts at @k, the value @value. The old value runs
 * from after the '=' and its blanks to a '#' or the end of the line, less trailing
 * whitespace: spacing, an inline comment and a CR before the '\n' all stay.
 */
static int set_line(const char *text, struct span l, const char *k, const char *value,
		    char **ret_text)
{
	const char *v = k, *end;
	_cleanup_free_ char *mid = NULL;
	size_t plen;

	/* The callers matched an '=' after the key, on this line. */
	while (*v != '=')
		v++;
	v++;
	while (v < l.end && is_blank(*v))
		v++;
	end = v;
	while (end < l.end && *end != '#')
		end++;
	while (end > v && is_space(end[-1]))
		end--;
	/* Uncommenting drops what precedes the key; otherwise k is the line start. */
	plen = (size_t)(v - k);
	mid = malloc(plen + strlen(value) + 1);
	if (!mid)
		return -ENOMEM;
	memcpy(mid, k, plen);
	memcpy(mid + plen, value, strlen(value) + 1);
	return splice(text, l.start, end, mid, ret_text);
}

int ibup_waagent_set(const char *text, const char *key, const char *value,
		     char **ret_text)
{
	size_t klen = strlen(key), len = strlen(text);
	struct span last = { 0 }, first_comment = { 0 };
	const char *comment_key = NULL, *line = text, *nl;
	_cleanup_free_ char *out = NULL;
	bool crlf;
	int r;

	if (klen == 0 || bad_token(key) || bad_token(value))
		return -EINVAL;
	while (*line) {
		struct span l = { line, NULL };

		nl = strchr(line, '\n');
		l.end = nl ? nl : text + len;
		if (is_assignment(l, key, klen))
			last = l;
		else if (!comment_key)
			if ((comment_key = commented_key(l, key, klen)))
				first_comment = l;
		line = nl ? nl + 1 : l.end;
	}
	if (last.start)
		return set_line(text, last, last.start, value, ret_text);
	if (comment_key)
		return set_line(text, first_comment, comment_key, value, ret_text);

	/* Append, in the file's own line ending (CRLF when its first line has one). */
	nl = strchr(text, '\n');
	crlf = nl && nl > text && nl[-1] == '\r';
	r = asprintf(&out, "%s%s%s=%s%s", text,
		     len > 0 && text[len - 1] != '\n' ? (crlf ? "\r\n" : "\n") : "", key,
		     value, crlf ? "\r\n" : "\n");
	if (r < 0) {
		out = NULL;
		return -ENOMEM;
	}
	*ret_text = TAKE_PTR(out);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * "Key=Value" configuration files: /etc/waagent.conf, slurm.conf. Reading only; the
 * waagent.conf editor lives with the IPoIB setup.
 */
#include <ctype.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

int ibup_conf_value(const char *text, const char *key, char **ret_value)
{
	size_t klen = strlen(key);
	const char *line = text;
	char *found = NULL;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		const char *end = eol ? eol : line + strlen(line);
		const char *p = line, *v, *hash;

		line = eol ? eol + 1 : NULL;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p >= end || *p == '#')
			continue;
		if ((size_t)(end - p) <= klen || strncasecmp(p, key, klen) != 0)
			continue;
		v = p + klen;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if (v >= end || *v != '=')
			continue;
		v++;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		/* An inline comment starts at " #" (waagent and slurm both allow it). */
		hash = v;
		while (hash < end &&
		       !(*hash == '#' && (hash == v || isspace((unsigned char)hash[-1]))))
			hash++;
		end = hash;
		while (end > v && isspace((unsigned char)end[-1]))
			end--;
		free(found);
		found = strndup(v, (size_t)(end - v));
		if (!found)
			return -ENOMEM;
	}
	if (!found)
		return -ENOENT;
	*ret_value = found;
	return 0;
}

/* Compare dotted versions numerically: <0, 0, >0. */
static int vercmp(const char *a, const char *b)
{
	while (isdigit((unsigned char)*a) || isdigit((unsigned char)*b)) {
		unsigned long x = 0, y = 0;

		while (isdigit((unsigned char)*a))
			x = x * 10 + (unsigned long)(*a++ - '0');
		while (isdigit((unsigned char)*b))
			y = y * 10 + (unsigned long)(*b++ - '0');
		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
	return 0;
}

int ibup_waagent_version_check(const char *output, char *ret_version, size_t version_size,
			       const char **ret_problem)
{
	/* The daemon's version comes first ("WALinuxAgent-2.2.45 running on ..."); the
	 * goal-state agent's, which may be newer, does not run the RDMA code. */
	const char *p = strstr(output, "WALinuxAgent-");
	size_t n = 0;

	if (!p)
		return -ENOENT;
	p += 13;
	while (isdigit((unsigned char)p[n]) || p[n] == '.')
		n++;
	if (!n || n >= version_size)
		return -EINVAL;
	memcpy(ret_version, p, n);
	ret_version[n] = '\0';
	*ret_problem = NULL;
	if (vercmp(ret_version, "2.4.0.2") < 0)
		*ret_problem = "older than 2.4.0.2, the oldest Azure documents for IPoIB";
	else if (strcmp(ret_version, "2.9.1.1") == 0)
		*ret_problem =
			"2.9.1.1 fails before configuring IPoIB ('WireProtocol' object has "
			"no attribute 'fetch_config', fixed in later releases)";
	return 0;
}

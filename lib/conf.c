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

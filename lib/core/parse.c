// SPDX-License-Identifier: MIT
/*
 * Parsers for the kernel's sysfs formats (drivers/infiniband/core/sysfs.c) and for
 * os-release. Pure functions: no I/O, so every one is unit-tested and fuzzed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

/* Length of the valid UTF-8 sequence at @s (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8
	 * either (RFC 3629), and jansson refuses them: one would fail a whole document. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

char *ibup_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (p && *p) {
		size_t n = utf8_len(p);

		if (n == 0 || *p < 0x20 || *p == 0x7f) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
	return s;
}

char *ibup_sanitize_text(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (p && *p) {
		size_t n = utf8_len(p);

		if (n == 0 || (*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
	return s;
}

char *ibup_strdup_clean(const char *s)
{
	char *d = strdup(s);

	return d ? ibup_sanitize(d) : NULL;
}

int ibup_parse_u32(const char *s, int base, uint32_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno == ERANGE || v > UINT32_MAX)
		return -ERANGE;
	if (errno || end == s || *end)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int ibup_parse_i32(const char *s, int32_t *ret)
{
	long long v;
	char *end;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE || v > INT32_MAX || v < INT32_MIN)
		return -ERANGE;
	if (errno || end == s || *end)
		return -EINVAL;
	*ret = (int32_t)v;
	return 0;
}

/* "%d: %s": the number is what counts (libibumad reads it the same way). */
static int parse_numbered(const char *s, uint32_t max, uint32_t *ret)
{
	char num[12];
	const char *colon = strchr(s, ':');
	size_t n;
	uint32_t v;

	if (!colon || colon == s || colon[1] != ' ' || !colon[2])
		return -EINVAL;
	n = (size_t)(colon - s);
	if (n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	if (ibup_parse_u32(num, 10, &v) < 0 || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int ibup_parse_port_state(const char *s, enum ibup_port_state *ret)
{
	uint32_t v;

	if (parse_numbered(s, IBUP_PORT_ACTIVE_DEFER, &v) < 0)
		return -EINVAL;
	*ret = (enum ibup_port_state)v;
	return 0;
}

int ibup_parse_phys_state(const char *s, enum ibup_phys_state *ret)
{
	uint32_t v;

	if (parse_numbered(s, UINT32_MAX, &v) < 0)
		return -EINVAL;
	/* Values past phy_test are reserved; report them as the kernel does: unknown. */
	*ret = v > IBUP_PHYS_PHY_TEST ? IBUP_PHYS_UNKNOWN : (enum ibup_phys_state)v;
	return 0;
}

int ibup_parse_node_type(const char *s, enum ibup_node_type *ret)
{
	uint32_t v;

	if (parse_numbered(s, UINT32_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	*ret = v > IBUP_NODE_UNSPECIFIED ? IBUP_NODE_UNSPECIFIED : (enum ibup_node_type)v;
	return 0;
}

int ibup_parse_link_layer(const char *s, enum ibup_link_layer *ret)
{
	if (strcmp(s, "InfiniBand") == 0)
		*ret = IBUP_LINK_LAYER_INFINIBAND;
	else if (strcmp(s, "Ethernet") == 0)
		*ret = IBUP_LINK_LAYER_ETHERNET;
	else if (strcmp(s, "Unknown") == 0)
		*ret = IBUP_LINK_LAYER_UNKNOWN;
	else
		return -EINVAL;
	return 0;
}

static bool is_speed_name(const char *s)
{
	static const char *const names[] = { "SDR", "DDR", "QDR", "FDR10", "FDR",
					     "EDR", "HDR", "NDR", "XDR" };

	for (size_t i = 0; i < IBUP_ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return true;
	return false;
}

/*
 * The kernel prints "%d%s Gb/sec (%dX%s)": whole Gb/s, then ".5" or ".125"-style
 * fractions for 1X SDR (2.5) and 1X HDR (53.125) forms, then width and speed names.
 */
int ibup_parse_rate(const char *s, double *ret_gbps, char *width, size_t width_size,
		    char *speed, size_t speed_size)
{
	const char *p = s, *open, *x, *close;
	char num[32], w[8], sp[16];
	uint32_t lanes;
	double v;
	char *end;
	size_t n;

	while (isdigit((unsigned char)*p) || *p == '.')
		p++;
	n = (size_t)(p - s);
	if (n == 0 || n >= sizeof(num) || strncmp(p, " Gb/sec (", 9) != 0)
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	if (!isdigit((unsigned char)num[0]) || !isdigit((unsigned char)num[n - 1]))
		return -EINVAL;
	errno = 0;
	v = strtod(num, &end);
	if (errno || *end || !isfinite(v) || v < 0)
		return -EINVAL;
	open = p + 8;
	x = strchr(open, 'X');
	close = strchr(open, ')');
	if (!x || !close || x > close || close[1])
		return -EINVAL;
	n = (size_t)(x - open) - 1;
	if (n == 0 || n + 2 > sizeof(w))
		return -EINVAL;
	memcpy(w, open + 1, n);
	w[n] = '\0';
	if (ibup_parse_u32(w, 10, &lanes) < 0 || lanes == 0)
		return -EINVAL;
	w[n] = 'X';
	w[n + 1] = '\0';
	/* "(4X HDR)", or "(1X)" when the kernel has no name for the speed. */
	if (x + 1 < close && (x[1] != ' ' || x + 2 == close))
		return -EINVAL;
	p = x + 1 < close ? x + 2 : close;
	n = (size_t)(close - p);
	if (n >= sizeof(sp))
		return -EINVAL;
	memcpy(sp, p, n);
	sp[n] = '\0';
	if (n && !is_speed_name(sp))
		return -EINVAL;
	if (strlen(w) >= width_size || strlen(sp) >= speed_size)
		return -EOVERFLOW;
	*ret_gbps = v;
	snprintf(width, width_size, "%s", w);
	snprintf(speed, speed_size, "%s", sp);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse @groups groups of exactly four hex digits separated by ':'. */
static int parse_groups(const char *s, unsigned groups, uint16_t *ret)
{
	for (unsigned g = 0; g < groups; g++) {
		uint16_t v = 0;

		for (unsigned i = 0; i < 4; i++) {
			int h = hexval(*s++);

			if (h < 0)
				return -EINVAL;
			v = (uint16_t)(v << 4 | (unsigned)h);
		}
		ret[g] = v;
		if (g + 1 < groups && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

int ibup_parse_guid(const char *s, uint64_t *ret)
{
	uint16_t g[4];
	uint64_t v = 0;

	if (parse_groups(s, 4, g) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < 4; i++)
		v = v << 16 | g[i];
	*ret = v;
	return 0;
}

void ibup_format_guid(uint64_t guid, char buf[20])
{
	snprintf(buf, 20, "%04x:%04x:%04x:%04x", (unsigned)(guid >> 48) & 0xffff,
		 (unsigned)(guid >> 32) & 0xffff, (unsigned)(guid >> 16) & 0xffff,
		 (unsigned)guid & 0xffff);
}

int ibup_parse_gid(const char *s, uint8_t ret[16])
{
	uint16_t g[8];

	if (parse_groups(s, 8, g) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < 8; i++) {
		ret[2 * i] = (uint8_t)(g[i] >> 8);
		ret[2 * i + 1] = (uint8_t)g[i];
	}
	return 0;
}

void ibup_format_gid(const uint8_t gid[16], char buf[40])
{
	int off = 0;

	for (unsigned i = 0; i < 8; i++)
		off += snprintf(buf + off, (size_t)(40 - off),
				i ? ":%02x%02x" : "%02x%02x", gid[2 * i], gid[2 * i + 1]);
}

int ibup_parse_gid_type(const char *s, enum ibup_link_layer ll, enum ibup_gid_type *ret)
{
	if (strcmp(s, "IB/RoCE v1") == 0)
		*ret = ll == IBUP_LINK_LAYER_ETHERNET ? IBUP_GID_ROCE_V1 : IBUP_GID_IB;
	else if (strcmp(s, "RoCE v2") == 0)
		*ret = IBUP_GID_ROCE_V2;
	else
		return -EINVAL;
	return 0;
}

int ibup_parse_pkey(const char *s, uint16_t *ret)
{
	uint32_t v;

	if (strncmp(s, "0x", 2) != 0 || !s[2] || ibup_parse_u32(s + 2, 16, &v) < 0 ||
	    v > 0xffff)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

int32_t ibup_tenant_pkey(const uint16_t *pkeys, unsigned n)
{
	int32_t best = IBUP_UNKNOWN;

	/* Only the first two entries carry the tenant's key (Azure's setup-mpi). */
	for (unsigned i = 0; i < n && i < 2; i++) {
		uint16_t k = pkeys[i];

		if (k == 0 || k == 0x7fff || k == 0xffff)
			continue;
		if (k > best)
			best = k;
	}
	return best;
}

/* Decode an os-release value: quotes and backslash escapes as in a shell. */
static char *unquote(const char *v, size_t len)
{
	char *out = malloc(len + 1), *o = out;
	char q = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];

		if (!q && (c == '"' || c == '\'')) {
			q = c;
		} else if (q && c == q) {
			q = 0;
		} else if (c == '\\' && q != '\'' && i + 1 < len) {
			*o++ = v[++i];
		} else if (!q && c == '#') {
			break;
		} else {
			*o++ = c;
		}
	}
	while (o > out && !q && isspace((unsigned char)o[-1]))
		o--;
	*o = '\0';
	return ibup_sanitize(out);
}

int ibup_os_release_value(const char *text, const char *key, char **ret_value)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		while (len && isspace((unsigned char)*line)) {
			line++;
			len--;
		}
		if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
			char *v = unquote(line + klen + 1, len - klen - 1);

			if (!v)
				return -ENOMEM;
			*ret_value = v;
			return 0;
		}
		line = eol ? eol + 1 : NULL;
	}
	return -ENOENT;
}

int ibup_parse_cpulist(const char *s, cpu_set_t *ret)
{
	CPU_ZERO(ret);
	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p;) {
		char *end;
		unsigned long a, b;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		a = b = strtoul(p, &end, 10);
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				return -EINVAL;
			b = strtoul(end + 1, &end, 10);
		}
		if (errno || b < a || b >= CPU_SETSIZE)
			return -ERANGE;
		for (unsigned long c = a; c <= b; c++)
			CPU_SET(c, ret);
		if (*end == ',' && end[1])
			p = end + 1;
		else if (*end)
			return -EINVAL;
		else
			p = end;
	}
	return 0;
}

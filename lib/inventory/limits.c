// SPDX-License-Identifier: MIT
/*
 * Locked-memory limits: what this process has, what pam_limits gives login sessions
 * (limits.conf, limits.d), and what systemd gives services (DefaultLimitMEMLOCK).
 * RDMA registers memory; UCX and MPI fail with a low memlock limit.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"
#include "banned.h"

/*
 * Copy the next line of @*cursor into @buf and advance. 1 for a line, 0 at the end,
 * -EOVERFLOW for a line longer than @size (skipped).
 */
static int next_line(const char **cursor, char *buf, size_t size)
{
	const char *line = *cursor, *eol;
	size_t len;

	if (!line || !*line)
		return 0;
	eol = strchr(line, '\n');
	len = eol ? (size_t)(eol - line) : strlen(line);
	*cursor = eol ? eol + 1 : NULL;
	if (len >= size)
		return -EOVERFLOW;
	memcpy(buf, line, len);
	buf[len] = '\0';
	return 1;
}

static int cmp_c(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *skip_space(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static char *next_field(char **p)
{
	char *start = skip_space(*p), *end = start;

	while (*end && *end != ' ' && *end != '\t')
		end++;
	if (*end)
		*end++ = '\0';
	*p = end;
	return start;
}

/* A memlock value of limits.conf: KiB, or "unlimited"/"infinity"/-1. */
static int parse_kib(const char *s, int64_t *ret)
{
	uint32_t v;

	if (strcmp(s, "unlimited") == 0 || strcmp(s, "infinity") == 0 ||
	    strcmp(s, "-1") == 0) {
		*ret = IBUP_UNLIMITED;
		return 0;
	}
	if (ibup_parse_u32(s, 10, &v) < 0)
		return -EINVAL;
	*ret = (int64_t)v * 1024;
	return 0;
}

int ibup_parse_limits_conf(const char *text, int64_t *soft, int64_t *hard,
			   struct ibup_diag *reterr_diag)
{
	const char *cursor = text;
	unsigned lineno = 0;
	char buf[512];
	int r;

	while ((r = next_line(&cursor, buf, sizeof(buf))) != 0) {
		char *p = buf, *domain, *type, *item, *value, *hash;
		int64_t v;

		lineno++;
		if (r < 0) {
			*reterr_diag = (struct ibup_diag){ .line = lineno };
			snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
				 "line too long");
			return -EINVAL;
		}
		hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		domain = next_field(&p);
		if (!*domain)
			continue;
		type = next_field(&p);
		item = next_field(&p);
		value = next_field(&p);
		if (!*value || *skip_space(p)) {
			*reterr_diag = (struct ibup_diag){ .line = lineno };
			snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
				 "expected '<domain> <type> <item> <value>'");
			return -EINVAL;
		}
		/* Only the wildcard speaks for every user; it does not apply to root. */
		if (strcmp(domain, "*") != 0 || strcmp(item, "memlock") != 0)
			continue;
		if (parse_kib(value, &v) < 0) {
			*reterr_diag = (struct ibup_diag){ .line = lineno };
			snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
				 "bad memlock value '%.32s'", value);
			return -EINVAL;
		}
		if (strcmp(type, "soft") == 0 || strcmp(type, "-") == 0)
			*soft = v;
		if (strcmp(type, "hard") == 0 || strcmp(type, "-") == 0)
			*hard = v;
		if (strcmp(type, "soft") && strcmp(type, "hard") && strcmp(type, "-")) {
			*reterr_diag = (struct ibup_diag){ .line = lineno };
			snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
				 "bad limit type '%.32s'", type);
			return -EINVAL;
		}
	}
	return 0;
}

/* systemd's resource-limit values: "infinity", or bytes with K/M/G/T/P/E (base 1024). */
static int parse_systemd_bytes(const char *s, int64_t *ret)
{
	static const char suffixes[] = "KMGTPE";
	unsigned long long v;
	const char *sfx;
	char *end;

	if (strcmp(s, "infinity") == 0) {
		*ret = IBUP_UNLIMITED;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		sfx = strchr(suffixes, *end);
		if (!sfx || (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B")))
			return -EINVAL;
		for (const char *x = suffixes; x <= sfx; x++) {
			if (v > (unsigned long long)INT64_MAX / 1024)
				return -ERANGE;
			v *= 1024;
		}
	}
	if (v >= (unsigned long long)INT64_MAX)
		return -ERANGE;
	*ret = (int64_t)v;
	return 0;
}

int ibup_parse_systemd_memlock(const char *text, int64_t *soft,
			       struct ibup_diag *reterr_diag)
{
	const char *cursor = text;
	bool manager = false;
	unsigned lineno = 0;
	char buf[512];
	int r;

	while ((r = next_line(&cursor, buf, sizeof(buf))) != 0) {
		char *p, *colon, *end;

		lineno++;
		if (r < 0)
			continue; /* not a line we look at */
		p = skip_space(buf);
		end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*p == '#' || *p == ';' || !*p)
			continue;
		if (*p == '[') {
			manager = strcmp(p, "[Manager]") == 0;
			continue;
		}
		if (!manager || strncmp(p, "DefaultLimitMEMLOCK", 19) != 0)
			continue;
		p = skip_space(p + 19);
		if (*p != '=')
			continue;
		p = skip_space(p + 1);
		/* "soft:hard", or one value for both. */
		colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		if (!*p) {
			*soft = IBUP_UNKNOWN; /* an empty assignment resets to the built-in default */
			continue;
		}
		if (parse_systemd_bytes(p, soft) < 0) {
			*reterr_diag = (struct ibup_diag){ .line = lineno };
			snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
				 "bad DefaultLimitMEMLOCK value '%.32s'", p);
			return -EINVAL;
		}
	}
	return 0;
}

/* Apply one configuration file, warning (once) about what is wrong in it. */
static int apply_file(struct ibup_ctx *ctx, const char *path, bool systemd, int64_t *a,
		      int64_t *b)
{
	_cleanup_free_ char *text = NULL;
	struct ibup_diag diag = { 0 };
	int r;

	r = ibup_read_file(ctx, path, IBUP_CONF_MAX, &text, NULL);
	if (r == -ENOMEM)
		return r;
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		ibup_warn(ctx, "cannot read '/%s': %s", path, strerror(-r));
		return 0;
	}
	r = systemd ? ibup_parse_systemd_memlock(text, a, &diag)
		    : ibup_parse_limits_conf(text, a, b, &diag);
	if (r < 0)
		ibup_warn(ctx, "ignoring the rest of '/%s': line %u: %s", path, diag.line,
			  diag.msg);
	return 0;
}

/* A ".d" directory's *.conf files, in the C locale's order (as pam_limits and systemd). */
static int apply_dir(struct ibup_ctx *ctx, const char *dir, bool systemd, int64_t *a,
		     int64_t *b)
{
	_cleanup_close_ int fd = ibup_open_dir(ctx, "%s", dir);
	char **names = NULL;
	unsigned n = 0;
	int r;

	if (fd < 0)
		return 0;
	r = ibup_list_dir_logged(ctx, fd, IBUP_MAX_DEVICES, &names, &n, "%s", dir);
	if (r < 0)
		return r;
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_c);
	for (unsigned i = 0; i < n && r >= 0; i++) {
		char path[PATH_MAX];
		size_t len = strlen(names[i]);

		if (len < 6 || strcmp(names[i] + len - 5, ".conf") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		r = apply_file(ctx, path, systemd, a, b);
	}
	ibup_strv_free(names, n);
	return r;
}

static int64_t rlim_bytes(rlim_t v)
{
	return v == RLIM_INFINITY || v >= (rlim_t)INT64_MAX ? IBUP_UNLIMITED : (int64_t)v;
}

int ibup_limits_read(struct ibup_ctx *ctx, struct ibup_limits *ret)
{
	struct ibup_limits l = { .memlock_soft = IBUP_UNKNOWN,
				 .memlock_hard = IBUP_UNKNOWN,
				 .memlock_configured = IBUP_UNKNOWN,
				 .memlock_configured_hard = IBUP_UNKNOWN,
				 .memlock_systemd = IBUP_UNKNOWN };
	struct rlimit rl;
	int r;

	if (ibup_ctx_is_live(ctx) && getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
		l.memlock_soft = rlim_bytes(rl.rlim_cur);
		l.memlock_hard = rlim_bytes(rl.rlim_max);
	}
	r = apply_file(ctx, "etc/security/limits.conf", false, &l.memlock_configured,
		       &l.memlock_configured_hard);
	if (r >= 0)
		r = apply_dir(ctx, "etc/security/limits.d", false, &l.memlock_configured,
			      &l.memlock_configured_hard);
	if (r >= 0)
		r = apply_file(ctx, "etc/systemd/system.conf", true, &l.memlock_systemd,
			       NULL);
	if (r >= 0)
		r = apply_dir(ctx, "usr/lib/systemd/system.conf.d", true,
			      &l.memlock_systemd, NULL);
	if (r >= 0)
		r = apply_dir(ctx, "etc/systemd/system.conf.d", true, &l.memlock_systemd,
			      NULL);
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

void ibup_format_limit(int64_t v, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	if (v == IBUP_UNLIMITED) {
		snprintf(buf, size, "unlimited");
		return;
	}
	if (v < 0) {
		snprintf(buf, size, "not set");
		return;
	}
	while (u + 1 < IBUP_ARRAY_SIZE(units) && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%lld %s", (long long)v, units[u]);
}

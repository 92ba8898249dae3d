// SPDX-License-Identifier: MIT
/*
 * The extension handler's inputs, as the Azure Linux agent lays them out:
 * HandlerEnvironment.json, HandlerManifest.json, config/<n>.settings, mrseq.
 */
#include <fcntl.h>
#include <jansson.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "ibup/vmext.h"
#include "banned.h"

/* The agent's files are small; a handler never needs more than this of one. */
#define VMEXT_FILE_MAX (1024 * 1024)

static int diag(struct ibup_diag *d, const char *fmt, ...) _printf_(2, 3);
static int diag(struct ibup_diag *d, const char *fmt, ...)
{
	va_list ap;

	if (d) {
		memset(d, 0, sizeof(*d));
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static json_t *load(const char *text, size_t len, struct ibup_diag *d)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!root && d) {
		diag(d, "not JSON: %s", jerr.text);
		d->line = jerr.line > 0 ? (unsigned)jerr.line : 0;
		d->column = jerr.column > 0 ? (unsigned)jerr.column : 0;
	}
	return root;
}

void ibup_vmext_env_release(struct ibup_vmext_env *env)
{
	if (!env)
		return;
	free(env->name);
	free(env->version);
	free(env->log_folder);
	free(env->config_folder);
	free(env->status_folder);
	free(env->heartbeat_file);
	memset(env, 0, sizeof(*env));
}

/* An absolute path from the environment; @required ones must be there. */
static int env_path(json_t *he, const char *key, bool required, char **ret,
		    struct ibup_diag *d)
{
	json_t *v = json_object_get(he, key);
	const char *s;

	if (!v || json_is_null(v)) {
		if (required)
			return diag(d, "handlerEnvironment.%s is missing", key);
		return 0;
	}
	s = json_string_value(v);
	if (!s || s[0] != '/' || strlen(s) >= PATH_MAX)
		return diag(d, "handlerEnvironment.%s is not an absolute path", key);
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int ibup_vmext_env_parse(const char *text, size_t len, struct ibup_vmext_env *ret,
			 struct ibup_diag *reterr_diag)
{
	struct ibup_vmext_env env = { 0 };
	json_t *root = load(text, len, reterr_diag), *first, *he, *v;
	int r;

	if (!root)
		return -EBADMSG;
	first = json_array_get(root, 0);
	if (!json_is_array(root) || !json_is_object(first)) {
		r = diag(reterr_diag, "not an array of one object");
		goto out;
	}
	he = json_object_get(first, "handlerEnvironment");
	if (!json_is_object(he)) {
		r = diag(reterr_diag, "handlerEnvironment is missing");
		goto out;
	}
	v = json_object_get(first, "name");
	env.name = strdup(json_is_string(v) ? json_string_value(v) : "ibup");
	v = json_object_get(first, "version");
	if (json_is_number(v))
		env.version = json_is_integer(v)
				      ? strdup(json_integer_value(v) == 1 ? "1.0" : "?")
				      : strdup(json_real_value(v) == 1.0 ? "1.0" : "?");
	else
		env.version = strdup(json_is_string(v) ? json_string_value(v) : "1.0");
	if (!env.name || !env.version) {
		r = -ENOMEM;
		goto out;
	}
	ibup_sanitize(env.name);
	r = env_path(he, "configFolder", true, &env.config_folder, reterr_diag);
	if (!r)
		r = env_path(he, "statusFolder", true, &env.status_folder, reterr_diag);
	if (!r)
		r = env_path(he, "logFolder", false, &env.log_folder, reterr_diag);
	if (!r)
		r = env_path(he, "heartbeatFile", false, &env.heartbeat_file,
			     reterr_diag);
	if (!r) {
		*ret = env;
		memset(&env, 0, sizeof(env));
	}
out:
	ibup_vmext_env_release(&env);
	json_decref(root);
	return r;
}

/* A whole file of a directory outside any configured root: the agent's folders. */
static int read_in(const char *dir, const char *name, char **ret_data, size_t *ret_len)
{
	struct ibup_ctx *ctx = NULL;
	int r = ibup_ctx_new(dir, &ctx);

	if (r < 0)
		return r;
	r = ibup_read_file(ctx, name, VMEXT_FILE_MAX, ret_data, ret_len);
	ibup_ctx_free(ctx);
	return r;
}

int ibup_vmext_env_read(const char *handler_dir, struct ibup_vmext_env *ret,
			struct ibup_diag *reterr_diag)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_in(handler_dir, "HandlerEnvironment.json", &text, &len);

	if (r < 0)
		return r;
	return ibup_vmext_env_parse(text, len, ret, reterr_diag);
}

static char *join(const char *dir, const char *name)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return s;
}

int ibup_vmext_env_fallback(const char *handler_dir, struct ibup_vmext_env *ret)
{
	struct ibup_vmext_env env = {
		.name = strdup("ibup"),
		.version = strdup("1.0"),
		.config_folder = join(handler_dir, "config"),
		.status_folder = join(handler_dir, "status"),
		.heartbeat_file = join(handler_dir, "heartbeat.log"),
	};

	if (!env.name || !env.version || !env.config_folder || !env.status_folder ||
	    !env.heartbeat_file) {
		ibup_vmext_env_release(&env);
		return -ENOMEM;
	}
	*ret = env;
	return 0;
}

int ibup_vmext_manifest_heartbeat(const char *text, size_t len, bool *ret)
{
	json_t *root = load(text, len, NULL), *hm, *v;
	int r = 0;

	hm = json_object_get(json_array_get(root, 0), "handlerManifest");
	if (!json_is_object(hm)) {
		r = -EBADMSG;
		goto out;
	}
	v = json_object_get(hm, "reportHeartbeat");
	/* The agent takes the string "true" too, with a warning. */
	*ret = json_is_true(v) ||
	       (json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0);
out:
	json_decref(root);
	return r;
}

int ibup_vmext_parse_seq(const char *s, unsigned *ret)
{
	uint32_t v;

	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return -EINVAL;
	if (ibup_parse_u32(s, 10, &v) < 0 || v > IBUP_VMEXT_SEQ_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* "<n>.settings", as the agent names the settings of a single-config handler. */
static int settings_seq(const char *name, unsigned *ret)
{
	const char *dot = strchr(name, '.');
	char num[16];

	if (!dot || strcmp(dot, ".settings") != 0 || (size_t)(dot - name) >= sizeof(num))
		return -EINVAL;
	memcpy(num, name, dot - name);
	num[dot - name] = '\0';
	return ibup_vmext_parse_seq(num, ret);
}

int ibup_vmext_newest_seq(const char *config_folder, unsigned *ret)
{
	_cleanup_close_ int fd = open(config_folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct timespec best_t = { 0 };
	char **names = NULL;
	unsigned n = 0, best = 0;
	bool found = false;
	int r;

	if (fd < 0)
		return -errno;
	r = ibup_list_dir_at(fd, 4096, &names, &n);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		struct stat sb;
		unsigned seq;

		if (settings_seq(names[i], &seq) < 0 ||
		    fstatat(fd, names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (!found || sb.st_mtim.tv_sec > best_t.tv_sec ||
		    (sb.st_mtim.tv_sec == best_t.tv_sec &&
		     (sb.st_mtim.tv_nsec > best_t.tv_nsec ||
		      (sb.st_mtim.tv_nsec == best_t.tv_nsec && seq > best)))) {
			best_t = sb.st_mtim;
			best = seq;
			found = true;
		}
	}
	ibup_strv_free(names, n);
	if (!found)
		return -ENOENT;
	*ret = best;
	return 0;
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

/* A string setting out of @allowed (NULL-terminated), or any of at most @size - 1
 * printable bytes when @allowed is NULL. */
static int string_setting(const char *key, json_t *v, const char *const *allowed,
			  char *buf, size_t size, struct ibup_diag *d)
{
	const char *str = json_string_value(v);
	size_t len = json_string_length(v);

	if (!json_is_string(v))
		return diag(d, "publicSettings.%s must be a string, not %s", key,
			    json_type_name(v));
	for (unsigned i = 0; allowed && allowed[i]; i++)
		if (strcmp(str, allowed[i]) == 0) {
			snprintf(buf, size, "%s", str);
			return 0;
		}
	if (allowed) {
		_cleanup_free_ char *clean = ibup_strdup_clean(str);
		char list[64] = "";
		size_t n = 0;

		for (unsigned i = 0; allowed[i] && n < sizeof(list); i++)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
					      i ? ", " : "", allowed[i]);
		return diag(d, "publicSettings.%s must be one of %s, not '%.40s'", key,
			    list, clean ? clean : "?");
	}
	if (len == 0 || len >= size || strlen(str) != len)
		return diag(d, "publicSettings.%s must be 1 to %zu characters", key,
			    size - 1);
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+~",
			    str[i]))
			return diag(d,
				    "publicSettings.%s holds '%c': a version is letters, "
				    "digits and . - _ + ~",
				    key, isprint((unsigned char)str[i]) ? str[i] : '?');
	memcpy(buf, str, len + 1);
	return 0;
}

static int public_settings(json_t *pub, struct ibup_vmext_settings *s,
			   struct ibup_diag *d)
{
	static const char *const stacks[] = { "auto", "inbox", "doca", "mofed", NULL };
	static const char *const sb[] = { "refuse", "enroll", NULL };
	const char *key;
	json_t *v;
	char mode[8];
	int r;

	if (!pub || json_is_null(pub))
		return 0;
	if (!json_is_object(pub))
		return diag(d, "publicSettings must be an object, not %s",
			    json_type_name(pub));
	json_object_foreach(pub, key, v)
	{
		bool *field = NULL;

		if (strcmp(key, "stack") == 0) {
			r = string_setting(key, v, stacks, s->stack, sizeof(s->stack), d);
			if (r < 0)
				return r;
			s->install = true;
			continue;
		}
		if (strcmp(key, "version") == 0) {
			r = string_setting(key, v, NULL, s->version, sizeof(s->version),
					   d);
			if (r < 0)
				return r;
			continue;
		}
		if (strcmp(key, "secureBoot") == 0) {
			r = string_setting(key, v, sb, mode, sizeof(mode), d);
			if (r < 0)
				return r;
			s->secure_boot_enroll = strcmp(mode, "enroll") == 0;
			continue;
		}
		if (strcmp(key, "ipoib") == 0)
			field = &s->ipoib;
		else if (strcmp(key, "replace") == 0)
			field = &s->replace;
		else if (strcmp(key, "check") == 0)
			field = &s->check;
		else if (strcmp(key, "checkBench") == 0)
			return diag(
				d,
				"publicSettings.checkBench is not part of this version "
				"(the loopback bandwidth check)");
		if (!field) {
			_cleanup_free_ char *clean = ibup_strdup_clean(key);

			return diag(
				d,
				"unknown key '%.60s' in publicSettings (known: stack, "
				"version, secureBoot, replace, ipoib, check)",
				clean ? clean : "?");
		}
		if (!json_is_boolean(v))
			return diag(d, "publicSettings.%s must be true or false, not %s",
				    key, json_type_name(v));
		*field = json_is_true(v);
	}
	if (!s->install && (*s->version || json_object_get(pub, "secureBoot") ||
			    json_object_get(pub, "replace")))
		return diag(d,
			    "publicSettings.%s is for the install step: give \"stack\" "
			    "too",
			    *s->version				 ? "version"
			    : json_object_get(pub, "secureBoot") ? "secureBoot"
								 : "replace");
	return 0;
}

int ibup_vmext_settings_parse(const char *text, size_t len,
			      struct ibup_vmext_settings *ret,
			      struct ibup_diag *reterr_diag)
{
	struct ibup_vmext_settings s = { .ipoib = true, .check = true };
	json_t *root, *rs, *hs, *prot;
	size_t i;
	int r;

	/* No settings: the agent writes an empty 0.settings. */
	for (i = 0; i < len && strchr(" \t\r\n", text[i]) && text[i]; i++)
		;
	if (i == len) {
		*ret = s;
		return 0;
	}
	root = load(text, len, reterr_diag);
	if (!root)
		return -EBADMSG;
	rs = json_object_get(root, "runtimeSettings");
	if (!json_is_object(root) || !json_is_array(rs) || json_array_size(rs) < 1) {
		r = diag(reterr_diag, "runtimeSettings is not an array of settings");
		goto out;
	}
	hs = json_object_get(json_array_get(rs, 0), "handlerSettings");
	if (!json_is_object(hs)) {
		r = diag(reterr_diag, "runtimeSettings[0].handlerSettings is missing");
		goto out;
	}
	r = public_settings(json_object_get(hs, "publicSettings"), &s, reterr_diag);
	if (r < 0)
		goto out;
	/* Protected settings are never decrypted: ibup takes none. */
	prot = json_object_get(hs, "protectedSettings");
	s.has_protected = prot && !json_is_null(prot) &&
			  !(json_is_string(prot) && !*json_string_value(prot));
	*ret = s;
out:
	json_decref(root);
	return r;
}

int ibup_vmext_settings_read(const char *config_folder, unsigned seq,
			     struct ibup_vmext_settings *ret,
			     struct ibup_diag *reterr_diag)
{
	_cleanup_free_ char *text = NULL;
	char name[32];
	size_t len;
	int r;

	snprintf(name, sizeof(name), "%u.settings", seq);
	r = read_in(config_folder, name, &text, &len);
	if (r < 0)
		return r;
	return ibup_vmext_settings_parse(text, len, ret, reterr_diag);
}

int ibup_vmext_manifest_read(const char *handler_dir, bool *ret_heartbeat)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_in(handler_dir, "HandlerManifest.json", &text, &len);

	if (r < 0)
		return r;
	return ibup_vmext_manifest_heartbeat(text, len, ret_heartbeat);
}

int ibup_vmext_mrseq_read(const char *handler_dir, unsigned *ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_in(handler_dir, "mrseq", &text, &len);

	if (r < 0)
		return r;
	len = strcspn(text, "\r\n");
	text[len] = '\0';
	return ibup_vmext_parse_seq(text, ret) < 0 ? -EBADMSG : 0;
}

int ibup_vmext_mrseq_write(const char *handler_dir, unsigned seq)
{
	struct ibup_ctx *ctx = NULL;
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%u", seq);
	int r = ibup_ctx_new(handler_dir, &ctx);

	if (r < 0)
		return r;
	r = ibup_file_replace(ctx, "mrseq", buf, (size_t)n, 0644, 0);
	ibup_ctx_free(ctx);
	return r < 0 ? r : 0;
}

int ibup_vmext_mrseq_remove(const char *handler_dir)
{
	struct ibup_ctx *ctx = NULL;
	int r = ibup_ctx_new(handler_dir, &ctx);

	if (r < 0)
		return r;
	r = ibup_file_remove(ctx, "mrseq");
	ibup_ctx_free(ctx);
	return r < 0 ? r : 0;
}

int ibup_vmext_worker_parse(const char *text, size_t len, struct ibup_vmext_worker *ret)
{
	char line[128], kind[16], what[64], seq[16], extra;
	unsigned long long pid;
	char *end;

	if (len >= sizeof(line) || memchr(text, '\0', len))
		return -EBADMSG;
	memcpy(line, text, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	*ret = (struct ibup_vmext_worker){ 0 };
	if (sscanf(line, "%15s %63s %15s %c", kind, what, seq, &extra) != 3 ||
	    ibup_vmext_parse_seq(seq, &ret->seq) < 0)
		return -EBADMSG;
	if (strcmp(kind, "systemd") == 0) {
		size_t n = strlen(what);

		if (strncmp(what, "ibup-vmext-", 11) != 0 || n < 9 ||
		    strcmp(what + n - 8, ".service") != 0)
			return -EBADMSG;
		ret->kind = IBUP_VMEXT_WORKER_SYSTEMD;
		snprintf(ret->unit, sizeof(ret->unit), "%s", what);
		return 0;
	}
	if (strcmp(kind, "process") != 0 || what[0] < '1' || what[0] > '9')
		return -EBADMSG;
	errno = 0;
	pid = strtoull(what, &end, 10);
	if (errno || *end || pid > 4194304) /* the kernel's pid_max limit */
		return -EBADMSG;
	ret->kind = IBUP_VMEXT_WORKER_PROCESS;
	ret->pid = (long)pid;
	return 0;
}

int ibup_vmext_worker_format(const struct ibup_vmext_worker *w, char *buf, size_t size)
{
	int n;

	if (w->kind == IBUP_VMEXT_WORKER_SYSTEMD)
		n = snprintf(buf, size, "systemd %s %u\n", w->unit, w->seq);
	else
		n = snprintf(buf, size, "process %ld %u\n", w->pid, w->seq);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

int ibup_vmext_worker_read(const char *handler_dir, struct ibup_vmext_worker *ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_in(handler_dir, "worker", &text, &len);

	return r < 0 ? r : ibup_vmext_worker_parse(text, len, ret);
}

int ibup_vmext_worker_write(const char *handler_dir, const struct ibup_vmext_worker *w)
{
	struct ibup_ctx *ctx = NULL;
	char buf[128];
	int n = ibup_vmext_worker_format(w, buf, sizeof(buf));
	int r;

	if (n < 0)
		return n;
	r = ibup_ctx_new(handler_dir, &ctx);
	if (r < 0)
		return r;
	r = ibup_file_replace(ctx, "worker", buf, (size_t)n, 0644, 0);
	ibup_ctx_free(ctx);
	return r < 0 ? r : 0;
}

int ibup_vmext_worker_remove(const char *handler_dir)
{
	struct ibup_ctx *ctx = NULL;
	int r = ibup_ctx_new(handler_dir, &ctx);

	if (r < 0)
		return r;
	r = ibup_file_remove(ctx, "worker");
	ibup_ctx_free(ctx);
	return r < 0 ? r : 0;
}

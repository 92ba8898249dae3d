// SPDX-License-Identifier: MIT
/*
 * The extension handler's outputs: status/<n>.status in the shape the Azure Linux
 * agent parses (parse_ext_status in azurelinuxagent/ga/exthandlers.py), the heartbeat
 * file, and the "check" step's substatus.
 */
#include <jansson.h>
#include <stdarg.h>
#include <string.h>

#include "internal.h"
#include "ibup/check.h"
#include "ibup/vmext.h"
#include "banned.h"

const char *ibup_vmext_state_name(enum ibup_vmext_state s)
{
	static const char *const names[] = { "transitioning", "warning", "error",
					     "success" };

	return (unsigned)s < IBUP_ARRAY_SIZE(names) ? names[s] : "error";
}

/* Cut @s in place to at most IBUP_VMEXT_MESSAGE_MAX bytes, at a character boundary. */
static void cut_message(char *s)
{
	size_t len = strlen(s), end = IBUP_VMEXT_MESSAGE_MAX - 3;

	if (len <= IBUP_VMEXT_MESSAGE_MAX)
		return;
	/* Back up over UTF-8 continuation bytes (10xxxxxx). */
	while (end > 0 && ((unsigned char)s[end] & 0xc0) == 0x80)
		end--;
	memcpy(s + end, "...", 4);
}

static int vset_message(char **msg, const char *fmt, va_list ap) _printf_(2, 0);
static int vset_message(char **msg, const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return -ENOMEM;
	ibup_sanitize(s);
	cut_message(s);
	free(*msg);
	*msg = s;
	return 0;
}

int ibup_vmext_set_message(char **msg, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vset_message(msg, fmt, ap);
	va_end(ap);
	return r;
}

int ibup_vmext_add_substatus(struct ibup_vmext_status *st, const char *name,
			     enum ibup_vmext_state state, int code, const char *fmt, ...)
{
	struct ibup_vmext_substatus *sub;
	va_list ap;
	int r;

	if (st->n_sub >= IBUP_VMEXT_MAX_STEPS)
		return -ENOSPC;
	sub = &st->sub[st->n_sub];
	memset(sub, 0, sizeof(*sub));
	va_start(ap, fmt);
	r = vset_message(&sub->message, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	sub->name = name;
	sub->state = state;
	sub->code = code;
	st->n_sub++;
	return 0;
}

void ibup_vmext_status_release(struct ibup_vmext_status *st)
{
	if (!st)
		return;
	free(st->message);
	for (unsigned i = 0; i < st->n_sub; i++)
		free(st->sub[i].message);
	memset(st, 0, sizeof(*st));
}

static json_t *formatted(const char *message)
{
	return json_pack("{s:s, s:s}", "lang", "en-US", "message",
			 message ? message : "");
}

static void utc(time_t t, char buf[32])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

int ibup_vmext_status_format(const struct ibup_vmext_env *env,
			     const struct ibup_vmext_status *st, time_t now,
			     char **ret_text)
{
	json_t *subs = json_array(), *doc;
	char when[32], *text;

	if (!subs)
		return -ENOMEM;
	for (unsigned i = 0; i < st->n_sub; i++) {
		const struct ibup_vmext_substatus *s = &st->sub[i];
		/* clang-format off */
		json_t *o = json_pack("{s:s, s:s, s:i, s:o}",
				      "name", s->name,
				      "status", ibup_vmext_state_name(s->state),
				      "code", s->code,
				      "formattedMessage", formatted(s->message));
		/* clang-format on */

		if (!o || json_array_append_new(subs, o) < 0) {
			json_decref(subs);
			return -ENOMEM;
		}
	}
	utc(now, when);
	/* clang-format off */
	doc = json_pack("[{s:f, s:s, s:{s:s, s:s, s:s, s:i, s:o, s:o, s:o}}]",
			"version", 1.0,
			"timestampUTC", when,
			"status",
			"name", env->name ? env->name : "ibup",
			"operation", st->operation ? st->operation : "Enable",
			"status", ibup_vmext_state_name(st->state),
			"code", st->code,
			"configurationAppliedTime",
			st->state == IBUP_VMEXT_SUCCESS ? json_string(when) : json_null(),
			"formattedMessage", formatted(st->message),
			"substatus", subs);
	/* clang-format on */
	if (!doc)
		return -ENOMEM;
	text = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	*ret_text = text;
	return 0;
}

/* A context rooted at @dir, created (0700, as the agent makes its own) when missing. */
static int folder_ctx(const char *dir, struct ibup_ctx **ret)
{
	struct ibup_ctx *host = NULL;
	int r = ibup_ctx_new(dir, ret);

	if (r != -ENOENT)
		return r;
	r = ibup_ctx_new("/", &host);
	if (r < 0)
		return r;
	r = ibup_mkdir_p(host, dir + strspn(dir, "/"), 0700);
	ibup_ctx_free(host);
	return r < 0 ? r : ibup_ctx_new(dir, ret);
}

static int write_in(const char *dir, const char *name, const char *text)
{
	struct ibup_ctx *ctx = NULL;
	int r = folder_ctx(dir, &ctx);

	if (r < 0)
		return r;
	r = ibup_file_replace(ctx, name, text, strlen(text), 0644, 0);
	ibup_ctx_free(ctx);
	return r < 0 ? r : 0;
}

int ibup_vmext_status_write(const struct ibup_vmext_env *env, unsigned seq,
			    const struct ibup_vmext_status *st, time_t now)
{
	_cleanup_free_ char *text = NULL;
	char name[32];
	int r = ibup_vmext_status_format(env, st, now, &text);

	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%u.status", seq);
	return write_in(env->status_folder, name, text);
}

int ibup_vmext_status_read(const struct ibup_vmext_env *env, unsigned seq,
			   enum ibup_vmext_state *ret)
{
	return ibup_vmext_status_read_code(env, seq, ret, NULL);
}

int ibup_vmext_status_read_code(const struct ibup_vmext_env *env, unsigned seq,
				enum ibup_vmext_state *ret, int *ret_code)
{
	_cleanup_free_ char *text = NULL;
	struct ibup_ctx *ctx = NULL;
	json_t *root, *status, *code;
	const char *s;
	char name[32];
	size_t len;
	int r = ibup_ctx_new(env->status_folder, &ctx);

	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%u.status", seq);
	r = ibup_read_file(ctx, name, 128 * 1024, &text, &len);
	ibup_ctx_free(ctx);
	if (r < 0)
		return r;
	root = json_loadb(text, len, 0, NULL);
	status = json_object_get(json_array_get(root, 0), "status");
	s = json_string_value(json_object_get(status, "status"));
	code = json_object_get(status, "code");
	r = -EBADMSG;
	for (int i = IBUP_VMEXT_TRANSITIONING; s && i <= IBUP_VMEXT_SUCCESS; i++)
		if (strcmp(s, ibup_vmext_state_name(i)) == 0) {
			*ret = i;
			r = 0;
		}
	/* The agent takes a missing code as 0. */
	if (r == 0 && ret_code)
		*ret_code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
	json_decref(root);
	return r;
}

int ibup_vmext_heartbeat_write(const struct ibup_vmext_env *env, bool ready,
			       const char *message)
{
	_cleanup_free_ char *dir = NULL, *msg = NULL, *text = NULL;
	const char *slash;
	json_t *doc;

	if (!env->heartbeat_file)
		return -ENOENT;
	slash = strrchr(env->heartbeat_file, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	dir = strndup(
		env->heartbeat_file,
		slash == env->heartbeat_file ? 1 : (size_t)(slash - env->heartbeat_file));
	if (!dir || ibup_vmext_set_message(&msg, "%s", message ? message : "") < 0)
		return -ENOMEM;
	/* The agent reads [0].heartbeat; its "status" becomes the handler's status. */
	/* clang-format off */
	doc = json_pack("[{s:s, s:{s:s, s:s, s:o}}]",
			"version", "1.0",
			"heartbeat",
			"status", ready ? "Ready" : "NotReady",
			"code", ready ? "0" : "1",
			"formattedMessage", formatted(msg));
	/* clang-format on */
	if (!doc)
		return -ENOMEM;
	text = json_dumps(doc, 0);
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	return write_in(dir, slash + 1, text);
}

/* Appends to a growing message; the result is cut when it is set. */
static void say(FILE *f, const struct ibup_check *c)
{
	fprintf(f, "%s%s%s: %s", c->id, c->subject ? " " : "",
		c->subject ? c->subject : "", c->seen ? c->seen : "?");
	if (c->expected)
		fprintf(f, " (expected %s)", c->expected);
	if (c->fix)
		fprintf(f, "; fix: %s", c->fix);
	fputs(". ", f);
}

int ibup_vmext_check_substatus(const struct ibup_check_report *rep,
			       struct ibup_vmext_status *st)
{
	unsigned n[4] = { 0 };
	char *buf = NULL;
	size_t size = 0;
	enum ibup_vmext_state state;
	int code, r;
	FILE *f;

	for (unsigned i = 0; i < rep->n; i++)
		n[rep->checks[i].verdict]++;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	if (!rep->fabric) {
		state = IBUP_VMEXT_ERROR;
		code = IBUP_VMEXT_NO_IB;
		fputs("no InfiniBand fabric on this node", f);
		if (rep->expect.family)
			fprintf(f, " (%s sizes have one)", rep->expect.family);
		fputs(": ", f);
	} else {
		state = n[IBUP_FAIL]   ? IBUP_VMEXT_ERROR
			: n[IBUP_WARN] ? IBUP_VMEXT_WARNING
				       : IBUP_VMEXT_SUCCESS;
		code = n[IBUP_FAIL] ? IBUP_VMEXT_FAILED : IBUP_VMEXT_OK;
		fprintf(f, "%u failed, %u warning%s, %u passed%s%s%s: ", n[IBUP_FAIL],
			n[IBUP_WARN], n[IBUP_WARN] == 1 ? "" : "s", n[IBUP_PASS],
			rep->expect.family ? " (" : "",
			rep->expect.family ? rep->expect.family : "",
			rep->expect.family ? ")" : "");
		if (!n[IBUP_FAIL] && !n[IBUP_WARN])
			fputs("ready for MPI over InfiniBand. ", f);
	}
	/* Failures first, then warnings, each in the order the checks ran. */
	for (int v = IBUP_FAIL; v <= IBUP_WARN; v++)
		for (unsigned i = 0; i < rep->n; i++)
			if ((int)rep->checks[i].verdict == v)
				say(f, &rep->checks[i]);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	/* Drop the trailing separator. */
	while (size && (buf[size - 1] == ' ' || buf[size - 1] == ':'))
		buf[--size] = '\0';
	r = ibup_vmext_add_substatus(st, "check", state, code, "%s", buf);
	free(buf);
	return r;
}

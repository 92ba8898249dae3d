// SPDX-License-Identifier: MIT
/*
 * Plans: building them (planning reads, never changes), their steps as command lines
 * and as JSON. The executor is lib/plan/exec.c; the diffs are lib/plan/diff.c.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ibup/plan.h"
#include "internal.h"
#include "banned.h"

const char *ibup_step_kind_name(enum ibup_step_kind k)
{
	static const char *const names[] = {
		[IBUP_STEP_WRITE_FILE] = "write_file",
		[IBUP_STEP_EDIT_FILE] = "edit_file",
		[IBUP_STEP_REMOVE_FILE] = "remove_file",
		[IBUP_STEP_RUN] = "run",
		[IBUP_STEP_DOWNLOAD] = "download",
		[IBUP_STEP_UNIT] = "unit",
		[IBUP_STEP_MODULE] = "module",
		[IBUP_STEP_IPV4_ADDRESS] = "ipv4_address",
		[IBUP_STEP_RDMA_RENAME] = "rdma_rename",
		[IBUP_STEP_WRITE_DEVICE] = "write_device",
	};

	return (unsigned)k < IBUP_ARRAY_SIZE(names) ? names[k] : NULL;
}

const char *ibup_step_status_name(enum ibup_step_status s)
{
	static const char *const names[] = {
		[IBUP_STEP_PLANNED] = "planned",
		[IBUP_STEP_DONE] = "done",
		[IBUP_STEP_FAILED] = "failed",
		[IBUP_STEP_SKIPPED] = "done_before",
	};

	return (unsigned)s < IBUP_ARRAY_SIZE(names) ? names[s] : NULL;
}

int ibup_plan_new(struct ibup_ctx *ctx, const char *command, struct ibup_plan **ret_plan)
{
	struct ibup_plan *p = calloc(1, sizeof(*p));
	struct ibup_sha256 *digest = calloc(1, sizeof(*digest));
	int r;

	if (!p || !digest) {
		free(p);
		free(digest);
		return -ENOMEM;
	}
	p->command = strdup(command);
	p->root = strdup(ibup_ctx_get_root(ctx));
	p->inputs = digest;
	if (!p->command || !p->root) {
		ibup_plan_free(p);
		return -ENOMEM;
	}
	r = ibup_sha256_init(digest);
	if (r < 0) {
		ibup_plan_free(p);
		return r;
	}
	ibup_sha256_update(digest, command, strlen(command) + 1);
	*ret_plan = p;
	return 0;
}

char **ibup_argv_free(char **argv)
{
	for (char **a = argv; a && *a; a++)
		free(*a);
	free(argv);
	return NULL;
}

static void step_release(struct ibup_step *s)
{
	free(s->why);
	free(s->path);
	free(s->content);
	free(s->old_content);
	ibup_argv_free(s->argv);
	ibup_argv_free(s->env);
	free(s->url);
	free(s->name);
	free(s->value);
}

struct ibup_plan *ibup_plan_free(struct ibup_plan *plan)
{
	if (!plan)
		return NULL;
	for (unsigned i = 0; i < plan->n; i++)
		step_release(&plan->steps[i]);
	for (unsigned i = 0; i < plan->n_notes; i++) {
		free(plan->notes[i].path);
		free(plan->notes[i].text);
	}
	free(plan->steps);
	free(plan->notes);
	if (plan->inputs)
		ibup_sha256_release(plan->inputs);
	free(plan->inputs);
	free(plan->command);
	free(plan->root);
	free(plan);
	return NULL;
}

void ibup_plan_input(struct ibup_plan *plan, const char *name, const void *data,
		     size_t len)
{
	uint64_t n = data ? (uint64_t)len : UINT64_MAX;

	if (!plan->inputs)
		return;
	/* Name, then a length (all ones: absent), then the bytes: no two inputs collide. */
	ibup_sha256_update(plan->inputs, name, strlen(name) + 1);
	ibup_sha256_update(plan->inputs, &n, sizeof(n));
	if (data)
		ibup_sha256_update(plan->inputs, data, len);
}

int ibup_plan_end(struct ibup_plan *plan, int r, struct ibup_plan **ret)
{
	if (r >= 0)
		r = ibup_plan_finish(plan);
	if (r < 0) {
		ibup_plan_free(plan);
		return r;
	}
	*ret = plan;
	return 0;
}

int ibup_plan_finish(struct ibup_plan *plan)
{
	int r;

	if (!plan->inputs)
		return 0;
	r = ibup_sha256_final(plan->inputs, plan->inputs_sha256);
	free(plan->inputs);
	plan->inputs = NULL;
	return r;
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static char **dup_argv(const char *const v[], bool *oom)
{
	size_t n = 0;
	char **d;

	if (!v)
		return NULL;
	while (v[n])
		n++;
	d = calloc(n + 1, sizeof(*d));
	if (!d) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!(d[i] = strdup(v[i]))) {
			*oom = true;
			break;
		}
	return d;
}

static struct ibup_step *add_step(struct ibup_plan *plan, enum ibup_step_kind kind,
				  const char *why)
{
	struct ibup_step *v = realloc(plan->steps, (plan->n + 1) * sizeof(*v)), *s;

	if (!v)
		return NULL;
	plan->steps = v;
	s = &v[plan->n];
	*s = (struct ibup_step){ .kind = kind, .why = strdup(why ? why : "") };
	if (!s->why)
		return NULL;
	plan->n++;
	return s;
}

/* A step could not be completed for want of memory: drop it again. */
static int drop_last(struct ibup_plan *plan)
{
	step_release(&plan->steps[--plan->n]);
	return -ENOMEM;
}

int ibup_plan_note(struct ibup_plan *plan, const char *path, const char *fmt, ...)
{
	struct ibup_plan_note *v = realloc(plan->notes, (plan->n_notes + 1) * sizeof(*v));
	char *text = NULL;
	va_list ap;
	int n;

	if (!v)
		return -ENOMEM;
	plan->notes = v;
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	v[plan->n_notes] = (struct ibup_plan_note){ .text = text };
	if (path && !(v[plan->n_notes].path = strdup(path))) {
		free(text);
		return -ENOMEM;
	}
	plan->n_notes++;
	return 0;
}

static int check_path(const char *path)
{
	return !path || !*path || *path == '/' ? -EINVAL : 0;
}

/* What a file holds now: 1 with its bytes, 0 when absent, or a negative errno. */
static int read_current(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *path,
			char **ret, size_t *ret_len)
{
	int r = ibup_read_file(ctx, path, IBUP_CONF_MAX, ret, ret_len);

	/* A parent that is not a directory: absent now; the step will say why it fails. */
	if (r == -ENOENT || r == -ENOTDIR) {
		ibup_plan_input(plan, path, NULL, 0);
		return 0;
	}
	if (r < 0)
		return r;
	ibup_plan_input(plan, path, *ret, *ret_len);
	return 1;
}

static int add_file_step(struct ibup_plan *plan, enum ibup_step_kind kind,
			 const char *path, char *old, size_t old_len, bool exists,
			 const char *content, size_t len, unsigned mode, const char *why)
{
	struct ibup_step *s = add_step(plan, kind, why);
	int r;

	if (!s) {
		free(old);
		return -ENOMEM;
	}
	s->old_exists = exists;
	s->old_content = old;
	s->old_len = old_len;
	s->mode = mode;
	s->path = strdup(path);
	if (content) {
		s->content = malloc(len + 1);
		if (s->content) {
			memcpy(s->content, content, len);
			s->content[len] = '\0';
		}
		s->len = len;
	}
	if (!s->path || (content && !s->content))
		return drop_last(plan);
	r = content ? ibup_sha256_hex(content, len, s->sha256) : 0;
	if (r >= 0 && exists)
		r = ibup_sha256_hex(old, old_len, s->old_sha256);
	if (r < 0) {
		step_release(&plan->steps[--plan->n]);
		return r;
	}
	return 1;
}

int ibup_plan_write_file(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *path,
			 const char *content, size_t len, unsigned mode, const char *why)
{
	char *old = NULL;
	size_t old_len = 0;
	int r;

	if (check_path(path) < 0)
		return -EINVAL;
	r = read_current(ctx, plan, path, &old, &old_len);
	if (r < 0)
		return r;
	if (r == 1 && old_len == len && memcmp(old, content, len) == 0) {
		free(old);
		r = ibup_plan_note(plan, path, "unchanged /%s", path);
		return r < 0 ? r : 0;
	}
	return add_file_step(plan, IBUP_STEP_WRITE_FILE, path, old, old_len, r == 1,
			     content, len, mode, why);
}

int ibup_plan_edit_file(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *path,
			ibup_editor_fn *editor, void *data, const char *why,
			const char *note)
{
	_cleanup_free_ char *edited = NULL;
	char *old = NULL;
	size_t old_len = 0;
	int r;

	if (check_path(path) < 0)
		return -EINVAL;
	r = read_current(ctx, plan, path, &old, &old_len);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	/* Editors work on text; a NUL would cut the file short where it stands. */
	if (memchr(old, '\0', old_len)) {
		free(old);
		return -EBADMSG;
	}
	r = editor(old, data, &edited);
	if (r < 0) {
		free(old);
		return r;
	}
	if (strcmp(old, edited) == 0) {
		free(old);
		r = note ? ibup_plan_note(plan, path, "unchanged /%s (%s)", path, note)
			 : ibup_plan_note(plan, path, "unchanged /%s", path);
		return r < 0 ? r : 0;
	}
	return add_file_step(plan, IBUP_STEP_EDIT_FILE, path, old, old_len, true, edited,
			     strlen(edited), 0644, why);
}

int ibup_plan_remove_file(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *path,
			  const char *why)
{
	char *old = NULL;
	size_t old_len = 0;
	int r;

	if (check_path(path) < 0)
		return -EINVAL;
	r = read_current(ctx, plan, path, &old, &old_len);
	if (r == -EFBIG || r == -EBADMSG || r == -EINVAL) {
		/* Not shown as a diff, but still ours to remove. */
		r = ibup_path_exists(ctx, "%s", path);
		if (r <= 0)
			return r;
		return add_file_step(plan, IBUP_STEP_REMOVE_FILE, path, NULL, 0, false,
				     NULL, 0, 0, why);
	}
	if (r <= 0)
		return r;
	return add_file_step(plan, IBUP_STEP_REMOVE_FILE, path, old, old_len, true, NULL,
			     0, 0, why);
}

int ibup_plan_run(struct ibup_plan *plan, const char *const argv[],
		  const char *const env[], unsigned timeout_ms, const int *ok_codes,
		  unsigned n_ok, const char *why)
{
	struct ibup_step *s;
	bool oom = false;

	if (!argv || !argv[0] || n_ok > IBUP_STEP_MAX_OK)
		return -EINVAL;
	s = add_step(plan, IBUP_STEP_RUN, why);
	if (!s)
		return -ENOMEM;
	s->argv = dup_argv(argv, &oom);
	s->env = dup_argv(env, &oom);
	s->timeout_ms = timeout_ms;
	s->n_ok = n_ok ? n_ok : 1;
	for (unsigned i = 0; i < n_ok; i++)
		s->ok_codes[i] = ok_codes[i];
	return oom ? drop_last(plan) : 1;
}

int ibup_plan_download(struct ibup_plan *plan, const char *url, const char *sha256,
		       uint64_t size, const char *path, const char *why)
{
	struct ibup_step *s;
	bool oom = false;

	if (check_path(path) < 0 || !sha256 || strlen(sha256) != 64)
		return -EINVAL;
	s = add_step(plan, IBUP_STEP_DOWNLOAD, why);
	if (!s)
		return -ENOMEM;
	s->url = dup_or_null(url, &oom);
	s->path = dup_or_null(path, &oom);
	s->size = size;
	snprintf(s->sha256, sizeof(s->sha256), "%s", sha256);
	return oom ? drop_last(plan) : 1;
}

static int add_named(struct ibup_plan *plan, enum ibup_step_kind kind, const char *name,
		     const char *value, bool may_fail, const char *why)
{
	struct ibup_step *s = add_step(plan, kind, why);
	bool oom = false;

	if (!s)
		return -ENOMEM;
	s->name = dup_or_null(name, &oom);
	s->value = dup_or_null(value, &oom);
	s->may_fail = may_fail;
	return oom ? drop_last(plan) : 1;
}

int ibup_plan_unit(struct ibup_plan *plan, const char *action, const char *unit,
		   const char *why)
{
	return add_named(plan, IBUP_STEP_UNIT, unit, action, false, why);
}

int ibup_plan_module(struct ibup_plan *plan, const char *module, const char *why)
{
	return add_named(plan, IBUP_STEP_MODULE, module, NULL, false, why);
}

int ibup_plan_ipv4_address(struct ibup_plan *plan, const char *ifname,
			   const char *address, bool may_fail, const char *why)
{
	return add_named(plan, IBUP_STEP_IPV4_ADDRESS, ifname, address, may_fail, why);
}

int ibup_plan_rdma_rename(struct ibup_plan *plan, const char *device,
			  const char *new_name, const char *why)
{
	return add_named(plan, IBUP_STEP_RDMA_RENAME, device, new_name, false, why);
}

int ibup_plan_write_device(struct ibup_plan *plan, const char *path, const char *content,
			   size_t len, const char *why)
{
	struct ibup_step *s;

	if (check_path(path) < 0)
		return -EINVAL;
	s = add_step(plan, IBUP_STEP_WRITE_DEVICE, why);
	if (!s)
		return -ENOMEM;
	s->path = strdup(path);
	s->content = malloc(len + 1);
	if (!s->path || !s->content)
		return drop_last(plan);
	memcpy(s->content, content, len);
	s->content[len] = '\0';
	s->len = len;
	return 1;
}

static int argv_of(char ***ret, const char *const v[])
{
	bool oom = false;
	char **d = dup_argv(v, &oom);

	if (oom) {
		ibup_argv_free(d);
		return -ENOMEM;
	}
	*ret = d;
	return 0;
}

int ibup_step_argv(const struct ibup_plan *plan, const struct ibup_step *step,
		   char ***ret_argv)
{
	_cleanup_free_ char *rootopt = NULL, *dest = NULL;
	bool live = strcmp(plan->root, "/") == 0;

	switch (step->kind) {
	case IBUP_STEP_RUN:
		return argv_of(ret_argv, (const char *const *)step->argv);
	case IBUP_STEP_UNIT:
		/* Another root has no running manager: systemctl edits its links there. */
		if (!live) {
			if (asprintf(&rootopt, "--root=%s", plan->root) < 0)
				return -ENOMEM;
			return argv_of(ret_argv, (const char *const[]){
							 "systemctl", rootopt,
							 step->value, step->name, NULL });
		}
		if (strcmp(step->value, "daemon-reload") == 0)
			return argv_of(ret_argv,
				       (const char *const[]){ "systemctl",
							      "daemon-reload", NULL });
		if (strcmp(step->value, "udev-reload") == 0)
			return argv_of(ret_argv,
				       (const char *const[]){ "udevadm", "control",
							      "--reload", NULL });
		return argv_of(ret_argv, (const char *const[]){ "systemctl", step->value,
								step->name, NULL });
	case IBUP_STEP_MODULE:
		return argv_of(ret_argv,
			       (const char *const[]){ "modprobe", step->name, NULL });
	case IBUP_STEP_IPV4_ADDRESS:
		return argv_of(ret_argv,
			       (const char *const[]){ "ip", "address", "add", step->value,
						      "dev", step->name, NULL });
	case IBUP_STEP_RDMA_RENAME:
		return argv_of(ret_argv,
			       (const char *const[]){ "rdma", "dev", "set", step->name,
						      "name", step->value, NULL });
	case IBUP_STEP_DOWNLOAD:
		/* "ROOT/PATH": one slash between them, whether or not the root ends in one. */
		if (asprintf(&dest, "%s%s%s", live ? "" : plan->root,
			     !live && plan->root[strlen(plan->root) - 1] == '/' ? ""
										: "/",
			     step->path) < 0)
			return -ENOMEM;
		return argv_of(ret_argv, (const char *const[]){ "curl", "-fL", "-o", dest,
								step->url, NULL });
	case IBUP_STEP_WRITE_FILE:
	case IBUP_STEP_EDIT_FILE:
	case IBUP_STEP_REMOVE_FILE:
	case IBUP_STEP_WRITE_DEVICE:
		break;
	}
	return -ENOENT;
}

/* A string that is JSON's (UTF-8), or null. */
static json_t *text_or_null(const char *s, size_t len)
{
	json_t *j = s ? json_stringn(s, len) : NULL;

	return j ? j : json_null();
}

static json_t *strv_json(char **v)
{
	json_t *a = json_array();

	for (char **p = v; a && p && *p; p++)
		if (json_array_append_new(a, text_or_null(*p, strlen(*p))) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *ibup_step_json(const struct ibup_plan *plan, const struct ibup_step *step,
		       bool full)
{
	const char *kind = ibup_step_kind_name(step->kind);
	char **argv = NULL;
	json_t *o, *ok = json_array(), *cmd = NULL;
	bool file = step->kind == IBUP_STEP_WRITE_FILE ||
		    step->kind == IBUP_STEP_EDIT_FILE ||
		    step->kind == IBUP_STEP_REMOVE_FILE;
	char path[PATH_MAX + 2];

	for (unsigned i = 0; ok && step->kind == IBUP_STEP_RUN && i < step->n_ok; i++)
		json_array_append_new(ok, json_integer(step->ok_codes[i]));
	if (ibup_step_argv(plan, step, &argv) == 0) {
		cmd = strv_json(argv);
		ibup_argv_free(argv);
	}
	if (step->path)
		snprintf(path, sizeof(path), "/%s", step->path);
	o = json_pack(
		"{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
		"kind", kind, "why", text_or_null(step->why, strlen(step->why)), "path",
		step->path ? text_or_null(path, strlen(path)) : json_null(), "mode",
		step->kind == IBUP_STEP_WRITE_FILE ? json_integer((json_int_t)step->mode)
						   : json_null(),
		"sha256", *step->sha256 ? json_string(step->sha256) : json_null(),
		"previous_sha256",
		*step->old_sha256 ? json_string(step->old_sha256) : json_null(), "argv",
		step->kind == IBUP_STEP_RUN ? strv_json(step->argv) : json_null(), "env",
		step->kind == IBUP_STEP_RUN ? strv_json(step->env) : json_null(),
		"ok_exit_codes",
		step->kind == IBUP_STEP_RUN ? json_incref(ok) : json_null(), "url",
		step->url ? text_or_null(step->url, strlen(step->url)) : json_null(),
		"size_bytes",
		step->kind == IBUP_STEP_DOWNLOAD ? json_integer((json_int_t)step->size)
						 : json_null(),
		"name",
		step->name ? text_or_null(step->name, strlen(step->name)) : json_null(),
		"value",
		step->value ? text_or_null(step->value, strlen(step->value))
			    : json_null(),
		"may_fail", step->may_fail);
	json_decref(ok);
	if (!o) {
		json_decref(cmd);
		return NULL;
	}
	if (!full) {
		json_decref(cmd);
		return o;
	}
	if (json_object_set_new(o, "command", cmd ? cmd : json_null()) < 0) {
		json_decref(o);
		return NULL;
	}
	if (file) {
		_cleanup_free_ char *diff = NULL;
		int r = ibup_step_diff(step, &diff);

		if (r == -ENOMEM ||
		    json_object_set_new(o, "diff",
					diff ? text_or_null(diff, strlen(diff))
					     : json_null()) < 0) {
			json_decref(o);
			return NULL;
		}
	} else if (json_object_set_new(o, "diff", json_null()) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

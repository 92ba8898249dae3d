// SPDX-License-Identifier: MIT
/*
 * The executor: the only code in libibup that changes a host. It takes the state
 * directory's lock, journals the plan before the first step and after each one, and
 * removes the journal when the last step is done; a run that stopped is continued with
 * `resume` only when planning again gives exactly the steps the journal has left.
 */
#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "ibup/download.h"
#include "ibup/plan.h"
#include "internal.h"
#include "banned.h"

#define JOURNAL "journal.json"
#define JOURNAL_MAX (16 * 1024 * 1024)
#define RUN_TIMEOUT_MS (10 * 60 * 1000) /* a step's default: package managers are slow */

_printf_(2, 3) static void say(struct ibup_exec_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	ibup_sanitize(r->error);
}

/* The first line of what a failed program said, for one line of error. */
static void first_line(const char *s, char *buf, size_t size)
{
	size_t n = s ? strcspn(s, "\n") : 0;

	snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), s ? s : "");
	ibup_sanitize(buf);
}

/* The program a command line runs, for people: "chroot R dnf ..." runs dnf. */
static const char *program(const char *const *argv)
{
	if (!argv || !argv[0])
		return "";
	if (strcmp(argv[0], "chroot") == 0 && argv[1] && argv[2])
		return argv[2];
	return argv[0];
}

static void argv_freep(char ***p)
{
	ibup_argv_free(*p);
}

static int run_argv(const struct ibup_plan *plan, const struct ibup_step *step,
		    char *detail, size_t dsize)
{
	_cleanup_(argv_freep) char **argv = NULL;
	struct ibup_spawn_result res;
	const char *means = NULL;
	char line[200];
	bool ok = false;
	int r;

	r = ibup_step_argv(plan, step, &argv);
	if (r < 0)
		return r;
	r = ibup_spawn_env((const char *const *)argv, (const char *const *)step->env,
			   step->timeout_ms ? step->timeout_ms : RUN_TIMEOUT_MS,
			   64 * 1024, &res);
	if (r < 0) {
		snprintf(detail, dsize, "cannot run '%s': %s",
			 program((const char *const *)argv), strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < (step->n_ok ? step->n_ok : 1); i++)
		ok |= res.exit_code == (step->n_ok ? step->ok_codes[i] : 0);
	if (!ok) {
		first_line(res.err && *res.err ? res.err : res.out, line, sizeof(line));
		if (res.timed_out)
			snprintf(detail, dsize, "'%s' did not finish in %u s",
				 program((const char *const *)argv),
				 (step->timeout_ms ? step->timeout_ms : RUN_TIMEOUT_MS) /
					 1000);
		else {
			if (step->exit_meaning)
				means = step->exit_meaning(res.exit_code);
			snprintf(detail, dsize, "'%s' exited with %d%s%s%s%s%s",
				 program((const char *const *)argv), res.exit_code,
				 means ? " (" : "", means ? means : "", means ? ")" : "",
				 *line ? ": " : "", line);
		}
		r = res.timed_out ? -ETIMEDOUT : -ECANCELED;
	}
	ibup_spawn_result_release(&res);
	return r;
}

static int edit_file(struct ibup_ctx *ctx, const struct ibup_step *step, char *detail,
		     size_t dsize)
{
	_cleanup_free_ char *now = NULL;
	size_t len = 0;
	int r;

	/* Someone else changed the file since planning: their change is not overwritten. */
	r = ibup_read_file(ctx, step->path, IBUP_CONF_MAX, &now, &len);
	if (r < 0)
		return r;
	if (len != step->old_len || memcmp(now, step->old_content, len) != 0) {
		snprintf(detail, dsize, "/%s changed since the plan was made",
			 step->path);
		return -ESTALE;
	}
	r = ibup_file_replace(ctx, step->path, step->content, step->len, 0644,
			      IBUP_WRITE_BACKUP);
	return r < 0 ? r : 0;
}

static int ipv4_address(const struct ibup_step *step, char *detail, size_t dsize)
{
	char ip[32];
	const char *slash = strchr(step->value, '/');
	uint32_t prefix;
	unsigned ifindex;
	int r;

	if (!slash || (size_t)(slash - step->value) >= sizeof(ip) ||
	    ibup_parse_u32(slash + 1, 10, &prefix) < 0)
		return -EINVAL;
	snprintf(ip, sizeof(ip), "%.*s", (int)(slash - step->value), step->value);
	ifindex = if_nametoindex(step->name);
	if (!ifindex) {
		snprintf(detail, dsize, "the running kernel has no interface '%s'",
			 step->name);
		return -ENODEV;
	}
	r = ibup_netlink_link_up(ifindex);
	if (r >= 0)
		r = ibup_netlink_add_ipv4(ifindex, ip, prefix);
	return r;
}

static int download(struct ibup_ctx *ctx, const struct ibup_step *step,
		    const struct ibup_exec_opts *opts, char *detail, size_t dsize)
{
	struct ibup_download_result res;
	int r;

	r = ibup_download(ctx, step->url, step->sha256, step->size, step->path,
			  opts->download, &res);
	if (r < 0)
		snprintf(detail, dsize, "%s", res.error);
	else if (res.already_present)
		snprintf(detail, dsize, "already present");
	else if (res.from_cache)
		snprintf(detail, dsize, "%llu bytes from the cache",
			 (unsigned long long)res.bytes);
	else
		snprintf(detail, dsize, "%llu bytes%s", (unsigned long long)res.bytes,
			 res.resumed ? ", resumed" : "");
	return r;
}

static int run_step(struct ibup_ctx *ctx, const struct ibup_plan *plan,
		    const struct ibup_step *step, const struct ibup_exec_opts *opts,
		    char *detail, size_t dsize)
{
	int r;

	*detail = '\0';
	switch (step->kind) {
	case IBUP_STEP_WRITE_FILE:
		r = ibup_file_replace(ctx, step->path, step->content, step->len,
				      step->mode, IBUP_WRITE_MKDIR);
		return r < 0 ? r : 0;
	case IBUP_STEP_EDIT_FILE:
		return edit_file(ctx, step, detail, dsize);
	case IBUP_STEP_REMOVE_FILE:
		r = ibup_file_remove(ctx, step->path);
		return r < 0 ? r : 0;
	case IBUP_STEP_RUN:
	case IBUP_STEP_UNIT:
		return run_argv(plan, step, detail, dsize);
	case IBUP_STEP_MODULE:
		if (!ibup_ctx_is_live(ctx))
			return -EOPNOTSUPP; /* a module loads into the running kernel only */
		return run_argv(plan, step, detail, dsize);
	case IBUP_STEP_IPV4_ADDRESS:
		return ipv4_address(step, detail, dsize);
	case IBUP_STEP_RDMA_RENAME:
		return ibup_netlink_rdma_rename(step->name, step->value);
	case IBUP_STEP_WRITE_DEVICE:
		return ibup_write_device(ctx, step->path, step->content, step->len);
	case IBUP_STEP_DOWNLOAD:
		return download(ctx, step, opts, detail, dsize);
	}
	return -EINVAL;
}

static json_t *steps_json(const struct ibup_plan *plan, unsigned from)
{
	json_t *a = json_array();

	for (unsigned i = from; a && i < plan->n; i++)
		if (json_array_append_new(
			    a, ibup_step_json(plan, &plan->steps[i], false)) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int journal_write(struct ibup_state *st, json_t *j)
{
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2));
	int r;

	if (!text)
		return -ENOMEM;
	r = ibup_state_write(st, JOURNAL, text, strlen(text));
	return r < 0 ? r : 0;
}

static int journal_set_done(struct ibup_state *st, json_t *j, unsigned done, int failed,
			    const char *error)
{
	if (json_object_set_new(j, "done", json_integer(done)) < 0 ||
	    json_object_set_new(j, "failed_step",
				failed >= 0 ? json_integer(failed) : json_null()) < 0 ||
	    json_object_set_new(j, "error", error ? json_string(error) : json_null()) < 0)
		return -ENOMEM;
	return journal_write(st, j);
}

/* What the journal's step @i was, for people: "write_file /etc/..." */
static void step_words(json_t *step, char *buf, size_t size)
{
	const char *kind = json_string_value(json_object_get(step, "kind"));
	const char *path = json_string_value(json_object_get(step, "path"));
	const char *name = json_string_value(json_object_get(step, "name"));
	const char *value = json_string_value(json_object_get(step, "value"));
	json_t *argv = json_object_get(step, "argv");
	const char *words[4] = { NULL };

	/* A run is named by its program. */
	for (size_t i = 0; i < 3 && json_is_array(argv); i++)
		words[i] = json_string_value(json_array_get(argv, i));
	if (!path && !name && words[0])
		name = program(words);

	snprintf(buf, size, "%s %s%s%s", kind ? kind : "?",
		 path	? path
		 : name ? name
			: "",
		 value ? " " : "", value ? value : "");
	ibup_sanitize(buf);
}

/*
 * Planning again after a run stopped gives the steps whose effect planning sees (a
 * package installed, a file written) no more, but again those whose effect it cannot
 * see (a download, a run of a program): they are planned whenever the plan is made.
 * Such a step is the earlier run's when it is one the journal has as done, in the same
 * order; @skip is then where the plan's unfinished part starts. The rest of the plan
 * must equal the rest of the journal, step for step.
 */
static bool done_before(json_t *steps, size_t done, json_t *plan_steps, size_t skip)
{
	size_t j = 0;

	for (size_t i = 0; i < skip; i++, j++) {
		json_t *b = json_array_get(plan_steps, i);

		while (j < done && !json_equal(json_array_get(steps, j), b))
			j++;
		if (j == done)
			return false;
	}
	return true;
}

/*
 * A journal is there: a run that stopped. Continue it when asked to and when this plan
 * is what it has left (after steps the journal has as done, see done_before());
 * *ret_journal is then the journal to go on with, *ret_offset the steps it has done and
 * *ret_skip the plan's steps that were among them.
 */
static int check_journal(const struct ibup_plan *plan, const char *text, size_t len,
			 const char *path, bool resume, struct ibup_exec_result *res,
			 json_t **ret_journal, unsigned *ret_offset, unsigned *ret_skip)
{
	json_t *j = json_loadb(text, len, 0, NULL), *steps, *rest;
	const char *cmd, *err, *inputs;
	json_int_t done;
	size_t n, skip = 0;
	char was[160], now[160];

	steps = json_object_get(j, "steps");
	cmd = json_string_value(json_object_get(j, "command"));
	inputs = json_string_value(json_object_get(j, "inputs_sha256"));
	done = json_integer_value(json_object_get(j, "done"));
	err = json_string_value(json_object_get(j, "error"));
	if (!json_is_object(j) || !json_is_array(steps) || !cmd || done < 0 ||
	    (size_t)done > json_array_size(steps)) {
		json_decref(j);
		say(res, "'%s' is not a journal ibup wrote: remove it", path);
		return -EBADMSG;
	}
	n = json_array_size(steps);
	if (!resume) {
		step_words(json_array_get(steps, (size_t)done), was, sizeof(was));
		say(res,
		    "an earlier 'ibup %s' stopped after %lld of %zu steps (next: %s%s%s): "
		    "run it again with --resume to finish it",
		    cmd, (long long)done, n, was, err ? "; it failed: " : "",
		    err ? err : "");
		json_decref(j);
		return -EEXIST;
	}
	if (strcmp(cmd, plan->command) == 0 && plan->n == 0) {
		/* What was left is there now (done by hand, or by the failed step itself). */
		*ret_journal = NULL;
		*ret_offset = (unsigned)done;
		*ret_skip = 0;
		json_decref(j);
		return 0;
	}
	if (strcmp(cmd, plan->command) != 0) {
		say(res,
		    "the unfinished run is 'ibup %s', not 'ibup %s': resume that one",
		    cmd, plan->command);
		json_decref(j);
		return -ESTALE;
	}
	rest = steps_json(plan, 0);
	if (!rest) {
		json_decref(j);
		return -ENOMEM;
	}
	if (plan->n > n - (size_t)done &&
	    done_before(steps, (size_t)done, rest, plan->n - (n - (size_t)done)))
		skip = plan->n - (n - (size_t)done);
	for (size_t i = 0; i < n - (size_t)done || skip + i < plan->n; i++) {
		json_t *a = json_array_get(steps, (size_t)done + i),
		       *b = json_array_get(rest, skip + i);

		if (a && b && json_equal(a, b))
			continue;
		if (a)
			step_words(a, was, sizeof(was));
		if (b)
			step_words(b, now, sizeof(now));
		say(res,
		    "the host changed since the run stopped%s: its step %zu was %s, the plan "
		    "now %s; remove '%s' to start over",
		    inputs && strcmp(inputs, plan->inputs_sha256) != 0
			    ? " (its inputs differ)"
			    : "",
		    (size_t)done + i + 1, a ? was : "the end", b ? now : "ends there",
		    path);
		json_decref(rest);
		json_decref(j);
		return -ESTALE;
	}
	json_decref(rest);
	*ret_journal = j;
	*ret_offset = (unsigned)done;
	*ret_skip = (unsigned)skip;
	return 0;
}

static json_t *new_journal(const struct ibup_plan *plan)
{
	json_t *steps = steps_json(plan, 0);

	if (!steps)
		return NULL;
	return json_pack("{s:i, s:s, s:s, s:s, s:o, s:i, s:n, s:n}", "schema_version", 1,
			 "command", plan->command, "root", plan->root, "inputs_sha256",
			 plan->inputs_sha256, "steps", steps, "done", 0, "failed_step",
			 "error");
}

int ibup_plan_execute(struct ibup_ctx *ctx, const struct ibup_plan *plan,
		      const struct ibup_exec_opts *opts, struct ibup_exec_result *ret)
{
	static const struct ibup_exec_opts defaults;
	struct ibup_state st = { .lock_fd = -1 };
	_cleanup_free_ char *text = NULL;
	json_t *journal = NULL;
	unsigned offset = 0, skip = 0;
	char path[PATH_MAX];
	size_t len = 0;
	int r;

	if (!opts)
		opts = &defaults;
	*ret = (struct ibup_exec_result){ 0 };
	ret->status = calloc(plan->n + 1, sizeof(*ret->status));
	ret->errors = calloc(plan->n + 1, sizeof(*ret->errors));
	if (!ret->status || !ret->errors) {
		ibup_exec_result_release(ret);
		return -ENOMEM;
	}
	if (!opts->no_journal) {
		r = ibup_state_open(ctx, NULL, &st);
		if (r < 0)
			return r;
		r = ibup_state_lock(&st);
		if (r < 0) {
			ibup_state_path(&st, "lock", path, sizeof(path));
			say(ret,
			    r == -EBUSY
				    ? "another ibup run is changing this host (it holds '%s')"
				    : "cannot take the lock '%s': %s",
			    path, strerror(-r));
			ibup_state_close(&st);
			return r;
		}
		ibup_state_path(&st, JOURNAL, path, sizeof(path));
		r = ibup_state_read(&st, JOURNAL, JOURNAL_MAX, &text, &len);
		if (r >= 0) {
			r = check_journal(plan, text, len, path, opts->resume, ret,
					  &journal, &offset, &skip);
			if (r < 0) {
				ibup_state_close(&st);
				return r;
			}
			ret->resumed = true;
			ret->resumed_from = offset;
		} else if (r != -ENOENT) {
			say(ret, "cannot read the journal '%s': %s", path, strerror(-r));
			ibup_state_close(&st);
			return r;
		}
		if (!journal && plan->n)
			journal = new_journal(plan);
		if (plan->n && !journal) {
			ibup_state_close(&st);
			return -ENOMEM;
		}
		if (journal) {
			r = journal_set_done(&st, journal, offset, -1, NULL);
			if (r < 0) {
				say(ret, "cannot write the journal '%s': %s", path,
				    strerror(-r));
				json_decref(journal);
				ibup_state_close(&st);
				return r;
			}
		}
	}

	/* The journal's step offset + k is the plan's step skip + k. */
	for (unsigned i = 0; i < skip; i++)
		ret->status[i] = IBUP_STEP_SKIPPED;
	r = 0;
	for (unsigned i = skip; i < plan->n; i++) {
		const struct ibup_step *s = &plan->steps[i];
		unsigned at = offset + i - skip; /* in the journal */
		char detail[384];
		int sr;

		if (opts->progress)
			opts->progress(opts->progress_data, plan, i, 1, NULL);
		sr = run_step(ctx, plan, s, opts, detail, sizeof(detail));
		ret->errors[i] = sr;
		if (sr == -EEXIST && s->kind == IBUP_STEP_IPV4_ADDRESS) {
			snprintf(detail, sizeof(detail), "already present");
			sr = 0;
		}
		if (opts->progress)
			opts->progress(opts->progress_data, plan, i, sr,
				       *detail ? detail : NULL);
		if (sr < 0) {
			ret->status[i] = IBUP_STEP_FAILED;
			ret->failed++;
			if (s->may_fail)
				continue;
			ret->first_error = sr;
			ret->failed_step = i;
			say(ret, "step %u of %u (%s%s%s) failed: %s", at + 1,
			    offset + plan->n - skip, ibup_step_kind_name(s->kind),
			    s->path ? " /" : " ",
			    s->path   ? s->path
			    : s->name ? s->name
				      : program((const char *const *)s->argv),
			    *detail ? detail : strerror(-sr));
			if (journal)
				journal_set_done(&st, journal, at, (int)at, ret->error);
			r = sr;
			break;
		}
		ret->status[i] = IBUP_STEP_DONE;
		ret->done++;
		if (journal && i + 1 < plan->n)
			journal_set_done(&st, journal, at + 1, -1, NULL);
	}
	if (!opts->no_journal && r == 0) {
		int rr = ibup_state_remove(&st, JOURNAL);

		if (rr < 0) {
			say(ret,
			    "all steps done, but the journal '%s' cannot be removed: %s",
			    path, strerror(-rr));
			r = rr;
		}
	}
	json_decref(journal);
	ibup_state_close(&st);
	return r;
}

void ibup_exec_result_release(struct ibup_exec_result *r)
{
	free(r->status);
	free(r->errors);
	r->status = NULL;
	r->errors = NULL;
}

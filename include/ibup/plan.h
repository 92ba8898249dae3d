// SPDX-License-Identifier: MIT
/*
 * Every change ibup makes to a host is a plan run by one executor.
 *
 * A plan is an ordered list of steps computed from what the host has and what was
 * asked; computing it changes nothing, and a step whose effect is already present is
 * not planned, so a second run plans nothing. `--dry-run` shows the plan; the executor
 * (ibup_plan_execute) is the only code in libibup that writes files, runs programs,
 * loads modules or changes the kernel's addresses and names. It stays inside the
 * context's root, takes one lock, journals the plan and each finished step in ibup's
 * state directory, and resumes a run that stopped (ibup_exec_opts.resume).
 */
#ifndef IBUP_PLAN_H
#define IBUP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibup/ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ibup_step_kind {
	IBUP_STEP_WRITE_FILE = 0, /* a file ibup owns whole: path, content, mode */
	IBUP_STEP_EDIT_FILE, /* a file shared with others: the editor's result, applied only
				while the file still holds what planning read */
	IBUP_STEP_REMOVE_FILE, /* path */
	IBUP_STEP_RUN, /* argv, env, timeout, the exit codes that mean success */
	IBUP_STEP_DOWNLOAD, /* url, sha256, size (0: unknown), path: see ibup_download() */
	IBUP_STEP_UNIT, /* systemctl ACTION UNIT (name: unit, value: action) */
	IBUP_STEP_MODULE, /* modprobe NAME */
	IBUP_STEP_IPV4_ADDRESS, /* name: interface, value: "a.b.c.d/len"; up, then add */
	IBUP_STEP_RDMA_RENAME, /* name: RDMA device, value: its new name */
	IBUP_STEP_WRITE_DEVICE, /* a device node (path) takes content; nothing to read back */
};
const char *ibup_step_kind_name(enum ibup_step_kind k); /* "write_file", ... */

#define IBUP_SHA256_HEX 65 /* 64 hex digits and a NUL */
#define IBUP_STEP_MAX_OK 8

/* What a program's exit code means, as its vendor documents it; NULL when not said. */
typedef const char *ibup_exit_meaning_fn(int code);

struct ibup_step {
	enum ibup_step_kind kind;
	char *why; /* one line: what the step is for */
	char *path; /* files, devices, download destination: relative to the root */
	char *content; /* write/edit/device: the new bytes */
	size_t len;
	unsigned mode; /* write: permission bits of a new file */
	bool old_exists; /* write/edit: the file exists now */
	char *old_content; /* write/edit: what it holds now (the diff's left side) */
	size_t old_len;
	char sha256[IBUP_SHA256_HEX]; /* of content (download: of the file expected) */
	char old_sha256[IBUP_SHA256_HEX]; /* of old_content; empty when none */
	char **argv; /* run: NULL-terminated */
	char **env; /* run: "NAME=value" added to the environment, NULL-terminated */
	unsigned timeout_ms; /* run: 0 for none */
	int ok_codes
		[IBUP_STEP_MAX_OK]; /* run: exit codes meaning success ({0} by default) */
	unsigned n_ok;
	/* run: the failure line says what the exit code means (NULL: no table). Not
	 * journaled: it follows from the program, which is. */
	ibup_exit_meaning_fn *exit_meaning;
	char *url; /* download */
	uint64_t size; /* download: bytes expected */
	char *name, *value; /* unit/action, module, interface/address, device/new name */
	/* The run goes on when this step fails; the failure is reported (independent
	 * steps, such as one IPoIB address among eight). */
	bool may_fail;
};

/* Something planning found already as asked: it is not a step. */
struct ibup_plan_note {
	char *path; /* relative to the root, or NULL */
	char *text; /* "unchanged /etc/waagent.conf (OS.EnableRDMA=y)" */
};

struct ibup_plan {
	char *command; /* what was asked, as the user typed it: "ipoib enable --via waagent" */
	char *root; /* the root it was planned for */
	struct ibup_step *steps;
	unsigned n;
	struct ibup_plan_note *notes;
	unsigned n_notes;
	char inputs_sha256[IBUP_SHA256_HEX]; /* digest of what planning read */
	void *inputs; /* the running digest; NULL once final */
};

/**
 * ibup_plan_new() - start a plan
 * @ctx: library context (its root is recorded)
 * @command: what was asked, e.g. "ipoib enable --via systemd"
 * @ret_plan: the empty plan, owned by the caller; free with ibup_plan_free()
 *
 * Return: 0, -ENOMEM, or -ELIBACC when libcrypto (SHA-256) cannot be loaded.
 */
int ibup_plan_new(struct ibup_ctx *ctx, const char *command, struct ibup_plan **ret_plan);
struct ibup_plan *ibup_plan_free(struct ibup_plan *plan);

/**
 * ibup_plan_input() - record one fact planning read
 * @plan: the plan
 * @name: what it is ("etc/waagent.conf", "exe")
 * @data: its bytes, or NULL when absent
 * @len: their length
 *
 * The digest of all inputs is journaled with the plan, so a resumed run can say
 * whether the host changed in between.
 */
void ibup_plan_input(struct ibup_plan *plan, const char *name, const void *data,
		     size_t len);

/*
 * Adding steps; each returns 0 or -ENOMEM (or -EINVAL for a path with a leading
 * slash). Strings are copied. The file steps read what is there now under the root,
 * for the diff and for the edit's precondition; they do not add a step (but a note
 * "unchanged /PATH") when the file already holds @content, and _remove adds none when
 * the file is absent. Return 1 when a step was added, 0 when none was needed.
 */
int ibup_plan_write_file(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *path,
			 const char *content, size_t len, unsigned mode, const char *why);
/*
 * @editor turns the file's text into the wanted text (pure; NUL-terminated in and
 * out). A file holding a NUL byte is refused (-EBADMSG): text editors cannot keep it.
 * -ENOENT when the file is absent.
 */
typedef int ibup_editor_fn(const char *text, void *data, char **ret_text);
int ibup_plan_edit_file(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *path,
			ibup_editor_fn *editor, void *data, const char *why,
			const char *note);
int ibup_plan_remove_file(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *path,
			  const char *why);
int ibup_plan_run(struct ibup_plan *plan, const char *const argv[],
		  const char *const env[], unsigned timeout_ms, const int *ok_codes,
		  unsigned n_ok, const char *why);
int ibup_plan_download(struct ibup_plan *plan, const char *url, const char *sha256,
		       uint64_t size, const char *path, const char *why);
int ibup_plan_unit(struct ibup_plan *plan, const char *action, const char *unit,
		   const char *why);
int ibup_plan_module(struct ibup_plan *plan, const char *module, const char *why);
int ibup_plan_ipv4_address(struct ibup_plan *plan, const char *ifname,
			   const char *address, bool may_fail, const char *why);
int ibup_plan_rdma_rename(struct ibup_plan *plan, const char *device,
			  const char *new_name, const char *why);
int ibup_plan_write_device(struct ibup_plan *plan, const char *path, const char *content,
			   size_t len, const char *why);
int ibup_plan_note(struct ibup_plan *plan, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * ibup_plan_finish() - end planning: fix the digest of the inputs
 * @plan: the plan
 *
 * Return: 0, or -EIO when the digest could not be computed.
 */
int ibup_plan_finish(struct ibup_plan *plan);

/**
 * ibup_plan_end() - how every planner ends: finish the plan, or drop it on an error
 * @plan: the plan being built (may be NULL when @r < 0)
 * @r: the planner's result so far (negative: an error)
 * @ret: set to @plan on success
 *
 * Return: 0, or @r (or ibup_plan_finish()'s error) after freeing @plan.
 */
int ibup_plan_end(struct ibup_plan *plan, int r, struct ibup_plan **ret);

/**
 * ibup_step_argv() - the command line a step is, as an administrator would type it
 * @plan: the plan (its root: "systemctl --root=DIR enable ..." under another root)
 * @step: the step
 * @ret_argv: NULL-terminated, owned by the caller (free with ibup_argv_free())
 *
 * Runs, units and modules are executed with exactly this argv; the other kinds are
 * done through system calls, and this is the command with the same effect
 * ("ip address add 172.16.1.9/16 dev ib0"). File steps have none (-ENOENT): they are
 * shown as a unified diff.
 *
 * Return: 0, -ENOENT, or -ENOMEM.
 */
int ibup_step_argv(const struct ibup_plan *plan, const struct ibup_step *step,
		   char ***ret_argv);
char **ibup_argv_free(char **argv);

/**
 * ibup_step_diff() - a file step's change as a unified diff ("--- a/PATH" ...)
 * @step: a write, edit or remove step
 * @ret_diff: NUL-terminated, owned by the caller
 *
 * Return: 0, -ENOENT for other kinds, or -ENOMEM.
 */
int ibup_step_diff(const struct ibup_step *step, char **ret_diff);

/**
 * ibup_text_diff() - a unified diff between two texts, three lines of context
 * @a, @alen: the old text (NULL: the file is created)
 * @b, @blen: the new text (NULL: the file is removed)
 * @path: the name shown after "a/" and "b/"
 * @ret_diff: NUL-terminated, owned by the caller; "" when the texts are equal
 *
 * Pure. Texts whose line counts multiply past four million are shown as one hunk
 * replacing every line.
 *
 * Return: 0, or -ENOMEM.
 */
int ibup_text_diff(const char *a, size_t alen, const char *b, size_t blen,
		   const char *path, char **ret_diff);

/* What happened to each step in a run. */
enum ibup_step_status {
	IBUP_STEP_PLANNED = 0,
	IBUP_STEP_DONE,
	IBUP_STEP_FAILED,
	IBUP_STEP_SKIPPED, /* finished by the earlier run that --resume continues */
};
const char *ibup_step_status_name(enum ibup_step_status s);

/* Called as each step starts (@result 1) and ends (0, or a negative errno). */
typedef void ibup_step_progress_fn(void *data, const struct ibup_plan *plan, unsigned i,
				   int result, const char *detail);

struct ibup_download_opts;

struct ibup_exec_opts {
	/* Continue the journaled run that stopped, when this plan is the rest of it. */
	bool resume;
	/*
	 * Journal and lock (default). Off for plans of the running kernel's volatile state
	 * only (ipoib apply's addresses): they are planned anew at every run.
	 */
	bool no_journal;
	ibup_step_progress_fn *progress;
	void *progress_data;
	/* Download steps: cache, retries, timeouts, byte progress; NULL for the defaults
	 * (include/ibup/download.h). */
	const struct ibup_download_opts *download;
};

struct ibup_exec_result {
	enum ibup_step_status *status; /* per step of the plan */
	int *errors; /* per step: 0, or the negative errno it ended with (an IPv4 address
			already there is done, with -EEXIST) */
	unsigned done, failed; /* steps that ended so */
	int first_error; /* of the first failed step that stopped the run; 0 */
	unsigned failed_step; /* its index */
	char error[512]; /* one line: which step failed and why, or why nothing ran */
	bool resumed; /* an earlier run's journal was continued */
	unsigned resumed_from; /* steps that run had finished */
};

/**
 * ibup_plan_execute() - carry out a plan
 * @ctx: library context; everything happens under its root
 * @plan: a finished plan
 * @opts: resume, journal, progress; NULL for the defaults
 * @ret: filled in every case; release with ibup_exec_result_release()
 *
 * Runs the steps in order and stops at the first failure of a step that may not fail,
 * naming it in @ret->error. The journal (the plan, the digest of its inputs, each
 * finished step) lives in ibup's state directory under the root and is removed when
 * the run succeeds. With a journal present a run is refused unless @opts->resume is
 * set and the plan equals the journal's unfinished steps, optionally after steps the
 * journal has as done (in its order: steps planned whatever the host has, such as a
 * download or a program's run; they are IBUP_STEP_SKIPPED); otherwise @ret->error
 * says what changed.
 *
 * Return: 0 when every step that may not fail succeeded; -EBUSY when another run holds
 * the lock, -EEXIST when an unfinished run is journaled (no --resume), -ESTALE when
 * --resume finds a different plan, or the failed step's negative errno.
 */
int ibup_plan_execute(struct ibup_ctx *ctx, const struct ibup_plan *plan,
		      const struct ibup_exec_opts *opts, struct ibup_exec_result *ret);
void ibup_exec_result_release(struct ibup_exec_result *r);

/**
 * ibup_plan_lock() - hold the executor's lock across several plans
 * @ctx: library context; the lock is the one ibup_plan_execute() takes (var/lib/ibup/lock
 *	under its root)
 * @wait_ms: how long to wait while another run holds it (0: not at all)
 *
 * For a run made of several plans and what happens between them (a handler's steps),
 * so that no other run starts in between. While @ctx holds it, ibup_plan_execute()
 * through @ctx takes no lock of its own. Held until ibup_plan_unlock(),
 * ibup_ctx_free(), or the end of the process, however it ends.
 *
 * Return: 0, -EBUSY when another run held it throughout @wait_ms, or a negative errno.
 */
int ibup_plan_lock(struct ibup_ctx *ctx, unsigned wait_ms);
void ibup_plan_unlock(struct ibup_ctx *ctx);

/*
 * JSON (jansson): one step as docs/plan.schema.json describes it (with the content
 * and diff when @full, otherwise only what identifies it: the journal's comparison).
 */
struct json_t;
struct json_t *ibup_step_json(const struct ibup_plan *plan, const struct ibup_step *step,
			      bool full);

#ifdef __cplusplus
}
#endif

#endif

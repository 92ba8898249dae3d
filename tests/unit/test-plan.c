// SPDX-License-Identifier: MIT
/* Plans (lib/plan): building, idempotence, diffs, command lines, the executor and its
 * journal; and the state directory (lib/core/state.c) they keep it in. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "ibup/install.h"
#include "ibup/plan.h"
#include "tmp-root.h"

static void diff_is(const char *a, const char *b, const char *want)
{
	char *d = NULL;

	assert_int_equal(
		ibup_text_diff(a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, "etc/x", &d),
		0);
	assert_string_equal(d, want);
	free(d);
}

static void test_diff(void **state)
{
	diff_is("a\nb\n", "a\nb\n", "");
	diff_is(NULL, "one\n", "--- /dev/null\n+++ b/etc/x\n@@ -0,0 +1,1 @@\n+one\n");
	diff_is("one\n", NULL, "--- a/etc/x\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-one\n");
	/* One line changed among many: three lines of context, as diff -u. */
	diff_is("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n",
		"--- a/etc/x\n+++ b/etc/x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n");
	/* Two changes far apart: two hunks. */
	diff_is("a\n1\n2\n3\n4\n5\n6\n7\n8\nz\n", "A\n1\n2\n3\n4\n5\n6\n7\n8\nZ\n",
		"--- a/etc/x\n+++ b/etc/x\n@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n"
		"@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-z\n+Z\n");
	/* A last line without a newline is said. */
	diff_is("a\n", "a\nb",
		"--- a/etc/x\n+++ b/etc/x\n@@ -1,1 +1,2 @@\n a\n+b\n"
		"\\ No newline at end of file\n");
}

static int upper_editor(const char *text, void *data, char **ret)
{
	char *s = strdup(text);

	for (char *p = s; p && *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	*ret = s;
	return s ? 0 : -ENOMEM;
}

static void test_plan_idempotent(void **state)
{
	char root[TMP_ROOT_SIZE], **argv = NULL;
	struct ibup_ctx *ctx;
	struct ibup_plan *p;
	struct ibup_exec_result res;

	tmp_root_make(root, "plan", &ctx);
	tmp_root_write(root, "etc/shared.conf", "key=v\n", 6);
	tmp_root_write(root, "etc/same.conf", "x\n", 2);
	tmp_root_write(root, "etc/binary.conf", "a\0b\n", 4);

	assert_int_equal(ibup_plan_new(ctx, "test", &p), 0);
	assert_int_equal(
		ibup_plan_write_file(ctx, p, "etc/a/b/new.conf", "n\n", 2, 0600, "new"),
		1);
	assert_int_equal(
		ibup_plan_write_file(ctx, p, "etc/same.conf", "x\n", 2, 0644, "same"), 0);
	assert_int_equal(ibup_plan_edit_file(ctx, p, "etc/shared.conf", upper_editor,
					     NULL, "edit", NULL),
			 1);
	assert_int_equal(ibup_plan_edit_file(ctx, p, "etc/binary.conf", upper_editor,
					     NULL, "edit", NULL),
			 -EBADMSG);
	assert_int_equal(ibup_plan_edit_file(ctx, p, "etc/none.conf", upper_editor, NULL,
					     "edit", NULL),
			 -ENOENT);
	assert_int_equal(ibup_plan_remove_file(ctx, p, "etc/none.conf", "gone"), 0);
	assert_int_equal(ibup_plan_write_file(ctx, p, "/etc/abs", "x", 1, 0644, "abs"),
			 -EINVAL);
	assert_int_equal(ibup_plan_run(p, (const char *const[]){ "true", NULL }, NULL, 0,
				       NULL, 0, "run"),
			 1);
	assert_int_equal(ibup_plan_finish(p), 0);
	assert_int_equal(p->n, 3);
	assert_int_equal(p->n_notes, 1);
	assert_string_equal(p->notes[0].text, "unchanged /etc/same.conf");
	assert_int_equal(strlen(p->inputs_sha256), 64);
	assert_int_equal(ibup_step_argv(p, &p->steps[0], &argv), -ENOENT);
	assert_int_equal(ibup_step_argv(p, &p->steps[2], &argv), 0);
	assert_string_equal(argv[0], "true");
	ibup_argv_free(argv);

	assert_int_equal(ibup_plan_execute(ctx, p, NULL, &res), 0);
	assert_int_equal(res.done, 3);
	ibup_exec_result_release(&res);
	ibup_plan_free(p);
	/* The journal is gone; planning again finds everything in place. */
	assert_int_equal(ibup_path_exists(ctx, "var/lib/ibup/journal.json"), 0);
	assert_int_equal(ibup_path_exists(ctx, "etc/shared.conf.ibup-orig"), 1);
	assert_int_equal(ibup_plan_new(ctx, "test", &p), 0);
	assert_int_equal(
		ibup_plan_write_file(ctx, p, "etc/a/b/new.conf", "n\n", 2, 0600, "new"),
		0);
	assert_int_equal(ibup_plan_edit_file(ctx, p, "etc/shared.conf", upper_editor,
					     NULL, "edit", "upper"),
			 0);
	assert_string_equal(p->notes[1].text, "unchanged /etc/shared.conf (upper)");
	assert_int_equal(p->n, 0);
	ibup_plan_free(p);
	tmp_root_remove(root, ctx);
}

/* The step that fails while IBUP_T names no file: "test -e $IBUP_T", env @env. */
static void add_failing_step(struct ibup_plan *p, const char *env)
{
	ibup_plan_run(p, (const char *const[]){ "sh", "-c", "test -e \"$IBUP_T\"", NULL },
		      (const char *const[]){ env, NULL }, 0, NULL, 0, "fails");
}

/* Finish @p; --resume refuses it as another plan than the journal's, saying @why. */
static void expect_stale(struct ibup_ctx *ctx, struct ibup_plan *p, const char *why)
{
	struct ibup_exec_opts resume = { .resume = true };
	struct ibup_exec_result res;

	ibup_plan_finish(p);
	assert_int_equal(ibup_plan_execute(ctx, p, &resume, &res), -ESTALE);
	assert_non_null(strstr(res.error, why));
	ibup_exec_result_release(&res);
	ibup_plan_free(p);
}

/* The journal records two steps done. */
static void assert_journal_done_2(struct ibup_ctx *ctx)
{
	char *journal = NULL;

	assert_int_equal(
		ibup_read_file(ctx, "var/lib/ibup/journal.json", 1 << 20, &journal, NULL),
		0);
	assert_non_null(strstr(journal, "\"done\": 2"));
	free(journal);
}

static void test_exec_stops_journals_resumes(void **state)
{
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
	struct ibup_plan *p;
	struct ibup_exec_result res;
	struct ibup_exec_opts resume = { .resume = true };
	static const int ok[] = { 0, 3 };

	tmp_root_make(root, "exec", &ctx);
	assert_int_equal(ibup_plan_new(ctx, "t", &p), 0);
	ibup_plan_write_file(ctx, p, "etc/one", "1\n", 2, 0644, "one");
	ibup_plan_run(p, (const char *const[]){ "sh", "-c", "exit 3", NULL }, NULL, 0, ok,
		      2, "exit 3 is fine");
	add_failing_step(p, "IBUP_T=/nonexistent-ibup");
	ibup_plan_finish(p);
	assert_int_equal(ibup_plan_execute(ctx, p, NULL, &res), -ECANCELED);
	assert_int_equal(res.done, 2);
	assert_int_equal(res.failed_step, 2);
	assert_non_null(strstr(res.error, "step 3 of 3 (run "));
	assert_non_null(strstr(res.error, "'sh' exited with 1"));
	ibup_exec_result_release(&res);
	assert_journal_done_2(ctx);
	/* Without --resume: refused. */
	assert_int_equal(ibup_plan_execute(ctx, p, NULL, &res), -EEXIST);
	assert_non_null(strstr(res.error, "--resume"));
	ibup_exec_result_release(&res);
	/*
	 * With it, a plan that has again steps the run did (planned whatever the host
	 * has: a run, a download) goes on after them: they are not done twice.
	 */
	assert_int_equal(ibup_plan_execute(ctx, p, &resume, &res), -ECANCELED);
	assert_true(res.resumed);
	assert_int_equal(res.resumed_from, 2);
	assert_int_equal(res.status[0], IBUP_STEP_SKIPPED);
	assert_int_equal(res.status[1], IBUP_STEP_SKIPPED);
	assert_int_equal(res.status[2], IBUP_STEP_FAILED);
	assert_int_equal(res.done, 0);
	assert_non_null(strstr(res.error, "step 3 of 3 (run "));
	ibup_exec_result_release(&res);
	ibup_plan_free(p);
	assert_journal_done_2(ctx);
	/* A step before the rest that the run did not do: a different plan. */
	assert_int_equal(ibup_plan_new(ctx, "t", &p), 0);
	ibup_plan_run(p, (const char *const[]){ "true", NULL }, NULL, 0, NULL, 0, "new");
	add_failing_step(p, "IBUP_T=/nonexistent-ibup");
	expect_stale(ctx, p, "its step 3 was run");
	/* The done steps in another order than the run's: a different plan. */
	assert_true(ibup_file_remove(ctx, "etc/one") >= 0);
	assert_int_equal(ibup_plan_new(ctx, "t", &p), 0);
	ibup_plan_run(p, (const char *const[]){ "sh", "-c", "exit 3", NULL }, NULL, 0, ok,
		      2, "exit 3 is fine");
	assert_int_equal(ibup_plan_write_file(ctx, p, "etc/one", "1\n", 2, 0644, "one"),
			 1);
	add_failing_step(p, "IBUP_T=/nonexistent-ibup");
	expect_stale(ctx, p, "its step 3 was run");
	assert_true(ibup_file_replace(ctx, "etc/one", "1\n", 2, 0644, 0) >= 0);

	assert_int_equal(ibup_plan_new(ctx, "t", &p), 0);
	ibup_plan_write_file(ctx, p, "etc/one", "1\n", 2, 0644,
			     "one"); /* done: no step */
	add_failing_step(p, "IBUP_T=/");
	ibup_plan_finish(p);
	assert_int_equal(p->n, 1);
	/* The env differs from the journal's step: a different plan. */
	assert_int_equal(ibup_plan_execute(ctx, p, &resume, &res), -ESTALE);
	assert_non_null(strstr(res.error, "its step 3 was run"));
	ibup_exec_result_release(&res);
	ibup_plan_free(p);
	assert_int_equal(ibup_plan_new(ctx, "t", &p), 0);
	add_failing_step(p, "IBUP_T=/nonexistent-ibup");
	ibup_plan_finish(p);
	/* The same step again, resumed: it fails again, still journaled. */
	assert_int_equal(ibup_plan_execute(ctx, p, &resume, &res), -ECANCELED);
	assert_true(res.resumed);
	assert_int_equal(res.resumed_from, 2);
	assert_non_null(strstr(res.error, "step 3 of 3"));
	ibup_exec_result_release(&res);
	ibup_plan_free(p);
	/* Another command cannot take over the journal. */
	assert_int_equal(ibup_plan_new(ctx, "other", &p), 0);
	expect_stale(ctx, p, "'ibup t'");
	tmp_root_remove(root, ctx);
}

static void test_state_lock(void **state)
{
	char root[TMP_ROOT_SIZE], path[256], *data = NULL;
	struct ibup_ctx *ctx;
	struct ibup_state a, b;
	struct ibup_plan *p;
	struct ibup_exec_result res;

	tmp_root_make(root, "state", &ctx);
	assert_int_equal(ibup_state_open(ctx, NULL, &a), 0);
	assert_int_equal(ibup_state_read(&a, "x.json", 1024, &data, NULL), -ENOENT);
	assert_int_equal(ibup_state_write(&a, "x.json", "{}", 2), 0);
	assert_int_equal(ibup_state_read(&a, "x.json", 1024, &data, NULL), 0);
	assert_string_equal(data, "{}");
	free(data);
	assert_int_equal(ibup_state_write(&a, "../escape", "x", 1), -EINVAL);
	assert_string_equal(ibup_state_path(&a, "x.json", path, sizeof(path)) +
				    strlen(root),
			    "/var/lib/ibup/x.json");
	/* One lock: a second holder (another run) is refused while the first holds it. */
	assert_int_equal(ibup_state_lock(&a), 0);
	assert_int_equal(ibup_state_open(ctx, NULL, &b), 0);
	assert_int_equal(ibup_state_lock(&b), -EBUSY);
	assert_int_equal(ibup_plan_new(ctx, "t", &p), 0);
	ibup_plan_write_file(ctx, p, "etc/x", "x", 1, 0644, "x");
	ibup_plan_finish(p);
	assert_int_equal(ibup_plan_execute(ctx, p, NULL, &res), -EBUSY);
	assert_non_null(strstr(res.error, "another ibup run"));
	assert_int_equal(ibup_path_exists(ctx, "etc/x"), 0);
	ibup_exec_result_release(&res);
	ibup_state_close(&a);
	assert_int_equal(ibup_state_lock(&b), 0);
	assert_int_equal(ibup_state_remove(&b, "x.json"), 1);
	ibup_state_close(&b);
	ibup_plan_free(p);
	tmp_root_remove(root, ctx);
}

/* ibup_plan_lock(): the same lock, held across plans; others wait or are refused. */
static void test_plan_lock_held(void **state)
{
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx, *other;
	struct ibup_state b;
	struct ibup_plan *p;
	struct ibup_exec_result res;

	tmp_root_make(root, "held", &ctx);
	assert_int_equal(ibup_ctx_new(root, &other), 0);
	assert_int_equal(ibup_plan_lock(ctx, 0), 0);
	assert_int_equal(ibup_plan_lock(ctx, 0), 0); /* held already: nothing taken */
	/* Another run: its own lock and its plans are refused, after waiting a little. */
	assert_int_equal(ibup_state_open(other, NULL, &b), 0);
	assert_int_equal(ibup_state_lock(&b), -EBUSY);
	assert_int_equal(ibup_plan_lock(other, 300), -EBUSY);
	/* The holder's plans run under the lock it holds, one after the other. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ibup_plan_new(ctx, "t", &p), 0);
		ibup_plan_write_file(ctx, p, i ? "etc/y" : "etc/x", "x", 1, 0644, "x");
		ibup_plan_finish(p);
		assert_int_equal(ibup_plan_execute(ctx, p, NULL, &res), 0);
		ibup_exec_result_release(&res);
		ibup_plan_free(p);
	}
	assert_int_equal(ibup_path_exists(ctx, "etc/y"), 1);
	assert_int_equal(ibup_state_lock(&b), -EBUSY); /* still held between plans */
	ibup_plan_unlock(ctx);
	assert_int_equal(ibup_state_lock(&b), 0);
	assert_int_equal(ibup_plan_lock(ctx, 0), -EBUSY);
	ibup_state_close(&b);
	assert_int_equal(ibup_plan_lock(ctx, 0), 0);
	ibup_plan_unlock(ctx);
	ibup_ctx_free(other);
	tmp_root_remove(root, ctx);
}

/* The unit runs ibup wherever it is: a path with a space or '%' is one word, unexpanded. */
/* A run step with its vendor's exit codes: the failure says what the code means. */
static void test_exec_exit_meaning(void **state)
{
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
	struct ibup_plan *p;
	struct ibup_exec_result res;
	struct ibup_exec_opts once = { .no_journal = true };

	tmp_root_make(root, "meaning", &ctx);
	assert_int_equal(ibup_plan_new(ctx, "t", &p), 0);
	assert_int_equal(
		ibup_plan_run(p,
			      (const char *const[]){ "sh", "-c",
						     "echo missing >&2; exit 172", NULL },
			      NULL, 0, NULL, 0, "installer"),
		1);
	p->steps[0].exit_meaning = ibup_mofed_exit_meaning;
	ibup_plan_finish(p);
	assert_int_equal(ibup_plan_execute(ctx, p, &once, &res), -ECANCELED);
	assert_non_null(strstr(res.error, "'sh' exited with 172 (prerequisites are not "
					  "met (kernel headers or devel, build tools)): "
					  "missing"));
	/* The step is named by its program. */
	assert_non_null(strstr(res.error, "step 1 of 1 (run sh) failed"));
	ibup_exec_result_release(&res);
	ibup_plan_free(p);
	/* A code the vendor does not document is said as it is. */
	assert_int_equal(ibup_plan_new(ctx, "t", &p), 0);
	assert_int_equal(
		ibup_plan_run(p, (const char *const[]){ "sh", "-c", "exit 99", NULL },
			      NULL, 0, NULL, 0, "installer"),
		1);
	p->steps[0].exit_meaning = ibup_mofed_exit_meaning;
	ibup_plan_finish(p);
	assert_int_equal(ibup_plan_execute(ctx, p, &once, &res), -ECANCELED);
	assert_non_null(strstr(res.error, "'sh' exited with 99"));
	assert_null(strstr(res.error, "99 ("));
	ibup_exec_result_release(&res);
	ibup_plan_free(p);
	tmp_root_remove(root, ctx);
}

static void test_unit_exec_quoting(void **state)
{
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
	struct ibup_plan *p;

	tmp_root_make(root, "unit", &ctx);
	assert_int_equal(
		ibup_ipoib_enable_plan(ctx, "systemd", "/opt/my ibup/100%/ibup", &p), 0);
	assert_string_equal(p->steps[0].path, "etc/systemd/system/ibup-ipoib.service");
	assert_non_null(strstr(
		p->steps[0].content,
		"\nExecStart=\"/opt/my ibup/100%%/ibup\" ipoib apply --wait 120\n"));
	ibup_plan_free(p);
	assert_int_equal(ibup_ipoib_enable_plan(ctx, "systemd", "/usr/sbin/ibup", &p), 0);
	assert_non_null(strstr(p->steps[0].content,
			       "\nExecStart=/usr/sbin/ibup ipoib apply --wait 120\n"));
	ibup_plan_free(p);
	assert_int_equal(ibup_ipoib_enable_plan(ctx, "systemd", "/a\nb", &p), -EINVAL);
	assert_int_equal(
		ibup_ipoib_enable_plan(ctx, "carrier-pigeon", "/usr/sbin/ibup", &p),
		-EINVAL);
	tmp_root_remove(root, ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_plan_idempotent),
		cmocka_unit_test(test_exec_stops_journals_resumes),
		cmocka_unit_test(test_state_lock),
		cmocka_unit_test(test_plan_lock_held),
		cmocka_unit_test(test_exec_exit_meaning),
		cmocka_unit_test(test_unit_exec_quoting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* The spawner: exit codes, captured output, bounds, timeouts, lingering children. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_exit_and_output(void **state)
{
	const char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	struct ibup_spawn_result r;

	assert_int_equal(ibup_spawn(argv, 5000, 0, &r), 0);
	assert_int_equal(r.exit_code, 3);
	assert_false(r.timed_out);
	assert_string_equal(r.out, "out\n");
	assert_string_equal(r.err, "err\n");
	assert_false(r.truncated);
	ibup_spawn_result_release(&r);
}

static void test_no_shell_expansion(void **state)
{
	const char *argv[] = { "echo", "$HOME;", "`true`", NULL };
	struct ibup_spawn_result r;

	assert_int_equal(ibup_spawn(argv, 5000, 0, &r), 0);
	assert_string_equal(r.out, "$HOME; `true`\n");
	ibup_spawn_result_release(&r);
}

static void test_missing_program(void **state)
{
	const char *argv[] = { "ibup-no-such-program", NULL };
	const char *empty[] = { NULL };
	struct ibup_spawn_result r;

	assert_int_equal(ibup_spawn(argv, 5000, 0, &r), -ENOENT);
	assert_int_equal(ibup_spawn(empty, 5000, 0, &r), -EINVAL);
}

static void test_signal(void **state)
{
	const char *argv[] = { "sh", "-c", "kill -9 $$", NULL };
	struct ibup_spawn_result r;

	assert_int_equal(ibup_spawn(argv, 5000, 0, &r), 0);
	assert_int_equal(r.exit_code, 128 + 9);
	ibup_spawn_result_release(&r);
}

static void test_timeout(void **state)
{
	const char *argv[] = { "sleep", "30", NULL };
	struct ibup_spawn_result r;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ibup_spawn(argv, 200, 0, &r), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.exit_code, -1);
	assert_true(since(&t0) < 10);
	ibup_spawn_result_release(&r);
}

static void test_lingering_grandchild(void **state)
{
	/* The grandchild keeps the pipes open; the deadline still holds and it is killed. */
	const char *argv[] = { "sh", "-c", "sleep 30 & echo started", NULL };
	struct ibup_spawn_result r;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ibup_spawn(argv, 300, 0, &r), 0);
	assert_true(r.timed_out);
	assert_string_equal(r.out, "started\n");
	assert_true(since(&t0) < 10);
	ibup_spawn_result_release(&r);
}

static void test_closed_pipes_still_bounded(void **state)
{
	/* The child closes its output but keeps running: the wait is bounded too. */
	const char *argv[] = { "sh", "-c", "exec >&- 2>&-; sleep 30", NULL };
	struct ibup_spawn_result r;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ibup_spawn(argv, 300, 0, &r), 0);
	assert_true(r.timed_out);
	assert_true(since(&t0) < 10);
	ibup_spawn_result_release(&r);
}

static void test_output_bound(void **state)
{
	const char *argv[] = { "head", "-c", "2000000", "/dev/zero", NULL };
	struct ibup_spawn_result r;

	assert_int_equal(ibup_spawn(argv, 10000, 1000, &r), 0);
	assert_int_equal(r.exit_code, 0); /* drained to the end: never blocked */
	assert_true(r.truncated);
	assert_int_equal(r.out_len, 1000);
	ibup_spawn_result_release(&r);
}

/* Detached: its own session (named by its pid), its environment, its output in the log. */
static void test_detached(void **state)
{
	char dir[] = "/tmp/ibup-spawn-XXXXXX", log[64], buf[256] = "";
	const char *const argv[] = { "/bin/sh", "-c", "echo \"$IBUP_T\"; exec sleep 30",
				     NULL };
	const char *const env[] = { "IBUP_T=detached", NULL };
	const struct timespec tick = { .tv_nsec = 50 * 1000 * 1000 };
	long pid = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s/log", dir);
	assert_int_equal(ibup_spawn_detached(argv, env, log, &pid), 0);
	assert_true(pid > 0 && pid != getpid());
	for (int i = 0; i < 100 && !strstr(buf, "detached\n"); i++) {
		nanosleep(&tick, NULL);
		f = fopen(log, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			buf[n] = '\0';
			fclose(f);
		}
	}
	assert_string_equal(buf, "detached\n");
	assert_int_equal(getsid((pid_t)pid), (pid_t)pid);
	assert_true(getsid((pid_t)pid) != getsid(0));
	assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
	unlink(log);
	rmdir(dir);
	/* Relative programs are refused: nothing is looked up in PATH. */
	assert_int_equal(ibup_spawn_detached((const char *const[]){ "sh", NULL }, NULL,
					     NULL, &pid),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_and_output),
		cmocka_unit_test(test_no_shell_expansion),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_lingering_grandchild),
		cmocka_unit_test(test_closed_pipes_still_bounded),
		cmocka_unit_test(test_output_bound),
		cmocka_unit_test(test_detached),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

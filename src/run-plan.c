// SPDX-License-Identifier: MIT
/* The one way a command that changes the host shows or carries out its plan. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ibup/download.h"
#include "ibup/plan.h"
#include "banned.h"

/* What a run shows while it goes: the steps done and, on a terminal, a download's bytes. */
struct run_view {
	const struct ibup_cli *cli;
	bool bar; /* stderr is a terminal: draw a progress line for downloads */
	bool drawn; /* a progress line is on the screen */
	struct timespec last;
};

static void clear_bar(struct run_view *v)
{
	if (v->drawn)
		fputs("\r\033[K", stderr);
	v->drawn = false;
}

static void on_step(void *data, const struct ibup_plan *plan, unsigned i, int result,
		    const char *detail)
{
	struct run_view *v = data;

	if (result != 1)
		clear_bar(v);
	if (result == 0 && !v->cli->json)
		render_text_step_done(stdout, plan, i, detail);
	fflush(stdout);
}

/* At most five redraws a second, and the last one. */
static void on_bytes(void *data, const char *path, uint64_t now, uint64_t total)
{
	struct run_view *v = data;
	struct timespec t;
	long long ms;

	if (!v->bar)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	ms = (long long)(t.tv_sec - v->last.tv_sec) * 1000 +
	     (t.tv_nsec - v->last.tv_nsec) / 1000000;
	if (v->drawn && ms < 200 && !(total && now == total))
		return;
	v->last = t;
	v->drawn = true;
	if (total)
		fprintf(stderr, "\r\033[K  /%s  %3u%%  %.1f of %.1f MiB", path,
			(unsigned)(now * 100 / total), (double)now / 1048576.0,
			(double)total / 1048576.0);
	else
		fprintf(stderr, "\r\033[K  /%s  %.1f MiB", path, (double)now / 1048576.0);
	fflush(stderr);
}

int cli_run_plan(struct ibup_cli *cli, struct ibup_plan *plan, bool dry_run, bool resume)
{
	struct run_view view = { .cli = cli, .bar = !cli->json && isatty(STDERR_FILENO) };
	struct ibup_download_opts download = {
		.cache_dir = cli->cache_dir,
		.progress = on_bytes,
		.progress_data = &view,
	};
	struct ibup_exec_opts opts = {
		.resume = resume,
		.progress = on_step,
		.progress_data = &view,
		.download = &download,
	};
	struct ibup_exec_result res;
	int r, code = IBUP_EXIT_OK;

	if (dry_run) {
		if (cli->json)
			code = cli_print_json(render_json_plan(plan, NULL, true));
		else
			render_text_plan(stdout, plan), code = IBUP_EXIT_OK;
		ibup_plan_free(plan);
		return code;
	}
	if (!cli->json)
		for (unsigned i = 0; i < plan->n_notes; i++)
			printf("%s\n", plan->notes[i].text);
	r = ibup_plan_execute(cli->ctx, plan, &opts, &res);
	if (r == -ENOMEM && !res.status) {
		ibup_plan_free(plan);
		return cli_error(r, "cannot carry out the plan");
	}
	if (cli->json)
		code = cli_print_json(render_json_plan(plan, &res, false));
	else if (r == 0 && res.resumed)
		printf("Finished the run that stopped after %u steps.\n",
		       res.resumed_from);
	else if (r == 0 && !plan->n)
		printf("Nothing to do: 'ibup %s' changes nothing.\n", plan->command);
	if (r < 0) {
		fprintf(stderr, "ibup: %s\n", *res.error ? res.error : strerror(-r));
		if (r != -EEXIST && r != -ESTALE && r != -EBUSY && res.done + res.failed)
			fprintf(stderr,
				"ibup: %u of %u steps done; the rest is journaled: fix the cause "
				"and run 'ibup %s --resume'\n",
				res.done, plan->n, plan->command);
		code = IBUP_EXIT_FAILURE;
	} else if (code == IBUP_EXIT_OK && res.failed) {
		code = IBUP_EXIT_FINDINGS;
	}
	ibup_exec_result_release(&res);
	ibup_plan_free(plan);
	return code;
}

void cli_exe_path(const struct ibup_cli *cli, char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);

	if (n <= 0 || !ibup_ctx_is_live(cli->ctx))
		snprintf(buf, size, "/usr/sbin/ibup");
	else
		buf[n] = '\0';
}

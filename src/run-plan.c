// SPDX-License-Identifier: MIT
/* The one way a command that changes the host shows or carries out its plan. */
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ibup/plan.h"
#include "banned.h"

static void on_step(void *data, const struct ibup_plan *plan, unsigned i, int result,
		    const char *detail)
{
	const struct ibup_cli *cli = data;

	if (result == 0 && !cli->json)
		render_text_step_done(stdout, plan, i, detail);
	fflush(stdout);
}

int cli_run_plan(struct ibup_cli *cli, struct ibup_plan *plan, bool dry_run, bool resume)
{
	struct ibup_exec_opts opts = {
		.resume = resume,
		.progress = on_step,
		.progress_data = cli,
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

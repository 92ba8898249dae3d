// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the sweep's run file (what ibup sweep --analyze reads from anywhere)
 * and pair lists. A file is refused with a reason or read whole; what is read writes back
 * to the same bytes, and analysing it and building every report never fails but for memory.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ibup/sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pairs(const char *text)
{
	static const char *const labels[] = { "a", "b", "c", "d" };
	struct ibup_sweep_pair *p = NULL;
	struct ibup_sweep_schedule s;
	struct ibup_diag d = { 0 };
	size_t n = 0;

	if (ibup_sweep_pairs_parse(text, labels, 4, &p, &n, &d) < 0) {
		if (!d.msg[0])
			abort();
		return;
	}
	if (!n || ibup_sweep_schedule_from_pairs(4, p, n, &s) < 0 || s.n_pairs != n)
		abort();
	ibup_sweep_schedule_release(&s);
	free(p);
}

static void reports(const struct ibup_sweep_run *run)
{
	struct ibup_sweep_analysis a;
	struct ibup_sweep_pair *sus = NULL;
	char *t = NULL;
	size_t n = 0;
	int r = ibup_sweep_analyze(NULL, run, NULL, &a);

	if (r == -EINVAL || r == -ENODATA)
		return;
	if (r < 0)
		abort();
	if (ibup_sweep_report_text(run, &a, &t) < 0)
		abort();
	free(t);
	if (ibup_sweep_report_csv(run, &a, IBUP_SWEEP_CSV_BW, &t) < 0)
		abort();
	free(t);
	if (ibup_sweep_report_svg(run, &a, &t) < 0)
		abort();
	free(t);
	if (ibup_sweep_report_drain(run, &a, &t) < 0)
		abort();
	free(t);
	if (ibup_sweep_run_to_json(run, &a, &t) < 0)
		abort();
	free(t);
	ibup_sweep_analysis_release(&a);
	if (ibup_sweep_suspects(NULL, run, NULL, &sus, &n) < 0)
		abort();
	free(sus);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ibup_sweep_run run, back;
	struct ibup_diag d = { 0 };
	char *text = malloc(size + 1), *one = NULL, *two = NULL;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	pairs(text);
	free(text);
	if (ibup_sweep_run_from_json((const char *)data, size, &run, &d) < 0) {
		if (!d.msg[0])
			abort();
		return 0;
	}
	if (ibup_sweep_run_to_json(&run, NULL, &one) < 0 ||
	    ibup_sweep_run_from_json(one, strlen(one), &back, &d) < 0 ||
	    ibup_sweep_run_to_json(&back, NULL, &two) < 0 || strcmp(one, two))
		abort();
	reports(&run);
	free(one);
	free(two);
	ibup_sweep_run_release(&back);
	ibup_sweep_run_release(&run);
	return 0;
}

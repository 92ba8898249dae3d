// SPDX-License-Identifier: MIT
/*
 * The sweep's analysis and reports: a bad node, a bad pair of healthy nodes, noise that
 * must not condemn, halving re-tests, thresholds from a VM size, and the fabric model.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ibup/plan.h"
#include "ibup/sweep.h"
#include "tmp-root.h"

/* What a pair measures in a test fabric: bw(src, dst) and the latency. */
typedef double bw_fn(unsigned src, unsigned dst, unsigned attempt, void *arg);

static uint64_t rng = 7;

/* ±3 % noise around 100 Gb/s. */
static double noisy(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return 100 * (0.97 + 0.06 * (double)(rng >> 11) * 0x1.0p-53);
}

static void add_nodes(struct ibup_sweep_run *run, unsigned n)
{
	ibup_sweep_run_init(run);
	for (unsigned i = 0; i < n; i++) {
		char label[16], host[16], dev[] = "mlx5_ib0";

		snprintf(label, sizeof(label), "cn%02u", i);
		snprintf(host, sizeof(host), "host%02u", i / 2);
		dev[7] = (char)('0' + i % 2);
		assert_int_equal(ibup_sweep_run_add_node(run,
							 &(struct ibup_sweep_node){
								 .label = label,
								 .hostname = host,
								 .device = dev,
								 .port = 1,
								 .numa_node = -1,
								 .rank = i,
							 }),
				 0);
	}
}

static void measure(struct ibup_sweep_run *run, const struct ibup_sweep_schedule *s,
		    unsigned attempt, bw_fn *bw, void *arg)
{
	for (unsigned r = 0; r < s->n_rounds; r++) {
		size_t k;
		const struct ibup_sweep_pair *p = ibup_sweep_schedule_round(s, r, &k);

		for (size_t i = 0; i < k; i++) {
			struct ibup_sweep_meas m = {
				.a = p[i].a,
				.b = p[i].b,
				.round = r,
				.attempt = attempt,
				.bw_ab_gbps = bw(p[i].a, p[i].b, attempt, arg),
				.bw_ba_gbps = bw(p[i].b, p[i].a, attempt, arg),
				.lat_us = 2.0,
			};

			assert_int_equal(ibup_sweep_run_add_meas(run, &m), 0);
		}
	}
}

static void sweep(struct ibup_sweep_run *run, unsigned n, bw_fn *bw, void *arg)
{
	struct ibup_sweep_schedule s;

	add_nodes(run, n);
	assert_int_equal(ibup_sweep_schedule_full(n, &s), 0);
	measure(run, &s, 0, bw, arg);
	ibup_sweep_schedule_release(&s);
}

/* Re-test suspects until none are left, as ibup-sweep does; returns the attempts made. */
static unsigned retest(struct ibup_sweep_run *run, bw_fn *bw, void *arg)
{
	unsigned attempt = 0;

	for (;;) {
		struct ibup_sweep_pair *sus = NULL;
		struct ibup_sweep_schedule s;
		size_t n;

		assert_int_equal(ibup_sweep_suspects(NULL, run, NULL, &sus, &n), 0);
		if (!n)
			return attempt;
		attempt++;
		assert_int_equal(ibup_sweep_schedule_from_pairs(run->n_nodes, sus, n, &s),
				 0);
		measure(run, &s, attempt, bw, arg);
		ibup_sweep_schedule_release(&s);
		free(sus);
	}
}

static double slow_node(unsigned src, unsigned dst, unsigned attempt, void *arg)
{
	unsigned bad = *(unsigned *)arg;

	return noisy() * (src == bad || dst == bad ? 0.4 : 1);
}

static void test_bad_node(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;
	unsigned bad = 3;

	sweep(&run, 8, slow_node, &bad);
	assert_int_equal(retest(&run, slow_node, &bad),
			 0); /* a bad node's pairs are not re-tested */
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), 0);
	assert_int_equal(a.floor_source, IBUP_SWEEP_FLOOR_RELATIVE);
	assert_int_equal(a.n_bad_nodes, 1);
	assert_int_equal(a.bad_nodes[0], 3);
	assert_int_equal(a.nodes[3].poor_partners, 7);
	assert_int_equal(a.nodes[3].partners, 7);
	assert_int_equal(a.n_bad_links, 0);
	for (unsigned v = 0; v < 8; v++)
		if (v != 3)
			assert_int_equal(a.nodes[v].poor_partners, 1);
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
}

static double slow_pair(unsigned src, unsigned dst, unsigned attempt, void *arg)
{
	const unsigned *p = arg;

	return noisy() * (src == p[0] && dst == p[1] ? 0.3 : 1);
}

static void test_bad_link(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;
	unsigned pair[2] = { 5, 2 }; /* only 5→2 is slow */
	const struct ibup_sweep_pair_result *p;

	sweep(&run, 8, slow_pair, pair);
	/* the poor pair is re-tested in halving rounds and stays poor */
	assert_int_equal(retest(&run, slow_pair, pair), 3);
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), 0);
	assert_int_equal(a.n_bad_nodes, 0);
	assert_int_equal(a.n_bad_links, 1);
	assert_int_equal(a.retests, 3);
	p = &a.pairs[a.bad_links[0]];
	assert_int_equal(p->a, 2);
	assert_int_equal(p->b, 5);
	assert_int_equal(p->poor, IBUP_SWEEP_POOR_BW_BA);
	assert_int_equal(p->attempts, 4);
	assert_int_equal(p->poor_attempts, 4);
	assert_true(p->bad_link);
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
}

/* Transient dips in the sweep (attempt 0) that pass when re-tested. */
static double dips(unsigned src, unsigned dst, unsigned attempt, void *arg)
{
	static const unsigned bad[][2] = { { 1, 9 }, { 4, 12 }, { 7, 3 } };

	for (unsigned i = 0; i < 3 && attempt == 0; i++)
		if ((src == bad[i][0] && dst == bad[i][1]) ||
		    (src == bad[i][1] && dst == bad[i][0]))
			return noisy() * 0.2;
	return noisy();
}

static void test_noise_does_not_condemn(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;
	struct ibup_sweep_pair *sus = NULL;
	size_t n;

	sweep(&run, 16, dips, NULL);
	/* before re-tests the three dips are suspects, the worst first, and no node is bad */
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), 0);
	assert_int_equal(a.n_bad_nodes, 0);
	assert_int_equal(a.n_bad_links, 3);
	ibup_sweep_analysis_release(&a);
	assert_int_equal(ibup_sweep_suspects(NULL, &run, NULL, &sus, &n), 0);
	assert_int_equal(n, 3);
	free(sus);
	/* one re-test clears them all; the ±3 % noise never was poor */
	assert_int_equal(retest(&run, dips, NULL), 1);
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), 0);
	assert_int_equal(a.n_bad_nodes, 0);
	assert_int_equal(a.n_bad_links, 0);
	for (size_t i = 0; i < a.n_pairs; i++)
		assert_int_equal(a.pairs[i].poor, 0);
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
}

/* Persistently poor links: each re-test round holds at most half the previous one. */
static double many_links(unsigned src, unsigned dst, unsigned attempt, void *arg)
{
	/* ten poor pairs among 40 ranks, each rank in at most one */
	if (src < 20 && dst == src + 20)
		return src % 2 ? noisy() * 0.3 : noisy();
	return noisy();
}

static void test_retest_halving(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_pair *sus = NULL;
	struct ibup_sweep_thresholds t;
	struct ibup_sweep_schedule s;
	size_t n, want[] = { 10, 5, 3, 0 };

	ibup_sweep_thresholds_init(&t);
	add_nodes(&run, 40);
	/* attempt 0: only the 20 pairs (i, i + 20), as a custom list would */
	assert_int_equal(ibup_sweep_schedule_quick(40, &s), 0);
	measure(&run, &s, 0, many_links, NULL);
	ibup_sweep_schedule_release(&s);
	for (unsigned attempt = 1; attempt <= 4; attempt++) {
		assert_int_equal(ibup_sweep_suspects(NULL, &run, &t, &sus, &n), 0);
		assert_int_equal(n, want[attempt - 1]);
		if (!n)
			break;
		for (size_t i = 0; i < n; i++)
			assert_int_equal(sus[i].a % 2, 1);
		assert_int_equal(ibup_sweep_schedule_from_pairs(40, sus, n, &s), 0);
		assert_int_equal(s.n_rounds, 1);
		measure(&run, &s, attempt, many_links, NULL);
		ibup_sweep_schedule_release(&s);
		free(sus);
	}
	ibup_sweep_run_release(&run);
}

/* Two bad nodes of four: the two healthy ones met both, and are not blamed. */
static double two_bad(unsigned src, unsigned dst, unsigned attempt, void *arg)
{
	return noisy() * (src == 0 || dst == 0 || src == 2 || dst == 2 ? 0.3 : 1);
}

static void test_two_bad_nodes(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;

	/* the relative floor needs a healthy median: 8 ranks, 2 bad */
	sweep(&run, 8, two_bad, NULL);
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), 0);
	assert_int_equal(a.n_bad_nodes, 2);
	assert_int_equal(a.bad_nodes[0], 0);
	assert_int_equal(a.bad_nodes[1], 2);
	assert_int_equal(a.n_bad_links, 0);
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
}

/* One node at 175 Gb/s among 195: fine by the fleet, poor by an HBv3's 190. */
static double hbv3(unsigned src, unsigned dst, unsigned attempt, void *arg)
{
	return src == 1 || dst == 1 ? 175 : 195;
}

static void test_thresholds_from_size(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;
	struct ibup_sweep_thresholds t;
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;

	tmp_root_make(root, "sweep", &ctx);
	sweep(&run, 6, hbv3, NULL);
	assert_int_equal(ibup_sweep_run_set_str(&run.vm_size, "Standard_HB120rs_v3"), 0);
	assert_int_equal(ibup_sweep_analyze(ctx, &run, NULL, &a), 0);
	assert_int_equal(a.floor_source, IBUP_SWEEP_FLOOR_VM_SIZE);
	assert_true(a.bw_floor_gbps == 190);
	assert_string_equal(a.vm_size_family, "HBv3");
	assert_int_equal(a.n_bad_nodes, 1);
	assert_int_equal(a.bad_nodes[0], 1);
	ibup_sweep_analysis_release(&a);

	ibup_sweep_thresholds_init(&t);
	t.ignore_size = true;
	assert_int_equal(ibup_sweep_analyze(ctx, &run, &t, &a), 0);
	assert_int_equal(a.floor_source, IBUP_SWEEP_FLOOR_RELATIVE);
	assert_true(fabs(a.bw_floor_gbps - 0.8 * 195) < 1e-9);
	assert_int_equal(a.n_bad_nodes, 0);
	ibup_sweep_analysis_release(&a);

	t.bw_min_gbps = 180;
	assert_int_equal(ibup_sweep_analyze(ctx, &run, &t, &a), 0);
	assert_int_equal(a.floor_source, IBUP_SWEEP_FLOOR_OPTION);
	assert_int_equal(a.n_bad_nodes, 1);
	ibup_sweep_analysis_release(&a);

	/* a size without a threshold (or unknown) falls back to the fleet */
	assert_int_equal(ibup_sweep_run_set_str(&run.vm_size, "Standard_D2s_v5"), 0);
	assert_int_equal(ibup_sweep_analyze(ctx, &run, NULL, &a), 0);
	assert_int_equal(a.floor_source, IBUP_SWEEP_FLOOR_RELATIVE);
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
	tmp_root_remove(root, ctx);
}

static void test_latency_and_failure(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;

	sweep(&run, 6, dips, NULL);
	for (size_t i = 0; i < run.n_meas; i++) {
		struct ibup_sweep_meas *m = &run.meas[i];

		m->bw_ab_gbps = m->bw_ba_gbps = 100;
		if (m->a == 0 && m->b == 4)
			m->lat_us = 9; /* 4.5 × the median */
		if (m->a == 1 && m->b == 2) {
			m->error = strdup("the peer did not answer");
			m->bw_ab_gbps = m->bw_ba_gbps = m->lat_us = NAN;
		}
	}
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), 0);
	assert_int_equal(a.n_bad_nodes, 0);
	assert_int_equal(a.n_bad_links, 2);
	/* the failed pair first */
	assert_int_equal(a.pairs[a.bad_links[0]].poor, IBUP_SWEEP_POOR_FAILED);
	assert_string_equal(a.pairs[a.bad_links[0]].error, "the peer did not answer");
	assert_int_equal(a.pairs[a.bad_links[1]].poor, IBUP_SWEEP_POOR_LAT);
	assert_true(fabs(a.lat_ceiling_us - 4) < 1e-9);
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
}

static void test_empty(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;

	ibup_sweep_run_init(&run);
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), -EINVAL);
	add_nodes(&run, 2);
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), -ENODATA);
	ibup_sweep_run_release(&run);
}

static void test_reports(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;
	unsigned bad = 2;
	char *text;

	sweep(&run, 4 * 2, slow_node, &bad);
	assert_int_equal(ibup_sweep_run_set_str(&run.nodes[2].physical_host, "GGBB9090"),
			 0);
	assert_int_equal(ibup_sweep_run_set_str(&run.nodes[3].hostname, "it's"), 0);
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), 0);

	assert_int_equal(ibup_sweep_report_text(&run, &a, &text), 0);
	assert_non_null(strstr(text, "Bad nodes (1)"));
	assert_non_null(
		strstr(text, "cn02 (host host01, physical host GGBB9090, mlx5_ib0:1)"));
	assert_non_null(strstr(text, "poor with 7 of 7 partners"));
	assert_non_null(strstr(text, "Verdict: 1 bad node, 0 bad links"));
	free(text);

	assert_int_equal(ibup_sweep_report_csv(&run, &a, IBUP_SWEEP_CSV_BW, &text), 0);
	assert_int_equal(strncmp(text, "from\\to,cn00,cn01,", 18), 0);
	assert_non_null(strstr(text, "\r\ncn00,,"));
	free(text);
	assert_int_equal(ibup_sweep_report_csv(&run, &a, IBUP_SWEEP_CSV_LAT, &text), 0);
	assert_non_null(strstr(text, "\r\ncn01,2.00,,2.00,"));
	free(text);

	assert_int_equal(ibup_sweep_report_svg(&run, &a, &text), 0);
	assert_int_equal(strncmp(text, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39),
			 0);
	/* the bad node comes first, in bold */
	assert_non_null(strstr(text, "font-weight=\"bold\">cn02</text>"));
	assert_true(strstr(text, ">cn02<") < strstr(text, ">cn00<"));
	assert_non_null(strstr(text, "</svg>\n"));
	free(text);

	assert_int_equal(ibup_sweep_report_drain(&run, &a, &text), 0);
	assert_string_equal(text,
			    "scontrol update nodename='host01' state=drain reason='ibup "
			    "sweep: mlx5_ib0 poor with 7 of 7 partners; physical host "
			    "GGBB9090'\n");
	free(text);
	ibup_sweep_analysis_release(&a);

	/* a host name with a quote is quoted for the shell */
	bad = 3;
	ibup_sweep_run_release(&run);
	sweep(&run, 8, slow_node, &bad);
	assert_int_equal(ibup_sweep_run_set_str(&run.nodes[3].hostname, "it's"), 0);
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), 0);
	assert_int_equal(ibup_sweep_report_drain(&run, &a, &text), 0);
	assert_non_null(strstr(text, "nodename='it'\\''s' state=drain"));
	free(text);
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
}

/* The fabric model, small: its injected faults are named, and nothing else. */
static void test_model(void **state)
{
	struct ibup_sweep_fabric f;
	struct ibup_sweep_sim *s;
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;
	unsigned truth = 0;
	char *text, more[80];

	ibup_sweep_fabric_init(&f, 120);
	f.nodes_per_leaf = 10;
	f.spines = 10;
	f.bad_hcas = 1;
	f.bad_cables = 1;
	f.bad_spine_links = 1;
	f.seed = 3;
	assert_int_equal(ibup_sweep_sim_new(&f, &s), 0);
	assert_int_equal(ibup_sweep_sim_sweep(s, NULL, &run), 0);
	assert_int_equal(ibup_sweep_analyze(NULL, &run, NULL, &a), 0);
	for (unsigned v = 0; v < 120; v++) {
		truth += ibup_sweep_sim_node_is_bad(s, v);
		assert_int_equal(a.nodes[v].bad, ibup_sweep_sim_node_is_bad(s, v));
	}
	assert_int_equal(truth, 2);
	/* a leaf-spine link slows the flows of one leaf hashed to it: many links */
	assert_true(a.n_bad_links > 20);
	assert_int_equal(ibup_sweep_report_text(&run, &a, &text), 0);
	snprintf(more, sizeof(more), "  ... and %zu more (all of them in --json",
		 a.n_bad_links - 20);
	assert_non_null(strstr(text, more));
	assert_non_null(strstr(text, "  Nodes in the most bad links: n0"));
	free(text);
	/* 120 nodes: the two bad ones' rows and columns outlined, at the top and left */
	assert_int_equal(ibup_sweep_report_svg(&run, &a, &text), 0);
	{
		unsigned outlines = 0;

		for (const char *q = text; (q = strstr(q, "stroke=\"#d02020\"")); q++)
			outlines++;
		assert_int_equal(outlines, 4);
	}
	free(text);
	for (size_t i = 0; i < a.n_bad_links; i++) {
		const struct ibup_sweep_pair_result *p = &a.pairs[a.bad_links[i]];

		assert_true(ibup_sweep_sim_pair_is_bad(s, p->a, p->b));
	}
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
	s = ibup_sweep_sim_free(s);
	assert_null(s);

	/* the same seed builds the same fabric and the same sweep */
	{
		struct ibup_sweep_run r1, r2;
		char *j1, *j2;

		for (unsigned k = 0; k < 2; k++) {
			assert_int_equal(ibup_sweep_sim_new(&f, &s), 0);
			assert_int_equal(ibup_sweep_sim_sweep(s, NULL, k ? &r2 : &r1), 0);
			s = ibup_sweep_sim_free(s);
		}
		assert_int_equal(ibup_sweep_run_to_json(&r1, NULL, &j1), 0);
		assert_int_equal(ibup_sweep_run_to_json(&r2, NULL, &j2), 0);
		assert_string_equal(j1, j2);
		free(j1);
		free(j2);
		ibup_sweep_run_release(&r1);
		ibup_sweep_run_release(&r2);
	}

	f.bad_hcas = 200;
	assert_int_equal(ibup_sweep_sim_new(&f, &s), -EINVAL);
	/* 16 HDR pairs of 32 MiB, 1024 ping-pongs at 2 µs and 5 ms a round, 999 rounds */
	assert_true(
		fabs(ibup_sweep_model_time_s(999, 16ull << 25, 200, 1, 1024, 2, 0.005) -
		     999 * (0.0214748 + 0.004096 + 0.005)) < 0.01);
}

/* The drain plan: one scontrol step per host of a bad node, its exact argv; none when most
 * pairs are poor (a floor that does not fit would drain every node). */
static void test_drain_plan(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;
	struct ibup_sweep_thresholds t;
	struct ibup_plan *plan = NULL;
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
	unsigned bad = 4;

	tmp_root_make(root, "sweep-drain", &ctx);
	sweep(&run, 8, slow_node, &bad);
	assert_int_equal(ibup_sweep_analyze(ctx, &run, NULL, &a), 0);
	assert_int_equal(ibup_sweep_drain_plan(ctx, &run, &a, &plan), 0);
	assert_int_equal(plan->n, 1);
	assert_int_equal(plan->steps[0].kind, IBUP_STEP_RUN);
	assert_string_equal(plan->steps[0].argv[0], "scontrol");
	assert_string_equal(plan->steps[0].argv[1], "update");
	assert_string_equal(plan->steps[0].argv[2], "nodename=host02");
	assert_string_equal(plan->steps[0].argv[3], "state=drain");
	assert_string_equal(plan->steps[0].argv[4],
			    "reason=ibup sweep: mlx5_ib0 poor with 7 of 7 partners");
	assert_null(plan->steps[0].argv[5]);
	plan = ibup_plan_free(plan);
	ibup_sweep_analysis_release(&a);

	ibup_sweep_thresholds_init(&t);
	t.bw_min_gbps = 150; /* above every pair */
	assert_int_equal(ibup_sweep_analyze(ctx, &run, &t, &a), 0);
	assert_true(a.fleet_poor);
	assert_int_equal(ibup_sweep_drain_plan(ctx, &run, &a, &plan), 0);
	assert_int_equal(plan->n, 0);
	assert_int_equal(plan->n_notes, 1);
	plan = ibup_plan_free(plan);
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
	tmp_root_remove(root, ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_node),
		cmocka_unit_test(test_bad_link),
		cmocka_unit_test(test_noise_does_not_condemn),
		cmocka_unit_test(test_retest_halving),
		cmocka_unit_test(test_two_bad_nodes),
		cmocka_unit_test(test_thresholds_from_size),
		cmocka_unit_test(test_latency_and_failure),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_reports),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_drain_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* The sweep's run model and its file: building, the JSON round trip, malformed files. */
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

#include "ibup/sweep.h"

static void make_run(struct ibup_sweep_run *run)
{
	/* arrays, not literals: the model's strings are char * (it owns its copies) */
	static char names[][8] = { "cn01", "cn02", "cn03" }, phys[] = "GGBB90904476",
		    dev[] = "mlx5_ib0", err[] = "connection timed out";

	ibup_sweep_run_init(run);
	assert_int_equal(ibup_sweep_run_set_str(&run->vm_size, "Standard_HB120rs_v3"), 0);
	assert_int_equal(ibup_sweep_run_set_str(&run->started, "2026-11-29T16:00:00Z"),
			 0);
	assert_int_equal(ibup_sweep_run_set_str(&run->params.test, "write_bw"), 0);
	run->params.size = 1u << 20;
	run->params.iterations = 200;
	run->params.lat_iterations = 1000;
	run->elapsed_s = 12.5;
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(ibup_sweep_run_add_node(
					 run,
					 &(struct ibup_sweep_node){
						 .label = names[i],
						 .hostname = names[i],
						 .physical_host = i == 1 ? phys : NULL,
						 .device = dev,
						 .port = 1,
						 .numa_node = i == 2 ? -1 : 0,
						 .rank = i,
					 }),
				 0);
	/* given b, a: stored a < b with the directions swapped */
	assert_int_equal(ibup_sweep_run_add_meas(run,
						 &(struct ibup_sweep_meas){
							 .a = 1,
							 .b = 0,
							 .bw_ab_gbps = 190.5,
							 .bw_ba_gbps = 180.25,
							 .lat_us = 1.75,
						 }),
			 0);
	assert_int_equal(ibup_sweep_run_add_meas(run,
						 &(struct ibup_sweep_meas){
							 .a = 0,
							 .b = 2,
							 .round = 1,
							 .bw_ab_gbps = NAN,
							 .bw_ba_gbps = NAN,
							 .lat_us = NAN,
							 .error = err,
						 }),
			 0);
	assert_int_equal(ibup_sweep_run_add_meas(run,
						 &(struct ibup_sweep_meas){
							 .a = 1,
							 .b = 2,
							 .round = 2,
							 .attempt = 1,
							 .bw_ab_gbps = 191,
							 .bw_ba_gbps = 189,
							 .lat_us = 1.8,
						 }),
			 0);
}

static void test_build(void **state)
{
	struct ibup_sweep_run run;
	char cn01[] = "cn01", cn04[] = "cn04";

	make_run(&run);
	assert_int_equal(run.meas[0].a, 0);
	assert_int_equal(run.meas[0].b, 1);
	assert_true(run.meas[0].bw_ab_gbps == 180.25);
	assert_true(run.meas[0].bw_ba_gbps == 190.5);
	assert_string_equal(run.meas[1].error, "connection timed out");
	/* a label used twice, ranks out of order, pairs of a rank with itself or a stranger */
	assert_int_equal(
		ibup_sweep_run_add_node(
			&run, &(struct ibup_sweep_node){ .label = cn01, .rank = 3 }),
		-EINVAL);
	assert_int_equal(
		ibup_sweep_run_add_node(
			&run, &(struct ibup_sweep_node){ .label = cn04, .rank = 7 }),
		-EINVAL);
	assert_int_equal(
		ibup_sweep_run_add_node(&run, &(struct ibup_sweep_node){ .rank = 3 }),
		-EINVAL);
	assert_int_equal(ibup_sweep_run_add_meas(
				 &run, &(struct ibup_sweep_meas){ .a = 2, .b = 2 }),
			 -EINVAL);
	assert_int_equal(ibup_sweep_run_add_meas(
				 &run, &(struct ibup_sweep_meas){ .a = 0, .b = 3 }),
			 -EINVAL);
	ibup_sweep_run_release(&run);
	ibup_sweep_run_release(&run); /* released twice: harmless */
}

static void test_round_trip(void **state)
{
	struct ibup_sweep_run run, back;
	struct ibup_diag d = { 0 };
	char *text = NULL, *again = NULL;

	make_run(&run);
	assert_int_equal(ibup_sweep_run_to_json(&run, NULL, &text), 0);
	assert_non_null(strstr(text, "\"schema_version\": 1"));
	assert_non_null(strstr(text, "\"physical_host\": \"GGBB90904476\""));
	assert_non_null(strstr(text, "\"lat_us\": null"));
	assert_non_null(strstr(text, "\"analysis\": null"));
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_int_equal(ibup_sweep_run_from_json(text, strlen(text), &back, &d), 0);
	assert_int_equal(back.n_nodes, 3);
	assert_int_equal(back.n_meas, 3);
	assert_null(back.nodes[0].physical_host);
	assert_int_equal(back.nodes[2].numa_node, -1);
	assert_true(isnan(back.meas[1].lat_us));
	assert_true(isnan(back.params.duration_s));
	assert_int_equal(back.meas[2].attempt, 1);
	assert_int_equal(ibup_sweep_run_to_json(&back, NULL, &again), 0);
	assert_string_equal(text, again);
	free(text);
	free(again);
	ibup_sweep_run_release(&back);
	ibup_sweep_run_release(&run);
}

/* One malformed file: -EINVAL, a message naming the fault, nothing returned. */
static void refuse(const char *text, const char *msg_part)
{
	struct ibup_sweep_run run;
	struct ibup_diag d = { 0 };

	memset(&run, 0x5a, sizeof(run));
	assert_int_equal(ibup_sweep_run_from_json(text, strlen(text), &run, &d), -EINVAL);
	if (!strstr(d.msg, msg_part))
		fail_msg("'%s' does not say '%s'", d.msg, msg_part);
	assert_int_equal(run.n_nodes, 0x5a5a5a5a); /* untouched */
}

#define HEAD                                                                             \
	"{\"schema_version\":1,\"vm_size\":null,\"started\":null,\"elapsed_s\":null,"    \
	"\"round_sync_s\":null,\"params\":{\"test\":\"write_bw\",\"size_bytes\":65536,"  \
	"\"duration_s\":null,\"iterations\":100,\"lat_iterations\":0,\"per_hca\":false," \
	"\"quick\":false,\"launcher\":null},"
#define NODE(r, l)                                                                       \
	"{\"rank\":" #r ",\"label\":\"" l "\",\"hostname\":null,\"physical_host\":null," \
	"\"device\":null,\"port\":null,\"numa_node\":null}"
#define TWO "\"nodes\":[" NODE(0, "x") "," NODE(1, "y") "],"
#define MEAS(a, b, bw)                                                            \
	"{\"a\":" #a ",\"b\":" #b ",\"round\":0,\"attempt\":0,\"bw_ab_gbps\":" bw \
	",\"bw_ba_gbps\":1,\"lat_us\":null,\"error\":null}"

static void test_malformed(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_diag d = { 0 };
	const char *good = HEAD TWO "\"measurements\":[" MEAS(0, 1, "2.5") "]}";

	assert_int_equal(ibup_sweep_run_from_json(good, strlen(good), &run, &d), 0);
	assert_int_equal(run.n_meas, 1);
	ibup_sweep_run_release(&run);

	refuse("", "");
	refuse("{\"schema_version\":1,", "");
	refuse("[1,2]", "must be a JSON object");
	refuse("{\"schema_version\":2}", "schema_version");
	refuse("{\"schema_version\":\"1\"}", "schema_version");
	refuse(HEAD "\"measurements\":[]}", "missing key 'nodes'");
	refuse(HEAD "\"nodes\":{}, \"measurements\":[]}", "must be arrays");
	refuse(HEAD "\"nodes\":[" NODE(1, "x") "],\"measurements\":[]}", "expected 0");
	refuse(HEAD "\"nodes\":[" NODE(0, "x") "," NODE(1, "x") "],\"measurements\":[]}",
	       "used twice");
	refuse(HEAD "\"nodes\":[" NODE(0, "") "],\"measurements\":[]}", "non-empty");
	refuse(HEAD TWO "\"measurements\":[" MEAS(0, 2, "1") "]}", "rank out of range");
	refuse(HEAD TWO "\"measurements\":[" MEAS(1, 1, "1") "]}", "itself");
	refuse(HEAD TWO "\"measurements\":[" MEAS(0, 1, "-3") "]}", "out of range");
	refuse(HEAD TWO "\"measurements\":[" MEAS(0, 1, "\"fast\"") "]}",
	       "'bw_ab_gbps' must be a number");
	refuse(HEAD TWO "\"measurements\":[" MEAS(-1, 1, "1") "]}", "'a' out of range");
	refuse(HEAD TWO "\"measurements\":[7]}", "must be an object");
	refuse(HEAD TWO "\"measurements\":[{\"a\":0}]}", "missing key 'b'");
	refuse("{\"schema_version\":1,\"schema_version\":1}", "duplicate");
}

static void test_too_big(void **state)
{
	struct ibup_sweep_run run;
	struct ibup_diag d = { 0 };

	assert_int_equal(
		ibup_sweep_run_from_json("{}", (size_t)IBUP_SWEEP_MAX_JSON + 1, &run, &d),
		-EFBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

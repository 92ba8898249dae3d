// SPDX-License-Identifier: MIT
/*
 * `check --bench`: the loopback bandwidth check over the ND H100 v5 fixture (eight NDR
 * InfiniBand HCAs and one Accelerated Networking NIC), with the measurement supplied by
 * the test: this machine has no InfiniBand HCA to measure. What is tested is which ports
 * are measured and how each figure is judged against the size's threshold.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ibup/ibup.h"

struct measured {
	unsigned calls;
	char devices[16][32];
};

/* mlx5_3 runs at half speed; mlx5_5 cannot run at all. */
static int fake_bench(void *data, const char *device, unsigned port, double *ret_gbps,
		      char *err, size_t err_size)
{
	struct measured *m = data;

	assert_int_equal(port, 1);
	if (m->calls < 16)
		snprintf(m->devices[m->calls], sizeof(m->devices[0]), "%s", device);
	m->calls++;
	if (strcmp(device, "mlx5_5") == 0) {
		snprintf(err, err_size, "cannot open mlx5_5 with libibverbs");
		return -ENODEV;
	}
	*ret_gbps = strcmp(device, "mlx5_3") == 0 ? 195.5 : 391.2;
	return 0;
}

/* Check options with nothing expected but the loopback threshold (NAN: the size's). */
static struct ibup_check_opts bench_opts(struct measured *m, double threshold)
{
	return (struct ibup_check_opts){ .expect_rate_gbps = NAN,
					 .expect_hcas = IBUP_UNKNOWN,
					 .bench = m ? fake_bench : NULL,
					 .bench_data = m,
					 .bench_threshold_gbps = threshold };
}

static struct ibup_check_report *run_check(struct ibup_check_opts *opts, const char *size)
{
	struct ibup_ctx *ctx;
	struct ibup_status *st;
	struct ibup_check_report *rep = NULL;

	assert_int_equal(ibup_ctx_new(IBUP_FIXTURES "/nd-h100-v5", &ctx), 0);
	ibup_ctx_set_log_fn(ctx, NULL, NULL, IBUP_LOG_ERR);
	assert_int_equal(ibup_status_read(ctx, 0, &st), 0);
	if (size) {
		st->platform.vm_size = strdup(size);
		assert_non_null(st->platform.vm_size);
	}
	assert_int_equal(ibup_check_run(ctx, st, opts, &rep), 0);
	ibup_status_free(st);
	ibup_ctx_free(ctx);
	return rep;
}

static const struct ibup_check *find(const struct ibup_check_report *rep,
				     const char *subject)
{
	for (unsigned i = 0; i < rep->n; i++)
		if (strcmp(rep->checks[i].id, "loopback_bw") == 0 &&
		    strcmp(rep->checks[i].subject, subject) == 0)
			return &rep->checks[i];
	return NULL;
}

static unsigned count(const struct ibup_check_report *rep)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rep->n; i++)
		n += strcmp(rep->checks[i].id, "loopback_bw") == 0;
	return n;
}

static void test_against_size_threshold(void **state)
{
	struct measured m = { 0 };
	struct ibup_check_opts opts = bench_opts(&m, NAN);
	struct ibup_check_report *rep = run_check(&opts, "Standard_ND96isr_H100_v5");
	const struct ibup_check *c;

	/* Every InfiniBand port, in order; never the Accelerated Networking NIC (mlx5_0). */
	assert_int_equal(m.calls, 8);
	for (unsigned i = 0; i < 8; i++) {
		char want[16];

		snprintf(want, sizeof(want), "mlx5_%u", i + 1);
		assert_string_equal(m.devices[i], want);
	}
	assert_int_equal(count(rep), 8);

	c = find(rep, "mlx5_1/1");
	assert_non_null(c);
	assert_int_equal(c->verdict, IBUP_PASS);
	assert_string_equal(c->seen, "391.2 Gb/s RDMA write, 8 MiB messages");
	assert_string_equal(c->expected, "at least 380 Gb/s (Standard_ND96isr_H100_v5)");
	assert_null(c->fix);

	c = find(rep, "mlx5_3/1");
	assert_non_null(c);
	assert_int_equal(c->verdict, IBUP_FAIL);
	assert_string_equal(c->nhc_code, "NHC2003");
	assert_string_equal(c->seen, "195.5 Gb/s RDMA write, 8 MiB messages");
	assert_non_null(c->fix);

	c = find(rep, "mlx5_5/1");
	assert_non_null(c);
	assert_int_equal(c->verdict, IBUP_FAIL);
	assert_string_equal(c->seen, "could not run: cannot open mlx5_5 with libibverbs");
	ibup_check_report_free(rep);
}

static void test_threshold_override(void **state)
{
	struct measured m = { 0 };
	struct ibup_check_opts opts = bench_opts(&m, 150);
	struct ibup_check_report *rep = run_check(&opts, "Standard_ND96isr_H100_v5");
	const struct ibup_check *c = find(rep, "mlx5_3/1");

	assert_non_null(c);
	assert_int_equal(c->verdict, IBUP_PASS);
	assert_string_equal(c->expected, "at least 150 Gb/s (Standard_ND96isr_H100_v5)");
	ibup_check_report_free(rep);
}

static void test_no_threshold(void **state)
{
	struct measured m = { 0 };
	struct ibup_check_opts opts = bench_opts(&m, NAN);
	struct ibup_check_report *rep = run_check(&opts, NULL);
	const struct ibup_check *c = find(rep, "mlx5_3/1");

	/* Measured and shown, but nothing to judge it against. */
	assert_non_null(c);
	assert_int_equal(c->verdict, IBUP_PASS);
	assert_string_equal(c->expected,
			    "no threshold for this size (give --bench-gbps GBPS)");
	ibup_check_report_free(rep);
}

static void test_not_asked(void **state)
{
	struct ibup_check_opts opts = bench_opts(NULL, NAN);
	struct ibup_check_report *rep = run_check(&opts, "Standard_ND96isr_H100_v5");

	assert_int_equal(count(rep), 0);
	ibup_check_report_free(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_size_threshold),
		cmocka_unit_test(test_threshold_override),
		cmocka_unit_test(test_no_threshold),
		cmocka_unit_test(test_not_asked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

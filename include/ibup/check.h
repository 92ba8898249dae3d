// SPDX-License-Identifier: MIT
/*
 * Health checks: what a VM size should have, and judging an inventory against it.
 */
#ifndef IBUP_CHECK_H
#define IBUP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibup/ctx.h"
#include "ibup/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a VM size should have (data/expect.json, /etc/ibup/expect.d/). */
struct ibup_expect {
	char *family; /* "HBv3" */
	char *pattern; /* the pattern that matched */
	char *source; /* "built-in", or the admin's file */
	int32_t ib_hcas; /* IBUP_UNKNOWN when not stated */
	double ib_rate_gbps, an_rate_gbps, bw_threshold_gbps; /* NAN when not stated */
	int ipoib; /* 1, 0, IBUP_UNKNOWN */
	char *gpudirect; /* "nvidia", "amd", or NULL */
	char *arch;
	bool retired;
	int sriov; /* 0: Network Direct, no HCA in the guest */
	char *note;
};

/**
 * ibup_expect_lookup() - find what @vm_size should have
 * @ctx: library context
 * @vm_size: e.g. "Standard_HB120rs_v3" (matched case-insensitively)
 * @ret: filled when found; release with ibup_expect_release()
 *
 * Admin files (the .json files of etc/ibup/expect.d under the root, in name order) come first,
 * then the built-in table. A malformed admin file is reported and skipped.
 *
 * Return: 1 when found, 0 when the size is unknown, or a negative errno.
 */
int ibup_expect_lookup(struct ibup_ctx *ctx, const char *vm_size,
		       struct ibup_expect *ret);
void ibup_expect_release(struct ibup_expect *x);

/* Health checks. */
enum ibup_verdict {
	IBUP_FAIL = 0, /* in the order reports list them */
	IBUP_WARN,
	IBUP_PASS,
	IBUP_SKIP,
};
const char *ibup_verdict_name(enum ibup_verdict v); /* "fail", "warn", "pass", "skip" */

struct ibup_check {
	const char *id; /* "port_state"; static */
	char *subject; /* "mlx5_ib0/1", "mlx5_ib0", or NULL for the node */
	enum ibup_verdict verdict;
	char *seen, *expected, *fix; /* fix is NULL unless something is wrong */
	const char *nhc_code; /* Azure NHC fault code ("NHC2004") or NULL; static */
};

struct ibup_check_opts {
	double expect_rate_gbps; /* overrides the size's (NAN: none) */
	int32_t expect_hcas; /* overrides the size's (IBUP_UNKNOWN: none) */
	/*
	 * Where the error-counter baseline lives, on the host running ibup (not under
	 * the context's root); NULL keeps no state and only looks for saturated counters.
	 */
	const char *state_dir;
	/*
	 * The loopback bandwidth check (`check --bench`): when set, called once per active
	 * InfiniBand port to measure RDMA write bandwidth on it; fills *ret_gbps, or
	 * returns a negative errno with @err saying why. The result is judged against the
	 * size's bw_threshold_gbps (or bench_threshold_gbps when not NAN). NULL: not run.
	 * It is called within ibup_check_run(), while the inventory given to that is
	 * valid: @bench_data may carry that inventory, so that the measurement finds the
	 * device there instead of reading every device again (see
	 * ibup_bench_local_with_status()).
	 */
	int (*bench)(void *data, const char *device, unsigned port, double *ret_gbps,
		     char *err, size_t err_size);
	void *bench_data;
	double bench_threshold_gbps;
};

struct ibup_check_report {
	struct ibup_check *checks; /* in the order they ran */
	unsigned n;
	bool fabric; /* an InfiniBand device is present */
	bool fabric_expected; /* the VM size says there should be one */
	bool expect_found;
	struct ibup_expect expect;
};

/**
 * ibup_check_run() - judge an inventory against what the node should have
 * @ctx: library context
 * @st: the inventory (read with IBUP_STATUS_COUNTERS for the error-counter check)
 * @opts: overrides and the state directory
 * @ret: the report, owned by the caller; free with ibup_check_report_free()
 *
 * Return: 0, or -ENOMEM.
 */
int ibup_check_run(struct ibup_ctx *ctx, const struct ibup_status *st,
		   const struct ibup_check_opts *opts, struct ibup_check_report **ret);
struct ibup_check_report *ibup_check_report_free(struct ibup_check_report *r);

#ifdef __cplusplus
}
#endif

#endif

// SPDX-License-Identifier: MIT
/* Private to lib/check: one run of the checks, shared by check.c, host.c and counters.c. */
#ifndef IBUP_CHECK_INT_H
#define IBUP_CHECK_INT_H

#include "internal.h"

/* UCX turns its InfiniBand transports off below this (UCX_MEMLOCK_LIMIT's default). */
#define MEMLOCK_MIN (512LL * 1024 * 1024)
#define COUNTERS_STATE "counters.json"

/* Azure NHC's fault dictionary. */
#define NHC_MISSING_IB "NHC2002"
#define NHC_IB_PERFORMANCE "NHC2003"
#define NHC_IB_PORT_DOWN "NHC2004"
#define NHC_IB_PORT_FLAPPING "NHC2005"

struct run {
	struct ibup_ctx *ctx;
	const struct ibup_status *st;
	const struct ibup_check_opts *opts;
	struct ibup_check_report *rep;
	int error; /* -ENOMEM once anything failed to allocate */
};

/* One finding, its strings copied and sanitized (check.c). */
void check_add(struct run *run, const char *id, const char *subject, enum ibup_verdict v,
	       const char *nhc, const char *seen, const char *expected, const char *fix);
bool check_is_azure(const struct ibup_status *st);
const char *check_size_name(const struct run *run);
bool check_ib_port(const struct ibup_device *d, const struct ibup_port *p);
bool check_port_up(const struct ibup_port *p);
const struct ibup_module *check_find_module(const struct ibup_drivers *d,
					    const char *name);

/* host.c */
void check_memlock(struct run *run);
void check_slurm(struct run *run);
void check_ipoib(struct run *run);
void check_waagent(struct run *run);
void check_pcie(struct run *run);
void check_gpudirect(struct run *run);
void check_next_boot(struct run *run);
void check_secure_boot(struct run *run);

/* counters.c */
void check_error_counters(struct run *run);
void check_bench(struct run *run);

#endif

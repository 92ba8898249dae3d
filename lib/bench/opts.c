// SPDX-License-Identifier: MIT
/* The benchmark's tests, their options and the limits those options must keep. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench-int.h"
#include "banned.h"

static const char *const test_names[IBUP_BENCH_N_TESTS] = {
	[IBUP_BENCH_WRITE_BW] = "write_bw", [IBUP_BENCH_READ_BW] = "read_bw",
	[IBUP_BENCH_SEND_BW] = "send_bw",   [IBUP_BENCH_WRITE_LAT] = "write_lat",
	[IBUP_BENCH_SEND_LAT] = "send_lat",
};

const char *ibup_bench_test_name(enum ibup_bench_test t)
{
	return (unsigned)t < IBUP_BENCH_N_TESTS ? test_names[t] : NULL;
}

int ibup_bench_test_from_name(const char *name, enum ibup_bench_test *ret)
{
	for (unsigned t = 0; t < IBUP_BENCH_N_TESTS; t++) {
		const char *n = test_names[t];
		size_t i;

		for (i = 0; n[i] && name[i]; i++)
			if (!(name[i] == n[i] || (n[i] == '_' && name[i] == '-')))
				break;
		if (!n[i] && !name[i]) {
			*ret = t;
			return 0;
		}
	}
	return -EINVAL;
}

bool ibup_bench_test_is_latency(enum ibup_bench_test t)
{
	return t == IBUP_BENCH_WRITE_LAT || t == IBUP_BENCH_SEND_LAT;
}

void ibup_bench_opts_init(struct ibup_bench_opts *o, enum ibup_bench_test test)
{
	bool lat = ibup_bench_test_is_latency(test);

	*o = (struct ibup_bench_opts){
		.test = test,
		.size = lat ? 2 : 65536,
		.iterations = test == IBUP_BENCH_WRITE_BW ? 5000 : 1000,
		.depth = lat ? 1 : 128,
		.qps = 1,
		.inline_size = -1,
		.timeout_ms = 10000,
	};
}

void ibup_bench_report_release(struct ibup_bench_report *r)
{
	free(r->results);
	r->results = NULL;
	r->n_results = 0;
}

/* The sizes of a run (bench_check_opts() has judged them). */
void bench_sizes_of(const struct ibup_bench_opts *o, uint64_t *sizes, unsigned *n)
{
	*n = 0;
	if (!o->all_sizes) {
		sizes[(*n)++] = o->size;
		return;
	}
	for (uint64_t sz = IBUP_BENCH_MIN_SIZE; sz <= IBUP_BENCH_MAX_SIZE; sz *= 2)
		sizes[(*n)++] = sz;
}

/* A latency message needs 2 bytes: the sequence byte and a payload. */
bool bench_size_ok(enum ibup_bench_test t, uint64_t size)
{
	return size >= (ibup_bench_test_is_latency(t) ? 2u : 1u) &&
	       size <= IBUP_BENCH_MAX_SIZE;
}

int bench_check_opts(const struct ibup_bench_opts *o, char *err, size_t err_size)
{
	if ((unsigned)o->test >= IBUP_BENCH_N_TESTS)
		return snprintf(err, err_size, "unknown test"), -EINVAL;
	if (!o->all_sizes && !bench_size_ok(o->test, o->size))
		return snprintf(err, err_size, "message size must be %u B to 8 MiB",
				ibup_bench_test_is_latency(o->test) ? 2u : 1u),
		       -EINVAL;
	if (o->qps < 1 || o->qps > MAX_QPS)
		return snprintf(err, err_size, "queue pairs must be 1 to %u", MAX_QPS),
		       -EINVAL;
	if (o->depth < 1 || o->depth > 16384)
		return snprintf(err, err_size, "queue depth must be 1 to 16384"), -EINVAL;
	if (o->duration_s <= 0 && o->iterations < 1)
		return snprintf(err, err_size, "iterations must be at least 1"), -EINVAL;
	if (o->timeout_ms < 100)
		return snprintf(err, err_size, "the timeout must be at least 100 ms"),
		       -EINVAL;
	return 0;
}

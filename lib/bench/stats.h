// SPDX-License-Identifier: MIT
/*
 * The benchmark's arithmetic (stats.c), apart from any device: private to the library
 * and its unit tests. The latency figures' type, struct ibup_lat_stats, is public: it is
 * part of every result.
 */
#ifndef IBUP_BENCH_STATS_H
#define IBUP_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "ibup/bench.h"

/*
 * Latency statistics. Samples are round-trip times in nanoseconds; @samples is sorted
 * in place. Half the round trip is reported. Percentiles are nearest-rank: the
 * ceil(p * n)-th smallest sample. stdev is the population standard deviation, in
 * floating point. Nothing is dropped.
 */
void ibup_lat_stats_compute(uint32_t *samples, size_t n, struct ibup_lat_stats *ret);

/*
 * Peak bandwidth from a trace of (time, cumulative completions) points: a sliding
 * window. Each point starts a window that ends at the first later point at least
 * @min_msgs messages on; the peak is the best rate of those windows (in one pass,
 * so that long duration runs cost nothing). 0 when the trace never spans that many.
 */
struct ibup_bw_point {
	uint64_t t_ns, msgs;
};
double ibup_bw_peak_gbps(const struct ibup_bw_point *pts, size_t n, size_t size,
			 uint64_t min_msgs);

/* The payload pattern of --verify: byte i of message @seq. */
static inline uint8_t ibup_bench_pattern(uint64_t seq, size_t i)
{
	uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL;

	return (uint8_t)(x >> 56);
}
void ibup_bench_fill(uint8_t *buf, size_t len, uint64_t seq);
/* The offset of the first byte that differs from the pattern, or -1 when intact. */
ptrdiff_t ibup_bench_check(const uint8_t *buf, size_t len, uint64_t seq);

#endif

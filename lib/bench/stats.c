// SPDX-License-Identifier: MIT
/*
 * The benchmark's arithmetic, apart from any device so that it can be tested on known
 * inputs: latency statistics, peak bandwidth, and the --verify payload pattern.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "stats.h"
#include "banned.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The ceil(p * n)-th smallest (1-based), as an index; p in (0, 1]. */
static size_t nearest_rank(size_t n, double p)
{
	double r = ceil(p * (double)n - 1e-9);

	if (r < 1)
		r = 1;
	if (r > (double)n)
		r = (double)n;
	return (size_t)r - 1;
}

void ibup_lat_stats_compute(uint32_t *samples, size_t n, struct ibup_lat_stats *ret)
{
	double sum = 0, sq = 0, mean;

	if (n == 0) {
		*ret = (struct ibup_lat_stats){ NAN, NAN, NAN, NAN, NAN, NAN, NAN };
		return;
	}
	qsort(samples, n, sizeof(*samples), cmp_u32);
	for (size_t i = 0; i < n; i++)
		sum += samples[i];
	mean = sum / (double)n;
	for (size_t i = 0; i < n; i++) {
		double d = samples[i] - mean;

		sq += d * d;
	}
	/* One-way latency is half the round trip; ns to µs. */
#define US(v) ((double)(v) / 2000.0)
	ret->min_us = US(samples[0]);
	ret->max_us = US(samples[n - 1]);
	ret->median_us = n % 2 ? US(samples[n / 2])
			       : US(((double)samples[n / 2 - 1] + samples[n / 2]) / 2);
	ret->mean_us = US(mean);
	ret->stdev_us = US(sqrt(sq / (double)n));
	ret->p99_us = US(samples[nearest_rank(n, 0.99)]);
	ret->p999_us = US(samples[nearest_rank(n, 0.999)]);
#undef US
}

double ibup_bw_peak_gbps(const struct ibup_bw_point *pts, size_t n, size_t size,
			 uint64_t min_msgs)
{
	double best = 0;
	size_t j = 0;

	if (min_msgs == 0)
		min_msgs = 1;
	/* Two pointers: each start, and the first end that spans min_msgs messages. */
	for (size_t i = 0; i < n; i++) {
		if (j <= i)
			j = i + 1;
		while (j < n && pts[j].msgs - pts[i].msgs < min_msgs)
			j++;
		if (j >= n)
			break;
		if (pts[j].t_ns > pts[i].t_ns) {
			double r = (double)(pts[j].msgs - pts[i].msgs) * (double)size *
				   8.0 / (double)(pts[j].t_ns - pts[i].t_ns);

			if (r > best)
				best = r;
		}
	}
	return best; /* bits per ns = Gb/s */
}

void ibup_bench_fill(uint8_t *buf, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = ibup_bench_pattern(seq, i);
}

ptrdiff_t ibup_bench_check(const uint8_t *buf, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != ibup_bench_pattern(seq, i))
			return (ptrdiff_t)i;
	return -1;
}

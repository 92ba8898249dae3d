// SPDX-License-Identifier: MIT
/*
 * The benchmark's arithmetic on inputs whose answers are worked out by hand: latency
 * statistics, peak bandwidth, and the --verify payload pattern.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

/*
 * cmocka 1.1.5 has assert_float_equal but no assert_double_equal; this is the double
 * version, relative to the expected value. A macro, so that a failure names its line.
 */
#define assert_near(got, want) check_near((got), (want), #got, __FILE__, __LINE__)

static void check_near(double got, double want, const char *what, const char *file,
		       int line)
{
	double tol = 1e-9 * fabs(want) + 1e-15;

	if (fabs(got - want) <= tol)
		return;
	print_error("%s is %.17g, expected %.17g\n", what, got, want);
	_fail(file, line);
}

static void assert_sorted(const uint32_t *s, size_t n)
{
	for (size_t i = 1; i < n; i++)
		assert_true(s[i - 1] <= s[i]);
}

static void test_lat_four(void **state)
{
	/*
	 * Round trips 2, 4, 6, 8 µs are one-way 1, 2, 3, 4 µs; unsorted on input.
	 * median: (4000 + 6000) / 2 = 5000 ns -> 2.5 µs; mean 20000 / 4 = 5000 ns -> 2.5 µs.
	 * Deviations -3000 -1000 1000 3000 ns: sum of squares 20e6, / 4 = 5e6 ns^2;
	 * stdev sqrt(5e6) / 2000 = sqrt(5e6 / 4e6) = sqrt(1.25) µs.
	 * p99: ceil(0.99 * 4) = 4th; p99.9: ceil(3.996) = 4th: both 8000 ns -> 4 µs.
	 */
	uint32_t s[] = { 8000, 2000, 6000, 4000 };
	struct ibup_lat_stats st;

	ibup_lat_stats_compute(s, 4, &st);
	assert_int_equal(s[0], 2000);
	assert_int_equal(s[1], 4000);
	assert_int_equal(s[2], 6000);
	assert_int_equal(s[3], 8000);
	assert_near(st.min_us, 1.0);
	assert_near(st.max_us, 4.0);
	assert_near(st.median_us, 2.5);
	assert_near(st.mean_us, 2.5);
	assert_near(st.stdev_us, sqrt(1.25));
	assert_near(st.p99_us, 4.0);
	assert_near(st.p999_us, 4.0);
}

static void test_lat_one(void **state)
{
	/* One sample: every statistic is that sample (3000 ns -> 1.5 µs), stdev 0. */
	uint32_t s[] = { 3000 };
	struct ibup_lat_stats st;

	ibup_lat_stats_compute(s, 1, &st);
	assert_near(st.min_us, 1.5);
	assert_near(st.max_us, 1.5);
	assert_near(st.median_us, 1.5);
	assert_near(st.mean_us, 1.5);
	assert_near(st.stdev_us, 0.0);
	assert_near(st.p99_us, 1.5);
	assert_near(st.p999_us, 1.5);
}

static void test_lat_empty(void **state)
{
	uint32_t s[1] = { 1234 };
	struct ibup_lat_stats st = { 0 };

	ibup_lat_stats_compute(s, 0, &st);
	assert_true(isnan(st.min_us));
	assert_true(isnan(st.median_us));
	assert_true(isnan(st.mean_us));
	assert_true(isnan(st.stdev_us));
	assert_true(isnan(st.p99_us));
	assert_true(isnan(st.p999_us));
	assert_true(isnan(st.max_us));
	assert_int_equal(s[0], 1234);
}

static void test_lat_sub_us_stdev(void **state)
{
	/*
	 * perftest computes the deviation in whole microseconds and reports 0 here.
	 * 2000 2100 2200 ns: median = mean = 2100 ns -> 1.05 µs. Deviations -100 0 100 ns,
	 * sum of squares 20000, / 3 ns^2; stdev sqrt(20000 / 3) / 2000
	 * = sqrt(20000 / 3 / 4e6) = sqrt(1 / 600) = 0.0408248... µs.
	 */
	uint32_t s[] = { 2200, 2000, 2100 };
	struct ibup_lat_stats st;

	ibup_lat_stats_compute(s, 3, &st);
	assert_sorted(s, 3);
	assert_near(st.min_us, 1.0);
	assert_near(st.max_us, 1.1);
	assert_near(st.median_us, 1.05);
	assert_near(st.mean_us, 1.05);
	assert_near(st.stdev_us, sqrt(1.0 / 600));
	assert_true(st.stdev_us > 0.04);
	/* ceil(0.99 * 3) = 3rd, ceil(0.999 * 3) = 3rd. */
	assert_near(st.p99_us, 1.1);
	assert_near(st.p999_us, 1.1);
}

static void test_lat_thousand(void **state)
{
	/*
	 * 1..1000 ns in the fixed order (7919 * i) % 1000 + 1 (7919 is prime, so coprime
	 * with 1000 and this is a permutation). The k-th smallest is k ns = k / 2000 µs.
	 * p99: ceil(0.99 * 1000) = 990th; p99.9: ceil(0.999 * 1000) = 999th; max 1000th.
	 * median: (500 + 501) / 2 = 500.5 ns; mean 1001 / 2 = 500.5 ns.
	 * Population variance of 1..N is (N^2 - 1) / 12: stdev sqrt(999999 / 12) ns.
	 */
	uint32_t s[1000];
	struct ibup_lat_stats st;

	for (uint32_t i = 0; i < 1000; i++)
		s[i] = (7919 * i) % 1000 + 1;
	ibup_lat_stats_compute(s, 1000, &st);
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(s[i], i + 1);
	assert_near(st.min_us, 1 / 2000.0);
	assert_near(st.max_us, 1000 / 2000.0);
	assert_near(st.median_us, 500.5 / 2000);
	assert_near(st.mean_us, 500.5 / 2000);
	assert_near(st.stdev_us, sqrt(999999 / 12.0) / 2000);
	assert_near(st.p99_us, 990 / 2000.0);
	assert_near(st.p999_us, 999 / 2000.0);
}

static void test_lat_rank_edges(void **state)
{
	/*
	 * n = 100: p * n is a whole number, where an off-by-one in the rounding would show:
	 * p99 is the ceil(99)-th = 99th, not the 100th. p99.9: ceil(99.9) = 100th.
	 * Samples k * 1000 ns for k = 1..100, reversed.
	 */
	uint32_t s[1001];
	struct ibup_lat_stats st;

	for (uint32_t i = 0; i < 100; i++)
		s[i] = (100 - i) * 1000;
	ibup_lat_stats_compute(s, 100, &st);
	assert_near(st.p99_us, 99 * 1000 / 2000.0);
	assert_near(st.p999_us, 100 * 1000 / 2000.0);
	/* Even n: median (50th + 51st) / 2 = 50500 ns. */
	assert_near(st.median_us, 50500 / 2000.0);

	/* n = 1001, samples 1..1001 ns: p99 ceil(990.99) = 991st, p99.9 ceil(999.999) =
	 * 1000th, and the odd median the 501st. */
	for (uint32_t i = 0; i < 1001; i++)
		s[i] = 1001 - i;
	ibup_lat_stats_compute(s, 1001, &st);
	assert_near(st.p99_us, 991 / 2000.0);
	assert_near(st.p999_us, 1000 / 2000.0);
	assert_near(st.median_us, 501 / 2000.0);
	assert_near(st.max_us, 1001 / 2000.0);
}

static void test_lat_outlier(void **state)
{
	/*
	 * 999 round trips of 2000 ns and one of 4e9 ns (near UINT32_MAX), placed first.
	 * Nothing is dropped: max is 4e9 / 2000 = 2e6 µs. The 999th and 990th smallest are
	 * 2000 ns, so p99 = p99.9 = median = min = 1 µs.
	 * mean: (999 * 2000 + 4e9) / 1000 = 4001998 ns -> 2000.999 µs.
	 * Two values a (weight 1 - q) and b (weight q): variance q (1 - q) (b - a)^2, so
	 * stdev sqrt(0.001 * 0.999) * (4e9 - 2000) ns.
	 */
	uint32_t s[1000];
	struct ibup_lat_stats st;

	s[0] = 4000000000u;
	for (size_t i = 1; i < 1000; i++)
		s[i] = 2000;
	ibup_lat_stats_compute(s, 1000, &st);
	assert_int_equal(s[999], 4000000000u);
	assert_near(st.max_us, 2e6);
	assert_near(st.min_us, 1.0);
	assert_near(st.median_us, 1.0);
	assert_near(st.p99_us, 1.0);
	assert_near(st.p999_us, 1.0);
	assert_near(st.mean_us, 2000.999);
	assert_near(st.stdev_us, sqrt(0.001 * 0.999) * (4e9 - 2000) / 2000);
}

static void test_bw_steady(void **state)
{
	/* 10 messages of 4096 B every 1000 ns: 10 * 4096 * 8 / 1000 = 327.68 bit/ns. */
	struct ibup_bw_point p[11];

	for (uint64_t i = 0; i < 11; i++)
		p[i] = (struct ibup_bw_point){ .t_ns = 1000 * i, .msgs = 10 * i };
	assert_near(ibup_bw_peak_gbps(p, 11, 4096, 1), 327.68);
	assert_near(ibup_bw_peak_gbps(p, 11, 4096, 50), 327.68);
	assert_near(ibup_bw_peak_gbps(p, 11, 4096, 100), 327.68);
	/* The whole trace spans 100 messages, no more. */
	assert_near(ibup_bw_peak_gbps(p, 11, 4096, 101), 0.0);
}

static void test_bw_fast_stretch(void **state)
{
	/*
	 * 1000-byte messages (8000 bits), a point every 1000 ns. Normally 10 messages per
	 * 1000 ns (80 Gb/s); from t = 5000 to 7000 ns, 30 per 1000 ns (240 Gb/s).
	 */
	static const uint64_t msgs[] = { 0, 10, 20, 30, 40, 50, 80, 110, 120, 130, 140 };
	struct ibup_bw_point p[11];

	for (size_t i = 0; i < 11; i++)
		p[i] = (struct ibup_bw_point){ .t_ns = 1000 * i, .msgs = msgs[i] };
	/* The stretch holds 60 messages: 60 * 8000 / 2000 = 240 Gb/s; 30 fit one step. */
	assert_near(ibup_bw_peak_gbps(p, 11, 1000, 30), 240.0);
	assert_near(ibup_bw_peak_gbps(p, 11, 1000, 60), 240.0);
	/*
	 * 70 needs the stretch plus one slow step either side, e.g. 40 -> 110:
	 * 70 * 8000 / 3000 = 560 / 3 Gb/s.
	 */
	assert_near(ibup_bw_peak_gbps(p, 11, 1000, 70), 560.0 / 3);
	/* All 140 over 10000 ns: 140 * 8000 / 10000 = 112 Gb/s. */
	assert_near(ibup_bw_peak_gbps(p, 11, 1000, 140), 112.0);
}

static void test_bw_short(void **state)
{
	struct ibup_bw_point p[] = { { 0, 0 }, { 1000, 10 }, { 2000, 20 } };

	/* Spans 20 messages; asking for more gives 0. */
	assert_near(ibup_bw_peak_gbps(p, 3, 64, 21), 0.0);
	assert_near(ibup_bw_peak_gbps(p, 3, 64, 1000), 0.0);
	/* No window at all. */
	assert_near(ibup_bw_peak_gbps(p, 0, 64, 1), 0.0);
	assert_near(ibup_bw_peak_gbps(p, 1, 64, 1), 0.0);
	/* Two points make one window: 10 * 64 * 8 / 1000 = 5.12 Gb/s. */
	assert_near(ibup_bw_peak_gbps(p, 2, 64, 10), 5.12);
}

static void test_pattern_roundtrip(void **state)
{
	static const size_t lens[] = { 1, 7, 8, 64, 4096 };
	static const uint64_t seqs[] = { 0, 1, 2, 1000, UINT64_MAX };
	uint8_t buf[4096 + 1];

	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		for (size_t s = 0; s < sizeof(seqs) / sizeof(seqs[0]); s++) {
			size_t len = lens[l];
			uint64_t seq = seqs[s];

			/* fill writes len bytes and not one more. */
			buf[len] = 0xa5;
			ibup_bench_fill(buf, len, seq);
			assert_int_equal(buf[len], 0xa5);
			for (size_t i = 0; i < len; i++)
				assert_int_equal(buf[i], ibup_bench_pattern(seq, i));
			assert_int_equal(ibup_bench_check(buf, len, seq), -1);
		}
	}
}

static void test_pattern_flip(void **state)
{
	static const size_t lens[] = { 1, 8, 64, 4096 };
	uint8_t buf[4096];

	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		size_t len = lens[l];
		const size_t at[] = { 0, len / 2, len - 1 };

		ibup_bench_fill(buf, len, 42);
		for (size_t a = 0; a < 3; a++) {
			buf[at[a]] ^= 0xff;
			assert_int_equal(ibup_bench_check(buf, len, 42),
					 (ptrdiff_t)at[a]);
			buf[at[a]] ^= 0xff;
			assert_int_equal(ibup_bench_check(buf, len, 42), -1);
		}
	}
	/* With two bad bytes, the first is reported; a one-bit flip is seen too. */
	ibup_bench_fill(buf, 64, 7);
	buf[40] ^= 0x01;
	buf[10] ^= 0x80;
	assert_int_equal(ibup_bench_check(buf, 64, 7), 10);
}

static void test_pattern_other_seq(void **state)
{
	static const uint64_t pairs[][2] = {
		{ 0, 1 },	   { 1, 0 },	      { 7, 1000 },
		{ 0, 1ull << 32 }, { 5, UINT64_MAX }, { 123456789, 123456790 },
	};
	uint8_t buf[64];

	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		ibup_bench_fill(buf, 8, pairs[k][0]);
		assert_int_not_equal(ibup_bench_check(buf, 8, pairs[k][1]), -1);
		ibup_bench_fill(buf, 64, pairs[k][0]);
		assert_int_not_equal(ibup_bench_check(buf, 64, pairs[k][1]), -1);
	}
}

static void test_pattern_consecutive(void **state)
{
	/*
	 * A message left over from the previous iteration must not pass for the current
	 * one: patterns of consecutive seqs differ in (nearly) every byte of 64.
	 */
	for (uint64_t seq = 0; seq < 1000; seq++) {
		unsigned differ = 0;

		for (size_t i = 0; i < 64; i++)
			differ += ibup_bench_pattern(seq, i) !=
				  ibup_bench_pattern(seq + 1, i);
		assert_in_range(differ, 60, 64);
	}
}

static void test_pattern_empty(void **state)
{
	uint8_t buf[4] = { 1, 2, 3, 4 };

	/* Nothing to check is intact; nothing to fill writes nothing. */
	assert_int_equal(ibup_bench_check(buf, 0, 0), -1);
	assert_int_equal(ibup_bench_check(buf, 0, 99), -1);
	ibup_bench_fill(buf, 0, 0);
	assert_int_equal(buf[0], 1);
	assert_int_equal(buf[3], 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lat_four),
		cmocka_unit_test(test_lat_one),
		cmocka_unit_test(test_lat_empty),
		cmocka_unit_test(test_lat_sub_us_stdev),
		cmocka_unit_test(test_lat_thousand),
		cmocka_unit_test(test_lat_rank_edges),
		cmocka_unit_test(test_lat_outlier),
		cmocka_unit_test(test_bw_steady),
		cmocka_unit_test(test_bw_fast_stretch),
		cmocka_unit_test(test_bw_short),
		cmocka_unit_test(test_pattern_roundtrip),
		cmocka_unit_test(test_pattern_flip),
		cmocka_unit_test(test_pattern_other_seq),
		cmocka_unit_test(test_pattern_consecutive),
		cmocka_unit_test(test_pattern_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

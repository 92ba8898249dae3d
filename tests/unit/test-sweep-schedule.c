// SPDX-License-Identifier: MIT
/* The sweep's schedule: the circle method for 2 … 1025 ranks, quick mode, pair lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ibup/sweep.h"

/*
 * Every pair exactly once, no rank twice in one round; with odd n one rank rests a round.
 * Plain comparisons counted into one assert: cmocka's per-check call would make the
 * 180 million checks of n = 2 … 1025 slow under the sanitizers.
 */
static void check_full(unsigned n)
{
	struct ibup_sweep_schedule s;
	unsigned char *met = calloc((size_t)n * n, 1);
	unsigned *seen = calloc(n, sizeof(*seen)), *rested = calloc(n, sizeof(*rested));
	unsigned long wrong = 0;

	assert_non_null(met);
	assert_non_null(seen);
	assert_non_null(rested);
	assert_int_equal(ibup_sweep_schedule_full(n, &s), 0);
	assert_int_equal(s.n_rounds, n % 2 ? n : n - 1);
	assert_int_equal(s.n_rounds, ibup_sweep_rounds(n));
	assert_int_equal(s.n_pairs, (size_t)n * (n - 1) / 2);
	for (unsigned r = 0; r < s.n_rounds; r++) {
		size_t k;
		const struct ibup_sweep_pair *p = ibup_sweep_schedule_round(&s, r, &k);

		assert_int_equal(k, n / 2);
		for (size_t i = 0; i < k; i++) {
			unsigned a = p[i].a, b = p[i].b;

			wrong += a >= b || b >= n;
			if (wrong)
				break;
			wrong += seen[a] == r + 1 || seen[b] == r + 1;
			seen[a] = seen[b] = r + 1;
			wrong += met[(size_t)a * n + b]++ != 0;
			/* each rank computes the same partner alone (implied by the checks
			 * above; asked outright where it is cheap) */
			if (n <= 300 || i == 0)
				wrong += ibup_sweep_partner(n, r, a) != (int)b ||
					 ibup_sweep_partner(n, r, b) != (int)a;
		}
		for (unsigned v = 0; v < n && n % 2; v++)
			if (seen[v] != r + 1) {
				wrong += ibup_sweep_partner(n, r, v) != -1;
				rested[v]++;
			}
	}
	for (unsigned v = 0; v < n; v++)
		wrong += rested[v] != n % 2;
	if (wrong)
		fail_msg("n = %u: %lu violations", n, wrong);
	ibup_sweep_schedule_release(&s);
	free(met);
	free(seen);
	free(rested);
}

static void test_full_2_to_1025(void **state)
{
	for (unsigned n = 2; n <= 1025; n++)
		check_full(n);
}

static void test_bounds(void **state)
{
	struct ibup_sweep_schedule s;

	assert_int_equal(ibup_sweep_rounds(0), 0);
	assert_int_equal(ibup_sweep_rounds(1), 0);
	assert_int_equal(ibup_sweep_rounds(4096), 4095);
	assert_int_equal(ibup_sweep_partner(4, 3, 0), -EINVAL);
	assert_int_equal(ibup_sweep_partner(4, 0, 4), -EINVAL);
	assert_int_equal(ibup_sweep_partner(1, 0, 0), -EINVAL);
	assert_int_equal(ibup_sweep_schedule_full(1, &s), -EINVAL);
	assert_int_equal(ibup_sweep_schedule_full(IBUP_SWEEP_MAX_NODES + 1, &s), -EINVAL);
	assert_int_equal(ibup_sweep_schedule_quick(0, &s), -EINVAL);
}

static void test_quick(void **state)
{
	for (unsigned n = 2; n <= 65; n++) {
		struct ibup_sweep_schedule s;
		unsigned char *seen = calloc(n, 1);
		size_t k;
		const struct ibup_sweep_pair *p;

		assert_int_equal(ibup_sweep_schedule_quick(n, &s), 0);
		assert_int_equal(s.n_rounds, 1);
		p = ibup_sweep_schedule_round(&s, 0, &k);
		assert_int_equal(k, n / 2);
		for (size_t i = 0; i < k; i++) {
			assert_int_equal(p[i].b, p[i].a + n / 2);
			assert_false(seen[p[i].a] || seen[p[i].b]);
			seen[p[i].a] = seen[p[i].b] = 1;
		}
		assert_null(ibup_sweep_schedule_round(&s, 1, &k));
		assert_int_equal(k, 0);
		ibup_sweep_schedule_release(&s);
		free(seen);
	}
}

static void check_rounds(const struct ibup_sweep_schedule *s,
			 const struct ibup_sweep_pair *want, size_t n_want)
{
	unsigned *seen = calloc(s->n, sizeof(*seen));
	unsigned char *met = calloc((size_t)s->n * s->n, 1);
	size_t total = 0;

	assert_int_equal(s->n_pairs, n_want);
	for (size_t i = 0; i < n_want; i++) {
		unsigned a = want[i].a < want[i].b ? want[i].a : want[i].b;
		unsigned b = want[i].a < want[i].b ? want[i].b : want[i].a;

		met[(size_t)a * s->n + b] = 1;
	}
	for (unsigned r = 0; r < s->n_rounds; r++) {
		size_t k;
		const struct ibup_sweep_pair *p = ibup_sweep_schedule_round(s, r, &k);

		assert_true(k > 0);
		for (size_t i = 0; i < k; i++) {
			assert_true(p[i].a < p[i].b);
			assert_int_not_equal(seen[p[i].a], r + 1);
			assert_int_not_equal(seen[p[i].b], r + 1);
			seen[p[i].a] = seen[p[i].b] = r + 1;
			/* wanted, and not met before */
			assert_int_equal(met[(size_t)p[i].a * s->n + p[i].b], 1);
			met[(size_t)p[i].a * s->n + p[i].b] = 2;
		}
		total += k;
	}
	assert_int_equal(total, n_want);
	free(seen);
	free(met);
}

static void test_from_pairs(void **state)
{
	/* a star (one node with every other) needs one round per pair */
	struct ibup_sweep_pair star[] = { { 0, 1 }, { 2, 0 }, { 0, 3 }, { 4, 0 } };
	struct ibup_sweep_pair mix[] = { { 0, 1 }, { 2, 3 }, { 1, 2 },
					 { 3, 0 }, { 4, 5 }, { 5, 1 } };
	struct ibup_sweep_pair dup[] = { { 0, 1 }, { 2, 3 }, { 1, 0 } };
	struct ibup_sweep_pair self[] = { { 2, 2 } };
	struct ibup_sweep_pair far[] = { { 0, 6 } };
	struct ibup_sweep_schedule s;

	assert_int_equal(ibup_sweep_schedule_from_pairs(5, star, 4, &s), 0);
	assert_int_equal(s.n_rounds, 4);
	check_rounds(&s, star, 4);
	ibup_sweep_schedule_release(&s);

	assert_int_equal(ibup_sweep_schedule_from_pairs(6, mix, 6, &s), 0);
	check_rounds(&s, mix, 6);
	/* greedy in list order: (0,1) (2,3) (4,5) first */
	assert_int_equal(s.round_start[1], 3);
	ibup_sweep_schedule_release(&s);

	assert_int_equal(ibup_sweep_schedule_from_pairs(4, dup, 3, &s), -EINVAL);
	assert_int_equal(ibup_sweep_schedule_from_pairs(4, self, 1, &s), -EINVAL);
	assert_int_equal(ibup_sweep_schedule_from_pairs(6, far, 1, &s), -EINVAL);
	assert_int_equal(ibup_sweep_schedule_from_pairs(6, NULL, 0, &s), 0);
	assert_int_equal(s.n_rounds, 0);
	ibup_sweep_schedule_release(&s);
}

/* The full list, in a scrambled order, rebuilt greedily: still every pair once. */
static void test_from_pairs_large(void **state)
{
	const unsigned n = 257;
	size_t np = (size_t)n * (n - 1) / 2, k = 0;
	struct ibup_sweep_pair *p = malloc(np * sizeof(*p));
	struct ibup_sweep_schedule s;
	uint64_t x = 42;

	for (unsigned a = 0; a < n; a++)
		for (unsigned b = a + 1; b < n; b++)
			p[k++] = (struct ibup_sweep_pair){ b, a };
	for (size_t i = np - 1; i > 0; i--) {
		size_t j;
		struct ibup_sweep_pair t;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		j = (size_t)((x >> 33) % (i + 1));
		t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
	assert_int_equal(ibup_sweep_schedule_from_pairs(n, p, np, &s), 0);
	assert_int_equal(s.n_pairs, np);
	assert_true(s.n_rounds >= n);
	check_rounds(&s, p, np);
	ibup_sweep_schedule_release(&s);
	free(p);
}

static void test_parse(void **state)
{
	const char *labels[] = { "cn01", "cn02", "cn03", "cn04" };
	struct ibup_sweep_pair *p = NULL;
	struct ibup_diag d = { 0 };
	size_t n = 0;

	assert_int_equal(
		ibup_sweep_pairs_parse("# pairs\ncn01 cn02\n\n  cn03\tcn04  # rack 2\n"
				       "0 1 3\n",
				       labels, 4, &p, &n, &d),
		0);
	assert_int_equal(n, 3);
	assert_int_equal(p[0].a, 0);
	assert_int_equal(p[0].b, 1);
	assert_int_equal(p[1].a, 2);
	assert_int_equal(p[1].b, 3);
	/* ClusterKit's "ROUND NODE NODE": the round is dropped, ranks by number */
	assert_int_equal(p[2].a, 1);
	assert_int_equal(p[2].b, 3);
	free(p);

	assert_int_equal(
		ibup_sweep_pairs_parse("cn01 cn02\ncn01 cn09\n", labels, 4, &p, &n, &d),
		-EINVAL);
	assert_int_equal(d.line, 2);
	assert_string_equal(d.msg, "unknown node 'cn09'");
	assert_int_equal(
		ibup_sweep_pairs_parse("cn01 cn02\ncn02 cn01\n", labels, 4, &p, &n, &d),
		-EINVAL);
	assert_string_equal(d.msg, "a pair is listed twice");
	assert_int_equal(ibup_sweep_pairs_parse("cn03 cn03\n", labels, 4, &p, &n, &d),
			 -EINVAL);
	assert_int_equal(d.line, 1);
	assert_int_equal(ibup_sweep_pairs_parse("cn01\n", labels, 4, &p, &n, &d),
			 -EINVAL);
	assert_int_equal(ibup_sweep_pairs_parse("1 2 3 4\n", labels, 4, &p, &n, &d),
			 -EINVAL);
	assert_int_equal(ibup_sweep_pairs_parse("# nothing\n", labels, 4, &p, &n, &d),
			 -EINVAL);
	assert_string_equal(d.msg, "no pairs");
	assert_int_equal(ibup_sweep_pairs_parse("0 4\n", NULL, 4, &p, &n, &d), -EINVAL);
	assert_int_equal(ibup_sweep_pairs_parse("0 3\n", NULL, 4, &p, &n, &d), 0);
	assert_int_equal(n, 1);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_2_to_1025),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_quick),
		cmocka_unit_test(test_from_pairs),
		cmocka_unit_test(test_from_pairs_large),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * The sweep's schedule. The circle method (a round-robin tournament): with n even, rank
 * n - 1 stays put and the other n - 1 sit on a circle; in round r rank i meets the rank j
 * with i + j = 2r (mod n - 1), and the one rank for which that is itself (i = r) meets
 * rank n - 1. With n odd a phantom rank n is added, and whoever would meet it rests.
 * Every rank can thus compute its partner alone, which is what lets each MPI rank of
 * ibup-sweep move to the next round without being told.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ibup/sweep.h"
#include "macro.h"
#include "banned.h"

unsigned ibup_sweep_rounds(unsigned n)
{
	if (n < 2)
		return 0;
	return n % 2 ? n : n - 1;
}

int ibup_sweep_partner(unsigned n, unsigned round, unsigned rank)
{
	unsigned m, p;

	if (n < 2 || n > IBUP_SWEEP_MAX_NODES || rank >= n ||
	    round >= ibup_sweep_rounds(n))
		return -EINVAL;
	/* m: the ranks on the circle; odd n puts all n on it and a phantom at the centre */
	m = n % 2 ? n : n - 1;
	if (n % 2 == 0 && rank == n - 1)
		return (int)round;
	p = (2 * round + m - rank % m) % m;
	if (p == rank)
		return n % 2 ? -1 : (int)(n - 1);
	return (int)p;
}

static int schedule_alloc(unsigned n, unsigned rounds, size_t pairs,
			  struct ibup_sweep_schedule *s)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->n_rounds = rounds;
	s->round_start = calloc((size_t)rounds + 1, sizeof(*s->round_start));
	s->pairs = calloc(pairs ? pairs : 1, sizeof(*s->pairs));
	if (!s->round_start || !s->pairs) {
		ibup_sweep_schedule_release(s);
		return -ENOMEM;
	}
	return 0;
}

int ibup_sweep_schedule_full(unsigned n, struct ibup_sweep_schedule *ret)
{
	struct ibup_sweep_schedule s;
	unsigned rounds = ibup_sweep_rounds(n);
	size_t k = 0;
	int r;

	if (n < 2 || n > IBUP_SWEEP_MAX_NODES)
		return -EINVAL;
	r = schedule_alloc(n, rounds, (size_t)n * (n - 1) / 2, &s);
	if (r < 0)
		return r;
	/* the pairs of round r straight from the circle: r with the centre (even n), then
	 * r + k with r - k; the same pairs ibup_sweep_partner() gives, in half the work */
	for (unsigned round = 0; round < rounds; round++) {
		unsigned m = n % 2 ? n : n - 1;

		s.round_start[round] = k;
		if (n % 2 == 0)
			s.pairs[k++] = (struct ibup_sweep_pair){ round, n - 1 };
		for (unsigned d = 1; d <= (m - 1) / 2; d++) {
			unsigned x = (round + d) % m, y = (round + m - d) % m;

			s.pairs[k++] = x < y ? (struct ibup_sweep_pair){ x, y }
					     : (struct ibup_sweep_pair){ y, x };
		}
	}
	s.round_start[rounds] = k;
	s.n_pairs = k;
	*ret = s;
	return 0;
}

int ibup_sweep_schedule_quick(unsigned n, struct ibup_sweep_schedule *ret)
{
	struct ibup_sweep_schedule s;
	unsigned half = n / 2;
	int r;

	if (n < 2 || n > IBUP_SWEEP_MAX_NODES)
		return -EINVAL;
	r = schedule_alloc(n, 1, half, &s);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < half; i++)
		s.pairs[i] = (struct ibup_sweep_pair){ i, i + half };
	s.round_start[1] = half;
	s.n_pairs = half;
	*ret = s;
	return 0;
}

static int pair_cmp(const void *x, const void *y)
{
	const struct ibup_sweep_pair *p = x, *q = y;

	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->b != q->b)
		return p->b < q->b ? -1 : 1;
	return 0;
}

static struct ibup_sweep_pair pair_norm(struct ibup_sweep_pair p)
{
	return p.a < p.b ? p : (struct ibup_sweep_pair){ p.b, p.a };
}

/* -EINVAL for a rank out of range, a rank with itself or a pair listed twice. */
static int pairs_check(unsigned n, const struct ibup_sweep_pair *pairs, size_t n_pairs)
{
	_cleanup_free_ struct ibup_sweep_pair *sorted = NULL;

	for (size_t i = 0; i < n_pairs; i++)
		if (pairs[i].a >= n || pairs[i].b >= n || pairs[i].a == pairs[i].b)
			return -EINVAL;
	sorted = malloc((n_pairs ? n_pairs : 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n_pairs; i++)
		sorted[i] = pair_norm(pairs[i]);
	qsort(sorted, n_pairs, sizeof(*sorted), pair_cmp);
	for (size_t i = 1; i < n_pairs; i++)
		if (!pair_cmp(&sorted[i - 1], &sorted[i]))
			return -EINVAL;
	return 0;
}

int ibup_sweep_schedule_from_pairs(unsigned n, const struct ibup_sweep_pair *pairs,
				   size_t n_pairs, struct ibup_sweep_schedule *ret)
{
	_cleanup_free_ unsigned *busy = NULL; /* the round + 1 a rank last played in */
	_cleanup_free_ size_t *left = NULL; /* the pairs not yet placed, in list order */
	_cleanup_free_ size_t *starts = NULL;
	struct ibup_sweep_schedule s;
	size_t k = 0, n_left = n_pairs;
	unsigned rounds = 0, full = n - n % 2;
	int r;

	if (n < 2 || n > IBUP_SWEEP_MAX_NODES || (n_pairs && !pairs))
		return -EINVAL;
	r = pairs_check(n, pairs, n_pairs);
	if (r < 0)
		return r;
	busy = calloc(n, sizeof(*busy));
	left = malloc((n_pairs ? n_pairs : 1) * sizeof(*left));
	/* a round holds at least one pair, so there are at most n_pairs rounds */
	starts = calloc(n_pairs + 1, sizeof(*starts));
	if (!busy || !left || !starts)
		return -ENOMEM;
	for (size_t i = 0; i < n_pairs; i++)
		left[i] = i;
	r = schedule_alloc(n, 0, n_pairs, &s);
	if (r < 0)
		return r;
	while (n_left) {
		unsigned mark = rounds + 1, used = 0;
		size_t kept = 0;

		starts[rounds] = k;
		for (size_t i = 0; i < n_left; i++) {
			struct ibup_sweep_pair p = pair_norm(pairs[left[i]]);

			if (used >= full || busy[p.a] == mark || busy[p.b] == mark) {
				left[kept++] = left[i];
				continue;
			}
			busy[p.a] = busy[p.b] = mark;
			used += 2;
			s.pairs[k++] = p;
		}
		n_left = kept;
		rounds++;
	}
	starts[rounds] = k;
	free(s.round_start);
	s.round_start = TAKE_PTR(starts);
	s.n_rounds = rounds;
	s.n_pairs = k;
	*ret = s;
	return 0;
}

/* The labels' ranks in label order, for bsearch. */
struct label_ix {
	const char *label;
	unsigned rank;
};

static int label_ix_cmp(const void *x, const void *y)
{
	return strcmp(((const struct label_ix *)x)->label,
		      ((const struct label_ix *)y)->label);
}

/* A token as a rank: a label first, else a decimal rank number. */
static int token_rank(const char *tok, const struct label_ix *ix, unsigned n_ix,
		      unsigned n, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (ix) {
		struct label_ix key = { .label = tok };
		const struct label_ix *hit =
			bsearch(&key, ix, n_ix, sizeof(*ix), label_ix_cmp);

		if (hit) {
			*ret = hit->rank;
			return 0;
		}
	}
	if (tok[0] < '0' || tok[0] > '9')
		return -ENOENT;
	errno = 0;
	v = strtoul(tok, &end, 10);
	if (errno || *end || v >= n)
		return -ENOENT;
	*ret = (unsigned)v;
	return 0;
}

static int diag(struct ibup_diag *d, unsigned line, const char *msg, const char *tok)
{
	if (d) {
		d->line = line;
		d->column = 0;
		if (tok)
			snprintf(d->msg, sizeof(d->msg), "%s '%.64s'", msg, tok);
		else
			snprintf(d->msg, sizeof(d->msg), "%s", msg);
	}
	return -EINVAL;
}

int ibup_sweep_pairs_parse(const char *text, const char *const *labels, unsigned n,
			   struct ibup_sweep_pair **ret_pairs, size_t *ret_n,
			   struct ibup_diag *reterr)
{
	_cleanup_free_ struct label_ix *ix = NULL;
	_cleanup_free_ struct ibup_sweep_pair *out = NULL;
	_cleanup_free_ char *copy = NULL;
	size_t n_out = 0, cap = 0;
	unsigned line = 0;
	char *save = NULL;
	int r;

	if (!text || n < 2 || n > IBUP_SWEEP_MAX_NODES)
		return diag(reterr, 0, "no ranks to pair", NULL);
	if (labels) {
		ix = malloc((size_t)n * sizeof(*ix));
		if (!ix)
			return -ENOMEM;
		for (unsigned i = 0; i < n; i++)
			ix[i] = (struct label_ix){ labels[i] ? labels[i] : "", i };
		qsort(ix, n, sizeof(*ix), label_ix_cmp);
	}
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (char *ln = copy; ln; ln = save) {
		char *tok[4], *hash, *sp = NULL;
		unsigned n_tok = 0, rk[2];

		line++;
		save = strchr(ln, '\n');
		if (save)
			*save++ = '\0';
		hash = strchr(ln, '#');
		if (hash)
			*hash = '\0';
		for (char *t = strtok_r(ln, " \t\r,", &sp); t && n_tok < 4;
		     t = strtok_r(NULL, " \t\r,", &sp))
			tok[n_tok++] = t;
		if (n_tok == 0)
			continue;
		if (n_tok < 2 || n_tok > 3)
			return diag(reterr, line,
				    "expected 'NODE NODE' or 'ROUND NODE NODE'", NULL);
		for (unsigned j = 0; j < 2; j++) {
			const char *t = tok[n_tok - 2 + j];

			if (token_rank(t, ix, n, n, &rk[j]) < 0)
				return diag(reterr, line, "unknown node", t);
		}
		if (rk[0] == rk[1])
			return diag(reterr, line,
				    "a node paired with itself:", tok[n_tok - 1]);
		if (n_out == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct ibup_sweep_pair *np;

			if (nc > IBUP_SWEEP_MAX_MEAS)
				return diag(reterr, line, "too many pairs", NULL);
			np = realloc(out, nc * sizeof(*out));
			if (!np)
				return -ENOMEM;
			out = np;
			cap = nc;
		}
		out[n_out++] = (struct ibup_sweep_pair){ rk[0], rk[1] };
	}
	if (n_out == 0)
		return diag(reterr, line, "no pairs", NULL);
	r = pairs_check(n, out, n_out);
	if (r == -EINVAL)
		return diag(reterr, 0, "a pair is listed twice", NULL);
	if (r < 0)
		return r;
	*ret_pairs = TAKE_PTR(out);
	*ret_n = n_out;
	return 0;
}

const struct ibup_sweep_pair *
ibup_sweep_schedule_round(const struct ibup_sweep_schedule *s, unsigned round,
			  size_t *ret_n)
{
	if (!s || round >= s->n_rounds) {
		*ret_n = 0;
		return NULL;
	}
	*ret_n = s->round_start[round + 1] - s->round_start[round];
	return s->pairs + s->round_start[round];
}

void ibup_sweep_schedule_release(struct ibup_sweep_schedule *s)
{
	if (!s)
		return;
	free(s->round_start);
	free(s->pairs);
	memset(s, 0, sizeof(*s));
}

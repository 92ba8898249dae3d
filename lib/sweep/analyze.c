// SPDX-License-Identifier: MIT
/*
 * The sweep's verdict. Every pair is judged by its latest measurement against a floor
 * (bandwidth, each direction) and a ceiling (latency); then nodes are named greedily, the
 * worst first: a node poor with more than node_frac of the partners not yet explained is
 * bad, and its poor pairs are explained by it (so two bad nodes do not condemn a healthy
 * third that met both). Poor pairs left between nodes that are not bad are the links.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ibup/check.h"
#include "ibup/sweep.h"
#include "macro.h"
#include "banned.h"

void ibup_sweep_thresholds_init(struct ibup_sweep_thresholds *t)
{
	*t = (struct ibup_sweep_thresholds){
		.bw_min_gbps = NAN,
		.bw_rel = 0.8,
		.lat_max_us = NAN,
		.lat_rel = 2.0,
		.node_frac = 0.5,
		.max_retests = 3,
		.ignore_size = false,
	};
}

const char *ibup_sweep_floor_source_name(enum ibup_sweep_floor_source s)
{
	switch (s) {
	case IBUP_SWEEP_FLOOR_OPTION:
		return "option";
	case IBUP_SWEEP_FLOOR_VM_SIZE:
		return "vm_size";
	case IBUP_SWEEP_FLOOR_RELATIVE:
		break;
	}
	return "relative";
}

static int dbl_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* The median of the finite values of v[0..n) (reordered); NAN when none. */
static double median(double *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i]))
			v[k++] = v[i];
	if (!k)
		return NAN;
	qsort(v, k, sizeof(*v), dbl_cmp);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

static unsigned meas_poor(const struct ibup_sweep_meas *m, double floor, double ceiling)
{
	unsigned poor = 0;

	if (m->error)
		return IBUP_SWEEP_POOR_FAILED;
	/* a direction not measured at all in a bandwidth run is a failure to measure */
	if (isfinite(floor)) {
		if (!isfinite(m->bw_ab_gbps) || m->bw_ab_gbps < floor)
			poor |= IBUP_SWEEP_POOR_BW_AB;
		if (!isfinite(m->bw_ba_gbps) || m->bw_ba_gbps < floor)
			poor |= IBUP_SWEEP_POOR_BW_BA;
	}
	if (isfinite(ceiling) && isfinite(m->lat_us) && m->lat_us > ceiling)
		poor |= IBUP_SWEEP_POOR_LAT;
	return poor;
}

/* Measurement indexes by pair, then attempt, then the order taken. */
struct meas_base {
	const struct ibup_sweep_meas *meas;
};

static int meas_ix_cmp(const void *x, const void *y, void *arg)
{
	const struct meas_base *base = arg;
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	const struct ibup_sweep_meas *p = &base->meas[i], *q = &base->meas[j];

	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->b != q->b)
		return p->b < q->b ? -1 : 1;
	if (p->attempt != q->attempt)
		return p->attempt < q->attempt ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* How bad a poor pair is, for ordering: lower is worse. */
static double pair_score(const struct ibup_sweep_pair_result *p, double floor)
{
	double lo;

	if (p->poor & IBUP_SWEEP_POOR_FAILED)
		return -1;
	lo = fmin(isfinite(p->bw_ab_gbps) ? p->bw_ab_gbps : 0,
		  isfinite(p->bw_ba_gbps) ? p->bw_ba_gbps : 0);
	if (!isfinite(floor) || floor <= 0)
		return p->poor & IBUP_SWEEP_POOR_LAT ? 1 : 2;
	return lo / floor;
}

static int link_cmp(const void *x, const void *y, void *arg)
{
	const struct ibup_sweep_analysis *a = arg;
	const struct ibup_sweep_pair_result *p = &a->pairs[*(const size_t *)x],
					    *q = &a->pairs[*(const size_t *)y];
	double sp = pair_score(p, a->bw_floor_gbps), sq = pair_score(q, a->bw_floor_gbps);

	if (sp != sq)
		return sp < sq ? -1 : 1;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return p->b < q->b ? -1 : p->b > q->b;
}

static void set_floor(struct ibup_ctx *ctx, const struct ibup_sweep_run *run,
		      struct ibup_sweep_analysis *a)
{
	const struct ibup_sweep_thresholds *t = &a->thresholds;
	struct ibup_expect x;

	if (isfinite(t->bw_min_gbps)) {
		a->floor_source = IBUP_SWEEP_FLOOR_OPTION;
		a->bw_floor_gbps = t->bw_min_gbps;
		return;
	}
	if (ctx && run->vm_size && !t->ignore_size &&
	    ibup_expect_lookup(ctx, run->vm_size, &x) > 0) {
		if (isfinite(x.bw_threshold_gbps)) {
			a->floor_source = IBUP_SWEEP_FLOOR_VM_SIZE;
			a->bw_floor_gbps = x.bw_threshold_gbps;
			a->vm_size_family = x.family ? strdup(x.family) : NULL;
			ibup_expect_release(&x);
			return;
		}
		ibup_expect_release(&x);
	}
	a->floor_source = IBUP_SWEEP_FLOOR_RELATIVE;
	a->bw_floor_gbps = t->bw_rel * a->median_bw_gbps;
}

/* The fleet medians of the sweep itself (attempt 0): re-tests of suspects would bias them. */
static int fleet_medians(const struct ibup_sweep_run *run, struct ibup_sweep_analysis *a)
{
	_cleanup_free_ double *bw = malloc((run->n_meas * 2 + 1) * sizeof(*bw));
	_cleanup_free_ double *lat = malloc((run->n_meas + 1) * sizeof(*lat));
	size_t nb = 0, nl = 0;

	if (!bw || !lat)
		return -ENOMEM;
	for (size_t i = 0; i < run->n_meas; i++) {
		const struct ibup_sweep_meas *m = &run->meas[i];

		if (m->attempt || m->error)
			continue;
		bw[nb++] = m->bw_ab_gbps;
		bw[nb++] = m->bw_ba_gbps;
		lat[nl++] = m->lat_us;
	}
	a->median_bw_gbps = median(bw, nb);
	a->median_lat_us = median(lat, nl);
	return 0;
}

static int build_pairs(const struct ibup_sweep_run *run, struct ibup_sweep_analysis *a)
{
	_cleanup_free_ size_t *ix = malloc(run->n_meas * sizeof(*ix));
	size_t np = 0;

	a->pairs = calloc(run->n_meas, sizeof(*a->pairs));
	if (!ix || !a->pairs)
		return -ENOMEM;
	for (size_t i = 0; i < run->n_meas; i++)
		ix[i] = i;
	qsort_r(ix, run->n_meas, sizeof(*ix), meas_ix_cmp,
		&(struct meas_base){ run->meas });
	for (size_t i = 0; i < run->n_meas; i++) {
		const struct ibup_sweep_meas *m = &run->meas[ix[i]];
		struct ibup_sweep_pair_result *p = np ? &a->pairs[np - 1] : NULL;
		unsigned poor = meas_poor(m, a->bw_floor_gbps, a->lat_ceiling_us);

		if (!p || p->a != m->a || p->b != m->b) {
			p = &a->pairs[np++];
			p->a = m->a;
			p->b = m->b;
		}
		p->attempts++;
		p->poor_attempts += poor != 0;
		p->poor = poor;
		p->bw_ab_gbps = m->bw_ab_gbps;
		p->bw_ba_gbps = m->bw_ba_gbps;
		p->lat_us = m->lat_us;
		p->error = m->error;
		if (m->attempt > a->retests)
			a->retests = m->attempt;
	}
	a->n_pairs = np;
	return 0;
}

/* Per-node counts and medians over every pair of the node. */
static int node_stats(const struct ibup_sweep_run *run, struct ibup_sweep_analysis *a,
		      const size_t *adj_start, const size_t *adj)
{
	size_t maxdeg = 0;
	_cleanup_free_ double *out = NULL, *in = NULL, *lat = NULL;

	for (unsigned v = 0; v < run->n_nodes; v++)
		if (adj_start[v + 1] - adj_start[v] > maxdeg)
			maxdeg = adj_start[v + 1] - adj_start[v];
	out = malloc((maxdeg + 1) * sizeof(*out));
	in = malloc((maxdeg + 1) * sizeof(*in));
	lat = malloc((maxdeg + 1) * sizeof(*lat));
	if (!out || !in || !lat)
		return -ENOMEM;
	for (unsigned v = 0; v < run->n_nodes; v++) {
		struct ibup_sweep_node_result *n = &a->nodes[v];
		size_t k = 0;

		n->rank = v;
		for (size_t j = adj_start[v]; j < adj_start[v + 1]; j++, k++) {
			const struct ibup_sweep_pair_result *p = &a->pairs[adj[j]];
			bool first = p->a == v;

			out[k] = first ? p->bw_ab_gbps : p->bw_ba_gbps;
			in[k] = first ? p->bw_ba_gbps : p->bw_ab_gbps;
			lat[k] = p->lat_us;
			n->partners++;
			n->poor_partners += p->poor != 0;
		}
		n->median_out_gbps = median(out, k);
		n->median_in_gbps = median(in, k);
		n->median_lat_us = median(lat, k);
	}
	return 0;
}

/* Name bad nodes, worst first, each explaining its own poor pairs. */
static int name_nodes(const struct ibup_sweep_run *run, struct ibup_sweep_analysis *a,
		      const size_t *adj_start, const size_t *adj)
{
	_cleanup_free_ unsigned *part = calloc(run->n_nodes, sizeof(*part));
	_cleanup_free_ unsigned *poor = calloc(run->n_nodes, sizeof(*poor));
	double frac = a->thresholds.node_frac;

	a->bad_nodes = calloc(run->n_nodes, sizeof(*a->bad_nodes));
	if (!part || !poor || !a->bad_nodes)
		return -ENOMEM;
	for (unsigned v = 0; v < run->n_nodes; v++) {
		part[v] = a->nodes[v].partners;
		poor[v] = a->nodes[v].poor_partners;
	}
	for (;;) {
		double best = -1;
		unsigned w = 0;

		for (unsigned v = 0; v < run->n_nodes; v++) {
			double f;

			if (a->nodes[v].bad || part[v] < 2 || !poor[v])
				continue;
			f = (double)poor[v] / part[v];
			if (f > frac && f > best) {
				best = f;
				w = v;
			}
		}
		if (best < 0)
			break;
		a->nodes[w].bad = true;
		/* its pairs no longer count for or against its partners */
		for (size_t j = adj_start[w]; j < adj_start[w + 1]; j++) {
			const struct ibup_sweep_pair_result *p = &a->pairs[adj[j]];
			unsigned u = p->a == w ? p->b : p->a;

			part[u]--;
			poor[u] -= p->poor != 0;
		}
	}
	for (unsigned v = 0; v < run->n_nodes; v++)
		if (a->nodes[v].bad)
			a->bad_nodes[a->n_bad_nodes++] = v;
	return 0;
}

static int name_links(struct ibup_sweep_analysis *a)
{
	a->bad_links = calloc(a->n_pairs + 1, sizeof(*a->bad_links));
	if (!a->bad_links)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_pairs; i++) {
		struct ibup_sweep_pair_result *p = &a->pairs[i];

		if (p->poor && !a->nodes[p->a].bad && !a->nodes[p->b].bad) {
			p->bad_link = true;
			a->bad_links[a->n_bad_links++] = i;
		}
	}
	qsort_r(a->bad_links, a->n_bad_links, sizeof(*a->bad_links), link_cmp, a);
	return 0;
}

static int analyze(struct ibup_ctx *ctx, const struct ibup_sweep_run *run,
		   struct ibup_sweep_analysis *a)
{
	_cleanup_free_ size_t *adj_start = NULL, *adj = NULL, *fill = NULL;
	bool quick = run->params.quick;
	size_t poor = 0;
	int r;

	r = fleet_medians(run, a);
	if (r < 0)
		return r;
	set_floor(ctx, run, a);
	a->lat_ceiling_us = isfinite(a->thresholds.lat_max_us)
				    ? a->thresholds.lat_max_us
				    : a->thresholds.lat_rel * a->median_lat_us;
	r = build_pairs(run, a);
	if (r < 0)
		return r;
	a->n_nodes = run->n_nodes;
	a->pairs_expected =
		quick ? run->n_nodes / 2 : (size_t)run->n_nodes * (run->n_nodes - 1) / 2;
	a->nodes = calloc(run->n_nodes, sizeof(*a->nodes));
	adj_start = calloc((size_t)run->n_nodes + 1, sizeof(*adj_start));
	fill = calloc((size_t)run->n_nodes + 1, sizeof(*fill));
	adj = malloc((2 * a->n_pairs + 1) * sizeof(*adj));
	if (!a->nodes || !adj_start || !fill || !adj)
		return -ENOMEM;
	/* each node's pairs, as one array cut by node (CSR) */
	for (size_t i = 0; i < a->n_pairs; i++) {
		adj_start[a->pairs[i].a + 1]++;
		adj_start[a->pairs[i].b + 1]++;
	}
	for (unsigned v = 0; v < run->n_nodes; v++)
		adj_start[v + 1] += adj_start[v];
	memcpy(fill, adj_start, ((size_t)run->n_nodes + 1) * sizeof(*fill));
	for (size_t i = 0; i < a->n_pairs; i++) {
		adj[fill[a->pairs[i].a]++] = i;
		adj[fill[a->pairs[i].b]++] = i;
	}
	r = node_stats(run, a, adj_start, adj);
	if (r < 0)
		return r;
	r = name_nodes(run, a, adj_start, adj);
	if (r < 0)
		return r;
	r = name_links(a);
	if (r < 0)
		return r;
	for (size_t i = 0; i < a->n_pairs; i++)
		poor += a->pairs[i].poor != 0;
	a->fleet_poor = poor * 2 > a->n_pairs;
	return 0;
}

int ibup_sweep_analyze(struct ibup_ctx *ctx, const struct ibup_sweep_run *run,
		       const struct ibup_sweep_thresholds *t,
		       struct ibup_sweep_analysis *ret)
{
	struct ibup_sweep_analysis a = { 0 };
	int r;

	if (!run || !run->n_nodes)
		return -EINVAL;
	if (!run->n_meas)
		return -ENODATA;
	if (t)
		a.thresholds = *t;
	else
		ibup_sweep_thresholds_init(&a.thresholds);
	r = analyze(ctx, run, &a);
	if (r < 0) {
		ibup_sweep_analysis_release(&a);
		return r;
	}
	*ret = a;
	return 0;
}

void ibup_sweep_analysis_release(struct ibup_sweep_analysis *a)
{
	if (!a)
		return;
	free(a->vm_size_family);
	free(a->nodes);
	free(a->pairs);
	free(a->bad_nodes);
	free(a->bad_links);
	memset(a, 0, sizeof(*a));
}

int ibup_sweep_suspects(struct ibup_ctx *ctx, const struct ibup_sweep_run *run,
			const struct ibup_sweep_thresholds *t,
			struct ibup_sweep_pair **ret_pairs, size_t *ret_n)
{
	struct ibup_sweep_analysis a;
	struct ibup_sweep_pair *out;
	size_t last = 0, cap;
	unsigned attempt = 0;
	int r;

	*ret_pairs = NULL;
	*ret_n = 0;
	r = ibup_sweep_analyze(ctx, run, t, &a);
	if (r < 0)
		return r;
	for (size_t i = 0; i < run->n_meas; i++)
		if (run->meas[i].attempt > attempt)
			attempt = run->meas[i].attempt;
	for (size_t i = 0; i < run->n_meas; i++)
		last += run->meas[i].attempt == attempt;
	/*
	 * Only the links are re-tested: a bad node's verdict rests on most of its partners,
	 * not on one sample, and re-testing its every pair would cost as many rounds as the
	 * sweep. The links come worst first, at most half as many as the last attempt had.
	 */
	cap = (last + 1) / 2;
	if (attempt >= a.thresholds.max_retests || !a.n_bad_links || !cap) {
		ibup_sweep_analysis_release(&a);
		return 0;
	}
	if (cap > a.n_bad_links)
		cap = a.n_bad_links;
	out = calloc(cap, sizeof(*out));
	if (!out) {
		ibup_sweep_analysis_release(&a);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cap; i++)
		out[i] = (struct ibup_sweep_pair){ a.pairs[a.bad_links[i]].a,
						   a.pairs[a.bad_links[i]].b };
	ibup_sweep_analysis_release(&a);
	*ret_pairs = out;
	*ret_n = cap;
	return 0;
}

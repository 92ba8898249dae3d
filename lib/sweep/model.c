// SPDX-License-Identifier: MIT
/*
 * The fabric model of the scale simulation: what the sweep would measure on a fat tree of
 * thousands of nodes with noise and a few faults, so the analysis can be scored (precision
 * and recall) where no such fabric is at hand. Everything here is a model, never a
 * measurement; its random numbers come from its own seeded generator (splitmix64), so a
 * seed always gives the same fabric and the same sweep.
 *
 * Every link (node to leaf, leaf to spine) also has its own lasting deviation, and every
 * measurement its own noise.
 *
 * Two levels: leaves of nodes_per_leaf nodes, each leaf with a link to every spine (a
 * "spine" stands for the plane a leaf's uplink reaches in a larger tree). A flow between
 * leaves goes up to the spine its (source, destination) hash picks, as adaptive routing or
 * ECMP spreads flows, and down to the other leaf. Under pure destination-mod-k routing a
 * bad downlink would slow every flow into one node and read as that node.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ibup/sweep.h"
#include "macro.h"
#include "banned.h"

enum node_fault {
	FAULT_NONE,
	FAULT_HCA, /* both directions */
	FAULT_CABLE_OUT, /* the node's cable to its leaf, sending */
	FAULT_CABLE_IN, /* ... receiving */
};

struct ibup_sweep_sim {
	struct ibup_sweep_fabric f;
	unsigned leaves;
	unsigned char *node_fault; /* enum node_fault, by rank */
	bool *uplink_bad; /* leaves × spines: the link between leaf l and spine s */
	double *node_k, *uplink_k; /* each link's lasting deviation (link_spread) */
	uint64_t rng;
};

void ibup_sweep_fabric_init(struct ibup_sweep_fabric *f, unsigned nodes)
{
	*f = (struct ibup_sweep_fabric){
		.nodes = nodes,
		.nodes_per_leaf = 20,
		.spines = 20,
		.link_gbps = 200,
		.efficiency = 0.97,
		.noise = 0.01,
		.link_spread = 0.01,
		.dip_rate = 0.002,
		.dip_factor = 0.5,
		.lat_us = 1.6,
		.hop_lat_us = 0.3,
		.fault_factor = 0.5,
		.seed = 1,
	};
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double uniform(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

/* Standard normal (Box-Muller; one of the pair is enough here). */
static double gauss(uint64_t *s)
{
	double u = uniform(s), v = uniform(s);

	return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

/* A stateless hash of the flow: the spine it goes through. */
static unsigned flow_spine(const struct ibup_sweep_sim *s, unsigned src, unsigned dst)
{
	uint64_t h = ((uint64_t)src << 32 | dst) ^ s->f.seed;

	return (unsigned)(splitmix64(&h) % s->f.spines);
}

static unsigned leaf_of(const struct ibup_sweep_sim *s, unsigned rank)
{
	return rank / s->f.nodes_per_leaf;
}

/* Does the flow src→dst cross a bad leaf-spine link? */
static bool flow_bad(const struct ibup_sweep_sim *s, unsigned src, unsigned dst)
{
	unsigned ls = leaf_of(s, src), ld = leaf_of(s, dst), sp;

	if (ls == ld)
		return false;
	sp = flow_spine(s, src, dst);
	return s->uplink_bad[(size_t)ls * s->f.spines + sp] ||
	       s->uplink_bad[(size_t)ld * s->f.spines + sp];
}

/* Pick k distinct values below n (a partial Fisher-Yates over an index array). */
static int pick(uint64_t *rng, size_t n, size_t k, size_t **ret)
{
	size_t *ix = malloc((n ? n : 1) * sizeof(*ix));

	if (!ix)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	for (size_t i = 0; i < k; i++) {
		size_t j = i + (size_t)(uniform(rng) * (double)(n - i)), t = ix[i];

		ix[i] = ix[j];
		ix[j] = t;
	}
	*ret = ix;
	return 0;
}

int ibup_sweep_sim_new(const struct ibup_sweep_fabric *f, struct ibup_sweep_sim **ret)
{
	_cleanup_free_ size_t *nodes = NULL, *links = NULL;
	struct ibup_sweep_sim *s;
	unsigned leaves;
	size_t n_links;

	if (f->nodes < 2 || f->nodes > IBUP_SWEEP_MAX_NODES || !f->nodes_per_leaf ||
	    !f->spines || !(f->link_gbps > 0) || !(f->efficiency > 0) || f->noise < 0 ||
	    f->dip_rate < 0 || f->dip_rate > 1 || f->fault_factor < 0 ||
	    (size_t)f->bad_hcas + f->bad_cables > f->nodes)
		return -EINVAL;
	leaves = (f->nodes + f->nodes_per_leaf - 1) / f->nodes_per_leaf;
	n_links = (size_t)leaves * f->spines;
	if (f->bad_spine_links && (leaves < 2 || f->bad_spine_links > n_links))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->f = *f;
	s->leaves = leaves;
	s->rng = f->seed;
	s->node_fault = calloc(f->nodes, 1);
	s->uplink_bad = calloc(n_links, sizeof(*s->uplink_bad));
	s->node_k = calloc(f->nodes, sizeof(*s->node_k));
	s->uplink_k = calloc(n_links, sizeof(*s->uplink_k));
	if (!s->node_fault || !s->uplink_bad || !s->node_k || !s->uplink_k ||
	    pick(&s->rng, f->nodes, (size_t)f->bad_hcas + f->bad_cables, &nodes) < 0 ||
	    pick(&s->rng, n_links, f->bad_spine_links, &links) < 0) {
		ibup_sweep_sim_free(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < f->bad_hcas; i++)
		s->node_fault[nodes[i]] = FAULT_HCA;
	for (unsigned i = 0; i < f->bad_cables; i++)
		s->node_fault[nodes[f->bad_hcas + i]] =
			splitmix64(&s->rng) & 1 ? FAULT_CABLE_OUT : FAULT_CABLE_IN;
	for (unsigned i = 0; i < f->bad_spine_links; i++)
		s->uplink_bad[links[i]] = true;
	/* no cable or port is quite like another: a lasting deviation each, at most 1 */
	for (unsigned i = 0; i < f->nodes; i++)
		s->node_k[i] = fmin(1, 1 + f->link_spread * gauss(&s->rng));
	for (size_t i = 0; i < n_links; i++)
		s->uplink_k[i] = fmin(1, 1 + f->link_spread * gauss(&s->rng));
	*ret = s;
	return 0;
}

struct ibup_sweep_sim *ibup_sweep_sim_free(struct ibup_sweep_sim *s)
{
	if (s) {
		free(s->node_fault);
		free(s->uplink_bad);
		free(s->node_k);
		free(s->uplink_k);
		free(s);
	}
	return NULL;
}

bool ibup_sweep_sim_node_is_bad(const struct ibup_sweep_sim *s, unsigned rank)
{
	return rank < s->f.nodes && s->node_fault[rank] != FAULT_NONE;
}

bool ibup_sweep_sim_pair_is_bad(const struct ibup_sweep_sim *s, unsigned a, unsigned b)
{
	if (a >= s->f.nodes || b >= s->f.nodes || a == b)
		return false;
	return flow_bad(s, a, b) || flow_bad(s, b, a);
}

/* What faults leave of the flow src→dst. */
static double flow_factor(const struct ibup_sweep_sim *s, unsigned src, unsigned dst)
{
	double k = 1;
	unsigned fs = s->node_fault[src], fd = s->node_fault[dst];

	if (fs == FAULT_HCA || fs == FAULT_CABLE_OUT)
		k *= s->f.fault_factor;
	if (fd == FAULT_HCA || fd == FAULT_CABLE_IN)
		k *= s->f.fault_factor;
	if (flow_bad(s, src, dst))
		k *= s->f.fault_factor;
	k *= s->node_k[src] * s->node_k[dst];
	if (leaf_of(s, src) != leaf_of(s, dst)) {
		unsigned sp = flow_spine(s, src, dst);

		k *= s->uplink_k[(size_t)leaf_of(s, src) * s->f.spines + sp] *
		     s->uplink_k[(size_t)leaf_of(s, dst) * s->f.spines + sp];
	}
	return k;
}

void ibup_sweep_sim_measure(struct ibup_sweep_sim *s, unsigned a, unsigned b,
			    struct ibup_sweep_meas *ret)
{
	const struct ibup_sweep_fabric *f = &s->f;
	double base = f->link_gbps * f->efficiency, dip = 1;
	bool cross = leaf_of(s, a) != leaf_of(s, b);

	if (uniform(&s->rng) < f->dip_rate)
		dip = f->dip_factor;
	*ret = (struct ibup_sweep_meas){ .a = a, .b = b };
	ret->bw_ab_gbps = fmax(0, base * flow_factor(s, a, b) * dip *
					  (1 + f->noise * gauss(&s->rng)));
	ret->bw_ba_gbps = fmax(0, base * flow_factor(s, b, a) * dip *
					  (1 + f->noise * gauss(&s->rng)));
	ret->lat_us = (f->lat_us + (cross ? 2 * f->hop_lat_us : 0)) *
		      (1 + f->noise * fabs(gauss(&s->rng)));
}

static int measure_schedule(struct ibup_sweep_sim *s,
			    const struct ibup_sweep_schedule *sch, unsigned attempt,
			    struct ibup_sweep_run *run)
{
	for (unsigned r = 0; r < sch->n_rounds; r++) {
		size_t n;
		const struct ibup_sweep_pair *p = ibup_sweep_schedule_round(sch, r, &n);

		for (size_t i = 0; i < n; i++) {
			struct ibup_sweep_meas m;
			int e;

			ibup_sweep_sim_measure(s, p[i].a, p[i].b, &m);
			m.round = r;
			m.attempt = attempt;
			e = ibup_sweep_run_add_meas(run, &m);
			if (e < 0)
				return e;
		}
	}
	return 0;
}

static int sim_sweep(struct ibup_sweep_sim *s, const struct ibup_sweep_thresholds *t,
		     struct ibup_sweep_run *run)
{
	struct ibup_sweep_schedule sch;
	int r;

	for (unsigned i = 0; i < s->f.nodes; i++) {
		char label[16];

		snprintf(label, sizeof(label), "n%04u", i);
		r = ibup_sweep_run_add_node(run, &(struct ibup_sweep_node){
							 .label = label,
							 .hostname = label,
							 .port = 1,
							 .numa_node = -1,
							 .rank = i,
						 });
		if (r < 0)
			return r;
	}
	if (ibup_sweep_run_set_str(&run->params.test, "write_bw") < 0 ||
	    ibup_sweep_run_set_str(&run->params.launcher, "model") < 0)
		return -ENOMEM;
	r = ibup_sweep_schedule_full(s->f.nodes, &sch);
	if (r < 0)
		return r;
	r = measure_schedule(s, &sch, 0, run);
	ibup_sweep_schedule_release(&sch);
	for (unsigned attempt = 1; r >= 0; attempt++) {
		_cleanup_free_ struct ibup_sweep_pair *sus = NULL;
		size_t n_sus;

		r = ibup_sweep_suspects(NULL, run, t, &sus, &n_sus);
		if (r < 0 || !n_sus)
			break;
		r = ibup_sweep_schedule_from_pairs(s->f.nodes, sus, n_sus, &sch);
		if (r < 0)
			break;
		r = measure_schedule(s, &sch, attempt, run);
		ibup_sweep_schedule_release(&sch);
	}
	return r;
}

int ibup_sweep_sim_sweep(struct ibup_sweep_sim *s, const struct ibup_sweep_thresholds *t,
			 struct ibup_sweep_run *ret)
{
	struct ibup_sweep_run run;
	int r;

	ibup_sweep_run_init(&run);
	r = sim_sweep(s, t, &run);
	if (r < 0) {
		ibup_sweep_run_release(&run);
		return r;
	}
	*ret = run;
	return 0;
}

double ibup_sweep_model_time_s(unsigned rounds, uint64_t bytes_per_pair, double link_gbps,
			       double efficiency, uint64_t lat_iterations, double lat_us,
			       double sync_s)
{
	double transfer = (double)bytes_per_pair * 8 / (link_gbps * efficiency * 1e9);
	double pingpong = (double)lat_iterations * 2 * lat_us * 1e-6;

	return rounds * (transfer + pingpong + sync_s);
}

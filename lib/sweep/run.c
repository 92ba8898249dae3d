// SPDX-License-Identifier: MIT
/*
 * The sweep's run model and its file (docs/sweep.schema.json): what ibup-sweep writes with
 * --output and `ibup sweep --analyze` reads. Reading is strict about types and ranges
 * (the file may come from anywhere) and names the first thing wrong.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ibup/ibup-json.h"
#include "ibup/sweep.h"
#include "macro.h"
#include "banned.h"

void ibup_sweep_run_init(struct ibup_sweep_run *run)
{
	memset(run, 0, sizeof(*run));
	run->elapsed_s = NAN;
	run->round_sync_s = NAN;
	run->params.duration_s = NAN;
}

static void node_release(struct ibup_sweep_node *n)
{
	free(n->label);
	free(n->hostname);
	free(n->physical_host);
	free(n->device);
}

void ibup_sweep_run_release(struct ibup_sweep_run *run)
{
	if (!run)
		return;
	for (unsigned i = 0; i < run->n_nodes; i++)
		node_release(&run->nodes[i]);
	for (size_t i = 0; i < run->n_meas; i++)
		free(run->meas[i].error);
	free(run->nodes);
	free(run->meas);
	free(run->vm_size);
	free(run->started);
	free(run->params.test);
	free(run->params.launcher);
	ibup_sweep_run_init(run);
}

int ibup_sweep_run_set_str(char **field, const char *value)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
	}
	free(*field);
	*field = copy;
	return 0;
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int ibup_sweep_run_add_node(struct ibup_sweep_run *run,
			    const struct ibup_sweep_node *node)
{
	struct ibup_sweep_node n = { 0 }, *grown;

	if (!node->label || !node->label[0] || node->rank != run->n_nodes ||
	    run->n_nodes >= IBUP_SWEEP_MAX_NODES)
		return -EINVAL;
	/* labels name ranks in reports and pair lists; callers add each node once, so the
	 * quadratic check is bounded by the node count, not the measurements */
	for (unsigned i = 0; i < run->n_nodes; i++)
		if (!strcmp(run->nodes[i].label, node->label))
			return -EINVAL;
	grown = realloc(run->nodes, ((size_t)run->n_nodes + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	run->nodes = grown;
	n.port = node->port;
	n.numa_node = node->numa_node < 0 ? -1 : node->numa_node;
	n.rank = node->rank;
	if (dup_opt(&n.label, node->label) < 0 ||
	    dup_opt(&n.hostname, node->hostname) < 0 ||
	    dup_opt(&n.physical_host, node->physical_host) < 0 ||
	    dup_opt(&n.device, node->device) < 0) {
		node_release(&n);
		return -ENOMEM;
	}
	run->nodes[run->n_nodes++] = n;
	return 0;
}

int ibup_sweep_run_add_meas(struct ibup_sweep_run *run, const struct ibup_sweep_meas *m)
{
	struct ibup_sweep_meas c = *m;

	if (m->a >= run->n_nodes || m->b >= run->n_nodes || m->a == m->b ||
	    run->n_meas >= IBUP_SWEEP_MAX_MEAS)
		return -EINVAL;
	if (run->n_meas == run->cap_meas) {
		size_t nc = run->cap_meas ? run->cap_meas * 2 : 256;
		struct ibup_sweep_meas *grown = realloc(run->meas, nc * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		run->meas = grown;
		run->cap_meas = nc;
	}
	if (c.a > c.b) {
		c.a = m->b;
		c.b = m->a;
		c.bw_ab_gbps = m->bw_ba_gbps;
		c.bw_ba_gbps = m->bw_ab_gbps;
	}
	if (dup_opt(&c.error, m->error) < 0)
		return -ENOMEM;
	run->meas[run->n_meas++] = c;
	return 0;
}

/* ---- writing ----------------------------------------------------------------------- */

static json_t *num(double v)
{
	return ibup_json_real(v);
}

static json_t *node_json(const struct ibup_sweep_node *n)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (ibup_json_set(o, "rank", json_integer(n->rank)) < 0 ||
	    ibup_json_set(o, "label", ibup_json_str(n->label)) < 0 ||
	    ibup_json_set(o, "hostname", ibup_json_str(n->hostname)) < 0 ||
	    ibup_json_set(o, "physical_host", ibup_json_str(n->physical_host)) < 0 ||
	    ibup_json_set(o, "device", ibup_json_str(n->device)) < 0 ||
	    ibup_json_set(o, "port", n->port ? json_integer(n->port) : json_null()) < 0 ||
	    ibup_json_set(o, "numa_node", ibup_json_int(n->numa_node)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *meas_json(const struct ibup_sweep_meas *m)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (ibup_json_set(o, "a", json_integer(m->a)) < 0 ||
	    ibup_json_set(o, "b", json_integer(m->b)) < 0 ||
	    ibup_json_set(o, "round", json_integer(m->round)) < 0 ||
	    ibup_json_set(o, "attempt", json_integer(m->attempt)) < 0 ||
	    ibup_json_set(o, "bw_ab_gbps", num(m->bw_ab_gbps)) < 0 ||
	    ibup_json_set(o, "bw_ba_gbps", num(m->bw_ba_gbps)) < 0 ||
	    ibup_json_set(o, "lat_us", num(m->lat_us)) < 0 ||
	    ibup_json_set(o, "error", ibup_json_str(m->error)) < 0 ||
	    ibup_json_set(o, "reconnects", json_integer(m->reconnects)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *params_json(const struct ibup_sweep_params *p)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (ibup_json_set(o, "test", ibup_json_str(p->test)) < 0 ||
	    ibup_json_set(o, "size_bytes", json_integer((json_int_t)p->size)) < 0 ||
	    ibup_json_set(o, "duration_s", num(p->duration_s)) < 0 ||
	    ibup_json_set(o, "iterations", json_integer((json_int_t)p->iterations)) < 0 ||
	    ibup_json_set(o, "lat_iterations",
			  json_integer((json_int_t)p->lat_iterations)) < 0 ||
	    ibup_json_set(o, "per_hca", json_boolean(p->per_hca)) < 0 ||
	    ibup_json_set(o, "quick", json_boolean(p->quick)) < 0 ||
	    ibup_json_set(o, "launcher", ibup_json_str(p->launcher)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *poor_json(unsigned poor)
{
	static const char *const names[] = { "bw_ab", "bw_ba", "latency", "failed" };
	json_t *arr = json_array();

	for (unsigned i = 0; arr && i < IBUP_ARRAY_SIZE(names); i++)
		if (poor & (1u << i) &&
		    json_array_append_new(arr, json_string(names[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

static json_t *pair_result_json(const struct ibup_sweep_run *run,
				const struct ibup_sweep_pair_result *p)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (ibup_json_set(o, "a", json_integer(p->a)) < 0 ||
	    ibup_json_set(o, "b", json_integer(p->b)) < 0 ||
	    ibup_json_set(o, "label_a", ibup_json_str(run->nodes[p->a].label)) < 0 ||
	    ibup_json_set(o, "label_b", ibup_json_str(run->nodes[p->b].label)) < 0 ||
	    ibup_json_set(o, "bw_ab_gbps", num(p->bw_ab_gbps)) < 0 ||
	    ibup_json_set(o, "bw_ba_gbps", num(p->bw_ba_gbps)) < 0 ||
	    ibup_json_set(o, "lat_us", num(p->lat_us)) < 0 ||
	    ibup_json_set(o, "attempts", json_integer(p->attempts)) < 0 ||
	    ibup_json_set(o, "poor_attempts", json_integer(p->poor_attempts)) < 0 ||
	    ibup_json_set(o, "poor", poor_json(p->poor)) < 0 ||
	    ibup_json_set(o, "error", ibup_json_str(p->error)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *node_result_json(const struct ibup_sweep_run *run,
				const struct ibup_sweep_node_result *n)
{
	const struct ibup_sweep_node *node = &run->nodes[n->rank];
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (ibup_json_set(o, "rank", json_integer(n->rank)) < 0 ||
	    ibup_json_set(o, "label", ibup_json_str(node->label)) < 0 ||
	    ibup_json_set(o, "hostname", ibup_json_str(node->hostname)) < 0 ||
	    ibup_json_set(o, "physical_host", ibup_json_str(node->physical_host)) < 0 ||
	    ibup_json_set(o, "partners", json_integer(n->partners)) < 0 ||
	    ibup_json_set(o, "poor_partners", json_integer(n->poor_partners)) < 0 ||
	    ibup_json_set(o, "median_out_gbps", num(n->median_out_gbps)) < 0 ||
	    ibup_json_set(o, "median_in_gbps", num(n->median_in_gbps)) < 0 ||
	    ibup_json_set(o, "median_lat_us", num(n->median_lat_us)) < 0 ||
	    ibup_json_set(o, "bad", json_boolean(n->bad)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *thresholds_json(const struct ibup_sweep_thresholds *t)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (ibup_json_set(o, "bw_min_gbps", num(t->bw_min_gbps)) < 0 ||
	    ibup_json_set(o, "bw_rel", num(t->bw_rel)) < 0 ||
	    ibup_json_set(o, "lat_max_us", num(t->lat_max_us)) < 0 ||
	    ibup_json_set(o, "lat_rel", num(t->lat_rel)) < 0 ||
	    ibup_json_set(o, "node_frac", num(t->node_frac)) < 0 ||
	    ibup_json_set(o, "max_retests", json_integer(t->max_retests)) < 0 ||
	    ibup_json_set(o, "ignore_size", json_boolean(t->ignore_size)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *analysis_json(const struct ibup_sweep_run *run,
			     const struct ibup_sweep_analysis *a)
{
	json_t *o = json_object(), *nodes = json_array(), *bad = json_array(),
	       *links = json_array();
	size_t measured = a->n_pairs;
	int r = 0;

	if (!o || !nodes || !bad || !links) {
		json_decref(o);
		json_decref(nodes);
		json_decref(bad);
		json_decref(links);
		return NULL;
	}
	for (unsigned i = 0; i < a->n_nodes && !r; i++)
		r = json_array_append_new(nodes, node_result_json(run, &a->nodes[i]));
	for (unsigned i = 0; i < a->n_bad_nodes && !r; i++)
		r = json_array_append_new(
			bad, node_result_json(run, &a->nodes[a->bad_nodes[i]]));
	for (size_t i = 0; i < a->n_bad_links && !r; i++)
		r = json_array_append_new(
			links, pair_result_json(run, &a->pairs[a->bad_links[i]]));
	if (r < 0 ||
	    ibup_json_set(o, "healthy",
			  json_boolean(!a->n_bad_nodes && !a->n_bad_links)) < 0 ||
	    ibup_json_set(o, "floor_source",
			  json_string(ibup_sweep_floor_source_name(a->floor_source))) <
		    0 ||
	    ibup_json_set(o, "vm_size_family", ibup_json_str(a->vm_size_family)) < 0 ||
	    ibup_json_set(o, "bw_floor_gbps", num(a->bw_floor_gbps)) < 0 ||
	    ibup_json_set(o, "lat_ceiling_us", num(a->lat_ceiling_us)) < 0 ||
	    ibup_json_set(o, "median_bw_gbps", num(a->median_bw_gbps)) < 0 ||
	    ibup_json_set(o, "median_lat_us", num(a->median_lat_us)) < 0 ||
	    ibup_json_set(o, "thresholds", thresholds_json(&a->thresholds)) < 0 ||
	    ibup_json_set(o, "pairs_expected",
			  json_integer((json_int_t)a->pairs_expected)) < 0 ||
	    ibup_json_set(o, "pairs_measured", json_integer((json_int_t)measured)) < 0 ||
	    ibup_json_set(o, "retests", json_integer(a->retests)) < 0 ||
	    ibup_json_set(o, "fleet_poor", json_boolean(a->fleet_poor)) < 0 ||
	    ibup_json_set(o, "bad_nodes", TAKE_PTR(bad)) < 0 ||
	    ibup_json_set(o, "bad_links", TAKE_PTR(links)) < 0 ||
	    ibup_json_set(o, "nodes", TAKE_PTR(nodes)) < 0) {
		json_decref(o);
		json_decref(nodes);
		json_decref(bad);
		json_decref(links);
		return NULL;
	}
	return o;
}

int ibup_sweep_run_to_json(const struct ibup_sweep_run *run,
			   const struct ibup_sweep_analysis *a, char **ret_text)
{
	json_t *o = json_object(), *nodes = json_array(), *meas = json_array();
	char *body, *text;
	size_t len;
	int r = 0;

	if (!o || !nodes || !meas)
		r = -ENOMEM;
	for (unsigned i = 0; i < run->n_nodes && !r; i++)
		r = json_array_append_new(nodes, node_json(&run->nodes[i])) < 0 ? -ENOMEM
										: 0;
	for (size_t i = 0; i < run->n_meas && !r; i++)
		r = json_array_append_new(meas, meas_json(&run->meas[i])) < 0 ? -ENOMEM
									      : 0;
	if (!r &&
	    (ibup_json_set(o, "schema_version", json_integer(1)) < 0 ||
	     ibup_json_set(o, "vm_size", ibup_json_str(run->vm_size)) < 0 ||
	     ibup_json_set(o, "started", ibup_json_str(run->started)) < 0 ||
	     ibup_json_set(o, "elapsed_s", num(run->elapsed_s)) < 0 ||
	     ibup_json_set(o, "round_sync_s", num(run->round_sync_s)) < 0 ||
	     ibup_json_set(o, "params", params_json(&run->params)) < 0 ||
	     ibup_json_set(o, "nodes", TAKE_PTR(nodes)) < 0 ||
	     ibup_json_set(o, "measurements", TAKE_PTR(meas)) < 0 ||
	     ibup_json_set(o, "analysis", a ? analysis_json(run, a) : json_null()) < 0))
		r = -ENOMEM;
	json_decref(nodes);
	json_decref(meas);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	body = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!body)
		return -ENOMEM;
	len = strlen(body);
	text = realloc(body, len + 2);
	if (!text) {
		free(body);
		return -ENOMEM;
	}
	memcpy(text + len, "\n", 2);
	*ret_text = text;
	return 0;
}

/* ---- reading ----------------------------------------------------------------------- */

_printf_(2, 3) static int bad(struct ibup_diag *d, const char *fmt, ...)
{
	va_list ap;

	if (d) {
		d->line = d->column = 0;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A key that must be there; NULL (and the diag) when missing. */
static json_t *need(json_t *o, const char *key, const char *where, struct ibup_diag *d)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		bad(d, "%s: missing key '%s'", where, key);
	return v;
}

static int get_str(json_t *o, const char *key, const char *where, char **ret,
		   struct ibup_diag *d)
{
	json_t *v = need(o, key, where, d);

	if (!v)
		return -EINVAL;
	if (json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return bad(d, "%s: '%s' must be a string or null", where, key);
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

/* A number or null (NAN); negative only where allowed. */
static int get_num(json_t *o, const char *key, const char *where, bool negative,
		   double *ret, struct ibup_diag *d)
{
	json_t *v = need(o, key, where, d);

	if (!v)
		return -EINVAL;
	if (json_is_null(v)) {
		*ret = NAN;
		return 0;
	}
	if (!json_is_number(v))
		return bad(d, "%s: '%s' must be a number or null", where, key);
	*ret = json_number_value(v);
	if (!isfinite(*ret) || (!negative && *ret < 0))
		return bad(d, "%s: '%s' out of range", where, key);
	return 0;
}

static int get_uint(json_t *o, const char *key, const char *where, uint64_t max,
		    uint64_t *ret, struct ibup_diag *d)
{
	json_t *v = need(o, key, where, d);

	if (!v)
		return -EINVAL;
	if (!json_is_integer(v))
		return bad(d, "%s: '%s' must be an integer", where, key);
	if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return bad(d, "%s: '%s' out of range", where, key);
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_bool(json_t *o, const char *key, const char *where, bool *ret,
		    struct ibup_diag *d)
{
	json_t *v = need(o, key, where, d);

	if (!v)
		return -EINVAL;
	if (!json_is_boolean(v))
		return bad(d, "%s: '%s' must be true or false", where, key);
	*ret = json_is_true(v);
	return 0;
}

static int read_params(json_t *o, struct ibup_sweep_params *p, struct ibup_diag *d)
{
	int r;

	if (!json_is_object(o))
		return bad(d, "'params' must be an object");
	if ((r = get_str(o, "test", "params", &p->test, d)) < 0 ||
	    (r = get_uint(o, "size_bytes", "params", UINT64_MAX >> 1, &p->size, d)) < 0 ||
	    (r = get_num(o, "duration_s", "params", false, &p->duration_s, d)) < 0 ||
	    (r = get_uint(o, "iterations", "params", UINT64_MAX >> 1, &p->iterations,
			  d)) < 0 ||
	    (r = get_uint(o, "lat_iterations", "params", UINT64_MAX >> 1,
			  &p->lat_iterations, d)) < 0 ||
	    (r = get_bool(o, "per_hca", "params", &p->per_hca, d)) < 0 ||
	    (r = get_bool(o, "quick", "params", &p->quick, d)) < 0 ||
	    (r = get_str(o, "launcher", "params", &p->launcher, d)) < 0)
		return r;
	return 0;
}

static int read_node(json_t *o, size_t i, struct ibup_sweep_run *run, struct ibup_diag *d)
{
	char where[32];
	_cleanup_free_ char *label = NULL, *host = NULL, *phys = NULL, *dev = NULL;
	uint64_t rank, port = 0;
	json_t *pv, *nv;
	int r, numa = -1;

	snprintf(where, sizeof(where), "nodes[%zu]", i);
	if (!json_is_object(o))
		return bad(d, "%s must be an object", where);
	if ((r = get_uint(o, "rank", where, IBUP_SWEEP_MAX_NODES, &rank, d)) < 0 ||
	    (r = get_str(o, "label", where, &label, d)) < 0 ||
	    (r = get_str(o, "hostname", where, &host, d)) < 0 ||
	    (r = get_str(o, "physical_host", where, &phys, d)) < 0 ||
	    (r = get_str(o, "device", where, &dev, d)) < 0)
		return r;
	if (rank != i)
		return bad(d, "%s: 'rank' is %llu, expected %zu", where,
			   (unsigned long long)rank, i);
	if (!label || !label[0])
		return bad(d, "%s: 'label' must be a non-empty string", where);
	pv = need(o, "port", where, d);
	nv = need(o, "numa_node", where, d);
	if (!pv || !nv)
		return -EINVAL;
	if (!json_is_null(pv) && (r = get_uint(o, "port", where, 255, &port, d)) < 0)
		return r;
	if (!json_is_null(nv)) {
		uint64_t v;

		if ((r = get_uint(o, "numa_node", where, 65535, &v, d)) < 0)
			return r;
		numa = (int)v;
	}
	r = ibup_sweep_run_add_node(run, &(struct ibup_sweep_node){
						 .label = label,
						 .hostname = host,
						 .physical_host = phys,
						 .device = dev,
						 .port = (unsigned)port,
						 .numa_node = numa,
						 .rank = (unsigned)rank,
					 });
	if (r == -EINVAL)
		return bad(d, "%s: label '%.40s' is used twice", where, label);
	return r;
}

static int read_meas(json_t *o, size_t i, struct ibup_sweep_run *run, struct ibup_diag *d)
{
	char where[40];
	_cleanup_free_ char *error = NULL;
	struct ibup_sweep_meas m = { 0 };
	uint64_t a, b, round, attempt, reconnects = 0;
	int r;

	snprintf(where, sizeof(where), "measurements[%zu]", i);
	if (!json_is_object(o))
		return bad(d, "%s must be an object", where);
	if ((r = get_uint(o, "a", where, UINT32_MAX, &a, d)) < 0 ||
	    (r = get_uint(o, "b", where, UINT32_MAX, &b, d)) < 0 ||
	    (r = get_uint(o, "round", where, UINT32_MAX, &round, d)) < 0 ||
	    (r = get_uint(o, "attempt", where, UINT32_MAX, &attempt, d)) < 0 ||
	    (r = get_num(o, "bw_ab_gbps", where, false, &m.bw_ab_gbps, d)) < 0 ||
	    (r = get_num(o, "bw_ba_gbps", where, false, &m.bw_ba_gbps, d)) < 0 ||
	    (r = get_num(o, "lat_us", where, false, &m.lat_us, d)) < 0 ||
	    (r = get_str(o, "error", where, &error, d)) < 0)
		return r;
	/* Runs saved before the key existed have none: no re-connection. */
	if (json_object_get(o, "reconnects") &&
	    (r = get_uint(o, "reconnects", where, UINT32_MAX, &reconnects, d)) < 0)
		return r;
	if (a >= run->n_nodes || b >= run->n_nodes)
		return bad(d, "%s: rank out of range (%u nodes)", where, run->n_nodes);
	if (a == b)
		return bad(d, "%s: a node paired with itself", where);
	m.a = (unsigned)a;
	m.b = (unsigned)b;
	m.round = (unsigned)round;
	m.attempt = (unsigned)attempt;
	m.reconnects = (unsigned)reconnects;
	m.error = error;
	r = ibup_sweep_run_add_meas(run, &m);
	if (r == -EINVAL)
		return bad(d, "too many measurements");
	return r;
}

static int read_run(json_t *root, struct ibup_sweep_run *run, struct ibup_diag *d)
{
	json_t *v, *nodes, *meas;
	size_t i;
	int r;

	if (!json_is_object(root))
		return bad(d, "a sweep run must be a JSON object");
	v = need(root, "schema_version", "run", d);
	if (!v)
		return -EINVAL;
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return bad(d, "unsupported schema_version (this ibup reads 1)");
	if ((r = get_str(root, "vm_size", "run", &run->vm_size, d)) < 0 ||
	    (r = get_str(root, "started", "run", &run->started, d)) < 0 ||
	    (r = get_num(root, "elapsed_s", "run", false, &run->elapsed_s, d)) < 0 ||
	    (r = get_num(root, "round_sync_s", "run", false, &run->round_sync_s, d)) < 0)
		return r;
	v = need(root, "params", "run", d);
	if (!v)
		return -EINVAL;
	r = read_params(v, &run->params, d);
	if (r < 0)
		return r;
	nodes = need(root, "nodes", "run", d);
	meas = need(root, "measurements", "run", d);
	if (!nodes || !meas)
		return -EINVAL;
	if (!json_is_array(nodes) || !json_is_array(meas))
		return bad(d, "'nodes' and 'measurements' must be arrays");
	if (json_array_size(nodes) > IBUP_SWEEP_MAX_NODES)
		return bad(d, "more than %u nodes", IBUP_SWEEP_MAX_NODES);
	json_array_foreach(nodes, i, v)
	{
		r = read_node(v, i, run, d);
		if (r < 0)
			return r;
	}
	json_array_foreach(meas, i, v)
	{
		r = read_meas(v, i, run, d);
		if (r < 0)
			return r;
	}
	return 0;
}

int ibup_sweep_run_from_json(const char *text, size_t len, struct ibup_sweep_run *ret,
			     struct ibup_diag *reterr)
{
	struct ibup_sweep_run run;
	json_error_t jerr;
	json_t *root;
	int r;

	if (len > IBUP_SWEEP_MAX_JSON) {
		if (reterr)
			snprintf(reterr->msg, sizeof(reterr->msg), "larger than %u MiB",
				 IBUP_SWEEP_MAX_JSON >> 20);
		return -EFBIG;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (reterr) {
			reterr->line = jerr.line > 0 ? (unsigned)jerr.line : 0;
			reterr->column = jerr.column > 0 ? (unsigned)jerr.column : 0;
			snprintf(reterr->msg, sizeof(reterr->msg), "%.120s", jerr.text);
		}
		return -EINVAL;
	}
	ibup_sweep_run_init(&run);
	r = read_run(root, &run, reterr);
	json_decref(root);
	if (r < 0) {
		ibup_sweep_run_release(&run);
		return r;
	}
	*ret = run;
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * The sweep's reports, as strings for the caller to print or save: the text summary, the
 * CSV matrix, the SVG heat map and the Slurm drain lines. Built with open_memstream, as
 * lib/metrics' text format is.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ibup/plan.h"
#include "ibup/sweep.h"
#include "macro.h"
#include "banned.h"

/* The summary lists this many bad links, the worst; --json and the CSV have them all. */
#define TEXT_LINKS_MAX 20u
/* Above this many nodes the heat map draws only the cells that are not fine. */
#define SVG_FULL_MAX 256u

/* Close an open_memstream stream: its buffer is only final after fclose. */
static int mem_close(FILE *f, char **buf, char **ret)
{
	bool failed = ferror(f);

	if (fclose(f) || failed) {
		free(*buf);
		return -ENOMEM;
	}
	*ret = *buf;
	return 0;
}

static void print_gbps(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.*f Gb/s", v < 10 ? 2 : 1, v);
	else
		fputs("-", f);
}

static void print_us(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.2f µs", v);
	else
		fputs("-", f);
}

static void print_node(FILE *f, const struct ibup_sweep_node *n)
{
	bool open = false;

	fputs(n->label, f);
	if (n->hostname && strcmp(n->hostname, n->label)) {
		fprintf(f, " (host %s", n->hostname);
		open = true;
	}
	if (n->physical_host) {
		fprintf(f, "%sphysical host %s", open ? ", " : " (", n->physical_host);
		open = true;
	}
	if (n->device) {
		fprintf(f, "%s%s", open ? ", " : " (", n->device);
		if (n->port)
			fprintf(f, ":%u", n->port);
		open = true;
	}
	if (open)
		fputc(')', f);
}

static void print_poor(FILE *f, const struct ibup_sweep_run *run,
		       const struct ibup_sweep_pair_result *p)
{
	const char *sep = "";

	if (p->poor & IBUP_SWEEP_POOR_FAILED) {
		fprintf(f, "failed: %s", p->error ? p->error : "no result");
		return;
	}
	if (p->poor & IBUP_SWEEP_POOR_BW_AB) {
		fprintf(f, "%s→%s", run->nodes[p->a].label, run->nodes[p->b].label);
		sep = ", ";
	}
	if (p->poor & IBUP_SWEEP_POOR_BW_BA) {
		fprintf(f, "%s%s→%s", sep, run->nodes[p->b].label,
			run->nodes[p->a].label);
		sep = ", ";
	}
	if (p->poor & IBUP_SWEEP_POOR_LAT)
		fprintf(f, "%slatency", sep);
}

/* The worst TEXT_LINKS_MAX bad links, then which nodes most of them share. */
static void print_links(FILE *f, const struct ibup_sweep_run *run,
			const struct ibup_sweep_analysis *a)
{
	unsigned *count = calloc(run->n_nodes, sizeof(*count));

	for (size_t i = 0; i < a->n_bad_links; i++) {
		const struct ibup_sweep_pair_result *p = &a->pairs[a->bad_links[i]];

		if (count) {
			count[p->a]++;
			count[p->b]++;
		}
		if (i >= TEXT_LINKS_MAX)
			continue;
		fputs("  ", f);
		print_node(f, &run->nodes[p->a]);
		fputs(" <-> ", f);
		print_node(f, &run->nodes[p->b]);
		fputs("\n    ", f);
		print_gbps(f, p->bw_ab_gbps);
		fputs(" / ", f);
		print_gbps(f, p->bw_ba_gbps);
		fputs(", ", f);
		print_us(f, p->lat_us);
		fprintf(f, "; poor in %u of %u attempts (", p->poor_attempts,
			p->attempts);
		print_poor(f, run, p);
		fputs(")\n", f);
	}
	if (a->n_bad_links > TEXT_LINKS_MAX)
		fprintf(f,
			"  ... and %zu more (all of them in --json and the CSV matrix)\n",
			a->n_bad_links - TEXT_LINKS_MAX);
	/*
	 * Many links through a few nodes point at what they share: a leaf switch, or the
	 * links between a leaf and the spines. The nodes in the most bad links, up to 8.
	 */
	if (count && a->n_bad_links >= 10) {
		fputs("  Nodes in the most bad links:", f);
		for (unsigned k = 0; k < 8; k++) {
			unsigned best = 0, w = 0;

			for (unsigned v = 0; v < run->n_nodes; v++)
				if (count[v] > best) {
					best = count[v];
					w = v;
				}
			if (best < 2)
				break;
			fprintf(f, "%s %s (%u)", k ? "," : "", run->nodes[w].label, best);
			count[w] = 0;
		}
		fputs("\n", f);
	}
	free(count);
}

int ibup_sweep_report_text(const struct ibup_sweep_run *run,
			   const struct ibup_sweep_analysis *a, char **ret_text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -errno;
	fprintf(f, "Sweep: %u %s, %zu of %zu pairs measured", run->n_nodes,
		run->params.per_hca ? "ranks (one per HCA)" : "nodes", a->n_pairs,
		a->pairs_expected);
	if (a->retests)
		fprintf(f, ", %u re-test round%s", a->retests,
			a->retests == 1 ? "" : "s");
	if (isfinite(run->elapsed_s))
		fprintf(f, ", %.1f s", run->elapsed_s);
	fputs("\n", f);
	fputs("Floor: ", f);
	print_gbps(f, a->bw_floor_gbps);
	fputs(" each way", f);
	switch (a->floor_source) {
	case IBUP_SWEEP_FLOOR_OPTION:
		fputs(" (set)", f);
		break;
	case IBUP_SWEEP_FLOOR_VM_SIZE:
		fprintf(f, " (%s, %s)", run->vm_size,
			a->vm_size_family ? a->vm_size_family : "");
		break;
	case IBUP_SWEEP_FLOOR_RELATIVE:
		fprintf(f, " (%.2f × fleet median ", a->thresholds.bw_rel);
		print_gbps(f, a->median_bw_gbps);
		fputs(")", f);
		break;
	}
	fputs("; latency ceiling ", f);
	print_us(f, a->lat_ceiling_us);
	if (!isfinite(a->thresholds.lat_max_us) && isfinite(a->median_lat_us)) {
		fprintf(f, " (%.1f × median ", a->thresholds.lat_rel);
		print_us(f, a->median_lat_us);
		fputs(")", f);
	}
	fputs("\n", f);

	if (a->n_bad_nodes) {
		fprintf(f,
			"\nBad nodes (%u): poor with most partners, so the node itself (its HCA, "
			"cable or host)\n",
			a->n_bad_nodes);
		for (unsigned i = 0; i < a->n_bad_nodes; i++) {
			const struct ibup_sweep_node_result *n =
				&a->nodes[a->bad_nodes[i]];

			fputs("  ", f);
			print_node(f, &run->nodes[n->rank]);
			fprintf(f, "\n    poor with %u of %u partners; median out ",
				n->poor_partners, n->partners);
			print_gbps(f, n->median_out_gbps);
			fputs(", in ", f);
			print_gbps(f, n->median_in_gbps);
			fputs(", latency ", f);
			print_us(f, n->median_lat_us);
			fputs("\n", f);
		}
	}
	if (a->n_bad_links) {
		if (run->params.quick)
			fprintf(f,
				"\nPoor pairs (%zu): one of the two nodes, or the path between "
				"them\n",
				a->n_bad_links);
		else
			fprintf(f,
				"\nBad links (%zu): a poor pair of healthy nodes, so the path "
				"between them\n",
				a->n_bad_links);
		print_links(f, run, a);
	}
	if (!a->n_bad_nodes && !a->n_bad_links)
		fputs("\nVerdict: healthy: no bad node, no bad link\n", f);
	else
		fprintf(f, "\nVerdict: %u bad node%s, %zu %s%s\n", a->n_bad_nodes,
			a->n_bad_nodes == 1 ? "" : "s", a->n_bad_links,
			run->params.quick ? "poor pair" : "bad link",
			a->n_bad_links == 1 ? "" : "s");
	if (a->fleet_poor)
		fputs("Note: most pairs are poor: the floor does not fit this fabric, or all of it "
		      "is slow; nothing is drained\n",
		      f);
	if (run->params.quick)
		fputs("Note: a quick sweep meets each node once, so a poor pair is either node or "
		      "the path between them: run the full sweep to tell\n",
		      f);
	else if (a->n_pairs < a->pairs_expected)
		fprintf(f,
			"Note: %zu of the %zu pairs were not measured (a pair list, or a run cut "
			"short); a node is judged on the partners it met\n",
			a->pairs_expected - a->n_pairs, a->pairs_expected);
	{
		unsigned stalled = 0, times = 0;

		for (size_t i = 0; i < run->n_meas; i++)
			if (run->meas[i].reconnects) {
				stalled++;
				times += run->meas[i].reconnects;
			}
		if (stalled)
			fprintf(f,
				"Note: %u measurement%s stalled (nothing completed within the "
				"time limit) and %s re-connected %u time%s in all; each counts "
				"its last connection\n",
				stalled, stalled == 1 ? "" : "s",
				stalled == 1 ? "was" : "were", times,
				times == 1 ? "" : "s");
	}
	return mem_close(f, &buf, ret_text);
}

/* RFC 4180: quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The latest pair result of (u, v), u != v; NULL when not measured. */
static const struct ibup_sweep_pair_result *find_pair(const struct ibup_sweep_analysis *a,
						      unsigned u, unsigned v)
{
	size_t lo = 0, hi = a->n_pairs;
	unsigned x = u < v ? u : v, y = u < v ? v : u;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ibup_sweep_pair_result *p = &a->pairs[mid];

		if (p->a == x && p->b == y)
			return p;
		if (p->a < x || (p->a == x && p->b < y))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Bandwidth u→v of a pair result. */
static double bw_from(const struct ibup_sweep_pair_result *p, unsigned u)
{
	return p->a == u ? p->bw_ab_gbps : p->bw_ba_gbps;
}

int ibup_sweep_report_csv(const struct ibup_sweep_run *run,
			  const struct ibup_sweep_analysis *a, enum ibup_sweep_csv what,
			  char **ret_text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (what != IBUP_SWEEP_CSV_BW && what != IBUP_SWEEP_CSV_LAT)
		return -EINVAL;
	f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	fputs(what == IBUP_SWEEP_CSV_BW ? "from\\to" : "node", f);
	for (unsigned c = 0; c < run->n_nodes; c++) {
		fputc(',', f);
		csv_field(f, run->nodes[c].label);
	}
	fputs("\r\n", f);
	for (unsigned r = 0; r < run->n_nodes; r++) {
		csv_field(f, run->nodes[r].label);
		for (unsigned c = 0; c < run->n_nodes; c++) {
			const struct ibup_sweep_pair_result *p =
				r == c ? NULL : find_pair(a, r, c);
			double v = NAN;

			fputc(',', f);
			if (p)
				v = what == IBUP_SWEEP_CSV_BW ? bw_from(p, r) : p->lat_us;
			if (isfinite(v))
				fprintf(f, "%.2f", v);
		}
		fputs("\r\n", f);
	}
	return mem_close(f, &buf, ret_text);
}

/* XML-escaped text. */
static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, f);
		}
	}
}

/* Red (at half the floor or less) through amber to green (at the floor or above). */
static void cell_colour(double ratio, char out[8])
{
	double t = fmin(fmax((ratio - 0.5) / 0.5, 0), 1);
	unsigned r, g;

	if (t >= 1) {
		snprintf(out, 8, "#2e9d4a");
		return;
	}
	r = (unsigned)(220 - 40 * t);
	g = (unsigned)(40 + 150 * t);
	snprintf(out, 8, "#%02x%02x30", r, g);
}

struct order_arg {
	const struct ibup_sweep_run *run;
	const struct ibup_sweep_analysis *a;
};

static int order_cmp(const void *x, const void *y, void *arg)
{
	const struct order_arg *o = arg;
	unsigned u = *(const unsigned *)x, v = *(const unsigned *)y;
	bool bu = o->a->nodes[u].bad, bv = o->a->nodes[v].bad;
	int c;

	if (bu != bv)
		return bu ? -1 : 1;
	c = strcmp(o->run->nodes[u].label, o->run->nodes[v].label);
	return c ? c : (u < v ? -1 : u > v);
}

int ibup_sweep_report_svg(const struct ibup_sweep_run *run,
			  const struct ibup_sweep_analysis *a, char **ret_text)
{
	_cleanup_free_ unsigned *order = NULL;
	unsigned n = run->n_nodes, cell, margin, side, width, height;
	bool full = n <= SVG_FULL_MAX, labels;
	double floor = a->bw_floor_gbps;
	char *buf = NULL, colour[8];
	size_t len = 0;
	FILE *f;

	if (!n)
		return -EINVAL;
	order = malloc((size_t)n * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), order_cmp, &(struct order_arg){ run, a });
	cell = n <= 32 ? 24 : n <= 128 ? 8 : n <= 512 ? 2 : 1;
	labels = n <= 128;
	margin = labels ? 120 : 10;
	side = margin + cell * n + 10;
	/* room below for the two lines of the legend */
	width = side > 600 ? side : 600;
	height = side + 44;
	f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
		"viewBox=\"0 0 %u %u\" font-family=\"sans-serif\" font-size=\"%u\">\n",
		width, height, width, height, cell >= 24 ? 11u : 7u);
	fprintf(f,
		"<title>ibup sweep: bandwidth row→column against the floor (%.*f Gb/s)</title>\n",
		floor < 10 ? 2 : 1, isfinite(floor) ? floor : 0.0);
	fprintf(f, "<rect width=\"%u\" height=\"%u\" fill=\"#ffffff\"/>\n", width,
		height);
	/* above SVG_FULL_MAX, one rectangle for the fine cells and only the rest drawn */
	if (!full)
		fprintf(f,
			"<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"#2e9d4a\"/>\n",
			margin, margin, cell * n, cell * n);
	for (unsigned i = 0; i < n; i++) {
		for (unsigned j = 0; j < n; j++) {
			unsigned r = order[i], c = order[j];
			const struct ibup_sweep_pair_result *p =
				r == c ? NULL : find_pair(a, r, c);
			double v;

			if (r == c)
				continue;
			if (!p) {
				snprintf(colour, sizeof(colour), "#d0d0d0");
			} else if (p->poor & IBUP_SWEEP_POOR_FAILED) {
				snprintf(colour, sizeof(colour), "#000000");
			} else {
				v = bw_from(p, r);
				cell_colour(isfinite(v) && floor > 0 ? v / floor : 0,
					    colour);
				if (p->poor & IBUP_SWEEP_POOR_LAT && !(p->poor & 3))
					snprintf(colour, sizeof(colour), "#e0a020");
			}
			if (!full && p && !p->poor)
				continue;
			fprintf(f,
				"<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"%s\"/>\n",
				margin + j * cell, margin + i * cell, cell, cell, colour);
		}
	}
	/*
	 * On a large map a bad node's row and column are a line or two of pixels: outline
	 * them, so the cross shows at any scale (bad nodes are first: the top and left).
	 */
	if (n > 64) {
		unsigned stroke = n / 200 > 1 ? n / 200 : 1;

		for (unsigned i = 0; i < n && a->nodes[order[i]].bad; i++) {
			fprintf(f,
				"<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"none\" "
				"stroke=\"#d02020\" stroke-width=\"%u\"/>\n",
				margin, margin + i * cell, cell * n, cell, stroke);
			fprintf(f,
				"<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"none\" "
				"stroke=\"#d02020\" stroke-width=\"%u\"/>\n",
				margin + i * cell, margin, cell, cell * n, stroke);
		}
	}
	if (labels) {
		for (unsigned i = 0; i < n; i++) {
			const struct ibup_sweep_node *nd = &run->nodes[order[i]];
			const char *weight =
				a->nodes[order[i]].bad ? " font-weight=\"bold\"" : "";

			fprintf(f, "<text x=\"%u\" y=\"%u\" text-anchor=\"end\"%s>",
				margin - 4, margin + i * cell + cell * 3 / 4, weight);
			xml_text(f, nd->label);
			fputs("</text>\n", f);
			fprintf(f,
				"<text transform=\"translate(%u,%u) rotate(-90)\" text-anchor=\"start\"%s>",
				margin + i * cell + cell * 3 / 4, margin - 4, weight);
			xml_text(f, nd->label);
			fputs("</text>\n", f);
		}
	}
	fprintf(f,
		"<text x=\"10\" y=\"%u\" font-size=\"11\">rows send, columns receive: green "
		"at or above the floor (%.*f Gb/s), red at half of it or less;</text>\n",
		side + 16, floor < 10 ? 2 : 1, isfinite(floor) ? floor : 0.0);
	fprintf(f,
		"<text x=\"10\" y=\"%u\" font-size=\"11\">amber: latency only; grey: not "
		"measured; black: failed</text>\n",
		side + 32);
	fputs("</svg>\n", f);
	return mem_close(f, &buf, ret_text);
}

/* POSIX shell single quotes. */
static void sh_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/*
 * The reason a host is drained for: each of its bad ranks with its evidence, and the
 * physical host Azure support asks for. NULL on allocation failure.
 */
static char *drain_reason(const struct ibup_sweep_run *run,
			  const struct ibup_sweep_analysis *a, const char *host)
{
	char *reason = NULL;
	size_t len = 0;
	const char *phys = NULL, *sep = "";
	FILE *f = open_memstream(&reason, &len);

	if (!f)
		return NULL;
	fputs("ibup sweep:", f);
	for (unsigned j = 0; j < a->n_bad_nodes; j++) {
		const struct ibup_sweep_node_result *r = &a->nodes[a->bad_nodes[j]];
		const struct ibup_sweep_node *o = &run->nodes[r->rank];

		if (!o->hostname || strcmp(o->hostname, host))
			continue;
		fprintf(f, "%s %s poor with %u of %u partners", sep,
			o->device ? o->device : o->label, r->poor_partners, r->partners);
		sep = ";";
		if (o->physical_host)
			phys = o->physical_host;
	}
	if (phys)
		fprintf(f, "; physical host %s", phys);
	if (mem_close(f, &reason, &reason) < 0)
		return NULL;
	return reason;
}

/* Each host of a bad node once, in the order of the bad nodes; calls @fn with its reason. */
static int for_each_drain(const struct ibup_sweep_run *run,
			  const struct ibup_sweep_analysis *a,
			  int (*fn)(const char *host, const char *reason, void *data),
			  void *data)
{
	/* a floor that does not fit the fabric would drain the whole partition */
	if (a->fleet_poor)
		return 0;
	for (unsigned i = 0; i < a->n_bad_nodes; i++) {
		const struct ibup_sweep_node *nd = &run->nodes[a->bad_nodes[i]];
		_cleanup_free_ char *reason = NULL;
		bool seen = false;
		int r;

		if (!nd->hostname)
			continue;
		for (unsigned j = 0; j < i && !seen; j++) {
			const struct ibup_sweep_node *o = &run->nodes[a->bad_nodes[j]];

			seen = o->hostname && !strcmp(o->hostname, nd->hostname);
		}
		if (seen)
			continue;
		reason = drain_reason(run, a, nd->hostname);
		if (!reason)
			return -ENOMEM;
		r = fn(nd->hostname, reason, data);
		if (r < 0)
			return r;
	}
	return 0;
}

static int drain_line(const char *host, const char *reason, void *data)
{
	FILE *f = data;

	fputs("scontrol update nodename=", f);
	sh_quote(f, host);
	fputs(" state=drain reason=", f);
	sh_quote(f, reason);
	fputc('\n', f);
	return 0;
}

int ibup_sweep_report_drain(const struct ibup_sweep_run *run,
			    const struct ibup_sweep_analysis *a, char **ret_text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		return -errno;
	r = for_each_drain(run, a, drain_line, f);
	if (r < 0) {
		fclose(f);
		free(buf);
		return r;
	}
	return mem_close(f, &buf, ret_text);
}

static int drain_step(const char *host, const char *reason, void *data)
{
	_cleanup_free_ char *node = NULL, *why = NULL;
	const char *argv[6] = { "scontrol", "update", NULL, "state=drain", NULL, NULL };
	_cleanup_free_ char *rarg = NULL;
	int r;

	if (asprintf(&node, "nodename=%s", host) < 0 ||
	    asprintf(&rarg, "reason=%s", reason) < 0 ||
	    asprintf(&why, "drain %s in Slurm: the sweep found it bad", host) < 0)
		return -ENOMEM;
	argv[2] = node;
	argv[4] = rarg;
	r = ibup_plan_run(data, argv, NULL, 30000, NULL, 0, why);
	return r < 0 ? r : 0;
}

int ibup_sweep_drain_plan(struct ibup_ctx *ctx, const struct ibup_sweep_run *run,
			  const struct ibup_sweep_analysis *a, struct ibup_plan **ret)
{
	struct ibup_plan *plan = NULL;
	int r = ibup_plan_new(ctx, "sweep --drain", &plan);

	if (r >= 0 && a->fleet_poor)
		r = ibup_plan_note(
			plan, NULL,
			"nothing drained: most pairs are poor, so the floor does not fit "
			"this fabric or all of it is slow");
	if (r >= 0)
		r = for_each_drain(run, a, drain_step, plan);
	return ibup_plan_end(plan, r, ret);
}

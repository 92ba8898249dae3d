// SPDX-License-Identifier: MIT
/*
 * The sweep at scale, by simulation: a fat tree of 16 … 4096 nodes with noise, transient
 * dips and injected faults (bad HCAs, bad node cables, bad leaf-spine links) stands in
 * for the measurements; the sweep's own schedule, halving re-tests and analysis run on
 * it, and are scored: precision and recall of the nodes and links they name, and how
 * many healthy nodes they blame. The sweep's time is a MODEL: rounds × (bytes per pair ÷
 * the link rate + the latency test + the per-round cost of keeping ranks in step, which
 * ibup-sweep measures and saves as round_sync_s). Nothing here is a measurement.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ibup/sweep.h"

struct opts {
	const char *write_run; /* the first seed's run of the last size, for --analyze */
	unsigned seeds, max_nodes;
	double link_gbps, sync_s, noise, link_spread, dip_rate, fault_factor;
	uint64_t bytes_per_pair, lat_iterations;
};

struct score {
	unsigned runs;
	unsigned nodes_true, nodes_found, nodes_blamed; /* injected, found, named */
	size_t links_true, links_found, links_blamed;
	unsigned healthy_blamed;
	unsigned rounds, retest_rounds;
	double cpu_s;
};

/* Rounds of each attempt: one more than the highest round number seen in it. */
static void count_rounds(const struct ibup_sweep_run *run, unsigned *ret_sweep,
			 unsigned *ret_retest)
{
	unsigned top[16] = { 0 };
	bool seen[16] = { false };

	for (size_t i = 0; i < run->n_meas; i++) {
		unsigned at = run->meas[i].attempt < 16 ? run->meas[i].attempt : 15;

		seen[at] = true;
		if (run->meas[i].round + 1 > top[at])
			top[at] = run->meas[i].round + 1;
	}
	*ret_sweep = top[0];
	*ret_retest = 0;
	for (unsigned i = 1; i < 16; i++)
		*ret_retest += seen[i] ? top[i] : 0;
}

static int save_run(const char *path, const struct ibup_sweep_run *run,
		    const struct ibup_sweep_analysis *a)
{
	char *text = NULL;
	FILE *f;
	int r = ibup_sweep_run_to_json(run, a, &text);

	if (r < 0)
		return r;
	f = fopen(path, "we");
	if (!f || fputs(text, f) < 0)
		r = -errno;
	if (f && fclose(f) && !r)
		r = -errno;
	free(text);
	return r;
}

static int one(unsigned n, uint64_t seed, bool save, const struct opts *o,
	       struct score *sc)
{
	struct ibup_sweep_fabric f;
	struct ibup_sweep_sim *s = NULL;
	struct ibup_sweep_run run;
	struct ibup_sweep_analysis a;
	unsigned sweep_rounds, retest_rounds;
	clock_t t0 = clock();
	int r;

	ibup_sweep_fabric_init(&f, n);
	f.link_gbps = o->link_gbps;
	f.noise = o->noise;
	f.link_spread = o->link_spread;
	f.dip_rate = o->dip_rate;
	f.fault_factor = o->fault_factor;
	if (n < 2 * f.nodes_per_leaf)
		f.nodes_per_leaf = n / 4 ? n / 4 : 1; /* at least a few leaves */
	f.bad_hcas = n / 256 ? n / 256 : 1;
	f.bad_cables = n / 512 ? n / 512 : 1;
	f.bad_spine_links = n / 512 ? n / 512 : 1;
	f.seed = seed;
	r = ibup_sweep_sim_new(&f, &s);
	if (r < 0)
		return r;
	r = ibup_sweep_sim_sweep(s, NULL, &run);
	if (r < 0) {
		ibup_sweep_sim_free(s);
		return r;
	}
	r = ibup_sweep_analyze(NULL, &run, NULL, &a);
	if (r < 0) {
		ibup_sweep_run_release(&run);
		ibup_sweep_sim_free(s);
		return r;
	}
	for (unsigned v = 0; v < n; v++) {
		bool truth = ibup_sweep_sim_node_is_bad(s, v);

		sc->nodes_true += truth;
		sc->nodes_blamed += a.nodes[v].bad;
		sc->nodes_found += truth && a.nodes[v].bad;
		sc->healthy_blamed += !truth && a.nodes[v].bad;
	}
	/* a link is scored only between nodes that are truly healthy: a bad node's pairs
	 * are its own evidence */
	for (unsigned x = 0; x < n; x++)
		for (unsigned y = x + 1; y < n; y++)
			sc->links_true += !ibup_sweep_sim_node_is_bad(s, x) &&
					  !ibup_sweep_sim_node_is_bad(s, y) &&
					  ibup_sweep_sim_pair_is_bad(s, x, y);
	for (size_t i = 0; i < a.n_bad_links; i++) {
		const struct ibup_sweep_pair_result *p = &a.pairs[a.bad_links[i]];

		sc->links_blamed++;
		sc->links_found += ibup_sweep_sim_pair_is_bad(s, p->a, p->b);
	}
	if (save && o->write_run) {
		r = save_run(o->write_run, &run, &a);
		if (r < 0)
			fprintf(stderr, "sweep-model: cannot write '%s': %s\n",
				o->write_run, strerror(-r));
	}
	count_rounds(&run, &sweep_rounds, &retest_rounds);
	sc->rounds += sweep_rounds;
	sc->retest_rounds += retest_rounds;
	sc->runs++;
	sc->cpu_s += (double)(clock() - t0) / CLOCKS_PER_SEC;
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
	ibup_sweep_sim_free(s);
	return 0;
}

/* "0.987", or "-" when nothing was named (or nothing was there to find). */
static const char *ratio(double num, double den, char buf[16])
{
	if (den > 0)
		snprintf(buf, 16, "%.3f", num / den);
	else
		snprintf(buf, 16, "-");
	return buf;
}

static double model_s(const struct opts *o, unsigned rounds)
{
	struct ibup_sweep_fabric f;

	ibup_sweep_fabric_init(&f, 2);
	return ibup_sweep_model_time_s(rounds, o->bytes_per_pair, o->link_gbps,
				       f.efficiency, o->lat_iterations, f.lat_us,
				       o->sync_s);
}

static void usage(FILE *out)
{
	fputs("Usage: sweep-model [--quick | --max-nodes N] [--seeds N]\n"
	      "                   [--sync-ms MS | --sync-from RUN.json] [--link-gbps G]\n"
	      "                   [--bytes-per-pair B] [--lat-iterations N] [--noise SD]\n"
	      "                   [--link-spread SD] [--dip-rate P] [--fault-factor F]\n"
	      "                   [--write-run FILE]\n"
	      "\n"
	      "The scale simulation of ibup sweep: detection precision and recall on a\n"
	      "modelled fat tree of 16 ... 4096 nodes, and the sweep's time BY A MODEL.\n"
	      "--sync-from takes the per-round cost from a run ibup-sweep saved\n"
	      "(round_sync_s). --quick: 16 ... 256 nodes only. --noise, --dip-rate,\n"
	      "--link-spread and --fault-factor make the fabric harder (defaults 0.01,\n"
	      "0.002, 0.01, 0.5).\n"
	      "--write-run saves the largest size's first run, for ibup sweep --analyze.\n",
	      out);
}

static int sync_from(const char *path, double *ret)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t cap = 0, len = 0;
	struct ibup_sweep_run run;
	struct ibup_diag d = { 0 };
	int r;

	if (!f)
		return -errno;
	for (;;) {
		size_t got;

		if (len == cap) {
			char *g = realloc(text, cap ? cap * 2 : 65536);

			if (!g) {
				free(text);
				fclose(f);
				return -ENOMEM;
			}
			text = g;
			cap = cap ? cap * 2 : 65536;
		}
		got = fread(text + len, 1, cap - len, f);
		if (!got)
			break;
		len += got;
	}
	fclose(f);
	r = ibup_sweep_run_from_json(text, len, &run, &d);
	free(text);
	if (r < 0) {
		fprintf(stderr, "sweep-model: '%s': %s\n", path, d.msg);
		return r;
	}
	r = isfinite(run.round_sync_s) ? 0 : -ENODATA;
	if (!r)
		*ret = run.round_sync_s;
	ibup_sweep_run_release(&run);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "seeds", required_argument, NULL, 's' },
		{ "sync-ms", required_argument, NULL, 'm' },
		{ "sync-from", required_argument, NULL, 'f' },
		{ "link-gbps", required_argument, NULL, 'g' },
		{ "bytes-per-pair", required_argument, NULL, 'b' },
		{ "lat-iterations", required_argument, NULL, 'l' },
		{ "max-nodes", required_argument, NULL, 'M' },
		{ "noise", required_argument, NULL, 'N' },
		{ "dip-rate", required_argument, NULL, 'D' },
		{ "fault-factor", required_argument, NULL, 'F' },
		{ "write-run", required_argument, NULL, 'w' },
		{ "link-spread", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* ClusterKit's defaults per pair: 16 × 32 MB each way, 1024 ping-pongs */
	struct opts o = { .seeds = 2,
			  .max_nodes = 4096,
			  .noise = 0.01,
			  .link_spread = 0.01,
			  .dip_rate = 0.002,
			  .fault_factor = 0.5,
			  .link_gbps = 200,
			  .sync_s = 0.005,
			  .bytes_per_pair = 16ull << 25,
			  .lat_iterations = 1024 };
	static const unsigned sizes[] = { 16, 64, 256, 1000, 4096 };
	const char *sync_source = "assumed";
	unsigned blamed_4096 = 0;
	double t1000 = NAN;
	bool have_4096 = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			o.max_nodes = 256;
			break;
		case 'M':
			o.max_nodes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'N':
			o.noise = strtod(optarg, NULL);
			break;
		case 'D':
			o.dip_rate = strtod(optarg, NULL);
			break;
		case 'F':
			o.fault_factor = strtod(optarg, NULL);
			break;
		case 'w':
			o.write_run = optarg;
			break;
		case 'S':
			o.link_spread = strtod(optarg, NULL);
			break;
		case 's':
			o.seeds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			o.sync_s = strtod(optarg, NULL) / 1000;
			break;
		case 'f':
			if (sync_from(optarg, &o.sync_s) < 0) {
				fprintf(stderr, "sweep-model: no round_sync_s in '%s'\n",
					optarg);
				return 2;
			}
			sync_source = "measured by ibup-sweep";
			break;
		case 'g':
			o.link_gbps = strtod(optarg, NULL);
			break;
		case 'b':
			o.bytes_per_pair = strtoull(optarg, NULL, 10);
			break;
		case 'l':
			o.lat_iterations = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.seeds || !(o.link_gbps > 0) || !(o.sync_s >= 0) || !(o.noise >= 0) ||
	    !(o.link_spread >= 0) || !(o.dip_rate >= 0 && o.dip_rate <= 1) ||
	    !(o.fault_factor >= 0)) {
		usage(stderr);
		return 2;
	}
	printf("ibup sweep at scale: a SIMULATION of the fabric and a MODEL of the time, not a "
	       "measurement\n");
	printf("fabric: %.0f Gb/s per direction (97%% reached), leaves of 20 nodes (fewer below "
	       "40 nodes), 20 spines,\n"
	       "        each link %.1f%% off (sd, lasting), %.1f%% noise (sd), %.1f%% of samples "
	       "a transient dip to 50%%\n",
	       o.link_gbps, o.link_spread * 100, o.noise * 100, o.dip_rate * 100);
	printf("faults: n/256 bad HCAs, n/512 bad node cables (one direction), n/512 bad "
	       "leaf-spine links (at least 1 each), each at %.0f%%\n",
	       o.fault_factor * 100);
	printf("time:   per round %.1f MiB each way / %.0f Gb/s + %llu ping-pongs + %.1f ms to "
	       "keep in step (%s)\n",
	       (double)o.bytes_per_pair / (1 << 20), o.link_gbps,
	       (unsigned long long)o.lat_iterations, o.sync_s * 1000, sync_source);
	printf("%u seed%s per size\n\n", o.seeds, o.seeds == 1 ? "" : "s");
	printf("%6s %7s %7s %9s %10s %11s %8s %10s %8s %11s %9s\n", "nodes", "rounds",
	       "retest", "nodes P", "nodes R", "healthy", "links P", "links R", "links",
	       "model time", "cpu s");
	printf("%6s %7s %7s %9s %10s %11s %8s %10s %8s %11s %9s\n", "", "", "rounds", "",
	       "", "blamed", "", "", "named", "(sweep+re)", "(sim)");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned n = sizes[i];
		struct score sc = { 0 };
		char b1[16], b2[16], b3[16], b4[16];
		double t;

		if (n > o.max_nodes)
			break;
		for (unsigned k = 0; k < o.seeds; k++) {
			int r = one(n, 1000 * n + k + 1, k == 0, &o, &sc);

			if (r < 0) {
				fprintf(stderr, "sweep-model: %u nodes: %s\n", n,
					strerror(-r));
				return 3;
			}
		}
		t = model_s(&o, (sc.rounds + sc.retest_rounds) / sc.runs);
		printf("%6u %7u %7.1f %9s %10s %11u %8s %10s %8.1f %9.1f s %9.1f\n", n,
		       sc.rounds / sc.runs, (double)sc.retest_rounds / sc.runs,
		       ratio(sc.nodes_found, sc.nodes_blamed, b1),
		       ratio(sc.nodes_found, sc.nodes_true, b2), sc.healthy_blamed,
		       ratio((double)sc.links_found, (double)sc.links_blamed, b3),
		       ratio((double)sc.links_found, (double)sc.links_true, b4),
		       (double)sc.links_blamed / sc.runs, t, sc.cpu_s / sc.runs);
		fflush(stdout);
		if (n == 1000)
			t1000 = t;
		if (n == 4096) {
			have_4096 = true;
			blamed_4096 = sc.healthy_blamed;
		}
	}
	printf("\nP: precision (named and truly bad / named), R: recall (named / truly bad); "
	       "links counted between truly healthy nodes\n");
	if (isfinite(t1000))
		printf("goal: full sweep of 1,000 HDR nodes < 2 min by the model: %.0f s, %s\n",
		       t1000, t1000 < 120 ? "met" : "NOT met");
	if (have_4096)
		printf("goal: no healthy node blamed at 4096: %u blamed in %u seed%s, %s\n",
		       blamed_4096, o.seeds, o.seeds == 1 ? "" : "s",
		       blamed_4096 ? "NOT met" : "met");
	return 0;
}

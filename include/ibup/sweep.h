// SPDX-License-Identifier: MIT
/*
 * libibup's fabric sweep: which pairs of nodes meet in which round (the circle method, or a
 * list of pairs), the run model (nodes and measurements) with its JSON file
 * (docs/sweep.schema.json), the analysis that names bad nodes and bad pairs, and the
 * reports built from it (text, CSV matrix, SVG heat map, Slurm drain lines). Nothing here
 * measures, talks MPI or prints: the ibup-sweep program measures and calls it, and
 * `ibup sweep --analyze RUN.json` re-reads a saved run.
 *
 * A fabric model (a fat tree with noise and injected faults) stands in for measurements
 * in the scale simulation of perf/.
 */
#ifndef IBUP_SWEEP_H
#define IBUP_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibup/ibup.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most ranks a run may hold (a node, or an HCA with --per-hca, is one rank). */
#define IBUP_SWEEP_MAX_NODES 65536u
/* The most measurements a run may hold: a full sweep of 5,792 ranks and its re-tests. */
#define IBUP_SWEEP_MAX_MEAS (16u << 20)
/* The most bytes of a run file ibup_sweep_run_from_json() accepts. */
#define IBUP_SWEEP_MAX_JSON (512u << 20)

/* ---- The schedule ------------------------------------------------------------------ */

/**
 * ibup_sweep_rounds() - rounds of the full sweep of @n ranks
 * @n: ranks
 *
 * Return: n - 1 for even @n, n for odd @n (one rank rests each round), 0 for n < 2.
 */
unsigned ibup_sweep_rounds(unsigned n);

/**
 * ibup_sweep_partner() - whom @rank meets in @round of the full sweep (the circle method)
 * @n: ranks
 * @round: 0 .. ibup_sweep_rounds(n) - 1
 * @rank: 0 .. n - 1
 *
 * Rank n - 1 (even n) stays put while the others rotate; over all rounds every pair meets
 * exactly once and no rank is in two pairs of one round. Every rank can compute its own
 * partner without talking to the others.
 *
 * Return: the partner's rank, -1 when @rank rests this round (odd @n), or -EINVAL when
 * @round or @rank is out of range.
 */
int ibup_sweep_partner(unsigned n, unsigned round, unsigned rank);

/* Two ranks, a < b. */
struct ibup_sweep_pair {
	unsigned a, b;
};

/* Rounds of disjoint pairs; pairs of round r are pairs[round_start[r] .. round_start[r+1]). */
struct ibup_sweep_schedule {
	unsigned n; /* ranks */
	unsigned n_rounds;
	size_t *round_start; /* n_rounds + 1 entries */
	struct ibup_sweep_pair *pairs;
	size_t n_pairs;
};

/**
 * ibup_sweep_schedule_full() - the full sweep: every pair once, in ibup_sweep_rounds(n) rounds
 * @n: ranks, 2 .. IBUP_SWEEP_MAX_NODES
 * @ret: filled on success; release with ibup_sweep_schedule_release()
 *
 * Return: 0, -EINVAL for @n out of range, -ENOMEM.
 */
int ibup_sweep_schedule_full(unsigned n, struct ibup_sweep_schedule *ret);

/**
 * ibup_sweep_schedule_quick() - one round in which every rank is tested once
 * @n: ranks, 2 .. IBUP_SWEEP_MAX_NODES
 * @ret: filled on success; release with ibup_sweep_schedule_release()
 *
 * The lower half meets the upper half (rank i with rank i + n/2), as ClusterKit's quick
 * mode; with odd @n the last rank rests. It finds gross faults but cannot tell a node from
 * a link: that needs the full sweep.
 *
 * Return: 0, -EINVAL, -ENOMEM.
 */
int ibup_sweep_schedule_quick(unsigned n, struct ibup_sweep_schedule *ret);

/**
 * ibup_sweep_schedule_from_pairs() - rounds for a given list of pairs
 * @n: ranks
 * @pairs: the pairs (a != b, both < @n; a and b in either order); duplicates are refused
 * @n_pairs: how many
 * @ret: filled on success; release with ibup_sweep_schedule_release()
 *
 * Greedy: each round takes, in list order, every remaining pair whose ranks are both still
 * free in that round. Every listed pair is in exactly one round; stored with a < b.
 *
 * Return: 0, -EINVAL (a rank out of range, a pair of a rank with itself, a pair listed
 * twice), -ENOMEM.
 */
int ibup_sweep_schedule_from_pairs(unsigned n, const struct ibup_sweep_pair *pairs,
				   size_t n_pairs, struct ibup_sweep_schedule *ret);

/**
 * ibup_sweep_pairs_parse() - read a pair list (ibup-sweep --pairs FILE)
 * @text: the file's text (NUL-terminated)
 * @labels: the ranks' labels (node names), @n of them; may be NULL for ranks only
 * @n: ranks
 * @ret_pairs: the pairs, in file order (a, b as written); free() it
 * @ret_n: how many
 * @reterr: the line and reason on failure
 *
 * One pair a line: "NODE NODE", each a label or a rank number; ClusterKit's custom format
 * "ROUND NODE NODE" is accepted too (its round is ignored: the rounds are rebuilt by
 * ibup_sweep_schedule_from_pairs()). Blank lines and text after '#' are ignored.
 *
 * Return: 0, -EINVAL (unknown node, a node with itself, a pair listed twice, bad line,
 * no pairs) with @reterr filled, -ENOMEM.
 */
int ibup_sweep_pairs_parse(const char *text, const char *const *labels, unsigned n,
			   struct ibup_sweep_pair **ret_pairs, size_t *ret_n,
			   struct ibup_diag *reterr);

/* Pairs of @round; NULL with *ret_n = 0 when @round is out of range. */
const struct ibup_sweep_pair *
ibup_sweep_schedule_round(const struct ibup_sweep_schedule *s, unsigned round,
			  size_t *ret_n);
void ibup_sweep_schedule_release(struct ibup_sweep_schedule *s);

/* ---- The run model ----------------------------------------------------------------- */

/* One rank: a node (the default) or one HCA of a node (--per-hca). */
struct ibup_sweep_node {
	char *label; /* unique in the run: the hostname, "host:mlx5_ib1" per HCA, or given */
	char *hostname; /* the Slurm node name drained for it; NULL: unknown */
	char *physical_host; /* Azure's PhysicalHostName (KVP pool 3); NULL: not Azure */
	char *device; /* "mlx5_ib0"; NULL: unknown */
	unsigned port;
	int numa_node; /* the HCA's NUMA node; -1: none or unknown */
	unsigned rank; /* its index in the run's nodes, 0 .. n_nodes - 1 */
};

/* One measurement of one pair: both directions at once, then the latency. */
struct ibup_sweep_meas {
	unsigned a, b; /* ranks, a < b */
	unsigned round; /* the round within its attempt */
	unsigned attempt; /* 0: the sweep; 1, 2, ...: re-test rounds of suspects */
	double bw_ab_gbps, bw_ba_gbps; /* a→b and b→a, both at once (Gb/s); NAN: none */
	double lat_us; /* small-message latency, half the round trip (µs); NAN: none */
	char *error; /* NULL, or why the pair could not be measured (then it counts as poor) */
	/* times the pair stalled (nothing completed within the time limit) and was
	 * re-connected and measured again within this attempt */
	unsigned reconnects;
};

/* How the run was made; recorded in the file, reported, not re-used by the analysis. */
struct ibup_sweep_params {
	char *test; /* the bandwidth test, "write_bw" */
	uint64_t size; /* bytes per message of the bandwidth test */
	double duration_s; /* bound per pair and direction (s); NAN: by iterations */
	uint64_t iterations; /* messages per pair (bandwidth); 0: by duration */
	uint64_t lat_iterations; /* round trips of the latency test; 0: none */
	bool per_hca; /* one rank per HCA, HCA i paired with HCA i */
	bool quick; /* one round only */
	char *launcher; /* "mpirun", "srun", or NULL */
};

struct ibup_sweep_run {
	char *vm_size; /* Azure VM size when known (picks the thresholds); NULL otherwise */
	char *started; /* RFC 3339 UTC, "2026-11-29T16:00:00Z"; NULL: unknown */
	double elapsed_s; /* the whole run's wall time; NAN: unknown */
	double round_sync_s; /* mean cost of keeping one round in step (s); NAN: unknown */
	struct ibup_sweep_params params;
	struct ibup_sweep_node *nodes; /* by rank */
	unsigned n_nodes;
	struct ibup_sweep_meas *meas; /* in the order taken */
	size_t n_meas;
	size_t cap_meas; /* private */
};

/* An empty run: no nodes, no measurements, every number NAN. */
void ibup_sweep_run_init(struct ibup_sweep_run *run);
void ibup_sweep_run_release(struct ibup_sweep_run *run);

/**
 * ibup_sweep_run_add_node() - append a rank (copying its strings)
 * @run: the run
 * @node: its rank must be run->n_nodes; label must be set and not yet used
 *
 * Return: 0, -EINVAL (rank out of order, no label, a label used twice, too many nodes),
 * -ENOMEM.
 */
int ibup_sweep_run_add_node(struct ibup_sweep_run *run,
			    const struct ibup_sweep_node *node);

/**
 * ibup_sweep_run_add_meas() - append a measurement (copying its error text)
 * @run: the run
 * @m: a and b are ranks of @run (in either order: they are stored a < b, the two
 *     bandwidths swapped to match)
 *
 * Return: 0, -EINVAL (a rank out of range, a == b, too many), -ENOMEM.
 */
int ibup_sweep_run_add_meas(struct ibup_sweep_run *run, const struct ibup_sweep_meas *m);

/**
 * ibup_sweep_run_set_str() - replace one of the run's owned strings
 * @field: &run->vm_size, &run->params.test, ...
 * @value: copied; NULL clears
 *
 * Return: 0 or -ENOMEM (the field is then unchanged).
 */
int ibup_sweep_run_set_str(char **field, const char *value);

/* ---- The analysis ------------------------------------------------------------------ */

/*
 * When a pair is poor, and when a node is bad. Bandwidth: a direction is poor below the
 * floor, which is bw_min_gbps when set, else the VM size's bw_threshold_gbps
 * (data/expect.json) when the run names a known size, else bw_rel × the fleet median of
 * every direction of the sweep's (attempt 0) measurements. Latency: poor above lat_max_us
 * when set, else above lat_rel × the fleet median. A pair that failed to run is poor.
 */
struct ibup_sweep_thresholds {
	double bw_min_gbps; /* absolute floor per direction; NAN: from the size, else relative */
	double bw_rel; /* default 0.8 */
	double lat_max_us; /* absolute ceiling; NAN: relative */
	double lat_rel; /* default 2.0 (ClusterKit: 2.1 × the minimum) */
	double node_frac; /* a node poor with more than this share of its partners is bad;
			     default 0.5 ("most") */
	unsigned
		max_retests; /* halving re-test rounds ibup_sweep_suspects() allows; default 3 */
	bool ignore_size; /* do not take the floor from the VM size */
};

void ibup_sweep_thresholds_init(struct ibup_sweep_thresholds *t);

enum ibup_sweep_poor {
	IBUP_SWEEP_POOR_BW_AB = 1 << 0, /* a→b below the floor */
	IBUP_SWEEP_POOR_BW_BA = 1 << 1, /* b→a below the floor */
	IBUP_SWEEP_POOR_LAT = 1 << 2, /* latency above the ceiling */
	IBUP_SWEEP_POOR_FAILED = 1 << 3, /* the pair could not be measured */
};

/* Where the bandwidth floor came from: "option", "vm_size", "relative". */
enum ibup_sweep_floor_source {
	IBUP_SWEEP_FLOOR_OPTION,
	IBUP_SWEEP_FLOOR_VM_SIZE,
	IBUP_SWEEP_FLOOR_RELATIVE,
};
const char *ibup_sweep_floor_source_name(enum ibup_sweep_floor_source s);

/* One pair as last measured. */
struct ibup_sweep_pair_result {
	unsigned a, b;
	unsigned attempts; /* times measured */
	unsigned poor_attempts; /* times found poor */
	double bw_ab_gbps, bw_ba_gbps, lat_us; /* the latest measurement */
	unsigned poor; /* enum ibup_sweep_poor bits of the latest measurement; 0: fine */
	const char *error; /* the latest error, borrowed from the run */
	bool bad_link; /* named as a bad pair: poor, and neither node bad */
};

struct ibup_sweep_node_result {
	unsigned rank;
	unsigned partners; /* ranks it was measured with */
	unsigned poor_partners; /* of which the pair is poor */
	double median_out_gbps, median_in_gbps; /* over its pairs, from it and to it */
	double median_lat_us;
	bool bad;
};

struct ibup_sweep_analysis {
	struct ibup_sweep_thresholds thresholds; /* as given */
	enum ibup_sweep_floor_source floor_source;
	double bw_floor_gbps; /* the effective floor */
	double lat_ceiling_us; /* the effective ceiling; NAN: no latency measured */
	double median_bw_gbps, median_lat_us; /* fleet medians of attempt 0 */
	char *vm_size_family; /* the size's family when the floor came from it */
	unsigned n_nodes;
	struct ibup_sweep_node_result *nodes; /* by rank */
	struct ibup_sweep_pair_result *pairs; /* every measured pair, by (a, b) */
	size_t n_pairs;
	size_t pairs_expected; /* n (n - 1) / 2, or the quick round's */
	unsigned *bad_nodes; /* ranks, ascending */
	unsigned n_bad_nodes;
	size_t *bad_links; /* indexes into pairs, worst first */
	size_t n_bad_links;
	unsigned retests; /* re-test attempts found in the run */
	bool fleet_poor; /* most pairs are poor: the floor does not fit this fabric, or all of
			    it is slow; the node and link verdicts then mean little */
};

/**
 * ibup_sweep_analyze() - name the bad nodes and the bad pairs of a run
 * @ctx: library context, for the VM size's expectations; NULL: no size lookup
 * @run: the run
 * @t: thresholds; NULL: the defaults
 * @ret: filled on success; release with ibup_sweep_analysis_release()
 *
 * Each pair is judged by its latest measurement (a re-test that passes clears a noisy
 * sample). A node whose pairs are poor with more than node_frac of its partners (and at
 * least two of them) is bad: its HCA, cable or host. A poor pair between two nodes that
 * are not bad is a bad link: the path between them. Poor pairs of a bad node are that
 * node's evidence, not links.
 *
 * Return: 0, -EINVAL (no nodes), -ENODATA (no measurements), -ENOMEM.
 */
int ibup_sweep_analyze(struct ibup_ctx *ctx, const struct ibup_sweep_run *run,
		       const struct ibup_sweep_thresholds *t,
		       struct ibup_sweep_analysis *ret);
void ibup_sweep_analysis_release(struct ibup_sweep_analysis *a);

/**
 * ibup_sweep_suspects() - the pairs to re-test next, ClusterKit-style halving
 * @ctx: as for ibup_sweep_analyze()
 * @run: the run so far
 * @t: thresholds; NULL: the defaults
 * @ret_pairs: the pairs, worst first; free() it (NULL when none)
 * @ret_n: how many; 0 when nothing is poor or the re-tests are used up
 *
 * The pairs whose latest measurement is poor, at most half as many as the previous
 * attempt measured (so re-test rounds halve and the sweep ends), none after max_retests
 * re-tests. Schedule them with ibup_sweep_schedule_from_pairs() and record them with the
 * next attempt number.
 *
 * Return: 0, or a negative errno as ibup_sweep_analyze().
 */
int ibup_sweep_suspects(struct ibup_ctx *ctx, const struct ibup_sweep_run *run,
			const struct ibup_sweep_thresholds *t,
			struct ibup_sweep_pair **ret_pairs, size_t *ret_n);

/* ---- JSON -------------------------------------------------------------------------- */

/**
 * ibup_sweep_run_to_json() - the run file (docs/sweep.schema.json)
 * @run: the run
 * @a: its analysis, written under "analysis"; NULL: "analysis" is null
 * @ret_text: NUL-terminated, indented, ending with a newline; free() it
 *
 * Return: 0, -ENOMEM.
 */
int ibup_sweep_run_to_json(const struct ibup_sweep_run *run,
			   const struct ibup_sweep_analysis *a, char **ret_text);

/**
 * ibup_sweep_run_from_json() - read a run file
 * @text: the file's bytes (need not be NUL-terminated)
 * @len: their length, at most IBUP_SWEEP_MAX_JSON
 * @ret: filled on success (release with ibup_sweep_run_release()), untouched on failure
 * @reterr: the reason (and line and column of a JSON syntax error) on failure
 *
 * "analysis" is ignored: the analysis is always recomputed.
 *
 * Return: 0, -EINVAL (not JSON, wrong schema_version, a missing or mistyped key, a rank
 * out of range, a label used twice), -EFBIG, -ENOMEM.
 */
int ibup_sweep_run_from_json(const char *text, size_t len, struct ibup_sweep_run *ret,
			     struct ibup_diag *reterr);

/* ---- Reports (strings; free() them) ------------------------------------------------- */

/* The summary for people: thresholds, the bad nodes and links with their evidence. */
int ibup_sweep_report_text(const struct ibup_sweep_run *run,
			   const struct ibup_sweep_analysis *a, char **ret_text);

enum ibup_sweep_csv {
	IBUP_SWEEP_CSV_BW, /* cell (row r, column c): bandwidth r→c in Gb/s */
	IBUP_SWEEP_CSV_LAT, /* cell: latency between r and c in µs (symmetric) */
};

/* The matrix: a header row of labels, one row per rank; empty cells where not measured. */
int ibup_sweep_report_csv(const struct ibup_sweep_run *run,
			  const struct ibup_sweep_analysis *a, enum ibup_sweep_csv what,
			  char **ret_text);

/*
 * An SVG heat map of bandwidth r→c relative to the floor, one cell per ordered pair, ranks
 * in label order with bad nodes first, so a bad node is a full row and column (a cross)
 * and a bad link two symmetric cells; no scripts, no external references.
 */
int ibup_sweep_report_svg(const struct ibup_sweep_run *run,
			  const struct ibup_sweep_analysis *a, char **ret_text);

/*
 * One "scontrol update nodename=HOST state=drain reason=\"...\"" line per host of a bad
 * node (hostnames shell-quoted; hosts without a hostname are skipped); "" when none, and
 * when the analysis is fleet_poor (a floor that does not fit would drain every node).
 */
int ibup_sweep_report_drain(const struct ibup_sweep_run *run,
			    const struct ibup_sweep_analysis *a, char **ret_text);

struct ibup_plan;

/**
 * ibup_sweep_drain_plan() - a plan that drains the bad nodes' hosts in Slurm
 * @ctx: library context
 * @run: the run
 * @a: its analysis
 * @ret: the plan (one run step "scontrol update nodename=HOST state=drain reason=..." per
 *       host of a bad node, the same lines ibup_sweep_report_drain() prints); free with
 *       ibup_plan_free(); show it or hand it to ibup_plan_execute(); only a note when
 *       the analysis is fleet_poor
 *
 * Return: 0, -ENOMEM, or ibup_plan_new()'s error.
 */
int ibup_sweep_drain_plan(struct ibup_ctx *ctx, const struct ibup_sweep_run *run,
			  const struct ibup_sweep_analysis *a, struct ibup_plan **ret);

/* ---- The fabric model (scale simulation) ------------------------------------------- */

/*
 * A two-level fat tree: leaves of nodes_per_leaf nodes, each leaf with one link to each
 * spine; a flow between leaves goes through the spine its (source, destination) hash
 * picks, as adaptive routing or ECMP spreads flows. It is non-blocking, so a round's
 * pairs do not slow each other. Every link has its own lasting deviation, every
 * measurement Gaussian noise, and a small share of measurements a transient dip (what
 * re-tests must clear). Faults: a bad HCA slows both directions of its node, a bad cable
 * (node to leaf) one direction, a bad spine link (leaf to spine, both directions) the
 * flows routed over it.
 */
struct ibup_sweep_fabric {
	unsigned nodes;
	unsigned nodes_per_leaf; /* default 20 (HDR 40-port leaves, half down) */
	unsigned spines; /* default 20 */
	double link_gbps; /* a node's data rate per direction; default 200 (HDR) */
	double efficiency; /* share of link_gbps a healthy pair reaches; default 0.97 */
	double noise; /* relative standard deviation per measurement; default 0.01 */
	double link_spread; /* each link's own lasting deviation (relative sd); default 0.01 */
	double dip_rate; /* share of measurements with a transient dip; default 0.002 */
	double dip_factor; /* what a dip leaves of the rate; default 0.5 */
	double lat_us; /* base latency through one leaf; default 1.6 */
	double hop_lat_us; /* added through a spine; default 0.3 */
	unsigned bad_hcas, bad_cables, bad_spine_links;
	double fault_factor; /* what a fault leaves of the rate; default 0.5 */
	uint64_t seed;
};

void ibup_sweep_fabric_init(struct ibup_sweep_fabric *f, unsigned nodes);

struct ibup_sweep_sim;

/**
 * ibup_sweep_sim_new() - build a fabric and place its faults (by the seed)
 * @f: the fabric; nodes 2 .. IBUP_SWEEP_MAX_NODES, faults no more than there are parts
 * @ret: the simulation; free with ibup_sweep_sim_free()
 *
 * Return: 0, -EINVAL, -ENOMEM.
 */
int ibup_sweep_sim_new(const struct ibup_sweep_fabric *f, struct ibup_sweep_sim **ret);
struct ibup_sweep_sim *ibup_sweep_sim_free(struct ibup_sweep_sim *s);

/* One modelled measurement of pair (a, b) (a < b), with the sim's next random draws. */
void ibup_sweep_sim_measure(struct ibup_sweep_sim *s, unsigned a, unsigned b,
			    struct ibup_sweep_meas *ret);

/* The injected truth: is @rank's HCA or cable bad; does pair (a, b) cross a bad spine link. */
bool ibup_sweep_sim_node_is_bad(const struct ibup_sweep_sim *s, unsigned rank);
bool ibup_sweep_sim_pair_is_bad(const struct ibup_sweep_sim *s, unsigned a, unsigned b);

/**
 * ibup_sweep_sim_sweep() - a whole modelled sweep: the full schedule, then halving
 * re-tests of suspects, as ibup-sweep runs it
 * @s: the simulation
 * @t: thresholds; NULL: the defaults
 * @ret: the run, filled (labels "n0000", ...); release with ibup_sweep_run_release()
 *
 * Return: 0, -ENOMEM.
 */
int ibup_sweep_sim_sweep(struct ibup_sweep_sim *s, const struct ibup_sweep_thresholds *t,
			 struct ibup_sweep_run *ret);

/*
 * The sweep's time as a model, never a measurement: each round moves bytes_per_pair each
 * way at link_gbps × efficiency, then lat_iterations round trips of the base latency, then
 * pays sync_s to keep the ranks in step (the per-round cost ibup-sweep measures).
 */
double ibup_sweep_model_time_s(unsigned rounds, uint64_t bytes_per_pair, double link_gbps,
			       double efficiency, uint64_t lat_iterations, double lat_us,
			       double sync_s);

#ifdef __cplusplus
}
#endif

#endif

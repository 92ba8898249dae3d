// SPDX-License-Identifier: MIT
/*
 * ibup-sweep: every pair of nodes of a fabric, measured with libibup's verbs engine,
 * then the bad nodes and bad links named (lib/sweep). An MPI program: MPI launches the
 * ranks (mpirun or srun), carries each endpoint's connection data, keeps the rounds in
 * step and brings the figures to rank 0. The traffic itself is ibup's (RC writes both
 * ways at once, and small-message send latency), never MPI's.
 *
 * One rank per node, or per HCA with --per-hca (HCA i of one node with HCA i of the
 * others). Rounds: the circle method (every pair once, all pairs of a round at the same
 * time), --quick (one round), or a pair list (--pairs FILE); then re-test rounds for the
 * suspects, halving. Rank 0 prints the summary and writes the run file.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ibup/azure.h"
#include "ibup/bench.h"
#include "ibup/ctx.h"
#include "ibup/model.h"
#include "ibup/plan.h"
#include "ibup/sweep.h"
#include "ibup/sys.h"
#include "banned.h"

#define EXIT_FINDINGS 1
#define EXIT_USAGE 2
#define EXIT_FAILURE_RUN 3

#define LABEL_MAX 128
#define MAX_LIST_DEVICES 64

enum sched_mode { SCHED_FULL, SCHED_QUICK, SCHED_LIST };

struct options {
	const char *devices; /* comma list, indexed by the node-local rank */
	bool per_hca;
	bool quick;
	const char *pairs_file;
	double duration_s;
	size_t size;
	unsigned lat_iters;
	unsigned depth;
	bool poll; /* busy polling instead of completion events */
	bool serial; /* one pair at a time */
	int gid_index;
	bool link_local;
	unsigned timeout_ms;
	unsigned reconnects; /* times a stalled pair is re-connected within an attempt */
	unsigned qp_timeout;
	const char *label;
	const char *label_env;
	const char *output;
	bool json;
	const char *csv;
	const char *svg;
	bool drain;
	bool no_progress;
	struct ibup_sweep_thresholds thr;
};

/* What each rank tells rank 0 about itself, once. */
struct node_msg {
	char label[LABEL_MAX];
	char hostname[LABEL_MAX];
	char physical_host[LABEL_MAX];
	char device[64];
	char vm_size[64];
	int32_t port, numa_node, hca_index, rc;
	char error[256];
};

/* What each rank tells rank 0 after a round. */
struct round_msg {
	int32_t partner; /* -1: rested */
	int32_t rc;
	uint32_t reconnects;
	double bw_gbps, lat_us, test_s;
	char error[200];
};

static int rank, n_ranks;
/* "mpirun" or "srun", as the environment showed it before MPI_Init(); NULL unknown. */
static const char *launcher;

static void say0(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say0(const char *fmt, ...)
{
	va_list ap;

	if (rank != 0)
		return;
	va_start(ap, fmt);
	fputs("ibup-sweep: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void usage(FILE *f)
{
	fputs("Usage: mpirun [...] ibup-sweep [OPTION]...\n"
	      "       srun [...] ibup-sweep [OPTION]...\n"
	      "Measure every pair of nodes of the fabric with RC writes both ways at once and\n"
	      "small-message latency, then name the bad nodes and the bad links.\n"
	      "\n"
	      "  --per-hca              one rank per HCA; HCA i meets HCA i of the other nodes\n"
	      "  --device LIST          devices, comma-separated, by the rank's index on its node\n"
	      "  --quick                one round: every node tested once\n"
	      "  --pairs FILE           only these pairs (\"NODE NODE\" a line)\n"
	      "  --duration SECS        bandwidth test per pair (default 1)\n"
	      "  --size BYTES           bytes per write (default 65536)\n"
	      "  --lat-iterations N     latency round trips per pair (default 1000; 0: none)\n"
	      "  --depth N              writes outstanding (default 64)\n"
	      "  --poll                 poll completions instead of sleeping on events\n"
	      "  --serial               one pair at a time (a fabric that cannot take more)\n"
	      "  --gid-index N          the GID index (RoCE)\n"
	      "  --link-local           prefer the link-local GID (devices of one host)\n"
	      "  --timeout-ms MS        the longest silence of a peer (default 10000)\n"
	      "  --reconnects N         re-connect a pair that stalled that long and measure\n"
	      "                         it again, up to N times (default 1; 0: never)\n"
	      "  --qp-timeout N         the RC ACK timeout, 4.096 us x 2^N (default 14)\n"
	      "  --label NAME           this rank's node label (default: the hostname)\n"
	      "  --label-from-env VAR   this rank's node label from the variable VAR\n"
	      "  --bw-min GBPS          bandwidth floor per direction\n"
	      "  --bw-rel F             floor relative to the fleet median (default 0.8)\n"
	      "  --lat-max USEC         latency ceiling\n"
	      "  --lat-rel F            ceiling relative to the fleet median (default 2.0)\n"
	      "  --max-retests N        halving re-test rounds for suspects (default 3)\n"
	      "  --output FILE          write the run (JSON, docs/sweep.schema.json)\n"
	      "  --json                 print the run with its analysis as JSON\n"
	      "  --csv FILE             write the bandwidth matrix\n"
	      "  --svg FILE             write the heat map\n"
	      "  --drain                run the Slurm drain commands for the bad nodes\n"
	      "  --no-progress          no progress lines\n"
	      "  -h, --help             this text\n"
	      "\n"
	      "Exit status: 0 all good, 1 bad nodes or links named, 2 usage, 3 failure.\n",
	      f);
}

static int parse_double(const char *s, double lo, double hi, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
		      unsigned long long *ret)
{
	char *end;
	unsigned long long v;

	if (*s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* 0, or EXIT_USAGE with the reason said once (by rank 0). */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		O_PER_HCA = 256,
		O_DEVICE,
		O_QUICK,
		O_PAIRS,
		O_DURATION,
		O_SIZE,
		O_LAT,
		O_DEPTH,
		O_POLL,
		O_SERIAL,
		O_GID,
		O_LL,
		O_TIMEOUT,
		O_RECONNECTS,
		O_QP_TIMEOUT,
		O_LABEL,
		O_LABEL_ENV,
		O_BW_MIN,
		O_BW_REL,
		O_LAT_MAX,
		O_LAT_REL,
		O_RETESTS,
		O_OUTPUT,
		O_JSON,
		O_CSV,
		O_SVG,
		O_DRAIN,
		O_NO_PROGRESS,
	};
	static const struct option opts[] = {
		{ "per-hca", no_argument, NULL, O_PER_HCA },
		{ "device", required_argument, NULL, O_DEVICE },
		{ "quick", no_argument, NULL, O_QUICK },
		{ "pairs", required_argument, NULL, O_PAIRS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "size", required_argument, NULL, O_SIZE },
		{ "lat-iterations", required_argument, NULL, O_LAT },
		{ "depth", required_argument, NULL, O_DEPTH },
		{ "poll", no_argument, NULL, O_POLL },
		{ "serial", no_argument, NULL, O_SERIAL },
		{ "gid-index", required_argument, NULL, O_GID },
		{ "link-local", no_argument, NULL, O_LL },
		{ "timeout-ms", required_argument, NULL, O_TIMEOUT },
		{ "reconnects", required_argument, NULL, O_RECONNECTS },
		{ "qp-timeout", required_argument, NULL, O_QP_TIMEOUT },
		{ "label", required_argument, NULL, O_LABEL },
		{ "label-from-env", required_argument, NULL, O_LABEL_ENV },
		{ "bw-min", required_argument, NULL, O_BW_MIN },
		{ "bw-rel", required_argument, NULL, O_BW_REL },
		{ "lat-max", required_argument, NULL, O_LAT_MAX },
		{ "lat-rel", required_argument, NULL, O_LAT_REL },
		{ "max-retests", required_argument, NULL, O_RETESTS },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", required_argument, NULL, O_CSV },
		{ "svg", required_argument, NULL, O_SVG },
		{ "drain", no_argument, NULL, O_DRAIN },
		{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long long u;
	int c;

	*o = (struct options){
		.duration_s = 1.0,
		.size = 65536,
		.lat_iters = 1000,
		.depth = 64,
		.gid_index = -1,
		.timeout_ms = 10000,
		.reconnects = 1,
	};
	ibup_sweep_thresholds_init(&o->thr);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *bad = NULL;

		switch (c) {
		case O_PER_HCA:
			o->per_hca = true;
			break;
		case O_DEVICE:
			o->devices = optarg;
			break;
		case O_QUICK:
			o->quick = true;
			break;
		case O_PAIRS:
			o->pairs_file = optarg;
			break;
		case O_DURATION:
			if (parse_double(optarg, 0.001, 3600, &o->duration_s) < 0)
				bad = "--duration wants seconds, 0.001 to 3600";
			break;
		case O_SIZE:
			if (parse_uint(optarg, 64, IBUP_BENCH_MAX_SIZE, &u) < 0)
				bad = "--size wants bytes, 64 to 8388608";
			o->size = (size_t)u;
			break;
		case O_LAT:
			if (parse_uint(optarg, 0, 1000000, &u) < 0)
				bad = "--lat-iterations wants 0 to 1000000";
			o->lat_iters = (unsigned)u;
			break;
		case O_DEPTH:
			if (parse_uint(optarg, 4, 4096, &u) < 0)
				bad = "--depth wants 4 to 4096";
			o->depth = (unsigned)u;
			break;
		case O_POLL:
			o->poll = true;
			break;
		case O_SERIAL:
			o->serial = true;
			break;
		case O_GID:
			if (parse_uint(optarg, 0, 255, &u) < 0)
				bad = "--gid-index wants 0 to 255";
			o->gid_index = (int)u;
			break;
		case O_LL:
			o->link_local = true;
			break;
		case O_TIMEOUT:
			if (parse_uint(optarg, 100, 3600000, &u) < 0)
				bad = "--timeout-ms wants 100 to 3600000";
			o->timeout_ms = (unsigned)u;
			break;
		case O_RECONNECTS:
			if (parse_uint(optarg, 0, 16, &u) < 0)
				bad = "--reconnects wants 0 to 16";
			o->reconnects = (unsigned)u;
			break;
		case O_QP_TIMEOUT:
			if (parse_uint(optarg, 1, 31, &u) < 0)
				bad = "--qp-timeout wants an exponent, 1 to 31";
			o->qp_timeout = (unsigned)u;
			break;
		case O_LABEL:
			o->label = optarg;
			break;
		case O_LABEL_ENV:
			o->label_env = optarg;
			break;
		case O_BW_MIN:
			if (parse_double(optarg, 0, 1e6, &o->thr.bw_min_gbps) < 0)
				bad = "--bw-min wants Gb/s";
			break;
		case O_BW_REL:
			if (parse_double(optarg, 0.01, 1, &o->thr.bw_rel) < 0)
				bad = "--bw-rel wants a fraction, 0.01 to 1";
			break;
		case O_LAT_MAX:
			if (parse_double(optarg, 0.01, 1e9, &o->thr.lat_max_us) < 0)
				bad = "--lat-max wants microseconds";
			break;
		case O_LAT_REL:
			if (parse_double(optarg, 1, 1000, &o->thr.lat_rel) < 0)
				bad = "--lat-rel wants a factor, 1 to 1000";
			break;
		case O_RETESTS:
			if (parse_uint(optarg, 0, 16, &u) < 0)
				bad = "--max-retests wants 0 to 16";
			o->thr.max_retests = (unsigned)u;
			break;
		case O_OUTPUT:
			o->output = optarg;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_CSV:
			o->csv = optarg;
			break;
		case O_SVG:
			o->svg = optarg;
			break;
		case O_DRAIN:
			o->drain = true;
			break;
		case O_NO_PROGRESS:
			o->no_progress = true;
			break;
		case 'h':
			if (rank == 0)
				usage(stdout);
			return -1;
		default:
			bad = "unknown option or missing argument (see --help)";
			if (optopt == 0 && optind > 0 && optind <= argc)
				say0("unknown option '%s' (see --help)",
				     argv[optind - 1]);
			else
				say0("%s", bad);
			return EXIT_USAGE;
		}
		if (bad) {
			say0("%s", bad);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		say0("unexpected argument '%s' (see --help)", argv[optind]);
		return EXIT_USAGE;
	}
	if (o->quick && (o->pairs_file || o->per_hca)) {
		say0("--quick cannot be combined with --pairs or --per-hca");
		return EXIT_USAGE;
	}
	if (o->label && o->label_env) {
		say0("--label and --label-from-env exclude each other");
		return EXIT_USAGE;
	}
	if (o->per_hca && (o->label || o->label_env)) {
		say0("--per-hca names each rank HOST:DEVICE; --label does not apply");
		return EXIT_USAGE;
	}
	return 0;
}

/* The usable RDMA devices of this host with an active port, by name. */
static unsigned usable_devices(const struct ibup_status *st, const char **names,
			       unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < st->n_devices && n < max; i++) {
		const struct ibup_device *d = &st->devices[i];
		bool active = false;

		if (d->kind != IBUP_KIND_INFINIBAND && d->kind != IBUP_KIND_ROCE &&
		    d->kind != IBUP_KIND_SOFT_ROCE)
			continue;
		for (unsigned p = 0; p < d->n_ports; p++)
			active |= d->ports[p].state == IBUP_PORT_ACTIVE;
		if (active)
			names[n++] = d->name;
	}
	return n;
}

/* The @i-th entry of comma list @list into @buf; false when there is none. */
static bool list_item(const char *list, unsigned i, char *buf, size_t len)
{
	const char *p = list;

	for (; i && p; i--) {
		p = strchr(p, ',');
		if (p)
			p++;
	}
	if (!p || !*p || *p == ',')
		return false;
	snprintf(buf, len, "%.*s", (int)strcspn(p, ","), p);
	return true;
}

/* This rank's device, label and placement; the endpoint opened. */
static int open_rank(struct ibup_ctx *ctx, const struct options *o, int local_rank,
		     struct ibup_bench_ep **ep, struct node_msg *me)
{
	const struct ibup_bench_ep_opts eo = {
		.size = o->size,
		.events = !o->poll,
		.prefer_link_local = o->link_local,
		.timeout_ms = o->timeout_ms,
		.qp_timeout = o->qp_timeout,
		.depth = o->depth,
	};
	struct ibup_bench_where w = { .gid_index = o->gid_index, .pkey_index = -1 };
	struct ibup_status *st = NULL;
	char dev[64] = "", host[LABEL_MAX] = "";
	char *phys = NULL;
	const struct ibup_bench_side *side;
	int r;

	memset(me, 0, sizeof(*me));
	me->hca_index = -1;
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "rank%d", rank);
	snprintf(me->hostname, sizeof(me->hostname), "%s", host);
	if (ibup_azure_physical_host(ctx, &phys) == 0) {
		snprintf(me->physical_host, sizeof(me->physical_host), "%s", phys);
		free(phys);
	}
	r = ibup_status_read(ctx, 0, &st);
	if (r < 0) {
		snprintf(me->error, sizeof(me->error), "cannot read the RDMA devices: %s",
			 strerror(-r));
		return r;
	}
	if (st->platform.vm_size)
		snprintf(me->vm_size, sizeof(me->vm_size), "%s", st->platform.vm_size);
	if (o->devices) {
		if (!list_item(o->devices, (unsigned)local_rank, dev, sizeof(dev))) {
			snprintf(me->error, sizeof(me->error),
				 "--device names no device for local rank %d",
				 local_rank);
			r = -EINVAL;
			goto out;
		}
		w.device = dev;
	} else if (o->per_hca) {
		const char *names[MAX_LIST_DEVICES];
		unsigned n = usable_devices(st, names, MAX_LIST_DEVICES);

		if ((unsigned)local_rank >= n) {
			snprintf(me->error, sizeof(me->error),
				 "--per-hca: local rank %d but %u active HCAs on %s",
				 local_rank, n, host);
			r = -ENODEV;
			goto out;
		}
		snprintf(dev, sizeof(dev), "%s", names[local_rank]);
		w.device = dev;
	}
	if (o->per_hca)
		me->hca_index = local_rank;
	r = ibup_bench_ep_open(ctx, st, &w, &eo, ep, me->error, sizeof(me->error));
	if (r < 0)
		goto out;
	side = ibup_bench_ep_side(*ep);
	snprintf(me->device, sizeof(me->device), "%s", side->device);
	me->port = (int32_t)side->port;
	me->numa_node = side->numa_node;
	if (o->per_hca) {
		snprintf(me->label, sizeof(me->label), "%.60s:%.60s", host, side->device);
	} else if (o->label_env) {
		const char *v = getenv(o->label_env);

		if (!v || !*v) {
			snprintf(me->error, sizeof(me->error),
				 "--label-from-env: %s is not set", o->label_env);
			r = -EINVAL;
			goto out;
		}
		snprintf(me->label, sizeof(me->label), "%s", v);
	} else {
		snprintf(me->label, sizeof(me->label), "%s", o->label ? o->label : host);
	}
out:
	ibup_status_free(st);
	return r;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sweep {
	const struct options *o;
	struct ibup_ctx *ctx;
	struct ibup_bench_ep *ep;
	uint8_t *blob, *peer_blob;
	size_t blob_size;
	struct ibup_sweep_run *run; /* rank 0 */
	struct round_msg *gathered; /* rank 0: one per rank */
	double sync_sum; /* rank 0: the rounds' time beyond their slowest test */
	unsigned sync_rounds;
	double t_start;
	unsigned rounds_done, rounds_known;
};

/*
 * Wait for a non-blocking collective without spinning: a rank that rests, or is done
 * before the others, would otherwise poll MPI's progress engine on a core the measuring
 * ranks (and the kernel's RDMA work) need; MPI's blocking calls busy-wait. The naps
 * grow from 50 us to 5 ms: a wait of a whole pair's test costs a few hundred wake-ups,
 * and a round ends at most 5 ms late.
 */
static void wait_quietly(MPI_Request *req)
{
	long nap_ns = 50000;
	int done = 0;

	while (true) {
		struct timespec nap = { .tv_nsec = nap_ns };

		MPI_Test(req, &done, MPI_STATUS_IGNORE);
		if (done)
			return;
		nanosleep(&nap, NULL);
		if (nap_ns < 5000000)
			nap_ns *= 2;
	}
}

static void barrier_quietly(void)
{
	MPI_Request req;

	MPI_Ibarrier(MPI_COMM_WORLD, &req);
	wait_quietly(&req);
}

/*
 * Both ends of a pair swap @size bytes, tagged @tag; also the point where both have got
 * this far.
 */
static void swap_with(int partner, int tag, const void *mine, void *theirs, size_t size)
{
	MPI_Request req[2];

	MPI_Irecv(theirs, (int)size, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &req[0]);
	MPI_Isend(mine, (int)size, MPI_BYTE, partner, tag, MPI_COMM_WORLD, &req[1]);
	wait_quietly(&req[0]);
	wait_quietly(&req[1]);
}

/* A new sequence number for this connection, the blobs swapped, the pair connected. */
static int pair_connect(struct sweep *sw, int partner)
{
	int r;

	r = ibup_bench_ep_reset(sw->ep);
	if (r == 0)
		r = ibup_bench_ep_blob(sw->ep, sw->blob, sw->blob_size);
	swap_with(partner, 0, sw->blob, sw->peer_blob, sw->blob_size);
	if (r == 0)
		r = ibup_bench_ep_connect(sw->ep, sw->peer_blob, sw->blob_size);
	return r;
}

static int pair_measure(struct sweep *sw, int partner, struct round_msg *m)
{
	const struct options *o = sw->o;
	int r = 0;

	m->bw_gbps = m->lat_us = NAN;
	if (o->lat_iters) {
		struct ibup_lat_stats lat;

		r = ibup_bench_ep_lat(sw->ep, rank < partner, o->lat_iters, &lat);
		if (r == 0 && rank < partner)
			m->lat_us = lat.median_us;
	}
	if (r == 0)
		r = ibup_bench_ep_bw(sw->ep, o->duration_s, &m->bw_gbps);
	return r;
}

/*
 * This rank's part of one round: connect, meet, measure. A connection on which nothing
 * completed for --timeout-ms (at either end) is re-connected and measured again, up to
 * --reconnects times: both ends swap their results first, so both decide alike. Errors
 * the hardware reported (a retry count exceeded, an access error) are not retried:
 * they are the finding.
 */
static void run_pair(struct sweep *sw, int partner, struct round_msg *m)
{
	const struct options *o = sw->o;
	double t0;
	int r;

	memset(m, 0, sizeof(*m));
	m->partner = partner;
	m->bw_gbps = m->lat_us = NAN;
	if (partner < 0) {
		barrier_quietly();
		return;
	}
	r = pair_connect(sw, partner);
	barrier_quietly();
	t0 = now_s();
	if (r == 0)
		r = pair_measure(sw, partner, m);
	while (m->reconnects < o->reconnects) {
		int theirs = 0;

		swap_with(partner, 1, &r, &theirs, sizeof(r));

		if (!(r == -ETIMEDOUT || theirs == -ETIMEDOUT) ||
		    !(r == 0 || r == -ETIMEDOUT) ||
		    !(theirs == 0 || theirs == -ETIMEDOUT))
			break;
		m->reconnects++;
		r = pair_connect(sw, partner);
		if (r == 0)
			r = pair_measure(sw, partner, m);
	}
	m->test_s = now_s() - t0;
	m->rc = r;
	if (r < 0)
		snprintf(m->error, sizeof(m->error), "%s",
			 *ibup_bench_ep_error(sw->ep) ? ibup_bench_ep_error(sw->ep)
						      : strerror(-r));
}

/* Rank 0: the round's measurements into the run. */
static int record_round(struct sweep *sw, const struct ibup_sweep_pair *pairs, size_t n,
			unsigned round, unsigned attempt)
{
	for (size_t i = 0; i < n; i++) {
		const struct round_msg *ma = &sw->gathered[pairs[i].a];
		const struct round_msg *mb = &sw->gathered[pairs[i].b];
		char err[512] = "";
		struct ibup_sweep_meas m = {
			.a = pairs[i].a,
			.b = pairs[i].b,
			.round = round,
			.attempt = attempt,
			.bw_ab_gbps = ma->rc == 0 ? ma->bw_gbps : NAN,
			.bw_ba_gbps = mb->rc == 0 ? mb->bw_gbps : NAN,
			.lat_us = pairs[i].a < pairs[i].b ? ma->lat_us : mb->lat_us,
			.reconnects = ma->reconnects > mb->reconnects ? ma->reconnects
								      : mb->reconnects,
		};
		int r;

		if (ma->rc || mb->rc) {
			snprintf(err, sizeof(err), "%s%s%s", ma->rc ? ma->error : "",
				 ma->rc && mb->rc ? "; " : "", mb->rc ? mb->error : "");
			m.error = err;
		}
		r = ibup_sweep_run_add_meas(sw->run, &m);
		if (r < 0)
			return r;
	}
	return 0;
}

static void progress(struct sweep *sw, unsigned attempt)
{
	double el = now_s() - sw->t_start;
	double per = sw->rounds_done ? el / sw->rounds_done : 0;
	unsigned left = sw->rounds_known > sw->rounds_done
				? sw->rounds_known - sw->rounds_done
				: 0;

	if (rank != 0 || sw->o->no_progress)
		return;
	fprintf(stderr, "ibup-sweep: %s round %u/%u, %.1f s elapsed, about %.1f s left\n",
		attempt ? "re-test" : "sweep", sw->rounds_done, sw->rounds_known, el,
		per * left);
}

/* Every rank: run schedule @s as attempt @attempt. */
/* Every rank: one step, the pairs @pairs[0 .. n) at once, of round @round. */
static int run_step(struct sweep *sw, const struct ibup_sweep_pair *pairs, size_t n,
		    unsigned round, unsigned attempt)
{
	struct round_msg m;
	int partner = -1, rc = 0;
	double t0 = MPI_Wtime();
	MPI_Request req;

	for (size_t i = 0; i < n; i++)
		if (pairs[i].a == (unsigned)rank)
			partner = (int)pairs[i].b;
		else if (pairs[i].b == (unsigned)rank)
			partner = (int)pairs[i].a;
	run_pair(sw, partner, &m);
	MPI_Igather(&m, sizeof(m), MPI_BYTE, sw->gathered, sizeof(m), MPI_BYTE, 0,
		    MPI_COMM_WORLD, &req);
	wait_quietly(&req);
	sw->rounds_done++;
	if (rank == 0) {
		double slowest = 0;

		for (int i = 0; i < n_ranks; i++)
			if (sw->gathered[i].test_s > slowest)
				slowest = sw->gathered[i].test_s;
		sw->sync_sum += MPI_Wtime() - t0 - slowest;
		sw->sync_rounds++;
		rc = record_round(sw, pairs, n, round, attempt);
		progress(sw, attempt);
	}
	return rc;
}

/* The steps of schedule @s: its rounds, or with --serial each pair on its own. */
static unsigned steps_of(const struct sweep *sw, const struct ibup_sweep_schedule *s)
{
	return sw->o->serial ? (unsigned)s->n_pairs : s->n_rounds;
}

/* Every rank: run schedule @s as attempt @attempt. */
static int run_schedule(struct sweep *sw, const struct ibup_sweep_schedule *s,
			unsigned attempt)
{
	int rc = 0;

	for (unsigned r = 0; r < s->n_rounds; r++) {
		size_t n = 0;
		const struct ibup_sweep_pair *pairs = ibup_sweep_schedule_round(s, r, &n);

		if (!sw->o->serial) {
			int r2 = run_step(sw, pairs, n, r, attempt);

			rc = rc ? rc : r2;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			int r2 = run_step(sw, &pairs[i], 1, r, attempt);

			rc = rc ? rc : r2;
		}
	}
	return rc;
}

/* Rank 0 decides a pair list; every rank gets it. */
static int bcast_pairs(struct ibup_sweep_pair **pairs, size_t *n)
{
	unsigned long long count = *n;

	MPI_Bcast(&count, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
	if (rank != 0) {
		*n = (size_t)count;
		*pairs = count ? calloc((size_t)count, sizeof(**pairs)) : NULL;
		if (count && !*pairs)
			return -ENOMEM;
	}
	if (count)
		MPI_Bcast(*pairs, (int)(count * sizeof(**pairs)), MPI_BYTE, 0,
			  MPI_COMM_WORLD);
	return 0;
}

static int read_text(const char *path, char **ret)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return -errno;
	while (true) {
		if (len + 4096 + 1 > cap) {
			char *p;

			cap = cap ? cap * 2 : 8192;
			if (cap > (64u << 20)) {
				fclose(f);
				free(buf);
				return -EFBIG;
			}
			p = realloc(buf, cap);
			if (!p) {
				fclose(f);
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		size_t got = fread(buf + len, 1, 4096, f);

		len += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

/* Rank 0: the pairs of --pairs FILE or of --per-hca; *msg says why not. */
static int list_pairs(const struct options *o, const struct node_msg *nodes,
		      struct ibup_sweep_pair **ret, size_t *ret_n, char *msg, size_t len)
{
	if (o->pairs_file) {
		const char **labels = calloc((size_t)n_ranks, sizeof(*labels));
		struct ibup_diag d = { 0 };
		char *text = NULL;
		int r;

		if (!labels)
			return -ENOMEM;
		for (int i = 0; i < n_ranks; i++)
			labels[i] = nodes[i].label;
		r = read_text(o->pairs_file, &text);
		if (r < 0) {
			snprintf(msg, len, "cannot read %s: %s", o->pairs_file,
				 strerror(-r));
		} else {
			r = ibup_sweep_pairs_parse(text, labels, (unsigned)n_ranks, ret,
						   ret_n, &d);
			if (r < 0)
				snprintf(msg, len, "%s:%u: %s", o->pairs_file, d.line,
					 d.msg);
		}
		free(text);
		free(labels);
		return r;
	}
	/* --per-hca: HCA i of one host with HCA i of every other host. */
	*ret = NULL;
	*ret_n = 0;
	for (int a = 0; a < n_ranks; a++)
		for (int b = a + 1; b < n_ranks; b++) {
			struct ibup_sweep_pair *p;

			if (nodes[a].hca_index != nodes[b].hca_index ||
			    strcmp(nodes[a].hostname, nodes[b].hostname) == 0)
				continue;
			p = realloc(*ret, (*ret_n + 1) * sizeof(*p));
			if (!p)
				return -ENOMEM;
			*ret = p;
			p[(*ret_n)++] =
				(struct ibup_sweep_pair){ (unsigned)a, (unsigned)b };
		}
	if (!*ret_n) {
		snprintf(msg, len, "--per-hca: no two hosts share an HCA index");
		return -EINVAL;
	}
	return 0;
}

/* Replaced atomically, as every file ibup writes: never a half-written run file. */
static int write_file(const char *path, const char *text)
{
	int r = ibup_file_write_path(path, text, strlen(text), 0644);

	return r < 0 ? r : 0;
}

/*
 * Rank 0: drain the bad nodes' hosts: the library's drain plan (one scontrol step per
 * host) through the executor, as every change ibup makes.
 */
static int drain(struct ibup_ctx *ctx, const struct ibup_sweep_run *run,
		 const struct ibup_sweep_analysis *a)
{
	struct ibup_plan *plan = NULL;
	struct ibup_exec_result res;
	int r;

	r = ibup_sweep_drain_plan(ctx, run, a, &plan);
	if (r < 0) {
		fprintf(stderr, "ibup-sweep: cannot plan the drain: %s\n", strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < plan->n_notes; i++)
		fprintf(stderr, "ibup-sweep: %s\n", plan->notes[i].text);
	r = ibup_plan_execute(ctx, plan, NULL, &res);
	if (r < 0)
		fprintf(stderr, "ibup-sweep: the drain failed: %s\n",
			res.status && *res.error ? res.error : strerror(-r));
	else
		fprintf(stderr, "ibup-sweep: drained: %u step(s) done\n", res.done);
	ibup_exec_result_release(&res);
	ibup_plan_free(plan);
	return r;
}

static void utc_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Rank 0: the analysis and every output; the exit code. */
static int finish(struct sweep *sw)
{
	const struct options *o = sw->o;
	struct ibup_sweep_analysis a;
	char *text = NULL;
	int r, rc;

	sw->run->elapsed_s = now_s() - sw->t_start;
	sw->run->round_sync_s = sw->sync_rounds ? sw->sync_sum / sw->sync_rounds : NAN;
	r = ibup_sweep_analyze(sw->ctx, sw->run, &o->thr, &a);
	if (r < 0) {
		fprintf(stderr, "ibup-sweep: the analysis failed: %s\n", strerror(-r));
		return EXIT_FAILURE_RUN;
	}
	rc = a.n_bad_nodes || a.n_bad_links ? EXIT_FINDINGS : 0;
	fprintf(stderr,
		"ibup-sweep: per-round synchronisation %.3f ms (mean of %u rounds: "
		"connect, barrier, gather)\n",
		sw->run->round_sync_s * 1e3, sw->sync_rounds);
	if (o->output || o->json) {
		r = ibup_sweep_run_to_json(sw->run, &a, &text);
		if (r == 0 && o->output && (r = write_file(o->output, text)) < 0)
			fprintf(stderr, "ibup-sweep: cannot write %s: %s\n", o->output,
				strerror(-r));
		if (r == 0 && o->json)
			fputs(text, stdout);
		free(text);
		text = NULL;
		if (r < 0)
			rc = EXIT_FAILURE_RUN;
	}
	if (!o->json && ibup_sweep_report_text(sw->run, &a, &text) == 0) {
		fputs(text, stdout);
		free(text);
		text = NULL;
	}
	if (o->csv) {
		r = ibup_sweep_report_csv(sw->run, &a, IBUP_SWEEP_CSV_BW, &text);
		if (r == 0)
			r = write_file(o->csv, text);
		if (r < 0) {
			fprintf(stderr, "ibup-sweep: cannot write %s: %s\n", o->csv,
				strerror(-r));
			rc = EXIT_FAILURE_RUN;
		}
		free(text);
		text = NULL;
	}
	if (o->svg) {
		r = ibup_sweep_report_svg(sw->run, &a, &text);
		if (r == 0)
			r = write_file(o->svg, text);
		if (r < 0) {
			fprintf(stderr, "ibup-sweep: cannot write %s: %s\n", o->svg,
				strerror(-r));
			rc = EXIT_FAILURE_RUN;
		}
		free(text);
		text = NULL;
	}
	if (a.n_bad_nodes && ibup_sweep_report_drain(sw->run, &a, &text) == 0 && *text) {
		if (!o->drain)
			fprintf(stderr,
				"ibup-sweep: to drain the bad nodes (--drain runs "
				"this):\n%s",
				text);
		else if (drain(sw->ctx, sw->run, &a) < 0)
			rc = EXIT_FAILURE_RUN;
	}
	free(text);
	ibup_sweep_analysis_release(&a);
	return rc;
}

/* Rank 0: the nodes into the run; the first problem in @msg. */
static int build_run(struct sweep *sw, struct node_msg *nodes, char *msg, size_t len)
{
	const struct options *o = sw->o;
	struct ibup_sweep_run *run = sw->run;
	char started[32];
	int r = 0;

	utc_now(started, sizeof(started));
	r = ibup_sweep_run_set_str(&run->started, started);
	if (r == 0)
		r = ibup_sweep_run_set_str(&run->params.test, "write_bw");
	if (r == 0)
		r = ibup_sweep_run_set_str(&run->params.launcher, launcher);
	if (r == 0 && nodes[0].vm_size[0])
		r = ibup_sweep_run_set_str(&run->vm_size, nodes[0].vm_size);
	run->params.size = o->size;
	run->params.duration_s = o->duration_s;
	run->params.iterations = 0;
	run->params.lat_iterations = o->lat_iters;
	run->params.per_hca = o->per_hca;
	run->params.quick = o->quick;
	for (int i = 0; r == 0 && i < n_ranks; i++) {
		struct node_msg *m = &nodes[i];
		struct ibup_sweep_node n = {
			.label = m->label,
			.hostname = m->hostname,
			.physical_host = m->physical_host[0] ? m->physical_host : NULL,
			.device = m->device,
			.port = (unsigned)m->port,
			.numa_node = m->numa_node,
			.rank = (unsigned)i,
		};

		r = ibup_sweep_run_add_node(run, &n);
		if (r == -EINVAL)
			snprintf(
				msg, len,
				"rank %d: the label '%s' is used by another rank (give each "
				"rank its own with --label-from-env, or use --per-hca)",
				i, m->label);
	}
	if (r < 0 && !*msg)
		snprintf(msg, len, "%s", strerror(-r));
	return r;
}

static int sweep_main(struct ibup_ctx *ctx, const struct options *o, int local_rank)
{
	struct sweep sw = { .o = o, .ctx = ctx };
	struct node_msg me, *nodes = NULL;
	struct ibup_sweep_run run;
	struct ibup_sweep_schedule sched = { 0 };
	struct ibup_sweep_pair *pairs = NULL;
	size_t n_pairs = 0;
	char msg[512] = "";
	int r, status, rc = EXIT_FAILURE_RUN;

	ibup_sweep_run_init(&run);
	sw.run = &run;
	r = open_rank(ctx, o, local_rank, &sw.ep, &me);
	me.rc = r;
	if (rank == 0) {
		nodes = calloc((size_t)n_ranks, sizeof(*nodes));
		sw.gathered = calloc((size_t)n_ranks, sizeof(*sw.gathered));
		if (!nodes || !sw.gathered)
			MPI_Abort(MPI_COMM_WORLD, EXIT_FAILURE_RUN);
	}
	MPI_Gather(&me, sizeof(me), MPI_BYTE, nodes, sizeof(me), MPI_BYTE, 0,
		   MPI_COMM_WORLD);
	status = 0;
	if (rank == 0) {
		for (int i = 0; i < n_ranks && !status; i++)
			if (nodes[i].rc < 0) {
				snprintf(msg, sizeof(msg), "rank %d (%s): %s", i,
					 nodes[i].hostname, nodes[i].error);
				status = nodes[i].rc == -EINVAL ? EXIT_USAGE
								: EXIT_FAILURE_RUN;
			}
		if (!status && build_run(&sw, nodes, msg, sizeof(msg)) < 0)
			status = EXIT_USAGE;
		if (!status && (o->pairs_file || o->per_hca) &&
		    list_pairs(o, nodes, &pairs, &n_pairs, msg, sizeof(msg)) < 0)
			status = EXIT_USAGE;
	}
	MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
	if (status) {
		say0("%s", msg);
		rc = status;
		goto out;
	}

	/* Each round swaps the connection data with the partner. */
	sw.blob_size = ibup_bench_ep_blob_size();
	sw.blob = calloc(1, sw.blob_size);
	sw.peer_blob = calloc(1, sw.blob_size);
	if (!sw.blob || !sw.peer_blob)
		MPI_Abort(MPI_COMM_WORLD, EXIT_FAILURE_RUN);

	/* The schedule: each rank builds the same one. */
	if (o->pairs_file || o->per_hca) {
		if (bcast_pairs(&pairs, &n_pairs) < 0)
			MPI_Abort(MPI_COMM_WORLD, EXIT_FAILURE_RUN);
		r = ibup_sweep_schedule_from_pairs((unsigned)n_ranks, pairs, n_pairs,
						   &sched);
	} else if (o->quick) {
		r = ibup_sweep_schedule_quick((unsigned)n_ranks, &sched);
	} else {
		r = ibup_sweep_schedule_full((unsigned)n_ranks, &sched);
	}
	if (r < 0) {
		say0("cannot schedule %d ranks: %s", n_ranks, strerror(-r));
		rc = n_ranks < 2 ? EXIT_USAGE : EXIT_FAILURE_RUN;
		goto out;
	}
	sw.rounds_known = steps_of(&sw, &sched);
	say0("%d ranks, %u rounds of %g s writes%s: about %.0f s plus re-tests", n_ranks,
	     sched.n_rounds, o->duration_s, o->lat_iters ? " and latency" : "",
	     sched.n_rounds * (o->duration_s + (o->lat_iters ? 0.1 : 0)));
	sw.t_start = now_s();
	rc = run_schedule(&sw, &sched, 0) < 0 ? EXIT_FAILURE_RUN : 0;

	/* Re-tests of the suspects, halving, until none is left. */
	for (unsigned attempt = 1; rc == 0; attempt++) {
		free(pairs);
		pairs = NULL;
		n_pairs = 0;
		if (rank == 0 &&
		    ibup_sweep_suspects(ctx, &run, &o->thr, &pairs, &n_pairs) < 0)
			n_pairs = 0;
		if (bcast_pairs(&pairs, &n_pairs) < 0)
			MPI_Abort(MPI_COMM_WORLD, EXIT_FAILURE_RUN);
		if (!n_pairs)
			break;
		ibup_sweep_schedule_release(&sched);
		if (ibup_sweep_schedule_from_pairs((unsigned)n_ranks, pairs, n_pairs,
						   &sched) < 0) {
			rc = EXIT_FAILURE_RUN;
			break;
		}
		say0("re-testing %zu suspect pair(s) in %u round(s)", n_pairs,
		     sched.n_rounds);
		sw.rounds_known += steps_of(&sw, &sched);
		if (run_schedule(&sw, &sched, attempt) < 0)
			rc = EXIT_FAILURE_RUN;
	}
	if (rank == 0 && rc == 0)
		rc = finish(&sw);
	MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
out:
	ibup_sweep_schedule_release(&sched);
	ibup_sweep_run_release(&run);
	ibup_bench_ep_close(sw.ep);
	free(pairs);
	free(sw.blob);
	free(sw.peer_blob);
	free(nodes);
	free(sw.gathered);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	struct ibup_ctx *ctx = NULL;
	MPI_Comm local;
	int local_rank = 0, rc, r;

	/*
	 * Open MPI's mpirun gives each rank OMPI_COMM_WORLD_SIZE (also inside a Slurm
	 * allocation, where its daemons start through srun); srun's tasks have a step.
	 */
	launcher = getenv("OMPI_COMM_WORLD_SIZE") ? "mpirun"
		   : getenv("SLURM_STEP_ID")	  ? "srun"
						  : NULL;
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
	rc = parse_args(argc, argv, &o);
	if (rc) {
		MPI_Finalize();
		return rc < 0 ? 0 : rc;
	}
	/* The rank's index among the ranks of its node: which HCA it takes. */
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL,
			    &local);
	MPI_Comm_rank(local, &local_rank);
	MPI_Comm_free(&local);
	if (n_ranks < 2) {
		say0("needs at least 2 ranks (launch it with mpirun -np N or srun -n N)");
		MPI_Finalize();
		return EXIT_USAGE;
	}
	r = ibup_ctx_new(NULL, &ctx);
	if (r < 0) {
		fprintf(stderr, "ibup-sweep: rank %d: %s\n", rank, strerror(-r));
		MPI_Abort(MPI_COMM_WORLD, EXIT_FAILURE_RUN);
	}
	rc = sweep_main(ctx, &o, local_rank);
	ibup_ctx_free(ctx);
	MPI_Finalize();
	return rc;
}

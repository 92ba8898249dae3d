// SPDX-License-Identifier: MIT
/* ibup bench: verbs RC bandwidth and latency, with pass/fail thresholds. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ibup/bench.h"
#include "banned.h"

enum {
	OPT_DEPTH = OPT_COMMAND_BASE,
	OPT_TO,
	OPT_TO_PORT,
	OPT_PKEY_INDEX,
	OPT_SERVER,
	OPT_BIND,
	OPT_TIMEOUT,
	OPT_QP_TIMEOUT,
	OPT_VERIFY,
	OPT_INLINE,
	OPT_CQ_MOD,
	OPT_POST_LIST,
	OPT_NO_NUMA,
	OPT_EXPECT_GBPS,
	OPT_EXPECT_USEC,
};

void help_bench(FILE *out)
{
	fputs("Usage: ibup bench [OPTIONS]                  loopback on one device\n"
	      "       ibup bench [OPTIONS] --to DEVICE      between two devices of this host\n"
	      "       ibup bench --server [OPTIONS]         serve one client, then exit\n"
	      "       ibup bench [OPTIONS] HOST             against the server on HOST\n"
	      "\n"
	      "RDMA bandwidth and latency over reliable-connected queue pairs, measured with\n"
	      "libibverbs. The client decides the test; the server needs only its device.\n"
	      "\n"
	      "Tests (-t):\n"
	      "  write_bw (default), read_bw, send_bw   bandwidth and message rate\n"
	      "  write_lat, send_lat                    one-way latency (half the round trip)\n"
	      "\n"
	      "Options:\n"
	      "  -t, --test TEST        the test to run\n"
	      "  -d, --device DEV       the device (default: the first InfiniBand or RoCE\n"
	      "                         device with an active port; never an Accelerated\n"
	      "                         Networking or MANA one)\n"
	      "  -i, --port N           the device's port (default: its first active one)\n"
	      "      --to DEV           the other device of this host (default: -d's, loopback)\n"
	      "      --to-port N        its port\n"
	      "  -x, --gid-index N      the GID to use (default: RoCE v2, IPv4-mapped first;\n"
	      "                         between two local devices the link-local one; none on\n"
	      "                         InfiniBand)\n"
	      "      --pkey-index N     the P_Key index (default: the tenant's on Azure, else 0)\n"
	      "  -s, --size BYTES       message size, 1 (2 for latency) to 8M; K and M are\n"
	      "                         KiB and MiB (default 65536, or 2 for latency)\n"
	      "  -a, --all              every size from 2 B to 8 MiB\n"
	      "  -n, --iterations N     messages (round trips) per size (default 5000 for\n"
	      "                         write_bw, 1000 otherwise)\n"
	      "  -D, --duration SECS    run each size this long instead\n"
	      "      --depth N          work requests in flight per queue pair (default 128)\n"
	      "  -q, --qps N            queue pairs, bandwidth tests (default 1, at most 64)\n"
	      "      --inline BYTES     send at most this much inline (default: what the queue\n"
	      "                         pair takes)\n"
	      "      --cq-mod N         ask for one completion every N sends (default depth/4)\n"
	      "      --post-list N      chain N work requests per post (default min(cq-mod,16))\n"
	      "      --verify           check that every payload arrives intact\n"
	      "      --no-numa          leave buffers and threads where the system puts them\n"
	      "                         (default: on the device's NUMA node)\n"
	      "      --expect-gbps G    fail (exit 1) when a size's average is below G Gb/s\n"
	      "      --expect-usec U    fail (exit 1) when a size's median latency is above U us\n"
	      "      --server           wait for one client, run what it asks, exit\n"
	      "      --bind ADDR        the server's address (default: all)\n"
	      "  -p, --tcp-port N       the TCP port of the exchange (default 18515)\n"
	      "      --timeout SECS     the longest wait for the peer at any step (default 10)\n"
	      "      --qp-timeout N     the RC ACK timeout, 4.096 us x 2^N (default 14: 67 ms)\n"
	      "  -j, --json             print one JSON object\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Units: Gb/s is 10^9 bit/s, MiB/s is 2^20 byte/s, us is microseconds.\n"
	      "\n"
	      "Exit status: 0 done (and within --expect-*), 1 below an expectation, 2 usage\n"
	      "error, 3 the test could not run (no libibverbs, port down, peer gone, corrupt\n"
	      "payload), 4 no InfiniBand or RoCE device.\n"
	      "\n"
	      "See ibup-bench(8).\n",
	      out);
}

/* A whole number in [@min, @max] for option @opt, or a usage error (2). */
static int parse_count(struct ibup_cli *cli, const char *opt, const char *arg,
		       unsigned min, unsigned max, unsigned *ret)
{
	uint32_t v;

	if (cli_parse_uint(arg, max, &v) < 0 || v < min)
		return cli_usage_error(cli,
				       "%s needs a whole number from %u to %u, not '%s'",
				       opt, min, max, arg);
	*ret = v;
	return 0;
}

/* 65536, 64K, 8M: binary multiples. */
static int parse_size(struct ibup_cli *cli, const char *arg, size_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (end == arg || errno || arg[0] == '-')
		goto bad;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end || v < 1 || v > IBUP_BENCH_MAX_SIZE)
		goto bad;
	*ret = (size_t)v;
	return 0;
bad:
	return cli_usage_error(cli, "--size needs 1 to 8M bytes, not '%s'", arg);
}

struct bench_out {
	struct ibup_cli *cli;
	double expect_gbps, expect_usec;
	bool header_done, below;
	json_t *results;
};

static void print_side(const char *what, const struct ibup_bench_side *s)
{
	printf("%-7s %s port %u, %s", what, or_dash(s->device), s->port,
	       or_dash(s->link_layer));
	if (s->gid_index >= 0)
		printf(", GID %d %s", s->gid_index, s->gid);
	else
		printf(", LID %u", s->lid);
	printf(", P_Key 0x%04x (index %d), MTU %u", s->pkey, s->pkey_index, s->mtu);
	if (s->numa_node >= 0)
		printf(", NUMA node %d", s->numa_node);
	if (s->cpu >= 0)
		printf(", CPU %d", s->cpu);
	putchar('\n');
}

static void print_header(const struct ibup_bench_report *r)
{
	bool lat = ibup_bench_test_is_latency(r->test);

	printf("ibup bench %s (%s)\n", or_dash(ibup_bench_test_name(r->test)), r->mode);
	print_side("local", &r->local);
	print_side("remote", &r->remote);
	if (!lat)
		printf("%u QP%s, depth %u, one completion per %u, ", r->qps,
		       r->qps == 1 ? "" : "s", r->depth, r->cq_mod);
	if (!lat && r->post_list)
		printf("%u per post, ", r->post_list);
	else if (!lat)
		printf("chains of up to 16 to 8 KiB, ");
	printf("inline up to %u B, clock %s (%.0f ns a read)\n", r->inline_size, r->clock,
	       r->clock_read_ns);
	if (lat)
		printf("%8s %10s %9s %9s %9s %9s %9s %9s %9s%s\n", "bytes", "iterations",
		       "min[us]", "med[us]", "mean[us]", "stdev[us]", "p99[us]",
		       "p99.9[us]", "max[us]", "");
	else
		printf("%8s %10s %11s %11s %11s %10s%s\n", "bytes", "iterations",
		       "peak[Gb/s]", "avg[Gb/s]", "avg[MiB/s]", "rate[Mpps]", "");
}

static double mibps(double gbps)
{
	return gbps * 1e9 / 8 / (1 << 20);
}

/* An empty string field of the report is unknown: NULL (null in JSON). */
static const char *or_null(const char *s)
{
	return *s ? s : NULL;
}

/* Fields of a side that was never set up (device empty) are null. */
static json_t *side_json(const struct ibup_bench_side *s)
{
	bool dev = s->device[0];

	/* clang-format off */
	return json_pack("{s:s?, s:o, s:s?, s:o, s:s?, s:o, s:o, s:o,"
			 " s:o, s:o, s:o, s:o}",
			 "device", or_null(s->device),
			 "port", s->port ? json_integer(s->port) : json_null(),
			 "link_layer", or_null(s->link_layer),
			 "gid_index", ibup_json_int(s->gid_index),
			 "gid", or_null(s->gid),
			 "lid", dev ? json_integer(s->lid) : json_null(),
			 "pkey", ibup_json_hex16(dev ? s->pkey : -1),
			 "pkey_index", dev ? json_integer(s->pkey_index) : json_null(),
			 "mtu", s->mtu ? json_integer(s->mtu) : json_null(),
			 "cpu", ibup_json_int(s->cpu),
			 "numa_node", ibup_json_int(s->numa_node),
			 "inline_max", dev ? json_integer(s->inline_max) : json_null());
	/* clang-format on */
}

static json_t *result_json(const struct ibup_bench_result *r, bool verify)
{
	/* clang-format off */
	return json_pack("{s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o,"
			 " s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:o}",
			 "size", (json_int_t)r->size,
			 "iterations", (json_int_t)r->iterations,
			 "post_list", (json_int_t)r->post_list,
			 "seconds", ibup_json_real(r->seconds),
			 "bw_avg_gbps", ibup_json_real(r->bw_avg_gbps),
			 "bw_peak_gbps", ibup_json_real(r->bw_peak_gbps),
			 "bw_avg_mibps", ibup_json_real(mibps(r->bw_avg_gbps)),
			 "bw_peak_mibps", ibup_json_real(mibps(r->bw_peak_gbps)),
			 "msg_rate_mpps", ibup_json_real(r->msg_rate_mpps),
			 "lat_min_us", ibup_json_real(r->lat.min_us),
			 "lat_median_us", ibup_json_real(r->lat.median_us),
			 "lat_mean_us", ibup_json_real(r->lat.mean_us),
			 "lat_stdev_us", ibup_json_real(r->lat.stdev_us),
			 "lat_p99_us", ibup_json_real(r->lat.p99_us),
			 "lat_p999_us", ibup_json_real(r->lat.p999_us),
			 "lat_max_us", ibup_json_real(r->lat.max_us),
			 "verified", verify ? json_boolean(r->verified) : json_null());
	/* clang-format on */
}

/* Is @r within the expectations? */
static bool within(const struct bench_out *b, const struct ibup_bench_result *r)
{
	if (!isnan(b->expect_gbps) && !(r->bw_avg_gbps >= b->expect_gbps))
		return false;
	if (!isnan(b->expect_usec) && !(r->lat.median_us <= b->expect_usec))
		return false;
	return true;
}

static int on_result(void *userdata, const struct ibup_bench_report *rep,
		     const struct ibup_bench_result *r)
{
	struct bench_out *b = userdata;
	bool ok = within(b, r);

	if (!ok)
		b->below = true;
	if (b->cli->json)
		return json_array_append_new(b->results, result_json(r, r->verified)) ? -1
										      : 0;
	if (!b->header_done) {
		print_header(rep);
		b->header_done = true;
	}
	if (ibup_bench_test_is_latency(rep->test))
		printf("%8zu %10llu %9.2f %9.2f %9.2f %9.3f %9.2f %9.2f %9.2f", r->size,
		       (unsigned long long)r->iterations, r->lat.min_us, r->lat.median_us,
		       r->lat.mean_us, r->lat.stdev_us, r->lat.p99_us, r->lat.p999_us,
		       r->lat.max_us);
	else
		printf("%8zu %10llu %11.3f %11.3f %11.2f %10.4f", r->size,
		       (unsigned long long)r->iterations, r->bw_peak_gbps, r->bw_avg_gbps,
		       mibps(r->bw_avg_gbps), r->msg_rate_mpps);
	if (r->verified)
		fputs("  verified", stdout);
	if (!ok)
		fputs("  BELOW EXPECTATION", stdout);
	putchar('\n');
	fflush(stdout);
	return 0;
}

static json_t *report_json(const struct ibup_bench_report *r, const struct bench_out *b,
			   int rc)
{
	/* The knobs are known once the queue pairs exist (the client's, after connecting). */
	bool ran = r->cq_mod > 0, list = ran && r->post_list;
	bool expect = !isnan(b->expect_gbps) || !isnan(b->expect_usec);
	bool pass = rc == 0 && !b->below;

	/* clang-format off */
	return json_pack("{s:o, s:s, s:o, s:o, s:I, s:I, s:o, s:o,"
			 " s:o, s:s, s:o, s:O, s:{s:o, s:o, s:o}, s:o}",
			 /* null when a client asked for a test this ibup does not know */
			 "test", ibup_json_str(ibup_bench_test_name(r->test)),
			 "mode", (const char *)r->mode,
			 "local", side_json(&r->local),
			 "remote", side_json(&r->remote),
			 "qps", (json_int_t)r->qps,
			 "depth", (json_int_t)r->depth,
			 "cq_mod", ran ? json_integer(r->cq_mod) : json_null(),
			 "post_list", list ? json_integer(r->post_list) : json_null(),
			 "inline_size", ran ? json_integer(r->inline_size) : json_null(),
			 "clock", (const char *)r->clock,
			 "clock_read_ns", ibup_json_real(r->clock_read_ns),
			 "results", b->results,
			 "expect",
			 "gbps", ibup_json_real(b->expect_gbps),
			 "usec", ibup_json_real(b->expect_usec),
			 "pass", expect ? json_boolean(pass) : json_null(),
			 "error", rc < 0 ? json_string(r->error) : json_null());
	/* clang-format on */
}

int cmd_bench(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "test", required_argument, NULL, 't' },
		{ "device", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'i' },
		{ "to", required_argument, NULL, OPT_TO },
		{ "to-port", required_argument, NULL, OPT_TO_PORT },
		{ "gid-index", required_argument, NULL, 'x' },
		{ "pkey-index", required_argument, NULL, OPT_PKEY_INDEX },
		{ "size", required_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'D' },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "qps", required_argument, NULL, 'q' },
		{ "inline", required_argument, NULL, OPT_INLINE },
		{ "cq-mod", required_argument, NULL, OPT_CQ_MOD },
		{ "post-list", required_argument, NULL, OPT_POST_LIST },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "no-numa", no_argument, NULL, OPT_NO_NUMA },
		{ "expect-gbps", required_argument, NULL, OPT_EXPECT_GBPS },
		{ "expect-usec", required_argument, NULL, OPT_EXPECT_USEC },
		{ "server", no_argument, NULL, OPT_SERVER },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "tcp-port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "qp-timeout", required_argument, NULL, OPT_QP_TIMEOUT },
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct ibup_bench_opts o;
	struct ibup_bench_where w = { .gid_index = -1, .pkey_index = -1 };
	struct ibup_bench_where to = { .gid_index = -1, .pkey_index = -1 };
	struct ibup_bench_report rep = { 0 };
	struct bench_out b = { .cli = cli, .expect_gbps = NAN, .expect_usec = NAN };
	enum ibup_bench_test test = IBUP_BENCH_WRITE_BW;
	bool server = false, size_set = false, iters_set = false, depth_set = false;
	const char *bind_addr = NULL, *host = NULL;
	unsigned tcp_port = IBUP_BENCH_DEFAULT_PORT, u = 0, timeout_s = 10;
	size_t size = 0;
	double v;
	struct ibup_ctx *ctx;
	int opt, r, rc;

	/* The test first: it decides the defaults the other options override. */
	ibup_bench_opts_init(&o, test);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "t:d:i:x:s:an:D:q:p:" IBUP_GLOBAL_SHORTOPTS,
				  longopts, NULL)) != -1) {
		r = 0;
		switch (opt) {
		case 't':
			if (ibup_bench_test_from_name(optarg, &test) < 0)
				return cli_usage_error(
					cli,
					"unknown test '%s' (write_bw, read_bw, "
					"send_bw, write_lat, send_lat)",
					optarg);
			continue;
		case 'd':
			w.device = optarg;
			continue;
		case 'i':
			r = parse_count(cli, "--port", optarg, 1, 255, &w.port);
			break;
		case OPT_TO:
			to.device = optarg;
			continue;
		case OPT_TO_PORT:
			r = parse_count(cli, "--to-port", optarg, 1, 255, &to.port);
			break;
		case 'x':
			if (!(r = parse_count(cli, "--gid-index", optarg, 0, 65535, &u)))
				w.gid_index = (int)u;
			break;
		case OPT_PKEY_INDEX:
			if (!(r = parse_count(cli, "--pkey-index", optarg, 0, 65535, &u)))
				w.pkey_index = (int)u;
			break;
		case 's':
			r = parse_size(cli, optarg, &size);
			size_set = true;
			break;
		case 'a':
			o.all_sizes = true;
			continue;
		case 'n':
			r = cli_parse_number(cli, "--iterations", optarg, 1e12, &v);
			if (!r && v != (uint64_t)v)
				r = cli_usage_error(cli,
						    "--iterations needs a whole number");
			o.iterations = (uint64_t)v;
			iters_set = true;
			break;
		case 'D':
			r = cli_parse_number(cli, "--duration", optarg, 86400,
					     &o.duration_s);
			break;
		case OPT_DEPTH:
			r = parse_count(cli, "--depth", optarg, 1, 16384, &o.depth);
			depth_set = true;
			break;
		case 'q':
			r = parse_count(cli, "--qps", optarg, 1, 64, &o.qps);
			break;
		case OPT_INLINE:
			if (!(r = parse_count(cli, "--inline", optarg, 0, 4096, &u)))
				o.inline_size = (int)u;
			break;
		case OPT_CQ_MOD:
			r = parse_count(cli, "--cq-mod", optarg, 1, 16384, &o.cq_mod);
			break;
		case OPT_POST_LIST:
			r = parse_count(cli, "--post-list", optarg, 1, 64, &o.post_list);
			break;
		case OPT_VERIFY:
			o.verify = true;
			continue;
		case OPT_NO_NUMA:
			w.no_numa = true;
			continue;
		case OPT_EXPECT_GBPS:
			r = cli_parse_number(cli, "--expect-gbps", optarg, 100000,
					     &b.expect_gbps);
			break;
		case OPT_EXPECT_USEC:
			r = cli_parse_number(cli, "--expect-usec", optarg, 1e9,
					     &b.expect_usec);
			break;
		case OPT_SERVER:
			server = true;
			continue;
		case OPT_BIND:
			bind_addr = optarg;
			continue;
		case 'p':
			r = parse_count(cli, "--tcp-port", optarg, 1, 65535, &tcp_port);
			break;
		case OPT_TIMEOUT:
			r = parse_count(cli, "--timeout", optarg, 1, 3600, &timeout_s);
			break;
		case OPT_QP_TIMEOUT:
			r = parse_count(cli, "--qp-timeout", optarg, 1, 31,
					&o.qp_timeout);
			break;
		default:
			r = cli_common_option(cli, opt, argv, help_bench);
			if (r != CLI_CONTINUE)
				return r;
			continue;
		}
		if (r)
			return r;
	}
	if (optind < argc)
		host = argv[optind++];
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	if (server && (host || to.device))
		return cli_usage_error(cli, "--server takes no HOST and no --to");
	if (host && to.device)
		return cli_usage_error(cli, "HOST and --to do not go together");
	if (bind_addr && !server)
		return cli_usage_error(cli, "--bind goes with --server");
	if (ibup_bench_test_is_latency(test) && o.qps > 1)
		return cli_usage_error(cli, "the latency tests use one queue pair");
	if (o.all_sizes && size_set)
		return cli_usage_error(cli, "--size and --all do not go together");
	if (o.duration_s > 0 && iters_set)
		return cli_usage_error(cli,
				       "--iterations and --duration do not go together");
	if (server && (!isnan(b.expect_gbps) || !isnan(b.expect_usec)))
		return cli_usage_error(
			cli, "the client checks --expect-gbps and --expect-usec");
	if (ibup_bench_test_is_latency(test) && !isnan(b.expect_gbps))
		return cli_usage_error(cli, "--expect-gbps goes with a bandwidth test");
	if (!ibup_bench_test_is_latency(test) && !isnan(b.expect_usec))
		return cli_usage_error(cli, "--expect-usec goes with a latency test");

	/* Defaults of the chosen test, then what was given. */
	{
		struct ibup_bench_opts d;

		ibup_bench_opts_init(&d, test);
		o.test = test;
		o.size = size_set ? size : d.size;
		if (!iters_set)
			o.iterations = d.iterations;
		if (!depth_set)
			o.depth = d.depth;
		o.timeout_ms = timeout_s * 1000;
	}
	if (ibup_bench_test_is_latency(test) && o.size < 2)
		return cli_usage_error(
			cli, "the latency tests need messages of 2 bytes or more");
	to.gid_index = w.gid_index;
	to.pkey_index = w.pkey_index;
	to.no_numa = w.no_numa;

	if (cli->root)
		return cli_usage_error(cli,
				       "bench measures the running system, not --root");
	ctx = cli_ctx(cli);
	if (!ctx)
		return IBUP_EXIT_FAILURE;
	b.results = json_array();
	if (!b.results)
		return cli_error(-ENOMEM, "bench");
	if (server) {
		if (!cli->json)
			fprintf(stderr, "ibup bench: waiting for a client on port %u\n",
				tcp_port);
		r = ibup_bench_server(ctx, &w, bind_addr, tcp_port, o.timeout_ms, &rep);
	} else if (host) {
		r = ibup_bench_client(ctx, &o, &w, host, tcp_port, on_result, &b, &rep);
	} else {
		r = ibup_bench_local(ctx, &o, &w, &to, on_result, &b, &rep);
	}

	rc = cli_exit_code(r, b.below);
	if (cli->json) {
		json_t *j = report_json(&rep, &b, r);

		if (!j || cli_print_json(j) < 0) /* takes the object */
			rc = cli_error(-ENOMEM, "bench");
	} else if (server && r >= 0) {
		printf("ibup bench: served %s from %s port %u to the client's %s\n",
		       ibup_bench_test_name(rep.test), or_dash(rep.local.device),
		       rep.local.port, or_dash(rep.remote.device));
	}
	if (r < 0)
		fprintf(stderr, "ibup: bench: %s\n",
			rep.error[0] ? rep.error : strerror(-r));
	else if (b.below)
		fprintf(stderr, "ibup: bench: below expectation (%s)\n",
			!isnan(b.expect_gbps) ? "--expect-gbps" : "--expect-usec");
	json_decref(b.results);
	ibup_bench_report_release(&rep);
	return rc;
}

// SPDX-License-Identifier: MIT
/* ibup check: is this node ready for MPI/NCCL over InfiniBand, and if not, why and how to fix. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "ibup/bench.h"
#include "banned.h"

/* The counter baseline on the running system (documented in ibup-check(8)). */
#define STATE_DIR "/var/lib/ibup"

enum {
	OPT_QUIET = OPT_COMMAND_BASE,
	OPT_STRICT,
	OPT_ALLOW_NONE,
	OPT_NHC,
	OPT_EXPECT_RATE,
	OPT_EXPECT_HCAS,
	OPT_STATE_DIR,
	OPT_NO_STATE,
	OPT_BENCH,
	OPT_BENCH_GBPS,
};

void help_check(FILE *out)
{
	fputs("Usage: ibup check [OPTIONS]\n"
	      "\n"
	      "Check that this node is ready for MPI and NCCL over InfiniBand: HCAs present\n"
	      "and at the rate this VM size should have, ports active, modules and ABI,\n"
	      "firmware, partition key, memlock, IPoIB, waagent, error counters, PCIe link,\n"
	      "GPUDirect, the next kernel's modules and Secure Boot. Each finding says what\n"
	      "was seen, what was expected and how to fix it.\n"
	      "\n"
	      "Options:\n"
	      "  -q, --quiet            print only the problems\n"
	      "      --strict           warnings fail too (exit 1)\n"
	      "      --allow-none       exit 0, not 4, on a node without InfiniBand\n"
	      "      --nhc              one line for LBNL NHC: the first failure, with its\n"
	      "                         Azure NHC fault code; nothing when healthy\n"
	      "      --expect-rate GBPS every InfiniBand port should run at GBPS Gb/s\n"
	      "      --expect-hcas N    there should be N InfiniBand HCAs\n" IBUP_VM_SIZE_HELP
	      "      --state-dir DIR    keep the error-counter baseline in DIR (default\n"
	      "                         " STATE_DIR " on the running system)\n"
	      "      --no-state         keep no baseline: only saturated counters are seen\n"
	      "      --bench            also measure each InfiniBand port's loopback RDMA write\n"
	      "                         bandwidth (8 MiB messages, 1 s per port; ibup bench)\n"
	      "                         against the size's threshold\n"
	      "      --bench-gbps GBPS  the threshold instead of the size's\n"
	      "  -j, --json             print one JSON object (docs/check.schema.json)\n"
	      "      --root DIR         check the system under DIR instead of /\n"
	      "  -v, --verbose          list the checks that were skipped, too\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status: 0 nothing failed, 1 something failed (or warned, with --strict),\n"
	      "2 usage error, 3 could not check, 4 no InfiniBand fabric on this node.\n"
	      "\n"
	      "See ibup-check(8).\n",
	      out);
}

/*
 * Failures first, then warnings, passes and skips; within each, the order the checks
 * ran, which goes from the fabric to its consequences (a port down before the IPoIB
 * interface it takes down), so the first failure is the one to fix first.
 */
static int order_checks(struct ibup_check_report *rep)
{
	struct ibup_check *sorted = calloc(rep->n ? rep->n : 1, sizeof(*sorted));
	unsigned k = 0;

	if (!sorted)
		return -ENOMEM;
	for (int v = IBUP_FAIL; v <= IBUP_SKIP; v++)
		for (unsigned i = 0; i < rep->n; i++)
			if ((int)rep->checks[i].verdict == v)
				sorted[k++] = rep->checks[i];
	free(rep->checks);
	rep->checks = sorted;
	return 0;
}

static void count(const struct ibup_check_report *rep, unsigned n[4])
{
	memset(n, 0, 4 * sizeof(*n));
	for (unsigned i = 0; i < rep->n; i++)
		n[rep->checks[i].verdict]++;
}

static json_t *check_json(const struct ibup_check *c)
{
	/* clang-format off */
	return json_pack("{s:s, s:s?, s:s, s:s?, s:s?, s:s?, s:s?}",
			 "id", c->id,
			 "subject", (const char *)c->subject,
			 "verdict", ibup_verdict_name(c->verdict),
			 "seen", (const char *)c->seen,
			 "expected", (const char *)c->expected,
			 "fix", (const char *)c->fix,
			 "nhc_code", c->nhc_code);
	/* clang-format on */
}

static json_t *report_json(const struct ibup_status *st,
			   const struct ibup_check_report *rep, const char *verdict)
{
	json_t *checks = json_array();
	unsigned n[4];

	count(rep, n);
	for (unsigned i = 0; checks && i < rep->n; i++)
		checks = cli_json_append(checks, check_json(&rep->checks[i]));
	/* clang-format off */
	return json_pack("{s:s, s:s?, s:s?, s:s?, s:b, s:{s:I, s:I, s:I, s:I},"
			 " s:o}",
			 "verdict", verdict,
			 "vm_size", (const char *)st->platform.vm_size,
			 "family", (const char *)rep->expect.family,
			 "expectations", (const char *)rep->expect.source,
			 "fabric", (int)rep->fabric,
			 "summary",
			 "fail", (json_int_t)n[IBUP_FAIL],
			 "warn", (json_int_t)n[IBUP_WARN],
			 "pass", (json_int_t)n[IBUP_PASS],
			 "skip", (json_int_t)n[IBUP_SKIP],
			 "checks", checks);
	/* clang-format on */
}

static void print_check(FILE *out, const struct ibup_check *c)
{
	static const char *const tags[] = { "FAIL", "WARN", "PASS", "SKIP" };

	fprintf(out, "%s  %-18s %s%s%s", tags[c->verdict], c->id,
		c->subject ? c->subject : "", c->subject ? ": " : "",
		c->seen ? c->seen : "");
	if (c->expected && c->verdict != IBUP_PASS)
		fprintf(out, " (expected %s)", c->expected);
	fputc('\n', out);
	if (c->fix)
		fprintf(out, "      fix: %s\n", c->fix);
}

/* Whether two findings say the same thing about different subjects. */
static bool same_finding(const struct ibup_check *a, const struct ibup_check *b)
{
	return a->verdict == b->verdict && strcmp(a->id, b->id) == 0 && a->subject &&
	       b->subject && !a->fix && !b->fix && a->seen && b->seen &&
	       strcmp(a->seen, b->seen) == 0;
}

static void print_text(FILE *out, const struct ibup_status *st,
		       const struct ibup_check_report *rep, bool quiet, bool verbose)
{
	unsigned n[4];

	for (unsigned i = 0; i < rep->n; i++) {
		const struct ibup_check *c = &rep->checks[i];
		unsigned same = 1;

		if ((quiet && c->verdict > IBUP_WARN) ||
		    (!verbose && c->verdict == IBUP_SKIP))
			continue;
		/* Eight ports saying "active, link_up" are one line, not eight. */
		while (!verbose && i + same < rep->n &&
		       same_finding(c, &rep->checks[i + same]))
			same++;
		if (same > 2) {
			struct ibup_check merged = *c;
			char subject[160];

			snprintf(subject, sizeof(subject), "%u of them, %s to %s", same,
				 c->subject, rep->checks[i + same - 1].subject);
			merged.subject = subject;
			print_check(out, &merged);
			i += same - 1;
			continue;
		}
		print_check(out, c);
	}
	if (quiet)
		return;
	count(rep, n);
	fprintf(out, "\n%u failed, %u warning%s, %u passed, %u skipped", n[IBUP_FAIL],
		n[IBUP_WARN], n[IBUP_WARN] == 1 ? "" : "s", n[IBUP_PASS], n[IBUP_SKIP]);
	if (st->platform.vm_size)
		fprintf(out, " on %s%s%s%s", st->platform.vm_size,
			rep->expect.family ? " (" : "",
			rep->expect.family ? rep->expect.family : "",
			rep->expect.family ? ")" : "");
	fprintf(out, ": %s\n",
		n[IBUP_FAIL] ? "NOT ready for MPI over InfiniBand"
			     : "ready for MPI over InfiniBand");
	if (st->platform.vm_size && !rep->expect_found)
		fprintf(out,
			"(no expectations known for %s: generic checks only; add them in "
			"/etc/ibup/expect.d)\n",
			st->platform.vm_size);
	else if (!st->platform.vm_size)
		fputs("(VM size unknown: generic checks only; give --vm-size or --expect-rate)\n",
		      out);
}

/* NHC wants one line about the first failure; nothing when healthy. */
static void print_nhc(FILE *out, const struct ibup_check_report *rep, bool strict)
{
	for (unsigned i = 0; i < rep->n; i++) {
		const struct ibup_check *c = &rep->checks[i];

		if (c->verdict == IBUP_FAIL || (strict && c->verdict == IBUP_WARN)) {
			fprintf(out, "check_ibup: %s %s%s%s%s%s. FaultCode: %s\n", c->id,
				c->subject ? c->subject : "", c->subject ? ": " : "",
				c->seen ? c->seen : "", c->expected ? ", expected " : "",
				c->expected ? c->expected : "",
				c->nhc_code ? c->nhc_code : "NHCNA");
			return;
		}
	}
}

/* What check --bench measures with: the context, and the inventory the checks read. */
struct bench_data {
	struct ibup_ctx *ctx;
	const struct ibup_status *st;
};

/* check --bench: one loopback write_bw run, as `ibup bench -d DEV -i PORT -s 8M -D 1`. */
static int bench_port(void *data, const char *device, unsigned port, double *ret_gbps,
		      char *err, size_t err_size)
{
	const struct bench_data *bd = data;
	struct ibup_bench_opts o;
	struct ibup_bench_where w = {
		.device = device, .port = port, .gid_index = -1, .pkey_index = -1
	};
	struct ibup_bench_report rep;
	int r;

	ibup_bench_opts_init(&o, IBUP_BENCH_WRITE_BW);
	o.size = IBUP_BENCH_MAX_SIZE;
	o.duration_s = 1.0;
	r = ibup_bench_local_with_status(bd->ctx, bd->st, &o, &w, &w, NULL, NULL, &rep);
	if (r == 0 && rep.n_results == 1)
		*ret_gbps = rep.results[0].bw_avg_gbps;
	else
		snprintf(err, err_size, "%s", rep.error);
	ibup_bench_report_release(&rep);
	return r < 0 ? r : rep.n_results == 1 ? 0 : -EIO;
}

int cmd_check(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "allow-none", no_argument, NULL, OPT_ALLOW_NONE },
		{ "nhc", no_argument, NULL, OPT_NHC },
		{ "expect-rate", required_argument, NULL, OPT_EXPECT_RATE },
		{ "expect-hcas", required_argument, NULL, OPT_EXPECT_HCAS },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "no-state", no_argument, NULL, OPT_NO_STATE },
		{ "bench", no_argument, NULL, OPT_BENCH },
		{ "bench-gbps", required_argument, NULL, OPT_BENCH_GBPS },
		IBUP_VM_SIZE_LONGOPTS,
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct ibup_check_opts opts = { .expect_rate_gbps = NAN,
					.bench_threshold_gbps = NAN,
					.expect_hcas = IBUP_UNKNOWN };
	struct ibup_check_report *rep = NULL;
	bool quiet = false, strict = false, allow_none = false, nhc = false,
	     no_state = false, bench = false, unknown;
	const char *state_dir = NULL, *verdict;
	struct ibup_status *st = NULL;
	struct bench_data bench_data = { 0 };
	struct ibup_ctx *ctx;
	unsigned n[4];
	double v;
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "q" IBUP_GLOBAL_SHORTOPTS, longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'q':
			quiet = true;
			continue;
		case OPT_STRICT:
			strict = true;
			continue;
		case OPT_ALLOW_NONE:
			allow_none = true;
			continue;
		case OPT_NHC:
			nhc = true;
			continue;
		case OPT_EXPECT_RATE:
			r = cli_parse_number(cli, "--expect-rate", optarg, 10000,
					     &opts.expect_rate_gbps);
			if (r)
				return r;
			continue;
		case OPT_EXPECT_HCAS:
			r = cli_parse_number(cli, "--expect-hcas", optarg, 64, &v);
			if (r)
				return r;
			if (v != (int32_t)v)
				return cli_usage_error(
					cli, "--expect-hcas needs a whole number");
			opts.expect_hcas = (int32_t)v;
			continue;
		case OPT_STATE_DIR:
			state_dir = optarg;
			continue;
		case OPT_NO_STATE:
			no_state = true;
			continue;
		case OPT_BENCH:
			bench = true;
			continue;
		case OPT_BENCH_GBPS:
			r = cli_parse_number(cli, "--bench-gbps", optarg, 100000,
					     &opts.bench_threshold_gbps);
			if (r)
				return r;
			bench = true;
			continue;
		default:
			break;
		}
		r = cli_common_option(cli, opt, argv, help_check);
		if (r != CLI_CONTINUE)
			return r;
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	if (nhc && cli->json)
		return cli_usage_error(cli, "--nhc and --json do not go together");

	ctx = cli_ctx(cli);
	if (!ctx)
		return IBUP_EXIT_FAILURE;
	if (bench) {
		if (!ibup_ctx_is_live(ctx))
			return cli_usage_error(
				cli, "--bench measures the running system, not --root");
		bench_data.ctx = ctx;
		opts.bench = bench_port;
		opts.bench_data = &bench_data;
	}
	/* The baseline belongs to the running system; another root keeps none by default. */
	if (!no_state) {
		if (state_dir)
			opts.state_dir = state_dir;
		else if (ibup_ctx_is_live(ctx) &&
			 (mkdir(STATE_DIR, 0755) == 0 || errno == EEXIST))
			opts.state_dir = STATE_DIR;
	}
	r = ibup_status_read(ctx, IBUP_STATUS_COUNTERS, &st);
	if (r < 0)
		return cli_error(r, "cannot take the inventory");
	bench_data.st = st; /* --bench chooses its ports from the same inventory */
	r = cli_fill_vm_size(cli, st);
	if (r == 0) {
		r = ibup_check_run(ctx, st, &opts, &rep);
		if (r < 0)
			r = cli_error(r, "cannot run the checks");
	}
	if (r != 0) {
		ibup_status_free(st);
		return r;
	}
	r = order_checks(rep);
	if (r < 0) {
		ibup_check_report_free(rep);
		ibup_status_free(st);
		return cli_error(r, "cannot order the checks");
	}
	count(rep, n);
	/* Devices that could not be read may be the fabric: that is not "none". */
	unknown = !rep->fabric && (st->devices_error || st->n_unreadable);
	if (unknown)
		verdict = "unknown";
	else if (!rep->fabric && !rep->fabric_expected)
		verdict = "none";
	else
		verdict = n[IBUP_FAIL] ? "fail" : n[IBUP_WARN] ? "warn" : "pass";

	if (cli->json) {
		r = cli_print_json(report_json(st, rep, verdict));
	} else if (nhc) {
		print_nhc(stdout, rep, strict);
	} else if (unknown) {
		printf("Could not check: %s.\n", rep->checks[0].seen);
	} else if (strcmp(verdict, "none") == 0) {
		if (!quiet)
			printf("No InfiniBand fabric on this node: %s. Nothing to check.\n",
			       rep->n > 1 && rep->checks[rep->n - 1].seen
				       ? rep->checks[rep->n - 1].seen
				       : "no RDMA device");
	} else {
		print_text(stdout, st, rep, quiet, cli->verbose > 0);
	}
	if (r == 0) {
		bool none = strcmp(verdict, "none") == 0;

		/* No fabric: nothing to check it on (4), unless --allow-none; could not
		 * check (3) whatever --allow-none says. */
		if (unknown)
			r = IBUP_EXIT_FAILURE;
		else
			r = cli_exit_code(
				none && !allow_none ? -ENODEV : 0,
				!none && (n[IBUP_FAIL] || (strict && n[IBUP_WARN])));
	}
	ibup_check_report_free(rep);
	ibup_status_free(st);
	return r;
}

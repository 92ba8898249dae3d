// SPDX-License-Identifier: MIT
/*
 * ibup sweep: the fabric, every pair. The measuring is ibup-sweep's (an MPI program, one
 * rank per node or per HCA); this command re-analyses a run it saved, with other
 * thresholds or into another report, without measuring again.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ibup/plan.h"
#include "ibup/sweep.h"
#include "cli.h"
#include "banned.h"

enum {
	OPT_ANALYZE = OPT_COMMAND_BASE,
	OPT_CSV,
	OPT_CSV_LATENCY,
	OPT_SVG,
	OPT_BW_MIN,
	OPT_BW_REL,
	OPT_LAT_MAX,
	OPT_LAT_REL,
	OPT_NODE_FRAC,
	OPT_NO_VM_SIZE,
	OPT_DRAIN,
	OPT_DRY_RUN,
};

void help_sweep(FILE *out)
{
	fputs("Usage: ibup sweep --analyze RUN.json [OPTIONS]\n"
	      "\n"
	      "Name the bad nodes and the bad links of a fabric from a sweep of every pair of\n"
	      "nodes. The measuring is done by ibup-sweep (an MPI program: mpirun or srun,\n"
	      "one rank per node); this re-analyses the run it saved with --output, with other\n"
	      "thresholds or into another report, without measuring again.\n"
	      "\n"
	      "Options:\n"
	      "      --analyze FILE     the run to analyse ('-': standard input)\n"
	      "      --csv FILE         write the bandwidth matrix (Gb/s, row to column)\n"
	      "      --csv-latency FILE write the latency matrix (µs)\n"
	      "      --svg FILE         write the heat map (a bad node shows as a cross)\n"
	      "      --bw-min GBPS      a direction below this is poor (default: the VM size's\n"
	      "                         expectation, else --bw-rel of the fleet median)\n"
	      "      --bw-rel FRACTION  the relative floor (default 0.8)\n"
	      "      --lat-max US       a latency above this is poor (default: --lat-rel)\n"
	      "      --lat-rel FACTOR   × the fleet's median latency (default 2)\n"
	      "      --node-frac FRACTION\n"
	      "                         a node poor with more than this share of its\n"
	      "                         partners is bad (default 0.5)\n"
	      "      --vm-size SIZE     take the floor from this VM size, not the run's\n"
	      "      --no-vm-size       ignore the VM size: relative thresholds only\n"
	      "      --drain            drain the bad nodes' hosts in Slurm (scontrol)\n"
	      "  -n, --dry-run          with --drain: print the scontrol commands only\n"
	      "  -j, --json             the run and its analysis as JSON\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status: 0 when no node or link is bad, 1 when some are, 2 on a usage error,\n"
	      "3 when the run cannot be read or a report written, or a drain failed.\n"
	      "\n"
	      "See ibup-sweep(8).\n",
	      out);
}

/* The whole run file (or standard input), bounded; NULL after saying why. */
static char *slurp_run(const char *path, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int err = 0;

	if (!f) {
		cli_error(-errno, "cannot open the run '%s'", path);
		return NULL;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			size_t nc = cap ? cap * 2 : 1u << 16;
			char *grown;

			if (cap > IBUP_SWEEP_MAX_JSON) {
				err = -EFBIG;
				break;
			}
			grown = realloc(text, nc + 1);
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			text = grown;
			cap = nc;
		}
		got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			err = ferror(f) ? -EIO : 0;
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!err && len > IBUP_SWEEP_MAX_JSON)
		err = -EFBIG;
	if (err) {
		free(text);
		cli_error(err, "cannot read the run '%s'", path);
		return NULL;
	}
	if (!text)
		text = calloc(1, 1);
	*ret_len = len;
	return text;
}

/* A report written through the one file writer, in the file's directory. */
static int write_report(const char *path, const char *text)
{
	int r = ibup_file_write_path(path, text, strlen(text), 0644);

	if (r < 0)
		return cli_error(r, "cannot write '%s'", path);
	return IBUP_EXIT_OK;
}

/* A fraction in (0, 1] or a factor, for option @opt. */
static int parse_num(struct ibup_cli *cli, const char *opt, const char *arg, double max,
		     double *ret)
{
	return cli_parse_number(cli, opt, arg, max, ret) ? IBUP_EXIT_USAGE : 0;
}

struct sweep_args {
	const char *run, *csv, *csv_lat, *svg;
	struct ibup_sweep_thresholds t;
	bool drain, dry_run;
};

static int write_reports(const struct sweep_args *o, const struct ibup_sweep_run *run,
			 const struct ibup_sweep_analysis *a)
{
	static const struct {
		int kind; /* -1: svg, else enum ibup_sweep_csv */
	} kinds[] = { { IBUP_SWEEP_CSV_BW }, { IBUP_SWEEP_CSV_LAT }, { -1 } };
	const char *paths[] = { o->csv, o->csv_lat, o->svg };

	for (size_t i = 0; i < IBUP_ARRAY_SIZE(kinds); i++) {
		_cleanup_free_ char *text = NULL;
		int r;

		if (!paths[i])
			continue;
		if (kinds[i].kind < 0)
			r = ibup_sweep_report_svg(run, a, &text);
		else
			r = ibup_sweep_report_csv(
				run, a, (enum ibup_sweep_csv)kinds[i].kind, &text);
		if (r < 0)
			return cli_error(r, "cannot build the report '%s'", paths[i]);
		r = write_report(paths[i], text);
		if (r)
			return r;
	}
	return IBUP_EXIT_OK;
}

static int analyze(struct ibup_cli *cli, const struct sweep_args *o)
{
	_cleanup_free_ char *text = NULL, *out = NULL, *drain = NULL;
	struct ibup_sweep_analysis a;
	struct ibup_sweep_run run;
	struct ibup_diag d = { 0 };
	struct ibup_ctx *ctx = cli_ctx(cli);
	bool findings;
	size_t len = 0;
	int r;

	if (!ctx)
		return IBUP_EXIT_FAILURE;
	text = slurp_run(o->run, &len);
	if (!text)
		return IBUP_EXIT_FAILURE;
	r = ibup_sweep_run_from_json(text, len, &run, &d);
	if (r == -EINVAL || r == -EFBIG) {
		if (d.line)
			fprintf(stderr,
				"ibup: '%s' is not a sweep run: line %u column %u: %s\n",
				o->run, d.line, d.column, d.msg);
		else
			fprintf(stderr, "ibup: '%s' is not a sweep run: %s\n", o->run,
				d.msg);
		return IBUP_EXIT_FAILURE;
	}
	if (r < 0)
		return cli_error(r, "cannot read the run '%s'", o->run);
	if (cli->vm_size && ibup_sweep_run_set_str(&run.vm_size, cli->vm_size) < 0) {
		ibup_sweep_run_release(&run);
		return cli_error(-ENOMEM, "cannot analyse the run");
	}
	r = ibup_sweep_analyze(ctx, &run, &o->t, &a);
	if (r < 0) {
		ibup_sweep_run_release(&run);
		if (r == -ENODATA)
			fprintf(stderr, "ibup: '%s' holds no measurements\n", o->run);
		else if (r == -EINVAL)
			fprintf(stderr, "ibup: '%s' holds no nodes\n", o->run);
		else
			cli_error(r, "cannot analyse the run '%s'", o->run);
		return IBUP_EXIT_FAILURE;
	}
	findings = a.n_bad_nodes || a.n_bad_links;
	r = write_reports(o, &run, &a);
	if (!r && cli->json) {
		r = ibup_sweep_run_to_json(&run, &a, &out);
		if (r < 0 || fputs(out, stdout) < 0)
			r = cli_error(r < 0 ? r : -EIO, "cannot print the analysis");
	} else if (!r) {
		r = ibup_sweep_report_text(&run, &a, &out);
		if (r >= 0 && !o->drain)
			r = ibup_sweep_report_drain(&run, &a, &drain);
		if (r < 0) {
			r = cli_error(r, "cannot build the summary");
		} else {
			fputs(out, stdout);
			if (drain && *drain)
				printf("\nTo drain them in Slurm (or run with --drain):\n%s",
				       drain);
		}
	}
	if (!r && o->drain) {
		struct ibup_plan *plan = NULL;

		r = ibup_sweep_drain_plan(ctx, &run, &a, &plan);
		if (r < 0) {
			r = cli_error(r, "cannot plan the drain");
		} else {
			fputs("\n", stdout);
			r = cli_run_plan(cli, plan, o->dry_run, false);
		}
	}
	ibup_sweep_analysis_release(&a);
	ibup_sweep_run_release(&run);
	return r ? r : findings ? IBUP_EXIT_FINDINGS : IBUP_EXIT_OK;
}

int cmd_sweep(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "analyze", required_argument, NULL, OPT_ANALYZE },
		{ "csv", required_argument, NULL, OPT_CSV },
		{ "csv-latency", required_argument, NULL, OPT_CSV_LATENCY },
		{ "svg", required_argument, NULL, OPT_SVG },
		{ "bw-min", required_argument, NULL, OPT_BW_MIN },
		{ "bw-rel", required_argument, NULL, OPT_BW_REL },
		{ "lat-max", required_argument, NULL, OPT_LAT_MAX },
		{ "lat-rel", required_argument, NULL, OPT_LAT_REL },
		{ "node-frac", required_argument, NULL, OPT_NODE_FRAC },
		{ "vm-size", required_argument, NULL, OPT_VM_SIZE },
		{ "no-vm-size", no_argument, NULL, OPT_NO_VM_SIZE },
		{ "drain", no_argument, NULL, OPT_DRAIN },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct sweep_args o = { 0 };
	int opt, r = 0;

	ibup_sweep_thresholds_init(&o.t);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, IBUP_GLOBAL_SHORTOPTS "n", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case OPT_ANALYZE:
		case OPT_CSV:
		case OPT_CSV_LATENCY:
		case OPT_SVG:
			if (!*optarg)
				return cli_usage_error(cli, "%s needs a file",
						       argv[optind - 1]);
			*(opt == OPT_ANALYZE ? &o.run
			  : opt == OPT_CSV   ? &o.csv
			  : opt == OPT_SVG   ? &o.svg
					     : &o.csv_lat) = optarg;
			continue;
		case OPT_BW_MIN:
			r = parse_num(cli, "--bw-min", optarg, 1e6, &o.t.bw_min_gbps);
			break;
		case OPT_BW_REL:
			r = parse_num(cli, "--bw-rel", optarg, 1, &o.t.bw_rel);
			break;
		case OPT_LAT_MAX:
			r = parse_num(cli, "--lat-max", optarg, 1e9, &o.t.lat_max_us);
			break;
		case OPT_LAT_REL:
			r = parse_num(cli, "--lat-rel", optarg, 1e6, &o.t.lat_rel);
			break;
		case OPT_NODE_FRAC:
			r = parse_num(cli, "--node-frac", optarg, 1, &o.t.node_frac);
			if (!r && o.t.node_frac >= 1)
				return cli_usage_error(
					cli,
					"--node-frac needs a share below 1, "
					"not '%s'",
					optarg);
			break;
		case OPT_NO_VM_SIZE:
			o.t.ignore_size = true;
			continue;
		case OPT_DRAIN:
			o.drain = true;
			continue;
		case 'n':
		case OPT_DRY_RUN:
			o.dry_run = true;
			continue;
		default:
			r = cli_common_option(cli, opt, argv, help_sweep);
			if (r != CLI_CONTINUE)
				return r;
			r = 0;
			continue;
		}
		if (r)
			return r;
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	if (!o.run)
		return cli_usage_error(
			cli, "nothing to do: give --analyze RUN.json (ibup-sweep "
			     "measures)");
	if (o.dry_run && !o.drain)
		return cli_usage_error(cli, "--dry-run goes with --drain");
	if (o.drain && cli->json)
		return cli_usage_error(cli, "--drain and --json do not go together");
	if (cli->vm_size && o.t.ignore_size)
		return cli_usage_error(cli,
				       "--vm-size and --no-vm-size do not go together");
	return analyze(cli, &o);
}

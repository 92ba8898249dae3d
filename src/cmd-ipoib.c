// SPDX-License-Identifier: MIT
/* ibup ipoib: the platform's IPoIB addresses, shown, applied, and applied at every boot. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ibup/plan.h"
#include "banned.h"

enum {
	OPT_WAIT = OPT_COMMAND_BASE,
	OPT_PREFIX_LEN,
	OPT_DRY_RUN,
	OPT_VIA,
	OPT_RESUME,
};

void help_ipoib(FILE *out)
{
	fputs("Usage: ibup ipoib [show] [OPTIONS]\n"
	      "       ibup ipoib apply [--wait SECONDS] [--prefix-len N] [--dry-run]\n"
	      "       ibup ipoib enable [--via systemd|waagent] [--dry-run | --resume]\n"
	      "       ibup ipoib disable [--dry-run | --resume]\n"
	      "\n"
	      "IPoIB addresses from the platform: Hyper-V KVP pool 0's IPoIB_Data (the\n"
	      "legacy SharedConfig.xml when the pool has none), matched to interfaces by\n"
	      "hardware address whatever they are called.\n"
	      "\n"
	      "  show                   the platform's pairs, the interfaces, what apply would do\n"
	      "  apply                  bring the interfaces up and add the missing addresses\n"
	      "                         (rtnetlink; nothing is ever removed)\n"
	      "  enable                 apply at every boot and whenever an interface appears:\n"
	      "                         ibup's own unit and udev rule (--via systemd, default),\n"
	      "                         or OS.EnableRDMA=y for the Azure agent (--via waagent)\n"
	      "  disable                undo enable\n"
	      "\n"
	      "Options:\n"
	      "      --wait SECONDS     wait for interfaces that are not there yet (default 0)\n"
	      "      --prefix-len N     prefix length of the addresses (default 16)\n"
	      "      --via WAY          systemd or waagent (enable)\n"
	      "  -n, --dry-run          print the plan (commands, and file changes as unified\n"
	      "                         diffs), change nothing\n"
	      "      --resume           finish an enable or disable that stopped part way\n"
	      "  -j, --json             print one JSON object\n"
	      "      --root DIR         read the platform data and sysfs under DIR; enable and\n"
	      "                         disable write there too. apply always configures the\n"
	      "                         running kernel's interfaces of the names found\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status: 0 every pair applied (or nothing to change), 1 some pairs not\n"
	      "applied (named), 2 usage error, 3 nothing could be done.\n"
	      "\n"
	      "See ibup-ipoib(8).\n",
	      out);
}

static json_t *plan_json(const struct ibup_ipoib_plan *plan)
{
	json_t *o = json_object(), *pairs = json_array();

	if (!o || !pairs)
		goto fail;
	for (unsigned i = 0; i < plan->n; i++) {
		const struct ibup_ipoib_target *t = &plan->targets[i];
		json_t *p = json_object();

		if (!p || ibup_json_set(p, "mac", json_string(t->mac)) ||
		    ibup_json_set(p, "ipv4", json_string(t->ipv4)) ||
		    ibup_json_set(p, "interface", ibup_json_str(t->netdev)) ||
		    ibup_json_set(p, "state",
				  json_string(ibup_target_state_name(t->state))) ||
		    ibup_json_set(p, "error",
				  t->error ? json_string(strerror(t->error))
					   : json_null()) ||
		    json_array_append_new(pairs, p) < 0) {
			json_decref(p);
			goto fail;
		}
	}
	if (ibup_json_set(o, "source", ibup_json_str(plan->source)) ||
	    ibup_json_set(o, "network_direct", json_boolean(plan->network_direct)) ||
	    ibup_json_set(o, "nd_driver_version",
			  ibup_json_str(plan->nd_driver_version)) ||
	    ibup_json_set(o, "nd_device_written",
			  json_boolean(plan->nd_device_written)) ||
	    ibup_json_set(o, "nd_dat_conf",
			  plan->nd_dat_conf ? json_sprintf("/%s", plan->nd_dat_conf)
					    : json_null()) ||
	    ibup_json_set(o, "prefix_len", json_integer(plan->prefix_len)) ||
	    ibup_json_set(o, "pairs", json_incref(pairs)))
		goto fail;
	json_decref(pairs);
	return o;
fail:
	json_decref(o);
	json_decref(pairs);
	return NULL;
}

static const char *state_text(const struct ibup_ipoib_target *t, bool applied)
{
	switch (t->state) {
	case IBUP_TARGET_NO_INTERFACE:
		return "no interface carries this MAC (stale data, or not there yet)";
	case IBUP_TARGET_NOT_IN_KERNEL:
		return "the running kernel has no interface of this name";
	case IBUP_TARGET_TO_ADD:
		return applied ? "not added" : "to add";
	case IBUP_TARGET_PRESENT:
		return "present";
	case IBUP_TARGET_APPLIED:
		return "added";
	case IBUP_TARGET_FAILED:
		return "failed";
	}
	return "?";
}

static void plan_text(FILE *out, const struct ibup_ipoib_plan *plan, bool applied)
{
	static const char *const src[] = { "kvp", "Hyper-V KVP pool 0 (IPoIB_Data)",
					   "sharedconfig",
					   "/var/lib/waagent/SharedConfig.xml" };
	const char *name = plan->source;

	for (size_t i = 0; name && i < IBUP_ARRAY_SIZE(src); i += 2)
		if (strcmp(name, src[i]) == 0)
			name = src[i + 1];
	fprintf(out, "Source:    %s\n",
		name ? name : "none: the platform gave no IPoIB address");
	if (plan->network_direct)
		fprintf(out,
			"Note:      Network Direct VM (NdDriverVersion %s): RDMA goes "
			"through hv_network_direct, not IPoIB\n",
			plan->nd_driver_version ? plan->nd_driver_version : "?");
	if (plan->nd_device_written)
		fputs("Network Direct: the address was given to /dev/hvnd_rdma\n", out);
	else if (plan->nd_device)
		fprintf(out, "Network Direct: cannot write /dev/hvnd_rdma: %s\n",
			strerror(plan->nd_device));
	if (plan->nd_dat_conf)
		fprintf(out, "Network Direct: set the ofa-v2-ib0 address in /%s\n",
			plan->nd_dat_conf);
	if (!plan->n)
		return;
	fputs("\nMAC                IPV4             INTERFACE     STATE\n", out);
	for (unsigned i = 0; i < plan->n; i++) {
		const struct ibup_ipoib_target *t = &plan->targets[i];

		fprintf(out, "%-18s %-16s %-13s %s", t->mac, t->ipv4,
			t->netdev ? t->netdev : "-", state_text(t, applied));
		if (t->state == IBUP_TARGET_FAILED)
			fprintf(out, ": %s", strerror(t->error));
		fputc('\n', out);
	}
}

static int read_plan(struct ibup_cli *cli, unsigned prefix_len,
		     struct ibup_ipoib_plan **ret)
{
	struct ibup_diag diag = { 0 };
	struct ibup_ctx *ctx = cli_ctx(cli);
	int r;

	if (!ctx)
		return IBUP_EXIT_FAILURE;
	r = ibup_ipoib_plan_read(ctx, prefix_len, ret, &diag);
	if (r == -EBADMSG) {
		fprintf(stderr, "ibup: bad IPoIB data from the platform: %s\n", diag.msg);
		return IBUP_EXIT_FAILURE;
	}
	if (r < 0)
		return cli_error(r, "cannot read the platform's IPoIB data");
	return 0;
}

static int ipoib_show(struct ibup_cli *cli, unsigned prefix_len)
{
	struct ibup_ipoib_plan *plan = NULL;
	int r = read_plan(cli, prefix_len, &plan);

	if (r)
		return r;
	if (cli->json)
		r = cli_print_json(plan_json(plan));
	else
		plan_text(stdout, plan, false);
	ibup_ipoib_plan_free(plan);
	return r;
}

static int ipoib_apply(struct ibup_cli *cli, unsigned prefix_len, unsigned wait_s,
		       bool dry_run)
{
	struct ibup_ipoib_plan *plan = NULL;
	unsigned done = 0;
	int r = read_plan(cli, prefix_len, &plan);

	if (r)
		return r;
	if (!plan->source) {
		ibup_ipoib_plan_free(plan);
		fputs("ibup: the platform gave no IPoIB address (no IPoIB_Data in KVP pool 0, "
		      "no rdmaIPv4Address in SharedConfig.xml)\n",
		      stderr);
		return IBUP_EXIT_FAILURE;
	}
	if (!dry_run) {
		r = ibup_ipoib_apply(cli->ctx, plan, wait_s);
		if (r < 0) {
			ibup_ipoib_plan_free(plan);
			return cli_error(r, "cannot apply the IPoIB addresses");
		}
	}
	if (cli->json) {
		r = cli_print_json(plan_json(plan));
	} else {
		plan_text(stdout, plan, !dry_run);
		if (dry_run) {
			struct ibup_plan *steps = NULL;

			r = ibup_ipoib_apply_plan(cli->ctx, plan, true, &steps, NULL);
			if (r < 0) {
				ibup_ipoib_plan_free(plan);
				return cli_error(r, "cannot plan 'ipoib apply'");
			}
			if (steps->n) {
				fputc('\n', stdout);
				render_text_plan(stdout, steps);
			}
			ibup_plan_free(steps);
		}
	}
	for (unsigned i = 0; i < plan->n; i++) {
		const struct ibup_ipoib_target *t = &plan->targets[i];

		if (t->state == IBUP_TARGET_PRESENT || t->state == IBUP_TARGET_APPLIED ||
		    (dry_run && t->state == IBUP_TARGET_TO_ADD))
			done++;
		else if (!dry_run)
			fprintf(stderr, "ibup: %s (%s) not applied: %s\n", t->ipv4,
				t->mac,
				t->state == IBUP_TARGET_FAILED ? strerror(t->error)
							       : state_text(t, true));
	}
	if (r == 0 && done < plan->n)
		r = done || plan->nd_device_written || plan->nd_dat_conf
			    ? IBUP_EXIT_FINDINGS
			    : IBUP_EXIT_FAILURE;
	ibup_ipoib_plan_free(plan);
	return r;
}

static int ipoib_enable(struct ibup_cli *cli, const char *via, bool dry_run, bool resume)
{
	struct ibup_plan *plan = NULL;
	char exe[PATH_MAX];
	int r;

	/* The unit runs this very binary, wherever it is installed. */
	cli_exe_path(cli, exe, sizeof(exe));
	r = ibup_ipoib_enable_plan(cli->ctx, via, exe, &plan);
	if (r == -EBADMSG)
		return cli_error(
			r, "cannot change '/etc/waagent.conf': it holds a NUL byte");
	if (r < 0)
		return cli_error(r, "cannot plan 'ipoib enable'");
	return cli_run_plan(cli, plan, dry_run, resume);
}

static int ipoib_disable(struct ibup_cli *cli, bool dry_run, bool resume)
{
	struct ibup_plan *plan = NULL;
	int r = ibup_ipoib_disable_plan(cli->ctx, &plan);

	if (r == -EBADMSG)
		return cli_error(
			r, "cannot change '/etc/waagent.conf': it holds a NUL byte");
	if (r < 0)
		return cli_error(r, "cannot plan 'ipoib disable'");
	return cli_run_plan(cli, plan, dry_run, resume);
}

/* What the command line asked; each subcommand takes the options its mask allows. */
struct ipoib_args {
	unsigned wait_s, prefix_len;
	const char *via;
	bool dry_run, resume;
	unsigned given; /* OPT_BIT() of each option given */
};

#define OPT_BIT(o) (1u << ((o)-OPT_WAIT))

static int run_show(struct ibup_cli *cli, const struct ipoib_args *a)
{
	return ipoib_show(cli, a->prefix_len);
}

static int run_apply(struct ibup_cli *cli, const struct ipoib_args *a)
{
	return ipoib_apply(cli, a->prefix_len, a->wait_s, a->dry_run);
}

static int run_enable(struct ibup_cli *cli, const struct ipoib_args *a)
{
	if (strcmp(a->via, "systemd") != 0 && strcmp(a->via, "waagent") != 0)
		return cli_usage_error(
			cli, "--via takes 'systemd' or 'waagent', not '%s'", a->via);
	if (!cli_ctx(cli))
		return IBUP_EXIT_FAILURE;
	return ipoib_enable(cli, a->via, a->dry_run, a->resume);
}

static int run_disable(struct ibup_cli *cli, const struct ipoib_args *a)
{
	if (!cli_ctx(cli))
		return IBUP_EXIT_FAILURE;
	return ipoib_disable(cli, a->dry_run, a->resume);
}

static const struct ipoib_sub {
	const char *name;
	int (*run)(struct ibup_cli *cli, const struct ipoib_args *a);
	unsigned options; /* OPT_BIT()s it takes besides the global ones */
} subs[] = {
	{ "show", run_show, OPT_BIT(OPT_PREFIX_LEN) },
	{ "apply", run_apply,
	  OPT_BIT(OPT_WAIT) | OPT_BIT(OPT_PREFIX_LEN) | OPT_BIT(OPT_DRY_RUN) },
	{ "enable", run_enable,
	  OPT_BIT(OPT_VIA) | OPT_BIT(OPT_DRY_RUN) | OPT_BIT(OPT_RESUME) },
	{ "disable", run_disable, OPT_BIT(OPT_DRY_RUN) | OPT_BIT(OPT_RESUME) },
};

int cmd_ipoib(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "prefix-len", required_argument, NULL, OPT_PREFIX_LEN },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "via", required_argument, NULL, OPT_VIA },
		{ "resume", no_argument, NULL, OPT_RESUME },
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct ipoib_args a = { .prefix_len = 16, .via = "systemd" };
	const struct ipoib_sub *sub = NULL;
	const char *name = "show";
	uint32_t v;
	int opt, r;

	/* "ibup ipoib apply --wait 5": the subcommand comes first, options after it. */
	if (argc > 1 && argv[1][0] != '-') {
		name = argv[1];
		argv++;
		argc--;
	}
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "n" IBUP_GLOBAL_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'n')
			opt = OPT_DRY_RUN;
		switch (opt) {
		case OPT_WAIT:
			if (cli_parse_uint(optarg, 3600, &v) < 0)
				return cli_usage_error(cli,
						       "--wait needs seconds, 0 to 3600");
			a.wait_s = v;
			break;
		case OPT_PREFIX_LEN:
			if (cli_parse_uint(optarg, 32, &v) < 0 || v < 1)
				return cli_usage_error(cli, "--prefix-len needs 1 to 32");
			a.prefix_len = v;
			break;
		case OPT_DRY_RUN:
			a.dry_run = true;
			break;
		case OPT_VIA:
			a.via = optarg;
			break;
		case OPT_RESUME:
			a.resume = true;
			break;
		default:
			r = cli_common_option(cli, opt, argv, help_ipoib);
			if (r != CLI_CONTINUE)
				return r;
			continue;
		}
		a.given |= OPT_BIT(opt);
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(subs); i++)
		if (strcmp(name, subs[i].name) == 0)
			sub = &subs[i];
	if (!sub)
		return cli_usage_error(
			cli, "unknown subcommand '%s' (show, apply, enable, disable)",
			name);
	for (const struct option *o = longopts; o->name; o++) {
		if (o->val < OPT_WAIT || o->val > OPT_RESUME ||
		    !(a.given & OPT_BIT(o->val) & ~sub->options))
			continue;
		return cli_usage_error(cli, "--%s does not go with 'ipoib %s'", o->name,
				       sub->name);
	}
	if (a.resume && a.dry_run)
		return cli_usage_error(cli, "--resume and --dry-run do not go together");
	return sub->run(cli, &a);
}

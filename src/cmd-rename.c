// SPDX-License-Identifier: MIT
/* ibup rename: persistent RDMA device names, now and for every device the kernel adds. */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "ibup/plan.h"
#include "ibup/rename.h"
#include "banned.h"

#define SCHEME_MAX (1024 * 1024)

enum {
	OPT_SCHEME = OPT_COMMAND_BASE,
	OPT_DEVICE,
	OPT_DRY_RUN,
	OPT_RESUME,
	OPT_ENABLE,
	OPT_DISABLE,
};

void help_rename(FILE *out)
{
	fputs("Usage: ibup rename [--scheme FILE] [--device DEV] [--dry-run | --resume]\n"
	      "       ibup rename --enable [--scheme FILE] [--dry-run]\n"
	      "       ibup rename --disable [--dry-run]\n"
	      "\n"
	      "Give RDMA devices persistent names through RDMA netlink: InfiniBand devices\n"
	      "mlx5_ib<N>, Accelerated Networking devices mlx5_an<N>, N counting each kind in\n"
	      "PCI address order (so the names do not depend on the order the devices\n"
	      "appeared), or the names a scheme gives. A name another device holds is\n"
	      "freed first (through a temporary name), so no rename is left half done.\n"
	      "\n"
	      "Options:\n"
	      "      --scheme FILE      fixed names, a 'KEY NAME' per line: KEY a PCI address,\n"
	      "                         guid:NODE_GUID or netdev:IFNAME; a line 'only' leaves\n"
	      "                         the devices it does not name alone\n"
	      "      --device DEV       rename only what DEV needs (udev's %k)\n"
	      "      --enable           install a udev rule that names every device the\n"
	      "                         kernel adds (/etc/udev/rules.d/60-ibup-rename.rules)\n"
	      "      --disable          remove that rule\n"
	      "  -n, --dry-run          print the plan, change nothing\n"
	      "      --resume           finish a rename that stopped part way\n"
	      "  -j, --json             print the plan and what became of it as JSON\n"
	      "      --root DIR         read (and with --enable/--disable, write) under DIR;\n"
	      "                         renaming itself changes the running kernel only\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status: 0 done (or nothing to do), 2 usage error, 3 could not do it\n"
	      "(a name collision, a failed rename: named).\n"
	      "\n"
	      "See ibup-rename(8).\n",
	      out);
}

/* The whole scheme file, bounded; NULL after saying why. */
static char *slurp_scheme(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text;
	size_t len;
	int err;

	if (!f) {
		cli_error(-errno, "cannot open the scheme '%s'", path);
		return NULL;
	}
	text = malloc(SCHEME_MAX + 1);
	len = text ? fread(text, 1, SCHEME_MAX + 1, f) : 0;
	err = !text ? -ENOMEM : ferror(f) ? -EIO : len > SCHEME_MAX ? -EFBIG : 0;
	fclose(f);
	if (err) {
		free(text);
		cli_error(err, "cannot read the scheme '%s'", path);
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		free(text);
		fprintf(stderr, "ibup: '%s' is not a scheme: it holds a NUL byte\n",
			path);
		return NULL;
	}
	text[len] = '\0';
	return text;
}

static int read_scheme(const char *path, struct ibup_rename_scheme *ret)
{
	_cleanup_free_ char *text = slurp_scheme(path);
	struct ibup_diag diag = { 0 };
	int r;

	if (!text)
		return IBUP_EXIT_FAILURE;
	r = ibup_rename_scheme_parse(text, ret, &diag);
	if (r == -EBADMSG) {
		fprintf(stderr, "ibup: '%s' line %u: %s\n", path, diag.line, diag.msg);
		return IBUP_EXIT_FAILURE;
	}
	if (r < 0)
		return cli_error(r, "cannot read the scheme '%s'", path);
	return 0;
}

int cmd_rename(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "scheme", required_argument, NULL, OPT_SCHEME },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "resume", no_argument, NULL, OPT_RESUME },
		{ "enable", no_argument, NULL, OPT_ENABLE },
		{ "disable", no_argument, NULL, OPT_DISABLE },
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct ibup_rename_scheme scheme = { 0 };
	const char *scheme_path = NULL, *device = NULL;
	bool dry_run = false, resume = false, enable = false, disable = false;
	struct ibup_diag diag = { 0 };
	struct ibup_status *st = NULL;
	struct ibup_plan *plan = NULL;
	struct ibup_ctx *ctx;
	char exe[PATH_MAX];
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "n" IBUP_GLOBAL_SHORTOPTS, longopts,
				  NULL)) != -1) {
		switch (opt) {
		case OPT_SCHEME:
			scheme_path = optarg;
			continue;
		case OPT_DEVICE:
			device = optarg;
			continue;
		case 'n':
		case OPT_DRY_RUN:
			dry_run = true;
			continue;
		case OPT_RESUME:
			resume = true;
			continue;
		case OPT_ENABLE:
			enable = true;
			continue;
		case OPT_DISABLE:
			disable = true;
			continue;
		default:
			break;
		}
		r = cli_common_option(cli, opt, argv, help_rename);
		if (r != CLI_CONTINUE)
			return r;
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	if (enable && disable)
		return cli_usage_error(cli, "--enable and --disable do not go together");
	if ((enable || disable) && device)
		return cli_usage_error(cli,
				       "--device does not go with --enable or --disable");
	if (disable && scheme_path)
		return cli_usage_error(cli, "--scheme does not go with --disable");
	if (resume && dry_run)
		return cli_usage_error(cli, "--resume and --dry-run do not go together");
	ctx = cli_ctx(cli);
	if (!ctx)
		return IBUP_EXIT_FAILURE;
	if (enable || disable) {
		cli_exe_path(cli, exe, sizeof(exe));
		r = ibup_rename_rule_plan(ctx, enable, exe, scheme_path, &plan);
		if (r == -EINVAL)
			return cli_usage_error(
				cli, "udev cannot run a path with spaces, quotes, "
				     "'%%' or '$'");
		if (r < 0)
			return cli_error(r, "cannot plan 'rename'");
		return cli_run_plan(cli, plan, dry_run, resume);
	}
	/* Another root's devices are not the running kernel's: show, never rename. */
	if (!ibup_ctx_is_live(ctx) && !dry_run)
		return cli_usage_error(cli,
				       "renaming changes the running kernel's devices: "
				       "with --root, only --dry-run");
	if (scheme_path) {
		r = read_scheme(scheme_path, &scheme);
		if (r)
			return r;
	}
	r = ibup_status_read(ctx, 0, &st);
	if (r < 0) {
		ibup_rename_scheme_release(&scheme);
		return cli_error(r, "cannot take the inventory");
	}
	r = ibup_rename_plan(ctx, st, scheme_path ? &scheme : NULL, device, &plan, &diag);
	ibup_status_free(st);
	ibup_rename_scheme_release(&scheme);
	if (r == -EEXIST) {
		fprintf(stderr, "ibup: cannot rename: %s\n", diag.msg);
		return IBUP_EXIT_FAILURE;
	}
	if (r == -ENODEV)
		return cli_usage_error(cli, "no RDMA device '%s'", device);
	if (r < 0)
		return cli_error(r, "cannot plan 'rename'");
	return cli_run_plan(cli, plan, dry_run, resume);
}

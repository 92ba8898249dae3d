// SPDX-License-Identifier: MIT
/* ibup install: the RDMA driver stack, matched to the distribution and the kernel. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "ibup/install.h"
#include "ibup/plan.h"
#include "banned.h"

#define MANIFEST_MAX (4 * 1024 * 1024)

enum {
	OPT_STACK = OPT_COMMAND_BASE,
	OPT_VERSION_ARG,
	OPT_KERNEL,
	OPT_MANIFEST,
	OPT_URL,
	OPT_SHA256,
	OPT_FROM,
	OPT_CACHE,
	OPT_SECURE_BOOT,
	OPT_REPLACE,
	OPT_REMOVE,
	OPT_RELOAD_NOW,
	OPT_LIST,
	OPT_DRY_RUN,
	OPT_RESUME,
};

void help_install(FILE *out)
{
	fputs("Usage: ibup install [--stack auto|inbox|doca|mofed] [--version V] [--kernel KVER]\n"
	      "                    [--manifest FILE] [--url URL --sha256 HEX] [--from FILE]\n"
	      "                    [--cache DIR] [--secure-boot refuse|enroll] [--replace]\n"
	      "                    [--reload-now] [--vm-size SIZE] [--dry-run | --resume]\n"
	      "       ibup install --list [--stack ...]\n"
	      "       ibup install --remove [--stack inbox] [--dry-run | --resume]\n"
	      "\n"
	      "Install the RDMA driver stack for this distribution and kernel: the\n"
	      "distribution's own (inbox: rdma-core, the verbs providers, diagnostics,\n"
	      "perftest, the kernel's module package), NVIDIA DOCA-OFED (doca) or MLNX_OFED\n"
	      "(mofed), each vendor file checked against its SHA-256 before it is used. Then\n"
	      "memlock limits, the openibd drop-in, IPoIB and nvidia_peermem per VM size, and\n"
	      "a kernel hook that checks every new kernel; on a live host a vendor stack's\n"
	      "modules come in by a reboot a minute later.\n"
	      "\n"
	      "Options:\n"
	      "      --stack STACK      auto (default: chosen from the hardware, distribution,\n"
	      "                         VM size and Secure Boot, and said why), inbox, doca, mofed\n"
	      "      --version V        the vendor stack's version (a manifest row)\n"
	      "      --kernel KVER      the target kernel (default: the running one; under\n"
	      "                         --root the tree's newest)\n"
	      "      --manifest FILE    versions, URLs and SHA-256 sums instead of the built-in\n"
	      "      --url URL          the vendor file from here (needs --sha256)\n"
	      "      --sha256 HEX       the vendor file's SHA-256 (required when the manifest\n"
	      "                         row has none)\n"
	      "      --from FILE        the vendor file, already fetched (still verified)\n"
	      "      --cache DIR        where verified downloads are kept (under the root)\n"
	      "      --secure-boot WAY  refuse (default) unsigned DKMS modules on a host that\n"
	      "                         enforces signatures, or enroll DKMS's key in MOK\n"
	      "      --replace          remove another stack first (ofed_uninstall.sh)\n"
	      "      --remove           take the stack and ibup's files away\n"
	      "      --reload-now       restart openibd now instead of rebooting (a console:\n"
	      "                         this drops RDMA and IPoIB for a moment)\n"
	      "      --list             show what would be installed and why\n"
	      "  -n, --dry-run          print the plan, change nothing\n"
	      "      --resume           finish an install that stopped part way\n"
	      "  -j, --json             print one JSON object\n"
	      "      --root DIR         install into the image tree DIR (chroot, --installroot,\n"
	      "                         zypper --root): nothing started, no module loaded\n" IBUP_VM_SIZE_HELP
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status: 0 done (or nothing to do), 2 usage error (also a vendor file\n"
	      "without a known SHA-256 and no --sha256, or another stack without --replace),\n"
	      "3 a step failed (package manager, download, checksum, DKMS), 4 unsupported\n"
	      "(distribution, hardware, Secure Boot enforcing with unsigned modules).\n"
	      "\n"
	      "See ibup-install(8).\n",
	      out);
}

struct install_args {
	struct ibup_install_opts o;
	const char *manifest_path, *cache;
	bool list, dry_run, resume;
};

static int load_manifest(const char *path, struct ibup_manifest *m)
{
	struct ibup_diag diag = { 0 };
	FILE *f;
	char *text;
	size_t len;
	int r;

	if (!path) {
		r = ibup_manifest_builtin(m, &diag);
		if (r < 0)
			return cli_error(r == -EBADMSG ? -EINVAL : r,
					 "the built-in manifest is broken: %s", diag.msg);
		return 0;
	}
	f = fopen(path, "re");
	if (!f) {
		cli_error(-errno, "cannot open the manifest '%s'", path);
		return IBUP_EXIT_USAGE;
	}
	text = malloc(MANIFEST_MAX + 1);
	len = text ? fread(text, 1, MANIFEST_MAX + 1, f) : 0;
	r = !text ? -ENOMEM : ferror(f) ? -EIO : len > MANIFEST_MAX ? -EFBIG : 0;
	fclose(f);
	if (r < 0) {
		free(text);
		cli_error(r, "cannot read the manifest '%s'", path);
		return IBUP_EXIT_USAGE;
	}
	text[len] = '\0';
	r = memchr(text, '\0', len) ? -EBADMSG
				    : ibup_manifest_parse(text, path, m, &diag);
	free(text);
	if (r == -EBADMSG) {
		if (diag.line)
			fprintf(stderr, "ibup: %s:%u:%u: %s\n", path, diag.line,
				diag.column, diag.msg);
		else
			fprintf(stderr, "ibup: %s: %s\n", path,
				*diag.msg ? diag.msg : "not a manifest (a NUL byte)");
		return IBUP_EXIT_USAGE;
	}
	if (r < 0)
		return cli_error(r, "cannot read the manifest '%s'", path);
	return 0;
}

static int refusal(const struct ibup_install_error *e)
{
	fprintf(stderr, "ibup: %s\n", e->msg);
	if (*e->hint)
		fprintf(stderr, "%s\n", e->hint);
	switch (e->kind) {
	case IBUP_REFUSE_USAGE:
		return IBUP_EXIT_USAGE;
	case IBUP_REFUSE_UNSUPPORTED:
		return IBUP_EXIT_UNSUPPORTED;
	default:
		return IBUP_EXIT_FAILURE;
	}
}

static json_t *strings_json(char **v, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < n; i++)
		a = cli_json_append(a, json_string(v[i]));
	return a;
}

static json_t *choice_json(const struct ibup_install_choice *c,
			   const struct ibup_status *st)
{
	const struct ibup_distro *d = &c->distro;

	return json_pack(
		"{s:i, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:o, s:o, s:o, s:s, s:o, "
		"s:o, s:o, s:b, s:b, s:o, s:o}",
		"schema_version", 1, "distro", "id", d->id, "version", d->version, "name",
		d->name, "key", d->key, "package_manager", ibup_pkg_manager_name(d->pm),
		"arch", c->arch, "kernel", ibup_json_str(c->kernel), "kernel_from",
		ibup_json_str(c->kernel_from), "installed", ibup_json_str(c->installed),
		"stack", ibup_stack_name(c->stack), "version", ibup_json_str(c->version),
		"url", ibup_json_str(c->url), "sha256", ibup_json_str(c->sha256), "dkms",
		c->dkms, "secure_boot_enforcing", st->boot.secure_boot.enforcing,
		"reasons", strings_json(c->reasons, c->n_reasons), "warnings",
		strings_json(c->warnings, c->n_warnings));
}

static void choice_text(FILE *out, const struct ibup_install_choice *c,
			const struct ibup_status *st)
{
	fprintf(out, "Distribution: %s (%s, %s)\n", c->distro.name, c->distro.key,
		ibup_pkg_manager_name(c->distro.pm));
	fprintf(out, "Architecture: %s\n", c->arch);
	if (c->kernel)
		fprintf(out, "Kernel:       %s (%s)\n", c->kernel, c->kernel_from);
	else
		fputs("Kernel:       none found\n", out);
	fprintf(out, "Secure Boot:  %s\n",
		st->boot.secure_boot.enforcing
			? "enforcing (unsigned modules are refused)"
			: "not enforcing");
	fprintf(out, "Installed:    %s\n", c->installed ? c->installed : "no RDMA stack");
	fprintf(out, "Stack:        %s%s%s%s\n", ibup_stack_name(c->stack),
		c->version ? " " : "", c->version ? c->version : "",
		c->dkms ? " (kernel modules built on this host, unsigned)" : "");
	if (c->url)
		fprintf(out, "File:         %s\nSHA-256:      %s\n", c->url,
			c->sha256 ? c->sha256 : "-");
	fputs("Why:\n", out);
	for (unsigned i = 0; i < c->n_reasons; i++)
		fprintf(out, "  - %s\n", c->reasons[i]);
	for (unsigned i = 0; i < c->n_warnings; i++)
		fprintf(out, "Warning:      %s\n", c->warnings[i]);
}

static int command_line(const struct install_args *a, char **ret)
{
	const struct ibup_install_opts *o = &a->o;
	bool stack = o->stack != IBUP_STACK_AUTO || o->remove;

	/* What --resume must be given again: everything that shapes the plan. */
	if (asprintf(ret, "install%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s",
		     stack ? " --stack " : "", stack ? ibup_stack_name(o->stack) : "",
		     o->version ? " --version " : "", o->version ? o->version : "",
		     o->kernel ? " --kernel " : "", o->kernel ? o->kernel : "",
		     o->url ? " --url " : "", o->url ? o->url : "",
		     o->sha256 ? " --sha256 " : "", o->sha256 ? o->sha256 : "",
		     o->from ? " --from " : "", o->from ? o->from : "",
		     a->manifest_path ? " --manifest " : "",
		     a->manifest_path ? a->manifest_path : "",
		     o->replace ? " --replace" : "", o->remove ? " --remove" : "",
		     o->secure_boot == IBUP_SB_ENROLL ? " --secure-boot enroll" : "") < 0)
		return -ENOMEM;
	return 0;
}

static int run_install(struct ibup_cli *cli, struct install_args *a)
{
	struct ibup_manifest manifest = { 0 };
	struct ibup_install_choice choice = { 0 };
	struct ibup_install_error err = { 0 };
	struct ibup_status *st = NULL;
	struct ibup_plan *plan = NULL;
	char exe[PATH_MAX], *command = NULL;
	struct ibup_ctx *ctx;
	unsigned steps;
	int r;

	ctx = cli_ctx(cli);
	if (!ctx)
		return IBUP_EXIT_FAILURE;
	r = load_manifest(a->manifest_path, &manifest);
	if (r)
		return r;
	a->o.manifest = &manifest;
	r = ibup_status_read(ctx, 0, &st);
	if (r < 0) {
		ibup_manifest_release(&manifest);
		return cli_error(r, "cannot take the inventory");
	}
	r = cli_fill_vm_size(cli, st);
	if (r)
		goto out;
	cli_exe_path(cli, exe, sizeof(exe));
	a->o.exe = exe;
	a->o.vm_size = st->platform.vm_size;
	r = command_line(a, &command);
	if (r < 0) {
		r = cli_error(r, "cannot plan 'install'");
		goto out;
	}
	a->o.command = command;
	r = ibup_install_choose(ctx, st, &a->o, &choice, &err);
	if (r == -EPERM) {
		r = refusal(&err);
		goto out;
	}
	if (r < 0) {
		r = cli_error(r, "cannot choose a stack");
		goto out;
	}
	if (a->list) {
		if (cli->json)
			r = cli_print_json(choice_json(&choice, st));
		else
			choice_text(stdout, &choice, st), r = IBUP_EXIT_OK;
		goto out;
	}
	r = ibup_install_plan(ctx, st, &a->o, &choice, &plan, &err);
	if (r == -EPERM) {
		r = refusal(&err);
		goto out;
	}
	if (r < 0) {
		r = cli_error(r, "cannot plan 'install'");
		goto out;
	}
	if (!cli->json) {
		printf("%s: %s%s%s\n", a->o.remove ? "Remove" : "Stack",
		       ibup_stack_name(choice.stack), choice.version ? " " : "",
		       choice.version ? choice.version : "");
		for (unsigned i = 0; i < choice.n_reasons; i++)
			printf("  - %s\n", choice.reasons[i]);
		putchar('\n');
		for (unsigned i = 0; i < choice.n_warnings; i++)
			cli_warn("%s", choice.warnings[i]);
	}
	steps = plan->n;
	r = cli_run_plan(cli, plan, a->dry_run, a->resume);
	plan = NULL;
	/* The inbox stack is in use at once on a live host: check's verdict ends the run. */
	if (r == IBUP_EXIT_OK && steps && !a->dry_run && !cli->json && !a->o.remove &&
	    ibup_ctx_is_live(ctx) && choice.stack == IBUP_STACK_INBOX) {
		char check[] = "check", *argv[] = { check, NULL };

		fputc('\n', stdout);
		fflush(stdout);
		optind = 0;
		cmd_check(cli, 1, argv);
	}
out:
	ibup_plan_free(plan);
	free(command);
	ibup_install_choice_release(&choice);
	ibup_status_free(st);
	ibup_manifest_release(&manifest);
	return r;
}

static bool valid_sha256(char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (!isxdigit((unsigned char)s[n]))
			return false;
		s[n] = (char)tolower((unsigned char)s[n]);
	}
	return n == 64;
}

int cmd_install(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "stack", required_argument, NULL, OPT_STACK },
		{ "version", required_argument, NULL, OPT_VERSION_ARG },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "manifest", required_argument, NULL, OPT_MANIFEST },
		{ "url", required_argument, NULL, OPT_URL },
		{ "sha256", required_argument, NULL, OPT_SHA256 },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "cache", required_argument, NULL, OPT_CACHE },
		{ "secure-boot", required_argument, NULL, OPT_SECURE_BOOT },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "remove", no_argument, NULL, OPT_REMOVE },
		{ "reload-now", no_argument, NULL, OPT_RELOAD_NOW },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "resume", no_argument, NULL, OPT_RESUME },
		IBUP_VM_SIZE_LONGOPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct install_args a = { 0 };
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "njvh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_STACK:
			if (ibup_stack_from_name(optarg, &a.o.stack) < 0)
				return cli_usage_error(
					cli,
					"--stack takes auto, inbox, doca or mofed, not '%s'",
					optarg);
			break;
		case OPT_VERSION_ARG:
			a.o.version = optarg;
			break;
		case OPT_KERNEL:
			if (!*optarg || strchr(optarg, '/') || strchr(optarg, ' '))
				return cli_usage_error(cli,
						       "--kernel needs a kernel release "
						       "such as 6.8.0-1021-azure");
			a.o.kernel = optarg;
			break;
		case OPT_MANIFEST:
			a.manifest_path = optarg;
			break;
		case OPT_URL:
			if (strncmp(optarg, "https://", 8) != 0 &&
			    strncmp(optarg, "http://", 7) != 0)
				return cli_usage_error(
					cli, "--url needs an http or https URL");
			a.o.url = optarg;
			break;
		case OPT_SHA256:
			if (!valid_sha256(optarg))
				return cli_usage_error(cli,
						       "--sha256 needs 64 hex digits");
			a.o.sha256 = optarg;
			break;
		case OPT_FROM:
			a.o.from = optarg;
			break;
		case OPT_CACHE:
			a.cache = optarg;
			break;
		case OPT_SECURE_BOOT:
			if (strcmp(optarg, "refuse") == 0)
				a.o.secure_boot = IBUP_SB_REFUSE;
			else if (strcmp(optarg, "enroll") == 0)
				a.o.secure_boot = IBUP_SB_ENROLL;
			else
				return cli_usage_error(
					cli,
					"--secure-boot takes refuse or enroll, not '%s'",
					optarg);
			break;
		case OPT_REPLACE:
			a.o.replace = true;
			break;
		case OPT_REMOVE:
			a.o.remove = true;
			break;
		case OPT_RELOAD_NOW:
			a.o.reload_now = true;
			break;
		case OPT_LIST:
			a.list = a.o.list = true;
			break;
		case 'n':
		case OPT_DRY_RUN:
			a.dry_run = true;
			break;
		case OPT_RESUME:
			a.resume = true;
			break;
		default:
			r = cli_common_option(cli, opt, argv, help_install);
			if (r != CLI_CONTINUE)
				return r;
		}
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	if (a.resume && a.dry_run)
		return cli_usage_error(cli, "--resume and --dry-run do not go together");
	if (a.list && (a.resume || a.dry_run || a.o.remove))
		return cli_usage_error(cli,
				       "--list shows the choice; it takes no --dry-run, "
				       "--resume or --remove");
	if (a.o.from && (a.o.url || a.o.stack == IBUP_STACK_INBOX))
		return cli_usage_error(cli,
				       "--from is the vendor file: not with --url or "
				       "--stack inbox");
	if ((a.o.url || a.o.from) && a.o.stack == IBUP_STACK_AUTO)
		return cli_usage_error(cli,
				       "--url and --from need --stack doca or mofed");
	if (a.o.remove && (a.o.replace || a.o.url || a.o.from))
		return cli_usage_error(cli,
				       "--remove takes no --replace, --url or --from");
	if (a.cache) {
		while (*a.cache == '/')
			a.cache++;
		if (!*a.cache)
			return cli_usage_error(
				cli, "--cache needs a directory below the root");
		cli->cache_dir = a.cache;
	}
	return run_install(cli, &a);
}

// SPDX-License-Identifier: MIT
/* ibup: global options, the command table, help, and exit-code hygiene. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

#ifndef IBUP_VERSION
#define IBUP_VERSION "0.0.0"
#endif

static int cmd_help(struct ibup_cli *cli, int argc, char **argv);
static void help_help(FILE *out);

static const struct ibup_cmd commands[] = {
	{ "status", cmd_status, help_status,
	  "show RDMA devices, ports and the platform" },
	{ "check", cmd_check, help_check,
	  "check the node is ready for MPI over InfiniBand" },
	{ "install", cmd_install, help_install,
	  "install the RDMA driver stack for this distribution and kernel" },
	{ "ipoib", cmd_ipoib, help_ipoib,
	  "show or apply IPoIB addresses from the platform" },
	{ "bench", cmd_bench, help_bench,
	  "measure RDMA bandwidth and latency (loopback, two devices, two hosts)" },
	{ "env", cmd_env, help_env,
	  "print the UCX, NCCL and MPI environment of this node's fabric" },
	{ "rename", cmd_rename, help_rename,
	  "give RDMA devices persistent names (mlx5_ib<N>, mlx5_an<N>)" },
	{ "metrics", cmd_metrics, help_metrics,
	  "print port counters, states and check verdicts for Prometheus" },
	{ "vmext", cmd_vmext, help_vmext,
	  "act as an Azure VM-extension handler (install, enable, disable, ...)" },
	{ "help", cmd_help, help_help, "show help for ibup or one of its commands" },
};

static const struct ibup_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void usage(FILE *out)
{
	fputs("Usage: ibup [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Take an HPC machine from booted to InfiniBand ready and proven.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-22s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Options:\n"
	      "  -j, --json             machine-readable output (one JSON object on stdout)\n"
	      "      --root DIR         read and write the system under DIR instead of /\n"
	      "  -v, --verbose          more detail, and debug diagnostics on stderr\n"
	      "  -h, --help             show this help and exit\n"
	      "  -V, --version          show the version and exit\n"
	      "\n"
	      "Exit status: 0 ok, 1 problems found, 2 usage error, 3 could not do the job,\n"
	      "4 nothing to do it on (no RDMA device, unsupported system).\n"
	      "\n"
	      "Run 'ibup help COMMAND' for a command's options. See ibup(8).\n",
	      out);
}

static void help_help(FILE *out)
{
	fputs("Usage: ibup help [COMMAND]\n"
	      "\n"
	      "Show the help of ibup, or of one of its commands.\n"
	      "\n"
	      "See ibup(8).\n",
	      out);
}

static int cmd_help(struct ibup_cli *cli, int argc, char **argv)
{
	const struct ibup_cmd *cmd;

	if (argc > 2)
		return cli_usage_error(cli, "too many arguments");
	if (argc < 2) {
		usage(stdout);
		return IBUP_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help_help(stdout);
		return IBUP_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		cli->command = NULL; /* the list of commands is in ibup's own help */
		return cli_usage_error(cli, "unknown command '%s'", argv[1]);
	}
	cmd->help(stdout);
	return IBUP_EXIT_OK;
}

int cli_global_option(struct ibup_cli *cli, int opt, const char *arg)
{
	switch (opt) {
	case 'j':
		cli->json = true;
		return 0;
	case 'v':
		cli->verbose++;
		return 0;
	case OPT_METADATA_URL:
		/* Not a URL would reach curl as a host name ("No route to host"). */
		if ((strncmp(arg, "http://", 7) != 0 || !arg[7]) &&
		    (strncmp(arg, "https://", 8) != 0 || !arg[8]))
			return cli_usage_error(
				cli,
				"--metadata-url needs an http:// or https:// URL, not '%s'",
				arg);
		cli->metadata_url = arg;
		return 0;
	case OPT_VM_SIZE:
		if (!*arg)
			return cli_usage_error(cli, "--vm-size needs a size");
		cli->vm_size = arg;
		return 0;
	case OPT_ROOT:
		if (!*arg)
			return cli_usage_error(cli, "--root needs a directory");
		cli->root = arg;
		return 0;
	case 'V':
		printf("ibup %s\n", IBUP_VERSION);
		exit(IBUP_EXIT_OK);
	default:
		return -1;
	}
}

int cli_common_option(struct ibup_cli *cli, int opt, char **argv, void (*help)(FILE *out))
{
	int r;

	if (opt == 'h') {
		help(stdout);
		return IBUP_EXIT_OK;
	}
	r = opt == '?' || opt == ':' ? -1 : cli_global_option(cli, opt, optarg);
	if (r < 0)
		return cli_usage_error(cli,
				       opt == ':' ? "option '%s' needs an argument"
						  : "unknown or incomplete option '%s'",
				       argv[optind - 1]);
	return r == 0 ? CLI_CONTINUE : r;
}

/* Every diagnostic line: "ibup: <prefix><message>[: <strerror(-r)>]". */
static void vsay(const char *prefix, int r, const char *fmt, va_list ap)
{
	fprintf(stderr, "ibup: %s", prefix);
	vfprintf(stderr, fmt, ap);
	if (r < 0)
		fprintf(stderr, ": %s", strerror(-r));
	fputc('\n', stderr);
}

static void say(const char *prefix, const char *fmt, ...) _printf_(2, 3);
static void say(const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(prefix, 0, fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("warning: ", 0, fmt, ap);
	va_end(ap);
}

static void log_to_stderr(void *userdata, enum ibup_log_level level, const char *msg)
{
	say(level <= IBUP_LOG_ERR	? "error: "
	    : level <= IBUP_LOG_WARNING ? "warning: "
					: "",
	    "%s", msg);
}

struct ibup_ctx *cli_ctx(struct ibup_cli *cli)
{
	int r;

	if (cli->ctx)
		return cli->ctx;
	r = ibup_ctx_new(cli->root, &cli->ctx);
	if (r < 0) {
		cli_error(r, "cannot open root '%s'", cli->root ? cli->root : "/");
		return NULL;
	}
	ibup_ctx_set_log_fn(cli->ctx, log_to_stderr, NULL,
			    cli->verbose ? IBUP_LOG_DEBUG : IBUP_LOG_WARNING);
	return cli->ctx;
}

int cli_fill_vm_size(struct ibup_cli *cli, struct ibup_status *st)
{
	struct ibup_platform *p = &st->platform;
	char err[256] = "";
	char *size = NULL;
	int r;

	if (cli->vm_size) {
		size = strdup(cli->vm_size);
		if (!size)
			return cli_error(-ENOMEM, "cannot keep the VM size");
	} else if (cli->metadata_url || (ibup_ctx_is_live(cli->ctx) && p->cloud &&
					 strcmp(p->cloud, "azure") == 0)) {
		r = ibup_imds_vm_size(cli->ctx, cli->metadata_url, &size, err,
				      sizeof(err));
		/* Whatever went wrong, the size is unknown and the command goes on. */
		if (r < 0) {
			if (!*err)
				snprintf(err, sizeof(err), "%s", strerror(-r));
			cli_warn("VM size unknown: the metadata service: %s", err);
			return 0;
		}
	}
	free(p->vm_size);
	p->vm_size = size;
	return 0;
}

int cli_exit_code(int r, bool findings)
{
	if (r == -ENODEV)
		return IBUP_EXIT_UNSUPPORTED;
	if (r < 0)
		return IBUP_EXIT_FAILURE;
	return findings ? IBUP_EXIT_FINDINGS : IBUP_EXIT_OK;
}

int cli_error(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", r, fmt, ap);
	va_end(ap);
	return r < 0 ? cli_exit_code(r, false) : IBUP_EXIT_FAILURE;
}

int cli_parse_uint(const char *s, uint32_t max, uint32_t *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int cli_parse_number(struct ibup_cli *cli, const char *opt, const char *arg, double max,
		     double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v > 0) || v > max)
		return cli_usage_error(cli,
				       "%s needs a number above 0, up to %g, not '%s'",
				       opt, max, arg);
	*ret = v;
	return 0;
}

int cli_usage_error(const struct ibup_cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", 0, fmt, ap);
	va_end(ap);
	if (cli->command)
		fprintf(stderr, "Try 'ibup %s --help'.\n", cli->command);
	else
		fputs("Try 'ibup --help'.\n", stderr);
	return IBUP_EXIT_USAGE;
}

json_t *cli_json_append(json_t *array, json_t *value)
{
	if (json_array_append_new(array, value) < 0) {
		json_decref(array);
		return NULL;
	}
	return array;
}

/* Every document starts with its schema version, unless its builder set one. */
static json_t *with_schema_version(json_t *root)
{
	json_t *doc;

	if (json_object_get(root, "schema_version"))
		return root;
	doc = json_pack("{s:I}", "schema_version", (json_int_t)IBUP_SCHEMA_VERSION);
	if (doc && json_object_update(doc, root) < 0) {
		json_decref(doc);
		doc = NULL;
	}
	json_decref(root);
	return doc;
}

int cli_print_json(json_t *root)
{
	if (root)
		root = with_schema_version(root);
	if (!root)
		return cli_error(-ENOMEM, "cannot build JSON output");
	if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) < 0) {
		json_decref(root);
		return cli_error(-EIO, "cannot write JSON output");
	}
	json_decref(root);
	fputc('\n', stdout);
	return IBUP_EXIT_OK;
}

/* Flush stdout and turn a write error (but a closed pipe) into a failure (git, util-linux). */
static int close_stdout(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno == EPIPE)
			return code;
		return cli_error(errno ? -errno : -EIO,
				 "cannot write to standard output");
	}
	return code;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { IBUP_GLOBAL_LONGOPTS, { 0 } };
	struct ibup_cli cli = { 0 };
	const struct ibup_cmd *cmd;
	const char *env;
	int opt, r;

	/* The root may come from the environment, but only for unprivileged-safe use. */
	env = secure_getenv("IBUP_ROOT");
	if (env && *env)
		cli.root = env;
	opterr = 0;
	/* '+': stop at the command; ':': a missing argument is told from an unknown option. */
	while ((opt = getopt_long(argc, argv, "+:" IBUP_GLOBAL_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return close_stdout(IBUP_EXIT_OK);
		}
		if (opt == ':')
			return cli_usage_error(&cli, "option '%s' needs an argument",
					       argv[optind - 1]);
		if (opt == '?') {
			/* optopt is the character of an unknown short option; a long one
			 * (or a long option's value, which optopt may hold) is in argv. */
			if (optopt > ' ' && optopt < 0x7f && argv[optind - 1][0] == '-' &&
			    argv[optind - 1][1] != '-')
				return cli_usage_error(&cli, "unknown option '-%c'",
						       optopt);
			return cli_usage_error(&cli, "unknown option '%s'",
					       argv[optind - 1]);
		}
		r = cli_global_option(&cli, opt, optarg);
		if (r != 0)
			return r;
	}
	if (optind >= argc)
		return cli_usage_error(&cli, "no command given");
	cmd = find_command(argv[optind]);
	if (!cmd)
		return cli_usage_error(&cli, "unknown command '%s'", argv[optind]);
	cli.command = cmd->name;
	argv += optind;
	argc -= optind;
	optind = 0; /* a full reset, so each command's getopt starts afresh */
	r = cmd->run(&cli, argc, argv);
	ibup_ctx_free(cli.ctx);
	return close_stdout(r);
}

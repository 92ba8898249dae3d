// SPDX-License-Identifier: MIT
/*
 * ibup env: the UCX, NCCL and MPI environment of this node's fabric, as shell
 * assignments, launcher flags (mpirun -x, srun --export, mpiexec -env) or JSON.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "ibup/env.h"
#include "banned.h"

enum env_format {
	FORMAT_SH,
	FORMAT_MPIRUN,
	FORMAT_SRUN,
	FORMAT_MPICH,
};

static const char *const format_names[] = {
	[FORMAT_SH] = "sh",
	[FORMAT_MPIRUN] = "mpirun",
	[FORMAT_SRUN] = "srun",
	[FORMAT_MPICH] = "mpich",
};

enum {
	OPT_FORMAT = OPT_COMMAND_BASE,
	OPT_MPI,
};

void help_env(FILE *out)
{
	fputs("Usage: ibup env [OPTIONS]\n"
	      "\n"
	      "Print the environment an MPI or NCCL job needs on this node's fabric: the\n"
	      "RDMA devices and ports (InfiniBand, else RoCE; never Accelerated Networking\n"
	      "or MANA), the tenant partition key as UCX and NCCL take it, the RoCE GID\n"
	      "index, the interface for sockets and the NCCL topology file, each with why.\n"
	      "\n"
	      "Options:\n"
	      "  -f, --format FORMAT    sh (default: export lines for eval \"$(ibup env)\"),\n"
	      "                         mpirun (-x flags for Open MPI and HPC-X), srun\n"
	      "                         (--export=ALL,... as one word), mpich (-env flags)\n"
	      "      --mpi MPI          only what this MPI (and NCCL) reads: openmpi, hpcx,\n"
	      "                         intel, mpich, or all (default)\n" IBUP_VM_SIZE_HELP
	      "  -j, --json             print one JSON object (docs/env.schema.json)\n"
	      "      --root DIR         read the system under DIR instead of /\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status: 0 when printed, 2 on a usage error, 3 when the root cannot be\n"
	      "read, 4 when the node has no RDMA fabric or no ACTIVE port on it.\n"
	      "\n"
	      "See ibup-env(8).\n",
	      out);
}

/* Characters a shell word and an mpirun argument take as they are. */
static bool shell_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "_-+=:,./@%^",
			    *s))
			return false;
	return true;
}

/* @s in single quotes, each ' written as '\'' (POSIX sh). */
static void put_quoted(FILE *out, const char *s)
{
	fputc('\'', out);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", out);
		else
			fputc(*s, out);
	}
	fputc('\'', out);
}

/* As is when safe, else quoted (then the output is meant for eval). */
static void put_word(FILE *out, const char *s)
{
	if (shell_safe(s))
		fputs(s, out);
	else
		put_quoted(out, s);
}

static void render_sh(FILE *out, const struct ibup_env *env)
{
	fprintf(out, "# ibup env: %s fabric on", ibup_env_fabric_name(env->fabric));
	for (unsigned i = 0; i < env->n_ports; i++)
		fprintf(out, " %s:%u", env->ports[i].device, env->ports[i].port);
	fputs("; use with eval \"$(ibup env)\"\n", out);
	for (unsigned i = 0; i < env->n_vars; i++) {
		const struct ibup_env_var *v = &env->vars[i];

		if (!v->value) {
			fprintf(out, "# %s %s\n", v->name, v->why);
			continue;
		}
		fprintf(out, "# %s\nexport %s=", v->why, v->name);
		put_quoted(out, v->value);
		fputc('\n', out);
	}
}

/*
 * Launcher flags on one line. Slurm splits --export at commas outside quotes and drops
 * the quotes around a whole NAME=value (its env_merge_filter() with find_quote_token()),
 * so a value with a comma goes in double quotes, and the whole flag is one word. A
 * value with a quote or a space (only a device renamed so could give one) cannot be
 * passed that way: that is an error, not a wrong job environment.
 */
static int render_flags(FILE *out, const struct ibup_env *env, enum env_format f)
{
	bool first = true;

	if (f == FORMAT_SRUN) {
		for (unsigned i = 0; i < env->n_vars; i++) {
			const char *val = env->vars[i].value;

			if (val && strpbrk(val, "\"' \t\n"))
				return cli_error(-EINVAL,
						 "cannot pass %s through srun --export",
						 env->vars[i].name);
		}
		fputs("--export=ALL", out);
	}
	for (unsigned i = 0; i < env->n_vars; i++) {
		const struct ibup_env_var *v = &env->vars[i];

		if (!v->value)
			continue;
		switch (f) {
		case FORMAT_MPIRUN:
			fprintf(out, "%s-x %s=", first ? "" : " ", v->name);
			put_word(out, v->value);
			break;
		case FORMAT_MPICH:
			fprintf(out, "%s-env %s ", first ? "" : " ", v->name);
			put_word(out, v->value);
			break;
		case FORMAT_SRUN:
			if (strchr(v->value, ','))
				fprintf(out, ",\"%s=%s\"", v->name, v->value);
			else
				fprintf(out, ",%s=%s", v->name, v->value);
			break;
		case FORMAT_SH:
			break;
		}
		first = false;
	}
	fputc('\n', out);
	return IBUP_EXIT_OK;
}

static json_t *readers_json(unsigned readers)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ IBUP_ENV_HCOLL, "hcoll" },
		{ IBUP_ENV_INTEL_MPI, "intel_mpi" },
		{ IBUP_ENV_NCCL, "nccl" },
		{ IBUP_ENV_UCX, "ucx" },
	};
	json_t *a = json_array();

	for (size_t i = 0; a && i < IBUP_ARRAY_SIZE(names); i++)
		if (readers & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

static json_t *render_json_env(const struct ibup_env *env)
{
	json_t *ports = json_array(), *vars = json_array();

	if (!ports || !vars) {
		json_decref(ports);
		json_decref(vars);
		return NULL;
	}
	for (unsigned i = 0; i < env->n_ports; i++) {
		const struct ibup_env_port *p = &env->ports[i];

		json_array_append_new(ports, json_pack("{s:s, s:i, s:s?}", "device",
						       p->device, "port", (int)p->port,
						       "netdev", p->netdev));
	}
	for (unsigned i = 0; i < env->n_vars; i++) {
		const struct ibup_env_var *v = &env->vars[i];

		json_array_append_new(vars,
				      json_pack("{s:s, s:s?, s:s, s:o}", "name", v->name,
						"value", v->value, "why", v->why,
						"read_by", readers_json(v->readers)));
	}
	return json_pack("{s:i, s:s, s:s, s:o, s:o}", "schema_version",
			 IBUP_SCHEMA_VERSION, "fabric", ibup_env_fabric_name(env->fabric),
			 "mpi", ibup_env_mpi_name(env->mpi), "ports", ports, "variables",
			 vars);
}

int cmd_env(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "mpi", required_argument, NULL, OPT_MPI },
		IBUP_VM_SIZE_LONGOPTS,
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	enum ibup_env_mpi mpi = IBUP_ENV_MPI_ALL;
	enum env_format format = FORMAT_SH;
	struct ibup_status *st = NULL;
	struct ibup_env *env = NULL;
	struct ibup_diag diag = { 0 };
	bool format_set = false;
	struct ibup_ctx *ctx;
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "f:" IBUP_GLOBAL_SHORTOPTS, longopts,
				  NULL)) != -1) {
		size_t i;

		switch (opt) {
		case 'f':
			for (i = 0; i < IBUP_ARRAY_SIZE(format_names); i++)
				if (strcmp(optarg, format_names[i]) == 0)
					break;
			if (i == IBUP_ARRAY_SIZE(format_names))
				return cli_usage_error(
					cli,
					"--format takes sh, mpirun, srun or mpich, not '%s'",
					optarg);
			format = (enum env_format)i;
			format_set = true;
			continue;
		case OPT_MPI:
			if (ibup_env_mpi_parse(optarg, &mpi) < 0)
				return cli_usage_error(
					cli,
					"--mpi takes openmpi, hpcx, intel, mpich "
					"or all, not '%s'",
					optarg);
			continue;
		}
		r = cli_common_option(cli, opt, argv, help_env);
		if (r != CLI_CONTINUE)
			return r;
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	if (cli->json && format_set)
		return cli_usage_error(cli, "--json and --format are exclusive");

	ctx = cli_ctx(cli);
	if (!ctx)
		return IBUP_EXIT_FAILURE;
	r = ibup_status_read(ctx, 0, &st);
	if (r < 0)
		return cli_error(r, "cannot take the inventory");
	r = cli_fill_vm_size(cli, st);
	if (r != 0) {
		ibup_status_free(st);
		return r;
	}
	r = ibup_env_compute(ctx, st, mpi, &env, &diag);
	ibup_status_free(st);
	if (r == -ENODEV) {
		fprintf(stderr, "ibup: %s\n", diag.msg);
		return IBUP_EXIT_UNSUPPORTED;
	}
	if (r < 0)
		return cli_error(r, "cannot compute the environment");
	if (cli->json)
		r = cli_print_json(render_json_env(env));
	else if (format == FORMAT_SH)
		render_sh(stdout, env);
	else
		r = render_flags(stdout, env, format);
	ibup_env_free(env);
	return r;
}

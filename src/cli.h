// SPDX-License-Identifier: MIT
/* The ibup program: shared declarations of the command-line front end. */
#ifndef IBUP_CLI_H
#define IBUP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ibup/ibup.h"
#include "ibup/ibup-json.h"
#include "macro.h"

enum ibup_exit {
	IBUP_EXIT_OK = 0, /* done; for check: healthy */
	IBUP_EXIT_FINDINGS = 1, /* ran fine but found problems */
	IBUP_EXIT_USAGE = 2, /* bad command line */
	IBUP_EXIT_FAILURE = 3, /* could not do the job: I/O, permission, dependency */
	IBUP_EXIT_UNSUPPORTED = 4, /* nothing to do it on, where that is an error */
};

struct ibup_cli {
	bool json;
	int verbose;
	const char *root;
	const char *command; /* for "Try 'ibup <command> --help'" */
	struct ibup_ctx *ctx; /* made by cli_ctx() on first use */
	const char *metadata_url; /* --metadata-url */
	const char *vm_size; /* --vm-size */
	const char *cache_dir; /* download cache under the root (install --cache) */
};

struct ibup_cmd {
	const char *name;
	int (*run)(struct ibup_cli *cli, int argc, char **argv);
	void (*help)(FILE *out);
	const char *summary; /* one line; also printed by `ibup --help` */
};

/*
 * Global options, accepted before the command and after it. Commands put
 * IBUP_GLOBAL_LONGOPTS in their option table and pass unknown options to
 * cli_global_option().
 */
enum {
	OPT_ROOT = 0x100,
	OPT_METADATA_URL,
	OPT_VM_SIZE,
	OPT_HELP_GLOBAL,
	OPT_COMMAND_BASE = 0x200,
};
#define IBUP_GLOBAL_SHORTOPTS "jvhV"
/* clang-format off */
#define IBUP_GLOBAL_LONGOPTS                                                             \
	{ "json", no_argument, NULL, 'j' },                                              \
	{ "root", required_argument, NULL, OPT_ROOT },                                   \
	{ "verbose", no_argument, NULL, 'v' },                                           \
	{ "help", no_argument, NULL, 'h' },                                              \
	{ "version", no_argument, NULL, 'V' }
/* clang-format on */

/* Handle a global option; returns -1 when @opt is not one, else an exit code or 0. */
int cli_global_option(struct ibup_cli *cli, int opt, const char *arg);

/*
 * What every command does with an option its own switch did not take: --help, the
 * global options, and a usage error for anything else. Returns CLI_CONTINUE to go on
 * parsing, or the exit code to return now.
 */
#define CLI_CONTINUE (-1)
int cli_common_option(struct ibup_cli *cli, int opt, char **argv,
		      void (*help)(FILE *out));

/* The library context for the chosen root, made once. NULL after printing an error. */
struct ibup_ctx *cli_ctx(struct ibup_cli *cli);

/* Options of the commands that need the VM size (status, check). */
/* clang-format off */
#define IBUP_VM_SIZE_LONGOPTS                                                            \
	{ "metadata-url", required_argument, NULL, OPT_METADATA_URL },                   \
	{ "vm-size", required_argument, NULL, OPT_VM_SIZE }
/* clang-format on */
#define IBUP_VM_SIZE_HELP                                                                    \
	"      --vm-size SIZE     the VM size, instead of asking Azure's metadata service\n" \
	"      --metadata-url URL ask this metadata service (tests; default on Azure:\n"     \
	"                         http://169.254.169.254)\n"

/*
 * Fill platform.vm_size: --vm-size, else the metadata service when on Azure (live) or
 * when --metadata-url is given. A failure is one warning line; the size stays unknown.
 */
int cli_fill_vm_size(struct ibup_cli *cli, struct ibup_status *st);

/*
 * The exit code of a command that ran to the end with result @r: 4 for -ENODEV
 * (nothing to do it on), 3 for another negative errno, else 1 when it found
 * problems (@findings) and 0 when not.
 */
int cli_exit_code(int r, bool findings);
/*
 * "ibup: <message>: <strerror(-r)>" on stderr (no strerror when @r >= 0); returns
 * cli_exit_code(@r), or 3 when @r >= 0.
 */
int cli_error(int r, const char *fmt, ...) _printf_(2, 3);
/* "ibup: warning: <message>" on stderr; the command goes on. */
void cli_warn(const char *fmt, ...) _printf_(1, 2);
/* "ibup: <message>" plus "Try 'ibup <command> --help'." on stderr; returns 2. */
int cli_usage_error(const struct ibup_cli *cli, const char *fmt, ...) _printf_(2, 3);
/* A decimal whole number in [0, @max]; -EINVAL otherwise (the caller says why). */
int cli_parse_uint(const char *s, uint32_t max, uint32_t *ret);
/* A number in (0, @max] for option @opt, or a usage error (returns 2). */
int cli_parse_number(struct ibup_cli *cli, const char *opt, const char *arg, double max,
		     double *ret);
/*
 * Print @root (taken; NULL after an allocation failure) as JSON on stdout: one object,
 * indented, newline-terminated, "schema_version" first unless @root has it already.
 */
int cli_print_json(json_t *root);
/*
 * Append @value (taken; NULL after an allocation failure) to @array. Returns @array,
 * or NULL after releasing it when @value could not be added, so that a loop can build
 * an array for json_pack()'s "o", which fails on NULL.
 */
json_t *cli_json_append(json_t *array, json_t *value);

int cmd_status(struct ibup_cli *cli, int argc, char **argv);
void help_status(FILE *out);
int cmd_check(struct ibup_cli *cli, int argc, char **argv);
int cmd_ipoib(struct ibup_cli *cli, int argc, char **argv);
void help_ipoib(FILE *out);
void help_check(FILE *out);
int cmd_bench(struct ibup_cli *cli, int argc, char **argv);
void help_bench(FILE *out);
int cmd_env(struct ibup_cli *cli, int argc, char **argv);
void help_env(FILE *out);
int cmd_metrics(struct ibup_cli *cli, int argc, char **argv);
void help_metrics(FILE *out);
int cmd_rename(struct ibup_cli *cli, int argc, char **argv);
void help_rename(FILE *out);
int cmd_vmext(struct ibup_cli *cli, int argc, char **argv);
int cmd_install(struct ibup_cli *cli, int argc, char **argv);
void help_install(FILE *out);
void help_vmext(FILE *out);

/* Text formatting (format.c). */
/* @s, or "-" when it is NULL or empty. */
const char *or_dash(const char *s);
/* "1234"; "-" when negative (IBUP_UNKNOWN). */
void cli_format_int(int64_t v, char *buf, size_t size);
/* "0x8001"; "-" when negative (IBUP_UNKNOWN). */
void cli_format_pkey(int32_t pkey, char *buf, size_t size);
/* "200 Gb/s (4X HDR)"; "53.125 Gb/s (1X HDR)"; "-" when unknown. */
void cli_format_rate(const struct ibup_port *p, char *buf, size_t size);

/* Renderers: same model, two forms. */
struct ibup_plan;
struct ibup_exec_result;
void render_text_plan(FILE *out, const struct ibup_plan *plan);
void render_text_step_done(FILE *out, const struct ibup_plan *plan, unsigned i,
			   const char *detail);
json_t *render_json_plan(const struct ibup_plan *plan, const struct ibup_exec_result *res,
			 bool dry_run);
/*
 * Show or carry out a plan, as every command that changes the host does: --dry-run
 * prints it, otherwise the executor runs it (each finished step said on stdout, or one
 * JSON object at the end). Returns the exit code.
 */
int cli_run_plan(struct ibup_cli *cli, struct ibup_plan *plan, bool dry_run, bool resume);
/* The ibup program that units and udev rules run: this one on the running system,
 * /usr/sbin/ibup (where the packages put it) for an image under --root. */
void cli_exe_path(const struct ibup_cli *cli, char *buf, size_t size);
json_t *render_json_status(const struct ibup_status *st);
void render_text_status(FILE *out, const struct ibup_status *st, bool verbose);

#endif

// SPDX-License-Identifier: MIT
/*
 * ibup vmext: ibup as an Azure Linux VM-extension handler. The agent runs
 * install|enable|disable|uninstall|update in the handler directory; each reads the
 * handler environment, the sequence number and its settings, does its steps and
 * leaves status/<n>.status, the only thing the agent reads back. Exit codes are the
 * protocol's (enum ibup_vmext_code), not ibup's usual ones.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ibup/plan.h"
#include "ibup/vmext.h"
#include "banned.h"

/* The error-counter baseline of `check` on the running system, as ibup check keeps it. */
#define STATE_DIR "/var/lib/ibup"

enum {
	OPT_HANDLER_DIR = OPT_COMMAND_BASE,
};

void help_vmext(FILE *out)
{
	fputs("Usage: ibup vmext install|enable|disable|uninstall|update [OPTIONS]\n"
	      "\n"
	      "Act as an Azure Linux VM-extension handler: read HandlerEnvironment.json, the\n"
	      "sequence number (ConfigSequenceNumber, else the newest config/<n>.settings) and\n"
	      "its public settings, do the steps (ipoib: apply the platform's IPoIB addresses\n"
	      "and apply them at every boot; check: ibup check) and write status/<n>.status\n"
	      "for the agent. disable and uninstall undo the boot-time IPoIB setup.\n"
	      "\n"
	      "Options:\n"
	      "      --handler-dir DIR  the handler directory (default: the working directory,\n"
	      "                         where the agent starts its commands)\n" IBUP_VM_SIZE_HELP
	      "      --root DIR         read (and configure) the system under DIR instead of /;\n"
	      "                         the handler directory stays where it is\n"
	      "  -v, --verbose          more detail on stderr\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status (InfiniBandDriverLinux's codes): 0 success, 1 incorrect usage\n"
	      "(settings, handler environment), 11 no InfiniBand on this VM, 12 this build\n"
	      "cannot run on this image, 14 operation unsuccessful (see the status).\n"
	      "\n"
	      "See ibup-vmext(8).\n",
	      out);
}

enum vmext_op { OP_INSTALL, OP_ENABLE, OP_DISABLE, OP_UNINSTALL, OP_UPDATE };

static const struct {
	const char *name, *operation; /* the command; the status's "operation" */
} ops[] = {
	[OP_INSTALL] = { "install", "Install" },
	[OP_ENABLE] = { "enable", "Enable" },
	[OP_DISABLE] = { "disable", "Disable" },
	[OP_UNINSTALL] = { "uninstall", "Uninstall" },
	[OP_UPDATE] = { "update", "Update" },
};

struct vmext_run {
	struct ibup_cli *cli;
	enum vmext_op op;
	const char *name; /* as the command line gave it */
	char dir[PATH_MAX]; /* the handler directory, absolute */
	struct ibup_vmext_env env;
	unsigned seq;
	bool heartbeat;
	struct ibup_vmext_settings settings;
	struct ibup_vmext_status st;
};

/* Write the status (and the heartbeat the manifest asked for); returns the exit code. */
static int report(struct vmext_run *v)
{
	int r, code = v->st.state == IBUP_VMEXT_ERROR ? v->st.code : IBUP_VMEXT_OK;

	if (code == IBUP_VMEXT_OK && v->st.state == IBUP_VMEXT_ERROR)
		code = v->st.code = IBUP_VMEXT_FAILED;
	if (!v->env.status_folder) /* the handler directory itself is unusable */
		return code ? code : IBUP_VMEXT_FAILED;
	r = ibup_vmext_status_write(&v->env, v->seq, &v->st, time(NULL));
	if (r < 0) {
		cli_error(r, "cannot write the status '%s/%u.status'",
			  v->env.status_folder, v->seq);
		code = IBUP_VMEXT_FAILED;
	}
	/* From install on: the agent takes a missing heartbeat file as a handler error. */
	if (v->heartbeat) {
		r = ibup_vmext_heartbeat_write(&v->env, v->st.state != IBUP_VMEXT_ERROR,
					       v->st.message);
		if (r < 0)
			cli_warn("cannot write the heartbeat file: %s", strerror(-r));
	}
	/* The agent keeps the commands' output in its log; enable's first word is not news. */
	if (v->st.state != IBUP_VMEXT_TRANSITIONING || v->op != OP_ENABLE || code)
		printf("ibup vmext %s: %s (sequence number %u, code %d): %s\n", v->name,
		       ibup_vmext_state_name(v->st.state), v->seq, v->st.code,
		       v->st.message ? v->st.message : "");
	return code;
}

static int fail(struct vmext_run *v, int code, const char *fmt, ...) _printf_(3, 4);
static int fail(struct vmext_run *v, int code, const char *fmt, ...)
{
	char msg[IBUP_VMEXT_MESSAGE_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ibup: %s\n", msg);
	v->st.state = IBUP_VMEXT_ERROR;
	v->st.code = code;
	if (ibup_vmext_set_message(&v->st.message, "%s", msg) < 0)
		return IBUP_VMEXT_FAILED;
	return report(v);
}

/* The handler environment, the sequence number, the manifest's heartbeat wish. */
static int setup(struct vmext_run *v, const char *handler_dir, int *ret_env_err,
		 struct ibup_diag *env_diag)
{
	const char *env_seq = getenv("ConfigSequenceNumber");
	int r;

	if (!realpath(handler_dir, v->dir)) {
		r = -errno;
		fprintf(stderr, "ibup: cannot use the handler directory '%s': %s\n",
			handler_dir, strerror(-r));
		return r == -EINVAL ? -EIO : r; /* -EINVAL says: a bad sequence number */
	}
	*ret_env_err = ibup_vmext_env_read(v->dir, &v->env, env_diag);
	if (*ret_env_err < 0) {
		r = ibup_vmext_env_fallback(v->dir, &v->env);
		if (r < 0)
			return r;
	}
	/* The agent passes the number; older agents leave it to the newest settings. */
	if (env_seq && *env_seq) {
		if (ibup_vmext_parse_seq(env_seq, &v->seq) < 0)
			return -EINVAL;
	} else if (ibup_vmext_newest_seq(v->env.config_folder, &v->seq) < 0) {
		v->seq = 0;
	}
	r = ibup_vmext_manifest_read(v->dir, &v->heartbeat);
	if (r == -EBADMSG)
		cli_warn("HandlerManifest.json is not the agent's shape: no heartbeat");
	return 0;
}

static int read_settings(struct vmext_run *v)
{
	struct ibup_diag diag = { 0 };
	int r = ibup_vmext_settings_read(v->env.config_folder, v->seq, &v->settings,
					 &diag);

	if (r == -EBADMSG)
		return fail(v, IBUP_VMEXT_USAGE, "bad settings in %u.settings: %s",
			    v->seq, diag.msg);
	if (r < 0)
		return fail(v, IBUP_VMEXT_USAGE,
			    "cannot read the settings '%s/%u.settings': %s",
			    v->env.config_folder, v->seq, strerror(-r));
	if (v->settings.has_protected)
		cli_warn("protectedSettings given: ibup takes none and ignores them");
	return 0;
}

static const char *target_why(const struct ibup_ipoib_target *t)
{
	switch (t->state) {
	case IBUP_TARGET_NO_INTERFACE:
		return "no interface carries this MAC yet";
	case IBUP_TARGET_NOT_IN_KERNEL:
		return "the running kernel has no interface of this name";
	case IBUP_TARGET_FAILED:
		return strerror(t->error);
	default:
		return "not added";
	}
}

/* Execute a plan; 0, or a negative errno with @err saying why. */
static int execute(struct vmext_run *v, struct ibup_plan *plan, char *err, size_t size)
{
	struct ibup_exec_opts opts = { .resume = true };
	struct ibup_exec_result res;
	int r = ibup_plan_execute(v->cli->ctx, plan, &opts, &res);

	if (r < 0)
		snprintf(err, size, "%s", *res.error ? res.error : strerror(-r));
	else if (res.failed)
		snprintf(err, size, "%u step%s failed", res.failed,
			 res.failed == 1 ? "" : "s");
	if (r == 0 && res.failed)
		r = -EIO;
	if (res.status || r != -ENOMEM)
		ibup_exec_result_release(&res);
	ibup_plan_free(plan);
	return r;
}

/* Step "ipoib": the addresses now, and at every boot (ibup's unit and udev rule). */
static int step_ipoib(struct vmext_run *v)
{
	struct ibup_ipoib_plan *ip = NULL;
	struct ibup_plan *plan = NULL;
	struct ibup_diag diag = { 0 };
	char exe[PATH_MAX], err[512] = "", *msg = NULL;
	unsigned in_place = 0;
	size_t size = 0;
	bool live = ibup_ctx_is_live(v->cli->ctx);
	FILE *f;
	int r;

	if (!v->settings.ipoib)
		return ibup_vmext_add_substatus(
			&v->st, "ipoib", IBUP_VMEXT_SUCCESS, 0,
			"not run: \"ipoib\" is false in the settings");
	r = ibup_ipoib_plan_read(v->cli->ctx, 16, &ip, &diag);
	if (r < 0)
		return ibup_vmext_add_substatus(
			&v->st, "ipoib", IBUP_VMEXT_ERROR, IBUP_VMEXT_FAILED,
			"cannot read the platform's IPoIB data: %s",
			r == -EBADMSG ? diag.msg : strerror(-r));
	/* The interfaces of a VF probed late get the unit through the udev rule. */
	if (ip->source) {
		r = ibup_ipoib_apply(v->cli->ctx, ip, live ? 10 : 0);
		if (r < 0) {
			ibup_ipoib_plan_free(ip);
			return ibup_vmext_add_substatus(
				&v->st, "ipoib", IBUP_VMEXT_ERROR, IBUP_VMEXT_FAILED,
				"cannot apply the IPoIB addresses: %s", strerror(-r));
		}
	}
	cli_exe_path(v->cli, exe, sizeof(exe));
	r = ibup_ipoib_enable_plan(v->cli->ctx, "systemd", exe, &plan);
	if (r == 0)
		r = execute(v, plan, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "cannot plan it: %s", strerror(-r));
	if (r < 0) {
		ibup_ipoib_plan_free(ip);
		return ibup_vmext_add_substatus(
			&v->st, "ipoib", IBUP_VMEXT_ERROR, IBUP_VMEXT_FAILED,
			"cannot apply IPoIB at every boot: %s", err);
	}
	f = open_memstream(&msg, &size);
	if (!f) {
		ibup_ipoib_plan_free(ip);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < ip->n; i++)
		if (ip->targets[i].state == IBUP_TARGET_PRESENT ||
		    ip->targets[i].state == IBUP_TARGET_APPLIED)
			in_place++;
	if (!ip->source)
		fputs("the platform gave no IPoIB address (no IPoIB_Data in KVP pool 0, no "
		      "SharedConfig.xml); ",
		      f);
	else
		fprintf(f, "%u of %u IPoIB address%s in place", in_place, ip->n,
			ip->n == 1 ? "" : "es");
	for (unsigned i = 0; i < ip->n; i++) {
		const struct ibup_ipoib_target *t = &ip->targets[i];

		if (t->state == IBUP_TARGET_APPLIED)
			fprintf(f, "; %s/%u added to %s", t->ipv4, ip->prefix_len,
				t->netdev);
		else if (t->state != IBUP_TARGET_PRESENT)
			fprintf(f, "; %s (%s%s%s) not applied: %s", t->ipv4, t->mac,
				t->netdev ? " on " : "", t->netdev ? t->netdev : "",
				target_why(t));
	}
	fputs(ip->source ? ". " : "", f);
	fputs("Applied at every boot and whenever an IPoIB interface appears "
	      "(ibup-ipoib.service, 90-ibup-ipoib.rules)",
	      f);
	fclose(f);
	/* Pairs not in place now are a warning: the udev rule applies them on arrival. */
	r = ibup_vmext_add_substatus(&v->st, "ipoib",
				     ip->source && in_place == ip->n ? IBUP_VMEXT_SUCCESS
								     : IBUP_VMEXT_WARNING,
				     0, "%s", msg ? msg : "");
	free(msg);
	ibup_ipoib_plan_free(ip);
	return r;
}

/* Step "check": ibup check; its failures, each with its fix, fail the extension. */
static int step_check(struct vmext_run *v)
{
	struct ibup_check_opts opts = { .expect_rate_gbps = NAN,
					.bench_threshold_gbps = NAN,
					.expect_hcas = IBUP_UNKNOWN };
	struct ibup_check_report *rep = NULL;
	struct ibup_status *st = NULL;
	struct ibup_ctx *ctx = v->cli->ctx;
	int r;

	if (!v->settings.check)
		return ibup_vmext_add_substatus(
			&v->st, "check", IBUP_VMEXT_SUCCESS, 0,
			"not run: \"check\" is false in the settings");
	if (ibup_ctx_is_live(ctx) && (mkdir(STATE_DIR, 0755) == 0 || errno == EEXIST))
		opts.state_dir = STATE_DIR;
	r = ibup_status_read(ctx, IBUP_STATUS_COUNTERS, &st);
	if (r < 0)
		return ibup_vmext_add_substatus(
			&v->st, "check", IBUP_VMEXT_ERROR, IBUP_VMEXT_FAILED,
			"cannot take the inventory: %s", strerror(-r));
	r = cli_fill_vm_size(v->cli, st);
	if (r == 0)
		r = ibup_check_run(ctx, st, &opts, &rep);
	if (r == 0)
		r = ibup_vmext_check_substatus(rep, &v->st);
	else if (r < 0)
		r = ibup_vmext_add_substatus(&v->st, "check", IBUP_VMEXT_ERROR,
					     IBUP_VMEXT_FAILED,
					     "cannot run the checks: %s", strerror(-r));
	else
		r = ibup_vmext_add_substatus(&v->st, "check", IBUP_VMEXT_ERROR,
					     IBUP_VMEXT_FAILED, "cannot run the checks");
	ibup_check_report_free(rep);
	ibup_status_free(st);
	return r;
}

static int op_enable(struct vmext_run *v)
{
	enum ibup_vmext_state was;
	unsigned mrseq;
	const struct ibup_vmext_substatus *bad = NULL;
	int r;

	/* This number's work finished and succeeded: the agent re-runs enable at start. */
	if (ibup_vmext_mrseq_read(v->dir, &mrseq) == 0 && mrseq == v->seq &&
	    ibup_vmext_status_read(&v->env, v->seq, &was) == 0 &&
	    was == IBUP_VMEXT_SUCCESS) {
		printf("ibup vmext enable: sequence number %u is applied already (mrseq)\n",
		       v->seq);
		return IBUP_VMEXT_OK;
	}
	v->st.state = IBUP_VMEXT_TRANSITIONING;
	if (ibup_vmext_set_message(&v->st.message,
				   "applying the settings of sequence number %u",
				   v->seq) < 0)
		return IBUP_VMEXT_FAILED;
	r = report(v);
	if (r)
		return r;
	r = step_ipoib(v);
	if (r == 0)
		r = step_check(v);
	if (r < 0)
		return fail(v, IBUP_VMEXT_FAILED, "cannot carry out the steps: %s",
			    strerror(-r));
	for (unsigned i = 0; i < v->st.n_sub && !bad; i++)
		if (v->st.sub[i].state == IBUP_VMEXT_ERROR)
			bad = &v->st.sub[i];
	if (bad) {
		v->st.state = IBUP_VMEXT_ERROR;
		v->st.code = bad->code ? bad->code : IBUP_VMEXT_FAILED;
		r = ibup_vmext_set_message(&v->st.message, "%s failed: %s", bad->name,
					   bad->message);
	} else {
		bool warned = false;

		for (unsigned i = 0; i < v->st.n_sub; i++)
			warned |= v->st.sub[i].state == IBUP_VMEXT_WARNING;
		/*
		 * A top-level "warning" is not final for the agent (extensions that depend
		 * on this one would wait 90 minutes): success, with the warnings in the
		 * substatus.
		 */
		v->st.state = IBUP_VMEXT_SUCCESS;
		v->st.code = IBUP_VMEXT_OK;
		r = ibup_vmext_set_message(
			&v->st.message,
			"settings of sequence number %u "
			"applied%s",
			v->seq, warned ? ", with warnings (see the substatus)" : "");
	}
	if (r < 0)
		return IBUP_VMEXT_FAILED;
	r = report(v);
	/* Written only once the work for this number is done, and done well: a failed
	 * enable is retried when the agent runs enable again. */
	if (r == IBUP_VMEXT_OK && (r = ibup_vmext_mrseq_write(v->dir, v->seq)) < 0) {
		cli_error(r, "cannot write '%s/mrseq'", v->dir);
		r = IBUP_VMEXT_FAILED;
	}
	return r;
}

/* disable and uninstall: IPoIB is no longer applied at boot; mrseq goes. */
static int op_disable(struct vmext_run *v)
{
	struct ibup_plan *plan = NULL;
	char err[512] = "";
	int r = ibup_ipoib_disable_plan(v->cli->ctx, &plan);

	if (r == 0)
		r = execute(v, plan, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "cannot plan it: %s", strerror(-r));
	if (r < 0)
		return fail(v, IBUP_VMEXT_FAILED, "cannot undo IPoIB at boot: %s", err);
	r = ibup_vmext_mrseq_remove(v->dir);
	if (r < 0)
		return fail(v, IBUP_VMEXT_FAILED, "cannot remove '%s/mrseq': %s", v->dir,
			    strerror(-r));
	v->st.state = IBUP_VMEXT_SUCCESS;
	v->st.code = IBUP_VMEXT_OK;
	if (ibup_vmext_set_message(&v->st.message,
				   "%s: IPoIB addresses are no longer applied at boot "
				   "(ibup-ipoib.service and its udev rule removed); the "
				   "addresses in place are left as they are",
				   v->op == OP_DISABLE ? "disabled" : "uninstalled") < 0)
		return IBUP_VMEXT_FAILED;
	return report(v);
}

/* install and update: nothing to do in this version but to say the settings are good. */
static int op_install(struct vmext_run *v)
{
	v->st.state = IBUP_VMEXT_TRANSITIONING;
	v->st.code = IBUP_VMEXT_OK;
	if (ibup_vmext_set_message(
		    &v->st.message,
		    "%s: the handler is in place; enable applies the settings "
		    "of sequence number %u",
		    v->op == OP_INSTALL ? "installed" : "updated", v->seq) < 0)
		return IBUP_VMEXT_FAILED;
	return report(v);
}

int cmd_vmext(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "handler-dir", required_argument, NULL, OPT_HANDLER_DIR },
		IBUP_VM_SIZE_LONGOPTS,
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct vmext_run v = { .cli = cli, .op = OP_ENABLE };
	const char *handler_dir = ".", *name = NULL;
	struct ibup_diag env_diag = { 0 };
	bool known = false;
	int opt, r, env_err = 0, code;

	if (argc > 1 && argv[1][0] != '-') {
		name = argv[1];
		argv++;
		argc--;
	}
	opterr = 0;
	while ((opt = getopt_long(argc, argv, IBUP_GLOBAL_SHORTOPTS, longopts, NULL)) !=
	       -1) {
		if (opt == OPT_HANDLER_DIR) {
			handler_dir = optarg;
			continue;
		}
		r = cli_common_option(cli, opt, argv, help_vmext);
		if (r == IBUP_EXIT_USAGE)
			return IBUP_VMEXT_USAGE;
		if (r != CLI_CONTINUE)
			return r;
	}
	if (optind < argc) {
		cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
		return IBUP_VMEXT_USAGE;
	}
	if (!name) {
		cli_usage_error(cli,
				"which operation? (install, enable, disable, uninstall, "
				"update)");
		return IBUP_VMEXT_USAGE;
	}
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(ops); i++)
		if (strcmp(name, ops[i].name) == 0) {
			v.op = (enum vmext_op)i;
			known = true;
		}
	v.st.operation = ops[v.op].operation;
	v.name = known ? ops[v.op].name : "?";

	r = setup(&v, handler_dir, &env_err, &env_diag);
	if (r == -EINVAL) {
		code = fail(&v, IBUP_VMEXT_USAGE,
			    "ConfigSequenceNumber '%.32s' is not a sequence number",
			    getenv("ConfigSequenceNumber"));
		goto out;
	}
	if (r < 0) {
		code = r == -ENOMEM ? IBUP_VMEXT_FAILED : IBUP_VMEXT_USAGE;
		goto out;
	}
	if (!known) {
		code = fail(
			&v, IBUP_VMEXT_USAGE,
			"unknown operation '%.40s' (install, enable, disable, uninstall, "
			"update)",
			name);
		goto out;
	}
	if (env_err < 0) {
		code = fail(&v, IBUP_VMEXT_USAGE,
			    "cannot read '%s/HandlerEnvironment.json': %s", v.dir,
			    env_err == -EBADMSG ? env_diag.msg : strerror(-env_err));
		goto out;
	}
	if (!cli_ctx(cli)) {
		code = fail(&v, IBUP_VMEXT_FAILED, "cannot open the root '%s'",
			    cli->root ? cli->root : "/");
		goto out;
	}
	/*
	 * Only enable reads the settings. disable and uninstall undo whatever they say;
	 * install and update must not fail on them: the agent reports a single-config
	 * handler whose install failed by its handler status alone, never reading the
	 * status file, so bad settings are reported by enable, where the agent shows them.
	 */
	if (v.op == OP_ENABLE) {
		code = read_settings(&v);
		if (code)
			goto out;
	}
	switch (v.op) {
	case OP_ENABLE:
		code = op_enable(&v);
		break;
	case OP_DISABLE:
	case OP_UNINSTALL:
		code = op_disable(&v);
		break;
	default:
		code = op_install(&v);
		break;
	}
out:
	ibup_vmext_status_release(&v.st);
	ibup_vmext_env_release(&v.env);
	return code;
}

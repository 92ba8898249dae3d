// SPDX-License-Identifier: MIT
/*
 * ibup vmext: ibup as an Azure Linux VM-extension handler. The agent runs
 * install|enable|disable|uninstall|update in the handler directory; each reads the
 * handler environment, the sequence number and its settings, does its steps and
 * leaves status/<n>.status, the only thing the agent reads back. Exit codes are the
 * protocol's (enum ibup_vmext_code), not ibup's usual ones.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ibup/install.h"
#include "ibup/plan.h"
#include "ibup/vmext.h"
#include "banned.h"

/* The error-counter baseline of `check` on the running system, as ibup check keeps it. */
#define STATE_DIR "/var/lib/ibup"
/* How long enable waits for its background work before it returns (the agent kills
 * enable after 300 s): short work ends within it and enable exits with its verdict. */
#define WAIT_DEFAULT_S 30
/* How long the background work waits for another ibup run that holds the lock. */
#define LOCK_WAIT_MS (30u * 60 * 1000)
/* How long enable waits for a lock that another enable holds to start a worker. */
#define LAUNCH_WAIT_MS 1000
/* How long disable and uninstall wait for another ibup run that holds the lock. */
#define DISABLE_LOCK_WAIT_MS (120u * 1000)
/* The background work's output, in the handler environment's logFolder. */
#define WORKER_LOG "ibup-vmext.log"

enum {
	OPT_HANDLER_DIR = OPT_COMMAND_BASE,
	OPT_WAIT,
	OPT_WORKER,
	OPT_WORKER_ENDED,
};

void help_vmext(FILE *out)
{
	fputs("Usage: ibup vmext install|enable|disable|uninstall|update [OPTIONS]\n"
	      "\n"
	      "Act as an Azure Linux VM-extension handler: read HandlerEnvironment.json, the\n"
	      "sequence number (ConfigSequenceNumber, else the newest config/<n>.settings) and\n"
	      "its public settings, do the steps (install: ibup install of the settings'\n"
	      "stack, when they name one; ipoib: apply the platform's IPoIB addresses and\n"
	      "apply them at every boot; check: ibup check) and write status/<n>.status\n"
	      "for the agent. enable does the steps in the background (a transient systemd\n"
	      "unit, or a detached process where systemd is not running), so they survive\n"
	      "the agent's timeout; the status stays 'transitioning' until they end.\n"
	      "disable and uninstall stop that work and undo the boot-time IPoIB setup.\n"
	      "\n"
	      "Options:\n"
	      "      --handler-dir DIR  the handler directory (default: the working directory,\n"
	      "                         where the agent starts its commands)\n"
	      "      --wait SECONDS     enable: how long to wait for the background work\n"
	      "                         before returning with the status 'transitioning'\n"
	      "                         (default 30; 0 returns at once)\n" IBUP_VM_SIZE_HELP
	      "      --root DIR         read (and configure) the system under DIR instead of /;\n"
	      "                         the handler directory stays where it is\n"
	      "  -v, --verbose          more detail on stderr\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status (InfiniBandDriverLinux's codes): 0 success, 1 incorrect usage\n"
	      "(settings, handler environment), 11 no InfiniBand on this VM, 12 this build\n"
	      "cannot run on (or install a stack for) this image, 14 operation\n"
	      "unsuccessful (see the status).\n"
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
	unsigned wait_s; /* --wait */
	bool worker; /* --worker: this is the background work */
	bool worker_ended; /* --worker-ended: its unit's ExecStopPost */
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

/* A line of the background work's log (its stdout), with the time. */
static void wlog(const char *fmt, ...) _printf_(1, 2);
static void wlog(const char *fmt, ...)
{
	time_t now = time(NULL);
	char stamp[32] = "";
	struct tm tm;
	va_list ap;

	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s ibup vmext[%ld]: ", stamp, (long)getpid());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* The status while the work goes on: "transitioning", the steps so far, @what now. */
static void progress(struct vmext_run *v, const char *fmt, ...) _printf_(2, 3);
static void progress(struct vmext_run *v, const char *fmt, ...)
{
	char msg[IBUP_VMEXT_MESSAGE_MAX + 1];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->st.state = IBUP_VMEXT_TRANSITIONING;
	v->st.code = IBUP_VMEXT_OK;
	if (ibup_vmext_set_message(&v->st.message, "sequence number %u: %s", v->seq,
				   msg) < 0)
		return;
	r = ibup_vmext_status_write(&v->env, v->seq, &v->st, time(NULL));
	if (r < 0)
		cli_warn("cannot write the status: %s", strerror(-r));
	/* A sign of life at each step: the agent waits 10 minutes for the next one. */
	if (v->heartbeat &&
	    (r = ibup_vmext_heartbeat_write(&v->env, true, v->st.message)) < 0)
		cli_warn("cannot write the heartbeat file: %s", strerror(-r));
	if (v->worker)
		wlog("%s", v->st.message);
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
static int execute_as(struct vmext_run *v, struct ibup_plan *plan, bool no_journal,
		      char *err, size_t size)
{
	struct ibup_exec_opts opts = { .resume = true, .no_journal = no_journal };
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

static int execute(struct vmext_run *v, struct ibup_plan *plan, char *err, size_t size)
{
	return execute_as(v, plan, false, err, size);
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

/* The status names the plan's step as it starts. */
static void install_progress(void *data, const struct ibup_plan *plan, unsigned i,
			     int result, const char *detail)
{
	struct vmext_run *v = data;

	(void)detail;
	if (result == 1)
		progress(v, "install: step %u of %u: %s", i + 1, plan->n,
			 plan->steps[i].why ? plan->steps[i].why : "");
}

/* An install refusal's code: the extension's, as InfiniBandDriverLinux has them. */
static int refusal_code(const struct ibup_install_error *e, const struct ibup_status *st)
{
	switch (e->kind) {
	case IBUP_REFUSE_USAGE:
		return IBUP_VMEXT_USAGE;
	case IBUP_REFUSE_UNSUPPORTED:
		/* Nothing to install a stack for, or an image it does not install on. */
		return st->n_devices == 0 && !st->devices_error
			       ? IBUP_VMEXT_NO_IB
			       : IBUP_VMEXT_UNSUPPORTED_IMAGE;
	default:
		return IBUP_VMEXT_FAILED;
	}
}

/* Step "install": the driver stack the settings ask for (ibup install). */
static int step_install(struct vmext_run *v)
{
	struct ibup_install_opts o = { .secure_boot = v->settings.secure_boot_enroll
							      ? IBUP_SB_ENROLL
							      : IBUP_SB_REFUSE,
				       .replace = v->settings.replace };
	struct ibup_exec_opts eo = { .resume = true,
				     .progress = install_progress,
				     .progress_data = v };
	struct ibup_manifest manifest = { 0 };
	struct ibup_install_choice choice = { 0 };
	struct ibup_install_error err = { 0 };
	struct ibup_exec_result res = { 0 };
	struct ibup_ctx *ctx = v->cli->ctx;
	struct ibup_status *st = NULL;
	struct ibup_plan *plan = NULL;
	struct ibup_diag diag = { 0 };
	char exe[PATH_MAX], command[160], stack[64];
	int r;

	if (!v->settings.install)
		return ibup_vmext_add_substatus(&v->st, "install", IBUP_VMEXT_SUCCESS, 0,
						"not run: no \"stack\" in the settings");
	r = ibup_stack_from_name(v->settings.stack, &o.stack);
	if (r < 0)
		return r;
	o.version = *v->settings.version ? v->settings.version : NULL;
	snprintf(command, sizeof(command), "install --stack %s%s%s%s%s",
		 v->settings.stack, o.version ? " --version " : "",
		 o.version ? o.version : "",
		 o.secure_boot == IBUP_SB_ENROLL ? " --secure-boot enroll" : "",
		 o.replace ? " --replace" : "");
	o.command = command;
	r = ibup_manifest_builtin(&manifest, &diag);
	if (r < 0)
		return ibup_vmext_add_substatus(
			&v->st, "install", IBUP_VMEXT_ERROR, IBUP_VMEXT_FAILED,
			"the built-in install manifest is broken: %s",
			r == -EBADMSG ? diag.msg : strerror(-r));
	o.manifest = &manifest;
	r = ibup_status_read(ctx, 0, &st);
	if (r < 0) {
		ibup_manifest_release(&manifest);
		return ibup_vmext_add_substatus(
			&v->st, "install", IBUP_VMEXT_ERROR, IBUP_VMEXT_FAILED,
			"cannot take the inventory: %s", strerror(-r));
	}
	r = cli_fill_vm_size(v->cli, st);
	if (r)
		goto out;
	cli_exe_path(v->cli, exe, sizeof(exe));
	o.exe = exe;
	o.vm_size = st->platform.vm_size;
	r = ibup_install_choose(ctx, st, &o, &choice, &err);
	if (r == 0)
		r = ibup_install_plan(ctx, st, &o, &choice, &plan, &err);
	if (r == -EPERM) {
		r = ibup_vmext_add_substatus(&v->st, "install", IBUP_VMEXT_ERROR,
					     refusal_code(&err, st), "%s%s%s", err.msg,
					     *err.hint ? " " : "", err.hint);
		goto out;
	}
	if (r < 0) {
		r = ibup_vmext_add_substatus(&v->st, "install", IBUP_VMEXT_ERROR,
					     IBUP_VMEXT_FAILED, "cannot plan it: %s",
					     strerror(-r));
		goto out;
	}
	snprintf(stack, sizeof(stack), "%s%s%s", ibup_stack_name(choice.stack),
		 choice.version ? " " : "", choice.version ? choice.version : "");
	if (!plan->n) {
		if (choice.same && choice.installed)
			r = ibup_vmext_add_substatus(
				&v->st, "install", IBUP_VMEXT_SUCCESS, 0,
				"%s is installed already", choice.installed);
		else
			r = ibup_vmext_add_substatus(&v->st, "install",
						     IBUP_VMEXT_SUCCESS, 0,
						     "%s: nothing to do", stack);
		goto out;
	}
	wlog("install: %s, %u steps", stack, plan->n);
	r = ibup_plan_execute(ctx, plan, &eo, &res);
	if (r < 0 || res.failed)
		r = ibup_vmext_add_substatus(
			&v->st, "install", IBUP_VMEXT_ERROR, IBUP_VMEXT_FAILED, "%s: %s",
			stack, *res.error ? res.error : strerror(r < 0 ? -r : EIO));
	else
		r = ibup_vmext_add_substatus(&v->st, "install", IBUP_VMEXT_SUCCESS, 0,
					     "%s: %u step%s done%s%s", stack, res.done,
					     res.done == 1 ? "" : "s",
					     choice.n_warnings ? "; " : "",
					     choice.n_warnings ? choice.warnings[0] : "");
	ibup_exec_result_release(&res);
out:
	ibup_plan_free(plan);
	ibup_install_choice_release(&choice);
	ibup_status_free(st);
	ibup_manifest_release(&manifest);
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

/* Whether status/<seq>.status holds a verdict written at or after @since. */
static bool status_since(struct vmext_run *v, const struct timespec *since)
{
	enum ibup_vmext_state state;
	char path[PATH_MAX];
	struct stat sb;

	if (ibup_vmext_status_read(&v->env, v->seq, &state) < 0 ||
	    state == IBUP_VMEXT_TRANSITIONING)
		return false;
	snprintf(path, sizeof(path), "%s/%u.status", v->env.status_folder, v->seq);
	if (stat(path, &sb) < 0)
		return false;
	return sb.st_mtim.tv_sec > since->tv_sec ||
	       (sb.st_mtim.tv_sec == since->tv_sec &&
		sb.st_mtim.tv_nsec >= since->tv_nsec);
}

static bool sibling_worker_alive(const struct vmext_run *v);

/* The background work: the steps, the verdict, mrseq. Holds the one lock throughout. */
static int op_worker(struct vmext_run *v)
{
	const struct ibup_vmext_substatus *bad = NULL;
	struct timespec started;
	struct ibup_ctx *ctx = v->cli->ctx;
	enum ibup_vmext_state was;
	unsigned mrseq;
	int r;

	clock_gettime(CLOCK_REALTIME, &started);
	wlog("applying the settings of sequence number %u (handler %s)", v->seq, v->dir);
	/* The enable that started it lets go of the lock a moment later. */
	r = ibup_plan_lock(ctx, 2000);
	if (r == -EBUSY) {
		/*
		 * Two enables at once start two workers of this handler. The sibling holds
		 * the lock or waits for it, and writes the verdict: a "waiting" written now
		 * could land just after that verdict and replace it. So the portal hears of
		 * the wait only when the holder is another ibup run, and never over a
		 * verdict of this number.
		 */
		if (!sibling_worker_alive(v) && !status_since(v, &started))
			progress(v, "waiting for another ibup run to finish changing "
				    "this host (it holds ibup's lock)");
		r = ibup_plan_lock(ctx, LOCK_WAIT_MS);
	}
	if (r == -EBUSY)
		return fail(v, IBUP_VMEXT_FAILED,
			    "another ibup run held ibup's lock for %u minutes; enable "
			    "again once it has finished",
			    LOCK_WAIT_MS / 60000);
	if (r < 0)
		return fail(v, IBUP_VMEXT_FAILED, "cannot take ibup's lock: %s",
			    strerror(-r));
	/* Two enables at once while another run held the lock start two workers: the
	 * second finds the verdict the first wrote since it started, and leaves it; a
	 * second worker slow to start (a loaded host) may begin only after the first has
	 * finished, and then finds this number in mrseq (with the verdict: when this
	 * one's "waiting" replaced a verdict written in the same instant, it does the
	 * work again rather than leave "transitioning" for ever). */
	if (status_since(v, &started) ||
	    (ibup_vmext_mrseq_read(v->dir, &mrseq) == 0 && mrseq == v->seq &&
	     ibup_vmext_status_read(&v->env, v->seq, &was) == 0 &&
	     was != IBUP_VMEXT_TRANSITIONING)) {
		wlog("sequence number %u was applied by another worker meanwhile",
		     v->seq);
		return IBUP_VMEXT_OK;
	}
	if (v->settings.install)
		progress(v, "install: installing the driver stack (%s%s%s)",
			 v->settings.stack, *v->settings.version ? " " : "",
			 v->settings.version);
	r = step_install(v);
	/* The steps after a failed install would only report its absence. */
	if (r == 0 && v->st.sub[v->st.n_sub - 1].state == IBUP_VMEXT_ERROR) {
		r = ibup_vmext_add_substatus(&v->st, "ipoib", IBUP_VMEXT_WARNING, 0,
					     "not run: install failed");
		if (r == 0)
			r = ibup_vmext_add_substatus(&v->st, "check", IBUP_VMEXT_WARNING,
						     0, "not run: install failed");
		goto verdict;
	}
	if (r == 0) {
		progress(v, "ipoib: applying the platform's IPoIB addresses");
		r = step_ipoib(v);
	}
	if (r == 0) {
		progress(v, "check: checking the node");
		r = step_check(v);
	}
verdict:
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

static void log_path(struct vmext_run *v, char *buf, size_t size);

/*
 * The worker's unit has stopped (its ExecStopPost): a worker that ended without its
 * verdict (killed, out of memory, crashed) leaves the status 'transitioning', which the
 * agent would show for ever; it becomes an error saying how the work ended.
 */
static int op_worker_ended(struct vmext_run *v)
{
	const char *result = getenv("SERVICE_RESULT"), *how = getenv("EXIT_CODE"),
		   *status = getenv("EXIT_STATUS");
	enum ibup_vmext_state state;
	char log[PATH_MAX];

	if (ibup_vmext_status_read(&v->env, v->seq, &state) == 0 &&
	    state != IBUP_VMEXT_TRANSITIONING)
		return IBUP_VMEXT_OK;
	log_path(v, log, sizeof(log));
	return fail(v, IBUP_VMEXT_FAILED,
		    "the background work (systemd unit ibup-vmext-%u.service) ended "
		    "without a verdict (%.32s%s%.16s%s%.16s); see %s",
		    v->seq, result && *result ? result : "stopped", how ? ", " : "",
		    how ? how : "", status ? " " : "", status ? status : "", log);
}

/* The start of /proc/PID/NAME, NUL-terminated ("" when it cannot be read); its length. */
static size_t read_proc(long pid, const char *name, char *buf, size_t size)
{
	char path[64];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, name);
	f = fopen(path, "re");
	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

/*
 * Whether the process @pid (not this one) lives (not a zombie) and is ibup vmext: the
 * worker, or the enable that starts it in the instant before the worker's exec. Its
 * argv, NUL-separated, is left in @argv (@size bytes); returns its length, 0 when not.
 */
static size_t vmext_process_argv(long pid, char *argv, size_t size)
{
	const char *p;
	size_t n;

	if (pid == (long)getpid()) /* a record older than the pid's reuse */
		return 0;
	read_proc(pid, "stat", argv, size);
	p = strrchr(argv, ')'); /* the name may hold anything */
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	/* argv: ibup vmext enable --worker ... */
	n = read_proc(pid, "cmdline", argv, size);
	for (size_t i = 0; i < n; i += strlen(argv + i) + 1)
		if (strcmp(argv + i, "vmext") == 0)
			return n;
	return 0;
}

static bool process_is_worker(long pid)
{
	char buf[4096];

	return vmext_process_argv(pid, buf, sizeof(buf)) > 0;
}

/* Another live worker of this handler directory (ibup vmext enable --worker). */
static bool sibling_worker_alive(const struct vmext_run *v)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return false;
	while ((e = readdir(d))) {
		char buf[4096], *end;
		bool worker = false, dir = false;
		long pid = strtol(e->d_name, &end, 10);
		size_t n =
			*end || pid <= 0 ? 0 : vmext_process_argv(pid, buf, sizeof(buf));

		for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
			if (strcmp(buf + i, "--worker") == 0)
				worker = true;
			if (strcmp(buf + i, "--handler-dir") == 0 &&
			    i + strlen(buf + i) + 1 < n &&
			    strcmp(buf + i + strlen(buf + i) + 1, v->dir) == 0)
				dir = true;
		}
		if (worker && dir)
			return true;
	}
	return false;
}

static bool unit_is_active(const char *unit)
{
	const char *argv[] = { "systemctl", "is-active", "--quiet", unit, NULL };
	struct ibup_spawn_result res;
	bool active;

	if (ibup_spawn(argv, 10000, 4096, &res) < 0)
		return false;
	active = res.exit_code == 0;
	ibup_spawn_result_release(&res);
	return active;
}

/* The recorded worker, when it still runs. */
static bool worker_alive(struct vmext_run *v, struct ibup_vmext_worker *w)
{
	if (ibup_vmext_worker_read(v->dir, w) < 0)
		return false;
	if (w->kind == IBUP_VMEXT_WORKER_SYSTEMD)
		return unit_is_active(w->unit);
	return process_is_worker(w->pid);
}

static void describe_worker(const struct ibup_vmext_worker *w, char *buf, size_t size)
{
	if (w->kind == IBUP_VMEXT_WORKER_SYSTEMD)
		snprintf(buf, size, "systemd unit %s", w->unit);
	else
		snprintf(buf, size, "process %ld (systemd is not running)", w->pid);
}

/* The worker's command line: this binary, the handler directory, the options given. */
static int worker_argv(struct vmext_run *v, char *exe, size_t size, const char *argv[],
		       size_t n)
{
	ssize_t len = readlink("/proc/self/exe", exe, size - 1);
	size_t i = 0;

	if (len <= 0)
		return -errno;
	exe[len] = '\0';
	argv[i++] = exe;
	argv[i++] = "vmext";
	argv[i++] = "enable";
	argv[i++] = "--worker";
	argv[i++] = "--handler-dir";
	argv[i++] = v->dir;
	if (v->cli->root) {
		argv[i++] = "--root";
		argv[i++] = v->cli->root;
	}
	if (v->cli->vm_size) {
		argv[i++] = "--vm-size";
		argv[i++] = v->cli->vm_size;
	}
	if (v->cli->metadata_url) {
		argv[i++] = "--metadata-url";
		argv[i++] = v->cli->metadata_url;
	}
	if (v->cli->verbose)
		argv[i++] = "--verbose";
	argv[i] = NULL;
	return i < n ? 0 : -E2BIG;
}

/* The worker's log; its folder is made when missing (the agent makes it first). */
static void log_path(struct vmext_run *v, char *buf, size_t size)
{
	if (v->env.log_folder && mkdir(v->env.log_folder, 0755) < 0 && errno != EEXIST)
		cli_warn("cannot make the log folder '%s': %s", v->env.log_folder,
			 strerror(errno));
	snprintf(buf, size, "%s/%s", v->env.log_folder ? v->env.log_folder : v->dir,
		 WORKER_LOG);
}

/* A transient systemd unit of its own: outside the agent's scope and process group. */
static int launch_systemd(struct vmext_run *v, const char *const wargv[],
			  struct ibup_vmext_worker *w)
{
	char unit[64], desc[96], seqenv[48], out[PATH_MAX + 48], err[PATH_MAX + 48],
		log[PATH_MAX], post[2 * PATH_MAX + 96];
	const char *argv[40];
	struct ibup_spawn_result res;
	size_t i = 0;
	int r;

	snprintf(unit, sizeof(unit), "ibup-vmext-%u.service", v->seq);
	snprintf(desc, sizeof(desc),
		 "--description=ibup vmext: the settings of sequence number %u", v->seq);
	snprintf(seqenv, sizeof(seqenv), "--setenv=ConfigSequenceNumber=%u", v->seq);
	log_path(v, log, sizeof(log));
	snprintf(out, sizeof(out), "--property=StandardOutput=append:%s", log);
	snprintf(err, sizeof(err), "--property=StandardError=append:%s", log);
	/* Its verdict even when the worker cannot write it (killed, out of memory). */
	snprintf(post, sizeof(post),
		 "--property=ExecStopPost=\"%s\" vmext enable --worker-ended "
		 "--handler-dir \"%s\"",
		 wargv[0], v->dir);
	/*
	 * StandardOutput=append: needs systemd 240; older ones (EL8 has 239) refuse the
	 * unit, so it is started again with its output in the journal: a worker outside
	 * the agent's scope matters more than where its lines go.
	 */
	for (bool to_log = true;; to_log = false) {
		i = 0;
		argv[i++] = "systemd-run";
		argv[i++] = "--unit";
		argv[i++] = unit;
		argv[i++] = "--collect";
		argv[i++] = "--quiet";
		argv[i++] = desc;
		argv[i++] = seqenv;
		if (to_log) {
			argv[i++] = out;
			argv[i++] = err;
		}
		if (!strpbrk(wargv[0], "\"\\") && !strpbrk(v->dir, "\"\\"))
			argv[i++] = post;
		argv[i++] = "--";
		for (size_t j = 0; wargv[j] && i < IBUP_ARRAY_SIZE(argv) - 1; j++)
			argv[i++] = wargv[j];
		argv[i] = NULL;
		r = ibup_spawn(argv, 30000, 16 * 1024, &res);
		if (r < 0)
			return r;
		if (res.exit_code == 0) {
			ibup_spawn_result_release(&res);
			if (!to_log)
				cli_warn(
					"this systemd cannot append to '%s': the background "
					"work's output is in the journal (journalctl -u %s)",
					log, unit);
			break;
		}
		/* The unit of this number exists already: a worker another enable started. */
		if (unit_is_active(unit)) {
			ibup_spawn_result_release(&res);
			break;
		}
		if (!to_log) {
			cli_warn("systemd-run failed (exit %d): %s", res.exit_code,
				 res.err ? res.err : "");
			ibup_spawn_result_release(&res);
			return -EIO;
		}
		ibup_spawn_result_release(&res);
	}
	*w = (struct ibup_vmext_worker){ .kind = IBUP_VMEXT_WORKER_SYSTEMD,
					 .seq = v->seq };
	snprintf(w->unit, sizeof(w->unit), "%s", unit);
	return 0;
}

/* A detached process: a session of its own, nobody's child, its output in the log. */
static int launch_process(struct vmext_run *v, const char *const wargv[],
			  struct ibup_vmext_worker *w)
{
	char log[PATH_MAX], seq[48];
	const char *env[] = { seq, NULL };
	long pid;
	int r;

	log_path(v, log, sizeof(log));
	snprintf(seq, sizeof(seq), "ConfigSequenceNumber=%u", v->seq);
	fflush(stdout);
	fflush(stderr);
	r = ibup_spawn_detached(wargv, env, log, &pid);
	if (r < 0)
		return r;
	*w = (struct ibup_vmext_worker){ .kind = IBUP_VMEXT_WORKER_PROCESS,
					 .pid = pid,
					 .seq = v->seq };
	return 0;
}

static bool systemd_running(struct vmext_run *v)
{
	return ibup_ctx_is_live(v->cli->ctx) && access("/run/systemd/system", F_OK) == 0;
}

/* Start the background work; the lock is held by the caller. */
static int launch(struct vmext_run *v, struct ibup_vmext_worker *w)
{
	const char *wargv[20];
	char exe[PATH_MAX], what[PATH_MAX + 64], log[PATH_MAX];
	int r = worker_argv(v, exe, sizeof(exe), wargv, IBUP_ARRAY_SIZE(wargv));

	if (r < 0)
		return r;
	r = -ENOENT;
	if (systemd_running(v))
		r = launch_systemd(v, wargv, w);
	if (r < 0)
		r = launch_process(v, wargv, w);
	if (r < 0)
		return r;
	r = ibup_vmext_worker_write(v->dir, w);
	if (r < 0)
		cli_warn("cannot write '%s/worker': %s", v->dir, strerror(-r));
	describe_worker(w, what, sizeof(what));
	log_path(v, log, sizeof(log));
	printf("ibup vmext enable: sequence number %u: the work runs in the background as "
	       "%s (log: %s)\n",
	       v->seq, what, log);
	fflush(stdout);
	return 0;
}

/* Wait for the worker's verdict up to @wait_s; the exit code, or -EAGAIN when none yet. */
static int await(struct vmext_run *v, const struct ibup_vmext_worker *w, unsigned wait_s)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	struct timespec start, now;
	enum ibup_vmext_state state;
	int code = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned i = 1;; i++) {
		bool alive;

		if (ibup_vmext_status_read_code(&v->env, v->seq, &state, &code) == 0 &&
		    state != IBUP_VMEXT_TRANSITIONING)
			return state == IBUP_VMEXT_ERROR
				       ? (code ? code : IBUP_VMEXT_FAILED)
				       : IBUP_VMEXT_OK;
		/* The status every 100 ms; whether the worker lives, every second. */
		alive = i % 10 != 0 || (w->kind == IBUP_VMEXT_WORKER_SYSTEMD
						? unit_is_active(w->unit)
						: process_is_worker(w->pid));
		/* It may have written its verdict just before it ended. */
		if (!alive &&
		    ibup_vmext_status_read_code(&v->env, v->seq, &state, &code) == 0 &&
		    state != IBUP_VMEXT_TRANSITIONING)
			continue;
		if (!alive) {
			char what[PATH_MAX + 64], log[PATH_MAX];

			describe_worker(w, what, sizeof(what));
			log_path(v, log, sizeof(log));
			return fail(
				v, IBUP_VMEXT_FAILED,
				"the background work (%s) ended without a verdict; see %s",
				what, log);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)wait_s)
			return -EAGAIN;
		nanosleep(&tick, NULL);
	}
}

static int op_enable(struct vmext_run *v)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	struct ibup_ctx *ctx = v->cli->ctx;
	struct ibup_vmext_worker w;
	struct timespec start, now;
	char what[PATH_MAX + 64];
	enum ibup_vmext_state was;
	bool joined = false;
	unsigned mrseq;
	int r;

	/* This number's work finished and succeeded: the agent re-runs enable at start. */
	if (ibup_vmext_mrseq_read(v->dir, &mrseq) == 0 && mrseq == v->seq &&
	    ibup_vmext_status_read(&v->env, v->seq, &was) == 0 &&
	    was == IBUP_VMEXT_SUCCESS) {
		printf("ibup vmext enable: sequence number %u is applied already (mrseq)\n",
		       v->seq);
		return IBUP_VMEXT_OK;
	}
	/*
	 * One worker per sequence number: whoever holds ibup's lock decides. A worker
	 * holds it while it works, so a busy lock with a live worker of this number
	 * means joining it; a lock busy for long without one (another ibup run) does
	 * not stop a worker from starting: it waits for the lock itself.
	 */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		r = ibup_plan_lock(ctx, 0);
		if (r != -EBUSY)
			break;
		if (worker_alive(v, &w) && w.seq == v->seq) {
			joined = true;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* Another enable holds it only while it starts a worker. */
		if ((now.tv_sec - start.tv_sec) * 1000 +
			    (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    LAUNCH_WAIT_MS)
			break;
		nanosleep(&tick, NULL);
	}
	if (r < 0 && r != -EBUSY)
		return fail(v, IBUP_VMEXT_FAILED, "cannot take ibup's lock: %s",
			    strerror(-r));
	/* Under the lock: a worker that finished since the check above. */
	if (r == 0 && ibup_vmext_mrseq_read(v->dir, &mrseq) == 0 && mrseq == v->seq &&
	    ibup_vmext_status_read(&v->env, v->seq, &was) == 0 &&
	    was == IBUP_VMEXT_SUCCESS) {
		ibup_plan_unlock(ctx);
		printf("ibup vmext enable: sequence number %u is applied already (mrseq)\n",
		       v->seq);
		return IBUP_VMEXT_OK;
	}
	if (!joined && worker_alive(v, &w) && w.seq == v->seq)
		joined = true;
	if (joined) {
		describe_worker(&w, what, sizeof(what));
		printf("ibup vmext enable: sequence number %u is being applied already, in "
		       "the background (%s)\n",
		       v->seq, what);
		fflush(stdout);
	} else {
		v->st.state = IBUP_VMEXT_TRANSITIONING;
		if (ibup_vmext_set_message(&v->st.message,
					   "sequence number %u: applying the settings in "
					   "the background",
					   v->seq) < 0)
			return IBUP_VMEXT_FAILED;
		r = report(v);
		if (r)
			return r;
		r = launch(v, &w);
		if (r < 0)
			return fail(v, IBUP_VMEXT_FAILED,
				    "cannot start the work in the background: %s",
				    strerror(-r));
	}
	/* The worker takes the lock as soon as it is free. */
	ibup_plan_unlock(ctx);
	r = await(v, &w, v->wait_s);
	if (r == -EAGAIN) {
		describe_worker(&w, what, sizeof(what));
		printf("ibup vmext enable: sequence number %u goes on in the background (%s); "
		       "the status stays 'transitioning' until it ends\n",
		       v->seq, what);
		return IBUP_VMEXT_OK;
	}
	if (r >= 0) {
		enum ibup_vmext_state state = IBUP_VMEXT_ERROR;

		ibup_vmext_status_read(&v->env, v->seq, &state);
		printf("ibup vmext enable: %s (sequence number %u, code %d)\n",
		       ibup_vmext_state_name(state), v->seq, r);
	}
	return r;
}

/* Stop the background work, if any; a line for the status into @buf ("" for none). */
static int stop_worker(struct vmext_run *v, char *buf, size_t size)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	struct ibup_vmext_worker w;
	char what[PATH_MAX + 64];
	int r;

	*buf = '\0';
	if (!worker_alive(v, &w))
		return ibup_vmext_worker_remove(v->dir);
	describe_worker(&w, what, sizeof(what));
	if (w.kind == IBUP_VMEXT_WORKER_SYSTEMD) {
		const char *argv[] = { "systemctl", "stop", w.unit, NULL };
		struct ibup_spawn_result res;

		r = ibup_spawn(argv, 120000, 16 * 1024, &res);
		if (r < 0)
			return r;
		r = res.exit_code == 0 ? 0 : -EIO;
		ibup_spawn_result_release(&res);
		if (r < 0)
			return r;
	} else {
		/* Its session: the worker and every program it started. */
		for (int sig = SIGTERM, i = 0; process_is_worker(w.pid); i++) {
			DIR *d = opendir("/proc");
			struct dirent *e;

			if (i == 100)
				sig = SIGKILL; /* 10 s after SIGTERM */
			if (i % 100 == 0 && d)
				while ((e = readdir(d))) {
					long pid = strtol(e->d_name, NULL, 10);

					if (pid > 0 && getsid((pid_t)pid) == (pid_t)w.pid)
						kill((pid_t)pid, sig);
				}
			if (d)
				closedir(d);
			if (i > 200)
				return -ETIMEDOUT;
			nanosleep(&tick, NULL);
		}
	}
	snprintf(buf, size, "stopped the background work of sequence number %u (%s); ",
		 w.seq, what);
	printf("ibup vmext %s: %s\n", v->name, buf);
	return ibup_vmext_worker_remove(v->dir);
}

/* disable and uninstall: IPoIB is no longer applied at boot; mrseq goes. */
static int op_disable(struct vmext_run *v)
{
	struct ibup_plan *plan = NULL;
	char err[512] = "", stopped[PATH_MAX + 128], journal[128] = "";
	int r = stop_worker(v, stopped, sizeof(stopped));

	if (r < 0)
		return fail(v, IBUP_VMEXT_FAILED, "cannot stop the background work: %s",
			    strerror(-r));
	/* Another run (or a worker's last step) may hold the lock a moment longer. */
	r = ibup_plan_lock(v->cli->ctx, DISABLE_LOCK_WAIT_MS);
	if (r < 0)
		return fail(v, IBUP_VMEXT_FAILED, "cannot take ibup's lock: %s",
			    r == -EBUSY ? "another ibup run holds it" : strerror(-r));
	r = ibup_ipoib_disable_plan(v->cli->ctx, &plan);
	if (r == 0)
		r = execute(v, plan, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "cannot plan it: %s", strerror(-r));
	/*
	 * The journal of another plan that stopped (an install the worker was running,
	 * stopped above, or cut by a reboot) is left for the enable that resumes it;
	 * this small plan runs without one, under the lock this command holds.
	 */
	if ((r == -EEXIST || r == -ESTALE) &&
	    (r = ibup_ipoib_disable_plan(v->cli->ctx, &plan)) == 0) {
		r = execute_as(v, plan, true, err, sizeof(err));
		if (r == 0)
			snprintf(
				journal, sizeof(journal),
				"; the unfinished run journaled in /var/lib/ibup is left "
				"for the next enable to resume");
	}
	if (r < 0)
		return fail(v, IBUP_VMEXT_FAILED, "cannot undo IPoIB at boot: %s", err);
	r = ibup_vmext_mrseq_remove(v->dir);
	if (r < 0)
		return fail(v, IBUP_VMEXT_FAILED, "cannot remove '%s/mrseq': %s", v->dir,
			    strerror(-r));
	v->st.state = IBUP_VMEXT_SUCCESS;
	v->st.code = IBUP_VMEXT_OK;
	if (ibup_vmext_set_message(&v->st.message,
				   "%s: %sIPoIB addresses are no longer applied at boot "
				   "(ibup-ipoib.service and its udev rule removed); the "
				   "addresses in place are left as they are%s",
				   v->op == OP_DISABLE ? "disabled" : "uninstalled",
				   stopped, journal) < 0)
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
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "worker", no_argument, NULL, OPT_WORKER },
		{ "worker-ended", no_argument, NULL, OPT_WORKER_ENDED },
		IBUP_VM_SIZE_LONGOPTS,
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct vmext_run v = { .cli = cli, .op = OP_ENABLE, .wait_s = WAIT_DEFAULT_S };
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
		if (opt == OPT_WORKER) {
			v.worker = true;
			continue;
		}
		if (opt == OPT_WORKER_ENDED) {
			v.worker_ended = true;
			continue;
		}
		if (opt == OPT_WAIT) {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    n > 3600) {
				cli_usage_error(
					cli,
					"--wait takes seconds from 0 to 3600, not '%s'",
					optarg);
				return IBUP_VMEXT_USAGE;
			}
			v.wait_s = (unsigned)n;
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
	if ((v.worker || v.worker_ended) && (!known || v.op != OP_ENABLE)) {
		cli_usage_error(cli, "--worker and --worker-ended are for enable only");
		return IBUP_VMEXT_USAGE;
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
		code = v.worker_ended ? op_worker_ended(&v)
		       : v.worker     ? op_worker(&v)
				      : op_enable(&v);
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

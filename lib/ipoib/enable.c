// SPDX-License-Identifier: MIT
/*
 * The plans of `ipoib enable` and `ipoib disable`: ibup's own unit, udev rule and the
 * network managers' exclusions (--via systemd), or OS.EnableRDMA in waagent.conf
 * (--via waagent). Planning reads the host; the executor makes the change.
 */
#include <stdio.h>
#include <string.h>

#include "ibup/plan.h"
#include "internal.h"
#include "banned.h"

#define UNIT "ibup-ipoib.service"
#define UNIT_PATH "etc/systemd/system/" UNIT
#define WANTS_LINK "etc/systemd/system/multi-user.target.wants/" UNIT
#define UDEV_RULE "etc/udev/rules.d/90-ibup-ipoib.rules"
#define NM_CONF "etc/NetworkManager/conf.d/90-ibup-ipoib.conf"
#define NETWORKD_CONF "etc/systemd/network/05-ibup-ipoib.network"
#define WAAGENT_CONF "etc/waagent.conf"
#define WAAGENT_ORIG WAAGENT_CONF ".ibup-orig"

static const char udev_rule[] =
	"# Written by 'ibup ipoib enable': address IPoIB interfaces as they appear.\n"
	"ACTION==\"add\", SUBSYSTEM==\"net\", ATTR{type}==\"32\", TAG+=\"systemd\", "
	"ENV{SYSTEMD_WANTS}+=\"" UNIT "\"\n";
static const char nm_conf[] = "# Written by 'ibup ipoib enable': ibup addresses IPoIB.\n"
			      "[keyfile]\n"
			      "unmanaged-devices=type:infiniband\n";
static const char networkd_conf[] =
	"# Written by 'ibup ipoib enable': ibup addresses IPoIB.\n"
	"[Match]\n"
	"Type=infiniband\n"
	"\n"
	"[Link]\n"
	"Unmanaged=yes\n";

/*
 * A path as one word of a unit's command line: quoted when it has a space, with '%'
 * (a specifier) doubled and '\' and '"' escaped (systemd.service(5), "Command lines").
 */
static int exec_word(const char *exe, char **ret)
{
	size_t n = strlen(exe);
	char *out = malloc(2 * n + 3), *o = out;
	bool quote = strpbrk(exe, " \t\"'\\") != NULL;

	if (!out)
		return -ENOMEM;
	if (strpbrk(exe, "\n\r")) {
		free(out);
		return -EINVAL;
	}
	if (quote)
		*o++ = '"';
	for (const char *p = exe; *p; p++) {
		if (*p == '%' || *p == '\\' || *p == '"')
			*o++ = *p == '%' ? '%' : '\\';
		*o++ = *p;
	}
	if (quote)
		*o++ = '"';
	*o = '\0';
	*ret = out;
	return 0;
}

/* The agent's unit is called differently per distribution; NULL when none is there. */
static const char *agent_unit(struct ibup_ctx *ctx)
{
	static const char *const units[] = { "walinuxagent", "waagent" };
	static const char *const dirs[] = { "lib/systemd/system",
					    "usr/lib/systemd/system",
					    "etc/systemd/system" };

	for (size_t i = 0; i < IBUP_ARRAY_SIZE(units); i++)
		for (size_t d = 0; d < IBUP_ARRAY_SIZE(dirs); d++)
			if (ibup_path_exists(ctx, "%s/%s.service", dirs[d], units[i]) > 0)
				return units[i];
	return NULL;
}

/* The distribution's agent daemon runs the RDMA code: some of its versions break IPoIB. */
static void warn_agent_version(struct ibup_ctx *ctx)
{
	const char *argv[] = { "waagent", "--version", NULL };
	struct ibup_spawn_result res;
	const char *problem = NULL;
	char version[32];

	if (ibup_spawn(argv, 10000, 64 * 1024, &res) < 0)
		return;
	if (ibup_waagent_version_check(res.out, version, sizeof(version), &problem) ==
		    0 &&
	    problem)
		ibup_warn(ctx, "the Azure agent is version %s: %s", version, problem);
	ibup_spawn_result_release(&res);
}

struct waagent_edit {
	const char *value;
	const char *orig; /* disable: the text before ibup's first change, or NULL */
};

static int waagent_editor(const char *text, void *data, char **ret_text)
{
	const struct waagent_edit *e = data;
	_cleanup_free_ char *ours = NULL;
	int r;

	/*
	 * disable: when the file is exactly what enable made of the original, the
	 * original comes back byte for byte (a commented default stays commented).
	 */
	if (e->orig && strcmp(text, e->orig) == 0) {
		*ret_text = strdup(text); /* already the original */
		return *ret_text ? 0 : -ENOMEM;
	}
	if (e->orig) {
		r = ibup_waagent_set(e->orig, "OS.EnableRDMA", "y", &ours);
		if (r < 0)
			return r;
		if (strcmp(ours, text) == 0) {
			*ret_text = strdup(e->orig);
			return *ret_text ? 0 : -ENOMEM;
		}
	}
	return ibup_waagent_set(text, "OS.EnableRDMA", e->value, ret_text);
}

/* OS.EnableRDMA=@value, and the agent restarted to read it (on the running system). */
static int plan_waagent(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *value,
			const char *orig)
{
	struct waagent_edit e = { .value = value, .orig = orig };
	bool live = ibup_ctx_is_live(ctx);
	const char *unit;
	char note[64];
	int r;

	snprintf(note, sizeof(note), "OS.EnableRDMA=%s", value);
	r = ibup_plan_edit_file(
		ctx, plan, WAAGENT_CONF, waagent_editor, &e,
		strcmp(value, "y") == 0
			? "the Azure agent assigns IPoIB addresses (OS.EnableRDMA=y)"
			: "the Azure agent's RDMA setting as it was before ibup",
		note);
	if (r <= 0)
		return r;
	if (live && strcmp(value, "y") == 0)
		warn_agent_version(ctx);
	unit = agent_unit(ctx);
	if (!unit) {
		ibup_warn(
			ctx,
			"no walinuxagent or waagent unit found: restart the agent yourself");
		return 0;
	}
	if (!live)
		return 0;
	return ibup_plan_unit(plan, "restart", unit,
			      "the agent reads waagent.conf when it starts");
}

static int plan_reloads(struct ibup_ctx *ctx, struct ibup_plan *plan, bool unit_changed,
			bool rule_changed)
{
	static const char *const reload[] = { "systemctl", "daemon-reload", NULL };
	static const char *const udev[] = { "udevadm", "control", "--reload", NULL };
	int r = 0;

	/* Another root has no running manager to tell. */
	if (!ibup_ctx_is_live(ctx))
		return 0;
	if (unit_changed)
		r = ibup_plan_run(plan, reload, NULL, 60000, NULL, 0,
				  "systemd reads the changed unit files");
	if (r >= 0 && rule_changed && ibup_udevd_running(ctx))
		r = ibup_plan_run(plan, udev, NULL, 60000, NULL, 0,
				  "udev reads the changed rules");
	return r < 0 ? r : 0;
}

static int plan_systemd(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *exe)
{
	_cleanup_free_ char *word = NULL, *unit = NULL;
	int r, unit_step, rule_step;

	r = exec_word(exe, &word);
	if (r < 0)
		return r;
	if (asprintf(
		    &unit,
		    "# Written by 'ibup ipoib enable'; removed by 'ibup ipoib disable'.\n"
		    "[Unit]\n"
		    "Description=IPoIB addresses from the platform (ibup)\n"
		    "Documentation=man:ibup-ipoib(8)\n"
		    "After=systemd-udevd.service network-pre.target\n"
		    "Wants=network-pre.target\n"
		    "Before=network.target\n"
		    "\n"
		    "[Service]\n"
		    "Type=oneshot\n"
		    "ExecStart=%s ipoib apply --wait 120\n"
		    "\n"
		    "[Install]\n"
		    "WantedBy=multi-user.target\n",
		    word) < 0)
		return -ENOMEM;
	unit_step = ibup_plan_write_file(ctx, plan, UNIT_PATH, unit, strlen(unit), 0644,
					 "the unit that applies the addresses at boot");
	if (unit_step < 0)
		return unit_step;
	/* A VF that arrives later (hot-added, or after a host repair) gets its address. */
	rule_step = ibup_plan_write_file(
		ctx, plan, UDEV_RULE, udev_rule, strlen(udev_rule), 0644,
		"start the unit when an IPoIB interface appears");
	if (rule_step < 0)
		return rule_step;
	/* Network managers leave IPoIB alone, so nobody fights over its addresses. */
	if (ibup_path_exists(ctx, "etc/NetworkManager") > 0) {
		r = ibup_plan_write_file(
			ctx, plan, NM_CONF, nm_conf, strlen(nm_conf), 0644,
			"NetworkManager leaves IPoIB interfaces to ibup");
		if (r < 0)
			return r;
	}
	if (ibup_path_exists(ctx, "etc/systemd/network") > 0) {
		r = ibup_plan_write_file(
			ctx, plan, NETWORKD_CONF, networkd_conf, strlen(networkd_conf),
			0644, "systemd-networkd leaves IPoIB interfaces to ibup");
		if (r < 0)
			return r;
	}
	r = plan_reloads(ctx, plan, unit_step > 0, rule_step > 0);
	if (r < 0)
		return r;
	r = ibup_path_exists(ctx, WANTS_LINK);
	ibup_plan_input(plan, WANTS_LINK, r > 0 ? "1" : NULL, r > 0);
	if (r < 0)
		return r;
	if (r > 0)
		return ibup_plan_note(plan, WANTS_LINK, "unit " UNIT " is enabled");
	r = ibup_plan_unit(plan, "enable", UNIT, "the unit runs at every boot");
	return r < 0 ? r : 0;
}

int ibup_ipoib_enable_plan(struct ibup_ctx *ctx, const char *via, const char *exe,
			   struct ibup_plan **ret)
{
	_cleanup_free_ char *command = NULL;
	struct ibup_plan *plan = NULL;
	int r;

	if (strcmp(via, "systemd") != 0 && strcmp(via, "waagent") != 0)
		return -EINVAL;
	if (asprintf(&command, "ipoib enable --via %s", via) < 0)
		return -ENOMEM;
	r = ibup_plan_new(ctx, command, &plan);
	if (r < 0)
		return r;
	ibup_plan_input(plan, "exe", exe, strlen(exe));
	if (strcmp(via, "systemd") == 0)
		r = plan_systemd(ctx, plan, exe);
	else
		r = plan_waagent(ctx, plan, "y", NULL);
	return ibup_plan_end(plan, r, ret);
}

int ibup_ipoib_disable_plan(struct ibup_ctx *ctx, struct ibup_plan **ret)
{
	static const char *const ours[] = { UNIT_PATH, UDEV_RULE, NM_CONF,
					    NETWORKD_CONF };
	static const char *const whys[] = { "ibup's unit", "ibup's udev rule",
					    "ibup's NetworkManager exclusion",
					    "ibup's systemd-networkd exclusion" };
	struct ibup_plan *plan = NULL;
	int r, removed[IBUP_ARRAY_SIZE(ours)] = { 0 };

	r = ibup_plan_new(ctx, "ipoib disable", &plan);
	if (r < 0)
		return r;
	/* The unit's links go first, while its file is there for systemctl to read. */
	r = ibup_path_exists(ctx, WANTS_LINK);
	ibup_plan_input(plan, WANTS_LINK, r > 0 ? "1" : NULL, r > 0);
	if (r > 0)
		r = ibup_plan_unit(plan, "disable", UNIT,
				   "the unit no longer runs at boot");
	for (size_t i = 0; r >= 0 && i < IBUP_ARRAY_SIZE(ours); i++)
		r = removed[i] = ibup_plan_remove_file(ctx, plan, ours[i], whys[i]);
	if (r >= 0)
		r = plan_reloads(ctx, plan, removed[0] > 0, removed[1] > 0);
	/* waagent: back to what it was before ibup set it, if ibup did. */
	if (r >= 0 && ibup_path_exists(ctx, WAAGENT_ORIG) > 0) {
		_cleanup_free_ char *orig = NULL;

		r = ibup_read_file(ctx, WAAGENT_ORIG, IBUP_CONF_MAX, &orig, NULL);
		if (r >= 0) {
			ibup_plan_input(plan, WAAGENT_ORIG, orig, strlen(orig));
			/* As the agent reads it (Y, "y", y#comment are on); absent is off. */
			r = ibup_waagent_conf_switch(orig, "OS.EnableRDMA", 0);
			if (r >= 0)
				r = plan_waagent(ctx, plan, r ? "y" : "n", orig);
		}
	}
	return ibup_plan_end(plan, r, ret);
}

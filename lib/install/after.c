// SPDX-License-Identifier: MIT
/*
 * After the packages: ibup's own files (memlock unlimited for users and services, the
 * openibd drop-in Azure's images use, IPoIB off where the size does not use it,
 * nvidia_peermem on GPUDirect sizes), the kernel hook that checks each new kernel, and
 * the new modules brought in: on a live host by a reboot a minute later (never an
 * openibd restart, which unloads mlx5_core under an SSH session), or at once with
 * --reload-now from a console. Under another root nothing is started or loaded.
 */
#include <stdio.h>
#include <string.h>

#include "ibup/check.h"
#include "install-int.h"
#include "internal.h"
#include "banned.h"

#define LIMITS_CONF "etc/security/limits.d/90-ibup-memlock.conf"
#define SYSTEMD_CONF "etc/systemd/system.conf.d/90-ibup-memlock.conf"
#define OPENIBD_DROPIN "etc/systemd/system/openibd.service.d/90-ibup.conf"
#define NO_IPOIB_CONF "etc/modprobe.d/90-ibup-no-ipoib.conf"
#define PEERMEM_CONF "etc/modules-load.d/90-ibup-nvidia-peermem.conf"
#define HOOK_DEB "etc/kernel/postinst.d/zz-ibup-check"
#define HOOK_RPM "etc/kernel/install.d/90-ibup-check.install"
#define OPENIB_CONF "/etc/infiniband/openib.conf"

static const char limits_conf[] =
	"# Written by 'ibup install': RDMA pins the memory it registers.\n"
	"* soft memlock unlimited\n"
	"* hard memlock unlimited\n";
static const char systemd_conf[] =
	"# Written by 'ibup install': services register RDMA memory too.\n"
	"[Manager]\n"
	"DefaultLimitMEMLOCK=infinity\n";
static const char openibd_dropin[] =
	"# Written by 'ibup install': start once udev has named the devices, and again\n"
	"# after a failure (as Azure's HPC images do).\n"
	"[Unit]\n"
	"After=systemd-udev-settle.service\n"
	"Wants=systemd-udev-settle.service\n"
	"\n"
	"[Service]\n"
	"Restart=on-failure\n";
static const char no_ipoib_conf[] =
	"# Written by 'ibup install': this VM size does not use IPoIB.\n"
	"blacklist ib_ipoib\n";
static const char peermem_conf[] =
	"# Written by 'ibup install': GPUDirect RDMA on this VM size.\n"
	"nvidia_peermem\n";

static const char *const ours[] = {
	LIMITS_CONF,	SYSTEMD_CONF,
	OPENIBD_DROPIN, NO_IPOIB_CONF,
	PEERMEM_CONF,	HOOK_DEB,
	HOOK_RPM,	"etc/apt/preferences.d/90-ibup-doca-dkms"
};

static int plan_hook(struct ibup_ctx *ctx, struct ibup_plan *plan,
		     const struct ibup_install_opts *o,
		     const struct ibup_install_choice *c)
{
	_cleanup_free_ char *hook = NULL;
	bool deb = c->distro.pm == IBUP_PM_APT;
	int r;

	/* postinst.d gets VERSION IMAGE; kernel-install's plugins COMMAND VERSION ... */
	r = asprintf(
		&hook,
		"#!/bin/sh\n"
		"# Written by 'ibup install': when a kernel is installed, say whether the\n"
		"# next boot has the RDMA modules. Never fails the kernel's installation.\n"
		"%s"
		"echo \"ibup: checking the RDMA stack for kernel $%s\" >&2\n"
		"'%s' check >&2 || echo \"ibup: 'ibup check' found problems with "
		"kernel $%s (see above)\" >&2\n"
		"exit 0\n",
		deb ? "" : "[ \"$1\" = add ] || exit 0\n", deb ? "1" : "2", o->exe,
		deb ? "1" : "2");
	if (r < 0)
		return -ENOMEM;
	return ibup_plan_write_file(
		ctx, plan, deb ? HOOK_DEB : HOOK_RPM, hook, strlen(hook), 0755,
		"check every new kernel for the RDMA modules as it lands");
}

/* The modules in, now: inbox modules load beside what runs; vendor ones need a reboot. */
static bool loaded(const struct ibup_status *st, const char *module)
{
	for (unsigned i = 0; i < st->drivers.n_modules; i++)
		if (strcmp(st->drivers.modules[i].name, module) == 0)
			return true;
	return false;
}

static int plan_bring_in(struct ibup_ctx *ctx, struct ibup_plan *plan,
			 const struct ibup_install_opts *o,
			 const struct ibup_install_choice *c,
			 const struct ibup_status *st, bool stack_changed, int ipoib)
{
	static const char *const inbox_modules[] = { "ib_uverbs", "rdma_ucm", "ib_umad",
						     "ib_ipoib" };
	int r = 0;

	if (!ibup_ctx_is_live(ctx))
		return 0;
	if (c->stack == IBUP_STACK_INBOX) {
		bool infiniband = false;

		for (unsigned i = 0; i < st->n_devices; i++)
			infiniband |= st->devices[i].kind == IBUP_KIND_INFINIBAND;
		/* The distribution's modules load beside what runs: nothing unloads. With no
		 * RDMA device there is nothing for them to drive. */
		for (size_t i = 0;
		     r >= 0 && st->n_devices && i < IBUP_ARRAY_SIZE(inbox_modules); i++) {
			bool ib = strcmp(inbox_modules[i], "ib_ipoib") == 0;

			if (loaded(st, inbox_modules[i]) ||
			    (ib && (ipoib == 0 || !infiniband)))
				continue;
			r = ibup_plan_module(
				plan, inbox_modules[i],
				ib ? "IPoIB interfaces (ib0)"
				   : "the verbs interfaces, without a reboot");
		}
		return r < 0 ? r : 0;
	}
	if (!stack_changed)
		return 0;
	if (o->reload_now)
		return ibup_plan_unit(
			plan, "restart", "openibd",
			"load the new modules now (--reload-now: this unloads "
			"mlx5_core and drops RDMA and IPoIB until it is back)");
	return ibup_plan_run(
		plan,
		(const char *const[]){ "shutdown", "-r", "+1",
				       "ibup install: booting into the new RDMA "
				       "modules",
				       NULL },
		NULL, 60000, NULL, 0,
		"the new modules load at boot; reloading them under an SSH "
		"session would cut it (run 'ibup check' once the host is back)");
}

int plan_after(struct ibup_ctx *ctx, struct ibup_plan *plan,
	       const struct ibup_install_opts *o, const struct ibup_install_choice *c,
	       const struct ibup_status *st, bool stack_changed)
{
	const char *size = o->vm_size ? o->vm_size : st->platform.vm_size;
	struct ibup_expect x = { 0 };
	bool vendor = c->stack != IBUP_STACK_INBOX;
	int ipoib = IBUP_UNKNOWN, dropin = 0, r;
	bool nvidia = false;

	if (size) {
		r = ibup_expect_lookup(ctx, size, &x);
		if (r < 0)
			return r;
		if (r > 0) {
			ipoib = x.ipoib;
			nvidia = x.gpudirect && strcmp(x.gpudirect, "nvidia") == 0;
			ibup_expect_release(&x);
		}
	}
	r = ibup_plan_write_file(ctx, plan, LIMITS_CONF, limits_conf, strlen(limits_conf),
				 0644,
				 "unlimited locked memory for RDMA users (pam_limits)");
	if (r >= 0)
		r = ibup_plan_write_file(
			ctx, plan, SYSTEMD_CONF, systemd_conf, strlen(systemd_conf), 0644,
			"unlimited locked memory for services (systemd)");
	if (r >= 0 && vendor && c->url)
		r = dropin = ibup_plan_write_file(
			ctx, plan, OPENIBD_DROPIN, openibd_dropin, strlen(openibd_dropin),
			0644, "openibd waits for udev, restarts on failure");
	if (r >= 0 && dropin > 0 && ibup_ctx_is_live(ctx))
		r = ibup_plan_run(
			plan, (const char *const[]){ "systemctl", "daemon-reload", NULL },
			NULL, 60000, NULL, 0, "systemd reads the openibd drop-in");
	if (r >= 0 && vendor && c->url)
		r = ibup_plan_unit(plan, "enable", "openibd",
				   "openibd loads the stack's modules at every boot");
	if (r >= 0 && ipoib == 0 && !vendor)
		r = ibup_plan_write_file(ctx, plan, NO_IPOIB_CONF, no_ipoib_conf,
					 strlen(no_ipoib_conf), 0644,
					 "this VM size does not use IPoIB");
	if (r >= 0 && ipoib == 0 && vendor && c->url)
		r = plan_run_in_tree(
			ctx, plan,
			(const char *const[]){ "sed", "-i",
					       "s/^IPOIB_LOAD=.*/IPOIB_LOAD=no/",
					       OPENIB_CONF, NULL },
			NULL, 0, 60000,
			"openibd loads no IPoIB: this VM size does not use it");
	if (r >= 0 && nvidia)
		r = ibup_plan_write_file(ctx, plan, PEERMEM_CONF, peermem_conf,
					 strlen(peermem_conf), 0644,
					 "GPUDirect RDMA: nvidia_peermem at boot");
	if (r >= 0)
		r = plan_hook(ctx, plan, o, c);
	if (r >= 0 && c->dkms && o->secure_boot == IBUP_SB_ENROLL)
		r = plan_mok_enroll(ctx, plan, c);
	if (r >= 0)
		r = plan_bring_in(ctx, plan, o, c, st, stack_changed, ipoib);
	return r < 0 ? r : 0;
}

int plan_after_remove(struct ibup_ctx *ctx, struct ibup_plan *plan)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < IBUP_ARRAY_SIZE(ours); i++)
		r = ibup_plan_remove_file(ctx, plan, ours[i], "ibup's own file");
	return r < 0 ? r : 0;
}

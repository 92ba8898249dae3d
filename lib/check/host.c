// SPDX-License-Identifier: MIT
/*
 * The checks of the host around the fabric: locked memory for users, services and
 * Slurm's jobs, IPoIB and the agent's RDMA settings, PCIe links, GPUDirect, and what
 * the next boot holds (Secure Boot, newer kernels' modules).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check-int.h"
#include "internal.h"
#include "banned.h"

void check_memlock(struct run *run)
{
	const struct ibup_limits *l = &run->st->limits;
	char eff[32], conf[32], svc[32], seen[160];
	enum ibup_verdict v = IBUP_PASS;

	ibup_format_limit(l->memlock_soft, eff, sizeof(eff));
	ibup_format_limit(l->memlock_configured, conf, sizeof(conf));
	ibup_format_limit(l->memlock_systemd, svc, sizeof(svc));
	if (l->memlock_soft >= 0)
		snprintf(seen, sizeof(seen), "this shell %s; users %s; services %s", eff,
			 conf, svc);
	else
		snprintf(seen, sizeof(seen), "users %s; services %s", conf, svc);
	if (l->memlock_soft >= 0 && l->memlock_soft < MEMLOCK_MIN)
		v = IBUP_FAIL;
	else if (l->memlock_configured != IBUP_UNLIMITED &&
		 (l->memlock_configured < MEMLOCK_MIN))
		v = IBUP_WARN;
	check_add(
		run, "memlock", NULL, v, "NHCNA", seen, "unlimited (at least 512 MiB)",
		"RDMA registers memory and UCX disables InfiniBand below 512 MiB: write "
		"'* soft memlock unlimited' and '* hard memlock unlimited' to "
		"/etc/security/limits.d/90-rdma.conf (and DefaultLimitMEMLOCK=infinity for "
		"services), then log in again");
}

void check_slurm(struct run *run)
{
	static const char *const paths[] = { "etc/slurm/slurm.conf",
					     "etc/slurm-llnl/slurm.conf" };
	_cleanup_free_ char *text = NULL, *prop = NULL, *except = NULL;
	bool propagated;
	char seen[160];
	int r = -ENOENT;

	for (size_t i = 0; i < IBUP_ARRAY_SIZE(paths) && r < 0; i++)
		r = ibup_read_file(run->ctx, paths[i], IBUP_CONF_MAX, &text, NULL);
	if (r < 0) {
		if (r == -ENOMEM)
			run->error = r;
		return; /* no Slurm here: nothing to say */
	}
	if (ibup_conf_value(text, "PropagateResourceLimits", &prop) == -ENOMEM ||
	    ibup_conf_value(text, "PropagateResourceLimitsExcept", &except) == -ENOMEM) {
		run->error = -ENOMEM;
		return;
	}
	/* Shown in "seen": nothing of the file's may steer a terminal. */
	if (prop)
		ibup_sanitize(prop);
	if (except)
		ibup_sanitize(except);
	/* The default is ALL: jobs inherit the submitting shell's limits, memlock too. */
	propagated = !prop || strcasecmp(prop, "ALL") == 0 || strcasestr(prop, "MEMLOCK");
	if (prop && strcasecmp(prop, "NONE") == 0)
		propagated = false;
	if (except && strcasestr(except, "MEMLOCK"))
		propagated = false;
	snprintf(seen, sizeof(seen), "PropagateResourceLimits=%s%s%s",
		 prop ? prop : "ALL", except ? " PropagateResourceLimitsExcept=" : "",
		 except ? except : "");
	check_add(run, "slurm_limits", NULL, propagated ? IBUP_WARN : IBUP_PASS, "NHCNA",
		  seen, "memlock not propagated from the submitting shell",
		  "jobs get the login node's memlock limit, often small: set "
		  "PropagateResourceLimitsExcept=MEMLOCK in slurm.conf");
}

static const struct ibup_ipoib *ipoib_of(const struct ibup_status *st, const char *dev,
					 unsigned port)
{
	for (unsigned i = 0; i < st->n_ipoib; i++)
		if (st->ipoib[i].device && strcmp(st->ipoib[i].device, dev) == 0 &&
		    st->ipoib[i].port == port)
			return &st->ipoib[i];
	return NULL;
}

void check_ipoib(struct run *run)
{
	const struct ibup_status *st = run->st;

	if (run->rep->expect.ipoib != 1)
		return;
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned k = 0; k < d->n_ports; k++) {
			const struct ibup_port *p = &d->ports[k];
			const struct ibup_ipoib *ib;
			char subject[96], seen[160];

			if (!check_ib_port(d, p))
				continue;
			snprintf(subject, sizeof(subject), "%s/%u", d->name, p->num);
			ib = ipoib_of(st, d->name, p->num);
			if (!ib) {
				check_add(
					run, "ipoib", subject, IBUP_FAIL, "NHCNA",
					"no IPoIB interface",
					"an IPoIB interface, up, with an address",
					"load ib_ipoib (modprobe ib_ipoib) so the interface appears");
			} else if (!ib->operstate || strcmp(ib->operstate, "up") != 0) {
				snprintf(seen, sizeof(seen), "%s is %s", ib->name,
					 ib->operstate ? ib->operstate
						       : "in an unknown state");
				check_add(
					run, "ipoib", subject, IBUP_FAIL, "NHCNA", seen,
					"an IPoIB interface, up, with an address",
					"bring it up (ip link set dev IFACE up) and give it the "
					"platform's address (waagent with OS.EnableRDMA=y)");
			} else if (ib->ipv4_known && !ib->n_ipv4) {
				snprintf(seen, sizeof(seen),
					 "%s is up without an IPv4 address", ib->name);
				check_add(
					run, "ipoib", subject, IBUP_FAIL, "NHCNA", seen,
					"an IPoIB interface, up, with an address",
					"the platform's address was not applied: set OS.EnableRDMA=y "
					"in /etc/waagent.conf and restart the agent");
			} else {
				snprintf(seen, sizeof(seen), "%s up%s%s", ib->name,
					 ib->n_ipv4 ? " " : "",
					 ib->n_ipv4 ? ib->ipv4[0] : "");
				check_add(run, "ipoib", subject, IBUP_PASS, NULL, seen,
					  NULL, NULL);
			}
		}
	}
}

void check_waagent(struct run *run)
{
	static const char *const switches[] = { "OS.EnableRDMA", "OS.UpdateRdmaDriver",
						"OS.CheckRdmaDriver" };
	_cleanup_free_ char *text = NULL, *rdma = NULL, *nd = NULL;
	int on = 0, nd_on;
	bool sriov = false, ibup_unit;
	char seen[160];
	int r;

	if (!check_is_azure(run->st))
		return;
	r = ibup_read_file(run->ctx, "etc/waagent.conf", IBUP_CONF_MAX, &text, NULL);
	if (r < 0) {
		if (r == -ENOMEM)
			run->error = r;
		return;
	}
	/* Read as the agent reads it (ibup_waagent_conf_value), not as a person might. */
	r = ibup_waagent_conf_value(text, "OS.EnableRDMA", &rdma);
	if (r == -EILSEQ) {
		check_add(
			run, "waagent_rdma", NULL, IBUP_WARN, "NHCNA",
			"/etc/waagent.conf is not UTF-8",
			"a configuration the agent can load",
			"the agent fails to load a file that is not UTF-8: fix its encoding");
		return;
	}
	if (r == -ENOMEM ||
	    ibup_waagent_conf_value(text, "OS.CheckRdmaDriver", &nd) == -ENOMEM) {
		run->error = -ENOMEM;
		return;
	}
	/* enable_rdma(): any of the three switches turns the RDMA setup on. */
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(switches) && on == 0; i++)
		on = ibup_waagent_conf_switch(text, switches[i], 0);
	nd_on = ibup_waagent_conf_switch(text, "OS.CheckRdmaDriver", 0);
	if (on < 0 || nd_on < 0) {
		run->error = -ENOMEM;
		return;
	}
	for (unsigned i = 0; i < run->st->n_devices; i++)
		sriov |= run->st->devices[i].kind == IBUP_KIND_INFINIBAND &&
			 run->st->devices[i].virtual_function == 1;
	/* The values go to a terminal: nothing of the file's may steer it. */
	snprintf(seen, sizeof(seen), "OS.EnableRDMA=%.48s OS.CheckRdmaDriver=%.48s",
		 rdma ? ibup_sanitize(rdma) : "(unset)",
		 nd ? ibup_sanitize(nd) : "(unset)");
	/* `ibup ipoib enable` (its unit enabled) addresses IPoIB instead of the agent. */
	ibup_unit =
		ibup_path_exists(run->ctx, "etc/systemd/system/multi-user.target.wants/"
					   "ibup-ipoib.service") > 0;
	if (run->rep->expect.ipoib == 1 && !on && ibup_unit)
		check_add(run, "waagent_rdma", NULL, IBUP_PASS, NULL,
			  "ibup-ipoib.service is enabled: ibup addresses IPoIB", NULL,
			  NULL);
	else if (run->rep->expect.ipoib == 1 && !on)
		check_add(
			run, "waagent_rdma", NULL, IBUP_WARN, "NHCNA", seen,
			"OS.EnableRDMA=y, or ibup's IPoIB unit",
			"nothing will give the IPoIB interfaces their addresses: run 'ibup ipoib "
			"enable' (ibup's unit and udev rule), or set OS.EnableRDMA=y in "
			"/etc/waagent.conf and restart the agent");
	else if (sriov && nd_on)
		check_add(
			run, "waagent_rdma", NULL, IBUP_WARN, NULL, seen,
			"OS.CheckRdmaDriver=n",
			"on SR-IOV sizes there is no Network Direct driver to check and the agent "
			"logs a spurious NdDriverVersion error: set OS.CheckRdmaDriver=n");
	else
		check_add(run, "waagent_rdma", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
}

void check_pcie(struct run *run)
{
	const struct ibup_status *st = run->st;

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];
		char seen[96], expected[96];
		bool full;

		if (d->kind != IBUP_KIND_INFINIBAND && d->kind != IBUP_KIND_ROCE)
			continue;
		if (d->virtual_function == 1) {
			check_add(run, "pcie_link", d->name, IBUP_SKIP, NULL,
				  "virtual function: its link fields are reserved", NULL,
				  NULL);
			continue;
		}
		if (isnan(d->pci_link_speed_gts) || isnan(d->pci_link_max_speed_gts) ||
		    d->pci_link_width < 0 || d->pci_link_max_width < 0) {
			check_add(run, "pcie_link", d->name, IBUP_SKIP, NULL,
				  "link state not readable", NULL, NULL);
			continue;
		}
		snprintf(seen, sizeof(seen), "x%d at %g GT/s", d->pci_link_width,
			 d->pci_link_speed_gts);
		snprintf(expected, sizeof(expected), "x%d at %g GT/s",
			 d->pci_link_max_width, d->pci_link_max_speed_gts);
		full = d->pci_link_width >= d->pci_link_max_width &&
		       d->pci_link_speed_gts >= d->pci_link_max_speed_gts;
		check_add(
			run, "pcie_link", d->name, full ? IBUP_PASS : IBUP_WARN, NULL,
			seen, expected,
			"the HCA's PCIe link trained below its capability and caps its bandwidth: "
			"reseat the card, check the slot and the BIOS PCIe settings");
	}
}

void check_gpudirect(struct run *run)
{
	const struct ibup_expect *x = &run->rep->expect;
	const struct ibup_drivers *dr = &run->st->drivers;

	if (!x->gpudirect || strcmp(x->gpudirect, "nvidia") != 0 || !dr->modules_known)
		return;
	if (check_find_module(dr, "nvidia_peermem") ||
	    check_find_module(dr, "nv_peer_mem"))
		check_add(run, "gpudirect", NULL, IBUP_PASS, NULL,
			  "nvidia_peermem loaded", NULL, NULL);
	else
		check_add(
			run, "gpudirect", NULL, IBUP_FAIL, "NHCNA",
			"nvidia_peermem not loaded",
			"nvidia_peermem loaded (GPUDirect RDMA)",
			"NCCL falls back to staging through host memory: modprobe nvidia_peermem, "
			"and list it in /etc/modules-load.d/nvidia-peermem.conf");
}

/* The newer kernels' modules, from the inventory (lib/inventory/boot.c). */
void check_next_boot(struct run *run)
{
	const struct ibup_boot *b = &run->st->boot;
	char seen[512] = "";
	bool bad = false;

	if (!run->st->drivers.modules_known || !run->st->platform.kernel)
		return;
	if (!b->n_out_of_tree) {
		check_add(run, "next_boot_modules", NULL, IBUP_PASS, NULL,
			  "inbox RDMA modules: every kernel has its own", NULL, NULL);
		return;
	}
	if (!b->newer_known) {
		check_add(run, "next_boot_modules", NULL, IBUP_SKIP, NULL,
			  "no /lib/modules", NULL, NULL);
		return;
	}
	for (unsigned i = 0; i < b->n_newer; i++) {
		size_t off = strlen(seen);

		if (!b->newer[i].missing || !*b->newer[i].missing)
			continue;
		bad = true;
		snprintf(seen + off, sizeof(seen) - off, "%skernel %s lacks %s",
			 off ? "; " : "", b->newer[i].kernel, b->newer[i].missing);
	}
	if (!bad)
		snprintf(seen, sizeof(seen),
			 b->n_newer
				 ? "every newer kernel has the out-of-tree RDMA modules"
				 : "no newer kernel installed");
	check_add(
		run, "next_boot_modules", NULL, bad ? IBUP_WARN : IBUP_PASS, "NHCNA",
		seen, "the loaded out-of-tree modules built for every newer kernel",
		"after a reboot into that kernel the inbox modules (or none) load: build the "
		"OFED modules for it before rebooting (dkms autoinstall -k KERNEL, or reinstall "
		"MLNX_OFED with --add-kernel-support for it)");
}

void check_secure_boot(struct run *run)
{
	const struct ibup_secure_boot *sb = &run->st->boot.secure_boot;
	const struct ibup_drivers *dr = &run->st->drivers;
	char unsig[256] = "";
	size_t off = 0;

	if (!sb->efi || sb->enabled == IBUP_UNKNOWN)
		return; /* not an EFI system, or efivarfs not mounted */
	if (sb->enabled != 1) {
		check_add(run, "secure_boot", NULL, IBUP_PASS, NULL, "Secure Boot off",
			  NULL, NULL);
		return;
	}
	if (!sb->enforcing) {
		check_add(
			run, "secure_boot", NULL, IBUP_PASS, NULL,
			sb->validation_off == 1
				? "Secure Boot on, shim's validation disabled: unsigned modules load"
				: "Secure Boot on, the kernel does not enforce module signatures",
			NULL, NULL);
		return;
	}
	for (unsigned i = 0; i < dr->n_modules; i++)
		if (dr->modules[i].unsigned_module == 1 && off < sizeof(unsig))
			off += (size_t)snprintf(unsig + off, sizeof(unsig) - off, "%s%s",
						off ? " " : "", dr->modules[i].name);
	if (!off) {
		check_add(run, "secure_boot", NULL, IBUP_PASS, NULL,
			  "Secure Boot on; every loaded RDMA module is signed", NULL,
			  NULL);
		return;
	}
	check_add(
		run, "secure_boot", NULL, IBUP_FAIL, "NHCNA", unsig,
		"signed modules (Secure Boot is on)",
		"unsigned modules are refused at the next load: enroll the DKMS signing key "
		"(mokutil --import /var/lib/dkms/mok.pub, then reboot and confirm) or install "
		"signed OFED packages");
}

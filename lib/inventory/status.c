// SPDX-License-Identifier: MIT
/* The inventory: platform facts and every RDMA device, and the contract's names. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

/* Azure sets this DMI chassis asset tag on every VM (also what cloud-init tests). */
#define AZURE_CHASSIS_ASSET_TAG "7783-7084-3265-9085-8269-3286-77"

const char *ibup_port_state_name(enum ibup_port_state s)
{
	static const char *const names[] = { "nop",   "down",	"init",
					     "armed", "active", "active_defer" };

	return (int)s >= 0 && (size_t)s < IBUP_ARRAY_SIZE(names) ? names[s] : NULL;
}

const char *ibup_phys_state_name(enum ibup_phys_state s)
{
	static const char *const names[] = {
		"unknown",
		"sleep",
		"polling",
		"disabled",
		"port_configuration_training",
		"link_up",
		"link_error_recovery",
		"phy_test",
	};

	return (int)s >= 0 && (size_t)s < IBUP_ARRAY_SIZE(names) ? names[s] : NULL;
}

const char *ibup_link_layer_name(enum ibup_link_layer l)
{
	static const char *const names[] = { "unknown", "infiniband", "ethernet" };

	return (int)l >= 0 && (size_t)l < IBUP_ARRAY_SIZE(names) ? names[l] : NULL;
}

const char *ibup_node_type_name(enum ibup_node_type t)
{
	static const char *const names[] = {
		NULL,	"ca",	 "switch",    "router",
		"rnic", "usnic", "usnic_udp", "unspecified"
	};

	return (int)t >= 0 && (size_t)t < IBUP_ARRAY_SIZE(names) ? names[t] : NULL;
}

const char *ibup_gid_type_name(enum ibup_gid_type t)
{
	static const char *const names[] = { "ib", "roce_v1", "roce_v2" };

	return (int)t >= 0 && (size_t)t < IBUP_ARRAY_SIZE(names) ? names[t] : NULL;
}

const char *ibup_device_kind_name(enum ibup_device_kind k)
{
	static const char *const names[] = {
		[IBUP_KIND_OTHER] = "other",
		[IBUP_KIND_INFINIBAND] = "infiniband",
		[IBUP_KIND_ACCELERATED_NETWORKING] = "accelerated_networking",
		[IBUP_KIND_ROCE] = "roce",
		[IBUP_KIND_SOFT_ROCE] = "soft_roce",
		[IBUP_KIND_MANA] = "mana",
		[IBUP_KIND_IWARP] = "iwarp",
	};

	return (int)k >= 0 && (size_t)k < IBUP_ARRAY_SIZE(names) ? names[k] : NULL;
}

static int set_str(char **field, const char *value)
{
	free(*field);
	*field = value ? strdup(value) : NULL;
	return value && !*field ? -ENOMEM : 0;
}

static int read_os_release(struct ibup_ctx *ctx, struct ibup_platform *p)
{
	_cleanup_free_ char *text = NULL;
	int r;

	/* os-release(5): /etc first, then the vendor's copy. */
	r = ibup_read_file(ctx, "etc/os-release", IBUP_CONF_MAX, &text, NULL);
	if (r == -ENOENT)
		r = ibup_read_file(ctx, "usr/lib/os-release", IBUP_CONF_MAX, &text, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		ibup_warn(ctx, "cannot read '/etc/os-release': %s", strerror(-r));
		return 0;
	}
	if (ibup_os_release_value(text, "ID", &p->os_id) == -ENOMEM ||
	    ibup_os_release_value(text, "VERSION_ID", &p->os_version) == -ENOMEM ||
	    ibup_os_release_value(text, "PRETTY_NAME", &p->os_name) == -ENOMEM)
		return -ENOMEM;
	return 0;
}

static bool attr_is(struct ibup_ctx *ctx, const char *path, const char *value)
{
	char buf[256];

	return ibup_read_attr(ctx, buf, sizeof(buf), "%s", path) >= 0 &&
	       strcmp(buf, value) == 0;
}

/* Whether the CPU says it runs under a hypervisor: 1, 0, or -1 when unknown. */
static int cpu_hypervisor_flag(struct ibup_ctx *ctx)
{
	_cleanup_fclose_ FILE *f = NULL;
	char line[8192];
	unsigned lines = 0;

	if (ibup_open_file(ctx, "proc/cpuinfo", &f) < 0)
		return -1;
	/* /proc/cpuinfo is long on big hosts: the first flags line comes within the first
	 * processor's block, so a few dozen lines (bounded, for a hostile file) suffice. */
	while (lines++ < 256 && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		return strstr(line, " hypervisor") ? 1 : 0;
	}
	return -1;
}

static int read_virt(struct ibup_ctx *ctx, struct ibup_platform *p)
{
	char vendor[256] = "", product[256] = "";
	const char *hv = NULL;

	ibup_read_attr(ctx, vendor, sizeof(vendor), "sys/class/dmi/id/sys_vendor");
	ibup_read_attr(ctx, product, sizeof(product), "sys/class/dmi/id/product_name");
	if (ibup_path_exists(ctx, "sys/bus/vmbus") > 0 ||
	    (strcmp(vendor, "Microsoft Corporation") == 0 &&
	     strcmp(product, "Virtual Machine") == 0))
		hv = "hyperv";
	else if (strcmp(vendor, "QEMU") == 0 || strstr(product, "KVM"))
		hv = "kvm";
	else if (strcmp(vendor, "Xen") == 0 || attr_is(ctx, "sys/hypervisor/type", "xen"))
		hv = "xen";
	else if (strcmp(vendor, "VMware, Inc.") == 0)
		hv = "vmware";
	else if (cpu_hypervisor_flag(ctx) == 0)
		hv = "none";
	if (set_str(&p->hypervisor, hv) < 0)
		return -ENOMEM;
	if (attr_is(ctx, "sys/class/dmi/id/chassis_asset_tag", AZURE_CHASSIS_ASSET_TAG))
		return set_str(&p->cloud, "azure");
	return 0;
}

int ibup_platform_read(struct ibup_ctx *ctx, struct ibup_platform *ret_platform)
{
	struct ibup_platform p = { 0 };
	char buf[256];
	int r;

	r = read_os_release(ctx, &p);
	/* The release names a directory (lib/modules) but is shown: sanitized. */
	if (r >= 0 &&
	    ibup_read_attr(ctx, buf, sizeof(buf), "proc/sys/kernel/osrelease") > 0)
		r = set_str(&p.kernel, ibup_sanitize(buf));
	if (r >= 0)
		r = read_virt(ctx, &p);
	if (r < 0) {
		ibup_platform_release(&p);
		return r;
	}
	*ret_platform = p;
	return 0;
}

void ibup_platform_release(struct ibup_platform *p)
{
	if (!p)
		return;
	free(p->os_id);
	free(p->os_version);
	free(p->os_name);
	free(p->kernel);
	free(p->hypervisor);
	free(p->cloud);
	free(p->vm_size);
	memset(p, 0, sizeof(*p));
}

int ibup_status_read(struct ibup_ctx *ctx, unsigned flags,
		     struct ibup_status **ret_status)
{
	_cleanup_close_ int classfd = -1;
	struct ibup_status *st;
	char **names = NULL;
	unsigned n = 0;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	r = ibup_platform_read(ctx, &st->platform);
	if (r < 0) {
		free(st);
		return r;
	}
	/* Absent means no RDMA device; present but unreadable means not known. */
	classfd = ibup_open_dir(ctx, "sys/class/infiniband");
	if (classfd >= 0) {
		r = ibup_list_dir_at(classfd, IBUP_MAX_DEVICES, &names, &n);
		if (r == -ENOMEM) {
			ibup_status_free(st);
			return r;
		}
		if (r < 0) {
			ibup_warn(ctx, "cannot list '/sys/class/infiniband': %s",
				  strerror(-r));
			st->devices_error = r;
		} else if (r > 0) {
			ibup_warn(
				ctx,
				"more than %u entries in '/sys/class/infiniband'; the rest "
				"are left out",
				IBUP_MAX_DEVICES);
		}
	} else if (classfd != -ENOENT) {
		ibup_warn(ctx, "cannot open '/sys/class/infiniband': %s",
			  strerror(-classfd));
		st->devices_error = classfd;
	}
	r = 0;
	st->devices = calloc(n ? n : 1, sizeof(*st->devices));
	if (!st->devices) {
		ibup_strv_free(names, n);
		ibup_status_free(st);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		r = ibup_device_read(ctx, names[i], flags, &st->devices[st->n_devices]);
		if (r < 0)
			break;
		st->n_unreadable += st->devices[st->n_devices].unreadable;
		st->n_devices++;
	}
	ibup_strv_free(names, n);
	if (r < 0) {
		ibup_status_free(st);
		return r;
	}
	r = ibup_drivers_read(ctx, st->platform.kernel, &st->drivers);
	if (r >= 0)
		r = ibup_ipoib_read(ctx, st, &st->ipoib, &st->n_ipoib);
	if (r >= 0)
		r = ibup_limits_read(ctx, &st->limits);
	if (r >= 0)
		r = ibup_boot_read(ctx, st->platform.kernel, &st->drivers, &st->boot);
	if (r < 0) {
		ibup_status_free(st);
		return r;
	}
	*ret_status = st;
	return 0;
}

struct ibup_status *ibup_status_free(struct ibup_status *st)
{
	if (!st)
		return NULL;
	ibup_platform_release(&st->platform);
	ibup_drivers_release(&st->drivers);
	ibup_boot_release(&st->boot);
	ibup_ipoib_free(st->ipoib, st->n_ipoib);
	for (unsigned i = 0; i < st->n_devices; i++)
		ibup_device_release(&st->devices[i]);
	free(st->devices);
	free(st);
	return NULL;
}

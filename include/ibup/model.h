// SPDX-License-Identifier: MIT
/*
 * The model of a host: devices, ports, platform, RDMA drivers, IPoIB interfaces and
 * memory lock limits, and ibup_status_read() that takes the whole inventory.
 */
#ifndef IBUP_MODEL_H
#define IBUP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibup/ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Port state, with the kernel's numbers (ib_verbs.h enum ib_port_state). */
enum ibup_port_state {
	IBUP_PORT_STATE_UNREAD = IBUP_UNKNOWN,
	IBUP_PORT_NOP = 0,
	IBUP_PORT_DOWN = 1,
	IBUP_PORT_INIT = 2,
	IBUP_PORT_ARMED = 3,
	IBUP_PORT_ACTIVE = 4,
	IBUP_PORT_ACTIVE_DEFER = 5,
};

/* Physical port state, with the kernel's numbers (0 is what the kernel calls unknown). */
enum ibup_phys_state {
	IBUP_PHYS_STATE_UNREAD = IBUP_UNKNOWN,
	IBUP_PHYS_UNKNOWN = 0,
	IBUP_PHYS_SLEEP = 1,
	IBUP_PHYS_POLLING = 2,
	IBUP_PHYS_DISABLED = 3,
	IBUP_PHYS_PORT_CONFIGURATION_TRAINING = 4,
	IBUP_PHYS_LINK_UP = 5,
	IBUP_PHYS_LINK_ERROR_RECOVERY = 6,
	IBUP_PHYS_PHY_TEST = 7,
};

enum ibup_link_layer {
	IBUP_LINK_LAYER_UNREAD = IBUP_UNKNOWN,
	IBUP_LINK_LAYER_UNKNOWN = 0,
	IBUP_LINK_LAYER_INFINIBAND = 1,
	IBUP_LINK_LAYER_ETHERNET = 2,
};

/* Node type, with the kernel's numbers (rdma_node_type + 1, as sysfs prints it). */
enum ibup_node_type {
	IBUP_NODE_UNREAD = IBUP_UNKNOWN,
	IBUP_NODE_CA = 1,
	IBUP_NODE_SWITCH = 2,
	IBUP_NODE_ROUTER = 3,
	IBUP_NODE_RNIC = 4,
	IBUP_NODE_USNIC = 5,
	IBUP_NODE_USNIC_UDP = 6,
	IBUP_NODE_UNSPECIFIED = 7,
};

enum ibup_gid_type {
	IBUP_GID_TYPE_UNREAD = IBUP_UNKNOWN,
	IBUP_GID_IB = 0, /* "IB/RoCE v1" on an InfiniBand port */
	IBUP_GID_ROCE_V1 = 1, /* "IB/RoCE v1" on an Ethernet port */
	IBUP_GID_ROCE_V2 = 2,
};

/* What a device is, decided from facts (link layer, PCI ids, driver, platform). */
enum ibup_device_kind {
	IBUP_KIND_OTHER = 0,
	IBUP_KIND_INFINIBAND,
	IBUP_KIND_ACCELERATED_NETWORKING,
	IBUP_KIND_ROCE,
	IBUP_KIND_SOFT_ROCE,
	IBUP_KIND_MANA,
	IBUP_KIND_IWARP,
};

/* Lower-case names as the JSON contract spells them; NULL for the UNREAD values. */
const char *ibup_port_state_name(enum ibup_port_state s);
const char *ibup_phys_state_name(enum ibup_phys_state s);
const char *ibup_link_layer_name(enum ibup_link_layer l);
const char *ibup_node_type_name(enum ibup_node_type t);
const char *ibup_gid_type_name(enum ibup_gid_type t);
const char *ibup_device_kind_name(enum ibup_device_kind k);

struct ibup_gid {
	unsigned index;
	char gid[40]; /* kernel notation: 8 groups of 4 hex digits */
	enum ibup_gid_type type;
	char *netdev; /* RoCE: the netdev the GID belongs to; NULL otherwise */
};

/* One counter file: a name as the kernel spells it, and its value. */
struct ibup_counter {
	char *name;
	uint64_t value;
};

struct ibup_port {
	unsigned num;
	enum ibup_port_state state;
	enum ibup_phys_state phys_state;
	double rate_gbps; /* NAN when unknown */
	char width[8]; /* "4X"; empty when unknown */
	char speed[16]; /* "HDR", "FDR10"; empty when unknown */
	enum ibup_link_layer link_layer;
	int64_t lid, sm_lid, lmc; /* IBUP_UNKNOWN when unread or not InfiniBand */
	char *port_guid; /* InfiniBand: the interface id of GID 0; NULL otherwise */
	uint16_t *pkeys; /* non-zero entries, in table order (see ibup_port_read) */
	unsigned n_pkeys;
	int32_t tenant_pkey; /* IBUP_UNKNOWN when there is none */
	int32_t tenant_pkey_index; /* its index in the pkey table; IBUP_UNKNOWN likewise */
	struct ibup_gid *gids; /* non-zero entries, by index */
	unsigned n_gids;
	char *netdev; /* the port's network interface, NULL when none */
	/* counters/ (PMA PortCounters; data counters count 4-byte units) and hw_counters/. */
	struct ibup_counter *counters, *hw_counters;
	unsigned n_counters, n_hw_counters;
	bool has_counters, has_hw_counters; /* the directory exists */
};

struct ibup_device {
	char *name;
	enum ibup_device_kind kind;
	char *driver; /* kernel driver of the underlying device ("mlx5_core", "rdma_rxe") */
	enum ibup_node_type node_type;
	char *fw_ver, *node_guid, *sys_image_guid, *board_id, *hca_type, *hw_rev;
	char *pci_address; /* "0101:00:00.0"; NULL for virtual devices */
	int32_t pci_vendor_id, pci_device_id; /* IBUP_UNKNOWN when not PCI */
	int32_t numa_node; /* IBUP_UNKNOWN when the platform has none */
	int virtual_function; /* 1, 0, or IBUP_UNKNOWN */
	/* PCIe link (physical functions; a VF's link fields are reserved): NAN/UNKNOWN */
	double pci_link_speed_gts, pci_link_max_speed_gts;
	int32_t pci_link_width, pci_link_max_width;
	struct ibup_port *ports; /* by port number */
	unsigned n_ports;
	bool unreadable; /* its directory or ports/ exist but could not be read */
};

struct ibup_platform {
	char *os_id, *os_version, *os_name; /* os-release ID, VERSION_ID, PRETTY_NAME */
	char *kernel; /* kernel release */
	char *hypervisor; /* "hyperv", "kvm", "xen", "vmware", "none"; NULL when unknown */
	char *cloud; /* "azure"; NULL when none is recognised */
	char *vm_size; /* e.g. "Standard_HB120rs_v3"; NULL when unknown */
};

/* A loaded kernel module of the RDMA stack. */
struct ibup_module {
	char *name;
	char *version; /* MODULE_VERSION (set by MLNX_OFED/DOCA builds), NULL otherwise */
	int out_of_tree; /* taint flag O: not built with the kernel (OFED, DKMS) */
	int unsigned_module; /* taint flag E: not signed with a trusted key */
	char *path; /* where modprobe finds it, relative to /lib/modules/<kernel>/ */
	int dkms; /* installed by DKMS (under updates/dkms/) */
};

struct ibup_drivers {
	struct ibup_module *modules; /* loaded RDMA modules, by name */
	unsigned n_modules;
	bool modules_known; /* /proc/modules could be read */
	int64_t uverbs_abi_version, umad_abi_version; /* IBUP_UNKNOWN when absent */
	char *ofed_flavor; /* "mlnx_ofed" or "doca_ofed"; NULL when neither is installed */
	char *ofed_version; /* "24.07-0.6.1.0" */
	char *rdma_core_version; /* from libibverbs' file name, e.g. "44.0" */
};

/* An IPoIB network interface. */
struct ibup_ipoib {
	char *name;
	char *device; /* RDMA device and port it runs on; NULL/0 when not found */
	unsigned port;
	char *hw_address; /* 20 bytes: QPN flags, QPN, GID */
	char *port_guid; /* the GUID the hardware address carries */
	int32_t pkey; /* IBUP_UNKNOWN when unread */
	int64_t mtu;
	char *mode; /* "datagram" or "connected" */
	char *operstate; /* "up", "down", ... */
	bool ipv4_known; /* addresses are read through rtnetlink on the live system only */
	char **ipv4; /* "172.16.1.9/16", sorted */
	unsigned n_ipv4;
};

/* Memory lock limits in bytes; IBUP_UNLIMITED; IBUP_UNKNOWN when not known. */
#define IBUP_UNLIMITED INT64_MAX
struct ibup_limits {
	int64_t memlock_soft, memlock_hard; /* this process's (live system only) */
	int64_t memlock_configured; /* pam_limits: limits.conf and limits.d for "*" */
	int64_t memlock_configured_hard;
	int64_t memlock_systemd; /* systemd's DefaultLimitMEMLOCK (soft), for services */
};

/**
 * ibup_format_limit() - a limit for people: "unlimited", "not set", "64 KiB", "8 MiB"
 * @v: bytes, IBUP_UNLIMITED, or IBUP_UNKNOWN
 * @buf: where the text goes
 * @size: size of @buf
 */
void ibup_format_limit(int64_t v, char *buf, size_t size);

/* Whether the kernel will refuse unsigned modules, and the facts that decide it. */
struct ibup_secure_boot {
	bool efi; /* an EFI system with readable variables (efivarfs) */
	int enabled; /* the firmware's SecureBoot variable: 1, 0, IBUP_UNKNOWN */
	int validation_off; /* shim's MokSBStateRT: 1 when MOK validation is disabled */
	char *lockdown; /* the kernel's lockdown in force: "none", "integrity", ... */
	int sig_enforce; /* module.sig_enforce: 1, 0, IBUP_UNKNOWN */
	/* The outcome: unsigned modules are refused at load (the kernel's state when it
	 * can be read, else Secure Boot on and shim validating). */
	bool enforcing;
};

/* A kernel newer than the running one, as the next boot may pick it. */
struct ibup_next_kernel {
	char *kernel; /* its release, as named under /lib/modules */
	char *missing; /* out-of-tree RDMA modules loaded now that it lacks ("" none);
			  NULL when its modules.dep could not be read */
};

struct ibup_boot {
	struct ibup_secure_boot secure_boot;
	unsigned n_out_of_tree; /* loaded RDMA modules that are not the kernel's own */
	bool newer_known; /* /lib/modules could be listed */
	struct ibup_next_kernel *newer; /* in version order */
	unsigned n_newer;
};

struct ibup_status {
	struct ibup_platform platform;
	struct ibup_boot boot; /* Secure Boot, and the kernels the next boot may pick */
	struct ibup_drivers drivers;
	struct ibup_ipoib *ipoib; /* sorted by name */
	unsigned n_ipoib;
	struct ibup_limits limits;
	struct ibup_device *devices; /* sorted by name */
	unsigned n_devices;
	/*
	 * Unreadable is not absent: sys/class/infiniband exists but could not be listed
	 * (a negative errno; 0 when listed or absent), and the devices whose directory or
	 * ports/ exist but could not be read. Either way, "no RDMA device" is not known.
	 */
	int devices_error;
	unsigned n_unreadable;
};

/* What ibup_status_read() reads beyond the default inventory. */
enum ibup_status_flags {
	/*
	 * Port counters (counters/, hw_counters/). Off by default: on hardware every
	 * counters/ file is a performance-management query to the HCA's firmware.
	 */
	IBUP_STATUS_COUNTERS = 1 << 0,
};

/**
 * ibup_status_read() - take the inventory of the host under the context's root
 * @ctx: library context
 * @flags: enum ibup_status_flags
 * @ret_status: the inventory, owned by the caller; free with ibup_status_free()
 *
 * Attributes that cannot be read or parsed are left unknown and reported once
 * through the log callback; only a failure to allocate ends the inventory.
 *
 * Return: 0, or -ENOMEM.
 */
int ibup_status_read(struct ibup_ctx *ctx, unsigned flags,
		     struct ibup_status **ret_status);

/**
 * ibup_status_free() - release an inventory
 * @st: the inventory, or NULL
 *
 * Return: NULL.
 */
struct ibup_status *ibup_status_free(struct ibup_status *st);

/**
 * ibup_platform_read() - read OS, kernel and hypervisor facts
 * @ctx: library context
 * @ret_platform: filled on success; release with ibup_platform_release()
 *
 * Return: 0, or -ENOMEM.
 */
int ibup_platform_read(struct ibup_ctx *ctx, struct ibup_platform *ret_platform);
void ibup_platform_release(struct ibup_platform *p);

/**
 * ibup_tenant_pkey() - the partition key an MPI job should use
 * @pkeys: the port's pkey table entries (index order)
 * @n: number of entries
 *
 * Azure's rule: the larger of entries 0 and 1, considering only keys that are not the
 * defaults 0x7fff/0xffff (nor empty).
 *
 * Return: the tenant key, or IBUP_UNKNOWN when the port has none.
 */
int32_t ibup_tenant_pkey(const uint16_t *pkeys, unsigned n);

#ifdef __cplusplus
}
#endif

#endif

// SPDX-License-Identifier: MIT
/*
 * libibup: the model of a host's RDMA devices, ports and platform, read from sysfs,
 * procfs and /etc under a chosen root. The library never prints and never exits;
 * it reports problems through return codes and the context's log callback.
 */
#ifndef IBUP_IBUP_H
#define IBUP_IBUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the JSON documents the CLI emits; keys are only ever added. */
#define IBUP_SCHEMA_VERSION 1

/* Numeric fields that could not be read or do not apply hold this value. */
#define IBUP_UNKNOWN (-1)

/* Bounds on what a host controls (see docs/STYLE.md, "Memory and resources"). */
#define IBUP_ATTR_MAX 4096 /* one sysfs attribute */
#define IBUP_CONF_MAX (1024 * 1024) /* one configuration file */
#define IBUP_MAX_DEVICES 4096 /* RDMA devices considered */
#define IBUP_MAX_PORTS 256 /* ports per device */
#define IBUP_MAX_TABLE 4096 /* gid or pkey table entries per port */
#define IBUP_MAX_COUNTERS 256 /* counter files per port directory */
#define IBUP_MAX_NETDEVS 16384 /* network interfaces considered */

struct ibup_ctx;

/* Where a parse error is: 1-based line and column (0 when not known), and what. */
struct ibup_diag {
	unsigned line, column;
	char msg[128];
};

enum ibup_log_level {
	IBUP_LOG_ERR = 3,
	IBUP_LOG_WARNING = 4,
	IBUP_LOG_INFO = 6,
	IBUP_LOG_DEBUG = 7,
};

/* Receives each diagnostic the library emits, as one line without a newline. */
typedef void ibup_log_fn(void *userdata, enum ibup_log_level level, const char *msg);

/**
 * ibup_ctx_new() - create a library context
 * @root: directory that stands for "/" (NULL or "/" for the running system)
 * @ret_ctx: the new context, owned by the caller; free with ibup_ctx_free()
 *
 * Every file the library reads or writes is resolved under @root, with symlinks
 * (absolute or relative) kept inside it.
 *
 * Return: 0, or a negative errno (-ENOTDIR, -ENOENT, -EACCES if @root cannot be opened).
 */
int ibup_ctx_new(const char *root, struct ibup_ctx **ret_ctx);

/**
 * ibup_ctx_free() - release a context
 * @ctx: the context, or NULL
 *
 * Return: NULL.
 */
struct ibup_ctx *ibup_ctx_free(struct ibup_ctx *ctx);

/**
 * ibup_ctx_get_root() - the root the context reads under
 * @ctx: library context
 *
 * Return: the root as given to ibup_ctx_new() ("/" by default); borrowed.
 */
const char *ibup_ctx_get_root(const struct ibup_ctx *ctx);

/**
 * ibup_ctx_is_live() - whether the context reads the running system
 * @ctx: library context
 *
 * Facts that only the running kernel knows (netlink, the process's own limits) are
 * read only when this is true; under another root they are reported unknown.
 *
 * Return: true when the root is "/".
 */
bool ibup_ctx_is_live(const struct ibup_ctx *ctx);

/**
 * ibup_ctx_set_log_fn() - route diagnostics to a callback
 * @ctx: library context
 * @fn: callback, or NULL to drop diagnostics
 * @userdata: passed to @fn
 * @max_level: the least important level delivered (IBUP_LOG_WARNING by default)
 */
void ibup_ctx_set_log_fn(struct ibup_ctx *ctx, ibup_log_fn *fn, void *userdata,
			 enum ibup_log_level max_level);

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

struct ibup_status {
	struct ibup_platform platform;
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
 * ibup_imds_vm_size() - ask Azure's instance metadata service for the VM size
 * @ctx: library context
 * @base_url: "http://169.254.169.254" when NULL; tests give a loopback server's
 * @ret_size: the size ("Standard_HB120rs_v3"), owned by the caller
 * @err: on failure, one line saying why (no answer, HTTP 429, not JSON, ...)
 * @err_size: size of @err
 *
 * Loads libcurl on first use. No proxy, a 1.5 s limit, at most 256 KiB of answer.
 *
 * Return: 0, or a negative errno (-ELIBACC when libcurl is missing).
 */
int ibup_imds_vm_size(struct ibup_ctx *ctx, const char *base_url, char **ret_size,
		      char *err, size_t err_size);

/* What a VM size should have (data/expect.json, /etc/ibup/expect.d/). */
struct ibup_expect {
	char *family; /* "HBv3" */
	char *pattern; /* the pattern that matched */
	char *source; /* "built-in", or the admin's file */
	int32_t ib_hcas; /* IBUP_UNKNOWN when not stated */
	double ib_rate_gbps, an_rate_gbps, bw_threshold_gbps; /* NAN when not stated */
	int ipoib; /* 1, 0, IBUP_UNKNOWN */
	char *gpudirect; /* "nvidia", "amd", or NULL */
	char *arch;
	bool retired;
	int sriov; /* 0: Network Direct, no HCA in the guest */
	char *note;
};

/**
 * ibup_expect_lookup() - find what @vm_size should have
 * @ctx: library context
 * @vm_size: e.g. "Standard_HB120rs_v3" (matched case-insensitively)
 * @ret: filled when found; release with ibup_expect_release()
 *
 * Admin files (the .json files of etc/ibup/expect.d under the root, in name order) come first,
 * then the built-in table. A malformed admin file is reported and skipped.
 *
 * Return: 1 when found, 0 when the size is unknown, or a negative errno.
 */
int ibup_expect_lookup(struct ibup_ctx *ctx, const char *vm_size,
		       struct ibup_expect *ret);
void ibup_expect_release(struct ibup_expect *x);

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

/* Files: the one atomic writer. */

/**
 * ibup_file_replace() - replace a file's content atomically, under the root
 * @ctx: library context
 * @path: path relative to the root, without a leading slash
 * @data: new content
 * @len: its length
 * @mode: permission bits for a new file; an existing file keeps its mode and owner
 *
 * Writes "<path>.ibup-lock" beside the file (created exclusively, which is also the
 * lock), fsyncs it, renames it over @path and fsyncs the directory. The first time an
 * existing file is changed, its old content is kept as "<path>.ibup-orig". Nothing is
 * written when the content is already @data.
 *
 * Return: 1 if the file changed, 0 if it already had this content, or a negative
 * errno (-EBUSY when another writer holds the lock).
 */
int ibup_file_replace(struct ibup_ctx *ctx, const char *path, const void *data,
		      size_t len, unsigned mode);

/**
 * ibup_path_exists() - whether a path exists under the root
 * @ctx: library context
 * @fmt: printf-style path relative to the root (symlinks followed inside it)
 *
 * Return: 1 if it exists, 0 if not, or a negative errno.
 */
int ibup_path_exists(struct ibup_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * ibup_file_remove() - remove a file under the root
 * @ctx: library context
 * @path: path relative to the root
 *
 * Return: 1 when removed, 0 when it was not there, or a negative errno.
 */
int ibup_file_remove(struct ibup_ctx *ctx, const char *path);

/**
 * ibup_mkdir_p() - create a directory and its parents under the root
 * @ctx: library context
 * @path: path relative to the root
 * @mode: mode of the directories created
 *
 * Return: 0, or a negative errno.
 */
int ibup_mkdir_p(struct ibup_ctx *ctx, const char *path, unsigned mode);

/* Processes: the one spawner. */

struct ibup_spawn_result {
	int exit_code; /* exit status, 128+signal when killed, -1 when timed out */
	bool timed_out;
	char *out; /* captured stdout, NUL-terminated, at most out_max bytes */
	size_t out_len;
	char *err; /* captured stderr, likewise */
	size_t err_len;
	bool truncated; /* output exceeded the bound and was cut */
};

/**
 * ibup_spawn() - run a program with an argv array, capture its output, bound its time
 * @argv: program and arguments, NULL-terminated; argv[0] is looked up in PATH
 * @timeout_ms: wall-clock limit; the process group is killed when it passes (0: none)
 * @out_max: bound on each of stdout and stderr kept (0: 1 MiB)
 * @ret_result: filled on success; release with ibup_spawn_result_release()
 *
 * No shell is involved. The child gets /dev/null as stdin and its own process group.
 *
 * Return: 0 when the program ran (whatever its exit status), or a negative errno
 * (-ENOENT when it does not exist).
 */
int ibup_spawn(const char *const argv[], unsigned timeout_ms, size_t out_max,
	       struct ibup_spawn_result *ret_result);
void ibup_spawn_result_release(struct ibup_spawn_result *r);

/* IPoIB addresses from the platform. */
enum ibup_target_state {
	/* No interface carries the MAC (not yet, or stale data after a redeploy). */
	IBUP_TARGET_NO_INTERFACE = 0,
	/* Sysfs names one, but the running kernel has no interface of that name. */
	IBUP_TARGET_NOT_IN_KERNEL,
	IBUP_TARGET_TO_ADD, /* the interface lacks the address */
	IBUP_TARGET_PRESENT, /* the interface has it already */
	IBUP_TARGET_APPLIED, /* added by this run */
	IBUP_TARGET_FAILED, /* the kernel refused (see error) */
};
const char *ibup_target_state_name(enum ibup_target_state s);

struct ibup_ipoib_target {
	char mac[18]; /* "00:15:5d:33:ff:0b" */
	char ipv4[16];
	char *netdev; /* the interface carrying the MAC, NULL when none */
	enum ibup_target_state state;
	int error; /* errno when failed */
};

struct ibup_ipoib_plan {
	char *source; /* "kvp", "sharedconfig", or NULL: the platform gave no address */
	bool network_direct; /* NdDriverVersion in the pool: a non-SR-IOV size */
	char *nd_driver_version;
	/* After apply on a Network Direct size: the address given to the driver
	 * (/dev/hvnd_rdma; errno in nd_device when that failed) and the dat.conf set. */
	bool nd_device_written;
	int nd_device;
	char *nd_dat_conf;
	unsigned prefix_len;
	struct ibup_ipoib_target *targets; /* in the platform's order */
	unsigned n;
};

/**
 * ibup_ipoib_plan_read() - what the platform says each IPoIB interface should have
 * @ctx: library context (the KVP pool and sysfs are read under its root)
 * @prefix_len: prefix length of the addresses (Azure: 16)
 * @ret: the plan, owned by the caller; free with ibup_ipoib_plan_free()
 * @reterr_diag: on -EBADMSG, what is wrong with the platform's data
 *
 * Interfaces are matched by hardware address (an IPoIB address's port GUID, or a plain
 * MAC); their current addresses are read from the running kernel.
 *
 * Return: 0, -EBADMSG for malformed platform data, or another negative errno.
 */
int ibup_ipoib_plan_read(struct ibup_ctx *ctx, unsigned prefix_len,
			 struct ibup_ipoib_plan **ret, struct ibup_diag *reterr_diag);
/**
 * ibup_ipoib_apply() - bring the interfaces up and add the missing addresses
 * @ctx: library context
 * @plan: from ibup_ipoib_plan_read(); targets' states are updated
 * @wait_s: how long to wait for interfaces that are not there yet
 *
 * Changes the running kernel through rtnetlink; never removes an address.
 *
 * Return: 0 (see each target's state), or a negative errno.
 */
int ibup_ipoib_apply(struct ibup_ctx *ctx, struct ibup_ipoib_plan *plan, unsigned wait_s);
struct ibup_ipoib_plan *ibup_ipoib_plan_free(struct ibup_ipoib_plan *plan);

/**
 * ibup_waagent_conf_set() - set one key of /etc/waagent.conf (under the root)
 * @ctx: library context
 * @key: e.g. "OS.EnableRDMA"
 * @value: e.g. "y"
 * @dry_run: compute the change, write nothing
 *
 * Changes only that line (a commented default is uncommented in place), atomically,
 * keeping a one-time waagent.conf.ibup-orig.
 *
 * Return: 1 when the file changes (or would), 0 when it already says so, or -errno.
 */
int ibup_waagent_conf_set(struct ibup_ctx *ctx, const char *key, const char *value,
			  bool dry_run);

/**
 * ibup_waagent_version_check() - the Azure agent's daemon version and its known IPoIB bugs
 * @output: what `waagent --version` printed
 * @ret_version: the daemon's version ("2.9.1.1")
 * @version_size: size of @ret_version
 * @ret_problem: a sentence about a version known to break IPoIB, or NULL
 *
 * Return: 0, -ENOENT when @output names no version, -EINVAL when it is malformed.
 */
int ibup_waagent_version_check(const char *output, char *ret_version, size_t version_size,
			       const char **ret_problem);

/**
 * ibup_conf_file_value() - the value of @key in a "Key=Value" file under the root
 * @ctx: library context
 * @path: relative to the root, e.g. "etc/waagent.conf.ibup-orig"
 * @key: the key, matched case-insensitively
 * @ret_value: the last uncommented value, owned by the caller
 *
 * Return: 0, -ENOENT when the file or the key is absent, or another negative errno.
 */
int ibup_conf_file_value(struct ibup_ctx *ctx, const char *path, const char *key,
			 char **ret_value);

/* Health checks. */
enum ibup_verdict {
	IBUP_FAIL = 0, /* in the order reports list them */
	IBUP_WARN,
	IBUP_PASS,
	IBUP_SKIP,
};
const char *ibup_verdict_name(enum ibup_verdict v); /* "fail", "warn", "pass", "skip" */

struct ibup_check {
	const char *id; /* "port_state"; static */
	char *subject; /* "mlx5_ib0/1", "mlx5_ib0", or NULL for the node */
	enum ibup_verdict verdict;
	char *seen, *expected, *fix; /* fix is NULL unless something is wrong */
	const char *nhc_code; /* Azure NHC fault code ("NHC2004") or NULL; static */
};

struct ibup_check_opts {
	double expect_rate_gbps; /* overrides the size's (NAN: none) */
	int32_t expect_hcas; /* overrides the size's (IBUP_UNKNOWN: none) */
	/*
	 * Where the error-counter baseline lives, on the host running ibup (not under
	 * the context's root); NULL keeps no state and only looks for saturated counters.
	 */
	const char *state_dir;
	/*
	 * The loopback bandwidth check (`check --bench`): when set, called once per active
	 * InfiniBand port to measure RDMA write bandwidth on it; fills *ret_gbps, or
	 * returns a negative errno with @err saying why. The result is judged against the
	 * size's bw_threshold_gbps (or bench_threshold_gbps when not NAN). NULL: not run.
	 */
	int (*bench)(void *data, const char *device, unsigned port, double *ret_gbps,
		     char *err, size_t err_size);
	void *bench_data;
	double bench_threshold_gbps;
};

struct ibup_check_report {
	struct ibup_check *checks; /* in the order they ran */
	unsigned n;
	bool fabric; /* an InfiniBand device is present */
	bool fabric_expected; /* the VM size says there should be one */
	bool expect_found;
	struct ibup_expect expect;
};

/**
 * ibup_check_run() - judge an inventory against what the node should have
 * @ctx: library context
 * @st: the inventory (read with IBUP_STATUS_COUNTERS for the error-counter check)
 * @opts: overrides and the state directory
 * @ret: the report, owned by the caller; free with ibup_check_report_free()
 *
 * Return: 0, or -ENOMEM.
 */
int ibup_check_run(struct ibup_ctx *ctx, const struct ibup_status *st,
		   const struct ibup_check_opts *opts, struct ibup_check_report **ret);
struct ibup_check_report *ibup_check_report_free(struct ibup_check_report *r);

#ifdef __cplusplus
}
#endif

#endif

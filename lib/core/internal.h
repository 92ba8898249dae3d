// SPDX-License-Identifier: MIT
/* Private declarations of libibup, shared by its modules and its unit tests. */
#ifndef IBUP_INTERNAL_H
#define IBUP_INTERNAL_H

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>

#include "ibup/ibup.h"
#include "macro.h"

struct ibup_curl;

struct ibup_ctx {
	char *root; /* as given, normalised: "/" or a path without trailing slash */
	int root_fd;
	bool live;
	ibup_log_fn *log_fn;
	void *log_data;
	enum ibup_log_level log_max;
	/* Messages already delivered, so that one cause is reported once per run. */
	char **seen;
	unsigned n_seen;
	struct ibup_curl *curl; /* libcurl, loaded on first use */
	/* The state directory's lock while ibup_plan_lock() holds it for several plans;
	 * -1 otherwise. */
	int lock_fd;
};

/* Diagnostics. */
void ibup_log(struct ibup_ctx *ctx, enum ibup_log_level level, const char *fmt, ...)
	_printf_(3, 4);
#define ibup_warn(ctx, ...) ibup_log(ctx, IBUP_LOG_WARNING, __VA_ARGS__)
#define ibup_debug(ctx, ...) ibup_log(ctx, IBUP_LOG_DEBUG, __VA_ARGS__)

/*
 * The attribute reader. Paths are relative to the root (no leading slash) and are
 * resolved inside it. Attributes are small text files: the content is read whole into
 * @buf (NUL-terminated, one trailing newline removed). Errors: -EOVERFLOW when the file
 * does not fit (never truncated), -EBADMSG when it holds a NUL byte, -EINVAL when it is
 * not a regular file, or the errno of open/read.
 *
 * The _at variants resolve @name beneath an open directory and never leave it.
 */
int ibup_read_attr(struct ibup_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
	_printf_(4, 5);
int ibup_read_attr_at(int dirfd, char *buf, size_t size, const char *name);
int ibup_open_dir(struct ibup_ctx *ctx, const char *fmt, ...) _printf_(2, 3);
int ibup_open_dir_at(int dirfd, const char *name);
/* Target of a symlink, as stored (readlink), NUL-terminated. */
int ibup_read_link(struct ibup_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
	_printf_(4, 5);
/* A regular file under the root, opened for reading with stdio. */
int ibup_open_file(struct ibup_ctx *ctx, const char *path, FILE **ret_file);
/*
 * A bounded whole-file read (configuration files): -EFBIG past @max bytes.
 * *ret_data is NUL-terminated and owned by the caller.
 */
int ibup_read_file(struct ibup_ctx *ctx, const char *path, size_t max, char **ret_data,
		   size_t *ret_len);
/*
 * The names in a directory (not "." and ".."), sorted in version order (mlx5_2 before
 * mlx5_10). Returns 0, or 1 when there were more than @max entries and only @max were
 * kept, or a negative errno. The array and its strings are owned by the caller; free
 * with ibup_strv_free().
 */
int ibup_list_dir_at(int dirfd, unsigned max, char ***ret_names, unsigned *ret_n);
/*
 * The same, reporting a failure or a cut listing once through the log (with the path
 * @fmt names, relative to the root). Returns 0 (an empty listing after a failure) or
 * -ENOMEM.
 */
int ibup_list_dir_logged(struct ibup_ctx *ctx, int dirfd, unsigned max, char ***ret_names,
			 unsigned *ret_n, const char *fmt, ...) _printf_(6, 7);
char **ibup_strv_free(char **v, unsigned n);

/*
 * The code point of the UTF-8 sequence at @s and its length (1..4), or 0 when @s does
 * not start with valid UTF-8 (RFC 3629: no overlong forms, surrogates, or code points
 * past U+10FFFF).
 */
size_t ibup_utf8_decode(const char *s, uint32_t *ret_cp);
/*
 * Strings a host controls reach terminals and JSON: control characters (C0, DEL and
 * C1) and bytes that are not UTF-8 become '?'. ibup_sanitize() works in place and
 * returns @s; ibup_strdup_clean() copies (NULL when out of memory). Every string read
 * from outside goes through it, in the library, where the value is read.
 */
char *ibup_sanitize(char *s);
char *ibup_strdup_clean(const char *s);

/* Parsers: pure functions, 0 or -EINVAL/-ERANGE. */
int ibup_parse_u32(const char *s, int base, uint32_t *ret);
int ibup_parse_i32(const char *s, int32_t *ret);
/* A directory entry the kernel names with "%u" (ports/1, gids/0): digits, no leading 0. */
int ibup_parse_index(const char *s, uint32_t *ret);
int ibup_parse_port_state(const char *s, enum ibup_port_state *ret);
int ibup_parse_phys_state(const char *s, enum ibup_phys_state *ret);
int ibup_parse_node_type(const char *s, enum ibup_node_type *ret);
int ibup_parse_link_layer(const char *s, enum ibup_link_layer *ret);
/* "200 Gb/sec (4X HDR)", "2.5 Gb/sec (1X SDR)", "10 Gb/sec (1X FDR10)". */
int ibup_parse_rate(const char *s, double *ret_gbps, char *width, size_t width_size,
		    char *speed, size_t speed_size);
/* "0015:5dff:fe33:ff56": four groups of four hex digits; normalised to lower case. */
int ibup_parse_guid(const char *s, uint64_t *ret);
void ibup_format_guid(uint64_t guid, char buf[20]);
/* A GID in the kernel's "%pI6" notation: eight groups of four hex digits. */
int ibup_parse_gid(const char *s, uint8_t ret[16]);
void ibup_format_gid(const uint8_t gid[16], char buf[40]);
int ibup_parse_gid_type(const char *s, enum ibup_link_layer ll, enum ibup_gid_type *ret);
/* A kernel CPU list, "0-3,8-11" (a NUMA node's cpulist); -ERANGE past CPU_SETSIZE. */
int ibup_parse_cpulist(const char *s, cpu_set_t *ret);
/* "0x800b" (a 16-bit hex key, as sysfs prints pkeys). */
int ibup_parse_pkey(const char *s, uint16_t *ret);
/* One os-release value: unquotes '...' and "..." with backslash escapes. */
int ibup_os_release_value(const char *text, const char *key, char **ret_value);

/* The facts a device's kind is decided from. */
struct ibup_kind_facts {
	enum ibup_node_type node_type;
	bool any_infiniband_port, any_ethernet_port;
	bool is_pci; /* backed by a PCI function */
	int32_t pci_vendor_id, pci_device_id;
	const char *driver;
	bool virtual_parent; /* a software device layered on a netdev ("parent" attribute) */
	bool enslaved_to_synthetic; /* its netdev is a VF enslaved to an hv_netvsc netdev
				       with the same MAC: Azure Accelerated Networking */
};
enum ibup_device_kind ibup_classify_device(const struct ibup_kind_facts *f);
/* Known SR-IOV virtual-function PCI ids (a VF passed to a guest has no physfn link). */
bool ibup_pci_is_virtual_function(int32_t vendor, int32_t device);

int ibup_device_read(struct ibup_ctx *ctx, const char *name, unsigned flags,
		     struct ibup_device *ret_dev);
void ibup_device_release(struct ibup_device *dev);
int ibup_port_read(struct ibup_ctx *ctx, int devfd, const char *dev, unsigned num,
		   unsigned flags, struct ibup_port *ret_port);
void ibup_port_release(struct ibup_port *port);

/* Whether udevd runs on the live system (its control socket): where it does not (a
 * container), it reads the rules when it starts and 'udevadm control' would fail. */
bool ibup_udevd_running(const struct ibup_ctx *ctx);

/* The driver stack. */
bool ibup_is_rdma_module(const char *name);
/* One /proc/modules line: the name, and its taints O (out of tree) and E (unsigned). */
int ibup_parse_proc_modules_line(const char *line, char *name, size_t name_size,
				 bool *ret_out_of_tree, bool *ret_unsigned);
/* The release ofed_info reports; -ENOENT when the text names none. */
int ibup_parse_ofed_info(const char *text, char **ret_flavor, char **ret_version);
/* "libibverbs.so.1.14.44.0" gives rdma-core "44.0". */
int ibup_parse_libibverbs_name(const char *name, char **ret_version);
int ibup_drivers_read(struct ibup_ctx *ctx, const char *kernel, struct ibup_drivers *ret);
void ibup_drivers_release(struct ibup_drivers *d);

/* IPoIB interfaces and rtnetlink. */
struct ibup_netlink_addr {
	uint32_t ifindex;
	char text[24]; /* "255.255.255.255/32" */
};
int ibup_netlink_ipv4(struct ibup_netlink_addr **ret, unsigned *ret_n);
/* Set an interface up (RTM_NEWLINK), as `ip link set dev X up`. */
int ibup_netlink_link_up(unsigned ifindex);
/* Add an IPv4 address (RTM_NEWADDR); -EEXIST when the interface already has it. */
int ibup_netlink_add_ipv4(unsigned ifindex, const char *ipv4, unsigned prefix_len);
int ibup_parse_ipoib_hwaddr(const char *s, uint8_t ret[20]);
int ibup_ipoib_read(struct ibup_ctx *ctx, const struct ibup_status *st,
		    struct ibup_ipoib **ret, unsigned *ret_n);
void ibup_ipoib_free(struct ibup_ipoib *v, unsigned n);

/* HTTP (libcurl through dlopen) and the instance metadata service. */
struct ibup_http_response {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
};
/*
 * GET @url with the given header lines, within @timeout_ms, keeping at most @max_bytes
 * of body (-EFBIG past it). -ELIBACC when libcurl is not installed; -ETIMEDOUT,
 * -ECONNREFUSED, -EHOSTUNREACH, -ENODATA (closed without an answer), -EPROTO for
 * other transport failures (also curl's "out of memory" for a header past its limit),
 * each with curl's explanation, sanitized, in @reterr. -ENOMEM only for ibup's own
 * allocations.
 */
int ibup_http_get(struct ibup_ctx *ctx, const char *url, const char *const *headers,
		  unsigned timeout_ms, size_t max_bytes, struct ibup_http_response *ret,
		  char *reterr, size_t reterr_size);
void ibup_curl_unload(struct ibup_curl *c);
int ibup_imds_parse_vm_size(const char *body, size_t len, char **ret_size, char *err,
			    size_t err_size);

/* Write to a device node under the root (no rename, no lock: a device is not a file). */
int ibup_write_device(struct ibup_ctx *ctx, const char *path, const void *data,
		      size_t len);
/* DAPL's dat.conf: set the "<ip> 0" of the ofa-v2-ib0 line. -ENOENT without one. Pure. */
int ibup_dat_conf_set(const char *text, const char *ipv4, char **ret_text);

/* "Key=Value" files (waagent.conf, slurm.conf): the last uncommented assignment of @key
 * (matched case-insensitively), without an inline " # comment". -ENOENT when absent. */
int ibup_conf_value(const char *text, const char *key, char **ret_value);

/*
 * IPoIB addressing from the platform (lib/azure/).
 */
/* A Hyper-V KVP pool is a sequence of records: a 512-byte key, a 2048-byte value. */
#define IBUP_KVP_KEY_SIZE 512
#define IBUP_KVP_VALUE_SIZE 2048
#define IBUP_KVP_MAX_RECORDS 4096
struct ibup_kvp_record {
	char key[IBUP_KVP_KEY_SIZE + 1]; /* NUL-terminated text */
	char value[IBUP_KVP_VALUE_SIZE + 1];
};
/*
 * Parse a pool's bytes as WALinuxAgent reads them (common/rdma.py). Each field ends at
 * its first NUL (the rest is padding); a field with no NUL uses all its bytes. Records
 * with an empty key are left out; a record cut short at the end of the pool counts
 * when its value has begun (past the 512 bytes of its key), and is dropped otherwise.
 * The bytes of keys and values are not judged here (an odd unrelated record must not
 * cost the pool): they may be anything but NUL, and the values used are checked by
 * their own parsers. -EBADMSG (with @reterr_diag) only past IBUP_KVP_MAX_RECORDS. An
 * empty pool is 0 records. *ret is owned by the caller.
 */
int ibup_kvp_parse(const void *data, size_t len, struct ibup_kvp_record **ret,
		   unsigned *ret_n, struct ibup_diag *reterr_diag);
/*
 * Read a pool file under the root (e.g. "var/lib/hyperv/.kvp_pool_0") holding a shared
 * fcntl read lock over the whole file while reading, as hv_kvp_daemon's readers do;
 * bounded to IBUP_KVP_MAX_RECORDS records (-EFBIG past it). -ENOENT when absent;
 * -EBUSY when the lock stays taken for 5 s, after a warning naming the file and the
 * process that holds it.
 */
int ibup_kvp_read(struct ibup_ctx *ctx, const char *path, struct ibup_kvp_record **ret,
		  unsigned *ret_n, struct ibup_diag *reterr_diag);
/* The value of @key: the first record that has it, as the agent takes it; NULL. */
const char *ibup_kvp_get(const struct ibup_kvp_record *v, unsigned n, const char *key);

struct ibup_ipoib_pair {
	uint8_t mac[6];
	char ipv4[16]; /* dotted quad, validated */
};
/*
 * "NUMPAIRS:<n>|<MAC>:<IPv4>|..." (MAC: 12 hex digits, no separators; IPv4: dotted quad,
 * each part 0-255, no leading zeros beyond "0"). -EBADMSG with @reterr_diag (column in
 * .column, 1-based, and a message) on: no NUMPAIRS prefix, a count that does not match
 * the pairs, a bad MAC or address, the same MAC twice, an address no interface may
 * have (0.0.0.0, 255.255.255.255, 127.0.0.0/8), the same address for two MACs, more
 * than 64 pairs, trailing garbage. A trailing "|" is tolerated.
 */
int ibup_parse_ipoib_data(const char *value, struct ibup_ipoib_pair **ret,
			  unsigned *ret_n, struct ibup_diag *reterr_diag);
/*
 * The platform MAC of an IPoIB port: its port GUID without the middle two bytes ff:fd
 * (0x00155dfffd33ff0b gives 00:15:5d:33:ff:0b). -EINVAL when bytes 3-4 are not ff:fd.
 */
int ibup_guid_to_mac(uint64_t guid, uint8_t ret_mac[6]);
/*
 * The legacy /var/lib/waagent/SharedConfig.xml (expat): the first <Instance> element's
 * rdmaMacAddress and rdmaIPv4Address attributes, each NULL when absent. -EBADMSG with
 * @reterr_diag (line, column, expat's message) on malformed XML; bounded input.
 */
int ibup_parse_shared_config(const char *xml, size_t len, char **ret_mac, char **ret_ipv4,
			     struct ibup_diag *reterr_diag);
/*
 * The one waagent.conf reader, as the agent reads it (ConfigurationProvider.load in
 * azurelinuxagent/common/conf.py): lines split on '\n'; a line starting with '#' or
 * without '=' is skipped; the key is what precedes the first '=', stripped of (Python,
 * Unicode) whitespace and matched exactly (case-sensitive); the value is what follows,
 * up to the first '#', stripped of '"' and ' ' and then of whitespace; the last
 * assignment wins, and a value "None" counts as absent. *ret_value is owned by the
 * caller and is raw (not sanitized). -ENOENT when absent, -EILSEQ when @text is not
 * UTF-8 (the agent cannot load it at all). Text past a NUL byte is not seen.
 */
int ibup_waagent_conf_value(const char *text, const char *key, char **ret_value);
/*
 * A switch as the agent's get_switch(): 1 for "y"/"Y", 0 for "n"/"N", else
 * @default_value; -EILSEQ/-ENOMEM as above.
 */
int ibup_waagent_conf_switch(const char *text, const char *key, int default_value);
/*
 * Set "KEY=VALUE" in waagent.conf text, changing only that line: the last uncommented
 * "KEY=..." line (spaces around '=' allowed; an inline " # comment" kept), else the
 * first commented "# KEY=..." / "#KEY=..." line is uncommented in place, else the line
 * is appended (with a newline before it when the text lacks a final one). Other
 * uncommented duplicates of KEY are left as they are except that the one changed is the
 * last (the one waagent honours). Pure: *ret_text is new, owned by the caller; applying
 * it twice gives the same bytes. -EINVAL on a KEY or VALUE with whitespace, '=', '#' or
 * a newline.
 */
int ibup_waagent_set(const char *text, const char *key, const char *value,
		     char **ret_text);

/* Locked-memory limits: the wildcard's memlock in limits.conf syntax (bytes). */
int ibup_parse_limits_conf(const char *text, int64_t *soft, int64_t *hard,
			   struct ibup_diag *reterr_diag);
int ibup_parse_systemd_memlock(const char *text, int64_t *soft,
			       struct ibup_diag *reterr_diag);
int ibup_limits_read(struct ibup_ctx *ctx, struct ibup_limits *ret);
/* Secure Boot and the newer kernels' modules (lib/inventory/boot.c). */
int ibup_boot_read(struct ibup_ctx *ctx, const char *running,
		   const struct ibup_drivers *dr, struct ibup_boot *ret);
void ibup_boot_release(struct ibup_boot *b);

/* SHA-256 (libcrypto through dlopen, lib/core/sha256.c). -ELIBACC without libcrypto. */
struct ibup_sha256 {
	void *md;
};
int ibup_sha256_init(struct ibup_sha256 *s);
void ibup_sha256_update(struct ibup_sha256 *s, const void *data, size_t len);
int ibup_sha256_final(struct ibup_sha256 *s, char ret_hex[65]);
void ibup_sha256_release(struct ibup_sha256 *s);
int ibup_sha256_hex(const void *data, size_t len, char ret_hex[65]);

/*
 * ibup's state directory (lib/core/state.c): the error-counter baseline of `check` and
 * the plan journal. By default var/lib/ibup under the context's root (a run on an image
 * keeps its journal inside it); `check --state-dir DIR` names a directory of the host.
 * Names are plain file names inside it.
 */
#define IBUP_STATE_DIR "var/lib/ibup"
struct ibup_state {
	struct ibup_ctx *ctx; /* borrowed, or @owned */
	struct ibup_ctx *owned;
	char dir[256]; /* relative to ctx's root */
	int lock_fd;
};
/* @host_dir: NULL for IBUP_STATE_DIR under @ctx's root. Opens nothing yet. */
int ibup_state_open(struct ibup_ctx *ctx, const char *host_dir, struct ibup_state *ret);
void ibup_state_close(struct ibup_state *s);
/* -ENOENT when absent; *ret_data NUL-terminated, owned by the caller. */
int ibup_state_read(struct ibup_state *s, const char *name, size_t max, char **ret_data,
		    size_t *ret_len);
/* Atomic (the one writer), creating the directory (0755) when missing. */
int ibup_state_write(struct ibup_state *s, const char *name, const void *data,
		     size_t len);
int ibup_state_remove(struct ibup_state *s, const char *name);
/* The one lock of runs that change the host: held until ibup_state_close() or exit.
 * -EBUSY when another process holds it. 0 without taking it again when the context
 * holds it already (ibup_plan_lock()) and @s is its default state directory. */
int ibup_state_lock(struct ibup_state *s);
/* "/var/lib/ibup/NAME" as a person would look for it (host path), into @buf. */
const char *ibup_state_path(const struct ibup_state *s, const char *name, char *buf,
			    size_t size);

/* The spawner with "NAME=value" entries added to (or replacing in) the environment. */
int ibup_spawn_env(const char *const argv[], const char *const env[], unsigned timeout_ms,
		   size_t out_max, struct ibup_spawn_result *ret_result);

/* Write all of @data to @fd (EINTR retried): 0 or -errno. */
int ibup_write_all(int fd, const void *data, size_t len);

/* An open file under the root (O_PATH-free: the same resolution as the readers). */
int ibup_open_under_root(struct ibup_ctx *ctx, const char *path, int flags);

/* rtnetlink and RDMA netlink changes (lib/core/netlink.c). */
int ibup_netlink_rdma_rename(const char *device, const char *new_name);

#endif

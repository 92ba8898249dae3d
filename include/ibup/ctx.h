// SPDX-License-Identifier: MIT
/*
 * libibup's context: the root every file is read under, diagnostics through a log
 * callback, and the constants the rest of the API shares (IBUP_UNKNOWN, bounds,
 * the JSON schema version).
 */
#ifndef IBUP_CTX_H
#define IBUP_CTX_H

#include <stdbool.h>

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

#ifdef __cplusplus
}
#endif

#endif

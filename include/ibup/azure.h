// SPDX-License-Identifier: MIT
/*
 * Azure: the instance metadata service, the Azure agent (waagent) and its
 * configuration file.
 */
#ifndef IBUP_AZURE_H
#define IBUP_AZURE_H

#include <stddef.h>

#include "ibup/ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/**
 * ibup_azure_physical_host() - the Hyper-V host this VM runs on (PhysicalHostName)
 * @ctx: library context
 * @ret_name: the name, owned by the caller
 *
 * Read from the KVP pool the host writes (pool 3, var/lib/hyperv/.kvp_pool_3 under the
 * root), as hv_kvp_daemon keeps it. It is the name Azure support asks for.
 *
 * Return: 0, -ENOENT when the pool or the key is absent (not Azure, or no KVP daemon),
 * or another negative errno.
 */
int ibup_azure_physical_host(struct ibup_ctx *ctx, char **ret_name);

#ifdef __cplusplus
}
#endif

#endif

// SPDX-License-Identifier: MIT
/*
 * IPoIB addresses from the platform: what each interface should have (the plan), and
 * applying it; the waagent.conf key that hands IPoIB to ibup.
 */
#ifndef IBUP_IPOIB_H
#define IBUP_IPOIB_H

#include <stdbool.h>

#include "ibup/ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

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

struct ibup_plan;

/**
 * ibup_ipoib_apply_plan() - the steps that give the interfaces their addresses
 * @ctx: library context
 * @ip: from ibup_ipoib_plan_read(): one IPv4 address step per target to add
 * @network_direct: add the Network Direct steps (/dev/hvnd_rdma, dat.conf) as well
 * @ret: the plan (see ibup/plan.h), owned by the caller
 * @ret_dat_conf: when not NULL, the dat.conf that names the address (set or to set),
 *	relative to the root, owned by the caller; NULL when none
 *
 * Return: 0, or a negative errno.
 */
int ibup_ipoib_apply_plan(struct ibup_ctx *ctx, const struct ibup_ipoib_plan *ip,
			  bool network_direct, struct ibup_plan **ret,
			  char **ret_dat_conf);

/**
 * ibup_ipoib_enable_plan() - plan `ipoib enable`
 * @ctx: library context
 * @via: "systemd" (ibup's unit, udev rule, network-manager exclusions) or "waagent"
 *	(OS.EnableRDMA=y in waagent.conf, changing only that line)
 * @exe: the ibup program the unit runs
 * @ret: the plan, owned by the caller; empty when everything is already in place
 *
 * Return: 0, -EINVAL for an unknown @via, -EBADMSG for a waagent.conf holding a NUL,
 * or another negative errno.
 */
int ibup_ipoib_enable_plan(struct ibup_ctx *ctx, const char *via, const char *exe,
			   struct ibup_plan **ret);

/**
 * ibup_ipoib_disable_plan() - plan `ipoib disable`: undo either way of enable
 * @ctx: library context
 * @ret: the plan, owned by the caller
 *
 * waagent.conf gets back the original ibup kept (waagent.conf.ibup-orig) when only
 * ibup's line differs from it, otherwise the original's OS.EnableRDMA value.
 *
 * Return: 0, or a negative errno.
 */
int ibup_ipoib_disable_plan(struct ibup_ctx *ctx, struct ibup_plan **ret);

#ifdef __cplusplus
}
#endif

#endif

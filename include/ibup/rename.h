// SPDX-License-Identifier: MIT
/*
 * Persistent RDMA device names: mlx5_ib<N> for InfiniBand, mlx5_an<N> for Azure's
 * Accelerated Networking, numbered over the PCI-sorted set, or a scheme's fixed names;
 * carried out through RDMA netlink by the plan executor (ibup/plan.h).
 */
#ifndef IBUP_RENAME_H
#define IBUP_RENAME_H

#include <stdbool.h>

#include "ibup/ctx.h"
#include "ibup/model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ibup_plan;

/* One fixed name of a scheme: a device found by its PCI address, node GUID or netdev. */
struct ibup_rename_rule {
	char *key; /* "0101:00:00.0", "guid:0015:5dff:fe33:ff18" or "netdev:eth1" */
	char *name; /* the name it gets */
};

struct ibup_rename_scheme {
	struct ibup_rename_rule *rules;
	unsigned n;
	/* Only the scheme's devices are renamed (no mlx5_ib/mlx5_an numbering). */
	bool only;
};

/**
 * ibup_rename_scheme_parse() - read a scheme: "KEY NAME" per line, '#' comments
 * @text: the file's text
 * @ret: filled on success; release with ibup_rename_scheme_release()
 * @reterr_diag: on -EBADMSG, the line and what is wrong
 *
 * KEY is a PCI address (dddd:bb:dd.f), "guid:" and a node GUID, or "netdev:" and the
 * name of the network interface a Soft-RoCE device sits on. NAME is a valid RDMA
 * device name (1 to 63 of [A-Za-z0-9_-], not starting with '-'). A line "only" makes
 * the scheme the whole rule: devices it does not name keep their names.
 *
 * Return: 0, -EBADMSG, or -ENOMEM.
 */
int ibup_rename_scheme_parse(const char *text, struct ibup_rename_scheme *ret,
			     struct ibup_diag *reterr_diag);
void ibup_rename_scheme_release(struct ibup_rename_scheme *s);

/* What one device is called now and will be called. */
struct ibup_rename_target {
	const char *device; /* its name now (borrowed from the inventory) */
	char *name; /* the name it gets */
	const char *why; /* "InfiniBand, numbered in PCI order", ...; static */
	const char *pci; /* its PCI address (borrowed), or NULL */
};

/**
 * ibup_rename_targets() - the name every device should have
 * @st: the inventory
 * @scheme: fixed names, or NULL
 * @ret: the devices that have a target name (also those that already bear it), in
 *	inventory order; free with ibup_rename_targets_free()
 * @ret_n: their number
 * @reterr_diag: on -EEXIST/-EINVAL, which names collide
 *
 * InfiniBand devices get mlx5_ib<N> and Accelerated Networking devices mlx5_an<N>, N
 * counting each kind in PCI address order, so the result does not depend on the order
 * the devices appeared in. A scheme's names win.
 *
 * Return: 0; -EEXIST when two devices would get one name, or a target name is held by a
 * device that keeps its name; or -ENOMEM.
 */
int ibup_rename_targets(const struct ibup_status *st,
			const struct ibup_rename_scheme *scheme,
			struct ibup_rename_target **ret, unsigned *ret_n,
			struct ibup_diag *reterr_diag);
void ibup_rename_targets_free(struct ibup_rename_target *t, unsigned n);

/**
 * ibup_rename_plan() - the renames that give every device its name
 * @ctx: library context
 * @st: the inventory (read under @ctx)
 * @scheme: fixed names, or NULL
 * @only_device: plan only what this device's rename needs (udev's %k), or NULL
 * @ret: the plan, owned by the caller: one RDMA netlink rename per device whose name
 *	differs; where a target name is held by another device being renamed (a swap, a
 *	shift), that device first moves to a temporary name, so no rename ever fails on a
 *	name that is taken midway
 * @reterr_diag: on -EEXIST, which names collide
 *
 * Return: 0, -EEXIST, -ENODEV when @only_device is not in the inventory, or -ENOMEM.
 */
int ibup_rename_plan(struct ibup_ctx *ctx, const struct ibup_status *st,
		     const struct ibup_rename_scheme *scheme, const char *only_device,
		     struct ibup_plan **ret, struct ibup_diag *reterr_diag);

/**
 * ibup_rename_rule_plan() - plan `rename --enable` or `--disable`
 * @ctx: library context
 * @enable: install (true) or remove the udev rule
 * @exe: the ibup program the rule runs
 * @scheme_path: a scheme the rule passes on (host path), or NULL
 * @ret: the plan, owned by the caller
 *
 * The rule (/etc/udev/rules.d/60-ibup-rename.rules) runs `ibup rename --device %k`
 * for every RDMA device the kernel adds.
 *
 * Return: 0, -EINVAL for a path udev cannot carry, or another negative errno.
 */
int ibup_rename_rule_plan(struct ibup_ctx *ctx, bool enable, const char *exe,
			  const char *scheme_path, struct ibup_plan **ret);

#ifdef __cplusplus
}
#endif

#endif

// SPDX-License-Identifier: MIT
/* What the files of lib/install share: package managers, the stacks' planners. */
#ifndef IBUP_INSTALL_INT_H
#define IBUP_INSTALL_INT_H

#include <stdbool.h>

#include "ibup/install.h"

#define INSTALL_TIMEOUT_MS \
	(60u * 60 * 1000) /* a package transaction, a vendor installer */
#define UPDATE_TIMEOUT_MS (15u * 60 * 1000)
#define DOWNLOAD_DIR "var/lib/ibup/install"

/* A growing list of strings (package names, argv). */
struct strv {
	char **v;
	unsigned n;
};
int strv_add(struct strv *s, const char *str);
int strv_addf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_release(struct strv *s);

/* The context's root when it is not the running system, else NULL. */
const char *install_root(struct ibup_ctx *ctx);

/* Refusals: fill @err and return -EPERM. */
int install_refuse(struct ibup_install_error *err, enum ibup_install_refusal kind,
		   const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* pkg.c: the package manager's command lines, in the tree under another root. */
int pkg_check_tree(struct ibup_ctx *ctx, const struct ibup_distro *d,
		   struct ibup_install_error *err);
/* Keep in @pkgs only the packages that are not installed (queried under the root), or
 * with @keep_installed only those that are. */
int pkg_missing(struct ibup_ctx *ctx, struct ibup_plan *plan, const struct ibup_distro *d,
		struct strv *pkgs, bool keep_installed);
int pkg_plan_update(struct ibup_ctx *ctx, struct ibup_plan *plan,
		    const struct ibup_distro *d, const char *why);
/* install (or remove) @pkgs; nothing when @pkgs is empty. @local: package files
 * (paths on this machine) rather than names. */
int pkg_plan_install(struct ibup_ctx *ctx, struct ibup_plan *plan,
		     const struct ibup_distro *d, const struct strv *pkgs, bool remove,
		     const char *why);
/* The same with the package manager's options @opts (NULL: none) after its verb. */
int pkg_plan_install_opts(struct ibup_ctx *ctx, struct ibup_plan *plan,
			  const struct ibup_distro *d, const struct strv *pkgs,
			  bool remove, const struct strv *opts, const char *why);
/* The packages of @pkgs not installed yet (@pkgs keeps only those), after apt's
 * package lists are brought up to date: what every stack asks of the distribution. */
int pkg_plan_missing(struct ibup_ctx *ctx, struct ibup_plan *plan,
		     const struct ibup_distro *d, struct strv *pkgs, const char *why);
/* A command run inside the tree (chroot R ...), or as is on the running system. */
int plan_run_in_tree(struct ibup_ctx *ctx, struct ibup_plan *plan,
		     const char *const argv[], const int *ok, unsigned n_ok,
		     unsigned timeout_ms, const char *why);
/* A path inside the tree as this machine sees it: "R/var/..." or "/var/...". */
int tree_path(struct ibup_ctx *ctx, const char *rel, char **ret);

/* inbox.c: the distribution's packages for the target kernel. */
int inbox_packages(const struct ibup_install_choice *c, const struct ibup_status *st,
		   struct strv *pkgs);
/* The kernel headers (devel) package of the target kernel, or NULL when none. */
int kernel_devel_package(const struct ibup_install_choice *c, char **ret);

/* vendor.c: DOCA-OFED and MLNX_OFED. */
int plan_doca(struct ibup_ctx *ctx, struct ibup_plan *plan,
	      const struct ibup_install_opts *o, const struct ibup_install_choice *c,
	      struct ibup_install_error *err);
int plan_mofed(struct ibup_ctx *ctx, struct ibup_plan *plan,
	       const struct ibup_install_opts *o, const struct ibup_install_choice *c,
	       struct ibup_install_error *err);
/* ofed_uninstall.sh --force, the vendors' own removal. */
int plan_vendor_uninstall(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *why);
/* The DKMS module of the stack's kernel package (deb: mlnx-ofed-kernel, rpm: mlnx-ofa_kernel). */
const char *dkms_module(const struct ibup_distro *d);

/* after.c: ibup's own files after an install, the kernel hook, bringing modules in. */
int plan_after(struct ibup_ctx *ctx, struct ibup_plan *plan,
	       const struct ibup_install_opts *o, const struct ibup_install_choice *c,
	       const struct ibup_status *st, bool stack_changed);
int plan_after_remove(struct ibup_ctx *ctx, struct ibup_plan *plan);
/* secureboot.c: the MOK import of DKMS's signing key. */
int plan_mok_enroll(struct ibup_ctx *ctx, struct ibup_plan *plan,
		    const struct ibup_install_choice *c);
/* The refusal's ways out, for @c's stack and distribution. */
void secure_boot_hint(const struct ibup_install_choice *c, char *buf, size_t size);

#endif

// SPDX-License-Identifier: MIT
/*
 * `ibup install`: the RDMA driver stack matched to the distribution and the kernel.
 *
 * The distribution comes from the root's os-release; the stack (the distribution's own
 * "inbox" packages, NVIDIA's DOCA-OFED, or the legacy MLNX_OFED) is asked for or chosen
 * from the hardware, the VM size and Secure Boot, each choice with its reasons; vendor
 * versions, URLs and SHA-256 sums come from a manifest (data/install-manifest.json, or
 * the administrator's). Planning reads the host and changes nothing: the plan is run by
 * the executor (include/ibup/plan.h).
 */
#ifndef IBUP_INSTALL_H
#define IBUP_INSTALL_H

#include <stdbool.h>

#include "ibup/ctx.h"
#include "ibup/model.h"
#include "ibup/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ibup_pkg_manager {
	IBUP_PM_APT = 0,
	IBUP_PM_DNF,
	IBUP_PM_ZYPPER,
	IBUP_PM_TDNF,
};
const char *ibup_pkg_manager_name(enum ibup_pkg_manager pm); /* "apt", "dnf", ... */

/* A supported distribution, as its os-release names it. */
struct ibup_distro {
	char *id; /* os-release ID: "ubuntu", "almalinux", "sles" */
	char *version; /* VERSION_ID: "22.04", "9.4", "15.6" */
	char *name; /* PRETTY_NAME, or ID and VERSION_ID */
	const char *family; /* "ubuntu", "debian", "rhel", "sles", "azurelinux" */
	enum ibup_pkg_manager pm;
	unsigned major, minor;
	char key[32]; /* the manifest's distro key: "ubuntu22.04", "rhel9", "sles15sp6" */
};

/* The distributions ibup installs on, for messages: "Ubuntu 20.04, 22.04, ..." */
extern const char ibup_install_supported[];

/**
 * ibup_distro_parse() - which supported distribution an os-release describes
 * @os_release: the file's text
 * @ret: filled on success; release with ibup_distro_release()
 * @reterr_diag: on -EPROTONOSUPPORT, what was detected
 *
 * Return: 0, -EPROTONOSUPPORT for a distribution or release ibup does not install on,
 * -EBADMSG when ID is missing, or -ENOMEM.
 */
int ibup_distro_parse(const char *os_release, struct ibup_distro *ret,
		      struct ibup_diag *reterr_diag);
void ibup_distro_release(struct ibup_distro *d);

enum ibup_stack {
	IBUP_STACK_AUTO = 0,
	IBUP_STACK_INBOX, /* the distribution's rdma-core and kernel modules */
	IBUP_STACK_DOCA, /* NVIDIA DOCA-OFED (doca-host repository, doca-ofed) */
	IBUP_STACK_MOFED, /* NVIDIA MLNX_OFED (tarball, mlnxofedinstall) */
};
const char *ibup_stack_name(enum ibup_stack s); /* "auto", "inbox", "doca", "mofed" */
int ibup_stack_from_name(const char *name, enum ibup_stack *ret); /* -EINVAL */

/* One row of the manifest: a vendor stack for a distribution and architecture. */
struct ibup_manifest_row {
	char *distro; /* "ubuntu22.04" */
	char *arch; /* "x86_64", "aarch64" */
	enum ibup_stack stack;
	char *version; /* "3.2.1", "24.10-3.2.5.0" */
	char *url;
	char *sha256; /* 64 lower-case hex digits, or NULL: no source gives it */
	char *source; /* where the values come from */
	char *devices; /* "cx4+" (ConnectX-4 and newer) or "cx3" */
	char *max_kernel; /* the last kernel series it builds on ("5.5"), or NULL */
};

struct ibup_manifest {
	char *origin; /* "built-in" or the file's path */
	struct ibup_manifest_row *rows;
	unsigned n;
};

/**
 * ibup_manifest_parse() - read and validate a manifest (docs/install-manifest.schema.json)
 * @text: the JSON text
 * @origin: what to call it in messages ("built-in", a path)
 * @ret: filled on success; release with ibup_manifest_release()
 * @reterr_diag: on -EBADMSG, where and what is wrong
 *
 * Return: 0, -EBADMSG, or -ENOMEM.
 */
int ibup_manifest_parse(const char *text, const char *origin, struct ibup_manifest *ret,
			struct ibup_diag *reterr_diag);
/* The shipped manifest (data/install-manifest.json, built in). */
int ibup_manifest_builtin(struct ibup_manifest *ret, struct ibup_diag *reterr_diag);
void ibup_manifest_release(struct ibup_manifest *m);
/* The newest row for @distro/@arch/@stack (of @version when not NULL); NULL when none. */
const struct ibup_manifest_row *
ibup_manifest_find(const struct ibup_manifest *m, const char *distro, const char *arch,
		   enum ibup_stack stack, const char *version, const char *devices);

enum ibup_secure_boot_mode {
	IBUP_SB_REFUSE = 0, /* unsigned modules on an enforcing host: refuse */
	IBUP_SB_ENROLL, /* plan the MOK import of DKMS's signing key */
};

/* What was asked. Strings are borrowed. */
struct ibup_install_opts {
	enum ibup_stack stack;
	const char *version; /* --version */
	const char *kernel; /* --kernel: the target kernel */
	const char *arch; /* the target's architecture; NULL: this machine's */
	const struct ibup_manifest *manifest;
	const char *url, *sha256; /* --url, --sha256: override the manifest's row */
	const char *from; /* --from FILE: the vendor file, already fetched */
	enum ibup_secure_boot_mode secure_boot;
	bool replace; /* remove another stack first */
	bool remove; /* take the stack and ibup's files away */
	bool reload_now; /* restart openibd now instead of a reboot (a console) */
	const char *vm_size; /* for the after-install settings */
	const char *exe; /* the ibup program the kernel hook runs */
	const char *command; /* as typed, for the plan: "install --stack inbox" */
	bool list; /* only say what would be chosen: what is in the way is a reason */
};

/* Why the stack was chosen (or refused), and what the plan will install. */
struct ibup_install_choice {
	enum ibup_stack stack;
	struct ibup_distro distro;
	char *arch;
	char *kernel; /* the target kernel; NULL when the tree has none */
	char *kernel_from; /* "running", "--kernel", "newest in /lib/modules" */
	const struct ibup_manifest_row *row; /* vendor stacks: the manifest's row */
	char *version, *url, *sha256; /* vendor stacks, after --url/--sha256/--version */
	bool dkms; /* the stack's kernel modules are built by DKMS (unsigned) */
	char **reasons; /* one line each, in the order they weighed */
	unsigned n_reasons;
	char **warnings; /* said before the plan runs (next boot, IPoIB, ...) */
	unsigned n_warnings;
	char *installed; /* the stack there now: "inbox", "doca 25.10-1.7.1", ... */
	bool same; /* the asked stack is there already */
};
void ibup_install_choice_release(struct ibup_install_choice *c);

/* Where a refusal comes from: the CLI maps these to exit codes. */
enum ibup_install_refusal {
	IBUP_REFUSE_NONE = 0,
	IBUP_REFUSE_USAGE, /* exit 2: a hash is missing, --url without --sha256, ... */
	IBUP_REFUSE_UNSUPPORTED, /* exit 4: distro, hardware, Secure Boot */
	IBUP_REFUSE_FAILURE, /* exit 3: --from's hash does not match, ... */
};

/* A refusal: the one-line reason and the ways out (several lines). */
struct ibup_install_error {
	enum ibup_install_refusal kind;
	char msg[512];
	char hint[1024];
};

/**
 * ibup_install_choose() - which stack to install, and why
 * @ctx: library context (the root's os-release, /lib/modules)
 * @st: the inventory (devices, drivers, Secure Boot)
 * @opts: what was asked
 * @ret: filled on success and on a refusal; release with ibup_install_choice_release()
 * @reterr: on -EPERM, the refusal
 *
 * Return: 0, -EPERM for a refusal (@reterr says which), or another negative errno.
 */
int ibup_install_choose(struct ibup_ctx *ctx, const struct ibup_status *st,
			const struct ibup_install_opts *opts,
			struct ibup_install_choice *ret,
			struct ibup_install_error *reterr);

/**
 * ibup_install_plan() - plan `install` (or `install --remove`) of a chosen stack
 * @ctx: library context
 * @st: the inventory
 * @opts: what was asked
 * @choice: from ibup_install_choose()
 * @ret: the plan, owned by the caller; empty when the stack is there already
 * @reterr: on -EPERM, the refusal
 *
 * Packages already installed are not planned. Under another root nothing is started
 * or loaded, and package managers work inside the tree (chroot, --installroot, --root).
 *
 * Return: 0, -EPERM for a refusal, or another negative errno.
 */
int ibup_install_plan(struct ibup_ctx *ctx, const struct ibup_status *st,
		      const struct ibup_install_opts *opts,
		      const struct ibup_install_choice *choice, struct ibup_plan **ret,
		      struct ibup_install_error *reterr);

/* What an mlnxofedinstall exit code means (its documented codes), or NULL. */
const char *ibup_mofed_exit_meaning(int code);

#ifdef __cplusplus
}
#endif

#endif

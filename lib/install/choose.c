// SPDX-License-Identifier: MIT
/*
 * Which stack to install, and why: the distribution (os-release under the root), the
 * RDMA hardware (ConnectX generation, MANA), the VM size, Secure Boot as the kernel
 * enforces it, the stack already there, and the manifest's rows. Every decision adds a
 * reason; a refusal names what was found and the ways out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "ibup/check.h"
#include "install-int.h"
#include "internal.h"
#include "banned.h"

#define OS_RELEASE_MAX (64 * 1024)

/* The RDMA devices by what a stack must drive. */
struct hw {
	unsigned cx3, cx4, mana, soft, other;
};

static void count_hw(const struct ibup_status *st, struct hw *hw)
{
	*hw = (struct hw){ 0 };
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];
		const char *drv = d->driver ? d->driver : "";

		if (d->kind == IBUP_KIND_MANA)
			hw->mana++;
		else if (d->kind == IBUP_KIND_SOFT_ROCE)
			hw->soft++;
		/* An Accelerated Networking VF is Ethernet for the VM, not a fabric. */
		else if (d->kind != IBUP_KIND_INFINIBAND && d->kind != IBUP_KIND_ROCE)
			hw->other++;
		else if (strcmp(drv, "mlx4_core") == 0)
			hw->cx3++;
		else if (strcmp(drv, "mlx5_core") == 0)
			hw->cx4++;
		else
			hw->other++;
	}
}

static int add_line(char ***v, unsigned *n, const char *fmt, va_list ap)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (vasprintf(&nv[*n], fmt, ap) < 0)
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int __attribute__((format(printf, 2, 3)))
reason(struct ibup_install_choice *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_line(&c->reasons, &c->n_reasons, fmt, ap);
	va_end(ap);
	return r;
}

static int __attribute__((format(printf, 2, 3)))
warning(struct ibup_install_choice *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_line(&c->warnings, &c->n_warnings, fmt, ap);
	va_end(ap);
	return r;
}

void ibup_install_choice_release(struct ibup_install_choice *c)
{
	ibup_distro_release(&c->distro);
	free(c->arch);
	free(c->kernel);
	free(c->kernel_from);
	free(c->version);
	free(c->url);
	free(c->sha256);
	free(c->installed);
	for (unsigned i = 0; i < c->n_reasons; i++)
		free(c->reasons[i]);
	free(c->reasons);
	for (unsigned i = 0; i < c->n_warnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	*c = (struct ibup_install_choice){ 0 };
}

/* The newest kernel of the tree: /lib/modules, else /boot/vmlinuz-*. */
static int newest_kernel(struct ibup_ctx *ctx, char **ret, const char **from)
{
	static const struct {
		const char *dir, *prefix, *from;
	} places[] = { { "lib/modules", "", "the newest in /lib/modules" },
		       { "usr/lib/modules", "", "the newest in /lib/modules" },
		       { "boot", "vmlinuz-", "the newest /boot/vmlinuz-*" } };

	*ret = NULL;
	for (size_t p = 0; p < IBUP_ARRAY_SIZE(places) && !*ret; p++) {
		size_t plen = strlen(places[p].prefix);
		char **names = NULL;
		unsigned n = 0;
		int fd = ibup_open_dir(ctx, "%s", places[p].dir);

		if (fd < 0)
			continue;
		if (ibup_list_dir_at(fd, 4096, &names, &n) < 0)
			n = 0;
		close(fd);
		for (unsigned i = 0; i < n; i++) {
			const char *k = names[i] + plen;

			if (strncmp(names[i], places[p].prefix, plen) != 0 || !*k ||
			    *k < '0' || *k > '9')
				continue;
			if (*ret && strverscmp(k, *ret) <= 0)
				continue;
			free(*ret);
			*ret = strdup(k);
			if (!*ret) {
				ibup_strv_free(names, n);
				return -ENOMEM;
			}
			*from = places[p].from;
		}
		ibup_strv_free(names, n);
	}
	return 0;
}

static int target_kernel(struct ibup_ctx *ctx, const struct ibup_status *st,
			 const struct ibup_install_opts *o, struct ibup_install_choice *c)
{
	const char *from = NULL;
	int r;

	if (o->kernel) {
		c->kernel = strdup(o->kernel);
		from = "--kernel";
	} else if (ibup_ctx_is_live(ctx) && st->platform.kernel) {
		c->kernel = strdup(st->platform.kernel);
		from = "the running kernel";
	} else {
		r = newest_kernel(ctx, &c->kernel, &from);
		if (r < 0)
			return r;
		if (!c->kernel)
			return warning(c,
				       "the tree has no kernel (/lib/modules, /boot): no "
				       "kernel package is planned");
	}
	if (!c->kernel || !(c->kernel_from = strdup(from)))
		return -ENOMEM;
	return 0;
}

/* The DOCA generation a doca-host file name carries: "…-25.10-ubuntu2204…" → "25.10". */
static int ofed_generation(const char *url, char *buf, size_t size)
{
	const char *base = strrchr(url, '/');

	base = base ? base + 1 : url;
	/* "-YY.MM-" (or "_YY.MM_"): each test only reads bytes the previous ones vouched for. */
	for (const char *p = base; *p; p++)
		if ((*p == '-' || *p == '_') && p[1] != '0' &&
		    strspn(p + 1, "0123456789") == 2 && p[3] == '.' &&
		    strspn(p + 4, "0123456789") == 2 && (p[6] == '-' || p[6] == '_')) {
			snprintf(buf, size, "%.5s", p + 1);
			return 0;
		}
	return -ENOENT;
}

static const char *installed_stack(const struct ibup_status *st)
{
	const char *f = st->drivers.ofed_flavor;

	if (!f)
		return st->drivers.rdma_core_version ? "inbox" : NULL;
	return strcmp(f, "doca_ofed") == 0 ? "doca" : "mofed";
}

/* Is the stack asked for there already? Else, is another in the way? */
static int weigh_installed(const struct ibup_status *st,
			   const struct ibup_install_opts *o,
			   struct ibup_install_choice *c, struct ibup_install_error *err)
{
	const char *have = installed_stack(st);
	const char *ver = st->drivers.ofed_version;
	char gen[8] = "";

	if (!have)
		return 0;
	if (strcmp(have, "inbox") == 0
		    ? asprintf(&c->installed, "inbox (rdma-core %s)",
			       st->drivers.rdma_core_version) < 0
		    : asprintf(&c->installed, "%s %s", have, ver ? ver : "?") < 0) {
		c->installed = NULL;
		return -ENOMEM;
	}
	if (strcmp(have, "inbox") == 0)
		return 0; /* the vendors' packages replace the distribution's userspace */
	if (strcmp(have, ibup_stack_name(c->stack)) == 0) {
		if (c->stack == IBUP_STACK_DOCA && c->url)
			ofed_generation(c->url, gen, sizeof(gen));
		else if (c->stack == IBUP_STACK_MOFED && c->version)
			snprintf(gen, sizeof(gen), "%.5s", c->version);
		if (o->remove)
			return reason(
				c, "%s is removed the vendor's way (ofed_uninstall.sh)",
				c->installed);
		if (!ver || !*gen || strncmp(ver, gen, strlen(gen)) == 0) {
			c->same = true;
			return reason(c, "%s is installed already", c->installed);
		}
	}
	if (o->remove || o->replace)
		return reason(c,
			      "%s is installed: it is removed first the vendor's way "
			      "(ofed_uninstall.sh)",
			      c->installed);
	if (o->list)
		return reason(c, "%s is installed: installing %s needs --replace",
			      c->installed, ibup_stack_name(c->stack));
	return install_refuse(
		err, IBUP_REFUSE_USAGE,
		"Add --replace to remove it first (ofed_uninstall.sh --force), "
		"or 'ibup install --remove' to take it away.",
		"%s is installed; installing %s over it needs --replace", c->installed,
		ibup_stack_name(c->stack));
}

static int read_distro(struct ibup_ctx *ctx, struct ibup_install_choice *c,
		       struct ibup_install_error *err)
{
	_cleanup_free_ char *text = NULL;
	struct ibup_diag diag = { 0 };
	int r;

	r = ibup_read_file(ctx, "etc/os-release", OS_RELEASE_MAX, &text, NULL);
	if (r == -ENOENT)
		r = ibup_read_file(ctx, "usr/lib/os-release", OS_RELEASE_MAX, &text,
				   NULL);
	if (r == -ENOENT)
		return install_refuse(err, IBUP_REFUSE_UNSUPPORTED, NULL,
				      "no /etc/os-release: the distribution is not known "
				      "(ibup installs on %s)",
				      ibup_install_supported);
	if (r < 0)
		return r;
	r = ibup_distro_parse(text, &c->distro, &diag);
	if (r == -EPROTONOSUPPORT || r == -EBADMSG)
		return install_refuse(err, IBUP_REFUSE_UNSUPPORTED, NULL,
				      "unsupported distribution: %s; ibup installs on %s",
				      diag.msg, ibup_install_supported);
	return r;
}

/* Ubuntu 26.04 carries Canonical-built, signed DOCA-OFED modules in its archive. */
/* Ubuntu 26.04 with linux-azure: Canonical's doca-ofed-azure, built for that kernel. */
static bool archive_doca(const struct ibup_install_choice *c)
{
	size_t n = c->kernel ? strlen(c->kernel) : 0;

	return strcmp(c->distro.key, "ubuntu26.04") == 0 && n > 6 &&
	       strcmp(c->kernel + n - 6, "-azure") == 0;
}

/* Azure Linux carries its own MLNX_OFED kernel packages (mlnx-ofa_kernel). */
static bool archive_mofed(const struct ibup_install_choice *c)
{
	return strcmp(c->distro.family, "azurelinux") == 0;
}

static bool secure_boot_blocks(const struct ibup_status *st,
			       const struct ibup_install_choice *c)
{
	return st->boot.secure_boot.enforcing && c->dkms;
}

/* --stack auto: the inbox stack unless a vendor stack is both possible and useful. */
static int choose_auto(const struct ibup_status *st, const struct ibup_install_opts *o,
		       const struct hw *hw, const struct ibup_expect *x, bool x_found,
		       struct ibup_install_choice *c)
{
	const struct ibup_manifest_row *row;
	bool want_ib = hw->cx4 > 0;

	c->stack = IBUP_STACK_INBOX;
	if (!st->n_devices && x_found && x->ib_hcas > 0 && x->sriov != 0) {
		want_ib = true;
		reason(c, "%s has %d InfiniBand HCA(s) (ConnectX-4 or newer)", x->family,
		       x->ib_hcas);
	}
	if (hw->mana && !hw->cx4 && !hw->cx3 && !want_ib)
		return reason(
			c, "the only RDMA device is MANA: DOCA's ib_core breaks mana_ib; "
			   "the distribution's modules drive it");
	if (hw->cx3 && !hw->cx4)
		return reason(c, "ConnectX-3 (mlx4): DOCA does not support it; the "
				 "distribution's mlx4_ib drives it");
	if (!want_ib)
		return reason(
			c, "no ConnectX-4 or newer device%s: the distribution's stack",
			st->n_devices || o->vm_size ? "" : " seen and no --vm-size");
	if (hw->cx4)
		reason(c, "%u ConnectX-4 or newer RDMA device(s) (mlx5)", hw->cx4);
	if (archive_mofed(c))
		return reason(c, "Azure Linux uses the Mellanox inbox driver and its own "
				 "rdma-core");
	if (st->boot.secure_boot.enforcing && !archive_doca(c))
		return reason(c, "Secure Boot is enforcing: DOCA-OFED's DKMS modules are "
				 "unsigned, the distribution's are signed");
	if (archive_doca(c)) {
		c->stack = IBUP_STACK_DOCA;
		return reason(c, "Ubuntu 26.04 carries Canonical's signed DOCA-OFED");
	}
	row = ibup_manifest_find(o->manifest, c->distro.key, c->arch, IBUP_STACK_DOCA,
				 o->version, "cx4+");
	if (!row)
		return reason(c,
			      "the manifest has no DOCA-OFED row for %s %s: the "
			      "distribution's stack",
			      c->distro.key, c->arch);
	if (!row->sha256 && !o->sha256)
		return reason(
			c,
			"the manifest's DOCA-OFED %s row for %s has no SHA-256: the "
			"distribution's stack (--stack doca --sha256 HEX to use it)",
			row->version, c->distro.key);
	c->stack = IBUP_STACK_DOCA;
	return 0;
}

/* An explicit stack that this hardware or distribution cannot take. */
static int check_asked(const struct ibup_install_opts *o, const struct hw *hw,
		       struct ibup_install_choice *c, struct ibup_install_error *err)
{
	if (c->stack == IBUP_STACK_DOCA && archive_mofed(c))
		return install_refuse(
			err, IBUP_REFUSE_UNSUPPORTED,
			"Use --stack inbox, or --stack mofed for Azure Linux's "
			"mlnx-ofa_kernel packages.",
			"DOCA-OFED is not installed on Azure Linux: it uses its own "
			"mlnx-ofa_kernel packages");
	if (c->stack == IBUP_STACK_DOCA && hw->mana && !hw->cx4 && !hw->cx3)
		return install_refuse(
			err, IBUP_REFUSE_UNSUPPORTED,
			"Use --stack inbox: the distribution's modules drive MANA.",
			"the only RDMA device is MANA: DOCA's ib_core breaks mana_ib");
	if (c->stack == IBUP_STACK_DOCA && hw->cx3)
		return install_refuse(
			err, IBUP_REFUSE_UNSUPPORTED,
			"Use --stack inbox (mlx4_ib), or --stack mofed for MLNX_OFED 4.9 LTS "
			"on kernels before 5.6.",
			"DOCA-OFED does not support ConnectX-3 (its device list starts at "
			"ConnectX-4)");
	(void)o;
	return 0;
}

/* The vendor file: the manifest's row, or --url; --sha256 overrides or supplies. */
static int resolve_vendor(const struct ibup_install_opts *o, const struct hw *hw,
			  struct ibup_install_choice *c, struct ibup_install_error *err)
{
	const char *devices = hw->cx3 && !hw->cx4 ? "cx3" : "cx4+";
	const char *name = c->stack == IBUP_STACK_DOCA ? "DOCA-OFED" : "MLNX_OFED";

	if ((c->stack == IBUP_STACK_DOCA && archive_doca(c)) ||
	    (c->stack == IBUP_STACK_MOFED && archive_mofed(c)))
		return reason(c, "%s comes from %s's own repositories", name,
			      c->distro.name);
	if (o->url && !o->sha256)
		return install_refuse(
			err, IBUP_REFUSE_USAGE, NULL,
			"--url needs --sha256: nothing is downloaded unverified");
	c->row = ibup_manifest_find(o->manifest, c->distro.key, c->arch, c->stack,
				    o->version,
				    c->stack == IBUP_STACK_MOFED ? devices : NULL);
	if (!c->row && !o->url && !(o->from && o->sha256))
		return install_refuse(
			err, IBUP_REFUSE_UNSUPPORTED,
			"Give the file with --url URL --sha256 HEX (or --from FILE --sha256 "
			"HEX), or a manifest with --manifest FILE.",
			"the %s manifest has no %s%s%s row for %s %s%s",
			o->manifest->origin, name, o->version ? " " : "",
			o->version ? o->version : "", c->distro.key, c->arch,
			strcmp(devices, "cx3") == 0 ? " (ConnectX-3)" : "");
	c->version = strdup(c->row ? c->row->version : o->version ? o->version : "given");
	/* --from without a row: the file's own name stands for the URL's. */
	c->url = strdup(o->url ? o->url : c->row ? c->row->url : o->from);
	if (!c->version || !c->url)
		return -ENOMEM;
	if (!o->sha256 && !c->row->sha256)
		return install_refuse(
			err, IBUP_REFUSE_USAGE,
			"Take the SHA-256 from NVIDIA's download page and pass --sha256 HEX.",
			"the manifest's %s %s row for %s has no SHA-256 (no source gives it): "
			"--sha256 is required",
			name, c->row->version, c->distro.key);
	c->sha256 = strdup(o->sha256 ? o->sha256 : c->row->sha256);
	if (!c->sha256)
		return -ENOMEM;
	if (c->row && c->row->max_kernel && c->kernel &&
	    strverscmp(c->kernel, c->row->max_kernel) > 0 &&
	    strncmp(c->kernel, c->row->max_kernel, strlen(c->row->max_kernel)) != 0)
		return install_refuse(
			err, IBUP_REFUSE_UNSUPPORTED,
			"Use --stack inbox: the distribution's mlx4_ib drives ConnectX-3.",
			"MLNX_OFED %s builds on kernels up to %s only; the target kernel is "
			"%s",
			c->row->version, c->row->max_kernel, c->kernel);
	if (o->url)
		return reason(c, "%s %s from --url", name, c->version);
	if (!c->row)
		return reason(c, "%s from %s (--from)", name, o->from);
	return reason(c, "%s %s: the %s manifest's %s row for %s %s", name, c->version,
		      o->manifest->origin, o->version ? "" : "newest", c->distro.key,
		      c->arch);
}

static int kernel_warnings(const struct ibup_status *st, const struct ibup_expect *x,
			   bool x_found, struct ibup_install_choice *c)
{
	int r = 0;

	if (c->kernel && strcmp(c->distro.family, "debian") == 0 &&
	    strstr(c->kernel, "-cloud-") && (!x_found || x->ipoib != 0))
		r = warning(c,
			    "Debian's cloud kernel %s has no IPoIB "
			    "(CONFIG_INFINIBAND_IPOIB is not set): verbs work, ib0 "
			    "does not; linux-image-amd64 has it",
			    c->kernel);
	for (unsigned i = 0; r >= 0 && i < st->boot.n_newer; i++) {
		const struct ibup_next_kernel *k = &st->boot.newer[i];

		if (k->missing && *k->missing)
			r = warning(c,
				    "the next boot may pick kernel %s, which lacks %s: "
				    "it comes up on the distribution's modules",
				    k->kernel, k->missing);
	}
	return r;
}

int ibup_install_choose(struct ibup_ctx *ctx, const struct ibup_status *st,
			const struct ibup_install_opts *o, struct ibup_install_choice *c,
			struct ibup_install_error *err)
{
	struct ibup_expect x = { 0 };
	const char *size = o->vm_size ? o->vm_size : st->platform.vm_size;
	bool x_found = false;
	struct utsname u;
	struct hw hw;
	int r;

	*c = (struct ibup_install_choice){ 0 };
	*err = (struct ibup_install_error){ 0 };
	r = read_distro(ctx, c, err);
	if (r < 0)
		return r;
	if (uname(&u) < 0)
		return -errno;
	c->arch = strdup(o->arch ? o->arch : u.machine);
	if (!c->arch)
		return -ENOMEM;
	r = target_kernel(ctx, st, o, c);
	if (r < 0)
		return r;
	if (size) {
		r = ibup_expect_lookup(ctx, size, &x);
		if (r < 0)
			return r;
		x_found = r > 0;
	}
	count_hw(st, &hw);
	c->stack = o->stack;
	if (o->remove) {
		/* --remove takes away what is there: a vendor stack, else the inbox tools. */
		const char *have = installed_stack(st);

		if (have && strcmp(have, "inbox") != 0)
			ibup_stack_from_name(have, &c->stack);
		else if (c->stack == IBUP_STACK_AUTO)
			c->stack = IBUP_STACK_INBOX;
		r = have ? 0 : reason(c, "--remove: no RDMA stack is installed");
	} else if (c->stack == IBUP_STACK_AUTO)
		r = choose_auto(st, o, &hw, &x, x_found, c);
	else
		r = reason(c, "--stack %s", ibup_stack_name(c->stack));
	if (r >= 0 && !o->remove)
		r = check_asked(o, &hw, c, err);
	/* The stack asked for is there already (of the version asked): nothing to do. */
	if (r >= 0 && !o->version)
		r = weigh_installed(st, o, c, err);
	if (r >= 0 && !o->remove && !c->same &&
	    (c->stack == IBUP_STACK_DOCA || c->stack == IBUP_STACK_MOFED))
		r = resolve_vendor(o, &hw, c, err);
	/* DOCA ≥ 3.2 builds every module with DKMS; MLNX_OFED's are built here too. */
	c->dkms = (c->stack == IBUP_STACK_DOCA && !archive_doca(c)) ||
		  (c->stack == IBUP_STACK_MOFED && !archive_mofed(c));
	if (r >= 0 && !o->remove && !c->same && secure_boot_blocks(st, c) &&
	    o->secure_boot == IBUP_SB_REFUSE) {
		char hint[sizeof(err->hint)];

		secure_boot_hint(c, hint, sizeof(hint));
		r = install_refuse(
			err, IBUP_REFUSE_UNSUPPORTED, hint,
			"Secure Boot is enforcing and %s's kernel modules are "
			"built on this host (%s), unsigned: the kernel would refuse "
			"them (\"Key was rejected by service\")",
			c->stack == IBUP_STACK_DOCA ? "DOCA-OFED" : "MLNX_OFED",
			c->stack == IBUP_STACK_DOCA ? "DKMS" : "--add-kernel-support");
	}
	if (r >= 0 && o->version)
		r = weigh_installed(st, o, c, err);
	if (r >= 0)
		r = kernel_warnings(st, &x, x_found, c);
	if (x_found)
		ibup_expect_release(&x);
	return r;
}

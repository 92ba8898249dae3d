// SPDX-License-Identifier: MIT
/*
 * NVIDIA's stacks. DOCA-OFED: the doca-host package (a local repository) downloaded and
 * verified, installed with the package manager, then `doca-ofed` with the target
 * kernel's headers, then `dkms status` checked, since package scripts hide DKMS build
 * failures. MLNX_OFED: the tarball downloaded and verified, unpacked, and
 * `mlnxofedinstall --add-kernel-support` for the target kernel. The distributions that
 * carry these stacks themselves (Ubuntu 26.04's signed DOCA-OFED, Azure Linux's
 * mlnx-ofa_kernel) install from their own repositories.
 */
#include <stdio.h>
#include <string.h>

#include "install-int.h"
#include "internal.h"
#include "banned.h"

#define FROM_MAX_BYTES (UINT64_C(8) << 30)

const char *dkms_module(const struct ibup_distro *d)
{
	return d->pm == IBUP_PM_APT ? "mlnx-ofed-kernel" : "mlnx-ofa_kernel";
}

const char *ibup_mofed_exit_meaning(int code)
{
	/* mlnxofedinstall's documented return codes. */
	switch (code) {
	case 0:
		return "success";
	case 1:
		return "the installation failed";
	case 2:
		return "no firmware was found for the adapter";
	case 22:
		return "an invalid parameter";
	case 28:
		return "no free space";
	case 171:
		return "not applicable to this system";
	case 172:
		return "prerequisites are not met (kernel headers or devel, build tools)";
	case 173:
		return "the mst driver failed to start";
	}
	return NULL;
}

/* The file's base name in a URL, without query or fragment; "" when none. */
static int url_file(const char *url, char **ret)
{
	const char *end = url + strcspn(url, "?#");
	const char *base = url;

	for (const char *p = url; p < end; p++)
		if (*p == '/')
			base = p + 1;
	if (base == end || strncmp(base, "..", (size_t)(end - base)) == 0 ||
	    memchr(base, '\\', (size_t)(end - base)))
		return -EINVAL;
	*ret = strndup(base, (size_t)(end - base));
	return *ret ? 0 : -ENOMEM;
}

/* SHA-256 of a file on this machine (--from). */
static int file_sha256(const char *path, char hex[IBUP_SHA256_HEX])
{
	struct ibup_sha256 s;
	char buf[64 * 1024];
	uint64_t total = 0;
	FILE *f = fopen(path, "re");
	size_t n;
	int r;

	if (!f)
		return -errno;
	r = ibup_sha256_init(&s);
	if (r < 0) {
		fclose(f);
		return r;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && total <= FROM_MAX_BYTES) {
		ibup_sha256_update(&s, buf, n);
		total += n;
	}
	r = ferror(f) ? -EIO : total > FROM_MAX_BYTES ? -EFBIG : 0;
	fclose(f);
	if (r < 0) {
		ibup_sha256_release(&s);
		return r;
	}
	return ibup_sha256_final(&s, hex);
}

/*
 * The vendor file into DOWNLOAD_DIR under the root: downloaded and verified by the
 * executor, or, with --from, verified now and copied. @ret_file (optional): its name;
 * @ret_path: its path for the steps that use it, inside the tree when they run there
 * (@inside: chroot, as apt does), else on this machine (the root in front).
 */
static int plan_fetch(struct ibup_ctx *ctx, struct ibup_plan *plan,
		      const struct ibup_install_opts *o,
		      const struct ibup_install_choice *c, bool inside, char **ret_file,
		      char **ret_path, struct ibup_install_error *err)
{
	_cleanup_free_ char *file = NULL, *rel = NULL, *path = NULL, *why = NULL;
	char have[IBUP_SHA256_HEX];
	int r;

	r = url_file(c->url, &file);
	if (r == -EINVAL)
		return install_refuse(err, IBUP_REFUSE_USAGE, NULL,
				      "the URL '%s' names no file", c->url);
	if (r < 0)
		return r;
	if (asprintf(&rel, DOWNLOAD_DIR "/%s", file) < 0)
		return -ENOMEM;
	r = tree_path(ctx, rel, &path);
	if (r < 0)
		return r;
	if (!o->from) {
		if (asprintf(&why, "the %s package, verified by its SHA-256",
			     c->stack == IBUP_STACK_DOCA ? "doca-host repository"
							 : "MLNX_OFED") < 0)
			return -ENOMEM;
		r = ibup_plan_download(plan, c->url, c->sha256, 0, rel, why);
	} else {
		r = file_sha256(o->from, have);
		if (r < 0)
			return install_refuse(err, IBUP_REFUSE_FAILURE, NULL,
					      "cannot read '%s': %s", o->from,
					      strerror(-r));
		if (strcmp(have, c->sha256) != 0)
			return install_refuse(
				err, IBUP_REFUSE_FAILURE, NULL,
				"'%s' is not the file asked for: its SHA-256 is %s, "
				"expected %s",
				o->from, have, c->sha256);
		ibup_plan_input(plan, "from-sha256", have, strlen(have));
		r = ibup_plan_run(plan,
				  (const char *const[]){ "install", "-D", "-m", "0644",
							 o->from, path, NULL },
				  NULL, INSTALL_TIMEOUT_MS, NULL, 0,
				  "the file given with --from (its SHA-256 checked)");
	}
	if (r < 0)
		return r;
	if (inside) {
		free(path);
		if (asprintf(&path, "/%s", rel) < 0) {
			path = NULL;
			return -ENOMEM;
		}
	}
	if (ret_file)
		*ret_file = TAKE_PTR(file);
	*ret_path = TAKE_PTR(path);
	return 0;
}

/* `dkms status` for the target kernel: "…, KERNEL, ARCH: installed". */
static int plan_dkms_check(struct ibup_ctx *ctx, struct ibup_plan *plan,
			   const struct ibup_install_choice *c)
{
	_cleanup_free_ char *script = NULL, *why = NULL;
	const char *mod = dkms_module(&c->distro);

	if (!c->kernel)
		return 0;
	if (asprintf(&script, "dkms status -m %s -k %s | grep -q \": installed\"", mod,
		     c->kernel) < 0 ||
	    asprintf(&why,
		     "DKMS built %s for %s (package scripts hide DKMS build failures; "
		     "see /var/lib/dkms/%s/*/build/make.log)",
		     mod, c->kernel, mod) < 0)
		return -ENOMEM;
	return plan_run_in_tree(ctx, plan,
				(const char *const[]){ "sh", "-c", script, NULL }, NULL,
				0, 120000, why);
}

/*
 * dnf --installroot=R reads R/etc/yum.repos.d but takes file:// baseurls as paths on
 * this machine, not in R: the repository doca-host lays down (its doca.repo says
 * [doca] baseurl=file:///usr/share/doca-host-…/repo) is looked for outside the tree.
 * An administrator building an image gives dnf the repository's path in the tree. That
 * file does not exist when the plan is made (doca-host installs it), but NVIDIA names
 * both from the package: doca-host-VER-BUILD_OFED_DISTRO.ARCH.rpm lays down
 * /usr/share/doca-host-VER-BUILD_OFED_DISTRO/repo, and its repository is "doca". So the
 * plan says it from the verified file's name: --setopt=doca.baseurl=file://R/usr/share/
 * doca-host-VER-BUILD_OFED_DISTRO/repo. On the running system (no root) nothing is
 * needed. Azure Linux (tdnf) never takes the DOCA rows; no SLES row has DOCA; zypper
 * --root, which also takes dir:/ and file:/ URLs outside the tree, would need the same.
 */
static int doca_repo_opts(struct ibup_ctx *ctx, const struct ibup_install_choice *c,
			  struct strv *opts, struct ibup_install_error *err)
{
	_cleanup_free_ char *file = NULL, *repo = NULL;
	const char *root = install_root(ctx), *dot;
	size_t n;
	int r;

	if (!root || c->distro.pm != IBUP_PM_DNF)
		return 0;
	r = url_file(c->url, &file);
	if (r < 0)
		return r;
	n = strlen(file);
	dot = n > 4 && strcmp(file + n - 4, ".rpm") == 0 ? memrchr(file, '.', n - 4)
							 : NULL;
	if (strncmp(file, "doca-host-", 10) != 0 || !dot || dot == file + 10 ||
	    strchr(file, '/'))
		return install_refuse(
			err, IBUP_REFUSE_USAGE, NULL,
			"'%s' is not named as NVIDIA names doca-host "
			"(doca-host-VER-BUILD_OFED_DISTRO.ARCH.rpm): where it puts its "
			"repository in %s is not known",
			file, root);
	r = tree_path(ctx, "usr/share/", &repo);
	if (r < 0)
		return r;
	return strv_addf(opts, "--setopt=doca.baseurl=file://%s%.*s/repo", repo,
			 (int)(dot - file), file);
}

/* Ubuntu's distribution dkms wins over the copy in DOCA's repository (as Azure's images). */
static const char doca_pin[] =
	"# Written by 'ibup install --stack doca': the distribution's dkms, not DOCA's.\n"
	"Package: dkms\n"
	"Pin: release l=DOCA-HOST*\n"
	"Pin-Priority: -1\n";

int plan_doca(struct ibup_ctx *ctx, struct ibup_plan *plan,
	      const struct ibup_install_opts *o, const struct ibup_install_choice *c,
	      struct ibup_install_error *err)
{
	_cleanup_free_ char *local = NULL, *devel = NULL;
	struct strv pkgs = { 0 }, opts = { 0 };
	int r;

	if (!c->url) {
		/* Ubuntu 26.04: Canonical's signed build, from the archive. */
		r = strv_add(&pkgs, "doca-ofed-azure");
		if (r >= 0)
			r = pkg_plan_missing(ctx, plan, &c->distro, &pkgs,
					     "DOCA-OFED, built and signed by Canonical");
		strv_release(&pkgs);
		return r;
	}
	/* The package manager installs the local repository package from its path. */
	r = doca_repo_opts(ctx, c, &opts, err);
	if (r >= 0)
		r = plan_fetch(ctx, plan, o, c, c->distro.pm == IBUP_PM_APT, NULL, &local,
			       err);
	if (r < 0) {
		strv_release(&opts);
		return r;
	}
	r = strv_add(&pkgs, local);
	if (r >= 0)
		r = pkg_plan_install(
			ctx, plan, &c->distro, &pkgs, false,
			"the doca-host local repository (a package pool and its "
			"repository file)");
	strv_release(&pkgs);
	if (r >= 0 && c->distro.pm == IBUP_PM_APT)
		r = ibup_plan_write_file(ctx, plan,
					 "etc/apt/preferences.d/90-ibup-doca-dkms",
					 doca_pin, strlen(doca_pin), 0644,
					 "the distribution's dkms wins over DOCA's copy");
	if (r >= 0)
		r = pkg_plan_update(ctx, plan, &c->distro,
				    "apt reads the doca-host repository");
	if (r >= 0)
		r = kernel_devel_package(c, &devel);
	if (r >= 0 && devel)
		r = strv_add(&pkgs, devel);
	if (r >= 0)
		r = strv_add(&pkgs, "doca-ofed");
	if (r >= 0)
		r = pkg_missing(ctx, plan, &c->distro, &pkgs, false);
	if (r >= 0)
		r = pkg_plan_install_opts(
			ctx, plan, &c->distro, &pkgs, false, &opts,
			"DOCA-OFED (doca-ofed: the MLNX_OFED-like profile) and the "
			"target kernel's headers DKMS builds against");
	strv_release(&pkgs);
	strv_release(&opts);
	if (r >= 0)
		r = plan_dkms_check(ctx, plan, c);
	return r < 0 ? r : 0;
}

/* "MLNX_OFED_LINUX-24.10-4.1.4.0-rhel9.4-x86_64.tgz" → the directory and the tag. */
static int mofed_names(const char *file, const char *version, const char *arch,
		       char **ret_dir, char **ret_tag)
{
	size_t n = strlen(file), vlen = strlen(version), alen = strlen(arch);
	const char *pre = "MLNX_OFED_LINUX-";
	size_t plen = strlen(pre);

	*ret_dir = *ret_tag = NULL;
	if (n > 4 && strcmp(file + n - 4, ".tgz") == 0)
		n -= 4;
	else if (n > 7 && strcmp(file + n - 7, ".tar.gz") == 0)
		n -= 7;
	*ret_dir = strndup(file, n);
	if (!*ret_dir)
		return -ENOMEM;
	if (n > plen + vlen + alen + 2 && strncmp(file, pre, plen) == 0 &&
	    strncmp(file + plen, version, vlen) == 0 && file[plen + vlen] == '-' &&
	    strncmp(file + n - alen, arch, alen) == 0 && file[n - alen - 1] == '-') {
		*ret_tag = strndup(file + plen + vlen + 1, n - plen - vlen - alen - 2);
		if (!*ret_tag)
			return -ENOMEM;
	}
	return 0;
}

/* The installer's step says what its failures mean: its documented exit codes. */
static int mofed_why(char **ret)
{
	static const int codes[] = { 1, 2, 22, 28, 171, 172, 173 };
	char buf[512];
	int n;

	n = snprintf(
		buf, sizeof(buf),
		"MLNX_OFED, its kernel modules built for the target kernel (exit codes:");
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(codes) && n > 0 && (size_t)n < sizeof(buf);
	     i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s %d %s", i ? ";" : "",
			      codes[i], ibup_mofed_exit_meaning(codes[i]));
	if (n < 0 || (size_t)n + 2 > sizeof(buf))
		return -ENOBUFS;
	buf[n] = ')';
	buf[n + 1] = '\0';
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

int plan_mofed(struct ibup_ctx *ctx, struct ibup_plan *plan,
	       const struct ibup_install_opts *o, const struct ibup_install_choice *c,
	       struct ibup_install_error *err)
{
	_cleanup_free_ char *tarball = NULL, *dir = NULL, *tag = NULL, *file = NULL,
			    *unpack = NULL, *installer = NULL, *devel = NULL, *src = NULL,
			    *why = NULL;
	struct strv pkgs = { 0 }, argv = { 0 };
	bool rpm = c->distro.pm != IBUP_PM_APT;
	int r;

	if (!c->url) {
		/* Azure Linux: its own MLNX_OFED kernel packages, tied to its kernel. */
		r = strv_add(&pkgs, "mlnx-ofa_kernel");
		if (r >= 0)
			r = strv_add(&pkgs, "mlnx-ofa_kernel-modules");
		if (r >= 0)
			r = pkg_plan_missing(ctx, plan, &c->distro, &pkgs,
					     "Azure Linux's MLNX_OFED kernel modules "
					     "(mlnx-ofa_kernel)");
		strv_release(&pkgs);
		return r;
	}
	r = plan_fetch(ctx, plan, o, c, false, &file, &tarball, err);
	if (r < 0)
		return r;
	if ((r = mofed_names(file, c->version, c->arch, &dir, &tag)) < 0 ||
	    (r = tree_path(ctx, DOWNLOAD_DIR, &unpack)) < 0)
		return r;
	r = ibup_plan_run(
		plan, (const char *const[]){ "tar", "-xzf", tarball, "-C", unpack, NULL },
		NULL, INSTALL_TIMEOUT_MS, NULL, 0,
		"unpack MLNX_OFED (verified before anything is unpacked)");
	if (r < 0)
		return r;
	/* --add-kernel-support builds against the target kernel's headers or devel. */
	r = kernel_devel_package(c, &devel);
	if (r >= 0 && devel)
		r = strv_add(&pkgs, devel);
	if (r >= 0)
		r = pkg_plan_missing(
			ctx, plan, &c->distro, &pkgs,
			"the target kernel's headers MLNX_OFED builds against");
	strv_release(&pkgs);
	if (r < 0)
		return r;
	if (asprintf(&installer, "/" DOWNLOAD_DIR "/%s/mlnxofedinstall", dir) < 0)
		return -ENOMEM;
	r = strv_add(&argv, installer);
	if (r >= 0 && c->kernel) {
		if (asprintf(&src,
			     rpm ? "/usr/src/kernels/%s" : "/usr/src/linux-headers-%s",
			     c->kernel) < 0)
			r = -ENOMEM;
		if (r >= 0 && (r = strv_add(&argv, "--kernel")) >= 0 &&
		    (r = strv_add(&argv, c->kernel)) >= 0 &&
		    (r = strv_add(&argv, "--kernel-sources")) >= 0)
			r = strv_add(&argv, src);
	}
	if (r >= 0)
		r = strv_add(&argv, "--add-kernel-support");
	if (r >= 0 && rpm)
		r = strv_add(&argv, "--skip-repo");
	/* AlmaLinux and Rocky are installed as the RHEL release the tarball is for. */
	if (r >= 0 && tag && strcmp(c->distro.family, "rhel") == 0 &&
	    strcmp(c->distro.id, "rhel") != 0 && (r = strv_add(&argv, "--distro")) >= 0)
		r = strv_add(&argv, tag);
	if (r >= 0 && (r = strv_add(&argv, "--skip-unsupported-devices-check")) >= 0 &&
	    (r = strv_add(&argv, "--without-fw-update")) >= 0)
		r = strv_add(&argv, "--force");
	if (r >= 0)
		r = mofed_why(&why);
	if (r >= 0)
		r = plan_run_in_tree(ctx, plan, (const char *const *)argv.v, NULL, 0,
				     INSTALL_TIMEOUT_MS, why);
	if (r >= 0) /* its failure says what the installer's code means */
		plan->steps[plan->n - 1].exit_meaning = ibup_mofed_exit_meaning;
	strv_release(&argv);
	return r < 0 ? r : 0;
}

int plan_vendor_uninstall(struct ibup_ctx *ctx, struct ibup_plan *plan, const char *why)
{
	return plan_run_in_tree(
		ctx, plan,
		(const char *const[]){ "/usr/sbin/ofed_uninstall.sh", "--force", NULL },
		NULL, 0, INSTALL_TIMEOUT_MS, why);
}

// SPDX-License-Identifier: MIT
/*
 * Package managers as an administrator types them: apt-get, dnf, zypper and tdnf on the
 * running system, and their forms that work inside an image tree (chroot for apt,
 * --installroot for dnf and tdnf, --root for zypper). What is installed already is
 * asked of the tree's own database (dpkg-query --admindir, rpm --root) and not planned
 * again, so a second install plans nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "install-int.h"
#include "internal.h"
#include "banned.h"

#define QUERY_TIMEOUT_MS 60000
#define QUERY_OUT_MAX (256 * 1024)

int strv_add(struct strv *s, const char *str)
{
	char **v = realloc(s->v, (s->n + 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->v = v;
	v[s->n] = strdup(str);
	if (!v[s->n])
		return -ENOMEM;
	v[++s->n] = NULL;
	return 0;
}

int strv_addf(struct strv *s, const char *fmt, ...)
{
	_cleanup_free_ char *str = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&str, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return strv_add(s, str);
}

void strv_release(struct strv *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strv){ 0 };
}

const char *install_root(struct ibup_ctx *ctx)
{
	return ibup_ctx_is_live(ctx) ? NULL : ibup_ctx_get_root(ctx);
}

int install_refuse(struct ibup_install_error *err, enum ibup_install_refusal kind,
		   const char *hint, const char *fmt, ...)
{
	va_list ap;

	err->kind = kind;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	snprintf(err->hint, sizeof(err->hint), "%s", hint ? hint : "");
	return -EPERM;
}

int tree_path(struct ibup_ctx *ctx, const char *rel, char **ret)
{
	const char *root = install_root(ctx);
	size_t n = root ? strlen(root) : 0;

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (asprintf(ret, "%.*s/%s", (int)n, root ? root : "", rel) < 0)
		return -ENOMEM;
	return 0;
}

int pkg_check_tree(struct ibup_ctx *ctx, const struct ibup_distro *d,
		   struct ibup_install_error *err)
{
	if (!install_root(ctx) || d->pm != IBUP_PM_APT)
		return 0;
	/* apt works inside the tree through chroot: the tree needs its own apt. */
	if (ibup_path_exists(ctx, "usr/bin/apt-get") > 0)
		return 0;
	return install_refuse(
		err, IBUP_REFUSE_FAILURE,
		"Build the tree with apt (debootstrap's minbase has it).",
		"the tree %s has no usr/bin/apt-get: packages are installed "
		"there with 'chroot %s apt-get'",
		install_root(ctx), install_root(ctx));
}

/* The command's words before the packages, for @d under the context's root. */
static int pm_prefix(struct ibup_ctx *ctx, const struct ibup_distro *d, bool remove,
		     struct strv *argv)
{
	const char *root = install_root(ctx);
	const char *verb = remove ? "remove" : "install";
	int r = 0;

	switch (d->pm) {
	case IBUP_PM_APT:
		if (root && ((r = strv_add(argv, "chroot")) < 0 ||
			     (r = strv_add(argv, root)) < 0))
			return r;
		if ((r = strv_add(argv, "apt-get")) < 0 ||
		    (r = strv_add(argv, verb)) < 0 || (r = strv_add(argv, "-y")) < 0)
			return r;
		return remove ? 0 : strv_add(argv, "--no-install-recommends");
	case IBUP_PM_DNF:
		if ((r = strv_add(argv, "dnf")) < 0 || (r = strv_add(argv, "-y")) < 0)
			return r;
		if (root && ((r = strv_addf(argv, "--installroot=%s", root)) < 0 ||
			     (r = strv_addf(argv, "--releasever=%s", d->version)) < 0))
			return r;
		return strv_add(argv, verb);
	case IBUP_PM_ZYPPER:
		if ((r = strv_add(argv, "zypper")) < 0 ||
		    (r = strv_add(argv, "--non-interactive")) < 0)
			return r;
		if (root && ((r = strv_add(argv, "--root")) < 0 ||
			     (r = strv_add(argv, root)) < 0))
			return r;
		if ((r = strv_add(argv, verb)) < 0)
			return r;
		return remove ? 0 : strv_add(argv, "--no-recommends");
	case IBUP_PM_TDNF:
		if ((r = strv_add(argv, "tdnf")) < 0 || (r = strv_add(argv, "-y")) < 0)
			return r;
		if (root && ((r = strv_add(argv, "--installroot")) < 0 ||
			     (r = strv_add(argv, root)) < 0))
			return r;
		return strv_add(argv, verb);
	}
	return -EINVAL;
}

static const char *const apt_env[] = { "DEBIAN_FRONTEND=noninteractive", NULL };

int pkg_plan_install(struct ibup_ctx *ctx, struct ibup_plan *plan,
		     const struct ibup_distro *d, const struct strv *pkgs, bool remove,
		     const char *why)
{
	return pkg_plan_install_opts(ctx, plan, d, pkgs, remove, NULL, why);
}

int pkg_plan_install_opts(struct ibup_ctx *ctx, struct ibup_plan *plan,
			  const struct ibup_distro *d, const struct strv *pkgs,
			  bool remove, const struct strv *opts, const char *why)
{
	struct strv argv = { 0 };
	int r;

	if (!pkgs->n)
		return 0;
	r = pm_prefix(ctx, d, remove, &argv);
	for (unsigned i = 0; r >= 0 && opts && i < opts->n; i++)
		r = strv_add(&argv, opts->v[i]);
	/* A package file given by path was verified by its SHA-256 against the manifest;
	 * zypper refuses one its keyring cannot verify unless told. */
	for (unsigned i = 0; r >= 0 && d->pm == IBUP_PM_ZYPPER && !remove && i < pkgs->n;
	     i++)
		if (strchr(pkgs->v[i], '/')) {
			r = strv_add(&argv, "--allow-unsigned-rpm");
			break;
		}
	for (unsigned i = 0; r >= 0 && i < pkgs->n; i++)
		r = strv_add(&argv, pkgs->v[i]);
	if (r >= 0)
		r = ibup_plan_run(plan, (const char *const *)argv.v,
				  d->pm == IBUP_PM_APT ? apt_env : NULL,
				  INSTALL_TIMEOUT_MS, NULL, 0, why);
	strv_release(&argv);
	return r < 0 ? r : 0;
}

int pkg_plan_update(struct ibup_ctx *ctx, struct ibup_plan *plan,
		    const struct ibup_distro *d, const char *why)
{
	const char *root = install_root(ctx);

	/* dnf, zypper and tdnf refresh their metadata when it is stale. */
	if (d->pm != IBUP_PM_APT)
		return 0;
	if (root)
		return ibup_plan_run(plan,
				     (const char *const[]){ "chroot", root, "apt-get",
							    "update", NULL },
				     apt_env, UPDATE_TIMEOUT_MS, NULL, 0, why);
	return ibup_plan_run(plan, (const char *const[]){ "apt-get", "update", NULL },
			     apt_env, UPDATE_TIMEOUT_MS, NULL, 0, why);
}

int plan_run_in_tree(struct ibup_ctx *ctx, struct ibup_plan *plan,
		     const char *const argv[], const int *ok, unsigned n_ok,
		     unsigned timeout_ms, const char *why)
{
	const char *root = install_root(ctx);
	struct strv v = { 0 };
	int r = 0;

	if (root && ((r = strv_add(&v, "chroot")) < 0 || (r = strv_add(&v, root)) < 0))
		goto out;
	for (unsigned i = 0; argv[i]; i++)
		if ((r = strv_add(&v, argv[i])) < 0)
			goto out;
	r = ibup_plan_run(plan, (const char *const *)v.v, NULL, timeout_ms, ok, n_ok,
			  why);
out:
	strv_release(&v);
	return r < 0 ? r : 0;
}

/* Is @name among @installed's lines ("NAME" or "NAME FULLNAME" words)? */
static bool listed(const char *installed, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = installed; l && *l;) {
		const char *eol = strchrnul(l, '\n');

		for (const char *w = l; w < eol;) {
			const char *end = w + strcspn(w, " \n");

			if ((size_t)(end - w) == n && strncmp(w, name, n) == 0)
				return true;
			w = *end == ' ' ? end + 1 : end;
		}
		l = *eol ? eol + 1 : eol;
	}
	return false;
}

/* Where the tree keeps its rpm database: RHEL 9 and SLES, RHEL 8, and rpm's default on
 * Debian (the build hosts of image trees), relative to the root; NULL when none. */
static const char *rpm_dbpath(struct ibup_ctx *ctx)
{
	static const char *const dirs[] = { "usr/lib/sysimage/rpm", "var/lib/rpm",
					    "root/.rpmdb" };

	for (size_t i = 0; i < IBUP_ARRAY_SIZE(dirs); i++)
		if (ibup_path_exists(ctx, "%s/rpmdb.sqlite", dirs[i]) > 0 ||
		    ibup_path_exists(ctx, "%s/Packages", dirs[i]) > 0 ||
		    ibup_path_exists(ctx, "%s/Packages.db", dirs[i]) > 0)
			return dirs[i];
	return NULL;
}

/* Keep the lines that start "installed " (without it): the packages installed whole
 * (dpkg's config-files or half-installed, rpm's "package X is not installed" are not). */
static void keep_installed_lines(char *text)
{
	char *out = text;

	for (const char *l = text; *l;) {
		const char *eol = strchrnul(l, '\n');
		size_t n = (size_t)(eol - l);

		if (n > 10 && strncmp(l, "installed ", 10) == 0) {
			memmove(out, l + 10, n - 10);
			out += n - 10;
			*out++ = '\n';
		}
		l = *eol ? eol + 1 : eol;
	}
	*out = '\0';
}

/* The installed ones of @pkgs, one per line ("NAME", or "NAME NEVRA" for rpm); "" when
 * the tree has no package database. */
static int query_installed(struct ibup_ctx *ctx, const struct ibup_distro *d,
			   const struct strv *pkgs, char **ret)
{
	_cleanup_free_ char *db = NULL;
	struct ibup_spawn_result res;
	struct strv argv = { 0 };
	const char *root = install_root(ctx), *dbpath = NULL;
	bool deb = d->pm == IBUP_PM_APT;
	int r;

	*ret = NULL;
	if (deb ? ibup_path_exists(ctx, "var/lib/dpkg/status") <= 0
		: !(dbpath = rpm_dbpath(ctx)))
		return (*ret = strdup("")) ? 0 : -ENOMEM;
	if (deb) {
		r = strv_add(&argv, "dpkg-query");
		if (r >= 0 && root) {
			r = tree_path(ctx, "var/lib/dpkg", &db);
			if (r >= 0)
				r = strv_addf(&argv, "--admindir=%s", db);
		}
		if (r >= 0)
			r = strv_add(&argv, "-W");
		if (r >= 0)
			r = strv_add(&argv,
				     "--showformat=${db:Status-Status} ${Package}\\n");
	} else {
		r = strv_add(&argv, "rpm");
		if (r >= 0)
			r = strv_add(&argv, "-q");
		if (r >= 0 && root && (r = strv_add(&argv, "--root")) >= 0)
			r = strv_add(&argv, root);
		if (r >= 0 && (r = strv_add(&argv, "--dbpath")) >= 0)
			r = strv_addf(&argv, "/%s", dbpath);
		if (r >= 0)
			r = strv_add(&argv, "--qf");
		if (r >= 0)
			r = strv_add(&argv, "installed %{NAME} "
					    "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n");
	}
	for (unsigned i = 0; r >= 0 && i < pkgs->n; i++)
		r = strv_add(&argv, pkgs->v[i]);
	if (r >= 0)
		r = ibup_spawn((const char *const *)argv.v, QUERY_TIMEOUT_MS,
			       QUERY_OUT_MAX, &res);
	strv_release(&argv);
	if (r < 0)
		return r;
	if (res.timed_out || res.truncated) {
		ibup_spawn_result_release(&res);
		return -ETIMEDOUT;
	}
	if (res.out) {
		keep_installed_lines(res.out);
		*ret = res.out;
		res.out = NULL;
	} else if (!(*ret = strdup(""))) {
		r = -ENOMEM;
	}
	ibup_spawn_result_release(&res);
	return r < 0 ? r : 0;
}

int pkg_missing(struct ibup_ctx *ctx, struct ibup_plan *plan, const struct ibup_distro *d,
		struct strv *pkgs, bool keep_installed)
{
	_cleanup_free_ char *installed = NULL;
	struct strv keep = { 0 };
	int r;

	if (!pkgs->n)
		return 0;
	r = query_installed(ctx, d, pkgs, &installed);
	if (r < 0)
		return r;
	ibup_plan_input(plan, "installed-packages", installed, strlen(installed));
	for (unsigned i = 0; i < pkgs->n; i++) {
		bool have = listed(installed, pkgs->v[i]);

		if (have == keep_installed)
			r = strv_add(&keep, pkgs->v[i]);
		else if (have)
			r = ibup_plan_note(plan, NULL, "package %s is installed",
					   pkgs->v[i]);
		if (r < 0) {
			strv_release(&keep);
			return r;
		}
	}
	strv_release(pkgs);
	*pkgs = keep;
	return 0;
}

int pkg_plan_missing(struct ibup_ctx *ctx, struct ibup_plan *plan,
		     const struct ibup_distro *d, struct strv *pkgs, const char *why)
{
	int r = pkg_missing(ctx, plan, d, pkgs, false);

	if (r >= 0 && pkgs->n)
		r = pkg_plan_update(ctx, plan, d, "the package lists are current");
	if (r >= 0)
		r = pkg_plan_install(ctx, plan, d, pkgs, false, why);
	return r < 0 ? r : 0;
}

// SPDX-License-Identifier: MIT
/*
 * The inbox stack: the distribution's rdma-core with the verbs providers named
 * explicitly (Debian and Ubuntu only recommend them, and without them no device is
 * found), the diagnostics, perftest and the rdmacm utilities, and the kernel's module
 * package where the distribution splits the RDMA modules out of the base one.
 */
#include <stdio.h>
#include <string.h>

#include "install-int.h"
#include "internal.h"
#include "banned.h"

static const char *const apt_pkgs[] = { "rdma-core",
					"ibverbs-providers",
					"ibverbs-utils",
					"infiniband-diags",
					"perftest",
					"rdmacm-utils",
					NULL };
static const char *const rpm_pkgs[] = { "rdma-core",	    "libibverbs-utils",
					"infiniband-diags", "perftest",
					"librdmacm-utils",  NULL };

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool has_mana(const struct ibup_status *st)
{
	for (unsigned i = 0; i < st->n_devices; i++)
		if (st->devices[i].kind == IBUP_KIND_MANA)
			return true;
	return false;
}

int inbox_packages(const struct ibup_install_choice *c, const struct ibup_status *st,
		   struct strv *pkgs)
{
	const char *const *names = c->distro.pm == IBUP_PM_APT ? apt_pkgs : rpm_pkgs;
	const char *k = c->kernel;
	int r = 0;

	for (unsigned i = 0; r >= 0 && names[i]; i++)
		r = strv_add(pkgs, names[i]);
	if (r < 0 || !k)
		return r;
	if (strcmp(c->distro.family, "ubuntu") == 0) {
		/*
		 * linux-azure keeps mlx4/mlx5, ib_core, ipoib and umad in the base
		 * modules package, but mana_ib in extra; the generic kernels put mlx5_ib,
		 * ib_ipoib, ib_umad and ib_uverbs in extra.
		 */
		if (!ends_with(k, "-azure") || has_mana(st))
			r = strv_addf(pkgs, "linux-modules-extra-%s", k);
	} else if (strcmp(c->distro.family, "rhel") == 0) {
		/* As Azure's images do: the extra modules of the target kernel. */
		r = strv_addf(pkgs, "kernel-modules-extra-%s", k);
	}
	return r;
}

int kernel_devel_package(const struct ibup_install_choice *c, char **ret)
{
	const char *k = c->kernel;
	int r = 0;

	*ret = NULL;
	if (!k)
		return 0;
	switch (c->distro.pm) {
	case IBUP_PM_APT:
		r = asprintf(ret, "linux-headers-%s", k);
		break;
	case IBUP_PM_DNF:
	case IBUP_PM_TDNF:
		r = asprintf(ret, "kernel-devel-%s", k);
		break;
	case IBUP_PM_ZYPPER:
		/* SLES names the flavour's devel package, not the release. */
		r = asprintf(ret, "kernel-%s-devel",
			     ends_with(k, "-azure") ? "azure" : "default");
		break;
	}
	return r < 0 ? -ENOMEM : 0;
}

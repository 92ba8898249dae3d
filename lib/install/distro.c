// SPDX-License-Identifier: MIT
/*
 * Which distribution an image is, from its os-release: the family, the package manager
 * and the key the manifest's rows are filed under. Only the releases ibup knows how to
 * install on are accepted; anything else is named back with the supported list.
 */
#include <stdio.h>
#include <string.h>

#include "ibup/install.h"
#include "internal.h"
#include "banned.h"

const char ibup_install_supported[] =
	"Ubuntu 20.04, 22.04, 24.04, 26.04; Debian 12; RHEL, AlmaLinux, Rocky Linux 8 "
	"and 9; SLES 15 SP5 and SP6; Azure Linux 3";

const char *ibup_pkg_manager_name(enum ibup_pkg_manager pm)
{
	static const char *const names[] = { "apt", "dnf", "zypper", "tdnf" };

	return (unsigned)pm < IBUP_ARRAY_SIZE(names) ? names[pm] : "?";
}

static const struct family {
	const char *id;
	const char *family;
	enum ibup_pkg_manager pm;
	const char *versions; /* accepted "major.minor" (or "major") , space-separated */
	bool major_only; /* releases are named by their major version only */
} families[] = {
	{ "ubuntu", "ubuntu", IBUP_PM_APT, "20.04 22.04 24.04 26.04", false },
	{ "debian", "debian", IBUP_PM_APT, "12", true },
	{ "rhel", "rhel", IBUP_PM_DNF, "8 9", true },
	{ "almalinux", "rhel", IBUP_PM_DNF, "8 9", true },
	{ "rocky", "rhel", IBUP_PM_DNF, "8 9", true },
	{ "sles", "sles", IBUP_PM_ZYPPER, "15.5 15.6", false },
	{ "sle_hpc", "sles", IBUP_PM_ZYPPER, "15.5 15.6", false },
	{ "azurelinux", "azurelinux", IBUP_PM_TDNF, "3", true },
};

/* "22.04" → 22, 4; "9" → 9, 0; "15-SP6" is not a VERSION_ID form (SLES says 15.6). */
static int parse_version(const char *v, unsigned *major, unsigned *minor)
{
	char *end;
	unsigned long a, b = 0;

	if (!v || !*v || *v < '0' || *v > '9')
		return -EINVAL;
	a = strtoul(v, &end, 10);
	if (*end == '.') {
		if (end[1] < '0' || end[1] > '9')
			return -EINVAL;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end || a > 1000 || b > 1000)
		return -EINVAL;
	*major = a;
	*minor = b;
	return 0;
}

static bool version_listed(const struct family *f, unsigned major, unsigned minor)
{
	char want[24];
	int n;

	/* Ubuntu's minor has two digits ("22.04"), SLES' one ("15.6"). */
	if (f->major_only)
		n = snprintf(want, sizeof(want), "%u", major);
	else if (strcmp(f->family, "sles") == 0)
		n = snprintf(want, sizeof(want), "%u.%u", major, minor);
	else
		n = snprintf(want, sizeof(want), "%u.%02u", major, minor);
	for (const char *p = f->versions; (p = strstr(p, want)); p += n)
		if ((p == f->versions || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

static void make_key(struct ibup_distro *d)
{
	if (strcmp(d->family, "ubuntu") == 0)
		snprintf(d->key, sizeof(d->key), "ubuntu%u.%02u", d->major, d->minor);
	else if (strcmp(d->family, "sles") == 0)
		snprintf(d->key, sizeof(d->key), "sles%usp%u", d->major, d->minor);
	else if (strcmp(d->family, "azurelinux") == 0)
		snprintf(d->key, sizeof(d->key), "azurelinux%u.0", d->major);
	else
		snprintf(d->key, sizeof(d->key), "%s%u", d->family, d->major);
}

void ibup_distro_release(struct ibup_distro *d)
{
	free(d->id);
	free(d->version);
	free(d->name);
	*d = (struct ibup_distro){ 0 };
}

int ibup_distro_parse(const char *os_release, struct ibup_distro *ret,
		      struct ibup_diag *reterr_diag)
{
	struct ibup_distro d = { 0 };
	const struct family *f = NULL;
	int r;

	*ret = (struct ibup_distro){ 0 };
	r = ibup_os_release_value(os_release, "ID", &d.id);
	if (r == -ENOENT) {
		snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
			 "os-release has no ID");
		return -EBADMSG;
	}
	if (r < 0)
		return r;
	r = ibup_os_release_value(os_release, "VERSION_ID", &d.version);
	if (r < 0 && r != -ENOENT)
		goto fail;
	r = ibup_os_release_value(os_release, "PRETTY_NAME", &d.name);
	if (r == -ENOENT)
		r = asprintf(&d.name, "%s %s", d.id, d.version ? d.version : "") < 0
			    ? -ENOMEM
			    : 0;
	if (r < 0)
		goto fail;
	ibup_sanitize(d.id);
	ibup_sanitize(d.name);
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(families); i++)
		if (strcmp(d.id, families[i].id) == 0)
			f = &families[i];
	if (!f || parse_version(d.version, &d.major, &d.minor) < 0 ||
	    !version_listed(f, d.major, d.minor)) {
		snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
			 "%s (ID=%s VERSION_ID=%s)", d.name, d.id,
			 d.version ? ibup_sanitize(d.version) : "none");
		r = -EPROTONOSUPPORT;
		goto fail;
	}
	d.family = f->family;
	d.pm = f->pm;
	make_key(&d);
	*ret = d;
	return 0;
fail:
	ibup_distro_release(&d);
	return r;
}

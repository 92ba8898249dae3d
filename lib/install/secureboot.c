// SPDX-License-Identifier: MIT
/*
 * Secure Boot and modules built here: DKMS builds DOCA-OFED's and MLNX_OFED's modules on
 * the host, unsigned by NVIDIA, so an enforcing kernel refuses them ("Key was rejected by
 * service"). The ways out, and `--secure-boot enroll`: DKMS signs with its own key, which
 * is imported into shim's MOK list and confirmed at the boot console (MokManager).
 */
#include <stdio.h>
#include <string.h>

#include "install-int.h"
#include "internal.h"
#include "banned.h"

#define DKMS_FRAMEWORK "etc/dkms/framework.conf"

void secure_boot_hint(const struct ibup_install_choice *c, char *buf, size_t size)
{
	snprintf(
		buf, size,
		"Ways out:\n"
		"  --stack inbox: %s's own modules, signed by the distribution%s\n"
		"  on Azure: deallocate the VM, 'az vm update --resource-group RG --name VM "
		"--enable-secure-boot false', start it\n"
		"  --secure-boot enroll: import DKMS's signing key into MOK; the enrollment "
		"is confirmed at the boot console (MokManager) on the next boot",
		c->distro.name,
		strcmp(c->distro.key, "ubuntu26.04") == 0
			? ""
			: "\n  Ubuntu 26.04: Canonical's signed DOCA-OFED (--stack doca)");
}

/* DKMS's certificate: framework.conf's mok_certificate, else the distribution's place. */
static int mok_certificate(struct ibup_ctx *ctx, const struct ibup_install_choice *c,
			   struct ibup_plan *plan, char **ret)
{
	_cleanup_free_ char *text = NULL;
	int r;

	*ret = NULL;
	r = ibup_read_file(ctx, DKMS_FRAMEWORK, IBUP_CONF_MAX, &text, NULL);
	if (r >= 0) {
		ibup_plan_input(plan, DKMS_FRAMEWORK, text, strlen(text));
		r = ibup_conf_value(text, "mok_certificate", ret);
		if (r >= 0 && *ret && (**ret == '"' || **ret == '\'')) {
			size_t n = strlen(*ret);

			memmove(*ret, *ret + 1, n);
			if (n > 1 && ((*ret)[n - 2] == '"' || (*ret)[n - 2] == '\''))
				(*ret)[n - 2] = '\0';
		}
		if (r >= 0 && *ret && **ret == '/')
			return 0;
		free(*ret);
		*ret = NULL;
	} else if (r != -ENOENT) {
		return r;
	}
	/* Ubuntu keeps the key shim-signed made; elsewhere DKMS makes its own. */
	*ret = strdup(c->distro.pm == IBUP_PM_APT ? "/var/lib/shim-signed/mok/MOK.der"
						  : "/var/lib/dkms/mok.pub");
	return *ret ? 0 : -ENOMEM;
}

int plan_mok_enroll(struct ibup_ctx *ctx, struct ibup_plan *plan,
		    const struct ibup_install_choice *c)
{
	_cleanup_free_ char *cert = NULL;
	int r;

	if (!ibup_ctx_is_live(ctx))
		return ibup_plan_note(
			plan, NULL,
			"--secure-boot enroll: the key is enrolled on the VM that "
			"boots this image (mokutil --import there)");
	r = mok_certificate(ctx, c, plan, &cert);
	if (r < 0)
		return r;
	return ibup_plan_run(
		plan,
		(const char *const[]){ "mokutil", "--import", cert, "--root-pw", NULL },
		NULL, 60000, NULL, 0,
		"queue DKMS's signing key for MOK enrollment: confirm it at the boot "
		"console (MokManager) on the next boot, or the modules stay refused");
}

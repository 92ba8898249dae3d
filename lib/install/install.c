// SPDX-License-Identifier: MIT
/*
 * The plan of `ibup install`: the stack there now removed when asked (--replace), the
 * chosen stack's packages for the target kernel, then ibup's after-install files and
 * the way the new modules come in. `--remove` takes a stack and ibup's files away.
 */
#include <stdio.h>
#include <string.h>

#include "install-int.h"
#include "internal.h"
#include "banned.h"

static int plan_inbox(struct ibup_ctx *ctx, struct ibup_plan *plan,
		      const struct ibup_install_choice *c, const struct ibup_status *st)
{
	struct strv pkgs = { 0 };
	int r;

	r = inbox_packages(c, st, &pkgs);
	if (r >= 0)
		r = pkg_plan_missing(
			ctx, plan, &c->distro, &pkgs,
			"the distribution's RDMA stack: rdma-core, the verbs "
			"providers, diagnostics, perftest");
	strv_release(&pkgs);
	return r;
}

static bool vendor_installed(const struct ibup_status *st)
{
	return st->drivers.ofed_flavor != NULL;
}

static int plan_remove(struct ibup_ctx *ctx, struct ibup_plan *plan,
		       const struct ibup_install_opts *o,
		       const struct ibup_install_choice *c, const struct ibup_status *st)
{
	int r = 0;

	if (vendor_installed(st)) {
		r = plan_vendor_uninstall(ctx, plan,
					  "remove the vendor stack the vendor's way "
					  "(ofed_uninstall.sh)");
	} else if (o->stack == IBUP_STACK_INBOX) {
		struct strv pkgs = { 0 };

		r = inbox_packages(c, st, &pkgs);
		/* rdma-core stays: other packages depend on it. */
		if (r >= 0 && pkgs.n) {
			free(pkgs.v[0]);
			memmove(pkgs.v, pkgs.v + 1, pkgs.n * sizeof(*pkgs.v));
			pkgs.n--;
		}
		if (r >= 0)
			r = pkg_missing(ctx, plan, &c->distro, &pkgs, true);
		if (r >= 0)
			r = pkg_plan_install(
				ctx, plan, &c->distro, &pkgs, true,
				"the RDMA tools 'install --stack inbox' added");
		strv_release(&pkgs);
	} else {
		r = ibup_plan_note(plan, NULL,
				   "no vendor stack (DOCA-OFED, MLNX_OFED) is "
				   "installed");
	}
	if (r >= 0)
		r = plan_after_remove(ctx, plan);
	return r < 0 ? r : 0;
}

int ibup_install_plan(struct ibup_ctx *ctx, const struct ibup_status *st,
		      const struct ibup_install_opts *o,
		      const struct ibup_install_choice *c, struct ibup_plan **ret,
		      struct ibup_install_error *err)
{
	struct ibup_plan *plan = NULL;
	unsigned before;
	int r;

	*err = (struct ibup_install_error){ 0 };
	r = ibup_plan_new(ctx, o->command, &plan);
	if (r < 0)
		return r;
	ibup_plan_input(plan, "distro", c->distro.key, strlen(c->distro.key));
	if (c->kernel)
		ibup_plan_input(plan, "kernel", c->kernel, strlen(c->kernel));
	r = pkg_check_tree(ctx, &c->distro, err);
	if (r >= 0 && o->remove) {
		r = plan_remove(ctx, plan, o, c, st);
		return ibup_plan_end(plan, r, ret);
	}
	if (r >= 0 && c->same) {
		r = ibup_plan_note(plan, NULL, "%s is installed already", c->installed);
		return ibup_plan_end(plan, r, ret);
	}
	if (r >= 0 && o->replace && vendor_installed(st))
		r = plan_vendor_uninstall(ctx, plan,
					  "remove the stack there now the vendor's way "
					  "(--replace)");
	before = plan->n;
	if (r >= 0) {
		switch (c->stack) {
		case IBUP_STACK_INBOX:
			r = plan_inbox(ctx, plan, c, st);
			break;
		case IBUP_STACK_DOCA:
			r = plan_doca(ctx, plan, o, c, err);
			break;
		case IBUP_STACK_MOFED:
			r = plan_mofed(ctx, plan, o, c, err);
			break;
		case IBUP_STACK_AUTO:
			r = -EINVAL;
			break;
		}
	}
	if (r >= 0)
		r = plan_after(ctx, plan, o, c, st, plan->n > before);
	return ibup_plan_end(plan, r, ret);
}

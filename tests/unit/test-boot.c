// SPDX-License-Identifier: MIT
/* What the next boot holds (lib/inventory/boot.c): Secure Boot as the kernel enforces
 * it, and the newer kernels' out-of-tree RDMA modules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "tmp-root.h"

#define SB "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define MOK "sys/firmware/efi/efivars/MokSBStateRT-605dab50-e046-4300-abb6-3dd810dd8b23"

static struct ibup_secure_boot sb_of(struct ibup_ctx *ctx)
{
	struct ibup_drivers dr = { 0 };
	struct ibup_boot b;
	struct ibup_secure_boot sb;

	assert_int_equal(ibup_boot_read(ctx, NULL, &dr, &b), 0);
	sb = b.secure_boot;
	sb.lockdown = NULL; /* released below */
	ibup_boot_release(&b);
	return sb;
}

static void test_secure_boot(void **state)
{
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
	struct ibup_secure_boot sb;

	tmp_root_make(root, "boot", &ctx);
	sb = sb_of(ctx);
	assert_false(sb.efi);
	assert_false(sb.enforcing);
	/* The firmware says on, shim validates, the kernel says nothing: enforcing. */
	tmp_root_write(root, SB, "\x06\0\0\0\x01", 5);
	sb = sb_of(ctx);
	assert_true(sb.efi);
	assert_int_equal(sb.enabled, 1);
	assert_int_equal(sb.validation_off, 0);
	assert_true(sb.enforcing);
	/* mokutil --disable-validation: not enforcing. */
	tmp_root_write(root, MOK, "\x06\0\0\0\x01", 5);
	sb = sb_of(ctx);
	assert_int_equal(sb.validation_off, 1);
	assert_false(sb.enforcing);
	/* The kernel's own word wins: a lockdown in force refuses unsigned modules. */
	tmp_root_write(root, "sys/kernel/security/lockdown",
		       "none [integrity] confidentiality\n", 33);
	sb = sb_of(ctx);
	assert_true(sb.enforcing);
	tmp_root_write(root, "sys/kernel/security/lockdown",
		       "[none] integrity confidentiality\n", 33);
	tmp_root_write(root, "sys/module/module/parameters/sig_enforce", "N\n", 2);
	tmp_root_write(root, SB, "\x06\0\0\0\x00", 5);
	sb = sb_of(ctx);
	assert_int_equal(sb.enabled, 0);
	assert_int_equal(sb.sig_enforce, 0);
	assert_false(sb.enforcing);
	tmp_root_write(root, "sys/module/module/parameters/sig_enforce", "Y\n", 2);
	assert_true(sb_of(ctx).enforcing);
	tmp_root_remove(root, ctx);
}

static void test_next_kernels(void **state)
{
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
	struct ibup_module mods[] = {
		{ .name = (char *)(uintptr_t) "mlx5_ib", .out_of_tree = 1 },
		{ .name = (char *)(uintptr_t) "ib_core", .out_of_tree = 1 },
		{ .name = (char *)(uintptr_t) "rdma_rxe", .out_of_tree = 0 },
	};
	struct ibup_drivers dr = { .modules = mods,
				   .n_modules = 3,
				   .modules_known = true };
	struct ibup_boot b;
	static const char dep_ok[] = "updates/dkms/mlx5_ib.ko: updates/dkms/ib_core.ko\n"
				     "updates/dkms/ib_core.ko:\n";
	static const char dep_inbox[] =
		"kernel/drivers/infiniband/hw/mlx5/mlx5_ib.ko: kernel/x/ib_core.ko\n"
		"kernel/drivers/infiniband/core/ib_core.ko:\n";

	tmp_root_make(root, "nextk", &ctx);
	tmp_root_write(root, "lib/modules/5.15.0-1068-azure/modules.dep", dep_ok,
		       sizeof(dep_ok) - 1);
	tmp_root_write(root, "lib/modules/5.15.0-1070-azure/modules.dep", dep_ok,
		       sizeof(dep_ok) - 1);
	tmp_root_write(root, "lib/modules/5.15.0-1100-azure/modules.dep", dep_inbox,
		       sizeof(dep_inbox) - 1);
	tmp_root_write(root, "lib/modules/5.4.0-1000-azure/modules.dep", "", 0);
	assert_int_equal(ibup_boot_read(ctx, "5.15.0-1068-azure", &dr, &b), 0);
	assert_true(b.newer_known);
	assert_int_equal(b.n_out_of_tree, 2);
	assert_int_equal(b.n_newer, 2); /* 1070 and 1100, in version order */
	assert_string_equal(b.newer[0].kernel, "5.15.0-1070-azure");
	assert_string_equal(b.newer[0].missing, "");
	assert_string_equal(b.newer[1].kernel, "5.15.0-1100-azure");
	assert_string_equal(b.newer[1].missing, "mlx5_ib ib_core");
	ibup_boot_release(&b);
	tmp_root_remove(root, ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secure_boot),
		cmocka_unit_test(test_next_kernels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

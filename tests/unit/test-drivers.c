// SPDX-License-Identifier: MIT
/* The driver stack (lib/inventory/drivers.c): /proc/modules, ofed_info, libibverbs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

static void test_proc_modules(void **state)
{
	char name[64];
	bool oot, unsig;

	/* From an HBv3 with MLNX_OFED (samples/hbv3_lsmod_ib.txt, as /proc/modules). */
	assert_int_equal(ibup_parse_proc_modules_line(
				 "mlx5_ib 450560 0 - Live 0xffffffffc0a00000 (OE)\n",
				 name, sizeof(name), &oot, &unsig),
			 0);
	assert_string_equal(name, "mlx5_ib");
	assert_true(oot);
	assert_true(unsig);
	assert_int_equal(
		ibup_parse_proc_modules_line(
			"ib_core 409600 8 rdma_cm,ib_ipoib, Live 0xffffffffc0600000",
			name, sizeof(name), &oot, &unsig),
		0);
	assert_string_equal(name, "ib_core");
	assert_false(oot);
	assert_false(unsig);
	assert_int_equal(
		ibup_parse_proc_modules_line("nvidia_peermem 16384 0 - Live 0x0 (POE)",
					     name, sizeof(name), &oot, &unsig),
		0);
	assert_true(oot);
	assert_int_equal(
		ibup_parse_proc_modules_line("", name, sizeof(name), &oot, &unsig),
		-EINVAL);
	assert_int_equal(ibup_parse_proc_modules_line("bad/name 1 0 - Live 0x0", name,
						      sizeof(name), &oot, &unsig),
			 -EINVAL);
	assert_true(ibup_is_rdma_module("mlx5_ib"));
	assert_true(ibup_is_rdma_module("rdma_rxe"));
	assert_false(ibup_is_rdma_module("nf_tables"));
}

static void test_ofed_info(void **state)
{
	char *flavor = NULL, *version = NULL;

	assert_int_equal(ibup_parse_ofed_info(
				 "#!/bin/bash\nif [ \"$1\" = \"-s\" ]; then\n"
				 "  echo MLNX_OFED_LINUX-24.07-0.6.1.0:\n  exit\nfi\n",
				 &flavor, &version),
			 0);
	assert_string_equal(flavor, "mlnx_ofed");
	assert_string_equal(version, "24.07-0.6.1.0");
	free(flavor);
	free(version);
	assert_int_equal(ibup_parse_ofed_info("echo OFED-internal-24.10-1.1.4.0:\n",
					      &flavor, &version),
			 0);
	assert_string_equal(flavor, "doca_ofed");
	assert_string_equal(version, "24.10-1.1.4.0");
	free(flavor);
	free(version);
	assert_int_equal(
		ibup_parse_ofed_info("echo MLNX_OFED_LINUX-:\n", &flavor, &version),
		-ENOENT);
	assert_int_equal(ibup_parse_ofed_info("#!/bin/sh\n", &flavor, &version), -ENOENT);
}

static void test_libibverbs_name(void **state)
{
	char *v = NULL;

	assert_int_equal(ibup_parse_libibverbs_name("libibverbs.so.1.14.44.0", &v), 0);
	assert_string_equal(v, "44.0");
	free(v);
	assert_int_equal(ibup_parse_libibverbs_name("libibverbs.so.1.14.2407.0", &v), 0);
	assert_string_equal(v, "2407.0");
	free(v);
	assert_int_equal(ibup_parse_libibverbs_name("libibverbs.so.1", &v), -EINVAL);
	assert_int_equal(ibup_parse_libibverbs_name("libibverbs.so.1.14", &v), -EINVAL);
	assert_int_equal(ibup_parse_libibverbs_name("libibverbs.so.1.14.x.0", &v),
			 -EINVAL);
	assert_int_equal(ibup_parse_libibverbs_name("libmlx5.so.1.24.44.0", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_modules),
		cmocka_unit_test(test_ofed_info),
		cmocka_unit_test(test_libibverbs_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* Parsers of the driver stack, IPoIB addresses and memlock configuration. */
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

static void test_ipoib_hwaddr(void **state)
{
	uint8_t a[20];

	/* An HBv3's ib0 (samples: link/infiniband 00:00:01:48:fe:80:...:00:15:5d:ff:fd:33:ff:2b) */
	assert_int_equal(
		ibup_parse_ipoib_hwaddr(
			"00:00:01:48:fe:80:00:00:00:00:00:00:00:15:5d:ff:fd:33:ff:2b", a),
		0);
	assert_int_equal(a[3], 0x48);
	assert_int_equal(a[12], 0x00);
	assert_int_equal(a[13], 0x15);
	assert_int_equal(a[19], 0x2b);
	assert_int_equal(ibup_parse_ipoib_hwaddr("00:15:5d:33:ff:12", a), -EINVAL);
	assert_int_equal(
		ibup_parse_ipoib_hwaddr(
			"00:00:01:48:fe:80:00:00:00:00:00:00:00:15:5d:ff:fd:33:ff:2b:00",
			a),
		-EINVAL);
	assert_int_equal(
		ibup_parse_ipoib_hwaddr(
			"0:00:01:48:fe:80:00:00:00:00:00:00:00:15:5d:ff:fd:33:ff:2b", a),
		-EINVAL);
}

static void test_limits_conf(void **state)
{
	struct ibup_diag diag = { 0 };
	int64_t soft = IBUP_UNKNOWN, hard = IBUP_UNKNOWN;

	assert_int_equal(
		ibup_parse_limits_conf("# comment\n"
				       "*   soft  memlock  65536\n"
				       "@hpc hard memlock unlimited\n"
				       "*   hard  memlock  unlimited # trailing\n"
				       "*   -     nofile   1024\n",
				       &soft, &hard, &diag),
		0);
	assert_int_equal(soft, 65536LL * 1024);
	assert_true(hard == IBUP_UNLIMITED);
	/* "-" sets both; a later line wins. */
	assert_int_equal(ibup_parse_limits_conf("* - memlock 1024\n* soft memlock -1\n",
						&soft, &hard, &diag),
			 0);
	assert_true(soft == IBUP_UNLIMITED);
	assert_int_equal(hard, 1024LL * 1024);
	assert_int_equal(
		ibup_parse_limits_conf("ok\n* soft memlock\n", &soft, &hard, &diag),
		-EINVAL);
	assert_int_equal(diag.line, 1);
	assert_int_equal(
		ibup_parse_limits_conf("\n* soft memlock lots\n", &soft, &hard, &diag),
		-EINVAL);
	assert_int_equal(diag.line, 2);
	assert_non_null(strstr(diag.msg, "lots"));
	assert_int_equal(
		ibup_parse_limits_conf("* sometimes memlock 1\n", &soft, &hard, &diag),
		-EINVAL);
}

static void test_systemd_memlock(void **state)
{
	struct ibup_diag diag = { 0 };
	int64_t v = IBUP_UNKNOWN;

	assert_int_equal(ibup_parse_systemd_memlock(
				 "[Manager]\n#DefaultLimitMEMLOCK=8M\n", &v, &diag),
			 0);
	assert_int_equal(v, IBUP_UNKNOWN);
	assert_int_equal(ibup_parse_systemd_memlock(
				 "[Manager]\nDefaultLimitMEMLOCK=infinity\n", &v, &diag),
			 0);
	assert_true(v == IBUP_UNLIMITED);
	assert_int_equal(ibup_parse_systemd_memlock(
				 "[Manager]\nDefaultLimitMEMLOCK = 64K:8M\n", &v, &diag),
			 0);
	assert_int_equal(v, 64 * 1024);
	assert_int_equal(ibup_parse_systemd_memlock("[Manager]\nDefaultLimitMEMLOCK=8M\n"
						    "[Other]\nDefaultLimitMEMLOCK=1\n",
						    &v, &diag),
			 0);
	assert_int_equal(v, 8 * 1024 * 1024);
	assert_int_equal(ibup_parse_systemd_memlock("[Manager]\nDefaultLimitMEMLOCK=\n",
						    &v, &diag),
			 0);
	assert_int_equal(v, IBUP_UNKNOWN);
	assert_int_equal(ibup_parse_systemd_memlock(
				 "[Manager]\n\nDefaultLimitMEMLOCK=lots\n", &v, &diag),
			 -EINVAL);
	assert_int_equal(diag.line, 3);
	assert_int_equal(ibup_parse_systemd_memlock("[Manager]\nDefaultLimitMEMLOCK=9E\n",
						    &v, &diag),
			 -EINVAL);
}

static void test_waagent_version(void **state)
{
	const char *problem = NULL;
	char v[32];

	assert_int_equal(ibup_waagent_version_check(
				 "WALinuxAgent-2.9.1.1 running on ubuntu 22.04\n"
				 "Python: 3.10.12\nGoal state agent: 2.12.0.2\n",
				 v, sizeof(v), &problem),
			 0);
	assert_string_equal(v, "2.9.1.1");
	assert_non_null(problem);
	assert_int_equal(
		ibup_waagent_version_check("WALinuxAgent-2.2.45 running on ubuntu 18.04\n"
					   "Goal state agent: 2.9.1.1\n",
					   v, sizeof(v), &problem),
		0);
	assert_string_equal(v, "2.2.45");
	assert_non_null(strstr(problem, "2.4.0.2"));
	assert_int_equal(
		ibup_waagent_version_check("WALinuxAgent-2.10.0.8 running on rhel 9.4\n",
					   v, sizeof(v), &problem),
		0);
	assert_null(problem);
	assert_int_equal(ibup_waagent_version_check("WALinuxAgent-2.4.0.2 running\n", v,
						    sizeof(v), &problem),
			 0);
	assert_null(problem);
	assert_int_equal(
		ibup_waagent_version_check("command not found", v, sizeof(v), &problem),
		-ENOENT);
	assert_int_equal(
		ibup_waagent_version_check("WALinuxAgent- x", v, sizeof(v), &problem),
		-EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_modules),
		cmocka_unit_test(test_ofed_info),
		cmocka_unit_test(test_libibverbs_name),
		cmocka_unit_test(test_ipoib_hwaddr),
		cmocka_unit_test(test_limits_conf),
		cmocka_unit_test(test_systemd_memlock),
		cmocka_unit_test(test_waagent_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

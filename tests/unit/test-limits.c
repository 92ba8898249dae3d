// SPDX-License-Identifier: MIT
/* Memlock limits (lib/inventory/limits.c): limits.conf and systemd's DefaultLimitMEMLOCK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_conf),
		cmocka_unit_test(test_systemd_memlock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* IPoIB interfaces (lib/inventory/ipoib.c): the 20-byte hardware address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipoib_hwaddr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

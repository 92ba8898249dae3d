// SPDX-License-Identifier: MIT
/* JSON helpers: unknown values become null, known ones keep their type. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ibup/ibup-json.h"

static void test_helpers(void **state)
{
	json_t *v;

	v = ibup_json_str(NULL);
	assert_true(json_is_null(v));
	json_decref(v);
	v = ibup_json_str("ib0");
	assert_string_equal(json_string_value(v), "ib0");
	json_decref(v);
	v = ibup_json_int(IBUP_UNKNOWN);
	assert_true(json_is_null(v));
	json_decref(v);
	v = ibup_json_int(0);
	assert_true(json_is_integer(v) && json_integer_value(v) == 0);
	json_decref(v);
	v = ibup_json_real(NAN);
	assert_true(json_is_null(v));
	json_decref(v);
	v = ibup_json_real(53.125);
	assert_true(json_is_real(v) && json_real_value(v) == 53.125);
	json_decref(v);
	v = ibup_json_tristate(IBUP_UNKNOWN);
	assert_true(json_is_null(v));
	json_decref(v);
	v = ibup_json_tristate(1);
	assert_true(json_is_true(v));
	json_decref(v);
	v = ibup_json_hex16(0x800b);
	assert_string_equal(json_string_value(v), "0x800b");
	json_decref(v);
	v = ibup_json_hex16(0x15);
	assert_string_equal(json_string_value(v), "0x0015");
	json_decref(v);
	v = ibup_json_hex16(IBUP_UNKNOWN);
	assert_true(json_is_null(v));
	json_decref(v);
}

/* Bad input costs one value, never the document. */
static void test_hostile_values(void **state)
{
	json_t *j;

	j = ibup_json_real(INFINITY);
	assert_true(json_is_null(j));
	json_decref(j);
	j = ibup_json_real(-INFINITY);
	assert_true(json_is_null(j));
	json_decref(j);
	j = ibup_json_str("5.15\xff\xc0\xaf");
	assert_non_null(j);
	assert_string_equal(json_string_value(j), "5.15???");
	json_decref(j);
}

static void test_set(void **state)
{
	json_t *o = json_object();

	assert_int_equal(ibup_json_set(o, "a", json_integer(1)), 0);
	assert_int_equal(ibup_json_set(o, "b", NULL), -ENOMEM);
	assert_int_equal(json_object_size(o), 1);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_hostile_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* The per-size expectations: the built-in table, admin overrides, bad admin files. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "internal.h"
#include "tmp-root.h"

struct fx {
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
	unsigned warnings;
	char last[512];
};

static void on_log(void *data, enum ibup_log_level level, const char *msg)
{
	struct fx *f = data;

	f->warnings++;
	snprintf(f->last, sizeof(f->last), "%s", msg);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	tmp_root_make(f->root, "expect", &f->ctx);
	ibup_ctx_set_log_fn(f->ctx, on_log, f, IBUP_LOG_WARNING);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tmp_root_remove(f->root, f->ctx);
	free(f);
	return 0;
}

static void admin_file(struct fx *f, const char *name, const char *text)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "etc/ibup/expect.d/%s", name);
	tmp_root_write(f->root, rel, text, strlen(text));
}

static void test_builtin(void **state)
{
	struct fx *f = *state;
	struct ibup_expect x;

	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_HB120rs_v3", &x), 1);
	assert_string_equal(x.family, "HBv3");
	assert_int_equal(x.ib_hcas, 1);
	assert_true(x.ib_rate_gbps == 200);
	assert_true(x.an_rate_gbps == 40);
	assert_int_equal(x.ipoib, 1);
	assert_string_equal(x.source, "built-in");
	ibup_expect_release(&x);
	/* Constrained-core sizes and any capitalisation. */
	assert_int_equal(ibup_expect_lookup(f->ctx, "standard_hb120-96rs_v3", &x), 1);
	assert_string_equal(x.family, "HBv3");
	ibup_expect_release(&x);
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_ND96isr_H100_v5", &x), 1);
	assert_int_equal(x.ib_hcas, 8);
	assert_true(x.ib_rate_gbps == 400);
	assert_string_equal(x.gpudirect, "nvidia");
	ibup_expect_release(&x);
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_ND128isr_GB200_v6", &x), 1);
	assert_string_equal(x.arch, "aarch64");
	ibup_expect_release(&x);
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_NC24rs_v3", &x), 1);
	assert_true(x.retired);
	ibup_expect_release(&x);
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_H16r", &x), 1);
	assert_int_equal(x.sriov, 0);
	assert_int_equal(x.ib_hcas, 0);
	ibup_expect_release(&x);
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_D4s_v5", &x), 0);
	assert_int_equal(f->warnings, 0);
}

static void test_admin_override(void **state)
{
	struct fx *f = *state;
	struct ibup_expect x;

	admin_file(f, "10-lab.json",
		   "{\"sizes\":[{\"family\":\"lab\",\"match\":[\"Standard_HB120rs_v3\"],"
		   "\"ib_hcas\":2,\"ib_rate_gbps\":100}]}");
	admin_file(f, "README", "not json, not read");
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_HB120rs_v3", &x), 1);
	assert_string_equal(x.family, "lab");
	assert_int_equal(x.ib_hcas, 2);
	assert_string_equal(x.source, "etc/ibup/expect.d/10-lab.json");
	assert_true(isnan(x.an_rate_gbps));
	ibup_expect_release(&x);
	/* Sizes the admin file does not name still come from the table. */
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_HB176rs_v4", &x), 1);
	assert_string_equal(x.family, "HBv4");
	ibup_expect_release(&x);
	assert_int_equal(f->warnings, 0);
}

static void test_admin_broken(void **state)
{
	struct fx *f = *state;
	struct ibup_expect x;

	admin_file(f, "20-broken.json", "{\"sizes\": [\n  {\"match\": [\"x\"],}\n]}");
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_HB120rs_v3", &x), 1);
	assert_string_equal(x.family, "HBv3");
	ibup_expect_release(&x);
	assert_int_equal(f->warnings, 1);
	assert_non_null(strstr(f->last, "etc/ibup/expect.d/20-broken.json': line 2"));
	admin_file(f, "20-broken.json",
		   "{\"sizes\":[{\"match\":[\"Standard_HB*\"],\"ib_hcas\":\"x\"}]}");
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_HB120rs_v3", &x), 1);
	assert_string_equal(x.family, "HBv3");
	ibup_expect_release(&x);
	assert_non_null(strstr(f->last, "wrong type"));
	admin_file(f, "20-broken.json", "{\"sizes\":{}}");
	assert_int_equal(ibup_expect_lookup(f->ctx, "Standard_HB120rs_v3", &x), 1);
	ibup_expect_release(&x);
	assert_non_null(strstr(f->last, "no \"sizes\" array"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_builtin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_broken, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

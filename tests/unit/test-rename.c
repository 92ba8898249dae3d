// SPDX-License-Identifier: MIT
/* Persistent names (lib/rename): schemes, numbering in PCI order, collisions, and the
 * two-phase plan that never meets a taken name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "tmp-root.h"

static struct ibup_device dev(const char *name, enum ibup_device_kind kind,
			      const char *pci)
{
	return (struct ibup_device){ .name = (char *)(uintptr_t)name,
				     .kind = kind,
				     .pci_address = (char *)(uintptr_t)pci };
}

static void test_scheme_parse(void **state)
{
	struct ibup_rename_scheme s;
	struct ibup_diag d;

	assert_int_equal(ibup_rename_scheme_parse("# HBv5: NUMA order\n"
						  "0101:00:00.0 mlx5_ib3  # a comment\n"
						  "  guid:0015:5DFF:fe33:ff18\tfabric_a\n"
						  "netdev:eth1 rxe_ib0\n"
						  "only\n",
						  &s, &d),
			 0);
	assert_int_equal(s.n, 3);
	assert_true(s.only);
	assert_string_equal(s.rules[1].key, "guid:0015:5dff:fe33:ff18");
	assert_string_equal(s.rules[2].name, "rxe_ib0");
	ibup_rename_scheme_release(&s);
	assert_int_equal(ibup_rename_scheme_parse("0101:00:00.0\n", &s, &d), -EBADMSG);
	assert_int_equal(d.line, 1);
	assert_int_equal(ibup_rename_scheme_parse("\n0101:00:00.0 bad/name\n", &s, &d),
			 -EBADMSG);
	assert_int_equal(d.line, 2);
	assert_int_equal(ibup_rename_scheme_parse("mlx5_0 mlx5_ib0\n", &s, &d), -EBADMSG);
	assert_int_equal(ibup_rename_scheme_parse("0101:00:00.0 a b\n", &s, &d),
			 -EBADMSG);
	assert_int_equal(ibup_rename_scheme_parse("0101:00:00.0 -x\n", &s, &d), -EBADMSG);
}

/* The steps of a plan, "old>new" joined by spaces. */
static void steps_are(const struct ibup_plan *p, const char *want)
{
	char buf[512] = "";
	size_t off = 0;

	for (unsigned i = 0; i < p->n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s>%s",
					i ? " " : "", p->steps[i].name,
					p->steps[i].value);
	assert_string_equal(buf, want);
}

static void test_plan(void **state)
{
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
	struct ibup_plan *p;
	struct ibup_diag d;
	struct ibup_rename_scheme s;
	/* Appeared out of PCI order; the AN NIC in between. */
	struct ibup_device v[] = {
		dev("mlx5_0", IBUP_KIND_INFINIBAND, "0102:00:00.0"),
		dev("mlx5_1", IBUP_KIND_ACCELERATED_NETWORKING, "a3c9:00:02.0"),
		dev("mlx5_2", IBUP_KIND_INFINIBAND, "0101:00:00.0"),
		dev("rxe0", IBUP_KIND_SOFT_ROCE, NULL),
	};
	struct ibup_status st = { .devices = v, .n_devices = 4 };

	tmp_root_make(root, "rename", &ctx);
	assert_int_equal(ibup_rename_plan(ctx, &st, NULL, NULL, &p, &d), 0);
	steps_are(p, "mlx5_0>mlx5_ib1 mlx5_1>mlx5_an0 mlx5_2>mlx5_ib0");
	ibup_plan_free(p);

	/* Half renamed already, names crossed: a temporary name breaks the cycle. */
	v[0].name = (char *)(uintptr_t) "mlx5_ib0"; /* PCI 0102: must become mlx5_ib1 */
	v[2].name = (char *)(uintptr_t) "mlx5_ib1"; /* PCI 0101: must become mlx5_ib0 */
	v[1].name = (char *)(uintptr_t) "mlx5_an0";
	assert_int_equal(ibup_rename_plan(ctx, &st, NULL, NULL, &p, &d), 0);
	steps_are(p, "mlx5_ib0>ibup_tmp0 mlx5_ib1>ibup_tmp1 ibup_tmp0>mlx5_ib1 "
		     "ibup_tmp1>mlx5_ib0");
	assert_int_equal(p->n_notes, 1); /* mlx5_an0 is right */
	ibup_plan_free(p);
	/* udev's --device: the swap involves both, so the whole plan. */
	assert_int_equal(ibup_rename_plan(ctx, &st, NULL, "mlx5_ib1", &p, &d), 0);
	assert_int_equal(p->n, 4);
	ibup_plan_free(p);
	assert_int_equal(ibup_rename_plan(ctx, &st, NULL, "nonesuch", &p, &d), -ENODEV);

	/* Right already: nothing. */
	v[0].name = (char *)(uintptr_t) "mlx5_ib1";
	v[2].name = (char *)(uintptr_t) "mlx5_ib0";
	assert_int_equal(ibup_rename_plan(ctx, &st, NULL, NULL, &p, &d), 0);
	assert_int_equal(p->n, 0);
	ibup_plan_free(p);

	/* A scheme names the Soft-RoCE device; a name a keeper holds is refused. */
	assert_int_equal(ibup_rename_scheme_parse("netdev:eth1 rxe_ib0\n", &s, &d), 0);
	{
		struct ibup_port port = { .num = 1,
					  .netdev = (char *)(uintptr_t) "eth1" };

		v[3].ports = &port;
		v[3].n_ports = 1;
		assert_int_equal(ibup_rename_plan(ctx, &st, &s, NULL, &p, &d), 0);
		steps_are(p, "rxe0>rxe_ib0");
		ibup_plan_free(p);
		ibup_rename_scheme_release(&s);
		assert_int_equal(ibup_rename_scheme_parse("0101:00:00.0 rxe0\n", &s, &d),
				 0);
		assert_int_equal(ibup_rename_plan(ctx, &st, &s, NULL, &p, &d), -EEXIST);
		assert_non_null(strstr(d.msg, "'rxe0' has that name and keeps it"));
		ibup_rename_scheme_release(&s);
		assert_int_equal(ibup_rename_scheme_parse(
					 "0101:00:00.0 x\n0102:00:00.0 x\n", &s, &d),
				 0);
		assert_int_equal(ibup_rename_plan(ctx, &st, &s, NULL, &p, &d), -EEXIST);
		assert_non_null(strstr(d.msg, "would both be 'x'"));
		ibup_rename_scheme_release(&s);
		v[3].ports = NULL;
		v[3].n_ports = 0;
	}
	tmp_root_remove(root, ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scheme_parse),
		cmocka_unit_test(test_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

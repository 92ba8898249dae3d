// SPDX-License-Identifier: MIT
/* Device kinds from facts, and the SR-IOV virtual-function table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

static struct ibup_kind_facts pci(int32_t vendor, int32_t device, const char *driver)
{
	return (struct ibup_kind_facts){
		.node_type = IBUP_NODE_CA,
		.is_pci = true,
		.pci_vendor_id = vendor,
		.pci_device_id = device,
		.driver = driver,
	};
}

static void test_classify(void **state)
{
	struct ibup_kind_facts f;

	f = pci(0x15b3, 0x101c, "mlx5_core");
	f.any_infiniband_port = true;
	assert_int_equal(ibup_classify_device(&f), IBUP_KIND_INFINIBAND);

	/* The AN VF: Ethernet, enslaved to hv_netvsc with the same MAC. */
	f = pci(0x15b3, 0x1016, "mlx5_core");
	f.any_ethernet_port = true;
	f.enslaved_to_synthetic = true;
	assert_int_equal(ibup_classify_device(&f), IBUP_KIND_ACCELERATED_NETWORKING);

	/* The same VF, not enslaved: a RoCE device, whatever it is called. */
	f.enslaved_to_synthetic = false;
	assert_int_equal(ibup_classify_device(&f), IBUP_KIND_ROCE);

	f = pci(0x1414, 0x00ba, "mana");
	f.any_ethernet_port = true;
	assert_int_equal(ibup_classify_device(&f), IBUP_KIND_MANA);
	f.driver = NULL;
	assert_int_equal(ibup_classify_device(&f), IBUP_KIND_MANA);

	f = (struct ibup_kind_facts){ .node_type = IBUP_NODE_CA,
				      .any_ethernet_port = true,
				      .virtual_parent = true,
				      .driver = "rdma_rxe" };
	assert_int_equal(ibup_classify_device(&f), IBUP_KIND_SOFT_ROCE);

	f = (struct ibup_kind_facts){ .node_type = IBUP_NODE_RNIC,
				      .any_ethernet_port = true,
				      .virtual_parent = true };
	assert_int_equal(ibup_classify_device(&f), IBUP_KIND_IWARP);

	f = pci(0x8086, 0x37d2, "irdma");
	f.node_type = IBUP_NODE_RNIC;
	assert_int_equal(ibup_classify_device(&f), IBUP_KIND_IWARP);

	/* A port that cannot be read gives no fact to decide on. */
	f = pci(0x15b3, 0x101c, "mlx5_core");
	assert_int_equal(ibup_classify_device(&f), IBUP_KIND_OTHER);
}

static void test_vf_ids(void **state)
{
	assert_true(ibup_pci_is_virtual_function(0x15b3, 0x101c));
	assert_true(ibup_pci_is_virtual_function(0x15b3, 0x101e));
	assert_true(ibup_pci_is_virtual_function(0x15b3, 0x1004));
	assert_true(ibup_pci_is_virtual_function(0x15b3, 0x1016));
	assert_true(ibup_pci_is_virtual_function(0x1414, 0x00ba));
	assert_false(ibup_pci_is_virtual_function(0x15b3, 0x101b)); /* ConnectX-6 PF */
	assert_false(ibup_pci_is_virtual_function(0x15b3, 0x1021)); /* ConnectX-7 PF */
	assert_false(ibup_pci_is_virtual_function(IBUP_UNKNOWN, IBUP_UNKNOWN));
}

static void test_kind_names(void **state)
{
	assert_string_equal(ibup_device_kind_name(IBUP_KIND_ACCELERATED_NETWORKING),
			    "accelerated_networking");
	assert_string_equal(ibup_device_kind_name(IBUP_KIND_SOFT_ROCE), "soft_roce");
	assert_string_equal(ibup_device_kind_name(IBUP_KIND_OTHER), "other");
	assert_null(ibup_device_kind_name((enum ibup_device_kind)99));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_vf_ids),
		cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

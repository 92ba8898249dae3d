// SPDX-License-Identifier: MIT
/*
 * ibup_env_compute(): which ports carry the fabric, the tenant key as UCX (value, the
 * membership bit cleared) and NCCL (its index) take it, the RoCE GID index, --mpi,
 * and the refusal on a node without a fabric. Inventories are built in memory; the
 * topology file and Azure's front-end interface come from the fixtures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ibup/ibup.h"

static char no_fabric_root[] = "/tmp/ibup-test-env-XXXXXX";
static char mlx5_core[] = "mlx5_core";

/* An empty root: nothing under it but what the in-memory inventory says. */
static struct ibup_ctx *empty_ctx(void)
{
	struct ibup_ctx *ctx;

	assert_int_equal(ibup_ctx_new(no_fabric_root, &ctx), 0);
	return ctx;
}

static struct ibup_port ib_port(unsigned num, enum ibup_port_state state, int32_t pkey,
				int32_t pkey_index)
{
	return (struct ibup_port){ .num = num,
				   .state = state,
				   .link_layer = IBUP_LINK_LAYER_INFINIBAND,
				   .tenant_pkey = pkey,
				   .tenant_pkey_index = pkey_index };
}

static struct ibup_device device(char *name, enum ibup_device_kind kind,
				 struct ibup_port *ports, unsigned n)
{
	return (struct ibup_device){ .name = name,
				     .kind = kind,
				     .driver = mlx5_core,
				     .virtual_function = 1,
				     .ports = ports,
				     .n_ports = n };
}

static const char *value(const struct ibup_env *env, const char *name)
{
	const struct ibup_env_var *v = ibup_env_get(env, name);

	assert_non_null(v);
	assert_non_null(v->why);
	return v->value;
}

/* InfiniBand next to an Accelerated Networking NIC named like a fabric HCA. */
static void test_infiniband(void **state)
{
	struct ibup_port an_port = { .num = 1,
				     .state = IBUP_PORT_ACTIVE,
				     .link_layer = IBUP_LINK_LAYER_ETHERNET,
				     .tenant_pkey = IBUP_UNKNOWN,
				     .tenant_pkey_index = IBUP_UNKNOWN };
	struct ibup_port p1 = ib_port(1, IBUP_PORT_ACTIVE, 0x800b, 0);
	struct ibup_port p10 = ib_port(1, IBUP_PORT_ACTIVE, 0x800b, 0);
	struct ibup_port p2 = ib_port(1, IBUP_PORT_DOWN, 0x800b, 0);
	struct ibup_device devs[] = {
		device((char[]){ "mlx5_0" }, IBUP_KIND_ACCELERATED_NETWORKING, &an_port,
		       1),
		device((char[]){ "mlx5_1" }, IBUP_KIND_INFINIBAND, &p1, 1),
		device((char[]){ "mlx5_10" }, IBUP_KIND_INFINIBAND, &p10, 1),
		device((char[]){ "mlx5_2" }, IBUP_KIND_INFINIBAND, &p2, 1),
	};
	struct ibup_status st = { .devices = devs, .n_devices = 4 };
	struct ibup_ctx *ctx = empty_ctx();
	struct ibup_env *env = NULL;
	const struct ibup_env_var *v;

	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_ALL, &env, NULL), 0);
	assert_int_equal(env->fabric, IBUP_ENV_FABRIC_INFINIBAND);
	assert_int_equal(env->n_ports, 2);
	assert_string_equal(value(env, "UCX_NET_DEVICES"), "mlx5_1:1,mlx5_10:1");
	v = ibup_env_get(env, "UCX_NET_DEVICES");
	assert_non_null(strstr(v->why, "mlx5_0 (Accelerated Networking)"));
	assert_non_null(strstr(v->why, "mlx5_2:1 (down)"));
	/* Exact names: "mlx5_1" alone would also take mlx5_10 (and mlx5_1x). */
	assert_string_equal(value(env, "NCCL_IB_HCA"), "=mlx5_1:1,mlx5_10:1");
	assert_string_equal(value(env, "UCX_IB_PKEY"), "0x000b");
	assert_string_equal(value(env, "NCCL_IB_PKEY"), "0");
	assert_null(value(env, "UCX_IB_GID_INDEX"));
	assert_null(value(env, "NCCL_IB_GID_INDEX"));
	assert_string_equal(value(env, "HCOLL_MAIN_IB"), "mlx5_1:1");
	assert_string_equal(value(env, "FI_PROVIDER"), "mlx");
	assert_string_equal(value(env, "I_MPI_FABRICS"), "shm:ofi");
	assert_string_equal(value(env, "NCCL_IB_PCI_RELAXED_ORDERING"), "1");
	assert_null(value(env, "NCCL_TOPO_FILE"));
	assert_int_equal(env->n_vars, 12);
	/* Sorted by name. */
	for (unsigned i = 1; i < env->n_vars; i++)
		assert_true(strcmp(env->vars[i - 1].name, env->vars[i].name) < 0);
	ibup_env_free(env);
	ibup_ctx_free(ctx);
}

/* NCCL takes the index of the tenant key, which need not be 0. */
static void test_pkey_index(void **state)
{
	struct ibup_port p[] = { ib_port(1, IBUP_PORT_ACTIVE, 0x8012, 1),
				 ib_port(1, IBUP_PORT_ACTIVE, 0x8012, 1) };
	struct ibup_device devs[] = {
		device((char[]){ "mlx5_ib0" }, IBUP_KIND_INFINIBAND, &p[0], 1),
		device((char[]){ "mlx5_ib1" }, IBUP_KIND_INFINIBAND, &p[1], 1)
	};
	struct ibup_status st = { .devices = devs, .n_devices = 2 };
	struct ibup_ctx *ctx = empty_ctx();
	struct ibup_env *env = NULL;

	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_ALL, &env, NULL), 0);
	assert_string_equal(value(env, "UCX_IB_PKEY"), "0x0012");
	assert_string_equal(value(env, "NCCL_IB_PKEY"), "1");
	env = ibup_env_free(env);

	/* Different keys: no single value is right, so none is given. */
	p[1].tenant_pkey = 0x8013;
	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_ALL, &env, NULL), 0);
	assert_null(value(env, "UCX_IB_PKEY"));
	assert_null(value(env, "NCCL_IB_PKEY"));
	env = ibup_env_free(env);

	/* No tenant key at all (a bare-metal subnet with only the default partition). */
	p[0].tenant_pkey = p[1].tenant_pkey = IBUP_UNKNOWN;
	p[0].tenant_pkey_index = p[1].tenant_pkey_index = IBUP_UNKNOWN;
	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_ALL, &env, NULL), 0);
	assert_null(value(env, "UCX_IB_PKEY"));
	assert_null(value(env, "NCCL_IB_PKEY"));
	ibup_env_free(env);
	ibup_ctx_free(ctx);
}

/* RoCE: the RoCE v2 GID over IPv4, when every port has it at the same index. */
static void test_roce_gid(void **state)
{
	struct ibup_gid g0[] = {
		{ 0, "fe80:0000:0000:0000:0e42:a1ff:fe1d:d12a", IBUP_GID_ROCE_V1, NULL },
		{ 1, "fe80:0000:0000:0000:0e42:a1ff:fe1d:d12a", IBUP_GID_ROCE_V2, NULL },
		{ 2, "0000:0000:0000:0000:0000:ffff:0a00:0001", IBUP_GID_ROCE_V1, NULL },
		{ 3, "0000:0000:0000:0000:0000:ffff:0a00:0001", IBUP_GID_ROCE_V2, NULL },
	};
	struct ibup_gid g1[] = {
		{ 0, "fe80:0000:0000:0000:0e42:a1ff:fe1d:d12b", IBUP_GID_ROCE_V1, NULL },
		{ 1, "fe80:0000:0000:0000:0e42:a1ff:fe1d:d12b", IBUP_GID_ROCE_V2, NULL },
		{ 2, "0000:0000:0000:0000:0000:ffff:0a00:0002", IBUP_GID_ROCE_V1, NULL },
		{ 3, "0000:0000:0000:0000:0000:ffff:0a00:0002", IBUP_GID_ROCE_V2, NULL },
	};
	char nd0[] = "ens1f0np0", nd1[] = "ens1f1np1";
	struct ibup_port p[2];
	for (unsigned i = 0; i < 2; i++)
		p[i] = (struct ibup_port){ .num = 1,
					   .state = IBUP_PORT_ACTIVE,
					   .link_layer = IBUP_LINK_LAYER_ETHERNET,
					   .tenant_pkey = IBUP_UNKNOWN,
					   .tenant_pkey_index = IBUP_UNKNOWN,
					   .gids = i ? g1 : g0,
					   .n_gids = 4,
					   .netdev = i ? nd1 : nd0 };
	struct ibup_device devs[] = {
		device((char[]){ "mlx5_0" }, IBUP_KIND_ROCE, &p[0], 1),
		device((char[]){ "mlx5_1" }, IBUP_KIND_ROCE, &p[1], 1)
	};
	struct ibup_status st = { .devices = devs, .n_devices = 2 };
	struct ibup_ctx *ctx = empty_ctx();
	struct ibup_env *env = NULL;

	devs[0].virtual_function = devs[1].virtual_function = 0;
	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_ALL, &env, NULL), 0);
	assert_int_equal(env->fabric, IBUP_ENV_FABRIC_ROCE);
	assert_string_equal(value(env, "UCX_IB_GID_INDEX"), "3");
	assert_string_equal(value(env, "NCCL_IB_GID_INDEX"), "3");
	assert_null(value(env, "UCX_IB_PKEY"));
	assert_null(value(env, "NCCL_IB_PKEY"));
	assert_null(value(env, "NCCL_IB_PCI_RELAXED_ORDERING"));
	assert_string_equal(value(env, "NCCL_SOCKET_IFNAME"), "=ens1f0np0,ens1f1np1");
	env = ibup_env_free(env);

	/* The second port's IPv4 GID moved (an address removed and added again). */
	g1[3].index = 5;
	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_ALL, &env, NULL), 0);
	assert_null(value(env, "UCX_IB_GID_INDEX"));
	assert_null(value(env, "NCCL_IB_GID_INDEX"));
	ibup_env_free(env);
	ibup_ctx_free(ctx);
}

/* No fabric: only AN and MANA, no device at all, or no ACTIVE port. */
static void test_refusals(void **state)
{
	struct ibup_port eth = { .num = 1,
				 .state = IBUP_PORT_ACTIVE,
				 .link_layer = IBUP_LINK_LAYER_ETHERNET };
	struct ibup_port down = ib_port(1, IBUP_PORT_INIT, 0x8001, 0);
	struct ibup_device devs[] = {
		device((char[]){ "mana_0" }, IBUP_KIND_MANA, &eth, 1),
		device((char[]){ "mlx5_0" }, IBUP_KIND_ACCELERATED_NETWORKING, &eth, 1),
	};
	struct ibup_device ib =
		device((char[]){ "mlx5_ib0" }, IBUP_KIND_INFINIBAND, &down, 1);
	struct ibup_status st = { .devices = devs, .n_devices = 2 };
	struct ibup_ctx *ctx = empty_ctx();
	struct ibup_env *env = NULL;
	struct ibup_diag d = { 0 };

	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_ALL, &env, &d), -ENODEV);
	assert_null(env);
	assert_non_null(strstr(d.msg, "'mana_0' is MANA"));
	assert_non_null(strstr(d.msg, "'mlx5_0' is Accelerated Networking"));

	st.n_devices = 0;
	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_ALL, &env, &d), -ENODEV);
	assert_non_null(strstr(d.msg, "no RDMA device"));

	st.devices = &ib;
	st.n_devices = 1;
	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_ALL, &env, &d), -ENODEV);
	assert_non_null(strstr(d.msg, "no ACTIVE InfiniBand port"));
	ibup_ctx_free(ctx);
}

/* --mpi narrows to what that MPI (and NCCL) reads. */
static void test_mpi(void **state)
{
	struct ibup_port p = ib_port(1, IBUP_PORT_ACTIVE, 0x8001, 0);
	struct ibup_device dev =
		device((char[]){ "mlx5_ib0" }, IBUP_KIND_INFINIBAND, &p, 1);
	struct ibup_status st = { .devices = &dev, .n_devices = 1 };
	struct ibup_ctx *ctx = empty_ctx();
	struct ibup_env *env = NULL;
	enum ibup_env_mpi m;

	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_INTEL, &env, NULL), 0);
	assert_non_null(ibup_env_get(env, "I_MPI_FABRICS"));
	assert_non_null(ibup_env_get(env, "UCX_NET_DEVICES"));
	assert_null(ibup_env_get(env, "HCOLL_MAIN_IB"));
	assert_int_equal(env->n_vars, 11);
	env = ibup_env_free(env);

	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_HPCX, &env, NULL), 0);
	assert_non_null(ibup_env_get(env, "HCOLL_MAIN_IB"));
	assert_null(ibup_env_get(env, "FI_PROVIDER"));
	env = ibup_env_free(env);

	assert_int_equal(ibup_env_compute(ctx, &st, IBUP_ENV_MPI_MPICH, &env, NULL), 0);
	assert_null(ibup_env_get(env, "HCOLL_MAIN_IB"));
	assert_null(ibup_env_get(env, "I_MPI_FABRICS"));
	assert_non_null(ibup_env_get(env, "NCCL_IB_HCA"));
	ibup_env_free(env);

	assert_int_equal(ibup_env_mpi_parse("openmpi", &m), 0);
	assert_int_equal(m, IBUP_ENV_MPI_OPENMPI);
	assert_string_equal(ibup_env_mpi_name(m), "openmpi");
	assert_int_equal(ibup_env_mpi_parse("OpenMPI", &m), -EINVAL);
	assert_int_equal(ibup_env_compute(ctx, &st, (enum ibup_env_mpi)42, &env, NULL),
			 -EINVAL);
	ibup_ctx_free(ctx);
}

static void test_topo_family(void **state)
{
	assert_string_equal(ibup_nccl_topo_family("Standard_ND96isr_H100_v5"), "ndv5");
	assert_string_equal(ibup_nccl_topo_family("standard_nd96isr_h200_v5"), "ndv5");
	assert_string_equal(ibup_nccl_topo_family("Standard_ND96asr_v4"), "ndv4");
	assert_string_equal(ibup_nccl_topo_family("Standard_ND96amsr_A100_v4"), "ndv4");
	assert_string_equal(ibup_nccl_topo_family("Standard_ND40rs_v2"), "ndv2");
	assert_string_equal(ibup_nccl_topo_family("Standard_NC96ads_A100_v4"), "ncv4");
	assert_null(ibup_nccl_topo_family("Standard_HB120rs_v3"));
	assert_null(ibup_nccl_topo_family("Standard_ND96isr_MI300X_v5"));
	assert_null(ibup_nccl_topo_family(NULL));
}

/* The whole path over the ND H100 v5 fixture: the model, the topology file, eth0. */
static void test_nd_h100_v5(void **state)
{
	struct ibup_ctx *ctx;
	struct ibup_status *st;
	struct ibup_env *env = NULL;

	assert_int_equal(ibup_ctx_new(IBUP_FIXTURES "/nd-h100-v5", &ctx), 0);
	assert_int_equal(ibup_status_read(ctx, 0, &st), 0);
	assert_int_equal(st->devices[1].ports[0].tenant_pkey_index, 0);
	free(st->platform.vm_size);
	st->platform.vm_size = strdup("Standard_ND96isr_H100_v5");
	assert_int_equal(ibup_env_compute(ctx, st, IBUP_ENV_MPI_ALL, &env, NULL), 0);
	assert_int_equal(env->n_ports, 8);
	assert_string_equal(env->ports[0].device, "mlx5_1");
	assert_string_equal(env->ports[0].netdev, "ib0");
	assert_string_equal(value(env, "NCCL_TOPO_FILE"), "/opt/microsoft/ndv5-topo.xml");
	assert_string_equal(value(env, "NCCL_SOCKET_IFNAME"), "=eth0");
	assert_string_equal(value(env, "UCX_IB_PKEY"), "0x0001");
	ibup_env_free(env);
	ibup_status_free(st);
	ibup_ctx_free(ctx);
}

static int setup(void **state)
{
	return mkdtemp(no_fabric_root) ? 0 : -1;
}

static int teardown(void **state)
{
	return rmdir(no_fabric_root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_infiniband), cmocka_unit_test(test_pkey_index),
		cmocka_unit_test(test_roce_gid),   cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_mpi),	   cmocka_unit_test(test_topo_family),
		cmocka_unit_test(test_nd_h100_v5),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

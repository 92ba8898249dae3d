// SPDX-License-Identifier: MIT
/*
 * The environment an MPI or NCCL job needs on this node: which RDMA devices and ports
 * carry the fabric, the tenant partition key in the forms UCX and NCCL take it, the
 * RoCE GID index, the interface for sockets, the NCCL topology file; each variable
 * with the reason for its value.
 */
#ifndef IBUP_ENV_H
#define IBUP_ENV_H

#include <stdbool.h>

#include "ibup/ctx.h"
#include "ibup/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fabric a job runs over; NONE when the node has none (AN and MANA are not one). */
enum ibup_env_fabric {
	IBUP_ENV_FABRIC_NONE = 0,
	IBUP_ENV_FABRIC_INFINIBAND,
	IBUP_ENV_FABRIC_ROCE,
	IBUP_ENV_FABRIC_SOFT_ROCE,
};

/* Which MPI the job uses: narrows the variables to those it (and NCCL) reads. */
enum ibup_env_mpi {
	IBUP_ENV_MPI_ALL = 0,
	IBUP_ENV_MPI_OPENMPI, /* Open MPI with UCX (pml ucx) */
	IBUP_ENV_MPI_HPCX, /* NVIDIA HPC-X: Open MPI, UCX and HCOLL */
	IBUP_ENV_MPI_INTEL, /* Intel MPI 2019 and later: libfabric's mlx provider (UCX) */
	IBUP_ENV_MPI_MPICH, /* MPICH (ch4:ucx) and its derivatives */
};

/* The component that reads a variable. */
enum ibup_env_reader {
	IBUP_ENV_UCX = 1 << 0,
	IBUP_ENV_NCCL = 1 << 1,
	IBUP_ENV_HCOLL = 1 << 2,
	IBUP_ENV_INTEL_MPI = 1 << 3,
};

struct ibup_env_var {
	const char *name; /* static */
	char *value; /* NULL: left unset (the component's default is right, or unknown) */
	char *why; /* one line: where the value comes from, or why it is left unset */
	unsigned readers; /* enum ibup_env_reader */
};

/* A port that carries the fabric. */
struct ibup_env_port {
	char *device;
	unsigned port;
	char *netdev; /* its network interface (IPoIB or Ethernet), NULL when none */
};

struct ibup_env {
	enum ibup_env_fabric fabric;
	enum ibup_env_mpi mpi;
	struct ibup_env_port *ports; /* ACTIVE fabric ports, by device name then port */
	unsigned n_ports;
	struct ibup_env_var *vars; /* in a fixed order; those @mpi reads, set or not */
	unsigned n_vars;
};

/* Lower-case names as the JSON contract spells them. */
const char *ibup_env_fabric_name(enum ibup_env_fabric f);
const char *ibup_env_mpi_name(enum ibup_env_mpi m);
/* Parse an --mpi value ("openmpi", "hpcx", "intel", "mpich", "all"); -EINVAL otherwise. */
int ibup_env_mpi_parse(const char *s, enum ibup_env_mpi *ret);

/**
 * ibup_env_compute() - the job environment for this node's fabric
 * @ctx: library context (the topology file and interfaces are looked up under its root)
 * @st: the inventory, from ibup_status_read() (platform.vm_size filled when known)
 * @mpi: which MPI's variables to give
 * @ret_env: the environment, owned by the caller; free with ibup_env_free()
 * @reterr: filled on -ENODEV with one line saying why there is nothing to set up
 *
 * The fabric is InfiniBand when the node has an InfiniBand device, else RoCE, else
 * Soft-RoCE; Accelerated Networking and MANA devices never carry it. Only ACTIVE ports
 * are used. Every value comes from the inventory and the files under the root.
 *
 * Return: 0; -ENODEV when the node has no RDMA fabric or no ACTIVE port on it; -ENOMEM.
 */
int ibup_env_compute(struct ibup_ctx *ctx, const struct ibup_status *st,
		     enum ibup_env_mpi mpi, struct ibup_env **ret_env,
		     struct ibup_diag *reterr);

/**
 * ibup_env_free() - release an environment
 * @env: the environment, or NULL
 *
 * Return: NULL.
 */
struct ibup_env *ibup_env_free(struct ibup_env *env);

/**
 * ibup_env_get() - one variable of an environment
 * @env: the environment
 * @name: the variable's name, e.g. "UCX_NET_DEVICES"
 *
 * Return: the variable (borrowed, lives as long as @env), or NULL when @env does not
 * hold it (not read by the chosen MPI).
 */
const struct ibup_env_var *ibup_env_get(const struct ibup_env *env, const char *name);

/**
 * ibup_nccl_topo_family() - the azhpc-images family of a VM size, for its topology file
 * @vm_size: e.g. "Standard_ND96isr_H100_v5" (any case)
 *
 * Follows azhpc-images' setup_sku_customizations.sh (ndv2, ndv4, ndv5, ncv4, ...).
 *
 * Return: the family ("ndv5"), or NULL for sizes without a topology file.
 */
const char *ibup_nccl_topo_family(const char *vm_size);

#ifdef __cplusplus
}
#endif

#endif

// SPDX-License-Identifier: MIT
/*
 * The environment of an MPI or NCCL job, computed from the inventory: the fabric's
 * devices and ports, the tenant partition key in the forms UCX and NCCL take it, the
 * RoCE GID index, the sockets' interface and the NCCL topology file.
 *
 * What each variable means was checked in the readers' sources (file names as of
 * openucx/ucx 9466d104 and NVIDIA/nccl 5067397c):
 * - UCX_NET_DEVICES: src/ucp/core/ucp_context.c, "NET_DEVICES", an allow list of
 *   "device:port" names.
 * - UCX_IB_PKEY: src/uct/ib/base/ib_iface.c, "PKEY" ("Should be between 0 and
 *   0x7fff"); values above UCT_IB_PKEY_PARTITION_MASK (0x7fff, ib_device.h) are
 *   refused, and the table entry whose low 15 bits match is used, full membership
 *   first. On RoCE UCX always uses pkey index 0 itself.
 * - UCX_IB_GID_INDEX: src/uct/ib/base/ib_md.c, "GID_INDEX" under the "IB_" prefix
 *   (ib_md.h UCT_IB_CONFIG_PREFIX); "auto" lets uct_ib_device_select_gid() choose.
 * - NCCL_IB_HCA: src/transport/net_ib/init.cc; a leading '=' makes the names exact,
 *   otherwise each is a prefix (docs/userguide/source/env.rst).
 * - NCCL_IB_PKEY: src/transport/net_ib/connect.cc, NCCL_PARAM(IbPkey, "IB_PKEY", 0),
 *   used as the QP's pkeyIndex: an index into the port's pkey table, not a key.
 * - NCCL_IB_GID_INDEX: src/transport/net_ib/connect.cc, NCCL_PARAM(IbGidIndex,
 *   "IB_GID_INDEX", -1); the default was 0 (RoCE v1 link-local) before NCCL 2.21.
 * - NCCL_IB_PCI_RELAXED_ORDERING: src/transport/net_ib/init.cc, default 2; the docs
 *   say 1 forces it, but ncclIbRelaxedOrderingCapable() treats 1 and 2 alike (since
 *   2.12.7): used when libibverbs has ibv_reg_mr_iova2 (IBVERBS_1.8), 0 turns it off.
 * - NCCL_SOCKET_IFNAME: src/misc/socket.cc ncclFindInterfaces(); a leading '=' makes
 *   the names exact; without it NCCL takes "ib*" interfaces with an address first, then
 *   any but docker, lo and virbr.
 * - NCCL_TOPO_FILE: docs/userguide/source/env.rst (since 2.6), an XML file loaded before
 *   topology detection; azhpc-images ships /opt/microsoft/<family>-topo.xml.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"
#include "ibup/env.h"
#include "banned.h"

/* Which --mpi choices read a variable. */
#define MPI_BIT(m) (1u << (m))
#define ANY_MPI                                                      \
	(MPI_BIT(IBUP_ENV_MPI_ALL) | MPI_BIT(IBUP_ENV_MPI_OPENMPI) | \
	 MPI_BIT(IBUP_ENV_MPI_HPCX) | MPI_BIT(IBUP_ENV_MPI_INTEL) |  \
	 MPI_BIT(IBUP_ENV_MPI_MPICH))

enum var_id {
	FI_PROVIDER,
	HCOLL_MAIN_IB,
	I_MPI_FABRICS,
	NCCL_IB_GID_INDEX,
	NCCL_IB_HCA,
	NCCL_IB_PCI_RELAXED_ORDERING,
	NCCL_IB_PKEY,
	NCCL_SOCKET_IFNAME,
	NCCL_TOPO_FILE,
	UCX_IB_GID_INDEX,
	UCX_IB_PKEY,
	UCX_NET_DEVICES,
	N_VARS,
};

/* By name, so that the sh lines and the JSON array come out sorted. */
static const struct {
	const char *name;
	unsigned readers;
	unsigned mpis;
} specs[N_VARS] = {
	[FI_PROVIDER] = { "FI_PROVIDER", IBUP_ENV_INTEL_MPI,
			  MPI_BIT(IBUP_ENV_MPI_ALL) | MPI_BIT(IBUP_ENV_MPI_INTEL) },
	[HCOLL_MAIN_IB] = { "HCOLL_MAIN_IB", IBUP_ENV_HCOLL,
			    MPI_BIT(IBUP_ENV_MPI_ALL) | MPI_BIT(IBUP_ENV_MPI_OPENMPI) |
				    MPI_BIT(IBUP_ENV_MPI_HPCX) },
	[I_MPI_FABRICS] = { "I_MPI_FABRICS", IBUP_ENV_INTEL_MPI,
			    MPI_BIT(IBUP_ENV_MPI_ALL) | MPI_BIT(IBUP_ENV_MPI_INTEL) },
	[NCCL_IB_GID_INDEX] = { "NCCL_IB_GID_INDEX", IBUP_ENV_NCCL, ANY_MPI },
	[NCCL_IB_HCA] = { "NCCL_IB_HCA", IBUP_ENV_NCCL, ANY_MPI },
	[NCCL_IB_PCI_RELAXED_ORDERING] = { "NCCL_IB_PCI_RELAXED_ORDERING", IBUP_ENV_NCCL,
					   ANY_MPI },
	[NCCL_IB_PKEY] = { "NCCL_IB_PKEY", IBUP_ENV_NCCL, ANY_MPI },
	[NCCL_SOCKET_IFNAME] = { "NCCL_SOCKET_IFNAME", IBUP_ENV_NCCL, ANY_MPI },
	[NCCL_TOPO_FILE] = { "NCCL_TOPO_FILE", IBUP_ENV_NCCL, ANY_MPI },
	[UCX_IB_GID_INDEX] = { "UCX_IB_GID_INDEX", IBUP_ENV_UCX, ANY_MPI },
	[UCX_IB_PKEY] = { "UCX_IB_PKEY", IBUP_ENV_UCX, ANY_MPI },
	[UCX_NET_DEVICES] = { "UCX_NET_DEVICES", IBUP_ENV_UCX, ANY_MPI },
};

const char *ibup_env_fabric_name(enum ibup_env_fabric f)
{
	switch (f) {
	case IBUP_ENV_FABRIC_INFINIBAND:
		return "infiniband";
	case IBUP_ENV_FABRIC_ROCE:
		return "roce";
	case IBUP_ENV_FABRIC_SOFT_ROCE:
		return "soft_roce";
	case IBUP_ENV_FABRIC_NONE:
		break;
	}
	return "none";
}

static const char *const mpi_names[] = {
	[IBUP_ENV_MPI_ALL] = "all",	[IBUP_ENV_MPI_OPENMPI] = "openmpi",
	[IBUP_ENV_MPI_HPCX] = "hpcx",	[IBUP_ENV_MPI_INTEL] = "intel",
	[IBUP_ENV_MPI_MPICH] = "mpich",
};

const char *ibup_env_mpi_name(enum ibup_env_mpi m)
{
	if ((unsigned)m < IBUP_ARRAY_SIZE(mpi_names))
		return mpi_names[m];
	return NULL;
}

int ibup_env_mpi_parse(const char *s, enum ibup_env_mpi *ret)
{
	for (unsigned i = 0; i < IBUP_ARRAY_SIZE(mpi_names); i++)
		if (strcmp(s, mpi_names[i]) == 0) {
			*ret = (enum ibup_env_mpi)i;
			return 0;
		}
	return -EINVAL;
}

/*
 * azhpc-images' setup_sku_customizations.sh maps sizes to families; the families with a
 * file in its topology/ directory are these.
 */
static const struct {
	const char *pattern; /* fnmatch, lower case */
	const char *family;
} topo_families[] = {
	{ "standard_nd40rs_v2", "ndv2" },
	{ "standard_nd96is*_h[12]00_v5", "ndv5" },
	{ "standard_nd*v4", "ndv4" },
	{ "standard_nc96ads_a100_v4", "ncv4" },
};

const char *ibup_nccl_topo_family(const char *vm_size)
{
	char lower[128];
	size_t i;

	if (!vm_size || strlen(vm_size) >= sizeof(lower))
		return NULL;
	for (i = 0; vm_size[i]; i++)
		lower[i] =
			(char)((vm_size[i] >= 'A' && vm_size[i] <= 'Z') ? vm_size[i] + 32
									: vm_size[i]);
	lower[i] = '\0';
	for (i = 0; i < IBUP_ARRAY_SIZE(topo_families); i++)
		if (fnmatch(topo_families[i].pattern, lower, 0) == 0)
			return topo_families[i].family;
	return NULL;
}

/* A growable string: the library's values are short, built once. */
struct strbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_addf(struct strbuf *b, const char *fmt, ...) _printf_(2, 3);
static void sb_addf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 128;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
}

/* The string (owned by the caller), or NULL when out of memory. */
static char *sb_take(struct strbuf *b)
{
	if (b->oom || !b->s) {
		free(b->s);
		b->s = NULL;
		return b->oom ? NULL : strdup("");
	}
	return TAKE_PTR(b->s);
}

static const char *kind_label(enum ibup_device_kind k)
{
	switch (k) {
	case IBUP_KIND_INFINIBAND:
		return "InfiniBand";
	case IBUP_KIND_ACCELERATED_NETWORKING:
		return "Accelerated Networking";
	case IBUP_KIND_ROCE:
		return "RoCE";
	case IBUP_KIND_SOFT_ROCE:
		return "Soft-RoCE";
	case IBUP_KIND_MANA:
		return "MANA";
	case IBUP_KIND_IWARP:
		return "iWARP";
	case IBUP_KIND_OTHER:
		break;
	}
	return "not RDMA-capable for MPI";
}

static enum ibup_env_fabric pick_fabric(const struct ibup_status *st,
					enum ibup_device_kind *ret_kind)
{
	static const struct {
		enum ibup_device_kind kind;
		enum ibup_env_fabric fabric;
	} order[] = {
		{ IBUP_KIND_INFINIBAND, IBUP_ENV_FABRIC_INFINIBAND },
		{ IBUP_KIND_ROCE, IBUP_ENV_FABRIC_ROCE },
		{ IBUP_KIND_SOFT_ROCE, IBUP_ENV_FABRIC_SOFT_ROCE },
	};

	for (size_t i = 0; i < IBUP_ARRAY_SIZE(order); i++)
		for (unsigned d = 0; d < st->n_devices; d++)
			if (st->devices[d].kind == order[i].kind) {
				*ret_kind = order[i].kind;
				return order[i].fabric;
			}
	return IBUP_ENV_FABRIC_NONE;
}

static void set_diag(struct ibup_diag *d, const char *fmt, ...) _printf_(2, 3);
static void set_diag(struct ibup_diag *d, const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return;
	d->line = d->column = 0;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
}

/* "no RDMA fabric: mlx5_0 is Accelerated Networking, mana_0 is MANA". */
static void no_fabric_diag(const struct ibup_status *st, struct ibup_diag *reterr)
{
	struct strbuf b = { 0 };

	if (st->n_devices == 0) {
		set_diag(reterr,
			 "no RDMA device on this node: UCX and NCCL would use TCP");
		return;
	}
	sb_addf(&b, "no RDMA fabric on this node: ");
	for (unsigned d = 0; d < st->n_devices; d++)
		sb_addf(&b, "%s'%s' is %s", d ? ", " : "", st->devices[d].name,
			kind_label(st->devices[d].kind));
	sb_addf(&b, ", none carries MPI traffic");
	if (b.oom || !b.s)
		set_diag(reterr, "no RDMA fabric on this node");
	else
		set_diag(reterr, "%s", b.s);
	free(b.s);
}

static bool port_on_fabric(const struct ibup_port *p, enum ibup_env_fabric f)
{
	if (f == IBUP_ENV_FABRIC_INFINIBAND)
		return p->link_layer == IBUP_LINK_LAYER_INFINIBAND;
	return p->link_layer == IBUP_LINK_LAYER_ETHERNET;
}

static const char *state_word(enum ibup_port_state s)
{
	const char *n = ibup_port_state_name(s);

	return n ? n : "state unknown";
}

struct picked {
	const struct ibup_device *dev;
	const struct ibup_port *port;
};

/* A port's RoCE v2 GID over IPv4 (routable, as UCX and NCCL prefer): its index or -1. */
static int roce_v2_ipv4_gid(const struct ibup_port *p)
{
	static const char mapped[] = "0000:0000:0000:0000:0000:ffff:";

	for (unsigned i = 0; i < p->n_gids; i++)
		if (p->gids[i].type == IBUP_GID_ROCE_V2 &&
		    strncmp(p->gids[i].gid, mapped, sizeof(mapped) - 1) == 0)
			return (int)p->gids[i].index;
	return -1;
}

/*
 * Azure's front-end interface: the synthetic (hv_netvsc) one that is nobody's slave.
 * It reaches every VM of the job; IPoIB addresses exist only when waagent applied them.
 */
static char *azure_frontend(struct ibup_ctx *ctx)
{
	_cleanup_close_ int fd = -1;
	char **names = NULL;
	char *found = NULL;
	unsigned n = 0;

	fd = ibup_open_dir(ctx, "sys/class/net");
	if (fd < 0)
		return NULL;
	if (ibup_list_dir_at(fd, IBUP_MAX_NETDEVS, &names, &n) < 0)
		return NULL;
	for (unsigned i = 0; i < n && !found; i++) {
		char link[256], *base;

		if (ibup_read_link(ctx, link, sizeof(link),
				   "sys/class/net/%s/device/driver", names[i]) < 0)
			continue;
		base = strrchr(link, '/');
		base = base ? base + 1 : link;
		if (strcmp(base, "hv_netvsc") != 0)
			continue;
		if (ibup_read_link(ctx, link, sizeof(link), "sys/class/net/%s/master",
				   names[i]) >= 0)
			continue;
		found = TAKE_PTR(names[i]);
	}
	ibup_strv_free(names, n);
	return found;
}

static int set_var(struct ibup_env_var *v, const char *value, struct strbuf *why)
{
	v->why = sb_take(why);
	if (!v->why)
		return -ENOMEM;
	if (value) {
		v->value = strdup(value);
		if (!v->value)
			return -ENOMEM;
	}
	return 0;
}

static int set_varf(struct ibup_env_var *v, const char *value, const char *fmt, ...)
	_printf_(3, 4);
static int set_varf(struct ibup_env_var *v, const char *value, const char *fmt, ...)
{
	va_list ap;
	char *why = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&why, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	v->why = why;
	if (value) {
		v->value = strdup(value);
		if (!v->value)
			return -ENOMEM;
	}
	return 0;
}

struct calc {
	struct ibup_ctx *ctx;
	const struct ibup_status *st;
	struct ibup_env *env;
	enum ibup_device_kind kind;
	const char *fabric_label; /* "InfiniBand", "RoCE", "Soft-RoCE" */
	struct picked *picked;
	unsigned n_picked;
	struct ibup_env_var *vars; /* indexed by enum var_id */
};

static int calc_net_devices(struct calc *c)
{
	struct strbuf val = { 0 }, why = { 0 };
	bool left = false;
	int r;

	for (unsigned i = 0; i < c->n_picked; i++)
		sb_addf(&val, "%s%s:%u", i ? "," : "", c->picked[i].dev->name,
			c->picked[i].port->num);
	sb_addf(&why, "the ACTIVE %s ports carry the fabric", c->fabric_label);
	for (unsigned d = 0; d < c->st->n_devices; d++) {
		const struct ibup_device *dev = &c->st->devices[d];

		if (dev->kind != c->kind) {
			sb_addf(&why, "%s %s (%s)", left ? "," : "; left out:", dev->name,
				kind_label(dev->kind));
			left = true;
			continue;
		}
		for (unsigned p = 0; p < dev->n_ports; p++) {
			const struct ibup_port *port = &dev->ports[p];

			if (port->state == IBUP_PORT_ACTIVE &&
			    port_on_fabric(port, c->env->fabric))
				continue;
			sb_addf(&why, "%s %s:%u (%s)",
				left ? "," : "; left out:", dev->name, port->num,
				port_on_fabric(port, c->env->fabric)
					? state_word(port->state)
					: "other link layer");
			left = true;
		}
	}
	if (val.oom) {
		free(val.s);
		free(why.s);
		return -ENOMEM;
	}
	r = set_var(&c->vars[UCX_NET_DEVICES], val.s, &why);
	free(why.s);
	if (r == 0) {
		/* NCCL: '=' makes the names exact, so mlx5_1 does not also take mlx5_10. */
		_cleanup_free_ char *hca = NULL;

		if (asprintf(&hca, "=%s", val.s) < 0) {
			hca = NULL; /* undefined after a failure */
			r = -ENOMEM;
		} else
			r = set_varf(
				&c->vars[NCCL_IB_HCA], hca,
				"the fabric ports; '=' makes the names exact (else mlx5_1 "
				"would also match mlx5_10)");
	}
	free(val.s);
	return r;
}

static int calc_pkey(struct calc *c)
{
	struct ibup_env_var *ucx = &c->vars[UCX_IB_PKEY], *nccl = &c->vars[NCCL_IB_PKEY];
	int32_t key = IBUP_UNKNOWN, idx = IBUP_UNKNOWN;
	bool keys_differ = false, idx_differ = false;
	char buf[16];
	int r;

	if (c->env->fabric != IBUP_ENV_FABRIC_INFINIBAND) {
		r = set_varf(
			ucx, NULL,
			"not set: on %s UCX uses pkey index 0 (the default 0xffff) itself",
			c->fabric_label);
		if (r == 0)
			r = set_varf(
				nccl, NULL,
				"not set: %s has only the default partition, at index 0 "
				"(NCCL's default)",
				c->fabric_label);
		return r;
	}
	for (unsigned i = 0; i < c->n_picked; i++) {
		const struct ibup_port *p = c->picked[i].port;

		if (i == 0) {
			key = p->tenant_pkey;
			idx = p->tenant_pkey_index;
			continue;
		}
		keys_differ |= p->tenant_pkey != key;
		idx_differ |= p->tenant_pkey_index != idx;
	}
	if (keys_differ) {
		r = set_varf(
			ucx, NULL,
			"not set: the ports have different tenant keys; UCX's \"auto\" "
			"takes each port's first full-member key");
	} else if (key == IBUP_UNKNOWN) {
		r = set_varf(ucx, NULL,
			     "not set: no tenant key (only the default partition); UCX's "
			     "\"auto\" takes the first full-member key");
	} else {
		snprintf(buf, sizeof(buf), "0x%04x", (unsigned)key & 0x7fffu);
		r = set_varf(
			ucx, buf,
			"tenant key 0x%04x with the membership bit cleared: UCX takes "
			"0..0x7fff and matches the low 15 bits",
			(unsigned)key);
	}
	if (r < 0)
		return r;
	if (keys_differ || idx_differ)
		return set_varf(
			nccl, NULL,
			"not set: the tenant key is not at the same index on every "
			"port");
	if (key == IBUP_UNKNOWN)
		return set_varf(
			nccl, NULL,
			"not set: no tenant key; index 0 (NCCL's default) holds the "
			"default partition");
	snprintf(buf, sizeof(buf), "%d", (int)idx);
	return set_varf(
		nccl, buf,
		"index of tenant key 0x%04x in the pkey table: NCCL takes an index, "
		"not a key",
		(unsigned)key);
}

static int calc_gid_index(struct calc *c)
{
	struct ibup_env_var *ucx = &c->vars[UCX_IB_GID_INDEX],
			    *nccl = &c->vars[NCCL_IB_GID_INDEX];
	int idx = -1;
	char buf[16];
	int r;

	if (c->env->fabric == IBUP_ENV_FABRIC_INFINIBAND) {
		r = set_varf(
			ucx, NULL,
			"not set: InfiniBand addresses by LID; GID 0 is the port GUID");
		if (r == 0)
			r = set_varf(nccl, NULL, "not set: used on RoCE only");
		return r;
	}
	for (unsigned i = 0; i < c->n_picked; i++) {
		int g = roce_v2_ipv4_gid(c->picked[i].port);

		if (g < 0 || (i > 0 && g != idx)) {
			r = set_varf(
				ucx, NULL, "not set: %s; UCX's \"auto\" chooses per port",
				g < 0 ? "a port has no RoCE v2 GID over IPv4"
				      : "the ports' RoCE v2 IPv4 GIDs are at different "
					"indexes");
			if (r == 0)
				r = set_varf(
					nccl, NULL,
					"not set: NCCL 2.21 and later choose per port "
					"(older ones take GID 0)");
			return r;
		}
		idx = g;
	}
	snprintf(buf, sizeof(buf), "%d", idx);
	r = set_varf(ucx, buf, "the RoCE v2 GID over IPv4 (routable) on every port");
	if (r == 0)
		r = set_varf(nccl, buf,
			     "the RoCE v2 GID over IPv4; NCCL before 2.21 took GID 0 "
			     "(RoCE v1) unless told");
	return r;
}

static int calc_mpi(struct calc *c)
{
	const struct picked *first = &c->picked[0];
	bool mlx = true;
	char buf[256];
	int r;

	for (unsigned i = 0; i < c->n_picked; i++) {
		const char *drv = c->picked[i].dev->driver;

		if (!drv ||
		    (strcmp(drv, "mlx5_core") != 0 && strcmp(drv, "mlx4_core") != 0))
			mlx = false;
	}
	snprintf(buf, sizeof(buf), "%s:%u", first->dev->name, first->port->num);
	if (mlx)
		r = set_varf(
			&c->vars[HCOLL_MAIN_IB], buf,
			"HCOLL's device:port for its collectives: the first fabric port");
	else
		r = set_varf(&c->vars[HCOLL_MAIN_IB], NULL,
			     "not set: HCOLL runs on NVIDIA/Mellanox HCAs only");
	if (r < 0)
		return r;
	r = set_varf(&c->vars[I_MPI_FABRICS], "shm:ofi",
		     "Intel MPI 2019 and later: shared memory in the node, libfabric "
		     "between nodes");
	if (r < 0)
		return r;
	if (mlx)
		return set_varf(
			&c->vars[FI_PROVIDER], "mlx",
			"libfabric's mlx provider runs over UCX on NVIDIA/Mellanox "
			"HCAs (UCX_NET_DEVICES applies)");
	return set_varf(&c->vars[FI_PROVIDER], "verbs",
			"libfabric's verbs provider: the fabric's devices are not "
			"NVIDIA/Mellanox HCAs");
}

static int calc_socket_ifname(struct calc *c)
{
	struct ibup_env_var *v = &c->vars[NCCL_SOCKET_IFNAME];
	const struct ibup_platform *pf = &c->st->platform;
	struct strbuf val = { 0 }, why = { 0 };
	unsigned n = 0;
	int r;

	if (c->env->fabric == IBUP_ENV_FABRIC_INFINIBAND && pf->cloud &&
	    strcmp(pf->cloud, "azure") == 0) {
		_cleanup_free_ char *fe = azure_frontend(c->ctx);

		if (fe) {
			sb_addf(&val, "=%s", fe);
			sb_addf(&why,
				"Azure's front-end interface (hv_netvsc) reaches every VM; "
				"IPoIB has addresses only when waagent applied them");
			goto out;
		}
	}
	for (unsigned i = 0; i < c->n_picked; i++) {
		const char *nd = c->picked[i].port->netdev;

		if (!nd)
			continue;
		sb_addf(&val, "%s%s", n++ ? "," : "=", nd);
	}
	if (n == 0) {
		free(val.s);
		return set_varf(
			v, NULL,
			"not set: the fabric ports have no network interface; NCCL "
			"picks one itself");
	}
	if (c->env->fabric == IBUP_ENV_FABRIC_INFINIBAND)
		sb_addf(&why, "the fabric ports' IPoIB interfaces (NCCL tries ib* first "
			      "anyway)");
	else
		sb_addf(&why,
			"the %s ports' interfaces, which carry the fabric's IP "
			"addresses",
			c->fabric_label);
out:
	if (val.oom) {
		free(val.s);
		free(why.s);
		return -ENOMEM;
	}
	r = set_var(v, val.s, &why);
	free(val.s);
	free(why.s);
	return r;
}

static int calc_topo_file(struct calc *c)
{
	struct ibup_env_var *v = &c->vars[NCCL_TOPO_FILE];
	const struct ibup_platform *pf = &c->st->platform;
	const char *family;
	char path[128];

	if (!pf->vm_size) {
		if (pf->cloud && strcmp(pf->cloud, "azure") == 0)
			return set_varf(v, NULL,
					"not set: VM size unknown (give --vm-size); NCCL "
					"detects the topology itself");
		return set_varf(
			v, NULL,
			"not set: not an Azure VM; NCCL detects the topology itself");
	}
	family = ibup_nccl_topo_family(pf->vm_size);
	if (!family)
		return set_varf(v, NULL,
				"not set: %s has no NCCL topology file; NCCL detects the "
				"topology itself",
				pf->vm_size);
	/* azhpc-images: the file, and a per-family directory linking to it. */
	for (int i = 0; i < 2; i++) {
		int r;

		if (i == 0)
			snprintf(path, sizeof(path), "opt/microsoft/%s-topo.xml", family);
		else
			snprintf(path, sizeof(path), "opt/microsoft/%s/topo.xml", family);
		r = ibup_path_exists(c->ctx, "%s", path);
		if (r > 0) {
			char abs[sizeof(path) + 1];

			snprintf(abs, sizeof(abs), "/%s", path);
			return set_varf(
				v, abs,
				"the %s topology (GPUs, NICs, NUMA) that the VM's "
				"virtual PCI tree hides from NCCL",
				family);
		}
	}
	return set_varf(
		v, NULL,
		"not set: no /opt/microsoft/%s-topo.xml (azhpc-images ship it); NCCL "
		"detects the topology itself",
		family);
}

static int calc_relaxed_ordering(struct calc *c)
{
	struct ibup_env_var *v = &c->vars[NCCL_IB_PCI_RELAXED_ORDERING];

	for (unsigned i = 0; i < c->n_picked; i++)
		if (c->picked[i].dev->virtual_function != 1)
			return set_varf(
				v, NULL,
				"not set: not a virtual function; NCCL's default (2) "
				"uses relaxed ordering when available");
	return set_varf(
		v, "1",
		"the HCAs are virtual functions: relaxed ordering greatly helps IB in a VM "
		"(NCCL's docs); on, as azhpc-images' nccl.conf has it, whatever the job "
		"inherits");
}

static void env_release_vars(struct ibup_env_var *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(v[i].value);
		free(v[i].why);
	}
}

static int pick_ports(struct calc *c, struct ibup_diag *reterr)
{
	const struct ibup_status *st = c->st;
	unsigned n = 0;

	for (unsigned d = 0; d < st->n_devices; d++)
		if (st->devices[d].kind == c->kind)
			n += st->devices[d].n_ports;
	c->picked = calloc(n ? n : 1, sizeof(*c->picked));
	if (!c->picked)
		return -ENOMEM;
	for (unsigned d = 0; d < st->n_devices; d++) {
		const struct ibup_device *dev = &st->devices[d];

		if (dev->kind != c->kind)
			continue;
		for (unsigned p = 0; p < dev->n_ports; p++)
			if (dev->ports[p].state == IBUP_PORT_ACTIVE &&
			    port_on_fabric(&dev->ports[p], c->env->fabric))
				c->picked[c->n_picked++] =
					(struct picked){ dev, &dev->ports[p] };
	}
	if (c->n_picked == 0) {
		set_diag(reterr, "no ACTIVE %s port on this node: see 'ibup check'",
			 c->fabric_label);
		return -ENODEV;
	}
	return 0;
}

static int fill_ports(struct calc *c)
{
	struct ibup_env *env = c->env;

	env->ports = calloc(c->n_picked, sizeof(*env->ports));
	if (!env->ports)
		return -ENOMEM;
	for (unsigned i = 0; i < c->n_picked; i++) {
		struct ibup_env_port *p = &env->ports[env->n_ports++];

		p->port = c->picked[i].port->num;
		p->device = strdup(c->picked[i].dev->name);
		if (c->picked[i].port->netdev)
			p->netdev = strdup(c->picked[i].port->netdev);
		if (!p->device || (c->picked[i].port->netdev && !p->netdev))
			return -ENOMEM;
	}
	return 0;
}

int ibup_env_compute(struct ibup_ctx *ctx, const struct ibup_status *st,
		     enum ibup_env_mpi mpi, struct ibup_env **ret_env,
		     struct ibup_diag *reterr)
{
	struct ibup_env_var vars[N_VARS] = { 0 };
	struct calc c = { .ctx = ctx, .st = st, .vars = vars };
	struct ibup_env *env;
	int r;

	if (!ibup_env_mpi_name(mpi))
		return -EINVAL;
	env = calloc(1, sizeof(*env));
	if (!env)
		return -ENOMEM;
	c.env = env;
	env->mpi = mpi;
	env->fabric = pick_fabric(st, &c.kind);
	if (env->fabric == IBUP_ENV_FABRIC_NONE) {
		no_fabric_diag(st, reterr);
		ibup_env_free(env);
		return -ENODEV;
	}
	c.fabric_label = kind_label(c.kind);
	r = pick_ports(&c, reterr);
	if (r == 0)
		r = fill_ports(&c);
	if (r == 0)
		r = calc_net_devices(&c);
	if (r == 0)
		r = calc_pkey(&c);
	if (r == 0)
		r = calc_gid_index(&c);
	if (r == 0)
		r = calc_mpi(&c);
	if (r == 0)
		r = calc_socket_ifname(&c);
	if (r == 0)
		r = calc_topo_file(&c);
	if (r == 0)
		r = calc_relaxed_ordering(&c);
	free(c.picked);
	if (r == 0) {
		env->vars = calloc(N_VARS, sizeof(*env->vars));
		if (!env->vars)
			r = -ENOMEM;
	}
	if (r < 0) {
		env_release_vars(vars, N_VARS);
		ibup_env_free(env);
		return r;
	}
	for (unsigned i = 0; i < N_VARS; i++) {
		if (!(specs[i].mpis & MPI_BIT(mpi))) {
			free(vars[i].value);
			free(vars[i].why);
			continue;
		}
		vars[i].name = specs[i].name;
		vars[i].readers = specs[i].readers;
		env->vars[env->n_vars++] = vars[i];
	}
	*ret_env = env;
	return 0;
}

struct ibup_env *ibup_env_free(struct ibup_env *env)
{
	if (!env)
		return NULL;
	for (unsigned i = 0; i < env->n_ports; i++) {
		free(env->ports[i].device);
		free(env->ports[i].netdev);
	}
	free(env->ports);
	env_release_vars(env->vars, env->n_vars);
	free(env->vars);
	free(env);
	return NULL;
}

const struct ibup_env_var *ibup_env_get(const struct ibup_env *env, const char *name)
{
	for (unsigned i = 0; i < env->n_vars; i++)
		if (strcmp(env->vars[i].name, name) == 0)
			return &env->vars[i];
	return NULL;
}

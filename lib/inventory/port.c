// SPDX-License-Identifier: MIT
/* One port of an RDMA device: /sys/class/infiniband/<dev>/ports/<n>/. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

/*
 * GID and pkey tables are read in blocks of 32 entries (a PKeyTable MAD's worth), because
 * nearly all of their files are empty: a RoCE port has 256 GIDs, an InfiniBand port 128
 * pkeys, and a VM's port uses two or three of them.
 * - GIDs: the kernel hands out the lowest free slot, and removals leave holes, so only a
 *   wholly empty block ends the table.
 * - pkeys: the subnet manager packs a port's partitions from index 0 (a VF's table is
 *   packed by the hypervisor), so the first block with a free entry is the last in use.
 * On an 8-HCA VM this spares about a thousand file reads per run.
 */
#define TABLE_BLOCK 32

/* Whether entry @idx, the first of a block, comes after the last block in use. */
static bool table_ends(uint32_t idx, unsigned *used_in_block, unsigned full)
{
	bool ends;

	if (idx % TABLE_BLOCK != 0)
		return false;
	ends = idx > 0 && *used_in_block < full;
	*used_in_block = 0;
	return ends;
}

/*
 * Read an attribute of a port, @name in @dirfd, which is the port's directory or, when
 * @table is set, that table's ("gids", "pkeys"). Any failure but a missing optional
 * file is reported, with the attribute's whole path.
 */
static int port_attr(struct ibup_ctx *ctx, int dirfd, const char *dev, unsigned num,
		     const char *table, const char *name, bool optional, char *buf,
		     size_t size)
{
	int r = ibup_read_attr_at(dirfd, buf, size, name);

	if (r < 0 && !(optional && r == -ENOENT))
		ibup_warn(ctx,
			  "cannot read '/sys/class/infiniband/%s/ports/%u/%s%s%s': %s",
			  dev, num, table ? table : "", table ? "/" : "", name,
			  strerror(-r));
	return r;
}

static void bad_value(struct ibup_ctx *ctx, const char *dev, unsigned num,
		      const char *table, const char *name, const char *value)
{
	ibup_warn(
		ctx,
		"ignoring malformed '/sys/class/infiniband/%s/ports/%u/%s%s%s': '%.64s'",
		dev, num, table ? table : "", table ? "/" : "", name, value);
}

/* Open a directory of a port; one that exists but cannot be opened is reported. */
static int port_dir(struct ibup_ctx *ctx, int portfd, const char *dev, unsigned num,
		    const char *name)
{
	int fd = ibup_open_dir_at(portfd, name);

	if (fd < 0 && fd != -ENOENT)
		ibup_warn(ctx, "cannot open '/sys/class/infiniband/%s/ports/%u/%s': %s",
			  dev, num, name, strerror(-fd));
	return fd;
}

/* "0x%x" attributes: lid, sm_lid. */
static int64_t read_hex(struct ibup_ctx *ctx, int portfd, const char *dev, unsigned num,
			const char *name)
{
	char buf[64];
	uint32_t v;

	if (port_attr(ctx, portfd, dev, num, NULL, name, true, buf, sizeof(buf)) < 0)
		return IBUP_UNKNOWN;
	if (strncmp(buf, "0x", 2) != 0 || ibup_parse_u32(buf + 2, 16, &v) < 0) {
		bad_value(ctx, dev, num, NULL, name, buf);
		return IBUP_UNKNOWN;
	}
	return v;
}

static int read_gids(struct ibup_ctx *ctx, int portfd, const char *dev,
		     struct ibup_port *p)
{
	_cleanup_close_ int gidsfd = -1, typesfd = -1, ndevsfd = -1;
	unsigned used_in_block = 0;
	char **names = NULL;
	unsigned n = 0;
	int r;

	gidsfd = port_dir(ctx, portfd, dev, p->num, "gids");
	if (gidsfd < 0)
		return 0; /* iWARP and some drivers have no GID table */
	r = ibup_list_dir_logged(ctx, gidsfd, IBUP_MAX_TABLE, &names, &n,
				 "sys/class/infiniband/%s/ports/%u/gids", dev, p->num);
	if (r < 0)
		return r;
	typesfd = port_dir(ctx, portfd, dev, p->num, "gid_attrs/types");
	ndevsfd = port_dir(ctx, portfd, dev, p->num, "gid_attrs/ndevs");
	p->gids = calloc(n ? n : 1, sizeof(*p->gids));
	if (!p->gids) {
		ibup_strv_free(names, n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		static const uint8_t zero[16];
		struct ibup_gid *g = &p->gids[p->n_gids];
		char buf[128];
		uint8_t raw[16];
		uint32_t idx;

		if (ibup_parse_index(names[i], &idx) < 0)
			continue;
		if (table_ends(idx, &used_in_block, 1))
			break;
		if (port_attr(ctx, gidsfd, dev, p->num, "gids", names[i], false, buf,
			      sizeof(buf)) < 0)
			continue;
		if (ibup_parse_gid(buf, raw) < 0) {
			bad_value(ctx, dev, p->num, "gids", names[i], buf);
			continue;
		}
		if (memcmp(raw, zero, sizeof(zero)) == 0)
			continue;
		used_in_block++;
		g->index = idx;
		ibup_format_gid(raw, g->gid);
		g->type = IBUP_GID_TYPE_UNREAD;
		/* An unused or invalid entry's type reads as EINVAL: not worth a warning. */
		if (typesfd >= 0 &&
		    ibup_read_attr_at(typesfd, buf, sizeof(buf), names[i]) >= 0 &&
		    ibup_parse_gid_type(buf, p->link_layer, &g->type) < 0)
			bad_value(ctx, dev, p->num, "gid_attrs/types", names[i], buf);
		if (ndevsfd >= 0 &&
		    ibup_read_attr_at(ndevsfd, buf, sizeof(buf), names[i]) > 0) {
			g->netdev = ibup_strdup_clean(buf);
			if (!g->netdev) {
				ibup_strv_free(names, n);
				return -ENOMEM;
			}
		}
		if (idx == 0 && p->link_layer == IBUP_LINK_LAYER_INFINIBAND) {
			char guid[20];
			uint64_t v = 0;

			for (unsigned b = 8; b < 16; b++)
				v = v << 8 | raw[b];
			ibup_format_guid(v, guid);
			p->port_guid = strdup(guid);
			if (!p->port_guid) {
				ibup_strv_free(names, n);
				return -ENOMEM;
			}
		}
		p->n_gids++;
	}
	ibup_strv_free(names, n);
	return 0;
}

static int read_pkeys(struct ibup_ctx *ctx, int portfd, const char *dev,
		      struct ibup_port *p)
{
	_cleanup_close_ int pkeysfd = -1;
	uint16_t first[2] = { 0, 0 };
	unsigned used_in_block = 0;
	char **names = NULL;
	unsigned n = 0;
	int r;

	pkeysfd = port_dir(ctx, portfd, dev, p->num, "pkeys");
	if (pkeysfd < 0)
		return 0; /* Ethernet ports of some drivers have no pkey table */
	r = ibup_list_dir_logged(ctx, pkeysfd, IBUP_MAX_TABLE, &names, &n,
				 "sys/class/infiniband/%s/ports/%u/pkeys", dev, p->num);
	if (r < 0)
		return r;
	p->pkeys = calloc(n ? n : 1, sizeof(*p->pkeys));
	if (!p->pkeys) {
		ibup_strv_free(names, n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		char buf[64];
		uint16_t key;
		uint32_t idx;

		if (ibup_parse_index(names[i], &idx) < 0)
			continue;
		if (table_ends(idx, &used_in_block, TABLE_BLOCK))
			break;
		if (port_attr(ctx, pkeysfd, dev, p->num, "pkeys", names[i], false, buf,
			      sizeof(buf)) < 0)
			continue;
		if (ibup_parse_pkey(buf, &key) < 0) {
			bad_value(ctx, dev, p->num, "pkeys", names[i], buf);
			continue;
		}
		if (idx < 2)
			first[idx] = key;
		if (key) {
			p->pkeys[p->n_pkeys++] = key;
			used_in_block++;
		}
	}
	ibup_strv_free(names, n);
	if (p->link_layer == IBUP_LINK_LAYER_INFINIBAND) {
		p->tenant_pkey = ibup_tenant_pkey(first, 2);
		/* NCCL takes the key by its index (NCCL_IB_PKEY), UCX by its value. */
		if (p->tenant_pkey != IBUP_UNKNOWN)
			p->tenant_pkey_index = p->tenant_pkey == first[0] ? 0 : 1;
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Every counter file of @dir ("counters" or "hw_counters"), by name. */
static int read_counters(struct ibup_ctx *ctx, int portfd, const char *dev, unsigned num,
			 const char *dir, struct ibup_counter **ret, unsigned *ret_n,
			 bool *ret_has)
{
	_cleanup_close_ int fd = -1;
	struct ibup_counter *v;
	char **names = NULL;
	unsigned n = 0, k = 0;
	int r;

	fd = port_dir(ctx, portfd, dev, num, dir);
	if (fd < 0)
		return 0; /* only devices with a PMA (or driver counters) have it */
	*ret_has = true;
	r = ibup_list_dir_logged(ctx, fd, IBUP_MAX_COUNTERS, &names, &n,
				 "sys/class/infiniband/%s/ports/%u/%s", dev, num, dir);
	if (r < 0)
		return r;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		ibup_strv_free(names, n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		char buf[64];

		/* hw_counters/lifespan is the refresh period, not a counter. */
		if (strcmp(names[i], "lifespan") == 0)
			continue;
		/* Older kernels print "N/A (no PMA)" when the query fails: not a value. */
		if (ibup_read_attr_at(fd, buf, sizeof(buf), names[i]) < 0 ||
		    parse_u64(buf, &v[k].value) < 0)
			continue;
		/* Opened by its real name, shown by a clean one (terminals, JSON). */
		v[k++].name = ibup_sanitize(TAKE_PTR(names[i]));
	}
	ibup_strv_free(names, n);
	*ret = v;
	*ret_n = k;
	return 0;
}

int ibup_port_read(struct ibup_ctx *ctx, int devfd, const char *dev, unsigned num,
		   unsigned flags, struct ibup_port *ret_port)
{
	_cleanup_close_ int portfd = -1;
	struct ibup_port p = {
		.num = num,
		.state = IBUP_PORT_STATE_UNREAD,
		.phys_state = IBUP_PHYS_STATE_UNREAD,
		.rate_gbps = NAN,
		.link_layer = IBUP_LINK_LAYER_UNREAD,
		.lid = IBUP_UNKNOWN,
		.sm_lid = IBUP_UNKNOWN,
		.lmc = IBUP_UNKNOWN,
		.tenant_pkey = IBUP_UNKNOWN,
		.tenant_pkey_index = IBUP_UNKNOWN,
	};
	char path[32], buf[128];
	int r;

	snprintf(path, sizeof(path), "ports/%u", num);
	portfd = ibup_open_dir_at(devfd, path);
	if (portfd < 0) {
		ibup_warn(ctx, "cannot open '/sys/class/infiniband/%s/ports/%u': %s", dev,
			  num, strerror(-portfd));
		*ret_port = p;
		return 0;
	}
	if (port_attr(ctx, portfd, dev, num, NULL, "state", false, buf, sizeof(buf)) >=
		    0 &&
	    ibup_parse_port_state(buf, &p.state) < 0)
		bad_value(ctx, dev, num, NULL, "state", buf);
	if (port_attr(ctx, portfd, dev, num, NULL, "phys_state", false, buf,
		      sizeof(buf)) >= 0 &&
	    ibup_parse_phys_state(buf, &p.phys_state) < 0)
		bad_value(ctx, dev, num, NULL, "phys_state", buf);
	if (port_attr(ctx, portfd, dev, num, NULL, "link_layer", false, buf,
		      sizeof(buf)) >= 0 &&
	    ibup_parse_link_layer(buf, &p.link_layer) < 0)
		bad_value(ctx, dev, num, NULL, "link_layer", buf);
	/* The kernel fails the read (EINVAL) while a port has no valid speed. */
	r = ibup_read_attr_at(portfd, buf, sizeof(buf), "rate");
	if (r >= 0) {
		if (ibup_parse_rate(buf, &p.rate_gbps, p.width, sizeof(p.width), p.speed,
				    sizeof(p.speed)) < 0)
			bad_value(ctx, dev, num, NULL, "rate", buf);
	} else if (r != -EINVAL || p.state == IBUP_PORT_ACTIVE) {
		port_attr(ctx, portfd, dev, num, NULL, "rate", false, buf, sizeof(buf));
	}
	if (p.link_layer == IBUP_LINK_LAYER_INFINIBAND) {
		p.lid = read_hex(ctx, portfd, dev, num, "lid");
		p.sm_lid = read_hex(ctx, portfd, dev, num, "sm_lid");
		/* 0 and the permissive 0xffff are what a port has before a subnet manager
		 * assigns it a LID: not an address. */
		if (p.lid == 0 || p.lid == 0xffff)
			p.lid = IBUP_UNKNOWN;
		if (p.sm_lid == 0 || p.sm_lid == 0xffff)
			p.sm_lid = IBUP_UNKNOWN;
		if (port_attr(ctx, portfd, dev, num, NULL, "lid_mask_count", true, buf,
			      sizeof(buf)) >= 0) {
			uint32_t v;

			if (ibup_parse_u32(buf, 10, &v) < 0 || v > 7)
				bad_value(ctx, dev, num, NULL, "lid_mask_count", buf);
			else
				p.lmc = v;
		}
	}
	r = read_gids(ctx, portfd, dev, &p);
	if (r >= 0)
		r = read_pkeys(ctx, portfd, dev, &p);
	/* On hardware each counters/ file is a PMA query to the firmware: only on request. */
	if (r >= 0 && (flags & IBUP_STATUS_COUNTERS))
		r = read_counters(ctx, portfd, dev, num, "counters", &p.counters,
				  &p.n_counters, &p.has_counters);
	if (r >= 0 && (flags & IBUP_STATUS_COUNTERS))
		r = read_counters(ctx, portfd, dev, num, "hw_counters", &p.hw_counters,
				  &p.n_hw_counters, &p.has_hw_counters);
	if (r < 0) {
		ibup_port_release(&p);
		return r;
	}
	*ret_port = p;
	return 0;
}

void ibup_port_release(struct ibup_port *port)
{
	if (!port)
		return;
	for (unsigned i = 0; i < port->n_gids; i++)
		free(port->gids[i].netdev);
	free(port->gids);
	for (unsigned i = 0; i < port->n_counters; i++)
		free(port->counters[i].name);
	free(port->counters);
	for (unsigned i = 0; i < port->n_hw_counters; i++)
		free(port->hw_counters[i].name);
	free(port->hw_counters);
	free(port->pkeys);
	free(port->port_guid);
	free(port->netdev);
	memset(port, 0, sizeof(*port));
}

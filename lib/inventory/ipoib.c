// SPDX-License-Identifier: MIT
/*
 * IPoIB interfaces: every network interface of type InfiniBand, whatever its name
 * (ib0, ibP257p0s0, renamed), tied to its RDMA port by the GUID in its address.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

#define ARPHRD_INFINIBAND_TYPE 32

int ibup_parse_ipoib_hwaddr(const char *s, uint8_t ret[20])
{
	for (unsigned i = 0; i < 20; i++) {
		unsigned v;
		int used = 0;

		if (sscanf(s, "%2x%n", &v, &used) != 1 || used != 2)
			return -EINVAL;
		ret[i] = (uint8_t)v;
		s += 2;
		if (i < 19 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

static const struct ibup_port *port_by_guid(const struct ibup_status *st,
					    const char *guid, const char **ret_dev)
{
	for (unsigned i = 0; i < st->n_devices; i++)
		for (unsigned p = 0; p < st->devices[i].n_ports; p++) {
			const struct ibup_port *port = &st->devices[i].ports[p];

			if (port->port_guid && strcmp(port->port_guid, guid) == 0) {
				*ret_dev = st->devices[i].name;
				return port;
			}
		}
	return NULL;
}

static int dup_attr(int fd, const char *name, char **ret)
{
	char buf[256];

	if (ibup_read_attr_at(fd, buf, sizeof(buf), name) <= 0)
		return 0;
	*ret = ibup_strdup_clean(buf);
	return *ret ? 0 : -ENOMEM;
}

static int cmp_str(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

static int add_addresses(struct ibup_ipoib *ib, uint32_t ifindex,
			 const struct ibup_netlink_addr *addrs, unsigned n_addrs)
{
	ib->ipv4_known = true;
	for (unsigned i = 0; i < n_addrs; i++) {
		char **v;

		if (addrs[i].ifindex != ifindex)
			continue;
		v = realloc(ib->ipv4, (ib->n_ipv4 + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ib->ipv4 = v;
		v[ib->n_ipv4] = strdup(addrs[i].text);
		if (!v[ib->n_ipv4])
			return -ENOMEM;
		ib->n_ipv4++;
	}
	if (ib->n_ipv4 > 1)
		qsort(ib->ipv4, ib->n_ipv4, sizeof(*ib->ipv4), cmp_str);
	return 0;
}

/* Fill one interface from its sysfs directory; -ENOENT when it is not IPoIB. */
static int read_one(struct ibup_ctx *ctx, int fd, const char *name,
		    const struct ibup_status *st, const struct ibup_netlink_addr *addrs,
		    unsigned n_addrs, bool addrs_known, struct ibup_ipoib *ib)
{
	char buf[256], guid[20];
	uint32_t v, ifindex = 0;
	uint8_t hw[20];
	int r;

	if (ibup_read_attr_at(fd, buf, sizeof(buf), "type") < 0 ||
	    ibup_parse_u32(buf, 10, &v) < 0 || v != ARPHRD_INFINIBAND_TYPE)
		return -ENOENT;
	*ib = (struct ibup_ipoib){ .pkey = IBUP_UNKNOWN, .mtu = IBUP_UNKNOWN };
	ib->name = ibup_strdup_clean(name);
	if (!ib->name)
		return -ENOMEM;
	r = dup_attr(fd, "address", &ib->hw_address);
	if (r >= 0)
		r = dup_attr(fd, "mode", &ib->mode);
	if (r >= 0)
		r = dup_attr(fd, "operstate", &ib->operstate);
	if (r < 0)
		return r;
	if (ibup_read_attr_at(fd, buf, sizeof(buf), "mtu") >= 0 &&
	    ibup_parse_u32(buf, 10, &v) >= 0)
		ib->mtu = v;
	if (ibup_read_attr_at(fd, buf, sizeof(buf), "pkey") >= 0) {
		uint16_t key;

		if (ibup_parse_pkey(buf, &key) >= 0)
			ib->pkey = key;
	}
	if (ib->hw_address) {
		if (ibup_parse_ipoib_hwaddr(ib->hw_address, hw) < 0) {
			ibup_warn(ctx, "ignoring malformed address of '%s': '%.64s'",
				  name, ib->hw_address);
		} else {
			const struct ibup_port *port;
			const char *dev = NULL;
			uint64_t g = 0;

			/* Bytes 12..19 of the address are the port GUID (the GID's low half). */
			for (unsigned b = 12; b < 20; b++)
				g = g << 8 | hw[b];
			ibup_format_guid(g, guid);
			ib->port_guid = strdup(guid);
			if (!ib->port_guid)
				return -ENOMEM;
			port = port_by_guid(st, guid, &dev);
			if (port) {
				ib->device = strdup(dev);
				if (!ib->device)
					return -ENOMEM;
				ib->port = port->num;
			}
		}
	}
	if (addrs_known && ibup_read_attr_at(fd, buf, sizeof(buf), "ifindex") >= 0 &&
	    ibup_parse_u32(buf, 10, &ifindex) >= 0)
		return add_addresses(ib, ifindex, addrs, n_addrs);
	return 0;
}

int ibup_ipoib_read(struct ibup_ctx *ctx, const struct ibup_status *st,
		    struct ibup_ipoib **ret, unsigned *ret_n)
{
	_cleanup_close_ int netfd = -1;
	struct ibup_netlink_addr *addrs = NULL;
	struct ibup_ipoib *v = NULL;
	unsigned n = 0, n_addrs = 0, k = 0;
	bool addrs_known = false;
	char **names = NULL;
	int r;

	*ret = NULL;
	*ret_n = 0;
	netfd = ibup_open_dir(ctx, "sys/class/net");
	if (netfd < 0)
		return 0;
	r = ibup_list_dir_logged(ctx, netfd, IBUP_MAX_NETDEVS, &names, &n,
				 "sys/class/net");
	if (r < 0)
		return r;
	if (n && ibup_ctx_is_live(ctx)) {
		r = ibup_netlink_ipv4(&addrs, &n_addrs);
		if (r == -ENOMEM) {
			ibup_strv_free(names, n);
			return r;
		}
		if (r < 0)
			ibup_warn(ctx, "cannot read addresses through rtnetlink: %s",
				  strerror(-r));
		addrs_known = r == 0;
	}
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		r = -ENOMEM;
	for (unsigned i = 0; v && i < n; i++) {
		/* sys/class/net entries link into /sys/devices: resolve them under the root. */
		_cleanup_close_ int fd = ibup_open_dir(ctx, "sys/class/net/%s", names[i]);

		if (fd < 0)
			continue;
		r = read_one(ctx, fd, names[i], st, addrs, n_addrs, addrs_known, &v[k]);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		k++;
		if (r < 0)
			break;
	}
	free(addrs);
	ibup_strv_free(names, n);
	if (r < 0) {
		ibup_ipoib_free(v, k);
		return r;
	}
	*ret = v;
	*ret_n = k;
	return 0;
}

void ibup_ipoib_free(struct ibup_ipoib *v, unsigned n)
{
	for (unsigned i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].device);
		free(v[i].hw_address);
		free(v[i].port_guid);
		free(v[i].mode);
		free(v[i].operstate);
		ibup_strv_free(v[i].ipv4, v[i].n_ipv4);
	}
	free(v);
}

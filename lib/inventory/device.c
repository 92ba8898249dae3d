// SPDX-License-Identifier: MIT
/*
 * RDMA devices: /sys/class/infiniband/<dev>, the PCI function behind it, its network
 * interfaces, and what kind of device it is, decided from facts rather than names.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "banned.h"

#define PCI_VENDOR_MELLANOX 0x15b3
#define PCI_VENDOR_MICROSOFT 0x1414
#define ARPHRD_ETHER_TYPE 1
#define ARPHRD_INFINIBAND_TYPE 32

/*
 * SR-IOV virtual functions by PCI id. Inside a VM the physical function is not
 * visible, so the "physfn" link is missing and the id is the only evidence.
 */
static const struct {
	uint16_t vendor, device;
} vf_ids[] = {
	{ PCI_VENDOR_MELLANOX, 0x1002 }, /* ConnectX-2 VF */
	{ PCI_VENDOR_MELLANOX, 0x1004 }, /* ConnectX-3/ConnectX-3 Pro VF */
	{ PCI_VENDOR_MELLANOX, 0x1012 }, /* Connect-IB VF */
	{ PCI_VENDOR_MELLANOX, 0x1014 }, /* ConnectX-4 VF */
	{ PCI_VENDOR_MELLANOX, 0x1016 }, /* ConnectX-4 Lx VF */
	{ PCI_VENDOR_MELLANOX, 0x1018 }, /* ConnectX-5 VF */
	{ PCI_VENDOR_MELLANOX, 0x101a }, /* ConnectX-5 Ex VF */
	{ PCI_VENDOR_MELLANOX, 0x101c }, /* ConnectX-6 VF */
	{ PCI_VENDOR_MELLANOX,
	  0x101e }, /* ConnectX family mlx5Gen VF (ConnectX-6 Dx on) */
	{ PCI_VENDOR_MELLANOX, 0xa2d3 }, /* BlueField VF */
	{ PCI_VENDOR_MICROSOFT, 0x00ba }, /* MANA VF */
};

bool ibup_pci_is_virtual_function(int32_t vendor, int32_t device)
{
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(vf_ids); i++)
		if (vf_ids[i].vendor == vendor && vf_ids[i].device == device)
			return true;
	return false;
}

enum ibup_device_kind ibup_classify_device(const struct ibup_kind_facts *f)
{
	bool mana_driver = f->driver && (strcmp(f->driver, "mana") == 0 ||
					 strcmp(f->driver, "mana_ib") == 0);

	if (mana_driver || (f->is_pci && f->pci_vendor_id == PCI_VENDOR_MICROSOFT))
		return IBUP_KIND_MANA;
	if (f->node_type == IBUP_NODE_RNIC)
		return IBUP_KIND_IWARP;
	if (f->any_infiniband_port)
		return IBUP_KIND_INFINIBAND;
	if (f->any_ethernet_port) {
		if (!f->is_pci && f->virtual_parent)
			return IBUP_KIND_SOFT_ROCE;
		if (f->enslaved_to_synthetic)
			return IBUP_KIND_ACCELERATED_NETWORKING;
		if (f->is_pci)
			return IBUP_KIND_ROCE;
	}
	return IBUP_KIND_OTHER;
}

/* "dddd:bb:dd.f" */
static bool is_pci_address(const char *s)
{
	static const char shape[] = "xxxx:xx:xx.x";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++) {
		bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');

		if (shape[i] == 'x' ? !hex : s[i] != shape[i])
			return false;
	}
	return true;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int dup_attr(struct ibup_ctx *ctx, int dirfd, const char *dev, const char *name,
		    char **ret)
{
	char buf[IBUP_ATTR_MAX];
	int r = ibup_read_attr_at(dirfd, buf, sizeof(buf), name);

	if (r < 0) {
		/* Drivers differ in which attributes they have: absence is normal. */
		if (r != -ENOENT)
			ibup_warn(ctx, "cannot read '/sys/class/infiniband/%s/%s': %s",
				  dev, name, strerror(-r));
		return 0;
	}
	if (r == 0)
		return 0;
	*ret = ibup_strdup_clean(buf);
	return *ret ? 0 : -ENOMEM;
}

static int dup_guid(struct ibup_ctx *ctx, int dirfd, const char *dev, const char *name,
		    char **ret)
{
	char buf[64], guid[20];
	uint64_t v;
	int r = ibup_read_attr_at(dirfd, buf, sizeof(buf), name);

	if (r < 0) {
		if (r != -ENOENT)
			ibup_warn(ctx, "cannot read '/sys/class/infiniband/%s/%s': %s",
				  dev, name, strerror(-r));
		return 0;
	}
	if (ibup_parse_guid(buf, &v) < 0) {
		ibup_warn(ctx,
			  "ignoring malformed '/sys/class/infiniband/%s/%s': '%.64s'",
			  dev, name, buf);
		return 0;
	}
	ibup_format_guid(v, guid);
	*ret = strdup(guid);
	return *ret ? 0 : -ENOMEM;
}

/* "16.0 GT/s PCIe" (also "8.0 GT/s" on older kernels); "Unknown" on a VF. */
static double read_link_speed(struct ibup_ctx *ctx, int pcifd, const char *pci,
			      const char *name)
{
	char buf[64], *end;
	double v;

	if (ibup_read_attr_at(pcifd, buf, sizeof(buf), name) < 0)
		return NAN;
	errno = 0;
	v = strtod(buf, &end);
	if (errno || end == buf || strncmp(end, " GT/s", 5) != 0 || !(v > 0))
		return NAN;
	/* strtod takes "inf" and "1e999": no link runs at that, and JSON cannot say it. */
	if (!isfinite(v) || v > 1000) {
		ibup_warn(ctx, "ignoring malformed %s of '%s': '%.64s'", name, pci, buf);
		return NAN;
	}
	return v;
}

/* "16"; a VF's reserved field reads 0 or 255. */
static int32_t read_link_width(int pcifd, const char *name)
{
	char buf[32];
	uint32_t v;

	if (ibup_read_attr_at(pcifd, buf, sizeof(buf), name) < 0 ||
	    ibup_parse_u32(buf, 10, &v) < 0 || v == 0 || v > 32)
		return IBUP_UNKNOWN;
	return (int32_t)v;
}

/* "0x15b3" style PCI id attributes. */
static int32_t read_pci_id(int pcifd, const char *name)
{
	char buf[32];
	uint32_t v;

	if (ibup_read_attr_at(pcifd, buf, sizeof(buf), name) < 0 ||
	    strncmp(buf, "0x", 2) || ibup_parse_u32(buf + 2, 16, &v) < 0 || v > 0xffff)
		return IBUP_UNKNOWN;
	return (int32_t)v;
}

/* A network interface of the device's PCI function. */
struct netdev_info {
	char *name;
	uint32_t type, dev_port;
	bool child; /* a pkey child or other interface stacked on another */
};

static void netdevs_free(struct netdev_info *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static int read_netdevs(int pcifd, struct netdev_info **ret, unsigned *ret_n)
{
	_cleanup_close_ int netfd = -1;
	struct netdev_info *v;
	char **names = NULL;
	unsigned n = 0, k = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	netfd = ibup_open_dir_at(pcifd, "net");
	if (netfd < 0)
		return 0;
	r = ibup_list_dir_at(netfd, IBUP_MAX_DEVICES, &names, &n);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		ibup_strv_free(names, n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		_cleanup_close_ int fd = ibup_open_dir_at(netfd, names[i]);
		char buf[64];
		uint32_t ifindex = 0, iflink = 0;

		if (fd < 0)
			continue;
		if (ibup_read_attr_at(fd, buf, sizeof(buf), "type") < 0 ||
		    ibup_parse_u32(buf, 10, &v[k].type) < 0)
			continue;
		/* dev_port numbers the ports of a multi-port function from 0. */
		if (ibup_read_attr_at(fd, buf, sizeof(buf), "dev_port") < 0 ||
		    ibup_parse_u32(buf, 10, &v[k].dev_port) < 0)
			v[k].dev_port = 0;
		if (ibup_read_attr_at(fd, buf, sizeof(buf), "ifindex") >= 0 &&
		    ibup_parse_u32(buf, 10, &ifindex) >= 0 &&
		    ibup_read_attr_at(fd, buf, sizeof(buf), "iflink") >= 0 &&
		    ibup_parse_u32(buf, 10, &iflink) >= 0)
			v[k].child = ifindex != iflink;
		v[k].name = TAKE_PTR(names[i]);
		k++;
	}
	ibup_strv_free(names, n);
	*ret = v;
	*ret_n = k;
	return 0;
}

/* The first (in name order) non-child interface of @type on port @num. */
static const char *pick_netdev(const struct netdev_info *v, unsigned n, uint32_t type,
			       unsigned num)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i].type == type && v[i].dev_port + 1 == num && !v[i].child)
			return v[i].name;
	return NULL;
}

/*
 * Azure Accelerated Networking: the VF's interface is enslaved to a synthetic
 * interface (driver hv_netvsc) that carries the same MAC address.
 */
static bool enslaved_to_synthetic(struct ibup_ctx *ctx, const char *netdev)
{
	char master[256], driver[256], a[64], b[64];

	if (ibup_read_link(ctx, master, sizeof(master), "sys/class/net/%s/master",
			   netdev) < 0)
		return false;
	if (ibup_read_link(ctx, driver, sizeof(driver), "sys/class/net/%s/device/driver",
			   basename_of(master)) < 0 ||
	    strcmp(basename_of(driver), "hv_netvsc") != 0)
		return false;
	if (ibup_read_attr(ctx, a, sizeof(a), "sys/class/net/%s/address", netdev) < 0 ||
	    ibup_read_attr(ctx, b, sizeof(b), "sys/class/net/%s/address",
			   basename_of(master)) < 0)
		return false;
	return strcasecmp(a, b) == 0;
}

static int read_pci(struct ibup_ctx *ctx, const char *name, struct ibup_device *d,
		    int *ret_pcifd)
{
	char link[PATH_MAX], buf[64];
	ssize_t n;
	int pcifd;

	*ret_pcifd = -1;
	if (ibup_read_link(ctx, link, sizeof(link), "sys/class/infiniband/%s/device",
			   name) < 0)
		return 0;
	if (!is_pci_address(basename_of(link)))
		return 0;
	pcifd = ibup_open_dir(ctx, "sys/class/infiniband/%s/device", name);
	if (pcifd < 0) {
		ibup_warn(ctx, "cannot open '/sys/class/infiniband/%s/device': %s", name,
			  strerror(-pcifd));
		return 0;
	}
	d->pci_address = strdup(basename_of(link));
	if (!d->pci_address) {
		close(pcifd);
		return -ENOMEM;
	}
	d->pci_link_speed_gts =
		read_link_speed(ctx, pcifd, d->pci_address, "current_link_speed");
	d->pci_link_max_speed_gts =
		read_link_speed(ctx, pcifd, d->pci_address, "max_link_speed");
	d->pci_link_width = read_link_width(pcifd, "current_link_width");
	d->pci_link_max_width = read_link_width(pcifd, "max_link_width");
	d->pci_vendor_id = read_pci_id(pcifd, "vendor");
	d->pci_device_id = read_pci_id(pcifd, "device");
	if (ibup_read_attr_at(pcifd, buf, sizeof(buf), "numa_node") >= 0) {
		int32_t v;

		if (ibup_parse_i32(buf, &v) < 0 || v < -1)
			ibup_warn(ctx, "ignoring malformed numa_node of '%s': '%.64s'",
				  d->pci_address, buf);
		else if (v >= 0)
			d->numa_node = v;
	}
	if (faccessat(pcifd, "physfn", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    ibup_pci_is_virtual_function(d->pci_vendor_id, d->pci_device_id))
		d->virtual_function = 1;
	else if (d->pci_vendor_id != IBUP_UNKNOWN)
		d->virtual_function = 0;
	n = readlinkat(pcifd, "driver", link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		d->driver = ibup_strdup_clean(basename_of(link));
		if (!d->driver) {
			close(pcifd);
			return -ENOMEM;
		}
	}
	*ret_pcifd = pcifd;
	return 0;
}

static int read_ports(struct ibup_ctx *ctx, int devfd, const char *name, unsigned flags,
		      struct ibup_device *d)
{
	_cleanup_close_ int portsfd = -1;
	char **names = NULL;
	unsigned n = 0;
	int r;

	portsfd = ibup_open_dir_at(devfd, "ports");
	if (portsfd < 0) {
		ibup_warn(ctx, "cannot open '/sys/class/infiniband/%s/ports': %s", name,
			  strerror(-portsfd));
		/* Every device has ports/; without it the device cannot be judged. */
		d->unreadable = true;
		return 0;
	}
	r = ibup_list_dir_at(portsfd, IBUP_MAX_PORTS, &names, &n);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		ibup_warn(ctx, "cannot list '/sys/class/infiniband/%s/ports': %s", name,
			  strerror(-r));
		d->unreadable = true;
		return 0;
	}
	if (r > 0)
		ibup_warn(ctx,
			  "more than %u entries in '/sys/class/infiniband/%s/ports'; the "
			  "rest are left out",
			  IBUP_MAX_PORTS, name);
	d->ports = calloc(n ? n : 1, sizeof(*d->ports));
	if (!d->ports) {
		ibup_strv_free(names, n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t num;

		/* "01" would be read again as ports/1, and counted twice. */
		if (ibup_parse_index(names[i], &num) < 0 || num == 0 ||
		    num > IBUP_MAX_PORTS)
			continue;
		r = ibup_port_read(ctx, devfd, name, num, flags, &d->ports[d->n_ports]);
		if (r < 0)
			break;
		d->n_ports++;
	}
	ibup_strv_free(names, n);
	return r < 0 ? r : 0;
}

/* Which interface carries each port, and the facts the kind needs from them. */
static int assign_netdevs(struct ibup_ctx *ctx, int devfd, int pcifd,
			  struct ibup_device *d, struct ibup_kind_facts *f)
{
	struct netdev_info *nd = NULL;
	char parent[IBUP_ATTR_MAX];
	unsigned n_nd = 0;
	int r;

	if (pcifd >= 0) {
		r = read_netdevs(pcifd, &nd, &n_nd);
		if (r < 0)
			return r;
	}
	f->virtual_parent = pcifd < 0 && ibup_read_attr_at(devfd, parent, sizeof(parent),
							   "parent") > 0;
	for (unsigned i = 0; i < d->n_ports; i++) {
		struct ibup_port *p = &d->ports[i];
		const char *name = NULL;

		if (p->link_layer == IBUP_LINK_LAYER_INFINIBAND) {
			f->any_infiniband_port = true;
			name = pick_netdev(nd, n_nd, ARPHRD_INFINIBAND_TYPE, p->num);
		} else if (p->link_layer == IBUP_LINK_LAYER_ETHERNET) {
			f->any_ethernet_port = true;
			name = pick_netdev(nd, n_nd, ARPHRD_ETHER_TYPE, p->num);
			for (unsigned g = 0; !name && g < p->n_gids; g++)
				name = p->gids[g].netdev;
			if (!name && f->virtual_parent)
				name = parent;
			if (name && pcifd >= 0 && enslaved_to_synthetic(ctx, name))
				f->enslaved_to_synthetic = true;
		}
		if (name) {
			p->netdev = ibup_strdup_clean(name);
			if (!p->netdev) {
				netdevs_free(nd, n_nd);
				return -ENOMEM;
			}
		}
	}
	netdevs_free(nd, n_nd);
	return 0;
}

int ibup_device_read(struct ibup_ctx *ctx, const char *name, unsigned flags,
		     struct ibup_device *ret_dev)
{
	_cleanup_close_ int devfd = -1, pcifd = -1;
	struct ibup_device d = {
		.node_type = IBUP_NODE_UNREAD,
		.pci_vendor_id = IBUP_UNKNOWN,
		.pci_device_id = IBUP_UNKNOWN,
		.numa_node = IBUP_UNKNOWN,
		.virtual_function = IBUP_UNKNOWN,
		.pci_link_speed_gts = NAN,
		.pci_link_max_speed_gts = NAN,
		.pci_link_width = IBUP_UNKNOWN,
		.pci_link_max_width = IBUP_UNKNOWN,
	};
	struct ibup_kind_facts f = { 0 };
	char buf[64];
	int r;

	d.name = ibup_strdup_clean(name);
	if (!d.name)
		return -ENOMEM;
	devfd = ibup_open_dir(ctx, "sys/class/infiniband/%s", name);
	if (devfd < 0) {
		ibup_warn(ctx, "cannot open '/sys/class/infiniband/%s': %s", name,
			  strerror(-devfd));
		d.unreadable = true;
		*ret_dev = d;
		return 0;
	}
	r = ibup_read_attr_at(devfd, buf, sizeof(buf), "node_type");
	if (r >= 0 && ibup_parse_node_type(buf, &d.node_type) < 0)
		ibup_warn(
			ctx,
			"ignoring malformed '/sys/class/infiniband/%s/node_type': '%.64s'",
			name, buf);
	else if (r < 0)
		ibup_warn(ctx, "cannot read '/sys/class/infiniband/%s/node_type': %s",
			  name, strerror(-r));
	r = dup_attr(ctx, devfd, name, "fw_ver", &d.fw_ver);
	if (r >= 0)
		r = dup_attr(ctx, devfd, name, "board_id", &d.board_id);
	if (r >= 0)
		r = dup_attr(ctx, devfd, name, "hca_type", &d.hca_type);
	if (r >= 0)
		r = dup_attr(ctx, devfd, name, "hw_rev", &d.hw_rev);
	if (r >= 0)
		r = dup_guid(ctx, devfd, name, "node_guid", &d.node_guid);
	if (r >= 0)
		r = dup_guid(ctx, devfd, name, "sys_image_guid", &d.sys_image_guid);
	if (r >= 0)
		r = read_pci(ctx, name, &d, &pcifd);
	if (r >= 0)
		r = read_ports(ctx, devfd, name, flags, &d);
	if (r >= 0)
		r = assign_netdevs(ctx, devfd, pcifd, &d, &f);
	if (r < 0) {
		ibup_device_release(&d);
		return r;
	}
	if (!d.driver && f.virtual_parent &&
	    ibup_path_exists(ctx, "sys/module/rdma_rxe") > 0) {
		d.driver = strdup("rdma_rxe");
		if (!d.driver) {
			ibup_device_release(&d);
			return -ENOMEM;
		}
	}
	f.node_type = d.node_type;
	f.is_pci = d.pci_address != NULL;
	f.pci_vendor_id = d.pci_vendor_id;
	f.pci_device_id = d.pci_device_id;
	f.driver = d.driver;
	d.kind = ibup_classify_device(&f);
	*ret_dev = d;
	return 0;
}

void ibup_device_release(struct ibup_device *dev)
{
	if (!dev)
		return;
	for (unsigned i = 0; i < dev->n_ports; i++)
		ibup_port_release(&dev->ports[i]);
	free(dev->ports);
	free(dev->name);
	free(dev->driver);
	free(dev->fw_ver);
	free(dev->node_guid);
	free(dev->sys_image_guid);
	free(dev->board_id);
	free(dev->hca_type);
	free(dev->hw_rev);
	free(dev->pci_address);
	memset(dev, 0, sizeof(*dev));
}

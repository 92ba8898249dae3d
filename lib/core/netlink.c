// SPDX-License-Identifier: MIT
/*
 * rtnetlink and RDMA netlink through libmnl (as iproute2 and its `rdma` tool do): the
 * IPv4 addresses of the live system, and the changes plans make to it.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <rdma/rdma_netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "internal.h"
#include "banned.h"

/* A dump larger than this is not a host we understand. */
#define NETLINK_MAX_ADDRS 65536

struct addr_list {
	struct ibup_netlink_addr *v;
	unsigned n;
	int error;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
		return MNL_CB_OK;
	if ((type == IFA_ADDRESS || type == IFA_LOCAL) &&
	    mnl_attr_validate2(attr, MNL_TYPE_BINARY, sizeof(struct in_addr)) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	struct addr_list *list = data;
	const struct nlattr *a;
	struct ibup_netlink_addr *v;
	char ip[INET_ADDRSTRLEN];

	if (ifa->ifa_family != AF_INET)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer's on p2p links. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || !inet_ntop(AF_INET, mnl_attr_get_payload(a), ip, sizeof(ip)))
		return MNL_CB_OK;
	if (list->n >= NETLINK_MAX_ADDRS) {
		list->error = -E2BIG;
		return MNL_CB_ERROR;
	}
	v = realloc(list->v, (list->n + 1) * sizeof(*v));
	if (!v) {
		list->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	list->v = v;
	v[list->n].ifindex = ifa->ifa_index;
	snprintf(v[list->n].text, sizeof(v[list->n].text), "%s/%u", ip,
		 ifa->ifa_prefixlen);
	list->n++;
	return MNL_CB_OK;
}

/* An rtnetlink socket with a receive timeout: the kernel answers at once, and a stalled
 * socket must not hang the caller. */
static int open_socket_of(int bus, struct mnl_socket **ret)
{
	struct timeval tv = { .tv_sec = 2 };
	struct mnl_socket *nl = mnl_socket_open(bus);
	int r;

	if (!nl)
		return -errno;
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) <
		    0 ||
	    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	*ret = nl;
	return 0;
}

/*
 * Send the dump request @nlh (built at the start of @buf) on @bus and run @cb on every
 * answer, received into @buf. 0, or -errno (also when @cb stopped with MNL_CB_ERROR).
 */
static int dump(int bus, char *buf, size_t size, struct nlmsghdr *nlh, mnl_cb_t cb,
		void *data)
{
	struct mnl_socket *nl;
	unsigned seq, portid;
	ssize_t n;
	int r;

	r = open_socket_of(bus, &nl);
	if (r < 0)
		return r;
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq = (unsigned)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	while ((n = mnl_socket_recvfrom(nl, buf, size)) > 0) {
		r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (r <= MNL_CB_STOP)
			break;
	}
	r = n < 0 || r == MNL_CB_ERROR ? -errno : 0;
	mnl_socket_close(nl);
	return r;
}

int ibup_netlink_ipv4(struct ibup_netlink_addr **ret, unsigned *ret_n)
{
	char buf[32768]; /* MNL_SOCKET_BUFFER_SIZE is a VLA; a dump part never exceeds this */
	struct addr_list list = { 0 };
	struct nlmsghdr *nlh;
	struct rtgenmsg *rt;
	int r;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = AF_INET;
	r = dump(NETLINK_ROUTE, buf, sizeof(buf), nlh, addr_cb, &list);
	/* The callback's own reason (too many addresses, no memory) over errno's. */
	if (r < 0 && list.error)
		r = list.error;
	if (r < 0) {
		free(list.v);
		return r;
	}
	*ret = list.v;
	*ret_n = list.n;
	return 0;
}

/* Send one request and wait for its acknowledgement; -errno from the kernel's answer. */
static int request_on(int bus, struct nlmsghdr *nlh)
{
	char buf[8192];
	struct mnl_socket *nl;
	unsigned seq, portid;
	ssize_t n;
	int r;

	r = open_socket_of(bus, &nl);
	if (r < 0)
		return r;
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq = (unsigned)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		mnl_socket_close(nl);
		return r;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		r = -errno;
	else
		r = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) < 0 ? -errno : 0;
	mnl_socket_close(nl);
	return r;
}

static int request(struct nlmsghdr *nlh)
{
	return request_on(NETLINK_ROUTE, nlh);
}

/* The RDMA device's index, as `rdma dev` finds it: RDMA_NLDEV_CMD_GET by name. */
struct dev_index {
	const char *name;
	int64_t index;
};

static int dev_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, RDMA_NLDEV_ATTR_MAX - 1) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int dev_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[RDMA_NLDEV_ATTR_MAX] = { 0 };
	struct dev_index *d = data;

	mnl_attr_parse(nlh, 0, dev_attr_cb, tb);
	if (tb[RDMA_NLDEV_ATTR_DEV_INDEX] && tb[RDMA_NLDEV_ATTR_DEV_NAME] &&
	    mnl_attr_validate(tb[RDMA_NLDEV_ATTR_DEV_NAME], MNL_TYPE_NUL_STRING) == 0 &&
	    strcmp(mnl_attr_get_str(tb[RDMA_NLDEV_ATTR_DEV_NAME]), d->name) == 0)
		d->index = mnl_attr_get_u32(tb[RDMA_NLDEV_ATTR_DEV_INDEX]);
	return MNL_CB_OK;
}

static int rdma_dev_index(const char *name, uint32_t *ret)
{
	char buf[32768];
	struct dev_index d = { .name = name, .index = -1 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int r;

	nlh->nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, RDMA_NLDEV_CMD_GET);
	r = dump(NETLINK_RDMA, buf, sizeof(buf), nlh, dev_cb, &d);
	if (r < 0)
		return r;
	if (d.index < 0)
		return -ENODEV;
	*ret = (uint32_t)d.index;
	return 0;
}

int ibup_netlink_rdma_rename(const char *device, const char *new_name)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	uint32_t index;
	int r;

	if (strlen(new_name) >= 64 /* IB_DEVICE_NAME_MAX */)
		return -ENAMETOOLONG;
	r = rdma_dev_index(device, &index);
	if (r < 0)
		return r;
	/* As `rdma dev set DEV name NEW`: RDMA_NLDEV_CMD_SET with the index and the name. */
	nlh->nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, RDMA_NLDEV_CMD_SET);
	mnl_attr_put_u32(nlh, RDMA_NLDEV_ATTR_DEV_INDEX, index);
	mnl_attr_put_strz(nlh, RDMA_NLDEV_ATTR_DEV_NAME, new_name);
	return request_on(NETLINK_RDMA, nlh);
}

int ibup_netlink_link_up(unsigned ifindex)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = IFF_UP;
	return request(nlh);
}

int ibup_netlink_add_ipv4(unsigned ifindex, const char *ipv4, unsigned prefix_len)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	struct in_addr a;

	if (prefix_len > 32 || inet_pton(AF_INET, ipv4, &a) != 1)
		return -EINVAL;
	nlh->nlmsg_type = RTM_NEWADDR;
	/* EXCL: an address that is already there is reported (-EEXIST), never duplicated. */
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix_len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, sizeof(a), &a);
	mnl_attr_put(nlh, IFA_ADDRESS, sizeof(a), &a);
	return request(nlh);
}

// SPDX-License-Identifier: MIT
/*
 * Print the IPv4 addresses libibup reads through rtnetlink for one interface, one per
 * line, sorted: the test compares them with what it configured with iproute2.
 */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int cmp(const void *a, const void *b)
{
	return strcmp(((const struct ibup_netlink_addr *)a)->text,
		      ((const struct ibup_netlink_addr *)b)->text);
}

int main(int argc, char **argv)
{
	struct ibup_netlink_addr *addrs = NULL;
	unsigned n = 0, ifindex;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: netlink-addrs IFNAME\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "netlink-addrs: no interface '%s'\n", argv[1]);
		return 1;
	}
	r = ibup_netlink_ipv4(&addrs, &n);
	if (r < 0) {
		fprintf(stderr, "netlink-addrs: %s\n", strerror(-r));
		return 1;
	}
	qsort(addrs, n, sizeof(*addrs), cmp);
	for (unsigned i = 0; i < n; i++)
		if (addrs[i].ifindex == ifindex)
			printf("%s\n", addrs[i].text);
	free(addrs);
	return 0;
}

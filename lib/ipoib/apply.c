// SPDX-License-Identifier: MIT
/*
 * IPoIB addresses from the platform: which address each interface should have (Hyper-V
 * KVP pool 0's IPoIB_Data, the legacy SharedConfig.xml as a fallback, never a gate),
 * matched to interfaces by hardware address whatever they are called, and applied
 * through rtnetlink. Nothing is ever removed.
 */
#include <ctype.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ibup/plan.h"
#include "internal.h"
#include "banned.h"

#define KVP_POOL0 "var/lib/hyperv/.kvp_pool_0"
#define SHARED_CONFIG "var/lib/waagent/SharedConfig.xml"

static void format_mac(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

/* "00155D33FF1D" (SharedConfig) */
static int parse_plain_mac(const char *s, uint8_t mac[6])
{
	for (unsigned i = 0; i < 6; i++) {
		unsigned v;
		int used = 0;

		if (sscanf(s + 2 * i, "%2x%n", &v, &used) != 1 || used != 2)
			return -EINVAL;
		mac[i] = (uint8_t)v;
	}
	return s[12] ? -EINVAL : 0;
}

static int add_target(struct ibup_ipoib_plan *plan, const uint8_t mac[6],
		      const char *ipv4)
{
	struct ibup_ipoib_target *t = realloc(plan->targets, (plan->n + 1) * sizeof(*t));

	if (!t)
		return -ENOMEM;
	plan->targets = t;
	t = &plan->targets[plan->n++];
	*t = (struct ibup_ipoib_target){ .state = IBUP_TARGET_NO_INTERFACE };
	format_mac(mac, t->mac);
	snprintf(t->ipv4, sizeof(t->ipv4), "%s", ipv4);
	return 0;
}

static int from_kvp(struct ibup_ctx *ctx, struct ibup_ipoib_plan *plan,
		    struct ibup_diag *reterr_diag)
{
	struct ibup_kvp_record *recs = NULL;
	struct ibup_ipoib_pair *pairs = NULL;
	const char *v;
	unsigned n = 0, np = 0;
	int r;

	r = ibup_kvp_read(ctx, KVP_POOL0, &recs, &n, reterr_diag);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	v = ibup_kvp_get(recs, n, "NdDriverVersion");
	if (v) {
		plan->network_direct = true;
		plan->nd_driver_version = ibup_strdup_clean(v);
	}
	v = ibup_kvp_get(recs, n, "IPoIB_Data");
	if (v) {
		r = ibup_parse_ipoib_data(v, &pairs, &np, reterr_diag);
		for (unsigned i = 0; r >= 0 && i < np; i++)
			r = add_target(plan, pairs[i].mac, pairs[i].ipv4);
		if (r >= 0) {
			plan->source = strdup("kvp");
			if (!plan->source)
				r = -ENOMEM;
		}
	}
	free(pairs);
	free(recs);
	return r;
}

static int from_shared_config(struct ibup_ctx *ctx, struct ibup_ipoib_plan *plan,
			      struct ibup_diag *reterr_diag)
{
	_cleanup_free_ char *xml = NULL, *mac_text = NULL, *ipv4 = NULL;
	struct ibup_ipoib_pair *pairs = NULL;
	char data[64];
	uint8_t mac[6];
	unsigned np = 0;
	size_t len;
	int r;

	r = ibup_read_file(ctx, SHARED_CONFIG, IBUP_CONF_MAX, &xml, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = ibup_parse_shared_config(xml, len, &mac_text, &ipv4, reterr_diag);
	if (r < 0)
		return r;
	/* New hosts leave these out: then the file says nothing about IPoIB. */
	if (!mac_text || !ipv4)
		return 0;
	/* Validate the address the way IPoIB_Data's are. */
	if (parse_plain_mac(mac_text, mac) < 0 ||
	    snprintf(data, sizeof(data), "NUMPAIRS:1|%s:%s", mac_text, ipv4) >=
		    (int)sizeof(data) ||
	    ibup_parse_ipoib_data(data, &pairs, &np, reterr_diag) < 0) {
		*reterr_diag = (struct ibup_diag){ 0 };
		snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
			 "bad rdmaMacAddress or rdmaIPv4Address");
		free(pairs);
		return -EBADMSG;
	}
	free(pairs);
	r = add_target(plan, mac, ipv4);
	if (r >= 0) {
		plan->source = strdup("sharedconfig");
		if (!plan->source)
			r = -ENOMEM;
	}
	return r;
}

/* An interface and the 6-byte MAC it answers to. */
struct mac_entry {
	char name[IF_NAMESIZE + 1];
	char mac[18];
};

/* Every interface with a plain MAC (the Ethernet back end's), read once per pass. */
static int plain_macs(struct ibup_ctx *ctx, struct mac_entry **ret, unsigned *ret_n)
{
	_cleanup_close_ int fd = -1;
	struct mac_entry *v;
	char **names = NULL;
	unsigned n = 0, k = 0;

	*ret = NULL;
	*ret_n = 0;
	fd = ibup_open_dir(ctx, "sys/class/net");
	if (fd < 0 || ibup_list_dir_at(fd, IBUP_MAX_NETDEVS, &names, &n) < 0)
		return 0;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		ibup_strv_free(names, n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		char addr[64];

		/* An Accelerated Networking VF carries its synthetic interface's MAC but is
		 * enslaved to it: the address belongs on the synthetic one, not the VF. */
		if (strlen(names[i]) > IF_NAMESIZE ||
		    ibup_path_exists(ctx, "sys/class/net/%s/master", names[i]) > 0 ||
		    ibup_read_attr(ctx, addr, sizeof(addr), "sys/class/net/%s/address",
				   names[i]) != 17)
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", names[i]);
		for (unsigned c = 0; c < 18; c++)
			v[k].mac[c] = (char)tolower((unsigned char)addr[c]);
		k++;
	}
	ibup_strv_free(names, n);
	*ret = v;
	*ret_n = k;
	return 0;
}

/* The interface whose hardware address carries @mac: an IPoIB port GUID, or a plain
 * MAC (the Ethernet back end uses the same key). */
static const char *interface_for(const struct ibup_ipoib *ib, unsigned n_ib,
				 const struct mac_entry *plain, unsigned n_plain,
				 const char *mac)
{
	for (unsigned i = 0; i < n_ib; i++) {
		uint8_t m[6];
		uint64_t guid;
		char text[18];

		if (!ib[i].port_guid || ibup_parse_guid(ib[i].port_guid, &guid) < 0 ||
		    ibup_guid_to_mac(guid, m) < 0)
			continue;
		format_mac(m, text);
		if (strcmp(text, mac) == 0)
			return ib[i].name;
	}
	for (unsigned i = 0; i < n_plain; i++)
		if (strcmp(plain[i].mac, mac) == 0)
			return plain[i].name;
	return NULL;
}

/* Match targets to interfaces and note what they have; the live system only for addresses. */
static int resolve(struct ibup_ctx *ctx, struct ibup_ipoib_plan *plan)
{
	struct ibup_status empty = { 0 };
	struct ibup_netlink_addr *addrs = NULL;
	struct mac_entry *plain = NULL;
	struct ibup_ipoib *ib = NULL;
	unsigned n_ib = 0, n_addrs = 0, n_plain = 0;
	int r;

	r = ibup_ipoib_read(ctx, &empty, &ib, &n_ib);
	if (r >= 0)
		r = plain_macs(ctx, &plain, &n_plain);
	if (r < 0) {
		ibup_ipoib_free(ib, n_ib);
		return r;
	}
	if (ibup_netlink_ipv4(&addrs, &n_addrs) < 0)
		n_addrs = 0;
	for (unsigned i = 0; i < plan->n; i++) {
		struct ibup_ipoib_target *t = &plan->targets[i];
		const char *name;
		unsigned ifindex;

		if (t->state == IBUP_TARGET_APPLIED || t->state == IBUP_TARGET_FAILED)
			continue;
		free(t->netdev);
		t->netdev = NULL;
		t->state = IBUP_TARGET_NO_INTERFACE;
		name = interface_for(ib, n_ib, plain, n_plain, t->mac);
		if (!name)
			continue;
		t->netdev = ibup_strdup_clean(name);
		if (!t->netdev) {
			r = -ENOMEM;
			break;
		}
		/* The running kernel must have it too (a VF may still be arriving). */
		ifindex = if_nametoindex(name);
		if (!ifindex) {
			t->state = IBUP_TARGET_NOT_IN_KERNEL;
			continue;
		}
		t->state = IBUP_TARGET_TO_ADD;
		for (unsigned a = 0; a < n_addrs; a++) {
			char ip[24];
			char *slash;

			snprintf(ip, sizeof(ip), "%s", addrs[a].text);
			slash = strchr(ip, '/');
			if (slash)
				*slash = '\0';
			if (addrs[a].ifindex == ifindex && strcmp(ip, t->ipv4) == 0)
				t->state = IBUP_TARGET_PRESENT;
		}
	}
	free(addrs);
	free(plain);
	ibup_ipoib_free(ib, n_ib);
	return r;
}

/* Say where in the platform's data the problem is, in the message itself. */
static void locate(struct ibup_diag *d, const char *where, const char *unit)
{
	char msg[sizeof(d->msg)];

	if (d->line)
		snprintf(msg, sizeof(msg), "%s, %s %u: %.70s", where, unit, d->line,
			 d->msg);
	else if (d->column)
		snprintf(msg, sizeof(msg), "%s, IPoIB_Data column %u: %.60s", where,
			 d->column, d->msg);
	else
		snprintf(msg, sizeof(msg), "%s: %.80s", where, d->msg);
	memcpy(d->msg, msg, sizeof(msg));
	d->line = d->column = 0;
}

int ibup_ipoib_plan_read(struct ibup_ctx *ctx, unsigned prefix_len,
			 struct ibup_ipoib_plan **ret, struct ibup_diag *reterr_diag)
{
	struct ibup_ipoib_plan *plan = calloc(1, sizeof(*plan));
	int r;

	if (!plan)
		return -ENOMEM;
	plan->prefix_len = prefix_len;
	r = from_kvp(ctx, plan, reterr_diag);
	if (r == -EBADMSG)
		locate(reterr_diag, "/" KVP_POOL0, "record");
	if (r >= 0 && !plan->source) {
		r = from_shared_config(ctx, plan, reterr_diag);
		if (r == -EBADMSG)
			locate(reterr_diag, "/" SHARED_CONFIG, "line");
	}
	if (r >= 0)
		r = resolve(ctx, plan);
	if (r < 0) {
		ibup_ipoib_plan_free(plan);
		return r;
	}
	*ret = plan;
	return 0;
}

int ibup_dat_conf_set(const char *text, const char *ipv4, char **ret_text)
{
	const char *line = text, *open = NULL, *close = NULL;
	char *out;
	size_t len;

	/* The DAPL provider Intel MPI 2016 uses on Network Direct sizes (I_MPI_DAPL_PROVIDER):
	 * ofa-v2-ib0 u2.0 nonthreadsafe default libdaplofa.so.2 dapl.2.0 "<ip> 0" "" */
	while (line && *line) {
		const char *eol = strchr(line, '\n'), *p = line;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "ofa-v2-ib0 ", 11) == 0) {
			open = memchr(p, '"', eol ? (size_t)(eol - p) : strlen(p));
			close = open ? strchr(open + 1, '"') : NULL;
			if (close && eol && close > eol)
				close = NULL;
			break;
		}
		line = eol ? eol + 1 : NULL;
	}
	if (!open || !close)
		return -ENOENT;
	len = strlen(text) - (size_t)(close - open - 1) + strlen(ipv4) + 2;
	out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	snprintf(out, len + 1, "%.*s%s 0%s", (int)(open + 1 - text), text, ipv4, close);
	*ret_text = out;
	return 0;
}

static int dat_conf_editor(const char *text, void *data, char **ret_text)
{
	return ibup_dat_conf_set(text, data, ret_text);
}

/*
 * Network Direct sizes (retired, not SR-IOV): the hv_network_direct driver takes the
 * address through /dev/hvnd_rdma (a device: it keeps nothing to read back, so the
 * line is given at every apply), and DAPL's dat.conf names it.
 */
static int plan_network_direct(struct ibup_ctx *ctx, const struct ibup_ipoib_plan *ip,
			       struct ibup_plan *plan, char **ret_dat_conf)
{
	static const char *const dat_confs[] = { "etc/dat.conf", "etc/rdma/dat.conf",
						 "usr/local/etc/dat.conf" };
	const struct ibup_ipoib_target *t = &ip->targets[0];
	char line[128], mac[18];
	int r;

	for (unsigned i = 0; i < sizeof(mac); i++)
		mac[i] = (char)toupper((unsigned char)t->mac[i]);
	snprintf(line, sizeof(line), "rdmaMacAddress=\"%s\" rdmaIPv4Address=\"%s\"\n",
		 mac, t->ipv4);
	if (ibup_path_exists(ctx, "dev/hvnd_rdma") > 0) {
		r = ibup_plan_write_device(plan, "dev/hvnd_rdma", line, strlen(line),
					   "the Network Direct driver's address");
		if (r < 0)
			return r;
		plan->steps[plan->n - 1].may_fail = true;
	}
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(dat_confs); i++) {
		/* The first file that exists is the one DAPL reads. */
		r = ibup_plan_edit_file(ctx, plan, dat_confs[i], dat_conf_editor,
					(void *)(uintptr_t)t->ipv4,
					"DAPL's ofa-v2-ib0 provider names the address",
					NULL);
		if (r == -ENOENT)
			continue;
		if (r < 0 && r != -ENOMEM) {
			ibup_warn(ctx, "cannot set the address in '/%s': %s",
				  dat_confs[i], strerror(-r));
			return 0;
		}
		if (r < 0)
			return r;
		if (r > 0)
			plan->steps[plan->n - 1].may_fail = true;
		*ret_dat_conf = strdup(dat_confs[i]);
		return *ret_dat_conf ? 0 : -ENOMEM;
	}
	return 0;
}

int ibup_ipoib_apply_plan(struct ibup_ctx *ctx, const struct ibup_ipoib_plan *ip,
			  bool network_direct, struct ibup_plan **ret,
			  char **ret_dat_conf)
{
	_cleanup_free_ char *dat_conf = NULL;
	struct ibup_plan *plan = NULL;
	int r;

	r = ibup_plan_new(ctx, "ipoib apply", &plan);
	for (unsigned i = 0; r >= 0 && i < ip->n; i++) {
		const struct ibup_ipoib_target *t = &ip->targets[i];
		char addr[32], why[64];

		if (t->state != IBUP_TARGET_TO_ADD)
			continue;
		snprintf(addr, sizeof(addr), "%s/%u", t->ipv4, ip->prefix_len);
		snprintf(why, sizeof(why), "the platform's address for %s", t->mac);
		/* Each pair stands alone: one that fails does not hold back the others. */
		r = ibup_plan_ipv4_address(plan, t->netdev, addr, true, why);
	}
	if (r >= 0 && network_direct && ip->network_direct && ip->n)
		r = plan_network_direct(ctx, ip, plan, &dat_conf);
	r = ibup_plan_end(plan, r, ret);
	if (r < 0)
		return r;
	if (ret_dat_conf)
		*ret_dat_conf = TAKE_PTR(dat_conf);
	return 0;
}

int ibup_ipoib_apply(struct ibup_ctx *ctx, struct ibup_ipoib_plan *ip, unsigned wait_s)
{
	struct timespec start, now, tick = { .tv_nsec = 200 * 1000 * 1000 };
	const struct ibup_exec_opts opts = { .no_journal = true };
	int r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct ibup_exec_result res;
		_cleanup_free_ char *dat_conf = NULL;
		struct ibup_plan *plan = NULL;
		bool pending = false, last;
		unsigned k = 0;

		for (unsigned i = 0; i < ip->n; i++)
			pending |= ip->targets[i].state == IBUP_TARGET_NO_INTERFACE ||
				   ip->targets[i].state == IBUP_TARGET_NOT_IN_KERNEL;
		clock_gettime(CLOCK_MONOTONIC, &now);
		last = !pending || now.tv_sec - start.tv_sec >= (time_t)wait_s;
		/* The interfaces there now are addressed at once; late ones in later rounds. */
		r = ibup_ipoib_apply_plan(ctx, ip, last, &plan, &dat_conf);
		if (r < 0)
			return r;
		r = ibup_plan_execute(ctx, plan, &opts, &res);
		if (!res.status) {
			ibup_plan_free(plan);
			return r;
		}
		for (unsigned i = 0; i < ip->n; i++) {
			struct ibup_ipoib_target *t = &ip->targets[i];

			if (t->state != IBUP_TARGET_TO_ADD)
				continue;
			if (res.status[k] != IBUP_STEP_DONE) {
				t->state = IBUP_TARGET_FAILED;
				t->error = -res.errors[k];
			} else {
				/* Added by someone else between planning and now: present. */
				t->state = res.errors[k] == -EEXIST ? IBUP_TARGET_PRESENT
								    : IBUP_TARGET_APPLIED;
			}
			k++;
		}
		r = 0;
		for (unsigned i = k; plan && i < plan->n; i++) {
			const struct ibup_step *s = &plan->steps[i];

			if (s->kind == IBUP_STEP_WRITE_DEVICE) {
				ip->nd_device_written = res.status[i] == IBUP_STEP_DONE;
				ip->nd_device = -res.errors[i];
			} else if (s->kind == IBUP_STEP_EDIT_FILE &&
				   res.status[i] != IBUP_STEP_DONE) {
				ibup_warn(ctx, "cannot set the address in '/%s': %s",
					  s->path, strerror(-res.errors[i]));
				free(dat_conf);
				dat_conf = NULL;
			}
		}
		if (dat_conf)
			ip->nd_dat_conf = TAKE_PTR(dat_conf);
		ibup_exec_result_release(&res);
		ibup_plan_free(plan);
		if (last)
			return 0;
		/* Interfaces appear as their VFs are probed: look again shortly. */
		nanosleep(&tick, NULL);
		r = resolve(ctx, ip);
		if (r < 0)
			return r;
	}
}

const char *ibup_target_state_name(enum ibup_target_state s)
{
	static const char *const names[] = {
		[IBUP_TARGET_NO_INTERFACE] = "no_interface",
		[IBUP_TARGET_NOT_IN_KERNEL] = "not_in_kernel",
		[IBUP_TARGET_TO_ADD] = "to_add",
		[IBUP_TARGET_PRESENT] = "present",
		[IBUP_TARGET_APPLIED] = "applied",
		[IBUP_TARGET_FAILED] = "failed",
	};

	return (unsigned)s < IBUP_ARRAY_SIZE(names) ? names[s] : NULL;
}

struct ibup_ipoib_plan *ibup_ipoib_plan_free(struct ibup_ipoib_plan *plan)
{
	if (!plan)
		return NULL;
	for (unsigned i = 0; i < plan->n; i++)
		free(plan->targets[i].netdev);
	free(plan->targets);
	free(plan->source);
	free(plan->nd_driver_version);
	free(plan->nd_dat_conf);
	free(plan);
	return NULL;
}

int ibup_conf_file_value(struct ibup_ctx *ctx, const char *path, const char *key,
			 char **ret_value)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = ibup_read_file(ctx, path, IBUP_CONF_MAX, &text, NULL);
	if (r < 0)
		return r;
	return ibup_conf_value(text, key, ret_value);
}

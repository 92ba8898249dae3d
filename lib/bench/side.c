// SPDX-License-Identifier: MIT
/*
 * One side's verbs resources: the device and port chosen from the inventory, its
 * placement on the HCA's NUMA node, the GID and P_Key, the protection domain, buffer,
 * memory region, completion queues and RC queue pairs, and their connection to the
 * peer's. Also the buffers' layout and the receive ring.
 */
#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "bench-int.h"
#include "banned.h"

/* Placement on the HCA's NUMA node: the node's CPUs and memory. */

/* The @n-th CPU of @set (0-based), or -1. */
static int nth_cpu(const cpu_set_t *set, int n)
{
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set) && n-- == 0)
			return c;
	return -1;
}

/*
 * Placement: the thread on the CPUs of the HCA's NUMA node and its memory preferred
 * there, within whatever affinity the user set (taskset, numactl, a cgroup), which wins
 * when it excludes the node. When both sides run in this process (@slot 0 for the
 * client, 1 for the server), each spinning thread gets a CPU of its own, as two
 * pinned processes would: they never preempt each other.
 */
static void place(struct side *s, const struct ibup_device *dev, bool no_numa, int slot)
{
	char buf[512];
	cpu_set_t set, node_cpus;
	unsigned long mask[16] = { 0 };
	int node = dev ? dev->numa_node : -1;

	s->info->numa_node = -1;
	s->info->cpu = -1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	if (node >= 0 && !no_numa && node < (int)(sizeof(mask) * 8) &&
	    ibup_read_attr(s->ictx, buf, sizeof(buf),
			   "sys/devices/system/node/node%d/cpulist", node) >= 0 &&
	    ibup_parse_cpulist(buf, &node_cpus) == 0) {
		CPU_AND(&node_cpus, &node_cpus, &set);
		if (CPU_COUNT(&node_cpus) > 0) {
			set = node_cpus;
			mask[node / (8 * sizeof(long))] = 1ul
							  << (node % (8 * sizeof(long)));
			/* MPOL_PREFERRED (1): memory on the node while it has some. */
			(void)syscall(SYS_set_mempolicy, 1, mask, sizeof(mask) * 8);
			s->info->numa_node = node;
		}
	}
	if (slot >= 0 && !no_numa && CPU_COUNT(&set) >= 2) {
		int cpu = nth_cpu(&set, slot);

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		s->info->cpu = cpu;
	}
	(void)sched_setaffinity(0, sizeof(set), &set);
}

/* Device, port, GID and P_Key. */

static bool usable_kind(enum ibup_device_kind k)
{
	return k == IBUP_KIND_INFINIBAND || k == IBUP_KIND_ROCE ||
	       k == IBUP_KIND_SOFT_ROCE;
}

static const struct ibup_port *active_port(const struct ibup_device *d, unsigned want)
{
	for (unsigned i = 0; i < d->n_ports; i++)
		if ((want ? d->ports[i].num == want : true) &&
		    d->ports[i].state == IBUP_PORT_ACTIVE)
			return &d->ports[i];
	return NULL;
}

/* The device asked for, or the first one with an active port that can run RC verbs. */
const struct ibup_device *bench_pick_device(const struct ibup_status *st,
					    const struct ibup_bench_where *w)
{
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		if (w->device ? strcmp(d->name, w->device) == 0
			      : usable_kind(d->kind) && active_port(d, w->port))
			return d;
	}
	return NULL;
}

static bool gid_is_ipv4_mapped(const char *g)
{
	return strncmp(g, "0000:0000:0000:0000:0000:ffff:", 30) == 0;
}

/*
 * perftest's score (IPv4-mapped +100, not link-local +10, RoCE v2 +2, v1 +1), except
 * between two devices of this host: their routable addresses are both local, the
 * kernel would route the packets through lo, so the link-local GID wins there.
 */
static int pick_gid(const struct ibup_port *p, bool prefer_link_local)
{
	int best = -1, best_score = -1;

	for (unsigned i = 0; i < p->n_gids; i++) {
		const struct ibup_gid *g = &p->gids[i];
		bool ll = strncmp(g->gid, "fe80:", 5) == 0;
		int score = 0;

		if (g->type == IBUP_GID_ROCE_V2)
			score += 2;
		else if (g->type == IBUP_GID_ROCE_V1)
			score += 1;
		if (prefer_link_local)
			score += ll ? 100 : 0;
		else
			score += (gid_is_ipv4_mapped(g->gid) ? 100 : 0) + (ll ? 0 : 10);
		if (score > best_score) {
			best_score = score;
			best = (int)g->index;
		}
	}
	return best;
}

static int pick_pkey(struct side *s, int want)
{
	uint16_t first[2] = { 0, 0 };
	int32_t tenant;

	if (want >= 0 || s->pattr.link_layer == IBV_LINK_LAYER_ETHERNET) {
		int idx = want >= 0 ? want : 0;
		__be16 k = 0;

		if (s->v->query_pkey(s->ctx, s->port, idx, &k))
			return bench_fail(s, -EINVAL, "%s port %u has no P_Key index %d",
					  s->me.device, s->port, idx);
		s->info->pkey_index = idx;
		s->info->pkey = be16toh(k);
		return 0;
	}
	for (int i = 0; i < 2 && i < s->pattr.pkey_tbl_len; i++) {
		__be16 k = 0;

		if (s->v->query_pkey(s->ctx, s->port, i, &k) == 0)
			first[i] = be16toh(k);
	}
	tenant = ibup_tenant_pkey(first, 2);
	/* Azure puts the tenant's key at index 0 or 1; elsewhere index 0 is the default. */
	s->info->pkey_index =
		tenant >= 0 && first[1] == tenant && first[0] != tenant ? 1 : 0;
	s->info->pkey = first[s->info->pkey_index];
	return 0;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static unsigned mtu_bytes(enum ibv_mtu m)
{
	return m >= IBV_MTU_256 && m <= IBV_MTU_4096 ? 128u << m : 0;
}

int bench_open_side(struct side *s, const struct ibup_status *st,
		    const struct ibup_bench_where *w, bool prefer_link_local,
		    bool peer_grh, int cpu_slot)
{
	const struct ibup_device *dev = bench_pick_device(st, w);
	const struct ibup_port *p;
	struct ibv_device **list;
	int n = 0;

	if (!dev)
		return w->device
			       ? bench_fail(s, -ENODEV, "no RDMA device '%s'", w->device)
			       : bench_fail(
					 s, -ENODEV,
					 "no InfiniBand or RoCE device with an active port");
	p = active_port(dev, w->port);
	if (!p)
		return w->port ? bench_fail(s, -ENETDOWN, "%s port %u is not active",
					    dev->name, w->port)
			       : bench_fail(s, -ENETDOWN, "%s has no active port",
					    dev->name);
	snprintf(s->me.device, sizeof(s->me.device), "%s", dev->name);
	snprintf(s->info->device, sizeof(s->info->device), "%s", dev->name);
	s->port = (uint8_t)p->num;
	place(s, dev, w->no_numa, cpu_slot);

	list = s->v->get_device_list(&n);
	if (!list)
		return bench_fail(s, -errno ? -errno : -ENODEV, "ibv_get_device_list: %s",
				  strerror(errno ? errno : ENODEV));
	for (int i = 0; i < n; i++)
		if (strcmp(s->v->get_device_name(list[i]), dev->name) == 0) {
			s->ctx = s->v->open_device(list[i]);
			break;
		}
	s->v->free_device_list(list);
	if (!s->ctx)
		return bench_fail(s, -ENODEV,
				  "cannot open %s with libibverbs (is its provider "
				  "library installed, /dev/infiniband readable?)",
				  dev->name);
	if (s->v->query_device(s->ctx, &s->dattr) ||
	    ibup_verbs_query_port(s->v, s->ctx, s->port, &s->pattr))
		return bench_fail(s, -EIO, "cannot query %s port %u", dev->name, s->port);
	if (s->pattr.state != IBV_PORT_ACTIVE)
		return bench_fail(s, -ENETDOWN, "%s port %u is not active", dev->name,
				  s->port);

	snprintf(s->info->link_layer, sizeof(s->info->link_layer), "%s",
		 s->pattr.link_layer == IBV_LINK_LAYER_ETHERNET ? "ethernet"
								: "infiniband");
	s->info->port = s->port;
	s->info->lid = s->pattr.lid;
	s->use_grh = s->pattr.link_layer == IBV_LINK_LAYER_ETHERNET ||
		     w->gid_index >= 0 || peer_grh;
	s->gid_index = -1;
	if (s->use_grh) {
		s->gid_index =
			w->gid_index >= 0 ? w->gid_index : pick_gid(p, prefer_link_local);
		if (s->gid_index < 0 && s->pattr.link_layer != IBV_LINK_LAYER_ETHERNET)
			s->gid_index = 0;
		if (s->gid_index < 0 ||
		    s->v->query_gid(s->ctx, s->port, s->gid_index, &s->gid) ||
		    is_zero(s->gid.raw, sizeof(s->gid.raw)))
			return w->gid_index >= 0
				       ? bench_fail(
						 s, -EINVAL,
						 "%s port %u has no usable GID at index %d",
						 dev->name, s->port, w->gid_index)
				       : bench_fail(
						 s, -ENETDOWN,
						 "%s port %u has no usable GID (is its netdev up?)",
						 dev->name, s->port);
		ibup_format_gid(s->gid.raw, s->info->gid);
	}
	s->info->gid_index = s->gid_index;
	return pick_pkey(s, w->pkey_index);
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

/* PD, buffer, MR, CQs, QPs in INIT. The options (client's) decide the sizes. */
int bench_create_resources(struct side *s, size_t max_size)
{
	const struct ibup_bench_opts *o = s->o;
	bool lat = ibup_bench_test_is_latency(o->test);
	bool send = o->test == IBUP_BENCH_SEND_BW || o->test == IBUP_BENCH_SEND_LAT;
	unsigned max_wr = s->dattr.max_qp_wr > 0 ? (unsigned)s->dattr.max_qp_wr : 1024;
	/* What the user asked for; else perftest's latency default, retried without inline. */
	const int inl[] = { o->inline_size >= 0 ? o->inline_size : 236, 0 };
	int access =
		IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;

	s->nqp = lat ? 1 : o->qps;
	s->sq_depth = lat ? LAT_SQ_DEPTH : o->depth;
	s->rq_depth = lat ? LAT_RQ_DEPTH : (send && !s->is_client ? SEND_RQ_DEPTH : 1);
	if (s->sq_depth > max_wr)
		s->sq_depth = max_wr;
	if (s->rq_depth > max_wr)
		s->rq_depth = max_wr;
	s->region = page_round(lat ? max_size
				   : (max_size > (1u << 20) ? max_size : 1u << 20));
	s->buf_len = (size_t)s->nqp * 2 * s->region;

	s->pd = s->v->alloc_pd(s->ctx);
	if (!s->pd)
		return bench_fail(s, -ENOMEM, "ibv_alloc_pd on %s failed", s->me.device);
	s->buf = mmap(NULL, s->buf_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->buf == MAP_FAILED) {
		s->buf = NULL;
		return bench_fail(s, -ENOMEM, "cannot allocate %zu bytes of buffers",
				  s->buf_len);
	}
	memset(s->buf, 0, s->buf_len); /* first touch: on the node the policy chose */
	if (s->v->reg_mr_iova2)
		s->mr = s->v->reg_mr_iova2(s->pd, s->buf, s->buf_len, (uintptr_t)s->buf,
					   (unsigned)access |
						   IBV_ACCESS_RELAXED_ORDERING);
	if (!s->mr)
		s->mr = s->v->reg_mr(s->pd, s->buf, s->buf_len, access);
	if (!s->mr)
		return bench_fail(
			s, -errno ? -errno : -ENOMEM,
			"cannot register %zu bytes with %s: %s%s", s->buf_len,
			s->me.device, strerror(errno ? errno : ENOMEM),
			errno == ENOMEM || errno == EPERM || errno == EAGAIN
				? " (is the memlock limit too low? see ibup check)"
				: "");
	s->scq = s->v->create_cq(s->ctx, (int)(s->sq_depth * s->nqp), NULL, s->chan, 0);
	s->rcq = s->v->create_cq(s->ctx, (int)(s->rq_depth * s->nqp), NULL, s->chan, 0);
	if (!s->scq || !s->rcq)
		return bench_fail(s, -ENOMEM, "cannot create completion queues on %s",
				  s->me.device);

	for (unsigned q = 0; q < s->nqp; q++) {
		struct ibv_qp_attr a = {
			.qp_state = IBV_QPS_INIT,
			.pkey_index = (uint16_t)s->info->pkey_index,
			.port_num = s->port,
			.qp_access_flags = (unsigned)access,
		};
		struct ibv_qp_attr qa;
		struct ibv_qp_init_attr qia;

		for (unsigned t = 0; t < 2 && !s->qp[q]; t++) {
			struct ibv_qp_init_attr ia = {
				.send_cq = s->scq,
				.recv_cq = s->rcq,
				.cap = { .max_send_wr = s->sq_depth,
					 .max_recv_wr = s->rq_depth,
					 .max_send_sge = 1,
					 .max_recv_sge = 1,
					 .max_inline_data =
						 (uint32_t)(inl[t] > 0 ? inl[t] : 0) },
				.qp_type = IBV_QPT_RC,
			};

			s->qp[q] = s->v->create_qp(s->pd, &ia);
			if (o->inline_size >= 0)
				break; /* what the user asked for, or an error */
		}
		if (!s->qp[q])
			return bench_fail(s, -errno ? -errno : -ENOMEM,
					  "cannot create RC queue pair %u on %s: %s", q,
					  s->me.device, strerror(errno ? errno : ENOMEM));
		if (s->v->query_qp(s->qp[q], &qa, IBV_QP_CAP, &qia) == 0)
			s->max_inline = qa.cap.max_inline_data;
		if (s->v->modify_qp(s->qp[q], &a,
				    IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
					    IBV_QP_ACCESS_FLAGS))
			return bench_fail(s, -EIO, "cannot move QP %u to INIT on %s: %s",
					  q, s->me.device, strerror(errno));
		s->psn[q] = (uint32_t)(((uint64_t)rand() ^ bench_now_ns()) & 0xffffff);
	}
	if (o->inline_size >= 0 && (unsigned)o->inline_size < s->max_inline)
		s->max_inline = (unsigned)o->inline_size;
	s->info->inline_max = s->max_inline;
	return 0;
}

void bench_fill_me(struct side *s)
{
	struct wire_side *m = &s->me;

	snprintf(m->link_layer, sizeof(m->link_layer), "%s", s->info->link_layer);
	snprintf(m->gid_text, sizeof(m->gid_text), "%s", s->info->gid);
	m->port = s->port;
	m->lid = s->pattr.lid;
	m->mtu_enum = s->pattr.active_mtu;
	m->max_rd_atom =
		s->dattr.max_qp_rd_atom > 0 ? (uint32_t)s->dattr.max_qp_rd_atom : 1;
	m->use_grh = s->use_grh;
	m->n_qps = s->nqp;
	m->pkey = s->info->pkey;
	m->inline_max = s->max_inline;
	m->gid_index = s->gid_index;
	m->pkey_index = s->info->pkey_index;
	m->numa_node = s->info->numa_node;
	m->cpu = s->info->cpu;
	memcpy(m->gid, s->gid.raw, sizeof(m->gid));
	m->rkey = s->mr->rkey;
	m->vaddr = (uintptr_t)s->buf;
	m->region = s->region;
	for (unsigned q = 0; q < s->nqp; q++) {
		m->qpn[q] = s->qp[q]->qp_num;
		m->psn[q] = s->psn[q];
	}
}

void bench_peer_info(const struct wire_side *p, struct ibup_bench_side *r)
{
	snprintf(r->device, sizeof(r->device), "%.*s", (int)sizeof(p->device) - 1,
		 p->device);
	snprintf(r->link_layer, sizeof(r->link_layer), "%.*s",
		 (int)sizeof(p->link_layer) - 1, p->link_layer);
	snprintf(r->gid, sizeof(r->gid), "%.*s", (int)sizeof(p->gid_text) - 1,
		 p->gid_text);
	r->port = p->port;
	r->lid = p->lid;
	r->gid_index = p->gid_index;
	r->pkey_index = p->pkey_index;
	r->pkey = (uint16_t)p->pkey;
	r->mtu = mtu_bytes((enum ibv_mtu)p->mtu_enum);
	r->numa_node = p->numa_node;
	r->cpu = p->cpu;
	r->inline_max = p->inline_max;
}

int bench_connect_qps(struct side *s)
{
	const struct wire_side *p = &s->peer;
	enum ibv_mtu mtu = s->pattr.active_mtu < (enum ibv_mtu)p->mtu_enum
				   ? s->pattr.active_mtu
				   : (enum ibv_mtu)p->mtu_enum;
	unsigned rd_atom = s->dattr.max_qp_init_rd_atom > 0
				   ? (unsigned)s->dattr.max_qp_init_rd_atom
				   : 1;

	if (p->n_qps != s->nqp)
		return bench_fail(s, -EPROTO, "the peer has %u queue pairs, this side %u",
				  p->n_qps, s->nqp);
	if (p->use_grh != s->use_grh)
		return bench_fail(s, -EPROTO,
				  "one side uses a GID (GRH) and the other does not");
	if (rd_atom > p->max_rd_atom)
		rd_atom = p->max_rd_atom;
	if (rd_atom > 255)
		rd_atom = 255;
	s->info->mtu = mtu_bytes(mtu);
	for (unsigned q = 0; q < s->nqp; q++) {
		struct ibv_qp_attr a = {
			.qp_state = IBV_QPS_RTR,
			.path_mtu = mtu,
			.dest_qp_num = p->qpn[q],
			.rq_psn = p->psn[q],
			/* As many reads in flight as the device takes (perftest's -o default). */
			.max_dest_rd_atomic =
				(uint8_t)(s->me.max_rd_atom > 255 ? 255
								  : s->me.max_rd_atom),
			.min_rnr_timer = 12,
			.ah_attr = { .dlid = (uint16_t)p->lid, .port_num = s->port },
		};

		if (s->use_grh) {
			a.ah_attr.is_global = 1;
			memcpy(a.ah_attr.grh.dgid.raw, p->gid, 16);
			a.ah_attr.grh.sgid_index = (uint8_t)s->gid_index;
			a.ah_attr.grh.hop_limit = 0xff;
		}
		if (s->v->modify_qp(s->qp[q], &a,
				    IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
					    IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					    IBV_QP_MAX_DEST_RD_ATOMIC |
					    IBV_QP_MIN_RNR_TIMER))
			return bench_fail(s, -EIO, "cannot move QP %u of %s to RTR: %s",
					  q, s->me.device, strerror(errno));
		a = (struct ibv_qp_attr){
			.qp_state = IBV_QPS_RTS,
			.sq_psn = s->psn[q],
			.timeout = (uint8_t)(s->o->qp_timeout ? s->o->qp_timeout : 14),
			.retry_cnt = 7,
			.rnr_retry = 7,
			.max_rd_atomic = (uint8_t)rd_atom,
		};
		if (s->v->modify_qp(s->qp[q], &a,
				    IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT |
					    IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
					    IBV_QP_MAX_QP_RD_ATOMIC))
			return bench_fail(s, -EIO, "cannot move QP %u of %s to RTS: %s",
					  q, s->me.device, strerror(errno));
	}
	return 0;
}

void bench_destroy_side(struct side *s)
{
	for (unsigned q = 0; q < MAX_QPS; q++)
		if (s->qp[q])
			s->v->destroy_qp(s->qp[q]);
	if (s->scq)
		s->v->destroy_cq(s->scq);
	if (s->rcq)
		s->v->destroy_cq(s->rcq);
	if (s->mr)
		s->v->dereg_mr(s->mr);
	if (s->pd)
		s->v->dealloc_pd(s->pd);
	if (s->chan)
		s->v->destroy_comp_channel(s->chan);
	if (s->buf)
		munmap(s->buf, s->buf_len);
	if (s->ctx)
		s->v->close_device(s->ctx);
}

int bench_wc_error(struct side *s, const struct ibv_wc *wc)
{
	const char *hint = "";

	if (wc->status == IBV_WC_RETRY_EXC_ERR)
		hint = " (the peer does not answer: did it stop, or is the GID or path "
		       "wrong?)";
	else if (wc->status == IBV_WC_RNR_RETRY_EXC_ERR)
		hint = " (the peer posted no receive buffer)";
	return bench_fail(
		s, -EIO, "a work request failed on %s: %s (vendor error 0x%x)%s",
		s->me.device, s->v->wc_status_str(wc->status), wc->vendor_err, hint);
}

/* A growing array, for the latency samples and the bandwidth trace. */
int bench_grow(void **p, size_t *cap, size_t n, size_t elem)
{
	void *q;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 4096;
	q = realloc(*p, c * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/*
 * Buffer slots of @size bytes for a window of @depth messages. With --verify every
 * message in flight has its own slot. Without, the messages cycle through one page
 * (one slot when larger), as perftest's do: the data is not looked at, and a small
 * working set keeps the CPU's caches and TLB out of the figures (Soft-RoCE copies
 * every byte with the CPU).
 */
unsigned bench_slots_for(struct side *s, size_t size, unsigned depth)
{
	size_t span = s->o->verify ? s->region : (size_t)sysconf(_SC_PAGESIZE);
	size_t n = span / size;

	return (unsigned)(n < depth ? (n ? n : 1) : depth);
}

size_t bench_max_of(const uint64_t *sizes, unsigned n)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < n; i++)
		if (sizes[i] > m)
			m = sizes[i];
	return (size_t)m;
}

uint8_t *bench_rx_buf(struct side *s, unsigned q, unsigned slot)
{
	return in_area(s, q) + (size_t)slot * s->rx_stride;
}

int bench_post_recv_slot(struct side *s, unsigned q, unsigned slot)
{
	struct ibv_sge sge = { .addr = (uintptr_t)bench_rx_buf(s, q, slot),
			       .length = (uint32_t)s->rx_stride,
			       .lkey = s->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = (uint64_t)q << 32 | slot,
				  .sg_list = &sge,
				  .num_sge = 1 },
			   *bad;

	if (ibv_post_recv(s->qp[q], &wr, &bad))
		return bench_fail(s, -EIO, "posting receives on %s failed: %s",
				  s->me.device, strerror(errno));
	return 0;
}

/*
 * Post @depth receives per QP, once per run: each completion re-posts its slot, so the
 * ring stays full from one size to the next, and a slot takes the run's largest
 * message. Without --verify every receive shares one slot (see bench_slots_for()); with
 * it each has its own, and the ring is as deep as the slots.
 */
int bench_rx_ring(struct side *s, unsigned depth)
{
	unsigned n;

	if (s->rx_slots)
		return 0;
	s->rx_stride = bench_max_of(s->sizes, s->n_sizes);
	s->rx_slots = s->o->verify ? (unsigned)(s->region / s->rx_stride) : 1;
	if (s->rx_slots == 0)
		s->rx_slots = 1;
	n = s->o->verify && s->rx_slots < depth ? s->rx_slots : depth;
	for (unsigned q = 0; q < s->nqp; q++)
		for (unsigned i = 0; i < n; i++)
			if (bench_post_recv_slot(s, q, i % s->rx_slots) < 0)
				return -EIO;
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * The verbs benchmark: two RC queue-pair sets ("sides") connected to each other, a
 * client that posts and a server that receives or echoes. Whatever the mode, the two
 * sides talk over one stream socket: a TCP connection between hosts, a socketpair
 * between two threads of this process. So loopback, two local devices and two hosts
 * run exactly the same code.
 *
 * The exchange (all integers big-endian, fixed-size records):
 *   client -> server  PARAMS + client endpoint
 *   server -> client  server endpoint (or ERROR)        both move their QPs to RTS
 *   per size: BEGIN(size) -> READY -> the run -> END(counts) -> RESULT(verified)
 *   client -> server  BYE
 * Any step that fails sends ERROR with the reason, so the other side can say why.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ibup/bench.h"
#include "internal.h"
#include "stats.h"
#include "verbs.h"
#include "banned.h"

#define MAX_QPS 64u
#define MAX_SIZES 24u
#define WIRE_MAGIC "IBUPBNCH"
#define WIRE_VERSION 1u
#define LAT_SQ_DEPTH 16u
#define LAT_RQ_DEPTH 16u
#define SEND_RQ_DEPTH 512u

static const char *const test_names[IBUP_BENCH_N_TESTS] = {
	[IBUP_BENCH_WRITE_BW] = "write_bw", [IBUP_BENCH_READ_BW] = "read_bw",
	[IBUP_BENCH_SEND_BW] = "send_bw",   [IBUP_BENCH_WRITE_LAT] = "write_lat",
	[IBUP_BENCH_SEND_LAT] = "send_lat",
};

const char *ibup_bench_test_name(enum ibup_bench_test t)
{
	return (unsigned)t < IBUP_BENCH_N_TESTS ? test_names[t] : NULL;
}

int ibup_bench_test_from_name(const char *name, enum ibup_bench_test *ret)
{
	for (unsigned t = 0; t < IBUP_BENCH_N_TESTS; t++) {
		const char *n = test_names[t];
		size_t i;

		for (i = 0; n[i] && name[i]; i++)
			if (!(name[i] == n[i] || (n[i] == '_' && name[i] == '-')))
				break;
		if (!n[i] && !name[i]) {
			*ret = t;
			return 0;
		}
	}
	return -EINVAL;
}

bool ibup_bench_test_is_latency(enum ibup_bench_test t)
{
	return t == IBUP_BENCH_WRITE_LAT || t == IBUP_BENCH_SEND_LAT;
}

void ibup_bench_opts_init(struct ibup_bench_opts *o, enum ibup_bench_test test)
{
	bool lat = ibup_bench_test_is_latency(test);

	*o = (struct ibup_bench_opts){
		.test = test,
		.size = lat ? 2 : 65536,
		.iterations = test == IBUP_BENCH_WRITE_BW ? 5000 : 1000,
		.depth = lat ? 1 : 128,
		.qps = 1,
		.inline_size = -1,
		.timeout_ms = 10000,
	};
}

void ibup_bench_report_release(struct ibup_bench_report *r)
{
	free(r->results);
	r->results = NULL;
	r->n_results = 0;
}

/* The wire. */

enum msg_type {
	MSG_BEGIN = 1,
	MSG_READY,
	MSG_END,
	MSG_RESULT,
	MSG_BYE,
	MSG_ERROR,
};

struct wire_params {
	char magic[8];
	uint32_t version, test, qps, depth, cq_mod, post_list, verify, n_sizes;
	int32_t inline_size;
	uint32_t use_grh, prefer_link_local;
	uint64_t iterations, duration_ns;
	uint64_t sizes[MAX_SIZES];
};

struct wire_side {
	char error[200]; /* not empty: the server could not set up, and why */
	char device[64];
	char link_layer[16];
	char gid_text[40];
	uint32_t port, lid, mtu_enum, max_rd_atom, use_grh, n_qps, pkey, inline_max;
	int32_t gid_index, pkey_index, numa_node, cpu;
	uint8_t gid[16];
	uint32_t rkey;
	uint64_t vaddr, region;
	uint32_t qpn[MAX_QPS], psn[MAX_QPS];
};

struct wire_msg {
	uint32_t type, status, verified, pad;
	uint64_t size;
	uint64_t counts[MAX_QPS];
	char text[200];
};

/* One side of the test. */
struct side {
	const struct ibup_verbs *v;
	struct ibup_ctx *ictx;
	const struct ibup_bench_opts
		*o; /* the client's options (the server: from PARAMS) */
	struct ibup_bench_opts server_opts;
	bool is_client;
	int fd;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	struct ibv_cq *scq, *rcq;
	struct ibv_qp *qp[MAX_QPS];
	unsigned nqp;
	uint8_t *buf;
	size_t buf_len, region;
	uint8_t port;
	struct ibv_port_attr pattr;
	struct ibv_device_attr dattr;
	int gid_index;
	union ibv_gid gid;
	bool use_grh;
	uint32_t psn[MAX_QPS];
	unsigned sq_depth, rq_depth, max_inline;
	struct wire_side me, peer;
	struct ibup_bench_side *info;
	char *err;
	size_t err_size;
	uint64_t sizes[MAX_SIZES];
	unsigned n_sizes;
	/* The receive ring: posted once per run, slots as large as its largest message. */
	size_t rx_stride;
	unsigned rx_slots;
	/* Latency: sends posted and their completions seen, over the whole run. */
	uint64_t lat_posted, lat_reaped;
};

static int fail(struct side *s, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(struct side *s, int r, const char *fmt, ...)
{
	va_list ap;

	if (!s->err[0]) {
		va_start(ap, fmt);
		vsnprintf(s->err, s->err_size, fmt, ap);
		va_end(ap);
	}
	return r;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Byte order of the fixed records: every field is 32 or 64 bits, or bytes. */
static void swap32(uint32_t *p, size_t n, bool out)
{
	for (size_t i = 0; i < n; i++)
		p[i] = out ? htobe32(p[i]) : be32toh(p[i]);
}

static void swap64(uint64_t *p, size_t n, bool out)
{
	for (size_t i = 0; i < n; i++)
		p[i] = out ? htobe64(p[i]) : be64toh(p[i]);
}

static void params_order(struct wire_params *w, bool out)
{
	swap32(&w->version, 11, out);
	swap64(&w->iterations, 2 + MAX_SIZES, out);
}

static void side_order(struct wire_side *w, bool out)
{
	swap32(&w->port, 12, out);
	swap32(&w->rkey, 1, out);
	swap64(&w->vaddr, 2, out);
	swap32(w->qpn, 2 * MAX_QPS, out);
}

static void msg_order(struct wire_msg *m, bool out)
{
	swap32(&m->type, 4, out);
	swap64(&m->size, 1 + MAX_QPS, out);
}

/*
 * Move @len bytes with a deadline (timeout_ms < 0: none). A closed connection is
 * -ECONNRESET, whatever the direction.
 */
static int xfer(int fd, void *buf, size_t len, bool out, int timeout_ms)
{
	uint8_t *p = buf;
	uint64_t deadline =
		timeout_ms < 0 ? 0 : now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = out ? POLLOUT : POLLIN };
		int wait = -1, r;
		ssize_t n;

		if (deadline) {
			uint64_t t = now_ns();

			if (t >= deadline)
				return -ETIMEDOUT;
			wait = (int)((deadline - t) / 1000000u) + 1;
		}
		r = poll(&pfd, 1, wait);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ETIMEDOUT;
		n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == EPIPE ? -ECONNRESET : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_msg(struct side *s, struct wire_msg *m)
{
	int r;

	msg_order(m, true);
	r = xfer(s->fd, m, sizeof(*m), true, (int)s->o->timeout_ms);
	msg_order(m, false);
	if (r < 0)
		return fail(s, r, "sending to the peer: %s",
			    r == -ECONNRESET ? "the peer closed the connection"
					     : strerror(-r));
	return 0;
}

static void send_error(struct side *s)
{
	struct wire_msg m = { .type = MSG_ERROR };

	snprintf(m.text, sizeof(m.text), "%s", s->err);
	msg_order(&m, true);
	(void)xfer(s->fd, &m, sizeof(m), true, 1000);
}

/* Receive one message; an ERROR from the peer becomes ours, with its reason. */
static int recv_msg(struct side *s, struct wire_msg *m, enum msg_type want,
		    int timeout_ms)
{
	int r = xfer(s->fd, m, sizeof(*m), false, timeout_ms);

	if (r == -ETIMEDOUT)
		return fail(s, r, "the peer sent nothing for %d ms", timeout_ms);
	if (r == -ECONNRESET)
		return fail(s, -ECONNRESET,
			    "the peer closed the connection (did it stop?)");
	if (r < 0)
		return fail(s, r, "receiving from the peer: %s", strerror(-r));
	msg_order(m, false);
	m->text[sizeof(m->text) - 1] = '\0';
	if (m->type == MSG_ERROR)
		return fail(s, m->status ? -(int)m->status : -EPROTO, "peer: %s",
			    m->text);
	if (want && m->type != want)
		return fail(s, -EPROTO, "unexpected message %u from the peer (wanted %u)",
			    m->type, want);
	return 0;
}

/*
 * While spinning on a CQ or on memory: has the peer hung up, or sent something (an
 * END, or an ERROR)? 0 when quiet, 1 when a message is waiting, or an error.
 */
static int peer_poll(struct side *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	int r = poll(&pfd, 1, 0);

	if (r < 0)
		return errno == EINTR ? 0 : fail(s, -errno, "poll: %s", strerror(errno));
	if (r == 0)
		return 0;
	if (pfd.revents & (POLLERR | POLLHUP) && !(pfd.revents & POLLIN))
		return fail(s, -ECONNRESET,
			    "the peer closed the connection (did it stop?)");
	return 1;
}

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
static const struct ibup_device *pick_device(const struct ibup_status *st,
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
			return fail(s, -EINVAL, "%s port %u has no P_Key index %d",
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

static int open_side(struct side *s, const struct ibup_status *st,
		     const struct ibup_bench_where *w, bool prefer_link_local,
		     bool peer_grh, int cpu_slot)
{
	const struct ibup_device *dev = pick_device(st, w);
	const struct ibup_port *p;
	struct ibv_device **list;
	int n = 0;

	if (!dev)
		return w->device
			       ? fail(s, -ENODEV, "no RDMA device '%s'", w->device)
			       : fail(s, -ENODEV,
				      "no InfiniBand or RoCE device with an active port");
	p = active_port(dev, w->port);
	if (!p)
		return w->port ? fail(s, -ENETDOWN, "%s port %u is not active", dev->name,
				      w->port)
			       : fail(s, -ENETDOWN, "%s has no active port", dev->name);
	snprintf(s->me.device, sizeof(s->me.device), "%s", dev->name);
	snprintf(s->info->device, sizeof(s->info->device), "%s", dev->name);
	s->port = (uint8_t)p->num;
	place(s, dev, w->no_numa, cpu_slot);

	list = s->v->get_device_list(&n);
	if (!list)
		return fail(s, -errno ? -errno : -ENODEV, "ibv_get_device_list: %s",
			    strerror(errno ? errno : ENODEV));
	for (int i = 0; i < n; i++)
		if (strcmp(s->v->get_device_name(list[i]), dev->name) == 0) {
			s->ctx = s->v->open_device(list[i]);
			break;
		}
	s->v->free_device_list(list);
	if (!s->ctx)
		return fail(s, -ENODEV,
			    "cannot open %s with libibverbs (is its provider "
			    "library installed, /dev/infiniband readable?)",
			    dev->name);
	if (s->v->query_device(s->ctx, &s->dattr) ||
	    ibup_verbs_query_port(s->v, s->ctx, s->port, &s->pattr))
		return fail(s, -EIO, "cannot query %s port %u", dev->name, s->port);
	if (s->pattr.state != IBV_PORT_ACTIVE)
		return fail(s, -ENETDOWN, "%s port %u is not active", dev->name, s->port);

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
				       ? fail(s, -EINVAL,
					      "%s port %u has no usable GID at index %d",
					      dev->name, s->port, w->gid_index)
				       : fail(s, -ENETDOWN,
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
static int create_resources(struct side *s, size_t max_size)
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
		return fail(s, -ENOMEM, "ibv_alloc_pd on %s failed", s->me.device);
	s->buf = mmap(NULL, s->buf_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->buf == MAP_FAILED) {
		s->buf = NULL;
		return fail(s, -ENOMEM, "cannot allocate %zu bytes of buffers",
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
		return fail(s, -errno ? -errno : -ENOMEM,
			    "cannot register %zu bytes with %s: %s%s", s->buf_len,
			    s->me.device, strerror(errno ? errno : ENOMEM),
			    errno == ENOMEM || errno == EPERM || errno == EAGAIN
				    ? " (is the memlock limit too low? see ibup check)"
				    : "");
	s->scq = s->v->create_cq(s->ctx, (int)(s->sq_depth * s->nqp), NULL, NULL, 0);
	s->rcq = s->v->create_cq(s->ctx, (int)(s->rq_depth * s->nqp), NULL, NULL, 0);
	if (!s->scq || !s->rcq)
		return fail(s, -ENOMEM, "cannot create completion queues on %s",
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
			return fail(s, -errno ? -errno : -ENOMEM,
				    "cannot create RC queue pair %u on %s: %s", q,
				    s->me.device, strerror(errno ? errno : ENOMEM));
		if (s->v->query_qp(s->qp[q], &qa, IBV_QP_CAP, &qia) == 0)
			s->max_inline = qa.cap.max_inline_data;
		if (s->v->modify_qp(s->qp[q], &a,
				    IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
					    IBV_QP_ACCESS_FLAGS))
			return fail(s, -EIO, "cannot move QP %u to INIT on %s: %s", q,
				    s->me.device, strerror(errno));
		s->psn[q] = (uint32_t)(((uint64_t)rand() ^ now_ns()) & 0xffffff);
	}
	if (o->inline_size >= 0 && (unsigned)o->inline_size < s->max_inline)
		s->max_inline = (unsigned)o->inline_size;
	s->info->inline_max = s->max_inline;
	return 0;
}

static void fill_me(struct side *s)
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

static void peer_info(const struct wire_side *p, struct ibup_bench_side *r)
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

static int connect_qps(struct side *s)
{
	const struct wire_side *p = &s->peer;
	enum ibv_mtu mtu = s->pattr.active_mtu < (enum ibv_mtu)p->mtu_enum
				   ? s->pattr.active_mtu
				   : (enum ibv_mtu)p->mtu_enum;
	unsigned rd_atom = s->dattr.max_qp_init_rd_atom > 0
				   ? (unsigned)s->dattr.max_qp_init_rd_atom
				   : 1;

	if (p->n_qps != s->nqp)
		return fail(s, -EPROTO, "the peer has %u queue pairs, this side %u",
			    p->n_qps, s->nqp);
	if (p->use_grh != s->use_grh)
		return fail(s, -EPROTO,
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
			return fail(s, -EIO, "cannot move QP %u of %s to RTR: %s", q,
				    s->me.device, strerror(errno));
		a = (struct ibv_qp_attr){
			.qp_state = IBV_QPS_RTS,
			.sq_psn = s->psn[q],
			.timeout = 14,
			.retry_cnt = 7,
			.rnr_retry = 7,
			.max_rd_atomic = (uint8_t)rd_atom,
		};
		if (s->v->modify_qp(s->qp[q], &a,
				    IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT |
					    IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
					    IBV_QP_MAX_QP_RD_ATOMIC))
			return fail(s, -EIO, "cannot move QP %u of %s to RTS: %s", q,
				    s->me.device, strerror(errno));
	}
	return 0;
}

static void destroy_side(struct side *s)
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
	if (s->buf)
		munmap(s->buf, s->buf_len);
	if (s->ctx)
		s->v->close_device(s->ctx);
}

/* Buffers: per QP, "in" (the peer's target or source) then "out" (ours). */
static uint8_t *in_area(struct side *s, unsigned q)
{
	return s->buf + (size_t)q * 2 * s->region;
}

static uint8_t *out_area(struct side *s, unsigned q)
{
	return in_area(s, q) + s->region;
}

static uint64_t peer_in_addr(struct side *s, unsigned q)
{
	return s->peer.vaddr + (uint64_t)q * 2 * s->peer.region;
}

static uint64_t seq_of(unsigned q, uint64_t k)
{
	return (uint64_t)q << 48 | k;
}

static int wc_error(struct side *s, const struct ibv_wc *wc)
{
	const char *hint = "";

	if (wc->status == IBV_WC_RETRY_EXC_ERR)
		hint = " (the peer does not answer: did it stop, or is the GID or path "
		       "wrong?)";
	else if (wc->status == IBV_WC_RNR_RETRY_EXC_ERR)
		hint = " (the peer posted no receive buffer)";
	return fail(s, -EIO, "a work request failed on %s: %s (vendor error 0x%x)%s",
		    s->me.device, s->v->wc_status_str(wc->status), wc->vendor_err, hint);
}

/* A growing array, for the latency samples and the bandwidth trace. */
static int grow(void **p, size_t *cap, size_t n, size_t elem)
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

struct run {
	size_t size;
	unsigned post_list;
	uint64_t iters; /* per QP; UINT64_MAX in duration mode */
	uint64_t deadline_ns; /* duration mode: stop posting after this */
	uint64_t counts[MAX_QPS];
	uint64_t t_first, t_last;
	uint32_t *samples;
	size_t n_samples, cap_samples;
	struct ibup_bw_point *trace;
	size_t n_trace, cap_trace;
	bool verified;
};

/*
 * Buffer slots of @size bytes for a window of @depth messages. With --verify every
 * message in flight has its own slot. Without, the messages cycle through one page
 * (one slot when larger), as perftest's do: the data is not looked at, and a small
 * working set keeps the CPU's caches and TLB out of the figures (Soft-RoCE copies
 * every byte with the CPU).
 */
static unsigned slots_for(struct side *s, size_t size, unsigned depth)
{
	size_t span = s->o->verify ? s->region : (size_t)sysconf(_SC_PAGESIZE);
	size_t n = span / size;

	return (unsigned)(n < depth ? (n ? n : 1) : depth);
}

/*
 * The progress watchdog of every spinning loop. It reads the clock and polls the
 * socket only every WATCH_SPINS spins: a latency loop that did so once per round
 * trip would add a clock read and a system call to every sample (microseconds where
 * the clock source is emulated). 2^16 spins are well under a millisecond on
 * hardware, a few under emulation. last_progress 0: not started, the first check
 * starts it.
 */
#define WATCH_SPINS (1u << 16)
struct watch {
	uint64_t last_progress;
	unsigned spins;
};

/* Count a spin: true every WATCH_SPINS-th, when the watch looks. */
static bool watch_due(struct watch *w)
{
	if (++w->spins < WATCH_SPINS)
		return false;
	w->spins = 0;
	return true;
}

/* Nothing progressed for the timeout (the first look starts the watch). */
static bool watch_expired(const struct side *s, struct watch *w)
{
	uint64_t t = now_ns();

	if (!w->last_progress)
		w->last_progress = t;
	return t - w->last_progress > (uint64_t)s->o->timeout_ms * 1000000u;
}

static int watch_check(struct side *s, struct watch *w, const char *what)
{
	int r;

	if (!watch_due(w))
		return 0;
	if (watch_expired(s, w))
		return fail(s, -ETIMEDOUT, "no %s for %u ms: the peer stopped", what,
			    s->o->timeout_ms);
	r = peer_poll(s);
	if (r == 1) {
		struct wire_msg m;

		/* Only an ERROR or a hang-up can come now. */
		r = recv_msg(s, &m, 0, (int)s->o->timeout_ms);
		return r < 0 ? r : fail(s, -EPROTO, "unexpected message from the peer");
	}
	return r;
}

/*
 * A server's quiet spin: every @every spins, has the client sent its END (1, into
 * @end)? 0: not yet; or an error (a hang-up, an ERROR, anything else).
 */
static int poll_end(struct side *s, struct watch *w, unsigned every, struct wire_msg *end)
{
	int r;

	if (++w->spins < every)
		return 0;
	w->spins = 0;
	r = peer_poll(s);
	if (r <= 0)
		return r;
	return recv_msg(s, end, MSG_END, (int)s->o->timeout_ms) < 0 ? -EPROTO : 1;
}

/*
 * Completion moderation, and how many work requests one post chains. Chains save a
 * doorbell per message, which counts while posting is the limit: up to 8 KiB (the
 * size perftest also treats as small). Above, single posts keep the device (and
 * Soft-RoCE's requester, which runs in the poster's system call) streaming: measured
 * 15-40% faster for 64 KiB sends on Soft-RoCE than chains of 16.
 */
static void bw_knobs(const struct ibup_bench_opts *o, unsigned depth, size_t size,
		     unsigned *cq_mod, unsigned *post_list)
{
	*cq_mod = o->cq_mod ? o->cq_mod : (depth / 4 ? depth / 4 : 1);
	if (*cq_mod > depth)
		*cq_mod = depth;
	*post_list = o->post_list  ? o->post_list
		     : size > 8192 ? 1
				   : (*cq_mod < 16 ? *cq_mod : 16);
	if (*post_list > 64)
		*post_list = 64;
}

/* Client, bandwidth: keep depth WRs outstanding on every QP. */
static int client_bw(struct side *s, struct run *rn)
{
	const struct ibup_bench_opts *o = s->o;
	enum ibup_bench_test t = o->test;
	size_t size = rn->size;
	unsigned depth = s->sq_depth, cq_mod, post_list;
	unsigned nslots;
	uint64_t posted[MAX_QPS] = { 0 }, target[MAX_QPS] = { 0 }, done_total = 0,
		 last_trace = 0;
	struct ibv_send_wr wrs[64];
	struct ibv_sge sges[64];
	struct ibv_wc wc[64];
	struct watch w = { 0 };
	bool stopping = false;
	unsigned send_flags =
		size <= s->max_inline && t != IBUP_BENCH_READ_BW ? IBV_SEND_INLINE : 0;

	nslots = slots_for(s, size, depth);
	if (o->verify && nslots < depth)
		depth = nslots; /* a slot is rewritten only after its last use completed */
	bw_knobs(o, depth, size, &cq_mod, &post_list);
	rn->post_list = post_list;
	for (unsigned q = 0; q < s->nqp; q++)
		target[q] = rn->iters;

	rn->t_first = now_ns();
	w.last_progress = rn->t_first;
	while (true) {
		bool all_done = true;
		uint64_t t_now =
			0; /* read when something completed, or at a watchdog check */
		int n;

		for (unsigned q = 0; q < s->nqp; q++) {
			while (posted[q] < target[q] &&
			       posted[q] - rn->counts[q] < depth) {
				unsigned b = 0;
				uint64_t room = depth - (posted[q] - rn->counts[q]);
				struct ibv_send_wr *bad;

				while (b < post_list && b < room &&
				       posted[q] + b < target[q]) {
					uint64_t k = posted[q] + b;
					unsigned slot = (unsigned)(k % nslots);
					bool sig = (k + 1) % cq_mod == 0 ||
						   k + 1 == target[q];

					sges[b] = (struct ibv_sge){
						.addr = (uintptr_t)(out_area(s, q) +
								    (size_t)slot * size),
						.length = (uint32_t)size,
						.lkey = s->mr->lkey,
					};
					if (o->verify && t != IBUP_BENCH_READ_BW)
						ibup_bench_fill(out_area(s, q) +
									(size_t)slot *
										size,
								size, seq_of(q, k));
					wrs[b] = (struct ibv_send_wr){
						.wr_id = (uint64_t)q << 40 | (k + 1),
						.sg_list = &sges[b],
						.num_sge = 1,
						.opcode = t == IBUP_BENCH_WRITE_BW
								  ? IBV_WR_RDMA_WRITE
							  : t == IBUP_BENCH_READ_BW
								  ? IBV_WR_RDMA_READ
								  : IBV_WR_SEND,
						.send_flags =
							(sig ? IBV_SEND_SIGNALED : 0) |
							send_flags,
						.next = NULL,
					};
					if (t != IBUP_BENCH_SEND_BW) {
						wrs[b].wr.rdma.remote_addr =
							peer_in_addr(s, q) +
							(uint64_t)slot * size;
						wrs[b].wr.rdma.rkey = s->peer.rkey;
					}
					if (b)
						wrs[b - 1].next = &wrs[b];
					b++;
				}
				if (ibv_post_send(s->qp[q], wrs, &bad))
					return fail(s, -EIO, "posting to %s failed: %s",
						    s->me.device, strerror(errno));
				posted[q] += b;
			}
		}
		n = ibv_poll_cq(s->scq, 64, wc);
		if (n < 0)
			return fail(s, -EIO, "polling the completion queue of %s failed",
				    s->me.device);
		for (int i = 0; i < n; i++) {
			unsigned q = (unsigned)(wc[i].wr_id >> 40);
			uint64_t k = wc[i].wr_id & ((1ull << 40) - 1);

			if (wc[i].status != IBV_WC_SUCCESS)
				return wc_error(s, &wc[i]);
			if (q >= s->nqp)
				return fail(s, -EPROTO,
					    "completion of an unknown queue pair");
			if (o->verify && t == IBUP_BENCH_READ_BW) {
				/* Reads done since the last completion: their slots hold the server's. */
				for (uint64_t j = rn->counts[q]; j < k; j++) {
					unsigned slot = (unsigned)(j % nslots);

					if (ibup_bench_check(out_area(s, q) +
								     (size_t)slot * size,
							     size, seq_of(q, slot)) >= 0)
						return fail(s, -EBADMSG,
							    "read %" PRIu64
							    " on QP %u came back "
							    "corrupted",
							    j, q);
				}
			}
			done_total += k - rn->counts[q];
			rn->counts[q] = k;
		}
		if (n > 0) {
			t_now = now_ns();
			rn->t_last = t_now;
			w.last_progress = t_now;
			if (t_now - last_trace >= 100000 ||
			    done_total == rn->iters * s->nqp) {
				if (grow((void **)&rn->trace, &rn->cap_trace, rn->n_trace,
					 sizeof(*rn->trace)))
					return fail(s, -ENOMEM, "out of memory");
				rn->trace[rn->n_trace++] =
					(struct ibup_bw_point){ t_now - rn->t_first,
								done_total };
				last_trace = t_now;
			}
		} else {
			int r = watch_check(s, &w, "completion");

			if (r < 0)
				return r;
			if (w.spins == 0 && rn->deadline_ns)
				t_now = now_ns();
		}
		if (rn->deadline_ns && !stopping && t_now >= rn->deadline_ns) {
			stopping = true;
			/* Finish on a signalled WR: round each QP up to the next signal. */
			for (unsigned q = 0; q < s->nqp; q++)
				target[q] = posted[q] +
					    (cq_mod - posted[q] % cq_mod) % cq_mod;
		}
		for (unsigned q = 0; q < s->nqp; q++)
			if (rn->counts[q] < target[q])
				all_done = false;
		if (all_done)
			break;
	}
	/* Reads are checked here; writes and sends by the server (its RESULT). */
	rn->verified = o->verify;
	return 0;
}

static size_t max_of(const uint64_t *sizes, unsigned n)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < n; i++)
		if (sizes[i] > m)
			m = sizes[i];
	return (size_t)m;
}

static uint8_t *rx_buf(struct side *s, unsigned q, unsigned slot)
{
	return in_area(s, q) + (size_t)slot * s->rx_stride;
}

static int post_recv_slot(struct side *s, unsigned q, unsigned slot)
{
	struct ibv_sge sge = { .addr = (uintptr_t)rx_buf(s, q, slot),
			       .length = (uint32_t)s->rx_stride,
			       .lkey = s->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = (uint64_t)q << 32 | slot,
				  .sg_list = &sge,
				  .num_sge = 1 },
			   *bad;

	if (ibv_post_recv(s->qp[q], &wr, &bad))
		return fail(s, -EIO, "posting receives on %s failed: %s", s->me.device,
			    strerror(errno));
	return 0;
}

/*
 * Post @depth receives per QP, once per run: each completion re-posts its slot, so the
 * ring stays full from one size to the next, and a slot takes the run's largest
 * message. Without --verify every receive shares one slot (see slots_for()); with
 * it each has its own, and the ring is as deep as the slots.
 */
static int rx_ring(struct side *s, unsigned depth)
{
	unsigned n;

	if (s->rx_slots)
		return 0;
	s->rx_stride = max_of(s->sizes, s->n_sizes);
	s->rx_slots = s->o->verify ? (unsigned)(s->region / s->rx_stride) : 1;
	if (s->rx_slots == 0)
		s->rx_slots = 1;
	n = s->o->verify && s->rx_slots < depth ? s->rx_slots : depth;
	for (unsigned q = 0; q < s->nqp; q++)
		for (unsigned i = 0; i < n; i++)
			if (post_recv_slot(s, q, i % s->rx_slots) < 0)
				return -EIO;
	return 0;
}

/* Server of send_bw: receive everything, re-post, check payloads; stop at END. */
static int server_send_bw(struct side *s, struct run *rn, struct wire_msg *end)
{
	size_t size = rn->size;
	struct ibv_wc wc[64];
	struct watch w = { 0 };
	bool have_end = false;

	if (rx_ring(s, s->rq_depth) < 0)
		return -EIO;
	{
		struct wire_msg ready = { .type = MSG_READY };

		if (send_msg(s, &ready) < 0)
			return -EIO;
	}
	while (true) {
		int n = ibv_poll_cq(s->rcq, 64, wc);

		if (n < 0)
			return fail(s, -EIO, "polling the receive queue of %s failed",
				    s->me.device);
		for (int i = 0; i < n; i++) {
			unsigned q = (unsigned)(wc[i].wr_id >> 32),
				 slot = (unsigned)wc[i].wr_id;
			const uint8_t *p;

			if (wc[i].status != IBV_WC_SUCCESS)
				return wc_error(s, &wc[i]);
			if (q >= s->nqp || slot >= s->rx_slots)
				return fail(s, -EPROTO,
					    "completion of an unknown receive");
			p = rx_buf(s, q, slot);
			if (s->o->verify &&
			    (wc[i].byte_len != size ||
			     ibup_bench_check(p, size, seq_of(q, rn->counts[q])) >= 0))
				return fail(s, -EBADMSG,
					    "message %" PRIu64
					    " on QP %u arrived corrupted",
					    rn->counts[q], q);
			rn->counts[q]++;
			if (post_recv_slot(s, q, slot) < 0)
				return -EIO;
		}
		if (n > 0) {
			w = (struct watch){ 0 };
		} else if (!have_end) {
			/* Quiet: is the END there? (No watchdog: the client may take its time.) */
			int r = poll_end(s, &w, 1024, end);

			if (r < 0)
				return r;
			if (r == 1) {
				have_end = true;
				w = (struct watch){ 0 };
			}
		} else if (watch_due(&w) && watch_expired(s, &w)) {
			/* Everything the client sent was acknowledged: it must arrive. */
			return fail(s, -ETIMEDOUT,
				    "messages the client sent never arrived");
		}
		if (have_end) {
			bool all = true;

			for (unsigned q = 0; q < s->nqp; q++)
				if (rn->counts[q] < end->counts[q])
					all = false;
			if (all)
				break;
		}
	}
	rn->verified = s->o->verify;
	return 0;
}

/* Latency ping-pong. write_lat spins on the last byte of the in area; send_lat on the CQ. */

/* Send one ping or pong with sequence @seq. */
static int lat_send(struct side *s, size_t size, uint64_t seq)
{
	uint8_t *out = out_area(s, 0);
	struct ibv_sge sge = { .addr = (uintptr_t)out,
			       .length = (uint32_t)size,
			       .lkey = s->mr->lkey };
	struct ibv_send_wr wr = {
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = s->o->test == IBUP_BENCH_WRITE_LAT ? IBV_WR_RDMA_WRITE
							     : IBV_WR_SEND,
		.send_flags =
			IBV_SEND_SIGNALED | (size <= s->max_inline ? IBV_SEND_INLINE : 0),
	};
	struct ibv_send_wr *bad;
	struct ibv_wc wc[LAT_SQ_DEPTH];

	struct watch w = { 0 };

	/* Reap send completions; wait only when the queue is full. */
	while (true) {
		int r, n = ibv_poll_cq(s->scq, LAT_SQ_DEPTH, wc);

		if (n < 0)
			return fail(s, -EIO, "polling the completion queue failed");
		for (int i = 0; i < n; i++)
			if (wc[i].status != IBV_WC_SUCCESS)
				return wc_error(s, &wc[i]);
		s->lat_reaped += (unsigned)n;
		if (s->lat_posted - s->lat_reaped < LAT_SQ_DEPTH - 1)
			break;
		if (n > 0)
			w = (struct watch){ 0 };
		else if ((r = watch_check(s, &w, "send completion")) < 0)
			return r;
	}

	if (s->o->verify)
		ibup_bench_fill(out, size, seq);
	out[size - 1] = (uint8_t)seq;
	if (wr.opcode == IBV_WR_RDMA_WRITE) {
		wr.wr.rdma.remote_addr = peer_in_addr(s, 0);
		wr.wr.rdma.rkey = s->peer.rkey;
	}
	if (ibv_post_send(s->qp[0], &wr, &bad))
		return fail(s, -EIO, "posting to %s failed: %s", s->me.device,
			    strerror(errno));
	s->lat_posted++;
	return 0;
}

/*
 * A quiet spin of lat_wait: every WATCH_SPINS spins the server looks for the client's END
 * (1) and the client for a peer that stopped (an error). 0: keep spinning.
 */
static int lat_idle(struct side *s, struct watch *w, struct wire_msg *end)
{
	return s->is_client ? watch_check(s, w, "answer")
			    : poll_end(s, w, WATCH_SPINS, end);
}

/*
 * Wait for message @seq from the peer. Returns 0, 1 when the peer sent END over the
 * socket instead (server only), or an error.
 */
static int lat_wait(struct side *s, size_t size, uint64_t seq, struct wire_msg *end)
{
	struct watch w = { 0 };
	const uint8_t *p;

	if (s->o->test == IBUP_BENCH_WRITE_LAT) {
		volatile const uint8_t *last = in_area(s, 0) + size - 1;

		while (*last != (uint8_t)seq) {
			int r = lat_idle(s, &w, end);

			if (r != 0)
				return r;
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		p = in_area(s, 0);
	} else {
		struct ibv_wc wc;
		int n;

		while ((n = ibv_poll_cq(s->rcq, 1, &wc)) == 0) {
			int r = lat_idle(s, &w, end);

			if (r != 0)
				return r;
		}
		if (n < 0)
			return fail(s, -EIO, "polling the receive queue failed");
		if (wc.status != IBV_WC_SUCCESS)
			return wc_error(s, &wc);
		if ((unsigned)wc.wr_id >= s->rx_slots)
			return fail(s, -EPROTO, "completion of an unknown receive");
		p = rx_buf(s, 0, (unsigned)wc.wr_id);
		/* Safe before the check: the peer sends again only after our answer. */
		if (post_recv_slot(s, 0, (unsigned)wc.wr_id) < 0)
			return -EIO;
		if (s->o->verify && p[size - 1] != (uint8_t)seq)
			return fail(s, -EBADMSG,
				    "message %" PRIu64 " arrived out of order", seq);
	}
	if (s->o->verify && ibup_bench_check(p, size - 1, seq) >= 0)
		return fail(s, -EBADMSG, "message %" PRIu64 " arrived corrupted", seq);
	return 0;
}

static int lat_setup(struct side *s, size_t size)
{
	memset(in_area(s, 0), 0, s->region);
	memset(out_area(s, 0), 0, s->region);
	if (s->o->test == IBUP_BENCH_SEND_LAT)
		return rx_ring(s, LAT_RQ_DEPTH - 1);
	return 0;
}

static int client_lat(struct side *s, struct run *rn)
{
	int r;

	r = lat_setup(s, rn->size);
	if (r < 0)
		return r;
	/*
	 * One clock read per round trip: a sample is the time from one read to the next,
	 * so it spans the post, the answer and the read itself, as perftest's does.
	 */
	rn->t_first = rn->t_last = now_ns();
	for (uint64_t i = 0; i < rn->iters; i++) {
		uint64_t t, seq = i + 1;

		if (rn->deadline_ns && rn->t_last >= rn->deadline_ns)
			break;
		r = lat_send(s, rn->size, seq);
		if (r < 0)
			return r;
		r = lat_wait(s, rn->size, seq, NULL);
		if (r < 0)
			return r;
		t = now_ns();
		if (grow((void **)&rn->samples, &rn->cap_samples, rn->n_samples,
			 sizeof(*rn->samples)))
			return fail(s, -ENOMEM, "out of memory");
		rn->samples[rn->n_samples++] = t - rn->t_last > UINT32_MAX
						       ? UINT32_MAX
						       : (uint32_t)(t - rn->t_last);
		rn->t_last = t;
	}
	rn->counts[0] = rn->n_samples;
	rn->verified = s->o->verify;
	return 0;
}

/* Server of the latency tests: echo every ping until END. */
static int server_lat(struct side *s, struct run *rn, struct wire_msg *end)
{
	struct wire_msg ready = { .type = MSG_READY };
	int r;

	r = lat_setup(s, rn->size);
	if (r < 0)
		return r;
	if (send_msg(s, &ready) < 0)
		return -EIO;
	for (uint64_t seq = 1;; seq++) {
		r = lat_wait(s, rn->size, seq, end);
		if (r < 0)
			return r;
		if (r == 1)
			break;
		r = lat_send(s, rn->size, seq);
		if (r < 0)
			return r;
		rn->counts[0]++;
	}
	rn->verified = s->o->verify;
	return 0;
}

/* Server of write_bw/read_bw: the data moves without it; check the written slots at END. */
static int server_passive(struct side *s, struct run *rn, struct wire_msg *end)
{
	const struct ibup_bench_opts *o = s->o;
	struct wire_msg ready = { .type = MSG_READY };
	unsigned nslots = slots_for(s, rn->size, s->sq_depth);
	int timeout =
		o->duration_s > 0 ? (int)(o->duration_s * 1000) + (int)o->timeout_ms : -1;

	if (o->test == IBUP_BENCH_READ_BW && o->verify)
		for (unsigned q = 0; q < s->nqp; q++)
			for (unsigned j = 0; j < nslots; j++)
				ibup_bench_fill(in_area(s, q) + (size_t)j * rn->size,
						rn->size, seq_of(q, j));
	if (send_msg(s, &ready) < 0)
		return -EIO;
	if (recv_msg(s, end, MSG_END, timeout) < 0)
		return -EPROTO;
	if (o->test != IBUP_BENCH_WRITE_BW || !o->verify)
		return 0;
	for (unsigned q = 0; q < s->nqp; q++) {
		uint64_t c = end->counts[q];

		for (unsigned j = 0; j < nslots && j < c; j++) {
			uint64_t k = j + (c - 1 - j) / nslots *
						 nslots; /* the last write to slot j */

			if (ibup_bench_check(in_area(s, q) + (size_t)j * rn->size,
					     rn->size, seq_of(q, k)) >= 0)
				return fail(s, -EBADMSG,
					    "write %" PRIu64
					    " on QP %u arrived corrupted",
					    k, q);
		}
	}
	rn->verified = true;
	return 0;
}

static void run_release(struct run *rn)
{
	free(rn->samples);
	free(rn->trace);
}

static int add_result(struct ibup_bench_report *rep, const struct ibup_bench_result *res)
{
	struct ibup_bench_result *p =
		realloc(rep->results, (rep->n_results + 1) * sizeof(*rep->results));

	if (!p)
		return -ENOMEM;
	rep->results = p;
	rep->results[rep->n_results++] = *res;
	return 0;
}

static void compute(struct side *s, struct run *rn, struct ibup_bench_result *res)
{
	uint64_t total = 0;

	for (unsigned q = 0; q < s->nqp; q++)
		total += rn->counts[q];
	*res = (struct ibup_bench_result){ .size = rn->size,
					   .iterations = total,
					   .post_list =
						   rn->post_list ? rn->post_list : 1 };
	res->seconds =
		rn->t_last > rn->t_first ? (double)(rn->t_last - rn->t_first) / 1e9 : 0;
	if (ibup_bench_test_is_latency(s->o->test)) {
		ibup_lat_stats_compute(rn->samples, rn->n_samples, &res->lat);
		res->bw_avg_gbps = res->bw_peak_gbps = res->msg_rate_mpps = NAN;
	} else {
		double ns = (double)(rn->t_last - rn->t_first);

		res->lat = (struct ibup_lat_stats){ NAN, NAN, NAN, NAN, NAN, NAN, NAN };
		res->bw_avg_gbps =
			ns > 0 ? (double)total * (double)rn->size * 8.0 / ns : 0;
		res->msg_rate_mpps = ns > 0 ? (double)total * 1000.0 / ns : 0;
		res->bw_peak_gbps = ibup_bw_peak_gbps(rn->trace, rn->n_trace, rn->size,
						      total / 10 ? total / 10 : 1);
		if (res->bw_peak_gbps < res->bw_avg_gbps)
			res->bw_peak_gbps = res->bw_avg_gbps;
	}
}

/* The client's part, once connected. */
static int client_loop(struct side *s, struct ibup_bench_report *rep,
		       ibup_bench_result_fn *fn, void *userdata)
{
	const struct ibup_bench_opts *o = s->o;

	for (unsigned i = 0; i < s->n_sizes; i++) {
		struct run rn = { .size = s->sizes[i],
				  .iters = o->duration_s > 0 ? UINT64_MAX
							     : o->iterations };
		struct wire_msg m = { .type = MSG_BEGIN, .size = s->sizes[i] };
		struct ibup_bench_result res;
		int r;

		if (send_msg(s, &m) < 0 ||
		    recv_msg(s, &m, MSG_READY, (int)o->timeout_ms) < 0)
			return -EPROTO;
		if (o->duration_s > 0)
			rn.deadline_ns = now_ns() + (uint64_t)(o->duration_s * 1e9);
		r = ibup_bench_test_is_latency(o->test) ? client_lat(s, &rn)
							: client_bw(s, &rn);
		if (r < 0) {
			run_release(&rn);
			return r;
		}
		m = (struct wire_msg){ .type = MSG_END, .size = rn.size };
		memcpy(m.counts, rn.counts, sizeof(m.counts));
		if (send_msg(s, &m) < 0 ||
		    recv_msg(s, &m, MSG_RESULT, (int)o->timeout_ms + 60000) < 0) {
			run_release(&rn);
			return -EPROTO;
		}
		compute(s, &rn, &res);
		res.verified = o->verify &&
			       (rn.verified || o->test == IBUP_BENCH_READ_BW) &&
			       (o->test == IBUP_BENCH_READ_BW || m.verified);
		run_release(&rn);
		if (add_result(rep, &res) < 0)
			return fail(s, -ENOMEM, "out of memory");
		if (fn && fn(userdata, rep, &rep->results[rep->n_results - 1]))
			break;
	}
	{
		struct wire_msg bye = { .type = MSG_BYE };

		(void)send_msg(s, &bye);
	}
	return 0;
}

/* The server's part, once connected: run what the client asks until BYE. */
static int server_loop(struct side *s)
{
	while (true) {
		struct wire_msg m, end = { 0 };
		struct run rn = { 0 };
		int r;

		if (recv_msg(s, &m, 0, -1) < 0)
			return -EPROTO;
		if (m.type == MSG_BYE)
			return 0;
		if (m.type != MSG_BEGIN || m.size == 0 || m.size > s->region)
			return fail(s, -EPROTO, "unexpected message %u from the client",
				    m.type);
		rn.size = m.size;
		if (ibup_bench_test_is_latency(s->o->test))
			r = server_lat(s, &rn, &end);
		else if (s->o->test == IBUP_BENCH_SEND_BW)
			r = server_send_bw(s, &rn, &end);
		else
			r = server_passive(s, &rn, &end);
		run_release(&rn);
		if (r < 0)
			return r;
		m = (struct wire_msg){ .type = MSG_RESULT, .verified = rn.verified };
		if (send_msg(s, &m) < 0)
			return -EIO;
	}
}

/* The sizes of a run (check_opts() has judged them). */
static void sizes_of(const struct ibup_bench_opts *o, uint64_t *sizes, unsigned *n)
{
	*n = 0;
	if (!o->all_sizes) {
		sizes[(*n)++] = o->size;
		return;
	}
	for (uint64_t sz = IBUP_BENCH_MIN_SIZE; sz <= IBUP_BENCH_MAX_SIZE; sz *= 2)
		sizes[(*n)++] = sz;
}

/* A latency message needs 2 bytes: the sequence byte and a payload. */
static bool size_ok(enum ibup_bench_test t, uint64_t size)
{
	return size >= (ibup_bench_test_is_latency(t) ? 2u : 1u) &&
	       size <= IBUP_BENCH_MAX_SIZE;
}

static int check_opts(const struct ibup_bench_opts *o, char *err, size_t err_size)
{
	if ((unsigned)o->test >= IBUP_BENCH_N_TESTS)
		return snprintf(err, err_size, "unknown test"), -EINVAL;
	if (!o->all_sizes && !size_ok(o->test, o->size))
		return snprintf(err, err_size, "message size must be %u B to 8 MiB",
				ibup_bench_test_is_latency(o->test) ? 2u : 1u),
		       -EINVAL;
	if (o->qps < 1 || o->qps > MAX_QPS)
		return snprintf(err, err_size, "queue pairs must be 1 to %u", MAX_QPS),
		       -EINVAL;
	if (o->depth < 1 || o->depth > 16384)
		return snprintf(err, err_size, "queue depth must be 1 to 16384"), -EINVAL;
	if (o->duration_s <= 0 && o->iterations < 1)
		return snprintf(err, err_size, "iterations must be at least 1"), -EINVAL;
	if (o->timeout_ms < 100)
		return snprintf(err, err_size, "the timeout must be at least 100 ms"),
		       -EINVAL;
	return 0;
}

/*
 * The cost of one clock read, reported beside the figures: every latency sample holds
 * one. A few ns with the TSC through the vDSO; microseconds where the clock source is
 * an emulated device (an HPET under emulation) and each read is a system call.
 */
static double clock_cost_ns(void)
{
	uint32_t d[1000];
	struct ibup_lat_stats st;
	uint64_t prev = now_ns();

	for (unsigned i = 0; i < IBUP_ARRAY_SIZE(d); i++) {
		uint64_t t = now_ns();

		d[i] = (uint32_t)(t - prev > UINT32_MAX ? UINT32_MAX : t - prev);
		prev = t;
	}
	ibup_lat_stats_compute(d, IBUP_ARRAY_SIZE(d), &st);
	return st.median_us * 2000.0; /* the statistics halve (round trips), in µs */
}

static void report_init(struct ibup_bench_report *rep, const struct ibup_bench_opts *o,
			const char *mode)
{
	*rep = (struct ibup_bench_report){ .test = o->test,
					   .qps = o->qps,
					   .depth = o->depth };
	snprintf(rep->mode, sizeof(rep->mode), "%s", mode);
	snprintf(rep->clock, sizeof(rep->clock), "clock_gettime(CLOCK_MONOTONIC)");
	rep->clock_read_ns = clock_cost_ns();
	rep->local.gid_index = rep->remote.gid_index = -1;
	rep->local.numa_node = rep->remote.numa_node = -1;
	rep->local.cpu = rep->remote.cpu = -1;
}

static void params_from_opts(struct wire_params *p, const struct ibup_bench_opts *o,
			     const uint64_t *sizes, unsigned n, bool grh, bool prefer_ll)
{
	*p = (struct wire_params){
		.version = WIRE_VERSION,
		.test = o->test,
		.qps = o->qps,
		.depth = o->depth,
		.cq_mod = o->cq_mod,
		.post_list = o->post_list,
		.verify = o->verify,
		.n_sizes = n,
		.inline_size = o->inline_size,
		.use_grh = grh,
		.prefer_link_local = prefer_ll,
		.iterations = o->iterations,
		.duration_ns = (uint64_t)(o->duration_s * 1e9),
	};
	memcpy(p->magic, WIRE_MAGIC, sizeof(p->magic));
	memcpy(p->sizes, sizes, n * sizeof(*sizes));
}

/*
 * The client side on connected socket @fd: open, create, exchange, connect, run.
 */
static int client_run(struct ibup_ctx *ctx, const struct ibup_status *st,
		      const struct ibup_bench_opts *o, const struct ibup_bench_where *w,
		      bool prefer_ll, bool local, int fd, ibup_bench_result_fn *fn,
		      void *userdata, struct ibup_bench_report *rep)
{
	struct side s = { .ictx = ctx,
			  .o = o,
			  .is_client = true,
			  .fd = fd,
			  .info = &rep->local,
			  .err = rep->error,
			  .err_size = sizeof(rep->error) };
	struct wire_params p;
	int r;

	r = ibup_verbs_load(&s.v, rep->error, sizeof(rep->error));
	if (r < 0)
		goto out_noverbs;
	sizes_of(o, s.sizes, &s.n_sizes);
	r = open_side(&s, st, w, prefer_ll, false, local ? 0 : -1);
	if (r < 0)
		goto out;
	r = create_resources(&s, max_of(s.sizes, s.n_sizes));
	if (r < 0)
		goto out;
	fill_me(&s);
	params_from_opts(&p, o, s.sizes, s.n_sizes, s.use_grh, prefer_ll);
	params_order(&p, true);
	side_order(&s.me, true);
	r = xfer(fd, &p, sizeof(p), true, (int)o->timeout_ms);
	if (r == 0)
		r = xfer(fd, &s.me, sizeof(s.me), true, (int)o->timeout_ms);
	side_order(&s.me, false);
	if (r < 0) {
		r = fail(&s, r, "sending the connection data: %s", strerror(-r));
		goto out;
	}
	{
		/* The server answers with its side, or with an ERROR record of the same size. */
		r = xfer(fd, &s.peer, sizeof(s.peer), false, (int)o->timeout_ms * 3);
		if (r == 0) {
			side_order(&s.peer, false);
			if (s.peer.error[0]) {
				r = fail(&s, -EPROTO, "peer: %.*s",
					 (int)sizeof(s.peer.error) - 1, s.peer.error);
				goto out;
			}
		} else {
			r = fail(&s, r, "waiting for the server's connection data: %s",
				 r == -ECONNRESET  ? "the server closed the connection"
				 : r == -ETIMEDOUT ? "no answer"
						   : strerror(-r));
			goto out;
		}
	}
	peer_info(&s.peer, &rep->remote);
	r = connect_qps(&s);
	if (r < 0)
		goto out_err;
	if (ibup_bench_test_is_latency(o->test))
		rep->cq_mod = rep->post_list = 1;
	else
		bw_knobs(o, s.sq_depth, max_of(s.sizes, s.n_sizes), &rep->cq_mod,
			 &rep->post_list);
	rep->post_list = ibup_bench_test_is_latency(o->test) ? 1 : o->post_list;
	rep->inline_size = s.max_inline;
	rep->depth = s.sq_depth;
	rep->qps = s.nqp;
	r = client_loop(&s, rep, fn, userdata);
	goto out;
out_err:
	send_error(&s);
out:
	destroy_side(&s);
out_noverbs:
	return r;
}

/* The server side on connected socket @fd. @rep->local is filled. */
static int server_run(struct ibup_ctx *ctx, const struct ibup_status *st,
		      const struct ibup_bench_where *w, unsigned timeout_ms, bool local,
		      int fd, struct ibup_bench_report *rep)
{
	struct side s = { .ictx = ctx,
			  .fd = fd,
			  .info = &rep->local,
			  .err = rep->error,
			  .err_size = sizeof(rep->error) };
	struct ibup_bench_opts *o = &s.server_opts;
	struct wire_params p;
	bool sent_side = false;
	int r;

	ibup_bench_opts_init(o, IBUP_BENCH_WRITE_BW);
	o->timeout_ms = timeout_ms;
	s.o = o;
	r = xfer(fd, &p, sizeof(p), false, (int)timeout_ms);
	if (r == 0 && memcmp(p.magic, WIRE_MAGIC, sizeof(p.magic)) != 0)
		return fail(&s, -EPROTO, "the client is not ibup bench");
	if (r == 0)
		r = xfer(fd, &s.peer, sizeof(s.peer), false, (int)timeout_ms);
	if (r < 0)
		return fail(&s, r, "reading the client's request: %s",
			    r == -ECONNRESET  ? "the client closed the connection"
			    : r == -ETIMEDOUT ? "it sent nothing for the timeout"
					      : strerror(-r));
	params_order(&p, false);
	side_order(&s.peer, false);
	if (p.version != WIRE_VERSION)
		return fail(&s, -EPROTO,
			    "the client speaks version %u of the exchange, not %u",
			    p.version, WIRE_VERSION);
	o->test = (enum ibup_bench_test)p.test;
	o->qps = p.qps;
	o->depth = p.depth;
	o->cq_mod = p.cq_mod;
	o->post_list = p.post_list;
	o->verify = p.verify;
	o->inline_size = p.inline_size;
	o->iterations = p.iterations;
	o->duration_s = (double)p.duration_ns / 1e9;
	rep->test = o->test;
	rep->qps = o->qps;
	rep->depth = o->depth;
	if (p.n_sizes < 1 || p.n_sizes > MAX_SIZES) {
		r = fail(&s, -EPROTO, "the client asked for an impossible test");
		goto out_err;
	}
	s.n_sizes = p.n_sizes;
	memcpy(s.sizes, p.sizes, sizeof(s.sizes));
	o->size = s.sizes[0];
	if (check_opts(o, rep->error, sizeof(rep->error)) < 0) {
		r = fail(&s, -EPROTO, "the client asked for an impossible test");
		goto out_err;
	}
	for (unsigned i = 0; i < s.n_sizes; i++)
		if (!size_ok(o->test, s.sizes[i])) {
			r = fail(&s, -EPROTO, "the client asked for an impossible size");
			goto out_err;
		}
	r = ibup_verbs_load(&s.v, rep->error, sizeof(rep->error));
	if (r < 0)
		goto out_err;
	r = open_side(&s, st, w, p.prefer_link_local, p.use_grh, local ? 1 : -1);
	if (r < 0)
		goto out_err;
	r = create_resources(&s, max_of(s.sizes, s.n_sizes));
	if (r < 0)
		goto out_err;
	fill_me(&s);
	r = connect_qps(&s);
	if (r < 0)
		goto out_err;
	peer_info(&s.peer, &rep->remote);
	side_order(&s.me, true);
	r = xfer(fd, &s.me, sizeof(s.me), true, (int)timeout_ms);
	side_order(&s.me, false);
	if (r < 0) {
		r = fail(&s, r, "sending the connection data: %s", strerror(-r));
		goto out;
	}
	sent_side = true;
	rep->inline_size = s.max_inline;
	r = server_loop(&s);
	if (r < 0)
		goto out_err;
	goto out;
out_err : {
	/* Before the exchange, the error goes in the side record the client waits for. */
	struct wire_side e = { 0 };

	if (!sent_side) {
		snprintf(e.error, sizeof(e.error), "%s",
			 s.err[0] ? s.err : "setup failed");
		(void)xfer(fd, &e, sizeof(e), true, 1000);
	} else {
		send_error(&s);
	}
}
out:
	if (s.v)
		destroy_side(&s);
	return r;
}

/* Local mode: the server runs on a thread, over a socketpair. */
struct local_server {
	struct ibup_ctx *ctx;
	const struct ibup_status *st;
	const struct ibup_bench_where *w;
	unsigned timeout_ms;
	int fd, rc;
	struct ibup_bench_report rep;
};

static void *local_server_main(void *arg)
{
	struct local_server *ls = arg;

	ls->rc = server_run(ls->ctx, ls->st, ls->w, ls->timeout_ms, true, ls->fd,
			    &ls->rep);
	close(ls->fd);
	return NULL;
}

/* Every mode starts here: the report, the options checked, the devices read. */
static int begin(struct ibup_ctx *ctx, const struct ibup_bench_opts *o, const char *mode,
		 struct ibup_bench_report *report, struct ibup_status **st)
{
	int r;

	report_init(report, o, mode);
	r = check_opts(o, report->error, sizeof(report->error));
	if (r < 0)
		return r;
	r = ibup_status_read(ctx, 0, st);
	if (r < 0)
		snprintf(report->error, sizeof(report->error),
			 "cannot read the RDMA devices: %s", strerror(-r));
	return r;
}

int ibup_bench_local(struct ibup_ctx *ctx, const struct ibup_bench_opts *o,
		     const struct ibup_bench_where *client,
		     const struct ibup_bench_where *server, ibup_bench_result_fn *fn,
		     void *userdata, struct ibup_bench_report *report)
{
	struct ibup_status *st = NULL;
	struct local_server ls = { .ctx = ctx, .w = server, .timeout_ms = o->timeout_ms };
	pthread_t th;
	int sv[2], r;
	bool loopback;
	struct ibup_bench_where cw = *client, sw = *server;

	r = begin(ctx, o, "loopback", report, &st);
	if (r < 0)
		return r;
	/* The client's device, or the default; the server's, or the client's (loopback). */
	if (!cw.device) {
		const struct ibup_device *d = pick_device(st, &cw);

		if (!d) {
			ibup_status_free(st);
			snprintf(report->error, sizeof(report->error),
				 "no InfiniBand or RoCE device with an active port");
			return -ENODEV;
		}
		cw.device = d->name;
	}
	if (!sw.device) {
		sw.device = cw.device;
		if (!sw.port)
			sw.port = cw.port;
	}
	loopback = strcmp(cw.device, sw.device) == 0;
	if (!loopback)
		snprintf(report->mode, sizeof(report->mode), "local");
	ls.st = st;
	ls.w = &sw;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(report->error, sizeof(report->error), "socketpair: %s",
			 strerror(errno));
		ibup_status_free(st);
		return r;
	}
	ls.fd = sv[1];
	r = pthread_create(&th, NULL, local_server_main, &ls);
	if (r) {
		close(sv[0]);
		close(sv[1]);
		ibup_status_free(st);
		snprintf(report->error, sizeof(report->error),
			 "cannot start a thread: %s", strerror(r));
		return -r;
	}
	r = client_run(ctx, st, o, &cw, !loopback, true, sv[0], fn, userdata, report);
	close(sv[0]); /* a server still waiting sees the hang-up */
	pthread_join(th, NULL);
	if (r == 0 && ls.rc < 0) {
		r = ls.rc;
		snprintf(report->error, sizeof(report->error), "%s", ls.rep.error);
	}
	ibup_status_free(st);
	return r;
}

/* TCP: keep-alive probes find a peer host that vanished without closing. */
static void tune_socket(int fd)
{
	int one = 1, idle = 2, intvl = 1, cnt = 5;
	unsigned user_timeout = 10000;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
			 sizeof(user_timeout));
}

/* connect() with a deadline, to every address the name resolves to. */
static int tcp_connect(const char *host, unsigned port, unsigned timeout_ms, char *err,
		       size_t err_size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res, *ai;
	char service[16];
	int r, fd = -1, last = ECONNREFUSED;

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &res);
	if (r) {
		snprintf(err, err_size, "cannot resolve '%s': %s", host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t len = sizeof(last);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			last = errno;
			goto next;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		r = poll(&pfd, 1, (int)timeout_ms);
		if (r == 0) {
			last = ETIMEDOUT;
			goto next;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &last, &len) == 0 && last == 0)
			break;
	next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, err_size,
			 "cannot reach an ibup bench server at %s port %u: %s", host,
			 port, strerror(last));
		return -last;
	}
	tune_socket(fd);
	return fd;
}

int ibup_bench_client(struct ibup_ctx *ctx, const struct ibup_bench_opts *o,
		      const struct ibup_bench_where *where, const char *host,
		      unsigned port, ibup_bench_result_fn *fn, void *userdata,
		      struct ibup_bench_report *report)
{
	struct ibup_status *st = NULL;
	int fd, r;

	r = begin(ctx, o, "client", report, &st);
	if (r < 0)
		return r;
	fd = tcp_connect(host, port ? port : IBUP_BENCH_DEFAULT_PORT, o->timeout_ms,
			 report->error, sizeof(report->error));
	if (fd < 0) {
		ibup_status_free(st);
		return fd;
	}
	r = client_run(ctx, st, o, where, false, false, fd, fn, userdata, report);
	close(fd);
	ibup_status_free(st);
	return r;
}

int ibup_bench_server(struct ibup_ctx *ctx, const struct ibup_bench_where *where,
		      const char *bind_addr, unsigned port, unsigned timeout_ms,
		      struct ibup_bench_report *report)
{
	/* Every address: one IPv6 socket that takes IPv4 too (dual stack), where there is IPv6. */
	struct addrinfo hints = { .ai_family = bind_addr ? AF_UNSPEC : AF_INET6,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	struct ibup_status *st = NULL;
	struct ibup_bench_opts o;
	char service[16];
	int lfd = -1, fd, r, one = 1, zero = 0;

	ibup_bench_opts_init(&o, IBUP_BENCH_WRITE_BW);
	o.timeout_ms = timeout_ms;
	r = begin(ctx, &o, "server", report, &st);
	if (r < 0)
		return r;
	snprintf(service, sizeof(service), "%u", port ? port : IBUP_BENCH_DEFAULT_PORT);
	r = getaddrinfo(bind_addr, service, &hints, &res);
	if (r && !bind_addr) {
		hints.ai_family = AF_UNSPEC; /* no IPv6 on this host */
		r = getaddrinfo(bind_addr, service, &hints, &res);
	}
	if (r) {
		snprintf(report->error, sizeof(report->error), "cannot resolve '%s': %s",
			 bind_addr ? bind_addr : "*", gai_strerror(r));
		ibup_status_free(st);
		return -EINVAL;
	}
	for (struct addrinfo *ai = res; ai && lfd < 0; ai = ai->ai_next) {
		lfd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			     ai->ai_protocol);
		if (lfd < 0)
			continue;
		(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && !bind_addr)
			(void)setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
					 sizeof(zero));
		if (bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lfd, 1) < 0) {
			r = -errno;
			close(lfd);
			lfd = -1;
		}
	}
	freeaddrinfo(res);
	if (lfd < 0) {
		snprintf(report->error, sizeof(report->error),
			 "cannot listen on port %s: %s", service,
			 strerror(r < 0 ? -r : EADDRNOTAVAIL));
		ibup_status_free(st);
		return r < 0 ? r : -EADDRNOTAVAIL;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	r = fd < 0 ? -errno : 0;
	close(lfd);
	if (fd < 0) {
		snprintf(report->error, sizeof(report->error), "accept: %s",
			 strerror(-r));
		ibup_status_free(st);
		return r;
	}
	tune_socket(fd);
	r = server_run(ctx, st, where, timeout_ms, false, fd, report);
	close(fd);
	ibup_status_free(st);
	return r;
}

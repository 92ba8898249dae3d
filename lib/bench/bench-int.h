// SPDX-License-Identifier: MIT
/*
 * The verbs benchmark, private to lib/bench: two RC queue-pair sets ("sides") connected
 * to each other, a client that posts and a server that receives or echoes. Whatever the
 * mode, the two sides talk over one stream socket: a TCP connection between hosts, a
 * socketpair between two threads of this process. So loopback, two local devices and
 * two hosts run exactly the same code.
 *
 * The exchange (all integers big-endian, fixed-size records):
 *   client -> server  PARAMS + client endpoint
 *   server -> client  server endpoint (or ERROR)        both move their QPs to RTS
 *   per size: BEGIN(size) -> READY -> the run -> END(counts) -> RESULT(verified)
 *   client -> server  BYE
 * Any step that fails sends ERROR with the reason, so the other side can say why.
 *
 * The files, each using only those before it:
 *   opts.c   the tests' names, default options and their limits
 *   wire.c   the records, the socket, a side's error, the watchdog of spinning loops
 *   side.c   device, port, GID, P_Key, placement, verbs resources, the buffers
 *   bw.c     the bandwidth tests        lat.c  the latency tests
 *   run.c    the entry points: each side's part, the figures of each size
 * stats.c (stats.h) does the arithmetic and verbs.c (verbs.h) loads libibverbs.
 * What they share starts with bench_ (the public API with ibup_bench_).
 */
#ifndef IBUP_BENCH_INT_H
#define IBUP_BENCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibup/bench.h"
#include "macro.h"
#include "stats.h"
#include "verbs.h"

#define MAX_QPS 64u
#define MAX_SIZES 24u
#define WIRE_MAGIC "IBUPBNCH"
#define WIRE_VERSION 1u
#define LAT_SQ_DEPTH 16u
#define LAT_RQ_DEPTH 16u
#define SEND_RQ_DEPTH 512u

/* The records of the exchange. */
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
	struct ibv_comp_channel *chan; /* set before bench_create_resources(): events */
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

/* One size on one side: what completed when, and the samples or the trace. */
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

/* opts.c */
void bench_sizes_of(const struct ibup_bench_opts *o, uint64_t *sizes, unsigned *n);
bool bench_size_ok(enum ibup_bench_test t, uint64_t size);
int bench_check_opts(const struct ibup_bench_opts *o, char *err, size_t err_size);

/* wire.c */
/* Keep the side's first error for the report (and the peer); returns @r. */
int bench_fail(struct side *s, int r, const char *fmt, ...) _printf_(3, 4);
uint64_t bench_now_ns(void);
void bench_params_order(struct wire_params *w, bool out);
void bench_side_order(struct wire_side *w, bool out);
void bench_params_from_opts(struct wire_params *p, const struct ibup_bench_opts *o,
			    const uint64_t *sizes, unsigned n, bool grh, bool prefer_ll);
int bench_xfer(int fd, void *buf, size_t len, bool out, int timeout_ms);
int bench_send_msg(struct side *s, struct wire_msg *m);
void bench_send_error(struct side *s);
int bench_recv_msg(struct side *s, struct wire_msg *m, enum msg_type want,
		   int timeout_ms);
bool bench_watch_due(struct watch *w);
bool bench_watch_expired(const struct side *s, struct watch *w);
int bench_watch_check(struct side *s, struct watch *w, const char *what);
int bench_poll_end(struct side *s, struct watch *w, unsigned every, struct wire_msg *end);

/* side.c */
const struct ibup_device *bench_pick_device(const struct ibup_status *st,
					    const struct ibup_bench_where *w);
int bench_open_side(struct side *s, const struct ibup_status *st,
		    const struct ibup_bench_where *w, bool prefer_link_local,
		    bool peer_grh, int cpu_slot);
int bench_create_resources(struct side *s, size_t max_size);
void bench_fill_me(struct side *s);
void bench_peer_info(const struct wire_side *p, struct ibup_bench_side *r);
int bench_connect_qps(struct side *s);
void bench_destroy_side(struct side *s);
int bench_wc_error(struct side *s, const struct ibv_wc *wc);
int bench_grow(void **p, size_t *cap, size_t n, size_t elem);
unsigned bench_slots_for(struct side *s, size_t size, unsigned depth);
size_t bench_max_of(const uint64_t *sizes, unsigned n);
uint8_t *bench_rx_buf(struct side *s, unsigned q, unsigned slot);
int bench_post_recv_slot(struct side *s, unsigned q, unsigned slot);
int bench_rx_ring(struct side *s, unsigned depth);

/* Buffers: per QP, "in" (the peer's target or source) then "out" (ours). */
static inline uint8_t *in_area(struct side *s, unsigned q)
{
	return s->buf + (size_t)q * 2 * s->region;
}

static inline uint8_t *out_area(struct side *s, unsigned q)
{
	return in_area(s, q) + s->region;
}

static inline uint64_t peer_in_addr(struct side *s, unsigned q)
{
	return s->peer.vaddr + (uint64_t)q * 2 * s->peer.region;
}

static inline uint64_t seq_of(unsigned q, uint64_t k)
{
	return (uint64_t)q << 48 | k;
}

/* bw.c */
void bench_bw_knobs(const struct ibup_bench_opts *o, unsigned depth, size_t size,
		    unsigned *cq_mod, unsigned *post_list);
int bench_client_bw(struct side *s, struct run *rn);
int bench_server_send_bw(struct side *s, struct run *rn, struct wire_msg *end);
int bench_server_passive(struct side *s, struct run *rn, struct wire_msg *end);

/* lat.c */
int bench_client_lat(struct side *s, struct run *rn);
int bench_server_lat(struct side *s, struct run *rn, struct wire_msg *end);

#endif

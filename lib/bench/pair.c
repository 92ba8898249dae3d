// SPDX-License-Identifier: MIT
/*
 * The sweep's endpoint (ibup_bench_ep_*, see include/ibup/bench.h): one side opened
 * once on its device, its two RC queue pairs (one per direction) re-connected to a new
 * peer each round. The connection data travels as a blob (the exchange's struct
 * wire_side, big-endian) by whatever means the caller has: the sweep program uses MPI.
 * Both peers run the same test at the same time; the bandwidth test writes both ways at
 * once. With events, the thread sleeps on the completion channel instead of polling the
 * CQ, which matters when many ranks share few cores.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-int.h"
#include "banned.h"

#define EP_DEFAULT_SIZE (64u << 10)
#define EP_DEFAULT_LAT_SIZE 8u
#define EP_DEFAULT_DEPTH 64u
#define EP_DEFAULT_TIMEOUT_MS 10000u
#define EP_RX_DEPTH 64u
#define EP_LAT_SIGNAL 8u /* latency: one send in this many is signalled */
#define QP_OUT 0u
#define QP_IN 1u

struct ibup_bench_ep {
	struct side s;
	struct ibup_bench_opts bo; /* what bench_create_resources() reads */
	struct ibup_bench_ep_opts o;
	struct ibup_bench_side info;
	char err[256];
	bool connected;
	unsigned unsignalled; /* latency sends since the last signalled one */
	uint32_t *samples;
	size_t cap_samples;
};

size_t ibup_bench_ep_blob_size(void)
{
	return sizeof(struct wire_side);
}

const struct ibup_bench_side *ibup_bench_ep_side(const struct ibup_bench_ep *ep)
{
	return &ep->info;
}

const char *ibup_bench_ep_error(const struct ibup_bench_ep *ep)
{
	return ep->err;
}

int ibup_bench_ep_open(struct ibup_ctx *ctx, const struct ibup_status *st,
		       const struct ibup_bench_where *w,
		       const struct ibup_bench_ep_opts *o, struct ibup_bench_ep **ret,
		       char *err, size_t err_size)
{
	struct ibup_bench_ep *ep = calloc(1, sizeof(*ep));
	struct side *s;
	int r;

	*ret = NULL;
	if (!ep) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	ep->o = *o;
	if (!ep->o.size)
		ep->o.size = EP_DEFAULT_SIZE;
	if (!ep->o.lat_size)
		ep->o.lat_size = EP_DEFAULT_LAT_SIZE;
	if (!ep->o.depth)
		ep->o.depth = EP_DEFAULT_DEPTH;
	if (!ep->o.timeout_ms)
		ep->o.timeout_ms = EP_DEFAULT_TIMEOUT_MS;
	if (ep->o.qp_timeout > 31) {
		snprintf(err, err_size, "ACK timeout exponent %u out of range (1-31)",
			 ep->o.qp_timeout);
		free(ep);
		return -EINVAL;
	}
	if (ep->o.size > IBUP_BENCH_MAX_SIZE || ep->o.lat_size > ep->o.size ||
	    ep->o.lat_size < IBUP_BENCH_MIN_SIZE) {
		snprintf(err, err_size, "message sizes out of range (%zu, %zu)",
			 ep->o.size, ep->o.lat_size);
		free(ep);
		return -EINVAL;
	}
	/*
	 * The side as a send_bw server creates it: depth writes outstanding and a receive
	 * queue (the latency test's pings). Two queue pairs, one per direction: this
	 * side's QP_OUT carries its writes and pings to the peer's QP_IN, and the peer's
	 * to this side's QP_IN, so that no queue pair is requester and responder at once
	 * (as perftest's, whose bidirectional tests also use a QP per direction).
	 */
	ibup_bench_opts_init(&ep->bo, IBUP_BENCH_SEND_BW);
	ep->bo.qps = 2;
	ep->bo.depth = ep->o.depth;
	ep->bo.timeout_ms = ep->o.timeout_ms;
	ep->bo.inline_size = -1;
	s = &ep->s;
	s->ictx = ctx;
	s->o = &ep->bo;
	s->fd = -1;
	s->info = &ep->info;
	s->err = ep->err;
	s->err_size = sizeof(ep->err);
	ep->bo.qp_timeout = ep->o.qp_timeout;
	s->sizes[0] = ep->o.lat_size;
	s->n_sizes = 1;
	r = ibup_verbs_load(&s->v, ep->err, sizeof(ep->err));
	if (r < 0)
		goto fail_noverbs;
	r = bench_open_side(s, st, w, ep->o.prefer_link_local, false, -1);
	if (r < 0)
		goto fail;
	if (ep->o.events) {
		s->chan = s->v->create_comp_channel(s->ctx);
		if (!s->chan) {
			r = bench_fail(s, -errno ? -errno : -ENOMEM,
				       "cannot create a completion channel on %s",
				       s->me.device);
			goto fail;
		}
	}
	r = bench_create_resources(s, ep->o.size);
	if (r < 0)
		goto fail;
	bench_fill_me(s);
	*ret = ep;
	return 0;
fail:
	bench_destroy_side(s);
fail_noverbs:
	snprintf(err, err_size, "%s", ep->err);
	free(ep);
	return r;
}

int ibup_bench_ep_blob(struct ibup_bench_ep *ep, void *buf, size_t len)
{
	struct wire_side w = ep->s.me;

	if (len < sizeof(w))
		return -ENOBUFS;
	bench_side_order(&w, true);
	memcpy(buf, &w, sizeof(w));
	return 0;
}

/* Empty both CQs: what a reset queue pair left behind. */
static void drain(struct side *s)
{
	struct ibv_wc wc[16];

	while (ibv_poll_cq(s->scq, 16, wc) > 0)
		;
	while (ibv_poll_cq(s->rcq, 16, wc) > 0)
		;
}

/*
 * Back to INIT, its work requests dropped, ready for another peer, with a new packet
 * sequence number: a packet of the last connection still on the wire (a retransmission
 * the peer no longer waits for) cannot pass for one of the next.
 */
static int reset_qp(struct side *s)
{
	for (unsigned q = 0; q < s->nqp; q++) {
		struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };

		if (s->v->modify_qp(s->qp[q], &a, IBV_QP_STATE))
			return bench_fail(s, -EIO, "cannot reset QP %u of %s: %s", q,
					  s->me.device, strerror(errno));
		a = (struct ibv_qp_attr){
			.qp_state = IBV_QPS_INIT,
			.pkey_index = (uint16_t)s->info->pkey_index,
			.port_num = s->port,
			.qp_access_flags = IBV_ACCESS_LOCAL_WRITE |
					   IBV_ACCESS_REMOTE_WRITE |
					   IBV_ACCESS_REMOTE_READ,
		};
		if (s->v->modify_qp(s->qp[q], &a,
				    IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
					    IBV_QP_ACCESS_FLAGS))
			return bench_fail(s, -EIO, "cannot move QP %u of %s to INIT: %s",
					  q, s->me.device, strerror(errno));
		s->psn[q] =
			(s->psn[q] + 0x10000u + (uint32_t)(bench_now_ns() & 0xffffu)) &
			0xffffff;
		s->me.psn[q] = s->psn[q];
	}
	drain(s);
	s->rx_slots = 0;
	s->lat_posted = s->lat_reaped = 0;
	return 0;
}

int ibup_bench_ep_reset(struct ibup_bench_ep *ep)
{
	ep->err[0] = '\0';
	if (!ep->connected)
		return 0;
	ep->connected = false;
	return reset_qp(&ep->s);
}

int ibup_bench_ep_connect(struct ibup_bench_ep *ep, const void *blob, size_t len)
{
	struct side *s = &ep->s;
	int r;

	ep->err[0] = '\0';
	if (len != sizeof(s->peer))
		return bench_fail(s, -EINVAL, "connection data of %zu bytes, not %zu",
				  len, sizeof(s->peer));
	if (ep->connected)
		return bench_fail(s, -EISCONN,
				  "%s is connected: ibup_bench_ep_reset() first, then "
				  "exchange the new blob",
				  s->me.device);
	memcpy(&s->peer, blob, sizeof(s->peer));
	bench_side_order(&s->peer, false);
	s->peer.error[sizeof(s->peer.error) - 1] = '\0';
	if (s->peer.error[0])
		return bench_fail(s, -EPROTO, "peer: %s", s->peer.error);
	if (s->peer.n_qps != 2)
		return bench_fail(s, -EPROTO, "the peer has %u queue pairs, not 2",
				  s->peer.n_qps);
	/* Crossed: this side's QP_OUT to the peer's QP_IN, and the other way. */
	{
		uint32_t qpn = s->peer.qpn[QP_OUT], psn = s->peer.psn[QP_OUT];

		s->peer.qpn[QP_OUT] = s->peer.qpn[QP_IN];
		s->peer.psn[QP_OUT] = s->peer.psn[QP_IN];
		s->peer.qpn[QP_IN] = qpn;
		s->peer.psn[QP_IN] = psn;
	}
	r = bench_connect_qps(s);
	if (r < 0)
		return r;
	r = bench_rx_ring(s, EP_RX_DEPTH);
	if (r < 0)
		return r;
	ep->connected = true;
	return 0;
}

/*
 * Up to @max completions of @cq. Without events, polls; with them, arms the CQ and
 * sleeps on the channel when the CQ is empty. @wait_ms 0: do not wait. Returns the
 * number of completions, 0 when @wait_ms passed, or an error.
 */
static int reap(struct ibup_bench_ep *ep, struct ibv_cq *cq, struct ibv_wc *wc, int max,
		unsigned wait_ms)
{
	struct side *s = &ep->s;
	uint64_t until = bench_now_ns() + (uint64_t)wait_ms * 1000000u;

	while (true) {
		int n = ibv_poll_cq(cq, max, wc);

		if (n < 0)
			return bench_fail(s, -EIO, "polling the CQ of %s failed",
					  s->me.device);
		if (n > 0 || !wait_ms)
			return n;
		if (ep->o.events) {
			struct pollfd pfd = { .fd = s->chan->fd, .events = POLLIN };
			struct ibv_cq *ev_cq;
			void *ev_ctx;
			uint64_t now;
			int pr;

			if (ibv_req_notify_cq(cq, 0))
				return bench_fail(s, -EIO, "cannot arm the CQ of %s",
						  s->me.device);
			/* What completed before the CQ was armed raises no event. */
			n = ibv_poll_cq(cq, max, wc);
			if (n != 0)
				return n < 0 ? bench_fail(s, -EIO,
							  "polling the CQ of %s failed",
							  s->me.device)
					     : n;
			now = bench_now_ns();
			if (now >= until)
				return 0;
			pr = poll(&pfd, 1, (int)((until - now) / 1000000u) + 1);
			if (pr < 0 && errno != EINTR)
				return bench_fail(s, -errno, "poll: %s", strerror(errno));
			if (pr > 0 && s->v->get_cq_event(s->chan, &ev_cq, &ev_ctx) == 0)
				s->v->ack_cq_events(ev_cq, 1);
		} else if (bench_now_ns() >= until) {
			return 0;
		}
	}
}

static int wc_check(struct ibup_bench_ep *ep, const struct ibv_wc *wc, int n)
{
	for (int i = 0; i < n; i++)
		if (wc[i].status != IBV_WC_SUCCESS)
			return bench_wc_error(&ep->s, &wc[i]);
	return 0;
}

int ibup_bench_ep_bw(struct ibup_bench_ep *ep, double duration_s, double *gbps)
{
	struct side *s = &ep->s;
	size_t size = ep->o.size;
	unsigned depth = s->sq_depth, nslots = bench_slots_for(s, size, depth);
	unsigned cq_mod = depth / 4 ? depth / 4 : 1;
	uint64_t posted = 0, done = 0, t_first, t_last, deadline;
	struct ibv_wc wc[16];

	*gbps = 0;
	ep->err[0] = '\0';
	if (!ep->connected)
		return bench_fail(s, -ENOTCONN, "%s is not connected", s->me.device);
	if (!(duration_s > 0) || duration_s > 3600)
		return bench_fail(s, -EINVAL, "duration %g s out of range", duration_s);
	t_first = t_last = bench_now_ns();
	deadline = t_first + (uint64_t)(duration_s * 1e9);
	while (true) {
		bool more = bench_now_ns() < deadline;
		int n;

		/* Post in chunks of cq_mod, the last of each signalled. */
		while (more && posted - done + cq_mod <= depth) {
			struct ibv_send_wr wrs[64], *bad;
			struct ibv_sge sges[64];
			unsigned b = cq_mod < 64 ? cq_mod : 64;

			for (unsigned i = 0; i < b; i++) {
				unsigned slot = (unsigned)((posted + i) % nslots);

				sges[i] = (struct ibv_sge){
					.addr = (uintptr_t)(out_area(s, 0) +
							    (size_t)slot * size),
					.length = (uint32_t)size,
					.lkey = s->mr->lkey,
				};
				wrs[i] = (struct ibv_send_wr){
					.wr_id = b,
					.sg_list = &sges[i],
					.num_sge = 1,
					.opcode = IBV_WR_RDMA_WRITE,
					.send_flags = i + 1 == b ? IBV_SEND_SIGNALED : 0,
					.next = i + 1 < b ? &wrs[i + 1] : NULL,
				};
				wrs[i].wr.rdma.remote_addr =
					peer_in_addr(s, 0) + (uint64_t)slot * size;
				wrs[i].wr.rdma.rkey = s->peer.rkey;
			}
			if (ibv_post_send(s->qp[QP_OUT], wrs, &bad))
				return bench_fail(s, -EIO, "posting to %s failed: %s",
						  s->me.device, strerror(errno));
			posted += b;
		}
		if (posted == done)
			break;
		n = reap(ep, s->scq, wc, 16, ep->o.timeout_ms);
		if (n < 0)
			return n;
		if (n == 0)
			return bench_fail(s, -ETIMEDOUT,
					  "no write completed on %s for %u ms (is the "
					  "peer there?)",
					  s->me.device, ep->o.timeout_ms);
		if (wc_check(ep, wc, n) < 0)
			return -EIO;
		for (int i = 0; i < n; i++)
			done += wc[i].wr_id;
		t_last = bench_now_ns();
	}
	if (t_last > t_first)
		*gbps = (double)done * (double)size * 8.0 / (double)(t_last - t_first);
	return 0;
}

/* Reap send completions until at most @left sends are outstanding. */
static int lat_reap(struct ibup_bench_ep *ep, uint64_t left)
{
	struct side *s = &ep->s;
	struct ibv_wc wc[4];
	int n;

	while (s->lat_posted - s->lat_reaped > left) {
		n = reap(ep, s->scq, wc, 4, ep->o.timeout_ms);
		if (n <= 0)
			return n < 0 ? n
				     : bench_fail(s, -ETIMEDOUT,
						  "no send completed on %s for %u ms",
						  s->me.device, ep->o.timeout_ms);
		if (wc_check(ep, wc, n) < 0)
			return -EIO;
		for (int i = 0; i < n; i++)
			s->lat_reaped += wc[i].wr_id;
	}
	return 0;
}

/*
 * Send one ping or pong. One in EP_LAT_SIGNAL is signalled, and the @last: each
 * completion accounts for the sends since the one before it.
 */
static int lat_send(struct ibup_bench_ep *ep, bool last)
{
	struct side *s = &ep->s;
	bool sig = last || ++ep->unsignalled == EP_LAT_SIGNAL;
	struct ibv_sge sge = { .addr = (uintptr_t)out_area(s, 0),
			       .length = (uint32_t)ep->o.lat_size,
			       .lkey = s->mr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = sig ? ep->unsignalled + (last ? 1u : 0u) : 0,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = IBV_WR_SEND,
		.send_flags = (sig ? IBV_SEND_SIGNALED : 0) |
			      (ep->o.lat_size <= s->max_inline ? IBV_SEND_INLINE : 0),
	},
			   *bad;
	struct ibv_wc wc[4];
	int n;

	if (ibv_post_send(s->qp[QP_OUT], &wr, &bad))
		return bench_fail(s, -EIO, "posting to %s failed: %s", s->me.device,
				  strerror(errno));
	s->lat_posted++;
	if (sig)
		ep->unsignalled = 0;
	if (last)
		return lat_reap(ep, 0);
	/* Never more than two signalled sends' worth outstanding. */
	if (s->lat_posted - s->lat_reaped > 2 * EP_LAT_SIGNAL)
		return lat_reap(ep, EP_LAT_SIGNAL);
	n = ibv_poll_cq(s->scq, 4, wc);
	if (n < 0)
		return bench_fail(s, -EIO, "polling the CQ of %s failed", s->me.device);
	if (wc_check(ep, wc, n) < 0)
		return -EIO;
	for (int i = 0; i < n; i++)
		s->lat_reaped += wc[i].wr_id;
	return 0;
}

/* Wait for the peer's ping or pong, and give its receive back. */
static int lat_recv(struct ibup_bench_ep *ep)
{
	struct side *s = &ep->s;
	struct ibv_wc wc;
	int n = reap(ep, s->rcq, &wc, 1, ep->o.timeout_ms);

	if (n < 0)
		return n;
	if (n == 0)
		return bench_fail(s, -ETIMEDOUT,
				  "the peer of %s sent nothing for %u ms (did it stop?)",
				  s->me.device, ep->o.timeout_ms);
	if (wc_check(ep, &wc, 1) < 0)
		return -EIO;
	return bench_post_recv_slot(s, (unsigned)(wc.wr_id >> 32),
				    (unsigned)(wc.wr_id & 0xffffffffu));
}

int ibup_bench_ep_lat(struct ibup_bench_ep *ep, bool initiator, unsigned iterations,
		      struct ibup_lat_stats *lat)
{
	struct side *s = &ep->s;
	int r;

	memset(lat, 0, sizeof(*lat));
	ep->err[0] = '\0';
	if (!ep->connected)
		return bench_fail(s, -ENOTCONN, "%s is not connected", s->me.device);
	if (!iterations)
		return bench_fail(s, -EINVAL, "no latency iterations");
	if (initiator && iterations > ep->cap_samples) {
		uint32_t *p = realloc(ep->samples, iterations * sizeof(*p));

		if (!p)
			return bench_fail(s, -ENOMEM, "out of memory");
		ep->samples = p;
		ep->cap_samples = iterations;
	}
	for (unsigned i = 0; i < iterations; i++) {
		uint64_t t0 = bench_now_ns(), dt;

		bool last = i + 1 == iterations;

		if (initiator) {
			r = lat_send(ep, last);
			if (r == 0)
				r = lat_recv(ep);
		} else {
			r = lat_recv(ep);
			if (r == 0)
				r = lat_send(ep, last);
		}
		if (r < 0)
			return r;
		if (initiator) {
			dt = bench_now_ns() - t0;
			ep->samples[i] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
		}
	}
	if (initiator)
		ibup_lat_stats_compute(ep->samples, iterations, lat);
	return 0;
}

void ibup_bench_ep_close(struct ibup_bench_ep *ep)
{
	if (!ep)
		return;
	bench_destroy_side(&ep->s);
	free(ep->samples);
	free(ep);
}

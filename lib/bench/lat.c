// SPDX-License-Identifier: MIT
/* The latency tests: a ping-pong of one message at a time. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bench-int.h"
#include "banned.h"

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
			return bench_fail(s, -EIO, "polling the completion queue failed");
		for (int i = 0; i < n; i++)
			if (wc[i].status != IBV_WC_SUCCESS)
				return bench_wc_error(s, &wc[i]);
		s->lat_reaped += (unsigned)n;
		if (s->lat_posted - s->lat_reaped < LAT_SQ_DEPTH - 1)
			break;
		if (n > 0)
			w = (struct watch){ 0 };
		else if ((r = bench_watch_check(s, &w, "send completion")) < 0)
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
		return bench_fail(s, -EIO, "posting to %s failed: %s", s->me.device,
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
	return s->is_client ? bench_watch_check(s, w, "answer")
			    : bench_poll_end(s, w, WATCH_SPINS, end);
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
			return bench_fail(s, -EIO, "polling the receive queue failed");
		if (wc.status != IBV_WC_SUCCESS)
			return bench_wc_error(s, &wc);
		if ((unsigned)wc.wr_id >= s->rx_slots)
			return bench_fail(s, -EPROTO, "completion of an unknown receive");
		p = bench_rx_buf(s, 0, (unsigned)wc.wr_id);
		/* Safe before the check: the peer sends again only after our answer. */
		if (bench_post_recv_slot(s, 0, (unsigned)wc.wr_id) < 0)
			return -EIO;
		if (s->o->verify && p[size - 1] != (uint8_t)seq)
			return bench_fail(s, -EBADMSG,
					  "message %" PRIu64 " arrived out of order",
					  seq);
	}
	if (s->o->verify && ibup_bench_check(p, size - 1, seq) >= 0)
		return bench_fail(s, -EBADMSG, "message %" PRIu64 " arrived corrupted",
				  seq);
	return 0;
}

static int lat_setup(struct side *s, size_t size)
{
	memset(in_area(s, 0), 0, s->region);
	memset(out_area(s, 0), 0, s->region);
	if (s->o->test == IBUP_BENCH_SEND_LAT)
		return bench_rx_ring(s, LAT_RQ_DEPTH - 1);
	return 0;
}

int bench_client_lat(struct side *s, struct run *rn)
{
	int r;

	r = lat_setup(s, rn->size);
	if (r < 0)
		return r;
	/*
	 * One clock read per round trip: a sample is the time from one read to the next,
	 * so it spans the post, the answer and the read itself, as perftest's does.
	 */
	rn->t_first = rn->t_last = bench_now_ns();
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
		t = bench_now_ns();
		if (bench_grow((void **)&rn->samples, &rn->cap_samples, rn->n_samples,
			       sizeof(*rn->samples)))
			return bench_fail(s, -ENOMEM, "out of memory");
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
int bench_server_lat(struct side *s, struct run *rn, struct wire_msg *end)
{
	struct wire_msg ready = { .type = MSG_READY };
	int r;

	r = lat_setup(s, rn->size);
	if (r < 0)
		return r;
	if (bench_send_msg(s, &ready) < 0)
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

// SPDX-License-Identifier: MIT
/*
 * The bandwidth tests: the client keeps every queue pair's send queue full; the server
 * receives (send_bw) or waits while the device moves the data (write_bw, read_bw).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bench-int.h"
#include "banned.h"

/*
 * Completion moderation, and how many work requests one post chains. Chains save a
 * doorbell per message, which counts while posting is the limit: up to 8 KiB (the
 * size perftest also treats as small). Above, single posts keep the device (and
 * Soft-RoCE's requester, which runs in the poster's system call) streaming: measured
 * 15-40% faster for 64 KiB sends on Soft-RoCE than chains of 16.
 */
void bench_bw_knobs(const struct ibup_bench_opts *o, unsigned depth, size_t size,
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
int bench_client_bw(struct side *s, struct run *rn)
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

	nslots = bench_slots_for(s, size, depth);
	if (o->verify && nslots < depth)
		depth = nslots; /* a slot is rewritten only after its last use completed */
	bench_bw_knobs(o, depth, size, &cq_mod, &post_list);
	/*
	 * A read larger than the path MTU comes back as several response packets. Chains
	 * of 16 such reads made Soft-RoCE's requester go back and resend its whole window
	 * of reads (its completer_retry_err counter, a full window of duplicate requests
	 * each time) in 7 of 32 runs at 4 KiB, perftest in none of 47; posted one by one,
	 * 1 of 40, but at 0.97-0.99 of perftest's rate. So a post asks for at most 16
	 * response packets: 4 KiB reads at a 1 KiB MTU go in chains of 4 (1.07x perftest,
	 * no resend), 16 KiB and larger one by one. Single-packet reads keep their chains
	 * of 16: fewer system calls, and there far fewer resends than single posts had.
	 */
	if (t == IBUP_BENCH_READ_BW && !o->post_list && s->info->mtu &&
	    size > s->info->mtu) {
		size_t packets = (size + s->info->mtu - 1) / s->info->mtu;
		unsigned most = packets >= 16 ? 1 : (unsigned)(16 / packets);

		if (post_list > most)
			post_list = most;
	}
	rn->post_list = post_list;
	for (unsigned q = 0; q < s->nqp; q++)
		target[q] = rn->iters;

	rn->t_first = bench_now_ns();
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
					return bench_fail(s, -EIO,
							  "posting to %s failed: %s",
							  s->me.device, strerror(errno));
				posted[q] += b;
			}
		}
		n = ibv_poll_cq(s->scq, 64, wc);
		if (n < 0)
			return bench_fail(s, -EIO,
					  "polling the completion queue of %s failed",
					  s->me.device);
		for (int i = 0; i < n; i++) {
			unsigned q = (unsigned)(wc[i].wr_id >> 40);
			uint64_t k = wc[i].wr_id & ((1ull << 40) - 1);

			if (wc[i].status != IBV_WC_SUCCESS)
				return bench_wc_error(s, &wc[i]);
			if (q >= s->nqp)
				return bench_fail(s, -EPROTO,
						  "completion of an unknown queue pair");
			if (o->verify && t == IBUP_BENCH_READ_BW) {
				/* Reads done since the last completion: their slots hold the server's. */
				for (uint64_t j = rn->counts[q]; j < k; j++) {
					unsigned slot = (unsigned)(j % nslots);

					if (ibup_bench_check(out_area(s, q) +
								     (size_t)slot * size,
							     size, seq_of(q, slot)) >= 0)
						return bench_fail(s, -EBADMSG,
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
			t_now = bench_now_ns();
			rn->t_last = t_now;
			w.last_progress = t_now;
			if (t_now - last_trace >= 100000 ||
			    done_total == rn->iters * s->nqp) {
				if (bench_grow((void **)&rn->trace, &rn->cap_trace,
					       rn->n_trace, sizeof(*rn->trace)))
					return bench_fail(s, -ENOMEM, "out of memory");
				rn->trace[rn->n_trace++] =
					(struct ibup_bw_point){ t_now - rn->t_first,
								done_total };
				last_trace = t_now;
			}
		} else {
			int r = bench_watch_check(s, &w, "completion");

			if (r < 0)
				return r;
			if (w.spins == 0 && rn->deadline_ns)
				t_now = bench_now_ns();
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

/* Server of send_bw: receive everything, re-post, check payloads; stop at END. */
int bench_server_send_bw(struct side *s, struct run *rn, struct wire_msg *end)
{
	size_t size = rn->size;
	struct ibv_wc wc[64];
	struct watch w = { 0 };
	bool have_end = false;

	if (bench_rx_ring(s, s->rq_depth) < 0)
		return -EIO;
	{
		struct wire_msg ready = { .type = MSG_READY };

		if (bench_send_msg(s, &ready) < 0)
			return -EIO;
	}
	while (true) {
		int n = ibv_poll_cq(s->rcq, 64, wc);

		if (n < 0)
			return bench_fail(s, -EIO,
					  "polling the receive queue of %s failed",
					  s->me.device);
		for (int i = 0; i < n; i++) {
			unsigned q = (unsigned)(wc[i].wr_id >> 32),
				 slot = (unsigned)wc[i].wr_id;
			const uint8_t *p;

			if (wc[i].status != IBV_WC_SUCCESS)
				return bench_wc_error(s, &wc[i]);
			if (q >= s->nqp || slot >= s->rx_slots)
				return bench_fail(s, -EPROTO,
						  "completion of an unknown receive");
			p = bench_rx_buf(s, q, slot);
			if (s->o->verify &&
			    (wc[i].byte_len != size ||
			     ibup_bench_check(p, size, seq_of(q, rn->counts[q])) >= 0))
				return bench_fail(s, -EBADMSG,
						  "message %" PRIu64
						  " on QP %u arrived corrupted",
						  rn->counts[q], q);
			rn->counts[q]++;
			if (bench_post_recv_slot(s, q, slot) < 0)
				return -EIO;
		}
		if (n > 0) {
			w = (struct watch){ 0 };
		} else if (!have_end) {
			/* Quiet: is the END there? (No watchdog: the client may take its time.) */
			int r = bench_poll_end(s, &w, 1024, end);

			if (r < 0)
				return r;
			if (r == 1) {
				have_end = true;
				w = (struct watch){ 0 };
			}
		} else if (bench_watch_due(&w) && bench_watch_expired(s, &w)) {
			/* Everything the client sent was acknowledged: it must arrive. */
			return bench_fail(s, -ETIMEDOUT,
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

/* Server of write_bw/read_bw: the data moves without it; check the written slots at END. */
int bench_server_passive(struct side *s, struct run *rn, struct wire_msg *end)
{
	const struct ibup_bench_opts *o = s->o;
	struct wire_msg ready = { .type = MSG_READY };
	unsigned nslots = bench_slots_for(s, rn->size, s->sq_depth);
	int timeout =
		o->duration_s > 0 ? (int)(o->duration_s * 1000) + (int)o->timeout_ms : -1;

	if (o->test == IBUP_BENCH_READ_BW && o->verify)
		for (unsigned q = 0; q < s->nqp; q++)
			for (unsigned j = 0; j < nslots; j++)
				ibup_bench_fill(in_area(s, q) + (size_t)j * rn->size,
						rn->size, seq_of(q, j));
	if (bench_send_msg(s, &ready) < 0)
		return -EIO;
	if (bench_recv_msg(s, end, MSG_END, timeout) < 0)
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
				return bench_fail(s, -EBADMSG,
						  "write %" PRIu64
						  " on QP %u arrived corrupted",
						  k, q);
		}
	}
	rn->verified = true;
	return 0;
}

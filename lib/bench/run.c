// SPDX-License-Identifier: MIT
/*
 * The benchmark's entry points: loopback or local (the server on a thread, over a
 * socketpair), client and server (over TCP); each side's part once connected, and the
 * figures of each size.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-int.h"
#include "banned.h"

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

		if (bench_send_msg(s, &m) < 0 ||
		    bench_recv_msg(s, &m, MSG_READY, (int)o->timeout_ms) < 0)
			return -EPROTO;
		if (o->duration_s > 0)
			rn.deadline_ns = bench_now_ns() + (uint64_t)(o->duration_s * 1e9);
		r = ibup_bench_test_is_latency(o->test) ? bench_client_lat(s, &rn)
							: bench_client_bw(s, &rn);
		if (r < 0) {
			run_release(&rn);
			return r;
		}
		m = (struct wire_msg){ .type = MSG_END, .size = rn.size };
		memcpy(m.counts, rn.counts, sizeof(m.counts));
		if (bench_send_msg(s, &m) < 0 ||
		    bench_recv_msg(s, &m, MSG_RESULT, (int)o->timeout_ms + 60000) < 0) {
			run_release(&rn);
			return -EPROTO;
		}
		compute(s, &rn, &res);
		res.verified = o->verify &&
			       (rn.verified || o->test == IBUP_BENCH_READ_BW) &&
			       (o->test == IBUP_BENCH_READ_BW || m.verified);
		run_release(&rn);
		if (add_result(rep, &res) < 0)
			return bench_fail(s, -ENOMEM, "out of memory");
		if (fn && fn(userdata, rep, &rep->results[rep->n_results - 1]))
			break;
	}
	{
		struct wire_msg bye = { .type = MSG_BYE };

		(void)bench_send_msg(s, &bye);
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

		if (bench_recv_msg(s, &m, 0, -1) < 0)
			return -EPROTO;
		if (m.type == MSG_BYE)
			return 0;
		if (m.type != MSG_BEGIN || m.size == 0 || m.size > s->region)
			return bench_fail(s, -EPROTO,
					  "unexpected message %u from the client",
					  m.type);
		rn.size = m.size;
		if (ibup_bench_test_is_latency(s->o->test))
			r = bench_server_lat(s, &rn, &end);
		else if (s->o->test == IBUP_BENCH_SEND_BW)
			r = bench_server_send_bw(s, &rn, &end);
		else
			r = bench_server_passive(s, &rn, &end);
		run_release(&rn);
		if (r < 0)
			return r;
		m = (struct wire_msg){ .type = MSG_RESULT, .verified = rn.verified };
		if (bench_send_msg(s, &m) < 0)
			return -EIO;
	}
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
	uint64_t prev = bench_now_ns();

	for (unsigned i = 0; i < IBUP_ARRAY_SIZE(d); i++) {
		uint64_t t = bench_now_ns();

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
	bench_sizes_of(o, s.sizes, &s.n_sizes);
	r = bench_open_side(&s, st, w, prefer_ll, false, local ? 0 : -1);
	if (r < 0)
		goto out;
	r = bench_create_resources(&s, bench_max_of(s.sizes, s.n_sizes));
	if (r < 0)
		goto out;
	bench_fill_me(&s);
	bench_params_from_opts(&p, o, s.sizes, s.n_sizes, s.use_grh, prefer_ll);
	bench_params_order(&p, true);
	bench_side_order(&s.me, true);
	r = bench_xfer(fd, &p, sizeof(p), true, (int)o->timeout_ms);
	if (r == 0)
		r = bench_xfer(fd, &s.me, sizeof(s.me), true, (int)o->timeout_ms);
	bench_side_order(&s.me, false);
	if (r < 0) {
		r = bench_fail(&s, r, "sending the connection data: %s", strerror(-r));
		goto out;
	}
	{
		/* The server answers with its side, or with an ERROR record of the same size. */
		r = bench_xfer(fd, &s.peer, sizeof(s.peer), false,
			       (int)o->timeout_ms * 3);
		if (r == 0) {
			bench_side_order(&s.peer, false);
			if (s.peer.error[0]) {
				r = bench_fail(&s, -EPROTO, "peer: %.*s",
					       (int)sizeof(s.peer.error) - 1,
					       s.peer.error);
				goto out;
			}
		} else {
			r = bench_fail(
				&s, r, "waiting for the server's connection data: %s",
				r == -ECONNRESET  ? "the server closed the connection"
				: r == -ETIMEDOUT ? "no answer"
						  : strerror(-r));
			goto out;
		}
	}
	bench_peer_info(&s.peer, &rep->remote);
	r = bench_connect_qps(&s);
	if (r < 0)
		goto out_err;
	if (ibup_bench_test_is_latency(o->test))
		rep->cq_mod = rep->post_list = 1;
	else
		bench_bw_knobs(o, s.sq_depth, bench_max_of(s.sizes, s.n_sizes),
			       &rep->cq_mod, &rep->post_list);
	rep->post_list = ibup_bench_test_is_latency(o->test) ? 1 : o->post_list;
	rep->inline_size = s.max_inline;
	rep->depth = s.sq_depth;
	rep->qps = s.nqp;
	r = client_loop(&s, rep, fn, userdata);
	goto out;
out_err:
	bench_send_error(&s);
out:
	bench_destroy_side(&s);
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
	r = bench_xfer(fd, &p, sizeof(p), false, (int)timeout_ms);
	if (r == 0 && memcmp(p.magic, WIRE_MAGIC, sizeof(p.magic)) != 0)
		return bench_fail(&s, -EPROTO, "the client is not ibup bench");
	if (r == 0)
		r = bench_xfer(fd, &s.peer, sizeof(s.peer), false, (int)timeout_ms);
	if (r < 0)
		return bench_fail(&s, r, "reading the client's request: %s",
				  r == -ECONNRESET  ? "the client closed the connection"
				  : r == -ETIMEDOUT ? "it sent nothing for the timeout"
						    : strerror(-r));
	bench_params_order(&p, false);
	bench_side_order(&s.peer, false);
	if (p.version != WIRE_VERSION)
		return bench_fail(&s, -EPROTO,
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
		r = bench_fail(&s, -EPROTO, "the client asked for an impossible test");
		goto out_err;
	}
	s.n_sizes = p.n_sizes;
	memcpy(s.sizes, p.sizes, sizeof(s.sizes));
	o->size = s.sizes[0];
	if (bench_check_opts(o, rep->error, sizeof(rep->error)) < 0) {
		r = bench_fail(&s, -EPROTO, "the client asked for an impossible test");
		goto out_err;
	}
	for (unsigned i = 0; i < s.n_sizes; i++)
		if (!bench_size_ok(o->test, s.sizes[i])) {
			r = bench_fail(&s, -EPROTO,
				       "the client asked for an impossible size");
			goto out_err;
		}
	r = ibup_verbs_load(&s.v, rep->error, sizeof(rep->error));
	if (r < 0)
		goto out_err;
	r = bench_open_side(&s, st, w, p.prefer_link_local, p.use_grh, local ? 1 : -1);
	if (r < 0)
		goto out_err;
	r = bench_create_resources(&s, bench_max_of(s.sizes, s.n_sizes));
	if (r < 0)
		goto out_err;
	bench_fill_me(&s);
	r = bench_connect_qps(&s);
	if (r < 0)
		goto out_err;
	bench_peer_info(&s.peer, &rep->remote);
	bench_side_order(&s.me, true);
	r = bench_xfer(fd, &s.me, sizeof(s.me), true, (int)timeout_ms);
	bench_side_order(&s.me, false);
	if (r < 0) {
		r = bench_fail(&s, r, "sending the connection data: %s", strerror(-r));
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
		(void)bench_xfer(fd, &e, sizeof(e), true, 1000);
	} else {
		bench_send_error(&s);
	}
}
out:
	if (s.v)
		bench_destroy_side(&s);
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

/* Every mode starts here: the report and the options checked. */
static int begin(const struct ibup_bench_opts *o, const char *mode,
		 struct ibup_bench_report *report)
{
	report_init(report, o, mode);
	return bench_check_opts(o, report->error, sizeof(report->error));
}

/* ... and, unless the caller has them, the devices read. */
static int begin_read(struct ibup_ctx *ctx, const struct ibup_bench_opts *o,
		      const char *mode, struct ibup_bench_report *report,
		      struct ibup_status **st)
{
	int r;

	r = begin(o, mode, report);
	if (r < 0)
		return r;
	r = ibup_status_read(ctx, 0, st);
	if (r < 0)
		snprintf(report->error, sizeof(report->error),
			 "cannot read the RDMA devices: %s", strerror(-r));
	return r;
}

/* Local mode on inventory @st, after begin(). */
static int local_run(struct ibup_ctx *ctx, const struct ibup_status *st,
		     const struct ibup_bench_opts *o,
		     const struct ibup_bench_where *client,
		     const struct ibup_bench_where *server, ibup_bench_result_fn *fn,
		     void *userdata, struct ibup_bench_report *report)
{
	struct local_server ls = { .ctx = ctx, .st = st, .timeout_ms = o->timeout_ms };
	pthread_t th;
	int sv[2], r;
	bool loopback;
	struct ibup_bench_where cw = *client, sw = *server;

	/* The client's device, or the default; the server's, or the client's (loopback). */
	if (!cw.device) {
		const struct ibup_device *d = bench_pick_device(st, &cw);

		if (!d) {
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
	ls.w = &sw;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(report->error, sizeof(report->error), "socketpair: %s",
			 strerror(errno));
		return r;
	}
	ls.fd = sv[1];
	r = pthread_create(&th, NULL, local_server_main, &ls);
	if (r) {
		close(sv[0]);
		close(sv[1]);
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
	return r;
}

int ibup_bench_local(struct ibup_ctx *ctx, const struct ibup_bench_opts *o,
		     const struct ibup_bench_where *client,
		     const struct ibup_bench_where *server, ibup_bench_result_fn *fn,
		     void *userdata, struct ibup_bench_report *report)
{
	struct ibup_status *st = NULL;
	int r;

	r = begin_read(ctx, o, "loopback", report, &st);
	if (r == 0)
		r = local_run(ctx, st, o, client, server, fn, userdata, report);
	ibup_status_free(st);
	return r;
}

int ibup_bench_local_with_status(struct ibup_ctx *ctx, const struct ibup_status *st,
				 const struct ibup_bench_opts *o,
				 const struct ibup_bench_where *client,
				 const struct ibup_bench_where *server,
				 ibup_bench_result_fn *fn, void *userdata,
				 struct ibup_bench_report *report)
{
	int r;

	r = begin(o, "loopback", report);
	if (r < 0)
		return r;
	return local_run(ctx, st, o, client, server, fn, userdata, report);
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

	r = begin_read(ctx, o, "client", report, &st);
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
	r = begin_read(ctx, &o, "server", report, &st);
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

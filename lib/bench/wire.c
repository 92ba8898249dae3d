// SPDX-License-Identifier: MIT
/*
 * The exchange between the two sides (see bench-int.h): the fixed records in network
 * byte order, moving them with a deadline, a side's first error, and the watchdog of the
 * loops that spin on a device while the peer may stop.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "bench-int.h"
#include "banned.h"

int bench_fail(struct side *s, int r, const char *fmt, ...)
{
	va_list ap;

	if (!s->err[0]) {
		va_start(ap, fmt);
		vsnprintf(s->err, s->err_size, fmt, ap);
		va_end(ap);
	}
	return r;
}

uint64_t bench_now_ns(void)
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

void bench_params_order(struct wire_params *w, bool out)
{
	swap32(&w->version, 11, out);
	swap64(&w->iterations, 2 + MAX_SIZES, out);
}

void bench_side_order(struct wire_side *w, bool out)
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
int bench_xfer(int fd, void *buf, size_t len, bool out, int timeout_ms)
{
	uint8_t *p = buf;
	uint64_t deadline =
		timeout_ms < 0 ? 0 : bench_now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = out ? POLLOUT : POLLIN };
		int wait = -1, r;
		ssize_t n;

		if (deadline) {
			uint64_t t = bench_now_ns();

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

int bench_send_msg(struct side *s, struct wire_msg *m)
{
	int r;

	msg_order(m, true);
	r = bench_xfer(s->fd, m, sizeof(*m), true, (int)s->o->timeout_ms);
	msg_order(m, false);
	if (r < 0)
		return bench_fail(s, r, "sending to the peer: %s",
				  r == -ECONNRESET ? "the peer closed the connection"
						   : strerror(-r));
	return 0;
}

void bench_send_error(struct side *s)
{
	struct wire_msg m = { .type = MSG_ERROR };

	snprintf(m.text, sizeof(m.text), "%s", s->err);
	msg_order(&m, true);
	(void)bench_xfer(s->fd, &m, sizeof(m), true, 1000);
}

/* Receive one message; an ERROR from the peer becomes ours, with its reason. */
int bench_recv_msg(struct side *s, struct wire_msg *m, enum msg_type want, int timeout_ms)
{
	int r = bench_xfer(s->fd, m, sizeof(*m), false, timeout_ms);

	if (r == -ETIMEDOUT)
		return bench_fail(s, r, "the peer sent nothing for %d ms", timeout_ms);
	if (r == -ECONNRESET)
		return bench_fail(s, -ECONNRESET,
				  "the peer closed the connection (did it stop?)");
	if (r < 0)
		return bench_fail(s, r, "receiving from the peer: %s", strerror(-r));
	msg_order(m, false);
	m->text[sizeof(m->text) - 1] = '\0';
	if (m->type == MSG_ERROR)
		return bench_fail(s, m->status ? -(int)m->status : -EPROTO, "peer: %s",
				  m->text);
	if (want && m->type != want)
		return bench_fail(s, -EPROTO,
				  "unexpected message %u from the peer (wanted %u)",
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
		return errno == EINTR
			       ? 0
			       : bench_fail(s, -errno, "poll: %s", strerror(errno));
	if (r == 0)
		return 0;
	if (pfd.revents & (POLLERR | POLLHUP) && !(pfd.revents & POLLIN))
		return bench_fail(s, -ECONNRESET,
				  "the peer closed the connection (did it stop?)");
	return 1;
}

/* Count a spin: true every WATCH_SPINS-th, when the watch looks. */
bool bench_watch_due(struct watch *w)
{
	if (++w->spins < WATCH_SPINS)
		return false;
	w->spins = 0;
	return true;
}

/* Nothing progressed for the timeout (the first look starts the watch). */
bool bench_watch_expired(const struct side *s, struct watch *w)
{
	uint64_t t = bench_now_ns();

	if (!w->last_progress)
		w->last_progress = t;
	return t - w->last_progress > (uint64_t)s->o->timeout_ms * 1000000u;
}

int bench_watch_check(struct side *s, struct watch *w, const char *what)
{
	int r;

	if (!bench_watch_due(w))
		return 0;
	if (bench_watch_expired(s, w))
		return bench_fail(s, -ETIMEDOUT, "no %s for %u ms: the peer stopped",
				  what, s->o->timeout_ms);
	r = peer_poll(s);
	if (r == 1) {
		struct wire_msg m;

		/* Only an ERROR or a hang-up can come now. */
		r = bench_recv_msg(s, &m, 0, (int)s->o->timeout_ms);
		return r < 0 ? r
			     : bench_fail(s, -EPROTO, "unexpected message from the peer");
	}
	return r;
}

/*
 * A server's quiet spin: every @every spins, has the client sent its END (1, into
 * @end)? 0: not yet; or an error (a hang-up, an ERROR, anything else).
 */
int bench_poll_end(struct side *s, struct watch *w, unsigned every, struct wire_msg *end)
{
	int r;

	if (++w->spins < every)
		return 0;
	w->spins = 0;
	r = peer_poll(s);
	if (r <= 0)
		return r;
	return bench_recv_msg(s, end, MSG_END, (int)s->o->timeout_ms) < 0 ? -EPROTO : 1;
}

void bench_params_from_opts(struct wire_params *p, const struct ibup_bench_opts *o,
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

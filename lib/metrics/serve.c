// SPDX-License-Identifier: MIT
/*
 * A small HTTP/1.x responder for GET /metrics: single-threaded and poll-based, so a
 * client that connects and sends nothing holds one slot until its deadline and no
 * more. Every bound is fixed: the request head (IBUP_METRICS_MAX_REQUEST), the time
 * a client has to send it and to take the answer (IBUP_METRICS_READ_TIMEOUT_MS each),
 * and the connections open at once (IBUP_METRICS_MAX_CONNECTIONS; past it the oldest
 * is dropped, so a flood of idle clients cannot lock the scraper out). Every answer
 * closes its connection, which is what Prometheus expects of a small exporter.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "internal.h"
#include "ibup/metrics.h"
#include "banned.h"

struct conn {
	int fd; /* -1: a free slot */
	char in[IBUP_METRICS_MAX_REQUEST];
	size_t in_len;
	char *out; /* the whole answer, once the request is judged */
	size_t out_len, out_off;
	int64_t deadline_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_tchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int ibup_metrics_route(const char *req, size_t len, bool *ret_head)
{
	const char *eol = memchr(req, '\n', len), *p = req, *method, *target;
	size_t method_len, target_len, path_len, rest;
	bool ended;

	*ret_head = false;
	if (!eol)
		return len >= IBUP_METRICS_MAX_REQUEST ? 431 : 0;
	/* The request line: METHOD SP request-target SP HTTP/1.x CRLF (RFC 9112 3). */
	method = p;
	while (p < eol && is_tchar(*p))
		p++;
	method_len = (size_t)(p - method);
	if (method_len == 0 || p >= eol || *p++ != ' ')
		return 400;
	target = p;
	while (p < eol && (unsigned char)*p > 0x20 && *p != 0x7f)
		p++;
	target_len = (size_t)(p - target);
	if (target_len == 0 || p >= eol || *p++ != ' ')
		return 400;
	if ((size_t)(eol - p) < 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' ||
	    p[7] > '9')
		return 400;
	p += 8;
	if (p < eol && *p == '\r')
		p++;
	if (p != eol)
		return 400;
	/* The head ends at an empty line; nothing in the header fields matters here. */
	rest = len - (size_t)(eol - req);
	ended = memmem(eol, rest, "\n\n", 2) || memmem(eol, rest, "\n\r\n", 3);
	if (!ended)
		return len >= IBUP_METRICS_MAX_REQUEST ? 431 : 0;
	if (target[0] != '/')
		return 400;
	/* A HEAD is answered without a body, whatever the status. */
	*ret_head = method_len == 4 && memcmp(method, "HEAD", 4) == 0;
	path_len = strcspn(target, "? ");
	if (path_len > target_len)
		path_len = target_len;
	if (path_len != strlen("/metrics") || memcmp(target, "/metrics", path_len) != 0)
		return 404;
	if (method_len == 3 && memcmp(method, "GET", 3) == 0)
		return 200;
	return *ret_head ? 200 : 405;
}

int ibup_metrics_listen(const char *addr, int *ret_fd, unsigned *ret_port)
{
	const struct addrinfo hints = { .ai_family = AF_UNSPEC,
					.ai_socktype = SOCK_STREAM,
					.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
						    AI_PASSIVE };
	char host[64], port[8];
	const char *colon = strrchr(addr, ':');
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	struct addrinfo *ai = NULL;
	_cleanup_close_ int fd = -1;
	uint32_t num;
	int one = 1;

	if (!colon) {
		snprintf(host, sizeof(host), "127.0.0.1");
		colon = addr - 1;
	} else if (addr[0] == '[') {
		if (colon == addr || colon[-1] != ']' || colon - addr - 2 <= 0 ||
		    (size_t)(colon - addr - 2) >= sizeof(host))
			return -EINVAL;
		memcpy(host, addr + 1, (size_t)(colon - addr - 2));
		host[colon - addr - 2] = '\0';
	} else {
		if (colon == addr || (size_t)(colon - addr) >= sizeof(host) ||
		    memchr(addr, ':', (size_t)(colon - addr)))
			return -EINVAL;
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
	}
	if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    ibup_parse_u32(colon + 1, 10, &num) < 0 || num > 65535)
		return -EINVAL;
	snprintf(port, sizeof(port), "%u", num);
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
		if (ai)
			freeaddrinfo(ai);
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		int r = -errno;

		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	if (ret_port)
		*ret_port = ntohs(ss.ss_family == AF_INET6
					  ? ((struct sockaddr_in6 *)&ss)->sin6_port
					  : ((struct sockaddr_in *)&ss)->sin_port);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->in_len = c->out_len = c->out_off = 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

/* Judge a complete (or oversized, or malformed) request and make the whole answer. */
static void conn_answer(struct ibup_ctx *ctx, struct conn *c, int status, bool head,
			ibup_metrics_scrape_fn *scrape, void *data)
{
	_cleanup_free_ char *body = NULL;
	size_t body_len = 0;
	FILE *f;

	if (status == 200) {
		int r = scrape(data, &body, &body_len);

		if (r < 0) {
			ibup_warn(ctx, "cannot collect the metrics: %s", strerror(-r));
			status = 500;
		}
	}
	if (status != 200) {
		free(body);
		body = NULL;
		body_len = 0;
		if (asprintf(&body, "%d %s\n", status, reason(status)) < 0) {
			body = NULL;
			conn_close(c);
			return;
		}
		body_len = strlen(body);
	}
	f = open_memstream(&c->out, &c->out_len);
	if (!f) {
		conn_close(c);
		return;
	}
	fprintf(f,
		"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		"Connection: close\r\n\r\n",
		status, reason(status),
		status == 200 ? IBUP_METRICS_CONTENT_TYPE : "text/plain; charset=utf-8",
		body_len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head)
		fwrite(body, 1, body_len, f);
	if (fclose(f) != 0) {
		conn_close(c);
		return;
	}
	c->out_off = 0;
	c->deadline_ms = now_ms() + IBUP_METRICS_READ_TIMEOUT_MS;
}

/*
 * Take every waiting connection; a full table drops its oldest client first. Returns
 * false when the process is out of file descriptors (the listener stays readable: it
 * is then left alone for a moment rather than polled in a busy loop).
 */
static bool accept_all(int lfd, struct conn *conns)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *slot = NULL;

		if (fd < 0) /* EAGAIN, or an error on one client: not the listener's */
			return errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
			       errno != ENOMEM;
		for (unsigned i = 0; i < IBUP_METRICS_MAX_CONNECTIONS; i++) {
			if (conns[i].fd < 0) {
				slot = &conns[i];
				break;
			}
			if (!slot || conns[i].deadline_ms < slot->deadline_ms)
				slot = &conns[i];
		}
		conn_close(slot);
		slot->fd = fd;
		slot->deadline_ms = now_ms() + IBUP_METRICS_READ_TIMEOUT_MS;
	}
}

/* Returns true when the connection answered (its answer fully sent) and closed. */
static bool conn_io(struct ibup_ctx *ctx, struct conn *c, short revents,
		    ibup_metrics_scrape_fn *scrape, void *data)
{
	if (!c->out && (revents & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
		bool head;
		int status;

		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				conn_close(c);
			return false;
		}
		c->in_len += (size_t)n;
		status = ibup_metrics_route(c->in, c->in_len, &head);
		if (status == 0)
			return false;
		conn_answer(ctx, c, status, head, scrape, data);
		if (c->fd < 0)
			return false;
	}
	if (c->out && (revents & (POLLOUT | POLLHUP | POLLERR))) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
		if (c->out_off == c->out_len) {
			shutdown(c->fd, SHUT_WR);
			conn_close(c);
			return true;
		}
	}
	return false;
}

/*
 * One pollfd per open connection (and the listener), packed: poll() refuses more
 * entries than RLIMIT_NOFILE, however many of them are unused. Returns how many, and
 * in *ret_wait the milliseconds until the nearest deadline (-1: none).
 */
static nfds_t fill_pollfds(int lfd, bool listen, struct conn *conns, int64_t now,
			   struct pollfd *pfd, struct conn **owner, int64_t *ret_wait)
{
	nfds_t n = 0;

	if (listen) {
		owner[n] = NULL;
		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	}
	for (unsigned i = 0; i < IBUP_METRICS_MAX_CONNECTIONS; i++) {
		struct conn *c = &conns[i];

		/* Too slow to ask, or to take the answer. */
		if (c->fd >= 0 && c->deadline_ms <= now)
			conn_close(c);
		if (c->fd < 0)
			continue;
		owner[n] = c;
		pfd[n++] = (struct pollfd){ .fd = c->fd,
					    .events = c->out ? POLLOUT : POLLIN };
		if (*ret_wait < 0 || c->deadline_ms - now < *ret_wait)
			*ret_wait = c->deadline_ms - now;
	}
	return n;
}

int ibup_metrics_serve(struct ibup_ctx *ctx, int fd, ibup_metrics_scrape_fn *scrape,
		       void *data, unsigned max_requests)
{
	struct pollfd pfd[IBUP_METRICS_MAX_CONNECTIONS + 1];
	struct conn *owner[IBUP_METRICS_MAX_CONNECTIONS + 1];
	struct conn *conns = calloc(IBUP_METRICS_MAX_CONNECTIONS, sizeof(*conns));
	int64_t paused_until = 0; /* out of descriptors: the listener rests until then */
	unsigned answered = 0;
	int r = 0;

	if (!conns)
		return -ENOMEM;
	for (unsigned i = 0; i < IBUP_METRICS_MAX_CONNECTIONS; i++)
		conns[i].fd = -1;
	while (max_requests == 0 || answered < max_requests) {
		int64_t now = now_ms(),
			wait = now < paused_until ? paused_until - now : -1;
		bool accepting = false;
		nfds_t n = fill_pollfds(fd, now >= paused_until, conns, now, pfd, owner,
					&wait);

		if (poll(pfd, n, (int)wait) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (!owner[i])
				accepting = pfd[i].revents & POLLIN;
			else if (pfd[i].revents &&
				 conn_io(ctx, owner[i], pfd[i].revents, scrape, data))
				answered++;
		}
		if (accepting && !accept_all(fd, conns))
			paused_until = now_ms() + 100;
	}
	for (unsigned i = 0; i < IBUP_METRICS_MAX_CONNECTIONS; i++)
		conn_close(&conns[i]);
	free(conns);
	return r;
}

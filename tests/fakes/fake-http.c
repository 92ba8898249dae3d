// SPDX-License-Identifier: MIT
/*
 * A real HTTP/1.1 server on 127.0.0.1 serving one file (fake-http.h) to downloads, well
 * or badly on purpose, by path. It prints its port on the first line of stdout, then
 * serves until killed; each connection is answered by a child process, so a stalled
 * answer does not hold up the next. Every answer closes its connection. The query string
 * is ignored for routing but not for counting: "/drop?t=2" has its own count of requests,
 * so tests can use a route afresh.
 *   /file          200 with the file, or 206 from a "Range: bytes=N-" (416 past its end)
 *   /redirect      302 to /file (through /redirect2: two hops)
 *   /redirect-loop 302 to itself
 *   /redirect-file 302 to file:///etc/passwd
 *   /drop          the first request gets half the file, then the connection is closed
 *                  (Content-Length says more); later ones are answered as /file
 *   /norange       as /drop, but later requests get 200 with the whole file (Range ignored)
 *   /badrange      as /drop, then one 206 whose range starts at 0 whatever was asked,
 *                  then as /file
 *   /flaky         500 to the first two requests, then as /file
 *   /unavailable   503 always
 *   /missing       404
 *   /nolength      200 with the file and no Content-Length (ends with the connection)
 *   /short         200 with the first half of the file (Content-Length says so)
 *   /stall         the first request gets half the file and then nothing, until the
 *                  client goes away; later ones are answered as /file
 *   /stall-always  every request stalls so
 * Given a directory (fake-http DIR), it also serves real files, as a vendor's download
 * host does:
 *   /files/PATH    200 with DIR/PATH (no "..", no symlinks followed out of DIR), or 404
 *   /downloads/PATH 301 to /files/PATH (www.mellanox.com/downloads/X moves to
 *                  content.mellanox.com/X the same way)
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fake-http.h"

#define MAX_PATHS 256

struct counter {
	char path[256];
	unsigned n;
};

static struct counter counters[MAX_PATHS];
static int files_dir = -1; /* DIR's descriptor, or -1 */

/* How many requests @path (with its query) has had, this one included. */
static unsigned count(const char *path)
{
	unsigned i;

	for (i = 0; i < MAX_PATHS && counters[i].path[0]; i++)
		if (strcmp(counters[i].path, path) == 0)
			return ++counters[i].n;
	if (i == MAX_PATHS)
		return 1;
	snprintf(counters[i].path, sizeof(counters[i].path), "%s", path);
	return counters[i].n = 1;
}

static int send_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Bytes [from, to) of the file. */
static void send_file(int fd, size_t from, size_t to)
{
	unsigned char buf[16384];

	while (from < to) {
		size_t n = to - from < sizeof(buf) ? to - from : sizeof(buf);

		fake_http_fill(buf, from, n);
		if (send_all(fd, buf, n) < 0)
			return;
		from += n;
	}
}

static void head(int fd, int status, const char *reason, const char *extra)
{
	char h[512];
	int n = snprintf(
		h, sizeof(h),
		"HTTP/1.1 %d %s\r\nServer: fake-http\r\nConnection: close\r\n%s\r\n",
		status, reason, extra);

	send_all(fd, h, (size_t)n);
}

static void simple(int fd, int status, const char *reason)
{
	char extra[128];

	snprintf(extra, sizeof(extra),
		 "Content-Type: text/plain\r\nContent-Length: %zu\r\n", strlen(reason));
	head(fd, status, reason, extra);
	send_all(fd, reason, strlen(reason));
}

static void redirect(int fd, const char *to)
{
	char extra[256];

	snprintf(extra, sizeof(extra), "Location: %s\r\nContent-Length: 0\r\n", to);
	head(fd, 302, "Found", extra);
}

/* 200 with the whole file, or 206 from @range_from (-1: no Range asked). */
static void serve_file(int fd, long long range_from)
{
	char extra[256];

	if (range_from < 0) {
		snprintf(
			extra, sizeof(extra),
			"Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n",
			FAKE_HTTP_LEN);
		head(fd, 200, "OK", extra);
		send_file(fd, 0, FAKE_HTTP_LEN);
		return;
	}
	if ((size_t)range_from >= FAKE_HTTP_LEN) {
		snprintf(extra, sizeof(extra),
			 "Content-Range: bytes */%zu\r\nContent-Length: 0\r\n",
			 FAKE_HTTP_LEN);
		head(fd, 416, "Range Not Satisfiable", extra);
		return;
	}
	snprintf(extra, sizeof(extra),
		 "Content-Type: application/octet-stream\r\nContent-Range: bytes "
		 "%lld-%zu/%zu\r\nContent-Length: %zu\r\n",
		 range_from, FAKE_HTTP_LEN - 1, FAKE_HTTP_LEN,
		 FAKE_HTTP_LEN - (size_t)range_from);
	head(fd, 206, "Partial Content", extra);
	send_file(fd, (size_t)range_from, FAKE_HTTP_LEN);
}

/* 200 announcing the whole file, half of it sent. */
static void half(int fd)
{
	char extra[128];

	snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n", FAKE_HTTP_LEN);
	head(fd, 200, "OK", extra);
	send_file(fd, 0, FAKE_HTTP_LEN / 2);
}

/* Nothing more until the client goes away (or a minute passes). */
static void stall(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	while (poll(&p, 1, 60000) > 0 && read(fd, &c, 1) > 0)
		;
}

/* 200 with DIR/@rel, or 404; @rel must stay inside DIR. */
static void serve_real(int fd, const char *rel)
{
	char extra[160], buf[16384];
	struct stat st;
	ssize_t r;
	int f;

	if (files_dir < 0 || !*rel || rel[0] == '/' || strstr(rel, "..") ||
	    (f = openat(files_dir, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		simple(fd, 404, "Not Found");
		return;
	}
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		simple(fd, 404, "Not Found");
		return;
	}
	snprintf(extra, sizeof(extra),
		 "Content-Type: application/octet-stream\r\nContent-Length: %lld\r\n",
		 (long long)st.st_size);
	head(fd, 200, "OK", extra);
	while ((r = read(f, buf, sizeof(buf))) > 0)
		if (send_all(fd, buf, (size_t)r) < 0)
			break;
	close(f);
}

static void answer(int fd, const char *route, unsigned n, long long range_from)
{
	if (strncmp(route, "/files/", 7) == 0) {
		serve_real(fd, route + 7);
	} else if (strncmp(route, "/downloads/", 11) == 0) {
		char extra[512];

		snprintf(extra, sizeof(extra),
			 "Location: /files/%s\r\nContent-Length: 0\r\n", route + 11);
		head(fd, 301, "Moved Permanently", extra);
	} else if (strcmp(route, "/file") == 0) {
		serve_file(fd, range_from);
	} else if (strcmp(route, "/redirect") == 0) {
		redirect(fd, "/redirect2");
	} else if (strcmp(route, "/redirect2") == 0) {
		redirect(fd, "/file");
	} else if (strcmp(route, "/redirect-loop") == 0) {
		redirect(fd, "/redirect-loop");
	} else if (strcmp(route, "/redirect-file") == 0) {
		redirect(fd, "file:///etc/passwd");
	} else if (strcmp(route, "/drop") == 0) {
		if (n == 1)
			half(fd);
		else
			serve_file(fd, range_from);
	} else if (strcmp(route, "/norange") == 0) {
		if (n == 1)
			half(fd);
		else
			serve_file(fd, -1);
	} else if (strcmp(route, "/badrange") == 0) {
		if (n == 1) {
			half(fd);
		} else if (n == 2) {
			char extra[160];

			snprintf(
				extra, sizeof(extra),
				"Content-Range: bytes 0-%zu/%zu\r\nContent-Length: %zu\r\n",
				FAKE_HTTP_LEN - 1, FAKE_HTTP_LEN, FAKE_HTTP_LEN);
			head(fd, 206, "Partial Content", extra);
			send_file(fd, 0, FAKE_HTTP_LEN);
		} else {
			serve_file(fd, range_from);
		}
	} else if (strcmp(route, "/flaky") == 0) {
		if (n <= 2)
			simple(fd, 500, "Internal Server Error");
		else
			serve_file(fd, range_from);
	} else if (strcmp(route, "/unavailable") == 0) {
		simple(fd, 503, "Service Unavailable");
	} else if (strcmp(route, "/nolength") == 0) {
		head(fd, 200, "OK", "");
		send_file(fd, 0, FAKE_HTTP_LEN);
	} else if (strcmp(route, "/short") == 0) {
		char extra[64];

		snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n",
			 FAKE_HTTP_LEN / 2);
		head(fd, 200, "OK", extra);
		send_file(fd, 0, FAKE_HTTP_LEN / 2);
	} else if (strcmp(route, "/stall") == 0 || strcmp(route, "/stall-always") == 0) {
		if (n == 1 || strcmp(route, "/stall-always") == 0) {
			half(fd);
			stall(fd);
		} else {
			serve_file(fd, range_from);
		}
	} else {
		simple(fd, 404, "Not Found");
	}
}

/* Read the request's head; the path (with its query) and the Range's start, or -1. */
static int read_request(int fd, char *path, size_t psize, long long *ret_range_from)
{
	char req[8192], *p, *e;
	size_t len = 0;

	while (len < sizeof(req) - 1) {
		ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);

		if (n <= 0)
			return -1;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[len] = '\0';
	if (strncmp(req, "GET ", 4) != 0)
		return -1;
	e = strchr(req + 4, ' ');
	if (!e || (size_t)(e - (req + 4)) >= psize)
		return -1;
	snprintf(path, psize, "%.*s", (int)(e - (req + 4)), req + 4);
	*ret_range_from = -1;
	p = strcasestr(req, "\r\nRange: bytes=");
	if (p)
		*ret_range_from = strtoll(p + strlen("\r\nRange: bytes="), NULL, 10);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	int one = 1, s;

	if (argc > 1) {
		files_dir = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (files_dir < 0) {
			perror(argv[1]);
			return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s, 64) < 0 ||
	    getsockname(s, (struct sockaddr *)&addr, &alen) < 0) {
		perror("fake-http");
		return 1;
	}
	printf("%u\n", ntohs(addr.sin_port));
	fflush(stdout);
	for (;;) {
		struct timeval tv = { .tv_sec = 5 };
		char path[256], route[256];
		long long range_from;
		unsigned n;
		pid_t pid;
		int c = accept(s, NULL, NULL);

		if (c < 0)
			continue;
		/* The head is read here, so the count of each path is kept in one place. */
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (read_request(c, path, sizeof(path), &range_from) < 0) {
			close(c);
			continue;
		}
		n = count(path);
		snprintf(route, sizeof(route), "%.*s", (int)strcspn(path, "?"), path);
		pid = fork();
		if (pid == 0) {
			close(s);
			answer(c, route, n, range_from);
			shutdown(c, SHUT_WR);
			close(c);
			_exit(0);
		}
		close(c);
	}
}

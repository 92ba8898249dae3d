// SPDX-License-Identifier: MIT
/*
 * A real HTTP server on 127.0.0.1 that answers like Azure's instance metadata service,
 * or misbehaves on purpose: fake-imds MODE. It prints its port on the first line of
 * stdout, then serves until killed. MODE is one of:
 *   ok          200 with a compute document (vmSize Standard_HB120rs_v3)
 *   throttled   429 Too many requests
 *   slow        answers after 10 s
 *   garbage     200 with a body that is not JSON
 *   novmsize    200 with JSON lacking vmSize
 *   huge        200 with a 4 MiB body
 *   badrequest  400 with the service's error JSON
 *   hangup      closes the connection without answering
 *   bigheader   200 with a 300 kB header line before a good compute document
 *   escape      500 whose {"error": ...} carries terminal escapes
 * Any mode answers 400 when the request lacks "Metadata: true" or names no api-version,
 * as the real service does.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char compute[] =
	"{\"azEnvironment\":\"AzurePublicCloud\",\"location\":\"southcentralus\","
	"\"name\":\"hpc-node-001\",\"offer\":\"ubuntu-hpc\",\"osType\":\"Linux\","
	"\"placementGroupId\":\"0b8a1b5c-3c4d-4f6e-9a7b-1c2d3e4f5a6b\","
	"\"publisher\":\"microsoft-dsvm\",\"sku\":\"2204\",\"version\":\"22.04.2024102301\","
	"\"vmId\":\"3f1e2d4c-5b6a-4789-8c9d-0e1f2a3b4c5d\",\"vmScaleSetName\":\"hpc\","
	"\"vmSize\":\"Standard_HB120rs_v3\",\"zone\":\"\"}";

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int status, const char *reason, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(
		head, sizeof(head),
		"HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n",
		status, reason, len);

	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

static void serve(int fd, const char *mode)
{
	char req[8192];
	size_t len = 0;

	while (len < sizeof(req) - 1) {
		ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[len] = '\0';
	if (!strcasestr(req, "\r\nMetadata: true\r\n") || !strstr(req, "api-version=")) {
		static const char e[] =
			"{\"error\":\"Bad request. Required metadata header not "
			"specified or api-version is invalid\"}";

		respond(fd, 400, "Bad Request", e, sizeof(e) - 1);
	} else if (strcmp(mode, "ok") == 0) {
		respond(fd, 200, "OK", compute, sizeof(compute) - 1);
	} else if (strcmp(mode, "throttled") == 0) {
		static const char e[] = "{\"error\":\"Too many requests\"}";

		respond(fd, 429, "Too Many Requests", e, sizeof(e) - 1);
	} else if (strcmp(mode, "slow") == 0) {
		sleep(10);
		respond(fd, 200, "OK", compute, sizeof(compute) - 1);
	} else if (strcmp(mode, "garbage") == 0) {
		static const char g[] = "<html>\x01\x02 not json {\"vmSize\":";

		respond(fd, 200, "OK", g, sizeof(g) - 1);
	} else if (strcmp(mode, "novmsize") == 0) {
		static const char j[] = "{\"location\":\"eastus\",\"vmSize\":42}";

		respond(fd, 200, "OK", j, sizeof(j) - 1);
	} else if (strcmp(mode, "huge") == 0) {
		size_t n = 4 << 20;
		char *big = malloc(n);

		if (big) {
			memset(big, ' ', n);
			big[0] = '{';
			big[n - 1] = '}';
			respond(fd, 200, "OK", big, n);
			free(big);
		}
	} else if (strcmp(mode, "badrequest") == 0) {
		static const char e[] =
			"{\"error\":\"Bad request. api-version is invalid or was "
			"not specified in the request.\",\"newest-versions\":"
			"[\"2025-04-07\"]}";

		respond(fd, 400, "Bad Request", e, sizeof(e) - 1);
	} else if (strcmp(mode, "bigheader") == 0) {
		size_t n = 300 * 1024;
		char *big = malloc(n + 1);
		char head[256];
		int hn;

		if (big) {
			memset(big, 'a', n);
			big[n] = '\0';
			hn = snprintf(head, sizeof(head),
				      "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
				      "Connection: close\r\nX-Big: ",
				      sizeof(compute) - 1);
			send_all(fd, head, (size_t)hn);
			send_all(fd, big, n);
			send_all(fd, "\r\n\r\n", 4);
			send_all(fd, compute, sizeof(compute) - 1);
			free(big);
		}
	} else if (strcmp(mode, "escape") == 0) {
		static const char e[] = "{\"error\":\"\\u001b]0;pwned\\u0007\\u001b[2J"
					"\\u009b31mboom\"}";

		respond(fd, 500, "Internal Server Error", e, sizeof(e) - 1);
	}
	/* "hangup": nothing at all */
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	int one = 1, s;

	if (argc != 2) {
		fprintf(stderr, "usage: fake-imds MODE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s, 16) < 0 ||
	    getsockname(s, (struct sockaddr *)&addr, &alen) < 0) {
		perror("fake-imds");
		return 1;
	}
	printf("%u\n", ntohs(addr.sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0)
			continue;
		serve(c, argv[1]);
		close(c);
	}
}

// SPDX-License-Identifier: MIT
/*
 * The fabric as Prometheus sees it: the inventory, its counters and check's verdicts
 * in the text exposition format (version 0.0.4), the VM size cached between scrapes,
 * and a small single-threaded HTTP responder for GET /metrics.
 */
#ifndef IBUP_METRICS_H
#define IBUP_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "ibup/ctx.h"
#include "ibup/model.h"
#include "ibup/check.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Content-Type of the text exposition format the library produces. */
#define IBUP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* How long a cached VM size is trusted (a resize stops the VM, so it rarely changes). */
#define IBUP_METRICS_VM_SIZE_TTL 3600
/* The largest HTTP request the responder reads, and how long it waits for one. */
#define IBUP_METRICS_MAX_REQUEST 8192
#define IBUP_METRICS_READ_TIMEOUT_MS 5000
/* Connections the responder keeps open at once; past it, the oldest is dropped. */
#define IBUP_METRICS_MAX_CONNECTIONS 32

/**
 * ibup_metrics_render() - the inventory and check's verdicts in the text format
 * @ctx: library context (hwmon temperatures are read under its root)
 * @st: the inventory, read with IBUP_STATUS_COUNTERS for the counter families
 * @rep: check's report on @st, or NULL for no check families
 * @ret_text: the exposition, NUL-terminated, owned by the caller
 * @ret_len: its length
 *
 * Every family has # HELP and # TYPE lines and appears only when it has a sample.
 * Counters come from the widest source the kernel offers (hw_counters/, then the
 * 64-bit PortCountersExtended data counters, then the basic ones); a narrow counter
 * stuck at all ones is left out and flagged by ibup_port_pma_saturated.
 *
 * Return: 0, or -ENOMEM.
 */
int ibup_metrics_render(struct ibup_ctx *ctx, const struct ibup_status *st,
			const struct ibup_check_report *rep, char **ret_text,
			size_t *ret_len);

/**
 * ibup_metrics_collect() - one scrape: read the inventory, run the checks, render
 * @ctx: library context
 * @vm_size: the VM size the checks judge against, or NULL when unknown
 * @ret_text: as ibup_metrics_render()
 * @ret_len: its length
 *
 * The checks run without a state directory (the counter baseline of `ibup check` is
 * never touched) and without the bandwidth measurement.
 *
 * Return: 0, or a negative errno.
 */
int ibup_metrics_collect(struct ibup_ctx *ctx, const char *vm_size, char **ret_text,
			 size_t *ret_len);

/**
 * ibup_metrics_vm_size() - the VM size, from the state directory's cache or the
 * metadata service
 * @ctx: library context; the cache is var/lib/ibup/vm-size under its root
 * @base_url: the metadata service (NULL: Azure's)
 * @ttl_s: how old a cached answer may be, in seconds
 * @ret_size: the size, owned by the caller
 * @err: on failure, one line saying why
 * @err_size: size of @err
 *
 * A fresh cache entry is used without asking; otherwise the metadata service is asked
 * and its answer cached. A cache that cannot be written is only reported at debug
 * level: the size is still returned.
 *
 * Return: 0, or a negative errno from ibup_imds_vm_size().
 */
int ibup_metrics_vm_size(struct ibup_ctx *ctx, const char *base_url, unsigned ttl_s,
			 char **ret_size, char *err, size_t err_size);

/**
 * ibup_metrics_listen() - open a listening TCP socket
 * @addr: "PORT" (on 127.0.0.1), "HOST:PORT" or "[IPV6]:PORT", numeric hosts only;
 *        port 0 takes a free one
 * @ret_fd: the socket, non-blocking, close-on-exec, owned by the caller
 * @ret_port: the port it listens on (useful with port 0); may be NULL
 *
 * Return: 0, -EINVAL for a malformed @addr, or the errno of socket/bind/listen.
 */
int ibup_metrics_listen(const char *addr, int *ret_fd, unsigned *ret_port);

/* Produces one scrape's text (owned by the caller), or a negative errno. */
typedef int ibup_metrics_scrape_fn(void *data, char **ret_text, size_t *ret_len);

/**
 * ibup_metrics_serve() - answer HTTP requests on a listening socket
 * @ctx: library context (diagnostics)
 * @fd: from ibup_metrics_listen()
 * @scrape: called for every GET (or HEAD) of /metrics
 * @data: passed to @scrape
 * @max_requests: stop after answering this many requests (0: never)
 *
 * Single-threaded, poll-based: up to IBUP_METRICS_MAX_CONNECTIONS clients at once, each
 * given IBUP_METRICS_READ_TIMEOUT_MS to send a request of at most
 * IBUP_METRICS_MAX_REQUEST bytes and to read the answer. Answers 200 for /metrics,
 * 404 for other paths, 405 for methods other than GET and HEAD, 400 for what is not an
 * HTTP/1.x request, 431 for an oversized one and 500 when @scrape fails; every answer
 * closes its connection.
 *
 * Return: 0 after @max_requests, or a negative errno when polling fails.
 */
int ibup_metrics_serve(struct ibup_ctx *ctx, int fd, ibup_metrics_scrape_fn *scrape,
		       void *data, unsigned max_requests);

/**
 * ibup_metrics_route() - judge one HTTP request's head
 * @req: the bytes received so far
 * @len: their number
 * @ret_head: set when the method is HEAD (the answer, whatever its status, has no body)
 *
 * Pure. Only the request line is judged; the head ends at an empty line.
 *
 * Return: 0 when the head is incomplete, else the status to answer: 200, 400, 404,
 * 405, or 431 when @len reaches IBUP_METRICS_MAX_REQUEST without the end of the head.
 */
int ibup_metrics_route(const char *req, size_t len, bool *ret_head);

/**
 * ibup_metrics_escape() - a label value as the text format writes it
 * @s: the value (NULL: empty)
 * @buf: where the escaped value goes, NUL-terminated (cut at a character boundary
 *       when too small)
 * @size: size of @buf
 *
 * Backslash, double quote and newline are escaped; other control characters become
 * '?'.
 *
 * Return: @buf.
 */
char *ibup_metrics_escape(const char *s, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif

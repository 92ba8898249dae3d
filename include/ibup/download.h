// SPDX-License-Identifier: MIT
/*
 * Downloads: a file fetched over HTTP(S) into the root, verified by SHA-256 before it
 * appears at its destination. The plan's download step (IBUP_STEP_DOWNLOAD) is carried
 * out by the executor through ibup_download(); nothing else in libibup downloads.
 */
#ifndef IBUP_DOWNLOAD_H
#define IBUP_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibup/ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults of struct ibup_download_opts (a zero field takes its default). */
#define IBUP_DOWNLOAD_CACHE_DIR "var/lib/ibup/cache"
#define IBUP_DOWNLOAD_MAX_BYTES (UINT64_C(4) << 30) /* when the step names no size */
#define IBUP_DOWNLOAD_ATTEMPTS 4 /* requests per download, resumes included */
#define IBUP_DOWNLOAD_BACKOFF_MS 2000 /* before the second attempt; doubles after */
#define IBUP_DOWNLOAD_BACKOFF_MAX_MS 30000
#define IBUP_DOWNLOAD_CONNECT_TIMEOUT_MS 30000
#define IBUP_DOWNLOAD_LOW_SPEED_BYTES 1024 /* bytes per second ... */
/*
 * ... for this long: the server stalled. libcurl averages the speed over the last five
 * seconds, so a stall right after a fast start is noticed about five seconds later.
 */
#define IBUP_DOWNLOAD_LOW_SPEED_S 60
#define IBUP_DOWNLOAD_MAX_REDIRECTS 5

/*
 * Called as bytes arrive (at least once a second while a transfer runs, and once at the
 * end): @now bytes of the file are on disk, of @total (0 while unknown). @path is the
 * destination, relative to the root. @now goes back to zero when a server ignores a
 * Range request and the file starts over.
 */
typedef void ibup_download_progress_fn(void *data, const char *path, uint64_t now,
				       uint64_t total);

struct ibup_download_opts {
	/* Where verified files are kept by their SHA-256, relative to the root; NULL for
	 * IBUP_DOWNLOAD_CACHE_DIR. */
	const char *cache_dir;
	bool no_cache; /* neither use nor fill the cache */
	unsigned attempts; /* 0: IBUP_DOWNLOAD_ATTEMPTS */
	unsigned backoff_ms; /* 0: IBUP_DOWNLOAD_BACKOFF_MS */
	unsigned connect_timeout_ms;
	unsigned low_speed_bytes, low_speed_s; /* stall detection */
	unsigned max_redirects;
	uint64_t max_bytes; /* the cap when the step names no size */
	ibup_download_progress_fn *progress;
	void *progress_data;
};

struct ibup_download_result {
	uint64_t bytes; /* the file's size, once delivered */
	uint64_t received; /* body bytes received over the network by this call */
	unsigned attempts; /* requests made (0: the cache or the destination had it) */
	bool already_present; /* the destination held the file: nothing was done */
	bool from_cache; /* copied from the cache, no request made */
	bool resumed; /* a server answered 206 to a Range request */
	long http_status; /* the last response's status; 0 when none */
	char error[384]; /* one line: why it failed; "" on success */
};

/**
 * ibup_download() - fetch a file into the root, verified
 * @ctx: library context; every path is resolved under its root
 * @url: http:// or https:// (other schemes, also in redirects, are refused)
 * @sha256: the file's expected SHA-256, 64 hex digits
 * @size: the file's expected size in bytes; 0 when unknown
 * @path: destination relative to the root; missing parent directories are created
 *	  (0755) inside the root
 * @opts: NULL for the defaults
 * @ret: filled in every case (@ret->error says why on failure)
 *
 * A destination that already holds the file is left alone; a file in the cache with the
 * right hash is copied without a request. Otherwise the body is written to
 * "<path>.ibup-part" beside the destination (locked with flock while in use), then
 * fsynced, hashed from disk, and renamed over @path only when size and SHA-256 match:
 * the destination never holds a partial or unverified file. The verified file is then
 * linked (or copied) into the cache; a cache that cannot be written is logged, not an
 * error.
 *
 * Redirects are followed (at most @opts->max_redirects, http and https only). A failed
 * attempt is retried, up to @opts->attempts requests with a doubling backoff, when the
 * transport failed (refused, reset, timed out, cut short, stalled below the low-speed
 * limit) or the server answered 5xx, 408 or 429; other 4xx answers are final. A retry
 * with bytes on disk asks for the rest with a Range request and appends only to a 206
 * whose Content-Range starts there; a 200 restarts the file from zero, and a 416 means
 * the bytes on disk are the whole file (when their hash says so) or are thrown away. A
 * file made of bytes kept from before whose hash is wrong is fetched once more from zero
 * before it is refused. The body is
 * capped at @size when given, else at @opts->max_bytes (4 GiB): a larger answer is
 * refused. The proxy environment (http_proxy, https_proxy, no_proxy) is honoured, as
 * curl does.
 *
 * After a transport failure "<path>.ibup-part" is kept, so a later run resumes; after a
 * refusal (hash or size mismatch, cap, 4xx) it is removed.
 *
 * Return: 0; -EBADMSG on a size or hash mismatch (both hashes in @ret->error); -EFBIG
 * past the cap; -ENOENT (404, 410), -EACCES (401, 403), -EPROTO (another answer) from
 * the server; -EREMOTEIO when it answered 5xx to every attempt; -ETIMEDOUT (connect
 * timeout or stall), -ECONNREFUSED, -ECONNRESET, -EHOSTUNREACH, -ELOOP (too many
 * redirects), -EPROTONOSUPPORT (a scheme other than http/https); -EINVAL on a bad
 * @sha256 or @path; -EBUSY when another download holds "<path>.ibup-part"; -ELIBACC
 * without libcurl or libcrypto; or the errno of a file operation.
 */
int ibup_download(struct ibup_ctx *ctx, const char *url, const char *sha256,
		  uint64_t size, const char *path, const struct ibup_download_opts *opts,
		  struct ibup_download_result *ret);

#ifdef __cplusplus
}
#endif

#endif

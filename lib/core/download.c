// SPDX-License-Identifier: MIT
/*
 * The downloader: the plan's download step. A file is fetched through libcurl (the one
 * symbol table of curl-ops.h) into "<path>.ibup-part" beside its destination, resumed
 * with Range requests when a server answers 206, retried with a doubling backoff, capped
 * in size, hashed from disk and renamed into place only when its SHA-256 is the one
 * expected. Verified files are kept in a cache keyed by their hash.
 *
 * Only the executor calls this (lib/plan/exec.c): downloading writes into the root.
 */
/* CURLOPT_PROTOCOLS is the fallback for libcurl before 7.85, which lacks the _STR form. */
#define CURL_DISABLE_DEPRECATION
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "curl-ops.h"
#include "ibup/download.h"
#include "banned.h"

#define PART_SUFFIX ".ibup-part"
#define CACHE_NEW_SUFFIX ".ibup-new"
#define COPY_CHUNK (32 * 1024) /* on the stack: hashing and copying */

/* The options with their defaults filled in. */
struct dl_opts {
	const char *cache_dir;
	bool no_cache;
	unsigned attempts, backoff_ms, connect_timeout_ms;
	unsigned low_speed_bytes, low_speed_s, max_redirects;
	uint64_t max_bytes;
	ibup_download_progress_fn *progress;
	void *progress_data;
};

/* One download. */
struct dl {
	struct ibup_ctx *ctx;
	struct ibup_curl *c;
	struct dl_opts o;
	const char *url, *path, *sha256;
	uint64_t size, cap;
	int fd; /* the .ibup-part, locked */
	bool reused; /* bytes kept from before this call were used */
	struct ibup_download_result *res;
};

/* One request's state, shared with curl's callbacks. */
struct fetch {
	struct dl *d;
	uint64_t offset; /* bytes on disk before this response's body */
	uint64_t written; /* of this response's body */
	long status; /* of the latest header block (redirects have their own) */
	bool have_range;
	uint64_t range_start;
	int64_t content_length; /* -1: not given */
	bool started; /* the body began: 200 (from zero) or 206 (appended) decided */
	int error; /* why a callback stopped the transfer */
};

_printf_(2, 3) static void say(struct ibup_download_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	ibup_sanitize(res->error);
}

static void progress(struct dl *d, uint64_t now, uint64_t total)
{
	if (d->o.progress)
		d->o.progress(d->o.progress_data, d->path, now, total);
}

/*
 * The SHA-256 and length of what @fd holds from its start, read back from disk (so what
 * is verified is what will be renamed into place). -EFBIG past @max bytes.
 */
static int hash_fd(int fd, uint64_t max, uint64_t *ret_len, char ret_hex[IBUP_SHA256_HEX])
{
	char buf[COPY_CHUNK];
	struct ibup_sha256 s;
	uint64_t off = 0;
	int r;

	r = ibup_sha256_init(&s);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = pread(fd, buf, COPY_CHUNK, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			ibup_sha256_release(&s);
			return r;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		if (off > max) {
			ibup_sha256_release(&s);
			return -EFBIG;
		}
		ibup_sha256_update(&s, buf, (size_t)n);
	}
	r = ibup_sha256_final(&s, ret_hex);
	if (r < 0)
		return r;
	*ret_len = off;
	return 0;
}

/* Whether the regular file @name in @dirfd already is the file wanted. */
static int holds_file(int dirfd, const char *name, const struct dl *d, uint64_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	char hex[IBUP_SHA256_HEX];
	struct stat st;
	uint64_t len;
	int r;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((d->size && (uint64_t)st.st_size != d->size) || (uint64_t)st.st_size > d->cap)
		return 0;
	r = hash_fd(fd, d->cap, &len, hex);
	if (r < 0)
		return r;
	*ret_len = len;
	return strcmp(hex, d->sha256) == 0;
}

static int truncate_part(struct dl *d)
{
	if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0)
		return -errno;
	return 0;
}

/* A header line of any response on the way (redirects included). */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct fetch *f = userdata;
	size_t len = size * nitems;
	char line[256];

	snprintf(line, sizeof(line), "%.*s",
		 (int)(len < sizeof(line) ? len : sizeof(line) - 1), buf);
	if (strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = strchr(line, ' ');

		f->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		f->have_range = false;
		f->content_length = -1;
	} else if (strncasecmp(line, "Content-Range:", 14) == 0) {
		unsigned long long first, last;

		/* "bytes 100-999/1000", the total may be "*" */
		if (sscanf(line + 14, " bytes %llu-%llu/", &first, &last) == 2 &&
		    first <= last) {
			f->have_range = true;
			f->range_start = first;
		}
	} else if (strncasecmp(line, "Content-Length:", 15) == 0) {
		char *end;
		unsigned long long n = strtoull(line + 15, &end, 10);

		if (end != line + 15)
			f->content_length = n > INT64_MAX ? INT64_MAX : (int64_t)n;
	} else if (strcmp(line, "\r\n") == 0 || strcmp(line, "\n") == 0) {
		/* The end of a header block: refuse a declared body past the cap now (a
		 * range that does not start at our offset is refused by on_body). */
		uint64_t base = f->status != 206 ? 0
				: f->have_range	 ? f->range_start
						 : f->offset;

		if ((f->status == 200 || f->status == 206) && f->content_length >= 0 &&
		    base + (uint64_t)f->content_length > f->d->cap) {
			f->error = -EFBIG;
			return 0; /* curl stops: CURLE_WRITE_ERROR */
		}
	}
	return len;
}

/* The final response's body. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct fetch *f = userdata;
	struct dl *d = f->d;
	size_t len = size * nmemb;
	int r;

	if (!f->started) {
		f->started = true;
		if (f->status == 206) {
			/* Appended only where it continues the bytes on disk. */
			if (!f->have_range || f->range_start != f->offset) {
				f->error = -ERANGE;
				return 0;
			}
			if (f->offset)
				d->res->resumed = d->reused = true;
		} else if (f->status == 200) {
			/* The whole file again: a server that ignores Range. */
			if (f->offset) {
				r = truncate_part(d);
				if (r < 0) {
					f->error = r;
					return 0;
				}
				f->offset = 0;
			}
		} else {
			f->error = -EPROTO; /* judged by its status after the transfer */
			return 0;
		}
	}
	if (f->offset + f->written + len > d->cap) {
		f->error = -EFBIG;
		return 0;
	}
	r = ibup_write_all(d->fd, ptr, len);
	if (r < 0) {
		f->error = r;
		return 0;
	}
	f->written += len;
	d->res->received += len;
	return len;
}

static int on_xferinfo(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct fetch *f = userdata;
	uint64_t total = f->d->size;

	if (!total && dltotal > 0 && f->started)
		total = (f->status == 206 ? f->offset : 0) + (uint64_t)dltotal;
	progress(f->d, f->offset + f->written, total);
	return 0;
}

/* Allow http and https only, also for redirects; the _STR options need libcurl 7.85. */
static void set_protocols(struct ibup_curl *c, CURL *h)
{
	if (c->curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
		c->curl_easy_setopt(h, CURLOPT_PROTOCOLS,
				    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	if (c->curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK)
		c->curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS,
				    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
}

/* One request for what is not on disk yet. */
static CURLcode request(struct dl *d, struct fetch *f, char errbuf[CURL_ERROR_SIZE],
			long *ret_status)
{
	struct ibup_curl *c = d->c;
	char range[32];
	CURLcode rc;
	CURL *h;

	*ret_status = 0;
	h = c->curl_easy_init();
	if (!h)
		return CURLE_OUT_OF_MEMORY;
	c->curl_easy_setopt(h, CURLOPT_URL, d->url);
	set_protocols(c, h);
	c->curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	c->curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	c->curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)d->o.max_redirects);
	c->curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)d->o.connect_timeout_ms);
	/* No overall timeout (hundreds of MB over slow links); a stall is what ends it. */
	c->curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)d->o.low_speed_bytes);
	c->curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)d->o.low_speed_s);
	c->curl_easy_setopt(h, CURLOPT_USERAGENT, "ibup/" IBUP_VERSION);
	c->curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	c->curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	c->curl_easy_setopt(h, CURLOPT_HEADERDATA, f);
	c->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	c->curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	c->curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	c->curl_easy_setopt(h, CURLOPT_XFERINFODATA, f);
	c->curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (f->offset) {
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)f->offset);
		c->curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	errbuf[0] = '\0';
	rc = c->curl_easy_perform(h);
	c->curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
	if (!*errbuf)
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", c->curl_easy_strerror(rc));
	c->curl_easy_cleanup(h);
	return rc;
}

/* A transport failure as an errno, and whether another attempt may do better. */
static int transport_errno(CURLcode rc, bool *ret_retry)
{
	*ret_retry = true;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return -ECONNRESET;
	case CURLE_GOT_NOTHING:
		return -ENODATA;
	default:
		break;
	}
	*ret_retry = false;
	switch (rc) {
	case CURLE_TOO_MANY_REDIRECTS:
		return -ELOOP;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTONOSUPPORT;
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return -EPROTO; /* a certificate is refused: retrying changes nothing */
	default:
		*ret_retry =
			true; /* TLS handshakes cut short, HTTP/2 stream errors ... */
		return -EPROTO;
	}
}

/* An HTTP answer other than 200/206 as an errno, and whether to retry. */
static int status_errno(long status, bool *ret_retry)
{
	*ret_retry = status >= 500 || status == 408 || status == 429;
	if (*ret_retry)
		return -EREMOTEIO;
	if (status == 404 || status == 410)
		return -ENOENT;
	if (status == 401 || status == 403)
		return -EACCES;
	return -EPROTO;
}

static void backoff(const struct dl *d, unsigned attempt)
{
	uint64_t ms = d->o.backoff_ms;
	struct timespec ts;

	for (unsigned i = 2; i < attempt && ms < IBUP_DOWNLOAD_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > IBUP_DOWNLOAD_BACKOFF_MAX_MS)
		ms = IBUP_DOWNLOAD_BACKOFF_MAX_MS;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Requests until the body is all on disk (0), or a final failure (a negative errno,
 * @d->res->error says why). What is on disk already is asked for with a Range request.
 */
static int fetch(struct dl *d)
{
	struct ibup_download_result *res = d->res;
	char errbuf[CURL_ERROR_SIZE];
	int err = 0;

	for (unsigned attempt = 1; attempt <= d->o.attempts; attempt++) {
		struct fetch f = { .d = d, .content_length = -1 };
		struct stat st;
		bool retry;
		CURLcode rc;
		long status;
		int r;

		if (attempt > 1)
			backoff(d, attempt);
		if (fstat(d->fd, &st) < 0)
			return -errno;
		f.offset = (uint64_t)st.st_size;
		if (d->size && f.offset == d->size) {
			/* All there: an earlier run stopped before verifying. */
			d->reused = true;
			return 0;
		}
		if (f.offset > d->cap || (d->size && f.offset > d->size)) {
			r = truncate_part(d);
			if (r < 0)
				return r;
			f.offset = 0;
		}
		if (lseek(d->fd, (off_t)f.offset, SEEK_SET) < 0)
			return -errno;
		res->attempts++;
		rc = request(d, &f, errbuf, &status);
		res->http_status = status;
		if (f.error == -EFBIG) {
			say(res, "'%.200s' is larger than %llu bytes: refused", d->url,
			    (unsigned long long)d->cap);
			return -EFBIG;
		}
		if (f.error == -ERANGE) {
			/* A 206 that does not continue our bytes: start over. */
			say(res, "'%.200s' answered a range that does not start at %llu",
			    d->url, (unsigned long long)f.offset);
			err = -EPROTO;
			r = truncate_part(d);
			if (r < 0)
				return r;
			continue;
		}
		if (f.error < 0 && f.error != -EPROTO) {
			say(res, "cannot write '/%s%s': %s", d->path, PART_SUFFIX,
			    strerror(-f.error));
			return f.error; /* the disk, not the network: no retry */
		}
		if (rc != CURLE_OK && f.error == 0) {
			err = transport_errno(rc, &retry);
			say(res, "cannot fetch '%.200s': %s", d->url, errbuf);
			if (!retry)
				return err;
			continue;
		}
		if (status == 200 || status == 206) {
			/* An empty 200 to a Range request: the file is empty now. */
			if (status == 200 && !f.started && f.offset) {
				r = truncate_part(d);
				if (r < 0)
					return r;
			}
			return 0;
		}
		if (status == 416 && f.offset) {
			char hex[IBUP_SHA256_HEX];
			uint64_t len;

			/* Nothing after our bytes: they may be the whole file already. */
			if (hash_fd(d->fd, d->cap, &len, hex) == 0 &&
			    strcmp(hex, d->sha256) == 0) {
				d->reused = true;
				return 0;
			}
			/* Our bytes are not a prefix of what it has: start over. */
			say(res, "'%.200s' answered 416 to a range from %llu", d->url,
			    (unsigned long long)f.offset);
			err = -EPROTO;
			r = truncate_part(d);
			if (r < 0)
				return r;
			continue;
		}
		err = status_errno(status, &retry);
		say(res, "'%.200s' answered HTTP %ld", d->url, status);
		if (!retry)
			return err;
	}
	if (d->o.attempts > 1) {
		size_t n = strlen(res->error);

		snprintf(res->error + n, sizeof(res->error) - n, " (%u attempts)",
			 d->o.attempts);
	}
	return err ? err : -EIO;
}

/* Hash what is on disk and compare; -EBADMSG (and why) on a mismatch. */
static int verify(struct dl *d)
{
	char hex[IBUP_SHA256_HEX];
	uint64_t len = 0;
	int r;

	if (fsync(d->fd) < 0)
		return -errno;
	r = hash_fd(d->fd, d->cap, &len, hex);
	if (r == -EFBIG) {
		say(d->res, "'%.200s' is larger than %llu bytes: refused", d->url,
		    (unsigned long long)d->cap);
		return r;
	}
	if (r < 0)
		return r;
	if (d->size && len != d->size) {
		say(d->res, "'%.200s' gave %llu bytes, expected %llu", d->url,
		    (unsigned long long)len, (unsigned long long)d->size);
		return -EBADMSG;
	}
	if (strcmp(hex, d->sha256) != 0) {
		say(d->res, "sha256 mismatch for '%.120s': expected %s, got %s", d->url,
		    d->sha256, hex);
		return -EBADMSG;
	}
	d->res->bytes = len;
	return 0;
}

/* An entry that is not the file its name says: removed (it is only a cache). */
static int drop_cache_entry(struct dl *d, int cachefd)
{
	int r = truncate_part(d);

	ibup_warn(d->ctx, "the cached '/%s/%s' is not that file: removed", d->o.cache_dir,
		  d->sha256);
	unlinkat(cachefd, d->sha256, 0);
	return r < 0 ? r : 0;
}

/*
 * Copy the cache's entry into the .ibup-part, hashing as it goes: 1 when it was the
 * file (the .ibup-part then holds it), 0 when there is none or it was not the file.
 */
static int from_cache(struct dl *d, int cachefd)
{
	char buf[COPY_CHUNK];
	_cleanup_close_ int fd = -1;
	char hex[IBUP_SHA256_HEX];
	struct ibup_sha256 s;
	struct stat st;
	uint64_t len = 0;
	int r;

	fd = openat(cachefd, d->sha256, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (d->size && (uint64_t)st.st_size != d->size) ||
	    (uint64_t)st.st_size > d->cap)
		return drop_cache_entry(d, cachefd);
	r = truncate_part(d);
	if (r < 0)
		return r;
	r = ibup_sha256_init(&s);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(fd, buf, COPY_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			ibup_sha256_release(&s);
			return r;
		}
		if (n == 0)
			break;
		len += (uint64_t)n;
		if (len > d->cap) {
			ibup_sha256_release(&s);
			return drop_cache_entry(d, cachefd); /* grew since the fstat */
		}
		ibup_sha256_update(&s, buf, (size_t)n);
		r = ibup_write_all(d->fd, buf, (size_t)n);
		if (r < 0) {
			ibup_sha256_release(&s);
			return r;
		}
	}
	r = ibup_sha256_final(&s, hex);
	if (r < 0)
		return r;
	if (strcmp(hex, d->sha256) != 0)
		return drop_cache_entry(d, cachefd);
	if (fsync(d->fd) < 0)
		return -errno;
	d->res->bytes = len;
	return 1;
}

/* Keep the verified file at @dirfd/@base in the cache: a hard link, else a copy. */
static void fill_cache(struct dl *d, int cachefd, int dirfd, const char *base)
{
	_cleanup_free_ char *tmp = NULL, *buf = NULL;
	_cleanup_close_ int in = -1, out = -1;
	int r = 0;

	if (faccessat(cachefd, d->sha256, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return;
	if (asprintf(&tmp, "%s%s", d->sha256, CACHE_NEW_SUFFIX) < 0)
		return;
	unlinkat(cachefd, tmp, 0);
	if (linkat(dirfd, base, cachefd, tmp, 0) < 0) {
		/* Another file system (EXDEV), or links refused: copy. */
		buf = malloc(COPY_CHUNK);
		in = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		out = openat(cachefd, tmp,
			     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (!buf || in < 0 || out < 0)
			r = buf ? -errno : -ENOMEM;
		while (r == 0) {
			ssize_t n = read(in, buf, COPY_CHUNK);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = n < 0 ? -errno : 0;
				break;
			}
			r = ibup_write_all(out, buf, (size_t)n);
		}
		if (r == 0 && fsync(out) < 0)
			r = -errno;
	}
	if (r == 0 && renameat(cachefd, tmp, cachefd, d->sha256) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(cachefd, tmp, 0);
		ibup_warn(d->ctx, "cannot keep '/%s' in the cache '/%s': %s", d->path,
			  d->o.cache_dir, strerror(-r));
		return;
	}
	fsync(cachefd);
}

static int open_cache(struct dl *d)
{
	int r, fd;

	if (d->o.no_cache)
		return -1;
	r = ibup_mkdir_p(d->ctx, d->o.cache_dir, 0755);
	fd = r < 0 ? r
		   : ibup_open_under_root(d->ctx, d->o.cache_dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		ibup_warn(d->ctx, "cannot use the download cache '/%s': %s",
			  d->o.cache_dir, strerror(-fd));
		return -1;
	}
	return fd;
}

static bool valid_sha256(const char *s, char ret_lower[IBUP_SHA256_HEX])
{
	size_t i;

	for (i = 0; s && s[i] && i < IBUP_SHA256_HEX - 1; i++) {
		char ch = s[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
		ret_lower[i] = ch;
	}
	ret_lower[i] = '\0';
	return s && i == IBUP_SHA256_HEX - 1 && s[i] == '\0';
}

static void resolve_opts(const struct ibup_download_opts *in, struct dl_opts *o)
{
	static const struct ibup_download_opts none;

	if (!in)
		in = &none;
	*o = (struct dl_opts){
		.cache_dir = in->cache_dir ? in->cache_dir : IBUP_DOWNLOAD_CACHE_DIR,
		.no_cache = in->no_cache,
		.attempts = in->attempts ? in->attempts : IBUP_DOWNLOAD_ATTEMPTS,
		.backoff_ms = in->backoff_ms ? in->backoff_ms : IBUP_DOWNLOAD_BACKOFF_MS,
		.connect_timeout_ms = in->connect_timeout_ms
					      ? in->connect_timeout_ms
					      : IBUP_DOWNLOAD_CONNECT_TIMEOUT_MS,
		.low_speed_bytes = in->low_speed_bytes ? in->low_speed_bytes
						       : IBUP_DOWNLOAD_LOW_SPEED_BYTES,
		.low_speed_s =
			in->low_speed_s ? in->low_speed_s : IBUP_DOWNLOAD_LOW_SPEED_S,
		.max_redirects = in->max_redirects ? in->max_redirects
						   : IBUP_DOWNLOAD_MAX_REDIRECTS,
		.max_bytes = in->max_bytes ? in->max_bytes : IBUP_DOWNLOAD_MAX_BYTES,
		.progress = in->progress,
		.progress_data = in->progress_data,
	};
}

/* Fetch (or copy from the cache) into the .ibup-part and verify it. */
static int obtain(struct dl *d, int cachefd)
{
	int r;

	if (cachefd >= 0) {
		r = from_cache(d, cachefd);
		if (r < 0) {
			say(d->res, "cannot copy from the cache '/%s': %s",
			    d->o.cache_dir, strerror(-r));
			return r;
		}
		if (r > 0) {
			d->res->from_cache = true;
			return 0;
		}
	}
	r = ibup_curl_load(d->ctx, &d->c);
	if (r < 0) {
		say(d->res, "cannot load libcurl (libcurl.so.4): %s", strerror(-r));
		return r;
	}
	r = fetch(d);
	if (r < 0)
		return r;
	r = verify(d);
	if (r == -EBADMSG && d->reused) {
		/* The bytes kept from before may belong to another file: once from zero. */
		r = truncate_part(d);
		if (r < 0)
			return r;
		d->res->resumed = d->reused = false;
		r = fetch(d);
		if (r < 0)
			return r;
		r = verify(d);
	}
	return r;
}

int ibup_download(struct ibup_ctx *ctx, const char *url, const char *sha256,
		  uint64_t size, const char *path, const struct ibup_download_opts *opts,
		  struct ibup_download_result *ret)
{
	_cleanup_close_ int dirfd = -1, fd = -1, cachefd = -1;
	_cleanup_free_ char *dir = NULL, *part = NULL;
	char want[IBUP_SHA256_HEX];
	struct dl d = {
		.ctx = ctx, .url = url, .path = path, .sha256 = want, .res = ret
	};
	const char *base;
	uint64_t len = 0;
	int r;

	*ret = (struct ibup_download_result){ 0 };
	resolve_opts(opts, &d.o);
	d.size = size;
	d.cap = size ? size : d.o.max_bytes;
	if (!valid_sha256(sha256, want)) {
		say(ret, "'%.80s' is not a SHA-256 (64 hex digits)",
		    sha256 ? sha256 : "");
		return -EINVAL;
	}
	if (!url || !path || !*path || *path == '/' || path[strlen(path) - 1] == '/') {
		say(ret, "a download needs a URL and a file path under the root");
		return -EINVAL;
	}
	base = strrchr(path, '/');
	dir = base ? strndup(path, (size_t)(base - path)) : strdup(".");
	base = base ? base + 1 : path;
	if (!dir || asprintf(&part, "%s%s", base, PART_SUFFIX) < 0)
		return -ENOMEM;
	if (strlen(part) > NAME_MAX || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		say(ret, "'/%s' cannot be a download's destination", path);
		return -EINVAL;
	}
	r = strcmp(dir, ".") == 0 ? 0 : ibup_mkdir_p(ctx, dir, 0755);
	dirfd = r < 0 ? r : ibup_open_under_root(ctx, dir, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0) {
		say(ret, "cannot create '/%s': %s", dir, strerror(-dirfd));
		return dirfd;
	}

	r = holds_file(dirfd, base, &d, &len);
	if (r < 0) {
		say(ret, "cannot replace '/%s': %s", path, strerror(-r));
		return r;
	}
	if (r > 0) {
		ret->already_present = true;
		ret->bytes = len;
		progress(&d, len, len);
		return 0;
	}

	fd = openat(dirfd, part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		say(ret, "cannot open '/%s%s': %s", path, PART_SUFFIX, strerror(-r));
		return r;
	}
	/* One download per destination; the lock ends with its holder. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		say(ret, "'/%s%s' is in use by another download", path, PART_SUFFIX);
		return r;
	}
	d.fd = fd;
	cachefd = open_cache(&d);

	r = obtain(&d, cachefd);
	if (r < 0) {
		struct stat st;

		/* A refused file is not kept; a transfer cut short is, to be resumed. */
		if (r == -EBADMSG || r == -EFBIG || r == -ENOENT || r == -EACCES ||
		    r == -EINVAL || r == -EPROTONOSUPPORT || r == -ELOOP ||
		    (fstat(fd, &st) == 0 && st.st_size == 0))
			unlinkat(dirfd, part, 0);
		return r;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 ||
	    renameat(dirfd, part, dirfd, base) < 0) {
		r = -errno;
		unlinkat(dirfd, part, 0);
		say(ret, "cannot put '/%s' in place: %s", path, strerror(-r));
		return r;
	}
	if (fsync(dirfd) < 0) {
		r = -errno;
		say(ret, "cannot sync the directory of '/%s': %s", path, strerror(-r));
		return r;
	}
	progress(&d, ret->bytes, ret->bytes);
	if (cachefd >= 0 && !ret->from_cache)
		fill_cache(&d, cachefd, dirfd, base);
	return 0;
}

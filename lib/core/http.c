// SPDX-License-Identifier: MIT
/*
 * HTTP GET through libcurl, loaded with dlopen on first use: linking libcurl pulls in
 * ~30 libraries and costs every start of ibup a few milliseconds, and most commands
 * never make a request. One typed symbol table, checked against curl.h at build time.
 */
/* CURLOPT_PROTOCOLS is the fallback for libcurl before 7.85 (EL8: 7.61), as in download.c. */
#define CURL_DISABLE_DEPRECATION
#include <dlfcn.h>
#include <string.h>

#include "curl-ops.h"
#include "banned.h"

static int load_curl(struct ibup_ctx *ctx, struct ibup_curl **ret)
{
	struct ibup_curl *c;

	if (ctx->curl) {
		*ret = ctx->curl;
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!c->handle) {
		free(c);
		return -ELIBACC;
	}
#define LOAD_SYM(s)                                   \
	c->s = (__typeof__(s) *)dlsym(c->handle, #s); \
	if (!c->s) {                                  \
		dlclose(c->handle);                   \
		free(c);                              \
		return -ELIBBAD;                      \
	}
	CURL_SYMBOLS(LOAD_SYM)
#undef LOAD_SYM
	ctx->curl = c;
	*ret = c;
	return 0;
}

int ibup_curl_load(struct ibup_ctx *ctx, struct ibup_curl **ret)
{
	return load_curl(ctx, ret);
}

void ibup_curl_unload(struct ibup_curl *c)
{
	if (!c)
		return;
	dlclose(c->handle);
	free(c);
}

struct body {
	char *data;
	size_t len, max;
	bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > b->max) {
		b->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	b->data = p;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_GOT_NOTHING:
		return -ENODATA;
	default:
		return -EPROTO;
	}
}

int ibup_http_get(struct ibup_ctx *ctx, const char *url, const char *const *headers,
		  unsigned timeout_ms, size_t max_bytes, struct ibup_http_response *ret,
		  char *reterr, size_t reterr_size)
{
	struct body body = { .max = max_bytes ? max_bytes : IBUP_CONF_MAX };
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *list = NULL;
	struct ibup_curl *c;
	long status = 0;
	CURLcode rc;
	CURL *h;
	int r;

	r = load_curl(ctx, &c);
	if (r < 0)
		return r;
	h = c->curl_easy_init();
	if (!h)
		return -ENOMEM;
	for (const char *const *hd = headers; hd && *hd; hd++) {
		struct curl_slist *l = c->curl_slist_append(list, *hd);

		if (!l) {
			c->curl_slist_free_all(list);
			c->curl_easy_cleanup(h);
			return -ENOMEM;
		}
		list = l;
	}
	c->curl_easy_setopt(h, CURLOPT_URL, url);
	c->curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	/* Never through a proxy: the metadata service is link-local. */
	c->curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	if (c->curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
		c->curl_easy_setopt(h, CURLOPT_PROTOCOLS,
				    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	c->curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	c->curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	c->curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	c->curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			    (long)(timeout_ms > 500 ? 500 : timeout_ms));
	c->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	c->curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	c->curl_easy_setopt(h, CURLOPT_USERAGENT, "ibup/" IBUP_VERSION);
	c->curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	rc = c->curl_easy_perform(h);
	if (rc == CURLE_OK)
		c->curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	c->curl_slist_free_all(list);
	c->curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		free(body.data);
		if (body.too_big)
			return -EFBIG;
		/* curl's own words say more than an errno ("Could not resolve host: x",
		 * "Rejected 300000 bytes header (max is 102400)!"); they may quote the
		 * server, so they are sanitized. */
		if (*errbuf)
			snprintf(reterr, reterr_size, "%s", errbuf);
		else if (rc == CURLE_OUT_OF_MEMORY) /* curl's limit on a header, mostly */
			snprintf(reterr, reterr_size,
				 "curl refused the answer (out of memory: a header past "
				 "curl's limit?)");
		else
			snprintf(reterr, reterr_size, "%s", c->curl_easy_strerror(rc));
		ibup_sanitize(reterr);
		return curl_errno(rc);
	}
	ret->status = status;
	ret->body = body.data ? body.data : strdup("");
	ret->len = body.len;
	return ret->body ? 0 : -ENOMEM;
}

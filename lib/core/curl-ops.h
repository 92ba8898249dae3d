// SPDX-License-Identifier: MIT
/*
 * libcurl's one typed symbol table, shared by the HTTP client (http.c) and the
 * downloader (download.c). libcurl is loaded with dlopen on first use and stays
 * loaded with the context (ibup_curl_unload() at ibup_ctx_free()).
 */
#ifndef IBUP_CURL_OPS_H
#define IBUP_CURL_OPS_H

#define CURL_DISABLE_TYPECHECK /* the type-checking macros would hide the symbols */
#include <curl/curl.h>

/*
 * curl.h before 7.85 (Debian 11's, where the portable build is made) lacks the _STR
 * options; the libcurl loaded at run time may have them, and answers
 * CURLE_UNKNOWN_OPTION when it does not (the callers fall back then).
 */
#if LIBCURL_VERSION_NUM < 0x075500
#define CURLOPT_PROTOCOLS_STR ((CURLoption)(CURLOPTTYPE_STRINGPOINT + 318))
#define CURLOPT_REDIR_PROTOCOLS_STR ((CURLoption)(CURLOPTTYPE_STRINGPOINT + 319))
#endif

#include "internal.h"

#define CURL_SYMBOLS(X)       \
	X(curl_easy_init)     \
	X(curl_easy_setopt)   \
	X(curl_easy_perform)  \
	X(curl_easy_getinfo)  \
	X(curl_easy_cleanup)  \
	X(curl_easy_strerror) \
	X(curl_slist_append)  \
	X(curl_slist_free_all)

struct ibup_curl {
	void *handle;
#define DECLARE_SYM(s) __typeof__(s) *s;
	CURL_SYMBOLS(DECLARE_SYM)
#undef DECLARE_SYM
};

/*
 * The context's table, loading libcurl.so.4 on first use. -ELIBACC when libcurl is not
 * installed, -ELIBBAD when it lacks a symbol, -ENOMEM.
 */
int ibup_curl_load(struct ibup_ctx *ctx, struct ibup_curl **ret);

#endif

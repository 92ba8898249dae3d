// SPDX-License-Identifier: MIT
/*
 * SHA-256 through OpenSSL's libcrypto, loaded with dlopen on first use (libcrypto.so.3,
 * else libcrypto.so.1.1: Ubuntu 20.04, SLES 15 and Debian 11 have only 1.1). Plans hash
 * the files they would write and the inputs they were computed from; `install` verifies
 * downloads with it. The EVP calls used here have the same ABI in 1.1 and 3.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

/* Opaque types and the prototypes of <openssl/evp.h>, so the headers are not needed. */
struct evp_md_ctx_st;
struct evp_md_st;
struct engine_st;

struct crypto_ops {
	struct evp_md_ctx_st *(*EVP_MD_CTX_new)(void);
	void (*EVP_MD_CTX_free)(struct evp_md_ctx_st *c);
	const struct evp_md_st *(*EVP_sha256)(void);
	int (*EVP_DigestInit_ex)(struct evp_md_ctx_st *c, const struct evp_md_st *t,
				 struct engine_st *e);
	int (*EVP_DigestUpdate)(struct evp_md_ctx_st *c, const void *d, size_t n);
	int (*EVP_DigestFinal_ex)(struct evp_md_ctx_st *c, unsigned char *md,
				  unsigned int *s);
};

static struct crypto_ops ops;
static int load_result = 1; /* 1: not tried yet */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The library stays loaded for the life of the process: it is one table, read-only. */
static void load(void)
{
	static const char *const names[] = { "libcrypto.so.3", "libcrypto.so.1.1" };
	void *h = NULL;

	for (size_t i = 0; !h && i < IBUP_ARRAY_SIZE(names); i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		load_result = -ELIBACC;
		return;
	}
#define LOAD(s)                            \
	*(void **)(&ops.s) = dlsym(h, #s); \
	if (!ops.s) {                      \
		dlclose(h);                \
		load_result = -ELIBBAD;    \
		return;                    \
	}
	LOAD(EVP_MD_CTX_new)
	LOAD(EVP_MD_CTX_free)
	LOAD(EVP_sha256)
	LOAD(EVP_DigestInit_ex)
	LOAD(EVP_DigestUpdate)
	LOAD(EVP_DigestFinal_ex)
#undef LOAD
	load_result = 0;
}

int ibup_sha256_init(struct ibup_sha256 *s)
{
	pthread_once(&once, load);
	s->md = NULL;
	if (load_result < 0)
		return load_result;
	s->md = ops.EVP_MD_CTX_new();
	if (!s->md)
		return -ENOMEM;
	if (ops.EVP_DigestInit_ex(s->md, ops.EVP_sha256(), NULL) != 1) {
		ibup_sha256_release(s);
		return -EIO;
	}
	return 0;
}

void ibup_sha256_update(struct ibup_sha256 *s, const void *data, size_t len)
{
	if (s->md && len && ops.EVP_DigestUpdate(s->md, data, len) != 1)
		ibup_sha256_release(s); /* reported by _final */
}

int ibup_sha256_final(struct ibup_sha256 *s, char ret_hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	int ok;

	if (!s->md)
		return -EIO;
	ok = ops.EVP_DigestFinal_ex(s->md, md, &n) == 1 && n == sizeof(md);
	ibup_sha256_release(s);
	if (!ok)
		return -EIO;
	for (unsigned i = 0; i < sizeof(md); i++)
		snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

void ibup_sha256_release(struct ibup_sha256 *s)
{
	if (s->md)
		ops.EVP_MD_CTX_free(s->md);
	s->md = NULL;
}

int ibup_sha256_hex(const void *data, size_t len, char ret_hex[65])
{
	struct ibup_sha256 s;
	int r = ibup_sha256_init(&s);

	if (r < 0)
		return r;
	ibup_sha256_update(&s, data, len);
	return ibup_sha256_final(&s, ret_hex);
}

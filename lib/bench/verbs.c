// SPDX-License-Identifier: MIT
/* libibverbs through dlopen: see verbs.h. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "verbs.h"
#include "banned.h"

static struct ibup_verbs verbs;
static int verbs_rc = 1; /* 1: not tried yet */
static char verbs_err[200];
static pthread_mutex_t verbs_lock = PTHREAD_MUTEX_INITIALIZER;

static int load(void)
{
	verbs.handle = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!verbs.handle) {
		const char *why = dlerror();

		snprintf(
			verbs_err, sizeof(verbs_err),
			"cannot load libibverbs.so.1, rdma-core's verbs library (package "
			"libibverbs1 on Debian and Ubuntu, libibverbs on RHEL and SLES): %s",
			why ? why : "not found");
		return -ELIBACC;
	}
#define LOAD(f, s, v)                                                                  \
	verbs.f = (__typeof__(s) *)dlvsym(verbs.handle, #s, v);                        \
	if (!verbs.f) {                                                                \
		snprintf(verbs_err, sizeof(verbs_err),                                 \
			 "libibverbs.so.1 has no %s@%s: rdma-core is too old", #s, v); \
		dlclose(verbs.handle);                                                 \
		memset(&verbs, 0, sizeof(verbs));                                      \
		return -ELIBBAD;                                                       \
	}
	IBUP_VERBS_SYMBOLS(LOAD)
#undef LOAD
#define LOAD_OPTIONAL(f, s, v) verbs.f = (__typeof__(s) *)dlvsym(verbs.handle, #s, v);
	IBUP_VERBS_OPTIONAL(LOAD_OPTIONAL)
#undef LOAD_OPTIONAL
	return 0;
}

int ibup_verbs_load(const struct ibup_verbs **ret, char *err, size_t err_size)
{
	int r;

	pthread_mutex_lock(&verbs_lock);
	if (verbs_rc == 1)
		verbs_rc = load();
	r = verbs_rc;
	pthread_mutex_unlock(&verbs_lock);
	if (r < 0) {
		snprintf(err, err_size, "%s", verbs_err);
		return r;
	}
	*ret = &verbs;
	return 0;
}

int ibup_verbs_query_port(const struct ibup_verbs *v, struct ibv_context *c, uint8_t port,
			  struct ibv_port_attr *attr)
{
	struct verbs_context *vctx = verbs_get_ctx_op(c, query_port);

	memset(attr, 0, sizeof(*attr));
	if (vctx)
		return vctx->query_port(c, port, attr, sizeof(*attr));
	return v->query_port_compat(c, port, (struct _compat_ibv_port_attr *)attr);
}

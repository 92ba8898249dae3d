// SPDX-License-Identifier: MIT
/* The library context: the root everything is read under, and the log sink. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

/* Enough distinct causes for any real host; past this, repeats are no longer folded. */
#define IBUP_SEEN_MAX 512

int ibup_ctx_new(const char *root, struct ibup_ctx **ret_ctx)
{
	struct ibup_ctx *ctx;
	size_t len;

	if (!root || !*root)
		root = "/";
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->root = strdup(root);
	if (!ctx->root) {
		free(ctx);
		return -ENOMEM;
	}
	len = strlen(ctx->root);
	while (len > 1 && ctx->root[len - 1] == '/')
		ctx->root[--len] = '\0';
	ctx->live = strcmp(ctx->root, "/") == 0;
	ctx->log_max = IBUP_LOG_WARNING;
	ctx->lock_fd = -1;
	ctx->root_fd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->root_fd < 0) {
		int r = -errno;

		free(ctx->root);
		free(ctx);
		return r;
	}
	*ret_ctx = ctx;
	return 0;
}

struct ibup_ctx *ibup_ctx_free(struct ibup_ctx *ctx)
{
	if (!ctx)
		return NULL;
	if (ctx->root_fd >= 0)
		close(ctx->root_fd);
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd);
	ibup_strv_free(ctx->seen, ctx->n_seen);
	ibup_curl_unload(ctx->curl);
	free(ctx->root);
	free(ctx);
	return NULL;
}

const char *ibup_ctx_get_root(const struct ibup_ctx *ctx)
{
	return ctx->root;
}

bool ibup_ctx_is_live(const struct ibup_ctx *ctx)
{
	return ctx->live;
}

bool ibup_udevd_running(const struct ibup_ctx *ctx)
{
	return ctx->live && access("/run/udev/control", F_OK) == 0;
}

void ibup_ctx_set_log_fn(struct ibup_ctx *ctx, ibup_log_fn *fn, void *userdata,
			 enum ibup_log_level max_level)
{
	ctx->log_fn = fn;
	ctx->log_data = userdata;
	ctx->log_max = max_level;
}

static bool seen_before(struct ibup_ctx *ctx, const char *msg)
{
	char **v;

	for (unsigned i = 0; i < ctx->n_seen; i++)
		if (strcmp(ctx->seen[i], msg) == 0)
			return true;
	if (ctx->n_seen >= IBUP_SEEN_MAX)
		return false;
	v = realloc(ctx->seen, (ctx->n_seen + 1) * sizeof(*v));
	if (!v)
		return false;
	ctx->seen = v;
	v[ctx->n_seen] = strdup(msg);
	if (v[ctx->n_seen])
		ctx->n_seen++;
	return false;
}

void ibup_log(struct ibup_ctx *ctx, enum ibup_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!ctx->log_fn || level > ctx->log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages quote what a host wrote; none of its control bytes reach a terminal. */
	ibup_sanitize(msg);
	if (seen_before(ctx, msg))
		return;
	ctx->log_fn(ctx->log_data, level, msg);
}

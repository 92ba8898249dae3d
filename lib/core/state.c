// SPDX-License-Identifier: MIT
/*
 * ibup's state directory: what one run leaves for the next. Two things live there:
 * `check`'s error-counter baseline and the journal of a plan being executed, with the
 * lock that keeps two runs that change the host from executing at once.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "ibup/plan.h"
#include "internal.h"
#include "banned.h"

int ibup_state_open(struct ibup_ctx *ctx, const char *host_dir, struct ibup_state *ret)
{
	*ret = (struct ibup_state){ .ctx = ctx, .lock_fd = -1 };
	if (host_dir) {
		int r = ibup_ctx_new(host_dir, &ret->owned);

		if (r < 0)
			return r;
		ret->ctx = ret->owned;
		snprintf(ret->dir, sizeof(ret->dir), ".");
		return 0;
	}
	snprintf(ret->dir, sizeof(ret->dir), "%s", IBUP_STATE_DIR);
	return 0;
}

void ibup_state_close(struct ibup_state *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	s->owned = ibup_ctx_free(s->owned);
	s->ctx = NULL;
}

static int state_file(const struct ibup_state *s, const char *name, char *buf,
		      size_t size)
{
	if (!*name || strchr(name, '/') || strcmp(name, "..") == 0)
		return -EINVAL;
	if ((size_t)snprintf(buf, size, "%s/%s", s->dir, name) >= size)
		return -ENAMETOOLONG;
	return 0;
}

const char *ibup_state_path(const struct ibup_state *s, const char *name, char *buf,
			    size_t size)
{
	const char *root = ibup_ctx_get_root(s->ctx);
	bool slash = root[strlen(root) - 1] == '/';

	if (strcmp(s->dir, ".") == 0)
		snprintf(buf, size, "%s%s%s", root, slash ? "" : "/", name);
	else
		snprintf(buf, size, "%s%s%s/%s", root, slash ? "" : "/", s->dir, name);
	return buf;
}

int ibup_state_read(struct ibup_state *s, const char *name, size_t max, char **ret_data,
		    size_t *ret_len)
{
	char path[320];
	int r = state_file(s, name, path, sizeof(path));

	return r < 0 ? r : ibup_read_file(s->ctx, path, max, ret_data, ret_len);
}

int ibup_state_write(struct ibup_state *s, const char *name, const void *data, size_t len)
{
	char path[320];
	int r = state_file(s, name, path, sizeof(path));

	if (r < 0)
		return r;
	r = ibup_file_replace(s->ctx, path, data, len, 0644, IBUP_WRITE_MKDIR);
	return r < 0 ? r : 0;
}

int ibup_state_remove(struct ibup_state *s, const char *name)
{
	char path[320];
	int r = state_file(s, name, path, sizeof(path));

	return r < 0 ? r : ibup_file_remove(s->ctx, path);
}

int ibup_state_lock(struct ibup_state *s)
{
	char path[320];
	int fd, r;

	if (s->lock_fd >= 0)
		return 0;
	/* Held for the context across plans: the same lock, not taken twice. */
	if (!s->owned && s->ctx->lock_fd >= 0 && strcmp(s->dir, IBUP_STATE_DIR) == 0)
		return 0;
	r = ibup_mkdir_p(s->ctx, s->dir, 0755);
	if (r < 0)
		return r;
	r = state_file(s, "lock", path, sizeof(path));
	if (r < 0)
		return r;
	/* The file is only what the flock hangs on: its existence means nothing. */
	fd = ibup_open_under_root(s->ctx, path, O_RDWR | O_CREAT | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return r;
	}
	s->lock_fd = fd;
	return 0;
}

int ibup_plan_lock(struct ibup_ctx *ctx, unsigned wait_ms)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	struct ibup_state st;
	unsigned waited = 0;
	int r;

	if (ctx->lock_fd >= 0)
		return 0;
	r = ibup_state_open(ctx, NULL, &st);
	if (r < 0)
		return r;
	for (;;) {
		r = ibup_state_lock(&st);
		if (r != -EBUSY || waited >= wait_ms)
			break;
		/* flock has no timeout: poll, as often as a person would notice. */
		nanosleep(&tick, NULL);
		waited += 100;
	}
	if (r == 0) {
		ctx->lock_fd = st.lock_fd;
		st.lock_fd = -1;
	}
	ibup_state_close(&st);
	return r;
}

void ibup_plan_unlock(struct ibup_ctx *ctx)
{
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd);
	ctx->lock_fd = -1;
}

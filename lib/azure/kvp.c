// SPDX-License-Identifier: MIT
/*
 * Hyper-V KVP pools (/var/lib/hyperv/.kvp_pool_<n>), as hv_kvp_daemon keeps them: a flat
 * array of fixed-size records, a 512-byte key and a 2048-byte value, each NUL-padded.
 * The host writes pool 0; on Azure HPC VMs it carries "IPoIB_Data".
 */
#include <fcntl.h>
#include <time.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

#define RECORD_SIZE (IBUP_KVP_KEY_SIZE + IBUP_KVP_VALUE_SIZE)

static void set_diag(struct ibup_diag *d, unsigned record, const char *msg)
{
	*d = (struct ibup_diag){ .line = record };
	snprintf(d->msg, sizeof(d->msg), "%s", msg);
}

/* Copy one field of @size bytes (fewer at the end of a cut pool) up to its first NUL. */
static void copy_field(char *dst, const unsigned char *src, size_t size)
{
	const unsigned char *nul = memchr(src, '\0', size);
	size_t len = nul ? (size_t)(nul - src) : size;

	memcpy(dst, src, len);
	dst[len] = '\0';
}

int ibup_kvp_parse(const void *data, size_t len, struct ibup_kvp_record **ret,
		   unsigned *ret_n, struct ibup_diag *reterr_diag)
{
	_cleanup_free_ struct ibup_kvp_record *v = NULL;
	const unsigned char *p = data;
	size_t n = len / RECORD_SIZE, rest = len % RECORD_SIZE, k = 0;

	/*
	 * Read as the agent reads the pool (rdma.py: read_ipoib_data, get_rdma_version):
	 * records of a 512-byte key and a 2048-byte value, each up to its first NUL; a
	 * record with an empty key is passed over, and one that is cut short still counts
	 * when its value has begun. Nothing about one record (bytes that are not ASCII,
	 * tabs, line breaks) costs the others: the values that matter are checked by
	 * their own parsers.
	 */
	if (rest > IBUP_KVP_KEY_SIZE)
		n++;
	if (n > IBUP_KVP_MAX_RECORDS) {
		set_diag(reterr_diag, IBUP_KVP_MAX_RECORDS + 1, "more than 4096 records");
		return -EBADMSG;
	}
	if (n > 0) {
		v = calloc(n, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++, p += RECORD_SIZE) {
		size_t left = len - i * RECORD_SIZE;

		if (p[0] == '\0')
			continue;
		copy_field(v[k].key, p, IBUP_KVP_KEY_SIZE);
		copy_field(v[k].value, p + IBUP_KVP_KEY_SIZE,
			   left < RECORD_SIZE ? left - IBUP_KVP_KEY_SIZE
					      : IBUP_KVP_VALUE_SIZE);
		k++;
	}
	if (k == 0) {
		free(v);
		v = NULL;
	}
	*ret = TAKE_PTR(v);
	*ret_n = (unsigned)k;
	return 0;
}

/* Whole-file fcntl lock: F_RDLCK to share it with other readers, F_UNLCK to drop it. */
static int lock_whole(int fd, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 0, /* to the end, however long the file grows */
	};

	const struct timespec tick = { .tv_nsec = 20 * 1000 * 1000 };

	/* The daemon holds its lock for a write of a few kilobytes: wait for it, but not
	 * for ever (5 s), so a stuck lock holder cannot hang ibup. */
	for (unsigned tries = 0; fcntl(fd, F_SETLK, &fl) < 0; tries++) {
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -errno;
		if (tries >= 250)
			return -EBUSY;
		nanosleep(&tick, NULL);
	}
	return 0;
}

/*
 * Say who holds the lock that kept us out: "Device or resource busy" alone names
 * neither the file nor the process, and the holder is normally hv_kvp_daemon.
 */
static void report_holder(struct ibup_ctx *ctx, int fd, const char *path)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	char comm[64] = "";

	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK) {
		ibup_warn(ctx, "'/%s' stayed locked for more than 5 s", path);
		return;
	}
	/* l_pid is 0 for a holder in another PID namespace. */
	if (fl.l_pid > 0 &&
	    ibup_read_attr(ctx, comm, sizeof(comm), "proc/%d/comm", (int)fl.l_pid) > 0)
		ibup_warn(ctx,
			  "'/%s' stayed locked for more than 5 s by %s (pid %d; "
			  "hv_kvp_daemon holds it only while it writes the pool)",
			  path, comm, (int)fl.l_pid);
	else if (fl.l_pid > 0)
		ibup_warn(ctx,
			  "'/%s' stayed locked for more than 5 s by pid %d (normally "
			  "hv_kvp_daemon, while it writes the pool)",
			  path, (int)fl.l_pid);
	else
		ibup_warn(ctx,
			  "'/%s' stayed locked for more than 5 s by a process outside "
			  "this PID namespace (normally hv_kvp_daemon)",
			  path);
}

/* Up to @max bytes of @f into a new buffer; -EFBIG when there are more. */
static int read_bounded(FILE *f, size_t max, unsigned char **ret_data, size_t *ret_len)
{
	_cleanup_free_ unsigned char *data = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		size_t want, got;

		if (len == cap) {
			unsigned char *q;

			/* One byte beyond @max tells a full pool from an oversized one. */
			cap = cap ? cap * 2 : 4 * RECORD_SIZE;
			if (cap > max + 1)
				cap = max + 1;
			q = realloc(data, cap);
			if (!q)
				return -ENOMEM;
			data = q;
		}
		want = cap - len;
		got = fread(data + len, 1, want, f);
		len += got;
		if (len > max)
			return -EFBIG;
		if (got < want) {
			if (ferror(f))
				return errno ? -errno : -EIO;
			break;
		}
	}
	*ret_data = TAKE_PTR(data);
	*ret_len = len;
	return 0;
}

int ibup_kvp_read(struct ibup_ctx *ctx, const char *path, struct ibup_kvp_record **ret,
		  unsigned *ret_n, struct ibup_diag *reterr_diag)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ unsigned char *data = NULL;
	size_t len = 0;
	int r, fd;

	r = ibup_open_file(ctx, path, &f);
	if (r < 0)
		return r;
	fd = fileno(f);
	/*
	 * hv_kvp_daemon rewrites a pool under F_WRLCK (kvp_update_file) and reads it under
	 * F_RDLCK (kvp_update_mem_state); taking the read lock keeps us from seeing a
	 * half-written pool. The daemon holds its lock only for the write itself.
	 */
	r = lock_whole(fd, F_RDLCK);
	if (r == -EBUSY)
		report_holder(ctx, fd, path);
	if (r < 0)
		return r;
	errno = 0;
	r = read_bounded(f, (size_t)IBUP_KVP_MAX_RECORDS * RECORD_SIZE, &data, &len);
	/* Closing would drop the lock too; release it first so the window is the read. */
	(void)lock_whole(fd, F_UNLCK);
	if (r < 0)
		return r;
	return ibup_kvp_parse(data, len, ret, ret_n, reterr_diag);
}

const char *ibup_kvp_get(const struct ibup_kvp_record *v, unsigned n, const char *key)
{
	/* The agent stops at the first record with the key (hv_kvp_daemon updates a key
	 * in place, so a second one is not an update). */
	for (unsigned i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return v[i].value;
	return NULL;
}

int ibup_azure_physical_host(struct ibup_ctx *ctx, char **ret_name)
{
	_cleanup_free_ struct ibup_kvp_record *recs = NULL;
	struct ibup_diag diag = { 0 };
	unsigned n = 0;
	const char *v;
	int r;

	r = ibup_kvp_read(ctx, "var/lib/hyperv/.kvp_pool_3", &recs, &n, &diag);
	if (r < 0)
		return r;
	v = ibup_kvp_get(recs, n, "PhysicalHostName");
	if (!v || !*v)
		return -ENOENT;
	*ret_name = strdup(v);
	return *ret_name ? 0 : -ENOMEM;
}

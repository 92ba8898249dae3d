// SPDX-License-Identifier: MIT
/*
 * All file access under the context's root: the bounded attribute reader, directory
 * listing, symlink reading, whole-file reads and the one atomic writer.
 *
 * Paths are resolved with openat2(RESOLVE_IN_ROOT), so a fixture's or image's absolute
 * and ".." symlinks stay inside its root, as they would after a chroot. Kernels before
 * 5.6 lack openat2; there we fall back to openat(), which is exact for the live root
 * and lets absolute symlinks of another root point outside it.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>

#include "internal.h"
#include "banned.h"

#define MAX_LINKS 40 /* as the kernel's path walk */

/*
 * glibc before 2.32 (Debian 11, the portable build) has no SYS_openat2; the kernel's
 * headers (5.6 and later, as <linux/openat2.h> needs) have its number.
 */
#ifndef SYS_openat2
#define SYS_openat2 __NR_openat2
#endif

/*
 * openat2's RESOLVE_IN_ROOT / RESOLVE_BENEATH for kernels without it (before 5.6, or a
 * seccomp filter that refuses it): walk @path one component at a time below @dirfd.
 * ".." never climbs above @dirfd; in @in_root mode an absolute symlink restarts at
 * @dirfd, otherwise it, or a ".." past @dirfd, is -EXDEV. The walk is not atomic against
 * a tree changed underneath it; it is for reading images and captures.
 */
static int open_emulated(int dirfd, const char *path, int flags, bool in_root)
{
	char resolved[PATH_MAX] = "", rest[PATH_MAX], target[PATH_MAX];
	unsigned links = 0;

	if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest))
		return -ENAMETOOLONG;
	if (*rest == '/' && !in_root)
		return -EXDEV;
	while (*rest) {
		char comp[NAME_MAX + 1], cand[PATH_MAX], *p = rest, *slash;
		struct stat st;
		size_t len;
		ssize_t n;

		while (*p == '/')
			p++;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(comp, p, len);
		comp[len] = '\0';
		memmove(rest, p + len, strlen(p + len) + 1);
		if (!*comp || strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			char *last = strrchr(resolved, '/');

			if (!*resolved && !in_root)
				return -EXDEV;
			if (last)
				*last = '\0';
			else
				*resolved = '\0';
			continue;
		}
		if (snprintf(cand, sizeof(cand), "%s%s%s", resolved, *resolved ? "/" : "",
			     comp) >= (int)sizeof(cand))
			return -ENAMETOOLONG;
		if (fstatat(dirfd, cand, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			/* The last component, to be created: in the directory walked to. */
			if (errno == ENOENT && (flags & O_CREAT) && !*rest) {
				int fd = openat(dirfd, cand, flags | O_NOFOLLOW, 0644);

				return fd < 0 ? -errno : fd;
			}
			return -errno;
		}
		if (!S_ISLNK(st.st_mode)) {
			memcpy(resolved, cand, strlen(cand) + 1);
			continue;
		}
		if (++links > MAX_LINKS)
			return -ELOOP;
		n = readlinkat(dirfd, cand, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (*target == '/') {
			if (!in_root)
				return -EXDEV;
			*resolved = '\0';
		}
		if (strlen(target) + 1 + strlen(rest) + 1 > sizeof(rest))
			return -ENAMETOOLONG;
		memmove(rest + strlen(target) + 1, rest, strlen(rest) + 1);
		memcpy(rest, target, strlen(target));
		rest[strlen(target)] = '/';
	}
	return openat(dirfd, *resolved ? resolved : ".", flags | O_NOFOLLOW);
}

/*
 * Open @path below @dirfd, contained: with RESOLVE_IN_ROOT (@in_root) symlinks resolve as
 * if @dirfd were "/", otherwise (RESOLVE_BENEATH) nothing may leave @dirfd. @exact says
 * plain openat() is already right (the live system's root). Returns an fd or -errno.
 */
static int open_resolved(int dirfd, const char *path, int flags, bool in_root, bool exact)
{
	static bool no_openat2;
	/* Files created this way (the state directory's lock) are 0644 before the umask. */
	mode_t mode = (flags & O_CREAT) ? 0644 : 0;
	struct open_how how = {
		.flags = (uint64_t)flags,
		.mode = mode,
		.resolve = (in_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) |
			   RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (!no_openat2) {
		/*
		 * With RESOLVE_IN_ROOT/BENEATH, a ".." (sys/class/net/ib0 is a link to
		 * ../../devices/...) fails with EAGAIN whenever any rename or mount on the
		 * system races the walk; on a busy host that dropped attributes at random.
		 * Retry, then take the contained walk, which has no such limit.
		 */
		unsigned tries = 0;

		do
			fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		while (fd < 0 && errno == EAGAIN && ++tries < 64);
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS && errno != EPERM && errno != EAGAIN)
			return -errno;
		/* ENOSYS: old kernel; EPERM: a seccomp filter that does not know openat2. */
		if (errno != EAGAIN)
			no_openat2 = true;
	}
	if (exact) {
		fd = openat(dirfd, path, flags, mode);
		return fd < 0 ? -errno : fd;
	}
	/* One plain name needs no walk: O_NOFOLLOW keeps it from being a link out. */
	if (!strchr(path, '/') && strcmp(path, "..") != 0) {
		fd = openat(dirfd, path, flags | O_NOFOLLOW, mode);
		return fd < 0 ? -errno : fd;
	}
	return open_emulated(dirfd, path, flags, in_root);
}

_printf_(3, 0) static int vpath(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, size, fmt, ap);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int open_under_root(struct ibup_ctx *ctx, const char *path, int flags)
{
	return open_resolved(ctx->root_fd, path, flags | O_CLOEXEC, true, ctx->live);
}

int ibup_open_under_root(struct ibup_ctx *ctx, const char *path, int flags)
{
	return open_under_root(ctx, path, flags);
}

/*
 * Read a small attribute whole; the caller's buffer bounds it. Attributes are regular
 * files: anything else (a FIFO, a device node such as /dev/zero or a tty, a directory)
 * is -EINVAL before a byte is read. Files are opened with O_NONBLOCK and O_NOCTTY, so
 * that the open itself neither blocks on a FIFO nor takes a terminal.
 */
static int read_small(int fd, char *buf, size_t size)
{
	struct stat st;
	size_t len = 0;
	char extra;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EISDIR ? -EINVAL : -errno;
		}
		len += (size_t)n;
		/* A short read of a regular file is its end: sysfs hands over the whole
		 * attribute at once, so this saves a second read per file. */
		if (n == 0 || len < size - 1)
			break;
	}
	if (len == size - 1) {
		ssize_t n = read(fd, &extra, 1);

		if (n > 0)
			return -EOVERFLOW;
	}
	if (memchr(buf, '\0', len))
		return -EBADMSG;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	return (int)len;
}

int ibup_read_attr(struct ibup_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpath(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	fd = open_under_root(ctx, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fd;
	return read_small(fd, buf, size);
}

int ibup_read_attr_at(int dirfd, char *buf, size_t size, const char *name)
{
	_cleanup_close_ int fd = -1;

	fd = open_resolved(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
			   false, false);
	if (fd < 0)
		return fd;
	return read_small(fd, buf, size);
}

int ibup_open_dir(struct ibup_ctx *ctx, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpath(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	return open_under_root(ctx, path, O_RDONLY | O_DIRECTORY);
}

int ibup_open_dir_at(int dirfd, const char *name)
{
	return open_resolved(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, false,
			     false);
}

int ibup_read_link(struct ibup_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	_cleanup_close_ int dfd = -1;
	char path[PATH_MAX];
	const char *base;
	va_list ap;
	ssize_t n;
	int r;

	va_start(ap, fmt);
	r = vpath(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	base = strrchr(path, '/');
	if (base) {
		path[base - path] = '\0';
		base++;
		dfd = open_under_root(ctx, path, O_PATH | O_DIRECTORY);
		if (dfd < 0)
			return dfd;
	} else {
		base = path;
	}
	n = readlinkat(dfd >= 0 ? dfd : ctx->root_fd, base, buf, size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -EOVERFLOW;
	buf[n] = '\0';
	return (int)n;
}

int ibup_path_exists(struct ibup_ctx *ctx, const char *fmt, ...)
{
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpath(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	fd = open_under_root(ctx, path, O_PATH);
	if (fd >= 0)
		return 1;
	return fd == -ENOENT || fd == -ENOTDIR ? 0 : fd;
}

int ibup_open_file(struct ibup_ctx *ctx, const char *path, FILE **ret_file)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	FILE *f;

	fd = open_under_root(ctx, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	f = fdopen(fd, "r");
	if (!f)
		return -errno;
	TAKE_FD(fd);
	*ret_file = f;
	return 0;
}

int ibup_read_file(struct ibup_ctx *ctx, const char *path, size_t max, char **ret_data,
		   size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *data = NULL;
	size_t len = 0, cap = 0;
	struct stat st;

	fd = open_under_root(ctx, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *p;

			if (cap > max)
				return -EFBIG;
			cap = cap ? cap * 2 : 4096;
			p = realloc(data, cap + 1);
			if (!p)
				return -ENOMEM;
			data = p;
		}
		n = read(fd, data + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
	}
	if (!data) {
		data = strdup("");
		if (!data)
			return -ENOMEM;
	}
	data[len] = '\0';
	*ret_data = TAKE_PTR(data);
	if (ret_len)
		*ret_len = len;
	return 0;
}

char **ibup_strv_free(char **v, unsigned n)
{
	if (!v)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return NULL;
}

static int cmp_version(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

int ibup_list_dir_at(int dirfd, unsigned max, char ***ret_names, unsigned *ret_n)
{
	_cleanup_closedir_ DIR *d = NULL;
	char **names = NULL;
	unsigned n = 0, cap = 0;
	struct dirent *de;
	bool truncated = false;
	int fd, r = 0;

	/* fdopendir() takes the fd it is given: hand it a duplicate, which is cheaper than
	 * opening "." again. The two share a file offset, so start from the beginning. */
	fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == max) {
			truncated = true;
			break;
		}
		if (n == cap) {
			char **p;

			cap = cap ? cap * 2 : 16;
			p = realloc(names, cap * sizeof(*p));
			if (!p) {
				r = -ENOMEM;
				break;
			}
			names = p;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (!r && errno)
		r = -errno;
	if (r < 0) {
		ibup_strv_free(names, n);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_version);
	*ret_names = names;
	*ret_n = n;
	return truncated;
}

/* Write all of @data to @fd. */
int ibup_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Whether the file at @fd already holds exactly @data. */
static bool same_content(int fd, const void *data, size_t len)
{
	char buf[8192];
	const char *p = data;
	size_t off = 0;
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
		return false;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);

		if (n < 0)
			return false;
		if (n == 0)
			return off == len;
		if (off + (size_t)n > len || memcmp(buf, p + off, (size_t)n) != 0)
			return false;
		off += (size_t)n;
	}
}

/*
 * Keep the first original of a file ibup changes as "<base>.ibup-orig": written beside
 * it under a temporary name, synced, read back and compared, then renamed into place
 * only if no original is kept yet. An interrupted copy leaves no backup at all, never a
 * short one that would later be restored as the original.
 */
static int copy_to_backup(int dirfd, const char *base, int srcfd)
{
	_cleanup_free_ char *bak = NULL, *tmp = NULL, *data = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t len = 0;
	int r;

	if (asprintf(&bak, "%s.ibup-orig", base) < 0 ||
	    asprintf(&tmp, "%s.ibup-orig-new", base) < 0)
		return -ENOMEM;
	if (faccessat(dirfd, bak, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0; /* the first original is the one kept */
	if (fstat(srcfd, &st) < 0)
		return -errno;
	if (st.st_size > IBUP_CONF_MAX * 64)
		return -EFBIG;
	data = malloc((size_t)st.st_size + 1);
	if (!data)
		return -ENOMEM;
	for (;;) {
		ssize_t n = pread(srcfd, data + len, (size_t)st.st_size + 1 - len,
				  (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size)
			return -EAGAIN; /* growing underneath us */
	}
	fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    st.st_mode & 07777);
	if (fd < 0)
		return -errno;
	r = ibup_write_all(fd, data, len);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r >= 0 && !same_content(fd, data, len))
		r = -EIO;
	if (r >= 0 && renameat2(dirfd, tmp, dirfd, bak, RENAME_NOREPLACE) < 0 &&
	    errno != EEXIST)
		r = -errno;
	unlinkat(dirfd, tmp, 0); /* gone after the rename; left by EEXIST or an error */
	return r < 0 ? r : 0;
}

/* Give the new file its mode, owner, backup and content; the caller publishes it. */
static int fill_new_file(int fd, int dirfd, const char *base, int oldfd, const void *data,
			 size_t len, unsigned mode, unsigned flags)
{
	struct stat st;
	int r;

	if (oldfd >= 0) {
		if (fstat(oldfd, &st) < 0)
			return -errno;
		/* Keep the original's mode and, when we may, its owner. */
		if (fchmod(fd, st.st_mode & 07777) < 0)
			return -errno;
		if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM)
			return -errno;
		if (flags & IBUP_WRITE_BACKUP) {
			r = copy_to_backup(dirfd, base, oldfd);
			if (r < 0)
				return r;
		}
	} else if (fchmod(fd, mode & 07777) < 0) {
		/* The umask must not narrow the mode the caller asked for. */
		return -errno;
	}
	r = ibup_write_all(fd, data, len);
	if (r < 0)
		return r;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

/*
 * One writer at a time per directory: an flock on the directory itself, so the lock
 * ends with its holder (a killed run leaves nothing that blocks the next) and no lock
 * file is left in /etc. Our own concurrent runs wait a little; -EBUSY after that.
 */
static int lock_dir(int dirfd)
{
	const struct timespec tick = { .tv_nsec = 20 * 1000 * 1000 };

	for (unsigned i = 0; i < 100; i++) {
		if (flock(dirfd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		nanosleep(&tick, NULL);
	}
	return -EBUSY;
}

int ibup_file_replace(struct ibup_ctx *ctx, const char *path, const void *data,
		      size_t len, unsigned mode, unsigned flags)
{
	_cleanup_close_ int dirfd = -1, oldfd = -1, fd = -1;
	_cleanup_free_ char *dir = NULL, *tmp = NULL;
	const char *base;
	int r;

	base = strrchr(path, '/');
	if (base) {
		dir = strndup(path, (size_t)(base - path));
		base++;
	} else {
		dir = strdup(".");
		base = path;
	}
	if (!dir)
		return -ENOMEM;
	if (!*base)
		return -EISDIR;
	if ((flags & IBUP_WRITE_MKDIR) && base != path) {
		r = ibup_mkdir_p(ctx, dir, 0755);
		if (r < 0)
			return r;
	}
	dirfd = open_under_root(ctx, dir, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0)
		return dirfd;
	r = lock_dir(dirfd);
	if (r < 0)
		return r;

	oldfd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (oldfd < 0 && errno != ENOENT)
		return -errno;
	if (oldfd >= 0) {
		struct stat st;

		if (fstat(oldfd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return -EINVAL; /* a device, FIFO or directory is not replaced */
		if (same_content(oldfd, data, len))
			return 0;
	}

	/* Under the lock the temporary name is ours; one left by a killed run is reused. */
	if (asprintf(&tmp, "%s.ibup-new", base) < 0)
		return -ENOMEM;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    mode & 07777);
	if (fd < 0)
		return -errno;

	r = fill_new_file(fd, dirfd, base, oldfd, data, len, mode, flags);
	if (r >= 0 && renameat(dirfd, tmp, dirfd, base) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	/* The rename is durable only once the directory is. */
	if (fsync(dirfd) < 0)
		return -errno;
	return 1;
}

int ibup_file_write_path(const char *path, const void *data, size_t len, unsigned mode)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	_cleanup_free_ char *dir =
		slash ? strndup(path, (size_t)(slash - path) + 1) : strdup(".");
	struct ibup_ctx *ctx = NULL;
	int r;

	if (!dir)
		return -ENOMEM;
	if (!*base)
		return -EISDIR;
	r = ibup_ctx_new(dir, &ctx);
	if (r < 0)
		return r;
	r = ibup_file_replace(ctx, base, data, len, mode, 0);
	ibup_ctx_free(ctx);
	return r;
}

int ibup_list_dir_logged(struct ibup_ctx *ctx, int dirfd, unsigned max, char ***ret_names,
			 unsigned *ret_n, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	int r;

	*ret_names = NULL;
	*ret_n = 0;
	r = ibup_list_dir_at(dirfd, max, ret_names, ret_n);
	if (r == 0 || r == -ENOMEM)
		return r;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (r < 0)
		ibup_warn(ctx, "cannot list '/%s': %s", path, strerror(-r));
	else
		ibup_warn(ctx, "more than %u entries in '/%s'; the rest are left out",
			  max, path);
	return 0;
}

int ibup_file_remove(struct ibup_ctx *ctx, const char *path)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *dir = NULL;
	const char *base = strrchr(path, '/');

	dir = base ? strndup(path, (size_t)(base - path)) : strdup(".");
	if (!dir)
		return -ENOMEM;
	dirfd = open_under_root(ctx, dir, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0)
		return dirfd == -ENOENT ? 0 : dirfd;
	if (unlinkat(dirfd, base ? base + 1 : path, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 1;
}

/*
 * Each missing component is created with mkdirat() in its parent as resolved inside
 * the root, so a symlinked parent (etc/udev -> /elsewhere) is followed as a chroot
 * would, never out of the root.
 */
int ibup_mkdir_p(struct ibup_ctx *ctx, const char *path, unsigned mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf;; p++) {
		_cleanup_close_ int fd = -1, parent = -1;
		char c = *p, *slash;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (*buf) {
			fd = open_under_root(ctx, buf, O_RDONLY | O_DIRECTORY);
			if (fd == -ENOENT) {
				slash = strrchr(buf, '/');
				if (slash)
					*slash = '\0';
				parent = open_under_root(ctx, slash ? buf : ".",
							 O_RDONLY | O_DIRECTORY);
				if (slash)
					*slash = '/';
				if (parent < 0)
					return parent;
				if (mkdirat(parent, slash ? slash + 1 : buf, mode) < 0 &&
				    errno != EEXIST)
					return -errno;
				fd = open_under_root(ctx, buf, O_RDONLY | O_DIRECTORY);
			}
			if (fd < 0)
				return fd;
		}
		*p = c;
		if (!c)
			return 0;
	}
}

int ibup_write_device(struct ibup_ctx *ctx, const char *path, const void *data,
		      size_t len)
{
	_cleanup_close_ int fd = -1;

	fd = open_under_root(ctx, path, O_WRONLY | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	return ibup_write_all(fd, data, len);
}

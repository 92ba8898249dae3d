// SPDX-License-Identifier: MIT
/* The attribute reader, directory listing, symlinks under a root, the atomic writer. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "internal.h"
#include "tmp-root.h"

struct fx {
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
};

static void put(struct fx *f, const char *rel, const void *data, size_t len)
{
	tmp_root_write(f->root, rel, data, len);
}

static void mkdir_in(struct fx *f, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void link_in(struct fx *f, const char *target, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	tmp_root_make(f->root, "fileio", &f->ctx);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tmp_root_remove(f->root, f->ctx);
	free(f);
	return 0;
}

static void test_ctx(void **state)
{
	struct ibup_ctx *ctx = NULL;

	assert_int_equal(ibup_ctx_new(NULL, &ctx), 0);
	assert_string_equal(ibup_ctx_get_root(ctx), "/");
	assert_true(ibup_ctx_is_live(ctx));
	ctx = ibup_ctx_free(ctx);
	assert_null(ctx);
	assert_int_equal(ibup_ctx_new("/tmp/", &ctx), 0);
	assert_string_equal(ibup_ctx_get_root(ctx), "/tmp");
	assert_false(ibup_ctx_is_live(ctx));
	ibup_ctx_free(ctx);
	assert_int_equal(ibup_ctx_new("/nonexistent/ibup", &ctx), -ENOENT);
	assert_int_equal(ibup_ctx_new("/etc/hostname", &ctx), -ENOTDIR);
}

static void test_read_attr(void **state)
{
	struct fx *f = *state;
	char buf[IBUP_ATTR_MAX], big[IBUP_ATTR_MAX + 10];

	put(f, "state", "4: ACTIVE\n", 10);
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "state"), 9);
	assert_string_equal(buf, "4: ACTIVE");
	/* Only one trailing newline is the kernel's. */
	put(f, "two", "a\n\n", 3);
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "two"), 2);
	assert_string_equal(buf, "a\n");
	put(f, "empty", "", 0);
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "empty"), 0);
	assert_string_equal(buf, "");
	/* Too long: an error, never a truncated value. */
	memset(big, 'x', sizeof(big));
	put(f, "big", big, sizeof(big));
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "big"), -EOVERFLOW);
	/* Exactly as long as the buffer allows. */
	put(f, "fits", big, sizeof(buf) - 1);
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "fits"),
			 sizeof(buf) - 1);
	put(f, "nul", "4:\0ACTIVE\n", 10);
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "nul"), -EBADMSG);
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "missing"), -ENOENT);
	mkdir_in(f, "dir");
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "dir"), -EINVAL);
}

static void test_fifo_never_blocks(void **state)
{
	struct fx *f = *state;
	char path[512], buf[64];

	snprintf(path, sizeof(path), "%s/fifo", f->root);
	assert_int_equal(mkfifo(path, 0644), 0);
	/* Opened without blocking: never a hang, and not mistaken for an empty value. */
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "fifo"), -EINVAL);
}

static void test_symlinks_stay_in_root(void **state)
{
	struct fx *f = *state;
	char buf[256];

	mkdir_in(f, "sys");
	mkdir_in(f, "sys/devices");
	put(f, "sys/devices/value", "inside\n", 7);
	/* An absolute link means the root's /, as after chroot. */
	link_in(f, "/sys/devices", "sys/abs");
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "sys/abs/value"), 6);
	assert_string_equal(buf, "inside");
	link_in(f, "devices", "sys/rel");
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "sys/rel/value"), 6);
	/* ".." past the root stays at the root: /etc/hostname of the host is unreachable. */
	link_in(f, "../../../../../../../../etc/hostname", "sys/escape");
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "sys/escape"), -ENOENT);
	link_in(f, "/etc/hostname", "sys/escape-abs");
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "sys/escape-abs"),
			 -ENOENT);
	/* A loop is an error, not a hang. */
	link_in(f, "loop-b", "sys/loop-a");
	link_in(f, "loop-a", "sys/loop-b");
	assert_int_equal(ibup_read_attr(f->ctx, buf, sizeof(buf), "sys/loop-a"), -ELOOP);
	assert_int_equal(ibup_read_link(f->ctx, buf, sizeof(buf), "sys/abs"), 12);
	assert_string_equal(buf, "/sys/devices");
	assert_int_equal(ibup_read_link(f->ctx, buf, 4, "sys/abs"), -EOVERFLOW);
	assert_int_equal(ibup_read_link(f->ctx, buf, sizeof(buf), "sys/devices"),
			 -EINVAL);
	assert_int_equal(ibup_path_exists(f->ctx, "sys/abs/value"), 1);
	assert_int_equal(ibup_path_exists(f->ctx, "sys/abs/none"), 0);
}

static void test_at_stays_beneath(void **state)
{
	struct fx *f = *state;
	_cleanup_close_ int fd = -1;
	char buf[64];

	mkdir_in(f, "port");
	mkdir_in(f, "port/pkeys");
	put(f, "port/pkeys/0", "0x800b\n", 7);
	put(f, "secret", "no\n", 3);
	link_in(f, "../../secret", "port/pkeys/1");
	fd = ibup_open_dir(f->ctx, "port");
	assert_true(fd >= 0);
	assert_int_equal(ibup_read_attr_at(fd, buf, sizeof(buf), "pkeys/0"), 6);
	assert_string_equal(buf, "0x800b");
	assert_int_equal(ibup_read_attr_at(fd, buf, sizeof(buf), "pkeys/1"), -EXDEV);
}

static void test_list_dir(void **state)
{
	struct fx *f = *state;
	_cleanup_close_ int fd = -1;
	char **names = NULL;
	unsigned n = 0;

	mkdir_in(f, "class");
	put(f, "class/mlx5_10", "", 0);
	put(f, "class/mlx5_2", "", 0);
	put(f, "class/mlx5_1", "", 0);
	put(f, "class/ib0", "", 0);
	fd = ibup_open_dir(f->ctx, "class");
	assert_true(fd >= 0);
	assert_int_equal(ibup_list_dir_at(fd, 16, &names, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "ib0");
	assert_string_equal(names[1], "mlx5_1");
	assert_string_equal(names[2], "mlx5_2");
	assert_string_equal(names[3], "mlx5_10");
	names = ibup_strv_free(names, n);
	/* Past the bound: the first entries are kept, and the caller is told. */
	assert_int_equal(ibup_list_dir_at(fd, 3, &names, &n), 1);
	assert_int_equal(n, 3);
	ibup_strv_free(names, n);
}

static void test_read_file(void **state)
{
	struct fx *f = *state;
	char *data = NULL;
	size_t len = 0;

	put(f, "conf", "a=b\n", 4);
	assert_int_equal(ibup_read_file(f->ctx, "conf", 100, &data, &len), 0);
	assert_int_equal(len, 4);
	assert_string_equal(data, "a=b\n");
	free(data);
	assert_int_equal(ibup_read_file(f->ctx, "conf", 3, &data, &len), -EFBIG);
	assert_int_equal(ibup_read_file(f->ctx, "none", 3, &data, &len), -ENOENT);
}

static void slurp(struct fx *f, const char *rel, char *buf, size_t size)
{
	assert_true(ibup_read_attr(f->ctx, buf, size, "%s", rel) >= 0);
}

static void test_file_replace(void **state)
{
	struct fx *f = *state;
	char path[512], buf[256];
	struct stat st;
	mode_t old = umask(077);

	mkdir_in(f, "etc");
	/* A new file gets the mode asked for, whatever the umask. */
	assert_int_equal(ibup_file_replace(f->ctx, "etc/new.conf", "one\n", 4, 0644,
					   IBUP_WRITE_BACKUP),
			 1);
	umask(old);
	snprintf(path, sizeof(path), "%s/etc/new.conf", f->root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	slurp(f, "etc/new.conf", buf, sizeof(buf));
	assert_string_equal(buf, "one");
	/* The same content again: nothing written, no backup. */
	assert_int_equal(ibup_file_replace(f->ctx, "etc/new.conf", "one\n", 4, 0600,
					   IBUP_WRITE_BACKUP),
			 0);
	assert_int_equal(ibup_path_exists(f->ctx, "etc/new.conf.ibup-orig"), 0);
	/* A change keeps the original's mode and saves its first content once. */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(ibup_file_replace(f->ctx, "etc/new.conf", "two\n", 4, 0644,
					   IBUP_WRITE_BACKUP),
			 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	slurp(f, "etc/new.conf", buf, sizeof(buf));
	assert_string_equal(buf, "two");
	slurp(f, "etc/new.conf.ibup-orig", buf, sizeof(buf));
	assert_string_equal(buf, "one");
	assert_int_equal(ibup_file_replace(f->ctx, "etc/new.conf", "three\n", 6, 0644,
					   IBUP_WRITE_BACKUP),
			 1);
	slurp(f, "etc/new.conf.ibup-orig", buf, sizeof(buf));
	assert_string_equal(buf, "one");
	assert_int_equal(ibup_path_exists(f->ctx, "etc/new.conf.ibup-new"), 0);
	assert_int_equal(ibup_path_exists(f->ctx, "etc/new.conf.ibup-orig-new"), 0);
	/* What a killed writer leaves behind blocks nobody: the lock is an flock. */
	put(f, "etc/new.conf.ibup-lock", "", 0);
	put(f, "etc/new.conf.ibup-new", "half", 4);
	assert_int_equal(ibup_file_replace(f->ctx, "etc/new.conf", "four\n", 5, 0644, 0),
			 1);
	slurp(f, "etc/new.conf", buf, sizeof(buf));
	assert_string_equal(buf, "four");
	assert_int_equal(ibup_path_exists(f->ctx, "etc/new.conf.ibup-new"), 0);
	/* A writer at work (its flock on the directory): -EBUSY, nothing touched. */
	{
		_cleanup_close_ int dfd = -1;

		snprintf(path, sizeof(path), "%s/etc", f->root);
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(dfd >= 0);
		assert_int_equal(flock(dfd, LOCK_EX), 0);
		assert_int_equal(
			ibup_file_replace(f->ctx, "etc/new.conf", "five\n", 5, 0644, 0),
			-EBUSY);
	}
	slurp(f, "etc/new.conf", buf, sizeof(buf));
	assert_string_equal(buf, "four");
	assert_int_equal(ibup_file_replace(f->ctx, "nodir/x.conf", "x", 1, 0644, 0),
			 -ENOENT);
	assert_int_equal(ibup_file_replace(f->ctx, "etc/", "x", 1, 0644, 0), -EISDIR);
	/* Not a regular file: never replaced. */
	mkdir_in(f, "etc/adir");
	assert_int_equal(ibup_file_replace(f->ctx, "etc/adir", "x", 1, 0644, 0), -EINVAL);
}

/* Writes and directories stay inside the root, through any symlinked parent. */
static void test_writes_stay_in_root(void **state)
{
	struct fx *f = *state;
	char path[1200], out[300], link[400];

	snprintf(out, sizeof(out), "%s.outside", f->root);
	assert_int_equal(mkdir(out, 0755), 0);
	mkdir_in(f, "etc");
	snprintf(link, sizeof(link), "%s/etc/udev", f->root);
	assert_int_equal(symlink(out, link), 0); /* absolute, as an image may have */
	assert_true(ibup_mkdir_p(f->ctx, "etc/udev/rules.d", 0755) < 0);
	assert_true(ibup_file_replace(f->ctx, "etc/udev/rules.d/x.rules", "x", 1, 0644,
				      IBUP_WRITE_MKDIR) < 0);
	snprintf(path, sizeof(path), "%s/rules.d", out);
	assert_int_equal(access(path, F_OK), -1);
	/* The same link resolved as a chroot would: inside the root it is made. */
	snprintf(path, sizeof(path), "%s%s", f->root, out);
	assert_int_equal(ibup_mkdir_p(f->ctx, out + 1, 0755), 0);
	assert_int_equal(ibup_file_replace(f->ctx, "etc/udev/rules.d/x.rules", "x", 1,
					   0644, IBUP_WRITE_MKDIR),
			 1);
	snprintf(path, sizeof(path), "%s%s/rules.d/x.rules", f->root, out);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/rules.d", out);
	assert_int_equal(access(path, F_OK), -1);
	rmdir(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx),
		cmocka_unit_test_setup_teardown(test_read_attr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_never_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_stay_in_root, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_at_stays_beneath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes_stay_in_root, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

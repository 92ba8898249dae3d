// SPDX-License-Identifier: MIT
/*
 * lib/core/download.c and the executor's download step, against a real HTTP server on
 * 127.0.0.1 (tests/fakes/fake-http.c, started as a child process) that serves, drops,
 * stalls, redirects and fails on purpose. Every download lands under a temporary root.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ibup/ibup.h"
#include "internal.h"
#include "fake-http.h"
#include "tmp-root.h"

static pid_t server_pid;
static unsigned server_port;
static unsigned char *file_data; /* what the server serves */
static char file_sha[IBUP_SHA256_HEX];
static const char other_sha[] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static int start_server(void **state)
{
	static const char *const proxies[] = { "http_proxy", "https_proxy", "HTTPS_PROXY",
					       "all_proxy",  "ALL_PROXY",   "no_proxy",
					       "NO_PROXY" };
	char line[32];
	FILE *f;
	int p[2];

	/* The loopback server is reached directly, whatever the environment says. */
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	file_data = malloc(FAKE_HTTP_LEN);
	if (!file_data || pipe(p) < 0)
		return -1;
	fake_http_fill(file_data, 0, FAKE_HTTP_LEN);
	if (ibup_sha256_hex(file_data, FAKE_HTTP_LEN, file_sha) < 0)
		return -1;
	server_pid = fork();
	if (server_pid < 0)
		return -1;
	if (server_pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(FAKE_HTTP, FAKE_HTTP, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	if (!f || !fgets(line, sizeof(line), f))
		return -1;
	fclose(f);
	server_port = (unsigned)strtoul(line, NULL, 10);
	return server_port ? 0 : -1;
}

static int stop_server(void **state)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	free(file_data);
	return 0;
}

static char *url(const char *path)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%u%s", server_port, path);
	return buf;
}

/* Fast retries and a one-second stall limit: the test's clock, not production's. */
static struct ibup_download_opts fast(void)
{
	return (struct ibup_download_opts){ .backoff_ms = 10, .low_speed_s = 1 };
}

static bool exists(const char *root, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return lstat(path, &st) == 0;
}

static off_t size_of(const char *root, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The file at @rel under @root is the served file. */
static void assert_file(const char *root, const char *rel)
{
	char path[512];
	unsigned char *buf = malloc(FAKE_HTTP_LEN + 1);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, FAKE_HTTP_LEN + 1, f), FAKE_HTTP_LEN);
	assert_memory_equal(buf, file_data, FAKE_HTTP_LEN);
	fclose(f);
	free(buf);
}

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

struct progress_log {
	unsigned calls;
	uint64_t last_now, last_total;
	bool went_back;
};

static void on_progress(void *data, const char *path, uint64_t now, uint64_t total)
{
	struct progress_log *p = data;

	if (p->calls && now < p->last_now)
		p->went_back = true;
	p->calls++;
	p->last_now = now;
	p->last_total = total;
}

static void test_success(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct progress_log log = { 0 };
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE], cached[128];

	tmp_root_make(root, "dl", &ctx);
	o.progress = on_progress;
	o.progress_data = &log;
	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, FAKE_HTTP_LEN,
				       "opt/pkgs/doca-host.deb", &o, &res),
			 0);
	assert_string_equal(res.error, "");
	assert_int_equal(res.attempts, 1);
	assert_int_equal(res.bytes, FAKE_HTTP_LEN);
	assert_int_equal(res.received, FAKE_HTTP_LEN);
	assert_int_equal(res.http_status, 200);
	assert_false(res.resumed || res.from_cache || res.already_present);
	assert_file(root, "opt/pkgs/doca-host.deb");
	assert_false(exists(root, "opt/pkgs/doca-host.deb.ibup-part"));
	/* Kept in the cache by its hash. */
	snprintf(cached, sizeof(cached), "var/lib/ibup/cache/%s", file_sha);
	assert_file(root, cached);
	/* Progress: forward only, ending at the whole file. */
	assert_true(log.calls >= 2);
	assert_false(log.went_back);
	assert_int_equal(log.last_now, FAKE_HTTP_LEN);
	assert_int_equal(log.last_total, FAKE_HTTP_LEN);
	tmp_root_remove(root, ctx);
}

/* No size given, no Content-Length: the body ends with the connection. */
static void test_unknown_size(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	o.no_cache = true;
	assert_int_equal(
		ibup_download(ctx, url("/nolength"), file_sha, 0, "pkg.tgz", &o, &res),
		0);
	assert_file(root, "pkg.tgz");
	assert_false(exists(root, "var/lib/ibup/cache"));
	tmp_root_remove(root, ctx);
}

static void test_redirect(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/redirect"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 0);
	assert_int_equal(res.attempts, 1);
	assert_file(root, "pkg.tgz");
	tmp_root_remove(root, ctx);
}

static void test_redirect_loop(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	o.max_redirects = 3;
	assert_int_equal(ibup_download(ctx, url("/redirect-loop"), file_sha, 0, "pkg.tgz",
				       &o, &res),
			 -ELOOP);
	assert_int_equal(res.attempts, 1); /* not retried */
	assert_non_null(strstr(res.error, "redirect"));
	assert_false(exists(root, "pkg.tgz"));
	tmp_root_remove(root, ctx);
}

/* Only http and https, also where a redirect leads. */
static void test_protocols(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/redirect-file"), file_sha, 0, "passwd",
				       &o, &res),
			 -EPROTONOSUPPORT);
	assert_int_equal(res.attempts, 1);
	assert_int_equal(
		ibup_download(ctx, "file:///etc/passwd", file_sha, 0, "passwd", &o, &res),
		-EPROTONOSUPPORT);
	assert_int_equal(ibup_download(ctx, "ftp://127.0.0.1:1/x", file_sha, 0, "passwd",
				       &o, &res),
			 -EPROTONOSUPPORT);
	assert_false(exists(root, "passwd"));
	assert_false(exists(root, "passwd.ibup-part"));
	tmp_root_remove(root, ctx);
}

/* Cut mid-body, then a Range request answered 206: only the rest is fetched. */
static void test_resume(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/drop"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 0);
	assert_int_equal(res.attempts, 2);
	assert_true(res.resumed);
	assert_int_equal(res.http_status, 206);
	assert_int_equal(res.received, FAKE_HTTP_LEN); /* half, then the other half */
	assert_file(root, "pkg.tgz");
	tmp_root_remove(root, ctx);
}

/* A server that ignores Range answers 200: the file starts over from zero. */
static void test_range_ignored(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/norange"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 0);
	assert_int_equal(res.attempts, 2);
	assert_false(res.resumed);
	assert_int_equal(res.http_status, 200);
	assert_int_equal(res.received, FAKE_HTTP_LEN / 2 + FAKE_HTTP_LEN);
	assert_file(root, "pkg.tgz");
	tmp_root_remove(root, ctx);
}

/* A 206 whose range does not continue the bytes on disk is not appended. */
static void test_range_mismatch(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/badrange"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 0);
	assert_int_equal(res.attempts, 3);
	assert_false(res.resumed);
	assert_file(root, "pkg.tgz");
	tmp_root_remove(root, ctx);
}

static void test_5xx_then_success(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/flaky"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 0);
	assert_int_equal(res.attempts, 3);
	assert_file(root, "pkg.tgz");
	tmp_root_remove(root, ctx);
}

static void test_5xx_exhausted(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	o.attempts = 3;
	assert_int_equal(
		ibup_download(ctx, url("/unavailable"), file_sha, 0, "pkg.tgz", &o, &res),
		-EREMOTEIO);
	assert_int_equal(res.attempts, 3);
	assert_int_equal(res.http_status, 503);
	assert_non_null(strstr(res.error, "HTTP 503"));
	assert_non_null(strstr(res.error, "(3 attempts)"));
	assert_false(exists(root, "pkg.tgz"));
	tmp_root_remove(root, ctx);
}

static void test_4xx_final(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(
		ibup_download(ctx, url("/missing"), file_sha, 0, "pkg.tgz", &o, &res),
		-ENOENT);
	assert_int_equal(res.attempts, 1);
	assert_int_equal(res.http_status, 404);
	assert_false(exists(root, "pkg.tgz"));
	assert_false(exists(root, "pkg.tgz.ibup-part"));
	tmp_root_remove(root, ctx);
}

static void test_wrong_checksum(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/file"), other_sha, FAKE_HTTP_LEN,
				       "opt/pkg.tgz", &o, &res),
			 -EBADMSG);
	assert_non_null(strstr(res.error, other_sha));
	assert_non_null(strstr(res.error, file_sha));
	assert_int_equal(res.attempts, 1);
	assert_false(exists(root, "opt/pkg.tgz"));
	assert_false(exists(root, "opt/pkg.tgz.ibup-part"));
	assert_false(exists(
		root,
		"var/lib/ibup/cache/"
		"0000000000000000000000000000000000000000000000000000000000000000"));
	tmp_root_remove(root, ctx);
}

/* A body shorter than the size the step names. */
static void test_short_body(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/short"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 -EBADMSG);
	assert_non_null(strstr(res.error, "expected 1048699"));
	assert_false(exists(root, "pkg.tgz"));
	assert_false(exists(root, "pkg.tgz.ibup-part"));
	tmp_root_remove(root, ctx);
}

/* The step's size is the cap: a larger declared body is refused before it is read. */
static void test_cap_size(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(
		ibup_download(ctx, url("/file"), file_sha, 1000, "pkg.tgz", &o, &res),
		-EFBIG);
	assert_int_equal(res.attempts, 1);
	assert_true(res.received < 1000);
	assert_non_null(strstr(res.error, "larger than 1000 bytes"));
	assert_false(exists(root, "pkg.tgz"));
	assert_false(exists(root, "pkg.tgz.ibup-part"));
	tmp_root_remove(root, ctx);
}

/* Without a size the cap is max_bytes; a body without a length is cut at it. */
static void test_cap_max_bytes(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	o.max_bytes = 64 * 1024;
	assert_int_equal(
		ibup_download(ctx, url("/nolength"), file_sha, 0, "pkg.tgz", &o, &res),
		-EFBIG);
	assert_int_equal(res.attempts, 1);
	assert_true(res.received <= 64 * 1024);
	assert_false(exists(root, "pkg.tgz"));
	assert_false(exists(root, "pkg.tgz.ibup-part"));
	tmp_root_remove(root, ctx);
}

/* A server that stops sending mid-body: the low-speed limit ends it, the rest resumes. */
static void test_stall(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	struct timespec t0;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ibup_download(ctx, url("/stall"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 0);
	assert_true(elapsed_s(&t0) < 30);
	assert_int_equal(res.attempts, 2);
	assert_true(res.resumed);
	assert_file(root, "pkg.tgz");
	tmp_root_remove(root, ctx);
}

/* Stalling every time: bounded; the part is kept and a later run resumes from it. */
static void test_stall_always_then_resume(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	struct timespec t0;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	o.attempts = 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ibup_download(ctx, url("/stall-always"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 -ETIMEDOUT);
	assert_true(elapsed_s(&t0) < 40);
	assert_int_equal(res.attempts, 2);
	assert_non_null(strstr(res.error, "(2 attempts)"));
	assert_false(exists(root, "pkg.tgz"));
	assert_int_equal(size_of(root, "pkg.tgz.ibup-part"), FAKE_HTTP_LEN / 2);

	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 0);
	assert_true(res.resumed);
	assert_int_equal(res.received, FAKE_HTTP_LEN - FAKE_HTTP_LEN / 2);
	assert_file(root, "pkg.tgz");
	assert_false(exists(root, "pkg.tgz.ibup-part"));
	tmp_root_remove(root, ctx);
}

/* Kept bytes of another file: the hash fails, one more fetch from zero fixes it. */
static void test_stale_part(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	tmp_root_write(root, "pkg.tgz.ibup-part", "not this file", 13);
	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 0);
	assert_int_equal(res.attempts, 2);
	assert_false(res.resumed);
	assert_file(root, "pkg.tgz");
	tmp_root_remove(root, ctx);
}

/* A whole-size part of another file (a run stopped before verifying it): fetched anew. */
static void test_stale_full_part(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	unsigned char *zeros = calloc(1, FAKE_HTTP_LEN);
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	assert_non_null(zeros);
	tmp_root_make(root, "dl", &ctx);
	tmp_root_write(root, "pkg.tgz.ibup-part", zeros, FAKE_HTTP_LEN);
	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, FAKE_HTTP_LEN,
				       "pkg.tgz", &o, &res),
			 0);
	assert_int_equal(res.attempts, 1);
	assert_int_equal(res.received, FAKE_HTTP_LEN);
	assert_file(root, "pkg.tgz");
	free(zeros);
	tmp_root_remove(root, ctx);
}

/* The whole file kept, its size unknown: the server's 416 to "Range: N-" completes it. */
static void test_complete_part(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	tmp_root_write(root, "pkg.tgz.ibup-part", file_data, FAKE_HTTP_LEN);
	assert_int_equal(
		ibup_download(ctx, url("/file"), file_sha, 0, "pkg.tgz", &o, &res), 0);
	assert_int_equal(res.attempts, 1);
	assert_int_equal(res.http_status, 416);
	assert_int_equal(res.received, 0);
	assert_file(root, "pkg.tgz");
	assert_false(exists(root, "pkg.tgz.ibup-part"));
	tmp_root_remove(root, ctx);
}

/* A file in the cache is used without a request (the URL leads nowhere). */
static void test_cache_hit(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, FAKE_HTTP_LEN,
				       "a.deb", &o, &res),
			 0);
	assert_int_equal(ibup_download(ctx, "http://127.0.0.1:1/gone", file_sha,
				       FAKE_HTTP_LEN, "other/b.deb", &o, &res),
			 0);
	assert_true(res.from_cache);
	assert_int_equal(res.attempts, 0);
	assert_int_equal(res.bytes, FAKE_HTTP_LEN);
	assert_file(root, "other/b.deb");
	/* Another cache directory, and none at all. */
	o.cache_dir = "srv/cache";
	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, FAKE_HTTP_LEN,
				       "c.deb", &o, &res),
			 0);
	assert_int_equal(res.attempts, 1);
	assert_true(exists(root, "srv/cache"));
	o.no_cache = true;
	assert_int_equal(ibup_download(ctx, "http://127.0.0.1:1/gone", file_sha,
				       FAKE_HTTP_LEN, "d.deb", &o, &res),
			 -ECONNREFUSED);
	tmp_root_remove(root, ctx);
}

/* A cache entry that is not the file its name says is dropped and fetched again. */
static void test_cache_corrupt(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE], cached[128];

	tmp_root_make(root, "dl", &ctx);
	snprintf(cached, sizeof(cached), "var/lib/ibup/cache/%s", file_sha);
	tmp_root_write(root, cached, "garbage", 7);
	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, 0, "a.deb", &o, &res),
			 0);
	assert_false(res.from_cache);
	assert_int_equal(res.attempts, 1);
	assert_file(root, "a.deb");
	assert_file(root, cached);
	tmp_root_remove(root, ctx);
}

/* The destination already holds the file: nothing is done; another content is replaced. */
static void test_destination(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	o.no_cache = true;
	tmp_root_write(root, "opt/a.deb", file_data, FAKE_HTTP_LEN);
	assert_int_equal(ibup_download(ctx, "http://127.0.0.1:1/gone", file_sha, 0,
				       "opt/a.deb", &o, &res),
			 0);
	assert_true(res.already_present);
	assert_int_equal(res.attempts, 0);
	tmp_root_write(root, "opt/b.deb", "old", 3);
	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, FAKE_HTTP_LEN,
				       "opt/b.deb", &o, &res),
			 0);
	assert_false(res.already_present);
	assert_file(root, "opt/b.deb");
	/* A directory in the file's place is not replaced. */
	tmp_root_write(root, "opt/dir.deb/x", "x", 1);
	assert_int_equal(
		ibup_download(ctx, url("/file"), file_sha, 0, "opt/dir.deb", &o, &res),
		-EISDIR);
	tmp_root_remove(root, ctx);
}

/* Symlinked parents and ".." resolve inside the root, as after a chroot. */
static void test_stays_in_root(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE], outside[64], link[128], inside[192];

	tmp_root_make(root, "dl", &ctx);
	o.no_cache = true;
	snprintf(outside, sizeof(outside), "/tmp/ibup-test-outside-XXXXXX");
	assert_non_null(mkdtemp(outside));
	snprintf(link, sizeof(link), "%s/opt", root);
	assert_int_equal(symlink(outside, link), 0);
	/* The link's target exists inside the root: that is where the file goes. */
	snprintf(inside, sizeof(inside), "%s/x", outside + 1);
	tmp_root_write(root, inside, "x", 1);
	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, FAKE_HTTP_LEN,
				       "opt/pkg.deb", &o, &res),
			 0);
	snprintf(inside, sizeof(inside), "%s/pkg.deb", outside + 1);
	assert_file(root, inside);
	snprintf(link, sizeof(link), "%s/pkg.deb", outside);
	assert_int_equal(access(link, F_OK), -1);
	assert_int_equal(ibup_download(ctx, url("/file"), file_sha, FAKE_HTTP_LEN,
				       "../../up.deb", &o, &res),
			 0);
	assert_file(root, "up.deb");
	assert_int_equal(rmdir(outside), 0);
	tmp_root_remove(root, ctx);
}

static void test_bad_arguments(void **state)
{
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_download(ctx, url("/file"), "abc", 0, "a", NULL, &res),
			 -EINVAL);
	assert_int_equal(
		ibup_download(ctx, url("/file"), file_sha, 0, "/etc/a", NULL, &res),
		-EINVAL);
	assert_int_equal(
		ibup_download(ctx, url("/file"), file_sha, 0, "etc/", NULL, &res),
		-EINVAL);
	assert_int_equal(ibup_download(ctx, NULL, file_sha, 0, "a", NULL, &res), -EINVAL);
	tmp_root_remove(root, ctx);
}

/* Two downloads to the same destination at once: the second is refused, not mixed in. */
static void test_busy(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_download_result res;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE], part[128];
	pid_t pid;
	int st;

	tmp_root_make(root, "dl", &ctx);
	snprintf(part, sizeof(part), "%s/pkg.tgz.ibup-part", root);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Holds the part's lock while it stalls for a few seconds. */
		struct ibup_download_opts slow = { .attempts = 1, .low_speed_s = 3 };

		_exit(ibup_download(ctx, url("/stall-always?busy"), file_sha, 0,
				    "pkg.tgz", &slow, &res) == -ETIMEDOUT
			      ? 0
			      : 1);
	}
	for (unsigned i = 0; i < 1000 && size_of(root, "pkg.tgz.ibup-part") <= 0; i++)
		usleep(10000);
	assert_int_equal(
		ibup_download(ctx, url("/file"), file_sha, 0, "pkg.tgz", &o, &res),
		-EBUSY);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	tmp_root_remove(root, ctx);
}

struct step_log {
	unsigned started, ended;
	int last;
	char detail[256];
};

static void on_step(void *data, const struct ibup_plan *plan, unsigned i, int result,
		    const char *detail)
{
	struct step_log *l = data;

	if (result == 1) {
		l->started++;
		return;
	}
	l->ended++;
	l->last = result;
	snprintf(l->detail, sizeof(l->detail), "%s", detail ? detail : "");
}

/* The plan's download step through the executor: journaled, done, journal removed. */
static void test_exec(void **state)
{
	struct ibup_download_opts o = fast();
	struct step_log log = { 0 };
	struct ibup_exec_opts eo = { .download = &o,
				     .progress = on_step,
				     .progress_data = &log };
	struct ibup_exec_result er;
	struct ibup_plan *plan;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_plan_new(ctx, "install --driver doca", &plan), 0);
	assert_int_equal(ibup_plan_download(plan, url("/drop?exec"), file_sha,
					    FAKE_HTTP_LEN, "var/cache/ibup/doca-host.deb",
					    "the DOCA-Host local repository package"),
			 1);
	assert_int_equal(ibup_plan_finish(plan), 0);
	assert_int_equal(ibup_plan_execute(ctx, plan, &eo, &er), 0);
	assert_int_equal(er.done, 1);
	assert_int_equal(er.status[0], IBUP_STEP_DONE);
	assert_int_equal(log.started, 1);
	assert_int_equal(log.last, 0);
	assert_string_equal(log.detail, "1048699 bytes, resumed");
	assert_file(root, "var/cache/ibup/doca-host.deb");
	assert_false(exists(root, "var/lib/ibup/journal.json"));
	ibup_exec_result_release(&er);
	ibup_plan_free(plan);
	tmp_root_remove(root, ctx);
}

/* A failed download stops the run with the journal kept; --resume finishes it. */
static void test_exec_fail_resume(void **state)
{
	struct ibup_download_opts o = fast();
	struct ibup_exec_opts eo = { .download = &o };
	struct ibup_exec_result er;
	struct ibup_plan *plan;
	struct ibup_ctx *ctx;
	char root[TMP_ROOT_SIZE];

	tmp_root_make(root, "dl", &ctx);
	assert_int_equal(ibup_plan_new(ctx, "install --driver doca", &plan), 0);
	assert_int_equal(ibup_plan_download(plan, url("/flaky?exec"), file_sha,
					    FAKE_HTTP_LEN, "opt/doca-host.deb",
					    "package"),
			 1);
	assert_int_equal(ibup_plan_finish(plan), 0);

	o.attempts = 1; /* the first 500 ends the run */
	assert_int_equal(ibup_plan_execute(ctx, plan, &eo, &er), -EREMOTEIO);
	assert_int_equal(er.status[0], IBUP_STEP_FAILED);
	assert_non_null(
		strstr(er.error, "step 1 of 1 (download /opt/doca-host.deb) failed"));
	assert_non_null(strstr(er.error, "HTTP 500"));
	assert_true(exists(root, "var/lib/ibup/journal.json"));
	assert_false(exists(root, "opt/doca-host.deb"));
	ibup_exec_result_release(&er);

	/* Without --resume the journaled run is not started over. */
	assert_int_equal(ibup_plan_execute(ctx, plan, &eo, &er), -EEXIST);
	ibup_exec_result_release(&er);

	o.attempts = 2; /* the second 500, then the file */
	eo.resume = true;
	assert_int_equal(ibup_plan_execute(ctx, plan, &eo, &er), 0);
	assert_true(er.resumed);
	assert_int_equal(er.done, 1);
	assert_file(root, "opt/doca-host.deb");
	assert_false(exists(root, "var/lib/ibup/journal.json"));
	ibup_exec_result_release(&er);
	ibup_plan_free(plan);
	tmp_root_remove(root, ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_unknown_size),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_redirect_loop),
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_range_ignored),
		cmocka_unit_test(test_range_mismatch),
		cmocka_unit_test(test_5xx_then_success),
		cmocka_unit_test(test_5xx_exhausted),
		cmocka_unit_test(test_4xx_final),
		cmocka_unit_test(test_wrong_checksum),
		cmocka_unit_test(test_short_body),
		cmocka_unit_test(test_cap_size),
		cmocka_unit_test(test_cap_max_bytes),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_stall_always_then_resume),
		cmocka_unit_test(test_stale_part),
		cmocka_unit_test(test_stale_full_part),
		cmocka_unit_test(test_complete_part),
		cmocka_unit_test(test_cache_hit),
		cmocka_unit_test(test_cache_corrupt),
		cmocka_unit_test(test_destination),
		cmocka_unit_test(test_stays_in_root),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_exec_fail_resume),
	};

	return cmocka_run_group_tests(tests, start_server, stop_server);
}

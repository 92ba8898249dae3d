// SPDX-License-Identifier: MIT
/*
 * Azure (lib/azure): IPoIB addressing from the platform (Hyper-V KVP pools, the
 * IPoIB_Data value, port GUID to MAC, waagent's SharedConfig.xml), the waagent.conf
 * editor, and the agent's version check.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "internal.h"

#define RECORD (IBUP_KVP_KEY_SIZE + IBUP_KVP_VALUE_SIZE)
#define SAMPLE "kvp_pool_0_single_pair.bin"

/* What an output parameter holds when a call must leave it alone. */
static char untouched[] = "untouched";

/* A pool of @n zeroed records. */
static unsigned char *pool_new(unsigned n)
{
	unsigned char *p = calloc(n ? n : 1, RECORD);

	assert_non_null(p);
	return p;
}

static void pool_put(unsigned char *p, unsigned i, const char *key, const char *value)
{
	memcpy(p + (size_t)i * RECORD, key, strlen(key));
	memcpy(p + (size_t)i * RECORD + IBUP_KVP_KEY_SIZE, value, strlen(value));
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void test_kvp_sample(void **state)
{
	struct ibup_kvp_record *v = NULL;
	struct ibup_ipoib_pair *pairs = NULL;
	struct ibup_ctx *ctx = NULL;
	struct ibup_diag diag;
	const uint8_t mac[6] = { 0x00, 0x15, 0x5d, 0x33, 0xff, 0x0b };
	unsigned char buf[RECORD + 1];
	unsigned n = 0, np = 0;
	const char *value;
	FILE *f;

	/* The real record: one 2560-byte record, as IBManager writes it. */
	assert_int_equal(ibup_ctx_new(IBUP_TEST_DATA, &ctx), 0);
	assert_int_equal(ibup_kvp_read(ctx, SAMPLE, &v, &n, &diag), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].key, "IPoIB_Data");
	assert_string_equal(v[0].value, "NUMPAIRS:1|00155D33FF0B:172.16.1.2");
	value = ibup_kvp_get(v, n, "IPoIB_Data");
	assert_ptr_equal(value, v[0].value);
	assert_null(ibup_kvp_get(v, n, "NdDriverVersion"));
	assert_null(ibup_kvp_get(v, n, "ipoib_data"));
	assert_int_equal(ibup_parse_ipoib_data(value, &pairs, &np, &diag), 0);
	assert_int_equal(np, 1);
	assert_memory_equal(pairs[0].mac, mac, 6);
	assert_string_equal(pairs[0].ipv4, "172.16.1.2");
	free(pairs);
	free(v);

	/* The same bytes, parsed from memory. */
	f = fopen(IBUP_TEST_DATA "/" SAMPLE, "rb");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof(buf), f), RECORD);
	fclose(f);
	assert_int_equal(ibup_kvp_parse(buf, RECORD, &v, &n, &diag), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ibup_kvp_get(v, n, "IPoIB_Data"),
			    "NUMPAIRS:1|00155D33FF0B:172.16.1.2");
	free(v);

	assert_int_equal(ibup_kvp_read(ctx, "var/lib/hyperv/.kvp_pool_0", &v, &n, &diag),
			 -ENOENT);
	/* A directory is not a pool. */
	assert_int_equal(ibup_kvp_read(ctx, ".", &v, &n, &diag), -EINVAL);
	ibup_ctx_free(ctx);
}

static void test_kvp_parse(void **state)
{
	struct ibup_kvp_record *v = (void *)&v, *sentinel = v;
	struct ibup_diag diag;
	unsigned char *p = pool_new(3);
	unsigned n = 99;

	/* Empty pool: hv_kvp_daemon creates the file before the host writes anything. */
	assert_int_equal(ibup_kvp_parse(p, 0, &v, &n, &diag), 0);
	assert_int_equal(n, 0);
	assert_null(v);

	/* Cut pools, read as the agent reads them: a record whose value has begun
	 * counts (its value up to the cut), one cut within its key does not. */
	pool_put(p, 0, "IPoIB_Data", "NUMPAIRS:1|00155D33FF0B:172.16.1.2");
	assert_int_equal(ibup_kvp_parse(p, RECORD - 1, &v, &n, &diag), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].value, "NUMPAIRS:1|00155D33FF0B:172.16.1.2");
	free(v);
	assert_int_equal(ibup_kvp_parse(p, IBUP_KVP_KEY_SIZE + 12, &v, &n, &diag), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].value, "NUMPAIRS:1|0");
	free(v);
	assert_int_equal(ibup_kvp_parse(p, IBUP_KVP_KEY_SIZE, &v, &n, &diag), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ibup_kvp_parse(p, RECORD + 1, &v, &n, &diag), 0);
	assert_int_equal(n, 1);
	free(v);
	assert_int_equal(ibup_kvp_parse(p, 1, &v, &n, &diag), 0);
	assert_int_equal(n, 0);

	/* Repeated keys: the agent takes the first (hv_kvp_daemon updates in place). */
	pool_put(p, 1, "HostName", "hpc-vm");
	pool_put(p, 2, "IPoIB_Data", "NUMPAIRS:1|00155D33FF0C:172.16.1.3");
	assert_int_equal(ibup_kvp_parse(p, 3 * RECORD, &v, &n, &diag), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[1].key, "HostName");
	assert_string_equal(ibup_kvp_get(v, n, "IPoIB_Data"),
			    "NUMPAIRS:1|00155D33FF0B:172.16.1.2");
	assert_string_equal(ibup_kvp_get(v, n, "HostName"), "hpc-vm");
	assert_null(ibup_kvp_get(v, n, "Host"));
	assert_null(ibup_kvp_get(v, 0, "HostName"));
	free(v);

	/* An empty key is no record: passed over, as the agent does. */
	memset(p + RECORD, 0, RECORD);
	pool_put(p, 1, "", "orphan");
	assert_int_equal(ibup_kvp_parse(p, 3 * RECORD, &v, &n, &diag), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[1].key, "IPoIB_Data");
	free(v);
	(void)sentinel;
	free(p);
}

static void test_kvp_fields(void **state)
{
	struct ibup_kvp_record *v = NULL;
	struct ibup_diag diag;
	unsigned char *p = pool_new(2);
	unsigned n;

	/* Fields with no NUL use all their bytes. */
	memset(p, 'k', IBUP_KVP_KEY_SIZE);
	memset(p + IBUP_KVP_KEY_SIZE, 'v', IBUP_KVP_VALUE_SIZE);
	assert_int_equal(ibup_kvp_parse(p, RECORD, &v, &n, &diag), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(v[0].key), IBUP_KVP_KEY_SIZE);
	assert_int_equal(strlen(v[0].value), IBUP_KVP_VALUE_SIZE);
	free(v);

	/* What follows the first NUL is padding, whatever it holds. */
	memset(p, 0, 2 * RECORD);
	pool_put(p, 0, "HostName", "hpc-vm");
	p[20] = 0xff;
	p[IBUP_KVP_KEY_SIZE + 100] = 0x01;
	assert_int_equal(ibup_kvp_parse(p, RECORD, &v, &n, &diag), 0);
	assert_string_equal(v[0].key, "HostName");
	assert_string_equal(v[0].value, "hpc-vm");
	free(v);

	/* An odd unrelated record (not ASCII, a tab, CR/LF, DEL, in its key or value)
	 * does not cost the pool: the agent reads IPoIB_Data past it, and so do we. */
	static const char *const odd[][2] = {
		{ "Host\x01Name", "x" },	 { "HostName", "hpc\tvm" },
		{ "HostName", "h\xc3\xa9\xff" }, { "HostName", "hpc-vm\x7f" },
		{ "Host\r\nName", "a\r\nb" },
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		memset(p, 0, 2 * RECORD);
		pool_put(p, 0, odd[i][0], odd[i][1]);
		pool_put(p, 1, "IPoIB_Data", "NUMPAIRS:1|00155D33FF0B:172.16.1.2");
		assert_int_equal(ibup_kvp_parse(p, 2 * RECORD, &v, &n, &diag), 0);
		assert_int_equal(n, 2);
		assert_string_equal(v[0].value, odd[i][1]);
		assert_string_equal(ibup_kvp_get(v, n, "IPoIB_Data"),
				    "NUMPAIRS:1|00155D33FF0B:172.16.1.2");
		free(v);
	}
	free(p);
}

static void test_kvp_limits(void **state)
{
	struct ibup_kvp_record *v = NULL;
	struct ibup_ctx *ctx = NULL;
	struct ibup_diag diag;
	char dir[] = "/tmp/ibup-test-kvp-XXXXXX", path[64];
	unsigned char *p = pool_new(IBUP_KVP_MAX_RECORDS + 1);
	unsigned n;
	int fd;

	for (unsigned i = 0; i <= IBUP_KVP_MAX_RECORDS; i++)
		pool_put(p, i, "K", "V");
	assert_int_equal(
		ibup_kvp_parse(p, (size_t)IBUP_KVP_MAX_RECORDS * RECORD, &v, &n, &diag),
		0);
	assert_int_equal(n, IBUP_KVP_MAX_RECORDS);
	free(v);
	assert_int_equal(ibup_kvp_parse(p, (size_t)(IBUP_KVP_MAX_RECORDS + 1) * RECORD,
					&v, &n, &diag),
			 -EBADMSG);
	assert_int_equal(diag.line, IBUP_KVP_MAX_RECORDS + 1);
	/* A cut record past the last is dropped while its key is not whole. */
	assert_int_equal(ibup_kvp_parse(p, (size_t)IBUP_KVP_MAX_RECORDS * RECORD + 1, &v,
					&n, &diag),
			 0);
	free(v);

	/* The reader stops one byte past the largest pool. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pool", dir);
	write_file(path, p, (size_t)IBUP_KVP_MAX_RECORDS * RECORD);
	assert_int_equal(ibup_ctx_new(dir, &ctx), 0);
	assert_int_equal(ibup_kvp_read(ctx, "pool", &v, &n, &diag), 0);
	assert_int_equal(n, IBUP_KVP_MAX_RECORDS);
	free(v);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "K", 1), 1);
	assert_int_equal(close(fd), 0);
	assert_int_equal(ibup_kvp_read(ctx, "pool", &v, &n, &diag), -EFBIG);
	ibup_ctx_free(ctx);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(p);
}

/*
 * hv_kvp_daemon rewrites a pool under an fcntl write lock. A writer that has cut the
 * file mid-record and not finished must be waited for: without the read lock the
 * reader would see 3560 bytes and fail.
 */
static void test_kvp_lock(void **state)
{
	struct ibup_kvp_record *v = NULL;
	struct ibup_ctx *ctx = NULL;
	struct ibup_diag diag;
	char dir[] = "/tmp/ibup-test-kvp-XXXXXX", path[64], c;
	unsigned char *p = pool_new(2);
	int pipefd[2], status;
	unsigned n;
	pid_t pid;

	char long_value[1201];

	/* A value longer than the 488 bytes the writer's first chunk holds of it. */
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	pool_put(p, 0, "IPoIB_Data", "NUMPAIRS:1|00155D33FF0B:172.16.1.2");
	pool_put(p, 1, "HostName", long_value);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/.kvp_pool_0", dir);
	write_file(path, p, RECORD);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(path, O_RDWR | O_CLOEXEC);

		if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0)
			_exit(1);
		if (pwrite(fd, p + RECORD, 1000, RECORD) != 1000 ||
		    write(pipefd[1], "x", 1) != 1)
			_exit(1);
		usleep(300 * 1000);
		if (pwrite(fd, p + RECORD, RECORD, RECORD) != RECORD)
			_exit(1);
		fl.l_type = F_UNLCK;
		fcntl(fd, F_SETLK, &fl);
		_exit(0);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	/* The pool is cut short now; only a reader that waits sees it whole. Nothing is
	 * timed, so a slow machine cannot make this fail. */
	assert_int_equal(ibup_ctx_new(dir, &ctx), 0);
	assert_int_equal(ibup_kvp_read(ctx, ".kvp_pool_0", &v, &n, &diag), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ibup_kvp_get(v, n, "HostName"), long_value);
	free(v);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ibup_ctx_free(ctx);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(p);
}

/* Expect ibup_parse_ipoib_data() to fail at @column, leaving its outputs alone. */
static void ipoib_bad(const char *value, unsigned column, const char *msg)
{
	struct ibup_ipoib_pair *pairs = (void *)&pairs, *sentinel = pairs;
	struct ibup_diag diag;
	unsigned n = 99;

	assert_int_equal(ibup_parse_ipoib_data(value, &pairs, &n, &diag), -EBADMSG);
	if (diag.column != column || !strstr(diag.msg, msg))
		fail_msg("'%s': column %u '%s', want %u '%s'", value, diag.column,
			 diag.msg, column, msg);
	assert_ptr_equal(pairs, sentinel);
	assert_int_equal(n, 99);
}

static void test_ipoib_data(void **state)
{
	/* Eight ports, as IBManager lists them on a size with eight HCAs. */
	static const char eight[] =
		"NUMPAIRS:8|00155D33FF0B:172.16.1.2|00155D33FF0C:172.16.1.3|"
		"00155D33FF0D:172.16.1.4|00155D33FF0E:172.16.1.5|"
		"00155D33FF0F:172.16.1.6|00155D33FF10:172.16.1.7|"
		"00155D33FF11:172.16.1.8|00155D33FF12:172.16.1.9";
	const uint8_t last[6] = { 0x00, 0x15, 0x5d, 0x33, 0xff, 0x12 };
	struct ibup_ipoib_pair *pairs = NULL;
	struct ibup_diag diag;
	char big[64 * 26 + 32];
	size_t off;
	unsigned n;

	assert_int_equal(ibup_parse_ipoib_data(eight, &pairs, &n, &diag), 0);
	assert_int_equal(n, 8);
	assert_string_equal(pairs[0].ipv4, "172.16.1.2");
	assert_memory_equal(pairs[7].mac, last, 6);
	assert_string_equal(pairs[7].ipv4, "172.16.1.9");
	free(pairs);

	/* A trailing '|' is tolerated; lower-case hex reads the same; edge addresses. */
	assert_int_equal(ibup_parse_ipoib_data("NUMPAIRS:2|00155d33ff0b:0.0.0.1|"
					       "00155D33FF0C:255.255.255.254|",
					       &pairs, &n, &diag),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(pairs[0].mac[5], 0x0b);
	assert_string_equal(pairs[0].ipv4, "0.0.0.1");
	assert_string_equal(pairs[1].ipv4, "255.255.255.254");
	free(pairs);

	/* Dotted quads no interface may be given, and one address for two ports. */
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:0.0.0.0", 25, "0.0.0.0 is not a host address");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:255.255.255.255", 25,
		  "255.255.255.255 is not a host address");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:127.0.0.1", 25,
		  "127.0.0.1 is a loopback address");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:127.1.2.3", 25, "loopback");
	ipoib_bad("NUMPAIRS:2|00155D33FF0B:172.16.1.2|00155D33FF0C:172.16.1.2", 49,
		  "address 172.16.1.2 given to two MAC addresses");

	/* No pairs at all. */
	pairs = (void *)&pairs;
	assert_int_equal(ibup_parse_ipoib_data("NUMPAIRS:0", &pairs, &n, &diag), 0);
	assert_int_equal(n, 0);
	assert_null(pairs);

	/* 64 pairs is the most; 65 is too many, however NUMPAIRS counts them. */
	off = (size_t)snprintf(big, sizeof(big), "NUMPAIRS:64");
	for (unsigned i = 0; i < 65; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off,
					"|00155D33FF%02X:172.16.%u.%u", i, i / 200,
					i % 200 + 1);
	*strrchr(big, '|') = '\0';
	assert_int_equal(ibup_parse_ipoib_data(big, &pairs, &n, &diag), 0);
	assert_int_equal(n, 64);
	free(pairs);
	big[strlen(big)] = '|';
	ipoib_bad(big, 1 + (unsigned)(strrchr(big, '|') - big) + 1, "more than 64");
	ipoib_bad("NUMPAIRS:65|00155D33FF0B:172.16.1.2", 10, "more than 64");
	ipoib_bad("NUMPAIRS:99999999999999999999", 10, "more than 64");

	/* The count. */
	ipoib_bad("NUMPAIRS:2|00155D33FF0B:172.16.1.2", 10, "NUMPAIRS is 2 but 1");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:172.16.1.2|00155D33FF0C:172.16.1.3", 10,
		  "NUMPAIRS is 1 but 2");
	ipoib_bad("NUMPAIRS:1", 10, "NUMPAIRS is 1 but 0");
	ipoib_bad("00155D33FF0B:172.16.1.2", 1, "prefix");
	ipoib_bad("numpairs:1|00155D33FF0B:172.16.1.2", 1, "prefix");
	ipoib_bad("", 1, "prefix");
	ipoib_bad("NUMPAIRS:", 10, "count");
	ipoib_bad("NUMPAIRS:|00155D33FF0B:172.16.1.2", 10, "count");
	ipoib_bad("NUMPAIRS:-1|00155D33FF0B:172.16.1.2", 10, "count");
	ipoib_bad("NUMPAIRS: 1|00155D33FF0B:172.16.1.2", 10, "count");

	/* MAC addresses: 11 or 13 digits, not hex, with separators. */
	ipoib_bad("NUMPAIRS:1|00155D33FF0:172.16.1.2", 12, "MAC");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B0:172.16.1.2", 12, "MAC");
	ipoib_bad("NUMPAIRS:1|00155D33FG0B:172.16.1.2", 12, "MAC");
	ipoib_bad("NUMPAIRS:1|00:15:5D:33:FF:0B:172.16.1.2", 12, "MAC");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B", 12, "MAC");
	ipoib_bad("NUMPAIRS:1|:172.16.1.2", 12, "MAC");
	ipoib_bad("NUMPAIRS:2|00155D33FF0B:172.16.1.2|00155d33ff0b:172.16.1.3", 36,
		  "given twice");

	/* IPv4 addresses. */
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:256.1.1.1", 25, "IPv4");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:1.2.3", 25, "IPv4");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:01.2.3.4", 25, "IPv4");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:1.2.3.4.5", 25, "IPv4");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:1..2.3", 25, "IPv4");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:1.2.3.1000", 25, "IPv4");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:", 25, "IPv4");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:-1.2.3.4", 25, "IPv4");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:172.16.1.2/16", 25, "IPv4");

	/* Trailing garbage: after the count, the address, or the tolerated '|'. */
	ipoib_bad("NUMPAIRS:1x|00155D33FF0B:172.16.1.2", 11, "garbage");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:172.16.1.2 ", 25, "IPv4");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:172.16.1.2||", 36, "MAC");
	ipoib_bad("NUMPAIRS:1|00155D33FF0B:172.16.1.2|junk", 36, "MAC");
	ipoib_bad("NUMPAIRS:1||00155D33FF0B:172.16.1.2", 12, "MAC");
}

static void test_guid_to_mac(void **state)
{
	const uint8_t port1[6] = { 0x00, 0x15, 0x5d, 0x33, 0xff, 0x56 };
	const uint8_t port2[6] = { 0x00, 0x15, 0x5d, 0x33, 0xff, 0x0b };
	uint8_t mac[6], before[6] = { 1, 2, 3, 4, 5, 6 };
	struct ibup_ipoib_pair *pairs = NULL;
	struct ibup_diag diag;
	uint64_t guid;
	unsigned n;

	/* Port GUIDs of Azure VFs (samples: hbv3_ibstat.txt, the KVP fixture). */
	assert_int_equal(ibup_guid_to_mac(0x00155dfffd33ff56, mac), 0);
	assert_memory_equal(mac, port1, 6);
	assert_int_equal(ibup_guid_to_mac(0x00155dfffd33ff0b, mac), 0);
	assert_memory_equal(mac, port2, 6);

	/* From sysfs notation to the pair IBManager wrote for that port. */
	assert_int_equal(ibup_parse_guid("0015:5dff:fd33:ff0b", &guid), 0);
	assert_int_equal(ibup_guid_to_mac(guid, mac), 0);
	assert_int_equal(ibup_parse_ipoib_data("NUMPAIRS:1|00155D33FF0B:172.16.1.2",
					       &pairs, &n, &diag),
			 0);
	assert_memory_equal(mac, pairs[0].mac, 6);
	free(pairs);

	/* The node GUID (ff:fe) and a bare-metal ConnectX port are not platform MACs. */
	memcpy(mac, before, 6);
	assert_int_equal(ibup_guid_to_mac(0x00155dfffe33ff0b, mac), -EINVAL);
	assert_int_equal(ibup_guid_to_mac(0x0c42a10300fb517c, mac), -EINVAL);
	assert_int_equal(ibup_guid_to_mac(0, mac), -EINVAL);
	assert_memory_equal(mac, before, 6);
}

static int shared(const char *xml, char **mac, char **ipv4, struct ibup_diag *diag)
{
	*mac = *ipv4 = untouched;
	return ibup_parse_shared_config(xml, strlen(xml), mac, ipv4, diag);
}

static void test_shared_config(void **state)
{
	static const char doc[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		"<SharedConfig version=\"1.0.0.0\" goalStateIncarnation=\"1\">\n"
		"  <Deployment name=\"3b5a6ab5b1b04e8d9a4c6c1f2fb7e5d0\" "
		"guid=\"{4e1c0b36-3c1e-4b4e-9f1f-0d6e0f7b9a11}\" incarnation=\"0\" "
		"isNonCancellableTopologyChangeEnabled=\"false\">\n"
		"    <Service name=\"hpc-vm\" guid=\"{00000000-0000-0000-0000-000000000000}\" />\n"
		"    <ServiceInstance name=\"3b5a6ab5b1b04e8d9a4c6c1f2fb7e5d0.0\" "
		"guid=\"{9d3c1f0e-6a0b-4c5e-8e8b-2a7f6f1c4d22}\" />\n"
		"  </Deployment>\n"
		"  <Incarnation number=\"1\" instance=\"hpc-vm\" "
		"guid=\"{b0c6e9a3-1f2d-4c8e-a5b7-3e9d1c0f6a33}\" />\n"
		"  <Role guid=\"{5f2a8c1d-7e3b-4a9c-b6d0-4c1e2f3a5b44}\" name=\"hpc-vm\" "
		"settleTimeSeconds=\"0\" />\n"
		"  <Instances>\n"
		"    <Instance id=\"hpc-vm\" address=\"10.0.0.4\" rdmaMacAddress=\"00155D33FF1D\" "
		"rdmaIPv4Address=\"172.16.1.9\">\n"
		"      <FaultDomains randomId=\"0\" />\n"
		"    </Instance>\n"
		"    <Instance id=\"other\" address=\"10.0.0.5\" rdmaMacAddress=\"00155D33FF1E\" "
		"rdmaIPv4Address=\"172.16.1.10\"/>\n"
		"  </Instances>\n"
		"</SharedConfig>\n";
	struct ibup_diag diag;
	char *mac, *ipv4, *huge;

	assert_int_equal(shared(doc, &mac, &ipv4, &diag), 0);
	assert_string_equal(mac, "00155D33FF1D");
	assert_string_equal(ipv4, "172.16.1.9");
	free(mac);
	free(ipv4);

	/* AzNM hosts leave the attributes out (WALinuxAgent#3591); the agent's own test
	 * data has none either (tests/data/hibernate/goal_state_1/SharedConfig.xml). */
	assert_int_equal(
		shared("<SharedConfig version=\"1.0.0.0\" goalStateIncarnation=\"2\">"
		       "<Instances><Instance id=\"_test-vm\" address=\"10.1.52.28\">"
		       "<FaultDomains randomId=\"0\" /></Instance></Instances>"
		       "</SharedConfig>",
		       &mac, &ipv4, &diag),
		0);
	assert_null(mac);
	assert_null(ipv4);
	/* Only one of the two. */
	assert_int_equal(
		shared("<SharedConfig><Instances><Instance id=\"a\" "
		       "rdmaIPv4Address=\"172.16.1.9\"/></Instances></SharedConfig>",
		       &mac, &ipv4, &diag),
		0);
	assert_null(mac);
	assert_string_equal(ipv4, "172.16.1.9");
	free(ipv4);
	/* The first <Instance> speaks even when a later one has the attributes. */
	assert_int_equal(
		shared("<SharedConfig><Instances><Instance id=\"a\"/>"
		       "<Instance id=\"b\" rdmaMacAddress=\"00155D33FF1E\" "
		       "rdmaIPv4Address=\"172.16.1.10\"/></Instances></SharedConfig>",
		       &mac, &ipv4, &diag),
		0);
	assert_null(mac);
	assert_null(ipv4);
	/* No <Instance> at all; a byte-order mark and CRLF line ends (Windows tools). */
	assert_int_equal(
		shared("\xef\xbb\xbf<?xml version=\"1.0\"?>\r\n<SharedConfig>\r\n"
		       "</SharedConfig>\r\n",
		       &mac, &ipv4, &diag),
		0);
	assert_null(mac);
	assert_null(ipv4);
	/* Entities in attributes are decoded. */
	assert_int_equal(shared("<Instance rdmaMacAddress=\"&#x30;0155D33FF1D\" "
				"rdmaIPv4Address=\"172.16.1.9\"/>",
				&mac, &ipv4, &diag),
			 0);
	assert_string_equal(mac, "00155D33FF1D");
	free(mac);
	free(ipv4);

	/* Malformed: an unclosed tag, reported where expat noticed it. */
	assert_int_equal(shared("<SharedConfig version=\"1.0.0.0\">\n"
				"  <Deployment name=\"x\">\n"
				"</SharedConfig>\n",
				&mac, &ipv4, &diag),
			 -EBADMSG);
	assert_int_equal(diag.line, 3);
	assert_int_equal(diag.column, 3);
	assert_string_equal(diag.msg, "mismatched tag");
	assert_ptr_equal(mac, untouched);
	assert_ptr_equal(ipv4, untouched);
	assert_int_equal(shared("<SharedConfig>\n  <Instances>\n", &mac, &ipv4, &diag),
			 -EBADMSG);
	assert_int_equal(diag.line, 3);
	assert_string_equal(diag.msg, "no element found");
	assert_int_equal(shared("<SharedConfig>\n<Instance id=\"a\" rdmaMacAddress=x/>\n",
				&mac, &ipv4, &diag),
			 -EBADMSG);
	assert_int_equal(diag.line, 2);
	assert_string_equal(diag.msg, "not well-formed (invalid token)");
	assert_int_equal(shared("", &mac, &ipv4, &diag), -EBADMSG);
	assert_int_equal(diag.line, 1);
	assert_string_equal(diag.msg, "no element found");
	assert_int_equal(shared("SharedConfig", &mac, &ipv4, &diag), -EBADMSG);
	assert_int_equal(ibup_parse_shared_config("<a/>\0<b/>", 9, &mac, &ipv4, &diag),
			 -EBADMSG);

	/* A DTD is refused: SharedConfig has none, and entities only add risk. */
	assert_int_equal(
		shared("<?xml version=\"1.0\"?>\n<!DOCTYPE SharedConfig [\n"
		       "<!ENTITY a \"aaaaaaaaaa\">]>\n"
		       "<SharedConfig><Instance rdmaMacAddress=\"&a;\"/></SharedConfig>",
		       &mac, &ipv4, &diag),
		-EBADMSG);
	assert_int_equal(diag.line, 2);
	assert_non_null(strstr(diag.msg, "DOCTYPE"));

	/* Bounded: a configuration file is at most IBUP_CONF_MAX bytes. */
	huge = malloc(IBUP_CONF_MAX + 1);
	assert_non_null(huge);
	memset(huge, ' ', IBUP_CONF_MAX + 1);
	memcpy(huge, "<SharedConfig/>", 15);
	assert_int_equal(
		ibup_parse_shared_config(huge, IBUP_CONF_MAX, &mac, &ipv4, &diag), 0);
	assert_null(mac);
	assert_int_equal(
		ibup_parse_shared_config(huge, IBUP_CONF_MAX + 1, &mac, &ipv4, &diag),
		-EFBIG);
	free(huge);
}

/* Lines of @s (each with its '\n', the last perhaps without). */
static unsigned split_lines(const char *s, const char **lines, unsigned max)
{
	unsigned n = 0;

	while (*s) {
		assert_true(n < max);
		lines[n++] = s;
		s += strcspn(s, "\n");
		if (*s)
			s++;
	}
	lines[n] = s;
	return n;
}

static bool line_equal(const char *const *a, unsigned i, const char *const *b, unsigned j)
{
	size_t la = (size_t)(a[i + 1] - a[i]), lb = (size_t)(b[j + 1] - b[j]);

	return la == lb && memcmp(a[i], b[j], la) == 0;
}

/* A line diff by common prefix and suffix: how many lines went and came. */
static void diff_lines(const char *a, const char *b, unsigned *removed, unsigned *added)
{
	const char *la[256], *lb[256];
	unsigned na = split_lines(a, la, 255), nb = split_lines(b, lb, 255), pre = 0,
		 suf = 0;

	while (pre < na && pre < nb && line_equal(la, pre, lb, pre))
		pre++;
	while (suf < na - pre && suf < nb - pre &&
	       line_equal(la, na - 1 - suf, lb, nb - 1 - suf))
		suf++;
	*removed = na - pre - suf;
	*added = nb - pre - suf;
}

/*
 * Set OS.EnableRDMA=@value in @text: the result is @want, differs from @text by
 * @removed lines out and @added in, is stable when set again, and reads back as @value.
 */
static void rdma_set(const char *text, const char *value, const char *want,
		     unsigned removed, unsigned added)
{
	char *out = NULL, *again = NULL, *read = NULL;
	unsigned rm, add;

	assert_int_equal(ibup_waagent_set(text, "OS.EnableRDMA", value, &out), 0);
	assert_string_equal(out, want);
	diff_lines(text, out, &rm, &add);
	if (rm != removed || add != added)
		fail_msg("diff of '%s': -%u +%u, want -%u +%u", text, rm, add, removed,
			 added);
	assert_int_equal(ibup_waagent_set(out, "OS.EnableRDMA", value, &again), 0);
	assert_string_equal(again, out);
	assert_int_equal(ibup_conf_value(out, "OS.EnableRDMA", &read), 0);
	assert_string_equal(read, value);
	free(read);
	free(again);
	free(out);
}

/* As Ubuntu's walinuxagent package ships it (WALinuxAgent config/ubuntu/waagent.conf),
 * abridged. */
#define UBUNTU_HEAD                                                                      \
	"#\n# Microsoft Azure Linux Agent Configuration\n#\n\n"                          \
	"# Enable extension handling. Do not disable this unless you do not need "       \
	"password reset,\n# backup, monitoring, or any extension handling whatsoever.\n" \
	"Extensions.Enabled=y\n\n"                                                       \
	"# Enable verbose logging (y|n)\nLogs.Verbose=n\n\n"                             \
	"# Enable RDMA management and set up, should only be used in HPC images\n"
#define UBUNTU_TAIL                                                            \
	"\n# Enable RDMA kernel update, this value is effective on Ubuntu\n"   \
	"# OS.UpdateRdmaDriver=y\n\n"                                          \
	"# Enable checking RDMA driver version and update\n"                   \
	"# OS.CheckRdmaDriver=y\n\n"                                           \
	"# Add firewall rules to protect access to Azure host node services\n" \
	"OS.EnableFirewall=y\n"

static void test_waagent_set(void **state)
{
	char *out = NULL;

	/* Shipped: the key commented out; uncommented in place. */
	rdma_set(UBUNTU_HEAD "# OS.EnableRDMA=y\n" UBUNTU_TAIL, "y",
		 UBUNTU_HEAD "OS.EnableRDMA=y\n" UBUNTU_TAIL, 1, 1);
	rdma_set("Logs.Verbose=n\n#OS.EnableRDMA=n\nOS.EnableFirewall=y\n", "y",
		 "Logs.Verbose=n\nOS.EnableRDMA=y\nOS.EnableFirewall=y\n", 1, 1);
	rdma_set("#\tOS.EnableRDMA = y\n", "y", "OS.EnableRDMA = y\n", 1, 1);
	/* Only the first commented line, when several are. */
	rdma_set("# OS.EnableRDMA=y\n# OS.EnableRDMA=n\n", "y",
		 "OS.EnableRDMA=y\n# OS.EnableRDMA=n\n", 1, 1);
	/* Written by a user: "=n", then turning it back off. */
	rdma_set(UBUNTU_HEAD "OS.EnableRDMA=n\n" UBUNTU_TAIL, "y",
		 UBUNTU_HEAD "OS.EnableRDMA=y\n" UBUNTU_TAIL, 1, 1);
	rdma_set("OS.EnableRDMA=y\n", "n", "OS.EnableRDMA=n\n", 1, 1);
	/* Already set: the same bytes. */
	rdma_set(UBUNTU_HEAD "OS.EnableRDMA=y\n" UBUNTU_TAIL, "y",
		 UBUNTU_HEAD "OS.EnableRDMA=y\n" UBUNTU_TAIL, 0, 0);
	/* An uncommented line wins over a commented one, wherever it is. */
	rdma_set("OS.EnableRDMA=n\n# OS.EnableRDMA=y\n", "y",
		 "OS.EnableRDMA=y\n# OS.EnableRDMA=y\n", 1, 1);

	/* Absent (alpine, mariner ship no RDMA lines): appended. */
	rdma_set("Extensions.Enabled=y\nLogs.Verbose=n\n", "y",
		 "Extensions.Enabled=y\nLogs.Verbose=n\nOS.EnableRDMA=y\n", 0, 1);
	rdma_set("", "y", "OS.EnableRDMA=y\n", 0, 1);
	/* Neither a comment nor the key, as waagent reads them: appended. */
	rdma_set("  # OS.EnableRDMA=y\n", "y", "  # OS.EnableRDMA=y\nOS.EnableRDMA=y\n",
		 0, 1);
	rdma_set(
		"# OS.EnableRDMAv2=y\nOS.EnableRDMA.Foo=n\nXOS.EnableRDMA=n\n", "y",
		"# OS.EnableRDMAv2=y\nOS.EnableRDMA.Foo=n\nXOS.EnableRDMA=n\nOS.EnableRDMA=y\n",
		0, 1);
	rdma_set("# Set OS.EnableRDMA=y for HPC\n", "y",
		 "# Set OS.EnableRDMA=y for HPC\nOS.EnableRDMA=y\n", 0, 1);

	/* Duplicates: waagent honours the last, so that one changes. */
	rdma_set(
		"OS.EnableRDMA=n\nLogs.Verbose=n\nOS.EnableRDMA=n\nOS.EnableFirewall=y\n",
		"y",
		"OS.EnableRDMA=n\nLogs.Verbose=n\nOS.EnableRDMA=y\nOS.EnableFirewall=y\n",
		1, 1);
	rdma_set("OS.EnableRDMA=y\nOS.EnableRDMA=n\n", "y",
		 "OS.EnableRDMA=y\nOS.EnableRDMA=y\n", 1, 1);

	/* Spacing around '=' and before the key stays. */
	rdma_set("OS.EnableRDMA = n\n", "y", "OS.EnableRDMA = y\n", 1, 1);
	rdma_set("OS.EnableRDMA\t=\tn\n", "y", "OS.EnableRDMA\t=\ty\n", 1, 1);
	rdma_set("  OS.EnableRDMA=n\n", "y", "  OS.EnableRDMA=y\n", 1, 1);
	rdma_set("OS.EnableRDMA=\n", "y", "OS.EnableRDMA=y\n", 1, 1);
	rdma_set("OS.EnableRDMA=\"n\"\n", "y", "OS.EnableRDMA=y\n", 1, 1);

	/* An inline comment stays. */
	rdma_set("OS.EnableRDMA=n # set by the image build\n", "y",
		 "OS.EnableRDMA=y # set by the image build\n", 1, 1);
	rdma_set("OS.EnableRDMA=n  # HPC only\n", "y", "OS.EnableRDMA=y  # HPC only\n", 1,
		 1);
	rdma_set("# OS.EnableRDMA=y # HPC only\n", "y", "OS.EnableRDMA=y # HPC only\n", 1,
		 1);

	/* CRLF line ends stay, also on an appended line. */
	rdma_set("Logs.Verbose=n\r\n# OS.EnableRDMA=y\r\nOS.EnableFirewall=y\r\n", "y",
		 "Logs.Verbose=n\r\nOS.EnableRDMA=y\r\nOS.EnableFirewall=y\r\n", 1, 1);
	rdma_set("OS.EnableRDMA=n\r\n", "y", "OS.EnableRDMA=y\r\n", 1, 1);
	rdma_set("OS.EnableRDMA= n \r\n", "y", "OS.EnableRDMA= y \r\n", 1, 1);
	rdma_set("Logs.Verbose=n\r\n", "y", "Logs.Verbose=n\r\nOS.EnableRDMA=y\r\n", 0,
		 1);
	rdma_set("Logs.Verbose=n\r\nOS.EnableFirewall=y", "y",
		 "Logs.Verbose=n\r\nOS.EnableFirewall=y\r\nOS.EnableRDMA=y\r\n", 1, 2);

	/* No newline at the end: kept when changing, added before an appended line. */
	rdma_set("Logs.Verbose=n\nOS.EnableRDMA=n", "y",
		 "Logs.Verbose=n\nOS.EnableRDMA=y", 1, 1);
	rdma_set("Logs.Verbose=n\n# OS.EnableRDMA=y", "y",
		 "Logs.Verbose=n\nOS.EnableRDMA=y", 1, 1);
	rdma_set("Logs.Verbose=n", "y", "Logs.Verbose=n\nOS.EnableRDMA=y\n", 1, 2);

	/* Other keys, in the same file. */
	assert_int_equal(ibup_waagent_set(UBUNTU_HEAD "# OS.EnableRDMA=y\n" UBUNTU_TAIL,
					  "OS.CheckRdmaDriver", "n", &out),
			 0);
	assert_non_null(strstr(out, "\n# OS.EnableRDMA=y\n"));
	assert_non_null(strstr(out, "\nOS.CheckRdmaDriver=n\n"));
	assert_null(strstr(out, "# OS.CheckRdmaDriver"));
	free(out);
	/* The key is matched exactly, as waagent does: this line is not the key. */
	assert_int_equal(
		ibup_waagent_set("os.enablerdma=n\n", "OS.EnableRDMA", "y", &out), 0);
	assert_string_equal(out, "os.enablerdma=n\nOS.EnableRDMA=y\n");
	free(out);

	/* Python strips the ASCII separators 0x1c-0x1f from a key as whitespace. */
	assert_int_equal(ibup_waagent_set("OS.EnableRDMA=n\n\x1fOS.EnableRDMA=n\n",
					  "OS.EnableRDMA", "y", &out),
			 0);
	assert_string_equal(out, "OS.EnableRDMA=n\n\x1fOS.EnableRDMA=y\n");
	free(out);

	/* Keys and values that would not read back. */
	out = untouched;
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA", "y n", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA", "y#", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA", "a=b", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA", "y\n", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA", "y\r", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA", "\ty", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA", "y\x1b", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA", "\"y\"", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA", "y\xc2\xa0", &out),
			 -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS Enable", "y", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "OS.EnableRDMA=", "y", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "#OS.EnableRDMA", "y", &out), -EINVAL);
	assert_int_equal(ibup_waagent_set("", "", "y", &out), -EINVAL);
	assert_ptr_equal(out, untouched);
}

static void test_waagent_version(void **state)
{
	const char *problem = NULL;
	char v[32];

	assert_int_equal(ibup_waagent_version_check(
				 "WALinuxAgent-2.9.1.1 running on ubuntu 22.04\n"
				 "Python: 3.10.12\nGoal state agent: 2.12.0.2\n",
				 v, sizeof(v), &problem),
			 0);
	assert_string_equal(v, "2.9.1.1");
	assert_non_null(problem);
	assert_int_equal(
		ibup_waagent_version_check("WALinuxAgent-2.2.45 running on ubuntu 18.04\n"
					   "Goal state agent: 2.9.1.1\n",
					   v, sizeof(v), &problem),
		0);
	assert_string_equal(v, "2.2.45");
	assert_non_null(strstr(problem, "2.4.0.2"));
	assert_int_equal(
		ibup_waagent_version_check("WALinuxAgent-2.10.0.8 running on rhel 9.4\n",
					   v, sizeof(v), &problem),
		0);
	assert_null(problem);
	assert_int_equal(ibup_waagent_version_check("WALinuxAgent-2.4.0.2 running\n", v,
						    sizeof(v), &problem),
			 0);
	assert_null(problem);
	assert_int_equal(
		ibup_waagent_version_check("command not found", v, sizeof(v), &problem),
		-ENOENT);
	assert_int_equal(
		ibup_waagent_version_check("WALinuxAgent- x", v, sizeof(v), &problem),
		-EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kvp_sample),
		cmocka_unit_test(test_kvp_parse),
		cmocka_unit_test(test_kvp_fields),
		cmocka_unit_test(test_kvp_limits),
		cmocka_unit_test(test_kvp_lock),
		cmocka_unit_test(test_ipoib_data),
		cmocka_unit_test(test_guid_to_mac),
		cmocka_unit_test(test_shared_config),
		cmocka_unit_test(test_waagent_set),
		cmocka_unit_test(test_waagent_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

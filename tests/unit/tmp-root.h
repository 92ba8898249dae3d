// SPDX-License-Identifier: MIT
/* A throw-away root directory for unit tests that read and write under a context. */
#ifndef IBUP_TEST_TMP_ROOT_H
#define IBUP_TEST_TMP_ROOT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ibup/ibup.h"

#define TMP_ROOT_SIZE 64

/* Make /tmp/ibup-test-TAG-XXXXXX and a context rooted there. */
static inline void tmp_root_make(char root[TMP_ROOT_SIZE], const char *tag,
				 struct ibup_ctx **ret_ctx)
{
	snprintf(root, TMP_ROOT_SIZE, "/tmp/ibup-test-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(root));
	assert_int_equal(ibup_ctx_new(root, ret_ctx), 0);
}

static inline void tmp_root_remove(const char *root, struct ibup_ctx *ctx)
{
	const char *argv[] = { "rm", "-rf", root, NULL };
	struct ibup_spawn_result r;

	ibup_ctx_free(ctx);
	assert_int_equal(ibup_spawn(argv, 10000, 0, &r), 0);
	assert_int_equal(r.exit_code, 0);
	ibup_spawn_result_release(&r);
}

/* Write @rel under @root, creating the directories on its way. */
static inline void tmp_root_write(const char *root, const char *rel, const void *data,
				  size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

#endif

// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the parsers of whole files (os-release, limits.conf, systemd's
 * system.conf, ofed_info, /proc/modules lines, libibverbs file names).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ibup_diag diag;
	char *s = malloc(size + 1), *v = NULL, *f = NULL;
	char name[64];
	int64_t soft = IBUP_UNKNOWN, hard = IBUP_UNKNOWN;
	bool a, b;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (ibup_os_release_value(s, "ID", &v) == 0)
		free(v);
	ibup_parse_limits_conf(s, &soft, &hard, &diag);
	ibup_parse_systemd_memlock(s, &soft, &diag);
	if (ibup_parse_ofed_info(s, &f, &v) == 0) {
		free(f);
		free(v);
	}
	if (ibup_parse_proc_modules_line(s, name, sizeof(name), &a, &b) == 0 &&
	    strlen(name) >= sizeof(name))
		abort();
	if (ibup_parse_libibverbs_name(s, &v) == 0)
		free(v);
	free(s);
	return 0;
}

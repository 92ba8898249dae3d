// SPDX-License-Identifier: MIT
/*
 * One scrape, and the VM size it is judged against, cached in the state directory so
 * that a scrape every 15 seconds does not ask the metadata service every time.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "ibup/metrics.h"
#include "banned.h"

#define VM_SIZE_CACHE "vm-size"
#define VM_SIZE_MAX 128

int ibup_metrics_collect(struct ibup_ctx *ctx, const char *vm_size, char **ret_text,
			 size_t *ret_len)
{
	const struct ibup_check_opts opts = {
		.expect_rate_gbps = NAN,
		.expect_hcas = IBUP_UNKNOWN,
		.bench_threshold_gbps = NAN,
		.state_dir = NULL, /* check's counter baseline is its own, never ours */
		.bench = NULL,
	};
	struct ibup_check_report *rep = NULL;
	struct ibup_status *st = NULL;
	int r;

	r = ibup_status_read(ctx, IBUP_STATUS_COUNTERS, &st);
	if (r < 0)
		return r;
	if (vm_size) {
		free(st->platform.vm_size);
		st->platform.vm_size = strdup(vm_size);
		if (!st->platform.vm_size) {
			ibup_status_free(st);
			return -ENOMEM;
		}
	}
	r = ibup_check_run(ctx, st, &opts, &rep);
	if (r == 0)
		r = ibup_metrics_render(ctx, st, rep, ret_text, ret_len);
	ibup_check_report_free(rep);
	ibup_status_free(st);
	return r;
}

/* A VM size as the metadata service spells them: "Standard_ND96isr_H100_v5". */
static bool valid_size(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= VM_SIZE_MAX)
		return false;
	return strspn(s,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
	       n;
}

/* "<unix time> <size>\n": the size when the entry is younger than @ttl_s. */
static char *cache_lookup(struct ibup_state *s, unsigned ttl_s, time_t now)
{
	_cleanup_free_ char *data = NULL;
	char size[VM_SIZE_MAX];
	long long when;
	size_t len;
	int n = 0;

	if (ibup_state_read(s, VM_SIZE_CACHE, 256, &data, &len) < 0)
		return NULL;
	if (sscanf(data, "%lld %127[^\n]%n", &when, size, &n) != 2 || !valid_size(size) ||
	    when > (long long)now || (long long)now - when >= (long long)ttl_s)
		return NULL;
	return strdup(size);
}

int ibup_metrics_vm_size(struct ibup_ctx *ctx, const char *base_url, unsigned ttl_s,
			 char **ret_size, char *err, size_t err_size)
{
	struct ibup_state s;
	time_t now = time(NULL);
	char *size, line[VM_SIZE_MAX + 32];
	int r, n;

	r = ibup_state_open(ctx, NULL, &s);
	if (r < 0)
		return r;
	size = cache_lookup(&s, ttl_s, now);
	if (size) {
		ibup_state_close(&s);
		*ret_size = size;
		return 0;
	}
	r = ibup_imds_vm_size(ctx, base_url, &size, err, err_size);
	if (r < 0) {
		ibup_state_close(&s);
		return r;
	}
	if (valid_size(size)) {
		n = snprintf(line, sizeof(line), "%lld %s\n", (long long)now, size);
		r = ibup_state_write(&s, VM_SIZE_CACHE, line, (size_t)n);
		if (r < 0)
			ibup_debug(ctx, "cannot cache the VM size in '%s/%s': %s",
				   IBUP_STATE_DIR, VM_SIZE_CACHE, strerror(-r));
	}
	ibup_state_close(&s);
	*ret_size = size;
	return 0;
}

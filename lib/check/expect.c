// SPDX-License-Identifier: MIT
/*
 * What a VM size should have. The table is data (data/expect.json, compiled in), and
 * admins extend or override it with .json files in /etc/ibup/expect.d, same format;
 * their entries are matched first.
 */
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

extern const char ibup_expect_json[];

static int dup_json_str(json_t *o, const char *key, char **ret)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	*ret = ibup_strdup_clean(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

static int get_number(json_t *o, const char *key, double *ret)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v) || json_number_value(v) < 0)
		return -EINVAL;
	*ret = json_number_value(v);
	return 0;
}

static int get_bool(json_t *o, const char *key, int *ret)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return -EINVAL;
	*ret = json_is_true(v);
	return 0;
}

static int fill(json_t *e, const char *pattern, const char *source, struct ibup_expect *x)
{
	double hcas = NAN;
	int r = 0;

	*x = (struct ibup_expect){ .ib_hcas = IBUP_UNKNOWN,
				   .ib_rate_gbps = NAN,
				   .an_rate_gbps = NAN,
				   .bw_threshold_gbps = NAN,
				   .ipoib = IBUP_UNKNOWN,
				   .sriov = 1 };
	if (!r)
		r = dup_json_str(e, "family", &x->family);
	if (!r)
		r = dup_json_str(e, "gpudirect", &x->gpudirect);
	if (!r)
		r = dup_json_str(e, "arch", &x->arch);
	if (!r)
		r = dup_json_str(e, "note", &x->note);
	if (!r)
		r = get_number(e, "ib_hcas", &hcas);
	if (!r)
		r = get_number(e, "ib_rate_gbps", &x->ib_rate_gbps);
	if (!r)
		r = get_number(e, "an_rate_gbps", &x->an_rate_gbps);
	if (!r)
		r = get_number(e, "bw_threshold_gbps", &x->bw_threshold_gbps);
	if (!r)
		r = get_bool(e, "ipoib", &x->ipoib);
	if (!r)
		r = get_bool(e, "sriov", &x->sriov);
	if (!r) {
		int retired = 0;

		r = get_bool(e, "retired", &retired);
		x->retired = retired;
	}
	if (!r && !isnan(hcas)) {
		if (hcas != floor(hcas) || hcas > 64)
			r = -EINVAL;
		else
			x->ib_hcas = (int32_t)hcas;
	}
	if (!r) {
		/* The source is a file name the host chose: shown, so sanitized. */
		x->pattern = ibup_strdup_clean(pattern);
		x->source = ibup_strdup_clean(source);
		if (!x->pattern || !x->source)
			r = -ENOMEM;
	}
	if (r < 0)
		ibup_expect_release(x);
	return r;
}

/* Search one table; 1 when @vm_size matched (and *ret is filled), 0 when not. */
static int search(json_t *root, const char *source, const char *vm_size,
		  struct ibup_expect *ret, char *err, size_t err_size)
{
	json_t *sizes = json_object_get(root, "sizes"), *e;
	size_t i;

	if (!json_is_array(sizes)) {
		snprintf(err, err_size, "no \"sizes\" array");
		return -EINVAL;
	}
	json_array_foreach(sizes, i, e)
	{
		json_t *match = json_object_get(e, "match"), *pat;
		size_t k;

		if (!json_is_object(e) || !json_is_array(match)) {
			snprintf(err, err_size, "entry %zu: no \"match\" array", i + 1);
			return -EINVAL;
		}
		json_array_foreach(match, k, pat)
		{
			int r;

			if (!json_is_string(pat)) {
				snprintf(err, err_size,
					 "entry %zu: a pattern is not a string", i + 1);
				return -EINVAL;
			}
			if (fnmatch(json_string_value(pat), vm_size, FNM_CASEFOLD) != 0)
				continue;
			r = fill(e, json_string_value(pat), source, ret);
			if (r == -EINVAL)
				snprintf(err, err_size,
					 "entry %zu: a value has the wrong type", i + 1);
			return r < 0 ? r : 1;
		}
	}
	return 0;
}

static int search_file(struct ibup_ctx *ctx, const char *path, const char *vm_size,
		       struct ibup_expect *ret)
{
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	char err[160] = "";
	size_t len;
	json_t *root;
	int r;

	r = ibup_read_file(ctx, path, IBUP_CONF_MAX, &text, &len);
	if (r < 0) {
		if (r != -ENOMEM)
			ibup_warn(ctx, "cannot read '/%s': %s", path, strerror(-r));
		return r == -ENOMEM ? r : 0;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		ibup_warn(ctx, "ignoring '/%s': line %d, column %d: %s", path, jerr.line,
			  jerr.column, jerr.text);
		return 0;
	}
	r = search(root, path, vm_size, ret, err, sizeof(err));
	json_decref(root);
	if (r == -EINVAL) {
		ibup_warn(ctx, "ignoring '/%s': %s", path, err);
		return 0;
	}
	return r;
}

int ibup_expect_lookup(struct ibup_ctx *ctx, const char *vm_size, struct ibup_expect *ret)
{
	_cleanup_close_ int fd = -1;
	char **names = NULL, err[160] = "";
	unsigned n = 0;
	json_t *root;
	int r = 0;

	fd = ibup_open_dir(ctx, "etc/ibup/expect.d");
	if (fd >= 0) {
		r = ibup_list_dir_logged(ctx, fd, IBUP_MAX_DEVICES, &names, &n,
					 "etc/ibup/expect.d");
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < n && r == 0; i++) {
		char path[PATH_MAX];
		size_t len = strlen(names[i]);

		if (len < 6 || strcmp(names[i] + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "etc/ibup/expect.d/%s", names[i]);
		r = search_file(ctx, path, vm_size, ret);
	}
	ibup_strv_free(names, n);
	if (r != 0)
		return r;
	root = json_loads(ibup_expect_json, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return -ENOMEM; /* the built-in table is validated by the tests */
	r = search(root, "built-in", vm_size, ret, err, sizeof(err));
	json_decref(root);
	return r;
}

void ibup_expect_release(struct ibup_expect *x)
{
	if (!x)
		return;
	free(x->family);
	free(x->pattern);
	free(x->source);
	free(x->gpudirect);
	free(x->arch);
	free(x->note);
	memset(x, 0, sizeof(*x));
}

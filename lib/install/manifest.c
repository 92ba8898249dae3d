// SPDX-License-Identifier: MIT
/*
 * The install manifest: which vendor stack version goes on which distribution and
 * architecture, from which URL, with which SHA-256, and where each value comes from
 * (docs/install-manifest.schema.json). Shipped built in (data/install-manifest.json);
 * an administrator's file replaces it (--manifest). A row without a hash is kept:
 * `install` then asks for --sha256 rather than download anything unverified.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ibup/install.h"
#include "internal.h"
#include "banned.h"

extern const char ibup_install_manifest_json[];

#define MANIFEST_MAX_ROWS 4096

const char *ibup_stack_name(enum ibup_stack s)
{
	static const char *const names[] = { "auto", "inbox", "doca", "mofed" };

	return (unsigned)s < IBUP_ARRAY_SIZE(names) ? names[s] : "?";
}

int ibup_stack_from_name(const char *name, enum ibup_stack *ret)
{
	for (int s = IBUP_STACK_AUTO; s <= IBUP_STACK_MOFED; s++)
		if (strcmp(name, ibup_stack_name(s)) == 0) {
			*ret = s;
			return 0;
		}
	return -EINVAL;
}

static bool is_sha256(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n]))
			return false;
	return n == 64;
}

static void row_release(struct ibup_manifest_row *r)
{
	free(r->distro);
	free(r->arch);
	free(r->version);
	free(r->url);
	free(r->sha256);
	free(r->source);
	free(r->devices);
	free(r->max_kernel);
}

void ibup_manifest_release(struct ibup_manifest *m)
{
	for (unsigned i = 0; i < m->n; i++)
		row_release(&m->rows[i]);
	free(m->rows);
	free(m->origin);
	*m = (struct ibup_manifest){ 0 };
}

/* A string member: required (NULL not allowed) or optional (absent or null → NULL). */
static int get_str(json_t *o, const char *key, bool required, char **ret, char *why,
		   size_t wsize)
{
	json_t *v = json_object_get(o, key);

	*ret = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(why, wsize, "\"%s\" is missing", key);
		return -EBADMSG;
	}
	if (!json_is_string(v) || !*json_string_value(v)) {
		snprintf(why, wsize, "\"%s\" must be a non-empty string", key);
		return -EBADMSG;
	}
	*ret = ibup_strdup_clean(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

static int parse_row(json_t *o, struct ibup_manifest_row *row, char *why, size_t wsize)
{
	_cleanup_free_ char *stack = NULL;
	json_t *sources = json_object_get(o, "sources");
	int r;

	if (!json_is_object(o)) {
		snprintf(why, wsize, "a row must be an object");
		return -EBADMSG;
	}
	if ((r = get_str(o, "distro", true, &row->distro, why, wsize)) < 0 ||
	    (r = get_str(o, "arch", true, &row->arch, why, wsize)) < 0 ||
	    (r = get_str(o, "stack", true, &stack, why, wsize)) < 0 ||
	    (r = get_str(o, "version", true, &row->version, why, wsize)) < 0 ||
	    (r = get_str(o, "url", true, &row->url, why, wsize)) < 0 ||
	    (r = get_str(o, "sha256", false, &row->sha256, why, wsize)) < 0 ||
	    (r = get_str(o, "devices", false, &row->devices, why, wsize)) < 0 ||
	    (r = get_str(o, "max_kernel", false, &row->max_kernel, why, wsize)) < 0)
		return r;
	if (!json_object_get(o, "sha256")) {
		snprintf(why, wsize,
			 "\"sha256\" is missing (null when no source gives it)");
		return -EBADMSG;
	}
	if (ibup_stack_from_name(stack, &row->stack) < 0 ||
	    row->stack == IBUP_STACK_AUTO || row->stack == IBUP_STACK_INBOX) {
		snprintf(why, wsize,
			 "\"stack\" must be \"doca\" or \"mofed\", not \"%s\"", stack);
		return -EBADMSG;
	}
	if (strcmp(row->arch, "x86_64") != 0 && strcmp(row->arch, "aarch64") != 0) {
		snprintf(why, wsize, "\"arch\" must be \"x86_64\" or \"aarch64\"");
		return -EBADMSG;
	}
	if (strncmp(row->url, "https://", 8) != 0 &&
	    strncmp(row->url, "http://", 7) != 0) {
		snprintf(why, wsize, "\"url\" must be an http or https URL");
		return -EBADMSG;
	}
	if (row->sha256 && !is_sha256(row->sha256)) {
		snprintf(why, wsize,
			 "\"sha256\" must be 64 lower-case hex digits or null");
		return -EBADMSG;
	}
	if (row->devices && strcmp(row->devices, "cx4+") != 0 &&
	    strcmp(row->devices, "cx3") != 0) {
		snprintf(why, wsize, "\"devices\" must be \"cx4+\" or \"cx3\"");
		return -EBADMSG;
	}
	if (!json_is_object(sources)) {
		snprintf(why, wsize, "\"sources\" must say where the values come from");
		return -EBADMSG;
	}
	r = get_str(sources, row->sha256 ? "sha256" : "url", true, &row->source, why,
		    wsize);
	if (r == -EBADMSG)
		snprintf(why, wsize, "\"sources\" must name the source of %s",
			 row->sha256 ? "the sha256" : "the url");
	return r;
}

int ibup_manifest_parse(const char *text, const char *origin, struct ibup_manifest *ret,
			struct ibup_diag *reterr_diag)
{
	struct ibup_manifest m = { 0 };
	json_error_t jerr;
	json_t *root, *rows, *ver;
	char why[96];
	int r = 0;

	*ret = m;
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		reterr_diag->line = jerr.line > 0 ? jerr.line : 0;
		reterr_diag->column = jerr.column > 0 ? jerr.column : 0;
		snprintf(reterr_diag->msg, sizeof(reterr_diag->msg), "%.120s", jerr.text);
		return -EBADMSG;
	}
	ver = json_object_get(root, "schema_version");
	rows = json_object_get(root, "rows");
	if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
		snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
			 "\"schema_version\" must be 1");
		r = -EBADMSG;
	} else if (!json_is_array(rows) || json_array_size(rows) > MANIFEST_MAX_ROWS) {
		snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
			 "\"rows\" must be an array of at most %d rows",
			 MANIFEST_MAX_ROWS);
		r = -EBADMSG;
	}
	if (r < 0)
		goto out;
	m.origin = strdup(origin);
	m.rows = calloc(json_array_size(rows) + 1, sizeof(*m.rows));
	if (!m.origin || !m.rows) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(rows); i++) {
		r = parse_row(json_array_get(rows, i), &m.rows[m.n], why, sizeof(why));
		m.n++;
		if (r == -EBADMSG)
			snprintf(reterr_diag->msg, sizeof(reterr_diag->msg),
				 "row %zu: %s", i + 1, why);
		if (r < 0)
			goto out;
	}
out:
	json_decref(root);
	if (r < 0)
		ibup_manifest_release(&m);
	else
		*ret = m;
	return r;
}

int ibup_manifest_builtin(struct ibup_manifest *ret, struct ibup_diag *reterr_diag)
{
	return ibup_manifest_parse(ibup_install_manifest_json, "built-in", ret,
				   reterr_diag);
}

const struct ibup_manifest_row *
ibup_manifest_find(const struct ibup_manifest *m, const char *distro, const char *arch,
		   enum ibup_stack stack, const char *version, const char *devices)
{
	const struct ibup_manifest_row *best = NULL;

	for (unsigned i = 0; i < m->n; i++) {
		const struct ibup_manifest_row *r = &m->rows[i];

		if (r->stack != stack || strcmp(r->distro, distro) != 0 ||
		    strcmp(r->arch, arch) != 0)
			continue;
		if (version && strcmp(r->version, version) != 0)
			continue;
		if (devices && strcmp(r->devices ? r->devices : "cx4+", devices) != 0)
			continue;
		if (!best || strverscmp(r->version, best->version) > 0)
			best = r;
	}
	return best;
}

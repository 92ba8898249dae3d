// SPDX-License-Identifier: MIT
/*
 * Azure's instance metadata service: the VM size. Asked only on Azure (or when a test
 * gives the URL), with short timeouts, never through a proxy, with a bounded answer.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

#define IMDS_DEFAULT_URL "http://169.254.169.254"
#define IMDS_PATH "/metadata/instance/compute?api-version=2021-02-01"
#define IMDS_TIMEOUT_MS 1500
#define IMDS_MAX_BODY (256 * 1024)

static void explain(char *err, size_t size, const char *fmt, ...) _printf_(3, 4);
static void explain(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

int ibup_imds_parse_vm_size(const char *body, size_t len, char **ret_size, char *err,
			    size_t err_size)
{
	json_error_t jerr;
	json_t *root, *v;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		explain(err, err_size, "the answer is not JSON (%s)", jerr.text);
		return -EBADMSG;
	}
	v = json_object_get(root, "vmSize");
	if (!json_is_string(v) || !*json_string_value(v) || json_string_length(v) > 128) {
		json_decref(root);
		explain(err, err_size, "the answer has no vmSize");
		return -EBADMSG;
	}
	*ret_size = ibup_strdup_clean(json_string_value(v));
	json_decref(root);
	return *ret_size ? 0 : -ENOMEM;
}

static int ask_vm_size(struct ibup_ctx *ctx, const char *base_url, char **ret_size,
		       char *err, size_t err_size)
{
	static const char *const headers[] = { "Metadata: true", NULL };
	struct ibup_http_response resp = { 0 };
	char url[1024], why[256] = "";
	int r;

	if (snprintf(url, sizeof(url), "%s%s", base_url ? base_url : IMDS_DEFAULT_URL,
		     IMDS_PATH) >= (int)sizeof(url)) {
		explain(err, err_size, "the metadata URL is too long");
		return -ENAMETOOLONG;
	}
	r = ibup_http_get(ctx, url, headers, IMDS_TIMEOUT_MS, IMDS_MAX_BODY, &resp, why,
			  sizeof(why));
	switch (r) {
	case 0:
		break;
	case -ELIBACC:
	case -ELIBBAD:
		explain(err, err_size, "libcurl (libcurl.so.4) is not installed");
		return r;
	case -ETIMEDOUT:
		explain(err, err_size, "no answer within %u ms", IMDS_TIMEOUT_MS);
		return r;
	case -ENODATA:
		explain(err, err_size, "the connection closed without an answer");
		return r;
	case -EFBIG:
		explain(err, err_size, "the answer is larger than %u KiB",
			IMDS_MAX_BODY / 1024);
		return r;
	default:
		/* A refused connection says it best as an errno; the rest in curl's words
		 * ("Could not resolve host: x"), which name what failed. */
		explain(err, err_size, "%s",
			*why && r != -ECONNREFUSED ? why : strerror(-r));
		return r;
	}
	if (resp.status == 429) {
		explain(err, err_size, "too many requests (HTTP 429)");
		r = -EAGAIN;
	} else if (resp.status != 200) {
		json_t *root = json_loadb(resp.body, resp.len, 0, NULL);
		json_t *e = json_object_get(root, "error");

		/* The service explains itself in {"error": "..."} */
		explain(err, err_size, "HTTP %ld%s%.160s", resp.status,
			json_is_string(e) ? ": " : "",
			json_is_string(e) ? json_string_value(e) : "");
		json_decref(root);
		r = -EPROTO;
	} else {
		r = ibup_imds_parse_vm_size(resp.body, resp.len, ret_size, err, err_size);
	}
	free(resp.body);
	return r;
}

int ibup_imds_vm_size(struct ibup_ctx *ctx, const char *base_url, char **ret_size,
		      char *err, size_t err_size)
{
	int r = ask_vm_size(ctx, base_url, ret_size, err, err_size);

	/* The explanation quotes whatever answered ({"error": ...}, the text near a JSON
	 * error, curl's words about the headers), and it goes to a terminal. */
	if (r < 0)
		ibup_sanitize(err);
	return r;
}

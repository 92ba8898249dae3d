// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the extension handler's parsers (settings, HandlerEnvironment.json,
 * HandlerManifest.json, the background work's record) and the status built from what
 * they report. Whatever the
 * input, a parse succeeds or fails with -EBADMSG (and a message), an environment's
 * folders are absolute, and a status carrying the input as its message is JSON the
 * agent can read, with the message within its 1 KiB.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ibup/vmext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[] = "Ibup.InfiniBand";
	struct ibup_vmext_env env = { .name = name }, parsed;
	struct ibup_vmext_status st = { .operation = "Enable" };
	struct ibup_vmext_settings s;
	struct ibup_diag d = { 0 };
	char *text = NULL, *msg;
	const char *got;
	json_t *doc;
	bool hb;
	int r;

	r = ibup_vmext_settings_parse((const char *)data, size, &s, &d);
	if (r != 0 && (r != -EBADMSG || !*d.msg))
		abort();
	r = ibup_vmext_env_parse((const char *)data, size, &parsed, &d);
	if (r == 0) {
		if (parsed.config_folder[0] != '/' || parsed.status_folder[0] != '/')
			abort();
		ibup_vmext_env_release(&parsed);
	} else if (r != -EBADMSG && r != -ENOMEM) {
		abort();
	}
	r = ibup_vmext_manifest_heartbeat((const char *)data, size, &hb);
	if (r != 0 && r != -EBADMSG)
		abort();
	/* A record parsed is one ibup would write, and reads back the same. */
	{
		struct ibup_vmext_worker w, again;
		char line[128];

		r = ibup_vmext_worker_parse((const char *)data, size, &w);
		if (r == 0) {
			int n = ibup_vmext_worker_format(&w, line, sizeof(line));

			if (n < 0 ||
			    ibup_vmext_worker_parse(line, (size_t)n, &again) != 0 ||
			    again.kind != w.kind || again.pid != w.pid ||
			    again.seq != w.seq || strcmp(again.unit, w.unit) != 0)
				abort();
		} else if (r != -EBADMSG) {
			abort();
		}
	}

	msg = strndup((const char *)data, size);
	if (!msg)
		return 0;
	if (ibup_vmext_set_message(&st.message, "%s", msg) < 0 ||
	    ibup_vmext_add_substatus(&st, "check", IBUP_VMEXT_ERROR, 14, "%s", msg) < 0)
		abort();
	if (strlen(st.message) > IBUP_VMEXT_MESSAGE_MAX)
		abort();
	if (ibup_vmext_status_format(&env, &st, 0, &text) < 0)
		abort();
	doc = json_loads(text, 0, NULL);
	got = json_string_value(json_object_get(
		json_object_get(json_object_get(json_array_get(doc, 0), "status"),
				"formattedMessage"),
		"message"));
	if (!got || strcmp(got, st.message) != 0)
		abort();
	json_decref(doc);
	free(text);
	free(msg);
	ibup_vmext_status_release(&st);
	return 0;
}

// SPDX-License-Identifier: MIT
/* lib/vmext: the extension handler protocol's parsers, status formatting and files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>
#include <cmocka.h>
#include <jansson.h>

#include "internal.h"
#include "ibup/vmext.h"
#include "tmp-root.h"

#define S(text) (text), strlen(text)

/* What the agent's create_handler_env() writes. */
static const char agent_env[] =
	"[{\"name\": \"Ibup.InfiniBand\", \"version\": 1.0, \"handlerEnvironment\": "
	"{\"logFolder\": \"/var/log/azure/Ibup.InfiniBand\", \"configFolder\": "
	"\"/var/lib/waagent/Ibup.InfiniBand-1.0.0/config\", \"statusFolder\": "
	"\"/var/lib/waagent/Ibup.InfiniBand-1.0.0/status\", \"heartbeatFile\": "
	"\"/var/lib/waagent/Ibup.InfiniBand-1.0.0/heartbeat.log\", \"eventsFolder\": "
	"\"/var/log/azure/Ibup.InfiniBand/events\", \"eventsFolder_preview\": "
	"\"/var/log/azure/Ibup.InfiniBand/events\"}}]";

static void test_env_parse(void **state)
{
	struct ibup_vmext_env env;
	struct ibup_diag d;

	assert_int_equal(ibup_vmext_env_parse(S(agent_env), &env, &d), 0);
	assert_string_equal(env.name, "Ibup.InfiniBand");
	assert_string_equal(env.version, "1.0");
	assert_string_equal(env.status_folder,
			    "/var/lib/waagent/Ibup.InfiniBand-1.0.0/status");
	assert_string_equal(env.config_folder,
			    "/var/lib/waagent/Ibup.InfiniBand-1.0.0/config");
	assert_string_equal(env.heartbeat_file,
			    "/var/lib/waagent/Ibup.InfiniBand-1.0.0/heartbeat.log");
	ibup_vmext_env_release(&env);

	/* Without the optional keys. */
	assert_int_equal(
		ibup_vmext_env_parse(S("[{\"name\":\"X\",\"version\":\"1.0\","
				       "\"handlerEnvironment\":{\"configFolder\":"
				       "\"/c\",\"statusFolder\":\"/s\"}}]"),
				     &env, &d),
		0);
	assert_null(env.heartbeat_file);
	assert_null(env.log_folder);
	ibup_vmext_env_release(&env);

	assert_int_equal(ibup_vmext_env_parse(S(""), &env, &d), -EBADMSG);
	assert_int_equal(ibup_vmext_env_parse(S("{}"), &env, &d), -EBADMSG);
	assert_int_equal(
		ibup_vmext_env_parse(S("[{\"handlerEnvironment\":{\"statusFolder\":"
				       "\"/s\"}}]"),
				     &env, &d),
		-EBADMSG);
	assert_non_null(strstr(d.msg, "configFolder"));
	assert_int_equal(
		ibup_vmext_env_parse(S("[{\"handlerEnvironment\":{\"configFolder\":"
				       "\"rel\",\"statusFolder\":\"/s\"}}]"),
				     &env, &d),
		-EBADMSG);
	assert_non_null(strstr(d.msg, "absolute"));
}

static void test_manifest(void **state)
{
	bool hb = true;

	assert_int_equal(
		ibup_vmext_manifest_heartbeat(
			S("[{\"handlerManifest\":{\"enableCommand\":\"x\"}}]"), &hb),
		0);
	assert_false(hb);
	assert_int_equal(
		ibup_vmext_manifest_heartbeat(
			S("[{\"handlerManifest\":{\"reportHeartbeat\":true}}]"), &hb),
		0);
	assert_true(hb);
	hb = false;
	assert_int_equal(
		ibup_vmext_manifest_heartbeat(
			S("[{\"handlerManifest\":{\"reportHeartbeat\":\"true\"}}]"), &hb),
		0);
	assert_true(hb);
	assert_int_equal(ibup_vmext_manifest_heartbeat(S("{}"), &hb), -EBADMSG);
	assert_int_equal(ibup_vmext_manifest_heartbeat(S("nope"), &hb), -EBADMSG);
}

static void test_seq(void **state)
{
	unsigned seq;

	assert_int_equal(ibup_vmext_parse_seq("0", &seq), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(ibup_vmext_parse_seq("42", &seq), 0);
	assert_int_equal(seq, 42);
	assert_int_equal(ibup_vmext_parse_seq("2147483647", &seq), 0);
	assert_int_equal(ibup_vmext_parse_seq("2147483648", &seq), -EINVAL);
	assert_int_equal(ibup_vmext_parse_seq("", &seq), -EINVAL);
	assert_int_equal(ibup_vmext_parse_seq("-1", &seq), -EINVAL);
	assert_int_equal(ibup_vmext_parse_seq("1 ", &seq), -EINVAL);
	assert_int_equal(ibup_vmext_parse_seq("0x1", &seq), -EINVAL);
	assert_int_equal(ibup_vmext_parse_seq(NULL, &seq), -EINVAL);
}

static void settings_ok(const char *text, bool ipoib, bool check, bool prot)
{
	struct ibup_vmext_settings s;
	struct ibup_diag d = { 0 };

	assert_int_equal(ibup_vmext_settings_parse(S(text), &s, &d), 0);
	assert_int_equal(s.ipoib, ipoib);
	assert_int_equal(s.check, check);
	assert_int_equal(s.has_protected, prot);
}

static void settings_bad(const char *text, const char *want)
{
	struct ibup_vmext_settings s;
	struct ibup_diag d = { 0 };

	assert_int_equal(ibup_vmext_settings_parse(S(text), &s, &d), -EBADMSG);
	if (!strstr(d.msg, want))
		fail_msg("'%s': '%s' does not say '%s'", text, d.msg, want);
}

#define HS(x) "{\"runtimeSettings\":[{\"handlerSettings\":" x "}]}"

static void test_settings(void **state)
{
	/* The agent's empty 0.settings, and settings without public ones. */
	settings_ok("", true, true, false);
	settings_ok("\n", true, true, false);
	settings_ok(HS("{}"), true, true, false);
	settings_ok(HS("{\"publicSettings\":null,\"protectedSettings\":null,"
		       "\"protectedSettingsCertThumbprint\":null}"),
		    true, true, false);
	settings_ok(HS("{\"publicSettings\":{}}"), true, true, false);
	settings_ok(HS("{\"publicSettings\":{\"ipoib\":false}}"), false, true, false);
	settings_ok(HS("{\"publicSettings\":{\"check\":false,\"ipoib\":true},"
		       "\"protectedSettings\":\"MIIBsAYJKoZIhvcNAQcDoIIBoTCCAZ0C\","
		       "\"protectedSettingsCertThumbprint\":\"6A2C\"}"),
		    true, false, true);

	settings_bad(HS("{\"publicSettings\":{\"ipoib\":\"yes\"}}"),
		     "publicSettings.ipoib must be true or false, not a string");
	settings_bad(HS("{\"publicSettings\":{\"check\":1}}"),
		     "publicSettings.check must be true or false, not a number");
	settings_bad(HS("{\"publicSettings\":{\"frobnicate\":true}}"),
		     "unknown key 'frobnicate'");
	settings_bad(HS("{\"publicSettings\":{\"checkBench\":true}}"),
		     "checkBench is not part of this version");
	settings_bad(HS("{\"publicSettings\":[]}"), "publicSettings must be an object");
	settings_bad(HS("{\"publicSettings\":\"{}\"}"),
		     "publicSettings must be an object");
	settings_bad(HS("[]"), "handlerSettings is missing");
	settings_bad("{\"runtimeSettings\":[]}", "runtimeSettings");
	settings_bad("{\"runtimeSettings\":{}}", "runtimeSettings");
	settings_bad("[]", "runtimeSettings");
	settings_bad("{\"runtimeSettings\": [{\"handlerSet", "not JSON");
	/* Duplicate keys could say two things: refused. */
	settings_bad(HS("{\"publicSettings\":{\"ipoib\":true,\"ipoib\":false}}"),
		     "not JSON");
	/* The install step: "stack", and what needs it. */
	{
		struct ibup_vmext_settings st;
		struct ibup_diag d = { 0 };

		assert_int_equal(ibup_vmext_settings_parse(S(""), &st, &d), 0);
		assert_false(st.install);
		assert_int_equal(
			ibup_vmext_settings_parse(
				S(HS("{\"publicSettings\":{\"stack\":\"doca\","
				     "\"version\":\"3.2.1\",\"secureBoot\":\"enroll\"}}")),
				&st, &d),
			0);
		assert_true(st.install);
		assert_string_equal(st.stack, "doca");
		assert_string_equal(st.version, "3.2.1");
		assert_true(st.secure_boot_enroll);
		assert_false(st.replace);
		assert_true(st.ipoib);
	}
	settings_bad(
		HS("{\"publicSettings\":{\"stack\":\"ofed\"}}"),
		"publicSettings.stack must be one of auto, inbox, doca, mofed, not 'ofed'");
	settings_bad(HS("{\"publicSettings\":{\"stack\":1}}"),
		     "publicSettings.stack must be a string, not a number");
	settings_bad(
		HS("{\"publicSettings\":{\"version\":\"3.2.1\"}}"),
		"publicSettings.version is for the install step: give \"stack\" too");
	settings_bad(HS("{\"publicSettings\":{\"replace\":true}}"),
		     "publicSettings.replace is for the install step");
	settings_bad(HS("{\"publicSettings\":{\"secureBoot\":\"enroll\"}}"),
		     "publicSettings.secureBoot is for the install step");
	settings_bad(
		HS("{\"publicSettings\":{\"stack\":\"inbox\",\"secureBoot\":\"x\"}}"),
		"secureBoot must be one of refuse, enroll, not 'x'");
	settings_bad(HS("{\"publicSettings\":{\"stack\":\"doca\",\"version\":\"3 2\"}}"),
		     "publicSettings.version holds ' '");
	settings_bad(HS("{\"publicSettings\":{\"stack\":\"doca\",\"version\":\"\"}}"),
		     "publicSettings.version must be 1 to 63 characters");
	/* A hostile key is named, cleaned and bounded. */
	settings_bad(HS("{\"publicSettings\":{\"a\\u001bb\":true}}"),
		     "unknown key 'a?b'");
}

static void test_messages(void **state)
{
	struct ibup_vmext_status st = { 0 };
	char big[3000];

	/* 2000 bytes of two-byte characters: cut at a character boundary, within 1 KiB. */
	for (size_t i = 0; i + 1 < 2001; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[2000] = '\0';
	assert_int_equal(ibup_vmext_set_message(&st.message, "%s", big), 0);
	assert_true(strlen(st.message) <= IBUP_VMEXT_MESSAGE_MAX);
	assert_string_equal(st.message + strlen(st.message) - 3, "...");
	assert_int_equal(
		((unsigned char)st.message[strlen(st.message) - 4] & 0xc0) == 0x80, 1);
	assert_int_equal(ibup_vmext_set_message(&st.message, "ctl\x01x"), 0);
	assert_string_equal(st.message, "ctl?x");
	/* What jansson refuses must not reach a status (found by fuzz-vmext): an overlong
	 * form, a surrogate, past U+10FFFF; a valid four-byte character stays. */
	assert_int_equal(ibup_vmext_set_message(&st.message, "%s",
						"a\xe0\x84\x82"
						"b\xed\xa0\x80"
						"c\xf4\x90\x80\x80"
						"d\xf0\x9f\x98\x80"),
			 0);
	assert_string_equal(st.message, "a???b???c????"
					"d\xf0\x9f\x98\x80");

	for (unsigned i = 0; i < IBUP_VMEXT_MAX_STEPS; i++)
		assert_int_equal(ibup_vmext_add_substatus(&st, "s", IBUP_VMEXT_SUCCESS, 0,
							  "%u", i),
				 0);
	assert_int_equal(ibup_vmext_add_substatus(&st, "s", IBUP_VMEXT_SUCCESS, 0, "x"),
			 -ENOSPC);
	ibup_vmext_status_release(&st);
	assert_null(st.message);
	assert_int_equal(st.n_sub, 0);
}

static void test_status_format(void **state)
{
	static char name[] = "Ibup.InfiniBand";
	struct ibup_vmext_env env = { .name = name };
	struct ibup_vmext_status st = { .operation = "Enable" };
	json_t *doc, *s, *sub;
	char *text = NULL;

	st.state = IBUP_VMEXT_ERROR;
	st.code = IBUP_VMEXT_FAILED;
	assert_int_equal(ibup_vmext_set_message(&st.message, "check failed: \"x\""), 0);
	assert_int_equal(
		ibup_vmext_add_substatus(&st, "ipoib", IBUP_VMEXT_WARNING, 0, "0 of 1"),
		0);
	assert_int_equal(ibup_vmext_add_substatus(&st, "check", IBUP_VMEXT_ERROR,
						  IBUP_VMEXT_FAILED, "port down"),
			 0);
	assert_int_equal(ibup_vmext_status_format(&env, &st, 1700000000, &text), 0);
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	assert_true(json_is_array(doc) && json_array_size(doc) == 1);
	assert_true(json_real_value(json_object_get(json_array_get(doc, 0), "version")) ==
		    1.0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(doc, 0),
							      "timestampUTC")),
			    "2023-11-14T22:13:20Z");
	s = json_object_get(json_array_get(doc, 0), "status");
	assert_string_equal(json_string_value(json_object_get(s, "name")),
			    "Ibup.InfiniBand");
	assert_string_equal(json_string_value(json_object_get(s, "operation")), "Enable");
	assert_string_equal(json_string_value(json_object_get(s, "status")), "error");
	assert_int_equal(json_integer_value(json_object_get(s, "code")), 14);
	assert_true(json_is_null(json_object_get(s, "configurationAppliedTime")));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(s, "formattedMessage"), "lang")),
			    "en-US");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(s, "formattedMessage"), "message")),
			    "check failed: \"x\"");
	sub = json_object_get(s, "substatus");
	assert_int_equal(json_array_size(sub), 2);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(sub, 0), "name")),
		"ipoib");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(sub, 0), "status")),
		"warning");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(sub, 1), "status")),
		"error");
	assert_int_equal(
		json_integer_value(json_object_get(json_array_get(sub, 1), "code")), 14);
	json_decref(doc);
	free(text);
	ibup_vmext_status_release(&st);
}

static void test_check_substatus(void **state)
{
	static char one[] = "1", subject[] = "mlx5_ib0/1", down[] = "down, polling",
		    active[] = "active, link_up", fix[] = "deallocate and start the VM",
		    kib[] = "64 KiB";
	struct ibup_check checks[] = {
		{ .id = "hca_count", .verdict = IBUP_PASS, .seen = one },
		{ .id = "port_state",
		  .subject = subject,
		  .verdict = IBUP_FAIL,
		  .seen = down,
		  .expected = active,
		  .fix = fix },
		{ .id = "memlock", .verdict = IBUP_WARN, .seen = kib },
	};
	struct ibup_check_report rep = { .checks = checks, .n = 3, .fabric = true };
	struct ibup_vmext_status st = { 0 };

	assert_int_equal(ibup_vmext_check_substatus(&rep, &st), 0);
	assert_int_equal(st.sub[0].state, IBUP_VMEXT_ERROR);
	assert_int_equal(st.sub[0].code, IBUP_VMEXT_FAILED);
	assert_string_equal(
		st.sub[0].message,
		"1 failed, 1 warning, 1 passed: port_state mlx5_ib0/1: down, "
		"polling (expected active, link_up); fix: deallocate and start "
		"the VM. memlock: 64 KiB.");
	ibup_vmext_status_release(&st);

	checks[1].verdict = IBUP_PASS;
	assert_int_equal(ibup_vmext_check_substatus(&rep, &st), 0);
	assert_int_equal(st.sub[0].state, IBUP_VMEXT_WARNING);
	assert_int_equal(st.sub[0].code, 0);
	ibup_vmext_status_release(&st);

	checks[2].verdict = IBUP_PASS;
	assert_int_equal(ibup_vmext_check_substatus(&rep, &st), 0);
	assert_int_equal(st.sub[0].state, IBUP_VMEXT_SUCCESS);
	assert_string_equal(
		st.sub[0].message,
		"0 failed, 0 warnings, 3 passed: ready for MPI over InfiniBand.");
	ibup_vmext_status_release(&st);

	rep.fabric = false;
	assert_int_equal(ibup_vmext_check_substatus(&rep, &st), 0);
	assert_int_equal(st.sub[0].state, IBUP_VMEXT_ERROR);
	assert_int_equal(st.sub[0].code, IBUP_VMEXT_NO_IB);
	ibup_vmext_status_release(&st);
}

static void test_files(void **state)
{
	struct ibup_vmext_env env = { 0 };
	struct ibup_vmext_status st = { .operation = "Enable",
					.state = IBUP_VMEXT_SUCCESS };
	struct ibup_vmext_settings s;
	enum ibup_vmext_state was;
	struct ibup_ctx *ctx = NULL;
	struct ibup_diag d;
	struct utimbuf old = { 1000000000, 1000000000 };
	char root[TMP_ROOT_SIZE], path[256];
	_cleanup_free_ char *text = NULL;
	size_t len;
	unsigned seq;
	bool hb;

	tmp_root_make(root, "vmext", &ctx);
	assert_int_equal(ibup_vmext_env_fallback(root, &env), 0);
	snprintf(path, sizeof(path), "%s/config", root);
	assert_string_equal(env.config_folder, path);

	/* No settings yet; then the newest by time, not by number. */
	assert_int_equal(ibup_vmext_newest_seq(env.config_folder, &seq), -ENOENT);
	tmp_root_write(root, "config/7.settings", S(""));
	tmp_root_write(root, "config/3.settings",
		       S(HS("{\"publicSettings\":{\"ipoib\":false}}")));
	tmp_root_write(root, "config/x.settings", S(""));
	tmp_root_write(root, "config/HandlerState", S("Enabled"));
	snprintf(path, sizeof(path), "%s/config/7.settings", root);
	assert_int_equal(utime(path, &old), 0);
	assert_int_equal(ibup_vmext_newest_seq(env.config_folder, &seq), 0);
	assert_int_equal(seq, 3);
	assert_int_equal(ibup_vmext_settings_read(env.config_folder, 3, &s, &d), 0);
	assert_false(s.ipoib);
	assert_int_equal(ibup_vmext_settings_read(env.config_folder, 9, &s, &d), -ENOENT);

	/* The status folder is made when missing; the file is the whole status. */
	assert_int_equal(ibup_vmext_status_read(&env, 3, &was), -ENOENT);
	assert_int_equal(ibup_vmext_set_message(&st.message, "ok"), 0);
	assert_int_equal(ibup_vmext_status_write(&env, 3, &st, time(NULL)), 0);
	assert_int_equal(ibup_vmext_status_read(&env, 3, &was), 0);
	assert_int_equal(was, IBUP_VMEXT_SUCCESS);
	assert_int_equal(ibup_read_file(ctx, "status/3.status", 65536, &text, &len), 0);
	assert_non_null(strstr(text, "\"status\": \"success\""));

	/* The heartbeat, where the environment says. */
	assert_int_equal(ibup_vmext_heartbeat_write(&env, true, "fine"), 0);
	free(TAKE_PTR(text));
	assert_int_equal(ibup_read_file(ctx, "heartbeat.log", 65536, &text, &len), 0);
	assert_non_null(strstr(text, "\"heartbeat\""));
	assert_non_null(strstr(text, "\"Ready\""));

	/* mrseq. */
	assert_int_equal(ibup_vmext_mrseq_read(root, &seq), -ENOENT);
	assert_int_equal(ibup_vmext_mrseq_write(root, 3), 0);
	assert_int_equal(ibup_vmext_mrseq_read(root, &seq), 0);
	assert_int_equal(seq, 3);
	assert_int_equal(ibup_vmext_mrseq_remove(root), 0);
	assert_int_equal(ibup_vmext_mrseq_remove(root), 0);
	assert_int_equal(ibup_vmext_mrseq_read(root, &seq), -ENOENT);
	tmp_root_write(root, "mrseq", S("garbage"));
	assert_int_equal(ibup_vmext_mrseq_read(root, &seq), -EBADMSG);

	/* The background work's record. */
	{
		struct ibup_vmext_worker w = { .kind = IBUP_VMEXT_WORKER_PROCESS,
					       .pid = 4242,
					       .seq = 3 },
					 got;
		char line[128];

		assert_int_equal(ibup_vmext_worker_read(root, &got), -ENOENT);
		assert_int_equal(ibup_vmext_worker_write(root, &w), 0);
		assert_int_equal(ibup_vmext_worker_read(root, &got), 0);
		assert_int_equal(got.kind, IBUP_VMEXT_WORKER_PROCESS);
		assert_int_equal(got.pid, 4242);
		assert_int_equal(got.seq, 3);
		w = (struct ibup_vmext_worker){ .kind = IBUP_VMEXT_WORKER_SYSTEMD,
						.unit = "ibup-vmext-5.service",
						.seq = 5 };
		assert_int_equal(ibup_vmext_worker_format(&w, line, sizeof(line)), 31);
		assert_string_equal(line, "systemd ibup-vmext-5.service 5\n");
		assert_int_equal(ibup_vmext_worker_parse(line, strlen(line), &got), 0);
		assert_string_equal(got.unit, "ibup-vmext-5.service");
		assert_int_equal(ibup_vmext_worker_parse(S("process 0 1"), &got),
				 -EBADMSG);
		assert_int_equal(ibup_vmext_worker_parse(S("process 12x 1"), &got),
				 -EBADMSG);
		assert_int_equal(ibup_vmext_worker_parse(S("process 12 1 extra"), &got),
				 -EBADMSG);
		assert_int_equal(
			ibup_vmext_worker_parse(S("systemd sshd.service 1"), &got),
			-EBADMSG);
		assert_int_equal(ibup_vmext_worker_parse(S("process 12 -1"), &got),
				 -EBADMSG);
		assert_int_equal(ibup_vmext_worker_parse(S("process 99999999 1"), &got),
				 -EBADMSG);
		assert_int_equal(ibup_vmext_worker_remove(root), 0);
		assert_int_equal(ibup_vmext_worker_remove(root), 0);
		assert_int_equal(ibup_vmext_worker_read(root, &got), -ENOENT);
	}

	/* The status's code, as the agent takes it. */
	{
		int code = -1;

		st.state = IBUP_VMEXT_ERROR;
		st.code = IBUP_VMEXT_NO_IB;
		assert_int_equal(ibup_vmext_status_write(&env, 4, &st, time(NULL)), 0);
		assert_int_equal(ibup_vmext_status_read_code(&env, 4, &was, &code), 0);
		assert_int_equal(was, IBUP_VMEXT_ERROR);
		assert_int_equal(code, 11);
	}

	/* The manifest and the environment, from the directory. */
	assert_int_equal(ibup_vmext_manifest_read(root, &hb), -ENOENT);
	tmp_root_write(root, "HandlerManifest.json",
		       S("[{\"handlerManifest\":{\"reportHeartbeat\":true}}]"));
	assert_int_equal(ibup_vmext_manifest_read(root, &hb), 0);
	assert_true(hb);
	ibup_vmext_env_release(&env);
	assert_int_equal(ibup_vmext_env_read(root, &env, &d), -ENOENT);
	tmp_root_write(root, "HandlerEnvironment.json", S(agent_env));
	assert_int_equal(ibup_vmext_env_read(root, &env, &d), 0);
	assert_string_equal(env.name, "Ibup.InfiniBand");

	ibup_vmext_env_release(&env);
	ibup_vmext_status_release(&st);
	tmp_root_remove(root, ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_parse),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_seq),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_status_format),
		cmocka_unit_test(test_check_substatus),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* ibup install: distributions from os-release, the manifest's validation, the choice of stack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "tmp-root.h"

static void test_distro(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *key;
		enum ibup_pkg_manager pm;
	} cases[] = {
		{ "ID=ubuntu\nVERSION_ID=\"22.04\"\n", 0, "ubuntu22.04", IBUP_PM_APT },
		{ "ID=ubuntu\nVERSION_ID=\"26.04\"\n", 0, "ubuntu26.04", IBUP_PM_APT },
		{ "ID=ubuntu\nVERSION_ID=\"20.04\"\n", 0, "ubuntu20.04", IBUP_PM_APT },
		{ "ID=ubuntu\nVERSION_ID=\"18.04\"\n", -EPROTONOSUPPORT, NULL, 0 },
		{ "ID=ubuntu\nVERSION_ID=\"22.4\"\n", 0, "ubuntu22.04", IBUP_PM_APT },
		{ "ID=debian\nVERSION_ID=\"12\"\n", 0, "debian12", IBUP_PM_APT },
		{ "ID=debian\nVERSION_ID=\"11\"\n", -EPROTONOSUPPORT, NULL, 0 },
		{ "ID=debian\n", -EPROTONOSUPPORT, NULL,
		  0 }, /* testing/sid: no VERSION_ID */
		{ "ID=\"rhel\"\nVERSION_ID=\"9.4\"\n", 0, "rhel9", IBUP_PM_DNF },
		{ "ID=\"almalinux\"\nVERSION_ID=\"8.10\"\n", 0, "rhel8", IBUP_PM_DNF },
		{ "ID=\"rocky\"\nVERSION_ID=\"9.5\"\n", 0, "rhel9", IBUP_PM_DNF },
		{ "ID=\"rocky\"\nVERSION_ID=\"10.0\"\n", -EPROTONOSUPPORT, NULL, 0 },
		{ "ID=\"centos\"\nVERSION_ID=\"7\"\n", -EPROTONOSUPPORT, NULL, 0 },
		{ "ID=\"sles\"\nVERSION_ID=\"15.6\"\n", 0, "sles15sp6", IBUP_PM_ZYPPER },
		{ "ID=\"sles\"\nVERSION_ID=\"15.5\"\n", 0, "sles15sp5", IBUP_PM_ZYPPER },
		{ "ID=\"sles\"\nVERSION_ID=\"15.4\"\n", -EPROTONOSUPPORT, NULL, 0 },
		{ "ID=\"sle_hpc\"\nVERSION_ID=\"15.6\"\n", 0, "sles15sp6",
		  IBUP_PM_ZYPPER },
		{ "ID=azurelinux\nVERSION_ID=\"3.0\"\n", 0, "azurelinux3.0",
		  IBUP_PM_TDNF },
		{ "ID=mariner\nVERSION_ID=\"2.0\"\n", -EPROTONOSUPPORT, NULL, 0 },
		{ "ID=ubuntu\nVERSION_ID=\"22.04x\"\n", -EPROTONOSUPPORT, NULL, 0 },
		{ "VERSION_ID=\"22.04\"\n", -EBADMSG, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ibup_distro d;
		struct ibup_diag diag = { 0 };
		int r = ibup_distro_parse(cases[i].text, &d, &diag);

		if (r != cases[i].rc)
			fail_msg("case %zu (%s): %d, expected %d", i, cases[i].text, r,
				 cases[i].rc);
		if (r == -EPROTONOSUPPORT)
			assert_non_null(strstr(diag.msg, "ID="));
		if (r < 0)
			continue;
		assert_string_equal(d.key, cases[i].key);
		assert_int_equal(d.pm, cases[i].pm);
		ibup_distro_release(&d);
	}
}

static void test_manifest_builtin(void **state)
{
	struct ibup_manifest m;
	struct ibup_diag diag = { 0 };
	const struct ibup_manifest_row *row;

	(void)state;
	assert_int_equal(ibup_manifest_builtin(&m, &diag), 0);
	assert_true(m.n > 5);
	for (unsigned i = 0; i < m.n; i++)
		assert_non_null(m.rows[i].source);
	row = ibup_manifest_find(&m, "ubuntu24.04", "x86_64", IBUP_STACK_DOCA, NULL,
				 NULL);
	assert_non_null(row);
	assert_string_equal(row->version, "3.2.3");
	assert_non_null(row->sha256);
	row = ibup_manifest_find(&m, "ubuntu24.04", "aarch64", IBUP_STACK_DOCA, NULL,
				 NULL);
	assert_non_null(row);
	assert_string_equal(row->version, "3.2.2");
	/* The one row whose hash was not recorded whole has none. */
	row = ibup_manifest_find(&m, "ubuntu20.04", "x86_64", IBUP_STACK_DOCA, NULL,
				 NULL);
	assert_non_null(row);
	assert_null(row->sha256);
	assert_null(ibup_manifest_find(&m, "azurelinux3.0", "x86_64", IBUP_STACK_DOCA,
				       NULL, NULL));
	row = ibup_manifest_find(&m, "ubuntu20.04", "x86_64", IBUP_STACK_MOFED, NULL,
				 "cx3");
	assert_non_null(row);
	assert_string_equal(row->version, "4.9-7.1.0.0");
	assert_string_equal(row->max_kernel, "5.5");
	assert_null(ibup_manifest_find(&m, "ubuntu22.04", "x86_64", IBUP_STACK_DOCA,
				       "9.9", NULL));
	ibup_manifest_release(&m);
}

#define ROW_OK                                                                                  \
	"\"distro\":\"debian12\",\"arch\":\"x86_64\",\"stack\":\"doca\",\"version\":\"3.4.0\"," \
	"\"url\":\"https://example.com/doca-host.deb\",\"sources\":{\"url\":\"x\",\"sha256\":\"y\"}"

static void test_manifest_invalid(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "{", "" },
		{ "{\"schema_version\":2,\"rows\":[]}", "schema_version" },
		{ "{\"schema_version\":1}", "\"rows\"" },
		{ "{\"schema_version\":1,\"rows\":[{" ROW_OK "}]}",
		  "\"sha256\" is missing" },
		{ "{\"schema_version\":1,\"rows\":[{" ROW_OK ",\"sha256\":\"ABC\"}]}",
		  "64 lower-case hex" },
		{ "{\"schema_version\":1,\"rows\":[{" ROW_OK ",\"sha256\":\""
		  "75B8D4258B7239EF5021ABAA25E7EEB4FCBC0C8117CAB89CE1A766D2D218C8A0\"}]}",
		  "64 lower-case hex" },
		{ "{\"schema_version\":1,\"rows\":[{\"distro\":\"debian12\",\"arch\":\"x86_64\","
		  "\"stack\":\"inbox\",\"version\":\"1\",\"url\":\"https://e/x\",\"sha256\":null,"
		  "\"sources\":{\"url\":\"x\"}}]}",
		  "\"doca\" or \"mofed\"" },
		{ "{\"schema_version\":1,\"rows\":[{\"distro\":\"debian12\",\"arch\":\"x86_64\","
		  "\"stack\":\"doca\",\"version\":\"1\",\"url\":\"ftp://e/x\",\"sha256\":null,"
		  "\"sources\":{\"url\":\"x\"}}]}",
		  "http or https" },
		{ "{\"schema_version\":1,\"rows\":[{\"distro\":\"debian12\",\"arch\":\"x86_64\","
		  "\"stack\":\"doca\",\"version\":\"1\",\"url\":\"https://e/x\",\"sha256\":null}]}",
		  "\"sources\"" },
		{ "{\"schema_version\":1,\"rows\":[{\"distro\":\"debian12\",\"arch\":\"s390x\","
		  "\"stack\":\"doca\",\"version\":\"1\",\"url\":\"https://e/x\",\"sha256\":null,"
		  "\"sources\":{\"url\":\"x\"}}]}",
		  "\"arch\"" },
		{ "{\"schema_version\":1,\"schema_version\":1,\"rows\":[]}",
		  "duplicate" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ibup_manifest m;
		struct ibup_diag diag = { 0 };
		int r = ibup_manifest_parse(cases[i].text, "t.json", &m, &diag);

		if (r != -EBADMSG || !strstr(diag.msg, cases[i].msg))
			fail_msg("case %zu: %d '%s', expected -EBADMSG '%s'", i, r,
				 diag.msg, cases[i].msg);
	}
}

static void test_manifest_valid(void **state)
{
	struct ibup_manifest m;
	struct ibup_diag diag = { 0 };

	(void)state;
	assert_int_equal(
		ibup_manifest_parse(
			"{\"schema_version\":1,\"rows\":[{" ROW_OK
			",\"sha256\":null},{" ROW_OK ",\"sha256\":\""
			"75b8d4258b7239ef5021abaa25e7eeb4fcbc0c8117cab89ce1a766d2d218c8a0\"}]}",
			"t.json", &m, &diag),
		0);
	assert_int_equal(m.n, 2);
	assert_null(m.rows[0].sha256);
	assert_string_equal(m.rows[0].source, "x"); /* the url's source when no hash */
	assert_string_equal(m.rows[1].source, "y");
	ibup_manifest_release(&m);
}

/* Choosing: a root with an os-release and a kernel, devices of the kinds asked. */
struct fx {
	char root[TMP_ROOT_SIZE];
	struct ibup_ctx *ctx;
	struct ibup_status st;
	struct ibup_device dev[2];
	struct ibup_manifest m;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ibup_diag diag = { 0 };

	tmp_root_make(f->root, "install", &f->ctx);
	ibup_ctx_set_log_fn(f->ctx, NULL, NULL, IBUP_LOG_ERR);
	assert_int_equal(ibup_manifest_builtin(&f->m, &diag), 0);
	f->st.devices = f->dev;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ibup_manifest_release(&f->m);
	tmp_root_remove(f->root, f->ctx);
	free(f);
	return 0;
}

static void host(struct fx *f, const char *os_release, const char *kernel)
{
	char rel[256];

	tmp_root_write(f->root, "etc/os-release", os_release, strlen(os_release));
	snprintf(rel, sizeof(rel), "lib/modules/%s/modules.dep", kernel);
	tmp_root_write(f->root, rel, "", 0);
}

static void device(struct fx *f, enum ibup_device_kind kind, char *driver)
{
	f->dev[f->st.n_devices].kind = kind;
	f->dev[f->st.n_devices].driver = driver;
	f->st.n_devices++;
}

static char mana[] = "mana", mlx5[] = "mlx5_core", mlx4[] = "mlx4_core";

static int choose(struct fx *f, enum ibup_stack stack, struct ibup_install_choice *c,
		  struct ibup_install_error *err)
{
	struct ibup_install_opts o = { .stack = stack,
				       .arch = "x86_64",
				       .manifest = &f->m };

	return ibup_install_choose(f->ctx, &f->st, &o, c, err);
}

static bool has_reason(const struct ibup_install_choice *c, const char *part)
{
	for (unsigned i = 0; i < c->n_reasons; i++)
		if (strstr(c->reasons[i], part))
			return true;
	return false;
}

static void test_choose_auto(void **state)
{
	struct fx *f = *state;
	struct ibup_install_choice c;
	struct ibup_install_error err;

	host(f, "ID=ubuntu\nVERSION_ID=\"22.04\"\n", "5.15.0-1073-azure");
	/* No device: the distribution's stack. */
	assert_int_equal(choose(f, IBUP_STACK_AUTO, &c, &err), 0);
	assert_int_equal(c.stack, IBUP_STACK_INBOX);
	assert_string_equal(c.kernel, "5.15.0-1073-azure");
	ibup_install_choice_release(&c);
	/* MANA alone: never DOCA. */
	device(f, IBUP_KIND_MANA, mana);
	assert_int_equal(choose(f, IBUP_STACK_AUTO, &c, &err), 0);
	assert_int_equal(c.stack, IBUP_STACK_INBOX);
	assert_true(has_reason(&c, "MANA"));
	ibup_install_choice_release(&c);
	/* An InfiniBand HCA (ConnectX-4+): DOCA-OFED from the manifest. */
	device(f, IBUP_KIND_INFINIBAND, mlx5);
	assert_int_equal(choose(f, IBUP_STACK_AUTO, &c, &err), 0);
	assert_int_equal(c.stack, IBUP_STACK_DOCA);
	assert_string_equal(c.version, "3.2.1");
	assert_true(c.dkms);
	assert_non_null(c.sha256);
	ibup_install_choice_release(&c);
	/* Secure Boot enforcing: the signed inbox modules. */
	f->st.boot.secure_boot.enforcing = true;
	assert_int_equal(choose(f, IBUP_STACK_AUTO, &c, &err), 0);
	assert_int_equal(c.stack, IBUP_STACK_INBOX);
	assert_true(has_reason(&c, "Secure Boot"));
	ibup_install_choice_release(&c);
	/* ... and DOCA asked for is refused, with the ways out. */
	assert_int_equal(choose(f, IBUP_STACK_DOCA, &c, &err), -EPERM);
	assert_int_equal(err.kind, IBUP_REFUSE_UNSUPPORTED);
	assert_non_null(strstr(err.hint, "az vm update"));
	assert_non_null(strstr(err.hint, "--secure-boot enroll"));
	ibup_install_choice_release(&c);
}

static void test_choose_refusals(void **state)
{
	struct fx *f = *state;
	struct ibup_install_choice c;
	struct ibup_install_error err;

	/* ConnectX-3: DOCA refused; MLNX_OFED 4.9 only below 5.6, and its hash is unknown. */
	host(f, "ID=ubuntu\nVERSION_ID=\"20.04\"\n", "5.15.0-1089-azure");
	device(f, IBUP_KIND_INFINIBAND, mlx4);
	assert_int_equal(choose(f, IBUP_STACK_DOCA, &c, &err), -EPERM);
	assert_non_null(strstr(err.msg, "ConnectX-3"));
	ibup_install_choice_release(&c);
	assert_int_equal(choose(f, IBUP_STACK_AUTO, &c, &err), 0);
	assert_int_equal(c.stack, IBUP_STACK_INBOX);
	ibup_install_choice_release(&c);
	assert_int_equal(choose(f, IBUP_STACK_MOFED, &c, &err), -EPERM);
	assert_int_equal(err.kind, IBUP_REFUSE_USAGE);
	assert_non_null(strstr(err.msg, "--sha256 is required"));
	ibup_install_choice_release(&c);
	/* Azure Linux: never the DOCA rows. */
	f->st.n_devices = 0;
	device(f, IBUP_KIND_INFINIBAND, mlx5);
	host(f, "ID=azurelinux\nVERSION_ID=\"3.0\"\n", "6.6.64.2-9.azl3");
	assert_int_equal(choose(f, IBUP_STACK_DOCA, &c, &err), -EPERM);
	assert_int_equal(err.kind, IBUP_REFUSE_UNSUPPORTED);
	ibup_install_choice_release(&c);
	assert_int_equal(choose(f, IBUP_STACK_AUTO, &c, &err), 0);
	assert_int_equal(c.stack, IBUP_STACK_INBOX);
	ibup_install_choice_release(&c);
	/* Not a supported distribution. */
	host(f, "ID=fedora\nVERSION_ID=\"41\"\nPRETTY_NAME=\"Fedora Linux 41\"\n",
	     "6.11.4");
	assert_int_equal(choose(f, IBUP_STACK_INBOX, &c, &err), -EPERM);
	assert_int_equal(err.kind, IBUP_REFUSE_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "Fedora Linux 41"));
	ibup_install_choice_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distro),
		cmocka_unit_test(test_manifest_builtin),
		cmocka_unit_test(test_manifest_invalid),
		cmocka_unit_test(test_manifest_valid),
		cmocka_unit_test_setup_teardown(test_choose_auto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_choose_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

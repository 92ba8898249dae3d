// SPDX-License-Identifier: MIT
/* Parsers of the kernel's sysfs formats and os-release. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>

#include "internal.h"

static void test_u32(void **state)
{
	uint32_t v;

	assert_int_equal(ibup_parse_u32("958", 10, &v), 0);
	assert_int_equal(v, 958);
	assert_int_equal(ibup_parse_u32("3be", 16, &v), 0);
	assert_int_equal(v, 0x3be);
	assert_int_equal(ibup_parse_u32("4294967295", 10, &v), 0);
	assert_int_equal(ibup_parse_u32("4294967296", 10, &v), -ERANGE);
	assert_int_equal(ibup_parse_u32("", 10, &v), -EINVAL);
	assert_int_equal(ibup_parse_u32(" 1", 10, &v), -EINVAL);
	assert_int_equal(ibup_parse_u32("-1", 10, &v), -EINVAL);
	assert_int_equal(ibup_parse_u32("12x", 10, &v), -EINVAL);
}

static void test_i32(void **state)
{
	int32_t v;

	assert_int_equal(ibup_parse_i32("-1", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(ibup_parse_i32("3", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(ibup_parse_i32("99999999999", &v), -ERANGE);
	assert_int_equal(ibup_parse_i32("0x1", &v), -EINVAL);
}

static void test_port_state(void **state)
{
	enum ibup_port_state s;

	assert_int_equal(ibup_parse_port_state("4: ACTIVE", &s), 0);
	assert_int_equal(s, IBUP_PORT_ACTIVE);
	assert_int_equal(ibup_parse_port_state("1: DOWN", &s), 0);
	assert_int_equal(s, IBUP_PORT_DOWN);
	assert_int_equal(ibup_parse_port_state("5: ACTIVE_DEFER", &s), 0);
	assert_int_equal(s, IBUP_PORT_ACTIVE_DEFER);
	assert_int_equal(ibup_parse_port_state("0: NOP", &s), 0);
	assert_int_equal(s, IBUP_PORT_NOP);
	assert_int_equal(ibup_parse_port_state("6: BOGUS", &s), -EINVAL);
	assert_int_equal(ibup_parse_port_state("ACTIVE", &s), -EINVAL);
	assert_int_equal(ibup_parse_port_state("4:", &s), -EINVAL);
	assert_int_equal(ibup_parse_port_state(": ACTIVE", &s), -EINVAL);
	assert_string_equal(ibup_port_state_name(IBUP_PORT_ACTIVE_DEFER), "active_defer");
	assert_null(ibup_port_state_name(IBUP_PORT_STATE_UNREAD));
}

static void test_phys_state(void **state)
{
	enum ibup_phys_state s;

	assert_int_equal(ibup_parse_phys_state("5: LinkUp", &s), 0);
	assert_int_equal(s, IBUP_PHYS_LINK_UP);
	assert_int_equal(ibup_parse_phys_state("2: Polling", &s), 0);
	assert_int_equal(s, IBUP_PHYS_POLLING);
	/* What a non-SR-IOV Azure H16r shows (samples/h16r_endure_*). */
	assert_int_equal(ibup_parse_phys_state("0: <unknown>", &s), 0);
	assert_int_equal(s, IBUP_PHYS_UNKNOWN);
	assert_int_equal(ibup_parse_phys_state("4: PortConfigurationTraining", &s), 0);
	assert_string_equal(ibup_phys_state_name(s), "port_configuration_training");
	assert_int_equal(ibup_parse_phys_state("17: Reserved", &s), 0);
	assert_int_equal(s, IBUP_PHYS_UNKNOWN);
	assert_int_equal(ibup_parse_phys_state("LinkUp", &s), -EINVAL);
}

static void test_node_type(void **state)
{
	enum ibup_node_type t;

	assert_int_equal(ibup_parse_node_type("1: CA", &t), 0);
	assert_string_equal(ibup_node_type_name(t), "ca");
	assert_int_equal(ibup_parse_node_type("4: RNIC", &t), 0);
	assert_string_equal(ibup_node_type_name(t), "rnic");
	assert_int_equal(ibup_parse_node_type("0: unknown", &t), -EINVAL);
}

static void test_link_layer(void **state)
{
	enum ibup_link_layer l;

	assert_int_equal(ibup_parse_link_layer("InfiniBand", &l), 0);
	assert_string_equal(ibup_link_layer_name(l), "infiniband");
	assert_int_equal(ibup_parse_link_layer("Ethernet", &l), 0);
	assert_string_equal(ibup_link_layer_name(l), "ethernet");
	assert_int_equal(ibup_parse_link_layer("Unknown", &l), 0);
	assert_string_equal(ibup_link_layer_name(l), "unknown");
	assert_int_equal(ibup_parse_link_layer("infiniband", &l), -EINVAL);
}

struct rate_case {
	const char *text;
	double gbps;
	const char *width, *speed;
};

static void test_rate(void **state)
{
	/* Every form drivers/infiniband/core/sysfs.c rate_show() prints. */
	static const struct rate_case cases[] = {
		{ "2.5 Gb/sec (1X SDR)", 2.5, "1X", "SDR" },
		{ "5 Gb/sec (1X DDR)", 5, "1X", "DDR" },
		{ "10 Gb/sec (4X SDR)", 10, "4X", "SDR" },
		{ "10 Gb/sec (1X FDR10)", 10, "1X", "FDR10" },
		{ "40 Gb/sec (4X QDR)", 40, "4X", "QDR" },
		{ "40 Gb/sec (4X FDR10)", 40, "4X", "FDR10" },
		{ "56 Gb/sec (4X FDR)", 56, "4X", "FDR" },
		{ "100 Gb/sec (4X EDR)", 100, "4X", "EDR" },
		{ "53.125 Gb/sec (1X HDR)", 53.125, "1X", "HDR" },
		{ "100 Gb/sec (2X HDR)", 100, "2X", "HDR" },
		{ "200 Gb/sec (4X HDR)", 200, "4X", "HDR" },
		{ "400 Gb/sec (4X NDR)", 400, "4X", "NDR" },
		{ "800 Gb/sec (4X XDR)", 800, "4X", "XDR" },
		{ "600 Gb/sec (12X HDR)", 600, "12X", "HDR" },
		{ "25 Gb/sec (1X)", 25, "1X", "" },
	};
	static const char *const bad[] = {
		"",
		"Gb/sec (4X HDR)",
		"200 Gb/sec",
		"200 Gb/sec (4X HDR",
		"200 Gb/sec (4X HDR) ",
		"200 Gb/sec (X HDR)",
		"200 Gb/sec (0X HDR)",
		"200 Gb/sec (4X BOGUS)",
		"200 Mb/sec (4X HDR)",
		"2..5 Gb/sec (1X SDR)",
		".5 Gb/sec (1X SDR)",
		"200 Gb/sec (4Y HDR)",
		"200 Gb/sec (4XHDR)",
		"200 Gb/sec (4X )",
	};
	char width[8], speed[16];
	double g;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ibup_parse_rate(cases[i].text, &g, width, sizeof(width),
						 speed, sizeof(speed)),
				 0);
		assert_true(g == cases[i].gbps);
		assert_string_equal(width, cases[i].width);
		assert_string_equal(speed, cases[i].speed);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ibup_parse_rate(bad[i], &g, width, sizeof(width), speed,
						 sizeof(speed)),
				 -EINVAL);
}

static void test_guid(void **state)
{
	char buf[20];
	uint64_t v;

	assert_int_equal(ibup_parse_guid("0015:5dff:fe33:ff56", &v), 0);
	assert_true(v == 0x00155dfffe33ff56ULL);
	ibup_format_guid(v, buf);
	assert_string_equal(buf, "0015:5dff:fe33:ff56");
	assert_int_equal(ibup_parse_guid("0C42:A103:00FB:517C", &v), 0);
	ibup_format_guid(v, buf);
	assert_string_equal(buf, "0c42:a103:00fb:517c");
	assert_int_equal(ibup_parse_guid("0015:5dff:fe33", &v), -EINVAL);
	assert_int_equal(ibup_parse_guid("0015:5dff:fe33:ff56:", &v), -EINVAL);
	assert_int_equal(ibup_parse_guid("0015-5dff-fe33-ff56", &v), -EINVAL);
	assert_int_equal(ibup_parse_guid("0x00155dfffe33ff56", &v), -EINVAL);
}

static void test_gid(void **state)
{
	uint8_t g[16];
	char buf[40];

	assert_int_equal(ibup_parse_gid("fe80:0000:0000:0000:0015:5dff:fd33:ff0b", g), 0);
	assert_int_equal(g[0], 0xfe);
	assert_int_equal(g[15], 0x0b);
	ibup_format_gid(g, buf);
	assert_string_equal(buf, "fe80:0000:0000:0000:0015:5dff:fd33:ff0b");
	assert_int_equal(ibup_parse_gid("0000:0000:0000:0000:0000:ffff:0a63:0001", g), 0);
	assert_int_equal(ibup_parse_gid("fe80::1", g), -EINVAL);
	assert_int_equal(ibup_parse_gid("fe80:0000:0000:0000:0015:5dff:fd33", g),
			 -EINVAL);
}

static void test_gid_type(void **state)
{
	enum ibup_gid_type t;

	assert_int_equal(
		ibup_parse_gid_type("IB/RoCE v1", IBUP_LINK_LAYER_INFINIBAND, &t), 0);
	assert_string_equal(ibup_gid_type_name(t), "ib");
	assert_int_equal(ibup_parse_gid_type("IB/RoCE v1", IBUP_LINK_LAYER_ETHERNET, &t),
			 0);
	assert_string_equal(ibup_gid_type_name(t), "roce_v1");
	assert_int_equal(ibup_parse_gid_type("RoCE v2", IBUP_LINK_LAYER_ETHERNET, &t), 0);
	assert_string_equal(ibup_gid_type_name(t), "roce_v2");
	assert_int_equal(ibup_parse_gid_type("RoCE v3", IBUP_LINK_LAYER_ETHERNET, &t),
			 -EINVAL);
}

static void test_pkey(void **state)
{
	uint16_t k;

	assert_int_equal(ibup_parse_pkey("0x800b", &k), 0);
	assert_int_equal(k, 0x800b);
	assert_int_equal(ibup_parse_pkey("0xffff", &k), 0);
	assert_int_equal(ibup_parse_pkey("0x10000", &k), -EINVAL);
	assert_int_equal(ibup_parse_pkey("800b", &k), -EINVAL);
	assert_int_equal(ibup_parse_pkey("0x", &k), -EINVAL);
}

static void test_tenant_pkey(void **state)
{
	/* Azure's setup-mpi example: 0x800b and 0x7fff give 0x800b. */
	const uint16_t azure[] = { 0x800b, 0x7fff };
	const uint16_t swapped[] = { 0x7fff, 0x8004 };
	const uint16_t ncv3[] = { 0x8005, 0x7fff };
	const uint16_t defaults[] = { 0xffff, 0x0000 };
	const uint16_t both[] = { 0x8001, 0x8003 };
	/* The default full-member key must never win over the tenant's. */
	const uint16_t full_first[] = { 0xffff, 0x800b };
	/* Only entries 0 and 1 carry the tenant key. */
	const uint16_t third[] = { 0xffff, 0x7fff, 0x8002 };

	assert_int_equal(ibup_tenant_pkey(azure, 2), 0x800b);
	assert_int_equal(ibup_tenant_pkey(swapped, 2), 0x8004);
	assert_int_equal(ibup_tenant_pkey(ncv3, 2), 0x8005);
	assert_int_equal(ibup_tenant_pkey(defaults, 2), IBUP_UNKNOWN);
	assert_int_equal(ibup_tenant_pkey(both, 2), 0x8003);
	assert_int_equal(ibup_tenant_pkey(full_first, 2), 0x800b);
	assert_int_equal(ibup_tenant_pkey(third, 3), IBUP_UNKNOWN);
	assert_int_equal(ibup_tenant_pkey(azure, 0), IBUP_UNKNOWN);
}

static void test_os_release(void **state)
{
	const char *text = "NAME=\"Ubuntu\"\n"
			   "VERSION_ID=\"22.04\"\n"
			   "  ID=ubuntu\n"
			   "PRETTY_NAME='Ubuntu 22.04.4 LTS'\n"
			   "ESCAPED=\"a \\\"quoted\\\" word\"\n"
			   "COMMENTED=x # note\n"
			   "IDLE=no\n";
	char *v = NULL;

	assert_int_equal(ibup_os_release_value(text, "ID", &v), 0);
	assert_string_equal(v, "ubuntu");
	free(v);
	assert_int_equal(ibup_os_release_value(text, "VERSION_ID", &v), 0);
	assert_string_equal(v, "22.04");
	free(v);
	assert_int_equal(ibup_os_release_value(text, "PRETTY_NAME", &v), 0);
	assert_string_equal(v, "Ubuntu 22.04.4 LTS");
	free(v);
	assert_int_equal(ibup_os_release_value(text, "ESCAPED", &v), 0);
	assert_string_equal(v, "a \"quoted\" word");
	free(v);
	assert_int_equal(ibup_os_release_value(text, "COMMENTED", &v), 0);
	assert_string_equal(v, "x");
	free(v);
	assert_int_equal(ibup_os_release_value(text, "VERSION", &v), -ENOENT);
	assert_int_equal(ibup_os_release_value("", "ID", &v), -ENOENT);
}

static void test_cpulist(void **state)
{
	cpu_set_t set;

	assert_int_equal(ibup_parse_cpulist("0-3,8-11", &set), 0);
	assert_int_equal(CPU_COUNT(&set), 8);
	assert_true(CPU_ISSET(0, &set) && CPU_ISSET(3, &set) && CPU_ISSET(8, &set) &&
		    CPU_ISSET(11, &set));
	assert_false(CPU_ISSET(4, &set) || CPU_ISSET(7, &set) || CPU_ISSET(12, &set));
	assert_int_equal(ibup_parse_cpulist("5", &set), 0);
	assert_int_equal(CPU_COUNT(&set), 1);
	assert_true(CPU_ISSET(5, &set));
	assert_int_equal(ibup_parse_cpulist("0,2,4-5", &set), 0);
	assert_int_equal(CPU_COUNT(&set), 4);
	/* Malformed: each refused, never half-applied. */
	assert_int_equal(ibup_parse_cpulist("", &set), -EINVAL);
	assert_int_equal(ibup_parse_cpulist("a", &set), -EINVAL);
	assert_int_equal(ibup_parse_cpulist("1-", &set), -EINVAL);
	assert_int_equal(ibup_parse_cpulist("1,", &set), -EINVAL);
	assert_int_equal(ibup_parse_cpulist("-1", &set), -EINVAL);
	assert_int_equal(ibup_parse_cpulist("3-1", &set), -ERANGE);
	assert_int_equal(ibup_parse_cpulist("0-99999", &set), -ERANGE);
	assert_int_equal(ibup_parse_cpulist("1 2", &set), -EINVAL);
}

/* What jansson accepts and no terminal acts on: strict UTF-8, no C0/DEL/C1 controls. */
static void test_sanitize(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "mlx5_0", "mlx5_0" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "\x1b[2J", "?[2J" },
		{ "a\x7f", "a?" },
		{ "\xc2\x9b"
		  "31m",
		  "??31m" }, /* C1 CSI */
		{ "\xc0\xaf", "??" }, /* overlong '/' */
		{ "\xe0\x80\xaf", "???" }, /* overlong, three bytes */
		{ "\xed\xa0\x80", "???" }, /* a UTF-16 surrogate */
		{ "\xf4\x90\x80\x80", "????" }, /* past U+10FFFF */
		{ "\xff\xfe", "??" },
		{ "\xe2\x82", "??" }, /* cut short */
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[32];
		json_t *j;

		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		assert_string_equal(ibup_sanitize(buf), cases[i].out);
		j = json_string(buf);
		assert_non_null(j);
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),    cmocka_unit_test(test_u32),
		cmocka_unit_test(test_i32),	    cmocka_unit_test(test_port_state),
		cmocka_unit_test(test_phys_state),  cmocka_unit_test(test_node_type),
		cmocka_unit_test(test_link_layer),  cmocka_unit_test(test_rate),
		cmocka_unit_test(test_guid),	    cmocka_unit_test(test_gid),
		cmocka_unit_test(test_gid_type),    cmocka_unit_test(test_pkey),
		cmocka_unit_test(test_tenant_pkey), cmocka_unit_test(test_os_release),
		cmocka_unit_test(test_cpulist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* lib/metrics: the HTTP request judge, label escaping, addresses, and the rendering of
 * counters by width (saturation, the extended data counters, driver counters first). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ibup/ibup.h"
#include "macro.h"

static int route(const char *req, bool *head)
{
	return ibup_metrics_route(req, strlen(req), head);
}

static void test_route(void **state)
{
	char big[IBUP_METRICS_MAX_REQUEST];
	bool head;

	assert_int_equal(route("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", &head), 200);
	assert_false(head);
	assert_int_equal(route("HEAD /metrics HTTP/1.0\r\n\r\n", &head), 200);
	assert_true(head);
	assert_int_equal(route("GET /metrics?x=1 HTTP/1.1\n\n", &head), 200);
	/* Incomplete: wait for more. */
	assert_int_equal(route("", &head), 0);
	assert_int_equal(route("GET /metr", &head), 0);
	assert_int_equal(route("GET /metrics HTTP/1.1\r\nHost: a\r\n", &head), 0);
	/* A malformed request line is judged as soon as it is complete. */
	assert_int_equal(route("GET /metrics HTTP/1.1 x\r\n", &head), 400);
	assert_int_equal(route("GET /metrics\r\n\r\n", &head), 400);
	assert_int_equal(route("GET  /metrics HTTP/1.1\r\n\r\n", &head), 400);
	assert_int_equal(route(" GET /metrics HTTP/1.1\r\n\r\n", &head), 400);
	assert_int_equal(route("GET /metrics HTTP/2.0\r\n\r\n", &head), 400);
	assert_int_equal(route("GET /metrics http/1.1\r\n\r\n", &head), 400);
	assert_int_equal(route("G\x01T /metrics HTTP/1.1\r\n\r\n", &head), 400);
	assert_int_equal(route("GET metrics HTTP/1.1\r\n\r\n", &head), 400);
	assert_int_equal(route("GET http://a/metrics HTTP/1.1\r\n\r\n", &head), 400);
	assert_int_equal(route("\r\n", &head), 400);
	assert_int_equal(route("GET /x\x7f HTTP/1.1\r\n\r\n", &head), 400);
	/* Paths, then methods. */
	assert_int_equal(route("GET / HTTP/1.1\r\n\r\n", &head), 404);
	assert_false(head);
	assert_int_equal(route("HEAD /x HTTP/1.1\r\n\r\n", &head), 404);
	assert_true(head);
	assert_int_equal(route("GET /metricsx HTTP/1.1\r\n\r\n", &head), 404);
	assert_int_equal(route("GET /metrics/ HTTP/1.1\r\n\r\n", &head), 404);
	assert_int_equal(route("POST /metrics HTTP/1.1\r\n\r\n", &head), 405);
	assert_int_equal(route("get /metrics HTTP/1.1\r\n\r\n", &head), 405);
	/* Too big without an end. */
	memset(big, 'a', sizeof(big));
	assert_int_equal(ibup_metrics_route(big, sizeof(big), &head), 431);
	memcpy(big, "GET /metrics HTTP/1.1\r\n", 23);
	assert_int_equal(ibup_metrics_route(big, sizeof(big), &head), 431);
	assert_int_equal(ibup_metrics_route(big, sizeof(big) - 1, &head), 0);
	/* NUL bytes are bytes, not ends. */
	assert_int_equal(ibup_metrics_route("GET /\0 HTTP/1.1\r\n\r\n", 20, &head), 400);
}

static void test_escape(void **state)
{
	char buf[32];

	assert_string_equal(ibup_metrics_escape(NULL, buf, sizeof(buf)), "");
	assert_string_equal(ibup_metrics_escape("mlx5_ib0", buf, sizeof(buf)),
			    "mlx5_ib0");
	assert_string_equal(ibup_metrics_escape("a\"b\\c\nd", buf, sizeof(buf)),
			    "a\\\"b\\\\c\\nd");
	assert_string_equal(ibup_metrics_escape("t\tx\x01\x7f", buf, sizeof(buf)),
			    "t?x??");
	assert_string_equal(ibup_metrics_escape("\xc3\xa9t\xc3\xa9", buf, sizeof(buf)),
			    "\xc3\xa9t\xc3\xa9");
	/* Cut at the end of the buffer: never half an escape, never half a character. */
	assert_string_equal(ibup_metrics_escape("abc\\", buf, 5), "abc");
	assert_string_equal(ibup_metrics_escape("ab\xc3\xa9xyz", buf, 4), "ab");
	assert_string_equal(ibup_metrics_escape("ab\xe2\x82\xac", buf, 5), "ab");
}

static void test_listen(void **state)
{
	unsigned port = 0;
	int fd = -1;

	assert_int_equal(ibup_metrics_listen("0", &fd, &port), 0);
	assert_true(fd >= 0 && port > 0);
	close(fd);
	assert_int_equal(ibup_metrics_listen("127.0.0.1:0", &fd, &port), 0);
	close(fd);
	if (ibup_metrics_listen("[::1]:0", &fd, &port) == 0)
		close(fd); /* IPv6 may be off in the test's network namespace */
	assert_int_equal(ibup_metrics_listen("", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen("x", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen("65536", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen("-1", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen(":9100", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen("127.0.0.1:", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen("localhost:9100", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen("::1:9100", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen("[::1:9100", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen("[]:9100", &fd, NULL), -EINVAL);
	assert_int_equal(ibup_metrics_listen("1.2.3.4.5:9100", &fd, NULL), -EINVAL);
}

static char *render(struct ibup_port *p, const struct ibup_check_report *rep)
{
	struct ibup_device dev = { .name = (char[]){ "mlx5_0" },
				   .kind = IBUP_KIND_INFINIBAND,
				   .ports = p,
				   .n_ports = 1 };
	struct ibup_status st = { .devices = &dev, .n_devices = 1 };
	struct ibup_ctx *ctx = NULL;
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(ibup_ctx_new("/tmp", &ctx), 0);
	assert_int_equal(ibup_metrics_render(ctx, &st, rep, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	ibup_ctx_free(ctx);
	return text;
}

#define PORT_LABELS "{device=\"mlx5_0\",port=\"1\",kind=\"infiniband\""

static void test_counter_widths(void **state)
{
	struct ibup_counter basic[] = {
		{ (char[]){ "port_xmit_data" }, UINT32_MAX }, /* saturated, 32 bits */
		{ (char[]){ "port_rcv_data" }, 1000 },
		{ (char[]){ "symbol_error" }, 65535 }, /* saturated, 16 bits */
		{ (char[]){ "link_downed" }, 254 },
		{ (char[]){ "local_link_integrity_errors" }, 15 }, /* saturated, 4 bits */
	};
	struct ibup_counter ext[] = {
		{ (char[]){ "port_xmit_data" }, UINT32_MAX }, /* 64-bit here: counting */
		{ (char[]){ "port_rcv_data" },
		  UINT64_MAX / 2 }, /* × 4 overflows 64 bits */
		{ (char[]){ "unicast_xmit_packets" }, 7 },
		{ (char[]){ "link_downed" }, 255 }, /* still 8 bits: saturated */
	};
	struct ibup_counter hw[] = { { (char[]){ "link_downed" }, 255 },
				     { (char[]){ "out_of_buffer" }, 3 } };
	struct ibup_port p = { .num = 1,
			       .state = IBUP_PORT_ACTIVE,
			       .phys_state = IBUP_PHYS_LINK_UP,
			       .rate_gbps = 53.125,
			       .link_layer = IBUP_LINK_LAYER_INFINIBAND,
			       .lid = 5,
			       .sm_lid = IBUP_UNKNOWN,
			       .tenant_pkey = IBUP_UNKNOWN,
			       .counters = basic,
			       .n_counters = IBUP_ARRAY_SIZE(basic) };
	char *t = render(&p, NULL);

	assert_non_null(strstr(t, "ibup_port_state" PORT_LABELS "} 4\n"));
	assert_non_null(strstr(t, "ibup_port_rate_bytes_per_second" PORT_LABELS
				  "} 6640625000\n"));
	assert_non_null(strstr(t, "ibup_port_lid" PORT_LABELS "} 5\n"));
	assert_null(strstr(t, "ibup_port_sm_lid"));
	assert_null(strstr(t, "ibup_port_transmit_bytes_total{"));
	assert_non_null(
		strstr(t, "ibup_port_receive_bytes_total" PORT_LABELS "} 4000\n"));
	assert_null(strstr(t, "ibup_port_symbol_errors_total"));
	assert_null(strstr(t, "ibup_port_local_link_integrity_errors_total"));
	assert_non_null(strstr(t, "ibup_port_link_downed_total" PORT_LABELS "} 254\n"));
	assert_non_null(strstr(t, "ibup_port_pma_saturated" PORT_LABELS
				  ",counter=\"port_xmit_data\"} 1\n"));
	assert_non_null(strstr(t, "ibup_port_pma_saturated" PORT_LABELS
				  ",counter=\"port_rcv_data\"} 0\n"));
	assert_non_null(strstr(t, "ibup_port_pma_saturated" PORT_LABELS
				  ",counter=\"symbol_error\"} 1\n"));
	assert_non_null(strstr(t, "ibup_port_pma_saturated" PORT_LABELS
				  ",counter=\"local_link_integrity_errors\"} 1\n"));
	/* Every family once, with HELP before TYPE before its samples. */
	assert_non_null(strstr(t, "# HELP ibup_port_pma_saturated 1 when"));
	assert_non_null(strstr(t, "# TYPE ibup_port_receive_bytes_total counter\n"
				  "ibup_port_receive_bytes_total{"));
	assert_null(strstr(strstr(t, "# TYPE ibup_port_pma_saturated") + 1,
			   "# TYPE ibup_port_pma_saturated"));
	free(t);

	p.counters = ext;
	p.n_counters = IBUP_ARRAY_SIZE(ext);
	t = render(&p, NULL);
	assert_non_null(strstr(t, "ibup_port_transmit_bytes_total" PORT_LABELS
				  "} 17179869180\n"));
	assert_non_null(strstr(t, "ibup_port_receive_bytes_total" PORT_LABELS
				  "} 3.6893488147419103e+19\n"));
	assert_non_null(strstr(t, "ibup_port_unicast_transmit_packets_total" PORT_LABELS
				  "} 7\n"));
	assert_null(strstr(t, "counter=\"port_xmit_data\""));
	assert_null(strstr(t, "ibup_port_link_downed_total"));
	assert_non_null(strstr(t, "ibup_port_pma_saturated" PORT_LABELS
				  ",counter=\"link_downed\"} 1\n"));
	free(t);

	/* The driver's 64-bit link_downed is preferred: 255 there is just 255. */
	p.hw_counters = hw;
	p.n_hw_counters = IBUP_ARRAY_SIZE(hw);
	t = render(&p, NULL);
	assert_non_null(strstr(t, "ibup_port_link_downed_total" PORT_LABELS "} 255\n"));
	assert_null(strstr(t, "counter=\"link_downed\"} 1"));
	assert_non_null(strstr(t, "ibup_port_hw_events_total" PORT_LABELS
				  ",counter=\"out_of_buffer\"} 3\n"));
	free(t);
}

static void test_checks(void **state)
{
	struct ibup_check checks[] = {
		{ .id = "port_state",
		  .subject = (char[]){ "mlx5_0/1" },
		  .verdict = IBUP_PASS },
		{ .id = "modules", .verdict = IBUP_WARN },
		{ .id = "port_state",
		  .subject = (char[]){ "mlx5_0/1" },
		  .verdict = IBUP_FAIL },
		{ .id = "ipoib", .subject = (char[]){ "a\"b" }, .verdict = IBUP_SKIP },
	};
	struct ibup_check_report rep = { .checks = checks, .n = 4, .fabric = true };
	struct ibup_port p = { .num = 1,
			       .state = IBUP_PORT_STATE_UNREAD,
			       .phys_state = IBUP_PHYS_STATE_UNREAD,
			       .rate_gbps = NAN,
			       .lid = IBUP_UNKNOWN,
			       .sm_lid = IBUP_UNKNOWN,
			       .tenant_pkey = IBUP_UNKNOWN };
	char *t = render(&p, &rep), *first;

	/* A repeated check and subject is one series, with the worse verdict. */
	first = strstr(
		t, "ibup_check_verdict{check=\"port_state\",subject=\"mlx5_0/1\"} 0\n");
	assert_non_null(first);
	assert_null(strstr(first + 30, "check=\"port_state\""));
	assert_non_null(
		strstr(t, "ibup_check_verdict{check=\"modules\",subject=\"\"} 1\n"));
	assert_non_null(
		strstr(t, "ibup_check_verdict{check=\"ipoib\",subject=\"a\\\"b\"} 3\n"));
	assert_non_null(strstr(t, "ibup_check_results{verdict=\"fail\"} 1\n"));
	assert_non_null(strstr(t, "ibup_check_results{verdict=\"pass\"} 1\n"));
	assert_non_null(strstr(t, "\nibup_fabric_present 1\n"));
	assert_non_null(strstr(t, "\nibup_node_ready 0\n"));
	/* Unknown states and rates give no sample (and no empty family). */
	assert_null(strstr(t, "ibup_port_state"));
	assert_null(strstr(t, "ibup_port_rate_bytes_per_second"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route),  cmocka_unit_test(test_escape),
		cmocka_unit_test(test_listen), cmocka_unit_test(test_counter_widths),
		cmocka_unit_test(test_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

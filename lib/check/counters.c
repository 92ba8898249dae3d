// SPDX-License-Identifier: MIT
/*
 * The checks that measure the fabric: error counters rising since the last run (their
 * baseline kept in ibup's state directory) and, with `check --bench`, each port's
 * loopback RDMA write bandwidth against the size's threshold.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check-int.h"
#include "internal.h"
#include "banned.h"

/* Error counters, their widths (they saturate at all ones), and whether a rise means a
 * flapping link rather than noise. */
static const struct {
	const char *name;
	unsigned bits;
	bool flap;
} error_counters[] = {
	{ "symbol_error", 16, false },
	{ "link_error_recovery", 8, true },
	{ "link_downed", 8, true },
	{ "port_rcv_errors", 16, false },
	{ "port_rcv_remote_physical_errors", 16, false },
	{ "port_rcv_switch_relay_errors", 16, false },
	{ "port_xmit_discards", 16, false },
	{ "port_xmit_constraint_errors", 8, false },
	{ "port_rcv_constraint_errors", 8, false },
	{ "local_link_integrity_errors", 4, false },
	{ "excessive_buffer_overrun_errors", 4, false },
};

static const struct ibup_counter *counter(const struct ibup_port *p, const char *name)
{
	for (unsigned i = 0; i < p->n_counters; i++)
		if (strcmp(p->counters[i].name, name) == 0)
			return &p->counters[i];
	return NULL;
}

static json_t *load_state(struct run *run)
{
	struct ibup_state st;
	char *text = NULL;
	size_t len;
	json_t *root = NULL;

	if (!run->opts->state_dir ||
	    ibup_state_open(run->ctx, run->opts->state_dir, &st) < 0)
		return NULL;
	if (ibup_state_read(&st, COUNTERS_STATE, IBUP_CONF_MAX, &text, &len) == 0) {
		root = json_loadb(text, len, 0, NULL);
		if (!json_is_object(root)) {
			ibup_warn(run->ctx,
				  "ignoring '%s/%s': not an ibup counter baseline",
				  run->opts->state_dir, COUNTERS_STATE);
			json_decref(root);
			root = NULL;
		}
	}
	free(text);
	ibup_state_close(&st);
	return root;
}

static void save_state(struct run *run, json_t *ports)
{
	struct ibup_state st;
	json_t *root = json_pack("{s:i, s:O}", "schema_version", 1, "ports", ports);
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	int r;

	if (!text) {
		run->error = -ENOMEM;
		json_decref(root);
		return;
	}
	r = ibup_state_open(run->ctx, run->opts->state_dir, &st);
	if (r >= 0) {
		r = ibup_state_write(&st, COUNTERS_STATE, text, strlen(text));
		ibup_state_close(&st);
	}
	if (r < 0)
		ibup_warn(run->ctx, "cannot save the counter baseline in '%s': %s",
			  run->opts->state_dir, strerror(-r));
	free(text);
	json_decref(root);
}

static void check_counters(struct run *run, const struct ibup_device *d,
			   const struct ibup_port *p, json_t *before, json_t *now)
{
	char subject[96], key[64], seen[512] = "";
	json_t *prev = NULL, *cur = json_object();
	enum ibup_verdict v = IBUP_PASS;
	bool flap = false;
	size_t off = 0;

	snprintf(subject, sizeof(subject), "%s/%u", d->name, p->num);
	/* Keyed by port GUID: names change with renaming, GUIDs do not. */
	snprintf(key, sizeof(key), "%s/%u", p->port_guid ? p->port_guid : d->name,
		 p->num);
	if (before)
		prev = json_object_get(json_object_get(before, "ports"), key);
	for (size_t i = 0; cur && i < IBUP_ARRAY_SIZE(error_counters); i++) {
		const struct ibup_counter *c = counter(p, error_counters[i].name);
		uint64_t max = (1ULL << error_counters[i].bits) - 1;
		json_t *old = json_object_get(prev, error_counters[i].name);

		if (!c)
			continue;
		json_object_set_new(cur, error_counters[i].name,
				    json_integer((json_int_t)c->value));
		if (c->value >= max) {
			v = IBUP_WARN;
			flap |= error_counters[i].flap;
			if (off < sizeof(seen))
				off += (size_t)snprintf(seen + off, sizeof(seen) - off,
							"%s%s saturated at %llu",
							off ? ", " : "", c->name,
							(unsigned long long)c->value);
		} else if (json_is_integer(old) &&
			   (json_int_t)c->value > json_integer_value(old)) {
			v = IBUP_WARN;
			flap |= error_counters[i].flap;
			if (off < sizeof(seen))
				off += (size_t)snprintf(
					seen + off, sizeof(seen) - off, "%s%s +%lld",
					off ? ", " : "", c->name,
					(long long)((json_int_t)c->value -
						    json_integer_value(old)));
		}
	}
	if (!cur) {
		run->error = -ENOMEM;
		return;
	}
	json_object_set_new(now, key, cur);
	/* Without a state directory (--no-state, or another root) nothing is kept. */
	if (v == IBUP_PASS)
		snprintf(seen, sizeof(seen),
			 prev ? "no error counter rose since the last check"
			 : run->opts->state_dir
				 ? "no error counter saturated (first check: "
				   "baseline taken)"
				 : "no error counter saturated (no baseline kept)");
	check_add(
		run, "error_counters", subject, v,
		flap ? NHC_IB_PORT_FLAPPING : NHC_IB_PERFORMANCE, seen,
		"error counters steady",
		flap ? "the link goes down and retrains (a flapping link): a bad cable or port; on "
		       "Azure report the node"
		     : "errors on the link (bad signal or congestion drops): watch the rate; a "
		       "steady rise means a bad cable or port");
}

void check_error_counters(struct run *run)
{
	const struct ibup_status *st = run->st;
	json_t *before, *now = json_object();
	bool any = false;

	if (!now) {
		run->error = -ENOMEM;
		return;
	}
	before = load_state(run);
	for (unsigned i = 0; i < st->n_devices; i++)
		for (unsigned k = 0; k < st->devices[i].n_ports; k++) {
			const struct ibup_port *p = &st->devices[i].ports[k];

			if (!check_ib_port(&st->devices[i], p) || !p->has_counters)
				continue;
			check_counters(run, &st->devices[i], p, before, now);
			any = true;
		}
	if (!any)
		check_add(run, "error_counters", NULL, IBUP_SKIP, NULL,
			  "no port counters readable", NULL, NULL);
	else if (run->opts->state_dir)
		save_state(run, now);
	json_decref(before);
	json_decref(now);
}

/* Loopback RDMA write bandwidth of every active InfiniBand port, against the size's threshold. */
void check_bench(struct run *run)
{
	const struct ibup_status *st = run->st;
	double want = !isnan(run->opts->bench_threshold_gbps)
			      ? run->opts->bench_threshold_gbps
			      : run->rep->expect.bw_threshold_gbps;

	if (!run->opts->bench)
		return;
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned k = 0; k < d->n_ports; k++) {
			const struct ibup_port *p = &d->ports[k];
			char subject[96], seen[300], expected[96], err[256] = "";
			double gbps = NAN;
			int r;

			if (!check_ib_port(d, p))
				continue;
			snprintf(subject, sizeof(subject), "%s/%u", d->name, p->num);
			if (!check_port_up(p)) {
				check_add(run, "loopback_bw", subject, IBUP_SKIP, NULL,
					  "port not active",
					  "measured only on an active port", NULL);
				continue;
			}
			if (isnan(want))
				snprintf(
					expected, sizeof(expected),
					"no threshold for this size (give --bench-gbps GBPS)");
			else
				snprintf(expected, sizeof(expected),
					 "at least %g Gb/s (%s)", want,
					 check_size_name(run));
			r = run->opts->bench(run->opts->bench_data, d->name, p->num,
					     &gbps, err, sizeof(err));
			if (r < 0) {
				snprintf(seen, sizeof(seen), "could not run: %s",
					 err[0] ? err : strerror(-r));
				check_add(
					run, "loopback_bw", subject, IBUP_FAIL,
					NHC_IB_PERFORMANCE, seen, expected,
					"run 'ibup bench -d DEVICE' for the details; libibverbs and the "
					"device's provider (ibverbs-providers, rdma-core) must be "
					"installed, and memlock unlimited");
				continue;
			}
			snprintf(seen, sizeof(seen),
				 "%.1f Gb/s RDMA write, 8 MiB messages", gbps);
			if (isnan(want))
				check_add(run, "loopback_bw", subject, IBUP_PASS, NULL,
					  seen, expected, NULL);
			else
				check_add(
					run, "loopback_bw", subject,
					gbps >= want ? IBUP_PASS : IBUP_FAIL,
					NHC_IB_PERFORMANCE, seen, expected,
					"the HCA moves less than its link allows: look at the pcie_link "
					"and port_rate checks, the NUMA placement and the firmware; on "
					"Azure report the node");
		}
	}
}

// SPDX-License-Identifier: MIT
/*
 * Health checks: the inventory judged against what this VM size (or, failing that, any
 * InfiniBand node) should have. Every finding says what was seen, what was expected and
 * what to do about it.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check-int.h"
#include "internal.h"
#include "banned.h"

const char *ibup_verdict_name(enum ibup_verdict v)
{
	static const char *const names[] = { "fail", "warn", "pass", "skip" };

	return (unsigned)v < IBUP_ARRAY_SIZE(names) ? names[v] : NULL;
}

void check_add(struct run *run, const char *id, const char *subject, enum ibup_verdict v,
	       const char *nhc, const char *seen, const char *expected, const char *fix)
{
	struct ibup_check_report *rep = run->rep;
	struct ibup_check *c;

	if (run->error)
		return;
	c = realloc(rep->checks, (rep->n + 1) * sizeof(*c));
	if (!c) {
		run->error = -ENOMEM;
		return;
	}
	rep->checks = c;
	c = &rep->checks[rep->n];
	*c = (struct ibup_check){ .id = id,
				  .verdict = v,
				  .nhc_code =
					  v == IBUP_FAIL || v == IBUP_WARN ? nhc : NULL };
	c->subject = subject ? strdup(subject) : NULL;
	c->seen = seen ? strdup(seen) : NULL;
	c->expected = expected ? strdup(expected) : NULL;
	c->fix = fix && v != IBUP_PASS && v != IBUP_SKIP ? strdup(fix) : NULL;
	if ((subject && !c->subject) || (seen && !c->seen) ||
	    (expected && !c->expected) ||
	    (c->fix == NULL && fix && v != IBUP_PASS && v != IBUP_SKIP)) {
		free(c->subject);
		free(c->seen);
		free(c->expected);
		free(c->fix);
		run->error = -ENOMEM;
		return;
	}
	/* Findings quote what the host holds (names, files' values) and go to terminals,
	 * NHC and JSON: the one sanitizer, once more, for whatever a check quoted raw. */
	ibup_sanitize(c->subject);
	ibup_sanitize(c->seen);
	ibup_sanitize(c->expected);
	ibup_sanitize(c->fix);
	rep->n++;
}

bool check_is_azure(const struct ibup_status *st)
{
	return st->platform.cloud && strcmp(st->platform.cloud, "azure") == 0;
}

const char *check_size_name(const struct run *run)
{
	return run->st->platform.vm_size ? run->st->platform.vm_size : "this node";
}

bool check_ib_port(const struct ibup_device *d, const struct ibup_port *p)
{
	return d->kind == IBUP_KIND_INFINIBAND &&
	       p->link_layer == IBUP_LINK_LAYER_INFINIBAND;
}

static unsigned count_kind(const struct ibup_status *st, enum ibup_device_kind k)
{
	unsigned n = 0;

	for (unsigned i = 0; i < st->n_devices; i++)
		n += st->devices[i].kind == k;
	return n;
}

const struct ibup_module *check_find_module(const struct ibup_drivers *d,
					    const char *name)
{
	for (unsigned i = 0; i < d->n_modules; i++)
		if (strcmp(d->modules[i].name, name) == 0)
			return &d->modules[i];
	return NULL;
}

/*
 * Rates are compared exactly, so they are shown with every digit that can differ:
 * "%g" rounds 199.99999999 to 200, and "200 Gb/s (expected 200 Gb/s)" says nothing.
 */
#define RATE_FMT "%.12g"

static void format_rate(double gbps, char *buf, size_t size)
{
	if (isnan(gbps))
		snprintf(buf, size, "unknown rate");
	else
		snprintf(buf, size, RATE_FMT " Gb/s", gbps);
}

static void check_devices(struct run *run)
{
	const struct ibup_status *st = run->st;
	const struct ibup_expect *x = &run->rep->expect;
	unsigned ib = count_kind(st, IBUP_KIND_INFINIBAND);
	char seen[256], expected[256];
	int32_t want = run->opts->expect_hcas >= 0 ? run->opts->expect_hcas : x->ib_hcas;

	run->rep->fabric = ib > 0;
	run->rep->fabric_expected = want > 0;
	/* Unreadable is not absent: say so, and claim nothing about what is missing. */
	if (st->devices_error || st->n_unreadable) {
		if (st->devices_error)
			snprintf(seen, sizeof(seen),
				 "'/sys/class/infiniband' cannot be listed: %s",
				 strerror(-st->devices_error));
		else
			snprintf(seen, sizeof(seen), "%u RDMA device%s cannot be read",
				 st->n_unreadable, st->n_unreadable == 1 ? "" : "s");
		check_add(
			run, "rdma_readable", NULL, ib ? IBUP_WARN : IBUP_FAIL, "NHCNA",
			seen, "every RDMA device readable",
			"run ibup check as root; the warnings name what could not be read");
		if (!ib)
			return;
	}
	if (!st->n_devices)
		check_add(
			run, "rdma_device", NULL, want > 0 ? IBUP_FAIL : IBUP_SKIP,
			NHC_MISSING_IB, "no RDMA device",
			want > 0 ? "an InfiniBand HCA" : NULL,
			"the HCA's virtual function is not attached or its driver is not loaded: "
			"check 'lspci' for a Mellanox device; load the driver (modprobe mlx5_ib); on "
			"Azure, stop (deallocate) and start the VM");
	else {
		snprintf(seen, sizeof(seen), "%u RDMA device%s", st->n_devices,
			 st->n_devices == 1 ? "" : "s");
		check_add(run, "rdma_device", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
	}
	if (!ib) {
		size_t off = (size_t)snprintf(seen, sizeof(seen), "no InfiniBand device");
		const char *sep = " (";

		for (int k = IBUP_KIND_OTHER; k <= IBUP_KIND_IWARP && off < sizeof(seen);
		     k++) {
			unsigned c = count_kind(st, (enum ibup_device_kind)k);

			if (!c)
				continue;
			off += (size_t)snprintf(
				seen + off, sizeof(seen) - off, "%s%u %s", sep, c,
				ibup_device_kind_name((enum ibup_device_kind)k));
			sep = ", ";
		}
		if (*sep == ',' && off < sizeof(seen))
			snprintf(seen + off, sizeof(seen) - off, ")");
		if (want > 0) {
			snprintf(expected, sizeof(expected), "%d InfiniBand HCA%s (%s)",
				 want, want == 1 ? "" : "s", check_size_name(run));
			check_add(
				run, "ib_fabric", NULL, IBUP_FAIL, NHC_MISSING_IB, seen,
				expected,
				"the InfiniBand virtual function is missing: stop (deallocate) and "
				"start the VM; if it stays missing, report the node to Azure");
		} else {
			check_add(run, "ib_fabric", NULL, IBUP_SKIP, NULL, seen, NULL,
				  NULL);
		}
		return;
	}
	snprintf(seen, sizeof(seen), "%u InfiniBand HCA%s", ib, ib == 1 ? "" : "s");
	check_add(run, "ib_fabric", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
	if (want < 0) {
		check_add(run, "ib_hca_count", NULL, IBUP_SKIP, NULL, seen,
			  "no expectation for this size (give --expect-hcas N)", NULL);
		return;
	}
	snprintf(expected, sizeof(expected), "%d (%s)", want, check_size_name(run));
	if (ib < (unsigned)want)
		check_add(
			run, "ib_hca_count", NULL, IBUP_FAIL, NHC_MISSING_IB, seen,
			expected,
			"an InfiniBand virtual function is missing: stop (deallocate) and start the "
			"VM; if it stays missing, report the node to Azure");
	else if (ib > (unsigned)want)
		check_add(
			run, "ib_hca_count", NULL, IBUP_WARN, NULL, seen, expected,
			"more HCAs than this size has: check the size (--vm-size) or the "
			"expectations in /etc/ibup/expect.d");
	else
		check_add(run, "ib_hca_count", NULL, IBUP_PASS, NULL, seen, expected,
			  NULL);
}

/* Why a port is not ACTIVE/LinkUp, and what to do. */
static const char *port_fix(const struct ibup_port *p, bool azure)
{
	if (p->state == IBUP_PORT_DOWN && p->phys_state == IBUP_PHYS_POLLING)
		return azure ? "the port sees no link partner (Down/Polling): stop (deallocate) "
			       "and start the VM to move it to healthy hardware, and report the "
			       "node to Azure if it recurs"
			     : "the port sees no link partner (Down/Polling): check the cable, "
			       "the transceiver and the switch port";
	if (p->phys_state == IBUP_PHYS_DISABLED)
		return "the port is disabled: enable it (ibportstate ... enable) or on the switch";
	if (p->state == IBUP_PORT_DOWN && p->phys_state == IBUP_PHYS_LINK_UP)
		return "the cable is up but the port is not yet logically up: it is training or "
		       "flapping; check again in a minute and look for link_downed in the "
		       "counters";
	if (p->state == IBUP_PORT_INIT)
		return azure ? "the link is up but no subnet manager has configured the port "
			       "(Init): the fabric's subnet manager is Azure's, so report the node"
			     : "the link is up but no subnet manager has configured the port "
			       "(Init): start a subnet manager (opensm) on the fabric";
	if (p->state == IBUP_PORT_ARMED)
		return "the subnet manager configured the port but has not activated it (Armed): "
		       "check again shortly, then look at the subnet manager's log";
	return "the port is not active: check the cable and the switch port";
}

static void check_an_port(struct run *run, const char *subject, const struct ibup_port *p)
{
	const struct ibup_expect *x = &run->rep->expect;
	char seen[128], rate[32], expected[64] = "";

	format_rate(p->rate_gbps, rate, sizeof(rate));
	if (!isnan(x->an_rate_gbps))
		snprintf(expected, sizeof(expected), RATE_FMT " Gb/s", x->an_rate_gbps);
	snprintf(seen, sizeof(seen), "Accelerated Networking, %s: not the fabric", rate);
	check_add(run, "an_port", subject,
		  *expected && p->rate_gbps != x->an_rate_gbps ? IBUP_WARN : IBUP_PASS,
		  NULL, seen, *expected ? expected : NULL,
		  "the Accelerated Networking NIC runs at another rate than this size's: "
		  "informational, it carries no MPI traffic");
}

bool check_port_up(const struct ibup_port *p)
{
	return p->state == IBUP_PORT_ACTIVE && p->phys_state == IBUP_PHYS_LINK_UP;
}

static void check_port_state(struct run *run, const char *subject,
			     const struct ibup_port *p)
{
	const char *state = ibup_port_state_name(p->state);
	const char *phys = ibup_phys_state_name(p->phys_state);
	char seen[128];

	snprintf(seen, sizeof(seen), "%s, %s", state ? state : "unknown",
		 phys ? phys : "unknown");
	check_add(run, "port_state", subject, check_port_up(p) ? IBUP_PASS : IBUP_FAIL,
		  NHC_IB_PORT_DOWN, seen, "active, link_up",
		  port_fix(p, check_is_azure(run->st)));
}

static void check_port_rate(struct run *run, const char *subject,
			    const struct ibup_port *p)
{
	double want = !isnan(run->opts->expect_rate_gbps) ? run->opts->expect_rate_gbps
							  : run->rep->expect.ib_rate_gbps;
	char seen[128], expected[96], rate[32];

	format_rate(p->rate_gbps, rate, sizeof(rate));
	if (isnan(want)) {
		check_add(run, "port_rate", subject, IBUP_SKIP, NULL, rate,
			  "no expectation for this size (give --expect-rate GBPS)", NULL);
		return;
	}
	if (!check_port_up(p)) {
		check_add(run, "port_rate", subject, IBUP_SKIP, NULL, rate,
			  "measured only on an active port", NULL);
		return;
	}
	snprintf(expected, sizeof(expected), RATE_FMT " Gb/s (%s)", want,
		 check_size_name(run));
	snprintf(seen, sizeof(seen), "%s (%s %s)", rate, p->width, p->speed);
	if (p->rate_gbps < want)
		check_add(
			run, "port_rate", subject, IBUP_FAIL, NHC_IB_PERFORMANCE, seen,
			expected,
			"the link trained below its rate (fewer lanes or a lower speed): a degraded "
			"cable or port; on Azure report the node, elsewhere reseat or replace the "
			"cable");
	else if (p->rate_gbps > want)
		check_add(
			run, "port_rate", subject, IBUP_WARN, NULL, seen, expected,
			"faster than this size's table says: check --vm-size or /etc/ibup/expect.d");
	else
		check_add(run, "port_rate", subject, IBUP_PASS, NULL, seen, expected,
			  NULL);
}

/* One kind of port finding at a time, over every port, so that they read together. */
static void check_ports(struct run *run,
			void (*fn)(struct run *, const char *, const struct ibup_port *),
			enum ibup_device_kind kind)
{
	const struct ibup_status *st = run->st;

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned k = 0; k < d->n_ports; k++) {
			char subject[96];

			if (d->kind != kind || (kind == IBUP_KIND_INFINIBAND &&
						!check_ib_port(d, &d->ports[k])))
				continue;
			snprintf(subject, sizeof(subject), "%s/%u", d->name,
				 d->ports[k].num);
			fn(run, subject, &d->ports[k]);
		}
	}
}

static void check_modules(struct run *run)
{
	const struct ibup_status *st = run->st;
	const struct ibup_drivers *dr = &st->drivers;
	const char *need[16];
	char missing[256] = "", fix[512];
	unsigned n = 0;
	size_t off = 0;

	if (!dr->modules_known) {
		check_add(run, "modules", NULL, IBUP_SKIP, NULL,
			  "/proc/modules not readable", NULL, NULL);
		return;
	}
	need[n++] = "ib_core";
	need[n++] = "ib_uverbs";
	need[n++] = "ib_umad";
	need[n++] = "rdma_ucm";
	for (unsigned i = 0; i < st->n_devices && n < IBUP_ARRAY_SIZE(need) - 2; i++) {
		const struct ibup_device *d = &st->devices[i];
		const char *m = NULL;

		if (d->kind != IBUP_KIND_INFINIBAND || !d->driver)
			continue;
		if (strcmp(d->driver, "mlx5_core") == 0)
			m = "mlx5_ib";
		else if (strcmp(d->driver, "mlx4_core") == 0)
			m = "mlx4_ib";
		for (unsigned k = 0; m && k < n; k++)
			if (strcmp(need[k], m) == 0)
				m = NULL;
		if (m)
			need[n++] = m;
	}
	if (run->rep->expect.ipoib == 1)
		need[n++] = "ib_ipoib";
	for (unsigned k = 0; k < n; k++)
		if (!check_find_module(dr, need[k]) && off < sizeof(missing))
			off += (size_t)snprintf(missing + off, sizeof(missing) - off,
						"%s%s", off ? " " : "", need[k]);
	if (!*missing) {
		char seen[64];

		snprintf(seen, sizeof(seen), "%u RDMA modules loaded", dr->n_modules);
		check_add(run, "modules", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
		return;
	}
	snprintf(fix, sizeof(fix),
		 "load them: modprobe -a %s; and at every boot: list them in "
		 "/etc/modules-load.d/rdma.conf",
		 missing);
	check_add(run, "modules", NULL, IBUP_FAIL, "NHCNA", missing, "loaded", fix);
}

static void check_abi(struct run *run)
{
	const struct ibup_drivers *dr = &run->st->drivers;
	char seen[96];

	snprintf(seen, sizeof(seen), "uverbs ABI %lld, umad ABI %lld",
		 (long long)dr->uverbs_abi_version, (long long)dr->umad_abi_version);
	if (dr->uverbs_abi_version > 0 && dr->umad_abi_version > 0)
		check_add(run, "abi", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
	else
		check_add(
			run, "abi", NULL, IBUP_FAIL, "NHCNA",
			dr->uverbs_abi_version < 0 && dr->umad_abi_version < 0
				? "no uverbs or umad ABI (infiniband_verbs, infiniband_mad missing)"
				: seen,
			"both present and non-zero",
			"the kernel's RDMA modules and the user-space libraries do not match, or "
			"ib_uverbs/ib_umad are not loaded: load them, and after an OFED install "
			"reboot or restart openibd");
}

static void check_firmware(struct run *run)
{
	const struct ibup_status *st = run->st;
	const char *first = NULL;
	char seen[256] = "";
	bool same = true;

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		if (d->kind != IBUP_KIND_INFINIBAND || !d->fw_ver)
			continue;
		if (!first)
			first = d->fw_ver;
		else if (strcmp(first, d->fw_ver) != 0)
			same = false;
	}
	if (!first) {
		check_add(run, "firmware", NULL, IBUP_SKIP, NULL,
			  "no firmware version readable", NULL, NULL);
		return;
	}
	if (same) {
		snprintf(seen, sizeof(seen), "%s on every InfiniBand HCA", first);
		check_add(run, "firmware", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
		return;
	}
	for (unsigned i = 0, off = 0; i < st->n_devices && off < sizeof(seen); i++)
		if (st->devices[i].kind == IBUP_KIND_INFINIBAND && st->devices[i].fw_ver)
			off += (unsigned)snprintf(seen + off, sizeof(seen) - off,
						  "%s%s %s", off ? ", " : "",
						  st->devices[i].name,
						  st->devices[i].fw_ver);
	check_add(
		run, "firmware", NULL, IBUP_WARN, NULL, seen,
		"the same version on every HCA",
		"mixed firmware makes HCAs behave differently: update them to one version "
		"(on Azure the host updates them; report the node)");
}

static void check_pkeys(struct run *run)
{
	const struct ibup_status *st = run->st;
	bool azure = check_is_azure(st);

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned k = 0; k < d->n_ports; k++) {
			const struct ibup_port *p = &d->ports[k];
			char subject[96], seen[64];

			if (!check_ib_port(d, p))
				continue;
			snprintf(subject, sizeof(subject), "%s/%u", d->name, p->num);
			if (p->tenant_pkey >= 0) {
				snprintf(seen, sizeof(seen), "0x%04x",
					 (unsigned)p->tenant_pkey);
				check_add(run, "tenant_pkey", subject, IBUP_PASS, NULL,
					  seen, NULL, NULL);
			} else {
				check_add(
					run, "tenant_pkey", subject,
					azure ? IBUP_FAIL : IBUP_SKIP, "NHCNA",
					"only default partition keys",
					azure ? "a tenant key (0x8000 and up) in pkeys 0 or 1"
					      : NULL,
					"the VM is in no InfiniBand partition: VMs reach each other only "
					"inside one VM scale set or availability set; recreate the VM "
					"there");
			}
		}
	}
}

int ibup_check_run(struct ibup_ctx *ctx, const struct ibup_status *st,
		   const struct ibup_check_opts *opts, struct ibup_check_report **ret)
{
	struct ibup_check_report *rep = calloc(1, sizeof(*rep));
	struct run run = { ctx, st, opts, rep, 0 };
	int r;

	if (!rep)
		return -ENOMEM;
	rep->expect = (struct ibup_expect){ .ib_hcas = IBUP_UNKNOWN,
					    .ib_rate_gbps = NAN,
					    .an_rate_gbps = NAN,
					    .bw_threshold_gbps = NAN,
					    .ipoib = IBUP_UNKNOWN,
					    .sriov = 1 };
	if (st->platform.vm_size) {
		struct ibup_expect x;

		r = ibup_expect_lookup(ctx, st->platform.vm_size, &x);
		if (r < 0) {
			ibup_check_report_free(rep);
			return r;
		}
		if (r > 0) {
			rep->expect = x;
			rep->expect_found = true;
		}
	}
	check_devices(&run);
	if (rep->fabric) {
		check_ports(&run, check_an_port, IBUP_KIND_ACCELERATED_NETWORKING);
		check_ports(&run, check_port_state, IBUP_KIND_INFINIBAND);
		check_ports(&run, check_port_rate, IBUP_KIND_INFINIBAND);
		check_modules(&run);
		check_abi(&run);
		check_firmware(&run);
		check_pkeys(&run);
		check_memlock(&run);
		check_slurm(&run);
		check_ipoib(&run);
		check_waagent(&run);
		check_error_counters(&run);
		check_pcie(&run);
		check_bench(&run);
		check_gpudirect(&run);
		check_next_boot(&run);
		check_secure_boot(&run);
	}
	if (run.error) {
		ibup_check_report_free(rep);
		return run.error;
	}
	*ret = rep;
	return 0;
}

struct ibup_check_report *ibup_check_report_free(struct ibup_check_report *r)
{
	if (!r)
		return NULL;
	for (unsigned i = 0; i < r->n; i++) {
		free(r->checks[i].subject);
		free(r->checks[i].seen);
		free(r->checks[i].expected);
		free(r->checks[i].fix);
	}
	free(r->checks);
	ibup_expect_release(&r->expect);
	free(r);
	return NULL;
}

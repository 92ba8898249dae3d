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

#include "internal.h"
#include "banned.h"

/* UCX turns its InfiniBand transports off below this (UCX_MEMLOCK_LIMIT's default). */
#define MEMLOCK_MIN (512LL * 1024 * 1024)
#define COUNTERS_STATE "counters.json"

/* Azure NHC's fault dictionary. */
#define NHC_MISSING_IB "NHC2002"
#define NHC_IB_PERFORMANCE "NHC2003"
#define NHC_IB_PORT_DOWN "NHC2004"
#define NHC_IB_PORT_FLAPPING "NHC2005"

const char *ibup_verdict_name(enum ibup_verdict v)
{
	static const char *const names[] = { "fail", "warn", "pass", "skip" };

	return (unsigned)v < IBUP_ARRAY_SIZE(names) ? names[v] : NULL;
}

struct run {
	struct ibup_ctx *ctx;
	const struct ibup_status *st;
	const struct ibup_check_opts *opts;
	struct ibup_check_report *rep;
	int error; /* -ENOMEM once anything failed to allocate */
};

static void add(struct run *run, const char *id, const char *subject, enum ibup_verdict v,
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

static bool is_azure(const struct ibup_status *st)
{
	return st->platform.cloud && strcmp(st->platform.cloud, "azure") == 0;
}

static const char *size_name(const struct run *run)
{
	return run->st->platform.vm_size ? run->st->platform.vm_size : "this node";
}

static bool ib_port(const struct ibup_device *d, const struct ibup_port *p)
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

static const struct ibup_module *find_module(const struct ibup_drivers *d,
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
		add(run, "rdma_readable", NULL, ib ? IBUP_WARN : IBUP_FAIL, "NHCNA", seen,
		    "every RDMA device readable",
		    "run ibup check as root; the warnings name what could not be read");
		if (!ib)
			return;
	}
	if (!st->n_devices)
		add(run, "rdma_device", NULL, want > 0 ? IBUP_FAIL : IBUP_SKIP,
		    NHC_MISSING_IB, "no RDMA device",
		    want > 0 ? "an InfiniBand HCA" : NULL,
		    "the HCA's virtual function is not attached or its driver is not loaded: "
		    "check 'lspci' for a Mellanox device; load the driver (modprobe mlx5_ib); on "
		    "Azure, stop (deallocate) and start the VM");
	else {
		snprintf(seen, sizeof(seen), "%u RDMA device%s", st->n_devices,
			 st->n_devices == 1 ? "" : "s");
		add(run, "rdma_device", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
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
				 want, want == 1 ? "" : "s", size_name(run));
			add(run, "ib_fabric", NULL, IBUP_FAIL, NHC_MISSING_IB, seen,
			    expected,
			    "the InfiniBand virtual function is missing: stop (deallocate) and "
			    "start the VM; if it stays missing, report the node to Azure");
		} else {
			add(run, "ib_fabric", NULL, IBUP_SKIP, NULL, seen, NULL, NULL);
		}
		return;
	}
	snprintf(seen, sizeof(seen), "%u InfiniBand HCA%s", ib, ib == 1 ? "" : "s");
	add(run, "ib_fabric", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
	if (want < 0) {
		add(run, "ib_hca_count", NULL, IBUP_SKIP, NULL, seen,
		    "no expectation for this size (give --expect-hcas N)", NULL);
		return;
	}
	snprintf(expected, sizeof(expected), "%d (%s)", want, size_name(run));
	if (ib < (unsigned)want)
		add(run, "ib_hca_count", NULL, IBUP_FAIL, NHC_MISSING_IB, seen, expected,
		    "an InfiniBand virtual function is missing: stop (deallocate) and start the "
		    "VM; if it stays missing, report the node to Azure");
	else if (ib > (unsigned)want)
		add(run, "ib_hca_count", NULL, IBUP_WARN, NULL, seen, expected,
		    "more HCAs than this size has: check the size (--vm-size) or the "
		    "expectations in /etc/ibup/expect.d");
	else
		add(run, "ib_hca_count", NULL, IBUP_PASS, NULL, seen, expected, NULL);
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
	add(run, "an_port", subject,
	    *expected && p->rate_gbps != x->an_rate_gbps ? IBUP_WARN : IBUP_PASS, NULL,
	    seen, *expected ? expected : NULL,
	    "the Accelerated Networking NIC runs at another rate than this size's: "
	    "informational, it carries no MPI traffic");
}

static bool port_up(const struct ibup_port *p)
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
	add(run, "port_state", subject, port_up(p) ? IBUP_PASS : IBUP_FAIL,
	    NHC_IB_PORT_DOWN, seen, "active, link_up", port_fix(p, is_azure(run->st)));
}

static void check_port_rate(struct run *run, const char *subject,
			    const struct ibup_port *p)
{
	double want = !isnan(run->opts->expect_rate_gbps) ? run->opts->expect_rate_gbps
							  : run->rep->expect.ib_rate_gbps;
	char seen[128], expected[96], rate[32];

	format_rate(p->rate_gbps, rate, sizeof(rate));
	if (isnan(want)) {
		add(run, "port_rate", subject, IBUP_SKIP, NULL, rate,
		    "no expectation for this size (give --expect-rate GBPS)", NULL);
		return;
	}
	if (!port_up(p)) {
		add(run, "port_rate", subject, IBUP_SKIP, NULL, rate,
		    "measured only on an active port", NULL);
		return;
	}
	snprintf(expected, sizeof(expected), RATE_FMT " Gb/s (%s)", want, size_name(run));
	snprintf(seen, sizeof(seen), "%s (%s %s)", rate, p->width, p->speed);
	if (p->rate_gbps < want)
		add(run, "port_rate", subject, IBUP_FAIL, NHC_IB_PERFORMANCE, seen,
		    expected,
		    "the link trained below its rate (fewer lanes or a lower speed): a degraded "
		    "cable or port; on Azure report the node, elsewhere reseat or replace the "
		    "cable");
	else if (p->rate_gbps > want)
		add(run, "port_rate", subject, IBUP_WARN, NULL, seen, expected,
		    "faster than this size's table says: check --vm-size or /etc/ibup/expect.d");
	else
		add(run, "port_rate", subject, IBUP_PASS, NULL, seen, expected, NULL);
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

			if (d->kind != kind ||
			    (kind == IBUP_KIND_INFINIBAND && !ib_port(d, &d->ports[k])))
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
		add(run, "modules", NULL, IBUP_SKIP, NULL, "/proc/modules not readable",
		    NULL, NULL);
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
		if (!find_module(dr, need[k]) && off < sizeof(missing))
			off += (size_t)snprintf(missing + off, sizeof(missing) - off,
						"%s%s", off ? " " : "", need[k]);
	if (!*missing) {
		char seen[64];

		snprintf(seen, sizeof(seen), "%u RDMA modules loaded", dr->n_modules);
		add(run, "modules", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
		return;
	}
	snprintf(fix, sizeof(fix),
		 "load them: modprobe -a %s; and at every boot: list them in "
		 "/etc/modules-load.d/rdma.conf",
		 missing);
	add(run, "modules", NULL, IBUP_FAIL, "NHCNA", missing, "loaded", fix);
}

static void check_abi(struct run *run)
{
	const struct ibup_drivers *dr = &run->st->drivers;
	char seen[96];

	snprintf(seen, sizeof(seen), "uverbs ABI %lld, umad ABI %lld",
		 (long long)dr->uverbs_abi_version, (long long)dr->umad_abi_version);
	if (dr->uverbs_abi_version > 0 && dr->umad_abi_version > 0)
		add(run, "abi", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
	else
		add(run, "abi", NULL, IBUP_FAIL, "NHCNA",
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
		add(run, "firmware", NULL, IBUP_SKIP, NULL,
		    "no firmware version readable", NULL, NULL);
		return;
	}
	if (same) {
		snprintf(seen, sizeof(seen), "%s on every InfiniBand HCA", first);
		add(run, "firmware", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
		return;
	}
	for (unsigned i = 0, off = 0; i < st->n_devices && off < sizeof(seen); i++)
		if (st->devices[i].kind == IBUP_KIND_INFINIBAND && st->devices[i].fw_ver)
			off += (unsigned)snprintf(seen + off, sizeof(seen) - off,
						  "%s%s %s", off ? ", " : "",
						  st->devices[i].name,
						  st->devices[i].fw_ver);
	add(run, "firmware", NULL, IBUP_WARN, NULL, seen, "the same version on every HCA",
	    "mixed firmware makes HCAs behave differently: update them to one version "
	    "(on Azure the host updates them; report the node)");
}

static void check_pkeys(struct run *run)
{
	const struct ibup_status *st = run->st;
	bool azure = is_azure(st);

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned k = 0; k < d->n_ports; k++) {
			const struct ibup_port *p = &d->ports[k];
			char subject[96], seen[64];

			if (!ib_port(d, p))
				continue;
			snprintf(subject, sizeof(subject), "%s/%u", d->name, p->num);
			if (p->tenant_pkey >= 0) {
				snprintf(seen, sizeof(seen), "0x%04x",
					 (unsigned)p->tenant_pkey);
				add(run, "tenant_pkey", subject, IBUP_PASS, NULL, seen,
				    NULL, NULL);
			} else {
				add(run, "tenant_pkey", subject,
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

static void check_memlock(struct run *run)
{
	const struct ibup_limits *l = &run->st->limits;
	char eff[32], conf[32], svc[32], seen[160];
	enum ibup_verdict v = IBUP_PASS;

	ibup_format_limit(l->memlock_soft, eff, sizeof(eff));
	ibup_format_limit(l->memlock_configured, conf, sizeof(conf));
	ibup_format_limit(l->memlock_systemd, svc, sizeof(svc));
	if (l->memlock_soft >= 0)
		snprintf(seen, sizeof(seen), "this shell %s; users %s; services %s", eff,
			 conf, svc);
	else
		snprintf(seen, sizeof(seen), "users %s; services %s", conf, svc);
	if (l->memlock_soft >= 0 && l->memlock_soft < MEMLOCK_MIN)
		v = IBUP_FAIL;
	else if (l->memlock_configured != IBUP_UNLIMITED &&
		 (l->memlock_configured < MEMLOCK_MIN))
		v = IBUP_WARN;
	add(run, "memlock", NULL, v, "NHCNA", seen, "unlimited (at least 512 MiB)",
	    "RDMA registers memory and UCX disables InfiniBand below 512 MiB: write "
	    "'* soft memlock unlimited' and '* hard memlock unlimited' to "
	    "/etc/security/limits.d/90-rdma.conf (and DefaultLimitMEMLOCK=infinity for "
	    "services), then log in again");
}

static void check_slurm(struct run *run)
{
	static const char *const paths[] = { "etc/slurm/slurm.conf",
					     "etc/slurm-llnl/slurm.conf" };
	_cleanup_free_ char *text = NULL, *prop = NULL, *except = NULL;
	bool propagated;
	char seen[160];
	int r = -ENOENT;

	for (size_t i = 0; i < IBUP_ARRAY_SIZE(paths) && r < 0; i++)
		r = ibup_read_file(run->ctx, paths[i], IBUP_CONF_MAX, &text, NULL);
	if (r < 0) {
		if (r == -ENOMEM)
			run->error = r;
		return; /* no Slurm here: nothing to say */
	}
	if (ibup_conf_value(text, "PropagateResourceLimits", &prop) == -ENOMEM ||
	    ibup_conf_value(text, "PropagateResourceLimitsExcept", &except) == -ENOMEM) {
		run->error = -ENOMEM;
		return;
	}
	/* Shown in "seen": nothing of the file's may steer a terminal. */
	if (prop)
		ibup_sanitize(prop);
	if (except)
		ibup_sanitize(except);
	/* The default is ALL: jobs inherit the submitting shell's limits, memlock too. */
	propagated = !prop || strcasecmp(prop, "ALL") == 0 || strcasestr(prop, "MEMLOCK");
	if (prop && strcasecmp(prop, "NONE") == 0)
		propagated = false;
	if (except && strcasestr(except, "MEMLOCK"))
		propagated = false;
	snprintf(seen, sizeof(seen), "PropagateResourceLimits=%s%s%s",
		 prop ? prop : "ALL", except ? " PropagateResourceLimitsExcept=" : "",
		 except ? except : "");
	add(run, "slurm_limits", NULL, propagated ? IBUP_WARN : IBUP_PASS, "NHCNA", seen,
	    "memlock not propagated from the submitting shell",
	    "jobs get the login node's memlock limit, often small: set "
	    "PropagateResourceLimitsExcept=MEMLOCK in slurm.conf");
}

static const struct ibup_ipoib *ipoib_of(const struct ibup_status *st, const char *dev,
					 unsigned port)
{
	for (unsigned i = 0; i < st->n_ipoib; i++)
		if (st->ipoib[i].device && strcmp(st->ipoib[i].device, dev) == 0 &&
		    st->ipoib[i].port == port)
			return &st->ipoib[i];
	return NULL;
}

static void check_ipoib(struct run *run)
{
	const struct ibup_status *st = run->st;

	if (run->rep->expect.ipoib != 1)
		return;
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned k = 0; k < d->n_ports; k++) {
			const struct ibup_port *p = &d->ports[k];
			const struct ibup_ipoib *ib;
			char subject[96], seen[160];

			if (!ib_port(d, p))
				continue;
			snprintf(subject, sizeof(subject), "%s/%u", d->name, p->num);
			ib = ipoib_of(st, d->name, p->num);
			if (!ib) {
				add(run, "ipoib", subject, IBUP_FAIL, "NHCNA",
				    "no IPoIB interface",
				    "an IPoIB interface, up, with an address",
				    "load ib_ipoib (modprobe ib_ipoib) so the interface appears");
			} else if (!ib->operstate || strcmp(ib->operstate, "up") != 0) {
				snprintf(seen, sizeof(seen), "%s is %s", ib->name,
					 ib->operstate ? ib->operstate
						       : "in an unknown state");
				add(run, "ipoib", subject, IBUP_FAIL, "NHCNA", seen,
				    "an IPoIB interface, up, with an address",
				    "bring it up (ip link set dev IFACE up) and give it the "
				    "platform's address (waagent with OS.EnableRDMA=y)");
			} else if (ib->ipv4_known && !ib->n_ipv4) {
				snprintf(seen, sizeof(seen),
					 "%s is up without an IPv4 address", ib->name);
				add(run, "ipoib", subject, IBUP_FAIL, "NHCNA", seen,
				    "an IPoIB interface, up, with an address",
				    "the platform's address was not applied: set OS.EnableRDMA=y "
				    "in /etc/waagent.conf and restart the agent");
			} else {
				snprintf(seen, sizeof(seen), "%s up%s%s", ib->name,
					 ib->n_ipv4 ? " " : "",
					 ib->n_ipv4 ? ib->ipv4[0] : "");
				add(run, "ipoib", subject, IBUP_PASS, NULL, seen, NULL,
				    NULL);
			}
		}
	}
}

static void check_waagent(struct run *run)
{
	static const char *const switches[] = { "OS.EnableRDMA", "OS.UpdateRdmaDriver",
						"OS.CheckRdmaDriver" };
	_cleanup_free_ char *text = NULL, *rdma = NULL, *nd = NULL;
	int on = 0, nd_on;
	bool sriov = false;
	char seen[160];
	int r;

	if (!is_azure(run->st))
		return;
	r = ibup_read_file(run->ctx, "etc/waagent.conf", IBUP_CONF_MAX, &text, NULL);
	if (r < 0) {
		if (r == -ENOMEM)
			run->error = r;
		return;
	}
	/* Read as the agent reads it (ibup_waagent_conf_value), not as a person might. */
	r = ibup_waagent_conf_value(text, "OS.EnableRDMA", &rdma);
	if (r == -EILSEQ) {
		add(run, "waagent_rdma", NULL, IBUP_WARN, "NHCNA",
		    "/etc/waagent.conf is not UTF-8",
		    "a configuration the agent can load",
		    "the agent fails to load a file that is not UTF-8: fix its encoding");
		return;
	}
	if (r == -ENOMEM ||
	    ibup_waagent_conf_value(text, "OS.CheckRdmaDriver", &nd) == -ENOMEM) {
		run->error = -ENOMEM;
		return;
	}
	/* enable_rdma(): any of the three switches turns the RDMA setup on. */
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(switches) && on == 0; i++)
		on = ibup_waagent_conf_switch(text, switches[i], 0);
	nd_on = ibup_waagent_conf_switch(text, "OS.CheckRdmaDriver", 0);
	if (on < 0 || nd_on < 0) {
		run->error = -ENOMEM;
		return;
	}
	for (unsigned i = 0; i < run->st->n_devices; i++)
		sriov |= run->st->devices[i].kind == IBUP_KIND_INFINIBAND &&
			 run->st->devices[i].virtual_function == 1;
	/* The values go to a terminal: nothing of the file's may steer it. */
	snprintf(seen, sizeof(seen), "OS.EnableRDMA=%.48s OS.CheckRdmaDriver=%.48s",
		 rdma ? ibup_sanitize(rdma) : "(unset)",
		 nd ? ibup_sanitize(nd) : "(unset)");
	if (run->rep->expect.ipoib == 1 && !on)
		add(run, "waagent_rdma", NULL, IBUP_WARN, "NHCNA", seen,
		    "OS.EnableRDMA=y",
		    "the agent will not give the IPoIB interfaces their addresses: set "
		    "OS.EnableRDMA=y in /etc/waagent.conf and restart the agent");
	else if (sriov && nd_on)
		add(run, "waagent_rdma", NULL, IBUP_WARN, NULL, seen,
		    "OS.CheckRdmaDriver=n",
		    "on SR-IOV sizes there is no Network Direct driver to check and the agent "
		    "logs a spurious NdDriverVersion error: set OS.CheckRdmaDriver=n");
	else
		add(run, "waagent_rdma", NULL, IBUP_PASS, NULL, seen, NULL, NULL);
}

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
	add(run, "error_counters", subject, v,
	    flap ? NHC_IB_PORT_FLAPPING : NHC_IB_PERFORMANCE, seen,
	    "error counters steady",
	    flap ? "the link goes down and retrains (a flapping link): a bad cable or port; on "
		   "Azure report the node"
		 : "errors on the link (bad signal or congestion drops): watch the rate; a "
		   "steady rise means a bad cable or port");
}

static void check_error_counters(struct run *run)
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

			if (!ib_port(&st->devices[i], p) || !p->has_counters)
				continue;
			check_counters(run, &st->devices[i], p, before, now);
			any = true;
		}
	if (!any)
		add(run, "error_counters", NULL, IBUP_SKIP, NULL,
		    "no port counters readable", NULL, NULL);
	else if (run->opts->state_dir)
		save_state(run, now);
	json_decref(before);
	json_decref(now);
}

static void check_pcie(struct run *run)
{
	const struct ibup_status *st = run->st;

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];
		char seen[96], expected[96];
		bool full;

		if (d->kind != IBUP_KIND_INFINIBAND && d->kind != IBUP_KIND_ROCE)
			continue;
		if (d->virtual_function == 1) {
			add(run, "pcie_link", d->name, IBUP_SKIP, NULL,
			    "virtual function: its link fields are reserved", NULL, NULL);
			continue;
		}
		if (isnan(d->pci_link_speed_gts) || isnan(d->pci_link_max_speed_gts) ||
		    d->pci_link_width < 0 || d->pci_link_max_width < 0) {
			add(run, "pcie_link", d->name, IBUP_SKIP, NULL,
			    "link state not readable", NULL, NULL);
			continue;
		}
		snprintf(seen, sizeof(seen), "x%d at %g GT/s", d->pci_link_width,
			 d->pci_link_speed_gts);
		snprintf(expected, sizeof(expected), "x%d at %g GT/s",
			 d->pci_link_max_width, d->pci_link_max_speed_gts);
		full = d->pci_link_width >= d->pci_link_max_width &&
		       d->pci_link_speed_gts >= d->pci_link_max_speed_gts;
		add(run, "pcie_link", d->name, full ? IBUP_PASS : IBUP_WARN, NULL, seen,
		    expected,
		    "the HCA's PCIe link trained below its capability and caps its bandwidth: "
		    "reseat the card, check the slot and the BIOS PCIe settings");
	}
}

/* Loopback RDMA write bandwidth of every active InfiniBand port, against the size's threshold. */
static void check_bench(struct run *run)
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

			if (!ib_port(d, p))
				continue;
			snprintf(subject, sizeof(subject), "%s/%u", d->name, p->num);
			if (!port_up(p)) {
				add(run, "loopback_bw", subject, IBUP_SKIP, NULL,
				    "port not active", "measured only on an active port",
				    NULL);
				continue;
			}
			if (isnan(want))
				snprintf(
					expected, sizeof(expected),
					"no threshold for this size (give --bench-gbps GBPS)");
			else
				snprintf(expected, sizeof(expected),
					 "at least %g Gb/s (%s)", want, size_name(run));
			r = run->opts->bench(run->opts->bench_data, d->name, p->num,
					     &gbps, err, sizeof(err));
			if (r < 0) {
				snprintf(seen, sizeof(seen), "could not run: %s",
					 err[0] ? err : strerror(-r));
				add(run, "loopback_bw", subject, IBUP_FAIL,
				    NHC_IB_PERFORMANCE, seen, expected,
				    "run 'ibup bench -d DEVICE' for the details; libibverbs and the "
				    "device's provider (ibverbs-providers, rdma-core) must be "
				    "installed, and memlock unlimited");
				continue;
			}
			snprintf(seen, sizeof(seen),
				 "%.1f Gb/s RDMA write, 8 MiB messages", gbps);
			if (isnan(want))
				add(run, "loopback_bw", subject, IBUP_PASS, NULL, seen,
				    expected, NULL);
			else
				add(run, "loopback_bw", subject,
				    gbps >= want ? IBUP_PASS : IBUP_FAIL,
				    NHC_IB_PERFORMANCE, seen, expected,
				    "the HCA moves less than its link allows: look at the pcie_link "
				    "and port_rate checks, the NUMA placement and the firmware; on "
				    "Azure report the node");
		}
	}
}

static void check_gpudirect(struct run *run)
{
	const struct ibup_expect *x = &run->rep->expect;
	const struct ibup_drivers *dr = &run->st->drivers;

	if (!x->gpudirect || strcmp(x->gpudirect, "nvidia") != 0 || !dr->modules_known)
		return;
	if (find_module(dr, "nvidia_peermem") || find_module(dr, "nv_peer_mem"))
		add(run, "gpudirect", NULL, IBUP_PASS, NULL, "nvidia_peermem loaded",
		    NULL, NULL);
	else
		add(run, "gpudirect", NULL, IBUP_FAIL, "NHCNA",
		    "nvidia_peermem not loaded", "nvidia_peermem loaded (GPUDirect RDMA)",
		    "NCCL falls back to staging through host memory: modprobe nvidia_peermem, "
		    "and list it in /etc/modules-load.d/nvidia-peermem.conf");
}

/* The newer kernels' modules, from the inventory (lib/inventory/boot.c). */
static void check_next_boot(struct run *run)
{
	const struct ibup_boot *b = &run->st->boot;
	char seen[512] = "";
	bool bad = false;

	if (!run->st->drivers.modules_known || !run->st->platform.kernel)
		return;
	if (!b->n_out_of_tree) {
		add(run, "next_boot_modules", NULL, IBUP_PASS, NULL,
		    "inbox RDMA modules: every kernel has its own", NULL, NULL);
		return;
	}
	if (!b->newer_known) {
		add(run, "next_boot_modules", NULL, IBUP_SKIP, NULL, "no /lib/modules",
		    NULL, NULL);
		return;
	}
	for (unsigned i = 0; i < b->n_newer; i++) {
		size_t off = strlen(seen);

		if (!b->newer[i].missing || !*b->newer[i].missing)
			continue;
		bad = true;
		snprintf(seen + off, sizeof(seen) - off, "%skernel %s lacks %s",
			 off ? "; " : "", b->newer[i].kernel, b->newer[i].missing);
	}
	if (!bad)
		snprintf(seen, sizeof(seen),
			 b->n_newer
				 ? "every newer kernel has the out-of-tree RDMA modules"
				 : "no newer kernel installed");
	add(run, "next_boot_modules", NULL, bad ? IBUP_WARN : IBUP_PASS, "NHCNA", seen,
	    "the loaded out-of-tree modules built for every newer kernel",
	    "after a reboot into that kernel the inbox modules (or none) load: build the "
	    "OFED modules for it before rebooting (dkms autoinstall -k KERNEL, or reinstall "
	    "MLNX_OFED with --add-kernel-support for it)");
}

static void check_secure_boot(struct run *run)
{
	const struct ibup_secure_boot *sb = &run->st->boot.secure_boot;
	const struct ibup_drivers *dr = &run->st->drivers;
	char unsig[256] = "";
	size_t off = 0;

	if (!sb->efi || sb->enabled == IBUP_UNKNOWN)
		return; /* not an EFI system, or efivarfs not mounted */
	if (sb->enabled != 1) {
		add(run, "secure_boot", NULL, IBUP_PASS, NULL, "Secure Boot off", NULL,
		    NULL);
		return;
	}
	if (!sb->enforcing) {
		add(run, "secure_boot", NULL, IBUP_PASS, NULL,
		    sb->validation_off == 1
			    ? "Secure Boot on, shim's validation disabled: unsigned modules load"
			    : "Secure Boot on, the kernel does not enforce module signatures",
		    NULL, NULL);
		return;
	}
	for (unsigned i = 0; i < dr->n_modules; i++)
		if (dr->modules[i].unsigned_module == 1 && off < sizeof(unsig))
			off += (size_t)snprintf(unsig + off, sizeof(unsig) - off, "%s%s",
						off ? " " : "", dr->modules[i].name);
	if (!off) {
		add(run, "secure_boot", NULL, IBUP_PASS, NULL,
		    "Secure Boot on; every loaded RDMA module is signed", NULL, NULL);
		return;
	}
	add(run, "secure_boot", NULL, IBUP_FAIL, "NHCNA", unsig,
	    "signed modules (Secure Boot is on)",
	    "unsigned modules are refused at the next load: enroll the DKMS signing key "
	    "(mokutil --import /var/lib/dkms/mok.pub, then reboot and confirm) or install "
	    "signed OFED packages");
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

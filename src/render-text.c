// SPDX-License-Identifier: MIT
/* Text rendering for humans: one glance tells which device is the fabric and how it is. */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

#define CELL 64

static const char *const port_headers[] = { "DEVICE",	"PORT", "KIND", "STATE",
					    "PHYSICAL", "RATE", "LID",	"PKEY",
					    "NETDEV",	"PCI",	"NUMA" };
#define PORT_COLS IBUP_ARRAY_SIZE(port_headers)

static const char *const ipoib_headers[] = { "IPOIB", "DEVICE", "PORT", "STATE",
					     "MODE",  "MTU",	"PKEY", "IPV4" };
#define IPOIB_COLS IBUP_ARRAY_SIZE(ipoib_headers)

/* Left-aligned columns two spaces apart; @cells holds @rows x @cols strings. */
static void print_grid(FILE *out, const char *const *headers, size_t cols,
		       char (*cells)[CELL], size_t rows)
{
	size_t width[16] = { 0 };

	for (size_t c = 0; c < cols; c++) {
		width[c] = strlen(headers[c]);
		for (size_t r = 0; r < rows; r++)
			if (strlen(cells[r * cols + c]) > width[c])
				width[c] = strlen(cells[r * cols + c]);
	}
	for (size_t r = 0; r <= rows; r++)
		for (size_t c = 0; c < cols; c++) {
			const char *v = r ? cells[(r - 1) * cols + c] : headers[c];

			if (c + 1 < cols)
				fprintf(out, "%-*s  ", (int)width[c], v);
			else
				fprintf(out, "%s\n", v);
		}
}

static void port_row(const struct ibup_device *d, const struct ibup_port *p,
		     char (*r)[CELL])
{
	snprintf(r[0], CELL, "%s", d->name);
	snprintf(r[1], CELL, "%u", p->num);
	snprintf(r[2], CELL, "%s", ibup_device_kind_name(d->kind));
	snprintf(r[3], CELL, "%s", or_dash(ibup_port_state_name(p->state)));
	snprintf(r[4], CELL, "%s", or_dash(ibup_phys_state_name(p->phys_state)));
	cli_format_rate(p, r[5], CELL);
	cli_format_int(p->lid, r[6], CELL);
	cli_format_pkey(p->tenant_pkey, r[7], CELL);
	snprintf(r[8], CELL, "%s", or_dash(p->netdev));
	snprintf(r[9], CELL, "%s", or_dash(d->pci_address));
	cli_format_int(d->numa_node, r[10], CELL);
}

static void print_ports(FILE *out, const struct ibup_status *st)
{
	const struct ibup_port none = { .state = IBUP_PORT_STATE_UNREAD,
					.phys_state = IBUP_PHYS_STATE_UNREAD,
					.rate_gbps = NAN,
					.lid = IBUP_UNKNOWN,
					.tenant_pkey = IBUP_UNKNOWN };
	char(*cells)[CELL];
	size_t n = 0;

	for (unsigned i = 0; i < st->n_devices; i++)
		n += st->devices[i].n_ports ? st->devices[i].n_ports : 1;
	cells = calloc(n * PORT_COLS, CELL);
	if (!cells)
		return;
	n = 0;
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		if (!d->n_ports) {
			port_row(d, &none, &cells[n * PORT_COLS]);
			snprintf(cells[n++ * PORT_COLS + 1], CELL, "-");
		}
		for (unsigned p = 0; p < d->n_ports; p++)
			port_row(d, &d->ports[p], &cells[n++ * PORT_COLS]);
	}
	print_grid(out, port_headers, PORT_COLS, cells, n);
	free(cells);
}

/* One line on the InfiniBand fabric: how many ports, how many active, at what rate. */
static void print_fabric(FILE *out, const struct ibup_status *st)
{
	unsigned ports = 0, active = 0, others = 0;
	double lo = INFINITY, hi = 0;

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		if (d->kind != IBUP_KIND_INFINIBAND) {
			others++;
			continue;
		}
		for (unsigned p = 0; p < d->n_ports; p++) {
			const struct ibup_port *port = &d->ports[p];

			if (port->link_layer != IBUP_LINK_LAYER_INFINIBAND)
				continue;
			ports++;
			if (port->state != IBUP_PORT_ACTIVE)
				continue;
			active++;
			if (!isnan(port->rate_gbps)) {
				lo = fmin(lo, port->rate_gbps);
				hi = fmax(hi, port->rate_gbps);
			}
		}
	}
	fputs("Fabric:    ", out);
	if (!ports) {
		const char *sep = " (";

		fputs(st->devices_error || st->n_unreadable ? "no InfiniBand port found "
							      "(devices unreadable)"
							    : "no InfiniBand port",
		      out);
		for (int k = IBUP_KIND_OTHER; others && k <= IBUP_KIND_IWARP; k++) {
			unsigned c = 0;

			for (unsigned i = 0; i < st->n_devices; i++)
				c += st->devices[i].kind == (enum ibup_device_kind)k;
			if (!c)
				continue;
			fprintf(out, "%s%u %s", sep, c,
				ibup_device_kind_name((enum ibup_device_kind)k));
			sep = ", ";
		}
		fputs(*sep == ',' ? ")\n" : "\n", out);
		return;
	}
	fprintf(out, "%u InfiniBand port%s, %u active", ports, ports == 1 ? "" : "s",
		active);
	if (active && hi > 0) {
		if (lo == hi)
			fprintf(out, " at %g Gb/s", hi);
		else
			fprintf(out, " at %g to %g Gb/s", lo, hi);
	}
	if (active < ports)
		fprintf(out, ", %u not active", ports - active);
	fputc('\n', out);
}

static const char *hypervisor_title(const char *hv)
{
	static const struct {
		const char *id, *title;
	} titles[] = { { "hyperv", "Hyper-V" },
		       { "kvm", "KVM" },
		       { "xen", "Xen" },
		       { "vmware", "VMware" } };

	for (size_t i = 0; i < IBUP_ARRAY_SIZE(titles); i++)
		if (strcmp(hv, titles[i].id) == 0)
			return titles[i].title;
	return hv;
}

static void print_platform(FILE *out, const struct ibup_platform *p)
{
	fprintf(out, "System:    %s, kernel %s\n", or_dash(p->os_name),
		or_dash(p->kernel));
	fputs("Platform:  ", out);
	if (p->cloud && strcmp(p->cloud, "azure") == 0)
		fputs("Azure VM", out);
	else if (p->cloud)
		fputs(p->cloud, out);
	if (p->hypervisor && strcmp(p->hypervisor, "none") == 0)
		fputs(p->cloud ? " (bare metal)" : "bare metal", out);
	else if (p->hypervisor)
		fprintf(out, p->cloud ? " (%s)" : "%s virtual machine",
			hypervisor_title(p->hypervisor));
	else if (!p->cloud)
		fputs("unknown", out);
	if (p->vm_size)
		fprintf(out, ", size %s", p->vm_size);
	fputc('\n', out);
}

static void print_drivers(FILE *out, const struct ibup_drivers *d)
{
	bool oot = false, dkms = false;

	for (unsigned i = 0; i < d->n_modules; i++) {
		oot |= d->modules[i].out_of_tree == 1;
		dkms |= d->modules[i].dkms == 1;
	}
	fputs("Drivers:   ", out);
	if (d->ofed_flavor)
		fprintf(out, "%s %s",
			strcmp(d->ofed_flavor, "mlnx_ofed") == 0 ? "MLNX_OFED"
								 : "DOCA-OFED",
			or_dash(d->ofed_version));
	else if (d->n_modules)
		fputs(oot ? "out-of-tree modules" : "inbox", out);
	else
		fputs("no RDMA module loaded", out);
	if (d->n_modules)
		fprintf(out, " (%u module%s%s)", d->n_modules,
			d->n_modules == 1 ? "" : "s", dkms ? ", DKMS" : "");
	fprintf(out, ", rdma-core %s",
		d->rdma_core_version ? d->rdma_core_version : "not found");
	if (d->uverbs_abi_version >= 0)
		fprintf(out, ", uverbs ABI %lld", (long long)d->uverbs_abi_version);
	if (d->umad_abi_version >= 0)
		fprintf(out, ", umad ABI %lld", (long long)d->umad_abi_version);
	fputc('\n', out);
}

static void print_limits(FILE *out, const struct ibup_limits *l)
{
	char a[32], b[32], c[32];

	fputs("Memlock:   ", out);
	if (l->memlock_soft >= 0) {
		ibup_format_limit(l->memlock_soft, a, sizeof(a));
		ibup_format_limit(l->memlock_hard, b, sizeof(b));
		fprintf(out, "%s now (hard %s), ", a, b);
	}
	ibup_format_limit(l->memlock_configured, a, sizeof(a));
	ibup_format_limit(l->memlock_configured_hard, b, sizeof(b));
	ibup_format_limit(l->memlock_systemd, c, sizeof(c));
	fprintf(out, "users %s (hard %s), services %s\n", a, b, c);
}

static void print_ipoib(FILE *out, const struct ibup_status *st)
{
	char(*cells)[CELL];

	if (!st->n_ipoib)
		return;
	cells = calloc(st->n_ipoib * IPOIB_COLS, CELL);
	if (!cells)
		return;
	for (unsigned i = 0; i < st->n_ipoib; i++) {
		const struct ibup_ipoib *ib = &st->ipoib[i];
		char(*r)[CELL] = &cells[i * IPOIB_COLS];
		int off = 0;

		snprintf(r[0], CELL, "%s", ib->name);
		snprintf(r[1], CELL, "%s", or_dash(ib->device));
		if (ib->port)
			snprintf(r[2], CELL, "%u", ib->port);
		else
			snprintf(r[2], CELL, "-");
		snprintf(r[3], CELL, "%s", or_dash(ib->operstate));
		snprintf(r[4], CELL, "%s", or_dash(ib->mode));
		cli_format_int(ib->mtu, r[5], CELL);
		cli_format_pkey(ib->pkey, r[6], CELL);
		/* Addresses come from rtnetlink: only the live system has them. */
		snprintf(r[7], CELL, "%s", ib->ipv4_known ? "-" : "n/a");
		for (unsigned a = 0; a < ib->n_ipv4 && off >= 0 && off < CELL; a++)
			off += snprintf(r[7] + off, (size_t)(CELL - off), "%s%s",
					a ? "," : "", ib->ipv4[a]);
	}
	fputc('\n', out);
	print_grid(out, ipoib_headers, IPOIB_COLS, cells, st->n_ipoib);
	free(cells);
}

static void print_details(FILE *out, const struct ibup_device *d)
{
	fprintf(out, "\n%s: %s, driver %s, node type %s\n", d->name,
		ibup_device_kind_name(d->kind), or_dash(d->driver),
		or_dash(ibup_node_type_name(d->node_type)));
	fprintf(out, "  firmware %s, hca %s, board %s, hw rev %s\n", or_dash(d->fw_ver),
		or_dash(d->hca_type), or_dash(d->board_id), or_dash(d->hw_rev));
	fprintf(out, "  node guid %s, system image guid %s\n", or_dash(d->node_guid),
		or_dash(d->sys_image_guid));
	if (d->pci_address)
		fprintf(out, "  pci %s [%04x:%04x]%s\n", d->pci_address,
			(unsigned)d->pci_vendor_id & 0xffff,
			(unsigned)d->pci_device_id & 0xffff,
			d->virtual_function == 1 ? ", virtual function" : "");
	for (unsigned i = 0; i < d->n_ports; i++) {
		const struct ibup_port *p = &d->ports[i];

		fprintf(out, "  port %u: %s", p->num,
			or_dash(ibup_link_layer_name(p->link_layer)));
		if (p->port_guid)
			fprintf(out, ", guid %s", p->port_guid);
		if (p->sm_lid >= 0)
			fprintf(out, ", sm lid %lld, lmc %lld", (long long)p->sm_lid,
				(long long)p->lmc);
		fputc('\n', out);
		if (p->n_pkeys) {
			fputs("    pkeys", out);
			for (unsigned k = 0; k < p->n_pkeys; k++)
				fprintf(out, " 0x%04x", p->pkeys[k]);
			fputc('\n', out);
		}
		if (p->has_counters || p->has_hw_counters) {
			unsigned shown = 0;

			fputs("    counters", out);
			for (unsigned c = 0; c < p->n_counters; c++)
				if (p->counters[c].value) {
					fprintf(out, " %s=%llu", p->counters[c].name,
						(unsigned long long)p->counters[c].value);
					shown++;
				}
			for (unsigned c = 0; c < p->n_hw_counters; c++)
				if (p->hw_counters[c].value) {
					fprintf(out, " %s=%llu", p->hw_counters[c].name,
						(unsigned long long)p->hw_counters[c]
							.value);
					shown++;
				}
			fputs(shown ? "\n" : " all zero\n", out);
		}
		for (unsigned g = 0; g < p->n_gids; g++)
			fprintf(out, "    gid %u %s %s%s%s\n", p->gids[g].index,
				p->gids[g].gid,
				or_dash(ibup_gid_type_name(p->gids[g].type)),
				p->gids[g].netdev ? " " : "",
				p->gids[g].netdev ? p->gids[g].netdev : "");
	}
}

void render_text_status(FILE *out, const struct ibup_status *st, bool verbose)
{
	print_platform(out, &st->platform);
	print_drivers(out, &st->drivers);
	print_limits(out, &st->limits);
	print_fabric(out, st);
	fputc('\n', out);
	if (!st->n_devices) {
		fputs(st->devices_error
			      ? "RDMA devices unknown: /sys/class/infiniband cannot be "
				"listed.\n"
			      : "No RDMA devices found.\n",
		      out);
		return;
	}
	print_ports(out, st);
	print_ipoib(out, st);
	if (verbose)
		for (unsigned i = 0; i < st->n_devices; i++)
			print_details(out, &st->devices[i]);
}

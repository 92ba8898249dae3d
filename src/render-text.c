// SPDX-License-Identifier: MIT
/* Text rendering for humans: one glance tells which device is the fabric and how it is. */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "../lib/banned.h"

#define COLS 11

static const char *const headers[COLS] = { "DEVICE",   "PORT", "KIND", "STATE",
					   "PHYSICAL", "RATE", "LID",  "PKEY",
					   "NETDEV",   "PCI",  "NUMA" };

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* "200 Gb/s (4X HDR)"; "53.125 Gb/s (1X HDR)"; "-" when unknown. */
static void format_rate(const struct ibup_port *p, char *buf, size_t size)
{
	if (isnan(p->rate_gbps)) {
		snprintf(buf, size, "-");
		return;
	}
	snprintf(buf, size, "%g Gb/s (%s%s%s)", p->rate_gbps, p->width,
		 *p->speed ? " " : "", p->speed);
}

static void format_int(int64_t v, char *buf, size_t size)
{
	if (v < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%lld", (long long)v);
}

struct row {
	char cell[COLS][64];
};

static void port_row(const struct ibup_device *d, const struct ibup_port *p,
		     struct row *r)
{
	snprintf(r->cell[0], 64, "%s", d->name);
	snprintf(r->cell[1], 64, "%u", p->num);
	snprintf(r->cell[2], 64, "%s", ibup_device_kind_name(d->kind));
	snprintf(r->cell[3], 64, "%s", or_dash(ibup_port_state_name(p->state)));
	snprintf(r->cell[4], 64, "%s", or_dash(ibup_phys_state_name(p->phys_state)));
	format_rate(p, r->cell[5], 64);
	format_int(p->lid, r->cell[6], 64);
	if (p->tenant_pkey >= 0)
		snprintf(r->cell[7], 64, "0x%04x", (unsigned)p->tenant_pkey);
	else
		snprintf(r->cell[7], 64, "-");
	snprintf(r->cell[8], 64, "%s", or_dash(p->netdev));
	snprintf(r->cell[9], 64, "%s", or_dash(d->pci_address));
	format_int(d->numa_node, r->cell[10], 64);
}

static void print_row(FILE *out, const char *const *cells, const size_t *width)
{
	for (unsigned c = 0; c < COLS; c++) {
		if (c + 1 < COLS)
			fprintf(out, "%-*s  ", (int)width[c], cells[c]);
		else
			fprintf(out, "%s\n", cells[c]);
	}
}

static void print_table(FILE *out, const struct ibup_status *st)
{
	size_t width[COLS], n = 0;
	struct row *rows;

	for (unsigned i = 0; i < st->n_devices; i++)
		n += st->devices[i].n_ports ? st->devices[i].n_ports : 1;
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		return;
	n = 0;
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];
		const struct ibup_port none = { .state = IBUP_PORT_STATE_UNREAD,
						.phys_state = IBUP_PHYS_STATE_UNREAD,
						.rate_gbps = NAN,
						.lid = IBUP_UNKNOWN,
						.tenant_pkey = IBUP_UNKNOWN };

		if (!d->n_ports) {
			port_row(d, &none, &rows[n]);
			snprintf(rows[n++].cell[1], 64, "-");
		}
		for (unsigned p = 0; p < d->n_ports; p++)
			port_row(d, &d->ports[p], &rows[n++]);
	}
	for (unsigned c = 0; c < COLS; c++) {
		width[c] = strlen(headers[c]);
		for (size_t i = 0; i < n; i++)
			if (strlen(rows[i].cell[c]) > width[c])
				width[c] = strlen(rows[i].cell[c]);
	}
	print_row(out, headers, width);
	for (size_t i = 0; i < n; i++) {
		const char *cells[COLS];

		for (unsigned c = 0; c < COLS; c++)
			cells[c] = rows[i].cell[c];
		print_row(out, cells, width);
	}
	free(rows);
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
		fprintf(out, "no InfiniBand port (%u other RDMA device%s)\n", others,
			others == 1 ? "" : "s");
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
	print_fabric(out, st);
	fputc('\n', out);
	if (!st->n_devices) {
		fputs("No RDMA devices found.\n", out);
		return;
	}
	print_table(out, st);
	if (verbose)
		for (unsigned i = 0; i < st->n_devices; i++)
			print_details(out, &st->devices[i]);
}

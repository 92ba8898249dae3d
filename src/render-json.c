// SPDX-License-Identifier: MIT
/* JSON rendering of the model: the contract in docs/status.schema.json. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

static json_t *gid_json(const struct ibup_gid *g)
{
	/* clang-format off */
	return json_pack("{s:I, s:s, s:s?, s:s?}",
			 "index", (json_int_t)g->index,
			 "gid", (const char *)g->gid,
			 "type", ibup_gid_type_name(g->type),
			 "netdev", (const char *)g->netdev);
	/* clang-format on */
}

/*
 * A counter, exact: an integer, or past INT64_MAX (jansson's integers are signed, and
 * so are most parsers') the decimal string of its value (docs/status.schema.json).
 */
static json_t *counter_json(uint64_t v)
{
	char buf[24];

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

/* An object of counter name to value; null when the directory does not exist. */
static json_t *counters_json(const struct ibup_counter *v, unsigned n, bool present)
{
	json_t *o;

	if (!present)
		return json_null();
	o = json_object();
	for (unsigned i = 0; o && i < n; i++)
		if (ibup_json_set(o, v[i].name, counter_json(v[i].value))) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/*
 * PortCounters' data counters count 4-byte units. A 32-bit one (no extended counters)
 * stops at all ones: the volume past it is unknown, so it is null, not a wrong figure.
 * Four times a 64-bit counter may pass 2^64: exact all the same, as counters are.
 */
static json_t *data_bytes(const struct ibup_port *p, const char *name)
{
	for (unsigned i = 0; i < p->n_counters; i++) {
		uint64_t v = p->counters[i].value;
		char buf[32];

		if (strcmp(p->counters[i].name, name) != 0)
			continue;
		if (v == UINT32_MAX)
			return json_null();
		if (v <= INT64_MAX / 4)
			return json_integer((json_int_t)(v * 4));
		/* v * 4 = 10 * (v / 10 * 4 + v % 10 * 4 / 10) + v % 10 * 4 % 10, and the
		 * tens fit in 64 bits (the last digit goes on the end). */
		snprintf(buf, sizeof(buf), "%llu%u",
			 (unsigned long long)(v / 10 * 4 + v % 10 * 4 / 10),
			 (unsigned)(v % 10 * 4 % 10));
		return json_string(buf);
	}
	return json_null();
}

static json_t *port_json(const struct ibup_port *p)
{
	json_t *pkeys = json_array(), *gids = json_array(), *counters, *hw_counters;

	for (unsigned i = 0; pkeys && i < p->n_pkeys; i++)
		pkeys = cli_json_append(pkeys, ibup_json_hex16(p->pkeys[i]));
	for (unsigned i = 0; gids && i < p->n_gids; i++)
		gids = cli_json_append(gids, gid_json(&p->gids[i]));
	counters = counters_json(p->counters, p->n_counters, p->has_counters);
	hw_counters = counters_json(p->hw_counters, p->n_hw_counters, p->has_hw_counters);
	/* clang-format off */
	return json_pack("{s:I, s:s?, s:s?, s:o, s:s?, s:s?, s:s?, s:o,"
			 " s:o, s:o, s:s?, s:o, s:o, s:s?, s:o, s:o,"
			 " s:o, s:o, s:o}",
			 "port", (json_int_t)p->num,
			 "state", ibup_port_state_name(p->state),
			 "phys_state", ibup_phys_state_name(p->phys_state),
			 "rate_gbps", ibup_json_real(p->rate_gbps),
			 "width", (const char *)(*p->width ? p->width : NULL),
			 "speed", (const char *)(*p->speed ? p->speed : NULL),
			 "link_layer", ibup_link_layer_name(p->link_layer),
			 "lid", ibup_json_int(p->lid),
			 "sm_lid", ibup_json_int(p->sm_lid),
			 "lmc", ibup_json_int(p->lmc),
			 "port_guid", (const char *)p->port_guid,
			 "pkeys", pkeys,
			 "tenant_pkey", ibup_json_hex16(p->tenant_pkey),
			 "netdev", (const char *)p->netdev,
			 "gids", gids,
			 "xmit_bytes", data_bytes(p, "port_xmit_data"),
			 "rcv_bytes", data_bytes(p, "port_rcv_data"),
			 "counters", counters,
			 "hw_counters", hw_counters);
	/* clang-format on */
}

static json_t *device_json(const struct ibup_device *d)
{
	json_t *ports = json_array();

	for (unsigned i = 0; ports && i < d->n_ports; i++)
		ports = cli_json_append(ports, port_json(&d->ports[i]));
	/* clang-format off */
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?,"
			 " s:s?, s:s?, s:s?, s:o, s:o, s:o, s:o, s:o,"
			 " s:o, s:o, s:o, s:o}",
			 "name", (const char *)d->name,
			 "kind", ibup_device_kind_name(d->kind),
			 "driver", (const char *)d->driver,
			 "node_type", ibup_node_type_name(d->node_type),
			 "fw_ver", (const char *)d->fw_ver,
			 "node_guid", (const char *)d->node_guid,
			 "sys_image_guid", (const char *)d->sys_image_guid,
			 "board_id", (const char *)d->board_id,
			 "hca_type", (const char *)d->hca_type,
			 "hw_rev", (const char *)d->hw_rev,
			 "pci_address", (const char *)d->pci_address,
			 "pci_vendor_id", ibup_json_hex16(d->pci_vendor_id),
			 "pci_device_id", ibup_json_hex16(d->pci_device_id),
			 "numa_node", ibup_json_int(d->numa_node),
			 "virtual_function", ibup_json_tristate(d->virtual_function),
			 "pci_link_speed_gts", ibup_json_real(d->pci_link_speed_gts),
			 "pci_link_width", ibup_json_int(d->pci_link_width),
			 "pci_link_max_speed_gts",
			 	ibup_json_real(d->pci_link_max_speed_gts),
			 "pci_link_max_width", ibup_json_int(d->pci_link_max_width),
			 "ports", ports);
	/* clang-format on */
}

static json_t *platform_json(const struct ibup_platform *p)
{
	/* clang-format off */
	return json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}",
			 "os_id", (const char *)p->os_id,
			 "os_version", (const char *)p->os_version,
			 "os_name", (const char *)p->os_name,
			 "kernel", (const char *)p->kernel,
			 "hypervisor", (const char *)p->hypervisor,
			 "cloud", (const char *)p->cloud,
			 "vm_size", (const char *)p->vm_size);
	/* clang-format on */
}

static json_t *module_json(const struct ibup_module *m)
{
	/* clang-format off */
	return json_pack("{s:s, s:s?, s:o, s:o, s:s?, s:o}",
			 "name", (const char *)m->name,
			 "version", (const char *)m->version,
			 "out_of_tree", ibup_json_tristate(m->out_of_tree),
			 "unsigned", ibup_json_tristate(m->unsigned_module),
			 "path", (const char *)m->path,
			 "dkms", ibup_json_tristate(m->dkms));
	/* clang-format on */
}

static json_t *drivers_json(const struct ibup_drivers *d)
{
	json_t *mods = json_array();

	for (unsigned i = 0; mods && i < d->n_modules; i++)
		mods = cli_json_append(mods, module_json(&d->modules[i]));
	/* clang-format off */
	return json_pack("{s:o, s:o, s:o, s:s?, s:s?, s:s?}",
			 "modules", mods,
			 "uverbs_abi_version", ibup_json_int(d->uverbs_abi_version),
			 "umad_abi_version", ibup_json_int(d->umad_abi_version),
			 "ofed_flavor", (const char *)d->ofed_flavor,
			 "ofed_version", (const char *)d->ofed_version,
			 "rdma_core_version", (const char *)d->rdma_core_version);
	/* clang-format on */
}

static json_t *ipoib_json(const struct ibup_ipoib *ib)
{
	/* null: the addresses are not known (not the live system). */
	json_t *addrs = ib->ipv4_known ? json_array() : json_null();

	for (unsigned i = 0; addrs && i < ib->n_ipv4; i++)
		addrs = cli_json_append(addrs, json_string(ib->ipv4[i]));
	/* clang-format off */
	return json_pack("{s:s, s:s?, s:o, s:s?, s:s?, s:o, s:o, s:s?,"
			 " s:s?, s:o}",
			 "name", (const char *)ib->name,
			 "device", (const char *)ib->device,
			 "port", ib->port ? json_integer(ib->port) : json_null(),
			 "hw_address", (const char *)ib->hw_address,
			 "port_guid", (const char *)ib->port_guid,
			 "pkey", ibup_json_hex16(ib->pkey),
			 "mtu", ibup_json_int(ib->mtu),
			 "mode", (const char *)ib->mode,
			 "operstate", (const char *)ib->operstate,
			 "ipv4", addrs);
	/* clang-format on */
}

/* Bytes, the string "unlimited", or null. */
static json_t *limit_json(int64_t v)
{
	if (v == IBUP_UNLIMITED)
		return json_string("unlimited");
	return ibup_json_int(v);
}

static json_t *limits_json(const struct ibup_limits *l)
{
	/* clang-format off */
	return json_pack("{s:o, s:o, s:o, s:o, s:o}",
			 "memlock_soft", limit_json(l->memlock_soft),
			 "memlock_hard", limit_json(l->memlock_hard),
			 "memlock_configured", limit_json(l->memlock_configured),
			 "memlock_configured_hard",
			 	limit_json(l->memlock_configured_hard),
			 "memlock_systemd", limit_json(l->memlock_systemd));
	/* clang-format on */
}

json_t *render_json_status(const struct ibup_status *st)
{
	json_t *devices = json_array(), *ipoib = json_array();

	for (unsigned i = 0; devices && i < st->n_devices; i++)
		devices = cli_json_append(devices, device_json(&st->devices[i]));
	for (unsigned i = 0; ipoib && i < st->n_ipoib; i++)
		ipoib = cli_json_append(ipoib, ipoib_json(&st->ipoib[i]));
	/* clang-format off */
	return json_pack("{s:o, s:o, s:o, s:o, s:o}",
			 "platform", platform_json(&st->platform),
			 "drivers", drivers_json(&st->drivers),
			 "devices", devices,
			 "ipoib", ipoib,
			 "limits", limits_json(&st->limits));
	/* clang-format on */
}

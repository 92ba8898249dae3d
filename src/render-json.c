// SPDX-License-Identifier: MIT
/* JSON rendering of the model: the contract in docs/status.schema.json. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

static json_t *gid_json(const struct ibup_gid *g)
{
	json_t *o = json_object();

	if (!o || ibup_json_set(o, "index", json_integer(g->index)) ||
	    ibup_json_set(o, "gid", json_string(g->gid)) ||
	    ibup_json_set(o, "type", ibup_json_str(ibup_gid_type_name(g->type))) ||
	    ibup_json_set(o, "netdev", ibup_json_str(g->netdev))) {
		json_decref(o);
		return NULL;
	}
	return o;
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
	json_t *o = json_object(), *pkeys = json_array(), *gids = json_array();

	if (!o || !pkeys || !gids)
		goto fail;
	for (unsigned i = 0; i < p->n_pkeys; i++)
		if (json_array_append_new(pkeys, ibup_json_hex16(p->pkeys[i])) < 0)
			goto fail;
	for (unsigned i = 0; i < p->n_gids; i++)
		if (json_array_append_new(gids, gid_json(&p->gids[i])) < 0)
			goto fail;
	if (ibup_json_set(o, "port", json_integer(p->num)) ||
	    ibup_json_set(o, "state", ibup_json_str(ibup_port_state_name(p->state))) ||
	    ibup_json_set(o, "phys_state",
			  ibup_json_str(ibup_phys_state_name(p->phys_state))) ||
	    ibup_json_set(o, "rate_gbps", ibup_json_real(p->rate_gbps)) ||
	    ibup_json_set(o, "width", ibup_json_str(*p->width ? p->width : NULL)) ||
	    ibup_json_set(o, "speed", ibup_json_str(*p->speed ? p->speed : NULL)) ||
	    ibup_json_set(o, "link_layer",
			  ibup_json_str(ibup_link_layer_name(p->link_layer))) ||
	    ibup_json_set(o, "lid", ibup_json_int(p->lid)) ||
	    ibup_json_set(o, "sm_lid", ibup_json_int(p->sm_lid)) ||
	    ibup_json_set(o, "lmc", ibup_json_int(p->lmc)) ||
	    ibup_json_set(o, "port_guid", ibup_json_str(p->port_guid)) ||
	    ibup_json_set(o, "pkeys", json_incref(pkeys)) ||
	    ibup_json_set(o, "tenant_pkey", ibup_json_hex16(p->tenant_pkey)) ||
	    ibup_json_set(o, "netdev", ibup_json_str(p->netdev)) ||
	    ibup_json_set(o, "gids", json_incref(gids)) ||
	    ibup_json_set(o, "xmit_bytes", data_bytes(p, "port_xmit_data")) ||
	    ibup_json_set(o, "rcv_bytes", data_bytes(p, "port_rcv_data")) ||
	    ibup_json_set(o, "counters",
			  counters_json(p->counters, p->n_counters, p->has_counters)) ||
	    ibup_json_set(
		    o, "hw_counters",
		    counters_json(p->hw_counters, p->n_hw_counters, p->has_hw_counters)))
		goto fail;
	json_decref(pkeys);
	json_decref(gids);
	return o;
fail:
	json_decref(o);
	json_decref(pkeys);
	json_decref(gids);
	return NULL;
}

static json_t *device_json(const struct ibup_device *d)
{
	json_t *o = json_object(), *ports = json_array();

	if (!o || !ports)
		goto fail;
	for (unsigned i = 0; i < d->n_ports; i++)
		if (json_array_append_new(ports, port_json(&d->ports[i])) < 0)
			goto fail;
	if (ibup_json_set(o, "name", json_string(d->name)) ||
	    ibup_json_set(o, "kind", json_string(ibup_device_kind_name(d->kind))) ||
	    ibup_json_set(o, "driver", ibup_json_str(d->driver)) ||
	    ibup_json_set(o, "node_type",
			  ibup_json_str(ibup_node_type_name(d->node_type))) ||
	    ibup_json_set(o, "fw_ver", ibup_json_str(d->fw_ver)) ||
	    ibup_json_set(o, "node_guid", ibup_json_str(d->node_guid)) ||
	    ibup_json_set(o, "sys_image_guid", ibup_json_str(d->sys_image_guid)) ||
	    ibup_json_set(o, "board_id", ibup_json_str(d->board_id)) ||
	    ibup_json_set(o, "hca_type", ibup_json_str(d->hca_type)) ||
	    ibup_json_set(o, "hw_rev", ibup_json_str(d->hw_rev)) ||
	    ibup_json_set(o, "pci_address", ibup_json_str(d->pci_address)) ||
	    ibup_json_set(o, "pci_vendor_id", ibup_json_hex16(d->pci_vendor_id)) ||
	    ibup_json_set(o, "pci_device_id", ibup_json_hex16(d->pci_device_id)) ||
	    ibup_json_set(o, "numa_node", ibup_json_int(d->numa_node)) ||
	    ibup_json_set(o, "virtual_function",
			  ibup_json_tristate(d->virtual_function)) ||
	    ibup_json_set(o, "pci_link_speed_gts",
			  ibup_json_real(d->pci_link_speed_gts)) ||
	    ibup_json_set(o, "pci_link_width", ibup_json_int(d->pci_link_width)) ||
	    ibup_json_set(o, "pci_link_max_speed_gts",
			  ibup_json_real(d->pci_link_max_speed_gts)) ||
	    ibup_json_set(o, "pci_link_max_width",
			  ibup_json_int(d->pci_link_max_width)) ||
	    ibup_json_set(o, "ports", json_incref(ports)))
		goto fail;
	json_decref(ports);
	return o;
fail:
	json_decref(o);
	json_decref(ports);
	return NULL;
}

static json_t *platform_json(const struct ibup_platform *p)
{
	json_t *o = json_object();

	if (!o || ibup_json_set(o, "os_id", ibup_json_str(p->os_id)) ||
	    ibup_json_set(o, "os_version", ibup_json_str(p->os_version)) ||
	    ibup_json_set(o, "os_name", ibup_json_str(p->os_name)) ||
	    ibup_json_set(o, "kernel", ibup_json_str(p->kernel)) ||
	    ibup_json_set(o, "hypervisor", ibup_json_str(p->hypervisor)) ||
	    ibup_json_set(o, "cloud", ibup_json_str(p->cloud)) ||
	    ibup_json_set(o, "vm_size", ibup_json_str(p->vm_size))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *module_json(const struct ibup_module *m)
{
	json_t *o = json_object();

	if (!o || ibup_json_set(o, "name", json_string(m->name)) ||
	    ibup_json_set(o, "version", ibup_json_str(m->version)) ||
	    ibup_json_set(o, "out_of_tree", ibup_json_tristate(m->out_of_tree)) ||
	    ibup_json_set(o, "unsigned", ibup_json_tristate(m->unsigned_module)) ||
	    ibup_json_set(o, "path", ibup_json_str(m->path)) ||
	    ibup_json_set(o, "dkms", ibup_json_tristate(m->dkms))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *drivers_json(const struct ibup_drivers *d)
{
	json_t *o = json_object(), *mods = json_array();

	if (!o || !mods)
		goto fail;
	for (unsigned i = 0; i < d->n_modules; i++)
		if (json_array_append_new(mods, module_json(&d->modules[i])) < 0)
			goto fail;
	if (ibup_json_set(o, "modules", json_incref(mods)) ||
	    ibup_json_set(o, "uverbs_abi_version",
			  ibup_json_int(d->uverbs_abi_version)) ||
	    ibup_json_set(o, "umad_abi_version", ibup_json_int(d->umad_abi_version)) ||
	    ibup_json_set(o, "ofed_flavor", ibup_json_str(d->ofed_flavor)) ||
	    ibup_json_set(o, "ofed_version", ibup_json_str(d->ofed_version)) ||
	    ibup_json_set(o, "rdma_core_version", ibup_json_str(d->rdma_core_version)))
		goto fail;
	json_decref(mods);
	return o;
fail:
	json_decref(o);
	json_decref(mods);
	return NULL;
}

static json_t *ipoib_json(const struct ibup_ipoib *ib)
{
	json_t *o = json_object(), *addrs = ib->ipv4_known ? json_array() : json_null();

	if (!o || !addrs)
		goto fail;
	for (unsigned i = 0; i < ib->n_ipv4; i++)
		if (json_array_append_new(addrs, json_string(ib->ipv4[i])) < 0)
			goto fail;
	if (ibup_json_set(o, "name", json_string(ib->name)) ||
	    ibup_json_set(o, "device", ibup_json_str(ib->device)) ||
	    ibup_json_set(o, "port", ib->port ? json_integer(ib->port) : json_null()) ||
	    ibup_json_set(o, "hw_address", ibup_json_str(ib->hw_address)) ||
	    ibup_json_set(o, "port_guid", ibup_json_str(ib->port_guid)) ||
	    ibup_json_set(o, "pkey", ibup_json_hex16(ib->pkey)) ||
	    ibup_json_set(o, "mtu", ibup_json_int(ib->mtu)) ||
	    ibup_json_set(o, "mode", ibup_json_str(ib->mode)) ||
	    ibup_json_set(o, "operstate", ibup_json_str(ib->operstate)) ||
	    ibup_json_set(o, "ipv4", json_incref(addrs)))
		goto fail;
	json_decref(addrs);
	return o;
fail:
	json_decref(o);
	json_decref(addrs);
	return NULL;
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
	json_t *o = json_object();

	if (!o || ibup_json_set(o, "memlock_soft", limit_json(l->memlock_soft)) ||
	    ibup_json_set(o, "memlock_hard", limit_json(l->memlock_hard)) ||
	    ibup_json_set(o, "memlock_configured", limit_json(l->memlock_configured)) ||
	    ibup_json_set(o, "memlock_configured_hard",
			  limit_json(l->memlock_configured_hard)) ||
	    ibup_json_set(o, "memlock_systemd", limit_json(l->memlock_systemd))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *render_json_status(const struct ibup_status *st)
{
	json_t *o = json_object(), *devices = json_array(), *ipoib = json_array();

	if (!o || !devices || !ipoib)
		goto fail;
	for (unsigned i = 0; i < st->n_devices; i++)
		if (json_array_append_new(devices, device_json(&st->devices[i])) < 0)
			goto fail;
	for (unsigned i = 0; i < st->n_ipoib; i++)
		if (json_array_append_new(ipoib, ipoib_json(&st->ipoib[i])) < 0)
			goto fail;
	if (ibup_json_set(o, "schema_version", json_integer(IBUP_SCHEMA_VERSION)) ||
	    ibup_json_set(o, "platform", platform_json(&st->platform)) ||
	    ibup_json_set(o, "drivers", drivers_json(&st->drivers)) ||
	    ibup_json_set(o, "devices", json_incref(devices)) ||
	    ibup_json_set(o, "ipoib", json_incref(ipoib)) ||
	    ibup_json_set(o, "limits", limits_json(&st->limits)))
		goto fail;
	json_decref(devices);
	json_decref(ipoib);
	return o;
fail:
	json_decref(o);
	json_decref(devices);
	json_decref(ipoib);
	return NULL;
}

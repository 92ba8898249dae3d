// SPDX-License-Identifier: MIT
/*
 * The Prometheus text exposition format (0.0.4) of an inventory and check's verdicts.
 *
 * Base units, as Prometheus' naming guide asks: bytes (the PMA data counters count
 * 4-byte words: they are multiplied by 4), seconds, degrees Celsius; the link rate is
 * in bytes per second, so that rate(ibup_port_transmit_bytes_total) over it is the
 * link's utilisation. Every family is written whole (its samples together) and only
 * when it has a sample.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "ibup/metrics.h"
#include "banned.h"

#define HWMON_MAX 16 /* hwmon directories per device */
#define HWMON_FILES_MAX 256 /* files per hwmon directory */
#define LABEL_MAX 512 /* one escaped label value */

char *ibup_metrics_escape(const char *s, char *buf, size_t size)
{
	size_t k = 0;

	for (; s && *s; s++) {
		char esc[3] = { 0 };
		size_t n;

		switch (*s) {
		case '\\':
			memcpy(esc, "\\\\", 2);
			break;
		case '"':
			memcpy(esc, "\\\"", 2);
			break;
		case '\n':
			memcpy(esc, "\\n", 2);
			break;
		default:
			esc[0] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
			break;
		}
		n = strlen(esc);
		if (k + n >= size)
			break;
		memcpy(buf + k, esc, n);
		k += n;
	}
	/* A cut must not leave half of a UTF-8 sequence behind. */
	while (k > 0 && s && *s && ((unsigned char)buf[k - 1] & 0xc0) == 0x80)
		k--;
	if (k > 0 && s && *s && ((unsigned char)buf[k - 1] & 0xc0) == 0xc0)
		k--;
	if (size)
		buf[k] = '\0';
	return buf;
}

/* One metric family: its header is written before its first sample. */
struct family {
	const char *name, *type, *help;
	bool started;
};

struct out {
	struct ibup_ctx *ctx;
	FILE *f;
	bool labelled; /* the sample being written has a label */
};

/* Start a sample of @fam: its name (the caller adds labels and the value). */
static void sample(struct out *o, struct family *fam)
{
	if (!fam->started) {
		fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help,
			fam->name, fam->type);
		fam->started = true;
	}
	fputs(fam->name, o->f);
	o->labelled = false;
}

/*
 * Label values must be UTF-8: names a host controls (counter files, hwmon labels) are
 * sanitized first (control characters and stray bytes become '?'), then escaped.
 */
static void label(struct out *o, const char *name, const char *value)
{
	char clean[LABEL_MAX], buf[2 * LABEL_MAX];

	snprintf(clean, sizeof(clean), "%s", value ? value : "");
	ibup_sanitize(clean);
	fprintf(o->f, "%c%s=\"%s\"", o->labelled ? ',' : '{', name,
		ibup_metrics_escape(clean, buf, sizeof(buf)));
	o->labelled = true;
}

static void end_u64(struct out *o, uint64_t v)
{
	fprintf(o->f, "%s %" PRIu64 "\n", o->labelled ? "}" : "", v);
}

static void end_double(struct out *o, double v)
{
	fprintf(o->f, "%s %.17g\n", o->labelled ? "}" : "", v);
}

static void port_labels(struct out *o, const struct ibup_device *d,
			const struct ibup_port *p)
{
	char num[16];

	snprintf(num, sizeof(num), "%u", p->num);
	label(o, "device", d->name);
	label(o, "port", num);
	label(o, "kind", ibup_device_kind_name(d->kind));
}

/* A port family whose value comes from one field. */
typedef bool port_value_fn(const struct ibup_port *p, double *ret);

static void port_family(struct out *o, const struct ibup_status *st, struct family *fam,
			port_value_fn *value)
{
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned j = 0; j < d->n_ports; j++) {
			double v;

			if (!value(&d->ports[j], &v))
				continue;
			sample(o, fam);
			port_labels(o, d, &d->ports[j]);
			end_double(o, v);
		}
	}
}

static bool port_state_value(const struct ibup_port *p, double *ret)
{
	*ret = p->state;
	return p->state != IBUP_PORT_STATE_UNREAD;
}

static bool phys_state_value(const struct ibup_port *p, double *ret)
{
	*ret = p->phys_state;
	return p->phys_state != IBUP_PHYS_STATE_UNREAD;
}

static bool rate_value(const struct ibup_port *p, double *ret)
{
	*ret = p->rate_gbps * 1e9 / 8;
	return !isnan(p->rate_gbps);
}

static bool lid_value(const struct ibup_port *p, double *ret)
{
	*ret = (double)p->lid;
	return p->lid >= 0;
}

static bool sm_lid_value(const struct ibup_port *p, double *ret)
{
	*ret = (double)p->sm_lid;
	return p->sm_lid >= 0;
}

/*
 * A counter and where it comes from. The PMA's counters/ files have the widths of the
 * IB spec's PortCounters (drivers/infiniband/core/sysfs.c PORT_PMA_ATTR); with the
 * extended-width capability the kernel takes the data and packet counters from the
 * 64-bit PortCountersExtended instead, and only then adds the unicast and multicast
 * packet counters, whose presence is how that is told. Driver hw_counters/ are 64-bit
 * ("%llu") and are preferred where one counts the same thing.
 */
struct counter_def {
	const char *metric;
	const char *help;
	const char *pma; /* the counters/ file */
	unsigned width; /* its width in the basic PortCounters (64: extended only) */
	bool extended; /* 64 bits when the PMA has the extended counters */
	unsigned scale; /* the data counters count 4-byte words */
	const char *hw; /* a hw_counters/ file that counts the same, or NULL */
};

static const struct counter_def counter_defs[] = {
	{ "ibup_port_transmit_bytes_total",
	  "Bytes transmitted on the port, all VLs (counters/port_xmit_data x 4: the kernel "
	  "counts 4-byte words).",
	  "port_xmit_data", 32, true, 4, NULL },
	{ "ibup_port_receive_bytes_total",
	  "Bytes received on the port, all VLs (counters/port_rcv_data x 4: the kernel counts "
	  "4-byte words).",
	  "port_rcv_data", 32, true, 4, NULL },
	{ "ibup_port_transmit_packets_total",
	  "Packets transmitted on the port (counters/port_xmit_packets, or the driver's "
	  "sent_pkts).",
	  "port_xmit_packets", 32, true, 1, "sent_pkts" },
	{ "ibup_port_receive_packets_total",
	  "Packets received on the port (counters/port_rcv_packets, or the driver's "
	  "rcvd_pkts).",
	  "port_rcv_packets", 32, true, 1, "rcvd_pkts" },
	{ "ibup_port_unicast_transmit_packets_total",
	  "Unicast packets transmitted (counters/unicast_xmit_packets).",
	  "unicast_xmit_packets", 64, true, 1, NULL },
	{ "ibup_port_unicast_receive_packets_total",
	  "Unicast packets received (counters/unicast_rcv_packets).",
	  "unicast_rcv_packets", 64, true, 1, NULL },
	{ "ibup_port_multicast_transmit_packets_total",
	  "Multicast packets transmitted (counters/multicast_xmit_packets).",
	  "multicast_xmit_packets", 64, true, 1, NULL },
	{ "ibup_port_multicast_receive_packets_total",
	  "Multicast packets received (counters/multicast_rcv_packets).",
	  "multicast_rcv_packets", 64, true, 1, NULL },
	{ "ibup_port_symbol_errors_total",
	  "Minor link errors detected on one or more physical lanes (counters/symbol_error).",
	  "symbol_error", 16, false, 1, NULL },
	{ "ibup_port_receive_errors_total",
	  "Packets received with errors (counters/port_rcv_errors).", "port_rcv_errors",
	  16, false, 1, NULL },
	{ "ibup_port_receive_remote_physical_errors_total",
	  "Packets received marked with the EBP delimiter "
	  "(counters/port_rcv_remote_physical_errors).",
	  "port_rcv_remote_physical_errors", 16, false, 1, NULL },
	{ "ibup_port_receive_switch_relay_errors_total",
	  "Packets received that the port could not forward "
	  "(counters/port_rcv_switch_relay_errors).",
	  "port_rcv_switch_relay_errors", 16, false, 1, NULL },
	{ "ibup_port_transmit_discards_total",
	  "Outbound packets discarded because the port was down or congested "
	  "(counters/port_xmit_discards).",
	  "port_xmit_discards", 16, false, 1, NULL },
	{ "ibup_port_vl15_dropped_total",
	  "Incoming VL15 (subnet management) packets dropped for lack of buffers "
	  "(counters/VL15_dropped).",
	  "VL15_dropped", 16, false, 1, NULL },
	{ "ibup_port_link_error_recovery_total",
	  "Times the link error recovery process completed successfully "
	  "(counters/link_error_recovery).",
	  "link_error_recovery", 8, false, 1, NULL },
	{ "ibup_port_link_downed_total",
	  "Times the link error recovery process failed and the link went down "
	  "(counters/link_downed, or the driver's link_downed).",
	  "link_downed", 8, false, 1, "link_downed" },
	{ "ibup_port_transmit_constraint_errors_total",
	  "Packets not transmitted because of partition or rate constraints "
	  "(counters/port_xmit_constraint_errors).",
	  "port_xmit_constraint_errors", 8, false, 1, NULL },
	{ "ibup_port_receive_constraint_errors_total",
	  "Packets received and discarded because of partition or rate constraints "
	  "(counters/port_rcv_constraint_errors).",
	  "port_rcv_constraint_errors", 8, false, 1, NULL },
	{ "ibup_port_local_link_integrity_errors_total",
	  "Times the local physical errors exceeded the threshold "
	  "(counters/local_link_integrity_errors).",
	  "local_link_integrity_errors", 4, false, 1, NULL },
	{ "ibup_port_excessive_buffer_overrun_errors_total",
	  "Times consecutive flow-control update periods had buffer overruns "
	  "(counters/excessive_buffer_overrun_errors).",
	  "excessive_buffer_overrun_errors", 4, false, 1, NULL },
	{ "ibup_port_transmit_wait_total",
	  "Ticks during which the port had data to send but no flow-control credits "
	  "(counters/port_xmit_wait; the tick is the hardware's sampling interval).",
	  "port_xmit_wait", 32, false, 1, NULL },
};

static const struct ibup_counter *find_counter(const struct ibup_counter *v, unsigned n,
					       const char *name)
{
	for (unsigned i = 0; name && i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* The PMA has PortCountersExtended: the kernel then adds the unicast counters. */
static bool pma_extended(const struct ibup_port *p)
{
	return find_counter(p->counters, p->n_counters, "unicast_xmit_packets") ||
	       find_counter(p->counters, p->n_counters, "unicast_rcv_packets");
}

/* Where counter @c of @p comes from: a value, its width, and the file's name. */
struct source {
	uint64_t value;
	unsigned width;
	const char *file;
};

static bool counter_source(const struct counter_def *c, const struct ibup_port *p,
			   struct source *ret)
{
	const struct ibup_counter *v =
		find_counter(p->hw_counters, p->n_hw_counters, c->hw);

	if (v) {
		*ret = (struct source){ v->value, 64, v->name };
		return true;
	}
	v = find_counter(p->counters, p->n_counters, c->pma);
	if (!v)
		return false;
	*ret = (struct source){ v->value, c->extended && pma_extended(p) ? 64 : c->width,
				v->name };
	return true;
}

static bool saturated(const struct source *s)
{
	return s->width < 64 && s->value == (UINT64_C(1) << s->width) - 1;
}

static void counter_families(struct out *o, const struct ibup_status *st)
{
	struct family sat = {
		"ibup_port_pma_saturated", "gauge",
		"1 when a narrow PMA counter (4, 8, 16 or 32 bits wide) is stuck at all ones, "
		"as the IB spec has it stop: its _total sample is then left out, since it no "
		"longer counts; 0 otherwise. Reset the port's counters to resume counting.",
		false
	};

	for (size_t c = 0; c < IBUP_ARRAY_SIZE(counter_defs); c++) {
		const struct counter_def *def = &counter_defs[c];
		struct family fam = { def->metric, "counter", def->help, false };

		for (unsigned i = 0; i < st->n_devices; i++) {
			const struct ibup_device *d = &st->devices[i];

			for (unsigned j = 0; j < d->n_ports; j++) {
				struct source s;

				if (!counter_source(def, &d->ports[j], &s) ||
				    saturated(&s))
					continue;
				sample(o, &fam);
				port_labels(o, d, &d->ports[j]);
				if (s.value > UINT64_MAX / def->scale)
					end_double(o, (double)s.value * def->scale);
				else
					end_u64(o, s.value * def->scale);
			}
		}
	}
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned j = 0; j < d->n_ports; j++) {
			for (size_t c = 0; c < IBUP_ARRAY_SIZE(counter_defs); c++) {
				struct source s;

				if (!counter_source(&counter_defs[c], &d->ports[j], &s) ||
				    s.width >= 64)
					continue;
				sample(o, &sat);
				port_labels(o, d, &d->ports[j]);
				label(o, "counter", s.file);
				end_u64(o, saturated(&s));
			}
		}
	}
}

static void hw_counter_family(struct out *o, const struct ibup_status *st)
{
	struct family fam = {
		"ibup_port_hw_events_total", "counter",
		"The driver's own 64-bit port counters (hw_counters/), by the kernel's name "
		"in the counter label; their meaning is the driver's (mlx5, rxe).",
		false
	};

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned j = 0; j < d->n_ports; j++) {
			const struct ibup_port *p = &d->ports[j];

			for (unsigned k = 0; k < p->n_hw_counters; k++) {
				sample(o, &fam);
				port_labels(o, d, p);
				label(o, "counter", p->hw_counters[k].name);
				end_u64(o, p->hw_counters[k].value);
			}
		}
	}
}

static void info_families(struct out *o, const struct ibup_status *st,
			  const struct ibup_check_report *rep)
{
	const struct ibup_platform *pl = &st->platform;
	struct family node = { "ibup_node_info", "gauge",
			       "The node: VM size, its family, OS and kernel; always 1.",
			       false };
	struct family dev = {
		"ibup_device_info", "gauge",
		"An RDMA device: its kind (decided from facts, not names), driver, firmware, "
		"HCA type, node GUID and PCI address; always 1.",
		false
	};
	struct family port = {
		"ibup_port_info", "gauge",
		"A port: link layer, width, speed, tenant partition key and network interface; "
		"always 1.",
		false
	};

	sample(o, &node);
	label(o, "vm_size", pl->vm_size);
	label(o, "family", rep && rep->expect_found ? rep->expect.family : NULL);
	label(o, "os_id", pl->os_id);
	label(o, "os_version", pl->os_version);
	label(o, "kernel", pl->kernel);
	end_u64(o, 1);

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		sample(o, &dev);
		label(o, "device", d->name);
		label(o, "kind", ibup_device_kind_name(d->kind));
		label(o, "driver", d->driver);
		label(o, "fw_ver", d->fw_ver);
		label(o, "hca_type", d->hca_type);
		label(o, "node_guid", d->node_guid);
		label(o, "pci_address", d->pci_address);
		end_u64(o, 1);
	}
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];

		for (unsigned j = 0; j < d->n_ports; j++) {
			const struct ibup_port *p = &d->ports[j];
			char pkey[16] = "";

			if (p->tenant_pkey >= 0)
				snprintf(pkey, sizeof(pkey), "0x%04x",
					 (unsigned)p->tenant_pkey);
			sample(o, &port);
			port_labels(o, d, p);
			label(o, "link_layer", ibup_link_layer_name(p->link_layer));
			label(o, "width", p->width);
			label(o, "speed", p->speed);
			label(o, "tenant_pkey", pkey);
			label(o, "netdev", p->netdev);
			end_u64(o, 1);
		}
	}
}

static void port_families(struct out *o, const struct ibup_status *st)
{
	struct family state = {
		"ibup_port_state", "gauge",
		"Logical port state, the kernel's number: 0 nop, 1 down, 2 init, 3 armed, "
		"4 active, 5 active_defer.",
		false
	};
	struct family phys = {
		"ibup_port_physical_state", "gauge",
		"Physical port state, the kernel's number: 0 unknown, 1 sleep, 2 polling, "
		"3 disabled, 4 port_configuration_training, 5 link_up, 6 link_error_recovery, "
		"7 phy_test.",
		false
	};
	struct family rate = {
		"ibup_port_rate_bytes_per_second", "gauge",
		"Link data rate in bytes per second (the kernel's Gb/sec x 10^9 / 8: "
		"200 Gb/sec is 2.5e10), the base unit of the byte counters, so that "
		"rate(ibup_port_transmit_bytes_total[1m]) / this is the link's utilisation.",
		false
	};
	struct family lid = {
		"ibup_port_lid", "gauge",
		"The port's local identifier (InfiniBand; 0 until the subnet "
		"manager assigns one).",
		false
	};
	struct family sm_lid = { "ibup_port_sm_lid", "gauge",
				 "The local identifier of the port's subnet manager "
				 "(InfiniBand).",
				 false };

	port_family(o, st, &state, port_state_value);
	port_family(o, st, &phys, phys_state_value);
	port_family(o, st, &rate, rate_value);
	port_family(o, st, &lid, lid_value);
	port_family(o, st, &sm_lid, sm_lid_value);
}

/* hwmon/hwmonN/tempM_input of the device's PCI function (mlx5 on recent kernels). */
static int temperature_family(struct out *o, const struct ibup_status *st)
{
	struct family fam = {
		"ibup_device_temperature_celsius", "gauge",
		"Temperature the HCA reports through hwmon under its PCI device, in degrees "
		"Celsius, by hwmon sensor (its label when it has one).",
		false
	};

	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];
		_cleanup_close_ int fd = -1;
		char **mons = NULL;
		unsigned n_mons = 0;
		int r;

		if (!d->pci_address)
			continue;
		fd = ibup_open_dir(o->ctx, "sys/class/infiniband/%s/device/hwmon",
				   d->name);
		if (fd < 0)
			continue;
		r = ibup_list_dir_logged(o->ctx, fd, HWMON_MAX, &mons, &n_mons,
					 "sys/class/infiniband/%s/device/hwmon", d->name);
		if (r < 0)
			return r;
		for (unsigned m = 0; m < n_mons; m++) {
			_cleanup_close_ int mfd = ibup_open_dir_at(fd, mons[m]);
			char **files = NULL;
			unsigned n_files = 0;

			if (mfd < 0 || strncmp(mons[m], "hwmon", 5) != 0)
				continue;
			r = ibup_list_dir_logged(
				o->ctx, mfd, HWMON_FILES_MAX, &files, &n_files,
				"sys/class/infiniband/%s/device/hwmon/%s", d->name,
				mons[m]);
			if (r < 0) {
				ibup_strv_free(mons, n_mons);
				return r;
			}
			for (unsigned k = 0; k < n_files; k++) {
				char buf[64], sensor[64], name[80];
				unsigned idx;
				int32_t milli;
				int len = 0;

				if (sscanf(files[k], "temp%u_input%n", &idx, &len) != 1 ||
				    (size_t)len != strlen(files[k]) ||
				    ibup_read_attr_at(mfd, buf, sizeof(buf), files[k]) <
					    0 ||
				    ibup_parse_i32(buf, &milli) < 0)
					continue;
				snprintf(name, sizeof(name), "temp%u_label", idx);
				if (ibup_read_attr_at(mfd, sensor, sizeof(sensor), name) <
					    0 ||
				    !*sensor)
					snprintf(sensor, sizeof(sensor), "temp%u", idx);
				ibup_sanitize(sensor);
				sample(o, &fam);
				label(o, "device", d->name);
				label(o, "kind", ibup_device_kind_name(d->kind));
				label(o, "sensor", sensor);
				end_double(o, milli / 1000.0);
			}
			ibup_strv_free(files, n_files);
		}
		ibup_strv_free(mons, n_mons);
	}
	return 0;
}

static void ipoib_families(struct out *o, const struct ibup_status *st)
{
	struct family info = {
		"ibup_ipoib_info", "gauge",
		"An IPoIB interface: the RDMA port it runs on, its mode and "
		"partition key; always 1.",
		false
	};
	struct family up = {
		"ibup_ipoib_up", "gauge",
		"1 when the IPoIB interface's operational state is up, 0 otherwise.",
		false
	};
	struct family mtu = { "ibup_ipoib_mtu_bytes", "gauge",
			      "The IPoIB interface's MTU in bytes.", false };

	for (unsigned i = 0; i < st->n_ipoib; i++) {
		const struct ibup_ipoib *v = &st->ipoib[i];
		char port[16] = "", pkey[16] = "";

		if (v->port)
			snprintf(port, sizeof(port), "%u", v->port);
		if (v->pkey >= 0)
			snprintf(pkey, sizeof(pkey), "0x%04x", (unsigned)v->pkey);
		sample(o, &info);
		label(o, "netdev", v->name);
		label(o, "device", v->device);
		label(o, "port", port);
		label(o, "mode", v->mode);
		label(o, "pkey", pkey);
		end_u64(o, 1);
	}
	for (unsigned i = 0; i < st->n_ipoib; i++) {
		const struct ibup_ipoib *v = &st->ipoib[i];

		if (!v->operstate)
			continue;
		sample(o, &up);
		label(o, "netdev", v->name);
		end_u64(o, strcmp(v->operstate, "up") == 0);
	}
	for (unsigned i = 0; i < st->n_ipoib; i++) {
		const struct ibup_ipoib *v = &st->ipoib[i];

		if (v->mtu < 0)
			continue;
		sample(o, &mtu);
		label(o, "netdev", v->name);
		end_u64(o, (uint64_t)v->mtu);
	}
}

static bool same_check(const struct ibup_check *a, const struct ibup_check *b)
{
	return strcmp(a->id, b->id) == 0 &&
	       strcmp(a->subject ? a->subject : "", b->subject ? b->subject : "") == 0;
}

static void check_families(struct out *o, const struct ibup_check_report *rep)
{
	struct family verdict = {
		"ibup_check_verdict", "gauge",
		"The verdict of one of ibup check's checks on its subject: 0 fail, 1 warn, "
		"2 pass, 3 skip (below 2 is a problem; see `ibup check` for the fix).",
		false
	};
	struct family results = { "ibup_check_results", "gauge",
				  "How many checks gave each verdict.", false };
	struct family fabric = { "ibup_fabric_present", "gauge",
				 "1 when the node has an InfiniBand device.", false };
	struct family ready = {
		"ibup_node_ready", "gauge",
		"1 when the node has an InfiniBand fabric and no check failed (ready for MPI "
		"over InfiniBand), 0 otherwise.",
		false
	};
	unsigned n[4] = { 0 };

	for (unsigned i = 0; i < rep->n; i++) {
		const struct ibup_check *c = &rep->checks[i];
		enum ibup_verdict v = c->verdict;
		bool dup = false;

		n[c->verdict]++;
		/* One series per check and subject: a repeated pair gives its worst. */
		for (unsigned k = 0; k < i && !dup; k++)
			dup = same_check(&rep->checks[k], c);
		if (dup)
			continue;
		for (unsigned k = i + 1; k < rep->n; k++)
			if (same_check(&rep->checks[k], c) && rep->checks[k].verdict < v)
				v = rep->checks[k].verdict;
		sample(o, &verdict);
		label(o, "check", c->id);
		label(o, "subject", c->subject);
		end_u64(o, v);
	}
	for (int v = IBUP_FAIL; v <= IBUP_SKIP; v++) {
		sample(o, &results);
		label(o, "verdict", ibup_verdict_name(v));
		end_u64(o, n[v]);
	}
	sample(o, &fabric);
	end_u64(o, rep->fabric);
	sample(o, &ready);
	end_u64(o, rep->fabric && n[IBUP_FAIL] == 0);
}

int ibup_metrics_render(struct ibup_ctx *ctx, const struct ibup_status *st,
			const struct ibup_check_report *rep, char **ret_text,
			size_t *ret_len)
{
	struct out o = { .ctx = ctx };
	char *text = NULL;
	size_t len = 0;
	int r;

	o.f = open_memstream(&text, &len);
	if (!o.f)
		return -ENOMEM;
	info_families(&o, st, rep);
	port_families(&o, st);
	counter_families(&o, st);
	hw_counter_family(&o, st);
	r = temperature_family(&o, st);
	ipoib_families(&o, st);
	if (rep)
		check_families(&o, rep);
	if (fclose(o.f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(text);
		return r;
	}
	*ret_text = text;
	*ret_len = len;
	return 0;
}

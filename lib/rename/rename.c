// SPDX-License-Identifier: MIT
/*
 * `ibup rename`: persistent RDMA device names. Azure's images name the fabric mlx5_ib<N>
 * and the Accelerated Networking NIC mlx5_an<N> with a monitor that polls every minute
 * and a rename tool built from rdma-core's source; here the names come from the device
 * kinds the inventory decided from facts, numbered in PCI order, and the renames are
 * RDMA netlink requests (RDMA_NLDEV_CMD_SET) carried out by the plan executor.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ibup/plan.h"
#include "ibup/rename.h"
#include "internal.h"
#include "banned.h"

#define RULE_PATH "etc/udev/rules.d/60-ibup-rename.rules"
#define NAME_MAX_LEN 63 /* IB_DEVICE_NAME_MAX - 1 */

static bool valid_name(const char *s, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN || *s == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
			    s[i]))
			return false;
	/* The kernel treats a '%' as a pattern; none of ours has one, and no "." names. */
	return true;
}

static bool valid_pci(const char *s, size_t len)
{
	unsigned dom, bus, dev, fn;
	int used = 0;
	char buf[32];

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return sscanf(buf, "%x:%x:%x.%x%n", &dom, &bus, &dev, &fn, &used) == 4 &&
	       (size_t)used == len && bus < 256 && dev < 32 && fn < 8;
}

void ibup_rename_scheme_release(struct ibup_rename_scheme *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		free(s->rules[i].key);
		free(s->rules[i].name);
	}
	free(s->rules);
	*s = (struct ibup_rename_scheme){ 0 };
}

static int scheme_error(struct ibup_rename_scheme *s, struct ibup_diag *d, unsigned line,
			const char *msg)
{
	ibup_rename_scheme_release(s);
	if (d) {
		*d = (struct ibup_diag){ .line = line };
		snprintf(d->msg, sizeof(d->msg), "%s", msg);
	}
	return -EBADMSG;
}

int ibup_rename_scheme_parse(const char *text, struct ibup_rename_scheme *ret,
			     struct ibup_diag *reterr_diag)
{
	struct ibup_rename_scheme s = { 0 };
	unsigned line = 0;

	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n'), *end = eol ? eol : p + strlen(p);
		const char *k, *ke, *n, *ne;
		struct ibup_rename_rule *v;

		line++;
		k = p;
		while (k < end && (*k == ' ' || *k == '\t'))
			k++;
		p = eol ? eol + 1 : NULL;
		if (k == end || *k == '#')
			continue;
		for (ke = k; ke < end && *ke != ' ' && *ke != '\t'; ke++)
			;
		for (n = ke; n < end && (*n == ' ' || *n == '\t'); n++)
			;
		for (ne = n; ne < end && *ne != ' ' && *ne != '\t' && *ne != '#'; ne++)
			;
		if ((size_t)(ke - k) == 4 && strncmp(k, "only", 4) == 0 && n == end) {
			s.only = true;
			continue;
		}
		if (n == ne)
			return scheme_error(&s, reterr_diag, line, "expected 'KEY NAME'");
		for (const char *t = ne; t < end && *t != '#'; t++)
			if (*t != ' ' && *t != '\t' && *t != '\r')
				return scheme_error(&s, reterr_diag, line,
						    "more than 'KEY NAME' on the line");
		if (!valid_name(n, (size_t)(ne - n)))
			return scheme_error(
				&s, reterr_diag, line,
				"not a device name (1-63 of A-Z a-z 0-9 _ -)");
		if (!valid_pci(k, (size_t)(ke - k)) &&
		    !(ke - k > 5 && strncmp(k, "guid:", 5) == 0) &&
		    !(ke - k > 7 && strncmp(k, "netdev:", 7) == 0))
			return scheme_error(
				&s, reterr_diag, line,
				"the key is a PCI address, guid:GUID or netdev:NAME");
		if (s.n >= 4096)
			return scheme_error(&s, reterr_diag, line,
					    "more than 4096 rules");
		v = realloc(s.rules, (s.n + 1) * sizeof(*v));
		if (!v) {
			ibup_rename_scheme_release(&s);
			return -ENOMEM;
		}
		s.rules = v;
		v[s.n].key = strndup(k, (size_t)(ke - k));
		v[s.n].name = strndup(n, (size_t)(ne - n));
		s.n++;
		if (!v[s.n - 1].key || !v[s.n - 1].name) {
			ibup_rename_scheme_release(&s);
			return -ENOMEM;
		}
		for (char *c = v[s.n - 1].key; *c; c++)
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
	}
	*ret = s;
	return 0;
}

static const char *scheme_name(const struct ibup_rename_scheme *s,
			       const struct ibup_device *d)
{
	for (unsigned i = 0; s && i < s->n; i++) {
		const char *k = s->rules[i].key;

		if (d->pci_address && strcasecmp(k, d->pci_address) == 0)
			return s->rules[i].name;
		if (d->node_guid && strncmp(k, "guid:", 5) == 0 &&
		    strcasecmp(k + 5, d->node_guid) == 0)
			return s->rules[i].name;
		if (strncmp(k, "netdev:", 7) == 0)
			for (unsigned p = 0; p < d->n_ports; p++)
				if (d->ports[p].netdev &&
				    strcmp(k + 7, d->ports[p].netdev) == 0)
					return s->rules[i].name;
	}
	return NULL;
}

static uint64_t pci_order(const char *pci)
{
	unsigned dom, bus, dev, fn;

	if (!pci || sscanf(pci, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		return UINT64_MAX;
	return (uint64_t)dom << 32 | (uint64_t)bus << 16 | (uint64_t)dev << 8 | fn;
}

/* The position of device @i among the devices of its kind, in PCI order. */
static unsigned rank_of(const struct ibup_status *st, unsigned i)
{
	const struct ibup_device *d = &st->devices[i];
	uint64_t key = pci_order(d->pci_address);
	unsigned rank = 0;

	for (unsigned j = 0; j < st->n_devices; j++) {
		const struct ibup_device *e = &st->devices[j];
		uint64_t ek = pci_order(e->pci_address);

		/* Ties (no PCI address) go by the inventory's order, which is by name. */
		if (j != i && e->kind == d->kind && (ek < key || (ek == key && j < i)))
			rank++;
	}
	return rank;
}

void ibup_rename_targets_free(struct ibup_rename_target *t, unsigned n)
{
	for (unsigned i = 0; t && i < n; i++)
		free(t[i].name);
	free(t);
}

_printf_(2, 3) static int collide(struct ibup_diag *d, const char *fmt, ...)
{
	va_list ap;

	if (d) {
		*d = (struct ibup_diag){ 0 };
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
		ibup_sanitize(d->msg);
	}
	return -EEXIST;
}

int ibup_rename_targets(const struct ibup_status *st,
			const struct ibup_rename_scheme *scheme,
			struct ibup_rename_target **ret, unsigned *ret_n,
			struct ibup_diag *reterr_diag)
{
	struct ibup_rename_target *t = calloc(st->n_devices + 1, sizeof(*t));
	unsigned n = 0;

	if (!t)
		return -ENOMEM;
	for (unsigned i = 0; i < st->n_devices; i++) {
		const struct ibup_device *d = &st->devices[i];
		const char *fixed = scheme_name(scheme, d);
		const char *prefix = d->kind == IBUP_KIND_INFINIBAND		   ? "ib"
				     : d->kind == IBUP_KIND_ACCELERATED_NETWORKING ? "an"
										   : NULL;
		/* The driver family names it: mlx5_ib0, and mlx4_ib0 for a ConnectX-3. */
		const char *family =
			d->driver && strncmp(d->driver, "mlx4", 4) == 0 ? "mlx4" : "mlx5";
		int r;

		if (fixed)
			r = asprintf(&t[n].name, "%s", fixed);
		else if (prefix && !(scheme && scheme->only))
			r = asprintf(&t[n].name, "%s_%s%u", family, prefix,
				     rank_of(st, i));
		else
			continue;
		if (r < 0) {
			ibup_rename_targets_free(t, n);
			return -ENOMEM;
		}
		t[n].device = d->name;
		t[n].pci = d->pci_address;
		t[n].why = fixed ? "the scheme's name"
			   : d->kind == IBUP_KIND_INFINIBAND
				   ? "InfiniBand, numbered in PCI order"
				   : "Accelerated Networking, numbered in PCI order";
		n++;
	}
	/* One name per device, and none taken from a device that keeps its own. */
	for (unsigned i = 0; i < n; i++) {
		for (unsigned j = i + 1; j < n; j++)
			if (strcmp(t[i].name, t[j].name) == 0) {
				int r = collide(reterr_diag,
						"'%s' and '%s' would both be '%s'",
						t[i].device, t[j].device, t[i].name);

				ibup_rename_targets_free(t, n);
				return r;
			}
		for (unsigned j = 0; j < st->n_devices; j++) {
			const char *other = st->devices[j].name;
			bool moves = false;

			if (strcmp(other, t[i].name) != 0 ||
			    strcmp(other, t[i].device) == 0)
				continue;
			for (unsigned k = 0; k < n; k++)
				moves |= strcmp(t[k].device, other) == 0;
			if (!moves) {
				int r = collide(
					reterr_diag,
					"'%s' cannot be '%s': '%s' has that name and keeps it",
					t[i].device, t[i].name, other);

				ibup_rename_targets_free(t, n);
				return r;
			}
		}
	}
	*ret = t;
	*ret_n = n;
	return 0;
}

static bool name_in_use(const struct ibup_status *st, const struct ibup_rename_target *t,
			unsigned n, const char *name)
{
	for (unsigned i = 0; i < st->n_devices; i++)
		if (strcmp(st->devices[i].name, name) == 0)
			return true;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return true;
	return false;
}

int ibup_rename_plan(struct ibup_ctx *ctx, const struct ibup_status *st,
		     const struct ibup_rename_scheme *scheme, const char *only_device,
		     struct ibup_plan **ret, struct ibup_diag *reterr_diag)
{
	struct ibup_rename_target *t = NULL;
	struct ibup_plan *plan = NULL;
	_cleanup_free_ char *command = NULL, **tmp = NULL;
	unsigned n = 0, n_tmp = 0, serial = 0;
	bool found = !only_device;
	int r;

	r = ibup_rename_targets(st, scheme, &t, &n, reterr_diag);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < st->n_devices && only_device; i++)
		found |= strcmp(st->devices[i].name, only_device) == 0;
	if (!found) {
		ibup_rename_targets_free(t, n);
		return -ENODEV;
	}
	if (asprintf(&command, "rename%s%s", only_device ? " --device " : "",
		     only_device ? only_device : "") < 0 ||
	    !(tmp = calloc(n + 1, sizeof(*tmp)))) {
		ibup_rename_targets_free(t, n);
		return -ENOMEM;
	}
	r = ibup_plan_new(ctx, command, &plan);
	for (unsigned i = 0; r >= 0 && i < n; i++) {
		ibup_plan_input(plan, t[i].device, t[i].name, strlen(t[i].name));
		if (strcmp(t[i].device, t[i].name) == 0)
			r = ibup_plan_note(plan, NULL, "unchanged %s", t[i].device);
	}
	/*
	 * Phase one: a device whose name another one is to get moves aside first, to a
	 * name nobody has or gets, so that no rename meets a name that is taken.
	 */
	for (unsigned i = 0; r >= 0 && i < n; i++) {
		bool needed = false;

		if (strcmp(t[i].device, t[i].name) == 0)
			continue;
		for (unsigned j = 0; j < n; j++)
			needed |= j != i && strcmp(t[j].name, t[i].device) == 0;
		if (!needed)
			continue;
		do {
			free(tmp[i]);
			if (asprintf(&tmp[i], "ibup_tmp%u", serial++) < 0) {
				tmp[i] = NULL;
				r = -ENOMEM;
			}
		} while (r >= 0 && name_in_use(st, t, n, tmp[i]));
		if (r >= 0)
			r = ibup_plan_rdma_rename(
				plan, t[i].device, tmp[i],
				"its name goes to another device: a temporary "
				"name first");
		n_tmp++;
	}
	for (unsigned i = 0; r >= 0 && i < n; i++) {
		if (strcmp(t[i].device, t[i].name) == 0)
			continue;
		/* With --device and nothing moved aside, only that device's rename. */
		if (only_device && !n_tmp && strcmp(t[i].device, only_device) != 0)
			continue;
		r = ibup_plan_rdma_rename(plan, tmp[i] ? tmp[i] : t[i].device, t[i].name,
					  t[i].why);
		if (r >= 0 && t[i].pci) {
			struct ibup_step *s = &plan->steps[plan->n - 1];
			char *why = NULL;

			if (asprintf(&why, "%s (PCI %s)", t[i].why, t[i].pci) < 0) {
				r = -ENOMEM;
				break;
			}
			free(s->why);
			s->why = why;
		}
	}
	for (unsigned i = 0; i < n; i++)
		free(tmp[i]);
	ibup_rename_targets_free(t, n);
	return ibup_plan_end(plan, r, ret);
}

int ibup_rename_rule_plan(struct ibup_ctx *ctx, bool enable, const char *exe,
			  const char *scheme_path, struct ibup_plan **ret)
{
	static const char *const reload[] = { "udevadm", "control", "--reload", NULL };
	_cleanup_free_ char *rule = NULL;
	struct ibup_plan *plan = NULL;
	int r;

	/* udev's RUN takes words split at spaces, and '%' and '$' are its substitutions. */
	if (strpbrk(exe, " \t\n\"'%$\\") ||
	    (scheme_path && strpbrk(scheme_path, " \t\n\"'%$\\")))
		return -EINVAL;
	r = ibup_plan_new(ctx, enable ? "rename --enable" : "rename --disable", &plan);
	if (r < 0)
		return r;
	if (enable) {
		if (asprintf(
			    &rule,
			    "# Written by 'ibup rename --enable'; removed by 'ibup rename "
			    "--disable'.\n"
			    "# Every RDMA device the kernel adds gets its persistent name.\n"
			    "ACTION==\"add\", SUBSYSTEM==\"infiniband\", RUN+=\"%s rename "
			    "--device %%k%s%s\"\n",
			    exe, scheme_path ? " --scheme " : "",
			    scheme_path ? scheme_path : "") < 0)
			r = -ENOMEM;
		if (r >= 0)
			r = ibup_plan_write_file(ctx, plan, RULE_PATH, rule, strlen(rule),
						 0644,
						 "name each RDMA device as it appears");
	} else {
		r = ibup_plan_remove_file(ctx, plan, RULE_PATH, "ibup's rename rule");
	}
	if (r > 0 && ibup_udevd_running(ctx))
		r = ibup_plan_run(plan, reload, NULL, 60000, NULL, 0,
				  "udev reads the changed rules");
	return ibup_plan_end(plan, r, ret);
}

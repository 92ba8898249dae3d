// SPDX-License-Identifier: MIT
/*
 * The driver stack: which RDMA kernel modules are loaded and where they come from
 * (inbox, DKMS, out of tree), the verbs and MAD ABI versions, MLNX_OFED or DOCA-OFED,
 * and the rdma-core release.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

/* Kernel modules that make up, or sit on, the RDMA stack. */
static const char *const rdma_modules[] = {
	"ib_cm",	  "ib_core",	"ib_ipoib",  "ib_iser",	 "ib_isert",
	"ib_srp",	  "ib_umad",	"ib_uverbs", "iw_cm",	 "mana",
	"mana_ib",	  "mlx4_core",	"mlx4_en",   "mlx4_ib",	 "mlx5_core",
	"mlx5_ib",	  "mlx_compat", "mlxdevm",   "mlxfw",	 "nv_peer_mem",
	"nvidia_peermem", "rdma_cm",	"rdma_rxe",  "rdma_ucm", "siw",
};

bool ibup_is_rdma_module(const char *name)
{
	for (size_t i = 0; i < IBUP_ARRAY_SIZE(rdma_modules); i++)
		if (strcmp(rdma_modules[i], name) == 0)
			return true;
	return false;
}

int ibup_parse_proc_modules_line(const char *line, char *name, size_t name_size,
				 bool *ret_out_of_tree, bool *ret_unsigned)
{
	const char *sp = strchr(line, ' ');
	const char *taint;
	size_t n;

	if (!sp || sp == line)
		return -EINVAL;
	n = (size_t)(sp - line);
	if (n >= name_size)
		return -EINVAL;
	memcpy(name, line, n);
	name[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return -EINVAL;
	*ret_out_of_tree = false;
	*ret_unsigned = false;
	/* "name size refcnt deps state addr [(taints)]": the taints come last, in parens. */
	taint = strrchr(line, '(');
	if (taint && strchr(taint, ')')) {
		for (const char *t = taint + 1; *t && *t != ')'; t++) {
			if (*t == 'O')
				*ret_out_of_tree = true;
			else if (*t == 'E')
				*ret_unsigned = true;
		}
	}
	return 0;
}

static int cmp_module(const void *a, const void *b)
{
	return strcmp(((const struct ibup_module *)a)->name,
		      ((const struct ibup_module *)b)->name);
}

/* Files read whole, with their bounds: a hostile root gets a warning, not our memory. */
#define PROC_MODULES_MAX (1024 * 1024)
#define MODULES_DEP_MAX (32 * 1024 * 1024)

/* The next line of a buffer, NUL-terminated in place; NULL at the end. */
static char *next_line(char **cursor)
{
	char *line = *cursor, *eol;

	if (!line || !*line)
		return NULL;
	eol = strchr(line, '\n');
	if (eol) {
		*eol = '\0';
		*cursor = eol + 1;
	} else {
		*cursor = NULL;
	}
	return line;
}

/* modprobe's view: modules.dep lines start "<path>.ko[.xz|.zst|.gz]:". */
static int find_module_paths(struct ibup_ctx *ctx, const char *kernel,
			     struct ibup_module *mods, unsigned n)
{
	_cleanup_free_ char *dep = NULL;
	char path[PATH_MAX], *cursor, *line;
	int r;

	snprintf(path, sizeof(path), "lib/modules/%s/modules.dep", kernel);
	r = ibup_read_file(ctx, path, MODULES_DEP_MAX, &dep, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (r != -ENOENT)
			ibup_warn(ctx, "cannot read '/%s': %s", path, strerror(-r));
		return 0;
	}
	cursor = dep;
	while ((line = next_line(&cursor))) {
		char *colon = strchr(line, ':'), *base, *ko;

		if (!colon)
			continue;
		*colon = '\0';
		base = strrchr(line, '/');
		base = base ? base + 1 : line;
		ko = strstr(base, ".ko");
		if (!ko)
			continue;
		*ko = '\0';
		for (char *c = base; *c; c++)
			if (*c == '-')
				*c = '_';
		for (unsigned i = 0; i < n; i++) {
			if (mods[i].path || strcmp(mods[i].name, base) != 0)
				continue;
			*ko = '.';
			mods[i].path = ibup_strdup_clean(line);
			if (!mods[i].path)
				return -ENOMEM;
			mods[i].dkms = strncmp(line, "updates/dkms/", 13) == 0;
			break;
		}
	}
	return 0;
}

static int read_modules(struct ibup_ctx *ctx, const char *kernel, struct ibup_drivers *d)
{
	_cleanup_free_ char *text = NULL;
	char *cursor, *line;
	int r;

	r = ibup_read_file(ctx, "proc/modules", PROC_MODULES_MAX, &text, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* A kernel without loadable modules has no /proc/modules: nothing to say. */
		if (r != -ENOENT)
			ibup_warn(ctx, "cannot read '/proc/modules': %s", strerror(-r));
		return 0;
	}
	d->modules_known = true;
	cursor = text;
	while ((line = next_line(&cursor))) {
		struct ibup_module *m;
		char name[64], buf[128];
		bool oot, unsig;

		if (ibup_parse_proc_modules_line(line, name, sizeof(name), &oot, &unsig) <
			    0 ||
		    !ibup_is_rdma_module(name))
			continue;
		m = realloc(d->modules, (d->n_modules + 1) * sizeof(*m));
		if (!m)
			return -ENOMEM;
		d->modules = m;
		m = &d->modules[d->n_modules];
		*m = (struct ibup_module){ .out_of_tree = oot,
					   .unsigned_module = unsig,
					   .dkms = IBUP_UNKNOWN };
		m->name = strdup(name);
		if (!m->name)
			return -ENOMEM;
		d->n_modules++;
		if (ibup_read_attr(ctx, buf, sizeof(buf), "sys/module/%s/version", name) >
		    0) {
			m->version = ibup_strdup_clean(buf);
			if (!m->version)
				return -ENOMEM;
		}
	}
	if (!d->n_modules)
		return 0;
	qsort(d->modules, d->n_modules, sizeof(*d->modules), cmp_module);
	return kernel ? find_module_paths(ctx, kernel, d->modules, d->n_modules) : 0;
}

static int64_t read_abi(struct ibup_ctx *ctx, const char *path)
{
	char buf[32];
	uint32_t v;

	if (ibup_read_attr(ctx, buf, sizeof(buf), "%s", path) < 0 ||
	    ibup_parse_u32(buf, 10, &v) < 0)
		return IBUP_UNKNOWN;
	return v;
}

int ibup_parse_ofed_info(const char *text, char **ret_flavor, char **ret_version)
{
	static const struct {
		const char *marker, *flavor;
	} kinds[] = {
		/* MLNX_OFED: "MLNX_OFED_LINUX-24.07-0.6.1.0:" */
		{ "MLNX_OFED_LINUX-", "mlnx_ofed" },
		/* DOCA-OFED (and NVIDIA's inbox packaging) report "OFED-internal-<ver>:" */
		{ "OFED-internal-", "doca_ofed" },
	};

	for (size_t k = 0; k < IBUP_ARRAY_SIZE(kinds); k++) {
		const char *p = strstr(text, kinds[k].marker), *v;
		size_t n = 0;

		if (!p)
			continue;
		v = p + strlen(kinds[k].marker);
		while (isdigit((unsigned char)v[n]) || v[n] == '.' || v[n] == '-')
			n++;
		while (n && (v[n - 1] == '.' || v[n - 1] == '-'))
			n--;
		if (!n || !isdigit((unsigned char)v[0]))
			continue;
		*ret_version = strndup(v, n);
		*ret_flavor = strdup(kinds[k].flavor);
		if (!*ret_version || !*ret_flavor) {
			free(*ret_version);
			free(*ret_flavor);
			return -ENOMEM;
		}
		return 0;
	}
	return -ENOENT;
}

/* ofed_info is a shell script with the release written into it: read, never run. */
static int read_ofed(struct ibup_ctx *ctx, struct ibup_drivers *d)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = ibup_read_file(ctx, "usr/bin/ofed_info", IBUP_CONF_MAX, &text, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	r = ibup_parse_ofed_info(text, &d->ofed_flavor, &d->ofed_version);
	return r == -ENOMEM ? r : 0;
}

int ibup_parse_libibverbs_name(const char *name, char **ret_version)
{
	/* libibverbs.so.1.<abi minor>.<rdma-core major>.<minor>, e.g. .so.1.14.44.0 */
	static const char prefix[] = "libibverbs.so.1.";
	const char *p, *dot;
	uint32_t a, b;
	char buf[32];

	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
		return -EINVAL;
	p = strchr(name + sizeof(prefix) - 1, '.');
	if (!p)
		return -EINVAL;
	p++;
	dot = strchr(p, '.');
	if (!dot || (size_t)(dot - p) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, p, (size_t)(dot - p));
	buf[dot - p] = '\0';
	if (ibup_parse_u32(buf, 10, &a) < 0 || ibup_parse_u32(dot + 1, 10, &b) < 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%u.%u", a, b);
	*ret_version = strdup(buf);
	return *ret_version ? 0 : -ENOMEM;
}

static int read_rdma_core(struct ibup_ctx *ctx, struct ibup_drivers *d)
{
	/* Where distributions put the library (Debian multiarch, RHEL/SLES lib64). */
	static const char *const dirs[] = {
		"usr/lib/x86_64-linux-gnu",
		"usr/lib/aarch64-linux-gnu",
		"usr/lib64",
		"usr/lib",
		"lib64",
		"lib/x86_64-linux-gnu",
		"lib/aarch64-linux-gnu",
	};

	for (size_t i = 0; i < IBUP_ARRAY_SIZE(dirs); i++) {
		_cleanup_close_ int fd = ibup_open_dir(ctx, "%s", dirs[i]);
		_cleanup_closedir_ DIR *dir = NULL;
		struct dirent *de;

		if (fd < 0)
			continue;
		dir = fdopendir(fd);
		if (!dir)
			continue;
		TAKE_FD(fd);
		while ((de = readdir(dir))) {
			int r = ibup_parse_libibverbs_name(de->d_name,
							   &d->rdma_core_version);

			if (r == -ENOMEM)
				return r;
			if (r == 0)
				return 0;
		}
	}
	return 0;
}

int ibup_drivers_read(struct ibup_ctx *ctx, const char *kernel, struct ibup_drivers *ret)
{
	struct ibup_drivers d = { .uverbs_abi_version = IBUP_UNKNOWN,
				  .umad_abi_version = IBUP_UNKNOWN };
	int r;

	r = read_modules(ctx, kernel, &d);
	if (r >= 0) {
		d.uverbs_abi_version =
			read_abi(ctx, "sys/class/infiniband_verbs/abi_version");
		d.umad_abi_version =
			read_abi(ctx, "sys/class/infiniband_mad/abi_version");
		r = read_ofed(ctx, &d);
	}
	if (r >= 0)
		r = read_rdma_core(ctx, &d);
	if (r < 0) {
		ibup_drivers_release(&d);
		return r;
	}
	*ret = d;
	return 0;
}

void ibup_drivers_release(struct ibup_drivers *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->n_modules; i++) {
		free(d->modules[i].name);
		free(d->modules[i].version);
		free(d->modules[i].path);
	}
	free(d->modules);
	free(d->ofed_flavor);
	free(d->ofed_version);
	free(d->rdma_core_version);
	memset(d, 0, sizeof(*d));
}

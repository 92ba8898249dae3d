// SPDX-License-Identifier: MIT
/*
 * What the next boot holds: whether the kernel will refuse unsigned modules (Secure
 * Boot as the kernel enforces it, not only the firmware's variable) and whether every
 * newer installed kernel has the out-of-tree RDMA modules loaded now. `check` judges
 * them; `install` plans by them.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

#define EFI_VARS "sys/firmware/efi/efivars"
#define SECURE_BOOT_VAR EFI_VARS "/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
/* shim's runtime copy of MokSBState: present and 1 when MOK validation is disabled. */
#define MOK_SB_STATE_VAR EFI_VARS "/MokSBStateRT-605dab50-e046-4300-abb6-3dd810dd8b23"
#define LOCKDOWN "sys/kernel/security/lockdown"
#define SIG_ENFORCE "sys/module/module/parameters/sig_enforce"
#define MODULES_DEP_MAX (32 * 1024 * 1024)

/* An efivarfs boolean: 4 bytes of attributes, then the value. 1, 0, or UNKNOWN. */
static int efi_bool(struct ibup_ctx *ctx, const char *path)
{
	_cleanup_free_ char *v = NULL;
	size_t len = 0;

	if (ibup_read_file(ctx, path, 64, &v, &len) < 0 || len < 5)
		return IBUP_UNKNOWN;
	return v[4] == 1;
}

static void read_secure_boot(struct ibup_ctx *ctx, struct ibup_secure_boot *sb)
{
	char buf[256];
	char *open, *close;

	*sb = (struct ibup_secure_boot){ .enabled = IBUP_UNKNOWN,
					 .validation_off = IBUP_UNKNOWN,
					 .sig_enforce = IBUP_UNKNOWN };
	sb->efi = ibup_path_exists(ctx, EFI_VARS) > 0;
	if (sb->efi) {
		sb->enabled = efi_bool(ctx, SECURE_BOOT_VAR);
		/* No MokSBStateRT: shim validates (or there is no shim). */
		sb->validation_off = ibup_path_exists(ctx, MOK_SB_STATE_VAR) > 0
					     ? efi_bool(ctx, MOK_SB_STATE_VAR)
					     : 0;
	}
	/* "none [integrity] confidentiality": the bracketed one is in force. */
	if (ibup_read_attr(ctx, buf, sizeof(buf), LOCKDOWN) >= 0 &&
	    (open = strchr(buf, '[')) && (close = strchr(open, ']'))) {
		*close = '\0';
		sb->lockdown = ibup_strdup_clean(open + 1);
	}
	if (ibup_read_attr(ctx, buf, sizeof(buf), SIG_ENFORCE) >= 0)
		sb->sig_enforce = buf[0] == 'Y' || buf[0] == '1';
	/*
	 * The kernel's own state decides when it can be read: module.sig_enforce, or a
	 * lockdown (Secure Boot turns it on in distribution kernels) refuses unsigned
	 * modules. Without it, the firmware's state, unless shim's validation is off.
	 */
	if (sb->sig_enforce != IBUP_UNKNOWN || sb->lockdown)
		sb->enforcing = sb->sig_enforce == 1 ||
				(sb->lockdown && strcmp(sb->lockdown, "none") != 0);
	else
		sb->enforcing = sb->enabled == 1 && sb->validation_off != 1;
}

/* The out-of-tree RDMA modules loaded now that kernel @k's modules.dep lacks. */
static int kernel_lacks(struct ibup_ctx *ctx, const char *k,
			const struct ibup_drivers *dr, char **ret_missing)
{
	_cleanup_free_ char *dep = NULL;
	char path[PATH_MAX], missing[512] = "";
	size_t off = 0;
	int r;

	snprintf(path, sizeof(path), "lib/modules/%s/modules.dep", k);
	r = ibup_read_file(ctx, path, MODULES_DEP_MAX, &dep, NULL);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < dr->n_modules; i++) {
		char pat[96];
		size_t plen;
		bool found = false;

		if (dr->modules[i].out_of_tree != 1)
			continue;
		plen = (size_t)snprintf(pat, sizeof(pat), "%s.ko", dr->modules[i].name);
		for (const char *p = dep; p && *p && !found;) {
			const char *eol = strchr(p, '\n');
			size_t len = eol ? (size_t)(eol - p) : strlen(p);
			const char *colon = memchr(p, ':', len), *base;

			/* Out-of-tree builds live outside kernel/: updates/, extra/. */
			if (colon && strncmp(p, "kernel/", 7) != 0) {
				base = memrchr(p, '/', (size_t)(colon - p));
				base = base ? base + 1 : p;
				found = (size_t)(colon - base) >= plen &&
					strncmp(base, pat, plen) == 0;
			}
			p = eol ? eol + 1 : NULL;
		}
		if (!found && off < sizeof(missing))
			off += (size_t)snprintf(missing + off, sizeof(missing) - off,
						"%s%s", off ? " " : "",
						dr->modules[i].name);
	}
	*ret_missing = strdup(missing);
	return *ret_missing ? 0 : -ENOMEM;
}

int ibup_boot_read(struct ibup_ctx *ctx, const char *running,
		   const struct ibup_drivers *dr, struct ibup_boot *ret)
{
	_cleanup_close_ int fd = -1;
	char **names = NULL;
	unsigned n = 0;
	int r;

	*ret = (struct ibup_boot){ 0 };
	read_secure_boot(ctx, &ret->secure_boot);
	for (unsigned i = 0; i < dr->n_modules; i++)
		ret->n_out_of_tree += dr->modules[i].out_of_tree == 1;
	if (!running || !dr->modules_known)
		return 0;
	fd = ibup_open_dir(ctx, "lib/modules");
	if (fd < 0)
		return 0;
	r = ibup_list_dir_logged(ctx, fd, IBUP_MAX_DEVICES, &names, &n, "lib/modules");
	if (r < 0)
		return r;
	ret->newer_known = true;
	ret->newer = calloc(n + 1, sizeof(*ret->newer));
	if (!ret->newer) {
		ibup_strv_free(names, n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		struct ibup_next_kernel *k = &ret->newer[ret->n_newer];

		if (strverscmp(names[i], running) <= 0)
			continue;
		k->kernel = ibup_strdup_clean(names[i]);
		if (!k->kernel) {
			ibup_strv_free(names, n);
			return -ENOMEM;
		}
		ret->n_newer++;
		r = kernel_lacks(ctx, names[i], dr, &k->missing);
		if (r == -ENOMEM) {
			ibup_strv_free(names, n);
			return r;
		}
	}
	ibup_strv_free(names, n);
	return 0;
}

void ibup_boot_release(struct ibup_boot *b)
{
	for (unsigned i = 0; i < b->n_newer; i++) {
		free(b->newer[i].kernel);
		free(b->newer[i].missing);
	}
	free(b->newer);
	free(b->secure_boot.lockdown);
	*b = (struct ibup_boot){ 0 };
}

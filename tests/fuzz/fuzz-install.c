// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: what `ibup install` reads from files it does not own. The input is
 * tried as an os-release (a supported distribution must have a key and a package
 * manager; anything else is refused with what was detected) and as a manifest (a row
 * accepted must carry a stack, an http(s) URL, a valid or null SHA-256 and a source, and
 * be found again by its own keys).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ibup/install.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ibup_diag diag = { 0 };
	struct ibup_distro d;
	struct ibup_manifest m;
	char *text = malloc(size + 1);
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = ibup_distro_parse(text, &d, &diag);
	if (r == 0) {
		if (!*d.key || !d.family || !d.id || !d.version)
			abort();
		ibup_distro_release(&d);
	} else if (r != -EPROTONOSUPPORT && r != -EBADMSG && r != -ENOMEM) {
		abort();
	}
	r = ibup_manifest_parse(text, "fuzz", &m, &diag);
	if (r == 0) {
		for (unsigned i = 0; i < m.n; i++) {
			const struct ibup_manifest_row *row = &m.rows[i];

			if ((row->stack != IBUP_STACK_DOCA &&
			     row->stack != IBUP_STACK_MOFED) ||
			    (strncmp(row->url, "http://", 7) != 0 &&
			     strncmp(row->url, "https://", 8) != 0) ||
			    (row->sha256 && strlen(row->sha256) != 64) || !row->source ||
			    !ibup_manifest_find(&m, row->distro, row->arch, row->stack,
						row->version, NULL))
				abort();
		}
		ibup_manifest_release(&m);
	} else if (r != -EBADMSG && r != -ENOMEM) {
		abort();
	}
	free(text);
	return 0;
}

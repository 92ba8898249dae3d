// SPDX-License-Identifier: MIT
/*
 * waagent-conf-value FILE KEY...: print, one line per KEY, how ibup reads KEY in the
 * waagent.conf FILE, "KEY=<value>|switch" (switch: y, n or -), or "KEY absent|switch",
 * or "not utf-8". test-waagent-agent.py compares this with the agent's own reader.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

int main(int argc, char **argv)
{
	_cleanup_free_ char *text = NULL;
	struct ibup_ctx *ctx = NULL;
	int r;

	if (argc < 3 || ibup_ctx_new("/", &ctx) < 0)
		return 2;
	/* Paths are relative to the root, "/" here. */
	r = ibup_read_file(ctx, argv[1] + (argv[1][0] == '/'), IBUP_CONF_MAX, &text,
			   NULL);
	ibup_ctx_free(ctx);
	if (r < 0)
		return 2;
	for (int i = 2; i < argc; i++) {
		_cleanup_free_ char *v = NULL;
		int sw = ibup_waagent_conf_switch(text, argv[i], -1);

		r = ibup_waagent_conf_value(text, argv[i], &v);
		if (r == -EILSEQ) {
			puts("not utf-8");
			continue;
		}
		if (r == 0)
			printf("%s=<%s>|%s\n", argv[i], v,
			       sw == 1	 ? "y"
			       : sw == 0 ? "n"
					 : "-");
		else
			printf("%s absent|%s\n", argv[i],
			       sw == 1	 ? "y"
			       : sw == 0 ? "n"
					 : "-");
	}
	return 0;
}

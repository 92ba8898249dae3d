// SPDX-License-Identifier: MIT
/* ibup status: the inventory of RDMA devices, ports and the platform. */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

void help_status(FILE *out)
{
	fputs("Usage: ibup status [OPTIONS]\n"
	      "\n"
	      "Show the platform, every RDMA device with its kind (infiniband,\n"
	      "accelerated_networking, roce, soft_roce, mana, iwarp, other), and each port's\n"
	      "state, rate, LID, tenant partition key and network interface.\n"
	      "\n"
	      "Options:\n"
	      "  -c, --counters         also read the port counters (each is a query to the\n"
	      "                         HCA's firmware, so they are off by default)\n" IBUP_VM_SIZE_HELP
	      "  -j, --json             print one JSON object (docs/status.schema.json)\n"
	      "      --root DIR         read the system under DIR instead of /\n"
	      "  -v, --verbose          add GUIDs, firmware, PCI ids, pkeys and GIDs\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status: 0 when the inventory was taken (also with no RDMA device),\n"
	      "2 on a usage error, 3 when the root or the device list cannot be read.\n"
	      "\n"
	      "See ibup-status(8).\n",
	      out);
}

int cmd_status(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "counters", no_argument, NULL, 'c' },
		IBUP_VM_SIZE_LONGOPTS,
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct ibup_status *st = NULL;
	struct ibup_ctx *ctx;
	unsigned flags = 0;
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c" IBUP_GLOBAL_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'c') {
			flags |= IBUP_STATUS_COUNTERS;
			continue;
		}
		r = cli_common_option(cli, opt, argv, help_status);
		if (r != CLI_CONTINUE)
			return r;
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);

	ctx = cli_ctx(cli);
	if (!ctx)
		return IBUP_EXIT_FAILURE;
	r = ibup_status_read(ctx, flags, &st);
	if (r < 0)
		return cli_error(r, "cannot take the inventory");
	r = cli_fill_vm_size(cli, st);
	if (r != 0) {
		ibup_status_free(st);
		return r;
	}
	if (cli->json)
		r = cli_print_json(render_json_status(st));
	else
		render_text_status(stdout, st, cli->verbose > 0);
	/* Shown as far as it goes, but an unlistable device class is not "no device". */
	if (r == 0 && st->devices_error)
		r = IBUP_EXIT_FAILURE;
	ibup_status_free(st);
	return r;
}

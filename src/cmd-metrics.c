// SPDX-License-Identifier: MIT
/* ibup metrics: the fabric as Prometheus sees it, on stdout, in a textfile or over HTTP. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "banned.h"

/* After the metadata service failed, scrapes go without the VM size this long. */
#define VM_SIZE_RETRY_S 300
#define TEXTFILE_NAME "ibup.prom"

enum {
	OPT_TEXTFILE = OPT_COMMAND_BASE,
	OPT_LISTEN,
	OPT_MAX_SCRAPES,
};

void help_metrics(FILE *out)
{
	fputs("Usage: ibup metrics [OPTIONS]\n"
	      "\n"
	      "Print the RDMA ports' states, rates, LIDs, error and traffic counters, HCA\n"
	      "temperatures, IPoIB interfaces and ibup check's verdicts in Prometheus' text\n"
	      "format (0.0.4): on stdout, as a file for node_exporter's textfile collector,\n"
	      "or served over HTTP at /metrics. The VM size is cached for an hour in\n"
	      "/var/lib/ibup, so scrapes do not ask the metadata service every time.\n"
	      "\n"
	      "Options:\n"
	      "      --textfile DIR     write DIR/" TEXTFILE_NAME
	      " atomically (node_exporter's\n"
	      "                         --collector.textfile.directory) instead of stdout\n"
	      "      --listen ADDR      serve GET /metrics on ADDR: PORT (127.0.0.1),\n"
	      "                         HOST:PORT or [IPV6]:PORT; the inventory is read\n"
	      "                         again for every scrape\n"
	      "      --max-scrapes N    with --listen, stop after answering N requests\n" IBUP_VM_SIZE_HELP
	      "      --root DIR         read the system under DIR instead of /\n"
	      "  -v, --verbose          debug diagnostics on stderr\n"
	      "  -h, --help             show this help and exit\n"
	      "\n"
	      "Exit status: 0 when the metrics were written (whatever their values), 2 on a\n"
	      "usage error, 3 when they could not be collected, written or served.\n"
	      "\n"
	      "See ibup-metrics(8).\n",
	      out);
}

struct scrape {
	struct ibup_cli *cli;
	struct ibup_ctx *ctx;
	bool ask_imds; /* the VM size comes from the metadata service (and its cache) */
	time_t failed_at; /* when the metadata service last failed (0: never) */
};

/* The VM size for this scrape: --vm-size, else the cache or the metadata service. */
static int scrape_vm_size(struct scrape *s, char **ret_size)
{
	char err[256] = "";
	time_t now = time(NULL);
	int r;

	*ret_size = NULL;
	if (s->cli->vm_size) {
		*ret_size = strdup(s->cli->vm_size);
		return *ret_size ? 0 : -ENOMEM;
	}
	if (!s->ask_imds || (s->failed_at && now - s->failed_at < VM_SIZE_RETRY_S))
		return 0;
	r = ibup_metrics_vm_size(s->ctx, s->cli->metadata_url, IBUP_METRICS_VM_SIZE_TTL,
				 ret_size, err, sizeof(err));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		fprintf(stderr,
			"ibup: warning: VM size unknown: the metadata service: %s\n",
			err);
		s->failed_at = now;
		return 0;
	}
	s->failed_at = 0;
	return 0;
}

static int scrape(void *data, char **ret_text, size_t *ret_len)
{
	struct scrape *s = data;
	_cleanup_free_ char *size = NULL;
	int r = scrape_vm_size(s, &size);

	return r < 0 ? r : ibup_metrics_collect(s->ctx, size, ret_text, ret_len);
}

static int write_textfile(const char *dir, const char *text, size_t len)
{
	struct ibup_ctx *dctx = NULL;
	int r = ibup_ctx_new(dir, &dctx);

	if (r < 0)
		return cli_error(r, "cannot open the textfile directory '%s'", dir);
	r = ibup_file_replace(dctx, TEXTFILE_NAME, text, len, 0644, 0);
	ibup_ctx_free(dctx);
	if (r < 0)
		return cli_error(r, "cannot write '%s/%s'", dir, TEXTFILE_NAME);
	return IBUP_EXIT_OK;
}

static int serve(struct ibup_cli *cli, struct scrape *s, const char *addr,
		 unsigned max_scrapes)
{
	unsigned port;
	int fd, r;

	r = ibup_metrics_listen(addr, &fd, &port);
	if (r == -EINVAL)
		return cli_usage_error(cli,
				       "--listen needs PORT, HOST:PORT or [IPV6]:PORT "
				       "with a numeric host, not '%s'",
				       addr);
	if (r < 0)
		return cli_error(r, "cannot listen on '%s'", addr);
	fprintf(stderr, "ibup: serving /metrics on port %u\n", port);
	r = ibup_metrics_serve(s->ctx, fd, scrape, s, max_scrapes);
	close(fd);
	if (r < 0)
		return cli_error(r, "cannot serve on '%s'", addr);
	return IBUP_EXIT_OK;
}

int cmd_metrics(struct ibup_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "textfile", required_argument, NULL, OPT_TEXTFILE },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "max-scrapes", required_argument, NULL, OPT_MAX_SCRAPES },
		IBUP_VM_SIZE_LONGOPTS,
		IBUP_GLOBAL_LONGOPTS,
		{ 0 },
	};
	const char *textfile = NULL, *listen_addr = NULL;
	struct scrape s = { .cli = cli };
	struct ibup_platform pl = { 0 };
	_cleanup_free_ char *text = NULL;
	uint32_t max_scrapes = 0;
	size_t len = 0;
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, IBUP_GLOBAL_SHORTOPTS, longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case OPT_TEXTFILE:
			if (!*optarg)
				return cli_usage_error(cli,
						       "--textfile needs a directory");
			textfile = optarg;
			continue;
		case OPT_LISTEN:
			listen_addr = optarg;
			continue;
		case OPT_MAX_SCRAPES:
			if (cli_parse_uint(optarg, UINT32_MAX, &max_scrapes) < 0 ||
			    max_scrapes == 0)
				return cli_usage_error(
					cli,
					"--max-scrapes needs a whole number above 0, not '%s'",
					optarg);
			continue;
		default:
			break;
		}
		r = cli_common_option(cli, opt, argv, help_metrics);
		if (r != CLI_CONTINUE)
			return r;
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	if (cli->json)
		return cli_usage_error(cli,
				       "metrics are Prometheus' text format; no --json");
	if (textfile && listen_addr)
		return cli_usage_error(cli, "--textfile and --listen do not go together");
	if (max_scrapes && !listen_addr)
		return cli_usage_error(cli, "--max-scrapes goes with --listen");

	s.ctx = cli_ctx(cli);
	if (!s.ctx)
		return IBUP_EXIT_FAILURE;
	/* As status and check decide it: only Azure's running system has the service. */
	if (!cli->vm_size) {
		r = ibup_platform_read(s.ctx, &pl);
		if (r < 0)
			return cli_error(r, "cannot read the platform");
		s.ask_imds = cli->metadata_url || (ibup_ctx_is_live(s.ctx) && pl.cloud &&
						   strcmp(pl.cloud, "azure") == 0);
		ibup_platform_release(&pl);
	}
	if (listen_addr)
		return serve(cli, &s, listen_addr, max_scrapes);

	r = scrape(&s, &text, &len);
	if (r < 0)
		return cli_error(r, "cannot collect the metrics");
	if (textfile)
		return write_textfile(textfile, text, len);
	if (fwrite(text, 1, len, stdout) != len)
		return cli_error(-errno, "cannot write the metrics");
	return IBUP_EXIT_OK;
}

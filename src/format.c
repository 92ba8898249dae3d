// SPDX-License-Identifier: MIT
/* Text formatting shared by the commands: "-" for what is unknown, rates, pkeys. */
#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "banned.h"

const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

void cli_format_int(int64_t v, char *buf, size_t size)
{
	if (v < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%lld", (long long)v);
}

void cli_format_pkey(int32_t pkey, char *buf, size_t size)
{
	if (pkey >= 0)
		snprintf(buf, size, "0x%04x", (unsigned)pkey);
	else
		snprintf(buf, size, "-");
}

void cli_format_rate(const struct ibup_port *p, char *buf, size_t size)
{
	if (isnan(p->rate_gbps)) {
		snprintf(buf, size, "-");
		return;
	}
	snprintf(buf, size, "%g Gb/s (%s%s%s)", p->rate_gbps, p->width,
		 *p->speed ? " " : "", p->speed);
}

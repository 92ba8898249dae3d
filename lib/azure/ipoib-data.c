// SPDX-License-Identifier: MIT
/*
 * The KVP "IPoIB_Data" value, which IBManager on the host writes into pool 0:
 * "NUMPAIRS:<n>|<MAC>:<IPv4>|...", one pair per IPoIB port, and the port-GUID to MAC
 * mapping that links a pair to its interface.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

#define MAX_PAIRS 64
#define PREFIX "NUMPAIRS:"

_printf_(3, 4) static int fail(struct ibup_diag *d, size_t offset, const char *fmt, ...)
{
	va_list ap;

	*d = (struct ibup_diag){ .column = (unsigned)offset + 1 };
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	/* It may quote the value, which the platform (or whoever wrote the pool) chose. */
	ibup_sanitize(d->msg);
	return -EBADMSG;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly 12 hex digits at @s, followed by ':'. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	for (unsigned i = 0; i < 6; i++) {
		int hi = hex_digit(s[2 * i]), lo;

		if (hi < 0)
			return -1;
		lo = hex_digit(s[2 * i + 1]);
		if (lo < 0)
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[12] == ':' ? 0 : -1;
}

/* A dotted quad of @len bytes at @s: four parts 0-255, no leading zeros but "0". */
static int valid_ipv4(const char *s, size_t len)
{
	size_t i = 0;

	for (unsigned part = 0; part < 4; part++) {
		size_t start = i;
		unsigned v = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			start = ++i;
		}
		while (i < len && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return -1;
	}
	return i == len ? 0 : -1;
}

int ibup_parse_ipoib_data(const char *value, struct ibup_ipoib_pair **ret,
			  unsigned *ret_n, struct ibup_diag *reterr_diag)
{
	_cleanup_free_ struct ibup_ipoib_pair *pairs = NULL;
	const size_t count_at = strlen(PREFIX);
	unsigned count = 0, n = 0;
	const char *p;

	if (strncmp(value, PREFIX, count_at) != 0)
		return fail(reterr_diag, 0, "no '%s' prefix", PREFIX);
	p = value + count_at;
	if (!is_digit(*p))
		return fail(reterr_diag, count_at, "bad pair count");
	while (is_digit(*p)) {
		count = count * 10 + (unsigned)(*p++ - '0');
		if (count > MAX_PAIRS)
			return fail(reterr_diag, count_at, "more than %d pairs",
				    MAX_PAIRS);
	}
	if (*p && *p != '|')
		return fail(reterr_diag, (size_t)(p - value),
			    "trailing garbage after the pair count");
	pairs = calloc(MAX_PAIRS, sizeof(*pairs));
	if (!pairs)
		return -ENOMEM;
	/* Here *p is '|' or the end. */
	while (*p && p[1]) {
		struct ibup_ipoib_pair *pair = &pairs[n];
		const char *ip;
		size_t iplen;

		p++;
		if (n == MAX_PAIRS)
			return fail(reterr_diag, (size_t)(p - value),
				    "more than %d pairs", MAX_PAIRS);
		if (parse_mac(p, pair->mac) < 0)
			return fail(reterr_diag, (size_t)(p - value),
				    "bad MAC address (want 12 hex digits and ':')");
		for (unsigned i = 0; i < n; i++)
			if (memcmp(pairs[i].mac, pair->mac, sizeof(pair->mac)) == 0)
				return fail(reterr_diag, (size_t)(p - value),
					    "MAC address %.12s given twice", p);
		ip = p + 13;
		iplen = strcspn(ip, "|");
		if (valid_ipv4(ip, iplen) < 0)
			return fail(reterr_diag, (size_t)(ip - value),
				    "bad IPv4 address");
		memcpy(pair->ipv4, ip, iplen);
		pair->ipv4[iplen] = '\0';
		/* Valid dotted quads that no interface may be given. */
		if (strcmp(pair->ipv4, "0.0.0.0") == 0 ||
		    strcmp(pair->ipv4, "255.255.255.255") == 0)
			return fail(reterr_diag, (size_t)(ip - value),
				    "%s is not a host address", pair->ipv4);
		if (strncmp(pair->ipv4, "127.", 4) == 0)
			return fail(reterr_diag, (size_t)(ip - value),
				    "%s is a loopback address", pair->ipv4);
		for (unsigned i = 0; i < n; i++)
			if (strcmp(pairs[i].ipv4, pair->ipv4) == 0)
				return fail(reterr_diag, (size_t)(ip - value),
					    "address %s given to two MAC addresses",
					    pair->ipv4);
		n++;
		p = ip + iplen;
	}
	if (n != count)
		return fail(reterr_diag, count_at, "NUMPAIRS is %u but %u pairs follow",
			    count, n);
	if (n == 0) {
		free(pairs);
		pairs = NULL;
	}
	*ret = TAKE_PTR(pairs);
	*ret_n = n;
	return 0;
}

int ibup_guid_to_mac(uint64_t guid, uint8_t ret_mac[6])
{
	uint8_t b[8];

	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(guid >> (56 - 8 * i));
	/* Hyper-V builds the port GUID from the MAC as EUI-64 with ff:fd in the middle
	 * (the node GUID has ff:fe). Anything else is not an Azure-assigned port. */
	if (b[3] != 0xff || b[4] != 0xfd)
		return -EINVAL;
	ret_mac[0] = b[0];
	ret_mac[1] = b[1];
	ret_mac[2] = b[2];
	ret_mac[3] = b[5];
	ret_mac[4] = b[6];
	ret_mac[5] = b[7];
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: what the platform hands over about IPoIB addressing. Hyper-V KVP
 * pools, the IPoIB_Data values inside them, waagent's SharedConfig.xml, and port GUIDs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RECORD (IBUP_KVP_KEY_SIZE + IBUP_KVP_VALUE_SIZE)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_records(const struct ibup_kvp_record *v, unsigned n)
{
	/* Keys are never empty; the bytes are the pool's (read as the agent reads them). */
	for (unsigned i = 0; i < n; i++)
		if (!v[i].key[0] || strlen(v[i].key) > IBUP_KVP_KEY_SIZE ||
		    strlen(v[i].value) > IBUP_KVP_VALUE_SIZE)
			abort();
	/* The first record with a key is the one that counts. */
	if (n > 0 && ibup_kvp_get(v, n, v[0].key) != v[0].value)
		abort();
}

static void ipoib(const char *value)
{
	struct ibup_ipoib_pair *pairs = NULL;
	struct ibup_diag diag;
	unsigned n;

	if (ibup_parse_ipoib_data(value, &pairs, &n, &diag) < 0) {
		if (diag.column < 1 || diag.column > strlen(value) + 1 || !diag.msg[0])
			abort();
		return;
	}
	if (n > 64 || (n == 0) != (pairs == NULL))
		abort();
	for (unsigned i = 0; i < n; i++) {
		size_t len = strnlen(pairs[i].ipv4, sizeof(pairs[i].ipv4));

		if (len < 7 || len > 15 || strspn(pairs[i].ipv4, "0123456789.") != len)
			abort();
		for (unsigned j = 0; j < i; j++)
			if (memcmp(pairs[i].mac, pairs[j].mac, 6) == 0 ||
			    strcmp(pairs[i].ipv4, pairs[j].ipv4) == 0)
				abort();
		if (strcmp(pairs[i].ipv4, "0.0.0.0") == 0 ||
		    strcmp(pairs[i].ipv4, "255.255.255.255") == 0 ||
		    strncmp(pairs[i].ipv4, "127.", 4) == 0)
			abort();
	}
	free(pairs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t padded = (size + RECORD - 1) / RECORD * RECORD;
	struct ibup_kvp_record *v = NULL;
	struct ibup_diag diag;
	unsigned char *pool;
	char *text, *mac, *ipv4;
	uint64_t guid = 0;
	uint8_t m[6];
	unsigned n;
	int r;

	/* The bytes as a pool file holds them. */
	if (ibup_kvp_parse(data, size, &v, &n, &diag) == 0) {
		check_records(v, n);
		free(v);
	}
	/* Zero-padded to whole records, so that short inputs reach the value parser. */
	pool = calloc(1, padded ? padded : 1);
	if (!pool)
		return 0;
	memcpy(pool, data, size);
	if (ibup_kvp_parse(pool, padded, &v, &n, &diag) == 0) {
		check_records(v, n);
		for (unsigned i = 0; i < n; i++)
			ipoib(v[i].value);
		free(v);
	}
	free(pool);

	/* The bytes as one value, and as SharedConfig.xml. */
	text = strndup((const char *)data,
		       size < IBUP_KVP_VALUE_SIZE ? size : IBUP_KVP_VALUE_SIZE);
	if (!text)
		return 0;
	ipoib(text);
	free(text);
	diag.msg[0] = '\0';
	r = ibup_parse_shared_config((const char *)data, size, &mac, &ipv4, &diag);
	if (r == 0) {
		free(mac);
		free(ipv4);
	} else if (r == -EBADMSG && !diag.msg[0]) {
		abort();
	}

	/* The first eight bytes as a port GUID. */
	memcpy(&guid, data, size < sizeof(guid) ? size : sizeof(guid));
	if (ibup_guid_to_mac(guid, m) == 0 &&
	    (m[0] != (uint8_t)(guid >> 56) || m[5] != (uint8_t)guid ||
	     (guid >> 24 & 0xffff) != 0xfffd))
		abort();
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: every sysfs attribute parser on the same bytes. Attributes come
 * from the kernel, a captured fixture or a hostile image; none may crash or overrun.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char width[8], speed[16], gidtext[40], guidtext[20];
	enum ibup_port_state ps;
	enum ibup_phys_state phs;
	enum ibup_node_type nt;
	enum ibup_link_layer ll;
	enum ibup_gid_type gt;
	uint8_t gid[16], hw[20];
	uint64_t guid;
	uint32_t u;
	int32_t i;
	uint16_t key;
	double g;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ibup_parse_u32(s, 10, &u);
	ibup_parse_u32(s, 16, &u);
	ibup_parse_i32(s, &i);
	ibup_parse_port_state(s, &ps);
	ibup_parse_phys_state(s, &phs);
	ibup_parse_node_type(s, &nt);
	ibup_parse_link_layer(s, &ll);
	if (ibup_parse_rate(s, &g, width, sizeof(width), speed, sizeof(speed)) == 0 &&
	    (g < 0 || width[strlen(width) - 1] != 'X'))
		abort();
	if (ibup_parse_guid(s, &guid) == 0)
		ibup_format_guid(guid, guidtext);
	if (ibup_parse_gid(s, gid) == 0) {
		ibup_format_gid(gid, gidtext);
		/* Formatting a parsed GID and parsing it again is the identity. */
		uint8_t again[16];

		if (ibup_parse_gid(gidtext, again) != 0 || memcmp(gid, again, 16) != 0)
			abort();
	}
	ibup_parse_gid_type(s, IBUP_LINK_LAYER_ETHERNET, &gt);
	ibup_parse_pkey(s, &key);
	ibup_parse_ipoib_hwaddr(s, hw);
	free(s);
	return 0;
}

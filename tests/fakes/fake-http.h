// SPDX-License-Identifier: MIT
/* The file fake-http serves, shared with the tests that check what arrived. */
#ifndef IBUP_FAKE_HTTP_H
#define IBUP_FAKE_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Not a multiple of any buffer size, so short reads and the last chunk are exercised. */
#define FAKE_HTTP_LEN ((size_t)(1024 * 1024 + 123))

/* Byte @i of the file: a fixed pseudo-random sequence. */
static inline unsigned char fake_http_byte(uint64_t i)
{
	return (unsigned char)(((i + 1) * UINT64_C(0x9E3779B97F4A7C15)) >> 56);
}

static inline void fake_http_fill(unsigned char *buf, uint64_t from, size_t n)
{
	for (size_t k = 0; k < n; k++)
		buf[k] = fake_http_byte(from + k);
}

#endif

// SPDX-License-Identifier: MIT
/*
 * JSON helpers shared by the library and the CLI (jansson). They encode the contract's
 * conventions in one place: unknown values become null, never a sentinel number.
 */
#ifndef IBUP_IBUP_JSON_H
#define IBUP_IBUP_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "ibup/ibup.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A string, or null for NULL; one that is not UTF-8 is sanitized, not refused. */
json_t *ibup_json_str(const char *s);
/* An integer, or null for IBUP_UNKNOWN (or any negative value). */
json_t *ibup_json_int(int64_t v);
/* A number, or null for NAN or an infinity. */
json_t *ibup_json_real(double v);
/* true/false, or null for IBUP_UNKNOWN. */
json_t *ibup_json_tristate(int v);
/* A 16-bit value as "0x%04x" (pkeys, PCI ids), or null when negative. */
json_t *ibup_json_hex16(int32_t v);

/**
 * ibup_json_set() - add a key to an object, taking ownership of @value
 * @obj: the object
 * @key: the key
 * @value: the value (may be NULL after an allocation failure)
 *
 * Return: 0, or -ENOMEM when @value is NULL or cannot be added.
 */
int ibup_json_set(json_t *obj, const char *key, json_t *value);

#ifdef __cplusplus
}
#endif

#endif

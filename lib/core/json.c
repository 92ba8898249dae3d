// SPDX-License-Identifier: MIT
/* JSON helpers: the contract's null-for-unknown rule, in one place. */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "ibup/ibup-json.h"
#include "internal.h"
#include "banned.h"

json_t *ibup_json_str(const char *s)
{
	json_t *j;
	char *clean;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	/* Not UTF-8 (the library sanitizes what it reads, so this is a slip): one bad
	 * string must not cost the whole document. */
	clean = ibup_strdup_clean(s);
	j = clean ? json_string(clean) : NULL;
	free(clean);
	return j;
}

json_t *ibup_json_int(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

json_t *ibup_json_real(double v)
{
	/* jansson refuses infinities too: unknown, as NAN is. */
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *ibup_json_tristate(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

json_t *ibup_json_hex16(int32_t v)
{
	char buf[8];

	if (v < 0 || v > 0xffff)
		return json_null();
	snprintf(buf, sizeof(buf), "0x%04x", (unsigned)v);
	return json_string(buf);
}

int ibup_json_set(json_t *obj, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_object_set_new(obj, key, value) < 0 ? -ENOMEM : 0;
}

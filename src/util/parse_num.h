/* Decimal digits read one by one: no sign, no blanks, no locale (sscanf and
 * strtoull take a sign and wrap "-1" to 2^64 - 1). Used by the parsers of
 * /proc, sysfs and meminfo text. Pure; thread-safe.
 */
#ifndef WL_UTIL_PARSE_NUM_H
#define WL_UTIL_PARSE_NUM_H

#include <stdint.h>

/* The decimal digits at *p (at least one; they stop at end or at a
 * non-digit) into *v, and *p past all of them. 0; WL_EFORMAT when there is
 * no digit (*p unchanged); WL_ERANGE when the value exceeds UINT64_MAX (*p
 * still past the digits, *v unspecified). */
int wl_parse_u64_digits(const char **p, const char *end, uint64_t *v);

#endif

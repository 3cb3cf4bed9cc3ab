/* Decimal digits read one by one: no sign, no blanks, no locale (sscanf and
 * strtoull take a sign and wrap "-1" to 2^64 - 1). Used by the parsers of
 * /proc, sysfs and meminfo text. And the one grammar of a decimal real that
 * a user gives (the CLI's number options, the sensors' watts from the
 * environment), so that a setting reads the same however it is given.
 * Pure; thread-safe.
 */
#ifndef WL_UTIL_PARSE_NUM_H
#define WL_UTIL_PARSE_NUM_H

#include <stdint.h>

/* The decimal digits at *p (at least one; they stop at end or at a
 * non-digit) into *v, and *p past all of them. 0; WL_EFORMAT when there is
 * no digit (*p unchanged); WL_ERANGE when the value exceeds UINT64_MAX (*p
 * still past the digits, *v unspecified). */
int wl_parse_u64_digits(const char **p, const char *end, uint64_t *v);

/* The whole NUL-terminated s as a decimal number,
 * -?(D+.?D*|.D+)([eE][+-]?D+)? with D a digit: no blanks, no '+' first, none
 * of strtod's other forms (hex "0x1p6", "inf", "nan"). An underflow gives
 * the nearest value (a tiny number is a number); an overflow is none.
 * 0 with *out in [min, max]; WL_EFORMAT for any other text; WL_ERANGE for a
 * number outside [min, max]. *out is untouched on failure. */
int wl_parse_decimal(const char *s, double min, double max, double *out);

#endif

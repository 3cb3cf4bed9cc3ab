/* UTF-8 text as the outputs need it: strict decoding of one character
 * (RFC 3629: no overlong forms, surrogates or values above U+10FFFF).
 * Text that is not valid UTF-8 is accepted everywhere. Pure functions;
 * thread-safe.
 */
#ifndef WL_UTIL_UTF8_H
#define WL_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid UTF-8 character at s, of which n bytes are
 * available; 0 when the bytes there are not valid UTF-8 (or n is 0). */
size_t wl_utf8_char_len(const char *s, size_t n);

/* True when the n bytes at s are valid UTF-8. */
bool wl_utf8_valid(const char *s, size_t n);

#endif

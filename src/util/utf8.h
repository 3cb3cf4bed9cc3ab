/* UTF-8 text as the outputs need it: strict decoding of one character
 * (RFC 3629: no overlong forms, surrogates or values above U+10FFFF),
 * copies into fixed buffers cut between characters, and table cells
 * measured in display columns rather than bytes (utf8proc's East Asian
 * width data: CJK and emoji take two columns, combining marks none), cut
 * and padded without ever splitting a character. Text that is not valid
 * UTF-8 is accepted everywhere. Pure functions; thread-safe.
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

/* Copies the NUL-terminated src into dst (size > 0 bytes, always
 * NUL-terminated): all of it when it fits, else the longest prefix of at
 * most size - 1 bytes that ends between two characters (each byte that is
 * not valid UTF-8 counts as one), so a cut never turns a character into
 * invalid bytes. Returns strlen(src): a value >= size says src was cut,
 * as with snprintf. */
size_t wl_utf8_copy(char *dst, size_t size, const char *src);

/* Display columns of the n bytes at s as wl_utf8_cell shows them. */
size_t wl_utf8_width(const char *s, size_t n);

/* s (NUL-terminated; NULL shows "-") as a table cell of `width` display
 * columns, written into buf (size bytes, always NUL-terminated):
 * - control characters (tab, newline, ...) become a space and each byte
 *   that is not valid UTF-8 becomes U+FFFD, so one line stays one row;
 * - text wider than width is cut at a character boundary and ends "..."
 *   (width < 4: cut without the dots);
 * - with pad, spaces follow up to exactly width columns (a wide character
 *   that does not fit in the last column leaves a space), so the cell can
 *   be printed with "%s" where "%-*s" would count bytes.
 * A buf too small for the cell ends it early, again at a character
 * boundary (4 * width + 1 bytes hold any cell without combining marks).
 * Returns buf. */
const char *wl_utf8_cell(const char *s, size_t width, bool pad, char *buf, size_t size);

#endif

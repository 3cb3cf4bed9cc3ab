/* UTF-8 text as the outputs need it: strict decoding of one character
 * (RFC 3629: no overlong forms, surrogates or values above U+10FFFF),
 * copies and formatted messages in fixed buffers cut between characters
 * (a cut inside quoted text ends "..."), text escaped so that bytes from a
 * file or a sensor cannot drive a terminal (and JSON text written for
 * one), Markdown cell escaping, and table cells measured in display
 * columns rather than bytes (utf8proc's East Asian width data: CJK and
 * emoji take two columns, combining marks none), cut and padded without
 * ever splitting a character. Text that is not valid UTF-8 is accepted
 * everywhere. Pure functions (one writes to the caller's FILE);
 * thread-safe.
 */
#ifndef WL_UTIL_UTF8_H
#define WL_UTIL_UTF8_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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

/* The n bytes at src (NULs included) as text that is safe to print on a
 * terminal and still says which bytes were there, into dst (size bytes,
 * NUL-terminated when size > 0; dst may be NULL when size is 0):
 * - valid UTF-8 characters that print are kept as they are (accents, CJK,
 *   emoji), so names in any script read as written;
 * - C0 controls (U+0000-U+001F) and DEL become \xNN: ESC is \x1b, a tab
 *   \x09, a newline \x0a (one line stays one line);
 * - C1 controls (U+0080-U+009F, valid UTF-8 as C2 80-C2 9F; some terminals
 *   take U+009B as CSI) become \u00NN: U+009B is \u009b;
 * - the bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E,
 *   U+2066-U+2069), which reorder the text around them on screen, become
 *   \uNNNN: RIGHT-TO-LEFT OVERRIDE is \u202e;
 * - each byte that is not valid UTF-8 becomes \xNN: a lone 0x9B is \x9b,
 *   so \xNN above 7f always means a raw byte and \u00NN a character;
 * - a backslash becomes \\, so the result is unambiguous: two texts that
 *   differ (if only in an invalid byte) never look the same, and a key
 *   spelled "a\xff" is not taken for "a" and the byte 0xFF.
 * Hex digits are lowercase. Only ASCII escapes are added, one display
 * column per byte, so wl_utf8_width of the result is its width on screen.
 * A dst too small holds the longest prefix that ends between two pieces
 * (a character or an escape is never split). Returns the length of the
 * whole escaped text: a value >= size says dst holds a cut, as with
 * snprintf (size 0 measures). */
size_t wl_utf8_escape(char *dst, size_t size, const char *src, size_t n);

/* Writes the n bytes of JSON text at json (as jansson writes it) to f for
 * a terminal: each C1 control, bidirectional control (both as
 * wl_utf8_escape lists them) and DEL becomes the JSON escape \uNNNN
 * (uppercase hex, as jansson writes the C0 controls it escapes itself:
 * U+009B, CSI to some terminals, is \u009B, RIGHT-TO-LEFT OVERRIDE
 * \u202E). JSON text holds such characters only inside strings (outside
 * them it is ASCII: punctuation, numbers, literals, spaces and newlines),
 * where the escape stands for the same character, so the text still
 * parses to the same value; every other byte is kept, bytes that are not
 * UTF-8 included. Returns 0, or -1 when a write to f failed. */
int wl_utf8_put_terminal_json(FILE *f, const char *json, size_t n);

/* wl_utf8_copy for text quoted inside a longer message (a path in a source
 * string, a name in an error), where a silent cut would read as the whole
 * text: when src does not fit, the copy is cut between characters to leave
 * room for "..." and ends with it (size < 4: cut without the dots). Returns
 * strlen(src). */
size_t wl_utf8_clip(char *dst, size_t size, const char *src);

/* vsnprintf into dst (size > 0 bytes, always NUL-terminated) whose cut, when
 * the text does not fit, ends between characters and shows as "..." (as
 * wl_utf8_clip). Only the bytes that fit are kept, so a character that the
 * end of dst would split is dropped whole, even when the bytes past the end
 * (not kept) would have shown it invalid. Returns vsnprintf's value: the
 * length of the whole text, or negative on an encoding error (dst "").
 * Does not va_end ap. */
int wl_utf8_vformat(char *dst, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The NUL-terminated src as the text of a GitHub Markdown table cell, into
 * dst (size > 0 bytes, always NUL-terminated): each '|' becomes "\|" (a
 * bare one would end the cell). A copy that does not fit is cut between
 * characters and never between the two bytes of "\|". Returns the length
 * of the whole escaped text: a value >= size says it was cut. Measure and
 * pad the result with wl_utf8_width / wl_utf8_cell as any other text. */
size_t wl_utf8_md_escape(char *dst, size_t size, const char *src);

/* Display columns of the n bytes at s as wl_utf8_cell shows them. */
size_t wl_utf8_width(const char *s, size_t n);

/* s (NUL-terminated; NULL shows "-") as a table cell of `width` display
 * columns, written into buf (size bytes, always NUL-terminated):
 * - control characters (tab, newline, ...) and the bidirectional controls
 *   (as wl_utf8_escape lists them) become a space and each byte
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

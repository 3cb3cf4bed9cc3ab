/* Text from model files, sensors and stored runs in the CLI's human-readable
 * outputs: written escaped by wl_utf8_escape (util/utf8.h), so an ESC or a C1
 * control in a GGUF key, a sysfs name or a run's command reaches the
 * terminal as "\x1b" or "\u009b", never as itself, and a byte that is not
 * UTF-8 as "\xNN". JSON, CSV and generated text keep their bytes and do not
 * come here. Stateless; single-threaded like the rest of cli/.
 */
#ifndef WL_CLI_TEXT_H
#define WL_CLI_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Writes the n bytes at s (NULs included) to f, escaped and whole. */
void wl_cli_put_textn(FILE *f, const char *s, size_t n);

/* The same for the NUL-terminated s; NULL writes nothing. */
void wl_cli_put_text(FILE *f, const char *s);

/* s escaped and whole, then spaces up to width display columns of the
 * escaped text (a name in CJK takes fewer columns than bytes; a wider one
 * pushes what follows). */
void wl_cli_put_text_padded(FILE *f, const char *s, size_t width);

/* For printf arguments: the n bytes at s escaped into buf (size >= 4 bytes,
 * always NUL-terminated), whole when they fit, else cut between two pieces
 * (never inside a character or an escape) and ending "...". Returns buf. */
const char *wl_cli_textn(const char *s, size_t n, char *buf, size_t size);

/* wl_cli_textn of the NUL-terminated s; NULL gives "". */
const char *wl_cli_text(const char *s, char *buf, size_t size);

/* wl_cli_text, then spaces up to width display columns while buf has room:
 * a table cell to print with "%s" where "%-*s" would count bytes. */
const char *wl_cli_text_pad(const char *s, size_t width, char *buf, size_t size);

#endif

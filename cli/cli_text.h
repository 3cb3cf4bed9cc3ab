/* Text from model files, sensors and stored runs in the CLI's human-readable
 * outputs: written escaped by wl_utf8_escape (util/utf8.h), so an ESC or a C1
 * control in a GGUF key, a sysfs name or a run's command reaches the
 * terminal as "\x1b" or "\u009b", never as itself, and a byte that is not
 * UTF-8 as "\xNN". JSON outputs come here too (wl_cli_put_json): on a
 * terminal their C1 and bidirectional controls are written as \uNNNN,
 * elsewhere they keep their bytes. CSV cells are escaped the same way on a
 * terminal by util/csv_text.h; generated text keeps its bytes. Stateless; single-threaded like the
 * rest of cli/.
 */
#ifndef WL_CLI_TEXT_H
#define WL_CLI_TEXT_H

#include <jansson.h>
#include <stdbool.h>
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

/* wl_cli_textn cut to at most width display columns (width >= 4), "..."
 * included, again between two pieces; buf holds any such text when
 * size >= 4 * width + 4. Returns buf. */
const char *wl_cli_textn_cols(const char *s, size_t n, size_t width, char *buf, size_t size);

/* A table cell of stored text: the n bytes at s as wl_cli_textn_cols cuts
 * them to width columns (width >= 4), then with pad spaces up to width
 * while buf has room, to print with "%s". Old cells (wl_utf8_cell) showed a
 * control as a space and an invalid byte as U+FFFD and ended at a NUL
 * byte; these read back as the rest of the text outputs. Returns buf. */
const char *wl_cli_textn_cell(const char *s, size_t n, size_t width, bool pad, char *buf,
                              size_t size);

/* wl_cli_textn of the NUL-terminated s; NULL gives "". */
const char *wl_cli_text(const char *s, char *buf, size_t size);

/* wl_cli_text, then spaces up to width display columns while buf has room:
 * a table cell to print with "%s" where "%-*s" would count bytes. */
const char *wl_cli_text_pad(const char *s, size_t width, char *buf, size_t size);

/* Dumps j to f as json_dumpf(j, f, flags) does, except on a terminal
 * (isatty of f: stdout left as it is, or `-o /dev/tty`): there each C1
 * control, bidirectional control and DEL is written as \uNNNN
 * (wl_json_put), since jansson escapes only the C0 controls and writes
 * those as they are, so a stored prompt could drive the terminal (U+009B
 * is CSI to some) or reorder the line. A file or a pipe gets jansson's
 * bytes. Returns 0, or -1 when the dump or a write failed. */
int wl_cli_put_json(FILE *f, const json_t *j, size_t flags);

#endif

/* One CSV field (RFC 4180) from text that may hold anything: quoted when it
 * holds a comma, a quote or a line break (or always, for formats that quote
 * every field, as llama-bench's does), with each '"' doubled, so the text
 * stays inside its field. CSV has no escapes: to a file or a pipe the bytes
 * are written as they are. For a terminal the text is first escaped as the
 * text outputs escape it (wl_utf8_escape), so no control byte of a model
 * path, a CPU name or a stored text reaches the terminal. Stateless.
 */
#ifndef WL_UTIL_CSV_TEXT_H
#define WL_UTIL_CSV_TEXT_H

#include <stddef.h>
#include <stdio.h>

enum {
    WL_CSV_ESCAPE = 1u << 0,       /* escape as for a terminal */
    WL_CSV_QUOTE_ALWAYS = 1u << 1, /* quote the field even when it need not be */
};

/* Writes the n bytes at s (NULs included) as one field to out. Out of
 * memory while escaping a long text writes "?", never the raw bytes. */
void wl_csv_put(FILE *out, const char *s, size_t n, unsigned flags);

#endif

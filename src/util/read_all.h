/* Reading a whole stream into memory. Stateless and thread-safe. */
#ifndef WL_UTIL_READ_ALL_H
#define WL_UTIL_READ_ALL_H

#include <stddef.h>
#include <stdint.h> /* SIZE_MAX, the max of no limit */
#include <stdio.h>

/* All of f, to its end (a /proc file's size says 0, a pipe has none), into
 * *data: malloc'd, NUL-terminated, *n bytes without the NUL. initial_cap is
 * the first buffer's size (it doubles as needed). max is the most bytes
 * taken: reading stops after max + 1 bytes, so an endless or huge stream
 * never holds more than about max bytes of memory (SIZE_MAX: no limit).
 * Returns 0, or an errno: EFBIG when the stream has more than max bytes,
 * ENOMEM, or the read's own error (EIO when it set none); on an error
 * *data and *n are untouched and nothing is kept. f is not closed. */
int wl_read_stream(FILE *f, size_t initial_cap, size_t max, char **data, size_t *n);

#endif

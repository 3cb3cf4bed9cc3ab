/* Reading a whole stream into memory. Stateless and thread-safe. */
#ifndef WL_UTIL_READ_ALL_H
#define WL_UTIL_READ_ALL_H

#include <stddef.h>
#include <stdio.h>

/* All of f, to its end (a /proc file's size says 0, a pipe has none), into
 * *data: malloc'd, NUL-terminated, *n bytes without the NUL. initial_cap is
 * the first buffer's size (it doubles as needed). Returns 0, or an errno
 * (ENOMEM, or the read's own error, EIO when it set none); on an error
 * *data and *n are untouched and nothing is kept. f is not closed. */
int wl_read_stream(FILE *f, size_t initial_cap, char **data, size_t *n);

#endif

/* mkdir -p. Stateless and thread-safe. */
#ifndef WL_UTIL_MKDIR_P_H
#define WL_UTIL_MKDIR_P_H

#include <stddef.h>

/* Makes the directory dir and its missing parents (mode 0755, less the
 * umask); one that exists already is fine. Returns 0, or -1 with errno
 * (ENOTDIR when dir or a parent is not a directory, ENAMETOOLONG past
 * 4095 bytes, or mkdir's own). */
int wl_mkdir_p(const char *dir);

/* wl_mkdir_p, and on failure the directory that could not be made, or
 * that is not a directory (dir or one of its parents), into where (size
 * bytes, cut to fit; "" when the failure is not one directory's: dir too
 * long or empty); and the first directory it made into made (made_size
 * bytes, cut to fit; "" when every one existed): the highest one made, as
 * dir's missing parents are made from the top down; every directory from it
 * down to dir was made too (unless another process made one meanwhile).
 * made is set on failure too (what was made before it). */
int wl_mkdir_p_made(const char *dir, char *made, size_t made_size, char *where, size_t size);

#endif

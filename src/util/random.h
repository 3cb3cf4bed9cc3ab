/* Random bytes for ids and hash keys: from the system (getentropy), or, when
 * that fails, from the clocks, the process id and the buffer's address
 * mixed by a 64-bit finalizer (weaker: unique enough for run ids and unknown
 * to whoever wrote a file, never for secrets). Stateless and thread-safe.
 */
#ifndef WL_UTIL_RANDOM_H
#define WL_UTIL_RANDOM_H

#include <stdbool.h>
#include <stddef.h>

/* Fills n bytes of out. Returns true when they came from the system, false
 * when from the fallback (wl__random_bytes_fallback). */
bool wl_random_bytes(void *out, size_t n);

/* The fallback on its own, for the tests: fills n bytes of out. */
void wl__random_bytes_fallback(void *out, size_t n);

#endif

/* SipHash-1-3: Aumasson and Bernstein's keyed hash with one compression and
 * three finalization rounds (what CPython and Rust hash their dictionaries
 * with). Hash tables whose keys come from files or prompts use it with a key
 * from wl_random_bytes: whoever wrote the keys cannot choose ones that
 * collide, so lookups stay O(1) on hostile input.
 *
 * One shot (wl_siphash13) or in pieces (init, update..., final; the pieces
 * hash as their concatenation). Little-endian message words on every host.
 */
#ifndef WL_UTIL_SIPHASH_H
#define WL_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct wl_siphash {
    uint64_t v[4];
    uint64_t tail; /* the bytes of a partial word, lowest first */
    uint64_t len;  /* bytes hashed so far */
};

void wl_siphash_init(struct wl_siphash *h, const uint64_t key[2]);
void wl_siphash_update(struct wl_siphash *h, const void *p, size_t n);
uint64_t wl_siphash_final(struct wl_siphash *h);

uint64_t wl_siphash13(const uint64_t key[2], const void *p, size_t n);

#endif

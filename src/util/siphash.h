/* SipHash-1-3: Aumasson and Bernstein's keyed hash with one compression and
 * three finalization rounds (what CPython and Rust hash their dictionaries
 * with). Hash tables whose keys come from files or prompts use it with a key
 * from wl_random_bytes: whoever wrote the keys cannot choose ones that
 * collide, so lookups stay O(1) on hostile input.
 *
 * Little-endian message words on every host.
 */
#ifndef WL_UTIL_SIPHASH_H
#define WL_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t wl_siphash13(const uint64_t key[2], const void *p, size_t n);

#endif

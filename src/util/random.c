/* Random bytes; see random.h. getentropy gives at most 256 bytes a call, so
 * larger requests are read in pieces. */
#include "util/random.h"

#include "util/clock.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <sys/random.h> /* getentropy */
#endif

/* murmur3's 64-bit finalizer: every input bit reaches every output bit. */
static uint64_t wl__fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

void wl__random_bytes_fallback(void *out, size_t n)
{
    uint64_t h = wl__fmix64(wl_clock_now_ns() ^ ((uint64_t)wl_clock_realtime_ns() << 17) ^
                            ((uint64_t)getpid() << 48) ^ (uint64_t)(uintptr_t)out);
    unsigned char *p = out;
    for (size_t i = 0; i < n; i += sizeof h) {
        h = wl__fmix64(h + 0x9e3779b97f4a7c15ull); /* a splitmix64 stream from h */
        memcpy(p + i, &h, n - i < sizeof h ? n - i : sizeof h);
    }
}

bool wl_random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    for (size_t i = 0; i < n; i += 256) {
        if (getentropy(p + i, n - i < 256 ? n - i : 256) != 0) {
            wl__random_bytes_fallback(out, n);
            return false;
        }
    }
    return true;
}

/* SipHash-1-3; see siphash.h. */
#include "util/siphash.h"

#include <string.h>

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13) ^ v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17) ^ v[2];
    v[2] = rotl(v[2], 32);
}

static void compress(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sipround(v);
    v[0] ^= m;
}

/* n <= 8 bytes at p as a little-endian word (zero above them): on a
 * big-endian host the copied bytes sit high, and the swap brings the first
 * one to the lowest place */
static uint64_t load_le(const unsigned char *p, size_t n)
{
    uint64_t m = 0;
    memcpy(&m, p, n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    m = __builtin_bswap64(m);
#endif
    return m;
}

uint64_t wl_siphash13(const uint64_t key[2], const void *p, size_t n)
{
    uint64_t v[4] = {key[0] ^ 0x736f6d6570736575ull, key[1] ^ 0x646f72616e646f6dull,
                     key[0] ^ 0x6c7967656e657261ull, key[1] ^ 0x7465646279746573ull};
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        compress(v, load_le(b + i, 8));
    compress(v, (n > i ? load_le(b + i, n - i) : 0) | (uint64_t)n << 56);
    v[2] ^= 0xff;
    for (int r = 0; r < 3; r++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

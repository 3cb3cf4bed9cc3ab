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

static void compress(struct wl_siphash *h, uint64_t m)
{
    h->v[3] ^= m;
    sipround(h->v);
    h->v[0] ^= m;
}

void wl_siphash_init(struct wl_siphash *h, const uint64_t key[2])
{
    h->v[0] = key[0] ^ 0x736f6d6570736575ull;
    h->v[1] = key[1] ^ 0x646f72616e646f6dull;
    h->v[2] = key[0] ^ 0x6c7967656e657261ull;
    h->v[3] = key[1] ^ 0x7465646279746573ull;
    h->tail = 0;
    h->len = 0;
}

/* n <= 8 bytes at p as a little-endian word (zero above them) */
static uint64_t load_le(const unsigned char *p, size_t n)
{
    uint64_t m = 0;
    memcpy(&m, p, n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    m = __builtin_bswap64(m);
    if (n < 8)
        m >>= 8 * (8 - n);
#endif
    return m;
}

void wl_siphash_update(struct wl_siphash *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    const size_t fill = h->len & 7;
    h->len += n;
    if (fill) { /* complete the partial word first */
        const size_t take = n < 8 - fill ? n : 8 - fill;
        h->tail |= load_le(b, take) << (8 * fill);
        if (fill + take < 8)
            return;
        compress(h, h->tail);
        h->tail = 0;
        b += take;
        n -= take;
    }
    for (; n >= 8; b += 8, n -= 8)
        compress(h, load_le(b, 8));
    if (n)
        h->tail = load_le(b, n);
}

uint64_t wl_siphash_final(struct wl_siphash *h)
{
    compress(h, h->tail | h->len << 56);
    h->v[2] ^= 0xff;
    for (int r = 0; r < 3; r++)
        sipround(h->v);
    return h->v[0] ^ h->v[1] ^ h->v[2] ^ h->v[3];
}

uint64_t wl_siphash13(const uint64_t key[2], const void *p, size_t n)
{
    /* the same as init, update, final, without the partial-word state */
    struct wl_siphash h;
    wl_siphash_init(&h, key);
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        compress(&h, load_le(b + i, 8));
    h.tail = n > i ? load_le(b + i, n - i) : 0;
    h.len = n;
    return wl_siphash_final(&h);
}

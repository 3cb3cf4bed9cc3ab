/* SipHash-1-3; see siphash.h. */
#include "util/siphash.h"

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

void wl_siphash_update(struct wl_siphash *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i = 0;
    /* fill a partial word first */
    while ((h->len & 7) && i < n) {
        h->tail |= (uint64_t)b[i++] << (8 * (h->len & 7));
        if ((++h->len & 7) == 0) {
            compress(h, h->tail);
            h->tail = 0;
        }
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t m = 0;
        for (int j = 0; j < 8; j++)
            m |= (uint64_t)b[i + j] << (8 * j);
        compress(h, m);
        h->len += 8;
    }
    for (; i < n; i++) {
        h->tail |= (uint64_t)b[i] << (8 * (h->len & 7));
        h->len++;
    }
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
    struct wl_siphash h;
    wl_siphash_init(&h, key);
    wl_siphash_update(&h, p, n);
    return wl_siphash_final(&h);
}

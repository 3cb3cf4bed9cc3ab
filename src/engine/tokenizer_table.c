/* Containers behind the tokenizers: growable id/offset vectors (per call) and
 * the string-pair hash map used for token text -> id and merge ranks (owned
 * by a wl_tokenizer, immutable after loading, so lookups are thread-safe).
 * Hash: keyed SipHash-1-3 (util/siphash.h) of the key's bytes, with la mixed in.
 */
#include "engine/tokenizer_impl.h"

#include "util/siphash.h"
#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / elem)
            return WL_ENOMEM;
        nc *= 2;
    }
    void *q = realloc(*p, nc * elem);
    if (!q)
        return WL_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

int wl__tok_ivec_reserve(struct wl__tok_ivec *a, size_t extra)
{
    if (extra > SIZE_MAX - a->n)
        return WL_ENOMEM;
    return grow((void **)&a->v, &a->cap, a->n + extra, sizeof(*a->v));
}

int wl__tok_ivec_push(struct wl__tok_ivec *a, int32_t x)
{
    if (a->n == a->cap) {
        int rc = grow((void **)&a->v, &a->cap, a->n + 1, sizeof(*a->v));
        if (rc)
            return rc;
    }
    a->v[a->n++] = x;
    return 0;
}

int wl__tok_uvec_push(struct wl__tok_uvec *a, uint32_t x)
{
    if (a->n == a->cap) {
        int rc = grow((void **)&a->v, &a->cap, a->n + 1, sizeof(*a->v));
        if (rc)
            return rc;
    }
    a->v[a->n++] = x;
    return 0;
}

uint64_t wl__tok_hash(const uint64_t key[2], const char *a, size_t la, size_t lb)
{
    uint64_t x = wl_siphash13(key, a, la + lb);
    /* where a ends: (a, b) and (a', b') with a + b == a' + b' differ (an odd
     * multiplier is one-to-one; the splits of one string are few, so they
     * cannot be used to flood a slot) */
    x ^= (uint64_t)la * 0x9e3779b97f4a7c15ull;
    return x ? x : 1;
}

int wl__tok_map_init(struct wl__tok_map *m, size_t expected, const uint64_t key[2])
{
    m->key[0] = key[0];
    m->key[1] = key[1];
    size_t cap = 16;
    while (cap < expected * 2 + 2) {
        if (cap > SIZE_MAX / 4 / sizeof(*m->slots))
            return WL_ENOMEM;
        cap *= 2;
    }
    m->slots = calloc(cap, sizeof(*m->slots));
    if (!m->slots)
        return WL_ENOMEM;
    m->mask = cap - 1;
    m->n = 0;
    return 0;
}

void wl__tok_map_free(struct wl__tok_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->n = 0;
}

static int rehash(struct wl__tok_map *m)
{
    size_t cap = (m->mask + 1) * 2;
    struct wl__tok_map_slot *ns = calloc(cap, sizeof(*ns));
    if (!ns)
        return WL_ENOMEM;
    for (size_t i = 0; i <= m->mask; i++) {
        if (!m->slots[i].hash)
            continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (ns[j].hash)
            j = (j + 1) & (cap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->mask = cap - 1;
    return 0;
}

int wl__tok_map_put(struct wl__tok_map *m, const char *pool, uint32_t off, uint32_t la, uint32_t lb,
                    int32_t value, bool keep_first, int32_t *existing)
{
    const char *a = pool + off;
    uint64_t h = wl__tok_hash(m->key, a, la, lb);
    if (existing)
        *existing = WL_TOK_NULL;
    if ((m->n + 1) * 2 > m->mask + 1) {
        int rc = rehash(m);
        if (rc)
            return rc;
    }
    size_t j = h & m->mask;
    while (m->slots[j].hash) {
        struct wl__tok_map_slot *s = &m->slots[j];
        if (s->hash == h && s->len_a == la && s->len_b == lb &&
            memcmp(pool + s->off, a, (size_t)la + lb) == 0) {
            if (existing)
                *existing = s->value;
            if (!keep_first)
                s->value = value;
            return 0;
        }
        j = (j + 1) & m->mask;
    }
    m->slots[j] = (struct wl__tok_map_slot){h, off, la, lb, value};
    m->n++;
    return 0;
}

int32_t wl__tok_map_get(const struct wl__tok_map *m, const char *pool, const char *a, size_t la,
                        size_t lb)
{
    if (!m->slots)
        return WL_TOK_NULL;
    uint64_t h = wl__tok_hash(m->key, a, la, lb);
    size_t j = h & m->mask;
    while (m->slots[j].hash) {
        const struct wl__tok_map_slot *s = &m->slots[j];
        if (s->hash == h && s->len_a == la && s->len_b == lb &&
            memcmp(pool + s->off, a, la + lb) == 0)
            return s->value;
        j = (j + 1) & m->mask;
    }
    return WL_TOK_NULL;
}

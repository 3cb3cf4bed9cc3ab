/* Per-call word cache of the tokenizers: the ids of a word (BPE) or segment
 * (SPM) depend only on its bytes, so repeated words are merged once. Keys are
 * copied, so callers may reuse their buffers. Bounded (no eviction: once full,
 * new words are simply not cached). An entry also keeps how many of its ids
 * are byte-fallback tokens, so a hit adds them to the stats as a merge would.
 * Owned by one call's scratch; not shared.
 */
#include "engine/tokenizer_impl.h"

#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

#define WC_MAX_SLOTS 65536u

static struct wl__tok_wc_slot *find(struct wl__tok_scratch *s, const char *w, size_t n, uint64_t h)
{
    size_t j = h & s->wc_mask;
    while (s->wc[j].hash) {
        struct wl__tok_wc_slot *e = &s->wc[j];
        if (e->hash == h && e->len == n && memcmp(s->wc_keys + e->key_off, w, n) == 0)
            return e;
        j = (j + 1) & s->wc_mask;
    }
    return &s->wc[j];
}

static int grow(struct wl__tok_scratch *s)
{
    size_t cap = s->wc ? (s->wc_mask + 1) * 2 : 4096;
    struct wl__tok_wc_slot *nw = calloc(cap, sizeof(*nw));
    if (!nw)
        return WL_ENOMEM;
    for (size_t i = 0; s->wc && i <= s->wc_mask; i++) {
        if (!s->wc[i].hash)
            continue;
        size_t j = s->wc[i].hash & (cap - 1);
        while (nw[j].hash)
            j = (j + 1) & (cap - 1);
        nw[j] = s->wc[i];
    }
    free(s->wc);
    s->wc = nw;
    s->wc_mask = cap - 1;
    return 0;
}

bool wl__tok_cache_get(struct wl__tok_scratch *s, const char *w, size_t n, uint64_t h,
                       struct wl__tok_ivec *out, uint64_t *n_fallback, int *rc)
{
    *rc = 0;
    if (!s->wc || n > WL__TOK_CACHE_MAX_WORD)
        return false;
    struct wl__tok_wc_slot *e = find(s, w, n, h);
    if (!e->hash)
        return false;
    *rc = wl__tok_ivec_reserve(out, e->n_ids);
    if (*rc == 0 && e->n_ids) {
        memcpy(out->v + out->n, s->wc_ids.v + e->ids_off, e->n_ids * sizeof(int32_t));
        out->n += e->n_ids;
    }
    if (*rc == 0)
        *n_fallback += e->n_fallback;
    return true;
}

int wl__tok_cache_put(struct wl__tok_scratch *s, const char *w, size_t n, uint64_t h,
                      const int32_t *ids, size_t n_ids, uint64_t n_fallback)
{
    if (n > WL__TOK_CACHE_MAX_WORD || s->wc_ids.n + n_ids > UINT32_MAX / 2 ||
        s->wc_keys_n + n > UINT32_MAX / 2)
        return 0;
    if (!s->wc || (s->wc_n + 1) * 2 > s->wc_mask + 1) {
        if (s->wc && s->wc_mask + 1 >= WC_MAX_SLOTS)
            return 0; /* full */
        int rc = grow(s);
        if (rc)
            return rc;
    }
    struct wl__tok_wc_slot *e = find(s, w, n, h);
    if (e->hash)
        return 0;
    if (s->wc_keys_n + n > s->wc_keys_cap) {
        size_t nc = s->wc_keys_cap ? s->wc_keys_cap * 2 : 65536;
        while (nc < s->wc_keys_n + n)
            nc *= 2;
        char *k = realloc(s->wc_keys, nc);
        if (!k)
            return WL_ENOMEM;
        s->wc_keys = k;
        s->wc_keys_cap = nc;
    }
    int rc = wl__tok_ivec_reserve(&s->wc_ids, n_ids);
    if (rc)
        return rc;
    if (n)
        memcpy(s->wc_keys + s->wc_keys_n, w, n);
    if (n_ids)
        memcpy(s->wc_ids.v + s->wc_ids.n, ids, n_ids * sizeof(int32_t));
    *e = (struct wl__tok_wc_slot){h,
                                  (uint32_t)s->wc_keys_n,
                                  (uint32_t)n,
                                  (uint32_t)s->wc_ids.n,
                                  (uint32_t)n_ids,
                                  (uint32_t)n_fallback};
    s->wc_keys_n += n;
    s->wc_ids.n += n_ids;
    s->wc_n++;
    return 0;
}

/* Binary min-heap of merge candidates and the merge loop shared by SPM and BPE
 * (they differ only in how a pair is scored), so a
 * word of n symbols merges in O(n log n) instead of rescanning all pairs.
 * Owned by one call's scratch; not thread-shared.
 */
#include "engine/tokenizer_impl.h"

#include "wattlens/error.h"

#include <stdlib.h>

static bool before(const struct wl__tok_cand *a, const struct wl__tok_cand *b)
{
    return a->key < b->key;
}

int wl__tok_heap_push(struct wl__tok_heap *h, struct wl__tok_cand c)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        if (nc > SIZE_MAX / sizeof(*h->v))
            return WL_ENOMEM;
        struct wl__tok_cand *v = realloc(h->v, nc * sizeof(*v));
        if (!v)
            return WL_ENOMEM;
        h->v = v;
        h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&c, &h->v[p]))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = c;
    return 0;
}

struct wl__tok_cand wl__tok_heap_pop(struct wl__tok_heap *h)
{
    struct wl__tok_cand top = h->v[0];
    struct wl__tok_cand last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= h->n)
            break;
        size_t r = l + 1;
        size_t m = (r < h->n && before(&h->v[r], &h->v[l])) ? r : l;
        if (!before(&h->v[m], &last))
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

int wl__tok_merge_symbols(const wl_tokenizer *t, struct wl__tok_scratch *s, const char *text,
                          int32_t n_sym, wl__tok_pair_fn add, struct wl_tok_stats *st)
{
    int rc = 0;
    s->heap.n = 0;
    for (int32_t i = 1; rc == 0 && i < n_sym; i++)
        rc = add(t, s, text, i - 1, i, st);
    while (rc == 0 && s->heap.n > 0) {
        struct wl__tok_cand c = wl__tok_heap_pop(&s->heap);
        int32_t l = (int32_t)(uint32_t)c.key;
        struct wl__tok_sym *a = &s->sym[l], *b = &s->sym[c.right];
        if (a->n == 0 || b->n == 0 || a->n + b->n != c.size) {
            st->n_stale++;
            continue;
        }
        a->n += b->n;
        b->n = 0;
        a->next = b->next;
        if (a->next >= 0)
            s->sym[a->next].prev = l;
        st->n_merges++;
        rc = add(t, s, text, a->prev, l, st);
        if (rc == 0)
            rc = add(t, s, text, l, a->next, st);
    }
    return rc;
}

/* Byte-level BPE ("gpt2" vocabularies), as llama.cpp runs it: the fragment is
 * split into words by the pre-tokenizer; each word starts as one symbol per
 * byte (one byte-to-unicode character in the vocabulary's spelling) and the
 * adjacent pair with the lowest merge rank is merged until none is left (ties:
 * leftmost). The vocabulary and merges were decoded back to raw bytes at load
 * time, so words are merged on the input bytes directly.
 *
 * An invalid UTF-8 unit whose byte has no byte-level token of its own (the
 * bytes C0, C1, F5-FF in starcoder and deepseek-llm) is merged as U+FFFD, as
 * llama.cpp merges every byte its decoder rejects (not an overlong C0/C1
 * pair, which it decodes: tokenizer.md); other invalid bytes are kept.
 *
 * A per-call word cache (word bytes -> ids) skips repeated words; its hit rate
 * is reported in wl_tok_stats. Scratch belongs to the call; thread-safe.
 */
#include "engine/tokenizer_impl.h"

#include "util/clock.h"
#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

static int add_pair(const wl_tokenizer *t, struct wl__tok_scratch *s, const char *w, int32_t l,
                    int32_t r, struct wl_tok_stats *st)
{
    if (l < 0 || r < 0)
        return 0;
    const struct wl__tok_sym *a = &s->sym[l], *b = &s->sym[r];
    st->n_rank_lookups++;
    int32_t rank = wl__tok_map_get(&t->merge_map, t->pool, w + a->off, a->n, b->n);
    if (rank == WL_TOK_NULL)
        return 0;
    st->n_candidates++;
    struct wl__tok_cand c = {((uint64_t)(uint32_t)rank << 32) | (uint32_t)l, r, a->n + b->n};
    return wl__tok_heap_push(&s->heap, c);
}

static int emit_symbol(const wl_tokenizer *t, const char *p, size_t n, struct wl__tok_ivec *out,
                       struct wl_tok_stats *st)
{
    st->n_lookups++;
    int32_t id = wl__tok_map_get(&t->bpe_map, t->pool, p, n, 0);
    if (id != WL_TOK_NULL)
        return wl__tok_ivec_push(out, id);
    /* The reference looks up each byte of the symbol's byte-level spelling as
     * a one-byte string and silently drops those that are not tokens. */
    for (size_t j = 0; j < n; j++) {
        const int32_t *fb = t->bpe_fb[(unsigned char)p[j]];
        if (fb[0] == WL_TOK_NULL && fb[1] == WL_TOK_NULL)
            st->n_bytes_dropped++;
        for (int k = 0; k < 2; k++) {
            if (fb[k] == WL_TOK_NULL)
                continue;
            st->n_byte_fallback++;
            int rc = wl__tok_ivec_push(out, fb[k]);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int merge_word(const wl_tokenizer *t, const char *w, size_t n, struct wl__tok_scratch *s,
                      struct wl__tok_ivec *out, struct wl_tok_stats *st)
{
    if (t->ignore_merges || n == 1) {
        st->n_lookups++;
        int32_t id = wl__tok_map_get(&t->bpe_map, t->pool, w, n, 0);
        if (id != WL_TOK_NULL) {
            st->n_symbols++;
            return wl__tok_ivec_push(out, id);
        }
    }
    if (n > s->sym_cap) {
        struct wl__tok_sym *ns = realloc(s->sym, n * sizeof(*ns));
        if (!ns)
            return WL_ENOMEM;
        s->sym = ns;
        s->sym_cap = n;
    }
    int32_t ns = (int32_t)n;
    for (int32_t i = 0; i < ns; i++)
        s->sym[i] = (struct wl__tok_sym){i - 1, i + 1 < ns ? i + 1 : -1, (uint32_t)i, 1};
    st->n_symbols += n;

    int rc = wl__tok_merge_symbols(t, s, w, ns, add_pair, st);
    for (int32_t i = 0; rc == 0 && i != -1; i = s->sym[i].next)
        rc = emit_symbol(t, w + s->sym[i].off, s->sym[i].n, out, st);
    return rc;
}

/* The word to merge: w itself, or a copy in s->buf where each invalid UTF-8
 * unit whose byte the vocabulary cannot spell (bpe_lost) is U+FFFD (EF BF BD),
 * which is what llama.cpp merges there (the pre-tokenizer already classes
 * such a byte as U+FFFD, so the word is llama.cpp's word). Counted in
 * n_bytes_replaced. */
static int replace_lost(const wl_tokenizer *t, struct wl__tok_scratch *s, const char **w, size_t *n,
                        struct wl_tok_stats *st)
{
    const unsigned char *p = (const unsigned char *)*w;
    size_t len = *n, n_rep = 0, i = 0;
    while (i < len && !t->bpe_lost[p[i]])
        i++;
    if (i == len) /* the common case: every byte has a token */
        return 0;
    for (size_t j = 0; j < len;) {
        uint32_t cp;
        size_t l = wl__utf8_decode(p + j, len - j, &cp);
        n_rep += l == 0 && t->bpe_lost[p[j]];
        j += l ? l : 1;
    }
    if (n_rep == 0)
        return 0;
    const size_t need = len + 2 * n_rep;
    if (need > s->buf_cap) {
        char *nb = realloc(s->buf, need);
        if (!nb)
            return WL_ENOMEM;
        s->buf = nb;
        s->buf_cap = need;
    }
    size_t o = 0;
    for (size_t j = 0; j < len;) {
        uint32_t cp;
        size_t l = wl__utf8_decode(p + j, len - j, &cp);
        if (l == 0 && t->bpe_lost[p[j]]) {
            memcpy(s->buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            j++;
            continue;
        }
        l = l ? l : 1;
        memcpy(s->buf + o, p + j, l);
        o += l;
        j += l;
    }
    st->n_bytes_replaced += n_rep;
    *w = s->buf;
    *n = o;
    return 0;
}

int wl__tok_bpe_fragment(const wl_tokenizer *t, const char *text, size_t len,
                         struct wl__tok_scratch *s, struct wl__tok_ivec *out,
                         struct wl_tok_stats *st)
{
    uint64_t t0 = wl_clock_now_ns();
    s->ends.n = 0;
    int rc = wl__tok_pretokenize(t, text, len, &s->ends);
    uint64_t t1 = wl_clock_now_ns();
    st->t_pretok_ns += t1 - t0;
    size_t prev = 0;
    for (size_t i = 0; rc == 0 && i < s->ends.n; i++) {
        const char *w = text + prev;
        size_t n = s->ends.v[i] - prev;
        prev = s->ends.v[i];
        st->n_words++;
        const char *mw = w; /* the word as merged */
        size_t mn = n;
        if (n > WL__TOK_CACHE_MAX_WORD) {
            rc = replace_lost(t, s, &mw, &mn, st);
            if (rc == 0)
                rc = merge_word(t, mw, mn, s, out, st);
            continue;
        }
        uint64_t h = wl__tok_hash(t->hash_key, w, n, 0);
        if (wl__tok_cache_get(s, w, n, h, out, &st->n_byte_fallback, &rc)) {
            st->n_cache_hits++;
            continue;
        }
        st->n_cache_misses++;
        size_t first = out->n;
        uint64_t dropped = st->n_bytes_dropped, fallback = st->n_byte_fallback;
        uint64_t replaced = st->n_bytes_replaced;
        rc = replace_lost(t, s, &mw, &mn, st);
        if (rc == 0)
            rc = merge_word(t, mw, mn, s, out, st);
        /* words that dropped or replaced bytes are not cached: counts stay per word */
        if (rc == 0 && st->n_bytes_dropped == dropped && st->n_bytes_replaced == replaced)
            rc = wl__tok_cache_put(s, w, n, h, out->v + first, out->n - first,
                                   st->n_byte_fallback - fallback);
    }
    st->t_merge_ns += wl_clock_now_ns() - t1;
    return rc;
}

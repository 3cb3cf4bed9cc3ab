/* SentencePiece-style BPE ("llama" vocabularies), as llama.cpp runs it: the
 * fragment (with a "▁" prefix when asked) has every space replaced by "▁",
 * is split into characters, and adjacent pairs whose concatenation is a
 * vocabulary token are merged, highest token score first (ties: leftmost).
 * Symbols that end up outside the vocabulary become byte tokens ("<0xNN>").
 * O(n log n) in the fragment length via a candidate heap; no word split, as in
 * the reference. Scratch memory belongs to the call; thread-safe.
 */
#include "engine/tokenizer_impl.h"

#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

static const char SPACE_ESC[3] = {(char)0xE2, (char)0x96, (char)0x81}; /* U+2581 ▁ */

/* Ordered key for "highest score first, then leftmost": smaller is better. */
static uint64_t score_key(float score, int32_t left)
{
    uint32_t u;
    if (score == 0.0f)
        score = 0.0f; /* -0 == +0 as the reference compares floats */
    memcpy(&u, &score, sizeof(u));
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* ascending with the float */
    return ((uint64_t)(~u) << 32) | (uint32_t)left;
}

static int try_add(const wl_tokenizer *t, struct wl__tok_scratch *s, const char *buf, int32_t l,
                   int32_t r, struct wl_tok_stats *st)
{
    if (l < 0 || r < 0)
        return 0;
    const struct wl__tok_sym *a = &s->sym[l], *b = &s->sym[r];
    size_t n = (size_t)a->n + b->n;
    st->n_lookups++;
    int32_t id = wl__tok_map_get(&t->text_map, t->pool, buf + a->off, n, 0);
    if (id == WL_TOK_NULL)
        return 0;
    st->n_candidates++;
    struct wl__tok_cand c = {score_key(t->tok[id].score, l), r, (uint32_t)n};
    return wl__tok_heap_push(&s->heap, c);
}

static int emit_symbol(const wl_tokenizer *t, const char *p, size_t n, struct wl__tok_ivec *out,
                       struct wl_tok_stats *st)
{
    st->n_lookups++;
    int32_t id = wl__tok_map_get(&t->text_map, t->pool, p, n, 0);
    if (id != WL_TOK_NULL)
        return wl__tok_ivec_push(out, id);
    for (size_t j = 0; j < n; j++) {
        int32_t b = t->spm_byte[(unsigned char)p[j]];
        if (b == WL_TOK_NULL) {
            st->n_bytes_dropped++;
            continue;
        }
        st->n_byte_fallback++;
        int rc = wl__tok_ivec_push(out, b);
        if (rc)
            return rc;
    }
    return 0;
}

/* Unit code of the character at p (0 when invalid UTF-8: byte + 0x110000). */
static uint32_t unit_at(const char *p, size_t n, size_t *len)
{
    uint32_t cp;
    size_t l = wl__utf8_decode((const unsigned char *)p, n, &cp);
    if (l == 0) {
        *len = 1;
        return 0x110000u + (unsigned char)p[0];
    }
    *len = l;
    return cp;
}

bool wl__tok_spm_pair_possible(const wl_tokenizer *t, uint32_t a, uint32_t b)
{
    if (!t->spm_pairs)
        return true;
    uint64_t key = (((uint64_t)a << 21) | b) + 1;
    size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & t->spm_pairs_mask;
    while (t->spm_pairs[j]) {
        if (t->spm_pairs[j] == key)
            return true;
        j = (j + 1) & t->spm_pairs_mask;
    }
    return false;
}

/* Merges one independent segment buf[0..len) and appends its tokens. */
static int spm_segment(const wl_tokenizer *t, const char *buf, size_t len,
                       struct wl__tok_scratch *s, struct wl__tok_ivec *out, struct wl_tok_stats *st)
{
    if (len > s->sym_cap) {
        struct wl__tok_sym *ns = realloc(s->sym, len * sizeof(*ns));
        if (!ns)
            return WL_ENOMEM;
        s->sym = ns;
        s->sym_cap = len;
    }
    int32_t n_sym = 0;
    for (size_t i = 0; i < len;) {
        size_t l;
        (void)unit_at(buf + i, len - i, &l);
        s->sym[n_sym] = (struct wl__tok_sym){n_sym - 1, n_sym + 1, (uint32_t)i, (uint32_t)l};
        n_sym++;
        i += l;
    }
    s->sym[n_sym - 1].next = -1;
    st->n_symbols += (uint64_t)n_sym;

    int rc = wl__tok_merge_symbols(t, s, buf, n_sym, try_add, st);
    for (int32_t i = 0; rc == 0 && i != -1; i = s->sym[i].next)
        rc = emit_symbol(t, buf + s->sym[i].off, s->sym[i].n, out, st);
    return rc;
}

int wl__tok_spm_need(size_t len, size_t n_space, bool space_prefix, size_t *need)
{
    /* with len <= WL_TOK_MAX_TEXT_BYTES, need <= 3 GiB + 3 and there are at
     * most 1 GiB + 1 characters, so this never fires for a checked call */
    *need = len + 2 * n_space + (space_prefix ? 3 : 0);
    return *need > UINT32_MAX || len >= (size_t)INT32_MAX ? WL_ERANGE : 0;
}

int wl__tok_spm_fragment(const wl_tokenizer *t, const char *text, size_t len, bool space_prefix,
                         struct wl__tok_scratch *s, struct wl__tok_ivec *out,
                         struct wl_tok_stats *st)
{
    size_t n_space = 0;
    for (size_t i = 0; i < len; i++)
        n_space += text[i] == ' ';
    size_t need = 0;
    if (wl__tok_spm_need(len, n_space, space_prefix, &need) != 0)
        return WL_ERANGE;
    if (need == 0)
        return 0;
    if (need > s->buf_cap) {
        char *nb = realloc(s->buf, need);
        if (!nb)
            return WL_ENOMEM;
        s->buf = nb;
        s->buf_cap = need;
    }
    char *buf = s->buf;
    size_t k = 0;
    if (space_prefix) {
        memcpy(buf, SPACE_ESC, 3);
        k = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + k, SPACE_ESC, 3);
            k += 3;
        } else {
            buf[k++] = text[i];
        }
    }

    /* Cut where no token contains the two characters side by side: merging
     * never crosses such a boundary, so the segments are independent (same
     * result as merging the whole fragment, but small heaps and cacheable). */
    int rc = 0;
    size_t seg = 0, l0;
    uint32_t prev = unit_at(buf, need, &l0);
    for (size_t i = l0; rc == 0 && i <= need;) {
        size_t l = 0;
        uint32_t cur = i < need ? unit_at(buf + i, need - i, &l) : 0;
        if (i == need || !wl__tok_spm_pair_possible(t, prev, cur)) {
            const char *w = buf + seg;
            size_t n = i - seg;
            st->n_words++;
            uint64_t h = wl__tok_hash(t->hash_key, w, n, 0);
            if (n <= WL__TOK_CACHE_MAX_WORD &&
                wl__tok_cache_get(s, w, n, h, out, &st->n_byte_fallback, &rc)) {
                st->n_cache_hits++;
            } else if (rc == 0) {
                size_t first = out->n;
                uint64_t dropped = st->n_bytes_dropped, fallback = st->n_byte_fallback;
                st->n_cache_misses += n <= WL__TOK_CACHE_MAX_WORD;
                rc = spm_segment(t, w, n, s, out, st);
                if (rc == 0 && st->n_bytes_dropped == dropped)
                    rc = wl__tok_cache_put(s, w, n, h, out->v + first, out->n - first,
                                           st->n_byte_fallback - fallback);
            }
            seg = i;
        }
        if (i == need)
            break;
        prev = cur;
        i += l;
    }
    return rc;
}

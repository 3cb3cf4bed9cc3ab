/* Tokenize entry points: splits special tokens out of the text, hands each
 * remaining fragment to SPM or BPE merging, adds BOS/EOS, and accounts the
 * profiling counters and phase times.
 *
 * Special tokens follow llama.cpp: longer texts are matched first over the
 * whole text, each token's leftmost non-overlapping occurrences in what is
 * still plain text; user-defined tokens are always matched, control and
 * unknown ones only with WL_TOK_PARSE_SPECIAL. This file walks a trie of
 * the special texts and accepts occurrences in that priority order through
 * a heap holding one candidate per position (no rescans per token, no list
 * of every overlapping occurrence). Per-call memory; thread-safe.
 */
#include "engine/tokenizer_impl.h"

#include "util/clock.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct occ {
    uint32_t pos, len;
    int32_t token;
};

/* Acceptance order: longer first, then lower id, then leftmost. */
static bool occ_before(const struct occ *a, const struct occ *b)
{
    if (a->len != b->len)
        return a->len > b->len;
    if (a->token != b->token)
        return a->token < b->token;
    return a->pos < b->pos;
}

static int occ_position(const void *pa, const void *pb)
{
    const struct occ *a = pa, *b = pb;
    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}

static void occ_sift_down(struct occ *h, size_t n, size_t i)
{
    struct occ x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && occ_before(&h[c + 1], &h[c]))
            c++;
        if (!occ_before(&h[c], &x))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void occ_push(struct occ *h, size_t *n, struct occ x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!occ_before(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static bool c_isspace(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool special_enabled(const wl_tokenizer *t, int32_t id, bool parse_special)
{
    return parse_special || !(t->tok[id].attr & (WL_TOK_ATTR_CONTROL | WL_TOK_ATTR_UNKNOWN));
}

/* The longest enabled special token that starts at p[0] and is at most max
 * bytes long: its length (0 if none) and id. One trie walk. */
static uint32_t longest_match(const wl_tokenizer *t, const unsigned char *p, size_t max,
                              bool parse_special, int32_t *token)
{
    uint32_t best = 0;
    uint32_t node = max ? t->trie_root[p[0]] : 0;
    for (size_t j = 0; node;) {
        const struct wl__tok_trie_node *nd = &t->trie[node];
        if (nd->token != WL_TOK_NULL && special_enabled(t, nd->token, parse_special)) {
            best = (uint32_t)(j + 1);
            *token = nd->token;
        }
        if (++j >= max)
            break;
        uint32_t c = nd->first_child;
        while (c && t->trie[c].byte != p[j])
            c = t->trie[c].next;
        node = c;
    }
    return best;
}

/* Which occurrences become special tokens. llama.cpp's rule amounts to:
 * take every enabled occurrence in the order (length descending, id, then
 * position) and accept it when none of its bytes is taken yet (LSTRIP /
 * RSTRIP then also take the adjacent whitespace). Listing every occurrence
 * costs memory and time in the number of overlapping occurrences: with the
 * nested space-run tokens of NeoX / phi-2 style vocabularies every position
 * of a whitespace run starts ~30 of them (8 MiB of spaces took 221 s and
 * 5.9 GB). So they are generated lazily, in the same order: a heap holds at
 * most one candidate per position, initially its longest match. A popped
 * candidate whose first byte is taken is dropped (every later candidate at
 * that position contains that byte, and bytes are never freed); one whose
 * span is free is accepted; otherwise the next one at its position is the
 * longest match that ends before the first taken byte, pushed in its place
 * (it comes after the popped one in the order, so the pops stay sorted).
 * Each accepted or rejected candidate is decided exactly where the full
 * sorted list would decide it. Cost: O(N log N) heap operations plus trie
 * walks of at most the longest special token per (re)push; memory: 12 bytes
 * per position that starts an occurrence, 1 byte per text byte.
 * Fills *frags (malloc'ed) with the fragments of text in order. */
int wl__tok_partition(const wl_tokenizer *t, const char *text, size_t len, bool parse_special,
                      struct wl__tok_frag **frags, size_t *n_frags, uint64_t *n_special)
{
    struct occ *heap = NULL;
    size_t n_heap = 0;
    struct occ *acc = NULL; /* accepted, reusing the heap's array from its end */
    uint8_t *mark = NULL;
    struct wl__tok_frag *f = NULL;
    size_t nf = 0;
    int rc = 0;
    const unsigned char *p = (const unsigned char *)text;

    size_t n_cand = 0, cap = 0;
    for (size_t i = 0; t->n_trie && i < len; i++) {
        int32_t id = WL_TOK_NULL;
        uint32_t l = longest_match(t, p + i, len - i, parse_special, &id);
        if (!l)
            continue;
        if (n_cand == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct occ *nh = realloc(heap, nc * sizeof(*nh));
            if (!nh) {
                rc = WL_ENOMEM;
                goto fail;
            }
            heap = nh;
            cap = nc;
        }
        heap[n_cand++] = (struct occ){(uint32_t)i, l, id};
    }
    if (n_cand == 0) {
        f = malloc(sizeof(*f));
        if (!f)
            return WL_ENOMEM;
        f[0] = (struct wl__tok_frag){0, (uint32_t)len, WL_TOK_NULL};
        *frags = f;
        *n_frags = 1;
        return 0;
    }
    mark = calloc(len, 1); /* 0 text, 1 token, 2 stripped space */
    if (!mark) {
        rc = WL_ENOMEM;
        goto fail;
    }
    n_heap = n_cand;
    for (size_t i = n_heap / 2; i-- > 0;)
        occ_sift_down(heap, n_heap, i);

    /* The heap never grows past n_cand: a pop makes room for its push. The
     * accepted ones are stored from the array's end, in the slots the heap
     * has given up (heap size + accepted <= n_cand at every step). */
    size_t n_acc = 0;
    while (n_heap > 0) {
        struct occ o = heap[0];
        heap[0] = heap[--n_heap];
        occ_sift_down(heap, n_heap, 0);
        if (mark[o.pos] != 0)
            continue;
        size_t end = (size_t)o.pos + o.len, j = o.pos + 1;
        while (j < end && mark[j] == 0)
            j++;
        if (j < end) { /* byte j is taken: the next candidate must end before it */
            int32_t id = WL_TOK_NULL;
            uint32_t l = longest_match(t, p + o.pos, j - o.pos, parse_special, &id);
            if (l)
                occ_push(heap, &n_heap, (struct occ){o.pos, l, id});
            continue;
        }
        memset(mark + o.pos, 1, o.len);
        unsigned attr = t->tok[o.token].attr;
        if (attr & WL_TOK_ATTR_LSTRIP) {
            for (size_t k = o.pos; k > 0 && mark[k - 1] == 0 && c_isspace(p[k - 1]); k--)
                mark[k - 1] = 2;
        }
        if (attr & WL_TOK_ATTR_RSTRIP) {
            for (size_t k = end; k < len && mark[k] == 0 && c_isspace(p[k]); k++)
                mark[k] = 2;
        }
        heap[n_cand - 1 - n_acc++] = o;
    }
    acc = heap + n_cand - n_acc;
    qsort(acc, n_acc, sizeof(*acc), occ_position);
    *n_special += n_acc;

    f = malloc((2 * n_acc + 1) * sizeof(*f));
    if (!f) {
        rc = WL_ENOMEM;
        goto fail;
    }
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        if (mark[i] == 1) {
            f[nf++] = (struct wl__tok_frag){acc[k].pos, acc[k].len, acc[k].token};
            i += acc[k].len;
            k++;
        } else if (mark[i] == 2) {
            i++;
        } else {
            size_t j = i;
            while (j < len && mark[j] == 0)
                j++;
            f[nf++] = (struct wl__tok_frag){(uint32_t)i, (uint32_t)(j - i), WL_TOK_NULL};
            i = j;
        }
    }
    free(mark);
    free(heap);
    *frags = f;
    *n_frags = nf;
    return 0;
fail:
    free(mark);
    free(heap);
    free(f);
    return rc;
}

void wl__tok_scratch_free(struct wl__tok_scratch *s)
{
    free(s->sym);
    free(s->heap.v);
    free(s->buf);
    free(s->ends.v);
    free(s->wc);
    free(s->wc_ids.v);
    free(s->wc_keys);
    memset(s, 0, sizeof(*s));
}

static void stats_add(struct wl_tok_stats *d, const struct wl_tok_stats *s)
{
    const uint64_t *a = (const uint64_t *)s;
    uint64_t *b = (uint64_t *)d;
    for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
        b[i] += a[i];
}

static int tokenize_vec(const wl_tokenizer *t, const char *text, size_t len, unsigned flags,
                        struct wl__tok_ivec *out, struct wl_tok_stats *stats)
{
    struct wl_tok_stats st = {0};
    struct wl__tok_scratch s = {0};
    struct wl__tok_frag *fr = NULL;
    size_t nf = 0;
    int rc = 0;
    uint64_t t0 = wl_clock_now_ns();
    uint64_t c0 = wl_clock_thread_cpu_ns();

    if (!t || (!text && len))
        return WL_EINVAL;
    if (len > WL_TOK_MAX_TEXT_BYTES)
        return WL_ERANGE;
    if ((flags & WL_TOK_ADD_BOS) && t->add_bos && t->bos != WL_TOK_NULL) {
        if ((rc = wl__tok_ivec_push(out, t->bos)) != 0)
            goto done;
    }
    if (len > 0) {
        rc = wl__tok_partition(t, text, len, (flags & WL_TOK_PARSE_SPECIAL) != 0, &fr, &nf,
                               &st.n_special);
        if (rc)
            goto done;
    }
    st.t_special_ns = wl_clock_now_ns() - t0;
    bool prev_special = true; /* SPM: the first fragment gets the space prefix */
    for (size_t i = 0; i < nf && rc == 0; i++) {
        if (fr[i].token != WL_TOK_NULL) {
            rc = wl__tok_ivec_push(out, fr[i].token);
            prev_special = true;
            continue;
        }
        st.n_fragments++;
        if (t->model == WL_TOK_MODEL_SPM) {
            uint64_t tm = wl_clock_now_ns();
            rc = wl__tok_spm_fragment(t, text + fr[i].off, fr[i].len,
                                      t->add_space_prefix && prev_special, &s, out, &st);
            st.t_merge_ns += wl_clock_now_ns() - tm;
        } else {
            rc = wl__tok_bpe_fragment(t, text + fr[i].off, fr[i].len, &s, out, &st);
        }
        prev_special = false;
    }
    if (rc == 0 && (flags & WL_TOK_ADD_EOS) && t->add_eos && t->eos != WL_TOK_NULL)
        rc = wl__tok_ivec_push(out, t->eos);
done:
    free(fr);
    wl__tok_scratch_free(&s);
    if (rc == 0 && stats) {
        st.n_calls = 1;
        st.n_bytes = len;
        st.n_tokens = out->n;
        st.t_total_ns = wl_clock_now_ns() - t0;
        st.t_cpu_ns = wl_clock_thread_cpu_ns() - c0;
        stats_add(stats, &st);
    }
    return rc;
}

int wl_tok_tokenize_alloc(const wl_tokenizer *t, const char *text, size_t len, unsigned flags,
                          int32_t **ids_out, size_t *n_out, struct wl_tok_stats *stats)
{
    struct wl__tok_ivec v = {0};
    *ids_out = NULL;
    *n_out = 0;
    int rc = tokenize_vec(t, text, len, flags, &v, stats);
    if (rc) {
        free(v.v);
        return rc;
    }
    if (v.n == 0) {
        free(v.v);
        return 0;
    }
    *ids_out = v.v;
    *n_out = v.n;
    return 0;
}

int wl_tok_tokenize(const wl_tokenizer *t, const char *text, size_t len, unsigned flags,
                    int32_t *ids, size_t cap, size_t *n_out, struct wl_tok_stats *stats)
{
    struct wl__tok_ivec v = {0};
    int rc = tokenize_vec(t, text, len, flags, &v, stats);
    if (rc == 0) {
        *n_out = v.n;
        if (v.n > cap)
            rc = WL_EFULL;
        else if (v.n)
            memcpy(ids, v.v, v.n * sizeof(*ids));
    }
    free(v.v);
    return rc;
}

double wl_tok_stats_tokens_per_s(const struct wl_tok_stats *s)
{
    return s->t_total_ns ? (double)s->n_tokens * 1e9 / (double)s->t_total_ns : 0.0;
}

double wl_tok_stats_mb_per_s(const struct wl_tok_stats *s)
{
    return s->t_total_ns ? (double)s->n_bytes / 1e6 * 1e9 / (double)s->t_total_ns : 0.0;
}

double wl_tok_stats_mb_per_cpu_s(const struct wl_tok_stats *s)
{
    return s->t_cpu_ns ? (double)s->n_bytes / 1e6 * 1e9 / (double)s->t_cpu_ns : 0.0;
}

double wl_tok_stats_cache_hit_rate(const struct wl_tok_stats *s)
{
    uint64_t n = s->n_cache_hits + s->n_cache_misses;
    return n ? (double)s->n_cache_hits / (double)n : 0.0;
}

bool wl_tok_stats_input_changed(const struct wl_tok_stats *s, char *buf, size_t cap)
{
    const unsigned long long rep = s->n_bytes_replaced, drop = s->n_bytes_dropped;
    if (cap)
        buf[0] = '\0';
    if (rep == 0 && drop == 0)
        return false;
    int k = 0;
    if (rep)
        k = snprintf(buf, cap,
                     "%llu input byte%s not valid UTF-8 and %s no token in this vocabulary: "
                     "tokenized as U+FFFD",
                     rep, rep == 1 ? " is" : "s are", rep == 1 ? "has" : "have");
    if (drop && k >= 0 && (size_t)k < cap)
        snprintf(buf + k, cap - (size_t)k,
                 "%s%llu input byte%s no token in this vocabulary and %s dropped", rep ? "; " : "",
                 drop, drop == 1 ? " has" : "s have", drop == 1 ? "was" : "were");
    return true;
}

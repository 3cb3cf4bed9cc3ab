/* Tokenize entry points: splits special tokens out of the text, hands each
 * remaining fragment to SPM or BPE merging, adds BOS/EOS, and accounts the
 * profiling counters and phase times.
 *
 * Special tokens follow llama.cpp: longer texts are matched first over the
 * whole text, each token's leftmost non-overlapping occurrences in what is
 * still plain text; user-defined tokens are always matched, control and
 * unknown ones only with WL_TOK_PARSE_SPECIAL. This file finds every
 * occurrence with one trie walk per position, then accepts them in that
 * priority order (no rescans per token). Per-call memory; thread-safe.
 */
#include "engine/tokenizer_impl.h"

#include "util/clock.h"
#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

struct occ {
    uint32_t pos, len;
    int32_t token;
};

struct frag {
    uint32_t off, len; /* text fragment, or the matched special token's span */
    int32_t token;     /* WL_TOK_NULL for text */
};

static int occ_priority(const void *pa, const void *pb)
{
    const struct occ *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    if (a->token != b->token)
        return a->token < b->token ? -1 : 1;
    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}

static int occ_position(const void *pa, const void *pb)
{
    const struct occ *a = pa, *b = pb;
    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}

static bool c_isspace(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool special_enabled(const wl_tokenizer *t, int32_t id, bool parse_special)
{
    return parse_special || !(t->tok[id].attr & (WL_TOK_ATTR_CONTROL | WL_TOK_ATTR_UNKNOWN));
}

/* Fills *frags (malloc'ed) with the fragments of text in order. */
static int partition(const wl_tokenizer *t, const char *text, size_t len, bool parse_special,
                     struct frag **frags, size_t *n_frags, uint64_t *n_special)
{
    struct occ *occ = NULL;
    size_t n_occ = 0, cap_occ = 0;
    uint8_t *mark = NULL;
    struct frag *f = NULL;
    size_t nf = 0;
    int rc = 0;
    const unsigned char *p = (const unsigned char *)text;

    for (size_t i = 0; t->n_trie && i < len; i++) {
        uint32_t node = t->trie_root[p[i]];
        for (size_t j = i; node;) {
            const struct wl__tok_trie_node *nd = &t->trie[node];
            if (nd->token != WL_TOK_NULL && special_enabled(t, nd->token, parse_special)) {
                if (n_occ == cap_occ) {
                    size_t nc = cap_occ ? cap_occ * 2 : 64;
                    struct occ *no = realloc(occ, nc * sizeof(*no));
                    if (!no) {
                        rc = WL_ENOMEM;
                        goto fail;
                    }
                    occ = no;
                    cap_occ = nc;
                }
                occ[n_occ++] = (struct occ){(uint32_t)i, (uint32_t)(j + 1 - i), nd->token};
            }
            if (++j >= len)
                break;
            uint32_t c = nd->first_child;
            while (c && t->trie[c].byte != p[j])
                c = t->trie[c].next;
            node = c;
        }
    }

    if (n_occ == 0) {
        f = malloc(sizeof(*f));
        if (!f)
            return WL_ENOMEM;
        f[0] = (struct frag){0, (uint32_t)len, WL_TOK_NULL};
        *frags = f;
        *n_frags = 1;
        return 0;
    }

    /* Accept occurrences by priority; mark: 0 text, 1 token, 2 stripped space. */
    qsort(occ, n_occ, sizeof(*occ), occ_priority);
    mark = calloc(len, 1);
    if (!mark) {
        rc = WL_ENOMEM;
        goto fail;
    }
    size_t n_acc = 0;
    for (size_t k = 0; k < n_occ; k++) {
        struct occ o = occ[k];
        bool free_span = true;
        for (size_t j = o.pos; j < (size_t)o.pos + o.len && free_span; j++)
            free_span = mark[j] == 0;
        if (!free_span)
            continue;
        memset(mark + o.pos, 1, o.len);
        unsigned attr = t->tok[o.token].attr;
        if (attr & WL_TOK_ATTR_LSTRIP) {
            for (size_t j = o.pos; j > 0 && mark[j - 1] == 0 && c_isspace(p[j - 1]); j--)
                mark[j - 1] = 2;
        }
        if (attr & WL_TOK_ATTR_RSTRIP) {
            for (size_t j = (size_t)o.pos + o.len; j < len && mark[j] == 0 && c_isspace(p[j]); j++)
                mark[j] = 2;
        }
        occ[n_acc++] = o;
    }
    qsort(occ, n_acc, sizeof(*occ), occ_position);
    *n_special += n_acc;

    f = malloc((2 * n_acc + 1) * sizeof(*f));
    if (!f) {
        rc = WL_ENOMEM;
        goto fail;
    }
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        if (mark[i] == 1) {
            f[nf++] = (struct frag){occ[k].pos, occ[k].len, occ[k].token};
            i += occ[k].len;
            k++;
        } else if (mark[i] == 2) {
            i++;
        } else {
            size_t j = i;
            while (j < len && mark[j] == 0)
                j++;
            f[nf++] = (struct frag){(uint32_t)i, (uint32_t)(j - i), WL_TOK_NULL};
            i = j;
        }
    }
    free(mark);
    free(occ);
    *frags = f;
    *n_frags = nf;
    return 0;
fail:
    free(mark);
    free(occ);
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
    struct frag *fr = NULL;
    size_t nf = 0;
    int rc = 0;
    uint64_t t0 = wl_clock_now_ns();
    uint64_t c0 = wl_clock_thread_cpu_ns();

    if (!t || (!text && len))
        return WL_EINVAL;
    if (len > UINT32_MAX / 4)
        return WL_ERANGE; /* offsets are 32-bit; 1 GiB per call is plenty */
    if ((flags & WL_TOK_ADD_BOS) && t->add_bos && t->bos != WL_TOK_NULL) {
        if ((rc = wl__tok_ivec_push(out, t->bos)) != 0)
            goto done;
    }
    if (len > 0) {
        rc = partition(t, text, len, (flags & WL_TOK_PARSE_SPECIAL) != 0, &fr, &nf, &st.n_special);
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

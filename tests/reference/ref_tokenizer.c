/* The reference of the special-token partition (ref_tokenizer.h): the
 * partition before the lazy heap, as it was but for where it allocates the
 * fragments (after acceptance, so only for the accepted occurrences).
 */
#include "ref_tokenizer.h"

#include <stdlib.h>
#include <string.h>

static int ref_priority(const void *pa, const void *pb)
{
    const struct wl_ref_tok_occ *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    if (a->token != b->token)
        return a->token < b->token ? -1 : 1;
    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}

static int ref_position(const void *pa, const void *pb)
{
    const struct wl_ref_tok_occ *a = pa, *b = pb;
    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}

static bool ref_isspace(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool ref_enabled(const wl_tokenizer *t, int32_t id, bool parse_special)
{
    return parse_special || !(t->tok[id].attr & (WL_TOK_ATTR_CONTROL | WL_TOK_ATTR_UNKNOWN));
}

int wl_ref_tok_partition(const wl_tokenizer *t, const char *text, size_t len, bool parse_special,
                         struct wl__tok_frag **frags, size_t *n_frags, uint64_t *n_special,
                         size_t *n_listed)
{
    struct wl_ref_tok_occ *occ = NULL;
    size_t n_occ = 0, cap_occ = 0;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; t->n_trie && i < len; i++) {
        uint32_t node = t->trie_root[p[i]];
        for (size_t j = i; node;) {
            const struct wl__tok_trie_node *nd = &t->trie[node];
            if (nd->token != WL_TOK_NULL && ref_enabled(t, nd->token, parse_special)) {
                if (n_occ == cap_occ) {
                    cap_occ = cap_occ ? cap_occ * 2 : 64;
                    struct wl_ref_tok_occ *no = realloc(occ, cap_occ * sizeof(*no));
                    if (!no) {
                        free(occ);
                        return -1;
                    }
                    occ = no;
                }
                occ[n_occ++] =
                    (struct wl_ref_tok_occ){(uint32_t)i, (uint32_t)(j + 1 - i), nd->token};
            }
            if (++j >= len)
                break;
            uint32_t c = nd->first_child;
            while (c && t->trie[c].byte != p[j])
                c = t->trie[c].next;
            node = c;
        }
    }
    if (n_listed)
        *n_listed = n_occ;
    uint8_t *mark = calloc(len ? len : 1, 1);
    struct wl__tok_frag *f = NULL;
    size_t nf = 0;
    if (!mark)
        goto fail;
    if (n_occ) /* occ is NULL without occurrences (qsort's base must not be) */
        qsort(occ, n_occ, sizeof(*occ), ref_priority);
    size_t n_acc = 0;
    for (size_t k = 0; k < n_occ; k++) {
        struct wl_ref_tok_occ o = occ[k];
        bool free_span = true;
        for (size_t j = o.pos; j < (size_t)o.pos + o.len && free_span; j++)
            free_span = mark[j] == 0;
        if (!free_span)
            continue;
        memset(mark + o.pos, 1, o.len);
        unsigned attr = t->tok[o.token].attr;
        if (attr & WL_TOK_ATTR_LSTRIP) {
            for (size_t j = o.pos; j > 0 && mark[j - 1] == 0 && ref_isspace(p[j - 1]); j--)
                mark[j - 1] = 2;
        }
        if (attr & WL_TOK_ATTR_RSTRIP) {
            for (size_t j = (size_t)o.pos + o.len; j < len && mark[j] == 0 && ref_isspace(p[j]);
                 j++)
                mark[j] = 2;
        }
        occ[n_acc++] = o;
    }
    /* each accepted token and at most one plain run before it, one after */
    f = malloc((2 * n_acc + 1) * sizeof(*f));
    if (!f)
        goto fail;
    if (n_occ == 0) {
        f[nf++] = (struct wl__tok_frag){0, (uint32_t)len, WL_TOK_NULL};
        goto out;
    }
    qsort(occ, n_acc, sizeof(*occ), ref_position);
    *n_special += n_acc;
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        if (mark[i] == 1) {
            f[nf++] = (struct wl__tok_frag){occ[k].pos, occ[k].len, occ[k].token};
            i += occ[k].len;
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
out:
    free(mark);
    free(occ);
    *frags = f;
    *n_frags = nf;
    return 0;
fail:
    free(mark);
    free(occ);
    return -1;
}

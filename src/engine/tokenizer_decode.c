/* Detokenization: token pieces, whole-sequence detokenize, and the streaming
 * decoder that only ever emits complete UTF-8 characters.
 *
 * Leading-space rule (SentencePiece models with add_space_prefix): the
 * tokenizer puts a "▁" before the text at the start and after every special
 * token, so decoding drops one leading space from the first text piece at the
 * start and after BOS or any other special token. This makes
 * detokenize(tokenize(x)) == x and matches SentencePiece's decode. Byte-level
 * BPE never inserts that space, whatever add_space_prefix says, so its spaces
 * are all real text and none is dropped.
 * No allocation in the decoder; a decoder belongs to one thread.
 */
#include "engine/tokenizer_impl.h"

#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

static const unsigned SPECIALISH =
    WL_TOK_ATTR_CONTROL | WL_TOK_ATTR_UNKNOWN | WL_TOK_ATTR_USER_DEFINED;

int wl_tok_token_piece(const wl_tokenizer *t, int32_t id, unsigned flags, const char **piece,
                       size_t *len)
{
    if (!t || id < 0 || (uint32_t)id >= t->n_vocab)
        return WL_EINVAL;
    const struct wl__tok_token *tk = &t->tok[id];
    *piece = t->pool + tk->piece_off;
    *len = tk->piece_len;
    if (!(flags & WL_DETOK_SPECIAL) && (tk->attr & (WL_TOK_ATTR_CONTROL | WL_TOK_ATTR_UNKNOWN)))
        *len = 0;
    return 0;
}

/* True when decoding drops the space the tokenizer inserted: only SPM
 * inserts one (llama.cpp's BPE ignores add_space_prefix when tokenizing). */
static bool strips_prefix(const wl_tokenizer *t, unsigned flags)
{
    return t->model == WL_TOK_MODEL_SPM && t->add_space_prefix && !(flags & WL_DETOK_KEEP_SPACE);
}

/* The piece of id after applying and updating the leading-space state. */
static int piece_stripped(const wl_tokenizer *t, int32_t id, unsigned flags, bool *strip,
                          const char **p, size_t *n)
{
    int rc = wl_tok_token_piece(t, id, flags, p, n);
    if (rc)
        return rc;
    if (t->tok[id].attr & SPECIALISH) {
        *strip = strips_prefix(t, flags);
        return 0;
    }
    if (t->tok[id].attr & (WL_TOK_ATTR_NORMAL | WL_TOK_ATTR_BYTE)) {
        if (*strip && *n > 0 && (*p)[0] == ' ') {
            (*p)++;
            (*n)--;
        }
        *strip = false;
    }
    return 0;
}

int wl_tok_detokenize(const wl_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                      char *buf, size_t cap, size_t *len_out)
{
    bool strip = strips_prefix(t, flags);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t k;
        int rc = piece_stripped(t, ids[i], flags, &strip, &p, &k);
        if (rc)
            return rc;
        if (buf && k && total + k <= cap)
            memcpy(buf + total, p, k);
        total += k;
    }
    *len_out = total;
    if (total > cap)
        return WL_EFULL;
    if (total < cap)
        buf[total] = '\0';
    return 0;
}

int wl_tok_detokenize_alloc(const wl_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                            char **text_out, size_t *len_out)
{
    size_t need = 0;
    *text_out = NULL;
    int rc = wl_tok_detokenize(t, ids, n, flags, NULL, 0, &need);
    if (rc && rc != WL_EFULL)
        return rc;
    char *b = malloc(need + 1);
    if (!b)
        return WL_ENOMEM;
    rc = wl_tok_detokenize(t, ids, n, flags, b, need + 1, len_out);
    if (rc) {
        free(b);
        return rc;
    }
    *text_out = b;
    return 0;
}

/* ---- streaming decoder ------------------------------------------------------------- */

void wl_tok_decoder_init(struct wl_tok_decoder *d, const wl_tokenizer *t, unsigned flags)
{
    memset(d, 0, sizeof(*d));
    d->tok = t;
    d->flags = flags;
    d->strip_next = strips_prefix(t, flags);
}

size_t wl_tok_decoder_out_max(const wl_tokenizer *t)
{
    return 3 * (t->max_piece_len + 4);
}

struct sink {
    char *out;
    size_t cap, n;
    bool full;
};

static void put(struct sink *s, const void *p, size_t n)
{
    if (s->n + n > s->cap) {
        s->full = true;
        return;
    }
    memcpy(s->out + s->n, p, n);
    s->n += n;
}

static void put_fffd(struct sink *s)
{
    put(s, "\xEF\xBF\xBD", 3);
}

/* Valid range of the byte following lead byte c (the second byte). */
static bool second_ok(uint8_t lead, uint8_t c)
{
    switch (lead) {
    case 0xE0:
        return c >= 0xA0 && c <= 0xBF;
    case 0xED:
        return c >= 0x80 && c <= 0x9F;
    case 0xF0:
        return c >= 0x90 && c <= 0xBF;
    case 0xF4:
        return c >= 0x80 && c <= 0x8F;
    default:
        return c >= 0x80 && c <= 0xBF;
    }
}

static void feed(struct wl_tok_decoder *d, struct sink *s, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (d->n_pend) {
            bool ok = d->n_pend == 1 ? second_ok(d->pend[0], c) : (c >= 0x80 && c <= 0xBF);
            if (ok) {
                d->pend[d->n_pend++] = c;
                if (d->n_pend == d->need) {
                    put(s, d->pend, d->n_pend);
                    d->n_pend = 0;
                }
                continue;
            }
            put_fffd(s); /* the incomplete character, then look at c afresh */
            d->n_pend = 0;
        }
        if (c < 0x80) {
            put(s, &c, 1);
        } else if (c >= 0xC2 && c <= 0xF4) {
            d->pend[0] = c;
            d->n_pend = 1;
            d->need = c < 0xE0 ? 2 : (c < 0xF0 ? 3 : 4);
        } else {
            put_fffd(s);
        }
    }
}

int wl_tok_decoder_push(struct wl_tok_decoder *d, int32_t id, char *out, size_t cap, size_t *n_out)
{
    struct wl_tok_decoder save = *d;
    const char *p;
    size_t n;
    *n_out = 0;
    int rc = piece_stripped(d->tok, id, d->flags, &d->strip_next, &p, &n);
    if (rc) {
        *d = save;
        return rc;
    }
    struct sink s = {out, cap, 0, false};
    feed(d, &s, (const unsigned char *)p, n);
    if (s.full) {
        *d = save;
        return WL_EFULL;
    }
    *n_out = s.n;
    return 0;
}

int wl_tok_decoder_flush(struct wl_tok_decoder *d, char *out, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (!d->n_pend)
        return 0;
    if (cap < 3)
        return WL_EFULL;
    memcpy(out, "\xEF\xBF\xBD", 3);
    *n_out = 3;
    d->n_pend = 0;
    return 0;
}

void wl_tok_decoder_drop_pending(struct wl_tok_decoder *d)
{
    d->n_pend = 0;
}

/* engine/tokenizer on small hand-built vocabularies (each rule in isolation:
 * score-driven SPM merges and their tie-break, byte fallback, the space
 * prefix and its removal on decode, special/user-defined tokens, RSTRIP,
 * BPE merge ranks, ignore_merges, the word cache, every pre-tokenizer's
 * splitting), the streaming decoder's UTF-8 handling, loader errors, and edge
 * cases on the real vocabularies: empty input, invalid UTF-8, 1 MB of text,
 * long whitespace and digit runs, concurrent use. An error quoting a long
 * multibyte token cuts it between characters. The hash maps are keyed:
 * texts chosen to collide do not. */
#include "test_support.h"
#include "tok_fixture.h"

#include "engine/gguf_write.h"
#include "engine/tokenizer.h"
#include "engine/tokenizer_impl.h"
#include "util/random.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SP "\xe2\x96\x81" /* ▁ */

/* ---- building vocabularies ---------------------------------------------------- */

struct vb {
    struct wl_tok_text tok[600];
    float score[600];
    int32_t type[600];
    char store[600][16];
    size_t n;
    struct wl_tok_text merges[64];
    size_t n_merges;
};

static int32_t vb_add(struct vb *v, const char *text, size_t len, float score, int32_t type)
{
    assert_true(v->n < 600 && len < 16);
    memcpy(v->store[v->n], text, len);
    v->tok[v->n] = (struct wl_tok_text){v->store[v->n], len};
    v->score[v->n] = score;
    v->type[v->n] = type;
    return (int32_t)v->n++;
}

static int32_t vb_s(struct vb *v, const char *text, float score, int32_t type)
{
    return vb_add(v, text, strlen(text), score, type);
}

/* SPM: <unk> <s> </s>, 256 byte tokens, then the given normal tokens. */
static void spm_base(struct vb *v)
{
    memset(v, 0, sizeof(*v));
    vb_s(v, "<unk>", 0, 2);
    vb_s(v, "<s>", 0, 3);
    vb_s(v, "</s>", 0, 3);
    for (int b = 0; b < 256; b++) {
        char h[8];
        snprintf(h, sizeof(h), "<0x%02X>", b);
        vb_s(v, h, 0, 6);
    }
}

static wl_tokenizer *spm_build(struct vb *v, const char *name)
{
    struct wl_tok_vocab_desc d;
    wl_tok_vocab_desc_init(&d);
    d.model = WL_TOK_MODEL_SPM;
    d.name = name;
    d.n_tokens = v->n;
    d.tokens = v->tok;
    d.scores = v->score;
    d.types = v->type;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    int rc = wl_tok_build(&d, &t, &err);
    if (rc)
        fprintf(stderr, "build: %s\n", err.text);
    assert_int_equal(rc, 0);
    return t;
}

static size_t tok(const wl_tokenizer *t, const char *s, unsigned flags, int32_t *ids)
{
    size_t n = 0;
    assert_int_equal(wl_tok_tokenize(t, s, strlen(s), flags, ids, 4096, &n, NULL), 0);
    return n;
}

static void expect_ids(const int32_t *got, size_t n, const int32_t *want, size_t nw)
{
    if (n != nw || memcmp(got, want, n * sizeof(*got)) != 0) {
        fprintf(stderr, "got:");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", (int)got[i]);
        fprintf(stderr, "\nwant:");
        for (size_t i = 0; i < nw; i++)
            fprintf(stderr, " %d", (int)want[i]);
        fprintf(stderr, "\n");
        fail();
    }
}

#define EXPECT(got, n, ...)                                                                        \
    do {                                                                                           \
        const int32_t want_[] = {__VA_ARGS__};                                                     \
        expect_ids(got, n, want_, sizeof(want_) / sizeof(want_[0]));                               \
    } while (0)

static void detok_eq(const wl_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                     const char *want)
{
    char buf[8192];
    size_t len = 0;
    assert_int_equal(wl_tok_detokenize(t, ids, n, flags, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(buf, want, len);
}

/* ---- SentencePiece ---------------------------------------------------------------- */

static void test_spm_highest_score_merges_first(void **state)
{
    (void)state;
    struct vb v;
    spm_base(&v);
    int32_t sp = vb_s(&v, SP, -5, 1), a = vb_s(&v, "a", -5, 1), b = vb_s(&v, "b", -5, 1),
            c = vb_s(&v, "c", -5, 1);
    int32_t spa = vb_s(&v, SP "a", -1, 1), bc = vb_s(&v, "bc", -1.5f, 1),
            ab = vb_s(&v, "ab", -2, 1);
    wl_tokenizer *t = spm_build(&v, NULL);
    int32_t ids[4096];
    /* ▁a (-1) beats bc (-1.5) beats ab (-2): "▁abc" -> ▁a bc */
    size_t n = tok(t, "abc", 0, ids);
    EXPECT(ids, n, spa, bc);
    /* with BOS; detokenize drops the prefix space after BOS */
    n = tok(t, "abc", WL_TOK_ADD_BOS, ids);
    EXPECT(ids, n, 1, spa, bc);
    detok_eq(t, ids, n, 0, "abc");
    detok_eq(t, ids, n, WL_DETOK_KEEP_SPACE, " abc");
    detok_eq(t, ids, n, WL_DETOK_SPECIAL, "<s>abc");
    wl_tok_free(t);

    /* now "ab" scores highest: ▁ ab c */
    v.score[ab] = -0.5f;
    t = spm_build(&v, NULL);
    n = tok(t, "abc", 0, ids);
    EXPECT(ids, n, sp, ab, c);
    wl_tok_free(t);

    /* equal scores: the leftmost pair wins */
    v.score[ab] = -1.0f;
    t = spm_build(&v, NULL);
    n = tok(t, "abc", 0, ids);
    EXPECT(ids, n, spa, bc);
    (void)a;
    (void)b;
    wl_tok_free(t);
}

static void test_spm_byte_fallback_and_spaces(void **state)
{
    (void)state;
    struct vb v;
    spm_base(&v);
    int32_t sp = vb_s(&v, SP, -5, 1), a = vb_s(&v, "a", -5, 1);
    int32_t spsp = vb_s(&v, SP SP, -3, 1);
    wl_tokenizer *t = spm_build(&v, NULL);
    int32_t ids[4096];
    /* "é" is not in the vocabulary: its two bytes as <0xC3> <0xA9> */
    size_t n = tok(t, "\xc3\xa9", 0, ids);
    EXPECT(ids, n, sp, 3 + 0xC3, 3 + 0xA9);
    detok_eq(t, ids, n, 0, "\xc3\xa9");
    /* spaces become ▁ and merge like any text; leading spaces survive a round trip */
    n = tok(t, "  a", 0, ids);
    EXPECT(ids, n, spsp, sp, a);
    detok_eq(t, ids, n, 0, "  a");
    /* empty text: nothing, or just BOS */
    n = tok(t, "", 0, ids);
    assert_int_equal(n, 0);
    n = tok(t, "", WL_TOK_ADD_BOS | WL_TOK_ADD_EOS, ids);
    EXPECT(ids, n, 1);
    struct wl_tok_info inf;
    wl_tok_get_info(t, &inf);
    assert_true(inf.add_bos && !inf.add_eos && inf.add_space_prefix);
    assert_int_equal(inf.bos, 1);
    assert_int_equal(inf.eos, 2);
    assert_int_equal(inf.unk, 0);
    assert_true(wl_tok_is_eog(t, 2));
    assert_false(wl_tok_is_eog(t, a));
    wl_tok_free(t);
}

static void test_spm_special_tokens(void **state)
{
    (void)state;
    struct vb v;
    spm_base(&v);
    int32_t sp = vb_s(&v, SP, -5, 1), a = vb_s(&v, "a", -5, 1), b = vb_s(&v, "b", -5, 1);
    int32_t spa = vb_s(&v, SP "a", -1, 1);
    int32_t end = vb_s(&v, "<|end|>", 0, 3);
    int32_t user = vb_s(&v, "xyz", 0, 4);
    wl_tokenizer *t = spm_build(&v, NULL);
    int32_t ids[4096];
    /* control tokens only with PARSE_SPECIAL; the text after one gets a prefix space */
    size_t n = tok(t, "<s>ab", WL_TOK_PARSE_SPECIAL, ids);
    EXPECT(ids, n, 1, spa, b);
    detok_eq(t, ids, n, 0, "ab");
    n = tok(t, "a<|end|>a", WL_TOK_PARSE_SPECIAL, ids);
    EXPECT(ids, n, spa, end, spa);
    detok_eq(t, ids, n, WL_DETOK_SPECIAL, "a<|end|>a"); /* lossless with specials */
    detok_eq(t, ids, n, 0, "aa");
    /* without it the text is just text (bytes here) */
    n = tok(t, "<s>", 0, ids);
    EXPECT(ids, n, sp, 3 + '<', 3 + 's', 3 + '>');
    /* user-defined tokens are always split out, never merged across */
    n = tok(t, "axyzb", 0, ids);
    EXPECT(ids, n, spa, user, sp, b);
    assert_true(wl_tok_is_eog(t, end)); /* "<|end|>" ends generation */
    assert_true(wl_tok_token_attr(t, end) & WL_TOK_ATTR_CONTROL);
    wl_tok_free(t);

    /* Phi-3: special tokens swallow the whitespace to their right */
    t = spm_build(&v, "Phi3");
    n = tok(t, "<|end|>  \n a", WL_TOK_PARSE_SPECIAL, ids);
    EXPECT(ids, n, end, spa);
    assert_true(wl_tok_token_attr(t, end) & WL_TOK_ATTR_RSTRIP);
    assert_false(wl_tok_token_attr(t, 1) & WL_TOK_ATTR_RSTRIP); /* except <s> */
    (void)a;
    wl_tok_free(t);
}

/* ---- streaming decoder -------------------------------------------------------------- */

static void push_expect(struct wl_tok_decoder *d, int32_t id, const char *want)
{
    char out[256];
    size_t n = 99;
    assert_int_equal(wl_tok_decoder_push(d, id, out, sizeof(out), &n), 0);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

static void test_decoder_holds_back_partial_utf8(void **state)
{
    (void)state;
    struct vb v;
    spm_base(&v);
    int32_t sp = vb_s(&v, SP, -5, 1), a = vb_s(&v, "a", -5, 1);
    int32_t spa = vb_s(&v, SP "a", -1, 1);
    wl_tokenizer *t = spm_build(&v, NULL);
    struct wl_tok_decoder d;
    wl_tok_decoder_init(&d, t, 0);
    /* "€" = E2 82 AC across three byte tokens */
    push_expect(&d, 1, "");
    push_expect(&d, spa, "a"); /* prefix space dropped after BOS */
    push_expect(&d, 3 + 0xE2, "");
    push_expect(&d, 3 + 0x82, "");
    push_expect(&d, 3 + 0xAC, "\xe2\x82\xac");
    push_expect(&d, spa, " a"); /* not the first piece any more */
    /* an impossible byte and a broken sequence become U+FFFD, never half a char */
    push_expect(&d, 3 + 0xFF, "\xef\xbf\xbd");
    push_expect(&d, 3 + 0xE2, "");
    push_expect(&d, a,
                "\xef\xbf\xbd"
                "a");
    /* a surrogate lead (ED A0) is invalid */
    push_expect(&d, 3 + 0xED, "");
    push_expect(&d, 3 + 0xA0, "\xef\xbf\xbd\xef\xbf\xbd");
    /* end of stream with a pending lead byte */
    push_expect(&d, 3 + 0xF0, "");
    char out[8];
    size_t n = 0;
    assert_int_equal(wl_tok_decoder_flush(&d, out, sizeof(out), &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xef\xbf\xbd", 3);
    /* capacity errors leave the state unchanged */
    wl_tok_decoder_init(&d, t, WL_DETOK_KEEP_SPACE);
    assert_int_equal(wl_tok_decoder_push(&d, spa, out, 1, &n), WL_EFULL);
    push_expect(&d, spa, " a");
    assert_int_equal(wl_tok_decoder_push(&d, 99999, out, sizeof(out), &n), WL_EINVAL);
    assert_true(wl_tok_decoder_out_max(t) >= 3 * 4);
    (void)sp;
    wl_tok_free(t);
}

/* Texts over WL_TOK_MAX_TEXT_BYTES are refused before a byte is read (the
 * pointer here has 2 bytes behind it). A guard: the limit's value and the
 * API's answer (test_spm_takes_every_text_under_the_limit tests the bound
 * inside SentencePiece). */
static void test_text_over_the_limit_is_range_error(void **state)
{
    (void)state;
    struct vb v;
    spm_base(&v);
    wl_tokenizer *t = spm_build(&v, NULL);
    int32_t ids[4];
    size_t n = 0;
    int32_t *a = NULL;
    assert_int_equal(wl_tok_tokenize(t, "a", WL_TOK_MAX_TEXT_BYTES + 1, 0, ids, 4, &n, NULL),
                     WL_ERANGE);
    assert_int_equal(wl_tok_tokenize_alloc(t, "a", (size_t)-1, 0, &a, &n, NULL), WL_ERANGE);
    assert_null(a);
    assert_int_equal(WL_TOK_MAX_TEXT_BYTES, (size_t)1 << 30);
    wl_tok_free(t);
}

/* SentencePiece's escaped copy (a space becomes 3 bytes) of any text the
 * API takes fits its uint32 offsets: 1 GiB of spaces with the prefix is
 * taken, not refused early (it was once refused past 2 GiB of copy);
 * beyond what uint32 offsets or int32 symbols hold is refused. */
static void test_spm_takes_every_text_under_the_limit(void **state)
{
    (void)state;
    const size_t max = WL_TOK_MAX_TEXT_BYTES;
    size_t need = 0;
    assert_int_equal(wl__tok_spm_need(max, max, true, &need), 0);
    assert_true(need == 3 * max + 3);
    assert_int_equal(wl__tok_spm_need(max, 0, false, &need), 0);
    assert_true(need == max);
    /* past uint32 offsets: 1.5 GiB of spaces is 4.5 GiB of copy */
    assert_int_equal(wl__tok_spm_need(max + max / 2, max + max / 2, false, &need), WL_ERANGE);
    /* past int32 symbol indices, even without a space */
    assert_int_equal(wl__tok_spm_need((size_t)INT32_MAX, 0, false, &need), WL_ERANGE);
}

/* A prompt's trailing partial character is dropped, not flushed into the
 * generated text as U+FFFD; the leading-space state stays as it was. */
static void test_decoder_drops_a_prompts_partial_character(void **state)
{
    (void)state;
    struct vb v;
    spm_base(&v);
    int32_t spa = vb_s(&v, SP "a", -1, 1);
    wl_tokenizer *t = spm_build(&v, NULL);
    struct wl_tok_decoder d;
    wl_tok_decoder_init(&d, t, 0);
    push_expect(&d, 1, ""); /* BOS, then a lone E2 */
    push_expect(&d, 3 + 0xE2, "");
    wl_tok_decoder_drop_pending(&d);
    push_expect(&d, spa, " a"); /* the E2 is gone; the space is kept (not the first piece) */
    char out[8];
    size_t n = 9;
    assert_int_equal(wl_tok_decoder_flush(&d, out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
    /* nothing pushed yet but BOS: the first piece still loses its space */
    wl_tok_decoder_init(&d, t, 0);
    push_expect(&d, 1, "");
    wl_tok_decoder_drop_pending(&d);
    push_expect(&d, spa, "a");
    /* bytes that continue the dropped lead byte are invalid on their own */
    push_expect(&d, 3 + 0xE2, "");
    wl_tok_decoder_drop_pending(&d);
    push_expect(&d, 3 + 0x82, "\xef\xbf\xbd");
    wl_tok_free(t);
}

/* ---- byte-level BPE ---------------------------------------------------------------- */

static void bpe_spell(uint8_t b, char *out, size_t *len)
{
    *len = wl__utf8_encode(wl__tok_byte_to_cp(b), out);
}

/* 256 byte tokens (ids 0..255 = bytes), then extra tokens and merges. */
static void bpe_base(struct vb *v)
{
    memset(v, 0, sizeof(*v));
    for (int b = 0; b < 256; b++) {
        char s[4];
        size_t l;
        bpe_spell((uint8_t)b, s, &l);
        vb_add(v, s, l, 0, 1);
    }
}

static void vb_merge(struct vb *v, const char *m)
{
    v->merges[v->n_merges++] = (struct wl_tok_text){m, strlen(m)};
}

/* v described as a byte-level BPE vocabulary with pre-tokenizer pre. */
static void bpe_desc(struct vb *v, const char *pre, struct wl_tok_vocab_desc *d)
{
    wl_tok_vocab_desc_init(d);
    d->model = WL_TOK_MODEL_BPE;
    d->pre = pre;
    d->n_tokens = v->n;
    d->tokens = v->tok;
    d->types = v->type;
    d->n_merges = v->n_merges;
    d->merges = v->merges;
}

static wl_tokenizer *bpe_build(struct vb *v, const char *pre)
{
    struct wl_tok_vocab_desc d;
    bpe_desc(v, pre, &d);
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    int rc = wl_tok_build(&d, &t, &err);
    if (rc)
        fprintf(stderr, "build: %s\n", err.text);
    assert_int_equal(rc, 0);
    return t;
}

static void test_bpe_merge_ranks_cache_and_fallback(void **state)
{
    (void)state;
    struct vb v;
    bpe_base(&v);
    int32_t he = vb_s(&v, "he", 0, 1), ll = vb_s(&v, "ll", 0, 1), hell = vb_s(&v, "hell", 0, 1),
            hello = vb_s(&v, "hello", 0, 1);
    vb_s(&v, "\xc4\xa0h", 0, 1); /* Ġh */
    vb_merge(&v, "h e");
    vb_merge(&v, "l l");
    vb_merge(&v, "he ll");
    vb_merge(&v, "hell o");
    vb_merge(&v, "\xc4\xa0 h"); /* rank 4: loses to "h e" */
    vb_merge(&v, "x y");        /* "xy" is not a token */
    wl_tokenizer *t = bpe_build(&v, "gpt-2");
    int32_t ids[4096];
    struct wl_tok_stats st = {0};
    size_t n = 0;
    const char *txt = "hello hello hello";
    assert_int_equal(wl_tok_tokenize(t, txt, strlen(txt), 0, ids, 4096, &n, &st), 0);
    EXPECT(ids, n, hello, ' ', hello, ' ', hello);
    assert_int_equal(st.n_words, 3);
    assert_int_equal(st.n_cache_hits, 1); /* the third word */
    assert_int_equal(st.n_cache_misses, 2);
    assert_int_equal(st.n_merges, 8); /* 4 per distinct word */
    assert_true(st.n_rank_lookups > 0 && st.n_candidates >= st.n_merges);
    detok_eq(t, ids, n, 0, txt);
    /* a merge whose result is not a token falls back to the bytes' tokens */
    n = tok(t, "xy", 0, ids);
    EXPECT(ids, n, 'x', 'y');
    (void)he;
    (void)ll;
    (void)hell;
    struct wl_tok_info inf;
    wl_tok_get_info(t, &inf);
    assert_int_equal(inf.n_merges, 6);
    assert_false(inf.add_bos);
    assert_false(inf.add_space_prefix);
    wl_tok_free(t);

    /* llama3 ignores merges when a whole word is a token */
    struct vb w;
    bpe_base(&w);
    int32_t abc = vb_s(&w, "abc", 0, 1);
    vb_merge(&w, "b c");
    t = bpe_build(&w, "gpt-2");
    n = tok(t, "abc", 0, ids);
    EXPECT(ids, n, 'a', 'b', 'c'); /* "bc" is a merge but not a token */
    wl_tok_free(t);
    t = bpe_build(&w, "llama-bpe");
    n = tok(t, "abc", 0, ids);
    EXPECT(ids, n, abc);
    wl_tok_free(t);
}

/* Byte-fallback tokens are counted for every word that emits them, also when
 * the word's ids come from the word cache (SPM segments and BPE words). */
static void test_byte_fallback_counted_on_cache_hits(void **state)
{
    (void)state;
    struct vb v;
    spm_base(&v);
    vb_s(&v, SP, -5, 1);
    wl_tokenizer *t = spm_build(&v, NULL);
    int32_t ids[4096];
    struct wl_tok_stats st = {0};
    size_t n = 0;
    const char *txt = "\xc3\xa9 \xc3\xa9 \xc3\xa9"; /* "é é é": é is no token */
    assert_int_equal(wl_tok_tokenize(t, txt, strlen(txt), 0, ids, 4096, &n, &st), 0);
    size_t n_byte = 0;
    for (size_t i = 0; i < n; i++)
        n_byte += (wl_tok_token_attr(t, ids[i]) & WL_TOK_ATTR_BYTE) != 0;
    assert_int_equal(n_byte, 6);
    assert_true(st.n_cache_hits >= 2); /* the second and third "é" */
    assert_int_equal(st.n_byte_fallback, n_byte);
    wl_tok_free(t);

    /* BPE: "xy" merges into a symbol that is no token, so it falls back to 'x' 'y' */
    bpe_base(&v);
    vb_merge(&v, "x y");
    t = bpe_build(&v, "gpt-2");
    memset(&st, 0, sizeof st);
    txt = "xy xy xy";
    assert_int_equal(wl_tok_tokenize(t, txt, strlen(txt), 0, ids, 4096, &n, &st), 0);
    EXPECT(ids, n, 'x', 'y', ' ', 'x', 'y', ' ', 'x', 'y');
    assert_int_equal(st.n_cache_hits, 1); /* the third word, " xy" */
    assert_int_equal(st.n_byte_fallback, 6);
    wl_tok_free(t);
}

/* A byte-level BPE file may say add_space_prefix = true (convert_hf_to_gguf
 * copies add_prefix_space), but BPE tokenizing never inserts that space, so
 * decoding keeps every space: at the start and after a special token. */
static void test_bpe_add_space_prefix_keeps_real_spaces(void **state)
{
    (void)state;
    struct vb v;
    bpe_base(&v);
    int32_t eot = vb_s(&v, "<|endoftext|>", 0, 3);
    vb_merge(&v, "a b");
    struct wl_tok_vocab_desc d;
    bpe_desc(&v, "gpt-2", &d);
    d.add_space_prefix = 1;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    assert_int_equal(wl_tok_build(&d, &t, &err), 0);
    int32_t ids[4096];
    size_t n = tok(t, "b<|endoftext|> a", WL_TOK_PARSE_SPECIAL, ids);
    EXPECT(ids, n, 'b', eot, ' ', 'a');
    detok_eq(t, ids, n, 0, "b a");
    detok_eq(t, ids, n, WL_DETOK_SPECIAL, "b<|endoftext|> a");
    n = tok(t, " a", 0, ids);
    EXPECT(ids, n, ' ', 'a');
    detok_eq(t, ids, n, 0, " a");
    struct wl_tok_decoder dec;
    wl_tok_decoder_init(&dec, t, 0);
    push_expect(&dec, ' ', " ");
    push_expect(&dec, 'a', "a");
    push_expect(&dec, eot, "");
    push_expect(&dec, ' ', " ");
    wl_tok_free(t);
}

static void test_bpe_every_byte_round_trips(void **state)
{
    (void)state;
    struct vb v;
    bpe_base(&v);
    vb_merge(&v, "a b");
    wl_tokenizer *t = bpe_build(&v, "gpt-2");
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    int32_t ids[4096];
    size_t n = 0;
    assert_int_equal(wl_tok_tokenize(t, all, 256, 0, ids, 4096, &n, NULL), 0);
    assert_int_equal(n, 256);
    for (int i = 0; i < 256; i++)
        assert_int_equal(ids[i], i);
    char back[300];
    size_t bl = 0;
    assert_int_equal(wl_tok_detokenize(t, ids, n, 0, back, sizeof(back), &bl), 0);
    assert_int_equal(bl, 256);
    assert_memory_equal(back, all, 256);
    wl_tok_free(t);
}

/* ---- pre-tokenizers ------------------------------------------------------------------- */

static void expect_split(const char *pre, const char *text, const char *const *want)
{
    struct vb v;
    bpe_base(&v);
    vb_merge(&v, "a b");
    wl_tokenizer *t = bpe_build(&v, pre);
    struct wl__tok_uvec ends = {0};
    assert_int_equal(wl__tok_pretokenize(t, text, strlen(text), &ends), 0);
    size_t nw = 0;
    while (want[nw])
        nw++;
    bool ok = ends.n == nw;
    size_t prev = 0;
    for (size_t i = 0; ok && i < nw; i++) {
        size_t l = ends.v[i] - prev;
        ok = l == strlen(want[i]) && memcmp(text + prev, want[i], l) == 0;
        prev = ends.v[i];
    }
    if (!ok) {
        fprintf(stderr, "%s split of '%s':", pre, text);
        prev = 0;
        for (size_t i = 0; i < ends.n; i++) {
            fprintf(stderr, " [%.*s]", (int)(ends.v[i] - prev), text + prev);
            prev = ends.v[i];
        }
        fprintf(stderr, "\n");
    }
    free(ends.v);
    wl_tok_free(t);
    assert_true(ok);
}

static void test_pretokenizers(void **state)
{
    (void)state;
    const char *gpt2[] = {"Hello", " world", "'s", " ", " end", "\n\n", " 123", "abc", NULL};
    expect_split("gpt-2", "Hello world's  end\n\n 123abc", gpt2);
    const char *llama3[] = {"Hello", " world", "'S", " ",   " end", "\n\n", " ",
                            "123",   "456",    "7",  "abc", "  ",   NULL};
    expect_split("llama-bpe", "Hello world'S  end\n\n 1234567abc  ", llama3);
    const char *qwen2[] = {"x", "1", "2", "3", " +", " y", "\n", NULL};
    expect_split("qwen2", "x123 + y\n", qwen2);
    const char *star[] = {"a", " ", "1", "2", "3", " b", NULL};
    expect_split("starcoder", "a 123 b", star);
    const char *dflt[] = {"Hi", ",", " ", "123", "45", "!", NULL};
    expect_split("default", "Hi, 12345!", dflt);
    const char *falcon[] = {"a", "`", "b", " ", "123", "45", NULL};
    expect_split("falcon", "a`b 12345", falcon);
    const char *dsllm[] = {"Hi", " there", ",",  "\n", "\xe4\xb8\x96\xe7\x95\x8c",
                           " ",  "42",     "  ", NULL};
    expect_split("deepseek-llm", "Hi there,\n\xe4\xb8\x96\xe7\x95\x8c 42  ", dsllm);
    const char *dscoder[] = {"x", " =", " foo", "(", "1", "2", ");", "\n", NULL};
    expect_split("deepseek-coder", "x = foo(12);\n", dscoder);
    /* invalid bytes are single units classified like U+FFFD (a symbol) */
    const char *inv[] = {"a", "\xff\xfe", " b", NULL};
    expect_split("gpt-2", "a\xff\xfe b", inv);
}

/* ---- loader errors -------------------------------------------------------------------- */

static void test_build_errors_say_what(void **state)
{
    (void)state;
    struct vb v;
    bpe_base(&v);
    vb_merge(&v, "a b");
    struct wl_tok_vocab_desc d;
    bpe_desc(&v, "no-such-pre", &d);
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    assert_int_equal(wl_tok_build(&d, &t, &err), WL_ENOTSUP);
    assert_non_null(strstr(err.text, "no-such-pre"));
    assert_null(t);
    d.pre = "gpt-2";
    vb_s(&v, "a", 0, 1); /* duplicate of byte token 'a' */
    d.n_tokens = v.n;
    assert_int_equal(wl_tok_build(&d, &t, &err), WL_EFORMAT);
    assert_non_null(strstr(err.text, "duplicate"));
    d.n_tokens = 0;
    assert_int_equal(wl_tok_build(&d, &t, &err), WL_EFORMAT);
    /* a model file carries its tokenizer; a missing file says so */
    if (wl_test_have_data()) {
        assert_int_equal(wl_tok_load_file(wl_test_data_path("models/stories260K.gguf"), &t, &err),
                         0);
        struct wl_tok_info inf;
        wl_tok_get_info(t, &inf);
        assert_int_equal(inf.model, WL_TOK_MODEL_SPM);
        assert_int_equal(inf.n_vocab, 512);
        wl_tok_free(t);
        assert_int_not_equal(wl_tok_load_file("/nonexistent.gguf", &t, &err), 0);
        assert_true(strlen(err.text) > 0);
    }
}

/* A duplicate token longer than the error shows is cut between characters
 * and ends "..." in the message. */
static void test_duplicate_long_token_is_cut_between_characters(void **state)
{
    (void)state;
    struct vb v;
    bpe_base(&v);
    char tok[128] = "x", want[128] = "'x";
    for (int i = 0; i < 40; i++) /* 81 bytes: 64 end inside the 32nd "é" */
        strcat(tok, "\xC3\xA9");
    for (int i = 0; i < 30; i++) /* 61 bytes before the dots */
        strcat(want, "\xC3\xA9");
    strcat(want, "...'");
    for (int k = 0; k < 2; k++) {
        v.tok[v.n].data = tok;
        v.tok[v.n].len = strlen(tok);
        v.n++;
    }
    struct wl_tok_vocab_desc d;
    wl_tok_vocab_desc_init(&d);
    d.model = WL_TOK_MODEL_BPE;
    d.pre = "gpt-2";
    d.n_tokens = v.n;
    d.tokens = v.tok;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    assert_int_equal(wl_tok_build(&d, &t, &err), WL_EFORMAT);
    assert_true(wl_utf8_valid(err.text, strlen(err.text)));
    assert_non_null(strstr(err.text, want));
}

/* A GGUF (version 3, no tensors) with the given string key/value pairs. */
static size_t gguf_bytes(uint8_t *b, const char *const *kv, size_t n_kv)
{
    size_t k = 0;
#define PUT(p, n)                                                                                  \
    do {                                                                                           \
        memcpy(b + k, p, n);                                                                       \
        k += n;                                                                                    \
    } while (0)
    uint32_t u32;
    uint64_t u64;
    PUT("GGUF", 4);
    u32 = 3;
    PUT(&u32, 4);
    u64 = 0;
    PUT(&u64, 8);
    u64 = n_kv;
    PUT(&u64, 8);
    for (size_t i = 0; i < n_kv; i++) {
        u64 = strlen(kv[2 * i]);
        PUT(&u64, 8);
        PUT(kv[2 * i], u64);
        u32 = 8; /* STRING */
        PUT(&u32, 4);
        u64 = strlen(kv[2 * i + 1]);
        PUT(&u64, 8);
        PUT(kv[2 * i + 1], u64);
    }
#undef PUT
    return k;
}

static void test_gguf_without_usable_tokenizer(void **state)
{
    (void)state;
    uint8_t buf[512];
    const char *none[] = {"general.architecture", "llama"};
    const char *bert[] = {"general.architecture", "bert", "tokenizer.ggml.model", "bert"};
    const char *notok[] = {"tokenizer.ggml.model", "gpt2"};
    struct {
        const char *const *kv;
        size_t n;
        int rc;
        const char *msg;
    } cases[] = {
        {none, 1, WL_ENOENT, "tokenizer.ggml.model"},
        {bert, 2, WL_ENOTSUP, "'bert'"},
        {notok, 1, WL_ENOENT, "tokenizer.ggml.tokens"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = gguf_bytes(buf, cases[i].kv, cases[i].n);
        wl_gguf *g = NULL;
        struct wl_errmsg err;
        assert_int_equal(wl_gguf_open_memory(buf, n, &g, &err), 0);
        wl_tokenizer *t = (wl_tokenizer *)1;
        assert_int_equal(wl_tok_load_gguf(g, &t, &err), cases[i].rc);
        assert_null(t);
        if (!strstr(err.text, cases[i].msg))
            fprintf(stderr, "message: %s\n", err.text);
        assert_non_null(strstr(err.text, cases[i].msg));
        wl_gguf_close(g);
    }
}

/* A small llama vocabulary written by the GGUF writer, then changed by
 * edit (which may replace or remove keys); loads it from memory. */
static int load_written(void (*edit)(wl_gguf_writer *w, int arg), int arg, wl_tokenizer **t,
                        struct wl_errmsg *err)
{
    static const char *const texts[] = {"<unk>", "<s>", "</s>", SP, "a", SP "a"};
    struct wl_gguf_str tok[6];
    float scores[6];
    int32_t types[6] = {2, 3, 3, 1, 1, 1};
    for (int i = 0; i < 6; i++) {
        tok[i] = (struct wl_gguf_str){texts[i], strlen(texts[i])};
        scores[i] = -(float)i;
    }
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "general.name", "small"), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "tokenizer.ggml.pre", "default"), 0);
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, 6), 0);
    assert_int_equal(wl_gguf_writer_set_arr(w, "tokenizer.ggml.scores", WL_GGUF_FLOAT32, scores, 6),
                     0);
    assert_int_equal(
        wl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", WL_GGUF_INT32, types, 6), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1), 0);
    assert_int_equal(wl_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true), 0);
    if (edit)
        edit(w, arg);
    return wl_test_tok_load_written(w, t, err);
}

static const char *const malformed_keys[] = {
    "tokenizer.ggml.model",         "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",        "tokenizer.ggml.scores",
    "tokenizer.ggml.token_type",    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_space_prefix",
};

/* key arg of malformed_keys replaced by a value of a type the loader does
 * not read there: a string for the ids and flags, a number or a lone
 * string for the others. */
static void edit_wrong_type(wl_gguf_writer *w, int arg)
{
    const char *key = malformed_keys[arg / 2];
    bool number = arg % 2;
    if (strstr(key, "_id") || strstr(key, "add_"))
        assert_int_equal(wl_gguf_writer_set_str(w, key, number ? "1.5" : "yes"), 0);
    else if (number)
        assert_int_equal(wl_gguf_writer_set_u8(w, key, 2), 0);
    else if (strcmp(key, "tokenizer.ggml.model") == 0 || strcmp(key, "tokenizer.ggml.pre") == 0)
        assert_int_equal(wl_gguf_writer_set_f32(w, key, 1.0f), 0);
    else
        assert_int_equal(wl_gguf_writer_set_str(w, key, "a"), 0);
}

/* A tokenizer key of another type than the loader reads is refused with
 * WL_EFORMAT and a message naming it. The loader took a scalar score or
 * token type array, and a pre-tokenizer stored as a number, for absent
 * (tokenizing with the default rules), and refused a scalar token list with
 * WL_EINVAL and no message. */
static void test_gguf_tokenizer_key_of_wrong_type_is_refused(void **state)
{
    (void)state;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    assert_int_equal(load_written(NULL, 0, &t, &err), 0);
    wl_tok_free(t);
    for (int arg = 0; arg < 2 * (int)(sizeof malformed_keys / sizeof malformed_keys[0]); arg++) {
        int rc = load_written(edit_wrong_type, arg, &t, &err);
        if (rc != WL_EFORMAT || !strstr(err.text, malformed_keys[arg / 2]))
            fprintf(stderr, "%s (%d): %s %s\n", malformed_keys[arg / 2], arg % 2,
                    wl_strerror_name(rc), err.text);
        assert_int_equal(rc, WL_EFORMAT);
        assert_null(t);
        assert_non_null(strstr(err.text, malformed_keys[arg / 2]));
    }
}

/* tokenizer.ggml.eos_token_id stored in case arg's type and value. */
static void edit_eos_id(wl_gguf_writer *w, int arg)
{
    const char *k = "tokenizer.ggml.eos_token_id";
    switch (arg) {
    case 0:
        assert_int_equal(wl_gguf_writer_set_f32(w, k, 1.5f), 0);
        break;
    case 1:
        assert_int_equal(wl_gguf_writer_set_f32(w, k, 2.0f), 0);
        break;
    case 2:
        assert_int_equal(wl_gguf_writer_set_bool(w, k, true), 0);
        break;
    case 3:
        assert_int_equal(wl_gguf_writer_set_u64(w, k, (1ull << 63) + 5), 0);
        break;
    case 4:
        assert_int_equal(wl_gguf_writer_set_i32(w, k, -5), 0);
        break;
    case 5:
        assert_int_equal(wl_gguf_writer_set_i64(w, k, 1ll << 40), 0);
        break;
    case 6:
        assert_int_equal(wl_gguf_writer_set_u32(w, k, 0xFFFFFFFBu), 0);
        break;
    case 7:
        assert_int_equal(wl_gguf_writer_set_u32(w, k, 3), 0);
        break;
    case 8:
        assert_int_equal(wl_gguf_writer_set_i32(w, k, -1), 0);
        break;
    case 9:
        assert_int_equal(wl_gguf_writer_set_u32(w, k, 0xFFFFFFFFu), 0);
        break;
    default:
        assert_int_equal(wl_gguf_writer_set_u8(w, k, 4), 0);
        break;
    }
}

/* A special token id must be an integer (llama.cpp refuses anything but
 * UINT32): a float, a bool, or a value no UINT32 holds is WL_EFORMAT naming
 * the key. A float 1.5 or a UINT64 above INT64_MAX used to fall back to the
 * default id silently. -1 / 0xFFFFFFFF mean absent; another UINT32 outside
 * the vocabulary keeps the default (llama.cpp warns and does the same). */
static void test_gguf_special_id_of_wrong_type_is_refused(void **state)
{
    (void)state;
    static const struct {
        int rc;
        const char *msg;
        int32_t eos;
    } want[] = {
        {WL_EFORMAT, "tokenizer.ggml.eos_token_id has type FLOAT32 (a token id is an integer)", 0},
        {WL_EFORMAT, "tokenizer.ggml.eos_token_id has type FLOAT32", 0},
        {WL_EFORMAT, "tokenizer.ggml.eos_token_id has type BOOL", 0},
        {WL_EFORMAT, "tokenizer.ggml.eos_token_id = 9223372036854775813 is not a token id", 0},
        {WL_EFORMAT, "tokenizer.ggml.eos_token_id = -5 is not a token id", 0},
        {WL_EFORMAT, "tokenizer.ggml.eos_token_id = 1099511627776 is not a token id", 0},
        {0, NULL, 2}, /* outside the vocabulary: the SPM default */
        {0, NULL, 3},
        {0, NULL, WL_TOK_NULL},
        {0, NULL, WL_TOK_NULL},
        {0, NULL, 4},
    };
    for (int arg = 0; arg < (int)(sizeof want / sizeof want[0]); arg++) {
        wl_tokenizer *t = NULL;
        struct wl_errmsg err;
        int rc = load_written(edit_eos_id, arg, &t, &err);
        if (rc != want[arg].rc || (want[arg].msg && !strstr(err.text, want[arg].msg)))
            fprintf(stderr, "case %d: %s %s\n", arg, wl_strerror_name(rc), err.text);
        assert_int_equal(rc, want[arg].rc);
        if (rc) {
            assert_null(t);
            assert_non_null(strstr(err.text, want[arg].msg));
            continue;
        }
        struct wl_tok_info inf;
        wl_tok_get_info(t, &inf);
        assert_int_equal(inf.eos, want[arg].eos);
        wl_tok_free(t);
    }
}

static void edit_nul(wl_gguf_writer *w, int arg)
{
    static const char model[] = "llama\0x", pre[] = "gpt-2\0x";
    if (arg == 0) {
        assert_int_equal(
            wl_gguf_writer_set_strn(w, "tokenizer.ggml.model", model, sizeof model - 1), 0);
    } else {
        assert_int_equal(wl_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"), 0);
        assert_int_equal(wl_gguf_writer_set_strn(w, "tokenizer.ggml.pre", pre, sizeof pre - 1), 0);
        struct wl_gguf_str m = {"a a", 3};
        assert_int_equal(wl_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", &m, 1), 0);
    }
}

/* A name with a NUL byte is not the name before it: the loader read
 * "llama\0x" as "llama" and "gpt-2\0x" as "gpt-2". */
static void test_gguf_tokenizer_names_with_nul_are_refused(void **state)
{
    (void)state;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    assert_int_equal(load_written(edit_nul, 0, &t, &err), WL_EFORMAT);
    assert_null(t);
    assert_non_null(strstr(err.text, "tokenizer.ggml.model holds a NUL byte"));
    assert_int_equal(load_written(edit_nul, 1, &t, &err), WL_EFORMAT);
    assert_null(t);
    assert_non_null(strstr(err.text, "tokenizer.ggml.pre holds a NUL byte"));
}

static void edit_name(wl_gguf_writer *w, int arg)
{
    if (arg == 0)
        assert_int_equal(wl_gguf_writer_set_i32(w, "general.name", 3), 0);
    else
        assert_int_equal(wl_gguf_writer_set_strn(w, "general.name", "Phi-3\0x", 7), 0);
}

/* general.name is only a hint: one that is not a plain string is absent. */
static void test_gguf_tokenizer_general_name_is_a_hint(void **state)
{
    (void)state;
    for (int arg = 0; arg < 2; arg++) {
        wl_tokenizer *t = NULL;
        struct wl_errmsg err;
        assert_int_equal(load_written(edit_name, arg, &t, &err), 0);
        struct wl_tok_info inf;
        wl_tok_get_info(t, &inf);
        assert_int_equal(inf.n_vocab, 6);
        assert_int_equal(wl_tok_token_attr(t, 2) & WL_TOK_ATTR_RSTRIP, 0); /* not Phi-3 */
        wl_tok_free(t);
    }
}

static void edit_long_pre(wl_gguf_writer *w, int arg)
{
    char pre[128] = "";
    for (int i = 0; i < 30; i++)
        strcat(pre, arg ? "\xe6\xa8\xa1" : "\xc3\xa9"); /* 模 or é */
    assert_int_equal(wl_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre), 0);
}

/* A SentencePiece model's pre-tokenizer name is any text; a long one is
 * kept cut between characters (it was cut at byte 47, inside a
 * character). */
static void test_gguf_tokenizer_long_pre_name_cut_between_characters(void **state)
{
    (void)state;
    for (int arg = 0; arg < 2; arg++) {
        wl_tokenizer *t = NULL;
        struct wl_errmsg err;
        assert_int_equal(load_written(edit_long_pre, arg, &t, &err), 0);
        struct wl_tok_info inf;
        wl_tok_get_info(t, &inf);
        size_t len = strlen(inf.pre_name);
        assert_int_equal(len, arg ? 45 : 46);
        assert_true(wl_utf8_valid(inf.pre_name, len));
        assert_memory_equal(inf.pre_name, arg ? "\xe6\xa8\xa1" : "\xc3\xa9", 2);
        wl_tok_free(t);
    }
}

/* ---- edge cases on the real vocabularies --------------------------------------------- */

static wl_tokenizer *load_vocab(const char *name)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "vocab/ggml-vocab-%s.gguf", name);
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    assert_int_equal(wl_tok_load_file(wl_test_data_path(rel), &t, &err), 0);
    return t;
}

static void round_trip(const wl_tokenizer *t, const char *s, size_t n, struct wl_tok_stats *st)
{
    int32_t *ids = NULL;
    size_t ni = 0;
    assert_int_equal(wl_tok_tokenize_alloc(t, s, n, 0, &ids, &ni, st), 0);
    assert_true(n == 0 || ni > 0);
    char *back = NULL;
    size_t bl = 0;
    assert_int_equal(wl_tok_detokenize_alloc(t, ids, ni, 0, &back, &bl), 0);
    assert_int_equal(bl, n);
    assert_memory_equal(back, s, n);
    free(back);
    free(ids);
}

static char *mixed_text(size_t size)
{
    static const char *parts[] = {
        "The quick brown fox jumps over the lazy dog. ",
        "Ce n'est pas la m\xc3\xaame chose, \xc3\xa0 vrai dire! ",
        "\xe6\x88\x91\xe6\x83\xb3\xe5\x9c\xa8"
        "apple 1314151 \xe5\xa4\xa9 ",
        "int main(void) { return 0x2A; }\n\t",
        "\xf0\x9f\x9a\x80 emojis \xe2\x9c\x85 ",
        "   spaced   out   \n\n",
        "3.14159 2718281828 42\r\n",
        "I've been 'told he's there, 'RE you sure? ",
        "\xd0\xbd\xd0\xb5\xd1\x89\xd0\xbe \xd0\xbd\xd0\xb0 ",
    };
    char *s = malloc(size + 1);
    size_t k = 0;
    for (size_t i = 0; k < size; i++) {
        const char *p = parts[i % (sizeof(parts) / sizeof(parts[0]))];
        size_t l = strlen(p);
        if (k + l > size)
            break;
        memcpy(s + k, p, l);
        k += l;
    }
    while (k < size)
        s[k++] = ' ';
    s[k] = 0;
    return s;
}

static void test_edge_cases_real_vocabs(void **state)
{
    (void)state;
    if (!wl_test_have_data()) {
        skip();
        return;
    }
    const char *names[] = {"llama-spm", "gpt-2", "deepseek-llm", "starcoder"};
    char *big = mixed_text(1u << 20);
    char *spaces = malloc(100001), *digits = malloc(100001);
    memset(spaces, ' ', 100000);
    spaces[100000] = 0;
    for (int i = 0; i < 100000; i++)
        digits[i] = (char)('0' + i % 10);
    digits[100000] = 0;
    const char invalid[] = "ok \xff\xfe\xc3 \xe2\x82 mid\xed\xa0\x80 \xf4\x90\x80\x80 end\xc0\xaf";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        wl_tokenizer *t = load_vocab(names[i]);
        struct wl_tok_stats st = {0};
        round_trip(t, "", 0, &st);
        struct wl_tok_info inf;
        wl_tok_get_info(t, &inf);
        if (strcmp(names[i], "llama-spm") == 0 || strcmp(names[i], "gpt-2") == 0) {
            round_trip(t, invalid, sizeof(invalid) - 1, &st);
        } else {
            /* starcoder and deepseek-llm have no token for bytes that never occur in
             * UTF-8 (C0, C1, F5-FF), which become U+FFFD
             * (test_bpe_lost_bytes_become_fffd): not lossless there, but no failure */
            int32_t *ids = NULL;
            size_t ni = 0;
            assert_int_equal(
                wl_tok_tokenize_alloc(t, invalid, sizeof(invalid) - 1, 0, &ids, &ni, &st), 0);
            assert_true(ni > 0);
            free(ids);
        }
        round_trip(t, spaces, 100000, &st);
        round_trip(t, digits, 100000, &st);
        round_trip(t, "\n\n\n\t\t  \r\n", 9, &st);
        struct wl_tok_stats big_st = {0};
        round_trip(t, big, 1u << 20, &big_st);
        assert_int_equal(big_st.n_bytes, 1u << 20);
        assert_true(big_st.n_tokens > 100000 && big_st.n_tokens < (1u << 20));
        fprintf(stderr, "%s: 1 MiB -> %llu tokens in %.1f ms (%.2f MB/s, cache hit rate %.2f)\n",
                names[i], (unsigned long long)big_st.n_tokens, big_st.t_total_ns / 1e6,
                wl_tok_stats_mb_per_s(&big_st), wl_tok_stats_cache_hit_rate(&big_st));
        if (inf.model == WL_TOK_MODEL_BPE)
            assert_true(wl_tok_stats_cache_hit_rate(&big_st) > 0.5);
        wl_tok_free(t);
    }
    free(big);
    free(spaces);
    free(digits);
}

static void assert_same_ids(const wl_tokenizer *t, const char *a, size_t na, const char *b,
                            size_t nb, struct wl_tok_stats *st)
{
    int32_t *ia = NULL, *ib = NULL;
    size_t ka = 0, kb = 0;
    assert_int_equal(wl_tok_tokenize_alloc(t, a, na, 0, &ia, &ka, st), 0);
    assert_int_equal(wl_tok_tokenize_alloc(t, b, nb, 0, &ib, &kb, NULL), 0);
    assert_int_equal(ka, kb);
    assert_true(ka > 0);
    assert_memory_equal(ia, ib, ka * sizeof(*ia));
    free(ia);
    free(ib);
}

/* starcoder and deepseek-llm have no byte-level token for C0, C1, F5-FF (deepseek
 * only user-defined look-alikes such as "\xc3\xb8" for F8): such a byte, never
 * valid UTF-8, is tokenized as U+FFFD, as llama.cpp tokenizes every invalid byte,
 * and counted; it used to be dropped (starcoder) or become the look-alike. */
static void test_bpe_lost_bytes_become_fffd(void **state)
{
    (void)state;
    if (!wl_test_have_data()) {
        skip();
        return;
    }
    static const struct {
        const char *in, *as;
        uint64_t n_rep;
    } cases[] = {
        {"a\xff"
         "b",
         "a\xef\xbf\xbd"
         "b",
         1},
        {"!\xff?\xc0 \xf8x", "!\xef\xbf\xbd?\xef\xbf\xbd \xef\xbf\xbdx", 3},
        {"\xf5\xf6 \xc1", "\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd", 3},
        /* the same word four times: a replaced word is not cached, each counts */
        {"\xfe \xfe \xfe \xfe", "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd", 4},
        /* valid text and invalid bytes that have a token are kept as they are */
        {"\xe4\xb8\xad \x80\xbf", "\xe4\xb8\xad \x80\xbf", 0},
    };
    const char *names[] = {"starcoder", "deepseek-llm"};
    for (size_t v = 0; v < 2; v++) {
        wl_tokenizer *t = load_vocab(names[v]);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct wl_tok_stats st = {0};
            assert_same_ids(t, cases[i].in, strlen(cases[i].in), cases[i].as, strlen(cases[i].as),
                            &st);
            assert_int_equal(st.n_bytes_replaced, cases[i].n_rep);
            assert_int_equal(st.n_bytes_dropped, 0);
            char msg[256];
            assert_int_equal(wl_tok_stats_input_changed(&st, msg, sizeof msg), cases[i].n_rep > 0);
            if (cases[i].n_rep == 0)
                assert_string_equal(msg, "");
        }
        wl_tok_free(t);
    }
    /* the reviewer's example, as llama.cpp gives it: U+FFFD is starcoder's 8448 */
    wl_tokenizer *t = load_vocab("starcoder");
    int32_t ids[8];
    size_t n = 0;
    struct wl_tok_stats st = {0};
    assert_int_equal(wl_tok_tokenize(t,
                                     "a\xff"
                                     "b",
                                     3, 0, ids, 8, &n, &st),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 102);
    assert_int_equal(ids[1], 8448);
    assert_int_equal(ids[2], 103);
    char msg[256];
    assert_true(wl_tok_stats_input_changed(&st, msg, sizeof msg));
    assert_string_equal(msg, "1 input byte is not valid UTF-8 and has no token in this "
                             "vocabulary: tokenized as U+FFFD");
    st = (struct wl_tok_stats){.n_bytes_replaced = 2, .n_bytes_dropped = 1};
    assert_true(wl_tok_stats_input_changed(&st, msg, sizeof msg));
    assert_string_equal(msg, "2 input bytes are not valid UTF-8 and have no token in this "
                             "vocabulary: tokenized as U+FFFD; 1 input byte "
                             "has no token in this vocabulary and was dropped");
    wl_tok_free(t);
    /* gpt-2 spells every byte: invalid bytes stay lossless (a documented deviation) */
    t = load_vocab("gpt-2");
    st = (struct wl_tok_stats){0};
    round_trip(t,
               "a\xff"
               "b\xc0",
               4, &st);
    assert_int_equal(st.n_bytes_replaced, 0);
    assert_false(wl_tok_stats_input_changed(&st, msg, sizeof msg));
    wl_tok_free(t);
}

static void test_special_tokens_real_vocabs(void **state)
{
    (void)state;
    if (!wl_test_have_data()) {
        skip();
        return;
    }
    int32_t ids[4096];
    size_t n;
    wl_tokenizer *t = load_vocab("llama-spm");
    n = tok(t, "<s>Hello</s>", WL_TOK_PARSE_SPECIAL, ids);
    EXPECT(ids, n, 1, 15043, 2);
    n = tok(t, "Hello world", WL_TOK_ADD_BOS | WL_TOK_ADD_EOS, ids);
    EXPECT(ids, n, 1, 15043, 3186); /* llama adds BOS, not EOS */
    assert_true(wl_tok_is_eog(t, 2));
    wl_tok_free(t);

    t = load_vocab("gpt-2");
    n = tok(t, "a<|endoftext|>b", WL_TOK_PARSE_SPECIAL, ids);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 50256);
    n = tok(t, "a<|endoftext|>b", 0, ids);
    assert_true(n > 3); /* plain text without PARSE_SPECIAL */
    detok_eq(t, ids, n, 0, "a<|endoftext|>b");
    n = tok(t, "Hello", WL_TOK_ADD_BOS, ids);
    assert_int_equal(n, 1); /* gpt-2 does not add BOS */
    wl_tok_free(t);

    /* deepseek-llm's user-defined tokens are split out even without PARSE_SPECIAL */
    t = load_vocab("deepseek-llm");
    int32_t oe = wl_tok_find_token(t, "\xc3\xb8", 2);
    assert_true(oe >= 100000);
    n = tok(t, "x\xc3\xb8y", 0, ids);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], oe);
    n = tok(t, "Hi", WL_TOK_ADD_BOS, ids);
    assert_int_equal(ids[0], 100000);
    wl_tok_free(t);
}

/* SPM cuts text where no token contains the two neighbouring characters; the
 * result must equal merging the whole fragment at once (the reference way). */
static void test_spm_segmentation_is_exact(void **state)
{
    (void)state;
    if (!wl_test_have_data()) {
        skip();
        return;
    }
    const char *names[] = {"llama-spm", "phi-3"};
    char *text = mixed_text(1u << 16);
    uint32_t x = 12345;
    for (size_t i = 0; i < (1u << 16); i += 7) { /* sprinkle pseudo-random bytes */
        x = x * 1103515245u + 12345u;
        text[i] = (char)(x >> 24);
    }
    for (size_t k = 0; k < 2; k++) {
        wl_tokenizer *t = load_vocab(names[k]);
        int32_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        struct wl_tok_stats st = {0};
        assert_int_equal(wl_tok_tokenize_alloc(t, text, 1u << 16, 0, &a, &na, &st), 0);
        assert_true(st.n_words > 1000); /* it did cut */
        uint64_t *pairs = t->spm_pairs;
        t->spm_pairs = NULL; /* one segment per fragment */
        assert_int_equal(wl_tok_tokenize_alloc(t, text, 1u << 16, 0, &b, &nb, NULL), 0);
        t->spm_pairs = pairs;
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na * sizeof(*a));
        free(a);
        free(b);
        wl_tok_free(t);
    }
    free(text);
}

/* ---- concurrency: one tokenizer, several threads ------------------------------------- */

/* Each worker tokenizes the text several times and compares every id with the
 * main thread's result: a race that hands back another word's ids of the
 * same length (a shared scratch buffer or word cache) shows as a mismatch. */
struct job {
    const wl_tokenizer *t;
    const char *text;
    unsigned flags;
    const int32_t *want; /* the main thread's ids */
    size_t n_want;
    int n_bad; /* runs whose ids differ from want, or failed */
};

static void *worker(void *arg)
{
    struct job *j = arg;
    for (int r = 0; r < 8; r++) {
        int32_t *ids = NULL;
        size_t n = 0;
        int rc = wl_tok_tokenize_alloc(j->t, j->text, strlen(j->text), j->flags, &ids, &n, NULL);
        if (rc != 0 || n != j->n_want || (n && memcmp(ids, j->want, n * sizeof(*ids)) != 0))
            j->n_bad++;
        free(ids);
    }
    return NULL;
}

static void test_concurrent_tokenize(void **state)
{
    (void)state;
    if (!wl_test_have_data()) {
        skip();
        return;
    }
    enum { N_THREADS = 4 };
    const char *names[] = {"gpt-2", "llama-spm", "phi-3"};
    char *text = mixed_text(1u << 16);
    for (size_t v = 0; v < sizeof(names) / sizeof(names[0]); v++) {
        wl_tokenizer *t = load_vocab(names[v]);
        const unsigned flags = WL_TOK_ADD_BOS | WL_TOK_PARSE_SPECIAL;
        int32_t *want = NULL;
        size_t n_want = 0;
        assert_int_equal(wl_tok_tokenize_alloc(t, text, strlen(text), flags, &want, &n_want, NULL),
                         0);
        assert_true(n_want > 1000);
        struct job jobs[N_THREADS];
        pthread_t th[N_THREADS];
        for (int i = 0; i < N_THREADS; i++) {
            jobs[i] = (struct job){t, text, flags, want, n_want, 0};
            assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
        }
        for (int i = 0; i < N_THREADS; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(jobs[i].n_bad, 0);
        }
        free(want);
        wl_tok_free(t);
    }
    free(text);
}

static void test_buffer_too_small(void **state)
{
    (void)state;
    struct vb v;
    spm_base(&v);
    vb_s(&v, SP, -5, 1);
    vb_s(&v, "a", -5, 1);
    wl_tokenizer *t = spm_build(&v, NULL);
    int32_t ids[2];
    size_t n = 0;
    assert_int_equal(wl_tok_tokenize(t, "aaaa", 4, 0, ids, 2, &n, NULL), WL_EFULL);
    assert_int_equal(n, 5);
    int32_t all[5] = {0};
    assert_int_equal(wl_tok_tokenize(t, "aaaa", 4, 0, all, 5, &n, NULL), 0);
    char buf[3];
    size_t len = 0;
    assert_int_equal(wl_tok_detokenize(t, all, 5, WL_DETOK_KEEP_SPACE, buf, sizeof(buf), &len),
                     WL_EFULL);
    assert_int_equal(len, 5);
    int32_t badid = 123456;
    assert_int_equal(wl_tok_detokenize(t, &badid, 1, 0, buf, sizeof(buf), &len), WL_EINVAL);
    const char *p;
    assert_int_equal(wl_tok_token_piece(t, -1, 0, &p, &len), WL_EINVAL);
    wl_tok_free(t);
}

/* ---- the hash map against chosen keys ----------------------------------------- */

/* The hash the maps used before they were keyed (FNV-1a, a one-byte
 * separator, one xor-shift), for a key with no second part. */
static uint64_t unkeyed_hash(const char *a, size_t la)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < la; i++) {
        h ^= (unsigned char)a[i];
        h *= 0x100000001b3ull;
    }
    h ^= 0xFF00u;
    h *= 0x100000001b3ull;
    h ^= h >> 29;
    return h ? h : 1;
}

/* 256 vocabulary texts chosen (by brute force, as a file's author could)
 * so that the unkeyed hash gives them the same low 12 bits: they all wanted
 * one slot, and inserting n of them probed n slots each (quadratic load;
 * the longest probe was 255). Under the tokenizer's random key they spread
 * like any other keys. */
static void test_map_keys_chosen_to_collide_spread_out(void **state)
{
    (void)state;
    enum { N = 256, LEN = 9 };
    static char pool[N * LEN];
    size_t n = 0;
    for (uint32_t i = 0; n < N; i++) {
        char k[LEN + 1];
        snprintf(k, sizeof k, "k%08x", i);
        if ((unkeyed_hash(k, LEN) & 0xfff) == 0x234) {
            memcpy(pool + n * LEN, k, LEN);
            n++;
        }
    }
    uint64_t key[2];
    wl_random_bytes(key, sizeof key);
    struct wl__tok_map m;
    assert_int_equal(wl__tok_map_init(&m, N, key), 0);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(
            wl__tok_map_put(&m, pool, (uint32_t)(i * LEN), LEN, 0, (int32_t)i, true, NULL), 0);
    size_t longest = 0;
    for (size_t j = 0; j <= m.mask; j++) {
        if (!m.slots[j].hash)
            continue;
        const size_t home = m.slots[j].hash & m.mask;
        const size_t probe = (j - home) & m.mask;
        if (probe > longest)
            longest = probe;
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(wl__tok_map_get(&m, pool, pool + i * LEN, LEN, 0), (int32_t)i);
    wl__tok_map_free(&m);
    /* 256 random keys in 1024 slots: a run of 40 has odds far below 1e-12 */
    if (longest >= 40) {
        fprintf(stderr, "longest probe %zu of %d keys chosen to collide\n", longest, N);
        fail();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spm_highest_score_merges_first),
        cmocka_unit_test(test_spm_byte_fallback_and_spaces),
        cmocka_unit_test(test_spm_special_tokens),
        cmocka_unit_test(test_decoder_holds_back_partial_utf8),
        cmocka_unit_test(test_decoder_drops_a_prompts_partial_character),
        cmocka_unit_test(test_text_over_the_limit_is_range_error),
        cmocka_unit_test(test_spm_takes_every_text_under_the_limit),
        cmocka_unit_test(test_bpe_merge_ranks_cache_and_fallback),
        cmocka_unit_test(test_byte_fallback_counted_on_cache_hits),
        cmocka_unit_test(test_bpe_add_space_prefix_keeps_real_spaces),
        cmocka_unit_test(test_bpe_every_byte_round_trips),
        cmocka_unit_test(test_pretokenizers),
        cmocka_unit_test(test_build_errors_say_what),
        cmocka_unit_test(test_duplicate_long_token_is_cut_between_characters),
        cmocka_unit_test(test_gguf_without_usable_tokenizer),
        cmocka_unit_test(test_gguf_tokenizer_key_of_wrong_type_is_refused),
        cmocka_unit_test(test_gguf_special_id_of_wrong_type_is_refused),
        cmocka_unit_test(test_gguf_tokenizer_names_with_nul_are_refused),
        cmocka_unit_test(test_gguf_tokenizer_general_name_is_a_hint),
        cmocka_unit_test(test_gguf_tokenizer_long_pre_name_cut_between_characters),
        cmocka_unit_test(test_edge_cases_real_vocabs),
        cmocka_unit_test(test_bpe_lost_bytes_become_fffd),
        cmocka_unit_test(test_special_tokens_real_vocabs),
        cmocka_unit_test(test_spm_segmentation_is_exact),
        cmocka_unit_test(test_concurrent_tokenize),
        cmocka_unit_test(test_buffer_too_small),
        cmocka_unit_test(test_map_keys_chosen_to_collide_spread_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

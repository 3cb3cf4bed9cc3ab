/* engine/tokenizer against llama.cpp's reference cases: every text of every
 * ../shared/testdata/vocab/ggml-vocab-NAME.gguf.inp (separated by "\n__ggml_vocab_test__\n")
 * tokenized without BOS/EOS must give exactly the ids of the matching line of
 * the .out file, for all five vocabularies. Also checks that detokenizing
 * those ids gives the text back wherever the vocabulary is lossless, and
 * that the streaming decoder agrees with whole-sequence detokenization. */
#include "test_support.h"

#include "engine/tokenizer.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEP "\n__ggml_vocab_test__\n"

struct cases {
    char *inp, *outp;
    const char *text[128];
    size_t len[128];
    const char *expect[128];
    size_t n;
};

static void load_cases(const char *vocab, struct cases *c)
{
    char rel[256];
    memset(c, 0, sizeof(*c));
    snprintf(rel, sizeof(rel), "vocab/ggml-vocab-%s.gguf.inp", vocab);
    size_t n_inp = 0, n_out = 0;
    c->inp = wl_test_read_file(wl_test_data_path(rel), &n_inp);
    assert_non_null(c->inp);
    snprintf(rel, sizeof(rel), "vocab/ggml-vocab-%s.gguf.out", vocab);
    c->outp = wl_test_read_file(wl_test_data_path(rel), &n_out);
    assert_non_null(c->outp);

    /* texts: split on the separator; the file ends with one, so the last piece is empty */
    char *p = c->inp, *end = c->inp + n_inp;
    while (p < end) {
        char *q = strstr(p, SEP);
        if (!q)
            break;
        assert_true(c->n < 128);
        c->text[c->n] = p;
        c->len[c->n] = (size_t)(q - p);
        c->n++;
        p = q + strlen(SEP);
    }
    /* expected: one line per text */
    size_t k = 0;
    char *line = c->outp;
    while (k < c->n && line < c->outp + n_out) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        c->expect[k++] = line;
        line = nl ? nl + 1 : c->outp + n_out;
    }
    assert_int_equal(k, c->n);
}

static size_t parse_ids(const char *s, int32_t *ids, size_t cap)
{
    size_t n = 0;
    while (*s) {
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s) {
            s++;
            continue;
        }
        assert_true(n < cap);
        ids[n++] = (int32_t)v;
        s = e;
    }
    return n;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "    %s:", label);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, "\n");
}

/* Every case must match; returns the number of mismatches (all are printed). */
static void check_vocab(const char *vocab, bool lossless)
{
    if (!wl_test_have_data()) {
        skip();
        return;
    }
    char rel[256];
    snprintf(rel, sizeof(rel), "vocab/ggml-vocab-%s.gguf", vocab);
    wl_tokenizer *t = NULL;
    struct wl_errmsg err = {{0}};
    int rc = wl_tok_load_file(wl_test_data_path(rel), &t, &err);
    if (rc)
        fprintf(stderr, "load %s: %s\n", vocab, err.text);
    assert_int_equal(rc, 0);

    struct cases c;
    load_cases(vocab, &c);
    size_t bad = 0, roundtrip_bad = 0;
    struct wl_tok_stats st = {0};
    for (size_t i = 0; i < c.n; i++) {
        int32_t want[512], got[512];
        size_t nw = parse_ids(c.expect[i], want, 512), ng = 0;
        rc = wl_tok_tokenize(t, c.text[i], c.len[i], 0, got, 512, &ng, &st);
        assert_int_equal(rc, 0);
        if (ng != nw || memcmp(want, got, ng * sizeof(int32_t)) != 0) {
            bad++;
            fprintf(stderr, "  %s case %zu mismatch: '%.*s'\n", vocab, i, (int)c.len[i], c.text[i]);
            print_ids("expected", want, nw);
            print_ids("got     ", got, ng);
        }
        /* detokenize(tokenize(x)) == x */
        char text[4096];
        size_t tl = 0;
        rc = wl_tok_detokenize(t, got, ng, 0, text, sizeof(text), &tl);
        assert_int_equal(rc, 0);
        if (lossless && (tl != c.len[i] || memcmp(text, c.text[i], tl) != 0)) {
            roundtrip_bad++;
            fprintf(stderr, "  %s case %zu round trip: '%.*s' -> '%.*s'\n", vocab, i, (int)c.len[i],
                    c.text[i], (int)tl, text);
        }
        /* the streaming decoder emits the same bytes (inputs are valid UTF-8) */
        struct wl_tok_decoder d;
        wl_tok_decoder_init(&d, t, 0);
        char sbuf[4096], piece[1024];
        size_t sl = 0;
        assert_true(wl_tok_decoder_out_max(t) <= sizeof(piece));
        for (size_t j = 0; j < ng; j++) {
            size_t k = 0;
            assert_int_equal(wl_tok_decoder_push(&d, got[j], piece, sizeof(piece), &k), 0);
            assert_true(sl + k <= sizeof(sbuf));
            memcpy(sbuf + sl, piece, k);
            sl += k;
        }
        size_t k = 0;
        assert_int_equal(wl_tok_decoder_flush(&d, piece, sizeof(piece), &k), 0);
        memcpy(sbuf + sl, piece, k);
        sl += k;
        assert_int_equal(sl, tl);
        assert_memory_equal(sbuf, text, sl);
    }
    fprintf(stderr,
            "%s: %zu cases, %zu mismatches, %zu round-trip failures; %llu tokens, "
            "%llu lookups, %llu merges\n",
            vocab, c.n, bad, roundtrip_bad, (unsigned long long)st.n_tokens,
            (unsigned long long)st.n_lookups, (unsigned long long)st.n_merges);
    assert_int_equal(c.n, 46);
    assert_int_equal(bad, 0);
    assert_int_equal(roundtrip_bad, 0);
    assert_true(st.n_calls == c.n && st.n_merges > 0 && st.n_lookups > 0);
    free(c.inp);
    free(c.outp);
    wl_tok_free(t);
}

static void test_llama_spm(void **state)
{
    (void)state;
    check_vocab("llama-spm", true);
}

static void test_phi_3(void **state)
{
    (void)state;
    check_vocab("phi-3", true);
}

static void test_gpt_2(void **state)
{
    (void)state;
    check_vocab("gpt-2", true);
}

static void test_starcoder(void **state)
{
    (void)state;
    check_vocab("starcoder", true);
}

static void test_deepseek_llm(void **state)
{
    (void)state;
    check_vocab("deepseek-llm", true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_spm),    cmocka_unit_test(test_phi_3),
        cmocka_unit_test(test_gpt_2),        cmocka_unit_test(test_starcoder),
        cmocka_unit_test(test_deepseek_llm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

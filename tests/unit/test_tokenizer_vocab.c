/* engine/tokenizer's rules keyed on names, on small byte-level BPE
 * vocabularies written as GGUF and loaded from memory, against llama.cpp's
 * llama_vocab::impl::load:
 * - every tokenizer.ggml.pre name llama.cpp maps to a rule implemented here
 *   loads with that rule and llama.cpp's flags (ignore_merges, add BOS);
 *   jina-v2-code also gets its <mask> LSTRIP; a name we do not support is
 *   refused as "not supported" (llama.cpp may know it), not "unknown";
 * - FIM tokens: a kind whose id the file gives (tokenizer.ggml.fim_*_token_id,
 *   or the deprecated prefix/suffix/middle keys) takes that id and no token
 *   is promoted by its name; for a kind without one, only the first token
 *   named like it becomes CONTROL. The FIM pad/repo/sep ids, from the key or
 *   that first match, end generation; other tokens with such names do not.
 */
#include "test_support.h"
#include "tok_fixture.h"

#include "engine/gguf_write.h"
#include "engine/tokenizer.h"
#include "engine/tokenizer_impl.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A token after the 256 byte tokens (its id is 256 + its index). */
struct extra {
    const char *text;
    int32_t type; /* GGUF token type: 1 normal, 3 control, 4 user-defined */
};

/* A tokenizer.ggml.*_token_id key written as UINT32. */
struct id_key {
    const char *key;
    uint32_t id;
};

#define N_BYTES 256
#define MAX_EXTRA 16

/* Loads a gpt2 vocabulary: ids 0..255 are the bytes (GPT-2's byte-to-unicode
 * spelling), then extra; one merge "a b"; tokenizer.ggml.pre = pre; the
 * given id keys. Returns wl_tok_load_gguf's status. */
static int load_bpe(const char *pre, const struct extra *extra, size_t n_extra,
                    const struct id_key *keys, size_t n_keys, wl_tokenizer **t,
                    struct wl_errmsg *err)
{
    assert_true(n_extra <= MAX_EXTRA);
    struct wl_gguf_str tok[N_BYTES + MAX_EXTRA];
    int32_t types[N_BYTES + MAX_EXTRA];
    char spelled[N_BYTES][4];
    size_t n = 0;
    for (int b = 0; b < N_BYTES; b++, n++) {
        size_t l = wl__utf8_encode(wl__tok_byte_to_cp((uint8_t)b), spelled[b]);
        tok[n] = (struct wl_gguf_str){spelled[b], l};
        types[n] = 1;
    }
    for (size_t i = 0; i < n_extra; i++, n++) {
        tok[n] = (struct wl_gguf_str){extra[i].text, strlen(extra[i].text)};
        types[n] = extra[i].type;
    }
    struct wl_gguf_str merge = {"a b", 3};
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre), 0);
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, n), 0);
    assert_int_equal(
        wl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", WL_GGUF_INT32, types, n), 0);
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", &merge, 1), 0);
    for (size_t i = 0; i < n_keys; i++)
        assert_int_equal(wl_gguf_writer_set_u32(w, keys[i].key, keys[i].id), 0);
    return wl_test_tok_load_written(w, t, err);
}

static wl_tokenizer *must_load(const char *pre, const struct extra *extra, size_t n_extra,
                               const struct id_key *keys, size_t n_keys)
{
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    int rc = load_bpe(pre, extra, n_extra, keys, n_keys, &t, &err);
    if (rc)
        fail_msg("pre '%s': %s", pre, err.text);
    return t;
}

static bool is_control(const wl_tokenizer *t, int32_t id)
{
    return (wl_tok_token_attr(t, id) & WL_TOK_ATTR_CONTROL) != 0;
}

/* text tokenizes without PARSE_SPECIAL to ids (n of them) and decodes back
 * to itself: a user-defined token in it is text. */
static void expect_plain_text(const wl_tokenizer *t, const char *text, const int32_t *want,
                              size_t n_want)
{
    int32_t ids[64];
    size_t n = 0;
    assert_int_equal(wl_tok_tokenize(t, text, strlen(text), 0, ids, 64, &n, NULL), 0);
    assert_int_equal(n, n_want);
    assert_memory_equal(ids, want, n * sizeof ids[0]);
    char back[64];
    size_t bl = 0;
    assert_int_equal(wl_tok_detokenize(t, ids, n, 0, back, sizeof back, &bl), 0);
    assert_int_equal(bl, strlen(text));
    assert_memory_equal(back, text, bl);
}

/* ---- pre-tokenizer names ------------------------------------------------------------ */

static void test_pre_names_of_implemented_rules_load(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum wl_tok_pre pre;
        bool ignore_merges_and_bos;
    } names[] = {
        /* GPT-2's rule (jina-v1-en, jina-v2-code and roberta-bpe also set
         * add_sep, which tokenizing does not use) */
        {"jina-v1-en", WL_TOK_PRE_GPT2, false},
        {"jina-v2-code", WL_TOK_PRE_GPT2, false},
        {"roberta-bpe", WL_TOK_PRE_GPT2, false},
        {"gigachat", WL_TOK_PRE_GPT2, false},
        {"a.x-4.0", WL_TOK_PRE_GPT2, false},
        {"mellum", WL_TOK_PRE_GPT2, false},
        {"granite-docling", WL_TOK_PRE_GPT2, false},
        {"jina-v2-es", WL_TOK_PRE_GPT2, false},
        {"kormo", WL_TOK_PRE_QWEN2, false},
        {"f2llmv2", WL_TOK_PRE_QWEN2, false},
        {"mellum2", WL_TOK_PRE_STARCODER, false},
        /* Llama 3's rule with ignore_merges and add_bos */
        {"falcon-h1", WL_TOK_PRE_LLAMA3, true},
        {"pixtral", WL_TOK_PRE_LLAMA3, true},
        {"midm-2.0", WL_TOK_PRE_LLAMA3, true},
        {"lfm2", WL_TOK_PRE_LLAMA3, true},
        {"jina-v5-nano", WL_TOK_PRE_LLAMA3, true},
        {"llama-bpe", WL_TOK_PRE_LLAMA3, true},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        wl_tokenizer *t = must_load(names[i].name, NULL, 0, NULL, 0);
        struct wl_tok_info inf;
        wl_tok_get_info(t, &inf);
        assert_string_equal(inf.pre_name, names[i].name);
        assert_int_equal(inf.pre, names[i].pre);
        assert_int_equal(inf.ignore_merges, names[i].ignore_merges_and_bos);
        assert_int_equal(inf.add_bos, names[i].ignore_merges_and_bos);
        wl_tok_free(t);
    }
}

/* jina-v2-code is one of the names whose <mask> strips the space to its left. */
static void test_jina_v2_code_mask_strips_left(void **state)
{
    (void)state;
    static const struct extra mask[] = {{"<mask>", 3}};
    wl_tokenizer *t = must_load("jina-v2-code", mask, 1, NULL, 0);
    int32_t ids[64];
    size_t n = 0;
    const char *txt = "a  <mask>";
    assert_int_equal(wl_tok_tokenize(t, txt, strlen(txt), WL_TOK_PARSE_SPECIAL, ids, 64, &n, NULL),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 'a');
    assert_int_equal(ids[1], N_BYTES);
    assert_true(wl_tok_token_attr(t, N_BYTES) & WL_TOK_ATTR_LSTRIP);
    wl_tok_free(t);
}

/* A name llama.cpp knows but we do not implement (or implement only in part)
 * is refused, and the message does not call it unknown. */
static void test_pre_name_not_supported_says_so(void **state)
{
    (void)state;
    static const char *const names[] = {"tekken",      "gpt-4o",     "qwen35",
                                        "modern-bert", "solar-open", "no-such-pre"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        wl_tokenizer *t = NULL;
        struct wl_errmsg err;
        assert_int_equal(load_bpe(names[i], NULL, 0, NULL, 0, &t, &err), WL_ENOTSUP);
        assert_null(t);
        char want[96];
        snprintf(want, sizeof want, "pre-tokenizer '%s' (tokenizer.ggml.pre) is not supported",
                 names[i]);
        if (!strstr(err.text, want))
            fail_msg("message: %s", err.text);
        assert_null(strstr(err.text, "unknown"));
    }
}

/* ---- FIM tokens ------------------------------------------------------------------------- */

/* No FIM key: per kind, the first name of llama.cpp's list that the
 * vocabulary has becomes CONTROL (and for pad/repo/sep ends generation);
 * a second token named for the same kind keeps its type. */
static void test_fim_names_mark_only_the_first_match(void **state)
{
    (void)state;
    static const struct extra ex[] = {
        {"<fim_prefix>", 1},   /* 256: second in the list for FIM_PRE */
        {"<|fim_prefix|>", 1}, /* 257: first */
        {"<PAD>", 4},          /* 258: FIM_PAD, after <|fim_pad|> */
        {"<|fim_pad|>", 1},    /* 259 */
        {"<reponame>", 1},     /* 260: FIM_REP, after <|fim_repo|> */
        {"<|fim_repo|>", 1},   /* 261 */
        {"<|file_sep|>", 1},   /* 262: FIM_SEP */
        {"<fim_middle>", 1},   /* 263: FIM_MID, the only one */
    };
    wl_tokenizer *t = must_load("gpt-2", ex, sizeof ex / sizeof ex[0], NULL, 0);
    assert_true(is_control(t, 257));
    assert_false(is_control(t, 256));
    assert_true(is_control(t, 263));
    assert_true(is_control(t, 259) && wl_tok_is_eog(t, 259));
    assert_false(is_control(t, 258) || wl_tok_is_eog(t, 258));
    assert_true(is_control(t, 261) && wl_tok_is_eog(t, 261));
    assert_false(is_control(t, 260) || wl_tok_is_eog(t, 260));
    assert_true(is_control(t, 262) && wl_tok_is_eog(t, 262));
    struct wl_tok_info inf;
    wl_tok_get_info(t, &inf);
    assert_int_equal(inf.fim_pre, 257);
    assert_int_equal(inf.fim_suf, WL_TOK_NULL);
    assert_int_equal(inf.fim_mid, 263);
    assert_int_equal(inf.fim_pad, 259);
    assert_int_equal(inf.fim_rep, 261);
    assert_int_equal(inf.fim_sep, 262);
    /* the user-defined <PAD> is still split out of text and printed */
    expect_plain_text(t, "x<PAD>", (const int32_t[]){'x', 258}, 2);
    wl_tok_free(t);
}

/* A kind whose id the file gives: that id, unchanged, and no token is
 * promoted by its name; the given pad/repo/sep ids end generation. */
static void test_fim_key_given_skips_the_names(void **state)
{
    (void)state;
    static const struct extra ex[] = {
        {"<fim_prefix>", 4},   /* 256: user-defined, named FIM_PRE */
        {"<my_pre>", 4},       /* 257 */
        {"<|fim_pad|>", 1},    /* 258 */
        {"<my_pad>", 1},       /* 259 */
        {"<|fim_repo|>", 1},   /* 260 */
        {"<my_repo>", 1},      /* 261 */
        {"<|file_sep|>", 1},   /* 262 */
        {"<my_sep>", 1},       /* 263 */
        {"<|fim_suffix|>", 1}, /* 264: its kind has a deprecated key */
        {"<|fim_middle|>", 1}, /* 265: its key is 0xFFFFFFFF: none */
    };
    static const struct id_key keys[] = {
        {"tokenizer.ggml.fim_pre_token_id", 257}, {"tokenizer.ggml.fim_pad_token_id", 259},
        {"tokenizer.ggml.fim_rep_token_id", 261}, {"tokenizer.ggml.fim_sep_token_id", 263},
        {"tokenizer.ggml.suffix_token_id", 257},  {"tokenizer.ggml.fim_mid_token_id", 0xFFFFFFFFu},
    };
    wl_tokenizer *t =
        must_load("gpt-2", ex, sizeof ex / sizeof ex[0], keys, sizeof keys / sizeof keys[0]);
    assert_int_equal(wl_tok_token_attr(t, 256), WL_TOK_ATTR_USER_DEFINED);
    assert_int_equal(wl_tok_token_attr(t, 257), WL_TOK_ATTR_USER_DEFINED);
    for (int32_t id = 258; id <= 263; id++) {
        assert_false(is_control(t, id));
        assert_int_equal(wl_tok_is_eog(t, id), id % 2 == 1); /* the ids the keys give */
    }
    assert_false(is_control(t, 264));
    assert_true(is_control(t, 265)); /* no id given: found by its name */
    struct wl_tok_info inf;
    wl_tok_get_info(t, &inf);
    assert_int_equal(inf.fim_pre, 257);
    assert_int_equal(inf.fim_suf, 257);
    assert_int_equal(inf.fim_mid, 265);
    assert_int_equal(inf.fim_pad, 259);
    /* the user-defined <fim_prefix> is text: split out without --special, printed */
    expect_plain_text(t, "<fim_prefix>", (const int32_t[]){256}, 1);
    wl_tok_free(t);

    /* a deprecated key outside the vocabulary leaves the newer key's id */
    static const struct extra ex2[] = {{"<fim_prefix>", 1}, {"<my_pre>", 1}};
    static const struct id_key keys2[] = {
        {"tokenizer.ggml.fim_pre_token_id", 257},
        {"tokenizer.ggml.prefix_token_id", 99999},
    };
    t = must_load("gpt-2", ex2, 2, keys2, 2);
    assert_false(is_control(t, 256));
    wl_tok_get_info(t, &inf);
    assert_int_equal(inf.fim_pre, 257);
    wl_tok_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pre_names_of_implemented_rules_load),
        cmocka_unit_test(test_jina_v2_code_mask_strips_left),
        cmocka_unit_test(test_pre_name_not_supported_says_so),
        cmocka_unit_test(test_fim_names_mark_only_the_first_match),
        cmocka_unit_test(test_fim_key_given_skips_the_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

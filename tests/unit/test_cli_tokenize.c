/* `wattlens tokenize`'s default output, 'ID<TAB>"piece"' with the pieces
 * escaped like C strings: a piece that is a C1 control character (here a
 * vocabulary whose token is U+009B, CSI on some terminals) is written as
 * \u009B, never as itself, like the C0 controls (\x1B) and the bytes that
 * are not UTF-8 on their own (\x9B); --stats escapes the pre-tokenizer's
 * name from the file too. With a vocabulary that asks for EOS, tokenize
 * adds it only with --eos, as generate never does. The file is a vocabulary-only GGUF
 * (SentencePiece), read by the real `wattlens` binary.
 */
#include "test_support.h"

#include "engine/gguf_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* <unk> <s> </s>, the 256 byte tokens, then extra (normal) pieces; pre is
 * tokenizer.ggml.pre (NULL: none); add_eos: tokenizer.ggml.add_eos_token
 * true (else absent: false for SentencePiece). */
static void write_spm_vocab(const char *path, const char *const *extra, uint32_t n_extra,
                            const char *pre, bool add_eos)
{
    const uint32_t n = 259 + n_extra;
    struct wl_gguf_str *tok = calloc(n, sizeof *tok);
    char(*bytes)[8] = calloc(256, sizeof *bytes);
    float *scores = calloc(n, sizeof *scores);
    int32_t *types = calloc(n, sizeof *types);
    assert_non_null(tok);
    assert_non_null(bytes);
    assert_non_null(scores);
    assert_non_null(types);
    static const char *const special[3] = {"<unk>", "<s>", "</s>"};
    for (uint32_t i = 0; i < n; i++) {
        const char *t = i < 3 ? special[i] : i < 259 ? bytes[i - 3] : extra[i - 259];
        if (i >= 3 && i < 259)
            snprintf(bytes[i - 3], sizeof bytes[i - 3], "<0x%02X>", i - 3);
        tok[i] = (struct wl_gguf_str){t, strlen(t)};
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1; /* unknown, control, byte, normal */
        scores[i] = i < 259 ? 0.0f : -(float)(i - 259);
    }
    wl_gguf_writer *w = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "general.architecture", "llama"), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"), 0);
    if (pre)
        assert_int_equal(wl_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre), 0);
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, n), 0);
    assert_int_equal(wl_gguf_writer_set_arr(w, "tokenizer.ggml.scores", WL_GGUF_FLOAT32, scores, n),
                     0);
    assert_int_equal(
        wl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", WL_GGUF_INT32, types, n), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2), 0);
    if (add_eos)
        assert_int_equal(wl_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", true), 0);
    assert_int_equal(wl_gguf_writer_write(w, path, &err), 0);
    wl_gguf_writer_free(w);
    free(tok);
    free(bytes);
    free(scores);
    free(types);
}

static void test_pieces_escape_c1_controls(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/vocab.gguf", dir);
    static const char *const extra[] = {"\xE2\x96\x81"
                                        "a",
                                        "\xC2\x9B", "\xC3\xA9"};
    write_spm_vocab(path, extra, 3, NULL, false);
    char *out = NULL, *errs = NULL;
    /* "a", CSI as U+009B, ESC, a lone 0x9B byte, and an accent kept as it is */
    snprintf(args, sizeof args, "tokenize -m '%s' --no-bos -p 'a\xC2\x9B\x1b\x9B\xC3\xA9'", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    assert_non_null(strstr(out, "\t\"\\u009B\"\n"));
    assert_non_null(strstr(out, "\t\"\\x1B\"\n"));
    assert_non_null(strstr(out, "\t\"\\x9B\"\n"));
    assert_non_null(strstr(out, "\t\"\xC3\xA9\"\n"));
    assert_null(strstr(out, "\xC2\x9B"));
    assert_null(strchr(out, '\x1b'));
    free(out);
    free(errs);
    wl_test_rmtree(dir);
    free(dir);
}

/* --stats names the pre-tokenizer as the file does, escaped: a SentencePiece
 * model's may be any text, and was written to the terminal as it was (an
 * OSC sequence set the window title). */
static void test_stats_escape_the_pre_tokenizer_name(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/vocab.gguf", dir);
    static const char *const extra[] = {"\xE2\x96\x81"
                                        "a"};
    write_spm_vocab(path, extra, 1,
                    "\x1b]0;title\x07\xC2\x9B"
                    "31m\xC3\xA9",
                    false);
    char *out = NULL, *errs = NULL;
    snprintf(args, sizeof args, "tokenize -m '%s' --ids --stats -p a", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    if (!strstr(errs, "(pre-tokenizer \\x1b]0;title\\x07\\u009b31m\xC3\xA9)"))
        fprintf(stderr, "stderr: %s\n", errs);
    assert_non_null(strstr(errs, "(pre-tokenizer \\x1b]0;title\\x07\\u009b31m\xC3\xA9)"));
    assert_null(strchr(errs, '\x1b'));
    assert_null(strchr(errs, '\x07'));
    assert_null(strstr(errs, "\xC2\x9B"));
    free(out);
    free(errs);
    wl_test_rmtree(dir);
    free(dir);
}

/* A vocabulary with add_eos_token: tokenize gives the ids generate feeds
 * the model (BOS, no EOS; the same count generate reports), --eos appends
 * EOS as llama.cpp's llama-tokenize does, and the JSON says which. */
static void test_eos_only_with_the_eos_option(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[512], model[512], args[2048];
    snprintf(path, sizeof path, "%s/vocab.gguf", dir);
    snprintf(model, sizeof model, "%s/model.gguf", dir);
    static const char *const extra[] = {"\xE2\x96\x81"
                                        "a"};
    write_spm_vocab(path, extra, 1, NULL, true);
    char *out = NULL, *errs = NULL;
    snprintf(args, sizeof args, "tokenize -m '%s' --special --ids -p a", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    assert_string_equal(out, "1 259\n");
    free(out);
    free(errs);
    snprintf(args, sizeof args, "tokenize -m '%s' --special --ids --eos -p a", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    assert_string_equal(out, "1 259 2\n");
    free(out);
    free(errs);
    snprintf(args, sizeof args, "tokenize -m '%s' --json -p a", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    assert_non_null(strstr(out, "\"add_eos\": false"));
    assert_non_null(strstr(out, "\"n_tokens\": 2"));
    free(out);
    free(errs);
    snprintf(args, sizeof args, "tokenize -m '%s' --json --eos -p a", path);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    assert_non_null(strstr(out, "\"add_eos\": true"));
    assert_non_null(strstr(out, "\"n_tokens\": 3"));
    free(out);
    free(errs);
    /* generate's prompt on a model with this vocabulary: the same 2 tokens */
    snprintf(args, sizeof args,
             "model synth --vocab-from '%s' --layers 1 --dim 32 --heads 4 --ffn 32 -o '%s'", path,
             model);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    free(out);
    free(errs);
    snprintf(args, sizeof args, "generate -m '%s' -p a -n 1 -t 1 --temp 0", model);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 0);
    if (!strstr(errs, "generate: 2 prompt tokens"))
        fprintf(stderr, "stderr: %s\n", errs);
    assert_non_null(strstr(errs, "generate: 2 prompt tokens"));
    free(out);
    free(errs);
    wl_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces_escape_c1_controls),
        cmocka_unit_test(test_stats_escape_the_pre_tokenizer_name),
        cmocka_unit_test(test_eos_only_with_the_eos_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

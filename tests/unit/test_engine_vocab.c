/* The vocabulary (tokenizer.ggml.tokens) against the token-embedding rows,
 * on synthesized llama models whose token list is cut or extended: a
 * vocabulary larger than the table is refused when a model is loaded for
 * inference (model info still reads the file); a smaller one loads with one
 * warning and generation (greedy, sampled, batched) never picks a padding
 * row, which random weights would otherwise pick about half the time, nor
 * fails on a NaN in one (its logit is never looked at), while a NaN in a
 * row that can be sampled is an error.
 */
#include "test_support.h"

#include "engine/arch.h"
#include "engine/context.h"
#include "engine/generate.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "engine/synth.h"
#include "engine/tokenizer.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 512, N_BYTE_VOCAB = 259 /* <unk> <s> </s> and 256 bytes */ };

/* A synthesized llama with ROWS embedding rows whose vocabulary is replaced
 * by the first n_tok entries of the byte-level one (n_tok <= 259) or by it
 * followed by made-up pieces (n_tok > 259). Returns the file's bytes. */
static void *model_with_vocab(uint64_t n_tok, size_t *size)
{
    struct wl_synth_params p;
    wl_synth_default_params(&p);
    p.vocab_size = ROWS;
    p.seed = 11;
    wl_gguf_writer *w = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    if (wl_synth_model(&p, w, &err) != 0)
        fail_msg("synth: %s", err.text);
    struct wl_gguf_str *tok = calloc(n_tok, sizeof *tok);
    char(*text)[16] = calloc(n_tok, sizeof *text);
    float *scores = calloc(n_tok, sizeof *scores);
    int32_t *types = calloc(n_tok, sizeof *types);
    for (uint64_t i = 0; i < n_tok; i++) {
        if (i < 3)
            snprintf(text[i], sizeof text[i], "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else if (i < N_BYTE_VOCAB)
            snprintf(text[i], sizeof text[i], "<0x%02X>", (unsigned)(i - 3));
        else
            snprintf(text[i], sizeof text[i], "\xe2\x96\x81w%u", (unsigned)i);
        tok[i] = (struct wl_gguf_str){.data = text[i], .len = strlen(text[i])};
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < N_BYTE_VOCAB ? 6 : 1;
        scores[i] = -(float)i;
    }
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, n_tok), 0);
    assert_int_equal(
        wl_gguf_writer_set_arr(w, "tokenizer.ggml.scores", WL_GGUF_FLOAT32, scores, n_tok), 0);
    assert_int_equal(
        wl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", WL_GGUF_INT32, types, n_tok), 0);
    void *buf = NULL;
    assert_int_equal(wl_gguf_writer_to_memory(w, &buf, size), 0);
    wl_gguf_writer_free(w);
    free(tok);
    free(text);
    free(scores);
    free(types);
    return buf;
}

static void test_vocabulary_larger_than_the_table_is_refused(void **state)
{
    (void)state;
    size_t size = 0;
    void *buf = model_with_vocab(ROWS + 20, &size);
    wl_model *m = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_test_model_from_memory(buf, size, &m, &err), WL_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(err.text, "532 tokens"));
    assert_non_null(strstr(err.text, "only 512 rows"));
    /* inspecting the file still works (model info) */
    wl_gguf *g = NULL;
    struct wl_model_features f;
    assert_int_equal(wl_gguf_open_memory(buf, size, &g, &err), 0);
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    wl_gguf_close(g);
    free(buf);
}

struct ids {
    int32_t max_id;
    int n;
};

static void on_token(void *ud, const struct wl_hook_event *ev)
{
    struct ids *s = ud;
    if (ev->kind == WL_HOOK_TOKEN && !ev->begin && ev->token_id >= 0) {
        s->n++;
        if (ev->token_id > s->max_id)
            s->max_id = ev->token_id;
    }
}

static void test_padding_rows_are_never_sampled(void **state)
{
    (void)state;
    size_t size = 0;
    void *buf = model_with_vocab(N_BYTE_VOCAB, &size);
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    wl_context *ctx = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_test_model_from_memory(buf, size, &m, &err), 0);
    assert_int_equal(m->config.vocab_size, ROWS);
    assert_int_equal(m->n_vocab_tok, N_BYTE_VOCAB);
    assert_int_equal(wl_tok_load_gguf(m->gguf, &tok, &err), 0);
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = 128;
    cp.n_threads = 1;
    cp.n_seq = 2;
    assert_int_equal(wl_context_create(m, &cp, &ctx, &err), 0);

    /* the test means something: unmasked, the first greedy pick is padding */
    int32_t bos = m->bos_id;
    assert_int_equal(wl_context_prefill(ctx, &bos, 1, &err), 0);
    const float *l = wl_context_logits(ctx);
    int32_t best = 0;
    for (int32_t i = 1; i < ROWS; i++)
        best = l[i] > l[best] ? i : best;
    assert_true(best >= N_BYTE_VOCAB);

    struct ids seen = {.max_id = -1};
    struct wl_hooks h = {.fn = on_token, .user_data = &seen, .depth = WL_HOOK_DEPTH_TOKEN};
    wl_context_set_hooks(ctx, &h);
    for (int temp = 0; temp < 2; temp++) {
        struct wl_generate_params p = wl_generate_default_params();
        p.sampling.temperature = temp ? 1.5f : 0.0f;
        p.sampling.top_k = 0;
        p.sampling.top_p = 1.0f;
        p.sampling.min_p = 0.0f;
        p.n_predict = 64;
        struct wl_generate_result r;
        seen = (struct ids){.max_id = -1};
        assert_int_equal(wl_generate(ctx, tok, &p, &r, &err), 0);
        assert_int_equal(seen.n, r.n_generated);
        assert_true(r.n_generated > 0);
        assert_true(seen.max_id < N_BYTE_VOCAB);
        wl_generate_result_free(&r);
    }
    /* batched: each round's event carries the id of its lowest running sequence */
    struct wl_generate_params p = wl_generate_default_params();
    p.sampling.temperature = 1.5f;
    p.sampling.top_k = 0;
    p.n_predict = 32;
    const char *prompts[2] = {"", ""};
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 2};
    struct wl_generate_result r[2];
    struct wl_generate_batch_stats st;
    seen = (struct ids){.max_id = -1};
    assert_int_equal(wl_generate_batch(ctx, tok, &p, &bp, r, &st, &err), 0);
    assert_true(seen.n > 0);
    assert_true(seen.max_id < N_BYTE_VOCAB);
    wl_generate_result_free(&r[0]);
    wl_generate_result_free(&r[1]);
    wl_context_set_hooks(ctx, NULL);

    wl_context_free(ctx);
    wl_tok_free(tok);
    wl_model_free(m);
    free(buf);
}

/* Writes v into row `row` of the model's output projection (F32 here; the
 * weights point into the test's own copy of the file). */
static void poison_output_row(wl_model *m, int32_t row, float v)
{
    assert_int_equal(m->weights.output.type, WL_TTYPE_F32);
    float *w = (float *)(uintptr_t)m->weights.output.data;
    w[(int64_t)row * m->weights.output.n_in + 3] = v;
}

static void test_nan_in_a_padding_row_is_not_looked_at(void **state)
{
    (void)state;
    size_t size = 0;
    void *buf = model_with_vocab(N_BYTE_VOCAB, &size);
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    wl_context *ctx = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_test_model_from_memory(buf, size, &m, &err), 0);
    assert_int_equal(wl_tok_load_gguf(m->gguf, &tok, &err), 0);
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = 64;
    cp.n_threads = 1;
    cp.n_seq = 2;
    assert_int_equal(wl_context_create(m, &cp, &ctx, &err), 0);
    poison_output_row(m, 300, NAN); /* padding: ids 259..511 */
    /* the test means something: the logit is NaN */
    int32_t bos = m->bos_id;
    assert_int_equal(wl_context_prefill(ctx, &bos, 1, &err), 0);
    assert_true(isnan(wl_context_logits(ctx)[300]));

    struct wl_generate_params p = wl_generate_default_params();
    p.sampling.top_k = 0;
    p.n_predict = 16;
    const char *prompts[2] = {"", "A"};
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 2};
    struct wl_generate_result r[2];
    struct wl_generate_batch_stats st;
    for (int temp = 0; temp < 2; temp++) {
        p.sampling.temperature = temp ? 1.0f : 0.0f;
        if (wl_generate(ctx, tok, &p, &r[0], &err) != 0)
            fail_msg("alone: %s", err.text);
        assert_true(r[0].n_generated > 0);
        wl_generate_result_free(&r[0]);
        if (wl_generate_batch(ctx, tok, &p, &bp, r, &st, &err) != 0)
            fail_msg("batch: %s", err.text);
        wl_generate_result_free(&r[0]);
        wl_generate_result_free(&r[1]);
    }
    /* a NaN where a token can come from is still refused, alone and batched */
    poison_output_row(m, 100, NAN);
    assert_int_equal(wl_generate(ctx, tok, &p, &r[0], &err), WL_ERANGE);
    assert_non_null(strstr(err.text, "non-finite logit (nan) for token 100 at generation step 0"));
    assert_int_equal(wl_generate_batch(ctx, tok, &p, &bp, r, &st, &err), WL_ERANGE);
    assert_non_null(strstr(
        err.text, "non-finite logit (nan) for token 100 of sequence 0 at generation step 0"));

    wl_context_free(ctx);
    wl_tok_free(tok);
    wl_model_free(m);
    free(buf);
}

/* Through the CLI: one warning on stderr (none with -q), ids in range. */
static void test_cli_warns_once(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/padded.gguf", dir);
    size_t size = 0;
    void *buf = model_with_vocab(N_BYTE_VOCAB, &size);
    assert_int_equal(wl_test_write_file(path, buf, size), 0);
    free(buf);
    char *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "generate -m '%s' -n 8 --temp 0 -t 1", path);
    assert_int_equal(wl_test_run_cli(args, &out, &err), 0);
    const char *w =
        strstr(err, "the vocabulary has 259 tokens but 'token_embd.weight' has 512 rows");
    assert_non_null(w);
    assert_null(strstr(w + 1, "the vocabulary has"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "-q generate -m '%s' -n 8 --temp 0 -t 1", path);
    assert_int_equal(wl_test_run_cli(args, &out, &err), 0);
    assert_string_equal(err, "");
    free(out);
    free(err);
    wl_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocabulary_larger_than_the_table_is_refused),
        cmocka_unit_test(test_padding_rows_are_never_sampled),
        cmocka_unit_test(test_nan_in_a_padding_row_is_not_looked_at),
        cmocka_unit_test(test_cli_warns_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

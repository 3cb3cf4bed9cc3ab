/* An F16 KV cache overflow stops generate with its non-finite logit error
 * on every kernel path, wherever the overflowing key sits in the attention
 * row, with float and with quantized weights (skipped when the shared test
 * data is absent).
 *
 * The model is stories260K, read into memory and edited there: rows 0 and 1
 * of layer 0's attn_k become a * u / |u|^2, u the normalised embedding of
 * " Lily", so that token's key has K[0] = K[1] = a = 1e5 (beyond F16's 65504
 * after any RoPE rotation) while every other token of the prompt stays below
 * 65504 / sqrt(2) (checked, on the weights each model holds). " Lily" is the
 * 15th of 17 prompt tokens, so the last prompt position's attention row holds
 * the infinite key inside the SIMD exp's 8-lane loop, where the AVX2/AVX-512
 * paths used to turn it into e^-87 (a uniform row, plausible text, exit 0)
 * instead of NaN as expf does (session 31 review, K2). With an F32 cache the
 * same model generates.
 *
 * Quantized copies of the edited model (wl_requant_model, in memory) must
 * stop the same way: the NaN attention output goes through Q8A (Q8_0, Q4_0)
 * or Q8K (Q4_K, Q6_K) activation blocks, whose quantizers used to turn it
 * into finite values. stories260K's rows (64, 172 values) are too short for
 * K-quants (they fall back to Q8_0 and F16), so those run on a synthesized
 * llama of dim 256 with stories260K's vocabulary, edited the same way.
 */
#include "test_support.h"

#include "engine/context.h"
#include "engine/forward.h" /* ctx->kern: the kernel path under test */
#include "engine/generate.h"
#include "engine/gguf_write.h"
#include "engine/kernels/kernels.h"
#include "engine/model.h"
#include "engine/quant.h"
#include "engine/requant.h"
#include "engine/synth.h"
#include "engine/tokenizer.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char prompt[] = "Once upon a time, there was a little girl named Lily. She";

/* Row r of a weight matrix of any type, as floats (n_in of them). */
static void weight_row(const struct wl_weight *w, int64_t r, float *out)
{
    const char *row = (const char *)w->data + (size_t)r * w->row_bytes;
    assert_int_equal(wl_dequantize_row(w->type, row, out, w->n_in), 0);
}

/* RMSNorm of token t's embedding times layer 0's attention norm weights:
 * the vector layer 0's K projection multiplies (dim floats into u). */
static void normed_embedding(const wl_model *m, int32_t t, float *u)
{
    const int32_t dim = m->config.dim;
    float *e = malloc(sizeof(float) * (size_t)dim);
    assert_non_null(e);
    weight_row(&m->weights.tok_embd, t, e);
    double ss = 0.0;
    for (int32_t i = 0; i < dim; i++)
        ss += (double)e[i] * e[i];
    const float r = (float)(1.0 / sqrt(ss / dim + m->config.norm_eps));
    for (int32_t i = 0; i < dim; i++)
        u[i] = e[i] * r * m->weights.layers[0].attn_norm[i];
    free(e);
}

/* Makes K[0] = K[1] = a for token tok in layer 0 (F32 attn_k, edited in the
 * model's copy of the file in memory). */
static void spike_key(wl_model *m, int32_t tok, double a)
{
    const int32_t dim = m->config.dim;
    struct wl_weight *wk = &m->weights.layers[0].wk;
    assert_int_equal(wk->type, WL_TTYPE_F32);
    float *w = (float *)(uintptr_t)wk->data;
    float *u = malloc(sizeof(float) * (size_t)dim);
    assert_non_null(u);
    normed_embedding(m, tok, u);
    double uu = 0.0;
    for (int32_t i = 0; i < dim; i++)
        uu += (double)u[i] * u[i];
    for (int32_t r = 0; r < 2; r++)
        for (int32_t i = 0; i < dim; i++)
            w[(size_t)r * (size_t)dim + (size_t)i] = (float)(a * u[i] / uu);
    free(u);
}

/* Layer 0's K[0] for token t, from the weights m holds (any type; rows 0
 * and 1 of attn_k are equal, so K[1] is the same). */
static double key0(const wl_model *m, int32_t t)
{
    const int32_t dim = m->config.dim;
    float *u = malloc(sizeof(float) * (size_t)dim), *w = malloc(sizeof(float) * (size_t)dim);
    assert_true(u && w);
    normed_embedding(m, t, u);
    weight_row(&m->weights.layers[0].wk, 0, w);
    double d = 0.0;
    for (int32_t i = 0; i < dim; i++)
        d += (double)w[i] * u[i];
    free(u);
    free(w);
    return d;
}

/* Tokenizes the prompt and returns " Lily" (the 15th of 17 tokens, once). */
static int32_t prompt_lily(const wl_tokenizer *tok, int32_t **ids, size_t *n_ids)
{
    assert_int_equal(
        wl_tok_tokenize_alloc(tok, prompt, strlen(prompt), WL_TOK_ADD_BOS, ids, n_ids, NULL), 0);
    assert_int_equal(*n_ids, 17);
    const int32_t lily = (*ids)[14];
    for (size_t k = 0; k < *n_ids; k++)
        assert_true(k == 14 || (*ids)[k] != lily);
    return lily;
}

/* With m's own weights (quantized or not): " Lily"'s key overflows F16 after
 * any rotation, no other prompt token's does; 5 % margins for the
 * activation quantization of the K projection. */
static void check_keys(const wl_model *m, int32_t lily, const int32_t *ids, size_t n,
                       const char *what)
{
    const double k_lily = fabs(key0(m, lily));
    double others = 0.0;
    for (size_t k = 0; k < n; k++)
        if (ids[k] != lily)
            others = fmax(others, fabs(key0(m, ids[k])));
    if (!(k_lily >= 1.05 * 65504.0))
        fail_msg("%s: the spiked key (%g) would not overflow", what, k_lily);
    if (!(others * sqrt(2.0) * 1.05 < 65504.0))
        fail_msg("%s: another prompt token's key (%g) would overflow too", what, others);
}

/* Every kernel path this CPU runs: with an F16 cache, generate stops with
 * the non-finite logit error and its --cache-type f32 hint; with an F32 cache
 * it generates 8 tokens. */
static void check_every_path(wl_model *m, const wl_tokenizer *tok, const char *what)
{
    const char *hint = "(with the F16 KV cache, a key or value above 65504, F16's largest, "
                       "overflows; an F32 cache may help: --cache-type f32)";
    struct wl_errmsg err = {{0}};
    struct wl_generate_params p = wl_generate_default_params();
    p.sampling.temperature = 0.0f;
    p.prompt = prompt;
    p.n_predict = 8;
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
        if (!wl_kpath_available((enum wl_kpath)path))
            continue;
        const char *pn = wl_kpath_name((enum wl_kpath)path);
        for (int f32 = 0; f32 < 2; f32++) {
            struct wl_context_params cp = wl_context_default_params();
            cp.n_ctx = 64;
            cp.n_threads = 1;
            cp.kv_type = f32 ? WL_TTYPE_F32 : WL_TTYPE_F16;
            wl_context *ctx = NULL;
            if (wl_context_create(m, &cp, &ctx, &err) != 0)
                fail_msg("%s: context: %s", what, err.text);
            assert_int_equal(wl_kernels_init(&ctx->kern, (enum wl_kpath)path), 0);
            struct wl_generate_result r;
            memset(&r, 0, sizeof r);
            const int rc = wl_generate(ctx, tok, &p, &r, &err);
            if (f32) {
                if (rc != 0)
                    fail_msg("%s, path %s, F32 cache: %s", what, pn, err.text);
                assert_int_equal(r.n_generated, 8);
            } else {
                if (rc != WL_ERANGE)
                    fail_msg("%s, path %s, F16 cache: generate returned %d (%d tokens), not the "
                             "non-finite logit error",
                             what, pn, rc, (int)r.n_generated);
                assert_non_null(strstr(err.text, "non-finite logit"));
                assert_non_null(strstr(err.text, "at generation step 0 "));
                assert_non_null(strstr(err.text, hint));
            }
            wl_generate_result_free(&r);
            wl_context_free(ctx);
        }
    }
}

/* A model and its tokenizer from a GGUF image in memory (buf outlives them). */
static void load_image(const void *buf, size_t size, wl_model **m, wl_tokenizer **tok)
{
    struct wl_errmsg err = {{0}};
    if (wl_test_model_from_memory(buf, size, m, &err) != 0 ||
        wl_tok_load_gguf((*m)->gguf, tok, &err) != 0)
        fail_msg("load: %s", err.text);
}

/* stories260K with the spike, as loaded from the shared test data; *buf
 * holds the file (caller frees it after the model). */
static void load_spiked_stories(char **buf, wl_model **m, wl_tokenizer **tok)
{
    size_t size = 0;
    *buf = wl_test_read_file(wl_test_data_path("models/stories260K.gguf"), &size);
    assert_non_null(*buf);
    load_image(*buf, size, m, tok);
    assert_int_equal((*m)->weights.tok_embd.type, WL_TTYPE_F32);
    assert_true((*m)->config.embd_scale == 0.0f && !(*m)->config.layer_norm);
}

/* The file of m (its gguf, edits included) with its matrices in type t, as
 * `model quantize` writes it; caller frees. */
static void *requant_image(const wl_model *m, enum wl_ttype t, size_t *size)
{
    wl_gguf_writer *w = NULL;
    struct wl_errmsg err = {{0}};
    void *buf = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    if (wl_requant_model(m->gguf, t, NULL, w, NULL, &err) != 0)
        fail_msg("requant: %s", err.text);
    assert_int_equal(wl_gguf_writer_to_memory(w, &buf, size), 0);
    wl_gguf_writer_free(w);
    return buf;
}

/* Quantized copies of spiked model m, each checked on every path: layer 0's
 * attn_k and attn_output (the matrix the NaN attention output goes through)
 * are of the type asked for. */
static void check_quantized_copies(const wl_model *m, const enum wl_ttype *types, size_t n_types,
                                   const char *name)
{
    for (size_t i = 0; i < n_types; i++) {
        size_t size = 0;
        void *img = requant_image(m, types[i], &size);
        wl_model *q = NULL;
        wl_tokenizer *tok = NULL;
        load_image(img, size, &q, &tok);
        char what[96];
        snprintf(what, sizeof what, "%s %s", name, wl_ttype_name(types[i]));
        assert_int_equal(q->weights.layers[0].wk.type, types[i]);
        assert_int_equal(q->weights.layers[0].wo.type, types[i]);
        int32_t *ids = NULL;
        size_t n_ids = 0;
        const int32_t lily = prompt_lily(tok, &ids, &n_ids);
        check_keys(q, lily, ids, n_ids, what);
        check_every_path(q, tok, what);
        free(ids);
        wl_tok_free(tok);
        wl_model_free(q);
        free(img);
    }
}

static void test_f16_overflow_is_reported_on_every_path(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    char *buf = NULL;
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    load_spiked_stories(&buf, &m, &tok);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    const int32_t lily = prompt_lily(tok, &ids, &n_ids);
    spike_key(m, lily, 1e5);
    check_keys(m, lily, ids, n_ids, "stories260K F32");
    check_every_path(m, tok, "stories260K F32");
    free(ids);
    wl_tok_free(tok);
    wl_model_free(m);
    free(buf);
}

/* Q8_0 and Q4_0 weights: Q8A activation blocks. */
static void test_f16_overflow_with_q8a_weights(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    char *buf = NULL;
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    load_spiked_stories(&buf, &m, &tok);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    spike_key(m, prompt_lily(tok, &ids, &n_ids), 1e5);
    const enum wl_ttype types[] = {WL_TTYPE_Q8_0, WL_TTYPE_Q4_0};
    check_quantized_copies(m, types, 2, "stories260K");
    free(ids);
    wl_tok_free(tok);
    wl_model_free(m);
    free(buf);
}

/* Q4_K and Q6_K weights: Q8K activation blocks, on a synthesized llama
 * (dim 256, ffn 512: whole super-blocks everywhere) that tokenizes as
 * stories260K. */
static void test_f16_overflow_with_q8k_weights(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    char *sbuf = NULL;
    wl_model *stories = NULL;
    wl_tokenizer *stok = NULL;
    load_spiked_stories(&sbuf, &stories, &stok);
    struct wl_synth_params sp;
    wl_synth_default_params(&sp);
    sp.dim = 256;
    sp.ffn = 512;
    sp.vocab_from = stories->gguf;
    sp.seed = 31;
    struct wl_errmsg err = {{0}};
    wl_gguf_writer *w = NULL;
    void *img = NULL;
    size_t size = 0;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    if (wl_synth_model(&sp, w, &err) != 0)
        fail_msg("synth: %s", err.text);
    assert_int_equal(wl_gguf_writer_to_memory(w, &img, &size), 0);
    wl_gguf_writer_free(w);
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    load_image(img, size, &m, &tok);
    assert_true(m->config.embd_scale == 0.0f && !m->config.layer_norm);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    spike_key(m, prompt_lily(tok, &ids, &n_ids), 1e5);
    const enum wl_ttype types[] = {WL_TTYPE_Q4_K, WL_TTYPE_Q6_K};
    check_quantized_copies(m, types, 2, "synthesized llama");
    free(ids);
    wl_tok_free(tok);
    wl_model_free(m);
    free(img);
    wl_tok_free(stok);
    wl_model_free(stories);
    free(sbuf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_overflow_is_reported_on_every_path),
        cmocka_unit_test(test_f16_overflow_with_q8a_weights),
        cmocka_unit_test(test_f16_overflow_with_q8k_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* An F16 KV cache overflow stops generate with its non-finite logit error
 * on every kernel path, wherever the overflowing key sits in the attention
 * row (skipped when the shared test data is absent).
 *
 * The model is stories260K, read into memory and edited there: rows 0 and 1
 * of layer 0's attn_k become a * u / |u|^2, u the normalised embedding of
 * " Lily", so that token's key has K[0] = K[1] = a = 1e5 (beyond F16's 65504
 * after any RoPE rotation) while every other token of the prompt stays below
 * 65504 / sqrt(2) (checked). " Lily" is the 15th of 17 prompt tokens, so the
 * last prompt position's attention row holds the infinite key inside the
 * SIMD exp's 8-lane loop, where the AVX2/AVX-512 paths used to turn it into
 * e^-87 (a uniform row, plausible text, exit 0) instead of NaN as expf does
 * (session 31 review, K2). With an F32 cache the same model generates.
 */
#include "test_support.h"

#include "engine/context.h"
#include "engine/forward.h" /* ctx->kern: the kernel path under test */
#include "engine/generate.h"
#include "engine/kernels/kernels.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char prompt[] = "Once upon a time, there was a little girl named Lily. She";

/* RMSNorm of token t's embedding times layer 0's attention norm weights:
 * the vector layer 0's K projection multiplies (dim floats into u). */
static void normed_embedding(const wl_model *m, int32_t t, float *u)
{
    const int32_t dim = m->config.dim;
    const float *e = (const float *)m->weights.tok_embd.data + (size_t)t * (size_t)dim;
    double ss = 0.0;
    for (int32_t i = 0; i < dim; i++)
        ss += (double)e[i] * e[i];
    const float r = (float)(1.0 / sqrt(ss / dim + m->config.norm_eps));
    for (int32_t i = 0; i < dim; i++)
        u[i] = e[i] * r * m->weights.layers[0].attn_norm[i];
}

/* Makes K[0] = K[1] = a for token tok in layer 0; returns the largest |K[0]|
 * (= |K[1]|) that any other token of ids[0..n) gets. */
static double spike_key(wl_model *m, int32_t tok, double a, const int32_t *ids, size_t n)
{
    const int32_t dim = m->config.dim;
    struct wl_weight *wk = &m->weights.layers[0].wk;
    float *w = (float *)(uintptr_t)wk->data; /* the model's copy of the file, in memory */
    float *u = malloc(sizeof(float) * (size_t)dim), *v = malloc(sizeof(float) * (size_t)dim);
    assert_true(u && v);
    normed_embedding(m, tok, u);
    double uu = 0.0;
    for (int32_t i = 0; i < dim; i++)
        uu += (double)u[i] * u[i];
    for (int32_t r = 0; r < 2; r++)
        for (int32_t i = 0; i < dim; i++)
            w[(size_t)r * (size_t)dim + (size_t)i] = (float)(a * u[i] / uu);
    double worst = 0.0;
    for (size_t k = 0; k < n; k++) {
        if (ids[k] == tok)
            continue;
        normed_embedding(m, ids[k], v);
        double d = 0.0;
        for (int32_t i = 0; i < dim; i++)
            d += (double)w[i] * v[i];
        worst = fabs(d) > worst ? fabs(d) : worst;
    }
    free(u);
    free(v);
    return worst;
}

static void test_f16_overflow_is_reported_on_every_path(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    size_t size = 0;
    char *buf = wl_test_read_file(wl_test_data_path("models/stories260K.gguf"), &size);
    assert_non_null(buf);
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    struct wl_errmsg err = {{0}};
    if (wl_test_model_from_memory(buf, size, &m, &err) != 0 ||
        wl_tok_load_gguf(m->gguf, &tok, &err) != 0)
        fail_msg("load: %s", err.text);
    assert_int_equal(m->weights.tok_embd.type, WL_TTYPE_F32);
    assert_int_equal(m->weights.layers[0].wk.type, WL_TTYPE_F32);
    assert_true(m->config.embd_scale == 0.0f && !m->config.layer_norm);

    int32_t *ids = NULL;
    size_t n_ids = 0;
    assert_int_equal(
        wl_tok_tokenize_alloc(tok, prompt, strlen(prompt), WL_TOK_ADD_BOS, &ids, &n_ids, NULL), 0);
    assert_int_equal(n_ids, 17);
    const int32_t lily = ids[14];
    for (size_t k = 0; k < n_ids; k++)
        assert_true(k == 14 || ids[k] != lily);
    const double others = spike_key(m, lily, 1e5, ids, n_ids);
    if (others * sqrt(2.0) >= 65504.0)
        fail_msg("another prompt token's key (%g) would overflow too", others);

    const char *hint = "(with the F16 KV cache, a key or value above 65504, F16's largest, "
                       "overflows; an F32 cache may help: --cache-type f32)";
    struct wl_generate_params p = wl_generate_default_params();
    p.sampling.temperature = 0.0f;
    p.prompt = prompt;
    p.n_predict = 8;
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
        if (!wl_kpath_available((enum wl_kpath)path))
            continue;
        for (int f32 = 0; f32 < 2; f32++) {
            struct wl_context_params cp = wl_context_default_params();
            cp.n_ctx = 64;
            cp.n_threads = 1;
            cp.kv_type = f32 ? WL_TTYPE_F32 : WL_TTYPE_F16;
            wl_context *ctx = NULL;
            if (wl_context_create(m, &cp, &ctx, &err) != 0)
                fail_msg("context: %s", err.text);
            assert_int_equal(wl_kernels_init(&ctx->kern, (enum wl_kpath)path), 0);
            struct wl_generate_result r;
            memset(&r, 0, sizeof r);
            const int rc = wl_generate(ctx, tok, &p, &r, &err);
            if (f32) {
                if (rc != 0)
                    fail_msg("path %s, F32 cache: %s", wl_kpath_name((enum wl_kpath)path),
                             err.text);
                assert_int_equal(r.n_generated, 8);
            } else {
                if (rc != WL_ERANGE)
                    fail_msg("path %s, F16 cache: generate returned %d, not the non-finite "
                             "logit error",
                             wl_kpath_name((enum wl_kpath)path), rc);
                assert_non_null(strstr(err.text, "non-finite logit"));
                assert_non_null(strstr(err.text, "at generation step 0 "));
                assert_non_null(strstr(err.text, hint));
            }
            wl_generate_result_free(&r);
            wl_context_free(ctx);
        }
    }
    free(ids);
    wl_tok_free(tok);
    wl_model_free(m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_overflow_is_reported_on_every_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

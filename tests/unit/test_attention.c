/* engine/kv_cache grouped loops + forward_ops attention: the GQA-grouped
 * paths (each K/V row converted once for the heads of its group) against
 * plain per-head references, bit for bit (memcmp, no tolerance), on random
 * data: F16 and F32 caches (SIMD and scalar loops), group sizes 1, 2 and 8,
 * head sizes with and without a SIMD tail, row counts around the block size,
 * decode and prefill batches at several positions, sliding windows,
 * soft-capping, fused and per-op (depth OP) stages, 1 and 3 threads. The
 * cache type changes the storage, not the arithmetic: F32 and F16 caches
 * holding the same F16-representable values give the same bits on every
 * path, and both stay within n * 2^-23 * sum|terms| of a double reference.
 * And the F16 store: the SIMD conversion equals wl_fp32_to_fp16 bit for bit.
 */
#include "test_support.h"

#include "engine/context.h"
#include "engine/forward.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;
static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) & 0xFFFFFF) / (float)0x1000000 - 0.5f;
}

static void fill_rand(float *p, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        p[i] = scale * frand();
}

/* Stores random K and V rows in cells [0, n_cells) of every layer. */
static void fill_cache(struct wl_kv_cache *kv, int32_t n_cells)
{
    const size_t kv_dim = (size_t)kv->n_head_kv * (size_t)kv->head_dim;
    float *k = malloc(kv_dim * sizeof(float)), *v = malloc(kv_dim * sizeof(float));
    for (int32_t il = 0; il < kv->n_layer; il++) {
        for (int32_t cell = 0; cell < n_cells; cell++) {
            fill_rand(k, kv_dim, 2.0f);
            fill_rand(v, kv_dim, 2.0f);
            wl_kv_cache_store(kv, il, cell, 1, k, v);
        }
    }
    free(k);
    free(v);
}

/* ---- the cache loops ---------------------------------------------------------- */

static void check_group_loops(struct wl_kv_cache *kv, int32_t n_q)
{
    enum { STRIDE = 96 }; /* score rows are wider than any n_pos below */
    static const int32_t n_pos_cases[] = {1, 3, 31, 32, 33, 70};
    static const int32_t cell0_cases[] = {0, 5};
    const int32_t hd = kv->head_dim;
    float *q = malloc((size_t)n_q * hd * sizeof(float));
    float *ref = malloc((size_t)n_q * STRIDE * sizeof(float));
    float *got = malloc((size_t)n_q * STRIDE * sizeof(float));
    float *p = malloc((size_t)n_q * STRIDE * sizeof(float));
    float *oref = malloc((size_t)n_q * hd * sizeof(float));
    float *ogot = malloc((size_t)n_q * hd * sizeof(float));
    float *scratch = malloc(wl_kv_cache_group_scratch_floats(hd) * sizeof(float));
    for (size_t a = 0; a < sizeof n_pos_cases / sizeof n_pos_cases[0]; a++) {
        for (size_t b = 0; b < sizeof cell0_cases / sizeof cell0_cases[0]; b++) {
            const int32_t n_pos = n_pos_cases[a], cell0 = cell0_cases[b], il = 1, kvh = 1;
            fill_rand(q, (size_t)n_q * hd, 1.0f);
            for (int32_t i = 0; i < n_q * STRIDE; i++) {
                ref[i] = got[i] = -7.0f; /* untouched past n_pos */
                p[i] = 0.5f + frand();
            }
            for (int32_t g = 0; g < n_q; g++)
                wl_kv_cache_dot(kv, il, kvh, cell0, n_pos, q + (size_t)g * hd, ref + (size_t)g * STRIDE);
            wl_kv_cache_dot_group(kv, il, kvh, cell0, n_pos, q, (size_t)hd, n_q, got, STRIDE, scratch);
            assert_memory_equal(ref, got, (size_t)n_q * STRIDE * sizeof(float));

            for (int32_t g = 0; g < n_q; g++)
                wl_kv_cache_accum(kv, il, kvh, cell0, n_pos, p + (size_t)g * STRIDE,
                                  oref + (size_t)g * hd);
            fill_rand(ogot, (size_t)n_q * hd, 9.0f); /* must be overwritten, not added to */
            wl_kv_cache_accum_group(kv, il, kvh, cell0, n_pos, p, STRIDE, n_q, ogot, (size_t)hd,
                                    scratch);
            assert_memory_equal(oref, ogot, (size_t)n_q * hd * sizeof(float));
        }
    }
    free(q);
    free(ref);
    free(got);
    free(p);
    free(oref);
    free(ogot);
    free(scratch);
}

static void test_group_loops_equal_per_head(void **state)
{
    (void)state;
    static const enum wl_ttype types[] = {WL_TTYPE_F16, WL_TTYPE_F32};
    /* 64 and 80: AVX-512 loops (whole 64-float blocks, and one 16-float tail
     * chunk); 20 and 7: AVX2 lane tails */
    static const int32_t hds[] = {64, 80, 20, 7};
    static const int32_t groups[] = {1, 2, 5, 8};
    rng_state = 42;
    for (size_t ti = 0; ti < 2; ti++) {
        for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++) {
            struct wl_kv_cache kv;
            assert_int_equal(wl_kv_cache_init(&kv, types[ti], 2, 80, 2, hds[hi], NULL), 0);
            fill_cache(&kv, 80);
            const bool simd = kv.simd_f16, simd512 = kv.simd512;
            /* the AVX-512 and AVX2 loops where this CPU has them, the scalar ones always */
            for (int s = 0; s < 3; s++) {
                if ((s == 0 && !simd512) || (s == 1 && !simd))
                    continue;
                kv.simd512 = s == 0;
                kv.simd_f16 = s <= 1;
                for (size_t gi = 0; gi < sizeof groups / sizeof groups[0]; gi++)
                    check_group_loops(&kv, groups[gi]);
            }
            wl_kv_cache_free(&kv);
        }
    }
}

/* ---- F32 and F16 caches: same loops ----------------------------------------------- */

/* |got - ref| <= n * 2^-23 * sum|terms| for a float sum of n products in any
 * order and with or without FMA (the classic n * u bound, doubled). */
static void check_near(double got, double ref, double abs_sum, int32_t n, const char *what,
                       int32_t hd, int32_t n_pos, int path)
{
    const double tol = (double)n * 0x1p-23 * abs_sum;
    if (!(fabs(got - ref) <= tol))
        fail_msg("%s hd %d n_pos %d path %d: %.9g, double %.9g (tolerance %.3g)", what, hd, n_pos,
                 path, got, ref, tol);
}

static void set_path(struct wl_kv_cache *kv, int path)
{
    kv->simd512 = path == 0;
    kv->simd_f16 = path <= 1;
}

static void test_f32_cache_uses_the_f16_loops(void **state)
{
    (void)state;
    enum { NPOS = 70, MAXHD = 80, NLAY = 1, NHKV = 1 };
    static const int32_t hds[] = {64, 80, 20, 7};
    static const int32_t n_pos_cases[] = {1, 3, 17, 32, 33, 70};
    rng_state = 1234;
    for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++) {
        const int32_t hd = hds[hi];
        struct wl_kv_cache c16, c32;
        assert_int_equal(wl_kv_cache_init(&c16, WL_TTYPE_F16, NLAY, NPOS, NHKV, hd, NULL), 0);
        assert_int_equal(wl_kv_cache_init(&c32, WL_TTYPE_F32, NLAY, NPOS, NHKV, hd, NULL), 0);
        assert_int_equal(c32.simd_f16, c16.simd_f16);
        assert_int_equal(c32.simd512, c16.simd512); /* F32 may take the AVX-512 loops too */
        /* the same F16-representable values in both caches */
        static float K[NPOS][MAXHD], V[NPOS][MAXHD];
        for (int32_t j = 0; j < NPOS; j++) {
            for (int32_t d = 0; d < hd; d++) {
                K[j][d] = wl_fp16_to_fp32(wl_fp32_to_fp16(2.0f * frand()));
                V[j][d] = wl_fp16_to_fp32(wl_fp32_to_fp16(2.0f * frand()));
            }
            wl_kv_cache_store(&c16, 0, j, 1, K[j], V[j]);
            wl_kv_cache_store(&c32, 0, j, 1, K[j], V[j]);
        }
        float q[MAXHD], p[NPOS], s16[NPOS], s32[NPOS], o16[MAXHD], o32[MAXHD];
        fill_rand(q, (size_t)hd, 1.0f);
        for (int32_t j = 0; j < NPOS; j++)
            p[j] = 0.5f + frand();
        const bool simd = c16.simd_f16, simd512 = c16.simd512;
        for (int path = 0; path < 3; path++) { /* AVX-512, AVX2 (where present), scalar */
            if ((path == 0 && !simd512) || (path == 1 && !simd))
                continue;
            set_path(&c16, path);
            set_path(&c32, path);
            for (size_t a = 0; a < sizeof n_pos_cases / sizeof n_pos_cases[0]; a++) {
                const int32_t n_pos = n_pos_cases[a];
                wl_kv_cache_dot(&c16, 0, 0, 0, n_pos, q, s16);
                wl_kv_cache_dot(&c32, 0, 0, 0, n_pos, q, s32);
                assert_memory_equal(s16, s32, (size_t)n_pos * sizeof(float));
                wl_kv_cache_accum(&c16, 0, 0, 0, n_pos, p, o16);
                wl_kv_cache_accum(&c32, 0, 0, 0, n_pos, p, o32);
                assert_memory_equal(o16, o32, (size_t)hd * sizeof(float));
                for (int32_t j = 0; j < n_pos; j++) {
                    double ref = 0.0, abs_sum = 0.0;
                    for (int32_t d = 0; d < hd; d++) {
                        ref += (double)q[d] * K[j][d];
                        abs_sum += fabs((double)q[d] * K[j][d]);
                    }
                    check_near(s32[j], ref, abs_sum, hd, "q.k", hd, n_pos, path);
                }
                for (int32_t d = 0; d < hd; d++) {
                    double ref = 0.0, abs_sum = 0.0;
                    for (int32_t j = 0; j < n_pos; j++) {
                        ref += (double)p[j] * V[j][d];
                        abs_sum += fabs((double)p[j] * V[j][d]);
                    }
                    check_near(o32[d], ref, abs_sum, n_pos, "p.v", hd, n_pos, path);
                }
            }
        }
        wl_kv_cache_free(&c16);
        wl_kv_cache_free(&c32);
    }
}

/* ---- att_rows through wl__fwd_attention ------------------------------------------ */

struct att_case {
    enum wl_ttype kv_type;
    bool scalar; /* force the portable loops */
    int32_t group, head_dim, window, n_threads;
    float softcap;
};

enum { NKV = 2, NCTX = 128, NLAYER = 2 };

/* The attention of every (token, head) one at a time, as att_rows computed
 * it before grouping: the per-head cache loops and the same float steps. */
static void ref_attention(const struct wl_context *ctx, int32_t il, int32_t window, float *scores,
                          float *att)
{
    const struct wl_model_config *c = &ctx->model->config;
    const int32_t hd = c->head_dim, nh = c->n_head, group = c->n_head / c->n_head_kv;
    const float scale = 1.0f / sqrtf((float)hd);
    const float cap = c->attn_softcap;
    for (int32_t t = 0; t < ctx->batch.n_tok; t++) {
        for (int32_t h = 0; h < nh; h++) {
            const int32_t n_all = ctx->rs.tok_pos[t] + 1;
            const int32_t j0 = window > 0 && n_all > window ? n_all - window : 0;
            const int32_t n_kv = n_all - j0;
            float *row = scores + ((size_t)t * nh + h) * NCTX;
            float *s = row + j0;
            wl_kv_cache_dot(&ctx->kv, il, h / group, j0, n_kv, ctx->rs.q + ((size_t)t * nh + h) * hd, s);
            for (int32_t j = 0; j < n_kv; j++)
                s[j] *= scale;
            if (cap > 0.0f) {
                for (int32_t j = 0; j < n_kv; j++)
                    s[j] = cap * tanhf(s[j] / cap);
            }
            float mx = s[0];
            for (int32_t j = 1; j < n_kv; j++)
                mx = s[j] > mx ? s[j] : mx;
            /* the same exponentials as the engine (their accuracy is
             * test_kernels' business); this test is about the grouping */
            const float inv = 1.0f / wl_kernel_exp_sum(&ctx->kern, s, n_kv, mx);
            for (int32_t j = 0; j < n_kv; j++)
                s[j] *= inv;
            for (int32_t j = 0; j < j0; j++)
                row[j] = 0.0f;
            wl_kv_cache_accum(&ctx->kv, il, h / group, j0, n_kv, s, att + ((size_t)t * nh + h) * hd);
        }
    }
}

static void count_event(void *user_data, const struct wl_hook_event *ev)
{
    if (ev->kind == WL_HOOK_OP)
        (*(int *)user_data)++;
}

/* One batch: n tokens at positions pos0.., layer il, fused or per-op. */
static void check_batch(wl_context *ctx, const struct att_case *k, int32_t pos0, int32_t n, bool deep)
{
    const struct wl_model_config *c = &ctx->model->config;
    const int32_t il = 1, nh = c->n_head, hd = c->head_dim;
    const size_t q_dim = (size_t)nh * hd, kv_dim = (size_t)NKV * hd;
    int n_ops = 0;
    struct wl_hooks hooks = {.fn = count_event, .user_data = &n_ops, .depth = WL_HOOK_DEPTH_OP};
    wl_context_set_hooks(ctx, deep ? &hooks : NULL);
    ctx->batch.n_tok = n;
    ctx->batch.pos0 = pos0;
    for (int32_t t = 0; t < n; t++) {
        ctx->rs.tok_pos[t] = pos0 + t;
        ctx->rs.tok_seq[t] = 0;
    }
    fill_rand(ctx->rs.q, (size_t)n * q_dim, 4.0f);
    fill_rand(ctx->rs.k, (size_t)n * kv_dim, 2.0f);
    fill_rand(ctx->rs.v, (size_t)n * kv_dim, 2.0f);
    float *scores = calloc((size_t)n * nh * NCTX, sizeof(float));
    float *att = calloc((size_t)n * q_dim, sizeof(float));
    wl__fwd_attention(ctx, il);
    /* after the call: the batch's own K/V rows are in the cache now */
    ref_attention(ctx, il, k->window, scores, att);
    assert_memory_equal(att, ctx->rs.att, (size_t)n * q_dim * sizeof(float));
    for (int32_t t = 0; t < n; t++) {
        const size_t vis = (size_t)(pos0 + t + 1); /* probabilities of positions 0..pos */
        for (int32_t h = 0; h < nh; h++) {
            const size_t r = ((size_t)t * nh + h) * NCTX;
            assert_memory_equal(scores + r, ctx->rs.scores + r, vis * sizeof(float));
        }
    }
    if (deep) /* every stage ran as its own op (softcap only when capped) */
        assert_int_equal(n_ops, 2 * (k->softcap > 0.0f ? 5 : 4));
    wl_context_set_hooks(ctx, NULL);
    free(scores);
    free(att);
}

static void check_case(const struct att_case *k)
{
    struct wl_layer_weights layers[NLAYER];
    memset(layers, 0, sizeof layers);
    wl_model m;
    memset(&m, 0, sizeof m);
    struct wl_model_config *c = &m.config;
    strcpy(c->arch, "llama");
    c->n_layer = NLAYER;
    c->n_head_kv = NKV;
    c->n_head = NKV * k->group;
    c->head_dim = k->head_dim;
    c->dim = c->n_head * k->head_dim;
    c->ffn_dim = 16;
    c->vocab_size = 8;
    c->n_ctx_train = NCTX;
    c->rope_dim = k->head_dim;
    c->sliding_window = k->window;
    c->attn_softcap = k->softcap;
    m.weights.layers = layers;
    struct wl_context_params p = wl_context_default_params();
    p.n_ctx = NCTX;
    p.n_ubatch = 8;
    p.n_threads = k->n_threads;
    p.kv_type = k->kv_type;
    wl_context *ctx = NULL;
    assert_int_equal(wl_context_create(&m, &p, &ctx, NULL), 0);
    if (k->scalar)
        ctx->kv.simd_f16 = false;
    fill_cache(&ctx->kv, NCTX);
    static const int32_t batches[][2] = {{0, 7}, {37, 4}, {100, 1}, {127, 1}}; /* pos0, n */
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        check_batch(ctx, k, batches[b][0], batches[b][1], false);
        check_batch(ctx, k, batches[b][0], batches[b][1], true);
    }
    wl_context_free(ctx);
}

static void test_grouped_attention_equals_per_head(void **state)
{
    (void)state;
    static const int32_t groups[] = {1, 2, 8};
    rng_state = 7;
    for (int ty = 0; ty < 4; ty++) { /* F16 and F32, SIMD (where available) and scalar */
        for (size_t gi = 0; gi < sizeof groups / sizeof groups[0]; gi++) {
            for (int var = 0; var < 3; var++) { /* plain, sliding window, window + softcap */
                for (int th = 1; th <= 3; th += 2) {
                    struct att_case k = {
                        .kv_type = ty >= 2 ? WL_TTYPE_F32 : WL_TTYPE_F16,
                        .scalar = ty % 2 == 1,
                        .group = groups[gi],
                        .head_dim = groups[gi] == 2 ? 20 : 64,
                        .window = var > 0 ? 5 : 0,
                        .softcap = var == 2 ? 3.0f : 0.0f,
                        .n_threads = th,
                    };
                    check_case(&k);
                }
            }
        }
    }
}

/* ---- the F16 store ------------------------------------------------------------- */

static uint32_t u32_rand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 32);
}

/* A row of bit patterns of every class: zeros, subnormals, values around
 * the fp16 subnormal and overflow thresholds and their rounding ties,
 * infinities, quiet and signalling NaNs, and random bits. */
static void special_row(uint32_t *b, int32_t n, int32_t round)
{
    static const uint32_t fixed[] = {
        0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x33000000u, 0x33000001u,
        0x337fffffu, 0x33800000u, 0x38800000u, 0x387fe000u, 0x387ff000u, 0x38801000u,
        0x3f800000u, 0x3f801000u, 0x3f803000u, 0x477fe000u, 0x477fefffu, 0x477ff000u,
        0x47800000u, 0xc77ff000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc12345u,
        0x7f800001u, 0x7fa00000u, 0xff812345u, 0x7fffffffu,
    };
    const int32_t nf = (int32_t)(sizeof fixed / sizeof fixed[0]);
    for (int32_t i = 0; i < n; i++) {
        const int32_t k = round * n + i;
        b[i] = k < nf ? fixed[k] : u32_rand();
        if (k >= nf && (k & 3) == 0) /* keep many in and near the fp16 range */
            b[i] = (b[i] & 0x80ffffffu) | ((0x30u + (b[i] >> 24) % 0x18u) << 24);
    }
}

static void test_f16_store_equals_scalar(void **state)
{
    (void)state;
    enum { HD = 72, ROUNDS = 400 }; /* 72: 9 blocks of 8, no tail; 68 below has one */
    static const int32_t hds[] = {HD, 68};
    rng_state = 99;
    for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++) {
        const int32_t hd = hds[hi];
        struct wl_kv_cache kv;
        assert_int_equal(wl_kv_cache_init(&kv, WL_TTYPE_F16, 1, ROUNDS, 1, hd, NULL), 0);
        uint32_t kb[HD], vb[HD];
        float k[HD], v[HD];
        for (int32_t r = 0; r < ROUNDS; r++) {
            special_row(kb, hd, 2 * r);
            special_row(vb, hd, 2 * r + 1);
            memcpy(k, kb, sizeof k);
            memcpy(v, vb, sizeof v);
            wl_kv_cache_store(&kv, 0, r, 1, k, v);
            const uint16_t *ks = (const uint16_t *)kv.k + (size_t)r * hd;
            const uint16_t *vs = (const uint16_t *)kv.v + (size_t)r * hd;
            for (int32_t i = 0; i < hd; i++) {
                if (ks[i] != wl_fp32_to_fp16(k[i]) || vs[i] != wl_fp32_to_fp16(v[i]))
                    fail_msg("hd %d row %d elem %d: bits %08x/%08x stored %04x/%04x, scalar "
                             "%04x/%04x (simd path %d)",
                             hd, r, i, kb[i], vb[i], ks[i], vs[i], wl_fp32_to_fp16(k[i]),
                             wl_fp32_to_fp16(v[i]), (int)kv.simd_f16);
            }
        }
        wl_kv_cache_free(&kv);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_loops_equal_per_head),
        cmocka_unit_test(test_f32_cache_uses_the_f16_loops),
        cmocka_unit_test(test_grouped_attention_equals_per_head),
        cmocka_unit_test(test_f16_store_equals_scalar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Decode attention and RMSNorm outside the matvecs, one thread, CPU time of
 * the calling thread, variants interleaved round by round in this process
 * (the machine may be shared; median and range over rounds are printed).
 *
 * attention: q.k and p.v of one decode token over n_pos cached positions for
 * a 1.1B llama layer (32 heads, 4 KV heads, head_dim 64), with an F16 and
 * then an F32 cache: one head at a time (wl_kv_cache_dot / _accum per head,
 * each F16 K/V row converted eight times) against the GQA-grouped loops
 * (each row converted once per group), which give bit-identical results
 * (test_attention). Both cache types run the same float row loops.
 * norm: wl__fwd_rmsnorm of one 2048-float row, next to a single-chain double
 * sum of squares (the loop shape it replaced) for scale.
 * activation: the gated products of one 16384-float FFN row (gemma-2B's
 * width), SwiGLU (wl_kernel_silu_mul) and GeGLU (wl_kernel_gelu_mul) on the
 * best kernel path, next to GeGLU with libm tanhf per element (the loop
 * wl_kernel_gelu_mul replaced in session 32) for scale.
 * Prints figures only; never asserts on time. Usage: bench_attention [ROUNDS]
 */
#include "bench_support.h"
#include "engine/context.h"
#include "engine/forward.h"
#include "engine/kernels/kernels.h"
#include "engine/kv_cache.h"
#include "util/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NH = 32, NKV = 4, HD = 64, GROUP = NH / NKV, DIM = 2048, MAX_POS = 2048 };

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    return (float)(wl_bench_xorshift64(&rng) >> 40) / (float)(1u << 24) - 0.5f;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_stat(const char *what, uint64_t *ns, int n, int reps)
{
    qsort(ns, (size_t)n, sizeof ns[0], cmp_u64);
    printf("  %-34s %9.2f us  [%.2f - %.2f]\n", what, (double)ns[n / 2] / reps / 1e3,
           (double)ns[0] / reps / 1e3, (double)ns[n - 1] / reps / 1e3);
}

static void attn_per_head(const struct wl_kv_cache *kv, int32_t n_pos, const float *q, float *s,
                          float *out)
{
    for (int32_t h = 0; h < NH; h++) {
        wl_kv_cache_dot(kv, 0, h / GROUP, 0, n_pos, q + h * HD, s + (size_t)h * MAX_POS);
        wl_kv_cache_accum(kv, 0, h / GROUP, 0, n_pos, s + (size_t)h * MAX_POS, out + h * HD);
    }
}

static void attn_grouped(const struct wl_kv_cache *kv, int32_t n_pos, const float *q, float *s,
                         float *out, float *scratch)
{
    for (int32_t kvh = 0; kvh < NKV; kvh++) {
        const int32_t h0 = kvh * GROUP;
        wl_kv_cache_dot_group(kv, 0, kvh, 0, n_pos, q + h0 * HD, HD, GROUP,
                              s + (size_t)h0 * MAX_POS, MAX_POS, scratch);
        wl_kv_cache_accum_group(kv, 0, kvh, 0, n_pos, s + (size_t)h0 * MAX_POS, MAX_POS, GROUP,
                                out + h0 * HD, HD, scratch);
    }
}

static double sum_sq_chain(const float *x, int32_t n)
{
    double ss = 0.0;
    for (int32_t i = 0; i < n; i++)
        ss += (double)x[i] * (double)x[i];
    return ss;
}

static int bench_attention(int rounds, enum wl_ttype type)
{
    struct wl_kv_cache kv;
    if (wl_kv_cache_init(&kv, type, 1, MAX_POS, NKV, HD, NULL) != 0)
        return 1;
    float *k = malloc(NKV * HD * sizeof(float)), *v = malloc(NKV * HD * sizeof(float));
    float *q = malloc(NH * HD * sizeof(float));
    float *s = malloc((size_t)NH * MAX_POS * sizeof(float));
    float *out = malloc(NH * HD * sizeof(float));
    float *scratch = malloc(wl_kv_cache_group_scratch_floats(HD) * sizeof(float));
    uint64_t *t_head = malloc((size_t)rounds * sizeof(uint64_t));
    uint64_t *t_group = malloc((size_t)rounds * sizeof(uint64_t));
    for (int32_t c = 0; c < MAX_POS; c++) {
        for (int i = 0; i < NKV * HD; i++) {
            k[i] = frand();
            v[i] = frand();
        }
        wl_kv_cache_store(&kv, 0, c, 1, k, v);
    }
    for (int i = 0; i < NH * HD; i++)
        q[i] = frand();
    printf("attention q.k + p.v, one decode token, 32 heads / 4 KV heads, head_dim 64, %s cache "
           "(%s loops), 1 thread, CPU time per layer:\n",
           type == WL_TTYPE_F32 ? "F32" : "F16",
           kv.simd512    ? "AVX-512"
           : kv.simd_f16 ? "AVX2"
                         : "scalar");
    static const int32_t n_pos_cases[] = {64, 512, 2048};
    for (size_t pc = 0; pc < sizeof n_pos_cases / sizeof n_pos_cases[0]; pc++) {
        const int32_t n_pos = n_pos_cases[pc];
        const int reps = 20 * 2048 / n_pos;
        for (int r = 0; r < rounds; r++) {
            uint64_t t0 = wl_clock_thread_cpu_ns();
            for (int i = 0; i < reps; i++)
                attn_per_head(&kv, n_pos, q, s, out);
            uint64_t t1 = wl_clock_thread_cpu_ns();
            for (int i = 0; i < reps; i++)
                attn_grouped(&kv, n_pos, q, s, out, scratch);
            uint64_t t2 = wl_clock_thread_cpu_ns();
            t_head[r] = t1 - t0;
            t_group[r] = t2 - t1;
        }
        printf(" n_pos %d\n", n_pos);
        uint64_t ratio_med;
        {
            /* per-round ratio, so a slow round slows both variants alike */
            uint64_t *ratio = malloc((size_t)rounds * sizeof(uint64_t));
            for (int r = 0; r < rounds; r++)
                ratio[r] = t_group[r] ? t_head[r] * 1000 / t_group[r] : 0;
            qsort(ratio, (size_t)rounds, sizeof ratio[0], cmp_u64);
            ratio_med = ratio[rounds / 2];
            free(ratio);
        }
        print_stat("per head", t_head, rounds, reps);
        print_stat("grouped", t_group, rounds, reps);
        printf("  speed-up (median of per-round ratios) %.2fx\n", (double)ratio_med / 1000.0);
    }
    wl_kv_cache_free(&kv);
    free(k);
    free(v);
    free(q);
    free(s);
    free(out);
    free(scratch);
    free(t_head);
    free(t_group);
    return 0;
}

/* wl__fwd_rmsnorm needs a context: a config-only model (no weights are read). */
static int bench_norm(int rounds)
{
    struct wl_layer_weights layer;
    memset(&layer, 0, sizeof layer);
    wl_model m;
    memset(&m, 0, sizeof m);
    struct wl_model_config *c = &m.config;
    strcpy(c->arch, "llama");
    c->n_layer = 1;
    c->dim = DIM;
    c->n_head = NH;
    c->n_head_kv = NKV;
    c->head_dim = HD;
    c->ffn_dim = 16;
    c->vocab_size = 8;
    c->n_ctx_train = 16;
    c->rope_dim = HD;
    c->norm_eps = 1e-5f;
    m.weights.layers = &layer;
    struct wl_context_params p = wl_context_default_params();
    p.n_ctx = 16;
    p.n_threads = 1;
    wl_context *ctx = NULL;
    if (wl_context_create(&m, &p, &ctx, NULL) != 0)
        return 1;
    float *x = malloc(DIM * sizeof(float)), *w = malloc(DIM * sizeof(float));
    float *o = malloc(DIM * sizeof(float));
    for (int i = 0; i < DIM; i++) {
        x[i] = frand();
        w[i] = 1.0f + frand();
    }
    uint64_t *t_norm = malloc((size_t)rounds * sizeof(uint64_t));
    uint64_t *t_chain = malloc((size_t)rounds * sizeof(uint64_t));
    enum { REPS = 4000 };
    volatile double sink = 0.0;
    ctx->batch.n_tok = 1;
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = wl_clock_thread_cpu_ns();
        for (int i = 0; i < REPS; i++)
            wl__fwd_rmsnorm(ctx, 0, WL_COMP_ATTN_NORM, x, w, o);
        uint64_t t1 = wl_clock_thread_cpu_ns();
        for (int i = 0; i < REPS; i++)
            sink += sum_sq_chain(x, DIM);
        uint64_t t2 = wl_clock_thread_cpu_ns();
        t_norm[r] = t1 - t0;
        t_chain[r] = t2 - t1;
    }
    (void)sink;
    printf("rmsnorm of one %d-float row, 1 thread, CPU time per call:\n", DIM);
    print_stat("wl__fwd_rmsnorm (whole norm)", t_norm, rounds, REPS);
    print_stat("single-chain sum of squares only", t_chain, rounds, REPS);
    wl_context_free(ctx);
    free(x);
    free(w);
    free(o);
    free(t_norm);
    free(t_chain);
    return 0;
}

/* GeGLU as forward_family_ops.c computed it until session 32. */
static void gelu_mul_tanhf(float *g, const float *u, int64_t n)
{
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        g[i] = 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x))) * u[i];
    }
}

static int bench_activation(int rounds)
{
    enum { FFN = 16384, REPS = 200 };
    struct wl_kernels k;
    if (wl_kernels_init(&k, WL_KPATH_AUTO) != 0)
        return 1;
    float *x = malloc(FFN * sizeof(float)), *u = malloc(FFN * sizeof(float));
    float *g = malloc(FFN * sizeof(float));
    uint64_t *t[3];
    for (int v = 0; v < 3; v++)
        t[v] = malloc((size_t)rounds * sizeof(uint64_t));
    for (int i = 0; i < FFN; i++) { /* gate values of a trained FFN are mostly within +-4 */
        x[i] = 8.0f * frand();
        u[i] = 2.0f * frand();
    }
    for (int r = 0; r < rounds; r++) {
        for (int v = 0; v < 3; v++) {
            const uint64_t t0 = wl_clock_thread_cpu_ns();
            for (int i = 0; i < REPS; i++) {
                memcpy(g, x, FFN * sizeof(float));
                if (v == 0)
                    wl_kernel_silu_mul(&k, g, u, FFN);
                else if (v == 1)
                    wl_kernel_gelu_mul(&k, g, u, FFN);
                else
                    gelu_mul_tanhf(g, u, FFN);
            }
            t[v][r] = wl_clock_thread_cpu_ns() - t0;
        }
    }
    printf("gated activation of one %d-float FFN row (%s path), 1 thread, CPU time per call "
           "(with a row copy):\n",
           FFN, wl_kpath_name(k.path));
    print_stat("SwiGLU (wl_kernel_silu_mul)", t[0], rounds, REPS);
    print_stat("GeGLU (wl_kernel_gelu_mul)", t[1], rounds, REPS);
    print_stat("GeGLU with tanhf per element", t[2], rounds, REPS);
    for (int v = 0; v < 3; v++)
        free(t[v]);
    free(x);
    free(u);
    free(g);
    return 0;
}

static const char usage[] =
    "usage: bench_attention [ROUNDS]\n"
    "\n"
    "Decode attention outside the matvecs: q.k and p.v of one token over the\n"
    "cached positions of a 1.1B llama layer (32 heads, 4 KV heads, head_dim 64,\n"
    "F16 then F32 cache), head by head against the GQA-grouped loops; and RMSNorm of one\n"
    "2048-float row next to a single-chain sum of squares; and the SwiGLU and\n"
    "GeGLU gated products of one 16384-float FFN row (GeGLU also with tanhf per\n"
    "element, the loop it replaced). One thread, CPU time,\n"
    "variants interleaved round by round; median and range over ROUNDS rounds\n"
    "(1..1000, default 7). Prints figures only; never asserts on time.\n"
    "\n"
    "Environment: none read.\n"
    "\n"
    "Exit status: 0; 1 when the KV cache or a context cannot be set up; 2 for a bad\n"
    "argument.\n";

int main(int argc, char **argv)
{
    const char *who = "bench_attention";
    if (argc == 2 && wl_bench_arg_is_help(argv[1])) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 2)
        return wl_bench_usage_error(who, usage, "unexpected argument '%s'", argv[2]);
    int rounds = 7;
    if (argc == 2) {
        char *end = NULL;
        long v = strtol(argv[1], &end, 10);
        if (argv[1][0] == '-' && !(argv[1][1] >= '0' && argv[1][1] <= '9'))
            return wl_bench_usage_error(who, usage, "unknown option '%s'", argv[1]);
        if (end == argv[1] || *end != '\0' || v < 1 || v > 1000)
            return wl_bench_usage_error(who, usage, "ROUNDS must be 1..1000, got '%s'", argv[1]);
        rounds = (int)v;
    }
    if (bench_attention(rounds, WL_TTYPE_F16) != 0 || bench_attention(rounds, WL_TTYPE_F32) != 0 ||
        bench_norm(rounds) != 0 || bench_activation(rounds) != 0) {
        fprintf(stderr, "bench_attention: cannot set up the cache or context\n");
        return 1;
    }
    return 0;
}

/* Internal to engine/kernels/: the function table each code path provides,
 * the per-path tables, and the layouts of quantized activation rows in
 * kernel scratch (Q8A for Q8_0/Q4_0 weights, Q8K for Q4_K/Q6_K). A dot function computes one weight
 * row against nx (1..WL__KMAX_NX) activation rows at once, so that prefill reuses each weight load
 * for several tokens. Tables are const data; thread-safe.
 */
#ifndef WL_ENGINE_KERNELS_KERNELS_IMPL_H
#define WL_ENGINE_KERNELS_KERNELS_IMPL_H

#include "engine/kernels/kernels.h"

#include <string.h>

#define WL__KMAX_NX 4

/* out[j] = dot(weight row w of n elements, activation row j) for j < nx.
 * Activation row j starts at (const char *)x + j * x_stride: floats for
 * F32/F16/BF16 weights, a quantized row (below) for the quantized types. */
typedef void (*wl__dot_fn)(int64_t n, const void *w, const void *x, size_t x_stride, int nx,
                           float *out);

/* Decode: out[r] = dot(weight row r, activation row x) for r < rows, the
 * rows row_bytes apart from w; bit-identical to the matching dot function
 * with nx = 1 (tested). For r < pf_rows the kernel also prefetches the bytes
 * pf_off past row r, as many as it reads, a few cache lines per loop step
 * (wl__prefetch_span): the caller's weight stream ahead. On Zen 5 this decodes 7-9 % (Q4_K),
 * 10-12 % (Q8_0), 9-10 % (Q4_0) and 7-9 % (Q6_K) faster than the same
 * prefetches issued in one burst before each row (paired per-token runs,
 * docs/internals/kernels-decode.md, "Session 6" and "Session 7"). A range of rows
 * per call saves a call per row ("Session 10"). NULL in a table where a
 * type has none. */
typedef void (*wl__dotp_fn)(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *x,
                            float *out, size_t pf_off, int64_t pf_rows);

/* A quantized activation row in scratch holds the Q8A blocks of
 * wl_quantize_row_q8a as a struct of arrays, so that SIMD code loads 64
 * contiguous int8 and 8 consecutive block scales at once:
 *   int8_t qs[n];  float d[n/32];  float s[n/32];  padding to 64 bytes.
 * Rows start 64-byte aligned when the scratch is. */
static inline size_t wl__xq_row_bytes(int64_t n)
{
    size_t b = (size_t)n + 2 * sizeof(float) * (size_t)(n / 32);
    return (b + 63) & ~(size_t)63;
}
static inline const float *wl__xq_d(const void *row, int64_t n)
{
    return (const float *)(const void *)((const int8_t *)row + n);
}
static inline const float *wl__xq_s(const void *row, int64_t n)
{
    return wl__xq_d(row, n) + n / 32;
}

/* A Q8K activation row (K-quant weights) holds the blocks of
 * wl_quantize_row_q8k as a struct of arrays:
 *   int8_t qs[n];  int16_t bsums[n/16];  float d[n/256];  padding to 64 bytes;
 *   int8_t qp[n]: qs again, each super-block's 32-value sub-blocks in the
 *   order 0 2 1 3 4 6 5 7 (wl__xk_fill_qp).
 * With a 64-byte aligned row, the 16 sums of a super-block are one aligned
 * 32-byte load. qp is what a Q4_K kernel multiplies by the low and the high
 * nibbles of 64 weight bytes at once: the low nibbles of qs bytes 0-63 of a
 * super-block are sub-blocks 0 and 2, the high nibbles 1 and 3 (the AVX-512
 * path; docs/internals/kernels-decode.md, "Session 10"). n is a multiple of 256. */
static inline size_t wl__xk_qp_offset(int64_t n)
{
    size_t b = (size_t)n + sizeof(int16_t) * (size_t)(n / 16) + sizeof(float) * (size_t)(n / 256);
    return (b + 63) & ~(size_t)63;
}
static inline size_t wl__xk_row_bytes(int64_t n)
{
    return wl__xk_qp_offset(n) + (size_t)n;
}
static inline const int16_t *wl__xk_bsums(const void *row, int64_t n)
{
    return (const int16_t *)(const void *)((const int8_t *)row + n);
}
static inline const float *wl__xk_d(const void *row, int64_t n)
{
    return (const float *)(const void *)(wl__xk_bsums(row, n) + n / 16);
}
static inline const int8_t *wl__xk_qp(const void *row, int64_t n)
{
    return (const int8_t *)row + wl__xk_qp_offset(n);
}
/* Writes qp from qs; every path's Q8K quantizer ends with it. */
static inline void wl__xk_fill_qp(void *row, int64_t n)
{
    static const int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    const int8_t *qs = row;
    int8_t *qp = (int8_t *)row + wl__xk_qp_offset(n);
    for (int64_t b = 0; b < n / 256; b++) {
        for (int k = 0; k < 8; k++)
            memcpy(qp + 256 * b + 32 * k, qs + 256 * b + 32 * order[k], 32);
    }
}

/* Activation row j of x (rows xs bytes apart), and its fields: Q8A rows
 * (int8 values, per-32 scales d and scaled sums s) and Q8K rows (int8
 * values, per-16 sums, per-256 scales). Shared by every path. */
static inline const void *wl__row_at(const void *x, size_t stride, int j)
{
    return (const char *)x + (size_t)j * stride;
}
struct wl__xrow {
    const int8_t *qs;
    const float *d, *s;
};
static inline struct wl__xrow wl__xrow_at(const void *x, size_t xs, int j, int64_t n)
{
    const void *row = wl__row_at(x, xs, j);
    struct wl__xrow r = {row, wl__xq_d(row, n), wl__xq_s(row, n)};
    return r;
}
struct wl__krow {
    const int8_t *qs, *qp;
    const int16_t *bsums;
    const float *d;
};
static inline struct wl__krow wl__krow_at(const void *x, size_t xs, int j, int64_t n)
{
    const void *row = wl__row_at(x, xs, j);
    struct wl__krow r = {row, wl__xk_qp(row, n), wl__xk_bsums(row, n), wl__xk_d(row, n)};
    return r;
}

/* Prefetch (non-temporal) every 64-byte line of [p, p + bytes): the weight
 * stream ahead of the kernels, in the driver and inside wl__dotp_fn. */
static inline void wl__prefetch_span(const char *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64)
        __builtin_prefetch(p + o, 0, 0);
}

/* Quantize one row of n floats into the layouts above; they must give the
 * values of wl_quantize_row_q8a / wl_quantize_row_q8k on every path (round
 * half to even). n is a multiple of 32 (Q8A) or 256 (Q8K). */
typedef void (*wl__quant_row_fn)(const float *x, void *row, int64_t n);

/* g[i] = silu(g[i]) * u[i] = g[i] / (1 + e^-g[i]) * u[i], i < n; see
 * wl_kernel_silu_mul for the accuracy of each path. */
typedef void (*wl__silu_mul_fn)(float *g, const float *u, int64_t n);
/* g[i] = gelu_tanh(g[i]) * u[i] = g[i] / (1 + e^-2y) * u[i] (wl_kernel_gelu_mul),
 * 2y = WL__GELU_2K * (WL__GELU_C * x * x * x + x) in this order of float
 * operations on every path. */
typedef void (*wl__gelu_mul_fn)(float *g, const float *u, int64_t n);
#define WL__GELU_2K 1.5957691216057308f /* 2 sqrt(2 / pi) */
#define WL__GELU_C 0.044715f
/* sum of x[i]^2 in double (wl_kernel_sum_sq: the same bits on every path) */
typedef double (*wl__sum_sq_fn)(const float *x, int64_t n);
/* o[i] = x[i] * s, then o[i] *= w[i] unless w is NULL (wl_kernel_scale_mul) */
typedef void (*wl__scale_mul_fn)(float *o, const float *x, float s, const float *w, int64_t n);
/* s[j] = e^(s[j] - mx) for j < n; returns their sum (wl_kernel_exp_sum). */
typedef float (*wl__exp_sum_fn)(float *s, int64_t n, float mx);

struct wl__kernel_ops {
    wl__dot_fn dot_f32, dot_f16, dot_bf16;
    wl__dot_fn dot_q8_0, dot_q4_0; /* activations: Q8A rows */
    wl__dot_fn dot_q4_k, dot_q6_k; /* activations: Q8K rows */
    /* decode with the prefetch spread over the row (may be NULL) */
    wl__dotp_fn dotp_q8_0, dotp_q4_0, dotp_q4_k, dotp_q6_k;
    wl__quant_row_fn quant_q8a, quant_q8k;
    wl__silu_mul_fn silu_mul;
    wl__gelu_mul_fn gelu_mul;
    wl__exp_sum_fn exp_sum;
    wl__sum_sq_fn sum_sq;
    wl__scale_mul_fn scale_mul;
};

/* The table's product for a weight type (NULL when it has none). */
static inline wl__dot_fn wl__dot_for(const struct wl__kernel_ops *ops, uint32_t type)
{
    switch (type) {
    case WL_TTYPE_F32:
        return ops->dot_f32;
    case WL_TTYPE_F16:
        return ops->dot_f16;
    case WL_TTYPE_BF16:
        return ops->dot_bf16;
    case WL_TTYPE_Q8_0:
        return ops->dot_q8_0;
    case WL_TTYPE_Q4_0:
        return ops->dot_q4_0;
    case WL_TTYPE_Q4_K:
        return ops->dot_q4_k;
    case WL_TTYPE_Q6_K:
        return ops->dot_q6_k;
    default:
        return NULL;
    }
}

/* The table's decode product with spread prefetch for a weight type (NULL
 * when it has none: the driver then prefetches each row in one burst). */
static inline wl__dotp_fn wl__dotp_for(const struct wl__kernel_ops *ops, uint32_t type)
{
    switch (type) {
    case WL_TTYPE_Q8_0:
        return ops->dotp_q8_0;
    case WL_TTYPE_Q4_0:
        return ops->dotp_q4_0;
    case WL_TTYPE_Q4_K:
        return ops->dotp_q4_k;
    case WL_TTYPE_Q6_K:
        return ops->dotp_q6_k;
    default:
        return NULL;
    }
}

/* The accumulator layout wl_kernel_sum_sq promises on every path, the
 * portable one included (so it stays outside the x86 block below): element i
 * goes to accumulator i % WL__SUMSQ_ACC, and the accumulators are combined
 * by wl__sum_sq_combine. */
enum { WL__SUMSQ_ACC = 8 };
static inline double wl__sum_sq_combine(double *acc)
{
    for (int w = WL__SUMSQ_ACC / 2; w > 0; w /= 2) {
        for (int k = 0; k < w; k++)
            acc[k] += acc[k + w];
    }
    return acc[0];
}

extern const struct wl__kernel_ops wl__kernel_ops_scalar;
/* x86 SIMD paths (define WL_NO_X86_KERNELS to build the portable path only,
 * to check that a non-x86 build compiles and passes: test_kernels_portable) */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(WL_NO_X86_KERNELS)
#define WL__HAVE_X86_KERNELS 1
extern const struct wl__kernel_ops wl__kernel_ops_avx2;
extern const struct wl__kernel_ops wl__kernel_ops_avx512;
/* wl__kernel_ops_avx512 with the GFNI Q4_K kernel (bit-identical results) */
extern const struct wl__kernel_ops wl__kernel_ops_avx512_gfni;
/* the AVX2+FMA SiLU-gate loop, shared by the AVX2 and AVX-512 tables (8
 * lanes already make it a small fraction of the matrix products around it) */
void wl__silu_mul_avx2(float *g, const float *u, int64_t n);
void wl__gelu_mul_avx2(float *g, const float *u, int64_t n);
float wl__exp_sum_avx2(float *s, int64_t n, float mx);
double wl__sum_sq_avx2(const float *x, int64_t n);
void wl__scale_mul_avx2(float *o, const float *x, float s, const float *w, int64_t n);
#endif

/* CPU features relevant to the paths (cpuid + OS register-state support). */
struct wl__cpu_features {
    bool avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni;
    bool gfni; /* with AVX-512: VGF2P8AFFINEQB on 512-bit registers */
};
void wl__cpu_features_get(struct wl__cpu_features *f);

#endif

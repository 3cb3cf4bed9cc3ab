/* Internal to engine/kernels/: the function table each code path provides,
 * and the per-path tables. A dot function computes one weight row against
 * nx (1..WL__KMAX_NX) activation rows at once, so that prefill reuses each
 * weight load for several tokens. Tables are const data; thread-safe.
 */
#ifndef WL_ENGINE_KERNELS_KERNELS_IMPL_H
#define WL_ENGINE_KERNELS_KERNELS_IMPL_H

#include "engine/kernels/kernels.h"

#define WL__KMAX_NX 4

/* out[j] = dot(weight row w of n elements, activation row j) for j < nx.
 * Activation row j starts at (const char *)x + j * x_stride: floats for
 * F32/F16/BF16 weights, a quantized row (below) for the quantized types. */
typedef void (*wl__dot_fn)(int64_t n, const void *w, const void *x, size_t x_stride, int nx,
                           float *out);

/* Decode helper (optional, NULL = call the dot function per row): two
 * consecutive weight rows, w and w + row_bytes, against ONE activation row;
 * out[0], out[1]. Two independent accumulation chains hide the latency of
 * each row's final horizontal sum. Must give exactly the bits of the dot
 * function with nx = 1 on each row, so that results never depend on how
 * rows are paired (the driver pairs rows by even index, independent of the
 * thread count anyway). */
typedef void (*wl__dot2_fn)(int64_t n, const void *w, size_t row_bytes, const void *x, float *out);

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

/* Quantizes one row of n floats (multiple of 32) into the layout above; must
 * give the values of wl_quantize_row_q8a on every path (round half to even). */
typedef void (*wl__quant_q8a_fn)(const float *x, void *row, int64_t n);

struct wl__kernel_ops {
    wl__dot_fn dot_f32, dot_f16, dot_bf16;
    wl__dot_fn dot_q8_0, dot_q4_0, dot_q4_k, dot_q6_k;
    wl__quant_q8a_fn quant_q8a;
    wl__dot2_fn dot2_q8_0, dot2_q4_k; /* optional */
};

extern const struct wl__kernel_ops wl__kernel_ops_scalar;
/* x86 SIMD paths (define WL_NO_X86_KERNELS to build the portable path only,
 * e.g. to check that a non-x86 build compiles and passes) */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(WL_NO_X86_KERNELS)
#define WL__HAVE_X86_KERNELS 1
extern const struct wl__kernel_ops wl__kernel_ops_avx2;
extern const struct wl__kernel_ops wl__kernel_ops_avx512;
#endif

/* CPU features relevant to the paths (cpuid + OS register-state support). */
struct wl__cpu_features {
    bool avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni;
};
void wl__cpu_features_get(struct wl__cpu_features *f);

#endif

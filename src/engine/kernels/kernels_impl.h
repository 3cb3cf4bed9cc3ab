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
 * F32/F16/BF16 weights, Q8A blocks for the quantized types. */
typedef void (*wl__dot_fn)(int64_t n, const void *w, const void *x, size_t x_stride, int nx,
                           float *out);

/* Quantizes k floats (multiple of 32) to Q8A; must give the same bytes on
 * every path (round to nearest even, as wl_quantize_row_q8a). */
typedef void (*wl__quant_q8a_fn)(const float *x, struct wl_block_q8a *y, int64_t k);

struct wl__kernel_ops {
    wl__dot_fn dot_f32, dot_f16, dot_bf16;
    wl__dot_fn dot_q8_0, dot_q4_0, dot_q4_k, dot_q6_k;
    wl__quant_q8a_fn quant_q8a;
};

extern const struct wl__kernel_ops wl__kernel_ops_scalar;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
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

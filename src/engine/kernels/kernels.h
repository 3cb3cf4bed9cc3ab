/* Matrix products of the engine: y = W x for one or several activation rows,
 * with W in F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K (GGUF layouts, used in
 * place from the mapped file) and x in F32. For the quantized types the
 * activations are first quantized to 8-bit blocks (engine/quant.h: Q8A, one
 * scale per 32 values, for Q8_0/Q4_0 weights; Q8K, one scale per 256 values,
 * for Q4_K/Q6_K weights) and the dot products run on 8-bit integers. Code paths: portable scalar,
 * AVX2
 * (+FMA, F16C) and AVX-512 (F/BW/VL/DQ + VNNI), chosen at run time from
 * cpuid; a path can be forced for tests and comparisons.
 * Lifetimes: struct wl_kernels is a plain value (function table); weights,
 * activations, outputs and scratch are caller memory. Nothing here allocates.
 * Thread-safety: all functions are reentrant; one matmul call uses the given
 * thread pool exclusively while it runs.
 */
#ifndef WL_ENGINE_KERNELS_KERNELS_H
#define WL_ENGINE_KERNELS_KERNELS_H

#include "engine/quant.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_threadpool;
struct wl__kernel_ops;

enum wl_kpath {
    WL_KPATH_AUTO = 0,   /* best available on this CPU */
    WL_KPATH_SCALAR = 1, /* portable C, every platform */
    WL_KPATH_AVX2 = 2,   /* x86-64 AVX2 + FMA + F16C */
    WL_KPATH_AVX512 = 3, /* x86-64 AVX-512 F/BW/VL/DQ/VNNI (+ the AVX2 set) */
};

/* A kernel set: which path and its functions. Fill with wl_kernels_init. */
struct wl_kernels {
    enum wl_kpath path;
    const struct wl__kernel_ops *ops;
};

/* A weight matrix of rows x cols, row-major: row r starts at
 * (const char *)data + r * row_bytes. */
struct wl_kernel_weight {
    uint32_t type; /* enum wl_ttype */
    const void *data;
    int64_t rows;
    int64_t cols;     /* multiple of the type's block size */
    size_t row_bytes; /* >= wl_quant_row_bytes(type, cols) */
};

/* Flags of wl_kernel_matmul. */
enum {
    /* scratch already holds x quantized by wl_kernel_prepare_x for the same
     * cols and n_x and a weight type of the same activation format
     * (wl_kernel_x_compatible: Q8_0 with Q4_0, Q4_K with Q6_K): lets q, k, v
     * projections share one quantization. Nothing checks this: scratch
     * prepared for another format gives wrong results, never a crash. */
    WL_KERNEL_X_PREPARED = 1u << 0,
};

/* True when path can run on this CPU (AUTO and SCALAR always can). */
bool wl_kpath_available(enum wl_kpath path);

/* The best available path (never AUTO). */
enum wl_kpath wl_kpath_best(void);

/* "auto", "scalar", "avx2", "avx512"; "unknown" otherwise. */
const char *wl_kpath_name(enum wl_kpath path);

/* Parses a path name as above; 0 or WL_EINVAL. */
int wl_kpath_parse(const char *s, enum wl_kpath *out);

/* Selects a path (AUTO = best). WL_ENOTSUP when this CPU cannot run it,
 * WL_EINVAL for an unknown value. */
int wl_kernels_init(struct wl_kernels *k, enum wl_kpath path);

/* True for weight types the kernels multiply: F32, F16, BF16, Q8_0, Q4_0,
 * Q4_K, Q6_K. */
bool wl_kernel_type_supported(uint32_t type);

/* True when x prepared for weights of type_a (wl_kernel_prepare_x) may be
 * used with WL_KERNEL_X_PREPARED for weights of type_b: both supported and
 * of the same activation format (floats: F32/F16/BF16; Q8A: Q8_0/Q4_0;
 * Q8K: Q4_K/Q6_K). Same cols and n_x are the caller's part. */
bool wl_kernel_x_compatible(uint32_t type_a, uint32_t type_b);

/* Alignment in bytes the kernels need of a weight's data and row_bytes:
 * 4 for F32, 2 for every other type (their blocks hold fp16 fields). GGUF
 * data is this aligned at the default general.alignment (32), not at 1 or 2:
 * the model loader copies such tensors (engine/model.c). */
size_t wl_kernel_weight_align(uint32_t type);

/* Checks a weight descriptor: supported type, rows >= 1, cols >= 1 and a
 * multiple of the block size, row_bytes large enough, data not NULL, data
 * and row_bytes aligned to wl_kernel_weight_align(type).
 * 0 or WL_EINVAL/WL_ENOTSUP. */
int wl_kernel_weight_check(const struct wl_kernel_weight *w);

/* Scratch bytes wl_kernel_matmul needs for weights of `type` with `cols`
 * columns and n_x activation rows (0 for F32/F16/BF16, which use x directly).
 * Scratch must be 4-byte aligned (it holds floats); 64-byte alignment is
 * recommended (whole cache lines per activation row). */
size_t wl_kernel_scratch_bytes(uint32_t type, int64_t cols, int64_t n_x);

/* Quantizes n_x rows of cols floats into scratch in the activation format of
 * weight type `type` (Q8A for Q8_0/Q4_0, cols a multiple of 32; Q8K for
 * Q4_K/Q6_K, cols a multiple of 256), for WL_KERNEL_X_PREPARED with weights
 * of a compatible type (wl_kernel_x_compatible). Does nothing for F32/F16/BF16.
 * 0 or WL_EINVAL (bad sizes, scratch too small). */
int wl_kernel_prepare_x(const struct wl_kernels *k, uint32_t type, const float *x, int64_t cols,
                        int64_t n_x, void *scratch, size_t scratch_bytes);

/* y[t * w->rows + r] = sum_c W[r][c] * x[t * w->cols + c] for t < n_x,
 * r < w->rows. The rows are split over pool's threads (NULL = caller only).
 * scratch: wl_kernel_scratch_bytes(w->type, w->cols, n_x) bytes (may be NULL
 * when that is 0). x and y must not overlap. Returns 0, WL_EINVAL or
 * WL_ENOTSUP (unsupported weight type). */
int wl_kernel_matmul(const struct wl_kernels *k, const struct wl_kernel_weight *w, const float *x,
                     int64_t n_x, float *y, void *scratch, size_t scratch_bytes, unsigned flags,
                     struct wl_threadpool *pool);

/* Most matrices wl_kernel_matmul_multi takes at once. */
#define WL_KERNEL_MAX_MULTI 4

/* n_w (1..WL_KERNEL_MAX_MULTI) matrices with the same column count and
 * activation format (wl_kernel_x_compatible, e.g. Q4_K with Q6_K as in
 * Q4_K_M files) applied to the same x in one pool job (one fork/join instead
 * of n_w; x is quantized once): ys[i][t * ws[i].rows + r] = sum_c W_i[r][c] x[t][c].
 * Results are bit-identical to n_w wl_kernel_matmul calls. scratch as for
 * wl_kernel_matmul with ws[0]. WL_EINVAL when formats or column counts differ. */
int wl_kernel_matmul_multi(const struct wl_kernels *k, const struct wl_kernel_weight *ws, int n_w,
                           const float *x, int64_t n_x, float *const *ys, void *scratch,
                           size_t scratch_bytes, unsigned flags, struct wl_threadpool *pool);

/* The SiLU-gated product of SwiGLU: g[i] = g[i] / (1 + e^-g[i]) * u[i] for
 * i < n (g and u must not overlap). The scalar path uses expf; the SIMD
 * paths a vector e^x (0.94 ulp worst measured over [-87, 88]), so results
 * differ from the scalar path by a few ulp (test_kernels bounds them: 4 ulp
 * of the exact value); for g <= -88.377 the SIMD paths divide by +inf
 * instead of e^-g, an absolute error below |g u| 1e-38. NaN and +-inf give
 * what they give with expf (silu(-inf) is NaN on every path). */
void wl_kernel_silu_mul(const struct wl_kernels *k, float *g, const float *u, int64_t n);

/* The GELU-gated product of GeGLU (gemma), GELU's tanh approximation:
 * g[i] = 0.5 x (1 + tanh(y)) * u[i] with x = g[i], y = sqrt(2/pi) (x +
 * 0.044715 x^3), computed as x / (1 + e^-2y) (the same value: 0.5 (1 +
 * tanh(y)) is the logistic function of 2y) with the exponential of
 * wl_kernel_silu_mul: expf on the scalar path, the vector e^x on the SIMD
 * paths, which compute 2y with the scalar path's float operations, so the
 * paths differ only by the exponential. Accuracy (test_kernels): 4 ulp of
 * the exact value plus what rounding 2y costs, 2|y| (1 - sigma(2y)) times
 * its relative error (GELU's own conditioning: it grows for negative x),
 * and |g u| 1e-38 absolute where e^-2y is past the SIMD e^x's range. NaN
 * and +-inf give what silu_mul gives: NaN, +inf, NaN for -inf. */
void wl_kernel_gelu_mul(const struct wl_kernels *k, float *g, const float *u, int64_t n);

/* The exponentials of a softmax row: s[j] = e^(s[j] - mx) for j < n;
 * returns their sum. Arguments are meant to be <= 0 (mx the row maximum).
 * The scalar path uses expf and sums in order; the SIMD paths use the same
 * vector e^x as wl_kernel_silu_mul (4 ulp; 0 below -87.683, where expf is
 * under 8.4e-39) and sum in 8 lanes. Non-finite arguments give expf's
 * results on every path: NaN stays NaN, e^-inf is 0, e^+inf is +inf. So a
 * NaN or +inf score (an F16 KV cache overflow) makes the softmax row NaN,
 * whatever the path and the score's position. */
float wl_kernel_exp_sum(const struct wl_kernels *k, float *s, int64_t n, float mx);

/* sum of x[i]^2 for i < n, in double, from WL__SUMSQ_ACC interleaved
 * accumulators: the same bits on every path (products of floats are exact
 * in double), so norms do not depend on the kernel path. */
double wl_kernel_sum_sq(const struct wl_kernels *k, const float *x, int64_t n);

/* o[i] = x[i] * s, then o[i] = o[i] * w[i] when w is not NULL (two
 * roundings, as two passes would give); o may be x. Same bits on every path. */
void wl_kernel_scale_mul(const struct wl_kernels *k, float *o, const float *x, float s,
                         const float *w, int64_t n);

/* wl_kernel_matmul with one activation row. */
int wl_kernel_matvec(const struct wl_kernels *k, const struct wl_kernel_weight *w, const float *x,
                     float *y, void *scratch, size_t scratch_bytes, struct wl_threadpool *pool);

#endif

/* Quantized tensor formats: the GGUF/ggml block layouts of Q8_0, Q4_0, Q4_K and
 * Q6_K (bit-exact with files written by llama.cpp), exact fp16/bf16 <-> fp32
 * conversion (round-to-nearest-even), scalar reference quantization and
 * dequantization, and the engine's 8-bit activation blocks used by the
 * integer dot products in engine/kernels/: Q8A (per 32 values, for Q8_0 and
 * Q4_0 weights) and Q8K (per 256 values, for Q4_K and Q6_K weights).
 * Pure functions over caller buffers: no allocation, no state, thread-safe.
 * Layout details and error bounds: docs/internals/kernels.md.
 */
#ifndef WL_ENGINE_QUANT_H
#define WL_ENGINE_QUANT_H

#include "engine/tensor_type.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_QK8_0 32
#define WL_QK4_0 32
#define WL_QK8A 32
#define WL_QK8K 256

/* Q8_0: 32 weights, x = d * qs[i]. 34 bytes. */
struct wl_block_q8_0 {
    uint16_t d; /* fp16 scale */
    int8_t qs[WL_QK8_0];
};

/* Q4_0: 32 weights, x[i] = d * ((qs[i] & 15) - 8), x[i+16] = d * ((qs[i] >> 4) - 8).
 * 18 bytes. */
struct wl_block_q4_0 {
    uint16_t d; /* fp16 scale */
    uint8_t qs[WL_QK4_0 / 2];
};

/* Q4_K: 256 weights in 8 sub-blocks of 32, each with a 6-bit scale sc[j] and
 * 6-bit min m[j] packed into scales[12]; x = d*sc[j]*q - dmin*m[j], q in 0..15.
 * Element 64c+l (l < 32) is the low nibble of qs[32c+l] (sub-block 2c),
 * element 64c+32+l its high nibble (sub-block 2c+1). 144 bytes. */
struct wl_block_q4_k {
    uint16_t d;    /* fp16 super-block scale of the scales */
    uint16_t dmin; /* fp16 super-block scale of the mins */
    uint8_t scales[12];
    uint8_t qs[WL_QK_K / 2];
};

/* Q6_K: 256 weights in 16 sub-blocks of 16 with int8 scales; x = d*sc[e/16]*(q-32),
 * q in 0..63 split into 4 low bits (ql) and 2 high bits (qh). 210 bytes. */
struct wl_block_q6_k {
    uint8_t ql[WL_QK_K / 2];
    uint8_t qh[WL_QK_K / 4];
    int8_t scales[WL_QK_K / 16];
    uint16_t d; /* fp16 super-block scale */
};

/* Q8A: the engine's activation block (not a GGUF type). 32 values,
 * x ~= d * qs[i]; s = d * sum(qs) lets kernels fold weight offsets (Q4_0's -8,
 * Q4_K's mins, Q6_K's -32) into one multiply per block. 40 bytes.
 * A block holding NaN or +-inf (Q8A and Q8K alike) gets d = NaN (s = NaN,
 * q = 0, bsums 0), so that every dot product with it is NaN, as a float
 * one would be non-finite: an overflow upstream (an F16 KV cache) reaches the
 * logits instead of quantizing to finite values. */
struct wl_block_q8a {
    float d;
    float s;
    int8_t qs[WL_QK8A];
};

/* Q8K: the engine's activation block for K-quant weights (not a GGUF type).
 * 256 values, x ~= d * qs[i] with d = amax/127 and
 * qs[i] = rint(x[i] / d) (round half to even, clamped to +-127; 0 when
 * d = 0; NaN and +-inf as in Q8A above); bsums[k] is the sum
 * of qs[16k .. 16k+15] (|bsums| <= 2032), which lets kernels apply Q4_K's
 * mins and Q6_K's -32 offset in integer arithmetic. One scale per 256 values
 * (instead of Q8A's per 32) lets a kernel accumulate a whole super-block in
 * integers; the price is a coarser activation step: the error per element is
 * at most amax/254 with amax over the 256 values. 292 bytes. */
struct wl_block_q8k {
    float d;
    int8_t qs[WL_QK8K];
    int16_t bsums[WL_QK8K / 16];
};

/* ---- Q8A/Q8K scale rules, shared by quant.c and the SIMD quantizers -------
 * The reference quantizers and the AVX2/AVX-512 ones in engine/kernels/ must
 * give the same bytes; these three carry the rules that differ most easily
 * between paths, so that they are written once. amax is a block's largest
 * |x|, taken as the largest bit pattern with the sign cleared (a NaN wins). */

/* True when the block holds NaN or +-inf: it gets d = NaN (s = NaN), q = 0
 * and bsums 0, as the blocks above say. */
static inline bool wl_q8_amax_bad(float amax)
{
    return !(amax <= FLT_MAX);
}

/* The block scale d = amax/127, NaN for a block wl_q8_amax_bad finds. */
static inline float wl_q8_scale(float amax)
{
    return wl_q8_amax_bad(amax) ? NAN : amax / 127.0f;
}

/* Q8A's multiplier 127/amax (q = rint(x * id)) for a finite amax, or 0 when
 * that is not finite: it is inf for amax = 0 and overflows for amax below
 * 127/FLT_MAX (~3.7e-37, where d may still be non-zero). id = 0 gives q = 0,
 * where x * inf would give lrintf an unspecified value and cvtps2dq INT_MIN
 * (packed to -128). Q8K divides by d instead and needs no such rule. */
static inline float wl_q8_inv_scale(float amax)
{
    const float id = 127.0f / amax;
    return id <= FLT_MAX ? id : 0.0f;
}

/* ---- scalar conversions (exact; round-to-nearest-even; NaN stays NaN) ---- */
float wl_fp16_to_fp32(uint16_t h);
uint16_t wl_fp32_to_fp16(float f);
float wl_bf16_to_fp32(uint16_t h);
uint16_t wl_fp32_to_bf16(float f);

/* ---- rows --------------------------------------------------------------- */

/* True for the types this module quantizes and dequantizes:
 * F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K. */
bool wl_quant_is_supported(uint32_t type);

/* Bytes of one row of n elements of type (0 if unsupported or n is not a
 * multiple of the block size). */
size_t wl_quant_row_bytes(uint32_t type, int64_t n);

/* Quantizes n floats (n a multiple of the type's block size) into dst, which
 * holds wl_quant_row_bytes(type, n) bytes. Returns 0, or WL_EINVAL for an
 * unsupported type / bad n / NULL pointer. Deterministic: the same input
 * always gives the same bytes. Non-finite inputs give unspecified (but
 * memory-safe) blocks. */
int wl_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* Dequantizes n elements (n a multiple of the block size) from src to dst.
 * Returns 0 or WL_EINVAL as above. */
int wl_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/* Per-type reference routines (k = element count, multiple of the block size). */
void wl_quantize_row_f16(const float *x, uint16_t *y, int64_t k);
void wl_quantize_row_bf16(const float *x, uint16_t *y, int64_t k);
void wl_quantize_row_q8_0(const float *x, struct wl_block_q8_0 *y, int64_t k);
void wl_quantize_row_q4_0(const float *x, struct wl_block_q4_0 *y, int64_t k);
void wl_quantize_row_q4_k(const float *x, struct wl_block_q4_k *y, int64_t k);
void wl_quantize_row_q6_k(const float *x, struct wl_block_q6_k *y, int64_t k);
void wl_quantize_row_q8a(const float *x, struct wl_block_q8a *y, int64_t k);
void wl_quantize_row_q8k(const float *x, struct wl_block_q8k *y, int64_t k);

void wl_dequantize_row_f16(const uint16_t *x, float *y, int64_t k);
void wl_dequantize_row_bf16(const uint16_t *x, float *y, int64_t k);
void wl_dequantize_row_q8_0(const struct wl_block_q8_0 *x, float *y, int64_t k);
void wl_dequantize_row_q4_0(const struct wl_block_q4_0 *x, float *y, int64_t k);
void wl_dequantize_row_q4_k(const struct wl_block_q4_k *x, float *y, int64_t k);
void wl_dequantize_row_q6_k(const struct wl_block_q6_k *x, float *y, int64_t k);
void wl_dequantize_row_q8a(const struct wl_block_q8a *x, float *y, int64_t k);
void wl_dequantize_row_q8k(const struct wl_block_q8k *x, float *y, int64_t k);

/* Unpacks sub-block j (0..7) of a Q4_K scales[12] array into its 6-bit scale
 * and min. */
void wl_q4_k_get_scale_min(const uint8_t scales[12], int j, uint8_t *sc, uint8_t *m);

/* Internal (wl_quantize_row_q4_k's sub-block search, exported for its
 * tests): fits x[0..n) ~= s*q - m with q in 0..nmax, s >= 0, m >= 0 (the
 * minimum is clipped to <= 0, so that m is a non-negative offset); n a
 * multiple of 4. The plain min/max fit (s = (max - min) / nmax, m = -min)
 * is one of the candidates, scored by its own error, so the result never
 * fits worse than it (up to the float rounding of the scores). */
void wl__q4_k_fit_scale_min(int n, const float *x, int nmax, float *s_out, float *m_out);

#endif

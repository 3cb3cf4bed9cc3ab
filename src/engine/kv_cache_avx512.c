/* AVX-512 attention loops over the KV cache; see kv_cache_avx512.h.
 *
 * q.k: each score is one FMA chain over the head's 16-float chunks, in
 * order, then a sum of the 16 lanes in a fixed tree ((i, i+8), (i, i+4),
 * (i, i+2), (i, i+1), the order of hsum16). The grouped loop keeps sixteen
 * rows' chains in flight and sums their lanes together with a transposing
 * reduction that pairs the lanes exactly as hsum16 does, so it gives the
 * per-row function's bits while doing a sixteenth of the horizontal work.
 *
 * p.v: every output element is one FMA per row, rows in order (the
 * arithmetic of the AVX2 loops in kv_cache.c, so those stay its reference);
 * up to four heads of a GQA group go through each row together, which keeps
 * sixteen independent chains in registers.
 */
#include "engine/kv_cache_avx512.h"

#include "engine/quant.h"

#if defined(WL_KV_AVX512)
#include <immintrin.h>

#define WL_AVX512 __attribute__((target("avx512f,avx512dq,f16c,fma")))

/* The 16 lanes summed in the order the grouped loop's reduction uses. */
WL_AVX512 static inline float hsum16(__m512 v)
{
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}

WL_AVX512 void wl__kv_dot_f16_avx512(const uint16_t *K, int32_t n_pos, int32_t hd, const float *q,
                                     float *scores)
{
    for (int32_t j = 0; j < n_pos; j++) {
        const uint16_t *kr = K + (size_t)j * (size_t)hd;
        __m512 acc = _mm512_setzero_ps();
        for (int32_t d = 0; d < hd; d += 16) {
            __m512 kf = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kr + d)));
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), kf, acc);
        }
        scores[j] = hsum16(acc);
    }
}

/* One row's chain (the same arithmetic as wl__kv_dot_f16_avx512). */
WL_AVX512 static inline __m512 row_chain(const float *kr, const float *q, int32_t hd)
{
    __m512 acc = _mm512_setzero_ps();
    for (int32_t d = 0; d < hd; d += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(kr + d), acc);
    return acc;
}

/* Lane sums of v[0..15] as one vector, element r = hsum16(v[r]): each step
 * adds the lanes hsum16 pairs at that level, for two inputs at once. */
WL_AVX512 static inline __m512 hsum16x16(__m512 v[16])
{
    __m512 w[8], x[4], y[2];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) /* (i, i + 8): rows 2r | 2r + 1 in the 256-bit halves */
        w[r] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * r], v[2 * r + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * r], v[2 * r + 1], 0xEE));
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) /* (i, i + 4): rows 4r .. 4r + 3 in the 128-bit lanes */
        x[r] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * r], w[2 * r + 1], 0x88),
                             _mm512_shuffle_f32x4(w[2 * r], w[2 * r + 1], 0xDD));
#pragma GCC unroll 2
    for (int r = 0; r < 2; r++) /* (i, i + 2): lane L holds rows 8r + L, 8r + 4 + L */
        y[r] = _mm512_add_ps(_mm512_shuffle_ps(x[2 * r], x[2 * r + 1], 0x44),
                             _mm512_shuffle_ps(x[2 * r], x[2 * r + 1], 0xEE));
    /* (i, i + 1): element 4L + m is row 4m + L */
    __m512 z =
        _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], 0x88), _mm512_shuffle_ps(y[0], y[1], 0xDD));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, z);
}

WL_AVX512 void wl__kv_dot_rows_avx512(const float *K, int32_t n_pos, int32_t hd, const float *q,
                                      float *scores)
{
    int32_t j = 0;
    for (; j + 16 <= n_pos; j += 16) {
        /* sixteen rows' chains advance together, chunk by chunk */
        const float *kb = K + (size_t)j * (size_t)hd;
        __m512 acc[16];
#pragma GCC unroll 16
        for (int r = 0; r < 16; r++)
            acc[r] = _mm512_setzero_ps();
        for (int32_t d = 0; d < hd; d += 16) {
            const __m512 qd = _mm512_loadu_ps(q + d);
#pragma GCC unroll 16
            for (int r = 0; r < 16; r++)
                acc[r] =
                    _mm512_fmadd_ps(qd, _mm512_loadu_ps(kb + (size_t)r * (size_t)hd + d), acc[r]);
        }
        _mm512_storeu_ps(scores + j, hsum16x16(acc));
    }
    for (; j < n_pos; j++)
        scores[j] = hsum16(row_chain(K + (size_t)j * (size_t)hd, q, hd));
}

/* out[h] += sum_j p[h][j] * V[j] for WH heads and WC 16-float chunks from d. */
#define ACCUM_BLOCK(WH, WC)                                                                        \
    do {                                                                                           \
        __m512 o[WH][WC];                                                                          \
        _Pragma("GCC unroll 4") for (int h = 0; h < (WH); h++)                                     \
            _Pragma("GCC unroll 4") for (int c = 0; c < (WC); c++) o[h][c] =                       \
                _mm512_loadu_ps(out + (size_t)(h0 + h) * out_stride + d + 16 * c);                 \
        for (int32_t j = 0; j < n_pos; j++) {                                                      \
            const float *vr = V + (size_t)j * (size_t)hd + d;                                      \
            _Pragma("GCC unroll 4") for (int h = 0; h < (WH); h++)                                 \
            {                                                                                      \
                const __m512 a = _mm512_set1_ps(p[(size_t)(h0 + h) * p_stride + j]);               \
                _Pragma("GCC unroll 4") for (int c = 0; c < (WC); c++) o[h][c] =                   \
                    _mm512_fmadd_ps(a, _mm512_loadu_ps(vr + 16 * c), o[h][c]);                     \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int h = 0; h < (WH); h++)                                     \
            _Pragma("GCC unroll 4") for (int c = 0; c < (WC); c++)                                 \
                _mm512_storeu_ps(out + (size_t)(h0 + h) * out_stride + d + 16 * c, o[h][c]);       \
    } while (0)

WL_AVX512 void wl__kv_accum_rows_avx512(const float *V, int32_t n_pos, int32_t hd, const float *p,
                                        size_t p_stride, int32_t n_q, float *out, size_t out_stride)
{
    int32_t h0 = 0;
    for (; h0 + 4 <= n_q; h0 += 4) {
        int32_t d = 0;
        for (; d + 64 <= hd; d += 64)
            ACCUM_BLOCK(4, 4);
        for (; d < hd; d += 16)
            ACCUM_BLOCK(4, 1);
    }
    for (; h0 < n_q; h0++) {
        int32_t d = 0;
        for (; d + 64 <= hd; d += 64)
            ACCUM_BLOCK(1, 4);
        for (; d < hd; d += 16)
            ACCUM_BLOCK(1, 1);
    }
}

#endif

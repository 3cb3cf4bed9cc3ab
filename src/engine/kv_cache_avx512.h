/* AVX-512 (F, DQ) + F16C + FMA attention loops over the KV cache, internal to
 * engine/kv_cache.c, which chooses them at run time (F16 or F32 cache,
 * head_dim a multiple of 16, the CPU has the AVX-512 kernel path).
 * Bit-identical pairs: wl__kv_dot_rows_avx512 over rows converted from F16
 * (or an F32 cache's rows) gives the scores of wl__kv_dot_f16_avx512 on the
 * F16 rows; wl__kv_accum_rows_avx512 gives, per
 * head, the sums of kv_cache.c's AVX2 loops (test_attention checks both).
 */
#ifndef WL_ENGINE_KV_CACHE_AVX512_H
#define WL_ENGINE_KV_CACHE_AVX512_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WL_KV_AVX512 1

/* scores[j] = q . K[j] for F16 rows K (n_pos, hd); hd % 16 == 0. */
void wl__kv_dot_f16_avx512(const uint16_t *K, int32_t n_pos, int32_t hd, const float *q,
                           float *scores);
/* The same scores from float rows K (n_pos, hd). */
void wl__kv_dot_rows_avx512(const float *K, int32_t n_pos, int32_t hd, const float *q,
                            float *scores);
/* out[g][d] += sum_j p[g][j] * V[j][d] for the n_q heads g (rows p_stride /
 * out_stride floats apart) over float rows V (n_pos, hd); hd % 16 == 0. */
void wl__kv_accum_rows_avx512(const float *V, int32_t n_pos, int32_t hd, const float *p,
                              size_t p_stride, int32_t n_q, float *out, size_t out_stride);
#endif

#endif

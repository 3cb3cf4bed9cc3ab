/* KV cache storage and the attention inner loops over it; see kv_cache.h.
 *
 * The F16 loops have an AVX2+F16C+FMA path chosen at run time (decode reads
 * the whole cache once per token per layer, so converting it element by
 * element would cost several percent of a token) and a portable scalar path.
 */
#include "engine/kv_cache.h"

#include "engine/kernels/kernels.h"
#include "engine/quant.h"
#include "wattlens/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WL_KV_X86 1
#include <immintrin.h>
#endif

uint64_t wl_kv_cache_bytes_for(enum wl_ttype type, int32_t n_layer, int32_t n_ctx,
                               int32_t n_head_kv, int32_t head_dim)
{
    uint64_t eb = type == WL_TTYPE_F16 ? 2 : type == WL_TTYPE_F32 ? 4 : 0;
    if (eb == 0 || n_layer <= 0 || n_ctx <= 0 || n_head_kv <= 0 || head_dim <= 0)
        return 0;
    /* each factor < 2^31, so three products fit in 64 bits only if checked */
    uint64_t per = (uint64_t)n_head_kv * (uint64_t)head_dim * eb;
    if (per > UINT64_MAX / (uint64_t)n_ctx)
        return 0;
    per *= (uint64_t)n_ctx;
    if (per > UINT64_MAX / 2 / (uint64_t)n_layer)
        return 0;
    return per * (uint64_t)n_layer * 2;
}

int wl_kv_cache_init(struct wl_kv_cache *kv, enum wl_ttype type, int32_t n_layer, int32_t n_ctx,
                     int32_t n_head_kv, int32_t head_dim, struct wl_errmsg *err)
{
    memset(kv, 0, sizeof *kv);
    if (type != WL_TTYPE_F16 && type != WL_TTYPE_F32)
        return wl_errmsg_set(err, WL_ENOTSUP, "KV cache type %s is not supported (use f16 or f32)",
                             wl_ttype_name(type));
    uint64_t bytes = wl_kv_cache_bytes_for(type, n_layer, n_ctx, n_head_kv, head_dim);
    if (bytes == 0 || bytes / 2 > SIZE_MAX)
        return wl_errmsg_set(err, WL_ERANGE, "KV cache of %d positions is too large", n_ctx);
    kv->type = type;
    kv->n_layer = n_layer;
    kv->n_ctx = n_ctx;
    kv->n_head_kv = n_head_kv;
    kv->head_dim = head_dim;
    kv->elem_bytes = type == WL_TTYPE_F16 ? 2 : 4;
    /* calloc: a never-written position reads as zeros, not garbage */
    kv->k = calloc(1, (size_t)(bytes / 2));
    kv->v = calloc(1, (size_t)(bytes / 2));
    if (!kv->k || !kv->v) {
        wl_kv_cache_free(kv);
        return wl_errmsg_set(err, WL_ENOMEM, "cannot allocate a KV cache of %.1f MiB (%d positions)",
                             (double)bytes / (1024.0 * 1024.0), n_ctx);
    }
    kv->bytes = bytes;
#ifdef WL_KV_X86
    /* the AVX2 kernel path needs exactly AVX2 + FMA + F16C (cpuid and OS state) */
    kv->simd_f16 = wl_kpath_available(WL_KPATH_AVX2);
#endif
    return 0;
}

void wl_kv_cache_free(struct wl_kv_cache *kv)
{
    if (!kv)
        return;
    free(kv->k);
    free(kv->v);
    kv->k = kv->v = NULL;
    kv->bytes = 0;
}

/* Byte offset of (il, kvh, pos, 0). */
static size_t kv_offset(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t pos)
{
    size_t row = ((size_t)il * (size_t)kv->n_head_kv + (size_t)kvh) * (size_t)kv->n_ctx + (size_t)pos;
    return row * (size_t)kv->head_dim * kv->elem_bytes;
}

void wl_kv_cache_store(struct wl_kv_cache *kv, int32_t il, int32_t cell, int32_t n, const float *k,
                       const float *v)
{
    const int32_t hd = kv->head_dim;
    const size_t kv_dim = (size_t)kv->n_head_kv * (size_t)hd;
    for (int32_t t = 0; t < n; t++) {
        for (int32_t h = 0; h < kv->n_head_kv; h++) {
            size_t off = kv_offset(kv, il, h, cell + t);
            const float *ks = k + (size_t)t * kv_dim + (size_t)h * (size_t)hd;
            const float *vs = v + (size_t)t * kv_dim + (size_t)h * (size_t)hd;
            if (kv->type == WL_TTYPE_F32) {
                memcpy((char *)kv->k + off, ks, (size_t)hd * sizeof(float));
                memcpy((char *)kv->v + off, vs, (size_t)hd * sizeof(float));
            } else {
                wl_quantize_row_f16(ks, (uint16_t *)((char *)kv->k + off), hd);
                wl_quantize_row_f16(vs, (uint16_t *)((char *)kv->v + off), hd);
            }
        }
    }
}

/* ---- F32 ---------------------------------------------------------------- */

static void dot_f32(const float *K, int32_t n_pos, int32_t hd, const float *q, float *scores)
{
    for (int32_t j = 0; j < n_pos; j++) {
        const float *kr = K + (size_t)j * (size_t)hd;
        float s = 0.0f;
        for (int32_t d = 0; d < hd; d++)
            s += q[d] * kr[d];
        scores[j] = s;
    }
}

static void accum_f32(const float *V, int32_t n_pos, int32_t hd, const float *p, float *out)
{
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int32_t j = 0; j < n_pos; j++) {
        const float *vr = V + (size_t)j * (size_t)hd;
        const float a = p[j];
        for (int32_t d = 0; d < hd; d++)
            out[d] += a * vr[d];
    }
}

/* ---- F16, scalar -------------------------------------------------------- */

static void dot_f16_scalar(const uint16_t *K, int32_t n_pos, int32_t hd, const float *q,
                           float *scores)
{
    for (int32_t j = 0; j < n_pos; j++) {
        const uint16_t *kr = K + (size_t)j * (size_t)hd;
        float s = 0.0f;
        for (int32_t d = 0; d < hd; d++)
            s += q[d] * wl_fp16_to_fp32(kr[d]);
        scores[j] = s;
    }
}

static void accum_f16_scalar(const uint16_t *V, int32_t n_pos, int32_t hd, const float *p,
                             float *out)
{
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int32_t j = 0; j < n_pos; j++) {
        const uint16_t *vr = V + (size_t)j * (size_t)hd;
        const float a = p[j];
        for (int32_t d = 0; d < hd; d++)
            out[d] += a * wl_fp16_to_fp32(vr[d]);
    }
}

/* ---- F16, AVX2 + F16C + FMA ------------------------------------------------ */
#ifdef WL_KV_X86
__attribute__((target("avx2,f16c,fma"))) static void
dot_f16_avx2(const uint16_t *K, int32_t n_pos, int32_t hd, const float *q, float *scores)
{
    for (int32_t j = 0; j < n_pos; j++) {
        const uint16_t *kr = K + (size_t)j * (size_t)hd;
        __m256 acc = _mm256_setzero_ps();
        int32_t d = 0;
        for (; d + 8 <= hd; d += 8) {
            __m256 kf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kr + d)));
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), kf, acc);
        }
        __m128 lo = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
        lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
        float s = _mm_cvtss_f32(lo);
        for (; d < hd; d++)
            s += q[d] * wl_fp16_to_fp32(kr[d]);
        scores[j] = s;
    }
}

__attribute__((target("avx2,f16c,fma"))) static void
accum_f16_avx2(const uint16_t *V, int32_t n_pos, int32_t hd, const float *p, float *out)
{
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int32_t j = 0; j < n_pos; j++) {
        const uint16_t *vr = V + (size_t)j * (size_t)hd;
        const __m256 a = _mm256_set1_ps(p[j]);
        int32_t d = 0;
        for (; d + 8 <= hd; d += 8) {
            __m256 vf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + d)));
            _mm256_storeu_ps(out + d, _mm256_fmadd_ps(a, vf, _mm256_loadu_ps(out + d)));
        }
        for (; d < hd; d++)
            out[d] += p[j] * wl_fp16_to_fp32(vr[d]);
    }
}

#endif

void wl_kv_cache_dot(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t cell0,
                     int32_t n_pos, const float *q, float *scores)
{
    const void *K = (const char *)kv->k + kv_offset(kv, il, kvh, cell0);
    if (kv->type == WL_TTYPE_F32) {
        dot_f32(K, n_pos, kv->head_dim, q, scores);
        return;
    }
#ifdef WL_KV_X86
    if (kv->simd_f16) {
        dot_f16_avx2(K, n_pos, kv->head_dim, q, scores);
        return;
    }
#endif
    dot_f16_scalar(K, n_pos, kv->head_dim, q, scores);
}

void wl_kv_cache_accum(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t cell0,
                       int32_t n_pos, const float *p, float *out)
{
    const void *V = (const char *)kv->v + kv_offset(kv, il, kvh, cell0);
    if (kv->type == WL_TTYPE_F32) {
        accum_f32(V, n_pos, kv->head_dim, p, out);
        return;
    }
#ifdef WL_KV_X86
    if (kv->simd_f16) {
        accum_f16_avx2(V, n_pos, kv->head_dim, p, out);
        return;
    }
#endif
    accum_f16_scalar(V, n_pos, kv->head_dim, p, out);
}

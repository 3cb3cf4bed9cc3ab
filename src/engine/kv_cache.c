/* KV cache storage and the attention inner loops over it; see kv_cache.h.
 *
 * The loops have an AVX2+F16C+FMA path chosen at run time (decode reads the
 * whole cache once per token per layer, so converting F16 element by element
 * or summing in one scalar chain would cost several times the attention), an
 * AVX-512 one on top (engine/kv_cache_avx512.c) and a portable scalar path.
 * F32 and F16 caches share the float row loops: an F16 block is converted
 * to floats first (exactly), an F32 one is read in place, so on every path
 * the two types give the same bits for the same (F16-representable) values.
 */
#include "engine/kv_cache.h"

#include "engine/kernels/kernels.h"
#include "engine/kv_cache_avx512.h"
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
#ifdef WL_KV_AVX512
    kv->simd512 = kv->simd_f16 && head_dim % 16 == 0 && wl_kpath_available(WL_KPATH_AVX512);
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

#ifdef WL_KV_AVX512
/* The AVX-512 loops: simd512 was set at init for a suitable head_dim, and
 * they build on the AVX2 path (tests switch simd_f16 off to reach the
 * scalar loops). */
static inline bool use_avx512(const struct wl_kv_cache *kv)
{
    return kv->simd512 && kv->simd_f16;
}
#endif

/* Byte offset of (il, kvh, pos, 0). */
static size_t kv_offset(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t pos)
{
    size_t row = ((size_t)il * (size_t)kv->n_head_kv + (size_t)kvh) * (size_t)kv->n_ctx + (size_t)pos;
    return row * (size_t)kv->head_dim * kv->elem_bytes;
}

#ifdef WL_KV_X86
/* F32 -> F16 with F16C: round to nearest even like wl_fp32_to_fp16, which
 * also gives the same infinities, subnormals and quiet NaNs (test_attention
 * compares the two over every class of input). */
__attribute__((target("avx2,f16c,fma"))) static void store_f16_avx2(const float *src,
                                                                    uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++)
        dst[i] = wl_fp32_to_fp16(src[i]);
}
#endif

/* One row of hd floats into the F16 cache. */
static void store_f16(const struct wl_kv_cache *kv, const float *src, uint16_t *dst, int32_t hd)
{
#ifdef WL_KV_X86
    if (kv->simd_f16) {
        store_f16_avx2(src, dst, (size_t)hd);
        return;
    }
#endif
    (void)kv;
    wl_quantize_row_f16(src, dst, hd);
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
                store_f16(kv, ks, (uint16_t *)(void *)((char *)kv->k + off), hd);
                store_f16(kv, vs, (uint16_t *)(void *)((char *)kv->v + off), hd);
            }
        }
    }
}

/* ---- F32 rows, scalar (F32 cache, and F16 blocks converted) ---------------- */

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
/* Sum of the 8 lanes in a fixed order (the grouped loops below use the same
 * order, which keeps them bit-identical to these per-head ones). */
__attribute__((target("avx2,f16c,fma"))) static inline float hsum_avx(__m256 acc)
{
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

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
        float s = hsum_avx(acc);
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

/* Float rows (an F32 cache in place, or a block converted from F16) with
 * the arithmetic of dot_f16_avx2 per row: four rows at a time only so their FMA chains
 * overlap; each row's chain and lane sum are unchanged. */
__attribute__((target("avx2,f16c,fma"))) static void
dot_rows_avx2(const float *K, int32_t n_pos, int32_t hd, const float *q, float *scores)
{
    const int32_t hd8 = hd & ~7;
    int32_t j = 0;
    for (; j + 4 <= n_pos; j += 4) {
        const float *kr[4];
        for (int r = 0; r < 4; r++)
            kr[r] = K + (size_t)(j + r) * (size_t)hd;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t d = 0; d < hd8; d += 8) {
            const __m256 qv = _mm256_loadu_ps(q + d);
            a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[0] + d), a0);
            a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[1] + d), a1);
            a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[2] + d), a2);
            a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[3] + d), a3);
        }
        float s[4] = {hsum_avx(a0), hsum_avx(a1), hsum_avx(a2), hsum_avx(a3)};
        for (int r = 0; r < 4; r++) {
            for (int32_t d = hd8; d < hd; d++)
                s[r] += q[d] * kr[r][d];
            scores[j + r] = s[r];
        }
    }
    for (; j < n_pos; j++) {
        const float *kr = K + (size_t)j * (size_t)hd;
        __m256 acc = _mm256_setzero_ps();
        for (int32_t d = 0; d < hd8; d += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(kr + d), acc);
        float s = hsum_avx(acc);
        for (int32_t d = hd8; d < hd; d++)
            s += q[d] * kr[d];
        scores[j] = s;
    }
}

/* out[d] += sum_j p[j] * V[j][d] with the arithmetic of accum_f16_avx2 per
 * element (one FMA per row, rows in order), but each output lane stays in a
 * register across the rows instead of a load and store per row. */
__attribute__((target("avx2,f16c,fma"))) static void
accum_rows_avx2(const float *V, int32_t n_pos, int32_t hd, const float *p, float *out)
{
    int32_t d = 0;
    for (; d + 32 <= hd; d += 32) {
        __m256 o0 = _mm256_loadu_ps(out + d), o1 = _mm256_loadu_ps(out + d + 8);
        __m256 o2 = _mm256_loadu_ps(out + d + 16), o3 = _mm256_loadu_ps(out + d + 24);
        for (int32_t j = 0; j < n_pos; j++) {
            const float *vr = V + (size_t)j * (size_t)hd + d;
            const __m256 a = _mm256_set1_ps(p[j]);
            o0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vr), o0);
            o1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vr + 8), o1);
            o2 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vr + 16), o2);
            o3 = _mm256_fmadd_ps(a, _mm256_loadu_ps(vr + 24), o3);
        }
        _mm256_storeu_ps(out + d, o0);
        _mm256_storeu_ps(out + d + 8, o1);
        _mm256_storeu_ps(out + d + 16, o2);
        _mm256_storeu_ps(out + d + 24, o3);
    }
    for (; d + 8 <= hd; d += 8) {
        __m256 o = _mm256_loadu_ps(out + d);
        for (int32_t j = 0; j < n_pos; j++)
            o = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(V + (size_t)j * (size_t)hd + d), o);
        _mm256_storeu_ps(out + d, o);
    }
    for (; d < hd; d++) {
        for (int32_t j = 0; j < n_pos; j++)
            out[d] += p[j] * V[(size_t)j * (size_t)hd + d];
    }
}

__attribute__((target("avx2,f16c,fma"))) static void cvt_f16_avx2(const uint16_t *src, float *dst,
                                                                  size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++)
        dst[i] = wl_fp16_to_fp32(src[i]);
}

#endif

void wl_kv_cache_dot(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t cell0,
                     int32_t n_pos, const float *q, float *scores)
{
    const void *K = (const char *)kv->k + kv_offset(kv, il, kvh, cell0);
    if (kv->type == WL_TTYPE_F32) {
        /* the grouped form's row loops over the whole range: each row's
         * arithmetic does not depend on how rows are blocked */
#ifdef WL_KV_AVX512
        if (use_avx512(kv)) {
            wl__kv_dot_rows_avx512(K, n_pos, kv->head_dim, q, scores);
            return;
        }
#endif
#ifdef WL_KV_X86
        if (kv->simd_f16) {
            dot_rows_avx2(K, n_pos, kv->head_dim, q, scores);
            return;
        }
#endif
        dot_f32(K, n_pos, kv->head_dim, q, scores);
        return;
    }
#ifdef WL_KV_AVX512
    if (use_avx512(kv)) {
        wl__kv_dot_f16_avx512(K, n_pos, kv->head_dim, q, scores);
        return;
    }
#endif
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
#ifdef WL_KV_X86
        /* one FMA per row in row order per element, as accum_f16_avx2 and
         * the AVX-512 grouped loop */
        if (kv->simd_f16) {
            memset(out, 0, (size_t)kv->head_dim * sizeof(float));
            accum_rows_avx2(V, n_pos, kv->head_dim, p, out);
            return;
        }
#endif
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

/* ---- grouped (GQA): each K/V row read once for the heads of its group ------- */

size_t wl_kv_cache_group_scratch_floats(int32_t head_dim)
{
    return head_dim > 0 ? (size_t)WL_KV_GROUP_ROWS * (size_t)head_dim : 0;
}

/* Rows [j0, j0 + nb) of the (n_pos, head_dim) matrix at base as floats: the
 * cache itself for F32, else converted into scratch (exact: every F16 value
 * is a float, so the loops that follow see the values the per-head ones do). */
static const float *rows_f32(const struct wl_kv_cache *kv, const void *base, int32_t j0,
                             int32_t nb, float *scratch)
{
    const size_t off = (size_t)j0 * (size_t)kv->head_dim, n = (size_t)nb * (size_t)kv->head_dim;
    if (kv->type == WL_TTYPE_F32)
        return (const float *)base + off;
    const uint16_t *src = (const uint16_t *)base + off;
#ifdef WL_KV_X86
    if (kv->simd_f16) {
        cvt_f16_avx2(src, scratch, n);
        return scratch;
    }
#endif
    for (size_t i = 0; i < n; i++)
        scratch[i] = wl_fp16_to_fp32(src[i]);
    return scratch;
}

/* The per-head path uses the SIMD loops (AVX2, F16 or F32), so the grouped one must too. */
static bool group_simd(const struct wl_kv_cache *kv)
{
#ifdef WL_KV_X86
    return kv->simd_f16;
#else
    (void)kv;
    return false;
#endif
}

void wl_kv_cache_dot_group(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t cell0,
                           int32_t n_pos, const float *q, size_t q_stride, int32_t n_q,
                           float *scores, size_t s_stride, float *scratch)
{
    const void *K = (const char *)kv->k + kv_offset(kv, il, kvh, cell0);
    const int32_t hd = kv->head_dim;
    const bool simd = group_simd(kv);
    for (int32_t j0 = 0; j0 < n_pos; j0 += WL_KV_GROUP_ROWS) {
        const int32_t nb = n_pos - j0 < WL_KV_GROUP_ROWS ? n_pos - j0 : WL_KV_GROUP_ROWS;
        const float *rows = rows_f32(kv, K, j0, nb, scratch);
        for (int32_t g = 0; g < n_q; g++) {
            const float *qg = q + (size_t)g * q_stride;
            float *sg = scores + (size_t)g * s_stride + j0;
#ifdef WL_KV_AVX512
            if (use_avx512(kv)) {
                wl__kv_dot_rows_avx512(rows, nb, hd, qg, sg);
                continue;
            }
#endif
#ifdef WL_KV_X86
            if (simd) {
                dot_rows_avx2(rows, nb, hd, qg, sg);
                continue;
            }
#endif
            (void)simd;
            dot_f32(rows, nb, hd, qg, sg);
        }
    }
}

/* accum_f32 without its zeroing: out accumulates over successive blocks. */
static void accum_rows(const float *V, int32_t n_pos, int32_t hd, const float *p, float *out)
{
    for (int32_t j = 0; j < n_pos; j++) {
        const float *vr = V + (size_t)j * (size_t)hd;
        const float a = p[j];
        for (int32_t d = 0; d < hd; d++)
            out[d] += a * vr[d];
    }
}

void wl_kv_cache_accum_group(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t cell0,
                             int32_t n_pos, const float *p, size_t p_stride, int32_t n_q,
                             float *out, size_t out_stride, float *scratch)
{
    const void *V = (const char *)kv->v + kv_offset(kv, il, kvh, cell0);
    const int32_t hd = kv->head_dim;
    const bool simd = group_simd(kv);
    for (int32_t g = 0; g < n_q; g++)
        memset(out + (size_t)g * out_stride, 0, (size_t)hd * sizeof(float));
    for (int32_t j0 = 0; j0 < n_pos; j0 += WL_KV_GROUP_ROWS) {
        const int32_t nb = n_pos - j0 < WL_KV_GROUP_ROWS ? n_pos - j0 : WL_KV_GROUP_ROWS;
        const float *rows = rows_f32(kv, V, j0, nb, scratch);
#ifdef WL_KV_AVX512
        if (use_avx512(kv)) {
            wl__kv_accum_rows_avx512(rows, nb, hd, p + j0, p_stride, n_q, out, out_stride);
            continue;
        }
#endif
        for (int32_t g = 0; g < n_q; g++) {
            const float *pg = p + (size_t)g * p_stride + j0;
            float *og = out + (size_t)g * out_stride;
#ifdef WL_KV_X86
            if (simd) {
                accum_rows_avx2(rows, nb, hd, pg, og);
                continue;
            }
#endif
            (void)simd;
            accum_rows(rows, nb, hd, pg, og);
        }
    }
}

/* AVX2 + FMA + F16C dot products and activation quantization. Compiled with
 * function-level target attributes (no global -m flags); only called after
 * wl_kernels_init checked the CPU. Integer dots use the sign trick
 * (|w| as unsigned times sign(x, w)) or unsigned nibbles directly with
 * maddubs, then madd to 32 bits, one float FMA per 32-element block
 * (Q8_0, Q4_0) or per 256-element super-block (Q4_K, Q6_K with Q8K
 * activations: scales applied in integer by madd).
 * Several accumulators per activation row hide FMA latency in decode (nx=1).
 * Stateless.
 */
#include "engine/kernels/kernels_impl.h"

#if defined(WL__HAVE_X86_KERNELS)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define WL_AVX2 __attribute__((target("avx2,fma,f16c")))
#define WL_INLINE static inline __attribute__((always_inline))

WL_INLINE WL_AVX2 float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- float weights -------------------------------------------------------- */

enum { K_F32, K_F16, K_BF16 };

WL_INLINE WL_AVX2 __m256 load_w8(const void *w, int64_t i, const int kind)
{
    if (kind == K_F32)
        return _mm256_loadu_ps((const float *)w + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    if (kind == K_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

WL_INLINE float load_w1(const void *w, int64_t i, const int kind)
{
    if (kind == K_F32)
        return ((const float *)w)[i];
    uint16_t h = ((const uint16_t *)w)[i];
    return kind == K_F16 ? wl_fp16_to_fp32(h) : wl_bf16_to_fp32(h);
}

WL_INLINE WL_AVX2 void dot_float_nx(int64_t n, const void *w, const void *x, size_t xs, float *out,
                                    const int kind, const int nx)
{
    const float *xr[WL__KMAX_NX];
    __m256 acc[WL__KMAX_NX][2];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = wl__row_at(x, xs, j);
        acc[j][0] = _mm256_setzero_ps();
        acc[j][1] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = load_w8(w, i, kind), w1 = load_w8(w, i + 8, kind);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            acc[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr[j] + i), acc[j][0]);
            acc[j][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr[j] + i + 8), acc[j][1]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 w0 = load_w8(w, i, kind);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            acc[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr[j] + i), acc[j][0]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        float s = hsum8(_mm256_add_ps(acc[j][0], acc[j][1]));
        for (int64_t k = i; k < n; k++)
            s += load_w1(w, k, kind) * xr[j][k];
        out[j] = s;
    }
}

#define WL_NX_SWITCH(call)                                                                         \
    switch (nx) {                                                                                  \
    case 1:                                                                                        \
        call(1);                                                                                   \
        break;                                                                                     \
    case 2:                                                                                        \
        call(2);                                                                                   \
        break;                                                                                     \
    case 3:                                                                                        \
        call(3);                                                                                   \
        break;                                                                                     \
    default:                                                                                       \
        call(4);                                                                                   \
        break;                                                                                     \
    }

static WL_AVX2 void dot_f32(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
#define CALL(N) dot_float_nx(n, w, x, xs, out, K_F32, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

static WL_AVX2 void dot_f16(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
#define CALL(N) dot_float_nx(n, w, x, xs, out, K_F16, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

static WL_AVX2 void dot_bf16(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
#define CALL(N) dot_float_nx(n, w, x, xs, out, K_BF16, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- integer helpers ---------------------------------------------------- */

/* 8 int32 sums of 4 adjacent products of unsigned u (0..255) and signed s
 * bytes; |u*s| pairs stay below the int16 saturation for our ranges. */
WL_INLINE WL_AVX2 __m256i dot_us(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* ---- quantized activation rows -------------------------------------------- */

/* The fp16 fields at p, p + stride, ..., p + 7*stride as 8 floats. */
WL_INLINE WL_AVX2 __m256 gather8_fp16(const uint16_t *p, size_t stride)
{
    const char *c = (const char *)p;
    uint16_t h[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        memcpy(&h[i], c + (size_t)i * stride, 2);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
}

/* ---- Q8_0 ---------------------------------------------------------------- */

WL_INLINE WL_AVX2 void q8_0_nx(int64_t n, const struct wl_block_q8_0 *wb, const void *x, size_t xs,
                               float *out, const int nx)
{
    enum { NA = 2 };
    struct wl__xrow xr[WL__KMAX_NX];
    __m256 acc[WL__KMAX_NX][NA];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = wl__xrow_at(x, xs, j, n);
        acc[j][0] = _mm256_setzero_ps();
        acc[j][1] = _mm256_setzero_ps();
    }
    int64_t nb = n / WL_QK8_0, b0 = 0;
    /* main loop: 8 blocks, their scales converted and multiplied at once */
    for (; b0 + 8 <= nb; b0 += 8) {
        __m256 dw = gather8_fp16(&wb[b0].d, sizeof *wb);
        __m256 sv[WL__KMAX_NX];
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            sv[j] = _mm256_mul_ps(dw, _mm256_loadu_ps(xr[j].d + b0));
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            __m256i wv = _mm256_loadu_si256((const __m256i *)wb[b0 + u].qs);
            __m256i aw = _mm256_sign_epi8(wv, wv);
            const __m256i iu = _mm256_set1_epi32(u);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xr[j].qs + 32 * (b0 + u)));
                __m256i p = dot_us(aw, _mm256_sign_epi8(xv, wv));
                acc[j][u & 1] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(sv[j], iu),
                                                _mm256_cvtepi32_ps(p), acc[j][u & 1]);
            }
        }
    }
    for (int64_t b = b0; b < nb; b += NA) {
#pragma GCC unroll 8
        for (int u = 0; u < NA; u++) {
            if (u > 0 && b + u >= nb)
                break;
            __m256i wv = _mm256_loadu_si256((const __m256i *)wb[b + u].qs);
            __m256i aw = _mm256_sign_epi8(wv, wv);
            float dw = _cvtsh_ss(wb[b + u].d);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xr[j].qs + 32 * (b + u)));
                __m256i p = dot_us(aw, _mm256_sign_epi8(xv, wv));
                acc[j][u] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xr[j].d[b + u]),
                                            _mm256_cvtepi32_ps(p), acc[j][u]);
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = hsum8(_mm256_add_ps(acc[j][0], acc[j][1]));
}

static WL_AVX2 void dot_q8_0(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
#define CALL(N) q8_0_nx(n, w, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- Q4_0 ---------------------------------------------------------------- */

WL_INLINE WL_AVX2 __m256i unpack_q4_0(const uint8_t *qs)
{
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

WL_INLINE WL_AVX2 void q4_0_nx(int64_t n, const struct wl_block_q4_0 *wb, const void *x, size_t xs,
                               float *out, const int nx)
{
    struct wl__xrow xr[WL__KMAX_NX];
    __m256 acc[WL__KMAX_NX][2];
    float off[WL__KMAX_NX];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = wl__xrow_at(x, xs, j, n);
        acc[j][0] = _mm256_setzero_ps();
        acc[j][1] = _mm256_setzero_ps();
        off[j] = 0.0f;
    }
    int64_t nb = n / WL_QK4_0, b0 = 0;
    /* main loop: 8 blocks, scales and offsets vectorized as in Q8_0 */
    __m256 accm[WL__KMAX_NX];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        accm[j] = _mm256_setzero_ps();
    for (; b0 + 8 <= nb; b0 += 8) {
        __m256 dw = gather8_fp16(&wb[b0].d, sizeof *wb);
        __m256 sv[WL__KMAX_NX];
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            sv[j] = _mm256_mul_ps(dw, _mm256_loadu_ps(xr[j].d + b0));
            accm[j] = _mm256_fmadd_ps(dw, _mm256_loadu_ps(xr[j].s + b0), accm[j]);
        }
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            __m256i wv = unpack_q4_0(wb[b0 + u].qs);
            const __m256i iu = _mm256_set1_epi32(u);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xr[j].qs + 32 * (b0 + u)));
                __m256i p = dot_us(wv, xv);
                acc[j][u & 1] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(sv[j], iu),
                                                _mm256_cvtepi32_ps(p), acc[j][u & 1]);
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        off[j] = hsum8(accm[j]);
    for (int64_t b = b0; b < nb; b += 2) {
#pragma GCC unroll 8
        for (int u = 0; u < 2; u++) {
            if (u == 1 && b + 1 == nb)
                break;
            __m256i wv = unpack_q4_0(wb[b + u].qs);
            float dw = _cvtsh_ss(wb[b + u].d);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xr[j].qs + 32 * (b + u)));
                __m256i p = dot_us(wv, xv);
                acc[j][u] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xr[j].d[b + u]),
                                            _mm256_cvtepi32_ps(p), acc[j][u]);
                off[j] += dw * xr[j].s[b + u];
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = hsum8(_mm256_add_ps(acc[j][0], acc[j][1])) - 8.0f * off[j];
}

static WL_AVX2 void dot_q4_0(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
#define CALL(N) q4_0_nx(n, w, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- K-quants: Q8K activation rows ------------------------------------------ */

WL_INLINE WL_AVX2 int32_t hsum8_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 1, 1, 1)));
    return _mm_cvtsi128_si32(s);
}

/* ---- Q4_K ---------------------------------------------------------------- */

/* The 6-bit scales and mins of a Q4_K block as bytes sc[0..7], m[0..7],
 * unpacked in 32-bit lanes (little-endian): with u0, u1, u2 the three scale
 * words, sc[0..3] = u0 & 0x3f.., sc[4..7] = (u2 & 0x0f..) | ((u0 >> 2) & 0x30..),
 * m[0..3] = u1 & 0x3f.., m[4..7] = ((u2 >> 4) & 0x0f..) | ((u1 >> 2) & 0x30..). */
WL_INLINE WL_AVX2 __m128i q4_k_scm(const struct wl_block_q4_k *blk)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)blk); /* [d|dmin, u0, u1, u2] */
    __m128i l1 = _mm_shuffle_epi32(x, _MM_SHUFFLE(3, 2, 3, 1));      /* u0, u2, u1, u2 */
    __m128i lo = _mm_and_si128(_mm_srlv_epi32(l1, _mm_setr_epi32(0, 0, 0, 4)),
                               _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    __m128i l2 = _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 2, 1, 1)); /* -, u0, -, u1 */
    __m128i hi = _mm_and_si128(_mm_srli_epi32(l2, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128(lo, hi);
}

/* VPSHUFB control zero-extending byte k of each 128-bit lane into every
 * 16-bit lane. */
WL_INLINE WL_AVX2 __m256i sel_u8_u16(int k)
{
    return _mm256_set1_epi16((short)(0x8000 | k));
}

/* Per super-block and row, in int32 lanes: per 32 weights VPMADDUBSW (nibble
 * x int8 pairs, at most 2*15*127) and VPMADDWD with the sub-block scale as
 * int16; the mins as int16 pairs [m0 m0 m1 m1 ..] against the 16 per-16
 * activation sums (one VPMADDWD). One conversion and FMA each with
 * d_w * d_x and dmin_w * d_x per 256 weights. */
WL_INLINE WL_AVX2 void q4_k_nx(int64_t n, const struct wl_block_q4_k *wb, const void *x, size_t xs,
                               float *out, const int nx)
{
    struct wl__krow xr[WL__KMAX_NX];
    __m256 acc[WL__KMAX_NX][2];
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    /* lane 0: int16 m0 m0 m1 m1 m2 m2 m3 m3; lane 1: m4 .. m7 (bytes 8..15) */
    const __m256i msel = _mm256_setr_epi8(8, -128, 8, -128, 9, -128, 9, -128, 10, -128, 10, -128,
                                          11, -128, 11, -128, 12, -128, 12, -128, 13, -128, 13,
                                          -128, 14, -128, 14, -128, 15, -128, 15, -128);
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = wl__krow_at(x, xs, j, n);
        acc[j][0] = _mm256_setzero_ps();
        acc[j][1] = _mm256_setzero_ps();
    }
    int64_t nb = n / WL_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        __m256i scm = _mm256_broadcastsi128_si256(q4_k_scm(&wb[b]));
        __m256i is[WL__KMAX_NX];
#pragma GCC unroll 8
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(wb[b].qs + 32 * c));
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i s0 = _mm256_shuffle_epi8(scm, sel_u8_u16(2 * c));
            __m256i s1 = _mm256_shuffle_epi8(scm, sel_u8_u16(2 * c + 1));
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                const int8_t *xq = xr[j].qs + 256 * b + 64 * c;
                __m256i p0 = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)xq)), s0);
                __m256i p1 = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xq + 32))), s1);
                __m256i p = _mm256_add_epi32(p0, p1);
                is[j] = c == 0 ? p : _mm256_add_epi32(is[j], p);
            }
        }
        __m256i mdup = _mm256_shuffle_epi8(scm, msel);
        const float d = _cvtsh_ss(wb[b].d), dmin = _cvtsh_ss(wb[b].dmin);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            __m256i imin = _mm256_madd_epi16(
                _mm256_loadu_si256((const __m256i *)(xr[j].bsums + 16 * b)), mdup);
            const float dx = xr[j].d[b];
            acc[j][0] =
                _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[j]), _mm256_set1_ps(d * dx), acc[j][0]);
            acc[j][1] =
                _mm256_fnmadd_ps(_mm256_cvtepi32_ps(imin), _mm256_set1_ps(dmin * dx), acc[j][1]);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = hsum8(_mm256_add_ps(acc[j][0], acc[j][1]));
}

static WL_AVX2 void dot_q4_k(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
#define CALL(N) q4_k_nx(n, w, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- Q6_K ---------------------------------------------------------------- */

/* VPSHUFB control copying 16-bit word w0 of a 128-bit lane into every word of
 * lane 0 and word w1 into every word of lane 1. */
WL_INLINE WL_AVX2 __m256i sel_words(int w0, int w1)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)(((2 * w1 + 1) << 8) | (2 * w1))),
                            _mm_set1_epi16((short)(((2 * w0 + 1) << 8) | (2 * w0))));
}

/* Per super-block and row, in int32 lanes: -32 * sum_k sc[k] * bsum_k (one
 * VPMADDWD), then per 32 weights VPMADDUBSW (6-bit q x int8 pairs, at most
 * 2*63*127) and VPMADDWD with the two sub-block scales as int16; one
 * conversion and FMA with d_w * d_x per 256 weights. */
WL_INLINE WL_AVX2 void q6_k_nx(int64_t n, const struct wl_block_q6_k *wb, const void *x, size_t xs,
                               float *out, const int nx)
{
    struct wl__krow xr[WL__KMAX_NX];
    __m256 acc[WL__KMAX_NX]; /* one per row: the FMA chain is one per 256 weights */
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = wl__krow_at(x, xs, j, n);
        acc[j] = _mm256_setzero_ps();
    }
    int64_t nb = n / WL_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wb[b].scales));
        /* scales 0..7 (lo) and 8..15 (hi) as int16 in both 128-bit lanes */
        __m256i sclo = _mm256_permute2x128_si256(sc16, sc16, 0x00);
        __m256i schi = _mm256_permute2x128_si256(sc16, sc16, 0x11);
        __m256i scm32 = _mm256_mullo_epi16(sc16, _mm256_set1_epi16(-32));
        __m256i is[WL__KMAX_NX];
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            is[j] = _mm256_madd_epi16(scm32,
                                      _mm256_loadu_si256((const __m256i *)(xr[j].bsums + 16 * b)));
#pragma GCC unroll 8
        for (int h = 0; h < 2; h++) {
            __m256i qh = _mm256_loadu_si256((const __m256i *)(wb[b].qh + 32 * h));
            __m256i ql0 = _mm256_loadu_si256((const __m256i *)(wb[b].ql + 64 * h));
            __m256i ql1 = _mm256_loadu_si256((const __m256i *)(wb[b].ql + 64 * h + 32));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                   _mm256_and_si256(qh, m30));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
#pragma GCC unroll 8
            for (int g = 0; g < 4; g++) {
                int gi = 4 * h + g; /* elements 32 gi ..: sub-blocks 2 gi (lane 0), 2 gi + 1 */
                __m256i scv = _mm256_shuffle_epi8(gi < 4 ? sclo : schi,
                                                  sel_words((2 * gi) & 7, (2 * gi + 1) & 7));
#pragma GCC unroll 8
                for (int j = 0; j < nx; j++) {
                    __m256i xv =
                        _mm256_loadu_si256((const __m256i *)(xr[j].qs + 256 * b + 32 * gi));
                    is[j] = _mm256_add_epi32(
                        is[j], _mm256_madd_epi16(_mm256_maddubs_epi16(q[g], xv), scv));
                }
            }
        }
        const float d = _cvtsh_ss(wb[b].d);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            acc[j] =
                _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[j]), _mm256_set1_ps(d * xr[j].d[b]), acc[j]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = hsum8(acc[j]);
}

static WL_AVX2 void dot_q6_k(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
#define CALL(N) q6_k_nx(n, w, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- activation quantization ------------------------------------------------ */

/* The largest |x| of a block as the reference takes it (quant.c,
 * abs_max_bits): an integer maximum of the bit patterns with the sign
 * cleared, in which NaN beats every number (vmaxps would drop it). */
WL_INLINE WL_AVX2 __m256i abs_bits8(__m256 v)
{
    return _mm256_and_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x7fffffff));
}

WL_INLINE WL_AVX2 float hmax8_abs_bits(__m256i m8)
{
    __m128i m = _mm_max_epi32(_mm256_castsi256_si128(m8), _mm256_extracti128_si256(m8, 1));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtss_f32(_mm_castsi128_ps(m));
}

static WL_AVX2 void quant_q8a(const float *x, void *row, int64_t n)
{
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int8_t *qs = row;
    float *dd = (float *)(void *)(qs + n), *ss = dd + n / 32;
    int64_t nb = n / WL_QK8A;
    for (int64_t b = 0; b < nb; b++, x += WL_QK8A) {
        __m256 v[4];
        __m256i mx = _mm256_setzero_si256();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            mx = _mm256_max_epi32(mx, abs_bits8(v[i]));
        }
        float amax = hmax8_abs_bits(mx);
        if (wl_q8_amax_bad(amax)) { /* the rules: quant.h */
            memset(qs + 32 * b, 0, 32);
            dd[b] = NAN;
            ss[b] = NAN;
            continue;
        }
        const float d = wl_q8_scale(amax), id = wl_q8_inv_scale(amax);
        __m256 idv = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; i++)
            q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], idv));
        __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), perm);
        _mm256_storeu_si256((__m256i *)(qs + 32 * b), p);
        dd[b] = d;
        ss[b] = d * (float)_mm_cvtsi128_si32(s4);
    }
}

/* One Q8K super-block per iteration; each per-16 group is two vectors. */
static WL_AVX2 void quant_q8k(const float *x, void *row, int64_t n)
{
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    int8_t *qs = row;
    int16_t *bsums = (int16_t *)(void *)(qs + n);
    float *dd = (float *)(void *)(bsums + n / 16);
    int64_t nb = n / WL_QK8K;
    for (int64_t b = 0; b < nb; b++, x += WL_QK8K) {
        __m256i mx = _mm256_setzero_si256();
        for (int i = 0; i < WL_QK8K; i += 8)
            mx = _mm256_max_epi32(mx, abs_bits8(_mm256_loadu_ps(x + i)));
        float amax = hmax8_abs_bits(mx);
        const float d = wl_q8_scale(amax); /* the rules: quant.h */
        dd[b] = d;
        if (wl_q8_amax_bad(amax) || d == 0.0f) {
            memset(qs + WL_QK8K * b, 0, WL_QK8K);
            memset(bsums + 16 * b, 0, 16 * sizeof *bsums);
            continue;
        }
        __m256 dv = _mm256_set1_ps(d);
        for (int g = 0; g < 16; g++) {
            __m256i q0 = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(x + 16 * g), dv));
            __m256i q1 = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(x + 16 * g + 8), dv));
            q0 = _mm256_min_epi32(_mm256_max_epi32(q0, lo), hi);
            q1 = _mm256_min_epi32(_mm256_max_epi32(q1, lo), hi);
            bsums[16 * b + g] = (int16_t)hsum8_epi32(_mm256_add_epi32(q0, q1));
            /* int16 [q0 0-3, q1 0-3 | q0 4-7, q1 4-7] -> [q0 | q1] -> 16 bytes */
            __m256i p =
                _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), _MM_SHUFFLE(3, 1, 2, 0));
            _mm_storeu_si128(
                (__m128i *)(qs + WL_QK8K * b + 16 * g),
                _mm_packs_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1)));
        }
    }
    wl__xk_fill_qp(row, n);
}

/* ---- SiLU and GELU gates ------------------------------------------------------ */

/* e^x for 8 lanes: x = n ln2 + r with n = round(x / ln2) and |r| <= ln2/2
 * (ln2 split in two so that n ln2 is exact to ~2^-40), e^r by its Taylor
 * series to degree 7 (truncation < 6e-9 relative, under 0.05 ulp), times
 * 2^n built in the exponent field. Worst error measured over 168 million
 * arguments spread across [-87, 88]: 0.94 ulp. Inputs are clamped to
 * [-88, 89], where n runs from -127 to 128: 2^-127 built that way is 0 and
 * 2^128 is +inf, so like expf, e^x is 0 for -inf and +inf for +inf, at no
 * cost (explicit tests for them made wl__exp_sum_avx2 10-17 % slower: one
 * scratch measurement, session 31, not in bench/; docs/internals/kernels.md).
 * The price is
 * at the ends: e^x is 0 for x <= -87.683 (expf's value is below 8.4e-39
 * there) and +inf for x >= 88.377 (expf overflows at 88.723). NaN stays NaN:
 * maxps/minps return their second operand when either is NaN, so the clamp
 * passes x second. */
WL_AVX2 static inline __m256 exp_avx2(__m256 x)
{
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-88.0f), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i bias = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    const __m256i e = _mm256_slli_epi32(bias, 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

WL_AVX2 void wl__silu_mul_avx2(float *g, const float *u, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)),
                                              _mm256_loadu_ps(u + i)));
    }
    if (i < n) { /* tail through the same lanes: results do not depend on n % 8 */
        float xb[8] = {0}, ub[8] = {0};
        memcpy(xb, g + i, (size_t)(n - i) * sizeof(float));
        memcpy(ub, u + i, (size_t)(n - i) * sizeof(float));
        wl__silu_mul_avx2(xb, ub, 8);
        memcpy(g + i, xb, (size_t)(n - i) * sizeof(float));
    }
}

/* The scalar path's 2y, operation by operation (multiplies and adds, no
 * FMA), so only the exponential differs between the paths. */
WL_AVX2 void wl__gelu_mul_avx2(float *g, const float *u, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f), c = _mm256_set1_ps(WL__GELU_C);
    const __m256 k2 = _mm256_set1_ps(WL__GELU_2K);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(c, x), x), x);
        t = _mm256_mul_ps(k2, _mm256_add_ps(t, x));
        const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), t));
        _mm256_storeu_ps(
            g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    if (i < n) { /* tail through the same lanes: results do not depend on n % 8 */
        float xb[8] = {0}, ub[8] = {0};
        memcpy(xb, g + i, (size_t)(n - i) * sizeof(float));
        memcpy(ub, u + i, (size_t)(n - i) * sizeof(float));
        wl__gelu_mul_avx2(xb, ub, 8);
        memcpy(g + i, xb, (size_t)(n - i) * sizeof(float));
    }
}

WL_AVX2 float wl__exp_sum_avx2(float *s, int64_t n, float mx)
{
    const __m256 m = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), m));
        _mm256_storeu_ps(s + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (j < n) { /* tail through the same lanes; padding lanes are counted as 0 */
        float b[8] = {0};
        memcpy(b, s + j, (size_t)(n - j) * sizeof(float));
        const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j)),
                                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 e = _mm256_and_ps(exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(b), m)),
                                       _mm256_castsi256_ps(live));
        _mm256_storeu_ps(b, e);
        memcpy(s + j, b, (size_t)(n - j) * sizeof(float));
        acc = _mm256_add_ps(acc, e);
    }
    /* lanes summed pairwise: (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1 */
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* ---- norms ------------------------------------------------------------------------ */

/* Lanes 0-3 of a0 and of a1 are accumulators 0-3 and 4-7 of the scalar
 * loop. Products of two floats are exact in double, so FMA and multiply +
 * add round the same: bit-identical to the scalar path. */
WL_AVX2 double wl__sum_sq_avx2(const float *x, int64_t n)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
        const __m256d hi = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
        a0 = _mm256_fmadd_pd(lo, lo, a0);
        a1 = _mm256_fmadd_pd(hi, hi, a1);
    }
    double acc[WL__SUMSQ_ACC];
    _mm256_storeu_pd(acc, a0);
    _mm256_storeu_pd(acc + 4, a1);
    for (; i < n; i++)
        acc[i % WL__SUMSQ_ACC] += (double)x[i] * (double)x[i];
    return wl__sum_sq_combine(acc);
}

WL_AVX2 void wl__scale_mul_avx2(float *o, const float *x, float s, const float *w, int64_t n)
{
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    if (w) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs),
                                                  _mm256_loadu_ps(w + i)));
    } else {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    }
    for (; i < n; i++) {
        const float v = x[i] * s;
        o[i] = w ? v * w[i] : v;
    }
}

const struct wl__kernel_ops wl__kernel_ops_avx2 = {
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot_q8_0 = dot_q8_0,
    .dot_q4_0 = dot_q4_0,
    .dot_q4_k = dot_q4_k,
    .dot_q6_k = dot_q6_k,
    .quant_q8a = quant_q8a,
    .quant_q8k = quant_q8k,
    .silu_mul = wl__silu_mul_avx2,
    .gelu_mul = wl__gelu_mul_avx2,
    .exp_sum = wl__exp_sum_avx2,
    .sum_sq = wl__sum_sq_avx2,
    .scale_mul = wl__scale_mul_avx2,
};

#endif

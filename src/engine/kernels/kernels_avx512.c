/* AVX-512 (F/BW/VL/DQ + VNNI) dot products and activation quantization.
 * A 512-bit register holds two 32-element blocks, so one VPDPBUSD does the
 * integer products of two blocks and one FMA applies both block scales
 * (lanes 0-7 and 8-15). Float weights use masked loads for the tail.
 * Compiled with function-level target attributes; only called after
 * wl_kernels_init checked the CPU. Stateless.
 */
#include "engine/kernels/kernels_impl.h"

#if defined(WL__HAVE_X86_KERNELS)
#include <immintrin.h>
#include <string.h>

#define WL_AVX512                                                                                  \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define WL_INLINE static inline __attribute__((always_inline))

WL_INLINE const void *row_at(const void *x, size_t stride, int j)
{
    return (const char *)x + (size_t)j * stride;
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

WL_INLINE WL_AVX512 float hsum8_256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Two 32-byte rows side by side in one register. */
WL_INLINE WL_AVX512 __m512i load2x32(const void *a, const void *b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* s0 in lanes 0-7, s1 in lanes 8-15. */
WL_INLINE WL_AVX512 __m512 set2(float s0, float s1)
{
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(s0)), _mm256_set1_ps(s1), 1);
}

/* ---- float weights -------------------------------------------------------- */

enum { K_F32, K_F16, K_BF16 };

WL_INLINE WL_AVX512 __m512 load_w16(const void *w, int64_t i, __mmask16 m, const int kind)
{
    if (kind == K_F32)
        return _mm512_maskz_loadu_ps(m, (const float *)w + i);
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i);
    if (kind == K_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

WL_INLINE WL_AVX512 void dot_float_nx(int64_t n, const void *w, const void *x, size_t xs,
                                      float *out, const int kind, const int nx)
{
    const float *xr[WL__KMAX_NX];
    __m512 acc[WL__KMAX_NX][2];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = row_at(x, xs, j);
        acc[j][0] = _mm512_setzero_ps();
        acc[j][1] = _mm512_setzero_ps();
    }
    const __mmask16 all = 0xffff;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 w0 = load_w16(w, i, all, kind), w1 = load_w16(w, i + 16, all, kind);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            acc[j][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xr[j] + i), acc[j][0]);
            acc[j][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xr[j] + i + 16), acc[j][1]);
        }
    }
    for (; i < n; i += 16) {
        int64_t left = n - i;
        __mmask16 m = left >= 16 ? all : (__mmask16)((1u << left) - 1);
        __m512 w0 = load_w16(w, i, m, kind);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            acc[j][0] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, xr[j] + i), acc[j][0]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][0], acc[j][1]));
}

static WL_AVX512 void dot_f32(int64_t n, const void *w, const void *x, size_t xs, int nx,
                              float *out)
{
#define CALL(N) dot_float_nx(n, w, x, xs, out, K_F32, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

static WL_AVX512 void dot_f16(int64_t n, const void *w, const void *x, size_t xs, int nx,
                              float *out)
{
#define CALL(N) dot_float_nx(n, w, x, xs, out, K_F16, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

static WL_AVX512 void dot_bf16(int64_t n, const void *w, const void *x, size_t xs, int nx,
                               float *out)
{
#define CALL(N) dot_float_nx(n, w, x, xs, out, K_BF16, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- quantized activation rows -------------------------------------------- */

struct xrow {
    const int8_t *qs;
    const float *d, *s;
};

WL_INLINE struct xrow xrow_at(const void *x, size_t xs, int j, int64_t n)
{
    const void *row = row_at(x, xs, j);
    struct xrow r = {row, wl__xq_d(row, n), wl__xq_s(row, n)};
    return r;
}

/* Lane indices [a x8, b x8] for _mm512_permutexvar_ps. */
WL_INLINE WL_AVX512 __m512i idx2(int a, int b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(a)), _mm256_set1_epi32(b),
                              1);
}

/* The fp16 fields at p, p + stride, ..., p + 7*stride as 8 floats. */
WL_INLINE WL_AVX512 __m256 gather8_fp16(const uint16_t *p, size_t stride)
{
    const char *c = (const char *)p;
    uint16_t h[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        memcpy(&h[i], c + (size_t)i * stride, 2);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
}

/* ---- Q8_0 ---------------------------------------------------------------- */

/* Signed x signed bytes with VPDPBUSD (unsigned x signed): |w| times x with
 * the sign of w moved onto x. */
WL_INLINE WL_AVX512 __m512i dot_ss(__m512i aw, __mmask64 wneg, __m512i xv)
{
    __m512i sx = _mm512_mask_sub_epi8(xv, wneg, _mm512_setzero_si512(), xv);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), aw, sx);
}

/* nw (1 or 2) consecutive weight rows (row_bytes apart) against nx
 * activation rows: out[i * nx + j]. Every (weight row, activation row) pair
 * goes through the same sequence of operations whatever nw is, so the
 * two-row decode helper gives exactly the bits of the one-row kernel. */
WL_INLINE WL_AVX512 void q8_0_core(int64_t n, const void *w, size_t row_bytes, const int nw,
                                   const void *x, size_t xs, float *out, const int nx)
{
    const struct wl_block_q8_0 *wbs[2];
    struct xrow xr[WL__KMAX_NX];
    __m512 acc[2][WL__KMAX_NX][2];
    __m256 accm[2][WL__KMAX_NX];
#pragma GCC unroll 8
    for (int i = 0; i < nw; i++) {
        wbs[i] = (const void *)((const char *)w + (size_t)i * row_bytes);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            acc[i][j][0] = _mm512_setzero_ps();
            acc[i][j][1] = _mm512_setzero_ps();
            accm[i][j] = _mm256_setzero_ps();
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        xr[j] = xrow_at(x, xs, j, n);
    int64_t nb = n / WL_QK8_0, b = 0;
    /* main loop: 8 blocks; their 8 fp16 scales are converted at once and
     * multiplied by 8 activation scales in one instruction. The weights go
     * into VPDPBUSD as unsigned w + 128 (one XOR); the excess
     * 128 * d_w * d_x * sum(q_x) = 128 * d_w * s_x is subtracted at the end,
     * accumulated with one FMA per 8 blocks (as Q4_0's offset). */
    const __m512i k80 = _mm512_set1_epi8((char)0x80);
    for (; b + 8 <= nb; b += 8) {
        __m512 sv[2][WL__KMAX_NX];
#pragma GCC unroll 8
        for (int i = 0; i < nw; i++) {
            __m256 dw = gather8_fp16(&wbs[i][b].d, sizeof *wbs[i]);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                sv[i][j] =
                    _mm512_castps256_ps512(_mm256_mul_ps(dw, _mm256_loadu_ps(xr[j].d + b)));
                accm[i][j] = _mm256_fmadd_ps(dw, _mm256_loadu_ps(xr[j].s + b), accm[i][j]);
            }
        }
#pragma GCC unroll 8
        for (int u = 0; u < 4; u++) {
            const __m512i iu = idx2(2 * u, 2 * u + 1);
#pragma GCC unroll 8
            for (int i = 0; i < nw; i++) {
                const struct wl_block_q8_0 *wb = wbs[i];
                __m512i wu =
                    _mm512_xor_si512(load2x32(wb[b + 2 * u].qs, wb[b + 2 * u + 1].qs), k80);
#pragma GCC unroll 8
                for (int j = 0; j < nx; j++) {
                    __m512i p = _mm512_dpbusd_epi32(
                        _mm512_setzero_si512(), wu, _mm512_loadu_si512(xr[j].qs + 32 * (b + 2 * u)));
                    acc[i][j][u & 1] = _mm512_fmadd_ps(_mm512_permutexvar_ps(iu, sv[i][j]),
                                                       _mm512_cvtepi32_ps(p), acc[i][j][u & 1]);
                }
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < nw; i++)
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            acc[i][j][0] = _mm512_sub_ps(
                acc[i][j][0],
                _mm512_zextps256_ps512(_mm256_mul_ps(_mm256_set1_ps(128.0f), accm[i][j])));
#pragma GCC unroll 8
    for (int i = 0; i < nw; i++) {
        const struct wl_block_q8_0 *wb = wbs[i];
        __m512 (*ac)[2] = acc[i];
        int64_t bt = b;
        for (; bt + 4 <= nb; bt += 4) {
#pragma GCC unroll 8
            for (int u = 0; u < 2; u++) {
                int64_t bb = bt + 2 * u;
                const struct wl_block_q8_0 *w0 = &wb[bb], *w1 = w0 + 1;
                __m512i wv = load2x32(w0->qs, w1->qs);
                __m512i aw = _mm512_abs_epi8(wv);
                __mmask64 neg = _mm512_movepi8_mask(wv);
                float d0 = _cvtsh_ss(w0->d), d1 = _cvtsh_ss(w1->d);
#pragma GCC unroll 8
                for (int j = 0; j < nx; j++) {
                    __m512i p = dot_ss(aw, neg, _mm512_loadu_si512(xr[j].qs + 32 * bb));
                    ac[j][u] = _mm512_fmadd_ps(set2(d0 * xr[j].d[bb], d1 * xr[j].d[bb + 1]),
                                               _mm512_cvtepi32_ps(p), ac[j][u]);
                }
            }
        }
        for (; bt < nb; bt++) { /* tail: one block in the low half, zeros above */
            __m512i wv = _mm512_inserti64x4(_mm512_setzero_si512(),
                                            _mm256_loadu_si256((const __m256i *)wb[bt].qs), 0);
            __m512i aw = _mm512_abs_epi8(wv);
            __mmask64 neg = _mm512_movepi8_mask(wv);
            float d0 = _cvtsh_ss(wb[bt].d);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                __m512i xv = _mm512_inserti64x4(
                    _mm512_setzero_si512(),
                    _mm256_loadu_si256((const __m256i *)(xr[j].qs + 32 * bt)), 0);
                __m512i p = dot_ss(aw, neg, xv);
                ac[j][0] = _mm512_fmadd_ps(set2(d0 * xr[j].d[bt], 0.0f), _mm512_cvtepi32_ps(p),
                                           ac[j][0]);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < nw; i++)
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            out[i * nx + j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[i][j][0], acc[i][j][1]));
}

static WL_AVX512 void dot_q8_0(int64_t n, const void *w, const void *x, size_t xs, int nx,
                               float *out)
{
#define CALL(N) q8_0_core(n, w, 0, 1, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* Two weight rows, one activation row (decode). */
static WL_AVX512 void dot2_q8_0(int64_t n, const void *w, size_t row_bytes, const void *x,
                                float *out)
{
    q8_0_core(n, w, row_bytes, 2, x, 0, out, 1);
}

/* ---- Q4_0 ---------------------------------------------------------------- */

/* Two Q4_0 blocks as 64 unsigned nibbles: [b0 low, b0 high, b1 low, b1 high]. */
WL_INLINE WL_AVX512 __m512i unpack2_q4_0(const uint8_t *qs0, const uint8_t *qs1)
{
    __m256i v = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)qs1),
                                 _mm_loadu_si128((const __m128i *)qs0));
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
}

WL_INLINE WL_AVX512 void q4_0_nx(int64_t n, const struct wl_block_q4_0 *wb, const void *x,
                                 size_t xs, float *out, const int nx)
{
    struct xrow xr[WL__KMAX_NX];
    __m512 acc[WL__KMAX_NX][2];
    float off[WL__KMAX_NX];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = xrow_at(x, xs, j, n);
        acc[j][0] = _mm512_setzero_ps();
        acc[j][1] = _mm512_setzero_ps();
        off[j] = 0.0f;
    }
    int64_t nb = n / WL_QK4_0, b = 0;
    /* main loop: 8 blocks, scales and offsets vectorized as in Q8_0 */
    __m256 accm[WL__KMAX_NX];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        accm[j] = _mm256_setzero_ps();
    for (; b + 8 <= nb; b += 8) {
        __m256 dw = gather8_fp16(&wb[b].d, sizeof *wb);
        __m512 sv[WL__KMAX_NX];
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            sv[j] = _mm512_castps256_ps512(_mm256_mul_ps(dw, _mm256_loadu_ps(xr[j].d + b)));
            accm[j] = _mm256_fmadd_ps(dw, _mm256_loadu_ps(xr[j].s + b), accm[j]);
        }
#pragma GCC unroll 8
        for (int u = 0; u < 4; u++) {
            __m512i wv = unpack2_q4_0(wb[b + 2 * u].qs, wb[b + 2 * u + 1].qs);
            const __m512i iu = idx2(2 * u, 2 * u + 1);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv,
                                                _mm512_loadu_si512(xr[j].qs + 32 * (b + 2 * u)));
                acc[j][u & 1] = _mm512_fmadd_ps(_mm512_permutexvar_ps(iu, sv[j]),
                                                _mm512_cvtepi32_ps(p), acc[j][u & 1]);
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        off[j] = hsum8_256(accm[j]);
    for (; b + 2 <= nb; b += 4) {
#pragma GCC unroll 8
        for (int u = 0; u < 2; u++) {
            int64_t bb = b + 2 * u;
            if (u == 1 && bb + 2 > nb)
                break;
            __m512i wv = unpack2_q4_0(wb[bb].qs, wb[bb + 1].qs);
            float d0 = _cvtsh_ss(wb[bb].d), d1 = _cvtsh_ss(wb[bb + 1].d);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv,
                                                _mm512_loadu_si512(xr[j].qs + 32 * bb));
                acc[j][u] = _mm512_fmadd_ps(set2(d0 * xr[j].d[bb], d1 * xr[j].d[bb + 1]),
                                            _mm512_cvtepi32_ps(p), acc[j][u]);
                off[j] += d0 * xr[j].s[bb] + d1 * xr[j].s[bb + 1];
            }
        }
    }
    b = nb - (nb & 1);
    if (b < nb && (nb & 1)) { /* odd block count: the last block alone, low half */
        __m512i wv = unpack2_q4_0(wb[b].qs, wb[b].qs);
        float d0 = _cvtsh_ss(wb[b].d);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            const int8_t *xq = xr[j].qs + 32 * b;
            __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv, load2x32(xq, xq));
            acc[j][0] =
                _mm512_fmadd_ps(set2(d0 * xr[j].d[b], 0.0f), _mm512_cvtepi32_ps(p), acc[j][0]);
            off[j] += d0 * xr[j].s[b];
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][0], acc[j][1])) - 8.0f * off[j];
}

static WL_AVX512 void dot_q4_0(int64_t n, const void *w, const void *x, size_t xs, int nx,
                               float *out)
{
#define CALL(N) q4_0_nx(n, w, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- Q4_K ---------------------------------------------------------------- */

/* The first 16 bytes of two Q4_K blocks (d, dmin, scales[12]) as float
 * vectors h0, h1 = [d*sc[0..7] | dmin*m[0..7]]. The 6-bit fields of both
 * blocks are unpacked at once, one block per 128-bit lane, in 32-bit
 * lanes (little-endian): with u0, u1, u2 the three scale words,
 * sc[0..3] = u0 & 0x3f.., sc[4..7] = (u2 & 0x0f..) | ((u0 >> 2) & 0x30..),
 * m[0..3] = u1 & 0x3f.., m[4..7] = ((u2 >> 4) & 0x0f..) | ((u1 >> 2) & 0x30..).
 * b1 may equal b0 (odd block count). */
WL_INLINE WL_AVX512 void q4_k_head2(const struct wl_block_q4_k *b0, const struct wl_block_q4_k *b1,
                                    __m512 *h0, __m512 *h1)
{
    __m256i x = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)b0)),
        _mm_loadu_si128((const __m128i *)(const void *)b1), 1); /* [d|dmin, u0, u1, u2] x2 */
    __m256i l1 = _mm256_shuffle_epi32(x, _MM_SHUFFLE(3, 2, 3, 1)); /* u0, u2, u1, u2 */
    __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(l1, _mm256_setr_epi32(0, 0, 0, 4, 0, 0, 0, 4)),
                                  _mm256_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f,
                                                    0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    __m256i l2 = _mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 2, 1, 1)); /* -, u0, -, u1 */
    __m256i hi = _mm256_and_si256(_mm256_srli_epi32(l2, 2),
                                  _mm256_setr_epi32(0, 0x30303030, 0, 0x30303030, 0, 0x30303030, 0,
                                                    0x30303030));
    __m256i scm = _mm256_or_si256(lo, hi); /* per lane, bytes: sc[0..7], m[0..7] */
    /* halves [0]x8 [1]x8 of the converted (d, dmin) pair, per block */
    const __m512i i01 = idx2(0, 1), i45 = idx2(4, 5);
    __m512 dd = _mm512_castps256_ps512(_mm256_cvtph_ps(_mm256_castsi256_si128(
        _mm256_permute4x64_epi64(x, _MM_SHUFFLE(3, 1, 2, 0))))); /* d0, dmin0, -, -, d1, dmin1 */
    __m512 f0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(scm)));
    __m512 f1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(scm, 1)));
    *h0 = _mm512_mul_ps(_mm512_permutexvar_ps(i01, dd), f0);
    *h1 = _mm512_mul_ps(_mm512_permutexvar_ps(i45, dd), f1);
}

/* [d[8b..8b+7] | s[8b..8b+7]] of an activation row */
WL_INLINE WL_AVX512 __m512 q4_k_xds(const struct xrow *xr, int64_t b)
{
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(xr->d + 8 * b)),
                              _mm256_loadu_ps(xr->s + 8 * b), 1);
}

/* One super-block: p[j] = h * [x scales | x sums] (lanes 0-7: scale of
 * sub-block k times its activation scale; lanes 8-15: the min terms, summed
 * into accm), then per 64 weights one VPDPBUSD (nibbles unpacked by a
 * broadcast and a per-half shift) and one FMA with the scales permuted into
 * place. */
WL_INLINE WL_AVX512 void q4_k_block(const struct wl_block_q4_k *blk, __m512 h, const struct xrow *xr,
                                    int64_t b, __m512 (*acc)[2], __m512 *accm, const int nx)
{
    const __m512i m4z = _mm512_set1_epi8(0x0f);
    const __m512i sh04 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    __m512 sv[WL__KMAX_NX];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        sv[j] = _mm512_mul_ps(h, q4_k_xds(&xr[j], b));
        accm[j] = _mm512_add_ps(accm[j], sv[j]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < 4; c++) {
        /* 32 bytes in both halves; low nibbles below, high nibbles above */
        __m512i q2 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk->qs + 32 * c)));
        __m512i wv = _mm512_and_si512(_mm512_srlv_epi16(q2, sh04), m4z);
        const __m512i ic = idx2(2 * c, 2 * c + 1);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv,
                                            _mm512_loadu_si512(xr[j].qs + 256 * b + 64 * c));
            acc[j][c & 1] = _mm512_fmadd_ps(_mm512_permutexvar_ps(ic, sv[j]),
                                            _mm512_cvtepi32_ps(p), acc[j][c & 1]);
        }
    }
}

/* A row's result: sum of the products minus the min terms (lanes 8-15). */
WL_INLINE WL_AVX512 float q4_k_final(const __m512 *acc, __m512 accm)
{
    __m512 s = _mm512_add_ps(acc[0], acc[1]);
    __m256 m = _mm512_extractf32x8_ps(accm, 1);
    __m128 m128 = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m128 = _mm_add_ps(m128, _mm_movehl_ps(m128, m128));
    m128 = _mm_add_ss(m128, _mm_movehdup_ps(m128));
    return _mm512_reduce_add_ps(s) - _mm_cvtss_f32(m128);
}

WL_INLINE WL_AVX512 void q4_k_nx(int64_t n, const struct wl_block_q4_k *wb, const void *x,
                                 size_t xs, float *out, const int nx)
{
    struct xrow xr[WL__KMAX_NX];
    __m512 acc[WL__KMAX_NX][2];
    __m512 accm[WL__KMAX_NX]; /* lanes 8-15: the min terms */
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = xrow_at(x, xs, j, n);
        acc[j][0] = _mm512_setzero_ps();
        acc[j][1] = _mm512_setzero_ps();
        accm[j] = _mm512_setzero_ps();
    }
    int64_t nb = n / WL_QK_K, b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512 h0, h1;
        q4_k_head2(&wb[b], &wb[b + 1], &h0, &h1);
        q4_k_block(&wb[b], h0, xr, b, acc, accm, nx);
        q4_k_block(&wb[b + 1], h1, xr, b + 1, acc, accm, nx);
    }
    if (b < nb) {
        __m512 h0, h1;
        q4_k_head2(&wb[b], &wb[b], &h0, &h1);
        q4_k_block(&wb[b], h0, xr, b, acc, accm, nx);
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = q4_k_final(acc[j], accm[j]);
}

/* Two weight rows, one activation row (decode): the per-row arithmetic of
 * q4_k_nx with nx = 1, interleaved. */
static WL_AVX512 void dot2_q4_k(int64_t n, const void *w, size_t row_bytes, const void *x,
                                float *out)
{
    const struct wl_block_q4_k *w0 = w;
    const struct wl_block_q4_k *w1 = (const void *)((const char *)w + row_bytes);
    struct xrow xr[1] = {xrow_at(x, 0, 0, n)};
    __m512 acc0[1][2] = {{_mm512_setzero_ps(), _mm512_setzero_ps()}};
    __m512 acc1[1][2] = {{_mm512_setzero_ps(), _mm512_setzero_ps()}};
    __m512 accm0[1] = {_mm512_setzero_ps()}, accm1[1] = {_mm512_setzero_ps()};
    int64_t nb = n / WL_QK_K, b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512 h0, h1, g0, g1;
        q4_k_head2(&w0[b], &w0[b + 1], &h0, &h1);
        q4_k_head2(&w1[b], &w1[b + 1], &g0, &g1);
        q4_k_block(&w0[b], h0, xr, b, acc0, accm0, 1);
        q4_k_block(&w1[b], g0, xr, b, acc1, accm1, 1);
        q4_k_block(&w0[b + 1], h1, xr, b + 1, acc0, accm0, 1);
        q4_k_block(&w1[b + 1], g1, xr, b + 1, acc1, accm1, 1);
    }
    if (b < nb) {
        __m512 h0, h1, g0, g1;
        q4_k_head2(&w0[b], &w0[b], &h0, &h1);
        q4_k_head2(&w1[b], &w1[b], &g0, &g1);
        q4_k_block(&w0[b], h0, xr, b, acc0, accm0, 1);
        q4_k_block(&w1[b], g0, xr, b, acc1, accm1, 1);
    }
    out[0] = q4_k_final(acc0[0], accm0[0]);
    out[1] = q4_k_final(acc1[0], accm1[0]);
}

static WL_AVX512 void dot_q4_k(int64_t n, const void *w, const void *x, size_t xs, int nx,
                               float *out)
{
#define CALL(N) q4_k_nx(n, w, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- Q6_K ---------------------------------------------------------------- */

WL_INLINE WL_AVX512 void q6_k_nx(int64_t n, const struct wl_block_q6_k *wb, const void *x,
                                 size_t xs, float *out, const int nx)
{
    struct xrow xr[WL__KMAX_NX];
    __m512 acc[WL__KMAX_NX][2];
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    const __m512i k32 = _mm512_set1_epi8(32);
    /* byte indices replicating each of 4 scales over 4 int32 lanes */
    const __m128i rep4 = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = xrow_at(x, xs, j, n);
        acc[j][0] = _mm512_setzero_ps();
        acc[j][1] = _mm512_setzero_ps();
    }
    int64_t nb = n / WL_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        __m256 dd = _mm256_set1_ps(_cvtsh_ss(wb[b].d));
        __m128i scb = _mm_loadu_si128((const __m128i *)wb[b].scales);
        __m512 dv[WL__KMAX_NX]; /* lane g: d times the activation scale of group g */
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            dv[j] = _mm512_castps256_ps512(_mm256_mul_ps(dd, _mm256_loadu_ps(xr[j].d + 8 * b)));
#pragma GCC unroll 8
        for (int h = 0; h < 2; h++) {
            __m256i qh = _mm256_loadu_si256((const __m256i *)(wb[b].qh + 32 * h));
            __m256i ql0 = _mm256_loadu_si256((const __m256i *)(wb[b].ql + 64 * h));
            __m256i ql1 = _mm256_loadu_si256((const __m256i *)(wb[b].ql + 64 * h + 32));
            __m256i q0 = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                         _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                         _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                         _mm256_and_si256(qh, m30));
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                         _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
            __m512i qq[2];
            qq[0] = _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
            qq[1] = _mm512_inserti64x4(_mm512_castsi256_si512(q2), q3, 1);
#pragma GCC unroll 8
            for (int p2 = 0; p2 < 2; p2++) {
                int g0 = 4 * h + 2 * p2; /* groups g0, g0+1: scales 2*g0 .. 2*g0+3 */
                __m128i idx = _mm_add_epi8(rep4, _mm_set1_epi8((char)(2 * g0)));
                __m512i scv = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(scb, idx));
                const __m512i ig = idx2(g0, g0 + 1);
#pragma GCC unroll 8
                for (int j = 0; j < nx; j++) {
                    __m512i xv = _mm512_loadu_si512(xr[j].qs + 256 * b + 32 * g0);
                    __m512i s =
                        _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), qq[p2], xv),
                                         _mm512_dpbusd_epi32(_mm512_setzero_si512(), k32, xv));
                    s = _mm512_mullo_epi32(s, scv);
                    acc[j][p2] = _mm512_fmadd_ps(_mm512_permutexvar_ps(ig, dv[j]),
                                                 _mm512_cvtepi32_ps(s), acc[j][p2]);
                }
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][0], acc[j][1]));
}

static WL_AVX512 void dot_q6_k(int64_t n, const void *w, const void *x, size_t xs, int nx,
                               float *out)
{
#define CALL(N) q6_k_nx(n, w, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- activation quantization ------------------------------------------------ */

static WL_AVX512 void quant_q8a(const float *x, void *row, int64_t n)
{
    int8_t *qs = row;
    float *dd = (float *)(void *)(qs + n), *ss = dd + n / 32;
    int64_t nb = n / WL_QK8A;
    for (int64_t b = 0; b < nb; b++, x += WL_QK8A) {
        __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 127.0f / amax : 0.0f;
        __m512 idv = _mm512_set1_ps(id);
        __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, idv));
        __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, idv));
        _mm_storeu_si128((__m128i *)(qs + 32 * b), _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(qs + 32 * b + 16), _mm512_cvtsepi32_epi8(q1));
        dd[b] = d;
        ss[b] = d * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}

const struct wl__kernel_ops wl__kernel_ops_avx512 = {
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot_q8_0 = dot_q8_0,
    .dot_q4_0 = dot_q4_0,
    .dot_q4_k = dot_q4_k,
    .dot_q6_k = dot_q6_k,
    .quant_q8a = quant_q8a,
    .dot2_q8_0 = dot2_q8_0,
    .dot2_q4_k = dot2_q4_k,
};

#endif

/* AVX2 + FMA + F16C dot products and activation quantization. Compiled with
 * function-level target attributes (no global -m flags); only called after
 * wl_kernels_init checked the CPU. Integer dots use the sign trick
 * (|w| as unsigned times sign(x, w)) or unsigned nibbles directly with
 * maddubs, then madd to 32 bits, one float FMA per 32-element block.
 * Several accumulators per activation row hide FMA latency in decode (nx=1).
 * Stateless.
 */
#include "engine/kernels/kernels_impl.h"

#if defined(WL__HAVE_X86_KERNELS)
#include <immintrin.h>
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

WL_INLINE const void *row_at(const void *x, size_t stride, int j)
{
    return (const char *)x + (size_t)j * stride;
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
        xr[j] = row_at(x, xs, j);
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
    struct xrow xr[WL__KMAX_NX];
    __m256 acc[WL__KMAX_NX][NA];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = xrow_at(x, xs, j, n);
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
    struct xrow xr[WL__KMAX_NX];
    __m256 acc[WL__KMAX_NX][2];
    float off[WL__KMAX_NX];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = xrow_at(x, xs, j, n);
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

/* ---- Q4_K ---------------------------------------------------------------- */

/* The 8 six-bit scales and mins of a Q4_K block, one per byte, with 32-bit
 * word operations (little-endian, as every x86). */
WL_INLINE void q4_k_scales8(const uint8_t *s, uint64_t *sc8, uint64_t *m8)
{
    uint32_t u0, u1, u2;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    uint32_t sc_lo = u0 & 0x3f3f3f3fu, m_lo = u1 & 0x3f3f3f3fu;
    uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
    uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
    *sc8 = sc_lo | ((uint64_t)sc_hi << 32);
    *m8 = m_lo | ((uint64_t)m_hi << 32);
}

WL_INLINE WL_AVX2 __m256 u8x8_to_ps(uint64_t v)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)v)));
}

WL_INLINE WL_AVX2 void q4_k_nx(int64_t n, const struct wl_block_q4_k *wb, const void *x, size_t xs,
                               float *out, const int nx)
{
    /* two accumulators per row in decode hide the FMA latency */
    const int na = nx == 1 ? 2 : 1;
    struct xrow xr[WL__KMAX_NX];
    __m256 acc[WL__KMAX_NX][2];
    const __m256i m4 = _mm256_set1_epi8(0x0f);
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = xrow_at(x, xs, j, n);
        acc[j][0] = _mm256_setzero_ps();
        acc[j][1] = _mm256_setzero_ps();
    }
    int64_t nb = n / WL_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        uint64_t sc8, m8;
        q4_k_scales8(wb[b].scales, &sc8, &m8);
        __m256 dsc = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(wb[b].d)), u8x8_to_ps(sc8));
        __m256 dm = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(wb[b].dmin)), u8x8_to_ps(m8));
        /* per row: lane k = scale of sub-block k times its activation scale;
         * the mins times the activation block sums go straight into acc */
        __m256 sv[WL__KMAX_NX];
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            sv[j] = _mm256_mul_ps(dsc, _mm256_loadu_ps(xr[j].d + 8 * b));
            acc[j][0] = _mm256_fnmadd_ps(dm, _mm256_loadu_ps(xr[j].s + 8 * b), acc[j][0]);
        }
#pragma GCC unroll 8
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(wb[b].qs + 32 * c));
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            const __m256i i0 = _mm256_set1_epi32(2 * c), i1 = _mm256_set1_epi32(2 * c + 1);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                const int8_t *xq = xr[j].qs + 256 * b + 64 * c;
                __m256i p0 = dot_us(lo, _mm256_loadu_si256((const __m256i *)xq));
                __m256i p1 = dot_us(hi, _mm256_loadu_si256((const __m256i *)(xq + 32)));
                acc[j][0] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(sv[j], i0),
                                            _mm256_cvtepi32_ps(p0), acc[j][0]);
                acc[j][na - 1] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(sv[j], i1),
                                                 _mm256_cvtepi32_ps(p1), acc[j][na - 1]);
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = hsum8(na == 2 ? _mm256_add_ps(acc[j][0], acc[j][1]) : acc[j][0]);
}

static WL_AVX2 void dot_q4_k(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
#define CALL(N) q4_k_nx(n, w, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- Q6_K ---------------------------------------------------------------- */

WL_INLINE WL_AVX2 void q6_k_nx(int64_t n, const struct wl_block_q6_k *wb, const void *x, size_t xs,
                               float *out, const int nx)
{
    struct xrow xr[WL__KMAX_NX];
    __m256 acc[WL__KMAX_NX][2];
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    const __m256i k32 = _mm256_set1_epi8(32);
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = xrow_at(x, xs, j, n);
        acc[j][0] = _mm256_setzero_ps();
        acc[j][1] = _mm256_setzero_ps();
    }
    int64_t nb = n / WL_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        __m256 dd = _mm256_set1_ps(_cvtsh_ss(wb[b].d));
        const int8_t *sc = wb[b].scales;
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
                int gi = 4 * h + g;
                __m256i scv =
                    _mm256_set_m128i(_mm_set1_epi16(sc[2 * gi + 1]), _mm_set1_epi16(sc[2 * gi]));
#pragma GCC unroll 8
                for (int j = 0; j < nx; j++) {
                    __m256i xv =
                        _mm256_loadu_si256((const __m256i *)(xr[j].qs + 256 * b + 32 * gi));
                    __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q[g], xv),
                                                   _mm256_maddubs_epi16(k32, xv));
                    __m256i p = _mm256_madd_epi16(p16, scv);
                    __m256 scale = _mm256_mul_ps(dd, _mm256_broadcast_ss(xr[j].d + 8 * b + gi));
                    acc[j][g & 1] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc[j][g & 1]);
                }
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = hsum8(_mm256_add_ps(acc[j][0], acc[j][1]));
}

static WL_AVX2 void dot_q6_k(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
#define CALL(N) q6_k_nx(n, w, x, xs, out, N)
    WL_NX_SWITCH(CALL);
#undef CALL
}

/* ---- activation quantization ------------------------------------------------ */

static WL_AVX2 void quant_q8a(const float *x, void *row, int64_t n)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int8_t *qs = row;
    float *dd = (float *)(void *)(qs + n), *ss = dd + n / 32;
    int64_t nb = n / WL_QK8A;
    for (int64_t b = 0; b < nb; b++, x += WL_QK8A) {
        __m256 v[4];
        __m256 mx = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            mx = _mm256_max_ps(mx, _mm256_and_ps(v[i], absmask));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        float amax = _mm_cvtss_f32(m);
        float d = amax / 127.0f;
        float id = d != 0.0f ? 127.0f / amax : 0.0f;
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

const struct wl__kernel_ops wl__kernel_ops_avx2 = {
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot_q8_0 = dot_q8_0,
    .dot_q4_0 = dot_q4_0,
    .dot_q4_k = dot_q4_k,
    .dot_q6_k = dot_q6_k,
    .quant_q8a = quant_q8a,
};

#endif

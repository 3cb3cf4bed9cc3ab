/* AVX-512 (F/BW/VL/DQ + VNNI) dot products and activation quantization.
 * A 512-bit register holds two 32-element blocks, so one VPDPBUSD does the
 * integer products of two blocks and one FMA applies both block scales
 * (lanes 0-7 and 8-15). K-quants (Q8K activations) accumulate a whole
 * 256-weight super-block in int32 (VPMADDUBSW + VPDPWSSD with int16 scales)
 * and convert once per super-block. Float weights use masked loads for the
 * tail.
 * Compiled with function-level target attributes; only called after
 * wl_kernels_init checked the CPU. Stateless.
 */
#include "engine/kernels/kernels_impl.h"

#if defined(WL__HAVE_X86_KERNELS)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define WL_AVX512                                                                                  \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define WL_AVX512_GFNI                                                                             \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c,gfni")))
#define WL_INLINE static inline __attribute__((always_inline))

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

/* The body of a wl__dotp_fn, using its parameters by name: the kernel of one
 * weight row and nx = 1 (always inlined) for each row in turn, one call per
 * range of rows. GCC does not hoist all of a kernel's constants out of this
 * loop (Q8_0, Q4_0: about ten are rebuilt per row; see q4k_tab for Q4_K). */
#define WL_DOTP_ROWS(row_fn)                                                                       \
    do {                                                                                           \
        const char *wr_ = w;                                                                       \
        for (int64_t r_ = 0; r_ < rows; r_++, wr_ += row_bytes)                                    \
            row_fn(n, (const void *)wr_, x, 0, out + r_, 1, r_ < pf_rows ? wr_ + pf_off : NULL);   \
    } while (0)

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
        xr[j] = wl__row_at(x, xs, j);
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

/* pf: NULL, or the caller's stream ahead (wl__dotp_fn), prefetched 8 blocks
 * per main-loop step. */
WL_INLINE WL_AVX512 void q8_0_nx(int64_t n, const struct wl_block_q8_0 *wb, const void *x,
                                 size_t xs, float *out, const int nx, const char *pf)
{
    struct wl__xrow xr[WL__KMAX_NX];
    __m512 acc[WL__KMAX_NX][2];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = wl__xrow_at(x, xs, j, n);
        acc[j][0] = _mm512_setzero_ps();
        acc[j][1] = _mm512_setzero_ps();
    }
    int64_t nb = n / WL_QK8_0, b = 0;
    /* main loop: 8 blocks; their 8 fp16 scales are converted at once and
     * multiplied by 8 activation scales in one instruction. The weights go
     * into VPDPBUSD as unsigned w + 128 (one XOR); the excess
     * 128 * d_w * d_x * sum(q_x) = 128 * d_w * s_x is subtracted at the end,
     * accumulated with one FMA per 8 blocks (as Q4_0's offset). */
    __m256 accm[WL__KMAX_NX];
    const __m512i k80 = _mm512_set1_epi8((char)0x80);
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        accm[j] = _mm256_setzero_ps();
    for (; b + 8 <= nb; b += 8) {
        if (pf) {
            wl__prefetch_span(pf, 8 * sizeof *wb);
            pf += 8 * sizeof *wb;
        }
        __m256 dw = gather8_fp16(&wb[b].d, sizeof *wb);
        __m512 sv[WL__KMAX_NX];
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            sv[j] = _mm512_castps256_ps512(_mm256_mul_ps(dw, _mm256_loadu_ps(xr[j].d + b)));
            accm[j] = _mm256_fmadd_ps(dw, _mm256_loadu_ps(xr[j].s + b), accm[j]);
        }
#pragma GCC unroll 8
        for (int u = 0; u < 4; u++) {
            __m512i wu = _mm512_xor_si512(load2x32(wb[b + 2 * u].qs, wb[b + 2 * u + 1].qs), k80);
            const __m512i iu = idx2(2 * u, 2 * u + 1);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wu,
                                                _mm512_loadu_si512(xr[j].qs + 32 * (b + 2 * u)));
                acc[j][u & 1] = _mm512_fmadd_ps(_mm512_permutexvar_ps(iu, sv[j]),
                                                _mm512_cvtepi32_ps(p), acc[j][u & 1]);
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        acc[j][0] = _mm512_sub_ps(
            acc[j][0], _mm512_zextps256_ps512(_mm256_mul_ps(_mm256_set1_ps(128.0f), accm[j])));
    if (pf && b < nb) /* the rest of the row: at most 7 blocks */
        wl__prefetch_span(pf, (size_t)(nb - b) * sizeof *wb);
    for (; b + 4 <= nb; b += 4) {
#pragma GCC unroll 8
        for (int u = 0; u < 2; u++) {
            int64_t bb = b + 2 * u;
            const struct wl_block_q8_0 *w0 = &wb[bb], *w1 = w0 + 1;
            __m512i wv = load2x32(w0->qs, w1->qs);
            __m512i aw = _mm512_abs_epi8(wv);
            __mmask64 neg = _mm512_movepi8_mask(wv);
            float d0 = _cvtsh_ss(w0->d), d1 = _cvtsh_ss(w1->d);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                __m512i p = dot_ss(aw, neg, _mm512_loadu_si512(xr[j].qs + 32 * bb));
                acc[j][u] = _mm512_fmadd_ps(set2(d0 * xr[j].d[bb], d1 * xr[j].d[bb + 1]),
                                            _mm512_cvtepi32_ps(p), acc[j][u]);
            }
        }
    }
    for (; b < nb; b++) { /* tail: one block in the low half, zeros above */
        __m512i wv = _mm512_inserti64x4(_mm512_setzero_si512(),
                                        _mm256_loadu_si256((const __m256i *)wb[b].qs), 0);
        __m512i aw = _mm512_abs_epi8(wv);
        __mmask64 neg = _mm512_movepi8_mask(wv);
        float d0 = _cvtsh_ss(wb[b].d);
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            __m512i xv =
                _mm512_inserti64x4(_mm512_setzero_si512(),
                                   _mm256_loadu_si256((const __m256i *)(xr[j].qs + 32 * b)), 0);
            __m512i p = dot_ss(aw, neg, xv);
            acc[j][0] =
                _mm512_fmadd_ps(set2(d0 * xr[j].d[b], 0.0f), _mm512_cvtepi32_ps(p), acc[j][0]);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][0], acc[j][1]));
}

static WL_AVX512 void dot_q8_0(int64_t n, const void *w, const void *x, size_t xs, int nx,
                               float *out)
{
#define CALL(N) q8_0_nx(n, w, x, xs, out, N, NULL)
    WL_NX_SWITCH(CALL);
#undef CALL
}

static WL_AVX512 void dotp_q8_0(int64_t n, const void *w, size_t row_bytes, int64_t rows,
                                const void *x, float *out, size_t pf_off, int64_t pf_rows)
{
    WL_DOTP_ROWS(q8_0_nx);
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

/* pf: NULL, or the caller's stream ahead (wl__dotp_fn), prefetched as many
 * blocks as each step reads. */
WL_INLINE WL_AVX512 void q4_0_nx(int64_t n, const struct wl_block_q4_0 *wb, const void *x,
                                 size_t xs, float *out, const int nx, const char *pf)
{
    struct wl__xrow xr[WL__KMAX_NX];
    __m512 acc[WL__KMAX_NX][2];
    float off[WL__KMAX_NX];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = wl__xrow_at(x, xs, j, n);
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
        if (pf) {
            wl__prefetch_span(pf, 8 * sizeof *wb);
            pf += 8 * sizeof *wb;
        }
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
    if (pf && b < nb) /* the rest of the row: at most 7 blocks */
        wl__prefetch_span(pf, (size_t)(nb - b) * sizeof *wb);
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
#define CALL(N) q4_0_nx(n, w, x, xs, out, N, NULL)
    WL_NX_SWITCH(CALL);
#undef CALL
}

static WL_AVX512 void dotp_q4_0(int64_t n, const void *w, size_t row_bytes, int64_t rows,
                                const void *x, float *out, size_t pf_off, int64_t pf_rows)
{
    WL_DOTP_ROWS(q4_0_nx);
}

/* ---- K-quants: Q8K activation rows ------------------------------------------ */

/* The Q4_K kernels' constants as one table: each is a load. Written as set1
 * and repeating patterns, GCC builds them from immediates (a GPR move and a
 * broadcast each, ~20 shuffle-port operations), and in dotp_q4_k it does so
 * for every row: it does not hoist them out of the rows loop. Session 10,
 * 256 rows in one call from L2: 9.05-9.26 TSC cycles per super-block with
 * the table, 10.2-10.4 without. */
static const struct {
    /* aligned loads: every field on its own size */
    _Alignas(64) uint16_t msel[32];   /* VPSHUFB: mins of two blocks as int16 pairs (q4_k_pair) */
    _Alignas(64) uint16_t psel[2][32]; /* VPSHUFB: scales of packed sub-block sums (q4_k_isum) */
    _Alignas(32) uint32_t hsh[8];     /* q4_k_head2 */
    _Alignas(32) uint32_t hlo[8];
    _Alignas(32) uint32_t hhi[8];
    _Alignas(64) int32_t i1[16]; /* VPERMPS: the second block's d, both dmins */
    _Alignas(64) int32_t im[16];
    _Alignas(64) uint64_t shr4[8]; /* GF(2) matrix of a 4-bit right shift */
    _Alignas(64) uint8_t m4[64];
} q4k_tab __attribute__((aligned(64))) = {
    .msel = {0x8008, 0x8008, 0x8009, 0x8009, 0x800a, 0x800a, 0x800b, 0x800b, 0x800c, 0x800c, 0x800d,
             0x800d, 0x800e, 0x800e, 0x800f, 0x800f, 0x8008, 0x8008, 0x8009, 0x8009, 0x800a, 0x800a,
             0x800b, 0x800b, 0x800c, 0x800c, 0x800d, 0x800d, 0x800e, 0x800e, 0x800f, 0x800f},
    .psel = {{0x8000, 0x8000, 0x8000, 0x8000, 0x8001, 0x8001, 0x8001, 0x8001,
              0x8000, 0x8000, 0x8000, 0x8000, 0x8001, 0x8001, 0x8001, 0x8001,
              0x8002, 0x8002, 0x8002, 0x8002, 0x8003, 0x8003, 0x8003, 0x8003,
              0x8002, 0x8002, 0x8002, 0x8002, 0x8003, 0x8003, 0x8003, 0x8003},
             {0x8004, 0x8004, 0x8004, 0x8004, 0x8005, 0x8005, 0x8005, 0x8005,
              0x8004, 0x8004, 0x8004, 0x8004, 0x8005, 0x8005, 0x8005, 0x8005,
              0x8006, 0x8006, 0x8006, 0x8006, 0x8007, 0x8007, 0x8007, 0x8007,
              0x8006, 0x8006, 0x8006, 0x8006, 0x8007, 0x8007, 0x8007, 0x8007}},
    .hsh = {0, 0, 0, 4, 0, 0, 0, 4},
    .hlo = {0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f,
            0x0f0f0f0f},
    .hhi = {0, 0x30303030, 0, 0x30303030, 0, 0x30303030, 0, 0x30303030},
    .i1 = {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4},
    .im = {1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 5, 5, 5, 5, 5},
    .shr4 = {0x1020408000000000ULL, 0x1020408000000000ULL, 0x1020408000000000ULL,
             0x1020408000000000ULL, 0x1020408000000000ULL, 0x1020408000000000ULL,
             0x1020408000000000ULL, 0x1020408000000000ULL},
    .m4 = {0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
           0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
           0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
           0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
           0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f},
};

/* ---- Q4_K ---------------------------------------------------------------- */

/* The first 16 bytes of two Q4_K blocks (d, dmin, scales[12]), unpacked at
 * once, one block per 128-bit lane, in 32-bit lanes (little-endian): with
 * u0, u1, u2 the three scale words, sc[0..3] = u0 & 0x3f..,
 * sc[4..7] = (u2 & 0x0f..) | ((u0 >> 2) & 0x30..), m[0..3] = u1 & 0x3f..,
 * m[4..7] = ((u2 >> 4) & 0x0f..) | ((u1 >> 2) & 0x30..).
 * scm: bytes sc[0..7], m[0..7] of b0 (lane 0) and b1 (lane 1);
 * dd: floats [d0, dmin0, -, -, d1, dmin1, -, -]. b1 may equal b0. */
WL_INLINE WL_AVX512 void q4_k_head2(const struct wl_block_q4_k *b0, const struct wl_block_q4_k *b1,
                                    __m256i *scm, __m256 *dd)
{
    __m256i x = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)b0)),
        _mm_loadu_si128((const __m128i *)(const void *)b1), 1);    /* [d|dmin, u0, u1, u2] x2 */
    __m256i l1 = _mm256_shuffle_epi32(x, _MM_SHUFFLE(3, 2, 3, 1)); /* u0, u2, u1, u2 */
    __m256i lo =
        _mm256_and_si256(_mm256_srlv_epi32(l1, _mm256_load_si256((const void *)q4k_tab.hsh)),
                         _mm256_load_si256((const void *)q4k_tab.hlo));
    __m256i l2 = _mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 2, 1, 1)); /* -, u0, -, u1 */
    __m256i hi =
        _mm256_and_si256(_mm256_srli_epi32(l2, 2), _mm256_load_si256((const void *)q4k_tab.hhi));
    *scm = _mm256_or_si256(lo, hi);
    *dd = _mm256_cvtph_ps(
        _mm256_castsi256_si128(_mm256_permute4x64_epi64(x, _MM_SHUFFLE(3, 1, 2, 0))));
}

#define WL_Q4K_ATTR WL_AVX512
#define WL_Q4K(name) name
#define WL_Q4K_GFNI 0
#include "engine/kernels/kernels_avx512_q4k.h"
#undef WL_Q4K_ATTR
#undef WL_Q4K
#undef WL_Q4K_GFNI
#define WL_Q4K_ATTR WL_AVX512_GFNI
#define WL_Q4K(name) name##_gfni
#define WL_Q4K_GFNI 1
#include "engine/kernels/kernels_avx512_q4k.h"
#undef WL_Q4K_ATTR
#undef WL_Q4K
#undef WL_Q4K_GFNI

/* ---- Q6_K ---------------------------------------------------------------- */

/* Per super-block and row, in int32 lanes: the -32 offset first,
 * -32 * sum_k sc[k] * bsum_k (one VPMADDWD of the scales times -32, which fit
 * int16, against the 16 per-16 sums), then per 64 weights VPMADDUBSW (6-bit
 * q x int8 pairs, at most 2*63*127, no saturation) and VPDPWSSD with the four
 * sub-block scales as int16 (VPERMW); one conversion and one FMA with
 * d_w * d_x per 256 weights. pf: NULL, or the caller's stream ahead
 * (wl__dotp_fn), prefetched one block per step. */
WL_INLINE WL_AVX512 void q6_k_nx(int64_t n, const struct wl_block_q6_k *wb, const void *x,
                                 size_t xs, float *out, const int nx, const char *pf)
{
    static const uint16_t quad_tab[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    struct wl__krow xr[WL__KMAX_NX];
    __m512 acc[WL__KMAX_NX]; /* one per row: the FMA chain is one per 256 weights */
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    const __m512i quad = _mm512_loadu_si512(quad_tab); /* 128-bit lane i -> word i */
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = wl__krow_at(x, xs, j, n);
        acc[j] = _mm512_setzero_ps();
    }
    int64_t nb = n / WL_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        if (pf) {
            wl__prefetch_span(pf, sizeof *wb);
            pf += sizeof *wb;
        }
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wb[b].scales));
        __m512i scz = _mm512_castsi256_si512(sc16);
        __m256i scm32 = _mm256_mullo_epi16(sc16, _mm256_set1_epi16(-32));
        __m512i is[WL__KMAX_NX];
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            is[j] = _mm512_zextsi256_si512(_mm256_madd_epi16(
                scm32, _mm256_loadu_si256((const __m256i *)(xr[j].bsums + 16 * b))));
#pragma GCC unroll 8
        for (int h = 0; h < 2; h++) {
            __m512i ql = _mm512_loadu_si512(wb[b].ql + 64 * h);
            __m256i qh = _mm256_loadu_si256((const __m256i *)(wb[b].qh + 32 * h));
            /* [qh | qh >> 2]: bits 4-5 (after << 4 for the low nibbles' group) are
             * the high bits of groups 0, 1 (low) and 2, 3 (high) */
            __m512i hq =
                _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
            __m512i qq[2];
            /* (A & C) | B with A = ql bits, B = high bits already masked, C = 0x0f */
            qq[0] = _mm512_ternarylogic_epi32(ql, _mm512_and_si512(_mm512_slli_epi16(hq, 4), m30),
                                              m4, 0xec);
            qq[1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), _mm512_and_si512(hq, m30),
                                              m4, 0xec);
#pragma GCC unroll 8
            for (int u = 0; u < 2; u++) {
                int c4 = 2 * h + u; /* elements 64 c4 .. 64 c4 + 63: sub-blocks 4 c4 .. 4 c4 + 3 */
                __m512i scv = _mm512_permutexvar_epi16(
                    _mm512_add_epi16(quad, _mm512_set1_epi16((short)(4 * c4))), scz);
#pragma GCC unroll 8
                for (int j = 0; j < nx; j++) {
                    __m512i p = _mm512_maddubs_epi16(
                        qq[u], _mm512_loadu_si512(xr[j].qs + 256 * b + 64 * c4));
                    is[j] = _mm512_dpwssd_epi32(is[j], p, scv);
                }
            }
        }
        __m512 dw = _mm512_set1_ps(_cvtsh_ss(wb[b].d));
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[j]),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(xr[j].d[b])), acc[j]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = _mm512_reduce_add_ps(acc[j]);
}

static WL_AVX512 void dot_q6_k(int64_t n, const void *w, const void *x, size_t xs, int nx,
                               float *out)
{
#define CALL(N) q6_k_nx(n, w, x, xs, out, N, NULL)
    WL_NX_SWITCH(CALL);
#undef CALL
}

static WL_AVX512 void dotp_q6_k(int64_t n, const void *w, size_t row_bytes, int64_t rows,
                                const void *x, float *out, size_t pf_off, int64_t pf_rows)
{
    WL_DOTP_ROWS(q6_k_nx);
}

/* ---- activation quantization ------------------------------------------------ */

/* The largest |x| of a block as the reference takes it (quant.c,
 * abs_max_bits): an integer maximum of the bit patterns with the sign
 * cleared, in which NaN beats every number (vmaxps would drop it). */
WL_INLINE WL_AVX512 __m512i abs_bits16(__m512 v)
{
    return _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff));
}

WL_INLINE WL_AVX512 float hmax16_abs_bits(__m512i m)
{
    const uint32_t u = _mm512_reduce_max_epu32(m);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static WL_AVX512 void quant_q8a(const float *x, void *row, int64_t n)
{
    int8_t *qs = row;
    float *dd = (float *)(void *)(qs + n), *ss = dd + n / 32;
    int64_t nb = n / WL_QK8A;
    for (int64_t b = 0; b < nb; b++, x += WL_QK8A) {
        __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        float amax = hmax16_abs_bits(_mm512_max_epu32(abs_bits16(v0), abs_bits16(v1)));
        if (wl_q8_amax_bad(amax)) { /* the rules: quant.h */
            memset(qs + 32 * b, 0, 32);
            dd[b] = NAN;
            ss[b] = NAN;
            continue;
        }
        const float d = wl_q8_scale(amax), id = wl_q8_inv_scale(amax);
        __m512 idv = _mm512_set1_ps(id);
        __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, idv));
        __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, idv));
        _mm_storeu_si128((__m128i *)(qs + 32 * b), _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(qs + 32 * b + 16), _mm512_cvtsepi32_epi8(q1));
        dd[b] = d;
        ss[b] = d * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}

/* One Q8K super-block per iteration: 16 vectors of 16 floats, each one
 * per-16 group (its sum is bsums[g]). */
static WL_AVX512 void quant_q8k(const float *x, void *row, int64_t n)
{
    int8_t *qs = row;
    int16_t *bsums = (int16_t *)(void *)(qs + n);
    float *dd = (float *)(void *)(bsums + n / 16);
    int64_t nb = n / WL_QK8K;
    for (int64_t b = 0; b < nb; b++, x += WL_QK8K) {
        __m512i mx = _mm512_setzero_si512();
        for (int g = 0; g < 16; g++)
            mx = _mm512_max_epu32(mx, abs_bits16(_mm512_loadu_ps(x + 16 * g)));
        float amax = hmax16_abs_bits(mx);
        const float d = wl_q8_scale(amax); /* the rules: quant.h */
        dd[b] = d;
        if (wl_q8_amax_bad(amax) || d == 0.0f) {
            memset(qs + WL_QK8K * b, 0, WL_QK8K);
            memset(bsums + 16 * b, 0, 16 * sizeof *bsums);
            continue;
        }
        __m512 dv = _mm512_set1_ps(d);
        const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
        for (int g = 0; g < 16; g++) {
            __m512i q = _mm512_cvtps_epi32(_mm512_div_ps(_mm512_loadu_ps(x + 16 * g), dv));
            q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
            _mm_storeu_si128((__m128i *)(qs + WL_QK8K * b + 16 * g), _mm512_cvtepi32_epi8(q));
            bsums[16 * b + g] = (int16_t)_mm512_reduce_add_epi32(q);
        }
    }
    wl__xk_fill_qp(row, n);
}

const struct wl__kernel_ops wl__kernel_ops_avx512 = {
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot_q8_0 = dot_q8_0,
    .dotp_q8_0 = dotp_q8_0,
    .dot_q4_0 = dot_q4_0,
    .dot_q4_k = dot_q4_k,
    .dotp_q4_k = dotp_q4_k,
    .dotp_q4_0 = dotp_q4_0,
    .dotp_q6_k = dotp_q6_k,
    .dot_q6_k = dot_q6_k,
    .quant_q8a = quant_q8a,
    .quant_q8k = quant_q8k,
    .silu_mul = wl__silu_mul_avx2,
    .gelu_mul = wl__gelu_mul_avx2,
    .exp_sum = wl__exp_sum_avx2,
    .sum_sq = wl__sum_sq_avx2,
    .scale_mul = wl__scale_mul_avx2,
};

/* the same with the GFNI Q4_K kernel (wl_kernels_init picks it when the CPU has GFNI) */
const struct wl__kernel_ops wl__kernel_ops_avx512_gfni = {
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot_q8_0 = dot_q8_0,
    .dotp_q8_0 = dotp_q8_0,
    .dot_q4_0 = dot_q4_0,
    .dot_q4_k = dot_q4_k_gfni,
    .dotp_q4_k = dotp_q4_k_gfni,
    .dotp_q4_0 = dotp_q4_0,
    .dotp_q6_k = dotp_q6_k,
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

/* Scalar reference quantization/dequantization and fp16/bf16 conversion; see
 * quant.h. This is the definition of every format for the engine: SIMD
 * kernels are tested against it. The quantizers search a small set of scales
 * per sub-block and refine each by least squares (an independent design; only
 * the byte layouts follow GGUF). Stateless and thread-safe.
 */
#include "engine/quant.h"

#include "wattlens/error.h"

#include <float.h>
#include <math.h>
#include <string.h>

_Static_assert(sizeof(struct wl_block_q8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(struct wl_block_q4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(struct wl_block_q4_k) == 144, "Q4_K block is 144 bytes");
_Static_assert(sizeof(struct wl_block_q6_k) == 210, "Q6_K block is 210 bytes");
_Static_assert(sizeof(struct wl_block_q8a) == 40, "Q8A block is 40 bytes");
_Static_assert(sizeof(struct wl_block_q8k) == 292, "Q8K block is 292 bytes");

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float wl_fp16_to_fp32(uint16_t h)
{
    /* Branch-free, exact: with the sign dropped, a normal (or inf/NaN) half
     * shifted into fp32 position has exponent e-15+127-112; one exact multiply
     * by 2^-112 rebiases it (inf and NaN stay what they are). A subnormal
     * m * 2^-24 is built exactly as (0.5 + m * 2^-24) - 0.5. */
    uint32_t w = (uint32_t)h << 16;
    uint32_t sign = w & 0x80000000u;
    uint32_t two_w = w + w;
    float normal = bits_f32((two_w >> 4) + (0xe0u << 23)) * 0x1p-112f;
    float subnormal = bits_f32((two_w >> 17) | (126u << 23)) - 0.5f;
    uint32_t mag = two_w < (1u << 27) ? f32_bits(subnormal) : f32_bits(normal);
    return bits_f32(sign | mag);
}

uint16_t wl_fp32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) { /* inf, or NaN kept quiet with its top payload bits */
        if (ax == 0x7f800000u)
            return (uint16_t)(sign | 0x7c00u);
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    }
    if (ax < 0x38800000u) { /* below 2^-14: fp16 subnormal or zero */
        uint32_t e = ax >> 23;
        if (e < 102) /* < 2^-25: rounds to zero (2^-25 itself ties to even 0) */
            return (uint16_t)sign;
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1u)))
            r++; /* may carry into the smallest normal: still the right encoding */
        return (uint16_t)(sign | r);
    }
    /* normal: rebias the exponent; a carry out of the mantissa bumps the
     * exponent, and past 65504 lands exactly on infinity (0x7c00) */
    uint32_t r = (ax >> 13) - ((127u - 15u) << 10);
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u)))
        r++;
    if (r > 0x7c00u)
        r = 0x7c00u;
    return (uint16_t)(sign | r);
}

float wl_bf16_to_fp32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t wl_fp32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: keep sign, force quiet */
        return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

/* ---- F16 / BF16 rows --------------------------------------------------- */

void wl_quantize_row_f16(const float *x, uint16_t *y, int64_t k)
{
    for (int64_t i = 0; i < k; i++)
        y[i] = wl_fp32_to_fp16(x[i]);
}

void wl_quantize_row_bf16(const float *x, uint16_t *y, int64_t k)
{
    for (int64_t i = 0; i < k; i++)
        y[i] = wl_fp32_to_bf16(x[i]);
}

/* Groups of 8 with a fixed inner trip count: compilers turn them into SIMD
 * code (the engine's scalar kernels convert weight rows through these). */
void wl_dequantize_row_f16(const uint16_t *x, float *y, int64_t k)
{
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        for (int l = 0; l < 8; l++)
            y[i + l] = wl_fp16_to_fp32(x[i + l]);
    for (; i < k; i++)
        y[i] = wl_fp16_to_fp32(x[i]);
}

void wl_dequantize_row_bf16(const uint16_t *x, float *y, int64_t k)
{
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        for (int l = 0; l < 8; l++)
            y[i + l] = wl_bf16_to_fp32(x[i + l]);
    for (; i < k; i++)
        y[i] = wl_bf16_to_fp32(x[i]);
}

/* Round half away from zero, as roundf, but to int. */
static int round_int(float v)
{
    return (int)lroundf(v);
}

static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* True when the inverse scale nmax/range is not finite: range = 0, or a
 * block so small (range below nmax/FLT_MAX, e.g. ~2.4e-38 for Q4_0) that it
 * overflows. The weight quantizers store such a block as an all-zero block:
 * x * inf is +-inf (NaN for x = 0), and converting that to int is undefined
 * (C11 6.3.1.4). Its stored fp16 scale would be 0 anyway (the smallest fp16
 * is 6e-8). The activation quantizers have the same rule (wl_q8_inv_scale). */
static bool inv_scale_overflows(float nmax, float range)
{
    return !(nmax / range <= FLT_MAX);
}

/* ---- Q8_0 ---------------------------------------------------------------- */

void wl_quantize_row_q8_0(const float *x, struct wl_block_q8_0 *y, int64_t k)
{
    int64_t nb = k / WL_QK8_0;
    for (int64_t b = 0; b < nb; b++, x += WL_QK8_0) {
        float amax = 0.0f;
        for (int i = 0; i < WL_QK8_0; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        if (inv_scale_overflows(1.0f, amax / 127.0f))
            amax = 0.0f; /* the all-zero block */
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = wl_fp32_to_fp16(d);
        for (int i = 0; i < WL_QK8_0; i++)
            y[b].qs[i] = (int8_t)clamp_int(round_int(x[i] * id), -127, 127);
    }
}

void wl_dequantize_row_q8_0(const struct wl_block_q8_0 *x, float *y, int64_t k)
{
    int64_t nb = k / WL_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        float d = wl_fp16_to_fp32(x[b].d);
        for (int i = 0; i < WL_QK8_0; i++)
            y[b * WL_QK8_0 + i] = d * (float)x[b].qs[i];
    }
}

/* ---- Q4_0 ---------------------------------------------------------------- */

void wl_quantize_row_q4_0(const float *x, struct wl_block_q4_0 *y, int64_t k)
{
    int64_t nb = k / WL_QK4_0;
    for (int64_t b = 0; b < nb; b++, x += WL_QK4_0) {
        /* the value of largest magnitude maps to q = 0 (i.e. -8): that uses the
         * asymmetric range -8..7 fully on its side */
        float amax = 0.0f, vmax = 0.0f;
        for (int i = 0; i < WL_QK4_0; i++) {
            if (fabsf(x[i]) > amax) {
                amax = fabsf(x[i]);
                vmax = x[i];
            }
        }
        if (inv_scale_overflows(1.0f, fabsf(vmax / -8.0f)))
            vmax = 0.0f; /* the all-zero block */
        float d = vmax / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = wl_fp32_to_fp16(d);
        for (int i = 0; i < WL_QK4_0 / 2; i++) {
            int q0 = clamp_int((int)floorf(x[i] * id + 8.5f), 0, 15);
            int q1 = clamp_int((int)floorf(x[i + WL_QK4_0 / 2] * id + 8.5f), 0, 15);
            y[b].qs[i] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void wl_dequantize_row_q4_0(const struct wl_block_q4_0 *x, float *y, int64_t k)
{
    int64_t nb = k / WL_QK4_0;
    for (int64_t b = 0; b < nb; b++) {
        float d = wl_fp16_to_fp32(x[b].d);
        float *o = y + b * WL_QK4_0;
        for (int i = 0; i < WL_QK4_0 / 2; i++) {
            o[i] = d * (float)((x[b].qs[i] & 0x0f) - 8);
            o[i + WL_QK4_0 / 2] = d * (float)((x[b].qs[i] >> 4) - 8);
        }
    }
}

/* ---- Q4_K ---------------------------------------------------------------- */

/* Nearest integer of v >= -0.5 as a float, halves rounding up; written with
 * a truncating conversion so that the candidate loops below vectorize. */
static inline float round_nonneg(float v)
{
    return (float)(int)(v + 0.5f);
}

/* Nearest integer of v as a float, halves away from zero. */
static inline float round_away(float v)
{
    return (float)(int)(v + (v < 0.0f ? -0.5f : 0.5f));
}

/* Sums over one candidate assignment q_i = min(round((x_i - lo) * is), qmax)
 * (wl__q4_k_fit_scale_min) or q_i = clamp(round(x_i * is), -32, 31) (fit_scale_sym):
 * sum q, sum q^2, sum q*x. Four interleaved partial sums, combined in a fixed
 * order, so that the SSE2 code and the portable code give the same bits.
 * That also needs each multiply-add rounded twice, as written: the build
 * compiles this file with -ffp-contract=off (CMakeLists.txt), since clang
 * fuses them into FMAs by default where the target has FMA (arm64).
 * WL_QUANT_PORTABLE builds the portable loops on x86 too (the test
 * test_quant_portable, cmake/extra/quant_portable.cmake). */
struct qsums {
    float q, q2, qx;
};

#if defined(__SSE2__) && !defined(WL_QUANT_PORTABLE)
#include <emmintrin.h>

static struct qsums lane_total(__m128 aq, __m128 aq2, __m128 aqx)
{
    float a[4], b[4], c[4];
    _mm_storeu_ps(a, aq);
    _mm_storeu_ps(b, aq2);
    _mm_storeu_ps(c, aqx);
    struct qsums r = {(a[0] + a[1]) + (a[2] + a[3]), (b[0] + b[1]) + (b[2] + b[3]),
                      (c[0] + c[1]) + (c[2] + c[3])};
    return r;
}

static struct qsums cand_sums_min(const float *x, int n, float lo, float is, float qmax)
{
    const __m128 vlo = _mm_set1_ps(lo), vis = _mm_set1_ps(is), half = _mm_set1_ps(0.5f);
    const __m128 vmax = _mm_set1_ps(qmax);
    __m128 aq = _mm_setzero_ps(), aq2 = aq, aqx = aq;
    for (int i = 0; i < n; i += 4) {
        __m128 xv = _mm_loadu_ps(x + i);
        __m128 v = _mm_add_ps(_mm_mul_ps(_mm_sub_ps(xv, vlo), vis), half);
        __m128 q = _mm_min_ps(_mm_cvtepi32_ps(_mm_cvttps_epi32(v)), vmax);
        aq = _mm_add_ps(aq, q);
        aq2 = _mm_add_ps(aq2, _mm_mul_ps(q, q));
        aqx = _mm_add_ps(aqx, _mm_mul_ps(q, xv));
    }
    return lane_total(aq, aq2, aqx);
}

static struct qsums cand_sums_sym(const float *x, int n, float is)
{
    const __m128 vis = _mm_set1_ps(is), half = _mm_set1_ps(0.5f);
    const __m128 sign = _mm_set1_ps(-0.0f), lo = _mm_set1_ps(-32.0f), hi = _mm_set1_ps(31.0f);
    __m128 aq = _mm_setzero_ps(), aq2 = aq, aqx = aq;
    for (int i = 0; i < n; i += 4) {
        __m128 xv = _mm_loadu_ps(x + i);
        __m128 v = _mm_mul_ps(xv, vis);
        v = _mm_add_ps(v, _mm_or_ps(half, _mm_and_ps(v, sign))); /* +-0.5, away from 0 */
        __m128 q = _mm_cvtepi32_ps(_mm_cvttps_epi32(v));
        q = _mm_min_ps(_mm_max_ps(q, lo), hi);
        aq = _mm_add_ps(aq, q);
        aq2 = _mm_add_ps(aq2, _mm_mul_ps(q, q));
        aqx = _mm_add_ps(aqx, _mm_mul_ps(q, xv));
    }
    return lane_total(aq, aq2, aqx);
}
#else
static struct qsums lane_total4(const float a[4], const float b[4], const float c[4])
{
    struct qsums r = {(a[0] + a[1]) + (a[2] + a[3]), (b[0] + b[1]) + (b[2] + b[3]),
                      (c[0] + c[1]) + (c[2] + c[3])};
    return r;
}

static struct qsums cand_sums_min(const float *x, int n, float lo, float is, float qmax)
{
    float a[4] = {0}, b[4] = {0}, c[4] = {0};
    for (int i = 0; i < n; i += 4)
        for (int l = 0; l < 4; l++) {
            float q = (float)(int)((x[i + l] - lo) * is + 0.5f);
            q = q < qmax ? q : qmax;
            a[l] += q;
            b[l] += q * q;
            c[l] += q * x[i + l];
        }
    return lane_total4(a, b, c);
}

static struct qsums cand_sums_sym(const float *x, int n, float is)
{
    float a[4] = {0}, b[4] = {0}, c[4] = {0};
    for (int i = 0; i < n; i += 4)
        for (int l = 0; l < 4; l++) {
            float v = x[i + l] * is;
            float q = (float)(int)(v + (signbit(v) ? -0.5f : 0.5f));
            q = q > -32.0f ? q : -32.0f;
            q = q < 31.0f ? q : 31.0f;
            a[l] += q;
            b[l] += q * q;
            c[l] += q * x[i + l];
        }
    return lane_total4(a, b, c);
}
#endif

/* See quant.h. Tries 2*NSTEP+1 inverse scales around nmax/range; for each
 * assignment of q it refits s and m by least squares and scores the squared
 * error (computed from the sums, for that assignment); last, the plain
 * min/max fit, scored with its own assignment (step 0's); keeps the best. */
void wl__q4_k_fit_scale_min(int n, const float *x, int nmax, float *s_out, float *m_out)
{
    enum { NSTEP = 8 };
    float lo = x[0], hi = x[0], sx = 0.0f, sx2 = 0.0f;
    for (int i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        sx += x[i];
        sx2 += x[i] * x[i];
    }
    if (lo > 0.0f)
        lo = 0.0f;
    /* all values equal; or a range so small that the largest inverse scale
     * tried below, (nmax + NSTEP/8)/(hi - lo), overflows; or so large (values
     * of both signs near FLT_MAX) that hi - lo is inf, every inverse scale 0
     * and (x - lo) * 0 NaN, which the portable loop converted to int
     * (undefined): no scale fits */
    if (hi <= lo || !(hi - lo <= FLT_MAX) ||
        inv_scale_overflows((float)nmax + 0.125f * NSTEP, hi - lo)) {
        *s_out = 0.0f;
        *m_out = -lo;
        return;
    }
    /* the plain min/max fit: the answer should every refit be rejected */
    float best_s = (hi - lo) / (float)nmax, best_m = -lo;
    double best_err = -1.0;
    const float fmax_q = (float)nmax;
    struct qsums t0 = {0};
    for (int step = -NSTEP; step <= NSTEP + 1; step++) {
        /* last: the plain fit, unrefined, scored with the q it rounds to:
         * step 0's (its own inverse scale, not the best refit's: that
         * scored it for an assignment it does not make, and a worse refit
         * could win) */
        struct qsums t = t0;
        if (step <= NSTEP)
            t = cand_sums_min(x, n, lo, ((float)nmax + 0.125f * (float)step) / (hi - lo), fmax_q);
        if (step == 0)
            t0 = t;
        float sq = t.q, sq2 = t.q2, sqx = t.qx;
        double s, b; /* x ~= s*q + b */
        if (step > NSTEP) {
            s = (hi - lo) / (float)nmax;
            b = lo;
        } else {
            double den = (double)n * sq2 - (double)sq * sq;
            if (den <= 0)
                continue;
            s = ((double)n * sqx - (double)sq * sx) / den;
            b = ((double)sq2 * sx - (double)sq * sqx) / den;
            if (b > 0) {
                b = 0;
                s = sqx / sq2;
            }
            if (s <= 0)
                continue;
        }
        double err = s * s * sq2 + 2 * s * b * sq + n * b * b - 2 * s * sqx - 2 * b * sx + sx2;
        if (best_err < 0 || err < best_err) {
            best_err = err;
            best_s = (float)s;
            best_m = (float)-b;
        }
    }
    *s_out = best_s;
    *m_out = best_m;
}

void wl_q4_k_get_scale_min(const uint8_t scales[12], int j, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
        *m = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

static void q4_k_set_scales(uint8_t scales[12], const uint8_t sc[8], const uint8_t m[8])
{
    for (int j = 0; j < 4; j++) {
        scales[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        scales[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
        scales[j + 8] = (uint8_t)((sc[j + 4] & 0x0f) | ((m[j + 4] & 0x0f) << 4));
    }
}

void wl_quantize_row_q4_k(const float *x, struct wl_block_q4_k *y, int64_t k)
{
    int64_t nb = k / WL_QK_K;
    for (int64_t b = 0; b < nb; b++, x += WL_QK_K) {
        float s[8], m[8], smax = 0.0f, mmax = 0.0f;
        for (int j = 0; j < 8; j++) {
            wl__q4_k_fit_scale_min(32, x + 32 * j, 15, &s[j], &m[j]);
            smax = fmaxf(smax, s[j]);
            mmax = fmaxf(mmax, m[j]);
        }
        float d = smax / 63.0f, dmin = mmax / 63.0f;
        uint16_t d16 = wl_fp32_to_fp16(d), dmin16 = wl_fp32_to_fp16(dmin);
        float dq = wl_fp16_to_fp32(d16), dminq = wl_fp16_to_fp32(dmin16);
        uint8_t sc[8], mq[8];
        for (int j = 0; j < 8; j++) {
            sc[j] = (uint8_t)(dq > 0.0f ? clamp_int(round_int(s[j] / dq), 0, 63) : 0);
            mq[j] = (uint8_t)(dminq > 0.0f ? clamp_int(round_int(m[j] / dminq), 0, 63) : 0);
        }
        y[b].d = d16;
        y[b].dmin = dmin16;
        q4_k_set_scales(y[b].scales, sc, mq);
        /* requantize with the scales as stored */
        uint8_t L[WL_QK_K];
        for (int j = 0; j < 8; j++) {
            float sj = dq * (float)sc[j], mj = dminq * (float)mq[j];
            float isj = sj > 0.0f ? 1.0f / sj : 0.0f;
            for (int i = 0; i < 32; i++) {
                float q = round_nonneg(fmaxf((x[32 * j + i] + mj) * isj, 0.0f));
                L[32 * j + i] = (uint8_t)(q > 15.0f ? 15.0f : q);
            }
        }
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[b].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
}

void wl_dequantize_row_q4_k(const struct wl_block_q4_k *x, float *y, int64_t k)
{
    int64_t nb = k / WL_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        float d = wl_fp16_to_fp32(x[b].d), dmin = wl_fp16_to_fp32(x[b].dmin);
        float *o = y + b * WL_QK_K;
        for (int c = 0; c < 4; c++) {
            uint8_t sc0, m0, sc1, m1;
            wl_q4_k_get_scale_min(x[b].scales, 2 * c, &sc0, &m0);
            wl_q4_k_get_scale_min(x[b].scales, 2 * c + 1, &sc1, &m1);
            float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
            const uint8_t *q = x[b].qs + 32 * c;
            for (int l = 0; l < 32; l++) {
                o[64 * c + l] = d0 * (float)(q[l] & 0x0f) - mm0;
                o[64 * c + 32 + l] = d1 * (float)(q[l] >> 4) - mm1;
            }
        }
    }
}

/* ---- Q6_K ---------------------------------------------------------------- */

/* Fits x[0..n) ~= s*q with q in -32..31; the value of largest magnitude goes
 * towards -32 (the longer side). Tries 2*NSTEP+1 inverse scales; for each
 * assignment the least-squares s = sum(qx)/sum(q^2) leaves the squared error
 * sum(x^2) - sum(qx)^2/sum(q^2); keeps the best. */
static float fit_scale_sym(int n, const float *x)
{
    enum { NSTEP = 6 };
    float amax = 0.0f, vmax = 0.0f, sx2 = 0.0f;
    for (int i = 0; i < n; i++) {
        sx2 += x[i] * x[i];
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            vmax = x[i];
        }
    }
    /* all zero, or so small that the largest inverse scale tried below,
     * (32 + NSTEP/8)/amax, overflows */
    if (inv_scale_overflows(32.0f + 0.125f * NSTEP, amax))
        return 0.0f;
    float best_s = vmax / -32.0f;
    double best_err = DBL_MAX;
    for (int step = -NSTEP; step <= NSTEP; step++) {
        float is = -(32.0f + 0.125f * (float)step) / vmax;
        struct qsums t = cand_sums_sym(x, n, is);
        float sqx = t.qx, sq2 = t.q2;
        if (sq2 <= 0)
            continue;
        double err = sx2 - (double)sqx * sqx / sq2;
        if (err < best_err) {
            best_err = err;
            best_s = sqx / sq2;
        }
    }
    return best_s;
}

void wl_quantize_row_q6_k(const float *x, struct wl_block_q6_k *y, int64_t k)
{
    int64_t nb = k / WL_QK_K;
    for (int64_t b = 0; b < nb; b++, x += WL_QK_K) {
        float s[16], amax = 0.0f, smax = 0.0f;
        for (int j = 0; j < 16; j++) {
            s[j] = fit_scale_sym(16, x + 16 * j);
            if (fabsf(s[j]) > amax) {
                amax = fabsf(s[j]);
                smax = s[j];
            }
        }
        float d = smax / -128.0f;
        uint16_t d16 = wl_fp32_to_fp16(d);
        float dq = wl_fp16_to_fp32(d16);
        int8_t sc[16];
        for (int j = 0; j < 16; j++)
            sc[j] = (int8_t)(dq != 0.0f ? clamp_int(round_int(s[j] / dq), -128, 127) : 0);
        uint8_t L[WL_QK_K];
        for (int j = 0; j < 16; j++) {
            float sj = dq * (float)sc[j];
            /* sj is NaN or inf when d overflowed fp16 (values beyond ~2.7e8;
             * requant's read-back refuses the row): q = 0 then, not x * NaN
             * converted to int (undefined) */
            float isj = sj != 0.0f && fabsf(sj) <= FLT_MAX ? 1.0f / sj : 0.0f;
            for (int i = 0; i < 16; i++) {
                float q = round_away(x[16 * j + i] * isj);
                q = q < -32.0f ? -32.0f : (q > 31.0f ? 31.0f : q);
                L[16 * j + i] = (uint8_t)((int)q + 32);
            }
        }
        memcpy(y[b].scales, sc, sizeof sc);
        y[b].d = d16;
        for (int h = 0; h < 2; h++) {
            uint8_t *ql = y[b].ql + 64 * h, *qh = y[b].qh + 32 * h;
            const uint8_t *Lh = L + 128 * h;
            for (int l = 0; l < 32; l++) {
                uint8_t a = Lh[l], bq = Lh[l + 32], c = Lh[l + 64], e = Lh[l + 96];
                ql[l] = (uint8_t)((a & 0x0f) | ((c & 0x0f) << 4));
                ql[l + 32] = (uint8_t)((bq & 0x0f) | ((e & 0x0f) << 4));
                qh[l] = (uint8_t)((a >> 4) | ((bq >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6));
            }
        }
    }
}

void wl_dequantize_row_q6_k(const struct wl_block_q6_k *x, float *y, int64_t k)
{
    int64_t nb = k / WL_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        float d = wl_fp16_to_fp32(x[b].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[b].ql + 64 * h, *qh = x[b].qh + 32 * h;
            const int8_t *sc = x[b].scales + 8 * h;
            float *o = y + b * WL_QK_K + 128 * h;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                o[l] = d * (float)sc[is] * (float)q1;
                o[l + 32] = d * (float)sc[is + 2] * (float)q2;
                o[l + 64] = d * (float)sc[is + 4] * (float)q3;
                o[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

/* ---- Q8A (activations) ----------------------------------------------------- */

/* The largest |x[i]|, i < n, as the largest of their bit patterns with the
 * sign cleared: for finite values and infinities the same as fmaxf, but a
 * NaN, above every other pattern, wins (fmaxf would skip it). So one compare
 * (wl_q8_amax_bad) finds a block holding NaN or +-inf. The SIMD
 * quantizers take the same integer maximum. */
static float abs_max_bits(const float *x, int n)
{
    uint32_t m = 0;
    for (int i = 0; i < n; i++) {
        const uint32_t u = f32_bits(x[i]) & 0x7fffffffu;
        m = u > m ? u : m;
    }
    return bits_f32(m);
}

void wl_quantize_row_q8a(const float *x, struct wl_block_q8a *y, int64_t k)
{
    int64_t nb = k / WL_QK8A;
    for (int64_t b = 0; b < nb; b++, x += WL_QK8A) {
        float amax = abs_max_bits(x, WL_QK8A);
        if (wl_q8_amax_bad(amax)) {
            memset(y[b].qs, 0, sizeof y[b].qs);
            y[b].d = NAN;
            y[b].s = NAN;
            continue;
        }
        const float d = wl_q8_scale(amax), id = wl_q8_inv_scale(amax);
        int sum = 0;
        for (int i = 0; i < WL_QK8A; i++) {
            int q = clamp_int((int)lrintf(x[i] * id), -127, 127);
            y[b].qs[i] = (int8_t)q;
            sum += q;
        }
        y[b].d = d;
        y[b].s = d * (float)sum;
    }
}

void wl_dequantize_row_q8a(const struct wl_block_q8a *x, float *y, int64_t k)
{
    int64_t nb = k / WL_QK8A;
    for (int64_t b = 0; b < nb; b++)
        for (int i = 0; i < WL_QK8A; i++)
            y[b * WL_QK8A + i] = x[b].d * (float)x[b].qs[i];
}

/* q = rint(x / d) with d = amax/127 (a division, not a multiply by
 * 127/amax: that reciprocal overflows to inf for amax below ~3.7e-37), clamped
 * to +-127 (only reachable when d is subnormal and inexact); d = 0 gives
 * q = 0. SIMD paths reproduce it exactly with a division, cvtps2dq and a
 * clamp per vector. A block with NaN or +-inf gets d = NaN (quant.h). */
void wl_quantize_row_q8k(const float *x, struct wl_block_q8k *y, int64_t k)
{
    int64_t nb = k / WL_QK8K;
    for (int64_t b = 0; b < nb; b++, x += WL_QK8K) {
        float amax = abs_max_bits(x, WL_QK8K);
        if (wl_q8_amax_bad(amax)) {
            memset(y[b].qs, 0, sizeof y[b].qs);
            memset(y[b].bsums, 0, sizeof y[b].bsums);
            y[b].d = NAN;
            continue;
        }
        const float d = wl_q8_scale(amax);
        for (int g = 0; g < WL_QK8K / 16; g++) {
            int sum = 0;
            for (int i = 16 * g; i < 16 * g + 16; i++) {
                int q = d != 0.0f ? clamp_int((int)lrintf(x[i] / d), -127, 127) : 0;
                y[b].qs[i] = (int8_t)q;
                sum += q;
            }
            y[b].bsums[g] = (int16_t)sum;
        }
        y[b].d = d;
    }
}

void wl_dequantize_row_q8k(const struct wl_block_q8k *x, float *y, int64_t k)
{
    int64_t nb = k / WL_QK8K;
    for (int64_t b = 0; b < nb; b++)
        for (int i = 0; i < WL_QK8K; i++)
            y[b * WL_QK8K + i] = x[b].d * (float)x[b].qs[i];
}

/* ---- dispatch by type ----------------------------------------------------- */

bool wl_quant_is_supported(uint32_t type)
{
    switch (type) {
    case WL_TTYPE_F32:
    case WL_TTYPE_F16:
    case WL_TTYPE_BF16:
    case WL_TTYPE_Q8_0:
    case WL_TTYPE_Q4_0:
    case WL_TTYPE_Q4_K:
    case WL_TTYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

size_t wl_quant_row_bytes(uint32_t type, int64_t n)
{
    uint64_t bytes;
    if (!wl_quant_is_supported(type) || n < 0 || wl_ttype_bytes(type, (uint64_t)n, &bytes) != 0)
        return 0;
    if (bytes > SIZE_MAX)
        return 0;
    return (size_t)bytes;
}

static bool row_args_ok(uint32_t type, const void *a, const void *b, int64_t n)
{
    if (!a || !b || n < 0 || !wl_quant_is_supported(type))
        return false;
    return n % wl_ttype_block_elems(type) == 0;
}

int wl_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    if (!row_args_ok(type, src, dst, n))
        return WL_EINVAL;
    switch (type) {
    case WL_TTYPE_F32:
        memmove(dst, src, (size_t)n * sizeof(float));
        break;
    case WL_TTYPE_F16:
        wl_quantize_row_f16(src, dst, n);
        break;
    case WL_TTYPE_BF16:
        wl_quantize_row_bf16(src, dst, n);
        break;
    case WL_TTYPE_Q8_0:
        wl_quantize_row_q8_0(src, dst, n);
        break;
    case WL_TTYPE_Q4_0:
        wl_quantize_row_q4_0(src, dst, n);
        break;
    case WL_TTYPE_Q4_K:
        wl_quantize_row_q4_k(src, dst, n);
        break;
    case WL_TTYPE_Q6_K:
        wl_quantize_row_q6_k(src, dst, n);
        break;
    default:
        return WL_EINVAL;
    }
    return 0;
}

int wl_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    if (!row_args_ok(type, src, dst, n))
        return WL_EINVAL;
    switch (type) {
    case WL_TTYPE_F32:
        memmove(dst, src, (size_t)n * sizeof(float));
        break;
    case WL_TTYPE_F16:
        wl_dequantize_row_f16(src, dst, n);
        break;
    case WL_TTYPE_BF16:
        wl_dequantize_row_bf16(src, dst, n);
        break;
    case WL_TTYPE_Q8_0:
        wl_dequantize_row_q8_0(src, dst, n);
        break;
    case WL_TTYPE_Q4_0:
        wl_dequantize_row_q4_0(src, dst, n);
        break;
    case WL_TTYPE_Q4_K:
        wl_dequantize_row_q4_k(src, dst, n);
        break;
    case WL_TTYPE_Q6_K:
        wl_dequantize_row_q6_k(src, dst, n);
        break;
    default:
        return WL_EINVAL;
    }
    return 0;
}

/* Portable scalar dot products: the path for non-x86 builds and the
 * reference the SIMD paths are tested against. Integer sums are exact (per
 * 32-element block for Q8_0/Q4_0, per 256-element super-block for Q4_K/Q6_K);
 * float sums use a few independent partial sums. Loops
 * are written so that compilers can vectorize them (constant shifts, fixed
 * trip counts, independent lanes). Stateless.
 */
#include "engine/kernels/kernels_impl.h"

#include <math.h>

#include <string.h>

enum { LANES = 8, CHUNK = 256 };

/* sum w[i] * x[i] with LANES interleaved partial sums: independent lanes let
 * compilers use SIMD registers (NEON, SSE) without reassociating a sum. */
static float dot_lanes(const float *w, const float *x, int64_t n)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += w[i + l] * x[i + l];
    float s = 0.0f;
    for (; i < n; i++)
        s += w[i] * x[i];
    for (int l = 0; l < LANES; l++)
        s += acc[l];
    return s;
}

static void dot_f32(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    for (int j = 0; j < nx; j++)
        out[j] = dot_lanes(w, wl__row_at(x, xs, j), n);
}

/* F16/BF16: convert CHUNK weights at a time (once for all nx rows), then a
 * float dot product. */
static void dot_half(int64_t n, const uint16_t *wh, const void *x, size_t xs, int nx, float *out,
                     bool bf16)
{
    float buf[CHUNK];
    for (int j = 0; j < nx; j++)
        out[j] = 0.0f;
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        if (bf16)
            wl_dequantize_row_bf16(wh + i0, buf, m);
        else
            wl_dequantize_row_f16(wh + i0, buf, m);
        for (int j = 0; j < nx; j++)
            out[j] += dot_lanes(buf, (const float *)wl__row_at(x, xs, j) + i0, m);
    }
}

static void dot_f16(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    dot_half(n, w, x, xs, nx, out, false);
}

static void dot_bf16(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    dot_half(n, w, x, xs, nx, out, true);
}

static void dot_q8_0(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const struct wl_block_q8_0 *wb = w;
    int64_t nb = n / WL_QK8_0;
    for (int j = 0; j < nx; j++) {
        struct wl__xrow xr = wl__xrow_at(x, xs, j, n);
        float s = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            int32_t isum = 0;
            for (int i = 0; i < 32; i++)
                isum += (int32_t)wb[b].qs[i] * xr.qs[32 * b + i];
            s += wl_fp16_to_fp32(wb[b].d) * xr.d[b] * (float)isum;
        }
        out[j] = s;
    }
}

static void dot_q4_0(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const struct wl_block_q4_0 *wb = w;
    int64_t nb = n / WL_QK4_0;
    for (int j = 0; j < nx; j++) {
        struct wl__xrow xr = wl__xrow_at(x, xs, j, n);
        float s = 0.0f, off = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            const int8_t *q = xr.qs + 32 * b;
            int32_t isum = 0;
            for (int i = 0; i < 16; i++)
                isum += (wb[b].qs[i] & 15) * q[i] + (wb[b].qs[i] >> 4) * q[i + 16];
            float dw = wl_fp16_to_fp32(wb[b].d);
            s += dw * xr.d[b] * (float)isum;
            off += dw * xr.s[b];
        }
        out[j] = s - 8.0f * off;
    }
}

/* Per super-block, exact integers: isum = sum_k sc[k] * dot(q_k, x_k) and
 * imin = sum_k m[k] * (sum of x over sub-block k, from the per-16 sums);
 * then one float multiply each by d_w * d_x and dmin_w * d_x. */
static void dot_q4_k(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const struct wl_block_q4_k *wb = w;
    int64_t nb = n / WL_QK_K;
    for (int j = 0; j < nx; j++) {
        struct wl__krow xr = wl__krow_at(x, xs, j, n);
        float s = 0.0f, off = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            uint8_t sc[8], m[8];
            for (int k = 0; k < 8; k++)
                wl_q4_k_get_scale_min(wb[b].scales, k, &sc[k], &m[k]);
            int32_t isum = 0, imin = 0;
            for (int c = 0; c < 4; c++) { /* 64 elements: sub-blocks 2c (low), 2c+1 (high) */
                const uint8_t *q = wb[b].qs + 32 * c;
                const int8_t *x0 = xr.qs + 256 * b + 64 * c, *x1 = x0 + 32;
                int32_t i0 = 0, i1 = 0;
                for (int l = 0; l < 32; l++) {
                    i0 += (q[l] & 15) * x0[l];
                    i1 += (q[l] >> 4) * x1[l];
                }
                isum += sc[2 * c] * i0 + sc[2 * c + 1] * i1;
            }
            const int16_t *bs = xr.bsums + 16 * b;
            for (int k = 0; k < 8; k++)
                imin += m[k] * (bs[2 * k] + bs[2 * k + 1]);
            float dx = xr.d[b];
            s += wl_fp16_to_fp32(wb[b].d) * dx * (float)isum;
            off += wl_fp16_to_fp32(wb[b].dmin) * dx * (float)imin;
        }
        out[j] = s - off;
    }
}

/* Per super-block: isum = sum_k sc[k] * (dot(q_k, x_k) - 32 * bsum_k), exact,
 * then one float multiply by d_w * d_x. */
static void dot_q6_k(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const struct wl_block_q6_k *wb = w;
    int64_t nb = n / WL_QK_K;
    for (int j = 0; j < nx; j++) {
        struct wl__krow xr = wl__krow_at(x, xs, j, n);
        float s = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            int32_t isum = 0;
            for (int h = 0; h < 2; h++) { /* 128 elements: groups g = 0..3 of 32 */
                const uint8_t *ql = wb[b].ql + 64 * h, *qh = wb[b].qh + 32 * h;
                const int8_t *xq = xr.qs + 256 * b + 128 * h;
                for (int half = 0; half < 2; half++) { /* sub-blocks of 16 */
                    int32_t p0 = 0, p1 = 0, p2 = 0, p3 = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++) {
                        p0 += ((ql[l] & 15) | ((qh[l] & 3) << 4)) * xq[l];
                        p1 += ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) * xq[l + 32];
                        p2 += ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) * xq[l + 64];
                        p3 += ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) * xq[l + 96];
                    }
                    /* sub-block k = 8h + 2g + half holds elements 128h + 32g + 16half .. +15 */
                    const int8_t *sc = wb[b].scales + 8 * h + half;
                    const int16_t *bs = xr.bsums + 16 * b + 8 * h + half;
                    isum += sc[0] * (p0 - 32 * bs[0]) + sc[2] * (p1 - 32 * bs[2]) +
                            sc[4] * (p2 - 32 * bs[4]) + sc[6] * (p3 - 32 * bs[6]);
                }
            }
            s += wl_fp16_to_fp32(wb[b].d) * xr.d[b] * (float)isum;
        }
        out[j] = s;
    }
}

static void quant_q8a(const float *x, void *row, int64_t n)
{
    int8_t *qs = row;
    float *d = (float *)(void *)(qs + n), *s = d + n / 32;
    for (int64_t b = 0; b < n / 32; b++) {
        struct wl_block_q8a blk;
        wl_quantize_row_q8a(x + 32 * b, &blk, 32);
        for (int i = 0; i < 32; i++)
            qs[32 * b + i] = blk.qs[i];
        d[b] = blk.d;
        s[b] = blk.s;
    }
}

static void quant_q8k(const float *x, void *row, int64_t n)
{
    int8_t *qs = row;
    int16_t *bsums = (int16_t *)(void *)(qs + n);
    float *d = (float *)(void *)(bsums + n / 16);
    for (int64_t b = 0; b < n / WL_QK8K; b++) {
        struct wl_block_q8k blk;
        wl_quantize_row_q8k(x + WL_QK8K * b, &blk, WL_QK8K);
        memcpy(qs + WL_QK8K * b, blk.qs, WL_QK8K);
        memcpy(bsums + 16 * b, blk.bsums, sizeof blk.bsums);
        d[b] = blk.d;
    }
    wl__xk_fill_qp(row, n);
}

static void silu_mul(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        g[i] = x / (1.0f + expf(-x)) * u[i];
    }
}

static void gelu_mul(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        const float y2 = WL__GELU_2K * (WL__GELU_C * x * x * x + x);
        g[i] = x / (1.0f + expf(-y2)) * u[i];
    }
}

static float exp_sum(float *s, int64_t n, float mx)
{
    float sum = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    return sum;
}

static double sum_sq(const float *x, int64_t n)
{
    double acc[WL__SUMSQ_ACC] = {0};
    for (int64_t i = 0; i < n; i++)
        acc[i % WL__SUMSQ_ACC] += (double)x[i] * (double)x[i];
    return wl__sum_sq_combine(acc);
}

static void scale_mul(float *o, const float *x, float s, const float *w, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i] * s;
        o[i] = w ? v * w[i] : v;
    }
}

const struct wl__kernel_ops wl__kernel_ops_scalar = {
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot_q8_0 = dot_q8_0,
    .dot_q4_0 = dot_q4_0,
    .dot_q4_k = dot_q4_k,
    .dot_q6_k = dot_q6_k,
    .quant_q8a = quant_q8a,
    .quant_q8k = quant_q8k,
    .silu_mul = silu_mul,
    .gelu_mul = gelu_mul,
    .exp_sum = exp_sum,
    .sum_sq = sum_sq,
    .scale_mul = scale_mul,
};

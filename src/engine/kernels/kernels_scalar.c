/* Portable scalar dot products: the path for non-x86 builds and the
 * reference the SIMD paths are tested against. Integer sums per 32-element
 * block are exact; floats accumulate in block order. Stateless.
 */
#include "engine/kernels/kernels_impl.h"

static const void *row_at(const void *x, size_t stride, int j)
{
    return (const char *)x + (size_t)j * stride;
}

static void dot_f32(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const float *wf = w;
    for (int j = 0; j < nx; j++) {
        const float *xf = row_at(x, xs, j);
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++)
            s += wf[i] * xf[i];
        out[j] = s;
    }
}

static void dot_f16(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const uint16_t *wh = w;
    for (int j = 0; j < nx; j++) {
        const float *xf = row_at(x, xs, j);
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++)
            s += wl_fp16_to_fp32(wh[i]) * xf[i];
        out[j] = s;
    }
}

static void dot_bf16(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const uint16_t *wh = w;
    for (int j = 0; j < nx; j++) {
        const float *xf = row_at(x, xs, j);
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++)
            s += wl_bf16_to_fp32(wh[i]) * xf[i];
        out[j] = s;
    }
}

/* The quantized activation row j: int8 values, block scales, block sums. */
struct xrow {
    const int8_t *qs;
    const float *d, *s;
};

static struct xrow xrow_at(const void *x, size_t xs, int j, int64_t n)
{
    const void *row = row_at(x, xs, j);
    struct xrow r = {row, wl__xq_d(row, n), wl__xq_s(row, n)};
    return r;
}

static void dot_q8_0(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const struct wl_block_q8_0 *wb = w;
    int64_t nb = n / WL_QK8_0;
    for (int j = 0; j < nx; j++) {
        struct xrow xr = xrow_at(x, xs, j, n);
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
        struct xrow xr = xrow_at(x, xs, j, n);
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

static void dot_q4_k(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const struct wl_block_q4_k *wb = w;
    int64_t nb = n / WL_QK_K;
    for (int j = 0; j < nx; j++) {
        struct xrow xr = xrow_at(x, xs, j, n);
        float s = 0.0f, off = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            float d = wl_fp16_to_fp32(wb[b].d), dmin = wl_fp16_to_fp32(wb[b].dmin);
            for (int sub = 0; sub < 8; sub++) {
                uint8_t sc, m;
                wl_q4_k_get_scale_min(wb[b].scales, sub, &sc, &m);
                const uint8_t *q = wb[b].qs + 32 * (sub / 2);
                int64_t xb = 8 * b + sub;
                const int8_t *xq = xr.qs + 32 * xb;
                int shift = (sub & 1) ? 4 : 0;
                int32_t isum = 0;
                for (int i = 0; i < 32; i++)
                    isum += ((q[i] >> shift) & 15) * xq[i];
                s += d * (float)sc * xr.d[xb] * (float)isum;
                off += dmin * (float)m * xr.s[xb];
            }
        }
        out[j] = s - off;
    }
}

static void dot_q6_k(int64_t n, const void *w, const void *x, size_t xs, int nx, float *out)
{
    const struct wl_block_q6_k *wb = w;
    int64_t nb = n / WL_QK_K;
    for (int j = 0; j < nx; j++) {
        struct xrow xr = xrow_at(x, xs, j, n);
        float s = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            float d = wl_fp16_to_fp32(wb[b].d);
            for (int g = 0; g < 8; g++) { /* 32 elements: one Q8A block, two scales */
                int h = g / 4, gg = g % 4;
                const uint8_t *ql = wb[b].ql + 64 * h + 32 * (gg & 1);
                const uint8_t *qh = wb[b].qh + 32 * h;
                int lshift = (gg >= 2) ? 4 : 0, hshift = 2 * gg;
                int64_t xb = 8 * b + g;
                const int8_t *xq = xr.qs + 32 * xb;
                int32_t part[2] = {0, 0};
                for (int l = 0; l < 32; l++) {
                    int q = (((ql[l] >> lshift) & 15) | (((qh[l] >> hshift) & 3) << 4)) - 32;
                    part[l / 16] += q * xq[l];
                }
                int32_t isum = wb[b].scales[2 * g] * part[0] + wb[b].scales[2 * g + 1] * part[1];
                s += d * xr.d[xb] * (float)isum;
            }
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

const struct wl__kernel_ops wl__kernel_ops_scalar = {
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot_q8_0 = dot_q8_0,
    .dot_q4_0 = dot_q4_0,
    .dot_q4_k = dot_q4_k,
    .dot_q6_k = dot_q6_k,
    .quant_q8a = quant_q8a,
};

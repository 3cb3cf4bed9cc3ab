/* The engine's only call sites into the kernels and the thread pool:
 * wl__matmul, wl__parallel and the embedding row lookup. Keeping them here
 * means the forward pass does not care which kernel or pool runs it.
 *
 * Interim implementation until engine/kernels and engine/threadpool land:
 * serial, weights dequantized a row at a time into the context's scratch
 * and multiplied in F32 (correct for every supported type, not fast).
 */
#include "engine/forward.h"

#include "engine/quant.h"

#include <string.h>

int wl__pool_create(struct wl_context *ctx, struct wl_errmsg *err)
{
    (void)err;
    ctx->pool = NULL;
    return 0;
}

void wl__pool_free(struct wl_context *ctx)
{
    ctx->pool = NULL;
}

void wl__parallel(struct wl_context *ctx, wl_parallel_fn fn, void *arg)
{
    (void)ctx;
    fn(arg, 0, 1);
}

size_t wl__matmul_work_bytes(int32_t n_threads, int32_t n_tok, int64_t max_in)
{
    (void)n_tok;
    return (size_t)(n_threads > 0 ? n_threads : 1) * (size_t)max_in * sizeof(float);
}

void wl__matmul(struct wl_context *ctx, const struct wl_weight *w, const float *x, int32_t n_tok,
                float *y)
{
    float *row = ctx->rs.work;
    for (int64_t r = 0; r < w->n_out; r++) {
        const void *src = (const char *)w->data + (size_t)r * w->row_bytes;
        const float *wr = src;
        if (w->type != WL_TTYPE_F32) {
            wl_dequantize_row(w->type, src, row, w->n_in);
            wr = row;
        }
        for (int32_t t = 0; t < n_tok; t++) {
            const float *xt = x + (size_t)t * (size_t)w->n_in;
            float s = 0.0f;
            for (int64_t i = 0; i < w->n_in; i++)
                s += wr[i] * xt[i];
            y[(size_t)t * (size_t)w->n_out + (size_t)r] = s;
        }
    }
}

void wl__weight_row_f32(const struct wl_weight *w, int64_t row, float *out)
{
    const void *src = (const char *)w->data + (size_t)row * w->row_bytes;
    if (w->type == WL_TTYPE_F32)
        memcpy(out, src, (size_t)w->n_in * sizeof(float));
    else
        wl_dequantize_row(w->type, src, out, w->n_in);
}

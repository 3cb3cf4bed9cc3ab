/* The engine's only call sites into the kernels and the thread pool:
 * wl__matmul, wl__parallel and the embedding row lookup, plus the pool's
 * lifetime. Keeping them here means the forward pass does not care which
 * kernel path or pool runs it.
 */
#include "engine/forward.h"

#include "engine/quant.h"
#include "engine/threadpool.h"
#include "wattlens/error.h"

#include <math.h>
#include <string.h>

int wl__pool_create(struct wl_context *ctx, struct wl_errmsg *err)
{
    int rc = wl_kernels_init(&ctx->kern, WL_KPATH_AUTO);
    if (rc != 0)
        return wl_errmsg_set(err, rc, "no kernel path for this CPU");
    ctx->pool = NULL;
    if (ctx->n_threads <= 1)
        return 0;
    rc = wl_threadpool_create(ctx->n_threads, &ctx->pool);
    if (rc != 0)
        return wl_errmsg_set(err, rc, "cannot start %d threads", ctx->n_threads);
    return 0;
}

void wl__pool_free(struct wl_context *ctx)
{
    wl_threadpool_destroy(ctx->pool);
    ctx->pool = NULL;
}

/* About 20 us of scalar work: more than a pool round trip costs when the
 * workers are spinning, less than an unlucky wake-up. */
#define PARALLEL_MIN_WORK ((int64_t)1 << 16)

/* Matrix products below this many multiply-adds (a 512 x 512 matrix) run on
 * the caller: the split would cost more than the product (tiny models). */
#define PARALLEL_MIN_MATMUL ((int64_t)1 << 18)

void wl__parallel(struct wl_context *ctx, wl_parallel_fn fn, void *arg, int64_t work)
{
    if (work < PARALLEL_MIN_WORK || !ctx->pool)
        fn(arg, 0, 1);
    else
        wl_threadpool_run(ctx->pool, fn, arg);
}

static size_t scratch_for(const struct wl_weight *w, int32_t n_tok)
{
    return w->data ? wl_kernel_scratch_bytes(w->type, w->n_in, n_tok) : 0;
}

size_t wl__matmul_work_bytes(const wl_model *m, int32_t n_tok)
{
    /* the output projection runs over at most one row per sequence, fewer than n_tok */
    size_t mx = scratch_for(&m->weights.output, n_tok);
    for (int32_t il = 0; il < m->config.n_layer; il++) {
        const struct wl_layer_weights *l = &m->weights.layers[il];
        const struct wl_weight *ws[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up,
                                        &l->w_down, &l->wqkv, &l->w_gate_up};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            size_t b = scratch_for(ws[i], n_tok);
            mx = b > mx ? b : mx;
        }
    }
    return mx;
}

/* A product the kernels refused. Weights were checked at load exactly as
 * the kernels check them, and the scratch sized for the largest matrix at
 * context creation, so this is an engine bug; but it must not pass
 * silently: y would keep stale values that look like results (a whole
 * model's worth of skipped products once printed plausible garbage and a
 * tenfold speed). So y becomes NaN and the context remembers the failure,
 * which wl__forward returns after the batch. */
static void matmul_failed(struct wl_context *ctx, const struct wl_weight *w, int rc, int32_t n_tok,
                          float *y)
{
    const size_t n = (size_t)n_tok * (size_t)w->n_out;
    for (size_t i = 0; i < n; i++)
        y[i] = NAN;
    if (ctx->kernel_rc == 0) {
        ctx->kernel_rc = rc;
        ctx->kernel_weight = w->name;
    }
}

int wl__kernel_status(const struct wl_context *ctx, struct wl_errmsg *err)
{
    if (ctx->kernel_rc == 0)
        return 0;
    return wl_errmsg_set(err, ctx->kernel_rc,
                         "the matrix kernels refused weight '%s' (%s): this context's results "
                         "would be wrong, so it evaluates nothing more (an engine bug; please "
                         "report it)",
                         ctx->kernel_weight ? ctx->kernel_weight : "?",
                         wl_strerror(ctx->kernel_rc));
}

void wl__matmul(struct wl_context *ctx, const struct wl_weight *w, const float *x, int32_t n_tok,
                float *y)
{
    const struct wl_kernel_weight kw = {.type = w->type,
                                        .data = w->data,
                                        .rows = w->n_out,
                                        .cols = w->n_in,
                                        .row_bytes = w->row_bytes};
    const int64_t work = w->n_out * w->n_in * (int64_t)n_tok;
    int rc = wl_kernel_matmul(&ctx->kern, &kw, x, n_tok, y, ctx->rs.work, ctx->rs.work_bytes, 0,
                              work < PARALLEL_MIN_MATMUL ? NULL : ctx->pool);
    if (rc != 0)
        matmul_failed(ctx, w, rc, n_tok, y);
}

void wl__matmul_multi(struct wl_context *ctx, const struct wl_weight *const *ws, int n_w,
                      const float *x, int32_t n_tok, float *const *ys)
{
    struct wl_kernel_weight kw[WL_KERNEL_MAX_MULTI];
    bool same = n_w >= 1 && n_w <= WL_KERNEL_MAX_MULTI;
    int64_t work = 0;
    for (int i = 0; same && i < n_w; i++) {
        same = wl_kernel_x_compatible(ws[i]->type, ws[0]->type) && ws[i]->n_in == ws[0]->n_in;
        kw[i] = (struct wl_kernel_weight){.type = ws[i]->type, .data = ws[i]->data,
                                          .rows = ws[i]->n_out, .cols = ws[i]->n_in,
                                          .row_bytes = ws[i]->row_bytes};
        work += ws[i]->n_out * ws[i]->n_in * (int64_t)n_tok;
    }
    /* The group fails only as wl__matmul can (the scratch fits the largest
     * matrix, and the x quantization depends only on the type and row
     * length); then each product runs on its own, so a refusal is recorded
     * under the weight refused, not the group's first. */
    const int rc = same ? wl_kernel_matmul_multi(&ctx->kern, kw, n_w, x, n_tok, ys, ctx->rs.work,
                                                 ctx->rs.work_bytes, 0,
                                                 work < PARALLEL_MIN_MATMUL ? NULL : ctx->pool)
                        : 0;
    if (!same || rc != 0)
        for (int i = 0; i < n_w; i++)
            wl__matmul(ctx, ws[i], x, n_tok, ys[i]);
}

void wl__weight_row_f32(const struct wl_weight *w, int64_t row, float *out)
{
    const void *src = (const char *)w->data + (size_t)row * w->row_bytes;
    if (w->type == WL_TTYPE_F32)
        memcpy(out, src, (size_t)w->n_in * sizeof(float));
    else
        wl_dequantize_row(w->type, src, out, w->n_in);
}

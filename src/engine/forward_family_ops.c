/* Building blocks only some families use (issue 8): LayerNorm with bias
 * (stablelm), fused QKV and gate/up projections (phi3). (GeGLU, gemma's
 * activation, shares SwiGLU's code in forward_ops.c.) Same rules as forward_ops.c: each block emits
 * its component boundary and, at depth OP, its ops; multi-op components run their stages fused
 * without a deep hook and as separate regions with one, with the same per-element arithmetic, so
 * results do not depend on the depth. Stateless; runs on the caller's thread plus the context's
 * pool.
 */
#include "engine/forward.h"

#include <math.h>
#include <string.h>

static void emit(struct wl_context *ctx, enum wl_hook_kind kind, int32_t il, enum wl_component comp,
                 enum wl_op op, bool begin, const struct wl_hook_tensor *in,
                 const struct wl_hook_tensor *out)
{
    struct wl_hook_event ev = {.kind = kind,
                               .begin = begin,
                               .layer = il,
                               .component = comp,
                               .op = op,
                               .in = in,
                               .out = out};
    wl__hook_emit(ctx, &ev);
}

static struct wl_hook_tensor view(const float *data, int32_t rows, int32_t cols)
{
    struct wl_hook_tensor t = {
        .data = data, .n_rows = rows, .n_cols = cols, .row_stride = (size_t)cols};
    return t;
}

static void split_range(int64_t n, int ith, int nth, int64_t *begin, int64_t *end)
{
    int64_t per = n / nth, rem = n % nth;
    *begin = ith * per + (ith < rem ? ith : rem);
    *end = *begin + per + (ith < rem ? 1 : 0);
}

/* ---- LayerNorm (mean, variance, normalise, scale + bias) ------------------ */

enum { LN_MEAN = 1, LN_VARIANCE = 2, LN_NORMALISE = 4, LN_SCALE = 8 };

struct ln_task {
    const float *in, *w, *b;
    float *out;
    float *stat; /* (2 * n_tok): mean, then 1/sqrt(var + eps), per row */
    int32_t n_tok, dim;
    float eps;
    unsigned stages;
};

static void ln_rows(void *arg, int ith, int nth)
{
    const struct ln_task *t = arg;
    int64_t r0, r1;
    split_range(t->n_tok, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *x = t->in + r * t->dim;
        float *o = t->out + r * t->dim;
        float *mean = &t->stat[2 * r], *inv = &t->stat[2 * r + 1];
        if (t->stages & LN_MEAN) {
            double s = 0.0;
            for (int32_t i = 0; i < t->dim; i++)
                s += (double)x[i];
            *mean = (float)(s / t->dim);
        }
        if (t->stages & LN_VARIANCE) {
            double ss = 0.0;
            for (int32_t i = 0; i < t->dim; i++) {
                const double d = (double)x[i] - (double)*mean;
                ss += d * d;
            }
            *inv = (float)(1.0 / sqrt(ss / t->dim + (double)t->eps));
        }
        if (t->stages & LN_NORMALISE) {
            const float m = *mean, s = *inv;
            for (int32_t i = 0; i < t->dim; i++)
                o[i] = (x[i] - m) * s;
        }
        if (t->stages & LN_SCALE) {
            for (int32_t i = 0; i < t->dim; i++)
                o[i] = o[i] * t->w[i] + (t->b ? t->b[i] : 0.0f);
        }
    }
}

void wl__fwd_norm(struct wl_context *ctx, int32_t il, enum wl_component comp, const float *in,
                  const float *w, const float *b, float *out)
{
    const struct wl_model_config *c = &ctx->model->config;
    if (!c->layer_norm) {
        wl__fwd_rmsnorm(ctx, il, comp, in, w, out);
        return;
    }
    const int32_t n = ctx->batch.n_tok;
    /* the mean and the inverse deviation of each row: 2 floats per row; the
     * attention output buffer is free while a norm runs (it is written by
     * attention and read by the O projection, both after this block) */
    struct ln_task t = {.in = in,
                        .w = w,
                        .b = b,
                        .out = out,
                        .stat = ctx->rs.att,
                        .n_tok = n,
                        .dim = c->dim,
                        .eps = c->norm_eps};
    struct wl_hook_tensor tin = view(in, n, c->dim), tout = view(out, n, c->dim);
    const bool act = ctx->hooks.activations;
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        emit(ctx, WL_HOOK_COMPONENT, il, comp, WL_OP_COUNT, true, NULL, NULL);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_OP)) {
        static const enum wl_op ops[4] = {WL_OP_NORM_MEAN, WL_OP_NORM_VARIANCE,
                                          WL_OP_NORM_NORMALISE, WL_OP_NORM_SCALE};
        for (int s = 0; s < 4; s++) {
            emit(ctx, WL_HOOK_OP, il, comp, ops[s], true, NULL, NULL);
            t.stages = 1u << s;
            wl__parallel(ctx, ln_rows, &t, (int64_t)n * c->dim);
            emit(ctx, WL_HOOK_OP, il, comp, ops[s], false, act && s > 1 ? &tin : NULL,
                 act && s > 1 ? &tout : NULL);
        }
    } else {
        t.stages = LN_MEAN | LN_VARIANCE | LN_NORMALISE | LN_SCALE;
        wl__parallel(ctx, ln_rows, &t, (int64_t)n * c->dim);
    }
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        emit(ctx, WL_HOOK_COMPONENT, il, comp, WL_OP_COUNT, false, act ? &tin : NULL,
             act ? &tout : NULL);
}

/* ---- fused projections (phi3) ---------------------------------------------- */

/* Copies columns [c0, c0 + width) of the (n, fused_w) rows of src into the
 * (n, width) rows of dst, adding bias when given. */
static void split_cols(const float *src, int64_t fused_w, int64_t c0, int64_t width, int32_t n,
                       const float *bias, float *dst)
{
    for (int32_t t = 0; t < n; t++) {
        const float *s = src + (size_t)t * (size_t)fused_w + c0;
        float *d = dst + (size_t)t * (size_t)width;
        memcpy(d, s, (size_t)width * sizeof(float));
        if (bias)
            for (int64_t i = 0; i < width; i++)
                d[i] += bias[i];
    }
}

void wl__fwd_qkv_fused(struct wl_context *ctx, int32_t il, const float *in)
{
    const struct wl_model_config *c = &ctx->model->config;
    const struct wl_layer_weights *l = &ctx->model->weights.layers[il];
    const int32_t n = ctx->batch.n_tok;
    const int64_t q_dim = (int64_t)c->n_head * c->head_dim;
    const int64_t kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    const int64_t fw = l->wqkv.n_out;
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        emit(ctx, WL_HOOK_COMPONENT, il, WL_COMP_QKV, WL_OP_COUNT, true, NULL, NULL);
    wl__matmul(ctx, &l->wqkv, in, n, ctx->rs.fused);
    split_cols(ctx->rs.fused, fw, 0, q_dim, n, l->bq, ctx->rs.q);
    split_cols(ctx->rs.fused, fw, q_dim, kv_dim, n, l->bk, ctx->rs.k);
    split_cols(ctx->rs.fused, fw, q_dim + kv_dim, kv_dim, n, l->bv, ctx->rs.v);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT)) {
        struct wl_hook_tensor tin = view(in, n, c->dim), tout = view(ctx->rs.fused, n, (int32_t)fw);
        const bool act = ctx->hooks.activations;
        emit(ctx, WL_HOOK_COMPONENT, il, WL_COMP_QKV, WL_OP_COUNT, false, act ? &tin : NULL,
             act ? &tout : NULL);
    }
}

void wl__fwd_gate_up_fused(struct wl_context *ctx, int32_t il, const float *in)
{
    const struct wl_model_config *c = &ctx->model->config;
    const struct wl_layer_weights *l = &ctx->model->weights.layers[il];
    const int32_t n = ctx->batch.n_tok;
    const int64_t fw = l->w_gate_up.n_out;
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        emit(ctx, WL_HOOK_COMPONENT, il, WL_COMP_GATE_UP, WL_OP_COUNT, true, NULL, NULL);
    wl__matmul(ctx, &l->w_gate_up, in, n, ctx->rs.fused);
    split_cols(ctx->rs.fused, fw, 0, c->ffn_dim, n, NULL, ctx->rs.hb);
    split_cols(ctx->rs.fused, fw, c->ffn_dim, c->ffn_dim, n, NULL, ctx->rs.hb2);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT)) {
        struct wl_hook_tensor tin = view(in, n, c->dim), tout = view(ctx->rs.fused, n, (int32_t)fw);
        const bool act = ctx->hooks.activations;
        emit(ctx, WL_HOOK_COMPONENT, il, WL_COMP_GATE_UP, WL_OP_COUNT, false, act ? &tin : NULL,
             act ? &tout : NULL);
    }
}

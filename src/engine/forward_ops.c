/* Building blocks of a transformer layer (norms, projections, RoPE,
 * attention, gated activations) shared by every family; see forward.h.
 *
 * Each block emits its own component boundary and, at depth OP, its op
 * boundaries. Where a component has several ops (norms, attention) the work
 * is written as stages over the same per-row code: with no hook at depth OP
 * the stages run fused in one parallel region; at depth OP each stage is its
 * own region so each op can be timed. The arithmetic per element is the same
 * either way, so results do not depend on the profiling depth.
 */
#include "engine/forward.h"

#include <math.h>
#include <string.h>

/* ---- hook helpers ---------------------------------------------------------- */

static void comp_event(struct wl_context *ctx, int32_t il, enum wl_component comp, bool begin,
                       const struct wl_hook_tensor *in, const struct wl_hook_tensor *out)
{
    struct wl_hook_event ev = {
        .kind = WL_HOOK_COMPONENT,
        .begin = begin,
        .layer = il,
        .component = comp,
        .in = in,
        .out = out,
    };
    wl__hook_emit(ctx, &ev);
}

static void op_event(struct wl_context *ctx, int32_t il, enum wl_component comp, enum wl_op op,
                     bool begin, const struct wl_hook_tensor *in, const struct wl_hook_tensor *out,
                     const struct wl_hook_attention *att)
{
    struct wl_hook_event ev = {
        .kind = WL_HOOK_OP,
        .begin = begin,
        .layer = il,
        .component = comp,
        .op = op,
        .in = in,
        .out = out,
        .attention = att,
    };
    wl__hook_emit(ctx, &ev);
}

static struct wl_hook_tensor view(const float *data, int32_t rows, int32_t cols)
{
    struct wl_hook_tensor t = {.data = data, .n_rows = rows, .n_cols = cols, .row_stride = (size_t)cols};
    return t;
}

static bool want_act(const struct wl_context *ctx)
{
    return ctx->hooks.activations;
}

/* Splits n items into nth near-equal contiguous ranges. */
static void split_range(int64_t n, int ith, int nth, int64_t *begin, int64_t *end)
{
    int64_t per = n / nth, rem = n % nth;
    *begin = ith * per + (ith < rem ? ith : rem);
    *end = *begin + per + (ith < rem ? 1 : 0);
}

/* ---- RMSNorm ------------------------------------------------------------- */

enum norm_stage { NORM_VARIANCE = 1, NORM_NORMALISE = 2, NORM_SCALE = 4 };

struct norm_task {
    const struct wl_kernels *kern;
    const float *in;
    const float *w;
    float *out;
    float *stat; /* (n_tok): 1/sqrt(mean(x^2) + eps) */
    int32_t n_tok;
    int32_t dim;
    float eps;
    unsigned stages;
};

/* The sum of squares is in double from 8 interleaved accumulators
 * (wl_kernel_sum_sq): one chain of dependent adds would cost an add latency
 * per element. Normalise and scale fuse into one pass when both run; it
 * rounds twice, as the two separate passes of depth OP do. */
static void norm_rows(void *arg, int ith, int nth)
{
    const struct norm_task *t = arg;
    int64_t r0, r1;
    split_range(t->n_tok, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *x = t->in + r * t->dim;
        float *o = t->out + r * t->dim;
        if (t->stages & NORM_VARIANCE)
            t->stat[r] = (float)(1.0 / sqrt(wl_kernel_sum_sq(t->kern, x, t->dim) / t->dim +
                                            (double)t->eps));
        if (t->stages & NORM_NORMALISE)
            wl_kernel_scale_mul(t->kern, o, x, t->stat[r], t->stages & NORM_SCALE ? t->w : NULL,
                                t->dim);
        else if (t->stages & NORM_SCALE)
            wl_kernel_scale_mul(t->kern, o, o, 1.0f, t->w, t->dim);
    }
}

void wl__fwd_rmsnorm(struct wl_context *ctx, int32_t il, enum wl_component comp,
                     const float *in, const float *w, float *out)
{
    const struct wl_model_config *c = &ctx->model->config;
    const int32_t n = ctx->batch.n_tok;
    struct norm_task t = {.kern = &ctx->kern, .in = in, .w = w, .out = out,
                          .stat = ctx->rs.norm_tmp, .n_tok = n,
                          .dim = c->dim, .eps = c->norm_eps};
    struct wl_hook_tensor tin = view(in, n, c->dim), tout = view(out, n, c->dim);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        comp_event(ctx, il, comp, true, NULL, NULL);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_OP)) {
        static const enum wl_op ops[3] = {WL_OP_NORM_VARIANCE, WL_OP_NORM_NORMALISE, WL_OP_NORM_SCALE};
        for (int s = 0; s < 3; s++) {
            op_event(ctx, il, comp, ops[s], true, NULL, NULL, NULL);
            t.stages = 1u << s;
            wl__parallel(ctx, norm_rows, &t, (int64_t)n * c->dim);
            op_event(ctx, il, comp, ops[s], false, want_act(ctx) && s > 0 ? &tin : NULL,
                     want_act(ctx) && s > 0 ? &tout : NULL, NULL);
        }
    } else {
        t.stages = NORM_VARIANCE | NORM_NORMALISE | NORM_SCALE;
        wl__parallel(ctx, norm_rows, &t, (int64_t)n * c->dim);
    }
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        comp_event(ctx, il, comp, false, want_act(ctx) ? &tin : NULL, want_act(ctx) ? &tout : NULL);
}

/* ---- projections ------------------------------------------------------------- */

void wl__fwd_add_bias(float *out, const float *bias, int32_t n_tok, int64_t width)
{
    if (!bias)
        return;
    for (int32_t t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < width; i++)
            out[t * width + i] += bias[i];
}

void wl__fwd_linear(struct wl_context *ctx, int32_t il, enum wl_component comp, enum wl_op op,
                    const struct wl_weight *w, const float *bias, const float *in, float *out)
{
    const int32_t n = ctx->batch.n_tok;
    const bool deep = op != WL_OP_COUNT && WL_HOOK_ON(ctx, WL_HOOK_DEPTH_OP);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        comp_event(ctx, il, comp, true, NULL, NULL);
    if (deep)
        op_event(ctx, il, comp, op, true, NULL, NULL, NULL);
    wl__matmul(ctx, w, in, n, out);
    wl__fwd_add_bias(out, bias, n, w->n_out);
    if (deep || WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT)) {
        struct wl_hook_tensor tin = view(in, n, (int32_t)w->n_in);
        struct wl_hook_tensor tout = view(out, n, (int32_t)w->n_out);
        const struct wl_hook_tensor *pi = want_act(ctx) ? &tin : NULL;
        const struct wl_hook_tensor *po = want_act(ctx) ? &tout : NULL;
        if (deep)
            op_event(ctx, il, comp, op, false, pi, po, NULL);
        comp_event(ctx, il, comp, false, pi, po);
    }
}

void wl__fwd_linear_multi(struct wl_context *ctx, int32_t il, const struct wl__fwd_proj *p, int n,
                          const float *in)
{
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT) || n > WL_KERNEL_MAX_MULTI) {
        for (int i = 0; i < n; i++)
            wl__fwd_linear(ctx, il, p[i].comp, p[i].op, p[i].w, p[i].bias, in, p[i].out);
        return;
    }
    const int32_t nt = ctx->batch.n_tok;
    const struct wl_weight *ws[WL_KERNEL_MAX_MULTI] = {0};
    float *ys[WL_KERNEL_MAX_MULTI] = {0};
    for (int i = 0; i < n; i++) {
        ws[i] = p[i].w;
        ys[i] = p[i].out;
    }
    wl__matmul_multi(ctx, ws, n, in, nt, ys);
    for (int i = 0; i < n; i++)
        wl__fwd_add_bias(p[i].out, p[i].bias, nt, p[i].w->n_out);
}

void wl__fwd_qkv(struct wl_context *ctx, int32_t il, const float *xn)
{
    const struct wl_layer_weights *l = &ctx->model->weights.layers[il];
    struct wl_run_state *rs = &ctx->rs;
    if (l->wqkv.data) {
        wl__fwd_qkv_fused(ctx, il, xn);
        return;
    }
    const struct wl__fwd_proj p[3] = {
        {WL_COMP_Q, WL_OP_COUNT, &l->wq, l->bq, rs->q},
        {WL_COMP_K, WL_OP_COUNT, &l->wk, l->bk, rs->k},
        {WL_COMP_V, WL_OP_COUNT, &l->wv, l->bv, rs->v},
    };
    wl__fwd_linear_multi(ctx, il, p, 3, xn);
}

void wl__fwd_gate_up(struct wl_context *ctx, int32_t il, const float *xn)
{
    const struct wl_layer_weights *l = &ctx->model->weights.layers[il];
    struct wl_run_state *rs = &ctx->rs;
    if (l->w_gate_up.data) {
        wl__fwd_gate_up_fused(ctx, il, xn);
        return;
    }
    const struct wl__fwd_proj p[2] = {
        {WL_COMP_GATE, WL_OP_GATE, &l->w_gate, l->b_gate, rs->hb},
        {WL_COMP_UP, WL_OP_UP, &l->w_up, l->b_up, rs->hb2},
    };
    wl__fwd_linear_multi(ctx, il, p, 2, xn);
}

/* ---- RoPE ------------------------------------------------------------------- */

struct rope_task {
    struct wl_context *ctx;
};

static void rope_vec(float *v, const float *cs, const float *sn, int32_t rope_dim, bool neox)
{
    const int32_t half = rope_dim / 2;
    for (int32_t i = 0; i < half; i++) {
        const int32_t a = neox ? i : 2 * i;
        const int32_t b = neox ? i + half : 2 * i + 1;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * cs[i] - x1 * sn[i];
        v[b] = x0 * sn[i] + x1 * cs[i];
    }
}

static void rope_rows(void *arg, int ith, int nth)
{
    struct wl_context *ctx = ((struct rope_task *)arg)->ctx;
    const struct wl_model_config *c = &ctx->model->config;
    const int32_t hd = c->head_dim, half = c->rope_dim / 2;
    const int32_t heads = c->n_head + c->n_head_kv;
    int64_t r0, r1;
    split_range((int64_t)ctx->batch.n_tok * heads, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const int32_t t = (int32_t)(r / heads), h = (int32_t)(r % heads);
        float *v = h < c->n_head ? ctx->rs.q + ((size_t)t * c->n_head + h) * hd
                                 : ctx->rs.k + ((size_t)t * c->n_head_kv + (h - c->n_head)) * hd;
        rope_vec(v, ctx->rs.rope_cos + (size_t)t * half, ctx->rs.rope_sin + (size_t)t * half,
                 c->rope_dim, c->rope_neox);
    }
}

void wl__fwd_rope(struct wl_context *ctx, int32_t il)
{
    const struct wl_model_config *c = &ctx->model->config;
    struct rope_task t = {.ctx = ctx};
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        comp_event(ctx, il, WL_COMP_ROPE, true, NULL, NULL);
    wl__parallel(ctx, rope_rows, &t,
                 (int64_t)ctx->batch.n_tok * (c->n_head + c->n_head_kv) * c->rope_dim);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT)) {
        struct wl_hook_tensor tq = view(ctx->rs.q, ctx->batch.n_tok, c->n_head * c->head_dim);
        comp_event(ctx, il, WL_COMP_ROPE, false, NULL, want_act(ctx) ? &tq : NULL);
    }
}

/* ---- attention ------------------------------------------------------------ */

enum att_stage { ATT_QK = 1, ATT_SCALE_MASK = 2, ATT_SOFTCAP = 4, ATT_SOFTMAX = 8, ATT_AV = 16 };

struct att_task {
    struct wl_context *ctx;
    int32_t il;
    int32_t window; /* positions a token sees (itself included); 0 = all */
    int32_t parts;  /* pieces each GQA group is split into (more work items than threads) */
    unsigned stages;
};

/* Scale, soft-cap and softmax of one score row s[0..n_kv) (the visible
 * positions); row[0..j0) are the positions before a sliding window. */
static void att_row_post(const struct att_task *a, float scale, float cap, float *row, int32_t j0,
                         int32_t n_kv)
{
    float *s = row + j0;
    if (a->stages & ATT_SCALE_MASK) {
        for (int32_t j = 0; j < n_kv; j++)
            s[j] *= scale;
    }
    if ((a->stages & ATT_SOFTCAP) && cap > 0.0f) {
        for (int32_t j = 0; j < n_kv; j++)
            s[j] = cap * tanhf(s[j] / cap);
    }
    if (a->stages & ATT_SOFTMAX) {
        float mx = s[0];
        for (int32_t j = 1; j < n_kv; j++)
            mx = s[j] > mx ? s[j] : mx;
        const float inv = 1.0f / wl_kernel_exp_sum(&a->ctx->kern, s, n_kv, mx);
        for (int32_t j = 0; j < n_kv; j++)
            s[j] *= inv;
        for (int32_t j = 0; j < j0; j++)
            row[j] = 0.0f;
    }
}

/* A work item is (token, KV head, part of its group): the query heads of a
 * GQA group read the same K and V rows, so the grouped cache loops convert
 * each row once for all of them. Every head keeps its own order of every
 * sum, so results equal a per-head loop bit for bit. */
static void att_rows(void *arg, int ith, int nth)
{
    const struct att_task *a = arg;
    struct wl_context *ctx = a->ctx;
    const struct wl_model_config *c = &ctx->model->config;
    const int32_t hd = c->head_dim, nh = c->n_head, nkv = c->n_head_kv, group = nh / nkv;
    const float scale = c->attn_scale > 0.0f ? c->attn_scale : 1.0f / sqrtf((float)hd);
    const float cap = c->attn_softcap;
    const size_t T = (size_t)ctx->n_ctx;
    float *scratch = ctx->rs.att_scratch + (size_t)ith * wl_kv_cache_group_scratch_floats(hd);
    const int64_t per_tok = (int64_t)nkv * a->parts;
    int64_t r0, r1;
    split_range((int64_t)ctx->batch.n_tok * per_tok, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const int32_t t = (int32_t)(r / per_tok), kvh = (int32_t)(r % per_tok / a->parts);
        int64_t g0, g1;
        split_range(group, (int)(r % a->parts), a->parts, &g0, &g1);
        const int32_t h0 = kvh * group + (int32_t)g0, n_q = (int32_t)(g1 - g0);
        if (n_q == 0)
            continue;
        /* causal: token t sees positions j0..pos of its sequence; later ones
         * are never computed, which is the mask. A sliding-window layer
         * starts at pos - window + 1; the probabilities before j0 are 0. */
        const int32_t n_all = ctx->rs.tok_pos[t] + 1;
        const int32_t j0 = a->window > 0 && n_all > a->window ? n_all - a->window : 0;
        const int32_t n_kv = n_all - j0;
        const int32_t cell0 = ctx->rs.tok_seq[t] * ctx->n_ctx + j0;
        const size_t head0 = (size_t)t * nh + h0; /* row of head h0 of token t */
        float *rows = ctx->rs.scores + head0 * T;
        if (a->stages & ATT_QK)
            wl_kv_cache_dot_group(&ctx->kv, a->il, kvh, cell0, n_kv, ctx->rs.q + head0 * hd,
                                  (size_t)hd, n_q, rows + j0, T, scratch);
        if (a->stages & (ATT_SCALE_MASK | ATT_SOFTCAP | ATT_SOFTMAX)) {
            for (int32_t g = 0; g < n_q; g++)
                att_row_post(a, scale, cap, rows + (size_t)g * T, j0, n_kv);
        }
        if (a->stages & ATT_AV)
            wl_kv_cache_accum_group(&ctx->kv, a->il, kvh, cell0, n_kv, rows + j0, T, n_q,
                                    ctx->rs.att + head0 * hd, (size_t)hd, scratch);
    }
}

void wl__fwd_attention(struct wl_context *ctx, int32_t il)
{
    const struct wl_model_config *c = &ctx->model->config;
    const int32_t n = ctx->batch.n_tok;
    const bool sliding = c->sliding_window > 0 && (c->swa_period <= 0 || il % c->swa_period == 0);
    struct att_task a = {.ctx = ctx, .il = il, .window = sliding ? c->sliding_window : 0,
                         .parts = 1};
    /* decode has few (token, KV head) items: split groups until every
     * thread has one (MQA with one KV head would otherwise run on one) */
    const int64_t items = (int64_t)n * c->n_head_kv;
    if (items < ctx->n_threads) {
        const int64_t want = (ctx->n_threads + items - 1) / items, group = c->n_head / c->n_head_kv;
        a.parts = (int32_t)(want < group ? want : group);
    }
    /* q.k and p.v over the visible positions of every (token, head) */
    const int64_t att_work = (int64_t)n * c->n_head * (ctx->rs.tok_pos[n - 1] + 1) * c->head_dim * 2;
    struct wl_hook_attention hatt = {.probs = ctx->rs.scores,
                                     .n_tok = n,
                                     .n_head = c->n_head,
                                     .pos0 = ctx->batch.pos0,
                                     .pos = ctx->rs.tok_pos,
                                     .row_stride = (size_t)ctx->n_ctx,
                                     .window = a.window};
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        comp_event(ctx, il, WL_COMP_ATTENTION, true, NULL, NULL);
    const size_t kv_dim = (size_t)c->n_head_kv * (size_t)c->head_dim;
    for (int32_t t = 0; t < n; t++)
        wl_kv_cache_store(&ctx->kv, il, ctx->rs.tok_seq[t] * ctx->n_ctx + ctx->rs.tok_pos[t], 1,
                          ctx->rs.k + t * kv_dim, ctx->rs.v + t * kv_dim);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_OP)) {
        static const enum wl_op ops[5] = {WL_OP_QK, WL_OP_SCALE_MASK, WL_OP_SOFTCAP, WL_OP_SOFTMAX,
                                          WL_OP_AV};
        for (int s = 0; s < 5; s++) {
            if (ops[s] == WL_OP_SOFTCAP && c->attn_softcap <= 0.0f)
                continue; /* only families that soft-cap have the op */
            op_event(ctx, il, WL_COMP_ATTENTION, ops[s], true, NULL, NULL, NULL);
            a.stages = 1u << s;
            wl__parallel(ctx, att_rows, &a, att_work);
            op_event(ctx, il, WL_COMP_ATTENTION, ops[s], false, NULL, NULL,
                     want_act(ctx) && ops[s] == WL_OP_SOFTMAX ? &hatt : NULL);
        }
    } else {
        a.stages = ATT_QK | ATT_SCALE_MASK | ATT_SOFTCAP | ATT_SOFTMAX | ATT_AV;
        wl__parallel(ctx, att_rows, &a, att_work);
    }
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT)) {
        struct wl_hook_tensor tout = view(ctx->rs.att, n, c->n_head * c->head_dim);
        struct wl_hook_event ev = {.kind = WL_HOOK_COMPONENT, .begin = false, .layer = il,
                                   .component = WL_COMP_ATTENTION,
                                   .out = want_act(ctx) ? &tout : NULL,
                                   .attention = want_act(ctx) ? &hatt : NULL};
        wl__hook_emit(ctx, &ev);
    }
}

/* ---- gated activation ------------------------------------------------------- */

typedef void (*gate_fn)(const struct wl_kernels *k, float *g, const float *u, int64_t n);

struct act_task {
    const struct wl_kernels *kern;
    gate_fn gate; /* wl_kernel_silu_mul or wl_kernel_gelu_mul */
    float *g;     /* in: gate, out: act(gate) * up */
    const float *u;
    int64_t n;
};

/* Split at multiples of 8 elements so that every element goes through the
 * same SIMD lanes whatever the thread count (results independent of it). */
static void gated_rows(void *arg, int ith, int nth)
{
    const struct act_task *a = arg;
    int64_t b0, b1;
    split_range((a->n + 7) / 8, ith, nth, &b0, &b1);
    const int64_t i0 = b0 * 8, i1 = b1 * 8 < a->n ? b1 * 8 : a->n;
    if (i1 > i0)
        a->gate(a->kern, a->g + i0, a->u + i0, i1 - i0);
}

/* rs->hb = act(rs->hb) * rs->hb2 with the kernel's gated product. */
static void fwd_gated(struct wl_context *ctx, int32_t il, gate_fn gate)
{
    const struct wl_model_config *c = &ctx->model->config;
    const int32_t n = ctx->batch.n_tok;
    struct act_task a = {.kern = &ctx->kern,
                         .gate = gate,
                         .g = ctx->rs.hb,
                         .u = ctx->rs.hb2,
                         .n = (int64_t)n * c->ffn_dim};
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT))
        comp_event(ctx, il, WL_COMP_ACTIVATION, true, NULL, NULL);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_OP))
        op_event(ctx, il, WL_COMP_ACTIVATION, WL_OP_GATE_X_UP, true, NULL, NULL, NULL);
    /* weight 4: a vector e^x is ~12 operations per 8 elements, plus a divide
     * (GELU's 2y adds five) */
    wl__parallel(ctx, gated_rows, &a, a.n * 4);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT)) {
        struct wl_hook_tensor tout = view(ctx->rs.hb, n, c->ffn_dim);
        const struct wl_hook_tensor *po = want_act(ctx) ? &tout : NULL;
        if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_OP))
            op_event(ctx, il, WL_COMP_ACTIVATION, WL_OP_GATE_X_UP, false, NULL, po, NULL);
        comp_event(ctx, il, WL_COMP_ACTIVATION, false, NULL, po);
    }
}

void wl__fwd_swiglu(struct wl_context *ctx, int32_t il)
{
    fwd_gated(ctx, il, wl_kernel_silu_mul);
}

void wl__fwd_geglu(struct wl_context *ctx, int32_t il)
{
    fwd_gated(ctx, il, wl_kernel_gelu_mul);
}

void wl__fwd_residual(struct wl_context *ctx, float *x, const float *y)
{
    const int64_t n = (int64_t)ctx->batch.n_tok * ctx->model->config.dim;
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}

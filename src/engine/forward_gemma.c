/* The gemma and gemma2 families. Both: RMSNorm whose weight is applied as
 * (1 + w) -- the GGUF converter stores the sum, so the file's
 * "*norm.weight" values are used as they are --, embeddings multiplied by
 * sqrt(dim), GeGLU feed-forward (tanh GELU), NeoX-style RoPE, output tied
 * to the embedding unless the file has "output.weight".
 * gemma2 adds RMSNorms after attention ("blk.N.post_attention_norm") and
 * after the FFN ("blk.N.post_ffw_norm") before each residual add,
 * attention-logit soft-capping ("gemma2.attn_logit_softcapping", default
 * 50), final-logit soft-capping ("gemma2.final_logit_softcapping", default
 * 30), and sliding-window attention ("gemma2.attention.sliding_window",
 * default 4096) on even layers, global attention on odd ones. Its query
 * scale is 1/sqrt(head_dim), except the 27B shape (46 layers), which
 * scales by 1/sqrt(dim / n_head) as the reference does.
 * Stateless; see forward.h for how families plug in.
 */
#include "engine/arch.h"
#include "engine/forward.h"

#include "wattlens/error.h"

#include <math.h>

static int bind_layers(wl_model *m, bool post_norms, struct wl_errmsg *err)
{
    const struct wl_model_config *c = &m->config;
    const int64_t q_dim = (int64_t)c->n_head * c->head_dim;
    const int64_t kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    int rc = 0;
    for (int32_t il = 0; il < c->n_layer; il++) {
        struct wl_layer_weights *l = &m->weights.layers[il];
        if ((rc = wl__model_bind_layer_vector(m, il, "attn_norm.weight", c->dim, false,
                                              &l->attn_norm, err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "attn_q.weight", c->dim, q_dim, false, &l->wq,
                                              err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "attn_k.weight", c->dim, kv_dim, false, &l->wk,
                                              err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "attn_v.weight", c->dim, kv_dim, false, &l->wv,
                                              err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "attn_output.weight", q_dim, c->dim, false,
                                              &l->wo, err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "ffn_norm.weight", c->dim, false, &l->ffn_norm,
                                              err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "ffn_gate.weight", c->dim, c->ffn_dim, false,
                                              &l->w_gate, err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "ffn_up.weight", c->dim, c->ffn_dim, false,
                                              &l->w_up, err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "ffn_down.weight", c->ffn_dim, c->dim, false,
                                              &l->w_down, err)))
            return rc;
        if (post_norms &&
            ((rc = wl__model_bind_layer_vector(m, il, "post_attention_norm.weight", c->dim, false,
                                               &l->attn_post_norm, err)) ||
             (rc = wl__model_bind_layer_vector(m, il, "post_ffw_norm.weight", c->dim, false,
                                               &l->ffn_post_norm, err))))
            return rc;
    }
    return 0;
}

static int gemma_load(wl_model *m, struct wl_errmsg *err)
{
    m->config.rope_neox = true;
    m->config.embd_scale = sqrtf((float)m->config.dim);
    return bind_layers(m, false, err);
}

static int gemma2_load(wl_model *m, struct wl_errmsg *err)
{
    struct wl_model_config *c = &m->config;
    int rc;
    c->rope_neox = true;
    c->embd_scale = sqrtf((float)c->dim);
    /* read and checked by the rule model info's warning uses (arch.c) */
    struct wl__family_meta fm;
    if ((rc = wl__family_meta_read(m->gguf, WL_ARCH_GEMMA2, c->arch, c->n_ctx_train, &fm, err)) !=
        0)
        return rc;
    c->attn_softcap = fm.attn_softcap;
    c->final_softcap = fm.final_softcap;
    c->sliding_window = fm.sliding_window;
    c->swa_period = 2;
    if (c->n_layer == 46)
        c->attn_scale = 1.0f / sqrtf((float)(c->dim / c->n_head));
    return bind_layers(m, true, err);
}

/* One gemma layer; post: gemma2's post-attention and post-FFN norms. */
static void layer(struct wl_context *ctx, int32_t il, bool post)
{
    const struct wl_layer_weights *l = &ctx->model->weights.layers[il];
    struct wl_run_state *rs = &ctx->rs;

    /* attention block: x += [norm] Wo . attention(rope(Wq xn), rope(Wk xn), Wv xn) */
    wl__fwd_rmsnorm(ctx, il, WL_COMP_ATTN_NORM, rs->x, l->attn_norm, rs->xb);
    wl__fwd_qkv(ctx, il, rs->xb);
    wl__fwd_rope(ctx, il);
    wl__fwd_attention(ctx, il);
    wl__fwd_linear(ctx, il, WL_COMP_O, WL_OP_COUNT, &l->wo, NULL, rs->att, rs->xb2);
    /* the post-norms write xb (free once the projections have read it),
     * not their own input: a norm's hook events hand out its input and its
     * output, and in place the input would be gone (the profiler's norm
     * variance ratio read 1 exactly) */
    const float *attn_out = rs->xb2;
    if (post) {
        wl__fwd_rmsnorm(ctx, il, WL_COMP_ATTN_POST_NORM, rs->xb2, l->attn_post_norm, rs->xb);
        attn_out = rs->xb;
    }
    wl__fwd_residual(ctx, rs->x, attn_out);

    /* feed-forward block: x += [norm] Wdown . (gelu(Wgate xn) * Wup xn) */
    wl__fwd_rmsnorm(ctx, il, WL_COMP_FFN_NORM, rs->x, l->ffn_norm, rs->xb);
    wl__fwd_gate_up(ctx, il, rs->xb);
    wl__fwd_geglu(ctx, il);
    wl__fwd_linear(ctx, il, WL_COMP_DOWN, WL_OP_DOWN, &l->w_down, NULL, rs->hb, rs->xb2);
    const float *ffn_out = rs->xb2;
    if (post) {
        wl__fwd_rmsnorm(ctx, il, WL_COMP_FFN_POST_NORM, rs->xb2, l->ffn_post_norm, rs->xb);
        ffn_out = rs->xb;
    }
    wl__fwd_residual(ctx, rs->x, ffn_out);
}

static void gemma_layer(struct wl_context *ctx, int32_t il)
{
    layer(ctx, il, false);
}

static void gemma2_layer(struct wl_context *ctx, int32_t il)
{
    layer(ctx, il, true);
}

const struct wl_family wl__family_gemma = {
    .arch = "gemma",
    .load = gemma_load,
    .layer = gemma_layer,
};

const struct wl_family wl__family_gemma2 = {
    .arch = "gemma2",
    .load = gemma2_load,
    .layer = gemma2_layer,
};

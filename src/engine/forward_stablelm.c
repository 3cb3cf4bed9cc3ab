/* The stablelm family: LayerNorm with weight and bias ("*norm.weight",
 * "*norm.bias", epsilon "stablelm.attention.layer_norm_epsilon") for every
 * norm including the final one, partial rotary embedding (only the first
 * "stablelm.rope.dimension_count" dimensions of each head rotate, NeoX
 * style), optional Q/K/V biases, SwiGLU feed-forward. A file without
 * "ffn_norm" tensors uses the parallel residual (x + attn(n(x)) +
 * ffn(n(x)) with one norm), as the reference does. Per-head Q/K norms
 * (stablelm-2 12B) are not supported and are refused at load.
 * Stateless; see forward.h for how families plug in.
 */
#include "engine/forward.h"

#include "wattlens/error.h"

static int stablelm_load(wl_model *m, struct wl_errmsg *err)
{
    struct wl_model_config *c = &m->config;
    const int64_t q_dim = (int64_t)c->n_head * c->head_dim;
    const int64_t kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    int rc;
    c->rope_neox = true;
    c->layer_norm = true;
    /* norm_eps is read (and checked > 0) by the loader from the family's key (arch.c) */
    if ((rc = wl__model_bind_vector(m, "output_norm.bias", c->dim, false, &m->weights.output_norm_b,
                                    err)))
        return rc;
    if (wl_gguf_find_tensor(m->gguf, "blk.0.attn_q_norm.weight"))
        return wl_errmsg_set(err, WL_ENOTSUP,
                             "stablelm with per-head Q/K norms (attn_q_norm) is not supported");
    for (int32_t il = 0; il < c->n_layer; il++) {
        struct wl_layer_weights *l = &m->weights.layers[il];
        if ((rc = wl__model_bind_layer_vector(m, il, "attn_norm.weight", c->dim, false,
                                              &l->attn_norm, err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "attn_norm.bias", c->dim, false,
                                              &l->attn_norm_b, err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "attn_q.weight", c->dim, q_dim, false, &l->wq,
                                              err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "attn_k.weight", c->dim, kv_dim, false, &l->wk,
                                              err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "attn_v.weight", c->dim, kv_dim, false, &l->wv,
                                              err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "attn_q.bias", q_dim, true, &l->bq, err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "attn_k.bias", kv_dim, true, &l->bk, err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "attn_v.bias", kv_dim, true, &l->bv, err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "attn_output.weight", q_dim, c->dim, false,
                                              &l->wo, err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "ffn_norm.weight", c->dim, true, &l->ffn_norm,
                                              err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "ffn_norm.bias", c->dim, true, &l->ffn_norm_b,
                                              err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "ffn_gate.weight", c->dim, c->ffn_dim, false,
                                              &l->w_gate, err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "ffn_up.weight", c->dim, c->ffn_dim, false,
                                              &l->w_up, err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "ffn_down.weight", c->ffn_dim, c->dim, false,
                                              &l->w_down, err)))
            return rc;
        l->parallel_ffn = l->ffn_norm == NULL;
    }
    return 0;
}

static void stablelm_layer(struct wl_context *ctx, int32_t il)
{
    const struct wl_layer_weights *l = &ctx->model->weights.layers[il];
    struct wl_run_state *rs = &ctx->rs;

    /* attention block: x += Wo . attention(rope(Wq xn + bq), rope(Wk xn + bk), Wv xn + bv) */
    wl__fwd_norm(ctx, il, WL_COMP_ATTN_NORM, rs->x, l->attn_norm, l->attn_norm_b, rs->xb);
    wl__fwd_qkv(ctx, il, rs->xb);
    wl__fwd_rope(ctx, il);
    wl__fwd_attention(ctx, il);
    wl__fwd_linear(ctx, il, WL_COMP_O, WL_OP_COUNT, &l->wo, NULL, rs->att, rs->xb2);
    wl__fwd_residual(ctx, rs->x, rs->xb2);

    /* feed-forward block: x += Wdown . (silu(Wgate xn) * Wup xn); with the
     * parallel residual xn is still the attention's input norm (rs->xb) */
    if (!l->parallel_ffn)
        wl__fwd_norm(ctx, il, WL_COMP_FFN_NORM, rs->x, l->ffn_norm, l->ffn_norm_b, rs->xb);
    wl__fwd_gate_up(ctx, il, rs->xb);
    wl__fwd_swiglu(ctx, il);
    wl__fwd_linear(ctx, il, WL_COMP_DOWN, WL_OP_DOWN, &l->w_down, NULL, rs->hb, rs->xb2);
    wl__fwd_residual(ctx, rs->x, rs->xb2);
}

const struct wl_family wl__family_stablelm = {
    .arch = "stablelm",
    .load = stablelm_load,
    .layer = stablelm_layer,
};

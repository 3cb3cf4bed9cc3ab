/* The phi3 family: RMSNorm, one fused Q/K/V projection
 * ("blk.N.attn_qkv.weight", rows q then k then v; separate attn_q/k/v are
 * accepted too), one fused gate/up projection ("blk.N.ffn_up.weight" of
 * 2 * ffn rows, gate first) with SiLU, NeoX-style RoPE. Long-context
 * models (LongRoPE) carry "rope_factors_long/short.weight" (per-dimension
 * frequency divisors: long when the context exceeds
 * "phi3.rope.scaling.original_context_length", by default the training
 * context "phi3.context_length", chosen per context) and
 * "phi3.rope.scaling.attn_factor", which multiplies cos and sin.
 * Stateless; see forward.h for how families plug in.
 */
#include "engine/arch.h"
#include "engine/forward.h"

#include "wattlens/error.h"

static int phi3_load(wl_model *m, struct wl_errmsg *err)
{
    struct wl_model_config *c = &m->config;
    const int64_t q_dim = (int64_t)c->n_head * c->head_dim;
    const int64_t kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    const int64_t half = c->rope_dim / 2;
    int rc;
    c->rope_neox = true;
    /* the keys, and that the factor tensors come in pairs, by the rule
     * model info's warning uses (arch.c) */
    struct wl__family_meta fm;
    if ((rc = wl__family_meta_read(m->gguf, WL_ARCH_PHI3, c->arch, c->n_ctx_train, &fm, err)) ||
        (rc = wl__model_bind_vector(m, "rope_factors_long.weight", half, true,
                                    &m->weights.rope_factors_long, err)) ||
        (rc = wl__model_bind_vector(m, "rope_factors_short.weight", half, true,
                                    &m->weights.rope_factors_short, err)))
        return rc;
    c->rope_attn_factor = fm.rope_attn_factor;
    c->rope_n_ctx_orig = fm.rope_n_ctx_orig;
    for (int32_t il = 0; il < c->n_layer; il++) {
        struct wl_layer_weights *l = &m->weights.layers[il];
        if ((rc = wl__model_bind_layer_vector(m, il, "attn_norm.weight", c->dim, false,
                                              &l->attn_norm, err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "attn_qkv.weight", c->dim, q_dim + 2 * kv_dim,
                                              true, &l->wqkv, err)))
            return rc;
        if (!l->wqkv.data && ((rc = wl__model_bind_layer_matrix(m, il, "attn_q.weight", c->dim,
                                                                q_dim, false, &l->wq, err)) ||
                              (rc = wl__model_bind_layer_matrix(m, il, "attn_k.weight", c->dim,
                                                                kv_dim, false, &l->wk, err)) ||
                              (rc = wl__model_bind_layer_matrix(m, il, "attn_v.weight", c->dim,
                                                                kv_dim, false, &l->wv, err))))
            return rc;
        if ((rc = wl__model_bind_layer_matrix(m, il, "attn_output.weight", q_dim, c->dim, false,
                                              &l->wo, err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "ffn_norm.weight", c->dim, false, &l->ffn_norm,
                                              err)) ||
            (rc =
                 wl__model_bind_layer_matrix(m, il, "ffn_up.weight", c->dim,
                                             2 * (int64_t)c->ffn_dim, false, &l->w_gate_up, err)) ||
            (rc = wl__model_bind_layer_matrix(m, il, "ffn_down.weight", c->ffn_dim, c->dim, false,
                                              &l->w_down, err)))
            return rc;
    }
    return 0;
}

static void phi3_layer(struct wl_context *ctx, int32_t il)
{
    const struct wl_layer_weights *l = &ctx->model->weights.layers[il];
    struct wl_run_state *rs = &ctx->rs;

    /* attention block: x += Wo . attention(rope(q), rope(k), v), [q k v] = Wqkv xn */
    wl__fwd_rmsnorm(ctx, il, WL_COMP_ATTN_NORM, rs->x, l->attn_norm, rs->xb);
    wl__fwd_qkv(ctx, il, rs->xb); /* fused W_qkv, or separate q, k, v */
    wl__fwd_rope(ctx, il);
    wl__fwd_attention(ctx, il);
    wl__fwd_linear(ctx, il, WL_COMP_O, WL_OP_COUNT, &l->wo, NULL, rs->att, rs->xb2);
    wl__fwd_residual(ctx, rs->x, rs->xb2);

    /* feed-forward block: x += Wdown . (silu(gate) * up), [gate up] = Wgate_up xn */
    wl__fwd_rmsnorm(ctx, il, WL_COMP_FFN_NORM, rs->x, l->ffn_norm, rs->xb);
    wl__fwd_gate_up(ctx, il, rs->xb);
    wl__fwd_swiglu(ctx, il);
    wl__fwd_linear(ctx, il, WL_COMP_DOWN, WL_OP_DOWN, &l->w_down, NULL, rs->hb, rs->xb2);
    wl__fwd_residual(ctx, rs->x, rs->xb2);
}

const struct wl_family wl__family_phi3 = {
    .arch = "phi3",
    .load = phi3_load,
    .layer = phi3_layer,
};

/* The llama family (llama, mistral and other llama-shaped models): RMSNorm,
 * GQA attention with RoPE, SwiGLU feed-forward. Loading binds the per-layer
 * weights and the optional parts llama.cpp loads for llama: Q/K/V/O and
 * gate/up/down biases (HF checkpoints with attention_bias / mlp_bias) and
 * RoPE frequency factors (llama 3); the layer function is the whole
 * family-specific forward pass. Stateless; see forward.h for how families plug in.
 */
#include "engine/forward.h"

#include <stdio.h>

int wl__load_llama_layers(wl_model *m, bool optional_parts, struct wl_errmsg *err)
{
    const struct wl_model_config *c = &m->config;
    const int64_t q_dim = (int64_t)c->n_head * c->head_dim;
    const int64_t kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    char name[96];
    int rc = 0;
    if (optional_parts && (rc = wl__model_bind_vector(m, "rope_freqs.weight", c->rope_dim / 2, true,
                                                      &m->weights.rope_freq_factors, err)) != 0)
        return rc;
    for (int32_t il = 0; il < c->n_layer; il++) {
        struct wl_layer_weights *l = &m->weights.layers[il];
#define BIND_M(field, suffix, n_in, n_out)                                                     \
    do {                                                                                       \
        snprintf(name, sizeof name, "blk.%d.%s.weight", (int)il, suffix);                      \
        if ((rc = wl__model_bind_matrix(m, name, n_in, n_out, false, &l->field, err)) != 0)    \
            return rc;                                                                         \
    } while (0)
#define BIND_V(field, suffix, n)                                                               \
    do {                                                                                       \
        snprintf(name, sizeof name, "blk.%d.%s.weight", (int)il, suffix);                      \
        if ((rc = wl__model_bind_vector(m, name, n, false, &l->field, err)) != 0)              \
            return rc;                                                                         \
    } while (0)
#define BIND_B(field, suffix, n)                                                                   \
    do {                                                                                           \
        snprintf(name, sizeof name, "blk.%d.%s.bias", (int)il, suffix);                            \
        if ((rc = wl__model_bind_vector(m, name, n, true, &l->field, err)) != 0)                   \
            return rc;                                                                             \
    } while (0)
        BIND_V(attn_norm, "attn_norm", c->dim);
        BIND_M(wq, "attn_q", c->dim, q_dim);
        BIND_M(wk, "attn_k", c->dim, kv_dim);
        BIND_M(wv, "attn_v", c->dim, kv_dim);
        BIND_M(wo, "attn_output", q_dim, c->dim);
        BIND_V(ffn_norm, "ffn_norm", c->dim);
        BIND_M(w_gate, "ffn_gate", c->dim, c->ffn_dim);
        BIND_M(w_up, "ffn_up", c->dim, c->ffn_dim);
        BIND_M(w_down, "ffn_down", c->ffn_dim, c->dim);
        if (optional_parts) {
            BIND_B(bq, "attn_q", q_dim);
            BIND_B(bk, "attn_k", kv_dim);
            BIND_B(bv, "attn_v", kv_dim);
            BIND_B(bo, "attn_output", c->dim);
            BIND_B(b_gate, "ffn_gate", c->ffn_dim);
            BIND_B(b_up, "ffn_up", c->ffn_dim);
            BIND_B(b_down, "ffn_down", c->dim);
        }
#undef BIND_M
#undef BIND_V
#undef BIND_B
    }
    return 0;
}

static int llama_load(wl_model *m, struct wl_errmsg *err)
{
    return wl__load_llama_layers(m, true, err);
}

void wl__layer_llama(struct wl_context *ctx, int32_t il)
{
    const struct wl_layer_weights *l = &ctx->model->weights.layers[il];
    struct wl_run_state *rs = &ctx->rs;

    /* attention block: x += Wo . attention(rope(Wq xn), rope(Wk xn), Wv xn) [+ biases] */
    wl__fwd_rmsnorm(ctx, il, WL_COMP_ATTN_NORM, rs->x, l->attn_norm, rs->xb);
    wl__fwd_qkv(ctx, il, rs->xb);
    wl__fwd_rope(ctx, il);
    wl__fwd_attention(ctx, il);
    wl__fwd_linear(ctx, il, WL_COMP_O, WL_OP_COUNT, &l->wo, l->bo, rs->att, rs->xb2);
    wl__fwd_residual(ctx, rs->x, rs->xb2);

    /* feed-forward block: x += Wdown . (silu(Wgate xn) * Wup xn) [+ biases] */
    wl__fwd_rmsnorm(ctx, il, WL_COMP_FFN_NORM, rs->x, l->ffn_norm, rs->xb);
    wl__fwd_gate_up(ctx, il, rs->xb);
    wl__fwd_swiglu(ctx, il);
    wl__fwd_linear(ctx, il, WL_COMP_DOWN, WL_OP_DOWN, &l->w_down, l->b_down, rs->hb, rs->xb2);
    wl__fwd_residual(ctx, rs->x, rs->xb2);
}

const struct wl_family wl__family_llama = {
    .arch = "llama",
    .load = llama_load,
    .layer = wl__layer_llama,
};

/* Mistral files use the llama layout under their own architecture name. */
const struct wl_family wl__family_mistral = {
    .arch = "mistral",
    .load = llama_load,
    .layer = wl__layer_llama,
};

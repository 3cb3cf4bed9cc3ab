/* The qwen2 family: the llama layer with biases on the Q, K and V
 * projections ("blk.N.attn_{q,k,v}.bias") and NeoX-style RoPE (rotating
 * halves). The output projection may be tied to the embedding (small
 * models) and may have a bias ("output.bias", added to the logits), as
 * llama.cpp loads it. Stateless; see forward.h for how families plug in.
 */
#include "engine/forward.h"

static int qwen2_load(wl_model *m, struct wl_errmsg *err)
{
    const struct wl_model_config *c = &m->config;
    const int64_t q_dim = (int64_t)c->n_head * c->head_dim;
    const int64_t kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    m->config.rope_neox = true;
    int rc = wl__load_llama_layers(m, false, err);
    if (rc == 0)
        rc =
            wl__model_bind_vector(m, "output.bias", c->vocab_size, true, &m->weights.output_b, err);
    for (int32_t il = 0; rc == 0 && il < c->n_layer; il++) {
        struct wl_layer_weights *l = &m->weights.layers[il];
        if ((rc = wl__model_bind_layer_vector(m, il, "attn_q.bias", q_dim, false, &l->bq, err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "attn_k.bias", kv_dim, false, &l->bk, err)) ||
            (rc = wl__model_bind_layer_vector(m, il, "attn_v.bias", kv_dim, false, &l->bv, err)))
            break;
    }
    return rc;
}

const struct wl_family wl__family_qwen2 = {
    .arch = "qwen2",
    .load = qwen2_load,
    .layer = wl__layer_llama,
};

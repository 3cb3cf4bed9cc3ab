/* A loaded model: hyper-parameters (config), weights, and the family that
 * knows how to run them. Config, weights and run state are kept apart (run
 * state lives in the context, engine/context.h).
 *
 * Weights are used in place from the mmapped GGUF file: a struct wl_weight
 * points into the mapping and nothing is copied, except small 1-D tensors
 * (norm weights, biases) stored in a type other than F32, which are converted
 * to F32 once at load into buffers the model owns, and tensors whose data is
 * not aligned for the kernels (a file with general.alignment 1 or 2), which
 * are copied once at load into aligned buffers the model owns (with a
 * warning: such a file costs its misaligned tensors' size in memory again).
 *
 * Lifetime: everything hangs off the wl_model and is valid until
 * wl_model_free(). Thread-safety: read-only after load; any number of
 * contexts may share one model.
 */
#ifndef WL_ENGINE_MODEL_H
#define WL_ENGINE_MODEL_H

#include "engine/gguf.h"
#include "engine/tensor_type.h"
#include "util/errmsg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_family;

/* A 2-D weight matrix as the kernels see it: n_out rows of n_in elements of
 * `type`, rows row_bytes apart. y = W x means y[r] = dot(row r, x). */
struct wl_weight {
    enum wl_ttype type;
    const void *data;
    int64_t n_in;    /* GGUF ne[0]: row length */
    int64_t n_out;   /* GGUF ne[1]: number of rows */
    size_t row_bytes;
    const char *name; /* tensor name, for messages */
};

/* Hyper-parameters read from the GGUF metadata ("<arch>.*" keys). */
struct wl_model_config {
    char arch[32];          /* general.architecture, e.g. "llama" */
    int32_t n_layer;
    int32_t dim;            /* embedding length */
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;       /* key/value length per head */
    int32_t ffn_dim;        /* feed-forward (intermediate) length */
    int32_t vocab_size;
    int32_t n_ctx_train;    /* context length the model was trained with */
    float norm_eps;         /* the family's epsilon key (wl__arch_norm_eps_key); required */
    /* RoPE: theta_i = pos * freq_scale * freq_base^(-2i / rope_dim), divided
     * by rope_freq_factors[i] when the model has them (llama 3 style). */
    int32_t rope_dim;
    float rope_freq_base;
    float rope_freq_scale;  /* 1 / (linear scaling factor) */
    bool rope_neox;         /* rotate halves (NeoX) instead of adjacent pairs */
    bool tied_output;       /* output projection is the token embedding */
    /* Family switches (issue 8). Zero always means "as llama", so a config
     * built in memory without them runs the llama arithmetic. */
    float rope_attn_factor; /* multiplies cos and sin (phi3 LongRoPE); 0 = 1 */
    int32_t rope_n_ctx_orig; /* phi3: contexts longer than this use the long factors
                              * (default n_ctx_train); 0 = n/a */
    float attn_scale;       /* q.k scale; 0 = 1/sqrt(head_dim) */
    float attn_softcap;     /* scores = cap * tanh(scores / cap) before softmax; 0 = off (gemma2) */
    float final_softcap;    /* same on the output logits; 0 = off (gemma2) */
    int32_t sliding_window; /* positions a sliding-window layer sees (itself included); 0 = none */
    int32_t swa_period;     /* layer il slides when il % swa_period == 0 (gemma2: 2); 0 = all */
    float embd_scale;       /* embeddings are multiplied by this (gemma: sqrt(dim)); 0 = 1 */
    bool layer_norm;        /* LayerNorm with bias instead of RMSNorm (stablelm) */
};

/* Per-layer weights. Shapes as (rows, row length) = (n_out, n_in).
 * Optional tensors a family does not use have data == NULL. */
struct wl_layer_weights {
    const float *attn_norm;   /* (dim) */
    struct wl_weight wq;      /* (n_head * head_dim, dim) */
    struct wl_weight wk;      /* (n_head_kv * head_dim, dim) */
    struct wl_weight wv;      /* (n_head_kv * head_dim, dim) */
    struct wl_weight wo;      /* (dim, n_head * head_dim) */
    const float *ffn_norm;    /* (dim) */
    struct wl_weight w_gate;  /* (ffn_dim, dim) */
    struct wl_weight w_up;    /* (ffn_dim, dim) */
    struct wl_weight w_down;  /* (dim, ffn_dim) */
    /* optional parts used by other families (issue 8) */
    const float *bq, *bk, *bv; /* (n_head * head_dim), (kv_dim), (kv_dim) */
    /* llama's optional biases (HF attention_bias / mlp_bias checkpoints), as
     * llama.cpp applies them: on the O projection (dim) and on the gate, up
     * (ffn_dim) and down (dim) projections; NULL when absent */
    const float *bo, *b_gate, *b_up, *b_down;
    struct wl_weight wqkv;     /* phi3: (q_dim + 2 * kv_dim, dim), rows q then k then v */
    struct wl_weight w_gate_up; /* phi3: (2 * ffn_dim, dim), rows gate then up */
    const float *attn_norm_b, *ffn_norm_b; /* stablelm LayerNorm biases (dim) */
    const float *attn_post_norm;  /* gemma2: norm of the attention output (dim) */
    const float *ffn_post_norm;   /* gemma2: norm of the FFN output (dim) */
    bool parallel_ffn;         /* stablelm without ffn_norm: FFN reads the attention's input norm */
};

struct wl_model_weights {
    struct wl_weight tok_embd;      /* (vocab_size, dim): row t is token t's embedding */
    struct wl_layer_weights *layers; /* (n_layer) */
    const float *output_norm;       /* (dim) */
    struct wl_weight output;        /* (vocab_size, dim); == tok_embd when tied */
    const float *rope_freq_factors; /* llama's rope_freqs.weight (rope_dim / 2) or NULL */
    const float *output_norm_b;     /* (dim) stablelm LayerNorm bias, else NULL */
    const float *rope_factors_long; /* phi3 LongRoPE (rope_dim / 2) or NULL */
    const float *rope_factors_short;
    const float *output_b; /* (vocab_size) qwen2's optional output.bias, else NULL */
};

typedef struct wl_model wl_model;

struct wl_model {
    struct wl_model_config config;
    struct wl_model_weights weights;
    const struct wl_family *family;
    wl_gguf *gguf;           /* owned when the model was loaded from a file */
    bool owns_gguf;
    uint64_t weight_bytes;   /* bytes of all weight tensors (the file's tensor data) */
    /* Bytes one decode token reads from the weights: every weight tensor once,
     * except the token-embedding table, of which only the token's row is read
     * (the whole table too when the output projection is tied to it). The
     * denominator of "fraction of the bandwidth limit". */
    uint64_t decode_bytes;
    uint64_t n_params;
    /* End-of-generation token ids (eos, eot, eom, ...), deduplicated. */
    int32_t eog_ids[8];
    int32_t n_eog;
    int32_t bos_id;          /* -1 when the vocabulary has none */
    bool add_bos;
    /* Tokens the vocabulary names (tokenizer.ggml.tokens), at most
     * config.vocab_size (a larger vocabulary is refused at load: its ids
     * would index past the embedding table); config.vocab_size when the file
     * has no vocabulary. Rows from here to config.vocab_size are padding:
     * they have no text and generation never samples them. */
    int32_t n_vocab_tok;
    /* Buffers the model owns (freed at wl_model_free): F32 copies of 1-D
     * tensors stored in another type, and aligned copies of misaligned
     * tensors. realigned_* count the latter (0 for a well-formed file). */
    void **owned;
    size_t n_owned;
    uint64_t realigned_tensors;
    uint64_t realigned_bytes;
    /* While wl_model_load_gguf runs: one flag per tensor of the file, set
     * when a bind below takes it (a file with a tensor no part took is
     * refused); NULL before and after. */
    bool *tensor_bound;
};

/* Loads path: opens the GGUF, detects the family, reads the config and binds
 * every weight (checking shapes and types). A file with a tensor the family
 * does not use is refused (WL_ENOTSUP, naming it), as llama.cpp refuses a
 * file whose tensor count is not the one it expects: running without a
 * bias or norm the file has would compute another model. Errors say which
 * key or tensor was wrong; every message names the file (wl_gguf_open's do, the others
 * start "PATH: "), so a caller prints err as it is. A vocabulary with more
 * tokens than token_embd.weight has rows is an error (WL_EFORMAT); one with fewer is run with a
 * warning (logged once per load) and its padding rows never sampled (see n_vocab_tok). */
int wl_model_load(const char *path, wl_model **out, struct wl_errmsg *err);

/* Same from an already open GGUF; takes ownership of g on success only. */
int wl_model_load_gguf(wl_gguf *g, wl_model **out, struct wl_errmsg *err);

/* Frees the model (and its GGUF when owned); accepts NULL. */
void wl_model_free(wl_model *m);

/* Resident bytes of the model file's mapping and how many of them are
 * mapped as 2 MiB pages (util/hugepage.h; decode read 4 KiB pages ~3 %
 * slower in paired runs, docs/internals/kernels-decode.md "Session 9"). 0;
 * WL_ENOTSUP when the model does not read a file mapping or the system
 * cannot tell. */
int wl_model_weight_pages(const wl_model *m, uint64_t *resident, uint64_t *huge);

/* True when id is an end-of-generation token of this model. */
bool wl_model_is_eog(const wl_model *m, int32_t id);

/* Bytes one weight matrix occupies. */
uint64_t wl_weight_bytes(const struct wl_weight *w);

/* ---- for families (engine/forward_*.c) ------------------------------------ */

/* Binds the 2-D tensor `name` into *w, checking it is (n_out, n_in) and of a
 * type the kernels support. optional: a missing tensor leaves w->data NULL. */
int wl__model_bind_matrix(wl_model *m, const char *name, int64_t n_in, int64_t n_out,
                          bool optional, struct wl_weight *w, struct wl_errmsg *err);

/* Binds the 1-D tensor `name` of n elements as F32 (converted at load when
 * stored in another float type). optional as above. */
int wl__model_bind_vector(wl_model *m, const char *name, int64_t n, bool optional,
                          const float **out, struct wl_errmsg *err);

/* The same for layer il's tensor "blk.<il>.<suffix>" (suffix such as
 * "attn_q.weight"). */
int wl__model_bind_layer_matrix(wl_model *m, int32_t il, const char *suffix, int64_t n_in,
                                int64_t n_out, bool optional, struct wl_weight *w,
                                struct wl_errmsg *err);
int wl__model_bind_layer_vector(wl_model *m, int32_t il, const char *suffix, int64_t n,
                                bool optional, const float **out, struct wl_errmsg *err);

#endif

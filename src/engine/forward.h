/* The forward pass: the per-family table, the run state, and the building
 * blocks families are written with (engine/forward_ops.c).
 *
 * A family (llama, and later qwen2, phi3, gemma, gemma2, stablelm) is one
 * struct wl_family: a `load` that reads its metadata and binds its weights,
 * and a `layer` that runs one transformer layer over the current batch,
 * written with the wl__fwd_* blocks below. Embedding, final norm and output
 * projection are shared (engine/forward.c) with per-family switches in the
 * config. Adding a family is adding a forward_<family>.c and a line in the
 * table in forward.c.
 *
 * Run state: every buffer is allocated at context creation for n_ubatch
 * tokens and n_ctx positions; the forward pass allocates nothing.
 * Not thread-safe per context: one prefill/decode at a time. Work inside a
 * block is split across the context's thread pool; hooks run on the caller.
 */
#ifndef WL_ENGINE_FORWARD_H
#define WL_ENGINE_FORWARD_H

#include "engine/hooks.h"
#include "engine/kernels/kernels.h"
#include "engine/kv_cache.h"
#include "engine/model.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_context;

struct wl_family {
    const char *arch; /* general.architecture value */
    /* Reads family-specific metadata into m->config (already filled with the
     * common keys) and binds every layer's weights. */
    int (*load)(wl_model *m, struct wl_errmsg *err);
    /* One layer over the batch: reads and updates rs->x in place. */
    void (*layer)(struct wl_context *ctx, int32_t il);
};

/* The llama family's load and layer; qwen2 reuses them around its own
 * switches (the layer applies whichever biases are bound). The load binds
 * llama's tensors; optional_parts
 * adds what llama.cpp loads for llama only: the optional Q/K/V/O and
 * gate/up/down biases and rope_freqs.weight (qwen2 has neither there). */
int wl__load_llama_layers(wl_model *m, bool optional_parts, struct wl_errmsg *err);
void wl__layer_llama(struct wl_context *ctx, int32_t il);

/* The family for an architecture name, or NULL. */
const struct wl_family *wl__family_find(const char *arch);

/* Run-state buffers; shapes in floats, B = n_ubatch, T = n_ctx. */
struct wl_run_state {
    float *x;       /* (B, dim) residual stream */
    float *xb;      /* (B, dim) normalised input of a block */
    float *xb2;     /* (B, dim) block output before the residual add */
    float *q;       /* (B, n_head * head_dim) */
    float *k;       /* (B, kv_dim) */
    float *v;       /* (B, kv_dim) */
    float *att;     /* (B, n_head * head_dim) attention output */
    float *scores;  /* (B, n_head, T) attention scores / probabilities */
    float *hb;      /* (B, ffn_dim) gate, then act(gate) * up */
    float *hb2;     /* (B, ffn_dim) up */
    float *logits;  /* (n_seq, vocab) logits of the rows asked for (the last token
                     * of a single-sequence batch; one row per sequence at most) */
    float *fused;   /* (B, max(q_dim + 2 kv_dim, 2 ffn_dim)) fused projections (phi3); NULL otherwise */
    int32_t *out_rows; /* (n_seq) batch rows whose logits are computed */
    float *rope_cos; /* (B, rope_dim / 2) for the batch's positions */
    float *rope_sin; /* (B, rope_dim / 2) */
    float *norm_tmp; /* (B) per-row statistics for split norm ops */
    float *att_scratch; /* (n_threads, wl_kv_cache_group_scratch_floats(head_dim)) K/V
                         * rows converted once per GQA group (share ith of a pool
                         * job owns row ith) */
    int32_t *tok_pos; /* (B) position of each batch token in its sequence */
    int32_t *tok_seq; /* (B) sequence of each batch token (0 while one sequence) */
    void *work;     /* kernel scratch (quantized activations) */
    size_t work_bytes;
};

/* The batch being processed (set by forward.c before the layers run).
 * Blocks use rs.tok_pos / rs.tok_seq per token, so a batch may mix
 * sequences (issue 8) without changing them. */
struct wl_batch_state {
    int32_t n_tok; /* tokens in this batch (<= n_ubatch) */
    int32_t pos0;  /* position of the first one (single-sequence batches) */
};

/* A context (engine/context.h): defined here because the forward pass is its
 * implementation. */
struct wl_context {
    const wl_model *model;
    int32_t n_ctx;
    int32_t n_ubatch;
    int32_t n_threads;
    struct wl_kv_cache kv;
    struct wl_run_state rs;
    struct wl_batch_state batch;
    int32_t n_past;           /* positions filled in the KV cache by sequence 0 */
    int32_t n_seq;            /* sequences the context holds (KV cells n_seq * n_ctx) */
    int32_t *seq_past;        /* (n_seq) positions filled per sequence; [0] mirrors n_past */
    int32_t n_logits;         /* rows of rs.logits written by the last evaluation */
    const float *rope_factors; /* per-dimension RoPE divisors for this context, or NULL */
    struct wl_hooks hooks;
    int32_t hook_depth;       /* hooks.depth when a hook is attached, else 0 */
    volatile sig_atomic_t *cancel; /* borrowed; checked between forward batches, or NULL */
    enum wl_phase phase;      /* current phase, stamped on every event */
    struct wl_threadpool *pool; /* NULL when single-threaded */
    struct wl_kernels kern;     /* the kernel path (best for this CPU) */
    uint64_t state_bytes;
    void *block;              /* one allocation holding every run-state buffer */
    /* The first matrix product the kernels refused (0 = none): an engine bug,
     * since wl_model_load checks every weight as the kernels do and the
     * scratch is sized for the largest matrix. The product's output is NaN
     * and every evaluation from then on fails (wl__kernel_status). */
    int kernel_rc;
    const char *kernel_weight; /* the refused weight's name */
};

/* True when a hook wants events at depth d: the one branch per boundary. */
#define WL_HOOK_ON(ctx, d) __builtin_expect((ctx)->hook_depth >= (int32_t)(d), 0)

/* Emits one event (callers check WL_HOOK_ON first). */
void wl__hook_emit(struct wl_context *ctx, struct wl_hook_event *ev);

/* Creates / frees the context's thread pool (n_threads - 1 workers). */
int wl__pool_create(struct wl_context *ctx, struct wl_errmsg *err);
void wl__pool_free(struct wl_context *ctx);

/* Runs fn(arg, ith, nth) on every thread of the context's pool (ith in
 * [0, nth)), the caller included, and returns when all are done. work is
 * the job's size in multiply-adds (or elements): below a threshold the job
 * runs on the caller alone (fn(arg, 0, 1)), because waking the workers costs
 * more than a small job (norms and RoPE of one decode token), and each wake
 * is a chance to wait for a descheduled worker. */
typedef void (*wl_parallel_fn)(void *arg, int ith, int nth);
void wl__parallel(struct wl_context *ctx, wl_parallel_fn fn, void *arg, int64_t work);

/* y (n_tok, w->n_out) = x (n_tok, w->n_in) times W^T, threaded. A product
 * the kernels refuse leaves y NaN and is recorded (wl__kernel_status). */
void wl__matmul(struct wl_context *ctx, const struct wl_weight *w, const float *x, int32_t n_tok,
                float *y);

/* wl__matmul for n_w (<= WL_KERNEL_MAX_MULTI) matrices applied to the same x
 * in one pool job (one fork/join, x quantized once) when they share row
 * length and activation format (wl_kernel_x_compatible); otherwise one
 * wl__matmul each. Same results either way. */
void wl__matmul_multi(struct wl_context *ctx, const struct wl_weight *const *ws, int n_w,
                      const float *x, int32_t n_tok, float *const *ys);

/* Runs n tokens at position n_past through the model (batches of n_ubatch);
 * logits of the last token in rs.logits. Checks capacity and token ids first. */
int wl__forward(struct wl_context *ctx, const int32_t *tokens, int32_t n, struct wl_errmsg *err);

/* Runs n tokens of several sequences (token i belongs to sequence seq[i] and
 * goes at that sequence's next position); logits of the tokens with
 * want[i] true land in rs.logits rows in token order. Batches of n_ubatch.
 * Checks ids, sequence numbers, capacity per sequence, and that at most
 * n_seq logits rows are asked for. */
int wl__forward_multi(struct wl_context *ctx, const int32_t *tokens, const int32_t *seq,
                      const bool *want, int32_t n, struct wl_errmsg *err);

/* 0, or the error (with a message naming the weight) of the first product
 * the kernels refused on this context; see wl_context.kernel_rc. */
int wl__kernel_status(const struct wl_context *ctx, struct wl_errmsg *err);

/* Scratch bytes wl__matmul needs for n_tok activation rows against every
 * weight matrix of the model. */
size_t wl__matmul_work_bytes(const wl_model *m, int32_t n_tok);

/* Row `row` of a weight matrix as F32 (embedding lookup). */
void wl__weight_row_f32(const struct wl_weight *w, int64_t row, float *out);

/* ---- building blocks (engine/forward_ops.c) --------------------------------
 * Each emits its component boundary (and op boundaries at depth OP) itself.
 * Row-major (n_tok, width) activations, contiguous. */

/* out = rmsnorm(in) * w over rows of width dim. out must not be in: the
 * op and component ends hand out both (the norm variance ratio compares
 * them), and in place the input would already be overwritten. */
void wl__fwd_rmsnorm(struct wl_context *ctx, int32_t il, enum wl_component comp,
                     const float *in, const float *w, float *out);

/* out (n_tok, width) += bias per row; nothing when bias is NULL. */
void wl__fwd_add_bias(float *out, const float *bias, int32_t n_tok, int64_t width);

/* out (n_tok, w->n_out) = in (n_tok, w->n_in) x W^T [+ bias]; op = WL_OP_COUNT
 * when the component has no op of its own. */
void wl__fwd_linear(struct wl_context *ctx, int32_t il, enum wl_component comp, enum wl_op op,
                    const struct wl_weight *w, const float *bias, const float *in, float *out);

/* Several projections of the same input, each its own component (its own
 * wl__fwd_linear) when the hook wants components; otherwise one pool job
 * for all of them (wl__matmul_multi) and then the biases. n <= 4. */
struct wl__fwd_proj {
    enum wl_component comp;
    enum wl_op op;
    const struct wl_weight *w;
    const float *bias;
    float *out;
};
void wl__fwd_linear_multi(struct wl_context *ctx, int32_t il, const struct wl__fwd_proj *p, int n,
                          const float *in);

/* The Q, K and V projections of xn into rs->q, rs->k, rs->v, and the gate /
 * up projections into rs->hb / rs->hb2, each with the layer's bias when it
 * has one; a layer with fused W_qkv / W_gate_up (phi3) goes to the _fused variants. */
void wl__fwd_qkv(struct wl_context *ctx, int32_t il, const float *xn);
void wl__fwd_gate_up(struct wl_context *ctx, int32_t il, const float *xn);

/* Rotary embedding of rs->q and rs->k at the batch's positions. */
void wl__fwd_rope(struct wl_context *ctx, int32_t il);

/* Stores rs->k/v in the cache at the batch's positions, then causal GQA
 * attention of rs->q over positions 0..pos: result in rs->att. */
void wl__fwd_attention(struct wl_context *ctx, int32_t il);

/* rs->hb = silu(rs->hb) * rs->hb2 (component activation, op gate_x_up). */
void wl__fwd_swiglu(struct wl_context *ctx, int32_t il);

/* rs->hb = gelu_tanh(rs->hb) * rs->hb2 (GeGLU of gemma and gemma2; component
 * activation, op gate_x_up): the SwiGLU code with wl_kernel_gelu_mul. */
void wl__fwd_geglu(struct wl_context *ctx, int32_t il);

/* ---- family blocks (engine/forward_family_ops.c) ---------------------------- */

/* The config's norm: RMSNorm (w; b ignored) or LayerNorm with weight w and
 * bias b (b may be NULL), over rows of width dim. out must not be in (as for
 * wl__fwd_rmsnorm: the hooks hand out both). */
void wl__fwd_norm(struct wl_context *ctx, int32_t il, enum wl_component comp, const float *in,
                  const float *w, const float *b, float *out);

/* Fused projections (phi3): rs->q, rs->k, rs->v from W_qkv in (component
 * qkv, biases bq/bk/bv added when present); rs->hb (gate) and rs->hb2 (up)
 * from W_gate_up in (component gate_up). Both go through rs->fused. */
void wl__fwd_qkv_fused(struct wl_context *ctx, int32_t il, const float *in);
void wl__fwd_gate_up_fused(struct wl_context *ctx, int32_t il, const float *in);

/* x += y over (n_tok, dim). */
void wl__fwd_residual(struct wl_context *ctx, float *x, const float *y);

#endif

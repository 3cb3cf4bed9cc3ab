/* The engine's instrumentation interface: where a profiler attaches.
 *
 * A context (engine/context.h) holds at most one struct wl_hooks. The engine
 * reports boundaries (begin/end pairs, properly nested) of phases, sections,
 * tokens, layers, components and ops through the one callback, filtered by
 * the depth the hooks ask for. Each boundary in the engine is written as
 *     if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_COMPONENT)) { ...build event, call... }
 * so with no hook attached (depth NONE) a boundary costs one compare against a
 * value in the context and one well-predicted branch; no clock is read and no
 * event is built. The engine never reads the clock for the hook: the callback
 * reads whatever clocks and counters it wants, so its own cost is not hidden.
 *
 * Threading: every callback runs on the thread that called prefill/decode or
 * generate, between parallel regions (never inside a worker). The tensors an
 * event points to are valid only during the callback and must not be written.
 */
#ifndef WL_ENGINE_HOOKS_H
#define WL_ENGINE_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What gets reported. Each level includes the ones below it. */
enum wl_hook_depth {
    WL_HOOK_DEPTH_NONE = 0,      /* nothing (no hook) */
    WL_HOOK_DEPTH_TOKEN = 1,     /* phases, sections, tokens */
    WL_HOOK_DEPTH_LAYER = 2,     /* + layers */
    WL_HOOK_DEPTH_COMPONENT = 3, /* + components ("module" in the profiler) */
    WL_HOOK_DEPTH_OP = 4,        /* + ops inside components ("deep") */
};

enum wl_hook_kind {
    WL_HOOK_PHASE,
    WL_HOOK_SECTION,
    WL_HOOK_TOKEN,
    WL_HOOK_LAYER,
    WL_HOOK_COMPONENT,
    WL_HOOK_OP,
};

/* Phases of one generation (engine/generate.c emits them). */
enum wl_phase {
    WL_PHASE_PRE_INFERENCE,  /* tokenization, input setup, KV-cache reset */
    WL_PHASE_PREFILL,        /* the prompt's forward pass */
    WL_PHASE_DECODE,         /* one token at a time */
    WL_PHASE_POST_INFERENCE, /* detokenization of the whole output, cleanup */
    WL_PHASE_COUNT
};

/* Sections inside phases. The forward pass emits embedding .. output; the
 * generation loop emits the rest. */
enum wl_section {
    WL_SECTION_TOKENIZE,
    WL_SECTION_INPUT_SETUP,
    WL_SECTION_KV_INIT,
    WL_SECTION_EMBEDDING,
    WL_SECTION_LAYERS,
    WL_SECTION_FINAL_NORM,
    WL_SECTION_OUTPUT,
    WL_SECTION_SAMPLING,
    WL_SECTION_DETOKENIZE,
    WL_SECTION_CLEANUP,
    WL_SECTION_COUNT
};

/* Components of a transformer layer. The first twelve are the names every
 * family shares (so runs of different families compare); families add their
 * own parts after them (issue 8: fused qkv, post-norms, ...). */
enum wl_component {
    WL_COMP_ATTN_NORM,
    WL_COMP_Q,
    WL_COMP_K,
    WL_COMP_V,
    WL_COMP_ROPE,
    WL_COMP_ATTENTION,
    WL_COMP_O,
    WL_COMP_FFN_NORM,
    WL_COMP_GATE,
    WL_COMP_UP,
    WL_COMP_ACTIVATION,
    WL_COMP_DOWN,
    /* family-specific parts */
    WL_COMP_QKV,            /* fused Q/K/V projection (phi3) */
    WL_COMP_GATE_UP,        /* fused gate/up projection (phi3) */
    WL_COMP_ATTN_POST_NORM, /* gemma2 */
    WL_COMP_FFN_POST_NORM,  /* gemma2 */
    WL_COMP_COUNT
};

/* Ops inside components (depth OP). */
enum wl_op {
    WL_OP_QK,         /* attention: scores = q . k */
    WL_OP_SCALE_MASK, /* attention: scale by 1/sqrt(head_dim), causal mask */
    WL_OP_SOFTMAX,    /* attention: softmax over positions */
    WL_OP_AV,         /* attention: weighted sum of values */
    WL_OP_GATE,       /* ffn: gate projection */
    WL_OP_UP,         /* ffn: up projection */
    WL_OP_GATE_X_UP,  /* ffn: act(gate) * up */
    WL_OP_DOWN,       /* ffn: down projection */
    WL_OP_NORM_MEAN,      /* norm: mean (LayerNorm only) */
    WL_OP_NORM_VARIANCE,  /* norm: variance (RMSNorm: mean of squares) */
    WL_OP_NORM_NORMALISE, /* norm: x * 1/sqrt(var + eps) */
    WL_OP_NORM_SCALE,     /* norm: * weight (+ bias) */
    WL_OP_SOFTCAP,        /* gemma2: attention-logit soft-capping (between scale_mask and softmax) */
    WL_OP_COUNT
};

/* A read-only view of n_rows rows of n_cols floats, row i at data + i * row_stride. */
struct wl_hook_tensor {
    const float *data;
    int32_t n_rows;
    int32_t n_cols;
    size_t row_stride; /* in floats */
};

/* Attention probabilities after softmax (end of op SOFTMAX and of component
 * ATTENTION when activations are requested): for batch token t and head h,
 * row (t * n_head + h) holds pos[t] + 1 valid weights (causal; pos[t] =
 * pos0 + t for a single sequence); entries past that are undefined. Token t
 * sees positions j0 .. pos[t]: j0 = pos[t] + 1 - window in a sliding-window
 * layer whose window is shorter than that, else 0. The weights before j0
 * are 0 (masked, not learnt): a statistic of the attention a token does
 * reads j0 .. pos[t] only. */
struct wl_hook_attention {
    const float *probs;
    int32_t n_tok;
    int32_t n_head;
    int32_t pos0;
    const int32_t *pos; /* (n_tok) position of each token */
    size_t row_stride;  /* in floats */
    int32_t window;     /* positions a token sees (itself included) in this layer; 0 = all */
};

struct wl_hook_event {
    enum wl_hook_kind kind;
    bool begin;             /* true at the start of the span, false at its end */
    enum wl_phase phase;    /* PHASE events, and the current phase for all others */
    enum wl_section section;     /* SECTION */
    int32_t layer;               /* LAYER, COMPONENT, OP; -1 otherwise */
    enum wl_component component; /* COMPONENT, and the enclosing one for OP */
    enum wl_op op;               /* OP */
    int32_t n_tok;               /* tokens in this forward pass (batch); TOKEN begin:
                                    sequences running in the decode round (1 unless
                                    wl_generate_batch); TOKEN end: those that produced a
                                    token in it -- fewer when the round failed part way
                                    (its end is the generation's), 0 when none did: the
                                    step failed (its forward pass or its logits) and
                                    produced no token (token_id -1), so a profiler
                                    keeps its time but counts no token */
    int32_t pos;                 /* position of the batch's first token */
    /* TOKEN events: index of the generated token (0-based) and, at end, its
     * id and its text piece (not NUL-terminated, text_len bytes; may be empty). */
    int32_t token_index;
    int32_t token_id;
    const char *text;
    size_t text_len;
    /* End of COMPONENT / OP when activations were requested: the input and
     * output tensors (NULL where not meaningful). A norm's are distinct
     * buffers: in still holds the input when out holds the result. */
    const struct wl_hook_tensor *in;
    const struct wl_hook_tensor *out;
    const struct wl_hook_attention *attention; /* SOFTMAX / ATTENTION end */
};

typedef void (*wl_hook_fn)(void *user_data, const struct wl_hook_event *ev);

struct wl_hooks {
    wl_hook_fn fn;
    void *user_data;
    enum wl_hook_depth depth;
    bool activations; /* fill in/out/attention at component and op ends */
};

/* Canonical lowercase names, as stored by the profiler ("attn_norm", "qk",
 * "prefill", ...). Static strings; "unknown" for out-of-range values. */
const char *wl_phase_name(enum wl_phase p);
const char *wl_section_name(enum wl_section s);
const char *wl_component_name(enum wl_component c);
const char *wl_op_name(enum wl_op o);

#endif

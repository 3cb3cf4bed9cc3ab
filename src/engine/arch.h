/* Model architectures and model features.
 *
 * Detects the architecture of a GGUF model from general.architecture and the
 * tensor names (llama-shaped models such as mistral map to llama; an unknown
 * or missing architecture is inferred from tensor names where possible, with
 * a warning), and extracts the features the analyses need: hyperparameters,
 * attention mechanism, MoE, parameter counts computed from tensor shapes, the
 * tensor-type histogram, bits per weight and KV-cache bytes per token.
 * Pure functions over an open wl_gguf; results are plain structs the caller
 * owns (no pointers into the file). Thread-safe.
 */
#ifndef WL_ENGINE_ARCH_H
#define WL_ENGINE_ARCH_H

#include "engine/gguf.h"
#include "engine/tensor_type.h"
#include "util/errmsg.h"

#include <stdbool.h>
#include <stdint.h>

enum wl_arch {
    WL_ARCH_UNKNOWN = 0,
    WL_ARCH_LLAMA, /* llama, mistral and other llama-shaped models */
    WL_ARCH_QWEN2,
    WL_ARCH_PHI3,
    WL_ARCH_GEMMA,
    WL_ARCH_GEMMA2,
    WL_ARCH_STABLELM,
    WL_ARCH_COUNT
};

/* "llama", "qwen2", ...; "unknown" for WL_ARCH_UNKNOWN or out of range. */
const char *wl_arch_name(enum wl_arch a);
/* Maps a general.architecture value ("llama", "mistral", "qwen2", ...) to an
 * architecture; WL_ARCH_UNKNOWN when it is not one we know. */
enum wl_arch wl_arch_from_string(const char *s, uint64_t len);

enum wl_attention {
    WL_ATTN_UNKNOWN = 0,
    WL_ATTN_MHA, /* n_kv_heads == n_heads */
    WL_ATTN_GQA, /* 1 < n_kv_heads < n_heads */
    WL_ATTN_MQA, /* n_kv_heads == 1 < n_heads */
};
const char *wl_attention_name(enum wl_attention a); /* "MHA", "GQA", "MQA", "unknown" */

/* RoPE position scaling by the engine's one rule, read from
 * "<prefix>.rope.scaling.factor" (or, when absent, its old name
 * "<prefix>.rope.scale_linear", as llama.cpp reads it) and
 * "<prefix>.rope.scaling.type": the model loader (model.c) applies it and
 * the features report it. */
struct wl_rope_scaling {
    double scale;   /* positions are divided by it: the factor when it is > 0 and the
                     * type is "linear" or absent; 1 when the factor is absent or
                     * <= 0 or the type is "none"; NaN when refused */
    double factor;  /* the factor as the file has it (1 when absent) */
    bool in_file;   /* the file has the factor (either key) as a number */
    bool type_none; /* rope.scaling.type is "none" */
    bool refused;   /* the factor is not a finite number, or the type is a string
                     * other than "none" and "linear": the engine cannot run it */
};

struct wl_model_features {
    enum wl_arch arch;
    char arch_string[64]; /* general.architecture as written, cut like name ("" if absent) */
    bool arch_inferred;   /* arch came from tensor names, not from metadata */
    char name[128];       /* general.name, cut between characters ("" if absent) */
    char warning[768];    /* non-empty when something was inferred or inconsistent, or the
                           * engine refuses the model (every reason: a metadata-only file
                           * can have seven); "; "-separated; it can quote
                           * general.architecture's bytes (not UTF-8, controls):
                           * escape it to show it (cli_text.h, util/json_text.h) */

    uint32_t n_layers;
    uint32_t hidden_size;       /* embedding length */
    uint32_t intermediate_size; /* feed-forward length */
    uint32_t n_heads;
    uint32_t n_kv_heads;
    uint32_t head_dim;
    enum wl_attention attention;
    uint32_t n_experts; /* 0 for dense models */
    uint32_t n_experts_used;
    uint32_t vocab_size;
    uint32_t context_length;
    uint32_t rope_dim;     /* rope.dimension_count; head_dim when absent (the engine's
                            * and llama.cpp's default) */
    double rope_freq_base; /* 10000 when absent (the llama default) */
    /* RoPE scaling by the engine's rule (wl__rope_scaling_read; when it is
     * refused, a warning says why) */
    struct wl_rope_scaling rope_scaling;
    double norm_eps;       /* rms or layer norm epsilon (0 if absent: the engine
                            * refuses the model, and the warning says so) */
    bool tied_embeddings;  /* no output.weight: the output reuses token_embd */

    /* Parameter counts from tensor shapes. "Per layer" values are the layer
     * totals divided by n_layers (exact for uniform models). */
    uint64_t n_params;
    uint64_t n_params_embedding;
    uint64_t n_params_output;    /* output.weight (+bias); 0 when tied */
    uint64_t n_params_attention; /* all layers: q, k, v, qkv, output, their biases */
    uint64_t n_params_ffn;       /* all layers: gate, up, down, router, experts */
    uint64_t n_params_norm;      /* every norm weight and bias */
    uint64_t n_params_other;     /* anything not classified above */
    uint64_t n_params_attention_per_layer;
    uint64_t n_params_ffn_per_layer;
    uint64_t n_params_active; /* per token: MoE counts only the used experts */

    uint64_t n_tensors;
    uint64_t tensor_bytes; /* sum of tensor data sizes */
    uint64_t file_size;
    double bits_per_weight;                /* 8 * tensor_bytes / n_params; NAN without params */
    uint64_t type_tensors[WL_TTYPE_COUNT]; /* histogram: tensors per type */
    uint64_t type_params[WL_TTYPE_COUNT];  /* parameters per type */
    uint64_t type_bytes[WL_TTYPE_COUNT];   /* bytes per type */
};

/* Detects the architecture and fills f. Fails (WL_EFORMAT, message in err)
 * only when the file does not look like a transformer at all (no metadata
 * and no recognisable tensor names); missing details are left 0 and
 * explained in f->warning. */
int wl_model_features_from_gguf(const wl_gguf *g, struct wl_model_features *f,
                                struct wl_errmsg *err);

/* The norm epsilon's key after "<arch>.": "attention.layer_norm_epsilon"
 * for stablelm (LayerNorm), "attention.layer_norm_rms_epsilon" for the
 * others. llama.cpp requires it, and so does the model loader (model.c);
 * the features read the same key. */
const char *wl__arch_norm_eps_key(enum wl_arch a);

/* The size of a why buffer that holds every message of the wl__metadata_*
 * functions below (the longest: wl__metadata_rope_fits' with two 2^30
 * dimensions); the loader and the features pass buffers of this size. */
#define WL__METADATA_WHY_SIZE 160

/* The metadata value under key as the model loader reads it, and, when it
 * cannot, why, as the words after the key's name in a message, into why
 * (size bytes): the loader's errors ("metadata 'K' <why>") and the
 * features' warnings use these, so both say the same.
 * - wl__metadata_int: any integer type, or a float holding a whole number,
 *   that fits in an int64: "has type STRING, not an integer",
 *   "= 18446744073709551615 is out of range", "= 2.5 is not a whole number";
 * - wl__metadata_num: any number type, finite: "has type STRING, not a
 *   number", "= inf is not a finite number" (*out holds the inf; it is
 *   left alone when key is absent or of another type);
 * - wl__metadata_name: a string without a NUL byte (whose C copy would
 *   read as a shorter name: "llama\0x" as "llama"): "has type UINT32, not
 *   a string", "holds a NUL byte (at offset 5 of its 7 bytes)".
 * Return 0 (*out set), WL_ENOENT when key is absent (why ""), or
 * WL_EFORMAT. */
int wl__metadata_int(const wl_gguf *g, const char *key, int64_t *out, char *why, size_t size);
int wl__metadata_num(const wl_gguf *g, const char *key, double *out, char *why, size_t size);
int wl__metadata_name(const wl_gguf *g, const char *key, struct wl_gguf_str *out, char *why,
                      size_t size);

/* The loader's value rules, in the same words (why, after "metadata 'K' ";
 * the grouping's why is a whole sentence):
 * - wl__metadata_count_check: a count the loader takes, 1..2^30 (a block
 *   count of 0 would be a model without layers): "= 0 is out of range";
 * - wl__metadata_count: wl__metadata_int, then wl__metadata_count_check;
 * - wl__metadata_positive: wl__metadata_num, then > 0 as the float the
 *   loader keeps (the RoPE base: its frequencies are base^(-2i/d); the
 *   norm epsilon: a divisor's floor): "= 0 must be > 0"; *out holds the
 *   value read even when it is refused;
 * - wl__metadata_layers_fit: a block count (a count as above) no larger
 *   than the file's tensor count, as every layer has several tensors:
 *   "= 9 but the file has only 8 tensors (every layer needs several)";
 * - wl__metadata_grouping: n_head (> 0) query heads share n_head_kv (> 0)
 *   KV heads evenly: "7 heads cannot be grouped over 2 KV heads";
 * - wl__metadata_embd_fits: the embedding length is the width of
 *   'token_embd.weight' (when the file has it), checked before the head
 *   shape derived from it: "= 32 but tensor 'token_embd.weight' has rows of
 *   64 values";
 * - wl__metadata_heads_divide: the embedding length (> 0) splits evenly over
 *   n_head (> 0) heads: "embedding length 10 is not a multiple of 3 heads";
 * - wl__metadata_rope_fits: the RoPE dimension (rope.dimension_count, else
 *   the head dimension) is even, as RoPE turns pairs of values, and at most
 *   the head dimension, the values of a head it turns: "rope dimension 7
 *   does not fit head dimension 8 (it must be even and at most the head
 *   dimension)".
 * Return 0, WL_ENOENT (the readers: key absent, why "") or WL_EFORMAT. */
int wl__metadata_count_check(int64_t v, char *why, size_t size);
int wl__metadata_count(const wl_gguf *g, const char *key, int64_t *out, char *why, size_t size);
int wl__metadata_positive(const wl_gguf *g, const char *key, double *out, char *why, size_t size);
int wl__metadata_layers_fit(int64_t n_layer, uint64_t n_tensors, char *why, size_t size);
int wl__metadata_grouping(int64_t n_head, int64_t n_head_kv, char *why, size_t size);
int wl__metadata_embd_fits(const wl_gguf *g, int64_t dim, char *why, size_t size);
int wl__metadata_heads_divide(int64_t dim, int64_t n_head, char *why, size_t size);
int wl__metadata_rope_fits(int64_t rope_dim, int64_t head_dim, char *why, size_t size);

/* A float rule of the shape above (wl__metadata_num, wl__metadata_positive). */
typedef int (*wl__metadata_num_fn)(const wl_gguf *g, const char *key, double *out, char *why,
                                   size_t size);

/* The range a float key must be in beyond its rule: lo < v (lo <= v when
 * lo_closed) and v <= hi, as the float the loader keeps (hi = FLT_MAX
 * refuses a value past float's range); words: what follows "must be " in
 * the refusal, the interval and why. */
struct wl__metadata_range {
    double lo;
    bool lo_closed;
    double hi;
    const char *words;
};

/* The loader's getters: "<prefix>.<suffix>" as a count (wl__metadata_count)
 * or by rule read as a float, refused outside range (NULL: any), into *out
 * (def when absent and optional). Return 0 or WL_EFORMAT with "metadata 'K'
 * is missing", "metadata 'K' <why>" or "metadata 'K' = V must be <words>"
 * in err; *out is left alone on an error. */
int wl__metadata_get_i32(const wl_gguf *g, const char *prefix, const char *suffix, bool optional,
                         int32_t def, int32_t *out, struct wl_errmsg *err);
int wl__metadata_get_f32(const wl_gguf *g, const char *prefix, const char *suffix,
                         wl__metadata_num_fn read, bool optional, float def,
                         const struct wl__metadata_range *range, float *out, struct wl_errmsg *err);

/* The integer keys the loader reads (after "<arch>."; read_config in
 * model.c reads each by its index, the features check every one). */
enum wl__config_int {
    WL__CONFIG_BLOCK_COUNT,
    WL__CONFIG_EMBEDDING_LENGTH,
    WL__CONFIG_FEED_FORWARD_LENGTH,
    WL__CONFIG_HEAD_COUNT,
    WL__CONFIG_HEAD_COUNT_KV,
    WL__CONFIG_KEY_LENGTH,
    WL__CONFIG_ROPE_DIMENSION_COUNT,
    WL__CONFIG_CONTEXT_LENGTH,
    WL__CONFIG_INT_COUNT
};
extern const char *const wl__config_int_keys[WL__CONFIG_INT_COUNT];

/* Fills r (always) and returns 0, or, when r->refused, WL_EFORMAT (the
 * factor is not a finite number or not a number, the type not a string:
 * "metadata 'K' <why>" in wl__metadata_num's and wl__metadata_name's words)
 * or WL_ENOTSUP (a scaling type other than none and linear) with the
 * message the loader gives in err (which may be NULL). */
int wl__rope_scaling_read(const wl_gguf *g, const char *prefix, struct wl_rope_scaling *r,
                          struct wl_errmsg *err);

/* The family keys and tensors the gemma2 and phi3 loaders read
 * (forward_gemma.c, forward_phi3.c), by the loader's rules: the loader and
 * the features (model info's warning) refuse the same files in the same
 * words. Absent keys take their defaults (llama.cpp's). */
struct wl__family_meta {
    float attn_softcap;     /* gemma2.attn_logit_softcapping: >= 0 (0: off); 50 */
    float final_softcap;    /* gemma2.final_logit_softcapping: >= 0 (0: off); 30 */
    int32_t sliding_window; /* gemma2.attention.sliding_window: a count; 4096 */
    float rope_attn_factor; /* phi3.rope.scaling.attn_factor: in (0, WL__ROPE_ATTN_FACTOR_MAX]; 1 */
    int32_t rope_n_ctx_orig; /* phi3.rope.scaling.original_context_length: a count;
                              * n_ctx_train */
};

/* The largest phi3 LongRoPE attention factor the engine takes. The factor
 * multiplies cos and sin, so every q.k score by its square and every K in
 * the (F16) cache by itself; LongRoPE's sqrt(1 + ln(s) / ln(L)) is 1.19 for
 * a 32-fold context (Phi-3 128k) and reaches 2 only at s = L^3. A factor
 * past this bound is no LongRoPE factor, and a huge one overflows the
 * scores (NaN logits). */
#define WL__ROPE_ATTN_FACTOR_MAX 4.0

/* Fills m for family a (prefix: the keys' "<arch>"; n_ctx_train: the
 * default original context) and returns 0, or WL_EFORMAT with the
 * loader's message in err: "metadata 'K' <why>" for a key, a sentence for
 * phi3's LongRoPE factor tensors, which come in pairs. Other families: the
 * defaults, 0. */
int wl__family_meta_read(const wl_gguf *g, enum wl_arch a, const char *prefix, int32_t n_ctx_train,
                         struct wl__family_meta *m, struct wl_errmsg *err);

/* Bytes of K and V cache per token of context for cache_type (F32, F16, BF16,
 * Q8_0, Q4_0, ...): 2 * n_layers * n_kv_heads * head_dim elements. WL_EINVAL
 * when the features lack the dimensions or the row does not fit the block
 * size of cache_type; WL_ERANGE when the bytes do not fit in 64 bits (absurd
 * hyperparameters: never a wrapped number). *bytes is set only on success. */
int wl_model_kv_bytes_per_token(const struct wl_model_features *f, enum wl_ttype cache_type,
                                uint64_t *bytes);

#endif

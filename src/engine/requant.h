/* Whole-model (re)quantization: turns an open GGUF model into a writer whose
 * weight matrices are stored in another tensor type, and the type-choice rule
 * shared with model synthesis. Per-row conversion uses engine/quant (the
 * reference quantizers), split over a thread pool's threads by rows; this
 * module decides what to convert and keeps the metadata consistent
 * (general.file_type, general.quantization_version). Stateless; thread-safe
 * (one conversion per pool at a time). Tensors are converted when the writer
 * writes the file, one at a time, so the output is never all in memory.
 */
#ifndef WL_ENGINE_REQUANT_H
#define WL_ENGINE_REQUANT_H

#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/tensor_type.h"
#include "engine/threadpool.h"
#include "util/errmsg.h"

#include <stdbool.h>
#include <stdint.h>

/* The type a matrix is stored in when `want` is requested: one whose row
 * length ne0 is not a multiple of want's block size falls back to Q8_0 (rows
 * multiple of 32), else F16. That is llama.cpp's habit for small or odd
 * dimensions. For 1-D tensors (norms, biases) it says F32, the type model
 * synthesis stores them in; wl_requant_model keeps those in their source
 * type instead (wl_requant_converts). */
enum wl_ttype wl_requant_pick_type(enum wl_ttype want, uint32_t n_dims, uint64_t ne0);

/* True when wl_requant_model converts the tensor named name with n_dims
 * dimensions to the requested type: a weight matrix. llama.cpp's
 * llama_model_quantize_impl rules: the name ends in "weight", it has 2 or
 * more dimensions, and it is none of the tensors kept as they are whatever
 * their shape: norms (*_norm.weight, also 2-D ones such as per-head Q/K
 * norms), MoE routers (ffn_gate_inp.weight), position embeddings and token
 * types (position_embd.weight, token_types.weight), Mamba's and RWKV's small
 * 2-D weights (ssm_conv1d, shortconv.conv, time_mix_*), T5's relative
 * position bias (attn_rel_b), Gemma-3n's altup, laurel and
 * per_layer_model_proj. Everything else keeps its source type. */
bool wl_requant_converts(const char *name, uint32_t n_dims);

/* llama.cpp's general.file_type value for a model mostly of type t
 * (F32 0, F16 1, Q4_0 2, Q8_0 7, Q4_K 14 (Q4_K_S), Q6_K 18, BF16 32); -1 if none. */
int32_t wl_requant_file_type(enum wl_ttype t);

struct wl_requant_stats {
    uint64_t n_converted; /* tensors stored in a new type */
    uint64_t n_fallback;  /* of those, stored in a fallback type (odd row length) */
    uint64_t n_copied;    /* tensors copied unchanged (not converted, see
                           * wl_requant_converts, or already the type) */
    uint64_t bytes_in, bytes_out;
    /* The weight matrices (wl_requant_converts) by what they became: in the requested type
     * (converted or already of it), or in each fallback type because their
     * rows are not whole blocks of the requested type; the row lengths of
     * those, smallest and largest (0 when none fell back). */
    uint64_t n_matrices;
    uint64_t n_requested;
    uint64_t n_fallback_to[WL_TTYPE_COUNT];
    uint64_t fallback_row_min, fallback_row_max;
};

/* Counts in st's matrix fields (n_matrices, n_requested, n_fallback_to,
 * fallback_row_min/max) one matrix of rows of ne0 values stored as dst when
 * want was asked for: how wl_requant_model counts, and model synthesis too
 * (synth.h), so that both report what the file holds in one way. */
void wl_requant_count_matrix(struct wl_requant_stats *st, enum wl_ttype want, enum wl_ttype dst,
                             uint64_t ne0);

/* Called as each tensor is written, after it is converted or copied:
 * tensors done and in all, and source bytes done and in all. */
typedef void (*wl_requant_progress_fn)(void *arg, uint64_t tensors_done, uint64_t n_tensors,
                                       uint64_t bytes_done, uint64_t bytes_total);

struct wl_requant_opts {
    struct wl_threadpool *pool;      /* rows split over its threads; NULL: caller only */
    wl_requant_progress_fn progress; /* NULL: none */
    void *progress_arg;
};

/* Fills w (empty) with every key of in (general.file_type and
 * general.quantization_version updated) and every tensor, matrices to be
 * converted to `type` (F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K). The
 * conversion runs when w is written (wl_gguf_writer_write or _to_memory), so
 * in, opts->pool and opts->progress_arg must stay valid until then; a
 * conversion that fails there fails the write, and err names the tensor.
 * The output does not depend on the pool's size (rows are converted
 * independently). opts may be NULL. Fails here with WL_EINVAL for an
 * unsupported target and WL_ENOTSUP when a source tensor's type cannot be
 * dequantized; err names the tensor. stats (may be NULL) counts what the
 * write will hold. */
int wl_requant_model(const wl_gguf *in, enum wl_ttype type, const struct wl_requant_opts *opts,
                     wl_gguf_writer *w, struct wl_requant_stats *stats, struct wl_errmsg *err);

#endif

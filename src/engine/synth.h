/* Synthetic models: deterministic pseudo-random weights in the exact tensor
 * layout and metadata keys real GGUF files of a family use, so the engine,
 * the profiler and the benchmarks can run on any shape without downloads.
 *
 * Weights are uniform in +-sqrt(3 / fan_in) (unit variance through every
 * matmul) and norm weights are 1, so forward passes stay finite at any depth.
 * The same parameters and seed always give the same bytes. Tokenizer
 * metadata is copied from a vocabulary GGUF (with its general.name, a
 * tokenizer hint, so the copy tokenizes as the source) or generated as a
 * byte-level SentencePiece-style vocabulary (general.name without the
 * family, so it tokenizes the same for every family); what synth made is in
 * wattlens.synth.name and wattlens.synth.seed. Families are rows of a table in synth.c:
 * llama, qwen2, phi3 (with LongRoPE factors), gemma, gemma2, stablelm;
 * outside llama, norm weights are 1 + uniform(+-0.2) and biases
 * uniform(+-0.1) so every family-specific part matters.
 * Stateless; thread-safe. Tensors are heap buffers owned by the writer.
 */
#ifndef WL_ENGINE_SYNTH_H
#define WL_ENGINE_SYNTH_H

#include "engine/arch.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/requant.h"
#include "engine/tensor_type.h"
#include "util/errmsg.h"

#include <stdint.h>

struct wl_synth_params {
    enum wl_arch arch;
    uint32_t n_layers;
    uint32_t dim; /* hidden size */
    uint32_t ffn; /* feed-forward size */
    uint32_t n_heads;
    uint32_t n_kv_heads;
    uint32_t vocab_size;       /* byte-level vocabulary size (>= 259) when vocab_from is NULL */
    const wl_gguf *vocab_from; /* copy tokenizer.* keys from here (borrowed) */
    enum wl_ttype type;        /* matrices; 1-D tensors stay F32; odd rows fall back (requant.h) */
    uint64_t seed;
    uint32_t context_length;
    double rope_freq_base;
    double norm_eps;
};

/* llama, 2 layers, dim 64, ffn 172, 8 heads, 4 KV heads, vocab 512, F32,
 * seed 1, context 2048, rope base 10000, eps 1e-5. */
void wl_synth_default_params(struct wl_synth_params *p);

/* The checks wl_synth_model makes before any work: WL_EINVAL with a message
 * for inconsistent shapes or an unsupported weight type, WL_ENOTSUP for an
 * architecture with no synth family (WL_ARCH_UNKNOWN: every known one has
 * one); 0 when p can be synthesized (a vocab_from file
 * can still lack a tokenizer). A caller checks options with it first. */
int wl_synth_check(const struct wl_synth_params *p, struct wl_errmsg *err);

/* Fills the empty writer w with metadata and tensors for p. Fails as
 * wl_synth_check first; then with the cause (out of memory, a vocab_from
 * file without a tokenizer). */
int wl_synth_model(const struct wl_synth_params *p, wl_gguf_writer *w, struct wl_errmsg *err);

/* wl_synth_model, and counts in *stats (zeroed first) what the matrices
 * became: in p->type or in a fallback type (wl_requant_count_matrix), plus
 * n_converted (every tensor, all new) and bytes_out (their data bytes), so
 * a caller can say, as `model quantize` does, which did not take p->type. */
int wl_synth_model_stats(const struct wl_synth_params *p, wl_gguf_writer *w,
                         struct wl_requant_stats *stats, struct wl_errmsg *err);

#endif

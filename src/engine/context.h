/* An inference context: the run state of n_seq sequences (1 by default, up
 * to WL_CONTEXT_MAX_SEQ with batching) over a loaded model (KV cache with
 * n_ctx positions per sequence, activation buffers, logits, thread pool,
 * hooks).
 *
 * Everything is allocated by wl_context_create(); prefill and decode allocate
 * nothing. Prefill runs the prompt in batches of n_ubatch tokens (matrix x
 * matrix products), decode runs one token (matrix x vector).
 *
 * Lifetime: a context borrows its model, which must outlive it. Thread-safety:
 * one thread drives a context at a time; several contexts may share a model.
 */
#ifndef WL_ENGINE_CONTEXT_H
#define WL_ENGINE_CONTEXT_H

#include "engine/hooks.h"
#include "engine/model.h"
#include "engine/tensor_type.h"
#include "util/errmsg.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wl_context wl_context;

struct wl_context_params {
    int32_t n_ctx;      /* positions the KV cache holds; 0 = the model's training length capped at 4096 */
    int32_t n_ubatch;   /* prompt tokens per forward batch (default 64) */
    int32_t n_threads;  /* worker threads including the caller; 0 = the CPUs it may run
                         * on (affinity mask: wl_threadpool_default_threads) */
    enum wl_ttype kv_type; /* WL_TTYPE_F16 (default) or WL_TTYPE_F32 */
    int32_t n_seq;      /* sequences run together (batching); 1 (default) .. WL_CONTEXT_MAX_SEQ.
                         * Each has its own n_ctx positions; n_ubatch is raised to n_seq */
    int32_t n_ctx_rope; /* the context length phi3 LongRoPE picks its factors for (the long
                         * ones above rope.scaling.original_context_length); 0 (default) =
                         * n_ctx. A caller that sizes n_ctx to one request passes the
                         * training length, so the text does not depend on the request's
                         * size (llama.cpp's -c 0 does the same) */
};

#define WL_CONTEXT_MAX_SEQ 256

struct wl_context_params wl_context_default_params(void);

int wl_context_create(const wl_model *m, const struct wl_context_params *p, wl_context **out,
                      struct wl_errmsg *err);
void wl_context_free(wl_context *ctx);

/* Attaches hooks (copied) or detaches them (NULL or depth NONE). */
void wl_context_set_hooks(wl_context *ctx, const struct wl_hooks *hooks);
const struct wl_hooks *wl_context_hooks(const wl_context *ctx); /* NULL when none */

/* Reports a phase / section / token boundary through the attached hooks
 * (used by the generation loop; a no-op without hooks at depth TOKEN). A
 * token span is one decode round; n_seq is passed on as the event's n_tok:
 * at begin the sequences running in it (1 for a single sequence), at end
 * those that produced a token (0 when the step failed; hooks.h). */
void wl_context_emit_phase(wl_context *ctx, enum wl_phase phase, bool begin);
void wl_context_emit_section(wl_context *ctx, enum wl_section section, bool begin);
void wl_context_emit_token(wl_context *ctx, int32_t index, bool begin, int32_t n_seq, int32_t id,
                           const char *text, size_t text_len);

/* A flag (borrowed until replaced; NULL, the default, for none) that an
 * evaluation checks before each forward batch after its first: when it is
 * non-zero, wl_context_prefill / wl_context_eval_seqs stop there with
 * WL_ECANCELED ("cancelled after K of N tokens"); the K tokens run stay in
 * the KV cache and there are no logits. A long prompt is several batches of
 * n_ubatch tokens, so a cancel (e.g. from a SIGINT handler) is honoured
 * within one batch. A decode step is one batch and never checks it. */
void wl_context_set_cancel(wl_context *ctx, volatile sig_atomic_t *cancel);

/* Single-sequence API (sequence 0). Runs n tokens at the current position (prefill; n may exceed n_ubatch) and
 * leaves the logits of the last one in wl_context_logits(). Fails with
 * WL_EFULL (and a message) when the tokens do not fit in the context, with
 * WL_EINVAL for a token id outside the vocabulary; nothing is run then. */
int wl_context_prefill(wl_context *ctx, const int32_t *tokens, int32_t n, struct wl_errmsg *err);

/* One token (decode step); same contract with n = 1. */
int wl_context_decode(wl_context *ctx, int32_t token, struct wl_errmsg *err);

/* Batching (several sequences in one context): runs n tokens, token i in
 * sequence seq[i] (0..n_seq-1) at that sequence's next position, all in
 * the same forward batches (each weight matrix is read once per batch for
 * every sequence). Logits are computed for the tokens with want_logits[i]
 * (NULL: none; at most n_seq of them) and read with wl_context_logits_row
 * in token order. Fails before running anything with WL_EINVAL (bad id or
 * sequence, too many logits rows) or WL_EFULL (a sequence would overflow
 * its n_ctx positions). Prefill of several prompts is one call with every
 * prompt's tokens; a decode step is one call with one token per sequence. */
int wl_context_eval_seqs(wl_context *ctx, const int32_t *tokens, const int32_t *seq,
                         const bool *want_logits, int32_t n, struct wl_errmsg *err);

/* Row i of the logits of the last evaluation (NULL when out of range);
 * prefill/decode leave one row. Writable, overwritten by the next run. */
float *wl_context_logits_row(wl_context *ctx, int32_t i);

int32_t wl_context_n_seq(const wl_context *ctx);
/* Positions used by one sequence; wl_context_n_past is sequence 0's. */
int32_t wl_context_seq_n_past(const wl_context *ctx, int32_t seq);
/* Forgets one sequence (wl_context_reset forgets all). */
void wl_context_seq_reset(wl_context *ctx, int32_t seq);

/* Logits (vocab_size floats) of the last token run. The caller may modify
 * them (the sampler does); they are overwritten by the next prefill/decode. */
float *wl_context_logits(wl_context *ctx);

/* Positions used so far, and the capacity. */
int32_t wl_context_n_past(const wl_context *ctx);
int32_t wl_context_n_ctx(const wl_context *ctx);
/* Tokens per forward batch: the n_ubatch asked for, raised to n_seq and
 * capped at n_ctx x n_seq (a prompt batch holds up to this many). */
int32_t wl_context_n_ubatch(const wl_context *ctx);

/* Forgets the sequence (KV cache positions) so the context can start anew. */
void wl_context_reset(wl_context *ctx);

/* Bytes of the KV cache and of all run-state buffers. */
uint64_t wl_context_kv_bytes(const wl_context *ctx);
uint64_t wl_context_state_bytes(const wl_context *ctx);

int32_t wl_context_n_threads(const wl_context *ctx);
/* True when the model's LongRoPE long factors are in use (phi3 with both
 * factor sets, n_ctx_rope above the original context length). */
bool wl_context_rope_long(const wl_context *ctx);
const wl_model *wl_context_model(const wl_context *ctx);

#endif

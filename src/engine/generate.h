/* Text generation: prompt -> tokens -> prefill -> (sample, decode)* -> text,
 * with the phase, section and token boundaries the profiler attaches to
 * (engine/hooks.h) and the stop conditions: an end-of-generation token of
 * the vocabulary, the token limit, a full context, or a cancellation flag.
 *
 * Phases and what they contain:
 *   pre_inference  tokenize, input_setup (sampler reset), kv_init (context reset)
 *   prefill        the prompt's forward pass (embedding, layers, final_norm, output)
 *   decode         one TOKEN span per generated token i: for i > 0 the forward
 *                  pass of token i-1, then sampling and detokenize (the piece);
 *                  token 0 is sampled from the prefill's logits, so its span
 *                  holds sampling only
 *   post_inference detokenize (the whole output text), cleanup
 *
 * Cancellation: the flag is read before each decode step and, through the
 * context (wl_context_set_cancel, set for the prefill only), between the
 * prompt's forward batches of n_ubatch tokens, so a long prompt stops within
 * one batch. Cancelled in prefill, the result has stop WL_STOP_CANCELLED, no
 * token and an empty text, and the decode phase opens and closes at once.
 *
 * Lifetime: wl_generate borrows everything it is given; the result's text
 * is owned by the caller (free()). Thread-safety: one generation per context;
 * the cancel flag may be set from any thread (or a signal handler).
 */
#ifndef WL_ENGINE_GENERATE_H
#define WL_ENGINE_GENERATE_H

#include "engine/context.h"
#include "engine/sampling.h"
#include "engine/tokenizer.h"
#include "util/errmsg.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wl_stop_reason {
    WL_STOP_ERROR, /* the generation failed (it returned an error); 0, so a zeroed result says so */
    WL_STOP_EOG,   /* the model produced an end-of-generation token */
    WL_STOP_MAX_TOKENS,   /* n_predict tokens were generated */
    WL_STOP_CONTEXT_FULL, /* no room left in the context */
    WL_STOP_CANCELLED,    /* *cancel was set */
};

const char *wl_stop_reason_name(enum wl_stop_reason r);

/* Called with each generated token's text as soon as it is complete UTF-8
 * (bytes of a character split over tokens are held back until whole). */
typedef void (*wl_generate_text_fn)(void *user_data, const char *text, size_t len);

struct wl_generate_params {
    const char *prompt;     /* UTF-8; may be empty (then the model starts from BOS) */
    int32_t n_predict;      /* max tokens to generate (> 0) */
    struct wl_token_sampler_params sampling;
    bool parse_special;     /* recognise special-token text in the prompt */
    volatile sig_atomic_t *cancel; /* optional: generation stops when it becomes non-zero */
    wl_generate_text_fn on_text;
    void *user_data;
};

struct wl_generate_result {
    int32_t n_prompt;        /* prompt tokens, BOS included */
    int32_t n_generated;     /* tokens sampled (an EOG token that stopped generation is counted) */
    enum wl_stop_reason stop;
    uint64_t t_tokenize_ns;
    uint64_t t_prefill_ns;
    uint64_t t_first_token_ns; /* from start (before tokenization) to the first token */
    /* the decode steps: from the end of token 0 (sampled from the prefill's
     * logits, its text given out) to the end of the last step, so
     * n_generated - 1 tokens over this is the decode rate; 0 when no step
     * ran (n_generated <= 1) */
    uint64_t t_decode_ns;
    uint64_t t_total_ns;
    struct wl_tok_stats tok_stats; /* the prompt's tokenization profile */
    char *text;                /* the generated text (caller frees), NUL-terminated */
    size_t text_len;
};

struct wl_generate_params wl_generate_default_params(void);

/* Runs one generation on ctx (reset first) with the model's tokenizer.
 * Errors: WL_EINVAL (bad parameters, a prompt that tokenizes to nothing),
 * WL_EFULL (the prompt has more tokens than the context has positions),
 * WL_EFORMAT (the tokenizer has more tokens than the model has rows),
 * WL_ERANGE (a non-finite logit for an id that can be sampled), WL_ENOMEM,
 * a tokenizer error, or an evaluation's error (wl_context_prefill or
 * wl_context_decode, e.g. the kernels refusing a weight); the message says what. A cancellation is
 * not an error (stop WL_STOP_CANCELLED). A prompt that fills the context exactly still gives one
 * token (sampled from its last logits), then stops with WL_STOP_CONTEXT_FULL; a full context after
 * at least one token is not an error. */
int wl_generate(wl_context *ctx, const wl_tokenizer *tok, const struct wl_generate_params *p,
                struct wl_generate_result *res, struct wl_errmsg *err);

void wl_generate_result_free(struct wl_generate_result *res);

/* The context positions a generation needs when the caller does not choose
 * them: the longest of the n prompts (NULL entries: empty; tokenized as
 * wl_generate will, BOS and p->parse_special included) plus p->n_predict,
 * at most the model's training context. Sized in tokens, not bytes: with a
 * byte-fallback vocabulary one byte of text can be several tokens. Sets
 * *n_ctx and, when not NULL, *n_prompt_max (the longest prompt's tokens).
 * Errors: WL_EFULL when a prompt alone is longer than the training context
 * (the message says both lengths; a caller may still ask for a larger
 * context itself), WL_EINVAL for bad parameters, WL_ENOMEM. */
int wl_generate_default_n_ctx(const wl_model *m, const wl_tokenizer *tok,
                              const struct wl_generate_params *p, const char *const *prompts,
                              int32_t n, int32_t *n_ctx, int32_t *n_prompt_max,
                              struct wl_errmsg *err);

/* Whether each of the n prompts (NULL entries: empty) fits in a context of
 * n_ctx positions a sequence, tokenized as wl_generate will: 0, or WL_EFULL
 * with the message wl_generate (n == 1) or wl_generate_batch (n > 1: "prompt
 * I ...") would give for the first one that does not, so that a caller can
 * refuse it before it records anything. A tokenizer error is returned as
 * wl_generate would; other prompt errors (one that gives no token) are left
 * to the generation. */
int wl_generate_check_prompts_fit(const wl_tokenizer *tok, const struct wl_generate_params *p,
                                  const char *const *prompts, int32_t n, int32_t n_ctx,
                                  struct wl_errmsg *err);

/* ---- batched generation (engine/generate_batch.c) ---------------------------
 * n_seq prompts generated together in one context created with n_seq >= n
 * (wl_context_params.n_seq): all prompts in one prefill, then one decode
 * step per round for every sequence still running, so each weight matrix is
 * read once per step for all of them. Each sequence stops on its own (end of
 * generation, n_predict, its context full); cancellation stops all.
 * Sequence i samples with seed sampling.seed + i, so it produces exactly
 * what wl_generate produces alone for its prompt with that seed (greedy:
 * whatever the seed).
 *
 * Hooks: the phases as in wl_generate; a TOKEN span is one decode round
 * (event n_tok = sequences running in the round, each sampling one token:
 * all n_seq in round 0, which samples from the prefill's logits, then those
 * in the round's forward pass); its end carries the id of the lowest-numbered
 * sequence that ran, and its piece only when one sequence ran. Sequence i
 * runs in rounds 0 .. n_generated - 1 (it never resumes once stopped). */

/* Called with sequence seq's text as it completes (as wl_generate_text_fn). */
typedef void (*wl_generate_seq_text_fn)(void *user_data, int32_t seq, const char *text,
                                        size_t len);

struct wl_generate_batch_params {
    const char *const *prompts; /* n_seq prompts (NULL entries: empty) */
    int32_t n_seq;
    wl_generate_seq_text_fn on_text; /* optional */
    void *user_data;
};

/* The whole batch: wall-clock phases shared by every sequence. */
struct wl_generate_batch_stats {
    int32_t n_prompt;      /* prompt tokens of all sequences */
    int32_t n_generated;   /* tokens sampled by all sequences */
    int32_t n_rounds;      /* decode rounds after the first token */
    /* t_decode_ns: the decode rounds, from the end of round 0 (every
     * sequence's first token, from the prefill's logits) to the end of the
     * last round, so n_generated - n_seq tokens over it is the decode rate;
     * 0 when no round ran (n_rounds 0) */
    uint64_t t_tokenize_ns, t_prefill_ns, t_decode_ns, t_total_ns;
};

/* Runs the batch; res is an array of b->n_seq results (each with its own
 * text, counts and stop reason; timing fields hold the shared phases).
 * p->prompt and p->on_text are not used. Errors as wl_generate, plus
 * WL_EINVAL when the context holds fewer than n_seq sequences. On error
 * every res[i] is empty. */
int wl_generate_batch(wl_context *ctx, const wl_tokenizer *tok, const struct wl_generate_params *p,
                      const struct wl_generate_batch_params *b, struct wl_generate_result *res,
                      struct wl_generate_batch_stats *stats, struct wl_errmsg *err);

/* Internal (generate.c, used by both loops): 0 when the n logits that can
 * be sampled (ids 0..n-1: padding rows are not looked at) are finite, else
 * WL_ERANGE with a message naming the first bad one, its sequence (seq >= 0;
 * -1 for wl_generate) and the step. */
int wl__generate_check_logits(const wl_context *ctx, const float *l, int32_t n, int32_t seq,
                              int32_t step, struct wl_errmsg *err);
/* The ids a generation samples from, in *n: the tokenizer's (padding rows
 * past it are never sampled, model.h); WL_EFORMAT when the tokenizer has
 * more tokens than the model has embeddings. */
int wl__generate_n_sample(const wl_context *ctx, const wl_tokenizer *tok, int32_t *n,
                          struct wl_errmsg *err);
/* Feeds the prompt to a sequence's streaming decoder (initialised, empty)
 * without output, so the leading-space rule applies only right after BOS
 * (an empty prompt), as in SentencePiece; then drops the bytes of a prompt
 * that ends inside a character: they are the prompt's, and only generated
 * text is output (they would come out as U+FFFD). piece: piece_cap bytes
 * of scratch. */
void wl__generate_decoder_prime(struct wl_tok_decoder *dec, const int32_t *prompt, size_t n_prompt,
                                char *piece, size_t piece_cap);
/* Tokens a sequence's text buffer is sized for: n_predict, at most the
 * context's free positions + 1 (the first token comes from the prefill's
 * logits). */
int64_t wl__generate_text_tokens(const wl_context *ctx, size_t n_prompt, int32_t n_predict);
/* Bytes of a sequence's text buffer: the longest piece (piece_cap + 4) for
 * every token of wl__generate_text_tokens, + 1; 0 when that is past
 * WL__GENERATE_ALLOC_MAX (the caller refuses it before allocating). */
size_t wl__generate_text_cap(const wl_context *ctx, size_t n_prompt, int32_t n_predict,
                             size_t piece_cap);
/* The largest single allocation: malloc refuses anything above PTRDIFF_MAX
 * (pointer differences must fit), so a size above it is refused before
 * any allocation, and size arithmetic checked against it cannot wrap. */
#define WL__GENERATE_ALLOC_MAX ((size_t)PTRDIFF_MAX)
/* What an out-of-memory message adds for a size refused before allocating. */
#define WL__GENERATE_TOO_LARGE ", more than can be allocated"
/* The out-of-memory message of a text buffer of n_tok pieces (piece_cap + 4
 * bytes each) and a NUL: seq < 0 for wl_generate's one buffer, else
 * sequence seq of n_seq, whose text buffers need total bytes together;
 * refused: the size was refused before any allocation. Returns WL_ENOMEM. */
int wl__generate_text_oom(struct wl_errmsg *err, int32_t seq, int32_t n_seq, double total,
                          int64_t n_tok, size_t piece_cap, bool refused);
/* The message of wl_token_sampler_create's rc (bad parameters, or out of
 * memory with the sampler's bytes) for sp and n_sample; seq < 0 for
 * wl_generate's one sampler, else sequence seq's. Returns rc. */
int wl__generate_sampler_error(struct wl_errmsg *err, int rc,
                               const struct wl_token_sampler_params *sp, int32_t n_sample,
                               int32_t seq);
/* The message of a prompt of n_bytes bytes that gave no tokens (an empty
 * prompt, or one whose every byte the vocabulary dropped, on a vocabulary
 * that adds no BOS): which, whether the vocabulary has no BOS, or has one
 * and does not add it (why, as far as the vocabulary's kind tells), and the
 * remedy (-p for an empty prompt, tokenizable text for one whose bytes were
 * dropped). seq < 0 for wl_generate's prompt, else prompt seq's. Returns
 * WL_EINVAL. */
int wl__generate_empty_prompt(const wl_tokenizer *tok, int32_t seq, size_t n_bytes,
                              struct wl_errmsg *err);
/* The message of a prompt of n_prompt tokens past a context of n_ctx
 * positions (a prompt of n_ctx tokens still fits: the first token is
 * sampled from the prefill's logits), with the -c that would hold it.
 * seq < 0 for wl_generate's prompt, else prompt seq's. Returns WL_EFULL. */
int wl__generate_prompt_too_long(int32_t seq, size_t n_prompt, int32_t n_ctx,
                                 struct wl_errmsg *err);
/* Bytes for a message, in binary units with one decimal ("1.2 GiB"), plain
 * below 1 KiB; a double, so a size past SIZE_MAX prints too. Returns buf. */
const char *wl__generate_bytes_text(char *buf, size_t size, double bytes);

#endif

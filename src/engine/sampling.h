/* Token sampling from logits: repetition penalty, then greedy (temperature
 * 0) or temperature + top-k + top-p + min-p and a draw from a seeded
 * generator. Same seed, same logits, same choices: runs are reproducible.
 *
 * Lifetime: wl_token_sampler_create allocates every buffer (vocab-sized candidate
 * array and, from 256 ids, a second one for the radix sort; recent-token
 * ring); sampling allocates nothing. Thread-safety: one
 * sampler per sequence, used by one thread.
 */
#ifndef WL_ENGINE_SAMPLING_H
#define WL_ENGINE_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

struct wl_token_sampler_params {
    float temperature;    /* <= 0: greedy (argmax) */
    int32_t top_k;        /* keep the k most likely; <= 0: all */
    float top_p;          /* keep the smallest set with cumulative p >= top_p; >= 1: off */
    float min_p;          /* drop tokens with p < min_p * p_max; <= 0: off */
    float repeat_penalty; /* 1: off; logits of recent tokens: l > 0 ? l / r : l * r */
    int32_t repeat_last_n; /* how many recent tokens the penalty looks at */
    uint64_t seed;
};

typedef struct wl_token_sampler wl_token_sampler;

/* Defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat
 * penalty 1.0 (off) over the last 64 tokens, as llama.cpp's CLI; and seed 0,
 * wattlens's own choice so that runs reproduce (llama.cpp's default seed,
 * LLAMA_DEFAULT_SEED, draws a random one). */
struct wl_token_sampler_params wl_token_sampler_default_params(void);

/* Bytes wl_token_sampler_create allocates for p and vocab_size (for an
 * out-of-memory message); SIZE_MAX when they do not fit in a size_t. */
size_t wl_token_sampler_bytes(const struct wl_token_sampler_params *p, int32_t vocab_size);

/* Returns WL_EINVAL for nonsensical parameters (NaN, negative penalty),
 * WL_ENOMEM. */
int wl_token_sampler_create(const struct wl_token_sampler_params *p, int32_t vocab_size, wl_token_sampler **out);
void wl_token_sampler_free(wl_token_sampler *s);

/* Picks a token from logits (vocab_size floats; modified in place by the
 * penalty). Does not record it: call wl_token_sampler_accept with what was used. */
int32_t wl_token_sampler_sample(wl_token_sampler *s, float *logits);

/* Records a token for the repetition penalty (prompt tokens too). */
void wl_token_sampler_accept(wl_token_sampler *s, int32_t token);

/* Forgets recent tokens and reseeds. */
void wl_token_sampler_reset(wl_token_sampler *s);

/* ---- internal, for the tests ------------------------------------------------ */

/* wl_token_sampler_sample with the draw u in [0, 1) given instead of taken
 * from the generator (which it leaves alone). */
int32_t wl__token_sampler_sample_u(wl_token_sampler *s, float *logits, double u);

/* The top-k stage alone: writes into ids (vocab_size entries) the ids of the
 * k largest logits (all of them for k <= 0 or k >= vocab_size), largest
 * first, equal logits by lower id first; returns how many. */
int32_t wl__token_sampler_top(wl_token_sampler *s, const float *logits, int32_t k, int32_t *ids);

/* The chain up to the draw (top-k, softmax, top-p, min-p, softmax at the
 * temperature; no penalty, not greedy): writes the candidates that can be
 * drawn into ids and their probabilities into probs (vocab_size entries
 * each), in the order the draw walks them; returns how many. *norm is the
 * first softmax's sum of exponentials, whose rounding depends on the order
 * it is summed in and decides top-p's and min-p's borders (0 when both are
 * off: it is not computed then). */
int32_t wl__token_sampler_candidates(wl_token_sampler *s, const float *logits, int32_t *ids,
                                     float *probs, double *norm);

#endif

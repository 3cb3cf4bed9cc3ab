/* Sampling; see sampling.h. The order of the filters is llama.cpp's default
 * chain (penalty, top-k, top-p, min-p, temperature, draw), so the same
 * parameters mean the same thing to users of both.
 */
#include "engine/sampling.h"

#include "wattlens/error.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct cand {
    int32_t id;
    float logit;
    float p;
};

struct wl_token_sampler {
    struct wl_token_sampler_params p;
    int32_t vocab_size;
    struct cand *cands; /* (vocab_size) */
    int32_t *recent;    /* ring of the last repeat_last_n tokens */
    int32_t n_recent;
    int32_t recent_head;
    uint64_t rng;
};

struct wl_token_sampler_params wl_token_sampler_default_params(void)
{
    struct wl_token_sampler_params p = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .seed = 0,
    };
    return p;
}

int wl_token_sampler_create(const struct wl_token_sampler_params *p, int32_t vocab_size, wl_token_sampler **out)
{
    *out = NULL;
    if (vocab_size <= 0 || !isfinite(p->temperature) || !isfinite(p->top_p) ||
        !isfinite(p->min_p) || !isfinite(p->repeat_penalty) || p->repeat_penalty <= 0.0f ||
        p->repeat_last_n < 0)
        return WL_EINVAL;
    wl_token_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return WL_ENOMEM;
    s->p = *p;
    s->vocab_size = vocab_size;
    s->cands = malloc((size_t)vocab_size * sizeof *s->cands);
    s->recent = malloc((size_t)(p->repeat_last_n > 0 ? p->repeat_last_n : 1) * sizeof *s->recent);
    if (!s->cands || !s->recent) {
        wl_token_sampler_free(s);
        return WL_ENOMEM;
    }
    wl_token_sampler_reset(s);
    *out = s;
    return 0;
}

void wl_token_sampler_free(wl_token_sampler *s)
{
    if (!s)
        return;
    free(s->cands);
    free(s->recent);
    free(s);
}

void wl_token_sampler_reset(wl_token_sampler *s)
{
    s->n_recent = 0;
    s->recent_head = 0;
    /* splitmix64 of the seed, so seed 0 is not a degenerate state */
    s->rng = s->p.seed + 0x9E3779B97F4A7C15ull;
}

void wl_token_sampler_accept(wl_token_sampler *s, int32_t token)
{
    if (s->p.repeat_last_n <= 0)
        return;
    s->recent[s->recent_head] = token;
    s->recent_head = (s->recent_head + 1) % s->p.repeat_last_n;
    if (s->n_recent < s->p.repeat_last_n)
        s->n_recent++;
}

static uint64_t next_u64(wl_token_sampler *s)
{
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double next_unit(wl_token_sampler *s)
{
    return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_cand_desc(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id; /* stable by id: reproducible */
}

static void apply_penalty(wl_token_sampler *s, float *logits)
{
    if (s->p.repeat_penalty == 1.0f || s->n_recent == 0)
        return;
    /* each distinct recent token is penalised once */
    for (int32_t i = 0; i < s->n_recent; i++) {
        int32_t t = s->recent[i];
        if (t < 0 || t >= s->vocab_size)
            continue;
        bool seen = false;
        for (int32_t j = 0; j < i && !seen; j++)
            seen = s->recent[j] == t;
        if (seen)
            continue;
        float l = logits[t];
        logits[t] = l > 0.0f ? l / s->p.repeat_penalty : l * s->p.repeat_penalty;
    }
}

static int32_t argmax(const float *logits, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    return best;
}

/* True when a ranks below b in cmp_cand_desc's order (a total order: ids
 * are distinct and the logits finite, generate refuses others). */
static inline bool cand_worse(const struct cand *a, const struct cand *b)
{
    return cmp_cand_desc(a, b) > 0;
}

/* Restores the heap below i in h[0..n): every parent ranks at or below its
 * children, so h[0] is the worst of the k kept. */
static void heap_sift_down(struct cand *h, int32_t n, int32_t i)
{
    const struct cand c = h[i];
    for (;;) {
        int32_t w = 2 * i + 1;
        if (w >= n)
            break;
        if (w + 1 < n && cand_worse(&h[w + 1], &h[w]))
            w++;
        if (!cand_worse(&h[w], &c))
            break;
        h[i] = h[w];
        i = w;
    }
    h[i] = c;
}

/* Keeps the k largest candidates in cands[0..k), sorted descending (by
 * logit, ties by lower id first). For 0 < k < n a bounded heap of the k best
 * so far (worst at the root) sees each candidate once, O(n log k), then the
 * k survivors are sorted: the same set and order as a full sort, since the
 * order is total. (An insertion into a sorted prefix was O(n k) and took
 * ~1 s a token for k = 32768 of 65536, all booked to SAMPLING.) */
static int32_t select_top(wl_token_sampler *s, const float *logits, int32_t k)
{
    const int32_t n = s->vocab_size;
    struct cand *c = s->cands;
    for (int32_t i = 0; i < n; i++) {
        c[i].id = i;
        c[i].logit = logits[i];
    }
    if (k <= 0 || k >= n) {
        qsort(c, (size_t)n, sizeof *c, cmp_cand_desc);
        return n;
    }
    for (int32_t i = k / 2 - 1; i >= 0; i--)
        heap_sift_down(c, k, i);
    for (int32_t i = k; i < n; i++) {
        if (!cand_worse(&c[0], &c[i]))
            continue;
        c[0] = c[i];
        heap_sift_down(c, k, 0);
    }
    qsort(c, (size_t)k, sizeof *c, cmp_cand_desc);
    return k;
}

/* Softmax over cands[0..n) at temperature t (1 for the filters). */
static void softmax(struct cand *c, int32_t n, float t)
{
    const float mx = c[0].logit;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - mx) / t);
        sum += c[i].p;
    }
    for (int32_t i = 0; i < n; i++)
        c[i].p = (float)(c[i].p / sum);
}

/* The chain; u in [0, 1) is the draw, or < 0 to take it from the generator
 * (only when a draw is needed: greedy leaves the generator alone). */
static int32_t sample(wl_token_sampler *s, float *logits, double u)
{
    apply_penalty(s, logits);
    if (s->p.temperature <= 0.0f)
        return argmax(logits, s->vocab_size);

    int32_t n = select_top(s, logits, s->p.top_k);
    softmax(s->cands, n, 1.0f);
    if (s->p.top_p < 1.0f) {
        double cum = 0.0;
        int32_t keep = n;
        for (int32_t i = 0; i < n; i++) {
            cum += s->cands[i].p;
            if (cum >= s->p.top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (s->p.min_p > 0.0f) {
        const float floor_p = s->p.min_p * s->cands[0].p;
        int32_t keep = 1;
        while (keep < n && s->cands[keep].p >= floor_p)
            keep++;
        n = keep;
    }
    softmax(s->cands, n, s->p.temperature);
    double r = u >= 0.0 ? u : next_unit(s), cum = 0.0;
    int32_t last = 0; /* the last candidate that can be drawn (p > 0); cands[0] always can */
    for (int32_t i = 0; i < n; i++) {
        cum += s->cands[i].p;
        if (r < cum)
            return s->cands[i].id;
        if (s->cands[i].p > 0.0f)
            last = i;
    }
    /* r is at or above the sum, which the float-rounded probabilities leave
     * just under 1: not the last candidate, which may have underflowed to
     * p = 0 (the least likely of the whole vocabulary with top-k 0) */
    return s->cands[last].id;
}

int32_t wl_token_sampler_sample(wl_token_sampler *s, float *logits)
{
    return sample(s, logits, -1.0);
}

int32_t wl__token_sampler_sample_u(wl_token_sampler *s, float *logits, double u)
{
    return sample(s, logits, u < 0.0 ? 0.0 : u);
}

int32_t wl__token_sampler_top(wl_token_sampler *s, const float *logits, int32_t k, int32_t *ids)
{
    const int32_t n = select_top(s, logits, k);
    for (int32_t i = 0; i < n; i++)
        ids[i] = s->cands[i].id;
    return n;
}

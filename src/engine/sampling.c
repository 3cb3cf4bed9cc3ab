/* Sampling; see sampling.h. The order of the filters is llama.cpp's default
 * chain (penalty, top-k, top-p, min-p, temperature, draw), so the same
 * parameters mean the same thing to users of both. Every filter sees the
 * candidates in one total order (logit descending, then id ascending), so
 * how that order is reached (heap, radix sort, qsort) never changes a draw.
 */
#include "engine/sampling.h"

#include "wattlens/error.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cand {
    int32_t id;
    float logit;
    float p;
};

/* The radix sort (radix_sort_desc) sorts 32-bit keys in three passes of
 * 11 bits; below RADIX_MIN candidates qsort is as fast and needs no buffer. */
enum { RADIX_BITS = 11, RADIX_BUCKETS = 1 << RADIX_BITS, RADIX_PASSES = 3, RADIX_MIN = 256 };

struct wl_token_sampler {
    struct wl_token_sampler_params p;
    int32_t vocab_size;
    struct cand *cands; /* (vocab_size) */
    struct cand *spare; /* (vocab_size) the radix sort's other buffer; NULL below RADIX_MIN */
    uint32_t radix_count[RADIX_PASSES][RADIX_BUCKETS];
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

size_t wl_token_sampler_bytes(const struct wl_token_sampler_params *p, int32_t vocab_size)
{
    const size_t n = vocab_size > 0 ? (size_t)vocab_size : 0;
    const size_t per_id = (vocab_size >= RADIX_MIN ? 2 : 1) * sizeof(struct cand);
    const size_t recent = (size_t)(p->repeat_last_n > 0 ? p->repeat_last_n : 1) * sizeof(int32_t);
    const size_t fixed = sizeof(struct wl_token_sampler) + recent;
    if (n > (SIZE_MAX - fixed) / per_id)
        return SIZE_MAX;
    return fixed + n * per_id;
}

int wl_token_sampler_create(const struct wl_token_sampler_params *p, int32_t vocab_size, wl_token_sampler **out)
{
    *out = NULL;
    if (vocab_size <= 0 || !isfinite(p->temperature) || !isfinite(p->top_p) ||
        !isfinite(p->min_p) || !isfinite(p->repeat_penalty) || p->repeat_penalty <= 0.0f ||
        p->repeat_last_n < 0)
        return WL_EINVAL;
    if (wl_token_sampler_bytes(p, vocab_size) == SIZE_MAX)
        return WL_ENOMEM; /* a size_t of 32 bits: the candidate arrays' bytes overflow it */
    wl_token_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return WL_ENOMEM;
    s->p = *p;
    s->vocab_size = vocab_size;
    s->cands = malloc((size_t)vocab_size * sizeof *s->cands);
    if (vocab_size >= RADIX_MIN)
        s->spare = malloc((size_t)vocab_size * sizeof *s->spare);
    s->recent = malloc((size_t)(p->repeat_last_n > 0 ? p->repeat_last_n : 1) * sizeof *s->recent);
    if (!s->cands || (vocab_size >= RADIX_MIN && !s->spare) || !s->recent) {
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
    free(s->spare);
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

/* The radix sort's key: unsigned order is descending logit order, -0 and
 * +0 alike (cmp_cand_desc finds them equal, so their ids order them). The
 * sign-magnitude bits become an ascending unsigned key (negatives: all bits
 * flipped; positives: the sign bit set), then flipped for descending. The
 * infinities order as they compare; NaN has no place in the order (qsort
 * with cmp_cand_desc had none either): the generation loop refuses it. */
static inline uint32_t radix_key_desc(float logit)
{
    uint32_t u = 0;
    if (logit != 0.0f)
        memcpy(&u, &logit, sizeof u);
    const uint32_t asc = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~asc;
}

/* Sorts c[0..n) into cmp_cand_desc's order when c is in ascending id order
 * (as select_top fills it): LSD radix passes are stable, so equal logits keep
 * their ids ascending, which is the order's tie rule. O(n): three passes of
 * 11 bits, a pass skipped when every key has the same digit (logits of one
 * sign and magnitude range share the top bits). Returns the buffer holding
 * the result, c or spare (the other one is overwritten). */
static struct cand *radix_sort_desc(struct cand *c, struct cand *spare, int32_t n,
                                    uint32_t count[RADIX_PASSES][RADIX_BUCKETS])
{
    memset(count, 0, RADIX_PASSES * sizeof count[0]);
    for (int32_t i = 0; i < n; i++) {
        const uint32_t key = radix_key_desc(c[i].logit);
        for (int d = 0; d < RADIX_PASSES; d++)
            count[d][(key >> (d * RADIX_BITS)) & (RADIX_BUCKETS - 1)]++;
    }
    struct cand *src = c, *dst = spare;
    for (int d = 0; d < RADIX_PASSES; d++) {
        const unsigned shift = (unsigned)(d * RADIX_BITS);
        uint32_t *cnt = count[d];
        if (cnt[(radix_key_desc(src[0].logit) >> shift) & (RADIX_BUCKETS - 1)] == (uint32_t)n)
            continue; /* one digit for all: this pass would not move anything */
        uint32_t at = 0;
        for (int b = 0; b < RADIX_BUCKETS; b++) {
            const uint32_t m = cnt[b];
            cnt[b] = at;
            at += m;
        }
        for (int32_t i = 0; i < n; i++)
            dst[cnt[(radix_key_desc(src[i].logit) >> shift) & (RADIX_BUCKETS - 1)]++] = src[i];
        struct cand *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

/* Sorts s->cands[0..n) (in ascending id order) into cmp_cand_desc's order:
 * the radix sort when the vocabulary has its buffer (from RADIX_MIN ids),
 * else qsort (the same order: it is total). */
static void sort_all(wl_token_sampler *s, int32_t n)
{
    if (!s->spare) {
        qsort(s->cands, (size_t)n, sizeof *s->cands, cmp_cand_desc);
        return;
    }
    struct cand *sorted = radix_sort_desc(s->cands, s->spare, n, s->radix_count);
    if (sorted != s->cands) {
        s->spare = s->cands;
        s->cands = sorted;
    }
}

/* Keeps the k largest candidates in cands[0..k), sorted descending (by
 * logit, ties by lower id first): the same set and order as a full sort cut
 * at k, since the order is total. For k <= 0 (top-k off: the whole
 * vocabulary, which top-p and min-p then cut) and for k above
 * n / RADIX_HEAP_MAX, all n are radix-sorted, O(n): on 65536 ids ~1.5 ms,
 * where qsort took ~20 ms. Otherwise a bounded heap of the k best so far
 * (worst at the root) sees each candidate once, O(n log k), then the k
 * survivors are sorted: faster below k ~ n / 32 (0.75 ms for k = 1000, 2.3
 * ms for k = 4096 against the radix sort's 1.4 ms, development VM, the heap
 * figure measured once with this threshold raised; bench_sampling's k = 2048
 * and 4096 rows time the two sides of it as shipped). (An
 * insertion into a sorted prefix was O(n k) and took ~1 s a token for
 * k = 32768 of 65536, all booked to SAMPLING.) */
enum { RADIX_HEAP_MAX = 32 };
static int32_t select_top(wl_token_sampler *s, const float *logits, int32_t k)
{
    const int32_t n = s->vocab_size;
    struct cand *c = s->cands;
    for (int32_t i = 0; i < n; i++) {
        c[i].id = i;
        c[i].logit = logits[i];
    }
    if (k <= 0 || k >= n || (s->spare && k > n / RADIX_HEAP_MAX)) {
        sort_all(s, n);
        return k <= 0 || k >= n ? n : k;
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

/* cands[i].p = expf(logit - the first's logit) for i < n; returns their sum,
 * taken in the candidates' order (softmax's first half). */
static double exp_sum(struct cand *c, int32_t n)
{
    const float mx = c[0].logit;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        c[i].p = expf(c[i].logit - mx);
        sum += c[i].p;
    }
    return sum;
}

/* Top-k, softmax, top-p, min-p and the softmax at the temperature (not
 * greedy): leaves the candidates that can be drawn in cands[0..n), with
 * their probabilities, and returns n. The first softmax is computed as far
 * as the filters read it: every exponential and their sum (the sum in the
 * sorted order, so the same double as ever), but each probability
 * (exponential / sum, rounded to float) only for the prefix the cuts look
 * at, and nothing when top-p and min-p are off (the last softmax starts
 * again from the logits). *norm: that sum, 0 when it was not needed. */
static int32_t filter(wl_token_sampler *s, const float *logits, double *norm)
{
    int32_t n = select_top(s, logits, s->p.top_k);
    struct cand *c = s->cands;
    *norm = 0.0;
    if (s->p.top_p < 1.0f || s->p.min_p > 0.0f) {
        const double sum = exp_sum(c, n);
        *norm = sum;
        int32_t done = 0; /* c[0..done) hold probabilities */
        if (s->p.top_p < 1.0f) {
            double cum = 0.0;
            int32_t keep = n;
            for (int32_t i = 0; i < n; i++) {
                c[i].p = (float)(c[i].p / sum);
                done = i + 1;
                cum += c[i].p;
                if (cum >= s->p.top_p) {
                    keep = i + 1;
                    break;
                }
            }
            n = keep;
        }
        if (s->p.min_p > 0.0f) {
            if (done == 0)
                c[done++].p = (float)(c[0].p / sum);
            const float floor_p = s->p.min_p * c[0].p;
            int32_t keep = 1;
            for (; keep < n; keep++) {
                if (keep == done)
                    c[done++].p = (float)(c[keep].p / sum);
                if (c[keep].p < floor_p)
                    break;
            }
            n = keep;
        }
    }
    softmax(c, n, s->p.temperature);
    return n;
}

/* The chain; u in [0, 1) is the draw, or < 0 to take it from the generator
 * (only when a draw is needed: greedy leaves the generator alone). */
static int32_t sample(wl_token_sampler *s, float *logits, double u)
{
    apply_penalty(s, logits);
    if (s->p.temperature <= 0.0f)
        return argmax(logits, s->vocab_size);

    double norm = 0.0;
    const int32_t n = filter(s, logits, &norm);
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

int32_t wl__token_sampler_candidates(wl_token_sampler *s, const float *logits, int32_t *ids,
                                     float *probs, double *norm)
{
    const int32_t n = filter(s, logits, norm);
    for (int32_t i = 0; i < n; i++) {
        ids[i] = s->cands[i].id;
        probs[i] = s->cands[i].p;
    }
    return n;
}

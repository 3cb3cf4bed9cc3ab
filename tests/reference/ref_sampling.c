/* The reference of engine/sampling's chain (ref_sampling.h): qsort every
 * candidate, then each filter over the sorted array. Kept plain on purpose:
 * what it computes, and the order it sums in, is what the sampler must
 * reproduce bit for bit.
 */
#include "ref_sampling.h"

#include <math.h>
#include <stdlib.h>

static int ref_cmp(const void *a, const void *b)
{
    const struct wl_ref_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Returns the sum of the exponentials (the normalizer). */
static double ref_softmax(struct wl_ref_cand *c, int32_t n, float t)
{
    const float mx = c[0].logit;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - mx) / t);
        sum += c[i].p;
    }
    for (int32_t i = 0; i < n; i++)
        c[i].p = (float)(c[i].p / sum);
    return sum;
}

void wl_ref_sampling_sort(struct wl_ref_cand *c, const float *logits, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        c[i] = (struct wl_ref_cand){i, logits[i], 0.0f};
    qsort(c, (size_t)n, sizeof *c, ref_cmp);
}

int32_t wl_ref_sampling_filter(struct wl_ref_cand *sorted, int32_t n,
                               const struct wl_token_sampler_params *p, double *norm)
{
    if (p->top_k > 0 && p->top_k < n)
        n = p->top_k;
    *norm = ref_softmax(sorted, n, 1.0f);
    if (p->top_p < 1.0f) {
        double cum = 0.0;
        int32_t keep = n;
        for (int32_t i = 0; i < n; i++) {
            cum += sorted[i].p;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0.0f) {
        const float floor_p = p->min_p * sorted[0].p;
        int32_t keep = 1;
        while (keep < n && sorted[keep].p >= floor_p)
            keep++;
        n = keep;
    }
    ref_softmax(sorted, n, p->temperature);
    return n;
}

int32_t wl_ref_sampling_draw(const struct wl_ref_cand *c, int32_t n, double u)
{
    double cum = 0.0;
    int32_t last = 0;
    for (int32_t i = 0; i < n; i++) {
        cum += c[i].p;
        if (u < cum)
            return c[i].id;
        if (c[i].p > 0.0f)
            last = i;
    }
    return c[last].id;
}

int32_t wl_ref_sampling_sample(struct wl_ref_cand *c, const float *logits, int32_t n,
                               const struct wl_token_sampler_params *p, double u)
{
    double norm = 0.0;
    wl_ref_sampling_sort(c, logits, n);
    return wl_ref_sampling_draw(c, wl_ref_sampling_filter(c, n, p, &norm), u);
}

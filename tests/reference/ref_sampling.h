/* The reference of engine/sampling's chain: sampling.c as it was before the
 * radix sort, written the plain way. Every candidate is sorted by (logit
 * descending, id ascending) with qsort, then each filter (top-k, softmax,
 * top-p, min-p, softmax at the temperature) runs over that array, then the
 * draw. tests/unit/test_sampling_chain.c checks the sampler against it to
 * the bit; bench/bench_sampling.c times the sampler against it.
 * Test and bench code only (the wl_reference library), not libwattlens;
 * no state of its own: callers own every array.
 */
#ifndef WL_REF_SAMPLING_H
#define WL_REF_SAMPLING_H

#include "engine/sampling.h"

#include <stdint.h>

struct wl_ref_cand {
    int32_t id;
    float logit;
    float p;
};

/* Fills c[0..n) with ids 0..n-1 and their logits and sorts it in the
 * reference order (logit descending, then id ascending). */
void wl_ref_sampling_sort(struct wl_ref_cand *c, const float *logits, int32_t n);

/* On sorted candidates c[0..n) (wl_ref_sampling_sort): top-k, softmax, top-p,
 * min-p and the softmax at p->temperature, writing each kept candidate's p.
 * Returns how many are kept (a prefix of c); *norm gets the first softmax's
 * sum of exponentials. */
int32_t wl_ref_sampling_filter(struct wl_ref_cand *c, int32_t n,
                               const struct wl_token_sampler_params *p, double *norm);

/* The token the draw u in [0, 1) takes from the kept candidates c[0..n). */
int32_t wl_ref_sampling_draw(const struct wl_ref_cand *c, int32_t n, double u);

/* The whole chain on logits[0..n) for the draw u, with c (n candidates,
 * caller's scratch): sort, filter, draw. */
int32_t wl_ref_sampling_sample(struct wl_ref_cand *c, const float *logits, int32_t n,
                               const struct wl_token_sampler_params *p, double u);

#endif

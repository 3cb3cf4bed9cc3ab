/* engine/sampling: the whole chain (top-k, softmax, top-p, min-p, softmax
 * at the temperature, the draw) against the reference in
 * tests/reference/ref_sampling.c, written the plain way, as sampling.c did it
 * before the radix sort: qsort every candidate by (logit descending, id
 * ascending), then each filter over that array.
 * The sampler must give the same candidates in the same order with
 * bit-identical probabilities, and so the same token for any draw, and the
 * same first-softmax sum to the last bit (its rounding depends on the order
 * of its terms and moves the top-p and min-p borders), on
 * random logits with ties, signed zeros, denormals and extremes, over
 * vocabularies of 1 to 70000 ids, top-p 0 to 1, min-p 0 to 1, top-k off and
 * on (heap and radix paths). Timing is bench/bench_sampling's business.
 */
#include "test_support.h"

#include "engine/sampling.h"
#include "ref_sampling.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- logits ------------------------------------------------------------------- */

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

static float unit(uint64_t *x) /* [0, 1) */
{
    return (float)(next(x) >> 40) / 16777216.0f;
}

enum { N_SHAPES = 8 };

static void fill(float *l, int32_t n, int shape, uint64_t *x)
{
    for (int32_t i = 0; i < n; i++) {
        const uint64_t r = next(x);
        switch (shape) {
        case 0: /* many ties: 16 values */
            l[i] = (float)(r % 16) - 8.0f;
            break;
        case 1: /* 16 bits of randomness in [0, 8), as bench_sampling */
            l[i] = 8.0f * (float)(r >> 48) / 65536.0f;
            break;
        case 2: { /* a language model's: roughly normal, sd 3, a few far ahead */
            float g = 0.0f;
            for (int j = 0; j < 4; j++)
                g += unit(x) - 0.5f;
            l[i] = 3.0f * 1.7f * g + (r % 997 == 0 ? 12.0f + 8.0f * unit(x) : 0.0f);
            break;
        }
        case 3: /* signed zeros among few other values: -0 and +0 tie */
            l[i] = r % 4 == 0 ? 0.0f : r % 4 == 1 ? -0.0f : (float)(r % 7) - 3.0f;
            break;
        case 4: /* all equal: the order is the ids' */
            l[i] = 1.25f;
            break;
        case 5: { /* extremes: denormals, huge magnitudes, both signs */
            static const float v[] = {FLT_MAX,       -FLT_MAX, 1e30f,   -1e30f, FLT_TRUE_MIN,
                                      -FLT_TRUE_MIN, 1e-40f,   -1e-40f, 0.0f,   -0.0f,
                                      87.0f,         -87.0f,   1.0f,    -1.0f};
            l[i] = r % 3 == 0 ? v[(r >> 8) % (sizeof v / sizeof v[0])] : 200.0f * unit(x) - 100.0f;
            break;
        }
        case 6: /* ascending */
            l[i] = (float)i * 0.001f;
            break;
        default: /* a narrow band: every logit's exponential is near 1 */
            l[i] = 5.0f + 0.01f * unit(x);
        }
    }
}

/* ---- the comparison ----------------------------------------------------------- */

struct bufs {
    float *logits, *work, *probs;
    int32_t *ids;
    struct wl_ref_cand *sorted, *scratch;
};

/* The sampler with p against the reference, on logits whose full sort is
 * sorted[0..n): candidates, probabilities, draws. */
static void check_one(struct bufs *b, int32_t n, const struct wl_token_sampler_params *p, int shape,
                      uint64_t *x)
{
    wl_token_sampler *s = NULL;
    assert_int_equal(wl_token_sampler_create(p, n, &s), 0);
    memcpy(b->scratch, b->sorted, (size_t)n * sizeof *b->scratch);
    double want_norm = 0.0, got_norm = 0.0;
    const int32_t want = wl_ref_sampling_filter(b->scratch, n, p, &want_norm);
    const int32_t got = wl__token_sampler_candidates(s, b->logits, b->ids, b->probs, &got_norm);
    if (got != want)
        fail_msg("n %d shape %d k %d top-p %g min-p %g t %g: %d candidates, the reference %d", n,
                 shape, p->top_k, (double)p->top_p, (double)p->min_p, (double)p->temperature, got,
                 want);
    /* the normalizer's rounding depends on the order of its terms and moves
     * top-p's and min-p's borders, rarely enough that the candidates above
     * could miss a sum taken in another order: it must be the same double */
    if ((p->top_p < 1.0f || p->min_p > 0.0f) && memcmp(&got_norm, &want_norm, sizeof got_norm))
        fail_msg("n %d shape %d k %d: the softmax's sum is %a, the reference's %a", n, shape,
                 p->top_k, got_norm, want_norm);
    for (int32_t i = 0; i < got; i++)
        if (b->ids[i] != b->scratch[i].id || memcmp(&b->probs[i], &b->scratch[i].p, sizeof(float)))
            fail_msg("n %d shape %d k %d top-p %g min-p %g: candidate %d is id %d p %a, the "
                     "reference's id %d p %a",
                     n, shape, p->top_k, (double)p->top_p, (double)p->min_p, i, b->ids[i],
                     (double)b->probs[i], b->scratch[i].id, (double)b->scratch[i].p);
    /* the same candidates and probabilities make the same draws; a few
     * check that the draw walks them (the whole chain runs again for each) */
    const double us[] = {(double)unit(x), nextafter(1.0, 0.0), 0.0, 0.25, 0.5, 0.9, 0.999};
    const size_t n_us = n > 4099 ? 2 : sizeof us / sizeof us[0];
    for (size_t j = 0; j < n_us; j++) {
        memcpy(b->work, b->logits, (size_t)n * sizeof *b->work);
        const int32_t t = wl__token_sampler_sample_u(s, b->work, us[j]);
        const int32_t r = wl_ref_sampling_draw(b->scratch, want, us[j]);
        if (t != r)
            fail_msg("n %d shape %d top-p %g min-p %g: draw %.17g took %d, the reference %d", n,
                     shape, (double)p->top_p, (double)p->min_p, us[j], t, r);
    }
    wl_token_sampler_free(s);
}

static void check_vector(struct bufs *b, int32_t n, int shape, uint64_t *x, bool all_params)
{
    fill(b->logits, n, shape, x);
    wl_ref_sampling_sort(b->sorted, b->logits, n);

    static const float top_ps[] = {0.0f, 0.5f, 0.9f, 0.95f, 1.0f};
    static const float min_ps[] = {0.0f, 0.01f, 0.05f, 0.3f, 1.0f};
    static const float temps[] = {1.0f, 0.8f, 1.7f, 0.25f};
    /* top-k off (the whole vocabulary), small (the heap), half (the radix sort) */
    const int32_t top_ks[] = {0, 40, n / 2 > 0 ? n / 2 : 1};
    int combo = 0;
    for (size_t ki = 0; ki < sizeof top_ks / sizeof top_ks[0]; ki++)
        for (size_t pi = 0; pi < sizeof top_ps / sizeof top_ps[0]; pi++)
            for (size_t mi = 0; mi < sizeof min_ps / sizeof min_ps[0]; mi++, combo++) {
                /* the large vocabularies: a third of the combinations, a
                 * different third for each shape (the sizes see them all) */
                if (!all_params && combo % 3 != shape % 3)
                    continue;
                struct wl_token_sampler_params p = wl_token_sampler_default_params();
                p.top_k = top_ks[ki];
                p.top_p = top_ps[pi];
                p.min_p = min_ps[mi];
                p.temperature = temps[(size_t)combo % (sizeof temps / sizeof temps[0])];
                p.repeat_penalty = 1.0f;
                check_one(b, n, &p, shape, x);
            }
}

static void test_chain_is_the_full_sort_reference(void **state)
{
    (void)state;
    enum { N_MAX = 70000 };
    struct bufs b = {
        .logits = malloc(N_MAX * sizeof(float)),
        .work = malloc(N_MAX * sizeof(float)),
        .probs = malloc(N_MAX * sizeof(float)),
        .ids = malloc(N_MAX * sizeof(int32_t)),
        .sorted = malloc(N_MAX * sizeof(struct wl_ref_cand)),
        .scratch = malloc(N_MAX * sizeof(struct wl_ref_cand)),
    };
    assert_non_null(b.logits);
    assert_non_null(b.work);
    assert_non_null(b.probs);
    assert_non_null(b.ids);
    assert_non_null(b.sorted);
    assert_non_null(b.scratch);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    /* both sides of the radix sort's threshold (256 ids) and, with top-k
     * 40, of the heap's (k up to n / 32: from 1280 ids), and vocabularies
     * of real sizes (32000 as llama 2's, 65536, 70000) */
    static const int32_t sizes[] = {1,   2,   3,    7,    40,    100,   255,
                                    256, 257, 1000, 4099, 32000, 65536, N_MAX};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int32_t n = sizes[si];
        const bool small = n <= 4099;
        for (int shape = 0; shape < N_SHAPES; shape++)
            for (int rep = 0; rep < (n <= 1000 ? 3 : 1); rep++)
                check_vector(&b, n, shape, &x, small);
    }
    /* random sizes in between, every shape */
    for (int i = 0; i < 24; i++) {
        const int32_t n = 1 + (int32_t)(next(&x) % (i < 16 ? 3000 : N_MAX));
        check_vector(&b, n, i % N_SHAPES, &x, n <= 4099);
    }
    free(b.logits);
    free(b.work);
    free(b.probs);
    free(b.ids);
    free(b.sorted);
    free(b.scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_is_the_full_sort_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* engine/sampling: greedy, seeded reproducibility, each filter (top-k, top-p,
 * min-p), the temperature's effect, the repetition penalty, bad parameters;
 * the top-k stage against a plain full sort (ties by id), and a draw at the
 * top of [0, 1) past the rounded probabilities' sum. */
#include "test_support.h"

#include "engine/sampling.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { V = 8 };

static wl_token_sampler *mk_n(int32_t n, float temp, int top_k, float top_p, float min_p, float rep,
                              uint64_t seed)
{
    struct wl_token_sampler_params p = wl_token_sampler_default_params();
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repeat_penalty = rep;
    p.seed = seed;
    wl_token_sampler *s = NULL;
    assert_int_equal(wl_token_sampler_create(&p, n, &s), 0);
    return s;
}

static wl_token_sampler *mk(float temp, int top_k, float top_p, float min_p, float rep, uint64_t seed)
{
    return mk_n(V, temp, top_k, top_p, min_p, rep, seed);
}

/* logits with softmax probabilities ~ 0.50 0.25 0.125 ... (log2 steps) */
static void ladder(float *l)
{
    for (int i = 0; i < V; i++)
        l[i] = -(float)i * logf(2.0f);
}

static void counts(wl_token_sampler *s, int n, int *c)
{
    memset(c, 0, V * sizeof(int));
    float l[V];
    for (int i = 0; i < n; i++) {
        ladder(l);
        int32_t t = wl_token_sampler_sample(s, l);
        assert_true(t >= 0 && t < V);
        c[t]++;
    }
}

static void test_greedy_is_argmax(void **state)
{
    (void)state;
    wl_token_sampler *s = mk(0.0f, 40, 0.95f, 0.05f, 1.0f, 1);
    float l[V] = {0.1f, 2.0f, -1.0f, 3.5f, 3.4f, 0, 0, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(wl_token_sampler_sample(s, l), 3);
    wl_token_sampler_free(s);
}

static void test_same_seed_same_tokens_other_seed_differs(void **state)
{
    (void)state;
    wl_token_sampler *a = mk(1.0f, 0, 1.0f, 0.0f, 1.0f, 123), *b = mk(1.0f, 0, 1.0f, 0.0f, 1.0f, 123);
    wl_token_sampler *c = mk(1.0f, 0, 1.0f, 0.0f, 1.0f, 124);
    int same = 0;
    for (int i = 0; i < 200; i++) {
        float l1[V], l2[V], l3[V];
        ladder(l1);
        ladder(l2);
        ladder(l3);
        int32_t x = wl_token_sampler_sample(a, l1), y = wl_token_sampler_sample(b, l2), z = wl_token_sampler_sample(c, l3);
        assert_int_equal(x, y);
        same += x == z;
    }
    assert_true(same < 200);
    wl_token_sampler_free(a);
    wl_token_sampler_free(b);
    wl_token_sampler_free(c);
}

static void test_temperature_one_follows_softmax(void **state)
{
    (void)state;
    wl_token_sampler *s = mk(1.0f, 0, 1.0f, 0.0f, 1.0f, 9);
    int c[V];
    counts(s, 20000, c);
    /* expected 0.5, 0.25, 0.125 of 20000 (+-4 sigma) */
    assert_true(abs(c[0] - 10000) < 300);
    assert_true(abs(c[1] - 5000) < 250);
    assert_true(abs(c[2] - 2500) < 200);
    wl_token_sampler_free(s);
}

static void test_filters(void **state)
{
    (void)state;
    int c[V];
    wl_token_sampler *k2 = mk(1.0f, 2, 1.0f, 0.0f, 1.0f, 5); /* top-k 2: only 0 and 1 */
    counts(k2, 3000, c);
    assert_int_equal(c[0] + c[1], 3000);
    assert_true(c[1] > 700); /* renormalised 2/3 : 1/3 */
    wl_token_sampler_free(k2);

    wl_token_sampler *p7 = mk(1.0f, 0, 0.7f, 0.0f, 1.0f, 5); /* 0.5 + 0.25 >= 0.7 */
    counts(p7, 3000, c);
    assert_int_equal(c[0] + c[1], 3000);
    wl_token_sampler_free(p7);

    wl_token_sampler *m3 = mk(1.0f, 0, 1.0f, 0.2f, 1.0f, 5); /* p >= 0.2 * 0.5 keeps 0, 1, 2 */
    counts(m3, 3000, c);
    assert_int_equal(c[0] + c[1] + c[2], 3000);
    assert_true(c[2] > 0);
    wl_token_sampler_free(m3);

    wl_token_sampler *cold = mk(0.1f, 0, 1.0f, 0.0f, 1.0f, 5); /* low temperature: nearly greedy */
    counts(cold, 2000, c);
    assert_true(c[0] > 1990);
    wl_token_sampler_free(cold);
}

static void test_repetition_penalty(void **state)
{
    (void)state;
    wl_token_sampler *s = mk(0.0f, 0, 1.0f, 0.0f, 2.0f, 1);
    float l[V] = {3.0f, 2.0f, -1.0f, 0, 0, 0, 0, 0};
    assert_int_equal(wl_token_sampler_sample(s, l), 0);
    wl_token_sampler_accept(s, 0);
    wl_token_sampler_accept(s, 0); /* counted once */
    float l2[V] = {3.0f, 2.0f, -1.0f, 0, 0, 0, 0, 0};
    assert_int_equal(wl_token_sampler_sample(s, l2), 1); /* 3 / 2 = 1.5 < 2 */
    assert_true(fabsf(l2[0] - 1.5f) < 1e-6f);
    wl_token_sampler_accept(s, 2);
    float l3[V] = {3.0f, 2.0f, -1.0f, 0, 0, 0, 0, 0};
    wl_token_sampler_sample(s, l3);
    assert_true(fabsf(l3[2] + 2.0f) < 1e-6f); /* negative logits are multiplied */
    wl_token_sampler_reset(s);
    float l4[V] = {3.0f, 2.0f, -1.0f, 0, 0, 0, 0, 0};
    assert_int_equal(wl_token_sampler_sample(s, l4), 0);
    wl_token_sampler_free(s);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    struct wl_token_sampler_params p = wl_token_sampler_default_params();
    wl_token_sampler *s = NULL;
    p.temperature = NAN;
    assert_int_equal(wl_token_sampler_create(&p, V, &s), WL_EINVAL);
    p = wl_token_sampler_default_params();
    p.repeat_penalty = 0.0f;
    assert_int_equal(wl_token_sampler_create(&p, V, &s), WL_EINVAL);
    p = wl_token_sampler_default_params();
    assert_int_equal(wl_token_sampler_create(&p, 0, &s), WL_EINVAL);
    assert_null(s);
}

/* The reference top-k: sort everything by logit, largest first, equal
 * logits by lower id, and keep the first k (all for k <= 0). */
struct ref_cand {
    int32_t id;
    float logit;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct ref_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static void check_top_k(const float *l, int32_t n, int32_t k)
{
    struct ref_cand *ref = malloc((size_t)n * sizeof *ref);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int32_t i = 0; i < n; i++)
        ref[i] = (struct ref_cand){i, l[i]};
    qsort(ref, (size_t)n, sizeof *ref, ref_cmp);
    const int32_t want = k <= 0 || k >= n ? n : k;
    wl_token_sampler *s = mk_n(n, 1.0f, k, 1.0f, 0.0f, 1.0f, 1);
    assert_int_equal(wl__token_sampler_top(s, l, k, ids), want);
    for (int32_t i = 0; i < want; i++)
        if (ids[i] != ref[i].id)
            fail_msg("n %d k %d: rank %d is id %d, a full sort has id %d", n, k, i, ids[i],
                     ref[i].id);
    wl_token_sampler_free(s);
    free(ids);
    free(ref);
}

static void test_top_k_is_a_full_sort_cut_at_k(void **state)
{
    (void)state;
    static const int32_t sizes[] = {1, 2, 7, 1000, 4099};
    uint64_t x = 88172645463325252ull;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int32_t n = sizes[si];
        float *l = malloc((size_t)n * sizeof *l);
        const int32_t ks[] = {1, 2, 3, 40, n / 2, n - 1, n, n + 5, 0, -1};
        for (int shape = 0; shape < 5; shape++) {
            for (int32_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                switch (shape) {
                case 0: /* many ties: 16 distinct values */
                    l[i] = (float)(x % 16) - 8.0f;
                    break;
                case 1: /* few ties */
                    l[i] = (float)(x % 100000) / 1000.0f;
                    break;
                case 2: /* ascending: every later candidate beats the kept ones */
                    l[i] = (float)i;
                    break;
                case 3: /* descending: none does */
                    l[i] = -(float)i;
                    break;
                default: /* all equal: the order is the ids' */
                    l[i] = 0.5f;
                }
            }
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
                check_top_k(l, n, ks[ki]);
        }
        free(l);
    }
}

/* The draw's last resort: float-rounded probabilities can sum to just under
 * 1, and a draw between that sum and 1 must still take a token that can be
 * drawn, not the last candidate, whose probability underflowed to 0. */
static void test_draw_above_the_rounded_sum_is_not_a_zero_probability_token(void **state)
{
    (void)state;
    /* logits {0, b, -200}: find b whose rounded softmax (computed as the
     * sampler does: expf, a double sum, each p rounded to float) sums below 1 */
    float l[3] = {0.0f, 0.0f, -200.0f};
    bool found = false;
    for (int a = 1; a < 256 && !found; a++) {
        l[1] = -(float)a / 64.0f;
        float p[3];
        double sum = 0.0, cum = 0.0;
        for (int i = 0; i < 3; i++) {
            p[i] = expf((l[i] - l[0]) / 1.0f);
            sum += p[i];
        }
        for (int i = 0; i < 3; i++) {
            p[i] = (float)(p[i] / sum);
            cum += p[i];
        }
        found = cum < 1.0 && p[2] == 0.0f;
    }
    assert_true(found);
    const float b = l[1];
    const double u = nextafter(1.0, 0.0); /* the largest draw */
    for (int order = 0; order < 2; order++) {
        /* the zero-probability token last in id order, then first */
        float ll[3] = {order ? -200.0f : 0.0f, b, order ? 0.0f : -200.0f};
        const int32_t top_id = order ? 2 : 0;
        wl_token_sampler *s = mk_n(3, 1.0f, 0, 1.0f, 0.0f, 1.0f, 1);
        assert_int_equal(wl__token_sampler_sample_u(s, ll, u), 1);
        assert_int_equal(wl__token_sampler_sample_u(s, ll, 0.0), top_id);
        wl_token_sampler_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_is_argmax),
        cmocka_unit_test(test_same_seed_same_tokens_other_seed_differs),
        cmocka_unit_test(test_temperature_one_follows_softmax),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_repetition_penalty),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_top_k_is_a_full_sort_cut_at_k),
        cmocka_unit_test(test_draw_above_the_rounded_sum_is_not_a_zero_probability_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

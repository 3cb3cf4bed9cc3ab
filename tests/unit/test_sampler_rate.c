/* The sampler's rate judgement (wl__sampler_judge_rate, sampler_impl.h)
 * with scripted sample counts and times, no thread and no clock: the
 * achieved rate is (n - 1) samples over the span from the first to the
 * last, judged from five samples, and within 20 % of the request is ok
 * (0.8 and 1.2 are in, 0.79 and 1.21 out). The live sampler's published
 * stats are checked for agreement with this in test_sampler.c. */
#include "test_support.h"

#include "sampler/sampler_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#define S 1000000000ull
#define T0 5000000000ull /* the first sample's time */

static void assert_near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol)) {
        fprintf(stderr, "%s: got %.9g, want %.9g +- %g\n", what, got, want, tol);
        fail();
    }
}

static void test_rate_is_samples_less_one_over_the_span(void **state)
{
    (void)state;
    double hz = -1;
    bool judged = false, ok = false;
    wl__sampler_judge_rate(51, T0, T0 + S / 2, 100.0, &hz, &judged, &ok);
    assert_near(hz, 100.0, 1e-9, "50 intervals in 0.5 s");
    assert_true(judged);
    assert_true(ok);
}

static void test_rate_bounds_are_20_percent_inclusive(void **state)
{
    (void)state;
    /* 1200 intervals at 100 Hz asked for: 12 s; the spans give the
     * ratios exactly (1200 / 10 s is 120 Hz, 1.2) */
    static const struct {
        double ratio;
        uint64_t span_ms;
        bool ok;
    } cases[] = {
        {0.79, 15190, false}, /* 0.78999 */
        {0.8, 15000, true},   {1.0, 12000, true},
        {1.2, 10000, true},   {1.21, 9917, false}, /* 1.21004 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double hz = 0;
        bool judged = false, ok = !cases[i].ok;
        wl__sampler_judge_rate(1201, T0, T0 + cases[i].span_ms * 1000000ull, 100.0, &hz, &judged,
                               &ok);
        assert_near(hz, 100.0 * cases[i].ratio, 0.01, "achieved rate");
        assert_true(judged);
        if (ok != cases[i].ok) {
            fprintf(stderr, "ratio %.2f: ok %d, want %d\n", cases[i].ratio, ok, cases[i].ok);
            fail();
        }
    }
}

static void test_fewer_than_five_samples_are_not_judged(void **state)
{
    (void)state;
    double hz = 0;
    bool judged = true, ok = false;
    /* four samples at a tenth of the rate asked for: not judged, so ok */
    wl__sampler_judge_rate(4, T0, T0 + 3 * S / 10, 100.0, &hz, &judged, &ok);
    assert_near(hz, 10.0, 1e-9, "3 intervals in 0.3 s");
    assert_false(judged);
    assert_true(ok);
    /* five are judged */
    wl__sampler_judge_rate(5, T0, T0 + 4 * S / 10, 100.0, &hz, &judged, &ok);
    assert_true(judged);
    assert_false(ok);
}

static void test_no_span_is_no_rate(void **state)
{
    (void)state;
    double hz = -1;
    bool judged = false, ok = true;
    wl__sampler_judge_rate(1, T0, T0, 100.0, &hz, &judged, &ok);
    assert_true(hz == 0.0);
    assert_false(judged);
    assert_true(ok);
    wl__sampler_judge_rate(6, T0, T0, 100.0, &hz, &judged, &ok); /* all at one time */
    assert_true(hz == 0.0);
    assert_true(judged);
    assert_false(ok);
    wl__sampler_judge_rate(6, T0, T0 + S, 0.0, &hz, &judged, &ok); /* nothing asked */
    assert_near(hz, 5.0, 1e-9, "5 intervals in 1 s");
    assert_false(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_is_samples_less_one_over_the_span),
        cmocka_unit_test(test_rate_bounds_are_20_percent_inclusive),
        cmocka_unit_test(test_fewer_than_five_samples_are_not_judged),
        cmocka_unit_test(test_no_span_is_no_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

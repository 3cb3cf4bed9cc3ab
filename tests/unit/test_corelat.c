/* engine/kernels/corelat: round trips are counted and timed, the time limit
 * stops a long request early, repeated calls work (the partner thread is
 * joined each time), bad arguments are refused. Run under TSan too.
 */
#include "test_support.h"

#include "engine/kernels/corelat.h"
#include "wattlens/error.h"

#include <math.h>

static void test_times_the_round_trips_asked_for(void **state)
{
    (void)state;
    struct wl_corelat_result r = {0};
    /* 100 round trips end well within 10 s even on one CPU (yielding) */
    assert_int_equal(wl_corelat_measure(100, 10000, &r), 0);
    assert_int_equal(r.n_roundtrips, 100);
    assert_true(isfinite(r.roundtrip_ns));
    assert_true(r.roundtrip_ns > 0.0);
}

static void test_time_limit_stops_early(void **state)
{
    (void)state;
    struct wl_corelat_result r = {0};
    /* 10^7 round trips take at least ~0.4 s anywhere (>= 40 ns each between
     * two cores); the 20 ms limit ends the run long before */
    assert_int_equal(wl_corelat_measure(10000000, 20, &r), 0);
    assert_true(r.n_roundtrips >= 1);
    assert_true(r.n_roundtrips < 10000000);
    assert_true(r.roundtrip_ns > 0.0);
}

static void test_repeated_calls(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        struct wl_corelat_result r = {0};
        assert_int_equal(wl_corelat_measure(50 + i, 10000, &r), 0);
        assert_int_equal(r.n_roundtrips, 50 + i);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct wl_corelat_result r;
    assert_int_equal(wl_corelat_measure(100, 100, NULL), WL_EINVAL);
    assert_int_equal(wl_corelat_measure(0, 100, &r), WL_EINVAL);
    assert_int_equal(wl_corelat_measure(10000001, 100, &r), WL_EINVAL);
    assert_int_equal(wl_corelat_measure(100, 0, &r), WL_EINVAL);
    assert_int_equal(wl_corelat_measure(100, 60001, &r), WL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_times_the_round_trips_asked_for),
        cmocka_unit_test(test_time_limit_stops_early),
        cmocka_unit_test(test_repeated_calls),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* engine/kernels/corelat: round trips are counted and timed, the time limit
 * stops a long request early, repeated calls work (both threads are joined
 * each time), the threads run pinned to the caller's first two CPUs (one
 * CPU twice when it has one), bad arguments are refused. Run under TSan too.
 */
#define _GNU_SOURCE /* CPU affinity */
#include "test_support.h"

#include "engine/kernels/corelat.h"
#include "wattlens/error.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>

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

/* The two threads run pinned to the first two CPUs the caller may use, and
 * to the one CPU twice when the caller may use only one. */
static void test_pins_to_the_callers_cpus(void **state)
{
    (void)state;
    cpu_set_t saved;
    assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof saved, &saved), 0);
    int first = -1, second = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE && second < 0; cpu++)
        if (CPU_ISSET(cpu, &saved)) {
            if (first < 0)
                first = cpu;
            else
                second = cpu;
        }
    assert_true(first >= 0);

    struct wl_corelat_result r = {0};
    assert_int_equal(wl_corelat_measure(200, 10000, &r), 0);
    assert_int_equal(r.cpu_a, first);
    assert_int_equal(r.cpu_b, second >= 0 ? second : first);

    /* restricted to its last allowed CPU: both threads share that one */
    const int last = second >= 0 ? second : first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
    r = (struct wl_corelat_result){0};
    const int rc = wl_corelat_measure(50, 10000, &r);
    assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof saved, &saved), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(r.n_roundtrips, 50);
    assert_int_equal(r.cpu_a, last);
    assert_int_equal(r.cpu_b, last);
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
        cmocka_unit_test(test_pins_to_the_callers_cpus),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

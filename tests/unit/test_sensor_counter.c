/* sensor counters (wl__counter_*, sensor_impl.h), driven directly with
 * chosen values and times: a wrap is exact for a counter whose top is its
 * largest value (MSR 0xffffffff, powercap max_energy_range_uj) and never
 * overflows for one that never wraps (UINT64_MAX); the 10 kW bound that
 * tells a wrap from a reset is 200 J at 10 ms between reads; each
 * discontinuity says what it was; a counter that goes above its range
 * and stays there is one discontinuity, its rises there counted; and a
 * change after a read gap longer than a wrap takes at 1 kW is a gap, not a
 * guess of 0 or 1 wraps. */
#include "test_support.h"

#include "sensors/sensor_impl.h"

#include <stdint.h>

#define MS 1000000ull

static void test_wrap_step_is_exact_for_an_inclusive_top(void **state)
{
    (void)state;
    /* 32-bit MSR: 0xffffffff -> 0 is one unit */
    assert_int_equal(wl__counter_step(0xffffffffull, 0, 0xffffffffull), 1);
    assert_int_equal(wl__counter_step(0xffffff00ull, 0x100, 0xffffffffull), 0x200);
    /* powercap: max_energy_range_uj is the largest value */
    assert_int_equal(wl__counter_step(262143328850ull - 499999, 500000, 262143328850ull), 1000000);
    /* a counter that never wraps: 2^64 - the fall, no overflow */
    assert_int_equal(wl__counter_step(UINT64_MAX, 0, UINT64_MAX), 1);
    assert_int_equal(wl__counter_step(10, 7, UINT64_MAX), UINT64_MAX - 2);
    assert_int_equal(wl__counter_step(7, 10, UINT64_MAX), 3);
}

/* The 32-bit counter of an MSR with 61.035 uJ units over 10 ms: a wrap
 * step up to 10 kW x (10 ms + 10 ms slack) = 200 J is a wrap, above it a
 * reset (sensors.md's bound). */
static void test_wrap_bound_is_200_j_at_10_ms(void **state)
{
    (void)state;
    const double unit_uj = 1e6 / 16384.0;
    const uint64_t top = 0xffffffffull, j199 = 199 * 16384, j201 = 201 * 16384;
    struct wl__counter c;
    wl__counter_init(&c, "test", "package-0", top, unit_uj, top - 1000, 0);
    assert_int_equal(wl__counter_update(&c, j199 - 1001, 10 * MS), WL_DISC_NONE);
    assert_int_equal(c.total_raw, j199);
    assert_int_equal(c.n_discontinuities, 0);
    wl__counter_init(&c, "test", "package-0", top, unit_uj, top - 1000, 0);
    assert_int_equal(wl__counter_update(&c, j201 - 1001, 10 * MS), WL_DISC_BAD_WRAP);
    assert_int_equal(c.total_raw, 0);
    assert_int_equal(c.n_discontinuities, 1);
}

static void test_a_counter_that_never_wraps_fell(void **state)
{
    (void)state;
    struct wl__counter c;
    wl__counter_init(&c, "test", "energy1", UINT64_MAX, 1.0, 5000000, 0);
    assert_int_equal(wl__counter_update(&c, 5000010, MS), WL_DISC_NONE);
    assert_int_equal(wl__counter_update(&c, 5000009, 2 * MS), WL_DISC_FELL); /* 1 uJ back */
    assert_int_equal(wl__counter_update(&c, 5000020, 3 * MS), WL_DISC_NONE);
    assert_int_equal(wl__counter_total_uj(&c), 21);
    assert_int_equal(c.n_discontinuities, 1);
}

/* max_energy_range_uj 1 J; the counter goes above it and keeps rising
 * there: one discontinuity (the step into it is unknown), then its rises
 * count; the old code saw one at every read and counted nothing. */
static void test_above_its_range_once_then_its_rises_count(void **state)
{
    (void)state;
    struct wl__counter c;
    wl__counter_init(&c, "test", "package-0", 1000000, 1.0, 500000, 0);
    assert_int_equal(wl__counter_update(&c, 3000000, 10 * MS), WL_DISC_ABOVE_RANGE);
    for (uint64_t k = 1; k <= 100; k++) /* stays, then rises 1 mJ a read */
        assert_int_equal(wl__counter_update(&c, 3000000 + (k - 1) * 1000, (10 + k) * MS),
                         WL_DISC_NONE);
    assert_int_equal(wl__counter_total_uj(&c), 99000);
    assert_int_equal(c.n_discontinuities, 1);
    /* where it wraps is unknown: a fall from above the range is one */
    assert_int_equal(wl__counter_update(&c, 3050000, 200 * MS), WL_DISC_FELL);
    assert_int_equal(wl__counter_update(&c, 10, 210 * MS), WL_DISC_FELL);
    assert_int_equal(wl__counter_update(&c, 20, 220 * MS), WL_DISC_NONE);
    assert_int_equal(wl__counter_total_uj(&c), 99010);
    assert_int_equal(c.n_discontinuities, 3);
}

/* Back in range, the next read above it is a discontinuity again (old: the
 * counter was marked above its range for good, so 700000 -> 3000000 was
 * counted as 2.3 J); the tester's sequence, range 1 J. */
static void test_back_in_range_a_second_jump_above_is_a_gap(void **state)
{
    (void)state;
    struct wl__counter c;
    wl__counter_init(&c, "test", "package-0", 1000000, 1.0, 500000, 0);
    assert_int_equal(wl__counter_update(&c, 3000000, 10 * MS), WL_DISC_ABOVE_RANGE);
    assert_int_equal(wl__counter_update(&c, 600000, 20 * MS), WL_DISC_FELL);
    assert_int_equal(wl__counter_update(&c, 700000, 30 * MS), WL_DISC_NONE);
    assert_int_equal(wl__counter_update(&c, 3000000, 40 * MS), WL_DISC_ABOVE_RANGE);
    assert_int_equal(wl__counter_total_uj(&c), 100000);
    assert_int_equal(c.n_discontinuities, 3);
}

/* A rise is bounded as a wrap is: 100 kJ in 20 ms is a jump no draw
 * explains (old: counted, a 5 MW peak). A coarse counter whose values come
 * a second apart may rise by that second's energy: the bound runs from the
 * read before its previous value was first seen. */
static void test_a_rise_no_draw_explains_is_a_gap(void **state)
{
    (void)state;
    struct wl__counter c;
    wl__counter_init(&c, "test", "package-0", UINT64_MAX, 1.0, 1000, 0);
    /* the first change after open: when its start was made is unknown */
    assert_int_equal(wl__counter_update(&c, 2000, 10 * MS), WL_DISC_NONE);
    assert_int_equal(wl__counter_update(&c, 100000000000ull, 30 * MS), WL_DISC_BAD_RISE);
    assert_int_equal(wl__counter_total_uj(&c), 1000);
    assert_int_equal(c.n_discontinuities, 1);
    assert_int_equal(wl__counter_update(&c, 100001000000ull, 40 * MS), WL_DISC_NONE); /* +1 J */
    assert_int_equal(wl__counter_total_uj(&c), 1001000);
    /* hwmon-like: 300 J once a second, read every 10 ms */
    wl__counter_init(&c, "test", "energy1", UINT64_MAX, 1.0, 0, 0);
    uint64_t v = 0;
    for (uint64_t t = 10; t <= 3000; t += 10) {
        if (t % 1000 == 0)
            v += 300000000;
        assert_int_equal(wl__counter_update(&c, v, t * MS), WL_DISC_NONE);
    }
    assert_int_equal(wl__counter_total_uj(&c), 900000000);
    assert_int_equal(c.n_discontinuities, 0);
}

/* After a read gap longer than the counter's range takes at 1 kW, a change
 * may hide any number of wraps: the old code took a rise as no wrap and a
 * fall as one, and said nothing. It is a discontinuity now (the sampler
 * records a gap); the counter goes on from the new value. A 32-bit MSR
 * with 61 uJ units wraps in 262 s at 1 kW; Zen's 15.3 uJ in 65.5 s. */
static void test_a_change_after_a_gap_longer_than_a_wrap_is_ambiguous(void **state)
{
    (void)state;
    const double unit_uj = 1e6 / 16384.0;
    const uint64_t top = 0xffffffffull, s_ns = 1000000000ull;
    struct wl__counter c;
    wl__counter_init(&c, "test", "package-0", top, unit_uj, 1000, 0);
    assert_int_equal(wl__counter_wrap_ns(&c), 262144000000ull);
    /* within a wrap's time: a rise and a wrap count as before */
    assert_int_equal(wl__counter_update(&c, 2000, 200 * s_ns), WL_DISC_NONE);
    assert_int_equal(wl__counter_update(&c, 1000, 400 * s_ns), WL_DISC_NONE); /* one wrap */
    assert_int_equal(c.total_raw, 1000 + (top - 2000) + 1 + 1000);
    const uint64_t before = c.total_raw;
    /* 300 s without a read: a rise may be a rise and a wrap or more */
    assert_int_equal(wl__counter_update(&c, 5000, 700 * s_ns), WL_DISC_AMBIGUOUS);
    assert_int_equal(c.total_raw, before);
    assert_int_equal(c.n_discontinuities, 1);
    assert_int_equal(wl__counter_update(&c, 6000, 700 * s_ns + 10000000), WL_DISC_NONE);
    assert_int_equal(c.total_raw, before + 1000);
    /* and a fall is not "one wrap" */
    assert_int_equal(wl__counter_update(&c, 10, 1000 * s_ns), WL_DISC_AMBIGUOUS);
    assert_int_equal(c.total_raw, before + 1000);
    /* unchanged after a long gap: nothing drawn, not a gap */
    assert_int_equal(wl__counter_update(&c, 10, 2000 * s_ns), WL_DISC_NONE);
    /* Zen: 65.5 s at 1 kW; a 60 s sampler interval still unwraps */
    wl__counter_init(&c, "test", "package-0", top, 1e6 / 65536.0, 1000, 0);
    assert_int_equal(wl__counter_wrap_ns(&c), 65536000000ull);
    assert_int_equal(wl__counter_update(&c, 2000, 60 * s_ns), WL_DISC_NONE);
    assert_int_equal(wl__counter_update(&c, 3000, 130 * s_ns), WL_DISC_AMBIGUOUS);
    /* never wraps: never ambiguous; a range under 1 kJ (1 ms at 1 kW) is
     * not checked: every decrease stays one wrap, as documented */
    wl__counter_init(&c, "test", "energy1", UINT64_MAX, 1.0, 0, 0);
    assert_int_equal(wl__counter_update(&c, 5, 10000 * s_ns), WL_DISC_NONE);
    wl__counter_init(&c, "test", "package-0", 1000000, 1.0, 500000, 0);
    assert_int_equal(wl__counter_update(&c, 600000, 10 * s_ns), WL_DISC_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_step_is_exact_for_an_inclusive_top),
        cmocka_unit_test(test_wrap_bound_is_200_j_at_10_ms),
        cmocka_unit_test(test_a_counter_that_never_wraps_fell),
        cmocka_unit_test(test_above_its_range_once_then_its_rises_count),
        cmocka_unit_test(test_back_in_range_a_second_jump_above_is_a_gap),
        cmocka_unit_test(test_a_rise_no_draw_explains_is_a_gap),
        cmocka_unit_test(test_a_change_after_a_gap_longer_than_a_wrap_is_ambiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

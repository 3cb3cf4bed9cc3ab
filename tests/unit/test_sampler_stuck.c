/* ctest-labels: timing (reads 120 ms apart; no time is asserted, a slow host only waits longer) */
/* sampler: a RAPL counter that does not change once over max(100 ms, 10 x
 * its nominal update period) of reads is not measuring. The sampler records
 * it as a gap of its domain whose energy is not counted (WL_DISC_STUCK) and
 * warns once, naming the channel, so its 0 J is never called a measurement.
 * A counter without a nominal period (uncore, psys, hwmon's ~1 s counters)
 * is never judged, and one that moves is not either.
 * Sensors are fake sysfs trees rewritten by the test between marks. */
#include "test_support.h"

#include "sensor_open.h"
#include "sysfs_text.h"
#include "sampler/sampler.h"
#include "sampler/sampler_impl.h"
#include "sensors/sensor.h"
#include "util/clock.h"
#include "wattlens/wattlens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void put_zone(const char *root, const char *dir, const char *name, uint64_t energy)
{
    char path[2048];
    wl_test_make_class_device(root, "powercap", dir, name);
    snprintf(path, sizeof path, "%s/class/powercap/%s/max_energy_range_uj", root, dir);
    wl_test_put_text(path, "262143328850\n");
    snprintf(path, sizeof path, "%s/class/powercap/%s/energy_uj", root, dir);
    wl_test_put_uj(path, energy);
}

static wl_sampler *open_marks_only(wl_sensor_set *set)
{
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.ring_capacity = 64;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &s), 0); /* the thread is never started */
    return s;
}

static unsigned count_of(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Marks until one is at least 120 ms after the sampler's origin (no time
 * asserted: a slow host only marks later), into *m. */
static void mark_past_120ms(wl_sampler *s, struct wl_energy_mark *m)
{
    for (;;) {
        assert_int_equal(wl_sampler_mark(s, m), 0);
        if (m->t_ns - wl_sampler_t0_ns(s) >= 120000000)
            return;
        wl_clock_sleep_ns(20000000);
    }
}

static void test_stuck_after_is_100ms_or_ten_periods(void **state)
{
    (void)state;
    assert_int_equal(wl__sampler_stuck_after_ns(0), 0);
    assert_int_equal(wl__sampler_stuck_after_ns(1000000), 100000000);
    assert_int_equal(wl__sampler_stuck_after_ns(10000000), 100000000);
    assert_int_equal(wl__sampler_stuck_after_ns(50000000), 500000000);
    assert_true(wl__sampler_stuck_after_ns(UINT64_MAX) == UINT64_MAX);
}

/* The RAPL backends give package, core and dram a nominal 1 ms, uncore and
 * psys none. */
static void test_powercap_channels_have_their_nominal_periods(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 1000);
    put_zone(root, "intel-rapl:0:0", "core", 1000);
    put_zone(root, "intel-rapl:0:1", "uncore", 1000);
    put_zone(root, "intel-rapl:0:2", "dram", 1000);
    put_zone(root, "intel-rapl:1", "psys", 1000);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
    const struct wl_sensor_info *in = wl_sensor_get_info(wl_sensor_set_get(set, 0));
    assert_int_equal(in->n_channels, 5);
    for (unsigned c = 0; c < in->n_channels; c++) {
        const enum wl_domain d = in->ch[c].domain;
        const bool known = d == WL_DOMAIN_PACKAGE || d == WL_DOMAIN_CORE || d == WL_DOMAIN_DRAM;
        assert_int_equal(in->ch[c].nominal_period_ns, known ? 1000000 : 0);
    }
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* package-0 flat for 120 ms and more: one gap of package whose energy is
 * not counted, that says why, and one warning naming package-0; dram,
 * which moved, and uncore, flat but without a nominal period, have none. */
static void test_flat_package_counter_is_a_gap_and_a_warning(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 5000000);
    put_zone(root, "intel-rapl:0:1", "uncore", 7000);
    put_zone(root, "intel-rapl:0:2", "dram", 1000000);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
    wl_test_capture_stderr_begin();
    wl_sampler *s = open_marks_only(set);
    char dram[2048];
    snprintf(dram, sizeof dram, "%s/class/powercap/intel-rapl:0:2/energy_uj", root);
    wl_test_put_uj(dram, 1000500);
    struct wl_energy_mark m;
    mark_past_120ms(s, &m);
    struct wl_sampler_gap g[4];
    const size_t n = wl_sampler_gaps(s, g, 4);
    assert_int_equal(wl_sampler_gaps(s, g, 4), n); /* judged once */
    char *err = wl_test_capture_stderr_end();
    fputs(err, stderr);
    assert_int_equal(n, 1);
    assert_true(g[0].counter_fell);
    assert_int_equal(g[0].causes, 1u << WL_DISC_STUCK);
    assert_int_equal(g[0].domain_mask, 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(g[0].lost_mask, 1u << WL_DOMAIN_PACKAGE);
    assert_string_equal(g[0].backend, "rapl-powercap");
    assert_true(g[0].t_end_ns - g[0].t_start_ns >= 100000000);
    assert_non_null(strstr(wl_sampler_gap_why(&g[0]), "did not change once"));
    assert_int_equal(count_of(err, "[sampler] rapl-powercap package-0: its energy counter did "
                                   "not change once"),
                     1);
    assert_int_equal(count_of(err, "uncore"), 0);
    assert_int_equal(count_of(err, "dram"), 0);
    free(err);
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    assert_int_equal(st.n_gaps, 1);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A counter that moved once is measuring: no gap however long it then rests. */
static void test_counter_that_moved_once_is_not_stuck(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 5000000);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
    wl_sampler *s = open_marks_only(set);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    wl_test_put_uj(path, 5000061);
    struct wl_energy_mark m;
    assert_int_equal(wl_sampler_mark(s, &m), 0);
    mark_past_120ms(s, &m);
    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 0);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* hwmon's counters (amd_energy: ~1 s) have no nominal period: a flat one
 * over a short run is no gap. */
static void test_flat_hwmon_counter_is_not_judged(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    wl_test_make_energy_meter(root, 100000000, path, sizeof path);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_HWMON);
    const struct wl_sensor_info *in = wl_sensor_get_info(wl_sensor_set_get(set, 0));
    assert_int_equal(in->ch[0].nominal_period_ns, 0);
    wl_sampler *s = open_marks_only(set);
    struct wl_energy_mark m;
    mark_past_120ms(s, &m);
    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 0);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stuck_after_is_100ms_or_ten_periods),
        cmocka_unit_test(test_powercap_channels_have_their_nominal_periods),
        cmocka_unit_test(test_flat_package_counter_is_a_gap_and_a_warning),
        cmocka_unit_test(test_counter_that_moved_once_is_not_stuck),
        cmocka_unit_test(test_flat_hwmon_counter_is_not_judged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

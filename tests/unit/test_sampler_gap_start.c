/* ctest-labels: timing (the thread's tests sleep and read fake files written meanwhile) */
/* sampler: where a failed read's gap starts. A power-only channel is
 * integrated from one good read to the next, so when its read fails its
 * energy is lost from its last good read, not from the failed one: the gap
 * must start there, so that the time it gives as not counted is the time
 * whose energy is missing (the old code started it at the first failed
 * read, one interval short). Checked on a power meter alone (the whole read
 * fails) and next to an amd_energy counter on the same sensor (one device
 * fails, the read succeeds). Nothing here is timed: the test waits for the
 * sampler's own samples and checks them against each other. Sensors are
 * hwmon files written by the test. */
#include "test_support.h"

#include "sensor_open.h"
#include "sysfs_text.h"

#include "sampler/sampler.h"
#include "sensors/sensor.h"
#include "util/clock.h"
#include "wattlens/wattlens.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define METER_W 80.0

/* A tree under a new root (heap) with a power meter (domain total, 80 W,
 * power only) and, with_counter, an amd_energy counter (domain package)
 * on the same hwmon sensor; the meter's power file's path goes to power. */
static char *make_tree(bool with_counter, char *power, size_t size)
{
    char *root = wl_test_tmpdir();
    assert_non_null(root);
    char path[2048];
    if (with_counter) {
        wl_test_make_class_device(root, "hwmon", "hwmon0", "amd_energy");
        snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/energy1_label", root);
        wl_test_put_text(path, "Esocket0\n");
        snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/energy1_input", root);
        wl_test_put_text(path, "00000000000100000000\n");
    }
    wl_test_make_class_device(root, "hwmon", "hwmon1", "power_meter");
    snprintf(power, size, "%s/class/hwmon/hwmon1/power1_input", root);
    wl_test_put_text(power, "080000000\n"); /* uW, fixed width */
    return root;
}

static wl_sensor_set *open_hwmon(const char *root)
{
    return wl_test_open_sensor_set(root, WL_BACKEND_HWMON); /* sample time = its read's */
}

/* Waits (no time asserted: a stalled host only waits longer) until the
 * thread has taken n more samples than it had. */
static void wait_samples(wl_sampler *s, uint64_t n)
{
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    const uint64_t want = st.n_samples + n;
    for (int i = 0; i < 60000 && st.n_samples < want; i++) {
        wl_clock_sleep_ns(1000000);
        wl_sampler_stats(s, &st);
    }
    assert_true(st.n_samples >= want);
}

static void wait_gap(wl_sampler *s, bool ended)
{
    struct wl_sampler_gap g[4];
    for (int i = 0; i < 60000; i++) {
        if (wl_sampler_gaps(s, g, 4) == 1 && (!ended || g[0].t_end_ns != 0))
            return;
        wl_clock_sleep_ns(1000000);
    }
    fail_msg("the gap did not %s", ended ? "end" : "open");
}

/* The meter fails for a few samples mid-run; its gap must run from its
 * last good read to its next one, and its energy must be 80 W over the
 * sampled time less exactly that gap. */
static void check_gap_starts_at_the_last_good_read(bool with_counter)
{
    char power[2048];
    char *root = make_tree(with_counter, power, sizeof power);
    wl_sensor_set *set = open_hwmon(root);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 20000000;
    sp.ring_capacity = 8192;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &s), 0);
    assert_int_equal(wl_sampler_start(s), 0);
    wait_samples(s, 5);
    wl_test_put_text(power, "garbage!!\n");
    wait_gap(s, false);
    wait_samples(s, 3); /* a gap of several samples */
    wl_test_put_text(power, "080000000\n");
    wait_gap(s, true);
    wait_samples(s, 5);
    assert_int_equal(wl_sampler_stop(s), 0);

    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    assert_int_equal(st.n_overflow, 0);
    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_int_equal(g[0].lost_mask, 1u << WL_DOMAIN_TOTAL);
    static struct wl_sample buf[8192];
    const size_t n = wl_sampler_drain(s, buf, 8192);
    const enum wl_domain d = WL_DOMAIN_TOTAL;
    const uint16_t bit = (uint16_t)(1u << d);
    size_t first_bad = n, next_good = n;
    for (size_t i = 0; i < n; i++) {
        if (first_bad == n && (buf[i].gap_mask & bit))
            first_bad = i;
        else if (first_bad < n && next_good == n && (buf[i].valid_mask & bit))
            next_good = i;
    }
    assert_true(first_bad > 0 && first_bad < n && next_good < n);
    assert_true(buf[first_bad - 1].valid_mask & bit);
    if (with_counter) /* the counter was read all along */
        for (size_t i = 0; i < n; i++)
            assert_true(buf[i].valid_mask & (1u << WL_DOMAIN_PACKAGE));
    const struct wl_sample *last_good = &buf[first_bad - 1], *back = &buf[next_good];
    fprintf(
        stderr,
        "last good read %.1f ms, first failed %.1f ms, next good %.1f ms; gap %.1f .. %.1f ms\n",
        (double)(last_good->t_ns - wl_sampler_t0_ns(s)) / 1e6,
        (double)(buf[first_bad].t_ns - wl_sampler_t0_ns(s)) / 1e6,
        (double)(back->t_ns - wl_sampler_t0_ns(s)) / 1e6,
        (double)(g[0].t_start_ns - wl_sampler_t0_ns(s)) / 1e6,
        (double)(g[0].t_end_ns - wl_sampler_t0_ns(s)) / 1e6);
    /* one sensor: a sample's time is its read's (the middle of it) */
    assert_int_equal(g[0].t_start_ns, last_good->t_ns);
    assert_int_equal(g[0].t_end_ns, back->t_ns);
    /* nothing counted from the last good read to the next */
    assert_int_equal(back->energy_uj[d], last_good->energy_uj[d]);
    /* so the energy over the samples is 80 W over their time less the gap
     * (the trapezoid of a constant power is exact; 10 uJ of rounding) */
    const struct wl_sample *a = &buf[0], *z = &buf[n - 1];
    const double dt_s = (double)(z->t_ns - a->t_ns - (g[0].t_end_ns - g[0].t_start_ns)) / 1e9;
    const double got_j = (double)(z->energy_uj[d] - a->energy_uj[d]) / 1e6;
    if (got_j < METER_W * dt_s - 1e-5 || got_j > METER_W * dt_s + 1e-5) {
        fprintf(stderr, "energy %.6f J, 80 W over the time outside the gap %.6f J\n", got_j,
                METER_W * dt_s);
        fail();
    }
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

static void test_power_meter_gap_starts_at_its_last_good_read(void **state)
{
    (void)state;
    check_gap_starts_at_the_last_good_read(false);
}

static void test_one_failed_meter_gap_starts_at_its_last_good_read(void **state)
{
    (void)state;
    check_gap_starts_at_the_last_good_read(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_meter_gap_starts_at_its_last_good_read),
        cmocka_unit_test(test_one_failed_meter_gap_starts_at_its_last_good_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

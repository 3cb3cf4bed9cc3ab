/* ctest-labels: timing (reads 120 ms apart; no time is asserted, a slow host only waits longer) */
/* sampler: a RAPL counter that does not change once over max(100 ms, 10 x
 * its nominal update period) of reads is not measuring. The sampler records
 * it as a gap of its domain whose energy is not counted (WL_DISC_STUCK) and
 * warns once, naming the channel, so its 0 J is never called a measurement.
 * A counter without a nominal period (uncore, psys, hwmon's ~1 s counters)
 * is never judged, and one that keeps moving is not either; one that moved
 * and then froze is, from its last change.
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
 * which keeps moving, and uncore, flat but without a nominal period, have none. */
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
    struct wl_energy_mark m;
    for (uint64_t e = 1000500;; e += 500) { /* dram keeps moving */
        wl_test_put_uj(dram, e);
        assert_int_equal(wl_sampler_mark(s, &m), 0);
        if (m.t_ns - wl_sampler_t0_ns(s) >= 120000000)
            break;
        wl_clock_sleep_ns(10000000);
    }
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

/* The gap's text gives the counter's own nominal period (the gap carries
 * it), not a hard-coded "about every millisecond". */
static void test_stuck_gap_text_gives_its_nominal_period(void **state)
{
    (void)state;
    struct wl_sampler_gap g;
    memset(&g, 0, sizeof g);
    g.counter_fell = true;
    g.causes = 1u << WL_DISC_STUCK;
    g.nominal_period_ns = 50000000;
    char buf[160];
    const char *t = wl_sampler_gap_text(&g, buf, sizeof buf);
    assert_non_null(strstr(t, "did not change once (it updates about every 50 ms)"));
    assert_null(strstr(wl_sampler_gap_why(&g), "millisecond"));
    g.causes = 1u << WL_DISC_FELL;
    assert_string_equal(wl_sampler_gap_text(&g, buf, sizeof buf), wl_sampler_gap_why(&g));
}

/* A counter that moved and then froze is not measuring from its last
 * change: a gap from the read that saw that change, package's energy over
 * the frozen time unknown (wl_sampler_stuck_over), and the gap closed at
 * the last flat read when it moves again; a window after that is measured.
 * Before, a counter that moved once was never judged again. */
static void test_counter_that_froze_after_moving_is_stuck_until_it_moves(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 5000000);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
    wl_test_capture_stderr_begin();
    wl_sampler *s = open_marks_only(set);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    wl_test_put_uj(path, 5000061);
    struct wl_energy_mark moved, m, later;
    assert_int_equal(wl_sampler_mark(s, &moved), 0); /* sees the change */
    struct wl_energy_mark m0 = moved;
    for (;;) { /* flat for 120 ms and more after the change */
        assert_int_equal(wl_sampler_mark(s, &m), 0);
        if (m.t_ns - moved.t_ns >= 120000000)
            break;
        wl_clock_sleep_ns(20000000);
    }
    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_int_equal(g[0].causes, 1u << WL_DISC_STUCK);
    assert_int_equal(g[0].lost_mask, 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(g[0].nominal_period_ns, 1000000);
    assert_true(g[0].t_start_ns == moved.t_ns); /* from the read that saw it change */
    assert_true(g[0].t_end_ns >= m.t_ns);
    assert_int_equal(wl_sampler_stuck_over(s, m0.t_ns, m.t_ns, NULL), 1u << WL_DOMAIN_PACKAGE);
    /* it moves again: the gap ends at its last flat read, before the move */
    wl_test_put_uj(path, 5000200);
    assert_int_equal(wl_sampler_mark(s, &later), 0);
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_true(g[0].t_end_ns >= m.t_ns && g[0].t_end_ns < later.t_ns);
    assert_int_equal(wl_sampler_stuck_over(s, m0.t_ns, m.t_ns, NULL), 1u << WL_DOMAIN_PACKAGE);
    uint16_t pending = 0xffff;
    assert_int_equal(wl_sampler_stuck_over(s, m0.t_ns, later.t_ns, &pending), 0);
    assert_int_equal(pending, 0); /* a window across the move was measuring at its end */
    char *err = wl_test_capture_stderr_end();
    fputs(err, stderr);
    assert_int_equal(count_of(err, "package-0: its energy counter did not change once"), 1);
    free(err);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A counter that keeps moving is never judged. */
static void test_counter_that_keeps_moving_is_not_stuck(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 5000000);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
    wl_sampler *s = open_marks_only(set);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    struct wl_energy_mark m0, m;
    assert_int_equal(wl_sampler_mark(s, &m0), 0);
    for (uint64_t e = 5000100;; e += 100) {
        wl_test_put_uj(path, e);
        assert_int_equal(wl_sampler_mark(s, &m), 0);
        if (m.t_ns - m0.t_ns >= 150000000)
            break;
        wl_clock_sleep_ns(10000000); /* no 100 ms without a change */
    }
    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 0);
    assert_int_equal(wl_sampler_stuck_over(s, m0.t_ns, m.t_ns, NULL), 0);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A counter whose read failed at the sampler's open starts its flat run at
 * its first good read, and is judged stuck when it stays flat from there.
 * Before, that first read compared its value with the failed read's and
 * called the counter moving, so it was never judged. */
static void test_counter_first_read_at_open_failed_is_judged_from_its_first_good_read(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 5000000);
    put_zone(root, "intel-rapl:0:2", "dram", 1000000);
    char dram[2048], pkg[2048];
    snprintf(dram, sizeof dram, "%s/class/powercap/intel-rapl:0:2/energy_uj", root);
    snprintf(pkg, sizeof pkg, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
    wl_test_put_text(dram, "garbage!!\n"); /* dram fails at the origin read */
    wl_sampler *s = open_marks_only(set);
    /* not the value the sensor saw at its own open: no read in between */
    wl_test_put_uj(dram, 2000000);
    struct wl_energy_mark first, m;
    uint64_t e = 5000000;
    wl_test_put_uj(pkg, e += 100);
    assert_int_equal(wl_sampler_mark(s, &first), 0); /* dram's first good read */
    assert_true(first.valid_mask & (1u << WL_DOMAIN_DRAM));
    for (;;) { /* package moves, dram stays put from its first good read */
        wl_test_put_uj(pkg, e += 100);
        assert_int_equal(wl_sampler_mark(s, &m), 0);
        if (m.t_ns - first.t_ns >= 120000000)
            break;
        wl_clock_sleep_ns(10000000);
    }
    struct wl_sampler_gap g[4];
    const size_t n = wl_sampler_gaps(s, g, 4);
    const struct wl_sampler_gap *stuck = NULL;
    for (size_t i = 0; i < n; i++)
        if (g[i].causes == 1u << WL_DISC_STUCK)
            stuck = &g[i];
    assert_non_null(stuck);
    assert_int_equal(stuck->lost_mask, 1u << WL_DOMAIN_DRAM);
    assert_true(stuck->t_start_ns == first.t_ns); /* its first good read, not the open */
    assert_int_equal(wl_sampler_stuck_over(s, first.t_ns, m.t_ns, NULL), 1u << WL_DOMAIN_DRAM);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* wl_sampler_stuck_over: a counter flat since the window's start is
 * pending while its flat run is too short to judge, and stuck once it is
 * long enough; a window that began before the run is neither. */
static void test_stuck_over_is_pending_then_stuck(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 5000000);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
    wl_sampler *s = open_marks_only(set);
    struct wl_energy_mark m0, m1;
    assert_int_equal(wl_sampler_mark(s, &m0), 0);
    uint16_t pending = 0;
    const uint16_t early = wl_sampler_stuck_over(s, m0.t_ns, m0.t_ns, &pending);
    assert_int_equal(early | pending, 1u << WL_DOMAIN_PACKAGE); /* one or the other */
    if (wl_clock_now_ns() - wl_sampler_t0_ns(s) < 50000000) {   /* not a slow host */
        assert_int_equal(early, 0);
        assert_int_equal(pending, 1u << WL_DOMAIN_PACKAGE);
    }
    mark_past_120ms(s, &m1);
    assert_int_equal(wl_sampler_stuck_over(s, m0.t_ns, m1.t_ns, &pending), 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(pending, 0);
    /* before the sampler's first read: not covered */
    assert_int_equal(wl_sampler_stuck_over(s, wl_sampler_t0_ns(s) - 1, m1.t_ns, &pending), 0);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A counter whose reads keep failing is not pending: a failed read does
 * not lengthen its flat run, so it could never be judged, and a writer
 * that waits for pending domains held every row until the stop. The
 * marks lack its domain anyway (its figure is unknown, not 0 J). Once it
 * reads again it is judged as before. Old: pending stayed set. */
static void test_failing_counter_is_not_pending(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 5000000);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
    wl_sampler *s = open_marks_only(set);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    struct wl_energy_mark a, b;
    uint64_t v = 5000000;
    for (int i = 0; i < 5; i++) {
        v += 100;
        wl_test_put_uj(path, v);
        assert_int_equal(wl_sampler_mark(s, &a), 0);
    }
    wl_test_put_text(path, "garbage\n");
    assert_int_equal(wl_sampler_mark(s, &a), 0);
    assert_int_equal(wl_sampler_mark(s, &b), 0);
    assert_false(a.valid_mask & (1u << WL_DOMAIN_PACKAGE));
    uint16_t pending = 0xffff;
    assert_int_equal(wl_sampler_stuck_over(s, a.t_ns, b.t_ns, &pending), 0);
    assert_int_equal(pending, 0);
    /* it reads again, unchanged: its flat run starts there, not across the
     * failed reads; it is judged as before from there on */
    wl_test_put_uj(path, v);
    struct wl_energy_mark c;
    assert_int_equal(wl_sampler_mark(s, &c), 0);
    assert_int_equal(wl_sampler_stuck_over(s, a.t_ns, c.t_ns, &pending), 0);
    assert_int_equal(pending, 0);
    const uint16_t st = wl_sampler_stuck_over(s, c.t_ns, c.t_ns, &pending);
    assert_int_equal(st | pending, 1u << WL_DOMAIN_PACKAGE); /* one or the other */
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A window its marks read flat, given its verdict while later reads
 * failed (not pending, not stuck: written as measured), keeps it: once the
 * counter reads again, still flat, for over 100 ms, it is stuck from its
 * recovery on, not over that earlier window. Old: the flat run went on
 * across the failed reads, and the earlier window turned stuck after the
 * writer had stored it measured. */
static void test_verdict_given_during_failed_reads_stays(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 5000000);
    wl_sensor_set *set = wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
    wl_sampler *s = open_marks_only(set);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    struct wl_energy_mark m0, m1, f, r0, r1;
    assert_int_equal(wl_sampler_mark(s, &m0), 0);
    assert_int_equal(wl_sampler_mark(s, &m1), 0);
    assert_true(m1.valid_mask & (1u << WL_DOMAIN_PACKAGE));
    wl_test_put_text(path, "garbage\n");
    assert_int_equal(wl_sampler_mark(s, &f), 0);
    assert_false(f.valid_mask & (1u << WL_DOMAIN_PACKAGE));
    uint16_t pending = 0xffff;
    uint16_t st = wl_sampler_stuck_over(s, m0.t_ns, m1.t_ns, &pending);
    if (st) { /* a slow host: judged stuck before the failure already */
        wl_sampler_close(s);
        wl_sensor_set_close(set);
        wl_test_rmtree(root);
        free(root);
        skip();
    }
    assert_int_equal(pending, 0);
    wl_test_put_uj(path, 5000000); /* the same value again */
    assert_int_equal(wl_sampler_mark(s, &r0), 0);
    do {
        wl_clock_sleep_ns(20000000);
        assert_int_equal(wl_sampler_mark(s, &r1), 0);
    } while (r1.t_ns - r0.t_ns < 120000000);
    assert_int_equal(wl_sampler_stuck_over(s, r0.t_ns, r1.t_ns, &pending), 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(wl_sampler_stuck_over(s, m0.t_ns, m1.t_ns, &pending), 0);
    assert_int_equal(pending, 0);
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
        cmocka_unit_test(test_stuck_gap_text_gives_its_nominal_period),
        cmocka_unit_test(test_counter_that_froze_after_moving_is_stuck_until_it_moves),
        cmocka_unit_test(test_counter_that_keeps_moving_is_not_stuck),
        cmocka_unit_test(test_counter_first_read_at_open_failed_is_judged_from_its_first_good_read),
        cmocka_unit_test(test_stuck_over_is_pending_then_stuck),
        cmocka_unit_test(test_failing_counter_is_not_pending),
        cmocka_unit_test(test_verdict_given_during_failed_reads_stays),
        cmocka_unit_test(test_flat_hwmon_counter_is_not_judged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The open-time update-period probe (wl__sensor_measure_period and its
 * estimator wl__period_estimate_ns, sensor_impl.h), driven by a fake
 * backend whose reads take their times from a script, not the clock: a
 * counter that steps every 1 ms, read every 102 us, with one read late by
 * 8.5 ms at the start, in the middle or at the end of the probe. The mean
 * over the whole span (the old probe) took that late read's merged updates
 * for one interval and said about 1.7 ms; the median of the intervals
 * whose two changes were seen promptly says 1 ms. A counter that changes at
 * every read is given the reads' spacing, its period's upper bound; a
 * change seen late with too few others leaves the period not measured (the
 * sampler learns it) instead of a wrong one. */
#include "test_support.h"

#include "sensors/sensor_impl.h"
#include "wattlens/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US 1000ull
#define MS 1000000ull
#define PERIOD_NS MS        /* the fake counter's update period (but in one test) */
#define PHASE_NS (370 * US) /* its updates are at 0.63 ms, 1.63 ms, ... */
#define T0_NS 1000000000ull /* the script's first read */

/* The script: a read takes 2 us and the next begins step_ns after it ends
 * (the probe's 100 us sleep), except that the first read due at or after
 * late_at_ns (from T0) begins late_ns later. */
static struct script {
    uint64_t period_ns;  /* the counter's */
    uint64_t period1_ns; /* a second channel's (0: none; UINT64_MAX: never changes) */
    uint64_t step_ns, late_at_ns, late_ns;
    uint64_t next_ns; /* when the next read begins */
    bool late_done;
    unsigned n_reads;
    uint64_t last_value;                  /* the counter's update count at the last read */
    unsigned n_seen;                      /* reads that saw it change (at most the probe's 12) */
    uint64_t first_seen_ns, last_seen_ns; /* the first and last such read's end */
} sc;

static uint64_t updates_by(uint64_t t_ns)
{
    return (t_ns - T0_NS + PHASE_NS) / sc.period_ns;
}

static int script_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    (void)s;
    if (++sc.n_reads > 5000) /* a script that never gives 12 changes ends the probe */
        return WL_ESENSOR;
    if (!sc.late_done && sc.next_ns - T0_NS >= sc.late_at_ns) {
        sc.next_ns += sc.late_ns;
        sc.late_done = true;
    }
    r->t_before_ns = sc.next_ns;
    r->t_after_ns = sc.next_ns + 2 * US;
    const uint64_t k = updates_by(sc.next_ns + 1 * US);
    r->n_channels = sc.period1_ns ? 2 : 1;
    if (sc.period1_ns) {
        const uint64_t k1 =
            sc.period1_ns == UINT64_MAX ? 0 : (sc.next_ns + 1 * US - T0_NS) / sc.period1_ns;
        r->v[1].valid = WL_CH_ENERGY;
        r->v[1].energy_uj = 7000000 + k1 * 4000;
    }
    r->v[0].valid = WL_CH_ENERGY;
    /* a step that is not steady (the energy of an update varies with power) */
    r->v[0].energy_uj = 5000000 + k * 1000 + (k % 3) * 150;
    if (sc.n_reads > 1 && k != sc.last_value && sc.n_seen < WL__PERIOD_PROBE_CHANGES) {
        if (sc.n_seen++ == 0)
            sc.first_seen_ns = r->t_after_ns;
        sc.last_seen_ns = r->t_after_ns;
    }
    sc.last_value = k;
    sc.next_ns = r->t_after_ns + sc.step_ns;
    return 0;
}

static const struct wl_sensor_ops script_ops = {
    .name = "fake", .what = "a scripted counter", .read = script_read};

/* Probes a one-channel counter read through the script; returns the
 * period it set (0: not measured). *old_ns: what the old probe's mean
 * over the span, (last - first) / (changes - 1), made of the same reads. */
static uint64_t probe_counter(uint64_t period_ns, uint64_t step_ns, uint64_t late_at_ns,
                              uint64_t late_ns, uint64_t *old_ns)
{
    memset(&sc, 0, sizeof sc);
    sc.period_ns = period_ns;
    sc.step_ns = step_ns;
    sc.late_at_ns = late_at_ns;
    sc.late_ns = late_ns;
    sc.next_ns = T0_NS;
    wl_sensor *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->ops = &script_ops;
    s->info.n_channels = 1;
    s->info.ch[0].flags = WL_CH_ENERGY;
    s->info.ch[0].domain = WL_DOMAIN_PACKAGE;
    struct wl_sensor_params p;
    memset(&p, 0, sizeof p);
    p.period_probe_ns = 60ull * 1000 * MS; /* the script's 12 changes end it, not the clock */
    assert_int_equal(wl__sensor_measure_period(s, &p), WL__PERIOD_PROBE_CHANGES);
    assert_int_equal(sc.n_seen, WL__PERIOD_PROBE_CHANGES);
    *old_ns = (sc.last_seen_ns - sc.first_seen_ns) / (WL__PERIOD_PROBE_CHANGES - 1);
    const uint64_t got = s->info.period_measured ? s->info.update_period_ns : 0;
    assert_true(s->info.period_measured == (got != 0));
    free(s);
    return got;
}

static uint64_t probe(uint64_t step_ns, uint64_t late_at_ns, uint64_t late_ns, uint64_t *old_ns)
{
    return probe_counter(PERIOD_NS, step_ns, late_at_ns, late_ns, old_ns);
}

static void assert_within_10_pct(uint64_t got_ns, uint64_t want_ns)
{
    if (got_ns < want_ns / 10 * 9 || got_ns > want_ns / 10 * 11) {
        fprintf(stderr, "period %.3f ms, want %.3f ms +- 10 %%\n", (double)got_ns / 1e6,
                (double)want_ns / 1e6);
        fail();
    }
}

static void test_prompt_reads_measure_the_period(void **state)
{
    (void)state;
    uint64_t old_ns;
    assert_within_10_pct(probe(100 * US, UINT64_MAX, 0, &old_ns), PERIOD_NS);
    assert_within_10_pct(old_ns, PERIOD_NS);
}

/* The read after the first change is 8.5 ms late: the second change holds
 * nine updates. */
static void test_a_late_read_at_the_start_moves_nothing(void **state)
{
    (void)state;
    uint64_t old_ns;
    const uint64_t got = probe(100 * US, 750 * US, 8500 * US, &old_ns);
    assert_true(old_ns > PERIOD_NS * 3 / 2); /* the old probe: about 1.7 ms */
    assert_within_10_pct(got, PERIOD_NS);
}

/* Late after the sixth change. */
static void test_a_late_read_in_the_middle_moves_nothing(void **state)
{
    (void)state;
    uint64_t old_ns;
    const uint64_t got = probe(100 * US, 5750 * US, 8500 * US, &old_ns);
    assert_true(old_ns > PERIOD_NS * 3 / 2);
    assert_within_10_pct(got, PERIOD_NS);
}

/* Late after the eleventh change: the last one holds nine updates. */
static void test_a_late_read_at_the_end_moves_nothing(void **state)
{
    (void)state;
    uint64_t old_ns;
    const uint64_t got = probe(100 * US, 10750 * US, 8500 * US, &old_ns);
    assert_true(old_ns > PERIOD_NS * 3 / 2);
    assert_within_10_pct(got, PERIOD_NS);
}

/* A counter that changes at every read, here every 20 us read every
 * 102 us (NVML's 1 mJ at 50 W): no interval is the counter's, and the
 * reads' spacing is its period's upper bound, as the old probe said. So
 * are reads 3 ms apart on the 1 ms counter (a loaded host): each sees
 * about three updates. Windows of ten of it are long enough. */
static void test_a_counter_that_changes_at_every_read_is_the_reads_spacing(void **state)
{
    (void)state;
    uint64_t old_ns;
    assert_within_10_pct(probe_counter(20 * US, 100 * US, UINT64_MAX, 0, &old_ns), 102 * US);
    assert_within_10_pct(probe(3 * MS, UINT64_MAX, 0, &old_ns), 3 * MS);
}

/* A sensor of two counters, channel 0 updated every 1 ms and channel 1
 * every period1_ns, probed as open probes it: each channel's period, and
 * the sensor's (0: none) in *sensor_ns. */
static void probe_two(uint64_t period1_ns, uint64_t ch_ns[2], uint64_t *sensor_ns)
{
    memset(&sc, 0, sizeof sc);
    sc.period_ns = PERIOD_NS;
    sc.period1_ns = period1_ns;
    sc.step_ns = 100 * US;
    sc.late_at_ns = UINT64_MAX;
    sc.next_ns = T0_NS;
    wl_sensor *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->ops = &script_ops;
    s->info.n_channels = 2;
    for (int i = 0; i < 2; i++) {
        s->info.ch[i].flags = WL_CH_ENERGY;
        s->info.ch[i].domain = i ? WL_DOMAIN_DRAM : WL_DOMAIN_PACKAGE;
    }
    struct wl_sensor_params p;
    memset(&p, 0, sizeof p);
    p.period_probe_ns = 60ull * 1000 * MS; /* the script ends it, not the clock */
    assert_int_equal(wl__sensor_measure_period(s, &p), WL__PERIOD_PROBE_CHANGES);
    ch_ns[0] = s->info.ch[0].update_period_ns;
    ch_ns[1] = s->info.ch[1].update_period_ns;
    *sensor_ns = s->info.period_measured ? s->info.update_period_ns : 0;
    assert_true(s->info.period_measured == (s->info.update_period_ns != 0));
    free(s);
}

/* One sensor's channels may update at different rates (two hwmon devices,
 * two GPUs, a psys beside its packages). The probe measured channel 0
 * alone and gave its period to the sensor, whose every counter the
 * sampler then windowed by it: a counter updated every 8 ms read over
 * 10 ms windows gave 0.8 and 1.6 times its power in turn. Now each channel
 * has its own period; the sensor's is the one they share (within a factor
 * of 2, the longest), else none (0: the sampler learns each channel's). A
 * channel that never changed is not measured and decides nothing. */
static void test_each_channel_has_its_own_period(void **state)
{
    (void)state;
    uint64_t ch[2], sensor;
    probe_two(8 * MS, ch, &sensor);
    assert_within_10_pct(ch[0], PERIOD_NS);
    assert_within_10_pct(ch[1], 8 * MS);
    assert_int_equal(sensor, 0);

    probe_two(1500 * US, ch, &sensor);
    assert_within_10_pct(ch[0], PERIOD_NS);
    assert_within_10_pct(ch[1], 1500 * US);
    assert_within_10_pct(sensor, 1500 * US);

    probe_two(UINT64_MAX, ch, &sensor);
    assert_within_10_pct(ch[0], PERIOD_NS);
    assert_int_equal(ch[1], 0);
    assert_within_10_pct(sensor, PERIOD_NS);
}

/* Changes 0.2 ms apart each seen 0.1 ms after the read before it (none
 * prompt): three changes, two intervals, are not enough (a late read and
 * the next could make them); four are, and give their median. */
static void test_three_changes_none_prompt_are_not_enough(void **state)
{
    (void)state;
    const struct wl__period_change c[4] = {{.since_ns = 900 * US, .t_ns = 1000 * US},
                                           {.since_ns = 1100 * US, .t_ns = 1200 * US},
                                           {.since_ns = 1300 * US, .t_ns = 1400 * US},
                                           {.since_ns = 1500 * US, .t_ns = 1600 * US}};
    assert_int_equal(wl__period_estimate_ns(c, 3), 0);
    assert_int_equal(wl__period_estimate_ns(c, 4), 200 * US);
}

/* Two changes 1 ms apart, the first seen 0.8 ms late (0.9 ms after the read
 * before it): the interval between them, 0.2 ms, is the read's delay. */
static void test_one_late_interval_alone_is_not_a_period(void **state)
{
    (void)state;
    const struct wl__period_change c[2] = {{.since_ns = 100 * US, .t_ns = 1000 * US},
                                           {.since_ns = 1100 * US, .t_ns = 1200 * US}};
    assert_int_equal(wl__period_estimate_ns(c, 2), 0);
    assert_int_equal(wl__period_estimate_ns(c, 1), 0);
    assert_int_equal(wl__period_estimate_ns(c, 0), 0);
}

/* Counted intervals of 1.0 and 1.2 ms (the 0.1 ms gaps are within a quarter
 * of each) and one of 3 ms whose end was seen 2 ms late: the median of the
 * two counted, 1.1 ms. */
static void test_the_median_of_the_counted_intervals(void **state)
{
    (void)state;
    const struct wl__period_change c[4] = {{.since_ns = 0, .t_ns = 100 * US},
                                           {.since_ns = 1000 * US, .t_ns = 1100 * US},
                                           {.since_ns = 2200 * US, .t_ns = 2300 * US},
                                           {.since_ns = 3300 * US, .t_ns = 5300 * US}};
    assert_int_equal(wl__period_estimate_ns(c, 4), 1100 * US);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_reads_measure_the_period),
        cmocka_unit_test(test_a_late_read_at_the_start_moves_nothing),
        cmocka_unit_test(test_a_late_read_in_the_middle_moves_nothing),
        cmocka_unit_test(test_a_late_read_at_the_end_moves_nothing),
        cmocka_unit_test(test_a_counter_that_changes_at_every_read_is_the_reads_spacing),
        cmocka_unit_test(test_each_channel_has_its_own_period),
        cmocka_unit_test(test_three_changes_none_prompt_are_not_enough),
        cmocka_unit_test(test_one_late_interval_alone_is_not_a_period),
        cmocka_unit_test(test_the_median_of_the_counted_intervals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

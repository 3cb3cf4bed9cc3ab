/* ctest-labels: timing (asserts on scheduler-dependent rates and durations; see Makefile) */
/* sampler: bounded ring (overflow counted), phase tags, peaks with time and
 * phase, idle baseline and dynamic energy, achieved rate, a stop that does
 * not wait out the interval, trapezoid integration of power-only domains,
 * first-sensor-wins per domain (but GPUs of two sensors add up), a sensor
 * that fails mid-run leaving a recorded gap while the run goes on, a
 * domain's sources cut between characters, window peaks (also of a counter
 * whose window is unknown) and a slow counter's learned window.
 * Sensors are fake sysfs trees (powercap counters driven by a writer thread,
 * hwmon power files). */
#define _GNU_SOURCE /* CPU affinity */
#include "test_support.h"

#include "sampler_wait.h"
#include "sensor_open.h"
#include "sysfs_text.h"

#include "fake_powercap.h"
#include "learned_window.h"
#include "sampler/sampler.h"
#include "sensors/sensor.h"
#include "sensors/sensor_impl.h" /* a counter's update period, as if measured */
#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/wattlens.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rig {
    char *root;
    struct wl_fake_powercap *fp;
    wl_sensor_set *set;
    wl_sampler *s;
    struct wl_fake_verdict v; /* checks of values read through the fake */
};

static void rig_open(struct rig *r, double power_w, uint64_t interval_ns, size_t ring)
{
    static struct wl_fake_zone z[] = {{"intel-rapl:0", "package-0", 0, 1ull << 40}};
    z[0].power_w = power_w;
    memset(r, 0, sizeof *r);
    r->root = wl_test_tmpdir();
    assert_non_null(r->root);
    r->fp = wl_fake_powercap_start(r->root, z, 1, 1000000);
    assert_non_null(r->fp);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = r->root;
    p.backends = WL_BACKEND_RAPL_POWERCAP;
    p.model_use = WL_MODEL_NEVER;
    assert_int_equal(wl_sensor_set_open(&p, &r->set), 0);
    assert_int_equal(wl_sensor_set_count(r->set), 1);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = interval_ns;
    sp.ring_capacity = ring;
    assert_int_equal(wl_sampler_open(r->set, &sp, &r->s), 0);
}

/* Frees the rig, then skips the test if a check was inconclusive. */
static void rig_close(struct rig *r)
{
    wl_sampler_close(r->s);
    wl_sensor_set_close(r->set);
    wl_fake_powercap_stop(r->fp);
    wl_test_rmtree(r->root);
    free(r->root);
    wl_fake_verdict_end(&r->v);
}

/* The shortest window (ns) over which the sampler derives domain d's
 * counter power: 90 % of its power window (sampler.c closes one then),
 * ten update periods of the fake as the sensor measured them at open. The
 * allowances of the checks below come from it, never from a sample's own
 * window: a sampler whose windows shrink must fail, not shrink the
 * allowance with them. */
static uint64_t shortest_window_ns(wl_sampler *s, enum wl_domain d)
{
    return wl_sampler_domain(s, d)->power_window_ns / 10 * 9;
}

static void assert_near(double got, double want, double tol, const char *what)
{
    if (got < want - tol || got > want + tol) {
        fprintf(stderr, "%s: got %.6f, want %.6f +- %.6f\n", what, got, want, tol);
        fail();
    }
}

static void test_ring_is_bounded_and_overflow_counted(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 10.0, 1000000, 64); /* 1 kHz into 64 slots */
    assert_int_equal(wl_sampler_start(r.s), 0);
    wl_test_wait_for_samples(r.s, 256); /* counted, not slept for (a loaded host took fewer) */
    assert_int_equal(wl_sampler_stop(r.s), 0);
    struct wl_sampler_stats st;
    wl_sampler_stats(r.s, &st);
    assert_true(st.n_samples > 128);
    struct wl_sample buf[200];
    size_t n = wl_sampler_drain(r.s, buf, 200);
    assert_int_equal(n, 64);                           /* never more than the ring holds */
    assert_int_equal(st.n_overflow + n, st.n_samples); /* nothing lost silently */
    for (size_t i = 1; i < n; i++)
        assert_true(buf[i].t_ns > buf[i - 1].t_ns); /* oldest first, the newest kept */
    struct wl_sample last;
    assert_int_equal(wl_sampler_snapshot(r.s, &last), 0);
    assert_int_equal(last.t_ns, buf[n - 1].t_ns);
    assert_int_equal(wl_sampler_drain(r.s, buf, 200), 0);
    /* cumulative energy never goes backwards */
    for (size_t i = 1; i < n; i++)
        assert_true(buf[i].energy_uj[WL_DOMAIN_PACKAGE] >= buf[i - 1].energy_uj[WL_DOMAIN_PACKAGE]);
    rig_close(&r);
}

static void test_phase_tag_is_stamped_on_samples(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 10.0, 2000000, 1024);
    wl_sampler_set_phase(r.s, 7);
    assert_int_equal(wl_sampler_start(r.s), 0);
    /* 40 ms at 2 ms in each phase, counted, not slept for (a loaded host
     * took fewer than 10 in a fixed 80 ms); one sample under way at the
     * switch may still be tagged 7 */
    wl_test_wait_for_samples(r.s, 20);
    wl_sampler_set_phase(r.s, 9);
    assert_int_equal(wl_sampler_get_phase(r.s), 9);
    struct wl_sampler_stats st;
    wl_sampler_stats(r.s, &st);
    wl_test_wait_for_samples(r.s, st.n_samples + 20);
    wl_sampler_stop(r.s);
    struct wl_sample buf[1024];
    size_t n = wl_sampler_drain(r.s, buf, 1024);
    size_t n7 = 0, n9 = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(buf[i].phase == 7 || buf[i].phase == 9);
        if (buf[i].phase == 7) {
            assert_int_equal(n9, 0); /* every 7 comes before every 9 */
            n7++;
        } else {
            n9++;
        }
    }
    assert_true(n7 >= 10 && n9 >= 10);
    rig_close(&r);
}

static void test_peak_has_power_time_and_phase(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 10.0, 5000000, 1024);
    wl_sampler_set_phase(r.s, 1);
    wl_fake_powercap_reset_gap(r.fp);
    assert_int_equal(wl_sampler_start(r.s), 0);
    wl_clock_sleep_ns(150000000);
    wl_sampler_set_phase(r.s, 2);
    uint64_t t_hi = wl_clock_now_ns();
    wl_fake_powercap_set_power(r.fp, 0, 40.0);
    wl_clock_sleep_ns(250000000);
    wl_fake_powercap_set_power(r.fp, 0, 10.0);
    uint64_t t_lo = wl_clock_now_ns();
    wl_sampler_set_phase(r.s, 3);
    wl_clock_sleep_ns(150000000);
    wl_sampler_stop(r.s);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(r.fp);
    struct wl_sampler_stats st;
    wl_sampler_stats(r.s, &st);
    const struct wl_peak *pk = &st.peak[WL_DOMAIN_PACKAGE];
    /* The 40 W phase's, well clear of the 10 W one's; no tighter. A
     * sample's power is the fake file's energy delta over a window of W >=
     * 9 ms, and the file lags the truth by up to the writer's longest gap G
     * (its 1 ms period plus its wake-up lateness L): (W + G) / W of the
     * truth for the window that starts on the stalest value, and the peak
     * is the highest of ~25 (they tile the phase: no stale value takes them
     * all below 30 W). The old +-6 W held only while the writer was never
     * more than ~0.4 ms late; on the 2-vCPU development VM under load a
     * SCHED_FIFO 1 ms clock_nanosleep loop woke > 0.5 ms late in 0.8 % of
     * 60000 wakes, > 2 ms late in 0.4 %, at worst 18 ms (host steal: no
     * guest priority helps), and this test failed 1 run in 20 under `ctest
     * -j2`-like load with a 46.3 W peak. Up to 60 W allows G = W / 2 (4.5
     * ms: L = 3.5 ms); the truth, 40 W, is what a zero gap gives. */
    wl_fake_check_range(&r.v, "peak power (the 40 W phase's)", pk->power_w, 30.0, 60.0, 40.0,
                        gap_ns, shortest_window_ns(r.s, WL_DOMAIN_PACKAGE) / 2);
    /* the 40 W phase's, or a window that ends just after it (tagged with
     * the phase it ends in, 3, and almost all 40 W: the time bound below
     * allows it), never the 10 W phase before it */
    assert_true(pk->phase == 2 || pk->phase == 3);
    assert_true(pk->t_ns > t_hi && pk->t_ns < t_lo + 60000000);
    assert_near(st.peak[WL_DOMAIN_DRAM].power_w, 0, 0, "absent domain has no peak");
    rig_close(&r);
}

/* A counter domain has no power until its first full window: the first
 * samples say so (mask bit clear, NAN), never 0 W. Later samples say which
 * time their power averages over: windows follow one another from the
 * sampler's origin, each ending at a sample. */
static void test_power_unknown_until_first_window(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 20.0, 2000000, 1024); /* 2 ms samples, counter window >= 10 ms */
    /* the fake's true 1 ms period, as if measured at open: the probe (12
     * changes in 25 ms) took it for 0.2 to 6.4 ms on a loaded host, windows
     * of one sample or of 64 ms; this test is about the sampler's windows */
    wl_sampler_close(r.s);
    struct wl_sensor *sen = wl_sensor_set_get(r.set, 0);
    sen->info.update_period_ns = 1000000;
    sen->info.period_measured = true;
    for (unsigned c = 0; c < sen->info.n_channels; c++)
        sen->info.ch[c].update_period_ns = 1000000; /* the sampler windows each by its own */
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 2000000;
    sp.ring_capacity = 1024;
    assert_int_equal(wl_sampler_open(r.set, &sp, &r.s), 0);
    assert_int_equal(wl_sampler_domain(r.s, WL_DOMAIN_PACKAGE)->power_window_ns, 10000000);
    wl_fake_powercap_reset_gap(r.fp);
    assert_int_equal(wl_sampler_start(r.s), 0);
    wl_test_wait_for_samples(r.s, 50); /* 100 ms at 2 ms, counted, not slept for */
    assert_int_equal(wl_sampler_stop(r.s), 0);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(r.fp);
    struct wl_sample buf[1024];
    size_t n = wl_sampler_drain(r.s, buf, 1024);
    assert_true(n > 10);
    const unsigned bit = 1u << WL_DOMAIN_PACKAGE;
    assert_true(buf[0].valid_mask & bit); /* its energy is there */
    /* its power is not before a first full window, and a sample says so
     * (mask bit clear, NAN), never 0 W; which samples those are is not
     * asserted: a loaded host may start the thread a window after the
     * origin reads (the old check that buf[0] has no power then failed).
     * A power's window is never shorter than ~10 ms and the first starts
     * at the origin reads (below), so none comes before its first window. */
    size_t n_unknown = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i].power_mask & bit)
            continue;
        n_unknown++;
        assert_true(isnan(buf[i].power_w[WL_DOMAIN_PACKAGE]));
    }
    if (n_unknown == 0)
        fprintf(stderr, "the first sample came %.1f ms after the origin reads, after a window\n",
                (double)(buf[0].t_ns - wl_sampler_t0_ns(r.s)) / 1e6);
    const uint64_t w_min = shortest_window_ns(r.s, WL_DOMAIN_PACKAGE);
    size_t n_known = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(buf[i].power_mask & bit))
            continue;
        n_known++;
        /* windows tile time: the first starts at the origin reads (before
         * any sample), every later one where an earlier sample closed one */
        const uint64_t from = buf[i].power_from_ns[WL_DOMAIN_PACKAGE];
        bool at_a_sample = false;
        for (size_t j = 0; j < i && !at_a_sample; j++)
            at_a_sample = buf[j].t_ns == from;
        assert_true(at_a_sample || (from >= wl_sampler_t0_ns(r.s) && from < buf[0].t_ns));
        /* a window of about 10 ms, never one sample: at least 90 % of the
         * domain's window, ten of the 1 ms periods set above */
        if (buf[i].t_ns - from < w_min) {
            fprintf(stderr, "sample %zu at %.3f ms: window %.3f ms from %.3f ms (samples before at",
                    i, (double)(buf[i].t_ns - wl_sampler_t0_ns(r.s)) / 1e6,
                    (double)(buf[i].t_ns - from) / 1e6,
                    (double)(from - wl_sampler_t0_ns(r.s)) / 1e6);
            for (size_t j = 0; j < i; j++)
                fprintf(stderr, " %.3f", (double)(buf[j].t_ns - wl_sampler_t0_ns(r.s)) / 1e6);
            fprintf(stderr, "); shortest window %.3f ms\n", (double)w_min / 1e6);
            fail();
        }
        /* a real power, not 0 or a gap's: each of ~45 windows of W >= 8 ms
         * over a file written every 1 ms is off by up to the writer's
         * longest gap G (1 ms + its wake-up lateness) / W either way, and
         * that lateness exceeds 1 ms in ~0.6 % of wakes on the loaded
         * development VM (test_peak_has_power_time_and_phase): +-20 % left
         * it ~0.6 ms; +-50 % allows G = W / 2 (4.5 ms of 9), W the
         * domain's shortest window, not the sample's own */
        wl_fake_check_near(&r.v, "known power", buf[i].power_w[WL_DOMAIN_PACKAGE], 20.0, 10.0,
                           gap_ns, shortest_window_ns(r.s, WL_DOMAIN_PACKAGE) / 2);
    }
    assert_true(n_known > n / 2);
    rig_close(&r);
}

/* Stopping wakes the thread at once: with a 20 s interval the old thread
 * slept out the interval before it saw the stop (`measure -i 60000 -- true`
 * took a minute). The bound is half the interval, far above any scheduling
 * delay. */
static void test_stop_does_not_wait_out_the_interval(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 10.0, 20000000000ull, 16);
    assert_int_equal(wl_sampler_start(r.s), 0);
    struct wl_sample x;
    while (wl_sampler_snapshot(r.s, &x) != 0) /* the first sample: the thread waits now */
        wl_clock_sleep_ns(1000000);
    const uint64_t t0 = wl_clock_now_ns();
    assert_int_equal(wl_sampler_stop(r.s), 0);
    const uint64_t took_ns = wl_clock_now_ns() - t0;
    if (took_ns >= 10000000000ull) {
        fprintf(stderr, "stop took %.3f s\n", (double)took_ns / 1e9);
        fail();
    }
    struct wl_sampler_stats st;
    wl_sampler_stats(r.s, &st);
    assert_int_equal(st.n_samples, 1);
    rig_close(&r);
}

/* A burst shorter than the counter's power window has no sample whose power
 * is averaged inside it, so it gets no peak (the old code took the sample
 * tagged with its phase: mostly idle, a "peak" below the burst's average).
 * A long burst gets its true peak. */
static void test_peak_only_from_windows_inside(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 10.0, 2000000, 1024);
    assert_int_equal(wl_sampler_start(r.s), 0);
    wl_clock_sleep_ns(60000000);
    const uint64_t short0 = wl_clock_now_ns();
    wl_fake_powercap_set_power(r.fp, 0, 40.0);
    wl_clock_sleep_ns(3000000);
    wl_fake_powercap_set_power(r.fp, 0, 10.0);
    const uint64_t short1 = wl_clock_now_ns();
    wl_clock_sleep_ns(60000000);
    wl_fake_powercap_reset_gap(r.fp);
    const uint64_t long0 = wl_clock_now_ns();
    wl_fake_powercap_set_power(r.fp, 0, 40.0);
    wl_clock_sleep_ns(150000000);
    wl_fake_powercap_set_power(r.fp, 0, 10.0);
    const uint64_t long1 = wl_clock_now_ns();
    wl_clock_sleep_ns(30000000);
    assert_int_equal(wl_sampler_stop(r.s), 0);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(r.fp);
    struct wl_sample buf[1024];
    size_t n = wl_sampler_drain(r.s, buf, 1024);
    struct wl_peak pk_short = {0}, pk_long = {0};
    size_t n_overlap = 0;
    for (size_t i = 0; i < n; i++) {
        if (wl_sample_power_within(&buf[i], WL_DOMAIN_PACKAGE, short0, short1))
            wl_peak_update(&pk_short, &buf[i], WL_DOMAIN_PACKAGE);
        else if (buf[i].t_ns >= short0 && buf[i].t_ns <= short1 + 10000000)
            n_overlap++; /* samples the old code could have taken */
        if (wl_sample_power_within(&buf[i], WL_DOMAIN_PACKAGE, long0, long1))
            wl_peak_update(&pk_long, &buf[i], WL_DOMAIN_PACKAGE);
    }
    assert_true(n_overlap > 0);
    /* no 10 ms window fits in the 3 ms burst, unless load stretched the
     * burst to hold one: a window is 9 ms at the least (W >= 9 ms) and
     * counts with 90 % of it inside (wl_sample_power_within), so a burst
     * of 8.1 ms may hold one, rightly */
    if (short1 - short0 < 8100000)
        assert_int_equal(pk_short.t_ns, 0);
    assert_true(pk_long.t_ns >= long0 && pk_long.t_ns <= long1);
    /* 10 ms counter windows (W >= 9 ms) over a writer that steps every ~1
     * ms: a late step under load moves a window's power by several watts,
     * 40 W x G / W for a longest gap G; the highest window above 50 W
     * needs G > W / 4 (2.25 ms) */
    wl_fake_check_near(&r.v, "long burst peak", pk_long.power_w, 40.0, 10.0, gap_ns,
                       shortest_window_ns(r.s, WL_DOMAIN_PACKAGE) / 4);
    rig_close(&r);
}

static volatile sig_atomic_t g_cancel_flag;

static void on_cancel_signal(int sig)
{
    g_cancel_flag = sig;
}

/* After 50 ms, signals the thread that runs the baseline (as Ctrl-C reaches
 * `run`): the handler sets the flag on that thread, as in the CLI. */
static void *cancel_later(void *arg)
{
    wl_clock_sleep_ns(50000000);
    pthread_kill(*(pthread_t *)arg, SIGUSR1);
    return NULL;
}

/* A cancel flag set while the baseline runs (as Ctrl-C does in `run`) ends
 * it early with WL_ECANCELED and no baseline kept; one set before returns at
 * once. The baseline asked for lasts 30 s: without the flag this test would
 * run that long and then fail on the return code. */
static void test_baseline_cancelled(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 15.0, 5000000, 1024);
    assert_int_equal(wl_sampler_start(r.s), 0);
    struct wl_baseline b;
    g_cancel_flag = 1;
    assert_int_equal(wl_sampler_baseline(r.s, 30000000000ull, &g_cancel_flag, &b), WL_ECANCELED);
    assert_false(b.valid);
    g_cancel_flag = 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_cancel_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    pthread_t self = pthread_self(), th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &self), 0);
    assert_int_equal(wl_sampler_baseline(r.s, 30000000000ull, &g_cancel_flag, &b), WL_ECANCELED);
    pthread_join(th, NULL);
    sigaction(SIGUSR1, &old, NULL);
    assert_false(b.valid);
    struct wl_baseline kept;
    wl_sampler_get_baseline(r.s, &kept);
    assert_false(kept.valid);
    rig_close(&r);
}

static void test_baseline_and_dynamic_energy(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 15.0, 5000000, 1024);
    assert_int_equal(wl_sampler_start(r.s), 0);
    struct wl_baseline b;
    wl_fake_powercap_reset_gap(r.fp);
    assert_int_equal(wl_sampler_baseline(r.s, 400000000, NULL, &b), 0);
    const uint64_t gap_b_ns = wl_fake_powercap_max_gap_ns(r.fp);
    assert_true(b.valid && (b.valid_mask & (1u << WL_DOMAIN_PACKAGE)));
    /* an average over a window of D read through the fake is off by up to
     * the writer's longest gap G / D (a stale value at either end): 1 % of
     * the 400 ms baseline asked for allows G = 4 ms */
    wl_fake_check_near(&r.v, "baseline power", b.power_w[WL_DOMAIN_PACKAGE], 15.0, 0.15, gap_b_ns,
                       400000000 / 100);
    assert_near((double)wl_baseline_dur_ns(&b) / 1e9, 0.4, 0.05, "baseline duration");
    struct wl_baseline kept;
    wl_sampler_get_baseline(r.s, &kept);
    assert_true(kept.valid && kept.power_w[WL_DOMAIN_PACKAGE] == b.power_w[WL_DOMAIN_PACKAGE]);

    wl_fake_powercap_set_power(r.fp, 0, 25.0);
    wl_clock_sleep_ns(20000000);
    struct wl_energy_window w;
    wl_fake_powercap_reset_gap(r.fp);
    wl_sampler_window_begin(r.s, &w);
    wl_clock_sleep_ns(600000000);
    wl_sampler_window_end(r.s, &w);
    const uint64_t gap_w_ns = wl_fake_powercap_max_gap_ns(r.fp);
    double dur = (double)wl_energy_window_dur_ns(&w) / 1e9;
    /* 0.5 % allows G = 0.005 x dur (3 ms of the 600 slept, which dur is
     * at least; the allowances here come from the durations asked for,
     * not from those the sampler measured) */
    wl_fake_check_near(&r.v, "window energy", wl_energy_window_j(&w, WL_DOMAIN_PACKAGE), 25.0 * dur,
                       25.0 * dur * 0.005, gap_w_ns, 600000000 / 200);
    /* the window's error (25 W x G) and the baseline's over it (15 W x dur
     * x G / 0.4 s): 3 % of 10 W x dur allows G = 0.3 dur / (25 + 15 dur /
     * 0.4 s), 3.8 ms for 0.6 s */
    const double allow_dyn_s = 0.3 * 0.6 / (25.0 + 15.0 * 0.6 / 0.4);
    wl_fake_check_near(&r.v, "dynamic energy",
                       wl_energy_window_dynamic_j(&w, &b, WL_DOMAIN_PACKAGE), 10.0 * dur,
                       10.0 * dur * 0.03, gap_b_ns > gap_w_ns ? gap_b_ns : gap_w_ns,
                       (uint64_t)(allow_dyn_s * 1e9));
    wl_sampler_stop(r.s);
    rig_close(&r);
}

/* The live sampler publishes its rate and the judgement of it: the thread's
 * real rate is the scheduler's (a loaded host skips ticks), so only that the
 * stats agree with their own numbers is asserted here; the judgement's
 * bounds are test_sampler_rate.c's, with scripted numbers. */
static void test_achieved_rate_is_checked(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 10.0, 10000000, 1024); /* 100 Hz */
    assert_int_equal(wl_sampler_start(r.s), 0);
    wl_test_wait_for_samples(r.s, 20); /* counted, not slept for */
    wl_sampler_stop(r.s);
    struct wl_sampler_stats st;
    wl_sampler_stats(r.s, &st);
    assert_near(st.requested_hz, 100.0, 1e-9, "requested rate");
    assert_true(st.n_samples >= 20);
    assert_true(st.rate_judged);
    assert_true(st.t_last_ns > st.t_first_ns);
    const double hz = (double)(st.n_samples - 1) / ((double)(st.t_last_ns - st.t_first_ns) / 1e9);
    assert_near(st.achieved_hz, hz, hz * 1e-12, "achieved rate, from its samples and span");
    const double ratio = st.achieved_hz / st.requested_hz;
    if (st.rate_ok != (ratio >= 0.8 && ratio <= 1.2)) {
        fprintf(stderr, "achieved %.4g Hz of %.4g: rate_ok %d\n", st.achieved_hz, st.requested_hz,
                st.rate_ok);
        fail();
    }
    assert_true(st.thread_cpu_ns > 0);
    assert_int_equal(wl_sampler_start(r.s), 0); /* restartable */
    assert_int_equal(wl_sampler_start(r.s), WL_ESTATE);
    wl_sampler_stop(r.s);
    rig_close(&r);
}

static void test_sensor_failing_mid_run_leaves_a_gap(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r, 20.0, 5000000, 4096);
    assert_int_equal(wl_sampler_start(r.s), 0);
    struct wl_energy_window w;
    wl_fake_powercap_reset_gap(r.fp);
    wl_sampler_window_begin(r.s, &w);
    wl_clock_sleep_ns(150000000);
    uint64_t t_broken = wl_clock_now_ns();
    wl_fake_powercap_set_broken(r.fp, 1);
    wl_clock_sleep_ns(200000000);
    struct wl_energy_mark m;
    assert_int_equal(wl_sampler_mark(r.s, &m), 0);
    assert_false(m.valid_mask & (1u << WL_DOMAIN_PACKAGE)); /* no value, no made-up value */
    wl_fake_powercap_set_broken(r.fp, 0);
    uint64_t t_fixed = wl_clock_now_ns();
    wl_clock_sleep_ns(150000000);
    wl_sampler_window_end(r.s, &w);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(r.fp);
    wl_sampler_stop(r.s);

    struct wl_sampler_stats st;
    wl_sampler_stats(r.s, &st);
    assert_int_equal(st.n_gaps, 1);
    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(r.s, g, 4), 1);
    assert_int_equal(g[0].sensor, 0);
    assert_int_equal(g[0].error, WL_ESENSOR);
    assert_true(g[0].t_end_ns > g[0].t_start_ns);
    /* a counter's energy is not lost across a failed read (checked below) */
    assert_int_equal(g[0].domain_mask, 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(g[0].lost_mask, 0);
    /* the gap starts while the sensor was broken (the mark above saw it at the
     * latest) and ends once it works again; how soon after depends on the
     * scheduler, so only a generous upper bound */
    assert_true(g[0].t_start_ns >= t_broken && g[0].t_start_ns <= t_fixed);
    assert_true(g[0].t_end_ns >= t_fixed);
    assert_true(g[0].t_end_ns - t_fixed < 2000000000ull);

    struct wl_sample buf[4096];
    size_t n = wl_sampler_drain(r.s, buf, 4096);
    size_t in_gap = 0, after = 0;
    for (size_t i = 0; i < n; i++) {
        bool gap = buf[i].gap_mask & (1u << WL_DOMAIN_PACKAGE);
        if (gap) {
            in_gap++;
            assert_false(buf[i].valid_mask & (1u << WL_DOMAIN_PACKAGE));
        } else if (buf[i].t_ns > g[0].t_end_ns) {
            after++;
            assert_true(buf[i].valid_mask & (1u << WL_DOMAIN_PACKAGE));
        }
    }
    assert_true(in_gap >= 10); /* the run went on through the gap */
    assert_true(after >= 10);  /* and after it */
    /* the counter kept counting in hardware: a window across the gap is
     * exact, up to the writer's longest gap G at either end: 0.5 % allows
     * G = 0.005 x dur (2.5 ms of the 500 slept) */
    double dur = (double)wl_energy_window_dur_ns(&w) / 1e9;
    assert_true(wl_energy_window_has(&w, WL_DOMAIN_PACKAGE));
    wl_fake_check_near(&r.v, "energy across the gap", wl_energy_window_j(&w, WL_DOMAIN_PACKAGE),
                       20.0 * dur, 20.0 * dur * 0.005, gap_ns, 500000000 / 200);
    rig_close(&r);
}

/* An hwmon power meter (power only, domain total) under root/class/hwmon
 * reading uw_text (microwatts); its power file's path goes to path. */
static void make_power_meter(const char *root, const char *uw_text, char *path, size_t size)
{
    snprintf(path, size, "%s/class", root);
    mkdir(path, 0755);
    snprintf(path, size, "%s/class/hwmon", root);
    mkdir(path, 0755);
    snprintf(path, size, "%s/class/hwmon/hwmon0", root);
    mkdir(path, 0755);
    snprintf(path, size, "%s/class/hwmon/hwmon0/name", root);
    wl_test_put_text(path, "power_meter\n");
    snprintf(path, size, "%s/class/hwmon/hwmon0/power1_input", root);
    wl_test_put_text(path, uw_text);
}

/* A sampler over the hwmon meters of the tree at root (no CPU model),
 * sampling every interval_ns (0: the default). */
static wl_sampler *open_meter_sampler(const char *root, uint64_t interval_ns, wl_sensor_set **set)
{
    *set = wl_test_open_sensor_set(root, WL_BACKEND_HWMON);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    if (interval_ns)
        sp.interval_ns = interval_ns;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(*set, &sp, &s), 0);
    return s;
}

static void test_power_only_domain_is_integrated(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char p1[2048];
    make_power_meter(root, "07000000\n", p1, sizeof p1); /* 7 W in microwatts, fixed width */
    wl_sensor_set *set = NULL;
    wl_sampler *s = open_meter_sampler(root, 5000000, &set);
    const struct wl_domain_info *di = wl_sampler_domain(s, WL_DOMAIN_TOTAL);
    assert_true(di->present);
    assert_false(di->counter);
    assert_int_equal(di->method, WL_METHOD_SAMPLED);
    /* read powers: no counter window, but peak spans of at least one interval */
    assert_int_equal(di->power_window_ns, 0);
    assert_int_equal(di->peak_span_ns, 5000000);
    assert_int_equal(wl_sampler_start(s), 0);
    struct wl_energy_window w;
    wl_sampler_window_begin(s, &w);
    wl_clock_sleep_ns(300000000);
    uint64_t t_step = wl_clock_now_ns();
    wl_test_put_text(p1, "14000000\n");
    wl_clock_sleep_ns(300000000);
    wl_sampler_window_end(s, &w);
    double a = (double)(t_step - w.begin.t_ns) / 1e9, b = (double)(w.end.t_ns - t_step) / 1e9;
    /* the trapezoid spreads the 7 W step over the sample spacing around it:
     * the error is at most 7 W x the largest spacing (the machine may be busy) */
    static struct wl_sample buf[1024];
    size_t n = wl_sampler_drain(s, buf, 1024);
    double max_dt = 0.005;
    for (size_t i = 1; i < n; i++) {
        double dt = (double)(buf[i].t_ns - buf[i - 1].t_ns) / 1e9;
        max_dt = dt > max_dt ? dt : max_dt;
    }
    assert_near(wl_energy_window_j(&w, WL_DOMAIN_TOTAL), 7.0 * a + 14.0 * b, 7.0 * max_dt + 0.01,
                "integrated energy");
    wl_sampler_stop(s);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A domain's sources ("hwmon: name, name, ...") are stored text: when the
 * channel names do not fit its 160 bytes, the last one is cut between
 * characters. Five GPUs (hwmon sums the channels of its GPU drivers; of
 * devices of unknown scope it reads one) named
 * "hwmonK€€€/amdgpu/power100000" (34 bytes) fill it inside the first "€"
 * of the fifth name. */
static void test_sources_are_cut_between_characters(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    static const char euros[] = "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC";
    make_power_meter(root, "5000000\n", path, sizeof path); /* the class/hwmon folders */
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0", root);
    wl_test_rmtree(path);
    for (int k = 1; k <= 5; k++) {
        snprintf(path, sizeof path, "%s/class/hwmon/hwmon%d%s", root, k, euros);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/class/hwmon/hwmon%d%s/name", root, k, euros);
        wl_test_put_text(path, "amdgpu\n");
        snprintf(path, sizeof path, "%s/class/hwmon/hwmon%d%s/power100000_input", root, k, euros);
        wl_test_put_text(path, "5000000\n");
    }
    wl_sensor_set *set = NULL;
    wl_sampler *s = open_meter_sampler(root, 0, &set);
    const struct wl_domain_info *di = wl_sampler_domain(s, WL_DOMAIN_GPU);
    assert_int_equal(di->n_channels, 5);
    const char *src = di->sources;
    size_t len = strlen(src);
    assert_true(wl_utf8_valid(src, len));
    /* "hwmon: ", four names and four ", ", then of the fifth name "hwmon5"
     * (the "€" after it would end at byte 160, past the 159 that fit) */
    assert_int_equal(len, 7 + 4 * 34 + 4 * 2 + 6);
    assert_int_equal(strncmp(src, "hwmon: hwmon1", 13), 0);
    assert_string_equal(src + len - strlen(", hwmon5"), ", hwmon5");
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A mark between two samples of a power-only domain holds the last power
 * read; when the power then falls, the thread's trapezoid gives less for
 * that interval than the mark did. Energies must still never go back: a
 * later mark or sample is at least an earlier mark (the old code gave the
 * next section a negative energy). 100 W, samples every 200 ms, a mark at
 * ~150 ms (15 J held), the power falls to 0 W, the sample at ~200 ms
 * integrates 10 J, a mark at ~250 ms. */
static void test_power_only_energy_never_goes_back(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char p1[2048];
    make_power_meter(root, "100000000\n", p1, sizeof p1);
    wl_sensor_set *set = NULL;
    wl_sampler *s = open_meter_sampler(root, 200000000, &set);
    assert_int_equal(wl_sampler_start(s), 0); /* its first sample now */
    wl_clock_sleep_ns(150000000);
    struct wl_energy_mark m1, m2;
    assert_int_equal(wl_sampler_mark(s, &m1), 0);
    wl_test_put_text(p1, "000000000\n");
    wl_clock_sleep_ns(100000000);
    assert_int_equal(wl_sampler_mark(s, &m2), 0);
    assert_int_equal(wl_sampler_stop(s), 0);
    struct wl_sample buf[16];
    const size_t n = wl_sampler_drain(s, buf, 16);
    const enum wl_domain d = WL_DOMAIN_TOTAL;
    assert_true((m1.valid_mask & m2.valid_mask) & (1u << d));
    if (m2.energy_uj[d] < m1.energy_uj[d]) {
        fprintf(stderr, "mark at %.0f ms: %.3f J, then at %.0f ms: %.3f J\n",
                (double)(m1.t_ns - wl_sampler_t0_ns(s)) / 1e6, (double)m1.energy_uj[d] / 1e6,
                (double)(m2.t_ns - wl_sampler_t0_ns(s)) / 1e6, (double)m2.energy_uj[d] / 1e6);
        fail();
    }
    size_t n_after_m1 = 0; /* 100 ms at the sampler's rate: several (timing label) */
    for (size_t i = 0; i < n; i++) {
        if (buf[i].t_ns > m1.t_ns) {
            assert_true(buf[i].energy_uj[d] >= m1.energy_uj[d]);
            n_after_m1++;
        }
    }
    assert_true(n_after_m1 > 0);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* Two meters in one domain (two GPUs: hwmon sums those, not two channels
 * of one device, which it reads as one whole): one falls from 100 W to 0 W while the other
 * rises from 0 W to 100 W, between a mark (at ~150 ms, which holds their
 * last powers) and the next sample (at ~200 ms). The domain never went
 * back, so the floor must not add anything: the domain's energy stays
 * 100 W x the time since the origin (a floor per channel held the falling
 * meter at the mark's 15 J against the trapezoid's 10 J: 5 J too much). */
static void test_power_only_floor_is_per_domain(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char p1[2048], p2[2048];
    make_power_meter(root, "100000000\n", p1, sizeof p1);
    snprintf(p2, sizeof p2, "%s/class/hwmon/hwmon0/name", root);
    assert_int_equal(wl_test_write_file(p2, "amdgpu\n", 7), 0);
    snprintf(p2, sizeof p2, "%s/class/hwmon/hwmon1", root);
    assert_int_equal(mkdir(p2, 0755), 0);
    snprintf(p2, sizeof p2, "%s/class/hwmon/hwmon1/name", root);
    assert_int_equal(wl_test_write_file(p2, "amdgpu\n", 7), 0);
    snprintf(p2, sizeof p2, "%s/class/hwmon/hwmon1/power1_input", root);
    wl_test_put_text(p2, "000000000\n");
    wl_sensor_set *set = NULL;
    wl_sampler *s = open_meter_sampler(root, 200000000, &set);
    assert_int_equal(wl_sampler_domain(s, WL_DOMAIN_GPU)->n_channels, 2);
    assert_int_equal(wl_sampler_start(s), 0);
    wl_clock_sleep_ns(150000000);
    struct wl_energy_mark m1, m2;
    assert_int_equal(wl_sampler_mark(s, &m1), 0);
    wl_test_put_text(p1, "000000000\n");
    wl_test_put_text(p2, "100000000\n");
    wl_clock_sleep_ns(500000000);
    assert_int_equal(wl_sampler_mark(s, &m2), 0);
    assert_int_equal(wl_sampler_stop(s), 0);
    const enum wl_domain d = WL_DOMAIN_GPU;
    assert_true(m2.valid_mask & (1u << d));
    const double want = 100.0 * (double)(m2.t_ns - wl_sampler_t0_ns(s)) / 1e9;
    /* the two writes are not one instant: allow 10 ms at 100 W */
    assert_near((double)m2.energy_uj[d] / 1e6, want, 1.0, "domain energy");
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* Two sensors: a powercap counter (package) and an hwmon power meter
 * (total), read after it. The meter's read power stands for the sample's
 * instant, so it counts for a peak inside a run (its own read time is after
 * the sample's time, the middle of all reads: taken as the window start it
 * kept every total-domain sample out of every peak). */
static void test_read_power_of_a_later_sensor_can_peak(void **state)
{
    (void)state;
    static const struct wl_fake_zone z[] = {{"intel-rapl:0", "package-0", 20.0, 1ull << 40}};
    char *root = wl_test_tmpdir();
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, z, 1, 1000000);
    assert_non_null(fp);
    char p1[2048];
    make_power_meter(root, "35000000\n", p1, sizeof p1);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.backends = WL_BACKEND_RAPL_POWERCAP | WL_BACKEND_HWMON;
    p.model_use = WL_MODEL_NEVER;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 2);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 5000000;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &s), 0);
    assert_true(wl_sampler_domain(s, WL_DOMAIN_TOTAL)->present);
    assert_int_equal(wl_sampler_domain(s, WL_DOMAIN_TOTAL)->power_window_ns, 0);
    assert_int_equal(wl_sampler_start(s), 0);
    const uint64_t t0 = wl_clock_now_ns();
    wl_clock_sleep_ns(100000000);
    const uint64_t t1 = wl_clock_now_ns();
    assert_int_equal(wl_sampler_stop(s), 0);
    static struct wl_sample buf[256];
    size_t n = wl_sampler_drain(s, buf, 256);
    struct wl_peak pk = {0};
    size_t n_in = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i].t_ns < t0 || buf[i].t_ns > t1)
            continue;
        assert_true(buf[i].power_mask & (1u << WL_DOMAIN_TOTAL));
        assert_int_equal(buf[i].power_from_ns[WL_DOMAIN_TOTAL], buf[i].t_ns);
        n_in += wl_sample_power_within(&buf[i], WL_DOMAIN_TOTAL, t0, t1);
        if (wl_sample_power_within(&buf[i], WL_DOMAIN_TOTAL, t0, t1))
            wl_peak_update(&pk, &buf[i], WL_DOMAIN_TOTAL);
    }
    assert_true(n_in >= 5);
    assert_near(pk.power_w, 35.0, 0.01, "read power peak");
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
}

static void test_same_domain_from_two_sensors_is_not_summed(void **state)
{
    (void)state;
    static const struct wl_fake_zone z[] = {{"intel-rapl:0", "package-0", 30.0, 1ull << 40}};
    char *root = wl_test_tmpdir();
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, z, 1, 1000000);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.backends = WL_BACKEND_RAPL_POWERCAP | WL_BACKEND_CPU_MODEL;
    p.model_use = WL_MODEL_ALWAYS; /* the model also claims "package" */
    p.model.idle_w = 25.0;         /* summed, the two would read 55 W or more */
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 2);
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, NULL, &s), 0);
    const struct wl_domain_info *di = wl_sampler_domain(s, WL_DOMAIN_PACKAGE);
    assert_int_equal(di->n_channels, 1);
    assert_int_equal(di->method, WL_METHOD_COUNTER);
    assert_false(wl_sampler_model_only(s));
    struct wl_energy_window w;
    wl_fake_powercap_reset_gap(fp);
    wl_sampler_window_begin(s, &w);
    wl_clock_sleep_ns(500000000);
    wl_sampler_window_end(s, &w);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(fp);
    const double avg_w = wl_energy_window_avg_w(&w, WL_DOMAIN_PACKAGE);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
    /* 30 W, with room for the fake writer's lateness (up to 18 ms seen on
     * the development VM, more in a loaded sanitizer build: +-5 W over a
     * window of dur allows a longest gap of dur / 6, 83 ms of the 500
     * slept), far from the 55 W of a sum */
    struct wl_fake_verdict v = {0};
    wl_fake_check_near(&v, "package power", avg_w, 30.0, 5.0, gap_ns, 500000000 / 6);
    wl_fake_verdict_end(&v);
}

/* An NVIDIA GPU (fake NVML, 50 W, energy counter) and an AMD one (hwmon
 * amdgpu, 120 W read power) are different boards: the gpu domain sums
 * both (170 W) and names both sources. The old first-sensor rule dropped
 * the AMD GPU with an info-level log only. */
static void test_gpus_of_two_sensors_are_summed(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    wl_test_make_class_device(root, "hwmon", "hwmon0", "amdgpu");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/power1_input", root);
    wl_test_put_text(path, "120000000\n");
    setenv("FAKE_NVML_GPUS", "1", 1);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.nvml_lib = FAKE_NVML_LIB;
    p.backends = WL_BACKEND_NVML | WL_BACKEND_HWMON;
    p.model_use = WL_MODEL_NEVER;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    unsetenv("FAKE_NVML_GPUS");
    assert_int_equal(wl_sensor_set_count(set), 2);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 10000000;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &s), 0);
    const struct wl_domain_info *di = wl_sampler_domain(s, WL_DOMAIN_GPU);
    assert_int_equal(di->n_channels, 2);
    assert_false(di->counter); /* the AMD GPU reads power only */
    assert_string_equal(di->sources, "nvml: gpu0; hwmon: hwmon0/amdgpu/power1");
    assert_int_equal(wl_sampler_start(s), 0);
    wl_clock_sleep_ns(30000000);
    struct wl_energy_window w;
    wl_sampler_window_begin(s, &w);
    wl_clock_sleep_ns(300000000);
    wl_sampler_window_end(s, &w);
    assert_int_equal(wl_sampler_stop(s), 0);
    assert_near(wl_energy_window_avg_w(&w, WL_DOMAIN_GPU), 170.0, 1.0, "both GPUs");
    struct wl_sample last;
    assert_int_equal(wl_sampler_snapshot(s, &last), 0);
    assert_true(last.power_mask & (1u << WL_DOMAIN_GPU));
    assert_near(last.power_w[WL_DOMAIN_GPU], 170.0, 0.01, "sample power");
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

static void *spin_until(void *arg)
{
    atomic_int *stop = arg;
    while (!atomic_load_explicit(stop, memory_order_relaxed))
        ; /* no system call: the kernel accounts this time only when asked or at a tick */
    return NULL;
}

/* The CPU-time model (scope SELF) with every allowed CPU busy: no window's
 * power may exceed the model's own ceiling, idle + per-core W x CPUs. The
 * sampler's settled reads count the busy threads up to each read; plain
 * reads of the process clock counted them up to their CPU's last tick, so a
 * 10 ms window could hold a tick's time too much per thread (26.5 W against
 * 25 W in `make run`). */
static void test_model_power_stays_under_its_ceiling(void **state)
{
    (void)state;
    cpu_set_t allowed;
    assert_int_equal(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    const int n_cpus = CPU_COUNT(&allowed);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.backends = WL_BACKEND_CPU_MODEL;
    p.model_use = WL_MODEL_ALWAYS;
    p.model.scope = WL_MODEL_SCOPE_SELF;
    p.model.idle_w = 10.0;
    p.model.busy_core_w = 7.5;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 10000000;
    sp.ring_capacity = 256;
    wl_sampler *smp = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &smp), 0);
    atomic_int stop = 0;
    pthread_t th[64];
    const int n_th = n_cpus < 64 ? n_cpus : 64; /* every CPU busy */
    for (int i = 0; i < n_th; i++)
        assert_int_equal(pthread_create(&th[i], NULL, spin_until, &stop), 0);
    assert_int_equal(wl_sampler_start(smp), 0);
    /* 400 ms at 10 ms, counted, not slept for: a loaded host took fewer
     * (no fail() here, with the spinners running; n_known checks below) */
    struct wl_sampler_stats st;
    wl_sampler_stats(smp, &st);
    for (int i = 0; i < 12000 && st.n_samples < 40; i++) {
        wl_clock_sleep_ns(5000000);
        wl_sampler_stats(smp, &st);
    }
    assert_int_equal(wl_sampler_stop(smp), 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < n_th; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    struct wl_sample buf[256];
    const size_t n = wl_sampler_drain(smp, buf, 256);
    const double ceiling = 10.0 + 7.5 * n_th;
    const unsigned bit = 1u << WL_DOMAIN_PACKAGE;
    size_t n_known = 0, n_over = 0;
    double sum_w = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(buf[i].power_mask & bit))
            continue;
        n_known++;
        sum_w += (double)buf[i].power_w[WL_DOMAIN_PACKAGE];
        /* 1 %: the CPU time and the wall time of a read are a few us apart */
        if (buf[i].power_w[WL_DOMAIN_PACKAGE] > ceiling * 1.01) {
            fprintf(stderr, "sample %zu: %.2f W, ceiling %.2f W\n", i,
                    (double)buf[i].power_w[WL_DOMAIN_PACKAGE], ceiling);
            n_over++;
        }
    }
    assert_true(n_known > 10);
    const double mean_w = sum_w / (double)n_known;
    if (n_over == 0 && mean_w < 10.0 + 0.8 * 7.5 * n_th) {
        /* other load took the CPUs: windows far below the ceiling say
         * nothing about it (a lag of a tick would not reach it) */
        fprintf(stderr, "busy machine: mean %.2f W against a ceiling of %.2f W; inconclusive\n",
                mean_w, ceiling);
        wl_sampler_close(smp);
        wl_sensor_set_close(set);
        wl_test_skip_inconclusive();
    }
    wl_sampler_stats(smp, &st);
    assert_true(st.peak[WL_DOMAIN_PACKAGE].power_w <= ceiling * 1.01);
    wl_sampler_close(smp);
    wl_sensor_set_close(set);
    assert_int_equal(n_over, 0);
}

/* ---- wl_window_peak: synthetic samples, no thread, exact numbers ---------- */

/* A counter domain's cumulative energy (uJ) at t_ms from the window's start
 * for a power of 40 W over [0, 30) and [200, 250] ms and 10 W elsewhere
 * (before 0 too): W x ms = mJ. */
static uint64_t edges_energy_uj(double t_ms)
{
    static const struct {
        double from_ms, to_ms, w;
    } seg[] = {{-1000, 0, 10}, {0, 30, 40}, {30, 200, 10}, {200, 250, 40}, {250, 1e9, 10}};
    double mj = 0;
    for (size_t i = 0; i < sizeof seg / sizeof seg[0]; i++) {
        const double a = seg[i].from_ms, b = t_ms < seg[i].to_ms ? t_ms : seg[i].to_ms;
        if (b > a)
            mj += (b - a) * seg[i].w;
    }
    return (uint64_t)(mj * 1000.0 + 0.5);
}

#define T0_NS 10000000000ull /* the window's start */
#define MS_NS 1000000ull

/* Samples every 10 ms at 5, 15, ... 245 ms of a counter domain whose own
 * power windows (100 ms, as the sampler closes them from its origin) end at
 * 95 and 195 ms: the first reaches 5 ms before the window (95 % inside). */
static size_t edges_samples(struct wl_sample *buf)
{
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    size_t n = 0;
    for (int ms = 5; ms < 250; ms += 10) {
        struct wl_sample *x = &buf[n++];
        memset(x, 0, sizeof *x);
        x->t_ns = T0_NS + (uint64_t)ms * MS_NS;
        x->valid_mask = 1u << d;
        x->energy_uj[d] = edges_energy_uj(ms);
        if (ms == 95 || ms == 195) {
            x->power_mask = 1u << d;
            x->power_from_ns[d] = x->t_ns - 100 * MS_NS;
            x->power_w[d] =
                (float)((double)(edges_energy_uj(ms) - edges_energy_uj(ms - 100)) / 1e6 / 0.1);
        }
    }
    return n;
}

static void edges_window(struct wl_energy_window *w, double len_ms)
{
    memset(w, 0, sizeof *w);
    w->begin.t_ns = T0_NS;
    w->end.t_ns = T0_NS + (uint64_t)(len_ms * 1e6);
    w->begin.valid_mask = w->end.valid_mask = 1u << WL_DOMAIN_PACKAGE;
    w->begin.energy_uj[WL_DOMAIN_PACKAGE] = edges_energy_uj(0);
    w->end.energy_uj[WL_DOMAIN_PACKAGE] = edges_energy_uj(len_ms);
}

/* High power at both edges of a window: the samples' own windows (19.0 W
 * and 10 W) miss them and stay below the window's average (19.6 W) -- the
 * old peak. The spans that partition the window, [0, 95] (19.47 W) and
 * [95, 250] (the 55 ms remainder joined: 3050 mJ / 155 ms = 19.68 W), cover
 * it, so the peak is never below its average. */
static void test_window_peak_is_never_below_the_average(void **state)
{
    (void)state;
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    struct wl_sample buf[32];
    const size_t n = edges_samples(buf);
    struct wl_energy_window w;
    edges_window(&w, 250);
    const double avg = wl_energy_window_avg_w(&w, d);
    assert_near(avg, 19.6, 1e-9, "average");
    struct wl_peak old = {0};
    for (size_t i = 0; i < n; i++) {
        if (wl_sample_power_within(&buf[i], d, w.begin.t_ns, w.end.t_ns))
            wl_peak_update(&old, &buf[i], d);
    }
    assert_near(old.power_w, 19.0, 1e-5, "the samples' own windows");
    assert_true(old.power_w < avg);

    struct wl_peak pk;
    wl_window_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_near(pk.power_w, 3050.0 / 155.0, 1e-9, "peak");
    assert_int_equal(pk.t_ns, w.end.t_ns);
    assert_true(pk.power_w >= avg);
}

/* Shorter than 90 % of a span: no peak, even when a sample's window is 90 %
 * inside (it could be below the average), and too_short says that is why
 * (measure's note; a domain without a value, or a window of unknown span,
 * is not too short). From 90 % of a span to two, the one
 * span is the window: the peak is its average (here 1890 mJ / 99 ms, above
 * the 19.0 W of the sample's window [-5, 95]), or a sample's own window when
 * that is higher (at 180 ms: 19.0 W against an average of 15 W). */
static void test_window_peak_of_short_windows(void **state)
{
    (void)state;
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    struct wl_sample buf[32];
    const size_t n = edges_samples(buf);
    struct wl_energy_window w;
    struct wl_peak pk;
    edges_window(&w, 89);
    wl_window_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_int_equal(pk.t_ns, 0);
    assert_true(pk.too_short);
    wl_window_peak(buf, n, &w, WL_DOMAIN_DRAM, 100 * MS_NS, &pk);
    assert_int_equal(pk.t_ns, 0);
    assert_false(pk.too_short);
    wl_window_peak(buf, n, &w, d, WL_PEAK_SPAN_UNKNOWN, &pk);
    assert_true(pk.t_ns != 0);
    assert_false(pk.too_short);
    edges_window(&w, 90);
    wl_window_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_true(pk.t_ns != 0);
    assert_false(pk.too_short);
    edges_window(&w, 99);
    wl_window_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_false(pk.too_short);
    assert_true(pk.power_w == wl_energy_window_avg_w(&w, d)); /* computed alike: exact */
    assert_near(pk.power_w, 1890.0 / 99.0, 1e-9, "one span");
    assert_int_equal(pk.t_ns, w.end.t_ns);
    edges_window(&w, 180);
    wl_window_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_near(wl_energy_window_avg_w(&w, d), 15.0, 1e-9, "average");
    assert_near(pk.power_w, 19.0, 1e-5, "a sample's own window");
    assert_int_equal(pk.t_ns, T0_NS + 95 * MS_NS);
    /* a domain without a value in the window has no peak */
    wl_window_peak(buf, n, &w, WL_DOMAIN_DRAM, 100 * MS_NS, &pk);
    assert_int_equal(pk.t_ns, 0);
}

/* Read powers (span 0): every sample closes a span, and a reading inside the
 * window counts as itself (an instant), so a 50 W reading is the peak. */
static void test_window_peak_of_read_powers(void **state)
{
    (void)state;
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    struct wl_sample buf[32];
    const size_t n = edges_samples(buf);
    for (size_t i = 0; i < n; i++) {
        buf[i].power_mask = 1u << d;
        buf[i].power_from_ns[d] = buf[i].t_ns;
        buf[i].power_w[d] = i == 7 ? 50.0f : 10.0f;
    }
    struct wl_energy_window w;
    edges_window(&w, 250);
    struct wl_peak pk;
    wl_window_peak(buf, n, &w, d, 0, &pk);
    assert_near(pk.power_w, 50.0, 1e-9, "read power peak");
    assert_int_equal(pk.t_ns, buf[7].t_ns);
    for (size_t i = 0; i < n; i++)
        buf[i].power_w[d] = 10.0f;
    wl_window_peak(buf, n, &w, d, 0, &pk); /* [0, 5] and [245, 250] ms: 40 W */
    assert_near(pk.power_w, 40.0, 1e-9, "an edge span");
}

/* A counter whose window is not known (WL_PEAK_SPAN_UNKNOWN: its update
 * period was not learned) has no spans: the window is one, so its peak is
 * its average, or a higher sample power inside it. */
static void test_window_peak_of_an_unknown_span(void **state)
{
    (void)state;
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    struct wl_sample buf[32];
    const size_t n = edges_samples(buf);
    struct wl_energy_window w;
    struct wl_peak pk;
    edges_window(&w, 250);
    for (size_t i = 0; i < n; i++)
        buf[i].power_mask = 0; /* no window: no derived power */
    wl_window_peak(buf, n, &w, d, WL_PEAK_SPAN_UNKNOWN, &pk);
    assert_true(pk.power_w == wl_energy_window_avg_w(&w, d));
    assert_int_equal(pk.t_ns, w.end.t_ns);
    edges_window(&w, 3); /* however short */
    wl_window_peak(buf, n, &w, d, WL_PEAK_SPAN_UNKNOWN, &pk);
    assert_near(pk.power_w, 40.0, 1e-9, "a short window's average");
    edges_window(&w, 250);
    buf[7].power_mask = 1u << d; /* a read power inside */
    buf[7].power_from_ns[d] = buf[7].t_ns;
    buf[7].power_w[d] = 55.0f;
    wl_window_peak(buf, n, &w, d, WL_PEAK_SPAN_UNKNOWN, &pk);
    assert_near(pk.power_w, 55.0, 1e-9, "read power");
    assert_int_equal(pk.t_ns, buf[7].t_ns);
}

/* The end mark's read of the domain failed (`measure`'s command window
 * ending on a failed read): the window ends at the last sample in it that
 * read the domain (245 ms), so the peak is the one of the window [0, 245]
 * ms, [0, 95] at 1850 mJ / 95 ms; it was none (the recorder alone had this
 * rule). With no sample that read it, still none. */
static void test_window_peak_when_the_end_lacks_the_domain(void **state)
{
    (void)state;
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    struct wl_sample buf[32];
    const size_t n = edges_samples(buf);
    struct wl_energy_window w;
    struct wl_peak want, pk;
    edges_window(&w, 245);
    wl_window_peak(buf, n, &w, d, 100 * MS_NS, &want);
    assert_near(want.power_w, 1850.0 / 95.0, 1e-9, "the window to the last reading");
    edges_window(&w, 250);
    w.end.valid_mask = 0;
    w.end.energy_uj[d] = 0;
    wl_window_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_true(pk.t_ns != 0);
    assert_true(pk.power_w == want.power_w);
    assert_int_equal(pk.t_ns, want.t_ns);
    for (size_t i = 0; i < n; i++)
        buf[i].valid_mask = 0;
    wl_window_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_int_equal(pk.t_ns, 0);
}

/* A counter that moves every 100 ms is too slow for the probe at open: its
 * window is learned while sampling. At open it is unknown (0, no peak
 * span: the recorder's provenance stores no window); wl_sampler_domain_now()
 * shows it learned while the thread runs, and wl_sampler_domain() after
 * the stop. */
static void test_slow_counter_window_is_learned(void **state)
{
    (void)state;
    static const struct wl_fake_zone z[] = {{"intel-rapl:0", "package-0", 30.0, 1ull << 40}};
    char *root = wl_test_tmpdir();
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, z, 1, 100000000);
    assert_non_null(fp);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.backends = WL_BACKEND_RAPL_POWERCAP;
    p.model_use = WL_MODEL_NEVER;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 10000000;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &s), 0);
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    const struct wl_domain_info *at_open = wl_sampler_domain(s, d);
    assert_int_equal(at_open->power_window_ns, 0); /* not one interval made up */
    assert_true(at_open->peak_span_ns == WL_PEAK_SPAN_UNKNOWN);
    struct wl_domain_info now;
    assert_int_equal(wl_sampler_domain_now(s, WL_DOMAIN_COUNT, &now), WL_EINVAL);
    wl_fake_powercap_reset_gap(fp);
    assert_int_equal(wl_sampler_start(s), 0);
    /* two changes (~200 ms) learn it; wait up to 10 s on a busy machine */
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(wl_sampler_domain_now(s, d, &now), 0);
        if (now.peak_span_ns != WL_PEAK_SPAN_UNKNOWN)
            break;
        wl_clock_sleep_ns(10000000);
    }
    assert_int_equal(wl_sampler_stop(s), 0);
    /* ten times the mean time between the changes the thread saw: the
     * fake's 100 ms, within what the measured stalls explain (a sampler
     * thread late by R sees a change R late: with a 10 ms allowance for it,
     * a learned 240 ms failed a loaded run); a stall that explains a window
     * outside 500..2000 ms makes it inconclusive, anything else fails */
    static struct wl_sample buf[WL_SAMPLER_DEFAULT_RING];
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    assert_int_equal(st.n_overflow, 0);
    const size_t n = wl_sampler_drain(s, buf, WL_SAMPLER_DEFAULT_RING);
    const struct wl_learn_measured m = {
        .sep_ns = wl_fake_powercap_min_sep_ns(fp),
        .gap_ns = wl_fake_powercap_max_gap_ns(fp),
        .read_gap_ns = wl_test_read_gap_ns(wl_sampler_t0_ns(s), buf, n),
        .max_read_ns = st.max_read_ns,
        .interval_ns = sp.interval_ns,
    };
    struct wl_fake_verdict v = {0};
    wl_test_check_learned_window(&v, "learned window while sampling",
                                 (double)now.power_window_ns / 1e6, 500.0, 2000.0, &m);
    /* (an unknown window's span is unknown too) */
    assert_int_equal(now.peak_span_ns,
                     now.power_window_ns ? now.power_window_ns : WL_PEAK_SPAN_UNKNOWN);
    const struct wl_domain_info *after = wl_sampler_domain(s, d);
    wl_test_check_learned_window(&v, "learned window after the stop",
                                 (double)after->power_window_ns / 1e6, 500.0, 2000.0, &m);
    assert_int_equal(after->peak_span_ns,
                     after->power_window_ns ? after->power_window_ns : WL_PEAK_SPAN_UNKNOWN);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
    wl_fake_verdict_end(&v);
}

/* ---- wl_span_peak: the same rule streamed --------------------------------- */

/* A caller that gets the samples in batches of three and learns the end at
 * the end: it adds only those before the end (as the recorder does once a
 * later mark shows they lie inside). */
static void stream_peak(const struct wl_sample *buf, size_t n, const struct wl_energy_window *w,
                        enum wl_domain d, uint64_t span_ns, struct wl_peak *pk)
{
    struct wl_span_peak sp;
    wl_span_peak_begin(&sp, &w->begin, d, span_ns);
    for (size_t i = 0; i < n; i += 3) {
        for (size_t k = i; k < n && k < i + 3; k++) {
            if (buf[k].t_ns < w->end.t_ns)
                wl_span_peak_add(&sp, &buf[k]);
        }
    }
    wl_span_peak_end(&sp, &w->end, pk);
}

/* The rule written out over the whole array, for the peak's value: the
 * span boundaries first (from the begin mark, each valid sample at least
 * 90 % of span_ns after the last boundary; a remainder shorter than that
 * dropped, so the span before it runs to the end), then the highest of
 * their averages and of the samples' own powers inside. NAN: no peak. */
static double reference_peak_w(const struct wl_sample *buf, size_t n,
                               const struct wl_energy_window *w, enum wl_domain d, uint64_t span_ns)
{
    const uint64_t t0 = w->begin.t_ns, t1 = w->end.t_ns, min_ns = span_ns - span_ns / 10;
    if (!wl_energy_window_has(w, d) || t1 <= t0 || t1 - t0 < min_ns)
        return NAN;
    uint64_t bt[64] = {t0}, be[64] = {w->begin.energy_uj[d]};
    size_t nb = 1;
    double best = NAN;
    for (size_t i = 0; i < n; i++) {
        const struct wl_sample *x = &buf[i];
        if (x->t_ns <= t0 || x->t_ns >= t1)
            continue;
        if (wl_sample_power_within(x, d, t0, t1) && !(x->power_w[d] <= best))
            best = x->power_w[d];
        if ((x->valid_mask & (1u << d)) && x->t_ns - bt[nb - 1] >= min_ns) {
            bt[nb] = x->t_ns;
            be[nb++] = x->energy_uj[d];
        }
    }
    if (t1 - bt[nb - 1] < min_ns)
        nb--; /* the remainder joins the span before it */
    bt[nb] = t1;
    be[nb] = w->end.energy_uj[d];
    for (size_t k = 0; k < nb; k++) {
        const double pw = (double)(be[k + 1] - be[k]) / 1e6 / ((double)(bt[k + 1] - bt[k]) / 1e9);
        if (!(pw <= best))
            best = pw;
    }
    return best;
}

/* The cases of wl_window_peak's tests, streamed: the same numbers. */
static void test_span_peak_of_the_window_peak_cases(void **state)
{
    (void)state;
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    struct wl_sample buf[32];
    size_t n = edges_samples(buf);
    struct wl_energy_window w;
    struct wl_peak pk;
    edges_window(&w, 250); /* hot edges: never below the average */
    stream_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_near(pk.power_w, 3050.0 / 155.0, 1e-9, "peak");
    assert_int_equal(pk.t_ns, w.end.t_ns);
    assert_true(pk.power_w >= wl_energy_window_avg_w(&w, d));
    edges_window(&w, 89); /* shorter than 90 % of a span */
    stream_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_int_equal(pk.t_ns, 0);
    edges_window(&w, 99); /* one span: exactly the average */
    stream_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_true(pk.power_w == wl_energy_window_avg_w(&w, d));
    assert_int_equal(pk.t_ns, w.end.t_ns);
    edges_window(&w, 180); /* a sample's own window above the one span */
    stream_peak(buf, n, &w, d, 100 * MS_NS, &pk);
    assert_near(pk.power_w, 19.0, 1e-5, "a sample's own window");
    assert_int_equal(pk.t_ns, T0_NS + 95 * MS_NS);
    stream_peak(buf, n, &w, WL_DOMAIN_DRAM, 100 * MS_NS, &pk); /* no value: no peak */
    assert_int_equal(pk.t_ns, 0);
    for (size_t i = 0; i < n; i++) { /* read powers: a reading counts as itself */
        buf[i].power_mask = 1u << d;
        buf[i].power_from_ns[d] = buf[i].t_ns;
        buf[i].power_w[d] = i == 7 ? 50.0f : 10.0f;
    }
    edges_window(&w, 250);
    stream_peak(buf, n, &w, d, 0, &pk);
    assert_near(pk.power_w, 50.0, 1e-9, "read power peak");
    assert_int_equal(pk.t_ns, buf[7].t_ns);
}

/* Streamed and whole-array peaks agree exactly (value, time, tag) for every
 * window length from 1 to 260 ms, spans of 0 to 150 ms, counter and read
 * powers, with and without a value; and their value is the rule's. */
static void test_span_peak_agrees_with_window_peak(void **state)
{
    (void)state;
    struct wl_sample buf[32];
    const size_t n = edges_samples(buf);
    for (int read = 0; read < 2; read++) {
        for (size_t i = 0; i < n; i++) {
            buf[i].phase = (uint32_t)(i % 3); /* spans and samples tell their tags */
            if (read) {
                buf[i].power_mask = 1u << WL_DOMAIN_PACKAGE;
                buf[i].power_from_ns[WL_DOMAIN_PACKAGE] = buf[i].t_ns;
                buf[i].power_w[WL_DOMAIN_PACKAGE] = (float)(10 + (i * 7) % 23);
            }
        }
        static const uint64_t spans_ms[] = {0, 10, 50, 100, 150};
        for (size_t k = 0; k < sizeof spans_ms / sizeof spans_ms[0]; k++) {
            for (int len = 1; len <= 260; len++) {
                for (int dd = 0; dd < 2; dd++) {
                    const enum wl_domain d = dd ? WL_DOMAIN_DRAM : WL_DOMAIN_PACKAGE;
                    struct wl_energy_window w;
                    edges_window(&w, len);
                    struct wl_peak whole, streamed;
                    wl_window_peak(buf, n, &w, d, spans_ms[k] * MS_NS, &whole);
                    stream_peak(buf, n, &w, d, spans_ms[k] * MS_NS, &streamed);
                    assert_true(whole.power_w == streamed.power_w);
                    assert_int_equal(whole.t_ns, streamed.t_ns);
                    assert_int_equal(whole.phase, streamed.phase);
                    const double want = reference_peak_w(buf, n, &w, d, spans_ms[k] * MS_NS);
                    if (isnan(want)) {
                        assert_int_equal(whole.t_ns, 0);
                        continue;
                    }
                    assert_true(whole.t_ns > w.begin.t_ns && whole.t_ns <= w.end.t_ns);
                    assert_near(whole.power_w, want, 1e-9 * want, "the rule's peak");
                    assert_true(whole.power_w >= wl_energy_window_avg_w(&w, d));
                }
            }
        }
    }
}

/* Samples past the end that slipped in (a caller's error): the last span
 * taken, [0, 95] ms (19.5 W), no longer partitions the 100 ms window, whose
 * 2 J burst after its last sample inside makes its average 39 W; end takes
 * that average too, so the peak is still not below it. */
static void test_span_peak_with_samples_past_the_end(void **state)
{
    (void)state;
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    struct wl_sample buf[32];
    const size_t n = edges_samples(buf);
    struct wl_energy_window w;
    edges_window(&w, 100);
    w.end.energy_uj[d] += 2000000;
    const double avg = wl_energy_window_avg_w(&w, d);
    assert_near(avg, 39.0, 1e-9, "average");
    struct wl_span_peak sp;
    wl_span_peak_begin(&sp, &w.begin, d, 100 * MS_NS);
    for (size_t i = 0; i < n; i++)
        wl_span_peak_add(&sp, &buf[i]); /* up to 245 ms */
    struct wl_peak pk;
    wl_span_peak_end(&sp, &w.end, &pk);
    assert_true(pk.power_w == avg);
    assert_int_equal(pk.t_ns, w.end.t_ns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_is_bounded_and_overflow_counted),
        cmocka_unit_test(test_phase_tag_is_stamped_on_samples),
        cmocka_unit_test(test_peak_has_power_time_and_phase),
        cmocka_unit_test(test_power_unknown_until_first_window),
        cmocka_unit_test(test_peak_only_from_windows_inside),
        cmocka_unit_test(test_baseline_and_dynamic_energy),
        cmocka_unit_test(test_baseline_cancelled),
        cmocka_unit_test(test_achieved_rate_is_checked),
        cmocka_unit_test(test_stop_does_not_wait_out_the_interval),
        cmocka_unit_test(test_sensor_failing_mid_run_leaves_a_gap),
        cmocka_unit_test(test_power_only_domain_is_integrated),
        cmocka_unit_test(test_sources_are_cut_between_characters),
        cmocka_unit_test(test_same_domain_from_two_sensors_is_not_summed),
        cmocka_unit_test(test_gpus_of_two_sensors_are_summed),
        cmocka_unit_test(test_read_power_of_a_later_sensor_can_peak),
        cmocka_unit_test(test_model_power_stays_under_its_ceiling),
        cmocka_unit_test(test_power_only_energy_never_goes_back),
        cmocka_unit_test(test_power_only_floor_is_per_domain),
        cmocka_unit_test(test_window_peak_is_never_below_the_average),
        cmocka_unit_test(test_window_peak_of_short_windows),
        cmocka_unit_test(test_window_peak_of_read_powers),
        cmocka_unit_test(test_window_peak_of_an_unknown_span),
        cmocka_unit_test(test_window_peak_when_the_end_lacks_the_domain),
        cmocka_unit_test(test_slow_counter_window_is_learned),
        cmocka_unit_test(test_span_peak_of_the_window_peak_cases),
        cmocka_unit_test(test_span_peak_agrees_with_window_peak),
        cmocka_unit_test(test_span_peak_with_samples_past_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

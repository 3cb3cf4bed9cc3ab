/* ctest-labels: timing (the thread's tests sleep and read fake files written meanwhile) */
/* sampler: what its counters and their times must survive. After a sensor
 * read gap a counter's power restarts with both references from the first
 * good read (not the whole gap's energy over one window). A counter whose
 * cumulative value falls (hwmon amd_energy below its first value) is a
 * discontinuity: nothing counted across it, recorded as a gap, never a huge
 * step; in marks too. A span's energy and its duration come from the same
 * read, so a constant power read next to a second sensor peaks at its
 * average. A fall on channel 33 of a sensor touches no other channel (the
 * old 32-bit mask took it for channel 1). Consecutive discontinuities of
 * one channel are one gap, its warnings are limited, and a counter that
 * goes above its range is one gap that says so, its rises there counted.
 * A gap names its backend and domains, and which domains' energy it lost.
 * A counter that changed after longer than it takes to wrap at 1 kW is a
 * gap that says so.
 * Sensors are fake sysfs trees (powercap counters driven by a writer thread,
 * hwmon files written by the test). */
#include "test_support.h"

#include "fake_powercap.h"
#include "sampler_wait.h"
#include "sensor_open.h"
#include "sysfs_text.h"
#include "sampler/sampler.h"
#include "sensors/sensor.h"
#include "sensors/sensor_impl.h" /* a static counter's update period, as if measured */
#include "util/clock.h"
#include "wattlens/wattlens.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void assert_near(double got, double want, double tol, const char *what)
{
    if (got < want - tol || got > want + tol) {
        fprintf(stderr, "%s: got %.6f, want %.6f +- %.6f\n", what, got, want, tol);
        fail();
    }
}

static wl_sampler *open_sampler(wl_sensor_set *set, uint64_t interval_ns)
{
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = interval_ns;
    sp.ring_capacity = 4096;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &s), 0);
    return s;
}

/* A static powercap zone under root: name, max_energy_range_uj, energy_uj
 * (fixed width: put_uj rewrites it in place). */
static void put_zone(const char *root, const char *dir, const char *name, uint64_t max,
                     uint64_t energy)
{
    char path[2048], text[64];
    wl_test_make_class_device(root, "powercap", dir, name);
    snprintf(path, sizeof path, "%s/class/powercap/%s/max_energy_range_uj", root, dir);
    snprintf(text, sizeof text, "%llu\n", (unsigned long long)max);
    wl_test_put_text(path, text);
    snprintf(path, sizeof path, "%s/class/powercap/%s/energy_uj", root, dir);
    wl_test_put_uj(path, energy);
}

static wl_sensor_set *open_powercap(const char *root)
{
    return wl_test_open_sensor_set(root, WL_BACKEND_RAPL_POWERCAP);
}

/* Ends a capture of stderr (wl_test_capture_stderr_begin), echoes what was
 * captured to it, and returns it (heap). */
static char *capture_end(void)
{
    char *text = wl_test_capture_stderr_end();
    fputs(text, stderr);
    return text;
}

static unsigned count_of(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A second hwmon device under root (hwmon1): a power meter (domain total)
 * reading 80 W in uW, fixed width so that a rewrite replaces it whole;
 * its power file's path goes to path. */
static void make_power_meter(const char *root, char *path, size_t size)
{
    snprintf(path, size, "%s/class/hwmon/hwmon1", root);
    mkdir(path, 0755);
    snprintf(path, size, "%s/class/hwmon/hwmon1/name", root);
    wl_test_put_text(path, "power_meter\n");
    snprintf(path, size, "%s/class/hwmon/hwmon1/power1_input", root);
    wl_test_put_text(path, "080000000\n");
}

/* Waits (no time asserted: a stalled host only waits longer) until the
 * sampler's one gap has ended; g[0] is then that gap. */
static void wait_for_the_gap_to_end(wl_sampler *s, struct wl_sampler_gap g[4])
{
    for (int i = 0; i < 6000; i++) {
        assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
        if (g[0].t_end_ns != 0)
            return;
        wl_clock_sleep_ns(5000000);
    }
}

static wl_sensor_set *open_hwmon(const char *root, unsigned more_backends)
{
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.backends = WL_BACKEND_HWMON | more_backends;
    p.model_use = more_backends & WL_BACKEND_CPU_MODEL ? WL_MODEL_ALWAYS : WL_MODEL_NEVER;
    p.model.scope = WL_MODEL_SCOPE_TREE; /* a /proc walk: a read that takes a while */
    p.period_probe_ns = 0;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    return set;
}

/* An amd_energy device (package, a counter at 100 J) and a power meter
 * (total, 80 W) under a new root: one hwmon sensor of two devices. */
struct two_meters {
    char *root;        /* heap */
    char energy[2048]; /* amd_energy's energy1_input */
    char power[2048];  /* the meter's power1_input */
};

static wl_sensor_set *open_two_meters(struct two_meters *tm)
{
    tm->root = wl_test_tmpdir();
    wl_test_make_energy_meter(tm->root, 100000000, tm->energy, sizeof tm->energy);
    make_power_meter(tm->root, tm->power, sizeof tm->power);
    wl_sensor_set *set = open_hwmon(tm->root, 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    return set;
}

static void close_two_meters(struct two_meters *tm, wl_sensor_set *set)
{
    wl_sensor_set_close(set);
    wl_test_rmtree(tm->root);
    free(tm->root);
}

/* Stops s, whose one gap (in g) must be a failed hwmon read that ended,
 * on domain_mask, losing lost_mask. */
static void stop_with_one_failed_read_gap(wl_sampler *s, struct wl_sampler_gap g[4],
                                          unsigned domain_mask, unsigned lost_mask)
{
    assert_int_equal(wl_sampler_stop(s), 0);
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_false(g[0].counter_fell);
    assert_int_equal(g[0].error, WL_ESENSOR);
    assert_true(g[0].t_end_ns > g[0].t_start_ns);
    assert_non_null(g[0].backend);
    assert_string_equal(g[0].backend, "hwmon");
    assert_int_equal(g[0].domain_mask, domain_mask);
    assert_int_equal(g[0].lost_mask, lost_mask);
}

/* A powercap package at 20 W whose energy_uj reads garbage for 200 ms
 * mid-run (the counter goes on underneath). The first sample after the gap
 * has no power, and every later one is the true 20 W over a window that
 * starts at or after the gap's end: the old code took the time reference
 * from after the gap and the energy reference from before it, so the first
 * window after the gap held the whole gap's energy (~400 W). */
static void test_power_after_a_read_gap(void **state)
{
    (void)state;
    static const struct wl_fake_zone z[] = {{"intel-rapl:0", "package-0", 20.0, 1ull << 40}};
    char *root = wl_test_tmpdir();
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, z, 1, 1000000);
    assert_non_null(fp);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.backends = WL_BACKEND_RAPL_POWERCAP;
    p.model_use = WL_MODEL_NEVER;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    wl_sampler *s = open_sampler(set, 5000000);
    assert_int_equal(wl_sampler_start(s), 0);
    /* the thread's reads are counted, not slept for: on a loaded host the
     * old fixed sleeps (100, 200, 150 ms) saw no failed read in the break,
     * or fewer than five windows after it */
    wl_test_wait_for_samples(s, 20); /* 100 ms at 5 ms */
    wl_fake_powercap_set_broken(fp, 1);
    /* broken for 200 ms at least (a gap twenty windows long: the old code's
     * first window after it held ~400 W), and until the thread read it so */
    wl_clock_sleep_ns(200000000);
    struct wl_sampler_gap g[4];
    for (int i = 0; i < 12000 && wl_sampler_gaps(s, g, 4) == 0; i++)
        wl_clock_sleep_ns(5000000);
    wl_fake_powercap_set_broken(fp, 0);
    wl_fake_powercap_reset_gap(fp); /* the windows checked start after the gap */
    wait_for_the_gap_to_end(s, g);
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    wl_test_wait_for_samples(s, st.n_samples + 30); /* 150 ms at 5 ms */
    assert_int_equal(wl_sampler_stop(s), 0);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(fp);

    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_true(g[0].t_end_ns > g[0].t_start_ns);
    static struct wl_sample buf[4096];
    const size_t n = wl_sampler_drain(s, buf, 4096);
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    const uint64_t w_ns = wl_sampler_domain(s, d)->power_window_ns / 10 * 9;
    struct wl_fake_verdict v = {0};
    size_t n_after = 0, n_known = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i].t_ns < g[0].t_end_ns)
            continue;
        if (n_after++ == 0) /* the read that closed the gap: no window yet */
            assert_false(buf[i].power_mask & (1u << d));
        if (!(buf[i].power_mask & (1u << d)))
            continue;
        n_known++;
        /* 10 ms windows (W >= 90 % of the domain's window, as the sensor
         * measured the period at open; not the sample's own window, which a
         * bug may shrink) of a counter stepped every ~1 ms: +-1 step, and a
         * late step of the writer under load, 20 W x G / W for its longest
         * gap G either way: 10 W allows G = W / 2, 40 W G = W, and both
         * lines meet the truth, 20 W, at a zero gap */
        char what[64];
        snprintf(what, sizeof what, "sample %.1f ms after the gap (W)",
                 (double)(buf[i].t_ns - g[0].t_end_ns) / 1e6);
        wl_fake_check_range(&v, what, buf[i].power_w[d], 10.0, 40.0, 20.0, gap_ns,
                            buf[i].power_w[d] < 10.0f ? w_ns / 2 : w_ns);
        assert_true(buf[i].power_from_ns[d] >= g[0].t_end_ns);
    }
    assert_true(n_known >= 5);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
    wl_fake_verdict_end(&v);
}

/* Writes base + 20 W x the time since t0 into path every ~1 ms for dur_ns
 * and until the thread of s has taken n_min samples since the ramp's start
 * (counted, not slept for: a loaded host delays the thread); returns the
 * last value written. *max_gap_ns is raised to the longest time from a
 * write's clock reading (its value's time) to the end of the next write:
 * a read between two writes sees a value that old at most. */
static uint64_t ramp_20w(wl_sampler *s, const char *path, uint64_t base_uj, uint64_t dur_ns,
                         uint64_t n_min, uint64_t *max_gap_ns)
{
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    const uint64_t want = st.n_samples + n_min;
    const uint64_t t0 = wl_clock_now_ns();
    uint64_t v = base_uj, t_prev = 0;
    for (uint64_t t = t0, i = 0; t - t0 < dur_ns || st.n_samples < want;
         t = wl_clock_now_ns(), i++) {
        v = base_uj + (uint64_t)(20.0 * (double)(t - t0) / 1e3);
        wl_test_put_uj(path, v);
        const uint64_t t_put = wl_clock_now_ns();
        if (i > 0 && t_put - t_prev > *max_gap_ns)
            *max_gap_ns = t_put - t_prev;
        t_prev = t;
        wl_clock_sleep_ns(1000000);
        wl_sampler_stats(s, &st);
        if (i > 60000) { /* about a minute: the thread is stuck */
            fprintf(stderr, "the sampler thread took %llu samples, waited for %llu\n",
                    (unsigned long long)st.n_samples, (unsigned long long)want);
            fail();
        }
    }
    return v;
}

/* Marks alone (no thread): an amd_energy counter at 100 J rises by 2 J, then
 * resets to 100.5 J (hwmon: 0.5 J since open, a fall of 1.5 J) and rises by
 * 1 J, then falls below its first value (hwmon reads 0). A mark never goes
 * back and counts nothing across a fall; each fall is a gap that says so.
 * The old code subtracted the origin again at every mark: 0.5 J after the
 * fall, and a window across it came out 0 J. */
static void test_counter_falling_between_marks(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    wl_test_make_energy_meter(root, 100000000, path, sizeof path);
    wl_sensor_set *set = open_hwmon(root, 0);
    wl_sampler *s = open_sampler(set, 0);
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    assert_true(wl_sampler_domain(s, d)->counter);
    struct wl_energy_mark m[5];
    assert_int_equal(wl_sampler_mark(s, &m[0]), 0);
    wl_test_put_uj(path, 102000000);
    assert_int_equal(wl_sampler_mark(s, &m[1]), 0);
    wl_test_put_uj(path, 100500000); /* reset: less than before */
    assert_int_equal(wl_sampler_mark(s, &m[2]), 0);
    wl_test_put_uj(path, 101500000);
    assert_int_equal(wl_sampler_mark(s, &m[3]), 0);
    wl_test_put_uj(path, 50000000); /* below the first value: hwmon reads 0 */
    assert_int_equal(wl_sampler_mark(s, &m[4]), 0);
    static const uint64_t want_uj[] = {0, 2000000, 2000000, 3000000, 3000000};
    for (int i = 0; i < 5; i++) {
        assert_true(m[i].valid_mask & (1u << d));
        if (m[i].energy_uj[d] != want_uj[i]) {
            fprintf(stderr, "mark %d: %.6f J, want %.6f J\n", i, (double)m[i].energy_uj[d] / 1e6,
                    (double)want_uj[i] / 1e6);
            fail();
        }
    }
    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 2);
    for (int i = 0; i < 2; i++) {
        assert_true(g[i].counter_fell);
        assert_int_equal(g[i].error, WL_ERANGE);
        assert_int_equal(g[i].sensor, 0);
        assert_int_equal(g[i].t_start_ns, m[2 * i + 1].t_ns); /* from the read before */
        assert_int_equal(g[i].t_end_ns, m[2 * i + 2].t_ns);   /* to the read that saw it */
        /* which sensor and domain, and that the domain's energy is lost */
        assert_non_null(g[i].backend);
        assert_string_equal(g[i].backend, "hwmon");
        assert_int_equal(g[i].domain_mask, 1u << d);
        assert_int_equal(g[i].lost_mask, 1u << d);
    }
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    assert_int_equal(st.n_gaps, 2);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* The tester's repro through the thread: an amd_energy counter at 20 W
 * resets to a lower value mid-run. Samples never go back, no power is huge
 * (the old code's uint64 difference gave 3.7e14 W), the fall is one gap,
 * and a window across it counts what the counter rose by, less at most
 * its rise over the gap. */
static void test_counter_falling_mid_run(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    wl_test_make_energy_meter(root, 100000000, path, sizeof path);
    wl_sensor_set *set = open_hwmon(root, 0);
    wl_sampler *s = open_sampler(set, 5000000);
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    assert_int_equal(wl_sampler_start(s), 0);
    struct wl_energy_window w;
    wl_sampler_window_begin(s, &w);
    const uint64_t t_ramp = wl_clock_now_ns();
    /* 150 ms each and 15 of the thread's samples (a loaded host took fewer
     * than 20 in the two fixed 150 ms ramps) */
    uint64_t put_gap_ns = 0;
    const uint64_t top1 = ramp_20w(s, path, 100000000, 150000000, 15, &put_gap_ns);
    /* the fall, stamped around its write */
    const uint64_t t_fall0 = wl_clock_now_ns();
    wl_test_put_uj(path, 100500000); /* reset from ~103 J */
    const uint64_t t_fall1 = wl_clock_now_ns();
    const uint64_t top2 = ramp_20w(s, path, 100500000, 150000000, 15, &put_gap_ns);
    wl_sampler_window_end(s, &w);
    assert_int_equal(wl_sampler_stop(s), 0);

    static struct wl_sample buf[4096];
    const size_t n = wl_sampler_drain(s, buf, 4096);
    assert_true(n > 20);
    for (size_t i = 0; i < n; i++) {
        if (!(buf[i].power_mask & (1u << d)))
            continue;
        /* 5 ms windows of a counter written every ~1 ms: +-1 write, and
         * the writes of a test thread bunch up on a busy machine */
        if (!(buf[i].power_w[d] >= 0.0f && buf[i].power_w[d] <= 200.0f)) {
            fprintf(stderr, "sample at %.1f ms: %g W (true 20 W)\n",
                    (double)(buf[i].t_ns - t_ramp) / 1e6, (double)buf[i].power_w[d]);
            fail();
        }
    }
    for (size_t i = 1; i < n; i++)
        assert_true(buf[i].energy_uj[d] >= buf[i - 1].energy_uj[d]);
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    assert_true(st.peak[d].power_w <= 200.0);
    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_true(g[0].counter_fell);
    assert_true(g[0].t_start_ns < g[0].t_end_ns);
    /* the gap runs from the read before the fall to the read that saw it,
     * each stamped with its middle (up to half the longest read L from the
     * instant it read the file): the read before began before the write
     * ended, the one that saw it ended after the write began. Whatever the
     * scheduler does. */
    const uint64_t half_read_ns = st.max_read_ns / 2;
    if (g[0].t_start_ns > t_fall1 + half_read_ns || g[0].t_end_ns + half_read_ns < t_fall0) {
        fprintf(stderr,
                "gap %.3f..%.3f ms, the fall written at %.3f..%.3f ms (from the ramp), "
                "longest read %.3f ms\n",
                (double)(g[0].t_start_ns - t_ramp) / 1e6, (double)(g[0].t_end_ns - t_ramp) / 1e6,
                (double)(t_fall0 - t_ramp) / 1e6, (double)(t_fall1 - t_ramp) / 1e6,
                (double)st.max_read_ns / 1e6);
        fail();
    }
    assert_true(wl_energy_window_has(&w, d));
    /* never more than the counter rose by; less by at most its rise over
     * the gap: 20 W from the value the read before it saw, at most the
     * longest write gap old, to the value the read that saw it saw, read
     * times each off by up to L / 2 */
    const double rose_j = (double)(top1 - 100000000 + top2 - 100500000) / 1e6;
    const double gap_s = (double)(g[0].t_end_ns - g[0].t_start_ns) / 1e9;
    const double slack_s = (double)(put_gap_ns + st.max_read_ns) / 1e9;
    const double got_j = wl_energy_window_j(&w, d);
    if (got_j > rose_j || got_j < rose_j - 20.0 * (gap_s + slack_s) - 1e-6) {
        fprintf(stderr,
                "counted %.6f J; the counter rose by %.6f J, gap %.1f ms, longest write gap "
                "%.1f ms, longest read %.3f ms\n",
                got_j, rose_j, gap_s * 1e3, (double)put_gap_ns / 1e6, (double)st.max_read_ns / 1e6);
        fail();
    }
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A constant 80 W power meter (hwmon, domain total) read in one pass with a
 * second sensor (the CPU model following this process's tree: a /proc walk
 * after the meter's read). A sample is stamped with the middle of the pass,
 * its energy integrated up to the meter's own read; taking the one for the
 * other gave each span energy for a longer time than its stated duration
 * (peaks 1-3 % above an 80 W average, far more for the short span of a
 * window that ends just after a sample, as here). Spans now run between
 * the times their energies were read: the peak is the average. */
static void test_constant_power_peaks_at_its_average(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    wl_test_make_class_device(root, "hwmon", "hwmon0", "power_meter");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/power1_input", root);
    wl_test_put_text(path, "80000000\n"); /* uW */
    wl_sensor_set *set = open_hwmon(root, WL_BACKEND_CPU_MODEL);
    assert_int_equal(wl_sensor_set_count(set), 2);
    wl_sampler *s = open_sampler(set, 20000000);
    const enum wl_domain d = WL_DOMAIN_TOTAL;
    assert_int_equal(wl_sampler_domain(s, d)->power_window_ns, 0); /* read powers */
    assert_int_equal(wl_sampler_start(s), 0);
    wl_clock_sleep_ns(30000000);
    struct wl_energy_window w;
    wl_sampler_window_begin(s, &w);
    wl_clock_sleep_ns(250000000);
    /* end just after a sample: the window's last span is short */
    struct wl_sample last, x;
    assert_int_equal(wl_sampler_snapshot(s, &last), 0);
    do {
        assert_int_equal(wl_sampler_snapshot(s, &x), 0);
    } while (x.t_ns == last.t_ns);
    wl_sampler_window_end(s, &w);
    assert_int_equal(wl_sampler_stop(s), 0);
    static struct wl_sample buf[4096];
    const size_t n = wl_sampler_drain(s, buf, 4096);
    const double avg = wl_energy_window_avg_w(&w, d);
    assert_near(avg, 80.0, 0.01, "average");
    struct wl_peak pk;
    wl_window_peak(buf, n, &w, d, 0, &pk);
    assert_true(pk.t_ns != 0);
    /* rounding of the energies to 1 uJ over a span of tens of us */
    if (pk.power_w > avg * 1.002) {
        fprintf(stderr, "peak %.4f W at %.3f ms before the end, average %.4f W\n", pk.power_w,
                (double)(w.end.t_ns - pk.t_ns) / 1e6, avg);
        fail();
    }
    assert_true(pk.power_w >= avg);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A powercap package (channel 0), a core sub-zone (channel 1) and 38 dram
 * sub-zones (channels 2..39); dram channel 33 (zone intel-rapl:0:32) resets
 * mid-run. The fall is the dram domain's alone: core's power stays known in
 * every sample after its first window. The old code kept the falls in a
 * 32-bit mask (1u << 33: undefined, on x86 channel 1's bit), so core's power
 * was unknown in the sample after the fall; UBSan (check-asan) stops at the
 * shift. The counters stand still, so their update period is set as if
 * measured at open (RAPL's 1 ms): one the sampler learns needs changes. */
static void test_fall_on_channel_33_leaves_channel_1_alone(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    const uint64_t max = 262143328850ull, e0 = 5000000000ull;
    put_zone(root, "intel-rapl:0", "package-0", max, e0);
    put_zone(root, "intel-rapl:0:0", "core", max, e0);
    char dir[64];
    for (int k = 1; k < 39; k++) {
        snprintf(dir, sizeof dir, "intel-rapl:0:%d", k);
        put_zone(root, dir, "dram", max, e0);
    }
    wl_sensor_set *set = open_powercap(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(wl_sensor_set_get(set, 0));
    assert_int_equal(in->n_channels, 40);
    assert_int_equal(in->ch[1].domain, WL_DOMAIN_CORE);
    assert_int_equal(in->ch[33].domain, WL_DOMAIN_DRAM);
    struct wl_sensor *sen = wl_sensor_set_get(set, 0);
    sen->info.update_period_ns = 1000000;
    sen->info.period_measured = true;
    for (unsigned c = 0; c < sen->info.n_channels; c++)
        sen->info.ch[c].update_period_ns = 1000000; /* the sampler windows each by its own */
    /* and as counters that are not judged stuck (sampler.md, Gaps): on a
     * loaded host the run can outlast the 100 ms a flat RAPL counter gets */
    for (unsigned c = 0; c < sen->info.n_channels; c++)
        sen->info.ch[c].nominal_period_ns = 0;
    wl_sampler *s = open_sampler(set, 20000000);
    assert_int_equal(wl_sampler_start(s), 0);
    /* the fall comes after the thread's second sample, so that the first
     * sample after it has core's power (its first window is over by the
     * second sample). A fixed 100 ms sleep held fewer on a loaded host:
     * the first sample after the fall was then left unchecked, and the
     * one checked in its place already had dram's next window. */
    wl_test_wait_for_samples(s, 2);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0:32/energy_uj", root);
    wl_test_put_uj(path, 1000); /* channel 33: a reset */
    struct wl_energy_mark m;
    assert_int_equal(wl_sampler_mark(s, &m), 0); /* the fall is read by now */
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    wl_test_wait_for_samples(s, st.n_samples + 3); /* three after the mark */
    assert_int_equal(wl_sampler_stop(s), 0);

    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_true(g[0].counter_fell);
    assert_int_equal(g[0].causes, 1u << WL_DISC_BAD_WRAP);
    assert_true(g[0].t_end_ns <= m.t_ns); /* the thread's read or the mark saw it */
    static struct wl_sample buf[4096];
    const size_t n = wl_sampler_drain(s, buf, 4096);
    /* the first sample after the fall: the one of the read that saw it
     * (one sensor: its read is the sample's time) or the thread's next
     * read after the mark's that saw it; after the second sample */
    size_t first = 0;
    while (first < n && buf[first].t_ns < g[0].t_end_ns)
        first++;
    assert_true(first >= 2);
    assert_true(n - first >= 2);
    /* the fall restarts dram's window: no power in that sample */
    assert_false(buf[first].power_mask & (1u << WL_DOMAIN_DRAM));
    for (size_t i = 2; i < n; i++) { /* from the second window on */
        const bool core = (buf[i].power_mask & (1u << WL_DOMAIN_CORE)) != 0;
        if (!core)
            fprintf(stderr, "sample %zu (%.1f ms after the fall): core power unknown\n", i,
                    ((double)buf[i].t_ns - (double)g[0].t_end_ns) / 1e6);
        assert_true(core);
        assert_true(buf[i].power_mask & (1u << WL_DOMAIN_PACKAGE));
    }
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A powercap counter that goes above its range (max_energy_range_uj 1 J)
 * and stays there for ~20 reads, then rises by 0.5 J there. One gap, which
 * says the counter read above its range, one sampler warning, and the rise
 * above the range counted. The old code saw a discontinuity at every read:
 * a gap and a warning each ("an energy counter went back"), and 0 J. */
static void test_counter_above_its_range_is_one_gap(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 1000000, 500000);
    wl_sensor_set *set = open_powercap(root);
    wl_test_capture_stderr_begin();
    wl_sampler *s = open_sampler(set, 5000000);
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    assert_int_equal(wl_sampler_start(s), 0);
    /* counted in the thread's samples, not slept for: fixed sleeps held
     * fewer than 20 reads above the range on a loaded host */
    wl_test_wait_for_samples(s, 2);
    struct wl_energy_mark m[3];
    assert_int_equal(wl_sampler_mark(s, &m[0]), 0);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    wl_test_put_uj(path, 3000000);
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    wl_test_wait_for_samples(s, st.n_samples + 20);
    assert_int_equal(wl_sampler_mark(s, &m[1]), 0);
    wl_test_put_uj(path, 3500000);
    wl_sampler_stats(s, &st);
    wl_test_wait_for_samples(s, st.n_samples + 3);
    assert_int_equal(wl_sampler_mark(s, &m[2]), 0);
    assert_int_equal(wl_sampler_stop(s), 0);
    char *err = capture_end();

    wl_sampler_stats(s, &st);
    assert_true(st.n_samples >= 20);
    struct wl_sampler_gap all[WL_SAMPLER_MAX_GAPS], g[WL_SAMPLER_MAX_GAPS];
    /* the counter is flat for ~20 reads 5 ms apart: on a loaded host that
     * passes 100 ms, and the sampler rightly adds a stuck gap (and its
     * warning); that one is not this test's, the others are counted */
    const size_t n_all = wl_sampler_gaps(s, all, WL_SAMPLER_MAX_GAPS);
    size_t n = 0, n_stuck = 0;
    for (size_t i = 0; i < n_all; i++) {
        if (all[i].causes == 1u << WL_DISC_STUCK)
            n_stuck++;
        else
            g[n++] = all[i];
    }
    assert_true(n_stuck <= 1);
    assert_int_equal(n, 1);
    assert_int_equal(st.n_gaps, 1 + n_stuck);
    assert_true(g[0].counter_fell);
    assert_int_equal(g[0].causes, 1u << WL_DISC_ABOVE_RANGE);
    assert_string_equal(wl_sampler_gap_why(&g[0]),
                        "an energy counter read above its advertised range");
    assert_true(g[0].t_start_ns >= m[0].t_ns && g[0].t_end_ns <= m[1].t_ns);
    for (int i = 0; i < 3; i++)
        assert_true(m[i].valid_mask & (1u << d));
    assert_int_equal(m[1].energy_uj[d] - m[0].energy_uj[d], 0); /* the step into it: unknown */
    assert_int_equal(m[2].energy_uj[d] - m[1].energy_uj[d], 500000);
    /* (a rate warning at stop on a busy machine is another matter) */
    assert_int_equal(count_of(err, "[sampler] rapl-powercap package-0:"),
                     1 + count_of(err, "did not change once"));
    assert_true((size_t)count_of(err, "did not change once") == n_stuck);
    assert_int_equal(count_of(err, "read above its advertised range"), 1);
    assert_int_equal(count_of(err, "went back"), 0);
    free(err);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* Marks alone on an amd_energy counter (hwmon: it never wraps, so every
 * decrease is a fall). Falls at two consecutive reads are one gap, from the
 * read before the first to the one that saw the second; a fall after a good
 * read is a new gap. A channel's warnings stop after three (the fourth and
 * fifth gaps are recorded, not logged). The old code made a gap per fall
 * and logged every one. */
static void test_consecutive_falls_are_one_gap_and_warnings_are_limited(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    wl_test_make_energy_meter(root, 100000000, path, sizeof path);
    wl_sensor_set *set = open_hwmon(root, 0);
    wl_test_capture_stderr_begin();
    wl_sampler *s = open_sampler(set, 0);
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    /* J at each mark: 100, 99 (fall), 98 (fall), 99, 50 (fall), then a rise
     * and a fall three more times */
    static const uint64_t at_j[] = {100, 99, 98, 99, 50, 51, 40, 41, 30, 31, 20};
    enum { N = sizeof at_j / sizeof at_j[0] };
    struct wl_energy_mark m[N];
    for (int i = 0; i < N; i++) {
        wl_test_put_uj(path, at_j[i] * 1000000);
        assert_int_equal(wl_sampler_mark(s, &m[i]), 0);
        assert_true(m[i].valid_mask & (1u << d));
    }
    char *err = capture_end();
    /* a rise of 1 J counted after each fall but the first two */
    assert_int_equal(m[N - 1].energy_uj[d], 4000000);
    struct wl_sampler_gap g[8];
    assert_int_equal(wl_sampler_gaps(s, g, 8), 5);
    static const int from[] = {0, 3, 5, 7, 9}, to[] = {2, 4, 6, 8, 10};
    for (int i = 0; i < 5; i++) {
        assert_true(g[i].counter_fell);
        assert_int_equal(g[i].causes, 1u << WL_DISC_FELL);
        assert_string_equal(wl_sampler_gap_why(&g[i]), "an energy counter went back");
        assert_int_equal(g[i].t_start_ns, m[from[i]].t_ns);
        assert_int_equal(g[i].t_end_ns, m[to[i]].t_ns);
    }
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    assert_int_equal(st.n_gaps, 5);
    assert_int_equal(count_of(err, "[sampler] hwmon hwmon0/amd_energy/energy1:"), 3);
    assert_int_equal(count_of(err, "further ones are counted in the gaps, not logged"), 1);
    free(err);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* A failed read of a sensor with a counter (amd_energy, package) and a read
 * power (a power meter, total) is one gap on both domains, and only the
 * power's energy is lost: the counter takes the gap in at its next good
 * read, the power is not integrated across it. The gap said neither (a
 * stored run could not tell a lost gap from a harmless one). */
static void test_failed_read_gap_loses_only_read_powers(void **state)
{
    (void)state;
    struct two_meters tm;
    wl_sensor_set *set = open_two_meters(&tm);
    wl_sampler *s = open_sampler(set, 10000000);
    assert_true(wl_sampler_domain(s, WL_DOMAIN_PACKAGE)->counter);
    assert_false(wl_sampler_domain(s, WL_DOMAIN_TOTAL)->counter);
    assert_int_equal(wl_sampler_start(s), 0);
    wl_test_put_text(tm.power, "garbage!!\n"); /* the sensor's reads fail: every device's */
    wl_test_put_text(tm.energy, "garbage!!\n");
    /* until the thread has seen both fail (no time is asserted: a stalled
     * host only waits longer). A read between the two writes above opens
     * the gap with total alone; the package joins it at a later read, so
     * waiting for the first gap alone raced with that read. */
    const unsigned both = (1u << WL_DOMAIN_PACKAGE) | (1u << WL_DOMAIN_TOTAL);
    struct wl_sampler_gap g[4];
    for (int i = 0; i < 6000; i++) {
        if (wl_sampler_gaps(s, g, 4) >= 1 && g[0].domain_mask == both)
            break;
        wl_clock_sleep_ns(5000000);
    }
    wl_test_put_text(tm.power, "080000000\n");
    wl_test_put_uj(tm.energy, 100001000);
    wait_for_the_gap_to_end(s, g);
    stop_with_one_failed_read_gap(s, g, both, 1u << WL_DOMAIN_TOTAL);
    wl_sampler_close(s);
    close_two_meters(&tm, set);
}

/* One device of a sensor that fails (a power meter, total) while another
 * is read (amd_energy, package) is a gap of its domain alone: samples and
 * marks keep the package, only total is out of them and in the gap, and
 * only its energy is lost. Before, one failing device failed the whole
 * read: every hwmon domain was a gap (an APU's soc headline with a dGPU's
 * failure). */
static void test_one_failed_device_is_a_gap_of_its_domain_alone(void **state)
{
    (void)state;
    struct two_meters tm;
    wl_sensor_set *set = open_two_meters(&tm);
    wl_sampler *s = open_sampler(set, 10000000);
    assert_int_equal(wl_sampler_start(s), 0);
    wl_test_put_text(tm.power, "garbage!!\n"); /* the power meter fails, amd_energy is read */
    struct wl_sampler_stats st;
    for (int i = 0; i < 6000; i++) {
        wl_sampler_stats(s, &st);
        if (st.n_gaps > 0)
            break;
        wl_clock_sleep_ns(5000000);
    }
    struct wl_energy_mark m; /* the meter still fails: the thread has not read it since */
    assert_int_equal(wl_sampler_mark(s, &m), 0);
    assert_true(m.valid_mask & (1u << WL_DOMAIN_PACKAGE));
    assert_false(m.valid_mask & (1u << WL_DOMAIN_TOTAL));
    wl_test_put_text(tm.power, "080000000\n");
    struct wl_sampler_gap g[4];
    wait_for_the_gap_to_end(s, g);
    stop_with_one_failed_read_gap(s, g, 1u << WL_DOMAIN_TOTAL, 1u << WL_DOMAIN_TOTAL);
    static struct wl_sample buf[4096];
    const size_t n = wl_sampler_drain(s, buf, 4096);
    size_t n_gap = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(buf[i].valid_mask & (1u << WL_DOMAIN_PACKAGE));
        assert_false(buf[i].gap_mask & (1u << WL_DOMAIN_PACKAGE));
        if (buf[i].gap_mask & (1u << WL_DOMAIN_TOTAL)) {
            assert_false(buf[i].valid_mask & (1u << WL_DOMAIN_TOTAL));
            n_gap++;
        }
    }
    assert_true(n_gap > 0);
    wl_sampler_close(s);
    close_two_meters(&tm, set);
}

/* A counter that its sensor's origin read did not read (its device failed
 * while another was read) has no start: its energy up to its first good
 * read is unknown, so that read starts it, adding nothing, and the gap
 * from the origin to there says the energy is lost. Before, the origin
 * read failed whole and the sampler did not open. */
static void test_counter_not_read_at_the_origin_starts_at_its_first_read(void **state)
{
    (void)state;
    struct two_meters tm;
    wl_sensor_set *set = open_two_meters(&tm);
    wl_test_put_text(tm.energy, "garbage!!\n"); /* amd_energy fails at the origin read */
    wl_sampler *s = open_sampler(set, 10000000);
    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1); /* from the origin */
    assert_int_equal(g[0].domain_mask, 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(g[0].lost_mask, 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(g[0].t_start_ns, wl_sampler_t0_ns(s));
    wl_test_put_uj(tm.energy, 150000000); /* 50 J since the sensor's open: when, is unknown */
    assert_int_equal(wl_sampler_start(s), 0);
    wait_for_the_gap_to_end(s, g);
    wl_test_put_uj(tm.energy, 150001000); /* +1 mJ after its start: counted */
    struct wl_energy_mark m;
    for (int i = 0; i < 6000; i++) {
        assert_int_equal(wl_sampler_mark(s, &m), 0);
        if (m.energy_uj[WL_DOMAIN_PACKAGE] > 0)
            break;
        wl_clock_sleep_ns(5000000);
    }
    assert_true(m.valid_mask & (1u << WL_DOMAIN_PACKAGE));
    assert_int_equal(m.energy_uj[WL_DOMAIN_PACKAGE], 1000);
    assert_int_equal(wl_sampler_stop(s), 0);
    wl_sampler_close(s);
    close_two_meters(&tm, set);
}

/* A powercap counter of a 1 kJ range (1 s to wrap at 1 kW) read by two
 * marks 1.2 s apart, having risen by 1 J: it may have wrapped once too, so
 * the rise is a gap (WL_DISC_AMBIGUOUS), and the gap and the sampler's
 * warning say the counter was not read for longer than a wrap takes. The
 * old code said "an energy counter went back" for both. */
static void test_counter_read_after_its_wrap_time_is_an_ambiguous_gap(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 1000000000, 500000);
    wl_sensor_set *set = open_powercap(root);
    wl_test_capture_stderr_begin();
    wl_sampler *s = open_sampler(set, 0); /* marks only */
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    struct wl_energy_mark m[2];
    assert_int_equal(wl_sampler_mark(s, &m[0]), 0);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    wl_test_put_uj(path, 1500000);
    wl_clock_sleep_ns(1200000000); /* at least: a slow host only makes it longer */
    assert_int_equal(wl_sampler_mark(s, &m[1]), 0);
    char *err = capture_end();

    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_true(g[0].counter_fell);
    assert_int_equal(g[0].causes, 1u << WL_DISC_AMBIGUOUS);
    assert_string_equal(wl_sampler_gap_why(&g[0]),
                        "an energy counter was not read for longer than it takes to wrap at "
                        "1 kW, so how many times it wrapped is unknown");
    assert_int_equal(g[0].lost_mask, 1u << d);
    assert_int_equal(m[1].energy_uj[d] - m[0].energy_uj[d], 0); /* unknown, not 1 J */
    assert_int_equal(count_of(err, "[sampler] rapl-powercap package-0: its energy counter was "
                                   "not read for longer than it takes to wrap at 1 kW"),
                     1);
    assert_int_equal(count_of(err, "went back"), 0);
    free(err);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

/* Each cause of a counter gap has its own reason; a read error its error. */
static void test_gap_why_names_each_cause(void **state)
{
    (void)state;
    struct wl_sampler_gap g = {.counter_fell = true};
    static const struct {
        unsigned causes;
        const char *why;
    } want[] = {
        {1u << WL_DISC_FELL, "an energy counter went back"},
        {1u << WL_DISC_BAD_WRAP, "an energy counter went back, further than a wrap can explain"},
        {1u << WL_DISC_ABOVE_RANGE, "an energy counter read above its advertised range"},
        {1u << WL_DISC_BAD_RISE, "an energy counter jumped up by more than any real draw"},
        {1u << WL_DISC_LOST_SAMPLE, "a sample from the source could not be read"},
        {1u << WL_DISC_AMBIGUOUS, "an energy counter was not read for longer than it takes to "
                                  "wrap at 1 kW, so how many times it wrapped is unknown"},
        {(1u << WL_DISC_AMBIGUOUS) | (1u << WL_DISC_FELL),
         "an energy counter was not read for longer than it takes to wrap at 1 kW (how many "
         "times it wrapped is unknown) and went back"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        g.causes = want[i].causes;
        assert_string_equal(wl_sampler_gap_why(&g), want[i].why);
    }
    g.counter_fell = false;
    g.error = WL_ESENSOR;
    assert_string_equal(wl_sampler_gap_why(&g), wl_strerror(WL_ESENSOR));
}

/* Each counter's power window is ten of its own channel's update periods
 * (wl_sensor_channel.update_period_ns), at least one interval, and a
 * counter whose own period was not measured is learned (window 0 until
 * then); the domain's update period is published (not raised to an
 * interval as its window is). The old sampler gave every counter of a sensor the sensor's one
 * period: with channels that disagree (sensor period 0) every counter was
 * learned, and a counter not measured next to measured ones got theirs. */
static void open_with_periods(const char *root, const uint64_t period_ns[3], uint64_t sensor_ns,
                              uint64_t want_window_ns[3])
{
    static const enum wl_domain doms[3] = {WL_DOMAIN_PACKAGE, WL_DOMAIN_CORE, WL_DOMAIN_DRAM};
    wl_sensor_set *set = open_powercap(root);
    struct wl_sensor *sen = wl_sensor_set_get(set, 0);
    assert_int_equal(sen->info.n_channels, 3);
    for (unsigned c = 0; c < 3; c++)
        for (unsigned j = 0; j < 3; j++)
            if (sen->info.ch[c].domain == doms[j])
                sen->info.ch[c].update_period_ns = period_ns[j];
    sen->info.update_period_ns = sensor_ns; /* as the sensor layer makes it from its channels */
    sen->info.period_measured = sensor_ns != 0;
    wl_sampler *s = open_sampler(set, 2000000);
    for (unsigned j = 0; j < 3; j++) {
        const struct wl_domain_info *di = wl_sampler_domain(s, doms[j]);
        if (di->power_window_ns != want_window_ns[j])
            fprintf(stderr, "%s: power window %llu ns, want %llu\n", wl_domain_name(doms[j]),
                    (unsigned long long)di->power_window_ns, (unsigned long long)want_window_ns[j]);
        assert_int_equal(di->power_window_ns, want_window_ns[j]);
        /* and its update period, published as is (measure's resolution
         * judgement took power_window_ns / 10: 0.2 ms for the fast one) */
        assert_int_equal(di->update_period_ns, want_window_ns[j] ? period_ns[j] : 0);
    }
    wl_sampler_close(s);
    wl_sensor_set_close(set);
}

static void test_each_counter_is_windowed_by_its_own_period(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    const uint64_t max = 262143328850ull, e0 = 5000000000ull;
    put_zone(root, "intel-rapl:0", "package-0", max, e0);
    put_zone(root, "intel-rapl:0:0", "core", max, e0);
    put_zone(root, "intel-rapl:0:1", "dram", max, e0);
    /* package 1 ms, core 1 ms, dram 8 ms: they disagree, the sensor has none */
    const uint64_t apart[3] = {1000000, 1000000, 8000000};
    uint64_t want_apart[3] = {10000000, 10000000, 80000000};
    open_with_periods(root, apart, 0, want_apart);
    /* package 1 ms, core 1.5 ms (the sensor's: 1.5 ms), dram not measured:
     * dram is learned, not given 15 ms */
    const uint64_t one_unknown[3] = {1000000, 1500000, 0};
    uint64_t want_one_unknown[3] = {10000000, 15000000, 0};
    open_with_periods(root, one_unknown, 1500000, want_one_unknown);
    /* a period under an interval's tenth: the window is one interval */
    const uint64_t fast[3] = {100000, 100000, 100000};
    uint64_t want_fast[3] = {2000000, 2000000, 2000000};
    open_with_periods(root, fast, 100000, want_fast);
    wl_test_rmtree(root);
    free(root);
}

/* A counter whose reads fail until the stop (a zone gone for good, a
 * sensor that exited) takes its gap in at no later read: its energy from
 * the gap's start to the end is not counted, so the gap still open at the
 * stop names its domain lost. The old sampler left lost_mask 0 ("kept
 * counting"), while the domain's figures were n/a. */
static void test_counter_failing_until_the_stop_is_lost(void **state)
{
    (void)state;
    struct two_meters tm;
    wl_sensor_set *set = open_two_meters(&tm);
    wl_sampler *s = open_sampler(set, 10000000);
    assert_int_equal(wl_sampler_start(s), 0);
    wl_test_put_text(tm.energy, "garbage!!\n"); /* amd_energy fails; the meter is read */
    struct wl_sampler_gap g[4];
    for (int i = 0; i < 6000; i++) { /* no time asserted: a slow host only waits longer */
        if (wl_sampler_gaps(s, g, 4) >= 1)
            break;
        wl_clock_sleep_ns(5000000);
    }
    /* while running too: its energy since the gap began is not counted so far */
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_int_equal(g[0].lost_mask, 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(wl_sampler_stop(s), 0);
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_false(g[0].counter_fell);
    assert_int_equal(g[0].t_end_ns, 0); /* still failing at the end */
    assert_int_equal(g[0].domain_mask, 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(g[0].lost_mask, 1u << WL_DOMAIN_PACKAGE);
    wl_sampler_close(s);
    close_two_meters(&tm, set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_after_a_read_gap),
        cmocka_unit_test(test_gap_why_names_each_cause),
        cmocka_unit_test(test_counter_failing_until_the_stop_is_lost),
        cmocka_unit_test(test_each_counter_is_windowed_by_its_own_period),
        cmocka_unit_test(test_counter_falling_between_marks),
        cmocka_unit_test(test_failed_read_gap_loses_only_read_powers),
        cmocka_unit_test(test_one_failed_device_is_a_gap_of_its_domain_alone),
        cmocka_unit_test(test_counter_not_read_at_the_origin_starts_at_its_first_read),
        cmocka_unit_test(test_counter_falling_mid_run),
        cmocka_unit_test(test_constant_power_peaks_at_its_average),
        cmocka_unit_test(test_fall_on_channel_33_leaves_channel_1_alone),
        cmocka_unit_test(test_counter_above_its_range_is_one_gap),
        cmocka_unit_test(test_consecutive_falls_are_one_gap_and_warnings_are_limited),
        cmocka_unit_test(test_counter_read_after_its_wrap_time_is_an_ambiguous_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ctest-labels: timing (the thread's tests sleep and read fake files written meanwhile) */
/* sampler: what its counters and their times must survive. After a sensor
 * read gap a counter's power restarts with both references from the first
 * good read (not the whole gap's energy over one window). A counter whose
 * cumulative value falls (hwmon amd_energy below its first value) is a
 * discontinuity: nothing counted across it, recorded as a gap, never a huge
 * step; in marks too. A span's energy and its duration come from the same
 * read, so a constant power read next to a second sensor peaks at its
 * average.
 * Sensors are fake sysfs trees (powercap counters driven by a writer thread,
 * hwmon files written by the test). */
#include "test_support.h"

#include "fake_powercap.h"
#include "sampler/sampler.h"
#include "sensors/sensor.h"
#include "util/clock.h"
#include "wattlens/wattlens.h"

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

/* Writes text over the start of path in one write, without truncating (the
 * sensor keeps the file open); callers keep the width fixed. */
static void put_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    const size_t n = strlen(text);
    assert_int_equal(pwrite(fd, text, n, 0), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

static void put_uj(const char *path, uint64_t uj)
{
    char text[32];
    snprintf(text, sizeof text, "%020llu\n", (unsigned long long)uj);
    put_text(path, text);
}

/* An hwmon amd_energy device (domain package) under root with one socket
 * counter reading uj; its energy file's path goes to path. */
static void make_energy_meter(const char *root, uint64_t uj, char *path, size_t size)
{
    static const char *const dirs[] = {"class", "class/hwmon", "class/hwmon/hwmon0"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, size, "%s/%s", root, dirs[i]);
        mkdir(path, 0755);
    }
    snprintf(path, size, "%s/class/hwmon/hwmon0/name", root);
    put_text(path, "amd_energy\n");
    snprintf(path, size, "%s/class/hwmon/hwmon0/energy1_label", root);
    put_text(path, "Esocket0\n");
    snprintf(path, size, "%s/class/hwmon/hwmon0/energy1_input", root);
    put_uj(path, uj);
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
    wl_clock_sleep_ns(100000000);
    wl_fake_powercap_set_broken(fp, 1);
    wl_clock_sleep_ns(200000000);
    wl_fake_powercap_set_broken(fp, 0);
    wl_clock_sleep_ns(150000000);
    assert_int_equal(wl_sampler_stop(s), 0);

    struct wl_sampler_gap g[4];
    assert_int_equal(wl_sampler_gaps(s, g, 4), 1);
    assert_true(g[0].t_end_ns > g[0].t_start_ns);
    static struct wl_sample buf[4096];
    const size_t n = wl_sampler_drain(s, buf, 4096);
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    size_t n_after = 0, n_known = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i].t_ns < g[0].t_end_ns)
            continue;
        if (n_after++ == 0) /* the read that closed the gap: no window yet */
            assert_false(buf[i].power_mask & (1u << d));
        if (!(buf[i].power_mask & (1u << d)))
            continue;
        n_known++;
        /* 10 ms windows of a counter stepped every ~1 ms: +-1 step, and a
         * late step of the writer under load */
        if (buf[i].power_w[d] > 40.0f || buf[i].power_w[d] < 10.0f) {
            fprintf(stderr, "sample %.1f ms after the gap: %.2f W (true 20 W)\n",
                    (double)(buf[i].t_ns - g[0].t_end_ns) / 1e6, (double)buf[i].power_w[d]);
            fail();
        }
        assert_true(buf[i].power_from_ns[d] >= g[0].t_end_ns);
    }
    assert_true(n_known >= 5);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
}

/* Writes base + 20 W x the time since t0 into path every ~1 ms for dur_ns;
 * returns the last value written. */
static uint64_t ramp_20w(const char *path, uint64_t base_uj, uint64_t dur_ns)
{
    const uint64_t t0 = wl_clock_now_ns();
    uint64_t v = base_uj;
    for (uint64_t t = t0; t - t0 < dur_ns; t = wl_clock_now_ns()) {
        v = base_uj + (uint64_t)(20.0 * (double)(t - t0) / 1e3);
        put_uj(path, v);
        wl_clock_sleep_ns(1000000);
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
    make_energy_meter(root, 100000000, path, sizeof path);
    wl_sensor_set *set = open_hwmon(root, 0);
    wl_sampler *s = open_sampler(set, 0);
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    assert_true(wl_sampler_domain(s, d)->counter);
    struct wl_energy_mark m[5];
    assert_int_equal(wl_sampler_mark(s, &m[0]), 0);
    put_uj(path, 102000000);
    assert_int_equal(wl_sampler_mark(s, &m[1]), 0);
    put_uj(path, 100500000); /* reset: less than before */
    assert_int_equal(wl_sampler_mark(s, &m[2]), 0);
    put_uj(path, 101500000);
    assert_int_equal(wl_sampler_mark(s, &m[3]), 0);
    put_uj(path, 50000000); /* below the first value: hwmon reads 0 */
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
    make_energy_meter(root, 100000000, path, sizeof path);
    wl_sensor_set *set = open_hwmon(root, 0);
    wl_sampler *s = open_sampler(set, 5000000);
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    assert_int_equal(wl_sampler_start(s), 0);
    struct wl_energy_window w;
    wl_sampler_window_begin(s, &w);
    const uint64_t t_ramp = wl_clock_now_ns();
    const uint64_t top1 = ramp_20w(path, 100000000, 150000000);
    const uint64_t t_fall = wl_clock_now_ns();
    const uint64_t top2 = ramp_20w(path, 100500000, 150000000); /* reset from ~103 J */
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
    assert_true(g[0].t_start_ns <= t_fall + 2000000 && g[0].t_end_ns >= t_fall);
    assert_true(wl_energy_window_has(&w, d));
    /* never more than the counter rose by; less by at most its rise over
     * the gap (20 W, and up to 20 ms of a late write) */
    const double rose_j = (double)(top1 - 100000000 + top2 - 100500000) / 1e6;
    const double gap_s = (double)(g[0].t_end_ns - g[0].t_start_ns) / 1e9;
    const double got_j = wl_energy_window_j(&w, d);
    if (got_j > rose_j || got_j < rose_j - 20.0 * (gap_s + 0.02)) {
        fprintf(stderr, "counted %.6f J; the counter rose by %.6f J, gap %.1f ms\n", got_j, rose_j,
                gap_s * 1e3);
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
    static const char *const dirs[] = {"class", "class/hwmon", "class/hwmon/hwmon0"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        mkdir(path, 0755);
    }
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/name", root);
    put_text(path, "power_meter\n");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/power1_input", root);
    put_text(path, "80000000\n"); /* uW */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_after_a_read_gap),
        cmocka_unit_test(test_counter_falling_between_marks),
        cmocka_unit_test(test_counter_falling_mid_run),
        cmocka_unit_test(test_constant_power_peaks_at_its_average),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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
        if (buf[i].power_w[d] > 30.0f || buf[i].power_w[d] < 10.0f) {
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_after_a_read_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ctest-labels: timing (asserts on scheduler-dependent rates and durations; see Makefile) */
/* rapl_powercap: a fake powercap tree whose counters a writer thread advances at
 * known powers. Energy windows must match the truth within 0.5 % across
 * counter wraps; intel-rapl-mmio duplicates are skipped and psys kept apart
 * (never double-counted); zones are matched by name; an unreadable energy_uj
 * gives the exact fix; a missing tree says why and how to fix it; a long
 * multibyte root or zone name is cut between characters wherever it is
 * shown. */
#include "fake_machine.h"
#include "sensor_open.h"
#include "test_support.h"

#include "fake_powercap.h"
#include "sample_window.h"
#include "sampler/sampler.h"
#include "sensors/sensor.h"
#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/wattlens.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tests with a FIFO in the tree: a blocking open or read of one hangs for
 * ever, so each such test arms this watchdog (SIGALRM's default action ends
 * the test process: a failure, not a hang). */
#define WATCHDOG_S 20

#define MAX_UJ_SMALL 5000000ull /* 5 J: wraps every 250 ms at 20 W */

static const struct wl_fake_zone zones[] = {
    {"intel-rapl:0", "package-0", 20.0, MAX_UJ_SMALL},
    {"intel-rapl:0:0", "core", 12.0, MAX_UJ_SMALL},
    {"intel-rapl:0:1", "dram", 3.0, 262143328850ull},
    {"intel-rapl:1", "psys", 35.0, 262143328850ull},
    {"intel-rapl-mmio:0", "package-0", 20.0, MAX_UJ_SMALL},
};
#define N_ZONES (sizeof zones / sizeof zones[0])

static void params_for(struct wl_sensor_params *p, const char *root)
{
    wl_sensor_params_default(p);
    p->sysfs_root = root;
    p->backends = WL_BACKEND_RAPL_POWERCAP;
    p->model_use = WL_MODEL_NEVER;
}

/* got within pct % of want, read through the fake: a value out of it fails,
 * or is inconclusive (v) when the writer's longest gap explains the miss
 * (fake_powercap.h). */
static void check_close_pct(struct wl_fake_verdict *v, double got, double want, double pct,
                            const char *what, uint64_t gap_ns, uint64_t allow_gap_ns)
{
    char text[160];
    snprintf(text, sizeof text, "%s (%.3f %% off, limit %.2f %%)", what,
             (got - want) / want * 100.0, pct);
    wl_fake_check_near(v, text, got, want, want * pct / 100.0, gap_ns, allow_gap_ns);
}

/* The longest writer gap under which the mean of the sample powers of d
 * from buf[first] on stays within frac of the truth. The windows tile the
 * time, so a stale value (s_j <= G at the boundary j between windows j and
 * j + 1) adds s_j / W_j to one window's power and takes it from the next:
 * with c_j samples repeating window j's power, the mean of the n samples
 * is off by (1/n) sum_j s_j (c_(j+1) / W_(j+1) - c_j / W_j) (and the ends'
 * terms), whose coefficients sum to 0: at most G x V / (2 n), V the sum of
 * their absolute values. Equal windows leave only the ends' (G / (n W)).
 * A window shorter than min_w_ns, the shortest a correct sampler makes,
 * counts as that long: windows that a bug shrinks must not shrink the
 * allowance with them. */
static uint64_t mean_power_allowance_ns(const struct wl_sample *buf, size_t first, size_t n,
                                        enum wl_domain d, double frac, uint64_t min_w_ns)
{
    double v_per_ns = 0, prev = 0; /* c_j / W_j of the window before */
    size_t count = 0;
    uint64_t from = 0;
    for (size_t i = first; i <= n; i++) {
        if (i < n && count && buf[i].power_from_ns[d] == from) {
            count++;
            continue;
        }
        if (count) { /* window j ends: its coefficient against the one before */
            uint64_t w_ns = wl_test_power_window_ns(buf, i - 1, d);
            if (w_ns == 0)
                return 0; /* a power not known: nothing is allowed, a miss fails */
            if (w_ns < min_w_ns)
                w_ns = min_w_ns;
            const double cw = (double)count / (double)w_ns;
            v_per_ns += fabs(cw - prev);
            prev = cw;
        }
        if (i < n) {
            from = buf[i].power_from_ns[d];
            count = 1;
        }
    }
    v_per_ns += prev; /* the last window's end */
    return v_per_ns > 0 ? (uint64_t)(frac * 2.0 * (double)(n - first) / v_per_ns) : 0;
}

static void test_energy_matches_truth_across_wraps(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    assert_non_null(root);
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, zones, N_ZONES, 1000000);
    assert_non_null(fp);
    struct wl_sensor_params p;
    params_for(&p, root);
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 5000000;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &s), 0);
    wl_fake_powercap_reset_gap(fp);
    assert_int_equal(wl_sampler_start(s), 0);

    struct wl_energy_window w;
    assert_int_equal(wl_sampler_window_begin(s, &w), 0);
    wl_clock_sleep_ns(1500000000ull);
    assert_int_equal(wl_sampler_window_end(s, &w), 0);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(fp);
    double dur_s = (double)wl_energy_window_dur_ns(&w) / 1e9;
    double pkg_j = wl_energy_window_j(&w, WL_DOMAIN_PACKAGE);
    /* more than one wrap happened inside the window (a wrap every 250 ms) */
    assert_true(pkg_j * 1e6 > 2.0 * (double)MAX_UJ_SMALL);
    /* each end may read a value as stale as the writer's longest gap G:
     * 0.5 % of the window allows G = 0.005 x dur (7.5 ms of the 1.5 s
     * slept, which the window's own duration is at least) */
    struct wl_fake_verdict v = {0};
    const uint64_t allow_ns = 1500000000ull / 200;
    check_close_pct(&v, pkg_j, 20.0 * dur_s, 0.5, "package (mmio must not be added)", gap_ns,
                    allow_ns);
    check_close_pct(&v, wl_energy_window_j(&w, WL_DOMAIN_CORE), 12.0 * dur_s, 0.5, "core", gap_ns,
                    allow_ns);
    check_close_pct(&v, wl_energy_window_j(&w, WL_DOMAIN_DRAM), 3.0 * dur_s, 0.5, "dram", gap_ns,
                    allow_ns);
    check_close_pct(&v, wl_energy_window_j(&w, WL_DOMAIN_PSYS), 35.0 * dur_s, 0.5,
                    "psys (never summed with package)", gap_ns, allow_ns);
    check_close_pct(&v, wl_energy_window_avg_w(&w, WL_DOMAIN_PACKAGE), 20.0, 0.5, "package avg W",
                    gap_ns, allow_ns);
    const struct wl_domain_info *di = wl_sampler_domain(s, WL_DOMAIN_PACKAGE);
    assert_true(di->present && di->counter);
    assert_int_equal(di->method, WL_METHOD_COUNTER);
    assert_int_equal(di->n_channels, 1); /* package-0 only, no mmio duplicate */

    /* the sampled power follows the counters too: each sample's power is a
     * delta over ~5 ms (noisy by the writer's 1 ms steps), their mean is not */
    struct wl_sample smp, buf[512];
    assert_int_equal(wl_sampler_snapshot(s, &smp), 0);
    size_t n = wl_sampler_drain(s, buf, 512);
    assert_true(n > 100);
    double sum = 0;
    for (size_t i = 10; i < n; i++)
        sum += buf[i].power_w[WL_DOMAIN_PACKAGE];
    assert_int_equal(wl_sampler_stop(s), 0);
    check_close_pct(
        &v, sum / (double)(n - 10), 20.0, 3.0, "mean sampled package power",
        wl_fake_powercap_max_gap_ns(fp),
        mean_power_allowance_ns(buf, 10, n, WL_DOMAIN_PACKAGE, 0.03, di->power_window_ns / 10 * 9));
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
    wl_fake_verdict_end(&v);
}

static void test_channels_psys_contains_mmio_skipped(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, zones, N_ZONES, 1000000);
    assert_non_null(fp);
    struct wl_sensor_params p;
    params_for(&p, root);
    /* the probe ends at its 12th change (about 12 ms at the fake's 1 ms):
     * a budget of 1 s costs nothing here and absorbs a reader (this thread)
     * descheduled for most of it, which the 25 ms default did not */
    p.period_probe_ns = 1000000000ull;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    wl_fake_powercap_reset_gap(fp);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, &st), 0);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(fp); /* over the period probe */
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 4);
    int n_pkg = 0, n_psys = 0;
    for (unsigned i = 0; i < in->n_channels; i++) {
        const struct wl_sensor_channel *c = &in->ch[i];
        assert_int_equal(c->method, WL_METHOD_COUNTER);
        assert_true(c->flags & WL_CH_ENERGY);
        if (c->domain == WL_DOMAIN_PACKAGE) {
            n_pkg++;
            assert_string_equal(c->name, "package-0");
            assert_false(c->flags & (WL_CH_CONTAINS | WL_CH_PART));
        } else if (c->domain == WL_DOMAIN_PSYS) {
            n_psys++;
            assert_true(c->flags & WL_CH_CONTAINS);
        } else if (c->domain == WL_DOMAIN_CORE) {
            assert_string_equal(c->name, "package-0/core");
            assert_true(c->flags & WL_CH_PART);
        }
    }
    assert_int_equal(n_pkg, 1);
    assert_int_equal(n_psys, 1);
    assert_non_null(strstr(in->source, "intel-rapl-mmio duplicates skipped"));
    /* the writer updates every 1 ms; the measured period says so
     * (generous bound: loaded CI). The probe (1 s, above) needs two changes
     * after its first read, or four: a writer whose longest gap G is at
     * most 12 ms gives 12 in well under 1 s, so only G > 12 ms explains a
     * period not measured (a condition with no size); a reader stalled for
     * under about 0.9 s does not. Measured, the interval lies between the
     * fake's period (less the probe's 100 us step) and G: 0.3..30 ms holds
     * whatever the writer does. */
    const bool measured = in->period_measured;
    const double period_ms = (double)in->update_period_ns / 1e6;
    wl_sensor_close(s);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
    struct wl_fake_verdict v = {0};
    wl_fake_check_cond(&v, "update period measured by the 1 s probe", measured, gap_ns, 12000000);
    if (measured && (period_ms < 0.3 || period_ms > 30.0)) {
        fprintf(stderr, "measured update period %.3f ms, want 0.3..30 ms\n", period_ms);
        fail();
    }
    wl_fake_verdict_end(&v);
}

static void test_zones_matched_by_name_not_number(void **state)
{
    (void)state;
    static const struct wl_fake_zone z[] = {
        {"intel-rapl:0", "package-0", 10.0, MAX_UJ_SMALL},
        {"intel-rapl:0:0", "dram", 2.0, MAX_UJ_SMALL},
        {"intel-rapl:0:1", "core", 6.0, MAX_UJ_SMALL},
        {"intel-rapl:0:2", "mystery", 6.0, MAX_UJ_SMALL},
    };
    char *root = wl_test_tmpdir();
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, z, 4, 1000000);
    struct wl_sensor_params p;
    params_for(&p, root);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 3); /* "mystery" is not guessed at, but listed */
    assert_int_equal(in->n_not_read, 1);
    assert_non_null(strstr(in->not_read[0], "unknown zone name 'mystery'"));
    assert_string_equal(in->ch[1].name, "package-0/dram");
    assert_int_equal(in->ch[1].domain, WL_DOMAIN_DRAM);
    assert_string_equal(in->ch[2].name, "package-0/core");
    assert_int_equal(in->ch[2].domain, WL_DOMAIN_CORE);
    wl_sensor_close(s);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
}

/* open_unreadable's result when root cannot become uid 65534 here (a user
 * namespace that maps root alone, no CAP_SETUID): the check is skipped. */
#define CANNOT_BECOME_NOBODY 1

/* Makes the fake tree under root (which exists) with intel-rapl:0's
 * energy_uj root-only, opens the backend as an unprivileged user (root
 * bypasses file modes; the directories must be 0755) and returns the status
 * through a pipe, or CANNOT_BECOME_NOBODY. */
static int open_unreadable(const char *root, struct wl_sensor_status *st)
{
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, zones, 2, 1000000);
    assert_non_null(fp);
    wl_fake_powercap_stop(fp); /* files stay; no writer needed */
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    assert_int_equal(chmod(path, 0400), 0); /* root-only, as since the CVE-2020-8694 fix */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (geteuid() == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(errno == EPERM || errno == EINVAL ? 5 : 3);
        } else if (chmod(path, 0) != 0) { /* not root: take the owner's right too */
            _exit(4);
        }
        struct wl_sensor_params p;
        params_for(&p, root);
        wl_sensor *s = NULL;
        struct wl_sensor_status cst;
        int rc = wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, &cst);
        ssize_t w = write(fds[1], &rc, sizeof rc);
        w += write(fds[1], &cst.why, sizeof cst.why);
        w += write(fds[1], &cst.fix, sizeof cst.fix);
        (void)w;
        _exit(0);
    }
    close(fds[1]);
    int rc = 0;
    memset(st, 0, sizeof *st);
    ssize_t n = read(fds[0], &rc, sizeof rc);
    n += read(fds[0], st->why, sizeof st->why);
    n += read(fds[0], st->fix, sizeof st->fix);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 5) {
        print_message("cannot become uid 65534 here: skipped\n");
        return CANNOT_BECOME_NOBODY;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "child status 0x%x\n", status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(n, (ssize_t)(sizeof rc + sizeof st->why + sizeof st->fix));
    return rc;
}

static void test_unreadable_energy_uj_gives_fix(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    assert_int_equal(chmod(root, 0755), 0);
    struct wl_sensor_status st;
    int rc = open_unreadable(root, &st);
    if (rc == CANNOT_BECOME_NOBODY) {
        wl_test_rmtree(root);
        free(root);
        wl_test_skip_other_user("cannot become uid 65534 here");
    }
    assert_int_equal(rc, WL_EACCES);
    assert_non_null(strstr(st.why, "intel-rapl:0/energy_uj: permission denied"));
    assert_non_null(strstr(st.fix, "sudo chmod a+r"));
    assert_non_null(strstr(st.fix, "udev rule"));
    assert_non_null(strstr(st.fix, "cap_dac_read_search"));
    assert_non_null(strstr(st.fix, "since the CVE-2020-8694 fix: Linux 5.10, and backported"));
    wl_test_rmtree(root);
    free(root);
}

/* A root longer than the why, the fix or the source keep is cut between
 * characters and ends "..."; what follows it (the file, the zone count)
 * stays. Each pad puts the cuts in another place in the "é"s. */
static void test_long_multibyte_root_is_cut_between_characters(void **state)
{
    (void)state;
    char *tmp = wl_test_tmpdir();
    assert_int_equal(chmod(tmp, 0755), 0);
    for (int pad = 0; pad < 2; pad++) {
        char *root = wl_test_mkdir_multibyte(tmp, pad, 2);
        assert_non_null(root);
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/ok", root);
        mkdir(sub, 0755);
        struct wl_fake_powercap *fp = wl_fake_powercap_start(sub, zones, N_ZONES, 1000000);
        assert_non_null(fp);
        struct wl_sensor_params p;
        params_for(&p, sub);
        p.period_probe_ns = 0;
        wl_sensor *s = NULL;
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
        const char *src = wl_sensor_get_info(s)->source;
        assert_true(wl_utf8_valid(src, strlen(src)));
        assert_non_null(strstr(src, "... (4 zone(s), intel-rapl-mmio duplicates skipped)"));
        wl_sensor_close(s);
        wl_fake_powercap_stop(fp);

        snprintf(sub, sizeof sub, "%s/denied", root);
        mkdir(sub, 0755);
        struct wl_sensor_status st;
        int rc = open_unreadable(sub, &st);
        if (rc == CANNOT_BECOME_NOBODY) {
            free(root);
            wl_test_rmtree(tmp);
            free(tmp);
            wl_test_skip_other_user("cannot become uid 65534 here");
        }
        assert_int_equal(rc, WL_EACCES);
        assert_true(wl_utf8_valid(st.why, strlen(st.why)));
        assert_non_null(strstr(st.why, ".../intel-rapl:0/energy_uj: permission denied"));
        assert_true(wl_utf8_valid(st.fix, strlen(st.fix)));
        assert_non_null(strstr(st.fix, "sudo chmod a+r "));
        free(root);
    }
    wl_test_rmtree(tmp);
    free(tmp);
}

/* Zone names are any bytes: one longer than a channel name, and a sub-zone's
 * parts of "PARENT/NAME" (its parent zone's name, then its own), are cut
 * between characters. */
static void test_long_multibyte_zone_names_are_cut_between_characters(void **state)
{
    (void)state;
    char pkg[128] = "package-", part[128] = "package-x", want[128];
    for (int i = 0; i < 40; i++) /* 88 bytes; 63 end inside the 28th "é" */
        strcat(pkg, "\xC3\xA9");
    for (int i = 0; i < 20; i++) /* 49 bytes; 40 end inside the 16th "é" */
        strcat(part, "\xC3\xA9");
    const struct wl_fake_zone z[] = {
        {"intel-rapl:0", pkg, 10.0, MAX_UJ_SMALL},
        {"intel-rapl:0:0", part, 2.0, MAX_UJ_SMALL},
    };
    char *root = wl_test_tmpdir();
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, z, 2, 1000000);
    assert_non_null(fp);
    struct wl_sensor_params p;
    params_for(&p, root);
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    snprintf(want, sizeof want, "%.62s", pkg); /* "package-" and 27 x "é" */
    assert_string_equal(in->ch[0].name, want);
    /* "package-" and 7 x "é" (22 bytes), "package-x" and 15 x "é" */
    snprintf(want, sizeof want, "%.22s/%.39s", pkg, part);
    assert_string_equal(in->ch[1].name, want);
    wl_sensor_close(s);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
}

static void test_missing_tree_says_why_and_fix(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    struct wl_sensor_params p;
    params_for(&p, root);
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, &st), WL_ENOTSUP);
    assert_null(s);
    assert_non_null(strstr(st.why, "class/powercap does not exist"));
    assert_non_null(strstr(st.fix, "modprobe intel_rapl_msr"));
    assert_non_null(strstr(st.fix, "AMD Zen with Linux 5.11 or later"));
    /* a tree with only an mmio zone that cannot be read: the why names it
     * (it said "no intel-rapl or intel-rapl-tpmi zone", the mmio zone
     * skipped without a word) */
    char d[2048];
    snprintf(d, sizeof d, "%s/class", root);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/class/powercap", root);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/class/powercap/intel-rapl-mmio:0", root);
    mkdir(d, 0755);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "intel-rapl-mmio:0/name"));
    wl_test_rmtree(root);
    free(root);
}

/* A set where no backend opened (no sysfs, /dev or /proc, so not even the
 * CPU-time model) holds no estimate either: it is not "model only", which
 * sensors --json printed as true next to "sensors_in_use": 0. */
static void test_registry_with_no_sensor_is_not_model_only(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.dev_root = root;
    p.proc_root = "/nonexistent";
    p.nvml_lib = "/nonexistent/libnvidia-ml.so.1";
    p.powermetrics = "/nonexistent/powermetrics";
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 0);
    assert_false(wl_sensor_set_model_only(set));
    assert_int_equal(wl_sensor_set_method_mask(set), 0);
    wl_sensor_set_close(set);
    assert_false(wl_sensor_set_model_only(NULL));
    wl_test_rmtree(root);
    free(root);
}

static void test_registry_prefers_powercap_and_skips_other_rapl(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, zones, 2, 1000000);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.nvml_lib = "/nonexistent/libnvidia-ml.so.1";
    p.powermetrics = "/nonexistent/powermetrics";
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    assert_false(wl_sensor_set_model_only(set));
    for (unsigned i = 0; i < wl_sensor_set_status_count(set); i++) {
        const struct wl_sensor_status *st = wl_sensor_set_status(set, i);
        if (strcmp(st->backend, "rapl-powercap") == 0)
            assert_true(st->available);
        else if (strcmp(st->backend, "rapl-perf") == 0 || strcmp(st->backend, "rapl-msr") == 0 ||
                 strcmp(st->backend, "cpu-model") == 0)
            assert_true(st->skipped && !st->available && st->why[0]);
        else
            assert_true(!st->available && st->why[0]);
    }
    wl_sensor_set_close(set);
    wl_fake_powercap_stop(fp);
    wl_test_rmtree(root);
    free(root);
}

static void set_energy(const char *root, const char *dir, uint64_t energy);

/* A static tree (no writer): zone dir -> name, max_energy_range_uj,
 * energy_uj; NULL name or energy leaves the file out. */
static void put_zone(const char *root, const char *dir, const char *name, uint64_t max,
                     uint64_t energy)
{
    char path[2048], text[64];
    snprintf(path, sizeof path, "class/powercap/%s", dir);
    wl_test_mkdirs(root, path);
    if (name) {
        snprintf(path, sizeof path, "%s/class/powercap/%s/name", root, dir);
        snprintf(text, sizeof text, "%s\n", name);
        assert_int_equal(wl_test_write_file(path, text, strlen(text)), 0);
    }
    snprintf(path, sizeof path, "%s/class/powercap/%s/max_energy_range_uj", root, dir);
    snprintf(text, sizeof text, "%llu\n", (unsigned long long)max);
    assert_int_equal(wl_test_write_file(path, text, strlen(text)), 0);
    set_energy(root, dir, energy);
}

static void set_energy(const char *root, const char *dir, uint64_t energy)
{
    char path[2048], text[64];
    snprintf(path, sizeof path, "%s/class/powercap/%s/energy_uj", root, dir);
    snprintf(text, sizeof text, "%llu\n", (unsigned long long)energy);
    assert_int_equal(wl_test_write_file(path, text, strlen(text)), 0);
}

/* Replaces a zone's file with a FIFO (or a directory). */
static void replace_file(const char *root, const char *dir, const char *file, bool fifo)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/%s/%s", root, dir, file);
    unlink(path);
    if (fifo)
        assert_int_equal(mkfifo(path, 0644), 0);
    else
        assert_int_equal(mkdir(path, 0755), 0);
}

static bool has_not_read(const struct wl_sensor_info *in, const char *a, const char *b)
{
    for (unsigned i = 0; i < in->n_not_read && i < WL_SENSOR_MAX_NOT_READ; i++) {
        if (strstr(in->not_read[i], a) && strstr(in->not_read[i], b))
            return true;
    }
    return false;
}

/* A counter reset mid-run (energy_uj set back to a small value) is not a
 * wrap: as one it would add ~262 kJ in microseconds. The read that sees it
 * succeeds: it counts the reset as a discontinuity (n_discontinuities, disc:
 * the sampler records a gap), nothing is added, and counting goes on from
 * the new value. A wrap is exact: max_energy_range_uj is the largest value
 * the counter shows, so max -> 0 is one step. */
static void test_counter_reset_is_a_gap_not_a_wrap(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 262143328850ull, 5000000000ull);
    struct wl_sensor_params p;
    params_for(&p, root);
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    struct wl_sensor_reading r;
    set_energy(root, "intel-rapl:0", 5002000000ull); /* a rise is never a discontinuity */
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 2000000);
    assert_int_equal(r.v[0].n_discontinuities, 0);
    set_energy(root, "intel-rapl:0", 1000); /* reset */
    assert_int_equal(wl_sensor_read(s, &r), 0); /* good from here on */
    assert_int_equal(r.v[0].energy_uj, 2000000);
    assert_int_equal(r.v[0].n_discontinuities, 1);
    assert_int_equal(r.v[0].disc, WL_DISC_BAD_WRAP);
    set_energy(root, "intel-rapl:0", 1001000); /* +1 J after the reset */
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 3000000); /* the jump is not in it */
    assert_int_equal(r.v[0].n_discontinuities, 1);
    assert_int_equal(r.v[0].disc, WL_DISC_NONE);
    /* a real wrap near the top of the range still counts, exactly: 499,999
     * up to the top, one to 0, 500,000 after (the old code took the top as
     * a modulus and lost one) */
    set_energy(root, "intel-rapl:0", 262143328850ull - 499999);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    /* getting there at once is a jump no draw explains: a gap, not energy */
    assert_int_equal(r.v[0].disc, WL_DISC_BAD_RISE);
    assert_int_equal(r.v[0].energy_uj, 3000000);
    uint64_t before = r.v[0].energy_uj;
    set_energy(root, "intel-rapl:0", 500000);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj - before, 1000000);
    assert_int_equal(r.v[0].disc, WL_DISC_NONE);
    set_energy(root, "intel-rapl:0", 262143328850ull); /* the top itself is in range */
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].disc, WL_DISC_BAD_RISE); /* a jump again */
    before = r.v[0].energy_uj;
    set_energy(root, "intel-rapl:0", 0);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj - before, 1);
    assert_int_equal(r.v[0].n_discontinuities, 3); /* the reset and the two jumps */
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* A counter above max_energy_range_uj cannot be unwrapped: at open the zone
 * is not used (and listed), at a read it is a discontinuity, never the
 * underflowing "max - last" step. Once: the range is then taken as wrong,
 * so the counter staying there is no discontinuity and its rises there are
 * counted (the old code saw one at every read, its energy counted as 0
 * from there on); a fall from above the range is one (where it wraps is
 * unknown), and a decrease in range is still a wrap when it can be. */
static void test_counter_above_its_range_is_not_a_wrap(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 1000000, 500000);
    put_zone(root, "intel-rapl:0:0", "core", 1000000, 3000000); /* above at open */
    struct wl_sensor_params p;
    params_for(&p, root);
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_int_equal(in->n_not_read, 1);
    assert_true(has_not_read(in, "intel-rapl:0:0", "above max_energy_range_uj"));
    assert_non_null(strstr(in->source, "PARTIAL"));
    struct wl_sensor_reading r;
    set_energy(root, "intel-rapl:0", 900000);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 400000);
    set_energy(root, "intel-rapl:0", 5000000); /* above the range */
    assert_int_equal(wl_sensor_read(s, &r), 0); /* good from here on */
    assert_int_equal(r.v[0].n_discontinuities, 1);
    assert_int_equal(r.v[0].disc, WL_DISC_ABOVE_RANGE);
    assert_int_equal(wl_sensor_read(s, &r), 0); /* still there: nothing new */
    assert_int_equal(r.v[0].n_discontinuities, 1);
    assert_int_equal(r.v[0].disc, WL_DISC_NONE);
    set_energy(root, "intel-rapl:0", 5300000); /* rising above the range: counted */
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 700000);
    assert_int_equal(r.v[0].n_discontinuities, 1);
    set_energy(root, "intel-rapl:0", 100); /* back in range, from above it */
    assert_int_equal(wl_sensor_read(s, &r), 0); /* good from here on */
    assert_int_equal(r.v[0].disc, WL_DISC_FELL);
    set_energy(root, "intel-rapl:0", 200100);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 900000);
    assert_int_equal(r.v[0].n_discontinuities, 2);
    set_energy(root, "intel-rapl:0", 999999);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    set_energy(root, "intel-rapl:0", 5); /* a wrap: 1 to the top, 1 to 0, 5 */
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 900000 + 799899 + 7);
    assert_int_equal(r.v[0].n_discontinuities, 2);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* One unreadable zone (energy_uj a directory: EISDIR; a FIFO as a name)
 * is skipped with its real reason; the readable ones are kept. */
static void test_unreadable_zone_is_skipped_not_the_backend(void **state)
{
    (void)state;
    alarm(WATCHDOG_S);
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 262143328850ull, 1000);
    put_zone(root, "intel-rapl:0:0", "core", 262143328850ull, 1000);
    put_zone(root, "intel-rapl:0:1", "dram", 262143328850ull, 1000);
    replace_file(root, "intel-rapl:0:1", "energy_uj", false);
    replace_file(root, "intel-rapl:0:0", "name", true);
    struct wl_sensor_params p;
    params_for(&p, root);
    p.period_probe_ns = 0;
    wl_sensor *s = wl_test_open_backend(WL_BACKEND_RAPL_POWERCAP, &p);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_int_equal(in->n_not_read, 2);
    assert_true(has_not_read(in, "intel-rapl:0:1 (dram)/energy_uj", "Is a directory"));
    assert_true(has_not_read(in, "intel-rapl:0:0/name", "FIFO"));
    assert_non_null(strstr(in->source, "PARTIAL: 2 found but not read"));
    wl_sensor_close(s);

    /* through the registry: RAPL is used, not the CPU model */
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    assert_int_equal(wl_sensor_set_n_not_read(set), 2);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
    alarm(0);
}

/* A FIFO as energy_uj does not hang the open: the zone is refused as not a
 * regular file (and with no other zone, the backend says why). */
static void test_fifo_energy_uj_does_not_hang(void **state)
{
    (void)state;
    alarm(WATCHDOG_S);
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", 262143328850ull, 1000);
    replace_file(root, "intel-rapl:0", "energy_uj", true);
    struct wl_sensor_params p;
    params_for(&p, root);
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(
        strstr(st.why, "intel-rapl:0 (package-0)/energy_uj: a FIFO, not a regular file"));
    wl_test_rmtree(root);
    free(root);
    alarm(0);
}

/* 20 packages x 4 zones: more than one sensor's channels. Every package is
 * read (sorted by number, packages before sub-zones), and what is left out
 * is listed and makes the sensor partial. */
static void test_zones_over_the_limit_are_listed_packages_kept(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    static const char *subs[] = {"core", "uncore", "dram"};
    for (int pk = 19; pk >= 0; pk--) {
        char dir[64], name[64];
        snprintf(dir, sizeof dir, "intel-rapl:%d", pk);
        snprintf(name, sizeof name, "package-%d", pk);
        put_zone(root, dir, name, 262143328850ull, 1000);
        for (int k = 0; k < 3; k++) {
            snprintf(dir, sizeof dir, "intel-rapl:%d:%d", pk, k);
            put_zone(root, dir, subs[k], 262143328850ull, 1000);
        }
    }
    struct wl_sensor_params p;
    params_for(&p, root);
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, WL_SENSOR_MAX_CHANNELS);
    assert_int_equal(in->n_not_read, 80 - WL_SENSOR_MAX_CHANNELS);
    for (int pk = 0; pk < 20; pk++) {
        char name[64];
        snprintf(name, sizeof name, "package-%d", pk);
        bool found = false;
        for (unsigned i = 0; i < in->n_channels; i++)
            found = found || strcmp(in->ch[i].name, name) == 0;
        if (!found)
            fprintf(stderr, "%s not read\n", name);
        assert_true(found);
    }
    assert_string_equal(in->ch[0].name, "package-0");
    assert_true(has_not_read(in, "intel-rapl:", "over the limit"));
    assert_non_null(strstr(in->source, "PARTIAL"));
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* A class/powercap that cannot be opened for another reason than not
 * existing (here a symbolic link loop) is not called missing. */
static void test_powercap_symlink_loop_is_not_missing(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    snprintf(path, sizeof path, "%s/class", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/class/powercap", root);
    assert_int_equal(symlink("powercap", path), 0);
    struct wl_sensor_params p;
    params_for(&p, root);
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, &st), WL_ENOTSUP);
    assert_null(strstr(st.why, "does not exist"));
    assert_non_null(strstr(st.why, strerror(ELOOP)));
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_energy_matches_truth_across_wraps),
        cmocka_unit_test(test_channels_psys_contains_mmio_skipped),
        cmocka_unit_test(test_zones_matched_by_name_not_number),
        cmocka_unit_test(test_unreadable_energy_uj_gives_fix),
        cmocka_unit_test(test_long_multibyte_root_is_cut_between_characters),
        cmocka_unit_test(test_long_multibyte_zone_names_are_cut_between_characters),
        cmocka_unit_test(test_missing_tree_says_why_and_fix),
        cmocka_unit_test(test_registry_prefers_powercap_and_skips_other_rapl),
        cmocka_unit_test(test_registry_with_no_sensor_is_not_model_only),
        cmocka_unit_test(test_counter_reset_is_a_gap_not_a_wrap),
        cmocka_unit_test(test_counter_above_its_range_is_not_a_wrap),
        cmocka_unit_test(test_unreadable_zone_is_skipped_not_the_backend),
        cmocka_unit_test(test_fifo_energy_uj_does_not_hang),
        cmocka_unit_test(test_zones_over_the_limit_are_listed_packages_kept),
        cmocka_unit_test(test_powercap_symlink_loop_is_not_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

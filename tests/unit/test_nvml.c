/* ctest-labels: timing (sums within 10 % over 300 ms, a fake reset 100 ms after init) */
/* nvml: a fake libnvidia-ml built by the test suite (tests/fakes/fake_nvml.c)
 * is loaded through the library-path override. Energy comes from the counter
 * per GPU; without the counter, instant power (sampled) and then average power
 * (vendor estimate) are used and labelled so; a missing symbol, an NVML error
 * code or a GPU lost mid-run degrade with clear messages; a long multibyte
 * GPU name or library path is cut between characters. */
#include "sensor_open.h"
#include "test_support.h"

#include "sampler/sampler.h"
#include "sensors/sensor.h"
#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/wattlens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void reset_env(void)
{
    unsetenv("FAKE_NVML_GPUS");
    unsetenv("FAKE_NVML_INIT_ERROR");
    unsetenv("FAKE_NVML_ENERGY_ERROR");
    unsetenv("FAKE_NVML_FIELDS_ERROR");
    unsetenv("FAKE_NVML_FAIL_AFTER_MS");
    unsetenv("FAKE_NVML_NAME");
    unsetenv("FAKE_NVML_RESET_AFTER_MS");
    unsetenv("FAKE_NVML_SLOW_FILE");
    unsetenv("FAKE_NVML_LOST_FILE");
    unsetenv("FAKE_NVML_LOST_GPU");
}

static void params_for(struct wl_sensor_params *p, const char *lib)
{
    wl_sensor_params_default(p);
    p->nvml_lib = lib;
    p->backends = WL_BACKEND_NVML;
    p->model_use = WL_MODEL_NEVER;
    p->period_probe_ns = 5000000;
}

static void assert_near(double got, double want, double tol, const char *what)
{
    if (got < want - tol || got > want + tol) {
        fprintf(stderr, "%s: got %.6f, want %.6f +- %.6f\n", what, got, want, tol);
        fail();
    }
}

static void test_energy_from_counter_per_gpu(void **state)
{
    (void)state;
    reset_env();
    setenv("FAKE_NVML_GPUS", "3", 1);
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    wl_sensor *s = wl_test_open_backend(WL_BACKEND_NVML, &p);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 3);
    for (unsigned i = 0; i < 3; i++) {
        char name[16], label[16];
        snprintf(name, sizeof name, "gpu%u", i);
        snprintf(label, sizeof label, "Fake GPU %u", i);
        assert_string_equal(in->ch[i].name, name);
        assert_string_equal(in->ch[i].label, label);
        assert_int_equal(in->ch[i].domain, WL_DOMAIN_GPU);
        assert_int_equal(in->ch[i].method, WL_METHOD_COUNTER);
        assert_true(in->ch[i].flags & WL_CH_ENERGY);
        assert_int_equal(in->ch[i].index, (int)i);
    }
    struct wl_sensor_reading a, b;
    assert_int_equal(wl_sensor_read(s, &a), 0);
    wl_clock_sleep_ns(200000000);
    assert_int_equal(wl_sensor_read(s, &b), 0);
    /* the truth lies between the read brackets: tolerance = their widths */
    double dt =
        ((double)(b.t_after_ns + b.t_before_ns) - (double)(a.t_after_ns + a.t_before_ns)) / 2e9;
    double slack = (double)(a.t_after_ns - a.t_before_ns + b.t_after_ns - b.t_before_ns) / 1e9;
    for (unsigned i = 0; i < 3; i++) {
        double w = 50.0 * (i + 1);
        /* counter since open (offset removed), per GPU */
        double e = (double)(b.v[i].energy_uj - a.v[i].energy_uj) / 1e6;
        assert_near(e, w * dt, w * slack + 0.002, "per-GPU counter energy");
        assert_near(b.v[i].power_w, w, 1e-9, "instant power");
        assert_true(b.v[i].valid & WL_CH_GPU_INFO);
        assert_near(b.v[i].util_pct, 37, 0, "utilisation");
        assert_near(b.v[i].temp_c, 55, 0, "temperature");
        assert_true(b.v[i].mem_used_b == (1ull << 30));
    }
    wl_sensor_close(s);
}

static void test_sampler_window_sums_gpus(void **state)
{
    (void)state;
    reset_env();
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, NULL, &s), 0);
    struct wl_energy_window w;
    wl_sampler_window_begin(s, &w);
    wl_clock_sleep_ns(300000000);
    wl_sampler_window_end(s, &w);
    double dur = (double)wl_energy_window_dur_ns(&w) / 1e9;
    /* both GPUs (50 + 100 W; one alone is a third or two thirds off). The
     * fake's counter follows its own clock at each call, so a preemption
     * between the sampler's time stamp and its NVML call (a few ms on a
     * loaded 2-core machine running sanitizer builds) moves the figure:
     * +-10 % leaves 30 ms, and still tells one GPU from two */
    assert_near(wl_energy_window_j(&w, WL_DOMAIN_GPU), 150.0 * dur, 150.0 * dur * 0.10,
                "GPU domain energy");
    assert_true(wl_sampler_domain(s, WL_DOMAIN_GPU)->counter);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
}

static void test_fallbacks_are_labelled(void **state)
{
    (void)state;
    reset_env();
    setenv("FAKE_NVML_ENERGY_ERROR", "3", 1); /* Not Supported (pre-Volta) */
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->ch[0].method, WL_METHOD_SAMPLED);
    assert_false(in->ch[0].flags & WL_CH_ENERGY);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_near(r.v[1].power_w, 100.0, 1e-9, "instant power");
    wl_sensor_close(s);

    setenv("FAKE_NVML_FIELDS_ERROR", "3", 1);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, NULL), 0);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->ch[0].method, WL_METHOD_VENDOR_ESTIMATE);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_near(r.v[0].power_w, 50.0, 1e-9, "average power");
    wl_sensor_close(s);

    /* power-only GPUs are integrated by the sampler */
    unsetenv("FAKE_NVML_FIELDS_ERROR");
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 5000000;
    wl_sampler *smp = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &smp), 0);
    assert_false(wl_sampler_domain(smp, WL_DOMAIN_GPU)->counter);
    assert_int_equal(wl_sampler_domain(smp, WL_DOMAIN_GPU)->method, WL_METHOD_SAMPLED);
    assert_int_equal(wl_sampler_start(smp), 0);
    struct wl_energy_window w;
    wl_sampler_window_begin(smp, &w);
    wl_clock_sleep_ns(300000000);
    wl_sampler_window_end(smp, &w);
    double dur = (double)wl_energy_window_dur_ns(&w) / 1e9;
    assert_near(wl_energy_window_j(&w, WL_DOMAIN_GPU), 150.0 * dur, 150.0 * dur * 0.01,
                "integrated GPU energy");
    wl_sampler_close(smp);
    wl_sensor_set_close(set);
}

static void test_missing_symbol_and_error_codes_degrade_clearly(void **state)
{
    (void)state;
    reset_env();
    struct wl_sensor_params p;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    params_for(&p, FAKE_NVML_NOCOUNT_LIB);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, &st), WL_ENOTSUP);
    assert_null(s);
    assert_non_null(strstr(st.why, "lacks the required symbol nvmlDeviceGetCount_v2"));
    assert_non_null(strstr(st.fix, "update the NVIDIA driver"));

    params_for(&p, FAKE_NVML_LIB);
    setenv("FAKE_NVML_INIT_ERROR", "9", 1);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "nvmlInit failed: Driver Not Loaded (NVML error 9)"));
    assert_non_null(strstr(st.fix, "NVIDIA driver"));
    setenv("FAKE_NVML_INIT_ERROR", "4", 1);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, &st), WL_EACCES);
    assert_non_null(strstr(st.why, "Insufficient Permissions"));
    unsetenv("FAKE_NVML_INIT_ERROR");

    setenv("FAKE_NVML_GPUS", "0", 1);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "no GPU"));
    unsetenv("FAKE_NVML_GPUS");

    params_for(&p, "/nonexistent/libnvidia-ml.so.1");
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "cannot load /nonexistent/libnvidia-ml.so.1"));
    assert_non_null(strstr(st.fix, "WATTLENS_NVML_LIB"));

    /* the environment override is honoured too */
    setenv("WATTLENS_NVML_LIB", FAKE_NVML_LIB, 1);
    params_for(&p, NULL);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, &st), 0);
    wl_sensor_close(s);
    unsetenv("WATTLENS_NVML_LIB");
}

static void test_gpu_lost_mid_run_is_a_gap(void **state)
{
    (void)state;
    reset_env();
    setenv("FAKE_NVML_FAIL_AFTER_MS", "250", 1);
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 5000000;
    wl_sampler *s = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &s), 0);
    assert_int_equal(wl_sampler_start(s), 0);
    wl_clock_sleep_ns(400000000);
    struct wl_energy_mark m;
    wl_sampler_mark(s, &m);
    assert_false(m.valid_mask & (1u << WL_DOMAIN_GPU));
    wl_sampler_stop(s);
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    assert_int_equal(st.n_gaps, 1);
    struct wl_sampler_gap g;
    assert_int_equal(wl_sampler_gaps(s, &g, 1), 1);
    assert_int_equal(g.t_end_ns, 0); /* still failing at the end */
    /* the sampler went on sampling after the GPU was lost */
    assert_true(st.t_last_ns > g.t_start_ns + 50000000ull);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    reset_env();
}

/* One GPU of three that is lost (fallen off the bus, an XID) no longer
 * fails the read of every GPU: the read succeeds, the lost GPU is not read
 * this time (no energy or power in valid, its values 0), the others
 * are; once back it is read again. Before, the whole read failed, and with
 * it every GPU's figures for the time. */
static void test_one_lost_gpu_leaves_the_others_read(void **state)
{
    (void)state;
    reset_env();
    char *dir = wl_test_tmpdir();
    char lost[2048];
    snprintf(lost, sizeof lost, "%s/lost", dir);
    setenv("FAKE_NVML_GPUS", "3", 1);
    setenv("FAKE_NVML_LOST_FILE", lost, 1);
    setenv("FAKE_NVML_LOST_GPU", "1", 1);
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, &st), 0);
    assert_int_equal(wl_sensor_get_info(s)->n_channels, 3);
    struct wl_sensor_reading a, b;
    /* read until GPU 1 has counted some energy since the open (at 100 W
     * that is a mJ in 10 us; a read right after the open can see 0), so
     * that its 0 below is the failed read's and not its last total */
    assert_int_equal(wl_sensor_read(s, &a), 0);
    for (int i = 0; i < 2000 && a.v[1].energy_uj == 0; i++) {
        wl_clock_sleep_ns(1000000);
        assert_int_equal(wl_sensor_read(s, &a), 0);
    }
    for (unsigned i = 0; i < 3; i++)
        assert_true(a.v[i].valid & WL_CH_ENERGY);
    assert_int_equal(wl_test_write_file(lost, "", 0), 0);
    assert_int_equal(wl_sensor_read(s, &b), 0);
    assert_int_equal(b.n_channels, 3);
    assert_true(b.v[0].valid & WL_CH_ENERGY);
    assert_true(b.v[2].valid & WL_CH_ENERGY);
    assert_int_equal(b.v[1].valid & (WL_CH_ENERGY | WL_CH_POWER), 0);
    assert_true(a.v[1].energy_uj > 0);
    assert_true(b.v[1].energy_uj == 0); /* not read: its values 0 */
    assert_true(b.v[0].energy_uj >= a.v[0].energy_uj);
    unlink(lost);
    assert_int_equal(wl_sensor_read(s, &b), 0);
    assert_true(b.v[1].valid & WL_CH_ENERGY);
    assert_true(b.v[1].energy_uj >= a.v[1].energy_uj);
    wl_sensor_close(s);
    wl_test_rmtree(dir);
    free(dir);
    reset_env();
}

/* A GPU name longer than the label, from a library that fills the whole
 * buffer it is given and adds no NUL: the label is cut between characters
 * and ends inside the label. A library path longer than the source keeps
 * is cut between characters and ends "...", the GPU count after it kept. */
static void test_long_multibyte_name_and_path_are_cut_between_characters(void **state)
{
    (void)state;
    reset_env();
    char name[256] = "NVIDIA ", want[256] = "NVIDIA ";
    for (int i = 0; i < 40; i++) /* 127 bytes */
        strcat(name, "\xE2\x82\xAC");
    for (int i = 0; i < 18; i++) /* the 63 bytes of the label end inside the 19th euro sign */
        strcat(want, "\xE2\x82\xAC");
    setenv("FAKE_NVML_NAME", name, 1);
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    for (unsigned i = 0; i < 2; i++) {
        assert_true(memchr(in->ch[i].label, '\0', sizeof in->ch[i].label) != NULL);
        assert_string_equal(in->ch[i].label, want);
    }
    wl_sensor_close(s);
    unsetenv("FAKE_NVML_NAME");

    char *tmp = wl_test_tmpdir();
    for (int pad = 0; pad < 2; pad++) {
        char *dir = wl_test_mkdir_multibyte(tmp, pad, 1);
        assert_non_null(dir);
        char lib[1024];
        snprintf(lib, sizeof lib, "%s/libnvidia-ml.so.1", dir);
        assert_int_equal(symlink(FAKE_NVML_LIB, lib), 0);
        params_for(&p, lib);
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, NULL), 0);
        const char *src = wl_sensor_get_info(s)->source;
        assert_true(wl_utf8_valid(src, strlen(src)));
        assert_non_null(strstr(src, "... (2 GPU(s))"));
        wl_sensor_close(s);
        free(dir);
    }
    wl_test_rmtree(tmp);
    free(tmp);
}

/* More GPUs than channels: the first WL_SENSOR_MAX_CHANNELS are read, the
 * rest counted in not_read and the source says PARTIAL. */
static void test_gpus_over_the_limit_are_listed(void **state)
{
    (void)state;
    reset_env();
    char n[16];
    snprintf(n, sizeof n, "%d", WL_SENSOR_MAX_CHANNELS + 6);
    setenv("FAKE_NVML_GPUS", n, 1);
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, WL_SENSOR_MAX_CHANNELS);
    assert_int_equal(in->n_not_read, 6);
    char want[64];
    snprintf(want, sizeof want, "gpu%d and the ones after it", WL_SENSOR_MAX_CHANNELS);
    assert_non_null(strstr(in->not_read[0], want));
    assert_non_null(strstr(in->source, "PARTIAL: 6 found but not read"));
    wl_sensor_close(s);
    reset_env();
}

/* Twelve GPUs, none with an energy or power reading (every device call
 * fails): the backend is not used, and its why gives the first GPU's reason
 * and the count of the others. Only the first WL_SENSOR_MAX_NOT_READ (8)
 * reasons are kept: the old why quoted not_read[n_not_read - 1], the 12th,
 * past the array (freed heap text in `wattlens sensors`; ASan: a heap
 * buffer overflow). */
static void test_more_unreadable_gpus_than_reasons_kept(void **state)
{
    (void)state;
    reset_env();
    setenv("FAKE_NVML_GPUS", "12", 1);
    setenv("FAKE_NVML_FAIL_AFTER_MS", "0", 1);
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, &st), WL_ENOTSUP);
    assert_null(s);
    assert_true(wl_utf8_valid(st.why, strlen(st.why)));
    assert_string_equal(st.why, "no GPU gives energy or power; gpu0: no energy or power reading "
                                "(and 11 more GPUs not read)");
    reset_env();
}

/* The total-energy counter restarting (the driver reloaded) is a gap, not
 * a fall of the total: gpu1's counter goes from 1000000 mJ to near 0. */
static void test_energy_counter_reset_is_a_gap(void **state)
{
    (void)state;
    reset_env();
    setenv("FAKE_NVML_RESET_AFTER_MS", "100", 1);
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_NVML, &p, &s, NULL), 0);
    struct wl_sensor_reading a, b, c;
    assert_int_equal(wl_sensor_read(s, &a), 0);
    wl_clock_sleep_ns(150000000);
    assert_int_equal(wl_sensor_read(s, &b), 0); /* good from here on */
    wl_clock_sleep_ns(20000000);
    assert_int_equal(wl_sensor_read(s, &c), 0);
    assert_true(c.v[1].energy_uj >= a.v[1].energy_uj);
    assert_int_equal(c.v[1].n_discontinuities, 1);
    assert_int_equal(b.v[1].disc, WL_DISC_FELL); /* a 64-bit counter: never a wrap */
    assert_int_equal(c.v[1].disc, WL_DISC_NONE);
    wl_sensor_close(s);
    reset_env();
}

/* A sample is tagged with the phase at its own time (the middle of its
 * reads), also when the reads are slow and the phase changes during them:
 * the old code read the phase after the reads, so a sample whose reads
 * began (and whose time lay) before a change carried the new phase. With
 * 20 ms reads every ~5 ms, most of eight changes land inside a read. No
 * clock bound: each sample's tag is compared with the change times. */
static void test_a_phase_change_during_slow_reads_tags_by_time(void **state)
{
    (void)state;
    reset_env();
    char *dir = wl_test_tmpdir();
    char slow[1024];
    snprintf(slow, sizeof slow, "%s/slow", dir);
    setenv("FAKE_NVML_GPUS", "1", 1);
    setenv("FAKE_NVML_SLOW_FILE", slow, 1);
    struct wl_sensor_params p;
    params_for(&p, FAKE_NVML_LIB);
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    sp.interval_ns = 5000000;
    wl_sampler *smp = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &smp), 0);
    FILE *f = fopen(slow, "w"); /* reads are slow from here on */
    assert_non_null(f);
    fclose(f);
    enum { N_CHANGES = 8 };
    uint64_t t0[N_CHANGES], t1[N_CHANGES]; /* each change lies between */
    wl_sampler_set_phase(smp, 1);
    assert_int_equal(wl_sampler_start(smp), 0);
    for (int i = 0; i < N_CHANGES; i++) {
        wl_clock_sleep_ns(37000000);
        t0[i] = wl_clock_now_ns();
        wl_sampler_set_phase(smp, (uint32_t)i + 2);
        t1[i] = wl_clock_now_ns();
    }
    wl_clock_sleep_ns(37000000);
    assert_int_equal(wl_sampler_stop(smp), 0);
    unlink(slow);
    static struct wl_sample buf[4096];
    const size_t n = wl_sampler_drain(smp, buf, 4096);
    assert_true(n > 4);
    size_t n_checked = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t want = 1;
        bool unsure = false;
        for (int c = 0; c < N_CHANGES; c++) {
            if (buf[i].t_ns >= t1[c])
                want = (uint32_t)c + 2;
            else if (buf[i].t_ns >= t0[c])
                unsure = true; /* during the change itself */
        }
        if (unsure)
            continue;
        n_checked++;
        if (buf[i].phase != want) {
            fprintf(stderr, "sample at %.3f ms: phase %u, want %u\n",
                    (double)(int64_t)(buf[i].t_ns - t0[0]) / 1e6, (unsigned)buf[i].phase,
                    (unsigned)want);
            fail();
        }
    }
    assert_true(n_checked > 4);
    wl_sampler_close(smp);
    wl_sensor_set_close(set);
    wl_test_rmtree(dir);
    free(dir);
    reset_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_energy_from_counter_per_gpu),
        cmocka_unit_test(test_sampler_window_sums_gpus),
        cmocka_unit_test(test_fallbacks_are_labelled),
        cmocka_unit_test(test_missing_symbol_and_error_codes_degrade_clearly),
        cmocka_unit_test(test_gpu_lost_mid_run_is_a_gap),
        cmocka_unit_test(test_one_lost_gpu_leaves_the_others_read),
        cmocka_unit_test(test_long_multibyte_name_and_path_are_cut_between_characters),
        cmocka_unit_test(test_gpus_over_the_limit_are_listed),
        cmocka_unit_test(test_energy_counter_reset_is_a_gap),
        cmocka_unit_test(test_more_unreadable_gpus_than_reasons_kept),
        cmocka_unit_test(test_a_phase_change_during_slow_reads_tags_by_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

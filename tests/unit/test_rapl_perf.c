/* rapl_perf: parsing of the perf_event power PMU description from fake sysfs
 * files (type, cpumask, events with .scale/.unit), and a clear failure when the
 * PMU cannot count (this machine has no RAPL PMU). */
#include "test_support.h"

#include "sensors/rapl_perf.h"
#include "sensors/sensor.h"
#include "wattlens/wattlens.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Skips the calling test where system-wide software events cannot count
 * here (why: the backend's reason), removing its tree root and freeing it
 * first. */
static void skip_without_perf(char *root, const char *why)
{
    fprintf(stderr, "SKIP: software perf events cannot count here: %s\n", why);
    wl_test_rmtree(root);
    free(root);
    skip();
}

/* wl_sensor_open_backend(rapl-perf, p); skip_without_perf(root, its why)
 * where it does not open. */
static wl_sensor *open_perf_or_skip(const struct wl_sensor_params *p, char *root)
{
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    if (wl_sensor_open_backend(WL_BACKEND_RAPL_PERF, p, &s, &st) != 0)
        skip_without_perf(root, st.why);
    return s;
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[2048];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    assert_int_equal(wl_test_write_file(path, text, strlen(text)), 0);
}

/* Builds ROOT/bus/event_source/devices/power like a two-socket Intel server. */
static char *make_pmu(char *root, char *pmu, size_t size)
{
    const char *parts[] = {"bus", "bus/event_source", "bus/event_source/devices",
                           "bus/event_source/devices/power",
                           "bus/event_source/devices/power/events"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(pmu, size, "%s/%s", root, parts[i]);
        mkdir(pmu, 0755);
    }
    snprintf(pmu, size, "%s/bus/event_source/devices/power", root);
    put(pmu, "type", "23\n");
    put(pmu, "cpumask", "0,18\n");
    static const char *ev[][2] = {{"energy-pkg", "event=0x02"},
                                  {"energy-cores", "event=0x01"},
                                  {"energy-ram", "event=0x03"},
                                  {"energy-psys", "event=0x05"}};
    char name[256];
    for (size_t i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "events/%s", ev[i][0]);
        put(pmu, name, ev[i][1]);
        snprintf(name, sizeof name, "events/%s.scale", ev[i][0]);
        put(pmu, name, "2.3283064365386962890625e-10\n");
        snprintf(name, sizeof name, "events/%s.unit", ev[i][0]);
        put(pmu, name, "Joules\n");
    }
    put(pmu, "events/cycles", "event=0x3c"); /* not an energy event: ignored */
    return pmu;
}

static void test_cpulist_parsing(void **state)
{
    (void)state;
    int cpus[16];
    assert_int_equal(wl__perf_parse_cpulist("0", cpus, 16), 1);
    assert_int_equal(wl__perf_parse_cpulist("0,36\n", cpus, 16), 2);
    assert_int_equal(cpus[1], 36);
    assert_int_equal(wl__perf_parse_cpulist("0-3,8", cpus, 16), 5);
    assert_int_equal(cpus[4], 8);
    assert_int_equal(wl__perf_parse_cpulist("", cpus, 16), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_cpulist("a", cpus, 16), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_cpulist("3-1", cpus, 16), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_cpulist("0-100", cpus, 16), WL_EFORMAT); /* too many */
    /* only what the kernel writes: no trailing comma, sign, space or second line */
    assert_int_equal(wl__perf_parse_cpulist("0,", cpus, 16), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_cpulist("+1", cpus, 16), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_cpulist(" 1", cpus, 16), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_cpulist("0\n1", cpus, 16), WL_EFORMAT);
}

static void test_pmu_description_parses(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char pmu[2048];
    make_pmu(root, pmu, sizeof pmu);
    struct wl_perf_pmu d;
    struct wl_errmsg em;
    assert_int_equal(wl__perf_pmu_scan(pmu, &d, &em), 0);
    assert_int_equal(d.type, 23);
    assert_int_equal(d.n_cpus, 2);
    assert_int_equal(d.cpus[1], 18);
    assert_int_equal(d.n_events, 4);
    int seen = 0;
    for (unsigned i = 0; i < d.n_events; i++) {
        assert_float_equal(d.ev[i].scale_j, 2.3283064365386962890625e-10, 1e-25);
        if (strcmp(d.ev[i].name, "energy-pkg") == 0) {
            assert_int_equal(d.ev[i].config, 2);
            assert_int_equal(d.ev[i].domain, WL_DOMAIN_PACKAGE);
            seen |= 1;
        } else if (strcmp(d.ev[i].name, "energy-ram") == 0) {
            assert_int_equal(d.ev[i].domain, WL_DOMAIN_DRAM);
            seen |= 2;
        } else if (strcmp(d.ev[i].name, "energy-psys") == 0) {
            assert_int_equal(d.ev[i].domain, WL_DOMAIN_PSYS);
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);

    /* a wrong unit is rejected, naming the file */
    put(pmu, "events/energy-ram.unit", "Watts\n");
    assert_int_equal(wl__perf_pmu_scan(pmu, &d, &em), WL_EFORMAT);
    assert_non_null(strstr(em.text, "energy-ram.unit"));
    put(pmu, "events/energy-ram.unit", "Joules\n");
    put(pmu, "events/energy-ram.scale", "-1\n");
    assert_int_equal(wl__perf_pmu_scan(pmu, &d, &em), WL_EFORMAT);
    assert_non_null(strstr(em.text, "energy-ram.scale"));
    put(pmu, "events/energy-ram.scale", "2.3283064365386962890625e-10\n");
    put(pmu, "events/energy-pkg", "umask=0x02\n");
    assert_int_equal(wl__perf_pmu_scan(pmu, &d, &em), WL_EFORMAT);
    assert_non_null(strstr(em.text, "event=0xNN"));
    assert_int_equal(wl__perf_pmu_scan("/nonexistent/power", &d, &em), WL_ENOENT);
    wl_test_rmtree(root);
    free(root);
}

/* The events/<name>, .scale and .unit files: one event term in hex, a scale
 * in (0, 1] joules per count (an infinite or huge one would overflow the
 * conversion of counts), the unit Joules. */
static void test_event_scale_and_unit_parsing(void **state)
{
    (void)state;
    uint64_t cfg = 0;
    assert_int_equal(wl__perf_parse_event("event=0x02", &cfg), 0);
    assert_int_equal(cfg, 2);
    assert_int_equal(wl__perf_parse_event("event=ffffffffffffffff", &cfg), 0);
    assert_true(cfg == UINT64_MAX);
    cfg = 7;
    assert_int_equal(wl__perf_parse_event("event=0x10000000000000000", &cfg), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_event("event=0x02,umask=0x1", &cfg), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_event("event=0x", &cfg), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_event("event=-2", &cfg), WL_EFORMAT);
    assert_int_equal(cfg, 7);
    double sc = 0;
    assert_int_equal(wl__perf_parse_scale("2.3283064365386962890625e-10", &sc), 0);
    assert_float_equal(sc, 0x1p-32, 0);
    sc = 5;
    assert_int_equal(wl__perf_parse_scale("inf", &sc), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_scale("nan", &sc), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_scale("1e300", &sc), WL_EFORMAT);
    assert_int_equal(wl__perf_parse_scale("0", &sc), WL_EFORMAT);
    assert_float_equal(sc, 5, 0);
    assert_int_equal(wl__perf_parse_unit("Joules"), 0);
    assert_int_equal(wl__perf_parse_unit("Joules2"), WL_EFORMAT);
}

static void test_backend_fails_clearly_without_a_counting_pmu(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char pmu[2048];
    make_pmu(root, pmu, sizeof pmu);
    put(pmu, "type", "4000\n"); /* no such PMU in this kernel */
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    int rc = wl_sensor_open_backend(WL_BACKEND_RAPL_PERF, &p, &s, &st);
    assert_true(rc == WL_ENOTSUP || rc == WL_EACCES);
    assert_null(s);
    assert_non_null(strstr(st.why, "perf_event_open(energy-"));
    assert_true(st.fix[0] != '\0');
    /* no PMU directory at all */
    p.sysfs_root = "/nonexistent";
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_PERF, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "no RAPL perf PMU"));
    /* Zen's RAPL events are under the Intel option ("Intel/AMD rapl
     * performance events", 5.8); CONFIG_PERF_EVENTS_AMD_POWER is the
     * Fam15h power-pkg PMU, which is not this one */
    assert_non_null(strstr(st.fix, "CONFIG_PERF_EVENTS_INTEL_RAPL"));
    assert_null(strstr(st.fix, "AMD_POWER"));
    wl_test_rmtree(root);
    free(root);
}

/* The backend's open/read path on a PMU that counts here: the software PMU
 * (type 1, PERF_TYPE_SOFTWARE; config 0 is cpu-clock, nanoseconds of CPU
 * time) described as the power PMU. Thirty "packages" (CPU 0 listed 30
 * times, so told apart by position) of three per-package events and psys
 * (read on each package) make 120 events for 64 channels: the rest are
 * listed in not_read and the source says PARTIAL (they used to be dropped
 * without a word). psys counts 400 times faster
 * than a package, so that it contains the packages read (else the probe
 * drops it as not valid). Skipped where system-wide software events are
 * not allowed (perf_event_paranoid, seccomp). */
static void test_events_over_the_limit_are_listed(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char pmu[2048];
    make_pmu(root, pmu, sizeof pmu);
    put(pmu, "type", "1\n");
    char list[128] = "0";
    for (int i = 1; i < 30; i++)
        strcat(list, ",0");
    strcat(list, "\n");
    put(pmu, "cpumask", list);
    static const char *const ev[] = {"energy-pkg", "energy-cores", "energy-ram", "energy-psys"};
    for (size_t i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "events/%s", ev[i]);
        put(pmu, name, "event=0x0");
    }
    put(pmu, "events/energy-psys.scale", "1e-7\n");
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    wl_sensor *s = open_perf_or_skip(&p, root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, WL_SENSOR_MAX_CHANNELS);
    assert_int_equal(in->n_not_read, 30 * 4 - WL_SENSOR_MAX_CHANNELS);
    assert_non_null(strstr(in->not_read[0], "over the limit of 64 channels"));
    assert_non_null(strstr(in->source, "PARTIAL"));
    assert_int_equal(strncmp(in->ch[0].name, "package-0", 9), 0);
    struct wl_sensor_reading a, b;
    assert_int_equal(wl_sensor_read(s, &a), 0);
    volatile double x = 0;
    for (int i = 0; i < 2000000; i++)
        x += i * 0.5;
    assert_int_equal(wl_sensor_read(s, &b), 0);
    assert_int_equal(b.n_channels, WL_SENSOR_MAX_CHANNELS);
    assert_true(b.v[0].energy_uj >= a.v[0].energy_uj);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* ROOT/proc/cpuinfo of a CPU of that vendor, family and model (decimal,
 * as cpuinfo writes them): the CPU the RAPL unit rules and the die rule
 * go by, not the host's. */
static void put_cpuinfo(const char *root, const char *vendor, int family, int model)
{
    char dir[2048], text[256];
    snprintf(dir, sizeof dir, "%s/proc", root);
    mkdir(dir, 0755);
    snprintf(text, sizeof text,
             "processor\t: 0\nvendor_id\t: %s\ncpu family\t: %d\nmodel\t\t: %d\n"
             "model name\t: Test CPU\n\n",
             vendor, family, model);
    put(dir, "cpuinfo", text);
}

/* A PMU that counts here: the software PMU (type 1) as the power PMU,
 * listing cpumask, every event cpu-clock (config 0: nanoseconds on the
 * CPU) but psys, which is psys_event (9, dummy, counts nothing) at
 * psys_scale. The package's scale makes it 1 kW. */
static void make_counting(const char *root, const char *cpumask, const char *psys_event,
                          const char *psys_scale)
{
    char pmu[2048];
    make_pmu((char *)root, pmu, sizeof pmu);
    put(pmu, "type", "1\n");
    put(pmu, "cpumask", cpumask);
    put(pmu, "events/energy-pkg", "event=0x0");
    put(pmu, "events/energy-pkg.scale", "1e-6\n");
    put(pmu, "events/energy-cores", "event=0x0");
    put(pmu, "events/energy-ram", "event=0x0");
    put(pmu, "events/energy-psys", psys_event);
    put(pmu, "events/energy-psys.scale", psys_scale);
}

/* Opens rapl-perf on ROOT (sysfs), ROOT/proc and ROOT/dev (MSR devices,
 * none unless a test makes them) with the period probe's budget probe_ns
 * (20 s: one that only a starved test could exhaust; 0: no probe, psys
 * kept); NULL when system-wide software events cannot count here. */
static wl_sensor *open_perf(const char *root, uint64_t probe_ns, char *why, size_t size)
{
    char proc[2048], dev[2048];
    snprintf(proc, sizeof proc, "%s/proc", root);
    snprintf(dev, sizeof dev, "%s/dev", root);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.proc_root = proc;
    p.dev_root = dev;
    p.period_probe_ns = probe_ns;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    if (wl_sensor_open_backend(WL_BACKEND_RAPL_PERF, &p, &s, &st) != 0) {
        snprintf(why, size, "%s", st.why);
        return NULL;
    }
    return s;
}

/* make_counting on CPU 0 of an Intel family 6 CPU of that model, opened. */
static wl_sensor *open_counting_model(const char *root, const char *psys_event,
                                      const char *psys_scale, int model, uint64_t probe_ns,
                                      char *why, size_t size)
{
    make_counting(root, "0\n", psys_event, psys_scale);
    put_cpuinfo(root, "GenuineIntel", 6, model);
    return open_perf(root, probe_ns, why, size);
}

/* open_counting_model on a client model (Kaby Lake, 158 = 0x9E: every
 * domain in 0x606's unit), with the period probe's budget probe_ns. */
static wl_sensor *open_counting(const char *root, const char *psys_event, const char *psys_scale,
                                uint64_t probe_ns, char *why, size_t size)
{
    return open_counting_model(root, psys_event, psys_scale, 158, probe_ns, why, size);
}

static int channel_of(const struct wl_sensor_info *in, enum wl_domain d)
{
    for (unsigned i = 0; i < in->n_channels; i++)
        if (in->ch[i].domain == d)
            return (int)i;
    return -1;
}

/* On Sapphire Rapids the kernel shows energy-psys even where its register
 * reads 0 (its probe skips the zero check there), and a perf count starts
 * at 0 anyway: a psys that never moves while the package counts was the
 * whole headline at 0 J, "measured". It is dropped and listed as not
 * summed, as rapl-msr does (wl__sensor_probe_psys), at the default probe
 * budget (a flat psys is judged when it is over); so is one far below
 * the package it contains (1/1000 of it); one that moves with it is kept.
 * The package is channel 0 whatever order the events directory lists. */
static void test_psys_flat_or_far_below_the_package_is_dropped(void **state)
{
    (void)state;
    static const struct {
        const char *event, *scale, *why; /* why: NULL when psys is kept */
        bool default_budget;             /* else 20 s: only a starved test runs out */
    } cases[] = {
        {"event=0x9", "2.3283064365386962890625e-10\n", "psys (energy-psys): did not move", true},
        {"event=0x0", "1e-9\n", "psys (energy-psys): rose", false},
        {"event=0x0", "2e-6\n", NULL, false},
    };
    struct wl_sensor_params def;
    wl_sensor_params_default(&def);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *root = wl_test_tmpdir();
        char why[512];
        wl_sensor *s = open_counting(root, cases[k].event, cases[k].scale,
                                     cases[k].default_budget ? def.period_probe_ns : 20000000000ull,
                                     why, sizeof why);
        if (!s)
            skip_without_perf(root, why);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        assert_string_equal(in->ch[0].name, "package-0");
        if (cases[k].why) {
            assert_int_equal(channel_of(in, WL_DOMAIN_PSYS), -1);
            assert_int_equal(in->n_channels, 3);
            assert_int_equal(in->n_not_summed, 1);
            assert_non_null(strstr(in->not_summed[0], cases[k].why));
            assert_non_null(strstr(in->source, "1 not summed"));
        } else {
            assert_true(channel_of(in, WL_DOMAIN_PSYS) >= 0);
            assert_int_equal(in->n_channels, 4);
            assert_int_equal(in->n_not_summed, 0);
        }
        assert_int_equal(in->n_not_read, 0);
        /* the events left are read, each its own */
        struct wl_sensor_reading r;
        assert_int_equal(wl_sensor_read(s, &r), 0);
        assert_int_equal(r.n_channels, in->n_channels);
        assert_true(r.v[0].energy_uj > 0);
        wl_sensor_close(s);
        wl_test_rmtree(root);
        free(root);
    }
}

/* ROOT/dev/cpu/CPU/msr holding the RAPL unit register reg (0x606 or
 * 0xC0010299) with energy status unit esu (a sparse file, as rapl-msr's
 * tests make). */
static void put_cpu_unit_msr(const char *root, int cpu, uint32_t reg, unsigned esu)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/dev", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/dev/cpu", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/dev/cpu/%d", root, cpu);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/dev/cpu/%d/msr", root, cpu);
    const uint64_t v = 0xA0003 | (uint64_t)esu << 8;
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &v, sizeof v, (off_t)reg), (ssize_t)sizeof v);
    close(fd);
}

/* put_cpu_unit_msr of CPU 0 */
static void put_unit_msr(const char *root, uint32_t reg, unsigned esu)
{
    put_cpu_unit_msr(root, 0, reg, esu);
}

/* The kernel scales every perf count to 2^-32 J (each event's .scale), far
 * finer than any register steps, so a channel's resolution is its
 * register's energy unit, never .scale: from the unit register when the
 * CPU's MSR device can be read (2^-ESU J; AMD's too), by the model table
 * rapl-msr reads by (psys in 1 J on Sapphire and Emerald Rapids, models
 * 0x8F and 0xCF; DRAM in 15.3 uJ on Haswell-X .. Ice Lake-X), else only
 * what that table fixes whatever the register says, else unknown (0). It
 * said .scale: 2^-32 J for psys on a client, 1 uJ for a package whose
 * .scale is 1e-6 J. */
static void test_resolution_is_the_register_unit_never_the_scale(void **state)
{
    (void)state;
    static const struct {
        const char *vendor;
        int family, model, esu; /* esu -1: no MSR device */
        double pkg_uj, dram_uj, psys_uj;
    } cases[] = {
        {"GenuineIntel", 6, 0x8F, -1, 0, 0, 1e6},
        {"GenuineIntel", 6, 0xCF, -1, 0, 0, 1e6},
        {"GenuineIntel", 6, 0x55, -1, 0, 15.3, 0},
        {"GenuineIntel", 6, 0x9E, -1, 0, 0, 0},
        {"GenuineIntel", 6, 0x9E, 14, 1e6 / 16384.0, 1e6 / 16384.0, 1e6 / 16384.0},
        {"GenuineIntel", 6, 0x8F, 14, 1e6 / 16384.0, 1e6 / 16384.0, 1e6},
        {"GenuineIntel", 6, 0x37, 5, 32, 32, 32},           /* Silvermont: 2^ESU uJ */
        {"GenuineIntel", 6, 0xAD, 14, 1e6 / 16384.0, 0, 0}, /* not in the table */
        {"AuthenticAMD", 25, 1, 16, 1e6 / 65536.0, 1e6 / 65536.0, 1e6 / 65536.0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *root = wl_test_tmpdir();
        char why[512];
        make_counting(root, "0\n", "event=0x9", "2.3283064365386962890625e-10\n");
        put_cpuinfo(root, cases[k].vendor, cases[k].family, cases[k].model);
        if (cases[k].esu >= 0)
            put_unit_msr(root, cases[k].vendor[0] == 'G' ? 0x606 : 0xC0010299,
                         (unsigned)cases[k].esu);
        wl_sensor *s = open_perf(root, 0, why, sizeof why);
        if (!s)
            skip_without_perf(root, why);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        const int pk = channel_of(in, WL_DOMAIN_PACKAGE), dr = channel_of(in, WL_DOMAIN_DRAM),
                  ps = channel_of(in, WL_DOMAIN_PSYS);
        assert_true(pk >= 0 && dr >= 0 && ps >= 0);
        assert_float_equal(in->ch[pk].resolution_uj, cases[k].pkg_uj, 1e-9);
        assert_float_equal(in->ch[dr].resolution_uj, cases[k].dram_uj, 1e-9);
        assert_float_equal(in->ch[ps].resolution_uj, cases[k].psys_uj, 1e-9);
        for (unsigned i = 0; i < in->n_channels; i++) /* never a count's 2^-32 J or 1 uJ */
            assert_true(in->ch[i].resolution_uj == 0 || in->ch[i].resolution_uj > 1.0);
        wl_sensor_close(s);
        wl_test_rmtree(root);
        free(root);
    }
}

/* A sysfs root given without a /dev root is another machine's tree (or a
 * test's): the unit register is read from the dev/ beside it (<dir>/dev
 * for <dir>/sys, as its /proc is <dir>/proc), never from the host's /dev.
 * With no dev/ beside it the unit is not known, as on a host without the
 * msr driver. */
static void test_sysfs_tree_without_dev_root_reads_the_dev_beside_it(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char sys[2048], proc[2048], dev[2048];
    snprintf(sys, sizeof sys, "%s/sys", root);
    snprintf(proc, sizeof proc, "%s/proc", root);
    snprintf(dev, sizeof dev, "%s/dev", root);
    mkdir(sys, 0755);
    make_counting(sys, "0\n", "event=0x9", "2.3283064365386962890625e-10\n");
    put_cpuinfo(root, "GenuineIntel", 6, 0x9E);
    put_unit_msr(root, 0x606, 14);
    unsetenv("WATTLENS_DEV_ROOT");
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = sys;
    p.proc_root = proc;
    p.period_probe_ns = 0;
    for (int beside = 1; beside >= 0; beside--) {
        if (!beside)
            wl_test_rmtree(dev);
        wl_sensor *s = open_perf_or_skip(&p, root);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        const int pk = channel_of(in, WL_DOMAIN_PACKAGE);
        assert_true(pk >= 0);
        assert_float_equal(in->ch[pk].resolution_uj, beside ? 1e6 / 16384.0 : 0, 1e-9);
        wl_sensor_close(s);
    }
    wl_test_rmtree(root);
    free(root);
}

/* ROOT/devices/system/cpu/cpuN/topology: physical_package_id pkg and, when
 * die >= 0, die_id die. */
static void put_topology(const char *root, int cpu, int pkg, int die)
{
    char dir[2048], v[16];
    static const char *const parts[] = {"devices", "devices/system", "devices/system/cpu"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(dir, sizeof dir, "%s/%s", root, parts[i]);
        mkdir(dir, 0755);
    }
    snprintf(dir, sizeof dir, "%s/devices/system/cpu/cpu%d", root, cpu);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/devices/system/cpu/cpu%d/topology", root, cpu);
    mkdir(dir, 0755);
    snprintf(v, sizeof v, "%d\n", pkg);
    put(dir, "physical_package_id", v);
    if (die >= 0) {
        snprintf(v, sizeof v, "%d\n", die);
        put(dir, "die_id", v);
    }
}

/* On a multi-die part the kernel's cpumask lists one CPU per die (Intel's
 * package counters are per die), so die 1 of package 0 was "package-1",
 * a package that does not exist. Units are named from each listed CPU's
 * topology as rapl-msr and the kernel's zones name them: package-N-die-M
 * on an Intel multi-die part; package-K otherwise, also on AMD, whose
 * counter is per package whatever die ids the kernel gives. CPUs 0 and 1
 * are listed (the software PMU opens on real CPUs: skipped on one). */
static void test_units_are_named_from_the_listed_cpus_topology(void **state)
{
    (void)state;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        fprintf(stderr, "SKIP: needs two online CPUs\n");
        skip();
    }
    /* psys is counted on each package's first unit: psys-1 on a second
     * package (as the kernel's zones name it), none on a second die */
    static const struct {
        const char *vendor;
        int pkg1, die0, die1; /* CPU 0: package 0, die die0; CPU 1: pkg1, die1 */
        const char *unit0, *unit1, *source, *psys1;
    } cases[] = {
        {"GenuineIntel", 0, 0, 1, "package-0-die-0", "package-0-die-1", "1 package(s), 2 dies)",
         NULL},
        {"GenuineIntel", 1, 0, 0, "package-0", "package-1", "2 package(s))", "psys-1"},
        {"GenuineIntel", 1, -1, -1, "package-0", "package-1", "2 package(s))",
         "psys-1"}, /* no die_id */
        {"AuthenticAMD", 1, 0, 1, "package-0", "package-1", "2 package(s))", "psys-1"},
        /* one package and die twice: nothing tells them apart, by position */
        {"GenuineIntel", 0, 0, 0, "package-0", "package-1", "2 package(s))", "psys-1"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *root = wl_test_tmpdir();
        char why[512];
        make_counting(root, "0-1\n", "event=0x0", "2e-6\n");
        put_cpuinfo(root, cases[k].vendor, cases[k].vendor[0] == 'G' ? 6 : 25, 0x9E);
        put_topology(root, 0, 0, cases[k].die0);
        put_topology(root, 1, cases[k].pkg1, cases[k].die1);
        wl_sensor *s = open_perf(root, 0, why, sizeof why);
        if (!s)
            skip_without_perf(root, why);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        char want[8][64];
        snprintf(want[0], sizeof want[0], "%s", cases[k].unit0);
        snprintf(want[1], sizeof want[1], "%s/core", cases[k].unit0);
        snprintf(want[2], sizeof want[2], "%s/dram", cases[k].unit0);
        snprintf(want[3], sizeof want[3], "psys");
        snprintf(want[4], sizeof want[4], "%s", cases[k].unit1);
        snprintf(want[5], sizeof want[5], "%s/core", cases[k].unit1);
        snprintf(want[6], sizeof want[6], "%s/dram", cases[k].unit1);
        const unsigned n = cases[k].psys1 ? 8 : 7;
        if (cases[k].psys1)
            snprintf(want[7], sizeof want[7], "%s", cases[k].psys1);
        assert_int_equal(in->n_channels, n);
        for (unsigned i = 0; i < n; i++)
            assert_string_equal(in->ch[i].name, want[i]);
        assert_int_equal(in->ch[3].index, -1);
        if (cases[k].psys1)
            assert_int_equal(in->ch[7].index, 1);
        assert_non_null(strstr(in->source, cases[k].source));
        wl_sensor_close(s);
        wl_test_rmtree(root);
        free(root);
    }
}

/* The unit register is read through the cpumask's CPU, else through
 * another online CPU of its package (and die), as rapl-powercap reads it
 * (wl__rapl_unit_esu): CPU 0, listed, has no MSR device; CPU 1, of its
 * package, holds ESU 14; CPU 2, of another package, ESU 16, never read for
 * package 0. Before, CPU 0's device alone was tried and the resolution was
 * unknown. Where the topology is not known (CPU 0 without one: units by
 * position, their package numbers not real), the cpumask's CPU alone. */
static void test_unit_read_through_another_cpu_of_the_package(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char sys[2048];
    snprintf(sys, sizeof sys, "%s/sys", root);
    mkdir(sys, 0755);
    make_counting(sys, "0\n", "event=0x9", "2.3283064365386962890625e-10\n");
    put_cpuinfo(root, "GenuineIntel", 6, 0x9E);
    put_topology(sys, 0, 0, 0);
    put_topology(sys, 1, 0, 0);
    put_topology(sys, 2, 1, 0);
    put_cpu_unit_msr(root, 1, 0x606, 14);
    put_cpu_unit_msr(root, 2, 0x606, 16);
    for (int topology = 1; topology >= 0; topology--) {
        if (!topology) {
            char dir[2200];
            snprintf(dir, sizeof dir, "%s/devices/system/cpu/cpu0/topology", sys);
            wl_test_rmtree(dir);
        }
        char proc[2048], dev[2048];
        snprintf(proc, sizeof proc, "%s/proc", root);
        snprintf(dev, sizeof dev, "%s/dev", root);
        struct wl_sensor_params p;
        wl_sensor_params_default(&p);
        p.sysfs_root = sys;
        p.proc_root = proc;
        p.dev_root = dev;
        p.period_probe_ns = 0;
        wl_sensor *s = open_perf_or_skip(&p, root);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        const int pk = channel_of(in, WL_DOMAIN_PACKAGE);
        assert_true(pk >= 0);
        assert_string_equal(in->ch[pk].name, "package-0");
        assert_float_equal(in->ch[pk].resolution_uj, topology ? 1e6 / 16384.0 : 0, 1e-9);
        wl_sensor_close(s);
    }
    wl_test_rmtree(root);
    free(root);
}

/* A sysfs root given without a /proc root is another machine's tree: the
 * model rules go by its devices/system/cpu/modalias (here Sapphire Rapids:
 * psys in joules), never by the host's /proc/cpuinfo, which they did. */
static void test_sysfs_tree_without_proc_root_uses_its_own_cpu(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    make_counting(root, "0\n", "event=0x9", "2.3283064365386962890625e-10\n");
    put_topology(root, 0, 0, -1);
    put(root, "devices/system/cpu/modalias",
        "cpu:type:x86,ven0000fam0006mod008F:feature:,0000,0001\n");
    unsetenv("WATTLENS_PROC_ROOT");
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.period_probe_ns = 0;
    wl_sensor *s = open_perf_or_skip(&p, root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    const int ps = channel_of(in, WL_DOMAIN_PSYS);
    assert_true(ps >= 0);
    assert_float_equal(in->ch[ps].resolution_uj, 1e6, 1e-6);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpulist_parsing),
        cmocka_unit_test(test_event_scale_and_unit_parsing),
        cmocka_unit_test(test_pmu_description_parses),
        cmocka_unit_test(test_backend_fails_clearly_without_a_counting_pmu),
        cmocka_unit_test(test_events_over_the_limit_are_listed),
        cmocka_unit_test(test_psys_flat_or_far_below_the_package_is_dropped),
        cmocka_unit_test(test_resolution_is_the_register_unit_never_the_scale),
        cmocka_unit_test(test_sysfs_tree_without_dev_root_reads_the_dev_beside_it),
        cmocka_unit_test(test_units_are_named_from_the_listed_cpus_topology),
        cmocka_unit_test(test_unit_read_through_another_cpu_of_the_package),
        cmocka_unit_test(test_sysfs_tree_without_proc_root_uses_its_own_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

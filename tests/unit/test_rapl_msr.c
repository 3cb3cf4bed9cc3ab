/* ctest-labels: timing (the psys tests at the default 25 ms probe budget judge a counter a writer thread moves; a starved writer leaves it unjudged) */
/* rapl_msr: fake /dev/cpu/N/msr files (sparse files holding register values at
 * their MSR offsets), fake topology and cpuinfo. Intel and AMD register sets,
 * the energy unit from 0x606 / 0xC0010299 and the kernel's per-model units
 * (server DRAM and psys, Silvermont Atoms; DRAM and psys left out on a model
 * the table does not know), 32-bit wraparound, one reader per die on Intel
 * and per package on AMD, and the fix when the msr driver is missing. psys is a channel
 * only when it counts: not when it reads 0 at open, not when it stays flat
 * or far below package-0 over the period probe. A long multibyte
 * /dev root is cut between characters in the source; a sysfs tree given
 * without a /dev root is read through the dev/ beside it, never the
 * host's /dev. */
#include "fake_machine.h"
#include "fake_msr.h"
#include "sensor_open.h"
#include "test_support.h"

#include "sensors/sensor.h"
#include "util/utf8.h"
#include "wattlens/wattlens.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tests with a FIFO in the tree arm this watchdog: SIGALRM's default action
 * ends the test process (a failure) instead of a hang for ever. */
#define WATCHDOG_S 20

/* cpu0, cpu1 on package 0; cpu2 on package 1; under root (which exists) */
static void make_machine_at(const char *root, const char *vendor)
{
    wl_test_mkdirs(root, "proc");
    char text[256];
    /* a client model whose every unit is 0x606's (Kaby Lake, 158 = 0x9E) */
    snprintf(text, sizeof text,
             "processor\t: 0\nvendor_id\t: %s\ncpu family\t: 6\nmodel\t\t: 158\n"
             "model name\t: Test CPU 4242\n\nprocessor\t: 1\nmodel\t\t: 85\n",
             vendor);
    wl_test_put_file(root, "proc/cpuinfo", text);
    for (int c = 0; c < 3; c++) {
        char rel[128];
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology", c);
        wl_test_mkdirs(root, rel);
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
        wl_test_put_file(root, rel, c < 2 ? "0\n" : "1\n");
        snprintf(rel, sizeof rel, "dev/cpu/%d", c);
        wl_test_mkdirs(root, rel);
    }
}

/* make_machine_at under a new temporary directory (heap) */
static char *make_machine(const char *vendor)
{
    char *root = wl_test_tmpdir();
    make_machine_at(root, vendor);
    return root;
}

static void params_for(struct wl_sensor_params *p, const char *root, char *bufs, size_t n)
{
    wl_sensor_params_default(p);
    snprintf(bufs, n, "%s/sys", root);
    snprintf(bufs + n, n, "%s/dev", root);
    snprintf(bufs + 2 * n, n, "%s/proc", root);
    p->sysfs_root = bufs;
    p->dev_root = bufs + n;
    p->proc_root = bufs + 2 * n;
    p->period_probe_ns = 0;
}

static void test_intel_registers_units_and_wrap(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    for (int cpu = 0; cpu <= 2; cpu += 2) {
        wl_test_put_machine_msr(root, cpu, 0x606, 0xA0E03); /* ESU = 14: 61.035 uJ */
        wl_test_put_machine_msr(root, cpu, 0x611, 0xFFFFFF00ull);
        wl_test_put_machine_msr(root, cpu, 0x639, 1000);
        wl_test_put_machine_msr(root, cpu, 0x641, 0); /* exists, never counts: no uncore channel */
        wl_test_put_machine_msr(root, cpu, 0x619, 5000);
        wl_test_put_machine_msr(root, cpu, 0x64D, 7000);
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = wl_test_open_backend(WL_BACKEND_RAPL_MSR, &p);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    /* psys is read on each package, named as the kernel's zones */
    static const char *names[] = {"package-0", "package-0/core", "package-0/dram", "psys",
                                  "package-1", "package-1/core", "package-1/dram", "psys-1"};
    assert_int_equal(in->n_channels, 8);
    for (unsigned i = 0; i < 8; i++) {
        assert_string_equal(in->ch[i].name, names[i]);
        assert_float_equal(in->ch[i].resolution_uj, 1e6 / 16384.0, 1e-9);
    }
    assert_true(in->ch[3].flags & WL_CH_CONTAINS);
    assert_true(in->ch[7].flags & WL_CH_CONTAINS);
    assert_int_equal(in->ch[3].index, -1);
    assert_int_equal(in->ch[7].index, 1);
    assert_true(in->ch[1].flags & WL_CH_PART);
    assert_non_null(strstr(in->source, "Intel, 2 package(s)"));
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 0);
    /* package 0 wraps: 0xFFFFFF00 -> 0x100 is 0x200 units */
    wl_test_put_machine_msr(root, 0, 0x611, 0x100);
    wl_test_put_machine_msr(root, 0, 0x639, 1000 + 16384); /* exactly 1 J */
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, (uint64_t)(0x200 * 1e6 / 16384.0));
    assert_int_equal(r.v[1].energy_uj, 1000000);
    assert_int_equal(r.v[4].energy_uj, 0); /* package 1 untouched */
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* The source quotes the /dev root: a long multibyte one is cut between
 * characters and ends "...", what follows it kept. Each pad puts the cut in
 * another place in the "é"s. */
static void test_long_multibyte_dev_root_is_cut_between_characters(void **state)
{
    (void)state;
    char *tmp = wl_test_tmpdir();
    for (int pad = 0; pad < 2; pad++) {
        char *root = wl_test_mkdir_multibyte(tmp, pad, 1);
        assert_non_null(root);
        make_machine_at(root, "GenuineIntel");
        for (int cpu = 0; cpu <= 2; cpu += 2) {
            wl_test_put_machine_msr(root, cpu, 0x606, 0xA0E03);
            wl_test_put_machine_msr(root, cpu, 0x611, 1);
        }
        char bufs[3 * 1024];
        struct wl_sensor_params p;
        params_for(&p, root, bufs, 1024);
        wl_sensor *s = NULL;
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, NULL), 0);
        const char *src = wl_sensor_get_info(s)->source;
        assert_true(wl_utf8_valid(src, strlen(src)));
        assert_non_null(strstr(src, ".../cpu/N/msr (Intel, 2 package(s))"));
        wl_sensor_close(s);
        free(root);
    }
    wl_test_rmtree(tmp);
    free(tmp);
}

/* A sysfs root given without a /dev root is another machine's tree (or a
 * test's): its MSR devices are the dev/ beside it (<dir>/dev for <dir>/sys,
 * as its /proc is <dir>/proc), never the host's /dev, whose registers were
 * read against the tree's topology and units. With no dev/ beside it,
 * rapl-msr is not used, as on a host without the msr driver, and says so,
 * naming the path it looked for. */
static void test_sysfs_tree_without_dev_root_reads_the_dev_beside_it(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    for (int cpu = 0; cpu <= 2; cpu += 2) {
        wl_test_put_machine_msr(root, cpu, 0x606, 0xA0E03);
        wl_test_put_machine_msr(root, cpu, 0x611, 1);
    }
    unsetenv("WATTLENS_DEV_ROOT");
    char bufs[3 * 1024], want[1200];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    p.dev_root = NULL;
    snprintf(want, sizeof want, "%s/dev/cpu/N/msr (Intel, 2 package(s))", root);
    for (int slash = 0; slash < 2; slash++) { /* "<dir>/sys/" is "<dir>/sys" */
        snprintf(bufs, 1024, "%s/sys%s", root, slash ? "/" : "");
        wl_sensor *s = wl_test_open_backend(WL_BACKEND_RAPL_MSR, &p);
        assert_non_null(strstr(wl_sensor_get_info(s)->source, want));
        wl_sensor_close(s);
    }
    /* no dev/ beside the tree: not the host's /dev either */
    snprintf(want, sizeof want, "%s/dev", root);
    wl_test_rmtree(want);
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), WL_ENOTSUP);
    assert_null(s);
    snprintf(want, sizeof want, "%s/dev/cpu/0/msr does not exist", root);
    assert_non_null(strstr(st.why, want));
    assert_non_null(strstr(st.why, "the host's /dev is not read"));
    assert_non_null(strstr(st.fix, "WATTLENS_DEV_ROOT"));
    wl_test_rmtree(root);
    free(root);
}

static void test_amd_package_registers(void **state)
{
    (void)state;
    char *root = make_machine("AuthenticAMD");
    for (int cpu = 0; cpu <= 2; cpu += 2) {
        wl_test_put_machine_msr(root, cpu, 0xC0010299, 0x100 * 16); /* ESU = 16: 15.26 uJ */
        wl_test_put_machine_msr(root, cpu, 0xC001029B, 123);
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    assert_int_equal(in->ch[0].domain, WL_DOMAIN_PACKAGE);
    assert_float_equal(in->ch[0].resolution_uj, 1e6 / 65536.0, 1e-9);
    wl_test_put_machine_msr(root, 2, 0xC001029B, 123 + 65536);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[1].energy_uj, 1000000);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

static void test_missing_driver_and_unknown_vendor(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel"); /* no msr files created */
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "the msr driver is not loaded"));
    assert_non_null(strstr(st.fix, "sudo modprobe msr"));
    wl_test_put_file(root, "proc/cpuinfo", "processor\t: 0\nvendor_id\t: CentaurHauls\n");
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "neither Intel nor AMD"));
    wl_test_rmtree(root);
    free(root);
}

/* A package counter that falls from the middle of its range: as a 32-bit
 * wrap that is ~131 kJ in microseconds, so it is a reset: the read that sees
 * it succeeds and counts it as a discontinuity (n_discontinuities, disc: the
 * sampler records a gap), and nothing is added; a fall near the top of the
 * range is a wrap, exact to the unit (0xffffffff -> 0 is one). */
static void test_counter_reset_is_a_gap_not_a_wrap(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    for (int cpu = 0; cpu <= 2; cpu += 2) {
        wl_test_put_machine_msr(root, cpu, 0x606, 0xA0E03); /* 61.035 uJ */
        wl_test_put_machine_msr(root, cpu, 0x611, 0x80000000ull);
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, NULL), 0);
    struct wl_sensor_reading r;
    wl_test_put_machine_msr(root, 0, 0x611, 0x80000000ull + 16384); /* +1 J */
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 1000000);
    wl_test_put_machine_msr(root, 0, 0x611, 0x100); /* reset */
    assert_int_equal(wl_sensor_read(s, &r), 0); /* good from here on */
    assert_int_equal(r.v[0].n_discontinuities, 1);
    assert_int_equal(r.v[0].disc, WL_DISC_BAD_WRAP);
    wl_test_put_machine_msr(root, 0, 0x611, 0x100 + 16384);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 2000000);
    assert_int_equal(r.v[0].n_discontinuities, 1);
    /* wraps: 0xffffc000 -> 0xffffffff is 16383 units, -> 0 one more: 1 J */
    wl_test_put_machine_msr(root, 0, 0x611, 0xffffc000ull);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    /* getting there at once is a jump no draw explains: a gap, not energy */
    assert_int_equal(r.v[0].disc, WL_DISC_BAD_RISE);
    assert_int_equal(r.v[0].energy_uj, 2000000);
    const uint64_t before = r.v[0].energy_uj;
    wl_test_put_machine_msr(root, 0, 0x611, 0xffffffffull);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    wl_test_put_machine_msr(root, 0, 0x611, 0);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj - before, 1000000);
    wl_test_put_machine_msr(root, 0, 0x611,
                            0xfffff000ull); /* a jump again, then a wrap of 0x4000 units */
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].disc, WL_DISC_BAD_RISE);
    wl_test_put_machine_msr(root, 0, 0x611, 0x3000);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].n_discontinuities, 3); /* the reset and the two jumps */
    assert_int_equal(r.v[0].disc, WL_DISC_NONE);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* A FIFO as an MSR device or as cpuinfo hangs nothing: the device is
 * refused as not a device or regular file, cpuinfo as unreadable (the CPU
 * is then not known). */
static void test_fifos_do_not_hang(void **state)
{
    (void)state;
    alarm(WATCHDOG_S);
    char *root = make_machine("GenuineIntel");
    char path[2048];
    snprintf(path, sizeof path, "%s/dev/cpu/0/msr", root);
    assert_int_equal(mkfifo(path, 0644), 0);
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_not_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), 0);
    assert_non_null(strstr(st.why, "/cpu/0/msr: a FIFO, not a regular file"));
    snprintf(path, sizeof path, "%s/proc/cpuinfo", root);
    unlink(path);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "CPU vendor not known ("));
    assert_non_null(strstr(st.why, "/cpuinfo: cannot be read)"));
    wl_test_rmtree(root);
    free(root);
    alarm(0);
}

/* An offline CPU has cpuN/ but no cpuN/topology/ (the kernel removes its
 * topology attributes). Package discovery stopped at the first such CPU,
 * so the sockets after it were dropped without a word; now it is skipped
 * and every cpuN is looked at, in number order (cpu10 after cpu2). */
static void test_offline_cpu_does_not_hide_later_packages(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    make_machine_at(root, "GenuineIntel"); /* cpu0, cpu1: package 0; cpu2: package 1 */
    char path[2048];
    snprintf(path, sizeof path, "%s/sys/devices/system/cpu/cpu1/topology", root);
    wl_test_rmtree(path); /* cpu1 offline */
    wl_test_mkdirs(root, "sys/devices/system/cpu/cpu10/topology");
    wl_test_put_file(root, "sys/devices/system/cpu/cpu10/topology/physical_package_id", "2\n");
    wl_test_mkdirs(root, "sys/devices/system/cpu/cpufreq");
    wl_test_put_file(root, "sys/devices/system/cpu/online", "0,2,10\n");
    wl_test_mkdirs(root, "dev/cpu/10");
    for (int cpu = 0; cpu <= 10; cpu += cpu == 0 ? 2 : 8) {
        wl_test_put_machine_msr(root, cpu, 0x606, 0xA0E03);
        wl_test_put_machine_msr(root, cpu, 0x611, 1000);
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = wl_test_open_backend(WL_BACKEND_RAPL_MSR, &p);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_non_null(strstr(in->source, "Intel, 3 package(s)"));
    assert_int_equal(in->n_not_read, 0);
    unsigned n_pkg = 0;
    for (unsigned i = 0; i < in->n_channels; i++)
        n_pkg += in->ch[i].domain == WL_DOMAIN_PACKAGE;
    assert_int_equal(n_pkg, 3);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* MSR_PLATFORM_ENERGY_COUNTER (0x64D) "will read 0 if not valid" (SDM);
 * the kernel skips every domain whose counter reads 0. A psys kept at 0
 * became the whole headline: every run 0 J, labelled measured. */
static void test_psys_reading_0_is_not_a_channel(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    for (int cpu = 0; cpu <= 2; cpu += 2) {
        wl_test_put_machine_msr(root, cpu, 0x606, 0xA0E03);
        wl_test_put_machine_msr(root, cpu, 0x611, 100000);
        wl_test_put_machine_msr(root, cpu, 0x639, 50000);
        wl_test_put_machine_msr(root, cpu, 0x64D, 0); /* exists, not valid */
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 4); /* package and core of each package */
    for (unsigned i = 0; i < in->n_channels; i++)
        assert_int_not_equal(in->ch[i].domain, WL_DOMAIN_PSYS);
    assert_int_equal(in->n_not_read, 0);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* Counts registers up while the probe runs: on package k (CPU 0, CPU 2)
 * 0x611 by pkg_step[k] and, where psys_step[k] is not 0, 0x64D by it,
 * every period_us, until stopped. */
struct counting {
    char path[2][2048];
    uint64_t pkg[2], psys[2], pkg_step[2], psys_step[2];
    unsigned period_us;
    atomic_bool stop;
};

static void *count_up(void *arg)
{
    struct counting *w = arg;
    int fd[2] = {open(w->path[0], O_WRONLY), open(w->path[1], O_WRONLY)};
    bool ok = fd[0] >= 0 && fd[1] >= 0;
    while (ok && !atomic_load(&w->stop)) {
        for (int k = 0; k < 2 && ok; k++) {
            w->pkg[k] += w->pkg_step[k];
            w->psys[k] += w->psys_step[k];
            ok = pwrite(fd[k], &w->pkg[k], sizeof w->pkg[k], 0x611) == (ssize_t)sizeof w->pkg[k];
            if (ok && w->psys_step[k])
                ok = pwrite(fd[k], &w->psys[k], sizeof w->psys[k], 0x64D) ==
                     (ssize_t)sizeof w->psys[k];
        }
        usleep(w->period_us);
    }
    for (int k = 0; k < 2; k++)
        if (fd[k] >= 0)
            close(fd[k]);
    return NULL;
}

/* Opens rapl-msr with the period probe's budget probe_ns while package k
 * counts by pkg_step[k] and its psys by psys_step[k] every period_us; a
 * package whose psys0[k] is 0 has a psys register reading 0 (not its
 * platform's master); returns the sensor. */
static wl_sensor *open_counting_packages(const char *root, const uint64_t pkg_step[2],
                                         const uint64_t psys0[2], const uint64_t psys_step[2],
                                         uint64_t probe_ns, unsigned period_us)
{
    for (int k = 0; k < 2; k++) {
        wl_test_put_machine_msr(root, 2 * k, 0x606, 0xA0E03); /* 61 uJ */
        wl_test_put_machine_msr(root, 2 * k, 0x611, 100000);
        wl_test_put_machine_msr(root, 2 * k, 0x64D, psys0[k]);
    }
    static char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    p.period_probe_ns = probe_ns;
    struct counting w = {.pkg = {100000, 100000},
                         .psys = {psys0[0], psys0[1]},
                         .pkg_step = {pkg_step[0], pkg_step[1]},
                         .psys_step = {psys_step[0], psys_step[1]},
                         .period_us = period_us};
    for (int k = 0; k < 2; k++)
        snprintf(w.path[k], sizeof w.path[k], "%s/dev/cpu/%d/msr", root, 2 * k);
    atomic_init(&w.stop, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, count_up, &w), 0);
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    int rc = wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st);
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    return s;
}

/* open_counting_packages with a psys on package 0 alone (package 1's reads
 * 0), package-0 and psys counting by pkg_step and psys_step, package-1 by
 * pkg1_step. */
static wl_sensor *open_while_counting_at(const char *root, uint64_t pkg_step, uint64_t psys_step,
                                         uint64_t pkg1_step, uint64_t probe_ns, unsigned period_us)
{
    const uint64_t pkg[2] = {pkg_step, pkg1_step}, psys0[2] = {5000, 0}, psys[2] = {psys_step, 0};
    return open_counting_packages(root, pkg, psys0, psys, probe_ns, period_us);
}

/* open_while_counting_at with a budget that only a starved test could
 * exhaust, counting every 100 us. */
static wl_sensor *open_while_counting(const char *root, uint64_t pkg_step, uint64_t psys_step)
{
    return open_while_counting_at(root, pkg_step, psys_step, 0, 20000000000ull, 100);
}

static bool has_psys(const struct wl_sensor_info *in)
{
    for (unsigned i = 0; i < in->n_channels; i++)
        if (in->ch[i].domain == WL_DOMAIN_PSYS)
            return true;
    return false;
}

/* Checks the probe's verdict on s's one psys, then closes s: kept
 * (dropped_why NULL: a psys channel, nothing listed as not summed) or
 * dropped (no psys channel, one not-summed note, holding dropped_why). */
static void check_psys_and_close(wl_sensor *s, const char *dropped_why)
{
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    if (dropped_why) {
        assert_false(has_psys(in));
        assert_int_equal(in->n_not_summed, 1);
        assert_non_null(strstr(in->not_summed[0], dropped_why));
    } else {
        assert_true(has_psys(in));
        assert_int_equal(in->n_not_summed, 0);
    }
    wl_sensor_close(s);
}

/* The period probe's default budget (25 ms). */
static uint64_t default_probe_ns(void)
{
    struct wl_sensor_params def;
    wl_sensor_params_default(&def);
    return def.period_probe_ns;
}

/* A psys that reads non-zero but does not move while package-0 counts is
 * not valid either: dropped, and listed as not summed (the packages are
 * read; no total is short). */
static void test_psys_flat_while_the_package_counts_is_dropped(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    /* judged when the budget is over: the default one, not 20 s */
    wl_sensor *s = open_while_counting_at(root, 16, 0, 0, default_probe_ns(), 100);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_false(has_psys(in));
    assert_int_equal(in->n_channels, 2);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_string_equal(in->ch[1].name, "package-1");
    assert_int_equal(in->n_not_read, 0);
    assert_int_equal(in->n_not_summed, 1);
    assert_non_null(strstr(in->not_summed[0], "psys (0x64D): did not move"));
    assert_non_null(strstr(in->source, "1 not summed"));
    /* the counters still name their channels after the drop */
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.n_channels, 2);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

static void set_model(const char *root, int family, int model);
static int channel(const struct wl_sensor_info *in, const char *name);

/* The same at the default probe budget (25 ms), with package-0 changing
 * every 1 ms as RAPL does: a count of package changes could not be reached
 * in that time (a flat psys was kept, and was the 0 J headline), the rise
 * of the packages is. */
static void test_psys_flat_is_dropped_at_the_default_budget(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    wl_sensor *s = open_while_counting_at(root, 16, 0, 0, default_probe_ns(), 1000);
    check_psys_and_close(s, "psys (0x64D): did not move");
    wl_test_rmtree(root);
    free(root);
}

/* On Sapphire Rapids psys counts in 1 J: a flat one is not judged before
 * the packages rose 2 J, so one that has not ticked on a package at about
 * 1 W is kept (the fake could only pass 2 J after 2 s of counting). */
static void test_psys_flat_in_joules_on_a_quiet_package_is_kept(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    set_model(root, 6, 0x8F);
    wl_sensor *s = open_while_counting_at(root, 16, 0, 0, default_probe_ns(), 1000);
    check_psys_and_close(s, NULL);
    wl_test_rmtree(root);
    free(root);
}

/* psys contains the packages: one that rises by a sliver of what they rise
 * (1 unit per 1000: a joule-unit psys read in 0x606's units) is not used;
 * one that rises with them is kept. */
static void test_psys_far_below_the_packages_is_dropped(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    check_psys_and_close(open_while_counting(root, 1000, 1), "not in the unit read with it");
    check_psys_and_close(open_while_counting(root, 1000, 2000), NULL);
    wl_test_rmtree(root);
    free(root);
}

/* A psys read through package 0 is judged against package-0, the package
 * it is read through, not package-1: one that moves with package-0 is kept
 * while package-1 rises a thousand times more. Compared with every
 * package, it was far below them and dropped. */
static void test_psys_is_compared_with_package_0_alone(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    check_psys_and_close(open_while_counting_at(root, 16, 16, 16000, 20000000000ull, 100), NULL);
    wl_test_rmtree(root);
    free(root);
}

/* psys is the platform's counter, read through a package: the kernel
 * reads it on every package, only its platform's master package counts
 * (the others read 0), and it names a non-zero package's "psys-N". Read on
 * package 0 alone, a platform whose master is package 1 (Sapphire Rapids)
 * had no psys. Here package 1's counts: it is "psys-1" (index 1), checked
 * against package-1, which it holds, and kept, not against package-0,
 * which rises a thousand times more (against it, psys-1 would be far below
 * and dropped). package-0 counts so that the probe, which times it, ends:
 * idle, it held the open for the whole 20 s budget and psys-1 was never
 * judged. */
static void test_psys_is_read_on_every_package(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    const uint64_t pkg[2] = {16000, 16}, psys0[2] = {0, 5000}, psys[2] = {0, 32};
    wl_sensor *s = open_counting_packages(root, pkg, psys0, psys, 20000000000ull, 100);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(channel(in, "psys"), -1);
    const int ps = channel(in, "psys-1");
    assert_true(ps >= 0);
    assert_int_equal(in->ch[ps].index, 1);
    assert_int_equal(in->ch[ps].domain, WL_DOMAIN_PSYS);
    assert_true(in->ch[ps].flags & WL_CH_CONTAINS);
    assert_int_equal(in->n_not_summed, 0);
    assert_int_equal(in->n_not_read, 0);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* Each psys is judged by itself against its own package: with a psys on
 * both packages, package 1's flat while package-1 counts is dropped (and
 * named), package 0's, moving with package-0, kept. */
static void test_each_psys_is_judged_against_its_package(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    const uint64_t pkg[2] = {16, 16}, psys0[2] = {5000, 5000}, psys[2] = {32, 0};
    wl_sensor *s = open_counting_packages(root, pkg, psys0, psys, default_probe_ns(), 100);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_true(channel(in, "psys") >= 0);
    assert_int_equal(channel(in, "psys-1"), -1);
    assert_int_equal(in->n_not_summed, 1);
    assert_non_null(strstr(in->not_summed[0], "psys-1 (0x64D): did not move while package-1 rose"));
    /* the counters name their channels after the drop */
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.n_channels, in->n_channels);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* cpuinfo of an Intel CPU of that family and model (decimal, as cpuinfo
 * writes them), with a long flags line before them that the reader must
 * not take for a new line. */
static void set_model(const char *root, int family, int model)
{
    char flags[600], text[1024];
    memset(flags, 'x', sizeof flags - 1);
    flags[sizeof flags - 1] = '\0';
    snprintf(text, sizeof text,
             "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: %s\ncpu family\t: %d\n"
             "model\t\t: %d\nmodel name\t: Test CPU\n\n",
             flags, family, model);
    wl_test_put_file(root, "proc/cpuinfo", text);
}

/* Every register of both packages counts from 1000 (unit register ESU 14:
 * 61.035 uJ, and 5 for the Atoms' 2^ESU uJ); opens rapl-msr. */
static wl_sensor *open_model(const char *root, int family, int model, unsigned esu)
{
    set_model(root, family, model);
    for (int cpu = 0; cpu <= 2; cpu += 2) {
        wl_test_put_machine_msr(root, cpu, 0x606, 0xA0003 | (uint64_t)esu << 8);
        wl_test_put_machine_msr(root, cpu, 0x611, 1000);
        wl_test_put_machine_msr(root, cpu, 0x639, 1000);
        wl_test_put_machine_msr(root, cpu, 0x619, 1000);
        wl_test_put_machine_msr(root, cpu, 0x64D, 1000);
    }
    static char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = wl_test_open_backend(WL_BACKEND_RAPL_MSR, &p);
    return s;
}

static int channel(const struct wl_sensor_info *in, const char *name)
{
    for (unsigned i = 0; i < in->n_channels; i++)
        if (strcmp(in->ch[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* After +n counts of every register of package 0, the energy of name. */
static uint64_t energy_after(const char *root, wl_sensor *s, const char *name, uint64_t n)
{
    for (uint32_t reg = 0x611; reg; reg = reg == 0x611   ? 0x639
                                          : reg == 0x639 ? 0x619
                                          : reg == 0x619 ? 0x64D
                                                         : 0)
        wl_test_put_machine_msr(root, 0, reg, 1000 + n);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    const int i = channel(wl_sensor_get_info(s), name);
    assert_true(i >= 0);
    return r.v[i].energy_uj;
}

/* The kernel's per-model units (intel_rapl_common.c rapl_ids): Haswell-X
 * to Ice Lake-X/D and Xeon Phi count DRAM in 15.3 uJ whatever 0x606 says
 * (4x over-counted before); Sapphire and Emerald Rapids count psys in
 * joules (16384x under-counted before, and psys is the headline). */
static void test_server_models_have_their_own_dram_and_psys_units(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    static const int hsw_server[] = {0x3F, 0x4F, 0x55, 0x6A, 0x6C, 0x57, 0x85};
    for (size_t k = 0; k < sizeof hsw_server / sizeof hsw_server[0]; k++) {
        wl_sensor *s = open_model(root, 6, hsw_server[k], 14);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        const int d = channel(in, "package-0/dram"), pk = channel(in, "package-0");
        assert_true(d >= 0 && pk >= 0);
        assert_float_equal(in->ch[d].resolution_uj, 15.3, 1e-9);
        assert_float_equal(in->ch[pk].resolution_uj, 1e6 / 16384.0, 1e-9);
        assert_int_equal(energy_after(root, s, "package-0/dram", 100000), 1530000);
        wl_sensor_close(s);
    }
    static const int spr[] = {0x8F, 0xCF};
    for (size_t k = 0; k < 2; k++) {
        wl_sensor *s = open_model(root, 6, spr[k], 14);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        const int ps = channel(in, "psys"), d = channel(in, "package-0/dram");
        assert_true(ps >= 0 && d >= 0);
        assert_float_equal(in->ch[ps].resolution_uj, 1e6, 1e-9);
        assert_float_equal(in->ch[d].resolution_uj, 1e6 / 16384.0, 1e-9); /* 0x606's */
        assert_int_equal(energy_after(root, s, "psys", 3), 3000000);
        wl_sensor_close(s);
    }
    /* a client: every domain in 0x606's unit */
    wl_sensor *s = open_model(root, 6, 0x9E, 14);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_not_read, 0);
    assert_int_equal(energy_after(root, s, "package-0/dram", 16384), 1000000);
    assert_int_equal(energy_after(root, s, "psys", 16384), 1000000);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* A model the table does not know (a newer server, family 19's Diamond
 * Rapids, Granite Rapids whose RAPL the kernel reads through TPMI) may
 * count dram and psys in a unit of its own: they are not read, and listed,
 * rather than guessed; package and core are read in 0x606's unit. Broadwell-
 * DE, where the kernel's two drivers disagree on the DRAM unit, likewise. */
static void test_unknown_model_leaves_dram_and_psys_out(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    static const int family[] = {6, 19, 6}, model[] = {0xAD, 0x01, 0xFE};
    for (size_t k = 0; k < 3; k++) {
        wl_sensor *s = open_model(root, family[k], model[k], 14);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        assert_int_equal(channel(in, "psys"), -1);
        assert_int_equal(channel(in, "package-0/dram"), -1);
        assert_int_equal(channel(in, "package-1/dram"), -1);
        assert_true(channel(in, "package-0") >= 0 && channel(in, "package-1/core") >= 0);
        assert_int_equal(in->n_not_read, 2); /* dram once, psys once */
        assert_non_null(strstr(in->not_read[0], "dram (0x619): unit unknown"));
        assert_non_null(strstr(in->not_read[1], "psys (0x64D): unit unknown"));
        assert_non_null(strstr(in->source, "PARTIAL"));
        wl_sensor_close(s);
    }
    wl_sensor *s = open_model(root, 6, 0x56, 14);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(channel(in, "package-0/dram"), -1);
    assert_true(channel(in, "psys") >= 0);
    assert_int_equal(in->n_not_read, 1);
    assert_non_null(strstr(in->not_read[0], "disagree"));
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* Silvermont and Airmont Atoms read the unit register the other way up:
 * 2^ESU uJ (rapl_check_unit_atom), 32 uJ for ESU 5, not 31 mJ. */
static void test_silvermont_atoms_count_in_2_to_the_esu_uj(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    static const int atoms[] = {0x37, 0x4C, 0x4A, 0x5A};
    for (size_t k = 0; k < 4; k++) {
        wl_sensor *s = open_model(root, 6, atoms[k], 5);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        assert_float_equal(in->ch[channel(in, "package-0")].resolution_uj, 32.0, 1e-9);
        assert_int_equal(energy_after(root, s, "package-0", 1000), 32000);
        wl_sensor_close(s);
    }
    wl_test_rmtree(root);
    free(root);
}

/* cpu0..cpu3: packages 0, 0, 1, 1 and dies 0, 1, 0, 1 (a two-socket
 * Cascade Lake-AP: two dies per package), the given vendor. */
static char *make_multi_die(const char *vendor)
{
    char *root = make_machine(vendor);
    wl_test_mkdirs(root, "sys/devices/system/cpu/cpu3/topology");
    wl_test_mkdirs(root, "dev/cpu/3");
    for (int c = 0; c < 4; c++) {
        char rel[128], v[8];
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
        snprintf(v, sizeof v, "%d\n", c / 2);
        wl_test_put_file(root, rel, v);
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/die_id", c);
        snprintf(v, sizeof v, "%d\n", c % 2);
        wl_test_put_file(root, rel, v);
    }
    return root;
}

/* Intel's package MSRs are per die on multi-die parts (the kernel makes
 * package-N-die-M zones, perf reads one CPU per die): each die is read,
 * under the kernel's name. Reading one CPU per package dropped every
 * second die's energy without a note. */
static void test_intel_dies_are_read_each(void **state)
{
    (void)state;
    char *root = make_multi_die("GenuineIntel");
    for (int cpu = 0; cpu < 4; cpu++) {
        wl_test_put_machine_msr(root, cpu, 0x606, 0xA0E03);
        wl_test_put_machine_msr(root, cpu, 0x611, 1000);
        wl_test_put_machine_msr(root, cpu, 0x619, 1000);
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    static const char *names[] = {
        "package-0-die-0", "package-0-die-0/dram", "package-0-die-1", "package-0-die-1/dram",
        "package-1-die-0", "package-1-die-0/dram", "package-1-die-1", "package-1-die-1/dram"};
    assert_int_equal(in->n_channels, 8);
    for (unsigned i = 0; i < 8; i++)
        assert_string_equal(in->ch[i].name, names[i]);
    assert_non_null(strstr(in->source, "Intel, 2 package(s), 4 dies"));
    wl_test_put_machine_msr(root, 1, 0x611, 1000 + 16384); /* die 1 of package 0: 1 J */
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 0);
    assert_int_equal(r.v[2].energy_uj, 1000000);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* AMD's package counter is per package whatever the dies (perf's
 * rapl_pkg_pmu_is_pkg_scope; newer kernels give Zen's CCDs die ids): one
 * read per package, or each package would be counted once per die. */
static void test_amd_reads_per_package_not_per_die(void **state)
{
    (void)state;
    char *root = make_multi_die("AuthenticAMD");
    for (int cpu = 0; cpu < 4; cpu++) {
        wl_test_put_machine_msr(root, cpu, 0xC0010299, 0x1000);
        wl_test_put_machine_msr(root, cpu, 0xC001029B, 1000);
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_string_equal(in->ch[1].name, "package-1");
    assert_non_null(strstr(in->source, "AMD, 2 package(s))"));
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* One package's device that cannot be opened or read no longer fails the
 * backend: the packages that can be read are, the other is listed in
 * not_read with why (the source says PARTIAL), psys too is read where it
 * can be. Package 1's device is missing, a FIFO, or too short to hold the
 * unit register. Only when no package can be read is the backend not used,
 * with the first one's why and fix. */
static void test_one_unreadable_package_leaves_the_others_read(void **state)
{
    (void)state;
    alarm(WATCHDOG_S);
    static const struct {
        const char *why;
    } cases[] = {{"does not exist"},
                 {"a FIFO, not a regular file"},
                 {"reading the RAPL unit register 0x606 failed"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *root = make_machine("GenuineIntel");
        wl_test_put_machine_msr(root, 0, 0x606, 0xA0E03);
        wl_test_put_machine_msr(root, 0, 0x611, 1000);
        wl_test_put_machine_msr(root, 0, 0x64D, 1000);
        char path[2048];
        snprintf(path, sizeof path, "%s/dev/cpu/2/msr", root);
        if (k == 1)
            assert_int_equal(mkfifo(path, 0644), 0);
        else if (k == 2)
            wl_test_put_file(root, "dev/cpu/2/msr", "short");
        char bufs[3 * 1024];
        struct wl_sensor_params p;
        params_for(&p, root, bufs, 1024);
        struct wl_sensor_status st;
        wl_sensor *s = wl_test_open_backend(WL_BACKEND_RAPL_MSR, &p);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        assert_int_equal(in->n_channels, 2);
        assert_string_equal(in->ch[0].name, "package-0");
        assert_string_equal(in->ch[1].name, "psys");
        assert_int_equal(in->n_not_read, 1);
        assert_non_null(strstr(in->not_read[0], "package-1 ("));
        assert_non_null(strstr(in->not_read[0], "/dev/cpu/2/msr): "));
        assert_non_null(strstr(in->not_read[0], cases[k].why));
        assert_non_null(
            strstr(in->source, "(Intel, 1 package(s)) - PARTIAL: 1 found but not read"));
        wl_test_put_machine_msr(root, 0, 0x611, 1000 + 16384);
        struct wl_sensor_reading r;
        assert_int_equal(wl_sensor_read(s, &r), 0);
        assert_int_equal(r.v[0].energy_uj, 1000000);
        wl_sensor_close(s);
        /* package 0's missing too: not used, with the first one's why */
        snprintf(path, sizeof path, "%s/dev/cpu/0/msr", root);
        unlink(path);
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), WL_ENOTSUP);
        assert_null(s);
        assert_non_null(strstr(st.why, "/dev/cpu/0/msr does not exist"));
        assert_non_null(strstr(st.fix, "modprobe msr"));
        wl_test_rmtree(root);
        free(root);
    }
    alarm(0);
}

/* A package whose registers fail at a read (its CPU went offline: the
 * device reads nothing) no longer fails the read of every package: that
 * package's channels are not read this time (no energy in valid, totals
 * as they were), the others are. Only when every register fails does the
 * read fail. */
static void test_one_failing_package_read_leaves_the_others_read(void **state)
{
    (void)state;
    char *root = make_machine("GenuineIntel");
    for (int cpu = 0; cpu <= 2; cpu += 2) {
        wl_test_put_machine_msr(root, cpu, 0x606, 0xA0E03);
        wl_test_put_machine_msr(root, cpu, 0x611, 1000);
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, NULL), 0);
    assert_int_equal(wl_sensor_get_info(s)->n_channels, 2);
    char path[2048];
    snprintf(path, sizeof path, "%s/dev/cpu/2/msr", root);
    assert_int_equal(truncate(path, 0), 0); /* package 1's reads get nothing */
    wl_test_put_machine_msr(root, 0, 0x611, 1000 + 16384);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].valid, WL_CH_ENERGY);
    assert_int_equal(r.v[0].energy_uj, 1000000);
    assert_int_equal(r.v[1].valid, 0);
    assert_int_equal(r.v[1].energy_uj, 0);
    snprintf(path, sizeof path, "%s/dev/cpu/0/msr", root);
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(wl_sensor_read(s, &r), WL_ESENSOR);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* A sysfs root given without a /proc root is another machine's tree (or a
 * test's): its CPU is never read from the host's /proc/cpuinfo. It comes
 * from the tree's devices/system/cpu/modalias, else from a proc/cpuinfo
 * next to it, else it is unknown and the MSRs are not read (with a fix
 * naming WATTLENS_PROC_ROOT). Before, the host's cpuinfo chose the
 * registers and units. Every case's device files hold both Intel's and
 * AMD's registers, so that either vendor reads them. */
static void test_sysfs_tree_without_proc_root_is_not_judged_by_the_host(void **state)
{
    (void)state;
    char *root = make_machine("AuthenticAMD"); /* ROOT/proc/cpuinfo: AMD */
    for (int cpu = 0; cpu <= 2; cpu += 2) {
        wl_test_put_machine_msr(root, cpu, 0x606, 0xA0E03);
        wl_test_put_machine_msr(root, cpu, 0x611, 1000);
        wl_test_put_machine_msr(root, cpu, 0x64D, 1000);
        wl_test_put_machine_msr(root, cpu, 0xC0010299, 0x1000);
        wl_test_put_machine_msr(root, cpu, 0xC001029B, 1000);
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    p.proc_root = NULL;
    unsetenv("WATTLENS_PROC_ROOT");
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    /* the proc/ next to the sysfs root */
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), 0);
    assert_non_null(strstr(wl_sensor_get_info(s)->source, "(AMD, 2 package(s))"));
    wl_sensor_close(s);
    /* the tree's own modalias first: Sapphire Rapids, psys in joules */
    wl_test_put_file(root, "sys/devices/system/cpu/modalias",
                     "cpu:type:x86,ven0000fam0006mod008F:feature:,0000,0001\n");
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_non_null(strstr(in->source, "(Intel, 2 package(s))"));
    const int ps = channel(in, "psys");
    assert_true(ps >= 0);
    assert_float_equal(in->ch[ps].resolution_uj, 1e6, 1e-9);
    wl_sensor_close(s);
    /* neither: unknown, not the host's */
    char path[2048];
    snprintf(path, sizeof path, "%s/sys/devices/system/cpu/modalias", root);
    unlink(path);
    snprintf(path, sizeof path, "%s/proc", root);
    wl_test_rmtree(path);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), WL_ENOTSUP);
    assert_null(s);
    assert_non_null(strstr(st.why, "CPU vendor not known (unknown: the sysfs root"));
    assert_non_null(strstr(st.fix, "WATTLENS_PROC_ROOT"));
    /* a /proc root given is read, whatever the sysfs root */
    wl_test_mkdirs(root, "proc");
    wl_test_put_file(root, "proc/cpuinfo", "processor\t: 0\nvendor_id\t: AuthenticAMD\n\n");
    p.proc_root = bufs + 2 * 1024;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), 0);
    assert_non_null(strstr(wl_sensor_get_info(s)->source, "(AMD, 2 package(s))"));
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* More packages than are read (MSR_MAX_PKG, 16) make a "not read" note,
 * which the log shows as a warning that the measurement is partial. A
 * backend that then fails (no /dev/cpu/N/msr opens) measures nothing: the
 * note was logged all the same, a warning about a measurement never made.
 * Notes are logged only once the backend opens: then once, with the others. */
static void test_over_the_limit_note_is_logged_only_when_the_backend_opens(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    wl_test_mkdirs(root, "proc");
    wl_test_put_file(
        root, "proc/cpuinfo",
        "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 158\n\n");
    enum { N_PKG = 18 }; /* 2 over the limit */
    for (int c = 0; c < N_PKG; c++) {
        char rel[128], id[16];
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology", c);
        wl_test_mkdirs(root, rel);
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
        snprintf(id, sizeof id, "%d\n", c);
        wl_test_put_file(root, rel, id);
        snprintf(rel, sizeof rel, "dev/cpu/%d", c);
        wl_test_mkdirs(root, rel);
    }
    char bufs[3 * 1024];
    struct wl_sensor_params p;
    params_for(&p, root, bufs, 1024);
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    /* no msr device: the backend fails, and nothing is logged as partial */
    wl_test_capture_stderr_begin();
    const int rc = wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st);
    char *err = wl_test_capture_stderr_end();
    fputs(err, stderr);
    assert_int_equal(rc, WL_ENOTSUP);
    assert_null(s);
    assert_non_null(strstr(st.why, "the msr driver is not loaded"));
    assert_null(strstr(err, "over the limit"));
    assert_null(strstr(err, "not read"));
    free(err);
    /* every device readable: it opens, and the note is logged once */
    for (int c = 0; c < N_PKG; c++) {
        wl_test_put_machine_msr(root, c, 0x606, 0xA0E03);
        wl_test_put_machine_msr(root, c, 0x611, 1000);
    }
    wl_test_capture_stderr_begin();
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_MSR, &p, &s, &st), 0);
    err = wl_test_capture_stderr_end();
    fputs(err, stderr);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 16);
    assert_int_equal(in->n_not_read, 1);
    assert_non_null(strstr(in->not_read[0], "2 package(s) or die(s) after the first 16"));
    const char *hit = strstr(err, "over the limit");
    assert_non_null(hit);
    assert_null(strstr(hit + 1, "over the limit"));
    free(err);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intel_registers_units_and_wrap),
        cmocka_unit_test(test_long_multibyte_dev_root_is_cut_between_characters),
        cmocka_unit_test(test_sysfs_tree_without_dev_root_reads_the_dev_beside_it),
        cmocka_unit_test(test_amd_package_registers),
        cmocka_unit_test(test_missing_driver_and_unknown_vendor),
        cmocka_unit_test(test_counter_reset_is_a_gap_not_a_wrap),
        cmocka_unit_test(test_fifos_do_not_hang),
        cmocka_unit_test(test_offline_cpu_does_not_hide_later_packages),
        cmocka_unit_test(test_psys_reading_0_is_not_a_channel),
        cmocka_unit_test(test_psys_flat_while_the_package_counts_is_dropped),
        cmocka_unit_test(test_psys_far_below_the_packages_is_dropped),
        cmocka_unit_test(test_psys_flat_is_dropped_at_the_default_budget),
        cmocka_unit_test(test_psys_flat_in_joules_on_a_quiet_package_is_kept),
        cmocka_unit_test(test_psys_is_compared_with_package_0_alone),
        cmocka_unit_test(test_psys_is_read_on_every_package),
        cmocka_unit_test(test_each_psys_is_judged_against_its_package),
        cmocka_unit_test(test_server_models_have_their_own_dram_and_psys_units),
        cmocka_unit_test(test_unknown_model_leaves_dram_and_psys_out),
        cmocka_unit_test(test_silvermont_atoms_count_in_2_to_the_esu_uj),
        cmocka_unit_test(test_intel_dies_are_read_each),
        cmocka_unit_test(test_amd_reads_per_package_not_per_die),
        cmocka_unit_test(test_sysfs_tree_without_proc_root_is_not_judged_by_the_host),
        cmocka_unit_test(test_one_unreadable_package_leaves_the_others_read),
        cmocka_unit_test(test_one_failing_package_read_leaves_the_others_read),
        cmocka_unit_test(test_over_the_limit_note_is_logged_only_when_the_backend_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* hwmon: a fake /sys/class/hwmon tree. Device names decide domains (amdgpu ->
 * gpu, amd_energy -> package with per-core Ecore* skipped, a whole-system
 * meter (power_meter, corsairpsu) -> total, flagged as containing others,
 * one channel of all such meters read and the others listed; any other
 * device's scope is unknown: not summed); energy*_input is a counter (uJ),
 * power*_input sampled power (uW), power*_average a vendor estimate (uW;
 * in hwmonN/device/ for a legacy device such as the ACPI power meter); no
 * usable file says why and how to fix; a long multibyte device name or
 * label is cut between characters, and so is a long multibyte root where
 * the source or a why quotes it; the AMD CPU advice of the fix follows the
 * kernel version (amd_energy only on Linux 5.8 to 5.12). */
#undef _FORTIFY_SOURCE /* pread is defined here (an inline of its own would clash) */
#include "test_support.h"

#include "sensors/sensor.h"
#include "util/mkdir_p.h"
#include "util/utf8.h"
#include "wattlens/wattlens.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The library's pread, here so that a fake sysfs file can fail as the
 * kernel's do: one that holds "EINVAL\n" or "EPERM\n" reads as that
 * error (what amdgpu's in1 gives a discrete card on an old kernel, and an
 * APU in a GPU reset or suspend); any other reads as it is. */
ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r = syscall(SYS_pread64, fd, buf, n, off);
    if (r == 7 && off == 0 && memcmp(buf, "EINVAL\n", 7) == 0) {
        errno = EINVAL;
        return -1;
    }
    if (r == 6 && off == 0 && memcmp(buf, "EPERM\n", 6) == 0) {
        errno = EPERM;
        return -1;
    }
    return r;
}

/* Tests with a FIFO in the tree arm this watchdog: SIGALRM's default action
 * ends the test process (a failure) instead of a hang for ever. */
#define WATCHDOG_S 20

static void put(const char *root, const char *rel, const char *text)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    assert_int_equal(wl_test_write_file(path, text, strlen(text)), 0);
}

static void dev(const char *root, int n, const char *name)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/class", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/class/hwmon", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon%d", root, n);
    mkdir(path, 0755);
    char rel[128];
    snprintf(rel, sizeof rel, "class/hwmon/hwmon%d/name", n);
    put(root, rel, name);
}

/* hwmonN: an amd_energy device whose one counter, Esocket0, reads energy. */
static void amd_energy_socket(const char *root, int n, const char *energy)
{
    char rel[128];
    dev(root, n, "amd_energy\n");
    snprintf(rel, sizeof rel, "class/hwmon/hwmon%d/energy1_input", n);
    put(root, rel, energy);
    snprintf(rel, sizeof rel, "class/hwmon/hwmon%d/energy1_label", n);
    put(root, rel, "Esocket0\n");
}

/* The hwmon backend opened on the fake tree at root (no period probe):
 * wl_sensor_open_backend's result, *s and *st as it sets them. */
static int open_hwmon_rc(const char *root, wl_sensor **s, struct wl_sensor_status *st)
{
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.period_probe_ns = 0;
    return wl_sensor_open_backend(WL_BACKEND_HWMON, &p, s, st);
}

/* The same where it must open. */
static wl_sensor *open_hwmon(const char *root)
{
    wl_sensor *s = NULL;
    assert_int_equal(open_hwmon_rc(root, &s, NULL), 0);
    return s;
}

/* Removes the fake tree at root (from wl_test_tmpdir) and frees the name. */
static void tmpdir_free(char *root)
{
    wl_test_rmtree(root);
    free(root);
}

static const struct wl_sensor_channel *find(const struct wl_sensor_info *in, const char *name)
{
    for (unsigned i = 0; i < in->n_channels; i++) {
        if (strcmp(in->ch[i].name, name) == 0)
            return &in->ch[i];
    }
    return NULL;
}

static void test_domains_methods_and_values(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    dev(root, 0, "amdgpu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "45000000\n");
    put(root, "class/hwmon/hwmon0/power1_label", "PPT\n");
    dev(root, 1, "amd_energy\n");
    put(root, "class/hwmon/hwmon1/energy1_input", "1000000\n");
    put(root, "class/hwmon/hwmon1/energy1_label", "Ecore000\n");
    put(root, "class/hwmon/hwmon1/energy17_input", "5000000\n");
    put(root, "class/hwmon/hwmon1/energy17_label", "Esocket0\n");
    dev(root, 2, "coretemp\n");
    put(root, "class/hwmon/hwmon2/temp1_input", "40000\n"); /* no power: ignored */
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2); /* Ecore000 skipped */
    const struct wl_sensor_channel *gpu = find(in, "hwmon0/amdgpu/power1");
    const struct wl_sensor_channel *pkg = find(in, "hwmon1/amd_energy/energy17");
    assert_non_null(gpu);
    assert_non_null(pkg);
    assert_int_equal(gpu->domain, WL_DOMAIN_GPU);
    assert_int_equal(gpu->method, WL_METHOD_SAMPLED);
    assert_string_equal(gpu->label, "PPT");
    assert_int_equal(pkg->domain, WL_DOMAIN_PACKAGE);
    assert_int_equal(pkg->method, WL_METHOD_COUNTER);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    unsigned gi = (unsigned)(gpu - in->ch), pi = (unsigned)(pkg - in->ch);
    assert_float_equal(r.v[gi].power_w, 45.0, 1e-9);
    assert_int_equal(r.v[gi].valid, WL_CH_POWER);
    assert_int_equal(r.v[pi].energy_uj, 0); /* since open */
    put(root, "class/hwmon/hwmon1/energy17_input", "7500000\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[pi].energy_uj, 2500000);
    wl_sensor_close(s);

    /* an ACPI power meter is a "total" that contains others (its real
     * layout: test_power_meter_and_averages_are_read) */
    char *root2 = wl_test_tmpdir();
    dev(root2, 0, "power_meter\n");
    put(root2, "class/hwmon/hwmon0/power1_average", "250000000\n");
    s = open_hwmon(root2);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->ch[0].domain, WL_DOMAIN_TOTAL);
    assert_true(in->ch[0].flags & WL_CH_CONTAINS);
    wl_sensor_close(s);
    tmpdir_free(root2);

    /* devices without power or energy files: why and fix */
    char *root3 = wl_test_tmpdir();
    dev(root3, 0, "coretemp\n");
    struct wl_sensor_status st;
    assert_int_equal(open_hwmon_rc(root3, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "none of the 1 hwmon device(s)"));
    assert_non_null(strstr(st.fix, "amdgpu"));
    tmpdir_free(root3);
    tmpdir_free(root);
}

/* One device that fails (amdgpu during a GPU reset: -EPERM) no longer
 * fails the read of every device: the read succeeds, that device's channel
 * is not read this time (no power in valid), the others are (the package
 * counter counts on); once back it is read again. Only when every device
 * fails does the read fail. Before, one failing device made the whole
 * read fail, and the sampler a gap on every hwmon domain: the APU's soc
 * headline, a power meter's total. */
static void test_one_failing_device_leaves_the_others_read(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    dev(root, 0, "amdgpu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "45000000\n");
    amd_energy_socket(root, 1, "5000000\n");
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    const unsigned gi = (unsigned)(find(in, "hwmon0/amdgpu/power1") - in->ch);
    const unsigned pi = (unsigned)(find(in, "hwmon1/amd_energy/energy1") - in->ch);
    struct wl_sensor_reading r;
    put(root, "class/hwmon/hwmon0/power1_input", "EPERM\n");
    put(root, "class/hwmon/hwmon1/energy1_input", "6000000\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.n_channels, 2);
    assert_int_equal(r.v[gi].valid & (WL_CH_ENERGY | WL_CH_POWER), 0);
    assert_int_equal(r.v[pi].valid, WL_CH_ENERGY);
    assert_int_equal(r.v[pi].energy_uj, 1000000);
    put(root, "class/hwmon/hwmon0/power1_input", "45000000\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[gi].valid, WL_CH_POWER);
    assert_float_equal(r.v[gi].power_w, 45.0, 1e-9);
    /* the package counter fails: not read (its values 0), the GPU is read */
    put(root, "class/hwmon/hwmon1/energy1_input", "EPERM\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[pi].valid, 0);
    assert_int_equal(r.v[pi].energy_uj, 0);
    assert_int_equal(r.v[gi].valid, WL_CH_POWER);
    /* every device fails: the read fails */
    put(root, "class/hwmon/hwmon0/power1_input", "EPERM\n");
    assert_int_equal(wl_sensor_read(s, &r), WL_ESENSOR);
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* mkdir -p root/rel */
static void mkdirs(const char *root, const char *rel)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    assert_int_equal(wl_mkdir_p(path), 0);
}

/* A discrete GPU that is runtime-suspended (asleep when idle): amdgpu
 * refuses its power files with EPERM then (amdgpu_pm_get_access_if_active)
 * and its device's power/runtime_status says "suspended". Its power is
 * about 0 W: a value, not a lost sample, at open and mid-run; the source
 * says it is asleep. EPERM with the device "active" (a GPU reset) is still
 * not read (a gap), and at open its not_read line says the driver refused,
 * not a file permission. Before, an asleep GPU at open was not read
 * ("Operation not permitted", which reads as "run as root"), and one that
 * fell asleep mid-run was a gap in the gpu domain for as long as it slept.
 * An energy counter asleep at open starts when the GPU wakes. */
static void test_runtime_suspended_gpu_reads_zero_watts(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    dev(root, 0, "amdgpu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "EPERM\n");
    mkdirs(root, "class/hwmon/hwmon0/device/power");
    put(root, "class/hwmon/hwmon0/device/power/runtime_status", "suspended\n");
    dev(root, 1, "xe\n");
    put(root, "class/hwmon/hwmon1/energy1_input", "EPERM\n");
    mkdirs(root, "class/hwmon/hwmon1/device/power");
    put(root, "class/hwmon/hwmon1/device/power/runtime_status", "suspended\n");
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    assert_int_equal(in->n_not_read, 0);
    assert_non_null(strstr(in->source, "2 of a GPU asleep, runtime-suspended: 0 W"));
    const unsigned gi = (unsigned)(find(in, "hwmon0/amdgpu/power1") - in->ch);
    const unsigned ei = (unsigned)(find(in, "hwmon1/xe/energy1") - in->ch);
    assert_int_equal(in->ch[gi].domain, WL_DOMAIN_GPU);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[gi].valid, WL_CH_POWER);
    assert_float_equal(r.v[gi].power_w, 0.0, 1e-12);
    assert_int_equal(r.v[ei].valid, WL_CH_ENERGY);
    assert_int_equal(r.v[ei].energy_uj, 0);
    /* they wake: read as they are; the counter starts at its first value */
    put(root, "class/hwmon/hwmon0/power1_input", "45000000\n");
    put(root, "class/hwmon/hwmon0/device/power/runtime_status", "active\n");
    put(root, "class/hwmon/hwmon1/energy1_input", "7000000\n");
    put(root, "class/hwmon/hwmon1/device/power/runtime_status", "active\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_float_equal(r.v[gi].power_w, 45.0, 1e-9);
    assert_int_equal(r.v[ei].energy_uj, 0);
    put(root, "class/hwmon/hwmon1/energy1_input", "8000000\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[ei].energy_uj, 1000000);
    /* asleep again mid-run: 0 W, the counter adds nothing */
    put(root, "class/hwmon/hwmon0/power1_input", "EPERM\n");
    put(root, "class/hwmon/hwmon0/device/power/runtime_status", "suspended\n");
    put(root, "class/hwmon/hwmon1/energy1_input", "EPERM\n");
    put(root, "class/hwmon/hwmon1/device/power/runtime_status", "suspending\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[gi].valid, WL_CH_POWER);
    assert_float_equal(r.v[gi].power_w, 0.0, 1e-12);
    assert_int_equal(r.v[ei].valid, WL_CH_ENERGY);
    assert_int_equal(r.v[ei].energy_uj, 1000000);
    /* EPERM while active (a GPU reset): not read, a gap */
    put(root, "class/hwmon/hwmon0/device/power/runtime_status", "active\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[gi].valid, 0);
    wl_sensor_close(s);
    /* at open, EPERM while active: not read, and not a file permission */
    put(root, "class/hwmon/hwmon1/device/power/runtime_status", "active\n");
    put(root, "class/hwmon/hwmon1/energy1_input", "9000000\n");
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_int_equal(in->n_not_read, 1);
    assert_non_null(strstr(in->not_read[0], "hwmon0/amdgpu/power1: refused by the driver"));
    assert_non_null(strstr(in->not_read[0], "not a file permission"));
    assert_null(strstr(in->source, "asleep"));
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* A sleeping GPU is checked on every sample, under the sensor lock: its
 * runtime_status is opened once, at open, and read from that fd, not
 * reopened by path each time. Here the file is unlinked after open (the fd
 * still reads it; a reopen by path would fail): the GPU still reads as
 * asleep, 0 W. Before, each read opened the path again, and found none: a
 * gap. */
static void test_sleeping_gpu_status_is_opened_once(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    dev(root, 0, "amdgpu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "EPERM\n");
    mkdirs(root, "class/hwmon/hwmon0/device/power");
    put(root, "class/hwmon/hwmon0/device/power/runtime_status", "suspended\n");
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/device/power/runtime_status", root);
    assert_int_equal(unlink(path), 0);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].valid, WL_CH_POWER);
    assert_float_equal(r.v[0].power_w, 0.0, 1e-12);
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* EPERM at open from a device that is not a GPU (a CPU's amd_energy, an
 * ACPI power meter) is the driver refusing, not a file permission, but its
 * cause is not known: the not_read line names no GPU. Before, every
 * device's EPERM said "a GPU in a reset or a system suspend". A GPU's
 * still does. */
static void test_eperm_names_a_gpu_only_for_a_gpu(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    amd_energy_socket(root, 0, "EPERM\n");
    dev(root, 1, "power_meter\n");
    put(root, "class/hwmon/hwmon1/power1_average", "EPERM\n");
    dev(root, 2, "amdgpu\n");
    put(root, "class/hwmon/hwmon2/power1_input", "EPERM\n");
    dev(root, 3, "amd_energy\n");
    put(root, "class/hwmon/hwmon3/energy1_input", "5000000\n");
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_int_equal(in->n_not_read, 3);
    unsigned n_gpu = 0;
    for (unsigned i = 0; i < in->n_not_read; i++) {
        const char *line = in->not_read[i];
        assert_non_null(strstr(line, "refused by the driver (EPERM"));
        assert_non_null(strstr(line, "not a file permission"));
        if (strstr(line, "hwmon2/amdgpu/power1")) {
            assert_non_null(strstr(line, "a GPU in a reset"));
            n_gpu++;
        } else {
            assert_null(strstr(line, "GPU"));
        }
    }
    assert_int_equal(n_gpu, 1);
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* prefix, n copies of the 2-byte "é" and suffix, into buf */
static const char *e_acute(char *buf, size_t size, const char *prefix, unsigned n,
                           const char *suffix)
{
    size_t len = (size_t)snprintf(buf, size, "%s", prefix);
    for (unsigned i = 0; i < n && len + 3 <= size; i++)
        len += (size_t)snprintf(buf + len, size - len, "\xC3\xA9");
    snprintf(buf + len, size - len, "%s", suffix);
    return buf;
}

static void test_long_multibyte_names_are_cut_between_characters(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char text[256], want[256];
    /* "x" + 20 x "é": the name's part of the channel name is 24 bytes, which
     * ends inside the 12th "é" (a device of unknown scope: the name is in
     * its not-summed text) */
    dev(root, 0, e_acute(text, sizeof text, "x", 20, "\n"));
    put(root, "class/hwmon/hwmon0/power1_input", "5000000\n");
    /* 40 x "é" (80 bytes) in a 64-byte label: 63 bytes end inside the 32nd */
    dev(root, 1, "amdgpu\n");
    put(root, "class/hwmon/hwmon1/power1_input", "5000000\n");
    put(root, "class/hwmon/hwmon1/power1_label", e_acute(text, sizeof text, "", 40, "\n"));
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_int_equal(in->n_not_summed, 1);
    const char *ns = in->not_summed[0];
    assert_true(wl_utf8_valid(ns, strlen(ns)));
    assert_non_null(strstr(ns, e_acute(want, sizeof want, "hwmon0/x", 11, "/power1: ")));
    const struct wl_sensor_channel *c = &in->ch[0];
    assert_true(wl_utf8_valid(c->label, strlen(c->label)));
    assert_string_equal(c->label, e_acute(want, sizeof want, "", 31, ""));
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* A sysfs root longer than the source keeps is cut between characters and
 * ends "...", the channel count after it kept; a why that quotes it (here
 * longer than the why field) is cut between characters too. Each pad puts
 * the cuts in another place in the "é"s. */
static void test_long_multibyte_root_is_cut_between_characters(void **state)
{
    (void)state;
    char *tmp = wl_test_tmpdir();
    for (int pad = 0; pad < 2; pad++) {
        char *root = wl_test_mkdir_multibyte(tmp, pad, 2);
        assert_non_null(root);
        char sys[4096];
        snprintf(sys, sizeof sys, "%s/ok", root);
        mkdir(sys, 0755);
        dev(sys, 0, "amdgpu\n");
        put(sys, "class/hwmon/hwmon0/power1_input", "5000000\n");
        wl_sensor *s = open_hwmon(sys);
        const char *src = wl_sensor_get_info(s)->source;
        size_t n = strlen(src);
        assert_true(wl_utf8_valid(src, n));
        assert_true(strncmp(src, tmp, strlen(tmp)) == 0);
        const char *tail = "... (1 channel(s))";
        assert_true(n > strlen(tail) && strcmp(src + n - strlen(tail), tail) == 0);
        wl_sensor_close(s);

        snprintf(sys, sizeof sys, "%s/none", root);
        mkdir(sys, 0755);
        dev(sys, 0, "coretemp\n");
        struct wl_sensor_status st;
        assert_int_equal(open_hwmon_rc(sys, &s, &st), WL_ENOTSUP);
        assert_true(wl_utf8_valid(st.why, strlen(st.why)));
        assert_non_null(strstr(st.why, "none of the 1 hwmon device(s) under "));
        free(root);
    }
    tmpdir_free(tmp);
}

/* An energy counter that goes down (a driver reloaded) is a discontinuity:
 * the read that sees it succeeds and counts it (n_discontinuities; disc
 * "fell": a 64-bit counter never wraps, so the sampler records a gap), the
 * total never falls, and counting goes on from the new value. */
static void test_energy_counter_going_down_is_a_gap(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    amd_energy_socket(root, 0, "9000000\n");
    wl_sensor *s = open_hwmon(root);
    struct wl_sensor_reading r;
    put(root, "class/hwmon/hwmon0/energy1_input", "10000000\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 1000000);
    put(root, "class/hwmon/hwmon0/energy1_input", "500\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);  /* good from here on */
    assert_int_equal(r.v[0].energy_uj, 1000000); /* the step left out */
    assert_int_equal(r.v[0].n_discontinuities, 1);
    assert_int_equal(r.v[0].disc, WL_DISC_FELL);
    put(root, "class/hwmon/hwmon0/energy1_input", "2000500\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 3000000); /* 1 J before, 2 J after */
    assert_int_equal(r.v[0].n_discontinuities, 1);
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* FIFOs as a power*_input and as a label hang nothing: the input is listed
 * as not read (not a regular file), the label is left empty. */
static void test_fifos_do_not_hang(void **state)
{
    (void)state;
    alarm(WATCHDOG_S);
    char *root = wl_test_tmpdir();
    char path[2048];
    dev(root, 0, "amdgpu\n");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/power1_input", root);
    assert_int_equal(mkfifo(path, 0644), 0);
    dev(root, 1, "amdgpu\n");
    put(root, "class/hwmon/hwmon1/power1_input", "5000000\n");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon1/power1_label", root);
    assert_int_equal(mkfifo(path, 0644), 0);
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon1/amdgpu/power1");
    assert_string_equal(in->ch[0].label, "");
    assert_int_equal(in->n_not_read, 1);
    assert_non_null(strstr(in->not_read[0], "hwmon0/amdgpu/power1: a FIFO, not a regular file"));
    assert_non_null(strstr(in->source, "PARTIAL"));
    wl_sensor_close(s);
    tmpdir_free(root);
    alarm(0);
}

/* More devices than channels: taken in number order (hwmon2 before
 * hwmon10), the rest listed as not read, never dropped silently. */
static void test_devices_over_the_limit_are_listed(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    enum { N = WL_SENSOR_MAX_CHANNELS + 6 };
    for (int i = N - 1; i >= 0; i--) {
        char rel[128];
        dev(root, i, "amdgpu\n");
        snprintf(rel, sizeof rel, "class/hwmon/hwmon%d/power1_input", i);
        put(root, rel, "5000000\n");
    }
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, WL_SENSOR_MAX_CHANNELS);
    for (unsigned i = 0; i < in->n_channels; i++) {
        char want[64];
        snprintf(want, sizeof want, "hwmon%u/amdgpu/power1", i);
        assert_string_equal(in->ch[i].name, want);
    }
    assert_int_equal(in->n_not_read, 6);
    char want[96];
    snprintf(want, sizeof want, "hwmon%d/amdgpu/power1: over the limit", WL_SENSOR_MAX_CHANNELS);
    assert_non_null(strstr(in->not_read[0], want));
    assert_non_null(strstr(in->source, "PARTIAL: 6 found but not read"));
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* The sum of the powers of the channels of domain d in r: what the
 * sampler adds up for d (it sums the channels of one sensor and domain). */
static double domain_power_w(const struct wl_sensor_info *in, const struct wl_sensor_reading *r,
                             enum wl_domain d)
{
    double w = 0;
    for (unsigned i = 0; i < in->n_channels; i++)
        if (in->ch[i].domain == d && (r->v[i].valid & WL_CH_POWER))
            w += r->v[i].power_w;
    return w;
}

/* True when one of the texts kept of n notes contains every one of a and b. */
static bool in_notes(unsigned n, const char (*texts)[WL_SENSOR_NOTE_MAX], const char *a,
                     const char *b)
{
    for (unsigned i = 0; i < n && i < WL_SENSOR_MAX_NOT_READ; i++)
        if (strstr(texts[i], a) && strstr(texts[i], b))
            return true;
    return false;
}

/* ... of in's not-read texts */
static bool listed(const struct wl_sensor_info *in, const char *a, const char *b)
{
    return in_notes(in->n_not_read, in->not_read, a, b);
}

/* ... of in's not-summed texts */
static bool not_summed(const struct wl_sensor_info *in, const char *a, const char *b)
{
    return in_notes(in->n_not_summed, in->not_summed, a, b);
}

/* Whole-system meters are never summed: corsair-psu's power1 ("power
 * total", 300 W) includes its rails power2-4. Exactly one channel of them
 * is read as the total (one labelled total, before the first device's
 * power1); the meter's other channels are listed as not summed (inside
 * it), another meter's as not read (which meter holds the total is a
 * guess); a device of unknown scope (nzxtsmart2, a fan and pump
 * controller) is not summed at all; a GPU is read as before. */
static void test_whole_system_meters_are_never_summed(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    dev(root, 0, "nzxtsmart2\n");
    put(root, "class/hwmon/hwmon0/power1_input", "5000000\n");
    dev(root, 1, "amdgpu\n");
    put(root, "class/hwmon/hwmon1/power1_input", "45000000\n");
    dev(root, 3, "corsairpsu\n");
    static const char *rails[][2] = {{"300000000\n", "power total\n"},
                                     {"250000000\n", "power 12v\n"},
                                     {"30000000\n", "power 5v\n"},
                                     {"10000000\n", "power 3.3v\n"}};
    for (int i = 0; i < 4; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "class/hwmon/hwmon3/power%d_input", i + 1);
        put(root, rel, rails[i][0]);
        snprintf(rel, sizeof rel, "class/hwmon/hwmon3/power%d_label", i + 1);
        put(root, rel, rails[i][1]);
    }
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    assert_non_null(find(in, "hwmon1/amdgpu/power1"));
    const struct wl_sensor_channel *total = find(in, "hwmon3/corsairpsu/power1");
    assert_non_null(total);
    assert_int_equal(total->domain, WL_DOMAIN_TOTAL);
    assert_true(total->flags & WL_CH_CONTAINS);
    assert_string_equal(total->label, "power total");
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_float_equal(domain_power_w(in, &r, WL_DOMAIN_TOTAL), 300.0, 1e-9);
    assert_float_equal(domain_power_w(in, &r, WL_DOMAIN_GPU), 45.0, 1e-9);
    assert_int_equal(in->n_not_read, 0);
    assert_int_equal(in->n_not_summed, 4);
    assert_non_null(strstr(in->not_summed[0], "hwmon0/nzxtsmart2/power1: scope unknown"));
    for (int i = 2; i <= 4; i++) {
        char rail[64];
        snprintf(rail, sizeof rail, "hwmon3/corsairpsu/power%d: not summed with ", i);
        /* channels of one rank in file order */
        assert_non_null(strstr(in->not_summed[i - 1], rail));
        assert_true(not_summed(in, rail, "hwmon3/corsairpsu/power1, read as this device's total"));
    }
    assert_null(strstr(in->source, "PARTIAL"));
    assert_non_null(strstr(in->source, " - 4 not summed"));
    wl_sensor_close(s);
    tmpdir_free(root);

    /* an ACPI power meter (the whole system) is the total before any other
     * meter, and an unreadable best channel gives way to the next */
    root = wl_test_tmpdir();
    dev(root, 0, "corsairpsu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "7000000\n");
    put(root, "class/hwmon/hwmon0/power1_label", "cpu\n");
    put(root, "class/hwmon/hwmon0/power2_input", "9000000\n");
    put(root, "class/hwmon/hwmon0/power2_label", "Board TOTAL\n");
    dev(root, 2, "power_meter\n");
    char path[2048];
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon2/energy1_input", root);
    assert_int_equal(mkdir(path, 0755), 0); /* EISDIR: not read */
    put(root, "class/hwmon/hwmon2/power1_input", "400000000\n");
    put(root, "class/hwmon/hwmon2/power2_input", "1000000\n");
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon2/power_meter/power1");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_float_equal(domain_power_w(in, &r, WL_DOMAIN_TOTAL), 400.0, 1e-9);
    assert_int_equal(in->n_not_read, 3);
    assert_true(listed(in, "hwmon2/power_meter/energy1: ", "directory"));
    assert_true(listed(in, "hwmon0/corsairpsu/power1: not summed with hwmon2/power_meter/power1",
                       "whole-system meters"));
    assert_true(
        listed(in, "hwmon0/corsairpsu/power2: not summed with hwmon2/power_meter/power1", ""));
    assert_int_equal(in->n_not_summed, 1);
    assert_true(not_summed(in,
                           "hwmon2/power_meter/power2: not summed with hwmon2/power_meter/power1",
                           "this device's total"));
    wl_sensor_close(s);

    /* without the power meter, the PSU's power2 ("Board TOTAL", any case)
     * is the total, before its power1 */
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon2", root);
    wl_test_rmtree(path);
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon0/corsairpsu/power2");
    assert_int_equal(in->n_not_read, 0);
    assert_true(
        not_summed(in, "hwmon0/corsairpsu/power1: not summed with hwmon0/corsairpsu/power2", ""));
    wl_sensor_close(s);
    tmpdir_free(root);

    /* meters of one rank are taken in natural order: hwmon2 before hwmon10
     * (which sorts first by bytes), even though hwmon10's best channel
     * (power1) ranks above hwmon2's; hwmon2's channels of one rank in file
     * order */
    root = wl_test_tmpdir();
    dev(root, 10, "corsairpsu\n");
    put(root, "class/hwmon/hwmon10/power1_input", "3000000\n");
    dev(root, 2, "corsairpsu\n");
    put(root, "class/hwmon/hwmon2/power3_input", "2000000\n");
    put(root, "class/hwmon/hwmon2/power2_input", "1000000\n");
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon2/corsairpsu/power2");
    assert_int_equal(in->n_not_summed, 1);
    assert_non_null(strstr(in->not_summed[0],
                           "hwmon2/corsairpsu/power3: not summed with hwmon2/corsairpsu/power2"));
    assert_int_equal(in->n_not_read, 1);
    assert_non_null(strstr(in->not_read[0],
                           "hwmon10/corsairpsu/power1: not summed with hwmon2/corsairpsu/power2"));
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* A device's whole that cannot be read is never replaced by one of its
 * parts: a Corsair PSU whose power1 ("power total") fails (EISDIR here)
 * had its 12 V rail read as the machine's total, and the headline dropped
 * everything else as inside it. Now the meter is skipped (its rails listed
 * as not read: the sensor is PARTIAL) and another meter, when there is
 * one, is the total; an xe card whose "card" fails is not read from its
 * "pkg" either. A channel 1 that fails still gives way to its other file
 * (energy1 to power1: the same channel). */
static void test_a_part_is_never_read_as_the_whole(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    dev(root, 0, "corsairpsu\n");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/power1_input", root);
    assert_int_equal(mkdir(path, 0755), 0); /* EISDIR: not read */
    put(root, "class/hwmon/hwmon0/power1_label", "power total\n");
    put(root, "class/hwmon/hwmon0/power2_input", "90000000\n");
    put(root, "class/hwmon/hwmon0/power2_label", "power 12v\n");
    put(root, "class/hwmon/hwmon0/power3_input", "10000000\n");
    put(root, "class/hwmon/hwmon0/power3_label", "power 5v\n");
    dev(root, 1, "amdgpu\n");
    put(root, "class/hwmon/hwmon1/power1_input", "45000000\n");
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon1/amdgpu/power1");
    for (unsigned i = 0; i < in->n_channels; i++)
        assert_int_not_equal(in->ch[i].domain, WL_DOMAIN_TOTAL);
    assert_int_equal(in->n_not_read, 3);
    assert_true(listed(in, "hwmon0/corsairpsu/power1: ", "directory"));
    for (int i = 2; i <= 3; i++) {
        char rail[64];
        snprintf(rail, sizeof rail, "hwmon0/corsairpsu/power%d: not read: a part", i);
        assert_true(listed(in, rail, "(hwmon0/corsairpsu/power1)"));
    }
    assert_int_equal(in->n_not_summed, 0);
    assert_non_null(strstr(in->source, "PARTIAL"));
    wl_sensor_close(s);

    /* another meter whose total can be read is the total */
    dev(root, 2, "corsairpsu\n");
    put(root, "class/hwmon/hwmon2/power1_input", "300000000\n");
    put(root, "class/hwmon/hwmon2/power1_label", "power total\n");
    put(root, "class/hwmon/hwmon2/power2_input", "250000000\n");
    put(root, "class/hwmon/hwmon2/power2_label", "power 12v\n");
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    const struct wl_sensor_channel *total = find(in, "hwmon2/corsairpsu/power1");
    assert_non_null(total);
    assert_int_equal(total->domain, WL_DOMAIN_TOTAL);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_float_equal(domain_power_w(in, &r, WL_DOMAIN_TOTAL), 300.0, 1e-9);
    assert_true(listed(in, "hwmon0/corsairpsu/power2: not read: a part", ""));
    assert_true(
        not_summed(in, "hwmon2/corsairpsu/power2: not summed with hwmon2/corsairpsu/power1", ""));
    wl_sensor_close(s);
    tmpdir_free(root);

    /* xe: "pkg" is a part of "card" */
    root = wl_test_tmpdir();
    dev(root, 0, "xe\n");
    put(root, "class/hwmon/hwmon0/energy1_input", "60000000\n");
    put(root, "class/hwmon/hwmon0/energy1_label", "pkg\n");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/energy2_input", root);
    assert_int_equal(mkdir(path, 0755), 0);
    put(root, "class/hwmon/hwmon0/energy2_label", "card\n");
    dev(root, 1, "amdgpu\n");
    put(root, "class/hwmon/hwmon1/power1_input", "45000000\n");
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon1/amdgpu/power1");
    assert_int_equal(in->n_not_read, 2);
    assert_true(listed(in, "hwmon0/xe/energy2: ", "directory"));
    assert_true(listed(in, "hwmon0/xe/energy1: not read: a part", "(hwmon0/xe/energy2)"));
    wl_sensor_close(s);
    tmpdir_free(root);

    /* a GPU without labels: its energy1 failing gives way to power1 (the
     * same channel), never to energy2 */
    root = wl_test_tmpdir();
    dev(root, 0, "amdgpu\n");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/energy1_input", root);
    assert_int_equal(mkdir(path, 0755), 0);
    put(root, "class/hwmon/hwmon0/power1_input", "30000000\n");
    put(root, "class/hwmon/hwmon0/energy2_input", "1000000\n");
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon0/amdgpu/power1");
    assert_int_equal(in->n_not_read, 1);
    assert_true(listed(in, "hwmon0/amdgpu/energy1: ", "directory"));
    assert_true(not_summed(in, "hwmon0/amdgpu/energy2: not summed with hwmon0/amdgpu/power1", ""));
    wl_sensor_close(s);
    tmpdir_free(root);
}

static void put_powercap_package(const char *root)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/class", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/class/powercap", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0", root);
    mkdir(path, 0755);
    put(root, "class/powercap/intel-rapl:0/name", "package-0\n");
    put(root, "class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
    put(root, "class/powercap/intel-rapl:0/energy_uj", "1000000\n");
}

/* The domains of every open sensor's channels (bit 1 << domain). */
static unsigned set_domains(const wl_sensor_set *set)
{
    unsigned m = 0;
    for (unsigned i = 0; i < wl_sensor_set_count(set); i++) {
        const struct wl_sensor_info *in = wl_sensor_get_info(wl_sensor_set_get(set, i));
        for (unsigned c = 0; c < in->n_channels; c++)
            m |= 1u << in->ch[c].domain;
    }
    return m;
}

/* The domains with a channel that is a part of another (WL_CH_PART), as
 * the sampler gives them to the headline rule. */
static unsigned set_parts(const wl_sensor_set *set)
{
    unsigned m = 0;
    for (unsigned i = 0; i < wl_sensor_set_count(set); i++) {
        const struct wl_sensor_info *in = wl_sensor_get_info(wl_sensor_set_get(set, i));
        for (unsigned c = 0; c < in->n_channels; c++)
            if (in->ch[c].flags & WL_CH_PART)
                m |= 1u << in->ch[c].domain;
    }
    return m;
}

/* The status of backend name in set (NULL when not tried). */
static const struct wl_sensor_status *status_of(const wl_sensor_set *set, const char *name)
{
    for (unsigned i = 0; i < wl_sensor_set_status_count(set); i++)
        if (strcmp(wl_sensor_set_status(set, i)->backend, name) == 0)
            return wl_sensor_set_status(set, i);
    return NULL;
}

/* A device of unknown scope is never the run's energy: the sfp driver's
 * power1/power2 are an SFP module's TX and RX laser power (uW of light).
 * As a "total" it displaced the 100 W RAPL package from the headline, and
 * J/token became the laser's. Now none of its channels is summed: each is
 * listed as not summed (the total is not partial for it), the headline
 * stays package, and with nothing else to read hwmon says why. */
static void test_device_of_unknown_scope_is_not_summed(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_powercap_package(root);
    dev(root, 0, "sfp\n");
    put(root, "class/hwmon/hwmon0/power1_input", "500\n");
    put(root, "class/hwmon/hwmon0/power1_label", "TX_power\n");
    put(root, "class/hwmon/hwmon0/power2_input", "300\n");
    put(root, "class/hwmon/hwmon0/power2_label", "RX_power\n");
    dev(root, 1, "coretemp\n");
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.period_probe_ns = 0;
    p.backends = WL_BACKEND_RAPL_POWERCAP | WL_BACKEND_HWMON;
    p.model_use = WL_MODEL_NEVER;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1); /* rapl-powercap alone */
    const unsigned present = set_domains(set);
    assert_int_equal(present, 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(wl_headline_domains(present, set_parts(set)), 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(wl_sensor_set_n_not_read(set), 0);
    const struct wl_sensor_status *hw = status_of(set, "hwmon");
    assert_non_null(hw);
    assert_false(hw->available);
    assert_non_null(strstr(hw->why, "measures a known scope (2 channel(s) not summed; the first: "
                                    "hwmon0/sfp/power1: scope unknown (not a whole-system "
                                    "meter), not summed)"));
    wl_sensor_set_close(set);

    /* next to a GPU: the GPU is read, the module listed, nothing PARTIAL */
    dev(root, 2, "amdgpu\n");
    put(root, "class/hwmon/hwmon2/power1_input", "45000000\n");
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_HWMON, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon2/amdgpu/power1");
    assert_int_equal(in->n_not_read, 0);
    assert_int_equal(in->n_not_summed, 2);
    assert_string_equal(in->not_summed[0],
                        "hwmon0/sfp/power1: scope unknown (not a whole-system meter), not summed");
    assert_string_equal(in->not_summed[1],
                        "hwmon0/sfp/power2: scope unknown (not a whole-system meter), not summed");
    assert_null(strstr(in->source, "PARTIAL"));
    assert_non_null(strstr(in->source, "(1 channel(s)) - 2 not summed"));
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* The sum of the energies of the channels of domain d in r. */
static uint64_t domain_energy_uj(const struct wl_sensor_info *in, const struct wl_sensor_reading *r,
                                 enum wl_domain d)
{
    uint64_t e = 0;
    for (unsigned i = 0; i < in->n_channels; i++)
        if (in->ch[i].domain == d && (r->v[i].valid & WL_CH_ENERGY))
            e += r->v[i].energy_uj;
    return e;
}

/* One GPU is read as one whole: Intel's xe driver exposes energy1 "card"
 * and energy2 "pkg", and the package is inside the card (Level Zero's
 * card and package power domains). Both were summed into gpu: a card
 * drawing 30 W read as 50 W. Now the channel labelled card is read and
 * pkg is listed as not summed; without labels channel 1 is read. i915's
 * per-GT devices (i915_gtN) are parts of the i915 device, not summed. */
static void test_gpu_device_is_read_as_one_whole(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    dev(root, 0, "xe\n");
    /* pkg first in file order and as channel 1: the label decides */
    put(root, "class/hwmon/hwmon0/energy1_input", "60000000\n");
    put(root, "class/hwmon/hwmon0/energy1_label", "pkg\n");
    put(root, "class/hwmon/hwmon0/energy2_input", "91000000\n");
    put(root, "class/hwmon/hwmon0/energy2_label", "card\n");
    dev(root, 1, "i915\n");
    put(root, "class/hwmon/hwmon1/energy1_input", "1000000\n");
    dev(root, 2, "i915_gt0\n");
    put(root, "class/hwmon/hwmon2/energy1_input", "500000\n");
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    const struct wl_sensor_channel *card = find(in, "hwmon0/xe/energy2");
    assert_non_null(card);
    assert_int_equal(card->domain, WL_DOMAIN_GPU);
    assert_string_equal(card->label, "card");
    assert_non_null(find(in, "hwmon1/i915/energy1"));
    assert_int_equal(in->n_not_read, 0);
    assert_int_equal(in->n_not_summed, 2);
    assert_string_equal(in->not_summed[0],
                        "hwmon0/xe/energy1: not summed with hwmon0/xe/energy2, read as this "
                        "device's total (channels of one device may include each other)");
    assert_string_equal(in->not_summed[1], "hwmon2/i915_gt0/energy1: a part of a GPU (the i915 "
                                           "device reads the whole GPU), not summed");
    /* 1 s at 30 W (card), 20 W (pkg), 10 W (the i915 card), 5 W (its GT) */
    put(root, "class/hwmon/hwmon0/energy1_input", "80000000\n");
    put(root, "class/hwmon/hwmon0/energy2_input", "121000000\n");
    put(root, "class/hwmon/hwmon1/energy1_input", "11000000\n");
    put(root, "class/hwmon/hwmon2/energy1_input", "5500000\n");
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(domain_energy_uj(in, &r, WL_DOMAIN_GPU), 40000000);
    wl_sensor_close(s);
    tmpdir_free(root);

    /* no labels: channel 1, an energy counter before a power */
    root = wl_test_tmpdir();
    dev(root, 0, "xe\n");
    put(root, "class/hwmon/hwmon0/power1_input", "30000000\n");
    put(root, "class/hwmon/hwmon0/energy2_input", "1000000\n");
    put(root, "class/hwmon/hwmon0/energy1_input", "2000000\n");
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon0/xe/energy1");
    assert_int_equal(in->n_not_summed, 2);
    assert_true(not_summed(in, "hwmon0/xe/power1: not summed with hwmon0/xe/energy1", ""));
    assert_true(not_summed(in, "hwmon0/xe/energy2: not summed with hwmon0/xe/energy1", ""));
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* amdgpu on an APU reports the socket's power, the CPU's included (the
 * driver's hwmon docs: "On APUs this includes the CPU"). As gpu it was
 * added to the RAPL package (or to the CPU model's, as a normal user):
 * the CPU counted twice. An APU is told by what amdgpu makes only there
 * (in1, vddnb, readable; or a fastPPT label): its channel is soc,
 * containing the package, and the headline is soc alone; it is a CPU
 * source, so the CPU model is not opened beside it. A discrete card
 * (no in1) stays gpu, added to the package. */
static void test_amdgpu_apu_is_the_socket_not_a_gpu(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_powercap_package(root);
    dev(root, 0, "amdgpu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "25000000\n");
    put(root, "class/hwmon/hwmon0/power1_label", "PPT\n");
    put(root, "class/hwmon/hwmon0/in0_input", "1100\n");
    put(root, "class/hwmon/hwmon0/in0_label", "vddgfx\n");
    put(root, "class/hwmon/hwmon0/in1_input", "900\n");
    put(root, "class/hwmon/hwmon0/in1_label", "vddnb\n");
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.period_probe_ns = 0;
    p.backends = WL_BACKEND_RAPL_POWERCAP | WL_BACKEND_HWMON;
    p.model_use = WL_MODEL_NEVER;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 2);
    unsigned present = set_domains(set);
    assert_int_equal(present, (1u << WL_DOMAIN_PACKAGE) | (1u << WL_DOMAIN_SOC));
    assert_int_equal(wl_headline_domains(present, set_parts(set)), 1u << WL_DOMAIN_SOC);
    const struct wl_sensor_info *in = wl_sensor_get_info(wl_sensor_set_get(set, 1));
    assert_string_equal(in->backend, "hwmon");
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon0/amdgpu/power1");
    assert_int_equal(in->ch[0].domain, WL_DOMAIN_SOC);
    assert_true(in->ch[0].flags & WL_CH_CONTAINS);
    wl_sensor_set_close(set);

    /* as a normal user (no RAPL): the APU is the CPU source, no model */
    p.backends = WL_BACKEND_HWMON | WL_BACKEND_CPU_MODEL;
    p.model_use = WL_MODEL_AUTO;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    assert_int_equal(set_domains(set), 1u << WL_DOMAIN_SOC);
    const struct wl_sensor_status *model = status_of(set, "cpu-model");
    assert_non_null(model);
    assert_true(model->skipped);
    wl_sensor_set_close(set);

    /* Van Gogh (Steam Deck): no in1 here, but slowPPT/fastPPT: soc, one
     * channel (the two are one power averaged two ways) */
    char path[2048];
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/in1_input", root);
    assert_int_equal(unlink(path), 0);
    put(root, "class/hwmon/hwmon0/power1_label", "slowPPT\n");
    put(root, "class/hwmon/hwmon0/power2_input", "26000000\n");
    put(root, "class/hwmon/hwmon0/power2_label", "fastPPT\n");
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_HWMON, &p, &s, NULL), 0);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "hwmon0/amdgpu/power1");
    assert_int_equal(in->ch[0].domain, WL_DOMAIN_SOC);
    assert_int_equal(in->n_not_summed, 1);
    assert_true(not_summed(in, "hwmon0/amdgpu/power2: not summed with hwmon0/amdgpu/power1", ""));
    wl_sensor_close(s);

    /* a discrete card: no in1 (amdgpu hides it there), a PPT label: gpu,
     * beside the package */
    put(root, "class/hwmon/hwmon0/power1_label", "PPT\n");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/power2_input", root);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/power2_label", root);
    assert_int_equal(unlink(path), 0);
    put(root, "class/hwmon/hwmon0/freq2_input", "1000000000\n");
    put(root, "class/hwmon/hwmon0/freq2_label", "mclk\n");
    p.backends = WL_BACKEND_RAPL_POWERCAP | WL_BACKEND_HWMON;
    p.model_use = WL_MODEL_NEVER;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    present = set_domains(set);
    assert_int_equal(present, (1u << WL_DOMAIN_PACKAGE) | (1u << WL_DOMAIN_GPU));
    assert_int_equal(wl_headline_domains(present, set_parts(set)),
                     (1u << WL_DOMAIN_PACKAGE) | (1u << WL_DOMAIN_GPU));
    wl_sensor_set_close(set);
    /* an in1 that cannot be read (an old kernel made it on a discrete
     * card, where reading it fails) is no APU */
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/in1_input", root);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_HWMON, &p, &s, NULL), 0);
    assert_int_equal(wl_sensor_get_info(s)->ch[0].domain, WL_DOMAIN_GPU);
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* An APU that amdgpu gives no vddnb: MI300A (GC 9.4.3, PCI id 0x74a0),
 * whose in1 amdgpu_pm.c hides as it does a card's. As gpu its socket
 * power, CPU included, was added to the RAPL package; it is told by its
 * PCI id, and the same GC's card (MI300X, 0x74a1) stays a gpu. */
static void test_amdgpu_apu_without_vddnb_by_pci_id(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048];
    dev(root, 0, "amdgpu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "550000000\n");
    put(root, "class/hwmon/hwmon0/power1_label", "PPT\n");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0/device", root);
    assert_int_equal(mkdir(path, 0755), 0);
    put(root, "class/hwmon/hwmon0/device/vendor", "0x1002\n");
    put(root, "class/hwmon/hwmon0/device/device", "0x74a0\n");
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_int_equal(in->ch[0].domain, WL_DOMAIN_SOC);
    assert_true(in->ch[0].flags & WL_CH_CONTAINS);
    wl_sensor_close(s);
    /* MI300X: a card */
    put(root, "class/hwmon/hwmon0/device/device", "0x74a1\n");
    s = open_hwmon(root);
    assert_int_equal(wl_sensor_get_info(s)->ch[0].domain, WL_DOMAIN_GPU);
    wl_sensor_close(s);
    /* another vendor's id is no AMD APU */
    put(root, "class/hwmon/hwmon0/device/vendor", "0x10de\n");
    put(root, "class/hwmon/hwmon0/device/device", "0x74a0\n");
    s = open_hwmon(root);
    assert_int_equal(wl_sensor_get_info(s)->ch[0].domain, WL_DOMAIN_GPU);
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* How many times in1_input was opened, from the inotify watch ino (its
 * folder, IN_OPEN | IN_CLOSE_NOWRITE: closes too, since inotify merges
 * identical events in a row); closes ino. */
static unsigned in1_opens(int ino)
{
    unsigned n_open = 0;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t len;
    while ((len = read(ino, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if ((ev->mask & IN_OPEN) && ev->len && strcmp(ev->name, "in1_input") == 0)
                n_open++;
            p += sizeof *ev + ev->len;
        }
    }
    close(ino);
    return n_open;
}

/* An amdgpu device of 25 W whose in1 (vddnb) reads as in1 says, and whose
 * device's power/runtime_status holds status (NULL: none): opened, its
 * first channel checked to be a GPU, and how many times in1 was opened
 * (inotify counts the opens: no timing) and what stderr said (freed by the
 * caller) returned. */
static unsigned open_amdgpu_status_count_in1(char *root, const char *in1, const char *status,
                                             char **err)
{
    dev(root, 0, "amdgpu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "25000000\n");
    put(root, "class/hwmon/hwmon0/in1_input", in1);
    if (status) {
        mkdirs(root, "class/hwmon/hwmon0/device/power");
        put(root, "class/hwmon/hwmon0/device/power/runtime_status", status);
    }
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/class/hwmon/hwmon0", root);
    int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(ino >= 0);
    /* closes too: inotify merges identical events in a row */
    assert_true(inotify_add_watch(ino, dir, IN_OPEN | IN_CLOSE_NOWRITE) >= 0);
    wl_test_capture_stderr_begin();
    wl_sensor *s = open_hwmon(root);
    *err = wl_test_capture_stderr_end();
    assert_int_equal(wl_sensor_get_info(s)->ch[0].domain, WL_DOMAIN_GPU);
    wl_sensor_close(s);
    return in1_opens(ino);
}

static unsigned open_amdgpu_count_in1(char *root, const char *in1, char **err)
{
    return open_amdgpu_status_count_in1(root, in1, NULL, err);
}

/* A discrete GPU that is runtime-suspended refuses every power file with
 * EPERM (amdgpu_pm_get_access_if_active), in1 too: that says nothing of
 * in1, and amdgpu runtime-suspends discrete boards only. Its in1 was read
 * twice, 50 ms apart, with the warning about an APU in a reset, on every
 * open while the card slept; now the device's runtime_status is checked
 * first (as for its power files): a card at once, in1 read once, no
 * warning. EPERM while "active" (a GPU reset) is still read twice. */
static void test_amdgpu_suspended_vddnb_eperm_is_a_card_at_once(void **state)
{
    (void)state;
    static const char *const asleep[] = {"suspended\n", "suspending\n"};
    for (int i = 0; i < 2; i++) {
        char *root = wl_test_tmpdir();
        char *err = NULL;
        assert_int_equal(open_amdgpu_status_count_in1(root, "EPERM\n", asleep[i], &err), 1);
        assert_true(!err || !strstr(err, "in1 (vddnb)"));
        free(err);
        tmpdir_free(root);
    }
    char *root = wl_test_tmpdir();
    char *err = NULL;
    assert_int_equal(open_amdgpu_status_count_in1(root, "EPERM\n", "active\n", &err), 2);
    assert_non_null(err);
    assert_non_null(strstr(err, "in1 (vddnb) exists but cannot be read (twice)"));
    free(err);
    tmpdir_free(root);
}

/* An in1 (vddnb) that exists but fails to read is what an old kernel
 * makes on a card, and what amdgpu gives an APU during a GPU reset or
 * suspend (-EPERM): it is read a second time before the device is taken
 * for a card (inotify counts the opens: no timing), and a card then comes
 * with a warning that says what it would mean for an APU. */
static void test_amdgpu_unreadable_vddnb_is_read_twice(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char *err = NULL;
    assert_int_equal(open_amdgpu_count_in1(root, "EPERM\n", &err), 2);
    assert_non_null(err);
    assert_non_null(strstr(err, "hwmon0 (amdgpu): in1 (vddnb) exists but cannot be read (twice)"));
    free(err);
    tmpdir_free(root);
}

/* A discrete card on an old kernel has an in1 that fails with EINVAL
 * (amdgpu_hwmon_show_vddnb: "only APUs have vddnb"; a reset or suspend
 * fails it with EPERM, checked first): a card at once, read once, with
 * no warning about an APU. It cost 50 ms and that warning per card on
 * every open. */
static void test_amdgpu_vddnb_einval_is_a_card_at_once(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char *err = NULL;
    assert_int_equal(open_amdgpu_count_in1(root, "EINVAL\n", &err), 1);
    assert_true(!err || !strstr(err, "in1 (vddnb)"));
    free(err);
    tmpdir_free(root);
}

/* The ACPI power meter exposes power1_average, never power1_input
 * (acpi_power_meter.c, POWER_AVERAGE_NAME), and before its conversion to
 * hwmon_device_register_with_info it made its attributes, name included,
 * on the ACPI device: hwmonN/device/. Only *_input was read, in hwmonN/
 * only, so no real power meter was ever read; many amdgpu cards have only
 * power1_average too. Now power*_average is read (a vendor estimate: the
 * device's own average), in hwmonN/device/ when hwmonN/ has no power
 * files; a channel with both files is read once, from *_input. */
static void test_power_meter_and_averages_are_read(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char path[2048], link[2048];
    /* the legacy layout: hwmon0 holds a link to the ACPI device, no name */
    dev(root, 1, "coretemp\n"); /* makes class/hwmon */
    snprintf(path, sizeof path, "%s/devices", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/devices/ACPI000D:00", root);
    assert_int_equal(mkdir(path, 0755), 0);
    put(root, "devices/ACPI000D:00/name", "power_meter\n");
    put(root, "devices/ACPI000D:00/power1_average", "312000000\n");
    put(root, "devices/ACPI000D:00/power1_average_interval", "1000\n");
    put(root, "devices/ACPI000D:00/power1_is_battery", "0\n");
    put(root, "devices/ACPI000D:00/power1_oem_info", "meter\n");
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(link, sizeof link, "%s/class/hwmon/hwmon0/device", root);
    assert_int_equal(symlink("../../../devices/ACPI000D:00", link), 0);
    /* a discrete amdgpu card with power1_average alone, and one with both */
    dev(root, 2, "amdgpu\n");
    put(root, "class/hwmon/hwmon2/power1_average", "80000000\n");
    put(root, "class/hwmon/hwmon2/power1_label", "PPT\n");
    dev(root, 3, "amdgpu\n");
    put(root, "class/hwmon/hwmon3/power1_average", "70000000\n");
    put(root, "class/hwmon/hwmon3/power1_input", "90000000\n");
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 3);
    assert_int_equal(in->n_not_read, 0);
    assert_int_equal(in->n_not_summed, 0);
    const struct wl_sensor_channel *meter = find(in, "hwmon0/power_meter/power1");
    assert_non_null(meter);
    assert_int_equal(meter->domain, WL_DOMAIN_TOTAL);
    assert_true(meter->flags & WL_CH_CONTAINS);
    assert_int_equal(meter->method, WL_METHOD_VENDOR_ESTIMATE);
    const struct wl_sensor_channel *avg = find(in, "hwmon2/amdgpu/power1");
    assert_non_null(avg);
    assert_int_equal(avg->domain, WL_DOMAIN_GPU);
    assert_int_equal(avg->method, WL_METHOD_VENDOR_ESTIMATE);
    assert_string_equal(avg->label, "PPT");
    const struct wl_sensor_channel *both = find(in, "hwmon3/amdgpu/power1");
    assert_non_null(both);
    assert_int_equal(both->method, WL_METHOD_SAMPLED);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_float_equal(domain_power_w(in, &r, WL_DOMAIN_TOTAL), 312.0, 1e-9);
    assert_float_equal(domain_power_w(in, &r, WL_DOMAIN_GPU), 80.0 + 90.0, 1e-9);
    wl_sensor_close(s);

    /* the converted driver: name and power1_average in hwmonN/ */
    snprintf(path, sizeof path, "%s/class/hwmon/hwmon0", root);
    wl_test_rmtree(path);
    dev(root, 0, "power_meter\n");
    put(root, "class/hwmon/hwmon0/power1_average", "200000000\n");
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    meter = find(in, "hwmon0/power_meter/power1");
    assert_non_null(meter);
    assert_int_equal(meter->method, WL_METHOD_VENDOR_ESTIMATE);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_float_equal(domain_power_w(in, &r, WL_DOMAIN_TOTAL), 200.0, 1e-9);
    wl_sensor_close(s);
    tmpdir_free(root);
}

/* The fix when no device is usable, by the kernel the machine runs
 * (<proc>/sys/kernel/osrelease): the amd_energy driver was in Linux 5.8 to
 * 5.12 only (removed in 5.13), so "sudo modprobe amd_energy" is advice for
 * those kernels alone; on a later one an AMD CPU's energy is RAPL, read by
 * rapl-powercap (5.11 and later) and rapl-perf (5.8 and later). It said
 * "sudo modprobe amd_energy" on every kernel ("Module amd_energy not
 * found" on 6.18). A kernel that is not known (a sysfs tree given without
 * a /proc root) gets every case, each with its kernels. */
static void test_amd_cpu_fix_follows_the_kernel_version(void **state)
{
    (void)state;
    unsetenv("WATTLENS_PROC_ROOT"); /* the roots are the parameters' */
    char *root = wl_test_tmpdir();
    char sys[1100], proc[1100], path[1200];
    snprintf(sys, sizeof sys, "%s/sys", root);
    snprintf(proc, sizeof proc, "%s/proc", root);
    mkdir(sys, 0755);
    dev(sys, 0, "coretemp\n"); /* no power or energy file: not usable */
    snprintf(path, sizeof path, "%s/sys", proc);
    assert_int_equal(mkdir(proc, 0755) == 0 && mkdir(path, 0755) == 0, 1);
    snprintf(path, sizeof path, "%s/sys/kernel", proc);
    assert_int_equal(mkdir(path, 0755), 0);
    static const struct {
        const char *release;
        bool amd_energy; /* "sudo modprobe amd_energy" is the advice */
    } cases[] = {
        {"6.18.0-1-amd64\n", false}, {"5.13.0\n", false},
        {"5.12.19-arch1-1\n", true}, {"5.8.0-63-generic\n", true},
        {"5.7.19\n", false},         {"4.19.0-27-amd64\n", false},
        {"10.1\n", false},
    };
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = sys;
    p.proc_root = proc;
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        put(proc, "sys/kernel/osrelease", cases[k].release);
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_HWMON, &p, &s, &st), WL_ENOTSUP);
        fprintf(stderr, "%s", cases[k].release);
        fprintf(stderr, "  fix: %s\n", st.fix);
        assert_non_null(strstr(st.fix, "acpi_power_meter"));
        if (cases[k].amd_energy) {
            assert_non_null(strstr(st.fix, "sudo modprobe amd_energy"));
        } else {
            assert_null(strstr(st.fix, "modprobe amd_energy"));
            assert_non_null(strstr(st.fix, "rapl-perf"));
        }
    }
    /* 5.13 and later: the driver is gone, RAPL reads the CPU */
    put(proc, "sys/kernel/osrelease", "6.18.0-1-amd64\n");
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_HWMON, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.fix, "removed in Linux 5.13"));
    assert_non_null(strstr(st.fix, "rapl-powercap (sudo modprobe intel_rapl_msr)"));
    /* an osrelease that is not a version: not known */
    put(proc, "sys/kernel/osrelease", "garbage\n");
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_HWMON, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.fix, "only in Linux 5.8 to 5.12"));
    assert_null(strstr(st.fix, "AMD CPUs: sudo modprobe amd_energy"));
    /* a sysfs tree without a /proc root, nor a proc/ next to it: not known
     * (never the host's kernel) */
    char *root2 = wl_test_tmpdir();
    dev(root2, 0, "coretemp\n");
    p.sysfs_root = root2;
    p.proc_root = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_HWMON, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.fix, "only in Linux 5.8 to 5.12"));
    assert_non_null(strstr(st.fix, "rapl-powercap"));
    /* ... but the proc/ next to it is its own */
    put(proc, "sys/kernel/osrelease", "6.18.0-1-amd64\n");
    p.sysfs_root = sys;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_HWMON, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.fix, "removed in Linux 5.13"));
    tmpdir_free(root2);
    tmpdir_free(root);
}

/* An energy*_input channel's resolution is not known: energy*_input is in
 * uJ (the sysfs unit), but what a driver's counter steps by is its own
 * (amd_energy: the RAPL unit register's, 15.3 uJ by default, finer or
 * coarser as the part sets it; xe and i915: the GPU's). It claimed 1 uJ,
 * the unit of the file, as a measured resolution. Likewise a power*_input
 * or power*_average channel's: the file is in uW, the device's step its
 * own (the ACPI meter's is in mW at best, amdgpu's SMU its own): it
 * claimed 1 uW. */
static void test_energy_resolution_is_not_the_sysfs_unit(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    amd_energy_socket(root, 0, "5000000\n");
    dev(root, 1, "xe\n");
    put(root, "class/hwmon/hwmon1/energy1_input", "7000000\n");
    put(root, "class/hwmon/hwmon1/energy1_label", "card\n");
    wl_sensor *s = open_hwmon(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    for (unsigned i = 0; i < in->n_channels; i++) {
        assert_true(in->ch[i].flags & WL_CH_ENERGY);
        assert_float_equal(in->ch[i].resolution_uj, 0, 0); /* shown as - */
    }
    wl_sensor_close(s);
    tmpdir_free(root);
    root = wl_test_tmpdir();
    dev(root, 0, "amdgpu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "45000000\n");
    dev(root, 1, "power_meter\n");
    put(root, "class/hwmon/hwmon1/power1_average", "250000000\n");
    s = open_hwmon(root);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    for (unsigned i = 0; i < in->n_channels; i++) {
        assert_true(in->ch[i].flags & WL_CH_POWER);
        assert_float_equal(in->ch[i].power_resolution_w, 0, 0);
    }
    wl_sensor_close(s);
    tmpdir_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domains_methods_and_values),
        cmocka_unit_test(test_long_multibyte_names_are_cut_between_characters),
        cmocka_unit_test(test_long_multibyte_root_is_cut_between_characters),
        cmocka_unit_test(test_energy_counter_going_down_is_a_gap),
        cmocka_unit_test(test_fifos_do_not_hang),
        cmocka_unit_test(test_devices_over_the_limit_are_listed),
        cmocka_unit_test(test_whole_system_meters_are_never_summed),
        cmocka_unit_test(test_a_part_is_never_read_as_the_whole),
        cmocka_unit_test(test_device_of_unknown_scope_is_not_summed),
        cmocka_unit_test(test_gpu_device_is_read_as_one_whole),
        cmocka_unit_test(test_amdgpu_apu_is_the_socket_not_a_gpu),
        cmocka_unit_test(test_amdgpu_apu_without_vddnb_by_pci_id),
        cmocka_unit_test(test_amdgpu_vddnb_einval_is_a_card_at_once),
        cmocka_unit_test(test_amdgpu_suspended_vddnb_eperm_is_a_card_at_once),
        cmocka_unit_test(test_amdgpu_unreadable_vddnb_is_read_twice),
        cmocka_unit_test(test_power_meter_and_averages_are_read),
        cmocka_unit_test(test_one_failing_device_leaves_the_others_read),
        cmocka_unit_test(test_runtime_suspended_gpu_reads_zero_watts),
        cmocka_unit_test(test_sleeping_gpu_status_is_opened_once),
        cmocka_unit_test(test_eperm_names_a_gpu_only_for_a_gpu),
        cmocka_unit_test(test_amd_cpu_fix_follows_the_kernel_version),
        cmocka_unit_test(test_energy_resolution_is_not_the_sysfs_unit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

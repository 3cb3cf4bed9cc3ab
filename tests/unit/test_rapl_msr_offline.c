/* rapl_msr when the CPU a package is read through goes offline (the
 * others of its package online): the msr driver fails reads on its device
 * with ENXIO. The reader moves the package to another online CPU of it and
 * reads on, the counters' continuity kept; with no other CPU the channel
 * is not read (a gap). The old code lost the package until that CPU came
 * back. Fake /dev/cpu/N/msr files (tests/support fake_msr) and topology;
 * this test's own pread stands in for the driver: a read of a device file
 * that was removed (its /proc/self/fd link says "(deleted)") fails with
 * ENXIO. */
#define _GNU_SOURCE
#include "fake_machine.h"
#include "fake_msr.h"
#include "sensor_open.h"
#include "test_support.h"

#include "sensors/sensor.h"
#include "wattlens/wattlens.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a read of a removed file fails with: ENXIO, as the msr driver for
 * an offline CPU; EIO, as for a register that faults on an online one. */
static int deleted_errno = ENXIO;

/* Every pread of the process: deleted_errno for a removed file; else the
 * real one. */
ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "pread");
    if (wl_test_fd_is_deleted(fd)) {
        errno = deleted_errno;
        return -1;
    }
    return real(fd, buf, n, off);
}

/* An Intel client (Kaby Lake) of n_cpus CPUs on package 0, each with its
 * package energy register at pkg and 61 uJ units. */
static char *make_machine(int n_cpus, uint64_t pkg)
{
    char *root = wl_test_tmpdir();
    wl_test_mkdirs(root, "proc");
    wl_test_put_file(root, "proc/cpuinfo",
                     "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 158\n"
                     "model name\t: Test CPU 4242\n\n");
    for (int c = 0; c < n_cpus; c++) {
        char rel[128];
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology", c);
        wl_test_mkdirs(root, rel);
        snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
        wl_test_put_file(root, rel, "0\n");
        snprintf(rel, sizeof rel, "dev/cpu/%d", c);
        wl_test_mkdirs(root, rel);
        wl_test_put_machine_msr(root, c, 0x606, 0xA0E03); /* ESU 14: 61.035 uJ */
        wl_test_put_machine_msr(root, c, 0x611, pkg);
    }
    return root;
}

static wl_sensor *open_msr(const char *root, char bufs[3][1024])
{
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    snprintf(bufs[0], 1024, "%s/sys", root);
    snprintf(bufs[1], 1024, "%s/dev", root);
    snprintf(bufs[2], 1024, "%s/proc", root);
    p.sysfs_root = bufs[0];
    p.dev_root = bufs[1];
    p.proc_root = bufs[2];
    p.period_probe_ns = 0;
    return wl_test_open_backend(WL_BACKEND_RAPL_MSR, &p);
}

/* CPU 0 goes offline: its device fails, its topology goes; package-0 is
 * read on through CPU 1, the 16384 units (1 J) it rose counted. */
static void test_offline_cpu_moves_the_package_to_another(void **state)
{
    (void)state;
    char *root = make_machine(2, 1000);
    char bufs[3][1024];
    wl_sensor *s = open_msr(root, bufs);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "package-0");
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 0);
    char path[2048];
    snprintf(path, sizeof path, "%s/dev/cpu/0/msr", root);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/sys/devices/system/cpu/cpu0/topology", root);
    wl_test_rmtree(path);
    wl_test_put_file(root, "sys/devices/system/cpu/cpu0/online", "0\n");
    wl_test_put_machine_msr(root, 1, 0x611, 1000 + 16384);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_true(r.v[0].valid & WL_CH_ENERGY);
    assert_int_equal(r.v[0].energy_uj, 1000000);
    assert_int_equal(r.v[0].n_discontinuities, 0);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* The package's only CPU goes: not read (a gap), no other taken. */
static void test_offline_cpu_without_another_is_not_read(void **state)
{
    (void)state;
    char *root = make_machine(1, 1000);
    char bufs[3][1024];
    wl_sensor *s = open_msr(root, bufs);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    char path[2048];
    snprintf(path, sizeof path, "%s/dev/cpu/0/msr", root);
    assert_int_equal(unlink(path), 0);
    assert_int_not_equal(wl_sensor_read(s, &r), 0); /* no channel read: the read fails */
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* EIO is a register faulting on an online CPU (the msr driver's
 * rdmsr_safe_on_cpu), not an offline CPU: the package is not moved (a
 * move tests the unit register alone, so it would succeed and be tried
 * again at every read), the channel is not read. */
static void test_eio_is_not_a_move(void **state)
{
    (void)state;
    char *root = make_machine(2, 1000);
    char bufs[3][1024];
    wl_sensor *s = open_msr(root, bufs);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    char path[2048];
    snprintf(path, sizeof path, "%s/dev/cpu/0/msr", root);
    assert_int_equal(unlink(path), 0);
    wl_test_put_machine_msr(root, 1, 0x611, 1000 + 16384);
    deleted_errno = EIO;
    const int rc = wl_sensor_read(s, &r);
    deleted_errno = ENXIO;
    assert_int_not_equal(rc, 0); /* not read through CPU 1 */
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_cpu_moves_the_package_to_another),
        cmocka_unit_test(test_offline_cpu_without_another_is_not_read),
        cmocka_unit_test(test_eio_is_not_a_move),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

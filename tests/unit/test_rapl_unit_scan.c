/* How often the RAPL readers list <sysfs>/devices/system/cpu: the CPU scan
 * that looks for another CPU of a package to read its unit register
 * through (wl__rapl_unit_esu) runs only when another CPU's MSR device
 * could read. Without the msr driver (no <dev>/cpu) it ran once per
 * package (rapl-powercap) or per cpumask CPU (rapl-perf) at each open and
 * never found one; on a TPMI model rapl-powercap listed the CPUs and read
 * every package's unit register although no zone's unit is 0x606's.
 * scandir is counted by a definition here that the library's calls bind to
 * (libwattlens is static), which forwards to the C library's.
 * ctest-labels: no-asan no-tsan (interposes scandir, which the sanitizers' runtimes intercept) */
#define _GNU_SOURCE
#include "fake_machine.h"
#include "fake_msr.h"
#include "test_support.h"

#include "sensors/sensor.h"
#include "sensors/sensor_impl.h"
#include "wattlens/wattlens.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int n_cpu_scans; /* scandir calls on a .../devices/system/cpu */

int scandir(const char *restrict dir, struct dirent ***restrict list,
            int (*filter)(const struct dirent *),
            int (*cmp)(const struct dirent **, const struct dirent **))
{
    static int (*real)(const char *restrict, struct dirent ***restrict,
                       int (*)(const struct dirent *),
                       int (*)(const struct dirent **, const struct dirent **));
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "scandir");
    const char *tail = "/devices/system/cpu";
    const size_t n = strlen(dir), nt = strlen(tail);
    if (n >= nt && strcmp(dir + n - nt, tail) == 0)
        n_cpu_scans++;
    return real(dir, list, filter, cmp);
}

/* sys/, proc/, dev/ under root; cpu0, 1 on package 0, cpu2, 3 on package 1 */
static void make_tree(const char *root, char *sys, char *proc, char *dev, size_t size)
{
    wl_test_machine_dirs(root, sys, proc, dev, size);
    wl_test_put_two_packages(sys);
}

/* No <dev>/cpu (no msr driver): no CPU of the package can be read, and
 * none is looked for. With the devices there, a CPU whose node is missing
 * is read through another CPU of its package, found by one scan. */
static void test_no_msr_devices_no_scan(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char sys[1100], proc[1100], dev[1100];
    make_tree(root, sys, proc, dev, sizeof sys);
    const struct wl__rapl_unit u = {.cpu = 0, .pkg = 0, .die = 0};
    n_cpu_scans = 0;
    assert_int_equal(wl__rapl_unit_esu(sys, dev, &u, false, WL__CPU_INTEL), -1);
    assert_int_equal(n_cpu_scans, 0);
    wl_test_put_msr(dev, 1, 0x606, 14u << 8 | 0x3); /* cpu1 of package 0 reads */
    n_cpu_scans = 0;
    assert_int_equal(wl__rapl_unit_esu(sys, dev, &u, false, WL__CPU_INTEL), 14);
    assert_int_equal(n_cpu_scans, 1);
    wl_test_rmtree(root);
    free(root);
}

/* rapl-powercap without the msr driver: the CPUs are listed once (the
 * packages), not again for each of the two packages. */
static void test_powercap_lists_cpus_once_without_msr_devices(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char sys[1100], proc[1100], dev[1100];
    make_tree(root, sys, proc, dev, sizeof sys);
    wl_test_put_zone(sys, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(sys, "intel-rapl:1", "package-1", 1000);
    wl_test_put_intel_cpuinfo(proc, 85);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = sys;
    p.proc_root = proc;
    p.dev_root = dev;
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    n_cpu_scans = 0;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    assert_int_equal(n_cpu_scans, 1);
    assert_int_equal(wl_sensor_get_info(s)->n_channels, 2);
    assert_float_equal(wl_sensor_get_info(s)->ch[0].resolution_uj, 0, 0);
    wl_sensor_close(s);
    /* a TPMI model (Granite Rapids, 173): no zone's unit is 0x606's; the
     * CPUs are not listed, although cpu0's device holds an ESU */
    wl_test_put_intel_cpuinfo(proc, 173);
    wl_test_put_msr(dev, 0, 0x606, 14u << 8 | 0x3);
    n_cpu_scans = 0;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    assert_int_equal(n_cpu_scans, 0);
    assert_float_equal(wl_sensor_get_info(s)->ch[0].resolution_uj, 0, 0);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_msr_devices_no_scan),
        cmocka_unit_test(test_powercap_lists_cpus_once_without_msr_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

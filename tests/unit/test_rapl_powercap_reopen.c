/* rapl_powercap after a zone is removed and registered again: kernfs fails
 * reads on the old energy_uj file with ENODEV for good, and the zone
 * registered again is a new file at the same path. The reader reopens it
 * by path when the zone's name there is still its own, the counter's
 * continuity kept (a rise across it counted); another zone in its place is
 * not taken for it. The old code kept reading the dead file: the domain a
 * gap for the rest of the sensor's life.
 * A static fake tree; this test's own pread stands in for kernfs: a read
 * of a file that was replaced (its /proc/self/fd link says "(deleted)")
 * fails with ENODEV. */
#define _GNU_SOURCE
#include "fake_machine.h"
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

/* Every pread of the process (the library's too): ENODEV for a replaced
 * file, as kernfs for a removed zone's attribute; else the real one. */
ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "pread");
    if (wl_test_fd_is_deleted(fd)) {
        errno = ENODEV;
        return -1;
    }
    return real(fd, buf, n, off);
}

/* Writes the file anew (a new inode: the old one, open in the sensor, is
 * then deleted), as a zone registered again. */
static void replace_file(const char *root, const char *dir, const char *file, const char *text)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/%s/%s", root, dir, file);
    assert_int_equal(unlink(path), 0);
    wl_test_put_zone_file(root, dir, file, text);
}

static void put_zone(const char *root, const char *dir, const char *name, const char *energy)
{
    wl_test_put_zone_meta(root, dir, name);
    wl_test_put_zone_file(root, dir, "energy_uj", energy);
}

static wl_sensor *open_powercap(const char *root)
{
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.proc_root = root;
    p.period_probe_ns = 0;
    return wl_test_open_backend(WL_BACKEND_RAPL_POWERCAP, &p);
}

static void test_zone_registered_again_is_reopened(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", "5000000\n");
    put_zone(root, "intel-rapl:1", "package-1", "9000000\n");
    wl_sensor *s = open_powercap(root);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 0);
    /* package-0's zone goes and comes back, its counter 2 J further */
    replace_file(root, "intel-rapl:0", "energy_uj", "7000000\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_true(r.v[0].valid & WL_CH_ENERGY);
    assert_int_equal(r.v[0].energy_uj, 2000000);
    assert_int_equal(r.v[0].n_discontinuities, 0);
    assert_true(r.v[1].valid & WL_CH_ENERGY);
    /* and reads on from the new file */
    wl_test_put_zone_file(root, "intel-rapl:0", "energy_uj", "7500000\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[0].energy_uj, 2500000);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* Another zone at the number (its name not the channel's): not read as it,
 * the channel is not read (a gap), the other zone read on. */
static void test_other_zone_at_the_number_is_not_taken(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", "5000000\n");
    put_zone(root, "intel-rapl:1", "package-1", "9000000\n");
    wl_sensor *s = open_powercap(root);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    replace_file(root, "intel-rapl:0", "name", "package-1\n");
    replace_file(root, "intel-rapl:0", "energy_uj", "9100000\n");
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_false(r.v[0].valid & WL_CH_ENERGY);
    assert_true(r.v[1].valid & WL_CH_ENERGY);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* A sub-zone's own name says only "dram": when the packages come back in
 * the other order, intel-rapl:0:0 is package-1's dram, which is not this
 * counter; its parent's name tells them apart. */
static void test_sub_zone_under_another_package_is_not_taken(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", "5000000\n");
    put_zone(root, "intel-rapl:0:0", "dram", "1000000\n");
    put_zone(root, "intel-rapl:1", "package-1", "9000000\n");
    put_zone(root, "intel-rapl:1:0", "dram", "3000000\n");
    wl_sensor *s = open_powercap(root);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    unsigned dram0 = in->n_channels;
    for (unsigned i = 0; i < in->n_channels; i++)
        if (in->ch[i].domain == WL_DOMAIN_DRAM && dram0 == in->n_channels)
            dram0 = i;
    if (dram0 == in->n_channels)
        fail_msg("no dram channel");
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    replace_file(root, "intel-rapl:0", "name", "package-1\n");
    replace_file(root, "intel-rapl:1", "name", "package-0\n");
    replace_file(root, "intel-rapl:0:0", "energy_uj", "3100000\n");
    (void)wl_sensor_read(s, &r);
    assert_false(r.v[dram0].valid & WL_CH_ENERGY);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zone_registered_again_is_reopened),
        cmocka_unit_test(test_other_zone_at_the_number_is_not_taken),
        cmocka_unit_test(test_sub_zone_under_another_package_is_not_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* rapl_powercap and intel-rapl-mmio zones in static fake trees (no writer,
 * no timing). processor_thermal's intel-rapl-mmio:N is the MMIO view of
 * the package counter: next to an intel-rapl package of the same name it
 * is a duplicate, skipped (the source says so); alone (intel_rapl_msr not
 * loaded) it is read as that package. A tree of mmio zones that cannot be
 * read says so in the why, where it said "no intel-rapl or
 * intel-rapl-tpmi zone" without a word about them. */
#include "fake_machine.h"
#include "sensor_open.h"
#include "test_support.h"

#include "sensors/sensor.h"
#include "wattlens/wattlens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Under root/class/powercap: zone dir with its name and range, and
 * energy_uj unless energy is NULL. */
static void put_zone(const char *root, const char *dir, const char *name, const char *energy)
{
    wl_test_put_zone_meta(root, dir, name);
    if (energy)
        wl_test_put_zone_file(root, dir, "energy_uj", energy);
}

static int open_powercap(const char *root, wl_sensor **s, struct wl_sensor_status *st)
{
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.proc_root = root;
    p.period_probe_ns = 0;
    *s = NULL;
    return wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, s, st);
}

static void test_mmio_package_alone_is_read(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl-mmio:0", "package-0", "5000000\n");
    wl_sensor *s;
    struct wl_sensor_status st;
    assert_int_equal(open_powercap(root, &s, &st), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_int_equal(in->ch[0].domain, WL_DOMAIN_PACKAGE);
    assert_int_equal(in->ch[0].method, WL_METHOD_COUNTER);
    assert_non_null(strstr(in->source, "intel-rapl-mmio"));
    assert_int_equal(in->n_not_read, 0);
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_true(r.v[0].valid & WL_CH_ENERGY);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* Next to intel-rapl's package-0 the mmio one is never read twice; an mmio
 * zone that adds a channel (package-1 here) is read. */
static void test_mmio_duplicate_is_skipped_but_one_that_adds_is_read(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl:0", "package-0", "5000000\n");
    put_zone(root, "intel-rapl-mmio:0", "package-0", "5000000\n");
    put_zone(root, "intel-rapl-mmio:1", "package-1", "7000000\n");
    wl_sensor *s;
    struct wl_sensor_status st;
    assert_int_equal(open_powercap(root, &s, &st), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 2);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_string_equal(in->ch[1].name, "package-1");
    assert_non_null(strstr(in->source, "intel-rapl-mmio duplicates skipped"));
    assert_int_equal(in->n_not_read, 0);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* An mmio-only tree whose zone cannot be read: the why names the mmio zone. */
static void test_unreadable_mmio_only_tree_why_names_it(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put_zone(root, "intel-rapl-mmio:0", "package-0", NULL);
    wl_sensor *s;
    struct wl_sensor_status st;
    assert_int_equal(open_powercap(root, &s, &st), WL_ENOTSUP);
    fprintf(stderr, "why: %s\n", st.why);
    assert_non_null(strstr(st.why, "intel-rapl-mmio:0"));
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mmio_package_alone_is_read),
        cmocka_unit_test(test_mmio_duplicate_is_skipped_but_one_that_adds_is_read),
        cmocka_unit_test(test_unreadable_mmio_only_tree_why_names_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

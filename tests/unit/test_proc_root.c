/* util/: the /proc root the sensors and the store share (proc_root.h): a
 * parameter, else $WATTLENS_PROC_ROOT when set and not empty, else /proc;
 * the same rule (wl_root_pick) for any root and its variable; a root
 * beside a given sysfs root (wl_root_beside).
 */
#include "test_support.h"

#include "util/proc_root.h"

#include "wattlens/error.h"

#include <stdbool.h>
#include <stdlib.h>

static void test_a_parameter_then_the_environment_then_proc(void **state)
{
    (void)state;
    unsetenv("WATTLENS_PROC_ROOT");
    assert_string_equal(wl_proc_root(NULL), "/proc");
    setenv("WATTLENS_PROC_ROOT", "", 1);
    assert_string_equal(wl_proc_root(""), "/proc");
    setenv("WATTLENS_PROC_ROOT", "/tmp/fake-proc", 1);
    assert_string_equal(wl_proc_root(NULL), "/tmp/fake-proc");
    assert_string_equal(wl_proc_root("/given"), "/given");
    unsetenv("WATTLENS_PROC_ROOT");
}

static void test_root_pick_is_the_one_rule_for_any_root(void **state)
{
    (void)state;
    unsetenv("WL_TEST_ROOT");
    assert_string_equal(wl_root_pick(NULL, "WL_TEST_ROOT", "/sys"), "/sys");
    assert_null(wl_root_pick("", "WL_TEST_ROOT", NULL)); /* nothing given */
    setenv("WL_TEST_ROOT", "", 1);
    assert_string_equal(wl_root_pick("", "WL_TEST_ROOT", "/dev"), "/dev");
    setenv("WL_TEST_ROOT", "/tmp/fake-sys", 1);
    assert_string_equal(wl_root_pick(NULL, "WL_TEST_ROOT", "/sys"), "/tmp/fake-sys");
    assert_string_equal(wl_root_pick("/given", "WL_TEST_ROOT", "/sys"), "/given");
    unsetenv("WL_TEST_ROOT");
}

/* A root not given, of a machine whose sysfs root is given, is the one
 * beside that sysfs root (its /proc and /dev), never the host's default;
 * one given is kept; with no sysfs root, the default. */
static void test_root_beside_a_given_sysfs_root(void **state)
{
    (void)state;
    char buf[64];
    bool beside = false;
    unsetenv("WL_TEST_ROOT");
    assert_int_equal(
        wl_root_beside(NULL, "WL_TEST_ROOT", "/dev", "/x/sys", "dev", buf, sizeof buf, &beside), 0);
    assert_string_equal(buf, "/x/dev");
    assert_true(beside);
    assert_int_equal(
        wl_root_beside("", "WL_TEST_ROOT", "/dev", "/x/sys//", "dev", buf, sizeof buf, &beside), 0);
    assert_string_equal(buf, "/x/dev");
    assert_int_equal(
        wl_root_beside(NULL, "WL_TEST_ROOT", "/dev", "sys", "proc", buf, sizeof buf, &beside), 0);
    assert_string_equal(buf, "./proc");
    assert_int_equal(
        wl_root_beside(NULL, "WL_TEST_ROOT", "/dev", "/sys", "dev", buf, sizeof buf, &beside), 0);
    assert_string_equal(buf, "/dev");
    assert_int_equal(
        wl_root_beside(NULL, "WL_TEST_ROOT", "/dev", NULL, "dev", buf, sizeof buf, &beside), 0);
    assert_string_equal(buf, "/dev");
    assert_false(beside);
    setenv("WL_TEST_ROOT", "/given", 1);
    assert_int_equal(
        wl_root_beside(NULL, "WL_TEST_ROOT", "/dev", "/x/sys", "dev", buf, sizeof buf, &beside), 0);
    assert_string_equal(buf, "/given");
    assert_false(beside);
    assert_int_equal(
        wl_root_beside("/param", "WL_TEST_ROOT", "/dev", "/x/sys", "dev", buf, sizeof buf, &beside),
        0);
    assert_string_equal(buf, "/param");
    unsetenv("WL_TEST_ROOT");
    /* what does not fit is never cut: another directory */
    assert_int_equal(
        wl_root_beside(NULL, "WL_TEST_ROOT", "/dev", "/a-long-dir/sys", "dev", buf, 8, &beside),
        WL_ERANGE);
    assert_string_equal(buf, "");
    assert_true(beside);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_parameter_then_the_environment_then_proc),
        cmocka_unit_test(test_root_pick_is_the_one_rule_for_any_root),
        cmocka_unit_test(test_root_beside_a_given_sysfs_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

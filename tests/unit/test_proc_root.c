/* util/: the /proc root the sensors and the store share (proc_root.h): a
 * parameter, else $WATTLENS_PROC_ROOT when set and not empty, else /proc;
 * the same rule (wl_root_pick) for any root and its variable.
 */
#include "test_support.h"

#include "util/proc_root.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_parameter_then_the_environment_then_proc),
        cmocka_unit_test(test_root_pick_is_the_one_rule_for_any_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

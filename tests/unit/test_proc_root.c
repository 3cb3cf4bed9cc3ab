/* util/: the /proc root the sensors and the store share (proc_root.h): a
 * parameter, else $WATTLENS_PROC_ROOT when set and not empty, else /proc.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_parameter_then_the_environment_then_proc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

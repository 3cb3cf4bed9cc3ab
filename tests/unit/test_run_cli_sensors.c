/* wl_test_run_cli (tests/support) runs the CLI with no sensor of the
 * host's, as tests/integration/common.sh runs the scripts': the sysfs and
 * /dev roots are empty directories and the NVML library and powermetrics
 * paths that do not exist, so a host's RAPL, hwmon or NVIDIA GPU cannot
 * change a test's run. A test that sets one itself keeps it. Seen through
 * `wattlens sensors`, which names each path it looked at. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

static void test_the_cli_sees_no_sensor_of_the_hosts(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(wl_test_run_cli("sensors", &out, NULL), 0);
    assert_non_null(out);
    if (strstr(out, "why: /sys/") || !strstr(out, "/sys/class/powercap does not exist") ||
        !strstr(out, "/no-libnvidia-ml.so.1") || !strstr(out, "/no-powermetrics"))
        fail_msg("the host's sensors were looked at:\n%s", out);
    free(out);
}

static void test_a_path_the_test_sets_is_kept(void **state)
{
    (void)state;
    assert_int_equal(setenv("WATTLENS_NVML_LIB", "/nonexistent/the-tests-own.so", 1), 0);
    char *out = NULL;
    assert_int_equal(wl_test_run_cli("sensors", &out, NULL), 0);
    unsetenv("WATTLENS_NVML_LIB");
    assert_non_null(out);
    if (!strstr(out, "/nonexistent/the-tests-own.so") || strstr(out, "/no-libnvidia-ml.so.1"))
        fail_msg("WATTLENS_NVML_LIB not kept:\n%s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_cli_sees_no_sensor_of_the_hosts),
        cmocka_unit_test(test_a_path_the_test_sets_is_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

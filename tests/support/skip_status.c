/* How a unit test that skipped shows in ctest: cmocka returns the number
 * of failed tests from cmocka_run_group_tests, a skip() is not counted, and
 * a test whose checks were all skipped (an inconclusive timing verdict,
 * missing test data, no other user to act as) would exit 0 and be reported
 * Passed. Linked with --wrap=_skip and --wrap=_cmocka_run_group_tests
 * (CMakeLists.txt, where the linker has --wrap), this counts the skips and
 * makes a group that skipped one and failed none return 77, which the unit
 * tests' SKIP_RETURN_CODE makes ctest report as Skipped. A group with a
 * failure returns its failure count, skips or not. Single-threaded, as
 * cmocka's own state is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* the exit status ctest reads as "skipped" (SKIP_RETURN_CODE) */
#define WL_TEST_SKIPPED_STATUS 77

void __real__skip(const char *const file, const int line);
void __wrap__skip(const char *const file, const int line);
int __real__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);
int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);

static unsigned long n_skips; /* skip() calls in this process */

void __wrap__skip(const char *const file, const int line)
{
    n_skips++;
    __real__skip(file, line); /* does not return: cmocka jumps out of the test */
}

int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown)
{
    const unsigned long skips_before = n_skips;
    const int failed =
        __real__cmocka_run_group_tests(group_name, tests, num_tests, group_setup, group_teardown);
    if (failed == 0 && n_skips > skips_before)
        return WL_TEST_SKIPPED_STATUS;
    return failed;
}

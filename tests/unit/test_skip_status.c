/* How a unit test's skips reach ctest (tests/support/skip_status.c): a
 * cmocka group with a skip it could not judge (an inconclusive fake-writer
 * verdict, no other user to act as: wl__test_skip_inconclusive) and no
 * failure returns 77, ctest's "Skipped" (the unit tests' SKIP_RETURN_CODE),
 * not 0, a pass; a plain skip() leaves 0; a group that also failed returns
 * its failure count, so a failure is never hidden by a skip. And
 * wl_test_skip_other_user skips, or fails under WL_REQUIRE_OTHER_USER. Each
 * group runs in a child process, whose exit status is the group's result. */
#include "test_support.h"

#include "fake_powercap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void child_passes(void **state)
{
    (void)state;
}

static void child_skips(void **state)
{
    (void)state;
    skip();
}

static void child_fails(void **state)
{
    (void)state;
    fail_msg("the failure this group must report");
}

static void child_inconclusive(void **state)
{
    (void)state;
    struct wl_fake_verdict v = {0};
    wl_fake_check_near(&v, "window", 31.02, 30.0, 0.3, 18000000, 4000000);
    wl_fake_verdict_end(&v);
}

static void child_other_user(void **state)
{
    (void)state;
    wl_test_skip_other_user("cannot become uid %d here (a test of the helper)", 65534);
}

/* Runs tests[0..n) as one cmocka group in a child, its output to
 * /dev/null, with WL_REQUIRE_OTHER_USER set to require (NULL: unset);
 * returns the group's result, the child's exit status. */
static int run_group(const struct CMUnitTest *tests, size_t n, const char *require)
{
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const int fd = open("/dev/null", O_WRONLY);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(100);
        if (require)
            setenv("WL_REQUIRE_OTHER_USER", require, 1);
        else
            unsetenv("WL_REQUIRE_OTHER_USER");
        _exit(_cmocka_run_group_tests("child", tests, n, NULL, NULL));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_a_group_that_only_passed_returns_0(void **state)
{
    (void)state;
    const struct CMUnitTest t[] = {cmocka_unit_test(child_passes)};
    assert_int_equal(run_group(t, 1, NULL), 0);
}

static void test_an_inconclusive_skip_with_no_failure_returns_77(void **state)
{
    (void)state;
    const struct CMUnitTest t[] = {cmocka_unit_test(child_passes),
                                   cmocka_unit_test(child_inconclusive)};
    assert_int_equal(run_group(t, 2, NULL), 77);
}

/* no AVX-512 here, no test data: the rest of the binary ran, a pass */
static void test_a_plain_skip_returns_0(void **state)
{
    (void)state;
    const struct CMUnitTest t[] = {cmocka_unit_test(child_passes), cmocka_unit_test(child_skips)};
    assert_int_equal(run_group(t, 2, NULL), 0);
}

static void test_a_skip_and_a_failure_fail(void **state)
{
    (void)state;
    const struct CMUnitTest t[] = {cmocka_unit_test(child_inconclusive),
                                   cmocka_unit_test(child_fails), cmocka_unit_test(child_passes)};
    assert_int_equal(run_group(t, 3, NULL), 1);
    const struct CMUnitTest after[] = {cmocka_unit_test(child_fails),
                                       cmocka_unit_test(child_inconclusive)};
    assert_int_equal(run_group(after, 2, NULL), 1);
}

static void test_other_user_skips_unless_required(void **state)
{
    (void)state;
    const struct CMUnitTest t[] = {cmocka_unit_test(child_other_user)};
    assert_int_equal(run_group(t, 1, NULL), 77);
    assert_int_equal(run_group(t, 1, ""), 77); /* empty is not set, as in common.sh */
    assert_int_equal(run_group(t, 1, "1"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_group_that_only_passed_returns_0),
        cmocka_unit_test(test_an_inconclusive_skip_with_no_failure_returns_77),
        cmocka_unit_test(test_a_plain_skip_returns_0),
        cmocka_unit_test(test_a_skip_and_a_failure_fail),
        cmocka_unit_test(test_other_user_skips_unless_required),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

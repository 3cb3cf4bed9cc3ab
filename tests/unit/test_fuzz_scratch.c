/* tests/fuzz/support/fuzz_scratch.c, the fuzz targets' scratch directory
 * (compiled in here): made under TMPDIR, as every other test helper's, and
 * named after the target and the pid, so that one left behind by an exit
 * that skips atexit (libFuzzer's _Exit on a crash, a timeout or
 * -max_total_time) says whose it was; a normal exit removes it with what
 * was written in it. Each case runs in a child, as the scratch state is
 * once per process. */
#include "test_support.h"

#include "../fuzz/support/fuzz_scratch.c"

#include <dirent.h>
#include <sys/wait.h>

/* In a child with TMPDIR=base: makes the scratch directory of target
 * "fuzz_t" with the file a/b in it, then leaves with exit (hard == 0) or
 * _exit. Returns the child's pid. */
static pid_t scratch_in_child(const char *base, int hard)
{
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("TMPDIR", base, 1);
        wl_fuzz_scratch_dir("fuzz_t");
        wl_fuzz_scratch_write("a/b", "x", 1);
        if (hard)
            _exit(0);
        exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return pid;
}

/* The one entry of parent into name (size bytes); returns how many there are. */
static int entries(const char *parent, char *name, size_t size)
{
    DIR *d = opendir(parent);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(name, size, "%s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static void test_a_leftover_is_under_tmpdir_named_by_target_and_pid(void **state)
{
    (void)state;
    char *base = wl_test_tmpdir();
    const pid_t pid = scratch_in_child(base, 1);
    char name[256], want[128], path[4400];
    assert_int_equal(entries(base, name, sizeof name), 1);
    snprintf(want, sizeof want, "wl-fuzz-scratch.fuzz_t.%ld.", (long)pid);
    if (strncmp(name, want, strlen(want)) != 0)
        fail_msg("scratch %s, want %s*", name, want);
    snprintf(path, sizeof path, "%s/%s/a/b", base, name);
    char *text = wl_test_read_file(path, NULL);
    assert_non_null(text);
    assert_string_equal(text, "x");
    free(text);
    wl_test_rmtree(base);
    free(base);
}

static void test_an_exit_removes_it(void **state)
{
    (void)state;
    char *base = wl_test_tmpdir();
    scratch_in_child(base, 0);
    char name[256];
    assert_int_equal(entries(base, name, sizeof name), 0);
    wl_test_rmtree(base);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_leftover_is_under_tmpdir_named_by_target_and_pid),
        cmocka_unit_test(test_an_exit_removes_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* What the store's commands (runs, show, export, rm, gc) share: the
 * database from --db or WATTLENS_DB, the messages for a file that is not
 * a wattlens database or is empty, and --help, --json and bad options
 * parsed alike. The fixture's runs (cli_store_fixture.h) are written
 * through the store API, then the real `wattlens` binary reads them.
 */
#include "cli_store_fixture.h"
#include "test_support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_db_from_environment_and_bad_files(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    char line[8400], *out = NULL, *err = NULL;
    snprintf(line, sizeof line, "runs --json");
    setenv("WATTLENS_DB", f->db, 1);
    assert_int_equal(wl_test_run_cli(line, &out, &err), 0);
    unsetenv("WATTLENS_DB");
    assert_non_null(strstr(out, "\"total\": 3"));
    free(out);
    free(err);

    char notes[4300];
    snprintf(notes, sizeof notes, "%s/notes.txt", f->dir);
    assert_int_equal(wl_test_write_file(notes, "hello\n", 6), 0);
    snprintf(line, sizeof line, "runs --db '%s'", notes);
    assert_int_equal(wl_test_run_cli(line, &out, &err), 1);
    assert_non_null(strstr(err, "not a wattlens database"));
    assert_non_null(strstr(err, notes));
    free(out);
    free(err);
    char *after = wl_test_read_file(notes, NULL);
    assert_string_equal(after, "hello\n");
    free(after);

    /* an empty file is no database yet, and no command that reads or
     * removes runs makes it one */
    char empty[4300];
    snprintf(empty, sizeof empty, "%s/empty.db", f->dir);
    assert_int_equal(wl_test_write_file(empty, "", 0), 0);
    const char *readers[] = {"runs",    "runs --json", "show abcd", "export abcd --format json",
                             "rm abcd", "gc --keep 1"};
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        snprintf(line, sizeof line, "%s --db '%s'", readers[i], empty);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 1);
        if (!strstr(err, "an empty file, not a wattlens database yet"))
            fail_msg("%s: %s", readers[i], err);
        size_t n = 1;
        after = wl_test_read_file(empty, &n);
        assert_int_equal(n, 0);
        free(after);
        free(out);
        free(err);
    }

    const char *cmds[] = {"runs", "show", "rm", "gc", "export"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(line, sizeof line, "%s --help", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 0);
        assert_non_null(strstr(out, "--db FILE"));
        assert_non_null(strstr(out, "Examples:"));
        free(out);
        free(err);
    }
}

/* runs, show, export, rm and gc parse --help, --db, --json and bad options
 * with one shared helper (cli_store.h): same exits, same messages. */
static void test_common_options_behave_alike(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    (void)f;
    char line[256], *out = NULL, *err = NULL;
    const char *cmds[] = {"runs", "show", "rm", "gc", "export"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(line, sizeof line, "%s -h", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 0);
        assert_non_null(strstr(out, "  -h, --help           show this help\n"));
        assert_string_equal(err, "");
        free(out);
        free(err);

        snprintf(line, sizeof line, "%s --bogus", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 2);
        assert_string_equal(out, "");
        assert_non_null(strstr(err, "unknown option '--bogus'"));
        free(out);
        free(err);

        snprintf(line, sizeof line, "%s --db", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 2);
        assert_non_null(strstr(err, "option '--db' needs a value"));
        free(out);
        free(err);

        /* --json only where the output is data (rm's: the runs removed);
         * export has --format json instead */
        bool has_json = strcmp(cmds[i], "export") != 0;
        snprintf(line, sizeof line, "%s --json --help", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), has_json ? 0 : 2);
        assert_true((strstr(out, "--json") != NULL) == has_json);
        free(out);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_db_from_environment_and_bad_files, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_common_options_behave_alike, wl_test_cli_setup,
                                        wl_test_cli_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

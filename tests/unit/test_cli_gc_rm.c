/* The rm and gc commands end to end: removing runs by id or prefix, gc
 * --keep (dry run, text and JSON), and what gc says when compacting the
 * file fails or a reader keeps the write-ahead log. The fixture's runs
 * (cli_store_fixture.h) are written through the store API, then the real
 * `wattlens` binary reads and removes them.
 */
#include "cli_store_fixture.h"
#include "test_support.h"

#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void test_rm_and_gc(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    char args[256], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "%s ffff0000", f->ids[0]);
    assert_int_equal(wl_test_cli_db(f, "rm", args, &out, &err),
                     1); /* one missing: still removes the other */
    assert_non_null(strstr(out, f->ids[0]));
    assert_non_null(strstr(err, "ffff0000"));
    free(out);
    free(err);
    json_t *j = wl_test_cli_db_json(f, "runs", "--json");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
    json_decref(j);

    assert_int_equal(wl_test_cli_db(f, "gc", "--keep 1 --dry-run", &out, &err), 0);
    assert_non_null(strstr(out, "would remove"));
    assert_non_null(strstr(out, f->ids[1]));
    assert_non_null(strstr(out, "2023-11-15 22:13 UTC  phi-tiny\n")); /* dates say UTC */
    free(out);
    free(err);
    j = wl_test_cli_db_json(f, "gc", "--keep 1 --json");
    assert_int_equal(json_array_size(json_object_get(j, "removed")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "removed"), 0)),
                        f->ids[1]);
    /* each removed run as runs --json shows it: ISO 8601 UTC created_at */
    json_t *gone = json_array_get(json_object_get(j, "removed_runs"), 0);
    assert_string_equal(json_string_value(json_object_get(gone, "id")), f->ids[1]);
    assert_string_equal(json_string_value(json_object_get(gone, "created_at")),
                        "2023-11-15T22:13:20.000Z");
    assert_string_equal(json_string_value(json_object_get(gone, "model")), "phi-tiny");
    assert_string_equal(json_string_value(json_array_get(json_object_get(gone, "tags"), 0)), "b");
    assert_int_equal(json_integer_value(json_object_get(j, "runs_left")), 1);
    json_decref(j);
    assert_int_equal(wl_test_cli_db(f, "gc", "", &out, &err), 2);
    assert_non_null(strstr(err, "--keep"));
    free(out);
    free(err);
    /* one run named twice (its id, then a prefix of it) goes once, no error */
    snprintf(args, sizeof args, "%s %.8s", f->ids[2], f->ids[2]);
    assert_int_equal(wl_test_cli_db(f, "rm", args, &out, &err), 0);
    const char *first = strstr(out, f->ids[2]);
    assert_non_null(first);
    assert_null(strstr(first + 1, f->ids[2]));
    assert_string_equal(err, "");
    free(out);
    free(err);
    snprintf(args, sizeof args, "%s", f->ids[2]); /* now it is gone: an error */
    assert_int_equal(wl_test_cli_db(f, "rm", args, &out, &err), 1);
    free(out);
    free(err);
    j = wl_test_cli_db_json(f, "runs", "--json");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    json_decref(j);
}

/* Adds 8 MB of filler rows to the fixture's database (a raw connection). */
static void add_filler(const struct wl_test_cli_fixture *f)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE filler(b BLOB); WITH RECURSIVE c(i) AS (SELECT 1 "
                                  "UNION ALL SELECT i + 1 FROM c WHERE i < 128) INSERT INTO "
                                  "filler SELECT randomblob(65536) FROM c",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

/* Compacting fails after the runs were removed (VACUUM cannot write its
 * copy: files are limited to 1 MB, with SIGXFSZ ignored, for gc only):
 * gc still lists the runs it removed, says compacting failed as a warning
 * and succeeds (it said only the error, exit 1, and the runs were gone). */
static void test_gc_lists_the_runs_it_removed_when_compacting_fails(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    add_filler(f);
    struct rlimit old_lim, lim = {1 << 20, 1 << 20};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    lim.rlim_max = old_lim.rlim_max;
    if (lim.rlim_cur > old_lim.rlim_max)
        lim.rlim_cur = old_lim.rlim_max;
    void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
    char *out = NULL, *err = NULL;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    const int rc = wl_test_cli_db(f, "gc", "--keep 2", &out, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_xfsz);
    if (rc != 0)
        fail_msg("gc: exit %d: %s%s", rc, out, err);
    char line[128];
    snprintf(line, sizeof line, "removed %s ", f->ids[0]);
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "1 run removed; compacting the file failed"));
    assert_non_null(
        strstr(err, "warning: the runs were removed, but compacting the file failed: "));
    free(out);
    free(err);
    json_t *j = wl_test_cli_db_json(f, "runs", "--json");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
    json_decref(j);

    /* the same in JSON */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    old_xfsz = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(wl_test_cli_db(f, "gc", "--keep 1 --json", &out, &err), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_xfsz);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "removed"), 0)),
                        f->ids[1]);
    assert_string_equal(json_string_value(json_object_get(j, "compaction")), "failed");
    assert_non_null(json_string_value(json_object_get(j, "compact_error")));
    json_decref(j);
    free(out);
    free(err);
}

/* A reader of an older snapshot keeps the write-ahead log, which then holds
 * the compacted copy, from being truncated: gc says so rather than report a
 * larger file as compacted. Nothing removed: the file is left as it is. */
static void test_gc_says_when_a_reader_kept_the_log(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    add_filler(f);
    char *out = NULL, *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "gc", "--keep 5", &out, &err), 0);
    assert_non_null(strstr(out, "0 runs removed; file not compacted ("));
    free(out);
    free(err);
    sqlite3 *rd = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->db, &rd), SQLITE_OK);
    assert_int_equal(sqlite3_exec(rd, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(rd, "SELECT count(*) FROM runs", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW); /* the read transaction holds its snapshot */
    const int rc = wl_test_cli_db(f, "gc", "--keep 2", &out, &err);
    sqlite3_finalize(st);
    sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(rd);
    if (rc != 0)
        fail_msg("gc: exit %d: %s%s", rc, out, err);
    assert_non_null(strstr(out, "1 run removed; file "));
    assert_non_null(strstr(out, "a reader kept the write-ahead log"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rm_and_gc, wl_test_cli_setup, wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_gc_lists_the_runs_it_removed_when_compacting_fails,
                                        wl_test_cli_setup, wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_gc_says_when_a_reader_kept_the_log, wl_test_cli_setup,
                                        wl_test_cli_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* store/: a read-only or no_migrate open of a database at an older schema version (1:
 * before n_seq, 2: before writer_start). Every migration since version 1
 * only adds nullable columns, so a reader that may not write shows them as
 * NULL (TEMP views, sqlite_schema.c's read bridges) instead of refusing the
 * file with "needs a migration"; it writes nothing to the file or beside
 * it, whether it reads through a live connection's -wal and -shm or the
 * file alone. The fixture is tests/support/store_fixture.h.
 */
#include "store_fixture.h"
#include "test_support.h"

#include "store/sqlite_schema.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_the_bridge_sql_adds_the_later_columns_as_null(void **state)
{
    (void)state;
    char sql[1024];
    const int n = wl__sqlite_read_bridge_sql(1, sql, sizeof sql);
    assert_int_equal(n, (int)strlen(sql));
    assert_string_equal(sql, "CREATE TEMP VIEW runs AS SELECT *, NULL AS n_seq, NULL AS "
                             "writer_start FROM main.runs;"
                             "CREATE TEMP VIEW tokens AS SELECT *, NULL AS n_seq FROM "
                             "main.tokens;");
    assert_true(wl__sqlite_read_bridge_sql(2, sql, sizeof sql) > 0);
    assert_string_equal(sql, "CREATE TEMP VIEW runs AS SELECT *, NULL AS writer_start FROM "
                             "main.runs;");
    assert_int_equal(wl__sqlite_read_bridge_sql(WL_STORE_SCHEMA_VERSION, sql, sizeof sql), 0);
    assert_string_equal(sql, "");
    /* version 0 (no schema) cannot be bridged, nor a newer one; nor into a
     * buffer too small */
    assert_int_equal(wl__sqlite_read_bridge_sql(0, sql, sizeof sql), -1);
    assert_int_equal(wl__sqlite_read_bridge_sql(WL_STORE_SCHEMA_VERSION + 1, sql, sizeof sql), -1);
    assert_int_equal(wl__sqlite_read_bridge_sql(1, sql, 40), -1);
}

/* dir/vN.db: a store with one finished run (2 input, 3 output tokens),
 * then made version `version` by dropping the columns later migrations
 * added. Closed; in WAL mode, with no -wal or -shm left. */
static void make_old_store(struct wl_test_store_fixture *f, int version, char *path, size_t size,
                           char *id)
{
    snprintf(path, size, "%s/v%d.db", f->dir, version);
    wl_store *s = wl_test_store_open(path);
    struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS,
                                  .model = "m",
                                  .duration_ms = 50,
                                  .energy_j = 5,
                                  .n_in = 2,
                                  .n_out = 3};
    wl_test_store_make_run(s, &sp, id);
    wl_store_close(s);
    char sql[512];
    snprintf(sql, sizeof sql,
             "ALTER TABLE runs DROP COLUMN writer_start;%s PRAGMA user_version = %d",
             version == 1 ? " ALTER TABLE runs DROP COLUMN n_seq;"
                            " ALTER TABLE tokens DROP COLUMN n_seq;"
                          : "",
             version);
    wl_test_store_raw_exec(path, sql);
}

static int count_rows(void *user, size_t n_cols, const char *const *names,
                      const struct wl_store_value *values)
{
    (void)n_cols;
    (void)names;
    (void)values;
    ++*(int *)user;
    return 0;
}

/* Whether names holds "n_seq" (the tokens table's newest column). */
static int has_n_seq(void *user, size_t n_cols, const char *const *names)
{
    for (size_t i = 0; i < n_cols; i++)
        if (strcmp(names[i], "n_seq") == 0)
            *(bool *)user = true;
    return 0;
}

static void check_side_files(const char *path, bool expect)
{
    static const char *const suffix[] = {"-wal", "-shm", "-journal"};
    for (int k = 0; k < 3; k++) {
        char side[4300];
        snprintf(side, sizeof side, "%s%s", path, suffix[k]);
        if (k < 2 && expect)
            assert_int_equal(access(side, F_OK), 0);
        else
            assert_int_equal(access(side, F_OK), -1);
    }
}

/* Old: WL_EVERSION, "schema version N needs a migration to 3, which a
 * read-only open does not do". */
static void test_a_read_only_open_reads_versions_1_and_2(void **state)
{
    struct wl_test_store_fixture *f = *state;
    for (int version = 1; version <= 2; version++) {
        for (int live = 0; live < 2; live++) {
            char path[4200], id[37];
            make_old_store(f, version, path, sizeof path, id);
            /* live: another connection keeps -wal and -shm, which the
             * reader then reads through; else it reads the file alone */
            sqlite3 *other = NULL;
            if (live) {
                assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
                assert_int_equal(sqlite3_exec(other, "SELECT count(*) FROM runs", NULL, NULL, NULL),
                                 SQLITE_OK);
            }
            check_side_files(path, live);
            size_t n_before = 0, n_after = 0;
            char *before = wl_test_read_file(path, &n_before);

            struct wl_store_params p;
            wl_store_default_params(&p);
            p.path = path;
            p.read_only = true;
            wl_store *ro = NULL;
            struct wl_errmsg e = {{0}};
            assert_int_equal(wl_store_open(&p, &ro, &e), 0);
            struct wl_run_list l;
            assert_int_equal(wl_store_list_runs(ro, NULL, WL_SORT_DATE, 0, 0, &l), 0);
            assert_int_equal(l.n, 1);
            assert_string_equal(l.rows[0].id, id);
            assert_int_equal(l.rows[0].status, WL_RUN_COMPLETE);
            wl_run_list_free(&l);
            struct wl_store_aggregates a;
            assert_int_equal(wl_store_summary(ro, id, &a), 0);
            assert_int_equal(a.run.n_seq, 1); /* NULL: one sequence */
            assert_int_equal(a.tokens.n_output, 3);
            assert_int_equal(a.tokens.n_generated, 3);
            wl_store_aggregates_free(&a);
            int n_tokens = 0;
            assert_int_equal(wl_store_read_begin(ro), 0);
            assert_int_equal(
                wl_store_foreach(ro, id, WL_TABLE_TOKENS, -1, -1, count_rows, &n_tokens), 0);
            wl_store_read_end(ro);
            assert_int_equal(n_tokens, 5);
            bool n_seq = false;
            assert_int_equal(wl_store_columns(ro, WL_TABLE_TOKENS, has_n_seq, &n_seq), 0);
            assert_true(n_seq);
            struct wl_store_stats st;
            assert_int_equal(wl_store_stats(ro, &st), 0);
            assert_int_equal(st.schema_version, version); /* the file's own */
            wl_store_close(ro);

            if (other)
                sqlite3_close(other); /* the last close removes -wal and -shm */
            char *after = wl_test_read_file(path, &n_after);
            assert_int_equal(n_after, n_before);
            assert_memory_equal(after, before, n_before);
            free(after);
            free(before);
            check_side_files(path, false);
            assert_int_equal(wl_test_store_raw_double(path, "PRAGMA user_version"), version);
            unlink(path);
        }
    }
}

/* no_migrate on a writable connection (the owner's runs, show, export):
 * the old file is read through the same bridges, with the usual locks, and
 * left byte for byte as it was: no migration, no WAL switch, no dead run
 * marked `incomplete` (it reads so all the same). Old: the CLI peeked at the
 * header and opened such a file read-only, which the owner then read as an
 * immutable file, taking no lock; a writable open migrated it. */
static void test_a_no_migrate_open_reads_versions_1_and_2_as_they_are(void **state)
{
    struct wl_test_store_fixture *f = *state;
    for (int version = 1; version <= 2; version++) {
        char path[4200], id[37];
        make_old_store(f, version, path, sizeof path, id);
        /* its writer gone: another host's, silent since 1970 */
        wl_test_store_raw_exec(path, "UPDATE runs SET status = 'running', writer_host = "
                                     "'elsewhere.invalid', updated_at_ms = 0");
        check_side_files(path, false);
        size_t n_before = 0, n_after = 0;
        char *before = wl_test_read_file(path, &n_before);

        struct wl_store_params p;
        wl_store_default_params(&p);
        p.path = path;
        p.no_migrate = true;
        wl_store *s = NULL;
        struct wl_errmsg e = {{0}};
        assert_int_equal(wl_store_open(&p, &s, &e), 0);
        struct wl_run_list l;
        assert_int_equal(wl_store_list_runs(s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.rows[0].id, id);
        assert_int_equal(l.rows[0].status, WL_RUN_INCOMPLETE);
        wl_run_list_free(&l);
        struct wl_store_aggregates a;
        assert_int_equal(wl_store_summary(s, id, &a), 0);
        assert_int_equal(a.run.n_seq, 1);
        assert_int_equal(a.tokens.n_output, 3);
        wl_store_aggregates_free(&a);
        struct wl_store_stats st;
        assert_int_equal(wl_store_stats(s, &st), 0);
        assert_int_equal(st.schema_version, version);
        /* nothing writes through it, not even to a table the views leave
         * alone (a delete starts with the run's sections) */
        assert_int_not_equal(wl_store_delete_run(s, id, true), 0);
        assert_non_null(strstr(wl_store_last_error(s), "readonly"));
        wl_store_close(s);

        char *after = wl_test_read_file(path, &n_after);
        assert_int_equal(n_after, n_before);
        assert_memory_equal(after, before, n_before);
        free(after);
        free(before);
        check_side_files(path, false);
        assert_int_equal(wl_test_store_raw_double(path, "PRAGMA user_version"), version);
        assert_int_equal(wl_test_store_raw_count(path, "runs WHERE status = 'running'"), 1);
        unlink(path);
    }
    /* a current file opens as without it: its dead run is marked */
    wl_store_close(f->s);
    f->s = NULL;
    char id[37];
    wl_store *w = wl_test_store_open(f->path);
    wl_store_run *r = NULL;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "true"};
    assert_int_equal(wl_store_run_begin(w, &info, &r, id), 0);
    wl_store_run_abandon(r); /* the row stays `running` */
    wl_store_close(w);
    wl_test_store_raw_exec(f->path, "UPDATE runs SET writer_host = 'elsewhere.invalid', "
                                    "updated_at_ms = 0");
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.no_migrate = true;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    assert_int_equal(wl_test_store_raw_count(f->path, "runs WHERE status = 'incomplete'"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_bridge_sql_adds_the_later_columns_as_null),
        cmocka_unit_test_setup_teardown(test_a_read_only_open_reads_versions_1_and_2,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_no_migrate_open_reads_versions_1_and_2_as_they_are,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

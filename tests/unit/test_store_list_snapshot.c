/* store/: wl_store_list_runs counts the matching runs and reads the page
 * in one snapshot. Each statement in autocommit had its own, so a run
 * committed by another process between the two made `total` disagree with
 * the rows (`runs 1-2 of 1.`, `"total": 1` beside two entries). The commit
 * is made to land exactly there by a VFS whose -shm lock hook, at the end of
 * the first read transaction after it is armed (a reader's read-mark is
 * released), runs hook_sql (inserts a run) from a connection of its own.
 * gc, which lists its runs in one read and deletes them after it, is
 * checked the same way.
 */
#include "sqlite_vfs_hook.h"
#include "store_fixture.h"
#include "store_hook_fixture.h"
#include "test_support.h"

#include "store/store.h"
#include "wattlens/error.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int hook_armed;
static atomic_int hook_fired;
static const char *hook_path;
static char hook_sql[512];

/* Another process's change, committed from a plain connection. */
static void exec_elsewhere(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
        sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        atomic_store(&hook_fired, 1);
    sqlite3_close(db);
}

/* The SQL adding another process's complete measure run created at
 * WL_TEST_T0_MS + 1000 (after the setup's run), into sql. */
static void insert_run_sql(char *sql, size_t size, const char *uuid)
{
    snprintf(sql, size,
             "INSERT INTO runs (uuid, created_at_ms, status, kind) VALUES ('%s', %lld, "
             "'complete', 'measure')",
             uuid, WL_TEST_T0_MS + 1000);
}

static void insert_run(const char *path, const char *uuid)
{
    char sql[256];
    insert_run_sql(sql, sizeof sql, uuid);
    exec_elsewhere(path, sql);
}

/* A shared read-mark released (WAL_READ_LOCK(n) is slot 3 + n): the end of
 * a read transaction. */
static int hook_shm_lock(sqlite3_file *f, int ofst, int n, int flags)
{
    int rc = wl_test_vfs_hook_base()->xShmLock(f, ofst, n, flags);
    if (flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_SHARED) && ofst >= 3 &&
        atomic_exchange(&hook_armed, 0))
        exec_elsewhere(hook_path, hook_sql);
    return rc;
}

static void hook_patch(sqlite3_io_methods *m)
{
    m->xShmLock = hook_shm_lock;
}

/* The store opened through the hook (not armed), with one run. */
static int hook_setup(void **state)
{
    atomic_store(&hook_armed, 0);
    atomic_store(&hook_fired, 0);
    int rc =
        wl_test_store_hook_setup(state, "wl-test-shm-lock-hook", SQLITE_OPEN_MAIN_DB, hook_patch);
    if (rc != 0)
        return rc;
    struct wl_test_store_fixture *f = *state;
    hook_path = f->path;
    char id[37];
    struct wl_test_run_spec sp = {
        .created_at_ms = WL_TEST_T0_MS, .model = "first", .duration_ms = 5, .energy_j = 2};
    wl_test_store_make_run(f->s, &sp, id);
    return 0;
}

static int hook_teardown(void **state)
{
    atomic_store(&hook_armed, 0);
    return wl_test_store_hook_teardown(state);
}

static void test_the_total_and_the_rows_are_one_snapshot(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_list l;
    insert_run_sql(hook_sql, sizeof hook_sql, "00000000-0000-4000-8000-0000000000b2");
    atomic_store(&hook_armed, 1);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(atomic_load(&hook_fired), 1); /* the other run was committed */
    if (l.total != (int64_t)l.n)
        fail_msg("total %lld beside %zu rows", (long long)l.total, l.n);
    wl_run_list_free(&l);
    /* and the next list has both */
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.total, 2);
    assert_int_equal(l.n, 2);
    wl_run_list_free(&l);
}

/* Inside a snapshot the caller holds (wl_store_read_begin), the list uses
 * it: no nested BEGIN, and the snapshot stays open after it. */
static void test_a_list_inside_a_read_snapshot_uses_it(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_list l;
    assert_int_equal(wl_store_read_begin(f->s), 0);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.total, 1);
    wl_run_list_free(&l);
    insert_run(f->path, "00000000-0000-4000-8000-0000000000b3");
    assert_int_equal(atomic_load(&hook_fired), 1);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.total, 1); /* still the snapshot's */
    assert_int_equal(l.n, 1);
    wl_run_list_free(&l);
    wl_store_read_end(f->s);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.total, 2);
    wl_run_list_free(&l);
}

/* gc lists its runs in one read, then deletes them by key one by one. A
 * listed run removed meanwhile (`rm`, another gc) gives its key to the next
 * run made: old, gc then deleted that new run, which its limits never chose
 * (created after the cutoff), and named the old one as removed. */
static void test_gc_does_not_delete_a_run_that_took_a_listed_runs_key(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char newest[37];
    struct wl_test_run_spec sp = {
        .created_at_ms = WL_TEST_T0_MS + 10, .model = "newest", .duration_ms = 5, .energy_j = 2};
    wl_test_store_make_run(f->s, &sp, newest);
    /* between gc's list and its deletions: the newest run is removed and a
     * run made after the cutoff takes its key */
    int n = snprintf(hook_sql, sizeof hook_sql,
                     "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE uuid = '%s'; ", newest);
    insert_run_sql(hook_sql + n, sizeof hook_sql - (size_t)n,
                   "00000000-0000-4000-8000-0000000000b4");
    struct wl_gc_params p = {.keep = -1,
                             .max_age_days = 0.5 / 86400000.0 * 1000, /* 0.5 s */
                             .has_now = true,
                             .now_ms = WL_TEST_T0_MS + 520};
    struct wl_gc_result out;
    memset(&out, 0, sizeof out);
    atomic_store(&hook_armed, 1);
    assert_int_equal(wl_store_gc(f->s, &p, &out), 0);
    assert_int_equal(atomic_load(&hook_fired), 1);
    assert_int_equal(wl_test_store_raw_count(f->path, "runs WHERE uuid = "
                                                      "'00000000-0000-4000-8000-0000000000b4'"),
                     1); /* the new run stays */
    assert_int_equal(wl_test_store_raw_count(f->path, "runs"), 1);
    assert_int_equal(out.removed.n, 1); /* the setup's run; the newest was gone already */
    assert_int_equal(strcmp(out.removed.rows[0].id, newest) == 0, 0);
    wl_gc_result_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_total_and_the_rows_are_one_snapshot, hook_setup,
                                        hook_teardown),
        cmocka_unit_test_setup_teardown(test_a_list_inside_a_read_snapshot_uses_it, hook_setup,
                                        hook_teardown),
        cmocka_unit_test_setup_teardown(test_gc_does_not_delete_a_run_that_took_a_listed_runs_key,
                                        hook_setup, hook_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

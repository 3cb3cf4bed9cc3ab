/* store/: wl_store_list_runs counts the matching runs and reads the page
 * in one snapshot. Each statement in autocommit had its own, so a run
 * committed by another process between the two made `total` disagree with
 * the rows (`runs 1-2 of 1.`, `"total": 1` beside two entries). The commit
 * is made to land exactly there by a VFS whose -shm lock hook, at the end of
 * the first read transaction after it is armed (a reader's read-mark is
 * released), inserts a run from a connection of its own.
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

/* Another process's run, committed from a plain connection. */
static void insert_run(const char *path, const char *uuid)
{
    sqlite3 *db = NULL;
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO runs (uuid, created_at_ms, status, kind) VALUES ('%s', %lld, "
             "'complete', 'measure')",
             uuid, WL_TEST_T0_MS + 1000);
    if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
        sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        atomic_store(&hook_fired, 1);
    sqlite3_close(db);
}

/* A shared read-mark released (WAL_READ_LOCK(n) is slot 3 + n): the end of
 * a read transaction. */
static int hook_shm_lock(sqlite3_file *f, int ofst, int n, int flags)
{
    int rc = wl_test_vfs_hook_base()->xShmLock(f, ofst, n, flags);
    if (flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_SHARED) && ofst >= 3 &&
        atomic_exchange(&hook_armed, 0))
        insert_run(hook_path, "00000000-0000-4000-8000-0000000000b2");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_total_and_the_rows_are_one_snapshot, hook_setup,
                                        hook_teardown),
        cmocka_unit_test_setup_teardown(test_a_list_inside_a_read_snapshot_uses_it, hook_setup,
                                        hook_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

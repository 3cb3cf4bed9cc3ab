/* store/: a database whose reads fail (EIO from a failing disk) is said to
 * be unreadable because of an I/O error, not damaged. SQLite returns
 * SQLITE_CORRUPT, "database disk image is malformed", for a page whose
 * read fails inside a query (and SQLITE_IOERR at an open), and the store
 * called the file damaged and suggested salvaging it, which misleads for
 * an intact file on a failing disk. The reads are failed by a VFS whose
 * xRead of the main database file fails while armed (SQLite's unix VFS
 * says SQLITE_IOERR_CORRUPTFS for EIO); a truncated file still reads
 * "damaged" (test_store_robust.c).
 */
#include "run_rows.h"
#include "sqlite_vfs_hook.h"
#include "store_fixture.h"
#include "store_hook_fixture.h"
#include "test_support.h"

#include "store/store.h"
#include "wattlens/error.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int reads_fail; /* the main database's reads fail while set */

static int failing_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    if (atomic_load(&reads_fail)) {
        errno = EIO;
        return SQLITE_IOERR_CORRUPTFS; /* what the unix VFS says for EIO */
    }
    return wl_test_vfs_hook_base()->xRead(f, buf, n, off);
}

static void failing_patch(sqlite3_io_methods *m)
{
    m->xRead = failing_read;
}

/* The hook installed, three runs written and the store closed (its log
 * checkpointed into the file); reads not failing yet. */
static int read_error_setup(void **state)
{
    atomic_store(&reads_fail, 0);
    int rc =
        wl_test_store_hook_setup(state, "wl-test-failing-read", SQLITE_OPEN_MAIN_DB, failing_patch);
    if (rc != 0)
        return rc;
    struct wl_test_store_fixture *f = *state;
    wl_test_store_make_filler_runs(f->s, 3);
    wl_store_close(f->s);
    f->s = NULL;
    return 0;
}

static int read_error_teardown(void **state)
{
    atomic_store(&reads_fail, 0);
    return wl_test_store_hook_teardown(state);
}

/* msg says an I/O error, what to check, and nothing of damage or salvage. */
static void assert_says_io_error(const char *msg)
{
    if (!strstr(msg, "an I/O error reading the file") || !strstr(msg, "check them") ||
        strstr(msg, "damaged") || strstr(msg, "salvage"))
        fail_msg("%s", msg);
}

/* A query that meets a page it cannot read: SQLite says "database disk
 * image is malformed"; the store reads the file through the connection's
 * own handle and names the failed read. Old: "damaged database (SQLite:
 * database disk image is malformed); ... may be salvaged". */
static void test_a_failed_read_in_a_query_is_an_io_error(void **state)
{
    struct wl_test_store_fixture *f = *state;
    f->s = wl_test_store_open(f->path);
    atomic_store(&reads_fail, 1);
    struct wl_run_list l;
    const int rc = wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l);
    atomic_store(&reads_fail, 0);
    const char *msg = wl_store_last_error(f->s);
    if (rc == 0)
        wl_run_list_free(&l);
    assert_int_equal(rc, WL_EIO);
    assert_says_io_error(msg);
    if (!strstr(msg, "Input/output error at byte ") || !strstr(msg, f->path))
        fail_msg("the failed read not named: %s", msg);
    /* the disk is back: the same store reads the runs */
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 3);
    wl_run_list_free(&l);
}

/* An open whose first reads fail: SQLite's own I/O error, said as one. */
static void test_a_failed_read_at_open_is_an_io_error(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.read_only = true;
    struct wl_errmsg e = {{0}};
    atomic_store(&reads_fail, 1);
    const int rc = wl_store_open(&p, &f->s, &e);
    atomic_store(&reads_fail, 0);
    assert_int_equal(rc, WL_EIO);
    assert_says_io_error(e.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_failed_read_in_a_query_is_an_io_error,
                                        read_error_setup, read_error_teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_read_at_open_is_an_io_error, read_error_setup,
                                        read_error_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

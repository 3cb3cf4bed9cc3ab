/* store/: an open reads the database's header (the SQLite header before
 * SQLite opens it; the application id of a damaged file, to call it a
 * damaged wattlens database) without dropping the POSIX advisory locks
 * other SQLite connections of this process hold on the file. Closing any
 * descriptor of a file drops every lock the process holds on it; SQLite's
 * unix VFS keeps its own descriptors open while another connection holds
 * a lock, but knows nothing of one opened beside it. Old: both headers
 * were read through an open()/close() of their own (the second while the
 * failing connection was still open), and another connection's read lock
 * was gone (a writer in another process could then change the file under
 * that reader). The locks are looked at from a forked child (F_GETLK
 * never reports the caller's own locks).
 */
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"
#include "wattlens/error.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Whether a process other than this one sees a lock on path (any byte). */
static bool another_process_sees_a_lock(const char *path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_RDWR);
        struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        if (fd < 0 || fcntl(fd, F_GETLK, &lk) != 0)
            _exit(2);
        _exit(lk.l_type == F_UNLCK ? 1 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 2);
    return WEXITSTATUS(status) == 0;
}

static void test_a_damaged_open_keeps_the_locks_of_other_connections(void **state)
{
    struct wl_test_store_fixture *f = *state;
    wl_test_store_make_filler_runs(f->s, 3);
    wl_store_close(f->s);
    f->s = NULL;

    /* another connection of this process in a read transaction: it holds
     * a read lock on the file until it ends; the file is cut short under
     * it by name (truncate opens no descriptor) */
    sqlite3 *reader = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &reader, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM runs", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(truncate(f->path, 40000), 0); /* page 1 and part of page 2 of 16 KiB */
    assert_true(another_process_sees_a_lock(f->path));

    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.busy_timeout_ms = 100;
    for (int ro = 0; ro < 2; ro++) {
        p.read_only = ro;
        wl_store *s = NULL;
        struct wl_errmsg e = {{0}};
        assert_int_equal(wl_store_open(&p, &s, &e), WL_EFORMAT);
        assert_null(s);
        /* still told apart from someone else's damaged file */
        assert_non_null(strstr(e.text, "damaged wattlens database (SQLite: "));
        assert_true(another_process_sees_a_lock(f->path));
    }
    assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(reader);
    assert_false(another_process_sees_a_lock(f->path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_damaged_open_keeps_the_locks_of_other_connections,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* store/ when several processes create one new database at once: the
 * header an open checks is read in one read transaction (another
 * connection's whole creation committed between two of its reads is never
 * taken for another program's file), the switch to a write-ahead log waits
 * for another connection's creation instead of failing at once, a wait that
 * runs out says how long it was, and processes forked together onto one new
 * file all open it. The interleavings are made deterministic with a VFS
 * that runs the other connection's creation from inside this one's unlock,
 * and with a reserved lock held from a second connection.
 */
#include "sqlite_vfs_hook.h"
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_store(const char *path, int busy_ms, wl_store **s, struct wl_errmsg *e)
{
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.busy_timeout_ms = busy_ms;
    *s = NULL;
    return wl_store_open(&p, s, e);
}

/* ---- another process creates the store between two reads of the header -- */

/* The default VFS with the main database file's xUnlock wrapped: when the
 * hook is armed, the first unlock to no lock (the end of a read
 * transaction) creates the store at hook_path from a connection of its own,
 * as another process starting at the same moment would. */
static atomic_int hook_armed;
static atomic_int hook_fired;
static const char *hook_path;

static int hook_unlock(sqlite3_file *f, int lock)
{
    int rc = wl_test_vfs_hook_base()->xUnlock(f, lock);
    if (lock == SQLITE_LOCK_NONE && atomic_exchange(&hook_armed, 0)) {
        wl_store *other = NULL;
        struct wl_errmsg e = {{0}};
        if (open_store(hook_path, 2000, &other, &e) == 0)
            atomic_store(&hook_fired, 1);
        wl_store_close(other);
    }
    return rc;
}

static void hook_patch(sqlite3_io_methods *m)
{
    m->xUnlock = hook_unlock;
}

static void hook_install(const char *path)
{
    hook_path = path;
    atomic_store(&hook_fired, 0);
    atomic_store(&hook_armed, 1);
    assert_int_equal(
        wl_test_vfs_hook_install("wl-test-unlock-hook", SQLITE_OPEN_MAIN_DB, hook_patch),
        SQLITE_OK);
}

static void hook_remove(void)
{
    atomic_store(&hook_armed, 0);
    wl_test_vfs_hook_remove();
}

/* Old: application_id, user_version and the table count were three reads;
 * the other creation committed after the first (id 0) and before the third
 * (tables), and the file was called "an SQLite database, but not a
 * wattlens store". */
static void test_a_store_created_during_the_header_read_is_ours(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/new.db", dir);
    hook_install(path);
    wl_store *s = NULL;
    struct wl_errmsg e = {{0}};
    int rc = open_store(path, 2000, &s, &e);
    hook_remove();
    assert_true(atomic_load(&hook_fired)); /* the other creation did happen in between */
    if (rc != 0)
        fail_msg("open while another connection created the store: %s (%s)", wl_strerror(rc),
                 e.text);
    /* and it is a store: a run goes in */
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    assert_int_equal(wl_store_run_finish(r, &(struct wl_run_totals){.status = WL_RUN_COMPLETE,
                                                                    .input_tokens = -1,
                                                                    .output_tokens = -1,
                                                                    .sample_count = -1}),
                     0);
    wl_store_close(s);
    assert_int_equal(wl_test_store_raw_count(path, "runs"), 1);
    wl_test_rmtree(dir);
    free(dir);
}

/* ---- the switch to a write-ahead log while another creation holds a lock - */

/* A second connection holding a reserved lock on the new file, as another
 * process does in the middle of its own switch; released after release_ms
 * (or, with release_ms < 0, when the test says). */
struct reserver {
    const char *path;
    int release_ms;
    sqlite3 *db;
    atomic_int release;
    int commit_rc;
};

static void *reserver_main(void *p)
{
    struct reserver *rs = p;
    if (rs->release_ms >= 0)
        wl_clock_sleep_ns((uint64_t)rs->release_ms * 1000000u);
    else
        while (!atomic_load(&rs->release))
            wl_clock_sleep_ns(1000000u);
    /* its commit writes the new file's first page, which needs the
     * exclusive lock: it waits for the open's tries to let go of theirs */
    rs->commit_rc = sqlite3_exec(rs->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static void reserve(struct reserver *rs, pthread_t *t)
{
    assert_int_equal(sqlite3_open(rs->path, &rs->db), SQLITE_OK);
    sqlite3_busy_timeout(rs->db, 10000);
    assert_int_equal(sqlite3_exec(rs->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    atomic_store(&rs->release, 0);
    assert_int_equal(pthread_create(t, NULL, reserver_main, rs), 0);
}

/* Old: SQLite answers the switch with SQLITE_BUSY at once, without the busy
 * handler, and the open failed after a few ms with "waited 2000 ms". */
static void test_the_wal_switch_waits_for_another_creation(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/new.db", dir);
    fclose(fopen(path, "w")); /* the other process's sqlite3_open made it: 0 bytes */

    struct reserver rs = {.path = path, .release_ms = 200};
    pthread_t t;
    reserve(&rs, &t);
    wl_store *s = NULL;
    struct wl_errmsg e = {{0}};
    int rc = open_store(path, 10000, &s, &e);
    pthread_join(t, NULL);
    sqlite3_close(rs.db);
    assert_int_equal(rs.commit_rc, SQLITE_OK);
    if (rc != 0)
        fail_msg("open while another connection held a reserved lock: %s (%s)", wl_strerror(rc),
                 e.text);
    wl_store_close(s);

    /* held past the busy timeout: WL_EBUSY after it, saying how long */
    unlink(path);
    fclose(fopen(path, "w"));
    rs.release_ms = -1;
    reserve(&rs, &t);
    const uint64_t t0 = wl_clock_now_ns();
    rc = open_store(path, 300, &s, &e);
    const uint64_t took_ms = (wl_clock_now_ns() - t0) / 1000000u;
    atomic_store(&rs.release, 1);
    pthread_join(t, NULL);
    sqlite3_close(rs.db);
    assert_int_equal(rc, WL_EBUSY);
    assert_null(s);
    assert_non_null(strstr(e.text, "switching to WAL journal"));
    assert_non_null(strstr(e.text, "(waited 300 ms)"));
    assert_true(took_ms >= 300); /* it did wait that long */
    wl_test_rmtree(dir);
    free(dir);
}

/* ---- processes forked onto one new file together -------------------------- */

enum { N_ROUNDS = 15, N_PROCS = 4 };

/* Each round: N_PROCS children wait on one pipe, open the new file at once
 * and store a run; every one succeeds, and the file holds their runs. */
static void test_processes_creating_one_store_together_all_succeed(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[4200];
    for (int round = 0; round < N_ROUNDS; round++) {
        snprintf(path, sizeof path, "%s/new%d.db", dir, round);
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t kids[N_PROCS];
        for (int k = 0; k < N_PROCS; k++) {
            kids[k] = fork();
            assert_true(kids[k] >= 0);
            if (kids[k] > 0)
                continue;
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) != 0) /* EOF: all start together */
                _exit(3);
            wl_store *s = NULL;
            struct wl_errmsg e = {{0}};
            int rc = open_store(path, 2000, &s, &e);
            struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE};
            wl_store_run *r = NULL;
            char id[37];
            if (rc == 0)
                rc = wl_store_run_begin(s, &info, &r, id);
            if (rc != 0)
                fprintf(stderr, "child %d of round %d: %s (%s)\n", k, round, wl_strerror(rc),
                        e.text[0] ? e.text : wl_store_last_error(s));
            wl_store_run_abandon(r);
            wl_store_close(s);
            _exit(rc == 0 ? 0 : 1);
        }
        close(go[0]);
        close(go[1]);
        int failed = 0;
        for (int k = 0; k < N_PROCS; k++) {
            int st = 0;
            assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
            failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        assert_int_equal(failed, 0);
        assert_int_equal(wl_test_store_raw_count(path, "runs"), N_PROCS);
    }
    wl_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_store_created_during_the_header_read_is_ours),
        cmocka_unit_test(test_the_wal_switch_waits_for_another_creation),
        cmocka_unit_test(test_processes_creating_one_store_together_all_succeed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

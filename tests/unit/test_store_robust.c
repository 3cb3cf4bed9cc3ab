/* store/ when something goes wrong: a SIGKILLed writer, bad input (not a
 * database, another program's SQLite file (with tables, or only a user_version),
 * a truncated database, a newer
 * schema, a locked database), a run writer waiting for another writer's
 * lock past the busy timeout and a cancel flag ending that wait, whose
 * writer is alive (this host, a reused pid, the start token's format,
 * another host's heartbeat, dead runs marked at open while the lock is held
 * elsewhere, a heartbeat's short wait, a run removed while recorded), and
 * directories this user cannot write: a clear error, reading with and without a write-ahead log,
 * and readers that create no files. The shared fixture is tests/support/store_fixture.h.
 */
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "store/sqlite_impl.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/mkdir_p.h"
#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- whose writer is alive: a run's status as every reader shows it ------ */

/* The status column as stored (not as the store reports it), into buf. */
static const char *raw_status(const char *path, const char *id, char *buf, size_t size)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT status FROM runs WHERE uuid = ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return buf;
}

static wl_store *open_read_only(const char *path)
{
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.read_only = true;
    wl_store *s = NULL;
    struct wl_errmsg e = {{0}};
    int rc = wl_store_open(&p, &s, &e);
    if (rc != 0)
        fail_msg("open %s read-only: %s (%s)", path, wl_strerror(rc), e.text);
    return s;
}

struct status_row {
    char status[32];
};

static int status_of_row(void *u, size_t n, const char *const *names,
                         const struct wl_store_value *v)
{
    struct status_row *o = u;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "status") == 0 && v[i].type == WL_VALUE_TEXT)
            snprintf(o->status, sizeof o->status, "%s", v[i].s);
    }
    return 0;
}

/* The status of run id in the list, the summary, the export's run row and
 * a retention dry run that would remove every run it may (keep 0) agree,
 * and are `want`. */
static void expect_status_everywhere(wl_store *s, const char *id, enum wl_run_status want)
{
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    bool listed = false;
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.rows[i].id, id) == 0) {
            assert_int_equal(l.rows[i].status, want);
            listed = true;
        }
    }
    assert_true(listed);
    wl_run_list_free(&l);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(s, id, &a), 0);
    assert_int_equal(a.run.row.status, want);
    wl_store_aggregates_free(&a);
    struct status_row row = {""};
    assert_int_equal(wl_store_foreach(s, id, WL_TABLE_RUN, -1, -1, status_of_row, &row), 0);
    assert_string_equal(row.status, wl_run_status_name(want));
    struct wl_gc_params p = {.keep = 0, .max_age_days = -1, .dry_run = true};
    struct wl_gc_result res;
    assert_int_equal(wl_store_gc(s, &p, &res), 0);
    bool would_go = false;
    for (size_t i = 0; i < res.removed.n; i++)
        would_go = would_go || strcmp(res.removed.rows[i].id, id) == 0;
    assert_true(would_go == (want != WL_RUN_RUNNING)); /* running runs are never removed */
    wl_gc_result_free(&res);
}

/* A writer is SIGKILLed between flushes: the file opens cleanly, the run is
 * incomplete, flushed rows are there and the unflushed batch is not. */
static void test_sigkill_mid_run_leaves_an_incomplete_run(void **state)
{
    struct wl_test_store_fixture *f = *state;
    wl_store_close(f->s);
    f->s = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        struct wl_store_params p;
        wl_store_default_params(&p);
        p.path = f->path;
        wl_store *s = NULL;
        struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .prompt = "crash"};
        wl_store_run *r = NULL;
        char id[37];
        if (wl_store_open(&p, &s, NULL) != 0 || wl_store_run_begin(s, &info, &r, id) != 0)
            _exit(2);
        wl_store_run_set_flush_interval(r, 3600 * 1000);
        for (int i = 0; i < 50; i++) {
            struct wl_store_token t = {.index = i,
                                       .energy_j = 0.5,
                                       .start_ms = i,
                                       .end_ms = i + 1,
                                       .power_w = WL_STORE_UNSET};
            struct wl_store_sample smp = {.t_ms = i};
            if (wl_store_add_token(r, &t) != 0 || wl_store_add_samples(r, &smp, 1) != 0)
                _exit(3);
            if (i == 29 && wl_store_flush(r) != 0)
                _exit(4);
        }
        /* 20 more tokens sit in the open batch. Tell the parent, then wait. */
        if (write(fds[1], id, 37) != 37)
            _exit(5);
        for (;;)
            pause();
    }
    close(fds[1]);
    char id[37] = "";
    ssize_t got = read(fds[0], id, 37);
    close(fds[0]);
    assert_int_equal(got, 37);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* a reader that does not write shows it incomplete too, and a dry run
     * of retention would remove it, as the real one will; nothing is
     * written (the stored status is still running) */
    wl_store *ro = open_read_only(f->path);
    expect_status_everywhere(ro, id, WL_RUN_INCOMPLETE);
    wl_store_close(ro);
    char stored[32];
    assert_string_equal(raw_status(f->path, id, stored, sizeof stored), "running");

    f->s = wl_test_store_open(f->path);
    assert_string_equal(raw_status(f->path, id, stored, sizeof stored), "incomplete");
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(a.run.row.status, WL_RUN_INCOMPLETE);
    assert_int_equal(a.tokens.n_output, 30);
    assert_int_equal(a.n_samples, 30);
    assert_float_equal(a.tokens.output_energy_j, 15.0, 1e-9);
    wl_store_aggregates_free(&a);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.rows[0].status, WL_RUN_INCOMPLETE);
    assert_true(l.rows[0].partial); /* listed from what it flushed */
    assert_int_equal(l.rows[0].output_tokens, 30);
    assert_int_equal(l.rows[0].input_tokens, 0);
    assert_true(isnan(l.rows[0].energy_j)); /* no sections: no energy to add up */
    wl_run_list_free(&l);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static char *snapshot(const char *path, size_t *n)
{
    char *b = wl_test_read_file(path, n);
    assert_non_null(b);
    return b;
}

static int try_open(const char *path, int busy_ms, struct wl_errmsg *e)
{
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.busy_timeout_ms = busy_ms;
    wl_store *s = NULL;
    int rc = wl_store_open(&p, &s, e);
    wl_store_close(s);
    return rc;
}

/* The database's missing directories are made (util/mkdir_p); one that
 * cannot be is named, and a symbolic link to nothing on the way is said to
 * be one. Old (a copy of mkdir -p of its own): a link to nothing as the
 * directory itself passed as made, and SQLite said only "unable to open
 * database file". */
/* Opening the store at dir/w.db fails with dir named as the directory
 * that cannot be made, and link as a symbolic link to nothing. */
static void expect_dir_not_made(const char *dir, const char *link)
{
    char path[4300], want[8800];
    struct wl_errmsg e = {{0}};
    snprintf(path, sizeof path, "%s/w.db", dir);
    assert_int_equal(try_open(path, 100, &e), WL_ENOENT);
    snprintf(want, sizeof want,
             "cannot create directory %s: No such file or directory (%s is a symbolic link to "
             "a directory that does not exist)",
             dir, link);
    if (!strstr(e.text, want))
        fail_msg("%s", e.text);
}

static void test_a_directory_that_cannot_be_made_is_named(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char link[4200], target[4200], sub[4300], path[4400];
    struct wl_errmsg e = {{0}};
    snprintf(link, sizeof link, "%s/dangling", f->dir);
    snprintf(target, sizeof target, "%s/nowhere", f->dir);
    assert_int_equal(symlink(target, link), 0);
    expect_dir_not_made(link, link);
    snprintf(sub, sizeof sub, "%s/sub", link);
    expect_dir_not_made(sub, link);
    /* once the link leads somewhere, both are made */
    assert_int_equal(mkdir(target, 0755), 0);
    snprintf(path, sizeof path, "%s/w.db", sub);
    assert_int_equal(try_open(path, 100, &e), 0);
    snprintf(path, sizeof path, "%s/sub", target);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

/* The store says which directories it made (the highest one; all below it
 * were made too) and none when they were there: the CLI names them for a
 * path the user gave, where a typo would otherwise go unnoticed. */
static void test_the_directories_made_are_reported(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char path[4300], want[4300];
    snprintf(path, sizeof path, "%s/a/b/w.db", f->dir);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    wl_store *s = NULL;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &s, &e), 0);
    snprintf(want, sizeof want, "%s/a", f->dir);
    assert_string_equal(wl_store_made_dir(s), want);
    wl_store_close(s);
    /* there now: none made */
    assert_int_equal(wl_store_open(&p, &s, &e), 0);
    assert_string_equal(wl_store_made_dir(s), "");
    wl_store_close(s);
}

static void test_refuses_a_file_that_is_not_a_database(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/notes.txt", f->dir);
    const char text[] = "these are my notes, not a database\n";
    assert_int_equal(wl_test_write_file(path, text, sizeof text - 1), 0);
    struct wl_errmsg e = {{0}};
    assert_int_equal(try_open(path, 100, &e), WL_EFORMAT);
    assert_non_null(strstr(e.text, path));
    assert_non_null(strstr(e.text, "not a wattlens database"));
    size_t n;
    char *after = snapshot(path, &n);
    assert_int_equal(n, sizeof text - 1);
    assert_memory_equal(after, text, n);
    free(after);

    /* An SQLite file of another program is not touched either. */
    snprintf(path, sizeof path, "%s/other.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (42)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    size_t n0;
    char *before = snapshot(path, &n0);
    assert_int_equal(try_open(path, 100, &e), WL_EFORMAT);
    assert_non_null(strstr(e.text, "not a wattlens store"));
    after = snapshot(path, &n);
    assert_int_equal(n, n0);
    assert_memory_equal(after, before, n);
    free(before);
    free(after);
}

/* Another program's fresh SQLite file that set user_version before making
 * its tables (application id 0, no tables): not a wattlens store, refused
 * by a writer and a reader with its bytes unchanged. It was taken for a
 * wattlens store to migrate: switched to WAL, then "migrating the schema: no
 * such table: runs" on every open. A wattlens migration sets user_version,
 * application_id and the tables in one transaction, so it never leaves this. */
static void test_refuses_an_sqlite_file_with_only_a_user_version(void **state)
{
    struct wl_test_store_fixture *f = *state;
    static const char *const pragmas[] = {"PRAGMA user_version = 1", "PRAGMA user_version = 3",
                                          "PRAGMA user_version = 9999"};
    for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/versioned%zu.db", f->dir, i);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, pragmas[i], NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        size_t n0, n;
        char *before = snapshot(path, &n0);
        for (int ro = 0; ro < 2; ro++) {
            struct wl_store_params p;
            wl_store_default_params(&p);
            p.path = path;
            p.busy_timeout_ms = 100;
            p.read_only = ro;
            wl_store *s = NULL;
            struct wl_errmsg e = {{0}};
            assert_int_equal(wl_store_open(&p, &s, &e), WL_EFORMAT);
            assert_null(s);
            assert_non_null(strstr(e.text, "an SQLite database, but not a wattlens store"));
            char *after = snapshot(path, &n);
            assert_int_equal(n, n0);
            assert_memory_equal(after, before, n);
            free(after);
            char side[4300];
            snprintf(side, sizeof side, "%s-wal", path);
            assert_int_equal(access(side, F_OK), -1);
        }
        free(before);
    }
}

/* A truncated wattlens database is a damaged wattlens database (its header
 * still carries our application id), not "not a wattlens database"; the
 * message says what may be salvaged, and the file is left as it is. */
static void test_a_truncated_database_is_called_damaged(void **state)
{
    struct wl_test_store_fixture *f = *state;
    wl_test_store_make_filler_runs(f->s, 3);
    wl_store_close(f->s);
    f->s = NULL;
    assert_int_equal(truncate(f->path, 40000), 0); /* page 1 and part of page 2 of 16 KiB */
    size_t n0, n;
    char *before = snapshot(f->path, &n0);
    struct wl_errmsg e = {{0}};
    assert_int_equal(try_open(f->path, 100, &e), WL_EFORMAT);
    assert_non_null(strstr(e.text, "damaged wattlens database (SQLite: "));
    assert_non_null(strstr(e.text, "salvaged"));
    assert_null(strstr(e.text, "not a wattlens database"));
    char *after = snapshot(f->path, &n);
    assert_int_equal(n, n0);
    assert_memory_equal(after, before, n);
    free(before);
    free(after);
    /* too short to hold the application id: a damaged SQLite database */
    assert_int_equal(truncate(f->path, 50), 0);
    assert_int_equal(try_open(f->path, 100, &e), WL_EFORMAT);
    assert_non_null(strstr(e.text, "damaged SQLite database"));
}

static void test_refuses_a_newer_schema_without_touching_it(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS, .duration_ms = 1, .energy_j = 1};
    wl_test_store_make_run(f->s, &sp, id);
    wl_store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99; PRAGMA wal_checkpoint(TRUNCATE)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    size_t n0, n;
    char *before = snapshot(f->path, &n0);
    struct wl_errmsg e = {{0}};
    assert_int_equal(try_open(f->path, 100, &e), WL_EVERSION);
    assert_non_null(strstr(e.text, "newer wattlens"));
    assert_non_null(strstr(e.text, "99"));
    char *after = snapshot(f->path, &n);
    assert_int_equal(n, n0);
    assert_memory_equal(after, before, n);
    free(before);
    free(after);
    assert_int_equal(wl_test_store_raw_count(f->path, "runs"), 1);
}

static void test_locked_database_is_a_clear_busy_error(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS, .duration_ms = 1, .energy_j = 1};
    wl_test_store_make_run(f->s, &sp, id);
    wl_store_close(f->s);
    f->s = NULL;

    /* Another program holds the write lock: opening works (WAL readers are
     * not blocked), writing waits for the busy timeout and then says why. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE; DELETE FROM run_tags", NULL, NULL, NULL),
                     SQLITE_OK);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.busy_timeout_ms = 100;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE};
    wl_store_run *r = NULL;
    char id2[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id2), WL_EBUSY);
    assert_non_null(strstr(wl_store_last_error(f->s), "locked by another process"));
    assert_int_equal(wl_store_delete_run(f->s, id, false), WL_EBUSY);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 1); /* still readable */
    wl_run_list_free(&l);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id2), 0);
    wl_store_run_abandon(r);
    wl_store_close(f->s);
    f->s = NULL;

    /* An exclusive lock even blocks reading: opening fails after the wait. */
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; "
                                  "DELETE FROM run_tags",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(try_open(f->path, 100, &e), WL_EBUSY);
    assert_non_null(strstr(e.text, "locked"));
    assert_non_null(strstr(e.text, f->path));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(wl_test_store_raw_count(f->path, "runs"), 2); /* nothing lost */
}

/* Holds the write lock of a database from its own connection: for hold_ms,
 * or, with hold_ms < 0, until release_lock_holder. */
struct lock_holder {
    const char *path;
    int hold_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool tried, locked, release;
    atomic_bool releasing; /* set just before the lock is let go */
};

static void *hold_write_lock(void *p)
{
    struct lock_holder *h = p;
    sqlite3 *db = NULL;
    sqlite3_open(h->path, &db);
    sqlite3_busy_timeout(db, 5000);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE; DELETE FROM run_tags", NULL, NULL, NULL);
    pthread_mutex_lock(&h->mu);
    h->tried = true;
    h->locked = rc == SQLITE_OK;
    pthread_cond_broadcast(&h->cv);
    if (h->hold_ms < 0) {
        while (!h->release)
            pthread_cond_wait(&h->cv, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    if (h->hold_ms > 0)
        usleep((useconds_t)h->hold_ms * 1000);
    atomic_store(&h->releasing, true);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return NULL;
}

static void start_lock_holder(struct lock_holder *h, pthread_t *t)
{
    h->tried = h->locked = h->release = false;
    atomic_store(&h->releasing, false);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    assert_int_equal(pthread_create(t, NULL, hold_write_lock, h), 0);
    pthread_mutex_lock(&h->mu);
    while (!h->tried)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    assert_true(h->locked);
}

/* Lets a holder started with hold_ms < 0 commit and close. */
static void release_lock_holder(struct lock_holder *h)
{
    pthread_mutex_lock(&h->mu);
    h->release = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Once its row exists, a run's batches and its finish wait run_wait_ms for
 * another writer, not the busy timeout: `measure` saves a long command's
 * measurement after it, and the recorder would lose rows. */
static void test_a_run_writer_waits_for_the_lock_past_the_busy_timeout(void **state)
{
    struct wl_test_store_fixture *f = *state;
    wl_store_close(f->s);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.busy_timeout_ms = 100;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);

    struct lock_holder h = {.path = f->path, .hold_ms = 600};
    pthread_t t;
    start_lock_holder(&h, &t);
    struct wl_store_section sec = {.phase = "measure",
                                   .name = "command",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 1000,
                                   .energy_j = 2.0,
                                   .method = WL_METHOD_COUNTER};
    /* waited for the holder (its commit), not WL_EBUSY after 100 ms */
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    assert_true(atomic_load(&h.releasing));
    pthread_join(t, NULL);
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1000,
                                .energy_j = 2.0,
                                .energy_method = WL_METHOD_COUNTER,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET,
                                .sensor_provenance_json = "{\"sensors\":\"late\"}"};
    assert_int_equal(wl_store_flush(r), 0); /* the batch's lock is released */
    start_lock_holder(&h, &t);
    assert_int_equal(wl_store_run_finish(r, &tot), 0); /* the finish waits too */
    pthread_join(t, NULL);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(a.run.row.status, WL_RUN_COMPLETE);
    assert_non_null(a.run.sensor_provenance_json);
    assert_non_null(strstr(a.run.sensor_provenance_json, "late")); /* set at the finish */
    wl_store_aggregates_free(&a);
    wl_store_close(f->s);

    /* with run_wait_ms no longer than the busy timeout, a batch gives up
     * (the lock held until then, however long that takes) */
    p.run_wait_ms = 100;
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    h.hold_ms = -1;
    start_lock_holder(&h, &t);
    assert_int_equal(wl_store_add_section(r, &sec), WL_EBUSY);
    assert_non_null(strstr(wl_store_last_error(f->s), "waited 100 ms"));
    release_lock_holder(&h);
    pthread_join(t, NULL);
    wl_store_run_abandon(r);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
}

/* A run whose writer (this process) is alive stays `running` on this host
 * however old its heartbeat: a `measure` of a long command writes nothing
 * until the command ends. Before, the 24-hour rule applied on the writer's
 * own host too, and gc could then remove the live run. */
static void test_a_live_writer_on_this_host_needs_no_heartbeat(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "train 3 days"};
    wl_store_run *r = NULL;
    char id[37], st[32];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_test_store_raw_exec(f->path,
                           "UPDATE runs SET updated_at_ms = updated_at_ms - 25 * 3600 * 1000, "
                           "created_at_ms = created_at_ms - 25 * 3600 * 1000");
    wl_store *other =
        wl_test_store_open(f->path); /* a writable open marks dead runs: not this one */
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "running");
    expect_status_everywhere(other, id, WL_RUN_RUNNING);
    struct wl_gc_params p = {.keep = -1, .max_age_days = 1};
    struct wl_gc_result res;
    assert_int_equal(wl_store_gc(other, &p, &res), 0);
    assert_int_equal(res.removed.n, 0);
    wl_gc_result_free(&res);
    wl_store_close(other);
    /* and its save at the end works */
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 1,
                                .energy_method = WL_METHOD_COUNTER,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    expect_status_everywhere(f->s, id, WL_RUN_COMPLETE);
}

/* The writer's pid alone is not proof: a pid taken by another process after
 * the writer died (or after a reboot) has another start token. */
static void test_a_reused_pid_is_not_the_writer(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .prompt = "reused"};
    wl_store_run *r = NULL;
    char id[37], st[32];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_abandon(r);
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING); /* this process: alive */
#ifdef __linux__
    assert_int_equal(wl_test_store_raw_count(f->path, "runs WHERE writer_start LIKE '%/%'"), 1);
#endif
    /* the same pid with another start: a process that is not the writer */
    wl_test_store_raw_exec(f->path, "UPDATE runs SET writer_start = 'another-boot/12345'");
    wl_store *ro = open_read_only(f->path);
    expect_status_everywhere(ro, id, WL_RUN_INCOMPLETE); /* shown so, not written */
    wl_store_close(ro);
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "running");
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    /* no token stored (an older row, a system without /proc): the pid decides */
    wl_test_store_raw_exec(f->path, "UPDATE runs SET writer_start = NULL");
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING);
    wl_test_store_raw_exec(f->path, "UPDATE runs SET writer_start = 'another-boot/12345'");
    wl_store_close(f->s);
    f->s = wl_test_store_open(f->path); /* a writable open stores what readers show */
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "incomplete");
}

/* A writer killed or exited but not reaped yet by its parent (a zombie: a
 * harness that has not called wait() yet) is gone, with or without a start
 * token stored: kill(pid, 0) succeeds on a zombie and its start time is
 * still the writer's, so before it read `running` (and rm refused the run,
 * gc kept it) until the parent reaped it. */
static void test_an_unreaped_writer_is_gone(void **state)
{
#ifdef __linux__
    struct wl_test_store_fixture *f = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* the writer: lives until the pipe closes */
        char c;
        close(fds[1]);
        _exit(read(fds[0], &c, 1) == 0 ? 0 : 1);
    }
    close(fds[0]);
    char token[WL__START_TOKEN_SIZE];
    assert_true(wl__process_start_token("/proc", (long)child, token, sizeof token));
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .prompt = "unreaped"};
    wl_store_run *r = NULL;
    char id[37], sql[256];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_abandon(r);
    snprintf(sql, sizeof sql, "UPDATE runs SET writer_pid = %ld, writer_start = '%s'", (long)child,
             token);
    wl_test_store_raw_exec(f->path, sql);
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING); /* the child lives */
    close(fds[1]);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    /* waits for it to end and leaves it a zombie (WNOWAIT: not reaped) */
    assert_int_equal(waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT), 0);
    assert_int_equal(kill(child, 0), 0); /* a zombie still "exists" */
    wl_store *ro = open_read_only(f->path);
    expect_status_everywhere(ro, id, WL_RUN_INCOMPLETE);
    wl_store_close(ro);
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    wl_test_store_raw_exec(f->path, "UPDATE runs SET writer_start = NULL"); /* the pid alone */
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    int st = 0;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#else
    (void)state;
    skip();
#endif
}

/* The writer's start token keeps its stored format, "BOOT_ID/START" with the
 * start time as /proc/PID/stat's field 22 holds it: tokens stored by older
 * versions must still match the writer's (old: a hand parser of its own;
 * now util/proc_stat). The expected token is built here by a plain split. */
static void test_the_start_token_is_the_boot_id_and_field_22(void **state)
{
#ifdef __linux__
    struct wl_test_store_fixture *f = *state;
    char boot[64] = "", line[1024] = "";
    FILE *b = fopen("/proc/sys/kernel/random/boot_id", "r");
    FILE *p = fopen("/proc/self/stat", "r");
    if (!b || !p || !fgets(boot, sizeof boot, b) || !fgets(line, sizeof line, p)) {
        if (b)
            fclose(b);
        if (p)
            fclose(p);
        skip();
    }
    fclose(b);
    fclose(p);
    boot[strcspn(boot, "\n")] = '\0';
    char *save = NULL, *field = strtok_r(strrchr(line, ')') + 1, " ", &save);
    for (int n = 3; n < 22; n++)
        field = strtok_r(NULL, " ", &save);
    assert_non_null(field);
    assert_true(strspn(field, "0123456789") == strlen(field) && field[0] != '0');

    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .prompt = "token"};
    wl_store_run *r = NULL;
    char id[37], where[256];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_abandon(r);
    snprintf(where, sizeof where, "runs WHERE writer_start = '%s/%s'", boot, field);
    assert_int_equal(wl_test_store_raw_count(f->path, where), 1);
#else
    (void)state;
    skip();
#endif
}

/* A faked /proc: this process's stat line (state, start time) and the boot
 * id, under root. */
static void write_fake_proc(const char *root, char state, const char *start)
{
    char path[4300], text[256];
    snprintf(path, sizeof path, "%s/sys/kernel/random", root);
    assert_int_equal(wl_mkdir_p(path), 0);
    snprintf(path, sizeof path, "%s/sys/kernel/random/boot_id", root);
    assert_int_equal(wl_test_write_file(path, "fake-boot\n", 10), 0);
    snprintf(path, sizeof path, "%s/%ld", root, (long)getpid());
    assert_int_equal(wl_mkdir_p(path), 0);
    snprintf(path, sizeof path, "%s/%ld/stat", root, (long)getpid());
    int n =
        snprintf(text, sizeof text, "%ld (writer) %c 1 1 1 0 -1 0 0 0 0 0 5 5 0 0 20 0 1 0 %s\n",
                 (long)getpid(), state, start);
    assert_int_equal(wl_test_write_file(path, text, (size_t)n), 0);
}

static void reopen_store(struct wl_test_store_fixture *f)
{
    wl_store_close(f->s);
    f->s = wl_test_store_open(f->path);
}

/* The writer's liveness reads processes under $WATTLENS_PROC_ROOT, as the
 * sensors do (else /proc), so a test can fake a writer: its start token is
 * stored from there, and a stat line there that says zombie, or another
 * start time, makes its run read incomplete while the process lives. Old:
 * the store read the real /proc whatever the variable said, so the token
 * was the real one and this live writer read running throughout. */
static void test_liveness_reads_processes_under_wattlens_proc_root(void **state)
{
#ifdef __linux__
    struct wl_test_store_fixture *f = *state;
    char root[4200], path[4300];
    snprintf(root, sizeof root, "%s/proc", f->dir);
    write_fake_proc(root, 'S', "777");
    assert_int_equal(setenv("WATTLENS_PROC_ROOT", root, 1), 0);
    reopen_store(f); /* the root is read at open */
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .prompt = "faked"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_abandon(r);
    assert_int_equal(wl_test_store_raw_count(f->path, "runs WHERE writer_start = 'fake-boot/777'"),
                     1);
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING);
    write_fake_proc(root, 'Z', "777"); /* a zombie */
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    write_fake_proc(root, 'S', "778"); /* the pid reused */
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    /* a stat that cannot be read: the pid alone, which lives; a FIFO there
     * reads as nothing, without hanging the query */
    snprintf(path, sizeof path, "%s/%ld/stat", root, (long)getpid());
    assert_int_equal(unlink(path), 0);
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING);

    /* a root too long to use is said, not cut */
    char long_root[600];
    memset(long_root, 'p', sizeof long_root - 1);
    long_root[0] = '/';
    long_root[sizeof long_root - 1] = '\0';
    assert_int_equal(setenv("WATTLENS_PROC_ROOT", long_root, 1), 0);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    wl_store *s = NULL;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &s, &e), WL_ERANGE);
    if (!strstr(e.text, "WATTLENS_PROC_ROOT is 599 bytes long"))
        fail_msg("%s", e.text);
    /* empty is unset: the real /proc, where the token is not the fake one */
    assert_int_equal(setenv("WATTLENS_PROC_ROOT", "", 1), 0);
    reopen_store(f);
    unsetenv("WATTLENS_PROC_ROOT");
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
#else
    (void)state;
    skip();
#endif
}

/* Marking dead runs at open is a stored copy of what readers work out: while
 * another writer holds the lock, the open goes on without it (old: it
 * failed after the busy timeout with "marking dead runs incomplete: the
 * database is locked"). */
static void test_open_with_a_dead_run_and_the_lock_held_elsewhere(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "killed"};
    wl_store_run *r = NULL;
    char id[37], st[32];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_abandon(r);
    wl_store_close(f->s);
    f->s = NULL;
    wl_test_store_raw_exec(
        f->path, "UPDATE runs SET writer_start = 'another-boot/12345'"); /* its writer is gone */
    struct lock_holder h = {.path = f->path, .hold_ms = 3000};
    pthread_t t;
    start_lock_holder(&h, &t);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.busy_timeout_ms = 2000;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "running"); /* left for later */
    wl_store_close(f->s);
    f->s = wl_test_store_open(f->path);
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "incomplete");
}

/* On another host the writer's pid means nothing here: its run is taken as
 * dead once it has shown no sign of life for 24 hours, and a heartbeat
 * keeps it alive. */
static void test_another_hosts_run_lives_by_its_heartbeat(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 100000"};
    wl_store_run *r = NULL;
    char id[37], st[32];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_test_store_raw_exec(f->path, "UPDATE runs SET writer_host = 'elsewhere.invalid', "
                                    "updated_at_ms = updated_at_ms - 23 * 3600 * 1000");
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING);
    wl_test_store_raw_exec(f->path,
                           "UPDATE runs SET updated_at_ms = updated_at_ms - 2 * 3600 * 1000");
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "running");
    /* its writer stamps it: alive again, the stamp is now */
    const int64_t before_ms = wl_clock_realtime_ns() / 1000000;
    assert_int_equal(wl_store_run_heartbeat(r, 100), 0);
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING);
    char sql[160];
    snprintf(sql, sizeof sql, "runs WHERE updated_at_ms >= %lld", (long long)before_ms);
    assert_int_equal(wl_test_store_raw_count(f->path, sql), 1);
    /* with a batch open, the heartbeat is its commit */
    struct wl_store_sample smp = {.t_ms = 1};
    wl_store_run_set_flush_interval(r, 3600 * 1000);
    assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
    assert_int_equal(wl_test_store_raw_count(f->path, "power_samples"), 0);
    assert_int_equal(wl_store_run_heartbeat(r, 100), 0);
    assert_int_equal(wl_test_store_raw_count(f->path, "power_samples"), 1);
    wl_store_run_abandon(r);
}

/* A heartbeat waits only briefly for another writer (the thread that calls
 * it also waits for a command), and a run whose row was removed while it
 * was recorded says so instead of "FOREIGN KEY constraint failed". */
static void test_heartbeat_waits_briefly_and_a_removed_run_says_so(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct lock_holder h = {.path = f->path, .hold_ms = 1500};
    pthread_t t;
    start_lock_holder(&h, &t);
    assert_int_equal(wl_store_run_heartbeat(r, 50), WL_EBUSY);
    assert_false(atomic_load(&h.releasing)); /* it gave up while the lock was held */
    assert_non_null(strstr(wl_store_last_error(f->s), "waited 50 ms"));
    pthread_join(t, NULL);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    assert_int_equal(wl_store_run_heartbeat(r, 50), 0);

    wl_store *other = wl_test_store_open(f->path);
    assert_int_equal(wl_store_delete_run(other, id, true), 0); /* `wattlens rm` meanwhile */
    wl_store_close(other);
    assert_int_equal(wl_store_run_heartbeat(r, 50), WL_ENOENT);
    struct wl_store_section sec = {
        .phase = "measure", .name = "command", .token_index = -1, .end_ms = 1, .energy_j = 1};
    assert_int_equal(wl_store_add_section(r, &sec), WL_ENOENT);
    const char *msg = wl_store_last_error(f->s);
    assert_non_null(strstr(msg, id));
    assert_non_null(strstr(msg, "is no longer in the database: it was removed"));
    assert_null(strstr(msg, "FOREIGN KEY"));
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 1,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), WL_ENOENT);
    assert_int_equal(wl_test_store_raw_count(f->path, "runs"), 0); /* not made again */
}

/* A run removed while recorded gives its key to the next run made (runs.id
 * has no AUTOINCREMENT). Its writer must still find itself gone: old, it
 * checked the key alone and went on writing its rows and totals into the
 * new run, whose own rows then collided with them (both runs lost). */
static void test_a_removed_run_does_not_write_into_the_run_that_takes_its_key(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL, *next = NULL;
    char id[37], next_id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store *other = wl_test_store_open(f->path);
    assert_int_equal(wl_store_delete_run(other, id, true), 0); /* `wattlens rm --force` */
    struct wl_run_info info2 = {.kind = WL_RUN_KIND_MEASURE, .command = "true"};
    assert_int_equal(wl_store_run_begin(other, &info2, &next, next_id), 0);
    char where[128];
    snprintf(where, sizeof where, "runs WHERE id = 1 AND uuid = '%s'", next_id);
    assert_int_equal(wl_test_store_raw_count(f->path, where), 1); /* the removed run's key */
    struct wl_store_section sec = {
        .phase = "measure", .name = "command", .token_index = -1, .end_ms = 1, .energy_j = 1};
    assert_int_equal(wl_store_add_section(r, &sec), WL_ENOENT);
    assert_non_null(strstr(wl_store_last_error(f->s), "is no longer in the database"));
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 1,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), WL_ENOENT);
    assert_int_equal(wl_test_store_raw_count(f->path, "sections"), 0);
    assert_int_equal(wl_store_add_section(next, &sec), 0); /* the new run's own rows go in */
    tot.energy_j = 2;
    assert_int_equal(wl_store_run_finish(next, &tot), 0);
    snprintf(where, sizeof where, "runs WHERE uuid = '%s' AND status = 'complete' AND energy_j = 2",
             next_id);
    assert_int_equal(wl_test_store_raw_count(f->path, where), 1);
    assert_int_equal(wl_test_store_raw_count(f->path, "sections"), 1);
    wl_store_close(other);
}

/* The flag is set as measure sets it: by a signal handler on the thread
 * that waits (a thread writing it would be a data race, as TSan says). */
static volatile sig_atomic_t g_cancel_stop;

static void on_cancel_signal(int sig)
{
    g_cancel_stop = sig;
}

struct cancel_later {
    pthread_t waiter;
    int after_ms;
};

static void *signal_later(void *p)
{
    struct cancel_later *c = p;
    usleep((useconds_t)c->after_ms * 1000);
    pthread_kill(c->waiter, SIGUSR1);
    return NULL;
}

/* A cancel flag ends a run writer's wait for the lock (60 s by default) at
 * once: `measure` sets it from its SIGTERM/SIGINT handler while its save
 * waits for another writer. */
static void test_a_cancel_flag_ends_a_wait_for_the_lock(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct sigaction sa = {.sa_handler = on_cancel_signal}, old_sa;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old_sa), 0);
    g_cancel_stop = 0;
    wl_store_set_cancel(f->s, &g_cancel_stop);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_section sec = {
        .phase = "measure", .name = "command", .token_index = -1, .end_ms = 1, .energy_j = 1};
    struct lock_holder h = {.path = f->path, .hold_ms = 2500};
    pthread_t t, c;
    start_lock_holder(&h, &t);
    struct cancel_later cl = {.waiter = pthread_self(), .after_ms = 300};
    assert_int_equal(pthread_create(&c, NULL, signal_later, &cl), 0);
    assert_int_equal(wl_store_add_section(r, &sec), WL_ECANCELED);
    /* it waited for the signal, and stopped while the lock was still held
     * (no clock: a loaded machine stretches any bound) */
    assert_int_equal(g_cancel_stop, SIGUSR1);
    assert_false(atomic_load(&h.releasing));
    assert_non_null(strstr(wl_store_last_error(f->s), "stopped waiting for the database"));
    pthread_join(c, NULL);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    /* a flag that is set stops only waits: a free lock is taken */
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    assert_int_equal(wl_store_flush(r), 0);
    g_cancel_stop = 0;
    wl_store_set_cancel(f->s, NULL);
    assert_int_equal(sigaction(SIGUSR1, &old_sa, NULL), 0);
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 1,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

/* Exit status of a check that cannot be made here; it says why on stderr. */
#define CHECK_SKIPPED 77

/* Runs check(dir) in a child and returns its exit status (0: passed). The
 * checks are about directories this user cannot write, but root's
 * permission override ignores modes, so as root the child first becomes
 * nobody (uid and gid 65534, no supplementary groups). Whether the child
 * then really is bound by the modes is for each check to find out
 * (read_only_or_skip): dropping privileges may be impossible (no
 * CAP_SETUID in a container), a user may hold CAP_DAC_OVERRIDE, a file
 * system may ignore modes. */
static int as_unprivileged(int (*check)(const char *dir), const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
            fprintf(stderr, "cannot become uid 65534 (%s); checking as uid %d\n", strerror(errno),
                    (int)geteuid());
        _exit(check(dir));
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

/* 0 when this process can read directory ro but not create a file in it,
 * which the read-only checks rely on; otherwise says why and returns
 * CHECK_SKIPPED. Tried, not inferred from the mode: the permission
 * override and file systems decide. */
static int read_only_or_skip(const char *ro)
{
    if (access(ro, R_OK | X_OK) != 0) {
        fprintf(stderr, "skipped: uid %d cannot read %s (%s)\n", (int)geteuid(), ro,
                strerror(errno));
        return CHECK_SKIPPED;
    }
    char probe[4300];
    snprintf(probe, sizeof probe, "%s/probe-%ld", ro, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    unlink(probe);
    fprintf(stderr, "skipped: uid %d can write %s although its mode forbids it\n", (int)geteuid(),
            ro);
    return CHECK_SKIPPED;
}

static int check_read_only_dir(const char *dir)
{
    char path[4200];
    struct wl_errmsg e = {{0}};
    snprintf(path, sizeof path, "%s/ro", dir);
    if (read_only_or_skip(path) != 0)
        return CHECK_SKIPPED;
    snprintf(path, sizeof path, "%s/ro/w.db", dir);
    int rc = try_open(path, 100, &e); /* existing file, writable, in a read-only directory */
    if (rc != WL_EACCES || !strstr(e.text, path) || !strstr(e.text, "permissions"))
        return fprintf(stderr, "existing: %d %s\n", rc, e.text), 10;
    snprintf(path, sizeof path, "%s/ro/new.db", dir);
    rc = try_open(path, 100, &e); /* a new file: the directory is what is wrong */
    if (rc != WL_EACCES || !strstr(e.text, path) ||
        !strstr(e.text, "cannot create the database: its directory") ||
        !strstr(e.text, "/ro is not writable by this user"))
        return fprintf(stderr, "new: %d %s\n", rc, e.text), 11;
    snprintf(path, sizeof path, "%s/ro/sub/new.db", dir);
    rc = try_open(path, 100, &e);
    if (rc != WL_EACCES || !strstr(e.text, "cannot create directory"))
        return fprintf(stderr, "subdir: %d %s\n", rc, e.text), 12;
    return 0;
}

static void test_read_only_directory_is_a_clear_error(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char ro[4200], path[4300];
    snprintf(ro, sizeof ro, "%s/ro", f->dir);
    snprintf(path, sizeof path, "%s/w.db", ro);
    wl_store *s = wl_test_store_open(path);
    char id[37];
    struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS, .duration_ms = 1, .energy_j = 1};
    wl_test_store_make_run(s, &sp, id);
    wl_store_close(s); /* last close checkpoints and removes -wal and -shm */
    size_t n0, n;
    char *before = snapshot(path, &n0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_int_equal(chmod(path, 0666), 0);
    assert_int_equal(chmod(ro, 0555), 0);
    int rc = as_unprivileged(check_read_only_dir, f->dir);
    assert_int_equal(chmod(ro, 0755), 0);
    if (rc == CHECK_SKIPPED) {
        free(before);
        wl_test_skip_other_user("no unprivileged user bound by the modes here (above)");
    }
    assert_int_equal(rc, 0);
    char *after = snapshot(path, &n);
    assert_int_equal(n, n0);
    assert_memory_equal(after, before, n);
    free(before);
    free(after);
}

/* The directories of test_read_only_directory_is_readable, under the
 * fixture's: each made read-only, each holding a database w.db. */
static const char *const read_only_subdirs[] = {"merged #1?50%", "live", "with_shm", "no_shm",
                                                "unreadable"};

/* Opens path read-only and counts its runs; a writer must be refused. */
static int read_only_count(const char *path, int64_t *n_runs, struct wl_errmsg *e)
{
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.read_only = true;
    wl_store *s = NULL;
    int rc = wl_store_open(&p, &s, e);
    if (rc == 0) {
        struct wl_run_list l;
        rc = wl_store_list_runs(s, NULL, WL_SORT_DATE, 0, 0, &l);
        if (rc == 0)
            *n_runs = l.total;
        wl_run_list_free(&l);
        struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE};
        wl_store_run *r = NULL;
        char id[37];
        if (rc == 0 && wl_store_run_begin(s, &info, &r, id) != WL_EACCES)
            rc = -1;
    }
    wl_store_close(s);
    return rc;
}

static int check_reads_in_read_only_dirs(const char *dir)
{
    char path[4200];
    struct wl_errmsg e = {{0}};
    int64_t n = -1;
    for (size_t i = 0; i < sizeof read_only_subdirs / sizeof read_only_subdirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, read_only_subdirs[i]);
        if (read_only_or_skip(path) != 0)
            return CHECK_SKIPPED;
    }
    snprintf(path, sizeof path, "%s/unreadable/w.db-wal", dir);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        close(fd);
        fprintf(stderr, "skipped: uid %d can read %s although its mode forbids it\n",
                (int)geteuid(), path);
        return CHECK_SKIPPED;
    }
    /* The log was merged at close: the file alone is the whole database
     * (read through a file: URI, so the name's '#', '?' and '%' must be
     * escaped). */
    snprintf(path, sizeof path, "%s/merged #1?50%%/w.db", dir);
    int rc = read_only_count(path, &n, &e);
    if (rc != 0 || n != 1)
        return fprintf(stderr, "merged: %d, %lld runs, %s\n", rc, (long long)n, e.text), 20;
    rc = try_open(path, 100, &e); /* a writer still cannot use it, and says why */
    if (rc != WL_EACCES || !strstr(e.text, path) || !strstr(e.text, "directory is not writable"))
        return fprintf(stderr, "merged, writer: %d %s\n", rc, e.text), 21;
    /* A log with its index, as a live or killed writer leaves them. */
    snprintf(path, sizeof path, "%s/with_shm/w.db", dir);
    rc = read_only_count(path, &n, &e);
    if (rc != 0 || n != 2)
        return fprintf(stderr, "with_shm: %d, %lld runs, %s\n", rc, (long long)n, e.text), 22;
    /* A log without its index: the file alone would show one run of two. */
    snprintf(path, sizeof path, "%s/no_shm/w.db", dir);
    rc = read_only_count(path, &n, &e);
    if (rc != WL_EACCES || !strstr(e.text, "no_shm/w.db-wal") || !strstr(e.text, "stale"))
        return fprintf(stderr, "no_shm: %d, %lld runs, %s\n", rc, (long long)n, e.text), 23;
    /* A log this user cannot read. */
    snprintf(path, sizeof path, "%s/unreadable/w.db", dir);
    rc = read_only_count(path, &n, &e);
    if (rc != WL_EACCES || !strstr(e.text, "unreadable/w.db-wal") || !strstr(e.text, "cannot read"))
        return fprintf(stderr, "unreadable: %d, %lld runs, %s\n", rc, (long long)n, e.text), 24;
    return 0;
}

/* Copies DIR/w.db<suffix> for each suffix into TO, readable by all. */
static void copy_db(const char *dir, const char *to, const char *const *suffixes)
{
    for (; *suffixes; suffixes++) {
        char a[4300], b[4300];
        snprintf(a, sizeof a, "%s/w.db%s", dir, *suffixes);
        snprintf(b, sizeof b, "%s/w.db%s", to, *suffixes);
        size_t n = 0;
        char *buf = snapshot(a, &n);
        assert_int_equal(wl_test_write_file(b, buf, n), 0);
        assert_int_equal(chmod(b, 0644), 0);
        free(buf);
    }
}

static void test_read_only_directory_is_readable(void **state)
{
    struct wl_test_store_fixture *f = *state;
    wl_store_close(f->s); /* no connection crosses the fork below */
    f->s = NULL;
    char d[5][4200], path[4300];
    for (int i = 0; i < 5; i++) {
        snprintf(d[i], sizeof d[i], "%s/%s", f->dir, read_only_subdirs[i]);
        assert_int_equal(mkdir(d[i], 0755), 0);
    }
    char id[37];
    struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS, .duration_ms = 1, .energy_j = 1};
    snprintf(path, sizeof path, "%s/w.db", d[0]);
    wl_store *s = wl_test_store_open(path);
    wl_test_store_make_run(s, &sp, id);
    wl_store_close(s); /* last close merges the log and removes -wal and -shm */
    assert_int_equal(chmod(path, 0644), 0);

    /* live: the second run is only in the log while the store stays open */
    snprintf(path, sizeof path, "%s/w.db", d[1]);
    s = wl_test_store_open(path);
    wl_test_store_make_run(s, &sp, id);
    wl_store_close(s);
    s = wl_test_store_open(path);
    wl_test_store_make_run(s, &sp, id);
    copy_db(d[1], d[2], (const char *const[]){"", "-wal", "-shm", NULL});
    copy_db(d[1], d[3], (const char *const[]){"", "-wal", NULL});
    copy_db(d[1], d[4], (const char *const[]){"", "-wal", "-shm", NULL});
    wl_store_close(s);
    snprintf(path, sizeof path, "%s/w.db-wal", d[4]);
    assert_int_equal(chmod(path, 0000), 0); /* unreadable even to its owner unless root */

    /* What reading the file alone would show: the first run only. */
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "file:%s/w.db?immutable=1", d[3]);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM runs", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);

    assert_int_equal(chmod(f->dir, 0755), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(chmod(d[i], 0555), 0);
    int rc = as_unprivileged(check_reads_in_read_only_dirs, f->dir);
    for (int i = 0; i < 5; i++)
        assert_int_equal(chmod(d[i], 0755), 0);
    if (rc == CHECK_SKIPPED)
        wl_test_skip_other_user("no unprivileged user bound by the modes here (above)");
    assert_int_equal(rc, 0);
}

/* A database in a directory anyone can write (a sticky /tmp), whose file
 * this user cannot write: readers (a read-write open refused, then the
 * read-only one) must leave no -wal or -shm behind, or the owner could no
 * longer write it (SQLite gives them the reader's uid and the file's mode)
 * nor, in a sticky directory, remove them. */
static int check_reader_creates_no_companion(const char *dir)
{
    char path[4200], side[4300];
    struct wl_errmsg e = {{0}};
    snprintf(path, sizeof path, "%s/shared/many.db", dir);
    if (access(path, W_OK) == 0) {
        fprintf(stderr, "skipped: uid %d can write %s although its mode forbids it\n",
                (int)geteuid(), path);
        return CHECK_SKIPPED;
    }
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.no_create = true;
    wl_store *s = NULL;
    int rc = wl_store_open(&p, &s, &e); /* what `runs` tries first */
    if (rc != WL_EACCES || !strstr(e.text, "read-only"))
        return fprintf(stderr, "read-write: %d %s\n", rc, e.text), 30;
    int64_t n = -1;
    rc = read_only_count(path, &n, &e); /* then this */
    if (rc != 0 || n != 1)
        return fprintf(stderr, "read-only: %d, %lld runs, %s\n", rc, (long long)n, e.text), 31;
    static const char *const sides[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", path, sides[i]);
        if (access(side, F_OK) == 0)
            return fprintf(stderr, "a reader left %s\n", side), 32;
    }
    /* with a writer's log and index (copied: a killed writer's), the reader
     * uses them, sees the run only the log holds, and adds nothing */
    snprintf(path, sizeof path, "%s/shared/live.db", dir);
    rc = read_only_count(path, &n, &e);
    if (rc != 0 || n != 2)
        return fprintf(stderr, "live: %d, %lld runs, %s\n", rc, (long long)n, e.text), 33;
    snprintf(side, sizeof side, "%s-journal", path);
    if (access(side, F_OK) == 0)
        return fprintf(stderr, "a reader left %s\n", side), 34;
    return 0;
}

static void test_a_reader_that_cannot_write_creates_no_files(void **state)
{
    struct wl_test_store_fixture *f = *state;
    wl_store_close(f->s); /* no connection crosses the fork below */
    f->s = NULL;
    char shared[4200], path[4400], side[4500];
    snprintf(shared, sizeof shared, "%s/shared", f->dir);
    assert_int_equal(mkdir(shared, 0755), 0);
    snprintf(path, sizeof path, "%s/many.db", shared);
    char id[37];
    struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS, .duration_ms = 1, .energy_j = 1};
    wl_store *s = wl_test_store_open(path);
    wl_test_store_make_run(s, &sp, id);
    wl_store_close(s); /* merged: no -wal, no -shm */
    /* live.db: its second run only in the log, as a killed writer leaves it */
    char live[4300];
    snprintf(live, sizeof live, "%s/live", f->dir);
    assert_int_equal(mkdir(live, 0755), 0);
    snprintf(path, sizeof path, "%s/w.db", live);
    s = wl_test_store_open(path);
    wl_test_store_make_run(s, &sp, id);
    wl_store_close(s);
    s = wl_test_store_open(path);
    wl_test_store_make_run(s, &sp, id);
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        snprintf(side, sizeof side, "%s/w.db%s", live, sfx[i]);
        char *buf = snapshot(side, &n);
        snprintf(side, sizeof side, "%s/live.db%s", shared, sfx[i]);
        assert_int_equal(wl_test_write_file(side, buf, n), 0);
        assert_int_equal(chmod(side, 0444), 0);
        free(buf);
    }
    wl_store_close(s);
    snprintf(path, sizeof path, "%s/many.db", shared);
    assert_int_equal(chmod(path, 0444), 0); /* as root, the child is another user too */
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_int_equal(chmod(shared, 01777), 0);
    int rc = as_unprivileged(check_reader_creates_no_companion, f->dir);
    assert_int_equal(chmod(shared, 0755), 0);
    if (rc == CHECK_SKIPPED)
        wl_test_skip_other_user("no unprivileged user bound by the modes here (above)");
    assert_int_equal(rc, 0);
    /* and the owner still writes it */
    assert_int_equal(chmod(path, 0644), 0);
    s = wl_test_store_open(path);
    wl_test_store_make_run(s, &sp, id);
    wl_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigkill_mid_run_leaves_an_incomplete_run,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_directory_that_cannot_be_made_is_named,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_the_directories_made_are_reported, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_a_file_that_is_not_a_database,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_an_sqlite_file_with_only_a_user_version,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_a_newer_schema_without_touching_it,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_truncated_database_is_called_damaged,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_locked_database_is_a_clear_busy_error,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_run_writer_waits_for_the_lock_past_the_busy_timeout,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_live_writer_on_this_host_needs_no_heartbeat,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_reused_pid_is_not_the_writer, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_an_unreaped_writer_is_gone, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_liveness_reads_processes_under_wattlens_proc_root,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_the_start_token_is_the_boot_id_and_field_22,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_open_with_a_dead_run_and_the_lock_held_elsewhere,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_another_hosts_run_lives_by_its_heartbeat,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_removed_run_does_not_write_into_the_run_that_takes_its_key, wl_test_store_setup,
            wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_waits_briefly_and_a_removed_run_says_so,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_cancel_flag_ends_a_wait_for_the_lock,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_directory_is_a_clear_error,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_directory_is_readable, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_reader_that_cannot_write_creates_no_files,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

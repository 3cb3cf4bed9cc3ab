/* store/ sharing the write lock with other processes while a run is
 * written: a writer that adds all the time leaves the lock free after each
 * commit long enough for another connection's wait to get it, and a writer
 * that adds once in a while commits each add at once (its batch is due by
 * its last commit) instead of holding the lock until its next add.
 * tests/integration/test_store_shared.sh does the same with `run`,
 * `measure` and `rm`.
 */
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Whether another connection can take the write lock of path now, without
 * waiting. */
static bool lock_is_free(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    const bool got = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return got;
}

/* Old: the batch was due by its first row, so an add a second after the
 * last commit began a batch that held the lock until the next add (`run`'s
 * settle and baseline store their samples once a second). */
static void test_an_occasional_add_is_committed_at_once(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_set_flush_interval(r, 200);
    struct wl_store_sample smp = {.t_ms = 0};
    for (int i = 0; i < 3; i++) {
        wl_clock_sleep_ns(250 * 1000000ull); /* longer than the interval since the last commit */
        assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
        assert_int_equal(wl_test_store_raw_count(f->path, "power_samples"), i + 1);
        assert_true(lock_is_free(f->path));
    }
    /* adds closer together than the interval still share a batch (an
     * interval of a minute: the checks above, slow under TSan, must not
     * make this add come after it) */
    wl_store_run_set_flush_interval(r, 60000);
    assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
    assert_int_equal(wl_test_store_raw_count(f->path, "power_samples"), 3);
    assert_false(lock_is_free(f->path));
    wl_store_run_abandon(r);
}

struct busy_writer {
    wl_store_run *r;
    atomic_int stop;
    int rc;
    long n;
};

/* Adds a sample after another, as the recorder's writer thread does in a
 * long cycle, until told to stop (at most 10 s). */
static void *busy_writer_main(void *p)
{
    struct busy_writer *w = p;
    const uint64_t t_end = wl_clock_now_ns() + 10000000000ull;
    struct wl_store_sample smp = {.t_ms = 0};
    while (!atomic_load(&w->stop) && wl_clock_now_ns() < t_end && w->rc == 0) {
        w->rc = wl_store_add_samples(w->r, &smp, 1);
        w->n++;
    }
    return NULL;
}

/* Old: the writer began its next batch microseconds after each commit, and
 * another process waiting for the lock (sleeps growing to 100 ms) never got
 * it: creating a run failed after the busy timeout every time. */
static void test_another_writer_gets_the_lock_between_batches(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
    struct busy_writer w = {.rc = 0};
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &w.r, id), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, busy_writer_main, &w), 0);
    while (wl_test_store_raw_count(f->path, "power_samples") == 0) /* it committed a batch */
        wl_clock_sleep_ns(10 * 1000000ull);

    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    wl_store *other = NULL;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &other, &e), 0);
    struct wl_run_info minfo = {.kind = WL_RUN_KIND_MEASURE};
    wl_store_run *m = NULL;
    char mid[37];
    int rc = 0;
    for (int i = 0; i < 3; i++) { /* each try waits the busy timeout, 2 s */
        rc = wl_store_run_begin(other, &minfo, &m, mid);
        if (rc != WL_EBUSY)
            break;
    }
    const int rm_rc = rc == 0 ? wl_store_delete_run(other, id, false) : 0;
    atomic_store(&w.stop, 1);
    pthread_join(t, NULL);
    if (rc != 0)
        fail_msg("creating a run next to a busy writer: %s (%s)", wl_strerror(rc),
                 wl_store_last_error(other));
    assert_int_equal(rm_rc, WL_ESTATE); /* refused by name: it is being recorded */
    assert_non_null(strstr(wl_store_last_error(other), "still being recorded"));
    assert_int_equal(w.rc, 0);
    assert_true(w.n > 0);
    wl_store_run_abandon(m);
    wl_store_close(other);
    wl_store_run_abandon(w.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_an_occasional_add_is_committed_at_once,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_another_writer_gets_the_lock_between_batches,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

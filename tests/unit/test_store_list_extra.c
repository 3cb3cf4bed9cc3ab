/* store/: wl_store_list_runs reads each run's stored extra fields
 * (runs.extra, which a batch run's sequences make any size) for the rows of
 * the page alone, and pages as before. Old: runs.extra went through every
 * level of the list's query and its sort for every matching run, so
 * `runs` (a page of 20) read the extra of the whole store; and the status
 * of every matching run, whose wl_run_status reads writer_start, a column
 * stored after extra, so through a long extra's overflow pages. What is read is
 * counted by a VFS hook on the database file's xRead (sqlite_vfs_hook.h),
 * on a connection opened after the runs were written, so nothing is cached.
 */
#include "sqlite_vfs_hook.h"
#include "store_fixture.h"
#include "store_hook_fixture.h"
#include "test_support.h"

#include "store/store.h"
#include "wattlens/error.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_RUNS 40
#define EXTRA_PAD 65536 /* characters of padding in each run's extra */

static long long bytes_read; /* by the hooked database file's xRead */

static int count_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 ofst)
{
    bytes_read += amt;
    return wl_test_vfs_hook_base()->xRead(f, buf, amt, ofst);
}

static void hook_patch(sqlite3_io_methods *m)
{
    m->xRead = count_read;
}

/* N_RUNS runs with figures that sort differently by each key (some created
 * at one instant, so the tie-break by id matters), each with an extra of
 * EXTRA_PAD characters, run 7's not JSON (extra_unreadable); then the
 * store opened again with an empty cache. */
static int setup(void **state)
{
    int rc = wl_test_store_hook_setup(state, "wl-test-count-read", SQLITE_OPEN_MAIN_DB, hook_patch);
    if (rc != 0)
        return rc;
    struct wl_test_store_fixture *f = *state;
    for (int i = 0; i < N_RUNS; i++) {
        char id[37];
        struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS + (i / 3) * 1000,
                                      .model = "m",
                                      .duration_ms = (double)((i * 7) % 11),
                                      .energy_j = (double)((i * 5) % 13),
                                      .n_in = i % 2,
                                      .n_out = (i * 3) % 4};
        wl_test_store_make_run(f->s, &sp, id);
    }
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE runs SET extra = CASE WHEN id = 7 THEN '{not json' || "
             "hex(zeroblob(%d)) ELSE '{\"pad\":\"' || hex(zeroblob(%d)) || '\"}' END",
             EXTRA_PAD / 2, EXTRA_PAD / 2);
    wl_test_store_raw_exec(f->path, sql);
    wl_store_close(f->s); /* the last connection: the log is checkpointed */
    f->s = wl_test_store_open(f->path);
    return 0;
}

static int teardown(void **state)
{
    return wl_test_store_hook_teardown(state);
}

/* A page of 2 runs reads far less than the runs' extra in all (old: every
 * run's, about N_RUNS * EXTRA_PAD bytes, and more). */
static void test_a_page_reads_the_extra_of_its_rows_alone(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_list l;
    bytes_read = 0;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 2, 0, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.total, N_RUNS);
    wl_run_list_free(&l);
    const long long all_extra = (long long)N_RUNS * EXTRA_PAD;
    printf("  a page of 2 of %d runs read %lld bytes (the runs' extra: %lld)\n", N_RUNS, bytes_read,
           all_extra);
    if (bytes_read > all_extra / 4)
        fail_msg("a page of 2 read %lld bytes: the extra of every run (%lld)", bytes_read,
                 all_extra);
}

/* Every page, by every sort, is the slice of the whole list at its offset,
 * with each row's extra_unreadable: the page's extra belongs to its rows. */
static void test_every_page_is_the_slice_of_the_whole_list(void **state)
{
    struct wl_test_store_fixture *f = *state;
    const enum wl_store_sort sorts[] = {WL_SORT_DATE, WL_SORT_DURATION, WL_SORT_ENERGY,
                                        WL_SORT_JPT};
    for (size_t k = 0; k < sizeof sorts / sizeof sorts[0]; k++) {
        struct wl_run_list all;
        assert_int_equal(wl_store_list_runs(f->s, NULL, sorts[k], 0, 0, &all), 0);
        assert_int_equal(all.n, N_RUNS);
        size_t unreadable = 0;
        for (size_t i = 0; i < all.n; i++)
            unreadable += all.rows[i].extra_unreadable;
        assert_int_equal(unreadable, 1);
        for (int64_t off = 0; off < N_RUNS; off += 3) {
            struct wl_run_list page;
            assert_int_equal(wl_store_list_runs(f->s, NULL, sorts[k], 3, off, &page), 0);
            assert_int_equal(page.total, N_RUNS);
            assert_int_equal(page.n, off + 3 <= N_RUNS ? 3 : N_RUNS - off);
            for (size_t i = 0; i < page.n; i++) {
                const struct wl_run_row *a = &all.rows[off + (int64_t)i], *p = &page.rows[i];
                assert_string_equal(p->id, a->id);
                assert_int_equal(p->extra_unreadable, a->extra_unreadable);
                assert_memory_equal(&p->energy_j, &a->energy_j, sizeof p->energy_j);
                assert_memory_equal(&p->j_per_token, &a->j_per_token, sizeof p->j_per_token);
            }
            wl_run_list_free(&page);
        }
        wl_run_list_free(&all);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_page_reads_the_extra_of_its_rows_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_page_is_the_slice_of_the_whole_list, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

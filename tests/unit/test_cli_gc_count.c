/* `gc` (and `gc --dry-run`) counts the runs alone for what it keeps
 * (runs_left): it used to count every row of every table (wl_store_stats),
 * a full scan of the metric tables of a store of several GB, before and
 * after the cheap preview. Shown with a store whose op_metrics table cannot
 * be read (renamed behind the store's back): gc never needs it, so it still
 * says how many runs are kept (before, runs_left was left out). Runs written
 * through the store API, read by the real `wattlens` binary.
 */
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_gc_counts_only_the_runs(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    for (int i = 0; i < 3; i++) {
        struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS + i * 1000,
                                      .model = "m",
                                      .duration_ms = 5,
                                      .energy_j = 2,
                                      .n_in = 1,
                                      .n_out = 1};
        wl_test_store_make_run(f->s, &sp, id);
    }
    wl_store_close(f->s);
    f->s = NULL;
    wl_test_store_raw_exec(f->path, "ALTER TABLE op_metrics RENAME TO op_metrics_away");

    char args[4400], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "gc --db '%s' --keep 1 --dry-run", f->path);
    assert_int_equal(wl_test_run_cli(args, &out, &err), 0);
    if (!strstr(out, "dry run: 2 runs would be removed; 1 run would be kept\n"))
        fail_msg("gc --dry-run: %s%s", out, err ? err : "");
    free(out);
    free(err);

    snprintf(args, sizeof args, "gc --db '%s' --keep 2 --dry-run --json", f->path);
    assert_int_equal(wl_test_run_cli(args, &out, &err), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("gc --json: %s", out);
    json_t *left = json_object_get(j, "runs_left");
    if (!json_is_integer(left) || json_integer_value(left) != 2)
        fail_msg("gc --json: runs_left in %s", out);
    json_decref(j);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gc_counts_only_the_runs, wl_test_store_setup,
                                        wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* `show` of a run with idle-baseline samples and nothing after them: a
 * finished run (stopped during its baseline, then finished cancelled, all
 * its rows written) did stop in its baseline; an unfinished one (killed)
 * only proves that nothing after the baseline was saved, since its writer
 * saves about once a second and lags behind the generation (old: "the run
 * stopped during its idle baseline" for a run killed a second into its
 * generation, its whole baseline stored). show --json tells the two apart
 * as its text does: baseline_status "cut_short" and "only_baseline_saved"
 * (old: "cut_short" for both). A run still recording has stopped in
 * neither way, and show says so. Runs written through the store API, read
 * by the real `wattlens` binary.
 */
#include "cli_store_fixture.h"
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* show's "dynamic energy" line into buf. */
static void show_dynamic_energy(const char *db, const char *id, char *buf, size_t size)
{
    char *out = wl_test_show_text(db, id);
    wl_test_line_value(out, "dynamic energy", buf, size);
    free(out);
}

/* show --json's totals.baseline_status into buf. */
static void show_baseline_status(const char *db, const char *id, char *buf, size_t size)
{
    json_t *j = wl_test_show_json(db, id);
    const char *v =
        json_string_value(json_object_get(json_object_get(j, "totals"), "baseline_status"));
    snprintf(buf, size, "%s", v ? v : "(none)");
    json_decref(j);
}

static void test_an_unfinished_run_with_only_its_baseline_saved(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "killed"};
    wl_store_run *r = NULL;
    char id[37], b[256];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_test_store_add_baseline_samples(r, 5);
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r); /* killed: left running */
    /* its writer gone (another process's start token on this pid) */
    wl_test_store_raw_exec(f->path, "UPDATE runs SET writer_start = 'another-boot/1'");
    wl_store_close(f->s);
    f->s = NULL;
    show_dynamic_energy(f->path, id, b, sizeof b);
    assert_string_equal(b, "n/a (nothing after the idle baseline was saved: the run stopped "
                           "during it or soon after)");
    show_baseline_status(f->path, id, b, sizeof b);
    assert_string_equal(b, "only_baseline_saved");
}

/* A run still recording (its writer, this test process, alive: running)
 * with only its baseline samples saved has not stopped: show says what is
 * not saved yet (old: "the run stopped during it or soon after", as for a
 * killed run). Its JSON key stays the unfinished one; its status says
 * running. */
static void test_a_running_run_with_only_its_baseline_saved(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "live"};
    wl_store_run *r = NULL;
    char id[37], b[256];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_test_store_add_baseline_samples(r, 5);
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r); /* left running, its writer (this process) alive */
    wl_store_close(f->s);
    f->s = NULL;
    json_t *j = wl_test_show_json(f->path, id);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "run"), "status")),
                        "running");
    json_decref(j);
    show_dynamic_energy(f->path, id, b, sizeof b);
    assert_string_equal(b, "n/a (nothing after the idle baseline is saved yet: the run is still "
                           "in it, or has not saved what followed it)");
    show_baseline_status(f->path, id, b, sizeof b);
    assert_string_equal(b, "only_baseline_saved");
}

/* A running run that has saved no baseline sample yet has not "not
 * finished" either (old: "the run did not finish and saved no baseline
 * samples"). */
static void test_a_running_run_with_no_baseline_samples_yet(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "live"};
    wl_store_run *r = NULL;
    char id[37], b[256];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r);
    wl_store_close(f->s);
    f->s = NULL;
    show_dynamic_energy(f->path, id, b, sizeof b);
    assert_string_equal(b, "n/a (the run has not ended and has saved no baseline samples: none "
                           "was taken, or they are not written yet)");
    show_baseline_status(f->path, id, b, sizeof b);
    assert_string_equal(b, "none_saved");
}

static void test_a_finished_run_stopped_in_its_baseline(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37], b[256];
    wl_test_store_make_unrecorded_run(f->s, 3, false, id); /* finished, cancelled */
    wl_store_close(f->s);
    f->s = NULL;
    show_dynamic_energy(f->path, id, b, sizeof b);
    assert_string_equal(b, "n/a (the run stopped during its idle baseline)");
    show_baseline_status(f->path, id, b, sizeof b);
    assert_string_equal(b, "cut_short");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_an_unfinished_run_with_only_its_baseline_saved,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_running_run_with_only_its_baseline_saved,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_running_run_with_no_baseline_samples_yet,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_finished_run_stopped_in_its_baseline,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ctest-labels: timing (samples a fake counter for about three seconds) */
/* profile/recorder: the generation's peak power is taken over spans of the
 * power window the sampler knows when the generation starts. A counter too
 * slow for the update-period probe (a powercap package moving every 100 ms
 * at a constant 50 W) has its window learned during the settle and the
 * baseline; spans of one sampling interval over it put 100 ms of energy
 * into 10 ms and stored a peak of about 500 W.
 */
#include "test_support.h"

#include "fake_powercap.h"
#include "recorder_rig.h"
#include "profile/recorder.h"
#include "store/store.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRUE_W 50.0

static void emit(const struct wl_hooks *h, enum wl_hook_kind kind, bool begin, enum wl_phase p,
                 enum wl_section s)
{
    struct wl_hook_event ev = {.kind = kind, .begin = begin, .phase = p, .section = s, .layer = -1};
    h->fn(h->user_data, &ev);
}

/* The package's stored peak power of the only run in the database at path. */
static double stored_peak_w(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT peak_power_w FROM run_domains WHERE domain = "
                                        "'package'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* The package's power window (ms) in the recorder's provenance, as the
 * sampler knew it at the recorder's start; 0 when unknown (null). */
static double power_window_ms(wl_recorder *rec)
{
    char *prov = wl_recorder_provenance_json(rec);
    assert_non_null(prov);
    const char *key = strstr(prov, "\"power_window_ms\":");
    assert_non_null(key);
    const double ms = strtod(key + strlen("\"power_window_ms\":"), NULL); /* null: 0 */
    free(prov);
    return ms;
}

static void test_peak_spans_a_slow_counters_learned_window(void **state)
{
    (void)state;
    struct wl_test_recorder_rig r;
    wl_test_recorder_rig_open(&r, TRUE_W, 100000000);
    r.rp.sample_interval_ns = 10000000;
    struct wl_errmsg err = {{0}};
    wl_recorder *rec = NULL;
    assert_int_equal(wl_recorder_create(&r.rp, &rec, &err), 0);
    const struct wl_hooks h = wl_recorder_hooks(rec);

    /* a settle long enough to see several of the counter's changes */
    assert_int_equal(wl_recorder_baseline(rec, 700000000, 0, NULL), 0);
    wl_fake_powercap_reset_gap(r.fp);
    const uint64_t t_start = wl_clock_now_ns();
    assert_int_equal(wl_recorder_start(rec, NULL), 0);
    const double window_ms = power_window_ms(rec); /* the peak's spans, from now on */
    emit(&h, WL_HOOK_PHASE, true, WL_PHASE_PRE_INFERENCE, 0);
    emit(&h, WL_HOOK_PHASE, false, WL_PHASE_PRE_INFERENCE, 0);
    emit(&h, WL_HOOK_PHASE, true, WL_PHASE_DECODE, 0);
    emit(&h, WL_HOOK_SECTION, true, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    wl_clock_sleep_ns(2500000000ull);
    emit(&h, WL_HOOK_SECTION, false, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    emit(&h, WL_HOOK_PHASE, false, WL_PHASE_DECODE, 0);
    wl_recorder_stop(rec);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(r.fp);
    const double gen_ms = (double)(wl_clock_now_ns() - t_start) / 1e6;
    struct wl_recorder_finish fin = {.status = WL_RUN_COMPLETE, .response = ""};
    assert_int_equal(wl_recorder_finish(rec, &fin), 0);
    wl_recorder_free(rec);
    wl_store_close(r.st);

    /* spans of ~1 s (10 updates) are within ~11 % of the truth, and a
     * late writer adds a little: never the ~500 W of 10 ms spans. The peak
     * is a span of >= 90 % of the window or a sample's own window, W >= 90
     * % of ten times the mean interval between the changes the sampler
     * saw, each up to one 10 ms interval late: 0.9 x 10 x (100 - 10) ms =
     * 810 ms (or, for a window unknown at the start, the whole
     * generation). Off by up to the writer's longest gap G / W: 1.5 x
     * allows G = W / 2. And it is at least the generation's average (off
     * by G / its length): 0.7 x allows G = 0.3 x that. W is the window a
     * correct sampler makes of this counter, not the one in the recorder's
     * provenance: spans that shrink to one interval must fail, not shrink
     * the allowance with them. */
    const double peak = stored_peak_w(r.db);
    wl_fake_powercap_stop(r.fp);
    wl_test_rmtree(r.dir);
    free(r.dir);
    const double allow_ms = peak < TRUE_W ? 0.3 * gen_ms : 0.5 * 810.0;
    fprintf(stderr, "peak %.3f W; power window at the start %.1f ms, generation %.1f ms\n", peak,
            window_ms, gen_ms);
    struct wl_fake_verdict v = {0};
    wl_fake_check_range(&v, "stored peak power (W)", peak, TRUE_W * 0.7, TRUE_W * 1.5, TRUE_W,
                        gap_ns, (uint64_t)(allow_ms * 1e6));
    wl_fake_verdict_end(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peak_spans_a_slow_counters_learned_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

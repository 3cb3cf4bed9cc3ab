/* ctest-labels: timing (its checks allow the fake writer a 1.5 ms gap: run alone, one at a time) */
/* profile/recorder when a sensor read fails at a mark: a fake powercap
 * package (20 W, files rewritten every millisecond) turns to garbage at a
 * point the test chooses, between the events it sends the recorder's hook by
 * hand (no engine), and waits until the file shows it, so which marks fail
 * does not depend on timing. An energy between two marks of which one has
 * no reading of the headline domain is unknown (stored NULL): it was
 * stored as 0 J "measured" (sections, tokens, the run's total), and the run
 * lost its domain row (baseline and peak) when its last mark failed.
 * A counter that freezes mid-run (the fake at 0 W) is no reading either
 * over the rows wholly inside its flat run (sampler.md, Gaps).
 */
#include "test_support.h"

#include "analysis/summary.h"
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

#define TRUE_W 20.0

struct fixture {
    struct wl_test_recorder_rig rig; /* the fake package, the store and its run */
    wl_recorder *rec;
    struct wl_hooks h;
    struct wl_recorder_totals totals; /* after the stop */
};

/* A recorder over the fake package writing into a new store run, with an
 * idle baseline of 50 ms taken. */
static struct fixture *open_fixture(void)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    wl_test_recorder_rig_open(&f->rig, TRUE_W, 1000000);
    struct wl_recorder_params rp = f->rig.rp;
    rp.max_input_tokens = 16;
    rp.max_output_tokens = 16;
    rp.interval_ms = 10;
    rp.sample_interval_ns = 5000000;
    struct wl_errmsg err = {{0}};
    if (wl_recorder_create(&rp, &f->rec, &err) != 0)
        fail_msg("recorder: %s", err.text);
    f->h = wl_recorder_hooks(f->rec);
    assert_int_equal(wl_recorder_baseline(f->rec, 0, 50000000, NULL), 0);
    assert_int_equal(wl_recorder_start(f->rec, NULL), 0);
    return f;
}

static void close_fixture(struct fixture *f)
{
    wl_store_close(f->rig.st);
    wl_recorder_free(f->rec);
    wl_fake_powercap_stop(f->rig.fp);
    wl_test_rmtree(f->rig.dir);
    free(f->rig.dir);
    free(f);
}

/* Breaks (or mends) the package's file and waits until it shows: the next
 * mark's read fails (or succeeds). A condition, not a duration; the bound
 * only keeps a broken fake from hanging the test. */
static void set_broken(struct fixture *f, bool broken)
{
    wl_fake_powercap_set_broken(f->rig.fp, broken);
    char path[2048];
    snprintf(path, sizeof path, "%s", wl_fake_powercap_energy_path(f->rig.fp, 0));
    for (int i = 0; i < 20000; i++) {
        char *text = wl_test_read_file(path, NULL);
        const bool garbage = text && strstr(text, "garbage") != NULL;
        free(text);
        if (garbage == broken)
            return;
        wl_clock_sleep_ns(1000000);
    }
    fail_msg("the fake powercap writer never made its file %s", broken ? "garbage" : "a number");
}

/* ---- events ---------------------------------------------------------------------- */

static void phase(struct fixture *f, enum wl_phase p, bool begin)
{
    struct wl_hook_event ev = {.kind = WL_HOOK_PHASE, .begin = begin, .phase = p, .layer = -1};
    f->h.fn(f->h.user_data, &ev);
}

static void section_edge(struct fixture *f, enum wl_phase p, enum wl_section s, bool begin)
{
    struct wl_hook_event ev = {
        .kind = WL_HOOK_SECTION, .begin = begin, .phase = p, .section = s, .layer = -1};
    f->h.fn(f->h.user_data, &ev);
}

static void section(struct fixture *f, enum wl_phase p, enum wl_section s)
{
    section_edge(f, p, s, true);
    section_edge(f, p, s, false);
}

static void token_edge(struct fixture *f, int32_t i, bool begin)
{
    struct wl_hook_event ev = {.kind = WL_HOOK_TOKEN,
                               .begin = begin,
                               .phase = WL_PHASE_DECODE,
                               .layer = -1,
                               .n_tok = 1,
                               .token_index = i,
                               .token_id = begin ? -1 : 1,
                               .text = begin ? NULL : "a",
                               .text_len = begin ? 0 : 1};
    f->h.fn(f->h.user_data, &ev);
}

/* Output token i: sampling, detokenize. */
static void token(struct fixture *f, int32_t i)
{
    token_edge(f, i, true);
    section(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    section(f, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    token_edge(f, i, false);
}

static void begin_generation(struct fixture *f)
{
    phase(f, WL_PHASE_PRE_INFERENCE, true);
    section(f, WL_PHASE_PRE_INFERENCE, WL_SECTION_TOKENIZE);
    phase(f, WL_PHASE_PRE_INFERENCE, false);
    phase(f, WL_PHASE_DECODE, true);
}

static void end_generation(struct fixture *f)
{
    phase(f, WL_PHASE_DECODE, false);
    phase(f, WL_PHASE_POST_INFERENCE, true);
    section(f, WL_PHASE_POST_INFERENCE, WL_SECTION_CLEANUP);
    phase(f, WL_PHASE_POST_INFERENCE, false);
    wl_recorder_stop(f->rec);
    wl_recorder_get_totals(f->rec, &f->totals);
    struct wl_recorder_finish fin = {.status = WL_RUN_COMPLETE, .response = ""};
    assert_int_equal(wl_recorder_finish(f->rec, &fin), 0);
}

/* ---- reading the database ----------------------------------------------------------- */

/* The one value of a query (bound to nothing) as a double; NAN when NULL
 * or no row. */
static double query_real(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    double v = NAN;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* The one text of a query; "" when NULL or no row (static buffer). */
static const char *query_text(const char *db, const char *sql)
{
    static char buf[4096];
    buf[0] = '\0';
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        snprintf(buf, sizeof buf, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return buf;
}

/* ---- a failed read in the middle ------------------------------------------------------ */

/* The read fails at one mark only: the end of token 2's sampling, which is
 * also where its detokenize section begins. Those two sections have no
 * energy (NULL; they were stored as 0 J, method counter); every other one
 * has, and so do the tokens (their marks were read) and the run, whose
 * total is read at its start and its end. runs.extra says how many
 * sections have none. */
static void test_a_failed_read_mid_run_leaves_its_sections_unknown(void **state)
{
    (void)state;
    struct fixture *f = open_fixture();
    begin_generation(f);
    token(f, 0);
    token(f, 1);
    token_edge(f, 2, true);
    section_edge(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING, true);
    set_broken(f, true);
    section_edge(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING, false);
    set_broken(f, false);
    section(f, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    token_edge(f, 2, false);
    token(f, 3);
    end_generation(f);

    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT group_concat(seq) FROM (SELECT seq FROM sections WHERE energy_j IS NULL "
             "ORDER BY seq)");
    const char *unknown = query_text(f->rig.db, sql);
    /* sections: tokenize (0); tokens 0, 1 (1..4); token 2's sampling and detokenize (5, 6) */
    const double first = query_real(f->rig.db, "SELECT min(seq) FROM sections");
    char want[32];
    snprintf(want, sizeof want, "%d,%d", (int)first + 5, (int)first + 6);
    if (strcmp(unknown, want) != 0)
        fail_msg("sections without energy: '%s', want '%s' (token 2's sampling and detokenize)",
                 unknown, want);
    /* tokenize, tokens 0, 1 and 3 (two each), cleanup */
    assert_true(query_real(f->rig.db, "SELECT count(*) FROM sections WHERE energy_j IS NOT NULL") ==
                8.0);
    assert_true(query_real(f->rig.db, "SELECT count(*) FROM tokens WHERE energy_j IS NULL") == 0.0);
    assert_false(isnan(query_real(f->rig.db, "SELECT energy_j FROM runs")));
    assert_false(isnan(query_real(f->rig.db, "SELECT energy_j FROM run_domains")));
    assert_string_equal(
        query_text(f->rig.db, "SELECT json_extract(extra, '$.energy_unknown') FROM runs"),
        "{\"start\":[],\"end\":[],\"sections\":2,\"token_rows\":0}");
    /* the totals: the sums leave the unknown out and count them */
    assert_int_equal(f->totals.n_sections_unknown, 2);
    assert_false(isnan(f->totals.sections_energy_j));
    assert_false(isnan(f->totals.energy_j));
    close_fixture(f);
}

/* ---- a failed read at the end ------------------------------------------------------- */

/* Waits until the writer has stored n generation samples (the peak needs
 * samples inside the generation; a loaded machine delays them). */
static void wait_for_samples(struct fixture *f, int n)
{
    for (int i = 0; i < 30000; i++) {
        if (query_real(f->rig.db, "SELECT count(*) FROM power_samples WHERE phase = 'decode'") >= n)
            return;
        wl_clock_sleep_ns(1000000);
    }
    fail_msg("no %d decode samples stored", n);
}

/* The package's file turns to garbage for good before token 3 and stays so
 * through the end: the run's last mark has no reading. The run's energy is
 * unknown (it was 0 J "measured"), the package keeps its domain row with
 * its baseline and a peak over the samples that read it (the row was
 * dropped), token 3 and the sections after the break have no energy, and
 * the summary says the baseline was read (it said "no sensor reading") and
 * why the energy is unknown. */
static void test_a_failed_read_at_the_end_leaves_the_run_energy_unknown(void **state)
{
    (void)state;
    struct fixture *f = open_fixture();
    begin_generation(f);
    token(f, 0);
    token_edge(f, 1, true);
    section_edge(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING, true);
    wait_for_samples(f, 8);
    section_edge(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING, false);
    section(f, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    token_edge(f, 1, false);
    token(f, 2);
    set_broken(f, true);
    token(f, 3);
    end_generation(f);

    assert_true(isnan(f->totals.energy_j));
    assert_true(isnan(query_real(f->rig.db, "SELECT energy_j FROM runs")));
    assert_true(
        query_real(f->rig.db, "SELECT count(*) FROM run_domains WHERE domain = 'package'") == 1.0);
    assert_true(isnan(query_real(f->rig.db, "SELECT energy_j FROM run_domains")));
    assert_true(isnan(query_real(f->rig.db, "SELECT avg_power_w FROM run_domains")));
    const double base = query_real(f->rig.db, "SELECT baseline_power_w FROM run_domains");
    const double peak = query_real(f->rig.db, "SELECT peak_power_w FROM run_domains");
    if (!(base > 0) || !(peak > 0))
        fail_msg("package baseline %.3f W, peak %.3f W: both should be kept", base, peak);
    /* both of the fake's constant TRUE_W: a peak over spans of about one
     * 5 ms sample is off by the writer's longest gap G / 5 ms (1.3 x allows
     * G = 1.5 ms), the 50 ms baseline by G / 50 ms (1.1 x allows 5 ms) */
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(f->rig.fp);
    struct wl_fake_verdict v = {0};
    wl_fake_check_range(&v, "package peak (W)", peak, TRUE_W * 0.9, TRUE_W * 1.3, TRUE_W, gap_ns,
                        1500000);
    wl_fake_check_range(&v, "package baseline (W)", base, TRUE_W * 0.9, TRUE_W * 1.1, TRUE_W,
                        gap_ns, 5000000);
    /* token 3 (sampling, detokenize) and post_inference's cleanup */
    assert_true(query_real(f->rig.db, "SELECT count(*) FROM sections WHERE energy_j IS NULL") ==
                3.0);
    assert_true(query_real(f->rig.db, "SELECT count(*) FROM tokens WHERE energy_j IS NULL") == 1.0);
    assert_true(isnan(query_real(f->rig.db, "SELECT energy_j FROM tokens WHERE idx = 3")));
    assert_string_equal(
        query_text(f->rig.db, "SELECT json_extract(extra, '$.energy_unknown') FROM runs"),
        "{\"start\":[],\"end\":[\"package\"],\"sections\":3,\"token_rows\":1}");

    struct wl_store_aggregates a;
    struct wl_summary s;
    assert_int_equal(wl_store_summary(f->rig.st, f->rig.id, &a), 0);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(isnan(s.energy_j));
    assert_int_equal(s.baseline, WL_SUMMARY_BASELINE_STORED);
    assert_true(s.baseline_power_w > 0);
    assert_int_equal(s.energy_unknown.unread_end, 1u << WL_DOMAIN_PACKAGE);
    assert_int_equal(s.energy_unknown.n_sections, 3);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);

    char args[2048], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "show %s --db '%s'", f->rig.id, f->rig.db);
    assert_int_equal(wl_test_run_cli(args, &out, &err), 0);
    if (!strstr(out, "a sensor read failed at the generation's end (package)") ||
        !strstr(out, "3 sections and 1 token row have no energy") ||
        strstr(out, "no sensor reading"))
        fail_msg("show:\n%s", out);
    free(out);
    free(err);
    close_fixture(f);
    wl_fake_verdict_end(&v);
}

/* ---- a counter that freezes mid-run ---------------------------------------------------- */

/* Returns once the file at path reads the same over 20 ms (a frozen
 * counter: the fake writer has written its last change). A condition; the
 * bound only keeps a broken fake from hanging the test. */
static void wait_file_settles(const char *path)
{
    char *was = wl_test_read_file(path, NULL);
    for (int i = 0; i < 1000; i++) {
        wl_clock_sleep_ns(20000000);
        char *now = wl_test_read_file(path, NULL);
        const bool same = was && now && strcmp(was, now) == 0;
        free(was);
        was = now;
        if (same) {
            free(was);
            return;
        }
    }
    free(was);
    fail_msg("the fake counter %s never stopped changing", path);
}

/* The package counter stops changing (the fake at 0 W: its file rewritten
 * with the same value, as a VM's frozen counter) late in token 1, through
 * token 2 (150 ms) and early in token 3, then moves again. Token 2 and its
 * sections lie wholly in that flat run, which the sampler judges not measuring: they have no energy
 * (NULL), not a measured 0 J (old: 0 J, method counter). The tokens around it and the run's total,
 * whose window the flat run only partly covers, keep the counter's delta, and the stored gap says
 * package's figures are low by it; runs.extra names package among the rows it left unmeasured. */
static void test_a_counter_frozen_mid_run_leaves_its_rows_unknown(void **state)
{
    (void)state;
    struct fixture *f = open_fixture();
    begin_generation(f);
    token_edge(f, 0, true); /* the counter moves through token 0 */
    section(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    wl_clock_sleep_ns(20000000);
    section(f, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    token_edge(f, 0, false);
    /* token 1: it moves, then freezes (rows tile: token 2 starts where
     * token 1 ends, so the freeze comes before that end) */
    token_edge(f, 1, true);
    section(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    wl_clock_sleep_ns(20000000);
    wl_fake_powercap_set_power(f->rig.fp, 0, 0.0);
    wait_file_settles(wl_fake_powercap_energy_path(f->rig.fp, 0));
    section(f, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    token_edge(f, 1, false);
    token_edge(f, 2, true); /* wholly frozen */
    section(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    wl_clock_sleep_ns(150000000); /* flat for longer than 100 ms: not measuring */
    section(f, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    token_edge(f, 2, false);
    token_edge(f, 3, true); /* frozen, then it moves again */
    section(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    wl_fake_powercap_set_power(f->rig.fp, 0, TRUE_W);
    wl_clock_sleep_ns(20000000);
    section(f, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    token_edge(f, 3, false);
    end_generation(f);
    assert_true(isnan(query_real(f->rig.db, "SELECT energy_j FROM tokens WHERE idx = 2")));
    assert_true(query_real(f->rig.db, "SELECT count(*) FROM tokens WHERE energy_j IS NULL") == 1.0);
    assert_true(query_real(f->rig.db, "SELECT count(*) FROM sections WHERE token_index = 2 AND "
                                      "energy_j IS NOT NULL") == 0.0);
    for (int i = 0; i < 4; i += i == 1 ? 2 : 1) { /* 0, 1, 3: measured (partly flat: low) */
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT energy_j FROM tokens WHERE idx = %d", i);
        assert_true(query_real(f->rig.db, sql) > 0);
    }
    assert_true(query_real(f->rig.db, "SELECT energy_j FROM runs") > 0);
    assert_string_equal(query_text(f->rig.db, "SELECT json_extract(extra, "
                                              "'$.energy_unknown.not_measuring_rows') FROM runs"),
                        "[\"package\"]");
    assert_string_equal(query_text(f->rig.db, "SELECT json_extract(extra, "
                                              "'$.energy_unknown.not_measuring') FROM runs"),
                        "[]");
    assert_true(query_real(f->rig.db, "SELECT count(*) FROM runs, json_each(runs.extra, '$.gaps') "
                                      "g WHERE json_extract(g.value, '$.why') LIKE "
                                      "'%did not change once%'") >= 1.0);
    close_fixture(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_failed_read_mid_run_leaves_its_sections_unknown),
        cmocka_unit_test(test_a_failed_read_at_the_end_leaves_the_run_energy_unknown),
        cmocka_unit_test(test_a_counter_frozen_mid_run_leaves_its_rows_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* profile/run_gaps with the run writers and the summary: the sampler's gaps
 * (failed reads, counter discontinuities) are stored with the run as
 * runs.extra "n_gaps" and "gaps", by `run` (wl_recorder_finish) and by
 * `measure` (wl_measure_finish_run), and the summary reads them back: how
 * many, how long, whose energy is not counted, and the one line `show`,
 * `run` and `measure` print. Before, neither writer stored a gap: a run
 * whose counter reset mid-generation read as a plain measured energy.
 * The `run` case drives a recorder by hand over a static fake powercap
 * zone whose counter the test moves back between two marks (the recorder's
 * writer and sampler threads run, every 10 ms, but no assertion depends on
 * their timing).
 */
#include "test_support.h"

#include "recorder_rig.h"
#include "sysfs_text.h"

#include "analysis/summary.h"
#include "profile/measure_store.h"
#include "profile/recorder.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MS_NS 1000000ull

/* ---- helpers ------------------------------------------------------------------------ */

/* energy_uj rewritten in place, fixed width (the sensor keeps it open) */
/* A static powercap package zone under root; its energy_uj path to path. */
static void make_zone(const char *root, uint64_t uj, char *path, size_t size)
{
    static const char *const dirs[] = {"class", "class/powercap", "class/powercap/intel-rapl:0"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, size, "%s/%s", root, dirs[i]);
        mkdir(path, 0755);
    }
    snprintf(path, size, "%s/class/powercap/intel-rapl:0/name", root);
    wl_test_put_text(path, "package-0\n");
    snprintf(path, size, "%s/class/powercap/intel-rapl:0/max_energy_range_uj", root);
    wl_test_put_text(path, "262143328850\n");
    snprintf(path, size, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    wl_test_put_uj(path, uj);
}

static wl_store *open_store(const char *dir)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/runs.db", dir);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    struct wl_errmsg e = {{0}};
    wl_store *st = NULL;
    assert_int_equal(wl_store_open(&p, &st, &e), 0);
    return st;
}

/* The run's extra object and its summary. */
struct stored {
    json_t *extra;
    struct wl_store_aggregates a;
    struct wl_summary s;
};

static void read_back(wl_store *st, const char *id, struct stored *out)
{
    assert_int_equal(wl_store_summary(st, id, &out->a), 0);
    assert_int_equal(wl_summary_compute(&out->a, &out->s), 0);
    assert_non_null(out->a.run.extra_json);
    out->extra = json_loads(out->a.run.extra_json, 0, NULL);
    assert_true(json_is_object(out->extra));
}

static void stored_free(struct stored *x)
{
    json_decref(x->extra);
    wl_summary_free(&x->s);
    wl_store_aggregates_free(&x->a);
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

/* ---- run ---------------------------------------------------------------------------- */

static void event(struct wl_hooks *h, enum wl_hook_kind kind, bool begin, enum wl_phase p,
                  enum wl_section sec)
{
    struct wl_hook_event ev = {
        .kind = kind, .begin = begin, .phase = p, .section = sec, .layer = -1};
    h->fn(h->user_data, &ev);
}

static void section(struct wl_hooks *h, enum wl_phase p, enum wl_section sec)
{
    event(h, WL_HOOK_SECTION, true, p, sec);
    event(h, WL_HOOK_SECTION, false, p, sec);
}

/* A generation whose package counter resets (5 J down to 1 J) between two
 * decode sections: the run stores one gap, its energy not counted, on the
 * package domain of rapl-powercap, inside the run's window; the summary
 * says so in the line `run` and `show` print. */
static void test_run_stores_a_counter_reset_as_a_gap(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char zone[2048];
    make_zone(dir, 5000000, zone, sizeof zone);
    wl_store *st = open_store(dir);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .depth = "off"};
    wl_store_run *run = NULL;
    char id[40];
    assert_int_equal(wl_store_run_begin(st, &info, &run, id), 0);

    struct wl_sensor_params sp;
    struct wl_recorder_params rp;
    wl_test_recorder_powercap_params(&sp, &rp, dir, run);
    sp.period_probe_ns = 0;
    rp.max_input_tokens = 16;
    rp.max_output_tokens = 16;
    rp.interval_ms = 10;
    rp.sample_interval_ns = 10 * MS_NS;
    struct wl_errmsg err = {{0}};
    wl_recorder *rec = NULL;
    assert_int_equal(wl_recorder_create(&rp, &rec, &err), 0);
    struct wl_hooks h = wl_recorder_hooks(rec);
    assert_int_equal(wl_recorder_start(rec, NULL), 0);

    event(&h, WL_HOOK_PHASE, true, WL_PHASE_PRE_INFERENCE, 0);
    section(&h, WL_PHASE_PRE_INFERENCE, WL_SECTION_TOKENIZE);
    event(&h, WL_HOOK_PHASE, false, WL_PHASE_PRE_INFERENCE, 0);
    event(&h, WL_HOOK_PHASE, true, WL_PHASE_DECODE, 0);
    wl_test_put_uj(zone, 6000000);
    section(&h, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    wl_test_put_uj(zone, 1000000); /* the reset: read by the next mark at the latest */
    section(&h, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    wl_test_put_uj(zone, 2000000);
    section(&h, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    event(&h, WL_HOOK_PHASE, false, WL_PHASE_DECODE, 0);
    event(&h, WL_HOOK_PHASE, true, WL_PHASE_POST_INFERENCE, 0);
    section(&h, WL_PHASE_POST_INFERENCE, WL_SECTION_CLEANUP);
    event(&h, WL_HOOK_PHASE, false, WL_PHASE_POST_INFERENCE, 0);
    struct wl_recorder_finish fin = {.status = WL_RUN_COMPLETE, .response = ""};
    assert_int_equal(wl_recorder_finish(rec, &fin), 0);

    struct stored x;
    read_back(st, id, &x);
    const json_t *n = json_object_get(x.extra, "n_gaps");
    if (!json_is_integer(n))
        fail_msg("no n_gaps in the run's extra: %s", x.a.run.extra_json);
    assert_int_equal(json_integer_value(n), 1);
    const json_t *arr = json_object_get(x.extra, "gaps");
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 1);
    const json_t *g = json_array_get(arr, 0);
    assert_true(json_is_true(json_object_get(g, "counter_fell")));
    assert_true(json_is_false(json_object_get(g, "energy_counted")));
    assert_string_equal(json_string_value(json_object_get(g, "sensor")), "rapl-powercap");
    const json_t *doms = json_object_get(g, "domains");
    assert_int_equal(json_array_size(doms), 1);
    assert_string_equal(json_string_value(json_array_get(doms, 0)), "package");
    assert_string_equal(json_string_value(json_object_get(g, "why")),
                        "an energy counter went back, further than a wrap can explain");
    /* in the run's time base: from the origin, the samples' and sections' */
    assert_true(num(g, "start_ms") >= 0);
    assert_true(num(g, "end_ms") >= num(g, "start_ms"));

    const struct wl_summary_gaps *sg = &x.s.gaps;
    assert_true(sg->known);
    assert_int_equal(sg->n, 1);
    assert_int_equal(sg->n_listed, 1);
    assert_int_equal(sg->n_not_counted, 1); /* during the generation */
    assert_int_equal(sg->n_outside + sg->n_counted + sg->n_open, 0);
    char line[512];
    wl_summary_gaps_text(sg, line, sizeof line);
    char want[512];
    snprintf(want, sizeof want,
             "sensor gaps: 1 (%.3f s in all; the energy in them is NOT counted, the package "
             "figures are low by it)",
             sg->dur_s);
    assert_string_equal(line, want);
    json_t *j = wl_summary_to_json(&x.a, &x.s);
    const json_t *jg = json_object_get(j, "sensor_gaps");
    assert_true(json_is_object(jg));
    assert_int_equal(json_integer_value(json_object_get(jg, "n_gaps")), 1);
    assert_string_equal(json_string_value(json_object_get(jg, "text")), line);
    assert_int_equal(json_array_size(json_object_get(jg, "gaps")), 1);
    json_decref(j);
    stored_free(&x);
    wl_recorder_free(rec);
    wl_store_close(st);
    wl_test_rmtree(dir);
    free(dir);
}

/* ---- measure ------------------------------------------------------------------------ */

/* A measured command (window 100 .. 1100 ms from the origin) with three
 * gaps: a counter reset inside the window (energy not counted), a failed
 * read of a power meter during the baseline (outside the window), and a
 * failed read of a counter, which kept counting. All three are stored with
 * their times from the origin, and the line says which is which. */
static void test_measure_stores_its_gaps(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    wl_store *st = open_store(dir);
    char *argv[] = {"sleep", "1", NULL};
    struct wl_measure_save save = {.argv = argv};
    wl_store_run *run = NULL;
    char id[40];
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_measure_begin_run(st, &save, &run, id, &e), 0);

    struct wl_measure_result *r = calloc(1, sizeof *r);
    assert_non_null(r);
    const uint64_t t0 = 1000000 * MS_NS;
    const uint16_t pkg = 1u << WL_DOMAIN_PACKAGE, tot = 1u << WL_DOMAIN_TOTAL;
    r->started = true;
    r->t0_ns = t0;
    r->window.begin.t_ns = t0 + 100 * MS_NS;
    r->window.end.t_ns = t0 + 1100 * MS_NS;
    r->window.begin.valid_mask = r->window.end.valid_mask = pkg;
    r->window.end.energy_uj[WL_DOMAIN_PACKAGE] = 10000000;
    r->domains[WL_DOMAIN_PACKAGE] =
        (struct wl_domain_info){.present = true, .counter = true, .method = WL_METHOD_COUNTER};
    r->n_gaps = 3;
    r->stats.n_gaps = 3;
    r->gaps[0] = (struct wl_sampler_gap){.counter_fell = true,
                                         .error = WL_ERANGE,
                                         .causes = 1u << WL_DISC_FELL,
                                         .backend = "rapl-powercap",
                                         .domain_mask = pkg,
                                         .lost_mask = pkg,
                                         .t_start_ns = t0 + 500 * MS_NS,
                                         .t_end_ns = t0 + 510 * MS_NS};
    r->gaps[1] = (struct wl_sampler_gap){.error = WL_ESENSOR,
                                         .backend = "hwmon",
                                         .domain_mask = tot,
                                         .lost_mask = tot,
                                         .t_start_ns = t0 + 20 * MS_NS,
                                         .t_end_ns = t0 + 50 * MS_NS};
    r->gaps[2] = (struct wl_sampler_gap){.error = WL_ESENSOR,
                                         .backend = "rapl-powercap",
                                         .domain_mask = pkg,
                                         .t_start_ns = t0 + 600 * MS_NS,
                                         .t_end_ns = t0 + 700 * MS_NS};
    save.result = r;
    assert_int_equal(wl_measure_finish_run(st, run, &save, &e), 0);

    struct stored x;
    read_back(st, id, &x);
    const json_t *n = json_object_get(x.extra, "n_gaps");
    if (!json_is_integer(n))
        fail_msg("no n_gaps in the run's extra: %s", x.a.run.extra_json);
    assert_int_equal(json_integer_value(n), 3);
    const json_t *arr = json_object_get(x.extra, "gaps");
    assert_int_equal(json_array_size(arr), 3);
    const json_t *g0 = json_array_get(arr, 0), *g1 = json_array_get(arr, 1);
    assert_true(fabs(num(g0, "start_ms") - 500.0) < 1e-9);
    assert_true(fabs(num(g0, "end_ms") - 510.0) < 1e-9);
    assert_string_equal(json_string_value(json_object_get(g0, "why")),
                        "an energy counter went back");
    assert_string_equal(json_string_value(json_object_get(g0, "error")), "WL_ERANGE");
    assert_true(json_is_false(json_object_get(g0, "energy_counted")));
    assert_string_equal(json_string_value(json_object_get(g1, "sensor")), "hwmon");
    assert_string_equal(json_string_value(json_array_get(json_object_get(g1, "domains"), 0)),
                        "total");
    assert_true(json_is_true(json_object_get(json_array_get(arr, 2), "energy_counted")));

    const struct wl_summary_gaps *sg = &x.s.gaps;
    assert_int_equal(sg->n, 3);
    assert_int_equal(sg->n_not_counted, 1);
    assert_int_equal(sg->n_outside, 1);
    assert_int_equal(sg->n_counted, 1);
    assert_true(fabs(sg->dur_s - 0.11) < 1e-9); /* the gap before the run is not in it */
    assert_true(fabs(sg->not_counted_s - 0.01) < 1e-9);
    char line[512];
    assert_string_equal(
        wl_summary_gaps_text(sg, line, sizeof line),
        "sensor gaps: 3 (0.110 s in all; the energy in 1 of them, 0.010 s, is NOT "
        "counted, the package figures are low by it; 1 before the run (settle, idle "
        "baseline): not in its figures, but the energy in all 1 is NOT counted, an idle "
        "baseline across one is low by it; 1 failed read of energy counters, which kept "
        "counting)");
    stored_free(&x);
    free(r);
    wl_store_close(st);
    wl_test_rmtree(dir);
    free(dir);
}

/* ---- the line ----------------------------------------------------------------------- */

/* No gaps, or a run stored before gaps were: no line (JSON sensor_gaps
 * null for the latter). A gap still open at the end has no time; gaps past
 * the stored list are counted, and the line says their time is missing. */
static void test_gap_line_for_open_and_unlisted_gaps(void **state)
{
    (void)state;
    char line[512];
    struct wl_summary_gaps g;
    wl_summary_gaps_from_extra(NULL, 0, 1000, &g);
    assert_false(g.known);
    assert_string_equal(wl_summary_gaps_text(&g, line, sizeof line), "");
    json_t *x = json_loads("{\"n_gaps\":0,\"gaps\":[]}", 0, NULL);
    wl_summary_gaps_from_extra(x, 0, 1000, &g);
    json_decref(x);
    assert_true(g.known);
    assert_string_equal(wl_summary_gaps_text(&g, line, sizeof line), "");
    x = json_loads("{\"n_gaps\":70,\"gaps\":["
                   "{\"start_ms\":100,\"end_ms\":350,\"counter_fell\":true,"
                   "\"energy_counted\":false},"
                   "{\"start_ms\":900,\"end_ms\":null,\"counter_fell\":false,"
                   "\"energy_counted\":false}]}",
                   0, NULL);
    wl_summary_gaps_from_extra(x, 0, NAN, &g); /* an unfinished run: open-ended */
    json_decref(x);
    assert_int_equal(g.n, 70);
    assert_int_equal(g.n_listed, 2);
    assert_int_equal(g.n_not_counted, 2);
    assert_int_equal(g.n_open, 1);
    assert_string_equal(wl_summary_gaps_text(&g, line, sizeof line),
                        "sensor gaps: 70 (0.250 s in all; the energy in them is NOT counted, the "
                        "figures are low by it; 1 still failing at the end, not in the time; only "
                        "the first 2 are listed, the rest are not in the time)");
}

/* Overlapping gaps: a counter's failed reads and the discontinuity its next
 * good read finds (WL_DISC_AMBIGUOUS after a long failure) span the same
 * time. The time in all is the union's length, not the sum (which said
 * 4.3 s of gaps in a 2.8 s run); so is the time not counted. */
static void test_gap_time_is_the_union_of_overlapping_gaps(void **state)
{
    (void)state;
    char line[512];
    struct wl_summary_gaps g;
    json_t *x = json_loads("{\"n_gaps\":4,\"gaps\":["
                           "{\"start_ms\":310,\"end_ms\":2310,\"energy_counted\":true},"
                           "{\"start_ms\":300,\"end_ms\":2310,\"energy_counted\":false},"
                           "{\"start_ms\":2000,\"end_ms\":2500,\"energy_counted\":false},"
                           "{\"start_ms\":2600,\"end_ms\":2700,\"energy_counted\":true}]}",
                           0, NULL);
    wl_summary_gaps_from_extra(x, 0, 2800, &g);
    json_decref(x);
    assert_int_equal(g.n_listed, 4);
    assert_int_equal(g.n_not_counted, 2);
    assert_int_equal(g.n_counted, 2);
    /* [300, 2500] and [2600, 2700]; not counted: [300, 2500] */
    assert_true(fabs(g.dur_s - 2.3) < 1e-9);
    assert_true(fabs(g.not_counted_s - 2.2) < 1e-9);
    assert_string_equal(wl_summary_gaps_text(&g, line, sizeof line),
                        "sensor gaps: 4 (2.300 s in all; the energy in 2 of them, 2.200 s, is NOT "
                        "counted, the figures are low by it; 2 failed reads of energy counters, "
                        "which kept counting)");
}

/* A counter's failed reads, then the ambiguous discontinuity its next good
 * read finds: the energy over the failed reads is lost with the
 * discontinuity's, though the counter kept counting. Another sensor's failed
 * read at the same time keeps its energy. */
static void test_failed_read_inside_a_lost_gap_of_its_counter_is_not_counted(void **state)
{
    (void)state;
    char line[512];
    struct wl_summary_gaps g;
    json_t *x = json_loads("{\"n_gaps\":3,\"gaps\":["
                           "{\"start_ms\":310,\"end_ms\":2310,\"energy_counted\":true,"
                           "\"sensor\":\"rapl-powercap\",\"domains\":[\"package\"]},"
                           "{\"start_ms\":300,\"end_ms\":2310,\"energy_counted\":false,"
                           "\"sensor\":\"rapl-powercap\",\"domains\":[\"dram\",\"package\"]},"
                           "{\"start_ms\":500,\"end_ms\":900,\"energy_counted\":true,"
                           "\"sensor\":\"nvml\",\"domains\":[\"gpu\"]}]}",
                           0, NULL);
    wl_summary_gaps_from_extra(x, 0, 2800, &g);
    json_decref(x);
    assert_int_equal(g.n_not_counted, 2);
    assert_int_equal(g.n_counted, 1);
    assert_true(fabs(g.not_counted_s - 2.01) < 1e-9);
    /* no "lost_domains" and no counter_fell (a run stored before them): its
     * "domains" need not all be lost, so none is named */
    assert_int_equal(g.lost_domains, 0);
    assert_string_equal(wl_summary_gaps_text(&g, line, sizeof line),
                        "sensor gaps: 3 (2.010 s in all; the energy in 2 of them, 2.010 s, is NOT "
                        "counted, the figures are low by it; 1 failed read of energy counters, "
                        "which kept counting)");
}

/* The line names the domains whose energy is lost ("lost_domains"), not
 * every domain a gap touches: a stuck core counter leaves package whole.
 * Old: "the figures are low by it", as though every domain's were. */
static void test_gaps_line_names_the_lost_domains(void **state)
{
    (void)state;
    char line[512];
    struct wl_summary_gaps g;
    json_t *x = json_loads("{\"n_gaps\":1,\"gaps\":["
                           "{\"start_ms\":0,\"end_ms\":1000,\"energy_counted\":false,"
                           "\"counter_fell\":true,\"sensor\":\"rapl-powercap\","
                           "\"domains\":[\"package\",\"core\"],\"lost_domains\":[\"core\"]}]}",
                           0, NULL);
    wl_summary_gaps_from_extra(x, 0, 1000, &g);
    json_decref(x);
    assert_int_equal(g.lost_domains, 1u << WL_DOMAIN_CORE);
    assert_string_equal(wl_summary_gaps_text(&g, line, sizeof line),
                        "sensor gaps: 1 (1.000 s in all; the energy in them is NOT counted, the "
                        "core figures are low by it)");
    /* core stuck over the whole run (energy_unknown.not_measuring): its
     * figures are n/a, not low (old: "low by it" next to an n/a row) */
    g.na_domains = 1u << WL_DOMAIN_CORE;
    assert_string_equal(wl_summary_gaps_text(&g, line, sizeof line),
                        "sensor gaps: 1 (1.000 s in all; the energy in them is NOT counted, the "
                        "core figures are n/a (not measured))");
    g.lost_domains |= 1u << WL_DOMAIN_DRAM;
    assert_string_equal(wl_summary_gaps_text(&g, line, sizeof line),
                        "sensor gaps: 1 (1.000 s in all; the energy in them is NOT counted, the "
                        "dram figures are low by it, the core figures n/a (not measured))");
}

/* Gaps after the run's end (with --depth deep the sampler runs on for
 * 100-360 ms while rows are stored): a failed read and a counter reset
 * there are in none of the run's figures and not in its time, and the line
 * says "after", not "settle, idle baseline ... a baseline across one is
 * low" (the baseline came before). A failed read before the run, whose
 * counter kept counting, leaves the baseline whole. Old: the failed read
 * after the end was "1 failed read ..., which kept counting" with its
 * 0.070 s in the run's time; the reset "outside the run (settle, idle
 * baseline)". */
static void test_gaps_after_the_run_are_placed_after_it(void **state)
{
    (void)state;
    char line[512];
    struct wl_summary_gaps g;
    json_t *x = json_loads("{\"n_gaps\":3,\"gaps\":["
                           "{\"start_ms\":450,\"end_ms\":520,\"energy_counted\":true},"
                           "{\"start_ms\":440.8,\"end_ms\":453.8,\"energy_counted\":false,"
                           "\"counter_fell\":true,\"domains\":[\"package\"]},"
                           "{\"start_ms\":10,\"end_ms\":30,\"energy_counted\":true}]}",
                           0, NULL);
    wl_summary_gaps_from_extra(x, 304.7, 426.3, &g);
    assert_int_equal(g.n_listed, 3);
    assert_int_equal(g.n_outside, 3);
    assert_int_equal(g.n_after, 2);
    assert_int_equal(g.n_before, 1);
    assert_int_equal(g.n_before_lost, 0);
    assert_int_equal(g.n_counted + g.n_not_counted, 0);
    assert_int_equal(g.lost_domains, 0);
    assert_true(g.dur_s == 0.0);
    assert_string_equal(wl_summary_gaps_text(&g, line, sizeof line),
                        "sensor gaps: 3 (0.000 s in all; 1 before the run (settle, idle "
                        "baseline): not in its figures; 2 after the run's end: not in any of "
                        "its figures)");
    /* the same gaps in a run that lasted past them: in it */
    wl_summary_gaps_from_extra(x, 0, 1000, &g);
    json_decref(x);
    assert_int_equal(g.n_outside, 0);
    assert_int_equal(g.n_counted, 2);
    assert_int_equal(g.n_not_counted, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_stores_a_counter_reset_as_a_gap),
        cmocka_unit_test(test_measure_stores_its_gaps),
        cmocka_unit_test(test_gap_line_for_open_and_unlisted_gaps),
        cmocka_unit_test(test_gap_time_is_the_union_of_overlapping_gaps),
        cmocka_unit_test(test_failed_read_inside_a_lost_gap_of_its_counter_is_not_counted),
        cmocka_unit_test(test_gaps_line_names_the_lost_domains),
        cmocka_unit_test(test_gaps_after_the_run_are_placed_after_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

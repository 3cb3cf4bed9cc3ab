/* analysis/summary_resol: an energy counter moves in steps, so a figure
 * over a window shorter than WL_RESOLUTION_PERIODS update periods is a few
 * whole steps (0 J while the hardware drew power, or twice the truth). The
 * one rule (wl_summary_below_resolution) decides it; the summary takes each
 * domain's period from the stored power window (10 periods) and marks the
 * phases, tokens and efficiency figures below it, in JSON and in `show`.
 * Old: no figure said so ("0.000 J / 0.00 W" for a prefill that drew 10 W).
 */
#include "cli_store_fixture.h"
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "analysis/summary.h"
#include "store/store.h"
#include "wattlens/energy.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

/* The rule: shorter than 10 periods is below; unknown is never below. */
static void test_the_rule(void **state)
{
    (void)state;
    assert_int_equal(WL_RESOLUTION_PERIODS, 10);
    assert_true(wl_summary_below_resolution(5, 1));
    assert_true(wl_summary_below_resolution(9.99, 1));
    assert_false(wl_summary_below_resolution(10, 1));
    assert_false(wl_summary_below_resolution(1e6, 1000));
    assert_true(wl_summary_below_resolution(1500, 1000)); /* `measure -- sleep 1.5`, hwmon */
    assert_false(wl_summary_below_resolution(NAN, 1));
    assert_false(wl_summary_below_resolution(5, NAN));
    assert_false(wl_summary_below_resolution(5, 0));
    assert_false(wl_summary_below_resolution(5, -1));
    assert_float_equal(wl_summary_update_period_ms(10000), 1000, EPS);
    assert_float_equal(wl_summary_update_period_ms(10), 1, EPS);
    assert_true(isnan(wl_summary_update_period_ms(0)));
    assert_true(isnan(wl_summary_update_period_ms(NAN)));
    assert_true(isnan(wl_summary_update_period_ms(-5)));
}

/* A finished inference run over a package counter updated once a second
 * (power window 10 s, as the provenance stores it; prov NULL: none, as an
 * older run): a prefill of 300 ms that read 0 J, 10 output tokens of 1.5 s
 * each reading 0 or 30 J (whole steps of about 10 J at 10 W) with a layer
 * row for each decode step, a decode of 15 s. */
static void write_coarse_run(wl_store *s, const char *prov, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "coarse"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "prefill",
                                   .name = "prompt",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 300,
                                   .energy_j = 0,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    for (int t = 0; t < 14; t++) {
        const bool in = t < 4;
        const int k = t - 4; /* output token k */
        const double t0 = 300 + 1500.0 * k, e = in ? 0 : (k % 2 ? 30 : 0);
        struct wl_store_token tok = {.index = t,
                                     .is_input = in,
                                     .start_ms = in ? WL_STORE_UNSET : t0,
                                     .end_ms = in ? WL_STORE_UNSET : t0 + 1500,
                                     .energy_j = e,
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
        if (in)
            continue;
        struct wl_store_section d = {.phase = "decode",
                                     .name = "token",
                                     .token_index = t,
                                     .start_ms = t0,
                                     .end_ms = t0 + 1500,
                                     .energy_j = e,
                                     .method = WL_METHOD_COUNTER};
        assert_int_equal(wl_store_add_section(r, &d), 0);
        if (k > 0) { /* a decode step's layer row (token 0 is sampled only) */
            struct wl_store_layer_metric lm = {t, 0, 1400, e};
            assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
        }
    }
    struct wl_store_domain dom =
        wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_COUNTER, "hwmon", 150, 150 / 15.3);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 15300, 150, WL_METHOD_COUNTER);
    tot.input_tokens = 4;
    tot.output_tokens = 10;
    tot.energy_scope = "package";
    tot.sensor_provenance_json = prov;
    tot.domains = &dom;
    tot.n_domains = 1;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

static const char *const PROV_1S =
    "{\"energy_scope\":\"package\",\"domains\":[{\"domain\":\"package\",\"method\":\"counter\","
    "\"counter\":true,\"in_headline\":true,\"power_window_ms\":10000}]}";

static void test_a_coarse_counter_marks_short_windows(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_coarse_run(f->s, PROV_1S, id);
    struct wl_store_aggregates a;
    struct wl_summary s;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    const struct wl_summary_resolution *r = &s.resolution;
    assert_float_equal(r->update_period_ms[WL_DOMAIN_PACKAGE], 1000, EPS);
    assert_true(isnan(r->update_period_ms[WL_DOMAIN_GPU]));
    assert_int_equal(r->headline_domain, WL_DOMAIN_PACKAGE);
    assert_float_equal(r->headline_period_ms, 1000, EPS);
    /* one step at the run's 9.8 W: 9.8 J */
    assert_float_equal(r->headline_step_j, 150 / 15.3, 1e-6);
    assert_int_equal(r->n_tokens_timed, 10);
    assert_int_equal(r->n_tokens_below, 10);
    assert_true(r->prefill_below);
    assert_false(r->decode_below);
    assert_false(r->run_below);
    assert_int_equal(s.n_phases, 2);
    assert_string_equal(s.phases[0].name, "prefill");
    assert_true(s.phases[0].below_resolution);
    assert_int_equal(s.phases[0].domain_below, 0); /* the phase has no domain split stored */
    assert_false(s.phases[1].below_resolution);
    assert_int_equal(r->n_phases_below, 1);

    json_t *j = wl_summary_to_json(&a, &s);
    json_t *res = json_object_get(json_object_get(j, "totals"), "resolution");
    assert_non_null(res);
    assert_int_equal(json_integer_value(json_object_get(res, "output_tokens_below_resolution")),
                     10);
    assert_true(json_is_true(json_object_get(res, "prefill_below_resolution")));
    assert_float_equal(
        json_number_value(json_object_get(json_object_get(res, "update_period_ms"), "package")),
        1000, EPS);
    json_t *p0 = json_array_get(json_object_get(j, "phases"), 0);
    assert_true(json_is_true(json_object_get(p0, "below_resolution")));
    json_t *t0 = json_array_get(json_object_get(j, "output_tokens"), 0);
    assert_true(json_is_true(json_object_get(t0, "below_resolution")));
    json_t *d0 = json_array_get(json_object_get(j, "domains"), 0);
    assert_float_equal(json_number_value(json_object_get(d0, "update_period_ms")), 1000, EPS);
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);

    /* show: the prefill's 0 J and 0 W carry the mark, and notes say why */
    wl_store_close(f->s);
    f->s = NULL;
    char *out = wl_test_show_text(f->path, id);
    assert_non_null(strstr(out, "0.000 J~"));
    assert_non_null(strstr(out, "0.00 W~"));
    assert_non_null(strstr(out, "shorter than 10 update periods of the package counter (1.00 s)"));
    assert_non_null(strstr(out, "10 of 10 tokens are shorter than 10 update periods"));
    char b[128];
    assert_string_equal(wl_test_line_value(out, "prefill J/input token", b, sizeof b), "0.000 J~");
    /* the layers' energies are shares of those short passes */
    assert_non_null(strstr(out, "time shares of forward passes shorter than 10 update periods"));
    free(out);
}

/* A run without stored windows (older runs; an unfinished run's
 * provenance): nothing can be judged, so nothing is marked, and JSON says
 * not known (null), not "not below". */
static void test_unknown_periods_mark_nothing(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_coarse_run(f->s, NULL, id);
    struct wl_store_aggregates a;
    struct wl_summary s;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(s.resolution.headline_domain, -1);
    assert_int_equal(s.resolution.n_tokens_below, 0);
    assert_false(s.phases[0].below_resolution);
    json_t *j = wl_summary_to_json(&a, &s);
    json_t *res = json_object_get(json_object_get(j, "totals"), "resolution");
    assert_true(json_is_null(json_object_get(res, "output_tokens_below_resolution")));
    assert_true(json_is_null(json_object_get(res, "prefill_below_resolution")));
    json_t *p0 = json_array_get(json_object_get(j, "phases"), 0);
    assert_true(json_is_null(json_object_get(p0, "below_resolution")));
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
    wl_store_close(f->s);
    f->s = NULL;
    char *out = wl_test_show_text(f->path, id);
    assert_null(strstr(out, "~"));
    free(out);
}

/* A measured command of 1 s on that counter: the whole run is below its
 * resolution, so the domain table marks its energy and power, and the run's
 * J figures are flagged in JSON. */
static void test_a_short_run_marks_its_domains(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "work"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "measure",
                                   .name = "command",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 1000,
                                   .energy_j = 20,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    struct wl_store_domain dom =
        wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_COUNTER, "hwmon", 20, 20);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 1000, 20, WL_METHOD_COUNTER);
    tot.energy_scope = "package";
    tot.sensor_provenance_json = PROV_1S;
    tot.domains = &dom;
    tot.n_domains = 1;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    struct wl_store_aggregates a;
    struct wl_summary s;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(s.resolution.run_below);
    assert_float_equal(s.resolution.step_j[WL_DOMAIN_PACKAGE], 20, EPS); /* 1 s at 20 W */
    json_t *j = wl_summary_to_json(&a, &s);
    json_t *res = json_object_get(json_object_get(j, "totals"), "resolution");
    assert_true(json_is_true(json_object_get(res, "run_below_resolution")));
    json_t *d0 = json_array_get(json_object_get(j, "domains"), 0);
    assert_float_equal(json_number_value(json_object_get(d0, "energy_step_j")), 20, EPS);
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
    wl_store_close(f->s);
    f->s = NULL;
    char *out = wl_test_show_text(f->path, id);
    assert_non_null(strstr(out, "20.000 J~"));
    assert_non_null(strstr(out, "the run is shorter than 10 update periods of that domain's"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_rule),
        cmocka_unit_test_setup_teardown(test_a_coarse_counter_marks_short_windows,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_periods_mark_nothing, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_short_run_marks_its_domains, wl_test_store_setup,
                                        wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

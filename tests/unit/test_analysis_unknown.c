/* analysis/summary over inputs that are not figures: energies a failed
 * sensor read left unknown (NULL rows), an infinity a hand edit stored,
 * a domain method this build cannot read, a currency stored without its
 * price. Each figure either uses only what is known or is n/a; none is
 * biased by what is missing. The rest of the summary is in test_analysis*.c.
 */
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "analysis/summary.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

/* Aggregates of a finished run by hand: 10 J in 1000 ms, one phase
 * "decode" of 1 J in 100 ms, no tokens. */
static void plain_run(struct wl_store_aggregates *a, struct wl_agg_phase *ph)
{
    wl_test_agg_finished_run(a, 10, 1000);
    *ph = (struct wl_agg_phase){.name = "decode",
                                .n_sections = 1,
                                .start_ms = 0,
                                .end_ms = 100,
                                .dur_ms = 100,
                                .energy_j = 1};
    a->phases = ph;
    a->n_phases = 1;
}

/* ---- rows whose energy a failed sensor read left unknown ----------------- */

/* A run written through the store (times in ms, package 80 % and dram 20 %
 * of every section):
 *   prefill  embedding   0..20     0.2 J   (input tokens 0-1, 0.5 J each)
 *   prefill  layers     20..100    0.8 J   (one prompt batch: rows under token 1)
 *   decode   token 2   100..110    0.01 J  (token 0 of the output: sampling only)
 *   decode   token 3   110..310    2 J
 *   decode   token 4   310..510    2 J
 *   decode   token 5   510..710    2 J     total 7.01 J in 710 ms
 * Output rows hold their section's time and energy; each forward pass has
 * layer 0 (prompt batch 40 ms, 0.4 J; decode step 50 ms, 0.5 J) with attn
 * and ffn, half of it each. finish: complete with its totals, else left
 * unfinished (its writer died after the last flush). */
static void write_run(wl_store *s, bool finish, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "unknowns"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    const struct {
        const char *phase, *name;
        int64_t tok;
        double a, b, e;
    } secs[] = {
        {"prefill", "embedding", -1, 0, 20, 0.2}, {"prefill", "layers", -1, 20, 100, 0.8},
        {"decode", "token", 2, 100, 110, 0.01},   {"decode", "token", 3, 110, 310, 2},
        {"decode", "token", 4, 310, 510, 2},      {"decode", "token", 5, 510, 710, 2},
    };
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        struct wl_store_section sec = {.phase = secs[i].phase,
                                       .name = secs[i].name,
                                       .token_index = secs[i].tok,
                                       .start_ms = secs[i].a,
                                       .end_ms = secs[i].b,
                                       .energy_j = secs[i].e,
                                       .method = WL_METHOD_COUNTER,
                                       .domain_mask =
                                           (1u << WL_DOMAIN_PACKAGE) | (1u << WL_DOMAIN_DRAM)};
        sec.domain_energy_j[WL_DOMAIN_PACKAGE] = 0.8 * secs[i].e;
        sec.domain_energy_j[WL_DOMAIN_DRAM] = 0.2 * secs[i].e;
        assert_int_equal(wl_store_add_section(r, &sec), 0);
    }
    for (int t = 0; t < 6; t++) {
        const bool in = t < 2;
        struct wl_store_token tok = {.index = t,
                                     .text = "t",
                                     .is_input = in,
                                     .start_ms = in ? WL_STORE_UNSET : secs[t].a,
                                     .end_ms = in ? WL_STORE_UNSET : secs[t].b,
                                     .energy_j = in ? 0.5 : secs[t].e,
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
        if (t == 0 || t == 2) /* inside the prompt batch; sampled from its logits */
            continue;
        const double ms = in ? 40 : 50, j = in ? 0.4 : 0.5;
        struct wl_store_layer_metric lm = {t, 0, ms, j};
        assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
        for (int c = 0; c < 2; c++) {
            struct wl_store_component_metric cm =
                wl_test_component_row(t, 0, c, c ? "ffn" : "attn", ms / 2, j / 2);
            assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
        }
    }
    if (!finish) {
        assert_int_equal(wl_store_flush(r), 0);
        wl_store_run_abandon(r);
        return;
    }
    struct wl_store_domain doms[2] = {
        wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_COUNTER, "fake", 0.8 * 7.01,
                           WL_STORE_UNSET),
        wl_test_domain_row(WL_DOMAIN_DRAM, WL_METHOD_COUNTER, "fake", 0.2 * 7.01, WL_STORE_UNSET)};
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 710, 7.01, WL_METHOD_COUNTER);
    tot.energy_scope = "package+dram";
    tot.input_tokens = 2;
    tot.output_tokens = 4;
    tot.domains = doms;
    tot.n_domains = 2;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

/* What the recorder stores when the package read fails at a mark inside
 * token `tok`'s window (profile.md): that token's section and row, and the
 * layer and component rows of its forward pass, without energy (the dram,
 * read at both marks, keeps its part of the section); and, for a finished
 * run, runs.extra.energy_unknown counting them. */
static void forget_token(const char *path, int tok, bool finished)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE sections SET energy_j = NULL, package_j = NULL WHERE token_index = %d;"
             "UPDATE tokens SET energy_j = NULL, edp_js = NULL, avg_power_w = NULL "
             "WHERE idx = %d;"
             "UPDATE layer_metrics SET energy_j = NULL WHERE token_idx = %d;"
             "UPDATE component_metrics SET energy_j = NULL WHERE token_idx = %d;%s",
             tok, tok, tok, tok,
             finished ? "UPDATE runs SET extra = json_set(coalesce(extra, '{}'), "
                        "'$.energy_unknown', json('{\"start\":[],\"end\":[],\"sections\":1,"
                        "\"token_rows\":1}'))"
                      : "");
    wl_test_store_raw_exec(path, sql);
}

static const struct wl_summary_phase *phase_named(const struct wl_summary *s, const char *name)
{
    for (size_t i = 0; i < s->n_phases; i++) {
        if (strcmp(s->phases[i].name, name) == 0)
            return &s->phases[i];
    }
    fail_msg("no phase %s", name);
    return NULL;
}

/* Token 4's energy unknown, in a finished run: the headline (counters read
 * at the generation's start and end) stays 7.01 J, and every average,
 * power and ratio is over the rows with energy. The old figures divided the
 * known sums by every row, token or time: decode J/token 1.33 J (4 J / 3),
 * out/in ratio 2.67, decode power 6.57 W (4.01 J / 0.61 s), EDP per token
 * 0.267 J*s, layer 0 and attn per step 0.333 J and 0.167 J, dram 30 % of
 * decode. */
static void test_averages_leave_out_rows_without_energy(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_run(f->s, true, id);
    forget_token(f->path, 4, true);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_float_equal(s.energy_j, 7.01, EPS);
    assert_int_equal(s.energy_unknown.n_sections, 1);
    /* the known sections' 5.01 J over the whole 7.01 J read 71.5 % */
    assert_true(isnan(s.covered_energy_pct));

    const struct wl_summary_phase *dec = phase_named(&s, "decode");
    assert_int_equal(dec->n_sections, 4);
    assert_int_equal(dec->n_no_energy, 1);
    assert_float_equal(dec->energy_j, 4.01, EPS); /* the known sections' */
    assert_float_equal(dec->dur_ms, 610, EPS);    /* every section's */
    assert_float_equal(dec->avg_power_w, 4.01 / 0.41, EPS);
    assert_float_equal(dec->domain_pct[WL_DOMAIN_PACKAGE], 80, EPS);
    assert_float_equal(dec->domain_pct[WL_DOMAIN_DRAM], 20, EPS);
    assert_float_equal(phase_named(&s, "prefill")->avg_power_w, 10, EPS); /* all known */
    /* energy shares are of the run's 7.01 J, the missing 2 J left out of
     * them (of the known 5.01 J they read 20.0 % and 80.0 %, adding up to
     * 100 as if nothing were missing, the complete prefill's inflated) */
    assert_float_equal(phase_named(&s, "prefill")->energy_pct, 100 * 1 / 7.01, EPS);
    assert_float_equal(dec->energy_pct, 100 * 4.01 / 7.01, EPS);

    const struct wl_summary_efficiency *e = &s.eff;
    assert_float_equal(e->j_per_token, 7.01 / 4, EPS); /* the headline's, as before */
    assert_float_equal(e->prefill_j_per_in_token, 0.5, EPS);
    assert_float_equal(e->decode_j_per_out_token, 2, EPS); /* tokens 3 and 5 */
    assert_float_equal(e->out_in_energy_ratio, 4, EPS);
    assert_float_equal(e->edp_per_token_js, 0.4, EPS); /* 2 J x 0.2 s, tokens 3 and 5 */
    assert_true(isnan(e->decode_edp_js));              /* needs the whole decode energy */
    assert_float_equal(e->prefill_edp_js, 0.1, EPS);   /* 1 J x 0.1 s */
    assert_float_equal(e->tokens_per_s, 3 / 0.6, EPS); /* time: every row */

    assert_int_equal(s.n_layers, 1);
    const struct wl_summary_layer *l = &s.layers[0];
    assert_int_equal(l->n, 4);
    assert_int_equal(l->n_no_energy, 1);
    assert_int_equal(l->prefill_n_no_energy, 0);
    assert_float_equal(l->avg_energy_j, 1.4 / 3, EPS);
    assert_float_equal(l->decode_avg_energy_j, 0.5, EPS);
    assert_float_equal(l->decode_avg_dur_ms, 50, EPS);
    assert_float_equal(l->prefill_energy_j_per_token, 0.2, EPS); /* 0.4 J / 2 */

    /* components: component_agg holds their sums but not the rows without
     * energy, so they are counted from the rows */
    assert_int_equal(s.n_components, 2);
    const struct wl_summary_component *attn = &s.components[0];
    assert_string_equal(attn->name, "attn");
    assert_int_equal(attn->n, 4);
    assert_int_equal(attn->n_no_energy, 1);
    assert_float_equal(attn->avg_energy_j, 0.7 / 3, EPS);
    assert_float_equal(attn->decode_avg_energy_j, 0.25, EPS);
    assert_float_equal(attn->prefill_energy_j_per_token, 0.1, EPS);
    assert_float_equal(s.hottest[0].decode_avg_energy_j, 0.25, EPS);

    json_t *j = wl_summary_to_json(&a, &s);
    json_t *jp = json_array_get(json_object_get(j, "phases"), 1);
    assert_int_equal(json_integer_value(json_object_get(jp, "sections_without_energy")), 1);
    json_t *jl = json_array_get(json_object_get(j, "layers"), 0);
    assert_int_equal(json_integer_value(json_object_get(jl, "rows_without_energy")), 1);
    json_t *jc = json_array_get(json_object_get(j, "components"), 0);
    assert_int_equal(json_integer_value(json_object_get(jc, "count_without_energy")), 1);
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* The prompt batch's `layers` section without energy (its input rows are
 * known: the batch's own marks were read): prefill J per input token is the
 * input rows' mean, not the embedding's 0.2 J over 2 tokens; the prefill
 * power is the embedding's; the layer's energy per input token, which
 * needs every prompt batch, is n/a, and its decode steps are known. */
static void test_prefill_figures_leave_out_a_section_without_energy(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_run(f->s, true, id);
    wl_test_store_raw_exec(f->path,
                           "UPDATE sections SET energy_j = NULL, package_j = NULL "
                           "WHERE name = 'layers';"
                           "UPDATE layer_metrics SET energy_j = NULL WHERE token_idx = 1;"
                           "UPDATE component_metrics SET energy_j = NULL WHERE token_idx = 1");
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    const struct wl_summary_phase *pre = phase_named(&s, "prefill");
    assert_int_equal(pre->n_no_energy, 1);
    assert_float_equal(pre->energy_j, 0.2, EPS);
    assert_float_equal(pre->avg_power_w, 10, EPS);              /* 0.2 J in 20 ms (was 2 W) */
    assert_float_equal(s.eff.prefill_j_per_in_token, 0.5, EPS); /* was 0.1 J */
    assert_float_equal(s.eff.decode_j_per_out_token, 2, EPS);
    assert_float_equal(s.eff.out_in_energy_ratio, 4, EPS); /* was 20 */
    assert_true(isnan(s.eff.prefill_edp_js));
    assert_float_equal(s.eff.decode_edp_js, 6.01 * 0.61, EPS);
    const struct wl_summary_layer *l = &s.layers[0];
    assert_int_equal(l->prefill_n_no_energy, 1);
    assert_true(isnan(l->prefill_energy_j_per_token));
    assert_float_equal(l->prefill_dur_ms_per_token, 20, EPS);
    assert_float_equal(l->decode_avg_energy_j, 0.5, EPS); /* was n/a */
    assert_true(isnan(s.components[0].prefill_energy_j_per_token));
    assert_float_equal(s.components[0].decode_avg_energy_j, 0.25, EPS);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* Token 4's dram read failed while its package was read (the section's
 * energy known, its dram_j NULL): dram's share of decode is its known part
 * over the energy of the sections where it is known, 0.802 J / 4.01 J =
 * 20 %, not over the whole 6.01 J (13.3 %); package's stays 80 %. */
static void test_a_domain_share_is_over_the_sections_where_it_is_known(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_run(f->s, true, id);
    wl_test_store_raw_exec(f->path, "UPDATE sections SET dram_j = NULL WHERE token_index = 4");
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    const struct wl_summary_phase *dec = phase_named(&s, "decode");
    assert_int_equal(dec->n_no_energy, 0);
    assert_float_equal(dec->energy_j, 6.01, EPS);
    assert_float_equal(dec->domain_energy_j[WL_DOMAIN_DRAM], 0.2 * 4.01, EPS);
    assert_float_equal(dec->domain_pct[WL_DOMAIN_DRAM], 20, EPS);
    assert_float_equal(dec->domain_pct[WL_DOMAIN_PACKAGE], 80, EPS);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* A finished run whose every layer row lacks energy (the sensor was gone
 * for the whole generation) reads its components from component_agg, whose
 * NULL sums count all their rows: the rows are not rescanned. Token 5's
 * component rows deleted after the finish tell the two apart (the rescan
 * counted 3 rows). */
static void test_components_without_any_energy_come_from_component_agg(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_run(f->s, true, id);
    wl_test_store_raw_exec(f->path, "UPDATE layer_metrics SET energy_j = NULL;"
                                    "UPDATE component_metrics SET energy_j = NULL;"
                                    "UPDATE component_agg SET energy_j = NULL;"
                                    "DELETE FROM component_metrics WHERE token_idx = 5");
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(a.n_components, 2);
    assert_int_equal(a.components[0].n, 4);
    assert_int_equal(a.components[0].n_no_energy, 4);
    assert_true(isnan(a.components[0].energy_j));
    wl_store_aggregates_free(&a);
}

/* The row of run id in the store's list. */
static struct wl_run_row list_row(wl_store *st, const char *id, struct wl_run_list *l)
{
    struct wl_store_filter flt = {0};
    assert_int_equal(wl_store_list_runs(st, &flt, WL_SORT_DATE, 0, 0, l), 0);
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->rows[i].id, id) == 0)
            return l->rows[i];
    }
    fail_msg("run %s not listed", id);
    return l->rows[0];
}

/* A run that never finished has no total and no energy_unknown (the
 * recorder writes both at the end): the sum of its sections read 5.01 J
 * (token 4's 2 J as 0), J/token 1.25 J, in `show` and `runs`, with no note.
 * Now its energy is unknown in both, the rows without energy are counted
 * from the rows, and the averages still use the rows with energy. */
static void test_an_unfinished_run_with_sections_without_energy_has_no_total(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_run(f->s, false, id);
    forget_token(f->path, 4, false);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(s.partial);
    assert_true(isnan(s.energy_j));
    assert_false(s.energy_from_phases);
    assert_int_equal(s.sections_no_energy, 1);
    assert_true(isnan(s.eff.j_per_token));
    assert_true(isnan(s.eff.tokens_per_j));
    assert_true(isnan(s.cost.cost));
    assert_true(isnan(s.cost.cost_per_1k_tokens));
    /* without the run's energy, a phase's share of it is unknown too */
    for (size_t i = 0; i < s.n_phases; i++)
        assert_true(isnan(s.phases[i].energy_pct));
    assert_false(isnan(s.phases[0].dur_pct));
    assert_true(s.energy_unknown.known);
    assert_true(s.energy_unknown.from_rows);
    assert_int_equal(s.energy_unknown.n_sections, 1);
    assert_int_equal(s.energy_unknown.n_token_rows, 1);
    assert_float_equal(s.eff.decode_j_per_out_token, 2, EPS); /* over the rows with energy */
    json_t *j = wl_summary_to_json(&a, &s);
    json_t *u = json_object_get(json_object_get(j, "totals"), "energy_unknown");
    assert_true(json_is_true(json_object_get(u, "counted_from_rows")));
    assert_int_equal(json_integer_value(json_object_get(u, "sections")), 1);
    /* which domain went unread is not known: null, not [] ("none") */
    assert_true(json_is_null(json_object_get(u, "start")));
    assert_true(json_is_null(json_object_get(u, "end")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "totals"), "energy_j")));
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);

    struct wl_run_list l = {0};
    const struct wl_run_row r = list_row(f->s, id, &l);
    assert_true(r.partial);
    assert_int_equal(r.sections_no_energy, 1);
    assert_true(isnan(r.energy_j));
    assert_true(isnan(r.j_per_token));
    assert_false(r.has_energy_method);
    wl_run_list_free(&l);
}

/* The same run stopped between two saves (token 5's section saved, its row
 * not): the per-token figures cover the span both tables hold, up to
 * token 4. With the section without energy beyond the span, the span's
 * energy is known (5.01 J over its 3 output tokens) while the run's is
 * not; with one inside it, the span's is unknown too. `show` and `runs`
 * agree. */
static void test_the_span_of_an_unfinished_run_adds_only_known_sections(void **state)
{
    struct wl_test_store_fixture *f = *state;
    for (int inside = 0; inside < 2; inside++) {
        char id[37];
        write_run(f->s, false, id);
        char sql[256];
        snprintf(sql, sizeof sql,
                 "DELETE FROM component_metrics WHERE token_idx = 5;"
                 "DELETE FROM layer_metrics WHERE token_idx = 5;"
                 "DELETE FROM tokens WHERE idx = 5;"
                 "UPDATE sections SET energy_j = NULL WHERE token_index = %d",
                 inside ? 3 : 5);
        wl_test_store_raw_exec(f->path, sql);
        struct wl_store_aggregates a;
        assert_int_equal(wl_store_summary(f->s, id, &a), 0);
        struct wl_summary s;
        assert_int_equal(wl_summary_compute(&a, &s), 0);
        assert_true(isnan(s.energy_j));
        assert_int_equal(s.eff.span_last_token, 4);
        assert_int_equal(s.eff.span_output_tokens, 3);
        struct wl_run_list l = {0};
        const struct wl_run_row r = list_row(f->s, id, &l);
        assert_int_equal(r.span_last_token, 4);
        if (inside) {
            assert_true(isnan(s.eff.span_energy_j));
            assert_true(isnan(s.eff.j_per_token));
            assert_true(isnan(r.span_energy_j));
            assert_true(isnan(r.j_per_token));
        } else {
            assert_float_equal(s.eff.span_energy_j, 5.01, EPS);
            assert_float_equal(s.eff.j_per_token, 5.01 / 3, EPS);
            assert_float_equal(r.span_energy_j, 5.01, EPS);
            assert_float_equal(r.j_per_token, s.eff.j_per_token, 0);
        }
        wl_run_list_free(&l);
        wl_summary_free(&s);
        wl_store_aggregates_free(&a);
        assert_int_equal(wl_store_delete_run(f->s, id, true), 0); /* the edits hit every run */
    }
}

/* ---- an infinity is no figure -------------------------------------------- */

/* A hand-edited runs.energy_j of 9e999 (inf): show printed "energy n/a"
 * beside "the phases' sections account for 0.0 % of the run's energy" and
 * a cost of "inf USD". */
static void test_an_infinite_energy_is_unknown(void **state)
{
    (void)state;
    struct wl_store_aggregates a;
    struct wl_agg_phase ph;
    plain_run(&a, &ph);
    a.run.row.energy_j = INFINITY;
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(isnan(s.energy_j)); /* JSON null, as the export writes it */
    assert_true(isnan(s.covered_energy_pct));
    assert_true(isnan(s.avg_power_w));
    assert_true(isnan(s.cost.cost)); /* "inf USD" */
    assert_true(isnan(s.cost.co2_g));
    assert_true(isnan(s.eff.edp_js));
    wl_summary_free(&s);

    /* and an infinite phase energy gives no share and no power */
    plain_run(&a, &ph);
    ph.energy_j = -INFINITY;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(isnan(s.phases[0].avg_power_w));
    assert_true(isnan(s.covered_energy_pct));
    wl_summary_free(&s);
}

/* A section's energy stored as 9e999 (inf; another writer or a hand edit)
 * is a section without energy: counted in its phase's n_no_energy and left
 * out of the sums, so every phase keeps its share of the run's energy. Old:
 * the decode phase's sum was inf, and every phase's ENERGY % n/a; an
 * unfinished run was listed with an infinite energy. */
static void test_an_infinite_section_energy_is_a_section_without_energy(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_run(f->s, true, id);
    wl_test_store_raw_exec(f->path, "UPDATE sections SET energy_j = 9e999 WHERE token_index = 4");
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(s.sections_no_energy, 1);
    const struct wl_summary_phase *dec = phase_named(&s, "decode");
    assert_int_equal(dec->n_no_energy, 1);
    assert_float_equal(dec->energy_j, 4.01, EPS);
    assert_float_equal(dec->energy_pct, 100 * 4.01 / 7.01, EPS);
    assert_float_equal(phase_named(&s, "prefill")->energy_pct, 100 * 1.0 / 7.01, EPS);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);

    /* an unfinished run: no total from its sections, as with a NULL one */
    char open_id[37];
    write_run(f->s, false, open_id);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE sections SET energy_j = 9e999 WHERE token_index = 4 AND run_id = "
             "(SELECT id FROM runs WHERE uuid = '%s')",
             open_id);
    wl_test_store_raw_exec(f->path, sql);
    struct wl_run_list list = {0};
    struct wl_store_filter flt = {0};
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 10, 0, &list), 0);
    bool seen = false;
    for (size_t i = 0; i < list.n; i++) {
        if (strcmp(list.rows[i].id, open_id) != 0)
            continue;
        seen = true;
        assert_true(isnan(list.rows[i].energy_j));
        assert_int_equal(list.rows[i].sections_no_energy, 1);
    }
    assert_true(seen);
    wl_run_list_free(&list);
}

/* ---- a method this build cannot read ------------------------------------ */

/* A model-estimated package next to a dram whose stored method this build
 * cannot parse (another writer's, a newer build's): the dram's method is
 * not known, so show's note counts it as estimated; it printed "partly
 * ESTIMATED: package ...; dram: ?", the dram as measured. */
static void test_a_method_that_cannot_be_read_is_not_known(void **state)
{
    (void)state;
    struct wl_store_aggregates a;
    struct wl_agg_phase ph;
    plain_run(&a, &ph);
    a.run.row.energy_method = WL_METHOD_MODEL_ESTIMATE;
    a.run.row.has_energy_method = true;
    a.run.energy_scope = "package+dram";
    a.run.domains[0] =
        wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_MODEL_ESTIMATE, NULL, 9, WL_STORE_UNSET);
    /* WL_METHOD_COUNT: what the store reads for "x" or NULL */
    a.run.domains[1] = wl_test_domain_row(WL_DOMAIN_DRAM, WL_METHOD_COUNT, NULL, 1, WL_STORE_UNSET);
    a.run.n_domains = 2;
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(s.headline_mask, (1u << WL_DOMAIN_PACKAGE) | (1u << WL_DOMAIN_DRAM));
    assert_true(s.method_known & (1u << WL_DOMAIN_PACKAGE));
    assert_int_equal(s.domain_method[WL_DOMAIN_PACKAGE], WL_METHOD_MODEL_ESTIMATE);
    assert_false(s.method_known & (1u << WL_DOMAIN_DRAM));
    wl_summary_free(&s);
}

/* ---- a currency without its price --------------------------------------- */

/* `run --currency JPY` without --price-kwh stored the currency alone, and
 * the cost read "at 0.15 JPY/kWh (default price)": the USD default,
 * relabelled, about 150 times too low. The currency is its price's unit. */
static void test_a_currency_without_a_price_keeps_the_default_currency(void **state)
{
    (void)state;
    struct wl_store_aggregates a;
    struct wl_agg_phase ph;
    plain_run(&a, &ph);
    a.run.extra_json = "{\"currency\":\"JPY\"}";
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_false(s.cost.price_from_run);
    assert_string_equal(s.cost.currency, WL_DEFAULT_CURRENCY);
    assert_float_equal(s.cost.price_per_kwh, WL_DEFAULT_PRICE_PER_KWH, EPS);
    assert_float_equal(s.cost.cost, 10 / 3.6e6 * WL_DEFAULT_PRICE_PER_KWH, 1e-15);
    wl_summary_free(&s);

    /* with its own price, the run's currency is the cost's */
    a.run.extra_json = "{\"currency\":\"JPY\",\"price_per_kwh\":30}";
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(s.cost.price_from_run);
    assert_string_equal(s.cost.currency, "JPY");
    assert_float_equal(s.cost.price_per_kwh, 30, EPS);
    wl_summary_free(&s);
}

/* ---- an extra that does not parse ---------------------------------------- */

/* A runs.extra jansson cannot read (bytes that are not UTF-8, stored before
 * set_extra checked them; a hand edit) or that is no object: every figure
 * from it is its default, and the summary says the extra was unreadable
 * (show printed the default price as if the run had stored none). None
 * stored, or an object, is not unreadable. */
static void test_an_extra_that_does_not_parse_is_flagged(void **state)
{
    (void)state;
    static char *const bad[] = {
        "{\"price_per_kwh\":30,\"currency\":\"\xa3\"}",
        "{\"price_per_kwh\":30",
        "[1,2]",
        "",
    };
    struct wl_store_aggregates a;
    struct wl_agg_phase ph;
    struct wl_summary s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        plain_run(&a, &ph);
        a.run.extra_json = bad[i];
        assert_int_equal(wl_summary_compute(&a, &s), 0);
        assert_true(s.extra_unreadable);
        assert_null(s.extra);
        assert_false(s.cost.price_from_run);
        assert_float_equal(s.cost.price_per_kwh, WL_DEFAULT_PRICE_PER_KWH, EPS);
        json_t *j = wl_summary_to_json(&a, &s);
        assert_non_null(j);
        assert_true(
            json_is_true(json_object_get(json_object_get(j, "totals"), "extra_unreadable")));
        json_decref(j);
        wl_summary_free(&s);
    }
    static char *const good[] = {NULL, "{}", "{\"price_per_kwh\":30}"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        plain_run(&a, &ph);
        a.run.extra_json = good[i];
        assert_int_equal(wl_summary_compute(&a, &s), 0);
        assert_false(s.extra_unreadable);
        assert_int_equal(s.cost.price_from_run, i == 2);
        json_t *j = wl_summary_to_json(&a, &s);
        assert_non_null(j);
        assert_true(
            json_is_false(json_object_get(json_object_get(j, "totals"), "extra_unreadable")));
        json_decref(j);
        wl_summary_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_averages_leave_out_rows_without_energy,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_prefill_figures_leave_out_a_section_without_energy,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_domain_share_is_over_the_sections_where_it_is_known,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_components_without_any_energy_come_from_component_agg,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(
            test_an_unfinished_run_with_sections_without_energy_has_no_total, wl_test_store_setup,
            wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_the_span_of_an_unfinished_run_adds_only_known_sections,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test(test_an_infinite_energy_is_unknown),
        cmocka_unit_test_setup_teardown(test_an_infinite_section_energy_is_a_section_without_energy,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test(test_a_method_that_cannot_be_read_is_not_known),
        cmocka_unit_test(test_a_currency_without_a_price_keeps_the_default_currency),
        cmocka_unit_test(test_an_extra_that_does_not_parse_is_flagged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

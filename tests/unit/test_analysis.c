/* analysis/summary: every figure of a summary checked against values
 * computed by hand on a small fixture run written through the store (see
 * the comments for the arithmetic), for a finished run (precomputed
 * component rows) and an unfinished one (aggregated on the fly); the run
 * list agreeing with it; the per-token span of a run stopped between two
 * saves; runs without tokens, and runs that recorded nothing or only their
 * baseline. Decode steps and per-step averages are in
 * test_analysis_decode.c, the summary's text and JSON shapes in
 * test_analysis_text.c.
 */
#include "run_rows.h"
#include "sqlite_work.h"
#include "store_fixture.h"
#include "test_support.h"

#include "analysis/summary.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

/* The fixture (times in ms from the run's start):
 *   pre_inference  tokenize   0..100   0.5 J
 *   prefill        layers   100..300   3.0 J  (input tokens 0-2, 1 J each)
 *   decode         token 3  300..500   2.0 J
 *   decode         token 4  500..700   2.5 J
 *   decode         token 5  700..900   1.5 J
 *   post_inference detok    900..1000  0.5 J      run total 10 J in 1000 ms
 * Each output token: layer 0 = attn 0.2 J/20 ms + ffn 0.4 J/30 ms,
 *                    layer 1 = attn 0.1 J/20 ms + ffn 0.3 J/30 ms.
 * Domains: package 8 J (baseline 2 W, peak 15 W at 400 ms), dram 2 J (0.5 W). */
static void write_fixture(wl_store *s, bool finish, char *id)
{
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_INFERENCE, .model_name = "fixture", .prompt = "abc", .depth = "module"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct {
        const char *phase, *name;
        int64_t tok;
        double a, b, e;
    } secs[] = {
        {"pre_inference", "tokenize", -1, 0, 100, 0.5},
        {"prefill", "layers", -1, 100, 300, 3.0},
        {"decode", "token", 3, 300, 500, 2.0},
        {"decode", "token", 4, 500, 700, 2.5},
        {"decode", "token", 5, 700, 900, 1.5},
        {"post_inference", "detok", -1, 900, 1000, 0.5},
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
    for (int t = 0; t < 3; t++) {
        struct wl_store_token tok = {.index = t,
                                     .text = "in",
                                     .is_input = true,
                                     .start_ms = WL_STORE_UNSET,
                                     .end_ms = WL_STORE_UNSET,
                                     .energy_j = 1.0,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
    }
    const double out_e[3] = {2.0, 2.5, 1.5};
    for (int t = 3; t < 6; t++) {
        struct wl_store_token tok = {.index = t,
                                     .text = "out",
                                     .start_ms = 300 + 200.0 * (t - 3),
                                     .end_ms = 500 + 200.0 * (t - 3),
                                     .energy_j = out_e[t - 3],
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
        for (int l = 0; l < 2; l++) {
            double ea = l ? 0.1 : 0.2, ef = l ? 0.3 : 0.4;
            struct wl_store_layer_metric lm = {t, l, 50, ea + ef};
            assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
            struct wl_store_component_metric attn = wl_test_component_row(t, l, 0, "attn", 20, ea);
            struct wl_store_component_metric ffn = attn;
            ffn.component = 1;
            ffn.name = "ffn";
            ffn.dur_ms = 30;
            ffn.energy_j = ef;
            assert_int_equal(wl_store_add_component_metric(r, &attn), 0);
            assert_int_equal(wl_store_add_component_metric(r, &ffn), 0);
        }
    }
    struct wl_store_domain doms[2] = {
        {.domain = WL_DOMAIN_PACKAGE,
         .method = WL_METHOD_COUNTER,
         .source = "fake",
         .energy_j = 8,
         .avg_power_w = WL_STORE_UNSET,
         .baseline_power_w = 2,
         .peak_power_w = 15,
         .peak_t_ms = 400},
        {.domain = WL_DOMAIN_DRAM,
         .method = WL_METHOD_COUNTER,
         .source = "fake",
         .energy_j = 2,
         .avg_power_w = WL_STORE_UNSET,
         .baseline_power_w = 0.5,
         .peak_power_w = WL_STORE_UNSET,
         .peak_t_ms = WL_STORE_UNSET},
    };
    if (!finish) {
        /* An unfinished run: its writer died after this flush. */
        assert_int_equal(wl_store_run_set_domain(r, &doms[0]), 0);
        assert_int_equal(wl_store_run_set_domain(r, &doms[1]), 0);
        assert_int_equal(wl_store_flush(r), 0);
        wl_store_run_abandon(r);
        return;
    }
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 1000, 10, WL_METHOD_COUNTER);
    tot.energy_scope = "package+dram";
    tot.domains = doms;
    tot.n_domains = 2;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

static void check_breakdowns(const struct wl_summary *s)
{
    /* Phases: energy 0.5 + 3 + 6 + 0.5 = 10 J -> 5 %, 30 %, 60 %, 5 %. */
    assert_int_equal(s->n_phases, 4);
    const char *names[4] = {"pre_inference", "prefill", "decode", "post_inference"};
    const double e[4] = {0.5, 3.0, 6.0, 0.5}, d[4] = {100, 200, 600, 100};
    const double pct[4] = {5, 30, 60, 5};
    double sum_pct = 0, sum_dpct = 0;
    for (int i = 0; i < 4; i++) {
        assert_string_equal(s->phases[i].name, names[i]);
        assert_float_equal(s->phases[i].energy_j, e[i], EPS);
        assert_float_equal(s->phases[i].dur_ms, d[i], EPS);
        assert_float_equal(s->phases[i].energy_pct, pct[i], EPS);
        assert_float_equal(s->phases[i].avg_power_w, e[i] / (d[i] / 1000), EPS);
        assert_float_equal(s->phases[i].domain_pct[WL_DOMAIN_PACKAGE], 80, EPS);
        assert_float_equal(s->phases[i].domain_pct[WL_DOMAIN_DRAM], 20, EPS);
        assert_true(isnan(s->phases[i].domain_pct[WL_DOMAIN_GPU]));
        sum_pct += s->phases[i].energy_pct;
        sum_dpct += s->phases[i].dur_pct;
    }
    assert_float_equal(sum_pct, 100, EPS);
    assert_float_equal(sum_dpct, 100, EPS);
    assert_int_equal(s->phases[2].n_sections, 3);

    /* Layers per token: 0.6 J and 0.4 J, 50 ms each; 60 % / 40 %. */
    assert_int_equal(s->n_layers, 2);
    assert_int_equal(s->layers[0].n, 3);
    assert_float_equal(s->layers[0].avg_energy_j, 0.6, EPS);
    assert_float_equal(s->layers[1].avg_energy_j, 0.4, EPS);
    assert_float_equal(s->layers[0].avg_dur_ms, 50, EPS);
    assert_float_equal(s->layers[0].energy_pct + s->layers[1].energy_pct, 100, EPS);

    /* Per name: attn 6 x (0.2 | 0.1) = 0.9 J (avg 0.15), ffn 2.1 J (avg 0.35). */
    assert_int_equal(s->n_components, 2);
    assert_string_equal(s->components[0].name, "attn");
    assert_int_equal(s->components[0].n, 6);
    assert_float_equal(s->components[0].total_energy_j, 0.9, EPS);
    assert_float_equal(s->components[0].avg_energy_j, 0.15, EPS);
    assert_float_equal(s->components[0].energy_pct, 30, EPS);
    assert_float_equal(s->components[1].avg_energy_j, 0.35, EPS);
    assert_float_equal(s->components[1].avg_dur_ms, 30, EPS);
    assert_float_equal(s->components[0].dur_pct, 40, EPS); /* 120 of 300 ms */

    /* Hottest (layer, component): ffn L0 1.2, ffn L1 0.9, attn L0 0.6, attn L1 0.3. */
    assert_int_equal(s->n_hottest, 4);
    assert_string_equal(s->hottest[0].name, "ffn");
    assert_int_equal(s->hottest[0].layer, 0);
    assert_float_equal(s->hottest[0].total_energy_j, 1.2, EPS);
    assert_int_equal(s->hottest[1].layer, 1);
    assert_string_equal(s->hottest[2].name, "attn");
    assert_int_equal(s->hottest[2].layer, 0);
    assert_float_equal(s->hottest[3].total_energy_j, 0.3, EPS);

    /* Slowest: ffn 90 ms in each layer (ties by layer), then attn 60 ms. */
    assert_int_equal(s->n_slowest, 4);
    assert_string_equal(s->slowest[0].name, "ffn");
    assert_int_equal(s->slowest[0].layer, 0);
    assert_int_equal(s->slowest[1].layer, 1);
    assert_float_equal(s->slowest[2].total_dur_ms, 60, EPS);
}

static void check_efficiency(const struct wl_summary *s)
{
    const struct wl_summary_efficiency *e = &s->eff;
    assert_int_equal(e->input_tokens, 3);
    assert_int_equal(e->output_tokens, 3);
    assert_float_equal(e->j_per_token, 10.0 / 3.0, EPS);     /* 10 J / 3 output tokens */
    assert_float_equal(e->tokens_per_j, 0.3, EPS);           /* 3 / 10 J */
    assert_float_equal(e->prefill_j_per_in_token, 1.0, EPS); /* 3 J / 3 */
    assert_float_equal(e->decode_j_per_out_token, 2.0, EPS); /* 6 J / 3 */
    assert_float_equal(e->out_in_energy_ratio, 2.0, EPS);    /* 2 / 1 */
    assert_float_equal(e->tokens_per_s, 5.0, EPS);           /* 3 / 0.6 s */
    assert_float_equal(e->prefill_tokens_per_s, 15.0, EPS);  /* 3 / 0.2 s */
    assert_float_equal(e->ttft_ms, 500, EPS);                /* token 3 ends at 500 */
    assert_float_equal(e->mean_itl_ms, 200, EPS);            /* (900 - 500) / 2 */
    assert_float_equal(e->p50_itl_ms, 200, EPS);
    assert_float_equal(e->p90_itl_ms, 200, EPS);
    assert_float_equal(e->edp_js, 10.0, EPS);          /* 10 J x 1 s */
    assert_float_equal(e->edp_per_token_js, 0.4, EPS); /* (0.4 + 0.5 + 0.3) / 3 */
    assert_float_equal(e->prefill_edp_js, 0.6, EPS);   /* 3 J x 0.2 s */
    assert_float_equal(e->decode_edp_js, 3.6, EPS);    /* 6 J x 0.6 s */
}

static void check_domains(const struct wl_summary *s)
{
    assert_int_equal(s->n_domains, 2);
    const struct wl_summary_domain *pkg = &s->domains[0], *dram = &s->domains[1];
    if (pkg->domain != WL_DOMAIN_PACKAGE) {
        const struct wl_summary_domain *t = pkg;
        pkg = dram;
        dram = t;
    }
    assert_float_equal(pkg->pct, 80, EPS);
    assert_float_equal(dram->pct, 20, EPS);
    assert_float_equal(pkg->pct + dram->pct, 100, EPS);
    assert_float_equal(pkg->avg_power_w, 8, EPS); /* 8 J over 1 s */
    assert_float_equal(pkg->peak_power_w, 15, EPS);
    assert_float_equal(pkg->peak_t_ms, 400, EPS);
    assert_float_equal(pkg->baseline_energy_j, 2, EPS);
    assert_float_equal(pkg->dynamic_energy_j, 6, EPS);
    assert_float_equal(dram->dynamic_energy_j, 1.5, EPS);
    assert_float_equal(s->baseline_power_w, 2.5, EPS);
    assert_float_equal(s->dynamic_energy_j, 7.5, EPS);
}

static void test_summary_of_a_finished_run(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_fixture(f->s, true, id);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_float_equal(s.energy_j, 10, EPS);
    assert_false(s.energy_from_phases);
    assert_float_equal(s.covered_energy_pct, 100, EPS);
    assert_float_equal(s.avg_power_w, 10, EPS);
    check_breakdowns(&s);
    check_efficiency(&s);
    check_domains(&s);
    assert_int_equal(a.span.last_token, -1); /* finished: no span */
    assert_int_equal(s.eff.span_last_token, -1);

    json_t *j = wl_summary_to_json(&a, &s);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "run"), "id")), id);
    json_t *ef = json_object_get(j, "efficiency");
    assert_float_equal(json_real_value(json_object_get(ef, "j_per_token")), 10.0 / 3.0, EPS);
    assert_int_equal(json_array_size(json_object_get(j, "phases")), 4);
    assert_int_equal(json_array_size(json_object_get(j, "hottest_components")), 4);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "totals"), "energy_method")),
        "counter");
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* A crashed run has no totals and no precomputed component rows: the
 * breakdowns come from the rows, the total from the phases. */
static void test_summary_of_an_unfinished_run(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_fixture(f->s, false, id);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(s.energy_from_phases);
    assert_float_equal(s.energy_j, 10, EPS);
    assert_float_equal(s.duration_ms, 1000, EPS); /* first start to last end */
    check_breakdowns(&s);
    check_efficiency(&s);
    check_domains(&s);
    assert_int_equal(a.span.last_token, 5);      /* both tables reach token 5 ... */
    assert_int_equal(s.eff.span_last_token, -1); /* ... so the whole run counts */
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* The run list derives an unfinished run's figures from the same rows as the
 * summary, so `runs` and `show` agree; it marks them partial, and sorts by
 * them. */
static void test_list_agrees_with_the_summary_of_an_unfinished_run(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char done_id[37], open_id[37], small_id[37];
    write_fixture(f->s, true, done_id);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "true"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, small_id), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 5000, 6, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    write_fixture(f->s, false, open_id); /* left running */

    struct wl_store_aggregates a;
    struct wl_summary s;
    assert_int_equal(wl_store_summary(f->s, open_id, &a), 0);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(s.partial);

    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_ENERGY, 0, 0, &l), 0);
    assert_int_equal(l.n, 3);
    /* 10 J (newest first on a tie), 10 J, 6 J: the unfinished run is not last */
    assert_string_equal(l.rows[0].id, open_id);
    assert_string_equal(l.rows[1].id, done_id);
    assert_string_equal(l.rows[2].id, small_id);
    const struct wl_run_row *o = &l.rows[0];
    assert_true(o->partial);
    assert_int_equal(o->status, WL_RUN_RUNNING);
    assert_float_equal(o->energy_j, s.energy_j, EPS);       /* 10 J: sum of the sections */
    assert_float_equal(o->duration_ms, s.duration_ms, EPS); /* 1000 ms: first start to last end */
    assert_true(o->has_energy_method && s.has_energy_method);
    assert_int_equal(o->energy_method, s.energy_method);
    assert_int_equal(o->input_tokens, s.eff.input_tokens);   /* 3 */
    assert_int_equal(o->output_tokens, s.eff.output_tokens); /* 3 */
    assert_float_equal(o->j_per_token, s.eff.j_per_token, EPS);
    assert_false(l.rows[1].partial); /* finished runs: what their writer stored */
    assert_false(l.rows[2].partial);
    assert_int_equal(l.rows[2].input_tokens, -1);
    wl_run_list_free(&l);

    json_t *j = wl_summary_to_json(&a, &s);
    assert_true(json_is_true(json_object_get(json_object_get(j, "totals"), "partial")));
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* A finished run whose writer stored no total energy or duration (another
 * writer, an edited file): `runs` and `show` give the same figures. Only
 * a run that never finished has its figures summed from its rows; a
 * finished one keeps what its writer stored, n/a here (the summary summed
 * its phases, the list did not). */
static void test_list_agrees_with_the_summary_of_a_finished_run_without_totals(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "no-totals"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "decode",
                                   .name = "token",
                                   .token_index = 1,
                                   .start_ms = 0,
                                   .end_ms = 100,
                                   .energy_j = 2,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    for (int t = 0; t < 2; t++) {
        struct wl_store_token tok = {.index = t,
                                     .text = "x",
                                     .is_input = t == 0,
                                     .start_ms = 0,
                                     .end_ms = 100,
                                     .energy_j = 1,
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
    }
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = WL_STORE_UNSET,
                                .energy_j = WL_STORE_UNSET,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);

    struct wl_store_aggregates a;
    struct wl_summary s;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 1);
    const struct wl_run_row *o = &l.rows[0];
    assert_false(o->partial || s.partial);
    assert_false(s.energy_from_phases);
    assert_true(isnan(o->energy_j) && isnan(s.energy_j));
    assert_true(isnan(o->duration_ms) && isnan(s.duration_ms));
    assert_true(isnan(o->j_per_token) && isnan(s.eff.j_per_token));
    assert_int_equal(o->output_tokens, s.eff.output_tokens); /* counted when it finished: 1 */
    /* the phase table keeps its sums */
    assert_int_equal(s.n_phases, 1);
    assert_float_equal(s.phases[0].energy_j, 2, EPS);
    wl_run_list_free(&l);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* An unfinished run whose writer died between two commits, so that its
 * decode sections and its output token rows stop at different tokens
 * (wl_test_store_make_parted_run: output tokens 3, 4, ... of 2.0, 2.5,
 * 1.5, 3.0, 4.0 J, 200 ms each, after 0.5 J of pre_inference and 3 J of
 * prefill). Its per-token figures pair energy and time with the tokens
 * both tables hold, never the sections of 5 tokens with the rows of 3; the
 * phases keep every section; `runs` gives the same J/token. */
static void test_partial_run_per_token_figures_use_one_span(void **state)
{
    struct wl_test_store_fixture *f = *state;
    static const struct {
        int n_sec, n_rows;
        int64_t last, beyond_sec, beyond_rows, n_tok;
        double energy_j, decode_j, decode_ms, phase_decode_j;
    } cases[] = {
        /* sections of tokens 3-7, rows of 3-5: up to token 5, 0.5+3+6 J */
        {5, 3, 5, 2, 0, 3, 9.5, 6.0, 600, 13.0},
        /* the reverse (rows ahead): up to token 4, 0.5+3+4.5 J */
        {2, 3, 4, 0, 1, 2, 8.0, 4.5, 400, 4.5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char id[37];
        wl_test_store_make_parted_run(f->s, cases[i].n_sec, cases[i].n_rows, id);
        struct wl_store_aggregates a;
        assert_int_equal(wl_store_summary(f->s, id, &a), 0);
        assert_int_equal(a.span.last_token, cases[i].last);
        struct wl_summary s;
        assert_int_equal(wl_summary_compute(&a, &s), 0);
        const struct wl_summary_efficiency *e = &s.eff;
        assert_true(s.partial);
        assert_int_equal(e->output_tokens, cases[i].n_rows); /* every saved row still counts */
        const double n = (double)cases[i].n_tok;
        assert_float_equal(e->j_per_token, cases[i].energy_j / n, EPS);
        assert_float_equal(e->tokens_per_j, n / cases[i].energy_j, EPS);
        /* decode steps: the span's tokens after token 3 (2.0 J in 200 ms),
         * whose row is the first */
        assert_int_equal(e->decode_steps, cases[i].n_tok - 1);
        assert_int_equal(e->decode_tokens, cases[i].n_tok - 1);
        const double step_j = (cases[i].decode_j - 2.0) / (n - 1);
        assert_float_equal(e->decode_j_per_out_token, step_j, EPS);
        assert_float_equal(e->tokens_per_s, (n - 1) / ((cases[i].decode_ms - 200) / 1000), EPS);
        assert_float_equal(e->out_in_energy_ratio, step_j / 1.0, EPS);
        assert_float_equal(e->prefill_j_per_in_token, 1.0, EPS); /* prefill: all saved */
        assert_float_equal(s.cost.cost_per_1k_tokens,
                           cases[i].energy_j / 3.6e6 * s.cost.price_per_kwh * 1000 / n, EPS);
        assert_int_equal(e->span_last_token, cases[i].last);
        assert_int_equal(e->span_output_tokens, cases[i].n_tok);
        assert_int_equal(e->span_sections_beyond, cases[i].beyond_sec);
        assert_int_equal(e->span_rows_beyond, cases[i].beyond_rows);
        assert_float_equal(e->span_energy_j, cases[i].energy_j, EPS);
        /* the phases table keeps every saved section */
        const struct wl_summary_phase *dec = &s.phases[2];
        assert_string_equal(dec->name, "decode");
        assert_float_equal(dec->energy_j, cases[i].phase_decode_j, EPS);

        json_t *j = wl_summary_to_json(&a, &s);
        json_t *sp = json_object_get(json_object_get(j, "efficiency"), "per_token_span");
        assert_true(json_is_object(sp));
        assert_int_equal(json_integer_value(json_object_get(sp, "last_token_index")),
                         cases[i].last);
        assert_int_equal(json_integer_value(json_object_get(sp, "output_tokens")), cases[i].n_tok);
        assert_float_equal(json_real_value(json_object_get(sp, "decode_dur_ms")),
                           cases[i].decode_ms, EPS);
        json_decref(j);

        struct wl_run_list l;
        assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 1, 0, &l), 0);
        assert_string_equal(l.rows[0].id, id);
        assert_float_equal(l.rows[0].j_per_token, e->j_per_token, EPS);
        wl_run_list_free(&l);
        wl_summary_free(&s);
        wl_store_aggregates_free(&a);
        /* the next case is the newest (this one may be unfinished, with
         * this process as its live writer) */
        assert_int_equal(wl_store_delete_run(f->s, id, true), 0);
    }

    /* tables that agree need no span: the figures cover the whole run */
    char id[37];
    wl_test_store_make_parted_run(f->s, 3, 3, id);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(s.eff.span_last_token, -1);
    assert_float_equal(s.eff.j_per_token, 9.5 / 3, EPS);
    json_t *j = wl_summary_to_json(&a, &s);
    assert_true(json_is_null(json_object_get(json_object_get(j, "efficiency"), "per_token_span")));
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* Writes a partial run of n_tok decode tokens, two sections each, and rows
 * for the first 5/6 of them (a run stopped between two saves) into a new
 * store at path, then reads its summary and the list from another open of
 * that store; the SQLite work those two took into *work
 * (wl_test_sqlite_work: VM steps, which a busy machine does not change),
 * the summary and the list into *a and *l. */
static void summarise_partial_run(const char *path, int n_tok, uint64_t *work,
                                  struct wl_store_aggregates *a, struct wl_run_list *l)
{
    const int n_rows = n_tok / 6 * 5;
    wl_store *s = wl_test_store_open(path);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "long"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    for (int t = 0; t < n_tok; t++) {
        for (int k = 0; k < 2; k++) {
            struct wl_store_section sec = {.phase = "decode",
                                           .name = k ? "sampling" : "layers",
                                           .token_index = t,
                                           .start_ms = 10.0 * t + 5 * k,
                                           .end_ms = 10.0 * t + 5 * k + 5,
                                           .energy_j = 0.01,
                                           .method = WL_METHOD_COUNTER};
            assert_int_equal(wl_store_add_section(r, &sec), 0);
        }
    }
    for (int t = 0; t < n_rows; t++) {
        struct wl_store_token tok = {.index = t,
                                     .start_ms = 10.0 * t,
                                     .end_ms = 10.0 * t + 10,
                                     .energy_j = 0.02,
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
    }
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r);
    wl_store_close(s);

    assert_int_equal(wl_test_sqlite_work_begin(), SQLITE_OK);
    s = wl_test_store_open(path);
    const uint64_t before = wl_test_sqlite_work();
    assert_int_equal(wl_store_summary(s, id, a), 0);
    assert_int_equal(wl_store_list_runs(s, NULL, WL_SORT_JPT, 0, 0, l), 0);
    *work = wl_test_sqlite_work() - before;
    wl_store_close(s);
    wl_test_sqlite_work_end();
    assert_int_equal(a->span.last_token, n_rows - 1);
    assert_int_equal(a->span.sections_beyond, 2 * (n_tok - n_rows));
    assert_float_equal(a->span.energy_j, 0.02 * n_rows, 1e-6);
    assert_int_equal(l->n, 1);
    assert_float_equal(l->rows[0].j_per_token, 0.02, 1e-9);
}

/* The span is found in a few scans of the run's rows, not one scan per
 * row: summarising and listing a partial run twice as long takes about
 * twice the work, where a subquery evaluated once per row of the scan
 * around it (the list's span without its OFFSET 0 fences) took four times
 * as much, and minutes for 12000 sections (10^8 row visits). Work is
 * counted in SQLite VM steps, not time: the machine is shared. */
static void test_partial_span_of_a_long_run_takes_linear_work(void **state)
{
    struct wl_test_store_fixture *f = *state;
    enum { N_TOK = 1200 };
    uint64_t work[2];
    for (int i = 0; i < 2; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/long%d.db", f->dir, i);
        struct wl_store_aggregates a;
        struct wl_run_list l;
        summarise_partial_run(path, N_TOK << i, &work[i], &a, &l);
        wl_run_list_free(&l);
        wl_store_aggregates_free(&a);
    }
    print_message("summary and list: %llu VM steps for %d tokens, %llu for %d\n",
                  (unsigned long long)work[0], N_TOK, (unsigned long long)work[1], 2 * N_TOK);
    assert_true(work[0] > 0);
    if (work[1] >= 3 * work[0])
        fail_msg("twice the run took %.2f times the work (%llu VM steps, not about %llu)",
                 (double)work[1] / (double)work[0], (unsigned long long)work[1],
                 2 * (unsigned long long)work[0]);
}

/* A measure run: no tokens, no sections. Token figures are unknown, not 0. */
static void test_summary_without_tokens_leaves_token_figures_unknown(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 2000, 6, WL_METHOD_MODEL_ESTIMATE);
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_float_equal(s.avg_power_w, 3, EPS);
    assert_float_equal(s.eff.edp_js, 12, EPS);
    assert_true(isnan(s.eff.j_per_token));
    assert_true(isnan(s.eff.ttft_ms));
    assert_true(isnan(s.eff.tokens_per_s));
    assert_true(isnan(s.dynamic_energy_j)); /* no baseline measured */
    assert_int_equal(s.n_phases, 0);
    json_t *j = wl_summary_to_json(&a, &s);
    assert_true(json_is_null(json_object_get(json_object_get(j, "efficiency"), "j_per_token")));
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* A measured command after a 3 s baseline: stored times count from the
 * sampler's origin, so its section starts at 3000 ms and its peak is stored
 * at 3400 ms; the summary shows the peak 400 ms into the run (it used to
 * say 3.4 s, past the 500 ms run's end). */
static void test_peak_time_counts_from_the_run_start(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "work"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "measure",
                                   .name = "command",
                                   .token_index = -1,
                                   .start_ms = 3000,
                                   .end_ms = 3500,
                                   .energy_j = 10,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    struct wl_store_domain dom = {.domain = WL_DOMAIN_PACKAGE,
                                  .method = WL_METHOD_COUNTER,
                                  .source = "fake",
                                  .energy_j = 10,
                                  .avg_power_w = 20,
                                  .baseline_power_w = 5,
                                  .peak_power_w = 30,
                                  .peak_t_ms = 3400};
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 500, 10, WL_METHOD_COUNTER);
    tot.domains = &dom;
    tot.n_domains = 1;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_float_equal(s.peak_power_w, 30, EPS);
    assert_float_equal(s.peak_t_ms, 400, EPS);
    assert_int_equal(s.n_domains, 1);
    assert_float_equal(s.domains[0].peak_t_ms, 400, EPS);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* ---- baseline and runs that recorded nothing ----------------------------- */

/* A run cancelled during its idle baseline: its writer stored 0 ms and
 * 0 J, which are no figures; the summary says n/a and why there is no
 * dynamic energy, and the list agrees and sorts it with the runs that have
 * no figures (it sorted as the least energy). */
static void test_a_run_that_recorded_nothing_has_no_figures(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char done_id[37], none_id[37];
    write_fixture(f->s, true, done_id); /* 10 J */
    wl_test_store_make_unrecorded_run(f->s, 3, false, none_id); /* 3 baseline samples */

    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, none_id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(s.nothing_recorded);
    assert_true(isnan(s.energy_j));
    assert_true(isnan(s.duration_ms));
    assert_true(isnan(s.eff.edp_js));
    assert_true(isnan(s.cost.cost));
    assert_int_equal(s.n_domains, 1);
    assert_true(isnan(s.domains[0].energy_j));
    assert_true(isnan(s.dynamic_energy_j));
    assert_int_equal(s.baseline, WL_SUMMARY_BASELINE_CUT_SHORT);
    json_t *j = wl_summary_to_json(&a, &s);
    json_t *tj = json_object_get(j, "totals");
    assert_true(json_is_true(json_object_get(tj, "nothing_recorded")));
    assert_string_equal(json_string_value(json_object_get(tj, "baseline_status")), "cut_short");
    assert_true(json_is_null(json_object_get(tj, "energy_j")));
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);

    /* the finished fixture recorded something */
    assert_int_equal(wl_store_summary(f->s, done_id, &a), 0);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_false(s.nothing_recorded);
    assert_int_equal(s.baseline, WL_SUMMARY_BASELINE_STORED);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);

    /* the store's predicate (the list's rule, which the CSV export asks)
     * says the same of both */
    bool nothing = false;
    assert_int_equal(wl_store_recorded_nothing(f->s, none_id, &nothing), 0);
    assert_true(nothing);
    assert_int_equal(wl_store_recorded_nothing(f->s, done_id, &nothing), 0);
    assert_false(nothing);
    assert_int_equal(
        wl_store_recorded_nothing(f->s, "00000000-0000-4000-8000-000000000000", &nothing),
        WL_ENOENT);

    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_ENERGY, 0, 0, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.rows[0].id, done_id);
    assert_string_equal(l.rows[1].id, none_id); /* last: no energy, not the least */
    assert_true(isnan(l.rows[1].energy_j));
    assert_true(isnan(l.rows[1].duration_ms));
    wl_run_list_free(&l);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DURATION, 0, 0, &l), 0);
    assert_string_equal(l.rows[1].id, none_id);
    wl_run_list_free(&l);
}

/* A run killed after its baseline has no stored baseline (domains are
 * written at the end), but its baseline samples give one: the slope of
 * their counters. Without enough samples, or with none, the summary says
 * which. */
static void test_baseline_of_an_unfinished_run_comes_from_its_samples(void **state)
{
    struct wl_test_store_fixture *f = *state;
    static const struct {
        int n_samples;
        bool finish;
        enum wl_summary_baseline want;
    } cases[] = {
        {3, false, WL_SUMMARY_BASELINE_SAMPLES},
        {1, false, WL_SUMMARY_BASELINE_NOT_SAVED},
        /* unfinished with no baseline samples: none taken, or not written
         * yet (old: "not taken", said of a measure killed after its baseline) */
        {0, false, WL_SUMMARY_BASELINE_NONE_SAVED},
        {3, true, WL_SUMMARY_BASELINE_NO_READING}, /* finished: it read nothing */
        {0, true, WL_SUMMARY_BASELINE_NOT_TAKEN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "killed"};
        wl_store_run *r = NULL;
        char id[37];
        assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
        wl_test_store_add_baseline_samples(r, cases[i].n_samples);
        struct wl_store_section sec = {.phase = "prefill",
                                       .name = "layers",
                                       .token_index = -1,
                                       .start_ms = 300,
                                       .end_ms = 500,
                                       .energy_j = 4,
                                       .method = WL_METHOD_COUNTER};
        assert_int_equal(wl_store_add_section(r, &sec), 0);
        if (cases[i].finish) {
            struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 200, 4, WL_METHOD_COUNTER);
            assert_int_equal(wl_store_run_finish(r, &tot), 0);
        } else {
            assert_int_equal(wl_store_flush(r), 0);
            wl_store_run_abandon(r);
        }
        struct wl_store_aggregates a;
        assert_int_equal(wl_store_summary(f->s, id, &a), 0);
        struct wl_summary s;
        assert_int_equal(wl_summary_compute(&a, &s), 0);
        if (s.baseline != cases[i].want)
            fail_msg("case %zu: baseline %s, want %s", i, wl_summary_baseline_key(s.baseline),
                     wl_summary_baseline_key(cases[i].want));
        if (cases[i].want == WL_SUMMARY_BASELINE_SAMPLES) {
            assert_float_equal(s.baseline_power_w, 10, EPS);
            assert_float_equal(s.dynamic_energy_j, 4 - 10 * 0.2, EPS); /* 200 ms of prefill */
        } else {
            assert_true(isnan(s.baseline_power_w));
            assert_true(isnan(s.dynamic_energy_j));
        }
        wl_summary_free(&s);
        wl_store_aggregates_free(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_summary_of_a_finished_run, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_summary_of_an_unfinished_run, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_list_agrees_with_the_summary_of_an_unfinished_run,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(
            test_list_agrees_with_the_summary_of_a_finished_run_without_totals, wl_test_store_setup,
            wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_peak_time_counts_from_the_run_start,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_partial_run_per_token_figures_use_one_span,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_partial_span_of_a_long_run_takes_linear_work,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_summary_without_tokens_leaves_token_figures_unknown,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_run_that_recorded_nothing_has_no_figures,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_baseline_of_an_unfinished_run_comes_from_its_samples,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

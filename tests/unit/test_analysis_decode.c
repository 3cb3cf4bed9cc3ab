/* analysis/summary: the decode figures count decode steps (the first
 * output token is sampled from the prefill's logits, with no forward pass
 * of its own), a batch's rounds after the first and, per sequence, the
 * rounds with energy; latency percentiles; layer and component averages
 * per decode step and per input token of a prompt batch. Most use
 * aggregates built by hand (the summary is a pure function of them). The
 * rest of the summary is in test_analysis.c.
 */
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "analysis/summary.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

/* Latency percentiles, computed from aggregates built by hand (the summary
 * is a pure function of them). Output tokens end at 10, 20, 40, 80, 160 ms:
 * gaps 10, 20, 40, 80; p50 = 20 + 0.5 x 20 = 30; p90 = 40 + 0.7 x 40 = 68. */
static void test_latency_percentiles(void **state)
{
    (void)state;
    struct wl_agg_token toks[5];
    const double ends[5] = {10, 20, 40, 80, 160};
    for (int i = 0; i < 5; i++)
        toks[i] =
            (struct wl_agg_token){.index = i + 2, .end_ms = ends[i], .dur_ms = 5, .energy_j = 1};
    struct wl_store_aggregates a;
    memset(&a, 0, sizeof a);
    a.run.row.energy_j = WL_STORE_UNSET;
    a.run.row.duration_ms = 200;
    a.run.row.input_tokens = a.run.row.output_tokens = -1;
    a.tokens.n_output = 5;
    a.tokens.first_output_end_ms = 10;
    a.tokens.last_output_end_ms = 160;
    a.output_tokens = toks;
    a.n_output_tokens = 5;
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_float_equal(s.eff.mean_itl_ms, 37.5, EPS);
    assert_float_equal(s.eff.p50_itl_ms, 30, EPS);
    assert_float_equal(s.eff.p90_itl_ms, 68, EPS);
    assert_float_equal(s.eff.ttft_ms, 10, EPS); /* no sections: from the run's start */
    assert_true(isnan(s.energy_j));
    assert_true(isnan(s.eff.j_per_token));
    json_t *j = wl_summary_to_json(&a, &s);
    assert_int_equal(json_array_size(json_object_get(j, "output_tokens")), 5);
    json_decref(j);
    wl_summary_free(&s);
}

/* ---- decode steps (token 0 has no forward pass of its own) -------------- */

/* Aggregates of a run by hand (times in ms): prefill 100..300, 3 J over 3
 * input tokens; output rows (index, end, dur, energy, n_seq) as given,
 * tiling the decode phase from 300; run total 10 J over 1000 ms. */
static void decode_fixture(struct wl_store_aggregates *a, struct wl_agg_phase *ph,
                           struct wl_agg_token *toks, size_t n, const char *extra)
{
    wl_test_agg_finished_run(a, 10, 1000);
    a->run.extra_json = (char *)extra;
    ph[0] = (struct wl_agg_phase){.name = "prefill",
                                  .n_sections = 1,
                                  .start_ms = 100,
                                  .end_ms = 300,
                                  .dur_ms = 200,
                                  .energy_j = 3};
    ph[1] = (struct wl_agg_phase){.name = "decode", .n_sections = (int64_t)n, .start_ms = 300};
    a->phases = ph;
    a->n_phases = 2;
    a->tokens.n_input = 3;
    a->tokens.n_output = (int64_t)n;
    a->tokens.first_output_end_ms = toks[0].end_ms;
    a->tokens.last_output_end_ms = toks[n - 1].end_ms;
    for (size_t i = 0; i < n; i++) {
        ph[1].dur_ms += toks[i].dur_ms;
        ph[1].energy_j += toks[i].energy_j;
        ph[1].end_ms = toks[i].end_ms;
        a->tokens.n_generated += toks[i].n_seq;
        a->tokens.output_energy_j += toks[i].energy_j;
    }
    a->output_tokens = toks;
    a->n_output_tokens = n;
}

/* Token 3 (sampling only: 10 mJ in 1 ms) is sampled from the prefill's
 * logits; tokens 4 and 5 are the decode steps, 2 J in 200 ms each. The
 * decode figures count those two: 2 J per token, 5 tok/s = 1 / mean ITL
 * (the old ones counted 3 tokens: 1.34 J and 7.48 tok/s). */
static void test_decode_figures_count_decode_steps(void **state)
{
    (void)state;
    struct wl_agg_token toks[3] = {{3, 301, 1, 0.01, 1}, {4, 501, 200, 2, 1}, {5, 701, 200, 2, 1}};
    struct wl_agg_phase ph[2];
    struct wl_store_aggregates a;
    decode_fixture(&a, ph, toks, 3, NULL);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    const struct wl_summary_efficiency *e = &s.eff;
    assert_int_equal(e->output_tokens, 3);
    assert_int_equal(e->decode_steps, 2);
    assert_int_equal(e->decode_tokens, 2);
    assert_float_equal(e->decode_j_per_out_token, 2.0, EPS);
    assert_float_equal(e->tokens_per_s, 5.0, EPS);
    assert_float_equal(e->tokens_per_s, 1000.0 / e->mean_itl_ms, EPS);
    assert_float_equal(e->out_in_energy_ratio, 2.0, EPS); /* 2 J / 1 J per input token */
    assert_float_equal(e->edp_per_token_js, 0.4, EPS);    /* 2 J x 0.2 s, for each step */
    assert_float_equal(e->j_per_token, 10.0 / 3.0, EPS);  /* every output token counts */
    assert_float_equal(e->tokens_per_j, 0.3, EPS);
    assert_float_equal(e->decode_energy_j, 4.01, EPS); /* the phase keeps token 3 */
    json_t *j = wl_summary_to_json(&a, &s);
    json_t *ef = json_object_get(j, "efficiency");
    assert_int_equal(json_integer_value(json_object_get(ef, "decode_steps")), 2);
    assert_int_equal(json_integer_value(json_object_get(ef, "decode_tokens")), 2);
    assert_float_equal(json_real_value(json_object_get(ef, "tokens_per_s")), 5.0, EPS);
    assert_float_equal(json_real_value(json_object_get(ef, "decode_j_per_output_token")), 2, EPS);
    json_decref(j);
    wl_summary_free(&s);

    /* one output token: no decode step, so no decode figures (they read
     * 10^3 tok/s and 10 mJ per token before) */
    decode_fixture(&a, ph, toks, 1, NULL);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(s.eff.decode_steps, 0);
    assert_true(isnan(s.eff.decode_j_per_out_token));
    assert_true(isnan(s.eff.tokens_per_s));
    assert_true(isnan(s.eff.out_in_energy_ratio));
    assert_true(isnan(s.eff.edp_per_token_js));
    assert_float_equal(s.eff.j_per_token, 10, EPS);
    j = wl_summary_to_json(&a, &s);
    ef = json_object_get(j, "efficiency");
    assert_true(json_is_null(json_object_get(ef, "tokens_per_s")));
    assert_true(json_is_null(json_object_get(ef, "decode_j_per_output_token")));
    json_decref(j);
    wl_summary_free(&s);
}

/* A batch of 3: round 0 (3 tokens, sampled from the prefill's logits, 30 mJ
 * in 1 ms), then rounds of 3 and 2 tokens, 3 J in 300 ms each. Decode: 5
 * tokens in 2 steps, 6 J in 600 ms; a sequence's decode J per token leaves
 * out its share of round 0 the same way. */
static void test_decode_figures_of_a_batch_count_rounds_after_the_first(void **state)
{
    (void)state;
    struct wl_agg_token toks[3] = {{3, 301, 1, 0.03, 3}, {4, 601, 300, 3, 3}, {5, 901, 300, 3, 2}};
    struct wl_agg_phase ph[2];
    struct wl_store_aggregates a;
    /* sequence 0 ran in every round: 10 mJ + 1 J + 1.5 J */
    decode_fixture(&a, ph, toks, 3,
                   "{\"sequences\":[{\"seq\":0,\"prompt_tokens\":1,\"output_tokens\":3,"
                   "\"prefill_energy_j\":1,\"decode_energy_j\":2.51},"
                   "{\"seq\":1,\"prompt_tokens\":1,\"output_tokens\":1,"
                   "\"prefill_energy_j\":1,\"decode_energy_j\":0.01}]}");
    a.run.n_seq = 3;
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    const struct wl_summary_efficiency *e = &s.eff;
    assert_int_equal(e->output_tokens, 8);
    assert_int_equal(e->decode_steps, 2);
    assert_int_equal(e->decode_tokens, 5);
    assert_float_equal(e->decode_j_per_out_token, 6.0 / 5, EPS);
    assert_float_equal(e->tokens_per_s, 5 / 0.6, EPS);
    assert_float_equal(e->edp_per_token_js, (3 * 0.3 * 2) / 5, EPS);
    assert_int_equal(s.batch.n_seqs, 2);
    assert_float_equal(s.batch.seqs[0].decode_j_per_token, (2.51 - 0.01) / 2, EPS);
    assert_true(isnan(s.batch.seqs[1].decode_j_per_token)); /* round 0 only */
    /* show --json's output rows say how many tokens each round produced */
    json_t *j = wl_summary_to_json(&a, &s);
    json_t *rows = json_object_get(j, "output_tokens");
    assert_int_equal(json_array_size(rows), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "n_seq")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 2), "n_seq")), 2);
    json_decref(j);
    wl_summary_free(&s);
}

/* The same batch with round 1's energy unknown (a failed sensor read): the
 * recorder stores no decode energy for the sequences that ran in it (a sum
 * needs every round), and their decode J per token is the mean of their
 * shares of the decode rounds with energy, as the run's decode J per output
 * token uses the rows with energy. Old: n/a for every sequence, with no
 * reason given, beside a run-level figure from the known rows. */
static void test_a_sequence_decode_j_per_token_uses_its_rounds_with_energy(void **state)
{
    (void)state;
    struct wl_agg_token toks[3] = {
        {3, 301, 1, 0.03, 3}, {4, 601, 300, NAN, 3}, {5, 901, 300, 3, 2}};
    struct wl_agg_phase ph[2];
    struct wl_store_aggregates a;
    static const char seqs[] = "{\"sequences\":[{\"seq\":0,\"prompt_tokens\":1,\"output_tokens\":3,"
                               "\"prefill_energy_j\":1,\"decode_energy_j\":null},"
                               "{\"seq\":1,\"prompt_tokens\":1,\"output_tokens\":3,"
                               "\"prefill_energy_j\":1,\"decode_energy_j\":null},"
                               "{\"seq\":2,\"prompt_tokens\":1,\"output_tokens\":2,"
                               "\"prefill_energy_j\":1,\"decode_energy_j\":null}]}";
    decode_fixture(&a, ph, toks, 3, seqs);
    a.run.n_seq = 3;
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(s.batch.n_seqs, 3);
    for (int i = 0; i < 3; i++) {
        const struct wl_summary_sequence *q = &s.batch.seqs[i];
        assert_true(isnan(q->decode_energy_j)); /* the sum stays unknown */
        assert_int_equal(q->decode_rounds_no_energy, 1);
    }
    /* counted once for `show`'s notes */
    assert_int_equal(s.batch.n_decode_no_energy, 3);
    assert_int_equal(s.batch.n_rounds_no_energy, 3);
    assert_int_equal(s.batch.n_prefill_no_energy, 0);
    /* sequences 0 and 1: round 2's 3 J over its 2 sequences */
    assert_float_equal(s.batch.seqs[0].decode_j_per_token, 1.5, EPS);
    assert_float_equal(s.batch.seqs[1].decode_j_per_token, 1.5, EPS);
    /* sequence 2 decoded only in round 1 */
    assert_true(isnan(s.batch.seqs[2].decode_j_per_token));
    json_t *j = wl_summary_to_json(&a, &s);
    json_t *q0 = json_array_get(json_object_get(json_object_get(j, "batch"), "sequences"), 0);
    assert_true(json_is_null(json_object_get(q0, "decode_energy_j")));
    assert_float_equal(json_real_value(json_object_get(q0, "decode_j_per_token")), 1.5, EPS);
    assert_int_equal(json_integer_value(json_object_get(q0, "decode_rounds_without_energy")), 1);
    json_decref(j);
    wl_summary_free(&s);

    /* every round known: the stored sums, no round without energy */
    toks[1].energy_j = 3;
    decode_fixture(&a, ph, toks, 3,
                   "{\"sequences\":[{\"seq\":0,\"prompt_tokens\":1,\"output_tokens\":3,"
                   "\"prefill_energy_j\":1,\"decode_energy_j\":2.51},"
                   "{\"seq\":1,\"prompt_tokens\":1,\"output_tokens\":3,"
                   "\"prefill_energy_j\":1,\"decode_energy_j\":2.51},"
                   "{\"seq\":2,\"prompt_tokens\":1,\"output_tokens\":2,"
                   "\"prefill_energy_j\":1,\"decode_energy_j\":1.01}]}");
    a.run.n_seq = 3;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(s.batch.seqs[0].decode_rounds_no_energy, 0);
    assert_int_equal(s.batch.n_decode_no_energy + s.batch.n_rounds_no_energy, 0);
    assert_float_equal(s.batch.seqs[0].decode_j_per_token, 1.25, EPS);
    assert_float_equal(s.batch.seqs[2].decode_j_per_token, 1, EPS);
    wl_summary_free(&s);

    /* rows that are not these sequences' rounds (another writer, an edit):
     * nothing is taken from them */
    toks[1].energy_j = NAN;
    toks[2].n_seq = 3;
    decode_fixture(&a, ph, toks, 3, seqs);
    a.run.n_seq = 3;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(s.batch.seqs[0].decode_rounds_no_energy, -1);
    assert_int_equal(s.batch.n_decode_no_energy, 3); /* rounds not known: no note on them */
    assert_int_equal(s.batch.n_rounds_no_energy, 0);
    assert_true(isnan(s.batch.seqs[0].decode_j_per_token));
    j = wl_summary_to_json(&a, &s);
    q0 = json_array_get(json_object_get(json_object_get(j, "batch"), "sequences"), 0);
    assert_true(json_is_null(json_object_get(q0, "decode_rounds_without_energy")));
    json_decref(j);
    wl_summary_free(&s);
}

/* ---- layers and components: per decode step, per input token ------------ */

/* Input tokens 0-3 in two prompt batches (rows under tokens 1 and 3: 40 ms,
 * 0.4 J in layer 0 and 20 ms, 0.2 J in layer 1 each), output token 4
 * (sampling only, no rows), decode steps 5 and 6 (10 ms, 0.1 J in layer 0;
 * 5 ms, 0.05 J in layer 1). Each layer: attn and ffn, half of it each. */
static void write_prompt_batch_run(wl_store *s, bool finish, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "batches"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "prefill",
                                   .name = "layers",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 200,
                                   .energy_j = 2,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    for (int t = 0; t < 7; t++) {
        const bool in = t < 4;
        struct wl_store_token tok = {.index = t,
                                     .is_input = in,
                                     .start_ms = in ? WL_STORE_UNSET : 200 + 20.0 * (t - 4),
                                     .end_ms = in ? WL_STORE_UNSET : 220 + 20.0 * (t - 4),
                                     .energy_j = in ? 0.5 : 0.2,
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
        if (t == 0 || t == 2 || t == 4)
            continue;
        for (int l = 0; l < 2; l++) {
            const double scale = (in ? 4.0 : 1.0) / (l ? 2.0 : 1.0);
            struct wl_store_layer_metric lm = {t, l, 10 * scale, 0.1 * scale};
            assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
            for (int c = 0; c < 2; c++) {
                struct wl_store_component_metric cm =
                    wl_test_component_row(t, l, c, c ? "ffn" : "attn", 5 * scale, 0.05 * scale);
                assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
            }
        }
    }
    if (!finish) {
        assert_int_equal(wl_store_flush(r), 0);
        wl_store_run_abandon(r);
        return;
    }
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 260, 2.6, WL_METHOD_COUNTER);
    tot.input_tokens = 4;
    tot.output_tokens = 3;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

/* A prompt batch is one forward pass whose rows sit under its last token:
 * averaged per row, layer 0 read 0.25 J "per token" (1 J over 4 rows), where
 * a decode step takes 0.1 J and an input token 0.2 J. */
static void test_layers_average_per_decode_step_and_per_input_token(void **state)
{
    struct wl_test_store_fixture *f = *state;
    for (int finish = 1; finish >= 0; finish--) { /* precomputed component rows, then not */
        char id[37];
        write_prompt_batch_run(f->s, finish, id);
        struct wl_store_aggregates a;
        assert_int_equal(wl_store_summary(f->s, id, &a), 0);
        struct wl_summary s;
        assert_int_equal(wl_summary_compute(&a, &s), 0);
        assert_int_equal(s.eff.input_tokens, 4);
        assert_int_equal(s.n_layers, 2);
        const struct wl_summary_layer *l0 = &s.layers[0], *l1 = &s.layers[1];
        assert_int_equal(l0->n, 4); /* rows: 2 prompt batches + 2 decode steps */
        assert_float_equal(l0->avg_energy_j, 0.25, EPS); /* per forward pass, as before */
        assert_int_equal(l0->decode_steps, 2);
        assert_int_equal(l0->prefill_passes, 2);
        assert_float_equal(l0->decode_avg_energy_j, 0.1, EPS);
        assert_float_equal(l0->decode_avg_dur_ms, 10, EPS);
        assert_float_equal(l0->prefill_energy_j_per_token, 0.2, EPS); /* 0.8 J / 4 tokens */
        assert_float_equal(l0->prefill_dur_ms_per_token, 20, EPS);
        assert_float_equal(l1->decode_avg_energy_j, 0.05, EPS);
        assert_float_equal(l1->prefill_energy_j_per_token, 0.1, EPS);
        assert_float_equal(l0->energy_pct, 100.0 * 1.0 / 1.5, EPS); /* of both, still */
        assert_float_equal(l0->energy_pct + l1->energy_pct, 100, EPS);

        /* per name: 8 rows (4 passes x 2 layers), 4 of decode steps */
        assert_int_equal(s.n_components, 2);
        const struct wl_summary_component *attn = &s.components[0];
        assert_string_equal(attn->name, "attn");
        assert_int_equal(attn->n, 8);
        assert_int_equal(attn->decode_n, 4);
        assert_int_equal(attn->prefill_n, 4);
        assert_float_equal(attn->decode_avg_energy_j, (0.05 + 0.025) / 2, EPS);
        /* (0.2 + 0.2 + 0.1 + 0.1) J / (4 input tokens x 2 layers) */
        assert_float_equal(attn->prefill_energy_j_per_token, 0.6 / 8, EPS);
        assert_float_equal(attn->energy_pct + s.components[1].energy_pct, 100, EPS);
        /* (layer, component): attn in layer 0 */
        const struct wl_summary_component *h = NULL;
        for (size_t i = 0; i < s.n_hottest; i++) {
            if (s.hottest[i].layer == 0 && strcmp(s.hottest[i].name, "attn") == 0)
                h = &s.hottest[i];
        }
        assert_non_null(h);
        assert_int_equal(h->decode_n, 2);
        assert_int_equal(h->prefill_n, 2);
        assert_float_equal(h->decode_avg_energy_j, 0.05, EPS);
        assert_float_equal(h->prefill_energy_j_per_token, 0.1, EPS); /* 0.4 J / 4 */

        json_t *j = wl_summary_to_json(&a, &s);
        json_t *jl = json_array_get(json_object_get(j, "layers"), 0);
        assert_int_equal(json_integer_value(json_object_get(jl, "tokens")), 4);
        assert_int_equal(json_integer_value(json_object_get(jl, "decode_steps")), 2);
        assert_int_equal(json_integer_value(json_object_get(jl, "prefill_passes")), 2);
        assert_float_equal(json_real_value(json_object_get(jl, "decode_avg_energy_j")), 0.1, EPS);
        assert_float_equal(json_real_value(json_object_get(jl, "prefill_energy_j_per_input_token")),
                           0.2, EPS);
        json_t *jc = json_array_get(json_object_get(j, "components"), 0);
        assert_int_equal(json_integer_value(json_object_get(jc, "decode_count")), 4);
        assert_float_equal(json_real_value(json_object_get(jc, "prefill_energy_j_per_input_token")),
                           0.075, EPS);
        json_decref(j);
        wl_summary_free(&s);
        wl_store_aggregates_free(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_percentiles),
        cmocka_unit_test(test_decode_figures_count_decode_steps),
        cmocka_unit_test(test_decode_figures_of_a_batch_count_rounds_after_the_first),
        cmocka_unit_test(test_a_sequence_decode_j_per_token_uses_its_rounds_with_energy),
        cmocka_unit_test_setup_teardown(test_layers_average_per_decode_step_and_per_input_token,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

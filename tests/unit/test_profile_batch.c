/* profile/recorder with a batched generation (wl_generate_batch): 2, 3 and
 * 4 sequences on a tiny synthetic llama whose prompts have different
 * lengths in a small context, so sequences stop (context full) in different
 * rounds (rounds of 4, then 3, then 2 sequences). Prompt batches of 4
 * tokens straddle the sequences' prompts. Energy comes from the CPU-time
 * model (its values do not matter here, only how they add up).
 * Checks: input tokens = the batch's prompt tokens summed over sequences;
 * one output row per decode round whose n_seq is the number of sequences
 * that ran in it; output tokens counted per sequence; token, section and
 * phase energies tile; the stored hierarchy (layers, components, ops of
 * every forward pass, attention statistics finite); per-sequence
 * attribution sums to the stored energies and refuses counts that do not
 * match the recording; the summary's whole-batch figures. A prefill
 * cancelled after its first forward batch: the per-sequence prefill
 * energies cover the prompt tokens evaluated (in sequence order), not
 * refused as counts that do not match.
 */
#include "test_support.h"

#include "analysis/summary.h"
#include "engine/context.h"
#include "engine/generate.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "engine/synth.h"
#include "engine/tokenizer.h"
#include "profile/recorder.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CTX 14
#define N_PREDICT 10
#define N_UBATCH 4

struct fixture {
    char *dir;
    wl_model *m;
    wl_tokenizer *tok;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = wl_test_tmpdir();
    struct wl_synth_params sp;
    wl_synth_default_params(&sp);
    char path[1024];
    snprintf(path, sizeof path, "%s/m.gguf", f->dir);
    wl_gguf_writer *w = NULL;
    struct wl_errmsg err;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_synth_model(&sp, w, &err), 0);
    assert_int_equal(wl_gguf_writer_write(w, path, &err), 0);
    wl_gguf_writer_free(w);
    assert_int_equal(wl_model_load(path, &f->m, &err), 0);
    assert_int_equal(wl_tok_load_gguf(f->m->gguf, &f->tok, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wl_tok_free(f->tok);
    wl_model_free(f->m);
    wl_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- reading the stored rows ---------------------------------------------------- */

struct tok_rows {
    int64_t n_in, n_out, sum_n_seq;
    int64_t n_seq[64]; /* per output row, in order */
    double e_in, e_out;
};

static int tok_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct tok_rows *t = ud;
    bool input = false;
    int64_t ns = -1;
    double e = NAN;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "is_input") == 0)
            input = v[i].i != 0;
        else if (strcmp(names[i], "n_seq") == 0 && v[i].type == WL_VALUE_INT)
            ns = v[i].i;
        else if (strcmp(names[i], "energy_j") == 0 && v[i].type == WL_VALUE_REAL)
            e = v[i].r;
    }
    assert_false(isnan(e));
    if (input) {
        t->n_in++;
        t->e_in += e;
        return 0;
    }
    assert_true(ns >= 1);
    assert_true(t->n_out < 64);
    t->n_seq[t->n_out++] = ns;
    t->sum_n_seq += ns;
    t->e_out += e;
    return 0;
}

struct op_rows {
    int64_t rows, n_att;
    bool bad;
};

static int op_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct op_rows *o = ud;
    o->rows++;
    for (size_t i = 0; i < n; i++) {
        if (v[i].type != WL_VALUE_REAL)
            continue;
        const double x = v[i].r;
        if (!isfinite(x))
            o->bad = true;
        if (strcmp(names[i], "entropy") == 0) {
            o->n_att++;
            /* at most log(number of weights) = log(N_CTX) nats */
            if (x < 0 || x > log((double)N_CTX) + 1e-6)
                o->bad = true;
        }
        if ((strcmp(names[i], "max_weight") == 0 || strcmp(names[i], "sparsity") == 0) &&
            (x < 0 || x > 1 + 1e-6))
            o->bad = true;
    }
    return 0;
}

static int count_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    (void)n;
    (void)names;
    (void)v;
    (*(int64_t *)ud)++;
    return 0;
}

static bool close_to(double a, double b)
{
    return fabs(a - b) <= 1e-9 + 1e-6 * fabs(b);
}

/* One batched generation of n_seq sequences with the recorder at depth deep. */
static void run_batch(struct fixture *f, int32_t n_seq)
{
    static const char *const prompts[] = {"hi", "hello", "abcdefghij", "xyz"};
    struct wl_errmsg err;
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = N_CTX;
    cp.n_threads = 1;
    cp.n_ubatch = N_UBATCH;
    cp.n_seq = n_seq;
    wl_context *ctx = NULL;
    assert_int_equal(wl_context_create(f->m, &cp, &ctx, &err), 0);

    struct wl_store_params stp;
    wl_store_default_params(&stp);
    char path[1024];
    snprintf(path, sizeof path, "%s/runs%d.db", f->dir, n_seq);
    stp.path = path;
    wl_store *st = NULL;
    assert_int_equal(wl_store_open(&stp, &st, &err), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .depth = "deep", .n_seq = n_seq};
    wl_store_run *run = NULL;
    char id[40];
    assert_int_equal(wl_store_run_begin(st, &info, &run, id), 0);

    struct wl_sensor_params sp;
    wl_sensor_params_default(&sp);
    sp.backends = WL_BACKEND_CPU_MODEL;
    sp.model_use = WL_MODEL_ALWAYS;
    sp.model.scope = WL_MODEL_SCOPE_SELF;
    struct wl_recorder_params rp;
    wl_recorder_default_params(&rp);
    rp.depth = WL_PROFILE_DEEP;
    rp.activations = true;
    rp.n_layer = f->m->config.n_layer;
    rp.n_head = f->m->config.n_head;
    rp.max_input_tokens = N_CTX * n_seq;
    rp.max_output_tokens = N_PREDICT;
    rp.n_ubatch = N_UBATCH;
    rp.n_seq = n_seq;
    rp.sensors = &sp;
    rp.run = run;
    rp.interval_ms = 10;
    wl_recorder *rec = NULL;
    assert_int_equal(wl_recorder_create(&rp, &rec, &err), 0);
    struct wl_hooks h = wl_recorder_hooks(rec);
    wl_context_set_hooks(ctx, &h);

    struct wl_generate_params gp = wl_generate_default_params();
    gp.n_predict = N_PREDICT;
    gp.sampling.temperature = 0;
    struct wl_generate_batch_params bp = {.prompts = (const char *const *)prompts, .n_seq = n_seq};
    struct wl_generate_result res[4];
    struct wl_generate_batch_stats bs;
    assert_int_equal(wl_recorder_start(rec, NULL), 0);
    assert_int_equal(wl_generate_batch(ctx, f->tok, &gp, &bp, res, &bs, &err), 0);
    wl_recorder_stop(rec);

    /* the sequences stop in different rounds: the longer the prompt, the
     * sooner its context is full */
    int32_t n_prompt[4], n_gen[4], max_gen = 0;
    for (int32_t i = 0; i < n_seq; i++) {
        n_prompt[i] = res[i].n_prompt;
        n_gen[i] = res[i].n_generated;
        max_gen = n_gen[i] > max_gen ? n_gen[i] : max_gen;
    }
    if (n_seq >= 3)
        assert_true(n_gen[2] < n_gen[0]);

    struct wl_recorder_totals t;
    wl_recorder_get_totals(rec, &t);
    assert_int_equal(t.n_dropped, 0);
    assert_int_equal(t.store_error, 0);
    assert_int_equal(t.n_input_tokens, bs.n_prompt);
    assert_int_equal(t.n_output_tokens, bs.n_generated);
    assert_int_equal(t.n_rounds, max_gen);
    assert_int_equal(t.n_rounds, bs.n_rounds + 1); /* round 0 samples from the prefill */
    assert_true(t.energy_j > 0);
    assert_true(close_to(t.sections_energy_j, t.energy_j));
    assert_true(close_to(t.output_tokens_energy_j, t.decode_energy_j));
    assert_true(close_to(t.input_tokens_energy_j, t.prefill_energy_j));

    /* per sequence: attributed shares that add up to what is stored */
    double pre[4], dec[4], sum_pre = 0, sum_dec = 0;
    int32_t n_eval[4];
    assert_int_equal(wl_recorder_sequence_energy(rec, n_seq, n_prompt, n_gen, pre, dec, n_eval), 0);
    for (int32_t i = 0; i < n_seq; i++) {
        assert_int_equal(n_eval[i], n_prompt[i]); /* every prompt token evaluated */
        assert_true(pre[i] > 0 && dec[i] > 0);
        sum_pre += pre[i];
        sum_dec += dec[i];
    }
    assert_true(close_to(sum_pre, t.input_tokens_energy_j));
    assert_true(close_to(sum_dec, t.output_tokens_energy_j));
    /* counts that do not match the recording are refused */
    n_gen[0]++;
    assert_int_equal(wl_recorder_sequence_energy(rec, n_seq, n_prompt, n_gen, pre, dec, NULL),
                     WL_EINVAL);
    n_gen[0]--;
    n_prompt[0]++;
    assert_int_equal(wl_recorder_sequence_energy(rec, n_seq, n_prompt, n_gen, pre, dec, NULL),
                     WL_EINVAL);
    /* and as a prefill cut short (more prompt tokens than recorded, none
     * generated) when rounds were recorded */
    int32_t no_gen[4] = {0};
    assert_int_equal(wl_recorder_sequence_energy(rec, n_seq, n_prompt, no_gen, pre, dec, NULL),
                     WL_EINVAL);
    n_prompt[0]--;

    struct wl_recorder_finish fin = {.status = WL_RUN_COMPLETE, .response = res[0].text};
    assert_int_equal(wl_recorder_finish(rec, &fin), 0);

    /* the stored rows */
    struct tok_rows tr = {0};
    assert_int_equal(wl_store_foreach(st, id, WL_TABLE_TOKENS, -1, -1, tok_row, &tr), 0);
    assert_int_equal(tr.n_in, bs.n_prompt);
    assert_int_equal(tr.n_out, max_gen);
    assert_int_equal(tr.sum_n_seq, bs.n_generated);
    for (int64_t r = 0; r < tr.n_out; r++) {
        int64_t ran = 0;
        for (int32_t i = 0; i < n_seq; i++)
            ran += n_gen[i] > r;
        assert_int_equal(tr.n_seq[r], ran);
    }
    assert_int_equal(tr.n_seq[0], n_seq);
    assert_true(close_to(tr.e_out, t.decode_energy_j));
    assert_true(close_to(tr.e_in, t.prefill_energy_j));
    /* one forward pass per prompt batch and per round after the first */
    const int32_t ub = N_UBATCH > n_seq ? N_UBATCH : n_seq;
    const int64_t passes = (bs.n_prompt + ub - 1) / ub + max_gen - 1;
    int64_t n_lay = 0, n_comp = 0;
    assert_int_equal(wl_store_foreach(st, id, WL_TABLE_LAYERS, -1, -1, count_row, &n_lay), 0);
    assert_int_equal(wl_store_foreach(st, id, WL_TABLE_COMPONENTS, -1, -1, count_row, &n_comp), 0);
    assert_int_equal(n_lay, passes * f->m->config.n_layer);
    assert_int_equal(n_comp, n_lay * 12);
    struct op_rows ops = {0};
    assert_int_equal(wl_store_foreach(st, id, WL_TABLE_OPS, -1, -1, op_row, &ops), 0);
    assert_int_equal(ops.rows, n_lay * 14);
    assert_true(ops.n_att > 0);
    assert_false(ops.bad);

    /* the summary: tokens per sequence, figures for the whole batch */
    struct wl_store_aggregates a;
    struct wl_summary s;
    assert_int_equal(wl_store_summary(st, id, &a), 0);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(a.run.n_seq, n_seq);
    assert_int_equal(a.tokens.n_output, max_gen);
    assert_int_equal(s.eff.output_tokens, bs.n_generated);
    assert_int_equal(s.eff.input_tokens, bs.n_prompt);
    /* decode figures count the rounds after round 0, which is sampled from
     * the prefill's logits (every sequence ran in it) */
    assert_int_equal(s.eff.decode_steps, max_gen - 1);
    assert_int_equal(s.eff.decode_tokens, bs.n_generated - n_seq);
    assert_true(close_to(s.eff.tokens_per_s,
                         (double)(bs.n_generated - n_seq) /
                             ((s.eff.decode_dur_ms - a.output_tokens[0].dur_ms) / 1000.0)));
    /* layers: a row per round after the first, and per prompt batch */
    assert_int_equal(s.n_layers, f->m->config.n_layer);
    assert_int_equal(s.layers[0].decode_steps, max_gen - 1);
    assert_int_equal(s.layers[0].prefill_passes, (bs.n_prompt + ub - 1) / ub);
    assert_true(close_to(s.eff.j_per_token, s.energy_j / bs.n_generated));
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);

    for (int32_t i = 0; i < n_seq; i++)
        wl_generate_result_free(&res[i]);
    wl_store_close(st);
    wl_recorder_free(rec);
    wl_context_free(ctx);
}

static void test_batch_of_2(void **state)
{
    run_batch(*state, 2);
}

static void test_batch_of_3(void **state)
{
    run_batch(*state, 3);
}

static void test_batch_of_4(void **state)
{
    run_batch(*state, 4);
}

/* Sets the cancel flag when the prefill's first forward pass is done. */
struct cancel_after_pass {
    struct wl_hooks inner;
    volatile sig_atomic_t flag;
};

static void cancel_hook(void *ud, const struct wl_hook_event *ev)
{
    struct cancel_after_pass *c = ud;
    c->inner.fn(c->inner.user_data, ev);
    if (ev->kind == WL_HOOK_SECTION && !ev->begin && ev->section == WL_SECTION_OUTPUT &&
        ev->phase == WL_PHASE_PREFILL)
        c->flag = SIGINT;
}

static void test_cancelled_prefill_attributes_what_was_evaluated(void **state)
{
    struct fixture *f = *state;
    static const char *const prompts[] = {"hi", "hello", "abcdefghij"};
    const int32_t n_seq = 3;
    struct wl_errmsg err;
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = N_CTX;
    cp.n_threads = 1;
    cp.n_ubatch = N_UBATCH;
    cp.n_seq = n_seq;
    wl_context *ctx = NULL;
    assert_int_equal(wl_context_create(f->m, &cp, &ctx, &err), 0);
    struct wl_sensor_params sp;
    wl_sensor_params_default(&sp);
    sp.backends = WL_BACKEND_CPU_MODEL;
    sp.model_use = WL_MODEL_ALWAYS;
    sp.model.scope = WL_MODEL_SCOPE_SELF;
    struct wl_recorder_params rp;
    wl_recorder_default_params(&rp);
    rp.n_layer = f->m->config.n_layer;
    rp.n_head = f->m->config.n_head;
    rp.max_input_tokens = N_CTX * n_seq;
    rp.max_output_tokens = N_PREDICT;
    rp.n_ubatch = N_UBATCH;
    rp.n_seq = n_seq;
    rp.sensors = &sp;
    wl_recorder *rec = NULL;
    assert_int_equal(wl_recorder_create(&rp, &rec, &err), 0);
    struct cancel_after_pass c = {.inner = wl_recorder_hooks(rec)};
    struct wl_hooks h = c.inner;
    h.fn = cancel_hook;
    h.user_data = &c;
    wl_context_set_hooks(ctx, &h);

    struct wl_generate_params gp = wl_generate_default_params();
    gp.n_predict = N_PREDICT;
    gp.sampling.temperature = 0;
    gp.cancel = &c.flag;
    struct wl_generate_batch_params bp = {.prompts = (const char *const *)prompts, .n_seq = n_seq};
    struct wl_generate_result res[3];
    struct wl_generate_batch_stats bs;
    assert_int_equal(wl_recorder_start(rec, NULL), 0);
    assert_int_equal(wl_generate_batch(ctx, f->tok, &gp, &bp, res, &bs, &err), 0);
    wl_recorder_stop(rec);

    int32_t n_prompt[3], n_gen[3];
    int64_t n_all = 0;
    for (int32_t i = 0; i < n_seq; i++) {
        assert_int_equal(res[i].stop, WL_STOP_CANCELLED);
        n_prompt[i] = res[i].n_prompt;
        n_gen[i] = res[i].n_generated;
        n_all += n_prompt[i];
    }
    struct wl_recorder_totals t;
    wl_recorder_get_totals(rec, &t);
    /* one forward pass of N_UBATCH tokens ran, of more */
    assert_int_equal(t.n_input_tokens, N_UBATCH);
    assert_true(n_all > N_UBATCH && n_prompt[0] < N_UBATCH);
    assert_int_equal(t.n_rounds, 0);

    double pre[3], dec[3];
    int32_t n_eval[3];
    assert_int_equal(wl_recorder_sequence_energy(rec, n_seq, n_prompt, n_gen, pre, dec, n_eval), 0);
    /* sequence 0 whole, sequence 1 in part, sequence 2 not reached */
    assert_true(pre[0] > 0 && pre[1] > 0);
    assert_true(pre[2] == 0);
    assert_int_equal(n_eval[0], n_prompt[0]);
    assert_int_equal(n_eval[1], N_UBATCH - n_prompt[0]);
    assert_int_equal(n_eval[2], 0);
    assert_true(close_to(pre[0] + pre[1] + pre[2], t.input_tokens_energy_j));
    /* each input token holds an equal share of the one batch */
    const int32_t in1 = N_UBATCH - n_prompt[0];
    assert_true(close_to(pre[0] * in1, pre[1] * n_prompt[0]));
    for (int32_t i = 0; i < n_seq; i++)
        assert_true(dec[i] == 0);
    /* counts that do not match are still refused: more tokens recorded
     * than the prompts hold, or generated tokens with no round */
    n_prompt[2] = 0;
    n_prompt[1] = in1 - 1;
    assert_int_equal(wl_recorder_sequence_energy(rec, n_seq, n_prompt, n_gen, pre, dec, NULL),
                     WL_EINVAL);
    n_prompt[1] = res[1].n_prompt;
    n_prompt[2] = res[2].n_prompt;
    n_gen[0] = 1;
    assert_int_equal(wl_recorder_sequence_energy(rec, n_seq, n_prompt, n_gen, pre, dec, NULL),
                     WL_EINVAL);

    for (int32_t i = 0; i < n_seq; i++)
        wl_generate_result_free(&res[i]);
    wl_recorder_free(rec);
    wl_context_free(ctx);
}

static void test_bad_sequence_count_is_refused(void **state)
{
    (void)state;
    struct wl_recorder_params rp;
    wl_recorder_default_params(&rp);
    rp.n_layer = rp.n_head = rp.max_input_tokens = rp.max_output_tokens = 1;
    rp.n_seq = -1;
    wl_recorder *rec = NULL;
    struct wl_errmsg err;
    assert_int_equal(wl_recorder_create(&rp, &rec, &err), WL_EINVAL);
    assert_null(rec);
    assert_non_null(strstr(err.text, "sequences"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_sequence_count_is_refused),
        cmocka_unit_test_setup_teardown(test_batch_of_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_of_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_of_4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_prefill_attributes_what_was_evaluated, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

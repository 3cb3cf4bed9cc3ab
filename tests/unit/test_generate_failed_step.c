/* A decode step that fails (a NaN logit, from a token whose embedding row
 * is NaN) produces no token, and nothing downstream counts one: the
 * engine's TOKEN end of that step carries no sequence (n_tok 0, id -1; a
 * batched round that fails part way, the sequences sampled before the
 * failure), and the recorder stores the step's sections but no token row,
 * so the stored output tokens equal n_generated (they were one more: the
 * failed step was stored as an output token with no text). Checked on a
 * synthetic llama, alone and batched, through the hooks and through the
 * recorder into a store, and through `wattlens run` on stories260K with one
 * embedding row made NaN, against what `run` printed; `generate` (no
 * hooks) prints what it printed before.
 */
#include "synth_fixture.h"
#include "synth_generate.h"
#include "test_support.h"

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "profile/recorder.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the hooks' view ---------------------------------------------------------------- */

struct token_log {
    int n_end;             /* TOKEN ends */
    int n_failed;          /* of them with n_tok 0 (and id -1) */
    int64_t n_tok_ends;    /* n_tok summed over the ends */
    int32_t first_id[2];   /* round 0's id (the lowest sequence's) and round 1's */
    bool bad;              /* a failed end with an id */
    struct wl_hooks inner; /* called after (the recorder), or fn NULL */
};

static void on_event(void *ud, const struct wl_hook_event *ev)
{
    struct token_log *l = ud;
    if (ev->kind == WL_HOOK_TOKEN && !ev->begin) {
        if (ev->token_index < 2)
            l->first_id[ev->token_index] = ev->token_id;
        l->n_end++;
        l->n_tok_ends += ev->n_tok;
        if (ev->n_tok == 0) {
            l->n_failed++;
            l->bad |= ev->token_id != -1;
        }
    }
    if (l->inner.fn)
        l->inner.fn(l->inner.user_data, ev);
}

static void attach(wl_context *ctx, struct token_log *l, const struct wl_hooks *inner)
{
    memset(l, 0, sizeof *l);
    l->first_id[0] = l->first_id[1] = -1;
    if (inner)
        l->inner = *inner;
    struct wl_hooks h = {.fn = on_event,
                         .user_data = l,
                         .depth = inner ? inner->depth : WL_HOOK_DEPTH_TOKEN,
                         .activations = false};
    wl_context_set_hooks(ctx, &h);
}

/* Token t's embedding row (F32, the synthetic model's), to poison with NaN. */
static float *embedding_row(const wl_model *m, int32_t t)
{
    const struct wl_weight *e = &m->weights.tok_embd;
    assert_int_equal(e->type, WL_TTYPE_F32);
    assert_false(m->config.tied_output); /* else the output row turns NaN too */
    return (float *)(uintptr_t)e->data + (size_t)t * (size_t)e->n_in;
}

/* Saves row t of m's embedding into saved and makes it NaN. */
static void poison(const wl_model *m, int32_t t, float *saved)
{
    float *row = embedding_row(m, t);
    const int64_t n = m->weights.tok_embd.n_in;
    memcpy(saved, row, (size_t)n * sizeof *row);
    for (int64_t i = 0; i < n; i++)
        row[i] = NAN;
}

static void restore(const wl_model *m, int32_t t, const float *saved)
{
    memcpy(embedding_row(m, t), saved, (size_t)m->weights.tok_embd.n_in * sizeof *saved);
}

/* Generates greedy "A" (4 tokens) on ctx, then makes the embedding row of
 * the first token sampled NaN, so that the same generation fails at step 1.
 * The row is saved into *saved (heap: restore() it, then free it). Returns
 * that token. */
static int32_t poison_first_token(struct wl_test_synth *s, wl_context *ctx, float **saved)
{
    struct token_log l;
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    struct wl_generate_params p = wl_test_greedy_params("A", 4);
    attach(ctx, &l, NULL);
    if (wl_generate(ctx, s->tok, &p, &r, &err) != 0)
        fail_msg("generate: %s", err.text);
    wl_generate_result_free(&r);
    const int32_t t0 = l.first_id[0];
    assert_true(t0 >= 0);
    *saved = malloc((size_t)s->m->weights.tok_embd.n_in * sizeof **saved);
    assert_non_null(*saved);
    poison(s->m, t0, *saved);
    return t0;
}

/* ---- alone ------------------------------------------------------------------------ */

/* The token sampled at step 0 has a NaN embedding, so step 1's logits are
 * NaN: one token generated, two TOKEN spans, the second ending with no
 * sequence and no id. (Its end carried n_tok 1: the failed step counted as
 * a token.) */
static void test_a_failed_step_ends_its_token_span_with_no_token(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    wl_test_synth_load_default(&s);
    wl_context *ctx = wl_test_context_small(s.m, 32, 1);
    struct token_log l;
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    struct wl_generate_params p = wl_test_greedy_params("A", 4);
    float *saved = NULL;
    const int32_t t0 = poison_first_token(&s, ctx, &saved);

    attach(ctx, &l, NULL);
    assert_int_equal(wl_generate(ctx, s.tok, &p, &r, &err), WL_ERANGE);
    if (r.n_generated != 1)
        fail_msg("the step after token %d should fail: %d generated (%s)", t0, r.n_generated,
                 err.text);
    assert_int_equal(l.n_end, 2);
    assert_int_equal(l.n_failed, 1);
    assert_false(l.bad);
    assert_int_equal(l.n_tok_ends, r.n_generated);
    wl_generate_result_free(&r);

    restore(s.m, t0, saved);
    free(saved);
    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

/* ---- batched ------------------------------------------------------------------------- */

/* Two sequences; sequence 1's first token (a token sequence 0 does not use
 * at step 1) has a NaN embedding: round 1 samples sequence 0, then fails on
 * sequence 1. The round's end counts the one sequence that sampled, so the
 * ends sum to the tokens generated (they counted both sequences: one token
 * too many). Finds two prompts for which that happens. */
static void test_a_round_that_fails_part_way_counts_the_tokens_it_made(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    wl_test_synth_load_default(&s);
    wl_context *ctx = wl_test_context_small(s.m, 32, 2);
    float *saved = malloc((size_t)s.m->weights.tok_embd.n_in * sizeof *saved);
    assert_non_null(saved);
    static const char *const pairs[][2] = {{"A", "B"},     {"Hi", "x"}, {"ab", "zz"},
                                           {"Q", "hello"}, {"1", "9"},  {"cat", "dog"}};
    bool found = false;
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0] && !found; k++) {
        const char *prompts[2] = {pairs[k][0], pairs[k][1]};
        struct wl_generate_params p = wl_test_greedy_params(NULL, 4);
        struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 2};
        struct wl_generate_result r[2];
        struct wl_generate_batch_stats st;
        struct wl_errmsg err = {{0}};
        /* sequence 1's first token: alone it samples what it samples batched */
        struct token_log l;
        struct wl_generate_params p1 = wl_test_greedy_params(prompts[1], 1);
        attach(ctx, &l, NULL);
        if (wl_generate(ctx, s.tok, &p1, &r[0], &err) != 0)
            fail_msg("generate: %s", err.text);
        wl_generate_result_free(&r[0]);
        const int32_t t1 = l.first_id[0];
        poison(s.m, t1, saved);
        attach(ctx, &l, NULL);
        const int rc = wl_generate_batch(ctx, s.tok, &p, &bp, r, &st, &err);
        if (rc == WL_ERANGE && r[0].n_generated == 2 && r[1].n_generated == 1) {
            found = true;
            assert_int_equal(l.n_end, 2);
            assert_int_equal(l.n_failed, 0);
            assert_int_equal(l.n_tok_ends, 3);
        }
        restore(s.m, t1, saved);
    }
    if (!found)
        fail_msg("no prompt pair made round 1 fail after sequence 0 sampled");
    free(saved);
    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

/* ---- recorded ----------------------------------------------------------------------- */

static int64_t query_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* The recorder (CPU-time model) on the failing generation of the first
 * test: the run stores 1 output token and 1 output row (it stored 2, the
 * second with no text), the failed step's sections are kept (the decode
 * phase holds its forward pass), and the totals count one failed step. */
static void test_the_recorder_stores_no_token_for_a_failed_step(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    wl_test_synth_load_default(&s);
    wl_context *ctx = wl_test_context_small(s.m, 32, 1);
    struct token_log l;
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    struct wl_generate_params p = wl_test_greedy_params("A", 4);
    float *saved = NULL;
    const int32_t t0 = poison_first_token(&s, ctx, &saved);

    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char db[1024];
    snprintf(db, sizeof db, "%s/runs.db", dir);
    struct wl_store_params stp;
    wl_store_default_params(&stp);
    stp.path = db;
    wl_store *st = NULL;
    assert_int_equal(wl_store_open(&stp, &st, &err), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .depth = "module"};
    wl_store_run *run = NULL;
    char id[40];
    assert_int_equal(wl_store_run_begin(st, &info, &run, id), 0);
    struct wl_sensor_params sen;
    wl_sensor_params_default(&sen);
    sen.backends = WL_BACKEND_CPU_MODEL;
    sen.model_use = WL_MODEL_ALWAYS;
    sen.model.scope = WL_MODEL_SCOPE_SELF;
    struct wl_recorder_params rp;
    wl_recorder_default_params(&rp);
    rp.depth = WL_PROFILE_MODULE;
    rp.n_layer = s.m->config.n_layer;
    rp.n_head = s.m->config.n_head;
    rp.max_input_tokens = 32;
    rp.max_output_tokens = 4;
    rp.sensors = &sen;
    rp.run = run;
    wl_recorder *rec = NULL;
    if (wl_recorder_create(&rp, &rec, &err) != 0)
        fail_msg("recorder: %s", err.text);
    const struct wl_hooks rh = wl_recorder_hooks(rec);
    attach(ctx, &l, &rh);
    assert_int_equal(wl_recorder_start(rec, NULL), 0);
    assert_int_equal(wl_generate(ctx, s.tok, &p, &r, &err), WL_ERANGE);
    wl_context_set_hooks(ctx, NULL);
    assert_int_equal(r.n_generated, 1);
    wl_recorder_stop(rec);
    struct wl_recorder_totals t;
    wl_recorder_get_totals(rec, &t);
    struct wl_recorder_finish fin = {.status = WL_RUN_FAILED, .error = err.text};
    assert_int_equal(wl_recorder_finish(rec, &fin), 0);
    wl_recorder_free(rec);
    wl_store_close(st);

    assert_int_equal(t.n_output_tokens, r.n_generated);
    assert_int_equal(t.n_rounds, 1);
    assert_int_equal(t.n_failed_steps, 1);
    assert_int_equal(query_int(db, "SELECT output_tokens FROM runs"), r.n_generated);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tokens WHERE is_input = 0"), 1);
    /* token 1's forward pass (embedding .. output) and its failed sampling
     * are kept under its index */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sections WHERE phase = 'decode' AND token_index = %d",
             r.n_prompt + 1);
    assert_int_equal(query_int(db, sql), 5);
    assert_int_equal(query_int(db, "SELECT count(*) FROM layer_metrics WHERE token_idx > 0 AND "
                                   "token_idx NOT IN (SELECT idx FROM tokens)"),
                     0);
    wl_generate_result_free(&r);
    wl_test_rmtree(dir);
    free(dir);
    restore(s.m, t0, saved);
    free(saved);
    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

/* ---- through the CLI ------------------------------------------------------------------- */

/* stories260K with the embedding of ',' (432) made NaN: greedy from the
 * default prompt samples ',' first, so step 1 fails. `run` says one token
 * came before the failure and stores one output token (it stored two);
 * `generate` prints the text up to it and the error, as before. */
static void test_run_stores_the_tokens_it_printed(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    size_t size = 0;
    char *buf = wl_test_read_file(wl_test_data_path("models/stories260K.gguf"), &size);
    assert_non_null(buf);
    wl_gguf *g = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_open_memory(buf, size, &g, &err), 0);
    const struct wl_gguf_tensor *e = wl_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(e);
    assert_int_equal(e->type, WL_TTYPE_F32);
    const uint64_t off = wl_gguf_data_offset(g) + e->offset + 432ull * e->ne[0] * sizeof(float);
    assert_true(off + e->ne[0] * sizeof(float) <= size);
    const float nan = NAN;
    for (uint64_t i = 0; i < e->ne[0]; i++)
        memcpy(buf + off + i * sizeof nan, &nan, sizeof nan);
    wl_gguf_close(g);
    char model[1024], db[1024];
    snprintf(model, sizeof model, "%s/nan.gguf", dir);
    snprintf(db, sizeof db, "%s/runs.db", dir);
    assert_int_equal(wl_test_write_file(model, buf, size), 0);
    free(buf);

    char args[4096], *out = NULL, *errs = NULL;
    snprintf(args, sizeof args,
             "run -m '%s' -n 8 -t 1 --temp 0 --db '%s' --baseline 0 --settle 0 --depth module",
             model, db);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 1);
    if (!strstr(out, "Generated text (1 token before the generation failed)"))
        fail_msg("run:\n%s\n%s", out, errs);
    free(out);
    free(errs);
    assert_int_equal(query_int(db, "SELECT output_tokens FROM runs"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tokens WHERE is_input = 0"), 1);

    snprintf(args, sizeof args, "generate -m '%s' -n 8 -t 1 --temp 0", model);
    assert_int_equal(wl_test_run_cli(args, &out, &errs), 1);
    assert_string_equal(out, "Once upon a time,");
    if (!strstr(errs, "non-finite logit (nan)"))
        fail_msg("generate: %s", errs);
    free(out);
    free(errs);
    wl_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_failed_step_ends_its_token_span_with_no_token),
        cmocka_unit_test(test_a_round_that_fails_part_way_counts_the_tokens_it_made),
        cmocka_unit_test(test_the_recorder_stores_no_token_for_a_failed_step),
        cmocka_unit_test(test_run_stores_the_tokens_it_printed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* A decode step that fails (a NaN logit, from a token whose embedding row
 * is NaN) produces no token, and the engine's TOKEN end of that step says
 * so: no sequence (n_tok 0, id -1; a batched round that fails part way, the
 * sequences sampled before the failure). Checked on a synthetic llama,
 * alone and batched, through the hooks.
 */
#include "synth_fixture.h"
#include "test_support.h"

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "wattlens/error.h"

#include <math.h>
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

static struct wl_generate_params greedy(const char *prompt, int32_t n)
{
    struct wl_generate_params p = wl_generate_default_params();
    p.sampling.temperature = 0.0f;
    p.prompt = prompt;
    p.n_predict = n;
    return p;
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

/* ---- alone ------------------------------------------------------------------------ */

/* The token sampled at step 0 has a NaN embedding, so step 1's logits are
 * NaN: one token generated, two TOKEN spans, the second ending with no
 * sequence and no id. (Its end carried n_tok 1: the failed step counted as
 * a token.) */
static void test_a_failed_step_ends_its_token_span_with_no_token(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    struct wl_synth_params sp;
    wl_synth_default_params(&sp);
    wl_test_synth_load(&s, &sp);
    wl_context *ctx = wl_test_context_small(s.m, 32, 1);
    struct token_log l;
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    struct wl_generate_params p = greedy("A", 4);
    attach(ctx, &l, NULL);
    if (wl_generate(ctx, s.tok, &p, &r, &err) != 0)
        fail_msg("generate: %s", err.text);
    wl_generate_result_free(&r);
    const int32_t t0 = l.first_id[0];
    assert_true(t0 >= 0);
    float *saved = malloc((size_t)s.m->weights.tok_embd.n_in * sizeof *saved);
    assert_non_null(saved);
    poison(s.m, t0, saved);

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
    struct wl_synth_params sp;
    wl_synth_default_params(&sp);
    wl_test_synth_load(&s, &sp);
    wl_context *ctx = wl_test_context_small(s.m, 32, 2);
    float *saved = malloc((size_t)s.m->weights.tok_embd.n_in * sizeof *saved);
    assert_non_null(saved);
    static const char *const pairs[][2] = {{"A", "B"},     {"Hi", "x"}, {"ab", "zz"},
                                           {"Q", "hello"}, {"1", "9"},  {"cat", "dog"}};
    bool found = false;
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0] && !found; k++) {
        const char *prompts[2] = {pairs[k][0], pairs[k][1]};
        struct wl_generate_params p = greedy(NULL, 4);
        struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 2};
        struct wl_generate_result r[2];
        struct wl_generate_batch_stats st;
        struct wl_errmsg err = {{0}};
        /* sequence 1's first token: alone it samples what it samples batched */
        struct token_log l;
        struct wl_generate_params p1 = greedy(prompts[1], 1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_failed_step_ends_its_token_span_with_no_token),
        cmocka_unit_test(test_a_round_that_fails_part_way_counts_the_tokens_it_made),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

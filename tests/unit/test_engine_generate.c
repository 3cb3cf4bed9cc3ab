/* engine/generate on the real stories260K model (skipped when the shared test
 * data is absent): the greedy reference text through the API, phase/section/
 * token events in order with texts that add up to the output, each stop
 * condition (token limit, end-of-generation token, full context, cancel,
 * also between the prompt's forward batches), and bad parameters.
 */
#include "test_support.h"

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    wl_model *m;
    wl_tokenizer *tok;
    wl_context *ctx;
};

static int setup(void **state)
{
    if (!wl_test_have_data()) {
        *state = NULL;
        return 0;
    }
    struct fixture *f = calloc(1, sizeof *f);
    struct wl_errmsg err = {{0}};
    if (wl_model_load(wl_test_data_path("models/stories260K.gguf"), &f->m, &err) != 0 ||
        wl_tok_load_gguf(f->m->gguf, &f->tok, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.text);
        return -1;
    }
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = 256;
    cp.n_threads = 2;
    if (wl_context_create(f->m, &cp, &f->ctx, &err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        wl_context_free(f->ctx);
        wl_tok_free(f->tok);
        wl_model_free(f->m);
        free(f);
    }
    return 0;
}

#define NEED_DATA()                                                                            \
    struct fixture *f = *state;                                                                \
    if (!f)                                                                                    \
        skip()

static struct wl_generate_params greedy(int n)
{
    struct wl_generate_params p = wl_generate_default_params();
    p.sampling.temperature = 0.0f;
    p.n_predict = n;
    return p;
}

static void test_greedy_reference_text(void **state)
{
    NEED_DATA();
    size_t n = 0;
    char *expected = wl_test_read_file(wl_test_data_path("expected/stories260K-greedy-200.txt"), &n);
    assert_non_null(expected);
    struct wl_generate_params p = greedy(200);
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_generate(f->ctx, f->tok, &p, &r, &err), 0);
    assert_int_equal(r.n_prompt, 1); /* BOS only */
    assert_int_equal(r.n_generated, 200);
    assert_int_equal(r.stop, WL_STOP_MAX_TOKENS);
    assert_int_equal(r.text_len, n);
    assert_memory_equal(r.text, expected, n);
    wl_generate_result_free(&r);
    free(expected);
}

/* ---- events ------------------------------------------------------------------------ */

struct log {
    int phases[16][2]; /* (phase, begin) in order */
    int n_phases;
    int n_token_begin, n_token_end;
    int sections_in_decode[WL_SECTION_COUNT];
    char text[4096];
    size_t text_len;
    int cancel_after;  /* set *cancel when this many tokens ended (0 = never) */
    volatile sig_atomic_t *cancel;
    bool bad;
    int open_token;    /* -1 when no token span is open */
};

static void on_event(void *ud, const struct wl_hook_event *ev)
{
    struct log *l = ud;
    switch (ev->kind) {
    case WL_HOOK_PHASE:
        if (l->n_phases < 16) {
            l->phases[l->n_phases][0] = ev->phase;
            l->phases[l->n_phases][1] = ev->begin;
            l->n_phases++;
        }
        break;
    case WL_HOOK_TOKEN:
        if (ev->phase != WL_PHASE_DECODE)
            l->bad = true;
        if (ev->begin) {
            if (l->open_token != -1 || ev->token_index != l->n_token_begin)
                l->bad = true;
            l->open_token = ev->token_index;
            l->n_token_begin++;
        } else {
            if (l->open_token != ev->token_index)
                l->bad = true;
            l->open_token = -1;
            l->n_token_end++;
            if (ev->text_len && l->text_len + ev->text_len < sizeof l->text) {
                memcpy(l->text + l->text_len, ev->text, ev->text_len);
                l->text_len += ev->text_len;
            }
            if (l->cancel_after && l->n_token_end == l->cancel_after)
                *l->cancel = 1;
        }
        break;
    case WL_HOOK_SECTION:
        if (ev->begin && ev->phase == WL_PHASE_DECODE)
            l->sections_in_decode[ev->section]++;
        break;
    default:
        l->bad = true; /* depth TOKEN: nothing deeper */
    }
}

static void test_phases_tokens_and_texts(void **state)
{
    NEED_DATA();
    struct log lg;
    memset(&lg, 0, sizeof lg);
    lg.open_token = -1;
    struct wl_hooks h = {.fn = on_event, .user_data = &lg, .depth = WL_HOOK_DEPTH_TOKEN};
    wl_context_set_hooks(f->ctx, &h);
    struct wl_generate_params p = greedy(12);
    p.prompt = "Once upon a time";
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_generate(f->ctx, f->tok, &p, &r, &err), 0);
    wl_context_set_hooks(f->ctx, NULL);
    assert_false(lg.bad);
    static const int order[8][2] = {
        {WL_PHASE_PRE_INFERENCE, 1}, {WL_PHASE_PRE_INFERENCE, 0}, {WL_PHASE_PREFILL, 1},
        {WL_PHASE_PREFILL, 0},       {WL_PHASE_DECODE, 1},        {WL_PHASE_DECODE, 0},
        {WL_PHASE_POST_INFERENCE, 1}, {WL_PHASE_POST_INFERENCE, 0}};
    assert_int_equal(lg.n_phases, 8);
    assert_memory_equal(lg.phases, order, sizeof order);
    assert_int_equal(lg.n_token_begin, 12);
    assert_int_equal(lg.n_token_end, 12);
    /* 12 samplings; 11 forward passes (token 0 comes from the prefill) */
    assert_int_equal(lg.sections_in_decode[WL_SECTION_SAMPLING], 12);
    assert_int_equal(lg.sections_in_decode[WL_SECTION_LAYERS], 11);
    assert_int_equal(lg.text_len, r.text_len);
    assert_memory_equal(lg.text, r.text, r.text_len);
    assert_true(r.n_prompt > 1);
    assert_int_equal(r.tok_stats.n_calls, 1);
    assert_int_equal(r.tok_stats.n_tokens, (uint64_t)r.n_prompt);
    assert_true(r.text[0] == ','); /* continues the prompt, "Once upon a time," */
    wl_generate_result_free(&r);
}

static void test_cancel_stops_cleanly(void **state)
{
    NEED_DATA();
    volatile sig_atomic_t cancel = 0;
    struct log lg;
    memset(&lg, 0, sizeof lg);
    lg.open_token = -1;
    lg.cancel_after = 4;
    lg.cancel = &cancel;
    struct wl_hooks h = {.fn = on_event, .user_data = &lg, .depth = WL_HOOK_DEPTH_TOKEN};
    wl_context_set_hooks(f->ctx, &h);
    struct wl_generate_params p = greedy(100);
    p.cancel = &cancel;
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_generate(f->ctx, f->tok, &p, &r, &err), 0);
    wl_context_set_hooks(f->ctx, NULL);
    assert_int_equal(r.stop, WL_STOP_CANCELLED);
    assert_int_equal(r.n_generated, 4);
    assert_int_equal(lg.n_phases, 8); /* every phase still closed */
    assert_true(r.text_len > 0);
    wl_generate_result_free(&r);
}

/* ---- cancel during prefill -------------------------------------------------------
 * A context with 4-token forward batches and a prompt of several batches; the
 * hook counts forward batches (one EMBEDDING section each) in the prefill
 * phase and sets the flag in the first one. */
struct prefill_log {
    int n_batches;
    int cancel_at; /* set *cancel when this batch starts (0 = never) */
    volatile sig_atomic_t *cancel;
    int n_phase_events;
};

static void on_prefill_event(void *ud, const struct wl_hook_event *ev)
{
    struct prefill_log *l = ud;
    if (ev->kind == WL_HOOK_PHASE)
        l->n_phase_events++;
    if (ev->kind == WL_HOOK_SECTION && ev->begin && ev->section == WL_SECTION_EMBEDDING &&
        ev->phase == WL_PHASE_PREFILL && ++l->n_batches == l->cancel_at)
        *l->cancel = 1;
}

static const char *const LONG_PROMPT =
    "Once upon a time there was a little girl named Lily who loved to play outside in the sun";

static wl_context *small_batch_context(const wl_model *m, int32_t n_seq)
{
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = 128;
    cp.n_ubatch = 4;
    cp.n_threads = 1;
    cp.n_seq = n_seq;
    wl_context *ctx = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_context_create(m, &cp, &ctx, &err), 0);
    return ctx;
}

static void test_cancel_in_prefill_stops_between_batches(void **state)
{
    NEED_DATA();
    wl_context *ctx = small_batch_context(f->m, 1);
    volatile sig_atomic_t cancel = 0;
    struct prefill_log lg = {.cancel_at = 1, .cancel = &cancel};
    struct wl_hooks h = {.fn = on_prefill_event, .user_data = &lg, .depth = WL_HOOK_DEPTH_TOKEN};
    wl_context_set_hooks(ctx, &h);
    struct wl_generate_params p = greedy(20);
    p.prompt = LONG_PROMPT;
    p.cancel = &cancel;
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_generate(ctx, f->tok, &p, &r, &err), 0);
    assert_true(r.n_prompt > 12); /* at least 4 batches */
    assert_int_equal(r.stop, WL_STOP_CANCELLED);
    assert_int_equal(r.n_generated, 0);
    assert_int_equal(r.text_len, 0);
    assert_int_equal(lg.n_batches, 1);           /* stopped after the first batch */
    assert_int_equal(wl_context_n_past(ctx), 4); /* which stays in the cache */
    assert_int_equal(lg.n_phase_events, 8);      /* every phase opened and closed */
    wl_generate_result_free(&r);

    /* the flag already set: nothing runs at all */
    lg = (struct prefill_log){.cancel = &cancel};
    cancel = 1;
    assert_int_equal(wl_generate(ctx, f->tok, &p, &r, &err), 0);
    assert_int_equal(r.stop, WL_STOP_CANCELLED);
    assert_int_equal(r.n_generated, 0);
    assert_int_equal(lg.n_batches, 0);
    wl_generate_result_free(&r);

    /* not cancelled: the same text as a context running the prompt in one batch */
    cancel = 0;
    lg = (struct prefill_log){.cancel = &cancel};
    assert_int_equal(wl_generate(ctx, f->tok, &p, &r, &err), 0);
    assert_int_equal(r.stop, WL_STOP_MAX_TOKENS);
    assert_int_equal(lg.n_batches, (r.n_prompt + 3) / 4); /* the whole prompt ran */
    struct wl_generate_result ref;
    struct wl_generate_params pr = greedy(20);
    pr.prompt = LONG_PROMPT;
    assert_int_equal(wl_generate(f->ctx, f->tok, &pr, &ref, &err), 0);
    assert_int_equal(r.text_len, ref.text_len);
    assert_memory_equal(r.text, ref.text, r.text_len);
    wl_generate_result_free(&ref);
    wl_generate_result_free(&r);
    wl_context_set_hooks(ctx, NULL);
    wl_context_free(ctx);
}

static void test_cancel_in_batched_prefill(void **state)
{
    NEED_DATA();
    wl_context *ctx = small_batch_context(f->m, 2);
    volatile sig_atomic_t cancel = 0;
    struct prefill_log lg = {.cancel_at = 1, .cancel = &cancel};
    struct wl_hooks h = {.fn = on_prefill_event, .user_data = &lg, .depth = WL_HOOK_DEPTH_TOKEN};
    wl_context_set_hooks(ctx, &h);
    struct wl_generate_params p = greedy(20);
    p.cancel = &cancel;
    const char *prompts[2] = {LONG_PROMPT, "The sky"};
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 2};
    struct wl_generate_result r[2];
    struct wl_generate_batch_stats st;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_generate_batch(ctx, f->tok, &p, &bp, r, &st, &err), 0);
    assert_true(st.n_prompt > 12);
    assert_int_equal(lg.n_batches, 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].stop, WL_STOP_CANCELLED);
        assert_int_equal(r[i].n_generated, 0);
        wl_generate_result_free(&r[i]);
    }
    assert_int_equal(st.n_generated, 0);
    wl_context_set_hooks(ctx, NULL);
    wl_context_free(ctx);
}

/* The context API itself: the flag is read between batches only, and an
 * evaluation with the flag attached but clear gives the same logits. */
static void test_context_prefill_cancel_flag(void **state)
{
    NEED_DATA();
    wl_context *ctx = small_batch_context(f->m, 1);
    const int32_t n_vocab = f->m->config.vocab_size;
    int32_t toks[10];
    for (int i = 0; i < 10; i++)
        toks[i] = 1 + 37 * i % (n_vocab - 1);
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_context_prefill(ctx, toks, 10, &err), 0);
    float *ref = malloc((size_t)n_vocab * sizeof *ref);
    memcpy(ref, wl_context_logits(ctx), (size_t)n_vocab * sizeof *ref);

    volatile sig_atomic_t cancel = 0;
    wl_context_set_cancel(ctx, &cancel);
    wl_context_reset(ctx);
    assert_int_equal(wl_context_prefill(ctx, toks, 10, &err), 0);
    assert_memory_equal(wl_context_logits(ctx), ref, (size_t)n_vocab * sizeof *ref);

    cancel = 1;
    wl_context_reset(ctx);
    assert_int_equal(wl_context_prefill(ctx, toks, 10, &err), WL_ECANCELED);
    assert_non_null(strstr(err.text, "cancelled after 4 of 10 tokens"));
    assert_int_equal(wl_context_n_past(ctx), 4);
    assert_null(wl_context_logits_row(ctx, 0));
    /* a decode step is one batch: never cancelled */
    assert_int_equal(wl_context_decode(ctx, toks[4], &err), 0);
    wl_context_set_cancel(ctx, NULL);
    free(ref);
    wl_context_free(ctx);
}

static void test_eog_token_stops(void **state)
{
    NEED_DATA();
    /* find the 3rd greedy token, then declare it end-of-generation */
    struct wl_generate_params p = greedy(3);
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    int32_t ids[3];
    assert_int_equal(wl_generate(f->ctx, f->tok, &p, &r, &err), 0);
    wl_generate_result_free(&r);
    assert_int_equal(wl_context_n_past(f->ctx), 3); /* BOS + 2 decoded */
    /* the third token: run again with the id recorded through the logits */
    wl_context_reset(f->ctx);
    int32_t tok = f->m->bos_id;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wl_context_decode(f->ctx, tok, &err), 0);
        const float *l = wl_context_logits(f->ctx);
        int32_t best = 0;
        for (int32_t j = 1; j < f->m->config.vocab_size; j++)
            best = l[j] > l[best] ? j : best;
        ids[i] = tok = best;
    }
    int32_t saved_n = f->m->n_eog;
    f->m->eog_ids[f->m->n_eog++] = ids[2];
    p = greedy(50);
    assert_int_equal(wl_generate(f->ctx, f->tok, &p, &r, &err), 0);
    f->m->n_eog = saved_n;
    assert_int_equal(r.stop, WL_STOP_EOG);
    assert_int_equal(r.n_generated, 3);
    wl_generate_result_free(&r);
}

static void test_context_full_and_bad_parameters(void **state)
{
    NEED_DATA();
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = 10;
    cp.n_threads = 1;
    wl_context *small = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_context_create(f->m, &cp, &small, &err), 0);
    struct wl_generate_params p = greedy(50);
    struct wl_generate_result r;
    assert_int_equal(wl_generate(small, f->tok, &p, &r, &err), 0);
    assert_int_equal(r.stop, WL_STOP_CONTEXT_FULL);
    assert_int_equal(r.n_generated, 10); /* BOS + 9 decoded fill 10 positions, +1 from the last logits */
    wl_generate_result_free(&r);

    /* a prompt longer than the context */
    p.prompt = "Once upon a time there was a little girl named Lily who loved to play";
    assert_int_equal(wl_generate(small, f->tok, &p, &r, &err), WL_EFULL);
    assert_non_null(strstr(err.text, "does not fit"));
    assert_int_equal(r.stop, WL_STOP_ERROR); /* not a stop reason of a generation that ran */
    assert_string_equal(wl_stop_reason_name(r.stop), "error");
    wl_generate_result_free(&r);
    wl_context_free(small);

    p = greedy(0);
    assert_int_equal(wl_generate(f->ctx, f->tok, &p, &r, &err), WL_EINVAL);
    p = greedy(5);
    p.sampling.repeat_penalty = -1.0f;
    assert_int_equal(wl_generate(f->ctx, f->tok, &p, &r, &err), WL_EINVAL);
    wl_generate_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_reference_text),
        cmocka_unit_test(test_phases_tokens_and_texts),
        cmocka_unit_test(test_cancel_stops_cleanly),
        cmocka_unit_test(test_cancel_in_prefill_stops_between_batches),
        cmocka_unit_test(test_cancel_in_batched_prefill),
        cmocka_unit_test(test_context_prefill_cancel_flag),
        cmocka_unit_test(test_eog_token_stops),
        cmocka_unit_test(test_context_full_and_bad_parameters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* The decode time (t_decode_ns) covers the decode steps only, which is what
 * the decode rate divides by: token 0 is sampled from the prefill's logits
 * and is no step, so its span (the sampling, over a whole vocabulary) is
 * not in the time, while the rate counts the tokens after it (it was: the
 * clock started before token 0, so -n 2 showed half the rate). Checked on
 * a synthetic llama, alone and batched, against the clock readings of a
 * hook at the boundaries, never against a speed: the hook holds token 0's
 * span open for a few ms (reading the clock until it has moved on), and
 * the decode time must fit between token 0's end and the decode phase's
 * end, and hold every step from token 1's begin to the last token's end.
 * With one token (no step) the decode time is 0.
 */
#include "synth_fixture.h"
#include "synth_generate.h"
#include "test_support.h"

#include "engine/context.h"
#include "engine/generate.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <stdint.h>
#include <string.h>

enum { HOLD_NS = 5 * 1000 * 1000 };

/* Clock readings at the decode boundaries, taken in the hook. */
struct bounds {
    uint64_t tok0_end; /* when token 0's end event returns (after the hold) */
    uint64_t tok1_begin;
    uint64_t last_end;  /* the last TOKEN end */
    uint64_t phase_end; /* the decode phase's end */
    int n_token_ends;
};

static void on_event(void *ud, const struct wl_hook_event *ev)
{
    struct bounds *b = ud;
    if (ev->kind == WL_HOOK_PHASE && ev->phase == WL_PHASE_DECODE && !ev->begin)
        b->phase_end = wl_clock_now_ns();
    if (ev->kind != WL_HOOK_TOKEN)
        return;
    if (ev->begin) {
        if (ev->token_index == 1)
            b->tok1_begin = wl_clock_now_ns();
        return;
    }
    b->n_token_ends++;
    if (ev->token_index == 0) {
        /* token 0's span lasts at least HOLD_NS: a clock that starts
         * before it holds them in the decode time */
        const uint64_t t0 = wl_clock_now_ns();
        while (wl_clock_now_ns() - t0 < HOLD_NS)
            ;
        b->tok0_end = wl_clock_now_ns();
    }
    b->last_end = wl_clock_now_ns();
}

static void attach(wl_context *ctx, struct bounds *b)
{
    memset(b, 0, sizeof *b);
    struct wl_hooks h = {.fn = on_event, .user_data = b, .depth = WL_HOOK_DEPTH_TOKEN};
    wl_context_set_hooks(ctx, &h);
}

/* t_decode_ns lies within the decode steps' boundaries. */
static void check_decode_time(const struct bounds *b, uint64_t t_decode_ns)
{
    assert_true(b->tok0_end > 0 && b->tok1_begin > 0 && b->phase_end > 0);
    const uint64_t outer = b->phase_end - b->tok0_end, inner = b->last_end - b->tok1_begin;
    if (t_decode_ns > outer || t_decode_ns < inner)
        fail_msg("decode time %llu ns, outside [%llu, %llu] ns (token 1's begin to the last "
                 "token's end, token 0's end to the decode phase's end)",
                 (unsigned long long)t_decode_ns, (unsigned long long)inner,
                 (unsigned long long)outer);
}

static void test_decode_time_starts_after_token_0(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    wl_test_synth_load_default(&s);
    wl_context *ctx = wl_test_context_small(s.m, 32, 1);
    struct bounds b;
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};

    /* greedy, and no token ends generation: the counts are exact */
    struct wl_generate_params p = wl_test_greedy_params("A", 4);
    attach(ctx, &b);
    if (wl_generate(ctx, s.tok, &p, &r, &err) != 0)
        fail_msg("generate: %s", err.text);
    if (r.n_generated < 2)
        fail_msg("%d generated (stop: %s): no decode step to time", r.n_generated,
                 wl_stop_reason_name(r.stop));
    assert_int_equal(b.n_token_ends, r.n_generated);
    check_decode_time(&b, r.t_decode_ns);
    wl_generate_result_free(&r);

    /* one token: no decode step, no decode time (it held token 0's span) */
    p.n_predict = 1;
    attach(ctx, &b);
    if (wl_generate(ctx, s.tok, &p, &r, &err) != 0)
        fail_msg("generate: %s", err.text);
    assert_int_equal(r.n_generated, 1);
    assert_true(r.t_decode_ns == 0);
    wl_generate_result_free(&r);

    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

static void test_batch_decode_time_starts_after_round_0(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    wl_test_synth_load_default(&s);
    wl_context *ctx = wl_test_context_small(s.m, 32, 2);
    const char *prompts[] = {"A", "Hi"};
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 2};
    struct wl_generate_result r[2];
    struct wl_generate_batch_stats st;
    struct wl_errmsg err = {{0}};
    struct bounds b;

    struct wl_generate_params p = wl_test_greedy_params(NULL, 4);
    attach(ctx, &b);
    if (wl_generate_batch(ctx, s.tok, &p, &bp, r, &st, &err) != 0)
        fail_msg("generate_batch: %s", err.text);
    if (st.n_rounds < 1)
        fail_msg("no decode round ran (%d generated)", st.n_generated);
    assert_int_equal(b.n_token_ends, st.n_rounds + 1);
    check_decode_time(&b, st.t_decode_ns);
    for (int i = 0; i < 2; i++) {
        assert_true(r[i].t_decode_ns == st.t_decode_ns);
        wl_generate_result_free(&r[i]);
    }

    /* round 0 only: no decode round, no decode time */
    p.n_predict = 1;
    attach(ctx, &b);
    if (wl_generate_batch(ctx, s.tok, &p, &bp, r, &st, &err) != 0)
        fail_msg("generate_batch: %s", err.text);
    assert_int_equal(st.n_rounds, 0);
    assert_int_equal(st.n_generated, 2);
    assert_true(st.t_decode_ns == 0);
    for (int i = 0; i < 2; i++)
        wl_generate_result_free(&r[i]);

    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_time_starts_after_token_0),
        cmocka_unit_test(test_batch_decode_time_starts_after_round_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

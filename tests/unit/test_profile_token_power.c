/* ctest-labels: timing (a 300 ms token needs a sample; a loaded machine can starve the sampler) */
/* profile/recorder: an output token's power_w comes from a sample whose
 * power window lies inside the token, not only its time stamp. A fake
 * powercap package draws LOW_W while idle and HIGH_W from the moment the
 * generation's first token begins; the test drives the recorder's hook by
 * hand (no engine). A counter's power averages ~10 update periods (10 ms
 * for this 1 ms counter), so the samples taken inside the first short
 * tokens average mostly the idle power before them: those tokens were
 * stored with a power far below HIGH_W (the review saw 2 W stored for 40
 * W). Now they get none, and a token longer than the window gets HIGH_W.
 */
#include "test_support.h"

#include "fake_powercap.h"
#include "recorder_rig.h"
#include "profile/recorder.h"
#include "store/store.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOW_W 2.0
#define HIGH_W 40.0
#define N_SHORT 3     /* tokens of SHORT_MS at the start, inside the first window */
#define SHORT_MS 3    /* each shorter than the counter's ~10 ms power window */
#define LONG_MS 300   /* the last token: many windows long */
#define WINDOW_MS 10. /* the power window a correct sampler makes of a 1 ms counter */

static void emit(const struct wl_hooks *h, enum wl_hook_kind kind, bool begin, enum wl_phase p,
                 enum wl_section s)
{
    struct wl_hook_event ev = {.kind = kind, .begin = begin, .phase = p, .section = s, .layer = -1};
    h->fn(h->user_data, &ev);
}

/* Output token i: sampling lasting busy_ms, then detokenize and its end. */
static void token(const struct wl_hooks *h, int32_t i, unsigned busy_ms)
{
    struct wl_hook_event ev = {.kind = WL_HOOK_TOKEN,
                               .begin = true,
                               .phase = WL_PHASE_DECODE,
                               .layer = -1,
                               .n_tok = 1,
                               .token_index = i};
    h->fn(h->user_data, &ev);
    emit(h, WL_HOOK_SECTION, true, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    wl_clock_sleep_ns(busy_ms * 1000000ull);
    emit(h, WL_HOOK_SECTION, false, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    emit(h, WL_HOOK_SECTION, true, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    emit(h, WL_HOOK_SECTION, false, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    ev.begin = false;
    ev.token_id = 1;
    ev.text = "a";
    ev.text_len = 1;
    h->fn(h->user_data, &ev);
}

struct tokens {
    int64_t n;
    double power_w[N_SHORT + 1]; /* NAN when NULL */
};

static int token_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct tokens *t = ud;
    double pw = NAN;
    bool input = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "is_input") == 0)
            input = v[i].i != 0;
        else if (strcmp(names[i], "power_w") == 0 && v[i].type == WL_VALUE_REAL)
            pw = v[i].r;
    }
    if (!input) {
        assert_true(t->n < N_SHORT + 1);
        t->power_w[t->n++] = pw;
    }
    return 0;
}

static void test_token_power_is_averaged_inside_the_token(void **state)
{
    (void)state;
    struct wl_test_recorder_rig r;
    wl_test_recorder_rig_open(&r, LOW_W, 1000000);
    r.rp.max_output_tokens = N_SHORT + 1;
    r.rp.interval_ms = 10;
    r.rp.sample_interval_ns = 1000000; /* samples inside even the short tokens */
    struct wl_errmsg err = {{0}};
    wl_recorder *rec = NULL;
    assert_int_equal(wl_recorder_create(&r.rp, &rec, &err), 0);
    const struct wl_hooks h = wl_recorder_hooks(rec);

    /* idle samples at LOW_W, long enough for a learned window too */
    assert_int_equal(wl_recorder_baseline(rec, 0, 200000000, NULL), 0);
    assert_int_equal(wl_recorder_start(rec, NULL), 0);
    emit(&h, WL_HOOK_PHASE, true, WL_PHASE_PRE_INFERENCE, 0);
    emit(&h, WL_HOOK_PHASE, false, WL_PHASE_PRE_INFERENCE, 0);
    emit(&h, WL_HOOK_PHASE, true, WL_PHASE_DECODE, 0);
    wl_fake_powercap_reset_gap(r.fp);
    wl_fake_powercap_set_power(r.fp, 0, HIGH_W); /* before the first token begins */
    for (int32_t i = 0; i < N_SHORT; i++)
        token(&h, i, SHORT_MS);
    token(&h, N_SHORT, LONG_MS);
    emit(&h, WL_HOOK_PHASE, false, WL_PHASE_DECODE, 0);
    wl_recorder_stop(rec);
    const uint64_t gap_ns = wl_fake_powercap_max_gap_ns(r.fp);
    struct wl_recorder_finish fin = {.status = WL_RUN_COMPLETE, .response = ""};
    assert_int_equal(wl_recorder_finish(rec, &fin), 0);
    wl_recorder_free(rec);

    struct tokens t = {0};
    assert_int_equal(wl_store_foreach(r.st, r.id, WL_TABLE_TOKENS, -1, -1, token_row, &t), 0);
    wl_store_close(r.st);
    wl_fake_powercap_stop(r.fp);
    wl_test_rmtree(r.dir);
    free(r.dir);

    assert_int_equal(t.n, N_SHORT + 1);
    /* a stored power is averaged >= 90 % inside its token, all at HIGH_W:
     * at least 0.9 x HIGH_W + 0.1 x LOW_W, less what a stale file takes
     * at either end of a 10 ms window (the writer's 1 ms period: 10 %
     * each). 0.6 x HIGH_W allows a writer gap G of 0.2 x WINDOW_MS beyond
     * that; a sample reaching back into the idle power (old: ~0.3-0.7 x
     * HIGH_W for the first tokens) fails. */
    struct wl_fake_verdict v = {0};
    for (int64_t i = 0; i < t.n; i++) {
        fprintf(stderr, "token %lld: power %.3f W\n", (long long)i, t.power_w[i]);
        if (isnan(t.power_w[i]))
            continue;
        char what[64];
        snprintf(what, sizeof what, "token %lld's power (W)", (long long)i);
        wl_fake_check_range(&v, what, t.power_w[i], 0.6 * HIGH_W, 1.3 * HIGH_W, HIGH_W, gap_ns,
                            (uint64_t)(0.2 * WINDOW_MS * 1e6));
    }
    /* the long token holds whole windows: its power is known */
    assert_false(isnan(t.power_w[N_SHORT]));
    wl_fake_verdict_end(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_power_is_averaged_inside_the_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

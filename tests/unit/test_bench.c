/* engine/bench and `wattlens bench`: avg_ns and stddev_ns are whole
 * nanoseconds, the mean and the sample standard deviation of the samples
 * truncated, as llama-bench's (it computes them over uint64_t), so the csv
 * and the json (one value, printed twice) cannot disagree; the option
 * messages name the spelling that was typed (-ub and -ctk are llama-bench's,
 * --ubatch-size and --cache-type wattlens's). No timing is asserted: only
 * the arithmetic on whatever samples were measured. */
#include "test_support.h"

#include "engine/bench.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "engine/synth.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_ns_statistics_are_whole_nanoseconds(void **state)
{
    (void)state;
    struct wl_synth_params sp;
    wl_synth_default_params(&sp);
    sp.n_layers = 1, sp.dim = 32, sp.ffn = 32, sp.n_heads = 2, sp.n_kv_heads = 1;
    sp.vocab_size = 259, sp.context_length = 64;
    wl_gguf_writer *w = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_synth_model(&sp, w, &err), 0);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(wl_gguf_writer_to_memory(w, &buf, &size), 0);
    wl_gguf_writer_free(w);
    wl_model *m = NULL;
    assert_int_equal(wl_test_model_from_memory(buf, size, &m, &err), 0);

    struct wl_bench_params p = wl_bench_default_params();
    p.n_prompt = 4, p.n_gen = 2, p.reps = 7, p.n_threads = 1, p.warmup = false;
    struct wl_bench_result r[2];
    int n = 0;
    assert_int_equal(wl_bench_run(m, &p, r, &n, NULL, NULL, &err), 0);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++) {
        assert_int_equal(r[i].reps, 7);
        uint64_t sum = 0;
        for (int k = 0; k < r[i].reps; k++)
            sum += r[i].samples_ns[k];
        const uint64_t avg = sum / (uint64_t)r[i].reps; /* truncated */
        double var = 0;
        const double mean = (double)sum / r[i].reps;
        for (int k = 0; k < r[i].reps; k++)
            var += ((double)r[i].samples_ns[k] - mean) * ((double)r[i].samples_ns[k] - mean);
        const uint64_t sd = (uint64_t)sqrt(var / (r[i].reps - 1));
        /* == on the fields themselves: a fractional value is not these */
        if (!(r[i].avg_ns == avg && r[i].stddev_ns == sd))
            fail_msg("%s: avg_ns %.3f, stddev_ns %.3f; expected %llu and %llu", r[i].test,
                     (double)r[i].avg_ns, (double)r[i].stddev_ns, (unsigned long long)avg,
                     (unsigned long long)sd);
    }
    wl_model_free(m);
    free(buf);
}

/* A usage error (exit 2) of `wattlens bench ARGS` whose message holds
 * needle, and not avoid. */
static void expect_usage(const char *args, const char *needle, const char *avoid)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bench -m /nonexistent/m.gguf %s", args);
    char *out = NULL, *errs = NULL;
    const int rc = wl_test_run_cli(cmd, &out, &errs);
    if (rc != 2 || !errs || !strstr(errs, needle) || (avoid && strstr(errs, avoid)))
        fail_msg("bench %s: expected exit 2 with \"%s\", got %d: %s", args, needle, rc,
                 errs ? errs : "");
    free(out);
    free(errs);
}

static void test_option_messages_name_the_typed_spelling(void **state)
{
    (void)state;
    expect_usage("-ub", "option '-ub' needs a value", "--ubatch-size");
    expect_usage("-ctk", "option '-ctk' needs a value", "--cache-type");
    expect_usage("-ub 5x", "invalid value '5x' for -ub", NULL);
    expect_usage("--ubatch-size=5x", "invalid value '5x' for --ubatch-size", NULL);
    expect_usage("--ubatch-size 0", "invalid value '0' for --ubatch-size", NULL);
    expect_usage("-ctk q8_0", "-ctk must be f16 or f32", "--cache-type");
    expect_usage("--cache-type q8_0", "--cache-type must be f16 or f32", NULL);
    /* each as typed, also when both spellings are given */
    expect_usage("-ub 8 --ubatch-size x", "invalid value 'x' for --ubatch-size", NULL);
    expect_usage("--ubatch-size 8 -ub x", "invalid value 'x' for -ub", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ns_statistics_are_whole_nanoseconds),
        cmocka_unit_test(test_option_messages_name_the_typed_spelling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

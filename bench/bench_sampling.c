/* Token sampling cost on a 64k vocabulary. First the time of one
 * wl_token_sampler_sample (top-k, softmax, top-p 1 and min-p 0 so every kept
 * candidate goes through the whole chain, temperature 0.8, the draw) for
 * k = 40 (the default), 1000, 2048, 4096, 32768 and 0 (all: a full sort);
 * 2048 = n/32 is the largest k the bounded heap takes, 4096 is radix-sorted,
 * so those two rows show the two sides of sampling.c's threshold. Then top-k 0
 * with top-p 0.95 and min-p 0.05 (llama.cpp's defaults with top-k off),
 * the sampler against the way it sampled before the radix sort, kept as a
 * reference in tests/reference/ref_sampling.c (qsort of the whole
 * vocabulary, then each filter; test_sampling_chain checks against it): both
 * times, their ratio, and whether every draw took the same token (it must:
 * the order the filters see is the same). The generation loop books this
 * time, and its energy, to the SAMPLING section, so it must not grow faster
 * than a sort would. Prints figures; asserts nothing about time (exit 1 only
 * when a draw differs from the reference's).
 */
#include "bench_support.h"
#include "engine/sampling.h"
#include "ref_sampling.h"
#include "util/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: bench_sampling [-h | --help]\n"
    "\n"
    "Milliseconds per sampled token (wl_token_sampler_sample: top-k, softmax,\n"
    "temperature 0.8, the draw; top-p and min-p off) on random logits over a\n"
    "65536-token vocabulary, for top-k 40, 1000, 2048, 4096, 32768 and 0\n"
    "(every token; up to 2048 a bounded heap, above it a radix sort).\n"
    "Then top-k 0 with top-p 0.95 and min-p 0.05 on two kinds of logits\n"
    "(uniform, and roughly normal with a few far ahead as a language model's):\n"
    "the old full qsort (tests/reference/ref_sampling.c) against the sampler,\n"
    "ms per token, the ratio old / new, and how many draws took the same token\n"
    "(all must). Prints figures; asserts nothing about time.\n"
    "\n"
    "Environment: none read.\n"
    "\n"
    "Exit status: 0; 1 when a draw differs from the old sort's or memory fails; 2\n"
    "for any argument but -h / --help.\n"
    "\n"
    "Takes about 3 seconds.\n";

enum { VOCAB = 65536 };

/* ---- measurements --------------------------------------------------------------- */

/* Draw i of a run: the same sequence for the reference and the sampler. */
static double draw_u(int i)
{
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
    return (double)(wl_bench_xorshift64(&x) >> 11) * (1.0 / 9007199254740992.0);
}

/* Runs at least 5 draws and 0.4 s; returns ms per draw. ref != NULL: the
 * reference (tokens written to toks), else the sampler (tokens compared
 * with toks; *same counts the matches). */
static double time_draws(wl_token_sampler *s, struct wl_ref_cand *ref, const float *logits,
                         const struct wl_token_sampler_params *p, int32_t *toks, int max,
                         int *n_out, int *same)
{
    int n = 0;
    const uint64_t t0 = wl_clock_now_ns();
    uint64_t dt = 0;
    while (n < max && (n < 5 || dt < 400000000ull)) {
        if (ref) {
            toks[n] = wl_ref_sampling_sample(ref, logits, VOCAB, p, draw_u(n));
        } else {
            /* the penalty is off: logits stay as they are */
            const int32_t t = wl__token_sampler_sample_u(s, (float *)logits, draw_u(n));
            *same += t == toks[n];
        }
        n++;
        dt = wl_clock_now_ns() - t0;
    }
    *n_out = n;
    return (double)dt / 1e6 / n;
}

/* Top-k 0, top-p 0.95, min-p 0.05: the reference, then the sampler on the
 * same draws. Returns 0, or 1 when a draw differs. */
static int compare_top_p(const char *who, const char *name, const float *logits)
{
    enum { MAX_DRAWS = 4096 };
    struct wl_token_sampler_params p = wl_token_sampler_default_params();
    p.top_k = 0;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    struct wl_ref_cand *ref = malloc(VOCAB * sizeof *ref);
    int32_t *toks = malloc(MAX_DRAWS * sizeof *toks);
    wl_token_sampler *s = NULL;
    if (!ref || !toks || wl_token_sampler_create(&p, VOCAB, &s) != 0) {
        fprintf(stderr, "%s: out of memory\n", who);
        free(ref);
        free(toks);
        return 1;
    }
    int n_old = 0, n_new = 0, same = 0;
    const double old_ms = time_draws(NULL, ref, logits, &p, toks, MAX_DRAWS, &n_old, &same);
    /* the sampler draws as many as the reference did, the same u each */
    const double new_ms = time_draws(s, NULL, logits, &p, toks, n_old, &n_new, &same);
    printf("%-22s %10.3f %10.3f %8.1f %9d/%d\n", name, old_ms, new_ms, old_ms / new_ms, same,
           n_new);
    wl_token_sampler_free(s);
    free(toks);
    free(ref);
    return same == n_new ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *who = "bench_sampling";
    int args = wl_bench_args_none(argc, argv, who, usage);
    if (args >= 0)
        return args;
    float *logits = malloc(VOCAB * sizeof *logits);
    float *lm = malloc(VOCAB * sizeof *lm);
    if (!logits || !lm) {
        fprintf(stderr, "%s: out of memory\n", who);
        free(logits);
        free(lm);
        return 1;
    }
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    for (int32_t i = 0; i < VOCAB; i++)
        logits[i] = 8.0f * wl_bench_frand(&rng); /* ties too: 16 bits of randomness */
    /* a language model's: sum of 4 uniforms (roughly normal, sd ~3), one
     * token in ~1000 ahead by 12-20 */
    for (int32_t i = 0; i < VOCAB; i++) {
        float g = 0.0f;
        for (int j = 0; j < 4; j++)
            g += wl_bench_frand(&rng);
        const uint64_t r = wl_bench_xorshift64(&rng);
        lm[i] = 2.6f * g + (r % 997 == 0 ? 16.0f + 4.0f * wl_bench_frand(&rng) : 0.0f);
    }

    static const int32_t ks[] = {40, 1000, 2048, 4096, 32768, 0};
    printf("%-10s %12s %8s\n", "top-k", "ms/sample", "samples");
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        struct wl_token_sampler_params p = wl_token_sampler_default_params();
        p.top_k = ks[i];
        p.top_p = 1.0f;
        p.min_p = 0.0f;
        wl_token_sampler *s = NULL;
        if (wl_token_sampler_create(&p, VOCAB, &s) != 0) {
            fprintf(stderr, "%s: cannot create a sampler\n", who);
            free(logits);
            free(lm);
            return 1;
        }
        /* at least 5 samples and 0.4 s (the penalty is off: logits stay as they are) */
        int n = 0;
        const uint64_t t0 = wl_clock_now_ns();
        uint64_t dt = 0;
        while (n < 5 || dt < 400000000ull) {
            (void)wl_token_sampler_sample(s, logits);
            n++;
            dt = wl_clock_now_ns() - t0;
        }
        wl_token_sampler_free(s);
        char name[16];
        snprintf(name, sizeof name, ks[i] > 0 ? "%d" : "0 (all)", ks[i]);
        printf("%-10s %12.3f %8d\n", name, (double)dt / 1e6 / n, n);
    }

    printf("\ntop-k 0, top-p 0.95, min-p 0.05, temperature 0.8: ms per token\n");
    printf("%-22s %10s %10s %8s %12s\n", "logits", "old qsort", "sampler", "old/new", "same draws");
    int rc = compare_top_p(who, "uniform [-8, 8)", logits);
    rc |= compare_top_p(who, "normal sd 3, far few", lm);
    free(logits);
    free(lm);
    if (rc)
        fprintf(stderr, "%s: the sampler drew a token the reference did not\n", who);
    return rc;
}

/* Token sampling cost against top-k on a 64k vocabulary: the time of one
 * wl_token_sampler_sample (top-k, softmax, top-p 1 and min-p 0 so every kept
 * candidate goes through the whole chain, temperature 0.8, the draw) for
 * k = 40 (the default), 1000, 32768 and 0 (all: a full sort). The generation
 * loop books this time, and its energy, to the SAMPLING section, so it must
 * not grow faster than a sort would. Prints figures; asserts nothing about
 * time.
 */
#include "bench_support.h"
#include "engine/sampling.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: bench_sampling [-h | --help]\n"
    "\n"
    "Milliseconds per sampled token (wl_token_sampler_sample: top-k, softmax,\n"
    "temperature 0.8, the draw; top-p and min-p off) on random logits over a\n"
    "65536-token vocabulary, for top-k 40, 1000, 32768 and 0 (every token, a\n"
    "full sort). Prints figures; asserts nothing about time.\n"
    "\n"
    "Environment: none read.\n"
    "\n"
    "Takes about 2 seconds.\n";

enum { VOCAB = 65536 };

int main(int argc, char **argv)
{
    const char *who = "bench_sampling";
    int args = wl_bench_args_none(argc, argv, who, usage);
    if (args >= 0)
        return args;
    float *logits = malloc(VOCAB * sizeof *logits);
    if (!logits) {
        fprintf(stderr, "%s: out of memory\n", who);
        return 1;
    }
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    for (int32_t i = 0; i < VOCAB; i++)
        logits[i] = 8.0f * wl_bench_frand(&rng); /* ties too: 16 bits of randomness */

    static const int32_t ks[] = {40, 1000, 32768, 0};
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
    free(logits);
    return 0;
}

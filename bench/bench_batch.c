/* Decode throughput against batch size (issue 8).
 *
 * Generates (once, into <build>/model-cache/, the file bench_engine uses) a
 * synthetic llama shaped like a 1.1B-parameter model (22 layers, dim 2048,
 * FFN 5632, 32 heads, 4 KV heads, 32000 vocab) with `wattlens model synth`,
 * then runs the engine's tg test with 1, 2, 4, 8 and 16 sequences decoded
 * together (each step one forward pass over N tokens: every weight matrix is
 * read once per step for all sequences) and prints whole-batch decode
 * tokens/s, the gain over batch 1, and the time per step.
 * Prints figures; asserts nothing about time. Environment: WL_BENCH_TYPE
 * (q4_k default, or q8_0), WL_BENCH_GEN (decode steps, default 8),
 * WL_BENCH_REPS (default 2), WL_BENCH_THREADS (default 2).
 */
#include "bench_support.h"
#include "engine/bench.h"
#include "engine/model.h"
#include "engine/threadpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: bench_batch [-h | --help]\n"
    "\n"
    "Whole-batch decode tokens/s of the engine with 1, 2, 4, 8 and 16 sequences\n"
    "decoded together, the gain over batch 1 and the time per step, on the\n"
    "1.1B-shaped synthetic llama that bench_engine uses (generated once with\n"
    "`wattlens model synth` into the model cache below). Prints figures; asserts\n"
    "nothing about time.\n"
    "\n"
    "Environment:\n"
    "  WL_BENCH_TYPE         weight type: q4_k (default) or q8_0 (any case)\n"
    "  WL_BENCH_GEN          decode steps per test, 1..4096 (default 8)\n"
    "  WL_BENCH_REPS         repetitions, 1..100 (default 2)\n"
    "  WL_BENCH_THREADS      threads, 1..256 (default 2)\n"
    "  WL_BENCH_MODEL_CACHE  directory to generate and keep the 1.1B-shaped model in\n"
    "                        (default <build>/model-cache/; build directories can\n"
    "                        share one)\n"
    "  WL_BENCH_CLI          the wattlens CLI that generates the model (default\n"
    "                        this build's)\n"
    "\n"
    "Exit status: 0; 1 when the model could not be made or loaded, or a batch size\n"
    "failed (the larger ones are then not run); 2 for any argument but -h / --help\n"
    "and for a value of a variable above it does not take (before measuring).\n"
    "\n"
    "The first run also generates the model (then cached).\n";

int main(int argc, char **argv)
{
    int args = wl_bench_args_none(argc, argv, "bench_batch", usage);
    if (args >= 0)
        return args;
    static const char *const types[] = {"q4_k", "q8_0"};
    size_t type_index;
    if ((args = wl_bench_env_choice("bench_batch", usage, "WL_BENCH_TYPE", types,
                                    sizeof types / sizeof types[0], 0, &type_index)) >= 0)
        return args;
    const char *const type = types[type_index];
    int n_gen, reps, threads;
    if ((args = wl_bench_env_int("bench_batch", usage, "WL_BENCH_GEN", 8, 1, 4096, &n_gen)) >= 0 ||
        (args = wl_bench_env_int("bench_batch", usage, "WL_BENCH_REPS", 2, 1, WL_BENCH_MAX_REPS,
                                 &reps)) >= 0 ||
        (args = wl_bench_env_int("bench_batch", usage, "WL_BENCH_THREADS", 2, 1,
                                 WL_THREADPOOL_MAX_THREADS, &threads)) >= 0)
        return args;

    char path[1200];
    if (wl_bench_synth_1b("bench_batch", type, path, sizeof path) != 0)
        return 1; /* said why */
    wl_model *m = NULL;
    struct wl_errmsg err = {{0}};
    if (wl_model_load(path, &m, &err) != 0) {
        fprintf(stderr, "bench_batch: %s\n", err.text); /* it names the file */
        return 1;
    }
    char desc[128];
    wl_model_describe(m, desc, sizeof desc);
    printf("decode throughput by batch size: %s, %.0f MiB of weights, %d decode steps, "
           "%d repetitions, %d threads\n",
           desc, (double)m->weight_bytes / (1024.0 * 1024.0), n_gen, reps, threads);
    printf("%6s %16s %14s %14s %10s\n", "batch", "tokens/s", "stddev", "ms/step", "x batch 1");

    static const int batches[] = {1, 2, 4, 8, 16};
    double ts1 = 0.0;
    int status = 0;
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
        struct wl_bench_params p = wl_bench_default_params();
        p.n_prompt = 0;
        p.n_gen = n_gen;
        p.reps = reps;
        p.n_threads = threads;
        p.n_batch = batches[i];
        /* one warm-up (page in the weights) before the first size is enough */
        p.warmup = i == 0;
        struct wl_bench_result r[2];
        int n_out = 0;
        if (wl_bench_run(m, &p, r, &n_out, NULL, NULL, &err) != 0 || n_out != 1) {
            fprintf(stderr, "bench_batch: batch %d: %s\n", batches[i], err.text);
            status = 1;
            break;
        }
        if (batches[i] == 1)
            ts1 = r[0].avg_ts;
        const double ms_step = r[0].avg_ns / 1e6 / n_gen;
        printf("%6d %16.2f %14.2f %14.1f %9.2fx\n", batches[i], r[0].avg_ts, r[0].stddev_ts,
               ms_step, ts1 > 0 ? r[0].avg_ts / ts1 : 0.0);
        fflush(stdout);
    }
    wl_model_free(m);
    return status;
}

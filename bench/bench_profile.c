/* bench_profile: what profiling costs. The same greedy generation with no
 * recorder, and with the recorder at depth off, module, deep and deep +
 * activation statistics (each writing into a store in a temporary directory,
 * so the writer thread's cost is included), on stories260K and on a
 * 1.1B-shaped synthetic llama (22 layers, dim 2048, FFN 5632, 32/4 heads,
 * vocab 32000; Q8_0, the file bench_batch and bench_engine use, generated
 * once into <build>/model-cache/ with `wattlens model synth` -- Q8_0 because
 * the Q4_K quantizer makes synthesis ~2.5x slower, and the recorder's cost
 * depends on the shape, not the format).
 *
 * Two figures per depth, each the best of WL_BENCH_REPS (default 3):
 * - decode tokens/s (wall clock; noisy on a shared machine), and its overhead
 *   relative to depth off (targets: module <= 1 %, deep <= 5 %);
 * - CPU time per generated token with one engine thread (no worker polls):
 *   of the generating thread (CLOCK_THREAD_CPUTIME_ID over wl_generate: the
 *   hooks' and marks' cost), and of the whole process (CLOCK_PROCESS_CPUTIME_ID
 *   over the generation and the recorder's final flush: + sampler and store
 *   writer threads). What the profiler adds in work, robust to other load.
 * Environment: WL_BENCH_REPS, WL_BENCH_THREADS (default 2), WL_BENCH_BIG=0
 * skips the 1.1B-shaped model, WL_BENCH_SMALL=0 stories260K, WL_BENCH_WALL=0
 * the wall-clock pass. Never asserts.
 */
#include "bench_support.h"
#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "profile/recorder.h"
#include "store/store.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct config {
    const char *name;
    bool recorder;
    enum wl_profile_depth depth;
    bool activations;
    bool null_hook; /* no recorder: a hook that does nothing, at depth OP */
};

/* "deep, empty hook" separates the engine's own cost of depth OP (events
 * built, stages run as separate passes) from the recorder's. */
static const struct config configs[] = {
    {"no recorder", false, WL_PROFILE_OFF, false, false},
    {"off", true, WL_PROFILE_OFF, false, false},
    {"module", true, WL_PROFILE_MODULE, false, false},
    {"deep", true, WL_PROFILE_DEEP, false, false},
    {"deep+activations", true, WL_PROFILE_DEEP, true, false},
    {"deep, empty hook", false, WL_PROFILE_DEEP, false, true},
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])
#define REF 1 /* overheads are relative to depth off */

struct figures {
    double decode_tps, prefill_tps;
    double cpu_us_per_tok;    /* process CPU time per generated token */
    double engine_us_per_tok; /* CPU time of the generating thread per generated token */
};

static void empty_hook(void *user_data, const struct wl_hook_event *ev)
{
    (void)user_data;
    (void)ev;
}

/* One generation; fills *f (decode/prefill tokens/s, CPU per token). */
static int one(wl_model *m, wl_tokenizer *tok, wl_context *ctx, const struct config *c, int n_gen,
               const char *dbdir, struct figures *f)
{
    struct wl_errmsg err;
    wl_store *st = NULL;
    wl_store_run *run = NULL;
    wl_recorder *rec = NULL;
    char id[40], path[1200];
    if (c->recorder) {
        struct wl_store_params sp;
        wl_store_default_params(&sp);
        snprintf(path, sizeof path, "%s/bench.db", dbdir);
        sp.path = path;
        struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                                   .depth = wl_profile_depth_name(c->depth)};
        if (wl_store_open(&sp, &st, &err) != 0 || wl_store_run_begin(st, &info, &run, id) != 0) {
            wl_store_close(st);
            return -1;
        }
        struct wl_recorder_params rp;
        wl_recorder_default_params(&rp);
        rp.depth = c->depth;
        rp.activations = c->activations;
        rp.n_layer = m->config.n_layer;
        rp.n_head = m->config.n_head;
        rp.max_input_tokens = wl_context_n_ctx(ctx);
        rp.max_output_tokens = n_gen;
        rp.run = run;
        if (wl_recorder_create(&rp, &rec, &err) != 0) {
            fprintf(stderr, "bench_profile: %s\n", err.text);
            wl_store_close(st);
            return -1;
        }
        struct wl_hooks h = wl_recorder_hooks(rec);
        wl_context_set_hooks(ctx, &h);
        if (wl_recorder_start(rec, &err) != 0)
            fprintf(stderr, "bench_profile: %s (nothing is recorded)\n", err.text);
    } else if (c->null_hook) {
        struct wl_hooks h = {.fn = empty_hook, .depth = WL_HOOK_DEPTH_OP};
        wl_context_set_hooks(ctx, &h);
    }
    struct wl_generate_params gp = wl_generate_default_params();
    gp.prompt = "Once upon a time, there was a little girl who liked to walk in the park";
    gp.n_predict = n_gen;
    gp.sampling.temperature = 0;
    struct wl_generate_result res;
    const uint64_t cpu0 = wl_clock_process_cpu_ns(), th0 = wl_clock_thread_cpu_ns();
    int rc = wl_generate(ctx, tok, &gp, &res, &err);
    const uint64_t th1 = wl_clock_thread_cpu_ns();
    wl_context_set_hooks(ctx, NULL);
    if (rec) {
        struct wl_recorder_finish fin = {.status = WL_RUN_COMPLETE,
                                         .response = rc == 0 ? res.text : NULL};
        wl_recorder_finish(rec, &fin);
    }
    const uint64_t cpu1 = wl_clock_process_cpu_ns();
    wl_recorder_free(rec);
    wl_store_close(st);
    if (rc != 0)
        return -1;
    f->prefill_tps = res.t_prefill_ns ? res.n_prompt / ((double)res.t_prefill_ns / 1e9) : 0;
    f->decode_tps = res.t_decode_ns && res.n_generated > 1
                        ? (res.n_generated - 1) / ((double)res.t_decode_ns / 1e9)
                        : 0;
    f->cpu_us_per_tok = res.n_generated > 0 ? (double)(cpu1 - cpu0) / 1e3 / res.n_generated : 0;
    f->engine_us_per_tok = res.n_generated > 0 ? (double)(th1 - th0) / 1e3 / res.n_generated : 0;
    wl_generate_result_free(&res);
    return 0;
}

static void keep_best(struct figures *best, const struct figures *f)
{
    if (f->decode_tps > best->decode_tps)
        best->decode_tps = f->decode_tps;
    if (f->prefill_tps > best->prefill_tps)
        best->prefill_tps = f->prefill_tps;
    if (f->cpu_us_per_tok > 0 &&
        (best->cpu_us_per_tok == 0 || f->cpu_us_per_tok < best->cpu_us_per_tok))
        best->cpu_us_per_tok = f->cpu_us_per_tok;
    if (f->engine_us_per_tok > 0 &&
        (best->engine_us_per_tok == 0 || f->engine_us_per_tok < best->engine_us_per_tok))
        best->engine_us_per_tok = f->engine_us_per_tok;
}

/* Runs every configuration reps times, interleaved so drift on a shared
 * machine hits all of them; keeps the best figures. */
static int run_all(wl_model *m, wl_tokenizer *tok, int threads, int n_gen, int reps,
                   const char *dbdir, struct figures best[N_CONFIGS], const char *label)
{
    struct wl_errmsg err;
    wl_context *ctx = NULL;
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = 64 + n_gen;
    cp.n_threads = threads;
    if (wl_context_create(m, &cp, &ctx, &err) != 0) {
        printf("%s: %s\n", label, err.text);
        return -1;
    }
    memset(best, 0, sizeof(struct figures) * N_CONFIGS);
    for (int r = 0; r < reps; r++) {
        for (size_t i = 0; i < N_CONFIGS; i++) {
            struct figures f;
            if (one(m, tok, ctx, &configs[i], n_gen, dbdir, &f) == 0)
                keep_best(&best[i], &f);
            else
                printf("%s: generation failed with %s\n", label, configs[i].name);
        }
    }
    wl_context_free(ctx);
    return 0;
}

static void print_overhead(char *buf, size_t size, double ref, double v, bool higher_is_better)
{
    if (ref <= 0 || v <= 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%+.2f %%", (higher_is_better ? ref / v - 1.0 : v / ref - 1.0) * 100.0);
}

static void print_wall(const struct figures wall[N_CONFIGS], int threads, int n_gen)
{
    printf("  wall clock: %d engine threads, %d generated tokens (noisy on a shared machine)\n",
           threads, n_gen);
    printf("  %-18s %12s %13s %12s\n", "depth", "decode tok/s", "prefill tok/s", "vs off");
    for (size_t i = 0; i < N_CONFIGS; i++) {
        char ov[32];
        print_overhead(ov, sizeof ov, wall[REF].decode_tps, wall[i].decode_tps, true);
        printf("  %-18s %12.2f %13.2f %12s%s\n", configs[i].name, wall[i].decode_tps,
               wall[i].prefill_tps, i == REF ? "(reference)" : ov,
               i == 2   ? "   target <= 1 %"
               : i == 3 ? "   target <= 5 %"
                        : "");
    }
}

static void print_cpu(const struct figures cpu[N_CONFIGS], int n_gen_cpu)
{
    printf("  CPU time per generated token, 1 engine thread, %d generated tokens (robust to\n"
           "  other load): the engine thread alone (hooks, marks), and the whole process\n"
           "  (+ sampler and store writer threads: SQLite rows)\n",
           n_gen_cpu);
    printf("  %-18s %12s %10s %10s %13s %10s %10s\n", "depth", "engine us/tok", "vs off", "vs none",
           "process us/tok", "vs off", "vs none");
    for (size_t i = 0; i < N_CONFIGS; i++) {
        char eo[32], en[32], po[32], pn[32];
        print_overhead(eo, sizeof eo, cpu[REF].engine_us_per_tok, cpu[i].engine_us_per_tok, false);
        print_overhead(en, sizeof en, cpu[0].engine_us_per_tok, cpu[i].engine_us_per_tok, false);
        print_overhead(po, sizeof po, cpu[REF].cpu_us_per_tok, cpu[i].cpu_us_per_tok, false);
        print_overhead(pn, sizeof pn, cpu[0].cpu_us_per_tok, cpu[i].cpu_us_per_tok, false);
        printf("  %-18s %12.1f %10s %10s %13.1f %10s %10s\n", configs[i].name,
               cpu[i].engine_us_per_tok, i == REF ? "(ref)" : eo, i == 0 ? "" : en,
               cpu[i].cpu_us_per_tok, i == REF ? "(ref)" : po, i == 0 ? "" : pn);
    }
}

static void bench_model(const char *label, const char *path, int n_gen, int n_gen_cpu, int reps,
                        int threads)
{
    struct wl_errmsg err;
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    char dbdir[] = "/tmp/wl-bench-profile-XXXXXX";
    bool have_dir = false;
    if (wl_model_load(path, &m, &err) != 0 || wl_tok_load_gguf(m->gguf, &tok, &err) != 0) {
        printf("%s: cannot load %s: %s\n", label, path, err.text);
        goto out;
    }
    if (!mkdtemp(dbdir))
        goto out;
    have_dir = true;
    struct figures wall[N_CONFIGS], cpu[N_CONFIGS];
    const char *wall_env = getenv("WL_BENCH_WALL");
    const bool do_wall = !(wall_env && strcmp(wall_env, "0") == 0);
    if ((do_wall && run_all(m, tok, threads, n_gen, reps, dbdir, wall, label) != 0) ||
        run_all(m, tok, 1, n_gen_cpu, reps, dbdir, cpu, label) != 0)
        goto out;
    printf("\n%s (%d layers, best of %d)\n", label, m->config.n_layer, reps);
    if (do_wall)
        print_wall(wall, threads, n_gen);
    print_cpu(cpu, n_gen_cpu);
out:
    if (have_dir)
        wl_bench_rmtree("bench_profile", dbdir);
    wl_tok_free(tok);
    wl_model_free(m);
}

static const char usage[] =
    "usage: bench_profile [-h | --help]\n"
    "\n"
    "What profiling costs: the same greedy generation with no recorder and with\n"
    "the recorder at depth off, module, deep and deep + activation statistics\n"
    "(each writing into a store in a temporary directory), on stories260K and on\n"
    "the 1.1B-shaped synthetic llama (Q8_0, generated once with `wattlens model\n"
    "synth` into <build>/model-cache/). Prints decode tokens/s and its overhead\n"
    "against depth off, and CPU time per generated token; never asserts.\n"
    "\n"
    "Environment:\n"
    "  WL_BENCH_REPS     repetitions, the best of which is shown (default 3)\n"
    "  WL_BENCH_THREADS  engine threads (default 2)\n"
    "  WL_BENCH_BIG=0    skip the 1.1B-shaped model\n"
    "  WL_BENCH_SMALL=0  skip stories260K\n"
    "  WL_BENCH_WALL=0   skip the wall-clock pass\n"
    "\n"
    "The first run also generates the 1.1B-shaped model (then cached).\n";

int main(int argc, char **argv)
{
    int args = wl_bench_args_none(argc, argv, "bench_profile", usage);
    if (args >= 0)
        return args;
    const char *reps_env = getenv("WL_BENCH_REPS"), *thr_env = getenv("WL_BENCH_THREADS");
    const char *big_env = getenv("WL_BENCH_BIG");
    int reps = reps_env ? atoi(reps_env) : 3, threads = thr_env ? atoi(thr_env) : 2;
    if (reps < 1)
        reps = 1;
    if (threads < 1)
        threads = 2;
    printf("bench_profile: recorder overhead per depth (energy from whatever sensor this\n"
           "machine has; the overhead is what matters here)\n");
    const char *s260 = WL_TESTDATA_DIR "/models/stories260K.gguf";
    struct stat st;
    const char *small_env = getenv("WL_BENCH_SMALL");
    if (small_env && strcmp(small_env, "0") == 0)
        printf("stories260K: skipped (WL_BENCH_SMALL=0)\n");
    else if (stat(s260, &st) == 0)
        bench_model("stories260K", s260, 128, 128, reps, threads);
    else
        printf("stories260K: absent under %s (skipped)\n", WL_TESTDATA_DIR);
    if (big_env && strcmp(big_env, "0") == 0)
        return 0;
    char big[1200];
    if (wl_bench_synth_1b("bench_profile", "q8_0", big, sizeof big) == 0)
        bench_model("1.1B-shaped synthetic llama, Q8_0", big, 16, 8, reps, threads);
    else
        printf("1.1B-shaped model: could not be generated (skipped)\n");
    return 0;
}

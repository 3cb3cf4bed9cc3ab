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
 * - CPU time per decode step with one engine thread (no worker polls): of
 *   the generating thread (CLOCK_THREAD_CPUTIME_ID over wl_generate: the
 *   hooks' and marks' cost), and of the whole process (CLOCK_PROCESS_CPUTIME_ID
 *   over the generation and the recorder's final flush: + sampler and store
 *   writer threads). What the profiler adds in work, robust to other load.
 *   wl_generate also tokenizes the prompt, runs its prefill and samples the
 *   first token; the recorder's cost there is once per forward batch, in
 *   decode once per token, so counting them in would dilute the per-token
 *   overhead (on the 1.1B model the prefill was about half the CPU time of
 *   8 tokens). Each configuration therefore also runs with n_predict = 1,
 *   and a decode step costs (cpu(N) - cpu(1)) / (N - 1), from the best
 *   (lowest) of each over the repetitions.
 * Environment: WL_BENCH_REPS, WL_BENCH_THREADS (default 2), WL_BENCH_BIG=0
 * skips the 1.1B-shaped model, WL_BENCH_SMALL=0 stories260K, WL_BENCH_WALL=0
 * the wall-clock pass; TMPDIR (default /tmp) holds the stores. Never asserts
 * on time; exit status 1 when a model asked for was not measured (it could
 * not be generated or loaded, no temporary directory, a generation failed)
 * or nothing was.
 */
#include "bench_support.h"
#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/threadpool.h"
#include "engine/tokenizer.h"
#include "profile/recorder.h"
#include "store/store.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <errno.h>
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
    /* CPU time of one generation, whole: of the process (+ the recorder's
     * final flush) and of the generating thread; 0 when unknown */
    uint64_t process_ns, engine_ns;
    int32_t n_generated;
};

/* CPU time per decode step, in us: of the best generations of n_predict N
 * (gen) and of n_predict 1 (one), which share tokenization, prefill and the
 * first token; 0 when unknown (no decode step, or the difference is not
 * positive: noise larger than the decode). */
struct cpu_step {
    double process_us, engine_us;
};

static void empty_hook(void *user_data, const struct wl_hook_event *ev)
{
    (void)user_data;
    (void)ev;
}

/* Says on stderr that step (of a generation of n_gen tokens with config c)
 * failed, and why: "bench_profile: LABEL: CONFIG, N tokens: STEP: WHY". */
static void fail_step(const char *label, const struct config *c, int n_gen, const char *step,
                      const char *why)
{
    fprintf(stderr, "bench_profile: %s: %s, %d tokens: %s: %s\n", label, c->name, n_gen, step, why);
}

/* One generation; fills *f (decode/prefill tokens/s, CPU per token).
 * 0, or -1 after saying on stderr, prefixed "LABEL: ", which step failed
 * (store open, run begin, recorder create, generate) and why. */
static int one(wl_model *m, wl_tokenizer *tok, wl_context *ctx, const struct config *c, int n_gen,
               const char *dbdir, const char *label, struct figures *f)
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
        if (wl_store_open(&sp, &st, &err) != 0) {
            char step[sizeof path + 32];
            snprintf(step, sizeof step, "opening the store %s", path);
            fail_step(label, c, n_gen, step, err.text);
            return -1;
        }
        int brc = wl_store_run_begin(st, &info, &run, id);
        if (brc != 0) {
            const char *why = wl_store_last_error(st);
            fail_step(label, c, n_gen, "beginning a run in the store",
                      why && *why ? why : wl_strerror(brc));
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
            fail_step(label, c, n_gen, "creating the recorder", err.text);
            wl_store_close(st);
            return -1;
        }
        struct wl_hooks h = wl_recorder_hooks(rec);
        wl_context_set_hooks(ctx, &h);
        if (wl_recorder_start(rec, &err) != 0)
            fprintf(stderr, "bench_profile: %s: %s: %s (nothing is recorded)\n", label, c->name,
                    err.text);
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
    if (rc != 0) {
        fail_step(label, c, n_gen, "generating", err.text);
        return -1;
    }
    f->prefill_tps = res.t_prefill_ns ? res.n_prompt / ((double)res.t_prefill_ns / 1e9) : 0;
    f->decode_tps = res.t_decode_ns && res.n_generated > 1
                        ? (res.n_generated - 1) / ((double)res.t_decode_ns / 1e9)
                        : 0;
    f->process_ns = cpu1 - cpu0;
    f->engine_ns = th1 - th0;
    f->n_generated = res.n_generated;
    wl_generate_result_free(&res);
    return 0;
}

static void keep_best(struct figures *best, const struct figures *f)
{
    if (f->decode_tps > best->decode_tps)
        best->decode_tps = f->decode_tps;
    if (f->prefill_tps > best->prefill_tps)
        best->prefill_tps = f->prefill_tps;
    if (f->process_ns > 0 && (best->process_ns == 0 || f->process_ns < best->process_ns))
        best->process_ns = f->process_ns;
    if (f->engine_ns > 0 && (best->engine_ns == 0 || f->engine_ns < best->engine_ns))
        best->engine_ns = f->engine_ns;
    if (f->n_generated > best->n_generated)
        best->n_generated = f->n_generated;
}

static double per_step_us(uint64_t gen_ns, uint64_t one_ns, int32_t n_generated)
{
    if (n_generated < 2 || gen_ns == 0 || one_ns == 0 || gen_ns <= one_ns)
        return 0;
    return (double)(gen_ns - one_ns) / 1e3 / (n_generated - 1);
}

static struct cpu_step cpu_per_step(const struct figures *gen, const struct figures *one)
{
    return (struct cpu_step){
        .process_us = per_step_us(gen->process_ns, one->process_ns, gen->n_generated),
        .engine_us = per_step_us(gen->engine_ns, one->engine_ns, gen->n_generated),
    };
}

/* Runs every configuration reps times, interleaved so drift on a shared
 * machine hits all of them; keeps the best figures. With best_one (not
 * NULL) each configuration also runs with n_predict 1 right after, into
 * best_one: the prompt's part of a generation, for cpu_per_step. Returns
 * how many generations failed (each said on stderr by one), or -1 when the
 * context could not be made (said on stderr). */
static int run_all(wl_model *m, wl_tokenizer *tok, int threads, int n_gen, int reps,
                   const char *dbdir, struct figures best[N_CONFIGS],
                   struct figures best_one[N_CONFIGS], const char *label)
{
    struct wl_errmsg err;
    wl_context *ctx = NULL;
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = 64 + n_gen;
    cp.n_threads = threads;
    if (wl_context_create(m, &cp, &ctx, &err) != 0) {
        fprintf(stderr, "bench_profile: %s: creating the context: %s\n", label, err.text);
        return -1;
    }
    int failed = 0;
    memset(best, 0, sizeof(struct figures) * N_CONFIGS);
    if (best_one)
        memset(best_one, 0, sizeof(struct figures) * N_CONFIGS);
    for (int r = 0; r < reps; r++) {
        for (size_t i = 0; i < N_CONFIGS; i++) {
            struct figures f;
            if (one(m, tok, ctx, &configs[i], n_gen, dbdir, label, &f) == 0)
                keep_best(&best[i], &f);
            else
                failed++;
            if (!best_one)
                continue;
            if (one(m, tok, ctx, &configs[i], 1, dbdir, label, &f) == 0)
                keep_best(&best_one[i], &f);
            else
                failed++;
        }
    }
    wl_context_free(ctx);
    return failed;
}

static void print_overhead(char *buf, size_t size, double ref, double v, bool higher_is_better)
{
    if (ref <= 0 || v <= 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%+.2f %%", (higher_is_better ? ref / v - 1.0 : v / ref - 1.0) * 100.0);
}

/* The tokens the configurations generated (the most of any; an end of
 * generation may stop them before n_gen), or n_gen when none ran: what a
 * table's header states. */
static int32_t n_generated_of(const struct figures f[N_CONFIGS], int n_gen)
{
    int32_t n = 0;
    for (size_t i = 0; i < N_CONFIGS; i++)
        if (f[i].n_generated > n)
            n = f[i].n_generated;
    return n > 0 ? n : n_gen;
}

static void print_wall(const struct figures wall[N_CONFIGS], int threads, int n_gen)
{
    printf("  wall clock: %d engine threads, %d generated tokens (noisy on a shared machine)\n",
           threads, (int)n_generated_of(wall, n_gen));
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

static void print_cpu(const struct figures gen[N_CONFIGS], const struct figures one_tok[N_CONFIGS],
                      int n_gen)
{
    const int n = (int)n_generated_of(gen, n_gen);
    struct cpu_step c[N_CONFIGS];
    for (size_t i = 0; i < N_CONFIGS; i++)
        c[i] = cpu_per_step(&gen[i], &one_tok[i]);
    printf("  CPU time per decode step, 1 engine thread (robust to other load): the engine\n"
           "  thread alone (hooks, marks), and the whole process (+ sampler and store writer\n"
           "  threads: SQLite rows); (cpu(%d tokens) - cpu(1 token)) / %d decode steps, so\n"
           "  tokenizing, the prefill and the first token are not in it\n",
           n, n - 1);
    printf("  %-18s %13s %10s %10s %14s %10s %10s\n", "depth", "engine us/step", "vs off",
           "vs none", "process us/step", "vs off", "vs none");
    for (size_t i = 0; i < N_CONFIGS; i++) {
        char eo[32], en[32], po[32], pn[32], ev[32], pv[32];
        print_overhead(eo, sizeof eo, c[REF].engine_us, c[i].engine_us, false);
        print_overhead(en, sizeof en, c[0].engine_us, c[i].engine_us, false);
        print_overhead(po, sizeof po, c[REF].process_us, c[i].process_us, false);
        print_overhead(pn, sizeof pn, c[0].process_us, c[i].process_us, false);
        snprintf(ev, sizeof ev, c[i].engine_us > 0 ? "%.1f" : "-", c[i].engine_us);
        snprintf(pv, sizeof pv, c[i].process_us > 0 ? "%.1f" : "-", c[i].process_us);
        printf("  %-18s %13s %10s %10s %14s %10s %10s\n", configs[i].name, ev,
               i == REF ? "(ref)" : eo, i == 0 ? "" : en, pv, i == REF ? "(ref)" : po,
               i == 0 ? "" : pn);
    }
}

/* Measures one model; 0, or -1 after saying on stderr why it could not. */
static int bench_model(const char *label, const char *path, int n_gen, int n_gen_cpu, int reps,
                       int threads, bool do_wall)
{
    struct wl_errmsg err;
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    char dbdir[1100];
    bool have_dir = false;
    int rc = -1;
    if (wl_model_load(path, &m, &err) != 0 || wl_tok_load_gguf(m->gguf, &tok, &err) != 0) {
        fprintf(stderr, "bench_profile: %s: cannot load it: %s\n", label, err.text);
        goto out;
    }
    if (wl_bench_mkdtemp("bench_profile", "wl-bench-profile", dbdir, sizeof dbdir) != 0)
        goto out;
    have_dir = true;
    struct figures wall[N_CONFIGS], cpu[N_CONFIGS], cpu_one[N_CONFIGS];
    int wall_failed = do_wall ? run_all(m, tok, threads, n_gen, reps, dbdir, wall, NULL, label) : 0;
    int cpu_failed =
        wall_failed < 0 ? -1 : run_all(m, tok, 1, n_gen_cpu, reps, dbdir, cpu, cpu_one, label);
    if (wall_failed < 0 || cpu_failed < 0) {
        fprintf(stderr, "bench_profile: %s: not measured (said above)\n", label);
        goto out;
    }
    /* what did run is printed; a generation that failed makes the model
     * count as not measured (its row is "-", or a best of fewer) */
    printf("\n%s (%d layers, best of %d)\n", label, m->config.n_layer, reps);
    if (do_wall)
        print_wall(wall, threads, n_gen);
    print_cpu(cpu, cpu_one, n_gen_cpu);
    if (wall_failed + cpu_failed > 0) {
        fprintf(stderr,
                "bench_profile: %s: %d generation(s) failed (said above): not fully measured\n",
                label, wall_failed + cpu_failed);
        goto out;
    }
    rc = 0;
out:
    if (have_dir)
        wl_bench_rmtree("bench_profile", dbdir);
    wl_tok_free(tok);
    wl_model_free(m);
    return rc;
}

static const char usage[] =
    "usage: bench_profile [-h | --help]\n"
    "\n"
    "What profiling costs: the same greedy generation with no recorder and with\n"
    "the recorder at depth off, module, deep and deep + activation statistics\n"
    "(each writing into a store in a temporary directory), on stories260K and on\n"
    "the 1.1B-shaped synthetic llama (Q8_0, generated once with `wattlens model\n"
    "synth` into the model cache below). Prints decode tokens/s and its overhead\n"
    "against depth off, and CPU time per decode step (each configuration also\n"
    "runs with one token, whose CPU time -- tokenizing, prefill, first token --\n"
    "is taken off); never asserts.\n"
    "\n"
    "Environment:\n"
    "  WL_BENCH_REPS         repetitions, the best of which is shown, 1..100\n"
    "                        (default 3)\n"
    "  WL_BENCH_THREADS      engine threads, 1..256 (default 2)\n"
    "  WL_BENCH_BIG=0        skip the 1.1B-shaped model\n"
    "  WL_BENCH_SMALL=0      skip stories260K\n"
    "  WL_BENCH_WALL=0       skip the wall-clock pass (these three switches take\n"
    "                        0, no, false or 1, yes, true; default 1)\n"
    "  TMPDIR                where the temporary stores go (default /tmp)\n"
    "  WL_BENCH_MODEL_CACHE  directory to generate and keep the 1.1B-shaped model in\n"
    "                        (default <build>/model-cache/; build directories can\n"
    "                        share one)\n"
    "  WL_BENCH_CLI          the wattlens CLI that generates the model (default\n"
    "                        this build's)\n"
    "  WATTLENS_*            the recorder's sensors read the variables wattlens\n"
    "                        reads (WATTLENS_SYSFS_ROOT, ...; README)\n"
    "\n"
    "Exit status: 0; 1 when a model asked for was not measured (it could not be\n"
    "generated or loaded, no temporary directory, a generation failed, each said on\n"
    "stderr), or none was; 2 for any argument but -h / --help, and for a value of a\n"
    "variable above it does not take (before anything runs).\n"
    "\n"
    "The first run also generates the 1.1B-shaped model (then cached).\n";

int main(int argc, char **argv)
{
    int args = wl_bench_args_none(argc, argv, "bench_profile", usage);
    if (args >= 0)
        return args;
    int reps, threads;
    bool big, small, wall;
    if ((args = wl_bench_env_int("bench_profile", usage, "WL_BENCH_REPS", 3, 1, 100, &reps)) >= 0 ||
        (args = wl_bench_env_int("bench_profile", usage, "WL_BENCH_THREADS", 2, 1,
                                 WL_THREADPOOL_MAX_THREADS, &threads)) >= 0 ||
        (args = wl_bench_env_switch("bench_profile", usage, "WL_BENCH_BIG", true, &big)) >= 0 ||
        (args = wl_bench_env_switch("bench_profile", usage, "WL_BENCH_SMALL", true, &small)) >= 0 ||
        (args = wl_bench_env_switch("bench_profile", usage, "WL_BENCH_WALL", true, &wall)) >= 0)
        return args;
    printf("bench_profile: recorder overhead per depth (energy from whatever sensor this\n"
           "machine has; the overhead is what matters here)\n");
    const char *s260 = WL_TESTDATA_DIR "/models/stories260K.gguf";
    struct stat st;
    int failed = 0, measured = 0;
    if (!small)
        printf("stories260K: skipped (WL_BENCH_SMALL=%s)\n", getenv("WL_BENCH_SMALL"));
    else if (stat(s260, &st) == 0)
        bench_model("stories260K", s260, 128, 128, reps, threads, wall) == 0 ? measured++
                                                                             : failed++;
    else
        printf("stories260K: absent under %s (skipped)\n", WL_TESTDATA_DIR);
    if (big) {
        char big_path[1200];
        if (wl_bench_synth_1b("bench_profile", "q8_0", big_path, sizeof big_path) != 0) {
            fprintf(stderr, "bench_profile: the 1.1B-shaped model: none to measure (said above)\n");
            failed++;
        } else if (bench_model("1.1B-shaped synthetic llama, Q8_0", big_path, 16, 8, reps, threads,
                               wall) == 0) {
            measured++;
        } else {
            failed++;
        }
    }
    if (failed || !measured) {
        fprintf(stderr, "bench_profile: %s\n",
                failed ? "a model asked for was not measured (see above)" : "nothing measured");
        return 1;
    }
    return 0;
}

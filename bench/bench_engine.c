/* Engine throughput against the machine's physical limit.
 *
 * Generates (once, into <build>/model-cache/) a synthetic llama shaped like a
 * 1.1B-parameter model (22 layers, dim 2048, FFN 5632, 32 heads, 4 KV heads,
 * 32000 vocab) at Q8_0 and Q4_K with `wattlens model synth`, runs
 * `wattlens bench -t 2 -o json` on each, measures this machine's memory read
 * bandwidth, and prints decode tokens/s as a fraction of the bandwidth limit:
 *
 *     limit tok/s = bandwidth / bytes read per token
 *     bytes read per token = weights a decode token reads (every matrix
 *                            once, but only the token's row of the
 *                            embedding table: wl_model.decode_bytes)
 *                            + mean KV-cache bytes read over the test
 *
 * On a shared machine the bandwidth moves by 2x within seconds, so one
 * reading before a minute of benchmarking says little about the minute.
 * The fraction is therefore measured in paired rounds: each round measures
 * the bandwidth, decodes tg128 once (`wattlens bench -p 0 -n 128 -r 1`),
 * and measures the bandwidth again; the round's limit uses the HIGHER of
 * its two readings (the conservative choice: it can only lower the
 * fraction). Every reading of the limit reads a buffer of as many bytes as
 * one decode token reads (best of 3 passes of each of two read variants):
 * the rate at which this machine reads a token's bytes. A short probe
 * reads faster than a token-sized read (docs/internals/kernels-decode.md, session
 * 11): 128 MiB read 1.04-1.08x a 640 MiB-1 GiB buffer, best of 3 each.
 * Re-reading one buffer is partly served by the cache (64 MiB: 1.13x fresh
 * windows; 128 MiB: 1.01-1.04x), and the best of many short fresh passes
 * was 8 % above the best of a few long ones at equal means (short passes
 * vary more; that comparison had 8x more short passes, so it does not
 * separate variance from sample count). Every round and the median round
 * are printed, as a cross-check of the finer measurement below, which is
 * the headline. Before that, one llama-bench-style run (pp512 + tg128, -r repetitions)
 * prints the usual table figures and the bench process's peak RSS next to
 * file size + KV cache.
 * Those rounds still span ~1.5 s of decode plus a process start each, and
 * the bandwidth swings inside them (a round whose higher reading came at a
 * quiet moment compares the whole round's decode against that moment). So
 * a second, finer measurement runs in this process, on one loaded model and
 * one context: interleaved segments of WL_BENCH_SEG_TOKENS decode steps
 * (default 8, ~0.1 s), each between two bandwidth readings (a token's
 * bytes, best of 3, ~0.1 s), the limit again from the HIGHER reading, and
 * bytes per token counting the KV cache at each step's own position. A
 * 128 MiB reading (the limit of sessions 7-10) is taken next to each and
 * the segments are also set against it, for comparison. The context restarts
 * every tg128 (16 segments), as llama-bench's tg128 runs from an empty one.
 * The pools of the probe and of the engine are separate: each phase waits
 * 20 ms first, meant to outlast the other pool's idle polling (4096 polls,
 * most of them sched_yield, then sleep; not checked per run). The
 * median segment is the headline; quartiles and extremes are printed, with
 * the share of the weights on 2 MiB pages, and the medians of the segments
 * whose limit was in the lower and in the upper half of the readings (the
 * bandwidth's two states; see bw_split). For comparison only, the same
 * segments are also set against the mean (not the best) of the readings
 * around them: decode is a mean over its steps, the headline's limit a
 * best of 12 short passes (docs/internals/kernels-decode.md, sessions 8 and 9).
 * Next to each reading, the round trip of a cache line between two cores
 * (wl_corelat_measure, two pinned threads) tells how far apart the two
 * cores were, and the segments are also split by it. Session 15 saw the
 * development VM's two bandwidth states go with two core distances, with
 * a probe that also gave false readings; whether the pinned probe
 * separates them is not yet measured (session 16).
 * Prints figures; asserts nothing about time. Environment: WL_BENCH_REPS
 * (default 3), WL_BENCH_ROUNDS (paired rounds, default 5), WL_BENCH_SEGMENTS
 * (interleaved segments, default 32), WL_BENCH_SEG_TOKENS (default 8),
 * WL_BENCH_THREADS (default 2; the bandwidth is read with as many threads,
 * so 1 sets one core against its own read, a stand-in for the high state:
 * docs/internals/kernels-decode-far.md, session 17), WL_BENCH_TYPES (default
 * "q8_0,q4_k"; an item that is neither is an error, exit 2, before any
 * measuring).
 * Exit status 1 when a type asked for measured nothing or only part (its
 * model could not be generated or loaded, `wattlens bench` failed, every
 * paired round or the interleaved segments failed): `make bench` then
 * reports the failure instead of a table with holes.
 */
#include "bench_support.h"
#include "engine/bench.h"
#include "engine/context.h"
#include "engine/kernels/membw.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/threadpool.h"
#include "util/clock.h"
#include "util/hugepage.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strncasecmp */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs argv (no shell), captures stdout, and returns the child's own peak
 * RSS in KiB (wait4, so earlier children such as synth do not count). */
static char *run_capture(char *const argv[], long *maxrss_kib)
{
    int fds[2];
    if (pipe(fds) != 0)
        return NULL;
    pid_t pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while (buf && (n = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    close(fds[0]);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    wait4(pid, &st, 0, &ru);
#ifdef __APPLE__
    *maxrss_kib = ru.ru_maxrss / 1024; /* bytes on macOS, KiB on Linux */
#else
    *maxrss_kib = ru.ru_maxrss;
#endif
    if (!buf || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Puts the model file in the page cache as 2 MiB pages, as a file read in
 * fresh (after a reboot, or evicted) through the engine's mapping would be:
 * a freshly written file (synth) sits in small page-cache pages, which the
 * engine cannot map as huge pages. Evicts the file's clean, unmapped pages,
 * maps it advised for huge pages (as wl_gguf_open does), touches every page
 * and prints how much of it ended up on huge pages. */
static void page_in_huge(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    const size_t len = (size_t)st.st_size;
#ifdef POSIX_FADV_DONTNEED /* not on macOS: the file's cached pages stay as they are */
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
#endif
    volatile const char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return;
    wl_hugepage_advise((void *)p, len);
    for (size_t o = 0; o < len; o += 4096)
        (void)p[o]; /* volatile: every page is really read */
    uint64_t rss = 0, huge = 0;
    if (wl_hugepage_mapped_bytes((const void *)p, &rss, &huge) == 0)
        printf("  model file paged in: %.1f MiB resident, %.1f %% on 2 MiB pages\n",
               (double)rss / 1048576.0, rss ? 100.0 * (double)huge / (double)rss : 0.0);
    munmap((void *)p, len);
}

/* A bandwidth reading with a pool of its own (destroyed before the engine
 * runs, so that no idle worker polls beside it): of the kept buffer b, or
 * when b is NULL of a fresh one of `bytes` (0: the default). */
static int measure_bw(int threads, const struct wl_membw_buf *b, size_t bytes, int reps,
                      struct wl_membw_result *out)
{
    struct wl_threadpool *pool = NULL;
    if (wl_threadpool_create(threads, &pool) != 0)
        return -1;
    int rc = b ? wl_membw_measure_buf(pool, b, reps, out)
               : wl_membw_measure_read(pool, bytes, reps, out);
    wl_threadpool_destroy(pool);
    return rc;
}

/* One `wattlens bench` run; fills the pp / tg means, standard deviations and
 * best tg repetition (0 when the run has no such test). */
struct bench_run {
    double pp, pp_sd, tg, tg_sd, tg_best;
    long rss_kib;
};

static int run_bench(const char *cli, const char *path, int n_prompt, int n_gen, int reps,
                     int threads, struct bench_run *r)
{
    char a_p[16], a_n[16], a_r[16], a_t[16];
    snprintf(a_p, sizeof a_p, "%d", n_prompt);
    snprintf(a_n, sizeof a_n, "%d", n_gen);
    snprintf(a_r, sizeof a_r, "%d", reps);
    snprintf(a_t, sizeof a_t, "%d", threads);
    char *const argv[] = {(char *)cli, "bench", "-m", (char *)path, "-p", a_p, "-n", a_n, "-r", a_r,
                          "-t", a_t, "-o", "json", NULL};
    memset(r, 0, sizeof *r);
    char *out = run_capture(argv, &r->rss_kib);
    if (!out)
        return -1;
    json_error_t je;
    json_t *arr = json_loads(out, 0, &je);
    free(out);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return -1;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        double avg = json_real_value(json_object_get(o, "avg_ts"));
        double sd = json_real_value(json_object_get(o, "stddev_ts"));
        if (json_integer_value(json_object_get(o, "n_gen")) > 0) {
            r->tg = avg;
            r->tg_sd = sd;
            size_t k;
            json_t *v;
            json_array_foreach(json_object_get(o, "samples_ts"), k, v)
            {
                if (json_real_value(v) > r->tg_best)
                    r->tg_best = json_real_value(v);
            }
        } else {
            r->pp = avg;
            r->pp_sd = sd;
        }
    }
    json_decref(arr);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Bandwidth reading for the paired rounds: a token's bytes, best of 3. */
#define ROUND_BW_REPS 3
#define MAX_ROUNDS 50

/* Bandwidth readings between interleaved segments, best of 3 each: the limit
 * reads a buffer of as many bytes as one decode token reads (the model's
 * decode bytes, rounded up to 2 MiB); a 128 MiB one (4x a 32 MiB L3; the
 * limit of sessions 7-10) is read too and printed for comparison. */
#define SEG_BW_BYTES ((size_t)128 << 20)
#define SEG_BW_REPS 3
#define MAX_SEGMENTS 256
/* a context restart every this many decode steps (llama-bench's tg128) */
#define SEG_RESTART 128

/* wait before each phase, so that the idle pool's workers are asleep */
#define SEG_QUIET_NS 20000000ull

/* median of n >= 1 sorted values */
static double median_sorted(const double *v, int n)
{
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* What the interleaved measurement gives, per segment and overall. */
struct seg_result {
    double frac[MAX_SEGMENTS];       /* decode tok/s / limit from the higher best reading */
    double frac_mean[MAX_SEGMENTS];  /* the same against the mean of the two mean readings */
    double frac_short[MAX_SEGMENTS]; /* frac, from the 128 MiB readings instead */
    double bw[MAX_SEGMENTS];         /* each segment's limit: the higher best reading, GB/s */
    double bw_lo, bw_hi;             /* lowest and highest best reading (token-sized) */
    double bw_short_lo, bw_short_hi; /* the same of the 128 MiB readings */
    double huge_fraction;            /* weights on 2 MiB pages after the warm-up; -1 unknown */
    double rt_before[MAX_SEGMENTS];  /* core round trip at the readings before, ns; < 0 unknown */
    double rt_after[MAX_SEGMENTS];   /* ... and after the segment */
};

/* The readings between two segments: the short one first, then the
 * token-sized one, each after a quiet wait; then the core round trip. */
static int seg_readings(struct wl_threadpool *pool, const struct wl_membw_buf *tok,
                        const struct wl_membw_buf *shrt, struct wl_membw_result *rt,
                        struct wl_membw_result *rs, double *core_rt_ns)
{
    wl_clock_sleep_ns(SEG_QUIET_NS);
    if (wl_membw_measure_buf(pool, shrt, SEG_BW_REPS, rs) != 0)
        return -1;
    if (wl_membw_measure_buf(pool, tok, SEG_BW_REPS, rt) != 0)
        return -1;
    wl_clock_sleep_ns(SEG_QUIET_NS);
    *core_rt_ns = wl_bench_core_roundtrip_ns();
    return 0;
}

static double max2(double a, double b)
{
    return a > b ? a : b;
}

static double min2(double a, double b)
{
    return a < b ? a : b;
}

/* One segment's fraction with its limit, for the split by bandwidth. */
struct seg_bw {
    double bw, frac;
};

static int cmp_seg_bw(const void *a, const void *b)
{
    double x = ((const struct seg_bw *)a)->bw, y = ((const struct seg_bw *)b)->bw;
    return x < y ? -1 : x > y;
}

/* The segments whose limit was in the lower half of the readings, or the
 * upper half: their limits' range and median fraction. This machine's read
 * bandwidth moves between states (~40-48 and ~65-80 GB/s), and Q4_K decode
 * keeps up with the lower much better than with the higher
 * (docs/internals/kernels-decode.md, session 11, and kernels-decode-far.md, session 12). */
struct bw_half {
    double bw_lo, bw_hi, median;
};

/* Fills h[0] (lower half) and h[1] (upper half) from the first n segments
 * of r, before r->frac is sorted; returns false when n < 4. */
static bool bw_split(const struct seg_result *r, int n, struct bw_half h[2])
{
    if (n < 4)
        return false;
    static struct seg_bw v[MAX_SEGMENTS];
    static double f[MAX_SEGMENTS];
    for (int i = 0; i < n; i++)
        v[i] = (struct seg_bw){r->bw[i], r->frac[i]};
    qsort(v, (size_t)n, sizeof v[0], cmp_seg_bw);
    const int half = n / 2;
    for (int p = 0; p < 2; p++) {
        const int b = p ? n - half : 0, e = b + half;
        for (int i = b; i < e; i++)
            f[i - b] = v[i].frac;
        qsort(f, (size_t)half, sizeof f[0], cmp_double);
        h[p] = (struct bw_half){v[b].bw, v[e - 1].bw, median_sorted(f, half)};
    }
    return true;
}

/* The segments whose core round trips before and after were both below
 * WL_BENCH_FAR_RT_NS (near, d = 0) or both at or above it (far, d = 1): how many, the
 * median fraction (0 when none) and the round trips' range. Call before
 * r->frac is sorted. Returns the number of segments in neither group. */
struct dist_group {
    int n;
    double median, rt_lo, rt_hi;
};

static int dist_split(const struct seg_result *r, int n, struct dist_group g[2])
{
    static double f[2][MAX_SEGMENTS];
    int mixed = 0;
    g[0] = g[1] = (struct dist_group){0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        const double a = r->rt_before[i], b = r->rt_after[i];
        const int d = wl_bench_core_distance(a, b);
        if (d < 0) {
            mixed++;
            continue;
        }
        struct dist_group *x = &g[d];
        const double lo = min2(a, b), hi = max2(a, b);
        x->rt_lo = x->n ? min2(x->rt_lo, lo) : lo;
        x->rt_hi = x->n ? max2(x->rt_hi, hi) : hi;
        f[d][x->n++] = r->frac[i];
    }
    for (int d = 0; d < 2; d++) {
        if (g[d].n > 0) {
            qsort(f[d], (size_t)g[d].n, sizeof f[d][0], cmp_double);
            g[d].median = median_sorted(f[d], g[d].n);
        }
    }
    return mixed;
}

/* The interleaved measurement (see the top of this file): fills r with each
 * segment's decode tokens/s as a fraction of its limit and returns how many
 * segments ran (< 0 on a setup failure). kv_per_pos: K and V bytes one
 * decode step reads per cached position (all layers). tok: the token-sized
 * probe buffer; shrt: the 128 MiB one. */
static int interleaved_segments(const char *path, int threads, int n_seg, int seg_tokens,
                                double kv_per_pos, const struct wl_membw_buf *tok,
                                const struct wl_membw_buf *shrt, struct seg_result *r)
{
    wl_model *m = NULL;
    wl_context *ctx = NULL;
    struct wl_threadpool *pool = NULL;
    struct wl_errmsg err = {{0}};
    int n_ok = -1;
    if (wl_model_load(path, &m, &err) != 0) {
        printf("  interleaved segments: %s\n", err.text);
        return -1;
    }
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = SEG_RESTART;
    cp.n_threads = threads;
    if (wl_context_create(m, &cp, &ctx, &err) != 0 || wl_threadpool_create(threads, &pool) != 0) {
        printf("  interleaved segments: %s\n", err.text[0] ? err.text : "setup failed");
        goto out;
    }
    const int32_t vocab = m->config.vocab_size;
    /* warm-up: one segment untimed */
    for (int i = 0; i < seg_tokens; i++)
        if (wl_context_decode(ctx, (int32_t)((7919u * (unsigned)i) % (unsigned)vocab), &err) != 0)
            goto out;
    wl_context_reset(ctx);
    uint64_t res = 0, huge = 0;
    r->huge_fraction =
        wl_model_weight_pages(m, &res, &huge) == 0 && res > 0 ? (double)huge / (double)res : -1.0;
    struct wl_membw_result before, after, before_s, after_s;
    double rt_before = -1, rt_after = -1;
    if (seg_readings(pool, tok, shrt, &before, &before_s, &rt_before) != 0)
        goto out;
    r->bw_lo = r->bw_hi = before.best_gbps;
    r->bw_short_lo = r->bw_short_hi = before_s.best_gbps;
    n_ok = 0;
    int32_t pos = 0;
    for (int s = 0; s < n_seg; s++) {
        if (pos + seg_tokens > SEG_RESTART) {
            wl_context_reset(ctx);
            pos = 0;
        }
        double kv = 0; /* KV bytes the segment's steps read: step at position p reads p + 1 */
        wl_clock_sleep_ns(SEG_QUIET_NS);
        const uint64_t t0 = wl_clock_now_ns();
        for (int i = 0; i < seg_tokens; i++, pos++) {
            kv += (double)(pos + 1) * kv_per_pos;
            unsigned id = (2654435761u * (unsigned)(s * seg_tokens + i + 1)) % (unsigned)vocab;
            if (wl_context_decode(ctx, (int32_t)id, &err) != 0) {
                printf("  interleaved segments: %s\n", err.text);
                goto out;
            }
        }
        const double dt = (double)(wl_clock_now_ns() - t0) * 1e-9;
        if (seg_readings(pool, tok, shrt, &after, &after_s, &rt_after) != 0 || dt <= 0)
            goto out;
        const double hi = max2(before.best_gbps, after.best_gbps);
        const double hi_s = max2(before_s.best_gbps, after_s.best_gbps);
        const double mean = 0.5 * (before.mean_gbps + after.mean_gbps);
        const double bytes_per_tok = (double)m->decode_bytes + kv / seg_tokens;
        const double tok_s = (double)seg_tokens / dt;
        r->rt_before[n_ok] = rt_before;
        r->rt_after[n_ok] = rt_after;
        r->bw[n_ok] = hi;
        r->frac[n_ok] = tok_s / (hi * 1e9 / bytes_per_tok);
        r->frac_short[n_ok] = tok_s / (hi_s * 1e9 / bytes_per_tok);
        r->frac_mean[n_ok++] = tok_s / (mean * 1e9 / bytes_per_tok);
        r->bw_lo = min2(after.best_gbps, r->bw_lo);
        r->bw_hi = max2(after.best_gbps, r->bw_hi);
        r->bw_short_lo = min2(after_s.best_gbps, r->bw_short_lo);
        r->bw_short_hi = max2(after_s.best_gbps, r->bw_short_hi);
        before = after;
        before_s = after_s;
        rt_before = rt_after;
    }
out:
    wl_threadpool_destroy(pool);
    wl_context_free(ctx);
    wl_model_free(m);
    return n_ok;
}

/* The weight types the bench runs, as WL_BENCH_TYPES names them. */
static const char *const all_types[] = {"q8_0", "q4_k"};
#define N_TYPES (sizeof all_types / sizeof all_types[0])

static const char usage[] =
    "usage: bench_engine [-h | --help]\n"
    "\n"
    "Engine decode throughput as a fraction of this machine's memory-bandwidth\n"
    "limit, on a synthetic llama shaped like a 1.1B-parameter model (Q8_0 and Q4_K,\n"
    "generated once with `wattlens model synth` into the model cache below): a\n"
    "llama-bench-style pp512 + tg128 run with the bench process's peak RSS, paired\n"
    "rounds (bandwidth, one tg128 process, bandwidth), and the headline: the median\n"
    "of interleaved in-process segments of decode between bandwidth readings.\n"
    "Prints figures; asserts nothing about time.\n"
    "\n"
    "Environment:\n"
    "  WL_BENCH_REPS         repetitions of the llama-bench-style run, 1..100\n"
    "                        (default 3)\n"
    "  WL_BENCH_ROUNDS       paired rounds, 1..50 (default 5)\n"
    "  WL_BENCH_SEGMENTS     interleaved segments, 1..256 (default 32)\n"
    "  WL_BENCH_SEG_TOKENS   decode steps per segment, 1..128 (default 8)\n"
    "  WL_BENCH_THREADS      engine threads, and threads reading the bandwidth,\n"
    "                        1..256 (default 2)\n"
    "  WL_BENCH_TYPES        weight types to run (default \"q8_0,q4_k\"; any case)\n"
    "  WL_BENCH_MODEL_CACHE  directory to generate and keep the 1.1B-shaped model in\n"
    "                        (default <build>/model-cache/; build directories can\n"
    "                        share one)\n"
    "  WL_BENCH_CLI          the wattlens CLI that generates the models and runs\n"
    "                        `wattlens bench` (default this build's; another build's\n"
    "                        to compare two)\n"
    "\n"
    "Exit status: 0; 1 when a type measured nothing or only part (its model could\n"
    "not be made or loaded, `wattlens bench` failed, ...) or the bandwidth could\n"
    "not be read; 2 for a bad argument, WL_BENCH_TYPES item or value of a variable\n"
    "above (before measuring).\n"
    "\n"
    "Takes minutes: the first run generates the models (then cached); per type,\n"
    "each paired round is ~1.5 s of decode plus a process start, and each segment\n"
    "~0.1 s of decode between bandwidth readings of ~0.1 s.\n";

int main(int argc, char **argv)
{
    int args = wl_bench_args_none(argc, argv, "bench_engine", usage);
    if (args >= 0)
        return args;
    const char *cli = wl_bench_cli_path();
    const char *types_env = getenv("WL_BENCH_TYPES");
    int n_seg, seg_tokens, reps, rounds, threads;
    if ((args = wl_bench_env_int("bench_engine", usage, "WL_BENCH_SEGMENTS", 32, 1, MAX_SEGMENTS,
                                 &n_seg)) >= 0 ||
        (args = wl_bench_env_int("bench_engine", usage, "WL_BENCH_SEG_TOKENS", 8, 1, SEG_RESTART,
                                 &seg_tokens)) >= 0 ||
        (args = wl_bench_env_int("bench_engine", usage, "WL_BENCH_REPS", 3, 1, WL_BENCH_MAX_REPS,
                                 &reps)) >= 0 ||
        (args = wl_bench_env_int("bench_engine", usage, "WL_BENCH_ROUNDS", 5, 1, MAX_ROUNDS,
                                 &rounds)) >= 0 ||
        (args = wl_bench_env_int("bench_engine", usage, "WL_BENCH_THREADS", 2, 1,
                                 WL_THREADPOOL_MAX_THREADS, &threads)) >= 0)
        return args;
    const int n_prompt = 512, n_gen = 128;
    if (types_env && (args = wl_bench_check_list("bench_engine", usage, "WL_BENCH_TYPES", types_env,
                                                 all_types, N_TYPES)) >= 0)
        return args;
    bool want[N_TYPES];
    for (size_t ti = 0; ti < N_TYPES; ti++)
        want[ti] = wl_bench_list_has(types_env, all_types[ti]);
    int failed = 0; /* types that measured nothing or only part */
    /* the models first: without one there is nothing to measure the
     * bandwidth for */
    char paths[N_TYPES][1200];
    int n_models = 0;
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        if (!want[ti])
            continue;
        if (wl_bench_synth_1b("bench_engine", all_types[ti], paths[ti], sizeof paths[ti]) != 0) {
            fprintf(stderr, "bench_engine: %s: no model to measure (said above)\n", all_types[ti]);
            want[ti] = false;
            failed++;
        } else {
            n_models++;
        }
    }
    if (n_models == 0) {
        fprintf(stderr, "bench_engine: nothing measured\n");
        return 1;
    }

    /* bandwidth with the same number of threads the engine uses */
    struct wl_membw_result bw;
    if (measure_bw(threads, NULL, 0, 5, &bw) != 0) {
        fprintf(stderr, "bench_engine: bandwidth measurement failed\n");
        return 1;
    }
    char huge[16], probe[320];
    printf("memory read bandwidth: %.2f GB/s best, %.2f GB/s mean (%d threads, %zu MiB x %d, "
           "%s on 2 MiB pages; best plain loads %.2f, with prefetch %.2f)\n",
           bw.best_gbps, bw.mean_gbps, bw.n_threads, bw.bytes >> 20, bw.reps,
           wl_bench_share_text(huge, sizeof huge, bw.huge_fraction), bw.best_plain_gbps,
           bw.best_prefetch_gbps);
    printf("%s\n", wl_bench_core_probe_text(probe, sizeof probe));

    for (size_t ti = 0; ti < N_TYPES; ti++) {
        if (!want[ti])
            continue;
        const char *path = paths[ti];
        /* weight bytes and KV geometry from the file itself */
        wl_model *m = NULL;
        struct wl_errmsg err = {{0}};
        if (wl_model_load(path, &m, &err) != 0) {
            fprintf(stderr, "bench_engine: %s\n", err.text);
            failed++;
            continue;
        }
        const struct wl_model_config *c = &m->config;
        const uint64_t read_bytes = m->decode_bytes; /* weights one decode token reads */
        const uint64_t all_bytes = m->weight_bytes;
        const uint64_t kv_bytes = wl_kv_cache_bytes_for(WL_TTYPE_F16, c->n_layer, n_prompt > n_gen ? n_prompt : n_gen,
                                                        c->n_head_kv, c->head_dim);
        /* K and V bytes (F16, all layers) a decode step reads per cached
         * position; tg runs from an empty context, so on average (n_gen + 1) / 2
         * positions are read per token */
        const double kv_per_pos = 2.0 * c->n_layer * c->n_head_kv * c->head_dim * 2.0;
        const double kv_read_per_tok = (double)(n_gen + 1) / 2.0 * kv_per_pos;
        const double bytes_per_tok = (double)read_bytes + kv_read_per_tok;
        char desc[96];
        wl_model_describe(m, desc, sizeof desc);
        wl_model_free(m);
        struct stat st;
        uint64_t file_size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;

        printf("\n%s (%s), %d threads, %d repetitions\n", desc, all_types[ti], threads, reps);
        page_in_huge(path);
        /* the probe buffers: a token's bytes (the limit) and 128 MiB */
        const size_t huge_page = (size_t)2 << 20;
        const size_t tok_bytes = ((size_t)read_bytes + huge_page - 1) & ~(huge_page - 1);
        struct wl_membw_buf *tokbuf = NULL, *shortbuf = NULL;
        if (wl_membw_buf_create(tok_bytes, &tokbuf) != 0 ||
            wl_membw_buf_create(SEG_BW_BYTES, &shortbuf) != 0) {
            fprintf(stderr,
                    "bench_engine: %s: could not allocate the bandwidth probe's buffers "
                    "(%zu MiB)\n",
                    all_types[ti], (tok_bytes + SEG_BW_BYTES) >> 20);
            wl_membw_buf_free(tokbuf);
            failed++;
            continue;
        }

        /* 1. the llama-bench-style figures */
        struct bench_run br;
        if (run_bench(cli, path, n_prompt, n_gen, reps, threads, &br) != 0) {
            fprintf(stderr, "bench_engine: %s: `%s bench` failed\n", desc, cli);
            wl_membw_buf_free(tokbuf);
            wl_membw_buf_free(shortbuf);
            failed++;
            continue;
        }
        printf("  pp%d: %8.2f ± %.2f tok/s\n", n_prompt, br.pp, br.pp_sd);
        printf("  tg%d: %8.2f ± %.2f tok/s (best repetition %.2f)\n", n_gen, br.tg, br.tg_sd,
               br.tg_best);
        printf("  bytes read per decode token: %.1f MiB (weights %.1f MiB, i.e. all %.1f MiB but the\n"
               "    embedding table, of which one row; + mean KV %.2f MiB)\n",
               bytes_per_tok / 1048576.0, (double)read_bytes / 1048576.0,
               (double)all_bytes / 1048576.0, kv_read_per_tok / 1048576.0);
        printf("  peak RSS %.1f MiB  vs  file %.1f MiB + KV cache %.1f MiB = %.1f MiB\n",
               (double)br.rss_kib / 1024.0, (double)file_size / 1048576.0,
               (double)kv_bytes / 1048576.0, (double)(file_size + kv_bytes) / 1048576.0);

        /* 2. paired rounds: bandwidth, tg128, bandwidth */
        printf("  paired rounds (bandwidth %zu MiB x %d best, tg%d, bandwidth again):\n",
               tok_bytes >> 20, ROUND_BW_REPS, n_gen);
        double frac[MAX_ROUNDS];
        int n_ok = 0;
        for (int r = 0; r < rounds; r++) {
            struct wl_membw_result b1, b2;
            struct bench_run tr;
            if (measure_bw(threads, tokbuf, 0, ROUND_BW_REPS, &b1) != 0 ||
                run_bench(cli, path, 0, n_gen, 1, threads, &tr) != 0 ||
                measure_bw(threads, tokbuf, 0, ROUND_BW_REPS, &b2) != 0 || tr.tg <= 0) {
                printf("    round %d: failed\n", r + 1);
                continue;
            }
            const double bw_hi = b1.best_gbps > b2.best_gbps ? b1.best_gbps : b2.best_gbps;
            const double limit = bw_hi * 1e9 / bytes_per_tok;
            frac[n_ok++] = tr.tg / limit;
            printf(
                "    round %d: bandwidth %6.2f / %6.2f GB/s -> limit %6.2f tok/s; tg %6.2f tok/s "
                "= %5.1f %%\n",
                r + 1, b1.best_gbps, b2.best_gbps, limit, tr.tg, 100.0 * tr.tg / limit);
        }
        if (n_ok < rounds)
            fprintf(stderr, "bench_engine: %s: %d of %d paired rounds failed\n", desc,
                    rounds - n_ok, rounds);
        if (n_ok > 0) {
            qsort(frac, (size_t)n_ok, sizeof frac[0], cmp_double);
            const double med = median_sorted(frac, n_ok);
            printf("  rounds: decode at %.1f %% of the bandwidth limit (median of %d rounds; range "
                   "%.1f-%.1f %%)\n",
                   100.0 * med, n_ok, 100.0 * frac[0], 100.0 * frac[n_ok - 1]);
        }
        /* 3. interleaved segments in this process: the headline */
        static struct seg_result sr;
        int n_s = interleaved_segments(path, threads, n_seg, seg_tokens, kv_per_pos, tokbuf,
                                       shortbuf, &sr);
        wl_membw_buf_free(tokbuf);
        wl_membw_buf_free(shortbuf);
        if (n_s < n_seg)
            fprintf(stderr, "bench_engine: %s: interleaved segments: %d of %d ran\n", desc,
                    n_s > 0 ? n_s : 0, n_seg);
        if (n_ok < rounds || n_s < n_seg)
            failed++;
        if (n_s > 0) {
            struct bw_half h[2];
            const bool split = bw_split(&sr, n_s, h);
            struct dist_group dg[2];
            const int n_mixed = dist_split(&sr, n_s, dg);
            double *sfrac = sr.frac;
            qsort(sfrac, (size_t)n_s, sizeof sfrac[0], cmp_double);
            qsort(sr.frac_mean, (size_t)n_s, sizeof sr.frac_mean[0], cmp_double);
            qsort(sr.frac_short, (size_t)n_s, sizeof sr.frac_short[0], cmp_double);
            const double med = median_sorted(sfrac, n_s);
            printf("  interleaved segments (%d x %d decode steps, bandwidth %zu MiB (a token's "
                   "bytes)\n"
                   "    x %d best before and after each, %.1f-%.1f GB/s; weights %s on 2 MiB\n"
                   "    pages): quartiles %.1f / %.1f / %.1f %%, range %.1f-%.1f %%\n",
                   n_s, seg_tokens, tok_bytes >> 20, SEG_BW_REPS, sr.bw_lo, sr.bw_hi,
                   wl_bench_share_text(huge, sizeof huge, sr.huge_fraction), 100.0 * sfrac[n_s / 4],
                   100.0 * med, 100.0 * sfrac[(3 * n_s) / 4], 100.0 * sfrac[0],
                   100.0 * sfrac[n_s - 1]);
            printf(
                "  for comparison, not the target's measure: against the mean (not the best) of\n"
                "    the readings around each segment, median %.1f %% (quartiles %.1f / %.1f %%);\n"
                "    against the best of %zu MiB readings (%.1f-%.1f GB/s) taken at the same\n"
                "    moments, median %.1f %% (quartiles %.1f / %.1f %%)\n",
                100.0 * median_sorted(sr.frac_mean, n_s), 100.0 * sr.frac_mean[n_s / 4],
                100.0 * sr.frac_mean[(3 * n_s) / 4], SEG_BW_BYTES >> 20, sr.bw_short_lo,
                sr.bw_short_hi, 100.0 * median_sorted(sr.frac_short, n_s),
                100.0 * sr.frac_short[n_s / 4], 100.0 * sr.frac_short[(3 * n_s) / 4]);
            if (split)
                printf(
                    "  by bandwidth: the segments with the lower half of the limits (%.1f-%.1f "
                    "GB/s),\n    median %.1f %%; the upper half (%.1f-%.1f GB/s), median %.1f %%\n",
                    h[0].bw_lo, h[0].bw_hi, 100.0 * h[0].median, h[1].bw_lo, h[1].bw_hi,
                    100.0 * h[1].median);
            printf("  by core distance (a cache line's round trip between the two cores):\n");
            for (int d = 0; d < 2; d++) {
                if (dg[d].n > 0)
                    printf("    %s (%.0f-%.0f ns): %d segments, median %.1f %%\n",
                           d ? "far apart" : "near", dg[d].rt_lo, dg[d].rt_hi, dg[d].n,
                           100.0 * dg[d].median);
                else
                    printf("    %s (round trip %s %.0f ns): no segment\n", d ? "far apart" : "near",
                           d ? ">=" : "<", WL_BENCH_FAR_RT_NS);
            }
            if (n_mixed > 0)
                printf("    %d segments changed distance or had no reading: in neither\n", n_mixed);
            printf(
                "  decode at %.1f %% of the bandwidth limit (median of %d interleaved segments); "
                "target >= 90 %%\n",
                100.0 * med, n_s);
        }
        double load[3] = {0, 0, 0};
        getloadavg(load, 3);
        printf("  load average: %.2f (%ld CPUs); other processes share the memory bus and\n"
               "  cores, so figures under load understate the engine\n",
               load[0], sysconf(_SC_NPROCESSORS_ONLN));
    }
    if (failed) {
        fprintf(stderr,
                "bench_engine: %d of the weight types asked for measured nothing or only "
                "part (see above)\n",
                failed);
        return 1;
    }
    return 0;
}

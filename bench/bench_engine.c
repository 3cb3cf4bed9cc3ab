/* Engine throughput against the machine's physical limit.
 *
 * Generates (once, into <build>/model-cache/) a synthetic llama shaped like a
 * 1.1B-parameter model (22 layers, dim 2048, FFN 5632, 32 heads, 4 KV heads,
 * 32000 vocab) at Q8_0 and Q4_K with `wattlens model synth`, runs
 * `wattlens bench -t 2 -o json` on each, measures this machine's memory read
 * bandwidth, and prints decode tokens/s as a fraction of the bandwidth limit:
 *
 *     limit tok/s = bandwidth / bytes read per token
 *     bytes read per token = weight bytes (every matrix is streamed once per
 *                            token) + mean KV-cache bytes read over the test
 *
 * The bandwidth is measured right before and right after each model's run
 * (on a shared machine it moves by 2x within minutes) and the fraction is
 * printed against both. Also prints the bench process's peak RSS next to
 * file size + KV cache.
 * Prints figures; asserts nothing about time. Environment: WL_BENCH_REPS
 * (default 3), WL_BENCH_THREADS (default 2).
 */
#include "bench_support.h"
#include "engine/bench.h"
#include "engine/context.h"
#include "engine/kernels/membw.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/threadpool.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    *maxrss_kib = ru.ru_maxrss;
    if (!buf || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static int measure_bw(int threads, struct wl_membw_result *out)
{
    struct wl_threadpool *pool = NULL;
    if (wl_threadpool_create(threads, &pool) != 0)
        return -1;
    int rc = wl_membw_measure_read(pool, 0, 5, out);
    wl_threadpool_destroy(pool);
    return rc;
}

int main(void)
{
    const char *cli = WL_CLI_PATH;
    const char *reps_env = getenv("WL_BENCH_REPS");
    const char *thr_env = getenv("WL_BENCH_THREADS");
    int reps = reps_env ? atoi(reps_env) : 3;
    int threads = thr_env ? atoi(thr_env) : 2;
    if (reps < 1)
        reps = 1;
    if (threads < 1)
        threads = 2;
    const int n_prompt = 512, n_gen = 128;

    /* bandwidth with the same number of threads the engine uses */
    struct wl_membw_result bw;
    if (measure_bw(threads, &bw) != 0) {
        fprintf(stderr, "bench_engine: bandwidth measurement failed\n");
        return 1;
    }
    printf("memory read bandwidth: %.2f GB/s best, %.2f GB/s mean (%d threads, %zu MiB x %d)\n",
           bw.best_gbps, bw.mean_gbps, bw.n_threads, bw.bytes >> 20, bw.reps);

    const char *types[] = {"q8_0", "q4_k"};
    for (size_t ti = 0; ti < 2; ti++) {
        char path[1200];
        if (wl_bench_synth_1b("bench_engine", types[ti], path, sizeof path) != 0) {
            printf("%s: could not generate the model (is `wattlens model synth` built?)\n", types[ti]);
            continue;
        }
        /* weight bytes and KV geometry from the file itself */
        wl_model *m = NULL;
        struct wl_errmsg err = {{0}};
        if (wl_model_load(path, &m, &err) != 0) {
            printf("%s: %s\n", path, err.text);
            continue;
        }
        const struct wl_model_config *c = &m->config;
        const uint64_t weight_bytes = m->weight_bytes;
        const uint64_t kv_bytes = wl_kv_cache_bytes_for(WL_TTYPE_F16, c->n_layer, n_prompt > n_gen ? n_prompt : n_gen,
                                                        c->n_head_kv, c->head_dim);
        /* tg runs from an empty context: on average (n_gen + 1) / 2 positions
         * of K and V are read per token, per layer */
        const double kv_read_per_tok = (double)(n_gen + 1) / 2.0 * 2.0 * c->n_layer * c->n_head_kv *
                                       c->head_dim * 2.0;
        /* bandwidth right before this model's run */
        struct wl_membw_result bw1;
        double bw_before = bw.best_gbps;
        if (measure_bw(threads, &bw1) == 0)
            bw_before = bw1.best_gbps;
        char desc[96];
        wl_model_describe(m, desc, sizeof desc);
        wl_model_free(m);
        struct stat st;
        uint64_t file_size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;

        char a_p[16], a_n[16], a_r[16], a_t[16];
        snprintf(a_p, sizeof a_p, "%d", n_prompt);
        snprintf(a_n, sizeof a_n, "%d", n_gen);
        snprintf(a_r, sizeof a_r, "%d", reps);
        snprintf(a_t, sizeof a_t, "%d", threads);
        char *const argv[] = {(char *)cli, "bench", "-m", path, "-p", a_p, "-n", a_n, "-r", a_r,
                              "-t", a_t, "-o", "json", NULL};
        long rss_kib = 0;
        char *out = run_capture(argv, &rss_kib);
        if (!out) {
            printf("%s: wattlens bench failed\n", desc);
            continue;
        }
        json_error_t je;
        json_t *arr = json_loads(out, 0, &je);
        free(out);
        double pp = 0, pp_sd = 0, tg = 0, tg_sd = 0, tg_best = 0;
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o)
        {
            double avg = json_real_value(json_object_get(o, "avg_ts"));
            double sd = json_real_value(json_object_get(o, "stddev_ts"));
            if (json_integer_value(json_object_get(o, "n_gen")) > 0) {
                tg = avg;
                tg_sd = sd;
                size_t k;
                json_t *v;
                json_array_foreach(json_object_get(o, "samples_ts"), k, v)
                {
                    if (json_real_value(v) > tg_best)
                        tg_best = json_real_value(v);
                }
            } else {
                pp = avg;
                pp_sd = sd;
            }
        }
        json_decref(arr);
        /* bandwidth again right after the run: on a shared machine (VM
         * neighbours, other jobs) it moves by 2x within minutes, so the
         * fraction is printed against both measurements */
        struct wl_membw_result bw2;
        double bw_after = bw.best_gbps;
        if (measure_bw(threads, &bw2) == 0)
            bw_after = bw2.best_gbps;
        const double bw_best = bw_after > bw_before ? bw_after : bw_before;
        const double bytes_per_tok = (double)weight_bytes + kv_read_per_tok;
        const double limit = bw_best * 1e9 / bytes_per_tok;
        const double lim_before = bw_before * 1e9 / bytes_per_tok;
        const double lim_after = bw_after * 1e9 / bytes_per_tok;
        double load[3] = {0, 0, 0};
        getloadavg(load, 3);
        printf("\n%s (%s), %d threads, %d repetitions\n", desc, types[ti], threads, reps);
        printf("  pp%d: %8.2f ± %.2f tok/s\n", n_prompt, pp, pp_sd);
        printf("  tg%d: %8.2f ± %.2f tok/s\n", n_gen, tg, tg_sd);
        printf("  bytes read per decode token: %.1f MiB (weights %.1f MiB + mean KV %.2f MiB)\n",
               bytes_per_tok / 1048576.0, (double)weight_bytes / 1048576.0,
               kv_read_per_tok / 1048576.0);
        printf("  bandwidth limit: %.2f tok/s at %.2f GB/s (before) / %.2f tok/s at %.2f GB/s (after)\n",
               lim_before, bw_before, lim_after, bw_after);
        printf("  decode at %.1f %% / %.1f %% of the limit (mean tg vs before / after); against the\n"
               "  higher bandwidth: %.1f %% (mean), %.1f %% (best repetition); target >= 90 %%\n",
               100.0 * tg / lim_before, 100.0 * tg / lim_after, 100.0 * tg / limit,
               100.0 * tg_best / limit);
        printf("  load average during the run: %.2f (%ld CPUs); other processes share the\n"
               "  memory bus and cores, so figures under load understate the engine\n",
               load[0], sysconf(_SC_NPROCESSORS_ONLN));
        printf("  peak RSS %.1f MiB  vs  file %.1f MiB + KV cache %.1f MiB = %.1f MiB\n",
               (double)rss_kib / 1024.0, (double)file_size / 1048576.0,
               (double)kv_bytes / 1048576.0, (double)(file_size + kv_bytes) / 1048576.0);
    }
    return 0;
}

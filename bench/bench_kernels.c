/* Kernel throughput: matvec GB/s of weights streamed, per weight type, code
 * path, matrix shape of a 1.1B llama layer (2048x2048 attention, 5632x2048
 * FFN gate/up, 2048x5632 FFN down with its long rows, 32000x2048 output)
 * and thread count (1, 2), next to this machine's
 * measured memory read bandwidth with the same thread count, as a ratio.
 * The bandwidth of a shared machine drifts (2x within seconds has been
 * seen) over a table that runs for minutes: it is read again just before
 * and just after each (type, shape) block, both readings are printed, and
 * the block's ratios divide by the higher one (as bench_engine does).
 * Each matrix is replicated into enough copies (>= 256 MiB in total) that
 * consecutive calls stream from DRAM as decode does, not from the caches.
 * The machine may be shared: "GB/s" is wall-clock (best pass), "cpu GB/s"
 * divides by the CPU time the threads actually got (kernel speed if it had
 * the cores to itself; spinning while waiting for a descheduled worker
 * counts as CPU time, so it is a lower bound of that).
 * Prints figures only; never asserts on time.
 * Usage: bench_kernels [-t TYPE[,..]] [-p PATH[,..]] [-j THREADS[,..]]
 * [-s SHAPE[,..]] [-m MIB] [-n ROWS] [-l] (described in usage[] below, which
 * --help prints), e.g. bench_kernels -t q8_0,q4_k -p avx512 -j 2
 */
#include "bench_support.h"
#include "engine/kernels/kernels.h"
#include "engine/kernels/membw.h"
#include "engine/threadpool.h"
#include "util/clock.h"
#include "util/hugepage.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strncasecmp */

static const uint32_t types[] = {WL_TTYPE_F32,  WL_TTYPE_F16,  WL_TTYPE_BF16, WL_TTYPE_Q8_0,
                                 WL_TTYPE_Q4_0, WL_TTYPE_Q4_K, WL_TTYPE_Q6_K};
static const struct {
    const char *name;   /* as -s names it */
    int64_t rows, cols; /* rows 0: as many as fit in L2_BYTES (shape_rows) */
} shapes[] = {{"attn", 2048, 2048},
              {"ffn", 5632, 2048},
              {"down", 2048, 5632}, /* the FFN down projection: long rows */
              {"out", 32000, 2048},
              /* only with -s l2 -m 0: compute speed, the weights in L2 */
              {"l2", 0, 2048}};

/* The l2 shape's matrix, per type: at most 512 KiB, half of a 1 MiB L2
 * (Zen 5's, the development machine's; x, y, the scratch and the stack
 * need room too), in whole blocks of 16 rows. A fixed 256 rows was 2 MiB
 * at F32 and 1 MiB at F16/BF16: those rows streamed partly from L3. */
#define L2_BYTES ((size_t)512 << 10)

static int64_t shape_rows(size_t si, uint32_t t)
{
    if (shapes[si].rows > 0)
        return shapes[si].rows;
    int64_t rows = (int64_t)(L2_BYTES / wl_quant_row_bytes(t, shapes[si].cols)) / 16 * 16;
    return rows < 16 ? 16 : rows;
}

/* "attn 2048x2048", "l2 64x2048" (rows per type) */
static void shape_name(char *buf, size_t size, size_t si, uint32_t t)
{
    snprintf(buf, size, "%s %lldx%lld", shapes[si].name, (long long)shape_rows(si, t),
             (long long)shapes[si].cols);
}

/* -s's selection; without -s every shape but l2 */
static int shape_selected(const char *ssel, size_t si)
{
    return ssel ? wl_bench_list_has(ssel, shapes[si].name) : strcmp(shapes[si].name, "l2") != 0;
}

/* -l: every selected type's selected shapes and the bytes of one matrix */
static void print_shapes(const char *tsel, const char *ssel)
{
    printf("%-6s %-16s %10s\n", "type", "shape", "KiB");
    for (size_t ty = 0; ty < sizeof types / sizeof types[0]; ty++) {
        if (!wl_bench_list_has(tsel, wl_ttype_name(types[ty])))
            continue;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            if (!shape_selected(ssel, si))
                continue;
            char name[32];
            shape_name(name, sizeof name, si, types[ty]);
            const size_t mat =
                wl_quant_row_bytes(types[ty], shapes[si].cols) * (size_t)shape_rows(si, types[ty]);
            printf("%-6s %-16s %10.1f\n", wl_ttype_name(types[ty]), name, (double)mat / 1024.0);
        }
    }
}

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    return wl_bench_frand(&rng);
}

static void empty_job(void *arg, int ith, int nth)
{
    (void)arg;
    (void)ith;
    (void)nth;
}

static const char usage[] =
    "usage: bench_kernels [-t TYPE[,..]] [-p PATH[,..]] [-j THREADS[,..]] [-s SHAPE[,..]]\n"
    "                     [-m MIB] [-n ROWS] [-l]\n"
    "\n"
    "Kernel throughput: GB/s of weights streamed per weight type, code path,\n"
    "matrix shape of a 1.1B llama layer and thread count, next to this machine's\n"
    "read bandwidth with as many threads, as a ratio. Prints figures only; never\n"
    "asserts on time.\n"
    "\n"
    "  -t TYPE,..     weight types: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k (default all)\n"
    "  -p PATH,..     code paths: scalar, avx2, avx512 (default every one this CPU runs;\n"
    "                 one it does not run is skipped with a note)\n"
    "  -j THREADS,..  thread counts: 1, 2 (default both)\n"
    "  -s SHAPE,..    shapes: attn, ffn, down, out, l2 (default all but l2)\n"
    "  -m MIB         minimum footprint of the weight copies (default 256; 0 = one copy,\n"
    "                 cache-resident for small shapes: compute speed)\n"
    "  -n ROWS        activation rows per call (default 1 = decode matvec; e.g. 64 for\n"
    "                 prefill-style matmul, where GMAC/s is the figure that matters)\n"
    "  -l             list the selected types' shapes (rows x columns) and the bytes\n"
    "                 of one matrix, and exit: nothing is measured. The l2 shape has\n"
    "                 as many rows as fit in 512 KiB at each type\n"
    "  -h, --help     this text\n"
    "\n"
    "Environment: none read.\n"
    "\n"
    "Exit status: 0 (-l too); 1 when memory, the threads or a bandwidth reading fail;\n"
    "2 for a bad argument or value (a -p path this CPU runs none of too).\n";

static const char *const thread_names[] = {"1", "2"}; /* -j: the pools main starts */

/* The readings around each (type, shape) block: a kept buffer of this size
 * (4x a 64 MiB last-level cache at most), best of this many passes; about
 * 0.1-0.3 s each */
#define BLOCK_BW_BYTES ((size_t)256 << 20)
#define BLOCK_BW_REPS 3

/* one row of a block, printed once the reading after the block is taken */
struct row {
    enum wl_kpath path;
    int ti;                      /* index into thread_counts */
    double best_ns, best_cpu_ns; /* per call */
};

/* each selected pool's reading of buf into out[ti]; 0 or -1 (said) */
static int read_bw(struct wl_threadpool *const pools[2], const struct wl_membw_buf *buf,
                   struct wl_membw_result out[2])
{
    for (int ti = 0; ti < 2; ti++) {
        if (pools[ti] && wl_membw_measure_buf(pools[ti], buf, BLOCK_BW_REPS, &out[ti]) != 0) {
            fprintf(stderr, "bench_kernels: bandwidth measurement failed\n");
            return -1;
        }
    }
    return 0;
}

/* The lists' checks: -1 to run, else 2 (said on stderr). A path this CPU
 * cannot run is skipped with a note; when none of those asked for runs,
 * there is nothing to measure: an error. */
static int check_lists(const char *who, const char *tsel, const char *psel, const char *jsel,
                       const char *ssel)
{
    const size_t n_types = sizeof types / sizeof types[0];
    const size_t n_shapes = sizeof shapes / sizeof shapes[0];
    char tnames[sizeof types / sizeof types[0]][8]; /* as usage[] writes them: q8_0 */
    const char *tname_ptrs[sizeof types / sizeof types[0]];
    const char *sname_ptrs[sizeof shapes / sizeof shapes[0]];
    const char *pnames[WL_KPATH_AVX512 - WL_KPATH_SCALAR + 1];
    for (size_t i = 0; i < n_types; i++) {
        snprintf(tnames[i], sizeof tnames[i], "%s", wl_ttype_name(types[i]));
        for (char *c = tnames[i]; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        tname_ptrs[i] = tnames[i];
    }
    for (size_t i = 0; i < n_shapes; i++)
        sname_ptrs[i] = shapes[i].name;
    for (int p = WL_KPATH_SCALAR; p <= WL_KPATH_AVX512; p++)
        pnames[p - WL_KPATH_SCALAR] = wl_kpath_name((enum wl_kpath)p);
    const size_t n_paths = sizeof pnames / sizeof pnames[0];
    int rc = -1;
    if (tsel && (rc = wl_bench_check_list(who, usage, "-t", tsel, tname_ptrs, n_types)) >= 0)
        return rc;
    if (psel && (rc = wl_bench_check_list(who, usage, "-p", psel, pnames, n_paths)) >= 0)
        return rc;
    if (jsel && (rc = wl_bench_check_list(who, usage, "-j", jsel, thread_names, 2)) >= 0)
        return rc;
    if (ssel && (rc = wl_bench_check_list(who, usage, "-s", ssel, sname_ptrs, n_shapes)) >= 0)
        return rc;
    if (!psel)
        return -1;
    int runs = 0;
    for (size_t i = 0; i < n_paths; i++) {
        struct wl_kernels k;
        if (!wl_bench_list_has(psel, pnames[i]))
            continue;
        if (wl_kernels_init(&k, (enum wl_kpath)(WL_KPATH_SCALAR + (int)i)) == 0)
            runs = 1;
        else
            fprintf(stderr, "%s: note: this CPU does not run the %s path; skipped\n", who,
                    pnames[i]);
    }
    if (!runs)
        return wl_bench_usage_error(who, usage, "-p: this CPU runs none of '%s' (its best: %s)",
                                    psel, wl_kpath_name(wl_kpath_best()));
    return -1;
}

int main(int argc, char **argv)
{
    const char *who = "bench_kernels";
    const char *tsel = NULL, *psel = NULL, *jsel = NULL, *ssel = NULL;
    size_t footprint_min = (size_t)256 << 20;
    int64_t n_x = 1;
    int list_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (wl_bench_arg_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(a, "-l")) {
            list_only = 1;
            continue;
        }
        if (strcmp(a, "-t") && strcmp(a, "-p") && strcmp(a, "-j") && strcmp(a, "-s") &&
            strcmp(a, "-n") && strcmp(a, "-m"))
            return wl_bench_usage_error(who, usage, "unknown argument '%s'", a);
        if (!val)
            return wl_bench_usage_error(who, usage, "option '%s' needs a value", a);
        i++;
        char *end = NULL;
        if (!strcmp(a, "-t")) {
            tsel = val;
        } else if (!strcmp(a, "-p")) {
            psel = val;
        } else if (!strcmp(a, "-j")) {
            jsel = val;
        } else if (!strcmp(a, "-s")) {
            ssel = val;
        } else if (!strcmp(a, "-n")) {
            long v = strtol(val, &end, 10);
            if (end == val || *end || v < 1 || v > 4096)
                return wl_bench_usage_error(who, usage, "-n: ROWS must be 1..4096, got '%s'", val);
            n_x = v;
        } else {
            long v = strtol(val, &end, 10);
            if (end == val || *end || v < 0 || v > (1L << 20))
                return wl_bench_usage_error(who, usage, "-m: MIB must be 0..1048576, got '%s'",
                                            val);
            footprint_min = (size_t)v << 20;
        }
    }
    int lists = check_lists(who, tsel, psel, jsel, ssel);
    if (lists >= 0)
        return lists;
    if (list_only) {
        print_shapes(tsel, ssel);
        return 0;
    }
    const int thread_counts[] = {1, 2};
    struct wl_threadpool *pools[2] = {NULL, NULL};
    printf("# bench_kernels: best kernel path on this CPU: %s\n", wl_kpath_name(wl_kpath_best()));
    for (int ti = 0; ti < 2; ti++) {
        char name[8];
        snprintf(name, sizeof name, "%d", thread_counts[ti]);
        if (!wl_bench_list_has(jsel, name))
            continue;
        if (wl_threadpool_create(thread_counts[ti], &pools[ti]) != 0) {
            fprintf(stderr, "bench_kernels: cannot start %d threads\n", thread_counts[ti]);
            return 1;
        }
        struct wl_membw_result r;
        if (wl_membw_measure_read(pools[ti], 0, 5, &r) != 0) {
            fprintf(stderr, "bench_kernels: bandwidth measurement failed\n");
            return 1;
        }
        if (thread_counts[ti] > 1) {
            /* cost of one parallel-for with empty shares, as paid per matmul (the caller
             * may run every share itself when the workers are not yet polling) */
            double best = 0;
            for (int rep = 0; rep < 5; rep++) {
                uint64_t t0 = wl_clock_now_ns();
                for (int i = 0; i < 10000; i++)
                    wl_threadpool_run(pools[ti], empty_job, NULL);
                double per = (double)(wl_clock_now_ns() - t0) / 10000.0;
                if (rep == 0 || per < best)
                    best = per;
            }
            printf("# thread pool, %d threads: empty parallel-for %.0f ns per call (best of 5 x "
                   "10000 back-to-back)\n",
                   thread_counts[ti], best);
        }
        printf("# memory read bandwidth at start, %d thread(s): best %.2f GB/s, mean %.2f GB/s, "
               "cpu-time %.2f GB/s (%zu MiB x %d reps)\n",
               r.n_threads, r.best_gbps, r.mean_gbps, r.best_cpu_gbps, r.bytes >> 20, r.reps);
    }
    struct wl_membw_buf *bwbuf = NULL;
    if (wl_membw_buf_create(BLOCK_BW_BYTES, &bwbuf) != 0) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        return 1;
    }
    printf("# activation rows per call: %ld\n", (long)n_x);
    printf("# bw pre, bw post = memory read bandwidth (GB/s, same threads; %zu MiB, best of %d) "
           "read just before and just after each type and shape's rows\n",
           BLOCK_BW_BYTES >> 20, BLOCK_BW_REPS);
    printf("# ratio = GB/s / the higher of bw pre and bw post (wall clock); cpu ratio = cpu "
           "GB/s / the higher cpu-time bandwidth of the two readings\n");
    printf("# KiB = bytes of one matrix; -m 0 runs one copy, cache-resident when it fits\n");
    printf("%-6s %-7s %-16s %8s %3s %9s %8s %9s %7s %7s %7s %9s %8s\n", "type", "path", "shape",
           "KiB", "thr", "us/call", "GB/s", "cpu GB/s", "bw pre", "bw post", "ratio", "cpu ratio",
           "GMAC/s");

    for (size_t ty = 0; ty < sizeof types / sizeof types[0]; ty++) {
        uint32_t t = types[ty];
        if (!wl_bench_list_has(tsel, wl_ttype_name(t)))
            continue;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            if (!shape_selected(ssel, si))
                continue;
            int64_t rows = shape_rows(si, t), cols = shapes[si].cols;
            size_t rb = wl_quant_row_bytes(t, cols), mat = rb * (size_t)rows;
            char sname[32];
            shape_name(sname, sizeof sname, si, t);
            size_t copies = (footprint_min + mat - 1) / mat;
            if (copies < 1)
                copies = 1;
            uint8_t *w = NULL;
            /* 2 MiB pages, as the engine's weight mapping and the bandwidth
             * buffer use (util/hugepage.h) */
            if (posix_memalign((void **)&w, (size_t)2 << 20, mat * copies) != 0) {
                fprintf(stderr, "bench_kernels: out of memory\n");
                return 1;
            }
            wl_hugepage_advise(w, mat * copies);
            /* 64 distinct quantized rows, tiled: the content does not change speed */
            float *src = malloc(sizeof(float) * (size_t)cols);
            float *x = malloc(sizeof(float) * (size_t)(cols * n_x));
            float *y = malloc(sizeof(float) * (size_t)(rows * n_x));
            size_t sb = wl_kernel_scratch_bytes(t, cols, n_x);
            void *scratch = NULL;
            if (!src || !x || !y || (sb && posix_memalign(&scratch, 64, sb) != 0)) {
                fprintf(stderr, "bench_kernels: out of memory\n");
                return 1;
            }
            for (int64_t r = 0; r < 64 && r < rows; r++) {
                for (int64_t c = 0; c < cols; c++)
                    src[c] = 0.05f * frand();
                wl_quantize_row(t, src, w + (size_t)r * rb, cols);
            }
            for (size_t off = 64 * rb; off < mat * copies; off += 64 * rb) {
                size_t n = mat * copies - off < 64 * rb ? mat * copies - off : 64 * rb;
                memcpy(w + off, w, n);
            }
            for (int64_t c = 0; c < cols * n_x; c++)
                x[c] = frand();

            struct wl_membw_result pre[2], post[2];
            struct row block[(WL_KPATH_AVX512 - WL_KPATH_SCALAR + 1) * 2];
            size_t n_rows = 0;
            if (read_bw(pools, bwbuf, pre) != 0)
                return 1;
            for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
                struct wl_kernels k;
                if (!wl_bench_list_has(psel, wl_kpath_name((enum wl_kpath)path)) ||
                    wl_kernels_init(&k, (enum wl_kpath)path) != 0)
                    continue;
                for (int ti = 0; ti < 2; ti++) {
                    if (!pools[ti])
                        continue;
                    /* run for >= 0.3 s and >= 2 passes over all copies; report the best pass */
                    double best_ns = 0, best_cpu_ns = 0;
                    uint64_t start = wl_clock_now_ns();
                    size_t calls = copies < 16 ? 16 : copies; /* per pass */
                    for (int pass = 0; pass < 2 || wl_clock_now_ns() - start < 300000000ull;
                         pass++) {
                        uint64_t t0 = wl_clock_now_ns(), c0 = wl_clock_process_cpu_ns();
                        for (size_t cl = 0; cl < calls; cl++) {
                            struct wl_kernel_weight wd = {t, w + (cl % copies) * mat, rows, cols,
                                                          rb};
                            wl_kernel_matmul(&k, &wd, x, n_x, y, scratch, sb, 0, pools[ti]);
                        }
                        double per = (double)(wl_clock_now_ns() - t0) / (double)calls;
                        double cpu = (double)(wl_clock_process_cpu_ns() - c0) / (double)calls /
                                     thread_counts[ti];
                        if (pass == 0 || per < best_ns)
                            best_ns = per;
                        if (pass == 0 || cpu < best_cpu_ns)
                            best_cpu_ns = cpu;
                        if (pass >= 50)
                            break;
                    }
                    block[n_rows++] = (struct row){k.path, ti, best_ns, best_cpu_ns};
                }
            }
            if (read_bw(pools, bwbuf, post) != 0)
                return 1;
            for (size_t i = 0; i < n_rows; i++) {
                const struct row *r = &block[i];
                const int ti = r->ti;
                const double bw = fmax(pre[ti].best_gbps, post[ti].best_gbps);
                const double bw_cpu = fmax(pre[ti].best_cpu_gbps, post[ti].best_cpu_gbps);
                const double gbps = (double)mat / r->best_ns;
                const double cpu_gbps = (double)mat / r->best_cpu_ns;
                printf("%-6s %-7s %-16s %8.0f %3d %9.1f %8.2f %9.2f %7.2f %7.2f %6.1f%% %8.1f%% "
                       "%8.1f\n",
                       wl_ttype_name(t), wl_kpath_name(r->path), sname, (double)mat / 1024.0,
                       thread_counts[ti], r->best_ns / 1e3, gbps, cpu_gbps, pre[ti].best_gbps,
                       post[ti].best_gbps, 100.0 * gbps / bw, 100.0 * cpu_gbps / bw_cpu,
                       (double)rows * (double)cols * (double)n_x / r->best_ns);
            }
            fflush(stdout);
            free(w);
            free(src);
            free(x);
            free(y);
            free(scratch);
        }
    }
    wl_membw_buf_free(bwbuf);
    for (int ti = 0; ti < 2; ti++)
        wl_threadpool_destroy(pools[ti]);
    return 0;
}

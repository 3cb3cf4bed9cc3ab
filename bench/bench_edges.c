/* What a decode matrix product costs at its edges. Decode runs ~89
 * matrix-vector products per token (1.1B llama shape), each a pool job that
 * starts, ramps up its memory stream, and drains. This bench streams the same
 * weight bytes as one product over all rows, as back-to-back products of
 * decode sizes, and as products separated by a gap of caller-only work or by
 * an empty pool job (as norms and attention separate them in decode), and
 * prints each as a fraction of a read of as many bytes taken around it.
 *
 * Rounds interleave the variants in a random order between two reads, so
 * that every variant sees the same moments of a shared, noisy machine; the
 * figures are medians over rounds. "us per edge" is derived: the variant's
 * time minus the one-product time in the same round, divided by its edges,
 * the boundaries it has between products that one product does not (n
 * products: n - 1; the one product already pays one start and one end).
 * For the gap variants that includes the gaps, the one after the last
 * product too (n gaps over n - 1 edges). Each read is the best of
 * READ_REPS passes of each of membw's two read variants (plain loads, with
 * prefetch). Prints figures only; never asserts on time.
 *
 * The pinned core round-trip probe runs before and after each round; the
 * rounds where the two cores sat near or far apart throughout (both
 * readings below / at or above WL_BENCH_FAR_RT_NS) are also summarised
 * apart, as bench_engine does with its segments: on the development VM the
 * two states read at different limits and pay different edge costs.
 *
 * Usage: bench_edges [-t TYPE] [-r ROUNDS] [-g GAP_US] [-s SPLIT_GBPS] [-S SETS] [-v]
 * (the options are described in usage[] below, which --help prints)
 */
#include "bench_support.h"
#include "engine/kernels/kernels.h"
#include "engine/kernels/membw.h"
#include "engine/quant.h"
#include "engine/tensor_type.h"
#include "engine/threadpool.h"
#include "util/clock.h"
#include "util/hugepage.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SETS: the default -S; READ_REPS: passes per read variant, as bench_engine
 * reads its limits */
enum { COLS = 2048, LAYER_ROWS = 2048, SETS = 4, MAX_SETS = 16, MAX_ROUNDS = 1000, READ_REPS = 3 };

/* rows per product (0 = all rows in one product), gap after each product */
static const struct variant {
    const char *name;
    int64_t rows;
    int gap; /* 0 none, 1 caller-only spin of -g us, 2 empty pool job */
} variants[] = {
    {"one product", 0, 0},
    {"8192 rows", 8192, 0},
    {"2048 rows", 2048, 0},
    {"512 rows", 512, 0},
    {"256 rows", 256, 0},
    {"2048 rows + gap", 2048, 1},
    {"2048 rows + pool job", 2048, 2},
};
enum { N_VAR = sizeof variants / sizeof variants[0] };

static uint64_t rng = 88172645463325252ull;

static void empty_job(void *arg, int ith, int nth)
{
    (void)arg;
    (void)ith;
    (void)nth;
}

static void spin_us(double us)
{
    uint64_t end = wl_clock_now_ns() + (uint64_t)(us * 1e3);
    while (wl_clock_now_ns() < end) {
    }
}

struct setup {
    struct wl_kernels k;
    struct wl_threadpool *pool;
    uint32_t type;
    const uint8_t *w;
    size_t row_bytes;
    int64_t rows;
    const float *x;
    float *y;
    void *scratch;
    size_t scratch_bytes;
    double gap_us;
};

/* Streams every row once as products of v->rows rows; returns seconds and
 * the number of products. */
static double run_variant(const struct setup *s, const struct variant *v, int64_t *n_products)
{
    const int64_t step = v->rows ? v->rows : s->rows;
    int64_t n = 0;
    uint64_t t0 = wl_clock_now_ns();
    for (int64_t r = 0; r < s->rows; r += step, n++) {
        const struct wl_kernel_weight kw = {.type = s->type,
                                            .data = s->w + (size_t)r * s->row_bytes,
                                            .rows = s->rows - r < step ? s->rows - r : step,
                                            .cols = COLS,
                                            .row_bytes = s->row_bytes};
        (void)wl_kernel_matmul(&s->k, &kw, s->x, 1, s->y, s->scratch, s->scratch_bytes, 0, s->pool);
        if (v->gap == 1)
            spin_us(s->gap_us);
        else if (v->gap == 2)
            wl_threadpool_run(s->pool, empty_job, NULL);
    }
    *n_products = n;
    return (double)(wl_clock_now_ns() - t0) * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct round {
    double read_gbps;
    int dist; /* wl_bench_core_distance of the probes around the round */
    double sec[N_VAR];
    int64_t n_products[N_VAR];
};

/* true when round r is in the group: lo <= read < hi, and its core
 * distance is dist unless dist is -2 (any) */
static bool in_group(const struct round *r, double lo, double hi, int dist)
{
    return r->read_gbps >= lo && r->read_gbps < hi && (dist == -2 || r->dist == dist);
}

/* Prints the medians of the rounds in_group(lo, hi, dist). */
static void summarise(const char *title, const struct round *rs, int n_rounds, double lo, double hi,
                      int dist, size_t bytes)
{
    double *frac = malloc(sizeof(double) * (size_t)n_rounds * 3);
    if (!frac)
        return;
    double *ratio = frac + n_rounds, *edge = ratio + n_rounds;
    int n = 0;
    double reads[MAX_ROUNDS];
    for (int r = 0; r < n_rounds; r++)
        if (in_group(&rs[r], lo, hi, dist))
            reads[n++] = rs[r].read_gbps;
    if (n == 0) {
        printf("%s: no rounds\n", title);
        free(frac);
        return;
    }
    printf("%s: %d rounds, read median %.1f GB/s\n", title, n, median(reads, n));
    printf("  %-22s %9s %12s %6s %12s\n", "variant", "of read", "vs one", "edges", "us per edge");
    for (int v = 0; v < N_VAR; v++) {
        int m = 0;
        int64_t edges = 0;
        for (int r = 0; r < n_rounds; r++) {
            if (!in_group(&rs[r], lo, hi, dist))
                continue;
            edges = rs[r].n_products[v] - 1; /* the same in every round */
            frac[m] = (double)bytes / rs[r].sec[v] * 1e-9 / rs[r].read_gbps;
            ratio[m] = rs[r].sec[0] / rs[r].sec[v];
            edge[m] = edges > 0 ? (rs[r].sec[v] - rs[r].sec[0]) * 1e6 / (double)edges : 0;
            m++;
        }
        printf("  %-22s %9.3f %12.3f %6lld", variants[v].name, median(frac, m), median(ratio, m),
               (long long)edges);
        if (edges <= 0)
            printf(" %12s\n", "-");
        else
            printf(" %12.2f\n", median(edge, m));
    }
    free(frac);
}

static const char usage[] =
    "usage: bench_edges [-t TYPE] [-r ROUNDS] [-g GAP_US] [-s SPLIT_GBPS] [-S SETS] [-v]\n"
    "\n"
    "What a decode matrix product costs at its edges: the same weight bytes\n"
    "streamed as one product, as back-to-back products of decode sizes, and as\n"
    "products separated by caller-only work or by an empty pool job, each as a\n"
    "fraction of a read of as many bytes around it. Medians over rounds, also\n"
    "apart for the rounds whose core round-trip probe read the two cores near or\n"
    "far apart throughout. Prints figures only; never asserts on time.\n"
    "\n"
    "  -t TYPE        weight type (default q4_k; any type the kernels take)\n"
    "  -r ROUNDS      rounds, 1..1000 (default 12)\n"
    "  -g GAP_US      caller-only work between products in us, 0..1000 (default 3)\n"
    "  -s SPLIT_GBPS  also summarise apart the rounds whose read is below / at or\n"
    "                 above this many GB/s\n"
    "  -S SETS        weights streamed per variant, in sets of 22 layers' 2048-row\n"
    "                 products, 1..16 (default 4: several times the last-level cache;\n"
    "                 fewer is for a quick check)\n"
    "  -v             one line per round\n"
    "  -h, --help     this text\n"
    "\n"
    "Environment: none read.\n"
    "\n"
    "Exit status: 0; 1 when memory, the kernels, the threads or a bandwidth reading\n"
    "fail; 2 for a bad argument or value.\n";

/* -1: run; 0: the usage was asked for and printed; 2: a command-line error
 * (said on stderr). */
static int parse_args(int argc, char **argv, uint32_t *type, int *rounds, double *gap,
                      double *split, int *sets, int *verbose)
{
    const char *who = "bench_edges";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (wl_bench_arg_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(a, "-v")) {
            *verbose = 1;
            continue;
        }
        if (strcmp(a, "-t") && strcmp(a, "-r") && strcmp(a, "-g") && strcmp(a, "-s") &&
            strcmp(a, "-S"))
            return wl_bench_usage_error(who, usage, "unknown argument '%s'", a);
        if (!val)
            return wl_bench_usage_error(who, usage, "option '%s' needs a value", a);
        i++;
        char *end = NULL;
        if (!strcmp(a, "-t")) {
            enum wl_ttype t;
            if (wl_ttype_parse(val, &t) != 0 || !wl_kernel_type_supported((uint32_t)t))
                return wl_bench_usage_error(who, usage,
                                            "-t: not a weight type the kernels take: '%s'", val);
            *type = (uint32_t)t;
        } else if (!strcmp(a, "-r")) {
            long v = strtol(val, &end, 10);
            if (end == val || *end || v < 1 || v > MAX_ROUNDS)
                return wl_bench_usage_error(who, usage, "-r: ROUNDS must be 1..%d, got '%s'",
                                            MAX_ROUNDS, val);
            *rounds = (int)v;
        } else if (!strcmp(a, "-S")) {
            long v = strtol(val, &end, 10);
            if (end == val || *end || v < 1 || v > MAX_SETS)
                return wl_bench_usage_error(who, usage, "-S: SETS must be 1..%d, got '%s'",
                                            MAX_SETS, val);
            *sets = (int)v;
        } else if (!strcmp(a, "-g")) {
            *gap = strtod(val, &end);
            if (end == val || *end || !(*gap >= 0 && *gap <= 1000))
                return wl_bench_usage_error(who, usage, "-g: GAP_US must be 0..1000, got '%s'",
                                            val);
        } else {
            *split = strtod(val, &end);
            if (end == val || *end || !(*split >= 0))
                return wl_bench_usage_error(who, usage, "-s: SPLIT_GBPS must be >= 0, got '%s'",
                                            val);
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct setup s = {.type = WL_TTYPE_Q4_K, .gap_us = 3};
    int rounds = 12, verbose = 0, sets = SETS;
    double split = 0;
    int args = parse_args(argc, argv, &s.type, &rounds, &s.gap_us, &split, &sets, &verbose);
    if (args >= 0)
        return args;
    s.row_bytes = wl_quant_row_bytes(s.type, COLS);
    /* 22 layers' worth of 2048-row products per set, SETS sets by default:
     * several times the last-level cache, so every pass streams from DRAM */
    s.rows = (int64_t)22 * LAYER_ROWS * sets;
    const size_t bytes = s.row_bytes * (size_t)s.rows;
    uint8_t *w = NULL;
    float *x = malloc(sizeof(float) * COLS), *y = malloc(sizeof(float) * (size_t)s.rows);
    s.scratch_bytes = wl_kernel_scratch_bytes(s.type, COLS, 1);
    if (posix_memalign((void **)&w, (size_t)2 << 20, bytes) != 0 || !x || !y ||
        (s.scratch_bytes && posix_memalign(&s.scratch, 64, s.scratch_bytes) != 0)) {
        fprintf(stderr, "bench_edges: out of memory\n");
        return 1;
    }
    wl_hugepage_advise(w, bytes); /* 2 MiB pages, as the engine's weight mapping */
    float src[COLS];
    for (int64_t r = 0; r < 64; r++) { /* 64 distinct rows, tiled */
        for (int c = 0; c < COLS; c++)
            src[c] = 0.05f * wl_bench_frand(&rng);
        wl_quantize_row(s.type, src, w + (size_t)r * s.row_bytes, COLS);
    }
    for (size_t off = 64 * s.row_bytes; off < bytes; off += 64 * s.row_bytes)
        memcpy(w + off, w, bytes - off < 64 * s.row_bytes ? bytes - off : 64 * s.row_bytes);
    for (int c = 0; c < COLS; c++)
        x[c] = wl_bench_frand(&rng);
    s.w = w;
    s.x = x;
    s.y = y;
    struct wl_membw_buf *mb = NULL;
    if (wl_kernels_init(&s.k, WL_KPATH_AUTO) != 0 || wl_threadpool_create(2, &s.pool) != 0 ||
        wl_membw_buf_create(bytes, &mb) != 0) {
        fprintf(stderr, "bench_edges: cannot set up kernels, threads or the read buffer\n");
        return 1;
    }
    struct round *rs = calloc((size_t)rounds, sizeof *rs);
    if (!rs) {
        fprintf(stderr, "bench_edges: out of memory\n");
        return 1;
    }
    printf("# bench_edges: %s, %d columns, %zu MiB streamed per variant, 2 threads, path %s, "
           "gap %.1f us\n",
           wl_ttype_name(s.type), COLS, bytes >> 20, wl_kpath_name(s.k.path), s.gap_us);
    printf("# read = the higher of two reads of as many bytes around a round, each the best of\n"
           "# %d passes of each of two read variants (plain loads, with prefetch)\n",
           READ_REPS);
    printf("# us per edge = (variant - one product) / edges (products - 1); a gap variant's\n"
           "# includes its gaps, the one after the last product too\n");
    char probe[320];
    printf("# %s\n", wl_bench_core_probe_text(probe, sizeof probe));
    for (int r = 0; r < rounds; r++) {
        struct wl_membw_result m1 = {0}, m2 = {0};
        int order[N_VAR];
        for (int v = 0; v < N_VAR; v++)
            order[v] = v;
        for (int v = N_VAR - 1; v > 0; v--) {
            int j = (int)(wl_bench_xorshift64(&rng) % (uint64_t)(v + 1)), t = order[v];
            order[v] = order[j];
            order[j] = t;
        }
        const double rt_before = wl_bench_core_roundtrip_ns();
        if (wl_membw_measure_buf(s.pool, mb, READ_REPS, &m1) != 0) {
            fprintf(stderr, "bench_edges: bandwidth reading failed\n");
            return 1;
        }
        for (int k = 0; k < N_VAR; k++)
            rs[r].sec[order[k]] = run_variant(&s, &variants[order[k]], &rs[r].n_products[order[k]]);
        if (wl_membw_measure_buf(s.pool, mb, READ_REPS, &m2) != 0) {
            fprintf(stderr, "bench_edges: bandwidth reading failed\n");
            return 1;
        }
        const double rt_after = wl_bench_core_roundtrip_ns();
        rs[r].read_gbps = m1.best_gbps > m2.best_gbps ? m1.best_gbps : m2.best_gbps;
        rs[r].dist = wl_bench_core_distance(rt_before, rt_after);
        if (verbose) {
            char huge[16];
            printf("round %d: cores %.0f/%.0f ns, read %.1f GB/s (best of %d + %d passes, %s on 2 "
                   "MiB pages):",
                   r, rt_before, rt_after, rs[r].read_gbps, m1.reps, m2.reps,
                   wl_bench_share_text(huge, sizeof huge, m2.huge_fraction));
            for (int v = 0; v < N_VAR; v++)
                printf(" %.1f", (double)bytes / rs[r].sec[v] * 1e-9);
            printf(" GB/s\n");
        } else {
            fprintf(stderr, "\rbench_edges: round %d/%d", r + 1, rounds);
        }
    }
    if (!verbose)
        fprintf(stderr, "\n");
    summarise("all rounds", rs, rounds, 0, 1e30, -2, bytes);
    char title[96];
    snprintf(title, sizeof title, "cores near (round trips < %.0f ns before and after)",
             WL_BENCH_FAR_RT_NS);
    summarise(title, rs, rounds, 0, 1e30, 0, bytes);
    snprintf(title, sizeof title, "cores far apart (round trips >= %.0f ns before and after)",
             WL_BENCH_FAR_RT_NS);
    summarise(title, rs, rounds, 0, 1e30, 1, bytes);
    int mixed = 0;
    for (int r = 0; r < rounds; r++)
        mixed += rs[r].dist < 0;
    if (mixed)
        printf("(%d round(s) in neither group: the state changed or a probe failed)\n", mixed);
    if (split > 0) {
        snprintf(title, sizeof title, "read < %.0f GB/s", split);
        summarise(title, rs, rounds, 0, split, -2, bytes);
        snprintf(title, sizeof title, "read >= %.0f GB/s", split);
        summarise(title, rs, rounds, split, 1e30, -2, bytes);
    }
    free(rs);
    wl_membw_buf_free(mb);
    wl_threadpool_destroy(s.pool);
    free(s.scratch);
    free(w);
    free(x);
    free(y);
    return 0;
}

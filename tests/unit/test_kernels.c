/* engine/kernels: every weight type on every code path this CPU has, against
 * an F32 reference (double accumulation) computed from the dequantized
 * weights; SIMD paths against the scalar path; thread counts; odd shapes.
 *
 * Tolerances (also in docs/internals/kernels.md), with S = sum_c |w_c x_c|:
 *  - F32/F16/BF16 weights (float activations): |y - ref| <= 2 n u S, u = 2^-24
 *    (worst-case bound of float summation in any order, with FMA or not).
 *  - Q8_0/Q4_0 (activations quantized to Q8A, one scale per 32 values) and
 *    Q4_K/Q6_K (Q8K, one scale per 256 values): each activation is off by at
 *    most amax_block/254, amax over its 32- or 256-value block, so
 *    |y - ref| <= 1.01 * sum_c |w_c| amax_block(c)/254 + 8 n u S'
 *    where S' uses the quantized activations (float scale products and sums).
 *  - Quantized weights, every path (scalar included) against refq, computed
 *    in double from the dequantized weights and the dequantized (quantized,
 *    then dequantized) activations: only float order differs, 8 n u S'. This
 *    is the tight check: a 10 % error in a Q4_K min term or the Q6_K -32
 *    offset stays inside the loose bound above.
 *  - SIMD vs scalar: the quantized activations are byte-identical on every
 *    path (checked), so the paths differ only in float order: 8 n u S'.
 *
 * The vector helpers (gated activations, exp-sum, norms) are checked in
 * test_kernels_vec.c.
 */
#include "test_support.h"

#include "engine/kernels/kernels.h"
#include "engine/kernels/kernels_impl.h" /* scratch row layout */
#include "engine/kernels/membw.h"
#include "engine/quant.h"
#include "engine/threadpool.h"
#include "wattlens/error.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static float rng_gauss(void)
{
    float u[2];
    for (int i = 0; i < 2; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        u[i] = (float)((rng_state >> 40) + 1) * 0x1p-24f;
    }
    return sqrtf(-2.0f * logf(u[0])) * cosf(6.2831853f * u[1]);
}

static const uint32_t all_types[] = {WL_TTYPE_F32,  WL_TTYPE_F16,  WL_TTYPE_BF16, WL_TTYPE_Q8_0,
                                     WL_TTYPE_Q4_0, WL_TTYPE_Q4_K, WL_TTYPE_Q6_K};
#define N_TYPES (sizeof all_types / sizeof all_types[0])

static bool is_quant(uint32_t t)
{
    return t != WL_TTYPE_F32 && t != WL_TTYPE_F16 && t != WL_TTYPE_BF16;
}

/* K-quant weights take Q8K activations (one scale per 256), the others Q8A. */
static bool is_kquant(uint32_t t)
{
    return t == WL_TTYPE_Q4_K || t == WL_TTYPE_Q6_K;
}

static int64_t act_block(uint32_t t)
{
    return is_kquant(t) ? WL_QK8K : WL_QK8A;
}

/* Activation mixes: gaussian; scaled by 1e30 or 1e-30 (float range ends);
 * every other activation block all zero; one large outlier per 256 values
 * (most values far below the block's amax); gaussian plus 1 (a non-zero
 * mean: the per-16 activation sums that multiply the Q4_K mins and the Q6_K
 * -32 offset are large, so errors in those terms show; with zero-mean
 * activations those sums are small and such errors hide). */
enum xmode { X_NORMAL, X_HUGE, X_TINY, X_ZERO_BLOCKS, X_OUTLIERS, X_MEAN };

/* A test problem: weights of one type, their dequantized copy, activations. */
struct problem {
    uint32_t type;
    int64_t rows, cols, n_x;
    size_t row_bytes;
    void *wq;    /* rows * row_bytes (row_bytes may exceed the packed size) */
    float *wdeq; /* rows * cols */
    float *x;    /* n_x * cols */
    float *xdeq; /* n_x * cols: x after Q8A round trip (quantized types) */
    void *scratch;
    size_t scratch_bytes;
};

static void problem_init_x(struct problem *p, uint32_t type, int64_t rows, int64_t cols,
                           int64_t n_x, size_t pad, enum xmode xm)
{
    memset(p, 0, sizeof *p);
    p->type = type;
    p->rows = rows;
    p->cols = cols;
    p->n_x = n_x;
    p->row_bytes = wl_quant_row_bytes(type, cols) + pad;
    assert_true(p->row_bytes > pad);
    p->wq = calloc((size_t)rows, p->row_bytes);
    p->wdeq = malloc(sizeof(float) * (size_t)(rows * cols));
    p->x = malloc(sizeof(float) * (size_t)(n_x * cols));
    p->xdeq = malloc(sizeof(float) * (size_t)(n_x * cols));
    float *tmp = malloc(sizeof(float) * (size_t)cols);
    assert_true(p->wq && p->wdeq && p->x && p->xdeq && tmp);
    for (int64_t r = 0; r < rows; r++) {
        float scale = 0.02f * (float)(1 + r % 5);
        for (int64_t c = 0; c < cols; c++)
            tmp[c] = rng_gauss() * scale;
        char *dst = (char *)p->wq + (size_t)r * p->row_bytes;
        assert_int_equal(wl_quantize_row(type, tmp, dst, cols), 0);
        assert_int_equal(wl_dequantize_row(type, dst, p->wdeq + r * cols, cols), 0);
    }
    for (int64_t i = 0; i < n_x * cols; i++) {
        float v = rng_gauss() * ((i / 97) % 3 == 0 ? 3.0f : 0.5f);
        if (xm == X_HUGE)
            v *= 1e30f;
        else if (xm == X_TINY)
            v *= 1e-30f;
        else if (xm == X_ZERO_BLOCKS && (i % cols) / act_block(type) % 2 == 1)
            v = 0.0f;
        else if (xm == X_OUTLIERS)
            v = i % 256 == 77 ? 500.0f * v : 0.01f * v;
        else if (xm == X_MEAN)
            v += 1.0f;
        p->x[i] = v;
    }
    p->scratch_bytes = wl_kernel_scratch_bytes(type, cols, n_x);
    if (is_kquant(type)) {
        assert_true(p->scratch_bytes > 0);
        assert_int_equal(posix_memalign(&p->scratch, 64, p->scratch_bytes), 0);
        memset(p->scratch, 0, p->scratch_bytes);
        struct wl_block_q8k *q = malloc(sizeof *q * (size_t)(n_x * cols / WL_QK8K));
        assert_non_null(q);
        wl_quantize_row_q8k(p->x, q, n_x * cols);
        wl_dequantize_row_q8k(q, p->xdeq, n_x * cols);
        free(q);
    } else if (is_quant(type)) {
        assert_true(p->scratch_bytes > 0);
        assert_int_equal(posix_memalign(&p->scratch, 64, p->scratch_bytes), 0);
        memset(p->scratch, 0, p->scratch_bytes);
        struct wl_block_q8a *q = malloc(sizeof *q * (size_t)(n_x * cols / 32));
        assert_non_null(q);
        wl_quantize_row_q8a(p->x, q, n_x * cols);
        wl_dequantize_row_q8a(q, p->xdeq, n_x * cols);
        free(q);
    } else {
        assert_int_equal(p->scratch_bytes, 0);
        memcpy(p->xdeq, p->x, sizeof(float) * (size_t)(n_x * cols));
    }
    free(tmp);
}

static void problem_init(struct problem *p, uint32_t type, int64_t rows, int64_t cols, int64_t n_x,
                         size_t pad)
{
    problem_init_x(p, type, rows, cols, n_x, pad, X_NORMAL);
}

static void problem_free(struct problem *p)
{
    free(p->wq);
    free(p->wdeq);
    free(p->x);
    free(p->xdeq);
    free(p->scratch);
}

static struct wl_kernel_weight problem_weight(const struct problem *p)
{
    struct wl_kernel_weight w = {p->type, p->wq, p->rows, p->cols, p->row_bytes};
    return w;
}

/* Allowed |y - ref| for output (t, r), and the float-order-only part. */
static void tolerance(const struct problem *p, int64_t t, int64_t r, double *tol_ref,
                      double *tol_paths)
{
    const double u = 0x1p-24;
    const float *w = p->wdeq + r * p->cols, *x = p->x + t * p->cols, *xq = p->xdeq + t * p->cols;
    double s = 0, sq = 0, act = 0;
    for (int64_t c = 0; c < p->cols; c++) {
        s += fabs((double)w[c] * x[c]);
        sq += fabs((double)w[c] * xq[c]);
    }
    if (is_quant(p->type)) {
        const int64_t bl = act_block(p->type);
        for (int64_t b = 0; b < p->cols / bl; b++) {
            double amax = 0, wsum = 0;
            for (int64_t i = 0; i < bl; i++) {
                amax = fmax(amax, fabs(x[bl * b + i]));
                wsum += fabs(w[bl * b + i]);
            }
            act += wsum * amax / 254.0;
        }
        *tol_ref = 1.01 * act + 8 * p->cols * u * sq + 1e-38;
        *tol_paths = 8 * p->cols * u * sq + 1e-38;
    } else {
        *tol_ref = 2 * p->cols * u * s + 1e-38;
        *tol_paths = *tol_ref;
    }
}

static void run_matmul(const struct wl_kernels *k, struct problem *p, struct wl_threadpool *pool,
                       float *y)
{
    struct wl_kernel_weight w = problem_weight(p);
    int rc = wl_kernel_matmul(k, &w, p->x, p->n_x, y, p->scratch, p->scratch_bytes, 0, pool);
    assert_int_equal(rc, 0);
}

/* Checks one problem on every available path and several thread counts. */
static void check_problem_x(uint32_t type, int64_t rows, int64_t cols, int64_t n_x, size_t pad,
                            struct wl_threadpool **pools, int n_pools, enum xmode xm)
{
    struct problem p;
    problem_init_x(&p, type, rows, cols, n_x, pad, xm);
    size_t ny = (size_t)(rows * n_x);
    float *y_scalar = malloc(sizeof(float) * ny), *y = malloc(sizeof(float) * ny);
    float *y_thr = malloc(sizeof(float) * ny);
    assert_true(y_scalar && y && y_thr);
    void *q_scalar = NULL;
    if (p.scratch_bytes) {
        q_scalar = malloc(p.scratch_bytes);
        assert_non_null(q_scalar);
    }

    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
        struct wl_kernels k;
        int rc = wl_kernels_init(&k, (enum wl_kpath)path);
        if (rc == WL_ENOTSUP)
            continue;
        assert_int_equal(rc, 0);
        run_matmul(&k, &p, NULL, y);
        if (path == WL_KPATH_SCALAR && is_kquant(type)) {
            /* the scratch rows hold exactly the Q8K blocks of the reference quantizer */
            struct wl_block_q8k blk;
            size_t stride = wl__xk_row_bytes(cols);
            assert_int_equal(p.scratch_bytes, stride * (size_t)n_x);
            for (int64_t t = 0; t < n_x; t++) {
                const char *row = (const char *)p.scratch + (size_t)t * stride;
                for (int64_t b = 0; b < cols / WL_QK8K; b++) {
                    wl_quantize_row_q8k(p.x + t * cols + WL_QK8K * b, &blk, WL_QK8K);
                    assert_memory_equal(blk.qs, row + WL_QK8K * b, WL_QK8K);
                    assert_memory_equal(blk.bsums, wl__xk_bsums(row, cols) + 16 * b,
                                        sizeof blk.bsums);
                    assert_true(blk.d == wl__xk_d(row, cols)[b]);
                }
            }
        } else if (path == WL_KPATH_SCALAR && p.scratch_bytes) {
            /* the scratch rows hold exactly the Q8A blocks of the reference quantizer */
            struct wl_block_q8a blk;
            size_t stride = wl__xq_row_bytes(cols);
            for (int64_t t = 0; t < n_x; t++) {
                const char *row = (const char *)p.scratch + (size_t)t * stride;
                for (int64_t b = 0; b < cols / 32; b++) {
                    wl_quantize_row_q8a(p.x + t * cols + 32 * b, &blk, 32);
                    assert_memory_equal(blk.qs, row + 32 * b, 32);
                    assert_true(blk.d == wl__xq_d(row, cols)[b]);
                    assert_true(blk.s == wl__xq_s(row, cols)[b]);
                }
            }
        }
        if (path == WL_KPATH_SCALAR) {
            memcpy(y_scalar, y, sizeof(float) * ny);
            if (p.scratch_bytes)
                memcpy(q_scalar, p.scratch, p.scratch_bytes);
        } else if (p.scratch_bytes) {
            /* activation quantization is byte-identical across paths */
            assert_memory_equal(q_scalar, p.scratch, p.scratch_bytes);
        }
        for (int64_t t = 0; t < n_x; t++)
            for (int64_t r = 0; r < rows; r++) {
                double ref = 0;
                for (int64_t c = 0; c < cols; c++)
                    ref += (double)p.wdeq[r * cols + c] * p.x[t * cols + c];
                double tol_ref, tol_paths;
                tolerance(&p, t, r, &tol_ref, &tol_paths);
                double got = y[t * rows + r];
                if (!(fabs(got - ref) <= tol_ref))
                    fail_msg("%s %s %ldx%ld n_x=%ld: y[%ld][%ld] = %.9g, ref %.9g, tol %.3g",
                             wl_kpath_name(k.path), wl_ttype_name(type), (long)rows, (long)cols,
                             (long)n_x, (long)t, (long)r, got, ref, tol_ref);
                if (is_quant(type)) {
                    /* tight: the same quantized activations the kernel used */
                    double refq = 0;
                    for (int64_t c = 0; c < cols; c++)
                        refq += (double)p.wdeq[r * cols + c] * p.xdeq[t * cols + c];
                    if (!(fabs(got - refq) <= tol_paths))
                        fail_msg("%s %s %ldx%ld n_x=%ld: y[%ld][%ld] = %.9g, ref from quantized "
                                 "x %.9g, tol %.3g",
                                 wl_kpath_name(k.path), wl_ttype_name(type), (long)rows, (long)cols,
                                 (long)n_x, (long)t, (long)r, got, refq, tol_paths);
                }
                double ys = y_scalar[t * rows + r];
                if (!(fabs(got - ys) <= tol_paths))
                    fail_msg("%s vs scalar %s: y[%ld][%ld] = %.9g vs %.9g, tol %.3g",
                             wl_kpath_name(k.path), wl_ttype_name(type), (long)t, (long)r, got, ys,
                             tol_paths);
            }
        /* threads only split rows: results are bit-identical */
        for (int i = 0; i < n_pools; i++) {
            memset(y_thr, 0xff, sizeof(float) * ny);
            run_matmul(&k, &p, pools[i], y_thr);
            assert_memory_equal(y, y_thr, sizeof(float) * ny);
        }
        /* prepared activations give the same result */
        if (p.scratch_bytes) {
            assert_int_equal(
                wl_kernel_prepare_x(&k, type, p.x, cols, n_x, p.scratch, p.scratch_bytes), 0);
            struct wl_kernel_weight w = problem_weight(&p);
            memset(y_thr, 0, sizeof(float) * ny);
            assert_int_equal(wl_kernel_matmul(&k, &w, p.x, n_x, y_thr, p.scratch, p.scratch_bytes,
                                              WL_KERNEL_X_PREPARED, pools[0]),
                             0);
            assert_memory_equal(y, y_thr, sizeof(float) * ny);
        }
        /* matmul over n_x rows equals n_x separate matvecs */
        if (n_x > 1) {
            struct wl_kernel_weight w = problem_weight(&p);
            for (int64_t t = 0; t < n_x; t++) {
                assert_int_equal(wl_kernel_matvec(&k, &w, p.x + t * cols, y_thr, p.scratch,
                                                  p.scratch_bytes, NULL),
                                 0);
                for (int64_t r = 0; r < rows; r++) {
                    double tol_ref, tol_paths;
                    tolerance(&p, t, r, &tol_ref, &tol_paths);
                    assert_true(fabs((double)y_thr[r] - y[t * rows + r]) <= tol_paths);
                }
            }
        }
    }
    free(q_scalar);
    free(y_scalar);
    free(y);
    free(y_thr);
    problem_free(&p);
}

static void check_problem(uint32_t type, int64_t rows, int64_t cols, int64_t n_x, size_t pad,
                          struct wl_threadpool **pools, int n_pools)
{
    check_problem_x(type, rows, cols, n_x, pad, pools, n_pools, X_NORMAL);
}

struct pools {
    struct wl_threadpool *p[3];
};

static int setup_pools(void **state)
{
    struct pools *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -1;
    const int n[3] = {2, 3, 5};
    for (int i = 0; i < 3; i++)
        if (wl_threadpool_create(n[i], &ps->p[i]) != 0)
            return -1;
    *state = ps;
    return 0;
}

static int teardown_pools(void **state)
{
    struct pools *ps = *state;
    for (int i = 0; i < 3; i++)
        wl_threadpool_destroy(ps->p[i]);
    free(ps);
    return 0;
}

static void test_paths_report(void **state)
{
    (void)state;
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++)
        print_message("kernel path %-6s %s\n", wl_kpath_name((enum wl_kpath)path),
                      wl_kpath_available((enum wl_kpath)path) ? "available (tested)"
                                                              : "NOT available on this CPU");
    struct wl_kernels k;
    assert_int_equal(wl_kernels_init(&k, WL_KPATH_AUTO), 0);
    assert_int_equal(k.path, wl_kpath_best());
    assert_int_equal(wl_kernels_init(&k, WL_KPATH_SCALAR), 0);
    assert_int_equal(wl_kernels_init(&k, (enum wl_kpath)42), WL_EINVAL);
    enum wl_kpath pth;
    assert_int_equal(wl_kpath_parse("AVX2", &pth), 0);
    assert_int_equal(pth, WL_KPATH_AVX2);
    assert_int_equal(wl_kpath_parse("sse", &pth), WL_EINVAL);
#if defined(WL_NO_X86_KERNELS)
    /* test_kernels_portable (cmake/extra/portable_kernels.cmake): the
     * portable build offers the scalar table only, as on a non-x86 CPU */
    assert_int_equal(wl_kpath_best(), WL_KPATH_SCALAR);
    assert_int_equal(wl_kernels_init(&k, WL_KPATH_AVX2), WL_ENOTSUP);
#endif
}

static void test_every_type_matvec(void **state)
{
    struct pools *ps = *state;
    for (size_t i = 0; i < N_TYPES; i++) {
        int64_t cols = wl_ttype_block_elems(all_types[i]) == 256 ? 512 : 384;
        check_problem(all_types[i], 67, cols, 1, 0, ps->p, 3);
    }
}

static void test_every_type_matmul_several_rows(void **state)
{
    struct pools *ps = *state;
    const int64_t n_xs[] = {2, 3, 4, 5, 9};
    for (size_t i = 0; i < N_TYPES; i++)
        for (size_t k = 0; k < sizeof n_xs / sizeof n_xs[0]; k++)
            check_problem(all_types[i], 29, 256, n_xs[k], 0, ps->p, 3);
}

static void test_odd_shapes(void **state)
{
    struct pools *ps = *state;
    for (size_t i = 0; i < N_TYPES; i++) {
        uint32_t t = all_types[i];
        bool k = wl_ttype_block_elems(t) == 256;
        /* one row; one block; rows over two tiles; padded row stride; odd block count */
        check_problem(t, 1, k ? 256 : 32, 1, 0, ps->p, 3);
        check_problem(t, 131, k ? 256 : 96, 2, 0, ps->p, 3);
        check_problem(t, 3, k ? 768 : 160, 3, 8, ps->p, 3);
        check_problem(t, 2, k ? 2048 : 2080, 1, 0, ps->p, 3);
    }
    /* float types take any column count, including tails shorter than a vector */
    const int64_t odd_cols[] = {1, 7, 15, 17, 33, 100};
    for (size_t i = 0; i < 3; i++)
        for (size_t c = 0; c < sizeof odd_cols / sizeof odd_cols[0]; c++)
            check_problem(all_types[i], 5, odd_cols[c], 2, 0, ps->p, 3);
}

/* K-quant weights with Q8K activations: one super-block exactly, many
 * super-blocks (odd and even counts), 1..9 activation rows, padded strides,
 * all-zero activation blocks, values near both ends of the float range,
 * blocks whose amax is an outlier far above the other values and
 * activations with a non-zero mean. */
static void test_kquant_q8k_edges(void **state)
{
    struct pools *ps = *state;
    const uint32_t kt[] = {WL_TTYPE_Q4_K, WL_TTYPE_Q6_K};
    for (size_t i = 0; i < 2; i++) {
        check_problem(kt[i], 7, 256, 1, 0, ps->p, 3);
        check_problem(kt[i], 5, 256 * 23, 1, 0, ps->p, 3);
        check_problem(kt[i], 5, 256 * 22, 2, 2, ps->p, 3);
        for (int64_t n_x = 1; n_x <= 9; n_x++)
            check_problem(kt[i], 17, 768, n_x, n_x % 2 ? 6 : 0, ps->p, 1);
        check_problem_x(kt[i], 9, 1024, 3, 0, ps->p, 1, X_ZERO_BLOCKS);
        check_problem_x(kt[i], 9, 1280, 2, 0, ps->p, 1, X_HUGE);
        check_problem_x(kt[i], 9, 1280, 2, 0, ps->p, 1, X_TINY);
        check_problem_x(kt[i], 9, 1536, 5, 0, ps->p, 1, X_OUTLIERS);
        check_problem_x(kt[i], 29, 1024, 2, 0, ps->p, 1, X_MEAN);
    }
    /* the Q8A types see the same mixes */
    for (size_t i = 3; i < 5; i++) {
        check_problem_x(all_types[i], 9, 1024, 3, 0, ps->p, 1, X_ZERO_BLOCKS);
        check_problem_x(all_types[i], 9, 1280, 2, 0, ps->p, 1, X_HUGE);
        check_problem_x(all_types[i], 9, 1536, 5, 0, ps->p, 1, X_OUTLIERS);
        check_problem_x(all_types[i], 29, 1056, 2, 0, ps->p, 1, X_MEAN);
    }
}

/* Every path's Q8K activation quantizer writes exactly the bytes of the
 * reference (round half to even, clamping, zero blocks, per-16 sums), also
 * for rounding midpoints, subnormal blocks and the float range ends; blocks
 * holding NaN or +-inf (in any lane, with or without large finite values)
 * get d = NaN, q = 0 and zero sums on every path. */
static void test_q8k_quantizer_paths(void **state)
{
    (void)state;
    enum { N = 256 * 17 };
    float *x = malloc(sizeof(float) * N);
    assert_non_null(x);
    for (int i = 0; i < N; i++) {
        int b = i / 256, k = i % 256;
        float v = rng_gauss();
        switch (b) {
        case 0: /* amax 127 -> d = 1: exact halves k/2 - 32 hit every rounding midpoint */
            v = k == 0 ? 127.0f : (float)(k % 128) * 0.5f - 32.0f;
            break;
        case 1:
            v = 0.0f;
            break;
        case 2:
            v *= 3e37f;
            break;
        case 3:
            v *= 1e-30f;
            break;
        case 4: /* subnormal amax: d is inexact, q clamps at +-127 */
            v *= 1e-40f;
            break;
        case 5: /* amax so small that d = amax/127 underflows to 0 */
            v = k == 3 ? 3e-45f : 0.0f;
            break;
        case 6: /* one value carries the block */
            v = k == 200 ? -1000.0f : 0.001f * v;
            break;
        case 12: /* NaN beside a large value, either order */
            v = k == 100 ? NAN : (k == 5 || k == 250 ? 3e38f : v);
            break;
        case 13:
            v = k == 255 ? INFINITY : v;
            break;
        case 14:
            v = k == 0 ? -INFINITY : v;
            break;
        case 15: /* NaN of either sign in every lane */
            v = k % 2 ? -NAN : NAN;
            break;
        case 16: /* the last lane of a vector, and a negative NaN */
            v = k == 7 ? -NAN : (k == 15 ? INFINITY : v);
            break;
        default:
            break;
        }
        x[i] = v;
    }
    struct wl_block_q8k *ref = malloc(sizeof *ref * (N / 256));
    assert_non_null(ref);
    wl_quantize_row_q8k(x, ref, N);
    for (int b = 0; b < N / 256; b++)
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) {
                assert_true(ref[b].qs[16 * g + i] >= -127);
                sum += ref[b].qs[16 * g + i];
            }
            assert_int_equal(ref[b].bsums[g], sum);
        }
    /* midpoints round to even */
    assert_true(ref[0].d == 1.0f);
    assert_int_equal(ref[0].qs[69], 2);  /* 2.5 */
    assert_int_equal(ref[0].qs[71], 4);  /* 3.5 */
    assert_int_equal(ref[0].qs[59], -2); /* -2.5 */
    assert_true(ref[1].d == 0.0f && ref[5].d == 0.0f && ref[5].qs[3] == 0);
    static const int8_t zeros[256];
    for (int b = 12; b < 17; b++) {
        assert_true(isnan(ref[b].d));
        assert_memory_equal(ref[b].qs, zeros, 256);
        assert_memory_equal(ref[b].bsums, zeros, sizeof ref[b].bsums);
    }
    assert_true(isfinite(ref[11].d) && ref[11].d > 0.0f);
    size_t sb = wl_kernel_scratch_bytes(WL_TTYPE_Q6_K, N, 1);
    assert_int_equal(sb, wl__xk_row_bytes(N));
    uint8_t *scratch = NULL;
    assert_int_equal(posix_memalign((void **)&scratch, 64, sb), 0);
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
        struct wl_kernels k;
        if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
            continue;
        memset(scratch, 0x5a, sb);
        assert_int_equal(wl_kernel_prepare_x(&k, WL_TTYPE_Q4_K, x, N, 1, scratch, sb), 0);
        for (int b = 0; b < N / 256; b++) {
            assert_memory_equal(ref[b].qs, scratch + 256 * b, 256);
            assert_memory_equal(ref[b].bsums, wl__xk_bsums(scratch, N) + 16 * b, 32);
            if (memcmp(&ref[b].d, wl__xk_d(scratch, N) + b, sizeof ref[b].d) != 0)
                fail_msg("path %s, block %d: d %g, reference %g",
                         wl_kpath_name((enum wl_kpath)path), b, (double)wl__xk_d(scratch, N)[b],
                         (double)ref[b].d);
            /* qp: the same values, sub-blocks in the order 0 2 1 3 4 6 5 7 */
            static const int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
            for (int q = 0; q < 8; q++)
                assert_memory_equal(ref[b].qs + 32 * order[q],
                                    wl__xk_qp(scratch, N) + 256 * b + 32 * q, 32);
        }
    }
    free(scratch);
    free(ref);
    free(x);
}

/* Every path's Q8A activation quantizer writes exactly the bytes of the
 * reference, also for rounding midpoints, zero, huge and tiny blocks: amax
 * just above and below 127/FLT_MAX (~3.7e-37, where 127/amax overflows to
 * inf), subnormal, and so small that d = amax/127 underflows to 0. Blocks
 * holding NaN or +-inf (in any lane, beside large values or not) get
 * d = s = NaN and q = 0 on every path. */
static void test_q8a_quantizer_paths(void **state)
{
    (void)state;
    static const float scale[] = {0.0f,     3e37f,  1e-30f, 1e-36f, 9.7e-38f,
                                  9.5e-38f, 1e-38f, 1e-40f, 1e-44f, 1.0f};
    /* the last NB_BAD blocks: one non-finite value at lane bad_at[j] */
    static const float bad[] = {NAN, -NAN, INFINITY, -INFINITY, NAN, INFINITY, NAN};
    static const int bad_at[] = {0, 7, 8, 31, 17, 23, -1}; /* -1: every lane */
    enum { NB_BAD = sizeof bad / sizeof bad[0] };
    enum { NB = 2 + sizeof scale / sizeof scale[0] + NB_BAD, N = 32 * NB };
    float x[N];
    for (int i = 0; i < N; i++) {
        const int b = i / 32, k = i % 32;
        if (b == 0) /* amax 127 -> d = 1: halves k/2 - 8 hit rounding midpoints */
            x[i] = k == 0 ? -127.0f : (float)k * 0.5f - 8.0f;
        else if (b == 1) /* one value carries the block */
            x[i] = k == 5 ? 1000.0f : 0.001f * rng_gauss();
        else if (b < NB - NB_BAD) /* amax 3.9 * scale: 9.7e-38 and 9.5e-38 are either side of
                                     127/FLT_MAX */
            x[i] = (k == 9 ? 3.9f : 0.2f * rng_gauss()) * scale[b - 2];
        else { /* beside values up to FLT_MAX */
            const int j = b - (NB - NB_BAD);
            x[i] = bad_at[j] < 0 || k == bad_at[j] ? bad[j] : (k == 3 ? FLT_MAX : rng_gauss());
        }
    }
    struct wl_block_q8a ref[NB];
    wl_quantize_row_q8a(x, ref, N);
    for (int b = 0; b < NB; b++) {
        int sum = 0;
        for (int k = 0; k < 32; k++) {
            assert_true(ref[b].qs[k] >= -127);
            sum += ref[b].qs[k];
        }
        if (b >= NB - NB_BAD) {
            assert_int_equal(sum, 0);
            assert_true(isnan(ref[b].d) && isnan(ref[b].s));
            for (int k = 0; k < 32; k++)
                assert_int_equal(ref[b].qs[k], 0);
        } else
            assert_true(ref[b].s == ref[b].d * (float)sum);
    }
    assert_true(ref[0].d == 1.0f);
    assert_int_equal(ref[0].qs[5], -6); /* -5.5: to even */
    assert_int_equal(ref[0].qs[21], 2); /* 2.5 */
    assert_true(127.0f / (3.9f * 9.7e-38f) <= FLT_MAX && !(127.0f / (3.9f * 9.5e-38f) <= FLT_MAX));
    const size_t sb = wl_kernel_scratch_bytes(WL_TTYPE_Q8_0, N, 1);
    assert_int_equal(sb, wl__xq_row_bytes(N));
    uint8_t *scratch = NULL;
    assert_int_equal(posix_memalign((void **)&scratch, 64, sb), 0);
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
        struct wl_kernels k;
        if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
            continue;
        memset(scratch, 0x5a, sb);
        assert_int_equal(wl_kernel_prepare_x(&k, WL_TTYPE_Q8_0, x, N, 1, scratch, sb), 0);
        for (int b = 0; b < NB; b++) {
            const float sc = b < 2 || b >= NB - NB_BAD ? 1.0f : scale[b - 2];
            if (memcmp(ref[b].qs, scratch + 32 * b, 32) != 0)
                fail_msg("path %s, block %d (amax scale %g): qs[0] %d, reference %d",
                         wl_kpath_name((enum wl_kpath)path), b, (double)sc,
                         ((const int8_t *)scratch)[32 * b], ref[b].qs[0]);
            if (memcmp(&ref[b].d, wl__xq_d(scratch, N) + b, sizeof(float)) != 0 ||
                memcmp(&ref[b].s, wl__xq_s(scratch, N) + b, sizeof(float)) != 0)
                fail_msg("path %s, block %d: d %g s %g, reference %g %g",
                         wl_kpath_name((enum wl_kpath)path), b, (double)wl__xq_d(scratch, N)[b],
                         (double)wl__xq_s(scratch, N)[b], (double)ref[b].d, (double)ref[b].s);
        }
    }
    free(scratch);
}

/* The AVX-512 Q4_K kernel with and without GFNI (wl_kernels_init picks the
 * GFNI one when the CPU has it, so the other is only reachable here): same
 * integer nibbles, so the results must be bit-identical, for 1..4 activation
 * rows, odd and even block counts and random scale bytes. */
static void test_q4_k_gfni_variant_is_identical(void **state)
{
    (void)state;
#if defined(WL__HAVE_X86_KERNELS)
    struct wl__cpu_features f;
    wl__cpu_features_get(&f);
    if (!wl_kpath_available(WL_KPATH_AVX512) || !f.gfni)
        skip();
    enum { COLS = 256 * 7, ROWS = 9, NX = 4 };
    struct wl_block_q4_k *w = malloc(sizeof *w * (COLS / 256) * ROWS);
    float *x = malloc(sizeof(float) * COLS * NX);
    size_t rb = wl__xk_row_bytes(COLS);
    uint8_t *xq = NULL;
    assert_true(w && x && posix_memalign((void **)&xq, 64, rb * NX) == 0);
    uint8_t *wb = (uint8_t *)w;
    for (size_t i = 0; i < sizeof *w * (COLS / 256) * ROWS; i++)
        wb[i] = (uint8_t)((rng_gauss() + 4.0f) * 31.0f);
    for (int i = 0; i < (COLS / 256) * ROWS; i++) {
        w[i].d = wl_fp32_to_fp16(0.01f * rng_gauss());
        w[i].dmin = wl_fp32_to_fp16(0.01f * rng_gauss());
    }
    for (int i = 0; i < COLS * NX; i++)
        x[i] = rng_gauss();
    for (int t = 0; t < NX; t++)
        wl__kernel_ops_avx512.quant_q8k(x + (size_t)t * COLS, xq + rb * t, COLS);
    for (int64_t n = 256; n <= COLS; n += 256)
        for (int nx = 1; nx <= NX; nx++)
            for (int r = 0; r < ROWS; r++) {
                float a[NX], b[NX];
                /* n < COLS reads the first n columns of each row */
                const struct wl_block_q4_k *row = w + (size_t)r * (COLS / 256);
                wl__kernel_ops_avx512.dot_q4_k(n, row, xq, rb, nx, a);
                wl__kernel_ops_avx512_gfni.dot_q4_k(n, row, xq, rb, nx, b);
                assert_memory_equal(a, b, sizeof(float) * (size_t)nx);
            }
    free(xq);
    free(x);
    free(w);
#else
    skip();
#endif
}

/* Random weight rows of a quantized type (row stride rb >= the packed row),
 * with finite scales; Q4_K scale bytes are random bytes. */
static void *random_weight_rows(uint32_t type, int64_t cols, int rows, size_t rb)
{
    uint8_t *w = calloc((size_t)rows, rb);
    float *f = malloc(sizeof(float) * (size_t)cols);
    assert_true(w && f);
    for (int r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++)
            f[c] = rng_gauss() * (1.0f + (float)(r % 3));
        assert_int_equal(wl_quantize_row(type, f, w + (size_t)r * rb, cols), 0);
        if (type == WL_TTYPE_Q4_K) {
            struct wl_block_q4_k *b = (void *)(w + (size_t)r * rb);
            for (int64_t i = 0; i < cols / 256; i++)
                for (size_t k = 0; k < sizeof b[i].scales; k++)
                    b[i].scales[k] = (uint8_t)((rng_gauss() + 4.0f) * 31.0f);
        }
    }
    free(f);
    return w;
}

/* One dotp table entry against the dot of the same table with nx = 1: the
 * same bits, with and without a prefetch stream, for every block count
 * that exercises the main, remainder and tail loops. */
static int check_dotp(const char *name, const struct wl__kernel_ops *ops, uint32_t type)
{
    const bool kq = type == WL_TTYPE_Q4_K || type == WL_TTYPE_Q6_K; /* Q8K activations */
    wl__dotp_fn dotp = wl__dotp_for(ops, type);
    wl__dot_fn dot = wl__dot_for(ops, type);
    if (!dotp)
        return 0;
    enum { ROWS = 5 };
    for (int64_t nb = 1; nb <= (kq ? 7 : 21); nb++) {
        int64_t cols = (kq ? 256 : 32) * nb;
        size_t rb = wl_quant_row_bytes(type, cols);
        void *w = random_weight_rows(type, cols, ROWS, rb);
        size_t xs = kq ? wl__xk_row_bytes(cols) : wl__xq_row_bytes(cols);
        float *x = malloc(sizeof(float) * (size_t)cols);
        uint8_t *xq = NULL;
        assert_true(x && posix_memalign((void **)&xq, 64, xs) == 0);
        for (int64_t c = 0; c < cols; c++)
            x[c] = rng_gauss();
        if (kq)
            ops->quant_q8k(x, xq, cols);
        else
            ops->quant_q8a(x, xq, cols);
        /* all rows in one call, the first ROWS - 1 prefetching the next row;
         * then each row alone without a prefetch: prefetching changes nothing */
        float all[ROWS];
        dotp(cols, w, rb, ROWS, xq, all, rb, ROWS - 1);
        for (int r = 0; r < ROWS; r++) {
            const char *wr = (const char *)w + (size_t)r * rb;
            float one, got;
            dot(cols, wr, xq, xs, 1, &one);
            dotp(cols, wr, rb, 1, xq, &got, rb, 0);
            if (memcmp(&one, &got, sizeof one) != 0 || memcmp(&one, &all[r], sizeof one) != 0)
                fail_msg("%s %s cols %ld row %d: dotp %.9g (alone) %.9g (all rows), dot %.9g", name,
                         wl_ttype_name(type), (long)cols, r, got, all[r], one);
        }
        free(xq);
        free(x);
        free(w);
    }
    return 1;
}

/* The number of dotp entries checked (tables without them have none). */
static int check_dotp_all(const char *name, const struct wl__kernel_ops *ops)
{
    static const uint32_t types[] = {WL_TTYPE_Q8_0, WL_TTYPE_Q4_0, WL_TTYPE_Q4_K, WL_TTYPE_Q6_K};
    int n = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        n += check_dotp(name, ops, types[i]);
    return n;
}

/* The decode entries with spread prefetch (wl__dotp_fn) give exactly the
 * bits of the dot entries: both AVX-512 tables (wl_kernels_init picks one),
 * and the portable and AVX2 tables should they gain such entries. */
static void test_dotp_identical(void **state)
{
    (void)state;
    int n = 0;
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX2; path++) {
        struct wl_kernels k;
        if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
            continue;
        n += check_dotp_all(wl_kpath_name(k.path), k.ops);
    }
#if defined(WL__HAVE_X86_KERNELS)
    if (wl_kpath_available(WL_KPATH_AVX512)) {
        n += check_dotp_all("avx512", &wl__kernel_ops_avx512);
        struct wl__cpu_features f;
        wl__cpu_features_get(&f);
        if (f.gfni)
            n += check_dotp_all("avx512+gfni", &wl__kernel_ops_avx512_gfni);
    }
#endif
    if (n == 0) { /* only the AVX-512 tables have them: a CPU without it checks nothing */
        print_message("no dotp entries here (only the AVX-512 tables have them): "
                      "the AVX-512 kernels were NOT tested\n");
        skip();
    }
}

static void test_zero_activations_and_weights(void **state)
{
    (void)state;
    struct wl_kernels k;
    assert_int_equal(wl_kernels_init(&k, WL_KPATH_AUTO), 0);
    for (size_t i = 0; i < N_TYPES; i++) {
        uint32_t t = all_types[i];
        int64_t cols = 256;
        size_t rb = wl_quant_row_bytes(t, cols);
        void *w = calloc(4, rb);
        float x[256] = {0}, wf[256], y[4];
        assert_non_null(w);
        for (int c = 0; c < 256; c++)
            wf[c] = 0.1f * (float)(c % 7) - 0.3f;
        for (int r = 0; r < 2; r++)
            assert_int_equal(wl_quantize_row(t, wf, (char *)w + r * rb, cols), 0);
        _Alignas(64) uint8_t scratch[576]; /* a Q8K row of 256: 320 + 256 (qp) */
        struct wl_kernel_weight wd = {t, w, 4, cols, rb};
        assert_int_equal(wl_kernel_matvec(&k, &wd, x, y, scratch, sizeof scratch, NULL), 0);
        for (int r = 0; r < 4; r++)
            assert_true(y[r] == 0.0f);
        free(w);
    }
}

/* An activation row holding NaN or +-inf (an overflow upstream) gives a
 * non-finite product with every weight row, on every path and for every
 * type, as float arithmetic would: with quantized weights the activation
 * quantizers make that block's scale NaN (quant.h), so the product is NaN
 * even against an all-zero weight row. The other activation rows of the
 * same call are untouched. Through wl_kernel_matmul (3 rows, prefill) and
 * wl_kernel_matvec (decode, the dotp entries where a path has them). */
static void test_non_finite_activations(void **state)
{
    (void)state;
    enum { ROWS = 5, COLS = 512, NX = 3 };
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    static const int at[] = {0, 45, 300, 511};
    float *x = malloc(sizeof(float) * NX * COLS), *wf = malloc(sizeof(float) * COLS);
    float y[NX * ROWS], y_clean[NX * ROWS], y1[ROWS];
    assert_true(x && wf);
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        const uint32_t t = all_types[ti];
        const size_t rb = wl_quant_row_bytes(t, COLS);
        char *w = calloc(ROWS, rb); /* row ROWS - 1 stays all zero */
        assert_non_null(w);
        for (int r = 0; r < ROWS - 1; r++) {
            for (int c = 0; c < COLS; c++)
                wf[c] = 0.05f * rng_gauss();
            assert_int_equal(wl_quantize_row(t, wf, w + (size_t)r * rb, COLS), 0);
        }
        const size_t sb = wl_kernel_scratch_bytes(t, COLS, NX);
        void *scratch = NULL;
        if (sb)
            assert_int_equal(posix_memalign(&scratch, 64, sb), 0);
        const struct wl_kernel_weight wd = {t, w, ROWS, COLS, rb};
        for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
            struct wl_kernels k;
            if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
                continue;
            const char *name = wl_kpath_name((enum wl_kpath)path);
            for (int i = 0; i < NX * COLS; i++)
                x[i] = rng_gauss();
            assert_int_equal(wl_kernel_matmul(&k, &wd, x, NX, y_clean, scratch, sb, 0, NULL), 0);
            for (size_t bi = 0; bi < sizeof bad / sizeof bad[0]; bi++)
                for (size_t ai = 0; ai < sizeof at / sizeof at[0]; ai++) {
                    const float keep = x[COLS + at[ai]];
                    x[COLS + at[ai]] = bad[bi]; /* activation row 1 */
                    assert_int_equal(wl_kernel_matmul(&k, &wd, x, NX, y, scratch, sb, 0, NULL), 0);
                    assert_int_equal(wl_kernel_matvec(&k, &wd, x + COLS, y1, scratch, sb, NULL), 0);
                    for (int r = 0; r < ROWS; r++) {
                        if (isfinite(y[ROWS + r]) || isfinite(y1[r]))
                            fail_msg("path %s, %s, %g at column %d: row %d gives %g (matmul), "
                                     "%g (matvec)",
                                     name, wl_ttype_name(t), (double)bad[bi], at[ai], r,
                                     (double)y[ROWS + r], (double)y1[r]);
                        if (is_quant(t))
                            assert_true(isnan(y[ROWS + r]) && isnan(y1[r]));
                    }
                    for (int r = 0; r < ROWS; r++) { /* the other rows as before */
                        assert_memory_equal(&y[r], &y_clean[r], sizeof(float));
                        assert_memory_equal(&y[2 * ROWS + r], &y_clean[2 * ROWS + r],
                                            sizeof(float));
                    }
                    x[COLS + at[ai]] = keep;
                }
        }
        free(scratch);
        free(w);
    }
    free(x);
    free(wf);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct wl_kernels k;
    assert_int_equal(wl_kernels_init(&k, WL_KPATH_AUTO), 0);
    _Alignas(4) uint8_t wbuf[34 * 8 + 1] = {0};
    float x[256] = {0}, y[8];
    _Alignas(64) uint8_t scratch[256 + 64]; /* 256 int8 + 8 scales + 8 sums */
    struct wl_kernel_weight w = {WL_TTYPE_Q8_0, wbuf, 1, 256, 34 * 8};
    assert_int_equal(wl_kernel_matvec(&k, &w, x, y, scratch, sizeof scratch, NULL), 0);
    assert_int_equal(wl_kernel_matvec(&k, &w, x, y, scratch, sizeof scratch - 1, NULL), WL_EINVAL);
    assert_int_equal(wl_kernel_matvec(&k, &w, x, y, NULL, 0, NULL), WL_EINVAL);
    w.cols = 100;
    assert_int_equal(wl_kernel_matvec(&k, &w, x, y, scratch, sizeof scratch, NULL), WL_EINVAL);
    w.cols = 256;
    w.row_bytes = 33 * 8;
    assert_int_equal(wl_kernel_matvec(&k, &w, x, y, scratch, sizeof scratch, NULL), WL_EINVAL);
    w.row_bytes = 34 * 8 + 1; /* fp16 fields would be misaligned */
    assert_int_equal(wl_kernel_matvec(&k, &w, x, y, scratch, sizeof scratch, NULL), WL_EINVAL);
    w.row_bytes = 34 * 8;
    w.data = wbuf + 1;
    assert_int_equal(wl_kernel_matvec(&k, &w, x, y, scratch, sizeof scratch, NULL), WL_EINVAL);
    w.data = wbuf;
    w.type = WL_TTYPE_Q5_K;
    assert_int_equal(wl_kernel_matvec(&k, &w, x, y, scratch, sizeof scratch, NULL), WL_ENOTSUP);
    w.type = WL_TTYPE_Q8_0;
    w.data = NULL;
    assert_int_equal(wl_kernel_matvec(&k, &w, x, y, scratch, sizeof scratch, NULL), WL_EINVAL);
    w.data = wbuf;
    assert_int_equal(wl_kernel_matmul(&k, &w, x, 0, y, scratch, sizeof scratch, 0, NULL),
                     WL_EINVAL);
    assert_int_equal(wl_kernel_scratch_bytes(WL_TTYPE_F16, 256, 4), 0);
    /* Q8A rows: 256 int8 + 8 scales + 8 sums; Q8K rows: 256 int8 + 16 int16
     * sums + 1 scale = 292, padded to 320, then the 256 int8 again in qp order */
    assert_int_equal(wl_kernel_scratch_bytes(WL_TTYPE_Q8_0, 256, 4), 4 * (256 + 64));
    assert_int_equal(wl_kernel_scratch_bytes(WL_TTYPE_Q4_K, 256, 4), 4 * (320 + 256));
    assert_int_equal(wl_kernel_scratch_bytes(WL_TTYPE_Q6_K, 2048, 1),
                     2048 + 256 + 64 + 2048);                           /* 2336 -> 2368, + qp */
    assert_int_equal(wl_kernel_scratch_bytes(WL_TTYPE_Q4_K, 96, 1), 0); /* not a multiple of 256 */
    assert_int_equal(wl_kernel_prepare_x(&k, WL_TTYPE_Q4_K, x, 96, 1, scratch, sizeof scratch),
                     WL_EINVAL);
    assert_true(wl_kernel_x_compatible(WL_TTYPE_Q4_K, WL_TTYPE_Q6_K));
    assert_true(wl_kernel_x_compatible(WL_TTYPE_Q8_0, WL_TTYPE_Q4_0));
    assert_true(wl_kernel_x_compatible(WL_TTYPE_F16, WL_TTYPE_F32));
    assert_false(wl_kernel_x_compatible(WL_TTYPE_Q8_0, WL_TTYPE_Q4_K));
    assert_false(wl_kernel_x_compatible(WL_TTYPE_Q6_K, WL_TTYPE_F32));
    assert_false(wl_kernel_x_compatible(WL_TTYPE_Q5_K, WL_TTYPE_Q5_K));
    assert_int_equal(wl_kernel_prepare_x(&k, WL_TTYPE_Q8_0, x, 256, 1, scratch, 10), WL_EINVAL);
}

/* Scratch only needs float alignment: every path gives the same result with
 * scratch at a 4-byte (not 64-byte) boundary. */
static void test_scratch_alignment(void **state)
{
    (void)state;
    struct problem p;
    problem_init(&p, WL_TTYPE_Q4_K, 9, 512, 3, 0);
    size_t ny = (size_t)(p.rows * p.n_x);
    float *y0 = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny);
    uint8_t *big = NULL;
    assert_int_equal(posix_memalign((void **)&big, 64, p.scratch_bytes + 64), 0);
    assert_true(y0 && y1);
    struct wl_kernel_weight w = problem_weight(&p);
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
        struct wl_kernels k;
        if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
            continue;
        assert_int_equal(
            wl_kernel_matmul(&k, &w, p.x, p.n_x, y0, p.scratch, p.scratch_bytes, 0, NULL), 0);
        assert_int_equal(
            wl_kernel_matmul(&k, &w, p.x, p.n_x, y1, big + 4, p.scratch_bytes, 0, NULL), 0);
        assert_memory_equal(y0, y1, sizeof(float) * ny);
        assert_int_equal(
            wl_kernel_matmul(&k, &w, p.x, p.n_x, y1, big + 2, p.scratch_bytes, 0, NULL), WL_EINVAL);
    }
    free(big);
    free(y0);
    free(y1);
    problem_free(&p);
}

static void test_membw_measure(void **state)
{
    struct pools *ps = *state;
    struct wl_membw_result r;
    /* small buffer (cache-resident; figures only checked for sanity) */
    assert_int_equal(wl_membw_measure_read(NULL, (size_t)4 << 20, 2, &r), 0);
    assert_true(r.best_gbps > 0 && r.mean_gbps > 0 && r.best_gbps >= r.mean_gbps);
    /* both read variants ran; the reported best is the faster one's */
    assert_true(r.best_plain_gbps > 0 && r.best_prefetch_gbps > 0);
    assert_true(r.best_gbps == (r.best_plain_gbps > r.best_prefetch_gbps ? r.best_plain_gbps
                                                                         : r.best_prefetch_gbps));
    assert_true(r.huge_fraction == -1.0 || (r.huge_fraction >= 0.0 && r.huge_fraction <= 1.0));
    assert_int_equal(r.bytes, (size_t)4 << 20);
    assert_int_equal(r.reps, 2);
    assert_int_equal(r.n_threads, 1);
    assert_int_equal(wl_membw_measure_read(ps->p[0], ((size_t)3 << 20) + 100, 1, &r), 0);
    assert_int_equal(r.n_threads, 2);
    assert_int_equal(r.bytes, (size_t)3 << 20); /* rounded down to whole pages */
    assert_int_equal(wl_membw_measure_read(NULL, 1000, 1, &r), WL_EINVAL);
    assert_int_equal(wl_membw_measure_read(NULL, (size_t)4 << 20, 0, &r), WL_EINVAL);
    assert_int_equal(wl_membw_measure_read(NULL, (size_t)4 << 20, 1, NULL), WL_EINVAL);
}

/* a kept buffer gives the same kind of reading, many times, and is checked */
static void test_membw_buf(void **state)
{
    struct pools *ps = *state;
    struct wl_membw_buf *b = NULL;
    assert_int_equal(wl_membw_buf_create(1000, &b), WL_EINVAL);
    assert_null(b);
    assert_int_equal(wl_membw_buf_create((size_t)4 << 20, NULL), WL_EINVAL);
    assert_int_equal(wl_membw_buf_create(((size_t)2 << 20) + 100, &b), 0);
    assert_int_equal(wl_membw_buf_bytes(b), (size_t)2 << 20);
    struct wl_membw_result r;
    for (int i = 0; i < 2; i++) {
        memset(&r, 0, sizeof r);
        assert_int_equal(wl_membw_measure_buf(ps->p[0], b, 2, &r), 0);
        assert_true(r.best_gbps > 0 && r.best_gbps >= r.mean_gbps);
        assert_int_equal(r.bytes, (size_t)2 << 20);
        assert_int_equal(r.reps, 2);
        assert_int_equal(r.n_threads, 2);
    }
    assert_int_equal(wl_membw_measure_buf(NULL, NULL, 1, &r), WL_EINVAL);
    assert_int_equal(wl_membw_measure_buf(NULL, b, 0, &r), WL_EINVAL);
    assert_int_equal(wl_membw_measure_buf(NULL, b, 1, NULL), WL_EINVAL);
    wl_membw_buf_free(b);
    wl_membw_buf_free(NULL);
    assert_int_equal(wl_membw_buf_bytes(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_report),
        cmocka_unit_test(test_every_type_matvec),
        cmocka_unit_test(test_every_type_matmul_several_rows),
        cmocka_unit_test(test_odd_shapes),
        cmocka_unit_test(test_kquant_q8k_edges),
        cmocka_unit_test(test_q8k_quantizer_paths),
        cmocka_unit_test(test_q8a_quantizer_paths),
        cmocka_unit_test(test_q4_k_gfni_variant_is_identical),
        cmocka_unit_test(test_dotp_identical),
        cmocka_unit_test(test_zero_activations_and_weights),
        cmocka_unit_test(test_non_finite_activations),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_scratch_alignment),
        cmocka_unit_test(test_membw_measure),
        cmocka_unit_test(test_membw_buf),
    };
    return cmocka_run_group_tests(tests, setup_pools, teardown_pools);
}

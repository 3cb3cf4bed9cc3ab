/* wl_kernel_matmul_multi: several matrices applied to the same activations
 * in one pool job must give bit for bit what one wl_kernel_matmul per matrix
 * gives, for every weight type and for mixes of one activation format, for
 * decode (one row) and prefill (several rows), with and without a pool, for
 * matrices of different row counts (chunks of one matrix must never run
 * into the next); and mismatched inputs are refused.
 */
#include "test_support.h"

#include "engine/kernels/kernels.h"
#include "engine/threadpool.h"
#include "engine/tensor_type.h"
#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) & 0xffffff) / (float)0x800000 - 1.0f;
}

struct mat {
    struct wl_kernel_weight w;
    void *data;
};

static void mat_make(struct mat *m, uint32_t type, int64_t rows, int64_t cols)
{
    const size_t rb = wl_quant_row_bytes(type, cols);
    float *src = malloc(sizeof(float) * (size_t)cols);
    assert_non_null(src);
    m->data = malloc(rb * (size_t)rows);
    assert_non_null(m->data);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++)
            src[c] = frand();
        assert_int_equal(wl_quantize_row(type, src, (char *)m->data + (size_t)r * rb, cols), 0);
    }
    free(src);
    m->w = (struct wl_kernel_weight){.type = type, .data = m->data, .rows = rows, .cols = cols,
                                     .row_bytes = rb};
}

static void check_types(const uint32_t type[3], struct wl_threadpool *pool)
{
    struct wl_kernels k;
    assert_int_equal(wl_kernels_init(&k, WL_KPATH_AUTO), 0);
    const int64_t cols = 512;
    /* q / k / v shaped: one big, two small; row counts not multiples of 16 */
    const int64_t rows[3] = {517, 64, 40};
    struct mat m[3];
    struct wl_kernel_weight ws[3];
    for (int i = 0; i < 3; i++) {
        mat_make(&m[i], type[i], rows[i], cols);
        ws[i] = m[i].w;
    }
    const int64_t nxs[] = {1, 5};
    for (size_t a = 0; a < sizeof nxs / sizeof nxs[0]; a++) {
        const int64_t n_x = nxs[a];
        float *x = malloc(sizeof(float) * (size_t)(cols * n_x));
        assert_non_null(x);
        for (int64_t i = 0; i < cols * n_x; i++)
            x[i] = frand();
        size_t sb = wl_kernel_scratch_bytes(type[0], cols, n_x);
        void *scratch = sb ? aligned_alloc(64, (sb + 63) & ~(size_t)63) : NULL;
        float *y1[3], *y2[3];
        for (int i = 0; i < 3; i++) {
            y1[i] = malloc(sizeof(float) * (size_t)(rows[i] * n_x));
            y2[i] = calloc((size_t)(rows[i] * n_x), sizeof(float));
            assert_non_null(y1[i]);
            assert_non_null(y2[i]);
            assert_int_equal(wl_kernel_matmul(&k, &ws[i], x, n_x, y1[i], scratch, sb, 0, pool), 0);
        }
        assert_int_equal(wl_kernel_matmul_multi(&k, ws, 3, x, n_x, y2, scratch, sb, 0, pool), 0);
        for (int i = 0; i < 3; i++) {
            assert_memory_equal(y1[i], y2[i], sizeof(float) * (size_t)(rows[i] * n_x));
            free(y1[i]);
            free(y2[i]);
        }
        free(scratch);
        free(x);
    }
    for (int i = 0; i < 3; i++)
        free(m[i].data);
}

static void test_multi_equals_single(void **state)
{
    (void)state;
    static const uint32_t types[] = {WL_TTYPE_F32,  WL_TTYPE_F16,  WL_TTYPE_BF16, WL_TTYPE_Q8_0,
                                     WL_TTYPE_Q4_0, WL_TTYPE_Q4_K, WL_TTYPE_Q6_K};
    const int threads[] = {1, 2, 3};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        struct wl_threadpool *pool = NULL;
        if (threads[t] > 1)
            assert_int_equal(wl_threadpool_create(threads[t], &pool), 0);
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            const uint32_t same[3] = {types[i], types[i], types[i]};
            check_types(same, pool);
        }
        /* mixed types of one activation format, as in Q4_K_M files (v in
         * Q6_K) and Q8_0/Q4_0 or F16/F32 mixes */
        static const uint32_t mixed[][3] = {{WL_TTYPE_Q4_K, WL_TTYPE_Q4_K, WL_TTYPE_Q6_K},
                                             {WL_TTYPE_Q8_0, WL_TTYPE_Q4_0, WL_TTYPE_Q8_0},
                                             {WL_TTYPE_F16, WL_TTYPE_F32, WL_TTYPE_BF16}};
        for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++)
            check_types(mixed[i], pool);
        wl_threadpool_destroy(pool);
    }
}

static void test_multi_rejects_mismatch(void **state)
{
    (void)state;
    struct wl_kernels k;
    assert_int_equal(wl_kernels_init(&k, WL_KPATH_AUTO), 0);
    struct mat a, b, c;
    mat_make(&a, WL_TTYPE_Q8_0, 32, 256);
    mat_make(&b, WL_TTYPE_Q4_K, 32, 256); /* other activation format (Q8K) */
    mat_make(&c, WL_TTYPE_Q8_0, 32, 512); /* other row length */
    float x[512] = {0}, y0[32], y1[32];
    float *ys[2] = {y0, y1};
    unsigned char scratch[4096] __attribute__((aligned(64)));
    struct wl_kernel_weight ab[2] = {a.w, b.w}, ac[2] = {a.w, c.w}, aa[2] = {a.w, a.w};
    assert_int_equal(wl_kernel_matmul_multi(&k, ab, 2, x, 1, ys, scratch, sizeof scratch, 0, NULL),
                     WL_EINVAL);
    assert_int_equal(wl_kernel_matmul_multi(&k, ac, 2, x, 1, ys, scratch, sizeof scratch, 0, NULL),
                     WL_EINVAL);
    assert_int_equal(wl_kernel_matmul_multi(&k, aa, 0, x, 1, ys, scratch, sizeof scratch, 0, NULL),
                     WL_EINVAL);
    assert_int_equal(wl_kernel_matmul_multi(&k, aa, WL_KERNEL_MAX_MULTI + 1, x, 1, ys, scratch,
                                            sizeof scratch, 0, NULL),
                     WL_EINVAL);
    float *ysn[2] = {y0, NULL};
    assert_int_equal(wl_kernel_matmul_multi(&k, aa, 2, x, 1, ysn, scratch, sizeof scratch, 0, NULL),
                     WL_EINVAL);
    assert_int_equal(wl_kernel_matmul_multi(&k, aa, 2, x, 1, ys, scratch, sizeof scratch, 0, NULL), 0);
    free(a.data);
    free(b.data);
    free(c.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_equals_single),
        cmocka_unit_test(test_multi_rejects_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

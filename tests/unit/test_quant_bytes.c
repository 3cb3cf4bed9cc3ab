/* engine/quant: the bytes the weight quantizers (Q8_0, Q4_0, Q4_K, Q6_K)
 * write for fixed data are pinned, one FNV-1a hash per format, so every
 * build writes the same file from the same input. Built twice:
 * - as this unit test, against the library (on x86 the SSE2 candidate loops);
 * - as test_quant_portable (cmake/extra/quant_portable.cmake): quant.c with
 *   WL_QUANT_PORTABLE, i.e. the portable loops an arm64 build compiles, with
 *   FMA code generation and contraction on (-mfma -ffp-contract=fast), as
 *   clang compiles them on arm64. The build's -ffp-contract=off for quant.c
 *   (CMakeLists.txt) must keep every multiply-add rounding as written; without
 *   it the portable bytes differed (here Q6_K's; on other data Q4_K's too).
 * The data is made with exact integer arithmetic (no libm), so it is the
 * same on every platform.
 * Also on both builds: blocks of tiny values (subnormals, |x| <= 2e-38, where
 * an inverse scale overflows) are written as all-zero blocks, and Q4_K
 * sub-blocks whose range overflows (values near +-FLT_MAX) get no scale.
 */
#include "test_support.h"

#include "engine/quant.h"
#include "engine/tensor_type.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { N_VALUES = 256 * 4096 };

/* Roughly Gaussian values (a sum of four uniform 24-bit integers, centred;
 * the int to float conversion rounds as IEEE says), every 7th three times
 * larger. Full-width mantissas: on a coarse grid the products would be exact
 * and a fused multiply-add would round the same. */
static void fill(float *x, int64_t n)
{
    uint64_t s = 88172645463325252ull;
    for (int64_t i = 0; i < n; i++) {
        int32_t sum = 0;
        for (int k = 0; k < 4; k++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            sum += (int32_t)(s >> 40);
        }
        x[i] = (float)(sum - 2 * 16777215) * 0x1p-23f * (i % 7 == 0 ? 3.0f : 1.0f);
    }
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void test_quantizers_write_pinned_bytes(void **state)
{
    (void)state;
#if defined(WL_QUANT_PORTABLE) && (defined(__x86_64__) || defined(__i386__))
    if (!__builtin_cpu_supports("fma"))
        skip(); /* the portable build runs FMA instructions */
#endif
    static const struct {
        enum wl_ttype type;
        uint64_t hash;
    } want[] = {
        {WL_TTYPE_Q8_0, 0x020066eff3dd958bull},
        {WL_TTYPE_Q4_0, 0xceae457b79db5c44ull},
        {WL_TTYPE_Q4_K, 0x22d803556d1b1397ull},
        {WL_TTYPE_Q6_K, 0x43258a2db433e2f7ull},
    };
    float *x = malloc((size_t)N_VALUES * sizeof *x);
    assert_non_null(x);
    fill(x, N_VALUES);
    int bad = 0;
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const size_t bytes = wl_quant_row_bytes(want[k].type, N_VALUES);
        unsigned char *q = malloc(bytes);
        assert_non_null(q);
        assert_int_equal(wl_quantize_row(want[k].type, x, q, N_VALUES), 0);
        const uint64_t h = fnv1a(q, bytes);
        if (h != want[k].hash) {
            print_error("%s: bytes hash 0x%016llx, pinned 0x%016llx\n", wl_ttype_name(want[k].type),
                        (unsigned long long)h, (unsigned long long)want[k].hash);
            bad++;
        }
        free(q);
    }
    free(x);
    assert_int_equal(bad, 0);
}

/* A block whose largest magnitude is below ~2.4e-38 makes 1/d (Q8_0,
 * Q4_0) or the fits' inverse scales (Q4_K, Q6_K) overflow to inf; x * inf
 * then went to int as +-inf or NaN, undefined behaviour (on x86 it gave
 * INT_MIN, which Q4_0 clamped to nibble 0 instead of 8). Such blocks must be
 * written as the all-zero block: bytes equal to an all-zero row's (scale
 * fields up to the sign of 0), dequantizing to exactly 0. Row A is all tiny;
 * in row B every other 32-value block is tiny and the others are O(1), so the
 * K-quant super-blocks mix tiny and normal sub-blocks. Built with
 * -fsanitize=float-cast-overflow the old code stopped here. */
static void test_tiny_blocks_quantize_as_zero_blocks(void **state)
{
    (void)state;
    enum { N = 1024 };
    static const enum wl_ttype types[] = {WL_TTYPE_Q8_0, WL_TTYPE_Q4_0, WL_TTYPE_Q4_K,
                                          WL_TTYPE_Q6_K};
    float tiny[N], mixed[N], zero[N] = {0}, y[N];
    for (int i = 0; i < N; i++) {
        /* subnormals 1e-39..4e-39 of both signs, zeros, and the normal 2e-38 */
        float v = i % 3 == 0 ? 0.0f : (float)(1 + i % 4) * 1e-39f * (i % 2 ? -1.0f : 1.0f);
        if (i % 11 == 5)
            v = i % 2 ? -2e-38f : 2e-38f;
        tiny[i] = v;
        mixed[i] = (i / 32) % 2 ? (float)(i % 13 - 6) * 0.25f : v;
    }
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const enum wl_ttype t = types[k];
        const size_t bytes = wl_quant_row_bytes(t, N);
        unsigned char *qz = malloc(bytes), *qt = malloc(bytes);
        assert_true(qz && qt);
        assert_int_equal(wl_quantize_row(t, zero, qz, N), 0);
        assert_int_equal(wl_quantize_row(t, tiny, qt, N), 0);
        /* fp16 scale fields: d (and dmin) may differ from the zero row's in
         * the sign bit only */
        const size_t bb = bytes / (N / wl_ttype_block_elems(t));
        for (size_t off = 0; off < bytes; off += bb) {
            size_t nh = 0, h[2]; /* offsets of the fp16 scale fields in a block */
            if (t == WL_TTYPE_Q8_0)
                h[nh++] = offsetof(struct wl_block_q8_0, d);
            if (t == WL_TTYPE_Q4_0)
                h[nh++] = offsetof(struct wl_block_q4_0, d);
            if (t == WL_TTYPE_Q4_K) {
                h[nh++] = offsetof(struct wl_block_q4_k, d);
                h[nh++] = offsetof(struct wl_block_q4_k, dmin);
            }
            if (t == WL_TTYPE_Q6_K)
                h[nh++] = offsetof(struct wl_block_q6_k, d);
            for (size_t j = 0; j < nh; j++)
                for (int r = 0; r < 2; r++) {
                    unsigned char *f = (r ? qz : qt) + off + h[j];
                    uint16_t v;
                    memcpy(&v, f, sizeof v);
                    v &= 0x7fff;
                    memcpy(f, &v, sizeof v);
                }
        }
        if (memcmp(qt, qz, bytes) != 0)
            fail_msg("%s: a row of tiny values is not written as all-zero blocks",
                     wl_ttype_name(t));
        assert_int_equal(wl_dequantize_row(t, qt, y, N), 0);
        for (int i = 0; i < N; i++)
            if (y[i] != 0.0f)
                fail_msg("%s: tiny row y[%d] = %g, want 0", wl_ttype_name(t), i, y[i]);
        assert_int_equal(wl_quantize_row(t, mixed, qt, N), 0);
        assert_int_equal(wl_dequantize_row(t, qt, y, N), 0);
        for (int i = 0; i < N; i++) {
            if (!isfinite(y[i]))
                fail_msg("%s: mixed row y[%d] = %g", wl_ttype_name(t), i, y[i]);
            if ((i / 32) % 2 == 0 && y[i] != 0.0f)
                fail_msg("%s: mixed row, tiny block, y[%d] = %g, want 0", wl_ttype_name(t), i,
                         y[i]);
            if ((i / 32) % 2 == 1 && !(fabsf(y[i] - mixed[i]) <= 0.2f))
                fail_msg("%s: mixed row y[%d] = %g, want ~%g", wl_ttype_name(t), i, y[i], mixed[i]);
        }
        free(qz);
        free(qt);
    }
}

/* A Q4_K sub-block holding values of both signs near FLT_MAX has a range
 * (hi - lo) above FLT_MAX: inf, so every inverse scale the fit tries is 0
 * and (x - lo) * 0 is NaN, which the portable loop converted to int,
 * undefined behaviour (built with -fsanitize=float-cast-overflow the old
 * code stopped here; the SSE2 loop's conversion is defined, but the fit it
 * scored stored d = inf). Like a tiny sub-block, no scale fits it: its
 * scale is 0 and its q are 0. Every weight format quantizes such a row without error. */
static void test_huge_range_blocks_get_no_scale(void **state)
{
    (void)state;
    enum { N = 512 };
    static const enum wl_ttype types[] = {WL_TTYPE_Q8_0, WL_TTYPE_Q4_0, WL_TTYPE_Q4_K,
                                          WL_TTYPE_Q6_K};
    float x[N];
    for (int i = 0; i < N; i++) {
        /* +-FLT_MAX and +-(FLT_MAX - a few ulp) alternating: every 32-value
         * sub-block's range overflows */
        const float v = i % 4 < 2 ? FLT_MAX : nextafterf(nextafterf(FLT_MAX, 0.0f), 0.0f);
        x[i] = i % 2 ? -v : v;
    }
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const enum wl_ttype t = types[k];
        unsigned char *q = malloc(wl_quant_row_bytes(t, N));
        assert_non_null(q);
        assert_int_equal(wl_quantize_row(t, x, q, N), 0);
        if (t == WL_TTYPE_Q4_K) {
            const struct wl_block_q4_k *b = (const struct wl_block_q4_k *)q;
            for (int j = 0; j < N / WL_QK_K; j++) {
                if ((b[j].d & 0x7fff) != 0)
                    fail_msg("Q4_K block %d: d = 0x%04x, want 0 (no scale fits)", j, b[j].d);
                for (int s = 0; s < 8; s++) {
                    uint8_t sc, m;
                    wl_q4_k_get_scale_min(b[j].scales, s, &sc, &m);
                    if (sc != 0)
                        fail_msg("Q4_K block %d sub-block %d: scale %d, want 0", j, s, sc);
                }
                for (size_t i = 0; i < sizeof b[j].qs; i++)
                    if (b[j].qs[i] != 0)
                        fail_msg("Q4_K block %d: qs[%zu] = 0x%02x, want 0", j, i, b[j].qs[i]);
            }
        }
        free(q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantizers_write_pinned_bytes),
        cmocka_unit_test(test_tiny_blocks_quantize_as_zero_blocks),
        cmocka_unit_test(test_huge_range_blocks_get_no_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

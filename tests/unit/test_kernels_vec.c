/* engine/kernels: the vector helpers on every code path this CPU has -- the
 * gated activations (wl_kernel_silu_mul, wl_kernel_gelu_mul) against double
 * references within 4 ulp, the exp-sum against expf (non-finite inputs
 * included), and the norm helpers (wl_kernel_sum_sq, wl_kernel_scale_mul)
 * bit-identical to the scalar path; SIMD tails at every length. The matrix
 * products, quantizers and threading are test_kernels.c's; the portable
 * build runs these as test_kernels_vec_portable
 * (cmake/extra/portable_kernels.cmake).
 */
#include "test_support.h"

#include "engine/kernels/kernels.h"
#include "wattlens/error.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* wl_kernel_silu_mul on every path against silu(x) * u in double: within
 * 4 ulp of the exact value (relative 4 * 2^-24 of it, plus |g u| 1e-38
 * for x < -87, where the SIMD paths divide by +inf instead of e^-x), over
 * x in [-100, 100] (dense around 0) with u = 1 and random u; NaN stays NaN,
 * +inf stays +inf, -inf gives NaN (-inf / inf, as with expf); and a tail
 * (n % 8 != 0) gives the same bits as the same elements inside a longer row. */

/* A gated activation g = act(g) * u over n floats (wl_kernel_silu_mul,
 * wl_kernel_gelu_mul). */
typedef void (*gate_fn)(const struct wl_kernels *k, float *g, const float *u, int64_t n);

/* Tails: on k's path, fn over n = 1..15 of the 16 floats at src gives the
 * same elements as over all 16, and leaves the rest untouched. */
static void check_gate_tails(const struct wl_kernels *k, gate_fn fn, const float *src,
                             const float *u)
{
    float full[16], part[16];
    memcpy(full, src, sizeof full);
    fn(k, full, u, 16);
    for (int n = 1; n < 16; n++) {
        memcpy(part, src, sizeof part);
        fn(k, part, u, n);
        assert_memory_equal(part, full, (size_t)n * sizeof(float));
        assert_memory_equal(part + n, src + n, (size_t)(16 - n) * sizeof(float));
    }
}
static void test_silu_mul_paths(void **state)
{
    (void)state;
    enum { N = 200001 };
    float *g = malloc(N * sizeof(float)), *u = malloc(N * sizeof(float));
    float *x = malloc(N * sizeof(float)), *us = malloc(N * sizeof(float));
    assert_non_null(g);
    assert_non_null(u);
    assert_non_null(x);
    assert_non_null(us);
    uint32_t seed = 7;
    for (int i = 0; i < N; i++) {
        const double t = -1.0 + 2.0 * i / (N - 1); /* cubic: dense near 0 */
        x[i] = (float)(100.0 * t * t * t);
        seed = seed * 1664525u + 1013904223u;
        us[i] = (float)((seed >> 8) * (1.0 / 16777216.0) * 4.0 - 2.0);
    }
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
        struct wl_kernels k;
        if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
            continue;
        for (int with_u = 0; with_u < 2; with_u++) {
            memcpy(g, x, N * sizeof(float));
            for (int i = 0; i < N; i++)
                u[i] = with_u ? us[i] : 1.0f;
            wl_kernel_silu_mul(&k, g, u, N);
            double worst = 0.0;
            int worst_i = 0;
            for (int i = 0; i < N; i++) {
                const double xd = x[i], ref = xd / (1.0 + exp(-xd)) * u[i];
                const double err = fabs(g[i] - ref);
                const double bound = 4.0 * fabs(ref) * 0x1p-24 + fabs(xd * u[i]) * 1e-38;
                if (err / bound > worst) {
                    worst = err / bound;
                    worst_i = i;
                }
            }
            if (worst > 1.0)
                fail_msg("path %s, u %s: x = %.9g gives %.9g, exact %.9g (error %.2f x the bound)",
                         wl_kpath_name((enum wl_kpath)path), with_u ? "random" : "1",
                         (double)x[worst_i], (double)g[worst_i],
                         (double)x[worst_i] / (1.0 + exp(-(double)x[worst_i])) * u[worst_i], worst);
        }
        float sp[5] = {NAN, INFINITY, 0.0f, -0.0f, -INFINITY};
        const float one[5] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
        wl_kernel_silu_mul(&k, sp, one, 5);
        assert_true(isnan(sp[0]));
        assert_true(isinf(sp[1]) && sp[1] > 0);
        assert_true(sp[2] == 0.0f && sp[3] == 0.0f);
        assert_true(isnan(sp[4])); /* -inf / (1 + expf(+inf)), as on the scalar path */
        check_gate_tails(&k, wl_kernel_silu_mul, x + 100000 - 8, us);
    }
    free(g);
    free(u);
    free(x);
    free(us);
}

/* gelu_tanh(x) u in double, as x / (1 + e^-z), z = 2y = 2 sqrt(2/pi) (x +
 * 0.044715 x^3): the same value as 0.5 x (1 + tanh(y)) u, without its
 * cancellation for negative x (1 + tanh(y) is 0 in double below y = -19). */
static double gelu_ref(double x, double u, double *z)
{
    *z = 2.0 * sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-*z)) * u;
}

/* wl_kernel_gelu_mul on every path against gelu_tanh(x) * u in double:
 * within 4 ulp of the exact value plus 8 |z| (1 - sigma(z)) ulp, the cost
 * of rounding z = 2y in float (its relative error, at most ~8 * 2^-24,
 * scaled by the function's condition number in z), plus |x u| 1e-38 where
 * e^-z is past the SIMD e^x's range (those paths divide by +inf), over x in
 * [-100, 100] (dense around 0) with u = 1 and random u. Every SIMD path
 * against the scalar one: within 8 ulp plus |x u| 1e-38 (they compute z
 * with the same float operations, so only the exponential differs). NaN,
 * +-inf, +-0 and values whose cube overflows give what the scalar path and
 * silu_mul give; a tail gives the same bits as in a longer row. */
static void test_gelu_mul_paths(void **state)
{
    (void)state;
    enum { N = 200001 };
    float *g = malloc(N * sizeof(float)), *u = malloc(N * sizeof(float));
    float *x = malloc(N * sizeof(float)), *us = malloc(N * sizeof(float));
    float *scalar = malloc(N * sizeof(float));
    assert_non_null(g);
    assert_non_null(u);
    assert_non_null(x);
    assert_non_null(us);
    assert_non_null(scalar);
    uint32_t seed = 9;
    for (int i = 0; i < N; i++) {
        const double t = -1.0 + 2.0 * i / (N - 1); /* cubic: dense near 0 */
        x[i] = (float)(100.0 * t * t * t);
        seed = seed * 1664525u + 1013904223u;
        us[i] = (float)((seed >> 8) * (1.0 / 16777216.0) * 4.0 - 2.0);
    }
    const float sp_in[10] = {NAN,   INFINITY, 0.0f,    -0.0f,    -INFINITY,
                             1e13f, -1e13f,   FLT_MAX, -FLT_MAX, 1.0f};
    float sp_scalar[10];
    struct wl_kernels ks;
    assert_int_equal(wl_kernels_init(&ks, WL_KPATH_SCALAR), 0);
    memcpy(sp_scalar, sp_in, sizeof sp_in);
    const float ones[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    wl_kernel_gelu_mul(&ks, sp_scalar, ones, 10);
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
        struct wl_kernels k;
        if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
            continue;
        const char *name = wl_kpath_name((enum wl_kpath)path);
        for (int with_u = 0; with_u < 2; with_u++) {
            for (int i = 0; i < N; i++)
                u[i] = with_u ? us[i] : 1.0f;
            memcpy(scalar, x, N * sizeof(float));
            wl_kernel_gelu_mul(&ks, scalar, u, N);
            memcpy(g, x, N * sizeof(float));
            wl_kernel_gelu_mul(&k, g, u, N);
            double worst = 0.0, worst_p = 0.0;
            int worst_i = 0, worst_pi = 0;
            for (int i = 0; i < N; i++) {
                double z;
                const double ref = gelu_ref(x[i], u[i], &z);
                const double cond = fabs(z) / (1.0 + exp(z)); /* |z| (1 - sigma(z)) */
                const double tiny = fabs((double)x[i] * u[i]) * 1e-38;
                const double bound = (4.0 + 8.0 * cond) * fabs(ref) * 0x1p-24 + tiny;
                if (fabs(g[i] - ref) / bound > worst) {
                    worst = fabs(g[i] - ref) / bound;
                    worst_i = i;
                }
                const double pb = 8.0 * fabs((double)scalar[i]) * 0x1p-24 + tiny;
                if (fabs((double)g[i] - scalar[i]) / pb > worst_p) {
                    worst_p = fabs((double)g[i] - scalar[i]) / pb;
                    worst_pi = i;
                }
            }
            double z;
            if (worst > 1.0)
                fail_msg("path %s, u %s: x = %.9g gives %.9g, exact %.9g (error %.2f x the bound)",
                         name, with_u ? "random" : "1", (double)x[worst_i], (double)g[worst_i],
                         gelu_ref(x[worst_i], u[worst_i], &z), worst);
            if (worst_p > 1.0)
                fail_msg("path %s, u %s: x = %.9g gives %.9g, scalar %.9g (%.2f x the bound)", name,
                         with_u ? "random" : "1", (double)x[worst_pi], (double)g[worst_pi],
                         (double)scalar[worst_pi], worst_p);
        }
        float sp[10];
        memcpy(sp, sp_in, sizeof sp);
        wl_kernel_gelu_mul(&k, sp, ones, 10);
        assert_true(isnan(sp[0]));
        assert_true(isinf(sp[1]) && sp[1] > 0);
        assert_true(sp[2] == 0.0f && sp[3] == 0.0f);
        assert_true(isnan(sp[4])); /* -inf / (1 + e^+inf), as silu_mul gives */
        assert_true(sp[5] == 1e13f && sp[7] == FLT_MAX); /* the cube overflows: gelu(x) = x */
        assert_true(sp[6] == 0.0f && sp[8] == 0.0f);
        for (int i = 1; i < 9; i++) /* the same as the scalar path, sign of zero included */
            assert_memory_equal(&sp[i], &sp_scalar[i], sizeof(float));
        check_gate_tails(&k, wl_kernel_gelu_mul, x + 100000 - 8, us);
    }
    free(g);
    free(u);
    free(x);
    free(us);
    free(scalar);
}

/* Row lengths for the element-wise helpers: 1..40 (every SIMD tail), then
 * the given long ones. Returns the count written to out (room for 40 +
 * n_long). */
static int helper_lengths(int *out, const int *longs, int n_long)
{
    int c = 0;
    for (int n = 1; n <= 40; n++)
        out[c++] = n;
    for (int i = 0; i < n_long; i++)
        out[c++] = longs[i];
    return c;
}

/* wl_kernel_exp_sum on every path: each e^(s - mx) within 4 ulp of exact
 * (plus 2e-38 absolute below e^-87) and the sum within 4 ulp per element,
 * for row lengths 1..40 (SIMD tails) and 1000, arguments in [-100, 0]. */
static void test_exp_sum_paths(void **state)
{
    (void)state;
    enum { NMAX = 1000 };
    float s[NMAX], src[NMAX];
    uint32_t seed = 11;
    for (int path = WL_KPATH_SCALAR; path <= WL_KPATH_AVX512; path++) {
        struct wl_kernels k;
        if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
            continue;
        static const int longs[] = {NMAX};
        int lens[41];
        const int n_lens = helper_lengths(lens, longs, 1);
        for (int li = 0; li < n_lens; li++) {
            const int n = lens[li];
            const float mx = 3.25f;
            for (int j = 0; j < n; j++) {
                seed = seed * 1664525u + 1013904223u;
                const double t = (seed >> 8) * (1.0 / 16777216.0);
                src[j] = mx - (float)(j % 7 == 0 ? 100.0 * t : 12.0 * t * t);
            }
            memcpy(s, src, (size_t)n * sizeof(float));
            const float sum = wl_kernel_exp_sum(&k, s, n, mx);
            double exact_sum = 0.0;
            for (int j = 0; j < n; j++) {
                const double e = exp((double)src[j] - (double)mx);
                exact_sum += e;
                if (fabs(s[j] - e) > 4.0 * e * 0x1p-24 + 2e-38)
                    fail_msg("path %s, n %d: e^(%.9g) gives %.9g, exact %.9g",
                             wl_kpath_name((enum wl_kpath)path), n, (double)(src[j] - mx),
                             (double)s[j], e);
            }
            if (fabs(sum - exact_sum) > 4.0 * n * exact_sum * 0x1p-24)
                fail_msg("path %s, n %d: sum %.9g, exact %.9g", wl_kpath_name((enum wl_kpath)path),
                         n, (double)sum, exact_sum);
        }
    }
}

/* An exponential of wl_kernel_exp_sum against the scalar path's expf: the
 * same NaN, infinity or exact 0 (e^-inf), else within 4 ulp of it each way
 * (plus the SIMD paths' absolute 2e-38). */
static bool exp_matches(float got, float ref, int n_terms)
{
    if (isnan(ref))
        return isnan(got);
    if (isinf(ref) || ref == 0.0f)
        return got == ref;
    return fabsf(got - ref) <= 8.0f * (float)n_terms * ref * 0x1p-24f + 4e-38f;
}

/* Non-finite scores (an F16 KV cache overflows to inf; docs/internals/engine.md):
 * every path gives what the scalar path's expf gives, in the SIMD main loop and
 * in its tail alike. NaN stays NaN, e^-inf is 0, e^+inf is +inf, and the sum
 * follows; with mx taken as att_row_post takes it (the first score, then
 * every larger one), a NaN or +inf score makes the row NaN, as does a row of
 * -inf only. Every element is the same bits as in a longer row. */
static void test_exp_sum_non_finite(void **state)
{
    (void)state;
    enum { NMAX = 24 };
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    struct wl_kernels ks;
    assert_int_equal(wl_kernels_init(&ks, WL_KPATH_SCALAR), 0);
    int n_paths = 0;
    for (int path = WL_KPATH_AVX2; path <= WL_KPATH_AVX512; path++) {
        struct wl_kernels k;
        if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
            continue;
        n_paths++;
        const char *name = wl_kpath_name((enum wl_kpath)path);
        for (int n = 1; n <= NMAX; n++)
            for (int p = -1; p < n; p++) /* p = -1: every score -inf */
                for (int b = 0; b < 3; b++)
                    for (int row_max = 0; row_max < 2; row_max++) {
                        if (p < 0 && (b != 2 || !row_max))
                            continue;
                        float src[NMAX], ref[NMAX], got[NMAX], longer[NMAX];
                        for (int j = 0; j < NMAX; j++)
                            src[j] = p < 0 ? -INFINITY : -0.25f - 1.5f * (float)(j % 5);
                        if (p >= 0)
                            src[p] = bad[b];
                        float mx = 0.0f;
                        if (row_max) {
                            mx = src[0];
                            for (int j = 1; j < n; j++)
                                mx = src[j] > mx ? src[j] : mx;
                        }
                        memcpy(ref, src, sizeof src);
                        memcpy(got, src, sizeof src);
                        memcpy(longer, src, sizeof src);
                        const float ref_sum = wl_kernel_exp_sum(&ks, ref, n, mx);
                        const float sum = wl_kernel_exp_sum(&k, got, n, mx);
                        wl_kernel_exp_sum(&k, longer, NMAX, mx);
                        for (int j = 0; j < n; j++) {
                            if (!exp_matches(got[j], ref[j], 1))
                                fail_msg("path %s, n %d, score %g at %d, mx %g: e^(%g) gives %g, "
                                         "expf %g",
                                         name, n, (double)bad[b], p, (double)mx,
                                         (double)src[j] - (double)mx, (double)got[j],
                                         (double)ref[j]);
                            if (memcmp(&got[j], &longer[j], sizeof(float)) != 0)
                                fail_msg("path %s, n %d: element %d differs in a row of %d", name,
                                         n, j, NMAX);
                        }
                        if (!exp_matches(sum, ref_sum, n))
                            fail_msg("path %s, n %d, score %g at %d, mx %g: sum %g, scalar %g",
                                     name, n, (double)bad[b], p, (double)mx, (double)sum,
                                     (double)ref_sum);
                        if (row_max && (p < 0 || b < 2))
                            assert_true(isnan(sum));
                    }
    }
    if (n_paths == 0) /* the portable build, or a CPU without AVX2: nothing compared */
        skip();
}

/* The norm helpers give the same bits on every path as on the scalar one:
 * wl_kernel_sum_sq (double, 8 interleaved accumulators) and
 * wl_kernel_scale_mul (with and without w, in place), lengths 1..40 (SIMD
 * tails), 2048 and 5632, values over many magnitudes. */
static void test_norm_helpers_paths(void **state)
{
    (void)state;
    enum { NMAX = 5632 };
    float *x = malloc(NMAX * sizeof(float)), *w = malloc(NMAX * sizeof(float));
    float *ref = malloc(NMAX * sizeof(float)), *got = malloc(NMAX * sizeof(float));
    assert_non_null(x);
    assert_non_null(w);
    assert_non_null(ref);
    assert_non_null(got);
    uint32_t seed = 5;
    for (int i = 0; i < NMAX; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ldexpf((float)(seed >> 8) / 16777216.0f - 0.5f, (int)(seed % 40) - 20);
        seed = seed * 1664525u + 1013904223u;
        w[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
    }
    struct wl_kernels ks;
    assert_int_equal(wl_kernels_init(&ks, WL_KPATH_SCALAR), 0);
    for (int path = WL_KPATH_AVX2; path <= WL_KPATH_AVX512; path++) {
        struct wl_kernels k;
        if (wl_kernels_init(&k, (enum wl_kpath)path) != 0)
            continue;
        static const int longs[] = {2048, NMAX};
        int lens[42];
        const int n_lens = helper_lengths(lens, longs, 2);
        for (int li = 0; li < n_lens; li++) {
            const int n = lens[li];
            const double a = wl_kernel_sum_sq(&ks, x, n), b = wl_kernel_sum_sq(&k, x, n);
            if (memcmp(&a, &b, sizeof a) != 0)
                fail_msg("path %s, n %d: sum of squares %.17g, scalar %.17g",
                         wl_kpath_name((enum wl_kpath)path), n, b, a);
            for (int with_w = 0; with_w < 2; with_w++) {
                const float s = 0.37f;
                wl_kernel_scale_mul(&ks, ref, x, s, with_w ? w : NULL, n);
                wl_kernel_scale_mul(&k, got, x, s, with_w ? w : NULL, n);
                assert_memory_equal(ref, got, (size_t)n * sizeof(float));
                memcpy(got, x, (size_t)n * sizeof(float)); /* in place */
                wl_kernel_scale_mul(&k, got, got, s, with_w ? w : NULL, n);
                assert_memory_equal(ref, got, (size_t)n * sizeof(float));
            }
        }
    }
    free(x);
    free(w);
    free(ref);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silu_mul_paths),     cmocka_unit_test(test_gelu_mul_paths),
        cmocka_unit_test(test_exp_sum_paths),      cmocka_unit_test(test_exp_sum_non_finite),
        cmocka_unit_test(test_norm_helpers_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

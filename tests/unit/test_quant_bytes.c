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
 */
#include "test_support.h"

#include "engine/quant.h"
#include "engine/tensor_type.h"

#include <stdint.h>
#include <stdlib.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantizers_write_pinned_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

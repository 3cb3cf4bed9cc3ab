/* engine/quant: fp16/bf16 conversion (exhaustive), GGUF block layouts
 * (dequantization against independent element-indexed references written
 * here from the format description), and quantize -> dequantize error bounds
 * per format (the bounds are documented in docs/internals/kernels.md).
 */
#include "test_support.h"

#include "engine/quant.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- deterministic test data ------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static float rng_uniform(void) /* [0, 1) */
{
    return (float)(rng_u32() >> 8) * 0x1p-24f;
}

static float rng_gauss(void)
{
    float u1 = rng_uniform() + 0x1p-25f, u2 = rng_uniform();
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

static void fill_random_bytes(void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rng_u32();
}

/* A random finite fp16 of moderate magnitude (exponent field 5..20). */
static uint16_t rng_fp16_finite(void)
{
    uint16_t sign = (uint16_t)((rng_u32() & 1) << 15);
    uint16_t e = (uint16_t)(5 + rng_u32() % 16);
    return (uint16_t)(sign | (e << 10) | (rng_u32() & 0x3ff));
}

/* ---- fp16 ------------------------------------------------------------------- */

/* The value of an fp16 bit pattern from the definition (finite patterns). */
static double fp16_value(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static void test_fp16_to_fp32_matches_definition_for_every_pattern(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = wl_fp16_to_fp32((uint16_t)h);
        int e = (h >> 10) & 31;
        if (e == 31) {
            if (h & 0x3ff)
                assert_true(isnan(f));
            else
                assert_true(isinf(f) && (signbit(f) != 0) == ((h & 0x8000) != 0));
            continue;
        }
        assert_true((double)f == fp16_value((uint16_t)h));
        assert_int_equal(signbit(f) != 0, (h & 0x8000) != 0);
    }
}

static void test_fp32_to_fp16_round_trips_and_ties_to_even(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        int e = (h >> 10) & 31;
        if (e == 31 && (h & 0x3ff)) {
            uint16_t r = wl_fp32_to_fp16(wl_fp16_to_fp32((uint16_t)h));
            assert_true(((r >> 10) & 31) == 31 && (r & 0x3ff) != 0); /* NaN stays NaN */
            continue;
        }
        assert_int_equal(wl_fp32_to_fp16(wl_fp16_to_fp32((uint16_t)h)), h);
    }
    /* every midpoint between neighbouring positive fp16 values (exact in fp32)
     * goes to the even one; one ulp either side goes to the nearer one */
    for (uint32_t h = 0; h < 0x7bff; h++) {
        float a = wl_fp16_to_fp32((uint16_t)h), b = wl_fp16_to_fp32((uint16_t)(h + 1));
        float mid = (float)(((double)a + (double)b) / 2.0);
        assert_true((double)mid == ((double)a + (double)b) / 2.0);
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        assert_int_equal(wl_fp32_to_fp16(mid), even);
        assert_int_equal(wl_fp32_to_fp16(-mid), even | 0x8000);
        assert_int_equal(wl_fp32_to_fp16(nextafterf(mid, 0.0f)), h);
        assert_int_equal(wl_fp32_to_fp16(nextafterf(mid, INFINITY)), h + 1);
    }
    /* overflow: 65504 is the largest finite; 65520 is the tie to infinity */
    assert_int_equal(wl_fp32_to_fp16(65504.0f), 0x7bff);
    assert_int_equal(wl_fp32_to_fp16(nextafterf(65520.0f, 0.0f)), 0x7bff);
    assert_int_equal(wl_fp32_to_fp16(65520.0f), 0x7c00);
    assert_int_equal(wl_fp32_to_fp16(1e10f), 0x7c00);
    assert_int_equal(wl_fp32_to_fp16(-INFINITY), 0xfc00);
    /* underflow: half the smallest subnormal ties to zero, just above rounds up */
    assert_int_equal(wl_fp32_to_fp16(0x1p-25f), 0);
    assert_int_equal(wl_fp32_to_fp16(nextafterf(0x1p-25f, 1.0f)), 1);
    assert_int_equal(wl_fp32_to_fp16(1e-30f), 0);
    assert_int_equal(wl_fp32_to_fp16(-0.0f), 0x8000);
    uint16_t n = wl_fp32_to_fp16(NAN);
    assert_true(((n >> 10) & 31) == 31 && (n & 0x3ff) != 0);
}

/* ---- bf16 ------------------------------------------------------------------- */

static void test_bf16_exact_round_trip_and_ties_to_even(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = wl_bf16_to_fp32((uint16_t)h);
        uint32_t bits;
        memcpy(&bits, &f, 4);
        assert_int_equal(bits, h << 16);
        if (isnan(f)) {
            assert_true(isnan(wl_bf16_to_fp32(wl_fp32_to_bf16(f))));
            continue;
        }
        assert_int_equal(wl_fp32_to_bf16(f), h);
        if ((h & 0x7fff) >= 0x7f7f)
            continue; /* next pattern is inf/NaN */
        /* midpoint to the next pattern (same sign, larger magnitude) */
        uint32_t mid_bits = (h << 16) | 0x8000u;
        float mid;
        memcpy(&mid, &mid_bits, 4);
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        assert_int_equal(wl_fp32_to_bf16(mid), even);
        mid_bits -= 1;
        memcpy(&mid, &mid_bits, 4);
        assert_int_equal(wl_fp32_to_bf16(mid), h);
        mid_bits += 2;
        memcpy(&mid, &mid_bits, 4);
        assert_int_equal(wl_fp32_to_bf16(mid), h + 1);
    }
    uint16_t n = wl_fp32_to_bf16(NAN);
    assert_true(isnan(wl_bf16_to_fp32(n)));
    assert_int_equal(wl_fp32_to_bf16(3.4028235e38f), 0x7f80); /* FLT_MAX rounds to inf */
}

/* ---- independent references for block layouts ------------------------------ */

/* All references compute each element from its index, so they do not share
 * loop structure with the library. Products are written in the order the
 * format defines them (scale * scale first, then the quant), so that results
 * compare bit for bit. */

static float ref_q8_0(const uint8_t *blk, int i)
{
    uint16_t d;
    memcpy(&d, blk, 2);
    return wl_fp16_to_fp32(d) * (float)(int8_t)blk[2 + i];
}

static float ref_q4_0(const uint8_t *blk, int i)
{
    uint16_t d;
    memcpy(&d, blk, 2);
    uint8_t byte = blk[2 + (i % 16)];
    int q = i < 16 ? (byte & 15) : (byte >> 4);
    return wl_fp16_to_fp32(d) * (float)(q - 8);
}

/* Q4_K scales[12]: 6-bit scale and min of sub-block j. */
static void ref_q4_k_scale(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] % 64;
        *m = s[4 + j] % 64;
    } else {
        *sc = (s[8 + (j - 4)] % 16) + 16 * (s[j - 4] / 64);
        *m = (s[8 + (j - 4)] / 16) + 16 * (s[j] / 64);
    }
}

static float ref_q4_k(const uint8_t *blk, int e)
{
    uint16_t d16, dmin16;
    memcpy(&d16, blk, 2);
    memcpy(&dmin16, blk + 2, 2);
    const uint8_t *scales = blk + 4, *qs = blk + 16;
    int sub = e / 32, sc, m;
    ref_q4_k_scale(scales, sub, &sc, &m);
    uint8_t byte = qs[32 * (e / 64) + e % 32];
    int q = (sub % 2 == 0) ? (byte & 15) : (byte >> 4);
    return (wl_fp16_to_fp32(d16) * (float)sc) * (float)q - wl_fp16_to_fp32(dmin16) * (float)m;
}

static float ref_q6_k(const uint8_t *blk, int e)
{
    const uint8_t *ql = blk, *qh = blk + 128;
    const int8_t *sc = (const int8_t *)(blk + 192);
    uint16_t d16;
    memcpy(&d16, blk + 208, 2);
    int half = e / 128, r = e % 128, g = r / 32, l = r % 32;
    uint8_t lo_byte = ql[64 * half + l + 32 * (g % 2)];
    int lo = g < 2 ? (lo_byte & 15) : (lo_byte >> 4);
    int hi = (qh[32 * half + l] >> (2 * g)) & 3;
    int q = lo + 16 * hi - 32;
    return wl_fp16_to_fp32(d16) * (float)sc[e / 16] * (float)q;
}

struct layout_case {
    uint32_t type;
    int block_elems;
    size_t block_bytes;
    float (*ref)(const uint8_t *blk, int i);
    size_t d_offsets[2]; /* fp16 fields set to random finite values; SIZE_MAX = none */
};

static void check_dequant_layout(const struct layout_case *c)
{
    enum { NB = 64 };
    size_t bytes = c->block_bytes * NB;
    uint8_t *raw = malloc(bytes);
    float *out = malloc(sizeof(float) * (size_t)c->block_elems * NB);
    assert_non_null(raw);
    assert_non_null(out);
    fill_random_bytes(raw, bytes);
    for (int b = 0; b < NB; b++)
        for (int k = 0; k < 2; k++)
            if (c->d_offsets[k] != SIZE_MAX) {
                uint16_t d = rng_fp16_finite();
                memcpy(raw + (size_t)b * c->block_bytes + c->d_offsets[k], &d, 2);
            }
    assert_int_equal(wl_quant_row_bytes(c->type, (int64_t)c->block_elems * NB), bytes);
    assert_int_equal(wl_dequantize_row(c->type, raw, out, (int64_t)c->block_elems * NB), 0);
    for (int b = 0; b < NB; b++)
        for (int i = 0; i < c->block_elems; i++) {
            float want = c->ref(raw + (size_t)b * c->block_bytes, i);
            float got = out[b * c->block_elems + i];
            if (memcmp(&want, &got, 4) != 0)
                fail_msg("%s block %d element %d: got %.9g want %.9g", wl_ttype_name(c->type), b, i,
                         (double)got, (double)want);
        }
    free(raw);
    free(out);
}

static void test_dequantize_matches_layout_references(void **state)
{
    (void)state;
    const struct layout_case cases[] = {
        {WL_TTYPE_Q8_0, 32, 34, ref_q8_0, {0, SIZE_MAX}},
        {WL_TTYPE_Q4_0, 32, 18, ref_q4_0, {0, SIZE_MAX}},
        {WL_TTYPE_Q4_K, 256, 144, ref_q4_k, {0, 2}},
        {WL_TTYPE_Q6_K, 256, 210, ref_q6_k, {208, SIZE_MAX}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_dequant_layout(&cases[i]);
}

static void test_dequantize_plain_types(void **state)
{
    (void)state;
    uint16_t h[512];
    float out[512];
    fill_random_bytes(h, sizeof h);
    assert_int_equal(wl_dequantize_row(WL_TTYPE_F16, h, out, 512), 0);
    for (int i = 0; i < 512; i++) {
        float want = wl_fp16_to_fp32(h[i]);
        assert_memory_equal(&want, &out[i], 4);
    }
    assert_int_equal(wl_dequantize_row(WL_TTYPE_BF16, h, out, 512), 0);
    for (int i = 0; i < 512; i++) {
        uint32_t want = (uint32_t)h[i] << 16, got;
        memcpy(&got, &out[i], 4);
        assert_int_equal(got, want);
    }
    float f[64], g[64];
    for (int i = 0; i < 64; i++)
        f[i] = rng_gauss();
    assert_int_equal(wl_quantize_row(WL_TTYPE_F32, f, g, 64), 0);
    assert_memory_equal(f, g, sizeof f);
    assert_int_equal(wl_dequantize_row(WL_TTYPE_F32, f, g, 64), 0);
    assert_memory_equal(f, g, sizeof f);
}

/* Hand-made blocks pin the layout to known values independent of both codes. */
static void test_known_blocks(void **state)
{
    (void)state;
    /* Q4_0 with d = 1.0 (0x3c00): byte 0x9f -> element 0 = 15-8 = 7, element 16 = 9-8 = 1 */
    uint8_t q40[18] = {0x00, 0x3c};
    for (int i = 0; i < 16; i++)
        q40[2 + i] = 0x88;
    q40[2] = 0x9f;
    float out[256];
    assert_int_equal(wl_dequantize_row(WL_TTYPE_Q4_0, q40, out, 32), 0);
    assert_true(out[0] == 7.0f && out[16] == 1.0f && out[1] == 0.0f && out[31] == 0.0f);

    /* Q4_K: d = 1, dmin = 0.5; sub-block 5 gets scale 0x2a (42) and min 0x13 (19):
     * sc5 = low nibble of scales[9] | (scales[1] >> 6) << 4, m5 = high nibble of
     * scales[9] | (scales[5] >> 6) << 4 */
    uint8_t q4k[144] = {0};
    q4k[1] = 0x3c;     /* d = 1.0 */
    q4k[3] = 0x38;     /* dmin = 0.5 */
    q4k[4 + 1] = 0x80; /* scales[1]: sc1 = 0, top bits of sc5 = 2 */
    q4k[4 + 5] = 0x40; /* scales[5]: m1 = 0, top bits of m5 = 1 */
    q4k[4 + 9] = 0x3a; /* scales[9]: sc5 low = 0xa, m5 low = 0x3 */
    /* element 160 = 64*2 + 32 -> high nibble of qs[64], sub-block 5 */
    q4k[16 + 64] = 0x70;
    assert_int_equal(wl_dequantize_row(WL_TTYPE_Q4_K, q4k, out, 256), 0);
    assert_true(out[160] == 42.0f * 7.0f - 0.5f * 19.0f);
    assert_true(out[128] == 0.0f); /* sub-block 4: scale 0, min 0 */
    assert_true(out[161] == -0.5f * 19.0f);

    /* Q6_K: d = 1, scales[e/16] = e/16 + 1; element 200 = 128 + 64 + 8 -> group 2
     * of the second half: high nibble of ql[64+8], bits 4..5 of qh[32+8] */
    uint8_t q6k[210] = {0};
    for (int j = 0; j < 16; j++)
        q6k[192 + j] = (uint8_t)(j + 1);
    q6k[209] = 0x3c;
    q6k[64 + 8] = 0x50;       /* high nibble 5 */
    q6k[128 + 32 + 8] = 0x20; /* bits 4..5 = 2 */
    assert_int_equal(wl_dequantize_row(WL_TTYPE_Q6_K, q6k, out, 256), 0);
    assert_true(out[200] == 13.0f * (float)(5 + 32 - 32));
    assert_true(out[0] == -32.0f); /* q = 0 -> -32, scale 1 */
}

/* ---- quantize -> dequantize error bounds ------------------------------------- */

struct err_stats {
    double sq_err, sq_ref; /* over blocks with amax >= 1 (fp16 scales normal) */
    double max_excess;     /* max over elements of |err| - bound(amax) */
    double max_rel_block;  /* max |err| / amax, for the message */
};

/* Quantizes n values of a test distribution and returns the error statistics
 * relative to each block's largest magnitude. */
/* Per-element bound: max_rel * amax + abs_err. The absolute term covers
 * blocks so small that their fp16 scale is subnormal (absolute error 2^-25
 * times the largest integer factor it multiplies). */
static struct err_stats roundtrip(uint32_t type, const float *x, int64_t n, double max_rel,
                                  double abs_err)
{
    size_t bytes = wl_quant_row_bytes(type, n);
    assert_true(bytes > 0);
    void *q = malloc(bytes);
    float *y = malloc(sizeof(float) * (size_t)n);
    assert_non_null(q);
    assert_non_null(y);
    assert_int_equal(wl_quantize_row(type, x, q, n), 0);
    assert_int_equal(wl_dequantize_row(type, q, y, n), 0);
    /* quantizing is deterministic */
    void *q2 = malloc(bytes);
    assert_non_null(q2);
    assert_int_equal(wl_quantize_row(type, x, q2, n), 0);
    assert_memory_equal(q, q2, bytes);
    struct err_stats st = {0, 0, -1, 0};
    int be = (int)wl_ttype_block_elems(type);
    for (int64_t b = 0; b < n / be; b++) {
        double amax = 0;
        for (int i = 0; i < be; i++)
            amax = fmax(amax, fabs(x[b * be + i]));
        for (int i = 0; i < be; i++) {
            double e = fabs((double)x[b * be + i] - y[b * be + i]);
            if (amax >= 1.0) {
                st.sq_err += e * e;
                st.sq_ref += (double)x[b * be + i] * x[b * be + i];
            }
            st.max_excess = fmax(st.max_excess, e - (max_rel * amax + abs_err));
            if (amax > 0)
                st.max_rel_block = fmax(st.max_rel_block, e / amax);
            else
                assert_true(e == 0);
        }
    }
    free(q);
    free(q2);
    free(y);
    return st;
}

/* Test distributions: Gaussian, Gaussian with outliers, per-block scales over
 * six decades, uniform positive (exercises mins), a zero block. */
static float *make_dist(int64_t n)
{
    float *x = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t blk = i / 256;
        float scale = powf(10.0f, (float)(blk % 7) - 3.0f);
        switch (blk % 4) {
        case 0:
            x[i] = rng_gauss() * scale;
            break;
        case 1:
            x[i] = rng_gauss() * scale * ((rng_u32() % 64) == 0 ? 8.0f : 1.0f);
            break;
        case 2:
            x[i] = rng_uniform() * scale;
            break;
        default:
            x[i] = (rng_uniform() - 0.7f) * scale;
        }
    }
    for (int i = 0; i < 256; i++)
        x[n - 256 + i] = 0.0f;
    return x;
}

static void test_quantization_error_bounds(void **state)
{
    (void)state;
    const int64_t n = 256 * 64;
    float *x = make_dist(n);
    /* F16 / BF16: relative error of one rounding (values are in normal range) */
    for (int pass = 0; pass < 2; pass++) {
        uint32_t t = pass ? WL_TTYPE_BF16 : WL_TTYPE_F16;
        uint16_t *h = malloc(sizeof(uint16_t) * (size_t)n);
        float *y = malloc(sizeof(float) * (size_t)n);
        assert_non_null(h);
        assert_non_null(y);
        assert_int_equal(wl_quantize_row(t, x, h, n), 0);
        assert_int_equal(wl_dequantize_row(t, h, y, n), 0);
        double rel = pass ? 0x1p-8 : 0x1p-11; /* half an ulp: 7 and 10 stored mantissa bits */
        for (int64_t i = 0; i < n; i++)
            if (fabsf(x[i]) > 1e-4f && fabs((double)x[i] - y[i]) > rel * fabs(x[i]))
                fail_msg("%s: x[%ld] = %.9g -> %.9g", wl_ttype_name(t), (long)i, (double)x[i],
                         (double)y[i]);
        free(h);
        free(y);
    }
    /* Block formats: per-element bound relative to the block's largest
     * magnitude (analytic, see docs), and an RMS bound over this mix of
     * distributions (measured Q8_0 0.0068, Q4_0 0.113, Q4_K 0.083, Q6_K 0.022,
     * plus ~25% margin; it catches a quantizer that stops fitting well). */
    struct {
        uint32_t type;
        double max_rel, abs_err, rms_rel;
    } bounds[] = {
        /* half a step (amax/254) + fp16 rounding of d over 127 steps (amax*2^-11) */
        {WL_TTYPE_Q8_0, (1.0 / 254 + 1.0 / 2048) * 1.001, 127 * 0x1p-25, 0.009},
        /* one step |d| = amax/8 (clamped top value) + fp16 rounding of d */
        {WL_TTYPE_Q4_0, (1.0 / 8) * (1 + 1.0 / 256) * 1.001, 8 * 0x1p-25, 0.14},
        /* K-quants: a sub-block's step is at most amax/15 (amax/31 for Q6_K); the
         * 6-bit (8-bit) scale rounding and clamping add at most the same again */
        {WL_TTYPE_Q4_K, 2.0 / 15, (63 * 15 + 63) * 0x1p-25, 0.10},
        {WL_TTYPE_Q6_K, 2.0 / 31, 128 * 32 * 0x1p-25, 0.03},
    };
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        struct err_stats st = roundtrip(bounds[i].type, x, n, bounds[i].max_rel, bounds[i].abs_err);
        double rms_rel = sqrt(st.sq_err / st.sq_ref);
        print_message("%-5s max|err|/amax %.5f (bound %.5f + abs)  rms err/rms %.5f (bound %.5f)\n",
                      wl_ttype_name(bounds[i].type), st.max_rel_block, bounds[i].max_rel, rms_rel,
                      bounds[i].rms_rel);
        assert_true(st.max_excess <= 0);
        assert_true(rms_rel <= bounds[i].rms_rel);
    }
    free(x);
}

/* The squared error of x ~= s*q - m over n values with each q in 0..nmax
 * the nearest (the best assignment for s and m), in double. */
static double fit_error(const float *x, int n, int nmax, float s, float m)
{
    double e = 0;
    for (int i = 0; i < n; i++) {
        double best = INFINITY;
        for (int q = 0; q <= nmax; q++) {
            double d = (double)s * q - (double)m - x[i];
            best = fmin(best, d * d);
        }
        e += best;
    }
    return e;
}

/* Q4_K's sub-block search never returns a fit worse than the plain min/max
 * fit, one of its candidates: it used to score that candidate with the q of
 * the best refit so far, and then kept a worse refit, on sub-blocks away
 * from zero (all values c +- spread, c >> spread: up to 29 times the plain
 * fit's squared error). Other blocks were not affected. */
static void test_q4_k_fit_never_worse_than_min_max(void **state)
{
    (void)state;
    enum { N = 32, NMAX = 15, BLOCKS = 4000 };
    static const float centre[] = {0.0f, 0.0f, 0.5f, 2.0f, 10.0f, 1000.0f, -3.0f, 0.2f};
    static const float spread[] = {1.0f, 0.01f, 0.1f, 1.0f, 0.05f, 1.0f, 1.0f, 1.0f};
    int worse = 0;
    double worst_ratio = 0;
    for (int b = 0; b < BLOCKS; b++) {
        const int kind = b % (int)(sizeof centre / sizeof centre[0]);
        float x[N], lo = INFINITY, hi = -INFINITY;
        double energy = 0;
        for (int i = 0; i < N; i++) {
            x[i] = centre[kind] + spread[kind] * (kind == 7 ? rng_gauss() : 2 * rng_uniform() - 1);
            lo = fminf(lo, x[i]);
            hi = fmaxf(hi, x[i]);
            energy += (double)x[i] * x[i];
        }
        lo = fminf(lo, 0.0f); /* as the fit clips it */
        float s, m;
        wl__q4_k_fit_scale_min(N, x, NMAX, &s, &m);
        assert_true(s >= 0.0f && m >= 0.0f);
        const double e = fit_error(x, N, NMAX, s, m);
        const double e_plain = fit_error(x, N, NMAX, (hi - lo) / NMAX, -lo);
        /* the scores are computed from float sums: a relative margin, and
         * one for blocks the plain fit gets (almost) exactly */
        if (e > e_plain * (1 + 1e-3) + 1e-9 * energy) {
            if (worse++ < 3)
                print_message("block %d (%g +- %g): error %.6g, plain min/max fit %.6g\n", b,
                              (double)centre[kind], (double)spread[kind], e, e_plain);
        }
        worst_ratio = fmax(worst_ratio, e_plain > 0 ? e / e_plain : 0);
    }
    print_message("worst error / plain fit's error: %.4f\n", worst_ratio);
    assert_int_equal(worse, 0);
}

static void test_q8a_activation_blocks(void **state)
{
    (void)state;
    float x[96], y[96];
    for (int i = 0; i < 96; i++)
        x[i] = rng_gauss();
    for (int i = 64; i < 96; i++)
        x[i] = 0.0f;
    struct wl_block_q8a q[3];
    wl_quantize_row_q8a(x, q, 96);
    wl_dequantize_row_q8a(q, y, 96);
    for (int b = 0; b < 3; b++) {
        int sum = 0;
        float amax = 0;
        for (int i = 0; i < 32; i++) {
            sum += q[b].qs[i];
            amax = fmaxf(amax, fabsf(x[32 * b + i]));
        }
        assert_true(q[b].s == q[b].d * (float)sum);
        for (int i = 0; i < 32; i++)
            assert_true(fabsf(x[32 * b + i] - y[32 * b + i]) <= amax / 254.0f * 1.0001f);
    }
    assert_true(q[2].d == 0.0f && q[2].s == 0.0f);
}

/* Q8K: one scale per 256 values, error <= amax/254 per element, per-16 sums,
 * round half to even, zero blocks, both ends of the float range. */
static void test_q8k_activation_blocks(void **state)
{
    (void)state;
    enum { NB = 5 };
    float x[256 * NB], y[256 * NB];
    for (int i = 0; i < 256 * NB; i++)
        x[i] = rng_gauss();
    for (int i = 256; i < 512; i++)
        x[i] = 0.0f;
    for (int i = 512; i < 768; i++)
        x[i] *= 1e37f;
    for (int i = 768; i < 1024; i++)
        x[i] *= 1e-35f;
    x[1024] = 127.0f; /* d = 1: halves are rounding midpoints */
    x[1025] = 2.5f;
    x[1026] = 3.5f;
    x[1027] = -0.5f;
    x[1028] = -126.5f;
    struct wl_block_q8k q[NB];
    wl_quantize_row_q8k(x, q, 256 * NB);
    wl_dequantize_row_q8k(q, y, 256 * NB);
    for (int b = 0; b < NB; b++) {
        float amax = 0;
        for (int i = 0; i < 256; i++)
            amax = fmaxf(amax, fabsf(x[256 * b + i]));
        assert_true(q[b].d == amax / 127.0f);
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++)
                sum += q[b].qs[16 * g + i];
            assert_int_equal(q[b].bsums[g], sum);
        }
        for (int i = 0; i < 256; i++) {
            assert_true(q[b].qs[i] >= -127);
            assert_true(fabsf(x[256 * b + i] - y[256 * b + i]) <= amax / 254.0f * 1.0001f);
        }
    }
    assert_true(q[1].d == 0.0f);
    for (int i = 0; i < 256; i++)
        assert_int_equal(q[1].qs[i], 0);
    assert_int_equal(q[4].qs[0], 127);
    assert_int_equal(q[4].qs[1], 2);
    assert_int_equal(q[4].qs[2], 4);
    assert_int_equal(q[4].qs[3], 0);
    assert_int_equal(q[4].qs[4], -126);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    float x[64] = {0};
    uint8_t buf[256];
    assert_int_equal(wl_quantize_row(WL_TTYPE_Q8_0, x, buf, 31), WL_EINVAL);
    assert_int_equal(wl_quantize_row(WL_TTYPE_Q4_K, x, buf, 64), WL_EINVAL);
    assert_int_equal(wl_quantize_row(WL_TTYPE_Q5_0, x, buf, 64), WL_EINVAL);
    assert_int_equal(wl_quantize_row(9999, x, buf, 64), WL_EINVAL);
    assert_int_equal(wl_quantize_row(WL_TTYPE_Q8_0, NULL, buf, 32), WL_EINVAL);
    assert_int_equal(wl_dequantize_row(WL_TTYPE_Q8_0, buf, NULL, 32), WL_EINVAL);
    assert_int_equal(wl_dequantize_row(WL_TTYPE_Q8_0, buf, x, -32), WL_EINVAL);
    assert_int_equal(wl_quant_row_bytes(WL_TTYPE_Q6_K, 100), 0);
    assert_int_equal(wl_quant_row_bytes(WL_TTYPE_Q6_K, 512), 420);
    assert_int_equal(wl_quant_row_bytes(WL_TTYPE_BF16, 3), 6);
    assert_false(wl_quant_is_supported(WL_TTYPE_Q8_K));
    assert_true(wl_quant_is_supported(WL_TTYPE_Q4_K));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_to_fp32_matches_definition_for_every_pattern),
        cmocka_unit_test(test_fp32_to_fp16_round_trips_and_ties_to_even),
        cmocka_unit_test(test_bf16_exact_round_trip_and_ties_to_even),
        cmocka_unit_test(test_dequantize_matches_layout_references),
        cmocka_unit_test(test_dequantize_plain_types),
        cmocka_unit_test(test_known_blocks),
        cmocka_unit_test(test_quantization_error_bounds),
        cmocka_unit_test(test_q4_k_fit_never_worse_than_min_max),
        cmocka_unit_test(test_q8a_activation_blocks),
        cmocka_unit_test(test_q8k_activation_blocks),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

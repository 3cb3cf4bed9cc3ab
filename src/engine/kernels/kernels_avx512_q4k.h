/* Q4_K x Q8K dot products for the AVX-512 path, included twice by
 * kernels_avx512.c: once as plain AVX-512 (high nibbles by a shift and an
 * AND) and once with GFNI (one affine byte transform instead), so that CPUs
 * with AVX-512 but without GFNI keep the fast path. The includer defines
 * WL_Q4K_ATTR (target attribute), WL_Q4K(name) (name suffix) and WL_Q4K_GFNI
 * (0 or 1). Results are bit-identical between the two (integer nibbles).
 * No include guard by design. */

/* The integer part of one super-block for each row: lanes of is[j] sum to
 * sum_k sc[k] * dot(q_k, x_k). The 128 weight bytes are two 64-byte loads;
 * the low nibbles of bytes 0-63 are sub-blocks 0 and 2, the high nibbles 1
 * and 3 (bytes 64-127: 4 and 6, 5 and 7), which the activation row's qp
 * holds in that order (wl__xk_fill_qp). Low nibbles: one AND; high: a shift
 * and an AND, or with GFNI one VGF2P8AFFINEQB (a 4-bit right shift per byte).
 * Then per 64 weights one VPDPBUSD (nibble x int8 quads into int32, at most
 * 4*15*127 = 7620, so they fit int16), per 128 weights one VPACKSSDW of two
 * such sums (no saturation; per 128-bit lane the four sums of one vector,
 * then the other's) and one VPDPWSSD with their sub-blocks' scales as int16
 * (bc: the block's scm lane in every 128-bit lane; the scales are picked by
 * VPSHUFB, q4k_tab.psel). Per super-block and row that is 6 multiplies
 * instead of the 8 of VPMADDUBSW + VPDPWSSD per 64 weights, and 2 scale
 * shuffles instead of 4 (docs/internals/kernels-decode-far.md, "Session 18"). With rows
 * per call (wl__dotp_fn) and the constant table, ~1.3x faster from L2 than
 * the loop before those (session 10). */
WL_INLINE WL_Q4K_ATTR void WL_Q4K(q4_k_isum)(const struct wl_block_q4_k *blk, __m512i bc,
                                             const struct wl__krow *xr, int64_t b, __m512i *is,
                                             const int nx)
{
    const __m512i m4 = _mm512_load_si512(q4k_tab.m4);
#if WL_Q4K_GFNI
    const __m512i shr4 = _mm512_load_si512(q4k_tab.shr4);
#endif
    __m512i wv[4]; /* sub-blocks [0 | 2], [1 | 3], [4 | 6], [5 | 7] */
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        __m512i q = _mm512_loadu_si512(blk->qs + 64 * h);
        wv[2 * h] = _mm512_and_si512(q, m4);
#if WL_Q4K_GFNI
        wv[2 * h + 1] = _mm512_gf2p8affine_epi64_epi8(q, shr4, 0);
#else
        wv[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
#endif
    }
#pragma GCC unroll 2
    for (int c = 0; c < 4; c += 2) {
        /* packs(wv[c] sums, wv[c + 1] sums): 128-bit lanes 0, 1 hold sub-blocks
         * k, k + 1 (four int16 each), lanes 2, 3 hold k + 2, k + 3; k = 2 c */
        __m512i scv = _mm512_shuffle_epi8(bc, _mm512_load_si512(q4k_tab.psel[c / 2]));
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            __m512i d0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv[c],
                                             _mm512_loadu_si512(xr[j].qp + 256 * b + 64 * c));
            __m512i d1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv[c + 1],
                                             _mm512_loadu_si512(xr[j].qp + 256 * b + 64 * c + 64));
            __m512i p = _mm512_packs_epi32(d0, d1);
            is[j] = c == 0 ? _mm512_madd_epi16(p, scv) : _mm512_dpwssd_epi32(is[j], p, scv);
        }
    }
}

/* Blocks b and b + 1 (two = true) or block b alone. Per block and row: one
 * int32 -> float conversion and one FMA with d_w * d_x for the scale part;
 * per pair: the mins of both blocks as int16 pairs [m0 m0 m1 m1 ..] against
 * the 32 per-16 activation sums (one VPMADDWD), one conversion and one FMA
 * with dmin_w * d_x. */
WL_INLINE WL_Q4K_ATTR void WL_Q4K(q4_k_pair)(const struct wl_block_q4_k *wb, int64_t b,
                                             const bool two, const struct wl__krow *xr,
                                             __m512 (*acc)[2], const int nx)
{
    const int64_t b1 = two ? b + 1 : b;
    __m256i scm;
    __m256 dd;
    q4_k_head2(&wb[b], &wb[b1], &scm, &dd);
    __m512i z = _mm512_castsi256_si512(scm);
    __m512i is0[WL__KMAX_NX], is1[WL__KMAX_NX];
    WL_Q4K(q4_k_isum)(&wb[b], _mm512_shuffle_i64x2(z, z, 0x00), xr, b, is0, nx);
    if (two)
        WL_Q4K(q4_k_isum)(&wb[b1], _mm512_shuffle_i64x2(z, z, 0x55), xr, b1, is1, nx);
    /* 128-bit lanes [b, b, b1, b1] -> int16 [m0 m0 .. m3 m3 | m4 m4 .. m7 m7] per block */
    __m512i mdup = _mm512_shuffle_epi8(_mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(1, 1, 0, 0)),
                                       _mm512_load_si512(q4k_tab.msel));
    const __m512i i1 = _mm512_load_si512(q4k_tab.i1), im = _mm512_load_si512(q4k_tab.im);
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        /* f = [d0 dx0, dmin0 dx0, -, -, d1 dx1, dmin1 dx1, -, -] */
        __m256 dx = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(xr[j].d[b])),
                                         _mm_set1_ps(xr[j].d[b1]), 1);
        __m512 f = _mm512_castps256_ps512(_mm256_mul_ps(dd, dx));
        acc[j][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is0[j]),
                                    _mm512_broadcastss_ps(_mm512_castps512_ps128(f)), acc[j][0]);
        if (two)
            acc[j][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is1[j]), _mm512_permutexvar_ps(i1, f),
                                        acc[j][1]);
        const int16_t *bs = xr[j].bsums + 16 * b;
        __m512i bsv = two ? _mm512_loadu_si512(bs)
                          : _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)bs));
        __m512i imin = _mm512_madd_epi16(bsv, mdup);
        acc[j][1] =
            _mm512_fnmadd_ps(_mm512_cvtepi32_ps(imin), _mm512_permutexvar_ps(im, f), acc[j][1]);
    }
}

/* pf: NULL, or the caller's stream ahead (wl__dotp_fn), prefetched one
 * pair of blocks per step. */
WL_INLINE WL_Q4K_ATTR void WL_Q4K(q4_k_nx)(int64_t n, const struct wl_block_q4_k *wb, const void *x,
                                           size_t xs, float *out, const int nx, const char *pf)
{
    struct wl__krow xr[WL__KMAX_NX];
    __m512 acc[WL__KMAX_NX][2];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        xr[j] = wl__krow_at(x, xs, j, n);
        acc[j][0] = _mm512_setzero_ps();
        acc[j][1] = _mm512_setzero_ps();
    }
    int64_t nb = n / WL_QK_K, b = 0;
    for (; b + 2 <= nb; b += 2) {
        if (pf) {
            wl__prefetch_span(pf, 2 * sizeof *wb);
            pf += 2 * sizeof *wb;
        }
        WL_Q4K(q4_k_pair)(wb, b, true, xr, acc, nx);
    }
    if (b < nb) {
        if (pf)
            wl__prefetch_span(pf, sizeof *wb);
        WL_Q4K(q4_k_pair)(wb, b, false, xr, acc, nx);
    }
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][0], acc[j][1]));
}

static WL_Q4K_ATTR void WL_Q4K(dot_q4_k)(int64_t n, const void *w, const void *x, size_t xs, int nx,
                                         float *out)
{
#define CALL(N) WL_Q4K(q4_k_nx)(n, w, x, xs, out, N, NULL)
    WL_NX_SWITCH(CALL);
#undef CALL
}

static WL_Q4K_ATTR void WL_Q4K(dotp_q4_k)(int64_t n, const void *w, size_t row_bytes, int64_t rows,
                                          const void *x, float *out, size_t pf_off, int64_t pf_rows)
{
    WL_DOTP_ROWS(WL_Q4K(q4_k_nx));
}

/* Q4_K x Q8K dot products for the AVX-512 path, included twice by
 * kernels_avx512.c: once as plain AVX-512 (nibbles split with a shift and an
 * AND) and once with GFNI (one affine byte transform instead), so that CPUs
 * with AVX-512 but without GFNI keep the fast path. The includer defines
 * WL_Q4K_ATTR (target attribute), WL_Q4K(name) (name suffix) and WL_Q4K_GFNI
 * (0 or 1). Results are bit-identical between the two (integer nibbles).
 * No include guard by design. */

/* The integer part of one super-block for each row: lanes of is[j] sum to
 * sum_k sc[k] * dot(q_k, x_k). Per 64 weights: the 32 bytes broadcast to
 * both halves, low nibbles kept below and high nibbles above (one variable
 * shift, one AND; with GFNI one VGF2P8AFFINEQB), VPMADDUBSW (nibble x int8 pairs, at most 2*15*127,
 * no saturation), and VPDPWSSD with the two sub-block scales as int16 (bc: the block's scm lane in
 * every 128-bit lane; the scales are picked by VPSHUFB). */
WL_INLINE WL_Q4K_ATTR void WL_Q4K(q4_k_isum)(const struct wl_block_q4_k *blk, __m512i bc,
                                             const struct wl__krow *xr, int64_t b, __m512i *is,
                                             const int nx)
{
#if WL_Q4K_GFNI
    /* one GF(2) affine transform per byte: the identity masked to the low
     * nibble in the lower 4 qwords, a 4-bit right shift in the upper 4 */
    const __m512i nib = _mm512_inserti64x4(_mm512_set1_epi64(0x0102040800000000LL),
                                           _mm256_set1_epi64x(0x1020408000000000LL), 1);
#else
    const __m512i m4z = _mm512_set1_epi8(0x0f);
    const __m512i sh04 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
#endif
#pragma GCC unroll 8
    for (int c = 0; c < 4; c++) {
        __m512i q2 =
            _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk->qs + 32 * c)));
#if WL_Q4K_GFNI
        __m512i wv = _mm512_gf2p8affine_epi64_epi8(q2, nib, 0);
#else
        __m512i wv = _mm512_and_si512(_mm512_srlv_epi16(q2, sh04), m4z);
#endif
        __m512i scv = _mm512_shuffle_epi8(bc, sel_u8_u16(2 * c, 2 * c + 1));
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++) {
            __m512i p = _mm512_maddubs_epi16(wv, _mm512_loadu_si512(xr[j].qs + 256 * b + 64 * c));
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
    static const uint16_t msel_tab[32] = {
        0x8008, 0x8008, 0x8009, 0x8009, 0x800a, 0x800a, 0x800b, 0x800b, 0x800c, 0x800c, 0x800d,
        0x800d, 0x800e, 0x800e, 0x800f, 0x800f, 0x8008, 0x8008, 0x8009, 0x8009, 0x800a, 0x800a,
        0x800b, 0x800b, 0x800c, 0x800c, 0x800d, 0x800d, 0x800e, 0x800e, 0x800f, 0x800f};
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
                                       _mm512_loadu_si512(msel_tab));
    const __m512i i1 = _mm512_set1_epi32(4), im = idx2(1, 5);
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

static WL_Q4K_ATTR void WL_Q4K(dotp_q4_k)(int64_t n, const void *w, const void *x, float *out,
                                          const void *pf)
{
    WL_Q4K(q4_k_nx)(n, w, x, 0, out, 1, pf);
}

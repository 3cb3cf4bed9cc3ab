/* Kernel dispatch and the matmul driver; see kernels.h. CPU features come
 * from cpuid and XGETBV (the OS must save the wide registers) and are read on
 * every wl_kernels_init call rather than cached, so there is no global state.
 * The driver quantizes activations (caller scratch; Q8A rows for Q8_0/Q4_0
 * weights, Q8K rows for Q4_K/Q6_K), then hands chunks of
 * weight rows to the pool (claimed dynamically, ~8 per thread) and walks each
 * chunk in tiles: a tile of rows stays in L2 while every group of up to four
 * activation rows passes over it, so prefill reads weights once; weight rows
 * are prefetched ~8 KiB ahead.
 */
#include "engine/kernels/kernels_impl.h"

#include "engine/threadpool.h"
#include "wattlens/error.h"

#include <string.h>
#include <strings.h>

#if defined(WL__HAVE_X86_KERNELS)
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

void wl__cpu_features_get(struct wl__cpu_features *f)
{
    memset(f, 0, sizeof *f);
#if defined(WL__HAVE_X86_KERNELS)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    bool osxsave = (c >> 27) & 1;
    if (!osxsave)
        return;
    uint64_t xcr0 = xgetbv0();
    bool ymm_ok = (xcr0 & 0x6) == 0x6;   /* SSE + AVX state */
    bool zmm_ok = (xcr0 & 0xe6) == 0xe6; /* + opmask, ZMM_Hi256, Hi16_ZMM */
    bool avx = (c >> 28) & 1;
    f->fma = ymm_ok && avx && ((c >> 12) & 1);
    f->f16c = ymm_ok && avx && ((c >> 29) & 1);
    unsigned a7, b7, c7, d7;
    if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7))
        return;
    f->avx2 = ymm_ok && avx && ((b7 >> 5) & 1);
    f->avx512f = zmm_ok && ((b7 >> 16) & 1);
    f->avx512dq = f->avx512f && ((b7 >> 17) & 1);
    f->avx512bw = f->avx512f && ((b7 >> 30) & 1);
    f->avx512vl = f->avx512f && ((b7 >> 31) & 1);
    f->avx512vnni = f->avx512f && ((c7 >> 11) & 1);
    f->gfni = (c7 >> 8) & 1;
#endif
}

bool wl_kpath_available(enum wl_kpath path)
{
    struct wl__cpu_features f;
    switch (path) {
    case WL_KPATH_AUTO:
    case WL_KPATH_SCALAR:
        return true;
    case WL_KPATH_AVX2:
        wl__cpu_features_get(&f);
        return f.avx2 && f.fma && f.f16c;
    case WL_KPATH_AVX512:
        wl__cpu_features_get(&f);
        return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
               f.avx512vnni;
    default:
        return false;
    }
}

enum wl_kpath wl_kpath_best(void)
{
    if (wl_kpath_available(WL_KPATH_AVX512))
        return WL_KPATH_AVX512;
    if (wl_kpath_available(WL_KPATH_AVX2))
        return WL_KPATH_AVX2;
    return WL_KPATH_SCALAR;
}

static const char *const kpath_names[] = {"auto", "scalar", "avx2", "avx512"};

const char *wl_kpath_name(enum wl_kpath path)
{
    if ((unsigned)path < sizeof kpath_names / sizeof kpath_names[0])
        return kpath_names[path];
    return "unknown";
}

int wl_kpath_parse(const char *s, enum wl_kpath *out)
{
    if (!s || !out)
        return WL_EINVAL;
    for (unsigned i = 0; i < sizeof kpath_names / sizeof kpath_names[0]; i++)
        if (strcasecmp(s, kpath_names[i]) == 0) {
            *out = (enum wl_kpath)i;
            return 0;
        }
    return WL_EINVAL;
}

int wl_kernels_init(struct wl_kernels *k, enum wl_kpath path)
{
    if (!k || (unsigned)path > WL_KPATH_AVX512)
        return WL_EINVAL;
    if (path == WL_KPATH_AUTO)
        path = wl_kpath_best();
    if (!wl_kpath_available(path))
        return WL_ENOTSUP;
    k->path = path;
    switch (path) {
#if defined(WL__HAVE_X86_KERNELS)
    case WL_KPATH_AVX2:
        k->ops = &wl__kernel_ops_avx2;
        break;
    case WL_KPATH_AVX512: {
        struct wl__cpu_features f;
        wl__cpu_features_get(&f);
        k->ops = f.gfni ? &wl__kernel_ops_avx512_gfni : &wl__kernel_ops_avx512;
        break;
    }
#endif
    default:
        k->ops = &wl__kernel_ops_scalar;
        break;
    }
    return 0;
}

bool wl_kernel_type_supported(uint32_t type)
{
    return wl_quant_is_supported(type);
}

/* Activation format of a weight type: floats, Q8A rows (Q8_0, Q4_0) or
 * Q8K rows (Q4_K, Q6_K). */
enum act_format { ACT_F32, ACT_Q8A, ACT_Q8K };

static enum act_format act_format_of(uint32_t type)
{
    switch (type) {
    case WL_TTYPE_Q8_0:
    case WL_TTYPE_Q4_0:
        return ACT_Q8A;
    case WL_TTYPE_Q4_K:
    case WL_TTYPE_Q6_K:
        return ACT_Q8K;
    default:
        return ACT_F32;
    }
}

bool wl_kernel_x_compatible(uint32_t type_a, uint32_t type_b)
{
    return wl_kernel_type_supported(type_a) && wl_kernel_type_supported(type_b) &&
           act_format_of(type_a) == act_format_of(type_b);
}

static size_t act_row_bytes(enum act_format f, int64_t cols)
{
    return f == ACT_Q8K ? wl__xk_row_bytes(cols) : wl__xq_row_bytes(cols);
}

size_t wl_kernel_weight_align(uint32_t type)
{
    return type == WL_TTYPE_F32 ? 4 : 2;
}

int wl_kernel_weight_check(const struct wl_kernel_weight *w)
{
    if (!w || !w->data || w->rows < 1 || w->cols < 1)
        return WL_EINVAL;
    if (!wl_kernel_type_supported(w->type))
        return WL_ENOTSUP;
    size_t rb = wl_quant_row_bytes(w->type, w->cols);
    if (rb == 0 || w->row_bytes < rb)
        return WL_EINVAL;
    const size_t align = wl_kernel_weight_align(w->type);
    if (w->row_bytes % align != 0 || (uintptr_t)w->data % align != 0)
        return WL_EINVAL;
    return 0;
}

size_t wl_kernel_scratch_bytes(uint32_t type, int64_t cols, int64_t n_x)
{
    enum act_format f = act_format_of(type);
    int64_t blk = f == ACT_Q8K ? WL_QK8K : WL_QK8A;
    if (f == ACT_F32 || cols < 1 || n_x < 1 || cols % blk != 0 || cols > (int64_t)(SIZE_MAX / 4))
        return 0;
    size_t row = act_row_bytes(f, cols);
    if ((uint64_t)n_x > SIZE_MAX / row)
        return 0;
    return row * (size_t)n_x;
}

static void quantize_rows(const struct wl_kernels *k, enum act_format f, const float *x,
                          int64_t cols, int64_t n_x, void *scratch)
{
    size_t stride = act_row_bytes(f, cols);
    wl__quant_row_fn quant = f == ACT_Q8K ? k->ops->quant_q8k : k->ops->quant_q8a;
    for (int64_t t = 0; t < n_x; t++)
        quant(x + t * cols, (char *)scratch + (size_t)t * stride, cols);
}

int wl_kernel_prepare_x(const struct wl_kernels *k, uint32_t type, const float *x, int64_t cols,
                        int64_t n_x, void *scratch, size_t scratch_bytes)
{
    if (!k || !k->ops || !x || cols < 1 || n_x < 1)
        return WL_EINVAL;
    enum act_format f = act_format_of(type);
    if (f == ACT_F32)
        return 0;
    size_t need = wl_kernel_scratch_bytes(type, cols, n_x);
    if (need == 0 || !scratch || scratch_bytes < need || (uintptr_t)scratch % 4 != 0)
        return WL_EINVAL;
    quantize_rows(k, f, x, cols, n_x, scratch);
    return 0;
}

struct matmul_job {
    wl__dot_fn dot;
    wl__dotp_fn dotp; /* one activation row, prefetch spread over the row; or NULL */
    const char *w;
    size_t row_bytes;
    int64_t rows, cols;
    const char *x;
    size_t x_stride;
    int64_t n_x;
    float *y;
    bool pf_past_chunk; /* decode: prefetch runs on into the next chunk */
    int64_t pf_rows;    /* prefetch distance in rows */
};

/* One pool job over the rows of up to WL_KERNEL_MAX_MULTI matrices: chunk c
 * belongs to the matrix i with first[i] <= c < first[i + 1]. */
struct multi_job {
    struct matmul_job m[WL_KERNEL_MAX_MULTI];
    int64_t first[WL_KERNEL_MAX_MULTI + 1];
    int n;
    int64_t chunk_rows;
};

/* Rows per tile: a tile stays in L2 while every group of up to four
 * activation rows passes over it (64 rows of a 2048-column Q8_0 matrix are
 * 136 KiB). Chunks handed to threads are whole tiles or multiples of 16 rows,
 * so that threads write whole cache lines of y. */
enum { WL_TILE_ROWS = 64, WL_CHUNK_ALIGN = 16 };

/* Software prefetch distance, first pass over a tile only: the row about
 * WL_PREFETCH_BYTES ahead (at least 2, at most 16 rows), so that a DRAM
 * request is in flight well before the kernel reaches it. Measured on the
 * development machine (AMD EPYC Zen 5, one thread, DRAM-bound 32000x2048
 * matvec, CPU-time rates): Q8_0 24 -> 37 GB/s, Q4_K 24 -> 28 GB/s versus no
 * prefetch; distances of 3-8 rows were indistinguishable, 2 rows worse. */
enum { WL_PREFETCH_BYTES = 8192, WL_PREFETCH_MIN_ROWS = 2, WL_PREFETCH_MAX_ROWS = 16 };

/* Chunks per thread: enough to rebalance when a thread is slowed down or
 * starts late, few enough that claiming (one atomic each) stays negligible. */
enum { WL_CHUNKS_PER_THREAD = 8 };

static void matmul_rows(const struct matmul_job *j, int64_t r0, int64_t r1)
{
    float out[WL__KMAX_NX];
    const int64_t pf_end = j->pf_past_chunk ? j->rows : r1;
    if (j->n_x == 1 && j->dotp) { /* decode: the kernel prefetches row r + pf_rows */
        int64_t n_pf = pf_end - j->pf_rows - r0; /* rows r with r + pf_rows < pf_end */
        n_pf = n_pf < 0 ? 0 : n_pf > r1 - r0 ? r1 - r0 : n_pf;
        j->dotp(j->cols, j->w + (size_t)r0 * j->row_bytes, j->row_bytes, r1 - r0, j->x, j->y + r0,
                (size_t)j->pf_rows * j->row_bytes, n_pf);
        return;
    }
    for (int64_t tb = r0; tb < r1; tb += WL_TILE_ROWS) {
        int64_t te = tb + WL_TILE_ROWS < r1 ? tb + WL_TILE_ROWS : r1;
        for (int64_t t = 0; t < j->n_x; t += WL__KMAX_NX) {
            int nx = (int)(j->n_x - t < WL__KMAX_NX ? j->n_x - t : WL__KMAX_NX);
            const char *xt = j->x + (size_t)t * j->x_stride;
            float *yt = j->y + t * j->rows;
            for (int64_t r = tb; r < te; r++) {
                if (t == 0 && r + j->pf_rows < pf_end)
                    wl__prefetch_span(j->w + (size_t)(r + j->pf_rows) * j->row_bytes, j->row_bytes);
                j->dot(j->cols, j->w + (size_t)r * j->row_bytes, xt, j->x_stride, nx, out);
                for (int q = 0; q < nx; q++)
                    yt[q * j->rows + r] = out[q];
            }
        }
    }
}

static void matmul_chunk(void *arg, int64_t chunk)
{
    const struct multi_job *mj = arg;
    int i = 0;
    while (i + 1 < mj->n && chunk >= mj->first[i + 1])
        i++;
    const struct matmul_job *j = &mj->m[i];
    int64_t r0 = (chunk - mj->first[i]) * mj->chunk_rows;
    int64_t r1 = r0 + mj->chunk_rows < j->rows ? r0 + mj->chunk_rows : j->rows;
    matmul_rows(j, r0, r1);
}

int wl_kernel_matmul_multi(const struct wl_kernels *k, const struct wl_kernel_weight *ws, int n_w,
                           const float *x, int64_t n_x, float *const *ys, void *scratch,
                           size_t scratch_bytes, unsigned flags, struct wl_threadpool *pool)
{
    if (!k || !k->ops || !ws || !x || !ys || n_x < 1 || n_w < 1 || n_w > WL_KERNEL_MAX_MULTI)
        return WL_EINVAL;
    struct multi_job mj = {.n = n_w};
    int64_t total_rows = 0;
    for (int i = 0; i < n_w; i++) {
        const struct wl_kernel_weight *w = &ws[i];
        int rc = wl_kernel_weight_check(w);
        if (rc != 0)
            return rc;
        if (!ys[i] || !wl_kernel_x_compatible(w->type, ws[0].type) || w->cols != ws[0].cols)
            return WL_EINVAL;
        struct matmul_job *j = &mj.m[i];
        *j = (struct matmul_job){
            .dot = wl__dot_for(k->ops, w->type),
            .dotp = wl__dotp_for(k->ops, w->type),
            .w = w->data,
            .row_bytes = w->row_bytes,
            .rows = w->rows,
            .cols = w->cols,
            .n_x = n_x,
            .y = ys[i],
        };
        j->pf_rows = (int64_t)(WL_PREFETCH_BYTES / w->row_bytes);
        if (j->pf_rows < WL_PREFETCH_MIN_ROWS)
            j->pf_rows = WL_PREFETCH_MIN_ROWS;
        if (j->pf_rows > WL_PREFETCH_MAX_ROWS)
            j->pf_rows = WL_PREFETCH_MAX_ROWS;
        total_rows += w->rows;
    }
    const uint32_t type = ws[0].type;
    const int64_t cols = ws[0].cols;
    const char *xp;
    size_t x_stride;
    const enum act_format f = act_format_of(type);
    if (f != ACT_F32) {
        size_t need = wl_kernel_scratch_bytes(type, cols, n_x);
        if (need == 0 || !scratch || scratch_bytes < need || (uintptr_t)scratch % 4 != 0)
            return WL_EINVAL;
        if (!(flags & WL_KERNEL_X_PREPARED))
            quantize_rows(k, f, x, cols, n_x, scratch);
        xp = scratch;
        x_stride = act_row_bytes(f, cols);
    } else {
        xp = (const char *)x;
        x_stride = (size_t)cols * sizeof(float);
    }
    for (int i = 0; i < n_w; i++) {
        mj.m[i].x = xp;
        mj.m[i].x_stride = x_stride;
    }
    int nth = wl_threadpool_n_threads(pool);
    if (nth == 1) {
        for (int i = 0; i < n_w; i++)
            matmul_rows(&mj.m[i], 0, mj.m[i].rows);
        return 0;
    }
    /* decode (one activation row): ~64 chunks per thread run as contiguous
     * ranges (wl_threadpool_run_ranges): each thread streams its own range
     * front to back with the prefetch running on into its next chunk, and
     * steals from the back of the other's range when done, which absorbs a
     * thread that starts late or runs slower. The last chunk bounds how long
     * the caller waits for the other thread: with 16 chunks per thread the
     * 1.1B shape's decode waited ~2.5-3 us per product (89 per token), with
     * 64 ~1-1.9 us, and claiming the extra chunks did not lengthen the
     * caller's own share (docs/internals/kernels-decode.md, session 4). Prefill:
     * ~WL_CHUNKS_PER_THREAD chunks per thread, claimed in order, whole tiles. Several matrices
     * share the chunk size; a chunk never spans two matrices. */
    const int64_t per_thread = n_x == 1 ? 64 : WL_CHUNKS_PER_THREAD;
    int64_t cr = (total_rows + (int64_t)nth * per_thread - 1) / ((int64_t)nth * per_thread);
    cr = (cr + WL_CHUNK_ALIGN - 1) / WL_CHUNK_ALIGN * WL_CHUNK_ALIGN;
    if (cr > WL_TILE_ROWS && n_x > 1) /* prefill: whole tiles */
        cr = (cr + WL_TILE_ROWS - 1) / WL_TILE_ROWS * WL_TILE_ROWS;
    mj.chunk_rows = cr;
    for (int i = 0; i < n_w; i++) {
        mj.first[i + 1] = mj.first[i] + (mj.m[i].rows + cr - 1) / cr;
        mj.m[i].pf_past_chunk = n_x == 1;
    }
    if (n_x == 1)
        return wl_threadpool_run_ranges(pool, mj.first[n_w], matmul_chunk, &mj);
    return wl_threadpool_run_chunks(pool, mj.first[n_w], matmul_chunk, &mj);
}

int wl_kernel_matmul(const struct wl_kernels *k, const struct wl_kernel_weight *w, const float *x,
                     int64_t n_x, float *y, void *scratch, size_t scratch_bytes, unsigned flags,
                     struct wl_threadpool *pool)
{
    if (!w || !y)
        return WL_EINVAL;
    return wl_kernel_matmul_multi(k, w, 1, x, n_x, &y, scratch, scratch_bytes, flags, pool);
}

void wl_kernel_silu_mul(const struct wl_kernels *k, float *g, const float *u, int64_t n)
{
    k->ops->silu_mul(g, u, n);
}

void wl_kernel_gelu_mul(const struct wl_kernels *k, float *g, const float *u, int64_t n)
{
    k->ops->gelu_mul(g, u, n);
}

float wl_kernel_exp_sum(const struct wl_kernels *k, float *s, int64_t n, float mx)
{
    return k->ops->exp_sum(s, n, mx);
}

double wl_kernel_sum_sq(const struct wl_kernels *k, const float *x, int64_t n)
{
    return k->ops->sum_sq(x, n);
}

void wl_kernel_scale_mul(const struct wl_kernels *k, float *o, const float *x, float s,
                         const float *w, int64_t n)
{
    k->ops->scale_mul(o, x, s, w, n);
}

int wl_kernel_matvec(const struct wl_kernels *k, const struct wl_kernel_weight *w, const float *x,
                     float *y, void *scratch, size_t scratch_bytes, struct wl_threadpool *pool)
{
    return wl_kernel_matmul(k, w, x, 1, y, scratch, scratch_bytes, 0, pool);
}

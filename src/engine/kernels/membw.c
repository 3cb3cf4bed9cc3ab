/* Memory read bandwidth measurement; see membw.h. The buffer is written once
 * (so its pages exist and are not the shared zero page), then each
 * repetition has every thread read its contiguous slice with wide loads,
 * XOR-folding them into a checksum so that the loads cannot be removed.
 * Timing covers the whole parallel region, including the pool's fork/join.
 */
#include "engine/kernels/membw.h"

#include "engine/kernels/kernels_impl.h"
#include "engine/threadpool.h"
#include "util/clock.h"
#include "util/hugepage.h"
#include "wattlens/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(WL__HAVE_X86_KERNELS)
#include <immintrin.h>

__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint8_t *p, size_t n)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 256 <= n; i += 256) {
        a0 = _mm512_xor_si512(a0, _mm512_load_si512((const void *)(p + i)));
        a1 = _mm512_xor_si512(a1, _mm512_load_si512((const void *)(p + i + 64)));
        a2 = _mm512_xor_si512(a2, _mm512_load_si512((const void *)(p + i + 128)));
        a3 = _mm512_xor_si512(a3, _mm512_load_si512((const void *)(p + i + 192)));
    }
    __m512i a = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
    return (uint64_t)_mm512_reduce_add_epi64(a);
}

__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 128 <= n; i += 128) {
        a0 = _mm256_xor_si256(a0, _mm256_load_si256((const __m256i *)(p + i)));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256((const __m256i *)(p + i + 32)));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256((const __m256i *)(p + i + 64)));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, a);
    return out[0] ^ out[1] ^ out[2] ^ out[3];
}
#endif

static uint64_t read_scalar(const uint8_t *p, size_t n)
{
    const uint64_t *q = (const uint64_t *)(const void *)p;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i + 4 <= n / 8; i += 4) {
        a0 ^= q[i];
        a1 ^= q[i + 1];
        a2 ^= q[i + 2];
        a3 ^= q[i + 3];
    }
    return a0 ^ a1 ^ a2 ^ a3;
}

enum { WL_MEMBW_MAX_THREADS = 256 };

struct membw_job {
    const uint8_t *buf;
    size_t bytes;
    enum wl_kpath path;
    bool prefetch; /* software prefetch ahead, as the matmul driver does */
    uint64_t sink[WL_MEMBW_MAX_THREADS]; /* one checksum per thread */
};

static uint64_t read_path(enum wl_kpath path, const uint8_t *p, size_t n)
{
    switch (path) {
#if defined(WL__HAVE_X86_KERNELS)
    case WL_KPATH_AVX512:
        return read_avx512(p, n);
    case WL_KPATH_AVX2:
        return read_avx2(p, n);
#endif
    default:
        return read_scalar(p, n);
    }
}

/* The prefetching variant reads 4 KiB blocks, each after prefetching the
 * block WL_MEMBW_PF_BYTES ahead (non-temporal hint), as the matmul driver
 * streams weight rows: on the development machine that reaches ~5-15 %
 * more than plain loads with two threads, and the limit must not be lower
 * than what the kernels themselves stream. */
enum { WL_MEMBW_BLOCK = 4096, WL_MEMBW_PF_BYTES = 8192 };

static uint64_t read_prefetch(enum wl_kpath path, const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i += WL_MEMBW_BLOCK) {
        if (i + WL_MEMBW_PF_BYTES < n) {
            const uint8_t *q = p + i + WL_MEMBW_PF_BYTES;
            size_t m = n - i - WL_MEMBW_PF_BYTES < WL_MEMBW_BLOCK ? n - i - WL_MEMBW_PF_BYTES
                                                                  : WL_MEMBW_BLOCK;
            for (size_t o = 0; o < m; o += 64)
                __builtin_prefetch(q + o, 0, 0);
        }
        s ^= read_path(path, p + i, n - i < WL_MEMBW_BLOCK ? n - i : WL_MEMBW_BLOCK);
    }
    return s;
}

static void membw_worker(void *arg, int ith, int nth)
{
    struct membw_job *j = arg;
    int64_t b, e;
    /* 4 KiB-aligned slices keep every thread on its own pages */
    wl_threadpool_split((int64_t)j->bytes, 4096, ith, nth, &b, &e);
    const uint8_t *p = j->buf + b;
    size_t n = (size_t)(e - b);
    uint64_t s = j->prefetch ? read_prefetch(j->path, p, n) : read_path(j->path, p, n);
    if (ith < WL_MEMBW_MAX_THREADS)
        j->sink[ith] ^= s;
}

struct wl_membw_buf {
    uint8_t *p;
    size_t bytes;
};

int wl_membw_buf_create(size_t bytes, struct wl_membw_buf **out)
{
    if (!out)
        return WL_EINVAL;
    *out = NULL;
    bytes &= ~(size_t)4095;
    if (bytes < ((size_t)1 << 20))
        return WL_EINVAL;
    struct wl_membw_buf *b = calloc(1, sizeof *b);
    if (!b)
        return WL_ENOMEM;
    /* 2 MiB-aligned and advised for huge pages, as the engine's weights are
     * (util/hugepage.h): both sides of "decode vs bandwidth" read the same
     * kind of pages */
    void *p = NULL;
    if (posix_memalign(&p, (size_t)2 << 20, bytes) != 0) {
        free(b);
        return WL_ENOMEM;
    }
    wl_hugepage_advise(p, bytes);
    /* distinct non-zero content so every page is really backed */
    for (size_t i = 0; i < bytes; i += 64)
        memset((uint8_t *)p + i, (int)((i >> 6) & 0xff) | 1, 64);
    b->p = p;
    b->bytes = bytes;
    *out = b;
    return 0;
}

void wl_membw_buf_free(struct wl_membw_buf *b)
{
    if (!b)
        return;
    free(b->p);
    free(b);
}

size_t wl_membw_buf_bytes(const struct wl_membw_buf *b)
{
    return b ? b->bytes : 0;
}

int wl_membw_measure_buf(struct wl_threadpool *pool, const struct wl_membw_buf *b, int reps,
                         struct wl_membw_result *out)
{
    if (!b || !out || reps < 1 || reps > 1000)
        return WL_EINVAL;
    int nth = wl_threadpool_n_threads(pool);
    if (nth > WL_MEMBW_MAX_THREADS)
        return WL_EINVAL;
    const size_t bytes = b->bytes;
    struct membw_job *job = calloc(1, sizeof *job);
    if (!job)
        return WL_ENOMEM;
    job->buf = b->p;
    job->bytes = bytes;
    job->path = wl_kpath_best();
    /* one untimed pass warms the TLB and the pool */
    wl_threadpool_run(pool, membw_worker, job);
    uint64_t rss = 0, huge = 0;
    out->huge_fraction = wl_hugepage_mapped_bytes(b->p, &rss, &huge) == 0 && rss > 0
                             ? (double)huge / (double)rss
                             : -1.0;
    /* each repetition times both variants back to back (plain loads, then
     * with software prefetch), so that both see the same moment's bandwidth;
     * the figures are those of the faster variant */
    double best_v[2] = {0, 0}, sum_v[2] = {0, 0}, cpu_v[2] = {0, 0};
    for (int r = 0; r < reps; r++) {
        for (int v = 0; v < 2; v++) {
            job->prefetch = v == 1;
            uint64_t t0 = wl_clock_now_ns(), c0 = wl_clock_process_cpu_ns();
            wl_threadpool_run(pool, membw_worker, job);
            uint64_t dt = wl_clock_now_ns() - t0, dc = wl_clock_process_cpu_ns() - c0;
            double gbps = dt ? (double)bytes / (double)dt : 0.0;
            double cpu_gbps = dc ? (double)bytes * nth / (double)dc : 0.0;
            sum_v[v] += gbps;
            if (gbps > best_v[v])
                best_v[v] = gbps;
            if (cpu_gbps > cpu_v[v])
                cpu_v[v] = cpu_gbps;
        }
    }
    const int w = best_v[1] > best_v[0] ? 1 : 0;
    out->best_gbps = best_v[w];
    out->best_cpu_gbps = cpu_v[w];
    out->mean_gbps = sum_v[w] / reps;
    out->best_plain_gbps = best_v[0];
    out->best_prefetch_gbps = best_v[1];
    out->bytes = bytes;
    out->reps = reps;
    out->n_threads = nth;
    free(job);
    return 0;
}

int wl_membw_measure_read(struct wl_threadpool *pool, size_t bytes, int reps,
                          struct wl_membw_result *out)
{
    if (!out || reps < 1 || reps > 1000)
        return WL_EINVAL;
    if (bytes == 0)
        bytes = WL_MEMBW_DEFAULT_BYTES;
    if (wl_threadpool_n_threads(pool) > WL_MEMBW_MAX_THREADS)
        return WL_EINVAL;
    struct wl_membw_buf *b = NULL;
    int rc = wl_membw_buf_create(bytes, &b);
    if (rc == 0)
        rc = wl_membw_measure_buf(pool, b, reps, out);
    wl_membw_buf_free(b);
    return rc;
}

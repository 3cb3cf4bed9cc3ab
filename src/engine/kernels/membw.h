/* Measured memory read bandwidth of this machine: a streaming read of a
 * buffer much larger than the caches, split over a thread pool, best of N
 * repetitions. Decode speed is bounded by it (every token streams all
 * weights), so benches report tokens/s as a fraction of this figure.
 * wl_membw_measure_read allocates its buffer per call and frees it; a kept
 * buffer (wl_membw_buf) serves many readings. Thread-safe (no shared state).
 */
#ifndef WL_ENGINE_KERNELS_MEMBW_H
#define WL_ENGINE_KERNELS_MEMBW_H

#include <stddef.h>

struct wl_threadpool;

/* Default buffer size: 512 MiB, 16x a 32 MiB last-level cache. */
#define WL_MEMBW_DEFAULT_BYTES ((size_t)512 << 20)

struct wl_membw_result {
    double best_gbps; /* best repetition, 1e9 bytes per second */
    double mean_gbps; /* mean over repetitions */
    /* bytes / (process CPU time / n_threads), best repetition: the rate while
     * actually running, steadier on a busy machine (spinning while waiting
     * for a descheduled thread counts as CPU time: a lower bound of it) */
    double best_cpu_gbps;
    /* best of each read variant: plain wide loads, and the same loads with
     * software prefetch 8 KiB ahead (as the matmul driver streams weights);
     * best_gbps / mean_gbps / best_cpu_gbps are the faster variant's */
    double best_plain_gbps, best_prefetch_gbps;
    size_t bytes; /* buffer size read per repetition */
    /* share of the buffer the kernel backed with huge pages (the buffer is
     * advised for them, as model weights are); -1 when it cannot be read */
    double huge_fraction;
    int reps;
    int n_threads;
};

/* Reads a buffer of `bytes` (>= 1 MiB; 0 = default) `reps` times (1..1000)
 * with every thread of pool (NULL = caller only) and reports the bandwidth.
 * Uses the widest vector loads the CPU supports, each repetition once with
 * plain loads and once with software prefetch, and reports the faster
 * variant (the limit must not be lower than what the kernels stream).
 * Returns 0, WL_EINVAL or
 * WL_ENOMEM. */
int wl_membw_measure_read(struct wl_threadpool *pool, size_t bytes, int reps,
                          struct wl_membw_result *out);

/* A buffer kept for repeated readings, so that a bench can take many readings
 * of a large buffer (say, as many bytes as one decode token reads) without
 * allocating and filling it each time. Create with `bytes` >= 1 MiB (rounded
 * down to whole 4 KiB pages); returns 0, WL_EINVAL or WL_ENOMEM. */
struct wl_membw_buf;
int wl_membw_buf_create(size_t bytes, struct wl_membw_buf **out);
void wl_membw_buf_free(struct wl_membw_buf *b); /* NULL is fine */
size_t wl_membw_buf_bytes(const struct wl_membw_buf *b);

/* wl_membw_measure_read on a kept buffer: the same passes (one untimed,
 * then `reps` of each variant) and the same result. Returns 0 or WL_EINVAL. */
int wl_membw_measure_buf(struct wl_threadpool *pool, const struct wl_membw_buf *b, int reps,
                         struct wl_membw_result *out);

#endif

/* Measured memory read bandwidth of this machine: a streaming read of a
 * buffer much larger than the caches, split over a thread pool, best of N
 * repetitions. Decode speed is bounded by it (every token streams all
 * weights), so benches report tokens/s as a fraction of this figure.
 * Allocates its buffer per call and frees it; thread-safe (no shared state).
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

#endif

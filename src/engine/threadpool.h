/* A small pool of persistent worker threads for "parallel for" inside the
 * engine's kernels, called hundreds of times per token. The caller's thread
 * is worker 0 and runs its share inline; the others wait on a generation
 * counter, spinning briefly before sleeping on a condition variable, so that
 * back-to-back calls cost a few hundred nanoseconds, not a futex round trip.
 * Lifetimes: create/destroy pair; a NULL pool or a pool of 1 thread runs the
 * function inline. Thread-safety: one caller at a time per pool (the engine's
 * forward pass); the function runs concurrently on every worker.
 */
#ifndef WL_ENGINE_THREADPOOL_H
#define WL_ENGINE_THREADPOOL_H

#include <stdint.h>

struct wl_threadpool;

/* Work function: ith in 0..nth-1 is this worker's index, nth the pool size. */
typedef void (*wl_threadpool_fn)(void *arg, int ith, int nth);

/* Starts n_threads - 1 workers (n_threads in 1..256). 0, WL_EINVAL, WL_ENOMEM,
 * or the error of a failed pthread_create (already-started workers are
 * joined before returning). */
int wl_threadpool_create(int n_threads, struct wl_threadpool **out);

/* Stops and joins the workers; NULL is accepted. */
void wl_threadpool_destroy(struct wl_threadpool *pool);

/* Pool size (1 for NULL). */
int wl_threadpool_n_threads(const struct wl_threadpool *pool);

/* Runs fn(arg, ith, nth) on every worker and returns when all have finished.
 * Everything the caller wrote before the call is visible to fn, and
 * everything fn wrote is visible to the caller afterwards. Not reentrant:
 * fn must not call wl_threadpool_run on the same pool. */
void wl_threadpool_run(struct wl_threadpool *pool, wl_threadpool_fn fn, void *arg);

/* Splits [0, n) into nth contiguous ranges whose boundaries are multiples of
 * align (align >= 1), as evenly as possible, and returns range ith. */
void wl_threadpool_split(int64_t n, int64_t align, int ith, int nth, int64_t *begin,
                         int64_t *end);

#endif

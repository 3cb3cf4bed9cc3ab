/* A small pool of persistent worker threads for "parallel for" inside the
 * engine's kernels, called hundreds of times per token. A job is split into
 * chunks that the caller's thread and the workers claim dynamically, so the
 * caller never waits for a worker that has not started yet (on a busy or
 * oversubscribed machine it simply runs more chunks itself). Idle workers
 * poll briefly, then sleep on a condition variable.
 * Lifetimes: create/destroy pair; a NULL pool or a pool of 1 thread runs
 * everything inline. Thread-safety: one caller at a time per pool (the
 * engine's forward pass); chunks run concurrently on the workers.
 */
#ifndef WL_ENGINE_THREADPOOL_H
#define WL_ENGINE_THREADPOOL_H

#include <stdint.h>

struct wl_threadpool;

/* Share-style work function: called once for every ith in 0..nth-1 (nth =
 * pool size). ith names a share of the work, not an OS thread: shares run
 * concurrently when workers are available, and one thread may run several
 * shares one after the other, so a share must never wait for another. */
typedef void (*wl_threadpool_fn)(void *arg, int ith, int nth);

/* Chunk-style work function: called once for every chunk in 0..n_chunks-1,
 * by whichever thread claims it. */
typedef void (*wl_threadpool_chunk_fn)(void *arg, int64_t chunk);

/* Largest n_chunks of one wl_threadpool_run_chunks call. */
#define WL_THREADPOOL_MAX_CHUNKS ((int64_t)(1 << 20) - 1)

/* Most threads of a pool, and so of an engine context (wl_context_create
 * refuses more) and of the benches' WL_BENCH_THREADS. */
#define WL_THREADPOOL_MAX_THREADS 256

/* Starts n_threads - 1 workers (n_threads in 1..WL_THREADPOOL_MAX_THREADS).
 * 0, WL_EINVAL, WL_ENOMEM, or the error of a failed pthread_create
 * (already-started workers are joined before returning). */
int wl_threadpool_create(int n_threads, struct wl_threadpool **out);

/* Stops and joins the workers; NULL is accepted. */
void wl_threadpool_destroy(struct wl_threadpool *pool);

/* The thread count a pool gets when the user asks for none in particular:
 * the CPUs the process may run on (its affinity mask on Linux, which
 * taskset, numactl and cpusets narrow), else the online CPUs; at least 1 and
 * at most WL_THREADPOOL_MAX_THREADS. */
int wl_threadpool_default_threads(void);

/* Pool size (1 for NULL). */
int wl_threadpool_n_threads(const struct wl_threadpool *pool);

/* Runs fn(arg, ith, nth) for every share ith and returns when all have
 * finished. Everything the caller wrote before the call is visible to fn,
 * and everything fn wrote is visible to the caller afterwards. Not
 * reentrant: fn must not run a job on the same pool. */
void wl_threadpool_run(struct wl_threadpool *pool, wl_threadpool_fn fn, void *arg);

/* Runs fn(arg, chunk) for every chunk in 0..n_chunks-1 (claimed in
 * increasing order), with the same visibility guarantees; returns 0, or
 * WL_EINVAL when n_chunks is negative or above WL_THREADPOOL_MAX_CHUNKS or
 * fn is NULL. Finer chunks balance better; each claim costs one atomic
 * operation on a shared cache line (tens of nanoseconds). */
int wl_threadpool_run_chunks(struct wl_threadpool *pool, int64_t n_chunks,
                             wl_threadpool_chunk_fn fn, void *arg);

/* Like wl_threadpool_run_chunks, but chunk order favours contiguity: the
 * chunks are split into one contiguous range per thread (the caller owns
 * the first); each thread walks its own range from the front and, when it
 * is empty, steals chunks from the back of the other ranges. So each thread
 * mostly streams one contiguous region (what a decode matrix-vector product
 * wants for prefetching), and a thread that starts late or runs slower
 * (another process on its core) is still absorbed: the caller never waits
 * for a worker that has not claimed anything. Same limits and errors as
 * wl_threadpool_run_chunks. */
int wl_threadpool_run_ranges(struct wl_threadpool *pool, int64_t n_chunks,
                             wl_threadpool_chunk_fn fn, void *arg);

/* Splits [0, n) into nth contiguous ranges whose boundaries are multiples of
 * align (align >= 1), as evenly as possible, and returns range ith. */
void wl_threadpool_split(int64_t n, int64_t align, int ith, int nth, int64_t *begin, int64_t *end);

#endif

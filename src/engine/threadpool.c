/* Thread pool; see threadpool.h.
 *
 * A job is n chunks claimed dynamically: one 64-bit atomic word `claim`
 * holds (job tag : 24 | n_chunks : 20 | next : 20). Every thread, the caller
 * included, takes chunks with compare-and-swap until none is left, then adds
 * the number it ran to `done` (once per thread and job: one shared counter
 * bumped per chunk cost Q4_K decode 3-5 % at high bandwidth in block A/B
 * runs, its cache line moving between the cores at every chunk); the caller
 * returns when done == n_chunks. A thread's chunks stay uncounted until it
 * has stopped claiming, so the job record outlives every access to it (and
 * the caller also waits out a worker's last failed claims). So the
 * caller never waits for a worker that has not started (descheduled on an
 * oversubscribed machine, or still waking up): it runs the remaining chunks
 * itself. A late worker sees a different tag or next == n and claims
 * nothing; the tag check also means a worker can only touch the job record
 * of a job that is still running (its uncounted chunks keep it alive).
 *
 * wl_threadpool_run_ranges uses one such word per thread instead (tag |
 * front | back of that thread's contiguous range): the owner takes chunks
 * from the front, the others steal from the back; the shared claim word of
 * such a job holds no chunks, so workers go straight to the ranges.
 *
 * Wake-up: the caller bumps `gen` (seq_cst); workers poll it (pause, then
 * sched_yield), then sleep on `cv`. A worker registers in `n_sleeping` before
 * its last check of `gen` and the caller reads `n_sleeping` after bumping
 * `gen`; with sequentially consistent atomics one of them sees the other, so
 * a wake-up is never lost and the mutex is only touched when someone sleeps.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "engine/threadpool.h"

#include "util/cpu_relax.h"
#include "util/signals.h"
#include "wattlens/error.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/* Polls before a waiting worker sleeps: the first WL_POOL_YIELD_AFTER with a
 * pause instruction (~tens of microseconds, enough to bridge the gap between
 * two kernels of one token), the rest with sched_yield (cheap when the core
 * is otherwise idle, fair when it is not); then the condition variable. */
enum { WL_POOL_SPIN = 1 << 12, WL_POOL_YIELD_AFTER = 1 << 10 };

#define CLAIM_NEXT_BITS 20
#define CLAIM_N_BITS 20
#define CLAIM_MASK20 ((uint64_t)(1u << 20) - 1)
#define CLAIM_TAG_MASK ((uint64_t)(1u << 24) - 1)

struct wl_pool_job {
    wl_threadpool_fn fn;             /* share-style job (wl_threadpool_run) */
    wl_threadpool_chunk_fn chunk_fn; /* chunk-style job (wl_threadpool_run_chunks) */
    void *arg;
    int nth;
};

struct wl_pool_worker {
    struct wl_threadpool *pool;
    int share; /* range owned in wl_threadpool_run_ranges (the caller owns 0) */
};

/* One range of a wl_threadpool_run_ranges job: (tag : 24 | front : 20 |
 * back : 20), chunks [front, back) left; the owner takes the front, thieves
 * the back. One cache line each. */
struct wl_pool_range {
    _Alignas(64) atomic_uint_least64_t w;
};

struct wl_threadpool {
    int n_threads;
    pthread_t *threads;
    struct wl_pool_worker *workers;
    int n_started;

    _Alignas(64) _Atomic(struct wl_pool_job *) job;
    atomic_bool stop;
    _Alignas(64) atomic_uint_least64_t claim;
    _Alignas(64) atomic_llong done;
    _Alignas(64) atomic_uint gen;
    _Alignas(64) atomic_int n_sleeping;
    struct wl_pool_range *ranges; /* n_threads entries */

    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static unsigned wait_for_new_gen(struct wl_threadpool *p, unsigned seen)
{
    unsigned g;
    for (int i = 0; i < WL_POOL_SPIN; i++) {
        g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen)
            return g;
        if (i < WL_POOL_YIELD_AFTER)
            wl_cpu_relax();
        else
            sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->n_sleeping, 1);
    while ((g = atomic_load(&p->gen)) == seen)
        pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

/* Adds a thread's finished chunks to `done` when it stops claiming. */
static void count_done(struct wl_threadpool *p, long long ran)
{
    if (ran > 0)
        atomic_fetch_add_explicit(&p->done, ran, memory_order_release);
}

/* Claims and runs chunks of the current job while any is left; tag is the
 * job this thread was woken for (any tag for the caller's own job). */
static void work_on_chunks(struct wl_threadpool *p, uint64_t tag)
{
    long long ran = 0;
    for (;;) {
        uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
        uint64_t n = (c >> CLAIM_NEXT_BITS) & CLAIM_MASK20, next = c & CLAIM_MASK20;
        if ((c >> (CLAIM_NEXT_BITS + CLAIM_N_BITS)) != tag || next >= n)
            break;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acquire,
                                                   memory_order_relaxed))
            continue;
        /* our uncounted chunks keep this job (and its record) alive */
        const struct wl_pool_job *j = atomic_load_explicit(&p->job, memory_order_relaxed);
        if (j->fn)
            j->fn(j->arg, (int)next, j->nth);
        else
            j->chunk_fn(j->arg, (int64_t)next);
        ran++;
    }
    count_done(p, ran);
}

/* Takes one chunk from range r of job `tag`: the front when own, else the
 * back. Returns the chunk, or -1 when the range is empty or of another job. */
static int64_t range_take(struct wl_pool_range *r, uint64_t tag, bool own)
{
    uint64_t c = atomic_load_explicit(&r->w, memory_order_acquire);
    for (;;) {
        uint64_t front = (c >> CLAIM_NEXT_BITS) & CLAIM_MASK20, back = c & CLAIM_MASK20;
        if ((c >> (CLAIM_NEXT_BITS + CLAIM_N_BITS)) != tag || front >= back)
            return -1;
        uint64_t nc = own ? c + ((uint64_t)1 << CLAIM_NEXT_BITS) : c - 1;
        if (atomic_compare_exchange_weak_explicit(&r->w, &c, nc, memory_order_acquire,
                                                  memory_order_acquire))
            return (int64_t)(own ? front : back - 1);
    }
}

/* Runs chunks of a ranges job: own range first, then steals. */
static void work_on_ranges(struct wl_threadpool *p, uint64_t tag, int me)
{
    const int n = p->n_threads;
    long long ran = 0;
    for (;;) {
        int64_t c = range_take(&p->ranges[me], tag, true);
        for (int k = 1; c < 0 && k < n; k++)
            c = range_take(&p->ranges[(me + k) % n], tag, false);
        if (c < 0)
            break;
        /* claimed and uncounted: the job is alive */
        const struct wl_pool_job *j = atomic_load_explicit(&p->job, memory_order_relaxed);
        j->chunk_fn(j->arg, c);
        ran++;
    }
    count_done(p, ran);
}

static void *worker_main(void *varg)
{
    struct wl_pool_worker *w = varg;
    struct wl_threadpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_new_gen(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            break;
        /* the job tag is the low 24 bits of gen (set together by the caller) */
        work_on_chunks(p, (uint64_t)seen & CLAIM_TAG_MASK);
        work_on_ranges(p, (uint64_t)seen & CLAIM_TAG_MASK, w->share);
    }
    return NULL;
}

/* Wakes the workers for a new gen (job or stop). */
static void publish(struct wl_threadpool *p)
{
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Runs job j as n chunks on the pool; returns when all are done. */
static void run_job(struct wl_threadpool *p, struct wl_pool_job *j, int64_t n, bool ranges)
{
    /* gen and the claim tag advance together; tag = low 24 bits of new gen */
    unsigned g = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
    uint64_t tag = (uint64_t)g & CLAIM_TAG_MASK;
    atomic_store_explicit(&p->job, j, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    const uint64_t tag_bits = tag << (CLAIM_NEXT_BITS + CLAIM_N_BITS);
    if (ranges) {
        /* range s: chunks [s*n/nth, (s+1)*n/nth); the shared claim word gets
         * no chunks (n = 0) so that workers go straight to the ranges */
        const int nth = p->n_threads;
        for (int s = 0; s < nth; s++) {
            uint64_t f = (uint64_t)(n * s / nth), b = (uint64_t)(n * (s + 1) / nth);
            atomic_store_explicit(&p->ranges[s].w, tag_bits | (f << CLAIM_NEXT_BITS) | b,
                                  memory_order_relaxed);
        }
        atomic_store_explicit(&p->claim, tag_bits, memory_order_release);
    } else {
        atomic_store_explicit(&p->claim, tag_bits | ((uint64_t)n << CLAIM_NEXT_BITS),
                              memory_order_release);
    }
    publish(p);
    if (ranges)
        work_on_ranges(p, tag, 0);
    else
        work_on_chunks(p, tag);
    for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) < n; i++) {
        if (i < WL_POOL_YIELD_AFTER)
            wl_cpu_relax();
        else
            sched_yield();
    }
}

static void stop_workers(struct wl_threadpool *p)
{
    if (p->n_started == 0)
        return;
    atomic_store_explicit(&p->stop, true, memory_order_release);
    publish(p);
    for (int i = 0; i < p->n_started; i++)
        pthread_join(p->threads[i], NULL);
    p->n_started = 0;
}

int wl_threadpool_create(int n_threads, struct wl_threadpool **out)
{
    if (!out || n_threads < 1 || n_threads > WL_THREADPOOL_MAX_THREADS)
        return WL_EINVAL;
    *out = NULL;
    int rc = WL_ENOMEM;
    struct wl_threadpool *p = calloc(1, sizeof *p);
    if (!p)
        return WL_ENOMEM;
    p->n_threads = n_threads;
    atomic_init(&p->job, NULL);
    atomic_init(&p->stop, false);
    atomic_init(&p->claim, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->n_sleeping, 0);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return WL_ENOMEM;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return WL_ENOMEM;
    }
    p->ranges = aligned_alloc(64, sizeof *p->ranges * (size_t)n_threads);
    if (!p->ranges)
        goto fail;
    for (int i = 0; i < n_threads; i++)
        atomic_init(&p->ranges[i].w, 0);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->threads || !p->workers)
            goto fail;
        for (int i = 0; i < n_threads - 1; i++) {
            p->workers[i].pool = p;
            p->workers[i].share = i + 1;
            int e = wl_signals_thread_create(&p->threads[i], NULL, worker_main, &p->workers[i]);
            if (e != 0) {
                rc = wl_error_from_errno(e);
                goto fail;
            }
            p->n_started++;
        }
    }
    *out = p;
    return 0;
fail:
    wl_threadpool_destroy(p);
    return rc;
}

void wl_threadpool_destroy(struct wl_threadpool *p)
{
    if (!p)
        return;
    stop_workers(p);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->workers);
    free(p->ranges);
    free(p);
}

int wl_threadpool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef __linux__
    /* the CPUs this process may run on (taskset, numactl, a container's or a
     * systemd unit's cpuset): more threads than those only take turns on
     * them. A set that cannot be read (more than CPU_SETSIZE CPUs) leaves
     * the online count. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1)
        n = CPU_COUNT(&set);
#endif
    return n < 1 ? 1 : n > WL_THREADPOOL_MAX_THREADS ? WL_THREADPOOL_MAX_THREADS : (int)n;
}

int wl_threadpool_n_threads(const struct wl_threadpool *p)
{
    return p ? p->n_threads : 1;
}

void wl_threadpool_run(struct wl_threadpool *p, wl_threadpool_fn fn, void *arg)
{
    if (!p || p->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    struct wl_pool_job j = {.fn = fn, .arg = arg, .nth = p->n_threads};
    run_job(p, &j, p->n_threads, false);
}

int wl_threadpool_run_chunks(struct wl_threadpool *p, int64_t n_chunks, wl_threadpool_chunk_fn fn,
                             void *arg)
{
    if (!fn || n_chunks < 0 || n_chunks > WL_THREADPOOL_MAX_CHUNKS)
        return WL_EINVAL;
    if (!p || p->n_threads == 1 || n_chunks <= 1) {
        for (int64_t i = 0; i < n_chunks; i++)
            fn(arg, i);
        return 0;
    }
    struct wl_pool_job j = {.chunk_fn = fn, .arg = arg, .nth = p->n_threads};
    run_job(p, &j, n_chunks, false);
    return 0;
}

int wl_threadpool_run_ranges(struct wl_threadpool *p, int64_t n_chunks, wl_threadpool_chunk_fn fn,
                             void *arg)
{
    if (!fn || n_chunks < 0 || n_chunks > WL_THREADPOOL_MAX_CHUNKS)
        return WL_EINVAL;
    if (!p || p->n_threads == 1 || n_chunks <= 1) {
        for (int64_t i = 0; i < n_chunks; i++)
            fn(arg, i);
        return 0;
    }
    struct wl_pool_job j = {.chunk_fn = fn, .arg = arg, .nth = p->n_threads};
    run_job(p, &j, n_chunks, true);
    return 0;
}

void wl_threadpool_split(int64_t n, int64_t align, int ith, int nth, int64_t *begin, int64_t *end)
{
    if (align < 1)
        align = 1;
    if (nth < 1)
        nth = 1;
    int64_t units = (n + align - 1) / align;
    int64_t per = units / nth, extra = units % nth;
    int64_t u0 = ith * per + (ith < extra ? ith : extra);
    int64_t u1 = u0 + per + (ith < extra ? 1 : 0);
    int64_t b = u0 * align, e = u1 * align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

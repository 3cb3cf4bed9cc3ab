/* Thread pool; see threadpool.h. Synchronisation: the caller publishes
 * (fn, arg) and bumps `gen` (seq_cst); workers spin on `gen` for a bounded
 * time, then sleep on `cv`. A worker registers in `n_sleeping` before its last
 * check of `gen` and the caller reads `n_sleeping` after bumping `gen`; with
 * sequentially consistent atomics at least one of them sees the other, so a
 * wake-up is never lost and the mutex is only touched when someone sleeps.
 * Completion: each worker decrements `n_pending` (release) after fn; the
 * caller spins on it (acquire), yielding the CPU after a while because the
 * machine may be oversubscribed.
 */
#include "engine/threadpool.h"

#include "wattlens/error.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* Polls before a waiting worker sleeps: the first WL_POOL_YIELD_AFTER with
 * a pause instruction (~tens of microseconds, enough to bridge the gap
 * between two kernels of one token), the rest with sched_yield (cheap when
 * the core is otherwise idle, fair when it is not); then the condvar. */
enum { WL_POOL_SPIN = 1 << 12, WL_POOL_YIELD_AFTER = 1 << 10, WL_POOL_MAX_THREADS = 256 };

struct wl_pool_worker {
    struct wl_threadpool *pool;
    int ith;
};

struct wl_threadpool {
    int n_threads;
    pthread_t *threads;
    struct wl_pool_worker *workers;
    int n_started;

    /* job: written by the caller before gen is bumped, read by workers after */
    wl_threadpool_fn fn;
    void *arg;
    bool stop;

    _Alignas(64) atomic_uint gen;
    _Alignas(64) atomic_int n_pending;
    _Alignas(64) atomic_int n_sleeping;

    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static unsigned wait_for_new_gen(struct wl_threadpool *p, unsigned seen)
{
    unsigned g;
    for (int i = 0; i < WL_POOL_SPIN; i++) {
        g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen)
            return g;
        /* past the first stretch, give the core away between polls: with
         * more runnable threads than cores, pure spinning would delay the
         * very threads the caller is waiting for */
        if (i < WL_POOL_YIELD_AFTER)
            cpu_relax();
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

static void *worker_main(void *varg)
{
    struct wl_pool_worker *w = varg;
    struct wl_threadpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_new_gen(p, seen);
        if (p->stop)
            break;
        p->fn(p->arg, w->ith, p->n_threads);
        atomic_fetch_sub_explicit(&p->n_pending, 1, memory_order_release);
    }
    return NULL;
}

/* Publishes the current job (or stop) to the workers. */
static void publish(struct wl_threadpool *p)
{
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void stop_workers(struct wl_threadpool *p)
{
    if (p->n_started == 0)
        return;
    p->stop = true;
    publish(p);
    for (int i = 0; i < p->n_started; i++)
        pthread_join(p->threads[i], NULL);
    p->n_started = 0;
}

int wl_threadpool_create(int n_threads, struct wl_threadpool **out)
{
    if (!out || n_threads < 1 || n_threads > WL_POOL_MAX_THREADS)
        return WL_EINVAL;
    *out = NULL;
    int rc = WL_ENOMEM;
    struct wl_threadpool *p = calloc(1, sizeof *p);
    if (!p)
        return WL_ENOMEM;
    p->n_threads = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->n_pending, 0);
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
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->threads || !p->workers)
            goto fail;
        for (int i = 0; i < n_threads - 1; i++) {
            p->workers[i].pool = p;
            p->workers[i].ith = i + 1;
            int e = pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]);
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
    free(p);
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
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->n_pending, p->n_threads - 1, memory_order_relaxed);
    publish(p);
    fn(arg, 0, p->n_threads);
    for (int i = 0; atomic_load_explicit(&p->n_pending, memory_order_acquire) > 0; i++) {
        if (i < WL_POOL_YIELD_AFTER)
            cpu_relax();
        else
            sched_yield();
    }
}

void wl_threadpool_split(int64_t n, int64_t align, int ith, int nth, int64_t *begin,
                         int64_t *end)
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

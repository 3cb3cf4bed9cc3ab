/* engine/threadpool: every share / chunk of a job runs exactly once with
 * the right index, memory written before/inside a run is visible after it,
 * many back-to-back runs (the per-token pattern), runs after the workers
 * went to sleep, slow shares, inline pools, row splitting, bad arguments,
 * the default thread count (the allowed CPUs).
 * Run under TSan too.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_COUNT */
#include "test_support.h"

#include "engine/threadpool.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

enum { MAX_T = 8 };

struct count_job {
    int seen_nth[MAX_T];
    int calls[MAX_T]; /* plain ints: each worker writes only its slot */
    atomic_int total;
    int input; /* written by the caller before the run */
    int echoed[MAX_T];
};

static void count_fn(void *arg, int ith, int nth)
{
    struct count_job *j = arg;
    j->seen_nth[ith] = nth;
    j->calls[ith]++;
    j->echoed[ith] = j->input;
    atomic_fetch_add(&j->total, 1);
}

static void check_pool(int n)
{
    struct wl_threadpool *p = NULL;
    assert_int_equal(wl_threadpool_create(n, &p), 0);
    assert_non_null(p);
    assert_int_equal(wl_threadpool_n_threads(p), n);
    struct count_job *j = calloc(1, sizeof *j);
    assert_non_null(j);
    const int runs = n <= 2 ? 2000 : 300; /* n > 2 oversubscribes a 2-core machine */
    for (int r = 0; r < runs; r++) {
        j->input = r;
        wl_threadpool_run(p, count_fn, j);
        for (int i = 0; i < n; i++)
            assert_int_equal(j->echoed[i], r);
    }
    /* let the workers fall asleep, then run again: the wake-up must not be lost */
    wl_clock_sleep_ns(30 * 1000 * 1000);
    j->input = -1;
    wl_threadpool_run(p, count_fn, j);
    for (int i = 0; i < n; i++) {
        assert_int_equal(j->calls[i], runs + 1);
        assert_int_equal(j->seen_nth[i], n);
        assert_int_equal(j->echoed[i], -1);
    }
    for (int i = n; i < MAX_T; i++)
        assert_int_equal(j->calls[i], 0);
    assert_int_equal(atomic_load(&j->total), n * (runs + 1));
    free(j);
    wl_threadpool_destroy(p);
}

/* Workers block asynchronous signals (SIGINT, SIGTERM, SIGHUP, ...), so a
 * program's stop handler runs on its own thread, never on a worker; crash
 * signals stay unblocked. The caller's mask is left as it was. A share is
 * not bound to a thread (the caller takes shares no worker has claimed yet),
 * so each share says which thread ran it; shares last 2 ms so that the
 * workers wake and take some. */
struct mask_job {
    pthread_t caller;
    atomic_int on_worker, worker_unblocked, on_caller, caller_blocked;
};

static void mask_fn(void *arg, int ith, int nth)
{
    (void)ith;
    (void)nth;
    struct mask_job *j = arg;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    const bool blocked = sigismember(&cur, SIGINT) && sigismember(&cur, SIGTERM) &&
                         sigismember(&cur, SIGHUP) && !sigismember(&cur, SIGSEGV);
    if (pthread_equal(pthread_self(), j->caller)) {
        atomic_fetch_add(&j->on_caller, 1);
        atomic_fetch_add(&j->caller_blocked, sigismember(&cur, SIGINT));
    } else {
        atomic_fetch_add(&j->on_worker, 1);
        atomic_fetch_add(&j->worker_unblocked, !blocked);
    }
    wl_clock_sleep_ns(2 * 1000 * 1000);
}

static void test_workers_block_async_signals(void **state)
{
    (void)state;
    struct wl_threadpool *p = NULL;
    assert_int_equal(wl_threadpool_create(3, &p), 0);
    struct mask_job j = {.caller = pthread_self()};
    for (int r = 0; r < 200 && atomic_load(&j.on_worker) < 4; r++)
        wl_threadpool_run(p, mask_fn, &j);
    assert_true(atomic_load(&j.on_worker) > 0);
    assert_int_equal(atomic_load(&j.worker_unblocked), 0);
    assert_true(atomic_load(&j.on_caller) > 0);
    assert_int_equal(atomic_load(&j.caller_blocked), 0);
    wl_threadpool_destroy(p);
}

static void test_every_worker_runs_every_job_once(void **state)
{
    (void)state;
    for (int n = 1; n <= 5; n++)
        check_pool(n);
}

static void test_null_pool_runs_inline(void **state)
{
    (void)state;
    struct count_job j;
    memset(&j, 0, sizeof j);
    j.input = 7;
    wl_threadpool_run(NULL, count_fn, &j);
    assert_int_equal(j.calls[0], 1);
    assert_int_equal(j.seen_nth[0], 1);
    assert_int_equal(wl_threadpool_n_threads(NULL), 1);
    wl_threadpool_destroy(NULL);
}

/* A parallel sum: results written by workers are visible to the caller. */
struct sum_job {
    const int64_t *v;
    int64_t n;
    int64_t part[MAX_T];
};

static void sum_fn(void *arg, int ith, int nth)
{
    struct sum_job *j = arg;
    int64_t b, e, s = 0;
    wl_threadpool_split(j->n, 16, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++)
        s += j->v[i];
    j->part[ith] = s;
}

static void test_parallel_sum_matches_serial(void **state)
{
    (void)state;
    struct wl_threadpool *p;
    assert_int_equal(wl_threadpool_create(3, &p), 0);
    enum { N = 10007 };
    int64_t *v = malloc(sizeof(int64_t) * N), want = 0;
    assert_non_null(v);
    for (int i = 0; i < N; i++) {
        v[i] = (int64_t)i * i % 1000;
        want += v[i];
    }
    for (int rep = 0; rep < 100; rep++) {
        struct sum_job j = {v, N - rep, {0}};
        int64_t w = want;
        for (int i = N - rep; i < N; i++)
            w -= v[i];
        wl_threadpool_run(p, sum_fn, &j);
        assert_int_equal(j.part[0] + j.part[1] + j.part[2], w);
    }
    free(v);
    wl_threadpool_destroy(p);
}

static void test_split_covers_range_with_aligned_boundaries(void **state)
{
    (void)state;
    const int64_t ns[] = {0, 1, 15, 16, 17, 100, 2048, 5632, 32001};
    const int64_t aligns[] = {1, 16, 64};
    for (size_t a = 0; a < 3; a++)
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
            for (int nth = 1; nth <= 7; nth++) {
                int64_t prev = 0, maxlen = 0, minlen = INT64_MAX;
                for (int i = 0; i < nth; i++) {
                    int64_t b, e;
                    wl_threadpool_split(ns[k], aligns[a], i, nth, &b, &e);
                    assert_int_equal(b, prev);
                    assert_true(e >= b);
                    if (e < ns[k])
                        assert_int_equal(e % aligns[a], 0);
                    prev = e;
                    if (e - b > maxlen)
                        maxlen = e - b;
                    if (e - b < minlen)
                        minlen = e - b;
                }
                assert_int_equal(prev, ns[k]);
                /* balanced to within one alignment unit */
                assert_true(maxlen - minlen <= aligns[a] || ns[k] % aligns[a] != 0);
            }
}

struct chunk_job {
    atomic_int *hits;
    int64_t n;
    atomic_int bad;
};

static void chunk_fn(void *arg, int64_t c)
{
    struct chunk_job *j = arg;
    if (c < 0 || c >= j->n)
        atomic_fetch_add(&j->bad, 1);
    else
        atomic_fetch_add(&j->hits[c], 1);
}

static void test_run_chunks_runs_every_chunk_exactly_once(void **state)
{
    (void)state;
    const int64_t ns[] = {0, 1, 2, 3, 17, 1000, 4096};
    for (int nth = 1; nth <= 4; nth++) {
        struct wl_threadpool *p;
        assert_int_equal(wl_threadpool_create(nth, &p), 0);
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
            for (int rep = 0; rep < 20; rep++) {
                struct chunk_job j;
                j.n = ns[k];
                j.hits = calloc((size_t)ns[k] + 1, sizeof *j.hits);
                assert_non_null(j.hits);
                atomic_init(&j.bad, 0);
                assert_int_equal(wl_threadpool_run_chunks(p, ns[k], chunk_fn, &j), 0);
                for (int64_t c = 0; c < ns[k]; c++)
                    assert_int_equal(atomic_load(&j.hits[c]), 1);
                assert_int_equal(atomic_load(&j.bad), 0);
                free(j.hits);
            }
        /* share-style and chunk-style jobs interleave on one pool */
        struct count_job *cj = calloc(1, sizeof *cj);
        assert_non_null(cj);
        wl_threadpool_run(p, count_fn, cj);
        for (int i = 0; i < nth; i++)
            assert_int_equal(cj->calls[i], 1);
        free(cj);
        assert_int_equal(wl_threadpool_run_chunks(p, -1, chunk_fn, NULL), WL_EINVAL);
        assert_int_equal(wl_threadpool_run_chunks(p, WL_THREADPOOL_MAX_CHUNKS + 1, chunk_fn, NULL),
                         WL_EINVAL);
        assert_int_equal(wl_threadpool_run_chunks(p, 4, NULL, NULL), WL_EINVAL);
        wl_threadpool_destroy(p);
    }
}

/* run_ranges: every chunk exactly once (owners from the front, thieves from
 * the back), interleaved with the other job kinds on the same pool. */
static void test_run_ranges_runs_every_chunk_exactly_once(void **state)
{
    (void)state;
    const int64_t ns[] = {0, 1, 2, 3, 17, 1000, 4096};
    for (int nth = 1; nth <= 5; nth++) {
        struct wl_threadpool *p;
        assert_int_equal(wl_threadpool_create(nth, &p), 0);
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
            for (int rep = 0; rep < 20; rep++) {
                struct chunk_job j;
                j.n = ns[k];
                j.hits = calloc((size_t)ns[k] + 1, sizeof *j.hits);
                assert_non_null(j.hits);
                atomic_init(&j.bad, 0);
                assert_int_equal(wl_threadpool_run_ranges(p, ns[k], chunk_fn, &j), 0);
                for (int64_t c = 0; c < ns[k]; c++)
                    assert_int_equal(atomic_load(&j.hits[c]), 1);
                assert_int_equal(atomic_load(&j.bad), 0);
                /* a chunk job right after must not see leftovers */
                memset(j.hits, 0, sizeof *j.hits * ((size_t)ns[k] + 1));
                assert_int_equal(wl_threadpool_run_chunks(p, ns[k], chunk_fn, &j), 0);
                for (int64_t c = 0; c < ns[k]; c++)
                    assert_int_equal(atomic_load(&j.hits[c]), 1);
                free(j.hits);
            }
        assert_int_equal(wl_threadpool_run_ranges(p, -1, chunk_fn, NULL), WL_EINVAL);
        assert_int_equal(wl_threadpool_run_ranges(p, WL_THREADPOOL_MAX_CHUNKS + 1, chunk_fn, NULL),
                         WL_EINVAL);
        assert_int_equal(wl_threadpool_run_ranges(p, 4, NULL, NULL), WL_EINVAL);
        wl_threadpool_destroy(p);
    }
}

/* A share that sleeps: the other shares still run exactly once and the
 * caller returns only after the sleeper finished. */
static void slow_share_fn(void *arg, int ith, int nth)
{
    struct count_job *j = arg;
    if (ith == nth - 1)
        wl_clock_sleep_ns(5 * 1000 * 1000);
    j->calls[ith]++;
    atomic_fetch_add(&j->total, 1);
}

static void test_slow_share_is_waited_for(void **state)
{
    (void)state;
    struct wl_threadpool *p;
    assert_int_equal(wl_threadpool_create(3, &p), 0);
    struct count_job *j = calloc(1, sizeof *j);
    assert_non_null(j);
    for (int rep = 0; rep < 5; rep++) {
        wl_threadpool_run(p, slow_share_fn, j);
        assert_int_equal(atomic_load(&j->total), 3 * (rep + 1));
        for (int i = 0; i < 3; i++)
            assert_int_equal(j->calls[i], rep + 1);
    }
    free(j);
    wl_threadpool_destroy(p);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct wl_threadpool *p = (struct wl_threadpool *)&p;
    assert_int_equal(wl_threadpool_create(0, &p), WL_EINVAL);
    assert_int_equal(wl_threadpool_create(-3, &p), WL_EINVAL);
    assert_int_equal(wl_threadpool_create(100000, &p), WL_EINVAL);
    assert_int_equal(wl_threadpool_create(2, NULL), WL_EINVAL);
}

/* The default is the CPUs the calling thread may run on (its affinity mask,
 * which taskset and cpusets narrow), kept within what a pool can have: one
 * when the mask is narrowed to one CPU, whatever the online count. */
static void test_default_threads_is_the_allowed_cpus(void **state)
{
    (void)state;
    const int d = wl_threadpool_default_threads();
    assert_in_range(d, 1, 256);
    struct wl_threadpool *pool = NULL;
    assert_int_equal(wl_threadpool_create(d, &pool), 0);
    assert_int_equal(wl_threadpool_n_threads(pool), d);
    wl_threadpool_destroy(pool);
#ifdef __linux__
    cpu_set_t all, one;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    const int allowed = CPU_COUNT(&all);
    assert_int_equal(d, allowed > 256 ? 256 : allowed);
    int first = 0;
    while (!CPU_ISSET(first, &all))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0); /* this thread only */
    const int narrowed = wl_threadpool_default_threads();
    assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
    assert_int_equal(narrowed, 1);
#else
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online >= 1 && online <= 256)
        assert_int_equal(d, online);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_worker_runs_every_job_once),
        cmocka_unit_test(test_workers_block_async_signals),
        cmocka_unit_test(test_null_pool_runs_inline),
        cmocka_unit_test(test_parallel_sum_matches_serial),
        cmocka_unit_test(test_split_covers_range_with_aligned_boundaries),
        cmocka_unit_test(test_run_chunks_runs_every_chunk_exactly_once),
        cmocka_unit_test(test_run_ranges_runs_every_chunk_exactly_once),
        cmocka_unit_test(test_slow_share_is_waited_for),
        cmocka_unit_test(test_default_threads_is_the_allowed_cpus),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Core-to-core round trips; see corelat.h. Two threads, each pinned to its
 * own CPU: the pinger writes i to `ping`, the partner answers by writing i to
 * `pong`; each sits on its own cache line, so one round trip moves two lines
 * between the cores. The partner stops when the pinger writes -1 (done or
 * timed out). The caller only waits for both.
 */
#define _GNU_SOURCE /* CPU affinity of the two threads */
#include "engine/kernels/corelat.h"

#include "util/clock.h"
#include "util/cpu_relax.h"
#include "util/signals.h"
#include "wattlens/error.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

/* Spins with pause before yielding: a round trip between two running cores
 * takes well under a microsecond, so yielding only happens when the partner
 * is not running (one CPU, or descheduled). */
enum { CORELAT_SPIN_BEFORE_YIELD = 1 << 14 };

struct corelat_line {
    _Alignas(64) atomic_int v;
};

struct corelat {
    struct corelat_line ping, pong;
    int n, max_ms; /* asked for */
    int done;      /* round trips timed, written by the pinger */
    uint64_t ns;   /* their time */
};

static inline void corelat_relax(unsigned *spins)
{
    if (++*spins < CORELAT_SPIN_BEFORE_YIELD)
        wl_cpu_relax();
    else
        sched_yield();
}

static void *partner(void *arg)
{
    struct corelat *c = arg;
    atomic_store_explicit(&c->pong.v, 0, memory_order_release); /* started */
    int last = 0;
    for (;;) {
        unsigned spins = 0;
        int v;
        while ((v = atomic_load_explicit(&c->ping.v, memory_order_acquire)) == last)
            corelat_relax(&spins);
        if (v < 0)
            return NULL;
        last = v;
        atomic_store_explicit(&c->pong.v, v, memory_order_release);
    }
}

/* The timing side: started after the partner, it pings n times or until
 * max_ms have passed. */
static void *pinger(void *arg)
{
    struct corelat *c = arg;
    unsigned spins = 0;
    while (atomic_load_explicit(&c->pong.v, memory_order_acquire) != 0)
        corelat_relax(&spins);
    const uint64_t t0 = wl_clock_now_ns(), deadline = t0 + (uint64_t)c->max_ms * 1000000u;
    int done = 0;
    uint64_t t1 = t0;
    for (int i = 1; i <= c->n; i++) {
        atomic_store_explicit(&c->ping.v, i, memory_order_release);
        spins = 0;
        while (atomic_load_explicit(&c->pong.v, memory_order_acquire) != i)
            corelat_relax(&spins);
        done = i;
        /* the clock is read every 64 round trips only, to stay out of them */
        if (i % 64 == 0 && (t1 = wl_clock_now_ns()) >= deadline)
            break;
    }
    if (done % 64 != 0)
        t1 = wl_clock_now_ns();
    atomic_store_explicit(&c->ping.v, -1, memory_order_release);
    c->done = done;
    c->ns = t1 - t0;
    return NULL;
}

int wl_corelat_cpus(int *cpu_a, int *cpu_b, int *n_allowed)
{
    int a = -1, b = -1, n = 0;
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        n = CPU_COUNT(&set);
        for (int cpu = 0; cpu < CPU_SETSIZE && b < 0; cpu++) {
            if (!CPU_ISSET(cpu, &set))
                continue;
            if (a < 0)
                a = cpu;
            else
                b = cpu;
        }
        if (b < 0)
            b = a;
    }
#endif
    if (cpu_a)
        *cpu_a = a;
    if (cpu_b)
        *cpu_b = b;
    if (n_allowed)
        *n_allowed = n;
    return a >= 0 ? 0 : WL_ENOTSUP;
}

/* Starts fn on `cpu` (any CPU when pinning is unavailable or refused). */
static int corelat_start(pthread_t *t, void *(*fn)(void *), struct corelat *c, int cpu, int *pinned)
{
#ifdef __linux__
    if (cpu >= 0) {
        pthread_attr_t attr;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (pthread_attr_init(&attr) == 0) {
            int e = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
            if (e == 0)
                e = wl_signals_thread_create(t, &attr, fn, c);
            pthread_attr_destroy(&attr);
            if (e == 0)
                return 0;
        }
    }
#else
    (void)cpu;
#endif
    *pinned = 0;
    return wl_signals_thread_create(t, NULL, fn, c);
}

int wl_corelat_measure(int n, int max_ms, struct wl_corelat_result *out)
{
    if (!out || n < 1 || n > 10000000 || max_ms < 1 || max_ms > 60000)
        return WL_EINVAL;
    struct corelat c = {.n = n, .max_ms = max_ms};
    atomic_init(&c.ping.v, 0);
    atomic_init(&c.pong.v, -1);
    int cpu_a, cpu_b, pinned = 1;
    (void)wl_corelat_cpus(&cpu_a, &cpu_b, NULL);
    pthread_t tp, tq;
    int e = corelat_start(&tp, partner, &c, cpu_b, &pinned);
    if (e != 0)
        return wl_error_from_errno(e);
    e = corelat_start(&tq, pinger, &c, cpu_a, &pinned);
    if (e != 0) {
        atomic_store_explicit(&c.ping.v, -1, memory_order_release);
        pthread_join(tp, NULL);
        return wl_error_from_errno(e);
    }
    pthread_join(tq, NULL);
    pthread_join(tp, NULL);
    out->n_roundtrips = c.done;
    out->roundtrip_ns = (double)c.ns / c.done;
    out->cpu_a = pinned ? cpu_a : -1;
    out->cpu_b = pinned ? cpu_b : -1;
    return 0;
}

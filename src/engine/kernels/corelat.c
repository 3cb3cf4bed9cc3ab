/* Core-to-core round trips; see corelat.h. The caller writes i to `ping`,
 * the partner answers by writing i to `pong`; each sits on its own cache
 * line, so one round trip moves two lines between the cores. The partner
 * stops when the caller writes -1 (done or timed out).
 */
#include "engine/kernels/corelat.h"

#include "util/clock.h"
#include "util/cpu_relax.h"
#include "wattlens/error.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

/* Spins with pause before yielding: a round trip between two running cores
 * takes well under a microsecond, so yielding only happens when the partner
 * is not running (one CPU, or descheduled). */
enum { CORELAT_SPIN_BEFORE_YIELD = 1 << 14 };

struct corelat_line {
    _Alignas(64) atomic_int v;
};

struct corelat {
    struct corelat_line ping, pong;
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

int wl_corelat_measure(int n, int max_ms, struct wl_corelat_result *out)
{
    if (!out || n < 1 || n > 10000000 || max_ms < 1 || max_ms > 60000)
        return WL_EINVAL;
    struct corelat c;
    atomic_init(&c.ping.v, 0);
    atomic_init(&c.pong.v, -1);
    pthread_t t;
    int e = pthread_create(&t, NULL, partner, &c);
    if (e != 0)
        return wl_error_from_errno(e);
    unsigned spins = 0;
    while (atomic_load_explicit(&c.pong.v, memory_order_acquire) != 0)
        corelat_relax(&spins);
    const uint64_t t0 = wl_clock_now_ns(), deadline = t0 + (uint64_t)max_ms * 1000000u;
    int done = 0;
    uint64_t t1 = t0;
    for (int i = 1; i <= n; i++) {
        atomic_store_explicit(&c.ping.v, i, memory_order_release);
        spins = 0;
        while (atomic_load_explicit(&c.pong.v, memory_order_acquire) != i)
            corelat_relax(&spins);
        done = i;
        /* the clock is read every 64 round trips only, to stay out of them */
        if (i % 64 == 0 && (t1 = wl_clock_now_ns()) >= deadline)
            break;
    }
    if (done % 64 != 0)
        t1 = wl_clock_now_ns();
    atomic_store_explicit(&c.ping.v, -1, memory_order_release);
    pthread_join(t, NULL);
    out->n_roundtrips = done;
    out->roundtrip_ns = (double)(t1 - t0) / done;
    return 0;
}

/* Clock helpers; see clock.h. */
#include "util/clock.h"

#include <errno.h>
#include <time.h>

static uint64_t wl__clock_read(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t wl_clock_now_ns(void)
{
    return wl__clock_read(CLOCK_MONOTONIC);
}

int64_t wl_clock_realtime_ns(void)
{
    return (int64_t)wl__clock_read(CLOCK_REALTIME);
}

uint64_t wl_clock_process_cpu_ns(void)
{
    return wl__clock_read(CLOCK_PROCESS_CPUTIME_ID);
}

uint64_t wl_clock_thread_cpu_ns(void)
{
    return wl__clock_read(CLOCK_THREAD_CPUTIME_ID);
}

void wl_clock_sleep_ns(uint64_t dur_ns)
{
    struct timespec req = {(time_t)(dur_ns / 1000000000ull), (long)(dur_ns % 1000000000ull)};
    struct timespec rem;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

bool wl_clock_sleep_cancellable_ns(uint64_t dur_ns, const volatile sig_atomic_t *cancel)
{
    const uint64_t end = wl_clock_now_ns() + dur_ns;
    for (;;) {
        if (cancel && *cancel)
            return false;
        const uint64_t now = wl_clock_now_ns();
        if (now >= end)
            return true;
        uint64_t step = end - now;
        if (cancel && step > 20000000u)
            step = 20000000u; /* the signal may reach another thread */
        struct timespec req = {(time_t)(step / 1000000000ull), (long)(step % 1000000000ull)};
        nanosleep(&req, NULL); /* EINTR: loop, check the flag */
    }
}

void wl_clock_sleep_until_ns(uint64_t t_ns)
{
#ifdef __linux__
    struct timespec ts = {(time_t)(t_ns / 1000000000ull), (long)(t_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
#else
    uint64_t now = wl_clock_now_ns();
    if (t_ns > now)
        wl_clock_sleep_ns(t_ns - now);
#endif
}

char *wl_clock_format_iso8601(int64_t t_ns, char *buf, unsigned long size)
{
    time_t s = (time_t)(t_ns / 1000000000ll);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        if (size)
            buf[0] = '\0';
    }
    return buf;
}

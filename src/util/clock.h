/* Clock helpers. All durations inside wattlens are integer nanoseconds from
 * CLOCK_MONOTONIC (t_ns); wall-clock time is only used for run timestamps.
 * Stateless and thread-safe.
 */
#ifndef WL_UTIL_CLOCK_H
#define WL_UTIL_CLOCK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t wl_clock_now_ns(void);

/* Wall-clock time in nanoseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t wl_clock_realtime_ns(void);

/* CPU time consumed by this process (all threads), in nanoseconds. */
uint64_t wl_clock_process_cpu_ns(void);

/* CPU time consumed by the calling thread, in nanoseconds. */
uint64_t wl_clock_thread_cpu_ns(void);

/* Sleeps for dur_ns, resuming after signals. */
void wl_clock_sleep_ns(uint64_t dur_ns);

/* Sleeps for dur_ns unless *cancel becomes non-zero (checked at least every
 * 20 ms and after every signal; cancel may be NULL). Returns true when it
 * slept the whole time, false when cancelled. */
bool wl_clock_sleep_cancellable_ns(uint64_t dur_ns, const volatile sig_atomic_t *cancel);

/* Sleeps until the monotonic time t_ns (absolute); returns at once if past. */
void wl_clock_sleep_until_ns(uint64_t t_ns);

/* Formats t_ns since the epoch as ISO 8601 UTC ("2026-11-21T08:12:36Z") into
 * buf (size >= 21). Returns buf. */
char *wl_clock_format_iso8601(int64_t t_ns, char *buf, unsigned long size);

#endif

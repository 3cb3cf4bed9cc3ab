/* The one parser of /proc/PID/stat: the parent pid and CPU ticks the
 * CPU-time model sums (sensors/cpu_model.c), and the state and start time
 * by which the store tells whether a run's writer lives
 * (store/sqlite_liveness.c). In util so that
 * both layers share it without the store depending on the sensors. Pure: no
 * I/O, no state; thread-safe. The readers, the unit tests
 * (tests/unit/test_proc_stat.c) and tests/fuzz/fuzz_proc_stat.c call it.
 */
#ifndef WL_UTIL_PROC_STAT_H
#define WL_UTIL_PROC_STAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct wl__proc_stat {
    pid_t ppid;           /* field 4, 0..INT32_MAX */
    uint64_t cpu_ticks;   /* utime + stime + cutime + cstime (fields 14-17), clock ticks */
    uint64_t start_ticks; /* field 22: start time, clock ticks after boot; 0 without has_start */
    bool has_start;       /* false: the text ends before field 22 */
    char state;           /* field 3's first byte: 'R', 'S', ...; 'Z' zombie, 'X' or 'x' dead */
};

/* /proc/PID/stat (NUL-terminated text): "PID (COMM) STATE PPID ...". COMM
 * may hold any bytes, ')' and spaces included, so the fields are found
 * after the LAST ')'. From there each field is one or more spaces and then:
 * field 3 (state) any bytes but space and newline; every other field up
 * to 22 an integer, an optional '-' and decimal digits, ending at a space,
 * a newline or the end. A negative CPU time (the kernel writes one only for
 * cutime/cstime, and never in practice) counts as 0; ppid and the start
 * time are never negative, and ppid is at most INT32_MAX. Fields 5-13 and 18-21 are not used: only
 * their shape is checked. The text may end (NUL or newline, after spaces or not) anywhere after
 * field 17: has_start is then false; what follows field 22 is not read. 0; WL_EFORMAT for any other
 * shape; WL_ERANGE when ppid, a CPU time, their sum or the start time exceeds UINT64_MAX (an error
 * before it in the text wins). *out is untouched on error. */
int wl__proc_stat_parse(const char *s, struct wl__proc_stat *out);

#endif

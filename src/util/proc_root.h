/* Where this host's processes are read from: the /proc root that both the
 * sensors (the CPU-time model's /proc/PID/stat, cpuinfo) and the store (is
 * a run's writer alive, sqlite_liveness.c) use, so that one setting moves
 * both. In util so that the store does not depend on the sensors. Reads
 * the environment only; thread-safe while nothing sets it.
 */
#ifndef WL_UTIL_PROC_ROOT_H
#define WL_UTIL_PROC_ROOT_H

/* param when not NULL and not empty, else $WATTLENS_PROC_ROOT when set and
 * not empty, else "/proc". The string is param's, the environment's (valid
 * until it is changed) or a literal. */
const char *wl_proc_root(const char *param);

#endif

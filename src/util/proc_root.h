/* Where this host's processes are read from: the /proc root that both the
 * sensors (the CPU-time model's /proc/PID/stat, cpuinfo) and the store (is
 * a run's writer alive, sqlite_liveness.c) use, so that one setting moves
 * both; and the one rule every root override follows (wl_root_pick: the
 * sensors' sysfs and /dev roots too). In util so that the store does not
 * depend on the sensors. Reads the environment only; thread-safe while
 * nothing sets it.
 */
#ifndef WL_UTIL_PROC_ROOT_H
#define WL_UTIL_PROC_ROOT_H

/* param when not NULL and not empty, else $env when set and not empty,
 * else def. The string is param's, the environment's (valid until it is
 * changed) or def. */
const char *wl_root_pick(const char *param, const char *env, const char *def);

/* wl_root_pick(param, "WATTLENS_PROC_ROOT", "/proc"). */
const char *wl_proc_root(const char *param);

#endif

/* Where this host's processes are read from: the /proc root that both the
 * sensors (the CPU-time model's /proc/PID/stat, cpuinfo) and the store (is
 * a run's writer alive, sqlite_liveness.c) use, so that one setting moves
 * both; and the rules every root override follows (wl_root_pick: the
 * sensors' sysfs and /dev roots too; wl_root_beside: a machine's /proc and
 * /dev beside its given sysfs root). In util so that the store does not
 * depend on the sensors. Reads the environment only; thread-safe while
 * nothing sets it.
 */
#ifndef WL_UTIL_PROC_ROOT_H
#define WL_UTIL_PROC_ROOT_H

#include <stdbool.h>
#include <stddef.h>

/* param when not NULL and not empty, else $env when set and not empty,
 * else def. The string is param's, the environment's (valid until it is
 * changed) or def. */
const char *wl_root_pick(const char *param, const char *env, const char *def);

/* wl_root_pick(param, "WATTLENS_PROC_ROOT", "/proc"). */
const char *wl_proc_root(const char *param);

/* One root of a machine whose sysfs root may be given (a tree of another
 * machine, or a test's), into buf (size bytes): wl_root_pick(param, env,
 * NULL) when given; else, when sysfs_given is not NULL, the directory name
 * beside it ("<dir>/<name>" for "<dir>/sys" or "<dir>/sys/", "./<name>"
 * for a relative root without '/'), never the host's def, which is this
 * machine's; else def. *beside gets whether it is the one beside
 * sysfs_given (also on failure). Returns 0, or WL_ERANGE when it does not
 * fit (buf then ""). The sensors' /proc and /dev roots (sensor.c). */
int wl_root_beside(const char *param, const char *env, const char *def, const char *sysfs_given,
                   const char *name, char *buf, size_t size, bool *beside);

#endif

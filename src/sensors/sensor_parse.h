/* Pure parsers for the text the sensor backends read: a sysfs attribute
 * holding one counter (energy_uj, power1_input, ...), a powercap zone's
 * directory name, the model's watts from the environment, and the procfs
 * CPU-time files of the CPU-time model (/proc/stat,
 * /proc/PID/task/TID/children; /proc/PID/stat, which the store reads too,
 * is util/proc_stat.h's). Split out of the backends so that the
 * file readers and the fuzz target (tests/fuzz/fuzz_sensor_parse.c) call
 * the same code. No I/O, no state; thread-safe. Every parser leaves its
 * outputs untouched when it fails.
 */
#ifndef WL_SENSORS_SENSOR_PARSE_H
#define WL_SENSORS_SENSOR_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The n bytes at s as one unsigned decimal counter: optional spaces or tabs,
 * the digits, optional spaces or newlines, nothing else (no sign, no NUL).
 * 0, WL_EFORMAT, or WL_ERANGE when the digits exceed UINT64_MAX. */
int wl__sysfs_parse_u64(const char *s, size_t n, uint64_t *out);

/* A powercap zone directory name, "intel-rapl:N" (package N, *sub = -1) or
 * "intel-rapl:N:M" (subzone M of package N), N and M in 0..4096 written as
 * the kernel writes them (digits, no leading zero), so that an accepted
 * name is exactly "intel-rapl:%d[:%d]" of its numbers. 0 or WL_EFORMAT. */
int wl__powercap_parse_zone_id(const char *name, int *pkg, int *sub);

/* A power in watts from the environment (WATTLENS_MODEL_IDLE_W, ...): the
 * whole string a decimal number from 0 to WL_MODEL_MAX_W (sensor.h), read by
 * wl_parse_decimal (util/parse_num.h) as the CLI reads the same settings:
 * no blanks, '+', hex, NaN or infinities. 0 or WL_EFORMAT. */
int wl__sensor_parse_watts(const char *s, double *out);

/* The aggregate line of /proc/stat (NUL-terminated text, the file or its
 * first line): "cpu" and at least one space, then at least seven decimal
 * tick counts (user nice system idle iowait irq softirq [steal ...]).
 * *busy_ticks = user + nice + system + irq + softirq: the time this
 * machine's CPUs ran (guest time is inside user and nice already; steal,
 * the time a hypervisor ran another tenant, is not this machine's, and the
 * process scopes leave it out too). 0, WL_EFORMAT, or WL_ERANGE when a
 * count or the sum overflows. */
int wl__proc_parse_stat_cpu(const char *s, uint64_t *busy_ticks);

/* /proc/PID/task/TID/children (NUL-terminated text): process ids, each
 * 1..INT32_MAX, separated by spaces or newlines. Writes the first max of
 * them to pids and returns how many the text holds (more than max: the
 * rest did not fit), or WL_EFORMAT (pids then unspecified). */
int wl__proc_parse_pids(const char *s, pid_t *pids, size_t max);

#endif

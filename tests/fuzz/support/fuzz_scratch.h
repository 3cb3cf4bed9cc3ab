/* A scratch directory for the targets whose code under test reads files
 * (fuzz_cpuinfo, fuzz_cpu_ident, fuzz_rapl_perf): made once per process
 * under TMPDIR (else /tmp), and removed at its exit with every file and directory
 * written in it. Process-wide state, one directory per process; not
 * thread-safe. A failure traps, as a harness check does. Test-only code.
 */
#ifndef WL_FUZZ_SCRATCH_H
#define WL_FUZZ_SCRATCH_H

#include <stddef.h>

/* The scratch directory's path, "$TMPDIR/wl-fuzz-scratch.<prefix>.<pid>.XXXXXX"
 * (TMPDIR unset or empty: /tmp), made on the first call (later calls
 * return it, whatever their prefix). Valid until exit. An exit that skips
 * atexit (libFuzzer's crash, timeout and -max_total_time ends: _Exit)
 * leaves it: the pid in its name says whose it was. */
const char *wl_fuzz_scratch_dir(const char *prefix);

/* rel (a path under the scratch directory, made by wl_fuzz_scratch_dir
 * before) into buf (size bytes). */
void wl_fuzz_scratch_path(char *buf, size_t size, const char *rel);

/* Writes the len bytes at data as the file rel under the scratch
 * directory, making its missing parent directories. A new file each time:
 * ext4 writes a truncated and rewritten file out at its close
 * (auto_da_alloc), which made the runs wait. */
void wl_fuzz_scratch_write(const char *rel, const void *data, size_t len);

#endif

/* Test helpers that build a fake machine's static trees for the RAPL
 * readers: sys/, proc/ and dev/ under one folder, files with their parent
 * folders made, powercap zones, a four-CPU two-package topology and an
 * Intel cpuinfo. No writer, no timing (fake_powercap.h has the writer).
 * Test-only code; no state; failures are cmocka assertions.
 */
#ifndef WL_TEST_FAKE_MACHINE_H
#define WL_TEST_FAKE_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The max_energy_range_uj of every zone wl_test_put_zone makes. */
#define WL_TEST_ZONE_RANGE_UJ 262143328850ull

/* Writes text as root/rel, making rel's parent folders under root. */
void wl_test_put_file(const char *root, const char *rel, const char *text);

/* Makes the folder root/rel and its parents under root (root must exist);
 * those already there are left as they are. */
void wl_test_mkdirs(const char *root, const char *rel);

/* Makes root/sys, root/proc and root/dev; their paths in sys, proc and dev
 * (size bytes each). */
void wl_test_machine_dirs(const char *root, char *sys, char *proc, char *dev, size_t size);

/* Under sysfs/class/powercap: zone dir with its name, the range above and
 * energy in its energy_uj. */
void wl_test_put_zone(const char *sysfs, const char *dir, const char *name, uint64_t energy);
/* Writes text as the file of zone dir: sysfs/class/powercap/<dir>/<file>. */
void wl_test_put_zone_file(const char *sysfs, const char *dir, const char *file, const char *text);
/* wl_test_put_zone without the energy_uj file (its name and range only). */
void wl_test_put_zone_meta(const char *sysfs, const char *dir, const char *name);

/* Whether fd's file was removed or replaced since it was opened (its
 * /proc/self/fd link ends in " (deleted)"): for a test's own interposed
 * pread that fails such reads as a driver does (the interposer stays in the
 * test, so that it is linked into that test alone). */
bool wl_test_fd_is_deleted(int fd);

/* sysfs/devices/system/cpu: cpu0 and cpu1 on package 0, cpu2 and cpu3 on
 * package 1 (their topology/physical_package_id). */
void wl_test_put_two_packages(const char *sysfs);

/* proc/cpuinfo of one GenuineIntel family 6 CPU of the given model. */
void wl_test_put_intel_cpuinfo(const char *proc, int model);

#endif

/* Test helpers that build fake sysfs trees for the sensor and sampler
 * tests: a file's text rewritten in place (a sensor keeps its files open,
 * so they are never replaced or truncated) and a device folder
 * root/class/<cls>/<dir> with its name file. Test-only code; no state;
 * failures are cmocka assertions.
 */
#ifndef WL_TEST_SYSFS_TEXT_H
#define WL_TEST_SYSFS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Writes text over the start of path (created 0644 when missing) in one
 * write(), without truncating: a truncation can be read as an empty file
 * (a read gap). Callers keep the width fixed ("07000000\n"), so that
 * nothing of the old text is left behind. */
void wl_test_put_text(const char *path, const char *text);
/* A counter file's uj, so: 20 digits and a newline (a fixed width). */
void wl_test_put_uj(const char *path, uint64_t uj);

/* Makes root/class and root/class/<cls> (when missing) and the new folder
 * root/class/<cls>/<dir> (asserted not there before) with a file name
 * holding "<name>\n". */
void wl_test_make_class_device(const char *root, const char *cls, const char *dir,
                               const char *name);

/* An hwmon amd_energy device (domain package), root/class/hwmon/hwmon0 (new),
 * with one socket counter, Esocket0, reading uj (wl_test_put_uj); its
 * energy1_input's path goes to path (size bytes). */
void wl_test_make_energy_meter(const char *root, uint64_t uj, char *path, size_t size);

#endif

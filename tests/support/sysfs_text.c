/* Fake sysfs files and device folders for the sensor and sampler tests
 * (sysfs_text.h). Test-only code; no state.
 */
#include "sysfs_text.h"

#include "test_support.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void wl_test_put_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    const size_t n = strlen(text);
    assert_int_equal(pwrite(fd, text, n, 0), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

void wl_test_make_class_device(const char *root, const char *cls, const char *dir, const char *name)
{
    char path[2048], text[64];
    snprintf(path, sizeof path, "%s/class", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/class/%s", root, cls);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/class/%s/%s", root, cls, dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/class/%s/%s/name", root, cls, dir);
    snprintf(text, sizeof text, "%s\n", name);
    wl_test_put_text(path, text);
}

void wl_test_put_uj(const char *path, uint64_t uj)
{
    char text[32];
    snprintf(text, sizeof text, "%020llu\n", (unsigned long long)uj);
    wl_test_put_text(path, text);
}

void wl_test_make_energy_meter(const char *root, uint64_t uj, char *path, size_t size)
{
    wl_test_make_class_device(root, "hwmon", "hwmon0", "amd_energy");
    snprintf(path, size, "%s/class/hwmon/hwmon0/energy1_label", root);
    wl_test_put_text(path, "Esocket0\n");
    snprintf(path, size, "%s/class/hwmon/hwmon0/energy1_input", root);
    wl_test_put_uj(path, uj);
}

/* A fake machine's static trees; see fake_machine.h. */
#include "fake_machine.h"
#include "test_support.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void wl_test_put_file(const char *root, const char *rel, const char *text)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *c = path + strlen(root) + 1; *c; c++) {
        if (*c == '/') {
            *c = '\0';
            mkdir(path, 0755);
            *c = '/';
        }
    }
    assert_int_equal(wl_test_write_file(path, text, strlen(text)), 0);
}

void wl_test_mkdirs(const char *root, const char *rel)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *c = path + strlen(root) + 1; *c; c++) {
        if (*c == '/') {
            *c = '\0';
            mkdir(path, 0755);
            *c = '/';
        }
    }
    mkdir(path, 0755);
}

void wl_test_machine_dirs(const char *root, char *sys, char *proc, char *dev, size_t size)
{
    snprintf(sys, size, "%s/sys", root);
    snprintf(proc, size, "%s/proc", root);
    snprintf(dev, size, "%s/dev", root);
    mkdir(sys, 0755);
    mkdir(proc, 0755);
    mkdir(dev, 0755);
}

void wl_test_put_zone_file(const char *sysfs, const char *dir, const char *file, const char *text)
{
    char rel[512];
    snprintf(rel, sizeof rel, "class/powercap/%s/%s", dir, file);
    wl_test_put_file(sysfs, rel, text);
}

void wl_test_put_zone_meta(const char *sysfs, const char *dir, const char *name)
{
    char rel[512], text[64];
    snprintf(rel, sizeof rel, "class/powercap/%s/name", dir);
    snprintf(text, sizeof text, "%s\n", name);
    wl_test_put_file(sysfs, rel, text);
    snprintf(rel, sizeof rel, "class/powercap/%s/max_energy_range_uj", dir);
    snprintf(text, sizeof text, "%llu\n", WL_TEST_ZONE_RANGE_UJ);
    wl_test_put_file(sysfs, rel, text);
}

void wl_test_put_zone(const char *sysfs, const char *dir, const char *name, uint64_t energy)
{
    char rel[512], text[64];
    wl_test_put_zone_meta(sysfs, dir, name);
    snprintf(rel, sizeof rel, "class/powercap/%s/energy_uj", dir);
    snprintf(text, sizeof text, "%llu\n", (unsigned long long)energy);
    wl_test_put_file(sysfs, rel, text);
}

void wl_test_put_two_packages(const char *sysfs)
{
    for (int c = 0; c < 4; c++) {
        char rel[128];
        snprintf(rel, sizeof rel, "devices/system/cpu/cpu%d/topology/physical_package_id", c);
        wl_test_put_file(sysfs, rel, c < 2 ? "0\n" : "1\n");
    }
}

void wl_test_put_intel_cpuinfo(const char *proc, int model)
{
    char text[160];
    snprintf(text, sizeof text,
             "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: %d\n\n",
             model);
    wl_test_put_file(proc, "cpuinfo", text);
}

bool wl_test_fd_is_deleted(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t len = readlink(link, path, sizeof path - 1);
    if (len <= 10)
        return false;
    path[len] = '\0';
    return strcmp(path + len - 10, " (deleted)") == 0;
}

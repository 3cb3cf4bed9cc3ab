/* Fake MSR device files for tests; see fake_msr.h. */
#include "fake_msr.h"

#include "test_support.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

void wl_test_put_msr(const char *dev_root, int cpu, uint32_t reg, uint64_t v)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/cpu", dev_root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/cpu/%d", dev_root, cpu);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/cpu/%d/msr", dev_root, cpu);
    const int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &v, sizeof v, (off_t)reg), (ssize_t)sizeof v);
    close(fd);
}

void wl_test_put_machine_msr(const char *root, int cpu, uint32_t reg, uint64_t v)
{
    char dev[2048];
    snprintf(dev, sizeof dev, "%s/dev", root);
    wl_test_put_msr(dev, cpu, reg, v);
}

/* Fuzz target: the CPU number of a <sysfs>/devices/system/cpu (or
 * <dev>/cpu) entry, wl__sysfs_cpu_number (sensors/sensor_impl.h), by which
 * rapl-msr picks its cpuN directories. The input up to its first NUL byte
 * (at most 255 bytes: a directory entry's name) is the name. Checks,
 * trapping on failure, against the harness's own reading: the name is a
 * CPU's exactly when it is "cpu" and 1..6 ASCII digits, nothing else (no
 * sign, no blank, no other case); its number is those digits' value, else
 * -1.
 */
#include "sensors/sensor_impl.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    while (n < size && n < 255 && data[n] != 0)
        n++;
    /* an exact-size copy, so that ASan sees a read past the name */
    char *name = malloc(n + 1);
    CHECK(name != NULL);
    memcpy(name, data, n);
    name[n] = '\0';

    int want = -1;
    if (n >= 4 && n <= 9 && memcmp(name, "cpu", 3) == 0) {
        want = 0;
        for (size_t i = 3; i < n && want >= 0; i++)
            want = name[i] >= '0' && name[i] <= '9' ? want * 10 + (name[i] - '0') : -1;
    }
    CHECK(wl__sysfs_cpu_number(name) == want);
    free(name);
    return 0;
}

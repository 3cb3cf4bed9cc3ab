/* Fuzz target: the parsers of the perf_event power PMU's sysfs files
 * (sensors/rapl_perf.h): cpumask lists, events/<name> ("event=0xNN"),
 * <name>.scale and <name>.unit. The first byte picks the parser (and the
 * room for the CPU list); the rest is the file's text. Checks, trapping on
 * failure: a rejected input leaves the outputs untouched (the CPU list's
 * array excepted, as documented); an accepted CPU list has 1..max CPUs in
 * 0..65535 and, written back as the kernel writes it (ranges for runs),
 * parses to the same CPUs; an accepted config is at most 64 bits and
 * round-trips through "event=0x%llx"; an accepted scale is finite, in
 * (0, 1], and round-trips through "%.17g"; only "Joules" is a unit.
 */
#include "sensors/rapl_perf.h"

#include "wattlens/error.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static void check_cpulist(const char *s, unsigned max)
{
    int cpus[WL_PERF_MAX_CPUS];
    int n = wl__perf_parse_cpulist(s, cpus, max);
    if (n < 0) {
        CHECK(n == WL_EFORMAT);
        return;
    }
    CHECK(n >= 1 && (unsigned)n <= max);
    /* written back: runs of consecutive CPUs as ranges */
    char text[WL_PERF_MAX_CPUS * 14 + 1];
    size_t len = 0;
    for (int i = 0; i < n;) {
        CHECK(cpus[i] >= 0 && cpus[i] <= 65535);
        int j = i;
        while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
            j++;
        if (j > i)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%d-%d", i ? "," : "", cpus[i],
                                    cpus[j]);
        else
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%d", i ? "," : "", cpus[i]);
        i = j + 1;
    }
    int again[WL_PERF_MAX_CPUS];
    CHECK(wl__perf_parse_cpulist(text, again, max) == n);
    CHECK(memcmp(again, cpus, (size_t)n * sizeof cpus[0]) == 0);
}

static void check_event(const char *s)
{
    uint64_t cfg = 0x5eed;
    if (wl__perf_parse_event(s, &cfg) != 0) {
        CHECK(cfg == 0x5eed);
        return;
    }
    char text[64];
    snprintf(text, sizeof text, "event=0x%" PRIx64, cfg);
    uint64_t again = 0;
    CHECK(wl__perf_parse_event(text, &again) == 0 && again == cfg);
}

static void check_scale(const char *s)
{
    double v = -1.0;
    if (wl__perf_parse_scale(s, &v) != 0) {
        CHECK(v == -1.0);
        return;
    }
    CHECK(isfinite(v) && v > 0 && v <= 1);
    /* the conversion the backend makes of a count to microjoules stays
     * finite for any 64-bit count */
    CHECK(isfinite((double)UINT64_MAX * v * 1e6));
    char text[64];
    snprintf(text, sizeof text, "%.17g", v);
    double again = -1.0;
    CHECK(wl__perf_parse_scale(text, &again) == 0 && again == v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = data[0] & 3, max = (unsigned)(data[0] >> 2) % WL_PERF_MAX_CPUS + 1;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (mode) {
    case 0:
        check_cpulist(s, max);
        break;
    case 1:
        check_event(s);
        break;
    case 2:
        check_scale(s);
        break;
    default:
        CHECK((wl__perf_parse_unit(s) == 0) == (strcmp(s, "Joules") == 0));
        break;
    }
    free(s);
    return 0;
}

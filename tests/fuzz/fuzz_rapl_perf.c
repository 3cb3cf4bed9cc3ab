/* Fuzz target: the parsers of the perf_event power PMU's sysfs files
 * (sensors/rapl_perf.h): cpumask lists, events/<name> ("event=0xNN"),
 * <name>.scale and <name>.unit. The first byte picks the parser (and the
 * room for the CPU list); the rest is the file's text. Checks, trapping on
 * failure: a rejected input leaves the outputs untouched (the CPU list's
 * array excepted, as documented); an accepted CPU list has 1..max CPUs in
 * 0..65535 and, written back as the kernel writes it (ranges for runs),
 * parses to the same CPUs; an accepted config is at most 64 bits and
 * round-trips through "event=0x%llx"; an accepted scale is finite, in
 * (0, 1], and round-trips through "%.17g".
 * The unit goes through the backend's whole reading path: the text is
 * written as events/energy-pkg.unit of a scratch PMU directory whose other
 * files are valid, read by wl__perf_pmu_scan (wl__read_text, then
 * wl__perf_parse_unit). The PMU is accepted, with its one event as the
 * other files say, exactly when the harness's own reading of the file is
 * "Joules": its first 255 bytes (the scan's buffer) less trailing newlines
 * and blanks, as sysfs text is read, then up to a NUL ("Joules\n", the
 * kernel's, is a unit; "joules" is not); else it is WL_EFORMAT naming the
 * .unit file. Literal cases are checked once per process.
 */
#include "sensors/rapl_perf.h"

#include "wattlens/error.h"

#include "fuzz_scratch.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
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

/* A scratch PMU directory (energy-pkg, event 0x2, scale 2^-32 J on CPU 0),
 * made once per process and removed at its exit; the unit file is written
 * for each input. */
static const char *make_pmu(void)
{
    static const char *pmu_dir;
    if (pmu_dir)
        return pmu_dir;
    pmu_dir = wl_fuzz_scratch_dir("fuzz_rapl_perf");
    wl_fuzz_scratch_write("type", "9\n", 2);
    wl_fuzz_scratch_write("cpumask", "0\n", 2);
    wl_fuzz_scratch_write("events/energy-pkg", "event=0x02\n", 11);
    wl_fuzz_scratch_write("events/energy-pkg.scale", "2.3283064365386962890625e-10\n", 29);
    return pmu_dir;
}

/* The harness's reading of a unit file's text: the scan's 255 bytes less
 * trailing newlines and blanks (the bytes read: a NUL stops nothing), then
 * as a C string, up to a NUL; true when that is "Joules". */
static bool is_joules(const char *text, size_t len)
{
    if (len > 255)
        len = 255;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    const char *nul = memchr(text, '\0', len);
    if (nul)
        len = (size_t)(nul - text);
    return len == 6 && memcmp(text, "Joules", 6) == 0;
}

/* The PMU with text as the unit: accepted exactly when it is Joules. */
static void check_unit(const char *text, size_t len)
{
    const char *pmu_dir = make_pmu();
    wl_fuzz_scratch_write("events/energy-pkg.unit", text, len);
    struct wl_perf_pmu pmu;
    struct wl_errmsg err = {{0}};
    const int rc = wl__perf_pmu_scan(pmu_dir, &pmu, &err);
    if (!is_joules(text, len)) {
        CHECK(rc == WL_EFORMAT && strstr(err.text, "energy-pkg.unit") != NULL);
        return;
    }
    CHECK(rc == 0 && pmu.type == 9 && pmu.n_cpus == 1 && pmu.cpus[0] == 0);
    CHECK(pmu.n_events == 1 && strcmp(pmu.ev[0].name, "energy-pkg") == 0);
    CHECK(pmu.ev[0].domain == WL_DOMAIN_PACKAGE && pmu.ev[0].config == 2);
    CHECK(pmu.ev[0].scale_j == 0x1p-32);
}

/* Literal unit files, whatever the fuzzer sends: the kernel's text, and
 * ones a sloppy reading would take. */
static void check_unit_literals(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    static const struct {
        const char *text;
        size_t len;
        bool unit;
    } cases[] = {
        {"Joules\n", 7, true},
        {"Joules", 6, true},
        {"Joules \n\n", 9, true},
        {"Joules\0x", 8, true},
        {"joules\n", 7, false},
        {" Joules\n", 8, false},
        {"Joule\n", 6, false},
        {"Joulesx", 7, false},
        {"Joules\nx", 8, false},
        {"Joules\t", 7, false},
        {"", 0, false},
        {"\n", 1, false},
        {"Watts\n", 6, false},
        {"\0Joules", 7, false},
        {"Joules\n\0\n", 9, false}, /* trimmed at the end only: "Joules\n" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(is_joules(cases[i].text, cases[i].len) == cases[i].unit);
        check_unit(cases[i].text, cases[i].len);
    }
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
        check_unit_literals();
        check_unit((const char *)data + 1, size - 1);
        break;
    }
    free(s);
    return 0;
}

/* Fuzz target: the sensor layer's text parsers (sensors/sensor_parse.h):
 * sysfs counters, powercap zone names, watts from the environment, and the
 * CPU-time model's /proc/stat and children lists (/proc/PID/stat is
 * util/proc_stat.h's, fuzzed by fuzz_proc_stat). The first byte picks the
 * parser (its value mod 6):
 *   0 counter, 1 zone name, 2 watts, 3 /proc/stat, 4 /proc/stat built,
 *   5 children list;
 * the rest is its text (as raw bytes for the counter, NUL-terminated for
 * the others), or, in the "built" mode, numbers that the harness writes in
 * the kernel's format so the parse can be checked against what was
 * written. Checks, trapping on failure: a rejected input leaves the outputs
 * untouched; an accepted one is canonical where the format is (the zone
 * name is exactly "intel-rapl:%d[:%d]"; watts are accepted exactly when
 * they are a decimal number in 0..10000, as the CLI's options take them),
 * its numbers round-trip through the
 * kernel's format, and the built lines parse to exactly the numbers written
 * in them (WL_ERANGE exactly when their sum overflows).
 */
#include "sensors/sensor.h"
#include "sensors/sensor_parse.h"
#include "util/parse_num.h"

#include "wattlens/error.h"

#include "fuzz_input.h"

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

static const uint64_t SENTINEL = 0x5eed5eed5eed5eedull;

static void check_u64(const char *s, size_t n)
{
    uint64_t v = SENTINEL;
    int rc = wl__sysfs_parse_u64(s, n, &v);
    if (rc != 0) {
        CHECK(rc == WL_EFORMAT || rc == WL_ERANGE);
        CHECK(v == SENTINEL);
        return;
    }
    /* the digits, without the white space around them and leading zeros,
     * are the value as the kernel prints it */
    size_t a = 0, b = n;
    while (a < n && (s[a] == ' ' || s[a] == '\t'))
        a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\n'))
        b--;
    while (b - a > 1 && s[a] == '0')
        a++;
    char text[32];
    int len = snprintf(text, sizeof text, "%" PRIu64, v);
    CHECK((size_t)len == b - a && memcmp(text, s + a, b - a) == 0);
    uint64_t again = 0;
    CHECK(wl__sysfs_parse_u64(text, (size_t)len, &again) == 0 && again == v);
}

static void check_zone_id(const char *s)
{
    int pkg = -7, sub = -7;
    if (wl__powercap_parse_zone_id(s, &pkg, &sub) != 0) {
        CHECK(pkg == -7 && sub == -7);
        return;
    }
    CHECK(pkg >= 0 && pkg <= 4096 && sub >= -1 && sub <= 4096);
    char text[64];
    if (sub < 0)
        snprintf(text, sizeof text, "intel-rapl:%d", pkg);
    else
        snprintf(text, sizeof text, "intel-rapl:%d:%d", pkg, sub);
    CHECK(strcmp(text, s) == 0);
}

static void check_watts(const char *s)
{
    /* accepted exactly when the CLI's --model-idle-w would take it: the
     * same decimal parser and bound (fuzz_cli_args checks that parser
     * against a scanner of its own) */
    double mine = NAN;
    const bool fits = wl_parse_decimal(s, 0.0, WL_MODEL_MAX_W, &mine) == 0;
    double w = -1.0;
    if (wl__sensor_parse_watts(s, &w) != 0) {
        CHECK(w == -1.0);
        CHECK(!fits);
        return;
    }
    CHECK(fits && w == mine);
    char text[64];
    snprintf(text, sizeof text, "%.17g", w);
    double again = -1.0;
    CHECK(wl__sensor_parse_watts(text, &again) == 0 && again == w);
}

static void check_stat_cpu(const char *s)
{
    uint64_t busy = SENTINEL;
    int rc = wl__proc_parse_stat_cpu(s, &busy);
    if (rc != 0) {
        CHECK(rc == WL_EFORMAT || rc == WL_ERANGE);
        CHECK(busy == SENTINEL);
        return;
    }
    char text[128];
    snprintf(text, sizeof text, "cpu  %" PRIu64 " 0 0 7 7 0 0 0 0 0\ncpu0 1 1 1 1 1 1 1\n", busy);
    uint64_t again = 0;
    CHECK(wl__proc_parse_stat_cpu(text, &again) == 0 && again == busy);
}

/* /proc/stat written from eight fuzzed counts: parses to their busy sum,
 * or WL_ERANGE exactly when that sum overflows. */
static void check_stat_cpu_built(const uint8_t *data, size_t n_data)
{
    struct wl_fuzz_input in = {data, n_data};
    uint64_t v[8];
    for (int i = 0; i < 8; i++)
        v[i] = wl_fuzz_take_u64(&in);
    unsigned n_fields = 7 + (in.n > 0 && (in.p[0] & 1)); /* steal present or not */
    char text[400];
    int len = snprintf(text, sizeof text, "cpu ");
    for (unsigned i = 0; i < n_fields; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, " %" PRIu64, v[i]);
    snprintf(text + len, sizeof text - (size_t)len, " 0 0\n");
    uint64_t want = 0;
    bool over = false;
    const unsigned busy[] = {0, 1, 2, 5, 6, 7};
    for (int i = 0; i < 6; i++)
        if (busy[i] < n_fields)
            over |= __builtin_add_overflow(want, v[busy[i]], &want);
    uint64_t got = SENTINEL;
    int rc = wl__proc_parse_stat_cpu(text, &got);
    CHECK(over ? rc == WL_ERANGE && got == SENTINEL : rc == 0 && got == want);
}

static void check_pids(const char *s)
{
    pid_t all[64], few[4];
    int n = wl__proc_parse_pids(s, all, 64);
    if (n < 0) {
        CHECK(n == WL_EFORMAT);
        CHECK(wl__proc_parse_pids(s, few, 4) == WL_EFORMAT);
        return;
    }
    /* the count does not depend on the room; what fits is the same prefix */
    CHECK(wl__proc_parse_pids(s, few, 4) == n);
    for (int i = 0; i < n && i < 4; i++)
        CHECK(few[i] == all[i]);
    if (n > 64)
        return;
    char text[64 * 12 + 1];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        CHECK(all[i] > 0);
        len += (size_t)snprintf(text + len, sizeof text - len, "%d ", (int)all[i]);
    }
    text[len] = '\0';
    pid_t again[64];
    CHECK(wl__proc_parse_pids(text, again, 64) == n);
    CHECK(n == 0 || memcmp(again, all, (size_t)n * sizeof all[0]) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = data[0] % 6;
    data++;
    size--;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    switch (mode) {
    case 0:
        check_u64(s, size);
        break;
    case 1:
        check_zone_id(s);
        break;
    case 2:
        check_watts(s);
        break;
    case 3:
        check_stat_cpu(s);
        break;
    case 4:
        check_stat_cpu_built(data, size);
        break;
    default:
        check_pids(s);
        break;
    }
    free(s);
    return 0;
}

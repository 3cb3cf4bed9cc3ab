/* Fuzz target: what the RAPL backends read of the CPU (sensors/sensor_impl.h),
 * which picks the energy unit of each domain by model (DRAM in 15.3 uJ,
 * psys in 1 J, or not read on an unknown model): a misreading would give a
 * wrong unit silently.
 *   byte 0 bit 0 clear: the rest is <proc>/cpuinfo, read by
 *     wl__cpu_ident_read (rapl-msr, rapl-perf);
 *   byte 0 bit 0 set: the rest is <sysfs>/devices/system/cpu/modalias,
 *     read by wl__cpu_ident_modalias (rapl-powercap).
 * Both read files (the functions take roots), so the text is written to a
 * scratch tree made once per process; a new file each time.
 * Checks, trapping on failure, against the harness's own reading:
 * - cpuinfo: the first CPU's block is the lines up to the first empty line
 *   after a non-empty one; a line is read as its first 255 bytes (the rest
 *   of a longer one, such as flags, is never taken for a line of its own);
 *   a line is "KEY", blanks, ':' for the keys vendor_id, "cpu family" and
 *   model ("model name" is not model); a vendor_id line naming
 *   GenuineIntel is Intel, AuthenticAMD or HygonGenuine AMD (a later such
 *   line wins); a number is the digits after the ':' and its blanks, read
 *   until the value reaches 100000 (-1 without a digit); the last such line
 *   wins; absent ones leave OTHER and -1. A NUL byte ends a line's text
 *   (what is read of it is the bytes before it) but not the line: the next
 *   line is still read as one (until session 34 the reader took it for the
 *   rest of the line before, and skipped it). procfs text holds no NUL; a
 *   test tree or a damaged file may.
 * - modalias: it parses exactly when its first 63 bytes (the reader's
 *   buffer) begin "cpu:type:x86,venVVVVfamFFFFmodMMMM" with hex digits of
 *   either case; then family and model written back with %04X are those
 *   digits (uppercased), and the vendor is Intel for 0000, AMD for 0002 and
 *   0009 (Hygon), else OTHER; otherwise WL_EFORMAT with OTHER and -1.
 */
#include "sensors/sensor_impl.h"

#include "wattlens/error.h"

#include "fuzz_scratch.h"

#include <ctype.h>
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

/* <root>/cpuinfo and <root>/sys/devices/system/cpu/modalias, root the
 * scratch directory */
static const char *root(void)
{
    return wl_fuzz_scratch_dir("fuzz_cpu_ident");
}

/* line (n bytes, no newline) is key, blanks, ':'; *value then just after
 * the ':'. */
static bool keyed(const char *line, size_t n, const char *key, size_t *value)
{
    const size_t k = strlen(key);
    if (n < k || memcmp(line, key, k) != 0)
        return false;
    size_t i = k;
    while (i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= n || line[i] != ':')
        return false;
    *value = i + 1;
    return true;
}

/* The number after the ':' of a line (from byte v): -1 without a digit. */
static int number(const char *line, size_t n, size_t v)
{
    while (v < n && (line[v] == ' ' || line[v] == '\t'))
        v++;
    if (v >= n || !isdigit((unsigned char)line[v]))
        return -1;
    long x = 0;
    while (v < n && isdigit((unsigned char)line[v]) && x < 100000)
        x = x * 10 + (line[v++] - '0');
    return (int)x;
}

static bool contains(const char *s, size_t n, const char *word)
{
    const size_t k = strlen(word);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, word, k) == 0)
            return true;
    return false;
}

static void expected_cpuinfo(const char *text, size_t len, struct wl__cpu_ident *want)
{
    want->vendor = WL__CPU_OTHER;
    want->family = want->model = -1;
    bool in_block = false;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        const size_t whole = e - i; /* the line without its newline */
        const char *line = text + i;
        /* a longer line is its first 255 bytes, and those up to a NUL */
        size_t n = whole < 255 ? whole : 255;
        const char *nul = memchr(line, '\0', n);
        if (nul)
            n = (size_t)(nul - line);
        i = e + 1;
        if (whole == 0) {
            if (in_block)
                return;
            continue;
        }
        in_block = true;
        size_t v;
        if (keyed(line, n, "vendor_id", &v)) {
            if (contains(line, n, "GenuineIntel"))
                want->vendor = WL__CPU_INTEL;
            else if (contains(line, n, "AuthenticAMD") || contains(line, n, "HygonGenuine"))
                want->vendor = WL__CPU_AMD;
        } else if (keyed(line, n, "cpu family", &v)) {
            want->family = number(line, n, v);
        } else if (keyed(line, n, "model", &v)) {
            want->model = number(line, n, v);
        }
    }
}

static void check_cpuinfo(const uint8_t *data, size_t len)
{
    root();
    wl_fuzz_scratch_write("cpuinfo", data, len);
    struct wl__cpu_ident got;
    CHECK(wl__cpu_ident_read(root(), &got) == 0);
    struct wl__cpu_ident want;
    expected_cpuinfo((const char *)data, len, &want);
    CHECK(got.vendor == want.vendor && got.family == want.family && got.model == want.model);
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return -1;
        v = v * 16 + (isdigit((unsigned char)s[i]) ? s[i] - '0' : toupper(s[i]) - 'A' + 10);
    }
    return v;
}

static void check_modalias(const uint8_t *data, size_t len)
{
    char sysfs[4200];
    snprintf(sysfs, sizeof sysfs, "%s/sys", root());
    wl_fuzz_scratch_write("sys/devices/system/cpu/modalias", data, len);
    struct wl__cpu_ident got;
    const int rc = wl__cpu_ident_modalias(sysfs, &got);
    /* the reader's 63 bytes, up to a NUL */
    char text[64] = {0};
    memcpy(text, data, len < 63 ? len : 63);
    const int ven = hex4(text + 16), fam = hex4(text + 23), mod = hex4(text + 30);
    const bool match = strncmp(text, "cpu:type:x86,ven", 16) == 0 && ven >= 0 &&
                       strncmp(text + 20, "fam", 3) == 0 && fam >= 0 &&
                       strncmp(text + 27, "mod", 3) == 0 && mod >= 0;
    if (!match) {
        CHECK(rc == WL_EFORMAT && got.vendor == WL__CPU_OTHER && got.family == -1 &&
              got.model == -1);
        return;
    }
    CHECK(rc == 0);
    CHECK(got.vendor == (ven == 0               ? WL__CPU_INTEL
                         : ven == 2 || ven == 9 ? WL__CPU_AMD
                                                : WL__CPU_OTHER));
    char back[16], digits[16];
    snprintf(back, sizeof back, "%04X%04X", (unsigned)got.family, (unsigned)got.model);
    for (int i = 0; i < 4; i++) {
        digits[i] = (char)toupper((unsigned char)text[23 + i]);
        digits[4 + i] = (char)toupper((unsigned char)text[30 + i]);
    }
    digits[8] = '\0';
    CHECK(strcmp(back, digits) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        check_modalias(data + 1, size - 1);
    else
        check_cpuinfo(data + 1, size - 1);
    return 0;
}

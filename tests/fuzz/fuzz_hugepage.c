/* Fuzz target: the /proc/self/smaps and /proc/meminfo parsers behind the
 * huge-page accounting (util/hugepage.h). The first byte picks the mode
 * (its low two bits) and, for smaps text, the address looked up (the next
 * three bits: 0x1000, 0x1fff, 0x2000, 0, 0x55632086d000, 0x7f3a9f400000,
 * 0xffffffffff600000, UINTPTR_MAX); the rest is the text, or, in the two
 * "built" modes,
 * numbers the harness writes in the kernel's format:
 *   0 meminfo text, 1 meminfo built, 2 smaps text, 3 smaps built.
 * Checks, trapping on failure: a rejected text leaves the outputs untouched
 * and says why with one of the documented codes; an accepted meminfo value
 * is the digits of the first "FileHugePages:" line (leading zeros aside)
 * times 1024, and "no such field" means no line starts with it; accepted
 * numbers round-trip through the kernel's format; built texts parse to
 * exactly the numbers written in them (for smaps, those of the first
 * mapping holding the address, whichever order the lines come in), and
 * WL_ERANGE comes exactly when their bytes, or the huge-page sum, overflow.
 */
#include "util/hugepage.h"

#include "wattlens/error.h"

#include "fuzz_input.h"

#include <inttypes.h>
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

/* A fuzzed count in kB: small, near the limit or anything, by its top bits. */
static uint64_t take_kib(struct wl_fuzz_input *in)
{
    uint8_t shape = wl_fuzz_take_u8(in);
    uint64_t v = wl_fuzz_take_u64(in);
    switch (shape & 3) {
    case 0:
        return v >> (shape >> 2); /* any size */
    case 1:
        return UINT64_MAX / 1024 - 2 + (v & 3); /* both sides of the limit */
    case 2:
        return v & 0xffff;
    default:
        return v;
    }
}

static void check_meminfo(const char *s, size_t n)
{
    uint64_t b = SENTINEL;
    int rc = wl__hugepage_parse_meminfo(s, n, &b);
    /* the first line starting "FileHugePages:" (the harness's own search) */
    static const char key[] = "FileHugePages:";
    const char *line = NULL, *p = s, *end = s + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if ((size_t)(e - p) >= sizeof key - 1 && memcmp(p, key, sizeof key - 1) == 0) {
            line = p;
            end = e;
            break;
        }
        p = e + 1;
    }
    if (rc != 0) {
        CHECK(b == SENTINEL);
        CHECK(rc == WL_ENOTSUP || rc == WL_EFORMAT || rc == WL_ERANGE);
        CHECK((rc == WL_ENOTSUP) == (line == NULL));
        return;
    }
    CHECK(line != NULL && b % 1024 == 0);
    /* its digits, without the leading zeros, are the value as the kernel
     * prints it */
    const char *a = line + sizeof key - 1;
    while (a < end && (*a == ' ' || *a == '\t'))
        a++;
    const char *z = a;
    while (z < end && *z >= '0' && *z <= '9')
        z++;
    while (z - a > 1 && *a == '0')
        a++;
    char text[64];
    int len = snprintf(text, sizeof text, "%" PRIu64, b / 1024);
    CHECK(len == z - a && memcmp(text, a, (size_t)len) == 0);
    len =
        snprintf(text, sizeof text, "MemTotal: 1 kB\nFileHugePages:  %8" PRIu64 " kB\n", b / 1024);
    uint64_t again = 0;
    CHECK(wl__hugepage_parse_meminfo(text, (size_t)len, &again) == 0 && again == b);
}

/* /proc/meminfo written from fuzzed counts: the FileHugePages line among
 * others, with or without a newline at the end. */
static void check_meminfo_built(const uint8_t *data, size_t n_data)
{
    struct wl_fuzz_input in = {data, n_data};
    static const char *const keys[] = {
        "MemTotal:", "FileHugePages:", "ShmemHugePages:", "FilePmdMapped:", "Hugepagesize:"};
    uint8_t layout = wl_fuzz_take_u8(&in);
    char text[512];
    size_t len = 0;
    uint64_t want = 0;
    bool have = false;
    for (int i = 0; i < 5; i++) {
        uint64_t kib = take_kib(&in);
        const char *k = keys[(i + layout) % 5];
        len += (size_t)snprintf(text + len, sizeof text - len, "%-15s%*" PRIu64 "%s kB\n", k,
                                (layout & 8) ? 1 : 9, kib, (layout & 16) ? "\t" : "");
        if (!have && strcmp(k, "FileHugePages:") == 0) {
            want = kib;
            have = true;
        }
    }
    if (layout & 32)
        len--; /* no newline at the end */
    uint64_t got = SENTINEL;
    int rc = wl__hugepage_parse_meminfo(text, len, &got);
    if (want > UINT64_MAX / 1024)
        CHECK(rc == WL_ERANGE && got == SENTINEL);
    else
        CHECK(rc == 0 && got == want * 1024);
}

static void check_smaps(const char *s, size_t n, uintptr_t addr)
{
    uint64_t rss = SENTINEL, huge = SENTINEL;
    int rc = wl__hugepage_parse_smaps(s, n, addr, &rss, &huge);
    if (rc != 0) {
        CHECK(rc == WL_ENOENT || rc == WL_EFORMAT || rc == WL_ERANGE);
        CHECK(rss == SENTINEL && huge == SENTINEL);
        return;
    }
    CHECK(rss % 1024 == 0 && huge % 1024 == 0);
    /* both round-trip written back as a mapping's block */
    char text[256];
    int len = snprintf(text, sizeof text,
                       "%" PRIxPTR "-%" PRIxPTR " rw-p 00000000 00:00 0 \n"
                       "Rss:            %8" PRIu64 " kB\nAnonHugePages:  %8" PRIu64 " kB\n",
                       addr, addr + 1, rss / 1024, huge / 1024);
    uint64_t r2 = 0, h2 = 0;
    if (addr != UINTPTR_MAX) /* addr + 1 is not an end there */
        CHECK(wl__hugepage_parse_smaps(text, (size_t)len, addr, &r2, &h2) == 0 && r2 == rss &&
              h2 == huge);
}

#define MAX_MAPPINGS 4

/* /proc/self/smaps written from fuzzed mappings (ranges may overlap) and
 * counts, each block's lines in a fuzzed order, some of them left out. */
static void check_smaps_built(const uint8_t *data, size_t n_data)
{
    struct wl_fuzz_input in = {data, n_data};
    static const char *const keys[] = {
        "Rss:", "AnonHugePages:", "FilePmdMapped:", "ShmemPmdMapped:", "Size:", "Pss:"};
    uint8_t head = wl_fuzz_take_u8(&in);
    size_t n_map = 1 + head % MAX_MAPPINGS, target = (head >> 2) % n_map;
    uintptr_t lo[MAX_MAPPINGS], hi[MAX_MAPPINGS];
    uint64_t kib[MAX_MAPPINGS][6];
    bool present[MAX_MAPPINGS][6];
    char *text = malloc(4096);
    if (!text)
        return;
    size_t len = 0;
    for (size_t m = 0; m < n_map; m++) {
        lo[m] = (uintptr_t)wl_fuzz_take_u64(&in);
        uintptr_t size = (uintptr_t)wl_fuzz_take_u64(&in) >> (wl_fuzz_take_u8(&in) % 64);
        if (size == 0)
            size = 1;
        hi[m] = lo[m] + size < lo[m] ? UINTPTR_MAX : lo[m] + size;
        if (lo[m] == hi[m])
            lo[m]--;
        uint8_t order = wl_fuzz_take_u8(&in), absent = wl_fuzz_take_u8(&in);
        len += (size_t)snprintf(text + len, 4096 - len,
                                "%" PRIxPTR "-%" PRIxPTR " r--p 00000000 fe:00 42 /m%zu\n", lo[m],
                                hi[m], m);
        for (int i = 0; i < 6; i++) {
            int k = (i + order) % 6;
            kib[m][k] = take_kib(&in);
            present[m][k] = !(absent >> k & 1);
            if (present[m][k])
                len += (size_t)snprintf(text + len, 4096 - len, "%-16s%8" PRIu64 " kB\n", keys[k],
                                        kib[m][k]);
        }
        len += (size_t)snprintf(text + len, 4096 - len, "THPeligible:    %d\nVmFlags: rd mr \n",
                                (int)(order & 1));
    }
    uintptr_t span = hi[target] - lo[target];
    uintptr_t addr = lo[target] + (uintptr_t)wl_fuzz_take_u64(&in) % span;
    size_t first = 0;
    while (!(addr >= lo[first] && addr < hi[first]))
        first++;
    bool over = false;
    uint64_t want_rss = 0, want_huge = 0;
    if (present[first][0]) {
        over |= kib[first][0] > UINT64_MAX / 1024;
        want_rss = kib[first][0] * 1024;
    }
    for (int k = 1; k <= 3; k++) {
        if (!present[first][k])
            continue;
        over |= kib[first][k] > UINT64_MAX / 1024 ||
                __builtin_add_overflow(want_huge, kib[first][k] * 1024, &want_huge);
    }
    uint64_t rss = SENTINEL, huge = SENTINEL;
    int rc = wl__hugepage_parse_smaps(text, len, addr, &rss, &huge);
    if (over)
        CHECK(rc == WL_ERANGE && rss == SENTINEL && huge == SENTINEL);
    else
        CHECK(rc == 0 && rss == want_rss && huge == want_huge);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uintptr_t addrs[8] = {0x1000,
                                       0x1fff,
                                       0x2000,
                                       0,
                                       (uintptr_t)0x55632086d000ull,
                                       (uintptr_t)0x7f3a9f400000ull,
                                       (uintptr_t)0xffffffffff600000ull,
                                       UINTPTR_MAX};
    if (size == 0)
        return 0;
    unsigned mode = data[0] & 3;
    uintptr_t addr = addrs[(data[0] >> 2) & 7];
    data++;
    size--;
    /* an exact-size copy, so that a read past the end is caught */
    char *s = malloc(size ? size : 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    switch (mode) {
    case 0:
        check_meminfo(s, size);
        break;
    case 1:
        check_meminfo_built(data, size);
        break;
    case 2:
        check_smaps(s, size, addr);
        break;
    default:
        check_smaps_built(data, size);
        break;
    }
    free(s);
    return 0;
}

/* Huge-page advice and accounting; see hugepage.h. The readers take the
 * whole /proc file into memory and hand it to the parsers, which read
 * numbers digit by digit: sscanf accepted a sign ("-1" became 2^64 - 1),
 * overflowed with undefined behaviour, and a reader of fixed-size lines
 * (fgets) took the rest of a long line for a line of its own. */
#define _GNU_SOURCE
#include "util/hugepage.h"

#include "util/parse_num.h"
#include "util/read_all.h"

#include "wattlens/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void wl_hugepage_advise(void *addr, size_t len)
{
#if defined(MADV_HUGEPAGE)
    if (addr && len)
        (void)madvise(addr, len, MADV_HUGEPAGE);
#else
    (void)addr;
    (void)len;
#endif
}

/* One line of text: [p, end), without its newline. */
struct line {
    const char *p, *end;
};

/* The line starting at *pos (before end), advancing *pos past its newline. */
static struct line next_line(const char **pos, const char *end)
{
    struct line l = {*pos, end};
    const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
    if (nl)
        l.end = nl;
    *pos = nl ? nl + 1 : end;
    return l;
}

static bool starts_with(struct line l, const char *key)
{
    size_t n = strlen(key);
    return (size_t)(l.end - l.p) >= n && memcmp(l.p, key, n) == 0;
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p != end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* The rest of a counted line after its "Key:" (blanks, digits, blanks,
 * "kB", blanks) as bytes: 0, WL_EFORMAT or WL_ERANGE. */
static int counted_bytes(const char *p, const char *end, uint64_t *bytes)
{
    p = skip_blanks(p, end);
    uint64_t kib = 0;
    const int rc = wl_parse_u64_digits(&p, end, &kib);
    if (rc == WL_EFORMAT)
        return rc;
    const bool over = rc == WL_ERANGE;
    p = skip_blanks(p, end);
    if (end - p < 2 || p[0] != 'k' || p[1] != 'B' || skip_blanks(p + 2, end) != end)
        return WL_EFORMAT;
    if (over || kib > UINT64_MAX / 1024)
        return WL_ERANGE;
    *bytes = kib * 1024;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Lowercase hex digits at *p (at least one, at most a pointer's width). */
static bool hex_address(const char **p, const char *end, uintptr_t *out)
{
    const char *s = *p;
    uintptr_t v = 0;
    size_t n = 0;
    for (; s != end && hex_digit(*s) >= 0; s++, n++) {
        if (n == 2 * sizeof v)
            return false;
        v = v << 4 | (uintptr_t)hex_digit(*s);
    }
    if (n == 0)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* A mapping's header, "lo-hi" then a space (or the end of the line). */
static bool smaps_header(struct line l, uintptr_t *lo, uintptr_t *hi)
{
    const char *p = l.p;
    if (!hex_address(&p, l.end, lo) || p == l.end || *p != '-')
        return false;
    p++;
    return hex_address(&p, l.end, hi) && (p == l.end || *p == ' ');
}

int wl__hugepage_parse_smaps(const char *text, size_t len, uintptr_t addr, uint64_t *rss_bytes,
                             uint64_t *huge_bytes)
{
    static const char *const huge_keys[] = {"AnonHugePages:", "FilePmdMapped:", "ShmemPmdMapped:"};
    const char *pos = text, *end = text + len;
    bool found = false;
    uint64_t rss = 0, huge = 0;
    while (pos != end) {
        struct line l = next_line(&pos, end);
        uintptr_t lo, hi;
        if (smaps_header(l, &lo, &hi)) {
            if (found)
                break;
            found = addr >= lo && addr < hi;
            continue;
        }
        if (!found)
            continue;
        uint64_t b;
        int rc;
        if (starts_with(l, "Rss:")) {
            if ((rc = counted_bytes(l.p + 4, l.end, &b)) != 0)
                return rc;
            rss = b;
            continue;
        }
        for (size_t i = 0; i < sizeof huge_keys / sizeof huge_keys[0]; i++) {
            if (!starts_with(l, huge_keys[i]))
                continue;
            if ((rc = counted_bytes(l.p + strlen(huge_keys[i]), l.end, &b)) != 0)
                return rc;
            if (__builtin_add_overflow(huge, b, &huge))
                return WL_ERANGE;
        }
    }
    if (!found)
        return WL_ENOENT;
    *rss_bytes = rss;
    *huge_bytes = huge;
    return 0;
}

int wl__hugepage_parse_meminfo(const char *text, size_t len, uint64_t *file_huge_bytes)
{
    static const char key[] = "FileHugePages:";
    const char *pos = text, *end = text + len;
    while (pos != end) {
        struct line l = next_line(&pos, end);
        if (starts_with(l, key))
            return counted_bytes(l.p + sizeof key - 1, l.end, file_huge_bytes);
    }
    return WL_ENOTSUP;
}

/* All of a /proc file into *text, malloc'd: 0, WL_ENOTSUP (it cannot be
 * opened), WL_ENOMEM or the read's error as a WL_E* code. */
static int read_proc_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return WL_ENOTSUP;
    int rc = wl_read_stream(f, 16384, SIZE_MAX, text, len);
    fclose(f);
    return rc ? wl_error_from_errno(rc) : 0;
}

int wl_hugepage_mapped_bytes(const void *addr, uint64_t *rss_bytes, uint64_t *huge_bytes)
{
    if (!addr || !rss_bytes || !huge_bytes)
        return WL_EINVAL;
    char *text;
    size_t len;
    int rc = read_proc_file("/proc/self/smaps", &text, &len);
    if (rc)
        return rc;
    rc = wl__hugepage_parse_smaps(text, len, (uintptr_t)addr, rss_bytes, huge_bytes);
    free(text);
    return rc;
}

int wl_hugepage_file_cache_bytes(uint64_t *bytes)
{
    if (!bytes)
        return WL_EINVAL;
    char *text;
    size_t len;
    int rc = read_proc_file("/proc/meminfo", &text, &len);
    if (rc)
        return rc;
    rc = wl__hugepage_parse_meminfo(text, len, bytes);
    free(text);
    return rc;
}

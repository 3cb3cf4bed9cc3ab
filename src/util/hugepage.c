/* Huge-page advice and accounting; see hugepage.h. */
#define _GNU_SOURCE
#include "util/hugepage.h"

#include "wattlens/error.h"

#include <inttypes.h>
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

int wl_hugepage_mapped_bytes(const void *addr, uint64_t *rss_bytes, uint64_t *huge_bytes)
{
    if (!addr || !rss_bytes || !huge_bytes)
        return WL_EINVAL;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return WL_ENOTSUP;
    const uintptr_t a = (uintptr_t)addr;
    char *line = NULL;
    size_t cap = 0;
    bool in = false, found = false;
    uint64_t rss_kib = 0, huge_kib = 0;
    while (getline(&line, &cap, f) > 0) {
        uintptr_t lo, hi;
        /* a mapping header: "lo-hi perms offset dev inode [path]"; attribute
         * lines start with a capitalised key ("Rss:", "VmFlags:") */
        const char c0 = line[0];
        const bool header = ((c0 >= '0' && c0 <= '9') || (c0 >= 'a' && c0 <= 'f')) &&
                            sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2;
        if (header) {
            if (found)
                break;
            in = a >= lo && a < hi;
            found = in;
            continue;
        }
        if (!in)
            continue;
        uint64_t kib;
        char key[64];
        if (sscanf(line, "%63[^:]: %" SCNu64 " kB", key, &kib) != 2)
            continue;
        if (strcmp(key, "Rss") == 0)
            rss_kib = kib;
        else if (strcmp(key, "AnonHugePages") == 0 || strcmp(key, "FilePmdMapped") == 0 ||
                 strcmp(key, "ShmemPmdMapped") == 0)
            huge_kib += kib;
    }
    free(line);
    fclose(f);
    if (!found)
        return WL_ENOENT;
    *rss_bytes = rss_kib * 1024;
    *huge_bytes = huge_kib * 1024;
    return 0;
}

int wl_hugepage_file_cache_bytes(uint64_t *bytes)
{
    if (!bytes)
        return WL_EINVAL;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return WL_ENOTSUP;
    char line[256];
    int rc = WL_ENOTSUP;
    uint64_t kib;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "FileHugePages: %" SCNu64 " kB", &kib) == 1) {
            *bytes = kib * 1024;
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

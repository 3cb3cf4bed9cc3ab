/* util/: the error table, log level parsing, clocks, error messages, UTF-8
 * decoding, copies and formatted messages cut between characters (a shown
 * cut ending "..."), Markdown cell escaping, display widths, JSON text for
 * a terminal, text into JSON without losing bytes, random bytes with their fallback,
 * SipHash-1-3, and energy method keys and labels. */
#include "test_support.h"

#include "util/ascii.h"
#include "util/clock.h"
#include "util/errmsg.h"
#include "util/hugepage.h"
#include "util/json_text.h"
#include "util/log.h"
#include "util/mkdir_p.h"
#include "util/parse_num.h"
#include "util/random.h"
#include "util/read_all.h"
#include "util/siphash.h"
#include "util/utf8.h"
#include "wattlens/wattlens.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_every_code_has_a_distinct_name_and_message(void **state)
{
    (void)state;
    for (int c = WL_OK; c >= WL_ECHILD; c--) {
        assert_string_not_equal(wl_strerror(c), "unknown error");
        assert_string_not_equal(wl_strerror_name(c), "WL_E?");
        for (int d = c - 1; d >= WL_ECHILD; d--)
            assert_string_not_equal(wl_strerror_name(c), wl_strerror_name(d));
    }
    assert_string_equal(wl_strerror(12345), "unknown error");
    assert_string_equal(wl_strerror_name(WL_EFORMAT), "WL_EFORMAT");
}

static void test_errno_mapping(void **state)
{
    (void)state;
    assert_int_equal(wl_error_from_errno(0), WL_OK);
    assert_int_equal(wl_error_from_errno(ENOENT), WL_ENOENT);
    assert_int_equal(wl_error_from_errno(EACCES), WL_EACCES);
    assert_int_equal(wl_error_from_errno(EPERM), WL_EACCES);
    assert_int_equal(wl_error_from_errno(ENOMEM), WL_ENOMEM);
    assert_int_equal(wl_error_from_errno(EIO), WL_EIO);
}

static void test_log_level_parsing(void **state)
{
    (void)state;
    enum wl_log_level l;
    assert_int_equal(wl_log_parse_level("debug", &l), 0);
    assert_int_equal(l, WL_LOG_DEBUG);
    assert_int_equal(wl_log_parse_level("loud", &l), WL_EINVAL);
    assert_int_equal(wl_log_parse_level(NULL, &l), WL_EINVAL);
    wl_log_set_level(WL_LOG_ERROR);
    assert_int_equal(wl_log_get_level(), WL_LOG_ERROR);
}

static void test_monotonic_clock_advances_with_sleep(void **state)
{
    (void)state;
    uint64_t a = wl_clock_now_ns();
    wl_clock_sleep_ns(2000000);
    uint64_t b = wl_clock_now_ns();
    assert_true(b - a >= 2000000);
    wl_clock_sleep_until_ns(b + 1000000);
    assert_true(wl_clock_now_ns() >= b + 1000000);
}

static void test_iso8601(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(wl_clock_format_iso8601(0, buf, sizeof buf), "1970-01-01T00:00:00Z");
    assert_string_equal(wl_clock_format_iso8601(1795000000ll * 1000000000ll, buf, sizeof buf),
                        "2026-11-18T11:06:40Z");
}

static void test_errmsg_returns_code_and_formats(void **state)
{
    (void)state;
    struct wl_errmsg e;
    assert_int_equal(wl_errmsg_set(&e, WL_EFORMAT, "bad count %d at byte %d", 7, 24), WL_EFORMAT);
    assert_string_equal(e.text, "bad count 7 at byte 24");
    assert_int_equal(wl_errmsg_set(NULL, WL_EIO, "ignored"), WL_EIO);
    wl_errmsg_clear(&e);
    assert_string_equal(e.text, "");
}

/* A message longer than the buffer (a long multibyte name in it) is cut
 * between characters and ends "...". */
static void test_errmsg_cut_between_characters(void **state)
{
    (void)state;
    struct wl_errmsg e;
    char name[WL_ERRMSG_SIZE + 64];
    size_t n = 0;
    name[n++] = 'x'; /* "x" + "é"...: 508 bytes of room end inside an "é" */
    while (n + 2 < sizeof name) {
        memcpy(name + n, "\xC3\xA9", 2);
        n += 2;
    }
    name[n] = '\0';
    wl_errmsg_set(&e, WL_EFORMAT, "%s", name);
    size_t len = strlen(e.text);
    assert_true(len < sizeof e.text && len >= sizeof e.text - 5);
    assert_true(wl_utf8_valid(e.text, len));
    assert_string_equal(e.text + len - 3, "...");
    assert_memory_equal(e.text, name, len - 3);
}

/* The accounting finds the mapping that holds an address and reports its
 * resident bytes; huge-page bytes never exceed them. Whether the kernel gives
 * huge pages at all is the machine's setting, so it is not asserted. */
static void test_hugepage_accounting(void **state)
{
    (void)state;
    const size_t len = (size_t)8 << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    wl_hugepage_advise(p, len);
    memset(p, 1, len);
    uint64_t rss = 0, huge = 0;
    int rc = wl_hugepage_mapped_bytes(p + len / 2, &rss, &huge);
    if (rc == WL_ENOTSUP) { /* no /proc/self/smaps here */
        munmap(p, len);
        skip();
    }
    assert_int_equal(rc, 0);
    assert_true(rss >= len / 2); /* at least the touched half we asked about is resident */
    assert_true(huge <= rss);
    munmap(p, len);
    /* an address nothing maps */
    assert_int_equal(wl_hugepage_mapped_bytes((const void *)16, &rss, &huge), WL_ENOENT);
    assert_int_equal(wl_hugepage_mapped_bytes(NULL, &rss, &huge), WL_EINVAL);
    wl_hugepage_advise(NULL, 0); /* harmless */
    /* file data in huge pages comes in whole 2 MiB folios */
    uint64_t fb = 1;
    rc = wl_hugepage_file_cache_bytes(&fb);
    assert_true(rc == 0 || rc == WL_ENOTSUP);
    if (rc == 0)
        assert_int_equal(fb % ((uint64_t)2 << 20), 0);
    assert_int_equal(wl_hugepage_file_cache_bytes(NULL), WL_EINVAL);
}

/* /proc/meminfo of the development machine (kernel 6.18), as read. */
static const char meminfo_6_18[] = "MemTotal:       24684100 kB\n"
                                   "MemFree:        22932844 kB\n"
                                   "MemAvailable:   24203604 kB\n"
                                   "Buffers:           37584 kB\n"
                                   "Cached:          1319756 kB\n"
                                   "SwapCached:            0 kB\n"
                                   "Active:           883656 kB\n"
                                   "Inactive:         482988 kB\n"
                                   "Active(anon):       1560 kB\n"
                                   "Inactive(anon):    16472 kB\n"
                                   "Active(file):     882096 kB\n"
                                   "Inactive(file):   466516 kB\n"
                                   "Unevictable:       15128 kB\n"
                                   "Mlocked:           14160 kB\n"
                                   "SwapTotal:             0 kB\n"
                                   "SwapFree:              0 kB\n"
                                   "Zswap:                 0 kB\n"
                                   "Zswapped:              0 kB\n"
                                   "Dirty:             69716 kB\n"
                                   "Writeback:            60 kB\n"
                                   "AnonPages:         24440 kB\n"
                                   "Mapped:            16792 kB\n"
                                   "Shmem:              8728 kB\n"
                                   "KReclaimable:     243788 kB\n"
                                   "Slab:             280604 kB\n"
                                   "SReclaimable:     243788 kB\n"
                                   "SUnreclaim:        36816 kB\n"
                                   "KernelStack:        1740 kB\n"
                                   "PageTables:         2708 kB\n"
                                   "SecPageTables:         0 kB\n"
                                   "NFS_Unstable:          0 kB\n"
                                   "Bounce:                0 kB\n"
                                   "WritebackTmp:          0 kB\n"
                                   "CommitLimit:    12342048 kB\n"
                                   "Committed_AS:     114000 kB\n"
                                   "VmallocTotal:   34359738367 kB\n"
                                   "VmallocUsed:       14604 kB\n"
                                   "VmallocChunk:          0 kB\n"
                                   "Percpu:             1096 kB\n"
                                   "AnonHugePages:         0 kB\n"
                                   "ShmemHugePages:        0 kB\n"
                                   "ShmemPmdMapped:        0 kB\n"
                                   "FileHugePages:    139264 kB\n"
                                   "FilePmdMapped:         0 kB\n"
                                   "Balloon:               0 kB\n"
                                   "HugePages_Total:       0\n"
                                   "HugePages_Free:        0\n"
                                   "HugePages_Rsvd:        0\n"
                                   "HugePages_Surp:        0\n"
                                   "Hugepagesize:       2048 kB\n"
                                   "Hugetlb:               0 kB\n"
                                   "DirectMap4k:       28672 kB\n"
                                   "DirectMap2M:     2068480 kB\n"
                                   "DirectMap1G:    25165824 kB\n";

/* /proc/self/smaps of the development machine (kernel 6.18): a file
 * mapping, an anonymous one advised MADV_HUGEPAGE and touched (all of it on
 * huge pages; the header ends with a space), then the vsyscall page. */
static const char smaps_6_18[] =
    "55632086d000-55632086f000 r--p 00000000 fe:00 247498                     /usr/bin/head\n"
    "Size:                  8 kB\n"
    "KernelPageSize:        4 kB\n"
    "MMUPageSize:           4 kB\n"
    "Rss:                   8 kB\n"
    "Pss:                   4 kB\n"
    "Pss_Dirty:             0 kB\n"
    "Shared_Clean:          8 kB\n"
    "Shared_Dirty:          0 kB\n"
    "Private_Clean:         0 kB\n"
    "Private_Dirty:         0 kB\n"
    "Referenced:            8 kB\n"
    "Anonymous:             0 kB\n"
    "KSM:                   0 kB\n"
    "LazyFree:              0 kB\n"
    "AnonHugePages:         0 kB\n"
    "ShmemPmdMapped:        0 kB\n"
    "FilePmdMapped:         0 kB\n"
    "Shared_Hugetlb:        0 kB\n"
    "Private_Hugetlb:       0 kB\n"
    "Swap:                  0 kB\n"
    "SwapPss:               0 kB\n"
    "Locked:                0 kB\n"
    "THPeligible:           0\n"
    "VmFlags: rd mr mw me \n"
    "7f3a9f400000-7f3aa0400000 rw-p 00000000 00:00 0 \n"
    "Size:              16384 kB\n"
    "KernelPageSize:        4 kB\n"
    "MMUPageSize:           4 kB\n"
    "Rss:               16384 kB\n"
    "Pss:               16384 kB\n"
    "Pss_Dirty:         16384 kB\n"
    "Shared_Clean:          0 kB\n"
    "Shared_Dirty:          0 kB\n"
    "Private_Clean:         0 kB\n"
    "Private_Dirty:     16384 kB\n"
    "Referenced:        16384 kB\n"
    "Anonymous:         16384 kB\n"
    "KSM:                   0 kB\n"
    "LazyFree:              0 kB\n"
    "AnonHugePages:     16384 kB\n"
    "ShmemPmdMapped:        0 kB\n"
    "FilePmdMapped:         0 kB\n"
    "Shared_Hugetlb:        0 kB\n"
    "Private_Hugetlb:       0 kB\n"
    "Swap:                  0 kB\n"
    "SwapPss:               0 kB\n"
    "Locked:                0 kB\n"
    "THPeligible:           1\n"
    "VmFlags: rd wr mr mw me ac hg \n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
    "Size:                  4 kB\n"
    "Rss:                   0 kB\n"
    "VmFlags: rd ex \n";

static const uint64_t UNTOUCHED = 0x5eed5eed5eed5eedull;

/* Parses text (NUL-terminated) for addr; *rss and *huge start UNTOUCHED. */
static int smaps(const char *text, uintptr_t addr, uint64_t *rss, uint64_t *huge)
{
    *rss = *huge = UNTOUCHED;
    return wl__hugepage_parse_smaps(text, strlen(text), addr, rss, huge);
}

static void test_hugepage_smaps_finds_the_mapping_holding_the_address(void **state)
{
    (void)state;
    uint64_t rss, huge;
    assert_int_equal(smaps(smaps_6_18, 0x55632086d000, &rss, &huge), 0);
    assert_int_equal(rss, 8 * 1024);
    assert_int_equal(huge, 0);
    assert_int_equal(smaps(smaps_6_18, 0x55632086efff, &rss, &huge), 0);
    assert_int_equal(rss, 8 * 1024);
    assert_int_equal(smaps(smaps_6_18, 0x7f3aa03fffff, &rss, &huge), 0);
    assert_int_equal(rss, (uint64_t)16 << 20);
    assert_int_equal(huge, (uint64_t)16 << 20);
    if (sizeof(uintptr_t) == 8) { /* the top of a 64-bit address space, last line */
        assert_int_equal(smaps(smaps_6_18, (uintptr_t)0xffffffffff600800ull, &rss, &huge), 0);
        assert_int_equal(rss, 0);
    }
    /* the end of a mapping is not in it; nothing holds 0 or a gap */
    assert_int_equal(smaps(smaps_6_18, 0x55632086f000, &rss, &huge), WL_ENOENT);
    assert_int_equal(smaps(smaps_6_18, 0, &rss, &huge), WL_ENOENT);
    assert_int_equal(smaps("", 0, &rss, &huge), WL_ENOENT);
    assert_true(rss == UNTOUCHED && huge == UNTOUCHED);
    /* no newline at the end; lines the block does not have count 0 */
    assert_int_equal(smaps("1000-2000 r--p 0 00:00 0\nRss: 12 kB", 0x1000, &rss, &huge), 0);
    assert_true(rss == 12 * 1024 && huge == 0);
    assert_int_equal(smaps("1000-2000", 0x1fff, &rss, &huge), 0);
    assert_true(rss == 0 && huge == 0);
    /* the huge-page lines add up; the text ends with the next header */
    assert_int_equal(smaps("1000-2000 rw-s 0 00:01 7 /dev/shm/x\n"
                           "Rss:\t4096 kB\nAnonHugePages: 2048 kB\nShmemPmdMapped: 1024 kB\n"
                           "FilePmdMapped: 512 kB\n"
                           "2000-3000 rw-p 0 00:00 0\nRss: 1 kB\nAnonHugePages: 1 kB\n",
                           0x1800, &rss, &huge),
                     0);
    assert_true(rss == 4096 * 1024 && huge == 3584 * 1024);
}

static void test_hugepage_smaps_refuses_malformed_counts(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Rss: -8 kB\n",
        "Rss: +8 kB\n",
        "Rss: 0x10 kB\n",
        "Rss: kB\n",
        "Rss: 8\n",
        "Rss: 8 MB\n",
        "Rss: 8 kB x\n",
        "Rss:\n",
        "Rss: 8 k\n",
        "AnonHugePages: 8 KB\n",
        "FilePmdMapped: 8kBB\n",
        "ShmemPmdMapped: \xff 8 kB\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "1000-2000 r--p 0 00:00 0\nSize: 4 kB\n%s", bad[i]);
        uint64_t rss, huge;
        assert_int_equal(smaps(text, 0x1000, &rss, &huge), WL_EFORMAT);
        assert_true(rss == UNTOUCHED && huge == UNTOUCHED);
        /* in another mapping's block it is not read */
        snprintf(text, sizeof text, "1000-2000 r--p 0 00:00 0\n%s3000-4000 r--p\nRss: 4 kB\n",
                 bad[i]);
        assert_int_equal(smaps(text, 0x3000, &rss, &huge), 0);
        assert_int_equal(rss, 4096);
    }
    /* other keys, even unreadable, are skipped; blanks are spaces or tabs */
    uint64_t rss, huge;
    assert_int_equal(smaps("1000-2000 r--p\nRss : 9 kB\nPss: -1 kB\nRssX: 1\nrss: 3 kB\n"
                           "THPeligible:    1\nRss: \t7\tkB \t\n",
                           0x1000, &rss, &huge),
                     0);
    assert_true(rss == 7 * 1024 && huge == 0);
}

/* Only "lo-hi" in lowercase hex, each at most as wide as a pointer, and a
 * space after it make a header; anything else in a block is skipped. */
static void test_hugepage_smaps_headers_are_strict(void **state)
{
    (void)state;
    uint64_t rss, huge;
    static const char *const not_headers[] = {
        "0x1000-2000 r--p\n", "1000-0x2000 r--p\n", "1000 2000 r--p\n", "1000-2000r--p\n",
        "1000-+2000 r--p\n",  "1000- 2000 r--p\n",  "1000-\n",          "-2000 r--p\n",
        "ABCD-EF00 r--p\n",   " 1000-2000 r--p\n",
    };
    for (size_t i = 0; i < sizeof not_headers / sizeof not_headers[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "%sRss: 4 kB\n", not_headers[i]);
        assert_int_equal(smaps(text, 0x1800, &rss, &huge), WL_ENOENT);
        assert_int_equal(smaps(text, 0xABCD, &rss, &huge), WL_ENOENT);
        /* and it does not end the block before it */
        snprintf(text, sizeof text, "1000-2000 r--p\n%sRss: 4 kB\n", not_headers[i]);
        assert_int_equal(smaps(text, 0x1800, &rss, &huge), 0);
        assert_int_equal(rss, 4096);
    }
    /* one hex digit more than a pointer holds: not an address (sscanf's
     * %x took the overflow for the largest address) */
    char text[128];
    snprintf(text, sizeof text, "0-%0*x1 r--p\nRss: 4 kB\n", (int)(2 * sizeof(uintptr_t)), 0);
    assert_int_equal(smaps(text, 0, &rss, &huge), WL_ENOENT);
    snprintf(text, sizeof text, "0-1%0*x r--p\nRss: 4 kB\n", (int)(2 * sizeof(uintptr_t)), 0);
    assert_int_equal(smaps(text, UINTPTR_MAX - 1, &rss, &huge), WL_ENOENT);
    /* leading zeros within the width are fine */
    assert_int_equal(
        smaps("0000000000001000-0000000000002000 r--p\nRss: 4 kB\n", 0x1000, &rss, &huge),
        sizeof(uintptr_t) == 8 ? 0 : WL_ENOENT);
}

/* Counts that do not fit in 64 bits of bytes are refused, never wrapped. */
static void test_hugepage_smaps_refuses_overflow(void **state)
{
    (void)state;
    uint64_t rss, huge;
    /* UINT64_MAX / 1024 kB is the most that fits */
    assert_int_equal(smaps("1000-2000 r--p\nRss: 18014398509481983 kB\n", 0x1000, &rss, &huge), 0);
    assert_int_equal(rss, 18014398509481983ull * 1024);
    assert_int_equal(smaps("1000-2000 r--p\nRss: 18014398509481984 kB\n", 0x1000, &rss, &huge),
                     WL_ERANGE);
    assert_int_equal(smaps("1000-2000 r--p\nRss: 18446744073709551616 kB\n", 0x1000, &rss, &huge),
                     WL_ERANGE);
    assert_int_equal(
        smaps("1000-2000 r--p\nRss: 99999999999999999999999999999999 kB\n", 0x1000, &rss, &huge),
        WL_ERANGE);
    /* each fits, the sum does not */
    assert_int_equal(smaps("1000-2000 r--p\nAnonHugePages: 18014398509481983 kB\n"
                           "FilePmdMapped: 1 kB\n",
                           0x1000, &rss, &huge),
                     WL_ERANGE);
    assert_true(rss == UNTOUCHED && huge == UNTOUCHED);
    /* in another block they are not read */
    assert_int_equal(smaps("1000-2000 r--p\nRss: 99999999999999999999999 kB\n3000-4000 r--p\n",
                           0x3000, &rss, &huge),
                     0);
    assert_int_equal(rss, 0);
}

static int meminfo(const char *text, uint64_t *bytes)
{
    *bytes = UNTOUCHED;
    return wl__hugepage_parse_meminfo(text, strlen(text), bytes);
}

static void test_hugepage_meminfo_reads_file_huge_pages(void **state)
{
    (void)state;
    uint64_t b;
    assert_int_equal(meminfo(meminfo_6_18, &b), 0);
    const char *line = strstr(meminfo_6_18, "FileHugePages:");
    assert_non_null(line);
    assert_int_equal(b, strtoull(line + 14, NULL, 10) * 1024);
    /* the last line, without its newline; the first such line counts */
    assert_int_equal(meminfo("MemTotal: 1 kB\nFileHugePages:\t2048 kB", &b), 0);
    assert_int_equal(b, 2048 * 1024);
    assert_int_equal(meminfo("FileHugePages: 0 kB\nFileHugePages: 2048 kB\n", &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(meminfo("FileHugePages:0kB", &b), 0);
    assert_int_equal(b, 0);
    /* a kernel without the field (before 5.4) */
    assert_int_equal(meminfo("MemTotal: 1 kB\nShmemHugePages: 0 kB\n", &b), WL_ENOTSUP);
    assert_int_equal(meminfo("", &b), WL_ENOTSUP);
    assert_int_equal(meminfo(" FileHugePages: 4 kB\nfilehugepages: 4 kB\nFileHugePages 4 kB\n", &b),
                     WL_ENOTSUP);
    assert_int_equal(b, UNTOUCHED);
}

static void test_hugepage_meminfo_refuses_malformed_and_overflow(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
    } cases[] = {
        {"FileHugePages: -1 kB\n", WL_EFORMAT}, /* sscanf made it 2^64 - 1 kB */
        {"FileHugePages: 0x800 kB\n", WL_EFORMAT},
        {"FileHugePages:\n", WL_EFORMAT},
        {"FileHugePages: 2048\n", WL_EFORMAT},
        {"FileHugePages: 2048 kB 2048 kB\n", WL_EFORMAT},
        {"FileHugePagesX: 4 kB\nFileHugePages: x\n", WL_EFORMAT},
        {"FileHugePages: 18014398509481984 kB\n", WL_ERANGE},
        {"FileHugePages: 184467440737095516150 kB\n", WL_ERANGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t b;
        int rc = meminfo(cases[i].text, &b);
        if (rc != cases[i].rc)
            fprintf(stderr, "case %zu: %s\n", i, cases[i].text);
        assert_int_equal(rc, cases[i].rc);
        assert_int_equal(b, UNTOUCHED);
    }
    /* an embedded NUL is a byte of its line, not an end */
    uint64_t b = UNTOUCHED;
    static const char nul[] = "FileHugePages: 2048 kB\0\n";
    assert_int_equal(wl__hugepage_parse_meminfo(nul, sizeof nul - 1, &b), WL_EFORMAT);
    assert_int_equal(b, UNTOUCHED);
}

/* A line of any length is one line: the reader of 256-byte lines took the
 * rest of a longer one for a line of its own. */
static void test_hugepage_meminfo_long_line_is_one_line(void **state)
{
    (void)state;
    char text[1024];
    memset(text, 'x', 255);
    snprintf(text + 255, sizeof text - 255, "FileHugePages: 4 kB\nFileHugePages: 2048 kB\n");
    uint64_t b;
    assert_int_equal(meminfo(text, &b), 0);
    assert_int_equal(b, 2048 * 1024);
}

static void test_utf8_char_len_is_strict(void **state)
{
    (void)state;
    assert_int_equal(wl_utf8_char_len("a", 1), 1);
    assert_int_equal(wl_utf8_char_len("\xC3\xA9", 2), 2);
    assert_int_equal(wl_utf8_char_len("\xE2\x82\xAC", 3), 3);
    assert_int_equal(wl_utf8_char_len("\xF0\x9F\x98\x80", 4), 4);
    assert_int_equal(wl_utf8_char_len("\xC3\xA9", 1), 0);         /* cut short */
    assert_int_equal(wl_utf8_char_len("\xC0\xAF", 2), 0);         /* overlong */
    assert_int_equal(wl_utf8_char_len("\xE0\x80\xAF", 3), 0);     /* overlong */
    assert_int_equal(wl_utf8_char_len("\xED\xA0\x80", 3), 0);     /* surrogate */
    assert_int_equal(wl_utf8_char_len("\xF4\x90\x80\x80", 4), 0); /* above U+10FFFF */
    assert_int_equal(wl_utf8_char_len("\xFF", 1), 0);
    assert_int_equal(wl_utf8_char_len("\x80", 1), 0); /* a continuation byte alone */
    assert_int_equal(wl_utf8_char_len("", 0), 0);
    assert_true(wl_utf8_valid("caf\xC3\xA9", 5));
    assert_true(wl_utf8_valid("a\0b", 3)); /* NUL is a character */
    assert_false(wl_utf8_valid("a\xFF", 2));
    assert_false(wl_utf8_valid("\xE2\x82", 2)); /* part of a character */
}

/* A copy into a fixed buffer is cut between characters, never inside one;
 * invalid bytes are single characters; the return says it was cut. */
static void test_utf8_copy_cuts_between_characters(void **state)
{
    (void)state;
    char b[8];
    assert_int_equal(wl_utf8_copy(b, sizeof b, "abc"), 3);
    assert_string_equal(b, "abc");
    assert_int_equal(wl_utf8_copy(b, sizeof b, "abcdefg"), 7); /* exactly fits */
    assert_string_equal(b, "abcdefg");
    /* 7 bytes of room: two euro signs take 6, the third would end at 9 */
    assert_int_equal(wl_utf8_copy(b, sizeof b, "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"), 9);
    assert_string_equal(b, "\xE2\x82\xAC\xE2\x82\xAC");
    assert_int_equal(wl_utf8_copy(b, 4, "a\xF0\x9F\x98\x80"), 5); /* an emoji does not fit */
    assert_string_equal(b, "a");
    /* invalid bytes are cut one by one; the part of a character before them
     * stays as it was (invalid), nothing valid becomes invalid */
    assert_int_equal(wl_utf8_copy(b, 4, "\xFF\xE2\x82\xC3\xA9"), 5);
    assert_string_equal(b, "\xFF\xE2\x82");
    assert_int_equal(wl_utf8_copy(b, 3, "\xFF\xE2\x82\xC3\xA9"), 5);
    assert_string_equal(b, "\xFF\xE2");
    assert_int_equal(wl_utf8_copy(b, 1, "\xC3\xA9"), 2);
    assert_string_equal(b, "");
    assert_int_equal(wl_utf8_copy(b, 2, "\xC3\xA9"), 2);
    assert_string_equal(b, "");
}

/* A clipped copy shows its cut as "..." within the same room, cut between
 * characters; one that fits is a plain copy. */
static void test_utf8_clip_shows_the_cut(void **state)
{
    (void)state;
    char b[8];
    assert_int_equal(wl_utf8_clip(b, sizeof b, "abcdefg"), 7);
    assert_string_equal(b, "abcdefg");
    assert_int_equal(wl_utf8_clip(b, sizeof b, "abcdefgh"), 8);
    assert_string_equal(b, "abcd...");
    assert_int_equal(wl_utf8_clip(b, sizeof b, "x\xC3\xA9\xC3\xA9\xC3\xA9"), 7);
    assert_string_equal(b, "x\xC3\xA9\xC3\xA9\xC3\xA9"); /* fits */
    /* 4 bytes before the dots end inside the second "é" of "xxééé" */
    assert_int_equal(wl_utf8_clip(b, sizeof b, "xx\xC3\xA9\xC3\xA9\xC3\xA9"), 8);
    assert_string_equal(b, "xx\xC3\xA9...");
    assert_int_equal(wl_utf8_clip(b, 3, "abcd"), 4); /* no room for dots */
    assert_string_equal(b, "ab");
}

static int vformat(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int vformat(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = wl_utf8_vformat(dst, size, fmt, ap);
    va_end(ap);
    return r;
}

/* Formatting that does not fit is cut between characters and ends "...",
 * although the bytes past the buffer are never formatted: a character the
 * buffer's end splits is dropped whole. */
static void test_utf8_vformat_cuts_between_characters(void **state)
{
    (void)state;
    char b[10];
    assert_int_equal(vformat(b, sizeof b, "%s=%d", "ab", 7), 4);
    assert_string_equal(b, "ab=7");
    assert_int_equal(vformat(b, sizeof b, "%s", "abcdefghi"), 9); /* exactly fits */
    assert_string_equal(b, "abcdefghi");
    assert_int_equal(vformat(b, sizeof b, "%s", "abcdefghij"), 10);
    assert_string_equal(b, "abcdef...");
    /* "a€€€": 6 bytes before the dots end inside the second euro sign */
    assert_int_equal(vformat(b, sizeof b, "a%s", "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"), 10);
    assert_string_equal(b, "a\xE2\x82\xAC...");
    /* invalid bytes before the cut stay, one character each */
    assert_int_equal(vformat(b, sizeof b, "%s",
                             "\xFF\xFE\xFD"
                             "abcdefgh"),
                     11);
    assert_string_equal(b, "\xFF\xFE\xFD"
                           "abc...");
    /* no room for dots: only the cut between characters */
    assert_int_equal(vformat(b, 3, "%s", "a\xC3\xA9"), 3);
    assert_string_equal(b, "a");
    assert_int_equal(vformat(b, 1, "%s", "abc"), 3);
    assert_string_equal(b, "");
}

/* A '|' in a Markdown cell becomes "\|"; a cut never splits a character or
 * the escape; the return is the whole escaped length. */
static void test_utf8_md_escape(void **state)
{
    (void)state;
    char b[16];
    assert_int_equal(wl_utf8_md_escape(b, sizeof b, "plain"), 5);
    assert_string_equal(b, "plain");
    assert_int_equal(wl_utf8_md_escape(b, sizeof b, "a|b\xC3\xA9|"), 8);
    assert_string_equal(b, "a\\|b\xC3\xA9\\|");
    assert_int_equal(wl_utf8_width(b, strlen(b)), 7);    /* "\|" is two columns */
    assert_int_equal(wl_utf8_md_escape(b, 3, "a|b"), 4); /* "a\" would split "\|" */
    assert_string_equal(b, "a");
    assert_int_equal(wl_utf8_md_escape(b, 3, "a\xC3\xA9"), 3);
    assert_string_equal(b, "a");
}

/* Valid text is itself; otherwise each invalid byte shows as U+FFFD and the
 * exact bytes go to "<key>_hex", only then. */
static void test_json_text_keeps_every_byte(void **state)
{
    (void)state;
    bool lossy = false;
    json_t *j = wl_json_text("caf\xC3\xA9", 5, &lossy);
    assert_string_equal(json_string_value(j), "caf\xC3\xA9");
    assert_false(lossy);
    json_decref(j);
    j = wl_json_text("a\xFF\xE2\x82", 4, &lossy);
    assert_string_equal(json_string_value(j), "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_true(lossy);
    json_decref(j);
    j = wl_json_hex("a\xFF\0", 3);
    assert_string_equal(json_string_value(j), "61ff00");
    json_decref(j);

    json_t *o = json_object();
    assert_int_equal(wl_json_set_text(o, "prompt", "ok"), 0);
    assert_int_equal(wl_json_set_text(o, "model", NULL), 0);
    assert_int_equal(wl_json_set_textn(o, "text", "\xE2\x82", 2), 0); /* a partial token */
    const char *tags[] = {"t\xFE", "\xC3\xA9"};
    assert_int_equal(wl_json_set_texts(o, "tags", tags, NULL, 2), 0);
    const char *args[] = {"ls", "-l"};
    assert_int_equal(wl_json_set_texts(o, "command", args, NULL, 2), 0);
    assert_string_equal(json_string_value(json_object_get(o, "prompt")), "ok");
    assert_null(json_object_get(o, "prompt_hex"));
    assert_true(json_is_null(json_object_get(o, "model")));
    assert_null(json_object_get(o, "model_hex"));
    assert_string_equal(json_string_value(json_object_get(o, "text")), "\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(o, "text_hex")), "e282");
    json_t *t = json_object_get(o, "tags"), *th = json_object_get(o, "tags_hex");
    assert_string_equal(json_string_value(json_array_get(t, 0)), "t\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_array_get(t, 1)), "\xC3\xA9");
    assert_int_equal(json_array_size(th), 2); /* every element, in order */
    assert_string_equal(json_string_value(json_array_get(th, 0)), "74fe");
    assert_string_equal(json_string_value(json_array_get(th, 1)), "c3a9");
    assert_int_equal(json_array_size(json_object_get(o, "command")), 2);
    assert_null(json_object_get(o, "command_hex"));
    json_decref(o);
}

/* Escaped text: printable UTF-8 as it is; C0, DEL and raw bytes as \xNN,
 * C1 characters as \u00NN, a backslash doubled; nothing that a terminal
 * acts on is left. */
static void test_utf8_escape_keeps_text_and_escapes_controls(void **state)
{
    (void)state;
    char b[64];
    /* accents, CJK and emoji are kept */
    assert_int_equal(wl_utf8_escape(b, sizeof b, "caf\xC3\xA9 \xE6\xA8\xA1\xF0\x9F\x98\x80", 13),
                     13);
    assert_string_equal(b, "caf\xC3\xA9 \xE6\xA8\xA1\xF0\x9F\x98\x80");
    /* ESC, a tab, a newline, DEL and a NUL inside the text */
    assert_int_equal(wl_utf8_escape(b, sizeof b, "\x1b[2J\t\n\x7f\0z", 9), 24);
    assert_string_equal(b, "\\x1b[2J\\x09\\x0a\\x7f\\x00z");
    /* CSI in both encodings: the character U+009B, and a raw 0x9B byte */
    assert_int_equal(wl_utf8_escape(b, sizeof b,
                                    "\xC2\x9B"
                                    "31m",
                                    5),
                     9);
    assert_string_equal(b, "\\u009b31m");
    assert_int_equal(wl_utf8_escape(b, sizeof b,
                                    "\x9B"
                                    "31m",
                                    4),
                     7);
    assert_string_equal(b, "\\x9b31m");
    /* the ends of C1, and the first character after it */
    assert_int_equal(wl_utf8_escape(b, sizeof b, "\xC2\x80\xC2\x9F\xC2\xA0", 6), 14);
    assert_string_equal(b, "\\u0080\\u009f\xC2\xA0");
    /* bidirectional controls ("Trojan Source"): RLO, an isolate, LRM and ALM
     * are escaped; the characters next to them in the blocks are kept */
    assert_int_equal(wl_utf8_escape(b, sizeof b,
                                    "a\xE2\x80\xAE"
                                    "b\xE2\x81\xA6\xE2\x80\x8E\xD8\x9C",
                                    13),
                     26);
    assert_string_equal(b, "a\\u202eb\\u2066\\u200e\\u061c");
    assert_int_equal(wl_utf8_escape(b, sizeof b, "\xE2\x80\xA9\xE2\x80\xAF\xE2\x81\xAA", 9), 9);
    assert_string_equal(b, "\xE2\x80\xA9\xE2\x80\xAF\xE2\x81\xAA");
    /* invalid bytes, one escape each: part of a character, an overlong
     * form, a surrogate; two texts that differ only there stay apart */
    assert_int_equal(wl_utf8_escape(b, sizeof b, "\xE2\x82!\xC0\xAF\xED\xA0\x80", 8), 29);
    assert_string_equal(b, "\\xe2\\x82!\\xc0\\xaf\\xed\\xa0\\x80");
    /* a backslash is doubled, so the text "\xff" is not the byte 0xFF */
    assert_int_equal(wl_utf8_escape(b, sizeof b, "a\\xff", 5), 6);
    assert_string_equal(b, "a\\\\xff");
    assert_int_equal(wl_utf8_escape(b, sizeof b, "a\xFF", 2), 5);
    assert_string_equal(b, "a\\xff");
    /* the escaped text is as wide on screen as it is long in ASCII */
    wl_utf8_escape(b, sizeof b, "\x1b\xC2\x9B\xE6\xA8\xA1", 6);
    assert_int_equal(wl_utf8_width(b, strlen(b)), 4 + 6 + 2);
    assert_int_equal(wl_utf8_escape(b, sizeof b, "", 0), 0);
    assert_string_equal(b, "");
}

/* The JSON text at s as wl_utf8_put_terminal_json writes it (a heap
 * string). */
static char *terminal_json(const char *s)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    assert_int_equal(wl_utf8_put_terminal_json(f, s, strlen(s)), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* JSON for a terminal: the C1 and bidirectional controls and DEL that
 * jansson writes raw become \uNNNN (the ends of each range, and the
 * characters next to them kept); jansson's own escapes, the layout's
 * newlines and other text are kept; the text parses to the same value. */
static void test_terminal_json_escapes_what_jansson_writes_raw(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:s}", "k\xC2\x80",
                          "\x1b\xC2\x9B"
                          "1m\xC2\x9F\xC2\xA0\xE2\x80\xAA\xE2\x80\xAE\xE2\x80\xAF"
                          "\xE2\x81\xA5\xE2\x81\xA6\xE2\x81\xA9\xE2\x80\x8E\xE2\x80\x8F"
                          "\xD8\x9C\x7F\xE2\x80\xA9\xC3\xA9\\u0041");
    assert_non_null(v);
    char *dumped = json_dumps(v, JSON_INDENT(1));
    char *out = terminal_json(dumped);
    assert_string_equal(out, "{\n \"k\\u0080\": \"\\u001B\\u009B1m\\u009F\xC2\xA0\\u202A\\u202E"
                             "\xE2\x80\xAF\xE2\x81\xA5\\u2066\\u2069\\u200E\\u200F\\u061C\\u007F"
                             "\xE2\x80\xA9\xC3\xA9\\\\u0041\"\n}");
    json_t *back = json_loads(out, 0, NULL);
    assert_true(json_equal(back, v));
    json_decref(back);
    free(out);
    free(dumped);
    json_decref(v);
    /* bytes that are not UTF-8 (jansson writes none) are kept, and a cut
     * character at the end too */
    out = terminal_json("\"\xFF\x9B\"\xC2");
    assert_string_equal(out, "\"\xFF\x9B\"\xC2");
    free(out);
    /* a failed write is reported */
    char ro[8] = "";
    FILE *f = fmemopen(ro, sizeof ro, "r");
    assert_non_null(f);
    assert_int_equal(wl_utf8_put_terminal_json(f, "\"\xC2\x9B\"", 4), -1);
    fclose(f);
}

/* j as wl_json_put writes it (a heap string). */
static char *json_put(const json_t *j, bool terminal)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    assert_int_equal(wl_json_put(f, j, JSON_COMPACT, terminal), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* wl_json_put: for a terminal, the dump escaped (as above); else
 * jansson's bytes; a failed write is WL_EIO. */
static void test_json_put_escapes_only_for_a_terminal(void **state)
{
    (void)state;
    json_t *v = json_pack("[s]", "\xC2\x9B"
                                 "1m");
    assert_non_null(v);
    char *out = json_put(v, true);
    assert_string_equal(out, "[\"\\u009B1m\"]");
    free(out);
    out = json_put(v, false);
    assert_string_equal(out, "[\"\xC2\x9B"
                             "1m\"]");
    free(out);
    char ro[8] = "";
    for (int terminal = 0; terminal < 2; terminal++) {
        FILE *f = fmemopen(ro, sizeof ro, "r");
        assert_non_null(f);
        assert_int_equal(wl_json_put(f, v, JSON_COMPACT, terminal), WL_EIO);
        fclose(f);
    }
    json_decref(v);
}

/* wl_json_put to a full device (ENOSPC at every write) fails with that
 * errno whatever the stream's buffer size: json_dumpf returned 0 for many
 * sizes of 128 bytes and more, though a write had failed (glibc empties the
 * buffer after a failed flush and takes the next writes), so export -o to a
 * full device said "writing the output failed", with no cause. */
static void test_json_put_fails_whichever_write_fails(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    /* over 128 bytes: glibc writes a buffer of 128 or more another way */
    json_t *v = json_pack("{s:i,s:i,s:i,s:f,s:n,s:[],s:{s:s,s:n,s:[i,i]},s:s}", "n_gaps", 0,
                          "n_listed", 0, "n_energy_not_counted", 0, "total_s", 0.5, "text", "gaps",
                          "nested", "alpha", "text value", "beta_key", "gamma", 2, 3,
                          "sensors_not_read", "a last string value");
    assert_non_null(v);
    char *text = json_dumps(v, JSON_COMPACT);
    assert_non_null(text);
    const size_t len = strlen(text);
    free(text);
    /* every buffer size up to the dump's: the failing flushes fall on keys,
     * punctuation and values */
    unsigned n_failed = 0;
    for (size_t b = 1; b < len; b++) {
        FILE *f = fopen("/dev/full", "w");
        assert_non_null(f);
        char buf[512]; /* glibc takes no size without a buffer */
        assert_true(len <= sizeof buf);
        assert_int_equal(setvbuf(f, buf, _IOFBF, b), 0);
        errno = 0;
        const int rc = wl_json_put(f, v, JSON_COMPACT, false);
        const int err = errno;
        /* a dump whose every byte is still in the buffer has not failed yet */
        const bool wrote = ferror(f) != 0;
        fclose(f);
        n_failed += wrote;
        if (wrote ? rc != WL_EIO || err != ENOSPC : rc != 0)
            fail_msg("buffer of %zu bytes (a write %s): rc %d, errno %d (%s)", b,
                     wrote ? "failed" : "did not fail", rc, err, strerror(err));
    }
    assert_true(n_failed > 0);
    json_decref(v);
}

/* A dst too small is cut between two pieces, never inside a character or
 * an escape; the return is the whole length, as with snprintf. */
static void test_utf8_escape_cuts_between_pieces(void **state)
{
    (void)state;
    char b[16];
    memset(b, 'Z', sizeof b);
    /* "ab" then an escape of 4 bytes: 5 bytes of room hold "ab" only */
    assert_int_equal(wl_utf8_escape(b, 6,
                                    "ab\x1b"
                                    "c",
                                    4),
                     7);
    assert_string_equal(b, "ab");
    assert_int_equal(wl_utf8_escape(b, 7,
                                    "ab\x1b"
                                    "c",
                                    4),
                     7);
    assert_string_equal(b, "ab\\x1b");
    assert_int_equal(wl_utf8_escape(b, 8,
                                    "ab\x1b"
                                    "c",
                                    4),
                     7);
    assert_string_equal(b, "ab\\x1bc"); /* exactly fits */
    /* a C1 escape (6 bytes) and a CJK character (3) are not split */
    assert_int_equal(wl_utf8_escape(b, 6, "\xC2\x9B", 2), 6);
    assert_string_equal(b, "");
    assert_int_equal(wl_utf8_escape(b, 5, "a\xE6\xA8\xA1", 4), 4);
    assert_string_equal(b, "a\xE6\xA8\xA1");
    assert_int_equal(wl_utf8_escape(b, 4, "a\xE6\xA8\xA1", 4), 4);
    assert_string_equal(b, "a");
    /* a doubled backslash is one piece */
    assert_int_equal(wl_utf8_escape(b, 2, "\\", 1), 2);
    assert_string_equal(b, "");
    /* no room after a cut is used by what follows, even if it would fit */
    assert_int_equal(wl_utf8_escape(b, 4,
                                    "\x1b"
                                    "a",
                                    2),
                     5);
    assert_string_equal(b, "");
    /* size 0 measures and writes nothing; size 1 writes the NUL */
    assert_int_equal(wl_utf8_escape(NULL, 0, "\x1b\xC2\x9B", 3), 10);
    b[0] = 'Z';
    assert_int_equal(wl_utf8_escape(b, 1, "a", 1), 1);
    assert_string_equal(b, "");
}

/* Whatever the bytes, the escaped text is valid UTF-8 without a control
 * character (C0, DEL, C1), and as long as the return says. */
static void test_utf8_escape_output_never_controls(void **state)
{
    (void)state;
    uint32_t x = 12345; /* xorshift: the same bytes every run */
    for (int round = 0; round < 20000; round++) {
        char in[12], out[12 * 6 + 1];
        size_t n = (size_t)(round % 12);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            /* half the bytes near the troublesome ranges */
            in[i] = (char)(x & 0x100 ? 0x80 + (x % 0x40) : (x >> 8) & 0xFF);
            if (round % 3 == 0 && i % 2 == 0)
                in[i] = (char)0xC2;
        }
        size_t len = wl_utf8_escape(out, sizeof out, in, n);
        assert_int_equal(len, strlen(out));
        assert_true(wl_utf8_valid(out, len));
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)out[i];
            assert_true(c >= 0x20 && c != 0x7F);
            if (c == 0xC2)
                assert_true((unsigned char)out[i + 1] >= 0xA0);
        }
    }
}

/* Table cells count display columns: wide characters two, combining marks
 * none; never cut inside a character; control bytes and invalid bytes take
 * one column each (as a space and U+FFFD). */
static void test_utf8_cells_count_display_columns(void **state)
{
    (void)state;
    char b[128];
    assert_int_equal(wl_utf8_width("abc", 3), 3);
    assert_int_equal(wl_utf8_width("\xE6\xA8\xA1", 3), 2);     /* CJK */
    assert_int_equal(wl_utf8_width("e\xCC\x81", 3), 1);        /* combining acute */
    assert_int_equal(wl_utf8_width("\xF0\x9F\x98\x80", 4), 2); /* emoji */
    assert_int_equal(wl_utf8_width("a\xFF\tb", 4), 4);
    assert_string_equal(wl_utf8_cell("\xE6\xA8\xA1", 4, true, b, sizeof b), "\xE6\xA8\xA1  ");
    assert_string_equal(wl_utf8_cell("a\nb\xFF", 5, true, b, sizeof b), "a b\xEF\xBF\xBD ");
    assert_string_equal(wl_utf8_cell("a\xE2\x80\xAE"
                                     "bc",
                                     5, true, b, sizeof b),
                        "a bc "); /* RLO */
    assert_string_equal(wl_utf8_cell(NULL, 3, true, b, sizeof b), "-  ");
    assert_string_equal(wl_utf8_cell("abc", 3, true, b, sizeof b), "abc");
    assert_string_equal(wl_utf8_cell("abcdef", 5, false, b, sizeof b), "ab...");
    assert_string_equal(wl_utf8_cell("abcdef", 3, false, b, sizeof b),
                        "abc"); /* no room for dots */
    /* a wide character that would straddle the cut leaves a space */
    assert_string_equal(
        wl_utf8_cell("\xE6\xA8\xA1\xE6\xA8\xA1\xE6\xA8\xA1\xE6\xA8\xA1", 6, true, b, sizeof b),
        "\xE6\xA8\xA1... ");
    /* a combining mark stays with its letter at the cut */
    assert_string_equal(wl_utf8_cell("e\xCC\x81"
                                     "bcdef",
                                     4, false, b, sizeof b),
                        "e\xCC\x81...");
    /* a small buffer ends the cell at a character boundary */
    assert_string_equal(wl_utf8_cell("\xC3\xA9\xC3\xA9", 4, true, b, 4), "\xC3\xA9 ");
    assert_string_equal(wl_utf8_cell("ab", 4, true, b, 1), "");
}

/* wl_read_stream grows its buffer from any start (here 2 bytes) and keeps
 * every byte, NULs included; a read error is returned with nothing kept. */
static void test_read_stream_whole_or_error(void **state)
{
    (void)state;
    char text[5000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)(i % 251);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, sizeof text, f), sizeof text);
    rewind(f);
    char *data = NULL;
    size_t n = 0;
    assert_int_equal(wl_read_stream(f, 2, SIZE_MAX, &data, &n), 0);
    assert_int_equal(n, sizeof text);
    assert_memory_equal(data, text, sizeof text);
    assert_int_equal(data[n], '\0');
    free(data);
    fclose(f);
    f = fopen("/", "r"); /* a directory opens on Linux; reading it fails */
    assert_non_null(f);
    data = NULL;
    assert_int_equal(wl_read_stream(f, 64, SIZE_MAX, &data, &n), EISDIR);
    assert_null(data);
    fclose(f);
}

/* wl_read_stream takes at most max bytes: a stream of exactly max is read
 * whole, a longer one is EFBIG after max + 1 bytes (not read to its end,
 * which an endless device never reaches), with nothing kept. */
static void test_read_stream_stops_after_max(void **state)
{
    (void)state;
    char text[5000];
    memset(text, 'a', sizeof text);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, sizeof text, f), sizeof text);
    rewind(f);
    char *data = NULL;
    size_t n = 0;
    assert_int_equal(wl_read_stream(f, 2, sizeof text, &data, &n), 0);
    assert_int_equal(n, sizeof text);
    assert_int_equal(data[n], '\0');
    free(data);
    /* unbuffered, so the file's offset is what was read */
    rewind(f);
    setvbuf(f, NULL, _IONBF, 0);
    data = NULL;
    n = 7;
    assert_int_equal(wl_read_stream(f, 2, 1000, &data, &n), EFBIG);
    assert_null(data);
    assert_int_equal(n, 7);
    assert_int_equal(ftell(f), 1001);
    /* max 0: only an empty stream fits */
    rewind(f);
    assert_int_equal(wl_read_stream(f, 64, 0, &data, &n), EFBIG);
    assert_null(data);
    fclose(f);
    f = tmpfile();
    assert_non_null(f);
    assert_int_equal(wl_read_stream(f, 64, 0, &data, &n), 0);
    assert_int_equal(n, 0);
    free(data);
    fclose(f);
    /* an endless stream ends at the limit (the old reader grew until
     * memory ran out) */
    f = fopen("/dev/zero", "rb");
    assert_non_null(f);
    data = NULL;
    assert_int_equal(wl_read_stream(f, 2, (size_t)1 << 20, &data, &n), EFBIG);
    assert_null(data);
    fclose(f);
}

/* Checks one fill of n bytes at buf + 1 (so an unaligned start is covered):
 * the bytes around it keep their canary, and the last 16 bytes of the fill
 * are not all the canary (the tail of the last piece or word is written). */
static void check_random_fill(void (*fill)(void *, size_t), unsigned char *buf, size_t n)
{
    memset(buf, 0xA5, n + 2);
    fill(buf + 1, n);
    assert_int_equal(buf[0], 0xA5);
    assert_int_equal(buf[n + 1], 0xA5);
    size_t same = 0, tail = n < 16 ? n : 16;
    for (size_t i = n + 1 - tail; i < n + 1; i++)
        same += buf[i] == 0xA5;
    assert_true(same < tail);
}

static void fill_system(void *out, size_t n)
{
    assert_true(wl_random_bytes(out, n)); /* the machine has getentropy */
}

/* wl_random_bytes (store UUIDs, the GGUF index keys) and its fallback fill
 * exactly n bytes, also past getentropy's 256-byte limit and in a partial
 * last word; two fills of the same size differ. */
static void test_random_bytes_fill_n_and_differ(void **state)
{
    (void)state;
    static const size_t sizes[] = {13, 16, 256, 300};
    void (*const fills[2])(void *, size_t) = {fill_system, wl__random_bytes_fallback};
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char a[302], b[302];
            check_random_fill(fills[f], a, sizes[i]);
            check_random_fill(fills[f], b, sizes[i]);
            assert_memory_not_equal(a + 1, b + 1, sizes[i]);
        }
    }
}

/* SipHash-1-3 with the zero key against CPython's bytes hash, which is
 * SipHash-1-3 with the key zeroed under PYTHONHASHSEED=0 (`PYTHONHASHSEED=0
 * python3 -c 'print(hash(b"abc") & (2**64 - 1))'`; CPython hashes b"" as 0
 * by a special case, so the empty input is not among them). */
static void test_siphash13_matches_cpython(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t h;
    } v[] = {
        {"a", 4644417185603328019ull},
        {"abc", 13851880170939887858ull},
        {"abcdefgh", 4574395652268504554ull},
        {"abcdefghi", 17913969820989044453ull},
        {"hello world, this is a longer string of bytes", 11534556568340026926ull},
    };
    const uint64_t zero[2] = {0, 0};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_true(wl_siphash13(zero, v[i].s, strlen(v[i].s)) == v[i].h);
}

/* Every length across the word boundaries, and the key changes the hash. */
static void test_siphash13_key_changes_every_length(void **state)
{
    (void)state;
    char msg[40];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)(i * 37 + 11);
    const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    const uint64_t other[2] = {key[0] ^ 1, key[1]};
    for (size_t n = 0; n <= sizeof msg; n++) {
        const uint64_t h = wl_siphash13(key, msg, n);
        assert_true(wl_siphash13(other, msg, n) != h);
        if (n > 0)
            assert_true(wl_siphash13(key, msg, n - 1) != h);
    }
}

/* Digits one by one: no sign, a stop at the first non-digit, overflow told. */
static void test_parse_u64_digits(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int rc;
        uint64_t v;
        size_t used;
    } c[] = {
        {"0", 0, 0, 1},
        {"42 kB", 0, 42, 2},
        {"18446744073709551615", 0, UINT64_MAX, 20},
        {"18446744073709551616x", WL_ERANGE, 0, 20},
        {"", WL_EFORMAT, 0, 0},
        {"-1", WL_EFORMAT, 0, 0},
        {"+1", WL_EFORMAT, 0, 0},
        {" 1", WL_EFORMAT, 0, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const char *p = c[i].s;
        uint64_t v = 0;
        assert_int_equal(wl_parse_u64_digits(&p, c[i].s + strlen(c[i].s), &v), c[i].rc);
        assert_int_equal((size_t)(p - c[i].s), c[i].used);
        if (c[i].rc == 0)
            assert_true(v == c[i].v);
    }
    const char *p = "123"; /* end cuts the digits */
    uint64_t v = 0;
    assert_int_equal(wl_parse_u64_digits(&p, p + 2, &v), 0);
    assert_true(v == 12);
}

/* One decimal grammar for a user's number (CLI options, WATTLENS_MODEL_*_W):
 * strtod's hex, inf, nan, blanks and '+' are not numbers; an underflow is
 * the nearest value, an overflow or a value outside the bounds WL_ERANGE. */
static void test_parse_decimal(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int rc;
        double v;
    } c[] = {
        {"0", 0, 0},
        {"12.5", 0, 12.5},
        {"-1.5", 0, -1.5},
        {".5", 0, 0.5},
        {"-.5", 0, -0.5},
        {"5.", 0, 5},
        {"1e3", 0, 1000},
        {"1E+3", 0, 1000},
        {"25e-1", 0, 2.5},
        {"1e-400", 0, 0},
        {"1e400", WL_ERANGE, 0},
        {"2e3", WL_ERANGE, 0},
        {"-2e3", WL_ERANGE, 0},
        {"", WL_EFORMAT, 0},
        {".", WL_EFORMAT, 0},
        {"-", WL_EFORMAT, 0},
        {"0x1p6", WL_EFORMAT, 0},
        {" 1", WL_EFORMAT, 0},
        {"1 ", WL_EFORMAT, 0},
        {"+1", WL_EFORMAT, 0},
        {"inf", WL_EFORMAT, 0},
        {"nan", WL_EFORMAT, 0},
        {"-inf", WL_EFORMAT, 0},
        {"1e", WL_EFORMAT, 0},
        {"1e+", WL_EFORMAT, 0},
        {"1-2", WL_EFORMAT, 0},
        {"1..2", WL_EFORMAT, 0},
        {"--1", WL_EFORMAT, 0},
        {"e5", WL_EFORMAT, 0},
        {"1,5", WL_EFORMAT, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double v = 42;
        const int rc = wl_parse_decimal(c[i].s, -1000, 1000, &v);
        if (rc != c[i].rc || v != (rc == 0 ? c[i].v : 42))
            fail_msg("'%s': rc %d, value %g", c[i].s, rc, v);
    }
    double v = 42;
    assert_int_equal(wl_parse_decimal("1e-320", 0, 1, &v), 0); /* a denormal */
    assert_true(v > 0 && v < 1e-300);
}

/* A finite real is a real; NaN and the infinities are null, never a
 * missing value (an object key dropped, an array item lost). */
static void test_json_real_or_null(void **state)
{
    (void)state;
    json_t *a = json_array();
    const double v[] = {1.5, NAN, INFINITY, -INFINITY, -0.25};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(json_array_append_new(a, wl_json_real_or_null(v[i])), 0);
    assert_int_equal(json_array_size(a), 5);
    assert_true(json_real_value(json_array_get(a, 0)) == 1.5);
    for (size_t i = 1; i < 4; i++)
        assert_true(json_is_null(json_array_get(a, i)));
    assert_true(json_real_value(json_array_get(a, 4)) == -0.25);
    json_decref(a);
}

/* Method keys and labels: every method has both, the key parses back, and
 * the label of "attributed" fits every attributed row. Layers, components
 * and ops are time shares of their forward pass, but an input token is an
 * equal share of its prompt batch and a sequence of a batched run equal
 * shares of its decode rounds, so the label says "share", not "time share". */
static void test_method_keys_and_labels(void **state)
{
    (void)state;
    for (int m = 0; m < WL_METHOD_COUNT; m++) {
        enum wl_method back;
        assert_string_not_equal(wl_method_key((enum wl_method)m), "?");
        assert_string_not_equal(wl_method_label((enum wl_method)m), "?");
        assert_int_equal(wl_method_parse(wl_method_key((enum wl_method)m), &back), 0);
        assert_int_equal(back, m);
        assert_string_equal(wl_method_key_or_null((enum wl_method)m),
                            wl_method_key((enum wl_method)m));
    }
    /* a value this build cannot read (the store's WL_METHOD_COUNT) is
     * unknown, for every output to show as null or n/a, not as "?" */
    assert_null(wl_method_key_or_null(WL_METHOD_COUNT));
    assert_null(wl_method_key_or_null((enum wl_method) - 1));
    assert_string_equal(wl_method_label(WL_METHOD_ATTRIBUTED), "attributed (share)");
    assert_null(strstr(wl_method_label(WL_METHOD_ATTRIBUTED), "time"));
    assert_string_equal(wl_method_label(WL_METHOD_COUNT), "?");
}

/* A set of domains as JSON names and back: domain order, every domain,
 * unknown names and non-strings skipped, a non-array is no domain. */
static void test_json_domain_names_round_trip(void **state)
{
    (void)state;
    const uint32_t all = (1u << WL_DOMAIN_COUNT) - 1;
    for (uint32_t mask = 0; mask <= all; mask++) {
        json_t *a = wl_json_domain_names(mask);
        assert_non_null(a);
        assert_int_equal(json_array_size(a), (size_t)__builtin_popcount(mask));
        assert_int_equal(wl_json_domain_mask(a), mask);
        json_decref(a);
    }
    json_t *a = wl_json_domain_names(1u << WL_DOMAIN_DRAM | 1u << WL_DOMAIN_PACKAGE);
    assert_string_equal(json_string_value(json_array_get(a, 0)), "package");
    assert_string_equal(json_string_value(json_array_get(a, 1)), "dram");
    json_decref(a);
    json_t *odd = json_pack("[s, i, s, n, s]", "gpu", 3, "no-such-domain", "dram");
    assert_int_equal(wl_json_domain_mask(odd), 1u << WL_DOMAIN_GPU | 1u << WL_DOMAIN_DRAM);
    json_decref(odd);
    json_t *obj = json_pack("{s:s}", "package", "package");
    assert_int_equal(wl_json_domain_mask(obj), 0);
    json_decref(obj);
    assert_int_equal(wl_json_domain_mask(NULL), 0);
}

/* An ASCII word anywhere in a text, ASCII case folded, other bytes as they
 * are (whatever the locale). */
/* mkdir -p: makes every missing parent, accepts one that exists, refuses a
 * file in the way and an empty path (which read a byte never written) */
static void test_mkdir_p(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    assert_int_equal(wl_mkdir_p(path), 0);
    assert_int_equal(wl_mkdir_p(path), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(path, sizeof path, "%s/f", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/f/g", dir);
    errno = 0;
    assert_int_equal(wl_mkdir_p(path), -1);
    assert_int_equal(errno, ENOTDIR);
    errno = 0;
    assert_int_equal(wl_mkdir_p(""), -1);
    assert_int_equal(errno, ENOENT);
    wl_test_rmtree(dir);
    free(dir);
}

static void test_ascii_contains_ci(void **state)
{
    (void)state;
    assert_true(wl_ascii_contains_ci("Power TOTAL", "total"));
    assert_true(wl_ascii_contains_ci("total", "total"));
    assert_true(wl_ascii_contains_ci("xxTotAl", "total"));
    assert_true(wl_ascii_contains_ci("anything", ""));
    assert_true(wl_ascii_contains_ci("", ""));
    assert_false(wl_ascii_contains_ci("", "a"));
    assert_false(wl_ascii_contains_ci("tota", "total"));
    assert_false(wl_ascii_contains_ci("t o t a l", "total"));
    assert_true(wl_ascii_contains_ci("ttotal", "total")); /* a false start */
    /* only A-Z fold: U+00C9 (\xc3\x89) is not U+00E9 (\xc3\xa9) */
    assert_false(wl_ascii_contains_ci("CAF\xc3\x89", "caf\xc3\xa9"));
    assert_true(wl_ascii_contains_ci("CAF\xc3\xa9", "caf\xc3\xa9"));
    /* '@' (0x40) and '[' (0x5b) are next to A-Z and do not fold */
    assert_false(wl_ascii_contains_ci("@", "`"));
    assert_false(wl_ascii_contains_ci("[", "{"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_distinct_name_and_message),
        cmocka_unit_test(test_errno_mapping),
        cmocka_unit_test(test_hugepage_accounting),
        cmocka_unit_test(test_hugepage_smaps_finds_the_mapping_holding_the_address),
        cmocka_unit_test(test_hugepage_smaps_refuses_malformed_counts),
        cmocka_unit_test(test_hugepage_smaps_headers_are_strict),
        cmocka_unit_test(test_hugepage_smaps_refuses_overflow),
        cmocka_unit_test(test_hugepage_meminfo_reads_file_huge_pages),
        cmocka_unit_test(test_hugepage_meminfo_refuses_malformed_and_overflow),
        cmocka_unit_test(test_hugepage_meminfo_long_line_is_one_line),
        cmocka_unit_test(test_log_level_parsing),
        cmocka_unit_test(test_monotonic_clock_advances_with_sleep),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_errmsg_returns_code_and_formats),
        cmocka_unit_test(test_errmsg_cut_between_characters),
        cmocka_unit_test(test_utf8_char_len_is_strict),
        cmocka_unit_test(test_utf8_copy_cuts_between_characters),
        cmocka_unit_test(test_utf8_clip_shows_the_cut),
        cmocka_unit_test(test_utf8_vformat_cuts_between_characters),
        cmocka_unit_test(test_utf8_md_escape),
        cmocka_unit_test(test_json_text_keeps_every_byte),
        cmocka_unit_test(test_utf8_cells_count_display_columns),
        cmocka_unit_test(test_utf8_escape_keeps_text_and_escapes_controls),
        cmocka_unit_test(test_utf8_escape_cuts_between_pieces),
        cmocka_unit_test(test_terminal_json_escapes_what_jansson_writes_raw),
        cmocka_unit_test(test_json_put_escapes_only_for_a_terminal),
        cmocka_unit_test(test_json_put_fails_whichever_write_fails),
        cmocka_unit_test(test_utf8_escape_output_never_controls),
        cmocka_unit_test(test_read_stream_whole_or_error),
        cmocka_unit_test(test_read_stream_stops_after_max),
        cmocka_unit_test(test_random_bytes_fill_n_and_differ),
        cmocka_unit_test(test_siphash13_matches_cpython),
        cmocka_unit_test(test_siphash13_key_changes_every_length),
        cmocka_unit_test(test_parse_u64_digits),
        cmocka_unit_test(test_parse_decimal),
        cmocka_unit_test(test_json_real_or_null),
        cmocka_unit_test(test_method_keys_and_labels),
        cmocka_unit_test(test_json_domain_names_round_trip),
        cmocka_unit_test(test_ascii_contains_ci),
        cmocka_unit_test(test_mkdir_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Transparent huge pages for large read-mostly mappings (model weights, the
 * bandwidth benchmark's buffer). Streaming a gigabyte through 4 KiB pages
 * costs a TLB miss per page and stops the hardware prefetchers at every page
 * boundary. On the development machine (session 9, docs/internals/kernels-decode.md)
 * a plain 2-thread read of a model file on 4 KiB pages ran at 0.92-0.95 of
 * 2 MiB pages, and decode at 0.97 (paired per-token runs). On Linux a file
 * mapping is PMD-mapped only when its page-cache folios are 2 MiB, which
 * happens when the file is read in (not written, copied or read()) through
 * a mapping advised with MADV_HUGEPAGE.
 * Stateless and thread-safe; no-ops (or WL_ENOTSUP) where unsupported.
 * The text of /proc/self/smaps and /proc/meminfo is parsed by the two
 * wl__hugepage_parse_* functions below (pure, over a buffer), which the
 * readers, the unit tests and tests/fuzz/fuzz_hugepage.c share.
 */
#ifndef WL_UTIL_HUGEPAGE_H
#define WL_UTIL_HUGEPAGE_H

#include <stddef.h>
#include <stdint.h>

/* Asks the kernel to back [addr, addr + len) with huge pages where it can
 * (madvise MADV_HUGEPAGE); best effort, errors ignored. */
void wl_hugepage_advise(void *addr, size_t len);

/* Resident and huge-page-mapped bytes of the mapping that contains addr,
 * from /proc/self/smaps (Rss; AnonHugePages + FilePmdMapped + ShmemPmdMapped).
 * 0, WL_ENOENT (no mapping contains addr) or WL_ENOTSUP (no smaps); the
 * parser's WL_EFORMAT / WL_ERANGE / WL_ENOMEM too, which a kernel's file
 * never gives. */
int wl_hugepage_mapped_bytes(const void *addr, uint64_t *rss_bytes, uint64_t *huge_bytes);

/* Bytes of file data the kernel holds in huge page-cache pages now
 * (FileHugePages in /proc/meminfo): above 0, this kernel can cache files
 * on 2 MiB pages. 0 or WL_ENOTSUP (no such field); the parser's
 * WL_EFORMAT / WL_ERANGE / WL_ENOMEM too, which a kernel's file never gives. */
int wl_hugepage_file_cache_bytes(uint64_t *bytes);

/* ---- the parsers behind the two readers --------------------------------------
 * Over the len bytes at text (any bytes, not NUL-terminated, the last line
 * with or without its newline). A counted line is "Key:", decimal digits
 * and "kB", with optional blanks (spaces, tabs) between them and after, as
 * the kernel writes them ("Rss:                 123 kB"; no sign, no "0x").
 * Both leave their outputs untouched when they fail. */

/* /proc/self/smaps: the block of the first mapping whose header line
 * "lo-hi perms ..." (lowercase hex, each at most as wide as a pointer) has
 * lo <= addr < hi runs to the next header line; in it the last "Rss:" line
 * gives *rss_bytes and the "AnonHugePages:", "FilePmdMapped:" and
 * "ShmemPmdMapped:" lines add up to *huge_bytes (an absent line counts 0;
 * other lines, "VmFlags: rd mr" among them, are skipped). 0, WL_ENOENT (no
 * header holds addr), WL_EFORMAT (one of those four lines is not a counted
 * line) or WL_ERANGE (its bytes, or their sum, exceed UINT64_MAX). */
int wl__hugepage_parse_smaps(const char *text, size_t len, uintptr_t addr, uint64_t *rss_bytes,
                             uint64_t *huge_bytes);

/* /proc/meminfo: the first line that starts "FileHugePages:", a counted
 * line, as bytes. 0, WL_ENOTSUP (no such line), WL_EFORMAT (not a counted
 * line) or WL_ERANGE (more than UINT64_MAX bytes). */
int wl__hugepage_parse_meminfo(const char *text, size_t len, uint64_t *file_huge_bytes);

#endif

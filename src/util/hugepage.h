/* Transparent huge pages for large read-mostly mappings (model weights, the
 * bandwidth benchmark's buffer). Streaming a gigabyte through 4 KiB pages
 * costs a TLB miss per page and stops the hardware prefetchers at every page
 * boundary. On the development machine (session 9, docs/internals/kernels.md)
 * a plain 2-thread read of a model file on 4 KiB pages ran at 0.92-0.95 of
 * 2 MiB pages, and decode at 0.97 (paired per-token runs). On Linux a file
 * mapping is PMD-mapped only when its page-cache folios are 2 MiB, which
 * happens when the file is read in (not written, copied or read()) through
 * a mapping advised with MADV_HUGEPAGE.
 * Stateless and thread-safe; no-ops (or WL_ENOTSUP) where unsupported.
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
 * 0, WL_ENOENT (no mapping contains addr) or WL_ENOTSUP (no smaps). */
int wl_hugepage_mapped_bytes(const void *addr, uint64_t *rss_bytes, uint64_t *huge_bytes);

/* Bytes of file data the kernel holds in huge page-cache pages now
 * (FileHugePages in /proc/meminfo): above 0, this kernel can cache files
 * on 2 MiB pages. 0 or WL_ENOTSUP (no such field). */
int wl_hugepage_file_cache_bytes(uint64_t *bytes);

#endif

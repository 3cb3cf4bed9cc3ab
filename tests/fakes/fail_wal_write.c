/* Test helper for tests/integration/test_run_store_error.sh, loaded with
 * LD_PRELOAD into wattlens: makes SQLite's writes to a write-ahead log
 * (a file whose name ends in "-wal") fail with EIO, chosen by what they
 * write, so that a commit fails at a fixed point without timing:
 *   WL_FAIL_WAL_ONCE=TEXT  the first write whose bytes hold TEXT fails, once
 *                          (the batch it commits is rolled back by SQLite,
 *                          and later batches are written as usual)
 *   WL_FAIL_WAL_FROM=TEXT  the first write whose bytes hold TEXT and every
 *                          write to a log after it fail (a disk gone bad)
 *   WL_FAIL_READS=1        with WL_FAIL_WAL_FROM, once it matched, reads of
 *                          a database (a file whose name ends in ".db") and
 *                          of its log fail too: nothing of the run can be
 *                          read back either
 * SQLite writes a log's frames with pwrite64 (header, then page): a page
 * holding TEXT in a row fails. Other calls are passed on unchanged
 * (RTLD_NEXT).
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static _Atomic int once_done; /* WL_FAIL_WAL_ONCE failed its write */
static _Atomic int from_on;   /* WL_FAIL_WAL_FROM matched: every log write fails */

static void *next_fn(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        abort(); /* a helper that cannot pass calls on must not pass silently */
    return f;
}

/* Whether fd's file name ends in suffix. */
static bool name_ends(int fd, const char *suffix)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    const size_t len = strlen(suffix);
    if (n < (ssize_t)len)
        return false;
    path[n] = '\0';
    return strcmp(path + n - len, suffix) == 0;
}

static bool is_wal(int fd)
{
    return name_ends(fd, "-wal");
}

/* Whether this read of fd must fail (WL_FAIL_READS). */
static bool read_must_fail(int fd)
{
    const char *on = getenv("WL_FAIL_READS");
    return on && strcmp(on, "1") == 0 && atomic_load(&from_on) &&
           (name_ends(fd, ".db") || name_ends(fd, "-wal"));
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
    static ssize_t (*next)(int, void *, size_t, off64_t);
    if (!next)
        next = (ssize_t(*)(int, void *, size_t, off64_t))next_fn("pread64");
    if (read_must_fail(fd)) {
        errno = EIO;
        return -1;
    }
    return next(fd, buf, n, off);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    return pread64(fd, buf, n, off);
}

ssize_t read(int fd, void *buf, size_t n)
{
    static ssize_t (*next)(int, void *, size_t);
    if (!next)
        next = (ssize_t(*)(int, void *, size_t))next_fn("read");
    if (read_must_fail(fd)) {
        errno = EIO;
        return -1;
    }
    return next(fd, buf, n);
}

static bool holds(const void *buf, size_t n, const char *text)
{
    return text && *text && memmem(buf, n, text, strlen(text)) != NULL;
}

/* Whether this write to fd must fail. */
static bool must_fail(int fd, const void *buf, size_t n)
{
    if (!is_wal(fd))
        return false;
    if (atomic_load(&from_on))
        return true;
    if (holds(buf, n, getenv("WL_FAIL_WAL_FROM"))) {
        atomic_store(&from_on, 1);
        return true;
    }
    return holds(buf, n, getenv("WL_FAIL_WAL_ONCE")) && !atomic_exchange(&once_done, 1);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    static ssize_t (*next)(int, const void *, size_t, off64_t);
    if (!next)
        next = (ssize_t(*)(int, const void *, size_t, off64_t))next_fn("pwrite64");
    if (must_fail(fd, buf, n)) {
        errno = EIO;
        return -1;
    }
    return next(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite64(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*next)(int, const void *, size_t);
    if (!next)
        next = (ssize_t(*)(int, const void *, size_t))next_fn("write");
    if (must_fail(fd, buf, n)) {
        errno = EIO;
        return -1;
    }
    return next(fd, buf, n);
}

/* Test helper for tests/integration/test_signal_windows.sh, loaded with
 * LD_PRELOAD into wattlens: raises a signal from inside the call that ends
 * one step, so that it lands at a fixed point between that step and the
 * next, without timing. Chosen by environment variables:
 *   WL_RAISE_SIGNAL=N          the signal raised (default SIGTERM)
 *   WL_RAISE_AFTER_EXEC=SQL    once, right after the first sqlite3_exec of
 *   WL_RAISE_ARMED_BY=PREFIX   exactly SQL (whatever its result) that comes
 *                              after a sqlite3_prepare_v2 of a statement
 *                              starting with PREFIX. wl_store_run_begin
 *                              prepares "INSERT INTO tokens " (its run's
 *                              statements), execs "BEGIN IMMEDIATE" (which
 *                              waits for another writer's lock), prepares
 *                              "INSERT INTO runs " and execs "COMMIT": the
 *                              run's row exists, status running
 *   WL_RAISE_AFTER_TMP=K:PATH  right after the K-th file named PATH.tmp.*
 *                              is created with O_CREAT | O_EXCL (open): an
 *                              output's temporary file (outfile.c:
 *                              create_tmp; K=1 is wl_outfile_open's probe,
 *                              K=2 the file wl_outfile_stream writes)
 * raise() sends the signal to the calling thread, the one that made the
 * call. Calls are passed on to the next definition (RTLD_NEXT) unchanged.
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static _Atomic int exec_armed; /* a statement starting with WL_RAISE_ARMED_BY was prepared */
static _Atomic int exec_done;  /* the signal was raised after WL_RAISE_AFTER_EXEC */
static _Atomic int tmp_seen;   /* PATH.tmp.* files created so far */

static int signal_to_raise(void)
{
    const char *s = getenv("WL_RAISE_SIGNAL");
    int sig = s ? atoi(s) : 0;
    return sig > 0 ? sig : SIGTERM;
}

static void *next_fn(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        abort(); /* a helper that cannot pass calls on must not pass silently */
    return f;
}

int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **st, const char **tail)
{
    static int (*next)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    if (!next)
        next = (int (*)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **))next_fn(
            "sqlite3_prepare_v2");
    const char *prefix = getenv("WL_RAISE_ARMED_BY");
    if (sql && prefix && *prefix && strncmp(sql, prefix, strlen(prefix)) == 0)
        atomic_store(&exec_armed, 1);
    return next(db, sql, n, st, tail);
}

int sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **), void *arg,
                 char **errmsg)
{
    static int (*next)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *,
                       char **);
    if (!next)
        next = (int (*)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *,
                        char **))next_fn("sqlite3_exec");
    int rc = next(db, sql, cb, arg, errmsg);
    const char *after = getenv("WL_RAISE_AFTER_EXEC");
    if (sql && after && strcmp(sql, after) == 0 && atomic_load(&exec_armed) &&
        !atomic_exchange(&exec_done, 1))
        raise(signal_to_raise());
    return rc;
}

/* after a successful create of the K-th PATH.tmp.* of WL_RAISE_AFTER_TMP */
static void after_open(const char *path, int flags, int fd)
{
    const char *spec = getenv("WL_RAISE_AFTER_TMP");
    const char *colon = spec ? strchr(spec, ':') : NULL;
    if (fd < 0 || !colon || (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL))
        return;
    const char *target = colon + 1;
    size_t n = strlen(target);
    if (strncmp(path, target, n) != 0 || strncmp(path + n, ".tmp.", 5) != 0)
        return;
    if (atomic_fetch_add(&tmp_seen, 1) + 1 == atoi(spec))
        raise(signal_to_raise());
}

typedef int (*open_fn)(const char *, int, ...);

/* open and open64: the next definition of sym (looked up once into *next),
 * with the mode when the flags create a file, then after_open. */
static int open_through(open_fn *next, const char *sym, const char *path, int flags, va_list ap)
{
    if (!*next)
        *next = (open_fn)next_fn(sym);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE))
        mode = (mode_t)va_arg(ap, int);
    int fd = (*next)(path, flags, mode);
    after_open(path, flags, fd);
    return fd;
}

int open(const char *path, int flags, ...)
{
    static open_fn next;
    va_list ap;
    va_start(ap, flags);
    int fd = open_through(&next, "open", path, flags, ap);
    va_end(ap);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    static open_fn next;
    va_list ap;
    va_start(ap, flags);
    int fd = open_through(&next, "open64", path, flags, ap);
    va_end(ap);
    return fd;
}

/* Error mapping and small statement helpers of the SQLite backend; see
 * sqlite_impl.h. Stateless apart from the connection passed in. */
#include "store/sqlite_impl.h"

#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int wl__code(int src)
{
    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return WL_EBUSY;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return WL_EFORMAT;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
        return WL_EACCES;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return WL_EINVAL;
    case SQLITE_FULL:
        return WL_EFULL;
    case SQLITE_IOERR:
        return WL_EIO;
    case SQLITE_NOMEM:
        return WL_ENOMEM;
    default:
        return WL_EDB;
    }
}

/* Whether src (an extended code) is SQLite's report of a failed read of a
 * file: the unix VFS says SQLITE_IOERR_CORRUPTFS for EIO (and ERANGE,
 * ENXIO), SQLITE_IOERR_READ for other errors. */
static bool wl__is_read_ioerr(int src)
{
#ifdef SQLITE_IOERR_CORRUPTFS
    if (src == SQLITE_IOERR_CORRUPTFS)
        return true;
#endif
    return src == SQLITE_IOERR_READ || src == SQLITE_IOERR_SHORT_READ;
}

/* Reads file f (size from its xFileSize) through its own methods, in
 * 64 KiB steps, until a read fails: the byte it started at into *at and
 * the errno the read left into *errno_out (0: unknown), and true; false
 * when every read succeeded. */
static bool wl__file_read_fails(sqlite3_file *f, int64_t *at, int *errno_out)
{
    enum { STEP = 64 * 1024 };
    sqlite3_int64 size = 0;
    if (!f || !f->pMethods || f->pMethods->xFileSize(f, &size) != SQLITE_OK)
        return false;
    char *buf = malloc(STEP);
    bool failed = false;
    for (sqlite3_int64 off = 0; buf && off < size && !failed; off += STEP) {
        const int n = size - off < STEP ? (int)(size - off) : STEP;
        errno = 0;
        const int rc = f->pMethods->xRead(f, buf, n, off);
        failed = rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ;
        if (failed) {
            *at = off;
            *errno_out = errno;
        }
    }
    free(buf);
    return failed;
}

int wl__read_fails(struct wl__db *d, char *buf, size_t size)
{
    sqlite3_file *files[2] = {NULL, NULL};
    static const char *const names[2] = {"", "-wal"};
    if (!d->db)
        return 0;
    sqlite3_file_control(d->db, "main", SQLITE_FCNTL_FILE_POINTER, &files[0]);
    sqlite3_file_control(d->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &files[1]);
    for (int i = 0; i < 2; i++) {
        int64_t at = 0;
        int e = 0;
        if (!wl__file_read_fails(files[i], &at, &e))
            continue;
        snprintf(buf, size, "%s at byte %lld of %s%s", e ? strerror(e) : "a read error",
                 (long long)at, d->path, names[i]);
        return e ? e : EIO;
    }
    return 0;
}

/* Maps a failed SQLite call to a WL_E* code with a message naming the file. */
int wl__fail(struct wl__db *d, int src, struct wl_errmsg *err, const char *what)
{
    int code = wl__code(src);
    const char *msg = d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(src);
    /* the extended code, when the call returned only the primary one (an
     * open without SQLITE_OPEN_EXRESCODE) */
    const int ext = d->db && (sqlite3_extended_errcode(d->db) & 0xff) == (src & 0xff)
                        ? sqlite3_extended_errcode(d->db)
                        : src;
    if (code == WL_EBUSY && d->busy_cancelled) {
        d->busy_cancelled = false;
        return wl_errmsg_set(err, WL_ECANCELED,
                             "%s: %s: stopped waiting for the database, which another process "
                             "holds locked (cancelled)",
                             d->path, what);
    }
    if (code == WL_EBUSY && d->busy_gave_up) {
        d->busy_gave_up = false;
        return wl_errmsg_set(err, code,
                             "%s: %s: the database is locked by another process "
                             "(waited %d ms); try again when it is done",
                             d->path, what, d->busy_timeout_ms);
    }
    if (code == WL_EBUSY) /* SQLite did not wait (it would deadlock with the holder) */
        return wl_errmsg_set(err, code,
                             "%s: %s: the database is locked by another process; try again "
                             "when it is done",
                             d->path, what);
    if (wl__is_read_ioerr(ext))
        return wl_errmsg_set(
            err, code, "%s: %s: an I/O error reading the file (SQLite: %s); " WL__READ_IOERR_HINT,
            d->path, what, msg);
    char failed[WL_STORE_PATH_MAX + 128];
    /* SQLite calls a database it cannot read "malformed" too (an EIO read
     * of a page came back as SQLITE_CORRUPT here): only a file that reads
     * back whole is called damaged */
    if ((src & 0xff) == SQLITE_CORRUPT && wl__read_fails(d, failed, sizeof failed) != 0)
        return wl_errmsg_set(
            err, WL_EIO,
            "%s: %s: an I/O error reading the file (%s; SQLite: %s); " WL__READ_IOERR_HINT, d->path,
            what, failed, msg);
    if ((src & 0xff) == SQLITE_CORRUPT)
        return wl_errmsg_set(err, code, "%s: %s: damaged database (SQLite: %s); " WL__SALVAGE_HINT,
                             d->path, what, msg);
    if (src == SQLITE_READONLY_DIRECTORY)
        return wl_errmsg_set(err, code,
                             "%s: %s: its directory is not writable by this user, and SQLite "
                             "keeps the write-ahead log (-wal, -shm) next to the database; "
                             "check the permissions of the directory",
                             d->path, what);
    if (code == WL_EACCES)
        return wl_errmsg_set(err, code,
                             "%s: %s: cannot write the database (%s); check the permissions of "
                             "the file and of its directory",
                             d->path, what, msg);
    return wl_errmsg_set(err, code, "%s: %s: %s", d->path, what, msg);
}

int wl__exec(struct wl__db *d, const char *sql, struct wl_errmsg *err, const char *what)
{
    int rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : wl__fail(d, rc, err, what);
}

int wl__prepare(struct wl__db *d, const char *sql, sqlite3_stmt **st, struct wl_errmsg *err)
{
    int rc = sqlite3_prepare_v2(d->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : wl__fail(d, rc, err, "preparing a query");
}

void wl__bind_double(sqlite3_stmt *st, int i, double v)
{
    if (v != v)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, v);
}

void wl__bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void wl__bind_int_or_null(sqlite3_stmt *st, int i, int64_t v, int64_t null_below)
{
    if (v < null_below)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, v);
}

double wl__col_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? WL_STORE_UNSET
                                                     : sqlite3_column_double(st, i);
}

int64_t wl__col_int(sqlite3_stmt *st, int i, int64_t if_null)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? if_null : sqlite3_column_int64(st, i);
}

char *wl__col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? strdup((const char *)s) : NULL;
}

char *wl__col_dup(sqlite3_stmt *st, int i, size_t *n)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    *n = s ? (size_t)sqlite3_column_bytes(st, i) : 0;
    char *d = s ? malloc(*n + 1) : NULL;
    if (!d) {
        *n = 0;
        return NULL;
    }
    memcpy(d, s, *n);
    d[*n] = '\0';
    return d;
}

void wl__col_copy(sqlite3_stmt *st, int i, char *buf, size_t size)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    wl_utf8_copy(buf, size, s ? (const char *)s : "");
}

/* Steps a statement that returns no rows, then resets it. */
int wl__step_done(struct wl__db *d, sqlite3_stmt *st, struct wl_errmsg *err, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : wl__fail(d, rc, err, what);
}

bool wl__txn_ended(const struct wl__db *d, bool was_in_txn)
{
    return was_in_txn && sqlite3_get_autocommit(d->db) != 0;
}

int64_t wl__file_bytes(const char *path)
{
    struct stat st;
    char wal[WL_STORE_PATH_MAX + 8];
    int64_t n = 0;
    if (stat(path, &st) == 0)
        n += (int64_t)st.st_size;
    snprintf(wal, sizeof wal, "%s-wal", path);
    if (stat(wal, &st) == 0)
        n += (int64_t)st.st_size;
    return n;
}

int64_t wl__now_ms(void)
{
    return wl_clock_realtime_ns() / 1000000;
}

int wl__pragma_int(struct wl__db *d, const char *sql, int64_t *out, struct wl_errmsg *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d, sql, &st, err);
    if (rc != 0)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = wl__fail(d, s, err, "reading the database header");
    sqlite3_finalize(st);
    return rc;
}

int wl__read_txn_begin(struct wl__db *d, bool *own, struct wl_errmsg *err, const char *what)
{
    *own = sqlite3_get_autocommit(d->db) != 0;
    const int rc = *own ? wl__exec(d, "BEGIN", err, what) : 0;
    if (rc != 0)
        *own = false;
    return rc;
}

void wl__read_txn_end(struct wl__db *d, bool own)
{
    /* a read transaction has nothing to commit: ROLLBACK ends it whether
     * its reads succeeded or not */
    if (own && sqlite3_get_autocommit(d->db) == 0)
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

/* The read-only open of the SQLite backend, which never creates or removes
 * a file next to the database: its VFS drops SQLITE_OPEN_CREATE and refuses
 * deletes, and -shm is opened with readonly_shm=1. It reads through a
 * writer's -wal and -shm when they exist, else falls back to an immutable
 * connection, but only when no write-ahead log frame can be missed
 * (docs/internals/store.md, "Reading a database this user cannot write").
 * The VFS is registered once (pthread_once) and never changed; the rest
 * works on one connection, as store_sqlite.c does.
 */
#include "store/sqlite_impl.h"

#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A write-ahead log no longer than its header holds no frames. */
#define WL__WAL_HEADER_BYTES 32

/* Whether the main file holds every committed change, so that reading it
 * as immutable (SQLite then ignores -wal, -shm and -journal) misses nothing
 * and shows nothing half-written: no write-ahead log with frames, no
 * rollback journal with content (a hot journal means the main file holds an
 * unfinished transaction). 0, or WL_EACCES with a message saying why not. */
static int wl__check_main_file_complete(const char *path, struct wl_errmsg *err)
{
    char side[WL_STORE_PATH_MAX + 16];
    struct stat st;
    snprintf(side, sizeof side, "%s-journal", path);
    if (stat(side, &st) == 0 && st.st_size > 0)
        return wl_errmsg_set(err, WL_EACCES,
                             "%s: cannot read the database: its rollback journal %s holds an "
                             "unfinished transaction that only a user who can write its "
                             "directory can roll back",
                             path, side);
    snprintf(side, sizeof side, "%s-wal", path);
    if (stat(side, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return wl_errmsg_set(err, WL_EACCES, "%s: cannot read the database: cannot check %s: %s",
                             path, side, strerror(errno));
    }
    if (st.st_size <= WL__WAL_HEADER_BYTES)
        return 0;
    int fd = open(side, O_RDONLY | O_CLOEXEC);
    char why[WL_STORE_PATH_MAX + 128];
    if (fd < 0) {
        snprintf(why, sizeof why, "this user cannot read it (%s)", strerror(errno));
    } else {
        close(fd);
        snprintf(why, sizeof why,
                 "using it needs its index %s-shm, which is missing or unreadable to this "
                 "user (a read-only open creates no file next to the database)",
                 path);
    }
    return wl_errmsg_set(err, WL_EACCES,
                         "%s: its write-ahead log %s holds changes that may not be in the "
                         "database file yet, and %s; refusing to show possibly stale runs. Open "
                         "it once as a user who can write its directory (closing merges the "
                         "log), or copy it with its -wal file to a writable directory",
                         path, side, why);
}

/* "file:" URI of path with a query, for SQLITE_OPEN_URI: bytes other than
 * unreserved ones and '/' are percent-escaped ('?', '#' and '%' in a name
 * stay part of it); an absolute path gets an empty authority ("file:///").
 * Returns a malloc'd string or NULL. */
static char *wl__file_uri(const char *path, const char *query)
{
    size_t size = 3 * strlen(path) + strlen(query) + 16, n = 0;
    char *uri = malloc(size);
    if (!uri)
        return NULL;
    n += (size_t)snprintf(uri, size, "file:%s", path[0] == '/' ? "//" : "");
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || strchr("/-._~", *c);
        if (plain)
            uri[n++] = (char)*c;
        else
            n += (size_t)snprintf(uri + n, size - n, "%%%02X", *c);
    }
    snprintf(uri + n, size - n, "?%s", query);
    return uri;
}

/* ---- reading without creating files ------------------------------------- */

/* The VFS of read-only opens: the default one, except that it creates and
 * deletes no file of the database (main file, -journal, -wal). SQLite opens
 * a WAL database's -wal with SQLITE_OPEN_CREATE even on a read-only
 * connection (and its -shm with O_CREAT unless readonly_shm=1), and a
 * read-only connection cannot remove them at close: a reader in a directory
 * it can write would leave both behind, owned by it, with the database
 * file's mode, and the database's owner could no longer write (in a sticky
 * directory such as /tmp not even remove them). Temporary files (no name)
 * are left alone. Registered once, never changed afterwards. */
#define WL__VFS_NOCREATE "wattlens-nocreate"
static sqlite3_vfs wl__vfs_nocreate;
static sqlite3_vfs *wl__vfs_base;
static int wl__vfs_status = SQLITE_ERROR;
static pthread_once_t wl__vfs_once = PTHREAD_ONCE_INIT;

static int wl__nocreate_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                             int *out_flags)
{
    (void)vfs;
    if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL)))
        flags &= ~SQLITE_OPEN_CREATE; /* a missing -wal is SQLITE_CANTOPEN */
    return wl__vfs_base->xOpen(wl__vfs_base, name, f, flags, out_flags);
}

static int wl__nocreate_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    (void)name;
    (void)sync_dir;
    return SQLITE_IOERR_DELETE; /* a reader never removes another user's log */
}

static void wl__vfs_register(void)
{
    wl__vfs_base = sqlite3_vfs_find(NULL);
    if (!wl__vfs_base)
        return;
    wl__vfs_nocreate = *wl__vfs_base; /* pAppData too: the base's methods may use it */
    wl__vfs_nocreate.zName = WL__VFS_NOCREATE;
    wl__vfs_nocreate.pNext = NULL;
    wl__vfs_nocreate.xOpen = wl__nocreate_open;
    wl__vfs_nocreate.xDelete = wl__nocreate_delete;
    wl__vfs_status = sqlite3_vfs_register(&wl__vfs_nocreate, 0);
}

/* Opens d->path read-only through the VFS above: -wal and -shm are used
 * when they exist (a live writer's, or a killed one's) and never created;
 * without them reading fails (SQLITE_CANTOPEN) and the caller may fall back
 * to wl__reopen_immutable. */
int wl__open_reader(struct wl__db *d, struct wl_errmsg *err)
{
    pthread_once(&wl__vfs_once, wl__vfs_register);
    if (wl__vfs_status != SQLITE_OK)
        return wl_errmsg_set(err, WL_EDB, "%s: cannot set up SQLite for reading (%s)", d->path,
                             sqlite3_errstr(wl__vfs_status));
    char *uri = wl__file_uri(d->path, "readonly_shm=1");
    if (!uri)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    int s =
        sqlite3_open_v2(uri, &d->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                        WL__VFS_NOCREATE);
    free(uri);
    if (s != SQLITE_OK)
        return wl__fail(d, s, err, "opening the database read-only");
    return 0;
}

/* A read-only open of a WAL database failed because its -wal or -shm is
 * missing or unreadable (wl__open_reader creates neither; existing readable
 * ones, a live writer's, are used). If the main file holds every committed
 * change, reopen it as immutable: no locks, no -wal/-shm. */
int wl__reopen_immutable(struct wl__db *d, struct wl_errmsg *err)
{
    int rc = wl__check_main_file_complete(d->path, err);
    if (rc != 0)
        return rc;
    char *uri = wl__file_uri(d->path, "immutable=1");
    if (!uri)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    sqlite3_close_v2(d->db);
    d->db = NULL;
    int s = sqlite3_open_v2(uri, &d->db,
                            SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    free(uri);
    if (s != SQLITE_OK)
        return wl__fail(d, s, err, "opening the database read-only");
    sqlite3_extended_result_codes(d->db, 1);
    wl__set_busy_handler(d);
    return 0;
}

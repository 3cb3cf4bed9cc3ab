/* The store's checks of a database file and its directory, by path, before
 * SQLite opens it (wl__sqlite_open, store_sqlite.c): the directories made,
 * a file that is not an SQLite database refused untouched, a file or
 * directory this user cannot write named, and why a new file could not be
 * made. None of them opens and closes a descriptor of the file itself
 * (that would drop other connections' POSIX locks on it). */
#include "store/sqlite_impl.h"
#include "util/mkdir_p.h"
#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory of path into dir: "." for a bare name, "/" for "/x.db". */
void wl__parent_dir(const char *path, char *dir, size_t size)
{
    snprintf(dir, size, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else
        slash[slash == dir ? 1 : 0] = '\0';
}

/* mkdir -p of path's directory (util/mkdir_p), naming the directory that
 * could not be made. A symbolic link to nothing there or just above (mkdir
 * finds the link, stat and mkdir below it do not) is named as one: "No
 * such file or directory" alone reads as a typo. */
int wl__make_parent_dirs(const char *path, char *made, size_t made_size, struct wl_errmsg *err)
{
    char dir[WL_STORE_PATH_MAX], failed[WL_STORE_PATH_MAX], link[WL_STORE_PATH_MAX] = "";
    wl__parent_dir(path, dir, sizeof dir);
    if (wl_mkdir_p_made(dir, made, made_size, failed, sizeof failed) == 0)
        return 0;
    const int e = errno;
    struct stat st;
    if (e == ENOENT && failed[0]) {
        char up[WL_STORE_PATH_MAX];
        wl__parent_dir(failed, up, sizeof up);
        const char *const cand[] = {failed, up};
        for (int i = 0; i < 2 && !link[0]; i++) {
            if (lstat(cand[i], &st) == 0 && S_ISLNK(st.st_mode))
                snprintf(link, sizeof link, "%s", cand[i]);
        }
    }
    if (link[0])
        return wl_errmsg_set(err, wl_error_from_errno(e),
                             "%s: cannot create directory %s: %s (%s is a symbolic link to a "
                             "directory that does not exist)",
                             path, failed, strerror(e), link);
    return wl_errmsg_set(err, wl_error_from_errno(e), "%s: cannot create directory %s: %s", path,
                         failed[0] ? failed : dir, strerror(e));
}

/* Creating path failed: when its directory is what this user cannot write
 * (SQLite only says "unable to open database file"), says so and returns
 * WL_EACCES; else 0. */
int wl__explain_create_failure(const char *path, struct wl_errmsg *err)
{
    char dir[WL_STORE_PATH_MAX];
    wl__parent_dir(path, dir, sizeof dir);
    if (access(dir, W_OK | X_OK) == 0)
        return 0;
    if (errno == EROFS)
        return wl_errmsg_set(err, WL_EACCES,
                             "%s: cannot create the database: its directory %s is on a read-only "
                             "file system; pass another path with --db or WATTLENS_DB",
                             path, dir);
    if (errno != EACCES)
        return 0;
    return wl_errmsg_set(err, WL_EACCES,
                         "%s: cannot create the database: its directory %s is not writable by "
                         "this user; check the permissions of the directory, or pass another "
                         "path with --db or WATTLENS_DB",
                         path, dir);
}

/* Reads the first n bytes of path into buf through SQLite's default VFS;
 * 0, 1 when the file is shorter (the rest of buf zeroed), or -1 when it
 * cannot be opened or read (an I/O error, which SQLite's open then says
 * itself). Not with an open()/close() of our own: closing any descriptor of a file drops every
 * POSIX lock this process holds on it, those of another SQLite connection
 * to it included, and the unix VFS keeps a descriptor it opened open until
 * no connection of the process holds a lock on the file. */
int wl__read_head(const char *path, void *buf, int n)
{
    sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
    sqlite3_file *f = vfs ? calloc(1, (size_t)vfs->szOsFile) : NULL;
    /* a main database's name as SQLite makes it (a VFS may look for URI
     * parameters after its end) */
    sqlite3_filename name = f ? sqlite3_create_filename(path, "", "", 0, NULL) : NULL;
    int out_flags = 0;
    int rc = -1;
    if (!name) {
        free(f);
        return -1;
    }
    if (vfs->xOpen(vfs, name, f, SQLITE_OPEN_READONLY | SQLITE_OPEN_MAIN_DB, &out_flags) ==
        SQLITE_OK) {
        const int s = f->pMethods->xRead(f, buf, n, 0);
        rc = s == SQLITE_OK ? 0 : s == SQLITE_IOERR_SHORT_READ ? 1 : -1;
        f->pMethods->xClose(f);
    } else if (f->pMethods) {
        f->pMethods->xClose(f); /* a failed xOpen may leave methods set */
    }
    sqlite3_free_filename(name);
    free(f);
    return rc;
}

/* Refuses files that are not SQLite databases before SQLite touches them. */
int wl__check_header(const char *path, bool must_exist, bool *exists, struct wl_errmsg *err)
{
    struct stat st;
    *exists = false;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && !must_exist)
            return 0;
        return wl_errmsg_set(err, wl_error_from_errno(errno), "%s: %s", path, strerror(errno));
    }
    *exists = true;
    if (S_ISDIR(st.st_mode))
        return wl_errmsg_set(err, WL_EINVAL, "%s: is a directory, not a database file", path);
    if (st.st_size == 0)
        return 0; /* an empty file becomes a new database (unless no_create) */
    if (faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) != 0)
        return wl_errmsg_set(err, wl_error_from_errno(errno), "%s: cannot read: %s", path,
                             strerror(errno));
    char hdr[16] = {0};
    const int got = wl__read_head(path, hdr, (int)sizeof hdr);
    if (got < 0)
        return 0; /* unreadable: SQLite's open fails and says why */
    if (got > 0 || memcmp(hdr, "SQLite format 3", 16) != 0)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "%s: not a wattlens database (not an SQLite file); refusing to "
                             "touch it - pass another path with --db or WATTLENS_DB",
                             path);
    return 0;
}

/* A writer needs to write the database file and, when they exist, its -wal
 * and -shm: when this user cannot, says which (before SQLite touches any of
 * them: it would open them read-only, create -wal and -shm to read, and fail
 * only at the first write, "attempt to write a readonly database") and
 * returns WL_EACCES; else 0. A read-only file is named whatever its
 * directory, and with the directory when that is not writable either (so
 * that fixing one does not meet a second refusal). In a directory this user
 * cannot write, a writable file is left to SQLite, which creates nothing and
 * says so itself (SQLITE_READONLY_DIRECTORY). */
int wl__check_writable(const char *path, struct wl_errmsg *err)
{
    char dir[WL_STORE_PATH_MAX];
    wl__parent_dir(path, dir, sizeof dir);
    const bool dir_ok = faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0;
    if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0 && (errno == EACCES || errno == EROFS)) {
        if (!dir_ok)
            return wl_errmsg_set(err, WL_EACCES,
                                 "%s: the database file is read-only, and its directory is not "
                                 "writable by this user either (SQLite keeps the write-ahead "
                                 "log, -wal and -shm, next to the database); check the "
                                 "permissions of both (or pass another path with --db)",
                                 path);
        return wl_errmsg_set(err, WL_EACCES,
                             "%s: the database file is read-only; check its permissions (or "
                             "pass another path with --db)",
                             path);
    }
    if (!dir_ok)
        return 0;
    static const char *const sides[] = {"-wal", "-shm"};
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        char side[WL_STORE_PATH_MAX + 16];
        struct stat st;
        snprintf(side, sizeof side, "%s%s", path, sides[i]);
        if (stat(side, &st) != 0 || faccessat(AT_FDCWD, side, W_OK, AT_EACCESS) == 0 ||
            errno != EACCES)
            continue;
        return wl_errmsg_set(
            err, WL_EACCES,
            "%s: cannot write the database: %s (owned by uid %ld) is not "
            "writable by this user (left by another program, or by a reader "
            "of an older wattlens); once no process uses the database, that file's "
            "owner or root can remove it",
            path, side, (long)st.st_uid);
    }
    return 0;
}

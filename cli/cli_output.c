/* A command's -o FILE, opened safely and finished with its errors checked;
 * see cli_output.h and docs/internals/cli_output.md. util/outfile.c owns the
 * file and its temporary file; this adds stdout, the database refusal and
 * the messages. Single-threaded. */
#include "cli_output.h"

#include "cli.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* True when fd is open on the file path names (the same inode), whatever
 * its access mode. */
static bool fd_is_file(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* True when path names the file open on fd for writing (the same inode):
 * written through that stream itself, so that `>>` still appends and what
 * the measured command printed there is kept. Not for a closed fd (main
 * put a read-only /dev/null there; see wl_cli_output_std_stream). */
static bool names_fd(const char *path, int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl != -1 && (fl & O_ACCMODE) != O_RDONLY && fd_is_file(fd, path);
}

/* The descriptor path names when it is an entry of this process's
 * descriptor directory: DIR/N with DIR resolving to /proc/<pid>/fd or
 * /proc/<pid>/task/<pid>/fd (/proc/self/fd/N, /dev/fd/N,
 * /proc/thread-self/fd/N in the main thread) and N written as the kernel
 * reads it (decimal, no leading zero); else -1. */
static int fd_dir_entry(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *num = slash ? slash + 1 : path;
    size_t len = strlen(num);
    if (len == 0 || len > 9 || strspn(num, "0123456789") != len || (num[0] == '0' && len > 1))
        return -1;
    char dir[PATH_MAX], real[PATH_MAX], want[64];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return -1;
    if (!realpath(dir, real))
        return -1;
    long pid = (long)getpid();
    snprintf(want, sizeof want, "/proc/%ld/fd", pid);
    bool ours = strcmp(real, want) == 0;
    snprintf(want, sizeof want, "/proc/%ld/task/%ld/fd", pid, pid);
    return ours || strcmp(real, want) == 0 ? atoi(num) : -1;
}

/* The descriptor path is a name of (fd_dir_entry), itself or through
 * symlinks followed one at a time (/dev/stdout -> /proc/self/fd/1); -1 for
 * any other name. The descriptor's own link is not followed: it leads to
 * the file open there, which for a descriptor that was closed at start-up
 * is the placeholder /dev/null, so a name compared by inode could not tell
 * `-o /dev/stdout >&-` from `-o /dev/null >&-`. */
static int descriptor_name(const char *path)
{
    char cur[PATH_MAX], link[PATH_MAX];
    if (strlen(path) >= sizeof cur)
        return -1;
    snprintf(cur, sizeof cur, "%s", path);
    for (int hops = 0; hops < 40; hops++) { /* the kernel's limit on links */
        int fd = fd_dir_entry(cur);
        if (fd >= 0)
            return fd;
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
            return -1;
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n <= 0)
            return -1;
        link[n] = '\0';
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) {
            snprintf(cur, sizeof cur, "%s", link);
        } else { /* relative to the link's directory */
            size_t dlen = (size_t)(slash - cur) + 1;
            if (dlen + (size_t)n >= sizeof cur)
                return -1;
            memcpy(cur + dlen, link, (size_t)n + 1);
        }
    }
    return -1;
}

FILE *wl_cli_output_std_stream(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    /* stdout or stderr was closed (`>&-`): a name of it is that stream, so
     * that writing fails (EBADF) as for `-`, not the placeholder's
     * /dev/null reopened for writing, which would drop the output and
     * report success */
    if (wl_cli_std_fd_closed(STDOUT_FILENO) || wl_cli_std_fd_closed(STDERR_FILENO)) {
        int fd = descriptor_name(path);
        if (fd == STDOUT_FILENO && wl_cli_std_fd_closed(fd))
            return stdout;
        if (fd == STDERR_FILENO && wl_cli_std_fd_closed(fd))
            return stderr;
    }
    if (names_fd(path, STDOUT_FILENO))
        return stdout;
    return names_fd(path, STDERR_FILENO) ? stderr : NULL;
}

bool wl_cli_output_is_file(const char *out, const char *path)
{
    FILE *f = wl_cli_output_std_stream(out);
    return f ? fd_is_file(fileno(f), path) : wl_outfile_same_file(out, path);
}

/* True, after printing why, when writing path (NULL or "-": stdout) would
 * write the run database at db_path (NULL: the default) or a companion file
 * of SQLite's: the same file through any name or link, or the same name
 * when it does not exist yet (a -wal written by someone else would be taken
 * for SQLite's); for stdout or stderr, the file open there
 * (wl_cli_output_is_file: `-o - 1<>DB`). The temporary file is a new name
 * (O_EXCL, util/outfile.c), never one of these. */
static bool is_database(const char *cmd, const char *path, const char *db_path)
{
    char def[WL_STORE_PATH_MAX];
    if (!db_path) {
        if (wl_store_default_path(def, sizeof def) != 0)
            return false;
        db_path = def;
    }
    if (!*db_path)
        return false;
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    bool same = false;
    size_t i;
    for (i = 0; i < sizeof suffix / sizeof suffix[0] && !same; i++) {
        char db[WL_STORE_PATH_MAX + 16];
        snprintf(db, sizeof db, "%s%s", db_path, suffix[i]);
        same = wl_cli_output_is_file(path, db);
    }
    if (same) {
        i--;
        wl_cli_fail(cmd,
                    "refusing to write the output to %s: it is the run database%s%s%s; "
                    "choose another file",
                    path && strcmp(path, "-") != 0 ? path : "stdout", i ? "'s " : "",
                    i ? suffix[i] + 1 : "", i ? " file" : "");
    }
    return same;
}

int wl_cli_output_open(struct wl_cli_output *o, const char *cmd, const char *path,
                       const char *db_path)
{
    *o = (struct wl_cli_output){.cmd = cmd, .path = "-"};
    if (path && !*path)
        return wl_cli_usage_error(cmd, "--output needs a file name (it is empty; '-' is stdout)");
    if (is_database(cmd, path, db_path))
        return WL_EXIT_USAGE;
    if (!path || strcmp(path, "-") == 0) {
        o->kind = WL_CLI_OUTPUT_STDOUT;
        o->std = stdout;
        return WL_EXIT_OK;
    }
    o->path = path;
    if ((o->std = wl_cli_output_std_stream(path))) {
        o->kind = WL_CLI_OUTPUT_STDOUT;
        return WL_EXIT_OK;
    }
    if (wl_outfile_open(&o->file, path, 0) != 0) {
        int e = o->file.errnum;
        const char *hint = o->file.hint;
        *o = (struct wl_cli_output){.cmd = cmd, .path = path};
        return wl_cli_fail(cmd, "cannot write %s: %s%s", path, hint, strerror(e));
    }
    if (o->file.kind == WL_OUTFILE_DIRECT) {
        o->kind = WL_CLI_OUTPUT_DIRECT;
        o->f = o->file.f;
    } else {
        o->kind = WL_CLI_OUTPUT_REPLACE;
    }
    return WL_EXIT_OK;
}

FILE *wl_cli_output_stream(struct wl_cli_output *o)
{
    if (o->f || o->kind == WL_CLI_OUTPUT_NONE)
        return o->f;
    if (o->kind == WL_CLI_OUTPUT_STDOUT) {
        o->f = o->std;
        return o->f;
    }
    o->f = wl_outfile_stream(&o->file);
    if (!o->f)
        wl_cli_fail(o->cmd, "cannot write %s: %s%s", o->path, o->file.hint,
                    strerror(o->file.errnum));
    return o->f;
}

int wl_cli_output_close(struct wl_cli_output *o, bool complete, int errnum)
{
    bool failed = false; /* a write failed: reported here */
    int werr = 0;        /* its cause (0: unknown) */
    if (o->f && ferror(o->f)) {
        failed = true;
        werr = errnum;
    }
    int rc = WL_EXIT_OK;
    if (o->kind == WL_CLI_OUTPUT_STDOUT) {
        errno = 0;
        if (o->f && !failed && complete && (fflush(o->f) != 0 || ferror(o->f))) {
            failed = true;
            werr = errno;
        }
    } else if (wl_outfile_close(&o->file, complete && !failed) != 0) {
        if (o->file.step == WL_OUTFILE_STEP_RENAME) {
            rc = wl_cli_fail(o->cmd, "cannot replace %s: %s", o->path, strerror(o->file.errnum));
        } else {
            failed = true;
            werr = o->file.errnum;
        }
    }
    if (!complete || failed)
        rc = WL_EXIT_FAIL;
    if (failed)
        wl_cli_output_error(o->cmd, werr);
    *o = (struct wl_cli_output){.cmd = o->cmd, .path = o->path};
    return rc;
}

/* A command's -o FILE, opened safely and finished with its errors checked;
 * see cli_output.h and docs/internals/cli_output.md. util/outfile.c owns the
 * file and its temporary file; this adds stdout, the database refusal and
 * the messages. Single-threaded. */
#include "cli_output.h"

#include "cli.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
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
 * the measured command printed there is kept. */
static bool names_fd(const char *path, int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl != -1 && (fl & O_ACCMODE) != O_RDONLY && fd_is_file(fd, path);
}

FILE *wl_cli_output_std_stream(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    /* stdout or stderr was closed (`>&-`): its stand-in is a pipe that
     * only a name of that descriptor reaches (/dev/stdout, /proc/self/fd/1),
     * and such a name is that stream, so that writing fails (EBADF) as for
     * `-`; /dev/null is just /dev/null */
    if (wl_cli_std_fd_closed(STDOUT_FILENO) && fd_is_file(STDOUT_FILENO, path))
        return stdout;
    if (wl_cli_std_fd_closed(STDERR_FILENO) && fd_is_file(STDERR_FILENO, path))
        return stderr;
    if (names_fd(path, STDOUT_FILENO))
        return stdout;
    return names_fd(path, STDERR_FILENO) ? stderr : NULL;
}

bool wl_cli_output_is_file(const char *out, const char *path)
{
    FILE *f = wl_cli_output_std_stream(out);
    return f ? fd_is_file(fileno(f), path) : wl_outfile_same_file(out, path);
}

/* The temporary file is a new name (O_EXCL, util/outfile.c), never one of
 * the database's files, so checking the target is enough. */
bool wl_cli_output_is_database(const char *cmd, const char *path, const char *db_path)
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
    if (wl_cli_output_is_database(cmd, path, db_path))
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

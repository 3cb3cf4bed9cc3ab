/* A command's -o FILE, opened safely and finished with its errors checked;
 * see cli_output.h and docs/internals/cli_output.md. Owns the temporary file
 * from its creation to its rename or removal. Single-threaded (it reads the
 * umask by setting it back). */
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

/* symlinks followed before giving up with ELOOP, as the kernel does */
#define WL_CLI_OUTPUT_MAX_LINKS 40

/* the temporary file's name: the target's, then this, then mkstemp's six */
#define WL_CLI_OUTPUT_TMP_SUFFIX ".tmp.XXXXXX"

/* errno after a call that failed (EIO if it left none, which they do not). */
static int last_errno(void)
{
    return errno ? errno : EIO;
}

/* path's directory part as a new string: "." when it has none, "/" for
 * "/name". NULL when out of memory. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* dir + "/" + name as a new string (NULL when out of memory). */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    const char *sep = n > 0 && dir[n - 1] != '/' ? "/" : "";
    size_t size = n + strlen(sep) + strlen(name) + 1;
    char *p = malloc(size);
    if (p)
        snprintf(p, size, "%s%s%s", dir, sep, name);
    return p;
}

static bool under(const char *path, const char *root)
{
    size_t n = strlen(root);
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* True when path's directory, symlinks resolved, is /dev or /proc or below:
 * device nodes and the kernel's descriptor links (/dev/stdout ->
 * /proc/self/fd/1 -> whatever fd 1 is, even "pipe:[123]"), which are opened
 * as they are and never renamed over. */
static bool in_system_dir(const char *path)
{
    char *dir = dir_of(path);
    char *real = dir ? realpath(dir, NULL) : NULL;
    bool sys = real && (under(real, "/dev") || under(real, "/proc"));
    free(real);
    free(dir);
    return sys;
}

/* What path names once its symlinks are followed (a dangling one too,
 * unlike realpath, since writing through it creates its target).
 * *target (heap): the last name reached; *exists and *st: its lstat; *sys:
 * a name on the way lies in /dev or /proc (the walk stops there). Returns 0
 * or an errno value. */
static int follow_links(const char *path, char **target, struct stat *st, bool *exists, bool *sys)
{
    *exists = false;
    *sys = false;
    int e = 0;
    char *cur = strdup(path);
    for (int hops = 0; cur; hops++) {
        if (in_system_dir(cur)) {
            *sys = true;
            *exists = stat(cur, st) == 0;
            break;
        }
        if (lstat(cur, st) != 0) {
            e = last_errno();
            if (e == ENOENT) /* a new file (or a missing directory, found when written) */
                e = 0;
            break;
        }
        if (!S_ISLNK(st->st_mode)) {
            *exists = true;
            break;
        }
        char link[PATH_MAX];
        ssize_t n = hops < WL_CLI_OUTPUT_MAX_LINKS ? readlink(cur, link, sizeof link - 1) : -1;
        if (n < 0) {
            e = hops < WL_CLI_OUTPUT_MAX_LINKS ? last_errno() : ELOOP;
            break;
        }
        link[n] = '\0';
        /* a relative link is relative to the directory holding it */
        char *dir = link[0] == '/' ? NULL : dir_of(cur);
        char *next = link[0] == '/' ? strdup(link) : dir ? join(dir, link) : NULL;
        free(dir);
        free(cur);
        cur = next;
    }
    if (!cur && e == 0)
        e = ENOMEM;
    if (e != 0) {
        free(cur);
        cur = NULL;
    }
    *target = cur;
    return e;
}

/* One spelling of the file path names, for comparing names of files that
 * may not exist yet: links followed, then realpath of the file, or of its
 * directory plus its name. NULL when the directory does not resolve. */
static char *canonical(const char *path)
{
    char *target;
    struct stat st;
    bool exists, sys;
    if (follow_links(path, &target, &st, &exists, &sys) != 0)
        return NULL;
    char *real = realpath(target, NULL);
    if (!real) {
        char *dir = dir_of(target);
        char *rdir = dir ? realpath(dir, NULL) : NULL;
        const char *slash = strrchr(target, '/');
        real = rdir ? join(rdir, slash ? slash + 1 : target) : NULL;
        free(rdir);
        free(dir);
    }
    free(target);
    return real;
}

/* True, after printing why, when writing path would write the run database
 * at db_path (NULL: the default) or a companion file of SQLite's: the same
 * file through any name or link, or the same name when it does not exist
 * yet (a -wal written by someone else would be taken for SQLite's). The
 * temporary file is a new name (mkstemp, O_EXCL), never one of these. */
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
    struct stat out;
    bool out_exists = stat(path, &out) == 0;
    char *out_name = canonical(path);
    bool same = false;
    size_t i;
    for (i = 0; i < sizeof suffix / sizeof suffix[0] && !same; i++) {
        char db[WL_STORE_PATH_MAX + 16];
        struct stat st;
        snprintf(db, sizeof db, "%s%s", db_path, suffix[i]);
        if (out_exists && stat(db, &st) == 0 && st.st_dev == out.st_dev &&
            st.st_ino == out.st_ino) {
            same = true;
        } else if (out_name) {
            char *db_name = canonical(db);
            same = db_name && strcmp(db_name, out_name) == 0;
            free(db_name);
        }
    }
    free(out_name);
    if (same) {
        i--;
        wl_cli_fail(cmd,
                    "refusing to write the output to %s: it is the run database%s%s%s; "
                    "choose another file",
                    path, i ? "'s " : "", i ? suffix[i] + 1 : "", i ? " file" : "");
    }
    return same;
}

/* True when path is this process's stdout (/dev/stdout, /proc/self/fd/1):
 * written through stdout itself, so that `>>` still appends and what the
 * measured command printed there is kept. Not when stdout was closed (main
 * put a read-only /dev/null there). */
static bool is_stdout(const char *path)
{
    struct stat a, b;
    int fl = fcntl(STDOUT_FILENO, F_GETFL);
    return fl != -1 && (fl & O_ACCMODE) != O_RDONLY && fstat(STDOUT_FILENO, &a) == 0 &&
           stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* A new temporary file next to o->target (mode 0600), close-on-exec. */
static int create_tmp(struct wl_cli_output *o)
{
    size_t n = strlen(o->target) + sizeof WL_CLI_OUTPUT_TMP_SUFFIX;
    o->tmp = malloc(n);
    if (!o->tmp)
        return -1;
    snprintf(o->tmp, n, "%s%s", o->target, WL_CLI_OUTPUT_TMP_SUFFIX);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        free(o->tmp);
        o->tmp = NULL;
        return -1;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

/* The temporary file's mode: an existing file's own (its owner and group
 * too when allowed, i.e. as root; when the group cannot be kept, its group
 * bits are dropped rather than given to another group), else a new file's,
 * 0666 less the umask, as the shell's `>` makes it. Best effort: mkstemp's
 * 0600 stays if fchmod fails, which gives nobody more. */
static void set_mode(int fd, const char *target)
{
    struct stat old, now;
    if (lstat(target, &old) != 0 || !S_ISREG(old.st_mode)) {
        mode_t mask = umask(0);
        umask(mask);
        (void)fchmod(fd, 0666 & ~mask);
        return;
    }
    if (fstat(fd, &now) == 0 && (now.st_uid != old.st_uid || now.st_gid != old.st_gid)) {
        if (fchown(fd, old.st_uid, old.st_gid) != 0) {
            /* not root: the file becomes ours; the group is checked below */
        }
    }
    mode_t mode = old.st_mode & 07777;
    if (fstat(fd, &now) != 0 || now.st_gid != old.st_gid)
        mode &= ~(mode_t)(S_IRWXG | S_ISGID);
    (void)fchmod(fd, mode);
}

/* fsync: on disk before the rename, so that a crash leaves the old file or
 * the whole new one. EINVAL, ENOTSUP: a file system that cannot sync, with
 * nothing to wait for. errno is kept when it fails. */
static bool synced(int fd)
{
    return fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP;
}

int wl_cli_output_open(struct wl_cli_output *o, const char *cmd, const char *path,
                       const char *db_path)
{
    *o = (struct wl_cli_output){.cmd = cmd, .path = "-"};
    if (!path || strcmp(path, "-") == 0) {
        o->kind = WL_CLI_OUTPUT_STDOUT;
        return WL_EXIT_OK;
    }
    if (!*path)
        return wl_cli_usage_error(cmd, "--output needs a file name (it is empty; '-' is stdout)");
    o->path = path;
    if (is_database(cmd, path, db_path))
        return WL_EXIT_USAGE;
    if (is_stdout(path)) {
        o->kind = WL_CLI_OUTPUT_STDOUT;
        return WL_EXIT_OK;
    }
    struct stat st;
    bool exists, sys;
    const char *how = "";
    int e = follow_links(path, &o->target, &st, &exists, &sys);
    if (e == 0 && exists && S_ISDIR(st.st_mode))
        e = EISDIR;
    if (e != 0)
        goto fail;
    if (sys || (exists && !S_ISREG(st.st_mode))) {
        /* as the shell's `>` opens it; a FIFO waits here for its reader */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY | O_CLOEXEC, 0666);
        o->f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!o->f) {
            e = last_errno();
            if (fd >= 0)
                close(fd);
            goto fail;
        }
        o->kind = WL_CLI_OUTPUT_DIRECT;
        return WL_EXIT_OK;
    }
    /* a file the shell could not write is not replaced either */
    if (exists && access(o->target, W_OK) != 0) {
        e = last_errno();
        goto fail;
    }
    /* can a file be made next to it? (made for real when the output is
     * written, so that none lies around while a measured command runs) */
    int fd = create_tmp(o);
    if (fd < 0) {
        e = last_errno();
        if (exists) /* the file itself could be written: say why that is not enough */
            how = "cannot create a file next to it (it is replaced by a new one once written): ";
        goto fail;
    }
    close(fd);
    unlink(o->tmp);
    free(o->tmp);
    o->tmp = NULL;
    o->kind = WL_CLI_OUTPUT_REPLACE;
    return WL_EXIT_OK;
fail:
    free(o->target);
    *o = (struct wl_cli_output){.cmd = cmd, .path = path};
    return wl_cli_fail(cmd, "cannot write %s: %s%s", path, how, strerror(e));
}

FILE *wl_cli_output_stream(struct wl_cli_output *o)
{
    if (o->f || o->kind != WL_CLI_OUTPUT_REPLACE) {
        if (o->kind == WL_CLI_OUTPUT_STDOUT)
            o->f = stdout;
        return o->f;
    }
    int fd = create_tmp(o);
    if (fd < 0) {
        wl_cli_fail(o->cmd, "cannot write %s: %s", o->path, strerror(errno));
        return NULL;
    }
    set_mode(fd, o->target);
    o->f = fdopen(fd, "w");
    if (!o->f) {
        wl_cli_fail(o->cmd, "cannot write %s: %s", o->path, strerror(errno));
        close(fd);
        unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
    }
    return o->f;
}

int wl_cli_output_close(struct wl_cli_output *o, bool complete, int errnum)
{
    bool failed = false; /* a write failed: reported here */
    int werr = 0;        /* its cause (0: unknown) */
    if (o->f) {
        if (ferror(o->f)) {
            failed = true;
            werr = errnum;
        } else if (complete) {
            errno = 0;
            if (fflush(o->f) != 0 || ferror(o->f) ||
                (o->kind == WL_CLI_OUTPUT_REPLACE && !synced(fileno(o->f)))) {
                failed = true;
                werr = errno;
            }
        }
        if (o->f != stdout) {
            errno = 0;
            /* close also reports errors that show only then (NFS) */
            if (fclose(o->f) != 0 && complete && !failed) {
                failed = true;
                werr = errno;
            }
        }
        o->f = NULL;
    }
    int rc = complete && !failed ? WL_EXIT_OK : WL_EXIT_FAIL;
    if (o->tmp) {
        if (rc == WL_EXIT_OK && rename(o->tmp, o->target) != 0) {
            rc = wl_cli_fail(o->cmd, "cannot replace %s: %s", o->path, strerror(errno));
            unlink(o->tmp);
        } else if (rc != WL_EXIT_OK) {
            unlink(o->tmp); /* the old file stays as it was */
        }
    }
    if (failed)
        wl_cli_output_error(o->cmd, werr);
    free(o->tmp);
    free(o->target);
    *o = (struct wl_cli_output){.cmd = o->cmd, .path = o->path};
    return rc;
}

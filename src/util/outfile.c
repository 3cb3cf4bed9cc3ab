/* Output files replaced atomically or written in place; see outfile.h and
 * docs/internals/outfile.md. Owns the temporary file from its creation to
 * its rename or removal, and the stream. Global state: the names of the
 * temporary files that exist, for the SIGINT/SIGTERM/SIGHUP cleanup below.
 */
#include "util/outfile.h"

#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/vfs.h>
#endif
#include <time.h>
#include <unistd.h>

/* symlinks followed before giving up with ELOOP, as the kernel does */
#define WL_OUTFILE_MAX_LINKS 40

/* the temporary file's name: the target's, then ".tmp.", then six of these */
#define WL_OUTFILE_TMP_SUFFIX ".tmp.XXXXXX"
#define WL_OUTFILE_TMP_RANDOM 6

/* names tried before giving up on EEXIST (each is new with odds 62^6) */
#define WL_OUTFILE_TMP_TRIES 100

static const char wl__outfile_hint_next_to[] =
    "cannot create a file next to it (it is replaced by a new one once written): ";

/* errno after a call that failed (EIO if it left none, which they do not). */
static int last_errno(void)
{
    return errno ? errno : EIO;
}

/* --- removing temporary files when the process is stopped -------------
 * A temporary file exists from wl_outfile_stream to wl_outfile_close. If
 * SIGINT, SIGTERM or SIGHUP ends the process meanwhile (kill, timeout,
 * Ctrl-C during `model quantize`), the default action would leave it, up to
 * a model's size. While one is registered, those of the three signals whose
 * disposition is the default get a handler that removes the registered
 * files and ends the process by the same signal (default action, re-raised);
 * a program's own handler, or an ignored signal, is left alone (run and
 * measure have their own: their temporary file can stay when they are
 * killed while writing). When the last is unregistered, the default
 * dispositions are restored. The three are blocked from just before a
 * temporary file is made until it is registered (or, for the probe of
 * wl_outfile_open, removed), so none lands between the two. The handler
 * only reads atomics and static buffers and calls unlink, sigaction and
 * raise: async-signal-safe. */

/* temporary files at once (threads writing outputs); more go unprotected */
#define WL_OUTFILE_SLOTS 8

enum { SLOT_FREE, SLOT_BUSY, SLOT_SET };
static _Atomic int cleanup_state[WL_OUTFILE_SLOTS];
static char cleanup_path[WL_OUTFILE_SLOTS][PATH_MAX];
static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};
static bool cleanup_installed[sizeof cleanup_signals / sizeof cleanup_signals[0]];
static int cleanup_count;
/* slot allocation, counting and (un)installing; never taken by the handler */
static pthread_mutex_t cleanup_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_stop_signal(int sig)
{
    int saved = errno;
    for (int i = 0; i < WL_OUTFILE_SLOTS; i++)
        if (atomic_load(&cleanup_state[i]) == SLOT_SET)
            unlink(cleanup_path[i]);
    /* only now the default action again: with SA_RESETHAND a second signal
     * arriving before the unlink (timeout(1) signals the child, then its
     * whole group) killed the process with the file still there. The three
     * signals are blocked while this runs, so the re-raised one ends the
     * process as it would have once we return (another pending one of the
     * three runs this handler again first, harmlessly). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    errno = saved;
    raise(sig);
}

static bool is_default(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_DFL;
}

static bool is_ours(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == on_stop_signal;
}

/* Registers path for removal on a stop signal; returns its slot, or -1 when
 * it is not protected (too long, every slot taken). */
static int cleanup_register(const char *path)
{
    if (strlen(path) >= PATH_MAX)
        return -1;
    pthread_mutex_lock(&cleanup_lock);
    int slot = -1;
    for (int i = 0; i < WL_OUTFILE_SLOTS && slot < 0; i++)
        if (atomic_load(&cleanup_state[i]) == SLOT_FREE)
            slot = i;
    if (slot >= 0) {
        atomic_store(&cleanup_state[slot], SLOT_BUSY);
        strcpy(cleanup_path[slot], path);
        atomic_store(&cleanup_state[slot], SLOT_SET);
        if (cleanup_count++ == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_stop_signal;
            sa.sa_flags = 0;
            sigemptyset(&sa.sa_mask);
            for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++)
                sigaddset(&sa.sa_mask, cleanup_signals[i]);
            for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++) {
                struct sigaction cur;
                cleanup_installed[i] = sigaction(cleanup_signals[i], NULL, &cur) == 0 &&
                                       is_default(&cur) &&
                                       sigaction(cleanup_signals[i], &sa, NULL) == 0;
            }
        }
    }
    pthread_mutex_unlock(&cleanup_lock);
    return slot;
}

/* Forgets a slot of cleanup_register (-1: none); the last one restores the
 * default actions it replaced (unless the program has set another since). */
static void cleanup_unregister(int slot)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&cleanup_lock);
    atomic_store(&cleanup_state[slot], SLOT_FREE);
    if (--cleanup_count == 0) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++) {
            struct sigaction cur;
            if (cleanup_installed[i] && sigaction(cleanup_signals[i], NULL, &cur) == 0 &&
                is_ours(&cur))
                sigaction(cleanup_signals[i], &dfl, NULL);
            cleanup_installed[i] = false;
        }
    }
    pthread_mutex_unlock(&cleanup_lock);
}

/* Blocks the three signals of the cleanup in the calling thread (the
 * previous mask to *old) while a temporary file is made and registered, or
 * made and removed: one arriving between the two would end the process with
 * the file left behind. It waits, pending, until restore_stop_signals, when
 * the file is registered (the handler removes it) or gone. The library's own
 * threads block them for good (util/signals.h), so no other thread takes it
 * meanwhile. */
static void block_stop_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++)
        sigaddset(&set, cleanup_signals[i]);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void restore_stop_signals(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Records a failure in o and returns its WL_E* code. */
static int fail(struct wl_outfile *o, enum wl_outfile_step step, int errnum)
{
    o->step = step;
    o->errnum = errnum;
    return step == WL_OUTFILE_STEP_WRITE ? WL_EIO : wl_error_from_errno(errnum);
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

#ifdef __linux__
/* True when path's directory (its links followed by statfs) is on a file
 * system whose names are the kernel's objects, not stored files: procfs
 * (its descriptor links, /dev/stdout -> /proc/self/fd/1 -> whatever fd 1
 * is, even "pipe:[123]"; its attributes), sysfs, cgroup, debugfs and the
 * like, devpts, mqueue. Those are opened as they are and never renamed
 * over: a name there is written in place, as the shell's `>` writes it.
 * Any other file system holds ordinary files, /dev's own (devtmpfs) and
 * those mounted under it (/dev/shm's tmpfs, /dev/hugepages's hugetlbfs)
 * included: a regular file there is replaced whole, and the devices,
 * FIFOs and sockets in it are written in place by their type
 * (wl_outfile_open). Decided by the file system, not by path: a mount
 * under /dev is whatever it is. */
static bool on_kernel_fs(const char *path)
{
    /* statfs(2) f_type values (linux/magic.h) */
    static const unsigned long kernel_fs[] = {
        0x9fa0,     /* proc */
        0x62656572, /* sysfs */
        0x27e0eb,   /* cgroup */
        0x63677270, /* cgroup2 */
        0x64626720, /* debugfs */
        0x74726163, /* tracefs */
        0x73636673, /* securityfs */
        0x62656570, /* configfs */
        0x1cd1,     /* devpts */
        0x19800202, /* mqueue */
        0xcafe4a11, /* bpf */
        0xde5e81e4, /* efivarfs */
        0x6165676c, /* pstore */
        0xf97cff8c, /* selinuxfs */
        0x65735543, /* fusectl */
        0x42494e4d, /* binfmt_misc */
    };
    char *dir = dir_of(path);
    struct statfs fs;
    bool sys = dir && statfs(dir, &fs) == 0;
    free(dir);
    if (!sys)
        return false; /* a missing directory: found when the file is made */
    for (size_t i = 0; i < sizeof kernel_fs / sizeof kernel_fs[0]; i++)
        if ((unsigned long)fs.f_type == kernel_fs[i])
            return true;
    return false;
}
#else
static bool under(const char *path, const char *root)
{
    size_t n = strlen(root);
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Elsewhere (macOS: devfs and fdesc in /dev, no f_type to tell them by):
 * true when path's directory, symlinks resolved, is /dev or /proc or
 * below, /dev/shm excepted: device nodes and the descriptor links, opened
 * as they are and never renamed over. */
static bool on_kernel_fs(const char *path)
{
    char *dir = dir_of(path);
    char *real = dir ? realpath(dir, NULL) : NULL;
    bool sys = real && ((under(real, "/dev") && !under(real, "/dev/shm")) || under(real, "/proc"));
    free(real);
    free(dir);
    return sys;
}
#endif

/* What path names once its symlinks are followed (a dangling one too,
 * unlike realpath, since writing through it creates its target).
 * *target (heap): the last name reached; *exists and *st: its lstat; *sys:
 * a name on the way lies on a kernel file system (on_kernel_fs: the walk
 * stops there, and *st is stat's). Returns 0 or an errno value. */
static int follow_links(const char *path, char **target, struct stat *st, bool *exists, bool *sys)
{
    *exists = false;
    *sys = false;
    int e = 0;
    char *cur = strdup(path);
    for (int hops = 0; cur; hops++) {
        if (on_kernel_fs(cur)) {
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
        ssize_t n = hops < WL_OUTFILE_MAX_LINKS ? readlink(cur, link, sizeof link) : -1;
        if (n < 0) {
            e = hops < WL_OUTFILE_MAX_LINKS ? last_errno() : ELOOP;
            break;
        }
        if ((size_t)n >= sizeof link) { /* cut: no path the kernel would follow */
            e = ENAMETOOLONG;
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

/* One spelling of the file path names: symlinks followed as
 * wl_outfile_open follows them, then realpath of the file, or of its
 * directory plus its name. Heap; NULL when it cannot be resolved. */
static char *canonical(const char *path)
{
    char *target;
    struct stat st;
    bool exists, sys;
    if (!path || follow_links(path, &target, &st, &exists, &sys) != 0)
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

bool wl_outfile_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ca = canonical(a), *cb = ca ? canonical(b) : NULL;
    bool same = cb && strcmp(ca, cb) == 0;
    free(ca);
    free(cb);
    return same;
}

/* A new file named target + ".tmp." + six random characters, created with
 * O_EXCL (never an existing file, whatever it is called) with mode (less the
 * umask, by the kernel), close-on-exec. Returns the descriptor and *name
 * (heap), or -1 with errno set. The name need not be unpredictable, only
 * new: O_EXCL makes a taken one fail with EEXIST and another is tried. */
static int create_tmp(const char *target, mode_t mode, char **name)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    /* a target whose own name is near NAME_MAX gets a temporary file named
     * after a prefix of it, cut before a UTF-8 continuation byte */
    const char *slash = strrchr(target, '/');
    size_t base = slash ? (size_t)(slash + 1 - target) : 0, keep = strlen(target);
    if (keep - base > NAME_MAX - (sizeof WL_OUTFILE_TMP_SUFFIX - 1)) {
        keep = base + NAME_MAX - (sizeof WL_OUTFILE_TMP_SUFFIX - 1);
        while (keep > base + 1 && ((unsigned char)target[keep] & 0xC0) == 0x80)
            keep--;
    }
    size_t n = keep + sizeof WL_OUTFILE_TMP_SUFFIX;
    char *p = malloc(n);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(p, n, "%.*s%s", (int)keep, target, WL_OUTFILE_TMP_SUFFIX);
    char *x = p + n - 1 - WL_OUTFILE_TMP_RANDOM;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^
                 (uint64_t)(uintptr_t)p;
    for (int tries = 0; tries < WL_OUTFILE_TMP_TRIES; tries++) {
        for (int i = 0; i < WL_OUTFILE_TMP_RANDOM; i++) {
            r ^= r << 13; /* xorshift64 */
            r ^= r >> 7;
            r ^= r << 17;
            x[i] = chars[r % (sizeof chars - 1)];
        }
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, mode);
        if (fd >= 0) {
            *name = p;
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    free(p);
    errno = e;
    return -1;
}

/* Gives the temporary file an existing target's owner, group and mode
 * bits. Owner and group together as root (fchown, best effort); otherwise
 * the group alone, which a member of the file's group may set; when the
 * group cannot be kept its group bits are dropped rather than given to
 * another group. If fchmod fails the file keeps the 0600 it was made with,
 * which gives nobody more. */
static void copy_owner_and_mode(int fd, const struct stat *old)
{
    struct stat now;
    if (fstat(fd, &now) == 0 && (now.st_uid != old->st_uid || now.st_gid != old->st_gid)) {
        /* fchown fails as a whole (EPERM) for another user's file when not
         * root: then keep at least the group, if we are in it */
        if (fchown(fd, old->st_uid, old->st_gid) != 0 && now.st_gid != old->st_gid)
            (void)fchown(fd, (uid_t)-1, old->st_gid);
    }
    mode_t mode = old->st_mode & 07777;
    if (fstat(fd, &now) != 0 || now.st_gid != old->st_gid)
        mode &= ~(mode_t)(S_IRWXG | S_ISGID);
    (void)fchmod(fd, mode);
}

/* True when target (lstat in st) lies in a sticky directory (mode 1777,
 * as /tmp) and neither it nor the directory is ours: only their owners (and
 * root, CAP_FOWNER) may remove or rename over it, so the rename at the end
 * would fail with EPERM after all the work. Root is assumed to have
 * CAP_FOWNER; a directory that cannot be read is left to the probe. */
static bool cannot_rename_over(const char *target, const struct stat *st)
{
    uid_t me = geteuid();
    if (me == 0 || st->st_uid == me)
        return false;
    char *dir = dir_of(target);
    struct stat d;
    bool sticky = dir && stat(dir, &d) == 0 && (d.st_mode & S_ISVTX) && d.st_uid != me;
    free(dir);
    return sticky;
}

/* fsync: on disk before the rename, so that a crash leaves the old file or
 * the whole new one. EINVAL, ENOTSUP: a file system that cannot sync, with
 * nothing to wait for. errno is kept when it fails. */
static bool synced(int fd)
{
    return fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP;
}

/* fsync of the directory the rename changed, so that the new name is on
 * disk when close reports success: until then a crash can still bring back
 * the old file, or no file for a new target. A directory that cannot be
 * opened (no read permission: `chmod 300`, or no memory) is not synced and
 * not an error (the rename is done; a durable one was never promised
 * there); a file system that cannot sync is not one either (synced). False,
 * with errno, when the sync itself failed (EIO). */
static bool dir_synced(const char *target)
{
    char *dir = dir_of(target);
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    free(dir);
    if (fd < 0)
        return true;
    bool ok = synced(fd);
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

/* The hint for a name of a standard descriptor that does not open with
 * ENXIO ("No such device or address"): the descriptor is a socket, which
 * cannot be opened by name; the CLI gives a stdin that was closed when it
 * started such a stand-in descriptor (cli_util.c), so that -o /dev/stdin fails. */
static const char *std_name_hint(const char *path)
{
    static const char *const hint[] = {
        /* parenthesised: one element, which clang's -Wstring-concatenation asks for */
        ("it names standard input, which is closed (or a socket, which cannot be opened "
         "by name): "),
        "it names standard output, a socket, which cannot be opened by name: ",
        "it names standard error, a socket, which cannot be opened by name: ",
    };
    struct stat p, fd;
    if (stat(path, &p) != 0)
        return "";
    for (int i = 0; i <= 2; i++)
        if (fstat(i, &fd) == 0 && fd.st_dev == p.st_dev && fd.st_ino == p.st_ino)
            return hint[i];
    return "";
}

int wl_outfile_open(struct wl_outfile *o, const char *path, unsigned flags)
{
    *o = (struct wl_outfile){.flags = flags, .hint = ""};
    if (!path || !*path)
        return fail(o, WL_OUTFILE_STEP_RESOLVE, path ? ENOENT : EINVAL);
    struct stat st;
    bool exists, sys;
    int e = follow_links(path, &o->target, &st, &exists, &sys);
    if (e == 0 && exists && S_ISDIR(st.st_mode))
        e = EISDIR;
    if (e != 0) {
        free(o->target);
        o->target = NULL;
        return fail(o, WL_OUTFILE_STEP_RESOLVE, e);
    }
    o->existed = exists;
    enum wl_outfile_step step = WL_OUTFILE_STEP_OPEN;
    if (sys || (exists && !S_ISREG(st.st_mode))) {
        /* as the shell's `>` opens it; a FIFO waits here for its reader.
         * The name as given: the kernel follows its links as we did. */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY | O_CLOEXEC, 0666);
        o->f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!o->f) {
            e = last_errno();
            if (fd >= 0)
                close(fd);
            if (e == ENXIO)
                o->hint = std_name_hint(path);
            goto fail;
        }
        o->kind = WL_OUTFILE_DIRECT;
        return 0;
    }
    /* a file the shell could not write is not replaced either */
    if (exists && access(o->target, W_OK) != 0) {
        e = last_errno();
        goto fail;
    }
    if (exists && cannot_rename_over(o->target, &st)) {
        /* written in place as the shell's `>` would, truncated once the
         * output is written (no O_CREAT: protected_regular refuses it for
         * another user's file in a sticky directory, and it exists) */
        int fd = open(o->target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            e = last_errno();
            goto fail;
        }
        o->kind = WL_OUTFILE_DIRECT;
        o->in_place = true;
        o->in_place_fd = fd;
        return 0;
    }
    /* can a file be made next to it? (made for real when the output is
     * written, so that none lies around while the caller works) */
    char *probe = NULL;
    sigset_t mask;
    block_stop_signals(&mask); /* never registered: gone before a stop signal acts */
    int fd = create_tmp(o->target, 0600, &probe);
    e = fd < 0 ? last_errno() : 0;
    if (fd >= 0) {
        close(fd);
        unlink(probe);
        free(probe);
    }
    restore_stop_signals(&mask);
    if (fd < 0) {
        step = WL_OUTFILE_STEP_TEMP;
        if (exists) /* the file itself could be written: say why that is not enough */
            o->hint = wl__outfile_hint_next_to;
        goto fail;
    }
    o->kind = WL_OUTFILE_REPLACE;
    return 0;
fail:
    free(o->target);
    o->target = NULL;
    return fail(o, step, e);
}

FILE *wl_outfile_stream(struct wl_outfile *o)
{
    if (!o->f && o->in_place) {
        /* an existing file written in place (a sticky directory): emptied
         * now, as `>` would have at open */
        if (ftruncate(o->in_place_fd, 0) != 0 || !(o->f = fdopen(o->in_place_fd, "w"))) {
            fail(o, WL_OUTFILE_STEP_OPEN, last_errno());
            return NULL;
        }
        return o->f;
    }
    if (o->f || o->kind != WL_OUTFILE_REPLACE)
        return o->f;
    struct stat old;
    bool keep = lstat(o->target, &old) == 0 && S_ISREG(old.st_mode);
    /* a new file: 0666 less the umask, applied by the kernel as for `>`;
     * an existing one: private until it has the old file's mode */
    sigset_t mask;
    block_stop_signals(&mask); /* until it is registered */
    int fd = create_tmp(o->target, keep ? 0600 : 0666, &o->tmp);
    const int e = fd < 0 ? last_errno() : 0;
    if (fd >= 0)
        o->cleanup_slot = cleanup_register(o->tmp) + 1;
    restore_stop_signals(&mask);
    if (fd < 0) {
        fail(o, WL_OUTFILE_STEP_TEMP, e);
        o->hint = o->existed ? wl__outfile_hint_next_to : "";
        return NULL;
    }
    if (keep)
        copy_owner_and_mode(fd, &old);
    o->f = fdopen(fd, "w");
    if (!o->f) {
        fail(o, WL_OUTFILE_STEP_TEMP, last_errno());
        close(fd);
        unlink(o->tmp);
        cleanup_unregister(o->cleanup_slot - 1);
        o->cleanup_slot = 0;
        free(o->tmp);
        o->tmp = NULL;
    }
    return o->f;
}

int wl_outfile_close(struct wl_outfile *o, bool commit)
{
    int rc = 0;
    if (o->in_place && !o->f) /* never written: the file is left as it was */
        close(o->in_place_fd);
    if (o->f) {
        int fd = fileno(o->f);
        if (commit) {
            errno = 0;
            if (ferror(o->f) || fflush(o->f) != 0 || ferror(o->f) ||
                ((o->kind == WL_OUTFILE_REPLACE || o->in_place) && !synced(fd)))
                rc = fail(o, WL_OUTFILE_STEP_WRITE, last_errno());
#ifdef POSIX_FADV_DONTNEED
            /* best effort; a pipe says ESPIPE */
            if (rc == 0 && (o->flags & WL_OUTFILE_DROP_CACHE))
                (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
#endif
        }
        errno = 0;
        /* close also reports errors that show only then (NFS) */
        if (fclose(o->f) != 0 && commit && rc == 0)
            rc = fail(o, WL_OUTFILE_STEP_WRITE, last_errno());
        o->f = NULL;
    }
    if (o->tmp) {
        bool renamed = false;
        if (commit && rc == 0) {
            if (rename(o->tmp, o->target) != 0) {
                rc = fail(o, WL_OUTFILE_STEP_RENAME, last_errno());
            } else {
                renamed = true;
                /* the target is replaced; a failed sync says a crash may
                 * still undo that (reported as the replace's failure) */
                if (!dir_synced(o->target))
                    rc = fail(o, WL_OUTFILE_STEP_RENAME, last_errno());
            }
        }
        if (!renamed && (!commit || rc != 0))
            unlink(o->tmp); /* the old file stays as it was */
        /* after the rename or unlink: a signal before it still removes it
         * (after it, unlinking the name that is gone fails harmlessly) */
        cleanup_unregister(o->cleanup_slot - 1);
    }
    free(o->tmp);
    free(o->target);
    *o = (struct wl_outfile){.step = o->step, .errnum = o->errnum, .hint = o->hint};
    return rc;
}

/* An output file named by the user (-o FILE, a model written by the engine),
 * written so that what the name stands for survives: symlinks are followed
 * (one link at a time, dangling ones too) and their final target written; a
 * regular file, new or existing, is replaced atomically (a new temporary file
 * next to the target, its mode and owner taken from the old file, synced,
 * renamed over it; discarded on failure, leaving the old file as it was); a
 * FIFO, a device, or any name on a kernel file system (/proc, /sys: Linux
 * by statfs type; elsewhere /dev and /proc by path) is opened in place as
 * the shell's `>` opens it, and never renamed over; so is another user's file
 * in a sticky directory that is not ours (a rename over it would fail). Writes are sequential (a
 * stdio stream), so non-seekable outputs work. stdout and "-" are the
 * caller's business. docs/internals/outfile.md has the rules and trade-offs.
 * While a temporary file exists, SIGINT, SIGTERM and SIGHUP, where their
 * action is still the default, remove it before the process dies by them
 * (a program's own handlers are left alone); they are blocked in the calling
 * thread while a temporary file is made and registered (or made and
 * removed), and one that came meanwhile is delivered right after.
 * One struct wl_outfile per output, on the caller's stack; not thread-shared.
 * Thread-safe otherwise (the umask is applied by the kernel, never read).
 */
#ifndef WL_UTIL_OUTFILE_H
#define WL_UTIL_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

enum wl_outfile_kind {
    WL_OUTFILE_NONE,    /* closed, or never opened */
    WL_OUTFILE_DIRECT,  /* written in place: FIFO, device, a kernel file system's name, or
                         * another user's file in a sticky directory (in_place) */
    WL_OUTFILE_REPLACE, /* a regular file (or none yet), replaced by renaming a temp over it */
};

/* What a failure was doing, so that callers can word their message. */
enum wl_outfile_step {
    WL_OUTFILE_STEP_NONE,    /* no failure */
    WL_OUTFILE_STEP_RESOLVE, /* following symlinks (ELOOP, ...) or the name is a directory */
    WL_OUTFILE_STEP_OPEN,    /* opening in place, or an existing file is not writable */
    WL_OUTFILE_STEP_TEMP,    /* making the temporary file next to the target */
    WL_OUTFILE_STEP_WRITE,   /* flush, sync or close: the data did not all reach the file */
    WL_OUTFILE_STEP_RENAME,  /* the rename of the temporary file over the target, or the
                              * sync of its directory after it (the target was replaced) */
};

/* wl_outfile_open flags */
enum {
    /* after a successful write, drop the file's pages from the page cache
     * (POSIX_FADV_DONTNEED; clean after the sync, so nothing is lost) */
    WL_OUTFILE_DROP_CACHE = 1u << 0,
};

/* One output. Fields are read-only for callers. */
struct wl_outfile {
    enum wl_outfile_kind kind;
    unsigned flags;
    bool existed;              /* the target existed when opened */
    bool in_place;             /* DIRECT: a regular file that cannot be renamed over (another
                                * user's, in someone else's sticky directory), truncated and
                                * written in place by wl_outfile_stream */
    int in_place_fd;           /* in_place: its descriptor until the stream is made */
    FILE *f;                   /* the stream: DIRECT from open, REPLACE from wl_outfile_stream */
    char *target;              /* the name written, links followed (heap) */
    char *tmp;                 /* REPLACE: the temporary file, while it exists (heap) */
    int cleanup_slot;          /* tmp's slot in the stop-signal cleanup, plus 1 (0: none) */
    enum wl_outfile_step step; /* what the last failure was doing (kept by close) */
    int errnum;                /* its errno value (kept by close) */
    const char *hint;          /* static text to put before strerror(errnum), or "" */
};

/* Resolves path (non-empty) as an output and checks it before any work:
 * a symlink chain is followed (more than 40 links: ELOOP); a directory is
 * refused (EISDIR); a FIFO, a device or a kernel file system's name is opened
 * now (a FIFO waits here for its reader); for a regular file, an existing
 * one must be writable (access W_OK: what the shell's `>` could not write is
 * not replaced either; another user's in a sticky directory not ours is
 * opened in place, truncated by wl_outfile_stream) and a file must be
 * creatable next to the target
 * (made and removed at once, so a missing or read-only directory is found
 * now and nothing is left behind). flags: WL_OUTFILE_* bits. Returns 0, or
 * a WL_E* code with o->step, o->errnum and o->hint saying why; o needs
 * wl_outfile_close only after 0 (it accepts a failed one too). */
int wl_outfile_open(struct wl_outfile *o, const char *path, unsigned flags);

/* The stream to write to. For a regular file the temporary file is created
 * now, next to the target: a new name (O_EXCL), close-on-exec; for a new
 * target with mode 0666 less the umask (and the directory's default ACL),
 * as the shell's `>`; for an existing one with its mode, and as root its
 * owner and group, otherwise its group when we are a member of it (when the
 * group cannot be kept, its group bits are dropped). NULL with o->step, o->errnum set when it
 * cannot be created. Valid until wl_outfile_close; never fclose it. Repeated calls return the same
 * stream. */
FILE *wl_outfile_stream(struct wl_outfile *o);

/* Ends the output. commit: the whole output was written; the stream is
 * flushed, a replaced file synced (a file system that cannot sync is not an
 * error), closed and renamed over the target, and the target's directory
 * synced, so that the rename is on disk when 0 is returned (a directory
 * that cannot be opened for reading is not synced, and not an error; a
 * failed sync is a _RENAME failure after which the target was replaced,
 * though a crash may undo it). !commit (the caller gave up,
 * or saw its own write fail): the stream is closed and the temporary file
 * removed, the target left as it was. A stream whose error flag is set is
 * never committed. Returns 0, or a WL_E* code (WL_EIO for a failed write)
 * with o->step (WL_OUTFILE_STEP_WRITE or _RENAME) and o->errnum (for a
 * stream whose error flag was already set, the cause is gone: EIO; the
 * caller should keep errno from right after its failing write); on any
 * failure the temporary file is removed. Everything else is released; o is
 * left closed with step and errnum kept. Accepts a closed or never opened o
 * (returns 0). */
int wl_outfile_close(struct wl_outfile *o, bool commit);

/* True when paths a and b name the same file: the same inode when both
 * exist (through any name, symlink or hard link), else the same name once
 * symlinks are followed as wl_outfile_open follows them (so a file that
 * does not exist yet is matched by where it would be created). False when
 * a name cannot be resolved (a missing directory, a link loop, no memory). */
bool wl_outfile_same_file(const char *a, const char *b);

#endif

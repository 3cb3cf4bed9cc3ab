/* A command's -o FILE (export, measure): where the output goes and how it is
 * written, in one place. "-" (or no -o) is stdout, and so is a name for this
 * process's stdout (/dev/stdout). Any other name is written through
 * util/outfile.h: a regular file, new or existing, reached through any
 * symlinks, is replaced atomically (a new temporary file next to it, the old
 * file's mode, synced, renamed over it), so a failed write leaves the old
 * file as it was; a FIFO, a device or anything in /dev or /proc is written
 * in place. The run database (and its -wal, -shm, -journal) is refused,
 * also as the file open on stdout (`-o - 1<>DB`).
 * docs/internals/cli_output.md has the rules this file adds (stdout, the
 * database, messages). Single-threaded, like the rest of cli/.
 */
#ifndef WL_CLI_OUTPUT_H
#define WL_CLI_OUTPUT_H

#include "util/outfile.h"

#include <stdbool.h>
#include <stdio.h>

enum wl_cli_output_kind {
    WL_CLI_OUTPUT_NONE,    /* closed, or never opened */
    WL_CLI_OUTPUT_STDOUT,  /* stdout or stderr itself: "-", no -o, /dev/stdout, /dev/stderr */
    WL_CLI_OUTPUT_DIRECT,  /* written in place: FIFO, device, /dev or /proc */
    WL_CLI_OUTPUT_REPLACE, /* a regular file, replaced by renaming a temp over it */
};

/* One output; on the caller's stack. Fields are read-only for callers. */
struct wl_cli_output {
    const char *cmd;              /* command name, for messages */
    const char *path;             /* as given (-o), for messages; "-" for stdout */
    enum wl_cli_output_kind kind; /* where it goes */
    FILE *f;                      /* the stream, once wl_cli_output_stream made it */
    FILE *std;                    /* STDOUT: stdout, or stderr for a name of fd 2 */
    struct wl_outfile file;       /* DIRECT, REPLACE: the file and its temporary file */
};

/* Checks path (NULL or "-": stdout) as the output of cmd and prepares it:
 * refuses the run database at db_path (NULL: the default path, resolved as
 * the store resolves it, whether or not the store is open), opens a FIFO or
 * device now (a FIFO waits for its reader), and checks that a regular file
 * can be written (a missing directory or a read-only file is reported
 * before any work; nothing is left behind). Returns WL_EXIT_OK, or after
 * printing "wattlens CMD: ..." WL_EXIT_USAGE (an empty name, the database)
 * or WL_EXIT_FAIL (cannot be written). o needs wl_cli_output_close only
 * after WL_EXIT_OK (it accepts a failed one too). */
int wl_cli_output_open(struct wl_cli_output *o, const char *cmd, const char *path,
                       const char *db_path);

/* The stream to write the output to; for a regular file the temporary file
 * is created now (so none exists while a measured command runs). NULL, after
 * printing "wattlens CMD: cannot write PATH: <why>", when it cannot be
 * created. Valid until wl_cli_output_close; never fclose it. */
FILE *wl_cli_output_stream(struct wl_cli_output *o);

/* Ends the output. complete: the command wrote all of it; the stream is
 * flushed and, for a regular file, synced, closed and renamed over the
 * target. !complete: the command gave up; the temporary file is removed and
 * nothing is reported (the command reports its own reason). A failed write
 * (earlier, seen by ferror, or now) is reported once, "wattlens CMD: writing
 * the output: <cause>" (as wl_cli_output_error), the temporary file removed
 * and the old file left as it was. errnum is the errno the caller saw right
 * after its write failed (0: unknown); used only when the stream's error
 * flag was already set. Returns WL_EXIT_OK, or WL_EXIT_FAIL when the output
 * is not complete and written. Accepts a closed or never opened o. */
int wl_cli_output_close(struct wl_cli_output *o, bool complete, int errnum);

/* The stream an output named path is written through instead of opening
 * the name: stdout for NULL, "-" or a name of stdout (/dev/stdout,
 * /proc/self/fd/1, the same file as fd 1); stderr for a name of this
 * process's stderr (/dev/stderr, /proc/self/fd/2, the same file as fd 2,
 * when fd 1 is not that file too), so that `2>>log` still appends rather
 * than being truncated by a reopen. When stdout or stderr was closed at
 * start-up (wl_cli_std_fd_closed), a name of it (/dev/stdout, /dev/fd/1,
 * /proc/self/fd/1, or a symlink to one: the same file as its stand-in
 * pipe, which nothing else reaches) is still that stream, so that writing
 * fails (EBADF) as for "-"; /dev/null is not. NULL: any other name. */
FILE *wl_cli_output_std_stream(const char *path);

/* True, after printing "wattlens CMD: refusing to write the output to PATH:
 * it is the run database; choose another file", when writing path (NULL or
 * "-": stdout) would write the run database at db_path (NULL: the default
 * path, as the store resolves it) or a companion file of SQLite's (-wal,
 * -shm, -journal): the same file through any name or link, or the same name
 * when it does not exist yet (a -wal written by someone else would be taken
 * for SQLite's); for stdout or stderr, the file open there
 * (wl_cli_output_is_file: `-o - 1<>DB`). wl_cli_output_open checks it; a
 * command that writes its file another way (model synth, model quantize)
 * calls it before any work and exits WL_EXIT_USAGE. */
bool wl_cli_output_is_database(const char *cmd, const char *path, const char *db_path);

/* True when writing the output out (as wl_cli_output_open would) writes the
 * file path names (through any name, symlink or hard link): for stdout or
 * stderr (wl_cli_output_std_stream), the file open there, whatever its name
 * (`-o - 1<>F`, `>>F`); else wl_outfile_same_file. False when path does not
 * exist and out is a std stream. */
bool wl_cli_output_is_file(const char *out, const char *path);

#endif

/* Whether the writer of a run left `running` is still alive, and
 * wl_run_status(), the SQL function every query reads a run's status
 * through: a reader shows a run whose writer is gone as `incomplete` without
 * writing anything (a reader that cannot write, `gc --dry-run`), and a
 * writable open stores the same verdict (wl__mark_incomplete).
 *
 * The rule (docs/internals/store.md, "Crash semantics"): on the writer's own
 * host (runs.writer_host is this host's name) the writer is alive while its
 * pid exists and, when its start token was stored (runs.writer_start), that
 * pid still has that token: a pid reused by another process after the
 * writer died, or after a reboot, has another; a zombie (a writer killed
 * but not yet reaped by its parent) is gone. Its heartbeat does not
 * matter there (a `measure` of a 3-day command is alive while it runs).
 * On another host the pid means nothing here, so the writer is taken as
 * dead once its heartbeat (runs.updated_at_ms) is older than WL__STALE_MS.
 * Processes are looked up under the connection's /proc root
 * (wl_proc_root, as the sensors read it: $WATTLENS_PROC_ROOT, else /proc), so tests can
 * fake a writer's stat line and boot id; kill(pid, 0) still asks the
 * kernel. Stateless apart from the connection's host name and /proc root;
 * thread-safe.
 */
#include "store/sqlite_impl.h"

#include "util/proc_root.h"
#include "util/proc_stat.h"
#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
/* Reads up to size - 1 bytes of a small file into buf (NUL-terminated);
 * the byte count, or -1. Non-blocking: a FIFO in a faked /proc root reads
 * as empty instead of hanging the query. */
static ssize_t wl__read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}
#endif

#ifdef __linux__
/* Process pid's PROC/PID/stat line, parsed by util/proc_stat (a line of
 * another shape is not read at all); false when it cannot be read. */
static bool wl__read_proc_stat(const char *proc_root, long pid, struct wl__proc_stat *st)
{
    char path[WL__PROC_ROOT_SIZE + 32], line[1024];
    snprintf(path, sizeof path, "%s/%ld/stat", proc_root, pid);
    return pid > 0 && wl__read_small(path, line, sizeof line) > 0 &&
           wl__proc_stat_parse(line, st) == 0;
}

/* The start token (wl__process_start_token) of the process whose stat
 * line is st. */
static bool wl__start_token_of(const char *proc_root, const struct wl__proc_stat *st, char *buf,
                               size_t size)
{
    char path[WL__PROC_ROOT_SIZE + 32], boot[64];
    snprintf(path, sizeof path, "%s/sys/kernel/random/boot_id", proc_root);
    if (!st->has_start || wl__read_small(path, boot, sizeof boot) <= 0)
        return false;
    boot[strcspn(boot, "\n")] = '\0';
    /* the start time is field 22, in clock ticks after boot */
    int n = snprintf(buf, size, "%s/%" PRIu64, boot, st->start_ticks);
    return n > 0 && (size_t)n < size;
}
#endif

int wl__set_proc_root(struct wl__db *d, struct wl_errmsg *err)
{
    const char *root = wl_proc_root(NULL);
    const size_t len = strlen(root);
    if (len >= sizeof d->proc_root)
        return wl_errmsg_set(err, WL_ERANGE,
                             "%s: WATTLENS_PROC_ROOT is %zu bytes long, more than the %zu the "
                             "store can use to tell whether a run's writer is alive; give a "
                             "shorter /proc root",
                             d->path, len, sizeof d->proc_root - 1);
    memcpy(d->proc_root, root, len + 1);
    return 0;
}

bool wl__process_start_token(const char *proc_root, long pid, char *buf, size_t size)
{
#ifdef __linux__
    struct wl__proc_stat st;
    return wl__read_proc_stat(proc_root, pid, &st) && wl__start_token_of(proc_root, &st, buf, size);
#else
    (void)proc_root;
    (void)pid;
    (void)buf;
    (void)size;
    return false;
#endif
}

/* The rule above. host and start may be NULL (not stored). */
static bool wl__writer_alive(const struct wl__db *d, int64_t pid, const char *host,
                             const char *start, int64_t updated_at_ms, int64_t now_ms)
{
    /* a pid beyond pid_t would wrap (to -1: every process) */
    if (host && d->host[0] && strcmp(host, d->host) == 0 && pid > 0 && pid <= INT_MAX) {
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            return false;
#ifdef __linux__
        struct wl__proc_stat st;
        if (wl__read_proc_stat(d->proc_root, (long)pid, &st)) {
            /* a zombie (killed or exited, not yet reaped by its parent: a
             * harness that has not called wait() yet) or a process being
             * torn down has stopped writing, although kill(pid, 0) still
             * succeeds and its start time is still the writer's */
            if (st.state == 'Z' || st.state == 'X' || st.state == 'x')
                return false;
            char now_start[WL__START_TOKEN_SIZE];
            if (start && wl__start_token_of(d->proc_root, &st, now_start, sizeof now_start))
                return strcmp(start, now_start) == 0;
        }
#endif
        return true; /* EPERM: another user's process; or no token to compare */
    }
    return now_ms - updated_at_ms <= WL__STALE_MS;
}

static void wl__sql_run_status(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *status = sqlite3_value_text(argv[0]);
    if (!status || strcmp((const char *)status, "running") != 0) {
        sqlite3_result_value(ctx, argv[0]);
        return;
    }
    const struct wl__db *d = sqlite3_user_data(ctx);
    const int64_t pid =
        sqlite3_value_type(argv[1]) == SQLITE_NULL ? 0 : sqlite3_value_int64(argv[1]);
    const char *host = (const char *)sqlite3_value_text(argv[2]);
    const char *start = (const char *)sqlite3_value_text(argv[3]);
    const int64_t seen =
        sqlite3_value_type(argv[4]) == SQLITE_NULL ? 0 : sqlite3_value_int64(argv[4]);
    const bool alive = wl__writer_alive(d, pid, host, start, seen, wl__now_ms());
    sqlite3_result_text(ctx, alive ? "running" : "incomplete", -1, SQLITE_STATIC);
}

int wl__register_run_status(struct wl__db *d, struct wl_errmsg *err)
{
    /* not deterministic: it looks at processes and the clock; direct only:
     * never from a trigger or view someone else put in the file */
    int s = sqlite3_create_function_v2(d->db, "wl_run_status", 5, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                       d, wl__sql_run_status, NULL, NULL, NULL);
    return s == SQLITE_OK ? 0 : wl__fail(d, s, err, "registering wl_run_status");
}

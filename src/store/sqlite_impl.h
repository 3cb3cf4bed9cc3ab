/* Internals shared by the SQLite backend's files: the connection, error
 * mapping, statement helpers (sqlite_util.c), the SQL function for caseless
 * matching (sqlite_casefold.c), and the query entry points of the ops table
 * (store_sqlite_query.c; the writer half is store_sqlite.c).
 * Not part of the store API; not thread-safe by itself (store.c serialises).
 */
#ifndef WL_STORE_SQLITE_IMPL_H
#define WL_STORE_SQLITE_IMPL_H

#include "store/store_backend.h"
#include "util/errmsg.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for the /proc root with its NUL. */
#define WL__PROC_ROOT_SIZE 512

struct wl__db {
    sqlite3 *db;
    char path[WL_STORE_PATH_MAX];
    char host[256];      /* this host's name (gethostname at open): runs.writer_host */
    /* where this host's processes are looked up (sqlite_liveness.c):
     * wl_proc_root at open ($WATTLENS_PROC_ROOT when set and not empty, as
     * for the sensors, else "/proc") */
    char proc_root[WL__PROC_ROOT_SIZE];
    int busy_timeout_ms; /* how long a wait for a lock lasts now (wl__busy_wait) */
    int run_wait_ms;     /* a run writer's batches wait this long (wl__run_txn) */
    int n_writers;       /* open run writers; automatic checkpoints are off while > 0 */
    /* wl__busy_wait's state: when the current wait began; the caller's
     * cancel flag (wl_store_set_cancel), and whether it ended a wait (the
     * next WL_EBUSY is then reported as WL_ECANCELED); whether the last
     * wait ran out (wl__fail's "waited N ms", N = busy_timeout_ms: a
     * WL_EBUSY that SQLite returns without waiting says no wait) */
    uint64_t busy_since_ns;
    const volatile sig_atomic_t *cancel;
    bool busy_cancelled;
    bool busy_gave_up;
    bool read_snapshot; /* wl_store_read_begin's transaction is open */
};

/* ---- waiting for the write lock ------------------------------------------ */
/* A waiter for the lock tries again at least this often (wl__busy_wait). */
#define WL__BUSY_POLL_MS 4
/* After each commit of a batch, a run writer leaves the lock free for
 * WL__BATCH_GAP_MS before it starts the next one, so that other writers,
 * which poll every WL__BUSY_POLL_MS, get in between (wl__run_txn); for a
 * flush interval under 40 times that, for 1/40 of the interval (2.5 % of
 * the writer's time at most). */
#define WL__BATCH_GAP_MS 25
#define WL__BATCH_GAP_DIV 40

/* Sets the connection's busy handler (store_sqlite.c): waits up to
 * d->busy_timeout_ms, polling every WL__BUSY_POLL_MS at most, and ends at
 * once when d->cancel is set. */
void wl__set_busy_handler(struct wl__db *d);

/* ---- reading without creating files (sqlite_reader.c) -------------------- */
/* Opens d->path read-only into d->db through a VFS that creates and removes
 * no file: -wal and -shm are used when they exist and never created;
 * without them the first read fails (SQLITE_CANTOPEN: WL_EACCES) and the
 * caller may fall back to wl__reopen_immutable. */
int wl__open_reader(struct wl__db *d, struct wl_errmsg *err);
/* Replaces d->db with an immutable connection (no locks, no -wal/-shm),
 * but only when the main file holds every committed change (no log with
 * frames, no hot journal); else WL_EACCES saying why. */
int wl__reopen_immutable(struct wl__db *d, struct wl_errmsg *err);

/* ---- errors and statement helpers (sqlite_util.c) ------------------------ */
/* What a damaged database's message adds: nothing is changed, and what can
 * be saved (docs/internals/store.md, "A damaged database"). */
#define WL__SALVAGE_HINT                                                                           \
    "the file was left unchanged. Runs in its intact pages may be salvaged with the sqlite3 "      \
    "shell (.recover or .dump, on a copy); what the damage took (the end of a truncated file) "    \
    "is lost"

/* What a read that the disk or its filesystem failed adds: SQLite's
 * SQLITE_IOERR on a read, or SQLITE_CORRUPT for a file whose read fails
 * (wl__read_fails), which says nothing of the file's contents. */
#define WL__READ_IOERR_HINT                                                                        \
    "the disk or its filesystem failed the read, which says nothing of the file's contents (it "   \
    "may be intact): check them (the kernel log, dmesg; the filesystem's own check), then try "    \
    "again"

int wl__code(int src);
/* Reads d's database file and its write-ahead log through the
 * connection's own file handles (opening them again and closing would
 * drop the connection's POSIX locks) to the end, stopping at the first read
 * that fails: 0 when every read succeeds, else the errno it left (EIO when
 * unknown), with "STRERROR at byte N of FILE" in buf. O(file size): for an
 * error path only (wl__fail on SQLITE_CORRUPT). */
int wl__read_fails(struct wl__db *d, char *buf, size_t size);
int wl__fail(struct wl__db *d, int src, struct wl_errmsg *err, const char *what);
int wl__exec(struct wl__db *d, const char *sql, struct wl_errmsg *err, const char *what);
int wl__prepare(struct wl__db *d, const char *sql, sqlite3_stmt **st, struct wl_errmsg *err);
void wl__bind_double(sqlite3_stmt *st, int i, double v);
void wl__bind_text(sqlite3_stmt *st, int i, const char *s);
void wl__bind_int_or_null(sqlite3_stmt *st, int i, int64_t v, int64_t null_below);
double wl__col_double(sqlite3_stmt *st, int i);
int64_t wl__col_int(sqlite3_stmt *st, int i, int64_t if_null);
char *wl__col_strdup(sqlite3_stmt *st, int i);
/* Column i's text, all of its *n bytes (a NUL byte inside too), NUL
 * terminated; NULL (*n 0) for NULL or out of memory. Caller frees. */
char *wl__col_dup(sqlite3_stmt *st, int i, size_t *n);
/* Copies column i's text into buf ("" for NULL), cut between characters
 * when it does not fit (wl_utf8_copy). */
void wl__col_copy(sqlite3_stmt *st, int i, char *buf, size_t size);
int wl__step_done(struct wl__db *d, sqlite3_stmt *st, struct wl_errmsg *err, const char *what);
/* The one rule for a statement that failed inside a transaction: it ended
 * the transaction (true: SQLite rolled it all back by itself, as on an I/O
 * error, a full disk, no memory, a trigger's RAISE(ROLLBACK), and every
 * later statement runs in autocommit), or it was refused alone (false: a
 * duplicate, a missing parent, any other error that undoes only that
 * statement; the transaction goes on without its row). was_in_txn: a
 * transaction was open before the statement; call right after it. */
bool wl__txn_ended(const struct wl__db *d, bool was_in_txn);
int64_t wl__file_bytes(const char *path);
int64_t wl__now_ms(void);
int wl__pragma_int(struct wl__db *d, const char *sql, int64_t *out, struct wl_errmsg *err);
/* A reader's statements in one snapshot: wl__read_txn_begin opens a read
 * transaction (BEGIN) only when d is in autocommit, and *own says whether
 * it did (a connection in a transaction already, a writer's batch or
 * wl_store_read_begin's, reads in that one); wl__read_txn_end(d, own) ends
 * what it opened. what names the step in err. */
int wl__read_txn_begin(struct wl__db *d, bool *own, struct wl_errmsg *err, const char *what);
void wl__read_txn_end(struct wl__db *d, bool own);

/* ---- writers' liveness (sqlite_liveness.c) ------------------------------- */
/* A run left `running` whose writer shows no sign of life for this long is
 * taken as dead when its process cannot be checked (another host). */
#define WL__STALE_MS (24LL * 3600 * 1000)

/* Room for a process start token with its NUL. */
#define WL__START_TOKEN_SIZE 96

/* The start token of process pid on this host into buf: "BOOT_ID/START"
 * (Linux: PROC/sys/kernel/random/boot_id and the start time in clock ticks
 * after boot, field 22 of PROC/PID/stat, in decimal without leading
 * zeros; PROC is proc_root, d->proc_root), which tells a pid reused after
 * its process ended, or after a reboot, from the process itself. Tokens
 * are stored in databases: keep the format. False when it cannot be read
 * (another system, /proc hidden) or the stat line does not parse
 * (util/proc_stat.h): the pid alone then. */
bool wl__process_start_token(const char *proc_root, long pid, char *buf, size_t size);

/* Sets d->proc_root from wl_proc_root: $WATTLENS_PROC_ROOT (when set and not empty) or
 * "/proc". WL_ERANGE, saying so, for a root too long to use (a cut one
 * would name another directory). */
int wl__set_proc_root(struct wl__db *d, struct wl_errmsg *err);

/* Registers wl_run_status(status, writer_pid, writer_host, writer_start,
 * updated_at_ms) on the connection: status itself, except `running` whose
 * writer is gone, which reads `incomplete` (the rule in sqlite_liveness.c;
 * d->host is this host).
 * Every query reads a run's status through it, so readers that do not or
 * cannot write show the same status as the marking done by writable opens. */
int wl__register_run_status(struct wl__db *d, struct wl_errmsg *err);

/* SQL of a runs row's status as readers show it (alias r). */
#define WL__LIVE_STATUS(r)                                                                         \
    "wl_run_status(" r ".status, " r ".writer_pid, " r ".writer_host, " r ".writer_start, " r      \
    ".updated_at_ms)"

/* ---- SQL functions (sqlite_casefold.c) ----------------------------------- */
/* Registers wl_casefold(X) on the connection: X case-folded (Unicode full
 * folding, NFC) for caseless matching; invalid UTF-8 bytes are kept. */
int wl__register_casefold(struct wl__db *d, struct wl_errmsg *err);

/* ---- queries (store_sqlite_query.c) -------------------------------------- */
/* Columns of a run row, in wl__read_row order, with the status as readers
 * show it (WL__LIVE_STATUS: a run whose writer is gone reads incomplete)
 * when r is the runs table (WL__ROW_COLS), or as given (WL__ROW_COLS_AS:
 * the list's outer query, whose r is its page). */
#define WL__STATUS_OF_R WL__LIVE_STATUS("r")
#define WL__ROW_COLS WL__ROW_COLS_AS(WL__STATUS_OF_R)
#define WL__ROW_COLS_AS(status)                                                                    \
    "r.uuid, r.created_at_ms, " status ", r.kind, r.command, r.model_name, r.prompt, "             \
    "r.experiment, (SELECT group_concat(tag, ',') FROM (SELECT tag FROM run_tags t "               \
    "WHERE t.run_id = r.id ORDER BY tag)), r.duration_ms, r.energy_j, r.energy_method, "           \
    "r.input_tokens, r.output_tokens, r.j_per_token"
#define WL__ROW_NCOLS 15

/* Appends the run row st holds (WL__ROW_COLS from column 0) to l, growing
 * it by *cap. */
int wl__list_push(struct wl_run_list *l, size_t *cap, sqlite3_stmt *st);
/* Internal id of a run by its full UUID. */
int wl__run_pk(struct wl__db *d, const char *uuid, int64_t *pk, struct wl_errmsg *err);
int wl__sqlite_count_runs(void *db, const struct wl_store_filter *f, int64_t *n,
                          struct wl_errmsg *err);
int wl__sqlite_list_runs(void *db, const struct wl_store_filter *f, enum wl_store_sort sort,
                         int64_t limit, int64_t offset, struct wl_run_list *out,
                         struct wl_errmsg *err);
int wl__sqlite_resolve_id(void *db, const char *prefix, char *id_out, struct wl_errmsg *err);
int wl__sqlite_read_begin(void *db, struct wl_errmsg *err);
void wl__sqlite_read_end(void *db);
int wl__sqlite_foreach(void *db, const char *id, enum wl_store_table t, int64_t token_lo,
                       int64_t token_hi, wl_store_row_fn fn, void *user, struct wl_errmsg *err);
int wl__sqlite_columns(void *db, enum wl_store_table t, wl_store_columns_fn fn, void *user,
                       struct wl_errmsg *err);
int wl__sqlite_summary(void *db, const char *id, struct wl_store_aggregates *out,
                       struct wl_errmsg *err);
int wl__sqlite_recorded_nothing(void *db, const char *id, bool *out, struct wl_errmsg *err);
/* ---- deleting runs, the store's size (store_sqlite_delete.c) -------------- */
int wl__sqlite_delete_run(void *db, const char *id, bool even_running, struct wl_errmsg *err);
int wl__sqlite_gc(void *db, const struct wl_gc_params *p, struct wl_gc_result *out,
                  struct wl_errmsg *err);
int wl__sqlite_stats(void *db, struct wl_store_stats *out, struct wl_errmsg *err);

/* sqlite_file.c: checks of the database file and its directory by path,
 * before SQLite opens it. */
/* The directory of path into dir: "." for a bare name, "/" for "/x.db". */
void wl__parent_dir(const char *path, char *dir, size_t size);
/* mkdir -p of path's directory, naming the directory that could not be
 * made (and a dangling symbolic link on the way); the highest directory it
 * made into made (made_size bytes; "" when none: wl_mkdir_p_made). */
int wl__make_parent_dirs(const char *path, char *made, size_t made_size, struct wl_errmsg *err);
/* Why creating path failed when its directory is not writable (WL_EACCES);
 * else 0. */
int wl__explain_create_failure(const char *path, struct wl_errmsg *err);
/* The first n bytes of path through SQLite's default VFS: 0, 1 when the
 * file is shorter, -1 when it cannot be opened or read. */
int wl__read_head(const char *path, void *buf, int n);
/* Refuses a file that is not an SQLite database (or a directory) before
 * SQLite touches it; *exists says whether path exists. */
int wl__check_header(const char *path, bool must_exist, bool *exists, struct wl_errmsg *err);
/* WL_EACCES naming what a writer cannot write (the file, its -wal or -shm,
 * the directory); else 0. */
int wl__check_writable(const char *path, struct wl_errmsg *err);

#endif

/* SQLite backend of the run store (ops table in store_backend.h): opening,
 * migrations and the run writer. The checks of the file by path before
 * SQLite opens it are in sqlite_file.c, queries in store_sqlite_query.c, shared
 * helpers in sqlite_util.c (both declared in sqlite_impl.h), the writer's
 * row buffers in sqlite_rowbuf.c.
 *
 * One sqlite3 connection per wl_store, WAL journal, synchronous=NORMAL (a
 * commit survives a process crash; no fsync per commit), foreign keys on.
 * A run writer keeps one write transaction open and commits it when its
 * last commit is older than the flush interval, so a crash loses at most
 * one interval; after a commit it leaves the lock free for a moment
 * (wl__run_txn) so that other processes can write.
 * Prepared statements live in the writer; rows are bound with SQLITE_STATIC
 * and stepped at once. Not thread-safe by itself: store.c serialises.
 * A read-only open never creates a file next to the database
 * (sqlite_reader.c).
 */
#include "store/sqlite_schema.h"
#include "store/sqlite_impl.h"
#include "store/sqlite_rowbuf.h"
#include "store/sqlite_rowcount.h"
#include "store/store_backend.h"
#include "util/clock.h"
#include "wattlens/energy.h"
#include "wattlens/error.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { ST_SAMPLE, ST_SECTION, ST_TOKEN, ST_LAYER, ST_DOMAIN, ST_HEARTBEAT, ST_EXISTS, ST_COUNT };

/* Per (layer, component) sums of the stored component rows, kept while the
 * run is written so that finishing does not have to aggregate 10^5 rows.
 * Slot layer * WL__AGG_COMPONENTS + component; anything outside the grid,
 * or a name longer than a slot holds (component_agg keeps names whole),
 * sets `overflow` and finishing falls back to SQL. */
#define WL__AGG_COMPONENTS 64
#define WL__AGG_LAYERS 4096

struct wl__agg_slot {
    char name[32];
    int64_t n, n_dur, n_energy;
    double dur_ms, energy_j;
};

struct wl__agg {
    struct wl__agg_slot *slots;
    size_t n_layers; /* rows of slots allocated */
    bool overflow;
};

struct wl__run {
    struct wl__db *d;
    int64_t run_id;
    char uuid[37];
    bool in_txn;
    /* the last commit (of the run's row, then of a batch): the open batch
     * is due when it is older than the flush interval, and the next batch
     * waits until gap_ns after it (WL__BATCH_GAP_MS; 0 until a flush sets
     * it) */
    uint64_t committed_ns, gap_ns;
    int64_t sample_seq, section_seq;
    sqlite3_stmt *st[ST_COUNT];
    struct wl__rowbuf comp, op; /* comp is drained before op (foreign keys) */
    struct wl__agg agg;
    bool counted; /* included in d->n_writers */
    /* rows given since the last commit (the open batch, buffered ones
     * included; not the rows refused alone, wl__row_refused, which are no
     * part of it); the rows of batches SQLite rolled back by itself
     * (wl__run_check_txn), how many such batches, and the first one's
     * error code and message */
    struct wl__rows pending, lost;
    int lost_batches;
    int lost_rc;
    char lost_why[512];
};

/* ---- opening ------------------------------------------------------------- */

/* The header values every open checks before anything is written, read
 * by one statement, so in one read transaction: another process creating
 * the database meanwhile commits its tables and its application id
 * together (wl__migrate), and read apart they could be seen half, tables
 * without the id (old: a new store opened by several processes at once was
 * now and then called "not a wattlens store"). */
static int wl__read_header(struct wl__db *d, int64_t *app_id, int64_t *version, int64_t *n_objects,
                           struct wl_errmsg *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d,
                         "SELECT (SELECT application_id FROM pragma_application_id()), "
                         "(SELECT user_version FROM pragma_user_version()), "
                         "(SELECT count(*) FROM sqlite_master)",
                         &st, err);
    if (rc != 0)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *app_id = sqlite3_column_int64(st, 0);
        *version = sqlite3_column_int64(st, 1);
        *n_objects = sqlite3_column_int64(st, 2);
    } else {
        rc = wl__fail(d, s, err, "reading the database header");
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- waiting for a lock -------------------------------------------------- */

/* The connection's busy handler, in place of sqlite3_busy_timeout: retries
 * for up to d->busy_timeout_ms, every WL__BUSY_POLL_MS at most, and gives
 * up at once when the caller's cancel flag is set (wl_store_set_cancel).
 * Short sleeps, not SQLite's own growing to 100 ms: a run being recorded
 * frees the lock only for WL__BATCH_GAP_MS (25 ms) after each commit, and
 * a waiter sleeping longer than that would miss every gap; a try costs a
 * few microseconds. A signal cuts the sleep short (nanosleep is not
 * restarted), so a stop signal whose handler sets the flag ends the wait at
 * once. SQLite counts the calls of one wait from 0. When it gives up it
 * sets d->busy_gave_up, for the message (wl__fail: "waited N ms", N the
 * timeout). */
static int wl__busy_wait(void *arg, int count)
{
    static const unsigned delays_ms[] = {1, 2, WL__BUSY_POLL_MS};
    enum { N_DELAYS = sizeof delays_ms / sizeof delays_ms[0] };
    struct wl__db *d = arg;
    const uint64_t now = wl_clock_now_ns();
    if (count == 0) {
        d->busy_since_ns = now;
        d->busy_cancelled = false;
        d->busy_gave_up = false;
    }
    if (d->cancel && *d->cancel) {
        d->busy_cancelled = true;
        return 0;
    }
    const uint64_t waited_ms = (now - d->busy_since_ns) / 1000000u;
    const uint64_t limit_ms = d->busy_timeout_ms > 0 ? (uint64_t)d->busy_timeout_ms : 0;
    if (waited_ms >= limit_ms) {
        d->busy_gave_up = true;
        return 0;
    }
    uint64_t delay_ms = delays_ms[count < N_DELAYS ? count : N_DELAYS - 1];
    if (delay_ms > limit_ms - waited_ms)
        delay_ms = limit_ms - waited_ms;
    struct timespec ts = {0, (long)(delay_ms * 1000000u)};
    nanosleep(&ts, NULL);
    return 1;
}

void wl__set_busy_handler(struct wl__db *d)
{
    sqlite3_busy_handler(d->db, wl__busy_wait, d);
}

/* SQLite could not read the header values of a file that starts as an
 * SQLite file: damaged (SQLITE_CORRUPT: a truncated file, say) or not a
 * database at all (SQLITE_NOTADB). A damaged file whose header still holds
 * our application id (offset 68, big-endian) is a damaged wattlens
 * database, not someone else's file. Sets err (WL_EFORMAT). */
static void wl__explain_unreadable(struct wl__db *d, struct wl_errmsg *err)
{
    const char *msg = sqlite3_errmsg(d->db);
    if ((sqlite3_errcode(d->db) & 0xff) != SQLITE_CORRUPT) {
        wl_errmsg_set(err, WL_EFORMAT, "%s: not a wattlens database (%s)", d->path, msg);
        return;
    }
    /* read through the connection's own file, not an open()/close() of
     * our own: closing any descriptor of the file drops every POSIX lock
     * this process holds on it, those of other connections included (the
     * unix VFS keeps its own descriptors open while a lock is held) */
    unsigned char hdr[72] = {0};
    sqlite3_file *f = NULL;
    const bool got =
        sqlite3_file_control(d->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f &&
        f->pMethods && f->pMethods->xRead(f, hdr, (int)sizeof hdr, 0) == SQLITE_OK; /* not short */
    const uint32_t app_id =
        (uint32_t)hdr[68] << 24 | (uint32_t)hdr[69] << 16 | (uint32_t)hdr[70] << 8 | hdr[71];
    const bool ours = got && app_id == (uint32_t)WL__SQLITE_APP_ID;
    wl_errmsg_set(err, WL_EFORMAT, "%s: damaged %s database (SQLite: %s); " WL__SALVAGE_HINT,
                  d->path, ours ? "wattlens" : "SQLite", msg);
}

static int wl__migrate(struct wl__db *d, struct wl_errmsg *err)
{
    for (;;) {
        int rc = wl__exec(d, "BEGIN IMMEDIATE", err, "starting the schema migration");
        if (rc != 0)
            return rc;
        int64_t v = 0;
        rc = wl__pragma_int(d, "PRAGMA user_version", &v, err);
        if (rc != 0)
            goto fail;
        if (v >= wl__sqlite_n_migrations) {
            sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL);
            return 0;
        }
        rc = wl__exec(d, wl__sqlite_migrations[v], err, "migrating the schema");
        if (rc != 0)
            goto fail;
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d",
                 (int)v + 1, WL__SQLITE_APP_ID);
        rc = wl__exec(d, sql, err, "migrating the schema");
        if (rc != 0)
            goto fail;
        rc = wl__exec(d, "COMMIT", err, "committing the schema migration");
        if (rc != 0)
            goto fail;
        continue;
    fail:
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
}

/* A read-only or no_migrate open of a database at an older version (it
 * does not migrate it): the columns that later migrations only added read as NULL through
 * TEMP views named as their tables (wl__sqlite_read_bridge_sql), which live
 * in memory, so the file and the directory are left as they are and every
 * query sees the current schema. A version with a migration that cannot be
 * bridged is WL_EVERSION. */
static int wl__bridge_old_schema(struct wl__db *d, int version, struct wl_errmsg *err)
{
    char sql[1024];
    if (wl__sqlite_read_bridge_sql(version, sql, sizeof sql) < 0)
        return wl_errmsg_set(err, WL_EVERSION,
                             "%s: schema version %d needs a migration to %d, which a reader "
                             "does not do; a command that writes it (run, measure, rm, gc), "
                             "as a user who can write it, migrates it",
                             d->path, version, wl__sqlite_n_migrations);
    int rc = wl__exec(d, "PRAGMA temp_store = MEMORY", err, "configuring the connection");
    return rc != 0 ? rc : wl__exec(d, sql, err, "reading an older schema");
}

/* PRAGMA journal_mode = WAL; *wal tells whether the database is in WAL
 * mode then. Switching needs the exclusive lock, and while another
 * connection holds a reserved one (another process creating the same new
 * file, in the middle of its own switch) SQLite returns SQLITE_BUSY at
 * once, without calling the busy handler (it would deadlock): tried again,
 * with the busy handler's sleeps, for up to the busy timeout (old: such an
 * open failed after a few ms with "waited 2000 ms"). */
static int wl__switch_to_wal(struct wl__db *d, bool *wal, struct wl_errmsg *err)
{
    for (int n = 0;; n++) {
        sqlite3_stmt *st = NULL;
        int rc = wl__prepare(d, "PRAGMA journal_mode = WAL", &st, err);
        if (rc != 0)
            return rc;
        d->busy_gave_up = false;
        int s = sqlite3_step(st);
        const unsigned char *mode = s == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
        *wal = mode && strcmp((const char *)mode, "wal") == 0;
        /* a BUSY the handler was not called for: this loop waits with it */
        const bool again =
            (s & 0xff) == SQLITE_BUSY && !d->busy_gave_up && wl__busy_wait(d, n) != 0;
        if (s != SQLITE_ROW && !again) {
            rc = wl__fail(d, s, err, "switching to WAL journal");
            if (rc == 0) /* SQLITE_DONE: no row, never seen */
                rc = wl_errmsg_set(err, WL_EDB, "%s: switching to WAL journal: no answer", d->path);
        }
        sqlite3_finalize(st);
        if (s == SQLITE_ROW || rc != 0)
            return rc;
    }
}

/* How long an open waits to mark dead runs before it leaves them for later. */
#define WL__MARK_WAIT_MS 100

/* Runs left `running` by a writer that is gone become `incomplete`
 * (wl_run_status: sqlite_liveness.c; readers show the same without this). */
static int wl__mark_incomplete(struct wl__db *d, struct wl_errmsg *err)
{
#define WL__DEAD "status = 'running' AND " WL__LIVE_STATUS("runs") " = 'incomplete'"
    /* looked for first: an UPDATE takes the write lock even when it
     * changes nothing, and an open with no dead run to mark must not wait
     * for another writer */
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d, "SELECT 1 FROM runs WHERE " WL__DEAD " LIMIT 1", &st, err);
    if (rc != 0)
        return rc;
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = wl__fail(d, s, err, "looking for dead runs");
    sqlite3_finalize(st);
    if (s == SQLITE_ROW) {
        /* only a stored copy of what every reader works out anyway: while
         * another writer holds the lock it waits briefly, then is left to a
         * later open (old: `runs` or `show` failed after the busy timeout) */
        const int busy_ms = d->busy_timeout_ms;
        d->busy_timeout_ms = busy_ms < WL__MARK_WAIT_MS ? busy_ms : WL__MARK_WAIT_MS;
        rc = wl__exec(d, "UPDATE runs SET status = 'incomplete' WHERE " WL__DEAD, err,
                      "marking dead runs incomplete");
        d->busy_timeout_ms = busy_ms;
        if (rc == WL_EBUSY) {
            wl_errmsg_clear(err);
            rc = 0;
        }
    }
    return rc;
#undef WL__DEAD
}

static void wl__sqlite_close(void *db)
{
    struct wl__db *d = db;
    if (!d)
        return;
    sqlite3_close_v2(d->db);
    free(d);
}

static int wl__sqlite_open(const struct wl_store_params *p, const char *path, void **out,
                           char *made, struct wl_errmsg *err)
{
    *out = NULL;
    struct wl__db *d = calloc(1, sizeof *d);
    if (!d)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    snprintf(d->path, sizeof d->path, "%s", path);
    gethostname(d->host, sizeof d->host - 1);
    d->busy_timeout_ms = p->busy_timeout_ms > 0 ? p->busy_timeout_ms : 0;
    d->run_wait_ms = p->run_wait_ms > d->busy_timeout_ms ? p->run_wait_ms : d->busy_timeout_ms;
    bool exists = false;
    int rc = wl__set_proc_root(d, err);
    if (rc == 0)
        rc = wl__check_header(path, p->read_only || p->no_create, &exists, err);
    if (rc != 0)
        goto fail;
    if (!exists) {
        rc = wl__make_parent_dirs(path, made, WL_STORE_PATH_MAX, err);
        if (rc != 0)
            goto fail;
    }
    int s = SQLITE_OK;
    if (p->read_only) {
        rc = wl__open_reader(d, err);
        if (rc != 0)
            goto fail;
    } else {
        /* a file this user cannot write is refused before SQLite opens it:
         * it would open it read-only and, to read it, create -wal and -shm
         * owned by this user next to it */
        rc = exists ? wl__check_writable(path, err) : 0;
        if (rc != 0)
            goto fail;
        s = sqlite3_open_v2(path, &d->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (s != SQLITE_OK) {
            rc = exists ? 0 : wl__explain_create_failure(path, err);
            if (rc == 0)
                rc = wl__fail(d, s, err, exists ? "opening the database" : "creating the database");
            goto fail;
        }
    }
    sqlite3_extended_result_codes(d->db, 1);
    wl__set_busy_handler(d);

    /* Read-only checks first: nothing is written to a file we refuse. */
    int64_t app_id = 0, version = 0, n_objects = 0;
    rc = wl__read_header(d, &app_id, &version, &n_objects, err);
    if (rc == WL_EACCES && p->read_only) {
        rc = wl__reopen_immutable(d, err);
        if (rc == 0)
            rc = wl__read_header(d, &app_id, &version, &n_objects, err);
    }
    if (rc != 0) {
        if (rc == WL_EFORMAT)
            wl__explain_unreadable(d, err);
        goto fail;
    }
    rc = wl__register_casefold(d, err);
    if (rc == 0)
        rc = wl__register_run_status(d, err);
    if (rc != 0)
        goto fail;
    /* Ours has our application id; a file without it is one we may
     * initialise only when it is blank: no tables and no user_version (a
     * wattlens migration sets user_version, application_id and the tables in
     * one transaction, so a user_version alone is another program's) */
    if (app_id != WL__SQLITE_APP_ID && (app_id != 0 || n_objects > 0 || version != 0)) {
        rc = wl_errmsg_set(err, WL_EFORMAT,
                           "%s: an SQLite database, but not a wattlens store; refusing to touch "
                           "it - pass another path with --db or WATTLENS_DB",
                           path);
        goto fail;
    }
    if ((p->read_only || p->no_create) && n_objects == 0 && version == 0) {
        /* a 0-byte file, or an SQLite file without tables: only a writer
         * that may create a database initialises it, never a reader */
        rc = wl_errmsg_set(err, WL_ENOENT, "%s: %s, not a wattlens database yet (left unchanged)",
                           path,
                           exists && wl__file_bytes(path) == 0 ? "an empty file"
                                                               : "an SQLite file without tables");
        goto fail;
    }
    if (version > wl__sqlite_n_migrations) {
        rc = wl_errmsg_set(err, WL_EVERSION,
                           "%s: written by a newer wattlens (schema version %lld; this one "
                           "understands up to %d); upgrade wattlens - the file was not changed",
                           path, (long long)version, wl__sqlite_n_migrations);
        goto fail;
    }
    /* an older schema left as it is (read-only, or no_migrate on a writable
     * connection, which keeps its locks): no migration, no WAL switch, no
     * dead run marked; the version is SQLite's, the log's included */
    const bool old_schema = version < wl__sqlite_n_migrations;
    if (p->read_only || (p->no_migrate && old_schema)) {
        rc = old_schema ? wl__bridge_old_schema(d, (int)version, err) : 0;
        if (rc != 0)
            goto fail;
        rc = wl__exec(d, "PRAGMA foreign_keys = ON", err, "configuring the connection");
        /* a reader's connection writes nothing, whichever table (the views
         * hide only runs and tokens; a delete would start with the sections).
         * Closing the last connection to a WAL file may still checkpoint a
         * log another writer left into it, as any SQLite reader does: the
         * rows stay what they were */
        if (rc == 0 && old_schema)
            rc = wl__exec(d, "PRAGMA query_only = ON", err, "configuring the connection");
        if (rc != 0)
            goto fail;
        *out = d;
        return 0;
    }
    if (sqlite3_db_readonly(d->db, "main") == 1) {
        rc = wl_errmsg_set(err, WL_EACCES,
                           "%s: the database file is read-only; check its permissions (or "
                           "pass another path with --db)",
                           path);
        goto fail;
    }
    if (n_objects == 0) {
        /* A new file: larger pages make the deep tables' B-trees shallower
         * (a page size cannot change once the file is in WAL mode). */
        rc = wl__exec(d, "PRAGMA page_size = 16384", err, "creating the database");
        if (rc != 0)
            goto fail;
    }
    bool wal = false;
    rc = wl__switch_to_wal(d, &wal, err);
    if (rc != 0)
        goto fail;
    if (!wal) {
        rc = wl_errmsg_set(err, WL_EACCES,
                           "%s: cannot use a write-ahead log here (is the directory writable?)",
                           path);
        goto fail;
    }
    rc = wl__exec(d,
                  "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                  "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384",
                  err, "configuring the connection");
    if (rc != 0)
        goto fail;
    if (version < wl__sqlite_n_migrations) {
        rc = wl__migrate(d, err);
        if (rc != 0)
            goto fail;
    }
    rc = wl__mark_incomplete(d, err);
    if (rc != 0)
        goto fail;
    *out = d;
    return 0;
fail:
    wl__sqlite_close(d);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

/* on_stored of the component buffer: columns 2 layer, 3 component, 4 name,
 * 5 dur_ms, 6 energy_j. */
static void wl__agg_add(void *user, const struct wl__val *v, const char *arena)
{
    struct wl__agg *a = user;
    int64_t layer = v[2].i, comp = v[3].i;
    if (a->overflow)
        return;
    if (layer < 0 || layer >= WL__AGG_LAYERS || comp < 0 || comp >= WL__AGG_COMPONENTS) {
        a->overflow = true;
        return;
    }
    if ((size_t)layer >= a->n_layers) {
        size_t nl = a->n_layers ? a->n_layers : 32;
        while (nl <= (size_t)layer)
            nl *= 2;
        struct wl__agg_slot *ns = realloc(a->slots, nl * WL__AGG_COMPONENTS * sizeof *ns);
        if (!ns) {
            a->overflow = true;
            return;
        }
        memset(ns + a->n_layers * WL__AGG_COMPONENTS, 0,
               (nl - a->n_layers) * WL__AGG_COMPONENTS * sizeof *ns);
        a->slots = ns;
        a->n_layers = nl;
    }
    struct wl__agg_slot *x = &a->slots[layer * WL__AGG_COMPONENTS + comp];
    if (x->n++ == 0) {
        const char *name = arena + v[4].off;
        size_t len = strlen(name);
        if (len >= sizeof x->name) {
            a->overflow = true;
            return;
        }
        memcpy(x->name, name, len + 1);
    }
    if (v[5].type == SQLITE_FLOAT) {
        x->dur_ms += v[5].r;
        x->n_dur++;
    }
    if (v[6].type == SQLITE_FLOAT) {
        x->energy_j += v[6].r;
        x->n_energy++;
    }
}

/* Writes the run's component_agg rows from the sums (or, if they
 * overflowed, from the stored rows). */
static int wl__agg_write(struct wl__run *r, struct wl_errmsg *err)
{
    char sql[512];
    snprintf(sql, sizeof sql, "DELETE FROM component_agg WHERE run_id = %lld",
             (long long)r->run_id);
    int rc = wl__exec(r->d, sql, err, "aggregating the run");
    if (rc != 0)
        return rc;
    if (r->agg.overflow) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO component_agg (run_id, layer, component, name, n, dur_ms, "
                 "energy_j) SELECT run_id, layer, component, min(name), count(*), sum(dur_ms), "
                 "sum(energy_j) FROM component_metrics WHERE run_id = %lld "
                 "GROUP BY layer, component",
                 (long long)r->run_id);
        return wl__exec(r->d, sql, err, "aggregating the run");
    }
    sqlite3_stmt *st = NULL;
    rc = wl__prepare(r->d,
                     "INSERT INTO component_agg (run_id, layer, component, name, n, dur_ms, "
                     "energy_j) VALUES (?,?,?,?,?,?,?)",
                     &st, err);
    for (size_t i = 0; rc == 0 && i < r->agg.n_layers * WL__AGG_COMPONENTS; i++) {
        const struct wl__agg_slot *x = &r->agg.slots[i];
        if (x->n == 0)
            continue;
        sqlite3_bind_int64(st, 1, r->run_id);
        sqlite3_bind_int64(st, 2, (int64_t)(i / WL__AGG_COMPONENTS));
        sqlite3_bind_int64(st, 3, (int64_t)(i % WL__AGG_COMPONENTS));
        sqlite3_bind_text(st, 4, x->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, x->n);
        wl__bind_double(st, 6, x->n_dur ? x->dur_ms : WL_STORE_UNSET);
        wl__bind_double(st, 7, x->n_energy ? x->energy_j : WL_STORE_UNSET);
        rc = wl__step_done(r->d, st, err, "aggregating the run");
    }
    sqlite3_finalize(st);
    return rc;
}

/* Drains buffer b, whose rows are of kind (WL__ROWS_COMPONENT, _OP): the
 * rows it refuses alone are taken out of the pending count (they were
 * counted as given, when buffered). */
static int wl__run_drain_rows(struct wl__run *r, struct wl__rowbuf *b, int kind,
                              struct wl_errmsg *err)
{
    int rc = wl__rowbuf_drain(r->d, b, err);
    r->pending.n[kind] -= b->n_refused;
    return rc;
}

/* Drains the buffers parents first. When the components' drain ended the
 * batch (wl__rowbuf_drain stopped at the failure), the op rows are not
 * inserted: outside the batch, each would be committed alone. */
static int wl__run_drain(struct wl__run *r, struct wl_errmsg *err)
{
    int rc = wl__run_drain_rows(r, &r->comp, WL__ROWS_COMPONENT, err);
    if (rc != 0 && wl__txn_ended(r->d, r->in_txn))
        return rc;
    int rc2 = wl__run_drain_rows(r, &r->op, WL__ROWS_OP, err);
    return rc != 0 ? rc : rc2;
}

/* Whether a row whose statement failed with rc was refused alone
 * (wl__txn_ended's rule: SQLite undid the statement and the batch goes
 * on), so it is no part of what a batch rolled back later loses. A failure
 * that ended the batch (wl__run_check_txn) took the row with it: not
 * refused, it is counted lost. The buffered rows follow the same rule
 * (sqlite_rowbuf.c's n_refused). */
static bool wl__row_refused(const struct wl__run *r, int rc)
{
    return rc != 0 && !wl__txn_ended(r->d, r->in_txn);
}

/* After a statement of the writer failed (rc, err) or before its next one
 * (rc 0): SQLite rolls the whole transaction back by itself on some errors
 * (SQLITE_IOERR, SQLITE_FULL, SQLITE_NOMEM: a failed commit among them),
 * and then every later statement would run in autocommit, outside any
 * batch, and the run could be finished `complete` with a hole. When the
 * writer's batch is gone: the writer knows it has none (the next row
 * starts one), the buffered rows are dropped (their tokens and layers
 * were rolled back), the per-component sums are left to SQL (they hold
 * rolled-back rows), the rows the batch had are added to what the run
 * lost (finishing stores the run as failed and says so), and err says
 * what was lost. Returns rc, or WL_EIO when the loss is found before the
 * next statement (a failure that did not say it). */
static int wl__run_check_txn(struct wl__run *r, int rc, struct wl_errmsg *err)
{
    if (!wl__txn_ended(r->d, r->in_txn))
        return rc;
    r->in_txn = false;
    wl__rowbuf_clear(&r->comp);
    wl__rowbuf_clear(&r->op);
    r->agg.overflow = true;
    const uint64_t now = wl_clock_now_ns();
    const double age_s = (double)(now - r->committed_ns) / 1e9;
    char why[512], rows[384];
    snprintf(why, sizeof why, "%s",
             rc != 0 ? err->text : "a write failed without saying so (SQLite ended the batch)");
    if (rc == 0)
        rc = WL_EIO;
    if (r->lost_batches++ == 0) {
        r->lost_rc = rc;
        snprintf(r->lost_why, sizeof r->lost_why, "%s", why);
    }
    wl__rows_add(&r->lost, &r->pending);
    wl__rows_describe(&r->pending, rows, sizeof rows);
    memset(&r->pending, 0, sizeof r->pending);
    r->committed_ns = now; /* what is lost next is counted from here */
    return wl_errmsg_set(err, rc,
                         "%s; SQLite rolled back the batch in progress with it, so the rows "
                         "given since the last commit (%.1f s earlier) are lost: %s",
                         why, age_s, rows);
}

/* Takes the write lock for the writer, waiting up to wait_ms, then checks
 * that the run's row is still there: `rm` (or another program) may have
 * removed it meanwhile, and its rows would then fail one by one on their
 * foreign key ("FOREIGN KEY constraint failed") instead of saying why.
 * WL_ENOENT then, with the lock released. The row is matched by its uuid
 * too: once the run was removed, the next run made gets its key, and its
 * rows would otherwise go under that run. Every write of the writer is
 * inside a batch begun here, so this one check guards them all. */
static int wl__run_lock(struct wl__run *r, int wait_ms, const char *what, struct wl_errmsg *err)
{
    struct wl__db *d = r->d;
    const int busy_ms = d->busy_timeout_ms;
    d->busy_timeout_ms = wait_ms;
    int rc = wl__exec(d, "BEGIN IMMEDIATE", err, what);
    d->busy_timeout_ms = busy_ms;
    if (rc != 0)
        return rc;
    sqlite3_stmt *ex = r->st[ST_EXISTS];
    sqlite3_bind_int64(ex, 1, r->run_id);
    sqlite3_bind_text(ex, 2, r->uuid, -1, SQLITE_STATIC);
    int s = sqlite3_step(ex);
    sqlite3_reset(ex);
    if (s == SQLITE_ROW)
        return 0;
    if (s == SQLITE_DONE)
        rc = wl_errmsg_set(err, WL_ENOENT,
                           "%s: run %s is no longer in the database: it was removed (`wattlens "
                           "rm`, or another program) while it was being recorded, so nothing "
                           "more of it can be saved",
                           d->path, r->uuid);
    else
        rc = wl__fail(d, s, err, what);
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Starts the writer's batch. Not before the gap after its last commit has
 * passed: without it a writer that adds rows all the time (the recorder's
 * writer thread) took the lock again microseconds after each commit, and
 * no other process ever got it (`measure`, `rm` and `gc` failed after their
 * 2 s wait while a `run` recorded). The sleep holds up only this writer's
 * thread. Then waits up to run_wait_ms for the write lock, not the busy
 * timeout: another writer (a run being recorded holds the lock for each of
 * its batches, up to the flush interval) can keep it longer than that, and
 * a row given up here is lost. */
static int wl__run_txn(struct wl__run *r, struct wl_errmsg *err)
{
    int rc = wl__run_check_txn(r, 0, err);
    if (rc != 0)
        return rc;
    if (r->in_txn)
        return 0;
    const uint64_t free_until = r->committed_ns + r->gap_ns, now = wl_clock_now_ns();
    if (now < free_until)
        wl_clock_sleep_ns(free_until - now);
    rc = wl__run_lock(r, r->d->run_wait_ms, "starting a batch", err);
    if (rc != 0)
        return rc;
    r->in_txn = true;
    return 0;
}

static int wl__run_commit(struct wl__run *r, struct wl_errmsg *err)
{
    int rc = wl__run_check_txn(r, 0, err);
    if (rc != 0 || !r->in_txn)
        return rc;
    /* A bad row (WL_EINVAL, already named in err) does not hold back the
     * good ones: commit them, then report it. */
    int rows_rc = wl__run_drain(r, err);
    if (rows_rc != 0 && rows_rc != WL_EINVAL)
        return wl__run_check_txn(r, rows_rc, err);
    sqlite3_stmt *hb = r->st[ST_HEARTBEAT];
    sqlite3_bind_int64(hb, 1, wl__now_ms());
    sqlite3_bind_int64(hb, 2, r->run_id);
    rc = wl__step_done(r->d, hb, err, "updating the run");
    if (rc == 0)
        rc = wl__exec(r->d, "COMMIT", err, "committing a batch");
    if (rc != 0)
        return wl__run_check_txn(r, rc, err);
    r->in_txn = false;
    r->committed_ns = wl_clock_now_ns();
    memset(&r->pending, 0, sizeof r->pending);
    return rows_rc;
}

static void wl__sqlite_release(void *run)
{
    struct wl__run *r = run;
    if (!r)
        return;
    if (r->in_txn)
        sqlite3_exec(r->d->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    if (r->counted && --r->d->n_writers == 0)
        sqlite3_exec(r->d->db, "PRAGMA wal_autocheckpoint = 1000", NULL, NULL, NULL);
    wl__rowbuf_free(&r->comp);
    wl__rowbuf_free(&r->op);
    free(r->agg.slots);
    free(r);
}

static int wl__run_prepare(struct wl__run *r, struct wl_errmsg *err)
{
    char sql[2048];
    int n = snprintf(sql, sizeof sql,
                     "INSERT INTO power_samples (run_id, seq, t_ms, phase, method_flags");
    for (int i = 0; i < WL_DOMAIN_COUNT; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", %s_w, %s_j", wl_domain_name(i),
                      wl_domain_name(i));
    n += snprintf(sql + n, sizeof sql - (size_t)n, ") VALUES (?,?,?,?,?");
    for (int i = 0; i < WL_DOMAIN_COUNT; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ",?,?");
    snprintf(sql + n, sizeof sql - (size_t)n, ")");
    int rc = wl__prepare(r->d, sql, &r->st[ST_SAMPLE], err);
    if (rc != 0)
        return rc;

    n = snprintf(sql, sizeof sql,
                 "INSERT INTO sections (run_id, seq, phase, name, token_index, start_ms, end_ms, "
                 "dur_ms, energy_j, avg_power_w, method");
    for (int i = 0; i < WL_DOMAIN_COUNT; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", %s_j", wl_domain_name(i));
    n += snprintf(sql + n, sizeof sql - (size_t)n, ") VALUES (?,?,?,?,?,?,?,?,?,?,?");
    for (int i = 0; i < WL_DOMAIN_COUNT; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ",?");
    snprintf(sql + n, sizeof sql - (size_t)n, ")");
    rc = wl__prepare(r->d, sql, &r->st[ST_SECTION], err);
    if (rc != 0)
        return rc;

    static const char *const fixed[] = {
        [ST_TOKEN] = "INSERT INTO tokens (run_id, idx, text, is_input, start_ms, end_ms, dur_ms, "
                     "energy_j, method, avg_power_w, power_w, edp_js, n_seq) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [ST_LAYER] = "INSERT INTO layer_metrics (run_id, token_idx, layer, dur_ms, energy_j) "
                     "VALUES (?,?,?,?,?)",
        [ST_DOMAIN] = "INSERT INTO run_domains (run_id, domain, method, source, energy_j, "
                      "avg_power_w, baseline_power_w, peak_power_w, peak_t_ms) "
                      "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (run_id, domain) DO UPDATE SET "
                      "method = coalesce(excluded.method, method), "
                      "source = coalesce(excluded.source, source), "
                      "energy_j = coalesce(excluded.energy_j, energy_j), "
                      "avg_power_w = coalesce(excluded.avg_power_w, avg_power_w), "
                      "baseline_power_w = coalesce(excluded.baseline_power_w, baseline_power_w), "
                      "peak_power_w = coalesce(excluded.peak_power_w, peak_power_w), "
                      "peak_t_ms = coalesce(excluded.peak_t_ms, peak_t_ms)",
        [ST_HEARTBEAT] = "UPDATE runs SET updated_at_ms = ? WHERE id = ?",
        /* by key and uuid: a removed run's key is given again to the next
         * run made (runs.id has no AUTOINCREMENT), whose row the key alone
         * would find */
        [ST_EXISTS] = "SELECT 1 FROM runs WHERE id = ?1 AND uuid = ?2",
    };
    for (int i = ST_TOKEN; i < ST_COUNT; i++) {
        if (!fixed[i])
            continue;
        rc = wl__prepare(r->d, fixed[i], &r->st[i], err);
        if (rc != 0)
            return rc;
    }
    rc = wl__rowbuf_prepare(r->d, &r->comp, "component metric",
                            "INSERT INTO component_metrics (run_id, token_idx, layer, component, "
                            "name, dur_ms, energy_j, act_mean_abs, act_std, act_max_abs, "
                            "act_sparsity)",
                            11, err);
    if (rc != 0)
        return rc;
    r->comp.on_stored = wl__agg_add;
    r->comp.user = &r->agg;
    return wl__rowbuf_prepare(r->d, &r->op, "op metric",
                              "INSERT INTO op_metrics (run_id, token_idx, layer, component, op, "
                              "name, dur_ms, energy_j, entropy, max_weight, sparsity, "
                              "kill_ratio, var_ratio, head_entropy, head_max_weight, "
                              "head_sparsity)",
                              16, err);
}

static int wl__sqlite_run_begin(void *db, const struct wl_run_info *in, const char *uuid,
                                void **out, struct wl_errmsg *err)
{
    struct wl__db *d = db;
    *out = NULL;
    struct wl__run *r = calloc(1, sizeof *r);
    if (!r)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    r->d = d;
    snprintf(r->uuid, sizeof r->uuid, "%s", uuid);
    sqlite3_stmt *st = NULL;
    int rc = wl__run_prepare(r, err);
    if (rc != 0)
        goto fail;
    rc = wl__exec(d, "BEGIN IMMEDIATE", err, "creating the run");
    if (rc != 0)
        goto fail;
    rc = wl__prepare(d,
                     "INSERT INTO runs (uuid, created_at_ms, updated_at_ms, status, kind, command, "
                     "model_name, model_path, model_sha256, model_arch, model_features, prompt, "
                     "experiment, depth, sampling, batch_size, n_seq, threads, context_length, "
                     "host_name, host_cpu, host_cores, host_memory_bytes, host_gpus, "
                     "sensor_provenance, writer_pid, writer_host, writer_start) "
                     "VALUES (?,?,?,'running',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     &st, err);
    if (rc != 0)
        goto rollback;
    const char *host = d->host;
    char start[WL__START_TOKEN_SIZE];
    const bool has_start =
        wl__process_start_token(d->proc_root, (long)getpid(), start, sizeof start);
    int64_t now = wl__now_ms();
    int i = 1;
    sqlite3_bind_text(st, i++, uuid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, in->created_at_ms > 0 ? in->created_at_ms : now);
    sqlite3_bind_int64(st, i++, now);
    sqlite3_bind_text(st, i++, wl_run_kind_name(in->kind), -1, SQLITE_STATIC);
    wl__bind_text(st, i++, in->command);
    wl__bind_text(st, i++, in->model_name);
    wl__bind_text(st, i++, in->model_path);
    wl__bind_text(st, i++, in->model_sha256);
    wl__bind_text(st, i++, in->model_arch);
    wl__bind_text(st, i++, in->model_features_json);
    wl__bind_text(st, i++, in->prompt);
    wl__bind_text(st, i++, in->experiment);
    wl__bind_text(st, i++, in->depth);
    wl__bind_text(st, i++, in->sampling_json);
    wl__bind_int_or_null(st, i++, in->batch_size, 1);
    wl__bind_int_or_null(st, i++, in->n_seq, 1);
    wl__bind_int_or_null(st, i++, in->threads, 1);
    wl__bind_int_or_null(st, i++, in->context_length, 1);
    wl__bind_text(st, i++, host);
    wl__bind_text(st, i++, in->host_cpu);
    wl__bind_int_or_null(st, i++, in->host_cores, 1);
    wl__bind_int_or_null(st, i++, in->host_memory_bytes, 1);
    wl__bind_text(st, i++, in->host_gpus);
    wl__bind_text(st, i++, in->sensor_provenance_json);
    sqlite3_bind_int64(st, i++, (int64_t)getpid());
    wl__bind_text(st, i++, host);
    wl__bind_text(st, i++, has_start ? start : NULL);
    rc = wl__step_done(d, st, err, "creating the run");
    sqlite3_finalize(st);
    st = NULL;
    if (rc != 0)
        goto rollback;
    r->run_id = sqlite3_last_insert_rowid(d->db);
    if (in->n_tags > 0) {
        rc = wl__prepare(d, "INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?, ?)", &st, err);
        if (rc != 0)
            goto rollback;
        for (size_t t = 0; t < in->n_tags; t++) {
            if (!in->tags[t] || !*in->tags[t])
                continue;
            sqlite3_bind_int64(st, 1, r->run_id);
            sqlite3_bind_text(st, 2, in->tags[t], -1, SQLITE_STATIC);
            rc = wl__step_done(d, st, err, "tagging the run");
            if (rc != 0)
                goto rollback;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    rc = wl__exec(d, "COMMIT", err, "creating the run");
    if (rc != 0)
        goto rollback;
    r->committed_ns = wl_clock_now_ns();
    /* No checkpoint (and so no fsync) stalls the writer inside a run; the
     * WAL is checkpointed after it (next commit or close). */
    if (d->n_writers++ == 0)
        sqlite3_exec(d->db, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL);
    r->counted = true;
    *out = r;
    return 0;
rollback:
    sqlite3_finalize(st);
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
fail:
    wl__sqlite_release(r);
    return rc;
}

static int wl__sqlite_add_samples(void *run, const struct wl_store_sample *v, size_t n,
                                  struct wl_errmsg *err)
{
    struct wl__run *r = run;
    int rc = wl__run_txn(r, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = r->st[ST_SAMPLE];
    for (size_t k = 0; k < n; k++) {
        int i = 1;
        sqlite3_bind_int64(st, i++, r->run_id);
        sqlite3_bind_int64(st, i++, r->sample_seq);
        sqlite3_bind_double(st, i++, v[k].t_ms == v[k].t_ms ? v[k].t_ms : 0.0);
        wl__bind_text(st, i++, v[k].phase);
        sqlite3_bind_int64(st, i++, v[k].method_flags);
        for (int dm = 0; dm < WL_DOMAIN_COUNT; dm++) {
            bool on = (v[k].domain_mask >> dm) & 1u;
            wl__bind_double(st, i++, on ? v[k].power_w[dm] : WL_STORE_UNSET);
            wl__bind_double(st, i++, on ? v[k].energy_j[dm] : WL_STORE_UNSET);
        }
        rc = wl__step_done(r->d, st, err, "storing a power sample");
        /* one whose INSERT ended the batch is lost with it */
        if (!wl__row_refused(r, rc))
            r->pending.n[WL__ROWS_SAMPLE]++;
        if (rc != 0)
            return wl__run_check_txn(r, rc, err);
        r->sample_seq++;
    }
    return 0;
}

static double wl__power_w(double energy_j, double dur_ms)
{
    return (dur_ms > 0) ? energy_j / (dur_ms / 1000.0) : WL_STORE_UNSET;
}

static int wl__sqlite_add_section(void *run, const struct wl_store_section *v,
                                  struct wl_errmsg *err)
{
    struct wl__run *r = run;
    if (!v->phase || !v->name)
        return wl_errmsg_set(err, WL_EINVAL, "a section needs a phase and a name");
    int rc = wl__run_txn(r, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = r->st[ST_SECTION];
    double dur = v->end_ms - v->start_ms;
    int i = 1;
    sqlite3_bind_int64(st, i++, r->run_id);
    sqlite3_bind_int64(st, i++, r->section_seq);
    wl__bind_text(st, i++, v->phase);
    wl__bind_text(st, i++, v->name);
    wl__bind_int_or_null(st, i++, v->token_index, 0);
    wl__bind_double(st, i++, v->start_ms);
    wl__bind_double(st, i++, v->end_ms);
    wl__bind_double(st, i++, dur);
    wl__bind_double(st, i++, v->energy_j);
    wl__bind_double(st, i++, wl__power_w(v->energy_j, dur));
    wl__bind_text(st, i++, wl_method_key(v->method));
    for (int dm = 0; dm < WL_DOMAIN_COUNT; dm++)
        wl__bind_double(st, i++,
                        ((v->domain_mask >> dm) & 1u) ? v->domain_energy_j[dm] : WL_STORE_UNSET);
    rc = wl__step_done(r->d, st, err, "storing a section");
    if (!wl__row_refused(r, rc))
        r->pending.n[WL__ROWS_SECTION]++;
    if (rc != 0)
        return wl__run_check_txn(r, rc, err);
    r->section_seq++;
    return 0;
}

static int wl__sqlite_add_token(void *run, const struct wl_store_token *v, struct wl_errmsg *err)
{
    struct wl__run *r = run;
    int rc = wl__run_txn(r, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = r->st[ST_TOKEN];
    double dur = v->end_ms - v->start_ms; /* NaN when either is unset */
    int i = 1;
    sqlite3_bind_int64(st, i++, r->run_id);
    sqlite3_bind_int64(st, i++, v->index);
    wl__bind_text(st, i++, v->text);
    sqlite3_bind_int(st, i++, v->is_input ? 1 : 0);
    wl__bind_double(st, i++, v->start_ms);
    wl__bind_double(st, i++, v->end_ms);
    wl__bind_double(st, i++, dur);
    wl__bind_double(st, i++, v->energy_j);
    wl__bind_text(st, i++, wl_method_key(v->method));
    wl__bind_double(st, i++, wl__power_w(v->energy_j, dur));
    wl__bind_double(st, i++, v->power_w);
    wl__bind_double(st, i++, v->energy_j * (dur / 1000.0));
    wl__bind_int_or_null(st, i++, v->n_seq, 1);
    rc = wl__step_done(r->d, st, err, "storing a token");
    if (!wl__row_refused(r, rc))
        wl__rows_token(&r->pending, v->index);
    if (rc == WL_EINVAL)
        wl_errmsg_set(err, rc, "token %lld: already stored in this run", (long long)v->index);
    if (rc != 0)
        return wl__run_check_txn(r, rc, err);
    return 0;
}

static int wl__sqlite_add_layer(void *run, const struct wl_store_layer_metric *v,
                                struct wl_errmsg *err)
{
    struct wl__run *r = run;
    int rc = wl__run_txn(r, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = r->st[ST_LAYER];
    sqlite3_bind_int64(st, 1, r->run_id);
    sqlite3_bind_int64(st, 2, v->token_index);
    sqlite3_bind_int(st, 3, v->layer);
    wl__bind_double(st, 4, v->dur_ms);
    wl__bind_double(st, 5, v->energy_j);
    rc = wl__step_done(r->d, st, err, "storing a layer metric");
    if (!wl__row_refused(r, rc))
        r->pending.n[WL__ROWS_LAYER]++;
    if (rc == WL_EINVAL)
        wl_errmsg_set(err, rc, "layer %d of token %lld: duplicate, or its token is not stored yet",
                      v->layer, (long long)v->token_index);
    if (rc != 0)
        return wl__run_check_txn(r, rc, err);
    return 0;
}

static int wl__sqlite_add_component(void *run, const struct wl_store_component_metric *v,
                                    struct wl_errmsg *err)
{
    struct wl__run *r = run;
    if (!v->name)
        return wl_errmsg_set(err, WL_EINVAL, "a component metric needs a name");
    int rc = wl__run_txn(r, err);
    if (rc != 0)
        return rc;
    struct wl__rowbuf *b = &r->comp;
    int c = 0;
    wl__val_int(b, c++, r->run_id);
    wl__val_int(b, c++, v->token_index);
    wl__val_int(b, c++, v->layer);
    wl__val_int(b, c++, v->component);
    rc = wl__val_bytes(b, c++, SQLITE_TEXT, v->name, strlen(v->name));
    if (rc != 0)
        return wl_errmsg_set(err, rc, "out of memory");
    wl__val_double(b, c++, v->dur_ms);
    wl__val_double(b, c++, v->energy_j);
    wl__val_double(b, c++, v->act_mean_abs);
    wl__val_double(b, c++, v->act_std);
    wl__val_double(b, c++, v->act_max_abs);
    wl__val_double(b, c++, v->act_sparsity);
    r->pending.n[WL__ROWS_COMPONENT]++;
    if (++b->n == WL__BATCH_ROWS)
        return wl__run_check_txn(r, wl__run_drain_rows(r, b, WL__ROWS_COMPONENT, err), err);
    return 0;
}

static int wl__sqlite_add_op(void *run, const struct wl_store_op_metric *v, struct wl_errmsg *err)
{
    struct wl__run *r = run;
    if (!v->name)
        return wl_errmsg_set(err, WL_EINVAL, "an op metric needs a name");
    if (v->n_heads > 65536)
        return wl_errmsg_set(err, WL_ERANGE, "op %s: %zu heads is too many", v->name, v->n_heads);
    int rc = wl__run_txn(r, err);
    if (rc != 0)
        return rc;
    struct wl__rowbuf *b = &r->op;
    int c = 0;
    wl__val_int(b, c++, r->run_id);
    wl__val_int(b, c++, v->token_index);
    wl__val_int(b, c++, v->layer);
    wl__val_int(b, c++, v->component);
    wl__val_int(b, c++, v->op);
    rc = wl__val_bytes(b, c++, SQLITE_TEXT, v->name, strlen(v->name));
    wl__val_double(b, c++, v->dur_ms);
    wl__val_double(b, c++, v->energy_j);
    wl__val_double(b, c++, v->entropy);
    wl__val_double(b, c++, v->max_weight);
    wl__val_double(b, c++, v->sparsity);
    wl__val_double(b, c++, v->kill_ratio);
    wl__val_double(b, c++, v->var_ratio);
    if (rc == 0)
        rc = wl__val_floats(b, c++, v->head_entropy, v->n_heads);
    if (rc == 0)
        rc = wl__val_floats(b, c++, v->head_max_weight, v->n_heads);
    if (rc == 0)
        rc = wl__val_floats(b, c++, v->head_sparsity, v->n_heads);
    if (rc != 0)
        return wl_errmsg_set(err, rc, "out of memory");
    r->pending.n[WL__ROWS_OP]++;
    if (++b->n == WL__BATCH_ROWS) /* their components first */
        return wl__run_check_txn(r, wl__run_drain(r, err), err);
    return 0;
}

static int wl__sqlite_set_domain(void *run, const struct wl_store_domain *v, struct wl_errmsg *err)
{
    struct wl__run *r = run;
    if ((unsigned)v->domain >= WL_DOMAIN_COUNT || (unsigned)v->method >= WL_METHOD_COUNT)
        return wl_errmsg_set(err, WL_EINVAL, "invalid energy domain or method");
    int rc = wl__run_txn(r, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = r->st[ST_DOMAIN];
    int i = 1;
    sqlite3_bind_int64(st, i++, r->run_id);
    sqlite3_bind_text(st, i++, wl_domain_name(v->domain), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, wl_method_key(v->method), -1, SQLITE_STATIC);
    wl__bind_text(st, i++, v->source);
    wl__bind_double(st, i++, v->energy_j);
    wl__bind_double(st, i++, v->avg_power_w);
    wl__bind_double(st, i++, v->baseline_power_w);
    wl__bind_double(st, i++, v->peak_power_w);
    wl__bind_double(st, i++, v->peak_t_ms);
    rc = wl__step_done(r->d, st, err, "storing a domain's figures");
    if (!wl__row_refused(r, rc))
        r->pending.domains |= 1u << v->domain;
    return wl__run_check_txn(r, rc, err);
}

static int wl__sqlite_set_extra(void *run, const char *key, const char *json, struct wl_errmsg *err)
{
    struct wl__run *r = run;
    if (!key || !*key || !json)
        return wl_errmsg_set(err, WL_EINVAL, "extra field needs a key and a JSON value");
    for (const char *c = key; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return wl_errmsg_set(err, WL_EINVAL, "extra field key '%s': use [a-z0-9_]", key);
    }
    /* Checked with the parser the readers use (summary, show): SQLite's
     * json() takes bytes that are not UTF-8 (and a number out of a
     * double's range), which jansson refuses, and the whole object would
     * then read as none, every other key lost with it. */
    json_error_t je;
    json_t *parsed = json_loads(json, JSON_DECODE_ANY, &je);
    if (!parsed)
        return wl_errmsg_set(err, WL_EINVAL, "extra field '%s': value is not valid JSON: %s", key,
                             je.text);
    json_decref(parsed);
    int rc = wl__run_txn(r, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = wl__prepare(r->d,
                     "UPDATE runs SET extra = json_set(coalesce(extra, '{}'), '$.' || ?, json(?)) "
                     "WHERE id = ?",
                     &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->run_id);
    rc = wl__step_done(r->d, st, err, "storing an extra field");
    sqlite3_finalize(st);
    const bool refused = wl__row_refused(r, rc);
    if (!refused)
        wl__rows_extra(&r->pending, key, strlen(key));
    if (refused && rc != WL_EBUSY)
        rc = wl_errmsg_set(err, WL_EINVAL, "extra field '%s': value is not valid JSON", key);
    return wl__run_check_txn(r, rc, err);
}

static int wl__sqlite_flush(void *run, bool force, int interval_ms, struct wl_errmsg *err)
{
    struct wl__run *r = run;
    const uint64_t gap_ns =
        (uint64_t)(interval_ms > 0 ? interval_ms : 0) * 1000000u / WL__BATCH_GAP_DIV;
    r->gap_ns = gap_ns < WL__BATCH_GAP_MS * 1000000u ? gap_ns : WL__BATCH_GAP_MS * 1000000u;
    if (!r->in_txn)
        return 0;
    /* due by the last commit, not by the batch's first row: a writer that
     * adds once a second (`run`'s settle and baseline) would otherwise
     * hold the lock from one add to the next, half of the time; it commits
     * each add at once, and one that adds all the time commits as often */
    if (!force && wl_clock_now_ns() - r->committed_ns < (uint64_t)interval_ms * 1000000u)
        return 0;
    return wl__run_commit(r, err);
}

static int wl__sqlite_heartbeat(void *run, int wait_ms, struct wl_errmsg *err)
{
    struct wl__run *r = run;
    if (r->in_txn) /* the commit stamps it */
        return wl__run_commit(r, err);
    int rc = wl__run_lock(r, wait_ms, "updating the run's heartbeat", err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *hb = r->st[ST_HEARTBEAT];
    sqlite3_bind_int64(hb, 1, wl__now_ms());
    sqlite3_bind_int64(hb, 2, r->run_id);
    rc = wl__step_done(r->d, hb, err, "updating the run");
    if (rc == 0)
        rc = wl__exec(r->d, "COMMIT", err, "updating the run");
    if (rc != 0)
        sqlite3_exec(r->d->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void wl__sqlite_set_cancel(void *db, const volatile sig_atomic_t *flag)
{
    struct wl__db *d = db;
    d->cancel = flag;
}

static int wl__sqlite_finish(void *run, const struct wl_run_totals *t, struct wl_errmsg *err)
{
    struct wl__run *r = run;
    struct wl__db *d = r->d;
    wl__run_check_txn(r, 0, err); /* a batch lost since the last call: counted, said below */
    int rc = wl__run_txn(r, err);
    if (rc != 0)
        return rc;
    /* A run that lost rows (wl__run_check_txn) is not stored `complete`:
     * its totals stand (the recorder counted them), but its rows have a
     * hole, which its error says. */
    enum wl_run_status status = t->status;
    const char *error = t->error;
    char loss[1024] = "", error_buf[1536];
    if (r->lost_batches > 0) {
        char rows[384];
        if (status == WL_RUN_COMPLETE)
            status = WL_RUN_FAILED;
        snprintf(loss, sizeof loss,
                 "rows not stored: %s, which SQLite rolled back after a write error (%d "
                 "batch%s; the first error: %s)",
                 wl__rows_describe(&r->lost, rows, sizeof rows), r->lost_batches,
                 r->lost_batches == 1 ? "" : "es", r->lost_why);
        snprintf(error_buf, sizeof error_buf, "%s%s%s", error ? error : "", error ? "; " : "",
                 loss);
        error = error_buf;
    }
    int rows_rc = wl__run_drain(r, err); /* bad rows are named and skipped */
    if (rows_rc != 0 && rows_rc != WL_EINVAL) {
        rc = rows_rc;
        goto fail;
    }
    for (size_t k = 0; k < t->n_domains && t->domains; k++) {
        rc = wl__sqlite_set_domain(r, &t->domains[k], err);
        if (rc != 0)
            goto fail;
    }
    sqlite3_stmt *st = NULL;
    /* Token counts not given (-1) are counted from the stored tokens (an
     * output row of a batched run counts its round's n_seq tokens). */
    rc = wl__prepare(
        d,
        "UPDATE runs SET status = ?1, duration_ms = ?2, energy_j = ?3, energy_method = ?4, "
        "energy_scope = ?5, "
        "input_tokens = coalesce(?6, (SELECT nullif(count(*), 0) FROM tokens "
        "  WHERE run_id = ?12 AND is_input = 1)), "
        "output_tokens = coalesce(?7, (SELECT nullif(sum(coalesce(n_seq, 1)), 0) FROM tokens "
        "  WHERE run_id = ?12 AND is_input = 0)), "
        "kv_cache_bytes = ?8, response = ?9, "
        "sample_count = coalesce(?10, (SELECT count(*) FROM power_samples WHERE run_id = ?12)), "
        "sample_rate_hz = ?11, error = ?13, updated_at_ms = ?14, "
        "sensor_provenance = coalesce(?15, sensor_provenance) WHERE id = ?12",
        &st, err);
    if (rc != 0)
        goto fail;
    sqlite3_bind_text(st, 1, wl_run_status_name(status), -1, SQLITE_STATIC);
    wl__bind_double(st, 2, t->duration_ms);
    wl__bind_double(st, 3, t->energy_j);
    if ((unsigned)t->energy_method < WL_METHOD_COUNT && t->energy_j == t->energy_j)
        sqlite3_bind_text(st, 4, wl_method_key(t->energy_method), -1, SQLITE_STATIC);
    wl__bind_text(st, 5, t->energy_scope);
    wl__bind_int_or_null(st, 6, t->input_tokens, 0);
    wl__bind_int_or_null(st, 7, t->output_tokens, 0);
    wl__bind_int_or_null(st, 8, t->kv_cache_bytes, 0);
    wl__bind_text(st, 9, t->response);
    wl__bind_int_or_null(st, 10, t->sample_count, 0);
    wl__bind_double(st, 11, t->sample_rate_hz);
    sqlite3_bind_int64(st, 12, r->run_id);
    wl__bind_text(st, 13, error);
    sqlite3_bind_int64(st, 14, wl__now_ms());
    wl__bind_text(st, 15, t->sensor_provenance_json);
    rc = wl__step_done(d, st, err, "finishing the run");
    sqlite3_finalize(st);
    if (rc != 0)
        goto fail;
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE runs SET j_per_token = CASE WHEN output_tokens > 0 THEN "
             "energy_j / output_tokens END WHERE id = %lld",
             (long long)r->run_id);
    rc = wl__exec(d, sql, err, "finishing the run");
    if (rc == 0)
        rc = wl__agg_write(r, err);
    if (rc != 0)
        goto fail;
    rc = wl__run_commit(r, err);
    if (rc == 0 && r->lost_batches > 0)
        return wl_errmsg_set(err, r->lost_rc, "%s: run %s was stored as %s: %s", d->path, r->uuid,
                             wl_run_status_name(status), loss);
    return rc != 0 ? rc : rows_rc;
fail:
    /* Keep what was flushed; the batch in flight is dropped with the error
     * (and said to be, when SQLite dropped it itself). */
    rc = wl__run_check_txn(r, rc, err);
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    r->in_txn = false;
    return rc;
}

const struct wl_store_ops wl__store_sqlite_ops = {
    .name = "sqlite",
    .open = wl__sqlite_open,
    .close = wl__sqlite_close,
    .set_cancel = wl__sqlite_set_cancel,
    .run_begin = wl__sqlite_run_begin,
    .add_samples = wl__sqlite_add_samples,
    .add_section = wl__sqlite_add_section,
    .add_token = wl__sqlite_add_token,
    .add_layer_metric = wl__sqlite_add_layer,
    .add_component_metric = wl__sqlite_add_component,
    .add_op_metric = wl__sqlite_add_op,
    .set_domain = wl__sqlite_set_domain,
    .set_extra = wl__sqlite_set_extra,
    .flush = wl__sqlite_flush,
    .heartbeat = wl__sqlite_heartbeat,
    .finish = wl__sqlite_finish,
    .release = wl__sqlite_release,
    .count_runs = wl__sqlite_count_runs,
    .list_runs = wl__sqlite_list_runs,
    .resolve_id = wl__sqlite_resolve_id,
    .read_begin = wl__sqlite_read_begin,
    .read_end = wl__sqlite_read_end,
    .foreach = wl__sqlite_foreach,
    .columns = wl__sqlite_columns,
    .summary = wl__sqlite_summary,
    .recorded_nothing = wl__sqlite_recorded_nothing,
    .delete_run = wl__sqlite_delete_run,
    .gc = wl__sqlite_gc,
    .stats = wl__sqlite_stats,
};

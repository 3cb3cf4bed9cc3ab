/* Deleting runs: rm (wl__sqlite_delete_run) and gc (wl__sqlite_gc), with
 * the store's size and counts (wl__sqlite_stats); see store.md. */
#include "store/sqlite_impl.h"

#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Deletes a run bottom-up (leaf tables first, each a contiguous key range),
 * which is much faster than letting the cascades walk row by row; the
 * schema's ON DELETE CASCADE stays the rule for any other deleter. */
static int wl__delete_pk(struct wl__db *d, int64_t pk, struct wl_errmsg *err)
{
    static const char *const tables[] = {
        "op_metrics", "component_metrics", "layer_metrics", "tokens",   "component_agg",
        "sections",   "power_samples",     "run_domains",   "run_tags",
    };
    char sql[128];
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE run_id = %lld", tables[i], (long long)pk);
        int rc = wl__exec(d, sql, err, "deleting a run");
        if (rc != 0)
            return rc;
    }
    snprintf(sql, sizeof sql, "DELETE FROM runs WHERE id = %lld", (long long)pk);
    return wl__exec(d, sql, err, "deleting a run");
}

/* Run pk as every reader sees it (its status through WL__STATUS_OF_R), and
 * while it is being recorded, its writer for a message: kind, process and
 * host (the stored bytes, escaped). */
struct wl__run_state {
    bool exists, running;
    char kind[32];
    long long writer_pid;
    char writer_host[256];
};

static int wl__run_state(struct wl__db *d, int64_t pk, struct wl__run_state *out,
                         struct wl_errmsg *err, const char *what)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d,
                         "SELECT " WL__STATUS_OF_R ", r.kind, r.writer_pid, r.writer_host "
                         "FROM runs r WHERE r.id = ?",
                         &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pk);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 0);
        out->exists = true;
        out->running = status && strcmp(status, "running") == 0;
        if (out->running) {
            const char *host = (const char *)sqlite3_column_text(st, 3);
            wl__col_copy(st, 1, out->kind, sizeof out->kind);
            out->writer_pid = (long long)sqlite3_column_int64(st, 2);
            if (host)
                wl_utf8_escape(out->writer_host, sizeof out->writer_host, host, strlen(host));
        }
    } else if (s != SQLITE_DONE) {
        rc = wl__fail(d, s, err, what);
    }
    sqlite3_finalize(st);
    return rc;
}

/* WL_ESTATE naming the writer when run pk is still being recorded (its
 * status as every reader sees it); 0 otherwise. */
static int wl__refuse_running(struct wl__db *d, int64_t pk, const char *id, struct wl_errmsg *err)
{
    struct wl__run_state rs;
    int rc = wl__run_state(d, pk, &rs, err, "looking up a run");
    if (rc != 0 || !rs.running)
        return rc;
    return wl_errmsg_set(err, WL_ESTATE,
                         "run %s is still being recorded (%s, process %lld on %s); stop it "
                         "first, or give --force to delete it anyway (its writer then fails to "
                         "save)",
                         id, rs.kind[0] ? rs.kind : "?", rs.writer_pid,
                         rs.writer_host[0] ? rs.writer_host : "?");
}

int wl__sqlite_delete_run(void *db, const char *id, bool even_running, struct wl_errmsg *err)
{
    struct wl__db *d = db;
    int64_t pk = 0;
    int rc;
    if (!even_running) {
        /* a plain read first: a run being recorded is refused by name at
         * once, without waiting for the write lock its writer may hold
         * (old: "locked by another process" after 2 s); checked again
         * under the lock below */
        rc = wl__run_pk(d, id, &pk, err);
        if (rc == 0)
            rc = wl__refuse_running(d, pk, id, err);
        if (rc != 0)
            return rc;
    }
    rc = wl__exec(d, "BEGIN IMMEDIATE", err, "deleting a run");
    if (rc != 0)
        return rc;
    rc = wl__run_pk(d, id, &pk, err);
    if (rc == 0 && !even_running)
        rc = wl__refuse_running(d, pk, id, err);
    if (rc == 0)
        rc = wl__delete_pk(d, pk, err);
    if (rc == 0)
        rc = wl__exec(d, "COMMIT", err, "deleting a run");
    if (rc != 0)
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* gc takes the write lock once per run; after holding it this long in all
 * since its last pause, it pauses for WL__GC_PAUSE_MS, much longer than
 * wl__busy_wait's longest sleep (WL__BUSY_POLL_MS), so that a writer waiting for the
 * lock (a run being recorded, whose batches wait up to run_wait_ms) gets it
 * between two runs instead of after the last one. */
#define WL__GC_HOLD_MS 500
#define WL__GC_PAUSE_MS 150

/* Deletes run uuid in its own transaction unless it is gone (another rm or
 * gc) or being recorded after all (a writer on another host that stalled
 * past WL__STALE_MS and came back). *deleted tells which. Its key is looked
 * up here, under the write lock, not kept from the list: a key is given
 * again to the next run made once its run is removed. */
static int wl__gc_delete(struct wl__db *d, const char *uuid, bool *deleted, struct wl_errmsg *err)
{
    *deleted = false;
    int rc = wl__exec(d, "BEGIN IMMEDIATE", err, "removing old runs");
    if (rc != 0)
        return rc;
    int64_t pk = 0;
    struct wl__run_state rs = {0};
    rc = wl__run_pk(d, uuid, &pk, err);
    if (rc == WL_ENOENT)
        rc = 0; /* gone already: rs.exists stays false */
    else if (rc == 0)
        rc = wl__run_state(d, pk, &rs, err, "removing old runs");
    const bool go = rs.exists && !rs.running;
    if (rc == 0 && go)
        rc = wl__delete_pk(d, pk, err);
    if (rc == 0)
        rc = wl__exec(d, "COMMIT", err, "removing old runs");
    if (rc != 0)
        goto fail;
    *deleted = go;
    return 0;
fail:
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* VACUUM, then truncate the write-ahead log, after the runs were removed:
 * a failure is reported in out, not returned (the removal stands). */
static void wl__gc_compact(struct wl__db *d, struct wl_gc_result *out)
{
    struct wl_errmsg e = {{0}};
    /* VACUUM builds its copy of the database in the temp store: a file
     * (SQLITE_TMPDIR, else TMPDIR, else /var/tmp or /tmp), not the RAM the
     * connection's temp_store = MEMORY would take, about the size of the
     * database, which a long-kept store makes gigabytes. Its copy gets the
     * connection's page cache size; SQLite's default (2 MB) instead of the
     * connection's 16 MB keeps gc's peak memory at ~14 MB, not ~85 MB. The
     * connection gets back the two settings as they were read (the open's,
     * or whatever they are now); when one cannot be read, nothing is
     * changed and there is no VACUUM. */
    int64_t cache = 0, temp_store = 0;
    int rc = wl__pragma_int(d, "PRAGMA cache_size", &cache, &e);
    if (rc == 0)
        rc = wl__pragma_int(d, "PRAGMA temp_store", &temp_store, &e);
    if (rc == 0) {
        rc = wl__exec(d, "PRAGMA temp_store = FILE; PRAGMA cache_size = -2000", &e,
                      "compacting the database");
        if (rc == 0)
            rc = wl__exec(d, "VACUUM", &e, "compacting the database");
        char restore[96];
        snprintf(restore, sizeof restore, "PRAGMA temp_store = %lld; PRAGMA cache_size = %lld",
                 (long long)temp_store, (long long)cache);
        sqlite3_exec(d->db, restore, NULL, NULL, NULL);
    }
    sqlite3_stmt *st = NULL;
    if (rc == 0)
        rc = wl__prepare(d, "PRAGMA wal_checkpoint(TRUNCATE)", &st, &e);
    if (rc == 0) {
        /* one row (busy, log frames, checkpointed frames): busy when a
         * reader still reads an older snapshot, so the log, which now holds
         * the whole compacted database, could be neither copied back nor
         * truncated */
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW)
            out->compaction =
                sqlite3_column_int(st, 0) ? WL_GC_COMPACTED_LOG_KEPT : WL_GC_COMPACTED;
        else
            rc = wl__fail(d, s, &e, "compacting the database");
    }
    sqlite3_finalize(st);
    if (rc != 0) {
        out->compaction = WL_GC_COMPACT_FAILED;
        out->compact_rc = rc;
        snprintf(out->compact_error, sizeof out->compact_error, "%s", e.text);
    }
}

int wl__sqlite_gc(void *db, const struct wl_gc_params *p, struct wl_gc_result *out,
                  struct wl_errmsg *err)
{
    struct wl__db *d = db;
    out->bytes_before = wl__file_bytes(d->path);
    out->compaction = WL_GC_NOT_COMPACTED;
    int64_t now = p->has_now ? p->now_ms : wl__now_ms();
    /* in double, so that no age overflows: an age reaching before any
     * int64_t time keeps every run (none is older) */
    bool by_age = p->max_age_days >= 0;
    double cutoff_d = by_age ? (double)now - p->max_age_days * 86400000.0 : 0;
    int64_t cutoff = !by_age || cutoff_d <= (double)INT64_MIN ? INT64_MIN : (int64_t)cutoff_d;
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    /* the list is read in a read transaction, which a run being recorded
     * into the same database does not block; the runs then go one per
     * transaction (wl__gc_delete) */
    int rc = wl__exec(d, "BEGIN", err, "collecting old runs");
    if (rc != 0)
        return rc;
    rc = wl__prepare(d,
                     "SELECT " WL__ROW_COLS " FROM runs r "
                     "ORDER BY r.created_at_ms DESC, r.id DESC",
                     &st, err);
    if (rc != 0)
        goto fail;
    int64_t rank = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t created = sqlite3_column_int64(st, 1);
        const unsigned char *status = sqlite3_column_text(st, 2);
        bool too_many = p->keep >= 0 && rank >= p->keep;
        bool too_old = by_age && created < cutoff;
        rank++;
        if (!(too_many || too_old) || (status && strcmp((const char *)status, "running") == 0))
            continue;
        rc = wl__list_push(&out->removed, &cap, st);
        if (rc != 0) {
            wl_errmsg_set(err, rc, "out of memory");
            goto fail;
        }
    }
    if (s != SQLITE_DONE) {
        rc = wl__fail(d, s, err, "collecting old runs");
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL); /* ends the read */
    if (p->dry_run) {
        out->removed.total = (int64_t)out->removed.n;
        out->bytes_after = out->bytes_before;
        return 0;
    }
    /* out->removed keeps the runs deleted, in order: row k moves to n_done */
    const size_t n_listed = out->removed.n;
    size_t n_done = 0, k = 0;
    uint64_t held_ns = 0;
    for (; k < n_listed; k++) {
        bool deleted = false;
        const uint64_t t0 = wl_clock_now_ns();
        rc = wl__gc_delete(d, out->removed.rows[k].id, &deleted, err);
        if (rc != 0) {
            struct wl_errmsg why = *err;
            rc = wl_errmsg_set(err, rc, "run %s: %s", out->removed.rows[k].id, why.text);
            break;
        }
        held_ns += wl_clock_now_ns() - t0;
        if (deleted) {
            struct wl_run_row row = out->removed.rows[k];
            out->removed.rows[k] = out->removed.rows[n_done];
            out->removed.rows[n_done++] = row;
        }
        if (held_ns >= (uint64_t)WL__GC_HOLD_MS * 1000000u && k + 1 < n_listed) {
            wl_clock_sleep_ns((uint64_t)WL__GC_PAUSE_MS * 1000000u);
            held_ns = 0;
        }
    }
    for (size_t i = n_done; i < n_listed; i++) /* gone already, or not deleted */
        wl__run_row_clear(&out->removed.rows[i]);
    out->removed.n = n_done;
    out->removed.total = (int64_t)n_done;
    /* a store from which nothing went is left as it is: VACUUM rewrites
     * the whole file and holds the write lock while it does */
    if (rc == 0 && n_done > 0)
        wl__gc_compact(d, out);
    out->bytes_after = wl__file_bytes(d->path);
    return rc;
fail: /* collecting failed: nothing was removed */
    sqlite3_finalize(st);
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    wl_run_list_free(&out->removed);
    return rc;
}

int wl__sqlite_stats(void *db, struct wl_store_stats *out, struct wl_errmsg *err)
{
    struct wl__db *d = db;
    static const char *const tables[WL_TABLE_COUNT] = {
        "runs",   "run_domains",   "power_samples",     "sections",
        "tokens", "layer_metrics", "component_metrics", "op_metrics",
    };
    for (int t = 0; t < WL_TABLE_COUNT; t++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[t]);
        int rc = wl__pragma_int(d, sql, &out->rows[t], err);
        if (rc != 0)
            return rc;
    }
    out->runs = out->rows[WL_TABLE_RUN];
    int64_t v = 0;
    int rc = wl__pragma_int(d, "PRAGMA user_version", &v, err);
    out->schema_version = (int)v;
    out->file_bytes = wl__file_bytes(d->path);
    return rc;
}

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

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

struct wl__db {
    sqlite3 *db;
    char path[WL_STORE_PATH_MAX];
    int busy_timeout_ms; /* the connection's; error messages say this many ms */
    int run_wait_ms;     /* a run writer's batches wait this long (wl__run_txn) */
    int n_writers; /* open run writers; automatic checkpoints are off while > 0 */
};

/* ---- errors and statement helpers (sqlite_util.c) ------------------------ */
/* What a damaged database's message adds: nothing is changed, and what can
 * be saved (docs/internals/store.md, "A damaged database"). */
#define WL__SALVAGE_HINT                                                                           \
    "the file was left unchanged. Runs in its intact pages may be salvaged with the sqlite3 "      \
    "shell (.recover or .dump, on a copy); what the damage took (the end of a truncated file) "    \
    "is lost"

int wl__code(int src);
int wl__fail(struct wl__db *d, int src, struct wl_errmsg *err, const char *what);
int wl__exec(struct wl__db *d, const char *sql, struct wl_errmsg *err, const char *what);
int wl__prepare(struct wl__db *d, const char *sql, sqlite3_stmt **st, struct wl_errmsg *err);
void wl__bind_double(sqlite3_stmt *st, int i, double v);
void wl__bind_text(sqlite3_stmt *st, int i, const char *s);
void wl__bind_int_or_null(sqlite3_stmt *st, int i, int64_t v, int64_t null_below);
double wl__col_double(sqlite3_stmt *st, int i);
int64_t wl__col_int(sqlite3_stmt *st, int i, int64_t if_null);
char *wl__col_strdup(sqlite3_stmt *st, int i);
/* Copies column i's text into buf ("" for NULL), cut between characters
 * when it does not fit (wl_utf8_copy). */
void wl__col_copy(sqlite3_stmt *st, int i, char *buf, size_t size);
int wl__step_done(struct wl__db *d, sqlite3_stmt *st, struct wl_errmsg *err, const char *what);
int64_t wl__file_bytes(const char *path);
int64_t wl__now_ms(void);
int wl__pragma_int(struct wl__db *d, const char *sql, int64_t *out, struct wl_errmsg *err);

/* ---- SQL functions (sqlite_casefold.c) ----------------------------------- */
/* Registers wl_casefold(X) on the connection: X case-folded (Unicode full
 * folding, NFC) for caseless matching; invalid UTF-8 bytes are kept. */
int wl__register_casefold(struct wl__db *d, struct wl_errmsg *err);

/* ---- queries (store_sqlite_query.c) -------------------------------------- */
int wl__sqlite_list_runs(void *db, const struct wl_store_filter *f, enum wl_store_sort sort,
                         int64_t limit, int64_t offset, struct wl_run_list *out,
                         struct wl_errmsg *err);
int wl__sqlite_resolve_id(void *db, const char *prefix, char *id_out, struct wl_errmsg *err);
int wl__sqlite_foreach(void *db, const char *id, enum wl_store_table t, int64_t token_lo,
                       int64_t token_hi, wl_store_row_fn fn, void *user, struct wl_errmsg *err);
int wl__sqlite_columns(void *db, enum wl_store_table t, wl_store_columns_fn fn, void *user,
                       struct wl_errmsg *err);
int wl__sqlite_summary(void *db, const char *id, struct wl_store_aggregates *out,
                       struct wl_errmsg *err);
int wl__sqlite_delete_run(void *db, const char *id, struct wl_errmsg *err);
int wl__sqlite_gc(void *db, const struct wl_gc_params *p, struct wl_gc_result *out,
                  struct wl_errmsg *err);
int wl__sqlite_stats(void *db, struct wl_store_stats *out, struct wl_errmsg *err);

#endif

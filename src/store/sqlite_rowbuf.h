/* Row buffers of the SQLite run writer: rows of the high-volume tables
 * (component and op metrics) are buffered and inserted WL__BATCH_ROWS at a
 * time with one multi-row INSERT (store_sqlite.c uses them). Internal to
 * src/store. */
#ifndef WL_STORE_SQLITE_ROWBUF_H
#define WL_STORE_SQLITE_ROWBUF_H

#include "store/sqlite_impl.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Rows of the two high-volume tables are buffered and inserted
 * WL__BATCH_ROWS at a time with one multi-row INSERT: that halves the cost
 * per row (one statement dispatch, the B-tree cursor stays at the end). */
#define WL__BATCH_ROWS 64

struct wl__val {
    int type; /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB */
    int64_t i;
    double r;
    size_t off, len; /* text/blob bytes in the buffer's arena */
};

struct wl__rowbuf {
    const char *what; /* "component metric", "op metric" */
    int ncol;
    int n;         /* rows buffered */
    int n_refused; /* rows the last drain refused alone (wl__txn_ended: false) */
    struct wl__val vals[WL__BATCH_ROWS * 16];
    char *arena;
    size_t arena_len, arena_cap;
    sqlite3_stmt *multi, *single;
    /* Called for each row that was stored (optional). */
    void (*on_stored)(void *user, const struct wl__val *row, const char *arena);
    void *user;
};

/* Column c of the row being filled (b->n): NULL, an integer, a double
 * (NaN is NULL), bytes copied into the arena (text: len without the NUL,
 * stored with it; p NULL is NULL), or floats as a blob (none: NULL). */
void wl__val_null(struct wl__rowbuf *b, int c);
void wl__val_int(struct wl__rowbuf *b, int c, int64_t v);
void wl__val_double(struct wl__rowbuf *b, int c, double v);
int wl__val_bytes(struct wl__rowbuf *b, int c, int type, const void *p, size_t len);
int wl__val_floats(struct wl__rowbuf *b, int c, const float *v, size_t n);

/* Prepares b's single-row and WL__BATCH_ROWS-row statements for
 * `insert_head VALUES (...)` of ncol columns; what names the rows in errors. */
int wl__rowbuf_prepare(struct wl__db *d, struct wl__rowbuf *b, const char *what,
                       const char *insert_head, int ncol, struct wl_errmsg *err);
/* Inserts the buffered rows inside the caller's transaction (see
 * sqlite_rowbuf.c) and empties b; sets b->n_refused. Stops at a failure
 * that ends the transaction (wl__txn_ended): the rest of b is
 * then not inserted. */
int wl__rowbuf_drain(struct wl__db *d, struct wl__rowbuf *b, struct wl_errmsg *err);
/* Empties b without inserting its rows (their batch was rolled back). */
void wl__rowbuf_clear(struct wl__rowbuf *b);
void wl__rowbuf_free(struct wl__rowbuf *b);

#endif

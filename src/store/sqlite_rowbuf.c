/* Row buffers of the SQLite run writer; see sqlite_rowbuf.h. */
#include "store/sqlite_rowbuf.h"

#include "wattlens/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wl__val_null(struct wl__rowbuf *b, int c)
{
    b->vals[b->n * b->ncol + c].type = SQLITE_NULL;
}

void wl__val_int(struct wl__rowbuf *b, int c, int64_t v)
{
    struct wl__val *x = &b->vals[b->n * b->ncol + c];
    x->type = SQLITE_INTEGER;
    x->i = v;
}

void wl__val_double(struct wl__rowbuf *b, int c, double v)
{
    struct wl__val *x = &b->vals[b->n * b->ncol + c];
    x->type = v != v ? SQLITE_NULL : SQLITE_FLOAT;
    x->r = v;
}

/* Copies bytes into the arena (text: len without the NUL, stored with it). */
int wl__val_bytes(struct wl__rowbuf *b, int c, int type, const void *p, size_t len)
{
    struct wl__val *x = &b->vals[b->n * b->ncol + c];
    if (!p) {
        x->type = SQLITE_NULL;
        return 0;
    }
    if (b->arena_len + len + 1 > b->arena_cap) {
        size_t nc = b->arena_cap ? b->arena_cap : 4096;
        while (nc < b->arena_len + len + 1)
            nc *= 2;
        char *na = realloc(b->arena, nc);
        if (!na)
            return WL_ENOMEM;
        b->arena = na;
        b->arena_cap = nc;
    }
    memcpy(b->arena + b->arena_len, p, len);
    b->arena[b->arena_len + len] = '\0';
    x->type = type;
    x->off = b->arena_len;
    x->len = len;
    b->arena_len += len + 1;
    return 0;
}

static void wl__bind_vals(struct wl__rowbuf *b, sqlite3_stmt *st, int row, int first_param)
{
    for (int c = 0; c < b->ncol; c++) {
        const struct wl__val *x = &b->vals[row * b->ncol + c];
        int i = first_param + c;
        switch (x->type) {
        case SQLITE_INTEGER:
            sqlite3_bind_int64(st, i, x->i);
            break;
        case SQLITE_FLOAT:
            sqlite3_bind_double(st, i, x->r);
            break;
        case SQLITE_TEXT:
            sqlite3_bind_text(st, i, b->arena + x->off, (int)x->len, SQLITE_STATIC);
            break;
        case SQLITE_BLOB:
            sqlite3_bind_blob(st, i, b->arena + x->off, (int)x->len, SQLITE_STATIC);
            break;
        default:
            sqlite3_bind_null(st, i);
        }
    }
}

/* Inserts the buffered rows, inside the caller's transaction (the
 * writer's batch): one multi-row statement for a full buffer; otherwise,
 * or when that fails and leaves the transaction open (whatever the
 * error), row by row so that a bad row is named and the good ones are
 * kept. Columns 1..4 (or 1..5) are the row's key. The rows refused alone
 * (every failure that leaves the transaction open, wl__txn_ended: a
 * constraint, named in err, or any other error) are counted in
 * b->n_refused: they are no part of the batch, which the writer needs to
 * know when it says what a batch rolled back later lost. A failure that
 * ends the transaction stops the drain: the rows not inserted yet are lost
 * with the batch, not stored outside it; its error replaces that of a row
 * refused before it. */
int wl__rowbuf_drain(struct wl__db *d, struct wl__rowbuf *b, struct wl_errmsg *err)
{
    int rc = 0;
    b->n_refused = 0;
    if (b->n == 0)
        return 0;
    const bool in_txn = sqlite3_get_autocommit(d->db) == 0;
    if (b->n == WL__BATCH_ROWS) {
        for (int row = 0; row < b->n; row++)
            wl__bind_vals(b, b->multi, row, 1 + row * b->ncol);
        int s = sqlite3_step(b->multi);
        sqlite3_reset(b->multi);
        if (s == SQLITE_DONE) {
            for (int row = 0; row < b->n && b->on_stored; row++)
                b->on_stored(b->user, &b->vals[row * b->ncol], b->arena);
            goto done;
        }
        if (wl__txn_ended(d, in_txn)) {
            rc = wl__fail(d, s, err, "storing metrics");
            goto done;
        }
        /* none is stored and the batch is open: row by row below */
    }
    for (int row = 0; row < b->n; row++) {
        wl__bind_vals(b, b->single, row, 1);
        int s = sqlite3_step(b->single);
        sqlite3_reset(b->single);
        if (s == SQLITE_DONE) {
            if (b->on_stored)
                b->on_stored(b->user, &b->vals[row * b->ncol], b->arena);
            continue;
        }
        if (wl__txn_ended(d, in_txn)) {
            rc = wl__fail(d, s, err, "storing metrics");
            break;
        }
        b->n_refused++;
        if (rc != 0)
            continue;
        const struct wl__val *k = &b->vals[row * b->ncol];
        if ((s & 0xff) == SQLITE_CONSTRAINT && b->ncol > 5 && k[5].type == SQLITE_TEXT &&
            k[4].type == SQLITE_INTEGER && strcmp(b->what, "op metric") == 0)
            rc = wl_errmsg_set(err, WL_EINVAL,
                               "op %lld (%s) of component %lld, layer %lld, token %lld: "
                               "duplicate, or its component is not stored yet",
                               (long long)k[4].i, b->arena + k[5].off, (long long)k[3].i,
                               (long long)k[2].i, (long long)k[1].i);
        else if ((s & 0xff) == SQLITE_CONSTRAINT)
            rc = wl_errmsg_set(err, WL_EINVAL,
                               "component %lld of layer %lld, token %lld: duplicate, or its "
                               "layer is not stored yet",
                               (long long)k[3].i, (long long)k[2].i, (long long)k[1].i);
        else
            rc = wl__fail(d, s, err, "storing metrics");
    }
done:
    wl__rowbuf_clear(b);
    return rc;
}

int wl__rowbuf_prepare(struct wl__db *d, struct wl__rowbuf *b, const char *what,
                       const char *insert_head, int ncol, struct wl_errmsg *err)
{
    b->what = what;
    b->ncol = ncol;
    size_t cap = strlen(insert_head) + (size_t)WL__BATCH_ROWS * ((size_t)ncol * 2 + 4) + 16;
    char *sql = malloc(cap);
    if (!sql)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    size_t n = (size_t)snprintf(sql, cap, "%s VALUES ", insert_head);
    for (int row = 0; row < WL__BATCH_ROWS; row++) {
        n += (size_t)snprintf(sql + n, cap - n, "%s(", row ? "," : "");
        for (int c = 0; c < ncol; c++)
            n += (size_t)snprintf(sql + n, cap - n, "%s?", c ? "," : "");
        n += (size_t)snprintf(sql + n, cap - n, ")");
        if (row == 0) {
            int rc = wl__prepare(d, sql, &b->single, err);
            if (rc != 0) {
                free(sql);
                return rc;
            }
        }
    }
    int rc = wl__prepare(d, sql, &b->multi, err);
    free(sql);
    return rc;
}

void wl__rowbuf_clear(struct wl__rowbuf *b)
{
    b->n = 0;
    b->arena_len = 0;
}

void wl__rowbuf_free(struct wl__rowbuf *b)
{
    sqlite3_finalize(b->multi);
    sqlite3_finalize(b->single);
    free(b->arena);
}

int wl__val_floats(struct wl__rowbuf *b, int c, const float *v, size_t n)
{
    if (!v || n == 0) {
        wl__val_null(b, c);
        return 0;
    }
    return wl__val_bytes(b, c, SQLITE_BLOB, v, n * sizeof *v);
}

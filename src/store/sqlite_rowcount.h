/* The rows a run writer's open batch holds, counted as they are given,
 * for what a batch that SQLite rolls back by itself loses
 * (store_sqlite.c's wl__run_check_txn), and their description in its
 * message and in the run's error. Plain values: no I/O, no state;
 * thread-safe on distinct structs. Internal to src/store. */
#ifndef WL_STORE_SQLITE_ROWCOUNT_H
#define WL_STORE_SQLITE_ROWCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rows a writer was given, per kind, for what a rolled-back batch lost:
 * power samples, sections, tokens (and the lowest and highest index),
 * layer, component and op rows; the energy domains whose run_domains row
 * was set, and the keys of the run's extra fields set (wl_store_run_
 * set_extra: an UPDATE of the run's row, which the batch holds too), each
 * once, comma-separated, with those that did not fit counted, each once
 * (by hash). Past WL__ROWS_CUT_KEYS distinct ones a key that did not fit
 * cannot be told from those seen before: the count stops there and says
 * "at least" (a plain value keeps no growing set). */
#define WL__ROWS_CUT_KEYS 16
enum {
    WL__ROWS_SAMPLE,
    WL__ROWS_SECTION,
    WL__ROWS_TOKEN,
    WL__ROWS_LAYER,
    WL__ROWS_COMPONENT,
    WL__ROWS_OP,
    WL__ROWS_KINDS
};
struct wl__rows {
    int64_t n[WL__ROWS_KINDS];
    int64_t token_lo, token_hi; /* valid when n[WL__ROWS_TOKEN] > 0 */
    uint32_t domains;           /* bit 1 << wl_domain */
    char extra[192];            /* "currency,kv_cache_type" */
    int64_t n_extra_cut;        /* keys that did not fit in extra, each once */
    uint64_t cut[WL__ROWS_CUT_KEYS]; /* their hashes (n_extra_cut of them) */
    bool extra_cut_more;             /* and some not remembered: n_extra_cut is a lower bound */
};

/* Adds the extra field key (len bytes) to x, unless it is there. */
void wl__rows_extra(struct wl__rows *x, const char *key, size_t len);
/* Adds from's rows to to (keys and domains each once). */
void wl__rows_add(struct wl__rows *to, const struct wl__rows *from);
/* Counts one token row of this index. */
void wl__rows_token(struct wl__rows *x, int64_t index);
/* "12 power samples, 5 tokens (indices 40-44), 120 layer rows, 1 domain
 * row (package), the run's extra fields currency, kv_cache_type" into buf
 * (size bytes, cut to fit): the kinds with rows, or "no rows". Returns buf. */
const char *wl__rows_describe(const struct wl__rows *x, char *buf, size_t size);

#endif

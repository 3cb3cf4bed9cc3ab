/* The backend interface behind store.h: one ops table per database engine
 * (store_sqlite.c now, PostgreSQL later), in the manner of curl's vtls.
 *
 * store.c owns the generic parts (UUIDs, parameter defaults, the writer's
 * mutex, the last-error buffer) and calls these with the backend's own
 * handles. Every function reports failures as a WL_E* code plus a message in
 * err. Internal to src/store/.
 */
#ifndef WL_STORE_BACKEND_H
#define WL_STORE_BACKEND_H

#include "store/store.h"

#include <signal.h>

struct wl_store_ops {
    const char *name;
    /* made (WL_STORE_PATH_MAX bytes): the highest directory the open made
     * for the file ("" when none), wl_store_made_dir */
    int (*open)(const struct wl_store_params *p, const char *path, void **db, char *made,
                struct wl_errmsg *err);
    void (*close)(void *db);
    /* While *flag is non-zero, waits for a lock give up (WL_ECANCELED). */
    void (*set_cancel)(void *db, const volatile sig_atomic_t *flag);

    int (*run_begin)(void *db, const struct wl_run_info *info, const char *uuid, void **run,
                     struct wl_errmsg *err);
    int (*add_samples)(void *run, const struct wl_store_sample *v, size_t n, struct wl_errmsg *err);
    int (*add_section)(void *run, const struct wl_store_section *v, struct wl_errmsg *err);
    int (*add_token)(void *run, const struct wl_store_token *v, struct wl_errmsg *err);
    int (*add_layer_metric)(void *run, const struct wl_store_layer_metric *v,
                            struct wl_errmsg *err);
    int (*add_component_metric)(void *run, const struct wl_store_component_metric *v,
                                struct wl_errmsg *err);
    int (*add_op_metric)(void *run, const struct wl_store_op_metric *v, struct wl_errmsg *err);
    int (*set_domain)(void *run, const struct wl_store_domain *d, struct wl_errmsg *err);
    int (*set_extra)(void *run, const char *key, const char *json_value, struct wl_errmsg *err);
    /* Commits if the open batch is older than interval_ms (force: always). */
    int (*flush)(void *run, bool force, int interval_ms, struct wl_errmsg *err);
    /* Stamps the run as alive now; waits at most wait_ms for the lock. */
    int (*heartbeat)(void *run, int wait_ms, struct wl_errmsg *err);
    int (*finish)(void *run, const struct wl_run_totals *t, struct wl_errmsg *err);
    /* Frees the run handle; rolls nothing back that was committed. */
    void (*release)(void *run);

    int (*count_runs)(void *db, const struct wl_store_filter *f, int64_t *n, struct wl_errmsg *err);
    int (*list_runs)(void *db, const struct wl_store_filter *f, enum wl_store_sort sort,
                     int64_t limit, int64_t offset, struct wl_run_list *out, struct wl_errmsg *err);
    int (*resolve_id)(void *db, const char *prefix, char *id_out, struct wl_errmsg *err);
    /* One read snapshot until read_end (wl_store_read_begin). */
    int (*read_begin)(void *db, struct wl_errmsg *err);
    void (*read_end)(void *db);
    /* token_lo..token_hi inclusive, as given (INT64_MIN/INT64_MAX: no bound). */
    int (*foreach)(void *db, const char *id, enum wl_store_table t, int64_t token_lo,
                   int64_t token_hi, wl_store_row_fn fn, void *user_data, struct wl_errmsg *err);
    int (*columns)(void *db, enum wl_store_table t, wl_store_columns_fn fn, void *user_data,
                   struct wl_errmsg *err);
    int (*summary)(void *db, const char *id, struct wl_store_aggregates *out,
                   struct wl_errmsg *err);
    int (*recorded_nothing)(void *db, const char *id, bool *out, struct wl_errmsg *err);
    int (*delete_run)(void *db, const char *id, bool even_running, struct wl_errmsg *err);
    int (*gc)(void *db, const struct wl_gc_params *p, struct wl_gc_result *out,
              struct wl_errmsg *err);
    int (*stats)(void *db, struct wl_store_stats *out, struct wl_errmsg *err);
};

extern const struct wl_store_ops wl__store_sqlite_ops;

/* Frees the strings of a run row (store.c). */
void wl__run_row_clear(struct wl_run_row *r);

#endif

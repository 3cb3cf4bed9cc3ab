/* Generic half of the run store (see store.h): backend selection, default
 * path, UUIDs, the writer's mutex and the last-error buffer; everything that
 * touches a database goes through the backend's ops table (store_backend.h).
 * A wl_store is single-threaded; a wl_store_run serialises its own calls with
 * a mutex so a sampler thread and an engine thread can share it.
 */
#include "store/store.h"

#include "store/store_backend.h"
#include "util/random.h"
#include "wattlens/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wl_store {
    const struct wl_store_ops *ops;
    void *db;
    char path[WL_STORE_PATH_MAX];
    char made_dir[WL_STORE_PATH_MAX]; /* wl_store_made_dir */
    struct wl_errmsg err;
};

struct wl_store_run {
    wl_store *store;
    void *impl;
    pthread_mutex_t lock;
    int flush_interval_ms;
};

static const char *const wl__status_names[WL_RUN_STATUS_COUNT] = {
    "running", "complete", "failed", "incomplete", "cancelled",
};
static const char *const wl__kind_names[WL_RUN_KIND_COUNT] = {"measure", "inference"};
static const char *const wl__sort_names[] = {"date", "duration", "energy", "jpt"};
static const char *const wl__table_names[WL_TABLE_COUNT] = {
    "run",    "run_domains",   "power_samples",     "sections",
    "tokens", "layer_metrics", "component_metrics", "op_metrics",
};

const char *wl_run_status_name(enum wl_run_status s)
{
    return (unsigned)s < WL_RUN_STATUS_COUNT ? wl__status_names[s] : "?";
}

int wl_run_status_parse(const char *s, enum wl_run_status *out)
{
    for (int i = 0; s && i < WL_RUN_STATUS_COUNT; i++) {
        if (strcmp(s, wl__status_names[i]) == 0) {
            *out = (enum wl_run_status)i;
            return 0;
        }
    }
    return WL_EINVAL;
}

const char *wl_run_kind_name(enum wl_run_kind k)
{
    return (unsigned)k < WL_RUN_KIND_COUNT ? wl__kind_names[k] : "?";
}

int wl_run_kind_parse(const char *s, enum wl_run_kind *out)
{
    for (int i = 0; s && i < WL_RUN_KIND_COUNT; i++) {
        if (strcmp(s, wl__kind_names[i]) == 0) {
            *out = (enum wl_run_kind)i;
            return 0;
        }
    }
    return WL_EINVAL;
}

bool wl_store_weakest_method(uint32_t methods, enum wl_method *out)
{
    for (int m = WL_METHOD_MODEL_ESTIMATE; m >= WL_METHOD_COUNTER; m--) {
        if ((methods >> m) & 1u) {
            *out = (enum wl_method)m;
            return true;
        }
    }
    if ((methods >> WL_METHOD_ATTRIBUTED) & 1u) {
        *out = WL_METHOD_ATTRIBUTED;
        return true;
    }
    return false;
}

int wl_store_sort_parse(const char *s, enum wl_store_sort *out)
{
    for (size_t i = 0; s && i < sizeof wl__sort_names / sizeof wl__sort_names[0]; i++) {
        if (strcmp(s, wl__sort_names[i]) == 0) {
            *out = (enum wl_store_sort)i;
            return 0;
        }
    }
    return WL_EINVAL;
}

const char *wl_store_table_name(enum wl_store_table t)
{
    return (unsigned)t < WL_TABLE_COUNT ? wl__table_names[t] : "?";
}

void wl_store_default_params(struct wl_store_params *p)
{
    memset(p, 0, sizeof *p);
    p->busy_timeout_ms = 2000;
    p->run_wait_ms = 60000;
}

int wl_store_default_path(char *buf, size_t size)
{
    const char *env = getenv("WATTLENS_DB");
    int n;
    if (env && *env) {
        n = snprintf(buf, size, "%s", env);
    } else {
        const char *xdg = getenv("XDG_DATA_HOME");
        if (xdg && *xdg == '/') {
            n = snprintf(buf, size, "%s/wattlens/wattlens.db", xdg);
        } else {
            const char *home = getenv("HOME");
            if (!home || !*home)
                return WL_ENOENT;
            n = snprintf(buf, size, "%s/.local/share/wattlens/wattlens.db", home);
        }
    }
    if (n < 0 || (size_t)n >= size)
        return WL_ERANGE;
    return 0;
}

int wl_store_open(const struct wl_store_params *p, wl_store **out, struct wl_errmsg *err)
{
    struct wl_store_params def;
    if (!p) {
        wl_store_default_params(&def);
        p = &def;
    }
    *out = NULL;
    wl_store *s = calloc(1, sizeof *s);
    if (!s)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    int rc;
    if (p->path) {
        if (strlen(p->path) >= sizeof s->path) {
            rc = wl_errmsg_set(err, WL_ERANGE, "database path too long");
            goto fail;
        }
        strcpy(s->path, p->path);
    } else {
        rc = wl_store_default_path(s->path, sizeof s->path);
        if (rc != 0) {
            /* WL_EINVAL, not the WL_ENOENT of no HOME: "no path to open"
             * is told from "no file at the path" by its code */
            rc = wl_errmsg_set(err, rc == WL_ENOENT ? WL_EINVAL : rc,
                               "cannot find a default database path (set WATTLENS_DB, "
                               "XDG_DATA_HOME or HOME, or pass --db)");
            goto fail;
        }
    }
    if (strncmp(s->path, "postgres://", 11) == 0 || strncmp(s->path, "postgresql://", 13) == 0) {
        rc = wl_errmsg_set(err, WL_ENOTSUP,
                           "%s: the PostgreSQL backend is not built into this wattlens", s->path);
        goto fail;
    }
    s->ops = &wl__store_sqlite_ops;
    rc = s->ops->open(p, s->path, &s->db, s->made_dir, err);
    if (rc != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    free(s);
    return rc;
}

void wl_store_close(wl_store *s)
{
    if (!s)
        return;
    s->ops->close(s->db);
    free(s);
}

void wl_store_set_cancel(wl_store *s, const volatile sig_atomic_t *flag)
{
    s->ops->set_cancel(s->db, flag);
}

const char *wl_store_path(const wl_store *s)
{
    return s->path;
}

const char *wl_store_made_dir(const wl_store *s)
{
    return s->made_dir;
}

const char *wl_store_last_error(const wl_store *s)
{
    return s->err.text;
}

/* Version 4 UUID from wl_random_bytes (the system's generator, or its
 * clock and pid fallback: still unique enough for ids, not for secrets). */
static void wl__uuid4(char out[37])
{
    unsigned char b[16];
    wl_random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int wl_store_run_begin(wl_store *s, const struct wl_run_info *info, wl_store_run **out,
                       char *id_out)
{
    *out = NULL;
    if (!info || info->kind >= WL_RUN_KIND_COUNT)
        return wl_errmsg_set(&s->err, WL_EINVAL, "invalid run info");
    wl_store_run *r = calloc(1, sizeof *r);
    if (!r)
        return wl_errmsg_set(&s->err, WL_ENOMEM, "out of memory");
    char uuid[37];
    wl__uuid4(uuid);
    int rc = s->ops->run_begin(s->db, info, uuid, &r->impl, &s->err);
    if (rc != 0) {
        free(r);
        return rc;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->store = s;
    r->flush_interval_ms = 1000;
    if (id_out)
        memcpy(id_out, uuid, 37);
    *out = r;
    return 0;
}

/* Every add: take the lock, append, then commit if the batch is due. */
#define WL__RUN_CALL(r, expr)                                                                      \
    do {                                                                                           \
        if (!(r))                                                                                  \
            return WL_EINVAL;                                                                      \
        pthread_mutex_lock(&(r)->lock);                                                            \
        int rc_ = (expr);                                                                          \
        if (rc_ == 0)                                                                              \
            rc_ = (r)->store->ops->flush((r)->impl, false, (r)->flush_interval_ms,                 \
                                         &(r)->store->err);                                        \
        pthread_mutex_unlock(&(r)->lock);                                                          \
        return rc_;                                                                                \
    } while (0)

int wl_store_add_samples(wl_store_run *r, const struct wl_store_sample *v, size_t n)
{
    WL__RUN_CALL(r, r->store->ops->add_samples(r->impl, v, n, &r->store->err));
}

int wl_store_add_section(wl_store_run *r, const struct wl_store_section *v)
{
    WL__RUN_CALL(r, r->store->ops->add_section(r->impl, v, &r->store->err));
}

int wl_store_add_token(wl_store_run *r, const struct wl_store_token *v)
{
    WL__RUN_CALL(r, r->store->ops->add_token(r->impl, v, &r->store->err));
}

int wl_store_add_layer_metric(wl_store_run *r, const struct wl_store_layer_metric *v)
{
    WL__RUN_CALL(r, r->store->ops->add_layer_metric(r->impl, v, &r->store->err));
}

int wl_store_add_component_metric(wl_store_run *r, const struct wl_store_component_metric *v)
{
    WL__RUN_CALL(r, r->store->ops->add_component_metric(r->impl, v, &r->store->err));
}

int wl_store_add_op_metric(wl_store_run *r, const struct wl_store_op_metric *v)
{
    WL__RUN_CALL(r, r->store->ops->add_op_metric(r->impl, v, &r->store->err));
}

int wl_store_run_set_domain(wl_store_run *r, const struct wl_store_domain *d)
{
    WL__RUN_CALL(r, r->store->ops->set_domain(r->impl, d, &r->store->err));
}

int wl_store_run_set_extra(wl_store_run *r, const char *key, const char *json_value)
{
    WL__RUN_CALL(r, r->store->ops->set_extra(r->impl, key, json_value, &r->store->err));
}

int wl_store_flush(wl_store_run *r)
{
    if (!r)
        return WL_EINVAL;
    pthread_mutex_lock(&r->lock);
    int rc = r->store->ops->flush(r->impl, true, r->flush_interval_ms, &r->store->err);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

int wl_store_run_heartbeat(wl_store_run *r, int wait_ms)
{
    if (!r)
        return WL_EINVAL;
    pthread_mutex_lock(&r->lock);
    int rc = r->store->ops->heartbeat(r->impl, wait_ms > 0 ? wait_ms : 0, &r->store->err);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void wl_store_run_set_flush_interval(wl_store_run *r, int interval_ms)
{
    if (!r || interval_ms <= 0)
        return;
    pthread_mutex_lock(&r->lock);
    r->flush_interval_ms = interval_ms;
    pthread_mutex_unlock(&r->lock);
}

static void wl__run_free(wl_store_run *r)
{
    r->store->ops->release(r->impl);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int wl_store_run_finish(wl_store_run *r, const struct wl_run_totals *totals)
{
    if (!r)
        return WL_EINVAL;
    int rc;
    pthread_mutex_lock(&r->lock);
    if (!totals || totals->status == WL_RUN_RUNNING || totals->status == WL_RUN_INCOMPLETE ||
        totals->status >= WL_RUN_STATUS_COUNT)
        rc = wl_errmsg_set(&r->store->err, WL_EINVAL,
                           "a run finishes as complete, failed or cancelled");
    else
        rc = r->store->ops->finish(r->impl, totals, &r->store->err);
    pthread_mutex_unlock(&r->lock);
    wl__run_free(r);
    return rc;
}

void wl_store_run_abandon(wl_store_run *r)
{
    if (r)
        wl__run_free(r);
}

int wl_store_list_runs(wl_store *s, const struct wl_store_filter *f, enum wl_store_sort sort,
                       int64_t limit, int64_t offset, struct wl_run_list *out)
{
    static const struct wl_store_filter none;
    memset(out, 0, sizeof *out);
    if (limit < 0 || offset < 0 || (unsigned)sort > WL_SORT_JPT)
        return wl_errmsg_set(&s->err, WL_EINVAL, "invalid limit, offset or sort");
    int rc = s->ops->list_runs(s->db, f ? f : &none, sort, limit, offset, out, &s->err);
    if (rc != 0)
        wl_run_list_free(out); /* rows read before the failure */
    return rc;
}

int wl_store_count_runs(wl_store *s, const struct wl_store_filter *f, int64_t *n)
{
    static const struct wl_store_filter none;
    *n = 0;
    return s->ops->count_runs(s->db, f ? f : &none, n, &s->err);
}

void wl__run_row_clear(struct wl_run_row *r)
{
    free(r->command);
    free(r->model_name);
    free(r->prompt);
    free(r->experiment);
    free(r->tags);
    r->command = r->model_name = r->prompt = r->experiment = r->tags = NULL;
    r->command_len = r->model_name_len = r->prompt_len = r->experiment_len = r->tags_len = 0;
}

void wl_run_list_free(struct wl_run_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        wl__run_row_clear(&l->rows[i]);
    free(l->rows);
    memset(l, 0, sizeof *l);
}

int wl_store_check_id(const char *id_or_prefix, struct wl_errmsg *err)
{
    const size_t len = id_or_prefix ? strlen(id_or_prefix) : 0;
    if (len > 36)
        return wl_errmsg_set(err, WL_EINVAL,
                             "run id '%s': not a run id (%zu characters; a full id has 36)",
                             id_or_prefix, len);
    for (const char *c = id_or_prefix; c && *c; c++) {
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == '-'))
            return wl_errmsg_set(err, WL_EINVAL,
                                 "run id '%s': not a run id (lowercase hex and '-')", id_or_prefix);
    }
    if (len < 4)
        return wl_errmsg_set(err, WL_EINVAL,
                             "run id '%s': give the full id or at least its first 4 characters",
                             id_or_prefix ? id_or_prefix : "");
    return 0;
}

int wl_store_resolve_id(wl_store *s, const char *id_or_prefix, char *id_out)
{
    const int rc = wl_store_check_id(id_or_prefix, &s->err);
    if (rc != 0)
        return rc;
    return s->ops->resolve_id(s->db, id_or_prefix, id_out, &s->err);
}

int wl_store_read_begin(wl_store *s)
{
    return s->ops->read_begin(s->db, &s->err);
}

void wl_store_read_end(wl_store *s)
{
    if (s)
        s->ops->read_end(s->db);
}

int wl_store_foreach_range(wl_store *s, const char *id, enum wl_store_table t, int64_t token_lo,
                           int64_t token_hi, wl_store_row_fn fn, void *user_data)
{
    if (!id || (unsigned)t >= WL_TABLE_COUNT || !fn)
        return wl_errmsg_set(&s->err, WL_EINVAL, "invalid arguments");
    return s->ops->foreach (s->db, id, t, token_lo, token_hi, fn, user_data, &s->err);
}

int wl_store_foreach(wl_store *s, const char *id, enum wl_store_table t, int64_t token_lo,
                     int64_t token_hi, wl_store_row_fn fn, void *user_data)
{
    return wl_store_foreach_range(s, id, t, token_lo >= 0 ? token_lo : INT64_MIN,
                                  token_hi >= 0 ? token_hi : INT64_MAX, fn, user_data);
}

int wl_store_recorded_nothing(wl_store *s, const char *id, bool *out)
{
    if (!id || !out)
        return wl_errmsg_set(&s->err, WL_EINVAL, "invalid arguments");
    return s->ops->recorded_nothing(s->db, id, out, &s->err);
}

int wl_store_summary(wl_store *s, const char *id, struct wl_store_aggregates *out)
{
    memset(out, 0, sizeof *out);
    int rc = s->ops->summary(s->db, id, out, &s->err);
    if (rc != 0)
        wl_store_aggregates_free(out);
    return rc;
}

void wl_store_run_detail_free(struct wl_store_run_detail *d)
{
    if (!d)
        return;
    wl__run_row_clear(&d->row);
    free(d->energy_scope);
    free(d->model_path);
    free(d->model_arch);
    free(d->depth);
    free(d->host_cpu);
    free(d->error);
    free(d->extra_json);
    free(d->sensor_provenance_json);
    d->extra_json = d->sensor_provenance_json = NULL;
    d->energy_scope = d->model_path = d->model_arch = d->depth = d->host_cpu = d->error = NULL;
}

void wl_store_aggregates_free(struct wl_store_aggregates *a)
{
    if (!a)
        return;
    wl_store_run_detail_free(&a->run);
    free(a->phases);
    free(a->layers);
    free(a->components);
    free(a->output_tokens);
    a->output_tokens = NULL;
    a->n_output_tokens = 0;
    a->phases = NULL;
    a->layers = NULL;
    a->components = NULL;
    a->n_phases = a->n_layers = a->n_components = 0;
}

int wl_store_delete_run(wl_store *s, const char *id, bool even_running)
{
    if (!id)
        return wl_errmsg_set(&s->err, WL_EINVAL, "no run id");
    return s->ops->delete_run(s->db, id, even_running, &s->err);
}

int wl_store_gc(wl_store *s, const struct wl_gc_params *p, struct wl_gc_result *out)
{
    memset(out, 0, sizeof *out);
    if (!p || (p->keep < 0 && p->max_age_days < 0))
        return wl_errmsg_set(&s->err, WL_EINVAL, "retention needs a count limit or an age limit");
    /* on an error out->removed keeps the runs removed before it: they are
     * gone, and the caller lists them */
    return s->ops->gc(s->db, p, out, &s->err);
}

void wl_gc_result_free(struct wl_gc_result *r)
{
    if (r)
        wl_run_list_free(&r->removed);
}

int wl_store_stats(wl_store *s, struct wl_store_stats *out)
{
    memset(out, 0, sizeof *out);
    return s->ops->stats(s->db, out, &s->err);
}

int wl_store_columns(wl_store *s, enum wl_store_table t, wl_store_columns_fn fn, void *user_data)
{
    if ((unsigned)t >= WL_TABLE_COUNT || !fn)
        return wl_errmsg_set(&s->err, WL_EINVAL, "invalid arguments");
    return s->ops->columns(s->db, t, fn, user_data, &s->err);
}

/* JSON and CSV exports of a stored run; see run_export.h. Everything is
 * read in one read snapshot of the store. The JSON document is written
 * piecewise: the run's own fields as one object without its closing brace,
 * then domains, samples and sections row by row (each dumped and freed
 * from the store's row callback), the summary, and the tokens chunk by
 * chunk (each chunk's layers, components and ops are read with token-range
 * queries and nested in memory), so memory stays bounded by one chunk
 * whatever the run's length. Per-head statistics (float32 blobs) become
 * number arrays.
 */
#include "export/run_export.h"

#include "analysis/run_json.h"
#include "analysis/summary.h"
#include "util/csv_text.h"
#include "util/json_text.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WL__TOKENS_PER_CHUNK 32
#define WL__JSON_FLAGS (JSON_COMPACT | WL_JSON_REAL_FLAGS)

/* ---- rows as JSON ---------------------------------------------------------- */

/* A finite float of a per-head list as the shortest text that gives it
 * back (6 to 9 significant digits: every float survives 9, and a shorter
 * text is also %.6g's), for the JSON and the CSV alike: 0.1f is "0.1" in
 * both (old: 0.100000001490116, the float's double at 15 digits, in the
 * JSON, 0.100000001 in the CSV). buf: 32 bytes. */
static const char *wl__float_text(float f, char *buf)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, 32, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return buf;
}

static json_t *wl__value_json(const struct wl_store_value *v)
{
    switch (v->type) {
    case WL_VALUE_INT:
        return json_integer(v->i);
    case WL_VALUE_REAL:
        return wl_json_real_or_null(v->r);
    case WL_VALUE_BLOB: {
        json_t *a = json_array();
        for (size_t k = 0; k + sizeof(float) <= v->n; k += sizeof(float)) {
            float f;
            char text[32];
            memcpy(&f, v->s + k, sizeof f);
            json_array_append_new(a, isfinite(f) ? json_real(strtod(wl__float_text(f, text), NULL))
                                                 : json_null());
        }
        return a;
    }
    default:
        return json_null();
    }
}

/* Whether name is in the NULL-terminated list (NULL: an empty one). */
static bool wl__listed(const char *name, const char *const *list)
{
    for (; list && *list; list++) {
        if (strcmp(name, *list) == 0)
            return true;
    }
    return false;
}

/* Sets o[name] to the column's value, or to null when name is one of
 * null_cols (NULL: none; a run that recorded nothing). Text keeps its exact
 * bytes: text that is not valid UTF-8 (a token can be part of a character)
 * also gets "<name>_hex" (util/json_text.h). 0, or WL_ENOMEM. */
static int wl__set_value(json_t *o, const char *name, const struct wl_store_value *v,
                         const char *const *null_cols)
{
    int rc;
    if (wl__listed(name, null_cols))
        rc = json_object_set_new(o, name, json_null());
    else if (v->type == WL_VALUE_TEXT)
        rc = wl_json_set_textn(o, name, v->s, v->n);
    else
        rc = json_object_set_new(o, name, wl__value_json(v));
    return rc == 0 ? 0 : WL_ENOMEM;
}

/* The row as an object, leaving out the first `skip` columns (the parent's
 * key, implied by the nesting), null_cols null. NULL when out of memory. */
static json_t *wl__row_json(size_t n, const char *const *names, const struct wl_store_value *v,
                            size_t skip, const char *const *null_cols)
{
    json_t *o = json_object();
    for (size_t i = skip; i < n && o; i++) {
        if (wl__set_value(o, names[i], &v[i], null_cols) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* ---- the run row ------------------------------------------------------------ *
 * Every exporter reads the run row through wl__foreach_run, which fills in
 * its created_at (NULL from the store: store.h) from its created_at_ms by
 * the one formatter of created_at that `runs --json` and `show --json` use
 * (wl_run_json_format_time, analysis/run_json.h): a time outside the years
 * 0000-9999 is null (an empty CSV cell) in every output (old: SQLite's
 * strftime, which writes a year before 0000 as "-001"). So no exporter
 * knows the rule (old: each patched the column in its own row callback). */
struct wl__run_read {
    wl_store_row_fn fn;
    void *user;
};

static int wl__run_with_created_at(void *user, size_t n, const char *const *names,
                                   const struct wl_store_value *v)
{
    const struct wl__run_read *r = user;
    struct wl_store_value *row = malloc((n ? n : 1) * sizeof *row);
    if (!row)
        return WL_ENOMEM;
    memcpy(row, v, n * sizeof *row);
    char buf[32];
    const char *at = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "created_at_ms") == 0 && v[i].type == WL_VALUE_INT)
            at = wl_run_json_format_time(v[i].i, buf, sizeof buf);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "created_at") == 0)
            row[i] = at ? (struct wl_store_value){.type = WL_VALUE_TEXT, .s = at, .n = strlen(at)}
                        : (struct wl_store_value){.type = WL_VALUE_NULL};
    }
    const int rc = r->fn(r->user, n, names, row);
    free(row);
    return rc;
}

/* wl_store_foreach of the run row (WL_TABLE_RUN) with its created_at
 * written: fn's value, WL_ENOMEM, or a store error. */
static int wl__foreach_run(wl_store *s, const char *id, wl_store_row_fn fn, void *user)
{
    struct wl__run_read r = {fn, user};
    return wl_store_foreach(s, id, WL_TABLE_RUN, -1, -1, wl__run_with_created_at, &r);
}

/* The run row into run, null_cols null. Its columns that hold JSON text
 * become JSON values and its comma-separated tags an array, the shapes
 * `runs --json` and `show --json` use (analysis/run_json.h); the CSV keeps
 * the stored text. */
struct wl__run_out {
    json_t *run;
    const char *const *null_cols;
};

static int wl__run_row(void *user, size_t n, const char *const *names,
                       const struct wl_store_value *v)
{
    static const char *const json_fields[] = {"model_features", "sampling", "sensor_provenance",
                                              "extra"};
    const struct wl__run_out *w = user;
    json_t *run = w->run;
    for (size_t i = 0; i < n; i++) {
        bool is_json = false;
        for (size_t k = 0; k < sizeof json_fields / sizeof json_fields[0]; k++)
            is_json |= strcmp(names[i], json_fields[k]) == 0;
        const bool text = v[i].type == WL_VALUE_TEXT;
        int rc;
        if (strcmp(names[i], "tags") == 0)
            rc = wl_run_json_set_tags(run, text ? v[i].s : NULL, text ? v[i].n : 0) == 0
                     ? 0
                     : WL_ENOMEM;
        else if (is_json && text)
            rc = wl_run_json_set_json(run, names[i], v[i].s, v[i].n) == 0 ? 0 : WL_ENOMEM;
        else
            rc = wl__set_value(run, names[i], &v[i], w->null_cols);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A node of the chunk's hierarchy with its key (token, layer, component). */
struct wl__node {
    int64_t key[3];
    json_t *obj; /* borrowed: owned by its parent array */
};

struct wl__level {
    struct wl__node *v;
    size_t n, cap;
};

struct wl__nest {
    struct wl__level *parent; /* nodes the rows attach to, in key order */
    struct wl__level *self;   /* where this level's nodes are recorded (NULL for ops) */
    size_t depth;             /* key columns of the parent */
    const char *child_key;    /* "layers", "components", "ops" */
    size_t cursor;
};

static int wl__level_push(struct wl__level *l, const int64_t *key, size_t nkey, json_t *obj)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        struct wl__node *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return WL_ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    struct wl__node *x = &l->v[l->n++];
    memset(x->key, 0, sizeof x->key);
    memcpy(x->key, key, nkey * sizeof *key);
    x->obj = obj;
    return 0;
}

/* Rows arrive in key order, so the parent is found by moving a cursor. */
static int wl__nest_row(void *user, size_t n, const char *const *names,
                        const struct wl_store_value *v)
{
    struct wl__nest *ns = user;
    if (n < ns->depth + 1)
        return WL_EFORMAT;
    int64_t key[3] = {0};
    for (size_t i = 0; i < ns->depth + 1 && i < 3; i++)
        key[i] = v[i].i;
    struct wl__level *p = ns->parent;
    while (ns->cursor < p->n && memcmp(p->v[ns->cursor].key, key, ns->depth * sizeof *key) != 0)
        ns->cursor++;
    if (ns->cursor == p->n)
        return 0; /* orphan row (cannot happen with foreign keys on): skip */
    json_t *obj = wl__row_json(n, names, v, ns->depth, NULL);
    if (!obj)
        return WL_ENOMEM;
    json_t *parent = p->v[ns->cursor].obj;
    json_t *arr = json_object_get(parent, ns->child_key);
    if (!arr) {
        arr = json_array();
        json_object_set_new(parent, ns->child_key, arr);
    }
    json_array_append_new(arr, obj);
    if (ns->self)
        return wl__level_push(ns->self, key, ns->depth + 1, obj);
    return 0;
}

/* ---- which tokens a token's layer rows cover ------------------------------ *
 * A forward pass's layer, component and op rows are stored under one token
 * row: a decode step's under its output token, a whole prompt batch's
 * under the batch's last input token, whose own energy is only its share
 * of the batch (profile.md). So that an export's children can be summed
 * against their parents, each token row says which token rows' energies
 * hold its layer rows: layers_first_token..layers_last_token, the batch's
 * input tokens for a prompt batch, the token itself for a decode step,
 * null for a token with no layer rows. A prompt batch starts after the
 * previous batch's last input token (input tokens are numbered in
 * evaluation order). */
struct wl__cover {
    int64_t *with_layers; /* indices of the tokens that have layer rows, ascending */
    size_t n, cap;
    size_t cursor;       /* state of the walk over the tokens in order */
    int64_t batch_start; /* first input token of the open prompt batch, when in_batch */
    bool in_batch;       /* (a flag: stored indices may be below zero) */
};

static int wl__cover_layer_row(void *user, size_t n, const char *const *names,
                               const struct wl_store_value *v)
{
    (void)n, (void)names;
    struct wl__cover *c = user;
    if (c->n > 0 && c->with_layers[c->n - 1] == v[0].i)
        return 0; /* rows come by token, then layer */
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 256;
        int64_t *nv = realloc(c->with_layers, nc * sizeof *nv);
        if (!nv)
            return WL_ENOMEM;
        c->with_layers = nv;
        c->cap = nc;
    }
    c->with_layers[c->n++] = v[0].i;
    return 0;
}

static int wl__cover_load(wl_store *s, const char *id, struct wl__cover *c)
{
    memset(c, 0, sizeof *c);
    return wl_store_foreach(s, id, WL_TABLE_LAYERS, -1, -1, wl__cover_layer_row, c);
}

/* The next token row of the walk (in index order): the range its layer
 * rows cover, or false when it has none. */
static bool wl__cover_next(struct wl__cover *c, int64_t idx, bool is_input, int64_t *first,
                           int64_t *last)
{
    while (c->cursor < c->n && c->with_layers[c->cursor] < idx)
        c->cursor++;
    const bool has = c->cursor < c->n && c->with_layers[c->cursor] == idx;
    if (is_input && !c->in_batch) {
        c->batch_start = idx;
        c->in_batch = true;
    }
    if (!has) {
        if (!is_input)
            c->in_batch = false;
        return false;
    }
    *first = is_input ? c->batch_start : idx;
    *last = idx;
    c->in_batch = false;
    return true;
}

/* The token row's is_input column (false when absent). */
static bool wl__row_is_input(size_t n, const char *const *names, const struct wl_store_value *v)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "is_input") == 0)
            return v[i].type == WL_VALUE_INT && v[i].i != 0;
    }
    return false;
}

struct wl__tokens {
    json_t *arr;
    struct wl__level *level;
    struct wl__cover *cover;
};

static int wl__token_row(void *user, size_t n, const char *const *names,
                         const struct wl_store_value *v)
{
    struct wl__tokens *t = user;
    json_t *o = wl__row_json(n, names, v, 0, NULL);
    if (!o || json_array_append_new(t->arr, o) != 0)
        return WL_ENOMEM;
    int64_t key = v[0].i, first, last;
    const bool has = wl__cover_next(t->cover, key, wl__row_is_input(n, names, v), &first, &last);
    if (json_object_set_new(o, "layers_first_token", has ? json_integer(first) : json_null()) ||
        json_object_set_new(o, "layers_last_token", has ? json_integer(last) : json_null()))
        return WL_ENOMEM;
    return wl__level_push(t->level, &key, 1, o);
}

struct wl__indices {
    int64_t *v;
    size_t n, cap;
};

static int wl__token_index(void *user, size_t n, const char *const *names,
                           const struct wl_store_value *v)
{
    struct wl__indices *x = user;
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 256;
        int64_t *nv = realloc(x->v, nc * sizeof *nv);
        if (!nv)
            return WL_ENOMEM;
        x->v = nv;
        x->cap = nc;
    }
    x->v[x->n++] = v[0].i;
    return 0;
}

/* Where the JSON goes and how: escape is WL_EXPORT_JSON_ESCAPE_CONTROLS. */
struct wl__jout {
    FILE *out;
    bool escape;
    struct wl_errmsg *err;
    int *werr; /* the failed write's errno, taken when it failed */
};

/* A write to o failed: its errno, taken at once (the store's clean-up of
 * the read that was streaming it may change errno before the caller
 * looks), and WL_EIO with the message. */
static int wl__write_failed(const struct wl__jout *o)
{
    *o->werr = errno ? errno : EIO;
    return wl_errmsg_set(o->err, WL_EIO, "writing the export: %s", strerror(*o->werr));
}

/* Writes JSON text s (a piece of the document) to o. */
static int wl__write(const struct wl__jout *o, const char *s)
{
    const int rc = o->escape ? wl_utf8_put_terminal_json(o->out, s, strlen(s)) : fputs(s, o->out);
    return rc < 0 ? wl__write_failed(o) : 0;
}

/* One row or one chunk of tokens at a time: a small string when escaped. */
static int wl__dump(const struct wl__jout *o, json_t *j)
{
    const int rc = wl_json_put(o->out, j, WL__JSON_FLAGS, o->escape);
    if (rc == WL_ENOMEM)
        return wl_errmsg_set(o->err, WL_ENOMEM, "out of memory");
    return rc != 0 ? wl__write_failed(o) : 0;
}

static int wl__store_err(wl_store *s, int rc, struct wl_errmsg *err)
{
    if (rc == WL_ENOMEM)
        return wl_errmsg_set(err, rc, "out of memory");
    return wl_errmsg_set(err, rc, "%s", wl_store_last_error(s));
}

/* ---- a run that recorded nothing ------------------------------------------ *
 * A finished run stopped during its set-up or idle baseline stores 0 ms and
 * 0 J, which are no measurements (the summary's nothing_recorded, the list's
 * rule, wl_store_recorded_nothing): the export writes them unknown, as `runs` and `show`
 * do, never as a zero labelled with a method. These columns: */
static const char *const wl__unrecorded_run_cols[] = {"duration_ms", "energy_j", "j_per_token",
                                                      NULL};
static const char *const wl__unrecorded_domain_cols[] = {"energy_j", NULL};

/* ---- a domain not measuring over the whole run ------------------------------ *
 * A counter stuck over the whole run (runs.extra energy_unknown
 * "not_measuring") has no figures and no method: its stored run_domains row
 * keeps the method it was read by ("counter"), which the export writes null
 * (an empty CSV cell), and the JSON row says "not_measuring": true, by the
 * rule `show` and `show --json` follow (wl_summary_not_measuring). */
static const char *const wl__stuck_domain_cols[] = {"method", NULL};
static const char *const wl__stuck_unrecorded_domain_cols[] = {"energy_j", "method", NULL};

static int wl__run_not_measuring(void *user, size_t n, const char *const *names,
                                 const struct wl_store_value *v)
{
    uint32_t *mask = user;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "extra") == 0 && v[i].type == WL_VALUE_TEXT) {
            char *text = malloc(v[i].n + 1);
            if (!text)
                return WL_ENOMEM;
            memcpy(text, v[i].s, v[i].n);
            text[v[i].n] = '\0';
            json_t *x = wl_json_load_object(text);
            free(text);
            *mask = wl_summary_not_measuring(x);
            json_decref(x);
        }
    }
    return 0;
}

/* *mask: the run's domains not measuring over the whole run. */
static int wl__not_measuring_load(wl_store *s, const char *id, uint32_t *mask)
{
    *mask = 0;
    return wl_store_foreach(s, id, WL_TABLE_RUN, -1, -1, wl__run_not_measuring, mask);
}

/* Whether a run_domains row is of a domain in not_measuring. */
static bool wl__row_not_measuring(size_t n, const char *const *names,
                                  const struct wl_store_value *v, uint32_t not_measuring)
{
    for (size_t i = 0; not_measuring && i < n; i++) {
        if (strcmp(names[i], "domain") == 0 && v[i].type == WL_VALUE_TEXT) {
            char name[32];
            enum wl_domain d;
            snprintf(name, sizeof name, "%.*s", (int)v[i].n, v[i].s);
            return wl_domain_parse(name, &d) == 0 &&
                   wl_summary_domain_not_measuring(not_measuring, (int)d);
        }
    }
    return false;
}

/* The columns a domains row writes null: base, and its method when stuck. */
static const char *const *wl__domain_null_cols(const char *const *base, bool stuck)
{
    if (!stuck)
        return base;
    return base ? wl__stuck_unrecorded_domain_cols : wl__stuck_domain_cols;
}

/* The run's summary (computed by the store within the caller's snapshot)
 * into *json as JSON (without its run identity, which the export has in
 * full), and *nothing: whether the run recorded nothing. */
static int wl__summary(wl_store *s, const char *id, json_t **json, bool *nothing,
                       struct wl_errmsg *err)
{
    struct wl_store_aggregates a;
    struct wl_summary sum;
    int rc = wl_store_summary(s, id, &a);
    if (rc != 0)
        return wl__store_err(s, rc, err);
    rc = wl_summary_compute(&a, &sum);
    if (rc == 0) {
        *nothing = sum.nothing_recorded;
        *json = wl_summary_to_json(&a, &sum);
        if (!*json)
            rc = WL_ENOMEM;
        else
            json_object_del(*json, "run");
        wl_summary_free(&sum);
    }
    wl_store_aggregates_free(&a);
    return rc == 0 ? 0 : wl_errmsg_set(err, rc, "out of memory");
}

/* ---- JSON ------------------------------------------------------------------ */

/* Writes the rows of one table as the elements of a JSON array, each row
 * dumped and freed as it comes (a long measure run has a sample every
 * 10 ms: memory stays one row whatever their number). */
struct wl__rows_out {
    const struct wl__jout *o;
    const char *const *null_cols; /* columns written null (a run that recorded nothing) */
    bool first;
    bool failed;            /* err says why (a write, or out of memory) */
    bool domains;           /* run_domains rows: each says whether it was measuring */
    uint32_t not_measuring; /* ... and the run's domains that were not (stuck) */
};

static int wl__stream_row(void *user, size_t n, const char *const *names,
                          const struct wl_store_value *v)
{
    struct wl__rows_out *w = user;
    const bool stuck = w->domains && wl__row_not_measuring(n, names, v, w->not_measuring);
    json_t *o = wl__row_json(n, names, v, 0, wl__domain_null_cols(w->null_cols, stuck));
    if (o && w->domains && json_object_set_new(o, "not_measuring", json_boolean(stuck)) != 0) {
        json_decref(o);
        o = NULL;
    }
    int rc = o ? 0 : wl_errmsg_set(w->o->err, WL_ENOMEM, "out of memory");
    if (rc == 0 && !w->first)
        rc = wl__write(w->o, ",");
    w->first = false;
    if (rc == 0)
        rc = wl__dump(w->o, o);
    json_decref(o);
    w->failed = rc != 0;
    return rc;
}

/* ,"key":[rows of table t] */
static int wl__json_rows(wl_store *s, const char *id, enum wl_store_table t, const char *key,
                         const char *const *null_cols, const struct wl__jout *o)
{
    char head[64];
    snprintf(head, sizeof head, ",\"%s\":[", key);
    int rc = wl__write(o, head);
    if (rc != 0)
        return rc;
    struct wl__rows_out w = {o, null_cols, true, false, t == WL_TABLE_DOMAINS, 0};
    if (w.domains) {
        rc = wl__not_measuring_load(s, id, &w.not_measuring);
        if (rc != 0)
            return wl__store_err(s, rc, o->err);
    }
    rc = wl_store_foreach(s, id, t, -1, -1, wl__stream_row, &w);
    if (rc != 0)
        return w.failed ? rc : wl__store_err(s, rc, o->err);
    return wl__write(o, "]");
}

/* Writes the tokens in chunks of WL__TOKENS_PER_CHUNK stored tokens, each
 * with its layers, components and ops. */
static int wl__json_tokens(wl_store *s, const char *id, const struct wl__jout *o)
{
    struct wl_errmsg *err = o->err;
    struct wl__indices idx = {0};
    struct wl__cover cover;
    int rc = wl_store_foreach(s, id, WL_TABLE_TOKENS, -1, -1, wl__token_index, &idx);
    if (rc == 0)
        rc = wl__cover_load(s, id, &cover);
    else
        memset(&cover, 0, sizeof cover);
    if (rc != 0) {
        free(idx.v);
        free(cover.with_layers);
        return wl__store_err(s, rc, err);
    }
    struct wl__level toks = {0}, layers = {0}, comps = {0};
    bool first = true;
    for (size_t i = 0; i < idx.n && rc == 0; i += WL__TOKENS_PER_CHUNK) {
        size_t last =
            i + WL__TOKENS_PER_CHUNK - 1 < idx.n ? i + WL__TOKENS_PER_CHUNK - 1 : idx.n - 1;
        int64_t lo = idx.v[i], hi = idx.v[last];
        toks.n = layers.n = comps.n = 0;
        json_t *arr = json_array();
        struct wl__tokens tk = {arr, &toks, &cover};
        struct wl__nest nl = {&toks, &layers, 1, "layers", 0};
        struct wl__nest nc = {&layers, &comps, 2, "components", 0};
        struct wl__nest no = {&comps, NULL, 3, "ops", 0};
        rc = wl_store_foreach_range(s, id, WL_TABLE_TOKENS, lo, hi, wl__token_row, &tk);
        if (rc == 0)
            rc = wl_store_foreach_range(s, id, WL_TABLE_LAYERS, lo, hi, wl__nest_row, &nl);
        if (rc == 0)
            rc = wl_store_foreach_range(s, id, WL_TABLE_COMPONENTS, lo, hi, wl__nest_row, &nc);
        if (rc == 0)
            rc = wl_store_foreach_range(s, id, WL_TABLE_OPS, lo, hi, wl__nest_row, &no);
        if (rc != 0)
            rc = wl__store_err(s, rc, err);
        for (size_t k = 0; rc == 0 && k < json_array_size(arr); k++) {
            rc = first ? 0 : wl__write(o, ",");
            first = false;
            if (rc == 0)
                rc = wl__dump(o, json_array_get(arr, k));
        }
        json_decref(arr);
    }
    free(idx.v);
    free(cover.with_layers);
    free(toks.v);
    free(layers.v);
    free(comps.v);
    return rc;
}

/* {"format":"wattlens-run","version":1,"run":{<run fields>,"domains":[...],
 * "samples":[...],"sections":[...],"summary":{...},"tokens":[...]}}, every
 * array written row by row (the run's own fields are dumped as one object
 * without its closing brace). Called inside the export's read snapshot. */
static int wl__json_document(wl_store *s, const char *id, const struct wl__jout *o)
{
    struct wl_errmsg *err = o->err;
    json_t *summary = NULL;
    bool nothing = false;
    int rc = wl__summary(s, id, &summary, &nothing, err);
    if (rc != 0)
        return rc;
    json_t *run = json_object();
    if (!run) {
        json_decref(summary);
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    }
    struct wl__run_out ro = {run, nothing ? wl__unrecorded_run_cols : NULL};
    rc = wl__foreach_run(s, id, wl__run_row, &ro);
    if (rc != 0) /* WL_ENOMEM from wl__foreach_run or wl__run_row, or the store's */
        rc = wl__store_err(s, rc, err);
    char *head = rc == 0 ? json_dumps(run, WL__JSON_FLAGS) : NULL;
    json_decref(run);
    if (rc == 0 && !head)
        rc = wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    if (rc == 0) {
        head[strlen(head) - 1] = '\0'; /* drop the closing brace */
        rc = wl__write(o, "{\"format\":\"wattlens-run\",\"version\":1,\"run\":");
    }
    if (rc == 0)
        rc = wl__write(o, head);
    free(head);
    if (rc == 0)
        rc = wl__json_rows(s, id, WL_TABLE_DOMAINS, "domains",
                           nothing ? wl__unrecorded_domain_cols : NULL, o);
    if (rc == 0)
        rc = wl__json_rows(s, id, WL_TABLE_SAMPLES, "samples", NULL, o);
    if (rc == 0)
        rc = wl__json_rows(s, id, WL_TABLE_SECTIONS, "sections", NULL, o);
    if (rc == 0)
        rc = wl__write(o, ",\"summary\":");
    if (rc == 0)
        rc = wl__dump(o, summary);
    if (rc == 0)
        rc = wl__write(o, ",\"tokens\":[");
    if (rc == 0)
        rc = wl__json_tokens(s, id, o);
    if (rc == 0)
        rc = wl__write(o, "]}}\n");
    json_decref(summary);
    return rc;
}

int wl_export_run_json(wl_store *s, const char *id, unsigned flags, FILE *out,
                       struct wl_errmsg *err)
{
    int werr = 0;
    const struct wl__jout o = {out, (flags & WL_EXPORT_JSON_ESCAPE_CONTROLS) != 0, err, &werr};
    /* one snapshot for every table: a run being recorded keeps committing,
     * and its summary, sections and tokens must describe one state of it */
    int rc = wl_store_read_begin(s);
    if (rc != 0)
        return wl__store_err(s, rc, err);
    rc = wl__json_document(s, id, &o);
    wl_store_read_end(s);
    if (rc == WL_EIO && werr)
        errno = werr; /* as the header says */
    return rc;
}

/* ---- CSV ------------------------------------------------------------------- */

struct wl__csv {
    FILE *out;
    bool header_done;
    bool transpose;               /* metadata: one "field,value" line per column */
    bool escape;                  /* WL_EXPORT_CSV_ESCAPE_TEXT */
    const char *const *null_cols; /* columns written empty (a run that recorded nothing) */
    struct wl__cover *cover;      /* tokens: their layers_first_token, layers_last_token */
    int io_error;
    uint32_t not_measuring; /* domains: the run's domains not measuring (method empty) */
};

/* One text cell (wl_csv_put): quoted when it holds a comma, a quote or a
 * line break; with escape, first escaped as the text outputs are, so no
 * control byte of a stored text reaches a terminal. */
static void wl__csv_text(FILE *out, const char *s, size_t n, bool escape)
{
    wl_csv_put(out, s, n, escape ? WL_CSV_ESCAPE : 0);
}

/* A value as a cell. Unknown is an empty cell: NULL, and a real that is not
 * finite (inf or nan from another writer or a hand edit), as the JSON's
 * null; an unknown float of a list is an empty item between its spaces. */
static void wl__csv_value(FILE *out, const struct wl_store_value *v, bool escape)
{
    switch (v->type) {
    case WL_VALUE_INT:
        fprintf(out, "%lld", (long long)v->i);
        break;
    case WL_VALUE_REAL:
        if (isfinite(v->r))
            fprintf(out, "%.15g", v->r); /* as the JSON outputs (WL_JSON_REAL_FLAGS) */
        break;
    case WL_VALUE_TEXT:
        wl__csv_text(out, v->s, v->n, escape);
        break;
    case WL_VALUE_BLOB: /* float32 values separated by spaces, as the JSON's */
        for (size_t k = 0; k + sizeof(float) <= v->n; k += sizeof(float)) {
            float f;
            char text[32];
            memcpy(&f, v->s + k, sizeof f);
            if (k)
                fputc(' ', out);
            if (isfinite(f))
                fputs(wl__float_text(f, text), out);
        }
        break;
    default:
        break; /* NULL: empty field */
    }
}

static int wl__csv_io(struct wl__csv *c)
{
    if (ferror(c->out)) {
        c->io_error = errno ? errno : EIO;
        return WL_EIO;
    }
    return 0;
}

/* The table's header line: its columns (and the tokens' two of wl__cover). */
static int wl__csv_header(void *user, size_t n, const char *const *names)
{
    struct wl__csv *c = user;
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', c->out);
        wl__csv_text(c->out, names[i], strlen(names[i]), false);
    }
    if (c->cover)
        fputs(",layers_first_token,layers_last_token", c->out);
    fputc('\n', c->out);
    c->header_done = true;
    return wl__csv_io(c);
}

/* Column i of a row, empty when it is one of null_cols. */
static void wl__csv_cell(const struct wl__csv *c, const char *const *names,
                         const struct wl_store_value *v, size_t i)
{
    if (!wl__listed(names[i], c->null_cols))
        wl__csv_value(c->out, &v[i], c->escape);
}

static int wl__csv_row(void *user, size_t n, const char *const *names,
                       const struct wl_store_value *v)
{
    struct wl__csv *c = user;
    if (c->transpose) {
        fputs("field,value\n", c->out);
        for (size_t i = 0; i < n; i++) {
            wl__csv_text(c->out, names[i], strlen(names[i]), false);
            fputc(',', c->out);
            wl__csv_cell(c, names, v, i);
            fputc('\n', c->out);
        }
    } else {
        if (!c->header_done && wl__csv_header(c, n, names) != 0)
            return WL_EIO;
        const char *const *base = c->null_cols;
        c->null_cols =
            wl__domain_null_cols(base, wl__row_not_measuring(n, names, v, c->not_measuring));
        for (size_t i = 0; i < n; i++) {
            if (i)
                fputc(',', c->out);
            wl__csv_cell(c, names, v, i);
        }
        c->null_cols = base;
        int64_t first, last;
        if (c->cover &&
            wl__cover_next(c->cover, v[0].i, wl__row_is_input(n, names, v), &first, &last))
            fprintf(c->out, ",%lld,%lld", (long long)first, (long long)last);
        else if (c->cover)
            fputs(",,", c->out);
        fputc('\n', c->out);
    }
    return wl__csv_io(c);
}

/* The tables one after another; called inside the export's read snapshot. */
static int wl__csv_tables(wl_store *s, const char *id, unsigned flags, FILE *out,
                          struct wl_errmsg *err, int *werr)
{
    static const struct {
        enum wl_store_table t;
        const char *title;
    } tables[] = {
        {WL_TABLE_RUN, "metadata"},  {WL_TABLE_DOMAINS, "domains"}, {WL_TABLE_SAMPLES, NULL},
        {WL_TABLE_SECTIONS, NULL},   {WL_TABLE_TOKENS, NULL},       {WL_TABLE_LAYERS, NULL},
        {WL_TABLE_COMPONENTS, NULL}, {WL_TABLE_OPS, NULL},
    };
    /* the list's rule in one query of the run: no summary (its layer and
     * component scans, its per-token array) for one bool */
    bool nothing = false;
    int rc = wl_store_recorded_nothing(s, id, &nothing);
    if (rc != 0)
        return wl__store_err(s, rc, err);
    struct wl__cover cover;
    rc = wl__cover_load(s, id, &cover);
    for (size_t i = 0; rc == 0 && i < sizeof tables / sizeof tables[0]; i++) {
        fprintf(out, "%s# %s\n", i ? "\n" : "",
                tables[i].title ? tables[i].title : wl_store_table_name(tables[i].t));
        const char *const *null_cols = NULL;
        if (nothing && tables[i].t == WL_TABLE_RUN)
            null_cols = wl__unrecorded_run_cols;
        else if (nothing && tables[i].t == WL_TABLE_DOMAINS)
            null_cols = wl__unrecorded_domain_cols;
        struct wl__csv c = {out,
                            false,
                            tables[i].t == WL_TABLE_RUN,
                            (flags & WL_EXPORT_CSV_ESCAPE_TEXT) != 0,
                            null_cols,
                            tables[i].t == WL_TABLE_TOKENS ? &cover : NULL,
                            0,
                            0};
        if (tables[i].t == WL_TABLE_DOMAINS)
            rc = wl__not_measuring_load(s, id, &c.not_measuring);
        if (rc != 0)
            break;
        rc = tables[i].t == WL_TABLE_RUN
                 ? wl__foreach_run(s, id, wl__csv_row, &c)
                 : wl_store_foreach(s, id, tables[i].t, -1, -1, wl__csv_row, &c);
        /* every table has its header line, rows or not */
        if (rc == 0 && !c.header_done && !c.transpose)
            rc = wl_store_columns(s, tables[i].t, wl__csv_header, &c);
        if (rc == WL_EIO && c.io_error) {
            free(cover.with_layers);
            *werr = c.io_error;
            return wl_errmsg_set(err, WL_EIO, "writing the export: %s", strerror(c.io_error));
        }
    }
    free(cover.with_layers);
    if (rc != 0)
        return wl__store_err(s, rc, err);
    if (fflush(out) != 0 || ferror(out)) {
        *werr = errno ? errno : EIO;
        return wl_errmsg_set(err, WL_EIO, "writing the export: %s", strerror(*werr));
    }
    return 0;
}

int wl_export_run_csv(wl_store *s, const char *id, unsigned flags, FILE *out, struct wl_errmsg *err)
{
    int rc = wl_store_read_begin(s); /* one snapshot, as the JSON's */
    if (rc != 0)
        return wl__store_err(s, rc, err);
    int werr = 0;
    rc = wl__csv_tables(s, id, flags, out, err, &werr);
    wl_store_read_end(s);
    if (rc == WL_EIO && werr)
        errno = werr; /* as the header says */
    return rc;
}

/* Queries of the SQLite backend: listing with filters and sorts, id
 * resolution, row iteration for exports, the summary aggregates, delete,
 * retention and stats. Read-only except delete and gc. See sqlite_impl.h. */
#include "store/sqlite_impl.h"

#include "util/clock.h"
#include "util/json_text.h"
#include "util/utf8.h"
#include "wattlens/energy.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- queries ------------------------------------------------------------- */

static int wl__read_row(sqlite3_stmt *st, int c, struct wl_run_row *row)
{
    memset(row, 0, sizeof *row);
    wl__col_copy(st, c + 0, row->id, sizeof row->id);
    row->created_at_ms = sqlite3_column_int64(st, c + 1);
    wl_run_status_parse((const char *)sqlite3_column_text(st, c + 2), &row->status);
    wl_run_kind_parse((const char *)sqlite3_column_text(st, c + 3), &row->kind);
    row->command = wl__col_dup(st, c + 4, &row->command_len);
    row->model_name = wl__col_dup(st, c + 5, &row->model_name_len);
    row->prompt = wl__col_dup(st, c + 6, &row->prompt_len);
    row->experiment = wl__col_dup(st, c + 7, &row->experiment_len);
    row->tags = wl__col_dup(st, c + 8, &row->tags_len);
    row->duration_ms = wl__col_double(st, c + 9);
    row->energy_j = wl__col_double(st, c + 10);
    row->has_energy_method =
        wl_method_parse((const char *)sqlite3_column_text(st, c + 11), &row->energy_method) == 0;
    row->input_tokens = wl__col_int(st, c + 12, -1);
    row->output_tokens = wl__col_int(st, c + 13, -1);
    row->j_per_token = wl__col_double(st, c + 14);
    row->span_last_token = -1; /* set by the list (wl__read_partial) */
    row->span_energy_j = WL_STORE_UNSET;
    return 0;
}

/* The run columns of the list, for the outer query of wl__sqlite_list_runs.
 * A run that never finished (running, or incomplete: its writer died) has
 * no totals, so its figures are derived from the rows it saved the way
 * wl_store_summary's aggregates give them to the summary: duration from the
 * first section's start to the last one's end, energy the sum of the
 * sections (the methods behind it listed for wl_store_weakest_method), token
 * counts from the token rows (output tokens per sequence; NULL when no token
 * was saved), J/token from those. Only unfinished runs pay for the
 * subqueries; finished runs keep exactly what their writer stored. */
#define WL__UNFINISHED "r.status IN ('running', 'incomplete')"
/* A finished run that recorded nothing (stopped during its set-up or idle
 * baseline): no section outside the baseline, no token, and the zeros its
 * writer stored as duration and energy, which are no figures; the summary
 * applies the same rule (docs/internals/store.md, "Summary metrics"). */
#define WL__RECORDED_NOTHING                                                                       \
    "(r.duration_ms = 0 AND NOT " WL__UNFINISHED " AND NOT EXISTS (SELECT 1 FROM sections s "      \
    "WHERE s.run_id = r.id AND s.phase <> 'baseline') AND NOT EXISTS (SELECT 1 FROM tokens t "     \
    "WHERE t.run_id = r.id))"
#define WL__LIST_DURATION                                                                          \
    "CASE WHEN " WL__RECORDED_NOTHING                                                              \
    " THEN NULL ELSE coalesce(r.duration_ms, CASE WHEN " WL__UNFINISHED                            \
    " THEN (SELECT max(s.end_ms) - min(s.start_ms) FROM sections s WHERE "                         \
    "s.run_id = r.id) END) END"
/* Every section's energy of run `id` in one SQL sum(): the list's energy
 * of an unfinished run and the summary's sections_energy_j, one expression
 * so that the two agree to the last bit. NULL when a section has no energy
 * (a sensor read failed at its start or end: profile.md): the sum of the
 * others would pass for the run's, as SQL's sum() skips NULLs. WL__KNOWN_SUM
 * is such a sum of column col (s.energy_j) over the rows s of a scan. */
#define WL__KNOWN_SUM(col) "CASE WHEN count(" col ") = count(*) THEN sum(" col ") END"
/* A section's energy_j when finite, else NULL: an infinite one (SQLite
 * keeps no NaN), which only another writer or a hand edit stores, is no
 * figure, as everywhere else (old: its phase's sum was infinite, and every
 * phase's share of the sum n/a). */
#define WL__FINITE_ENERGY(col) "CASE WHEN abs(" col ") < 9e999 THEN " col " END"
#define WL__SECTIONS_ENERGY(id)                                                                    \
    "(SELECT " WL__KNOWN_SUM(                                                                      \
        WL__FINITE_ENERGY("s.energy_j")) " FROM sections s WHERE s.run_id = " id ")"
/* The sections of run `id` saved without energy: why an unfinished run's
 * energy is unknown (the list's sections_no_energy). */
#define WL__SECTIONS_NO_ENERGY(id)                                                                 \
    "(SELECT count(*) - count(" WL__FINITE_ENERGY("s.energy_j") ") FROM sections s WHERE "         \
                                                                "s.run_id = " id ")"
#define WL__LIST_ENERGY                                                                            \
    "CASE WHEN " WL__RECORDED_NOTHING                                                              \
    " THEN NULL ELSE coalesce(r.energy_j, CASE WHEN " WL__UNFINISHED                               \
    " THEN " WL__SECTIONS_ENERGY("r.id") " END) END"
#define WL__LIST_METHODS                                                                           \
    "CASE WHEN " WL__UNFINISHED " AND r.energy_method IS NULL THEN (SELECT "                       \
    "group_concat(DISTINCT s.method) FROM sections s WHERE s.run_id = r.id) END"
#define WL__LIST_INPUT_TOKENS                                                                      \
    "coalesce(r.input_tokens, CASE WHEN " WL__UNFINISHED " THEN (SELECT CASE WHEN "                \
    "count(*) > 0 THEN sum(t.is_input <> 0) END FROM tokens t WHERE t.run_id = r.id) END)"
#define WL__LIST_OUTPUT_TOKENS                                                                     \
    "coalesce(r.output_tokens, CASE WHEN " WL__UNFINISHED " THEN (SELECT CASE WHEN "               \
    "count(*) > 0 THEN sum(CASE WHEN t.is_input = 0 THEN coalesce(t.n_seq, 1) ELSE 0 END) "        \
    "END FROM tokens t WHERE t.run_id = r.id) END)"
/* The span of an unfinished run that its decode sections and its output
 * token rows both cover (wl_agg_span), as SQL over run id `id`, shared by
 * the list's J/token and the summary so that `runs` and `show` agree.
 * K: the last output token both tables reach (NULL when either has none:
 * min() of a NULL is NULL). END(k): when k's last decode section ends.
 * BEYOND: decode sections / output rows past k. ENERGY(t): every section
 * that ends by t. DECODE: a column summed over the decode sections up to k.
 * ENERGY and DECODE are NULL when a section they add has no value
 * (WL__KNOWN_SUM).
 * TOKENS: output tokens up to k. Each is one scan of the run's rows; k and
 * t must be plain values where they are used (bound parameters, or columns
 * of a subquery that cannot be flattened, "LIMIT -1 OFFSET 0"): written as
 * subqueries inside another scan they would be evaluated once per row. */
#define WL__SPAN_K(id)                                                                             \
    "min((SELECT max(s.token_index) FROM sections s WHERE s.run_id = " id " AND s.phase = "        \
    "'decode'), (SELECT max(t.idx) FROM tokens t WHERE t.run_id = " id " AND t.is_input = 0))"
#define WL__SPAN_END(id, k)                                                                        \
    "(SELECT max(s.end_ms) FROM sections s WHERE s.run_id = " id " AND s.phase = 'decode' AND "    \
    "s.token_index <= " k ")"
#define WL__SPAN_SECTIONS_BEYOND(id, k)                                                            \
    "(SELECT count(*) FROM sections s WHERE s.run_id = " id " AND s.phase = 'decode' AND "         \
    "s.token_index > " k ")"
#define WL__SPAN_ROWS_BEYOND(id, k)                                                                \
    "(SELECT count(*) FROM tokens t WHERE t.run_id = " id " AND t.is_input = 0 AND t.idx > " k ")"
#define WL__SPAN_ENERGY(id, t)                                                                     \
    "(SELECT " WL__KNOWN_SUM("s.energy_j") " FROM sections s WHERE s.run_id = " id                 \
                                           " AND s.end_ms <= " t ")"
#define WL__SPAN_DECODE(col, id, k)                                                                \
    "(SELECT " WL__KNOWN_SUM("s." col) " FROM sections s WHERE s.run_id = " id                     \
                                       " AND s.phase = 'decode' AND s.token_index <= " k ")"
#define WL__SPAN_TOKENS(id, k)                                                                     \
    "(SELECT sum(coalesce(t.n_seq, 1)) FROM tokens t WHERE t.run_id = " id " AND t.is_input = 0 "  \
    "AND t.idx <= " k ")"
/* Whether an unfinished list row's tables part (e: the row with its
 * span_k), so that its J/token covers the span (wl_agg_span) */
/* clang-format off */
#define WL__LIST_PARTED                                                                            \
    "coalesce(e.span_k IS NOT NULL AND ("                                                          \
    WL__SPAN_SECTIONS_BEYOND("e.id", "e.span_k") " > 0 OR "                                        \
    WL__SPAN_ROWS_BEYOND("e.id", "e.span_k") " > 0), 0)"
/* clang-format on */

static const char wl__list_run_cols[] =
    "r.id, r.uuid, r.created_at_ms, r.kind, r.command, "
    "r.model_name, r.prompt, r.experiment, r.energy_method, r.j_per_token AS "
    "stored_j_per_token, " WL__UNFINISHED " AS partial, " WL__LIST_DURATION
    " AS duration_ms, " WL__LIST_ENERGY " AS energy_j, " WL__LIST_METHODS
    " AS section_methods, " WL__LIST_INPUT_TOKENS " AS input_tokens, " WL__LIST_OUTPUT_TOKENS
    " AS output_tokens, CASE WHEN " WL__UNFINISHED
    " THEN " WL__SPAN_K("r.id") " END AS span_k, "
                                "CASE WHEN " WL__UNFINISHED
                                " THEN " WL__SECTIONS_NO_ENERGY("r.id") " END AS "
                                                                        "sections_no_energy";

/* Whether stored extra fields (runs.extra text, NULL: none) are unreadable:
 * the row's extra_unreadable (store.h). */
static bool wl__extra_unreadable(const char *extra)
{
    json_t *x = wl_json_load_object(extra);
    json_decref(x);
    return extra && !x;
}

/* Reads the list's extra columns (partial, section methods, the span, the
 * sections without energy, runs.extra) at column c. */
static void wl__read_partial(sqlite3_stmt *st, int c, struct wl_run_row *row)
{
    row->extra_unreadable = wl__extra_unreadable((const char *)sqlite3_column_text(st, c + 6));
    row->partial = sqlite3_column_int(st, c) != 0;
    row->span_last_token = wl__col_int(st, c + 2, -1);
    row->span_output_tokens = row->span_last_token >= 0 ? wl__col_int(st, c + 3, 0) : 0;
    row->span_energy_j = row->span_last_token >= 0 ? wl__col_double(st, c + 4) : WL_STORE_UNSET;
    row->sections_no_energy = wl__col_int(st, c + 5, 0);
    const char *keys = (const char *)sqlite3_column_text(st, c + 1);
    if (!row->partial || row->has_energy_method || !keys || isnan(row->energy_j))
        return;
    uint32_t methods = 0;
    char key[32];
    for (const char *p = keys; *p;) {
        size_t n = strcspn(p, ",");
        enum wl_method m;
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        if (wl_method_parse(key, &m) == 0)
            methods |= 1u << m;
        p += n + (p[n] == ',');
    }
    row->has_energy_method = wl_store_weakest_method(methods, &row->energy_method);
}

int wl__list_push(struct wl_run_list *l, size_t *cap, sqlite3_stmt *st)
{
    if (l->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct wl_run_row *nr = realloc(l->rows, nc * sizeof *nr);
        if (!nr)
            return WL_ENOMEM;
        l->rows = nr;
        *cap = nc;
    }
    wl__read_row(st, 0, &l->rows[l->n++]);
    return 0;
}

/* WHERE clause of a run filter; parameters ?1..?7 bound by wl__bind_filter.
 * Substring filters are caseless for all of Unicode through wl_casefold
 * (sqlite_casefold.c; SQLite's lower() folds only ASCII). */
static const char wl__filter_sql[] =
    " WHERE (?1 IS NULL OR instr(wl_casefold(coalesce(r.model_name, '') || char(10) || "
    "coalesce(r.model_path, '') || char(10) || coalesce(r.command, '')), wl_casefold(?1)) > 0)"
    " AND (?2 IS NULL OR EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag = ?2))"
    " AND (?3 IS NULL OR r.experiment = ?3)"
    " AND (?4 IS NULL OR r.created_at_ms >= ?4)"
    " AND (?5 IS NULL OR r.created_at_ms < ?5)"
    " AND (?6 IS NULL OR instr(wl_casefold(coalesce(r.prompt, '')), wl_casefold(?6)) > 0)";

/* NULL (SQL NULL) is "no filter"; every other value filters, "" and a time
 * before 1970 included: no value of a field doubles as its "unset". */
static void wl__bind_filter(sqlite3_stmt *st, const struct wl_store_filter *f)
{
    wl__bind_text(st, 1, f->model);
    wl__bind_text(st, 2, f->tag);
    wl__bind_text(st, 3, f->experiment);
    if (f->has_since)
        sqlite3_bind_int64(st, 4, f->since_ms);
    else
        sqlite3_bind_null(st, 4);
    if (f->has_until)
        sqlite3_bind_int64(st, 5, f->until_ms);
    else
        sqlite3_bind_null(st, 5);
    wl__bind_text(st, 6, f->search);
}

int wl__sqlite_count_runs(void *db, const struct wl_store_filter *f, int64_t *n,
                          struct wl_errmsg *err)
{
    struct wl__db *d = db;
    char sql[2048];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs r%s", wl__filter_sql);
    int rc = wl__prepare(d, sql, &st, err);
    if (rc != 0)
        return rc;
    wl__bind_filter(st, f);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = wl__fail(d, s, err, "counting runs");
    sqlite3_finalize(st);
    return rc;
}

static int wl__list_runs(struct wl__db *d, const struct wl_store_filter *f, enum wl_store_sort sort,
                         int64_t limit, int64_t offset, struct wl_run_list *out,
                         struct wl_errmsg *err)
{
    static const char *const order[] = {
        [WL_SORT_DATE] = "r.created_at_ms DESC, r.id DESC",
        [WL_SORT_DURATION] = "r.duration_ms IS NULL, r.duration_ms DESC, r.created_at_ms DESC, "
                             "r.id DESC",
        [WL_SORT_ENERGY] = "r.energy_j IS NULL, r.energy_j DESC, r.created_at_ms DESC, r.id DESC",
        [WL_SORT_JPT] = "r.j_per_token IS NULL, r.j_per_token ASC, r.created_at_ms DESC, "
                        "r.id DESC",
    };
    char sql[8192];
    sqlite3_stmt *st = NULL;
    int rc = wl__sqlite_count_runs(d, f, &out->total, err);
    if (rc != 0)
        return rc;
    /* innermost (e): the filter, each run's figures and span_k; then (d)
     * span_t from span_k and whether the tables part; then (c) the span's
     * energy and output tokens when they do; then J/token: over the span,
     * else the run's energy over its output tokens; (p) the page: order[]
     * sorts by the derived figures and cuts; outer: the page's rows joined
     * to their runs rows (x) for what only the page needs, in the page's
     * order. Each level fenced (OFFSET 0) so that the span's values are
     * computed once per run, not inside the scans that use them. The page's
     * rows alone get their runs.extra (any size: a batch run's sequences),
     * their status (wl_run_status reads writer_start, a column stored after
     * extra, so reading it walks through a long extra's overflow pages) and
     * their tags; old: all three were read for every matching run, and
     * extra went through every level and the sort, so `runs` read the extra
     * of the whole store for a page of 20 */
    /* clang-format off */
    int n = snprintf(
        sql, sizeof sql,
        "SELECT " WL__ROW_COLS_AS(WL__LIVE_STATUS("x")) ", r.partial, r.section_methods, "
        "r.span_last_token, r.span_output_tokens, r.span_energy_j, r.sections_no_energy, "
        "x.extra FROM (SELECT r.* FROM (SELECT c.*, "
        "coalesce(c.stored_j_per_token, CASE WHEN c.partial THEN CASE WHEN c.parted "
        "THEN 1.0 * c.span_energy_j / c.span_output_tokens "
        "ELSE 1.0 * c.energy_j / c.output_tokens END END) AS j_per_token FROM ("
        "SELECT d.*, CASE WHEN d.parted THEN d.span_k END AS span_last_token, "
        "CASE WHEN d.parted THEN " WL__SPAN_ENERGY("d.id", "d.span_t") " END AS span_energy_j, "
        "CASE WHEN d.parted THEN " WL__SPAN_TOKENS("d.id", "d.span_k") " END AS "
        "span_output_tokens FROM ("
        "SELECT e.*, CASE WHEN e.span_k IS NOT NULL THEN " WL__SPAN_END("e.id", "e.span_k")
        " END AS span_t, " WL__LIST_PARTED " AS parted FROM ("
        "SELECT %s FROM runs r%s LIMIT -1 OFFSET 0) e LIMIT -1 OFFSET 0) d LIMIT -1 OFFSET 0) c) r "
        "ORDER BY %s LIMIT ?7 OFFSET ?8) r JOIN runs x ON x.id = r.id ORDER BY %s",
        wl__list_run_cols, wl__filter_sql, order[sort], order[sort]);
    /* clang-format on */
    if (n < 0 || (size_t)n >= sizeof sql) /* a programming error: the query outgrew sql */
        return wl_errmsg_set(err, WL_ERANGE, "listing runs: query too long");
    rc = wl__prepare(d, sql, &st, err);
    if (rc != 0)
        return rc;
    wl__bind_filter(st, f);
    sqlite3_bind_int64(st, 7, limit > 0 ? limit : -1);
    sqlite3_bind_int64(st, 8, offset);
    size_t cap = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        rc = wl__list_push(out, &cap, st);
        if (rc != 0) {
            wl_errmsg_set(err, rc, "out of memory");
            goto done;
        }
        wl__read_partial(st, WL__ROW_NCOLS, &out->rows[out->n - 1]);
    }
    if (s != SQLITE_DONE)
        rc = wl__fail(d, s, err, "listing runs");
done:
    sqlite3_finalize(st);
    return rc;
}

/* The count and the page from one snapshot: in autocommit each statement
 * had its own, and a run committed or removed between them made the total
 * disagree with the rows ("runs 1-2 of 1"). Inside a transaction the caller
 * opened (wl_store_read_begin) they share that one. */
int wl__sqlite_list_runs(void *db, const struct wl_store_filter *f, enum wl_store_sort sort,
                         int64_t limit, int64_t offset, struct wl_run_list *out,
                         struct wl_errmsg *err)
{
    struct wl__db *d = db;
    bool own = false;
    int rc = wl__read_txn_begin(d, &own, err, "listing runs");
    if (rc != 0)
        return rc;
    rc = wl__list_runs(d, f, sort, limit, offset, out, err);
    wl__read_txn_end(d, own);
    return rc;
}

int wl__sqlite_resolve_id(void *db, const char *prefix, char *id_out, struct wl_errmsg *err)
{
    struct wl__db *d = db;
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d,
                         "SELECT uuid FROM runs WHERE uuid >= ?1 AND uuid < ?1 || '~' "
                         "ORDER BY uuid LIMIT 2",
                         &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    int n = 0, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == 0)
            wl__col_copy(st, 0, id_out, 37);
        n++;
    }
    if (s != SQLITE_DONE)
        rc = wl__fail(d, s, err, "looking up a run");
    else if (n == 0)
        rc = wl_errmsg_set(err, WL_ENOENT, "no run with id '%s' in %s (see 'wattlens runs')",
                           prefix, d->path);
    else if (n > 1)
        rc =
            wl_errmsg_set(err, WL_EINVAL, "run id '%s' is ambiguous; give more characters", prefix);
    sqlite3_finalize(st);
    return rc;
}

/* Internal id of a run by its full UUID. */
int wl__run_pk(struct wl__db *d, const char *uuid, int64_t *pk, struct wl_errmsg *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d, "SELECT id FROM runs WHERE uuid = ?", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *pk = sqlite3_column_int64(st, 0);
    else if (s == SQLITE_DONE)
        rc = wl_errmsg_set(err, WL_ENOENT, "no run with id '%s' in %s", uuid, d->path);
    else
        rc = wl__fail(d, s, err, "looking up a run");
    sqlite3_finalize(st);
    return rc;
}

/* The SELECT of table t's rows (?1 run, ?2..?3 token range, ?4 the base
 * method of attributed rows: wl__base_method) into sql. 0, or WL_EINVAL for
 * an unknown table. */
static int wl__foreach_sql(enum wl_store_table t, char *sql, size_t size)
{
    int n;
    switch (t) {
    case WL_TABLE_RUN:
        snprintf(sql, size,
                 "SELECT uuid AS id, created_at_ms, "
                 /* the export writes created_at from created_at_ms with
                  * wl_run_json_format_time, as runs and show do */
                 "NULL AS created_at, " WL__STATUS_OF_R " AS status, kind, command, model_name, "
                 "model_path, model_sha256, "
                 "model_arch, model_features, prompt, response, "
                 "(SELECT group_concat(tag, ',') FROM (SELECT tag FROM run_tags t "
                 "WHERE t.run_id = r.id ORDER BY tag)) AS tags, experiment, depth, sampling, "
                 "batch_size, n_seq, threads, context_length, "
                 "host_name, host_cpu, host_cores, "
                 "host_memory_bytes, host_gpus, sensor_provenance, duration_ms, energy_j, "
                 "energy_method, energy_scope, input_tokens, output_tokens, kv_cache_bytes, "
                 "sample_count, sample_rate_hz, j_per_token, error, extra "
                 "FROM runs r WHERE id = ?1 AND ?2 IS NOT NULL AND ?3 IS NOT NULL");
        break;
    case WL_TABLE_DOMAINS:
        snprintf(sql, size,
                 "SELECT domain, method, source, energy_j, avg_power_w, baseline_power_w, "
                 "peak_power_w, peak_t_ms FROM run_domains WHERE run_id = ?1 AND ?2 IS NOT NULL "
                 "AND ?3 IS NOT NULL ORDER BY domain");
        break;
    case WL_TABLE_SAMPLES:
        n = snprintf(sql, size, "SELECT seq, t_ms, phase, method_flags");
        for (int i = 0; i < WL_DOMAIN_COUNT; i++)
            n += snprintf(sql + n, size - (size_t)n, ", %s_w AS %s_power_w, %s_j AS %s_energy_j",
                          wl_domain_name(i), wl_domain_name(i), wl_domain_name(i),
                          wl_domain_name(i));
        snprintf(sql + n, size - (size_t)n,
                 " FROM power_samples WHERE run_id = ?1 AND ?2 IS NOT NULL AND ?3 IS NOT NULL "
                 "ORDER BY seq");
        break;
    case WL_TABLE_SECTIONS:
        n = snprintf(sql, size,
                     "SELECT seq, phase, name, token_index, start_ms, end_ms, dur_ms, energy_j, "
                     "avg_power_w, method AS energy_method");
        for (int i = 0; i < WL_DOMAIN_COUNT; i++)
            n += snprintf(sql + n, size - (size_t)n, ", %s_j AS %s_energy_j", wl_domain_name(i),
                          wl_domain_name(i));
        snprintf(sql + n, size - (size_t)n,
                 " FROM sections WHERE run_id = ?1 AND ?2 IS NOT NULL AND ?3 IS NOT NULL "
                 "ORDER BY seq");
        break;
    case WL_TABLE_TOKENS:
        snprintf(sql, size,
                 "SELECT idx AS token_index, text, is_input, start_ms, end_ms, dur_ms, energy_j, "
                 "method AS energy_method, CASE WHEN method = 'attributed' THEN ?4 "
                 "END AS energy_base_method, avg_power_w, power_w, edp_js, "
                 "n_seq FROM tokens "
                 "WHERE run_id = ?1 AND idx BETWEEN ?2 AND ?3 ORDER BY idx");
        break;
    case WL_TABLE_LAYERS:
        snprintf(sql, size,
                 "SELECT token_idx AS token_index, layer, dur_ms, energy_j, "
                 "'attributed' AS energy_method, ?4 AS energy_base_method "
                 "FROM layer_metrics "
                 "WHERE run_id = ?1 AND token_idx BETWEEN ?2 AND ?3 ORDER BY token_idx, layer");
        break;
    case WL_TABLE_COMPONENTS:
        snprintf(sql, size,
                 "SELECT token_idx AS token_index, layer, component, name, dur_ms, energy_j, "
                 "'attributed' AS energy_method, ?4 AS energy_base_method, "
                 "act_mean_abs, act_std, act_max_abs, act_sparsity FROM component_metrics "
                 "WHERE run_id = ?1 AND token_idx BETWEEN ?2 AND ?3 "
                 "ORDER BY token_idx, layer, component");
        break;
    case WL_TABLE_OPS:
        snprintf(sql, size,
                 "SELECT token_idx AS token_index, layer, component, op, name, dur_ms, energy_j, "
                 "'attributed' AS energy_method, ?4 AS energy_base_method, "
                 "entropy, max_weight, sparsity, kill_ratio, "
                 "var_ratio, head_entropy, head_max_weight, head_sparsity FROM op_metrics "
                 "WHERE run_id = ?1 AND token_idx BETWEEN ?2 AND ?3 "
                 "ORDER BY token_idx, layer, component, op");
        break;
    default:
        return WL_EINVAL;
    }
    return 0;
}

int wl__sqlite_columns(void *db, enum wl_store_table t, wl_store_columns_fn fn, void *user,
                       struct wl_errmsg *err)
{
    struct wl__db *d = db;
    char sql[2048];
    if (wl__foreach_sql(t, sql, sizeof sql) != 0)
        return wl_errmsg_set(err, WL_EINVAL, "unknown table");
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d, sql, &st, err);
    if (rc != 0)
        return rc;
    size_t ncol = (size_t)sqlite3_column_count(st);
    const char *names[64];
    if (ncol > 64) /* as wl__sqlite_foreach */
        ncol = 64;
    for (size_t c = 0; c < ncol; c++)
        names[c] = sqlite3_column_name(st, (int)c);
    rc = fn(user, ncol, names);
    sqlite3_finalize(st);
    return rc;
}

int wl__sqlite_read_begin(void *db, struct wl_errmsg *err)
{
    struct wl__db *d = db;
    if (sqlite3_get_autocommit(d->db) == 0)
        return wl_errmsg_set(err, WL_ESTATE, "%s: a transaction is open on this connection already",
                             d->path);
    /* BEGIN alone takes no snapshot (a deferred transaction starts at its
     * first read): read the schema now, so that the snapshot is this
     * moment's, not that of the caller's first query */
    int rc = wl__exec(d, "BEGIN", err, "reading a run");
    if (rc == 0) {
        rc = wl__exec(d, "SELECT count(*) FROM sqlite_master", err, "reading a run");
        if (rc != 0)
            sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    }
    d->read_snapshot = rc == 0;
    return rc;
}

void wl__sqlite_read_end(void *db)
{
    struct wl__db *d = db;
    /* a read transaction has nothing to commit; ROLLBACK also ends one
     * whose COMMIT failed (a statement left open) */
    if (!d->read_snapshot)
        return;
    d->read_snapshot = false;
    if (sqlite3_get_autocommit(d->db) == 0 &&
        sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

/* The methods (bit 1 << method) that sql's first column names for run pk
 * (?1) into *mask; keys that are no method are left out. */
static int wl__methods_of(struct wl__db *d, const char *sql, int64_t pk, uint32_t *mask,
                          struct wl_errmsg *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d, sql, &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pk);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *key = sqlite3_column_text(st, 0);
        enum wl_method m;
        if (key && wl_method_parse((const char *)key, &m) == 0)
            *mask |= 1u << m;
    }
    if (s != SQLITE_DONE)
        rc = wl__fail(d, s, err, "reading a run");
    sqlite3_finalize(st);
    return rc;
}

/* The method of the figure an attributed row's energy is a share of (an
 * input token's of its prompt batch, a layer's, component's or op's of its
 * forward pass): the export's energy_base_method, so that a share of the
 * CPU-time model's estimate does not pass for a share of a measurement.
 * It is run pk's headline method, else (a run that never finished, or
 * another writer, stored none) the weakest method behind its sections
 * (wl_store_weakest_method), as the summary's base_method (summary.h);
 * NULL when neither is known. Worked out once per read and bound as ?4. */
static int wl__base_method(struct wl__db *d, int64_t pk, const char **key, struct wl_errmsg *err)
{
    *key = NULL;
    uint32_t mask = 0;
    int rc = wl__methods_of(d, "SELECT energy_method FROM runs WHERE id = ?", pk, &mask, err);
    if (rc == 0 && mask == 0)
        rc = wl__methods_of(d, "SELECT DISTINCT method FROM sections WHERE run_id = ?", pk, &mask,
                            err);
    enum wl_method m;
    if (rc == 0 && wl_store_weakest_method(mask, &m))
        *key = wl_method_key(m);
    return rc;
}

int wl__sqlite_foreach(void *db, const char *id, enum wl_store_table t, int64_t token_lo,
                       int64_t token_hi, wl_store_row_fn fn, void *user, struct wl_errmsg *err)
{
    struct wl__db *d = db;
    char sql[2048];
    if (wl__foreach_sql(t, sql, sizeof sql) != 0)
        return wl_errmsg_set(err, WL_EINVAL, "unknown table");
    int64_t pk = 0;
    int rc = wl__run_pk(d, id, &pk, err);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = wl__prepare(d, sql, &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pk);
    sqlite3_bind_int64(st, 2, token_lo);
    sqlite3_bind_int64(st, 3, token_hi);
    if (sqlite3_bind_parameter_count(st) >= 4) {
        const char *base = NULL;
        rc = wl__base_method(d, pk, &base, err);
        if (rc != 0) {
            sqlite3_finalize(st);
            return rc;
        }
        wl__bind_text(st, 4, base);
    }
    size_t ncol = (size_t)sqlite3_column_count(st);
    const char *names[64];
    struct wl_store_value vals[64];
    if (ncol > 64)
        ncol = 64;
    for (size_t c = 0; c < ncol; c++)
        names[c] = sqlite3_column_name(st, (int)c);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t c = 0; c < ncol; c++) {
            struct wl_store_value *v = &vals[c];
            memset(v, 0, sizeof *v);
            switch (sqlite3_column_type(st, (int)c)) {
            case SQLITE_INTEGER:
                v->type = WL_VALUE_INT;
                v->i = sqlite3_column_int64(st, (int)c);
                break;
            case SQLITE_FLOAT:
                v->type = WL_VALUE_REAL;
                v->r = sqlite3_column_double(st, (int)c);
                break;
            case SQLITE_TEXT:
                v->type = WL_VALUE_TEXT;
                v->s = (const char *)sqlite3_column_text(st, (int)c);
                v->n = (size_t)sqlite3_column_bytes(st, (int)c);
                break;
            case SQLITE_BLOB:
                v->type = WL_VALUE_BLOB;
                v->s = sqlite3_column_blob(st, (int)c);
                v->n = (size_t)sqlite3_column_bytes(st, (int)c);
                break;
            default:
                v->type = WL_VALUE_NULL;
            }
        }
        int stop = fn(user, ncol, names, vals);
        if (stop != 0) {
            rc = stop;
            goto done;
        }
    }
    if (s != SQLITE_DONE)
        rc = wl__fail(d, s, err, "reading a run");
done:
    sqlite3_finalize(st);
    return rc;
}

static int wl__read_detail(struct wl__db *d, int64_t pk, struct wl_store_run_detail *o,
                           struct wl_errmsg *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d,
                         "SELECT " WL__ROW_COLS
                         ", r.energy_scope, r.model_path, r.model_arch, r.depth, r.host_cpu, "
                         "r.error, r.kv_cache_bytes, r.context_length, r.sample_count, r.threads, "
                         "r.batch_size, r.sample_rate_hz, r.extra, r.sensor_provenance, "
                         "coalesce(r.n_seq, 1) FROM runs r "
                         "WHERE r.id = ?",
                         &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pk);
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
        rc = s == SQLITE_DONE ? wl_errmsg_set(err, WL_ENOENT, "run vanished")
                              : wl__fail(d, s, err, "reading a run");
        goto done;
    }
    int c = WL__ROW_NCOLS;
    wl__read_row(st, 0, &o->row);
    o->energy_scope = wl__col_strdup(st, c++);
    o->model_path = wl__col_strdup(st, c++);
    o->model_arch = wl__col_strdup(st, c++);
    o->depth = wl__col_strdup(st, c++);
    o->host_cpu = wl__col_strdup(st, c++);
    o->error = wl__col_strdup(st, c++);
    o->kv_cache_bytes = wl__col_int(st, c++, -1);
    o->context_length = wl__col_int(st, c++, -1);
    o->sample_count = wl__col_int(st, c++, -1);
    o->threads = wl__col_int(st, c++, -1);
    o->batch_size = wl__col_int(st, c++, -1);
    o->sample_rate_hz = wl__col_double(st, c++);
    o->extra_json = wl__col_strdup(st, c++);
    o->sensor_provenance_json = wl__col_strdup(st, c++);
    o->n_seq = wl__col_int(st, c++, 1);
    sqlite3_finalize(st);
    st = NULL;
    rc = wl__prepare(d,
                     "SELECT domain, method, source, energy_j, avg_power_w, baseline_power_w, "
                     "peak_power_w, peak_t_ms FROM run_domains WHERE run_id = ?",
                     &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pk);
    while ((s = sqlite3_step(st)) == SQLITE_ROW && o->n_domains < WL_DOMAIN_COUNT) {
        struct wl_store_domain *dm = &o->domains[o->n_domains];
        if (wl_domain_parse((const char *)sqlite3_column_text(st, 0), &dm->domain) != 0)
            continue;
        if (wl_method_parse((const char *)sqlite3_column_text(st, 1), &dm->method) != 0)
            dm->method = WL_METHOD_COUNT;
        wl__col_copy(st, 2, o->domain_source[o->n_domains], sizeof o->domain_source[0]);
        dm->energy_j = wl__col_double(st, 3);
        dm->avg_power_w = wl__col_double(st, 4);
        dm->baseline_power_w = wl__col_double(st, 5);
        dm->peak_power_w = wl__col_double(st, 6);
        dm->peak_t_ms = wl__col_double(st, 7);
        o->n_domains++;
    }
    if (s != SQLITE_DONE && s != SQLITE_ROW)
        rc = wl__fail(d, s, err, "reading a run's domains");
done:
    sqlite3_finalize(st);
    return rc;
}

/* Runs a query and hands each row to fn; for the summary's small result sets. */
static int wl__query(struct wl__db *d, const char *sql, int64_t pk,
                     int (*fn)(sqlite3_stmt *st, void *u), void *u, struct wl_errmsg *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d, sql, &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pk);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        rc = fn(st, u);
        if (rc != 0) {
            wl_errmsg_set(err, rc, "out of memory");
            goto done;
        }
    }
    if (s != SQLITE_DONE)
        rc = wl__fail(d, s, err, "summarising a run");
done:
    sqlite3_finalize(st);
    return rc;
}

static int wl__grow(void **arr, size_t n, size_t elem)
{
    /* Grows to the next power of two; n is the count before appending. */
    if (n & (n - 1))
        return 0;
    void *p = realloc(*arr, (n ? n * 2 : 1) * elem);
    if (!p)
        return WL_ENOMEM;
    *arr = p;
    return 0;
}

static int wl__phase_row(sqlite3_stmt *st, void *u)
{
    struct wl_store_aggregates *a = u;
    if (wl__grow((void **)&a->phases, a->n_phases, sizeof *a->phases) != 0)
        return WL_ENOMEM;
    struct wl_agg_phase *p = &a->phases[a->n_phases++];
    memset(p, 0, sizeof *p);
    wl__col_copy(st, 0, p->name, sizeof p->name);
    p->n_sections = sqlite3_column_int64(st, 1);
    p->start_ms = wl__col_double(st, 2);
    p->end_ms = wl__col_double(st, 3);
    p->dur_ms = wl__col_double(st, 4);
    p->energy_j = wl__col_double(st, 5);
    p->n_no_energy = sqlite3_column_int64(st, 6);
    p->no_energy_dur_ms = p->n_no_energy > 0 ? wl__col_double(st, 7) : 0;
    for (int dm = 0; dm < WL_DOMAIN_COUNT; dm++) {
        p->domain_energy_j[dm] = wl__col_double(st, 8 + 2 * dm);
        if (p->domain_energy_j[dm] == p->domain_energy_j[dm])
            p->domain_mask |= 1u << dm;
        /* NULL: no section lacks the domain where the phase's energy is known */
        const double missing = wl__col_double(st, 9 + 2 * dm);
        p->no_domain_energy_j[dm] = missing == missing ? missing : 0;
    }
    return 0;
}

static int wl__section_method_row(sqlite3_stmt *st, void *u)
{
    struct wl_store_aggregates *a = u;
    const unsigned char *key = sqlite3_column_text(st, 0);
    enum wl_method m;
    if (key && wl_method_parse((const char *)key, &m) == 0)
        a->section_methods |= 1u << m;
    return 0;
}

static int wl__layer_row(sqlite3_stmt *st, void *u)
{
    struct wl_store_aggregates *a = u;
    if (wl__grow((void **)&a->layers, a->n_layers, sizeof *a->layers) != 0)
        return WL_ENOMEM;
    struct wl_agg_layer *l = &a->layers[a->n_layers++];
    l->layer = sqlite3_column_int(st, 0);
    l->n = sqlite3_column_int64(st, 1);
    l->dur_ms = wl__col_double(st, 2);
    l->energy_j = wl__col_double(st, 3);
    l->n_no_energy = sqlite3_column_int64(st, 4);
    l->n_input = l->n_input_no_energy = 0; /* wl__input_split_row */
    l->input_dur_ms = l->input_energy_j = 0;
    return 0;
}

static int wl__component_row(sqlite3_stmt *st, void *u)
{
    struct wl_store_aggregates *a = u;
    if (wl__grow((void **)&a->components, a->n_components, sizeof *a->components) != 0)
        return WL_ENOMEM;
    struct wl_agg_component *c = &a->components[a->n_components++];
    memset(c, 0, sizeof *c);
    c->layer = sqlite3_column_int(st, 0);
    c->component = sqlite3_column_int(st, 1);
    wl__col_copy(st, 2, c->name, sizeof c->name);
    c->n = sqlite3_column_int64(st, 3);
    c->dur_ms = wl__col_double(st, 4);
    c->energy_j = wl__col_double(st, 5);
    c->n_no_energy = sqlite3_column_int64(st, 6);
    return 0;
}

/* Rows of the layer (column 0) or (layer, component) (columns 0, 1) sums
 * over input tokens: columns n, dur, energy, rows without energy after the
 * key. The aggregates are ordered by the same keys, so a cursor finds
 * each. */
struct wl__input_split {
    struct wl_store_aggregates *a;
    bool components;
    size_t cursor;
};

static int wl__input_split_row(sqlite3_stmt *st, void *u)
{
    struct wl__input_split *x = u;
    const int layer = sqlite3_column_int(st, 0);
    const int comp = x->components ? sqlite3_column_int(st, 1) : 0;
    const int c = x->components ? 2 : 1;
    const size_t n = x->components ? x->a->n_components : x->a->n_layers;
    for (; x->cursor < n; x->cursor++) {
        int64_t *cnt, *no_e;
        double *dur, *e;
        if (x->components) {
            struct wl_agg_component *k = &x->a->components[x->cursor];
            if (k->layer != layer || k->component != comp)
                continue;
            cnt = &k->n_input, dur = &k->input_dur_ms, e = &k->input_energy_j;
            no_e = &k->n_input_no_energy;
        } else {
            struct wl_agg_layer *k = &x->a->layers[x->cursor];
            if (k->layer != layer)
                continue;
            cnt = &k->n_input, dur = &k->input_dur_ms, e = &k->input_energy_j;
            no_e = &k->n_input_no_energy;
        }
        *cnt = sqlite3_column_int64(st, c);
        *dur = wl__col_double(st, c + 1);
        *e = wl__col_double(st, c + 2);
        *no_e = sqlite3_column_int64(st, c + 3);
        return 0;
    }
    x->cursor = 0; /* a key the totals lack (a row written in between): skip it */
    return 0;
}

static int wl__token_row(sqlite3_stmt *st, void *u)
{
    struct wl_agg_tokens *t = u;
    bool input = sqlite3_column_int(st, 0) != 0;
    int64_t n = sqlite3_column_int64(st, 1);
    double e = wl__col_double(st, 2);
    int64_t no_e = sqlite3_column_int64(st, 5);
    if (input) {
        t->n_input = n;
        t->input_energy_j = e;
        t->n_input_no_energy = no_e;
    } else {
        t->n_output = n;
        t->output_energy_j = e;
        t->n_output_no_energy = no_e;
        t->first_output_end_ms = wl__col_double(st, 3);
        t->last_output_end_ms = wl__col_double(st, 4);
        t->n_generated = sqlite3_column_int64(st, 6);
    }
    return 0;
}

static int wl__output_token_row(sqlite3_stmt *st, void *u)
{
    struct wl_store_aggregates *a = u;
    if (wl__grow((void **)&a->output_tokens, a->n_output_tokens, sizeof *a->output_tokens) != 0)
        return WL_ENOMEM;
    struct wl_agg_token *t = &a->output_tokens[a->n_output_tokens++];
    t->index = sqlite3_column_int64(st, 0);
    t->end_ms = wl__col_double(st, 1);
    t->dur_ms = wl__col_double(st, 2);
    t->energy_j = wl__col_double(st, 3);
    t->n_seq = sqlite3_column_int(st, 4);
    return 0;
}

static int wl__sections_energy_row(sqlite3_stmt *st, void *u)
{
    struct wl_store_aggregates *a = u;
    a->sections_energy_j = wl__col_double(st, 0);
    a->has_sections_energy_j = !isnan(a->sections_energy_j);
    return 0;
}

static int wl__count_row(sqlite3_stmt *st, void *u)
{
    *(int64_t *)u = sqlite3_column_int64(st, 0);
    return 0;
}

/* The first (ORDER BY seq) or last (DESC) baseline sample: t_ms, then each
 * domain's cumulative energy. */
struct wl__baseline_end {
    struct wl_agg_baseline_samples *b;
    bool last;
};

static int wl__baseline_sample_row(sqlite3_stmt *st, void *u)
{
    struct wl__baseline_end *x = u;
    double *e = x->last ? x->b->last_j : x->b->first_j;
    if (x->last)
        x->b->last_t_ms = wl__col_double(st, 0);
    else
        x->b->first_t_ms = wl__col_double(st, 0);
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        e[d] = wl__col_double(st, 1 + d);
    return 0;
}

/* count(*), min(seq), max(seq) of the baseline samples. */
static int wl__baseline_range_row(sqlite3_stmt *st, void *u)
{
    int64_t *v = u;
    for (int i = 0; i < 3; i++)
        v[i] = sqlite3_column_int64(st, i);
    return 0;
}

/* The run's first and last baseline samples (wl_agg_baseline_samples): one
 * scan of its samples for their range, then each by its key. */
static int wl__baseline_samples(struct wl__db *d, int64_t pk, struct wl_agg_baseline_samples *b,
                                struct wl_errmsg *err)
{
    b->first_t_ms = b->last_t_ms = WL_STORE_UNSET;
    for (int i = 0; i < WL_DOMAIN_COUNT; i++)
        b->first_j[i] = b->last_j[i] = WL_STORE_UNSET;
    int64_t range[3] = {0, 0, 0};
    int rc = wl__query(d,
                       "SELECT count(*), min(seq), max(seq) FROM power_samples "
                       "WHERE run_id = ? AND phase = 'baseline'",
                       pk, wl__baseline_range_row, range, err);
    b->n = range[0];
    if (rc != 0 || b->n == 0)
        return rc;
    char sql[1024];
    for (int last = 0; last < 2 && rc == 0; last++) {
        int n = snprintf(sql, sizeof sql, "SELECT t_ms");
        for (int i = 0; i < WL_DOMAIN_COUNT; i++)
            n += snprintf(sql + n, sizeof sql - (size_t)n, ", %s_j", wl_domain_name(i));
        snprintf(sql + n, sizeof sql - (size_t)n,
                 " FROM power_samples WHERE run_id = ? AND seq = %lld", (long long)range[1 + last]);
        struct wl__baseline_end x = {b, last != 0};
        rc = wl__query(d, sql, pk, wl__baseline_sample_row, &x, err);
    }
    return rc;
}

/* The span of run ?1: its last token k, then k's end t (?2 = k), then the
 * rest of wl_agg_span in its order (?2 = k, ?3 = t); three statements, so
 * that k and t are bound values inside the scans */
static const char wl__span_k_sql[] = "SELECT " WL__SPAN_K("?1");
static const char wl__span_end_sql[] = "SELECT " WL__SPAN_END("?1", "?2");
/* clang-format off */
static const char wl__span_sql[] =
    "SELECT "
    WL__SPAN_SECTIONS_BEYOND("?1", "?2") ", "
    WL__SPAN_ROWS_BEYOND("?1", "?2") ", "
    WL__SPAN_ENERGY("?1", "?3") ", "
    WL__SPAN_DECODE("energy_j", "?1", "?2") ", "
    WL__SPAN_DECODE("dur_ms", "?1", "?2") ", "
    WL__SPAN_TOKENS("?1", "?2");
/* clang-format on */

/* Steps st (bound) to its one row; SQLITE_ROW, or the failure reported. */
static int wl__one_row(struct wl__db *d, sqlite3_stmt *st, struct wl_errmsg *err)
{
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        return 0;
    return wl__fail(d, s == SQLITE_DONE ? SQLITE_ERROR : s, err, "summarising a run");
}

/* The span of an unfinished run (wl_agg_span); last_token -1 otherwise. */
static int wl__span(struct wl__db *d, int64_t pk, struct wl_store_aggregates *out,
                    struct wl_errmsg *err)
{
    struct wl_agg_span *sp = &out->span;
    sp->last_token = -1;
    sp->energy_j = sp->decode_energy_j = sp->decode_dur_ms = WL_STORE_UNSET;
    const enum wl_run_status status = out->run.row.status;
    if (status != WL_RUN_RUNNING && status != WL_RUN_INCOMPLETE)
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = wl__prepare(d, wl__span_k_sql, &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pk);
    rc = wl__one_row(d, st, err);
    if (rc != 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
        goto done; /* no span: a table without decode rows that name their token */
    const int64_t k = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    rc = wl__prepare(d, wl__span_end_sql, &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pk);
    sqlite3_bind_int64(st, 2, k);
    rc = wl__one_row(d, st, err);
    if (rc != 0)
        goto done;
    const double t = wl__col_double(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    rc = wl__prepare(d, wl__span_sql, &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, pk);
    sqlite3_bind_int64(st, 2, k);
    wl__bind_double(st, 3, t);
    rc = wl__one_row(d, st, err);
    if (rc != 0)
        goto done;
    sp->last_token = k;
    sp->sections_beyond = sqlite3_column_int64(st, 0);
    sp->rows_beyond = sqlite3_column_int64(st, 1);
    sp->energy_j = wl__col_double(st, 2);
    sp->decode_energy_j = wl__col_double(st, 3);
    sp->decode_dur_ms = wl__col_double(st, 4);
    sp->n_generated = wl__col_int(st, 5, 0);
done:
    sqlite3_finalize(st);
    return rc;
}

static const char wl__sections_energy_sql[] = "SELECT " WL__SECTIONS_ENERGY("?");

static int wl__summary_queries(struct wl__db *d, const char *id, struct wl_store_aggregates *out,
                               struct wl_errmsg *err)
{
    int64_t pk = 0;
    int rc = wl__run_pk(d, id, &pk, err);
    if (rc != 0)
        return rc;
    rc = wl__read_detail(d, pk, &out->run, err);
    if (rc != 0)
        return rc;
    /* wl_agg_phase: the sections without energy (NULL or not finite: e)
     * counted and timed apart, each domain's energy where the phase's is
     * known, and the phase's energy where that domain's is not */
    char sql[4096];
    int n = snprintf(sql, sizeof sql,
                     "SELECT phase, count(*), min(start_ms), max(end_ms), sum(dur_ms), "
                     "sum(e), count(*) - count(e), sum(CASE WHEN e IS NULL THEN dur_ms END)");
    for (int i = 0; i < WL_DOMAIN_COUNT; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n,
                      ", sum(CASE WHEN e IS NOT NULL THEN %s_j END), "
                      "sum(CASE WHEN %s_j IS NULL THEN e END)",
                      wl_domain_name(i), wl_domain_name(i));
    snprintf(sql + n, sizeof sql - (size_t)n,
             " FROM (SELECT *, " WL__FINITE_ENERGY(
                 "energy_j") " AS e FROM sections "
                             "WHERE run_id = ?) GROUP BY phase ORDER BY min(start_ms), phase");
    rc = wl__query(d, sql, pk, wl__phase_row, out, err);
    if (rc == 0) /* the list's expression (WL__LIST_ENERGY) */
        rc = wl__query(d, wl__sections_energy_sql, pk, wl__sections_energy_row, out, err);
    if (rc == 0)
        rc = wl__query(d, "SELECT DISTINCT method FROM sections WHERE run_id = ?", pk,
                       wl__section_method_row, out, err);
    if (rc != 0)
        return rc;
    rc = wl__query(d,
                   "SELECT layer, count(*), sum(dur_ms), sum(energy_j), "
                   "count(*) - count(energy_j) FROM layer_metrics "
                   "WHERE run_id = ? GROUP BY layer ORDER BY layer",
                   pk, wl__layer_row, out, err);
    if (rc != 0)
        return rc;
    /* Finished runs have precomputed rows; others are aggregated now, and
     * so is a run with a layer whose rows are partly without energy (a
     * failed sensor read): component_agg sums the known energies but does
     * not count the others. A layer whose rows all lack energy has a NULL
     * sum there, and then all its n are counted. A forward pass's layer and
     * component rows lack energy together (profile.md), so its layer rows
     * tell. */
    bool mixed = false;
    for (size_t i = 0; i < out->n_layers; i++)
        mixed |= out->layers[i].n_no_energy > 0 && out->layers[i].n_no_energy < out->layers[i].n;
    if (!mixed)
        rc = wl__query(d,
                       "SELECT layer, component, name, n, dur_ms, energy_j, "
                       "CASE WHEN energy_j IS NULL THEN n ELSE 0 END FROM component_agg "
                       "WHERE run_id = ? ORDER BY layer, component",
                       pk, wl__component_row, out, err);
    if (rc == 0 && out->n_components == 0)
        rc = wl__query(d,
                       "SELECT layer, component, min(name), count(*), sum(dur_ms), sum(energy_j), "
                       "count(*) - count(energy_j) FROM component_metrics WHERE run_id = ? "
                       "GROUP BY layer, component ORDER BY layer, component",
                       pk, wl__component_row, out, err);
    if (rc != 0)
        return rc;
    /* The part of those rows stored under input tokens (prompt batches),
     * read from the input tokens down: a few rows per prompt batch (CROSS
     * JOIN keeps that order; SQLite would rather scan every row of the run,
     * which is what component_agg spares a finished deep run). */
    struct wl__input_split split = {out, false, 0};
    rc = wl__query(d,
                   "SELECT l.layer, count(*), sum(l.dur_ms), sum(l.energy_j), "
                   "count(*) - count(l.energy_j) FROM tokens t CROSS JOIN layer_metrics l "
                   "ON l.run_id = t.run_id AND l.token_idx = t.idx WHERE t.run_id = ? AND "
                   "t.is_input <> 0 GROUP BY l.layer ORDER BY l.layer",
                   pk, wl__input_split_row, &split, err);
    split = (struct wl__input_split){out, true, 0};
    if (rc == 0)
        rc =
            wl__query(d,
                      "SELECT c.layer, c.component, count(*), sum(c.dur_ms), sum(c.energy_j), "
                      "count(*) - count(c.energy_j) FROM tokens t CROSS JOIN component_metrics "
                      "c ON c.run_id = t.run_id AND c.token_idx = t.idx WHERE t.run_id = ? AND "
                      "t.is_input <> 0 GROUP BY c.layer, c.component ORDER BY c.layer, c.component",
                      pk, wl__input_split_row, &split, err);
    if (rc != 0)
        return rc;
    out->tokens.first_output_end_ms = WL_STORE_UNSET;
    out->tokens.last_output_end_ms = WL_STORE_UNSET;
    rc = wl__query(d,
                   "SELECT is_input, count(*), sum(energy_j), min(end_ms), max(end_ms), "
                   "count(*) - count(energy_j), sum(coalesce(n_seq, 1)) FROM tokens "
                   "WHERE run_id = ? GROUP BY is_input",
                   pk, wl__token_row, &out->tokens, err);
    if (rc != 0)
        return rc;
    rc = wl__query(d,
                   "SELECT idx, end_ms, dur_ms, energy_j, coalesce(n_seq, 1) FROM tokens "
                   "WHERE run_id = ? AND is_input = 0 ORDER BY idx",
                   pk, wl__output_token_row, out, err);
    if (rc != 0)
        return rc;
    rc = wl__query(d, "SELECT count(*) FROM power_samples WHERE run_id = ?", pk, wl__count_row,
                   &out->n_samples, err);
    if (rc == 0)
        rc = wl__baseline_samples(d, pk, &out->baseline_samples, err);
    if (rc != 0)
        return rc;
    return wl__span(d, pk, out, err);
}

int wl__sqlite_summary(void *db, const char *id, struct wl_store_aggregates *out,
                       struct wl_errmsg *err)
{
    struct wl__db *d = db;
    /* one read transaction, so that the dozen queries see one state of a
     * run being recorded (old: a batch committed between them could make,
     * say, more prompt passes than layer rows: negative decode steps). A
     * connection already in a transaction (a writer's batch) has one. */
    bool own = false;
    int rc = wl__read_txn_begin(d, &own, err, "reading a run");
    if (rc != 0)
        return rc;
    rc = wl__summary_queries(d, id, out, err);
    wl__read_txn_end(d, own);
    return rc;
}

int wl__sqlite_recorded_nothing(void *db, const char *id, bool *out, struct wl_errmsg *err)
{
    struct wl__db *d = db;
    int64_t pk = 0, nothing = 0;
    int rc = wl__run_pk(d, id, &pk, err);
    if (rc == 0)
        rc = wl__query(d, "SELECT " WL__RECORDED_NOTHING " FROM runs r WHERE r.id = ?", pk,
                       wl__count_row, &nothing, err);
    if (rc == 0)
        *out = nothing != 0;
    return rc;
}

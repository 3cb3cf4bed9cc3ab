/* The store tests' fixture and helpers; see store_fixture.h. */
#include "store_fixture.h"

#include "test_support.h"

#include "wattlens/error.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

wl_store *wl_test_store_open(const char *path)
{
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    wl_store *s = NULL;
    struct wl_errmsg e = {{0}};
    int rc = wl_store_open(&p, &s, &e);
    if (rc != 0)
        fail_msg("open %s: %s (%s)", path, wl_strerror(rc), e.text);
    return s;
}

int wl_test_store_setup(void **state)
{
    struct wl_test_store_fixture *f = calloc(1, sizeof *f);
    f->dir = wl_test_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/sub/dir/w.db", f->dir);
    f->s = wl_test_store_open(f->path);
    *state = f;
    return 0;
}

int wl_test_store_teardown(void **state)
{
    struct wl_test_store_fixture *f = *state;
    wl_store_close(f->s);
    wl_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

struct wl_run_totals wl_test_totals(enum wl_run_status status, double duration_ms, double energy_j,
                                    enum wl_method method)
{
    struct wl_run_totals t = {.status = status,
                              .duration_ms = duration_ms,
                              .energy_j = energy_j,
                              .energy_method = method,
                              .input_tokens = -1,
                              .output_tokens = -1,
                              .sample_count = -1,
                              .sample_rate_hz = WL_STORE_UNSET};
    return t;
}

void wl_test_store_add_tokens(wl_store_run *r, int first, int n, int n_in, double energy_j,
                              enum wl_method method)
{
    for (int i = first; i < first + n; i++) {
        struct wl_store_token t = {.index = i,
                                   .text = "t",
                                   .is_input = i < n_in,
                                   .start_ms = 10.0 * i,
                                   .end_ms = 10.0 * i + 10,
                                   .energy_j = energy_j,
                                   .method = method,
                                   .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &t), 0);
    }
}

void wl_test_store_add_baseline_samples(wl_store_run *r, int n)
{
    for (int i = 0; i < n; i++) {
        struct wl_store_sample smp = {.t_ms = 100.0 * i,
                                      .phase = "baseline",
                                      .domain_mask = 1u << WL_DOMAIN_PACKAGE,
                                      .method_flags = 1u << WL_METHOD_COUNTER};
        smp.power_w[WL_DOMAIN_PACKAGE] = 10;
        smp.energy_j[WL_DOMAIN_PACKAGE] = 1.0 * i;
        assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
    }
}

void wl_test_store_make_unrecorded_run(wl_store *s, int n_samples, bool with_section, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "cancelled"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    if (with_section) {
        struct wl_store_section base = {.phase = "baseline",
                                        .name = "idle",
                                        .token_index = -1,
                                        .start_ms = 0,
                                        .end_ms = 300,
                                        .energy_j = 3,
                                        .method = WL_METHOD_MODEL_ESTIMATE};
        assert_int_equal(wl_store_add_section(r, &base), 0);
    }
    wl_test_store_add_baseline_samples(r, n_samples);
    struct wl_store_domain dom = {.domain = WL_DOMAIN_PACKAGE,
                                  .method = WL_METHOD_MODEL_ESTIMATE,
                                  .source = "cpu-model",
                                  .energy_j = 0,
                                  .avg_power_w = WL_STORE_UNSET,
                                  .baseline_power_w = WL_STORE_UNSET,
                                  .peak_power_w = WL_STORE_UNSET,
                                  .peak_t_ms = WL_STORE_UNSET};
    struct wl_run_totals tot = wl_test_totals(WL_RUN_CANCELLED, 0, 0, WL_METHOD_MODEL_ESTIMATE);
    tot.input_tokens = 0;
    tot.output_tokens = 0;
    tot.domains = &dom;
    tot.n_domains = 1;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

void wl_test_store_make_run(wl_store *s, const struct wl_test_run_spec *sp, char *id)
{
    struct wl_run_info info = {0};
    info.kind = sp->n_in + sp->n_out > 0 ? WL_RUN_KIND_INFERENCE : WL_RUN_KIND_MEASURE;
    info.created_at_ms = sp->created_at_ms;
    info.model_name = sp->model;
    info.experiment = sp->experiment;
    info.prompt = sp->prompt;
    info.command = sp->command;
    size_t nt = 0;
    while (nt < 3 && sp->tags[nt])
        nt++;
    info.tags = sp->tags;
    info.n_tags = nt;
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    wl_test_store_add_tokens(r, 0, sp->n_in + sp->n_out, sp->n_in, 1.0, WL_METHOD_COUNTER);
    struct wl_run_totals tot = wl_test_totals(sp->status ? sp->status : WL_RUN_COMPLETE,
                                              sp->duration_ms, sp->energy_j, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

int64_t wl_test_store_raw_count(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

double wl_test_store_raw_double(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    double v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

void wl_test_store_raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

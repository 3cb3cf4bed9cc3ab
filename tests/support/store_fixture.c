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
    for (int i = 0; i < sp->n_in + sp->n_out; i++) {
        struct wl_store_token t = {.index = i,
                                   .text = "tok",
                                   .is_input = i < sp->n_in,
                                   .start_ms = 10.0 * i,
                                   .end_ms = 10.0 * i + 10,
                                   .energy_j = 1.0,
                                   .method = WL_METHOD_COUNTER,
                                   .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &t), 0);
    }
    struct wl_run_totals tot = {.status = sp->status ? sp->status : WL_RUN_COMPLETE,
                                .duration_ms = sp->duration_ms,
                                .energy_j = sp->energy_j,
                                .energy_method = WL_METHOD_COUNTER,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

int64_t wl_test_store_raw_count(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[128];
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

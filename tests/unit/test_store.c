/* store/: opening, migrations, writing a run, every query (filters,
 * pagination, sorts, id prefixes, rows), cascade delete, retention, a
 * SIGKILLed writer, Unicode caseless search, bad input (not a database,
 * read-only directory, locked database, newer schema), and reading a
 * database in a directory this user cannot write (with and without a
 * write-ahead log).
 */
#include "test_support.h"

#include "store/sqlite_schema.h"
#include "store/store.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DAY_MS (86400LL * 1000)
#define T0_MS 1700000000000LL /* 2023-11-14T22:13:20Z */

struct fixture {
    char *dir;
    char path[4096];
    wl_store *s;
};

static wl_store *open_at(const char *path)
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

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = wl_test_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/sub/dir/w.db", f->dir);
    f->s = open_at(f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wl_store_close(f->s);
    wl_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

struct run_spec {
    int64_t created_at_ms;
    const char *model, *experiment, *prompt, *command;
    const char *tags[3];
    double duration_ms, energy_j;
    int n_in, n_out; /* tokens written as rows; 0/0 = a measure run */
    enum wl_run_status status;
};

/* Writes a small run (tokens with one layer each) and finishes it. */
static void make_run(wl_store *s, const struct run_spec *sp, char *id)
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

static void test_open_creates_directories_and_reopens(void **state)
{
    struct fixture *f = *state;
    struct wl_store_stats st;
    assert_int_equal(wl_store_stats(f->s, &st), 0);
    assert_int_equal(st.schema_version, WL_STORE_SCHEMA_VERSION);
    assert_int_equal(st.runs, 0);
    char id[37];
    struct run_spec sp = {.created_at_ms = T0_MS, .model = "m", .duration_ms = 5, .energy_j = 2};
    make_run(f->s, &sp, id);
    wl_store_close(f->s);
    f->s = open_at(f->path);
    assert_int_equal(wl_store_stats(f->s, &st), 0);
    assert_int_equal(st.runs, 1);
    assert_true(st.file_bytes > 0);
    char full[37];
    assert_int_equal(wl_store_resolve_id(f->s, id, full), 0);
    assert_string_equal(full, id);
}

static void test_read_only_and_no_create_modes(void **state)
{
    struct fixture *f = *state;
    char id[37];
    struct run_spec sp = {.created_at_ms = T0_MS, .model = "m", .duration_ms = 5, .energy_j = 2};
    make_run(f->s, &sp, id);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.read_only = true;
    wl_store *ro = NULL;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &ro, &e), 0);
    assert_string_equal(wl_store_path(ro), f->path);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(ro, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 1);
    wl_run_list_free(&l);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(ro, &info, &r, id), WL_EACCES);
    wl_store_close(ro);

    char missing[4200];
    snprintf(missing, sizeof missing, "%s/missing.db", f->dir);
    p.path = missing;
    p.read_only = false;
    p.no_create = true;
    assert_int_equal(wl_store_open(&p, &ro, &e), WL_ENOENT);
    assert_non_null(strstr(e.text, missing));
    assert_int_equal(access(missing, F_OK), -1); /* not created */
}

static void test_migrates_an_empty_file(void **state)
{
    struct fixture *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/empty.db", f->dir);
    assert_int_equal(wl_test_write_file(path, "", 0), 0);
    wl_store *s = open_at(path);
    struct wl_store_stats st;
    assert_int_equal(wl_store_stats(s, &st), 0);
    assert_int_equal(st.schema_version, WL_STORE_SCHEMA_VERSION);
    wl_store_close(s);
}

/* A reader (read_only, or no_create as runs/show/export/rm/gc open) never
 * initialises an empty file: a 0-byte file or an SQLite file without tables
 * is WL_ENOENT ("not a wattlens database yet") and stays byte for byte as it
 * was, with no -wal, -shm or -journal beside it. */
static void test_readers_leave_an_empty_file_alone(void **state)
{
    struct fixture *f = *state;
    char empty[4200], bare[4200], side[4300];
    snprintf(empty, sizeof empty, "%s/empty.db", f->dir);
    snprintf(bare, sizeof bare, "%s/bare.db", f->dir);
    assert_int_equal(wl_test_write_file(empty, "", 0), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(bare, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE x (a); DROP TABLE x", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    size_t bare_n = 0;
    char *bare_before = wl_test_read_file(bare, &bare_n);
    assert_true(bare_n > 0);
    const char *paths[] = {empty, bare};
    for (int mode = 0; mode < 2; mode++) {
        for (int i = 0; i < 2; i++) {
            struct wl_store_params p;
            wl_store_default_params(&p);
            p.path = paths[i];
            p.read_only = mode == 0;
            p.no_create = mode == 1;
            wl_store *s = NULL;
            struct wl_errmsg e = {{0}};
            assert_int_equal(wl_store_open(&p, &s, &e), WL_ENOENT);
            assert_null(s);
            assert_non_null(strstr(e.text, paths[i]));
            assert_non_null(strstr(e.text, i == 0 ? "an empty file" : "without tables"));
            assert_non_null(strstr(e.text, "not a wattlens database yet"));
            static const char *const suffix[] = {"-wal", "-shm", "-journal"};
            for (int k = 0; k < 3; k++) {
                snprintf(side, sizeof side, "%s%s", paths[i], suffix[k]);
                assert_int_equal(access(side, F_OK), -1);
            }
        }
    }
    size_t n = 1;
    char *after = wl_test_read_file(empty, &n);
    assert_int_equal(n, 0);
    free(after);
    after = wl_test_read_file(bare, &n);
    assert_int_equal(n, bare_n);
    assert_memory_equal(after, bare_before, n);
    free(after);
    free(bare_before);
}

/* A version-1 file (the schema before batched runs), built with migration 1
 * alone and one finished single-sequence run written with its columns,
 * opens: it is migrated to the current version and its run reads as a
 * single-sequence run (n_seq 1, every output row one token). */
static void test_migrates_a_version_1_database(void **state)
{
    struct fixture *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/v1.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, wl__sqlite_migrations[0], NULL, NULL, NULL), SQLITE_OK);
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA user_version = 1; PRAGMA application_id = %d",
             WL__SQLITE_APP_ID);
    assert_int_equal(sqlite3_exec(db, pragmas, NULL, NULL, NULL), SQLITE_OK);
    const char *rows =
        "INSERT INTO runs (id, uuid, created_at_ms, status, kind, batch_size, duration_ms, "
        " energy_j, energy_method, input_tokens, output_tokens) VALUES (1, "
        " '00000000-0000-4000-8000-000000000001', 1700000000000, 'complete', 'inference', 64, "
        " 40, 4, 'counter', 2, 2);"
        "INSERT INTO tokens (run_id, idx, is_input, start_ms, end_ms, dur_ms, energy_j, edp_js)"
        " VALUES (1, 0, 1, NULL, NULL, NULL, 1, NULL), (1, 1, 1, NULL, NULL, NULL, 1, NULL),"
        " (1, 2, 0, 10, 20, 10, 1, 0.01), (1, 3, 0, 20, 30, 10, 1, 0.01);";
    assert_int_equal(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    wl_store *s = open_at(path);
    struct wl_store_stats st;
    assert_int_equal(wl_store_stats(s, &st), 0);
    assert_int_equal(st.schema_version, WL_STORE_SCHEMA_VERSION);
    assert_int_equal(st.runs, 1);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(s, "00000000-0000-4000-8000-000000000001", &a), 0);
    assert_int_equal(a.run.n_seq, 1);
    assert_int_equal(a.run.batch_size, 64);
    assert_int_equal(a.tokens.n_output, 2);
    assert_int_equal(a.tokens.n_generated, 2);
    assert_int_equal(a.n_output_tokens, 2);
    assert_int_equal(a.output_tokens[0].n_seq, 1);
    wl_store_aggregates_free(&a);
    /* and it takes new (batched) runs */
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .n_seq = 3};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_token t = {.index = 0, .start_ms = 0, .end_ms = 5, .energy_j = 3,
                               .method = WL_METHOD_COUNTER, .power_w = WL_STORE_UNSET,
                               .n_seq = 3};
    assert_int_equal(wl_store_add_token(r, &t), 0);
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE, .duration_ms = 5, .energy_j = 3,
                                .input_tokens = -1, .output_tokens = -1,
                                .kv_cache_bytes = -1, .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    assert_int_equal(wl_store_summary(s, id, &a), 0);
    assert_int_equal(a.run.n_seq, 3);
    assert_int_equal(a.run.row.output_tokens, 3); /* counted per sequence */
    assert_int_equal(a.tokens.n_output, 1);
    assert_int_equal(a.tokens.n_generated, 3);
    assert_int_equal(a.output_tokens[0].n_seq, 3);
    wl_store_aggregates_free(&a);
    wl_store_close(s);
}

static void test_default_path_order(void **state)
{
    (void)state;
    char buf[4096];
    char *old_db = getenv("WATTLENS_DB") ? strdup(getenv("WATTLENS_DB")) : NULL;
    char *old_xdg = getenv("XDG_DATA_HOME") ? strdup(getenv("XDG_DATA_HOME")) : NULL;
    setenv("WATTLENS_DB", "/x/y.db", 1);
    setenv("XDG_DATA_HOME", "/data", 1);
    assert_int_equal(wl_store_default_path(buf, sizeof buf), 0);
    assert_string_equal(buf, "/x/y.db");
    unsetenv("WATTLENS_DB");
    assert_int_equal(wl_store_default_path(buf, sizeof buf), 0);
    assert_string_equal(buf, "/data/wattlens/wattlens.db");
    unsetenv("XDG_DATA_HOME");
    assert_int_equal(wl_store_default_path(buf, sizeof buf), 0);
    char want[4096];
    snprintf(want, sizeof want, "%s/.local/share/wattlens/wattlens.db", getenv("HOME"));
    assert_string_equal(buf, want);
    assert_int_equal(wl_store_default_path(buf, 5), WL_ERANGE);
    if (old_db)
        setenv("WATTLENS_DB", old_db, 1);
    if (old_xdg)
        setenv("XDG_DATA_HOME", old_xdg, 1);
    free(old_db);
    free(old_xdg);
}

/* Five runs with distinct attributes, created a day apart (ids[0] oldest). */
static void make_five(wl_store *s, char ids[5][37])
{
    const struct run_spec specs[5] = {
        {T0_MS + 0 * DAY_MS,
         "llama-7b",
         "exp-a",
         "Tell me about Paris",
         NULL,
         {"cpu", "q4"},
         100,
         50,
         4,
         10,
         0},
        {T0_MS + 1 * DAY_MS,
         "llama-7b",
         "exp-b",
         "What is energy?",
         NULL,
         {"gpu"},
         300,
         20,
         4,
         2,
         0},
        {T0_MS + 2 * DAY_MS,
         "phi3-mini",
         "exp-a",
         "PARIS in spring",
         NULL,
         {"cpu"},
         200,
         40,
         2,
         40,
         0},
        {T0_MS + 3 * DAY_MS, NULL, NULL, NULL, "sleep 1", {NULL}, 50, 10, 0, 0, 0},
        {T0_MS + 4 * DAY_MS, "qwen2", "exp-b", "hello", NULL, {"q4"}, 400, 30, 3, 0, WL_RUN_FAILED},
    };
    for (int i = 0; i < 5; i++)
        make_run(s, &specs[i], ids[i]);
}

static void expect_ids(const struct wl_run_list *l, char ids[5][37], const int *want, size_t n)
{
    assert_int_equal(l->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->rows[i].id, ids[want[i]]);
}

static void test_list_filters(void **state)
{
    struct fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    struct wl_run_list l;
    struct wl_store_filter flt = {0};

    flt.model = "LLAMA";
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){1, 0}, 2);
    assert_int_equal(l.total, 2);
    wl_run_list_free(&l);

    memset(&flt, 0, sizeof flt);
    flt.model = "sleep"; /* a measure run is found by its command */
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){3}, 1);
    assert_null(l.rows[0].model_name);
    assert_string_equal(l.rows[0].command, "sleep 1");
    assert_int_equal(l.rows[0].kind, WL_RUN_KIND_MEASURE);
    wl_run_list_free(&l);

    memset(&flt, 0, sizeof flt);
    flt.tag = "q4";
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){4, 0}, 2);
    assert_string_equal(l.rows[1].tags, "cpu,q4");
    assert_int_equal(l.rows[0].status, WL_RUN_FAILED);
    wl_run_list_free(&l);

    memset(&flt, 0, sizeof flt);
    flt.experiment = "exp-a";
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){2, 0}, 2);
    wl_run_list_free(&l);

    memset(&flt, 0, sizeof flt);
    flt.has_since = flt.has_until = true;
    flt.since_ms = T0_MS + 1 * DAY_MS; /* inclusive */
    flt.until_ms = T0_MS + 3 * DAY_MS; /* exclusive */
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){2, 1}, 2);
    wl_run_list_free(&l);

    /* a bound at or before 1970 is a bound like any other, not "none" */
    static const int64_t early_ms[] = {0, -1, -DAY_MS, INT64_MIN};
    for (size_t i = 0; i < sizeof early_ms / sizeof early_ms[0]; i++) {
        memset(&flt, 0, sizeof flt);
        flt.has_until = true;
        flt.until_ms = early_ms[i];
        assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
        assert_int_equal(l.total, 0);
        wl_run_list_free(&l);
        flt = (struct wl_store_filter){.has_since = true, .since_ms = early_ms[i]};
        assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
        assert_int_equal(l.total, 5);
        wl_run_list_free(&l);
    }
    /* a time without its flag is no bound */
    flt = (struct wl_store_filter){.until_ms = T0_MS};
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.total, 5);
    wl_run_list_free(&l);

    /* "" filters like any string: no run has an empty tag or experiment */
    flt = (struct wl_store_filter){.experiment = ""};
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.total, 0);
    wl_run_list_free(&l);
    flt = (struct wl_store_filter){.tag = ""};
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.total, 0);
    wl_run_list_free(&l);

    memset(&flt, 0, sizeof flt);
    flt.search = "paris"; /* case-insensitive substring of the prompt */
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){2, 0}, 2);
    wl_run_list_free(&l);

    flt.experiment = "exp-a";
    flt.tag = "q4";
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){0}, 1);
    wl_run_list_free(&l);

    memset(&flt, 0, sizeof flt);
    flt.search = "%"; /* no LIKE wildcards leak through */
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.total, 0);
    wl_run_list_free(&l);
}

static void expect_search(wl_store *s, const char *model, const char *search, char ids[][37],
                          const int *want, size_t n)
{
    struct wl_store_filter flt = {.model = model, .search = search};
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.total, n);
    assert_int_equal(l.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l.rows[i].id, ids[want[i]]);
    wl_run_list_free(&l);
}

static void test_search_is_caseless_for_unicode(void **state)
{
    struct fixture *f = *state;
    static const char *const prompts[] = {
        "Une école à Paris",
        "Die STRASSE",
        "eine Straße",
        "\xff\xfe\u00c9COLE brute",         /* invalid UTF-8, then "ÉCOLE" */
        "E\u0301cole d\u00e9compos\u00e9e", /* "É" as E + combining acute */
    };
    char ids[5][37];
    for (int i = 0; i < 5; i++) {
        struct run_spec sp = {.created_at_ms = T0_MS + i * DAY_MS,
                              .model = i == 0 ? "Ærø-7B" : "llama",
                              .prompt = prompts[i],
                              .duration_ms = 1,
                              .energy_j = 1};
        make_run(f->s, &sp, ids[i]);
    }
    /* newest first */
    expect_search(f->s, NULL, "ÉCOLE", ids, (int[]){4, 3, 0}, 3);
    expect_search(f->s, NULL, "e\u0301cole", ids, (int[]){4, 3, 0}, 3);
    expect_search(f->s, NULL, "straße", ids, (int[]){2, 1}, 2);
    expect_search(f->s, NULL, "STRASSE", ids, (int[]){2, 1}, 2);
    expect_search(f->s, NULL, "STRA\u1e9eE", ids, (int[]){2, 1}, 2); /* capital sharp s */
    expect_search(f->s, NULL, "paris", ids, (int[]){0}, 1);
    expect_search(f->s, "ÆRØ", NULL, ids, (int[]){0}, 1); /* the model filter too */
    /* Invalid UTF-8 is matched byte for byte, and the text after it is
     * still folded: neither side errors. */
    expect_search(f->s, NULL, "\xff", ids, (int[]){3}, 1);
    expect_search(f->s, NULL, "\xfe\u00e9col", ids, (int[]){3}, 1);
    expect_search(f->s, NULL, "\xfe\xff", ids, NULL, 0);
}

/* A byte that is not valid UTF-8 matches the same byte wherever it is (at
 * the start of the search, after an unfinished character), and never the
 * same byte inside a valid character. */
static void test_search_matches_invalid_bytes_as_bytes(void **state)
{
    struct fixture *f = *state;
    static const char *const prompts[] = {
        "x\x80"
        "abc",            /* a stray continuation byte after ASCII */
        "\xE2\x80 tail",  /* the first two bytes of a character, then a space */
        "caf\xC3\xA9",    /* é is C3 A9 */
        "5 \xE2\x82\xAC", /* € is E2 82 AC */
        "\xC3 alone",     /* a lead byte without its continuation */
    };
    char ids[5][37];
    for (int i = 0; i < 5; i++) {
        struct run_spec sp = {.created_at_ms = T0_MS + i * DAY_MS,
                              .model = i == 0 ? "m\x80x" : "llama",
                              .prompt = prompts[i],
                              .duration_ms = 1,
                              .energy_j = 1};
        make_run(f->s, &sp, ids[i]);
    }
    /* newest first */
    expect_search(f->s, NULL,
                  "\x80"
                  "abc",
                  ids, (int[]){0}, 1);
    expect_search(f->s, NULL,
                  "\x80"
                  "ABC",
                  ids, (int[]){0}, 1); /* still caseless after it */
    expect_search(f->s, NULL, "\x80", ids, (int[]){1, 0}, 2);
    expect_search(f->s, NULL, "\x80 TAIL", ids, (int[]){1}, 1);
    expect_search(f->s, NULL, "\xE2\x80", ids, (int[]){1}, 1);
    expect_search(f->s, NULL, "\xE2", ids, (int[]){1}, 1);     /* not the € */
    expect_search(f->s, NULL, "\xC3", ids, (int[]){4}, 1);     /* not the é */
    expect_search(f->s, NULL, "\xA9", ids, NULL, 0);           /* part of é */
    expect_search(f->s, NULL, "\xC3\xA9", ids, (int[]){2}, 1); /* é itself */
    expect_search(f->s, "\x80X", NULL, ids, (int[]){0}, 1);    /* the model filter too */
}

static void test_pagination_edges(void **state)
{
    struct fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 2, 0, &l), 0);
    expect_ids(&l, ids, (int[]){4, 3}, 2);
    assert_int_equal(l.total, 5);
    wl_run_list_free(&l);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 2, 4, &l), 0);
    expect_ids(&l, ids, (int[]){0}, 1); /* last page is short */
    assert_int_equal(l.total, 5);
    wl_run_list_free(&l);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 2, 5, &l), 0);
    assert_int_equal(l.n, 0); /* past the end: empty page, total still known */
    assert_int_equal(l.total, 5);
    wl_run_list_free(&l);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 3, &l), 0);
    expect_ids(&l, ids, (int[]){1, 0}, 2); /* no limit */
    wl_run_list_free(&l);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, -1, 0, &l), WL_EINVAL);
}

static void test_sorts(void **state)
{
    struct fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DURATION, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){4, 1, 2, 0, 3}, 5);
    wl_run_list_free(&l);
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_ENERGY, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){0, 2, 4, 1, 3}, 5);
    wl_run_list_free(&l);
    /* J/token = energy / output tokens: 5, 10, 1; runs 3 (measure) and 4 (no
     * output tokens) have none and come last, newest first. */
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_JPT, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){2, 0, 1, 4, 3}, 5);
    assert_float_equal(l.rows[0].j_per_token, 1.0, 1e-12);
    assert_float_equal(l.rows[1].j_per_token, 5.0, 1e-12);
    assert_true(isnan(l.rows[3].j_per_token));
    assert_int_equal(l.rows[1].input_tokens, 4);
    assert_int_equal(l.rows[1].output_tokens, 10);
    assert_int_equal(l.rows[4].output_tokens, -1);
    wl_run_list_free(&l);
    enum wl_store_sort so;
    assert_int_equal(wl_store_sort_parse("jpt", &so), 0);
    assert_int_equal(so, WL_SORT_JPT);
    assert_int_equal(wl_store_sort_parse("size", &so), WL_EINVAL);
}

/* Starts a run and leaves it unfinished (running, no totals) after writing
 * sections [start, end) with energy and method, then tokens: n_in input
 * rows, then output rows holding the n_seq of out_seq (0-terminated). */
struct open_section {
    double start_ms, end_ms, energy_j;
    enum wl_method method;
};

static void make_unfinished(wl_store *s, const struct open_section *secs, size_t n_secs, int n_in,
                            const int32_t *out_seq, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "open"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    for (size_t i = 0; i < n_secs; i++) {
        struct wl_store_section sec = {.phase = "decode",
                                       .name = "token",
                                       .token_index = -1,
                                       .start_ms = secs[i].start_ms,
                                       .end_ms = secs[i].end_ms,
                                       .energy_j = secs[i].energy_j,
                                       .method = secs[i].method};
        assert_int_equal(wl_store_add_section(r, &sec), 0);
    }
    int64_t idx = 0;
    for (int i = 0; i < n_in; i++, idx++) {
        struct wl_store_token t = {.index = idx,
                                   .is_input = true,
                                   .start_ms = WL_STORE_UNSET,
                                   .end_ms = WL_STORE_UNSET,
                                   .energy_j = 0.1,
                                   .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &t), 0);
    }
    for (int i = 0; out_seq && out_seq[i]; i++, idx++) {
        struct wl_store_token t = {.index = idx,
                                   .start_ms = idx,
                                   .end_ms = idx + 1.0,
                                   .energy_j = 0.1,
                                   .power_w = WL_STORE_UNSET,
                                   .n_seq = out_seq[i]};
        assert_int_equal(wl_store_add_token(r, &t), 0);
    }
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r);
}

/* A run that never finished has no totals: the list adds up what it saved
 * (duration from the sections' span, energy their sum with the weakest of
 * their methods, tokens from the rows, per sequence) and marks it partial;
 * with nothing saved, every figure stays unknown. */
static void test_an_unfinished_run_is_listed_from_its_rows(void **state)
{
    struct fixture *f = *state;
    char mixed[37], attributed[37], empty[37];
    const struct open_section secs[] = {
        {10, 20, 1.0, WL_METHOD_COUNTER},
        {20, 40, 2.0, WL_METHOD_SAMPLED},
        {40, 50, 0.5, WL_METHOD_ATTRIBUTED},
    };
    make_unfinished(f->s, secs, 3, 2, (const int32_t[]){1, 2, 1, 0}, mixed);
    make_unfinished(f->s, &secs[2], 1, 0, NULL, attributed);
    make_unfinished(f->s, NULL, 0, 0, NULL, empty);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 3);
    const struct wl_run_row *e = &l.rows[0], *a = &l.rows[1], *m = &l.rows[2];
    assert_string_equal(m->id, mixed);
    assert_true(m->partial);
    assert_float_equal(m->duration_ms, 40, 1e-12);
    assert_float_equal(m->energy_j, 3.5, 1e-12);
    assert_true(m->has_energy_method);
    assert_int_equal(m->energy_method, WL_METHOD_SAMPLED); /* counter < sampled; not attributed */
    assert_int_equal(m->input_tokens, 2);
    assert_int_equal(m->output_tokens, 4); /* 1 + 2 + 1 sequences' tokens */
    assert_float_equal(m->j_per_token, 3.5 / 4, 1e-12);
    assert_string_equal(a->id, attributed);
    assert_int_equal(a->energy_method, WL_METHOD_ATTRIBUTED); /* nothing else behind it */
    assert_int_equal(a->output_tokens, -1);                   /* no token saved: unknown */
    assert_true(isnan(a->j_per_token));
    assert_string_equal(e->id, empty);
    assert_true(e->partial);
    assert_true(isnan(e->duration_ms) && isnan(e->energy_j) && isnan(e->j_per_token));
    assert_false(e->has_energy_method);
    assert_int_equal(e->input_tokens, -1);
    wl_run_list_free(&l);

    enum wl_method w = WL_METHOD_COUNT;
    assert_false(wl_store_weakest_method(0, &w));
    assert_int_equal(w, WL_METHOD_COUNT);
    assert_true(wl_store_weakest_method(
        (1u << WL_METHOD_COUNTER) | (1u << WL_METHOD_MODEL_ESTIMATE) | (1u << WL_METHOD_ATTRIBUTED),
        &w));
    assert_int_equal(w, WL_METHOD_MODEL_ESTIMATE);
}

static void test_resolve_id_prefixes(void **state)
{
    struct fixture *f = *state;
    char id[37], got[37];
    struct run_spec sp = {.created_at_ms = T0_MS, .duration_ms = 1, .energy_j = 1};
    make_run(f->s, &sp, id);
    char prefix[9];
    memcpy(prefix, id, 8);
    prefix[8] = '\0';
    assert_int_equal(wl_store_resolve_id(f->s, prefix, got), 0);
    assert_string_equal(got, id);
    assert_int_equal(wl_store_resolve_id(f->s, "abc", got), WL_EINVAL); /* too short */
    assert_non_null(strstr(wl_store_last_error(f->s), "at least its first 4 characters"));
    assert_int_equal(wl_store_resolve_id(f->s, "XYZW", got), WL_EINVAL);
    assert_non_null(strstr(wl_store_last_error(f->s), "not a run id"));
    /* the full id and one more character: not a run id, not "too short" */
    char longer[40];
    snprintf(longer, sizeof longer, "%sX", id);
    assert_int_equal(wl_store_resolve_id(f->s, longer, got), WL_EINVAL);
    assert_non_null(strstr(wl_store_last_error(f->s), "not a run id (37 characters"));
    assert_null(strstr(wl_store_last_error(f->s), "first 4"));
    snprintf(longer, sizeof longer, "%s0", id); /* hex, still too long */
    assert_int_equal(wl_store_resolve_id(f->s, longer, got), WL_EINVAL);
    assert_non_null(strstr(wl_store_last_error(f->s), "a full id has 36"));
    assert_int_equal(wl_store_resolve_id(f->s, "ab-X", got), WL_EINVAL); /* bad, not short */
    assert_non_null(strstr(wl_store_last_error(f->s), "lowercase hex"));
    const char *other = id[0] == '0' ? "1111" : "0000";
    assert_int_equal(wl_store_resolve_id(f->s, other, got), WL_ENOENT);
    assert_non_null(strstr(wl_store_last_error(f->s), "no run"));
}

/* A run with every level of the hierarchy: 2 tokens x 2 layers x 2
 * components x 2 ops, samples, sections, domains and tags. */
static void make_deep(wl_store *s, char *id)
{
    const char *tags[] = {"deep"};
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .model_name = "tiny",
                               .prompt = "hi",
                               .tags = tags,
                               .n_tags = 1,
                               .depth = "deep"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_sample smp = {.t_ms = 1,
                                  .phase = "prefill",
                                  .domain_mask = 1u << WL_DOMAIN_PACKAGE,
                                  .method_flags = 1u << WL_METHOD_COUNTER};
    smp.power_w[WL_DOMAIN_PACKAGE] = 10;
    smp.energy_j[WL_DOMAIN_PACKAGE] = 0.01;
    assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
    struct wl_store_section sec = {.phase = "prefill",
                                   .name = "layers",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 4,
                                   .energy_j = 0.04};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    float heads[2] = {0.5f, 0.25f};
    for (int t = 0; t < 2; t++) {
        struct wl_store_token tok = {.index = t,
                                     .text = "x",
                                     .is_input = t == 0,
                                     .start_ms = t,
                                     .end_ms = t + 1,
                                     .energy_j = 0.5,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
        for (int l = 0; l < 2; l++) {
            struct wl_store_layer_metric lm = {t, l, 0.4, 0.2};
            assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
            for (int c = 0; c < 2; c++) {
                struct wl_store_component_metric cm = {.token_index = t,
                                                       .layer = l,
                                                       .component = c,
                                                       .name = c ? "ffn" : "attn",
                                                       .dur_ms = 0.2,
                                                       .energy_j = 0.1,
                                                       .act_mean_abs = WL_STORE_UNSET,
                                                       .act_std = WL_STORE_UNSET,
                                                       .act_max_abs = WL_STORE_UNSET,
                                                       .act_sparsity = WL_STORE_UNSET};
                assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
                for (int o = 0; o < 2; o++) {
                    struct wl_store_op_metric om = {.token_index = t,
                                                    .layer = l,
                                                    .component = c,
                                                    .op = o,
                                                    .name = "softmax",
                                                    .dur_ms = 0.1,
                                                    .energy_j = 0.05,
                                                    .n_heads = 2,
                                                    .head_entropy = heads,
                                                    .entropy = 0.375,
                                                    .max_weight = WL_STORE_UNSET,
                                                    .sparsity = WL_STORE_UNSET,
                                                    .kill_ratio = WL_STORE_UNSET,
                                                    .var_ratio = WL_STORE_UNSET};
                    assert_int_equal(wl_store_add_op_metric(r, &om), 0);
                }
            }
        }
    }
    struct wl_store_domain dom = {.domain = WL_DOMAIN_PACKAGE,
                                  .method = WL_METHOD_COUNTER,
                                  .source = "fake",
                                  .energy_j = 1.0,
                                  .avg_power_w = 10,
                                  .baseline_power_w = 2,
                                  .peak_power_w = 12,
                                  .peak_t_ms = 3};
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 100,
                                .energy_j = 1.0,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = 10,
                                .domains = &dom,
                                .n_domains = 1};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

static int64_t raw_count(const char *path, const char *table)
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

static const char *const all_tables[] = {
    "runs",   "run_tags",      "run_domains",       "power_samples", "sections",
    "tokens", "layer_metrics", "component_metrics", "op_metrics",    "component_agg",
};
static const int64_t deep_rows[] = {1, 1, 1, 1, 1, 2, 4, 8, 16, 4};

static void test_schema_cascades_a_run_delete(void **state)
{
    struct fixture *f = *state;
    char id[37];
    make_deep(f->s, id);
    for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++)
        assert_int_equal(raw_count(f->path, all_tables[i]), deep_rows[i]);
    /* Any client deleting the run row takes everything under it along. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA foreign_keys = ON; DELETE FROM runs", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++)
        assert_int_equal(raw_count(f->path, all_tables[i]), 0);
}

static void test_delete_run_removes_only_that_run(void **state)
{
    struct fixture *f = *state;
    char a[37], b[37];
    make_deep(f->s, a);
    make_deep(f->s, b);
    assert_int_equal(wl_store_delete_run(f->s, a, false), 0);
    for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++)
        assert_int_equal(raw_count(f->path, all_tables[i]), deep_rows[i]);
    assert_int_equal(wl_store_delete_run(f->s, a, false), WL_ENOENT);
    char got[37];
    assert_int_equal(wl_store_resolve_id(f->s, b, got), 0);
}

/* A run still being recorded (its writer, this process, is alive) is not
 * deleted unless asked to be (old: `wattlens rm` deleted a live measure's
 * row, and its save then failed). */
static void test_delete_run_refuses_a_live_run_unless_forced(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store *other = open_at(f->path);
    assert_int_equal(wl_store_delete_run(other, id, false), WL_ESTATE);
    const char *msg = wl_store_last_error(other);
    assert_non_null(strstr(msg, "is still being recorded (measure, process"));
    assert_non_null(strstr(msg, "--force"));
    char got[37];
    assert_int_equal(wl_store_resolve_id(other, id, got), 0); /* still there */
    assert_int_equal(wl_store_delete_run(other, id, true), 0);
    assert_int_equal(wl_store_resolve_id(other, id, got), WL_ENOENT);
    wl_store_close(other);
    wl_store_run_abandon(r);
}

struct collect {
    int rows;
    char first[256];
    double sum_energy;
    size_t blob_bytes;
};

static int collect_row(void *u, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct collect *c = u;
    if (c->rows++ == 0) {
        size_t o = 0;
        for (size_t i = 0; i < n && o < sizeof c->first - 32; i++)
            o +=
                (size_t)snprintf(c->first + o, sizeof c->first - o, "%s%s", i ? "," : "", names[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "energy_j") == 0 && v[i].type == WL_VALUE_REAL)
            c->sum_energy += v[i].r;
        if (v[i].type == WL_VALUE_BLOB)
            c->blob_bytes += v[i].n;
    }
    return 0;
}

static void test_foreach_reads_each_level(void **state)
{
    struct fixture *f = *state;
    char id[37];
    make_deep(f->s, id);
    struct collect c = {0};
    assert_int_equal(wl_store_foreach(f->s, id, WL_TABLE_OPS, -1, -1, collect_row, &c), 0);
    assert_int_equal(c.rows, 16);
    assert_float_equal(c.sum_energy, 0.8, 1e-9);
    assert_int_equal(c.blob_bytes, 16 * 2 * sizeof(float));
    memset(&c, 0, sizeof c);
    assert_int_equal(wl_store_foreach(f->s, id, WL_TABLE_COMPONENTS, 1, 1, collect_row, &c), 0);
    assert_int_equal(c.rows, 4); /* one token only */
    memset(&c, 0, sizeof c);
    assert_int_equal(wl_store_foreach(f->s, id, WL_TABLE_TOKENS, -1, -1, collect_row, &c), 0);
    assert_int_equal(c.rows, 2);
    assert_non_null(strstr(c.first, "token_index,text,is_input"));
    memset(&c, 0, sizeof c);
    assert_int_equal(wl_store_foreach(f->s, id, WL_TABLE_RUN, -1, -1, collect_row, &c), 0);
    assert_int_equal(c.rows, 1);
    assert_true(strncmp(c.first, "id,created_at_ms,created_at,status", 34) == 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(wl_store_foreach(f->s, id, WL_TABLE_DOMAINS, -1, -1, collect_row, &c), 0);
    assert_int_equal(c.rows, 1);
    assert_int_equal(wl_store_foreach(f->s, "no-such", WL_TABLE_RUN, -1, -1, collect_row, &c),
                     WL_ENOENT);
}

static void test_writer_rejects_orphans_and_bad_json(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_layer_metric lm = {.token_index = 7, .layer = 0, .dur_ms = 1, .energy_j = 1};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), WL_EINVAL);
    assert_non_null(strstr(wl_store_last_error(f->s), "token 7"));
    struct wl_store_token t = {
        .index = 0, .energy_j = 1, .start_ms = 0, .end_ms = 2, .power_w = WL_STORE_UNSET};
    assert_int_equal(wl_store_add_token(r, &t), 0);
    assert_int_equal(wl_store_add_token(r, &t), WL_EINVAL); /* duplicate index */
    assert_int_equal(wl_store_run_set_extra(r, "cost", "{\"usd\": 0.5}"), 0);
    assert_int_equal(wl_store_run_set_extra(r, "co2", "{not json"), WL_EINVAL);
    assert_int_equal(wl_store_run_set_extra(r, "Bad Key", "1"), WL_EINVAL);
    /* Partial domain figures merge: baseline first, energy at the end. */
    struct wl_store_domain base = {.domain = WL_DOMAIN_DRAM,
                                   .method = WL_METHOD_SAMPLED,
                                   .energy_j = WL_STORE_UNSET,
                                   .avg_power_w = WL_STORE_UNSET,
                                   .baseline_power_w = 1.5,
                                   .peak_power_w = WL_STORE_UNSET,
                                   .peak_t_ms = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_set_domain(r, &base), 0);
    struct wl_store_domain end = base;
    end.baseline_power_w = WL_STORE_UNSET;
    end.energy_j = 3;
    struct wl_run_totals tot = {.status = WL_RUN_RUNNING};
    assert_int_equal(wl_store_run_finish(r, &tot), WL_EINVAL); /* r is freed anyway */
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(a.run.row.status, WL_RUN_RUNNING);
    wl_store_aggregates_free(&a);

    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    assert_int_equal(wl_store_run_set_domain(r, &base), 0);
    tot = (struct wl_run_totals){.status = WL_RUN_CANCELLED,
                                 .duration_ms = 2,
                                 .energy_j = 3,
                                 .input_tokens = -1,
                                 .output_tokens = -1,
                                 .sample_count = 0,
                                 .sample_rate_hz = WL_STORE_UNSET,
                                 .domains = &end,
                                 .n_domains = 1};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(a.run.row.status, WL_RUN_CANCELLED);
    assert_int_equal(a.run.n_domains, 1);
    assert_int_equal(a.run.domains[0].domain, WL_DOMAIN_DRAM);
    assert_float_equal(a.run.domains[0].baseline_power_w, 1.5, 1e-12);
    assert_float_equal(a.run.domains[0].energy_j, 3, 1e-12);
    assert_int_equal(a.run.domains[0].method, WL_METHOD_SAMPLED);
    wl_store_aggregates_free(&a);
}

/* Component and op rows are inserted in batches; a bad row in a batch is
 * still named, and the good rows of that batch are kept. */
static void test_batched_metrics_name_a_bad_row_and_keep_the_rest(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_token t = {
        .index = 0, .energy_j = 1, .start_ms = 0, .end_ms = 1, .power_w = WL_STORE_UNSET};
    assert_int_equal(wl_store_add_token(r, &t), 0);
    struct wl_store_layer_metric lm = {0, 0, 1, 1};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
    struct wl_store_component_metric cm = {.token_index = 0,
                                           .layer = 0,
                                           .name = "attn",
                                           .dur_ms = 1,
                                           .energy_j = 1,
                                           .act_mean_abs = WL_STORE_UNSET,
                                           .act_std = WL_STORE_UNSET,
                                           .act_max_abs = WL_STORE_UNSET,
                                           .act_sparsity = WL_STORE_UNSET};
    assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
    int rc = 0;
    for (int o = 0; o < 200 && rc == 0; o++) {
        struct wl_store_op_metric om = {.token_index = 0,
                                        .layer = 0,
                                        .component = o == 70 ? 5 : 0, /* 5 does not exist */
                                        .op = o,
                                        .name = "qk",
                                        .dur_ms = 0.1,
                                        .energy_j = 0.1,
                                        .entropy = WL_STORE_UNSET,
                                        .max_weight = WL_STORE_UNSET,
                                        .sparsity = WL_STORE_UNSET,
                                        .kill_ratio = WL_STORE_UNSET,
                                        .var_ratio = WL_STORE_UNSET};
        rc = wl_store_add_op_metric(r, &om);
    }
    assert_int_equal(rc, WL_EINVAL); /* reported when its batch (ops 64..127) is inserted */
    assert_non_null(strstr(wl_store_last_error(f->s), "op 70 (qk) of component 5"));
    assert_int_equal(wl_store_flush(r), 0);
    assert_int_equal(raw_count(f->path, "op_metrics"), 127); /* 0..127 but 70 */
    /* A bad row in the last, partial batch: the run still finishes. */
    struct wl_store_component_metric orphan = cm;
    orphan.layer = 9;
    assert_int_equal(wl_store_add_component_metric(r, &orphan), 0); /* buffered */
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 1,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), WL_EINVAL);
    assert_non_null(strstr(wl_store_last_error(f->s), "component 0 of layer 9"));
    assert_int_equal(raw_count(f->path, "op_metrics"), 127);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.rows[0].status, WL_RUN_COMPLETE);
    wl_run_list_free(&l);
}

/* Per-component sums kept while writing, and the SQL fallback used when a
 * component id is outside the in-memory grid, give the same aggregates. */
static void test_component_aggregates_in_and_out_of_the_grid(void **state)
{
    struct fixture *f = *state;
    for (int big = 0; big < 2; big++) {
        struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
        wl_store_run *r = NULL;
        char id[37];
        assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
        for (int t = 0; t < 3; t++) {
            struct wl_store_token tok = {.index = t,
                                         .energy_j = 1,
                                         .start_ms = t,
                                         .end_ms = t + 1,
                                         .power_w = WL_STORE_UNSET};
            assert_int_equal(wl_store_add_token(r, &tok), 0);
            struct wl_store_layer_metric lm = {t, 2, 1, 1};
            assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
            struct wl_store_component_metric cm = {.token_index = t,
                                                   .layer = 2,
                                                   .component = big ? 100 : 7,
                                                   .name = "mlp",
                                                   .dur_ms = 0.5 * (t + 1),
                                                   .energy_j = t == 1 ? WL_STORE_UNSET : 0.25,
                                                   .act_mean_abs = WL_STORE_UNSET,
                                                   .act_std = WL_STORE_UNSET,
                                                   .act_max_abs = WL_STORE_UNSET,
                                                   .act_sparsity = WL_STORE_UNSET};
            assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
        }
        struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                    .duration_ms = 3,
                                    .energy_j = 3,
                                    .input_tokens = -1,
                                    .output_tokens = -1,
                                    .sample_count = -1,
                                    .sample_rate_hz = WL_STORE_UNSET};
        assert_int_equal(wl_store_run_finish(r, &tot), 0);
        struct wl_store_aggregates a;
        assert_int_equal(wl_store_summary(f->s, id, &a), 0);
        assert_int_equal(a.n_components, 1);
        assert_int_equal(a.components[0].layer, 2);
        assert_int_equal(a.components[0].component, big ? 100 : 7);
        assert_string_equal(a.components[0].name, "mlp");
        assert_int_equal(a.components[0].n, 3);
        assert_float_equal(a.components[0].dur_ms, 3.0, 1e-12);
        assert_float_equal(a.components[0].energy_j, 0.5, 1e-12); /* the unknown one skipped */
        wl_store_aggregates_free(&a);
    }
    assert_int_equal(raw_count(f->path, "component_agg"), 2);
}

/* The sums kept while writing hold short names (the engine's); a longer
 * one sends finishing to SQL, so component_agg keeps it whole rather than
 * cut (and a cut could end inside a character). */
static void test_component_aggregates_keep_a_long_name(void **state)
{
    struct fixture *f = *state;
    const char *name = "\xE6\xB3\xA8\xE6\x84\x8F\xE5\x8A\x9B"
                       "-with-a-name-longer-than-a-slot-holds"; /* 46 bytes */
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_token tok = {
        .index = 0, .energy_j = 1, .start_ms = 0, .end_ms = 1, .power_w = WL_STORE_UNSET};
    assert_int_equal(wl_store_add_token(r, &tok), 0);
    struct wl_store_layer_metric lm = {0, 0, 1, 1};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
    struct wl_store_component_metric cm = {.token_index = 0,
                                           .layer = 0,
                                           .component = 3,
                                           .name = name,
                                           .dur_ms = 1,
                                           .energy_j = 1,
                                           .act_mean_abs = WL_STORE_UNSET,
                                           .act_std = WL_STORE_UNSET,
                                           .act_max_abs = WL_STORE_UNSET,
                                           .act_sparsity = WL_STORE_UNSET};
    assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 1,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT name, n FROM component_agg", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), name);
    assert_int_equal(sqlite3_column_int64(st, 1), 1);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Rows become visible to other connections only when a batch commits. */
static void test_batches_commit_on_flush_and_interval(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "x"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    assert_int_equal(raw_count(f->path, "runs"), 1); /* the run row is there at once */
    wl_store_run_set_flush_interval(r, 60000);
    struct wl_store_sample smp[3] = {{.t_ms = 0}, {.t_ms = 10}, {.t_ms = 20}};
    assert_int_equal(wl_store_add_samples(r, smp, 3), 0);
    assert_int_equal(raw_count(f->path, "power_samples"), 0);
    assert_int_equal(wl_store_flush(r), 0);
    assert_int_equal(raw_count(f->path, "power_samples"), 3);
    wl_store_run_set_flush_interval(r, 1);
    assert_int_equal(wl_store_add_samples(r, smp, 1), 0);
    usleep(3000);
    assert_int_equal(wl_store_add_samples(r, smp, 1), 0); /* batch is older than 1 ms */
    assert_int_equal(raw_count(f->path, "power_samples"), 5);
    wl_store_run_abandon(r);
}

struct thread_arg {
    wl_store_run *r;
    int kind;
};

static void *writer_thread(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 200; i++) {
        if (a->kind == 0) {
            struct wl_store_sample smp = {.t_ms = i};
            if (wl_store_add_samples(a->r, &smp, 1) != 0)
                return (void *)1;
        } else {
            struct wl_store_token t = {.index = i,
                                       .energy_j = 1,
                                       .start_ms = i,
                                       .end_ms = i + 1,
                                       .power_w = WL_STORE_UNSET};
            if (wl_store_add_token(a->r, &t) != 0)
                return (void *)1;
        }
    }
    return NULL;
}

static void test_two_threads_share_a_writer(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_set_flush_interval(r, 1);
    struct thread_arg a = {r, 0}, b = {r, 1};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, writer_thread, &a);
    pthread_create(&tb, NULL, writer_thread, &b);
    void *ra, *rb;
    pthread_join(ta, &ra);
    pthread_join(tb, &rb);
    assert_null(ra);
    assert_null(rb);
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 200,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    assert_int_equal(raw_count(f->path, "power_samples"), 200);
    assert_int_equal(raw_count(f->path, "tokens"), 200);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.rows[0].output_tokens, 200);
    assert_float_equal(l.rows[0].j_per_token, 1.0, 1e-12);
    wl_run_list_free(&l);
}

static void test_gc_dry_run_then_real(void **state)
{
    struct fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .created_at_ms = T0_MS - DAY_MS};
    wl_store_run *live = NULL;
    char live_id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &live, live_id), 0);
    wl_store_run_abandon(live); /* still `running`: our own process holds it */

    struct wl_gc_params p = {.keep = 2, .max_age_days = -1, .dry_run = true};
    struct wl_gc_result res;
    assert_int_equal(wl_store_gc(f->s, &p, &res), 0);
    expect_ids(&res.removed, ids, (int[]){2, 1, 0}, 3); /* the running one is kept */
    wl_gc_result_free(&res);
    struct wl_store_stats st;
    assert_int_equal(wl_store_stats(f->s, &st), 0);
    assert_int_equal(st.runs, 6); /* dry run changed nothing */

    p = (struct wl_gc_params){
        .keep = -1, .max_age_days = 2.5, .has_now = true, .now_ms = T0_MS + 4 * DAY_MS};
    p.dry_run = true;
    assert_int_equal(wl_store_gc(f->s, &p, &res), 0);
    expect_ids(&res.removed, ids, (int[]){1, 0}, 2);
    wl_gc_result_free(&res);

    p.dry_run = false;
    p.keep = 4; /* either limit removes */
    assert_int_equal(wl_store_gc(f->s, &p, &res), 0);
    expect_ids(&res.removed, ids, (int[]){1, 0}, 2);
    assert_true(res.bytes_after > 0);
    wl_gc_result_free(&res);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.rows[3].id, live_id);
    wl_run_list_free(&l);
    /* an age beyond any time, or a reference time before 1970, removes
     * nothing (no overflow, and a time before 1970 is a time) */
    static const double huge_days[] = {1e6, 1e30, INFINITY};
    for (size_t i = 0; i < sizeof huge_days / sizeof huge_days[0]; i++) {
        p = (struct wl_gc_params){.keep = -1, .max_age_days = huge_days[i], .dry_run = true};
        assert_int_equal(wl_store_gc(f->s, &p, &res), 0);
        assert_int_equal(res.removed.n, 0);
        wl_gc_result_free(&res);
    }
    p = (struct wl_gc_params){
        .keep = -1, .max_age_days = 0, .dry_run = true, .has_now = true, .now_ms = -DAY_MS};
    assert_int_equal(wl_store_gc(f->s, &p, &res), 0);
    assert_int_equal(res.removed.n, 0);
    wl_gc_result_free(&res);
    p = (struct wl_gc_params){.keep = -1, .max_age_days = -1};
    assert_int_equal(wl_store_gc(f->s, &p, &res), WL_EINVAL);
}

/* ---- whose writer is alive: a run's status as every reader shows it ------ */

/* Runs sql on path with a plain SQLite connection (to move a run's
 * heartbeat back, or make it another host's). */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The status column as stored (not as the store reports it), into buf. */
static const char *raw_status(const char *path, const char *id, char *buf, size_t size)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT status FROM runs WHERE uuid = ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return buf;
}

/* gc deletes one run per transaction: a run it cannot delete stops it,
 * and the runs deleted before stay deleted and are listed (they were
 * rolled back with it, and the list thrown away). The trigger stands for
 * any error of a deletion (a writer holding the lock past the timeout, a
 * full disk). */
static void test_gc_keeps_what_it_removed_when_it_stops(void **state)
{
    struct fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER refuse BEFORE DELETE ON runs WHEN old.uuid = '%s' "
             "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
             ids[1]);
    raw_exec(f->path, sql);
    /* keep 2: runs 2, 1 and 0 go, newest first */
    struct wl_gc_params p = {.keep = 2, .max_age_days = -1};
    struct wl_gc_result res;
    assert_int_not_equal(wl_store_gc(f->s, &p, &res), 0);
    expect_ids(&res.removed, ids, (int[]){2}, 1);
    assert_non_null(strstr(wl_store_last_error(f->s), ids[1]));
    assert_non_null(strstr(wl_store_last_error(f->s), "refused by the test"));
    assert_int_equal(res.compaction, WL_GC_NOT_COMPACTED);
    wl_gc_result_free(&res);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){4, 3, 1, 0}, 4);
    wl_run_list_free(&l);
}

/* gc leaves a file from which nothing went as it is (VACUUM rewrites all
 * of it, holding the write lock), and builds VACUUM's copy in a temporary
 * file, not in memory: its peak heap stays well below the database's size
 * (it took the whole copy, 32 MB here, plus the connection's cache). */
static void test_gc_compacts_through_a_file_only_after_removing(void **state)
{
    struct fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    /* 64 MB of filler, half of it freed: 32 MB live, 32 MB free pages */
    raw_exec(f->path, "CREATE TABLE filler(b BLOB); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
                      "SELECT i + 1 FROM c WHERE i < 1024) INSERT INTO filler SELECT "
                      "randomblob(65536) FROM c; DELETE FROM filler WHERE rowid % 2 = 0");
    struct wl_gc_params p = {.keep = 10, .max_age_days = -1};
    struct wl_gc_result res;
    assert_int_equal(wl_store_gc(f->s, &p, &res), 0);
    assert_int_equal(res.removed.n, 0);
    assert_int_equal(res.compaction, WL_GC_NOT_COMPACTED);
    assert_true(res.bytes_after >= res.bytes_before); /* no VACUUM: the free pages stay */
    assert_true(res.bytes_before > 60 * 1000 * 1000);
    wl_gc_result_free(&res);

    sqlite3_int64 cur = 0, peak = 0;
    assert_int_equal(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &peak, 1), SQLITE_OK);
    p.keep = 2;
    assert_int_equal(wl_store_gc(f->s, &p, &res), 0);
    assert_int_equal(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &peak, 0), SQLITE_OK);
    expect_ids(&res.removed, ids, (int[]){2, 1, 0}, 3);
    assert_int_equal(res.compaction, WL_GC_COMPACTED);
    assert_true(res.bytes_after < res.bytes_before - 30 * 1000 * 1000); /* the free half went */
    if (peak > 16 * 1000 * 1000)
        fail_msg("gc's peak heap was %lld bytes (the database holds 32 MB)", (long long)peak);
    wl_gc_result_free(&res);
}

static wl_store *open_read_only(const char *path)
{
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.read_only = true;
    wl_store *s = NULL;
    struct wl_errmsg e = {{0}};
    int rc = wl_store_open(&p, &s, &e);
    if (rc != 0)
        fail_msg("open %s read-only: %s (%s)", path, wl_strerror(rc), e.text);
    return s;
}

struct status_row {
    char status[32];
};

static int status_of_row(void *u, size_t n, const char *const *names,
                         const struct wl_store_value *v)
{
    struct status_row *o = u;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "status") == 0 && v[i].type == WL_VALUE_TEXT)
            snprintf(o->status, sizeof o->status, "%s", v[i].s);
    }
    return 0;
}

/* The status of run id in the list, the summary, the export's run row and
 * a retention dry run that would remove every run it may (keep 0) agree,
 * and are `want`. */
static void expect_status_everywhere(wl_store *s, const char *id, enum wl_run_status want)
{
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    bool listed = false;
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.rows[i].id, id) == 0) {
            assert_int_equal(l.rows[i].status, want);
            listed = true;
        }
    }
    assert_true(listed);
    wl_run_list_free(&l);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(s, id, &a), 0);
    assert_int_equal(a.run.row.status, want);
    wl_store_aggregates_free(&a);
    struct status_row row = {""};
    assert_int_equal(wl_store_foreach(s, id, WL_TABLE_RUN, -1, -1, status_of_row, &row), 0);
    assert_string_equal(row.status, wl_run_status_name(want));
    struct wl_gc_params p = {.keep = 0, .max_age_days = -1, .dry_run = true};
    struct wl_gc_result res;
    assert_int_equal(wl_store_gc(s, &p, &res), 0);
    bool would_go = false;
    for (size_t i = 0; i < res.removed.n; i++)
        would_go = would_go || strcmp(res.removed.rows[i].id, id) == 0;
    assert_true(would_go == (want != WL_RUN_RUNNING)); /* running runs are never removed */
    wl_gc_result_free(&res);
}

/* A writer is SIGKILLed between flushes: the file opens cleanly, the run is
 * incomplete, flushed rows are there and the unflushed batch is not. */
static void test_sigkill_mid_run_leaves_an_incomplete_run(void **state)
{
    struct fixture *f = *state;
    wl_store_close(f->s);
    f->s = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        struct wl_store_params p;
        wl_store_default_params(&p);
        p.path = f->path;
        wl_store *s = NULL;
        struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .prompt = "crash"};
        wl_store_run *r = NULL;
        char id[37];
        if (wl_store_open(&p, &s, NULL) != 0 || wl_store_run_begin(s, &info, &r, id) != 0)
            _exit(2);
        wl_store_run_set_flush_interval(r, 3600 * 1000);
        for (int i = 0; i < 50; i++) {
            struct wl_store_token t = {.index = i,
                                       .energy_j = 0.5,
                                       .start_ms = i,
                                       .end_ms = i + 1,
                                       .power_w = WL_STORE_UNSET};
            struct wl_store_sample smp = {.t_ms = i};
            if (wl_store_add_token(r, &t) != 0 || wl_store_add_samples(r, &smp, 1) != 0)
                _exit(3);
            if (i == 29 && wl_store_flush(r) != 0)
                _exit(4);
        }
        /* 20 more tokens sit in the open batch. Tell the parent, then wait. */
        if (write(fds[1], id, 37) != 37)
            _exit(5);
        for (;;)
            pause();
    }
    close(fds[1]);
    char id[37] = "";
    ssize_t got = read(fds[0], id, 37);
    close(fds[0]);
    assert_int_equal(got, 37);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* a reader that does not write shows it incomplete too, and a dry run
     * of retention would remove it, as the real one will; nothing is
     * written (the stored status is still running) */
    wl_store *ro = open_read_only(f->path);
    expect_status_everywhere(ro, id, WL_RUN_INCOMPLETE);
    wl_store_close(ro);
    char stored[32];
    assert_string_equal(raw_status(f->path, id, stored, sizeof stored), "running");

    f->s = open_at(f->path);
    assert_string_equal(raw_status(f->path, id, stored, sizeof stored), "incomplete");
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(a.run.row.status, WL_RUN_INCOMPLETE);
    assert_int_equal(a.tokens.n_output, 30);
    assert_int_equal(a.n_samples, 30);
    assert_float_equal(a.tokens.output_energy_j, 15.0, 1e-9);
    wl_store_aggregates_free(&a);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.rows[0].status, WL_RUN_INCOMPLETE);
    assert_true(l.rows[0].partial); /* listed from what it flushed */
    assert_int_equal(l.rows[0].output_tokens, 30);
    assert_int_equal(l.rows[0].input_tokens, 0);
    assert_true(isnan(l.rows[0].energy_j)); /* no sections: no energy to add up */
    wl_run_list_free(&l);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static char *snapshot(const char *path, size_t *n)
{
    char *b = wl_test_read_file(path, n);
    assert_non_null(b);
    return b;
}

static int try_open(const char *path, int busy_ms, struct wl_errmsg *e)
{
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.busy_timeout_ms = busy_ms;
    wl_store *s = NULL;
    int rc = wl_store_open(&p, &s, e);
    wl_store_close(s);
    return rc;
}

static void test_refuses_a_file_that_is_not_a_database(void **state)
{
    struct fixture *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/notes.txt", f->dir);
    const char text[] = "these are my notes, not a database\n";
    assert_int_equal(wl_test_write_file(path, text, sizeof text - 1), 0);
    struct wl_errmsg e = {{0}};
    assert_int_equal(try_open(path, 100, &e), WL_EFORMAT);
    assert_non_null(strstr(e.text, path));
    assert_non_null(strstr(e.text, "not a wattlens database"));
    size_t n;
    char *after = snapshot(path, &n);
    assert_int_equal(n, sizeof text - 1);
    assert_memory_equal(after, text, n);
    free(after);

    /* An SQLite file of another program is not touched either. */
    snprintf(path, sizeof path, "%s/other.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (42)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    size_t n0;
    char *before = snapshot(path, &n0);
    assert_int_equal(try_open(path, 100, &e), WL_EFORMAT);
    assert_non_null(strstr(e.text, "not a wattlens store"));
    after = snapshot(path, &n);
    assert_int_equal(n, n0);
    assert_memory_equal(after, before, n);
    free(before);
    free(after);
}

/* A truncated wattlens database is a damaged wattlens database (its header
 * still carries our application id), not "not a wattlens database"; the
 * message says what may be salvaged, and the file is left as it is. */
static void test_a_truncated_database_is_called_damaged(void **state)
{
    struct fixture *f = *state;
    char id[37];
    for (int i = 0; i < 3; i++) {
        struct run_spec sp = {
            .created_at_ms = T0_MS + i, .duration_ms = 1, .energy_j = 1, .n_in = 20, .n_out = 200};
        make_run(f->s, &sp, id);
    }
    wl_store_close(f->s);
    f->s = NULL;
    assert_int_equal(truncate(f->path, 40000), 0); /* page 1 and part of page 2 of 16 KiB */
    size_t n0, n;
    char *before = snapshot(f->path, &n0);
    struct wl_errmsg e = {{0}};
    assert_int_equal(try_open(f->path, 100, &e), WL_EFORMAT);
    assert_non_null(strstr(e.text, "damaged wattlens database (SQLite: "));
    assert_non_null(strstr(e.text, "salvaged"));
    assert_null(strstr(e.text, "not a wattlens database"));
    char *after = snapshot(f->path, &n);
    assert_int_equal(n, n0);
    assert_memory_equal(after, before, n);
    free(before);
    free(after);
    /* too short to hold the application id: a damaged SQLite database */
    assert_int_equal(truncate(f->path, 50), 0);
    assert_int_equal(try_open(f->path, 100, &e), WL_EFORMAT);
    assert_non_null(strstr(e.text, "damaged SQLite database"));
}

static void test_refuses_a_newer_schema_without_touching_it(void **state)
{
    struct fixture *f = *state;
    char id[37];
    struct run_spec sp = {.created_at_ms = T0_MS, .duration_ms = 1, .energy_j = 1};
    make_run(f->s, &sp, id);
    wl_store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99; PRAGMA wal_checkpoint(TRUNCATE)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    size_t n0, n;
    char *before = snapshot(f->path, &n0);
    struct wl_errmsg e = {{0}};
    assert_int_equal(try_open(f->path, 100, &e), WL_EVERSION);
    assert_non_null(strstr(e.text, "newer wattlens"));
    assert_non_null(strstr(e.text, "99"));
    char *after = snapshot(f->path, &n);
    assert_int_equal(n, n0);
    assert_memory_equal(after, before, n);
    free(before);
    free(after);
    assert_int_equal(raw_count(f->path, "runs"), 1);
}

static void test_locked_database_is_a_clear_busy_error(void **state)
{
    struct fixture *f = *state;
    char id[37];
    struct run_spec sp = {.created_at_ms = T0_MS, .duration_ms = 1, .energy_j = 1};
    make_run(f->s, &sp, id);
    wl_store_close(f->s);
    f->s = NULL;

    /* Another program holds the write lock: opening works (WAL readers are
     * not blocked), writing waits for the busy timeout and then says why. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE; DELETE FROM run_tags", NULL, NULL, NULL),
                     SQLITE_OK);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.busy_timeout_ms = 100;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE};
    wl_store_run *r = NULL;
    char id2[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id2), WL_EBUSY);
    assert_non_null(strstr(wl_store_last_error(f->s), "locked by another process"));
    assert_int_equal(wl_store_delete_run(f->s, id, false), WL_EBUSY);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.n, 1); /* still readable */
    wl_run_list_free(&l);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id2), 0);
    wl_store_run_abandon(r);
    wl_store_close(f->s);
    f->s = NULL;

    /* An exclusive lock even blocks reading: opening fails after the wait. */
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; "
                                  "DELETE FROM run_tags",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(try_open(f->path, 100, &e), WL_EBUSY);
    assert_non_null(strstr(e.text, "locked"));
    assert_non_null(strstr(e.text, f->path));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(raw_count(f->path, "runs"), 2); /* nothing lost */
}

/* Holds the write lock of a database for a while from its own connection. */
struct lock_holder {
    const char *path;
    int hold_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool tried, locked;
};

static void *hold_write_lock(void *p)
{
    struct lock_holder *h = p;
    sqlite3 *db = NULL;
    sqlite3_open(h->path, &db);
    sqlite3_busy_timeout(db, 5000);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE; DELETE FROM run_tags", NULL, NULL, NULL);
    pthread_mutex_lock(&h->mu);
    h->tried = true;
    h->locked = rc == SQLITE_OK;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    usleep((useconds_t)h->hold_ms * 1000);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return NULL;
}

static void start_lock_holder(struct lock_holder *h, pthread_t *t)
{
    h->tried = h->locked = false;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    assert_int_equal(pthread_create(t, NULL, hold_write_lock, h), 0);
    pthread_mutex_lock(&h->mu);
    while (!h->tried)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    assert_true(h->locked);
}

/* Once its row exists, a run's batches and its finish wait run_wait_ms for
 * another writer, not the busy timeout: `measure` saves a long command's
 * measurement after it, and the recorder would lose rows. */
static void test_a_run_writer_waits_for_the_lock_past_the_busy_timeout(void **state)
{
    struct fixture *f = *state;
    wl_store_close(f->s);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.busy_timeout_ms = 100;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);

    struct lock_holder h = {.path = f->path, .hold_ms = 600};
    pthread_t t;
    start_lock_holder(&h, &t);
    const uint64_t t0 = wl_clock_now_ns();
    struct wl_store_section sec = {.phase = "measure",
                                   .name = "command",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 1000,
                                   .energy_j = 2.0,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0); /* waited, not WL_EBUSY after 100 ms */
    assert_true(wl_clock_now_ns() - t0 >= 300 * 1000000ull);
    pthread_join(t, NULL);
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1000,
                                .energy_j = 2.0,
                                .energy_method = WL_METHOD_COUNTER,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET,
                                .sensor_provenance_json = "{\"sensors\":\"late\"}"};
    assert_int_equal(wl_store_flush(r), 0); /* the batch's lock is released */
    start_lock_holder(&h, &t);
    assert_int_equal(wl_store_run_finish(r, &tot), 0); /* the finish waits too */
    pthread_join(t, NULL);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(a.run.row.status, WL_RUN_COMPLETE);
    assert_non_null(a.run.sensor_provenance_json);
    assert_non_null(strstr(a.run.sensor_provenance_json, "late")); /* set at the finish */
    wl_store_aggregates_free(&a);
    wl_store_close(f->s);

    /* with run_wait_ms no longer than the busy timeout, a batch gives up */
    p.run_wait_ms = 100;
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    start_lock_holder(&h, &t);
    assert_int_equal(wl_store_add_section(r, &sec), WL_EBUSY);
    assert_non_null(strstr(wl_store_last_error(f->s), "waited 100 ms"));
    pthread_join(t, NULL);
    wl_store_run_abandon(r);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
}

/* A run whose writer (this process) is alive stays `running` on this host
 * however old its heartbeat: a `measure` of a long command writes nothing
 * until the command ends. Before, the 24-hour rule applied on the writer's
 * own host too, and gc could then remove the live run. */
static void test_a_live_writer_on_this_host_needs_no_heartbeat(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "train 3 days"};
    wl_store_run *r = NULL;
    char id[37], st[32];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    raw_exec(f->path, "UPDATE runs SET updated_at_ms = updated_at_ms - 25 * 3600 * 1000, "
                      "created_at_ms = created_at_ms - 25 * 3600 * 1000");
    wl_store *other = open_at(f->path); /* a writable open marks dead runs: not this one */
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "running");
    expect_status_everywhere(other, id, WL_RUN_RUNNING);
    struct wl_gc_params p = {.keep = -1, .max_age_days = 1};
    struct wl_gc_result res;
    assert_int_equal(wl_store_gc(other, &p, &res), 0);
    assert_int_equal(res.removed.n, 0);
    wl_gc_result_free(&res);
    wl_store_close(other);
    /* and its save at the end works */
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 1,
                                .energy_method = WL_METHOD_COUNTER,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    expect_status_everywhere(f->s, id, WL_RUN_COMPLETE);
}

/* The writer's pid alone is not proof: a pid taken by another process after
 * the writer died (or after a reboot) has another start token. */
static void test_a_reused_pid_is_not_the_writer(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .prompt = "reused"};
    wl_store_run *r = NULL;
    char id[37], st[32];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_abandon(r);
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING); /* this process: alive */
#ifdef __linux__
    assert_int_equal(raw_count(f->path, "runs WHERE writer_start LIKE '%/%'"), 1);
#endif
    /* the same pid with another start: a process that is not the writer */
    raw_exec(f->path, "UPDATE runs SET writer_start = 'another-boot/12345'");
    wl_store *ro = open_read_only(f->path);
    expect_status_everywhere(ro, id, WL_RUN_INCOMPLETE); /* shown so, not written */
    wl_store_close(ro);
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "running");
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    /* no token stored (an older row, a system without /proc): the pid decides */
    raw_exec(f->path, "UPDATE runs SET writer_start = NULL");
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING);
    raw_exec(f->path, "UPDATE runs SET writer_start = 'another-boot/12345'");
    wl_store_close(f->s);
    f->s = open_at(f->path); /* a writable open stores what readers show */
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "incomplete");
}

/* Marking dead runs at open is a stored copy of what readers work out: while
 * another writer holds the lock, the open goes on without it (old: it
 * failed after the busy timeout with "marking dead runs incomplete: the
 * database is locked"). */
static void test_open_with_a_dead_run_and_the_lock_held_elsewhere(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "killed"};
    wl_store_run *r = NULL;
    char id[37], st[32];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_abandon(r);
    wl_store_close(f->s);
    f->s = NULL;
    raw_exec(f->path,
             "UPDATE runs SET writer_start = 'another-boot/12345'"); /* its writer is gone */
    struct lock_holder h = {.path = f->path, .hold_ms = 3000};
    pthread_t t;
    start_lock_holder(&h, &t);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    p.busy_timeout_ms = 2000;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "running"); /* left for later */
    wl_store_close(f->s);
    f->s = open_at(f->path);
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "incomplete");
}

/* On another host the writer's pid means nothing here: its run is taken as
 * dead once it has shown no sign of life for 24 hours, and a heartbeat
 * keeps it alive. */
static void test_another_hosts_run_lives_by_its_heartbeat(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 100000"};
    wl_store_run *r = NULL;
    char id[37], st[32];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    raw_exec(f->path, "UPDATE runs SET writer_host = 'elsewhere.invalid', "
                      "updated_at_ms = updated_at_ms - 23 * 3600 * 1000");
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING);
    raw_exec(f->path, "UPDATE runs SET updated_at_ms = updated_at_ms - 2 * 3600 * 1000");
    expect_status_everywhere(f->s, id, WL_RUN_INCOMPLETE);
    assert_string_equal(raw_status(f->path, id, st, sizeof st), "running");
    /* its writer stamps it: alive again, the stamp is now */
    const int64_t before_ms = wl_clock_realtime_ns() / 1000000;
    assert_int_equal(wl_store_run_heartbeat(r, 100), 0);
    expect_status_everywhere(f->s, id, WL_RUN_RUNNING);
    char sql[160];
    snprintf(sql, sizeof sql, "runs WHERE updated_at_ms >= %lld", (long long)before_ms);
    assert_int_equal(raw_count(f->path, sql), 1);
    /* with a batch open, the heartbeat is its commit */
    struct wl_store_sample smp = {.t_ms = 1};
    wl_store_run_set_flush_interval(r, 3600 * 1000);
    assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
    assert_int_equal(raw_count(f->path, "power_samples"), 0);
    assert_int_equal(wl_store_run_heartbeat(r, 100), 0);
    assert_int_equal(raw_count(f->path, "power_samples"), 1);
    wl_store_run_abandon(r);
}

/* A heartbeat waits only briefly for another writer (the thread that calls
 * it also waits for a command), and a run whose row was removed while it
 * was recorded says so instead of "FOREIGN KEY constraint failed". */
static void test_heartbeat_waits_briefly_and_a_removed_run_says_so(void **state)
{
    struct fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct lock_holder h = {.path = f->path, .hold_ms = 1500};
    pthread_t t;
    start_lock_holder(&h, &t);
    uint64_t t0 = wl_clock_now_ns();
    assert_int_equal(wl_store_run_heartbeat(r, 50), WL_EBUSY);
    assert_true(wl_clock_now_ns() - t0 < 1000 * 1000000ull);
    assert_non_null(strstr(wl_store_last_error(f->s), "waited 50 ms"));
    pthread_join(t, NULL);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    assert_int_equal(wl_store_run_heartbeat(r, 50), 0);

    wl_store *other = open_at(f->path);
    assert_int_equal(wl_store_delete_run(other, id, true), 0); /* `wattlens rm` meanwhile */
    wl_store_close(other);
    assert_int_equal(wl_store_run_heartbeat(r, 50), WL_ENOENT);
    struct wl_store_section sec = {
        .phase = "measure", .name = "command", .token_index = -1, .end_ms = 1, .energy_j = 1};
    assert_int_equal(wl_store_add_section(r, &sec), WL_ENOENT);
    const char *msg = wl_store_last_error(f->s);
    assert_non_null(strstr(msg, id));
    assert_non_null(strstr(msg, "is no longer in the database: it was removed"));
    assert_null(strstr(msg, "FOREIGN KEY"));
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 1,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), WL_ENOENT);
    assert_int_equal(raw_count(f->path, "runs"), 0); /* not made again */
}

/* The flag is set as measure sets it: by a signal handler on the thread
 * that waits (a thread writing it would be a data race, as TSan says). */
static volatile sig_atomic_t g_cancel_stop;

static void on_cancel_signal(int sig)
{
    g_cancel_stop = sig;
}

struct cancel_later {
    pthread_t waiter;
    int after_ms;
};

static void *signal_later(void *p)
{
    struct cancel_later *c = p;
    usleep((useconds_t)c->after_ms * 1000);
    pthread_kill(c->waiter, SIGUSR1);
    return NULL;
}

/* A cancel flag ends a run writer's wait for the lock (60 s by default) at
 * once: `measure` sets it from its SIGTERM/SIGINT handler while its save
 * waits for another writer. */
static void test_a_cancel_flag_ends_a_wait_for_the_lock(void **state)
{
    struct fixture *f = *state;
    struct sigaction sa = {.sa_handler = on_cancel_signal}, old_sa;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old_sa), 0);
    g_cancel_stop = 0;
    wl_store_set_cancel(f->s, &g_cancel_stop);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_section sec = {
        .phase = "measure", .name = "command", .token_index = -1, .end_ms = 1, .energy_j = 1};
    struct lock_holder h = {.path = f->path, .hold_ms = 2500};
    pthread_t t, c;
    start_lock_holder(&h, &t);
    struct cancel_later cl = {.waiter = pthread_self(), .after_ms = 300};
    assert_int_equal(pthread_create(&c, NULL, signal_later, &cl), 0);
    const uint64_t t0 = wl_clock_now_ns();
    assert_int_equal(wl_store_add_section(r, &sec), WL_ECANCELED);
    const uint64_t waited = wl_clock_now_ns() - t0;
    assert_true(waited >= 250 * 1000000ull && waited < 1500 * 1000000ull);
    assert_non_null(strstr(wl_store_last_error(f->s), "stopped waiting for the database"));
    pthread_join(c, NULL);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    /* a flag that is set stops only waits: a free lock is taken */
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    assert_int_equal(wl_store_flush(r), 0);
    g_cancel_stop = 0;
    wl_store_set_cancel(f->s, NULL);
    assert_int_equal(sigaction(SIGUSR1, &old_sa, NULL), 0);
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1,
                                .energy_j = 1,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

/* Exit status of a check that cannot be made here; it says why on stderr. */
#define CHECK_SKIPPED 77

/* Runs check(dir) in a child and returns its exit status (0: passed). The
 * checks are about directories this user cannot write, but root's
 * permission override ignores modes, so as root the child first becomes
 * nobody (uid and gid 65534, no supplementary groups). Whether the child
 * then really is bound by the modes is for each check to find out
 * (read_only_or_skip): dropping privileges may be impossible (no
 * CAP_SETUID in a container), a user may hold CAP_DAC_OVERRIDE, a file
 * system may ignore modes. */
static int as_unprivileged(int (*check)(const char *dir), const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
            fprintf(stderr, "cannot become uid 65534 (%s); checking as uid %d\n", strerror(errno),
                    (int)geteuid());
        _exit(check(dir));
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

/* 0 when this process can read directory ro but not create a file in it,
 * which the read-only checks rely on; otherwise says why and returns
 * CHECK_SKIPPED. Tried, not inferred from the mode: the permission
 * override and file systems decide. */
static int read_only_or_skip(const char *ro)
{
    if (access(ro, R_OK | X_OK) != 0) {
        fprintf(stderr, "skipped: uid %d cannot read %s (%s)\n", (int)geteuid(), ro,
                strerror(errno));
        return CHECK_SKIPPED;
    }
    char probe[4300];
    snprintf(probe, sizeof probe, "%s/probe-%ld", ro, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    unlink(probe);
    fprintf(stderr, "skipped: uid %d can write %s although its mode forbids it\n", (int)geteuid(),
            ro);
    return CHECK_SKIPPED;
}

static int check_read_only_dir(const char *dir)
{
    char path[4200];
    struct wl_errmsg e = {{0}};
    snprintf(path, sizeof path, "%s/ro", dir);
    if (read_only_or_skip(path) != 0)
        return CHECK_SKIPPED;
    snprintf(path, sizeof path, "%s/ro/w.db", dir);
    int rc = try_open(path, 100, &e); /* existing file, writable, in a read-only directory */
    if (rc != WL_EACCES || !strstr(e.text, path) || !strstr(e.text, "permissions"))
        return fprintf(stderr, "existing: %d %s\n", rc, e.text), 10;
    snprintf(path, sizeof path, "%s/ro/new.db", dir);
    rc = try_open(path, 100, &e); /* a new file: the directory is what is wrong */
    if (rc != WL_EACCES || !strstr(e.text, path) ||
        !strstr(e.text, "cannot create the database: its directory") ||
        !strstr(e.text, "/ro is not writable by this user"))
        return fprintf(stderr, "new: %d %s\n", rc, e.text), 11;
    snprintf(path, sizeof path, "%s/ro/sub/new.db", dir);
    rc = try_open(path, 100, &e);
    if (rc != WL_EACCES || !strstr(e.text, "cannot create directory"))
        return fprintf(stderr, "subdir: %d %s\n", rc, e.text), 12;
    return 0;
}

static void test_read_only_directory_is_a_clear_error(void **state)
{
    struct fixture *f = *state;
    char ro[4200], path[4300];
    snprintf(ro, sizeof ro, "%s/ro", f->dir);
    snprintf(path, sizeof path, "%s/w.db", ro);
    wl_store *s = open_at(path);
    char id[37];
    struct run_spec sp = {.created_at_ms = T0_MS, .duration_ms = 1, .energy_j = 1};
    make_run(s, &sp, id);
    wl_store_close(s); /* last close checkpoints and removes -wal and -shm */
    size_t n0, n;
    char *before = snapshot(path, &n0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_int_equal(chmod(path, 0666), 0);
    assert_int_equal(chmod(ro, 0555), 0);
    int rc = as_unprivileged(check_read_only_dir, f->dir);
    assert_int_equal(chmod(ro, 0755), 0);
    if (rc == CHECK_SKIPPED) {
        free(before);
        skip();
    }
    assert_int_equal(rc, 0);
    char *after = snapshot(path, &n);
    assert_int_equal(n, n0);
    assert_memory_equal(after, before, n);
    free(before);
    free(after);
}

/* The directories of test_read_only_directory_is_readable, under the
 * fixture's: each made read-only, each holding a database w.db. */
static const char *const read_only_subdirs[] = {"merged #1?50%", "live", "with_shm", "no_shm",
                                                "unreadable"};

/* Opens path read-only and counts its runs; a writer must be refused. */
static int read_only_count(const char *path, int64_t *n_runs, struct wl_errmsg *e)
{
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.read_only = true;
    wl_store *s = NULL;
    int rc = wl_store_open(&p, &s, e);
    if (rc == 0) {
        struct wl_run_list l;
        rc = wl_store_list_runs(s, NULL, WL_SORT_DATE, 0, 0, &l);
        if (rc == 0)
            *n_runs = l.total;
        wl_run_list_free(&l);
        struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE};
        wl_store_run *r = NULL;
        char id[37];
        if (rc == 0 && wl_store_run_begin(s, &info, &r, id) != WL_EACCES)
            rc = -1;
    }
    wl_store_close(s);
    return rc;
}

static int check_reads_in_read_only_dirs(const char *dir)
{
    char path[4200];
    struct wl_errmsg e = {{0}};
    int64_t n = -1;
    for (size_t i = 0; i < sizeof read_only_subdirs / sizeof read_only_subdirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, read_only_subdirs[i]);
        if (read_only_or_skip(path) != 0)
            return CHECK_SKIPPED;
    }
    snprintf(path, sizeof path, "%s/unreadable/w.db-wal", dir);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        close(fd);
        fprintf(stderr, "skipped: uid %d can read %s although its mode forbids it\n",
                (int)geteuid(), path);
        return CHECK_SKIPPED;
    }
    /* The log was merged at close: the file alone is the whole database
     * (read through a file: URI, so the name's '#', '?' and '%' must be
     * escaped). */
    snprintf(path, sizeof path, "%s/merged #1?50%%/w.db", dir);
    int rc = read_only_count(path, &n, &e);
    if (rc != 0 || n != 1)
        return fprintf(stderr, "merged: %d, %lld runs, %s\n", rc, (long long)n, e.text), 20;
    rc = try_open(path, 100, &e); /* a writer still cannot use it, and says why */
    if (rc != WL_EACCES || !strstr(e.text, path) || !strstr(e.text, "directory is not writable"))
        return fprintf(stderr, "merged, writer: %d %s\n", rc, e.text), 21;
    /* A log with its index, as a live or killed writer leaves them. */
    snprintf(path, sizeof path, "%s/with_shm/w.db", dir);
    rc = read_only_count(path, &n, &e);
    if (rc != 0 || n != 2)
        return fprintf(stderr, "with_shm: %d, %lld runs, %s\n", rc, (long long)n, e.text), 22;
    /* A log without its index: the file alone would show one run of two. */
    snprintf(path, sizeof path, "%s/no_shm/w.db", dir);
    rc = read_only_count(path, &n, &e);
    if (rc != WL_EACCES || !strstr(e.text, "no_shm/w.db-wal") || !strstr(e.text, "stale"))
        return fprintf(stderr, "no_shm: %d, %lld runs, %s\n", rc, (long long)n, e.text), 23;
    /* A log this user cannot read. */
    snprintf(path, sizeof path, "%s/unreadable/w.db", dir);
    rc = read_only_count(path, &n, &e);
    if (rc != WL_EACCES || !strstr(e.text, "unreadable/w.db-wal") || !strstr(e.text, "cannot read"))
        return fprintf(stderr, "unreadable: %d, %lld runs, %s\n", rc, (long long)n, e.text), 24;
    return 0;
}

/* Copies DIR/w.db<suffix> for each suffix into TO, readable by all. */
static void copy_db(const char *dir, const char *to, const char *const *suffixes)
{
    for (; *suffixes; suffixes++) {
        char a[4300], b[4300];
        snprintf(a, sizeof a, "%s/w.db%s", dir, *suffixes);
        snprintf(b, sizeof b, "%s/w.db%s", to, *suffixes);
        size_t n = 0;
        char *buf = snapshot(a, &n);
        assert_int_equal(wl_test_write_file(b, buf, n), 0);
        assert_int_equal(chmod(b, 0644), 0);
        free(buf);
    }
}

static void test_read_only_directory_is_readable(void **state)
{
    struct fixture *f = *state;
    wl_store_close(f->s); /* no connection crosses the fork below */
    f->s = NULL;
    char d[5][4200], path[4300];
    for (int i = 0; i < 5; i++) {
        snprintf(d[i], sizeof d[i], "%s/%s", f->dir, read_only_subdirs[i]);
        assert_int_equal(mkdir(d[i], 0755), 0);
    }
    char id[37];
    struct run_spec sp = {.created_at_ms = T0_MS, .duration_ms = 1, .energy_j = 1};
    snprintf(path, sizeof path, "%s/w.db", d[0]);
    wl_store *s = open_at(path);
    make_run(s, &sp, id);
    wl_store_close(s); /* last close merges the log and removes -wal and -shm */
    assert_int_equal(chmod(path, 0644), 0);

    /* live: the second run is only in the log while the store stays open */
    snprintf(path, sizeof path, "%s/w.db", d[1]);
    s = open_at(path);
    make_run(s, &sp, id);
    wl_store_close(s);
    s = open_at(path);
    make_run(s, &sp, id);
    copy_db(d[1], d[2], (const char *const[]){"", "-wal", "-shm", NULL});
    copy_db(d[1], d[3], (const char *const[]){"", "-wal", NULL});
    copy_db(d[1], d[4], (const char *const[]){"", "-wal", "-shm", NULL});
    wl_store_close(s);
    snprintf(path, sizeof path, "%s/w.db-wal", d[4]);
    assert_int_equal(chmod(path, 0000), 0); /* unreadable even to its owner unless root */

    /* What reading the file alone would show: the first run only. */
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "file:%s/w.db?immutable=1", d[3]);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM runs", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);

    assert_int_equal(chmod(f->dir, 0755), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(chmod(d[i], 0555), 0);
    int rc = as_unprivileged(check_reads_in_read_only_dirs, f->dir);
    for (int i = 0; i < 5; i++)
        assert_int_equal(chmod(d[i], 0755), 0);
    if (rc == CHECK_SKIPPED)
        skip();
    assert_int_equal(rc, 0);
}

/* A database in a directory anyone can write (a sticky /tmp), whose file
 * this user cannot write: readers (a read-write open refused, then the
 * read-only one) must leave no -wal or -shm behind, or the owner could no
 * longer write it (SQLite gives them the reader's uid and the file's mode)
 * nor, in a sticky directory, remove them. */
static int check_reader_creates_no_companion(const char *dir)
{
    char path[4200], side[4300];
    struct wl_errmsg e = {{0}};
    snprintf(path, sizeof path, "%s/shared/many.db", dir);
    if (access(path, W_OK) == 0) {
        fprintf(stderr, "skipped: uid %d can write %s although its mode forbids it\n",
                (int)geteuid(), path);
        return CHECK_SKIPPED;
    }
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.no_create = true;
    wl_store *s = NULL;
    int rc = wl_store_open(&p, &s, &e); /* what `runs` tries first */
    if (rc != WL_EACCES || !strstr(e.text, "read-only"))
        return fprintf(stderr, "read-write: %d %s\n", rc, e.text), 30;
    int64_t n = -1;
    rc = read_only_count(path, &n, &e); /* then this */
    if (rc != 0 || n != 1)
        return fprintf(stderr, "read-only: %d, %lld runs, %s\n", rc, (long long)n, e.text), 31;
    static const char *const sides[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", path, sides[i]);
        if (access(side, F_OK) == 0)
            return fprintf(stderr, "a reader left %s\n", side), 32;
    }
    /* with a writer's log and index (copied: a killed writer's), the reader
     * uses them, sees the run only the log holds, and adds nothing */
    snprintf(path, sizeof path, "%s/shared/live.db", dir);
    rc = read_only_count(path, &n, &e);
    if (rc != 0 || n != 2)
        return fprintf(stderr, "live: %d, %lld runs, %s\n", rc, (long long)n, e.text), 33;
    snprintf(side, sizeof side, "%s-journal", path);
    if (access(side, F_OK) == 0)
        return fprintf(stderr, "a reader left %s\n", side), 34;
    return 0;
}

static void test_a_reader_that_cannot_write_creates_no_files(void **state)
{
    struct fixture *f = *state;
    wl_store_close(f->s); /* no connection crosses the fork below */
    f->s = NULL;
    char shared[4200], path[4400], side[4500];
    snprintf(shared, sizeof shared, "%s/shared", f->dir);
    assert_int_equal(mkdir(shared, 0755), 0);
    snprintf(path, sizeof path, "%s/many.db", shared);
    char id[37];
    struct run_spec sp = {.created_at_ms = T0_MS, .duration_ms = 1, .energy_j = 1};
    wl_store *s = open_at(path);
    make_run(s, &sp, id);
    wl_store_close(s); /* merged: no -wal, no -shm */
    /* live.db: its second run only in the log, as a killed writer leaves it */
    char live[4300];
    snprintf(live, sizeof live, "%s/live", f->dir);
    assert_int_equal(mkdir(live, 0755), 0);
    snprintf(path, sizeof path, "%s/w.db", live);
    s = open_at(path);
    make_run(s, &sp, id);
    wl_store_close(s);
    s = open_at(path);
    make_run(s, &sp, id);
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        snprintf(side, sizeof side, "%s/w.db%s", live, sfx[i]);
        char *buf = snapshot(side, &n);
        snprintf(side, sizeof side, "%s/live.db%s", shared, sfx[i]);
        assert_int_equal(wl_test_write_file(side, buf, n), 0);
        assert_int_equal(chmod(side, 0444), 0);
        free(buf);
    }
    wl_store_close(s);
    snprintf(path, sizeof path, "%s/many.db", shared);
    assert_int_equal(chmod(path, 0444), 0); /* as root, the child is another user too */
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_int_equal(chmod(shared, 01777), 0);
    int rc = as_unprivileged(check_reader_creates_no_companion, f->dir);
    assert_int_equal(chmod(shared, 0755), 0);
    if (rc == CHECK_SKIPPED)
        skip();
    assert_int_equal(rc, 0);
    /* and the owner still writes it */
    assert_int_equal(chmod(path, 0644), 0);
    s = open_at(path);
    make_run(s, &sp, id);
    wl_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_directories_and_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_an_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_a_version_1_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_and_no_create_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_leave_an_empty_file_alone, setup, teardown),
        cmocka_unit_test(test_default_path_order),
        cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_is_caseless_for_unicode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_matches_invalid_bytes_as_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pagination_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sorts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_unfinished_run_is_listed_from_its_rows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resolve_id_prefixes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_cascades_a_run_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_run_removes_only_that_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_run_refuses_a_live_run_unless_forced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_with_a_dead_run_and_the_lock_held_elsewhere,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreach_reads_each_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_rejects_orphans_and_bad_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batched_metrics_name_a_bad_row_and_keep_the_rest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_component_aggregates_in_and_out_of_the_grid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_component_aggregates_keep_a_long_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batches_commit_on_flush_and_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_threads_share_a_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_dry_run_then_real, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_keeps_what_it_removed_when_it_stops, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gc_compacts_through_a_file_only_after_removing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_mid_run_leaves_an_incomplete_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refuses_a_file_that_is_not_a_database, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refuses_a_newer_schema_without_touching_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_truncated_database_is_called_damaged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_locked_database_is_a_clear_busy_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_run_writer_waits_for_the_lock_past_the_busy_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_live_writer_on_this_host_needs_no_heartbeat, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_reused_pid_is_not_the_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_hosts_run_lives_by_its_heartbeat, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_waits_briefly_and_a_removed_run_says_so,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_cancel_flag_ends_a_wait_for_the_lock, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_only_directory_is_a_clear_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_directory_is_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_reader_that_cannot_write_creates_no_files, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

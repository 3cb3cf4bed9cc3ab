/* store/: opening (directories, read-only and no-create modes, readers
 * leaving an empty file alone, the default path), migrations, writing a run
 * (batches and their flush interval, bad rows, per-component sums, two
 * threads sharing a writer), every query (filters, caseless search beyond
 * ASCII and over invalid UTF-8, pagination, sorts, id prefixes, an
 * unfinished run, rows per level, one read snapshot), cascade delete, and
 * retention with its compaction. Damaged and locked databases, whose writer is alive and
 * read-only directories are in test_store_robust.c; the shared fixture is
 * tests/support/store_fixture.h.
 */
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "store/sqlite_impl.h"
#include "store/sqlite_schema.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS (86400LL * 1000)

static void test_open_creates_directories_and_reopens(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_store_stats st;
    assert_int_equal(wl_store_stats(f->s, &st), 0);
    assert_int_equal(st.schema_version, WL_STORE_SCHEMA_VERSION);
    assert_int_equal(st.runs, 0);
    char id[37];
    struct wl_test_run_spec sp = {
        .created_at_ms = WL_TEST_T0_MS, .model = "m", .duration_ms = 5, .energy_j = 2};
    wl_test_store_make_run(f->s, &sp, id);
    wl_store_close(f->s);
    f->s = wl_test_store_open(f->path);
    assert_int_equal(wl_store_stats(f->s, &st), 0);
    assert_int_equal(st.runs, 1);
    assert_true(st.file_bytes > 0);
    char full[37];
    assert_int_equal(wl_store_resolve_id(f->s, id, full), 0);
    assert_string_equal(full, id);
}

static void test_read_only_and_no_create_modes(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    struct wl_test_run_spec sp = {
        .created_at_ms = WL_TEST_T0_MS, .model = "m", .duration_ms = 5, .energy_j = 2};
    wl_test_store_make_run(f->s, &sp, id);
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
    struct wl_test_store_fixture *f = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/empty.db", f->dir);
    assert_int_equal(wl_test_write_file(path, "", 0), 0);
    wl_store *s = wl_test_store_open(path);
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
    struct wl_test_store_fixture *f = *state;
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
    struct wl_test_store_fixture *f = *state;
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

    wl_store *s = wl_test_store_open(path);
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
    /* every variable it reads is set here (HOME too: CI or `env -i` may
     * have none), and put back as it was */
    char *old_db = getenv("WATTLENS_DB") ? strdup(getenv("WATTLENS_DB")) : NULL;
    char *old_xdg = getenv("XDG_DATA_HOME") ? strdup(getenv("XDG_DATA_HOME")) : NULL;
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("WATTLENS_DB", "/x/y.db", 1);
    setenv("XDG_DATA_HOME", "/data", 1);
    setenv("HOME", "/home/wl-test", 1);
    assert_int_equal(wl_store_default_path(buf, sizeof buf), 0);
    assert_string_equal(buf, "/x/y.db");
    unsetenv("WATTLENS_DB");
    assert_int_equal(wl_store_default_path(buf, sizeof buf), 0);
    assert_string_equal(buf, "/data/wattlens/wattlens.db");
    unsetenv("XDG_DATA_HOME");
    assert_int_equal(wl_store_default_path(buf, sizeof buf), 0);
    assert_string_equal(buf, "/home/wl-test/.local/share/wattlens/wattlens.db");
    assert_int_equal(wl_store_default_path(buf, 5), WL_ERANGE);
    /* no home: no default, not a path relative to the working directory */
    setenv("HOME", "", 1);
    assert_int_equal(wl_store_default_path(buf, sizeof buf), WL_ENOENT);
    unsetenv("HOME");
    assert_int_equal(wl_store_default_path(buf, sizeof buf), WL_ENOENT);
    /* an open without a path then fails with its own code, not the
     * WL_ENOENT of a missing file (which the CLI explains as "nothing
     * was recorded there yet") */
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.no_create = true;
    wl_store *s = NULL;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &s, &e), WL_EINVAL);
    assert_null(s);
    assert_non_null(strstr(e.text, "cannot find a default database path"));
    if (old_db)
        setenv("WATTLENS_DB", old_db, 1);
    if (old_xdg)
        setenv("XDG_DATA_HOME", old_xdg, 1);
    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_db);
    free(old_xdg);
    free(old_home);
}

/* Five runs with distinct attributes, created a day apart (ids[0] oldest). */
static void make_five(wl_store *s, char ids[5][37])
{
    const struct wl_test_run_spec specs[5] = {
        {WL_TEST_T0_MS + 0 * DAY_MS,
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
        {WL_TEST_T0_MS + 1 * DAY_MS,
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
        {WL_TEST_T0_MS + 2 * DAY_MS,
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
        {WL_TEST_T0_MS + 3 * DAY_MS, NULL, NULL, NULL, "sleep 1", {NULL}, 50, 10, 0, 0, 0},
        {WL_TEST_T0_MS + 4 * DAY_MS,
         "qwen2",
         "exp-b",
         "hello",
         NULL,
         {"q4"},
         400,
         30,
         3,
         0,
         WL_RUN_FAILED},
    };
    for (int i = 0; i < 5; i++)
        wl_test_store_make_run(s, &specs[i], ids[i]);
}

static void expect_ids(const struct wl_run_list *l, char ids[5][37], const int *want, size_t n)
{
    assert_int_equal(l->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->rows[i].id, ids[want[i]]);
}

static void test_list_filters(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    struct wl_run_list l;
    struct wl_store_filter flt = {0};

    flt.model = "LLAMA";
    assert_int_equal(wl_store_list_runs(f->s, &flt, WL_SORT_DATE, 0, 0, &l), 0);
    expect_ids(&l, ids, (int[]){1, 0}, 2);
    assert_int_equal(l.total, 2);
    wl_run_list_free(&l);
    /* the count alone, without reading a row (`runs` when nothing matched) */
    int64_t n = -1;
    assert_int_equal(wl_store_count_runs(f->s, &flt, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(wl_store_count_runs(f->s, NULL, &n), 0);
    assert_int_equal(n, 5);

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
    flt.since_ms = WL_TEST_T0_MS + 1 * DAY_MS; /* inclusive */
    flt.until_ms = WL_TEST_T0_MS + 3 * DAY_MS; /* exclusive */
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
    flt = (struct wl_store_filter){.until_ms = WL_TEST_T0_MS};
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
    struct wl_test_store_fixture *f = *state;
    static const char *const prompts[] = {
        "Une école à Paris",
        "Die STRASSE",
        "eine Straße",
        "\xff\xfe\u00c9COLE brute",         /* invalid UTF-8, then "ÉCOLE" */
        "E\u0301cole d\u00e9compos\u00e9e", /* "É" as E + combining acute */
    };
    char ids[5][37];
    for (int i = 0; i < 5; i++) {
        struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS + i * DAY_MS,
                                      .model = i == 0 ? "Ærø-7B" : "llama",
                                      .prompt = prompts[i],
                                      .duration_ms = 1,
                                      .energy_j = 1};
        wl_test_store_make_run(f->s, &sp, ids[i]);
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
    struct wl_test_store_fixture *f = *state;
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
        struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS + i * DAY_MS,
                                      .model = i == 0 ? "m\x80x" : "llama",
                                      .prompt = prompts[i],
                                      .duration_ms = 1,
                                      .energy_j = 1};
        wl_test_store_make_run(f->s, &sp, ids[i]);
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
    struct wl_test_store_fixture *f = *state;
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
    struct wl_test_store_fixture *f = *state;
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
    struct wl_test_store_fixture *f = *state;
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
    struct wl_test_store_fixture *f = *state;
    char id[37], got[37];
    struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS, .duration_ms = 1, .energy_j = 1};
    wl_test_store_make_run(f->s, &sp, id);
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
                struct wl_store_component_metric cm =
                    wl_test_component_row(t, l, c, c ? "ffn" : "attn", 0.2, 0.1);
                assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
                for (int o = 0; o < 2; o++) {
                    struct wl_store_op_metric om = wl_test_op_row(t, l, c, o, "softmax", 0.1, 0.05);
                    om.n_heads = 2;
                    om.head_entropy = heads;
                    om.entropy = 0.375;
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

static const char *const all_tables[] = {
    "runs",   "run_tags",      "run_domains",       "power_samples", "sections",
    "tokens", "layer_metrics", "component_metrics", "op_metrics",    "component_agg",
};
static const int64_t deep_rows[] = {1, 1, 1, 1, 1, 2, 4, 8, 16, 4};

static void test_schema_cascades_a_run_delete(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    make_deep(f->s, id);
    for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++)
        assert_int_equal(wl_test_store_raw_count(f->path, all_tables[i]), deep_rows[i]);
    /* Any client deleting the run row takes everything under it along. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA foreign_keys = ON; DELETE FROM runs", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++)
        assert_int_equal(wl_test_store_raw_count(f->path, all_tables[i]), 0);
}

static void test_delete_run_removes_only_that_run(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char a[37], b[37];
    make_deep(f->s, a);
    make_deep(f->s, b);
    assert_int_equal(wl_store_delete_run(f->s, a, false), 0);
    for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++)
        assert_int_equal(wl_test_store_raw_count(f->path, all_tables[i]), deep_rows[i]);
    assert_int_equal(wl_store_delete_run(f->s, a, false), WL_ENOENT);
    char got[37];
    assert_int_equal(wl_store_resolve_id(f->s, b, got), 0);
}

/* A run still being recorded (its writer, this process, is alive) is not
 * deleted unless asked to be (old: `wattlens rm` deleted a live measure's
 * row, and its save then failed). */
static void test_delete_run_refuses_a_live_run_unless_forced(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store *other = wl_test_store_open(f->path);
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
    struct wl_test_store_fixture *f = *state;
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

/* Adds output tokens first..first+n-1 to a run being written and commits. */
static void add_output_tokens(wl_store_run *r, int first, int n)
{
    wl_test_store_add_tokens(r, first, n, 0, 1, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_flush(r), 0);
}

static int count_row(void *user, size_t n, const char *const *names,
                     const struct wl_store_value *v)
{
    (void)n, (void)names, (void)v;
    ++*(int *)user;
    return 0;
}

/* wl_store_read_begin holds one snapshot: what another connection commits
 * after it is not seen, by any query, until wl_store_read_end. */
static void test_read_snapshot_hides_later_commits(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m"};
    char id[37];
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    add_output_tokens(r, 0, 3);
    wl_store *reader = wl_test_store_open(f->path);
    assert_int_equal(wl_store_read_begin(reader), 0);
    assert_int_equal(wl_store_read_begin(reader), WL_ESTATE); /* one at a time */
    add_output_tokens(r, 3, 5); /* committed after the snapshot was taken */
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(reader, id, &a), 0);
    assert_int_equal(a.tokens.n_output, 3);
    wl_store_aggregates_free(&a);
    int rows = 0;
    assert_int_equal(wl_store_foreach(reader, id, WL_TABLE_TOKENS, -1, -1, count_row, &rows), 0);
    assert_int_equal(rows, 3);
    wl_store_read_end(reader);
    assert_int_equal(wl_store_summary(reader, id, &a), 0);
    assert_int_equal(a.tokens.n_output, 8);
    wl_store_aggregates_free(&a);
    wl_store_read_end(reader); /* none open: nothing to do */
    wl_store_close(reader);
    wl_store_run_abandon(r);
}

static void test_writer_rejects_orphans_and_bad_json(void **state)
{
    struct wl_test_store_fixture *f = *state;
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
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_token t = {
        .index = 0, .energy_j = 1, .start_ms = 0, .end_ms = 1, .power_w = WL_STORE_UNSET};
    assert_int_equal(wl_store_add_token(r, &t), 0);
    struct wl_store_layer_metric lm = {0, 0, 1, 1};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
    struct wl_store_component_metric cm = wl_test_component_row(0, 0, 0, "attn", 1, 1);
    assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
    int rc = 0;
    for (int o = 0; o < 200 && rc == 0; o++) {
        /* op 70 is of component 5, which does not exist */
        struct wl_store_op_metric om = wl_test_op_row(0, 0, o == 70 ? 5 : 0, o, "qk", 0.1, 0.1);
        rc = wl_store_add_op_metric(r, &om);
    }
    assert_int_equal(rc, WL_EINVAL); /* reported when its batch (ops 64..127) is inserted */
    assert_non_null(strstr(wl_store_last_error(f->s), "op 70 (qk) of component 5"));
    assert_int_equal(wl_store_flush(r), 0);
    assert_int_equal(wl_test_store_raw_count(f->path, "op_metrics"), 127); /* 0..127 but 70 */
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
    assert_int_equal(wl_test_store_raw_count(f->path, "op_metrics"), 127);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.rows[0].status, WL_RUN_COMPLETE);
    wl_run_list_free(&l);
}

/* Per-component sums kept while writing, and the SQL fallback used when a
 * component id is outside the in-memory grid, give the same aggregates. */
static void test_component_aggregates_in_and_out_of_the_grid(void **state)
{
    struct wl_test_store_fixture *f = *state;
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
            struct wl_store_component_metric cm = wl_test_component_row(
                t, 2, big ? 100 : 7, "mlp", 0.5 * (t + 1), t == 1 ? WL_STORE_UNSET : 0.25);
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
    assert_int_equal(wl_test_store_raw_count(f->path, "component_agg"), 2);
}

/* The sums kept while writing hold short names (the engine's); a longer
 * one sends finishing to SQL, so component_agg keeps it whole rather than
 * cut (and a cut could end inside a character). */
static void test_component_aggregates_keep_a_long_name(void **state)
{
    struct wl_test_store_fixture *f = *state;
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
    struct wl_store_component_metric cm = wl_test_component_row(0, 0, 3, name, 1, 1);
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
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "x"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    assert_int_equal(wl_test_store_raw_count(f->path, "runs"),
                     1); /* the run row is there at once */
    wl_store_run_set_flush_interval(r, 60000);
    struct wl_store_sample smp[3] = {{.t_ms = 0}, {.t_ms = 10}, {.t_ms = 20}};
    assert_int_equal(wl_store_add_samples(r, smp, 3), 0);
    assert_int_equal(wl_test_store_raw_count(f->path, "power_samples"), 0);
    assert_int_equal(wl_store_flush(r), 0);
    assert_int_equal(wl_test_store_raw_count(f->path, "power_samples"), 3);
    wl_store_run_set_flush_interval(r, 1);
    assert_int_equal(wl_store_add_samples(r, smp, 1), 0);
    usleep(3000);
    assert_int_equal(wl_store_add_samples(r, smp, 1), 0); /* batch is older than 1 ms */
    assert_int_equal(wl_test_store_raw_count(f->path, "power_samples"), 5);
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
    struct wl_test_store_fixture *f = *state;
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
    assert_int_equal(wl_test_store_raw_count(f->path, "power_samples"), 200);
    assert_int_equal(wl_test_store_raw_count(f->path, "tokens"), 200);
    struct wl_run_list l;
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 0, 0, &l), 0);
    assert_int_equal(l.rows[0].output_tokens, 200);
    assert_float_equal(l.rows[0].j_per_token, 1.0, 1e-12);
    wl_run_list_free(&l);
}

static void test_gc_dry_run_then_real(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE,
                               .created_at_ms = WL_TEST_T0_MS - DAY_MS};
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
        .keep = -1, .max_age_days = 2.5, .has_now = true, .now_ms = WL_TEST_T0_MS + 4 * DAY_MS};
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

/* gc deletes one run per transaction: a run it cannot delete stops it,
 * and the runs deleted before stay deleted and are listed (they were
 * rolled back with it, and the list thrown away). The trigger stands for
 * any error of a deletion (a writer holding the lock past the timeout, a
 * full disk). */
static void test_gc_keeps_what_it_removed_when_it_stops(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER refuse BEFORE DELETE ON runs WHEN old.uuid = '%s' "
             "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
             ids[1]);
    wl_test_store_raw_exec(f->path, sql);
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
    struct wl_test_store_fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    /* 64 MB of filler, half of it freed: 32 MB live, 32 MB free pages */
    wl_test_store_raw_exec(
        f->path, "CREATE TABLE filler(b BLOB); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
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

/* gc's compaction lowers the connection's page cache and moves its temp
 * store to a file for the VACUUM only: it gives back both settings as they
 * were, whatever they were (not the open's values, copied: here a temp
 * store at FILE and a 4 MB cache came back as MEMORY). Through the SQLite
 * backend's ops, to reach the connection. */
static void test_gc_gives_back_the_connection_settings(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char ids[5][37];
    make_five(f->s, ids);
    wl_store_close(f->s);
    f->s = NULL;
    struct wl_store_params sp;
    wl_store_default_params(&sp);
    struct wl_errmsg err;
    void *db = NULL;
    char made[WL_STORE_PATH_MAX];
    assert_int_equal(wl__store_sqlite_ops.open(&sp, f->path, &db, made, &err), 0);
    sqlite3 *conn = ((struct wl__db *)db)->db;
    assert_int_equal(
        sqlite3_exec(conn, "PRAGMA temp_store = FILE; PRAGMA cache_size = -4000", NULL, NULL, NULL),
        SQLITE_OK);
    struct wl_gc_params p = {.keep = 2, .max_age_days = -1};
    struct wl_gc_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(wl__store_sqlite_ops.gc(db, &p, &res, &err), 0);
    assert_int_equal(res.removed.n, 3);
    assert_int_equal(res.compaction, WL_GC_COMPACTED);
    wl_gc_result_free(&res);
    int64_t v = 0;
    assert_int_equal(wl__pragma_int(db, "PRAGMA temp_store", &v, &err), 0);
    assert_int_equal(v, 1); /* FILE */
    assert_int_equal(wl__pragma_int(db, "PRAGMA cache_size", &v, &err), 0);
    assert_int_equal(v, -4000);
    wl__store_sqlite_ops.close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_directories_and_reopens,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_migrates_an_empty_file, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_migrates_a_version_1_database, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_and_no_create_modes, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_readers_leave_an_empty_file_alone, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test(test_default_path_order),
        cmocka_unit_test_setup_teardown(test_list_filters, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_search_is_caseless_for_unicode, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_search_matches_invalid_bytes_as_bytes,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_pagination_edges, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_sorts, wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_an_unfinished_run_is_listed_from_its_rows,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_resolve_id_prefixes, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_schema_cascades_a_run_delete, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_delete_run_removes_only_that_run, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_delete_run_refuses_a_live_run_unless_forced,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_read_snapshot_hides_later_commits,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_foreach_reads_each_level, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_writer_rejects_orphans_and_bad_json,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_batched_metrics_name_a_bad_row_and_keep_the_rest,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_component_aggregates_in_and_out_of_the_grid,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_component_aggregates_keep_a_long_name,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_batches_commit_on_flush_and_interval,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_two_threads_share_a_writer, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_gc_dry_run_then_real, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_gc_keeps_what_it_removed_when_it_stops,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_gc_gives_back_the_connection_settings,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_gc_compacts_through_a_file_only_after_removing,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

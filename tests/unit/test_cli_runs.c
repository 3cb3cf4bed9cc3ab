/* The runs command end to end: its filters (model, tag, experiment,
 * search, time bounds and ages), sort, pages and footer, the JSON list,
 * the table's cells padded by display width, a run that never finished
 * listed as partial, an infinite stored figure shown as n/a without a
 * mark, and its usage errors. The fixture's runs
 * (cli_store_fixture.h) are written through the store API, then the real
 * `wattlens` binary reads them.
 */
#include "cli_store_fixture.h"
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *run_id_at(json_t *runs, size_t i)
{
    return json_string_value(json_object_get(json_array_get(runs, i), "id"));
}

static void test_runs_json_filters_sorts_and_pages(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    json_t *j = wl_test_cli_db_json(f, "runs", "--json");
    json_t *runs = json_object_get(j, "runs");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
    assert_int_equal(json_array_size(runs), 3);
    assert_string_equal(run_id_at(runs, 0), f->ids[2]); /* newest first */
    json_t *r0 = json_array_get(runs, 0);
    assert_string_equal(json_string_value(json_object_get(r0, "status")), "complete");
    assert_string_equal(json_string_value(json_object_get(r0, "energy_method")), "model_estimate");
    assert_int_equal(json_integer_value(json_object_get(r0, "output_tokens")), 2);
    assert_float_equal(json_real_value(json_object_get(r0, "j_per_token")), 20, 1e-9);
    wl_test_check_run_identity(r0, f->ids[2], "2023-11-16T22:13:20.000Z");
    json_decref(j);

    j = wl_test_cli_db_json(f, "runs", "--json --model llama --tag a --sort jpt");
    runs = json_object_get(j, "runs");
    assert_int_equal(json_array_size(runs), 2);
    assert_string_equal(run_id_at(runs, 0), f->ids[0]); /* 5 J/token before 20 */
    json_decref(j);

    j = wl_test_cli_db_json(f, "runs", "--json --since 2023-11-15 --until 2023-11-16T12:00");
    runs = json_object_get(j, "runs");
    assert_int_equal(json_array_size(runs), 1);
    assert_string_equal(run_id_at(runs, 0), f->ids[1]);
    json_decref(j);

    j = wl_test_cli_db_json(f, "runs", "--json --since 100000d --until 1d"); /* ages */
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
    json_decref(j);
    j = wl_test_cli_db_json(f, "runs", "--json --since 2h");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    json_decref(j);

    j = wl_test_cli_db_json(f, "runs", "--json --sort energy --limit 1 --offset 1");
    runs = json_object_get(j, "runs");
    assert_int_equal(json_array_size(runs), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
    assert_string_equal(run_id_at(runs, 0), f->ids[0]); /* 40, [10], 4 */
    json_decref(j);

    j = wl_test_cli_db_json(f, "runs", "--json --search 'SKY BLUE' --experiment nope");
    assert_int_equal(json_array_size(json_object_get(j, "runs")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    json_decref(j);
}

static void test_runs_table_and_usage_errors(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    char *out = NULL, *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "runs", "", &out, &err), 0);
    char prefix[9];
    memcpy(prefix, f->ids[1], 8);
    prefix[8] = '\0';
    assert_non_null(strstr(out, prefix));
    assert_non_null(strstr(out, "phi-tiny"));
    assert_non_null(strstr(out, "\nruns 1-3 of 3. 'wattlens show ID'"));
    free(out);
    free(err);
    /* the footer counts grammatically: one run of one, one of many, a page */
    static const struct {
        const char *args, *footer;
    } pages[] = {
        {"--model phi", "\n1 of 1 run. "},
        {"--limit 1 --offset 1", "\nrun 2 of 3. "},
        {"--limit 2 --offset 1", "\nruns 2-3 of 3. "},
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        assert_int_equal(wl_test_cli_db(f, "runs", pages[i].args, &out, &err), 0);
        if (!strstr(out, pages[i].footer))
            fail_msg("runs %s: no '%s' in\n%s", pages[i].args, pages[i].footer + 1, out);
        free(out);
        free(err);
    }
    assert_int_equal(wl_test_cli_db(f, "runs", "--sort size", &out, &err), 2);
    assert_non_null(strstr(err, "--sort"));
    free(out);
    free(err);
    assert_int_equal(wl_test_cli_db(f, "runs", "--since yesterday", &out, &err), 2);
    assert_non_null(strstr(err, "invalid time 'yesterday' for --since"));
    free(out);
    free(err);
    assert_int_equal(wl_test_cli_db(f, "runs", "--limit -3", &out, &err), 2);
    free(out);
    free(err);
}

/* Times at or before 1970 bound like any other (they are not "no bound"),
 * ages are a number with an optional fraction and a unit, dates are real
 * days, and an age reaching before the year 0000 is refused (exit 2). */
static void test_runs_time_bounds(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    static const struct {
        const char *args;
        int total;
    } ok[] = {
        {"--until 1970-01-01", 0},
        {"--until 100000d", 0},
        {"--until 1969-07-20", 0},
        {"--until 1970-01-02", 0},
        {"--since 1969-07-20", 3},
        {"--since 0000-01-01", 3},
        {"--since 1.5h", 0},
        {"--since 2024-02-29", 0},
        {"--since 2000-02-29T23:59:60Z", 3},
        {"--until 2023-11-15T00:00", 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char args[128];
        snprintf(args, sizeof args, "--json %s", ok[i].args);
        json_t *j = wl_test_cli_db_json(f, "runs", args);
        if (json_integer_value(json_object_get(j, "total")) != ok[i].total)
            fail_msg("runs %s: %lld runs, want %d", ok[i].args,
                     (long long)json_integer_value(json_object_get(j, "total")), ok[i].total);
        json_decref(j);
    }
    static const char *const bad[] = {
        "--since 2026-02-30", "--since 2023-02-29", "--since 1900-02-29",
        "--since 2026-04-31", "--since 2026-13-01", "--since 2026-00-10",
        "--since 26-01-01",   "--since 2026-1-5",   "--since 2026-01-01T24:00",
        "--since 1e3d",       "--since 1e30d",      "--since 0x10h",
        "--since 1.d",        "--since .5d",        "--since -1d",
        "--since 7",          "--until 7dd",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = NULL, *err = NULL;
        int rc = wl_test_cli_db(f, "runs", bad[i], &out, &err);
        if (rc != 2 || !strstr(err, "invalid time"))
            fail_msg("runs %s: exit %d, stderr '%s'", bad[i], rc, err ? err : "");
        free(out);
        free(err);
    }
    char *out = NULL, *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "runs", "--since 99999999999999999999d", &out, &err), 2);
    assert_non_null(strstr(err, "reaches before the year 0000"));
    free(out);
    free(err);
    assert_int_equal(wl_test_cli_db(f, "runs", "--since 1970-01-02 --until 1970-01-01", &out, &err),
                     2);
    assert_non_null(strstr(err, "--since must be earlier than --until"));
    free(out);
    free(err);
}

/* An empty text filter is a usage error naming its option (exit 2, nothing
 * listed), with --json too and as --opt=: it used to filter, so that
 * --tag '' or --experiment '' listed no run ("no runs match") and --model ''
 * or --search '' every run, each as if it were an answer. */
static void test_runs_refuses_an_empty_filter(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    static const char *const opts[] = {"--model", "--tag", "--experiment", "--search"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        for (int form = 0; form < 3; form++) {
            char args[64], want[64];
            snprintf(args, sizeof args, form == 2 ? "--json %s=" : "%s ''%s", opts[i],
                     form == 1 ? " --json" : "");
            snprintf(want, sizeof want, "wattlens runs: %s needs ", opts[i]);
            char *out = NULL, *err = NULL;
            int rc = wl_test_cli_db(f, "runs", args, &out, &err);
            if (rc != 2 || strncmp(err, want, strlen(want)) != 0 || !strstr(err, "(it is empty)") ||
                out[0] != '\0')
                fail_msg("runs %s: exit %d, stdout '%s', stderr '%s'", args, rc, out, err);
            free(out);
            free(err);
        }
    }
}

/* The line of the runs table that lists run id (NULL when none). */
static const char *table_line(const char *out, const char *id)
{
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, id, 8) == 0)
            return l;
    }
    return NULL;
}

/* The MODEL / COMMAND cell is 24 display columns wherever the text's bytes
 * and columns differ (wide CJK, a combining accent, a byte that is not
 * UTF-8, shown as U+FFFD); longer text is cut at a character with "...".
 * The cell starts after 51 ASCII columns (id, date, status, kind). */
static void test_runs_table_pads_by_display_width(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    static const struct {
        const char *model, *cell; /* the cell: 24 columns */
    } cases[] = {
        {"\xE6\xA8\xA1\xE5\x9E\x8B", "\xE6\xA8\xA1\xE5\x9E\x8B                    "}, /* 2 wide */
        {"cafe\xCC\x81", "cafe\xCC\x81                    "}, /* e + combining acute */
        /* a byte that is not UTF-8 escaped as show escapes it (old: U+FFFD) */
        {"a\xFF"
         "b",
         "a\\xffb                  "},
        /* 26 x e-acute (52 bytes): cut after 21 characters, not after 21 bytes */
        {"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
         "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
         "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9",
         "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
         "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9..."},
        /* 14 wide characters (28 columns): 10 fit before the dots, 1 column left */
        {"\xE6\xA8\xA1\xE5\x9E\x8B\xE6\xA8\xA1\xE5\x9E\x8B\xE6\xA8\xA1\xE5\x9E\x8B\xE6\xA8\xA1"
         "\xE5\x9E\x8B\xE6\xA8\xA1\xE5\x9E\x8B\xE6\xA8\xA1\xE5\x9E\x8B\xE6\xA8\xA1\xE5\x9E\x8B",
         "\xE6\xA8\xA1\xE5\x9E\x8B\xE6\xA8\xA1\xE5\x9E\x8B\xE6\xA8\xA1\xE5\x9E\x8B\xE6\xA8\xA1"
         "\xE5\x9E\x8B\xE6\xA8\xA1\xE5\x9E\x8B... "},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    wl_store *s = wl_test_store_open(f->db);
    char ids[N][37];
    for (int i = 0; i < N; i++) {
        const char *tags[] = {"\xE6\xA8\xA1"};
        struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                                   .created_at_ms = WL_TEST_T0_MS + (3 + i) * WL_TEST_DAY_MS,
                                   .model_name = cases[i].model,
                                   .tags = tags,
                                   .n_tags = 1};
        wl_store_run *r = NULL;
        assert_int_equal(wl_store_run_begin(s, &info, &r, ids[i]), 0);
        struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 1000, 1, WL_METHOD_COUNTER);
        assert_int_equal(wl_store_run_finish(r, &tot), 0);
    }
    wl_store_close(s);
    char *out = NULL, *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "runs", "", &out, &err), 0);
    for (int i = 0; i < N; i++) {
        const char *line = table_line(out, ids[i]);
        assert_non_null(line);
        size_t n = strlen(cases[i].cell);
        if (strncmp(line + 51, cases[i].cell, n) != 0)
            fail_msg("run %d: cell '%.*s', want '%s'", i, (int)n, line + 51, cases[i].cell);
        assert_true(strncmp(line + 51 + n, "      1.00 s  ", 14) == 0); /* DURATION next */
    }
    free(out);
    free(err);
}

/* A run that never finished (here: left running) is listed with what it
 * saved, marked partial in the table ('*' and a note) and in the JSON. */
static void test_runs_marks_an_unfinished_run_partial(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = WL_TEST_T0_MS + 3 * WL_TEST_DAY_MS,
                               .model_name = "open"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "decode",
                                   .name = "token",
                                   .token_index = 0,
                                   .start_ms = 100,
                                   .end_ms = 350,
                                   .energy_j = 3,
                                   .method = WL_METHOD_MODEL_ESTIMATE};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    struct wl_store_token tok = {
        .index = 0, .start_ms = 100, .end_ms = 350, .energy_j = 3, .power_w = WL_STORE_UNSET};
    assert_int_equal(wl_store_add_token(r, &tok), 0);
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r);
    wl_store_close(s);

    char *out = NULL, *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "runs", "", &out, &err), 0);
    const char *line = strstr(out, "\n") + 1; /* newest first: the open run */
    assert_true(strncmp(line, id, 8) == 0);
    assert_non_null(strstr(line, "250.00 ms*"));
    assert_non_null(strstr(line, "3.000 J~*")); /* a model estimate, and partial */
    assert_non_null(strstr(line, "0/1*"));
    assert_non_null(strstr(out, "\n* partial: "));
    assert_non_null(strstr(out, "\n~ estimated, not measured (model_estimate): ENERGY and "
                                "J/TOKEN come wholly or partly from\n  wattlens's CPU-time model"));
    free(out);
    free(err);
    /* its per-domain rows (energy, peak) are written when it ends */
    char b[160];
    assert_int_equal(wl_test_cli_db(f, "show", id, &out, &err), 0);
    assert_string_equal(
        wl_test_line_value(out, "peak power", b, sizeof b),
        "n/a (the run has not ended; its per-domain figures are saved when it does)");
    free(out);
    free(err);

    json_t *j = wl_test_cli_db_json(f, "runs", "--json");
    json_t *r0 = json_array_get(json_object_get(j, "runs"), 0);
    assert_string_equal(json_string_value(json_object_get(r0, "status")), "running");
    assert_true(json_is_true(json_object_get(r0, "partial")));
    assert_float_equal(json_real_value(json_object_get(r0, "duration_ms")), 250, 1e-9);
    assert_float_equal(json_real_value(json_object_get(r0, "energy_j")), 3, 1e-9);
    assert_string_equal(json_string_value(json_object_get(r0, "energy_method")), "model_estimate");
    assert_int_equal(json_integer_value(json_object_get(r0, "output_tokens")), 1);
    assert_float_equal(json_real_value(json_object_get(r0, "j_per_token")), 3, 1e-9);
    json_t *r1 = json_array_get(json_object_get(j, "runs"), 1);
    assert_true(json_is_false(json_object_get(r1, "partial")));
    json_decref(j);

    /* its writer gone (another boot's process): incomplete, also partial,
     * and it will never save them */
    wl_test_store_raw_exec(f->db, "UPDATE runs SET writer_start = 'another-boot/12345'");
    assert_int_equal(wl_test_cli_db(f, "show", id, &out, &err), 0);
    assert_string_equal(wl_test_line_value(out, "peak power", b, sizeof b),
                        "n/a (the run stopped before its per-domain figures were saved)");
    assert_non_null(strstr(out, "writer stopped before it finished"));
    free(out);
    free(err);
}

/* An infinite stored figure (a hand edit, another writer: SQLite keeps
 * it) is no figure: the table prints n/a without the estimate mark '~',
 * as runs --json gives null (old: "n/a~", marked because it was not NaN).
 * The fixture's runs are model estimates. */
static void test_runs_does_not_mark_an_infinite_figure(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    char sql[160];
    snprintf(sql, sizeof sql,
             "UPDATE runs SET energy_j = 9e999, j_per_token = -9e999 WHERE uuid = '%s'", f->ids[1]);
    wl_test_store_raw_exec(f->db, sql);
    char *out = NULL, *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "runs", "", &out, &err), 0);
    char prefix[9];
    memcpy(prefix, f->ids[1], 8);
    prefix[8] = '\0';
    const char *line = strstr(out, prefix);
    assert_non_null(line);
    const char *end = strchr(line, '\n');
    char row[512];
    snprintf(row, sizeof row, "%.*s", (int)(end - line), line);
    if (strstr(row, "n/a~") || !strstr(row, "n/a  "))
        fail_msg("an infinite figure is marked, or not n/a:\n%s", row);
    /* the other runs' estimates keep their mark */
    assert_non_null(strstr(out, "J~"));
    free(out);
    free(err);
    json_t *j = wl_test_cli_db_json(f, "runs", "--json");
    json_t *runs = json_object_get(j, "runs");
    for (size_t i = 0; i < json_array_size(runs); i++) {
        json_t *r = json_array_get(runs, i);
        if (strcmp(json_string_value(json_object_get(r, "id")), f->ids[1]) != 0)
            continue;
        assert_true(json_is_null(json_object_get(r, "energy_j")));
        assert_true(json_is_null(json_object_get(r, "j_per_token")));
    }
    json_decref(j);
}

/* A run whose energy is stored as attributed (no wattlens writer stores a
 * run's or a section's energy so: sensors have no such method; another
 * writer's database can) is marked '~' and its footnote says what an
 * attributed figure is: a share of another figure, equal or by time (old:
 * "shares attributed by time", while input tokens are equal shares). */
static void test_runs_footnote_of_an_attributed_energy(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = WL_TEST_T0_MS + 3 * WL_TEST_DAY_MS,
                               .model_name = "shared"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "decode",
                                   .name = "token",
                                   .token_index = 0,
                                   .start_ms = 100,
                                   .end_ms = 350,
                                   .energy_j = 3,
                                   .method = WL_METHOD_ATTRIBUTED};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r);
    wl_store_close(s);

    char *out = NULL, *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "runs", "", &out, &err), 0);
    const char *line = strstr(out, "\n") + 1; /* newest first: this run */
    assert_true(strncmp(line, id, 8) == 0);
    assert_non_null(strstr(line, "3.000 J~*"));
    if (!strstr(out, "\n~ estimated, not measured (attributed): ENERGY and J/TOKEN are "
                     "attributed (share):\n  equal or time shares of another figure.\n"))
        fail_msg("no attributed footnote:\n%s", out);
    free(out);
    free(err);
}

/* A run whose stored extra fields do not parse (written before set_extra
 * checked them with jansson: a --currency byte 0xA3, which SQLite's json()
 * took; a hand edit) is named in a NOTE and flagged extra_unreadable in
 * JSON, as show does; the other runs are not (old: runs said nothing). */
static void test_runs_names_an_unreadable_extra(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE runs SET extra = CAST(X'7B2263757272656E6379223A22A3227D' AS TEXT) "
             "WHERE uuid = '%s'",
             f->ids[1]);
    wl_test_store_raw_exec(f->db, sql);
    char *out = NULL, *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "runs", "", &out, &err), 0);
    char note[200];
    snprintf(note, sizeof note,
             "\nNOTE: the stored extra fields (runs.extra) of run %.8s are not a\n  readable JSON "
             "object: what they hold is not used ('wattlens show ID' gives the\n",
             f->ids[1]);
    if (!strstr(out, note))
        fail_msg("no note of the unreadable extra:\n%s", out);
    free(out);
    free(err);
    json_t *j = wl_test_cli_db_json(f, "runs", "--json");
    json_t *runs = json_object_get(j, "runs");
    assert_true(json_array_size(runs) > 1);
    for (size_t i = 0; i < json_array_size(runs); i++) {
        json_t *r = json_array_get(runs, i);
        const bool bad = strcmp(json_string_value(json_object_get(r, "id")), f->ids[1]) == 0;
        assert_true(json_is_boolean(json_object_get(r, "extra_unreadable")));
        assert_int_equal(json_is_true(json_object_get(r, "extra_unreadable")), bad);
    }
    json_decref(j);
    /* a readable extra everywhere: no note */
    snprintf(sql, sizeof sql, "UPDATE runs SET extra = '{\"currency\":\"EUR\"}' WHERE uuid = '%s'",
             f->ids[1]);
    wl_test_store_raw_exec(f->db, sql);
    assert_int_equal(wl_test_cli_db(f, "runs", "", &out, &err), 0);
    assert_null(strstr(out, "runs.extra"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_runs_json_filters_sorts_and_pages, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_runs_table_and_usage_errors, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_runs_time_bounds, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_runs_refuses_an_empty_filter, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_runs_table_pads_by_display_width, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_runs_marks_an_unfinished_run_partial,
                                        wl_test_cli_setup, wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_runs_does_not_mark_an_infinite_figure,
                                        wl_test_cli_setup, wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_runs_names_an_unreadable_extra, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_runs_footnote_of_an_attributed_energy,
                                        wl_test_cli_setup, wl_test_cli_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

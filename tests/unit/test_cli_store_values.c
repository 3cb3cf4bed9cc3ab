/* The store's read commands give one run the same values: `runs --json`,
 * `show --json` and `export` (JSON and CSV) print a stored number with the
 * same 15 significant digits, write null (an empty CSV cell) for what is
 * unknown (a token count of a run without tokens, an infinity a hand edit
 * stored, a creation time past the year 9999) where the key stays, the CSV
 * escapes stored text on a terminal, and so does every JSON output (the C1
 * and bidirectional controls jansson writes raw). Runs are written through the
 * store API, then the real `wattlens` binary reads them.
 */
#include "store_fixture.h"
#include "test_support.h"

#include "analysis/summary.h"
#include "wattlens/error.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs `wattlens CMD --db DB ARGS` and parses its stdout as JSON. */
static json_t *cli_json(const char *db, const char *cmd, const char *args)
{
    char line[8192], *out = NULL, *err = NULL;
    snprintf(line, sizeof line, "%s --db '%s' %s", cmd, db, args);
    int rc = wl_test_run_cli(line, &out, &err);
    if (rc != 0)
        fail_msg("wattlens %s: exit %d: %s", line, rc, err ? err : "");
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("wattlens %s: bad JSON (%s): %.200s", line, je.text, out);
    free(out);
    free(err);
    return j;
}

static char *cli_text(const char *db, const char *cmd, const char *args)
{
    char line[8192], *out = NULL;
    snprintf(line, sizeof line, "%s --db '%s' %s", cmd, db, args);
    assert_int_equal(wl_test_run_cli(line, &out, NULL), 0);
    assert_non_null(out);
    return out;
}

/* runs --json's object of run id. */
static json_t *listed(json_t *list, const char *id)
{
    json_t *runs = json_object_get(list, "runs");
    for (size_t i = 0; i < json_array_size(runs); i++) {
        json_t *r = json_array_get(runs, i);
        if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0)
            return r;
    }
    fail_msg("run %s not listed", id);
    return NULL;
}

/* The number at key of o, which must be there and be a number. */
static double number(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("%s: %s", key, v ? "not a number" : "missing");
    return json_number_value(v);
}

/* The value of field `name` in a CSV export's metadata table. */
static double csv_number(const char *csv, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s,", name);
    const char *p = strstr(csv, key);
    assert_non_null(p);
    char *end = NULL;
    double v = strtod(p + strlen(key), &end);
    assert_true(end && *end == '\n');
    return v;
}

/* A finished run whose figures have more digits than the outputs print. */
static void write_precise_run(wl_store *s, double duration_ms, double energy_j, int n_out, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    wl_test_store_add_tokens(r, 0, 1 + n_out, 1, energy_j / (1 + n_out), WL_METHOD_COUNTER);
    struct wl_run_totals tot =
        wl_test_totals(WL_RUN_COMPLETE, duration_ms, energy_j, WL_METHOD_COUNTER);
    tot.input_tokens = 1;
    tot.output_tokens = n_out;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

static void test_one_stored_number_reads_the_same_everywhere(void **state)
{
    struct wl_test_store_fixture *f = *state;
    const double duration_ms = 25003.395965123457, energy_j = 1.0 / 3; /* 10 digits lost some */
    char id[37];
    write_precise_run(f->s, duration_ms, energy_j, 3, id);
    const double jpt = energy_j / 3; /* the store's J/token */

    json_t *list = cli_json(f->path, "runs", "--json");
    json_t *row = listed(list, id);
    char args[128];
    snprintf(args, sizeof args, "--json %s", id);
    json_t *show = cli_json(f->path, "show", args);
    snprintf(args, sizeof args, "%s -f json", id);
    json_t *exp = cli_json(f->path, "export", args);
    json_t *run = json_object_get(exp, "run");
    json_t *sum = json_object_get(run, "summary");
    snprintf(args, sizeof args, "%s -f csv", id);
    char *csv = cli_text(f->path, "export", args);

    /* every output prints the same 15 significant digits of it */
    const struct {
        const char *key;
        double stored;
    } fig[] = {{"energy_j", energy_j}, {"duration_ms", duration_ms}, {"j_per_token", jpt}};
    for (size_t i = 0; i < 3; i++) {
        char text[32];
        snprintf(text, sizeof text, "%.15g", fig[i].stored);
        const double want = strtod(text, NULL);
        json_t *shown = json_object_get(show, i == 2 ? "efficiency" : "totals");
        assert_true(number(row, fig[i].key) == want);
        assert_true(number(shown, fig[i].key) == want);
        assert_true(number(run, fig[i].key) == want);
        assert_true(csv_number(csv, fig[i].key) == want);
        if (i == 0) /* and the export's own summary */
            assert_true(number(json_object_get(sum, "totals"), fig[i].key) == want);
    }
    free(csv);
    json_decref(exp);
    json_decref(show);
    json_decref(list);
}

/* A run that never finished has no totals: `runs` sums its sections in SQL,
 * and `show` must give the same double, not a sum of its phases' sums
 * (which can round differently). The value wanted is SQLite's own sum() of
 * the rows, whatever its algorithm (a plain sum in row order before 3.43,
 * Kahan-Babuska-Neumaier since). The rows tell the two totals apart under
 * both: prefill 1 J, then sample 1 J and 3e-16 J. In one sum, 2 + 3e-16
 * rounds up to 2.0000000000000004 (more than half of 2's last bit, 4.4e-16);
 * by phase, sample is 1.0000000000000002 (1 + 3e-16 rounds to one bit,
 * 2.2e-16) and 1 + 1.0000000000000002 = 2 + 2.2e-16 is a tie, rounded to
 * even: 2. */
static void test_an_unfinished_run_sums_to_the_same_energy(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m"};
    char id[37];
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    const struct {
        const char *phase;
        double start, energy_j;
    } secs[] = {{"prefill", 0, 1.0}, {"sample", 1, 1.0}, {"sample", 2, 3e-16}};
    for (size_t i = 0; i < 3; i++) {
        struct wl_store_section sec = {.phase = secs[i].phase,
                                       .name = "x",
                                       .token_index = -1,
                                       .start_ms = secs[i].start,
                                       .end_ms = secs[i].start + 1,
                                       .energy_j = secs[i].energy_j,
                                       .method = WL_METHOD_COUNTER};
        assert_int_equal(wl_store_add_section(r, &sec), 0);
    }
    assert_int_equal(wl_store_flush(r), 0);

    /* the doubles themselves (printed, 15 digits would hide the last bit) */
    struct wl_run_list l = {0};
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 10, 0, &l), 0);
    assert_int_equal(l.n, 1);
    assert_true(l.rows[0].partial);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary sum;
    assert_int_equal(wl_summary_compute(&a, &sum), 0);
    assert_true(sum.energy_from_phases);
    const double want = wl_test_store_raw_double(f->path, "SELECT sum(energy_j) FROM sections");
    assert_true(l.rows[0].energy_j == want);
    if (sum.energy_j != want)
        fail_msg("summary %.17g, SQL sum() %.17g", sum.energy_j, want);
    /* and the rows can tell it from the phases' sums added up (the old
     * total), unless this SQLite adds up in a way neither of the above does */
    assert_int_equal(a.n_phases, 2);
    const double by_phase = a.phases[0].energy_j + a.phases[1].energy_j;
    if (by_phase == want)
        print_message("this SQLite's sum() gives the phases' total, %.17g: the rows cannot "
                      "tell the two totals apart\n",
                      want);
    wl_summary_free(&sum);
    wl_store_aggregates_free(&a);
    wl_run_list_free(&l);
    wl_store_run_abandon(r);
}

/* A run without token rows (a measure run) has unknown token counts: null
 * in show --json as in runs --json and the export, never 0. */
static void test_token_counts_of_a_run_without_tokens_are_null(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37], inf_id[37];
    struct wl_test_run_spec sp = {.command = "sleep 1", .duration_ms = 1000, .energy_j = 5};
    wl_test_store_make_run(f->s, &sp, id);
    struct wl_test_run_spec tk = {.duration_ms = 100, .energy_j = 5, .n_in = 2, .n_out = 3};
    wl_test_store_make_run(f->s, &tk, inf_id);

    json_t *list = cli_json(f->path, "runs", "--json");
    char args[64];
    snprintf(args, sizeof args, "--json %s", id);
    json_t *show = cli_json(f->path, "show", args);
    snprintf(args, sizeof args, "%s -f json", id);
    json_t *exp = cli_json(f->path, "export", args);
    json_t *row = listed(list, id), *run = json_object_get(exp, "run");
    json_t *eff = json_object_get(show, "efficiency");
    json_t *exp_eff = json_object_get(json_object_get(run, "summary"), "efficiency");
    const char *counts[] = {"input_tokens", "output_tokens"};
    for (size_t i = 0; i < 2; i++) {
        assert_true(json_is_null(json_object_get(row, counts[i])));
        assert_true(json_is_null(json_object_get(run, counts[i])));
        assert_true(json_is_null(json_object_get(eff, counts[i])));
        assert_true(json_is_null(json_object_get(exp_eff, counts[i])));
    }
    assert_true(json_is_null(json_object_get(eff, "decode_steps")));
    assert_true(json_is_null(json_object_get(eff, "decode_tokens")));
    assert_true(json_is_null(json_object_get(json_object_get(show, "batch"), "output_tokens")));
    json_decref(exp);
    json_decref(show);

    /* a run with token rows keeps its counts, 0 included */
    snprintf(args, sizeof args, "--json %s", inf_id);
    show = cli_json(f->path, "show", args);
    eff = json_object_get(show, "efficiency");
    assert_int_equal(json_integer_value(json_object_get(eff, "input_tokens")), 2);
    assert_int_equal(json_integer_value(json_object_get(eff, "output_tokens")), 3);
    assert_int_equal(json_integer_value(json_object_get(eff, "decode_steps")), 2);
    assert_int_equal(json_integer_value(json_object_get(eff, "decode_tokens")), 2);
    json_decref(show);
    json_decref(list);

    /* a stored output count without token rows: the input count and the
     * decode steps are unknown, and the text says n/a, not -1 or 0 */
    char part[37];
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, part), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 100, 3, WL_METHOD_COUNTER);
    tot.output_tokens = 3;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    snprintf(args, sizeof args, "--json %s", part);
    show = cli_json(f->path, "show", args);
    eff = json_object_get(show, "efficiency");
    assert_true(json_is_null(json_object_get(eff, "input_tokens")));
    assert_int_equal(json_integer_value(json_object_get(eff, "output_tokens")), 3);
    assert_true(json_is_null(json_object_get(eff, "decode_steps")));
    json_decref(show);
    char *out = cli_text(f->path, "show", part);
    assert_non_null(strstr(out, "Efficiency (n/a input, 3 output tokens)"));
    assert_null(strstr(out, "decode steps"));
    free(out);
}

/* An infinity in a stored figure (another writer, a hand edit) is null in
 * runs --json, as in the export: the key stays. */
static void test_runs_json_keeps_the_key_of_an_infinite_figure(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    write_precise_run(f->s, 10, 1, 2, id);
    wl_test_store_raw_exec(f->path, "UPDATE runs SET energy_j = 9e999, duration_ms = -9e999, "
                                    "j_per_token = 9e999");
    json_t *list = cli_json(f->path, "runs", "--json");
    json_t *row = listed(list, id);
    const char *keys[] = {"energy_j", "duration_ms", "j_per_token"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(row, keys[i]);
        if (!json_is_null(v))
            fail_msg("runs --json %s: %s", keys[i], v ? "not null" : "missing");
    }
    json_decref(list);
    char args[64];
    snprintf(args, sizeof args, "%s -f json", id);
    json_t *exp = cli_json(f->path, "export", args);
    for (size_t i = 0; i < 3; i++)
        assert_true(json_is_null(json_object_get(json_object_get(exp, "run"), keys[i])));
    json_decref(exp);
}

/* On a terminal (script(1) gives it one) the CSV's stored text is escaped as
 * show escapes it; into a pipe it keeps its bytes. (script runs its command
 * line with $SHELL, which may be nologin: the plain shell is named here.) */
static void test_csv_on_a_terminal_escapes_stored_text(void **state)
{
    struct wl_test_store_fixture *f = *state;
    if (system("command -v script >/dev/null 2>&1") != 0) {
        print_message("no script(1): no terminal to test with\n");
        skip();
    }
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_MEASURE, .command = "true", .prompt = "x\x1b[31mred\x1b[0m"};
    char id[37];
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 1, 1, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), 0);

    char cmd[16384], outp[4200];
    snprintf(outp, sizeof outp, "%s/tty.out", f->dir);
    snprintf(cmd, sizeof cmd,
             "SHELL=/bin/sh script -qec \"'%s' export %s --db '%s' -f csv\" /dev/null >'%s' 2>&1 "
             "</dev/null",
             WL_CLI_PATH, id, f->path, outp);
    assert_int_equal(system(cmd), 0);
    char *tty = wl_test_read_file(outp, NULL);
    assert_non_null(tty);
    assert_non_null(strstr(tty, "prompt,x\\x1b[31mred\\x1b[0m"));
    assert_null(strchr(tty, '\x1b'));
    free(tty);

    char args[64];
    snprintf(args, sizeof args, "%s -f csv", id);
    char *piped = cli_text(f->path, "export", args);
    assert_non_null(strstr(piped, "prompt,x\x1b[31mred\x1b[0m\n"));
    free(piped);
}

/* The text a JSON output holds with a C1 control (U+009B, CSI to some
 * terminals), RIGHT-TO-LEFT OVERRIDE, an accent and DEL; as jansson writes
 * it to a file or a pipe, and as it must reach a terminal. */
#define TTY_TEXT                                                                                   \
    "x\xC2\x9B"                                                                                    \
    "31m\xE2\x80\xAEy\xC3\xA9\x7F"
#define TTY_TEXT_ESCAPED "x\\u009B31m\\u202Ey\xC3\xA9\\u007F"

/* Runs the shell line in script(1), which gives it a terminal, and returns
 * what it printed (stdout and stderr) with script's \r removed. */
static char *on_a_terminal(const char *dir, const char *line)
{
    char sh[4200], outp[4200], cmd[9000];
    snprintf(sh, sizeof sh, "%s/tty.sh", dir);
    snprintf(outp, sizeof outp, "%s/tty.out", dir);
    FILE *f = fopen(sh, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", line); /* the raw bytes in a file: no quoting for script -c */
    assert_int_equal(fclose(f), 0);
    snprintf(cmd, sizeof cmd,
             "SHELL=/bin/sh script -qec \"sh '%s'\" /dev/null >'%s' 2>&1 </dev/null", sh, outp);
    assert_int_equal(system(cmd), 0);
    char *text = wl_test_read_file(outp, NULL);
    assert_non_null(text);
    char *w = text;
    for (const char *r = text; *r; r++) {
        if (*r != '\r')
            *w++ = *r;
    }
    *w = '\0';
    return text;
}

/* On a terminal every JSON output (runs, show, export, measure) writes the
 * C1 and bidirectional controls and DEL of a text as \uNNNN, which jansson
 * writes as they are: valid JSON of the same text, and nothing that drives
 * the terminal or reorders the line; other text (an accent) as it is. Into
 * a pipe the JSON keeps jansson's bytes. */
static void test_json_on_a_terminal_escapes_c1_and_bidi_controls(void **state)
{
    struct wl_test_store_fixture *f = *state;
    if (system("command -v script >/dev/null 2>&1") != 0) {
        print_message("no script(1): no terminal to test with\n");
        skip();
    }
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = TTY_TEXT};
    char id[37];
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 1, 1, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), 0);

    const char *cmds[] = {"runs --json", "show %s --json", "export %s -f json"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[128], line[9000];
        snprintf(args, sizeof args, cmds[i], id);
        snprintf(line, sizeof line, "'%s' %s --db '%s'", WL_CLI_PATH, args, f->path);
        char *tty = on_a_terminal(f->dir, line);
        if (!strstr(tty, "\"" TTY_TEXT_ESCAPED "\""))
            fail_msg("%s on a terminal: %.2000s", args, tty);
        assert_null(strstr(tty, "\xC2\x9B"));
        assert_null(strstr(tty, "\xE2\x80\xAE"));
        assert_null(strchr(tty, '\x7F'));
        json_t *j = json_loads(tty, 0, NULL); /* the same text, escaped */
        assert_non_null(j);
        json_decref(j);
        free(tty);
        /* into a pipe: jansson's bytes */
        char *piped = cli_text(f->path, args, "");
        assert_non_null(strstr(piped, "\"" TTY_TEXT "\""));
        free(piped);
    }

    /* measure --json: its command's arguments */
    char line[9000];
    snprintf(line, sizeof line, "'%s' measure --no-store --json -- true '" TTY_TEXT "'",
             WL_CLI_PATH);
    char *tty = on_a_terminal(f->dir, line);
    if (!strstr(tty, "\"" TTY_TEXT_ESCAPED "\""))
        fail_msg("measure on a terminal: %.2000s", tty);
    assert_null(strstr(tty, "\xC2\x9B"));
    assert_null(strstr(tty, "\xE2\x80\xAE"));
    free(tty);
}

/* created_at outside the years ISO 8601 writes with four digits: null in
 * runs --json, show --json and the export (JSON and CSV), "?" in the runs
 * table, and year 0 as 0000; a time before 1970 rounded down everywhere.
 * Old: the export's SQLite strftime wrote one ms before year 0 as
 * "-001-12-31T23:59:59.999Z" where runs had null, and the table wrote
 * -1 ms as 1970-01-01 00:00 (division toward zero) and year 10000. */
static void test_created_at_agrees_at_the_ends_of_the_calendar(void **state)
{
    struct wl_test_store_fixture *f = *state;
    enum { N = 4 };
    char id[N][37];
    const int64_t at[N] = {253402300800000LL, -62167219200000LL, -62167219200001LL, -1};
    const char *want[N] = {NULL, "0000-01-01T00:00:00.000Z", NULL, "1969-12-31T23:59:59.999Z"};
    const char *want_table[N] = {"?", "0000-01-01 00:00", "?", "1969-12-31 23:59"};
    for (int i = 0; i < N; i++) {
        struct wl_test_run_spec sp = {.created_at_ms = 1, .duration_ms = 1, .energy_j = 1};
        wl_test_store_make_run(f->s, &sp, id[i]);
        char sql[256];
        snprintf(sql, sizeof sql, "UPDATE runs SET created_at_ms = %lld WHERE uuid = '%s'",
                 (long long)at[i], id[i]);
        wl_test_store_raw_exec(f->path, sql);
    }
    json_t *list = cli_json(f->path, "runs", "--json");
    char *table = cli_text(f->path, "runs", "");
    for (int i = 0; i < N; i++) {
        char args[256];
        snprintf(args, sizeof args, "%s -f json", id[i]);
        json_t *exp = cli_json(f->path, "export", args);
        snprintf(args, sizeof args, "%s --json", id[i]);
        json_t *shown_json = cli_json(f->path, "show", args);
        json_t *shown[3] = {json_object_get(listed(list, id[i]), "created_at"),
                            json_object_get(json_object_get(exp, "run"), "created_at"),
                            json_object_get(json_object_get(shown_json, "run"), "created_at")};
        for (int k = 0; k < 3; k++) {
            if (!want[i])
                assert_true(json_is_null(shown[k]));
            else
                assert_string_equal(json_string_value(shown[k]), want[i]);
        }
        json_decref(exp);
        json_decref(shown_json);

        snprintf(args, sizeof args, "%s -f csv", id[i]);
        char *csv = cli_text(f->path, "export", args);
        char cell[64];
        snprintf(cell, sizeof cell, "\ncreated_at,%s\n", want[i] ? want[i] : "");
        if (!strstr(csv, cell))
            fail_msg("no '%s' in the CSV: %.400s", cell, csv);
        free(csv);

        /* the table's row of the run: its short id, then the date */
        char row[256];
        snprintf(row, sizeof row, "%.8s  %s", id[i], want_table[i]);
        if (!strstr(table, row))
            fail_msg("no '%s' in the table:\n%s", row, table);
    }
    free(table);
    json_decref(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_stored_number_reads_the_same_everywhere,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_an_unfinished_run_sums_to_the_same_energy,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_token_counts_of_a_run_without_tokens_are_null,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_runs_json_keeps_the_key_of_an_infinite_figure,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_csv_on_a_terminal_escapes_stored_text,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_json_on_a_terminal_escapes_c1_and_bidi_controls,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_created_at_agrees_at_the_ends_of_the_calendar,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The store's CLI commands end to end: runs (filters, sort, pages, JSON),
 * show, export (JSON nesting, CSV tables, -o), rm, gc, --db and
 * WATTLENS_DB, and the messages for bad input. Fixture runs are written
 * through the store API, then the real `wattlens` binary reads them.
 */
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"
#include "wattlens/error.h"

#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define T0_MS 1700000000000LL /* 2023-11-14T22:13:20Z */
#define DAY_MS (86400LL * 1000)

struct fixture {
    char *dir;
    char db[4200];
    char ids[3][37];
};

/* The value on the line of out that starts with label (spaces trimmed). */
static const char *value_of(const char *out, const char *label, char *buf, size_t size)
{
    const char *p = strstr(out, label);
    assert_non_null(p);
    p += strlen(label);
    p += strspn(p, " ");
    size_t n = strcspn(p, "\n");
    snprintf(buf, size, "%.*s", (int)n, p);
    return buf;
}

/* A run with 2 input and 2 output tokens, 2 layers, 2 components and 2 ops
 * each; energy 10 J over 1 s (J/token 5 when jpt_scale is 1). Tagged `tag`
 * and "cli"; its sampling, provenance, features and extra are JSON. */
static void write_run(wl_store *s, int64_t created, const char *model, const char *tag,
                      double energy_j, char *id)
{
    const char *tags[] = {"cli", tag};
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = created,
                               .model_name = model,
                               .model_features_json = "{\"gqa\":false}",
                               .prompt = "Why is the sky blue?",
                               .tags = tags,
                               .n_tags = tag ? 2 : 1,
                               .experiment = "cli",
                               .depth = "deep",
                               .sampling_json = "{\"temperature\":0.7,\"top_k\":40}",
                               .sensor_provenance_json = "{\"model_only\":true}"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    assert_int_equal(wl_store_run_set_extra(r, "exit_status", "0"), 0);
    struct wl_store_section secs[2] = {
        {.phase = "prefill",
         .name = "layers",
         .token_index = -1,
         .start_ms = 0,
         .end_ms = 400,
         .energy_j = 0.4 * energy_j,
         .method = WL_METHOD_MODEL_ESTIMATE},
        {.phase = "decode",
         .name = "tokens",
         .token_index = -1,
         .start_ms = 400,
         .end_ms = 1000,
         .energy_j = 0.6 * energy_j,
         .method = WL_METHOD_MODEL_ESTIMATE},
    };
    for (int i = 0; i < 2; i++)
        assert_int_equal(wl_store_add_section(r, &secs[i]), 0);
    struct wl_store_sample smp = {.t_ms = 500,
                                  .phase = "decode",
                                  .domain_mask = 1u << WL_DOMAIN_PACKAGE,
                                  .method_flags = 1u << WL_METHOD_MODEL_ESTIMATE};
    smp.power_w[WL_DOMAIN_PACKAGE] = 10;
    smp.energy_j[WL_DOMAIN_PACKAGE] = 5;
    assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
    float heads[2] = {1.5f, 0.5f};
    for (int t = 0; t < 4; t++) {
        struct wl_store_token tok = {.index = t,
                                     .text = t < 2 ? "in,put" : "out \"q\"",
                                     .is_input = t < 2,
                                     .start_ms = 250.0 * t,
                                     .end_ms = 250.0 * t + 250,
                                     .energy_j = energy_j / 4,
                                     .method = WL_METHOD_MODEL_ESTIMATE,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
        for (int l = 0; l < 2; l++) {
            struct wl_store_layer_metric lm = {t, l, 100, energy_j / 16};
            assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
            for (int c = 0; c < 2; c++) {
                struct wl_store_component_metric cm = {.token_index = t,
                                                       .layer = l,
                                                       .component = c,
                                                       .name = c ? "ffn" : "attn",
                                                       .dur_ms = 50,
                                                       .energy_j = energy_j / 32,
                                                       .act_mean_abs = 0.5,
                                                       .act_std = WL_STORE_UNSET,
                                                       .act_max_abs = WL_STORE_UNSET,
                                                       .act_sparsity = WL_STORE_UNSET};
                assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
                for (int o = 0; o < 2; o++) {
                    struct wl_store_op_metric om = {.token_index = t,
                                                    .layer = l,
                                                    .component = c,
                                                    .op = o,
                                                    .name = o ? "softmax" : "qk",
                                                    .dur_ms = 25,
                                                    .energy_j = energy_j / 64,
                                                    .n_heads = 2,
                                                    .head_entropy = heads,
                                                    .entropy = 1.0,
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
                                  .method = WL_METHOD_MODEL_ESTIMATE,
                                  .source = "cpu_model",
                                  .energy_j = energy_j,
                                  .avg_power_w = WL_STORE_UNSET,
                                  .baseline_power_w = 1,
                                  .peak_power_w = 20,
                                  .peak_t_ms = 600};
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 1000,
                                .energy_j = energy_j,
                                .energy_method = WL_METHOD_MODEL_ESTIMATE,
                                .energy_scope = "package",
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = 10,
                                .domains = &dom,
                                .n_domains = 1};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = wl_test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/cli.db", f->dir);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    write_run(s, T0_MS, "llama-tiny", "a", 10, f->ids[0]);       /* J/token 5 */
    write_run(s, T0_MS + DAY_MS, "phi-tiny", "b", 4, f->ids[1]); /* J/token 2 */
    write_run(s, T0_MS + 2 * DAY_MS, "llama-big", "a", 40, f->ids[2]);
    wl_store_close(s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wl_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Runs the CLI with args after "--db <db>"; returns the exit status. */
static int cli(const struct fixture *f, const char *cmd, const char *args, char **out, char **err)
{
    char line[16384];
    snprintf(line, sizeof line, "%s --db '%s' %s", cmd, f->db, args);
    return wl_test_run_cli(line, out, err);
}

static json_t *cli_json(const struct fixture *f, const char *cmd, const char *args)
{
    char *out = NULL, *err = NULL;
    int rc = cli(f, cmd, args, &out, &err);
    if (rc != 0)
        fail_msg("wattlens %s %s: exit %d: %s", cmd, args, rc, err ? err : "");
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("wattlens %s %s: bad JSON (%s): %.200s", cmd, args, je.text, out);
    free(out);
    free(err);
    return j;
}

static const char *run_id_at(json_t *runs, size_t i)
{
    return json_string_value(json_object_get(json_array_get(runs, i), "id"));
}

/* The fields every JSON output gives a run (runs --json, show --json's
 * "run", the export's "run") have one shape: an ISO 8601 UTC created_at with
 * milliseconds and the tags as an array of strings, sorted. */
static void check_identity(json_t *run, const char *id, const char *created_at)
{
    assert_string_equal(json_string_value(json_object_get(run, "id")), id);
    assert_string_equal(json_string_value(json_object_get(run, "created_at")), created_at);
    json_t *tags = json_object_get(run, "tags");
    assert_true(json_is_array(tags));
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "a");
    assert_string_equal(json_string_value(json_array_get(tags, 1)), "cli");
}

static void test_runs_json_filters_sorts_and_pages(void **state)
{
    struct fixture *f = *state;
    json_t *j = cli_json(f, "runs", "--json");
    json_t *runs = json_object_get(j, "runs");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
    assert_int_equal(json_array_size(runs), 3);
    assert_string_equal(run_id_at(runs, 0), f->ids[2]); /* newest first */
    json_t *r0 = json_array_get(runs, 0);
    assert_string_equal(json_string_value(json_object_get(r0, "status")), "complete");
    assert_string_equal(json_string_value(json_object_get(r0, "energy_method")), "model_estimate");
    assert_int_equal(json_integer_value(json_object_get(r0, "output_tokens")), 2);
    assert_float_equal(json_real_value(json_object_get(r0, "j_per_token")), 20, 1e-9);
    check_identity(r0, f->ids[2], "2023-11-16T22:13:20.000Z");
    json_decref(j);

    j = cli_json(f, "runs", "--json --model llama --tag a --sort jpt");
    runs = json_object_get(j, "runs");
    assert_int_equal(json_array_size(runs), 2);
    assert_string_equal(run_id_at(runs, 0), f->ids[0]); /* 5 J/token before 20 */
    json_decref(j);

    j = cli_json(f, "runs", "--json --since 2023-11-15 --until 2023-11-16T12:00");
    runs = json_object_get(j, "runs");
    assert_int_equal(json_array_size(runs), 1);
    assert_string_equal(run_id_at(runs, 0), f->ids[1]);
    json_decref(j);

    j = cli_json(f, "runs", "--json --since 100000d --until 1d"); /* ages */
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
    json_decref(j);
    j = cli_json(f, "runs", "--json --since 2h");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    json_decref(j);

    j = cli_json(f, "runs", "--json --sort energy --limit 1 --offset 1");
    runs = json_object_get(j, "runs");
    assert_int_equal(json_array_size(runs), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
    assert_string_equal(run_id_at(runs, 0), f->ids[0]); /* 40, [10], 4 */
    json_decref(j);

    j = cli_json(f, "runs", "--json --search 'SKY BLUE' --experiment nope");
    assert_int_equal(json_array_size(json_object_get(j, "runs")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    json_decref(j);
}

static void test_runs_table_and_usage_errors(void **state)
{
    struct fixture *f = *state;
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "runs", "", &out, &err), 0);
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
        assert_int_equal(cli(f, "runs", pages[i].args, &out, &err), 0);
        if (!strstr(out, pages[i].footer))
            fail_msg("runs %s: no '%s' in\n%s", pages[i].args, pages[i].footer + 1, out);
        free(out);
        free(err);
    }
    assert_int_equal(cli(f, "runs", "--sort size", &out, &err), 2);
    assert_non_null(strstr(err, "--sort"));
    free(out);
    free(err);
    assert_int_equal(cli(f, "runs", "--since yesterday", &out, &err), 2);
    assert_non_null(strstr(err, "invalid time 'yesterday' for --since"));
    free(out);
    free(err);
    assert_int_equal(cli(f, "runs", "--limit -3", &out, &err), 2);
    free(out);
    free(err);
}

/* Times at or before 1970 bound like any other (they are not "no bound"),
 * ages are a number with an optional fraction and a unit, dates are real
 * days, and an age reaching before the year 0000 is refused (exit 2). */
static void test_runs_time_bounds(void **state)
{
    struct fixture *f = *state;
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
        json_t *j = cli_json(f, "runs", args);
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
        int rc = cli(f, "runs", bad[i], &out, &err);
        if (rc != 2 || !strstr(err, "invalid time"))
            fail_msg("runs %s: exit %d, stderr '%s'", bad[i], rc, err ? err : "");
        free(out);
        free(err);
    }
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "runs", "--since 99999999999999999999d", &out, &err), 2);
    assert_non_null(strstr(err, "reaches before the year 0000"));
    free(out);
    free(err);
    assert_int_equal(cli(f, "runs", "--since 1970-01-02 --until 1970-01-01", &out, &err), 2);
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
    struct fixture *f = *state;
    static const char *const opts[] = {"--model", "--tag", "--experiment", "--search"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        for (int form = 0; form < 3; form++) {
            char args[64], want[64];
            snprintf(args, sizeof args, form == 2 ? "--json %s=" : "%s ''%s", opts[i],
                     form == 1 ? " --json" : "");
            snprintf(want, sizeof want, "wattlens runs: %s needs ", opts[i]);
            char *out = NULL, *err = NULL;
            int rc = cli(f, "runs", args, &out, &err);
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
    struct fixture *f = *state;
    static const struct {
        const char *model, *cell; /* the cell: 24 columns */
    } cases[] = {
        {"\xE6\xA8\xA1\xE5\x9E\x8B", "\xE6\xA8\xA1\xE5\x9E\x8B                    "}, /* 2 wide */
        {"cafe\xCC\x81", "cafe\xCC\x81                    "}, /* e + combining acute */
        {"a\xFF"
         "b",
         "a\xEF\xBF\xBD"
         "b                     "},
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
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    char ids[N][37];
    for (int i = 0; i < N; i++) {
        const char *tags[] = {"\xE6\xA8\xA1"};
        struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                                   .created_at_ms = T0_MS + (3 + i) * DAY_MS,
                                   .model_name = cases[i].model,
                                   .tags = tags,
                                   .n_tags = 1};
        wl_store_run *r = NULL;
        assert_int_equal(wl_store_run_begin(s, &info, &r, ids[i]), 0);
        struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                    .duration_ms = 1000,
                                    .energy_j = 1,
                                    .energy_method = WL_METHOD_COUNTER,
                                    .input_tokens = -1,
                                    .output_tokens = -1,
                                    .sample_count = -1,
                                    .sample_rate_hz = WL_STORE_UNSET};
        assert_int_equal(wl_store_run_finish(r, &tot), 0);
    }
    wl_store_close(s);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "runs", "", &out, &err), 0);
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
    struct fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_INFERENCE, .created_at_ms = T0_MS + 3 * DAY_MS, .model_name = "open"};
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
    assert_int_equal(cli(f, "runs", "", &out, &err), 0);
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
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    assert_string_equal(
        value_of(out, "peak power", b, sizeof b),
        "n/a (the run has not ended; its per-domain figures are saved when it does)");
    free(out);
    free(err);

    json_t *j = cli_json(f, "runs", "--json");
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
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    assert_string_equal(value_of(out, "peak power", b, sizeof b),
                        "n/a (the run stopped before its per-domain figures were saved)");
    assert_non_null(strstr(out, "writer stopped before it finished"));
    free(out);
    free(err);
}

/* show of a run stopped between two saves, its decode sections ahead of
 * its token rows: the per-token figures cover the tokens both hold, are
 * marked '*' and a note says so; the JSON gives the span. */
static void test_show_marks_per_token_figures_of_a_parted_run(void **state)
{
    struct fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_INFERENCE, .created_at_ms = T0_MS + 3 * DAY_MS, .model_name = "parted"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    /* prefill 0..100 ms 1 J (token 0); decode tokens 1, 2, 3: 100 ms and 2 J
     * each; token rows for 1 and 2 only */
    struct wl_store_section sec = {.phase = "prefill",
                                   .name = "layers",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 100,
                                   .energy_j = 1,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    for (int t = 1; t <= 3; t++) {
        sec = (struct wl_store_section){.phase = "decode",
                                        .name = "token",
                                        .token_index = t,
                                        .start_ms = 100.0 * t,
                                        .end_ms = 100.0 * t + 100,
                                        .energy_j = 2,
                                        .method = WL_METHOD_COUNTER};
        assert_int_equal(wl_store_add_section(r, &sec), 0);
    }
    for (int t = 0; t <= 2; t++) {
        struct wl_store_token tok = {.index = t,
                                     .is_input = t == 0,
                                     .start_ms = t ? 100.0 * t : WL_STORE_UNSET,
                                     .end_ms = t ? 100.0 * t + 100 : WL_STORE_UNSET,
                                     .energy_j = t ? 2 : 1,
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
    }
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r);
    wl_store_close(s);

    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    /* decode: token 2's step, 2 J in 100 ms (token 1 is sampled from the
     * prefill's logits), not 4 J over 1 token in 300 ms; J/token (1 + 4 J) / 2 */
    assert_non_null(strstr(out, "decode steps                1*"));
    assert_non_null(strstr(out, "decode J/output token       2.000 J*\n"));
    assert_non_null(strstr(out, "decode tokens/s             10.00 tok/s*\n"));
    assert_non_null(strstr(out, "J/token (output)            2.500 J*\n"));
    assert_non_null(strstr(out, "prefill J/input token       1.000 J\n")); /* not marked */
    assert_non_null(strstr(out, "  * partial: the run stopped between two saves and kept 1 decode "
                                "section without\n    their token rows;"));
    assert_non_null(strstr(out, "only the 2 output tokens both hold, up to token 2 (4.000 J in "
                                "200.00 ms of decode)\n"));
    assert_non_null(strstr(out, "per 1000 output tokens*)"));
    free(out);
    free(err);
    char args[64];
    snprintf(args, sizeof args, "%s --json", id);
    json_t *j = cli_json(f, "show", args);
    json_t *ef = json_object_get(j, "efficiency");
    assert_float_equal(json_real_value(json_object_get(ef, "decode_j_per_output_token")), 2, 1e-9);
    json_t *sp = json_object_get(ef, "per_token_span");
    assert_int_equal(json_integer_value(json_object_get(ef, "decode_steps")), 1);
    assert_int_equal(json_integer_value(json_object_get(sp, "last_token_index")), 2);
    assert_int_equal(json_integer_value(json_object_get(sp, "decode_sections_beyond")), 1);
    assert_int_equal(json_integer_value(json_object_get(sp, "token_rows_beyond")), 0);
    /* each output row says how many tokens its round produced */
    json_t *toks = json_object_get(j, "output_tokens");
    assert_int_equal(json_array_size(toks), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(toks, 0), "n_seq")), 1);
    json_decref(j);
    /* the list's J/token is over the same span, and says so: its energy_j
     * (7 J, every section) over output_tokens (2) is not it */
    j = cli_json(f, "runs", "--json --limit 2");
    json_t *r0 = json_array_get(json_object_get(j, "runs"), 0);
    assert_string_equal(json_string_value(json_object_get(r0, "id")), id);
    assert_float_equal(json_real_value(json_object_get(r0, "energy_j")), 7, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(r0, "output_tokens")), 2);
    assert_float_equal(json_real_value(json_object_get(r0, "j_per_token")), 2.5, 1e-9);
    sp = json_object_get(r0, "per_token_span");
    assert_int_equal(json_integer_value(json_object_get(sp, "last_token_index")), 2);
    assert_int_equal(json_integer_value(json_object_get(sp, "output_tokens")), 2);
    assert_float_equal(json_real_value(json_object_get(sp, "energy_j")), 5, 1e-9);
    /* a finished run's covers every token: no span */
    assert_true(json_is_null(
        json_object_get(json_array_get(json_object_get(j, "runs"), 1), "per_token_span")));
    json_decref(j);
}

static void test_show_text_and_json(void **state)
{
    struct fixture *f = *state;
    char *out = NULL, *err = NULL;
    char args[64];
    snprintf(args, sizeof args, "%.6s", f->ids[0]);
    assert_int_equal(cli(f, "show", args, &out, &err), 0);
    assert_non_null(strstr(out, f->ids[0]));
    assert_non_null(strstr(out, "Phases"));
    assert_non_null(strstr(out, "decode"));
    assert_non_null(strstr(out, "J/token (output)"));
    assert_non_null(strstr(out, "5.000 J"));
    assert_non_null(strstr(out, "ESTIMATED"));
    assert_non_null(strstr(out, "Hottest components"));
    free(out);
    free(err);

    snprintf(args, sizeof args, "--json %s", f->ids[0]);
    json_t *j = cli_json(f, "show", args);
    json_t *ef = json_object_get(j, "efficiency");
    assert_float_equal(json_real_value(json_object_get(ef, "j_per_token")), 5, 1e-9);
    /* (6 J of decode - 2.5 J of token 2, sampled from the prefill's logits) / 1 step */
    assert_float_equal(json_real_value(json_object_get(ef, "decode_j_per_output_token")), 3.5,
                       1e-9);
    json_t *ph = json_object_get(j, "phases");
    assert_int_equal(json_array_size(ph), 2);
    double pct = 0;
    for (size_t i = 0; i < 2; i++)
        pct += json_real_value(json_object_get(json_array_get(ph, i), "energy_pct"));
    assert_float_equal(pct, 100, 1e-9);
    check_identity(json_object_get(j, "run"), f->ids[0], "2023-11-14T22:13:20.000Z");
    assert_true(json_object_get(json_object_get(j, "provenance"), "model_only") == json_true());
    json_decref(j);

    assert_int_equal(cli(f, "show", "ffffffff", &out, &err), 1);
    assert_non_null(strstr(err, "no run with id 'ffffffff'"));
    free(out);
    free(err);
    assert_int_equal(cli(f, "show", "", &out, &err), 2);
    assert_non_null(strstr(err, "missing run ID"));
    free(out);
    free(err);
}

/* A tiny run (1 uJ over 1 s, 2 output tokens): its small figures keep their
 * digits and units instead of reading 0.0000 J or 0.000000 J*s. */
static void test_show_small_figures_never_read_as_zero(void **state)
{
    struct fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    char id[37], b[128];
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    write_run(s, T0_MS + 3 * DAY_MS, "tiny", NULL, 1e-6, id);
    wl_store_close(s);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    /* 1 uJ / 2 output tokens */
    assert_string_equal(value_of(out, "J/token (output)", b, sizeof b), "500.00 nJ");
    /* decode: (0.6 uJ - 0.25 uJ of the first output token) / 1 step */
    assert_string_equal(value_of(out, "decode J/output token", b, sizeof b), "350.00 nJ");
    /* each decode token: 0.25 uJ over 250 ms */
    assert_string_equal(value_of(out, "EDP per output token", b, sizeof b), "6.25e-08 J*s");
    /* three significant digits, as every EDP figure (not "1e-06") */
    assert_string_equal(value_of(out, "EDP total", b, sizeof b), "1.00e-06 J*s");
    /* layer energy 1 uJ / 16 per token and layer; components half of that */
    assert_non_null(strstr(out, "62.50 nJ"));
    assert_non_null(strstr(out, "31.25 nJ"));
    if (strstr(out, "0.0000 ") || strstr(out, " 0.00 mJ"))
        fail_msg("a small figure reads as zero:\n%s", out);
    free(out);
    free(err);
    assert_int_equal(cli(f, "runs", "", &out, &err), 0);
    assert_non_null(strstr(out, "500.00 nJ")); /* the J/TOKEN column */
    free(out);
    free(err);
}

/* A run of package energy without a peak, whose 100 ms power window the
 * provenance gives. */
static void write_peakless_run(wl_store *s, int64_t created, double duration_ms, char *id)
{
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_INFERENCE,
        .created_at_ms = created,
        .model_name = "short",
        .depth = "off",
        .sensor_provenance_json =
            "{\"domains\":[{\"domain\":\"package\",\"power_window_ms\":100}]}"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_domain dom = {.domain = WL_DOMAIN_PACKAGE,
                                  .method = WL_METHOD_COUNTER,
                                  .energy_j = 1,
                                  .avg_power_w = 1000 / duration_ms,
                                  .baseline_power_w = WL_STORE_UNSET,
                                  .peak_power_w = WL_STORE_UNSET,
                                  .peak_t_ms = WL_STORE_UNSET};
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = duration_ms,
                                .energy_j = 1,
                                .energy_method = WL_METHOD_COUNTER,
                                .energy_scope = "package",
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET,
                                .domains = &dom,
                                .n_domains = 1};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

/* show says why a run has no peak: shorter than one power window, which
 * is all a run needs; one that lasted longer and has none was recorded
 * when only the samples' own windows counted, and needed about two. */
static void test_show_says_why_a_run_has_no_peak(void **state)
{
    struct fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    char id[2][37], b[160];
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    write_peakless_run(s, T0_MS + 3 * DAY_MS, 60, id[0]);
    write_peakless_run(s, T0_MS + 4 * DAY_MS, 150, id[1]);
    wl_store_close(s);
    static const char *const want[2] = {
        "n/a (no 100.00 ms power window lies inside the run; it needs about one)",
        "n/a (no 100.00 ms power window lies inside the run; it needs about two)"};
    for (int i = 0; i < 2; i++) {
        char *out = NULL, *err = NULL;
        assert_int_equal(cli(f, "show", id[i], &out, &err), 0);
        assert_string_equal(value_of(out, "peak power", b, sizeof b), want[i]);
        free(out);
        free(err);
    }
}

/* The samples count next to the duration is the whole recording's: show
 * says so, and how many of them the idle baseline took (it read like a
 * wrong count: 317 samples at 100 Hz next to 162 ms). */
static void test_show_says_the_samples_are_the_whole_recording(void **state)
{
    struct fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    char id[37];
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    wl_test_store_make_unrecorded_run(s, 3, true, id);
    wl_store_close(s);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    if (!strstr(out, "   samples 3 (whole recording; 3 in the idle baseline)\n"))
        fail_msg("show: %s", out);
    free(out);
    free(err);
}

/* A headline of package+dram has the package's peak (the widest domain
 * with one); show says so rather than passing it off as the peak of all
 * the headline covers, and --json names the domain. */
static void test_show_names_the_peak_domain_when_the_headline_covers_more(void **state)
{
    struct fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    char id[37], b[160];
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = T0_MS + 5 * DAY_MS,
                               .model_name = "two-domains",
                               .depth = "off"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_domain dom[2] = {{.domain = WL_DOMAIN_PACKAGE,
                                      .method = WL_METHOD_COUNTER,
                                      .energy_j = 8,
                                      .avg_power_w = 16,
                                      .baseline_power_w = WL_STORE_UNSET,
                                      .peak_power_w = 30,
                                      .peak_t_ms = 100},
                                     {.domain = WL_DOMAIN_DRAM,
                                      .method = WL_METHOD_COUNTER,
                                      .energy_j = 2,
                                      .avg_power_w = 4,
                                      .baseline_power_w = WL_STORE_UNSET,
                                      .peak_power_w = 6,
                                      .peak_t_ms = 200}};
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 500,
                                .energy_j = 10,
                                .energy_method = WL_METHOD_COUNTER,
                                .energy_scope = "package+dram",
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET,
                                .domains = dom,
                                .n_domains = 2};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    wl_store_close(s);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    assert_non_null(strstr(out, "peak power (package)"));
    assert_string_equal(value_of(out, "peak power (package)", b, sizeof b),
                        "30.00 W (at 100.00 ms)");
    free(out);
    free(err);
    char args[64];
    snprintf(args, sizeof args, "%s --json", id);
    json_t *j = cli_json(f, "show", args);
    json_t *t = json_object_get(j, "totals");
    assert_string_equal(json_string_value(json_object_get(t, "peak_domain")), "package");
    assert_float_equal(json_number_value(json_object_get(t, "peak_power_w")), 30, 1e-9);
    json_decref(j);
}

/* A headline domain without an idle baseline: show gives no run-level
 * baseline (package's alone would pass for package+dram's) and names the
 * domain that has none. */
static void test_show_names_the_headline_domain_without_a_baseline(void **state)
{
    struct fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    char id[37], b[160];
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = T0_MS + 5 * DAY_MS,
                               .model_name = "dram-without-baseline",
                               .depth = "off"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_domain dom[2] = {{.domain = WL_DOMAIN_PACKAGE,
                                      .method = WL_METHOD_COUNTER,
                                      .energy_j = 8,
                                      .avg_power_w = WL_STORE_UNSET,
                                      .baseline_power_w = 10,
                                      .peak_power_w = WL_STORE_UNSET,
                                      .peak_t_ms = WL_STORE_UNSET},
                                     {.domain = WL_DOMAIN_DRAM,
                                      .method = WL_METHOD_COUNTER,
                                      .energy_j = 2,
                                      .avg_power_w = WL_STORE_UNSET,
                                      .baseline_power_w = WL_STORE_UNSET,
                                      .peak_power_w = WL_STORE_UNSET,
                                      .peak_t_ms = WL_STORE_UNSET}};
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 500,
                                .energy_j = 10,
                                .energy_method = WL_METHOD_COUNTER,
                                .energy_scope = "package+dram",
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET,
                                .domains = dom,
                                .n_domains = 2};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    wl_store_close(s);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    assert_string_equal(value_of(out, "dynamic energy", b, sizeof b),
                        "n/a (no idle baseline for dram, which the headline energy covers)");
    assert_null(strstr(out, "  run: baseline"));
    free(out);
    free(err);
    char args[64];
    snprintf(args, sizeof args, "%s --json", id);
    json_t *j = cli_json(f, "show", args);
    json_t *t = json_object_get(j, "totals");
    assert_string_equal(json_string_value(json_object_get(t, "baseline_status")),
                        "incomplete_domains");
    assert_true(json_is_null(json_object_get(t, "baseline_power_w")));
    json_t *miss = json_object_get(t, "baseline_missing_domains");
    assert_int_equal(json_array_size(miss), 1);
    assert_string_equal(json_string_value(json_array_get(miss, 0)), "dram");
    json_decref(j);
}

/* A run recorded while the sensors left zones unread (provenance
 * "sensors_not_read") says so in show's notes and in --json totals. */
static void test_show_says_the_sensors_were_partial(void **state)
{
    struct fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    char id[37];
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = T0_MS + 6 * DAY_MS,
                               .model_name = "partial",
                               .depth = "off",
                               .sensor_provenance_json = "{\"sensors_not_read\":2,\"domains\":[]}"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 500,
                                .energy_j = 10,
                                .energy_method = WL_METHOD_COUNTER,
                                .energy_scope = "package",
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    wl_store_close(s);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    assert_non_null(strstr(out, "NOTE: PARTIAL sensors: 2 zone(s)"));
    free(out);
    free(err);
    char args[64];
    snprintf(args, sizeof args, "%s --json", id);
    json_t *j = cli_json(f, "show", args);
    json_t *t = json_object_get(j, "totals");
    assert_int_equal(json_integer_value(json_object_get(t, "sensors_not_read")), 2);
    json_decref(j);
    /* a run without the field (older runs, fixture runs) has no note */
    assert_int_equal(cli(f, "show", f->ids[0], &out, &err), 0);
    assert_null(strstr(out, "PARTIAL"));
    free(out);
    free(err);
}

/* A domain row with energy, average power and source; no baseline or peak. */
static struct wl_store_domain measured_domain(enum wl_domain d, enum wl_method m, const char *source,
                                              double energy_j, double avg_power_w)
{
    return (struct wl_store_domain){.domain = d,
                                    .method = m,
                                    .source = source,
                                    .energy_j = energy_j,
                                    .avg_power_w = avg_power_w,
                                    .baseline_power_w = WL_STORE_UNSET,
                                    .peak_power_w = WL_STORE_UNSET,
                                    .peak_t_ms = WL_STORE_UNSET};
}

/* A run whose GPU energy was an NVML counter while the CPU package came
 * from the CPU-time model (a normal user: powercap is root-only) has a
 * headline method of model_estimate; its note says what was estimated and
 * what measured, not "no energy sensor was readable"; --json gives the
 * same per domain. */
static void test_show_names_what_was_estimated(void **state)
{
    struct fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37];
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = T0_MS + 7 * DAY_MS,
                               .model_name = "mixed",
                               .depth = "off"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_domain dom[2] = {
        measured_domain(WL_DOMAIN_PACKAGE, WL_METHOD_MODEL_ESTIMATE, "cpu-model", 6, 12),
        measured_domain(WL_DOMAIN_GPU, WL_METHOD_COUNTER, "nvml", 4, 8)};
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 500, 10, WL_METHOD_MODEL_ESTIMATE);
    tot.energy_scope = "package+gpu";
    tot.domains = dom;
    tot.n_domains = 2;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    wl_store_close(s);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    assert_non_null(strstr(out, "  NOTE: energy figures are partly ESTIMATED: package by "
                                "wattlens's CPU-time model, not measured (no CPU energy sensor "
                                "was readable); gpu: measured (energy counter).\n"));
    assert_null(strstr(out, "no energy sensor was readable"));
    free(out);
    free(err);
    char args[64];
    snprintf(args, sizeof args, "%s --json", id);
    json_t *j = cli_json(f, "show", args);
    json_t *doms = json_object_get(j, "domains");
    assert_int_equal(json_array_size(doms), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *d = json_array_get(doms, i);
        const char *name = json_string_value(json_object_get(d, "domain"));
        const char *method = json_string_value(json_object_get(d, "method"));
        assert_non_null(name);
        assert_non_null(method);
        assert_string_equal(method, strcmp(name, "gpu") == 0 ? "counter" : "model_estimate");
    }
    json_decref(j);
    /* a run estimated through and through keeps the plain note */
    assert_int_equal(cli(f, "show", f->ids[0], &out, &err), 0);
    assert_non_null(strstr(out, "NOTE: energy figures are ESTIMATED by wattlens's CPU-time model, "
                                "not measured (no energy sensor was readable)."));
    free(out);
    free(err);
}

/* The same mix in a run that never finished: its energy_scope column and
 * domain table are written when it ends, so the note reads the headline's
 * domains and their methods from the provenance it wrote when it began. */
static void test_show_names_what_was_estimated_in_an_unfinished_run(void **state)
{
    struct fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37];
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_INFERENCE,
        .created_at_ms = T0_MS + 8 * DAY_MS,
        .model_name = "mixed-open",
        .depth = "off",
        .sensor_provenance_json =
            "{\"energy_scope\":\"package+gpu\",\"domains\":["
            "{\"domain\":\"package\",\"method\":\"model_estimate\",\"in_headline\":true},"
            "{\"domain\":\"gpu\",\"method\":\"counter\",\"in_headline\":true}]}"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "decode",
                                   .name = "token",
                                   .token_index = 0,
                                   .start_ms = 100,
                                   .end_ms = 350,
                                   .energy_j = 3,
                                   .method = WL_METHOD_MODEL_ESTIMATE};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r);
    wl_store_close(s);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "show", id, &out, &err), 0);
    assert_non_null(strstr(out, "  NOTE: energy figures are partly ESTIMATED: package by "
                                "wattlens's CPU-time model, not measured (no CPU energy sensor "
                                "was readable); gpu: measured (energy counter).\n"));
    assert_null(strstr(out, "no energy sensor was readable"));
    free(out);
    free(err);
}

static void test_export_json_nests_the_hierarchy(void **state)
{
    struct fixture *f = *state;
    char args[128];
    snprintf(args, sizeof args, "%s --format json", f->ids[0]);
    json_t *j = cli_json(f, "export", args);
    assert_string_equal(json_string_value(json_object_get(j, "format")), "wattlens-run");
    json_t *run = json_object_get(j, "run");
    check_identity(run, f->ids[0], "2023-11-14T22:13:20.000Z");
    /* fields the store keeps as JSON text are JSON values, not strings */
    json_t *sampling = json_object_get(run, "sampling");
    assert_true(json_is_object(sampling));
    assert_float_equal(json_number_value(json_object_get(sampling, "temperature")), 0.7, 1e-12);
    assert_true(json_object_get(json_object_get(run, "sensor_provenance"), "model_only") ==
                json_true());
    assert_true(json_object_get(json_object_get(run, "model_features"), "gqa") == json_false());
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(run, "extra"), "exit_status")), 0);
    assert_true(json_is_object(json_object_get(run, "extra")));
    assert_int_equal(json_array_size(json_object_get(run, "samples")), 1);
    assert_int_equal(json_array_size(json_object_get(run, "sections")), 2);
    assert_int_equal(json_array_size(json_object_get(run, "domains")), 1);
    assert_non_null(json_object_get(json_object_get(run, "summary"), "efficiency"));
    json_t *toks = json_object_get(run, "tokens");
    assert_int_equal(json_array_size(toks), 4);
    json_t *t3 = json_array_get(toks, 3);
    assert_string_equal(json_string_value(json_object_get(t3, "text")), "out \"q\"");
    json_t *layers = json_object_get(t3, "layers");
    assert_int_equal(json_array_size(layers), 2);
    json_t *comps = json_object_get(json_array_get(layers, 1), "components");
    assert_int_equal(json_array_size(comps), 2);
    json_t *c1 = json_array_get(comps, 1);
    assert_string_equal(json_string_value(json_object_get(c1, "name")), "ffn");
    assert_null(json_object_get(c1, "token_index")); /* implied by the nesting */
    json_t *ops = json_object_get(c1, "ops");
    assert_int_equal(json_array_size(ops), 2);
    json_t *op1 = json_array_get(ops, 1);
    assert_string_equal(json_string_value(json_object_get(op1, "name")), "softmax");
    json_t *he = json_object_get(op1, "head_entropy");
    assert_int_equal(json_array_size(he), 2);
    assert_float_equal(json_real_value(json_array_get(he, 0)), 1.5, 1e-6);
    assert_true(json_is_null(json_object_get(op1, "kill_ratio")));
    json_decref(j);
}

/* A JSON field whose stored text is not JSON (an older writer, a hand edit)
 * is kept as a string: neither dropped nor failing the output. */
static void test_stored_text_that_is_not_json_stays_a_string(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE runs SET sampling = 'temp=0.7', sensor_provenance = '{broken' "
             "WHERE uuid = '%s'",
             f->ids[0]);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    char args[128];
    snprintf(args, sizeof args, "%s --format json", f->ids[0]);
    json_t *j = cli_json(f, "export", args);
    json_t *run = json_object_get(j, "run");
    assert_string_equal(json_string_value(json_object_get(run, "sampling")), "temp=0.7");
    assert_string_equal(json_string_value(json_object_get(run, "sensor_provenance")), "{broken");
    assert_true(json_is_object(json_object_get(run, "extra"))); /* the others still parse */
    json_decref(j);
    snprintf(args, sizeof args, "--json %s", f->ids[0]);
    j = cli_json(f, "show", args);
    assert_string_equal(json_string_value(json_object_get(j, "provenance")), "{broken");
    json_decref(j);
}

/* Stored text that is not valid UTF-8 - a prompt cut inside a character,
 * a model name, a path, a tag, an experiment, and tokens that are each part
 * of one character (the sampler emits bytes) - is never dropped from the
 * JSON: each field shows it with U+FFFD and holds the exact bytes in
 * "<field>_hex", so the export loses nothing. The CSV keeps the bytes. */
static void test_text_that_is_not_utf8_is_kept(void **state)
{
    struct fixture *f = *state;
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->db;
    wl_store *s = NULL;
    assert_int_equal(wl_store_open(&p, &s, NULL), 0);
    const char *tags[] = {"\xC3\xA9t\xE9"}; /* "ete" in UTF-8 then Latin-1 */
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = T0_MS + 3 * DAY_MS,
                               .model_name = "llama-\xFF",
                               .model_path = "/m/\xFE.gguf",
                               .prompt = "caf\xC3",
                               .tags = tags,
                               .n_tags = 1,
                               .experiment = "x\x80"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    const char *texts[] = {"A", "\xE2\x82", "\xAC"}; /* the euro sign over two tokens */
    for (int t = 0; t < 3; t++) {
        struct wl_store_token tok = {.index = t,
                                     .text = texts[t],
                                     .is_input = t == 0,
                                     .start_ms = t,
                                     .end_ms = t + 1,
                                     .energy_j = 1,
                                     .method = WL_METHOD_MODEL_ESTIMATE,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
    }
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 3,
                                .energy_j = 3,
                                .energy_method = WL_METHOD_MODEL_ESTIMATE,
                                .input_tokens = 1,
                                .output_tokens = 2,
                                .response = "\xE2\x82\xAC",
                                .sample_count = -1,
                                .sample_rate_hz = WL_STORE_UNSET};
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    wl_store_close(s);

    json_t *j = cli_json(f, "runs", "--json");
    json_t *r0 = json_array_get(json_object_get(j, "runs"), 0);
    assert_string_equal(json_string_value(json_object_get(r0, "id")), id);
    assert_string_equal(json_string_value(json_object_get(r0, "prompt")), "caf\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(r0, "prompt_hex")), "636166c3");
    assert_string_equal(json_string_value(json_object_get(r0, "model")), "llama-\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(r0, "model_hex")), "6c6c616d612dff");
    assert_string_equal(json_string_value(json_object_get(r0, "experiment_hex")), "7880");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r0, "tags"), 0)),
                        "\xC3\xA9t\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r0, "tags_hex"), 0)),
                        "c3a974e9");
    assert_null(json_object_get(json_array_get(json_object_get(j, "runs"), 1), "prompt_hex"));
    json_decref(j);

    char args[128];
    snprintf(args, sizeof args, "--json %s", id);
    j = cli_json(f, "show", args);
    json_t *run = json_object_get(j, "run");
    assert_string_equal(json_string_value(json_object_get(run, "prompt_hex")), "636166c3");
    assert_string_equal(json_string_value(json_object_get(run, "model_path_hex")),
                        "2f6d2ffe2e67677566");
    json_decref(j);

    snprintf(args, sizeof args, "%s --format json", id);
    j = cli_json(f, "export", args);
    run = json_object_get(j, "run");
    assert_string_equal(json_string_value(json_object_get(run, "prompt")), "caf\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(run, "prompt_hex")), "636166c3");
    assert_string_equal(json_string_value(json_object_get(run, "model_name_hex")),
                        "6c6c616d612dff");
    assert_string_equal(json_string_value(json_object_get(run, "model_path_hex")),
                        "2f6d2ffe2e67677566");
    assert_string_equal(json_string_value(json_object_get(run, "response")), "\xE2\x82\xAC");
    assert_null(json_object_get(run, "response_hex")); /* valid: no _hex */
    assert_string_equal(json_string_value(json_array_get(json_object_get(run, "tags_hex"), 0)),
                        "c3a974e9");
    json_t *toks = json_object_get(run, "tokens");
    assert_int_equal(json_array_size(toks), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(toks, 0), "text")), "A");
    assert_null(json_object_get(json_array_get(toks, 0), "text_hex"));
    json_t *t1 = json_array_get(toks, 1), *t2 = json_array_get(toks, 2);
    assert_string_equal(json_string_value(json_object_get(t1, "text")), "\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(t1, "text_hex")), "e282");
    assert_string_equal(json_string_value(json_object_get(t2, "text")), "\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(t2, "text_hex")), "ac");
    json_decref(j);

    snprintf(args, sizeof args, "%s --format csv", id);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "export", args, &out, &err), 0);
    assert_non_null(strstr(out, "\nprompt,caf\xC3\n"));
    assert_non_null(strstr(out, ",\xE2\x82,0,"));
    free(out);
    free(err);
}

static int count_lines_of_section(const char *text, const char *section)
{
    const char *p = strstr(text, section);
    if (!p)
        return -1;
    p = strchr(p, '\n');
    int n = 0;
    while (p && p[1] && p[1] != '\n' && p[1] != '#') {
        n++;
        p = strchr(p + 1, '\n');
    }
    return n;
}

static void test_export_csv_to_a_file(void **state)
{
    struct fixture *f = *state;
    char args[8400], path[4300];
    snprintf(path, sizeof path, "%s/out.csv", f->dir);
    snprintf(args, sizeof args, "%.8s --format csv -o '%s'", f->ids[1], path);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "export", args, &out, &err), 0);
    assert_string_equal(out, "");
    free(out);
    free(err);
    char *csv = wl_test_read_file(path, NULL);
    assert_non_null(csv);
    assert_true(strncmp(csv, "# metadata\nfield,value\nid,", 26) == 0);
    assert_non_null(strstr(csv, "\n# tokens\ntoken_index,text,is_input,"));
    assert_non_null(strstr(csv, "\n0,\"in,put\",1,")); /* quoted comma */
    assert_non_null(strstr(csv, "\"out \"\"q\"\"\"")); /* doubled quotes */
    assert_int_equal(count_lines_of_section(csv, "# tokens\n"), 1 + 4);
    assert_int_equal(count_lines_of_section(csv, "# power_samples\n"), 1 + 1);
    assert_int_equal(count_lines_of_section(csv, "# layer_metrics\n"), 1 + 8);
    assert_int_equal(count_lines_of_section(csv, "# component_metrics\n"), 1 + 16);
    assert_int_equal(count_lines_of_section(csv, "# op_metrics\n"), 1 + 32);
    assert_non_null(strstr(csv, ",1.5 0.5,")); /* per-head values */
    free(csv);

    assert_int_equal(cli(f, "export", "0000 --format xml", &out, &err), 2);
    assert_non_null(strstr(err, "--format"));
    free(out);
    free(err);
}

static void test_rm_and_gc(void **state)
{
    struct fixture *f = *state;
    char args[256], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "%s ffff0000", f->ids[0]);
    assert_int_equal(cli(f, "rm", args, &out, &err), 1); /* one missing: still removes the other */
    assert_non_null(strstr(out, f->ids[0]));
    assert_non_null(strstr(err, "ffff0000"));
    free(out);
    free(err);
    json_t *j = cli_json(f, "runs", "--json");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
    json_decref(j);

    assert_int_equal(cli(f, "gc", "--keep 1 --dry-run", &out, &err), 0);
    assert_non_null(strstr(out, "would remove"));
    assert_non_null(strstr(out, f->ids[1]));
    assert_non_null(strstr(out, "2023-11-15 22:13 UTC  phi-tiny\n")); /* dates say UTC */
    free(out);
    free(err);
    j = cli_json(f, "gc", "--keep 1 --json");
    assert_int_equal(json_array_size(json_object_get(j, "removed")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "removed"), 0)),
                        f->ids[1]);
    /* each removed run as runs --json shows it: ISO 8601 UTC created_at */
    json_t *gone = json_array_get(json_object_get(j, "removed_runs"), 0);
    assert_string_equal(json_string_value(json_object_get(gone, "id")), f->ids[1]);
    assert_string_equal(json_string_value(json_object_get(gone, "created_at")),
                        "2023-11-15T22:13:20.000Z");
    assert_string_equal(json_string_value(json_object_get(gone, "model")), "phi-tiny");
    assert_string_equal(json_string_value(json_array_get(json_object_get(gone, "tags"), 0)), "b");
    assert_int_equal(json_integer_value(json_object_get(j, "runs_left")), 1);
    json_decref(j);
    assert_int_equal(cli(f, "gc", "", &out, &err), 2);
    assert_non_null(strstr(err, "--keep"));
    free(out);
    free(err);
    /* one run named twice (its id, then a prefix of it) goes once, no error */
    snprintf(args, sizeof args, "%s %.8s", f->ids[2], f->ids[2]);
    assert_int_equal(cli(f, "rm", args, &out, &err), 0);
    const char *first = strstr(out, f->ids[2]);
    assert_non_null(first);
    assert_null(strstr(first + 1, f->ids[2]));
    assert_string_equal(err, "");
    free(out);
    free(err);
    snprintf(args, sizeof args, "%s", f->ids[2]); /* now it is gone: an error */
    assert_int_equal(cli(f, "rm", args, &out, &err), 1);
    free(out);
    free(err);
    j = cli_json(f, "runs", "--json");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    json_decref(j);
}

/* Adds 8 MB of filler rows to the fixture's database (a raw connection). */
static void add_filler(const struct fixture *f)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE filler(b BLOB); WITH RECURSIVE c(i) AS (SELECT 1 "
                                  "UNION ALL SELECT i + 1 FROM c WHERE i < 128) INSERT INTO "
                                  "filler SELECT randomblob(65536) FROM c",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

/* Compacting fails after the runs were removed (VACUUM cannot write its
 * copy: files are limited to 1 MB, with SIGXFSZ ignored, for gc only):
 * gc still lists the runs it removed, says compacting failed as a warning
 * and succeeds (it said only the error, exit 1, and the runs were gone). */
static void test_gc_lists_the_runs_it_removed_when_compacting_fails(void **state)
{
    struct fixture *f = *state;
    add_filler(f);
    struct rlimit old_lim, lim = {1 << 20, 1 << 20};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    lim.rlim_max = old_lim.rlim_max;
    if (lim.rlim_cur > old_lim.rlim_max)
        lim.rlim_cur = old_lim.rlim_max;
    void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
    char *out = NULL, *err = NULL;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    const int rc = cli(f, "gc", "--keep 2", &out, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_xfsz);
    if (rc != 0)
        fail_msg("gc: exit %d: %s%s", rc, out, err);
    char line[128];
    snprintf(line, sizeof line, "removed %s ", f->ids[0]);
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "1 run removed; compacting the file failed"));
    assert_non_null(
        strstr(err, "warning: the runs were removed, but compacting the file failed: "));
    free(out);
    free(err);
    json_t *j = cli_json(f, "runs", "--json");
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
    json_decref(j);

    /* the same in JSON */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    old_xfsz = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(cli(f, "gc", "--keep 1 --json", &out, &err), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_xfsz);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "removed"), 0)),
                        f->ids[1]);
    assert_string_equal(json_string_value(json_object_get(j, "compaction")), "failed");
    assert_non_null(json_string_value(json_object_get(j, "compact_error")));
    json_decref(j);
    free(out);
    free(err);
}

/* A reader of an older snapshot keeps the write-ahead log, which then holds
 * the compacted copy, from being truncated: gc says so rather than report a
 * larger file as compacted. Nothing removed: the file is left as it is. */
static void test_gc_says_when_a_reader_kept_the_log(void **state)
{
    struct fixture *f = *state;
    add_filler(f);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli(f, "gc", "--keep 5", &out, &err), 0);
    assert_non_null(strstr(out, "0 runs removed; file not compacted ("));
    free(out);
    free(err);
    sqlite3 *rd = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->db, &rd), SQLITE_OK);
    assert_int_equal(sqlite3_exec(rd, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(rd, "SELECT count(*) FROM runs", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW); /* the read transaction holds its snapshot */
    const int rc = cli(f, "gc", "--keep 2", &out, &err);
    sqlite3_finalize(st);
    sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(rd);
    if (rc != 0)
        fail_msg("gc: exit %d: %s%s", rc, out, err);
    assert_non_null(strstr(out, "1 run removed; file "));
    assert_non_null(strstr(out, "a reader kept the write-ahead log"));
    free(out);
    free(err);
}

static void test_db_from_environment_and_bad_files(void **state)
{
    struct fixture *f = *state;
    char line[8400], *out = NULL, *err = NULL;
    snprintf(line, sizeof line, "runs --json");
    setenv("WATTLENS_DB", f->db, 1);
    assert_int_equal(wl_test_run_cli(line, &out, &err), 0);
    unsetenv("WATTLENS_DB");
    assert_non_null(strstr(out, "\"total\": 3"));
    free(out);
    free(err);

    char notes[4300];
    snprintf(notes, sizeof notes, "%s/notes.txt", f->dir);
    assert_int_equal(wl_test_write_file(notes, "hello\n", 6), 0);
    snprintf(line, sizeof line, "runs --db '%s'", notes);
    assert_int_equal(wl_test_run_cli(line, &out, &err), 1);
    assert_non_null(strstr(err, "not a wattlens database"));
    assert_non_null(strstr(err, notes));
    free(out);
    free(err);
    char *after = wl_test_read_file(notes, NULL);
    assert_string_equal(after, "hello\n");
    free(after);

    /* an empty file is no database yet, and no command that reads or
     * removes runs makes it one */
    char empty[4300];
    snprintf(empty, sizeof empty, "%s/empty.db", f->dir);
    assert_int_equal(wl_test_write_file(empty, "", 0), 0);
    const char *readers[] = {"runs",    "runs --json", "show abcd", "export abcd --format json",
                             "rm abcd", "gc --keep 1"};
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        snprintf(line, sizeof line, "%s --db '%s'", readers[i], empty);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 1);
        if (!strstr(err, "an empty file, not a wattlens database yet"))
            fail_msg("%s: %s", readers[i], err);
        size_t n = 1;
        after = wl_test_read_file(empty, &n);
        assert_int_equal(n, 0);
        free(after);
        free(out);
        free(err);
    }

    const char *cmds[] = {"runs", "show", "rm", "gc", "export"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(line, sizeof line, "%s --help", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 0);
        assert_non_null(strstr(out, "--db FILE"));
        assert_non_null(strstr(out, "Examples:"));
        free(out);
        free(err);
    }
}

/* runs, show, export, rm and gc parse --help, --db, --json and bad options
 * with one shared helper (cli_store.h): same exits, same messages. */
static void test_common_options_behave_alike(void **state)
{
    struct fixture *f = *state;
    (void)f;
    char line[256], *out = NULL, *err = NULL;
    const char *cmds[] = {"runs", "show", "rm", "gc", "export"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(line, sizeof line, "%s -h", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 0);
        assert_non_null(strstr(out, "  -h, --help           show this help\n"));
        assert_string_equal(err, "");
        free(out);
        free(err);

        snprintf(line, sizeof line, "%s --bogus", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 2);
        assert_string_equal(out, "");
        assert_non_null(strstr(err, "unknown option '--bogus'"));
        free(out);
        free(err);

        snprintf(line, sizeof line, "%s --db", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), 2);
        assert_non_null(strstr(err, "option '--db' needs a value"));
        free(out);
        free(err);

        /* --json only where the output is data (rm's: the runs removed);
         * export has --format json instead */
        bool has_json = strcmp(cmds[i], "export") != 0;
        snprintf(line, sizeof line, "%s --json --help", cmds[i]);
        assert_int_equal(wl_test_run_cli(line, &out, &err), has_json ? 0 : 2);
        assert_true((strstr(out, "--json") != NULL) == has_json);
        free(out);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_runs_json_filters_sorts_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_table_and_usage_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_time_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_refuses_an_empty_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_marks_an_unfinished_run_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_table_pads_by_display_width, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_text_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_marks_per_token_figures_of_a_parted_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_show_small_figures_never_read_as_zero, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_show_says_the_samples_are_the_whole_recording, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_show_says_why_a_run_has_no_peak, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_show_names_the_peak_domain_when_the_headline_covers_more, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_names_the_headline_domain_without_a_baseline,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_says_the_sensors_were_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_names_what_was_estimated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_names_what_was_estimated_in_an_unfinished_run,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_json_nests_the_hierarchy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stored_text_that_is_not_json_stays_a_string, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_export_csv_to_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_that_is_not_utf8_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_and_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_lists_the_runs_it_removed_when_compacting_fails,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_says_when_a_reader_kept_the_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_from_environment_and_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_common_options_behave_alike, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

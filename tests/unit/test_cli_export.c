/* The export command end to end: the JSON nesting of a run's hierarchy,
 * CSV tables written to a file with -o, stored text that is not JSON or
 * not UTF-8 (kept by export, and by runs and show), and a bad --format.
 * The fixture's runs (cli_store_fixture.h) are written through the store
 * API, then the real `wattlens` binary reads them.
 */
#include "cli_store_fixture.h"
#include "csv_table.h"
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_export_json_nests_the_hierarchy(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    char args[128];
    snprintf(args, sizeof args, "%s --format json", f->ids[0]);
    json_t *j = wl_test_cli_db_json(f, "export", args);
    assert_string_equal(json_string_value(json_object_get(j, "format")), "wattlens-run");
    json_t *run = json_object_get(j, "run");
    wl_test_check_run_identity(run, f->ids[0], "2023-11-14T22:13:20.000Z");
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
    struct wl_test_cli_fixture *f = *state;
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
    json_t *j = wl_test_cli_db_json(f, "export", args);
    json_t *run = json_object_get(j, "run");
    assert_string_equal(json_string_value(json_object_get(run, "sampling")), "temp=0.7");
    assert_string_equal(json_string_value(json_object_get(run, "sensor_provenance")), "{broken");
    assert_true(json_is_object(json_object_get(run, "extra"))); /* the others still parse */
    json_decref(j);
    j = wl_test_show_json(f->db, f->ids[0]);
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
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    const char *tags[] = {"\xC3\xA9t\xE9"}; /* "ete" in UTF-8 then Latin-1 */
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = WL_TEST_T0_MS + 3 * WL_TEST_DAY_MS,
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
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 3, 3, WL_METHOD_MODEL_ESTIMATE);
    tot.input_tokens = 1;
    tot.output_tokens = 2;
    tot.response = "\xE2\x82\xAC";
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    wl_store_close(s);

    json_t *j = wl_test_cli_db_json(f, "runs", "--json");
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
    j = wl_test_cli_db_json(f, "show", args);
    json_t *run = json_object_get(j, "run");
    assert_string_equal(json_string_value(json_object_get(run, "prompt_hex")), "636166c3");
    assert_string_equal(json_string_value(json_object_get(run, "model_path_hex")),
                        "2f6d2ffe2e67677566");
    json_decref(j);

    snprintf(args, sizeof args, "%s --format json", id);
    j = wl_test_cli_db_json(f, "export", args);
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
    assert_int_equal(wl_test_cli_db(f, "export", args, &out, &err), 0);
    assert_non_null(strstr(out, "\nprompt,caf\xC3\n"));
    assert_non_null(strstr(out, ",\xE2\x82,0,"));
    free(out);
    free(err);
}

static void test_export_csv_to_a_file(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    char args[8400], path[4300];
    snprintf(path, sizeof path, "%s/out.csv", f->dir);
    snprintf(args, sizeof args, "%.8s --format csv -o '%s'", f->ids[1], path);
    char *out = NULL, *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "export", args, &out, &err), 0);
    assert_string_equal(out, "");
    free(out);
    free(err);
    char *csv = wl_test_read_file(path, NULL);
    assert_non_null(csv);
    assert_true(strncmp(csv, "# metadata\nfield,value\nid,", 26) == 0);
    assert_non_null(strstr(csv, "\n# tokens\ntoken_index,text,is_input,"));
    assert_non_null(strstr(csv, "\n0,\"in,put\",1,")); /* quoted comma */
    assert_non_null(strstr(csv, "\"out \"\"q\"\"\"")); /* doubled quotes */
    assert_int_equal(wl_test_csv_rows(csv, "tokens"), 4);
    assert_int_equal(wl_test_csv_rows(csv, "power_samples"), 1);
    assert_int_equal(wl_test_csv_rows(csv, "layer_metrics"), 8);
    assert_int_equal(wl_test_csv_rows(csv, "component_metrics"), 16);
    assert_int_equal(wl_test_csv_rows(csv, "op_metrics"), 32);
    assert_non_null(strstr(csv, ",1.5 0.5,")); /* per-head values */
    free(csv);

    assert_int_equal(wl_test_cli_db(f, "export", "0000 --format xml", &out, &err), 2);
    assert_non_null(strstr(err, "--format"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_export_json_nests_the_hierarchy, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_stored_text_that_is_not_json_stays_a_string,
                                        wl_test_cli_setup, wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_text_that_is_not_utf8_is_kept, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_export_csv_to_a_file, wl_test_cli_setup,
                                        wl_test_cli_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

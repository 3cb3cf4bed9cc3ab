/* The run exports (src/export/run_export.c) of rows that wattlens never
 * writes but the schema allows, as another program or a hand edit leaves
 * them: token indices below zero are exported once each, with their layer
 * rows and batch ranges; a tag, a prompt, a command, a model name or an
 * experiment holding a NUL byte keeps all its bytes.
 */
#include "store_fixture.h"
#include "test_support.h"

#include "analysis/run_json.h"
#include "export/run_export.h"
#include "wattlens/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The export of run id into a heap string (JSON, or CSV). */
static char *export_text(wl_store *s, const char *id, bool csv)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    struct wl_errmsg e = {{0}};
    int rc = csv ? wl_export_run_csv(s, id, 0, f, &e) : wl_export_run_json(s, id, 0, f, &e);
    if (rc != 0)
        fail_msg("export: %s (%s)", wl_strerror(rc), e.text);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static json_t *export_json(wl_store *s, const char *id)
{
    char *text = export_text(s, id, false);
    json_error_t je;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &je);
    if (!j)
        fail_msg("export is no JSON (%s): %.200s", je.text, text);
    free(text);
    return j;
}

/* ---- token indices below zero ------------------------------------------------ *
 * The JSON export reads the tokens in chunks of 32 stored indices, each
 * chunk by its first and last index. Old: the store read a negative bound
 * as "no bound", so a chunk of indices below zero got every token from its
 * first to the end of the run, and the next chunks repeated them (a run of
 * 155 tokens exported 775). */
static void test_token_indices_below_zero_are_exported_once(void **state)
{
    struct wl_test_store_fixture *f = *state;
    enum { N_IN = 40, N_OUT = 30, SHIFT = 1000 };
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m"};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_test_store_add_tokens(r, 0, N_IN + N_OUT, N_IN, 0.5, WL_METHOD_COUNTER);
    /* the prompt batch's layer rows under its last input token, a decode
     * step's under its output token */
    struct wl_store_layer_metric lm[] = {
        {N_IN - 1, 0, 5, 0.25}, {N_IN - 1, 1, 5, 0.25}, {N_IN + 5, 0, 1, 0.1}};
    for (size_t i = 0; i < sizeof lm / sizeof *lm; i++)
        assert_int_equal(wl_store_add_layer_metric(r, &lm[i]), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 700, 35, WL_METHOD_COUNTER);
    tot.input_tokens = N_IN;
    tot.output_tokens = N_OUT;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    wl_test_store_raw_exec(f->path, "UPDATE tokens SET idx = idx - 1000; "
                                    "UPDATE layer_metrics SET token_idx = token_idx - 1000;");

    json_t *doc = export_json(f->s, id);
    json_t *toks = json_object_get(json_object_get(doc, "run"), "tokens");
    assert_int_equal(json_array_size(toks), N_IN + N_OUT);
    for (size_t i = 0; i < json_array_size(toks); i++) {
        json_t *t = json_array_get(toks, i);
        assert_int_equal(json_integer_value(json_object_get(t, "token_index")),
                         (json_int_t)i - SHIFT);
        size_t want_layers = i == N_IN - 1 ? 2 : i == N_IN + 5 ? 1 : 0;
        assert_int_equal(json_array_size(json_object_get(t, "layers")), want_layers);
        json_t *first = json_object_get(t, "layers_first_token");
        if (want_layers == 0) {
            assert_true(json_is_null(first));
            continue;
        }
        /* the batch's input tokens from its first, a decode step itself */
        json_int_t want_first = i == N_IN - 1 ? -SHIFT : (json_int_t)i - SHIFT;
        assert_int_equal(json_integer_value(first), want_first);
        assert_int_equal(json_integer_value(json_object_get(t, "layers_last_token")),
                         (json_int_t)i - SHIFT);
    }
    json_decref(doc);
}

/* ---- a tag holding a NUL byte ---------------------------------------------- *
 * Old: the tags passed through a C string, so "t\0u" was "t" in the JSON of
 * the export, show and runs, with no tags_hex; the CSV kept every byte. */
static void check_tags(json_t *o)
{
    json_t *tags = json_object_get(o, "tags");
    assert_int_equal(json_array_size(tags), 2);
    json_t *t = json_array_get(tags, 1);
    assert_int_equal(json_string_length(t), 3);
    assert_memory_equal(json_string_value(t), "t\0u", 3);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "a");
    assert_null(json_object_get(o, "tags_hex")); /* NUL is valid UTF-8 */
}

static void test_a_tag_with_a_nul_byte_keeps_its_bytes(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_test_run_spec sp = {
        .created_at_ms = WL_TEST_T0_MS, .tags = {"a", "t"}, .duration_ms = 1, .energy_j = 1};
    char id[37];
    wl_test_store_make_run(f->s, &sp, id);
    wl_test_store_raw_exec(f->path, "UPDATE run_tags SET tag = 't' || char(0) || 'u' "
                                    "WHERE tag = 't'");

    json_t *doc = export_json(f->s, id);
    check_tags(json_object_get(doc, "run"));
    json_decref(doc);

    /* runs --json and show --json: the listed row's identity */
    struct wl_run_list list = {0};
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 10, 0, &list), 0);
    assert_int_equal(list.n, 1);
    assert_int_equal(list.rows[0].tags_len, 5);
    json_t *ident = wl_run_json_identity(&list.rows[0]);
    check_tags(ident);
    json_decref(ident);
    wl_run_list_free(&list);
}

/* ---- the run's other texts holding a NUL byte --------------------------------- *
 * Old: the command, model, prompt and experiment of the run row passed
 * through C strings, so show --json and runs --json cut them at the NUL
 * ("c" for "c\0d"); only the export kept every byte. */
static void check_text(json_t *o, const char *key, const char *want, size_t n)
{
    json_t *t = json_object_get(o, key);
    if (!json_is_string(t) || json_string_length(t) != n ||
        memcmp(json_string_value(t), want, n) != 0)
        fail_msg("%s: %zu bytes, want %zu", key, json_string_length(t), n);
}

/* model_key: the export's "model_name", the identity's "model" */
static void check_texts(json_t *o, const char *model_key)
{
    check_text(o, "command", "c\0d", 3);
    check_text(o, model_key, "m\0n", 3);
    check_text(o, "prompt", "p\0q", 3);
    check_text(o, "experiment", "e\0f", 3);
}

static void test_the_run_texts_with_a_nul_byte_keep_their_bytes(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS, .duration_ms = 1, .energy_j = 1};
    char id[37];
    wl_test_store_make_run(f->s, &sp, id);
    wl_test_store_raw_exec(f->path, "UPDATE runs SET command = 'c' || char(0) || 'd', "
                                    "model_name = 'm' || char(0) || 'n', "
                                    "prompt = 'p' || char(0) || 'q', "
                                    "experiment = 'e' || char(0) || 'f'");

    json_t *doc = export_json(f->s, id);
    check_texts(json_object_get(doc, "run"), "model_name");
    json_decref(doc);

    /* runs --json: the listed row's identity */
    struct wl_run_list list = {0};
    assert_int_equal(wl_store_list_runs(f->s, NULL, WL_SORT_DATE, 10, 0, &list), 0);
    assert_int_equal(list.n, 1);
    assert_int_equal(list.rows[0].prompt_len, 3);
    json_t *ident = wl_run_json_identity(&list.rows[0]);
    check_texts(ident, "model");
    json_decref(ident);
    wl_run_list_free(&list);

    /* show --json: the summary's row */
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    ident = wl_run_json_identity(&a.run.row);
    check_texts(ident, "model");
    json_decref(ident);
    wl_store_aggregates_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_indices_below_zero_are_exported_once,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_tag_with_a_nul_byte_keeps_its_bytes,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_the_run_texts_with_a_nul_byte_keep_their_bytes,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

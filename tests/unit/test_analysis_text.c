/* analysis/summary and analysis/run_json: the text of a summary. The JSON
 * shapes of a run's own fields (times, tags, stored JSON text), stored
 * text that is not UTF-8 kept with its exact bytes, and names too long for
 * the summary's fields cut between characters. The rest of the summary is
 * in test_analysis.c.
 */
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "analysis/run_json.h"
#include "analysis/summary.h"
#include "engine/hooks.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The JSON shapes of a run's own fields (analysis/run_json.h). */
static void test_run_json_shapes(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(wl_run_json_format_time(1700000000123LL, b, sizeof b),
                        "2023-11-14T22:13:20.123Z");
    assert_string_equal(wl_run_json_format_time(0, b, sizeof b), "1970-01-01T00:00:00.000Z");
    assert_string_equal(wl_run_json_format_time(-1, b, sizeof b), "1969-12-31T23:59:59.999Z");
    assert_string_equal(wl_run_json_format_time(0, b, 10), "?"); /* too small: not cut */
    /* four digits of year, 0000 to 9999 (glibc's %Y wrote "0-01-01"); past
     * them no ISO 8601 time, as SQLite's strftime (the export's) */
    assert_string_equal(wl_run_json_format_time(-62167219200000LL, b, sizeof b),
                        "0000-01-01T00:00:00.000Z");
    assert_string_equal(wl_run_json_format_time(253402300799999LL, b, sizeof b),
                        "9999-12-31T23:59:59.999Z");
    assert_null(wl_run_json_format_time(253402300800000LL, b, sizeof b));
    assert_null(wl_run_json_format_time(-62167219200001LL, b, sizeof b));

    json_t *o = json_object();
    assert_int_equal(wl_run_json_set_tags(o, "cpu,q4", 6), 0);
    json_t *t = json_object_get(o, "tags");
    assert_int_equal(json_array_size(t), 2);
    assert_string_equal(json_string_value(json_array_get(t, 1)), "q4");
    assert_null(json_object_get(o, "tags_hex"));
    assert_int_equal(wl_run_json_set_tags(o, NULL, 0), 0);
    t = json_object_get(o, "tags");
    assert_true(json_is_array(t) && json_array_size(t) == 0);
    /* a tag that is not UTF-8: shown with U+FFFD, every tag's bytes in tags_hex */
    assert_int_equal(wl_run_json_set_tags(o, "a\xFF,ok", 5), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "tags"), 0)),
                        "a\xEF\xBF\xBD");
    json_t *th = json_object_get(o, "tags_hex");
    assert_int_equal(json_array_size(th), 2);
    assert_string_equal(json_string_value(json_array_get(th, 0)), "61ff");
    assert_string_equal(json_string_value(json_array_get(th, 1)), "6f6b");
    json_decref(o);

    json_t *v = wl_run_json_text("{\"a\":[1]}", 9, NULL);
    assert_true(json_is_array(json_object_get(v, "a")));
    json_decref(v);
    v = wl_run_json_text("{\"a\"", 4, NULL);
    assert_string_equal(json_string_value(v), "{\"a\"");
    json_decref(v);
    v = wl_run_json_text(NULL, 0, NULL);
    assert_true(json_is_null(v));
    json_decref(v);
    /* JSON text with a byte that is not UTF-8 is still read as JSON (the
     * byte as U+FFFD), and its exact bytes go to <key>_hex */
    bool lossy = false;
    v = wl_run_json_text("{\"cpu\":\"x\xFF\"}", 12, &lossy);
    assert_true(lossy);
    assert_string_equal(json_string_value(json_object_get(v, "cpu")), "x\xEF\xBF\xBD");
    json_decref(v);
    o = json_object();
    assert_int_equal(wl_run_json_set_json(o, "extra", "\"\xFF\"", 3), 0);
    assert_string_equal(json_string_value(json_object_get(o, "extra")), "\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(o, "extra_hex")), "22ff22");
    assert_int_equal(wl_run_json_set_json(o, "sampling", "{}", 2), 0);
    assert_null(json_object_get(o, "sampling_hex"));
    json_decref(o);
}

/* Stored text that is not valid UTF-8 (here a prompt cut inside a
 * character, a tag, a model name and a path) is kept in the summary's JSON
 * rather than dropped: shown with U+FFFD, exact in "<field>_hex". */
static void test_summary_json_keeps_text_that_is_not_utf8(void **state)
{
    struct wl_test_store_fixture *f = *state;
    const char *tags[] = {"t\xFE"};
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .model_name = "m\xC3",
                               .model_path = "/models/\xFF.gguf",
                               .prompt = "caf\xC3",
                               .tags = tags,
                               .n_tags = 1};
    wl_store_run *r = NULL;
    char id[37];
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_FAILED, 1, 1, WL_METHOD_COUNTER);
    tot.error = "bad \x80 byte";
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    json_t *j = wl_summary_to_json(&a, &s);
    json_t *run = json_object_get(j, "run");
    assert_string_equal(json_string_value(json_object_get(run, "prompt")), "caf\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(run, "prompt_hex")), "636166c3");
    assert_string_equal(json_string_value(json_object_get(run, "model_hex")), "6dc3");
    assert_string_equal(json_string_value(json_object_get(run, "model_path")),
                        "/models/\xEF\xBF\xBD.gguf");
    assert_string_equal(json_string_value(json_object_get(run, "model_path_hex")),
                        "2f6d6f64656c732fff2e67677566");
    assert_string_equal(json_string_value(json_object_get(run, "error_hex")),
                        "62616420802062797465");
    assert_string_equal(json_string_value(json_array_get(json_object_get(run, "tags"), 0)),
                        "t\xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_array_get(json_object_get(run, "tags_hex"), 0)),
                        "74fe");
    assert_null(json_object_get(run, "id_hex"));
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

/* n copies of s, in a static buffer (valid until the next call). */
static const char *repeat(const char *s, int n)
{
    static char buf[512];
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(buf, s);
    return buf;
}

/* Phase, component and domain-source names are kept in fixed fields: every
 * name the engine writes fits them, as does a source the sampler writes
 * (several channels); a longer name from another writer is cut between two
 * characters, never inside one, finished (precomputed component rows) or
 * not. */
static void test_summary_names_are_cut_between_characters(void **state)
{
    struct wl_test_store_fixture *f = *state;
    for (int p = 0; p < WL_PHASE_COUNT; p++)
        assert_true(strlen(wl_phase_name((enum wl_phase)p)) < WL_STORE_NAME_SIZE);
    for (int c = 0; c < WL_COMP_COUNT; c++)
        assert_true(strlen(wl_component_name((enum wl_component)c)) < WL_STORE_NAME_SIZE);

    char phase[128], comp[128], cut_phase[128], cut_comp[128], source[512], cut_source[512];
    snprintf(phase, sizeof phase, "%s", repeat("\xC3\xA9", 20));                    /* 40 bytes */
    snprintf(cut_phase, sizeof cut_phase, "%s", repeat("\xC3\xA9", 15));            /* 30 of 31 */
    snprintf(comp, sizeof comp, "%s", repeat("\xE6\xB3\xA8", 11));                  /* 33 bytes */
    snprintf(cut_comp, sizeof cut_comp, "%s", repeat("\xE6\xB3\xA8", 10));          /* 30 of 31 */
    snprintf(source, sizeof source, "%s", repeat("\xC3\xA9", 90));                  /* 180 bytes */
    snprintf(cut_source, sizeof cut_source, "%s", repeat("\xC3\xA9", 79));          /* 158 of 159 */
    const char *long_ascii = "rapl-powercap: package-0, package-1, dram-0, dram-1"; /* 51 */
    for (int finish = 0; finish < 2; finish++) {
        struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE};
        wl_store_run *r = NULL;
        char id[37];
        assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
        struct wl_store_section sec = {.phase = phase,
                                       .name = "layers",
                                       .token_index = -1,
                                       .start_ms = 0,
                                       .end_ms = 10,
                                       .energy_j = 1,
                                       .method = WL_METHOD_COUNTER};
        assert_int_equal(wl_store_add_section(r, &sec), 0);
        struct wl_store_token tok = {.index = 0,
                                     .text = "t",
                                     .start_ms = 0,
                                     .end_ms = 10,
                                     .energy_j = 1,
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
        struct wl_store_layer_metric lm = {0, 0, 10, 1};
        assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
        struct wl_store_component_metric cm = wl_test_component_row(0, 0, 0, comp, 10, 1);
        assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
        struct wl_store_domain doms[2] = {
            wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_COUNTER, long_ascii, 1, WL_STORE_UNSET),
            wl_test_domain_row(WL_DOMAIN_DRAM, WL_METHOD_COUNTER, source, 1, WL_STORE_UNSET)};
        if (finish) {
            struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 10, 1, WL_METHOD_COUNTER);
            tot.domains = doms;
            tot.n_domains = 2;
            assert_int_equal(wl_store_run_finish(r, &tot), 0);
        } else {
            assert_int_equal(wl_store_run_set_domain(r, &doms[0]), 0);
            assert_int_equal(wl_store_run_set_domain(r, &doms[1]), 0);
            assert_int_equal(wl_store_flush(r), 0);
            wl_store_run_abandon(r);
        }

        struct wl_store_aggregates a;
        assert_int_equal(wl_store_summary(f->s, id, &a), 0);
        assert_int_equal(a.n_phases, 1);
        assert_string_equal(a.phases[0].name, cut_phase);
        assert_int_equal(a.n_components, 1);
        assert_string_equal(a.components[0].name, cut_comp);
        assert_int_equal(a.run.n_domains, 2);
        for (size_t i = 0; i < 2; i++)
            assert_string_equal(a.run.domain_source[i], a.run.domains[i].domain == WL_DOMAIN_PACKAGE
                                                            ? long_ascii
                                                            : cut_source);
        struct wl_summary s;
        assert_int_equal(wl_summary_compute(&a, &s), 0);
        assert_string_equal(s.phases[0].name, cut_phase);
        assert_string_equal(s.components[0].name, cut_comp);
        assert_string_equal(s.hottest[0].name, cut_comp);
        /* the JSON has valid text, so no _hex sibling claims the cut is exact */
        json_t *j = wl_summary_to_json(&a, &s);
        json_t *ph = json_array_get(json_object_get(j, "phases"), 0);
        assert_string_equal(json_string_value(json_object_get(ph, "phase")), cut_phase);
        assert_null(json_object_get(ph, "phase_hex"));
        char *dump = json_dumps(j, 0);
        assert_null(strstr(dump, "_hex"));
        free(dump);
        json_decref(j);
        wl_summary_free(&s);
        wl_store_aggregates_free(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_json_shapes),
        cmocka_unit_test_setup_teardown(test_summary_json_keeps_text_that_is_not_utf8,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_summary_names_are_cut_between_characters,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

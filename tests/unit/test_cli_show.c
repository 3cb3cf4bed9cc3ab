/* The show command end to end: its text and JSON, the per-token figures
 * of a run stopped between two saves, small figures that keep their
 * digits, and the notes that say why a figure is missing or what it
 * covers (no peak, the peak's domain, a headline domain without a
 * baseline, partial sensors, what was estimated). The fixture's runs
 * (cli_store_fixture.h) are written through the store API, then the real
 * `wattlens` binary reads them.
 */
#include "cli_store_fixture.h"
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* show of a run stopped between two saves, its decode sections ahead of
 * its token rows: the per-token figures cover the tokens both hold, are
 * marked '*' and a note says so; the JSON gives the span. */
static void test_show_marks_per_token_figures_of_a_parted_run(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37];
    /* decode sections of output tokens 3, 4 and 5 (2, 2.5 and 1.5 J, 200 ms
     * each); token rows of 3 and 4 only */
    wl_test_store_make_parted_run(s, 3, 2, id);
    wl_store_close(s);

    char *out = wl_test_show_text(f->db, id);
    /* decode: token 4's step, 2.5 J in 200 ms (token 3 is sampled from the
     * prefill's logits), not token 5's section with it; J/token over the
     * tokens both hold: (0.5 + 3 + 2 + 2.5 J) / 2 */
    assert_non_null(strstr(out, "decode steps                1*"));
    assert_non_null(strstr(out, "decode J/output token       2.500 J*\n"));
    assert_non_null(strstr(out, "decode tokens/s             5.00 tok/s*\n"));
    assert_non_null(strstr(out, "J/token (output)            4.000 J*\n"));
    assert_non_null(strstr(out, "prefill J/input token       1.000 J\n")); /* not marked */
    assert_non_null(strstr(out, "  * partial: the run stopped between two saves and kept 1 decode "
                                "section without\n    their token rows;"));
    assert_non_null(strstr(out, "only the 2 output tokens both hold, up to token 4 (4.500 J in "
                                "400.00 ms of decode)\n"));
    assert_non_null(strstr(out, "per 1000 output tokens*)"));
    free(out);
    json_t *j = wl_test_show_json(f->db, id);
    json_t *ef = json_object_get(j, "efficiency");
    assert_float_equal(json_real_value(json_object_get(ef, "decode_j_per_output_token")), 2.5,
                       1e-9);
    json_t *sp = json_object_get(ef, "per_token_span");
    assert_int_equal(json_integer_value(json_object_get(ef, "decode_steps")), 1);
    assert_int_equal(json_integer_value(json_object_get(sp, "last_token_index")), 4);
    assert_int_equal(json_integer_value(json_object_get(sp, "decode_sections_beyond")), 1);
    assert_int_equal(json_integer_value(json_object_get(sp, "token_rows_beyond")), 0);
    /* each output row says how many tokens its round produced */
    json_t *toks = json_object_get(j, "output_tokens");
    assert_int_equal(json_array_size(toks), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(toks, 0), "n_seq")), 1);
    json_decref(j);
    /* the list's J/token is over the same span, and says so: its energy_j
     * (9.5 J, every section) over output_tokens (2) is not it */
    j = wl_test_cli_db_json(f, "runs", "--json --limit 2");
    json_t *r0 = json_array_get(json_object_get(j, "runs"), 0);
    assert_string_equal(json_string_value(json_object_get(r0, "id")), id);
    assert_float_equal(json_real_value(json_object_get(r0, "energy_j")), 9.5, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(r0, "output_tokens")), 2);
    assert_float_equal(json_real_value(json_object_get(r0, "j_per_token")), 4, 1e-9);
    sp = json_object_get(r0, "per_token_span");
    assert_int_equal(json_integer_value(json_object_get(sp, "last_token_index")), 4);
    assert_int_equal(json_integer_value(json_object_get(sp, "output_tokens")), 2);
    assert_float_equal(json_real_value(json_object_get(sp, "energy_j")), 8, 1e-9);
    /* a finished run's covers every token: no span */
    assert_true(json_is_null(
        json_object_get(json_array_get(json_object_get(j, "runs"), 1), "per_token_span")));
    json_decref(j);
}

static void test_show_text_and_json(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    char *out = NULL, *err = NULL;
    char args[64];
    snprintf(args, sizeof args, "%.6s", f->ids[0]);
    assert_int_equal(wl_test_cli_db(f, "show", args, &out, &err), 0);
    assert_non_null(strstr(out, f->ids[0]));
    assert_non_null(strstr(out, "Phases"));
    assert_non_null(strstr(out, "decode"));
    assert_non_null(strstr(out, "J/token (output)"));
    assert_non_null(strstr(out, "5.000 J"));
    assert_non_null(strstr(out, "ESTIMATED"));
    assert_non_null(strstr(out, "Hottest components"));
    free(out);
    free(err);

    json_t *j = wl_test_show_json(f->db, f->ids[0]);
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
    wl_test_check_run_identity(json_object_get(j, "run"), f->ids[0], "2023-11-14T22:13:20.000Z");
    assert_true(json_object_get(json_object_get(j, "provenance"), "model_only") == json_true());
    json_decref(j);

    assert_int_equal(wl_test_cli_db(f, "show", "ffffffff", &out, &err), 1);
    assert_non_null(strstr(err, "no run with id 'ffffffff'"));
    free(out);
    free(err);
    assert_int_equal(wl_test_cli_db(f, "show", "", &out, &err), 2);
    assert_non_null(strstr(err, "missing run ID"));
    free(out);
    free(err);
}

/* A tiny run (1 uJ over 1 s, 2 output tokens): its small figures keep their
 * digits and units instead of reading 0.0000 J or 0.000000 J*s. */
static void test_show_small_figures_never_read_as_zero(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37], b[128];
    wl_test_cli_write_run(s, WL_TEST_T0_MS + 3 * WL_TEST_DAY_MS, "tiny", NULL, 1e-6, id);
    wl_store_close(s);
    char *out = wl_test_show_text(f->db, id);
    /* 1 uJ / 2 output tokens */
    assert_string_equal(wl_test_line_value(out, "J/token (output)", b, sizeof b), "500.00 nJ");
    /* decode: (0.6 uJ - 0.25 uJ of the first output token) / 1 step */
    assert_string_equal(wl_test_line_value(out, "decode J/output token", b, sizeof b), "350.00 nJ");
    /* each decode token: 0.25 uJ over 250 ms */
    assert_string_equal(wl_test_line_value(out, "EDP per output token", b, sizeof b),
                        "6.25e-08 J*s");
    /* three significant digits, as every EDP figure (not "1e-06") */
    assert_string_equal(wl_test_line_value(out, "EDP total", b, sizeof b), "1.00e-06 J*s");
    /* layer energy 1 uJ / 16 per token and layer; components half of that */
    assert_non_null(strstr(out, "62.50 nJ"));
    assert_non_null(strstr(out, "31.25 nJ"));
    if (strstr(out, "0.0000 ") || strstr(out, " 0.00 mJ"))
        fail_msg("a small figure reads as zero:\n%s", out);
    free(out);
    char *err = NULL;
    assert_int_equal(wl_test_cli_db(f, "runs", "", &out, &err), 0);
    assert_non_null(strstr(out, "500.00 nJ")); /* the J/TOKEN column */
    free(out);
    free(err);
}

/* Writes a finished run of info: 500 ms and 10 J by method over scope,
 * with the domain rows dom[0..n_dom); its id into id. */
static void write_finished_run(wl_store *s, const struct wl_run_info *info, enum wl_method method,
                               const char *scope, struct wl_store_domain *dom, size_t n_dom,
                               char *id)
{
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, info, &r, id), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 500, 10, method);
    tot.energy_scope = scope;
    tot.domains = dom;
    tot.n_domains = n_dom;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

/* A finished run of package+dram (counter) with the domain rows dom, five
 * days after the fixture's first run; its id into id. */
static void write_package_dram_run(wl_store *s, const char *model, struct wl_store_domain dom[2],
                                   char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = WL_TEST_T0_MS + 5 * WL_TEST_DAY_MS,
                               .model_name = model,
                               .depth = "off"};
    write_finished_run(s, &info, WL_METHOD_COUNTER, "package+dram", dom, 2, id);
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
    struct wl_store_domain dom =
        wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_COUNTER, NULL, 1, 1000 / duration_ms);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, duration_ms, 1, WL_METHOD_COUNTER);
    tot.energy_scope = "package";
    tot.domains = &dom;
    tot.n_domains = 1;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

/* show says why a run has no peak: shorter than one power window, which
 * is all a run needs; one that lasted longer and has none was recorded
 * when only the samples' own windows counted, and needed about two. */
static void test_show_says_why_a_run_has_no_peak(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[2][37], b[160];
    write_peakless_run(s, WL_TEST_T0_MS + 3 * WL_TEST_DAY_MS, 60, id[0]);
    write_peakless_run(s, WL_TEST_T0_MS + 4 * WL_TEST_DAY_MS, 150, id[1]);
    wl_store_close(s);
    static const char *const want[2] = {
        "n/a (no 100.00 ms power window lies inside the run; it needs about one)",
        "n/a (no 100.00 ms power window lies inside the run; it needs about two)"};
    for (int i = 0; i < 2; i++) {
        char *out = wl_test_show_text(f->db, id[i]);
        assert_string_equal(wl_test_line_value(out, "peak power", b, sizeof b), want[i]);
        free(out);
    }
}

/* The samples count next to the duration is the whole recording's: show
 * says so, and how many of them the idle baseline took (it read like a
 * wrong count: 317 samples at 100 Hz next to 162 ms). */
static void test_show_says_the_samples_are_the_whole_recording(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37];
    wl_test_store_make_unrecorded_run(s, 3, true, id);
    wl_store_close(s);
    char *out = wl_test_show_text(f->db, id);
    if (!strstr(out, "   samples 3 (whole recording; 3 in the idle baseline)\n"))
        fail_msg("show: %s", out);
    free(out);
}

/* A headline of package+dram has the package's peak (the widest domain
 * with one); show says so rather than passing it off as the peak of all
 * the headline covers, and --json names the domain. */
static void test_show_names_the_peak_domain_when_the_headline_covers_more(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37], b[160];
    struct wl_store_domain dom[2] = {
        wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_COUNTER, NULL, 8, 16),
        wl_test_domain_row(WL_DOMAIN_DRAM, WL_METHOD_COUNTER, NULL, 2, 4)};
    dom[0].peak_power_w = 30;
    dom[0].peak_t_ms = 100;
    dom[1].peak_power_w = 6;
    dom[1].peak_t_ms = 200;
    write_package_dram_run(s, "two-domains", dom, id);
    wl_store_close(s);
    char *out = wl_test_show_text(f->db, id);
    assert_non_null(strstr(out, "peak power (package)"));
    assert_string_equal(wl_test_line_value(out, "peak power (package)", b, sizeof b),
                        "30.00 W (at 100.00 ms)");
    free(out);
    json_t *j = wl_test_show_json(f->db, id);
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
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37], b[160];
    struct wl_store_domain dom[2] = {
        wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_COUNTER, NULL, 8, WL_STORE_UNSET),
        wl_test_domain_row(WL_DOMAIN_DRAM, WL_METHOD_COUNTER, NULL, 2, WL_STORE_UNSET)};
    dom[0].baseline_power_w = 10;
    write_package_dram_run(s, "dram-without-baseline", dom, id);
    wl_store_close(s);
    char *out = wl_test_show_text(f->db, id);
    assert_string_equal(wl_test_line_value(out, "dynamic energy", b, sizeof b),
                        "n/a (no idle baseline for dram, which the headline energy covers)");
    assert_null(strstr(out, "  run: baseline"));
    free(out);
    json_t *j = wl_test_show_json(f->db, id);
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
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37];
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = WL_TEST_T0_MS + 6 * WL_TEST_DAY_MS,
                               .model_name = "partial",
                               .depth = "off",
                               .sensor_provenance_json = "{\"sensors_not_read\":2,\"domains\":[]}"};
    write_finished_run(s, &info, WL_METHOD_COUNTER, "package", NULL, 0, id);
    wl_store_close(s);
    char *out = wl_test_show_text(f->db, id);
    assert_non_null(strstr(out, "NOTE: PARTIAL sensors: 2 zone(s)"));
    free(out);
    json_t *j = wl_test_show_json(f->db, id);
    json_t *t = json_object_get(j, "totals");
    assert_int_equal(json_integer_value(json_object_get(t, "sensors_not_read")), 2);
    json_decref(j);
    /* a run without the field (older runs, fixture runs) has no note */
    out = wl_test_show_text(f->db, f->ids[0]);
    assert_null(strstr(out, "PARTIAL"));
    free(out);
}

/* A run whose GPU energy was an NVML counter while the CPU package came
 * from the CPU-time model (a normal user: powercap is root-only) has a
 * headline method of model_estimate; its note says what was estimated and
 * what measured, not "no energy sensor was readable"; --json gives the
 * same per domain. */
static void test_show_names_what_was_estimated(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37];
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = WL_TEST_T0_MS + 7 * WL_TEST_DAY_MS,
                               .model_name = "mixed",
                               .depth = "off"};
    struct wl_store_domain dom[2] = {
        wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_MODEL_ESTIMATE, "cpu-model", 6, 12),
        wl_test_domain_row(WL_DOMAIN_GPU, WL_METHOD_COUNTER, "nvml", 4, 8)};
    write_finished_run(s, &info, WL_METHOD_MODEL_ESTIMATE, "package+gpu", dom, 2, id);
    wl_store_close(s);
    char *out = wl_test_show_text(f->db, id);
    assert_non_null(strstr(out, "  NOTE: energy figures are partly ESTIMATED: package by "
                                "wattlens's CPU-time model, not measured (no CPU energy sensor "
                                "was readable); gpu: measured (energy counter).\n"));
    assert_null(strstr(out, "no energy sensor was readable"));
    free(out);
    json_t *j = wl_test_show_json(f->db, id);
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
    out = wl_test_show_text(f->db, f->ids[0]);
    assert_non_null(strstr(out, "NOTE: energy figures are ESTIMATED by wattlens's CPU-time model, "
                                "not measured (no energy sensor was readable)."));
    free(out);
}

/* The same mix in a run that never finished: its energy_scope column and
 * domain table are written when it ends, so the note reads the headline's
 * domains and their methods from the provenance it wrote when it began. */
static void test_show_names_what_was_estimated_in_an_unfinished_run(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[37];
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_INFERENCE,
        .created_at_ms = WL_TEST_T0_MS + 8 * WL_TEST_DAY_MS,
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
    char *out = wl_test_show_text(f->db, id);
    assert_non_null(strstr(out, "  NOTE: energy figures are partly ESTIMATED: package by "
                                "wattlens's CPU-time model, not measured (no CPU energy sensor "
                                "was readable); gpu: measured (energy counter).\n"));
    assert_null(strstr(out, "no energy sensor was readable"));
    free(out);
}

/* show's prompt line is escaped as the rest of its header (and `model
 * info`), so its bytes can be read back, then cut between two pieces within
 * 200 columns. Old: a one-line cell, ESC, CR, LF and U+009B as spaces and
 * each invalid byte as U+FFFD, while the tags beside it wrote \xff. */
static void test_show_escapes_the_prompt(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_store *s = wl_test_store_open(f->db);
    char id[2][37];
    struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS,
                                  .prompt = "bad\xff\xfe,\"x\"\r\n\x1b[31mred\xc2\x9b\\",
                                  .tags = {"t\xff"},
                                  .duration_ms = 1,
                                  .energy_j = 1};
    wl_test_store_make_run(s, &sp, id[0]);
    /* 300 CJK characters (600 columns) after a line feed */
    char long_prompt[2 + 300 * 3 + 1] = "a\n";
    for (int i = 0; i < 300; i++)
        memcpy(long_prompt + 2 + 3 * i, "\xe6\xa8\xa1", 3); /* 模 */
    long_prompt[sizeof long_prompt - 1] = '\0';
    sp.prompt = long_prompt;
    sp.created_at_ms++;
    wl_test_store_make_run(s, &sp, id[1]);
    wl_store_close(s);

    char *out = wl_test_show_text(f->db, id[0]);
    if (!strstr(out, "  prompt     bad\\xff\\xfe,\"x\"\\x0d\\x0a\\x1b[31mred\\u009b\\\\\n"))
        fail_msg("prompt not escaped:\n%s", out);
    assert_non_null(strstr(out, "tags: t\\xff"));
    free(out);

    out = wl_test_show_text(f->db, id[1]);
    const char *p = strstr(out, "  prompt     a\\x0a\xe6\xa8\xa1");
    assert_non_null(p);
    p += strlen("  prompt     ");
    const char *end = strchr(p, '\n');
    assert_non_null(end);
    /* "a\x0a" (5 columns), then 2 columns a character, then "..." */
    assert_int_equal(end - p, 5 + 96 * 3 + 3);
    assert_memory_equal(end - 3, "...", 3);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_show_marks_per_token_figures_of_a_parted_run,
                                        wl_test_cli_setup, wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_show_text_and_json, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_show_small_figures_never_read_as_zero,
                                        wl_test_cli_setup, wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_show_says_why_a_run_has_no_peak, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_show_says_the_samples_are_the_whole_recording,
                                        wl_test_cli_setup, wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(
            test_show_names_the_peak_domain_when_the_headline_covers_more, wl_test_cli_setup,
            wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_show_names_the_headline_domain_without_a_baseline,
                                        wl_test_cli_setup, wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_show_says_the_sensors_were_partial, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_show_names_what_was_estimated, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_show_escapes_the_prompt, wl_test_cli_setup,
                                        wl_test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_show_names_what_was_estimated_in_an_unfinished_run,
                                        wl_test_cli_setup, wl_test_cli_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The run exports (src/export/run_export.c) through the library: the JSON
 * holds a long run's samples and sections one row at a time (jansson's
 * live bytes are counted, not timed), both formats read one snapshot of a
 * run being recorded (a second connection commits rows while the export
 * writes: a deterministic interleaving through the output stream), a run
 * that recorded nothing has no zero figures, attributed rows name the
 * method of what they are a share of, the CSV's unknown values and escaped
 * text, and the JSON's controls escaped for a terminal.
 */
#define _GNU_SOURCE /* fopencookie */
#include "csv_table.h"
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "export/run_export.h"
#include "wattlens/error.h"

#include <jansson.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------- */

/* The export of run id into a heap string (JSON, or CSV with flags). */
static char *export_text(wl_store *s, const char *id, bool csv, unsigned flags)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    struct wl_errmsg e = {{0}};
    int rc = csv ? wl_export_run_csv(s, id, flags, f, &e) : wl_export_run_json(s, id, flags, f, &e);
    if (rc != 0)
        fail_msg("export: %s (%s)", wl_strerror(rc), e.text);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static json_t *export_json(wl_store *s, const char *id)
{
    char *text = export_text(s, id, false, 0);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("export is no JSON (%s): %.200s", je.text, text);
    free(text);
    return j;
}

/* The first element of o's array at key. */
static json_t *first_of(json_t *o, const char *key)
{
    return json_array_get(json_object_get(o, key), 0);
}

static struct wl_store_sample sample_at(int i)
{
    struct wl_store_sample v = {.t_ms = 10.0 * i,
                                .phase = "measure",
                                .domain_mask = 1u << WL_DOMAIN_PACKAGE,
                                .method_flags = 1u << WL_METHOD_MODEL_ESTIMATE};
    v.power_w[WL_DOMAIN_PACKAGE] = 20 + i % 7;
    v.energy_j[WL_DOMAIN_PACKAGE] = 0.2 * i;
    return v;
}

/* A finished measure run of n_samples samples and n_sections sections. */
static void write_measure_run(wl_store *s, int n_samples, int n_sections, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "sleep 1"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_sample batch[256];
    for (int i = 0; i < n_samples;) {
        int n = 0;
        for (; n < 256 && i < n_samples; n++, i++)
            batch[n] = sample_at(i);
        assert_int_equal(wl_store_add_samples(r, batch, (size_t)n), 0);
    }
    for (int i = 0; i < n_sections; i++) {
        struct wl_store_section sec = {.phase = "measure",
                                       .name = "command",
                                       .token_index = -1,
                                       .start_ms = i,
                                       .end_ms = i + 1,
                                       .energy_j = 0.02,
                                       .method = WL_METHOD_MODEL_ESTIMATE};
        assert_int_equal(wl_store_add_section(r, &sec), 0);
    }
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 10.0 * n_samples, 0.2 * n_samples,
                                              WL_METHOD_MODEL_ESTIMATE);
    tot.sample_count = n_samples;
    tot.sample_rate_hz = 100;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

/* ---- 1: memory stays one row whatever the run's length ---------------------- *
 * Every JSON value of the export is a jansson allocation: counting their
 * live bytes gives the export's high-water mark, a figure that does not
 * depend on timing. The sizes come from malloc_usable_size, not a header,
 * so a block freed with plain free() (json_dumps's result) stays valid. */
static size_t live_bytes, peak_bytes;

static void *counting_malloc(size_t n)
{
    void *p = malloc(n);
#if defined(__GLIBC__)
    live_bytes += p ? malloc_usable_size(p) : 0;
#endif
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return p;
}

static void counting_free(void *p)
{
#if defined(__GLIBC__)
    live_bytes -= p ? malloc_usable_size(p) : 0;
#endif
    free(p);
}

/* The peak of jansson's live bytes while run id is exported as JSON. */
static size_t export_peak_bytes(wl_store *s, const char *id)
{
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    live_bytes = peak_bytes = 0;
    json_set_alloc_funcs(counting_malloc, counting_free);
    struct wl_errmsg e = {{0}};
    int rc = wl_export_run_json(s, id, 0, null, &e);
    json_set_alloc_funcs(malloc, free);
    fclose(null);
    if (rc != 0)
        fail_msg("export: %s", e.text);
    return peak_bytes;
}

static void test_json_memory_does_not_grow_with_samples_and_sections(void **state)
{
#if !defined(__GLIBC__)
    (void)state;
    skip(); /* malloc_usable_size */
#else
    struct wl_test_store_fixture *f = *state;
    char small[37], large[37];
    write_measure_run(f->s, 1000, 100, small);
    write_measure_run(f->s, 20000, 2000, large);
    const size_t p_small = export_peak_bytes(f->s, small);
    const size_t p_large = export_peak_bytes(f->s, large);
    print_message("jansson peak: %zu bytes for 1000 samples, %zu for 20000\n", p_small, p_large);
    /* one row at a time: 20 times the rows, the same peak (a little slack
     * for the summary's figures); holding them took 73 MB for these 22 000
     * rows (measured with this test on the export before d3270d4) */
    assert_true(p_large <= p_small + 4096);
    assert_true(p_large < 256 * 1024);

    /* and every row is there, in order, in the document's shape */
    json_t *doc = export_json(f->s, large);
    json_t *run = json_object_get(doc, "run");
    json_t *samples = json_object_get(run, "samples");
    json_t *secs = json_object_get(run, "sections");
    assert_int_equal(json_array_size(samples), 20000);
    assert_int_equal(json_array_size(secs), 2000);
    for (size_t i = 0; i < 20000; i += 4999) {
        json_t *x = json_array_get(samples, i);
        assert_true(json_real_value(json_object_get(x, "t_ms")) == 10.0 * (double)i);
        assert_true(json_real_value(json_object_get(x, "package_power_w")) ==
                    20.0 + (double)(i % 7));
    }
    assert_true(json_real_value(json_object_get(json_array_get(secs, 1999), "start_ms")) == 1999);
    assert_int_equal(json_array_size(json_object_get(run, "domains")), 0);
    assert_int_equal(json_array_size(json_object_get(run, "tokens")), 0);
    assert_string_equal(json_string_value(json_object_get(run, "command")), "sleep 1");
    assert_true(json_is_object(json_object_get(run, "summary")));
    assert_null(json_object_get(json_object_get(run, "summary"), "run"));
    /* the keys keep their order: the run's fields, then its arrays and summary */
    const char *order[] = {"domains", "samples", "sections", "summary", "tokens"};
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(run, key, v)
    {
        (void)v;
        if (k < 5 && strcmp(key, order[k]) == 0)
            k++;
        else
            assert_int_equal(k, 0); /* a run field after the arrays began */
    }
    assert_int_equal(k, 5);
    json_decref(doc);
#endif
}

/* ---- 2: one snapshot of a run being recorded --------------------------------- */

/* The run being recorded: n_in input tokens, then output tokens, each with
 * its decode section and a sample. */
struct live_run {
    wl_store_run *r;
    int next; /* next token index */
    int n_in;
};

static void live_add_tokens(struct live_run *lr, int n)
{
    for (int k = 0; k < n; k++, lr->next++) {
        const int i = lr->next;
        const bool in = i < lr->n_in;
        if (!in) {
            struct wl_store_section sec = {.phase = "decode",
                                           .name = "token",
                                           .token_index = i,
                                           .start_ms = 10.0 * i,
                                           .end_ms = 10.0 * i + 10,
                                           .energy_j = 0.5,
                                           .method = WL_METHOD_MODEL_ESTIMATE};
            assert_int_equal(wl_store_add_section(lr->r, &sec), 0);
        }
        wl_test_store_add_tokens(lr->r, i, 1, lr->n_in, 0.5, WL_METHOD_MODEL_ESTIMATE);
        struct wl_store_layer_metric lm = {i, 0, 5, 0.25};
        assert_int_equal(wl_store_add_layer_metric(lr->r, &lm), 0);
        struct wl_store_sample smp = sample_at(i);
        assert_int_equal(wl_store_add_samples(lr->r, &smp, 1), 0);
    }
    assert_int_equal(wl_store_flush(lr->r), 0);
}

#if defined(__GLIBC__) /* fopencookie; elsewhere the test is skipped */
/* An output stream whose first write commits more rows of the live run
 * (through the writer's own connection) before it writes: the export's
 * later reads come after that commit, whatever the export reads first. */
struct hook {
    struct live_run *lr;
    FILE *sink;
    bool fired;
    bool finish; /* the first write also finishes the run (complete) */
};

static ssize_t hook_write(void *cookie, const char *buf, size_t n)
{
    struct hook *h = cookie;
    if (!h->fired) {
        h->fired = true;
        live_add_tokens(h->lr, 40);
        if (h->finish) {
            struct wl_run_totals t =
                wl_test_totals(WL_RUN_COMPLETE, 600, 30, WL_METHOD_MODEL_ESTIMATE);
            assert_int_equal(wl_store_run_finish(h->lr->r, &t), 0);
            h->lr->r = NULL;
        }
    }
    return (ssize_t)fwrite(buf, 1, n, h->sink);
}

/* Exports run id from reader s into a heap string while the hook commits. */
static char *export_while_writing(wl_store *s, const char *id, bool csv, struct live_run *lr,
                                  bool finish)
{
    char *buf = NULL;
    size_t size = 0;
    struct hook h = {lr, open_memstream(&buf, &size), false, finish};
    assert_non_null(h.sink);
    cookie_io_functions_t io = {.write = hook_write};
    FILE *f = fopencookie(&h, "w", io);
    assert_non_null(f);
    setvbuf(f, NULL, _IONBF, 0); /* every write reaches the hook at once */
    struct wl_errmsg e = {{0}};
    int rc = csv ? wl_export_run_csv(s, id, 0, f, &e) : wl_export_run_json(s, id, 0, f, &e);
    if (rc != 0)
        fail_msg("export: %s (%s)", wl_strerror(rc), e.text);
    fclose(f);
    assert_true(h.fired);
    assert_int_equal(fclose(h.sink), 0);
    return buf;
}

#endif

static void test_an_export_reads_one_snapshot_of_a_live_run(void **state)
{
#if !defined(__GLIBC__)
    (void)state;
    skip();
#else
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m"};
    char id[37];
    struct live_run lr = {NULL, 0, 4};
    assert_int_equal(wl_store_run_begin(f->s, &info, &lr.r, id), 0);
    live_add_tokens(&lr, 20); /* 4 input, 16 output tokens committed */
    wl_store *reader = wl_test_store_open(f->path);

    /* JSON: the run row, summary, samples, sections and tokens all hold
     * the 20 tokens committed before the export began, none of the 40
     * committed while it wrote */
    char *text = export_while_writing(reader, id, false, &lr, false);
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    json_t *run = json_object_get(doc, "run");
    assert_string_equal(json_string_value(json_object_get(run, "status")), "running");
    json_t *eff = json_object_get(json_object_get(run, "summary"), "efficiency");
    assert_int_equal(json_integer_value(json_object_get(eff, "output_tokens")), 16);
    assert_int_equal(json_array_size(json_object_get(run, "tokens")), 20);
    assert_int_equal(json_array_size(json_object_get(run, "sections")), 16);
    assert_int_equal(json_array_size(json_object_get(run, "samples")), 20);
    json_decref(doc);
    free(text);
    assert_int_equal(lr.next, 60);

    /* CSV: every table as it was when the export began (40 more were
     * committed by its first write) */
    text = export_while_writing(reader, id, true, &lr, false);
    assert_int_equal(wl_test_csv_rows(text, "tokens"), 60);
    assert_int_equal(wl_test_csv_rows(text, "sections"), 56);
    assert_int_equal(wl_test_csv_rows(text, "power_samples"), 60);
    assert_int_equal(wl_test_csv_rows(text, "layer_metrics"), 60);
    free(text);

    /* the snapshot ends with the export: the next one sees everything */
    text = export_text(reader, id, true, 0);
    assert_int_equal(wl_test_csv_rows(text, "tokens"), 100);
    free(text);
    wl_store_close(reader);
    wl_store_run_abandon(lr.r);
#endif
}

/* A run that finishes while it is exported: the status is the snapshot's
 * (running, its writer alive), beside the snapshot's rows, never the
 * status committed meanwhile (complete) over rows of an earlier state. The
 * CSV reads the run row after its first write, where the hook finishes the
 * run from the writer's connection. */
static void test_a_run_finished_during_an_export_keeps_the_snapshots_status(void **state)
{
#if !defined(__GLIBC__)
    (void)state;
    skip();
#else
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m"};
    char id[37], b[64];
    struct live_run lr = {NULL, 0, 4};
    assert_int_equal(wl_store_run_begin(f->s, &info, &lr.r, id), 0);
    live_add_tokens(&lr, 20);
    wl_store *reader = wl_test_store_open(f->path);
    char *text = export_while_writing(reader, id, true, &lr, true);
    assert_null(lr.r); /* finished by the export's first write */
    assert_string_equal(wl_test_csv_field(text, "status", b, sizeof b), "running");
    assert_int_equal(wl_test_csv_rows(text, "tokens"), 20);
    free(text);
    /* the next export sees the finished run */
    text = export_text(reader, id, true, 0);
    assert_string_equal(wl_test_csv_field(text, "status", b, sizeof b), "complete");
    assert_int_equal(wl_test_csv_rows(text, "tokens"), 60);
    free(text);
    wl_store_close(reader);
#endif
}

/* ---- 3: a run that recorded nothing ----------------------------------------- */

static void test_a_run_that_recorded_nothing_has_no_zero_figures(void **state)
{
    struct wl_test_store_fixture *f = *state;
    /* cancelled during its idle baseline: a baseline section of 3 J and a
     * sample, the package domain (cpu-model) of 0 J, and the 0 ms / 0 J its
     * writer stores */
    char id[37];
    wl_test_store_make_unrecorded_run(f->s, 1, true, id);

    json_t *doc = export_json(f->s, id);
    json_t *run = json_object_get(doc, "run");
    assert_true(json_is_true(json_object_get(
        json_object_get(json_object_get(run, "summary"), "totals"), "nothing_recorded")));
    assert_true(json_is_null(json_object_get(run, "duration_ms")));
    assert_true(json_is_null(json_object_get(run, "energy_j")));
    assert_true(json_is_null(json_object_get(run, "j_per_token")));
    json_t *d0 = json_array_get(json_object_get(run, "domains"), 0);
    assert_non_null(d0);
    assert_true(json_is_null(json_object_get(d0, "energy_j")));
    /* what was recorded stays: the method, the baseline section's energy */
    assert_string_equal(json_string_value(json_object_get(run, "energy_method")), "model_estimate");
    assert_true(json_real_value(json_object_get(json_array_get(json_object_get(run, "sections"), 0),
                                                "energy_j")) == 3);
    json_decref(doc);

    char *csv = export_text(f->s, id, true, 0), b[64];
    assert_string_equal(wl_test_csv_field(csv, "duration_ms", b, sizeof b), "");
    assert_string_equal(wl_test_csv_field(csv, "energy_j", b, sizeof b), "");
    assert_string_equal(wl_test_csv_field(csv, "energy_method", b, sizeof b), "model_estimate");
    assert_non_null(strstr(csv, "\npackage,model_estimate,cpu-model,,"));
    free(csv);

    /* a run that recorded something keeps a stored 0 J as it is */
    char other[37];
    struct wl_test_run_spec sp = {.duration_ms = 40, .energy_j = 0, .n_in = 1, .n_out = 1};
    wl_test_store_make_run(f->s, &sp, other);
    doc = export_json(f->s, other);
    assert_true(json_real_value(json_object_get(json_object_get(doc, "run"), "energy_j")) == 0);
    json_decref(doc);
}

/* ---- 4: the CSV export computes no summary --------------------------------- *
 * It needs to know only whether the run recorded nothing: one query of the
 * run (wl_store_recorded_nothing, the list's rule). Old: it computed the
 * whole summary for that bool (a deep run's layer and component scans, an
 * array of every output token). Seen from outside: the CSV reads no table
 * but those it writes and the run's, so it works with the summary's
 * component_agg gone, where the JSON export, which has the summary, cannot. */
static void test_the_csv_export_computes_no_summary(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    struct wl_test_run_spec sp = {.duration_ms = 40, .energy_j = 2, .n_in = 1, .n_out = 1};
    wl_test_store_make_run(f->s, &sp, id);
    wl_test_store_raw_exec(f->path, "ALTER TABLE component_agg RENAME TO component_agg_moved");

    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    struct wl_errmsg e = {{0}};
    assert_int_not_equal(wl_export_run_json(f->s, id, 0, null, &e), 0); /* the summary fails */
    fclose(null);
    char *csv = export_text(f->s, id, true, 0), b[64];
    assert_int_equal(wl_test_csv_rows(csv, "tokens"), 2);
    assert_string_equal(wl_test_csv_field(csv, "energy_j", b, sizeof b), "2");
    free(csv);
}

/* ---- 5: attributed rows say what they are a share of ------------------------ *
 * An input token holds a share of its prompt batch's energy, a layer,
 * component or op row a time share of its forward pass's, a batch's
 * sequence a share of its rounds': energy_method "attributed" says how the
 * row was derived, energy_base_method what the figure it shares is. Old:
 * "attributed" alone, defined as a share of a measured figure, also when
 * the figure was the CPU-time model's estimate (every run on a machine
 * without a sensor). A run that never finished has no headline method:
 * the base is then the weakest method behind its sections. */

/* A model-only run of 2 sequences: a prompt batch of 2 input tokens
 * (attributed), 2 output rounds (model_estimate), a forward pass's layer,
 * component and op rows under input token 1; finished unless !finish. */
static void write_model_only_run(wl_store *s, bool finish, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m", .n_seq = 2};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "prefill",
                                   .name = "layers",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 20,
                                   .energy_j = 1,
                                   .method = WL_METHOD_MODEL_ESTIMATE};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    wl_test_store_add_tokens(r, 0, 2, 2, 0.5, WL_METHOD_ATTRIBUTED);
    wl_test_store_add_tokens(r, 2, 2, 0, 0.25, WL_METHOD_MODEL_ESTIMATE);
    struct wl_store_layer_metric lm = {1, 0, 5, 0.25};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
    struct wl_store_component_metric cm = wl_test_component_row(1, 0, 0, "attn", 5, 0.25);
    assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
    struct wl_store_op_metric om = wl_test_op_row(1, 0, 0, 0, "qk", 5, 0.25);
    assert_int_equal(wl_store_add_op_metric(r, &om), 0);
    assert_int_equal(wl_store_run_set_extra(r, "sequences",
                                            "[{\"seq\":0,\"prompt_tokens\":1,\"output_tokens\":2,"
                                            "\"prefill_energy_j\":0.5,\"decode_energy_j\":0.25},"
                                            "{\"seq\":1,\"prompt_tokens\":1,\"output_tokens\":2,"
                                            "\"prefill_energy_j\":0.5,\"decode_energy_j\":0.25}]"),
                     0);
    if (finish) {
        struct wl_run_totals tot =
            wl_test_totals(WL_RUN_COMPLETE, 40, 1.5, WL_METHOD_MODEL_ESTIMATE);
        tot.input_tokens = 2;
        tot.output_tokens = 4;
        assert_int_equal(wl_store_run_finish(r, &tot), 0);
    } else {
        assert_int_equal(wl_store_flush(r), 0);
        wl_store_run_abandon(r); /* as a writer that died: status running, no totals */
    }
}

static void check_base_method(wl_store *s, const char *id)
{
    json_t *doc = export_json(s, id);
    json_t *run = json_object_get(doc, "run");
    json_t *toks = json_object_get(run, "tokens");
    json_t *in1 = json_array_get(toks, 1), *out = json_array_get(toks, 2);
    json_t *layer = first_of(in1, "layers");
    json_t *comp = first_of(layer, "components");
    json_t *op = first_of(comp, "ops");
    json_t *summary = json_object_get(run, "summary");
    json_t *rows[] = {in1,
                      layer,
                      comp,
                      op,
                      first_of(summary, "components"),
                      first_of(summary, "hottest_components"),
                      first_of(json_object_get(summary, "batch"), "sequences")};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_non_null(rows[i]);
        assert_string_equal(json_string_value(json_object_get(rows[i], "energy_method")),
                            "attributed");
        const char *base = json_string_value(json_object_get(rows[i], "energy_base_method"));
        if (!base || strcmp(base, "model_estimate") != 0)
            fail_msg("row %zu: energy_base_method %s", i, base ? base : "missing or null");
    }
    /* a row that is no share has none */
    assert_string_equal(json_string_value(json_object_get(out, "energy_method")), "model_estimate");
    assert_true(json_is_null(json_object_get(out, "energy_base_method")));
    json_decref(doc);

    char *csv = export_text(s, id, true, 0), b[64];
    for (const char *const *t = (const char *const[]){"tokens", "layer_metrics",
                                                      "component_metrics", "op_metrics", NULL};
         *t; t++) {
        assert_string_equal(wl_test_csv_cell(csv, *t, "energy_method", b, sizeof b), "attributed");
        assert_string_equal(wl_test_csv_cell(csv, *t, "energy_base_method", b, sizeof b),
                            "model_estimate");
    }
    free(csv);
}

static void test_attributed_rows_say_what_they_are_a_share_of(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char done[37], open[37];
    write_model_only_run(f->s, true, done);
    check_base_method(f->s, done);
    /* no headline method yet: the sections' */
    write_model_only_run(f->s, false, open);
    check_base_method(f->s, open);
}

/* A run without a headline method whose sections mix methods: the base
 * method is the weakest of them (counter < sampled < vendor estimate <
 * model estimate; attributed only when there is nothing else), in the
 * export's rows and in the summary alike (the export once ordered the
 * methods again in SQL). */
static void test_the_base_method_is_the_weakest_section_method(void **state)
{
    struct wl_test_store_fixture *f = *state;
    static const struct {
        enum wl_method sections[3];
        const char *want; /* the base method of every attributed row */
    } mixes[] = {
        {{WL_METHOD_COUNTER, WL_METHOD_SAMPLED, WL_METHOD_ATTRIBUTED}, "sampled"},
        {{WL_METHOD_MODEL_ESTIMATE, WL_METHOD_VENDOR_ESTIMATE, WL_METHOD_COUNTER},
         "model_estimate"},
        {{WL_METHOD_ATTRIBUTED, WL_METHOD_VENDOR_ESTIMATE, WL_METHOD_SAMPLED}, "vendor_estimate"},
        {{WL_METHOD_ATTRIBUTED, WL_METHOD_ATTRIBUTED, WL_METHOD_ATTRIBUTED}, "attributed"},
    };
    for (size_t k = 0; k < sizeof mixes / sizeof mixes[0]; k++) {
        struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m"};
        wl_store_run *r = NULL;
        char id[37];
        assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
        for (int i = 0; i < 3; i++) {
            struct wl_store_section sec = {.phase = "prefill",
                                           .name = "layers",
                                           .token_index = -1,
                                           .start_ms = 10 * i,
                                           .end_ms = 10 * i + 10,
                                           .energy_j = 1,
                                           .method = mixes[k].sections[i]};
            assert_int_equal(wl_store_add_section(r, &sec), 0);
        }
        wl_test_store_add_tokens(r, 0, 2, 2, 0.5, WL_METHOD_ATTRIBUTED);
        struct wl_store_layer_metric lm = {1, 0, 5, 0.25};
        assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
        struct wl_store_component_metric cm = wl_test_component_row(1, 0, 0, "attn", 5, 0.25);
        assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
        assert_int_equal(wl_store_flush(r), 0);
        wl_store_run_abandon(r); /* no headline method */

        json_t *doc = export_json(f->s, id);
        json_t *run = json_object_get(doc, "run");
        json_t *in1 = json_array_get(json_object_get(run, "tokens"), 1);
        json_t *layer = first_of(in1, "layers");
        json_t *rows[] = {in1, layer, first_of(layer, "components"),
                          first_of(json_object_get(run, "summary"), "components")};
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            assert_non_null(rows[i]);
            const char *base = json_string_value(json_object_get(rows[i], "energy_base_method"));
            if (!base || strcmp(base, mixes[k].want) != 0)
                fail_msg("mix %zu, row %zu: energy_base_method %s, not %s", k, i,
                         base ? base : "missing or null", mixes[k].want);
        }
        json_decref(doc);
    }
}

/* ---- 6: the CSV's unknown values and its text on a terminal ------------------ */

static void test_csv_unknown_values_are_empty_cells(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "m"};
    char id[37];
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_test_store_add_tokens(r, 0, 3, 1, 0.5, WL_METHOD_COUNTER);
    struct wl_store_layer_metric lm = {2, 0, 5, 0.25};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
    struct wl_store_component_metric cm = wl_test_component_row(2, 0, 0, "attn", 5, 0.25);
    assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
    const float heads[3] = {0.5f, NAN, 0.25f}, weights[3] = {0.1f, 3.14159265f, 1e-5f};
    struct wl_store_op_metric om = wl_test_op_row(2, 0, 0, 0, "qk", 5, 0.25);
    om.n_heads = 3;
    om.head_entropy = heads;
    om.head_max_weight = weights;
    assert_int_equal(wl_store_add_op_metric(r, &om), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 30, 1.5, WL_METHOD_COUNTER);
    tot.input_tokens = 1;
    tot.output_tokens = 2;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
    /* infinities from another writer or a hand edit (SQLite keeps them) */
    wl_test_store_raw_exec(f->path, "UPDATE runs SET energy_j = 9e999, j_per_token = -9e999");
    wl_test_store_raw_exec(f->path, "UPDATE tokens SET energy_j = -9e999 WHERE idx = 1");

    char *csv = export_text(f->s, id, true, 0), b[64];
    for (const char *const *w = (const char *const[]){",inf,", ",inf\n", ",-inf,", ",-inf\n",
                                                      ",nan,", ",nan\n", ",-nan,", ",-nan\n", NULL};
         *w; w++) {
        const char *p = strstr(csv, *w);
        if (p)
            fail_msg("'%s' in the CSV: ...%.40s", *w, p > csv + 40 ? p - 40 : csv);
    }
    assert_string_equal(wl_test_csv_field(csv, "energy_j", b, sizeof b), "");
    assert_string_equal(wl_test_csv_field(csv, "j_per_token", b, sizeof b), "");
    /* token 1: token_index,text,is_input,start_ms,end_ms,dur_ms,energy_j */
    assert_non_null(strstr(csv, "\n1,t,0,10,20,10,,"));
    /* an unknown float of a list is an empty item: its place is kept */
    assert_non_null(strstr(csv, ",0.5  0.25,"));
    /* a float of a list is the shortest text that gives it back, in the CSV
     * as in the JSON (old: 0.100000001 here, 0.100000001490116 there) */
    const char *const items[3] = {"0.1", "3.1415927", "1e-05"};
    assert_non_null(strstr(csv, ",0.1 3.1415927 1e-05,"));
    free(csv);

    /* the JSON says null for the same values, and the same floats */
    json_t *doc = export_json(f->s, id);
    json_t *run = json_object_get(doc, "run");
    assert_true(json_is_null(json_object_get(run, "energy_j")));
    json_t *t1 = json_array_get(json_object_get(run, "tokens"), 1);
    assert_true(json_is_null(json_object_get(t1, "energy_j")));
    json_t *t2 = json_array_get(json_object_get(run, "tokens"), 2);
    json_t *op = first_of(first_of(first_of(t2, "layers"), "components"), "ops");
    json_t *w = json_object_get(op, "head_max_weight");
    assert_int_equal(json_array_size(w), 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(json_real_value(json_array_get(w, i)) == strtod(items[i], NULL));
    assert_true(json_is_null(json_array_get(json_object_get(op, "head_entropy"), 1)));
    json_decref(doc);
}

static void test_csv_text_is_escaped_on_request(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE,
                               .command = "echo \x1b]0;pwned\x07",
                               .prompt = "a\x1b[31mred\r\n\"q\",\xe2\x80\xae\xff"};
    char id[37];
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 30, 1.5, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), 0);

    /* to a file or a pipe: the exact bytes, quoted as CSV quotes */
    char *csv = export_text(f->s, id, true, 0), b[256];
    assert_non_null(strstr(csv, "\nprompt,\"a\x1b[31mred\r\n\"\"q\"\",\xe2\x80\xae\xff\"\n"));
    free(csv);

    /* for a terminal: no control byte but the line ends, text escaped as
     * the text outputs escape it (wl_utf8_escape), then quoted */
    csv = export_text(f->s, id, true, WL_EXPORT_CSV_ESCAPE_TEXT);
    for (const unsigned char *p = (const unsigned char *)csv; *p; p++) {
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
            fail_msg("control byte 0x%02x at %td", *p, (const char *)p - csv);
    }
    assert_null(strstr(csv, "\xe2\x80\xae"));
    assert_string_equal(wl_test_csv_field(csv, "prompt", b, sizeof b),
                        "\"a\\x1b[31mred\\x0d\\x0a\"\"q\"\",\\u202e\\xff\"");
    assert_string_equal(wl_test_csv_field(csv, "command", b, sizeof b), "echo \\x1b]0;pwned\\x07");
    free(csv);
}

/* For a terminal the JSON writes each C1 control, bidirectional control and
 * DEL as \uNNNN wherever it is (the run's fields, a streamed section row,
 * the summary, a token), and is the same document; without the flag it
 * keeps jansson's bytes. */
static void test_json_controls_are_escaped_on_request(void **state)
{
    struct wl_test_store_fixture *f = *state;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .model_name = "m",
                               .prompt = "a\xC2\x9B"
                                         "31mred\xE2\x80\xAE"};
    char id[37];
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "decode",
                                   .name = "n\xE2\x81\xA6",
                                   .token_index = 0,
                                   .start_ms = 0,
                                   .end_ms = 10,
                                   .energy_j = 0.5,
                                   .method = WL_METHOD_MODEL_ESTIMATE};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    struct wl_store_token tok = {.index = 0,
                                 .text = "t\x7f\xC2\x85",
                                 .start_ms = 0,
                                 .end_ms = 10,
                                 .energy_j = 0.5,
                                 .method = WL_METHOD_MODEL_ESTIMATE,
                                 .power_w = WL_STORE_UNSET};
    assert_int_equal(wl_store_add_token(r, &tok), 0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 10, 0.5, WL_METHOD_MODEL_ESTIMATE);
    assert_int_equal(wl_store_run_finish(r, &tot), 0);

    char *raw = export_text(f->s, id, false, 0);
    char *esc = export_text(f->s, id, false, WL_EXPORT_JSON_ESCAPE_CONTROLS);
    const char *bytes[] = {"\xC2\x9B", "\xE2\x80\xAE", "\xE2\x81\xA6", "\x7f", "\xC2\x85"};
    const char *escapes[] = {"\"a\\u009B31mred\\u202E\"", "\"n\\u2066\"", "\"t\\u007F\\u0085\""};
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
        assert_non_null(strstr(raw, bytes[i]));
        assert_null(strstr(esc, bytes[i]));
    }
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++)
        assert_non_null(strstr(esc, escapes[i]));
    json_t *a = json_loads(raw, 0, NULL), *b = json_loads(esc, 0, NULL);
    assert_non_null(a);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    free(raw);
    free(esc);
}

#if defined(__GLIBC__)
/* An output that takes limit bytes, then fails each write as a full file
 * system or a file size limit does (EFBIG). */
struct full_out {
    size_t limit, written;
};

static ssize_t full_write(void *cookie, const char *buf, size_t n)
{
    (void)buf;
    struct full_out *f = cookie;
    if (f->written >= f->limit) {
        errno = EFBIG;
        return -1;
    }
    const size_t take = n < f->limit - f->written ? n : f->limit - f->written;
    f->written += take;
    return (ssize_t)take;
}
#endif

/* A write that fails anywhere in the export (in the run's head, inside a
 * streamed table, in a token chunk, at the end) returns WL_EIO with errno
 * set, the cause its message names, which the CLI prints ("File too
 * large"): the store's clean-up of the read that was streaming the rows
 * ran between the write and the caller and could leave errno 0 (CI's
 * `export -o` under `ulimit -f` once said "writing the output failed"). */
static void test_a_failed_write_leaves_its_errno(void **state)
{
#if !defined(__GLIBC__)
    (void)state;
    skip();
#else
    struct wl_test_store_fixture *fx = *state;
    wl_store *s = fx->s;
    char id[37];
    write_measure_run(s, 300, 40, id);
    for (int csv = 0; csv < 2; csv++) {
        char *full = export_text(s, id, csv, 0);
        const size_t size = strlen(full);
        free(full);
        for (size_t limit = 0; limit < size; limit += size / 97 + 1) {
            struct full_out fo = {limit, 0};
            cookie_io_functions_t io = {.write = full_write};
            FILE *f = fopencookie(&fo, "w", io);
            assert_non_null(f);
            setvbuf(f, NULL, _IONBF, 0);
            struct wl_errmsg e = {{0}};
            errno = 0;
            const int rc =
                csv ? wl_export_run_csv(s, id, 0, f, &e) : wl_export_run_json(s, id, 0, f, &e);
            const int err = errno;
            fclose(f);
            /* stdio may report a write's failure later than the write (a
             * partial write; jansson's json_dumpf returns 0 after one), so
             * the cause the message names is the one errno keeps */
            if (rc != WL_EIO || err == 0 || !strstr(e.text, strerror(err)))
                fail_msg("%s, failing after %zu of %zu bytes: rc %d, errno %d (%s), '%s'",
                         csv ? "csv" : "json", limit, size, rc, err, strerror(err), e.text);
        }
    }
#endif
}

/* ---- a domain stuck over the whole run --------------------------------------- *
 * Its counter never moved (runs.extra energy_unknown "not_measuring"): its
 * stored run_domains row keeps the method it was read by ("counter") with
 * a null energy. The export writes its method null (an empty CSV cell) and
 * "not_measuring": true, as show --json does; the domain that measured
 * keeps its method. Old: "counter" next to the null energy. */
static void test_a_stuck_domain_has_no_method(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "true"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    struct wl_store_domain pk = {
        WL_DOMAIN_PACKAGE, WL_METHOD_COUNTER, "rapl", 2, 20, NAN, NAN, NAN};
    struct wl_store_domain core = {
        WL_DOMAIN_CORE, WL_METHOD_COUNTER, "rapl", NAN, NAN, NAN, NAN, NAN};
    assert_int_equal(wl_store_run_set_domain(r, &pk), 0);
    assert_int_equal(wl_store_run_set_domain(r, &core), 0);
    assert_int_equal(wl_store_run_set_extra(r, "energy_unknown",
                                            "{\"start\":[],\"end\":[],\"sections\":0,"
                                            "\"token_rows\":0,\"not_measuring\":[\"core\"]}"),
                     0);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 100, 2, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), 0);

    json_t *doc = export_json(f->s, id);
    json_t *doms = json_object_get(json_object_get(doc, "run"), "domains");
    int seen = 0;
    for (size_t i = 0; i < json_array_size(doms); i++) {
        json_t *d = json_array_get(doms, i);
        const char *name = json_string_value(json_object_get(d, "domain"));
        if (strcmp(name, "core") == 0) {
            assert_true(json_is_null(json_object_get(d, "method")));
            assert_true(json_is_true(json_object_get(d, "not_measuring")));
            seen++;
        } else if (strcmp(name, "package") == 0) {
            assert_string_equal(json_string_value(json_object_get(d, "method")), "counter");
            assert_true(json_is_false(json_object_get(d, "not_measuring")));
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    json_decref(doc);

    char *csv = export_text(f->s, id, true, 0);
    assert_non_null(strstr(csv, "\ncore,,rapl,"));
    assert_non_null(strstr(csv, "\npackage,counter,rapl,"));
    free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_memory_does_not_grow_with_samples_and_sections,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_an_export_reads_one_snapshot_of_a_live_run,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_run_finished_during_an_export_keeps_the_snapshots_status, wl_test_store_setup,
            wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_run_that_recorded_nothing_has_no_zero_figures,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_the_csv_export_computes_no_summary,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_attributed_rows_say_what_they_are_a_share_of,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_the_base_method_is_the_weakest_section_method,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_csv_unknown_values_are_empty_cells,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_csv_text_is_escaped_on_request, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_stuck_domain_has_no_method, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_write_leaves_its_errno, wl_test_store_setup,
                                        wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_json_controls_are_escaped_on_request,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ctest-labels: timing (a token of 20 ms must get a sample from the sampler thread, which a loaded machine can starve) */
/* profile/recorder driven by hand: the test calls the recorder's hook with
 * the events a generation emits (phases, sections, tokens; no engine), so
 * it chooses how long each token lasts and what text it carries. Energy
 * comes from the CPU-time model (its values do not matter, only where they
 * are stored).
 * Checks: an output token's power is that of a sample taken inside the
 * token, else none (not the previous token's or the baseline's); an output
 * token's text is stored whole (it was cut at 47 bytes, also inside a
 * UTF-8 character), and a piece longer than the recorder's room is cut
 * where a character begins; a norm run in place stores no variance ratio;
 * a recorder never started stores its run as failed; a settle and baseline
 * longer than the sampler's ring keep their samples, and samples the ring
 * overwrote all the same are counted and said.
 */
#include "test_support.h"

#include "analysis/summary.h"
#include "profile/recorder.h"
#include "store/store.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    char *dir;
    wl_store *st;
    wl_store_run *run;
    char id[40];
    wl_recorder *rec;
    struct wl_hooks h;
    struct wl_recorder_totals totals; /* after finish */
};

/* A recorder writing into a new store run at depth (activation statistics
 * when activations); sample_ms: the sampling interval; ring: the samples
 * the sampler holds (0: its default); interval_ms: the writer's period. */
static struct fixture *open_fixture_ring(double sample_ms, enum wl_profile_depth depth,
                                         bool activations, size_t ring, int interval_ms)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = wl_test_tmpdir();
    assert_non_null(f->dir);
    struct wl_errmsg err;
    struct wl_store_params stp;
    wl_store_default_params(&stp);
    char path[1024];
    snprintf(path, sizeof path, "%s/runs.db", f->dir);
    stp.path = path;
    assert_int_equal(wl_store_open(&stp, &f->st, &err), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .depth = "off"};
    assert_int_equal(wl_store_run_begin(f->st, &info, &f->run, f->id), 0);

    struct wl_sensor_params sp;
    wl_sensor_params_default(&sp);
    sp.backends = WL_BACKEND_CPU_MODEL;
    sp.model_use = WL_MODEL_ALWAYS;
    sp.model.scope = WL_MODEL_SCOPE_SELF;
    struct wl_recorder_params rp;
    wl_recorder_default_params(&rp);
    rp.depth = depth;
    rp.activations = activations;
    rp.n_layer = 1;
    rp.n_head = 1;
    rp.max_input_tokens = 16;
    rp.max_output_tokens = 16;
    rp.sensors = &sp;
    rp.run = f->run;
    rp.interval_ms = interval_ms;
    rp.sample_interval_ns = (uint64_t)(sample_ms * 1e6 + 0.5);
    rp.sample_ring_capacity = ring;
    assert_int_equal(wl_recorder_create(&rp, &f->rec, &err), 0);
    f->h = wl_recorder_hooks(f->rec);
    return f;
}

static struct fixture *open_fixture_at(double sample_ms, enum wl_profile_depth depth,
                                       bool activations)
{
    return open_fixture_ring(sample_ms, depth, activations, 0, 10);
}

static struct fixture *open_fixture(uint64_t sample_ms)
{
    return open_fixture_at(sample_ms, WL_PROFILE_OFF, false);
}

static void close_fixture(struct fixture *f)
{
    wl_store_close(f->st);
    wl_recorder_free(f->rec);
    wl_test_rmtree(f->dir);
    free(f->dir);
    free(f);
}

/* ---- events ---------------------------------------------------------------------- */

static void phase(struct fixture *f, enum wl_phase p, bool begin)
{
    struct wl_hook_event ev = {.kind = WL_HOOK_PHASE, .begin = begin, .phase = p, .layer = -1};
    f->h.fn(f->h.user_data, &ev);
}

static void section(struct fixture *f, enum wl_phase p, enum wl_section s)
{
    struct wl_hook_event ev = {
        .kind = WL_HOOK_SECTION, .begin = true, .phase = p, .section = s, .layer = -1};
    f->h.fn(f->h.user_data, &ev);
    ev.begin = false;
    f->h.fn(f->h.user_data, &ev);
}

/* Output token i: sampling (lasting busy_ms), detokenize, then its end with text. */
static void token(struct fixture *f, int32_t i, unsigned busy_ms, const char *text)
{
    struct wl_hook_event ev = {.kind = WL_HOOK_TOKEN,
                               .begin = true,
                               .phase = WL_PHASE_DECODE,
                               .layer = -1,
                               .n_tok = 1,
                               .token_index = i};
    f->h.fn(f->h.user_data, &ev);
    struct wl_hook_event s = {.kind = WL_HOOK_SECTION,
                              .begin = true,
                              .phase = WL_PHASE_DECODE,
                              .section = WL_SECTION_SAMPLING,
                              .layer = -1};
    f->h.fn(f->h.user_data, &s);
    if (busy_ms)
        wl_clock_sleep_ns(busy_ms * 1000000ull);
    s.begin = false;
    f->h.fn(f->h.user_data, &s);
    section(f, WL_PHASE_DECODE, WL_SECTION_DETOKENIZE);
    ev.begin = false;
    ev.token_id = 1;
    ev.text = text;
    ev.text_len = text ? strlen(text) : 0;
    f->h.fn(f->h.user_data, &ev);
}

/* Pre-inference, then decode phase open; tokens go in between this and end_generation. */
static void begin_generation(struct fixture *f)
{
    phase(f, WL_PHASE_PRE_INFERENCE, true);
    section(f, WL_PHASE_PRE_INFERENCE, WL_SECTION_TOKENIZE);
    phase(f, WL_PHASE_PRE_INFERENCE, false);
    phase(f, WL_PHASE_DECODE, true);
}

static void end_generation(struct fixture *f)
{
    phase(f, WL_PHASE_DECODE, false);
    phase(f, WL_PHASE_POST_INFERENCE, true);
    section(f, WL_PHASE_POST_INFERENCE, WL_SECTION_CLEANUP);
    phase(f, WL_PHASE_POST_INFERENCE, false);
    wl_recorder_stop(f->rec);
    wl_recorder_get_totals(f->rec, &f->totals);
    struct wl_recorder_finish fin = {.status = WL_RUN_COMPLETE, .response = ""};
    assert_int_equal(wl_recorder_finish(f->rec, &fin), 0);
}

/* ---- reading the store ------------------------------------------------------------- */

#define MAX_ROWS 4096

struct out_token {
    double start_ms, end_ms, power_w; /* power_w NAN when NULL */
    char text[1024];
    bool has_text;
};

struct rows {
    const char *power_col; /* "<scope>_power_w" */
    int64_t n_tok, n_smp;
    struct out_token tok[64];
    double smp_t[MAX_ROWS], smp_w[MAX_ROWS];
    bool smp_gen[MAX_ROWS]; /* tagged with a phase of the generation */
};

static int token_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct rows *r = ud;
    struct out_token t = {.start_ms = NAN, .end_ms = NAN, .power_w = NAN};
    bool input = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "is_input") == 0)
            input = v[i].i != 0;
        else if (strcmp(names[i], "start_ms") == 0 && v[i].type == WL_VALUE_REAL)
            t.start_ms = v[i].r;
        else if (strcmp(names[i], "end_ms") == 0 && v[i].type == WL_VALUE_REAL)
            t.end_ms = v[i].r;
        else if (strcmp(names[i], "power_w") == 0 && v[i].type == WL_VALUE_REAL)
            t.power_w = v[i].r;
        else if (strcmp(names[i], "text") == 0 && v[i].type == WL_VALUE_TEXT) {
            snprintf(t.text, sizeof t.text, "%s", v[i].s);
            t.has_text = true;
        }
    }
    if (!input) {
        assert_true(r->n_tok < 64);
        r->tok[r->n_tok++] = t;
    }
    return 0;
}

static int sample_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct rows *r = ud;
    assert_true(r->n_smp < MAX_ROWS);
    const int64_t k = r->n_smp++;
    r->smp_t[k] = r->smp_w[k] = NAN;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "t_ms") == 0)
            r->smp_t[k] = v[i].r;
        else if (strcmp(names[i], r->power_col) == 0 && v[i].type == WL_VALUE_REAL)
            r->smp_w[k] = v[i].r;
        else if (strcmp(names[i], "phase") == 0 && v[i].type == WL_VALUE_TEXT)
            r->smp_gen[k] = strcmp(v[i].s, "pre_inference") == 0 ||
                            strcmp(v[i].s, "prefill") == 0 || strcmp(v[i].s, "decode") == 0 ||
                            strcmp(v[i].s, "post_inference") == 0;
    }
    return 0;
}

static void read_rows(struct fixture *f, struct rows *r)
{
    static char col[80];
    snprintf(col, sizeof col, "%s_power_w", f->totals.energy_scope);
    memset(r, 0, sizeof *r);
    r->power_col = col;
    assert_int_equal(wl_store_foreach(f->st, f->id, WL_TABLE_TOKENS, -1, -1, token_row, r), 0);
    assert_int_equal(wl_store_foreach(f->st, f->id, WL_TABLE_SAMPLES, -1, -1, sample_row, r), 0);
}

/* ---- token power ------------------------------------------------------------------- */

/* Tokens of 20 ms (several 2 ms samples inside) alternate with tokens of a
 * few microseconds (as a small model's are: almost never a sample inside),
 * after an idle wait whose samples are older than every token. A token's
 * stored power must be that of the latest sample before its end, and that
 * sample must lie inside the token and be tagged with the generation's
 * phase; else no power. The short tokens once took the sample before them
 * (the previous token's, or for the first one the wait's). */
static void test_token_power_is_a_sample_inside_the_token(void **state)
{
    (void)state;
    struct fixture *f = open_fixture(2);
    wl_clock_sleep_ns(30000000); /* samples before the generation, with known power */
    assert_int_equal(wl_recorder_start(f->rec, NULL), 0);
    begin_generation(f);
    token(f, 0, 0, "a");
    for (int32_t i = 1; i < 9; i++)
        token(f, i, i % 2 ? 20 : 0, "b");
    end_generation(f);

    struct rows *r = calloc(1, sizeof *r);
    assert_non_null(r);
    read_rows(f, r);
    assert_int_equal(r->n_tok, 9);
    int n_with_power = 0;
    for (int64_t i = 0; i < r->n_tok; i++) {
        const struct out_token *t = &r->tok[i];
        if (isnan(t->power_w))
            continue;
        n_with_power++;
        /* the latest sample at or before the token's end */
        int64_t k = -1;
        for (int64_t j = 0; j < r->n_smp; j++)
            if (r->smp_t[j] <= t->end_ms)
                k = j;
        if (k < 0 || !(r->smp_t[k] >= t->start_ms) || !r->smp_gen[k] ||
            fabs(r->smp_w[k] - t->power_w) > 1e-9 * fabs(t->power_w))
            fail_msg("token %lld (%.3f .. %.3f ms) has power %.6f W, not a sample's inside it "
                     "(latest sample before its end: %.3f ms, %.6f W)",
                     (long long)i, t->start_ms, t->end_ms, t->power_w, k >= 0 ? r->smp_t[k] : NAN,
                     k >= 0 ? r->smp_w[k] : NAN);
    }
    /* 4 tokens of 20 ms with a sample every 2 ms: some have one */
    assert_true(n_with_power >= 1);
    free(r);
    close_fixture(f);
}

/* ---- token text ------------------------------------------------------------------ */

static char *repeat(const char *unit, int n)
{
    const size_t u = strlen(unit);
    char *s = malloc(u * (size_t)n + 1);
    assert_non_null(s);
    for (int i = 0; i < n; i++)
        memcpy(s + (size_t)i * u, unit, u);
    s[u * (size_t)n] = '\0';
    return s;
}

/* Pieces as long as real vocabularies have (GPT-2: 64 '=' in one token, and
 * up to 128 bytes) are stored whole, multi-byte characters included; with
 * the default room of 256 bytes, a longer piece keeps its whole characters
 * up to it. */
static void test_token_text_is_stored_whole(void **state)
{
    (void)state;
    char *eq64 = repeat("=", 64);
    char *e120 = repeat("\xc3\xa9", 120);        /* 240 bytes of U+00E9 */
    char *euro100 = repeat("\xe2\x82\xac", 100); /* 300 bytes of U+20AC */
    struct fixture *f = open_fixture(10);
    assert_int_equal(wl_recorder_start(f->rec, NULL), 0);
    begin_generation(f);
    token(f, 0, 0, eq64);
    token(f, 1, 0, e120);
    token(f, 2, 0, euro100);
    end_generation(f);

    struct rows *r = calloc(1, sizeof *r);
    assert_non_null(r);
    read_rows(f, r);
    assert_int_equal(r->n_tok, 3);
    assert_string_equal(r->tok[0].text, eq64);
    assert_string_equal(r->tok[1].text, e120);
    /* 300 bytes in 256: 85 whole characters (255 bytes), not 85 and a third */
    assert_int_equal(strlen(r->tok[2].text), 255);
    assert_memory_equal(r->tok[2].text, euro100, 255);
    free(r);
    close_fixture(f);
    free(eq64);
    free(e120);
    free(euro100);
}

/* ---- norm statistics ------------------------------------------------------------- */

struct op_var {
    double normalise, scale; /* var_ratio of the two norm ops; NAN when NULL */
    int n;
};

static int op_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct op_var *o = ud;
    int64_t op = -1;
    double ratio = NAN;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "op") == 0 && v[i].type == WL_VALUE_INT)
            op = v[i].i;
        else if (strcmp(names[i], "var_ratio") == 0 && v[i].type == WL_VALUE_REAL)
            ratio = v[i].r;
    }
    if (op == WL_OP_NORM_NORMALISE)
        o->normalise = ratio;
    else if (op == WL_OP_NORM_SCALE)
        o->scale = ratio;
    o->n++;
    return 0;
}

static void op_event(struct fixture *f, enum wl_op op, const struct wl_hook_tensor *in,
                     const struct wl_hook_tensor *out)
{
    struct wl_hook_event ev = {.kind = WL_HOOK_OP,
                               .begin = true,
                               .phase = WL_PHASE_DECODE,
                               .layer = 0,
                               .component = WL_COMP_ATTN_NORM,
                               .op = op};
    f->h.fn(f->h.user_data, &ev);
    ev.begin = false;
    ev.in = in;
    ev.out = out;
    f->h.fn(f->h.user_data, &ev);
}

/* A norm's variance ratio (output over input) needs its input: an op whose
 * in and out are the same buffer (run in place) hands out the output twice
 * and stores no ratio (NULL), not a false 1; distinct buffers give the
 * ratio (here 4: the output is the input doubled). */
static void test_a_norm_run_in_place_stores_no_variance_ratio(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4}, y[4] = {2, 4, 6, 8};
    const struct wl_hook_tensor tx = {.data = x, .n_rows = 1, .n_cols = 4, .row_stride = 4};
    const struct wl_hook_tensor ty = {.data = y, .n_rows = 1, .n_cols = 4, .row_stride = 4};
    struct fixture *f = open_fixture_at(10, WL_PROFILE_DEEP, true);
    assert_int_equal(wl_recorder_start(f->rec, NULL), 0);
    begin_generation(f);
    /* output token 0's forward pass: one layer with one norm */
    struct wl_hook_event tok = {.kind = WL_HOOK_TOKEN,
                                .begin = true,
                                .phase = WL_PHASE_DECODE,
                                .layer = -1,
                                .n_tok = 1,
                                .token_index = 0};
    f->h.fn(f->h.user_data, &tok);
    struct wl_hook_event sec = {.kind = WL_HOOK_SECTION,
                                .begin = true,
                                .phase = WL_PHASE_DECODE,
                                .section = WL_SECTION_EMBEDDING,
                                .layer = -1};
    f->h.fn(f->h.user_data, &sec);
    sec.begin = false;
    f->h.fn(f->h.user_data, &sec);
    sec.section = WL_SECTION_LAYERS;
    sec.begin = true;
    f->h.fn(f->h.user_data, &sec);
    struct wl_hook_event comp = {.kind = WL_HOOK_COMPONENT,
                                 .begin = true,
                                 .phase = WL_PHASE_DECODE,
                                 .layer = 0,
                                 .component = WL_COMP_ATTN_NORM};
    f->h.fn(f->h.user_data, &comp);
    op_event(f, WL_OP_NORM_NORMALISE, &ty, &ty); /* in place */
    op_event(f, WL_OP_NORM_SCALE, &tx, &ty);
    comp.begin = false;
    comp.out = &ty;
    f->h.fn(f->h.user_data, &comp);
    sec.begin = false;
    f->h.fn(f->h.user_data, &sec);
    section(f, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    tok.begin = false;
    tok.token_id = 1;
    tok.text = "a";
    tok.text_len = 1;
    f->h.fn(f->h.user_data, &tok);
    end_generation(f);

    struct op_var o = {.normalise = NAN, .scale = NAN};
    assert_int_equal(wl_store_foreach(f->st, f->id, WL_TABLE_OPS, -1, -1, op_row, &o), 0);
    assert_int_equal(o.n, 2);
    assert_true(isnan(o.normalise));
    assert_float_equal(o.scale, 4.0, 1e-9);
    close_fixture(f);
}

/* ---- a recorder never started ------------------------------------------------------ */

struct run_row {
    char status[32], error[256];
};

static int run_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct run_row *r = ud;
    for (size_t i = 0; i < n; i++) {
        if (v[i].type != WL_VALUE_TEXT)
            continue;
        if (strcmp(names[i], "status") == 0)
            snprintf(r->status, sizeof r->status, "%s", v[i].s);
        else if (strcmp(names[i], "error") == 0)
            snprintf(r->error, sizeof r->error, "%s", v[i].s);
    }
    return 0;
}

/* A generation that runs on a recorder never started records nothing (the
 * hook is off), and finish stores its run as failed with that reason, not
 * as the complete run its caller says it was. */
static void test_a_recorder_never_started_stores_a_failed_run(void **state)
{
    (void)state;
    struct fixture *f = open_fixture(10);
    begin_generation(f);
    token(f, 0, 0, "a");
    end_generation(f); /* finishes with WL_RUN_COMPLETE */
    struct run_row run = {0};
    assert_int_equal(wl_store_foreach(f->st, f->id, WL_TABLE_RUN, -1, -1, run_row, &run), 0);
    assert_string_equal(run.status, "failed");
    assert_string_equal(run.error, "the recording never started");
    struct rows *r = calloc(1, sizeof *r);
    assert_non_null(r);
    read_rows(f, r);
    assert_int_equal(r->n_tok, 0);
    free(r);
    close_fixture(f);
}

/* The provenance is stored JSON text (runs.sensor_provenance, which the
 * CSV export keeps as it is): its numbers have 15 significant digits, as
 * every JSON output writes them (WL_JSON_REAL_FLAGS; old: 17 digits,
 * 126.59789000000001). */
static void test_provenance_numbers_have_15_digits(void **state)
{
    (void)state;
    struct fixture *f = open_fixture_at(126.59789, WL_PROFILE_OFF, false);
    char *prov = wl_recorder_provenance_json(f->rec);
    assert_non_null(prov);
    if (!strstr(prov, "\"sample_interval_ms\":126.59789,"))
        fail_msg("provenance: %s", prov);
    free(prov);
    begin_generation(f);
    end_generation(f);
    close_fixture(f);
}

/* The provenance's token_energy says how this run's token energy was found:
 * here the CPU-time model's estimate, not a counter, and an input token's
 * is an equal share of its prompt batch's (old: "counter delta at token
 * boundaries" for every run). */
static void test_provenance_token_energy_says_the_method(void **state)
{
    (void)state;
    struct fixture *f = open_fixture(10);
    char *prov = wl_recorder_provenance_json(f->rec);
    assert_non_null(prov);
    if (!strstr(prov, "\"token_energy\":\"model estimate: CPU time at token boundaries; an "
                      "input token is an equal share of its prompt batch's\""))
        fail_msg("provenance: %s", prov);
    free(prov);
    begin_generation(f);
    end_generation(f);
    close_fixture(f);
}

/* ---- samples the sampler's ring could not hold ------------------------------------- */

struct sample_count {
    int64_t n_before; /* tagged settle or baseline */
    double rate_hz;   /* runs.sample_rate_hz; NAN when NULL */
    int64_t lost;     /* runs.extra "samples_lost"; 0 when absent */
};

static int count_before(void *ud, size_t n, const char *const *names,
                        const struct wl_store_value *v)
{
    struct sample_count *c = ud;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], "phase") == 0 && v[i].type == WL_VALUE_TEXT &&
            (strcmp(v[i].s, "settle") == 0 || strcmp(v[i].s, "baseline") == 0))
            c->n_before++;
    return 0;
}

static int run_counts(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct sample_count *c = ud;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "sample_rate_hz") == 0 && v[i].type == WL_VALUE_REAL)
            c->rate_hz = v[i].r;
        else if (strcmp(names[i], "extra") == 0 && v[i].type == WL_VALUE_TEXT) {
            const char *k = strstr(v[i].s, "\"samples_lost\":");
            if (k)
                c->lost = strtoll(k + strlen("\"samples_lost\":"), NULL, 10);
        }
    }
    return 0;
}

static void count_samples(struct fixture *f, struct sample_count *c)
{
    memset(c, 0, sizeof *c);
    c->rate_hz = NAN;
    assert_int_equal(wl_store_foreach(f->st, f->id, WL_TABLE_SAMPLES, -1, -1, count_before, c), 0);
    assert_int_equal(wl_store_foreach(f->st, f->id, WL_TABLE_RUN, -1, -1, run_counts, c), 0);
}

/* A settle and a baseline longer than the sampler's ring (64 samples of
 * 1 ms here; 8192 of 10 ms, 82 s, in `run`) are stored as they come: the
 * writer thread starts with the generation, and the ring then held only
 * their last 64 samples, the rest overwritten without a word. With ~500
 * taken before the start, more than the ring holds are stored: only the
 * drains during the settle and baseline can store more than 64 (overwritten
 * samples are counted lost, so stored + lost would pass without them).
 * Inconclusive (skipped) when
 * the sampler thread was starved to fewer than 256 samples in that time
 * (the stored rate says so; a run with no stored rate fails). */
static void test_a_long_baseline_keeps_its_samples(void **state)
{
    (void)state;
    struct fixture *f = open_fixture_ring(1, WL_PROFILE_OFF, false, 64, 10);
    assert_int_equal(wl_recorder_baseline(f->rec, 100000000, 400000000, NULL), 0);
    assert_int_equal(wl_recorder_start(f->rec, NULL), 0);
    begin_generation(f);
    token(f, 0, 0, "a");
    end_generation(f);
    struct sample_count c;
    count_samples(f, &c);
    close_fixture(f);
    fprintf(stderr, "settle and baseline: %lld samples stored, %lld lost, at %.0f Hz\n",
            (long long)c.n_before, (long long)c.lost, c.rate_hz);
    /* a recorded run stores the rate it achieved: without it (NULL or 0)
     * the guard below would skip, and nothing would be checked */
    if (!(c.rate_hz > 0))
        fail_msg("the run stored no sample rate (%f)", c.rate_hz);
    if (!(c.rate_hz * 0.5 >= 256))
        wl_test_skip_inconclusive(); /* the sampler took too few samples to fill the ring */
    if (!(c.n_before > 64))
        fail_msg("%lld samples stored before the start, no more than the ring's 64",
                 (long long)c.n_before);
}

/* Samples overwritten all the same (a ring of 8 samples of 1 ms, drained
 * every 200 ms during a 300 ms token) are counted in runs.extra
 * "samples_lost", and the summary says so; they were lost without a
 * word. Inconclusive (skipped) when the sampler thread was starved below
 * 100 Hz (then the ring may have kept up); a run with no stored rate fails. */
static void test_samples_the_ring_lost_are_counted(void **state)
{
    (void)state;
    struct fixture *f = open_fixture_ring(1, WL_PROFILE_OFF, false, 8, 200);
    assert_int_equal(wl_recorder_start(f->rec, NULL), 0);
    begin_generation(f);
    token(f, 0, 300, "a");
    end_generation(f);
    struct sample_count c;
    count_samples(f, &c);
    struct wl_store_aggregates a;
    struct wl_summary s;
    assert_int_equal(wl_store_summary(f->st, f->id, &a), 0);
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    const int64_t summary_lost = s.samples_lost;
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
    char args[2048], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "show %s --db '%s/runs.db'", f->id, f->dir);
    assert_int_equal(wl_test_run_cli(args, &out, &err), 0);
    close_fixture(f);
    fprintf(stderr, "%lld samples lost at %.0f Hz\n", (long long)c.lost, c.rate_hz);
    if (!(c.rate_hz > 0)) { /* as above: a missing rate is a defect, not inconclusive */
        free(out);
        free(err);
        fail_msg("the run stored no sample rate (%f)", c.rate_hz);
    }
    if (!(c.rate_hz >= 100)) {
        free(out);
        free(err);
        wl_test_skip_inconclusive(); /* too few samples to overflow the ring */
    }
    assert_true(c.lost > 0);
    assert_int_equal(summary_lost, c.lost);
    char want[96];
    snprintf(want, sizeof want, "NOTE: %lld power samples were overwritten before they were stored",
             (long long)c.lost);
    if (!strstr(out, want))
        fail_msg("show does not say '%s':\n%s", want, out);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_power_is_a_sample_inside_the_token),
        cmocka_unit_test(test_token_text_is_stored_whole),
        cmocka_unit_test(test_a_recorder_never_started_stores_a_failed_run),
        cmocka_unit_test(test_a_norm_run_in_place_stores_no_variance_ratio),
        cmocka_unit_test(test_provenance_numbers_have_15_digits),
        cmocka_unit_test(test_provenance_token_energy_says_the_method),
        cmocka_unit_test(test_a_long_baseline_keeps_its_samples),
        cmocka_unit_test(test_samples_the_ring_lost_are_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

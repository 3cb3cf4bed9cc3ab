/* Run summaries from store aggregates; see summary.h. Every ratio whose
 * denominator is missing or zero is left NaN (shown as n/a, null in JSON)
 * rather than guessed. Pure functions; thread-safe.
 */
#include "analysis/summary.h"

#include "analysis/run_json.h"
#include "util/json_text.h"
#include "util/signals.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NA WL_STORE_UNSET

/* a / b, NaN (unknown) when either is not a finite number or b is 0: an
 * infinity only a foreign writer or a hand edit can store is no figure,
 * and must not make a share of it 0 % */
static double wl__div(double a, double b)
{
    if (!isfinite(a) || !isfinite(b) || b == 0)
        return NA;
    return a / b;
}

static double wl__pct(double part, double whole)
{
    return wl__div(part * 100.0, whole);
}

static const struct wl_agg_phase *wl__phase(const struct wl_store_aggregates *a, const char *n)
{
    for (size_t i = 0; i < a->n_phases; i++) {
        if (strcmp(a->phases[i].name, n) == 0)
            return &a->phases[i];
    }
    return NULL;
}

static int wl__cmp_slow(const void *x, const void *y)
{
    const struct wl_summary_component *a = x, *b = y;
    double da = isnan(a->total_dur_ms) ? -1 : a->total_dur_ms;
    double db = isnan(b->total_dur_ms) ? -1 : b->total_dur_ms;
    if (da != db)
        return da < db ? 1 : -1;
    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int wl__cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Percentile q (0..1) of sorted v by linear interpolation between ranks. */
static double wl__percentile(const double *v, size_t n, double q)
{
    if (n == 0)
        return NA;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (v[lo + 1] - v[lo]) * (pos - (double)lo);
}

static int wl__cmp_hot(const void *x, const void *y)
{
    const struct wl_summary_component *a = x, *b = y;
    double ea = isnan(a->total_energy_j) ? -1 : a->total_energy_j;
    double eb = isnan(b->total_energy_j) ? -1 : b->total_energy_j;
    if (ea != eb)
        return ea < eb ? 1 : -1;
    if (a->total_dur_ms != b->total_dur_ms)
        return a->total_dur_ms < b->total_dur_ms ? 1 : -1;
    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Adds b to a where b is known (NaN + x = x, all-NaN stays NaN). */
static double wl__add(double a, double b)
{
    if (isnan(b))
        return a;
    return isnan(a) ? b : a + b;
}

static void wl__phases(const struct wl_store_aggregates *a, struct wl_summary *s)
{
    double sum_e = NA, sum_d = NA;
    int64_t n_no_energy = 0;
    for (size_t i = 0; i < a->n_phases; i++) {
        sum_e = wl__add(sum_e, a->phases[i].energy_j);
        sum_d = wl__add(sum_d, a->phases[i].dur_ms);
        n_no_energy += a->phases[i].n_no_energy;
    }
    for (size_t i = 0; i < a->n_phases; i++) {
        const struct wl_agg_phase *p = &a->phases[i];
        struct wl_summary_phase *q = &s->phases[i];
        memset(q, 0, sizeof *q);
        memcpy(q->name, p->name, sizeof q->name);
        q->n_sections = p->n_sections;
        q->n_no_energy = p->n_no_energy;
        q->dur_ms = p->dur_ms;
        q->energy_j = p->energy_j;
        /* the known energy over the time of the sections it was read in */
        q->avg_power_w = wl__div(p->energy_j, (p->dur_ms - p->no_energy_dur_ms) / 1000.0);
        q->dur_pct = wl__pct(p->dur_ms, sum_d);
        /* a share of the known sections' sum would inflate every complete
         * phase's share: of the run's energy then, unknown without it */
        q->energy_pct = wl__pct(p->energy_j, n_no_energy > 0 ? s->energy_j : sum_e);
        q->domain_mask = p->domain_mask;
        for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
            q->domain_energy_j[d] = (p->domain_mask >> d) & 1u ? p->domain_energy_j[d] : NA;
            /* of the phase's energy in the sections where d's is known */
            q->domain_pct[d] =
                wl__pct(q->domain_energy_j[d], p->energy_j - p->no_domain_energy_j[d]);
        }
    }
    s->n_phases = a->n_phases;
    /* only a run that never finished has its total summed from its rows; a
     * finished one keeps what its writer stored, as in `runs`
     * (WL__LIST_ENERGY). With a section saved without energy the sum of the
     * others would pass for the run's: unknown, as in the list. */
    s->sections_no_energy = n_no_energy;
    if (isnan(s->energy_j) && !isnan(sum_e) && s->partial && n_no_energy == 0) {
        s->energy_j = a->has_sections_energy_j ? a->sections_energy_j : sum_e;
        s->energy_from_phases = true;
        s->has_energy_method = wl_store_weakest_method(a->section_methods, &s->energy_method);
    }
    /* the known sections' sum over a total that includes the unknown ones'
     * energy would read as sections missing from the phases: n/a */
    s->covered_energy_pct = n_no_energy > 0 ? NA : wl__pct(sum_e, s->energy_j);
    /* as the export's energy_base_method (store_sqlite_query.c's
     * wl__base_method) */
    s->base_method = s->energy_method;
    s->has_base_method =
        s->has_energy_method || wl_store_weakest_method(a->section_methods, &s->base_method);
}

/* Whether the run saved token rows; without them and without a stored
 * count its token counts are unknown (-1, JSON null), not 0: a measure run,
 * or a run stopped before its first token was saved (as the run list's,
 * WL__LIST_INPUT_TOKENS). */
static bool wl__has_token_rows(const struct wl_store_aggregates *a)
{
    return a->tokens.n_input + a->tokens.n_output > 0;
}

/* The run's input tokens (as the efficiency figures count them); -1 when
 * unknown. */
static int64_t wl__input_tokens(const struct wl_store_aggregates *a)
{
    if (a->run.row.input_tokens >= 0)
        return a->run.row.input_tokens;
    return wl__has_token_rows(a) ? a->tokens.n_input : -1;
}

/* Per-token averages of rows stored per forward pass (summary.h): decode
 * sums over decode steps, prompt-batch sums over the run's input tokens
 * (times the layers they cover). An energy average is over the rows that
 * have energy: n_steps counts those, and the prompt batches' energy per
 * input token is NaN when one of them has none (n_no_energy; which input
 * tokens the others cover is not stored). */
static double wl__per_step(double total, double prefill, int64_t n_steps)
{
    return n_steps > 0 ? wl__div(total - prefill, (double)n_steps) : NA;
}

static double wl__per_input_token(double prefill, int64_t n_rows, int64_t n_no_energy, int64_t n_in,
                                  int64_t layers)
{
    return n_rows > 0 && n_no_energy == 0 && n_in > 0
               ? wl__div(prefill, (double)n_in * (double)layers)
               : NA;
}

/* A sum over rows with energy: 0 when no row had one (SQL's sum() of NULLs
 * is NULL; no row at all leaves it 0), so that what is subtracted from a
 * total is the known part. */
static double wl__known_sum(double sum)
{
    return isnan(sum) ? 0 : sum;
}

static void wl__layers(const struct wl_store_aggregates *a, struct wl_summary *s)
{
    double sum_e = NA;
    const int64_t n_in = wl__input_tokens(a);
    for (size_t i = 0; i < a->n_layers; i++)
        sum_e = wl__add(sum_e, a->layers[i].energy_j);
    for (size_t i = 0; i < a->n_layers; i++) {
        const struct wl_agg_layer *l = &a->layers[i];
        struct wl_summary_layer *q = &s->layers[i];
        q->layer = l->layer;
        q->n = l->n;
        q->n_no_energy = l->n_no_energy;
        q->prefill_n_no_energy = l->n_input_no_energy;
        q->energy_j = l->energy_j;
        q->avg_dur_ms = wl__div(l->dur_ms, (double)l->n);
        q->avg_energy_j = wl__div(l->energy_j, (double)(l->n - l->n_no_energy));
        q->energy_pct = wl__pct(l->energy_j, sum_e);
        q->decode_steps = l->n - l->n_input;
        q->decode_avg_dur_ms = wl__per_step(l->dur_ms, l->input_dur_ms, q->decode_steps);
        q->decode_avg_energy_j =
            wl__per_step(l->energy_j, wl__known_sum(l->input_energy_j),
                         q->decode_steps - (l->n_no_energy - l->n_input_no_energy));
        q->prefill_passes = l->n_input;
        q->prefill_dur_ms_per_token = wl__per_input_token(l->input_dur_ms, l->n_input, 0, n_in, 1);
        q->prefill_energy_j_per_token =
            wl__per_input_token(l->input_energy_j, l->n_input, l->n_input_no_energy, n_in, 1);
    }
    s->n_layers = a->n_layers;
}

/* Adds the (layer, component) sums c into q. */
static void wl__component_add(struct wl_summary_component *q, const struct wl_agg_component *c)
{
    q->n += c->n;
    q->n_no_energy += c->n_no_energy;
    q->total_dur_ms = wl__add(q->total_dur_ms, c->dur_ms);
    q->total_energy_j = wl__add(q->total_energy_j, c->energy_j);
    q->prefill_n += c->n_input;
    q->prefill_n_no_energy += c->n_input_no_energy;
    q->prefill_dur_ms += c->n_input > 0 ? c->input_dur_ms : 0;
    q->prefill_energy_j += wl__known_sum(c->input_energy_j);
    q->prefill_layers += c->n_input > 0;
}

/* q's averages and shares from its sums. */
static void wl__component_finish(struct wl_summary_component *q, double sum_e, double sum_d,
                                 int64_t n_in)
{
    q->avg_dur_ms = wl__div(q->total_dur_ms, (double)q->n);
    q->avg_energy_j = wl__div(q->total_energy_j, (double)(q->n - q->n_no_energy));
    q->energy_pct = wl__pct(q->total_energy_j, sum_e);
    q->dur_pct = wl__pct(q->total_dur_ms, sum_d);
    q->decode_n = q->n - q->prefill_n;
    q->decode_avg_dur_ms = wl__per_step(q->total_dur_ms, q->prefill_dur_ms, q->decode_n);
    q->decode_avg_energy_j = wl__per_step(q->total_energy_j, q->prefill_energy_j,
                                          q->decode_n - (q->n_no_energy - q->prefill_n_no_energy));
    q->prefill_dur_ms_per_token =
        wl__per_input_token(q->prefill_dur_ms, q->prefill_n, 0, n_in, q->prefill_layers);
    q->prefill_energy_j_per_token = wl__per_input_token(
        q->prefill_energy_j, q->prefill_n, q->prefill_n_no_energy, n_in, q->prefill_layers);
}

static void wl__components(const struct wl_store_aggregates *a, struct wl_summary *s)
{
    double sum_e = NA, sum_d = NA;
    size_t n = 0;
    for (size_t i = 0; i < a->n_components; i++) {
        const struct wl_agg_component *c = &a->components[i];
        sum_e = wl__add(sum_e, c->energy_j);
        sum_d = wl__add(sum_d, c->dur_ms);
        size_t k = 0;
        while (k < n && strcmp(s->components[k].name, c->name) != 0)
            k++;
        struct wl_summary_component *q = &s->components[k];
        if (k == n) {
            memset(q, 0, sizeof *q);
            q->layer = -1;
            memcpy(q->name, c->name, sizeof q->name);
            q->total_dur_ms = q->total_energy_j = NA;
            n++;
        }
        wl__component_add(q, c);
    }
    const int64_t n_in = wl__input_tokens(a);
    for (size_t k = 0; k < n; k++)
        wl__component_finish(&s->components[k], sum_e, sum_d, n_in);
    s->n_components = n;

    /* The hottest (layer, component) pairs: a partial selection would do,
     * but a few hundred rows sort in microseconds. */
    struct wl_summary_component *all =
        a->n_components ? calloc(a->n_components, sizeof *all) : NULL;
    if (!all)
        return;
    for (size_t i = 0; i < a->n_components; i++) {
        const struct wl_agg_component *c = &a->components[i];
        all[i].layer = c->layer;
        memcpy(all[i].name, c->name, sizeof all[i].name);
        all[i].total_dur_ms = all[i].total_energy_j = NA;
        wl__component_add(&all[i], c);
        wl__component_finish(&all[i], sum_e, sum_d, n_in);
    }
    qsort(all, a->n_components, sizeof *all, wl__cmp_hot);
    s->n_hottest = a->n_components < WL_SUMMARY_HOTTEST ? a->n_components : WL_SUMMARY_HOTTEST;
    memcpy(s->hottest, all, s->n_hottest * sizeof *all);
    qsort(all, a->n_components, sizeof *all, wl__cmp_slow);
    s->n_slowest = s->n_hottest;
    memcpy(s->slowest, all, s->n_slowest * sizeof *all);
    free(all);
}

/* Stored times count from the recorder's origin, before the settle and the
 * baseline; the run starts with its first phase (the generation, or the
 * measured command). 0 when no phase has a time. */
static double wl__run_start_ms(const struct wl_store_aggregates *a)
{
    double start = NA;
    for (size_t i = 0; i < a->n_phases; i++) {
        if (strcmp(a->phases[i].name, "baseline") == 0 || isnan(a->phases[i].start_ms))
            continue;
        if (isnan(start) || a->phases[i].start_ms < start)
            start = a->phases[i].start_ms;
    }
    return isnan(start) ? 0 : start;
}

static void wl__efficiency(const struct wl_store_aggregates *a, struct wl_summary *s)
{
    struct wl_summary_efficiency *e = &s->eff;
    const struct wl_agg_tokens *t = &a->tokens;
    e->input_tokens = wl__input_tokens(a);
    /* output tokens are counted per sequence: a decode round of a batched
     * run is one row holding n_seq tokens */
    e->output_tokens = a->run.row.output_tokens >= 0 ? a->run.row.output_tokens
                       : wl__has_token_rows(a)       ? t->n_generated
                                                     : -1;
    double n_in = e->input_tokens > 0 ? (double)e->input_tokens : NA;
    double n_out = e->output_tokens > 0 ? (double)e->output_tokens : NA;

    /* Phase energy from the sections; without sections, from the tokens. */
    const struct wl_agg_phase *pre = wl__phase(a, "prefill");
    const struct wl_agg_phase *dec = wl__phase(a, "decode");
    e->prefill_energy_j = pre ? pre->energy_j : (t->n_input > 0 ? t->input_energy_j : NA);
    e->decode_energy_j = dec ? dec->energy_j : (t->n_output > 0 ? t->output_energy_j : NA);
    e->prefill_dur_ms = pre ? pre->dur_ms : NA;
    e->decode_dur_ms = dec ? dec->dur_ms : NA;
    /* Whether those energies are whole: rows whose energy a failed sensor
     * read left unknown are not in them (summary.h, wl_agg_phase). */
    const bool prefill_whole = pre ? pre->n_no_energy == 0 : t->n_input_no_energy == 0;
    const bool decode_whole = dec ? dec->n_no_energy == 0 : t->n_output_no_energy == 0;

    /* Per-token figures pair energy and time with the tokens they were
     * spent on. A run that never finished may have saved decode sections
     * of tokens whose rows it lost (or the reverse): then they use the span
     * both tables cover, never the energy of one set of tokens over the
     * count of another (docs/internals/store.md, "Summary metrics"). */
    double tok_energy_j = s->energy_j, tok_decode_j = e->decode_energy_j;
    double tok_decode_ms = e->decode_dur_ms, n_tok = n_out;
    const struct wl_agg_span *sp = &a->span;
    e->span_last_token = -1;
    e->span_energy_j = e->span_decode_energy_j = e->span_decode_dur_ms = NA;
    if (s->partial && sp->last_token >= 0 && (sp->sections_beyond > 0 || sp->rows_beyond > 0)) {
        e->span_last_token = sp->last_token;
        e->span_output_tokens = sp->n_generated;
        e->span_sections_beyond = sp->sections_beyond;
        e->span_rows_beyond = sp->rows_beyond;
        e->span_energy_j = tok_energy_j = sp->energy_j;
        e->span_decode_energy_j = tok_decode_j = sp->decode_energy_j;
        e->span_decode_dur_ms = tok_decode_ms = sp->decode_dur_ms;
        n_tok = sp->n_generated > 0 ? (double)sp->n_generated : NA;
    }
    e->j_per_token = wl__div(tok_energy_j, n_tok);
    e->tokens_per_j = wl__div(n_tok, tok_energy_j);
    /* without every prefill section's energy: the mean of the input rows
     * that have one (each holds its prompt batch's share) */
    e->prefill_j_per_in_token =
        prefill_whole ? wl__div(e->prefill_energy_j, n_in)
                      : wl__div(t->input_energy_j, (double)(t->n_input - t->n_input_no_energy));

    /* Decode figures count the decode steps (summary.h): the output rows
     * after the first (up to the span's last token), whose sections are the
     * decode phase's less the first row's sampling. */
    const struct wl_agg_token *first = a->n_output_tokens > 0 ? &a->output_tokens[0] : NULL;
    const int64_t last = e->span_last_token >= 0 ? e->span_last_token : INT64_MAX;
    e->decode_steps = e->decode_tokens = 0;
    for (size_t i = 1; i < a->n_output_tokens && a->output_tokens[i].index <= last; i++) {
        e->decode_steps++;
        e->decode_tokens += a->output_tokens[i].n_seq > 0 ? a->output_tokens[i].n_seq : 1;
    }
    if (!wl__has_token_rows(a)) /* counted from rows there are none of: unknown */
        e->decode_steps = e->decode_tokens = -1;
    const double n_dec = e->decode_tokens > 0 ? (double)e->decode_tokens : NA;
    const double step_j = first ? tok_decode_j - first->energy_j : NA;
    const double step_ms = first ? tok_decode_ms - first->dur_ms : NA;
    if (!first || (decode_whole && isfinite(first->energy_j))) {
        e->decode_j_per_out_token = wl__div(step_j, n_dec);
    } else {
        /* Some decode sections, or token 0, have no energy: the decode
         * rows that have one, over the tokens they produced (the rows tile
         * the decode phase: with every energy known, this is the same
         * figure). */
        double sum_j = 0;
        int64_t n_j = 0;
        for (size_t i = 1; i < a->n_output_tokens && a->output_tokens[i].index <= last; i++) {
            const struct wl_agg_token *r = &a->output_tokens[i];
            if (!isfinite(r->energy_j))
                continue;
            sum_j += r->energy_j;
            n_j += r->n_seq > 0 ? r->n_seq : 1;
        }
        e->decode_j_per_out_token = n_j > 0 ? wl__div(sum_j, (double)n_j) : NA;
    }
    e->out_in_energy_ratio = wl__div(e->decode_j_per_out_token, e->prefill_j_per_in_token);
    e->tokens_per_s = wl__div(n_dec, step_ms / 1000.0);
    e->prefill_tokens_per_s = wl__div(n_in, e->prefill_dur_ms / 1000.0);

    const double start = wl__run_start_ms(a);
    e->ttft_ms = isnan(t->first_output_end_ms) ? NA : t->first_output_end_ms - start;
    e->mean_itl_ms = t->n_output >= 2 ? wl__div(t->last_output_end_ms - t->first_output_end_ms,
                                                (double)(t->n_output - 1))
                                      : NA;
    e->p50_itl_ms = e->p90_itl_ms = NA;
    double *gaps = a->n_output_tokens > 1 ? malloc((a->n_output_tokens - 1) * sizeof *gaps) : NULL;
    size_t n_gaps = 0;
    for (size_t i = 1; gaps && i < a->n_output_tokens; i++) {
        double g = a->output_tokens[i].end_ms - a->output_tokens[i - 1].end_ms;
        if (!isnan(g))
            gaps[n_gaps++] = g;
    }
    if (n_gaps > 0) {
        qsort(gaps, n_gaps, sizeof *gaps, wl__cmp_double);
        e->p50_itl_ms = wl__percentile(gaps, n_gaps, 0.5);
        e->p90_itl_ms = wl__percentile(gaps, n_gaps, 0.9);
    }
    free(gaps);
    e->edp_js = s->energy_j * (s->duration_ms / 1000.0);
    /* a round's EDP shared by its n_seq tokens (energy split equally, the
     * round's duration each): sum over the decode rounds / their tokens
     * (the first round, sampling only, left out as in the decode figures),
     * over the rounds whose energy is known */
    double edp_sum = 0;
    int64_t n_edp = 0;
    for (size_t i = 1; i < a->n_output_tokens; i++) {
        const struct wl_agg_token *r = &a->output_tokens[i];
        const double edp = r->energy_j * (r->dur_ms / 1000.0);
        if (!isfinite(edp))
            continue;
        edp_sum += edp;
        n_edp += r->n_seq > 0 ? r->n_seq : 1;
    }
    e->edp_per_token_js = n_edp > 0 ? wl__div(edp_sum, (double)n_edp) : NA;
    /* a phase's EDP needs its whole energy: a product of a partial sum
     * would pass for it */
    e->prefill_edp_js = prefill_whole ? e->prefill_energy_j * (e->prefill_dur_ms / 1000.0) : NA;
    e->decode_edp_js = decode_whole ? e->decode_energy_j * (e->decode_dur_ms / 1000.0) : NA;
}

/* The run's sensor provenance parsed (wl__domains does it once for the
 * summary); NULL when it stored none or it is not JSON. The readers below
 * take a missing key, or a NULL prov, as absent. */
static json_t *wl__provenance(const struct wl_store_aggregates *a)
{
    const char *txt = a->run.sensor_provenance_json;
    return txt ? json_loads(txt, 0, NULL) : NULL;
}

/* The power window of domain d from the run's provenance
 * (domains[].power_window_ms); NAN when absent (older runs, read powers). */
static double wl__power_window_ms(const json_t *prov, enum wl_domain d)
{
    double ms = NA;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(prov, "domains"), i, o)
    {
        const char *name = json_string_value(json_object_get(o, "domain"));
        json_t *w = json_object_get(o, "power_window_ms");
        if (name && strcmp(name, wl_domain_name(d)) == 0 && json_is_number(w))
            ms = json_number_value(w);
    }
    return ms;
}

/* The provenance's "sensors_not_read" (0 when absent: older runs). */
static long long wl__sensors_not_read(const json_t *prov)
{
    json_t *n = json_object_get(prov, "sensors_not_read");
    return json_is_integer(n) && json_integer_value(n) > 0 ? json_integer_value(n) : 0;
}

/* The provenance's "sensors" into buf ("" when absent: older runs). */
static void wl__sensors_text(const json_t *prov, char *buf, size_t size)
{
    const char *t = json_string_value(json_object_get(prov, "sensors"));
    wl_utf8_clip(buf, size, t ? t : ""); /* a longer one is cut between characters */
}

/* A section outside the idle baseline, or a token: the run got past its
 * set-up and baseline (the generation or the measured command began). */
static bool wl__past_baseline(const struct wl_store_aggregates *a)
{
    for (size_t i = 0; i < a->n_phases; i++) {
        if (strcmp(a->phases[i].name, "baseline") != 0)
            return true;
    }
    return wl__has_token_rows(a);
}

static uint32_t wl__bit(enum wl_domain d)
{
    return 1u << d;
}

/* The domains of "package+dram" as a mask; 0 when s is empty or names a
 * domain this build does not know. */
static uint32_t wl__scope_mask(const char *s)
{
    uint32_t m = 0;
    while (s && *s) {
        const char *plus = strchr(s, '+');
        const size_t n = plus ? (size_t)(plus - s) : strlen(s);
        char name[32];
        enum wl_domain d;
        if (n == 0 || n >= sizeof name)
            return 0;
        memcpy(name, s, n);
        name[n] = '\0';
        if (wl_domain_parse(name, &d) != 0)
            return 0;
        m |= wl__bit(d);
        s = plus ? plus + 1 : s + n;
        if (plus && !*s)
            return 0; /* "package+" */
    }
    return m;
}

/* The domains the headline energy covers: the run's energy_scope (written
 * when it finished), else its provenance's (written when it began: `run`);
 * for a run that stored neither, or one this build cannot read (a domain it
 * does not know), the rule the recorder applies to the domains present
 * (wl_headline_domains, docs/internals/profile.md). The provenance's
 * in_headline flags are not read: they are written with its energy_scope,
 * from the same mask, and the subset of them this build knows would be a
 * partial scope passed off as the whole. */
static uint32_t wl__headline_mask(const struct wl_store_aggregates *a, const json_t *prov,
                                  uint32_t present)
{
    uint32_t m = wl__scope_mask(a->run.energy_scope);
    if (!m)
        m = wl__scope_mask(json_string_value(json_object_get(prov, "energy_scope")));
    /* else the recorder's rule; which domains were parts of another is not
     * stored: a GPU or ANE next to a soc is taken as inside it, as the rule
     * had it before it knew (an Apple run's gpu must not be added twice) */
    const uint32_t parts = wl__bit(WL_DOMAIN_GPU) | wl__bit(WL_DOMAIN_ANE);
    return m ? m : wl_headline_domains(present, parts);
}

/* The method of each domain (s->domain_method, s->method_known): the domain
 * table's, else the provenance's domains[].method (written when the run
 * began; the table only when it finished). A method the store could not
 * read (WL_METHOD_COUNT: another writer's, a newer build's) is not known:
 * such a domain must not pass for measured. */
static void wl__domain_methods(const struct wl_store_aggregates *a, const json_t *prov,
                               struct wl_summary *s)
{
    s->method_known = 0;
    for (size_t i = 0; i < a->run.n_domains; i++) {
        const struct wl_store_domain *d = &a->run.domains[i];
        if ((unsigned)d->domain < WL_DOMAIN_COUNT && wl_method_key_or_null(d->method) &&
            !(s->method_known & wl__bit(d->domain))) {
            s->domain_method[d->domain] = d->method;
            s->method_known |= wl__bit(d->domain);
        }
    }
    if (s->method_known)
        return;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(prov, "domains"), i, o)
    {
        enum wl_domain d;
        enum wl_method m;
        if (wl_domain_parse(json_string_value(json_object_get(o, "domain")), &d) != 0 ||
            wl_method_parse(json_string_value(json_object_get(o, "method")), &m) != 0 ||
            (s->method_known & wl__bit(d)))
            continue;
        s->domain_method[d] = m;
        s->method_known |= wl__bit(d);
    }
}

/* The run's idle power over exactly the headline's domains (mask), so that
 * dynamic energy subtracts the idle power of what the energy covers: the
 * sum of their baselines (they never nest). NaN when none has one; NaN with
 * *missing set (the domains without one) when only some have: a partial
 * sum would pass for the whole. */
static double wl__run_baseline_w(const double *w, uint32_t mask, uint32_t *missing)
{
    double sum = NA;
    *missing = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (!(mask & (1u << d)))
            continue;
        if (isnan(w[d]))
            *missing |= 1u << d;
        sum = wl__add(sum, w[d]);
    }
    if (!*missing)
        return sum;
    if (isnan(sum))
        *missing = 0; /* none has one: the caller says why */
    return NA;
}

/* The run-level baseline when the run stored none: why not, or, for a run
 * that never finished (its domains are written at the end), the slope of
 * its stored baseline samples' cumulative energies, as the sampler's own
 * baseline is the counters' delta over the baseline window. */
static void wl__baseline_fallback(const struct wl_store_aggregates *a, const json_t *prov,
                                  struct wl_summary *s)
{
    const struct wl_agg_baseline_samples *b = &a->baseline_samples;
    if (b->n == 0) {
        s->baseline = s->partial ? WL_SUMMARY_BASELINE_NONE_SAVED : WL_SUMMARY_BASELINE_NOT_TAKEN;
        return;
    }
    if (!wl__past_baseline(a)) {
        /* only a finished run wrote all its rows: an unfinished one's stop
         * may have come well after the baseline it saved */
        s->baseline =
            s->partial ? WL_SUMMARY_BASELINE_ONLY_BASELINE_SAVED : WL_SUMMARY_BASELINE_CUT_SHORT;
        return;
    }
    if (!s->partial) {
        s->baseline = WL_SUMMARY_BASELINE_NO_READING;
        return;
    }
    double w[WL_DOMAIN_COUNT];
    uint32_t present = 0;
    const double dt_s = (b->last_t_ms - b->first_t_ms) / 1000.0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        w[d] = b->n >= 2 && dt_s > 0 ? wl__div(b->last_j[d] - b->first_j[d], dt_s) : NA;
        present |= isnan(w[d]) ? 0 : wl__bit((enum wl_domain)d);
    }
    const double p =
        wl__run_baseline_w(w, wl__headline_mask(a, prov, present), &s->baseline_missing);
    if (isnan(p)) {
        s->baseline = s->baseline_missing ? WL_SUMMARY_BASELINE_INCOMPLETE_DOMAINS
                                          : WL_SUMMARY_BASELINE_NOT_SAVED;
        return;
    }
    s->baseline = WL_SUMMARY_BASELINE_SAMPLES;
    s->baseline_power_w = p;
    s->dynamic_energy_j = s->energy_j - p * (s->duration_ms / 1000.0);
}

const char *wl_summary_baseline_key(enum wl_summary_baseline b)
{
    static const char *const keys[] = {
        [WL_SUMMARY_BASELINE_STORED] = "stored",
        [WL_SUMMARY_BASELINE_SAMPLES] = "baseline_samples",
        [WL_SUMMARY_BASELINE_NOT_TAKEN] = "not_taken",
        [WL_SUMMARY_BASELINE_CUT_SHORT] = "cut_short",
        [WL_SUMMARY_BASELINE_ONLY_BASELINE_SAVED] = "only_baseline_saved",
        [WL_SUMMARY_BASELINE_NOT_SAVED] = "not_saved",
        [WL_SUMMARY_BASELINE_NONE_SAVED] = "none_saved",
        [WL_SUMMARY_BASELINE_NO_READING] = "no_reading",
        [WL_SUMMARY_BASELINE_INCOMPLETE_DOMAINS] = "incomplete_domains",
    };
    return (unsigned)b < sizeof keys / sizeof keys[0] ? keys[b] : "?";
}

/* The run's peak power, of what its headline energy covers (s->headline_mask):
 * a headline of one domain has that domain's peak. The peak of a sum
 * (package+dram, + a GPU) is not kept (each domain's is taken over spans of
 * its own power window): the highest of its domains' peaks stands for it,
 * named, a part of the headline and so at most the sum's peak (powers are
 * not negative). A domain outside the headline (a laptop's psys beside
 * package+dram+gpu, a package beside soc) is never taken: it covers more,
 * or less, than the energy beside it. Without a peak, the domain and window
 * are those of the headline's domain with the shortest window (the run
 * needs to last about one for any peak), else its first. */
static void wl__peak(const struct wl_store_aggregates *a, const json_t *prov, double start,
                     struct wl_summary *s)
{
    s->peak_power_w = s->peak_t_ms = s->power_window_ms = NA;
    s->peak_domain = -1;
    for (size_t i = 0; i < a->run.n_domains; i++) {
        const struct wl_store_domain *d = &a->run.domains[i];
        if ((unsigned)d->domain >= WL_DOMAIN_COUNT || !(s->headline_mask & wl__bit(d->domain)))
            continue;
        const double win = wl__power_window_ms(prov, d->domain);
        bool take;
        if (!isnan(d->peak_power_w))
            take = isnan(s->peak_power_w) || d->peak_power_w > s->peak_power_w;
        else
            take = isnan(s->peak_power_w) &&
                   (s->peak_domain < 0 ||
                    (!isnan(win) && (isnan(s->power_window_ms) || win < s->power_window_ms)));
        if (!take)
            continue;
        s->peak_power_w = d->peak_power_w;
        s->peak_t_ms = d->peak_t_ms - start;
        s->power_window_ms = win;
        s->peak_domain = (int)d->domain;
    }
}

static void wl__domains(const struct wl_store_aggregates *a, struct wl_summary *s)
{
    json_t *prov = wl__provenance(a);
    double t_s = s->duration_ms / 1000.0;
    const double start = wl__run_start_ms(a); /* peaks are shown from the run's start */
    double base_w[WL_DOMAIN_COUNT];
    uint32_t present = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        base_w[d] = NA;
    for (size_t i = 0; i < a->run.n_domains; i++) {
        const struct wl_store_domain *d = &a->run.domains[i];
        struct wl_summary_domain *q = &s->domains[i];
        q->domain = d->domain;
        q->method = d->method;
        /* a run that recorded nothing stored zeros, not energies */
        q->energy_j = s->nothing_recorded ? NA : d->energy_j;
        q->pct = wl__pct(q->energy_j, s->energy_j);
        q->avg_power_w = isnan(d->avg_power_w) ? wl__div(q->energy_j, t_s) : d->avg_power_w;
        q->peak_power_w = d->peak_power_w;
        q->peak_t_ms = d->peak_t_ms - start;
        q->baseline_power_w = d->baseline_power_w;
        q->baseline_energy_j = d->baseline_power_w * t_s;
        q->dynamic_energy_j = q->energy_j - q->baseline_energy_j;
        if ((unsigned)d->domain < WL_DOMAIN_COUNT && isnan(base_w[d->domain]))
            base_w[d->domain] = d->baseline_power_w;
        if ((unsigned)d->domain < WL_DOMAIN_COUNT)
            present |= wl__bit(d->domain);
    }
    s->n_domains = a->run.n_domains;
    s->headline_mask = wl__headline_mask(a, prov, present);
    wl__domain_methods(a, prov, s);
    s->baseline_power_w = wl__run_baseline_w(base_w, s->headline_mask, &s->baseline_missing);
    s->dynamic_energy_j = s->energy_j - s->baseline_power_w * t_s;
    s->baseline = WL_SUMMARY_BASELINE_STORED;
    if (s->baseline_missing)
        s->baseline = WL_SUMMARY_BASELINE_INCOMPLETE_DOMAINS;
    else if (isnan(s->baseline_power_w))
        wl__baseline_fallback(a, prov, s);
    s->sensors_not_read = wl__sensors_not_read(prov);
    wl__sensors_text(prov, s->sensors, sizeof s->sensors);
    wl__peak(a, prov, start, s);
    double win[WL_DOMAIN_COUNT];
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        win[d] = wl__power_window_ms(prov, (enum wl_domain)d);
    wl__summary_resolution(a, win, s); /* summary_resol.c */
    json_decref(prov);
}

/* runs.extra parsed into s->extra (NULL: none stored); extra_unreadable
 * when something was stored but is not a JSON object (a hand edit,
 * another writer: set_extra refuses what jansson cannot read), by the
 * rule the run list's extra_unreadable follows (wl_json_load_object). */
static void wl__extra(const struct wl_store_aggregates *a, struct wl_summary *s)
{
    s->extra = wl_json_load_object(a->run.extra_json);
    s->extra_unreadable = a->run.extra_json && !s->extra;
}

static void wl__cost(struct wl_summary *s)
{
    struct wl_summary_cost *c = &s->cost;
    c->price_per_kwh = WL_DEFAULT_PRICE_PER_KWH;
    c->co2_g_per_kwh = WL_DEFAULT_CO2_G_PER_KWH;
    snprintf(c->currency, sizeof c->currency, "%s", WL_DEFAULT_CURRENCY);
    const json_t *x = s->extra;
    if (x) {
        json_t *v = json_object_get(x, "price_per_kwh");
        if (json_is_number(v)) {
            c->price_per_kwh = json_number_value(v);
            c->price_from_run = true;
        }
        v = json_object_get(x, "co2_g_per_kwh");
        if (json_is_number(v)) {
            c->co2_g_per_kwh = json_number_value(v);
            c->co2_from_run = true;
        }
        /* the run's currency is that of its own price: the default price
         * is in WL_DEFAULT_CURRENCY, and relabelled (0.15 JPY/kWh) it
         * would be off by the exchange rate */
        v = json_object_get(x, "currency");
        if (json_is_string(v) && c->price_from_run)
            snprintf(c->currency, sizeof c->currency, "%s", json_string_value(v));
    }
    c->energy_kwh = s->energy_j / 3.6e6;
    c->cost = c->energy_kwh * c->price_per_kwh;
    c->co2_g = c->energy_kwh * c->co2_g_per_kwh;
    /* per 1000 tokens: over the span the per-token figures use, if any */
    const struct wl_summary_efficiency *e = &s->eff;
    const bool span = e->span_last_token >= 0;
    const int64_t n = span ? e->span_output_tokens : e->output_tokens;
    const double kwh = span ? e->span_energy_j / 3.6e6 : c->energy_kwh;
    double n_out = n > 0 ? (double)n : NA;
    c->cost_per_1k_tokens = wl__div(kwh * c->price_per_kwh * 1000.0, n_out);
    c->co2_g_per_1k_tokens = wl__div(kwh * c->co2_g_per_kwh * 1000.0, n_out);
}

/* Whether the output rows are the rounds of the sequences b holds, by the
 * recorder's rule (wl_recorder_sequence_energy): one row per round, round
 * r holding a token of each sequence with more than r output tokens. */
static bool wl__rounds_match(const struct wl_store_aggregates *a, const struct wl_summary_batch *b)
{
    int64_t max_out = 0;
    for (size_t i = 0; i < b->n_seqs; i++) {
        if (b->seqs[i].output_tokens < 0)
            return false;
        max_out = b->seqs[i].output_tokens > max_out ? b->seqs[i].output_tokens : max_out;
    }
    if (b->n_seqs == 0 || max_out != (int64_t)a->n_output_tokens)
        return false;
    for (size_t r = 0; r < a->n_output_tokens; r++) {
        int64_t members = 0;
        for (size_t i = 0; i < b->n_seqs; i++)
            members += b->seqs[i].output_tokens > (int64_t)r;
        const int32_t n = a->output_tokens[r].n_seq;
        if (members != (n > 0 ? n : 1))
            return false;
    }
    return true;
}

/* q's rounds without energy and, when its decode energy is unknown, its
 * decode J per token from its shares of its rounds with energy
 * (wl_summary_sequence). */
static void wl__sequence_rounds(const struct wl_store_aggregates *a, struct wl_summary_sequence *q)
{
    double known_j = 0;
    int64_t n_known = 0;
    q->decode_rounds_no_energy = 0;
    for (int64_t r = 0; r < q->output_tokens; r++) {
        const struct wl_agg_token *t = &a->output_tokens[r];
        if (!isfinite(t->energy_j)) {
            q->decode_rounds_no_energy++;
        } else if (r > 0) { /* round 0 is sampled from the prefill's logits */
            known_j += t->energy_j / (t->n_seq > 0 ? t->n_seq : 1);
            n_known++;
        }
    }
    if (isnan(q->decode_energy_j))
        q->decode_j_per_token = n_known > 0 ? known_j / (double)n_known : NA;
}

/* runs.extra "sequences": [{"seq", "prompt_tokens", "output_tokens", "stop",
 * "prefill_energy_j", "decode_energy_j"}, ...]; entries that are not objects
 * are skipped, missing numbers are NaN. */
static int wl__batch(const struct wl_store_aggregates *a, struct wl_summary *s)
{
    struct wl_summary_batch *b = &s->batch;
    b->n_seq = a->run.n_seq > 0 ? a->run.n_seq : 1;
    b->n_rounds = a->tokens.n_output;
    const struct wl_agg_token *r0 = a->n_output_tokens > 0 ? &a->output_tokens[0] : NULL;
    const double round0_share_j = r0 ? r0->energy_j / (r0->n_seq > 0 ? r0->n_seq : 1) : NA;
    json_t *arr = json_object_get(s->extra, "sequences");
    const size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (n > 0) {
        b->seqs = calloc(n, sizeof *b->seqs);
        if (!b->seqs)
            return WL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        if (!json_is_object(o))
            continue;
        struct wl_summary_sequence *q = &b->seqs[b->n_seqs++];
        json_t *v = json_object_get(o, "seq");
        q->seq = json_is_integer(v) ? (int32_t)json_integer_value(v) : (int32_t)i;
        v = json_object_get(o, "prompt_tokens");
        q->prompt_tokens = json_is_integer(v) ? json_integer_value(v) : -1;
        v = json_object_get(o, "output_tokens");
        q->output_tokens = json_is_integer(v) ? json_integer_value(v) : -1;
        v = json_object_get(o, "stop");
        snprintf(q->stop, sizeof q->stop, "%s", json_is_string(v) ? json_string_value(v) : "?");
        v = json_object_get(o, "prefill_energy_j");
        q->prefill_energy_j = json_is_number(v) ? json_number_value(v) : NA;
        v = json_object_get(o, "decode_energy_j");
        q->decode_energy_j = json_is_number(v) ? json_number_value(v) : NA;
        /* every sequence ran in round 0, sampled from the prefill's logits:
         * its share of that round is no decode step (as in the efficiency) */
        q->decode_j_per_token =
            q->output_tokens > 1 && !isnan(round0_share_j)
                ? wl__div(q->decode_energy_j - round0_share_j, (double)(q->output_tokens - 1))
                : NA;
        q->decode_rounds_no_energy = -1;
    }
    const bool rounds = wl__rounds_match(a, b);
    for (size_t i = 0; i < b->n_seqs; i++) {
        struct wl_summary_sequence *q = &b->seqs[i];
        if (rounds)
            wl__sequence_rounds(a, q);
        b->n_prefill_no_energy += isnan(q->prefill_energy_j);
        b->n_decode_no_energy += isnan(q->decode_energy_j);
        b->n_rounds_no_energy += q->decode_rounds_no_energy > 0;
    }
    return 0;
}

/* runs.extra "exit_status" (an integer, or null when the command never
 * started or "status_unknown" is true), "signal" and "stop_signal"
 * (integers or null). */
static void wl__command(struct wl_summary *s)
{
    struct wl_summary_command *c = &s->command;
    const json_t *x = s->extra;
    json_t *st = json_is_object(x) ? json_object_get(x, "exit_status") : NULL;
    c->known = json_is_integer(st) || json_is_null(st);
    c->status_unknown = json_is_object(x) && json_is_true(json_object_get(x, "status_unknown"));
    c->started = json_is_integer(st) || c->status_unknown;
    c->exit_status = json_is_integer(st) ? (int)json_integer_value(st) : -1;
    json_t *v = json_is_object(x) ? json_object_get(x, "signal") : NULL;
    c->signal = json_is_integer(v) ? (int)json_integer_value(v) : 0;
    v = json_is_object(x) ? json_object_get(x, "stop_signal") : NULL;
    c->stop_signal = json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

uint32_t wl_summary_not_measuring(const json_t *extra)
{
    const json_t *o = json_is_object(extra) ? json_object_get(extra, "energy_unknown") : NULL;
    return json_is_object(o) ? wl_json_domain_mask(json_object_get(o, "not_measuring")) : 0;
}

bool wl_summary_domain_not_measuring(uint32_t not_measuring, int d)
{
    return d >= 0 && d < WL_DOMAIN_COUNT && (not_measuring & (1u << d));
}

/* runs.extra "energy_unknown": {"start": [domains], "end": [domains],
 * "sections": n, "token_rows": n}, and "samples_lost". The recorder writes
 * the first when the run finishes: without it (a run that never finished,
 * another writer), the rows without energy are counted from the rows. */
static void wl__energy_unknown(const struct wl_store_aggregates *a, const json_t *x,
                               struct wl_summary *s)
{
    struct wl_summary_energy_unknown *u = &s->energy_unknown;
    const json_t *lost = json_is_object(x) ? json_object_get(x, "samples_lost") : NULL;
    s->samples_lost = json_is_integer(lost) ? (int64_t)json_integer_value(lost) : 0;
    const json_t *o = json_is_object(x) ? json_object_get(x, "energy_unknown") : NULL;
    if (json_is_object(o)) {
        u->known = true;
        u->unread_start = wl_json_domain_mask(json_object_get(o, "start"));
        u->unread_end = wl_json_domain_mask(json_object_get(o, "end"));
        const json_t *v = json_object_get(o, "sections");
        u->n_sections = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
        v = json_object_get(o, "token_rows");
        u->n_token_rows = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
        u->not_measuring = wl_summary_not_measuring(x);
        u->not_measuring_rows = wl_json_domain_mask(json_object_get(o, "not_measuring_rows"));
        v = json_object_get(o, "not_measuring_sections");
        u->n_sections_not_measuring = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
        v = json_object_get(o, "not_measuring_token_rows");
        u->n_token_rows_not_measuring = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
        return;
    }
    const int64_t n_rows = a->tokens.n_input_no_energy + a->tokens.n_output_no_energy;
    if (s->sections_no_energy > 0 || n_rows > 0) {
        u->known = u->from_rows = true;
        u->n_sections = s->sections_no_energy;
        u->n_token_rows = n_rows;
    }
}

static json_t *wl__energy_unknown_json(const struct wl_summary_energy_unknown *u)
{
    if (!u->known)
        return json_null();
    json_t *o = json_object();
    /* counted from the rows, which domain went unread is not known: null,
     * not [] ("none was") */
    json_object_set_new(o, "start",
                        u->from_rows ? json_null() : wl_json_domain_names(u->unread_start));
    json_object_set_new(o, "end", u->from_rows ? json_null() : wl_json_domain_names(u->unread_end));
    json_object_set_new(o, "sections", json_integer(u->n_sections));
    json_object_set_new(o, "token_rows", json_integer(u->n_token_rows));
    json_object_set_new(o, "counted_from_rows", json_boolean(u->from_rows));
    json_object_set_new(o, "not_measuring", wl_json_domain_names(u->not_measuring));
    json_object_set_new(o, "not_measuring_rows", wl_json_domain_names(u->not_measuring_rows));
    json_object_set_new(o, "not_measuring_sections", json_integer(u->n_sections_not_measuring));
    json_object_set_new(o, "not_measuring_token_rows", json_integer(u->n_token_rows_not_measuring));
    return o;
}

int wl_summary_compute(const struct wl_store_aggregates *a, struct wl_summary *s)
{
    memset(s, 0, sizeof *s);
    s->energy_j = a->run.row.energy_j;
    s->energy_method = a->run.row.energy_method;
    s->has_energy_method = a->run.row.has_energy_method;
    s->duration_ms = a->run.row.duration_ms;
    if (!isfinite(s->energy_j)) /* an infinity (a hand edit, another writer) is no figure */
        s->energy_j = NA;
    if (!isfinite(s->duration_ms))
        s->duration_ms = NA;
    s->partial = a->run.row.status == WL_RUN_RUNNING || a->run.row.status == WL_RUN_INCOMPLETE;
    /* the same rule as the run list's (store_sqlite_query.c) */
    s->nothing_recorded = !s->partial && s->duration_ms == 0 && !wl__past_baseline(a);
    if (s->nothing_recorded)
        s->energy_j = s->duration_ms = NA;
    if (isnan(s->duration_ms) && a->n_phases > 0 && s->partial) { /* as WL__LIST_DURATION */
        double lo = NA, hi = NA;
        for (size_t i = 0; i < a->n_phases; i++) {
            if (isnan(lo) || a->phases[i].start_ms < lo)
                lo = a->phases[i].start_ms;
            if (isnan(hi) || a->phases[i].end_ms > hi)
                hi = a->phases[i].end_ms;
        }
        s->duration_ms = hi - lo;
    }
    s->phases = a->n_phases ? calloc(a->n_phases, sizeof *s->phases) : NULL;
    s->layers = a->n_layers ? calloc(a->n_layers, sizeof *s->layers) : NULL;
    s->components = a->n_components ? calloc(a->n_components, sizeof *s->components) : NULL;
    if ((a->n_phases && !s->phases) || (a->n_layers && !s->layers) ||
        (a->n_components && !s->components)) {
        wl_summary_free(s);
        return WL_ENOMEM;
    }
    wl__phases(a, s);
    s->avg_power_w = wl__div(s->energy_j, s->duration_ms / 1000.0);
    wl__layers(a, s);
    wl__components(a, s);
    wl__efficiency(a, s);
    wl__domains(a, s);
    wl__extra(a, s);
    wl__cost(s);
    wl__command(s);
    /* the run's window: from its first phase, as long as it lasted */
    const double start_ms = wl__run_start_ms(a);
    wl_summary_gaps_from_extra(s->extra, start_ms, start_ms + s->duration_ms, &s->gaps);
    wl__energy_unknown(a, s->extra, s);
    /* a domain without a figure (stuck over the whole run, a sensor that
     * failed) has none to be low by a gap: its rows are n/a, and so is the
     * gap line's word for it, as measure's */
    s->gaps.na_domains = s->energy_unknown.not_measuring;
    for (size_t i = 0; i < s->n_domains; i++)
        if ((unsigned)s->domains[i].domain < WL_DOMAIN_COUNT && isnan(s->domains[i].energy_j))
            s->gaps.na_domains |= 1u << s->domains[i].domain;
    if (wl__batch(a, s) != 0) {
        wl_summary_free(s);
        return WL_ENOMEM;
    }
    return 0;
}

void wl_summary_free(struct wl_summary *s)
{
    if (!s)
        return;
    free(s->phases);
    free(s->layers);
    free(s->components);
    free(s->batch.seqs);
    json_decref(s->extra);
    s->extra = NULL;
    s->batch.seqs = NULL;
    s->batch.n_seqs = 0;
    s->phases = NULL;
    s->layers = NULL;
    s->components = NULL;
}

/* ---- JSON ----------------------------------------------------------------- */

/* A count, null when unknown (< 0). */
static json_t *wl__count(int64_t n)
{
    return n >= 0 ? json_integer(n) : json_null();
}

/* energy_method "attributed" and energy_base_method: the method of the
 * figure it is a share of (summary.h), null when unknown. */
static void wl__attributed_json(json_t *o, const struct wl_summary *s)
{
    json_object_set_new(o, "energy_method", json_string(wl_method_key(WL_METHOD_ATTRIBUTED)));
    json_object_set_new(o, "energy_base_method",
                        s->has_base_method ? json_string(wl_method_key(s->base_method))
                                           : json_null());
}

static json_t *wl__component_json(const struct wl_summary_component *c, const struct wl_summary *s)
{
    json_t *o = json_object();
    if (c->layer >= 0)
        json_object_set_new(o, "layer", json_integer(c->layer));
    wl_json_set_text(o, "name", c->name);
    json_object_set_new(o, "count", json_integer(c->n));
    json_object_set_new(o, "count_without_energy", json_integer(c->n_no_energy));
    json_object_set_new(o, "total_dur_ms", wl_json_real_or_null(c->total_dur_ms));
    json_object_set_new(o, "total_energy_j", wl_json_real_or_null(c->total_energy_j));
    json_object_set_new(o, "avg_dur_ms", wl_json_real_or_null(c->avg_dur_ms));
    json_object_set_new(o, "avg_energy_j", wl_json_real_or_null(c->avg_energy_j));
    json_object_set_new(o, "dur_pct", wl_json_real_or_null(c->dur_pct));
    json_object_set_new(o, "energy_pct", wl_json_real_or_null(c->energy_pct));
    wl__attributed_json(o, s);
    /* count and avg_* are per stored row (forward pass and layer); these
     * per decode step and per input token (summary.h) */
    json_object_set_new(o, "decode_count", json_integer(c->decode_n));
    json_object_set_new(o, "decode_avg_dur_ms", wl_json_real_or_null(c->decode_avg_dur_ms));
    json_object_set_new(o, "decode_avg_energy_j", wl_json_real_or_null(c->decode_avg_energy_j));
    json_object_set_new(o, "prefill_count", json_integer(c->prefill_n));
    json_object_set_new(o, "prefill_count_without_energy", json_integer(c->prefill_n_no_energy));
    json_object_set_new(o, "prefill_dur_ms_per_input_token",
                        wl_json_real_or_null(c->prefill_dur_ms_per_token));
    json_object_set_new(o, "prefill_energy_j_per_input_token",
                        wl_json_real_or_null(c->prefill_energy_j_per_token));
    return o;
}

static json_t *wl__signal_number(int sig)
{
    return sig > 0 ? json_integer(sig) : json_null();
}

static json_t *wl__signal_name(int sig)
{
    const char *n = sig > 0 ? wl_signal_name(sig) : NULL;
    return n ? json_string(n) : json_null();
}

/* A measured command's end in the run object; null for other runs. */
static void wl__command_json(json_t *run, const struct wl_summary_command *c)
{
    json_object_set_new(run, "exit_status",
                        c->started && !c->status_unknown ? json_integer(c->exit_status)
                                                         : json_null());
    if (c->status_unknown)
        json_object_set_new(run, "exit_status_unknown", json_true());
    json_object_set_new(run, "signal", wl__signal_number(c->signal));
    json_object_set_new(run, "signal_name", wl__signal_name(c->signal));
    json_object_set_new(run, "stop_signal", wl__signal_number(c->stop_signal));
    json_object_set_new(run, "stop_signal_name", wl__signal_name(c->stop_signal));
}

/* sensor_gaps: null when the run stored none (runs stored before); else
 * the counts, the line `show` prints and the stored list. */
static json_t *wl__gaps_json(const struct wl_summary *s)
{
    const struct wl_summary_gaps *g = &s->gaps;
    if (!g->known)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "n_gaps", json_integer(g->n));
    json_object_set_new(o, "n_listed", json_integer(g->n_listed));
    json_object_set_new(o, "n_energy_not_counted", json_integer(g->n_not_counted));
    json_object_set_new(o, "n_outside_run", json_integer(g->n_outside));
    json_object_set_new(o, "n_before_run", json_integer(g->n_before));
    json_object_set_new(o, "n_after_run", json_integer(g->n_after));
    json_object_set_new(o, "n_energy_counted", json_integer(g->n_counted));
    json_object_set_new(o, "n_still_failing", json_integer(g->n_open));
    json_object_set_new(o, "total_s", json_real(g->dur_s));
    json_object_set_new(o, "energy_not_counted_s", json_real(g->not_counted_s));
    char text[512];
    wl_summary_gaps_text(g, text, sizeof text);
    json_object_set_new(o, "text", text[0] ? json_string(text) : json_null());
    json_t *arr = json_object_get(s->extra, "gaps");
    json_object_set_new(o, "gaps", json_is_array(arr) ? json_deep_copy(arr) : json_array());
    return o;
}

json_t *wl_summary_to_json(const struct wl_store_aggregates *a, const struct wl_summary *s)
{
    const struct wl_store_run_detail *r = &a->run;
    json_t *j = json_object();
    json_t *run = wl_run_json_identity(&r->row);
    wl_json_set_text(run, "model_path", r->model_path);
    wl_json_set_text(run, "depth", r->depth);
    json_object_set_new(run, "n_seq", json_integer(s->batch.n_seq));
    wl_json_set_text(run, "error", r->error);
    json_object_set_new(run, "sample_count", json_integer(a->n_samples));
    json_object_set_new(run, "sample_rate_hz", wl_json_real_or_null(r->sample_rate_hz));
    wl__command_json(run, &s->command);
    json_object_set_new(j, "run", run);

    json_t *tot = json_object();
    json_object_set_new(tot, "energy_j", wl_json_real_or_null(s->energy_j));
    json_object_set_new(tot, "energy_method",
                        s->has_energy_method ? json_string(wl_method_key(s->energy_method))
                                             : json_null());
    json_object_set_new(tot, "energy_method_label",
                        s->has_energy_method ? json_string(wl_method_label(s->energy_method))
                                             : json_null());
    wl_json_set_text(tot, "energy_scope", r->energy_scope);
    json_object_set_new(tot, "energy_from_phases", json_boolean(s->energy_from_phases));
    json_object_set_new(tot, "partial", json_boolean(s->partial));
    json_object_set_new(tot, "duration_ms", wl_json_real_or_null(s->duration_ms));
    json_object_set_new(tot, "avg_power_w", wl_json_real_or_null(s->avg_power_w));
    json_object_set_new(tot, "covered_energy_pct", wl_json_real_or_null(s->covered_energy_pct));
    json_object_set_new(tot, "baseline_power_w", wl_json_real_or_null(s->baseline_power_w));
    json_object_set_new(tot, "dynamic_energy_j", wl_json_real_or_null(s->dynamic_energy_j));
    json_object_set_new(tot, "baseline_status", json_string(wl_summary_baseline_key(s->baseline)));
    json_object_set_new(tot, "baseline_missing_domains", wl_json_domain_names(s->baseline_missing));
    json_object_set_new(tot, "nothing_recorded", json_boolean(s->nothing_recorded));
    json_object_set_new(tot, "energy_unknown", wl__energy_unknown_json(&s->energy_unknown));
    json_object_set_new(tot, "samples_lost", json_integer(s->samples_lost));
    /* the run's extra did not parse: the figures from it are defaults */
    json_object_set_new(tot, "extra_unreadable", json_boolean(s->extra_unreadable));
    json_object_set_new(tot, "kv_cache_bytes",
                        r->kv_cache_bytes >= 0 ? json_integer(r->kv_cache_bytes) : json_null());
    json_object_set_new(tot, "peak_power_w", wl_json_real_or_null(s->peak_power_w));
    json_object_set_new(tot, "peak_t_ms", wl_json_real_or_null(s->peak_t_ms));
    json_object_set_new(tot, "sensors_not_read", json_integer(s->sensors_not_read));
    json_object_set_new(tot, "peak_domain",
                        s->peak_domain >= 0
                            ? json_string(wl_domain_name((enum wl_domain)s->peak_domain))
                            : json_null());
    json_object_set_new(tot, "power_window_ms", wl_json_real_or_null(s->power_window_ms));
    json_object_set_new(tot, "resolution", wl__summary_resolution_json(s));
    json_object_set_new(j, "totals", tot);

    const struct wl_summary_cost *c = &s->cost;
    json_t *co2 = json_object();
    json_object_set_new(co2, "energy_kwh", wl_json_real_or_null(c->energy_kwh));
    json_object_set_new(co2, "price_per_kwh", wl_json_real_or_null(c->price_per_kwh));
    wl_json_set_text(co2, "currency", c->currency);
    json_object_set_new(co2, "cost", wl_json_real_or_null(c->cost));
    json_object_set_new(co2, "cost_per_1k_tokens", wl_json_real_or_null(c->cost_per_1k_tokens));
    json_object_set_new(co2, "co2_g_per_kwh", wl_json_real_or_null(c->co2_g_per_kwh));
    json_object_set_new(co2, "co2_g", wl_json_real_or_null(c->co2_g));
    json_object_set_new(co2, "co2_g_per_1k_tokens", wl_json_real_or_null(c->co2_g_per_1k_tokens));
    json_object_set_new(co2, "defaults_used", json_boolean(!c->price_from_run || !c->co2_from_run));
    json_object_set_new(j, "cost", co2);

    wl_run_json_set_json(j, "provenance", r->sensor_provenance_json,
                         r->sensor_provenance_json ? strlen(r->sensor_provenance_json) : 0);
    json_object_set_new(j, "sensor_gaps", wl__gaps_json(s));

    json_t *ph = json_array();
    for (size_t i = 0; i < s->n_phases; i++) {
        const struct wl_summary_phase *p = &s->phases[i];
        json_t *o = json_object();
        wl_json_set_text(o, "phase", p->name);
        json_object_set_new(o, "sections", json_integer(p->n_sections));
        json_object_set_new(o, "sections_without_energy", json_integer(p->n_no_energy));
        json_object_set_new(o, "dur_ms", wl_json_real_or_null(p->dur_ms));
        json_object_set_new(o, "energy_j", wl_json_real_or_null(p->energy_j));
        json_object_set_new(o, "avg_power_w", wl_json_real_or_null(p->avg_power_w));
        json_object_set_new(o, "dur_pct", wl_json_real_or_null(p->dur_pct));
        json_object_set_new(o, "energy_pct", wl_json_real_or_null(p->energy_pct));
        json_t *dm = json_object();
        for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
            if (!((p->domain_mask >> d) & 1u))
                continue;
            json_t *x = json_object();
            json_object_set_new(x, "energy_j", wl_json_real_or_null(p->domain_energy_j[d]));
            json_object_set_new(x, "pct", wl_json_real_or_null(p->domain_pct[d]));
            json_object_set_new(dm, wl_domain_name((enum wl_domain)d), x);
        }
        json_object_set_new(o, "domains", dm);
        /* shorter than WL_RESOLUTION_PERIODS update periods (null: the
         * period is not known) */
        const bool res_known = s->resolution.headline_domain >= 0;
        json_object_set_new(o, "below_resolution",
                            res_known ? json_boolean(p->below_resolution) : json_null());
        json_object_set_new(o, "domains_below_resolution", wl_json_domain_names(p->domain_below));
        json_array_append_new(ph, o);
    }
    json_object_set_new(j, "phases", ph);

    json_t *ly = json_array();
    for (size_t i = 0; i < s->n_layers; i++) {
        const struct wl_summary_layer *l = &s->layers[i];
        json_t *o = json_object();
        json_object_set_new(o, "layer", json_integer(l->layer));
        json_object_set_new(o, "tokens", json_integer(l->n));
        json_object_set_new(o, "rows_without_energy", json_integer(l->n_no_energy));
        json_object_set_new(o, "avg_dur_ms", wl_json_real_or_null(l->avg_dur_ms));
        json_object_set_new(o, "avg_energy_j", wl_json_real_or_null(l->avg_energy_j));
        json_object_set_new(o, "energy_pct", wl_json_real_or_null(l->energy_pct));
        /* "tokens" and avg_* are per stored row (forward pass); these per
         * decode step and per input token (summary.h) */
        json_object_set_new(o, "energy_j", wl_json_real_or_null(l->energy_j));
        json_object_set_new(o, "decode_steps", json_integer(l->decode_steps));
        json_object_set_new(o, "decode_avg_dur_ms", wl_json_real_or_null(l->decode_avg_dur_ms));
        json_object_set_new(o, "decode_avg_energy_j", wl_json_real_or_null(l->decode_avg_energy_j));
        json_object_set_new(o, "prefill_passes", json_integer(l->prefill_passes));
        json_object_set_new(o, "prefill_passes_without_energy",
                            json_integer(l->prefill_n_no_energy));
        json_object_set_new(o, "prefill_dur_ms_per_input_token",
                            wl_json_real_or_null(l->prefill_dur_ms_per_token));
        json_object_set_new(o, "prefill_energy_j_per_input_token",
                            wl_json_real_or_null(l->prefill_energy_j_per_token));
        json_array_append_new(ly, o);
    }
    json_object_set_new(j, "layers", ly);
    json_t *co = json_array();
    for (size_t i = 0; i < s->n_components; i++)
        json_array_append_new(co, wl__component_json(&s->components[i], s));
    json_object_set_new(j, "components", co);
    json_t *hot = json_array();
    for (size_t i = 0; i < s->n_hottest; i++)
        json_array_append_new(hot, wl__component_json(&s->hottest[i], s));
    json_object_set_new(j, "hottest_components", hot);
    json_t *slow = json_array();
    for (size_t i = 0; i < s->n_slowest; i++)
        json_array_append_new(slow, wl__component_json(&s->slowest[i], s));
    json_object_set_new(j, "slowest_components", slow);
    json_t *toks = json_array();
    for (size_t i = 0; i < a->n_output_tokens; i++) {
        const struct wl_agg_token *t = &a->output_tokens[i];
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer(t->index));
        json_object_set_new(o, "end_ms", wl_json_real_or_null(t->end_ms));
        json_object_set_new(o, "dur_ms", wl_json_real_or_null(t->dur_ms));
        json_object_set_new(o, "energy_j", wl_json_real_or_null(t->energy_j));
        /* tokens the round produced: one per running sequence (batch) */
        json_object_set_new(o, "n_seq", json_integer(t->n_seq > 0 ? t->n_seq : 1));
        /* its energy is a few whole counter steps (null: not known) */
        json_object_set_new(o, "below_resolution",
                            s->resolution.headline_domain >= 0 && isfinite(t->dur_ms)
                                ? json_boolean(wl_summary_below_resolution(
                                      t->dur_ms, s->resolution.headline_period_ms))
                                : json_null());
        json_array_append_new(toks, o);
    }
    json_object_set_new(j, "output_tokens", toks);

    const struct wl_summary_efficiency *e = &s->eff;
    json_t *ef = json_object();
    json_object_set_new(ef, "input_tokens", wl__count(e->input_tokens));
    json_object_set_new(ef, "output_tokens", wl__count(e->output_tokens));
    json_object_set_new(ef, "decode_steps", wl__count(e->decode_steps));
    json_object_set_new(ef, "decode_tokens", wl__count(e->decode_tokens));
    json_object_set_new(ef, "j_per_token", wl_json_real_or_null(e->j_per_token));
    json_object_set_new(ef, "prefill_j_per_input_token",
                        wl_json_real_or_null(e->prefill_j_per_in_token));
    json_object_set_new(ef, "decode_j_per_output_token",
                        wl_json_real_or_null(e->decode_j_per_out_token));
    json_object_set_new(ef, "output_input_energy_ratio",
                        wl_json_real_or_null(e->out_in_energy_ratio));
    json_object_set_new(ef, "tokens_per_j", wl_json_real_or_null(e->tokens_per_j));
    json_object_set_new(ef, "tokens_per_s", wl_json_real_or_null(e->tokens_per_s));
    json_object_set_new(ef, "prefill_tokens_per_s", wl_json_real_or_null(e->prefill_tokens_per_s));
    json_object_set_new(ef, "ttft_ms", wl_json_real_or_null(e->ttft_ms));
    json_object_set_new(ef, "mean_itl_ms", wl_json_real_or_null(e->mean_itl_ms));
    json_object_set_new(ef, "p50_itl_ms", wl_json_real_or_null(e->p50_itl_ms));
    json_object_set_new(ef, "p90_itl_ms", wl_json_real_or_null(e->p90_itl_ms));
    json_object_set_new(ef, "edp_js", wl_json_real_or_null(e->edp_js));
    json_object_set_new(ef, "edp_per_token_js", wl_json_real_or_null(e->edp_per_token_js));
    json_object_set_new(ef, "prefill_edp_js", wl_json_real_or_null(e->prefill_edp_js));
    json_object_set_new(ef, "decode_edp_js", wl_json_real_or_null(e->decode_edp_js));
    /* null, or the span the per-token figures cover (summary.h) */
    json_t *span = json_null();
    if (e->span_last_token >= 0) {
        span = json_object();
        json_object_set_new(span, "last_token_index", json_integer(e->span_last_token));
        json_object_set_new(span, "output_tokens", json_integer(e->span_output_tokens));
        json_object_set_new(span, "energy_j", wl_json_real_or_null(e->span_energy_j));
        json_object_set_new(span, "decode_energy_j", wl_json_real_or_null(e->span_decode_energy_j));
        json_object_set_new(span, "decode_dur_ms", wl_json_real_or_null(e->span_decode_dur_ms));
        json_object_set_new(span, "decode_sections_beyond", json_integer(e->span_sections_beyond));
        json_object_set_new(span, "token_rows_beyond", json_integer(e->span_rows_beyond));
    }
    json_object_set_new(ef, "per_token_span", span);
    json_object_set_new(j, "efficiency", ef);

    const struct wl_summary_batch *b = &s->batch;
    json_t *bj = json_object();
    json_object_set_new(bj, "n_seq", json_integer(b->n_seq));
    json_object_set_new(bj, "rounds", json_integer(b->n_rounds));
    json_object_set_new(bj, "output_tokens", wl__count(e->output_tokens));
    json_object_set_new(bj, "tokens_per_s", wl_json_real_or_null(e->tokens_per_s));
    json_object_set_new(bj, "j_per_token", wl_json_real_or_null(e->j_per_token));
    json_t *sq = json_array();
    for (size_t i = 0; i < b->n_seqs; i++) {
        const struct wl_summary_sequence *q = &b->seqs[i];
        json_t *o = json_object();
        json_object_set_new(o, "seq", json_integer(q->seq));
        json_object_set_new(o, "prompt_tokens",
                            q->prompt_tokens >= 0 ? json_integer(q->prompt_tokens) : json_null());
        json_object_set_new(o, "output_tokens",
                            q->output_tokens >= 0 ? json_integer(q->output_tokens) : json_null());
        wl_json_set_text(o, "stop", q->stop);
        json_object_set_new(o, "prefill_energy_j", wl_json_real_or_null(q->prefill_energy_j));
        json_object_set_new(o, "decode_energy_j", wl_json_real_or_null(q->decode_energy_j));
        json_object_set_new(o, "decode_j_per_token", wl_json_real_or_null(q->decode_j_per_token));
        json_object_set_new(o, "decode_rounds_without_energy",
                            wl__count(q->decode_rounds_no_energy));
        wl__attributed_json(o, s);
        json_array_append_new(sq, o);
    }
    json_object_set_new(bj, "sequences", sq);
    json_object_set_new(j, "batch", bj);

    json_t *dms = json_array();
    for (size_t i = 0; i < s->n_domains; i++) {
        const struct wl_summary_domain *d = &s->domains[i];
        json_t *o = json_object();
        json_object_set_new(o, "domain", json_string(wl_domain_name(d->domain)));
        /* a method this build cannot read is unknown: null, as store.md's
         * JSON rules say; so is that of a domain whose counter was not
         * measuring the whole run (stuck): it has no figure to have one */
        const bool stuck =
            wl_summary_domain_not_measuring(s->energy_unknown.not_measuring, (int)d->domain);
        wl_json_set_text(o, "method", stuck ? NULL : wl_method_key_or_null(d->method));
        json_object_set_new(o, "not_measuring", json_boolean(stuck));
        wl_json_set_text(o, "source", r->domain_source[i][0] ? r->domain_source[i] : NULL);
        json_object_set_new(o, "energy_j", wl_json_real_or_null(d->energy_j));
        json_object_set_new(o, "pct_of_total", wl_json_real_or_null(d->pct));
        json_object_set_new(o, "avg_power_w", wl_json_real_or_null(d->avg_power_w));
        json_object_set_new(o, "peak_power_w", wl_json_real_or_null(d->peak_power_w));
        json_object_set_new(o, "peak_t_ms", wl_json_real_or_null(d->peak_t_ms));
        json_object_set_new(o, "baseline_power_w", wl_json_real_or_null(d->baseline_power_w));
        json_object_set_new(o, "baseline_energy_j", wl_json_real_or_null(d->baseline_energy_j));
        json_object_set_new(o, "dynamic_energy_j", wl_json_real_or_null(d->dynamic_energy_j));
        const bool dk = (unsigned)d->domain < WL_DOMAIN_COUNT;
        json_object_set_new(
            o, "update_period_ms",
            wl_json_real_or_null(dk ? s->resolution.update_period_ms[d->domain] : NA));
        json_object_set_new(o, "energy_step_j",
                            wl_json_real_or_null(dk ? s->resolution.step_j[d->domain] : NA));
        json_array_append_new(dms, o);
    }
    json_object_set_new(j, "domains", dms);
    return j;
}

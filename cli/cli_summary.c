/* Tables of a run summary; see cli_summary.h. */
#include "cli_summary.h"

#include "cli_store.h"
#include "cli_text.h"
#include "util/signals.h"
#include "util/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A phase or component name (WL_STORE_NAME_SIZE bytes) escaped and padded. */
enum { NAME_CELL = 6 * WL_STORE_NAME_SIZE + 16 };

/* How a measured command ended, and whether wattlens was stopped. */
static void print_command_end(const struct wl_summary_command *c)
{
    char b[24];
    if (!c->known)
        return;
    if (!c->started) {
        printf("  exit       not started: wattlens got %s before the command started\n",
               wl_signal_label(c->stop_signal, b, sizeof b));
        return;
    }
    if (c->status_unknown)
        printf("  exit       status unknown: it could not be read (something else reaped the "
               "command)\n");
    else if (c->signal)
        printf("  exit       killed by signal %d (%s), exit status %d\n", c->signal,
               wl_signal_label(c->signal, b, sizeof b), c->exit_status);
    else
        printf("  exit       exited with status %d\n", c->exit_status);
    if (c->stop_signal)
        printf("  stopped    wattlens got %s and passed it on to the command\n",
               wl_signal_label(c->stop_signal, b, sizeof b));
}

/* Where a sensor read failed at the generation's start or end mark, among
 * the domains of mask: "start", "end" or "start and end" and their names
 * ("package, dram") into names; NULL when at neither. */
static const char *unread_at(const struct wl_summary_energy_unknown *u, uint32_t mask, char *names,
                             size_t n)
{
    const uint32_t st = u->unread_start & mask, en = u->unread_end & mask;
    size_t k = 0;
    names[0] = '\0';
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        if (((st | en) & (1u << d)) && k < n)
            k += (size_t)snprintf(names + k, n - k, "%s%s", k ? ", " : "",
                                  wl_domain_name((enum wl_domain)d));
    return st && en ? "start and end" : st ? "start" : en ? "end" : NULL;
}

/* The energies a failed sensor read left unknown (summary.h): other
 * domains than the headline's (whose note is on the energy line), and the
 * rows without energy, which every energy figure leaves out: sums add up
 * the others, averages, powers and ratios pair them with the time and the
 * tokens of the same rows, and a figure that needs them all is n/a. The
 * layer rows are counted apart: they take their energy from the LAYERS
 * section's own marks (profile.md), so a mark that failed elsewhere in a
 * forward pass leaves them known. */
static void print_energy_unknown_note(const struct wl_summary *s)
{
    const struct wl_summary_energy_unknown *u = &s->energy_unknown;
    if (!u->known)
        return;
    char names[128];
    if (u->not_measuring | u->not_measuring_rows) {
        /* a stuck counter (recorder.h): its 0 J is no measurement */
        size_t k = 0;
        names[0] = '\0';
        for (int d = 0; d < WL_DOMAIN_COUNT; d++)
            if (((u->not_measuring | u->not_measuring_rows) & (1u << d)) && k < sizeof names)
                k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "",
                                      wl_domain_name((enum wl_domain)d));
        printf("  NOTE: the energy counter of %s was not measuring (it did not change once: "
               "see the sensor gaps): %s; %lld section%s and %lld token row%s have no energy "
               "for it.\n",
               names,
               u->not_measuring ? "its energy, power, peak and baseline over the run are n/a, "
                                  "not 0 J"
                                : "what it reads over those rows is n/a, not 0 J",
               (long long)u->n_sections_not_measuring, u->n_sections_not_measuring == 1 ? "" : "s",
               (long long)u->n_token_rows_not_measuring,
               u->n_token_rows_not_measuring == 1 ? "" : "s");
    }
    const char *at = unread_at(u, ~s->headline_mask, names, sizeof names);
    if (at)
        printf("  NOTE: a sensor read failed at the generation's %s (%s): that energy is "
               "unknown.\n",
               at, names);
    if (u->n_sections == 0 && u->n_token_rows == 0)
        return;
    int64_t n_layer_rows = 0;
    for (size_t i = 0; i < s->n_layers; i++)
        n_layer_rows += s->layers[i].n_no_energy;
    const int64_t count[3] = {u->n_sections, u->n_token_rows, n_layer_rows};
    const char *noun[3] = {"section", "token row", "layer row"};
    char what[160] = "";
    size_t k = 0;
    int n_named = 0;
    for (int i = 0; i < 3; i++)
        n_named += count[i] > 0;
    for (int i = 0, done = 0; i < 3 && k < sizeof what; i++) {
        if (count[i] == 0)
            continue;
        const char *sep = done == 0 ? "" : done == n_named - 1 ? " and " : ", ";
        k += (size_t)snprintf(what + k, sizeof what - k, "%s%lld %s%s", sep, (long long)count[i],
                              noun[i], count[i] == 1 ? "" : "s");
        done++;
    }
    /* a batch's sequence sums its share of every round and prompt batch */
    const bool seq_na = s->batch.n_prefill_no_energy + s->batch.n_decode_no_energy > 0;
    printf("  NOTE: %s %s no energy (a sensor read failed at their start or end): the phase%s "
           "energies add up the others only (they are low), every average, power and ratio "
           "uses only rows with energy, and a figure that needs them all (the EDP of their "
           "phase%s%s) is n/a.\n",
           what, u->n_sections + u->n_token_rows + n_layer_rows == 1 ? "has" : "have",
           n_layer_rows ? " and layer" : "",
           n_layer_rows ? ", a layer's energy per input token" : "",
           seq_na ? ", a sequence's prefill or decode energy" : "");
}

/* When the headline energy is a model estimate (its weakest method), which
 * of its domains (wl_summary.headline_mask) the CPU-time model estimated and
 * which were measured: a GPU's energy counter next to the model's package is
 * not "no energy sensor was readable". A domain whose method is not known
 * counts as estimated; with none of them measured (or no domain to tell),
 * all of it is estimated. */
static void print_estimate_note(const struct wl_summary *s)
{
    if (!s->has_energy_method || s->energy_method != WL_METHOD_MODEL_ESTIMATE)
        return;
    char est[128] = "", meas[256] = "";
    size_t ne = 0, nm = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (!(s->headline_mask & (1u << d)))
            continue;
        const char *name = wl_domain_name((enum wl_domain)d);
        const bool known = s->method_known & (1u << d);
        if (!known || s->domain_method[d] == WL_METHOD_MODEL_ESTIMATE) {
            if (ne < sizeof est)
                ne += (size_t)snprintf(est + ne, sizeof est - ne, "%s%s", ne ? ", " : "", name);
        } else if (nm < sizeof meas) {
            nm += (size_t)snprintf(meas + nm, sizeof meas - nm, "%s%s: %s", nm ? "; " : "", name,
                                   wl_method_label(s->domain_method[d]));
        }
    }
    if (!nm || !ne) {
        printf("  NOTE: energy figures are ESTIMATED by wattlens's CPU-time model, not "
               "measured (no energy sensor was readable).\n");
        return;
    }
    printf("  NOTE: energy figures are partly ESTIMATED: %s by wattlens's CPU-time model, not "
           "measured (no CPU energy sensor was readable); %s.\n",
           est, meas);
}

/* The run's text comes from the store, which any program (or a copied
 * database) may have written: every field of it is printed escaped
 * (cli_text.h), whole; the prompt is a one-line cell. */
static void print_header(const struct wl_store_aggregates *a, const struct wl_summary *s)
{
    const struct wl_store_run_detail *r = &a->run;
    char b1[48], b2[48], b3[48], id[6 * sizeof r->row.id];
    printf("Run %s  (%s, %s)\n", wl_cli_text(r->row.id, id, sizeof id),
           wl_run_status_name(r->row.status), wl_run_kind_name(r->row.kind));
    if (r->row.model_name || r->model_path) {
        fputs("  model      ", stdout);
        if (r->row.model_name)
            wl_cli_put_textn(stdout, r->row.model_name, r->row.model_name_len);
        if (r->model_path) {
            fputs("  (", stdout);
            wl_cli_put_text(stdout, r->model_path);
            putchar(')');
        }
        putchar('\n');
    }
    if (r->row.command) {
        fputs("  command    ", stdout);
        wl_cli_put_textn(stdout, r->row.command, r->row.command_len);
        putchar('\n');
    }
    print_command_end(&s->command);
    if (r->row.prompt) {
        /* escaped as the rest of the header (a line feed is \x0a, so it
         * stays one line), cut between two pieces within 200 columns; old:
         * a one-line cell, controls as spaces and invalid bytes as U+FFFD,
         * which could not be read back */
        char cell[4 * 200 + 4];
        printf("  prompt     %s\n",
               wl_cli_textn_cols(r->row.prompt, r->row.prompt_len, 200, cell, sizeof cell));
    }
    printf("  created    %s UTC", wl_cli_format_date(r->row.created_at_ms, b1, sizeof b1));
    if (r->row.tags) {
        fputs("   tags: ", stdout);
        wl_cli_put_textn(stdout, r->row.tags, r->row.tags_len);
    }
    if (r->row.experiment) {
        fputs("   experiment: ", stdout);
        wl_cli_put_textn(stdout, r->row.experiment, r->row.experiment_len);
    }
    if (r->depth) {
        fputs("   depth: ", stdout);
        wl_cli_put_text(stdout, r->depth);
    }
    printf("\n");
    printf("  energy     %s", wl_cli_fmt_energy(s->energy_j, b1, sizeof b1));
    if (s->nothing_recorded)
        printf("  (nothing recorded: the run stopped before its %s began)",
               r->row.kind == WL_RUN_KIND_MEASURE ? "command" : "generation");
    else if (s->has_energy_method)
        printf("  %s", wl_method_label(s->energy_method));
    char unread[128];
    const char *unread_where =
        unread_at(&s->energy_unknown, s->headline_mask, unread, sizeof unread);
    if (s->energy_from_phases)
        printf("  (run total missing: sum of its phases)");
    else if (isnan(s->energy_j) && s->partial && s->sections_no_energy > 0)
        /* the sum of the others would pass for the run's (summary.h) */
        printf("  (run total missing, and %lld of its sections %s saved without energy: the "
               "sum of its phases is unknown)",
               (long long)s->sections_no_energy, s->sections_no_energy == 1 ? "was" : "were");
    else if (isnan(s->energy_j) && (s->energy_unknown.not_measuring & s->headline_mask))
        printf("  (unknown: an energy counter was not measuring: see the sensor gaps)");
    else if (isnan(s->energy_j) && unread_where)
        printf("  (unknown: a sensor read failed at the generation's %s (%s))", unread_where,
               unread);
    else if (isnan(s->energy_j) && !s->nothing_recorded && !s->partial)
        /* a finished run keeps what its writer stored, as in `runs` */
        printf("  (the run stored no total)");
    if (r->energy_scope) {
        fputs(", scope ", stdout);
        wl_cli_put_text(stdout, r->energy_scope);
    }
    printf("\n");
    if (s->sensors[0]) {
        /* what the figures come from: for the CPU-time model its watts and
         * whose CPU time (this process for `run`, the command's tree for
         * `measure`), which two estimates must share to be compared */
        fputs("  sensors    ", stdout);
        wl_cli_put_text(stdout, s->sensors);
        putchar('\n');
    }
    printf("  duration   %s   avg power %s   samples %lld",
           wl_cli_fmt_duration(s->duration_ms, b1, sizeof b1),
           wl_cli_fmt(s->avg_power_w, 2, "W", b2, sizeof b2), (long long)a->n_samples);
    /* the count is the whole recording's (settle and idle baseline too),
     * not only the duration's next to it */
    printf(" (whole recording");
    if (!isnan(r->sample_rate_hz))
        printf(", at %s", wl_cli_fmt(r->sample_rate_hz, 1, "Hz", b3, sizeof b3));
    if (a->baseline_samples.n > 0)
        printf("; %lld in the idle baseline", (long long)a->baseline_samples.n);
    printf(")\n");
    if (s->batch.n_seq > 1) {
        /* the first output round is sampled from the prefill's logits */
        const long long n_dec = s->batch.n_rounds > 0 ? (long long)s->batch.n_rounds - 1 : 0;
        printf("  batch      %lld sequences generated together (%lld decode round%s after the "
               "first tokens); tokens/s, J/token and cost are for the whole batch\n",
               (long long)s->batch.n_seq, n_dec, n_dec == 1 ? "" : "s");
    }
    if (r->error) {
        fputs("  error      ", stdout);
        wl_cli_put_text(stdout, r->error);
        putchar('\n');
    }
    if (r->row.status == WL_RUN_INCOMPLETE)
        printf("  NOTE: this run's writer stopped before it finished; figures cover what was "
               "saved up to its last flush.\n");
    if (s->sensors_not_read > 0)
        printf("  NOTE: PARTIAL sensors: %lld zone(s), device(s) or GPU(s) found but not read "
               "(over a limit, or unreadable); a figure that should include them is low "
               "('wattlens sensors' lists them).\n",
               s->sensors_not_read);
    print_estimate_note(s);
    print_energy_unknown_note(s);
    if (s->samples_lost > 0)
        printf("  NOTE: %lld power sample%s overwritten before %s stored (the sampler's ring "
               "was full): the samples and the peak miss %s; the energies (read at the marks) "
               "do not.\n",
               (long long)s->samples_lost, s->samples_lost == 1 ? " was" : "s were",
               s->samples_lost == 1 ? "it was" : "they were", s->samples_lost == 1 ? "it" : "them");
    if (s->extra_unreadable)
        printf("  NOTE: the run's stored extra fields (runs.extra) are not a readable JSON "
               "object: what they hold is not used, so the cost and CO2 are at the default "
               "price and intensity, and a batch's sequences, the sensor gaps, a measured "
               "command's exit and the energies a failed read left unknown are not shown.\n");
}

/* A figure below its counter's resolution (wl_summary_below_resolution)
 * is written with this mark after it, and a note under its table says
 * what it means: never a bare "0.000 J" where the counter did not move. */
#define RESOL_MARK "~"

/* The note under a table with marked figures: the counter (the headline's
 * coarsest), its update period and one step. */
static void print_resolution_note(const struct wl_summary *s, const char *what)
{
    const struct wl_summary_resolution *r = &s->resolution;
    char b[2][48];
    printf("  %s %s shorter than %d update periods of the %s counter (%s):\n"
           "    whole counter steps, each +- one step (about %s at the run's power)\n",
           RESOL_MARK, what, WL_RESOLUTION_PERIODS,
           wl_domain_name((enum wl_domain)r->headline_domain),
           wl_cli_fmt_duration(r->headline_period_ms, b[0], sizeof b[0]),
           wl_cli_fmt_energy(r->headline_step_j, b[1], sizeof b[1]));
}

/* v formatted by fmt into b with RESOL_MARK after it when below. */
static const char *resol_cell(const char *v, bool below, char *b, size_t n)
{
    snprintf(b, n, "%s%s", v, below ? RESOL_MARK : "");
    return b;
}

static void print_phases(const struct wl_summary *s)
{
    if (s->n_phases == 0)
        return;
    char b[6][48];
    printf("\nPhases\n");
    printf("  %-16s %8s %12s %7s %12s %8s %11s\n", "PHASE", "SECTIONS", "DURATION", "DUR %",
           "ENERGY", "ENERGY %", "AVG POWER");
    for (size_t i = 0; i < s->n_phases; i++) {
        const struct wl_summary_phase *p = &s->phases[i];
        char name[NAME_CELL], m[2][56];
        printf("  %s %8lld %12s %7s %12s %8s %11s\n",
               wl_cli_text_pad(p->name, 16, name, sizeof name), (long long)p->n_sections,
               wl_cli_fmt_duration(p->dur_ms, b[0], sizeof b[0]),
               wl_cli_fmt(p->dur_pct, 1, "", b[1], sizeof b[1]),
               resol_cell(wl_cli_fmt_energy(p->energy_j, b[2], sizeof b[2]),
                          p->below_resolution && !isnan(p->energy_j), m[0], sizeof m[0]),
               wl_cli_fmt(p->energy_pct, 1, "", b[3], sizeof b[3]),
               resol_cell(wl_cli_fmt(p->avg_power_w, 2, "W", b[4], sizeof b[4]),
                          p->below_resolution && !isnan(p->avg_power_w), m[1], sizeof m[1]));
    }
    if (s->resolution.n_phases_below > 0)
        print_resolution_note(s, "energy and power of a phase");
    if (!isnan(s->covered_energy_pct))
        printf("  (the phases' sections account for %s %% of the run's energy)\n",
               wl_cli_fmt(s->covered_energy_pct, 1, "", b[5], sizeof b[5]));
    /* sections without energy: the shares are of the run's energy (summary.h) */
    const long long n_no = (long long)s->sections_no_energy;
    if (n_no > 0 && !isnan(s->energy_j)) {
        double sum = 0;
        for (size_t i = 0; i < s->n_phases; i++)
            sum += isnan(s->phases[i].energy_pct) ? 0 : s->phases[i].energy_pct;
        printf("  (ENERGY %%: of the run's energy, as %lld section%s no energy:\n"
               "  the shares add up to %s %%, and %s the rest)\n",
               n_no, n_no == 1 ? " has" : "s have", wl_cli_fmt(sum, 1, "", b[5], sizeof b[5]),
               n_no == 1 ? "that section holds" : "those sections hold");
    } else if (n_no > 0) {
        printf("  (ENERGY %%: n/a, as %lld section%s no energy and the run's energy is "
               "unknown)\n",
               n_no, n_no == 1 ? " has" : "s have");
    }
}

/* How a figure of the efficiency table is written: energies and durations
 * with an automatic unit, EDP (from nJ*s to kJ*s) to 3 significant digits,
 * rates and ratios with fixed decimals. None reads as zero unless it is. */
enum fig_kind { FIG_ENERGY, FIG_DURATION, FIG_SIG, FIG_FIXED };

/* v to exactly 3 significant digits with unit ("1.00e-06 J*s", "0.0123 J*s",
 * "123 J*s"): %.3g drops trailing zeros, so 1e-06 would read as one digit
 * next to lines with three; "n/a" for NaN. */
static const char *fmt_sig3(double v, const char *unit, char *b, size_t n)
{
    if (isnan(v) || isinf(v))
        return wl_cli_fmt_sig(v, 3, unit, b, n);
    char num[40];
    snprintf(num, sizeof num, "%#.3g", v);
    char *dot = strchr(num, '.'); /* '#' keeps a lone point: "123." */
    if (dot && (dot[1] == '\0' || dot[1] == 'e'))
        memmove(dot, dot + 1, strlen(dot + 1) + 1);
    snprintf(b, n, "%s%s%s", num, unit && *unit ? " " : "", unit ? unit : "");
    return b;
}

static const char *fmt_fig(enum fig_kind k, double v, int dec, const char *unit, char *b, size_t n)
{
    switch (k) {
    case FIG_ENERGY:
        return wl_cli_fmt_energy(v, b, n);
    case FIG_DURATION:
        return wl_cli_fmt_duration(v, b, n);
    case FIG_SIG:
        return fmt_sig3(v, unit, b, n);
    default:
        return wl_cli_fmt(v, dec, unit, b, n);
    }
}

/* A token count into buf, "n/a" for -1: a count the run did not keep
 * (JSON null), not -1. */
static const char *fmt_count(int64_t n, char *buf, size_t size)
{
    if (n < 0)
        snprintf(buf, size, "n/a");
    else
        snprintf(buf, size, "%lld", (long long)n);
    return buf;
}

/* What the decode figures count: token 0 (round 0) has no forward pass. */
static void print_decode_steps(const struct wl_summary *s, bool span)
{
    const struct wl_summary_efficiency *e = &s->eff;
    if (e->output_tokens <= 0 || e->decode_steps < 0)
        return;
    printf("  %-27s %lld%s", "decode steps", (long long)e->decode_steps, span ? "*" : "");
    if (s->batch.n_seq > 1)
        printf(" rounds, %lld tokens (round 0 is sampled from the prefill's logits)\n",
               (long long)e->decode_tokens);
    else
        printf(" (token 0 is sampled from the prefill's logits)\n");
}

static void print_efficiency(const struct wl_summary *s)
{
    const struct wl_summary_efficiency *e = &s->eff;
    const struct wl_summary_resolution *rs = &s->resolution;
    if (e->input_tokens <= 0 && e->output_tokens <= 0) {
        char b[48];
        printf("\nEfficiency\n  EDP (energy x delay)       %s\n",
               fmt_sig3(e->edp_js, "J*s", b, sizeof b));
        return;
    }
    struct {
        const char *label;
        double v;
        enum fig_kind kind;
        int dec; /* FIG_FIXED */
        const char *unit;
        bool span; /* over the partial span when there is one (summary.h) */
        bool below; /* its window is below the counter's resolution */
    } rows[] = {
        {"J/token (output)", e->j_per_token, FIG_ENERGY, 0, NULL, true, rs->run_below},
        {"prefill J/input token", e->prefill_j_per_in_token, FIG_ENERGY, 0, NULL, false,
         rs->prefill_below},
        {"decode J/output token", e->decode_j_per_out_token, FIG_ENERGY, 0, NULL, true,
         rs->decode_below},
        {"output/input energy ratio", e->out_in_energy_ratio, FIG_FIXED, 2, "x", true,
         rs->prefill_below || rs->decode_below},
        {"tokens per joule", e->tokens_per_j, FIG_FIXED, 3, "tok/J", true, rs->run_below},
        {"decode tokens/s", e->tokens_per_s, FIG_FIXED, 2, "tok/s", true, false},
        {"prefill tokens/s", e->prefill_tokens_per_s, FIG_FIXED, 2, "tok/s", false, false},
        {"time to first token", e->ttft_ms, FIG_DURATION, 0, NULL, false, false},
        {"mean inter-token latency", e->mean_itl_ms, FIG_DURATION, 0, NULL, false, false},
        {"p50 inter-token latency", e->p50_itl_ms, FIG_DURATION, 0, NULL, false, false},
        {"p90 inter-token latency", e->p90_itl_ms, FIG_DURATION, 0, NULL, false, false},
        {"EDP total", e->edp_js, FIG_SIG, 0, "J*s", false, rs->run_below},
        {"EDP per output token", e->edp_per_token_js, FIG_SIG, 0, "J*s", false, false},
        {"EDP prefill", e->prefill_edp_js, FIG_SIG, 0, "J*s", false, rs->prefill_below},
        {"EDP decode", e->decode_edp_js, FIG_SIG, 0, "J*s", false, rs->decode_below},
    };
    char n_in[24], n_out[24];
    printf("\nEfficiency (%s input, %s output token%s",
           fmt_count(e->input_tokens, n_in, sizeof n_in),
           fmt_count(e->output_tokens, n_out, sizeof n_out), e->output_tokens == 1 ? "" : "s");
    if (s->batch.n_seq > 1)
        printf(" of %lld sequences; whole batch", (long long)s->batch.n_seq);
    printf(")\n");
    const bool span = e->span_last_token >= 0;
    bool any_below = false;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char b[48];
        const bool below = rows[i].below && !isnan(rows[i].v);
        any_below |= below;
        printf("  %-27s %s%s%s\n", rows[i].label,
               fmt_fig(rows[i].kind, rows[i].v, rows[i].dec, rows[i].unit, b, sizeof b),
               span && rows[i].span && !isnan(rows[i].v) ? "*" : "", below ? RESOL_MARK : "");
        if (i == 1) /* before the decode figures */
            print_decode_steps(s, span);
    }
    if (any_below)
        print_resolution_note(s, "figures over a phase");
    if (span) {
        char b[2][48];
        const bool secs = e->span_sections_beyond > 0; /* else token rows went further */
        const long long n_beyond = secs ? e->span_sections_beyond : e->span_rows_beyond;
        const long long n = e->span_output_tokens;
        printf("  * partial: the run stopped between two saves and kept %lld %s%s without\n"
               "    their %s; the marked figures (and the cost and CO2 per 1000 tokens) cover\n"
               "    only the %lld output token%s both hold, up to token %lld (%s in %s of "
               "decode)\n",
               n_beyond, secs ? "decode section" : "token row", n_beyond == 1 ? "" : "s",
               secs ? "token rows" : "decode sections", n, n == 1 ? "" : "s",
               (long long)e->span_last_token,
               wl_cli_fmt_energy(e->span_decode_energy_j, b[0], sizeof b[0]),
               wl_cli_fmt_duration(e->span_decode_dur_ms, b[1], sizeof b[1]));
    }
}

static void print_domains(const struct wl_store_aggregates *a, const struct wl_summary *s)
{
    if (s->n_domains == 0)
        return;
    char b[8][48];
    printf("\nEnergy by hardware domain (domains nest: core is inside package, package inside "
           "psys)\n");
    printf("  %-8s %-16s %12s %8s %10s %18s %10s %12s\n", "DOMAIN", "METHOD", "ENERGY", "% TOTAL",
           "AVG POWER", "PEAK (AT)", "BASELINE", "DYNAMIC");
    bool run_below = false;
    for (size_t i = 0; i < s->n_domains; i++) {
        const struct wl_summary_domain *d = &s->domains[i];
        char peak[64];
        if (isnan(d->peak_power_w))
            snprintf(peak, sizeof peak, "n/a");
        else
            snprintf(peak, sizeof peak, "%s (%s)",
                     wl_cli_fmt(d->peak_power_w, 1, "W", b[0], sizeof b[0]),
                     wl_cli_fmt_duration(d->peak_t_ms, b[1], sizeof b[1]));
        /* a method this build cannot read: n/a, as every unknown cell
         * (JSON: null; the export keeps the stored text) */
        const char *method = wl_method_key_or_null(d->method);
        /* a run shorter than its counter's resolution: whole steps */
        const bool below =
            (unsigned)d->domain < WL_DOMAIN_COUNT && !isnan(d->energy_j) &&
            wl_summary_below_resolution(s->duration_ms, s->resolution.update_period_ms[d->domain]);
        run_below |= below;
        /* a counter not measuring the whole run (stuck): no figure, no method */
        if (wl_summary_domain_not_measuring(s->energy_unknown.not_measuring, (int)d->domain))
            method = "none (stuck)";
        char m[2][56];
        printf(
            "  %-8s %-16s %12s %8s %10s %18s %10s %12s\n", wl_domain_name(d->domain),
            method ? method : "n/a",
            resol_cell(wl_cli_fmt_energy(d->energy_j, b[2], sizeof b[2]), below, m[0], sizeof m[0]),
            wl_cli_fmt(d->pct, 1, "", b[3], sizeof b[3]),
            resol_cell(wl_cli_fmt(d->avg_power_w, 2, "W", b[4], sizeof b[4]), below, m[1],
                       sizeof m[1]),
            peak, wl_cli_fmt(d->baseline_power_w, 2, "W", b[5], sizeof b[5]),
            wl_cli_fmt_energy(d->dynamic_energy_j, b[6], sizeof b[6]));
    }
    if (run_below)
        printf("  %s the run is shorter than %d update periods of that domain's counter: its "
               "energy\n    is whole counter steps, +- one step\n",
               RESOL_MARK, WL_RESOLUTION_PERIODS);
    if (!isnan(s->dynamic_energy_j))
        printf("  run: baseline %s, dynamic energy above baseline %s\n",
               wl_cli_fmt(s->baseline_power_w, 2, "W", b[0], sizeof b[0]),
               wl_cli_fmt_energy(s->dynamic_energy_j, b[1], sizeof b[1]));
    /* Per phase: each domain's share of the phase's energy. */
    uint32_t mask = 0;
    for (size_t i = 0; i < s->n_phases; i++)
        mask |= s->phases[i].domain_mask;
    if (!mask)
        return;
    printf("  per phase (%% of the phase's energy):\n  %-16s", "PHASE");
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if ((mask >> d) & 1u)
            printf(" %9s", wl_domain_name((enum wl_domain)d));
    }
    printf("\n");
    bool any_below = false;
    for (size_t i = 0; i < s->n_phases; i++) {
        char name[NAME_CELL];
        printf("  %s", wl_cli_text_pad(s->phases[i].name, 16, name, sizeof name));
        for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
            if ((mask >> d) & 1u) {
                const bool below =
                    ((s->phases[i].domain_below >> d) & 1u) && !isnan(s->phases[i].domain_pct[d]);
                any_below |= below;
                printf(" %9s",
                       resol_cell(wl_cli_fmt(s->phases[i].domain_pct[d], 1, "", b[0], sizeof b[0]),
                                  below, b[1], sizeof b[1]));
            }
        }
        printf("\n");
    }
    if (any_below) {
        /* each domain's own counter: core and package may differ */
        printf("  %s a phase shorter than %d update periods of that domain's counter\n    (",
               RESOL_MARK, WL_RESOLUTION_PERIODS);
        const char *sep = "";
        for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
            if (!((mask >> d) & 1u) || isnan(s->resolution.update_period_ms[d]))
                continue;
            printf("%s%s %s", sep, wl_domain_name((enum wl_domain)d),
                   wl_cli_fmt_duration(s->resolution.update_period_ms[d], b[0], sizeof b[0]));
            sep = ", ";
        }
        printf("): its share is whole counter steps\n    (a part, core, can read above what "
               "holds it)\n");
    }
    (void)a;
}

/* The averages of the layer and component tables: per decode step, and a
 * prompt batch's per input token (a prompt batch is one forward pass whose
 * rows are stored under its last token; summary.h). */
#define PER_STEP_HEAD "%11s %12s %12s %14s"
#define SHARES_HEAD "%12s %7s %9s" /* TOTAL, TIME %, ENERGY % */
#define PER_STEP_COLS "TIME/STEP", "ENERGY/STEP", "TIME/IN TOK", "ENERGY/IN TOK"

static void print_component_row(const struct wl_summary_component *c, bool with_layer)
{
    char b[7][48], name[NAME_CELL];
    if (with_layer)
        printf("  %5d", c->layer);
    printf("  %s " PER_STEP_HEAD " " SHARES_HEAD "\n",
           wl_cli_text_pad(c->name, 14, name, sizeof name),
           wl_cli_fmt_duration(c->decode_avg_dur_ms, b[0], sizeof b[0]),
           wl_cli_fmt_energy(c->decode_avg_energy_j, b[1], sizeof b[1]),
           wl_cli_fmt_duration(c->prefill_dur_ms_per_token, b[2], sizeof b[2]),
           wl_cli_fmt_energy(c->prefill_energy_j_per_token, b[3], sizeof b[3]),
           wl_cli_fmt_energy(c->total_energy_j, b[4], sizeof b[4]),
           wl_cli_fmt(c->dur_pct, 1, "", b[5], sizeof b[5]),
           wl_cli_fmt(c->energy_pct, 1, "", b[6], sizeof b[6]));
}

/* What the per-step and per-input-token averages are over. ENERGY/STEP
 * divides by the decode steps whose rows have energy (summary.h), fewer
 * when a failed sensor read left some without: both counts are said, the
 * fewest and most over the layers when they differ. A forward pass's
 * component rows take the same power as its layer rows (profile.md), so
 * they lack energy in the same steps. */
static void print_average_counts(const struct wl_summary *s)
{
    int64_t steps = 0, passes = 0, e_lo = -1, e_hi = -1;
    for (size_t i = 0; i < s->n_layers; i++) {
        const struct wl_summary_layer *l = &s->layers[i];
        const int64_t with_e = l->decode_steps - (l->n_no_energy - l->prefill_n_no_energy);
        steps = l->decode_steps > steps ? l->decode_steps : steps;
        passes = l->prefill_passes > passes ? l->prefill_passes : passes;
        e_lo = e_lo < 0 || with_e < e_lo ? with_e : e_lo;
        e_hi = with_e > e_hi ? with_e : e_hi;
    }
    const long long n_in = s->eff.input_tokens > 0 ? (long long)s->eff.input_tokens : 0;
    printf(
        "  /STEP: average over the %lld decode step%s; /IN TOK: the prompt batches' sum (%lld\n"
        "  forward pass%s) over the %lld input token%s; ENERGY %%: of all layers' energy, prefill "
        "and decode\n",
        (long long)steps, steps == 1 ? "" : "s", (long long)passes, passes == 1 ? "" : "es", n_in,
        n_in == 1 ? "" : "s");
    if (e_lo >= 0 && e_lo < steps) {
        printf("  (ENERGY/STEP: over the %lld", (long long)e_lo);
        if (e_hi != e_lo)
            printf(" to %lld (by layer)", (long long)e_hi);
        printf(" of them whose rows have energy)\n");
    }
    if (s->batch.n_seq > 1)
        printf("  (a step of a batched run decodes one token of each running sequence)\n");
    /* their energies are time shares of sections as short as the tokens
     * (or the prefill): whole counter steps each (summary.h) */
    const struct wl_summary_resolution *r = &s->resolution;
    if (r->n_tokens_below > 0 || r->prefill_below) {
        char b[48];
        printf("  (the energies are time shares of forward passes shorter than %d update periods\n"
               "  of the %s counter (%s): each pass's energy is whole counter steps, so an\n"
               "  average over few passes is coarse)\n",
               WL_RESOLUTION_PERIODS, wl_domain_name((enum wl_domain)r->headline_domain),
               wl_cli_fmt_duration(r->headline_period_ms, b, sizeof b));
    }
}

static void print_layers(const struct wl_summary *s, long max_layers)
{
    char b[5][48];
    if (s->n_layers > 0) {
        printf("\nLayers (energy attributed by time share)\n");
        printf("  %5s " PER_STEP_HEAD " %9s\n", "LAYER", PER_STEP_COLS, "ENERGY %");
        size_t n =
            max_layers > 0 && (size_t)max_layers < s->n_layers ? (size_t)max_layers : s->n_layers;
        for (size_t i = 0; i < n; i++) {
            const struct wl_summary_layer *l = &s->layers[i];
            printf("  %5d " PER_STEP_HEAD " %9s\n", l->layer,
                   wl_cli_fmt_duration(l->decode_avg_dur_ms, b[0], sizeof b[0]),
                   wl_cli_fmt_energy(l->decode_avg_energy_j, b[1], sizeof b[1]),
                   wl_cli_fmt_duration(l->prefill_dur_ms_per_token, b[2], sizeof b[2]),
                   wl_cli_fmt_energy(l->prefill_energy_j_per_token, b[3], sizeof b[3]),
                   wl_cli_fmt(l->energy_pct, 1, "", b[4], sizeof b[4]));
        }
        if (n < s->n_layers)
            printf("  ... %zu more (--layers 0 shows all)\n", s->n_layers - n);
        print_average_counts(s);
    }
    if (s->n_components > 0) {
        printf("\nComponents (energy attributed; per layer, /STEP and /IN TOK as in Layers)\n");
        printf("  %-14s " PER_STEP_HEAD " " SHARES_HEAD "\n", "COMPONENT", PER_STEP_COLS, "TOTAL",
               "TIME %", "ENERGY %");
        for (size_t i = 0; i < s->n_components; i++)
            print_component_row(&s->components[i], false);
        printf("\nHottest components (layer, component) by energy (averages as above)\n");
        printf("  %5s  %-14s " PER_STEP_HEAD " " SHARES_HEAD "\n", "LAYER", "COMPONENT",
               PER_STEP_COLS, "TOTAL", "TIME %", "ENERGY %");
        for (size_t i = 0; i < s->n_hottest; i++)
            print_component_row(&s->hottest[i], true);
    }
}

/* Dynamic energy, or the true reason it is unknown (summary.h). A run
 * still recording (running) has not stopped: the unfinished reasons say
 * what is not saved yet, not that it stopped or did not finish. */
static void print_dynamic_energy(const struct wl_summary *s, bool running)
{
    char b[2][48];
    const char *label = "dynamic energy";
    wl_cli_fmt(s->baseline_power_w, 2, "W", b[1], sizeof b[1]);
    if (!isnan(s->dynamic_energy_j)) {
        printf("  %-27s %s (baseline %s%s)\n", label,
               wl_cli_fmt_energy(s->dynamic_energy_j, b[0], sizeof b[0]), b[1],
               s->baseline == WL_SUMMARY_BASELINE_SAMPLES
                   ? ", from the baseline samples this unfinished run saved"
                   : "");
        return;
    }
    if (!isnan(s->baseline_power_w)) {
        printf("  %-27s n/a (baseline %s, but the run has no energy figure)\n", label, b[1]);
        return;
    }
    if (s->baseline == WL_SUMMARY_BASELINE_INCOMPLETE_DOMAINS) {
        /* a partial sum would pass for the idle power of the whole */
        printf("  %-27s n/a (no idle baseline for", label);
        const char *sep = " ";
        for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
            if (s->baseline_missing & (1u << d)) {
                printf("%s%s", sep, wl_domain_name((enum wl_domain)d));
                sep = ", ";
            }
        }
        printf(", which the headline energy covers)\n");
        return;
    }
    static const char *const why[] = {
        [WL_SUMMARY_BASELINE_STORED] = "no idle baseline was stored",
        [WL_SUMMARY_BASELINE_SAMPLES] = "no idle baseline was stored",
        [WL_SUMMARY_BASELINE_NOT_TAKEN] = "no idle baseline was taken",
        [WL_SUMMARY_BASELINE_CUT_SHORT] = "the run stopped during its idle baseline",
        /* an unfinished run's rows are saved about once a second, behind
         * the generation: its baseline may have ended well before the stop */
        [WL_SUMMARY_BASELINE_ONLY_BASELINE_SAVED] =
            "nothing after the idle baseline was saved: the run stopped during it or soon after",
        [WL_SUMMARY_BASELINE_NOT_SAVED] =
            "baseline not saved: the run did not finish, and its baseline samples give none",
        [WL_SUMMARY_BASELINE_NO_READING] = "the idle baseline got no sensor reading",
        [WL_SUMMARY_BASELINE_NONE_SAVED] =
            ("the run did not finish and saved no baseline samples: none was taken, or they were "
             "not written yet"),
    };
    static const char *const why_running[] = {
        [WL_SUMMARY_BASELINE_ONLY_BASELINE_SAVED] =
            "nothing after the idle baseline is saved yet: the run is still in it, or has not "
            "saved what followed it",
        [WL_SUMMARY_BASELINE_NOT_SAVED] =
            "baseline not saved yet: the run has not ended, and its baseline samples give none",
        [WL_SUMMARY_BASELINE_NONE_SAVED] =
            ("the run has not ended and has saved no baseline samples: none was taken, or they "
             "are not written yet"),
    };
    const char *text = "unknown";
    if (running && (unsigned)s->baseline < sizeof why_running / sizeof why_running[0] &&
        why_running[s->baseline])
        text = why_running[s->baseline];
    else if ((unsigned)s->baseline < sizeof why / sizeof why[0])
        text = why[s->baseline];
    printf("  %-27s n/a (%s)\n", label, text);
}

static void print_extras(const struct wl_store_aggregates *a, const struct wl_summary *s)
{
    const struct wl_summary_cost *c = &s->cost;
    char b[6][48];
    printf("\nPower, memory, cost and CO2\n");
    /* the headline energy may cover several domains (package+dram); its
     * peak is then one of theirs: say which (an unfinished run's scope,
     * from its provenance, too) */
    char label[40] = "peak power";
    if (s->peak_domain >= 0 && s->headline_mask != 1u << s->peak_domain)
        snprintf(label, sizeof label, "peak power (%s)",
                 wl_domain_name((enum wl_domain)s->peak_domain));
    printf("  %-27s %s", label, wl_cli_fmt(s->peak_power_w, 2, "W", b[0], sizeof b[0]));
    if (!isnan(s->peak_t_ms))
        printf(" (at %s)", wl_cli_fmt_duration(s->peak_t_ms, b[1], sizeof b[1]));
    else if (isnan(s->peak_power_w) && !isnan(s->power_window_ms) && !isnan(s->duration_ms))
        /* a run needs one window (the spans of wl_window_peak and the
         * recorder's wl_span_peak); one that lasted longer and still has
         * none was recorded when only the samples' own windows counted,
         * for which it needed about two */
        printf(" (no %s power window lies inside the run; it needs about %s)",
               wl_cli_fmt_duration(s->power_window_ms, b[1], sizeof b[1]),
               s->duration_ms < s->power_window_ms ? "one" : "two");
    else if (isnan(s->peak_power_w) && a->run.n_domains == 0 && s->partial)
        /* the per-domain rows (energy, peak, baseline) are written when
         * the run ends; a writer that died never wrote them */
        printf(" (%s)", a->run.row.status == WL_RUN_RUNNING
                            ? "the run has not ended; its per-domain figures are saved when it does"
                            : "the run stopped before its per-domain figures were saved");
    printf("\n");
    print_dynamic_energy(s, a->run.row.status == WL_RUN_RUNNING);
    if (a->run.kv_cache_bytes >= 0)
        printf("  %-27s %s\n", "KV cache",
               wl_cli_fmt_bytes(a->run.kv_cache_bytes, b[0], sizeof b[0]));
    char per[2][160] = {"", ""}, currency[6 * sizeof c->currency];
    wl_cli_text(c->currency, currency, sizeof currency); /* from the run's extra */
    /* per 1000 output tokens only where there are output tokens (not measure runs) */
    const char *star = s->eff.span_last_token >= 0 ? "*" : ""; /* over the partial span */
    if (!isnan(c->cost_per_1k_tokens))
        snprintf(per[0], sizeof per[0], " (%.6g %s per 1000 output tokens%s)",
                 c->cost_per_1k_tokens, currency, star);
    if (!isnan(c->co2_g_per_1k_tokens))
        snprintf(per[1], sizeof per[1], " (%.6g g per 1000 output tokens%s)",
                 c->co2_g_per_1k_tokens, star);
    char amount[2][128] = {"n/a", "n/a"}; /* n/a: no energy figure to price */
    if (!isnan(c->cost))
        snprintf(amount[0], sizeof amount[0], "%.6g %s", c->cost, currency);
    if (!isnan(c->co2_g))
        snprintf(amount[1], sizeof amount[1], "%.6g g", c->co2_g);
    /* the user's own rates as given, with the 15 digits of every JSON
     * output (store.md "Numbers"): 0.28751 reads 0.28751, not 0.288, so
     * that cost = kWh x the price shown */
    printf("  %-27s %s%s at %.15g %s/kWh%s\n", "cost", amount[0], per[0], c->price_per_kwh,
           currency, c->price_from_run ? "" : " (default price)");
    printf("  %-27s %s%s at %.15g g/kWh%s\n", "CO2", amount[1], per[1], c->co2_g_per_kwh,
           c->co2_from_run ? "" : " (default intensity)");
}

/* Batched runs: each sequence's tokens, stop reason and attributed energy. */
static void print_sequences(const struct wl_summary *s)
{
    const struct wl_summary_batch *b = &s->batch;
    if (b->n_seqs == 0)
        return;
    char x[4][48];
    printf("\nSequences (batch of %lld; energy attributed: a prompt batch's energy shared "
           "equally by its tokens,\n  a decode round's equally by the sequences that ran in "
           "it)\n",
           (long long)b->n_seq);
    printf("  %4s %7s %7s %-23s %12s %12s %14s\n", "SEQ", "PROMPT", "OUTPUT", "STOP", "PREFILL",
           "DECODE", "DECODE J/TOKEN");
    for (size_t i = 0; i < b->n_seqs; i++) {
        const struct wl_summary_sequence *q = &b->seqs[i];
        char stop[6 * sizeof q->stop + 24], n[2][24];
        printf("  %4d %7s %7s %s %12s %12s %14s\n", q->seq,
               fmt_count(q->prompt_tokens, n[0], sizeof n[0]),
               fmt_count(q->output_tokens, n[1], sizeof n[1]),
               wl_cli_text_pad(q->stop, 23, stop, sizeof stop),
               wl_cli_fmt_energy(q->prefill_energy_j, x[0], sizeof x[0]),
               wl_cli_fmt_energy(q->decode_energy_j, x[1], sizeof x[1]),
               wl_cli_fmt_energy(q->decode_j_per_token, x[2], sizeof x[2]));
    }
    /* a sum needs every part; the average uses the rounds with energy (summary.h) */
    if (b->n_prefill_no_energy > 0 && s->energy_unknown.known)
        printf("  (PREFILL n/a: a prompt batch that held its prompt has no energy)\n");
    if (b->n_decode_no_energy > 0 && b->n_rounds_no_energy > 0)
        printf("  (DECODE n/a: a round the sequence ran in has no energy; its DECODE J/TOKEN is "
               "over its decode rounds with energy)\n");
}

/* The output rows' energies (tokens; decode rounds of a batch) as a chart,
 * from the aggregates: the summary's own snapshot, so that its row count is
 * the efficiency table's (a second read of a run being recorded could see
 * more rows than the summary did). */
static void print_tokens(const struct wl_store_aggregates *a, const struct wl_summary *s)
{
    const size_t n = a->n_output_tokens;
    if (n == 0)
        return;
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t n_ok = 0;
    int64_t n_tokens = 0; /* sum of the rows' n_seq */
    bool rounds = false;  /* some row holds several sequences' tokens */
    for (size_t i = 0; i < n; i++) {
        const struct wl_agg_token *t = &a->output_tokens[i];
        n_tokens += t->n_seq > 0 ? t->n_seq : 1;
        rounds |= t->n_seq > 1;
        if (!isfinite(t->energy_j))
            continue;
        lo = t->energy_j < lo ? t->energy_j : lo;
        hi = t->energy_j > hi ? t->energy_j : hi;
        sum += t->energy_j;
        n_ok++;
    }
    char b[3][48];
    /* round 0 is sampled from the prefill's logits: no decode round, as the
     * batch line and the decode steps count them */
    if (rounds)
        printf("\nPer-round energy (%zu output round%s: round 0 and %zu decode round%s, %lld "
               "output token%s; min %s, mean %s, max %s per round)\n  ",
               n, n == 1 ? "" : "s", n - 1, n - 1 == 1 ? "" : "s", (long long)n_tokens,
               n_tokens == 1 ? "" : "s", wl_cli_fmt_energy(n_ok ? lo : NAN, b[0], sizeof b[0]),
               wl_cli_fmt_energy(n_ok ? sum / (double)n_ok : NAN, b[1], sizeof b[1]),
               wl_cli_fmt_energy(n_ok ? hi : NAN, b[2], sizeof b[2]));
    else
        printf("\nPer-token energy (%zu output token%s; min %s, mean %s, max %s)\n  ", n,
               n == 1 ? "" : "s", wl_cli_fmt_energy(n_ok ? lo : NAN, b[0], sizeof b[0]),
               wl_cli_fmt_energy(n_ok ? sum / (double)n_ok : NAN, b[1], sizeof b[1]),
               wl_cli_fmt_energy(n_ok ? hi : NAN, b[2], sizeof b[2]));
    static const char *const bars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                       "\u2585", "\u2586", "\u2587", "\u2588"};
    /* at most 72 columns: each shows the mean of its tokens */
    const size_t cols = n < 72 ? n : 72;
    for (size_t c = 0; c < cols; c++) {
        size_t i0 = c * n / cols, i1 = (c + 1) * n / cols;
        double m = 0;
        size_t k = 0;
        for (size_t i = i0; i < i1; i++) {
            const double e = a->output_tokens[i].energy_j;
            if (isfinite(e)) {
                m += e;
                k++;
            }
        }
        if (!k) {
            printf(" ");
            continue;
        }
        m /= (double)k;
        int lvl = hi > lo ? (int)((m - lo) / (hi - lo) * 7.0 + 0.5) : 3;
        printf("%s", bars[lvl < 0 ? 0 : lvl > 7 ? 7 : lvl]);
    }
    if (rounds)
        printf("\n  (first round left; a round is one token of each running sequence; round 0 is "
               "sampled from the prefill's logits, so it holds sampling only)\n");
    else
        printf("\n  (first token left; token 0 is sampled from the prefill's logits, so it holds "
               "sampling only)\n");
    const struct wl_summary_resolution *r = &s->resolution;
    if (r->n_tokens_below > 0) {
        const long long nb = (long long)r->n_tokens_below, nt = (long long)r->n_tokens_timed;
        const char *unit = rounds ? "round" : "token";
        printf("  %s %lld of %lld %s%s %s shorter than %d update periods of the %s counter (%s):\n"
               "    %s energies are whole counter steps (+- one step, about %s; 0 J where it did "
               "not\n    move), so single %ss' figures are coarse; the mean over many is not\n",
               RESOL_MARK, nb, nt, unit, nt == 1 ? "" : "s", nb == 1 ? "is" : "are",
               WL_RESOLUTION_PERIODS, wl_domain_name((enum wl_domain)r->headline_domain),
               wl_cli_fmt_duration(r->headline_period_ms, b[0], sizeof b[0]),
               nb == 1 ? "its" : "their", wl_cli_fmt_energy(r->headline_step_j, b[1], sizeof b[1]),
               unit);
    }
}

/* The sensor gaps in one line (the one `measure` prints); none without gaps. */
static void print_gaps(const struct wl_summary *s)
{
    char line[512];
    if (*wl_summary_gaps_text(&s->gaps, line, sizeof line))
        printf("  %s\n", line);
}

void wl_cli_print_summary(const struct wl_store_aggregates *a, const struct wl_summary *s,
                          long max_layers)
{
    print_header(a, s);
    print_gaps(s);
    print_phases(s);
    print_tokens(a, s);
    print_efficiency(s);
    print_sequences(s);
    print_extras(a, s);
    print_domains(a, s);
    print_layers(s, max_layers);
}

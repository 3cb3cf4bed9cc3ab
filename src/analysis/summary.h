/* Run summaries and efficiency metrics, computed from the store's aggregates
 * (wl_store_summary): phase breakdown, per-layer and per-component averages,
 * the hottest components, J/token, EDP, TTFT, ITL, energy per hardware
 * domain, peaks, baseline and dynamic energy. Definitions are in
 * docs/internals/store.md ("Summary metrics"). Pure computation: no I/O, no
 * global state; a wl_summary is owned by its caller (wl_summary_free).
 */
#ifndef WL_ANALYSIS_SUMMARY_H
#define WL_ANALYSIS_SUMMARY_H

#include "store/store.h"

#include <jansson.h>

#define WL_SUMMARY_HOTTEST 10

/* Sections whose energy a failed sensor read left unknown (n_no_energy;
 * profile.md) are left out of every energy figure: energy_j and the
 * domains' energies add up the others (a lower bound of the phase's), and
 * avg_power_w and domain_pct pair them with the time and energy of the
 * same sections (wl_agg_phase). */
struct wl_summary_phase {
    char name[WL_STORE_NAME_SIZE];
    int64_t n_sections;
    int64_t n_no_energy; /* sections without energy */
    double dur_ms, energy_j, avg_power_w;
    /* of the sum over phases: they add up to 100. energy_pct, when a
     * section of the run has no energy: of the run's energy (wl_summary),
     * NaN when that is unknown; they add up to less, the sections without
     * energy holding the rest (sections tile the run) */
    double dur_pct, energy_pct;
    uint32_t domain_mask;
    double domain_energy_j[WL_DOMAIN_COUNT];
    double domain_pct[WL_DOMAIN_COUNT]; /* of the phase's energy */
    /* shorter than WL_RESOLUTION_PERIODS update periods of the counter
     * (wl_summary_below_resolution): of the headline's coarsest (energy_j,
     * avg_power_w), of each domain's own (domain_below, bit d); false when
     * the period is not known (resolution_known) */
    bool below_resolution;
    uint32_t domain_below;
};

/* Layer and component rows are stored per forward pass: a decode step's
 * under its output token, a whole prompt batch's (up to 64 tokens) under
 * the batch's last input token (profile.md). So averages per row are per
 * forward pass, not per token; the decode_* figures average over decode
 * steps (one output token each; one token of each running sequence in a
 * batched run) and the prefill_* figures divide the prompt batches' sums
 * by the run's input tokens. Token 0 has no forward pass of its own (it is
 * sampled from the prefill's logits), hence no rows.
 *
 * Rows whose energy a failed sensor read left unknown (n_no_energy, and
 * prefill_n_no_energy of them in prompt batches) are left out of the
 * energy figures: energy sums add up the others, an energy average divides
 * them by the rows that have energy, and the energy per input token, which
 * needs every prompt batch, is then NaN. The time figures keep every row. */
struct wl_summary_layer {
    int32_t layer;
    int64_t n;                       /* rows: forward passes, a prompt batch counting one */
    int64_t n_no_energy, prefill_n_no_energy; /* rows without energy */
    double avg_dur_ms, avg_energy_j; /* per forward pass */
    double energy_j;                 /* sum over the run */
    double energy_pct;               /* of all layers, prefill and decode: they add up to 100 */
    int64_t decode_steps;            /* rows under output tokens */
    double decode_avg_dur_ms, decode_avg_energy_j; /* per decode step */
    int64_t prefill_passes;                        /* rows under input tokens (prompt batches) */
    double prefill_dur_ms_per_token, prefill_energy_j_per_token; /* their sums / input tokens */
};

struct wl_summary_component {
    int32_t layer; /* -1 in per-name averages */
    char name[WL_STORE_NAME_SIZE];
    int64_t n; /* rows: forward passes x layers */
    int64_t n_no_energy, prefill_n_no_energy; /* rows without energy, as in the layers */
    double total_dur_ms, total_energy_j;
    double avg_dur_ms, avg_energy_j;               /* per row (forward pass and layer) */
    double energy_pct, dur_pct;                    /* of all components: they add up to 100 */
    int64_t decode_n;                              /* rows of decode steps (steps x layers) */
    double decode_avg_dur_ms, decode_avg_energy_j; /* per decode step and layer */
    int64_t prefill_n;                             /* rows of prompt batches (batches x layers) */
    double prefill_dur_ms, prefill_energy_j;       /* their sums */
    int32_t prefill_layers; /* layers holding those rows (a (layer, component) pair: 1) */
    double prefill_dur_ms_per_token, prefill_energy_j_per_token; /* per input token and layer */
};

struct wl_summary_domain {
    enum wl_domain domain;
    enum wl_method method;
    double energy_j, pct; /* pct of the run's headline energy (domains nest) */
    double avg_power_w, peak_power_w;
    double peak_t_ms; /* from the run's start (its first phase), as ttft_ms; stored
                         times (export) count from the recorder's origin */
    double baseline_power_w, baseline_energy_j, dynamic_energy_j;
};

/* Every figure is WL_STORE_UNSET (NaN) when its inputs are missing.
 *
 * Decode figures count decode steps: token 0 (round 0 of a batched run) is
 * sampled from the prefill's logits and has no forward pass of its own, so
 * of n output tokens n - 1 were decoded (llama.cpp's "eval time" counts
 * them the same way). The decode rate is then 1 / mean ITL (n_seq / mean
 * ITL for a batch of n_seq sequences while all of them run), and a run of
 * one output token has no decode figures. Figures over every output token
 * (J/token, tokens/J, cost per 1000 tokens) keep all n. */
struct wl_summary_efficiency {
    /* The counts are -1 (JSON null) when unknown: input and output tokens
     * when the run stored no count and saved no token row (a measure run),
     * the decode counts when it saved no token row. */
    int64_t input_tokens, output_tokens;
    int64_t decode_steps;          /* output rows after the first (forward passes) */
    int64_t decode_tokens;         /* output tokens they produced (batch: sum of n_seq) */
    double j_per_token;            /* total energy / output tokens */
    double prefill_j_per_in_token; /* prefill energy / input tokens */
    double decode_j_per_out_token; /* decode steps' energy / decode tokens */
    double out_in_energy_ratio;    /* decode J per output token / prefill J per input token */
    double tokens_per_j;           /* output tokens / total energy */
    double tokens_per_s;           /* decode tokens / decode steps' time */
    double prefill_tokens_per_s;   /* input tokens / prefill time */
    double ttft_ms;                /* first output token's end - first section's start */
    double mean_itl_ms;            /* mean gap between consecutive output tokens */
    double p50_itl_ms, p90_itl_ms; /* percentiles of those gaps (linear interpolation) */
    double edp_js;                 /* total energy x total time */
    double edp_per_token_js;       /* mean over decode tokens of energy x duration */
    double prefill_edp_js, decode_edp_js;
    double prefill_energy_j, decode_energy_j;
    double prefill_dur_ms, decode_dur_ms;
    /* A run that never finished and whose decode sections and output rows
     * stop at different tokens (wl_agg_span): the per-token figures
     * (j_per_token, tokens_per_j, decode_j_per_out_token,
     * out_in_energy_ratio, tokens_per_s, decode_steps, decode_tokens, and
     * the cost and CO2 per 1000 tokens) cover the output tokens up to
     * span_last_token only, with span_energy_j (every section up to its
     * end), span_decode_* and span_output_tokens; the phase figures above
     * keep every section.
     * span_last_token is -1 when the per-token figures cover the whole run. */
    int64_t span_last_token;
    int64_t span_output_tokens;
    int64_t span_sections_beyond, span_rows_beyond; /* left out of the span */
    double span_energy_j, span_decode_energy_j, span_decode_dur_ms;
};

/* Defaults of the cost and carbon figures when a run does not carry its own
 * (runs.extra keys "price_per_kwh", "currency", "co2_g_per_kwh"): a typical
 * household electricity price, in US dollars, and the world-average grid
 * carbon intensity (IEA, 2023). A stored currency is that of the stored
 * price: without one, the cost keeps the default price and its currency.
 * Documented in docs/internals/profile.md. */
#define WL_DEFAULT_PRICE_PER_KWH 0.15
#define WL_DEFAULT_CURRENCY "USD"
#define WL_DEFAULT_CO2_G_PER_KWH 475.0

struct wl_summary_cost {
    double price_per_kwh, co2_g_per_kwh;
    char currency[16];
    bool price_from_run; /* the run stored its own price (else the default) */
    bool co2_from_run;   /* ... its own carbon intensity */
    double energy_kwh;  /* headline energy */
    double cost;        /* energy_kwh x price */
    double co2_g;       /* energy_kwh x intensity */
    double cost_per_1k_tokens, co2_g_per_1k_tokens; /* per 1000 output tokens */
};

/* One sequence of a batched run (runs.extra "sequences", written by `run
 * --batch`). Energies are attributed, not measured: each prompt token holds
 * an equal share of its prompt batch, each decode round's energy is split
 * equally among the sequences that ran in it.
 *
 * A sum needs every part: a round without energy (a failed sensor read)
 * leaves decode_energy_j unknown (the recorder stores null) for each
 * sequence that ran in it, a prompt batch without energy prefill_energy_j.
 * decode_j_per_token, an average, then comes from the output rows: the
 * sequence ran in rounds 0 .. output_tokens - 1 (the recorder's rule), so
 * it is the mean of its shares (a round's energy / its n_seq) of its
 * rounds after round 0 that have energy, as the run's decode J per output
 * token uses the rows with energy. */
struct wl_summary_sequence {
    int32_t seq;
    int64_t prompt_tokens, output_tokens;
    char stop[24];            /* stop reason ("eog", "max_tokens", ...) */
    double prefill_energy_j;  /* attributed */
    double decode_energy_j;   /* attributed */
    double decode_j_per_token; /* decode steps' share / (output_tokens - 1): round 0 is
                                  sampled from the prefill's logits (as decode_j_per_out_token) */
    /* of the rounds it ran in, those without energy; -1 when the output rows
     * do not match the sequences' counts (another writer, an edit) */
    int64_t decode_rounds_no_energy;
};

/* Batched runs: n_seq sequences generated together. Throughput, J/token and
 * cost in the efficiency figures are for the whole batch; a decode round
 * (one stored output row) holds one token of each running sequence. */
struct wl_summary_batch {
    int64_t n_seq;    /* 1 for a single sequence (and runs stored before batching) */
    int64_t n_rounds; /* decode rounds (output rows) */
    struct wl_summary_sequence *seqs; /* heap; n_seqs (0 when the run stored none) */
    size_t n_seqs;
    /* of seqs, those whose prefill_energy_j, decode_energy_j is unknown, and
     * those with a round without energy (decode_rounds_no_energy > 0) */
    size_t n_prefill_no_energy, n_decode_no_energy, n_rounds_no_energy;
};

/* How a measured command ended (runs.extra "exit_status", "signal" and
 * "stop_signal", written by `measure`; measure_store.h). */
struct wl_summary_command {
    bool known;      /* the run stored its command's exit (a measure run) */
    bool started;    /* false: wattlens was stopped before starting it */
    bool status_unknown; /* it ran, but its status could not be read (exit_status -1) */
    int exit_status; /* 0..255, 128 + N when signal N killed it; -1 when not started */
    int signal;      /* the signal that killed it, 0 when none */
    int stop_signal; /* the signal that stopped wattlens (passed on to it), 0 when none */
};

/* The sensor gaps the run stored (runs.extra "n_gaps" and "gaps", written
 * by `run` and `measure`: profile/run_gaps.h): sensor reads that failed and
 * energy counter discontinuities. Only the listed gaps' times are known;
 * each listed gap is in exactly one of n_not_counted, n_outside, n_counted. */
struct wl_summary_gaps {
    bool known;            /* the run stored its gaps (runs stored before did not) */
    int64_t n;             /* every gap, those not listed too */
    int64_t n_listed;      /* in the stored list (the first 64) */
    int64_t n_not_counted; /* energy not counted, in the run's window: its figures are low */
    int64_t n_outside;     /* wholly before or after the run's window, counted or not: in
                              none of its figures nor in dur_s (n_before + n_after) */
    int64_t n_before;      /* ... before its start (settle, idle baseline) */
    int64_t n_before_lost; /* ... of them, those whose energy is lost: an idle baseline across
                              one is low */
    int64_t n_after;       /* ... after its end (the sampler runs on while rows are stored) */
    int64_t n_counted;     /* failed reads of energy counters, which kept counting */
    int64_t n_open;        /* listed gaps still failing when the gaps were stored (no end) */
    double dur_s;          /* the time in the listed gaps that ended, outside ones not (the
                              length of their union: time in two overlapping gaps counts once) */
    double not_counted_s;  /* ... in those of them in n_not_counted */
    uint32_t lost_domains; /* bit d: domain d's energy is lost in one of n_not_counted
                              (its "lost_domains", else a discontinuity's "domains"): whose figures
                              are low; 0 when no gap names one */
    uint32_t na_domains;   /* set by the caller after wl_summary_gaps_from_extra: the domains
                              not measured over the whole run (a counter stuck throughout:
                              energy_unknown.not_measuring), whose figures are n/a, not low */
};

/* The gaps in one line, "" when none (or not known): "sensor gaps: N (X.XXX s
 * in all; the energy in them is NOT counted, the figures are low by it)", or
 * what differs (gaps outside the run, failed reads of a counter that kept
 * counting, still failing at the end, not all listed). `show`, `run` and
 * `measure` print it as is; JSON sensor_gaps.text. Returns buf. */
const char *wl_summary_gaps_text(const struct wl_summary_gaps *g, char *buf, size_t size);
/* The domains whose counter was not measuring over the whole run (stuck
 * throughout): runs.extra energy_unknown "not_measuring" (0 when extra is
 * NULL or has none). Their figures are n/a and they have no method: the
 * one rule by which `show` ("none (stuck)"), `show --json` and the export
 * (method null, not_measuring true) write a domain's method. */
uint32_t wl_summary_not_measuring(const json_t *extra);
/* Whether domain d (an enum wl_domain; any other value: no) is in the
 * mask wl_summary_not_measuring returns: its method is none. */
bool wl_summary_domain_not_measuring(uint32_t not_measuring, int d);
/* What a lost gap does to the figures of the domains it lost (lost):
 * "the core figures are low by it"; a domain in na (not measured over the
 * whole run) "... are n/a (not measured)"; "the figures are low by it" when
 * lost is 0. Returns buf. */
const char *wl_summary_gaps_lost_effect(uint32_t lost, uint32_t na, char *buf, size_t size);
/* *g from a run's extra object (NULL or without "n_gaps": not known); the
 * run's window is [run_start_ms, run_end_ms] in the stored times (NaN end:
 * open-ended). */
void wl_summary_gaps_from_extra(const json_t *extra, double run_start_ms, double run_end_ms,
                                struct wl_summary_gaps *g);
/* Where a gap [t0, t1] lies against a window [start, end], all in one unit
 * and base (t1 NaN: still failing at the end; end NaN: open-ended): wholly
 * before the window (< 0; a gap that ends where it starts is before it),
 * wholly after it (> 0; one that starts where it ends is after it) or
 * across some of it (0). wl_summary_gaps_from_extra places every gap by
 * it first (n_before, n_after); `measure` words
 * each gap's line by it. */
int wl_summary_gap_place(double t0, double t1, double start, double end);

/* ---- counter resolution (summary_resol.c) ----------------------------------
 * An energy counter moves in steps: RAPL about every 1 ms, hwmon energy
 * counters every 0.5-1 s, NVML every 20-100 ms. A figure over a window is a
 * counter delta, right to within one step (the counter's value at each end
 * is up to one step old), so a window shorter than a few update periods
 * holds 0, 1 or 2 whole steps: 0 J while the hardware drew 15 W, or twice
 * the truth. WL_RESOLUTION_PERIODS periods keep that error within 10 %, the
 * bound the sampler's power window keeps (sampler.md). */
#define WL_RESOLUTION_PERIODS 10

/* The one rule: whether a window of window_ms over a counter updated every
 * update_period_ms is below its resolution (shorter than
 * WL_RESOLUTION_PERIODS periods). False when either is unknown (NaN) or
 * the period is not positive: the caller says "not known" itself.
 * `measure` and the summary decide every mark by it. */
bool wl_summary_below_resolution(double window_ms, double update_period_ms);

/* A counter's update period from its power window (the sampler's
 * power_window_ns, the provenance's power_window_ms): the window is
 * WL_RESOLUTION_PERIODS periods, at least one sampling interval, so this
 * is the period, or a tenth of the interval when that is longer (an upper
 * bound: a figure is then marked sooner, never later). NaN for an unknown
 * (NaN, <= 0) window. */
double wl_summary_update_period_ms(double power_window_ms);

/* The run's counters' resolution. Periods come from the provenance's
 * power_window_ms (an unfinished run's provenance, written before any
 * period was learned, has none: not known, nothing marked). */
struct wl_summary_resolution {
    double update_period_ms[WL_DOMAIN_COUNT]; /* by domain; NaN: not known */
    double step_j[WL_DOMAIN_COUNT]; /* one step at the domain's average power over the run */
    /* the headline's domains: the longest period among them (its figures,
     * sums of them, are marked by it), the domain that has it (-1: no
     * period known), and one step of each added (the error bound of a
     * headline delta) */
    double headline_period_ms;
    int headline_domain;
    double headline_step_j;
    /* output rows with energy and a time, and those of them below the
     * headline's resolution (their energies are whole steps) */
    int64_t n_tokens_timed, n_tokens_below;
    int64_t n_phases_below; /* phases whose headline figures are below it */
    /* the efficiency figures' windows below it: the prefill phase
     * (prefill J/input token), the decode phase (decode J/output token),
     * the whole run (J/token) */
    bool prefill_below, decode_below, run_below;
};

/* Energies that a failed sensor read left unknown (runs.extra
 * "energy_unknown", written by the inference recorder; recorder.h): the
 * domains (bit d) without a reading at the generation's start or end mark
 * (the run's energy is unknown when one of them is in the headline, and so
 * is that domain's), and the sections and token rows stored without energy,
 * which every energy figure leaves out (docs/internals/store.md, "Summary
 * metrics"). */
struct wl_summary_energy_unknown {
    bool known; /* something is unknown: the run stored it, or from_rows */
    /* the run stored none (it never finished: the recorder writes it at the
     * end; another writer), but rows have no energy: n_sections and
     * n_token_rows counted from them, the unread domains not known */
    bool from_rows;
    uint32_t unread_start, unread_end;
    int64_t n_sections, n_token_rows;
    /* a counter that was not measuring (stuck; its sensor gap is stored):
     * the domains stuck over the whole run (no energy, power, peak or
     * baseline: none of their figures is measured, so no method is theirs),
     * those stuck over some row, and the rows without energy for it
     * (runs.extra energy_unknown "not_measuring*", recorder.h) */
    uint32_t not_measuring, not_measuring_rows;
    int64_t n_sections_not_measuring, n_token_rows_not_measuring;
};

/* Where the run's idle baseline comes from, or why it has none (dynamic
 * energy is then unknown). */
enum wl_summary_baseline {
    WL_SUMMARY_BASELINE_STORED = 0, /* the baseline the run stored when it finished */
    WL_SUMMARY_BASELINE_SAMPLES,    /* an unfinished run: the slope of its stored baseline
                                       samples' energy counters */
    WL_SUMMARY_BASELINE_NOT_TAKEN,  /* no baseline samples: none was taken (--baseline 0) */
    WL_SUMMARY_BASELINE_CUT_SHORT,  /* a finished run (all its rows written) that stopped
                                       during its idle baseline: its baseline samples and
                                       nothing after them */
    /* unfinished, and its baseline samples are all it saved: nothing after
     * the baseline was saved, which proves no stop in it (rows are saved
     * about once a second, behind the generation) */
    WL_SUMMARY_BASELINE_ONLY_BASELINE_SAVED,
    WL_SUMMARY_BASELINE_NOT_SAVED,  /* unfinished: its baseline samples give no baseline */
    WL_SUMMARY_BASELINE_NO_READING, /* it took one, but the sensors gave no reading */
    WL_SUMMARY_BASELINE_NONE_SAVED, /* unfinished and no baseline samples saved: whether one
                                       was taken is not known (measure writes its samples at
                                       the end; run about every second) */
    /* some of the headline energy's domains have a baseline, others
     * (wl_summary.baseline_missing) none: a partial sum would pass for the whole */
    WL_SUMMARY_BASELINE_INCOMPLETE_DOMAINS,
};

/* "stored", "baseline_samples", "not_taken", "cut_short",
 * "only_baseline_saved", "not_saved", "no_reading", "none_saved",
 * "incomplete_domains" (JSON totals.baseline_status). */
const char *wl_summary_baseline_key(enum wl_summary_baseline b);

struct wl_summary {
    double energy_j, duration_ms, avg_power_w; /* headline */
    /* the peak of the headline's domain (headline_mask); of a headline of
     * several (package+dram, + GPU), whose sum has no peak kept, the
     * highest of their peaks (at most the sum's); time from the run's start */
    double peak_power_w, peak_t_ms;
    int peak_domain;            /* that domain (enum wl_domain), -1 when the headline has none
                                   in the domain table: when the headline covers more, its
                                   peak is this part's only */
    long long sensors_not_read; /* zones, devices or GPUs found but not read when the run
                                   was recorded (provenance "sensors_not_read"; 0 when
                                   absent): a figure that should include them is low */
    /* the sensors the run was recorded with and their sources (provenance
     * "sensors", as `run` and `measure` write it; "" when absent: older
     * runs): for the CPU-time model, its watts and whose CPU time it counts */
    char sensors[512];
    double power_window_ms; /* how long that domain's sample powers average over (NAN:
                               unknown, or read powers); a run needs to last about one
                               window to have a peak (runs recorded before peaks took
                               spans: about two) */
    struct wl_summary_cost cost;
    bool energy_from_phases;                   /* run total missing: sum of phases */
    /* sections saved without energy (a failed sensor read), counted from the
     * rows: an unfinished run with any has no energy (NaN), since the sum
     * of the others would pass for its total (as `runs`) */
    int64_t sections_no_energy;
    /* the run never finished (running, incomplete): it has no totals, and
     * every figure covers only what it saved (as wl_run_row.partial) */
    bool partial;
    /* how energy_j was obtained: the run's own method, or with
     * energy_from_phases the weakest method behind its phases' sections
     * (counter < sampled < vendor estimate < model estimate) */
    enum wl_method energy_method;
    bool has_energy_method;
    /* what the attributed figures (input tokens, layers, components, ops, a
     * batch's sequences) are shares of, that figure's method: energy_method,
     * else (the run's energy is unknown) the weakest method behind its
     * sections, as the export's rows say it (JSON energy_base_method next
     * to energy_method "attributed"): a time share of the CPU-time model's
     * estimate is an estimate too */
    enum wl_method base_method;
    bool has_base_method;
    /* a finished run that recorded nothing (stopped during its set-up or
     * idle baseline: no section outside the baseline, no token): the zeros
     * its writer stored are no figures, so energy, duration and the
     * domains' energies are unknown (`runs` applies the same rule) */
    bool nothing_recorded;
    /* phase sum / run total; NaN when a section has no energy */
    double covered_energy_pct;
    /* run level: the idle power of exactly the headline energy's domains
     * (energy_scope), the sum of their baselines; docs/internals/store.md */
    double baseline_power_w, dynamic_energy_j;
    enum wl_summary_baseline baseline; /* where baseline_power_w comes from */
    uint32_t baseline_missing;         /* INCOMPLETE_DOMAINS: the headline's domains (bit d)
                                          without a baseline; 0 otherwise */
    /* the domains (bit d) the headline energy covers: the run's
     * energy_scope, else its provenance's (an unfinished run: the column is
     * written when it finishes), else wl_headline_domains of its domain
     * table; docs/internals/profile.md */
    uint32_t headline_mask;
    /* domain d's method, when bit d of method_known is set: from the domain
     * table (a method the store could not read is not known), else (an unfinished run: its table is
     * written at the end) from the provenance's domains[] */
    uint32_t method_known;
    enum wl_method domain_method[WL_DOMAIN_COUNT];
    struct wl_summary_phase *phases;
    size_t n_phases;
    struct wl_summary_layer *layers;
    size_t n_layers;
    struct wl_summary_component *components; /* averages per component name */
    size_t n_components;
    struct wl_summary_component hottest[WL_SUMMARY_HOTTEST]; /* (layer, component) by energy */
    size_t n_hottest;
    struct wl_summary_component slowest[WL_SUMMARY_HOTTEST]; /* (layer, component) by time */
    size_t n_slowest;
    struct wl_summary_domain domains[WL_DOMAIN_COUNT];
    size_t n_domains;
    struct wl_summary_efficiency eff;
    struct wl_summary_batch batch;
    struct wl_summary_command command;
    struct wl_summary_gaps gaps;
    struct wl_summary_resolution resolution;
    struct wl_summary_energy_unknown energy_unknown;
    /* power samples the sampler overwrote before they were stored
     * (runs.extra "samples_lost", written by the inference recorder; 0:
     * none): the samples table, and the peak taken from them, miss them;
     * the energies (counters read at marks) do not */
    int64_t samples_lost;
    /* runs.extra, parsed once for every figure above that reads it (cost,
     * command, batch, gaps, energy unknown, samples lost) and for the JSON;
     * owned, freed by wl_summary_free. NULL when the run stored none, or
     * when what it stored does not parse as a JSON object: extra_unreadable
     * then, and those figures are their defaults (the default price and
     * intensity, no sequences, gaps not known), which `show` says */
    json_t *extra;
    bool extra_unreadable;
};

/* Internal to summary.c: fills s->resolution and the phases' marks from
 * the domains' power windows (power_window_ms[d], NaN when unknown), once
 * the phases, efficiency and domains are computed. */
void wl__summary_resolution(const struct wl_store_aggregates *a,
                            const double power_window_ms[WL_DOMAIN_COUNT], struct wl_summary *s);
/* The resolution as JSON (totals.resolution; new reference). */
json_t *wl__summary_resolution_json(const struct wl_summary *s);

/* Computes the summary of a run from its aggregates. Returns 0 or WL_ENOMEM. */
int wl_summary_compute(const struct wl_store_aggregates *a, struct wl_summary *out);
void wl_summary_free(struct wl_summary *s);

/* The summary as JSON (new reference; NULL on allocation failure). Unknown
 * figures are null. Includes the run's identity from a. */
json_t *wl_summary_to_json(const struct wl_store_aggregates *a, const struct wl_summary *s);

#endif

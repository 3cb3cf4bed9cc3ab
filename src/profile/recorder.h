/* The inference recorder: attaches to the engine's hooks (engine/hooks.h)
 * and to a running sampler, and turns one generation into the store's
 * hierarchy: sections (leaves of the phases) with exact counter windows,
 * input and output tokens, and per slot (one forward pass) layer, component
 * and op durations with energy attributed by time share, activation and
 * attention statistics. See docs/internals/profile.md for what is measured
 * and what is attributed.
 *
 * Memory: every buffer is allocated by wl_recorder_create() for the run's
 * maximum size; the hook callback never allocates, never locks (other than
 * the sampler's energy mark at section ends) and never writes to the store.
 * A writer thread (started by wl_recorder_start) streams published records,
 * power samples and their aggregates into the store every interval_ms.
 *
 * Sensors: the recorder opens the sensor set and the power sampler itself,
 * so its callers need no sampler/sampler.h.
 *
 * Threads: the hook runs on the engine thread; create/start/stop/finish on
 * one controlling thread (the same one, before and after the generation).
 */
#ifndef WL_PROFILE_RECORDER_H
#define WL_PROFILE_RECORDER_H

#include "engine/hooks.h"
#include "sensors/sensor.h"
#include "store/store.h"
#include "util/errmsg.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wl_recorder wl_recorder;

enum wl_profile_depth {
    WL_PROFILE_OFF = 0, /* phases, sections, tokens */
    WL_PROFILE_MODULE,  /* + layers and components */
    WL_PROFILE_DEEP,    /* + ops inside components */
};
const char *wl_profile_depth_name(enum wl_profile_depth d); /* "off", "module", "deep" */
int wl_profile_depth_parse(const char *s, enum wl_profile_depth *out); /* 0 or WL_EINVAL */

/* Sampler phase tags: the engine's enum wl_phase values, plus these. */
enum {
    WL_PROFILE_TAG_SETTLE = 16,   /* waiting after model load */
    WL_PROFILE_TAG_BASELINE = 17, /* idle baseline */
    WL_PROFILE_TAG_DONE = 18,     /* after the generation */
    WL_PROFILE_TAG_SETUP = 19,    /* from the recorder's creation to the settle */
};
const char *wl_profile_tag_name(uint32_t tag); /* "prefill", "baseline", ...; "?" */

struct wl_recorder_params {
    enum wl_profile_depth depth;
    bool activations;          /* activation statistics (and, in deep mode, attention stats) */
    float zero_threshold;      /* |x| below it counts as zero: sparsity, kill ratio (1e-3) */
    float attn_zero_threshold; /* attention weight below it counts as sparse (1e-3) */
    int32_t n_layer, n_head;   /* the model's shape */
    int32_t max_input_tokens;  /* upper bound of prompt tokens, all sequences together
                                  (n_seq x the context size) */
    int32_t max_output_tokens; /* upper bound of decode rounds (tokens per sequence) */
    int32_t n_ubatch;          /* the context's prompt batch size */
    int32_t n_seq;             /* sequences generated together (wl_generate_batch); 1 */
    size_t max_text_bytes;     /* an output token's text is stored whole up to this many
                                  bytes (give wl_tok_decoder_out_max: every piece fits); a
                                  longer one is cut where a UTF-8 character begins. 0 = 256;
                                  at most 1 MiB */
    const struct wl_sensor_params *sensors; /* NULL: defaults, with the CPU-time model
                                               following this process */
    uint64_t sample_interval_ns;            /* power sampling; 0 = the sampler's default */
    size_t sample_ring_capacity;            /* samples the sampler holds until the recorder stores
                                               them; 0 = the sampler's default (WL_SAMPLER_DEFAULT_RING: 82 s
                                               at 10 ms) */
    wl_store_run *run;         /* optional; borrowed until wl_recorder_finish */
    int interval_ms;           /* writer thread period (default 50) */
};

void wl_recorder_default_params(struct wl_recorder_params *p);

/* Opens the sensors, starts the power sampler, allocates everything and
 * takes the origin mark (time 0 of the run's times). WL_EINVAL / WL_ENOMEM /
 * WL_ENOTSUP (no sensor at all) / a sampler error, with a message. */
int wl_recorder_create(const struct wl_recorder_params *p, wl_recorder **out,
                       struct wl_errmsg *err);
void wl_recorder_free(wl_recorder *r); /* stops the writer if needed; accepts NULL */

/* Attaches the store run the recorder writes into (before wl_recorder_start). */
void wl_recorder_set_run(wl_recorder *r, wl_store_run *run);

/* True when every energy figure is the CPU-time model's estimate. */
bool wl_recorder_model_only(const wl_recorder *r);

/* The hooks to attach to the context (wl_context_set_hooks). */
struct wl_hooks wl_recorder_hooks(wl_recorder *r);

/* Settle (sampler tag "settle") for settle_ns, then measure the idle baseline
 * for baseline_ns (tag "baseline"); either may be 0. Blocks, until done or
 * until *cancel (may be NULL) becomes non-zero: then it returns
 * WL_ECANCELED at once, with no baseline kept. Stores the samples as they
 * come (the writer thread starts with the generation), so a wait longer than
 * the sampler's ring keeps them all. Before wl_recorder_start only
 * (WL_ESTATE after it: the writer thread stores the samples then). */
int wl_recorder_baseline(wl_recorder *r, uint64_t settle_ns, uint64_t baseline_ns,
                         const volatile sig_atomic_t *cancel);

/* Starts the writer thread and takes the generation's start mark: the first
 * section begins here. Call right before wl_generate. WL_ENOMEM when the
 * thread cannot be created: nothing is recorded then (the hook ignores the
 * events), a later call may try again, and wl_recorder_finish stores the
 * run as failed. err (may be NULL) gets the reason, with the system's
 * error text; finish stores that same reason unless given one. WL_ESTATE
 * when already started. */
int wl_recorder_start(wl_recorder *r, struct wl_errmsg *err);

/* Stops the writer thread after it has written every published record and
 * drained the sampler, and closes the peaks at the last mark. Idempotent. */
void wl_recorder_stop(wl_recorder *r);

/* Figures of the generation window (start mark .. last section end).
 *
 * A mark has no reading of a domain whose sensor read failed at that
 * moment. An energy between two marks is then unknown (NaN, stored NULL)
 * when either lacks one of the domains it covers: never a partial sum and
 * never a 0 J that reads as measured. So energy_j is NaN when the start or
 * the last mark lacks a headline domain (unread_start, unread_end), and the
 * sums below are over the known energies only, the count of the unknown
 * ones beside them. */
struct wl_recorder_totals {
    double duration_ms;
    double energy_j;           /* headline: the domains in energy_scope; NaN: unknown */
    enum wl_method method;     /* weakest method among them */
    char energy_scope[64];     /* "package+dram", "psys", "total", ... */
    uint16_t domain_mask;      /* domains read at both the start and the last mark */
    double domain_energy_j[WL_DOMAIN_COUNT];
    uint16_t unread_start, unread_end; /* present domains without a reading at that mark */
    double sections_energy_j;      /* sum over stored sections (equals energy_j: sections tile) */
    double input_tokens_energy_j;  /* sum over input tokens (= prefill) */
    double output_tokens_energy_j; /* sum over output tokens (= decode) */
    double prefill_energy_j, decode_energy_j;
    int64_t n_sections_unknown;   /* sections stored without energy */
    int64_t n_token_rows_unknown; /* token rows (input and output) stored without energy
                                     because a sensor read failed at a mark */
    /* domains whose counter was stuck over the whole run (not measuring:
     * wl_sampler_stuck_over; not in domain_mask, energy_j NaN when one is
     * the headline's), those stuck over any row, and the rows stored
     * without energy for it */
    uint16_t stuck_mask, rows_stuck_mask;
    int64_t n_sections_stuck, n_token_rows_stuck;
    int64_t n_input_tokens;  /* prompt tokens of all sequences */
    int64_t n_output_tokens; /* generated tokens of all sequences (sum over rounds) */
    int64_t n_rounds;        /* output rows: decode rounds (= n_output_tokens for one sequence) */
    int64_t n_failed_steps;  /* decode steps that produced no token (a failed forward pass or
                                logits check): their sections are stored, no token row */
    int64_t n_sections;
    uint64_t n_dropped;        /* records beyond the preallocated capacity (0 normally) */
    int store_error;           /* first store error of the writer (0 = none) */
    char store_error_text[256];
};
void wl_recorder_get_totals(wl_recorder *r, struct wl_recorder_totals *out);

/* Per-sequence energy of a batched generation (wl_generate_batch), after
 * wl_recorder_stop; attributed, not measured. Sequence i's prompt is input
 * tokens [n_prompt[0] + .. + n_prompt[i-1], + n_prompt[i]) (the batch's
 * prefill evaluates the prompts in sequence order) and each input token
 * holds an equal share of its prompt batch, as stored; sequence i ran in
 * decode rounds 0 .. n_generated[i] - 1, and a round's measured energy is
 * split equally among the sequences that ran in it. Writes prefill_j[i] and
 * decode_j[i] (n_seq each); they sum to the stored input and output tokens'
 * energies. A prefill cut short (cancelled between its forward batches: no
 * token generated, no round recorded) recorded fewer input tokens than the
 * prompts hold: they are the first ones in that order (totals'
 * n_input_tokens), and a sequence's prefill_j covers its prompt tokens
 * among them (0 for a prompt never reached). n_evaluated (may be NULL; n_seq
 * entries) gets each sequence's prompt tokens among them: n_prompt[i]
 * unless the prefill was cut. WL_EINVAL: the counts do not match what was
 * recorded (input tokens, other than such a cut, or a round's sequence
 * count against the sequences with n_generated above it; also when records
 * were dropped). */
int wl_recorder_sequence_energy(wl_recorder *r, int32_t n_seq, const int32_t *n_prompt,
                                const int32_t *n_generated, double *prefill_j, double *decode_j,
                                int32_t *n_evaluated);

/* Provenance of the energy figures as a JSON object text (heap; caller
 * frees): sources, scope, method per domain, resolution, sampler rate. */
char *wl_recorder_provenance_json(wl_recorder *r);

struct wl_recorder_finish {
    enum wl_run_status status; /* complete, cancelled or failed */
    const char *response;      /* generated text */
    const char *error;         /* failed runs */
    int64_t kv_cache_bytes;
};

/* Stops the writer, writes the totals, the per-domain figures (energy,
 * average, baseline and peak power: the peak of the generation's window by
 * wl_window_peak's rule, streamed, so never below the average) and the
 * final status, and finishes the store run (which the recorder then no
 * longer holds). Every present domain gets its row: one without a reading
 * at the start or the last mark has no energy and average (NULL), and its
 * peak, when the last mark lacks it, is over the window up to the last
 * sample that read it. When an energy is unknown, runs.extra
 * "energy_unknown" says why: {"start": [domains], "end": [domains],
 * "sections": n, "token_rows": n} (the domains without a reading at those
 * marks; the rows stored without energy), and when a counter was not
 * measuring (stuck: its gap is stored too) "not_measuring": [domains stuck
 * the whole run, which have no energy, average or peak],
 * "not_measuring_rows": [domains stuck over some row],
 * "not_measuring_sections": n, "not_measuring_token_rows": n (rows
 * without energy for it). Samples the sampler overwrote
 * before they were stored are counted in runs.extra "samples_lost" (only
 * when there are some). A recorder never started (or whose start failed)
 * recorded nothing: its run is stored as failed, with f->error or the
 * reason, whatever f->status says. Returns 0 or the store's error. */
int wl_recorder_finish(wl_recorder *r, const struct wl_recorder_finish *f);

#endif

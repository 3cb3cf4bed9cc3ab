/* The inference recorder's lifecycle; see recorder.h and
 * docs/internals/profile.md. Create (every record preallocated for the
 * run's maximum size), baseline, start and stop the writer thread, the
 * totals, the per-sequence energies, provenance and finish; controlling
 * thread only. The engine side (hook callback) is in recorder_hooks.c, the
 * writer thread and the window energies in recorder_writer.c, the shared
 * state in recorder_impl.h.
 */
#include "profile/recorder_impl.h"

#include "profile/headline.h"
#include "profile/run_gaps.h"
#include "sampler/sampler.h"
#include "util/clock.h"
#include "util/json_text.h"
#include "util/signals.h"
#include "wattlens/error.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- names --------------------------------------------------------------------- */

const char *wl_profile_depth_name(enum wl_profile_depth d)
{
    switch (d) {
    case WL_PROFILE_OFF:
        return "off";
    case WL_PROFILE_MODULE:
        return "module";
    case WL_PROFILE_DEEP:
        return "deep";
    }
    return "?";
}

int wl_profile_depth_parse(const char *s, enum wl_profile_depth *out)
{
    static const enum wl_profile_depth all[] = {WL_PROFILE_OFF, WL_PROFILE_MODULE, WL_PROFILE_DEEP};
    for (size_t i = 0; i < 3; i++) {
        if (s && strcmp(s, wl_profile_depth_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return WL_EINVAL;
}

const char *wl_profile_tag_name(uint32_t tag)
{
    if (tag < WL_PHASE_COUNT)
        return wl_phase_name((enum wl_phase)tag);
    switch (tag) {
    case WL_PROFILE_TAG_SETTLE:
        return "settle";
    case WL_PROFILE_TAG_BASELINE:
        return "baseline";
    case WL_PROFILE_TAG_DONE:
        return "done";
    case WL_PROFILE_TAG_SETUP:
        return "setup";
    }
    return "?";
}

void wl_recorder_default_params(struct wl_recorder_params *p)
{
    memset(p, 0, sizeof *p);
    p->depth = WL_PROFILE_MODULE;
    p->zero_threshold = 1e-3f;
    p->attn_zero_threshold = 1e-3f;
    p->n_ubatch = 64;
    p->n_seq = 1;
    p->interval_ms = 50;
}

/* ---- headline energy ------------------------------------------------------------- */

static void choose_headline(struct wl_recorder *r)
{
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        r->dom[d] = *wl_sampler_domain(r->smp, (enum wl_domain)d);
    wl_headline_choose(r->dom, &r->headline_mask, &r->headline_method, r->scope, sizeof r->scope);
}

/* The domains' power windows and peak spans as the sampler knows them now
 * (the rest of r->dom, the headline's choice included, stays as at open). */
static void refresh_windows(struct wl_recorder *r)
{
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        struct wl_domain_info now;
        if (!r->dom[d].present || wl_sampler_domain_now(r->smp, (enum wl_domain)d, &now) != 0)
            continue;
        r->dom[d].power_window_ns = now.power_window_ns;
        r->dom[d].peak_span_ns = now.peak_span_ns;
    }
}

/* ---- create / free ------------------------------------------------------------------ */

int wl_recorder_create(const struct wl_recorder_params *p, wl_recorder **out,
                       struct wl_errmsg *err)
{
    *out = NULL;
    if (p->n_layer <= 0 || p->n_head <= 0 || p->max_input_tokens <= 0 ||
        p->max_output_tokens <= 0 || p->n_ubatch <= 0 || p->n_seq < 0 || p->n_seq > 4096)
        return wl_errmsg_set(err, WL_EINVAL,
                             "bad recorder shape: %d layers, %d heads, %d input and %d output "
                             "tokens, batch %d, %d sequences",
                             p->n_layer, p->n_head, p->max_input_tokens, p->max_output_tokens,
                             p->n_ubatch, p->n_seq);
    if (p->max_text_bytes > TEXT_MAX_LIMIT)
        return wl_errmsg_set(err, WL_EINVAL, "%zu bytes of token text is more than %d",
                             p->max_text_bytes, TEXT_MAX_LIMIT);
    struct wl_recorder *r = calloc(1, sizeof *r);
    if (!r)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    r->p = *p;
    if (r->p.interval_ms <= 0)
        r->p.interval_ms = 50;
    if (r->p.n_seq < 1)
        r->p.n_seq = 1;
    r->run = p->run;
    struct wl_sensor_params sp;
    if (p->sensors) {
        sp = *p->sensors;
    } else {
        wl_sensor_params_default(&sp);
        /* the engine runs in this process and starts no children: the
         * process clock is the same CPU time as a /proc walk, far cheaper */
        sp.model.scope = WL_MODEL_SCOPE_SELF;
        sp.model.pid = 0;
    }
    int rc = wl_sensor_set_open(&sp, &r->set);
    if (rc != 0) {
        wl_recorder_free(r);
        return wl_errmsg_set(err, rc, "cannot open the sensors: %s", wl_strerror(rc));
    }
    if (wl_sensor_set_count(r->set) == 0) {
        wl_recorder_free(r);
        return wl_errmsg_set(err, WL_ENOTSUP,
                             "no energy sensor and no CPU-time model could be opened (see "
                             "'wattlens sensors')");
    }
    struct wl_sampler_params smpp;
    wl_sampler_params_default(&smpp);
    if (p->sample_interval_ns)
        smpp.interval_ns = p->sample_interval_ns;
    smpp.ring_capacity = p->sample_ring_capacity;
    rc = wl_sampler_open(r->set, &smpp, &r->smp);
    if (rc != 0) {
        wl_recorder_free(r);
        return wl_errmsg_set(err, rc, "cannot open the power sampler: %s", wl_strerror(rc));
    }
    r->cur_out = -1;
    r->cur_phase = -1;
    snprintf(r->start_err, sizeof r->start_err, "the recording never started");
    const size_t n_batches = ((size_t)p->max_input_tokens + (size_t)p->n_ubatch - 1) /
                             (size_t)p->n_ubatch;
    r->cap_slots = n_batches + (size_t)p->max_output_tokens + 1;
    /* pre 3 + post 3 + prefill batches x 4 + rounds x (forward 4 + sampling
     * and detokenize per sequence), and a margin */
    r->cap_secs = 16 + n_batches * 4 +
                  (size_t)p->max_output_tokens * (4 + 2 * (size_t)r->p.n_seq);
    const size_t nl = (size_t)p->n_layer, ns = r->cap_slots;
    r->secs = calloc(r->cap_secs, sizeof *r->secs);
    r->slots = calloc(ns, sizeof *r->slots);
    r->text_cap = p->max_text_bytes ? p->max_text_bytes : TEXT_MAX_DEFAULT;
    r->texts = calloc(ns, r->text_cap + 1);
    r->sbuf = calloc(SAMPLE_BATCH, sizeof *r->sbuf);
    r->ssbuf = calloc(SAMPLE_BATCH, sizeof *r->ssbuf);
    r->held = calloc(HELD_CAP, sizeof *r->held);
    bool ok = r->secs && r->slots && r->texts && r->sbuf && r->ssbuf && r->held;
    for (size_t i = 0; ok && i < ns; i++)
        r->slots[i].text = r->texts + i * (r->text_cap + 1);
    if (ok && p->depth >= WL_PROFILE_MODULE) {
        r->layer_dur = calloc(ns * nl, sizeof *r->layer_dur);
        r->layer_t0 = calloc(nl, sizeof *r->layer_t0);
        r->comps = calloc(ns * nl * WL_COMP_COUNT, sizeof *r->comps);
        ok = r->layer_dur && r->layer_t0 && r->comps;
    }
    if (ok && p->depth >= WL_PROFILE_DEEP) {
        r->ops = calloc(ns * nl * OPS_PER_LAYER, sizeof *r->ops);
        ok = r->ops != NULL;
        if (ok && p->activations) {
            r->heads = calloc(ns * nl * 3 * (size_t)p->n_head, sizeof *r->heads);
            r->heads_n = calloc(ns * nl, sizeof *r->heads_n);
            ok = r->heads && r->heads_n;
        }
    }
    if (!ok) {
        wl_recorder_free(r);
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory for the recorder's buffers");
    }
    choose_headline(r);
    /* the origin before the thread's first sample: no sample comes before
     * it (with a negative time and energy) */
    wl_sampler_mark_settled(r->smp, &r->origin);
    r->start = r->last = r->origin;
    wl_sampler_set_phase(r->smp, WL_PROFILE_TAG_SETUP); /* the default tag 0 is pre_inference */
    if ((rc = wl_sampler_start(r->smp)) != 0) {
        wl_recorder_free(r);
        return wl_errmsg_set(err, rc, "cannot start the power sampler: %s", wl_strerror(rc));
    }
    *out = r;
    return 0;
}

void wl_recorder_free(wl_recorder *r)
{
    if (!r)
        return;
    wl_recorder_stop(r);
    free(r->secs);
    free(r->slots);
    free(r->texts);
    free(r->sbuf);
    free(r->ssbuf);
    free(r->held);
    free(r->layer_dur);
    free(r->layer_t0);
    free(r->comps);
    free(r->ops);
    free(r->heads);
    free(r->heads_n);
    wl_sampler_close(r->smp);
    wl_sensor_set_close(r->set);
    free(r);
}

void wl_recorder_set_run(wl_recorder *r, wl_store_run *run)
{
    r->run = run;
}

bool wl_recorder_model_only(const wl_recorder *r)
{
    return wl_sampler_model_only(r->smp);
}

/* Stores the samples so far, on the controlling thread before the writer
 * thread exists (settle and baseline: no generation sample among them). */
static void drain_before_start(void *ud)
{
    struct wl_recorder *r = ud;
    wl__recorder_write_samples(r, r->start.t_ns);
}

int wl_recorder_baseline(wl_recorder *r, uint64_t settle_ns, uint64_t baseline_ns,
                         const volatile sig_atomic_t *cancel)
{
    if (r->thread_running)
        return WL_ESTATE;
    /* drained every quarter of what the ring holds (at most every second):
     * the writer thread starts with the generation, and a settle and
     * baseline longer than the ring (82 s at the defaults) overwrote their
     * first samples */
    struct wl_sampler_stats st;
    wl_sampler_stats(r->smp, &st);
    const size_t cap =
        r->p.sample_ring_capacity ? r->p.sample_ring_capacity : WL_SAMPLER_DEFAULT_RING;
    uint64_t slice_ns = st.interval_ns * (uint64_t)cap / 4;
    if (slice_ns == 0 || slice_ns > 1000000000ull)
        slice_ns = 1000000000ull;
    if (settle_ns) {
        wl_sampler_set_phase(r->smp, WL_PROFILE_TAG_SETTLE);
        const uint64_t t_end = wl_clock_now_ns() + settle_ns;
        for (uint64_t now = wl_clock_now_ns(); now < t_end; now = wl_clock_now_ns()) {
            if (!wl_clock_sleep_cancellable_ns(t_end - now < slice_ns ? t_end - now : slice_ns,
                                               cancel))
                return WL_ECANCELED;
            drain_before_start(r);
        }
    }
    int rc = 0;
    if (baseline_ns) {
        struct wl_baseline b;
        wl_sampler_set_phase(r->smp, WL_PROFILE_TAG_BASELINE);
        rc = wl_sampler_baseline_each(r->smp, baseline_ns, cancel, slice_ns, drain_before_start, r,
                                      &b);
    }
    return rc;
}

int wl_recorder_start(wl_recorder *r, struct wl_errmsg *err)
{
    if (r->started)
        return wl_errmsg_set(err, WL_ESTATE, "the recording has already started");
    /* the first section begins at this mark: its samples are the generation's */
    wl_sampler_set_phase(r->smp, WL_PHASE_PRE_INFERENCE);
    /* settled: the CPU model re-lists the threads, the context's pool
     * included (the sampler thread does so at every tick after this) */
    wl_sampler_mark_settled(r->smp, &r->start);
    r->last = r->start;
    r->started = true;
    /* peaks over start .. last, in spans of about one power window: as the
     * sampler knows them now (a slow counter's window is learned while it
     * samples, the settle and baseline included); one still unknown makes
     * the generation one span */
    refresh_windows(r);
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        wl_span_peak_begin(&r->span[d], &r->start, (enum wl_domain)d, r->dom[d].peak_span_ns);
    r->held_head = r->held_n = 0;
    atomic_store(&r->stop, 0);
    const int e = wl_signals_thread_create(&r->thread, NULL, wl__recorder_writer_main, r);
    if (e != 0) {
        /* no writer, no recording: the hook stays off (nothing would be
         * stored), a later start may try again, and a finish stores the
         * run as failed with this reason, never as complete with nothing */
        r->started = false;
        r->recorded = false;
        snprintf(r->start_err, sizeof r->start_err, "cannot start the recorder's writer thread: %s",
                 strerror(e));
        wl_sampler_set_phase(r->smp, WL_PROFILE_TAG_DONE);
        return wl_errmsg_set(err, WL_ENOMEM, "%s", r->start_err);
    }
    r->thread_running = true;
    r->recorded = true;
    return 0;
}

void wl_recorder_stop(wl_recorder *r)
{
    if (!r->thread_running)
        return;
    wl_sampler_set_phase(r->smp, WL_PROFILE_TAG_DONE); /* before the join: no phase after it */
    atomic_store(&r->stop, 1);
    pthread_join(r->thread, NULL);
    r->thread_running = false;
    r->started = false;
    wl__recorder_write_published(r, true);
    /* the generation's window is known now: what is held before its end
     * counts, the rest came after it */
    wl__recorder_held_add_before(r, r->last.t_ns);
    r->held_n = 0;
    /* a domain the last mark lacks (its read failed) peaks up to its last
     * reading (wl_span_peak_end) */
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        wl_span_peak_end(&r->span[d], &r->last, &r->peak[d]);
}

void wl_recorder_get_totals(wl_recorder *r, struct wl_recorder_totals *out)
{
    memset(out, 0, sizeof *out);
    out->duration_ms = ((double)r->last.t_ns - (double)r->start.t_ns) / 1e6;
    /* a domain whose counter was stuck over the whole run has no total */
    struct wl_energy_mark start, last;
    out->stuck_mask = wl__recorder_usable_marks(r, &r->start, &r->last, &start, &last);
    out->energy_j = wl__recorder_headline_j(r, &start, &last);
    out->method = r->headline_method;
    snprintf(out->energy_scope, sizeof out->energy_scope, "%s", r->scope);
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        const uint16_t bit = (uint16_t)(1u << d);
        if ((start.valid_mask & bit) && (last.valid_mask & bit)) {
            out->domain_mask |= bit;
            out->domain_energy_j[d] = wl__recorder_mark_delta_j(&start, &last, (enum wl_domain)d);
        }
        if (r->dom[d].present) {
            out->unread_start |= (uint16_t)(r->start.valid_mask & bit ? 0 : bit);
            out->unread_end |= (uint16_t)(r->last.valid_mask & bit ? 0 : bit);
        }
    }
    out->sections_energy_j = r->sum_sections_j;
    out->input_tokens_energy_j = r->sum_in_j;
    out->output_tokens_energy_j = r->sum_out_j;
    out->prefill_energy_j = r->prefill_j;
    out->decode_energy_j = r->decode_j;
    out->n_sections_unknown = r->n_secs_unknown;
    out->n_token_rows_unknown = r->n_rows_unknown;
    out->n_sections_stuck = r->n_secs_stuck;
    out->n_token_rows_stuck = r->n_rows_stuck;
    out->rows_stuck_mask = r->stuck_mask;
    out->n_input_tokens = r->n_in_rows;
    out->n_output_tokens = r->n_out_tokens;
    out->n_rounds = r->n_out_rows;
    out->n_failed_steps = r->n_failed_steps;
    out->n_sections = (int64_t)r->w_secs;
    out->n_dropped = r->dropped;
    out->store_error = r->store_err;
    snprintf(out->store_error_text, sizeof out->store_error_text, "%s", r->store_err_text);
}

int wl_recorder_sequence_energy(wl_recorder *r, int32_t n_seq, const int32_t *n_prompt,
                                const int32_t *n_generated, double *prefill_j, double *decode_j,
                                int32_t *n_evaluated)
{
    if (n_seq < 1 || r->dropped || r->thread_running)
        return WL_EINVAL;
    int64_t n_in = 0;
    int32_t seq = 0, max_gen = 0, n_rounds = 0;
    for (int32_t i = 0; i < n_seq; i++) {
        if (n_prompt[i] < 0 || n_generated[i] < 0)
            return WL_EINVAL;
        n_in += n_prompt[i];
        prefill_j[i] = decode_j[i] = 0;
        if (n_evaluated)
            n_evaluated[i] = 0;
        max_gen = n_generated[i] > max_gen ? n_generated[i] : max_gen;
    }
    /* fewer input tokens recorded than the prompts hold: a prefill cut
     * short by a cancel between its forward batches, with no token
     * generated; what was evaluated is the first ones in evaluation order,
     * and only those have energy. (A round recorded all the same fails
     * below: it has n_tok >= 1 sequences and none here has a token.) */
    if (n_in < r->n_input || (n_in > r->n_input && max_gen > 0))
        return WL_EINVAL;
    int64_t seq_end = n_prompt[0]; /* first input token after sequence seq's prompt */
    for (size_t k = 0; k < r->n_slots; k++) {
        const struct slot *s = &r->slots[k];
        if (s->failed)
            continue; /* no token: no sequence's round */
        struct wl_energy_mark b0, b1;
        wl__recorder_usable_marks(r, &s->begin, &s->end, &b0, &b1);
        const double e = wl__recorder_headline_j(r, &b0, &b1);
        if (s->kind == SLOT_PREFILL) {
            for (int64_t t = s->pos; t < (int64_t)s->pos + s->n_tok; t++) {
                while (t >= seq_end && seq + 1 < n_seq)
                    seq_end += n_prompt[++seq];
                prefill_j[seq] += e / s->n_tok;
                if (n_evaluated)
                    n_evaluated[seq]++;
            }
            continue;
        }
        int32_t members = 0;
        n_rounds++;
        for (int32_t i = 0; i < n_seq; i++)
            members += n_generated[i] > s->out_index;
        if (members != s->n_tok)
            return WL_EINVAL;
        for (int32_t i = 0; i < n_seq; i++)
            if (n_generated[i] > s->out_index)
                decode_j[i] += e / members;
    }
    return n_rounds == max_gen ? 0 : WL_EINVAL;
}

/* How a token's energy was found, for the provenance, into buf: the
 * headline's energy between the boundaries (of tokens, or of decode rounds
 * when sequences run together) as its method has it; an input token's is
 * an equal share of its prompt batch's (one forward pass). */
static const char *token_energy_text(const wl_recorder *r, char *buf, size_t size)
{
    const char *what = "energy between";
    switch (r->headline_method) {
    case WL_METHOD_COUNTER:
        what = "counter delta at";
        break;
    case WL_METHOD_SAMPLED:
        what = "sampled power integrated between";
        break;
    case WL_METHOD_VENDOR_ESTIMATE:
        what = "vendor estimate between";
        break;
    case WL_METHOD_MODEL_ESTIMATE:
        what = "model estimate: CPU time at";
        break;
    default:
        break;
    }
    snprintf(buf, size, "%s %s; an input token is an equal share of its prompt batch's", what,
             r->p.n_seq > 1 ? "decode round boundaries (a round is one token of each running "
                              "sequence)"
                            : "token boundaries");
    return buf;
}

char *wl_recorder_provenance_json(wl_recorder *r)
{
    struct wl_sampler_stats st;
    wl_sampler_stats(r->smp, &st);
    json_t *j = json_object();
    json_object_set_new(j, "energy_scope", json_string(r->scope));
    json_object_set_new(j, "energy_method", json_string(wl_method_key(r->headline_method)));
    json_object_set_new(j, "model_only", json_boolean(wl_sampler_model_only(r->smp)));
    char te[192];
    json_object_set_new(j, "token_energy", json_string(token_energy_text(r, te, sizeof te)));
    json_object_set_new(j, "layer_component_op_energy", json_string("attributed by time share"));
    if (r->p.n_seq > 1)
        json_object_set_new(j, "sequence_energy",
                            json_string("attributed: a round's energy split equally among its "
                                        "sequences, a prompt batch's equally among its tokens"));
    json_object_set_new(j, "sample_interval_ms", json_real((double)st.interval_ns / 1e6));
    /* as measure names them (wl_sensor_set_describe). The CPU-time model's
     * source gives its watts and whose CPU time it counts (this process's,
     * for the recorder's default scope SELF). Sources name sysfs paths and
     * labels: any bytes */
    char sensors[WL_SENSOR_SET_DESCRIBE_SIZE];
    wl_sensor_set_describe(r->set, sensors, sizeof sensors);
    wl_json_set_text(j, "sensors", sensors);
    /* zones, devices or GPUs the sensors found but did not read (over a
     * limit, unreadable): a figure that should include them is low */
    json_object_set_new(j, "sensors_not_read", json_integer(wl_sensor_set_n_not_read(r->set)));
    json_object_set_new(j, "domains", wl_headline_domains_json(r->dom, r->headline_mask));
    char *s = json_dumps(j, JSON_COMPACT | WL_JSON_REAL_FLAGS); /* stored text: 15 digits */
    json_decref(j);
    return s;
}

/* A domain's sources go to the store whole; summaries keep up to
 * WL_STORE_SOURCE_SIZE bytes of them (measure_store.c writes the same). */
_Static_assert(sizeof((struct wl_domain_info *)0)->sources <= WL_STORE_SOURCE_SIZE,
               "a summary must hold every source the sampler names");

/* Samples the sampler overwrote before the recorder stored them (0
 * normally: the ring holds sample_ring_capacity samples and is drained
 * every interval_ms, and during the settle and the baseline). */
static uint64_t samples_lost(wl_recorder *r)
{
    struct wl_sampler_stats st;
    wl_sampler_stats(r->smp, &st);
    return st.n_overflow;
}

/* runs.extra "energy_unknown" (recorder.h) when an energy is unknown
 * because a sensor read failed at a mark; nothing otherwise. */
static void store_energy_unknown(struct wl_recorder *r, const struct wl_recorder_totals *t)
{
    const uint16_t stuck = t->stuck_mask | t->rows_stuck_mask;
    if (!t->unread_start && !t->unread_end && !t->n_sections_unknown && !t->n_token_rows_unknown &&
        !stuck)
        return;
    json_t *j = json_object();
    json_object_set_new(j, "start", wl_json_domain_names(t->unread_start));
    json_object_set_new(j, "end", wl_json_domain_names(t->unread_end));
    json_object_set_new(j, "sections", json_integer(t->n_sections_unknown));
    json_object_set_new(j, "token_rows", json_integer(t->n_token_rows_unknown));
    if (stuck) {
        /* a counter not measuring (its gap says so): the run's and the
         * rows' figures of these domains are unknown, not 0 J */
        json_object_set_new(j, "not_measuring", wl_json_domain_names(t->stuck_mask));
        json_object_set_new(j, "not_measuring_rows", wl_json_domain_names(t->rows_stuck_mask));
        json_object_set_new(j, "not_measuring_sections", json_integer(t->n_sections_stuck));
        json_object_set_new(j, "not_measuring_token_rows", json_integer(t->n_token_rows_stuck));
    }
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    wl__recorder_store_fail(
        r, text ? wl_store_run_set_extra(r->run, "energy_unknown", text) : WL_ENOMEM,
        "the unknown energies' reason");
    free(text);
}

int wl_recorder_finish(wl_recorder *r, const struct wl_recorder_finish *f)
{
    wl_recorder_stop(r);
    if (!r->run)
        return 0;
    /* the sampler's gaps (energy not counted) go with the run; a failure is logged */
    wl__recorder_store_fail(r, wl_run_gaps_store_sampler(r->run, r->smp, r->origin.t_ns),
                            "the sensor gaps");
    struct wl_recorder_totals t;
    wl_recorder_get_totals(r, &t);
    store_energy_unknown(r, &t);
    const uint64_t lost = samples_lost(r);
    if (lost) {
        char text[32];
        snprintf(text, sizeof text, "%llu", (unsigned long long)lost);
        wl__recorder_store_fail(r, wl_store_run_set_extra(r->run, "samples_lost", text),
                                "the lost samples");
    }
    struct wl_baseline b;
    wl_sampler_get_baseline(r->smp, &b);
    struct wl_store_domain doms[WL_DOMAIN_COUNT];
    size_t nd = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        /* every domain the sensors have, its energy unknown when the start
         * or the last mark has no reading of it: its baseline and peak
         * stand all the same */
        if (!r->dom[d].present)
            continue;
        const bool known = t.domain_mask & (1u << d);
        const struct wl_domain_info *di = &r->dom[d];
        struct wl_store_domain *o = &doms[nd++];
        o->domain = (enum wl_domain)d;
        o->method = di->method;
        o->source = di->sources;
        o->energy_j = known ? t.domain_energy_j[d] : WL_STORE_UNSET;
        /* as the peak's spans compute it: a run of one span has a peak
         * equal to its average, not one rounding below */
        const struct wl_energy_window gen = {r->start, r->last};
        o->avg_power_w =
            known && t.duration_ms > 0 ? wl_energy_window_avg_w(&gen, o->domain) : WL_STORE_UNSET;
        /* a counter stuck over the whole baseline gives no baseline (its 0 W) */
        const bool base =
            b.valid && (b.valid_mask & (1u << d)) &&
            !(wl_sampler_stuck_over(r->smp, b.t_begin_ns, b.t_end_ns, NULL) & (1u << d));
        o->baseline_power_w = base ? b.power_w[d] : WL_STORE_UNSET;
        /* a counter stuck the whole run has no peak either (its 0 W) */
        const bool peak = r->peak[d].t_ns && !(t.stuck_mask & (1u << d));
        o->peak_power_w = peak ? r->peak[d].power_w : WL_STORE_UNSET;
        o->peak_t_ms = peak ? wl__recorder_rel_ms(r, r->peak[d].t_ns) : WL_STORE_UNSET;
    }
    struct wl_sampler_stats st;
    wl_sampler_stats(r->smp, &st);
    /* a run whose recording never started holds nothing of its generation */
    const bool unrecorded = !r->recorded;
    struct wl_run_totals tot = {
        .status = unrecorded ? WL_RUN_FAILED : f->status,
        .duration_ms = t.duration_ms,
        .energy_j = t.energy_j,
        .energy_method = t.method,
        .energy_scope = t.energy_scope,
        .input_tokens = t.n_input_tokens,
        .output_tokens = t.n_output_tokens,
        .kv_cache_bytes = f->kv_cache_bytes,
        .response = f->response,
        .sample_count = (int64_t)r->n_samples,
        .sample_rate_hz = st.achieved_hz > 0 ? st.achieved_hz : WL_STORE_UNSET,
        .error = f->error       ? f->error
                 : unrecorded   ? r->start_err
                 : r->store_err ? r->store_err_text
                                : NULL,
        .domains = doms,
        .n_domains = nd,
    };
    wl_store_run *run = r->run;
    r->run = NULL;
    int rc = wl_store_run_finish(run, &tot);
    return rc ? rc : r->store_err;
}

/* The inference recorder's writer: window energies from energy marks, and
 * the writer thread that acquires the records the engine side published
 * (recorder_hooks.c) and turns them into store rows, energies attributed
 * here, so SQLite never runs on the engine thread. Writer thread while it
 * runs; the controller before it starts and after its join (recorder.c).
 * It also holds the generation's samples back from the peaks until a
 * section end shows they lie inside the generation.
 */
#include "profile/recorder_impl.h"

#include "util/clock.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* ---- window energies -------------------------------------------------------------- */

double wl__recorder_mark_delta_j(const struct wl_energy_mark *a, const struct wl_energy_mark *b,
                                 enum wl_domain d)
{
    struct wl_energy_window w = {*a, *b};
    return wl_energy_window_j(&w, d);
}

/* The headline energy between two marks: the sum over the headline's
 * domains, or NaN (stored NULL) when either mark has no reading of one of
 * them (its sensor read failed at that mark): never a partial sum, never a
 * 0 J that reads as measured (as measure_store.c) */
double wl__recorder_headline_j(const struct wl_recorder *r, const struct wl_energy_mark *a,
                               const struct wl_energy_mark *b)
{
    if ((a->valid_mask & b->valid_mask & r->headline_mask) != r->headline_mask)
        return NAN;
    double e = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (r->headline_mask & (1u << d))
            e += wl__recorder_mark_delta_j(a, b, (enum wl_domain)d);
    }
    return e;
}

/* The marks a and b as figures may use them, into *a2 and *b2: a domain
 * whose counter was stuck over the whole window (wl_sampler_stuck_over)
 * has no reading there, so its energy is unknown (NaN, stored NULL), never
 * a measured 0 J. Returns those domains. */
uint16_t wl__recorder_usable_marks(struct wl_recorder *r, const struct wl_energy_mark *a,
                                   const struct wl_energy_mark *b, struct wl_energy_mark *a2,
                                   struct wl_energy_mark *b2)
{
    *a2 = *a;
    *b2 = *b;
    const uint16_t stuck = wl_sampler_stuck_over(r->smp, a->t_ns, b->t_ns, NULL);
    a2->valid_mask &= (uint16_t)~stuck;
    b2->valid_mask &= (uint16_t)~stuck;
    return stuck;
}

/* Whether a window's figures must wait (the writer's passes): a counter of
 * a present domain has been flat since its start, too short a time yet to
 * tell a counter that is not measuring from a quiet one. The last pass (at
 * stop) waits for nothing: a run flat so briefly counts as measured. */
static bool window_undecided(struct wl_recorder *r, const struct wl_energy_mark *a,
                             const struct wl_energy_mark *b)
{
    uint16_t pending = 0;
    (void)wl_sampler_stuck_over(r->smp, a->t_ns, b->t_ns, &pending);
    return pending != 0;
}

double wl__recorder_rel_ms(const struct wl_recorder *r, uint64_t t_ns)
{
    return ((double)t_ns - (double)r->origin.t_ns) / 1e6;
}

/* ---- writer thread ---------------------------------------------------------------------- */

void wl__recorder_store_fail(struct wl_recorder *r, int rc, const char *what)
{
    if (rc == 0 || r->store_err)
        return;
    r->store_err = rc;
    snprintf(r->store_err_text, sizeof r->store_err_text, "%s: %s", what,
             r->run ? wl_strerror(rc) : "");
}

/* Adds the oldest held sample to every domain's peak. */
static void held_add_oldest(struct wl_recorder *r)
{
    const struct wl_sample *x = &r->held[r->held_head];
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        wl_span_peak_add(&r->span[d], x);
    r->held_head = (r->held_head + 1) % HELD_CAP;
    r->held_n--;
}

/* Adds the held samples before end_ns (a mark of the generation, so before
 * its last mark too) to the peaks. */
void wl__recorder_held_add_before(struct wl_recorder *r, uint64_t end_ns)
{
    while (r->held_n && r->held[r->held_head].t_ns < end_ns)
        held_add_oldest(r);
}

/* Drains the sampler into the store. Samples tagged with a phase go to the
 * peaks once they lie before end_ns, the latest published mark. */
void wl__recorder_write_samples(struct wl_recorder *r, uint64_t end_ns)
{
    size_t n;
    while ((n = wl_sampler_drain(r->smp, r->sbuf, SAMPLE_BATCH)) > 0) {
        for (size_t i = 0; i < n; i++) {
            const struct wl_sample *s = &r->sbuf[i];
            struct wl_store_sample *o = &r->ssbuf[i];
            memset(o, 0, sizeof *o);
            o->t_ms = wl__recorder_rel_ms(r, s->t_ns);
            o->phase = wl_profile_tag_name(s->phase);
            o->domain_mask = s->valid_mask;
            for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
                if (!(s->valid_mask & (1u << d)))
                    continue;
                o->method_flags |= 1u << r->dom[d].method;
                o->power_w[d] = s->power_w[d]; /* NAN (stored NULL) when not known yet */
                o->energy_j[d] = ((double)s->energy_uj[d] - (double)r->origin.energy_uj[d]) / 1e6;
            }
            /* the generation's samples (not setup, settle, baseline or
             * done: the tag turns to done when post_inference ends, right
             * after the last mark) */
            if (s->phase < WL_PHASE_COUNT) {
                if (r->held_n == HELD_CAP)
                    held_add_oldest(r);
                r->held[(r->held_head + r->held_n++) % HELD_CAP] = *s;
            }
        }
        wl__recorder_held_add_before(r, end_ns);
        r->n_samples += n;
        if (r->run)
            wl__recorder_store_fail(r, wl_store_add_samples(r->run, r->ssbuf, n), "power samples");
    }
}

static void write_section(struct wl_recorder *r, const struct sec_rec *sr)
{
    struct sec_rec sc = *sr, *s = &sc;
    const uint16_t stuck = wl__recorder_usable_marks(r, &sr->begin, &sr->end, &sc.begin, &sc.end);
    r->stuck_mask |= stuck;
    const double e = wl__recorder_headline_j(r, &s->begin, &s->end);
    if (isnan(e) && (stuck & r->headline_mask)) {
        r->n_secs_stuck++;
    } else if (isnan(e)) {
        r->n_secs_unknown++;
    } else {
        r->sum_sections_j += e;
        if (s->phase == WL_PHASE_PREFILL)
            r->prefill_j += e;
        else if (s->phase == WL_PHASE_DECODE)
            r->decode_j += e;
    }
    if (!r->run)
        return;
    struct wl_store_section o = {
        .phase = wl_phase_name((enum wl_phase)s->phase),
        .name = wl_section_name((enum wl_section)s->section),
        .token_index = s->token_index,
        .start_ms = wl__recorder_rel_ms(r, s->begin.t_ns),
        .end_ms = wl__recorder_rel_ms(r, s->end.t_ns),
        .energy_j = e,
        .method = r->headline_method,
    };
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        const uint16_t bit = (uint16_t)(1u << d);
        if ((s->begin.valid_mask & bit) && (s->end.valid_mask & bit)) {
            o.domain_mask |= bit;
            o.domain_energy_j[d] = wl__recorder_mark_delta_j(&s->begin, &s->end, (enum wl_domain)d);
        }
    }
    wl__recorder_store_fail(r, wl_store_add_section(r->run, &o), "a section");
}

static void write_metrics(struct wl_recorder *r, const struct slot *s, size_t si)
{
    if (!r->layer_dur || !s->has_forward || !s->has_layers_window)
        return;
    /* attribution: the LAYERS section's average power x each part's duration */
    const uint64_t dur =
        s->layers.end.t_ns > s->layers.begin.t_ns ? s->layers.end.t_ns - s->layers.begin.t_ns : 0;
    /* NaN when the window lacks a headline domain (or its counter was stuck
     * over it): every row's energy is unknown then */
    struct wl_energy_window lw;
    wl__recorder_usable_marks(r, &s->layers.begin, &s->layers.end, &lw.begin, &lw.end);
    const double e_layers = wl__recorder_headline_j(r, &lw.begin, &lw.end);
    const double p_w = isnan(e_layers) ? NAN : dur ? e_layers / ((double)dur / 1e9) : 0;
    const size_t nl = (size_t)r->p.n_layer;
    for (size_t l = 0; l < nl; l++) {
        const uint64_t ld = r->layer_dur[si * nl + l];
        struct wl_store_layer_metric lm = {.token_index = s->token_index,
                                           .layer = (int32_t)l,
                                           .dur_ms = (double)ld / 1e6,
                                           .energy_j = p_w * (double)ld / 1e9};
        wl__recorder_store_fail(r, wl_store_add_layer_metric(r->run, &lm), "a layer row");
        for (int c = 0; c < WL_COMP_COUNT; c++) {
            const struct comp_rec *cr = &r->comps[(si * nl + l) * WL_COMP_COUNT + (size_t)c];
            if (!cr->n_calls)
                continue;
            struct wl_store_component_metric cm = {.token_index = s->token_index,
                                                   .layer = (int32_t)l,
                                                   .component = c,
                                                   .name = wl_component_name((enum wl_component)c),
                                                   .dur_ms = (double)cr->dur_ns / 1e6,
                                                   .energy_j = p_w * (double)cr->dur_ns / 1e9,
                                                   .act_mean_abs = WL_STORE_UNSET,
                                                   .act_std = WL_STORE_UNSET,
                                                   .act_max_abs = WL_STORE_UNSET,
                                                   .act_sparsity = WL_STORE_UNSET};
            if (cr->n_vals) {
                const double n = (double)cr->n_vals, mean = cr->sum / n;
                const double var = cr->sum_sq / n - mean * mean;
                cm.act_mean_abs = cr->sum_abs / n;
                cm.act_std = sqrt(var > 0 ? var : 0);
                cm.act_max_abs = cr->max_abs;
                cm.act_sparsity = (double)cr->n_zero / n;
            }
            wl__recorder_store_fail(r, wl_store_add_component_metric(r->run, &cm),
                                    "a component row");
        }
        if (!r->ops)
            continue;
        const struct op_rec *list = &r->ops[(si * nl + l) * OPS_PER_LAYER];
        float head_buf[3][256];
        for (size_t k = 0; k < OPS_PER_LAYER; k++) {
            const struct op_rec *o = &list[k];
            /* an op row needs its component's row */
            if (!o->n_calls || !r->comps[(si * nl + l) * WL_COMP_COUNT + o->comp].n_calls)
                continue;
            struct wl_store_op_metric om = {.token_index = s->token_index,
                                            .layer = (int32_t)l,
                                            .component = o->comp,
                                            .op = o->op,
                                            .name = wl_op_name((enum wl_op)o->op),
                                            .dur_ms = (double)o->dur_ns / 1e6,
                                            .energy_j = p_w * (double)o->dur_ns / 1e9,
                                            .entropy = WL_STORE_UNSET,
                                            .max_weight = WL_STORE_UNSET,
                                            .sparsity = WL_STORE_UNSET,
                                            .kill_ratio = WL_STORE_UNSET,
                                            .var_ratio = WL_STORE_UNSET};
            if (o->n_att) {
                om.entropy = o->entropy / o->n_att;
                om.max_weight = o->max_weight / o->n_att;
                om.sparsity = o->sparsity / o->n_att;
                const uint32_t hn = r->heads_n ? r->heads_n[si * nl + l] : 0;
                if (hn && r->p.n_head <= 256) {
                    const float *h = &r->heads[(si * nl + l) * 3 * (size_t)r->p.n_head];
                    for (int32_t q = 0; q < r->p.n_head; q++) {
                        head_buf[0][q] = h[q] / (float)hn;
                        head_buf[1][q] = h[r->p.n_head + q] / (float)hn;
                        head_buf[2][q] = h[2 * r->p.n_head + q] / (float)hn;
                    }
                    om.n_heads = (size_t)r->p.n_head;
                    om.head_entropy = head_buf[0];
                    om.head_max_weight = head_buf[1];
                    om.head_sparsity = head_buf[2];
                }
            }
            if (o->n_kill)
                om.kill_ratio = o->kill / o->n_kill;
            if (o->n_var)
                om.var_ratio = o->var_ratio / o->n_var;
            wl__recorder_store_fail(r, wl_store_add_op_metric(r->run, &om), "an op row");
        }
    }
}

static void write_slot(struct wl_recorder *r, const struct slot *s, size_t si)
{
    if (s->failed) {
        r->n_failed_steps++;
        return;
    }
    struct wl_energy_mark b0, b1;
    const uint16_t stuck_mask = wl__recorder_usable_marks(r, &s->begin, &s->end, &b0, &b1);
    r->stuck_mask |= stuck_mask;
    const bool stuck = stuck_mask & r->headline_mask;
    const double e = wl__recorder_headline_j(r, &b0, &b1); /* NaN: unknown */
    int64_t *n_unknown = stuck ? &r->n_rows_stuck : &r->n_rows_unknown;
    if (s->kind == SLOT_PREFILL) {
        /* a batch's tokens share its energy equally: attributed, not measured */
        for (int32_t t = 0; t < s->n_tok; t++) {
            if (isnan(e))
                (*n_unknown)++;
            else
                r->sum_in_j += e / s->n_tok;
            r->n_in_rows++;
            if (!r->run)
                continue;
            struct wl_store_token tk = {.index = s->pos + t,
                                        .is_input = true,
                                        .start_ms = WL_STORE_UNSET,
                                        .end_ms = WL_STORE_UNSET,
                                        .energy_j = e / s->n_tok,
                                        .method = WL_METHOD_ATTRIBUTED,
                                        .power_w = WL_STORE_UNSET};
            wl__recorder_store_fail(r, wl_store_add_token(r->run, &tk), "an input token");
        }
    } else {
        /* one row per decode round: its measured energy and time, and how
         * many sequences produced a token in it */
        if (isnan(e))
            (*n_unknown)++;
        else
            r->sum_out_j += e;
        r->n_out_rows++;
        r->n_out_tokens += s->n_tok;
        if (r->run) {
            struct wl_store_token tk = {.index = s->token_index,
                                        .text = s->text,
                                        .is_input = false,
                                        .start_ms = wl__recorder_rel_ms(r, s->begin.t_ns),
                                        .end_ms = wl__recorder_rel_ms(r, s->end.t_ns),
                                        .energy_j = e,
                                        .method = r->headline_method,
                                        /* a stuck counter's sample power is no
                                           measurement of 0 W either */
                                        .power_w =
                                            s->has_power && !stuck ? s->power_w : WL_STORE_UNSET,
                                        .n_seq = s->n_tok};
            wl__recorder_store_fail(r, wl_store_add_token(r->run, &tk), "an output token");
        }
    }
    if (r->run)
        write_metrics(r, s, si);
}

/* Writes everything published so far. Writer thread (or the controller
 * after the join). */
void wl__recorder_write_published(struct wl_recorder *r, bool last)
{
    /* a window over which a counter has been flat too briefly to judge
     * waits for a later pass (wl_sampler_stuck_over: ~100 ms at most),
     * and so do those after it (rows go in order) */
    const size_t ns = atomic_load_explicit(&r->pub_secs, memory_order_acquire);
    for (; r->w_secs < ns; r->w_secs++) {
        const struct sec_rec *sr = &r->secs[r->w_secs];
        if (!last && window_undecided(r, &sr->begin, &sr->end))
            break;
        write_section(r, sr);
    }
    const size_t nsl = atomic_load_explicit(&r->pub_slots, memory_order_acquire);
    for (; r->w_slots < nsl; r->w_slots++) {
        const struct slot *sl = &r->slots[r->w_slots];
        if (!last && !sl->failed && window_undecided(r, &sl->begin, &sl->end))
            break;
        write_slot(r, sl, r->w_slots);
    }
    /* a published section's end mark is one of the generation's (r->last
     * is the engine's, not ours to read) */
    wl__recorder_write_samples(r, ns ? r->secs[ns - 1].end.t_ns : r->start.t_ns);
}

/* Niceness of the writer thread. Its SQLite work (thousands of instructions
 * per row; a module run of a tiny model writes ~65 rows per token) competes
 * with the engine for cores on a busy machine; at nice 10 it yields to the
 * engine's threads (CFS weight ~10 %) and catches up in their gaps and at
 * finish, which loses nothing (records are preallocated for the whole run;
 * the sampler's ring holds 80 s of samples; what it overwrote all the same
 * is counted: samples_lost). It is never starved outright, so
 * rows still reach the database during long runs. */
#define WRITER_NICE 10

void *wl__recorder_writer_main(void *arg)
{
    struct wl_recorder *r = arg;
#ifdef __linux__
    /* per thread on Linux; lowering one's own priority needs no privilege,
     * and failing to do so only costs overhead, so the result is ignored */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WRITER_NICE) != 0)
        (void)0;
#endif
    const uint64_t period = (uint64_t)r->p.interval_ms * 1000000ull;
    uint64_t next = wl_clock_now_ns() + period;
    while (!atomic_load(&r->stop)) {
        wl_clock_sleep_until_ns(next);
        next += period;
        wl__recorder_write_published(r, false);
    }
    return NULL;
}

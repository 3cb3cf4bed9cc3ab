/* The inference recorder; see recorder.h and docs/internals/profile.md.
 *
 * Engine side (hook callback): sections are the leaves of the phase tree and
 * tile the generation: a section starts at the previous section's end mark
 * (or the start mark) and ends with a fresh energy mark, so phase, token and
 * section energies add up to the run's total exactly. Layers, components and
 * ops only read the monotonic clock into fixed slots. A slot is one forward
 * pass (a prompt batch) or one output token -- with several sequences
 * (wl_generate_batch) one decode round, a token of each sequence that ran
 * in it; when it is complete its index is
 * published with a release store. Writer side: a thread acquires the published
 * counts and turns records into store rows (energies attributed there), so
 * SQLite never runs on the engine thread.
 */
#include "profile/recorder.h"

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
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define TEXT_MAX_DEFAULT 256     /* a token's text kept whole up to this (params: 0) */
#define TEXT_MAX_LIMIT (1 << 20) /* max_text_bytes beyond this is refused */
#define OPS_PER_LAYER 32    /* distinct (component, op) pairs per layer */
#define SAMPLE_BATCH 1024
/* Generation samples held back from the peaks until a section end shows
 * they lie inside the generation: those of the section under way, so ~10 s
 * of samples at the default 10 ms (a longer section's oldest go in early:
 * a later section end is all but certain) */
#define HELD_CAP 1024

struct sec_rec {
    uint8_t phase, section;
    int64_t token_index; /* decode: the output token's index; -1 otherwise */
    struct wl_energy_mark begin, end;
};

struct comp_rec {
    uint64_t dur_ns, t_begin_ns;
    uint32_t n_calls;
    /* activation statistics accumulated over calls */
    uint64_t n_vals, n_zero;
    double sum_abs, sum, sum_sq;
    float max_abs;
};

struct op_rec {
    uint8_t comp, op;
    uint32_t n_calls; /* 0: this (component, op) did not run in this layer and slot */
    uint64_t dur_ns, t_begin_ns;
    uint32_t n_att, n_kill, n_var;
    double entropy, max_weight, sparsity; /* sums over heads x calls */
    double kill, var_ratio;               /* sums over calls */
};

enum slot_kind { SLOT_PREFILL, SLOT_OUTPUT };

struct slot {
    uint8_t kind;
    bool failed; /* output: the step produced no token (TOKEN end with n_tok 0) */
    bool has_forward;
    bool has_layers_window;
    int32_t pos, n_tok;  /* prefill: first input token, count; output: position, sequences */
    int64_t token_index; /* store key: prefill: last input token; output: n_prompt + i */
    int32_t out_index;   /* output: i (the decode round) */
    struct wl_energy_mark begin, end;   /* token (or batch) window */
    struct wl_energy_window layers;     /* the LAYERS section: the attribution window */
    char *text; /* (text_cap + 1) bytes in the recorder's texts, NUL-terminated */
    uint32_t text_len;
    /* the headline power (W) of the sampler's latest sample at the token's
     * end, when that sample lies inside the token and has every headline
     * domain's power (has_power); a sample, not a snapshot at the end */
    bool has_power;
    double power_w;
};

struct wl_recorder {
    struct wl_recorder_params p;
    wl_sensor_set *set;
    wl_sampler *smp;
    wl_store_run *run;
    struct wl_domain_info dom[WL_DOMAIN_COUNT]; /* the sampler's, fixed after its open */
    uint16_t headline_mask;
    enum wl_method headline_method;
    char scope[64];
    struct wl_energy_mark origin, start, last;
    bool started;
    /* the last wl_recorder_start succeeded; when not (none yet, or it
     * failed), nothing was recorded, start_err says why, and finish stores
     * the run as failed */
    bool recorded;
    char start_err[96];

    /* preallocated records */
    struct sec_rec *secs;
    size_t cap_secs, n_secs;
    struct slot *slots;
    size_t cap_slots, n_slots;
    char *texts;              /* (slots, text_cap + 1) output tokens' texts */
    size_t text_cap;          /* bytes of a token's text kept */
    uint64_t *layer_dur;      /* (slots, n_layer) */
    uint64_t *layer_t0;       /* (n_layer) begin times of the open slot */
    struct comp_rec *comps;   /* (slots, n_layer, WL_COMP_COUNT) */
    struct op_rec *ops;       /* (slots, n_layer, OPS_PER_LAYER) */
    /* (component, op) -> position + 1 in a layer's op records, assigned on
     * first sight (engine thread only): a direct index, no search per hook */
    uint8_t op_pos[WL_COMP_COUNT][WL_OP_COUNT];
    uint8_t n_op_kinds;
    float *heads;             /* (slots, n_layer, 3, n_head): entropy, max, sparsity sums */
    uint32_t *heads_n;        /* (slots, n_layer) calls summed into heads */
    uint64_t dropped;

    /* engine-thread state */
    struct slot *cur;          /* open slot or NULL */
    size_t cur_lbase;          /* index of the open slot x n_layer (row of its layer arrays) */
    int32_t cur_out;           /* open output token index or -1 */
    struct wl_energy_mark tok_begin;
    int32_t n_input; /* input tokens so far: prompt batches in evaluation order */
    int32_t cur_phase;

    /* publication (engine -> writer) */
    atomic_size_t pub_secs, pub_slots;

    /* writer thread */
    pthread_t thread;
    bool thread_running;
    atomic_int stop;
    size_t w_secs, w_slots;
    struct wl_sample *sbuf;
    struct wl_store_sample *ssbuf;
    uint64_t n_samples;
    /* the generation's peaks (wl_span_peak over start .. last), writer
     * thread until the join, then the controller: a sample tagged with a
     * phase waits in a ring until a published section end comes after it,
     * since the peak's spans end at the last mark, which the stream of
     * samples runs past */
    struct wl_span_peak span[WL_DOMAIN_COUNT];
    struct wl_sample *held; /* (HELD_CAP) ring */
    size_t held_head, held_n;
    struct wl_peak peak[WL_DOMAIN_COUNT]; /* the result, set by wl_recorder_stop */
    int store_err;
    char store_err_text[256];
    /* sums for the totals over the known energies (writer thread, read
     * after join), and the rows stored without one */
    double sum_sections_j, sum_in_j, sum_out_j, prefill_j, decode_j;
    int64_t n_in_rows, n_out_rows, n_out_tokens, n_failed_steps;
    int64_t n_secs_unknown, n_rows_unknown;
    /* rows without energy because a headline domain's counter was not
     * measuring over them (stuck: wl_sampler_stuck_over), and the domains
     * any row or the run lost so (writer thread, read after join) */
    int64_t n_secs_stuck, n_rows_stuck;
    uint16_t stuck_mask;
};

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

static double mark_delta_j(const struct wl_energy_mark *a, const struct wl_energy_mark *b,
                           enum wl_domain d)
{
    struct wl_energy_window w = {*a, *b};
    return wl_energy_window_j(&w, d);
}

/* The headline energy between two marks: the sum over the headline's
 * domains, or NaN (stored NULL) when either mark has no reading of one of
 * them (its sensor read failed at that mark): never a partial sum, never a
 * 0 J that reads as measured (as measure_store.c) */
static double headline_j(const struct wl_recorder *r, const struct wl_energy_mark *a,
                         const struct wl_energy_mark *b)
{
    if ((a->valid_mask & b->valid_mask & r->headline_mask) != r->headline_mask)
        return NAN;
    double e = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (r->headline_mask & (1u << d))
            e += mark_delta_j(a, b, (enum wl_domain)d);
    }
    return e;
}

/* The marks a and b as figures may use them, into *a2 and *b2: a domain
 * whose counter was stuck over the whole window (wl_sampler_stuck_over)
 * has no reading there, so its energy is unknown (NaN, stored NULL), never
 * a measured 0 J. Returns those domains. */
static uint16_t usable_marks(struct wl_recorder *r, const struct wl_energy_mark *a,
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

static double rel_ms(const struct wl_recorder *r, uint64_t t_ns)
{
    return ((double)t_ns - (double)r->origin.t_ns) / 1e6;
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

/* ---- engine side ------------------------------------------------------------------- */

/* The hooks' clock: CLOCK_MONOTONIC like wl_clock_now_ns (so times compare
 * with marks), read inline -- one vDSO call per boundary, no wrappers. */
static inline uint64_t hook_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct slot *slot_open(struct wl_recorder *r, enum slot_kind kind)
{
    if (r->n_slots >= r->cap_slots) {
        r->dropped++;
        return NULL;
    }
    r->cur_lbase = r->n_slots * (size_t)r->p.n_layer;
    struct slot *s = &r->slots[r->n_slots++];
    s->kind = (uint8_t)kind;
    s->begin = r->last;
    return s;
}

static void slot_publish(struct wl_recorder *r)
{
    if (!r->cur)
        return;
    r->cur->end = r->last;
    r->cur = NULL;
    atomic_store_explicit(&r->pub_slots, r->n_slots, memory_order_release);
}

static void on_section(struct wl_recorder *r, const struct wl_hook_event *ev)
{
    if (ev->begin) {
        if (ev->section == WL_SECTION_EMBEDDING) {
            /* a forward pass starts: a new prompt batch, or the output token's pass */
            if (ev->phase == WL_PHASE_PREFILL) {
                slot_publish(r);
                r->cur = slot_open(r, SLOT_PREFILL);
                /* input tokens are numbered in evaluation order, not by
                 * position: a batch of several sequences' prompts has its
                 * own positions per sequence (one sequence: the same) */
                if (r->cur) {
                    r->cur->pos = r->n_input;
                    r->cur->n_tok = ev->n_tok;
                    r->cur->token_index = (int64_t)r->n_input + ev->n_tok - 1;
                    r->cur->has_forward = true;
                }
                r->n_input += ev->n_tok;
            } else if (r->cur) {
                r->cur->has_forward = true;
            }
        }
        return;
    }
    struct wl_energy_mark m;
    wl_sampler_mark(r->smp, &m);
    if (r->n_secs < r->cap_secs) {
        struct sec_rec *s = &r->secs[r->n_secs++];
        s->phase = (uint8_t)ev->phase;
        s->section = (uint8_t)ev->section;
        s->token_index = ev->phase == WL_PHASE_DECODE && r->cur_out >= 0
                             ? (int64_t)r->n_input + r->cur_out
                             : -1;
        s->begin = r->last;
        s->end = m;
        atomic_store_explicit(&r->pub_secs, r->n_secs, memory_order_release);
    } else {
        r->dropped++;
    }
    if (ev->section == WL_SECTION_LAYERS && r->cur) {
        r->cur->layers.begin = r->last;
        r->cur->layers.end = m;
        r->cur->has_layers_window = true;
    }
    r->last = m;
}

static void on_token(struct wl_recorder *r, const struct wl_hook_event *ev)
{
    if (ev->begin) {
        slot_publish(r); /* the last prompt batch */
        r->cur_out = ev->token_index;
        r->cur = slot_open(r, SLOT_OUTPUT);
        if (r->cur) {
            r->cur->out_index = ev->token_index;
            r->cur->token_index = (int64_t)r->n_input + ev->token_index;
            r->cur->pos = r->n_input + ev->token_index;
            r->cur->n_tok = ev->n_tok > 0 ? ev->n_tok : 1;
        }
        return;
    }
    if (r->cur) {
        /* the sequences that produced a token in the round; none: the step
         * failed (hooks.h), and its slot is no token: its sections stay
         * (they tile the run), its token row and layer rows are not written */
        r->cur->failed = ev->n_tok <= 0;
        r->cur->n_tok = ev->n_tok > 0 ? ev->n_tok : 0;
        /* the whole piece, or one longer than the room (made for the
         * tokenizer's longest, max_text_bytes) cut before the character
         * the room ends in: never half a UTF-8 character */
        size_t n = ev->text_len;
        if (n > r->text_cap) {
            n = r->text_cap;
            while (n > 0 && ((unsigned char)ev->text[n] & 0xC0) == 0x80)
                n--;
        }
        if (n)
            memcpy(r->cur->text, ev->text, n);
        r->cur->text[n] = '\0';
        r->cur->text_len = (uint32_t)n;
        /* the power of the latest sample, if it was taken inside the token
         * (a generation sample between its start and its end mark) and,
         * for each headline domain, averages over a window that lies inside
         * the token (wl_sample_power_within, as the peaks): a counter's
         * power is a delta over ~10 update periods (>= 10 ms for RAPL,
         * more when learned), which reaches back before a short token into
         * the previous tokens or the idle baseline (a token drawing 40 W
         * was stored with the baseline's 2 W). A token shorter than that
         * window, or than the sampling interval, gets no power; its
         * energy / duration stands for it (store.h) */
        struct wl_sample smp;
        if (wl_sampler_snapshot(r->smp, &smp) == 0 && smp.phase < WL_PHASE_COUNT &&
            smp.t_ns >= r->cur->begin.t_ns && smp.t_ns <= r->last.t_ns) {
            double pw = 0;
            bool all = true;
            for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
                if (!(r->headline_mask & (1u << d)))
                    continue;
                all = all && wl_sample_power_within(&smp, (enum wl_domain)d, r->cur->begin.t_ns,
                                                    r->last.t_ns);
                pw += all ? smp.power_w[d] : 0;
            }
            r->cur->has_power = all;
            r->cur->power_w = pw;
        }
    }
    slot_publish(r);
    r->cur_out = -1;
}

static struct comp_rec *comp_at(struct wl_recorder *r, int32_t layer, enum wl_component c)
{
    if (!r->cur || layer < 0 || layer >= r->p.n_layer || (unsigned)c >= WL_COMP_COUNT)
        return NULL;
    return &r->comps[(r->cur_lbase + (size_t)layer) * WL_COMP_COUNT + c];
}

/* Activation statistics of a tensor, added to a component's sums. */
static void act_stats(struct comp_rec *c, const struct wl_hook_tensor *t, float thr)
{
    double sa = 0, s = 0, sq = 0;
    float mx = c->max_abs;
    uint64_t nz = 0;
    for (int32_t i = 0; i < t->n_rows; i++) {
        const float *x = t->data + (size_t)i * t->row_stride;
        for (int32_t j = 0; j < t->n_cols; j++) {
            const float v = x[j], a = fabsf(v);
            sa += a;
            s += v;
            sq += (double)v * v;
            mx = a > mx ? a : mx;
            nz += a < thr;
        }
    }
    c->sum_abs += sa;
    c->sum += s;
    c->sum_sq += sq;
    c->max_abs = mx;
    c->n_zero += nz;
    c->n_vals += (uint64_t)t->n_rows * (uint64_t)t->n_cols;
}

static void on_component(struct wl_recorder *r, const struct wl_hook_event *ev)
{
    struct comp_rec *c = comp_at(r, ev->layer, ev->component);
    if (!c)
        return;
    const uint64_t now = hook_now_ns();
    if (ev->begin) {
        c->t_begin_ns = now;
        return;
    }
    c->dur_ns += now - c->t_begin_ns;
    c->n_calls++;
    if (r->p.activations) {
        const struct wl_hook_tensor *t = ev->out ? ev->out : ev->in;
        if (t && t->data)
            act_stats(c, t, r->p.zero_threshold);
    }
}

static struct op_rec *op_at(struct wl_recorder *r, int32_t layer, enum wl_component c,
                            enum wl_op op, size_t *lidx)
{
    if (!r->cur || !r->ops || layer < 0 || layer >= r->p.n_layer || (unsigned)c >= WL_COMP_COUNT ||
        (unsigned)op >= WL_OP_COUNT)
        return NULL;
    uint8_t k = r->op_pos[c][op];
    if (!k) {
        if (r->n_op_kinds >= OPS_PER_LAYER) {
            r->dropped++;
            return NULL;
        }
        k = r->op_pos[c][op] = ++r->n_op_kinds;
    }
    *lidx = r->cur_lbase + (size_t)layer;
    return &r->ops[*lidx * OPS_PER_LAYER + (size_t)(k - 1)];
}

static double variance(const struct wl_hook_tensor *t)
{
    double s = 0, sq = 0;
    for (int32_t i = 0; i < t->n_rows; i++) {
        const float *x = t->data + (size_t)i * t->row_stride;
        for (int32_t j = 0; j < t->n_cols; j++) {
            s += x[j];
            sq += (double)x[j] * x[j];
        }
    }
    const double n = (double)t->n_rows * t->n_cols;
    return n > 0 ? sq / n - (s / n) * (s / n) : 0;
}

/* Per head, averaged over the batch's tokens: entropy of the weights (nats),
 * the largest weight, and the share of weights under the threshold, over
 * the positions the token sees (in a sliding-window layer the masked ones
 * before the window are 0 and would count as sparse). */
static void attention_stats(struct wl_recorder *r, size_t lidx, struct op_rec *o,
                            const struct wl_hook_attention *a)
{
    const int32_t nh = a->n_head < r->p.n_head ? a->n_head : r->p.n_head;
    float *h = r->heads ? &r->heads[lidx * 3 * (size_t)r->p.n_head] : NULL;
    for (int32_t t = 0; t < a->n_tok; t++) {
        /* the token's own sequence's positions j0..pos (several sequences
         * of a batch each start at 0) */
        const int32_t n_all = (a->pos ? a->pos[t] : a->pos0 + t) + 1;
        const int32_t j0 = a->window > 0 && n_all > a->window ? n_all - a->window : 0;
        const int32_t n_kv = n_all - j0;
        for (int32_t k = 0; k < nh; k++) {
            const float *p = a->probs + ((size_t)t * a->n_head + k) * a->row_stride + j0;
            double ent = 0, mx = 0;
            int32_t sparse = 0;
            for (int32_t j = 0; j < n_kv; j++) {
                const double v = p[j];
                if (v > 0)
                    ent -= v * log(v);
                mx = v > mx ? v : mx;
                sparse += v < r->p.attn_zero_threshold;
            }
            const double sp = (double)sparse / n_kv;
            o->entropy += ent;
            o->max_weight += mx;
            o->sparsity += sp;
            o->n_att++;
            if (h) {
                h[k] += (float)ent;
                h[r->p.n_head + k] += (float)mx;
                h[2 * r->p.n_head + k] += (float)sp;
            }
        }
    }
    if (r->heads_n)
        r->heads_n[lidx] += (uint32_t)a->n_tok;
}

static void on_op(struct wl_recorder *r, const struct wl_hook_event *ev)
{
    size_t lidx = 0;
    struct op_rec *o = op_at(r, ev->layer, ev->component, ev->op, &lidx);
    if (!o)
        return;
    const uint64_t now = hook_now_ns();
    if (ev->begin) {
        o->comp = (uint8_t)ev->component;
        o->op = (uint8_t)ev->op;
        o->t_begin_ns = now;
        return;
    }
    o->dur_ns += now - o->t_begin_ns;
    o->n_calls++;
    if (!r->p.activations)
        return;
    if (ev->attention && ev->attention->probs)
        attention_stats(r, lidx, o, ev->attention);
    if (ev->op == WL_OP_GATE_X_UP && ev->out && ev->out->data) {
        uint64_t nz = 0, n = (uint64_t)ev->out->n_rows * (uint64_t)ev->out->n_cols;
        for (int32_t i = 0; i < ev->out->n_rows; i++) {
            const float *x = ev->out->data + (size_t)i * ev->out->row_stride;
            for (int32_t j = 0; j < ev->out->n_cols; j++)
                nz += fabsf(x[j]) < r->p.zero_threshold;
        }
        if (n) {
            o->kill += (double)nz / (double)n;
            o->n_kill++;
        }
    }
    /* a norm run in place would hand out its output twice: no ratio then
     * (NULL), rather than a false 1 */
    if (ev->in && ev->out && ev->in->data && ev->out->data && ev->in->data != ev->out->data &&
        (ev->op == WL_OP_NORM_NORMALISE || ev->op == WL_OP_NORM_SCALE)) {
        const double vi = variance(ev->in);
        if (vi > 0) {
            o->var_ratio += variance(ev->out) / vi;
            o->n_var++;
        }
    }
}

static void on_event(void *ud, const struct wl_hook_event *ev)
{
    struct wl_recorder *r = ud;
    if (!r->started)
        return;
    switch (ev->kind) {
    case WL_HOOK_PHASE:
        if (ev->begin) {
            r->cur_phase = (int32_t)ev->phase;
            wl_sampler_set_phase(r->smp, (uint32_t)ev->phase);
        } else if (ev->phase == WL_PHASE_PREFILL) {
            slot_publish(r);
        } else if (ev->phase == WL_PHASE_POST_INFERENCE) {
            wl_sampler_set_phase(r->smp, WL_PROFILE_TAG_DONE); /* the generation is over */
        }
        break;
    case WL_HOOK_SECTION:
        on_section(r, ev);
        break;
    case WL_HOOK_TOKEN:
        on_token(r, ev);
        break;
    case WL_HOOK_LAYER:
        if (r->cur && r->layer_dur && ev->layer >= 0 && ev->layer < r->p.n_layer) {
            const uint64_t now = hook_now_ns();
            if (ev->begin)
                r->layer_t0[ev->layer] = now;
            else
                r->layer_dur[r->cur_lbase + (size_t)ev->layer] +=
                    now - r->layer_t0[ev->layer];
        }
        break;
    case WL_HOOK_COMPONENT:
        on_component(r, ev);
        break;
    case WL_HOOK_OP:
        on_op(r, ev);
        break;
    }
}

struct wl_hooks wl_recorder_hooks(wl_recorder *r)
{
    static const enum wl_hook_depth depth[] = {WL_HOOK_DEPTH_TOKEN, WL_HOOK_DEPTH_COMPONENT,
                                               WL_HOOK_DEPTH_OP};
    struct wl_hooks h = {.fn = on_event, .user_data = r, .depth = depth[r->p.depth],
                         .activations = r->p.activations};
    return h;
}

/* ---- writer thread ---------------------------------------------------------------------- */

static void store_fail(struct wl_recorder *r, int rc, const char *what)
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
static void held_add_before(struct wl_recorder *r, uint64_t end_ns)
{
    while (r->held_n && r->held[r->held_head].t_ns < end_ns)
        held_add_oldest(r);
}

/* Drains the sampler into the store. Samples tagged with a phase go to the
 * peaks once they lie before end_ns, the latest published mark. */
static void write_samples(struct wl_recorder *r, uint64_t end_ns)
{
    size_t n;
    while ((n = wl_sampler_drain(r->smp, r->sbuf, SAMPLE_BATCH)) > 0) {
        for (size_t i = 0; i < n; i++) {
            const struct wl_sample *s = &r->sbuf[i];
            struct wl_store_sample *o = &r->ssbuf[i];
            memset(o, 0, sizeof *o);
            o->t_ms = rel_ms(r, s->t_ns);
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
        held_add_before(r, end_ns);
        r->n_samples += n;
        if (r->run)
            store_fail(r, wl_store_add_samples(r->run, r->ssbuf, n), "power samples");
    }
}

static void write_section(struct wl_recorder *r, const struct sec_rec *sr)
{
    struct sec_rec sc = *sr, *s = &sc;
    const uint16_t stuck = usable_marks(r, &sr->begin, &sr->end, &sc.begin, &sc.end);
    r->stuck_mask |= stuck;
    const double e = headline_j(r, &s->begin, &s->end);
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
        .start_ms = rel_ms(r, s->begin.t_ns),
        .end_ms = rel_ms(r, s->end.t_ns),
        .energy_j = e,
        .method = r->headline_method,
    };
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        const uint16_t bit = (uint16_t)(1u << d);
        if ((s->begin.valid_mask & bit) && (s->end.valid_mask & bit)) {
            o.domain_mask |= bit;
            o.domain_energy_j[d] = mark_delta_j(&s->begin, &s->end, (enum wl_domain)d);
        }
    }
    store_fail(r, wl_store_add_section(r->run, &o), "a section");
}

static void write_metrics(struct wl_recorder *r, const struct slot *s, size_t si)
{
    if (!r->layer_dur || !s->has_forward || !s->has_layers_window)
        return;
    /* attribution: the LAYERS section's average power x each part's duration */
    const uint64_t dur = s->layers.end.t_ns > s->layers.begin.t_ns
                             ? s->layers.end.t_ns - s->layers.begin.t_ns
                             : 0;
    /* NaN when the window lacks a headline domain (or its counter was stuck
     * over it): every row's energy is unknown then */
    struct wl_energy_window lw;
    usable_marks(r, &s->layers.begin, &s->layers.end, &lw.begin, &lw.end);
    const double e_layers = headline_j(r, &lw.begin, &lw.end);
    const double p_w = isnan(e_layers) ? NAN : dur ? e_layers / ((double)dur / 1e9) : 0;
    const size_t nl = (size_t)r->p.n_layer;
    for (size_t l = 0; l < nl; l++) {
        const uint64_t ld = r->layer_dur[si * nl + l];
        struct wl_store_layer_metric lm = {.token_index = s->token_index, .layer = (int32_t)l,
                                           .dur_ms = (double)ld / 1e6,
                                           .energy_j = p_w * (double)ld / 1e9};
        store_fail(r, wl_store_add_layer_metric(r->run, &lm), "a layer row");
        for (int c = 0; c < WL_COMP_COUNT; c++) {
            const struct comp_rec *cr = &r->comps[(si * nl + l) * WL_COMP_COUNT + (size_t)c];
            if (!cr->n_calls)
                continue;
            struct wl_store_component_metric cm = {
                .token_index = s->token_index, .layer = (int32_t)l, .component = c,
                .name = wl_component_name((enum wl_component)c),
                .dur_ms = (double)cr->dur_ns / 1e6, .energy_j = p_w * (double)cr->dur_ns / 1e9,
                .act_mean_abs = WL_STORE_UNSET, .act_std = WL_STORE_UNSET,
                .act_max_abs = WL_STORE_UNSET, .act_sparsity = WL_STORE_UNSET};
            if (cr->n_vals) {
                const double n = (double)cr->n_vals, mean = cr->sum / n;
                const double var = cr->sum_sq / n - mean * mean;
                cm.act_mean_abs = cr->sum_abs / n;
                cm.act_std = sqrt(var > 0 ? var : 0);
                cm.act_max_abs = cr->max_abs;
                cm.act_sparsity = (double)cr->n_zero / n;
            }
            store_fail(r, wl_store_add_component_metric(r->run, &cm), "a component row");
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
            struct wl_store_op_metric om = {
                .token_index = s->token_index, .layer = (int32_t)l, .component = o->comp,
                .op = o->op, .name = wl_op_name((enum wl_op)o->op),
                .dur_ms = (double)o->dur_ns / 1e6, .energy_j = p_w * (double)o->dur_ns / 1e9,
                .entropy = WL_STORE_UNSET, .max_weight = WL_STORE_UNSET,
                .sparsity = WL_STORE_UNSET, .kill_ratio = WL_STORE_UNSET,
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
            store_fail(r, wl_store_add_op_metric(r->run, &om), "an op row");
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
    const uint16_t stuck_mask = usable_marks(r, &s->begin, &s->end, &b0, &b1);
    r->stuck_mask |= stuck_mask;
    const bool stuck = stuck_mask & r->headline_mask;
    const double e = headline_j(r, &b0, &b1); /* NaN: unknown */
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
            struct wl_store_token tk = {.index = s->pos + t, .is_input = true,
                                        .start_ms = WL_STORE_UNSET, .end_ms = WL_STORE_UNSET,
                                        .energy_j = e / s->n_tok,
                                        .method = WL_METHOD_ATTRIBUTED,
                                        .power_w = WL_STORE_UNSET};
            store_fail(r, wl_store_add_token(r->run, &tk), "an input token");
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
                                        .start_ms = rel_ms(r, s->begin.t_ns),
                                        .end_ms = rel_ms(r, s->end.t_ns),
                                        .energy_j = e,
                                        .method = r->headline_method,
                                        /* a stuck counter's sample power is no
                                           measurement of 0 W either */
                                        .power_w =
                                            s->has_power && !stuck ? s->power_w : WL_STORE_UNSET,
                                        .n_seq = s->n_tok};
            store_fail(r, wl_store_add_token(r->run, &tk), "an output token");
        }
    }
    if (r->run)
        write_metrics(r, s, si);
}

/* Writes everything published so far. Writer thread (or the controller
 * after the join). */
static void write_published(struct wl_recorder *r, bool last)
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
    write_samples(r, ns ? r->secs[ns - 1].end.t_ns : r->start.t_ns);
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

static void *writer_main(void *arg)
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
        write_published(r, false);
    }
    return NULL;
}

/* Stores the samples so far, on the controlling thread before the writer
 * thread exists (settle and baseline: no generation sample among them). */
static void drain_before_start(void *ud)
{
    struct wl_recorder *r = ud;
    write_samples(r, r->start.t_ns);
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
    const int e = wl_signals_thread_create(&r->thread, NULL, writer_main, r);
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
    write_published(r, true);
    /* the generation's window is known now: what is held before its end
     * counts, the rest came after it */
    held_add_before(r, r->last.t_ns);
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
    out->stuck_mask = usable_marks(r, &r->start, &r->last, &start, &last);
    out->energy_j = headline_j(r, &start, &last);
    out->method = r->headline_method;
    snprintf(out->energy_scope, sizeof out->energy_scope, "%s", r->scope);
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        const uint16_t bit = (uint16_t)(1u << d);
        if ((start.valid_mask & bit) && (last.valid_mask & bit)) {
            out->domain_mask |= bit;
            out->domain_energy_j[d] = mark_delta_j(&start, &last, (enum wl_domain)d);
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
        usable_marks(r, &s->begin, &s->end, &b0, &b1);
        const double e = headline_j(r, &b0, &b1);
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
    store_fail(r, text ? wl_store_run_set_extra(r->run, "energy_unknown", text) : WL_ENOMEM,
               "the unknown energies' reason");
    free(text);
}

int wl_recorder_finish(wl_recorder *r, const struct wl_recorder_finish *f)
{
    wl_recorder_stop(r);
    if (!r->run)
        return 0;
    /* the sampler's gaps (energy not counted) go with the run; a failure is logged */
    store_fail(r, wl_run_gaps_store_sampler(r->run, r->smp, r->origin.t_ns), "the sensor gaps");
    struct wl_recorder_totals t;
    wl_recorder_get_totals(r, &t);
    store_energy_unknown(r, &t);
    const uint64_t lost = samples_lost(r);
    if (lost) {
        char text[32];
        snprintf(text, sizeof text, "%llu", (unsigned long long)lost);
        store_fail(r, wl_store_run_set_extra(r->run, "samples_lost", text), "the lost samples");
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
        o->peak_t_ms = peak ? rel_ms(r, r->peak[d].t_ns) : WL_STORE_UNSET;
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

/* The inference recorder's engine side: the hook callback (engine thread
 * only). Sections are the leaves of the phase tree and tile the generation:
 * a section starts at the previous section's end mark (or the start mark)
 * and ends with a fresh energy mark, so phase, token and section energies
 * add up to the run's total exactly. Layers, components and ops only read
 * the monotonic clock into the preallocated slots; a complete slot's index
 * is published with a release store for the writer (recorder_writer.c).
 * Allocates nothing and never touches SQLite (a section end reads an energy
 * mark from the sampler, which takes its lock briefly).
 */
#include "profile/recorder_impl.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

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
        s->token_index =
            ev->phase == WL_PHASE_DECODE && r->cur_out >= 0 ? (int64_t)r->n_input + r->cur_out : -1;
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
                r->layer_dur[r->cur_lbase + (size_t)ev->layer] += now - r->layer_t0[ev->layer];
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
    struct wl_hooks h = {.fn = on_event,
                         .user_data = r,
                         .depth = depth[r->p.depth],
                         .activations = r->p.activations};
    return h;
}

/* Peaks and windows over the sampler's samples and marks: pure functions
 * of the public structs in sampler.h (a sample's power window, the peak of
 * spans between marks, a window's energy, average and dynamic energy),
 * with no sampler state; see sampler.h for the contract. */
#include "sampler/sampler.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

uint64_t wl_sample_energy_t_ns(const struct wl_sample *s, enum wl_domain d)
{
    const int32_t dt = (unsigned)d < WL_DOMAIN_COUNT ? s->energy_dt_ns[d] : 0;
    return dt >= 0 ? s->t_ns + (uint64_t)dt : s->t_ns - (uint64_t)(-(int64_t)dt);
}

bool wl_sample_power_within(const struct wl_sample *s, enum wl_domain d, uint64_t t0_ns,
                            uint64_t t1_ns)
{
    if (!(s->power_mask & (1u << d)))
        return false;
    const uint64_t a = s->power_from_ns[d], b = s->t_ns;
    if (a == b)
        return b >= t0_ns && b <= t1_ns; /* a read power: an instant */
    if (a > b)
        return false; /* not made by the sampler; and b - a below must not wrap */
    const uint64_t lo = a > t0_ns ? a : t0_ns, hi = b < t1_ns ? b : t1_ns;
    /* >= 90 % of the window inside: a peak diluted by at most 10 % (the
     * sampler's origin reads come a few microseconds before a command) */
    return hi > lo && (hi - lo) * 10 >= (b - a) * 9;
}

void wl_peak_update(struct wl_peak *pk, const struct wl_sample *s, enum wl_domain d)
{
    if ((s->power_mask & (1u << d)) && s->power_w[d] > pk->power_w) {
        pk->power_w = s->power_w[d];
        pk->t_ns = s->t_ns;
        pk->phase = s->phase;
    }
}

/* The span [t0, t1] with cumulative energies e0, e1 as a peak candidate. */
static void span_peak(struct wl_peak *pk, uint64_t t0, uint64_t e0, uint64_t t1, uint64_t e1,
                      uint32_t phase)
{
    if (t1 <= t0)
        return;
    /* as wl_energy_window_avg_w computes it, so that a single span (the
     * whole window) gives exactly the window's average */
    const double j = e1 >= e0 ? (double)(e1 - e0) / 1e6 : 0;
    const double w = j / ((double)(t1 - t0) / 1e9);
    if (!pk->t_ns || w > pk->power_w) {
        pk->power_w = w;
        pk->t_ns = t1;
        pk->phase = phase;
    }
}

void wl_span_peak_begin(struct wl_span_peak *sp, const struct wl_energy_mark *begin,
                        enum wl_domain d, uint64_t span_ns)
{
    memset(sp, 0, sizeof *sp);
    sp->d = d;
    sp->on = (unsigned)d < WL_DOMAIN_COUNT && (begin->valid_mask & (1u << d));
    sp->whole = span_ns == WL_PEAK_SPAN_UNKNOWN;
    sp->min_ns = sp->whole ? 0 : span_ns - span_ns / 10; /* the sampler's own 10 % slack */
    sp->t0_ns = sp->s.cur_t_ns = begin->t_ns;
    sp->e0_uj = sp->s.cur_e_uj = sp->on ? begin->energy_uj[d] : 0;
}

void wl_span_peak_add(struct wl_span_peak *sp, const struct wl_sample *x)
{
    if (!sp->on || x->t_ns <= sp->t0_ns)
        return;
    const enum wl_domain d = sp->d;
    struct wl_span_state *s = &sp->s;
    /* a span runs to when x's energy was read, not to x's time (the middle
     * of all the sensors' reads): a span's energy over a duration it does
     * not cover put peaks of a constant power 1-3 % above its average */
    const uint64_t te = wl_sample_energy_t_ns(x, d);
    /* x comes before the end (the caller's part), so its power window lies
     * inside the window as soon as it starts late enough */
    const bool within = wl_sample_power_within(x, d, sp->t0_ns, UINT64_MAX);
    if (x->valid_mask & (1u << d)) {
        /* where an end without d ends the window: s before x, x's reading */
        sp->have_read = true;
        sp->before_read = *s;
        sp->read_t_ns = te;
        sp->read_e_uj = x->energy_uj[d];
        memset(&sp->read_pk, 0, sizeof sp->read_pk);
        if (within)
            wl_peak_update(&sp->read_pk, x, d);
    }
    s->phase = x->phase;
    if (within)
        wl_peak_update(&s->pk, x, d);
    if (sp->whole || !(x->valid_mask & (1u << d)) || te <= s->cur_t_ns ||
        te - s->cur_t_ns < sp->min_ns)
        return;
    if (s->have_prev)
        span_peak(&s->pk, s->prev_t_ns, s->prev_e_uj, s->cur_t_ns, s->cur_e_uj, s->prev_phase);
    s->prev_t_ns = s->cur_t_ns;
    s->prev_e_uj = s->cur_e_uj;
    s->prev_phase = s->phase;
    s->have_prev = true;
    s->cur_t_ns = te;
    s->cur_e_uj = x->energy_uj[d];
}

/* The peak of the spans s over [t0, t1], t1 with energy e1: wl_span_peak_end's part. */
static void span_state_end(const struct wl_span_peak *sp, const struct wl_span_state *s,
                           uint64_t t1, uint64_t e1, struct wl_peak *pk)
{
    const uint64_t t0 = sp->t0_ns;
    if ((t1 > t0 ? t1 - t0 : 0) < sp->min_ns) {
        pk->too_short = true;
        return;
    }
    if (t1 <= t0)
        return;
    /* a counter whose window is not known that did not move at all (a
     * frozen or dead counter, or one slower than the window): its power is
     * unknown, not the 0 W its average would say; a read power still counts */
    if (sp->whole && e1 == sp->e0_uj && !s->pk.t_ns)
        return;
    *pk = s->pk;
    /* whole (no span length known): add closed no span and min_ns is 0, so
     * the open span [t0, t1] is the one span, in the second branch */
    if (s->cur_t_ns >= t1) {
        /* a sample at or past the end was added: the spans no longer
         * partition the window, so keep the promise with its own average */
        span_peak(pk, t0, sp->e0_uj, t1, e1, s->phase);
    } else if (t1 - s->cur_t_ns >= sp->min_ns) {
        if (s->have_prev)
            span_peak(pk, s->prev_t_ns, s->prev_e_uj, s->cur_t_ns, s->cur_e_uj, s->prev_phase);
        span_peak(pk, s->cur_t_ns, s->cur_e_uj, t1, e1, s->phase);
    } else {
        /* the short remainder joins the span before it (there is one: the
         * window is at least min_ns long, so the open span is not its first) */
        span_peak(pk, s->prev_t_ns, s->prev_e_uj, t1, e1, s->prev_phase);
    }
}

void wl_span_peak_end(struct wl_span_peak *sp, const struct wl_energy_mark *end, struct wl_peak *pk)
{
    memset(pk, 0, sizeof *pk);
    if (!sp->on)
        return;
    if (end->valid_mask & (1u << sp->d)) {
        span_state_end(sp, &sp->s, end->t_ns, end->energy_uj[sp->d], pk);
        return;
    }
    if (!sp->have_read)
        return;
    /* the end's read of d failed: the window ends at the last reading of
     * it, which is what adding that sample to the spans before it and
     * ending there gives, its own power counted as add counts it */
    span_state_end(sp, &sp->before_read, sp->read_t_ns, sp->read_e_uj, pk);
    if (!pk->too_short && sp->read_pk.t_ns && sp->read_pk.power_w > pk->power_w) {
        pk->power_w = sp->read_pk.power_w;
        pk->t_ns = sp->read_pk.t_ns;
        pk->phase = sp->read_pk.phase;
    }
}

void wl_window_peak(const struct wl_sample *samples, size_t n, const struct wl_energy_window *w,
                    enum wl_domain d, uint64_t span_ns, struct wl_peak *pk)
{
    struct wl_span_peak sp;
    wl_span_peak_begin(&sp, &w->begin, d, span_ns);
    for (size_t i = 0; i < n; i++) {
        if (samples[i].t_ns < w->end.t_ns) /* before the end: what add leaves to us */
            wl_span_peak_add(&sp, &samples[i]);
    }
    wl_span_peak_end(&sp, &w->end, pk);
}

uint64_t wl_energy_window_dur_ns(const struct wl_energy_window *w)
{
    return w->end.t_ns > w->begin.t_ns ? w->end.t_ns - w->begin.t_ns : 0;
}

bool wl_energy_window_has(const struct wl_energy_window *w, enum wl_domain d)
{
    unsigned bit = 1u << d;
    return (unsigned)d < WL_DOMAIN_COUNT && (w->begin.valid_mask & bit) &&
           (w->end.valid_mask & bit);
}

double wl_energy_window_j(const struct wl_energy_window *w, enum wl_domain d)
{
    if (!wl_energy_window_has(w, d))
        return 0;
    uint64_t a = w->begin.energy_uj[d], b = w->end.energy_uj[d];
    return b >= a ? (double)(b - a) / 1e6 : 0;
}

double wl_energy_window_avg_w(const struct wl_energy_window *w, enum wl_domain d)
{
    uint64_t dur = wl_energy_window_dur_ns(w);
    return dur ? wl_energy_window_j(w, d) / ((double)dur / 1e9) : 0;
}

double wl_energy_window_dynamic_j(const struct wl_energy_window *w, const struct wl_baseline *b,
                                  enum wl_domain d)
{
    double base = (b && b->valid && (b->valid_mask & (1u << d))) ? b->power_w[d] : 0;
    return wl_energy_window_j(w, d) - base * (double)wl_energy_window_dur_ns(w) / 1e9;
}

/* Sampler thread, ring buffer, energy marks, baseline and gaps (peaks and
 * windows over its samples: sampler_windows.c); see
 * sampler.h for the contract. Locking: s->mu protects everything the thread
 * updates (channel integration state, ring, latest sample, peaks, gaps,
 * counters); sensor reads happen outside s->mu, each under its sensor's
 * rd_mu together with the update of its counters' running totals (so
 * readings are applied in the order they were taken, by the thread or a
 * mark), so a mark never waits for the whole sampling pass, only for one
 * sensor read. Lock order: rd_mu, then mu (a read that sees a counter
 * discontinuity records it under both, so discontinuities are recorded in
 * the order they were read); never rd_mu while holding mu.
 */
#include "sampler/sampler.h"
#include "sampler/sampler_impl.h"

#include "util/clock.h"
#include "util/log.h"
#include "util/signals.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SENSORS 8
#define MAX_CHANS (MAX_SENSORS * WL_SENSOR_MAX_CHANNELS)
/* a sensor's discontinuous channels are bits of a uint64_t (struct falls) */
_Static_assert(WL_SENSOR_MAX_CHANNELS <= 64, "one bit per channel of a sensor in a uint64_t");
/* warnings logged per channel for its counter's discontinuities (as the
 * sensor layer's per counter); the gaps still record every one */
#define FALL_LOGS_PER_CHAN 3

struct chan {
    unsigned sensor, ch;
    enum wl_domain d;
    bool counter;         /* energy from the sensor's cumulative counter */
    bool has_power;       /* the sensor reads power for this channel */
    uint64_t period_ns;   /* span over which counter power is derived (under mu: a learned
                             one changes; 0 while it is not known) */
    uint64_t fail_t_ns;   /* the thread's read that began its current run of failed reads
                             (under mu; with sensor_state.failing) */
    uint64_t upd_ns;      /* its counter's update period: measured at open, or as learned
                             (under mu); 0 while not known */
    bool learn;           /* a counter whose update period was not measured at open: learned
                             from the changes the thread's reads see (under mu) */
    uint64_t chg_t_ns;    /* learn: the thread's read that last saw a change (0: none since
                             open or the last gap) */
    uint64_t chg_sum_ns;  /* learn: sum of the times between changes seen at consecutive
                             changes, and how many */
    uint32_t n_chg;
    /* counter continuity (under the sensor's rd_mu) */
    bool raw_known;    /* raw_* hold a read (false while it has not been read since open:
                          its first good read starts it, adding nothing) */
    uint64_t raw_uj;   /* the sensor's cumulative value at the last read */
    uint32_t raw_disc; /* the sensor's n_discontinuities at the last read */
    uint64_t raw_t_ns; /* that read's time (middle) */
    uint64_t cum_uj;   /* since open as counted: the rises of raw_uj (a fall adds nothing) */
    bool raw_fell;     /* that read saw a discontinuity (a fall) */
    uint32_t n_falls;  /* falls seen by any read (the thread's or a mark's) */
    uint32_t falls_at_thread_read; /* n_falls as of the thread's latest read */
    /* a stuck counter (under rd_mu; judge_stuck): its nominal update period
     * (0: not known, never judged), and the read since which it has not
     * changed (its first good read, or the latest read that saw it change):
     * its flat run runs from there to raw_t_ns */
    uint64_t nominal_ns;
    uint64_t flat_from_ns;
    bool read_failed;  /* its latest read (the thread's or a mark's) gave no value: its
                          flat run cannot grow, so it is never pending meanwhile */
    int stuck_gap;     /* under rd_mu and mu: its open WL_DISC_STUCK gap, -1 while none (or not
                          kept) */
    bool stuck;        /* under rd_mu and mu: its current flat run is judged stuck */
    bool stuck_warned; /* under mu: the one warning was logged */
    /* falls recorded (under mu, taken inside rd_mu) */
    int fall_gap;         /* index into gaps[] of its latest fall's gap, -1 if not kept */
    uint32_t n_fall_logs; /* its falls logged so far (FALL_LOGS_PER_CHAN) */
    /* thread state (under mu) */
    bool seen;       /* a read since open has read it (the origin's or the thread's): a
                        counter has a start; one without loses the energy of its gap */
    uint64_t e_uj;   /* cumulative since open (counter delta or integral) */
    uint64_t e_t_ns; /* when e_uj was read (its sensor's read, middle) */
    double integ_uj; /* power-only: trapezoid integral */
    double last_p_w;
    uint64_t last_t_ns;
    bool have_last;
    uint64_t ref_t_ns, ref_e_uj; /* counter power derivation reference */
    bool ref_stale; /* the reference is from before a gap: restart it at the next good read */
    uint32_t falls_seen; /* falls_at_thread_read taken in (thread only) */
    double p_w;
    bool p_known;       /* p_w holds a power (a counter has none before its first window) */
    bool p_instant;     /* p_w was read, not derived: it stands for the sample's instant */
    uint64_t p_from_ns; /* derived: start of the time p_w averages over */
};

/* A sensor's failed reads: the whole sensor, or some of its channels (a
 * GPU of several, one hwmon device: wl_sensor_read); one gap from the
 * first read at which any of its channels failed to the first at which
 * none did, its domains those of every channel that failed in it. */
struct sensor_state {
    uint64_t failing; /* bit (1 << chan.ch): its channel not read at the last sample */
    int gap_index;    /* index into gaps[] of the open gap, -1 if not kept */
};

struct wl_sampler {
    wl_sensor_set *set;
    unsigned n_sensors;
    wl_sensor *sensors[MAX_SENSORS];
    unsigned n_chans;
    bool any_power_only; /* a channel without a counter: marks need the thread's integral */
    struct chan chans[MAX_CHANS];
    uint16_t domain_mask; /* domains present */
    /* Domains with a power-only channel, and the most a mark has handed out
     * for each (under mu). A mark holds the last power read since the last
     * sample; if the power then falls, the trapezoid gives less for that
     * time than the mark did, so the domain's energy is kept at least this
     * (never a negative section) until the integral catches up. Per domain,
     * not per channel: one channel's fall can be made up by another's rise. */
    uint16_t power_only_mask;
    uint64_t marked_uj[WL_DOMAIN_COUNT];
    struct wl_domain_info dom[WL_DOMAIN_COUNT];
    uint64_t t0_ns;
    uint64_t interval_ns;

    _Atomic uint32_t phase;
    _Atomic uint64_t phase_since_ns; /* when phase last changed (wl_clock_now_ns) */
    _Atomic uint64_t max_read_ns;    /* wl_sampler_stats' max_read_ns (a maximum; any thread) */

    pthread_t thread;
    bool running; /* controlling thread only */
    pthread_mutex_t mu;
    pthread_mutex_t rd_mu[MAX_SENSORS]; /* a sensor's read + its counters' continuity */
    _Atomic bool stop;
    /* the thread waits for its next tick on wake_cv, which stop signals (set
     * under wake_mu: a stop between the thread's check and its wait is not
     * lost) */
    pthread_mutex_t wake_mu;
    pthread_cond_t wake_cv;
    bool wake_realtime; /* wake_cv waits on the realtime clock (wake_cv_init) */

    /* under mu */
    struct sensor_state sst[MAX_SENSORS];
    struct wl_sample *ring;
    size_t ring_cap, ring_head, ring_count;
    struct wl_sample latest;
    bool have_latest;
    struct wl_sampler_stats st;
    struct wl_sampler_gap gaps[WL_SAMPLER_MAX_GAPS];
    size_t n_gaps_kept;
    struct wl_baseline baseline;

    /* thread only */
    struct wl_sensor_reading rd[MAX_SENSORS];
    int rd_rc[MAX_SENSORS];
};

void wl_sampler_params_default(struct wl_sampler_params *p)
{
    memset(p, 0, sizeof *p);
}

/* Appends text to the NUL-terminated buf (size bytes), cut between
 * characters when it does not fit; returns the bytes appended. */
static size_t append_text(char *buf, size_t size, const char *text)
{
    size_t len = strlen(buf);
    if (len + 1 >= size)
        return 0;
    wl_utf8_copy(buf + len, size - len, text);
    return strlen(buf + len);
}

/* "backend: ch1, ch2, ...; backend2: ch3": the stored text of the domain's
 * source (new_backend: ch is a sensor's first channel of the domain, which
 * the domain's first channel always is), so a
 * channel name that does not fit is cut between characters (channel names
 * can be any bytes, see sensors.md), and a separator with none of the name
 * after it is dropped. */
static void append_source(struct wl_domain_info *di, const char *backend, const char *ch,
                          bool new_backend)
{
    char *s = di->sources;
    size_t size = sizeof di->sources, len = strlen(s);
    if (new_backend) {
        if (len)
            append_text(s, size, "; ");
        append_text(s, size, backend);
        append_text(s, size, ": ");
    } else {
        append_text(s, size, ", ");
    }
    if (append_text(s, size, ch) == 0 && ch[0] != '\0')
        s[len] = '\0';
}

/* Whether a later sensor's channels of domain d add to an earlier sensor's.
 * For GPUs they do: the backends read different boards (NVML NVIDIA's,
 * hwmon amdgpu/i915/xe the others; nouveau and NVIDIA's driver never drive
 * one board together), and a machine with an NVIDIA card and an AMD or
 * Intel GPU lost the second one without a word. For every other domain two
 * backends read the same hardware (RAPL and amd_energy/zenpower the CPU
 * package, the CPU model estimates it): the first sensor of the set wins,
 * nothing is counted twice. */
static bool domain_adds_across_sensors(enum wl_domain d)
{
    return d == WL_DOMAIN_GPU;
}

/* Domain d's power window, update period and peak span from its counters' (under
 * mu, or with the thread stopped: learned windows change). Every counter
 * counts, also one that reads power: a span's power is its energy delta,
 * which moves in the counter's steps whatever the sample powers are (NVML's
 * 1 mJ steps over spans of microseconds peaked a constant 50 W at 133 W).
 * A window not known yet is 0: no window, not a made-up one. */
static void fill_windows(const wl_sampler *s, struct wl_domain_info *di, enum wl_domain d)
{
    uint64_t w = 0, u = 0;
    bool unknown = false;
    for (unsigned k = 0; k < s->n_chans; k++) {
        const struct chan *c = &s->chans[k];
        if (c->d != d || !c->counter)
            continue;
        if (c->period_ns == 0)
            unknown = true;
        if (c->period_ns > w)
            w = c->period_ns;
        if (c->upd_ns > u)
            u = c->upd_ns;
    }
    di->power_window_ns = unknown ? 0 : w;
    di->update_period_ns = unknown ? 0 : u;
    di->peak_span_ns = unknown ? WL_PEAK_SPAN_UNKNOWN : w > s->interval_ns ? w : s->interval_ns;
}

/* The wake-up condition: on the monotonic clock where it can be, so that
 * its deadlines are the ticks' absolute times; else (macOS has no
 * pthread_condattr_setclock, or setting the clock failed) on the realtime
 * clock, the default. Returns whether it is the realtime clock: its
 * deadlines must then be realtime ones (wait_tick), or every wait would
 * end at once and the thread spin until its tick. */
static bool wake_cv_init(pthread_cond_t *cv)
{
#if !defined(__APPLE__)
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) == 0) {
        const bool ok =
            pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 && pthread_cond_init(cv, &a) == 0;
        pthread_condattr_destroy(&a);
        if (ok)
            return false;
    }
#endif
    pthread_cond_init(cv, NULL);
    return true;
}

/* Whether c was read by its sensor's read r (rc its result): the read
 * succeeded and has c's own kind of value, energy for a counter, power
 * for a power-only channel (a read can succeed with some channels failed:
 * wl_sensor_read). */
static bool chan_read(const struct chan *c, int rc, const struct wl_sensor_reading *r)
{
    return rc == 0 && (r->v[c->ch].valid & (c->counter ? WL_CH_ENERGY : WL_CH_POWER)) != 0;
}

/* The channels each sensor's read (s->rd[i], its result rc[i]; rc NULL:
 * every result 0) did not read, in one pass over the channels: fail[i]
 * holds bit 1 << chan.ch for each of sensor i's. */
static void chans_not_read(const wl_sampler *s, const int *rc, uint64_t fail[MAX_SENSORS])
{
    memset(fail, 0, MAX_SENSORS * sizeof *fail);
    for (unsigned k = 0; k < s->n_chans; k++) {
        const struct chan *c = &s->chans[k];
        if (!chan_read(c, rc ? rc[c->sensor] : 0, &s->rd[c->sensor]))
            fail[c->sensor] |= UINT64_C(1) << c->ch;
    }
}

/* Opens, extends or closes sensor i's gap of failed reads at sample time t
 * (under mu) from fail, the channels its read did not read (rc its
 * result); logs a change (no lock needed for the log). A counter takes a
 * gap in at its next good read, unless it has no start yet (not read
 * since open): its energy to that read is lost, as a power-only
 * channel's. A power-only channel is integrated from one good read to the
 * next, so what it loses starts at its last good read (last_t_ns, still
 * set: the caller clears have_last after this), not at the failed read:
 * the gap starts there, one interval before t. */
static void track_failed_reads(wl_sampler *s, unsigned i, int rc, uint64_t fail, uint64_t t)
{
    struct sensor_state *ss = &s->sst[i];
    if (!fail && !ss->failing)
        return; /* every read good, as before: the common case costs nothing */
    const struct wl_sensor_info *in = wl_sensor_get_info(s->sensors[i]);
    uint16_t doms = 0, lost = 0;
    int first = -1;         /* the first channel newly not read */
    uint64_t lost_from = t; /* where the lost energy starts */
    for (unsigned k = 0; k < s->n_chans; k++) {
        const struct chan *c = &s->chans[k];
        const uint64_t bit = UINT64_C(1) << c->ch;
        if (c->sensor != i || !(fail & bit))
            continue;
        doms |= (uint16_t)(1u << c->d);
        if (!c->counter || !c->seen)
            lost |= (uint16_t)(1u << c->d);
        if (!c->counter && c->have_last && c->last_t_ns < lost_from)
            lost_from = c->last_t_ns;
        if (!(ss->failing & bit))
            s->chans[k].fail_t_ns = t;
        if (first < 0 && !(ss->failing & bit))
            first = (int)c->ch;
    }
    if (fail && !ss->failing) {
        s->st.n_gaps++;
        ss->gap_index = -1;
        if (s->n_gaps_kept < WL_SAMPLER_MAX_GAPS) {
            ss->gap_index = (int)s->n_gaps_kept;
            struct wl_sampler_gap *g = &s->gaps[s->n_gaps_kept++];
            memset(g, 0, sizeof *g);
            g->sensor = i;
            g->error = rc != 0 ? rc : WL_ESENSOR;
            g->backend = in->backend;
            /* a counter takes the gap in at its next good read (the gap
             * starts at its failed read); a read power is lost from its
             * last good read (no integration across the gap) */
            g->domain_mask = doms;
            g->lost_mask = lost;
            g->t_start_ns = lost_from;
            g->t_end_ns = 0;
        }
        if (rc != 0)
            wl_log_warn("sampler", "%s: read failed (%s); recording a gap and continuing",
                        in->backend, wl_strerror(rc));
        else
            wl_log_warn("sampler",
                        "%s %s: not read (%u of its channels failed; the others are read); "
                        "recording a gap for its domain and continuing",
                        in->backend, first >= 0 ? in->ch[first].name : "?",
                        (unsigned)__builtin_popcountll(fail));
    } else if (fail && ss->gap_index >= 0) {
        /* more of its channels failing: the gap holds their domains too */
        s->gaps[ss->gap_index].domain_mask |= doms;
        s->gaps[ss->gap_index].lost_mask |= lost;
        if (lost_from < s->gaps[ss->gap_index].t_start_ns)
            s->gaps[ss->gap_index].t_start_ns = lost_from;
    } else if (!fail && ss->failing) {
        if (ss->gap_index >= 0)
            s->gaps[ss->gap_index].t_end_ns = t;
        wl_log_warn("sampler", "%s: reads work again; gap closed", in->backend);
    }
    ss->failing = fail;
}

int wl_sampler_open(wl_sensor_set *set, const struct wl_sampler_params *p_in, wl_sampler **out)
{
    struct wl_sampler_params p;
    if (!out)
        return WL_EINVAL;
    *out = NULL;
    if (p_in)
        p = *p_in;
    else
        wl_sampler_params_default(&p);
    unsigned n = wl_sensor_set_count(set);
    if (n == 0)
        return WL_EINVAL;
    if (n > MAX_SENSORS)
        n = MAX_SENSORS;
    wl_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return WL_ENOMEM;
    s->set = set;
    s->n_sensors = n;
    s->ring_cap = p.ring_capacity ? p.ring_capacity : WL_SAMPLER_DEFAULT_RING;
    s->ring = calloc(s->ring_cap, sizeof *s->ring);
    if (!s->ring) {
        free(s);
        return WL_ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    for (unsigned i = 0; i < n; i++)
        pthread_mutex_init(&s->rd_mu[i], NULL);
    pthread_mutex_init(&s->wake_mu, NULL);
    s->wake_realtime = wake_cv_init(&s->wake_cv);

    bool slow = false;
    uint16_t taken = 0; /* domains claimed by an earlier sensor */
    for (unsigned i = 0; i < n; i++) {
        wl_sensor *sen = wl_sensor_set_get(set, i);
        const struct wl_sensor_info *in = wl_sensor_get_info(sen);
        s->sensors[i] = sen;
        s->sst[i].gap_index = -1;
        if (strcmp(in->backend, "powermetrics") == 0)
            slow = true;
        uint16_t mine = 0; /* domains of this sensor's channels so far */
        for (unsigned c = 0; c < in->n_channels; c++) {
            const struct wl_sensor_channel *ch = &in->ch[c];
            if ((taken & (1u << ch->domain)) && !domain_adds_across_sensors(ch->domain)) {
                wl_log_info("sampler",
                            "%s %s: domain %s already measured by another sensor; "
                            "not summed",
                            in->backend, ch->name, wl_domain_name(ch->domain));
                continue;
            }
            struct chan *k = &s->chans[s->n_chans++];
            k->fall_gap = -1;
            k->stuck_gap = -1;
            k->nominal_ns = ch->nominal_period_ns;
            k->sensor = i;
            k->ch = c;
            k->d = ch->domain;
            k->counter = (ch->flags & WL_CH_ENERGY) != 0;
            k->has_power = (ch->flags & WL_CH_POWER) != 0;
            /* counter power is averaged over ~10 (>= 9) update periods of
             * its own counter so that +-1 update quantisation stays within
             * ~11 %; a period not measured at open (a counter slower than
             * the probe, or at rest) is learned while sampling: a window of
             * one interval over a counter updated every 100 ms gave 0 W and
             * 500 W for 50 W. Each channel's own period, not the sensor's:
             * one sensor's counters may update at different rates (an 8 ms
             * counter windowed by its 1 ms neighbour's 10 ms swung between
             * 0.8 and 1.6 x its power), and a counter not measured next to
             * measured ones is learned, not given theirs */
            k->learn = k->counter && ch->update_period_ns == 0;
            k->period_ns = ch->update_period_ns * 10;
            k->upd_ns = k->counter ? ch->update_period_ns : 0;
            /* a sensor's channels are all taken here: its first of a domain
             * starts a new backend's part of the source text */
            const bool first = !(mine & (1u << ch->domain));
            mine |= (uint16_t)(1u << ch->domain);
            struct wl_domain_info *di = &s->dom[ch->domain];
            if (!di->present) {
                di->present = true;
                di->counter = true;
                di->method = ch->method;
            }
            if (!k->counter) {
                di->counter = false;
                s->any_power_only = true;
                s->power_only_mask |= (uint16_t)(1u << ch->domain);
            }
            if (ch->method > di->method)
                di->method = ch->method;
            if (ch->flags & WL_CH_PART)
                di->part = true;
            di->n_channels++;
            append_source(di, in->backend, ch->name, first);
        }
        taken |= mine;
    }
    s->domain_mask = taken;
    s->interval_ns = p.interval_ns ? p.interval_ns : (slow ? 100000000ull : 10000000ull);
    s->st.interval_ns = s->interval_ns;
    s->st.requested_hz = 1e9 / (double)s->interval_ns;
    for (unsigned k = 0; k < s->n_chans; k++) {
        struct chan *c = &s->chans[k];
        if (!c->learn && c->period_ns < s->interval_ns)
            c->period_ns = s->interval_ns;
    }
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        if (s->dom[d].present)
            fill_windows(s, &s->dom[d], (enum wl_domain)d);

    /* origin reads */
    s->t0_ns = wl_clock_now_ns();
    for (unsigned i = 0; i < n; i++) {
        struct wl_sensor_reading *r = &s->rd[i];
        int rc = wl_sensor_read_settled(s->sensors[i], r);
        if (rc != 0) {
            wl_log_error("sampler", "%s: first read failed: %s",
                         wl_sensor_get_info(s->sensors[i])->backend, wl_strerror(rc));
            wl_sampler_close(s);
            return rc;
        }
    }
    for (unsigned k = 0; k < s->n_chans; k++) {
        struct chan *c = &s->chans[k];
        const struct wl_sensor_reading *r = &s->rd[c->sensor];
        uint64_t t = r->t_before_ns / 2 + r->t_after_ns / 2;
        /* a channel the origin read did not read starts at its first good
         * read: a gap from here to there (below) */
        c->raw_known = c->seen = chan_read(c, 0, r);
        c->raw_uj = r->v[c->ch].energy_uj;
        c->raw_disc = r->v[c->ch].n_discontinuities;
        c->raw_t_ns = t;
        c->flat_from_ns = t;
        c->ref_t_ns = t;
        c->ref_e_uj = 0;
        if (!c->counter && (r->v[c->ch].valid & WL_CH_POWER)) {
            c->last_p_w = r->v[c->ch].power_w;
            c->last_t_ns = t;
            c->have_last = true;
        }
    }
    uint64_t fail[MAX_SENSORS];
    chans_not_read(s, NULL, fail);
    for (unsigned i = 0; i < n; i++)
        track_failed_reads(s, i, 0, fail[i], s->t0_ns);
    *out = s;
    return 0;
}

static uint64_t read_mid_ns(const struct wl_sensor_reading *r)
{
    return r->t_before_ns / 2 + r->t_after_ns / 2;
}

/* The channels of sensor i whose counter was discontinuous (fell, or a
 * backend's unwrapper saw a discontinuity) at one read. */
struct falls {
    uint64_t mask;                        /* bit (1 << chan.ch): discontinuous */
    uint64_t cont;                        /* ... and its previous read was too */
    uint64_t log, log_last;               /* to log; the last one logged for it */
    uint8_t disc[WL_SENSOR_MAX_CHANNELS]; /* enum wl_counter_disc, by chan.ch */
    uint64_t t_prev, t;                   /* the read before (earliest), this read */
};

static const char *disc_text(enum wl_counter_disc d)
{
    switch (d) {
    case WL_DISC_ABOVE_RANGE:
        return "its energy counter read above its advertised range";
    case WL_DISC_BAD_WRAP:
        return "its energy counter went back, further than a wrap can explain";
    case WL_DISC_BAD_RISE:
        return "its energy counter jumped up by more than any real draw";
    case WL_DISC_LOST_SAMPLE:
        return "a sample from its source could not be read";
    case WL_DISC_AMBIGUOUS:
        return "its energy counter was not read for longer than it takes to wrap at 1 kW, so "
               "how many times it wrapped is unknown";
    default:
        return "its energy counter went back";
    }
}

/* Records f, sensor i's discontinuities at one read, as a gap whose energy
 * is unknown and not counted (called under rd_mu[i]: in read order). A
 * channel discontinuous at consecutive reads makes one gap: when every
 * channel in f was also discontinuous at its read before, f extends the gap
 * of those reads instead of adding one (a counter that misbehaves at every
 * read is one gap, not one per read). Sets f->log to the channels to warn
 * about (FALL_LOGS_PER_CHAN each; a gap's continuation is not logged). */
static void record_fall(wl_sampler *s, unsigned i, struct falls *f)
{
    unsigned causes = 0;
    for (unsigned c = 0; c < WL_SENSOR_MAX_CHANNELS; c++)
        if (f->mask & (UINT64_C(1) << c))
            causes |= 1u << f->disc[c];
    uint16_t doms = 0; /* the domains of the channels that fell */
    for (unsigned k = 0; k < s->n_chans; k++)
        if (s->chans[k].sensor == i && (f->mask & (UINT64_C(1) << s->chans[k].ch)))
            doms |= (uint16_t)(1u << s->chans[k].d);
    pthread_mutex_lock(&s->mu);
    if ((f->mask & ~f->cont) == 0) {
        /* every channel continues its previous read's gap (one gap: its
         * channels all fell at that read, so they share it) */
        for (unsigned k = 0; k < s->n_chans; k++) {
            const struct chan *c = &s->chans[k];
            if (c->sensor == i && (f->mask & (UINT64_C(1) << c->ch)) && c->fall_gap >= 0) {
                struct wl_sampler_gap *g = &s->gaps[c->fall_gap];
                g->t_end_ns = f->t;
                g->causes |= causes;
                g->domain_mask |= doms;
                g->lost_mask |= doms;
                break;
            }
        }
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->st.n_gaps++;
    int gap = -1;
    if (s->n_gaps_kept < WL_SAMPLER_MAX_GAPS) {
        gap = (int)s->n_gaps_kept++;
        struct wl_sampler_gap *g = &s->gaps[gap];
        memset(g, 0, sizeof *g);
        g->sensor = i;
        g->error = WL_ERANGE;
        g->counter_fell = true;
        g->causes = causes;
        g->backend = wl_sensor_get_info(s->sensors[i])->backend;
        g->domain_mask = g->lost_mask = doms; /* nothing counted from t_prev to t */
        g->t_start_ns = f->t_prev;
        g->t_end_ns = f->t;
    }
    for (unsigned k = 0; k < s->n_chans; k++) {
        struct chan *c = &s->chans[k];
        const uint64_t bit = UINT64_C(1) << c->ch;
        if (c->sensor != i || !(f->mask & bit))
            continue;
        c->fall_gap = gap;
        if (c->n_fall_logs < FALL_LOGS_PER_CHAN) {
            f->log |= bit;
            if (++c->n_fall_logs == FALL_LOGS_PER_CHAN)
                f->log_last |= bit;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* Logs f->log (no lock held). The span said is the gap's, f->t_prev to
 * f->t: from the previous read, or from a lost powermetrics sample's own
 * start (read_sensor), so not always "since the previous read". */
static void log_falls(wl_sampler *s, unsigned i, const struct falls *f)
{
    const struct wl_sensor_info *in = wl_sensor_get_info(s->sensors[i]);
    for (unsigned c = 0; c < in->n_channels; c++) {
        const uint64_t bit = UINT64_C(1) << c;
        if (!(f->log & bit))
            continue;
        wl_log_warn("sampler",
                    "%s %s: %s; its energy over the %.3f s this gap spans is unknown and not "
                    "counted%s",
                    in->backend, in->ch[c].name, disc_text((enum wl_counter_disc)f->disc[c]),
                    (double)(f->t - f->t_prev) / 1e9,
                    (f->log_last & bit) ? "; further ones are counted in the gaps, not logged"
                                        : "");
    }
}

/* Under mu and c's sensor's rd_mu: c's flat run [t0, t1] is stuck. Records
 * its gap when the run is new (counted in n_gaps; kept while the list has
 * room), else extends it to t1. Returns true when the channel's one
 * warning (warn_stuck) is still to be logged. */
static bool note_stuck(wl_sampler *s, struct chan *c, uint64_t t0, uint64_t t1)
{
    if (!c->stuck) {
        c->stuck = true;
        c->stuck_gap = -1;
        s->st.n_gaps++;
        if (s->n_gaps_kept < WL_SAMPLER_MAX_GAPS) {
            c->stuck_gap = (int)s->n_gaps_kept++;
            struct wl_sampler_gap *g = &s->gaps[c->stuck_gap];
            memset(g, 0, sizeof *g);
            g->sensor = c->sensor;
            g->error = WL_ERANGE;
            g->counter_fell = true;
            g->causes = 1u << WL_DISC_STUCK;
            g->backend = wl_sensor_get_info(s->sensors[c->sensor])->backend;
            g->domain_mask = g->lost_mask = (uint16_t)(1u << c->d);
            g->nominal_period_ns = c->nominal_ns;
            g->t_start_ns = t0;
        }
    }
    if (c->stuck_gap >= 0)
        s->gaps[c->stuck_gap].t_end_ns = t1;
    const bool warn = !c->stuck_warned;
    c->stuck_warned = true;
    return warn;
}

/* The one warning for a stuck channel (no lock held but maybe its rd_mu). */
static void warn_stuck(wl_sampler *s, const struct chan *c, uint64_t t0, uint64_t t1)
{
    const struct wl_sensor_info *in = wl_sensor_get_info(s->sensors[c->sensor]);
    wl_log_warn("sampler",
                "%s %s: its energy counter did not change once in %.3f s of reads "
                "(it updates about every %.3g ms): it is not measuring here, and "
                "%s's 0 J over that time is no measurement",
                in->backend, in->ch[c->ch].name, (double)(t1 - t0) / 1e9,
                (double)c->nominal_ns / 1e6, wl_domain_name(c->d));
}

/* Under c's sensor's rd_mu, at a read that saw counter c change: its flat
 * run (flat_from_ns up to the previous read) is over. A run judged stuck
 * keeps its gap, ending at the last flat read; one long enough that no
 * judge_stuck saw (nobody asked for the gaps meanwhile) is recorded now.
 * Takes mu only then (lock order rd_mu, mu). */
static void end_flat_run(wl_sampler *s, struct chan *c)
{
    const uint64_t t0 = c->flat_from_ns, t1 = c->raw_t_ns;
    const uint64_t after = wl__sampler_stuck_after_ns(c->nominal_ns);
    if (!after || (!c->stuck && (t1 < t0 || t1 - t0 < after)))
        return;
    pthread_mutex_lock(&s->mu);
    const bool warn = note_stuck(s, c, t0, t1);
    c->stuck = false;
    c->stuck_gap = -1;
    pthread_mutex_unlock(&s->mu);
    if (warn)
        warn_stuck(s, c, t0, t1);
}

/* Reads sensor i (settled or not) and carries its counter channels forward:
 * on success each one's energy_uj in r becomes its energy since open as
 * counted, which never falls. Backends hand out cumulative values, but one
 * can still fall, and a backend's own unwrapper counts a reset it sees in
 * n_discontinuities (sensor.h) instead of letting its total fall: either
 * is a discontinuity, the energy since the previous read unknown, so
 * nothing is counted for it (never a step of 2^64 - fall) and it is
 * recorded as a gap; counting resumes from the new value. by_thread: the
 * sampler thread's read, whose sample takes in every fall read up to it
 * (falls_at_thread_read). */
static int read_sensor(wl_sampler *s, unsigned i, bool settle, bool by_thread,
                       struct wl_sensor_reading *r)
{
    struct falls f;
    f.mask = f.cont = f.log = f.log_last = 0;
    f.t_prev = UINT64_MAX;
    pthread_mutex_lock(&s->rd_mu[i]);
    const int rc =
        settle ? wl_sensor_read_settled(s->sensors[i], r) : wl_sensor_read(s->sensors[i], r);
    if (rc == 0) {
        f.t = read_mid_ns(r);
        const uint64_t dur = r->t_after_ns > r->t_before_ns ? r->t_after_ns - r->t_before_ns : 0;
        uint64_t was = atomic_load_explicit(&s->max_read_ns, memory_order_relaxed);
        while (dur > was &&
               !atomic_compare_exchange_weak_explicit(&s->max_read_ns, &was, dur,
                                                      memory_order_relaxed, memory_order_relaxed))
            ; /* was is reloaded by a failed exchange */
        for (unsigned k = 0; k < s->n_chans; k++) {
            struct chan *c = &s->chans[k];
            if (c->sensor != i || !c->counter)
                continue;
            struct wl_channel_value *v = &r->v[c->ch];
            if (v->valid & WL_CH_ENERGY) {
                /* a discontinuity the backend saw (a reset: its total
                 * left the step out) is a fall too */
                const bool disc = v->n_discontinuities != c->raw_disc;
                const bool started = c->raw_known;
                if (!c->raw_known) {
                    /* its first read since open: the start, nothing
                     * counted (the energy before it is in its gap, lost) */
                    c->raw_known = true;
                    c->flat_from_ns = f.t;
                } else if (v->energy_uj >= c->raw_uj && !disc) {
                    c->cum_uj += v->energy_uj - c->raw_uj;
                    c->raw_fell = false;
                } else {
                    if (v->energy_uj >= c->raw_uj)
                        c->cum_uj += v->energy_uj - c->raw_uj; /* known: after the reset */
                    const uint64_t bit = UINT64_C(1) << c->ch;
                    f.mask |= bit;
                    if (c->raw_fell)
                        f.cont |= bit;
                    /* a total that fell without one: a backend that does not unwrap */
                    f.disc[c->ch] =
                        (uint8_t)(disc && v->disc != WL_DISC_NONE ? v->disc : WL_DISC_FELL);
                    /* the gap runs from the previous read, or from
                     * before it when the backend says the lost energy
                     * began earlier (a lost powermetrics sample covers its
                     * own interval), though not before the sampler began */
                    uint64_t from = c->raw_t_ns;
                    if (v->disc == WL_DISC_LOST_SAMPLE && v->lost_from_ns && v->lost_from_ns < from)
                        from = v->lost_from_ns > s->t0_ns ? v->lost_from_ns : s->t0_ns;
                    if (from < f.t_prev)
                        f.t_prev = from;
                    c->raw_fell = true;
                    c->n_falls++;
                }
                /* a change ends its flat run (not the first good read:
                 * raw_uj held the failed origin read's nothing), and so do
                 * failed reads: a flat run is not judged across them. A
                 * window its marks read flat before the failures was given
                 * its verdict while they lasted (not pending: read_failed,
                 * wl_sampler_stuck_over), which a flat run carried on past
                 * them would have turned into stuck afterwards */
                if (started && (v->energy_uj != c->raw_uj || disc || c->read_failed)) {
                    end_flat_run(s, c);
                    c->flat_from_ns = f.t;
                }
                c->raw_uj = v->energy_uj;
                c->raw_disc = v->n_discontinuities;
                c->raw_t_ns = f.t;
            }
            c->read_failed = !(v->valid & WL_CH_ENERGY);
            v->energy_uj = c->cum_uj; /* an invalid read leaves the total as it was */
            if (by_thread)
                c->falls_at_thread_read = c->n_falls;
        }
        if (f.mask)
            record_fall(s, i, &f);
    } else {
        for (unsigned k = 0; k < s->n_chans; k++)
            if (s->chans[k].sensor == i)
                s->chans[k].read_failed = true;
    }
    pthread_mutex_unlock(&s->rd_mu[i]);
    if (f.log)
        log_falls(s, i, &f);
    return rc;
}

/* Learns the update period of counter c from the thread's read at t (under
 * mu): the mean time between the reads that saw it change, each change
 * seen at most one interval after it happened, so the mean converges on
 * the period (a counter faster than the reads changes at every read: one
 * interval, then 10 intervals of window, on the safe side). The window is
 * known from the second change on. */
static void learn_period(struct chan *c, bool changed, uint64_t t, uint64_t interval_ns)
{
    if (!changed)
        return;
    if (c->chg_t_ns && t > c->chg_t_ns) {
        c->chg_sum_ns += t - c->chg_t_ns;
        c->n_chg++;
        c->upd_ns = c->chg_sum_ns / c->n_chg;
        const uint64_t w = c->upd_ns * 10;
        c->period_ns = w > interval_ns ? w : interval_ns;
    }
    c->chg_t_ns = t;
}

/* Updates a channel from a successful read at t, its sensor's own read
 * time (under mu): every energy/time pair below is from that one read. */
static void chan_update(struct chan *c, const struct wl_channel_value *v, uint64_t t,
                        uint64_t interval_ns)
{
    c->e_t_ns = t;
    if (c->counter) {
        const uint64_t prev_uj = c->e_uj;
        c->e_uj = v->energy_uj; /* since open, as read_sensor counts it: never falls */
        if (c->learn) {
            /* a change seen across a gap or a fall happened at an unknown
             * time: the next change starts the count again */
            if (c->ref_stale)
                c->chg_t_ns = 0;
            else
                learn_period(c, c->e_uj != prev_uj, t, interval_ns);
        }
        if (c->ref_stale) {
            /* both references from this read: a time from after a gap with
             * an energy from before it made the first window's power the
             * whole gap's energy over one window (after a fall: the
             * energy before it is not comparable) */
            c->ref_t_ns = t;
            c->ref_e_uj = c->e_uj;
            c->ref_stale = false;
            c->p_known = false;
        } else if (c->period_ns && t > c->ref_t_ns && (t - c->ref_t_ns) * 10 >= c->period_ns * 9) {
            /* 10 % slack: a tick that wakes a little early (t - ref = 9.99
             * ms of a 10 ms period) would otherwise repeat the old power and
             * make every other window twice as long */
            const uint64_t de = c->e_uj >= c->ref_e_uj ? c->e_uj - c->ref_e_uj : 0; /* never < */
            c->p_w = (double)de / ((double)(t - c->ref_t_ns) / 1e3);                /* uJ/us = W */
            c->p_known = true;
            c->p_instant = false;
            c->p_from_ns = c->ref_t_ns;
            c->ref_t_ns = t;
            c->ref_e_uj = c->e_uj;
        }
        if (v->valid & WL_CH_POWER) {
            c->p_w = v->power_w;
            c->p_known = true;
            c->p_instant = true;
        }
    } else {
        const bool has_p = (v->valid & WL_CH_POWER) != 0;
        double p = has_p ? v->power_w : 0;
        if (c->have_last && t > c->last_t_ns)
            c->integ_uj += (c->last_p_w + p) / 2.0 * (double)(t - c->last_t_ns) / 1e3;
        c->last_p_w = p;
        c->last_t_ns = t;
        c->have_last = true;
        c->e_uj = (uint64_t)(c->integ_uj + 0.5);
        c->p_w = p;
        c->p_known = has_p;
        c->p_instant = true;
    }
}

/* t_own - t as a sample's energy_dt_ns (a read pass longer than 2 s is cut) */
static int32_t energy_dt(uint64_t t_own, uint64_t t)
{
    if (t_own >= t)
        return t_own - t > INT32_MAX ? INT32_MAX : (int32_t)(t_own - t);
    return t - t_own > INT32_MAX ? -INT32_MAX : -(int32_t)(t - t_own);
}

static void take_sample(wl_sampler *s)
{
    /* the phase at the sample's time: reads can be slow (a bus, a stall), so
     * a phase that changed during them is told by when it changed */
    const uint32_t phase_before = atomic_load_explicit(&s->phase, memory_order_acquire);
    for (unsigned i = 0; i < s->n_sensors; i++)
        s->rd_rc[i] = read_sensor(s, i, true, true, &s->rd[i]);
    uint64_t t_before = s->rd[0].t_before_ns, t_after = s->rd[s->n_sensors - 1].t_after_ns;
    if (s->rd_rc[0] != 0 || s->rd_rc[s->n_sensors - 1] != 0)
        t_before = t_after = wl_clock_now_ns();
    uint64_t t = t_before / 2 + t_after / 2;

    struct wl_sample smp;
    memset(&smp, 0, sizeof smp);
    smp.t_ns = t;
    const uint32_t phase_after = atomic_load_explicit(&s->phase, memory_order_acquire);
    smp.phase = phase_after == phase_before ||
                        t >= atomic_load_explicit(&s->phase_since_ns, memory_order_relaxed)
                    ? phase_after
                    : phase_before;
    double pw[WL_DOMAIN_COUNT] = {0};

    pthread_mutex_lock(&s->mu);
    uint64_t fail[MAX_SENSORS];
    chans_not_read(s, s->rd_rc, fail); /* one pass; the channel loop below tests its bits */
    for (unsigned i = 0; i < s->n_sensors; i++)
        track_failed_reads(s, i, s->rd_rc[i], fail[i], t);
    uint16_t bad = 0;
    for (unsigned k = 0; k < s->n_chans; k++) {
        struct chan *c = &s->chans[k];
        if (fail[c->sensor] & (UINT64_C(1) << c->ch)) {
            bad |= (uint16_t)(1u << c->d);
            c->have_last = false; /* no integration across a gap */
            c->ref_stale = true;  /* counter power (and learning) restarts at the next good read */
            c->p_known = false;   /* and is unknown until its next full window */
            continue;
        }
        c->seen = true;
        const struct wl_sensor_reading *r = &s->rd[c->sensor];
        const uint64_t t_own = read_mid_ns(r);
        /* a fall seen by this read or a mark's before it restarts the power
         * (not one a mark read after it: that is the next sample's) */
        if (c->falls_seen != c->falls_at_thread_read) {
            c->falls_seen = c->falls_at_thread_read;
            c->ref_stale = true;
        }
        chan_update(c, &r->v[c->ch], t_own, s->interval_ns);
    }
    uint16_t p_unknown = 0;
    uint64_t e_lo[WL_DOMAIN_COUNT] = {0}, e_hi[WL_DOMAIN_COUNT] = {0};
    for (unsigned k = 0; k < s->n_chans; k++) {
        const struct chan *c = &s->chans[k];
        smp.energy_uj[c->d] += c->e_uj;
        if (!(bad & (1u << c->d))) {
            /* the domain's read times: one sensor's, or a GPU domain's two */
            if (e_hi[c->d] == 0 || c->e_t_ns < e_lo[c->d])
                e_lo[c->d] = c->e_t_ns;
            if (c->e_t_ns > e_hi[c->d])
                e_hi[c->d] = c->e_t_ns;
        }
        pw[c->d] += c->p_w;
        if (!c->p_known)
            p_unknown |= (uint16_t)(1u << c->d);
        /* a domain's power covers the longest of its channels' windows */
        /* a read power is the sample's instant (t is the middle of all the
         * sensors' reads, so a later sensor's own read time can be after it) */
        const uint64_t from = c->p_instant ? t : c->p_from_ns;
        if (smp.power_from_ns[c->d] == 0 || from < smp.power_from_ns[c->d])
            smp.power_from_ns[c->d] = from;
    }
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (e_hi[d])
            smp.energy_dt_ns[d] = energy_dt(e_lo[d] / 2 + e_hi[d] / 2, t);
        if ((s->power_only_mask & ~bad) & (1u << d) && smp.energy_uj[d] < s->marked_uj[d])
            smp.energy_uj[d] = s->marked_uj[d];
    }
    smp.gap_mask = bad;
    smp.valid_mask = (uint16_t)(s->domain_mask & ~bad);
    smp.power_mask = (uint16_t)(smp.valid_mask & ~p_unknown);
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        smp.power_w[d] = (smp.power_mask & (1u << d)) ? (float)pw[d] : NAN;
        wl_peak_update(&s->st.peak[d], &smp, (enum wl_domain)d);
    }
    size_t slot = (s->ring_head + s->ring_count) % s->ring_cap;
    if (s->ring_count == s->ring_cap) {
        s->ring_head = (s->ring_head + 1) % s->ring_cap;
        s->st.n_overflow++;
    } else {
        s->ring_count++;
    }
    s->ring[slot] = smp;
    s->latest = smp;
    s->have_latest = true;
    if (s->st.n_samples == 0)
        s->st.t_first_ns = t;
    s->st.t_last_ns = t;
    s->st.n_samples++;
    pthread_mutex_unlock(&s->mu);
}

/* Waits until the monotonic time t_ns, or until wl_sampler_stop() asks to
 * stop (at once: the old clock_nanosleep waited out the interval, up to the
 * 60 s that `measure -i` allows, with the command a zombie meanwhile). */
static void wait_tick(wl_sampler *s, uint64_t t_ns)
{
    pthread_mutex_lock(&s->wake_mu);
    for (;;) {
        if (atomic_load_explicit(&s->stop, memory_order_acquire))
            break;
        const uint64_t now = wl_clock_now_ns();
        if (now >= t_ns)
            break;
        /* on a realtime condition, the same deadline on the realtime clock;
         * the loop checks it against the monotonic one, should the realtime
         * clock be set */
        const uint64_t deadline =
            s->wake_realtime ? (uint64_t)wl_clock_realtime_ns() + (t_ns - now) : t_ns;
        const struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000ull),
                                    .tv_nsec = (long)(deadline % 1000000000ull)};
        pthread_cond_timedwait(&s->wake_cv, &s->wake_mu, &ts);
    }
    pthread_mutex_unlock(&s->wake_mu);
}

/* The loop waits for absolute deadlines (no drift) on a condition that
 * stop signals, so stopping takes no longer than the sample in progress. */
static void *sampler_main(void *arg)
{
    wl_sampler *s = arg;
    uint64_t next = wl_clock_now_ns();
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        take_sample(s);
        next += s->interval_ns;
        uint64_t now = wl_clock_now_ns();
        if (now > next) {
            uint64_t missed = (now - next) / s->interval_ns + 1;
            next += missed * s->interval_ns;
            pthread_mutex_lock(&s->mu);
            s->st.n_missed_ticks += missed;
            pthread_mutex_unlock(&s->mu);
        }
        wait_tick(s, next);
    }
    uint64_t cpu = wl_clock_thread_cpu_ns();
    pthread_mutex_lock(&s->mu);
    s->st.thread_cpu_ns = cpu;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int wl_sampler_start(wl_sampler *s)
{
    if (s->running)
        return WL_ESTATE;
    atomic_store_explicit(&s->stop, false, memory_order_release);
    if (wl_signals_thread_create(&s->thread, NULL, sampler_main, s) != 0)
        return WL_ENOMEM;
    s->running = true;
    return 0;
}

void wl__sampler_judge_rate(uint64_t n, uint64_t t_first_ns, uint64_t t_last_ns,
                            double requested_hz, double *achieved_hz, bool *judged, bool *ok)
{
    if (n >= 2 && t_last_ns > t_first_ns)
        *achieved_hz = (double)(n - 1) / ((double)(t_last_ns - t_first_ns) / 1e9);
    else
        *achieved_hz = 0;
    const double ratio = requested_hz > 0 ? *achieved_hz / requested_hz : 0;
    *judged = n >= 5;
    *ok = !*judged || (ratio >= 0.8 && ratio <= 1.2);
}

uint64_t wl__sampler_stuck_after_ns(uint64_t nominal_ns)
{
    if (nominal_ns == 0)
        return 0;
    const uint64_t ten = nominal_ns > UINT64_MAX / 10 ? UINT64_MAX : nominal_ns * 10;
    return ten > 100000000 ? ten : 100000000;
}

/* Judges every counter with a nominal update period whose current flat run
 * (no change since its first good read, or since the latest read that saw
 * it change) spans wl__sampler_stuck_after_ns of reads: it is not measuring
 * (frozen, virtualised, dead), so its domain's 0 J over that time is no
 * measurement. Records the run as a gap of its domain whose energy is not
 * counted (WL_DISC_STUCK, from the run's first read to its latest; a later
 * call extends it while it stays flat; a change closes it, end_flat_run)
 * and warns once per channel. Called where the gaps and the stuck
 * domains are handed out (wl_sampler_gaps, wl_sampler_stuck_over,
 * wl_sampler_stop). Only counters with a nominal period are judged: uncore
 * (pp1, a client part's integrated GPU) has none on purpose, as its
 * counter legitimately rests while that GPU is idle (on many parts it
 * never moves on a headless run), so flat is no sign it is broken; nor do
 * psys (checked at open by its backend) or hwmon's ~1 s counters. */
static void judge_stuck(wl_sampler *s)
{
    for (unsigned k = 0; k < s->n_chans; k++) {
        struct chan *c = &s->chans[k];
        if (!c->counter || !c->nominal_ns)
            continue;
        const uint64_t after = wl__sampler_stuck_after_ns(c->nominal_ns);
        bool warn = false;
        pthread_mutex_lock(&s->rd_mu[c->sensor]);
        const uint64_t t0 = c->flat_from_ns, t1 = c->raw_t_ns;
        if (c->raw_known && t1 >= t0 && t1 - t0 >= after) {
            pthread_mutex_lock(&s->mu);
            warn = note_stuck(s, c, t0, t1);
            pthread_mutex_unlock(&s->mu);
        }
        pthread_mutex_unlock(&s->rd_mu[c->sensor]);
        if (warn)
            warn_stuck(s, c, t0, t1);
    }
}

uint16_t wl_sampler_stuck_over(wl_sampler *s, uint64_t t0_ns, uint64_t t1_ns, uint16_t *pending)
{
    judge_stuck(s);
    uint16_t stuck = 0, pend = 0;
    for (unsigned k = 0; k < s->n_chans; k++) {
        struct chan *c = &s->chans[k];
        if (!c->counter || !c->nominal_ns)
            continue;
        const uint16_t bit = (uint16_t)(1u << c->d);
        pthread_mutex_lock(&s->rd_mu[c->sensor]);
        pthread_mutex_lock(&s->mu);
        /* its current flat run began by t0: it has not changed since. Not
         * pending while its reads fail: its flat run cannot grow then (a
         * failed read is no read), so it would be pending until the stop,
         * and the marks lack its domain anyway */
        if (c->raw_known && c->flat_from_ns <= t0_ns) {
            if (c->stuck)
                stuck |= bit;
            else if (!c->read_failed)
                pend |= bit;
        }
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_unlock(&s->rd_mu[c->sensor]);
    }
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_gaps_kept; i++) {
        const struct wl_sampler_gap *g = &s->gaps[i];
        if (g->counter_fell && g->causes == 1u << WL_DISC_STUCK && g->t_start_ns <= t0_ns &&
            g->t_end_ns >= t1_ns)
            stuck |= g->lost_mask;
    }
    pthread_mutex_unlock(&s->mu);
    if (pending)
        *pending = (uint16_t)(pend & ~stuck);
    return stuck;
}

static void finish_rate(wl_sampler *s)
{
    struct wl_sampler_stats *st = &s->st;
    wl__sampler_judge_rate(st->n_samples, st->t_first_ns, st->t_last_ns, st->requested_hz,
                           &st->achieved_hz, &st->rate_judged, &st->rate_ok);
}

/* The domains of sensor i's counters that its open gap of failed reads
 * has lost so far (under rd_mu[i] and mu): those still failing, and not
 * read since by a mark (whose read counted their energy). A counter takes
 * a gap in at its next good read, but none has come: its energy from the
 * gap's start is not in any mark or sample yet, and with the sensor never
 * read again (a zone gone for good, powermetrics that exited) never will
 * be. 0 when the sensor has no open failed-read gap kept. */
static uint16_t open_gap_lost(const wl_sampler *s, unsigned i)
{
    const struct sensor_state *ss = &s->sst[i];
    if (!ss->failing || ss->gap_index < 0 || s->gaps[ss->gap_index].t_end_ns)
        return 0;
    uint16_t lost = 0;
    for (unsigned k = 0; k < s->n_chans; k++) {
        const struct chan *c = &s->chans[k];
        if (c->sensor == i && c->counter && (ss->failing & (UINT64_C(1) << c->ch)) &&
            (!c->raw_known || c->raw_t_ns < c->fail_t_ns))
            lost |= (uint16_t)(1u << c->d);
    }
    return lost;
}

int wl_sampler_stop(wl_sampler *s)
{
    if (!s->running)
        return WL_ESTATE;
    pthread_mutex_lock(&s->wake_mu);
    atomic_store_explicit(&s->stop, true, memory_order_release);
    pthread_cond_signal(&s->wake_cv);
    pthread_mutex_unlock(&s->wake_mu);
    pthread_join(s->thread, NULL);
    s->running = false;
    judge_stuck(s);
    pthread_mutex_lock(&s->mu);
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        if (s->dom[d].present)
            fill_windows(s, &s->dom[d], (enum wl_domain)d); /* what was learned */
    finish_rate(s);
    struct wl_sampler_stats st = s->st;
    pthread_mutex_unlock(&s->mu);
    if (!st.rate_ok)
        wl_log_warn("sampler",
                    "achieved %.4g samples/s, requested %.4g (more than 20 %% off; "
                    "the machine is busy or the sensors are slow)",
                    st.achieved_hz, st.requested_hz);
    return 0;
}

void wl_sampler_close(wl_sampler *s)
{
    if (!s)
        return;
    if (s->running)
        wl_sampler_stop(s);
    pthread_mutex_destroy(&s->mu);
    for (unsigned i = 0; i < s->n_sensors; i++)
        pthread_mutex_destroy(&s->rd_mu[i]);
    pthread_mutex_destroy(&s->wake_mu);
    pthread_cond_destroy(&s->wake_cv);
    free(s->ring);
    free(s);
}

void wl_sampler_set_phase(wl_sampler *s, uint32_t phase)
{
    atomic_store_explicit(&s->phase_since_ns, wl_clock_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&s->phase, phase, memory_order_release);
}

uint32_t wl_sampler_get_phase(const wl_sampler *s)
{
    return atomic_load_explicit(&((wl_sampler *)s)->phase, memory_order_relaxed);
}

static int mark(wl_sampler *s, struct wl_energy_mark *out, bool settle)
{
    struct wl_sensor_reading r;
    uint64_t e[WL_DOMAIN_COUNT] = {0};
    uint16_t bad = 0;
    uint64_t t_mid = 0;
    unsigned n_ok = 0;
    /* counters first, read now, one sensor at a time */
    for (unsigned i = 0; i < s->n_sensors; i++) {
        bool any_counter = false;
        for (unsigned k = 0; k < s->n_chans; k++)
            any_counter = any_counter || (s->chans[k].sensor == i && s->chans[k].counter);
        if (!any_counter)
            continue;
        const int rc = read_sensor(s, i, settle, false, &r);
        for (unsigned k = 0; k < s->n_chans; k++) {
            const struct chan *c = &s->chans[k];
            if (c->sensor != i || !c->counter)
                continue;
            if (rc != 0 || !(r.v[c->ch].valid & WL_CH_ENERGY)) {
                bad |= (uint16_t)(1u << c->d);
                continue;
            }
            e[c->d] += r.v[c->ch].energy_uj; /* since open, never falling (read_sensor) */
        }
        if (rc == 0) {
            t_mid += read_mid_ns(&r);
            n_ok++;
        }
    }
    uint64_t now = n_ok ? t_mid / n_ok : wl_clock_now_ns();
    /* power-only channels: the thread's integral, held at the last power
     * (no lock when there are none: the profiler marks at every section) */
    if (!s->any_power_only)
        goto out;
    pthread_mutex_lock(&s->mu);
    for (unsigned k = 0; k < s->n_chans; k++) {
        struct chan *c = &s->chans[k];
        if (c->counter)
            continue;
        if (s->sst[c->sensor].failing & (UINT64_C(1) << c->ch)) {
            bad |= (uint16_t)(1u << c->d);
            continue;
        }
        double extra = (c->have_last && now > c->last_t_ns)
                           ? c->last_p_w * (double)(now - c->last_t_ns) / 1e3
                           : 0;
        e[c->d] += (uint64_t)(c->integ_uj + extra + 0.5);
    }
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        if ((s->power_only_mask & ~bad) & (1u << d)) {
            if (e[d] < s->marked_uj[d])
                e[d] = s->marked_uj[d];
            s->marked_uj[d] = e[d];
        }
    pthread_mutex_unlock(&s->mu);
out:
    out->t_ns = now;
    out->valid_mask = (uint16_t)(s->domain_mask & ~bad);
    memcpy(out->energy_uj, e, sizeof e);
    return 0;
}

int wl_sampler_mark(wl_sampler *s, struct wl_energy_mark *out)
{
    return mark(s, out, false);
}

int wl_sampler_mark_settled(wl_sampler *s, struct wl_energy_mark *out)
{
    return mark(s, out, true);
}

int wl_sampler_window_begin(wl_sampler *s, struct wl_energy_window *w)
{
    memset(&w->end, 0, sizeof w->end);
    return wl_sampler_mark_settled(s, &w->begin);
}

int wl_sampler_window_end(wl_sampler *s, struct wl_energy_window *w)
{
    return wl_sampler_mark_settled(s, &w->end);
}

int wl_sampler_snapshot(wl_sampler *s, struct wl_sample *out)
{
    pthread_mutex_lock(&s->mu);
    bool have = s->have_latest;
    if (have)
        *out = s->latest;
    pthread_mutex_unlock(&s->mu);
    return have ? 0 : WL_ENOENT;
}

size_t wl_sampler_drain(wl_sampler *s, struct wl_sample *out, size_t max)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->ring_count < max ? s->ring_count : max;
    for (size_t i = 0; i < n; i++)
        out[i] = s->ring[(s->ring_head + i) % s->ring_cap];
    s->ring_head = (s->ring_head + n) % s->ring_cap;
    s->ring_count -= n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t wl_baseline_dur_ns(const struct wl_baseline *b)
{
    return b->t_end_ns > b->t_begin_ns ? b->t_end_ns - b->t_begin_ns : 0;
}

int wl_sampler_baseline(wl_sampler *s, uint64_t dur_ns, const volatile sig_atomic_t *cancel,
                        struct wl_baseline *out)
{
    return wl_sampler_baseline_each(s, dur_ns, cancel, 0, NULL, NULL, out);
}

int wl_sampler_baseline_each(wl_sampler *s, uint64_t dur_ns, const volatile sig_atomic_t *cancel,
                             uint64_t slice_ns, void (*each)(void *user_data), void *user_data,
                             struct wl_baseline *out)
{
    struct wl_energy_window w;
    struct wl_baseline b;
    memset(&b, 0, sizeof b);
    wl_sampler_window_begin(s, &w);
    /* slices up to an absolute end, so the calls do not lengthen it */
    const uint64_t t_end = wl_clock_now_ns() + dur_ns;
    bool whole = true;
    for (;;) {
        const uint64_t now = wl_clock_now_ns();
        if (now >= t_end)
            break;
        uint64_t left = t_end - now;
        if (each && slice_ns && left > slice_ns)
            left = slice_ns;
        whole = wl_clock_sleep_cancellable_ns(left, cancel);
        if (!whole)
            break;
        if (each)
            each(user_data);
    }
    wl_sampler_window_end(s, &w);
    if (!whole) {
        if (out)
            *out = b;
        return WL_ECANCELED;
    }
    b.t_begin_ns = w.begin.t_ns;
    b.t_end_ns = w.end.t_ns;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (wl_energy_window_has(&w, (enum wl_domain)d)) {
            b.valid_mask |= (uint16_t)(1u << d);
            b.power_w[d] = wl_energy_window_avg_w(&w, (enum wl_domain)d);
        }
    }
    b.valid = wl_baseline_dur_ns(&b) > 0 && b.valid_mask != 0;
    pthread_mutex_lock(&s->mu);
    s->baseline = b;
    pthread_mutex_unlock(&s->mu);
    if (out)
        *out = b;
    return b.valid ? 0 : WL_ESENSOR;
}

void wl_sampler_get_baseline(wl_sampler *s, struct wl_baseline *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->baseline;
    pthread_mutex_unlock(&s->mu);
}

void wl_sampler_stats(wl_sampler *s, struct wl_sampler_stats *out)
{
    pthread_mutex_lock(&s->mu);
    finish_rate(s); /* from the samples so far (final after stop) */
    *out = s->st;
    out->max_read_ns = atomic_load_explicit(&s->max_read_ns, memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
}

const char *wl_sampler_gap_why(const struct wl_sampler_gap *g)
{
    if (!g->counter_fell)
        return wl_strerror(g->error);
    const unsigned above = 1u << WL_DISC_ABOVE_RANGE, rise = 1u << WL_DISC_BAD_RISE,
                   wrap = 1u << WL_DISC_BAD_WRAP, amb = 1u << WL_DISC_AMBIGUOUS;
    if (g->causes == above)
        return "an energy counter read above its advertised range";
    if (g->causes & above)
        return "an energy counter read above its advertised range and went back";
    if (g->causes == rise)
        return "an energy counter jumped up by more than any real draw";
    if (g->causes & rise)
        return "an energy counter jumped up by more than any real draw and went back";
    if (g->causes == amb)
        return "an energy counter was not read for longer than it takes to wrap at 1 kW, so how "
               "many times it wrapped is unknown";
    if (g->causes & amb)
        return "an energy counter was not read for longer than it takes to wrap at 1 kW (how many "
               "times it wrapped is unknown) and went back";
    if (g->causes == wrap)
        return "an energy counter went back, further than a wrap can explain";
    if (g->causes == 1u << WL_DISC_LOST_SAMPLE)
        return "a sample from the source could not be read";
    if (g->causes == 1u << WL_DISC_STUCK)
        return "an energy counter did not change once over ten of its update periods or more: "
               "it is not measuring, and its 0 J is no measurement";
    return "an energy counter went back";
}

const char *wl_sampler_gap_text(const struct wl_sampler_gap *g, char *buf, size_t size)
{
    if (!(g->counter_fell && g->causes == 1u << WL_DISC_STUCK && g->nominal_period_ns))
        return wl_sampler_gap_why(g);
    snprintf(buf, size,
             "an energy counter did not change once (it updates about every %.3g ms): it is not "
             "measuring, and its 0 J is no measurement",
             (double)g->nominal_period_ns / 1e6);
    return buf;
}

size_t wl_sampler_gaps(wl_sampler *s, struct wl_sampler_gap *out, size_t max)
{
    judge_stuck(s);
    /* every sensor's rd_mu (in index order), then mu: an open gap's
     * counters and the gap itself from one moment */
    for (unsigned i = 0; i < s->n_sensors; i++)
        pthread_mutex_lock(&s->rd_mu[i]);
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_gaps_kept < max ? s->n_gaps_kept : max;
    memcpy(out, s->gaps, n * sizeof *out);
    /* a gap still open has lost its failing counters' energy so far (all
     * of it if no good read comes: after the stop, that is final; the
     * stored gap keeps 0, as a later read would take it in) */
    for (unsigned i = 0; i < s->n_sensors; i++)
        if (s->sst[i].gap_index >= 0 && (size_t)s->sst[i].gap_index < n)
            out[s->sst[i].gap_index].lost_mask |= open_gap_lost(s, i);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = s->n_sensors; i-- > 0;)
        pthread_mutex_unlock(&s->rd_mu[i]);
    return n;
}

const struct wl_domain_info *wl_sampler_domain(const wl_sampler *s, enum wl_domain d)
{
    return (unsigned)d < WL_DOMAIN_COUNT ? &s->dom[d] : NULL;
}

int wl_sampler_domain_now(wl_sampler *s, enum wl_domain d, struct wl_domain_info *out)
{
    if ((unsigned)d >= WL_DOMAIN_COUNT)
        return WL_EINVAL;
    pthread_mutex_lock(&s->mu);
    *out = s->dom[d];
    if (out->present)
        fill_windows(s, out, d);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

uint64_t wl_sampler_t0_ns(const wl_sampler *s)
{
    return s->t0_ns;
}

bool wl_sampler_model_only(const wl_sampler *s)
{
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (s->dom[d].present && s->dom[d].method != WL_METHOD_MODEL_ESTIMATE)
            return false;
    }
    return true;
}

/* The sampler: a background thread that reads every sensor of a sensor set at a
 * fixed interval, plus synchronous energy marks for exact counter windows.
 *
 * Use it like this (the recorder does it at every section and token boundary):
 *     wl_sampler_open(set, &params, &s);  wl_sampler_start(s);
 *     wl_sampler_set_phase(s, PHASE_DECODE);          // stamped on every sample
 *     wl_sampler_window_begin(s, &w); ...work...; wl_sampler_window_end(s, &w);
 *     double j = wl_energy_window_j(&w, WL_DOMAIN_PACKAGE);
 *     n = wl_sampler_drain(s, buf, cap);              // samples for the store
 *     wl_sampler_stop(s); wl_sampler_stats(s, &st); wl_sampler_close(s);
 *
 * Energy: every domain has a cumulative energy since wl_sampler_open(). For a
 * domain whose channels all have counters, a mark reads the counters right
 * now (the window energy is an exact counter delta). For a domain with power
 * readings only, the thread integrates power with the trapezoid rule and a
 * mark adds last power x time since the last sample. When two sensors give the
 * same domain, the first sensor of the set wins (no double counting: they
 * read the same hardware), except for GPUs, which different backends read
 * on different boards: those add up (sampler.md).
 *
 * Memory: everything is allocated in wl_sampler_open(); the ring holds
 * ring_capacity samples; when nobody drains, the oldest are overwritten and
 * counted (wl_sampler_stats().n_overflow), never silently lost.
 *
 * Threads: set_phase, mark/window, snapshot, drain, stats, baseline and gaps
 * may be called from any thread while the sampler runs. open/start/stop/close
 * from one controlling thread. Marks and windows take no allocation: a few
 * sensor reads (each under its sensor's lock) and one short mutex section.
 */
#ifndef WL_SAMPLER_SAMPLER_H
#define WL_SAMPLER_SAMPLER_H

#include "sensors/sensor.h"
#include "wattlens/energy.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wl_sampler wl_sampler;

/* One sample of all domains; fixed size, what the store persists. */
struct wl_sample {
    uint64_t t_ns;                       /* CLOCK_MONOTONIC, middle of the sensor reads */
    uint32_t phase;                      /* caller's phase tag at that time */
    uint16_t valid_mask;                 /* bit d: domain d has a value in this sample */
    uint16_t gap_mask; /* bit d: a sensor of domain d failed at this sample, or did not
                          read one of d's channels */
    uint16_t power_mask;                 /* bit d: power_w[d] is known (else NAN): a counter
                                            domain has none until its first full window */
    float power_w[WL_DOMAIN_COUNT];      /* power (W): counter delta / time, or read power */
    uint64_t power_from_ns[WL_DOMAIN_COUNT]; /* power_w[d] averages over time from here up to
                                                at most t_ns (== t_ns for a read power) */
    uint64_t energy_uj[WL_DOMAIN_COUNT]; /* cumulative energy since wl_sampler_open (uJ) */
    int32_t energy_dt_ns[WL_DOMAIN_COUNT]; /* energy_uj[d] is from t_ns + this: its own
                                              sensor's read (middle; a GPU domain of two
                                              sensors: the middle of their reads), not the
                                              pass's middle; 0 without a value
                                              (wl_sample_energy_t_ns) */
};

/* When s->energy_uj[d] was read: the time for any rate computed from it. */
uint64_t wl_sample_energy_t_ns(const struct wl_sample *s, enum wl_domain d);

/* What the sampler knows about one domain; fixed after open. */
struct wl_domain_info {
    bool present;
    bool counter; /* all channels are counters: window energies are exact deltas */
    /* a channel of it is a part of another channel of its sensor
     * (WL_CH_PART: core/uncore inside package; Apple's cpu, gpu, ane inside
     * combined): the headline never adds it to what holds it (an AMD APU's
     * soc plus a discrete GPU, which is no part, is added) */
    bool part;
    enum wl_method
        method; /* weakest method among its channels (counter < sampled < vendor < model) */
    unsigned n_channels;
    /* A counter's power window: about 10 update periods of its counter (the
     * longest among the domain's counters), at least one sampling interval.
     * A sample's power derived from the counter averages over about this
     * long, and so do the spans of a window's peak (peak_span_ns). For every
     * counter, also one that reads power (NVML, powermetrics): its read powers
     * stand for their instants, but its energies move in the counter's steps.
     * 0: no counter in the domain, or its counter's update period is not
     * known yet: a counter whose period was not measured at open (slower
     * than the probe can see) has it learned from the changes the sampler
     * thread sees; until then (two changes) the counter's derived power is
     * unknown. wl_sampler_domain_now() and, after wl_sampler_stop(),
     * wl_sampler_domain() give what was learned; before the stop,
     * wl_sampler_domain() gives 0 for it (the run provenance the recorder
     * writes at its create then has no power_window_ms). Take peak_span_ns
     * for peaks. */
    uint64_t power_window_ns;
    /* The update period of its counters (the longest among them), as
     * measured at open or learned while sampling, whichever gave
     * power_window_ns; unlike power_window_ns / 10, not raised to a
     * sampling interval. 0 when power_window_ns is 0 (not known, or no
     * counter). */
    uint64_t update_period_ns;
    /* The span_ns for wl_window_peak() / wl_span_peak_begin(): the power
     * window, and never shorter than one sampling interval (read powers
     * too: the trapezoid's energy between a mark and a sample microseconds
     * later is no power); WL_PEAK_SPAN_UNKNOWN while a counter's window is
     * not known (a window is then one span: its peak is its average). */
    uint64_t peak_span_ns;
    char sources[160]; /* "rapl-powercap: package-0, package-1" */
};

/* peak_span_ns of a domain whose counter's window is not known (see
 * wl_window_peak). */
#define WL_PEAK_SPAN_UNKNOWN UINT64_MAX

/* Cumulative energy of every domain at one instant. */
struct wl_energy_mark {
    uint64_t t_ns;
    uint16_t valid_mask;
    uint64_t energy_uj[WL_DOMAIN_COUNT];
};

/* An energy window: two marks. Caller-owned (stack or preallocated). */
struct wl_energy_window {
    struct wl_energy_mark begin, end;
};

struct wl_peak {
    double power_w;
    uint64_t t_ns; /* monotonic time of the sample */
    uint32_t phase;
    bool too_short; /* wl_window_peak / wl_span_peak_end: no peak (t_ns 0) only because
                       the window, with a value for the domain, is shorter than 90 % of
                       span_ns */
};

struct wl_baseline {
    bool valid;
    uint64_t t_begin_ns, t_end_ns; /* its window's marks (monotonic); its length:
                                      wl_baseline_dur_ns */
    uint16_t valid_mask;
    double power_w[WL_DOMAIN_COUNT]; /* average power over the baseline window */
};

struct wl_sampler_gap {
    unsigned sensor;   /* index in the sensor set */
    int error;         /* WL_E* of the first failed read (WL_ERANGE: counter_fell) */
    bool counter_fell; /* a counter discontinuity (it read less than before, or its
                          backend saw a reset: causes), not a failed read: from
                          the previous read (t_start_ns) to the one that saw it
                          (t_end_ns), its energy is unknown and not counted in
                          samples, marks or windows. Consecutive reads that each
                          see one on the same channels make one gap */
    unsigned causes;   /* counter_fell: bit (1u << enum wl_counter_disc, sensor.h) for
                          each kind of discontinuity in it; 0 otherwise */
    const char *backend;  /* the sensor's backend ("rapl-powercap"; static) */
    uint16_t domain_mask; /* bit d: domain d has a channel in the gap (a fall: the
                             channels that fell; a failed read: the sensor's channels the
                             sampler uses that it did not read, all of them when the
                             whole read failed, one GPU's when one GPU of several did,
                             every one that failed from the gap's start to its end; 0
                             when it uses none of them) */
    uint16_t lost_mask;   /* bit d: domain d's energy over the gap is not counted, so
                             every figure across it is low: a fall's domains; for a failed
                             read, those of its power-only channels and of its counters
                             not read since open (a counter keeps counting across a
                             failed read: its next good read takes in the gap, unless the
                             gap outlasts a wrap), and, while the gap is open, those
                             of its counters still failing (wl_sampler_gaps; kept from
                             wl_sampler_stop() on: no later read takes their gap in) */
    uint64_t t_start_ns;  /* a fall: the previous read; a failed read: the first failed
                             read, or when it loses a power-only channel's energy that
                             channel's last good read (its energy is lost from there) */
    uint64_t t_end_ns;    /* 0 while the sensor is still failing */
    uint64_t nominal_period_ns; /* a WL_DISC_STUCK gap: its counter's nominal update period
                                   (wl_sensor_channel.nominal_period_ns); 0 otherwise */
};

/* What the gap was, for people (static): for a counter discontinuity "an
 * energy counter went back", "... read above its advertised range" or
 * "... read above its advertised range and went back", "... was not read
 * for longer than it takes to wrap at 1 kW, so how many times it wrapped
 * is unknown" (WL_DISC_AMBIGUOUS); for a failed read wl_strerror(error). */
const char *wl_sampler_gap_why(const struct wl_sampler_gap *g);
/* wl_sampler_gap_why, with a stuck counter's own nominal update period
 * ("... (it updates about every 1 ms) ..."), formatted into buf (size
 * bytes) when it needs to be; returns buf or wl_sampler_gap_why's text. */
const char *wl_sampler_gap_text(const struct wl_sampler_gap *g, char *buf, size_t size);

struct wl_sampler_stats {
    uint64_t interval_ns;
    uint64_t n_samples;      /* samples taken by the thread */
    uint64_t n_overflow;     /* samples overwritten in the ring before being drained */
    uint64_t n_missed_ticks; /* ticks skipped because reading overran the interval */
    uint64_t n_gaps;         /* sensor failure periods and counter discontinuities (consecutive
                                reads of one gap count once; also those not kept in the gap
                                list) */
    uint64_t t_first_ns, t_last_ns;
    double requested_hz, achieved_hz;
    bool rate_judged;       /* enough samples (>= 5) to judge the rate */
    bool rate_ok;           /* achieved rate within 20 % of the request (true when not judged) */
    uint64_t thread_cpu_ns; /* CPU time used by the sampling thread (final after stop) */
    /* the longest successful sensor read since open, by the thread or a mark
     * (its t_after_ns - t_before_ns): a value read at any instant inside it is
     * stamped with its middle, so a span's time is off by up to this much
     * (a read preempted on a busy machine); tests bound their errors by it */
    uint64_t max_read_ns;
    struct wl_peak peak[WL_DOMAIN_COUNT];
};

/* The ring's capacity when wl_sampler_params.ring_capacity is 0: 82 s at 10 ms. */
#define WL_SAMPLER_DEFAULT_RING 8192

struct wl_sampler_params {
    uint64_t interval_ns; /* 0: 10 ms, or 100 ms when powermetrics is among the sensors */
    size_t ring_capacity; /* samples kept until drained; 0: WL_SAMPLER_DEFAULT_RING */
};

#define WL_SAMPLER_MAX_GAPS 64

void wl_sampler_params_default(struct wl_sampler_params *p);

/* Reads every sensor once (energy origin) and allocates everything. The set
 * must outlive the sampler. Returns 0, WL_EINVAL (no sensor), WL_ENOMEM or
 * the first sensor's read error. */
int wl_sampler_open(wl_sensor_set *set, const struct wl_sampler_params *p, wl_sampler **out);
int wl_sampler_start(wl_sampler *s);  /* WL_ESTATE when already running */
/* Wakes the thread at once (it waits for its ticks on a condition), joins
 * it; warns when the rate was off. */
int wl_sampler_stop(wl_sampler *s);
void wl_sampler_close(wl_sampler *s); /* stops if needed; accepts NULL */

void wl_sampler_set_phase(wl_sampler *s, uint32_t phase);
uint32_t wl_sampler_get_phase(const wl_sampler *s);

/* Synchronous energy mark: reads the counters now. Domains whose sensor read
 * fails are left out of valid_mask. Returns 0 (even when some domains are
 * invalid). */
int wl_sampler_mark(wl_sampler *s, struct wl_energy_mark *out);
/* A mark from settled reads (wl_sensor_read_settled): with the CPU-time
 * model it re-lists the process's threads first, so a thread started since
 * the last listing is counted up to the mark (a plain mark counts it up to
 * its CPU's last scheduler tick), for ~10-20 us more than wl_sampler_mark.
 * For the few marks that bound a run or a window (windows use settled
 * marks); not for per-section marks. */
int wl_sampler_mark_settled(wl_sampler *s, struct wl_energy_mark *out);
int wl_sampler_window_begin(wl_sampler *s, struct wl_energy_window *w);
int wl_sampler_window_end(wl_sampler *s, struct wl_energy_window *w);

/* True when sample s has a power for domain d averaged over time at least
 * 90 % inside [t0_ns, t1_ns] (a read power: its instant inside). A counter's
 * power is a delta over a window (>= one interval) that can reach back
 * before t0: for a run shorter than that window it mixes in what came
 * before, so such a sample is no peak of the run. */
bool wl_sample_power_within(const struct wl_sample *s, enum wl_domain d, uint64_t t0_ns,
                            uint64_t t1_ns);
/* Makes *pk the sample's power of domain d when it is higher (and known). */
void wl_peak_update(struct wl_peak *pk, const struct wl_sample *s, enum wl_domain d);
/* The peak of domain d over window w, from samples (in time order; others
 * than w's are skipped), into *pk (zeroed first; t_ns 0: no peak): the
 * highest of
 *  - the samples' own powers averaged at least 90 % inside w
 *    (wl_sample_power_within), and
 *  - the average powers of the spans that partition w: from w's begin, a span
 *    ends at the first sample at least 90 % of span_ns after its start (a
 *    counter's power window, as the sampler closes its own; 0 for read
 *    powers: at every sample), and a remainder shorter than that joins the
 *    span before it; a span's power is its energy delta over its duration,
 *    its time (pk->t_ns) its end. A span ends at the sample's energy time
 *    (wl_sample_energy_t_ns), so energy and duration cover the same time.
 * The spans cover w, so the peak is never below w's average power
 * (wl_energy_window_avg_w: a weighted mean of theirs), where the samples'
 * own windows alone can miss the edges of w, the time before the first
 * window that fits and after the last. When w's end has no value for d
 * (its read failed there), w ends at the last sample in it that read d,
 * at that reading. No peak when w is shorter than 90 % of span_ns
 * (pk->too_short: the one place that rule is kept), or its begin, or its
 * end and every sample in it, have no value for d. span_ns WL_PEAK_SPAN_UNKNOWN (a
 * counter whose window is not known): w is the one span, so the peak is
 * w's average, or a higher sample power inside it; none when the counter
 * did not move over w (its power is unknown, not 0 W). */
void wl_window_peak(const struct wl_sample *samples, size_t n, const struct wl_energy_window *w,
                    enum wl_domain d, uint64_t span_ns, struct wl_peak *pk);

/* wl_window_peak in streaming form, for a caller that sees the window's
 * samples in batches and its end mark only at the end (the inference
 * recorder); wl_window_peak is built on it, so the two agree exactly:
 *     wl_span_peak_begin(&sp, &w.begin, d, span_ns);
 *     for each sample x of the window, in time order: wl_span_peak_add(&sp, &x);
 *     wl_span_peak_end(&sp, &w.end, &pk);
 * add skips samples at or before the begin mark, but cannot know the end:
 * the caller adds only samples before it (a sample is known to be so once a
 * later mark of the window has been taken). Should one at or past the end
 * slip in, the spans no longer partition the window, and end then also
 * takes the window's own average, so the peak is still never below it.
 * State only, caller-owned (no allocation); one thread at a time. */
/* The spans of a wl_span_peak so far (its open one, the closed one before
 * it, the peak of those before). */
struct wl_span_state {
    bool have_prev;                /* prev_* hold a closed span */
    uint64_t cur_t_ns, cur_e_uj;   /* the open span's start */
    uint64_t prev_t_ns, prev_e_uj; /* the closed span before it: [prev, cur], counted
                                      only once it cannot take in the remainder */
    uint32_t prev_phase, phase;    /* tag at [prev, cur]'s end; the latest sample's */
    struct wl_peak pk;             /* peak so far (t_ns 0: none) */
};
struct wl_span_peak {
    enum wl_domain d;
    bool on;               /* begin has a value for d */
    bool whole;            /* span_ns WL_PEAK_SPAN_UNKNOWN: the window is one span */
    uint64_t min_ns;       /* a span's least duration: 90 % of span_ns */
    uint64_t t0_ns, e0_uj; /* the begin mark */
    struct wl_span_state s;
    /* the latest sample added that read d (have_read): its energy reading
     * (read_t_ns: wl_sample_energy_t_ns), its own power if it counts
     * (read_pk, t_ns 0: not), and s as it was before it; an end mark
     * without d (its read failed) ends the window there instead */
    bool have_read;
    uint64_t read_t_ns, read_e_uj;
    struct wl_peak read_pk;
    struct wl_span_state before_read;
};
void wl_span_peak_begin(struct wl_span_peak *sp, const struct wl_energy_mark *begin,
                        enum wl_domain d, uint64_t span_ns);
void wl_span_peak_add(struct wl_span_peak *sp, const struct wl_sample *x);
/* The window's peak into *pk (zeroed first; t_ns 0: no peak), as
 * wl_window_peak describes; sp is spent. An end without a value for d ends
 * the window at the last sample added that read d. */
void wl_span_peak_end(struct wl_span_peak *sp, const struct wl_energy_mark *end,
                      struct wl_peak *pk);

uint64_t wl_energy_window_dur_ns(const struct wl_energy_window *w);
bool wl_energy_window_has(const struct wl_energy_window *w, enum wl_domain d);
double wl_energy_window_j(const struct wl_energy_window *w, enum wl_domain d);
double wl_energy_window_avg_w(const struct wl_energy_window *w, enum wl_domain d);
/* Energy above the baseline power over the window (J); may be negative. */
double wl_energy_window_dynamic_j(const struct wl_energy_window *w, const struct wl_baseline *b,
                                  enum wl_domain d);

/* Copies the latest sample (power snapshot); WL_ENOENT before the first one. */
int wl_sampler_snapshot(wl_sampler *s, struct wl_sample *out);
/* Moves up to max samples, oldest first, out of the ring; returns the count. */
size_t wl_sampler_drain(wl_sampler *s, struct wl_sample *out, size_t max);

/* A baseline's length: its window's marks apart (0 when none was kept). */
uint64_t wl_baseline_dur_ns(const struct wl_baseline *b);

/* Idle baseline: blocks for dur_ns measuring every domain's average power
 * (a window; needs the thread running for power-only domains) and keeps it.
 * Set the phase tag first if the samples should show it. When *cancel (may
 * be NULL) becomes non-zero it stops early and keeps no baseline
 * (WL_ECANCELED). */
int wl_sampler_baseline(wl_sampler *s, uint64_t dur_ns, const volatile sig_atomic_t *cancel,
                        struct wl_baseline *out);
/* wl_sampler_baseline that calls each(user_data) on the calling thread about
 * every slice_ns while it waits (each may be NULL), e.g. to drain the ring,
 * which holds ring_capacity samples: a baseline longer than that many
 * intervals overwrote its own first samples. */
int wl_sampler_baseline_each(wl_sampler *s, uint64_t dur_ns, const volatile sig_atomic_t *cancel,
                             uint64_t slice_ns, void (*each)(void *user_data), void *user_data,
                             struct wl_baseline *out);
void wl_sampler_get_baseline(wl_sampler *s, struct wl_baseline *out);

void wl_sampler_stats(wl_sampler *s, struct wl_sampler_stats *out);
/* Copies up to max recorded gaps; returns the count copied. A failed-read
 * gap still open has in its copy's lost_mask the domains of its counters
 * not read since it began: their energy is not counted so far (from
 * wl_sampler_stop() on, for good). */
size_t wl_sampler_gaps(wl_sampler *s, struct wl_sampler_gap *out, size_t max);
/* The domains a stuck counter leaves unmeasured over the whole of
 * [t0_ns, t1_ns] (two marks' times): bit d when a counter of d was
 * judged not measuring (WL_DISC_STUCK) over a flat run that covers it, so
 * d's 0 J there is no measurement and its figures over it are unknown.
 * *pending (may be NULL): the domains with a counter flat since t0_ns or
 * before whose flat run is not yet long enough to judge (it may still be
 * judged stuck: ask again later for a final answer); never a counter whose
 * latest read failed (its flat run cannot grow: it would be pending until
 * the stop). Judges first, as
 * wl_sampler_gaps. Any thread; exact with one counter sensor (a mark's
 * time is the middle of its counter sensors' reads). */
uint16_t wl_sampler_stuck_over(wl_sampler *s, uint64_t t0_ns, uint64_t t1_ns, uint16_t *pending);
/* What the sampler knows about domain d: as at open while the thread runs
 * (a pointer, read without a lock), with the windows learned while sampling
 * after wl_sampler_stop(). NULL for a bad d. */
const struct wl_domain_info *wl_sampler_domain(const wl_sampler *s, enum wl_domain d);
/* A copy of domain d's info with the windows learned so far (any thread,
 * also while the sampler runs). WL_EINVAL for a bad d. */
int wl_sampler_domain_now(wl_sampler *s, enum wl_domain d, struct wl_domain_info *out);
uint64_t wl_sampler_t0_ns(const wl_sampler *s); /* time of the origin reads */
/* True when every present domain's method is the model estimate. */
bool wl_sampler_model_only(const wl_sampler *s);

#endif

/* `wattlens measure -- CMD`: runs a command and reports its duration, energy
 * per domain, average/peak power, dynamic energy above an idle baseline and
 * sampling statistics, each figure with its method, and saves the run in the
 * store (unless --no-store). Exits with CMD's status. SIGTERM, SIGHUP and a
 * SIGINT sent to wattlens (not a terminal's ^C, which reaches CMD itself
 * when wattlens is in the terminal's foreground group; CMD has its own group
 * otherwise: measure.h) are passed on to CMD; wattlens waits for it, stores the run as cancelled,
 * prints the report and exits 128 + the signal; before CMD starts (its row
 * being made, the baseline) CMD is not started and the run is stored as
 * cancelled, exit 128 + it too. Once CMD has ended, such a
 * signal stops only the save's wait for another writer's lock (the run is
 * then not saved; exit 128 + it). While CMD runs, the run's row is stamped
 * alive now and then (wl_measure_heartbeat_tick). Thin: the measuring is
 * wl_measure_run (src/sampler/measure.c), the saving wl_measure_begin_run
 * (the run's row, before CMD) and wl_measure_finish_run (after it)
 * (src/profile/measure_store.c). */
#include "cli.h"
#include "cli_output.h"
#include "cli_store.h"
#include "cli_text.h"

#include "analysis/summary.h"
#include "profile/measure_store.h"
#include "profile/run_gaps.h"
#include "sampler/measure.h"
#include "util/clock.h"
#include "util/json_text.h"
#include "wattlens/wattlens.h"

#include "util/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Written by on_stop_signal only, which runs on the main thread (the only
 * one not blocking it: measure.h), and read there by wl_measure_run. */
static struct wl_measure_stop g_stop;

/* Once the command has ended (g_saving set), a stop signal no longer
 * concerns it: it stops the save's wait for the database (g_save_stop is
 * the store's cancel flag, wl_store_set_cancel), and wattlens exits 128 +
 * it with the run left incomplete. A save that is not waiting goes on. */
static volatile sig_atomic_t g_saving, g_save_stop;

static void on_stop_signal(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (g_saving) {
        g_save_stop = sig; /* a terminal's ^C too */
        return;
    }
    g_stop.signal = sig;
#ifdef SI_KERNEL
    /* from the kernel for a terminal (^C, a hangup): the whole foreground
     * process group got it, CMD too; once CMD runs, what happens is CMD's
     * call, as under time(1) (passing it on would deliver it twice); before,
     * it stops the baseline (wl_measure_run) */
    if (si && si->si_code == SI_KERNEL) {
        g_stop.tty_count++;
        return;
    }
#else
    (void)si;
#endif
    g_stop.sent_signal = sig;
    g_stop.count++;
}

/* SIGTERM: kill's default (and timeout's); SIGHUP: a closed session;
 * SIGINT: kill -INT to wattlens. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
enum { N_STOP_SIGNALS = sizeof stop_signals / sizeof stop_signals[0] };

struct stop_handlers {
    struct sigaction old[N_STOP_SIGNALS];
    bool set[N_STOP_SIGNALS];
};

/* A signal ignored on entry (nohup, a background job of a script) stays
 * ignored, as shells leave it. */
static void stop_handlers_install(struct stop_handlers *h)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_stop_signal;
    /* SA_RESTART: the report's stdio writes and the store's I/O are not cut
     * short by a signal; the waits for the command (poll, nanosleep) still
     * return at once, which the stop needs (they are never restarted) */
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_STOP_SIGNALS; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]); /* one handler at a time */
    g_stop.signal = 0;
    g_stop.count = 0;
    g_stop.sent_signal = 0;
    g_stop.tty_count = 0;
    g_saving = 0;
    g_save_stop = 0;
    for (int i = 0; i < N_STOP_SIGNALS; i++)
        h->set[i] = wl_signal_catch_unless_ignored(stop_signals[i], &sa, &h->old[i]);
}

static void stop_handlers_restore(const struct stop_handlers *h)
{
    for (int i = 0; i < N_STOP_SIGNALS; i++) {
        if (h->set[i])
            sigaction(stop_signals[i], &h->old[i], NULL);
    }
}

/* --db at this help's description column */
#define DB_HELP WL_CLI_DB_HELP_AT("      --db FILE          ", "                         ")

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wattlens measure [OPTIONS] -- CMD [ARGS...]\n"
            "\n"
            "Runs CMD, samples every available power sensor while it runs, and reports\n"
            "its duration, energy per domain (J), average and peak power (W), energy above\n"
            "an idle baseline (when one was taken), the number of samples and the achieved\n"
            "sampling rate. Every figure says how it was obtained: measured (energy counter),\n"
            "measured (sampled power), vendor estimate, or estimated (model). Without a\n"
            "readable hardware sensor the CPU-time model estimates CPU power from the CPU\n"
            "time of CMD's process tree; that is labelled as an estimate, never as measured.\n"
            "Peak power is the highest average over spans of about one power window (ten\n"
            "update periods of an energy counter, learned while sampling when it is slow;\n"
            "at least one sampling interval) that together cover CMD, so it is never\n"
            "below the average; a CMD shorter than one window has none.\n"
            "An energy counter moves in steps (RAPL about every 1 ms, hwmon every 0.5-1 s,\n"
            "NVML every 20-100 ms): a counter domain whose CMD spans fewer than 10 update\n"
            "periods is listed under \"below resolution\" with its period and step (its\n"
            "energy is whole steps, +- one; --json below_resolution, energy_step_j).\n"
            "wattlens exits with CMD's exit status (128+N if a signal N killed it, 127 if it\n"
            "could not be found, 126 if it could not be executed); when CMD succeeded but\n"
            "the run could not be saved, it exits 1 after printing the report; so it does\n"
            "when the report could not be written (a full disk).\n"
            "\n"
            "Output: CMD's standard output and error are wattlens's, and the report follows\n"
            "CMD's output on stdout. With --json and the report on stdout (no -o, or -o -),\n"
            "CMD's standard output goes to wattlens's standard error instead, so that stdout\n"
            "holds the JSON report alone (`wattlens measure --json -- CMD | jq .`); give\n"
            "-o FILE to keep CMD's output on stdout and the report apart.\n"
            "\n"
            "Process group: when wattlens runs in the foreground of a terminal, CMD runs in\n"
            "wattlens's process group, so a terminal's Ctrl-C reaches CMD itself and is left\n"
            "to it, and job control (Ctrl-Z, fg) works on both. Anywhere else (no terminal,\n"
            "a background job, under timeout from a script, a service) CMD gets a process\n"
            "group of its own, so a signal sent to wattlens's whole group (timeout, kill\n"
            "-TERM -PGID) reaches CMD once, passed on by wattlens to CMD's group (CMD's own\n"
            "children too). SIGTERM, SIGHUP or a SIGINT sent to wattlens is passed on to\n"
            "CMD (in wattlens's group: to CMD's process alone, and a group-wide signal\n"
            "reaches CMD twice; use timeout --foreground from an interactive shell);\n"
            "wattlens waits for CMD to end, saves the run as cancelled with CMD's exit\n"
            "status, prints the report and exits 128+N. Before CMD starts (while its run\n"
            "is created, during --baseline) it, or a terminal's Ctrl-C, keeps CMD from\n"
            "starting: the run is saved as cancelled, and wattlens exits 128+N.\n"
            "\n"
            "The run is saved in the run database (kind measure: command, energy per domain,\n"
            "baseline, peaks, power samples, exit status; status failed when CMD could not\n"
            "be started, cancelled when wattlens was stopped by a signal) and its id printed\n"
            "on stderr (`run_id` with --json); see it again with `wattlens show ID`, list\n"
            "runs with `wattlens runs`. Its row (status running, the command line) is made\n"
            "before CMD starts: a database that cannot be written (read-only, or held by\n"
            "another writer for more than 2 s) is an error then, exit 1, and CMD is not\n"
            "run (--no-store measures without saving); a wattlens killed while CMD runs\n"
            "leaves that row, shown as incomplete. While CMD runs the row is stamped alive\n"
            "every 10 min (others sharing the database from another host take a row\n"
            "without a sign of life for 24 h as dead). The figures are saved when CMD\n"
            "ends, waiting up to 60 s for another writer; SIGTERM, SIGHUP or SIGINT\n"
            "(Ctrl-C) during that wait stops it: the run is not saved (it stays\n"
            "incomplete), the report is still printed, and wattlens exits 128+N.\n"
            "\n"
            "Options:\n"
            "  -i, --interval MS      sampling interval in milliseconds (default 10; 100 with\n"
            "                         powermetrics)\n"
            "  -b, --baseline SEC     measure idle power for SEC seconds before CMD (default 0)\n"
            "      --json             print the report as one JSON object (on stdout: CMD's\n"
            "                         stdout then goes to stderr, see Output above)\n"
            "  -o, --output FILE      write the report to FILE instead of stdout ('-': stdout);\n"
            "                         a regular FILE is replaced once the report is written\n"
            "      --model-idle-w W   CPU model: idle watts (default %.1f)\n"
            "      --model-core-w W   CPU model: watts per busy core (default %.1f)\n"
            "      --model-system     CPU model follows all CPUs, not only CMD's process tree\n"
            "      --no-store         do not save the run in the run database\n" DB_HELP
            "  -h, --help             show this help\n"
            "\n"
            "Examples:\n"
            "  wattlens measure -- make -j4\n"
            "  wattlens measure --baseline 2 -i 20 -- ./bench --iterations 100\n"
            "  wattlens measure --json -o report.json -- python3 train.py\n"
            "  wattlens measure --no-store -- sleep 1\n",
            WL_MODEL_DEFAULT_IDLE_W, WL_MODEL_DEFAULT_BUSY_CORE_W);
}

static unsigned method_mask(const struct wl_measure_result *r)
{
    unsigned mask = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (r->domains[d].present)
            mask |= 1u << r->domains[d].method;
    }
    return mask;
}

/* Seconds from the command's start to t_ns (negative: before it), the
 * base of the peaks' and the gaps' times; NaN when the command never
 * started (no start to count from). */
static double since_start_s(const struct wl_measure_result *r, uint64_t t_ns)
{
    if (!r->started || r->window.begin.t_ns == 0)
        return NAN;
    return (double)(int64_t)(t_ns - r->window.begin.t_ns) / 1e9;
}

/* The names of the domains in mask ("core", "package, dram"), "" for none.
 * Returns buf. */
static const char *domain_list(unsigned mask, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < WL_DOMAIN_COUNT && len < size; d++) {
        if (!(mask & (1u << d)))
            continue;
        const int k = snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
                               wl_domain_name((enum wl_domain)d));
        len = k < 0 ? size : len + (size_t)k;
    }
    return buf;
}

/* Seconds for a gap's line: a time that rounds to 0 ms is 0.000, not the
 * "-0.000" of a gap from the sampler's first read just before the start. */
static double gap_time_s(double t)
{
    return fabs(t) < 0.0005 ? 0.0 : t;
}

/* Whether domain d's energy is lost over the whole command: a gap whose
 * energy is not counted (lost_mask) spans the window (a counter stuck the
 * whole run, WL_DISC_STUCK): its window delta is no measurement, so its
 * energy, power and peak are unknown. */
static bool domain_lost(const struct wl_measure_result *r, enum wl_domain d)
{
    return wl_measure_lost_domains(r) & (1u << d);
}

/* Domain d's counter resolution over the command's window, by the rule the
 * summary marks its figures with (wl_summary_below_resolution): its
 * update period (the sampler's, wl_domain_info.update_period_ns; NaN: not
 * known), one step at its average power over the
 * command, and whether the command spans fewer than WL_RESOLUTION_PERIODS
 * periods. A counter whose period was never learned (it changed fewer than
 * twice while sampled) is below it too: its energy is one or two steps at
 * most. Only counter domains have steps: sampled and estimated ones not;
 * and only a window energy can be judged: not one a failed sensor left
 * unknown, or a gap lost (domain_lost): judged false then. */
struct resol {
    bool judged;
    double period_ms, step_j;
    bool below;
};

static struct resol domain_resol(const struct wl_measure_result *r, enum wl_domain d)
{
    const struct wl_domain_info *di = &r->domains[d];
    struct resol x = {di->method == WL_METHOD_COUNTER && wl_energy_window_has(&r->window, d) &&
                          !domain_lost(r, d),
                      NAN, NAN, false};
    if (!x.judged)
        return x;
    /* the sampler's own period (measured at open or learned); else what
     * the power window bounds it by (a window raised to one sampling
     * interval gives a longer period: marked sooner, never later) */
    x.period_ms = di->update_period_ns
                      ? (double)di->update_period_ns / 1e6
                      : wl_summary_update_period_ms((double)di->power_window_ns / 1e6);
    const double dur_ms = (double)wl_energy_window_dur_ns(&r->window) / 1e6;
    /* a counter that did not move has no step to show at its power: NaN */
    const double w = wl_energy_window_avg_w(&r->window, d);
    if (w > 0)
        x.step_j = x.period_ms / 1000.0 * w;
    x.below = isnan(x.period_ms) || wl_summary_below_resolution(dur_ms, x.period_ms);
    return x;
}

/* The method column of a domain whose energy is lost over the whole
 * command: it has no figure, so no method of one (never "measured"). */
#define LOST_METHOD_LABEL "none: not measured (sensor gap)"

/* Whether domain d has figures over the command: a window energy that no
 * gap lost. A domain without (a sensor that failed, a counter stuck) reads
 * n/a with no method, and its gap line says n/a, not "low by it". */
static bool domain_has_figure(const struct wl_measure_result *r, enum wl_domain d)
{
    return wl_energy_window_has(&r->window, d) && !domain_lost(r, d);
}

/* The present domains without figures (domain_has_figure). */
static uint32_t na_domains(const struct wl_measure_result *r)
{
    uint32_t m = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        if (r->domains[d].present && !domain_has_figure(r, (enum wl_domain)d))
            m |= 1u << d;
    return m;
}

static json_t *domain_json(const struct wl_measure_result *r, enum wl_domain d)
{
    const struct wl_domain_info *di = &r->domains[d];
    /* a domain whose energy is lost over the whole command: no figures */
    const bool lost = domain_lost(r, d);
    const bool has = domain_has_figure(r, d);
    json_t *j = json_object();
    json_object_set_new(j, "domain", json_string(wl_domain_name(d)));
    json_object_set_new(j, "method", has ? json_string(wl_method_key(di->method)) : json_null());
    json_object_set_new(j, "method_label",
                        json_string(has ? wl_method_label(di->method) : LOST_METHOD_LABEL));
    json_object_set_new(j, "measured", json_boolean(has && wl_method_is_measured(di->method)));
    /* for a counter domain, whether its window energy is the exact delta of
     * its counters over a window of at least WL_RESOLUTION_PERIODS update
     * periods (within 10 %); a sampled or estimated domain (the CPU-time
     * model keeps a counter of its own) has none to speak of: null. Below
     * that the delta is a few whole steps: energy_step_j says how coarse */
    const struct resol rs = domain_resol(r, d);
    json_object_set_new(j, "exact_counter_window",
                        di->method == WL_METHOD_COUNTER ? json_boolean(di->counter && !rs.below)
                                                        : json_null());
    json_object_set_new(j, "below_resolution", rs.judged ? json_boolean(rs.below) : json_null());
    json_object_set_new(j, "update_period_ms", wl_json_real_or_null(rs.period_ms));
    json_object_set_new(j, "energy_step_j", wl_json_real_or_null(rs.step_j));
    wl_json_set_text(j, "sources", di->sources);
    json_object_set_new(j, "energy_lost", json_boolean(lost));
    json_object_set_new(j, "energy_j",
                        has ? json_real(wl_energy_window_j(&r->window, d)) : json_null());
    json_object_set_new(j, "avg_power_w",
                        has ? json_real(wl_energy_window_avg_w(&r->window, d)) : json_null());
    const struct wl_peak *pk = &r->run_peak[d];
    if (r->stats.n_samples > 0 && pk->t_ns && !lost) {
        json_object_set_new(j, "peak_power_w", json_real(pk->power_w));
        json_object_set_new(j, "peak_at_s", json_real(since_start_s(r, pk->t_ns)));
        json_object_set_new(j, "peak_phase", json_string(wl_measure_phase_name(pk->phase)));
    } else {
        json_object_set_new(j, "peak_power_w", json_null());
    }
    json_object_set_new(j, "power_window_ms",
                        di->power_window_ns ? json_real((double)di->power_window_ns / 1e6)
                                            : json_null());
    if (r->baseline.valid && (r->baseline.valid_mask & (1u << d)) && has) {
        json_object_set_new(j, "baseline_power_w", json_real(r->baseline.power_w[d]));
        json_object_set_new(j, "dynamic_energy_j",
                            json_real(wl_energy_window_dynamic_j(&r->window, &r->baseline, d)));
    }
    return j;
}

/* What a gap whose energy is lost (lost_mask) does to the figures, by
 * where it lies (wl_summary_gap_place, as the summary line decides it):
 * across some of the command, its figures are low by it; before it, in
 * the idle baseline, the baseline power (and the dynamic energy is high);
 * else (set-up, after the command) nothing the report shows. The text
 * follows "(why:" in a gap's line. */
static const char *lost_gap_effect(const struct wl_measure_result *r,
                                   const struct wl_sampler_gap *g, char *buf, size_t size)
{
    const double t0 = since_start_s(r, g->t_start_ns);
    const double t1 = g->t_end_ns ? since_start_s(r, g->t_end_ns) : NAN;
    const double dur = (double)wl_energy_window_dur_ns(&r->window) / 1e9;
    const int place = wl_summary_gap_place(t0, t1, 0.0, dur);
    if (place == 0) {
        /* only the lost domains' figures are low: the others are whole;
         * one lost over the whole command has none (n/a) */
        char eff[192];
        snprintf(buf, size,
                 " its energy\n"
                 "                  in between is NOT counted; %s",
                 wl_summary_gaps_lost_effect(g->lost_mask, na_domains(r), eff, sizeof eff));
        return buf;
    }
    if (place > 0)
        return "\n                  after the command: not in its figures";
    if (r->baseline.valid && wl_summary_gap_place(t0, t1, since_start_s(r, r->baseline.t_begin_ns),
                                                  since_start_s(r, r->baseline.t_end_ns)) == 0)
        return "\n                  before the command, in the idle baseline: not in the command's"
               "\n                  energy, but the baseline power is low by it, the dynamic "
               "energy high";
    return "\n                  before the command: not in its figures";
}

/* When domain d's sensor stopped for good: the start of the earliest gap
 * of d still open at the end (0: none). */
static uint64_t sensor_stopped_ns(const struct wl_measure_result *r, enum wl_domain d)
{
    uint64_t t = 0;
    for (size_t i = 0; i < r->n_gaps && i < WL_SAMPLER_MAX_GAPS; i++) {
        const struct wl_sampler_gap *g = &r->gaps[i];
        if (!g->t_end_ns && (g->domain_mask & (1u << d)) && (!t || g->t_start_ns < t))
            t = g->t_start_ns;
    }
    return t;
}

static json_t *report_json(char **argv, const struct wl_measure_result *r, const char *run_id)
{
    json_t *j = json_object();
    json_object_set_new(j, "run_id", run_id ? json_string(run_id) : json_null());
    size_t argc = 0;
    while (argv[argc])
        argc++;
    wl_json_set_texts(j, "command", (const char *const *)argv, NULL, argc);
    json_object_set_new(j, "started", json_boolean(r->started));
    json_object_set_new(j, "exit_status",
                        r->started && !r->status_unknown ? json_integer(r->exit_code)
                                                         : json_null());
    if (r->status_unknown)
        json_object_set_new(j, "exit_status_error", json_string(strerror(r->wait_errno)));
    json_object_set_new(j, "signal", r->term_signal ? json_integer(r->term_signal) : json_null());
    const char *sig_name = r->term_signal ? wl_signal_name(r->term_signal) : NULL;
    json_object_set_new(j, "signal_name", sig_name ? json_string(sig_name) : json_null());
    /* the signal that stopped wattlens (passed on to CMD): the run is cancelled */
    json_object_set_new(j, "stop_signal",
                        r->stop_signal ? json_integer(r->stop_signal) : json_null());
    const char *stop_name = r->stop_signal ? wl_signal_name(r->stop_signal) : NULL;
    json_object_set_new(j, "stop_signal_name", stop_name ? json_string(stop_name) : json_null());
    if (r->exec_errno)
        json_object_set_new(j, "exec_error", json_string(strerror(r->exec_errno)));
    double dur = (double)wl_energy_window_dur_ns(&r->window) / 1e9;
    json_object_set_new(j, "duration_s", json_real(dur));
    json_object_set_new(j, "cpu_time_s",
                        r->status_unknown ? json_null() : json_real((double)r->cpu_ns / 1e9));
    unsigned mask = method_mask(r);
    json_object_set_new(j, "measured",
                        json_boolean(strcmp(wl_provenance_summary(mask), "measured") == 0));
    json_object_set_new(j, "energy_source", json_string(wl_provenance_summary(mask)));
    wl_json_set_text(j, "sensors", r->sensors_desc);
    json_t *doms = json_array();
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (r->domains[d].present)
            json_array_append_new(doms, domain_json(r, (enum wl_domain)d));
    }
    json_object_set_new(j, "domains", doms);
    /* the headline total the stored run has (`runs`, `show`): its scope
     * and method; energy_j null when a domain in it has no figure */
    uint16_t hmask = 0;
    enum wl_method hmethod = WL_METHOD_COUNTER;
    char scope[64] = "";
    const double total_j = wl_measure_headline(r, &hmask, &hmethod, scope, sizeof scope);
    json_object_set_new(j, "energy_j", wl_json_real_or_null(total_j));
    json_object_set_new(j, "energy_scope", hmask ? json_string(scope) : json_null());
    json_object_set_new(j, "energy_method",
                        hmask ? json_string(wl_method_key(hmethod)) : json_null());
    if (r->baseline.valid) {
        json_t *b = json_object();
        json_object_set_new(b, "duration_s",
                            json_real((double)wl_baseline_dur_ns(&r->baseline) / 1e9));
        json_object_set_new(j, "baseline", b);
    } else {
        json_object_set_new(j, "baseline", json_null());
    }
    json_t *s = json_object();
    json_object_set_new(s, "samples", json_integer((json_int_t)r->stats.n_samples));
    json_object_set_new(s, "interval_ms", json_real((double)r->stats.interval_ns / 1e6));
    json_object_set_new(s, "requested_hz", json_real(r->stats.requested_hz));
    /* a rate needs two samples at two times (else the sampler leaves 0),
     * and rate_ok means nothing unless the rate was judged: null for both
     * then; achieved_hz by the stored run's sample_rate_hz rule (> 0) */
    json_object_set_new(s, "achieved_hz",
                        r->stats.achieved_hz > 0 ? json_real(r->stats.achieved_hz) : json_null());
    json_object_set_new(s, "rate_judged", json_boolean(r->stats.rate_judged));
    json_object_set_new(s, "rate_ok",
                        r->stats.rate_judged ? json_boolean(r->stats.rate_ok) : json_null());
    json_object_set_new(s, "ring_overflow", json_integer((json_int_t)r->stats.n_overflow));
    /* the samples kept for the store (thinned past max_samples: every Nth) */
    json_object_set_new(s, "kept", json_integer((json_int_t)r->n_samples));
    json_object_set_new(s, "kept_every", json_integer((json_int_t)r->sample_stride));
    json_object_set_new(s, "not_kept", json_integer((json_int_t)r->n_samples_dropped));
    json_object_set_new(s, "missed_ticks", json_integer((json_int_t)r->stats.n_missed_ticks));
    json_t *gaps = json_array();
    char why[160];
    for (size_t i = 0; i < r->n_gaps; i++) {
        json_t *g = json_object();
        /* from the command's start, as peak_at_s (negative: before it);
         * null when it never started */
        const double t0 = since_start_s(r, r->gaps[i].t_start_ns);
        const double t1 = r->gaps[i].t_end_ns ? since_start_s(r, r->gaps[i].t_end_ns) : NAN;
        json_object_set_new(g, "start_s", isnan(t0) ? json_null() : json_real(t0));
        json_object_set_new(g, "end_s", isnan(t1) ? json_null() : json_real(t1));
        json_object_set_new(g, "error", json_string(wl_strerror_name(r->gaps[i].error)));
        /* a counter discontinuity: the energy over the gap is not counted */
        json_object_set_new(g, "counter_fell", json_boolean(r->gaps[i].counter_fell));
        json_object_set_new(g, "why",
                            json_string(wl_sampler_gap_text(&r->gaps[i], why, sizeof why)));
        /* false: some of its energy is not counted (run_gaps.h) */
        json_object_set_new(g, "energy_counted", json_boolean(r->gaps[i].lost_mask == 0));
        /* the domains it touches, and those whose energy it loses (the
         * figures low by it), as the text lines name them */
        json_object_set_new(g, "domains", wl_json_domain_names(r->gaps[i].domain_mask));
        json_object_set_new(g, "lost_domains", wl_json_domain_names(r->gaps[i].lost_mask));
        json_array_append_new(gaps, g);
    }
    json_object_set_new(s, "gaps", gaps);
    /* every gap, those not listed too */
    json_object_set_new(s, "n_gaps", json_integer((json_int_t)r->stats.n_gaps));
    json_object_set_new(j, "sampling", s);
    return j;
}

/* A sampling rate (per second) in three figures, whole from 100 up: one
 * decimal gave "0.0/s" for -i 60000's 0.0167/s, and %.3g alone "1e+03/s".
 * Returns buf. */
static const char *rate_text(double hz, char *buf, size_t size)
{
    snprintf(buf, size, hz >= 100 ? "%.0f" : "%.3g", hz);
    return buf;
}

/* Under the table: the counter domains whose energy is below their
 * resolution (domain_resol), each with the step it is coarse by. */
static void resolution_notes(FILE *f, const struct wl_measure_result *r)
{
    const double dur_ms = (double)wl_energy_window_dur_ns(&r->window) / 1e6;
    bool head = false;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        const enum wl_domain dom = (enum wl_domain)d;
        if (!r->domains[d].present)
            continue;
        const struct resol x = domain_resol(r, dom);
        if (!x.below)
            continue;
        if (!head)
            fprintf(f,
                    "\n  below resolution: the command (%.3f s) spans fewer than %d update "
                    "periods of\n  these counters: their energies are whole counter steps, "
                    "each +- one step\n",
                    dur_ms / 1e3, WL_RESOLUTION_PERIODS);
        head = true;
        if (isnan(x.period_ms))
            fprintf(f,
                    "    %-8s update period not known (it changed too seldom while sampled "
                    "to learn it)\n",
                    wl_domain_name(dom));
        else if (!(x.step_j > 0))
            fprintf(f,
                    "    %-8s updated every %.3f ms: it did not move over the command, so its "
                    "energy\n             is below one step (not known to be 0)\n",
                    wl_domain_name(dom), x.period_ms);
        else
            fprintf(f, "    %-8s updated every %.3f ms: one step is about %.3f J at its power\n",
                    wl_domain_name(dom), x.period_ms, x.step_j);
    }
}

static void report_text(FILE *f, char **argv, const struct wl_measure_result *r)
{
    double dur = (double)wl_energy_window_dur_ns(&r->window) / 1e9;
    /* the command as it is stored (and `show` prints it): quoted for a
     * shell, its control bytes escaped (a newline as \x0a: one line) */
    char *cmdline = wl_measure_command_line(argv);
    fprintf(f, "\nwattlens measure: ");
    wl_cli_put_text(f, cmdline ? cmdline : argv[0]);
    fprintf(f, "\n");
    free(cmdline);
    char b1[24], b2[24];
    if (r->exec_errno)
        fprintf(f, "  could not run the command: %s\n", strerror(r->exec_errno));
    if (!r->started) {
        if (r->stop_signal)
            fprintf(f, "  not started     wattlens got %s before the command started (cancelled)\n",
                    wl_signal_label(r->stop_signal, b1, sizeof b1));
        else
            fprintf(f, "  not started     the held command process died before it was released\n"
                       "                  (cancelled)\n");
        return;
    }
    if (r->status_unknown)
        fprintf(f, "  exit status     unknown (wait4: %s)\n", strerror(r->wait_errno));
    else if (r->term_signal)
        fprintf(f, "  exit status     %d (killed by %s)\n", r->exit_code,
                wl_signal_label(r->term_signal, b1, sizeof b1));
    else
        fprintf(f, "  exit status     %d\n", r->exit_code);
    if (r->stop_signal)
        fprintf(f,
                "  stopped         wattlens got %s and passed it on to the command (cancelled;\n"
                "                  the figures cover the command until it exited)\n",
                wl_signal_label(r->stop_signal, b2, sizeof b2));
    if (r->status_unknown)
        fprintf(f, "  duration        %.3f s (CPU time unknown)\n", dur);
    else
        fprintf(f, "  duration        %.3f s (CPU time %.3f s)\n", dur, (double)r->cpu_ns / 1e9);
    /* a rate needs two samples (achieved_hz 0 with fewer) */
    char got[48] = "", want[32];
    if (r->stats.n_samples >= 2) {
        char hz[32];
        snprintf(got, sizeof got, " at %s/s", rate_text(r->stats.achieved_hz, hz, sizeof hz));
    }
    fprintf(f, "  samples         %llu%s (requested %s/s)%s\n",
            (unsigned long long)r->stats.n_samples, got,
            rate_text(r->stats.requested_hz, want, sizeof want),
            !r->stats.rate_judged ? "  (too few samples to judge the rate)"
            : r->stats.rate_ok    ? ""
                                  : "  WARNING: more than 20 % off the requested rate");
    if (r->stats.n_overflow)
        fprintf(f, "  ring overflow   %llu samples overwritten before being read\n",
                (unsigned long long)r->stats.n_overflow);
    if (r->n_samples_dropped)
        fprintf(f,
                "  samples kept    %zu, 1 in %u (%llu not kept, to bound memory: peaks are\n"
                "                  over spans between the kept samples, so coarser)\n",
                r->n_samples, (unsigned)r->sample_stride, (unsigned long long)r->n_samples_dropped);
    for (size_t i = 0; i < r->n_gaps; i++) {
        const struct wl_sampler_gap *g = &r->gaps[i];
        /* times from the command's start, as the peaks' (negative: before
         * it, in the set-up or the idle baseline) */
        char from[32], till[32] = "end", names[96], who[100] = "", eff[256], why[160];
        snprintf(from, sizeof from, "%.3f s", gap_time_s(since_start_s(r, g->t_start_ns)));
        if (g->t_end_ns)
            snprintf(till, sizeof till, "%.3f s", gap_time_s(since_start_s(r, g->t_end_ns)));
        /* the domains it touches: those whose energy it loses, else those
         * of the channels it failed to read */
        if (*domain_list(g->lost_mask ? g->lost_mask : g->domain_mask, names, sizeof names))
            snprintf(who, sizeof who, "%s: ", names);
        if (g->lost_mask)
            /* "NOT counted" as the summary line below decides it (lost_mask:
             * a discontinuity, or a failed read of a power-only channel),
             * and which figures are low by it from where it lies */
            fprintf(f, "  sensor gap      %s .. %s (%s%s:%s)\n", from, till, who,
                    wl_sampler_gap_text(g, why, sizeof why),
                    lost_gap_effect(r, g, eff, sizeof eff));
        else
            fprintf(f, "  sensor gap      %s .. %s (%s%s%s)\n", from, till, who,
                    wl_strerror(g->error), g->t_end_ns ? "; recovered" : "");
    }
    /* the line `show` prints for the stored run: from the same extra */
    json_t *gx = wl_run_gaps_json(r->gaps, r->n_gaps, r->stats.n_gaps, r->t0_ns);
    struct wl_summary_gaps gs;
    const struct wl_energy_window *w = &r->window;
    wl_summary_gaps_from_extra(gx, ((double)w->begin.t_ns - (double)r->t0_ns) / 1e6,
                               ((double)w->end.t_ns - (double)r->t0_ns) / 1e6, &gs);
    gs.na_domains = na_domains(r); /* their rows are n/a */
    json_decref(gx);
    char gl[512];
    if (*wl_summary_gaps_text(&gs, gl, sizeof gl))
        fprintf(f, "  %s\n", gl);
    if (r->model_only)
        fprintf(f, "  energy source   ESTIMATED by the CPU-time model, NOT measured (no hardware\n"
                   "                  power sensor is readable here; see `wattlens sensors`)\n");
    else if (method_mask(r) & (1u << WL_METHOD_MODEL_ESTIMATE))
        fprintf(f, "  energy source   %s; CPU figures are ESTIMATED by the CPU-time model\n",
                wl_provenance_summary(method_mask(r)));
    else
        fprintf(f, "  energy source   %s\n", wl_provenance_summary(method_mask(r)));
    {
        /* the headline total, as the stored run has it (`runs`, `show`):
         * one figure over the widest domains that do not overlap */
        uint16_t hmask = 0;
        enum wl_method hmethod = WL_METHOD_COUNTER;
        char scope[64] = "";
        const double total_j = wl_measure_headline(r, &hmask, &hmethod, scope, sizeof scope);
        if (hmask && !isnan(total_j))
            fprintf(f, "  total energy    %.3f J (%s), %s\n", total_j, scope,
                    wl_method_label(hmethod));
        else if (hmask)
            fprintf(f, "  total energy    n/a (%s: a domain in it has no figure)\n", scope);
    }
    fprintf(f, "\n  %-8s %12s %10s %18s %13s %12s  %s\n", "domain", "energy (J)", "avg (W)",
            "peak (W) @ s", "baseline (W)", "dynamic (J)", "method");
    /* the longest peak span of a domain left without a peak because the
     * command was shorter than it (wl_window_peak says so: too_short); a
     * domain without a value (its sensor failed) has no peak for that
     * reason */
    uint64_t short_window_ns = 0;
    const double dur_ns = (double)wl_energy_window_dur_ns(&r->window);
    /* a domain whose sensor stopped early (a gap still open at the end) has
     * too little data for a peak, though the command lasted long enough */
    uint64_t stopped_ns[WL_DOMAIN_COUNT] = {0};
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        const struct wl_domain_info *di = &r->domains[d];
        if (!di->present)
            continue;
        enum wl_domain dom = (enum wl_domain)d;
        char e[32] = "n/a", a[32] = "n/a", pk[48] = "-", b[32] = "-", dy[32] = "-";
        if (r->run_peak[d].too_short && dur_ns < 0.9 * (double)di->peak_span_ns) {
            if (di->peak_span_ns > short_window_ns)
                short_window_ns = di->peak_span_ns;
        } else if (r->run_peak[d].too_short) {
            stopped_ns[d] = sensor_stopped_ns(r, dom);
        }
        /* a domain whose energy is lost over the whole command (a counter
         * stuck the whole run) has no figures: n/a, as a failed sensor's */
        const bool lost = domain_lost(r, dom);
        const bool has = domain_has_figure(r, dom);
        if (has) {
            snprintf(e, sizeof e, "%.3f", wl_energy_window_j(&r->window, dom));
            snprintf(a, sizeof a, "%.3f", wl_energy_window_avg_w(&r->window, dom));
            if (r->baseline.valid && (r->baseline.valid_mask & (1u << d))) {
                snprintf(b, sizeof b, "%.3f", r->baseline.power_w[d]);
                snprintf(dy, sizeof dy, "%.3f",
                         wl_energy_window_dynamic_j(&r->window, &r->baseline, dom));
            }
        }
        const struct wl_peak *p = &r->run_peak[d];
        if (lost)
            snprintf(pk, sizeof pk, "n/a");
        else if (p->t_ns)
            snprintf(pk, sizeof pk, "%.3f @ %.2f", p->power_w, since_start_s(r, p->t_ns));
        fprintf(f, "  %-8s %12s %10s %18s %13s %12s  %s\n", wl_domain_name(dom), e, a, pk, b, dy,
                has ? wl_method_label(di->method) : LOST_METHOD_LABEL);
    }
    if (short_window_ns)
        fprintf(f,
                "\n  peak '-': the command was shorter than one power window (%.0f ms: peaks\n"
                "  average over that long), so it has no peak\n",
                (double)short_window_ns / 1e6);
    /* the domains without a peak for another reason than a short command,
     * in one note for each stop time and window they share */
    unsigned noted = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        const struct wl_domain_info *di = &r->domains[d];
        if (!di->present || !r->run_peak[d].too_short || (noted & (1u << d)) ||
            dur_ns < 0.9 * (double)di->peak_span_ns)
            continue;
        unsigned same = 0;
        for (int e = d; e < WL_DOMAIN_COUNT; e++)
            if (r->domains[e].present && r->run_peak[e].too_short &&
                stopped_ns[e] == stopped_ns[d] && r->domains[e].peak_span_ns == di->peak_span_ns)
                same |= 1u << e;
        noted |= same;
        char names[96];
        domain_list(same, names, sizeof names);
        if (stopped_ns[d])
            fprintf(f,
                    "\n  peak '-' (%s): the sensor stopped at %.2f s (its reads failed to the\n"
                    "  end): too little data for a peak over its %.0f ms power window\n",
                    names, gap_time_s(since_start_s(r, stopped_ns[d])),
                    (double)di->peak_span_ns / 1e6);
        else
            fprintf(f,
                    "\n  peak '-' (%s): too little data for a peak over its %.0f ms power window\n",
                    names, (double)di->peak_span_ns / 1e6);
    }
    resolution_notes(f, r);
    fputs("\n  sources: ", f);
    wl_cli_put_text(f, r->sensors_desc); /* paths and names from sysfs: escaped */
    fputc('\n', f);
}

/* --json on stdout: the report must be all that stdout holds, so CMD's
 * stdout is wattlens's stderr (as time(1) and perf stat keep their report
 * apart from the command's output). Returns a copy of stdout (close-on-exec)
 * that stdout_restore puts back once CMD has ended, or -1 with errno set.
 * Until then fd 1 is CMD's: wattlens writes nothing to stdout meanwhile. */
static int stdout_to_stderr(void)
{
    fflush(stdout);
    int saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (saved < 0)
        return -1;
    /* a stderr closed at start-up is a stand-in pipe's read end (main.c):
     * CMD's output then goes nowhere, as it would with `1>&2 2>&-`, but its
     * writes succeed */
    int fd = wl_cli_std_fd_closed(STDERR_FILENO) ? open("/dev/null", O_WRONLY | O_CLOEXEC)
                                                 : STDERR_FILENO;
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
        const int e = errno;
        if (fd > STDERR_FILENO)
            close(fd);
        close(saved);
        errno = e;
        return -1;
    }
    if (fd > STDERR_FILENO)
        close(fd);
    return saved;
}

static void stdout_restore(int saved)
{
    if (saved < 0)
        return;
    (void)dup2(saved, STDOUT_FILENO);
    close(saved);
}

/* The samples callback of wl_measure_run, on the thread that waits for CMD:
 * used only to stamp the run's row alive now and then. */
static void on_samples(void *user_data, const struct wl_sample *samples, size_t n)
{
    (void)samples;
    (void)n;
    wl_measure_heartbeat_tick(user_data, wl_clock_now_ns());
}

static int run_measure(int argc, char **argv)
{
    static const struct option opts[] = {
        {"interval", required_argument, NULL, 'i'},
        {"baseline", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'},
        {"output", required_argument, NULL, 'o'},
        {"model-idle-w", required_argument, NULL, 'I'},
        {"model-core-w", required_argument, NULL, 'C'},
        {"model-system", no_argument, NULL, 'S'},
        {"no-store", no_argument, NULL, 'N'},
        WL_CLI_DB_OPTION,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long interval_ms = 0;
    double baseline_s = 0;
    bool json = false, model_system = false, store = true;
    const char *output = NULL, *db_path = NULL;
    struct wl_measure_params mp;
    memset(&mp, 0, sizeof mp);
    wl_sensor_params_default(&mp.sensors);
    int c;
    optind = 1;
    opterr = 0; /* wl_cli_option_error says it once */
    /* "+": stop at the first non-option so CMD's own options are left alone */
    while ((c = getopt_long(argc, argv, "+:i:b:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (!wl_cli_parse_long("measure", "--interval", optarg, 1, 60000, &interval_ms))
                return WL_EXIT_USAGE;
            break;
        case 'b':
            if (!wl_cli_parse_double("measure", "--baseline", optarg, 0, 3600, &baseline_s))
                return WL_EXIT_USAGE;
            break;
        case 'j':
            json = true;
            break;
        case 'o':
            output = optarg;
            break;
        case 'I':
            if (!wl_cli_parse_double("measure", "--model-idle-w", optarg, 0, WL_MODEL_MAX_W,
                                     &mp.sensors.model.idle_w))
                return WL_EXIT_USAGE;
            break;
        case 'C':
            if (!wl_cli_parse_double("measure", "--model-core-w", optarg, 0, WL_MODEL_MAX_W,
                                     &mp.sensors.model.busy_core_w))
                return WL_EXIT_USAGE;
            break;
        case 'S':
            model_system = true;
            break;
        case 'N':
            store = false;
            break;
        case WL_CLI_OPT_DB:
            db_path = optarg;
            break;
        case 'h':
            wl_cli_print_help(usage);
            return WL_EXIT_OK;
        default:
            return wl_cli_option_error("measure", c, argv, opts);
        }
    }
    if (optind >= argc)
        return wl_cli_usage_error("measure", "no command given (usage: wattlens measure [OPTIONS] "
                                             "-- CMD [ARGS...])");
    char **cmd = argv + optind;
    mp.argv = cmd;
    mp.interval_ns = (uint64_t)interval_ms * 1000000ull;
    mp.baseline_ns = (uint64_t)(baseline_s * 1e9);
    mp.model_whole_system = model_system;

    /* the store is opened first: a database that cannot be written is
     * reported before the command runs, not after */
    wl_store *st = NULL;
    if (store) {
        int orc = wl_cli_store_open("measure", db_path, WL_CLI_STORE_CREATE, &st);
        if (orc != WL_EXIT_OK)
            return orc;
    }
    /* checked before the command runs; the database is refused even with
     * --no-store (db_path NULL: the default path, as the store resolves it) */
    struct wl_cli_output out;
    int out_rc = wl_cli_output_open(&out, "measure", output, db_path);
    if (out_rc != WL_EXIT_OK) {
        wl_store_close(st);
        return out_rc;
    }
    char cpu[256] = "";
    wl_cli_host_cpu(cpu, sizeof cpu);
    struct wl_measure_save save = {.argv = cmd, .host_cpu = cpu[0] ? cpu : NULL};
    char run_id[40] = "";
    bool saved = false;
    struct wl_measure_result r;
    struct wl_errmsg em, se;
    wl_errmsg_clear(&em);
    wl_errmsg_clear(&se);
    save.created_at_ms = wl_clock_realtime_ns() / 1000000;
    /* installed before the run's row exists and until the run is saved and
     * reported: a stop signal from here on never leaves a row running (one
     * that comes before CMD starts keeps it from starting and the run is
     * saved as cancelled, by wl_measure_run's check); one that comes after
     * the command's end changes nothing (the run is complete) */
    struct stop_handlers sh;
    stop_handlers_install(&sh);
    mp.stop = &g_stop;
    /* the run's row (running, with the command line) before the command:
     * a database that cannot be written (locked by another writer past the
     * busy timeout, read-only) stops here, and a wattlens killed while CMD
     * runs leaves a row that the next open marks incomplete */
    wl_store_run *srun = NULL;
    if (st && wl_measure_begin_run(st, &save, &srun, run_id, &se) != 0) {
        stop_handlers_restore(&sh);
        wl_cli_output_close(&out, false, 0);
        wl_store_close(st);
        int frc = wl_cli_fail("measure",
                              "%s; the command was not run (--no-store measures it without saving)",
                              se.text);
        /* stopped meanwhile: 128 + it, as any stop before CMD starts */
        return g_stop.signal ? 128 + g_stop.signal : frc;
    }
    /* the row gets nothing else until CMD ends (which may be days) */
    struct wl_measure_heartbeat hb = {.run = srun};
    mp.on_samples = on_samples;
    mp.user_data = &hb;
    int saved_stdout = -1;
    if (json && out.kind == WL_CLI_OUTPUT_STDOUT && out.std == stdout) {
        saved_stdout = stdout_to_stderr();
        if (saved_stdout < 0)
            wl_cli_note("measure",
                        "warning: cannot send the command's output to stderr (%s): it is mixed "
                        "with the JSON report on stdout (give -o FILE)",
                        strerror(errno));
    }
    int rc = wl_measure_run(&mp, &r, &em);
    stdout_restore(saved_stdout); /* CMD has ended */
    g_saving = 1; /* CMD has ended (or never started): see on_stop_signal */
    if (rc != 0) {
        stop_handlers_restore(&sh);
        wl_cli_output_close(&out, false, 0);
        if (st) {
            /* the command did not run: a failed run says so */
            save.error = em.text;
            if (wl_measure_finish_run(st, srun, &save, &se) == 0)
                wl_cli_note("measure", "stored as failed run %s", run_id);
            else
                (void)wl_cli_fail("measure", "%s", se.text);
            wl_store_close(st);
        }
        return wl_cli_fail("measure", "%s", em.text);
    }
    if (r.exec_errno)
        fprintf(stderr, "wattlens measure: cannot run '%s': %s\n", cmd[0], strerror(r.exec_errno));
    int code = r.status_unknown ? 1 : r.exit_code; /* no status to pass on: an error */
    const bool save_tried = st != NULL;
    int save_stop = 0; /* the signal that stopped the save's wait */
    if (st) {
        /* waits up to the store's run_wait_ms for another writer: CMD's
         * measurement is not given up after the 2 s busy timeout; a stop
         * signal ends that wait */
        save.result = &r;
        wl_store_set_cancel(st, &g_save_stop);
        const int frc = wl_measure_finish_run(st, srun, &save, &se);
        char sig[48];
        if (frc == 0) {
            saved = true;
        } else if (frc == WL_ECANCELED && g_save_stop) {
            save_stop = g_save_stop;
            (void)wl_cli_fail("measure",
                              "got %s while waiting for the database, which another process "
                              "holds locked: the run was not saved (run %s is left incomplete; "
                              "the report follows)",
                              wl_signal_label(save_stop, sig, sizeof sig), run_id);
        } else if (frc == WL_ENOENT) {
            (void)wl_cli_fail("measure", "the run was not saved: %s (the report follows)", se.text);
        } else {
            (void)wl_cli_fail("measure",
                              "the run was not saved: %s (the report follows; run %s keeps "
                              "what was written before the error, shown as %s)",
                              se.text, run_id,
                              frc == WL_EBUSY ? "incomplete" : "failed or incomplete");
        }
        wl_store_close(st);
    }
    FILE *f = wl_cli_output_stream(&out);
    bool complete = f != NULL, write_failed = false;
    int werr = 0;
    if (f && json) {
        json_t *j = report_json(cmd, &r, saved ? run_id : NULL);
        complete =
            wl_cli_put_json(f, j, JSON_INDENT(2) | WL_JSON_REAL_FLAGS) == 0; /* tty: escaped */
        fputc('\n', f);
        json_decref(j);
    } else if (f) {
        report_text(f, cmd, &r);
    }
    if (f && ferror(f)) {
        write_failed = true;
        werr = errno;
    }
    /* a failed write is reported there, with its cause */
    out_rc = wl_cli_output_close(&out, complete, werr);
    if (f && !complete && !write_failed)
        wl_cli_fail("measure", "cannot write the report");
    if (saved && !json && !wl_cli_quiet())
        fprintf(stderr, "\nwattlens measure: saved as run %s (see it with: wattlens show %.8s)\n",
                run_id, run_id);
    wl_measure_result_free(&r);
    stop_handlers_restore(&sh);
    /* stopped by a signal (a cancelled run): 128 + it, as `run` exits;
     * else the command's status, and when it succeeded but its run was not
     * saved or its report not written, a failure, so that scripts do not
     * take the run as recorded */
    if (r.stop_signal)
        return 128 + r.stop_signal;
    if (save_stop)
        return 128 + save_stop; /* the save was stopped: not the command's status */
    if (!r.started)
        return WL_EXIT_FAIL; /* the held child died, by no signal to wattlens */
    return code == 0 && ((save_tried && !saved) || out_rc != WL_EXIT_OK) ? WL_EXIT_FAIL : code;
}

const struct wl_cli_command wl_cli_cmd_measure = {
    "measure", "run a command and report its energy, power and duration", run_measure};

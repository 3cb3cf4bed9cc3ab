/* Measuring the energy of one external command (`wattlens measure -- CMD`).
 *
 * wl_measure_run() forks the command (held before exec until the sensors and
 * the sampler are ready, so the CPU-time model can follow the command's process
 * tree from its first instruction), optionally takes an idle baseline, runs
 * the command, and fills a wl_measure_result: an exact energy window from
 * start to exit (taken while the exited child is still a zombie, so its CPU
 * time is still readable), peaks (never below the window's average power),
 * sampling statistics, gaps and every sample.
 * The result is self-contained so that saving it (to the store) is one call.
 *
 * Signals: SIGQUIT is ignored in the calling process while the command runs
 * (as time(1) does), and so is SIGINT unless the caller passes a stop
 * request (struct wl_measure_stop): a terminal's ^C or ^\ reaches the
 * command, which is in the caller's process group, and the report is still
 * printed. With a stop request the caller's own handler asks to stop (see
 * below). Dispositions are restored before returning. The threads started
 * here (sampler, sensors) block asynchronous signals (util/signals.h), so a
 * signal sent to the process runs the caller's handler on the calling
 * thread. Single-threaded caller.
 */
#ifndef WL_SAMPLER_MEASURE_H
#define WL_SAMPLER_MEASURE_H

#include "sampler/sampler.h"
#include "sensors/sensor.h"
#include "util/errmsg.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Phase tags stamped on the samples of a measured command. */
enum wl_measure_phase {
    WL_MEASURE_PHASE_RUN = 0,
    WL_MEASURE_PHASE_BASELINE = 1,
};
const char *wl_measure_phase_name(uint32_t phase); /* "run", "baseline", "?" */

/* A request to stop, written by the caller's signal handler (SIGTERM, SIGHUP,
 * SIGINT) and read by wl_measure_run on the calling thread, on which that
 * handler runs (see Signals above). The handler sets signal for every stop
 * signal, and sorts each one by its sender: one the kernel sent for a
 * terminal (Linux: si_code SI_KERNEL, a ^C or a hangup, delivered to the
 * whole foreground process group, the command too) increments tty_count;
 * any other (kill(2), timeout) sets sent_signal and increments count. Each
 * increment is one signal to pass on.
 * Before the command starts (sensor set-up, the idle baseline) any request,
 * of either kind, ends the baseline and the command is never started (a
 * terminal's ^C has then already killed the held child). Once it runs:
 * when the caller is in its terminal's foreground process group the command
 * is in that group too, and is sent the signals counted in count (kill(2) to
 * its pid: descendants get them only if the command passes them on); else
 * the command has a process group of its own (a signal to the caller's
 * whole group, from timeout(1) say, does not reach it) and every signal of
 * either kind is sent to that group. A repeat of the signal last passed on
 * within 1 s of it counts once (timeout(1) sends its signal to wattlens and
 * then to the whole group, hundreds of ms apart on a loaded machine). The
 * command is measured until it exits, however long that takes. */
struct wl_measure_stop {
    volatile sig_atomic_t signal;      /* the last signal that asked to stop; 0 while none */
    volatile sig_atomic_t count;       /* signals sent by a process so far */
    volatile sig_atomic_t sent_signal; /* the last of those; 0 while none */
    volatile sig_atomic_t tty_count;   /* signals the kernel sent for a terminal so far */
};

/* Called on the controlling thread with samples drained during the run. */
typedef void (*wl_measure_samples_fn)(void *user_data, const struct wl_sample *samples, size_t n);

struct wl_measure_params {
    char *const *argv;                /* command and arguments, NULL-terminated */
    uint64_t interval_ns;             /* sampler interval; 0 = default */
    size_t ring_capacity;             /* sampler ring (samples); 0 = the sampler's default;
                                         drained every 100 ms, the baseline too */
    uint64_t baseline_ns;             /* idle baseline before the command; 0 = none */
    bool model_whole_system;          /* model follows all CPUs instead of the command's tree */
    struct wl_sensor_params sensors;  /* the model's scope/pid are set by wl_measure_run */
    size_t max_samples;               /* samples kept in the result at most; 0 = 1,000,000
                                         (then thinned, see wl_measure_result) */
    wl_measure_samples_fn on_samples; /* optional */
    void *user_data;
    const struct wl_measure_stop *stop; /* optional; see struct wl_measure_stop */
};

struct wl_measure_result {
    int wait_status;       /* raw status from wait */
    int exit_code;         /* exit status, or 128 + signal, or 126/127 when exec failed;
                              -1 when status_unknown */
    bool status_unknown;   /* it ran, but its status could not be read (wait4 failed,
                              wait_errno: something else reaped it); never a made-up 0 */
    int wait_errno;        /* errno of that wait4, or 0 */
    int term_signal;       /* signal that killed the command, or 0 */
    int exec_errno;        /* errno of a failed exec, or 0 */
    bool started;          /* the command was released to run (false: a stop came first;
                              exit_code, term_signal and the window are then 0) */
    int stop_signal;       /* the stop request's signal passed on to the command (the
                              last one), or that kept it from starting; 0: none */
    int64_t started_at_ns; /* wall clock at start (epoch ns) */
    uint64_t t0_ns;        /* sampler origin (monotonic); samples' t_ns are relative to it */
    struct wl_energy_window window;           /* command start .. exit */
    struct wl_baseline baseline;              /* valid when a baseline was taken */
    struct wl_sampler_stats stats;            /* stats.peak covers baseline and run */
    struct wl_peak run_peak[WL_DOMAIN_COUNT]; /* peaks over the window (wl_window_peak):
                                                 never below its average power */
    struct wl_domain_info domains[WL_DOMAIN_COUNT];
    size_t n_gaps;
    struct wl_sampler_gap gaps[WL_SAMPLER_MAX_GAPS];
    uint16_t stuck_mask;       /* the domains a stuck counter leaves unmeasured over the whole
                                  window: wl_sampler_stuck_over(window) asked at the stop, the
                                  rule the recorder uses for run's windows */
    bool model_only;           /* every figure is a model estimate */
    uint64_t cpu_ns;           /* CPU time of the command and its reaped descendants (rusage) */
    char sensors_desc[WL_SENSOR_SET_DESCRIBE_SIZE]; /* "cpu-model (model: 10.00 W idle + ...)" */
    unsigned sensors_not_read; /* found but not read by the sensors (wl_sensor_set_n_not_read) */
    struct wl_sample *samples; /* heap, the samples kept, in time order (up to max_samples:
                                  every sample_stride-th drained) */
    size_t n_samples;
    /* Samples drained but not kept: once max_samples are kept they are
     * thinned to every other one and the stride doubles (so the kept ones
     * cover the whole command, a long command's peak spans coarser), and
     * any lost to a failed allocation. Samples overwritten in the ring
     * before being drained are stats.n_overflow. */
    uint64_t n_samples_dropped;
    uint32_t sample_stride; /* every this many drained samples one is kept (1, 2, 4, ...) */
};

/* The domains whose energy a gap loses over the whole command (a gap with
 * lost_mask that spans r->window; a counter stuck the whole run:
 * r->stuck_mask, the sampler's own judgement, not a comparison of the
 * stuck gap's times with the window's): their window delta is no measurement, so their energy,
 * power and peak are unknown (n/a), and no method is theirs. */
uint16_t wl_measure_lost_domains(const struct wl_measure_result *r);

/* Runs the command. Returns 0 when the command ran (whatever its status; see
 * out->exit_code) or when exec failed (out->exec_errno set); a negative WL_E*
 * with a message in err when measuring could not start (the command is then
 * not run). Free the result with wl_measure_result_free(). */
int wl_measure_run(const struct wl_measure_params *p, struct wl_measure_result *out,
                   struct wl_errmsg *err);
void wl_measure_result_free(struct wl_measure_result *r);

#endif

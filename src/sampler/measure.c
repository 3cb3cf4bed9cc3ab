/* wl_measure_run: fork, hold, sample, run, wait, window; see measure.h. */
#include "sampler/measure.h"

#include "util/clock.h"
#include "util/log.h"
#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

const char *wl_measure_phase_name(uint32_t phase)
{
    switch (phase) {
    case WL_MEASURE_PHASE_RUN:
        return "run";
    case WL_MEASURE_PHASE_BASELINE:
        return "baseline";
    default:
        return "?";
    }
}

/* Halves the kept samples: those at even positions stay, which are the
 * samples whose index among all seen is a multiple of twice the stride. */
static void thin_samples(struct wl_measure_result *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n_samples; i += 2)
        r->samples[k++] = r->samples[i];
    r->n_samples_dropped += r->n_samples - k;
    r->n_samples = k;
    r->sample_stride *= 2;
}

/* Keeps every sample_stride-th sample seen, in time order. At max_samples
 * the kept ones are thinned to every other and the stride doubles, so they
 * cover the whole command however long it runs (a cap dropped everything
 * after the first 1,000,000, 2.8 h at 10 ms, silently, and the peak with
 * it). Energies are cumulative, so any subset still partitions the window
 * into exact spans: a long command's peak spans are only coarser. */
static void keep_samples(const struct wl_measure_params *p, struct wl_measure_result *r,
                         const struct wl_sample *buf, size_t n)
{
    const size_t max = p->max_samples >= 2 ? p->max_samples : p->max_samples ? 2 : 1000000;
    if (p->on_samples && n)
        p->on_samples(p->user_data, buf, n);
    static const size_t chunk = 4096;
    for (size_t i = 0; i < n; i++) {
        /* every sample seen is kept or dropped: this one's index among them */
        const uint64_t seen = r->n_samples + r->n_samples_dropped;
        if (seen % r->sample_stride != 0) {
            r->n_samples_dropped++;
            continue;
        }
        if (r->n_samples >= max) {
            thin_samples(r);
            if (seen % r->sample_stride != 0) {
                r->n_samples_dropped++;
                continue;
            }
        }
        if (r->n_samples % chunk == 0) {
            const size_t ncap = r->n_samples + chunk < max ? r->n_samples + chunk : max;
            struct wl_sample *ns = realloc(r->samples, ncap * sizeof *ns);
            if (!ns) {
                r->n_samples_dropped++; /* counted, never silently lost */
                continue;
            }
            r->samples = ns;
        }
        r->samples[r->n_samples++] = buf[i];
    }
}

static void drain_into(wl_sampler *s, const struct wl_measure_params *p,
                       struct wl_measure_result *r)
{
    struct wl_sample buf[256];
    size_t n;
    while ((n = wl_sampler_drain(s, buf, 256)) > 0)
        keep_samples(p, r, buf, n);
}

struct drain_job {
    wl_sampler *s;
    const struct wl_measure_params *p;
    struct wl_measure_result *r;
};

static void drain_job_run(void *user_data)
{
    const struct drain_job *j = user_data;
    drain_into(j->s, j->p, j->r);
}

/* Whether the calling process is in the foreground process group of its
 * controlling terminal: asked of whichever of fds 0-2 is that terminal, else
 * of /dev/tty. No terminal: false. */
static bool terminal_foreground(void)
{
    const pid_t me = getpgrp();
    for (int fd = 0; fd <= 2; fd++) {
        if (!isatty(fd))
            continue;
        pid_t fg = tcgetpgrp(fd);
        if (fg > 0)
            return fg == me;
        /* a terminal that is not ours (ENOTTY): ask the next */
    }
    int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return false;
    pid_t fg = tcgetpgrp(fd);
    close(fd);
    return fg > 0 && fg == me;
}

/* Passes one stop signal on to the command: to its process group when it
 * has one of its own (pgid == pid; also to the command itself should it have
 * left that group), else to its pid. */
static void pass_on(pid_t pid, bool own_group, int sig)
{
    if (!own_group) {
        kill(pid, sig);
        return;
    }
    if (getpgid(pid) != pid)
        kill(pid, sig);
    kill(-pid, sig);
}

/* Blocks until the child has exited, without reaping it (it stays a zombie so
 * its /proc entry still holds its final CPU times). Drains samples every
 * 100 ms meanwhile, and passes each stop request on to the child: a signal
 * interrupts the poll, so it is passed on at once, or within one 100 ms
 * wait when it comes between the check and the poll. In the caller's group
 * (own_group false) only signals sent by a process are passed on (the
 * kernel's for a terminal reached the command too); in its own group, every
 * one. A repeat of the signal last passed on within WL__REPEAT_NS of it is
 * taken as the same one (timeout(1) sends its signal to wattlens and then
 * to wattlens's whole group, hundreds of ms apart on a loaded machine). The child is not reaped
 * before this returns, so its pid (and its group's id) cannot have been reused. */
#define WL__REPEAT_NS 1000000000ull

static void wait_exit_nowait(pid_t pid, bool own_group, wl_sampler *s,
                             const struct wl_measure_params *p, struct wl_measure_result *r)
{
    int pidfd = -1;
#if defined(__linux__) && defined(SYS_pidfd_open)
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    uint64_t last_drain = wl_clock_now_ns();
    long passed_on = 0; /* stop requests taken so far */
    uint64_t last_pass_ns = 0;
    for (;;) {
        if (p->stop) {
            const long requests = (long)p->stop->count + (own_group ? (long)p->stop->tty_count : 0);
            if (requests != passed_on) {
                passed_on = requests;
                const int sig = own_group ? p->stop->signal : p->stop->sent_signal;
                const uint64_t now = wl_clock_now_ns();
                if (sig != r->stop_signal || now - last_pass_ns >= WL__REPEAT_NS) {
                    r->stop_signal = sig;
                    last_pass_ns = now;
                    pass_on(pid, own_group, sig);
                }
            }
        }
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT | WNOHANG);
        if (rc == 0 && si.si_pid == pid)
            break;
        if (rc != 0 && errno != EINTR)
            break; /* not our child any more: nothing to wait for */
        if (wl_clock_now_ns() - last_drain >= 100000000ull) {
            drain_into(s, p, r);
            last_drain = wl_clock_now_ns();
        }
        if (pidfd >= 0) {
            struct pollfd pf = {pidfd, POLLIN, 0};
            poll(&pf, 1, 100);
        } else {
            wl_clock_sleep_ns(1000000); /* 1 ms end-time resolution without pidfd */
        }
    }
    if (pidfd >= 0)
        close(pidfd);
}

/* Opens the sensors and starts the sampler (*set and *s are left for the
 * caller to close, also on failure). Returns 0 or a WL_E* with err set. */
static int open_sampling(const struct wl_measure_params *p, pid_t pid, wl_sensor_set **set,
                         wl_sampler **s, struct wl_errmsg *err)
{
    struct wl_sensor_params sp = p->sensors;
    if (sp.backends == 0)
        wl_sensor_params_default(&sp);
    sp.model.scope = p->model_whole_system ? WL_MODEL_SCOPE_SYSTEM : WL_MODEL_SCOPE_TREE;
    sp.model.pid = pid;
    int rc = wl_sensor_set_open(&sp, set);
    if (rc == 0 && wl_sensor_set_count(*set) == 0)
        rc = WL_ENOTSUP;
    if (rc != 0)
        return wl_errmsg_set(err, rc, "no power source could be opened (see `wattlens sensors`)");
    struct wl_sampler_params smp;
    wl_sampler_params_default(&smp);
    smp.interval_ns = p->interval_ns;
    smp.ring_capacity = p->ring_capacity;
    rc = wl_sampler_open(*set, &smp, s);
    if (rc == 0)
        rc = wl_sampler_start(*s);
    if (rc != 0)
        return wl_errmsg_set(err, rc, "cannot start the sampler: %s", wl_strerror(rc));
    return 0;
}

/* In the forked child, before it waits to exec: the caller's handlers of the
 * stop signals go back to the default action, as exec would do, so that a
 * stop passed on between "go" and the exec ends the child instead of being
 * swallowed by a copy of the caller's handler (and the command then run).
 * Ignored signals stay ignored (the command inherits that, as from a shell). */
static void child_default_stop_handlers(void)
{
    static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
        struct sigaction cur;
        if (sigaction(stop_signals[i], NULL, &cur) != 0)
            continue;
        const bool caught = (cur.sa_flags & SA_SIGINFO)
                                ? cur.sa_sigaction != NULL
                                : cur.sa_handler != SIG_IGN && cur.sa_handler != SIG_DFL;
        if (caught) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigaction(stop_signals[i], &dfl, NULL);
        }
    }
}

/* Writes "go" to the held child. Returns false when it is gone (EPIPE: it
 * died before reading, of a terminal's ^C say), without the SIGPIPE that
 * would kill the caller: the signal is ignored around the write (the caller
 * is single-threaded; its other threads block asynchronous signals). */
static bool release_child(int fd)
{
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    const bool restore = sigaction(SIGPIPE, &ign, &old) == 0;
    ssize_t n;
    do {
        n = write(fd, "g", 1);
    } while (n < 0 && errno == EINTR);
    if (restore)
        sigaction(SIGPIPE, &old, NULL);
    return n == 1;
}

/* Sets SIGCHLD to its default action when it is ignored or has
 * SA_NOCLDWAIT (both make the kernel reap children by itself); the previous
 * action goes to *old. Returns whether it was changed. */
static bool chld_default(struct sigaction *old)
{
    if (sigaction(SIGCHLD, NULL, old) != 0)
        return false;
    const bool ignored = !(old->sa_flags & SA_SIGINFO) && old->sa_handler == SIG_IGN;
    if (!ignored && !(old->sa_flags & SA_NOCLDWAIT))
        return false;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    return sigaction(SIGCHLD, &dfl, NULL) == 0;
}

int wl_measure_run(const struct wl_measure_params *p, struct wl_measure_result *out,
                   struct wl_errmsg *err)
{
    memset(out, 0, sizeof *out);
    out->sample_stride = 1;
    if (!p || !p->argv || !p->argv[0])
        return wl_errmsg_set(err, WL_EINVAL, "no command to run");
    int go[2] = {-1, -1}, ex[2] = {-1, -1};
    if (pipe(go) != 0 || pipe(ex) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (go[i] >= 0)
                close(go[i]);
            if (ex[i] >= 0)
                close(ex[i]);
        }
        return wl_errmsg_set(err, wl_error_from_errno(e), "pipe: %s", strerror(e));
    }
    fcntl(go[1], F_SETFD, FD_CLOEXEC);
    fcntl(ex[0], F_SETFD, FD_CLOEXEC);
    fcntl(ex[1], F_SETFD, FD_CLOEXEC);
    /* in a terminal's foreground group, the command stays in it (a ^C and
     * job control reach it as they reach wattlens); anywhere else it gets a
     * group of its own, so that a signal to wattlens's whole group (timeout,
     * kill -TERM -PGID) reaches it once, passed on by wattlens */
    const bool own_group = !terminal_foreground();
    /* an inherited SIGCHLD ignored (or SA_NOCLDWAIT) reaps the child by
     * itself: no exit status, and its pid free for reuse while it is still
     * sent signals; the default until the child is reaped */
    struct sigaction old_chld;
    const bool chld_changed = chld_default(&old_chld);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (chld_changed)
            sigaction(SIGCHLD, &old_chld, NULL);
        close(go[0]);
        close(go[1]);
        close(ex[0]);
        close(ex[1]);
        return wl_errmsg_set(err, WL_ECHILD, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* child: wait for "go", then exec; report exec failure through ex */
        child_default_stop_handlers();
        if (chld_changed)
            sigaction(SIGCHLD, &old_chld, NULL); /* the command inherits it as it was */
        if (own_group)
            setpgid(0, 0);
        close(go[1]);
        close(ex[0]);
        char c = 0;
        ssize_t n;
        do {
            n = read(go[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        close(go[0]);
        if (n != 1 || c != 'g')
            _exit(127);
        execvp(p->argv[0], p->argv);
        int e = errno;
        ssize_t w = write(ex[1], &e, sizeof e);
        (void)w;
        _exit(e == ENOENT ? 127 : 126);
    }
    if (own_group)
        setpgid(pid, pid); /* also here: set before any signal is passed on */
    close(go[0]);
    close(ex[1]);

    wl_sensor_set *set = NULL;
    wl_sampler *s = NULL;
    /* the threads this starts block asynchronous signals
     * (wl_signals_thread_create): the caller's stop handler runs here */
    int rc = open_sampling(p, pid, &set, &s, err);
    if (rc != 0)
        goto fail_child;
    out->sensors_not_read = wl_sensor_set_n_not_read(set);
    wl_sensor_set_describe(set, out->sensors_desc, sizeof out->sensors_desc);
    out->t0_ns = wl_sampler_t0_ns(s);
    const volatile sig_atomic_t *cancel = p->stop ? &p->stop->signal : NULL;
    if (p->baseline_ns) {
        wl_sampler_set_phase(s, WL_MEASURE_PHASE_BASELINE);
        /* drained every 100 ms, as while the command runs: the ring holds
         * ring_capacity samples (WL_SAMPLER_DEFAULT_RING by default, 82 s at 10 ms; --baseline
         * allows an hour) */
        struct drain_job job = {s, p, out};
        int brc = wl_sampler_baseline_each(s, p->baseline_ns, cancel, 100000000ull, drain_job_run,
                                           &job, &out->baseline);
        if (brc != 0 && brc != WL_ECANCELED)
            wl_log_warn("measure", "the idle baseline could not be measured");
    }
    wl_sampler_set_phase(s, WL_MEASURE_PHASE_RUN);

    struct sigaction ign, old_int, old_quit;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    if (!p->stop)
        sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);

    out->started_at_ns = wl_clock_realtime_ns();
    /* a stop that came before this point: the command is never started (a
     * later one is passed on to it by wait_exit_nowait) */
    out->started = !(cancel && *cancel);
    if (!out->started)
        out->stop_signal = *cancel;
    if (out->started) {
        wl_sampler_window_begin(s, &out->window);
        if (!release_child(go[1])) {
            /* the held child is gone (a terminal's ^C killed it, with the
             * whole foreground group, just before the check above): the
             * command never ran */
            out->started = false;
            memset(&out->window, 0, sizeof out->window);
            out->stop_signal = cancel ? *cancel : 0;
        }
    }
    close(go[1]); /* without "go" the held child reads EOF and exits 127 */
    go[1] = -1;
    int exec_errno = 0;
    ssize_t n;
    do {
        n = read(ex[0], &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    close(ex[0]);
    ex[0] = -1;
    if (n == (ssize_t)sizeof exec_errno)
        out->exec_errno = exec_errno;

    if (out->started) {
        wait_exit_nowait(pid, own_group, s, p, out);
        wl_sampler_window_end(s, &out->window);
    }
    wl_sampler_stop(s);
    /* after the stop: no read follows, so the answer is final. The stuck
     * gap's end is the stuck sensor's own read, while a mark's time is the
     * middle of every counter sensor's reads: the sampler decides, as it
     * does for run's windows (never a comparison of those times here) */
    if (out->started)
        out->stuck_mask =
            wl_sampler_stuck_over(s, out->window.begin.t_ns, out->window.end.t_ns, NULL);

    struct rusage ru;
    int status = 0, wrc;
    memset(&ru, 0, sizeof ru);
    while ((wrc = (int)wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR) {
    }
    const int wait_errno = wrc < 0 ? errno : 0;
    if (chld_changed)
        sigaction(SIGCHLD, &old_chld, NULL);
    if (!p->stop)
        sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (out->started && wait_errno) {
        /* not our child any more (something else reaped it): its status and
         * CPU time are unknown, not a successful exit */
        out->status_unknown = true;
        out->wait_errno = wait_errno;
        out->exit_code = -1;
        wl_log_warn("measure", "cannot get the command's exit status: wait4: %s",
                    strerror(wait_errno));
    } else if (out->started) {
        out->wait_status = status;
        if (WIFEXITED(status))
            out->exit_code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status)) {
            out->term_signal = WTERMSIG(status);
            out->exit_code = 128 + out->term_signal;
        }
        out->cpu_ns =
            (uint64_t)ru.ru_utime.tv_sec * 1000000000ull + (uint64_t)ru.ru_utime.tv_usec * 1000ull +
            (uint64_t)ru.ru_stime.tv_sec * 1000000000ull + (uint64_t)ru.ru_stime.tv_usec * 1000ull;
    }

    drain_into(s, p, out);
    wl_sampler_stats(s, &out->stats);
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        out->domains[d] = *wl_sampler_domain(s, (enum wl_domain)d);
    /* only powers averaged over the command's own time, and never below its
     * average (wl_window_peak), in spans of the counters' windows as learned
     * while sampling (the domains are copied after the stop) */
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        wl_window_peak(out->samples, out->n_samples, &out->window, (enum wl_domain)d,
                       out->domains[d].peak_span_ns, &out->run_peak[d]);
    out->n_gaps = wl_sampler_gaps(s, out->gaps, WL_SAMPLER_MAX_GAPS);
    out->model_only = wl_sampler_model_only(s);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    return 0;

fail_child:
    if (go[1] >= 0)
        close(go[1]); /* the held child reads EOF and exits 127 without running CMD */
    if (ex[0] >= 0)
        close(ex[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    if (chld_changed)
        sigaction(SIGCHLD, &old_chld, NULL);
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    return rc;
}

void wl_measure_result_free(struct wl_measure_result *r)
{
    if (!r)
        return;
    free(r->samples);
    r->samples = NULL;
    r->n_samples = 0;
}

uint16_t wl_measure_lost_domains(const struct wl_measure_result *r)
{
    uint16_t lost = r->stuck_mask;
    for (size_t i = 0; i < r->n_gaps; i++) {
        const struct wl_sampler_gap *g = &r->gaps[i];
        if (g->counter_fell && g->causes == 1u << WL_DISC_STUCK)
            continue; /* stuck: r->stuck_mask decides */
        if (g->lost_mask && g->t_start_ns <= r->window.begin.t_ns &&
            (g->t_end_ns == 0 || g->t_end_ns >= r->window.end.t_ns))
            lost |= g->lost_mask;
    }
    return lost;
}

/* Apple silicon power through macOS powermetrics.
 *
 * Spawns `powermetrics --samplers cpu_power,gpu_power,ane_power -i MS -f plist`
 * (the executable path can be overridden, which is how tests drive this code on
 * Linux with a fake), and a reader thread splits its NUL-separated stdout into
 * plist documents and adds each sample's cpu/gpu/ane energy (mJ over the
 * interval) to running totals. read() returns those totals, so a window's
 * energy is exact at powermetrics' own interval granularity. Figures are
 * Apple's own estimates: method vendor_estimate. combined = cpu+gpu+ane and is
 * flagged WL_CH_CONTAINS; cpu, gpu and ane are its parts (WL_CH_PART), so the
 * headline never adds them to it (an AMD APU's soc holds no GPU: a discrete
 * one is added there). A sample that cannot be read after open (it does
 * not parse, or it is over the size limit) is lost with its interval's
 * energy: it is logged (the first few) and counted as a discontinuity of
 * every channel at the next read, so the sampler records a gap instead of
 * a silently short total, one that starts where the lost sample did (the
 * previous document's arrival), not at the previous read. The child is ours: it runs in its own
 * process group (signals meant for the caller's group, a terminal's ^C, do not end it) and close()
 * terminates and reaps it.
 */
#include "sensors/powermetrics_parse.h"
#include "sensors/sensor_impl.h"

#include "util/clock.h"
#include "util/log.h"
#include "util/signals.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { PM_CPU, PM_GPU, PM_ANE, PM_COMBINED, PM_N };

/* Lost samples logged one by one; the rest are counted (in the gaps and in
 * the summary logged at close). */
#define PM_LOST_LOGS 3

struct pm {
    pid_t pid;
    int out_fd, err_fd;
    pthread_t thread;
    bool thread_started;
    int stop_pipe[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* protected by mu */
    bool eof;
    bool opened; /* open() is done: a sample lost from now on is a gap */
    uint64_t n_samples, n_errors, elapsed_sum_ns;
    uint64_t n_lost;      /* samples lost since open (parse errors, oversized) */
    uint64_t n_lost_read; /* n_lost at the last read */
    uint64_t lost_from_ns; /* when the first sample lost since the last read began: the
                              arrival of the document before it (0: none lost) */
    uint32_t n_disc;      /* reads that saw a lost sample: every channel's
                             n_discontinuities */
    uint32_t interval_ms; /* requested (-i): a sample's time when it has no elapsed_ns
                             and none came before it */
    uint64_t last_doc_ns; /* when the previous document arrived (0: none yet) */
    bool no_elapsed_warned;
    unsigned present_union;
    double energy_mj[PM_N];
    double power_mw[PM_N];
    char last_error[256];
    char stderr_tail[256];
    char hw_model[32];
    /* channel map, fixed after open */
    int ch_of[PM_N];
};

/* A sample that could not be read (why), seen at now: after open, its
 * interval's energy is lost; counted for the next read (a discontinuity
 * from when the sample began: the previous document's arrival, as they
 * come one per interval; the sampler's gap starts there, not at its
 * previous read, which may be well inside the sample) and logged, the
 * first PM_LOST_LOGS times. Called with mu held. */
static void lost_sample(struct pm *pm, const char *why, uint64_t now)
{
    /* opened only after a sample arrived (pm_open): last_doc_ns is set by then */
    const uint64_t from = pm->last_doc_ns;
    pm->last_doc_ns = now; /* a lost sample's time is its own, not the next one's */
    if (!pm->opened)
        return; /* before open: no window can hold it (open reports errors) */
    pm->n_lost++;
    if (!pm->lost_from_ns)
        pm->lost_from_ns = from;
    if (pm->n_lost <= PM_LOST_LOGS)
        wl_log_warn("powermetrics",
                    "a sample could not be read (%s); its energy over the %.3f s since the "
                    "previous sample is not counted (a gap)%s",
                    why, (double)(now - from) / 1e9,
                    pm->n_lost == PM_LOST_LOGS ? "; further ones are counted, not logged" : "");
}

static void on_doc(void *ud, const char *doc, size_t len)
{
    struct pm *pm = ud;
    struct wl_pm_sample smp;
    struct wl_errmsg em;
    int rc = wl_pm_parse(doc, len, &smp, &em);
    const uint64_t now = wl_clock_now_ns();
    pthread_mutex_lock(&pm->mu);
    if (rc != 0) {
        pm->n_errors++;
        wl_utf8_clip(pm->last_error, sizeof pm->last_error, em.text);
        lost_sample(pm, pm->last_error, now);
    } else {
        /* a sample without elapsed_ns (a release that gives power only):
         * its time is the wall time since the previous document (they
         * come one per interval, so these add up to the time sampled),
         * the requested interval for the first; 0 s made its power-only
         * channels add 0 J without a word */
        uint64_t el_ns = smp.elapsed_ns;
        if (!(smp.present & WL_PM_ELAPSED)) {
            el_ns =
                pm->last_doc_ns ? now - pm->last_doc_ns : (uint64_t)pm->interval_ms * 1000000ull;
            if (!pm->no_elapsed_warned)
                wl_log_warn("powermetrics",
                            "samples carry no elapsed_ns: the energy of a power-only figure is "
                            "its power x the time since the previous sample");
            pm->no_elapsed_warned = true;
        }
        const double el_s = (double)el_ns / 1e9;
        /* each component's energy, from its power x the interval where a
         * release gives power only; combined is their sum (a component
         * with power but no energy key is in it too), or Apple's
         * combined_power when no component has an energy */
        static const unsigned energy_bit[3] = {WL_PM_CPU_ENERGY, WL_PM_GPU_ENERGY,
                                               WL_PM_ANE_ENERGY};
        const double energy[3] = {smp.cpu_energy_mj, smp.gpu_energy_mj, smp.ane_energy_mj};
        const double power[3] = {smp.cpu_power_mw, smp.gpu_power_mw, smp.ane_power_mw};
        double sum = 0;
        for (int k = 0; k < 3; k++) {
            const double e = (smp.present & energy_bit[k]) ? energy[k] : power[k] * el_s;
            pm->energy_mj[k] += e;
            sum += e;
        }
        const bool any_energy =
            smp.present & (WL_PM_CPU_ENERGY | WL_PM_GPU_ENERGY | WL_PM_ANE_ENERGY);
        pm->energy_mj[PM_COMBINED] += !any_energy && (smp.present & WL_PM_COMBINED_POWER)
                                          ? smp.combined_power_mw * el_s
                                          : sum;
        pm->power_mw[PM_CPU] = smp.cpu_power_mw;
        pm->power_mw[PM_GPU] = smp.gpu_power_mw;
        pm->power_mw[PM_ANE] = smp.ane_power_mw;
        pm->power_mw[PM_COMBINED] = (smp.present & WL_PM_COMBINED_POWER)
                                        ? smp.combined_power_mw
                                        : smp.cpu_power_mw + smp.gpu_power_mw + smp.ane_power_mw;
        pm->elapsed_sum_ns += smp.elapsed_ns;
        pm->present_union |= smp.present;
        if (smp.hw_model[0])
            memcpy(pm->hw_model, smp.hw_model, sizeof pm->hw_model);
        pm->n_samples++;
        pm->last_doc_ns = now; /* the next sample begins here */
    }
    pthread_cond_broadcast(&pm->cv);
    pthread_mutex_unlock(&pm->mu);
}

static void *reader_main(void *arg)
{
    struct pm *pm = arg;
    struct wl_pm_splitter sp;
    wl_pm_splitter_init(&sp, 16u << 20);
    uint64_t n_oversized = 0; /* sp.n_oversized already counted as lost */
    char buf[16384];
    bool out_open = true, err_open = true;
    while (out_open) {
        struct pollfd fds[3] = {{pm->out_fd, POLLIN, 0},
                                {err_open ? pm->err_fd : -1, POLLIN, 0},
                                {pm->stop_pipe[0], POLLIN, 0}};
        int n = poll(fds, 3, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[2].revents)
            break;
        if (fds[1].revents) {
            ssize_t k = read(pm->err_fd, buf, sizeof buf - 1);
            if (k <= 0) {
                err_open = false;
            } else {
                buf[k] = '\0';
                pthread_mutex_lock(&pm->mu);
                wl_utf8_clip(pm->stderr_tail, sizeof pm->stderr_tail, buf);
                pthread_mutex_unlock(&pm->mu);
            }
        }
        if (fds[0].revents) {
            ssize_t k = read(pm->out_fd, buf, sizeof buf);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                wl_pm_splitter_finish(&sp, on_doc, pm);
                out_open = false;
            } else if (wl_pm_splitter_feed(&sp, buf, (size_t)k, on_doc, pm) != 0) {
                out_open = false;
            }
            if (sp.n_oversized != n_oversized) {
                const uint64_t now = wl_clock_now_ns();
                pthread_mutex_lock(&pm->mu);
                for (; n_oversized < sp.n_oversized; n_oversized++) {
                    char why[96];
                    snprintf(why, sizeof why, "a document over the limit of %zu bytes", sp.max_doc);
                    lost_sample(pm, why, now);
                }
                pthread_mutex_unlock(&pm->mu);
            }
        }
    }
    /* drain what is left of stderr so the exit message is complete */
    if (err_open) {
        ssize_t k = read(pm->err_fd, buf, sizeof buf - 1);
        if (k > 0) {
            buf[k] = '\0';
            pthread_mutex_lock(&pm->mu);
            wl_utf8_clip(pm->stderr_tail, sizeof pm->stderr_tail, buf);
            pthread_mutex_unlock(&pm->mu);
        }
    }
    wl_pm_splitter_free(&sp);
    pthread_mutex_lock(&pm->mu);
    pm->eof = true;
    pthread_cond_broadcast(&pm->cv);
    pthread_mutex_unlock(&pm->mu);
    return NULL;
}

static void pm_close(struct wl_sensor *s)
{
    struct pm *pm = s->impl;
    if (!pm)
        return;
    if (pm->pid > 0)
        kill(pm->pid, SIGTERM);
    if (pm->thread_started) {
        ssize_t w = write(pm->stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(pm->thread, NULL);
    }
    if (pm->pid > 0) {
        int stt;
        while (waitpid(pm->pid, &stt, 0) < 0 && errno == EINTR) {
        }
    }
    if (pm->n_lost > PM_LOST_LOGS)
        wl_log_warn("powermetrics",
                    "%llu samples could not be read; their energy is not counted (gaps)",
                    (unsigned long long)pm->n_lost);
    if (pm->out_fd >= 0)
        close(pm->out_fd);
    if (pm->err_fd >= 0)
        close(pm->err_fd);
    if (pm->stop_pipe[0] >= 0) {
        close(pm->stop_pipe[0]);
        close(pm->stop_pipe[1]);
    }
    pthread_cond_destroy(&pm->cv);
    pthread_mutex_destroy(&pm->mu);
    free(pm);
    s->impl = NULL;
}

static const char *default_path(void)
{
#ifdef __APPLE__
    return "/usr/bin/powermetrics";
#else
    return NULL;
#endif
}

static int pm_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                   struct wl_sensor_status *st)
{
    const char *path = p->powermetrics;
    if (!path || !*path)
        path = getenv("WATTLENS_POWERMETRICS");
    if (!path || !*path)
        path = default_path();
    if (!path)
        return wl__sensor_fail(st, WL_ENOTSUP,
                               "Nothing to do on Linux: powermetrics exists only on macOS (set "
                               "WATTLENS_POWERMETRICS to use another executable that speaks its "
                               "format).",
                               "powermetrics is a macOS tool; this is not macOS");
    if (access(path, X_OK) != 0)
        return wl__sensor_fail(st, WL_ENOTSUP,
                               "On macOS powermetrics is /usr/bin/powermetrics; check "
                               "WATTLENS_POWERMETRICS.",
                               "%s is not an executable (%s)", path, strerror(errno));
    uint32_t ms = p->powermetrics_interval_ms ? p->powermetrics_interval_ms : 100;
    struct pm *pm = calloc(1, sizeof *pm);
    if (!pm)
        return WL_ENOMEM;
    pm->out_fd = pm->err_fd = pm->stop_pipe[0] = pm->stop_pipe[1] = -1;
    pm->interval_ms = ms;
    pthread_mutex_init(&pm->mu, NULL);
    pthread_cond_init(&pm->cv, NULL);
    s->impl = pm;
    int rc = 0;
    int out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    if (pipe(out_p) != 0 || pipe(err_p) != 0 || pipe(pm->stop_pipe) != 0) {
        rc = wl__sensor_fail(st, WL_EIO, NULL, "pipe: %s", strerror(errno));
        goto fail_pipes;
    }
    fcntl(out_p[0], F_SETFD, FD_CLOEXEC);
    fcntl(err_p[0], F_SETFD, FD_CLOEXEC);
    fcntl(pm->stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(pm->stop_pipe[1], F_SETFD, FD_CLOEXEC);
    char interval[16];
    snprintf(interval, sizeof interval, "%u", ms);
    char *argv[] = {(char *)path, "--samplers", "cpu_power,gpu_power,ane_power",
                    "-i",         interval,     "-f",
                    "plist",      NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_p[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err_p[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addclose(&fa, out_p[1]);
    posix_spawn_file_actions_addclose(&fa, err_p[1]);
    /* Its own process group, every signal unblocked, the ones a caller may
     * ignore back at their default: a terminal's ^C or hangup, or a group
     * signal from `timeout` or a job runner, goes to wattlens's foreground
     * group, which the command under measurement may survive; powermetrics
     * must survive it too, or every figure of the run becomes n/a. It is
     * stopped by close() alone (SIGTERM to its pid), and if wattlens dies
     * without closing it, its next write to the closed pipe ends it
     * (SIGPIPE, at its default here). */
    posix_spawnattr_t sa;
    posix_spawnattr_init(&sa);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    static const int dfl_sigs[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,
                                   SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof dfl_sigs / sizeof dfl_sigs[0]; i++)
        sigaddset(&dfl, dfl_sigs[i]);
    posix_spawnattr_setpgroup(&sa, 0);
    posix_spawnattr_setsigmask(&sa, &none);
    posix_spawnattr_setsigdefault(&sa, &dfl);
    posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    int se = posix_spawn(&pm->pid, path, &fa, &sa, argv, environ);
    posix_spawnattr_destroy(&sa);
    posix_spawn_file_actions_destroy(&fa);
    close(out_p[1]);
    close(err_p[1]);
    pm->out_fd = out_p[0];
    pm->err_fd = err_p[0];
    if (se != 0) {
        pm->pid = 0;
        rc = wl__sensor_fail(st, WL_ECHILD, NULL, "cannot start %s: %s", path, strerror(se));
        goto fail;
    }
    if (wl_signals_thread_create(&pm->thread, NULL, reader_main, pm) != 0) {
        rc = wl__sensor_fail(st, WL_ENOMEM, NULL, "cannot start the reader thread");
        goto fail;
    }
    pm->thread_started = true;

    /* wait for the first sample (or the end of the stream) */
    uint64_t deadline = wl_clock_now_ns() + (uint64_t)ms * 5000000ull + 2000000000ull;
    pthread_mutex_lock(&pm->mu);
    while (pm->n_samples == 0 && !pm->eof && wl_clock_now_ns() < deadline) {
        pthread_mutex_unlock(&pm->mu);
        wl_clock_sleep_ns(2000000);
        pthread_mutex_lock(&pm->mu);
    }
    uint64_t n = pm->n_samples;
    unsigned present = pm->present_union;
    char err_tail[256], last_err[256], hw_model[sizeof pm->hw_model];
    /* copies: the reader thread writes these under mu for every sample */
    memcpy(hw_model, pm->hw_model, sizeof hw_model);
    snprintf(err_tail, sizeof err_tail, "%s", pm->stderr_tail);
    snprintf(last_err, sizeof last_err, "%s", pm->last_error);
    pthread_mutex_unlock(&pm->mu);
    if (n == 0) {
        for (char *c = err_tail; *c; c++)
            if (*c == '\n')
                *c = ' ';
        if (strstr(err_tail, "superuser") || strstr(err_tail, "root"))
            rc = wl__sensor_fail(st, WL_EACCES, "powermetrics needs root: run wattlens with sudo.",
                                 "%s refused to run: %s", path, err_tail);
        else
            rc = wl__sensor_fail(st, WL_ESENSOR, NULL, "%s gave no sample%s%s%s%s", path,
                                 err_tail[0] ? ": " : "", err_tail, last_err[0] ? "; " : "",
                                 last_err);
        goto fail;
    }
    static const char *names[PM_N] = {"cpu", "gpu", "ane", "combined"};
    static const enum wl_domain doms[PM_N] = {WL_DOMAIN_PACKAGE, WL_DOMAIN_GPU, WL_DOMAIN_ANE,
                                              WL_DOMAIN_SOC};
    static const unsigned need[PM_N] = {WL_PM_CPU_ENERGY | WL_PM_CPU_POWER,
                                        WL_PM_GPU_ENERGY | WL_PM_GPU_POWER,
                                        WL_PM_ANE_ENERGY | WL_PM_ANE_POWER, ~0u};
    for (int i = 0; i < PM_N; i++) {
        pm->ch_of[i] = -1;
        if (!(present & need[i]))
            continue;
        int ci = wl__sensor_add_channel(
            s, names[i], doms[i], WL_METHOD_VENDOR_ESTIMATE,
            WL_CH_ENERGY | WL_CH_POWER | (i == PM_COMBINED ? WL_CH_CONTAINS : WL_CH_PART), -1);
        s->info.ch[ci].resolution_uj = 1000.0;
        s->info.ch[ci].power_resolution_w = 0.001;
        pm->ch_of[i] = ci;
    }
    char path_part[180]; /* any bytes (WATTLENS_POWERMETRICS): cut between characters */
    wl_utf8_clip(path_part, sizeof path_part, path);
    wl__sensor_set_source(s, "%s -i %u -f plist%s%s", path_part, ms, hw_model[0] ? " on " : "",
                          hw_model);
    /* reported period: the interval powermetrics itself measured */
    pthread_mutex_lock(&pm->mu);
    s->info.update_period_ns = pm->elapsed_sum_ns / pm->n_samples;
    pthread_mutex_unlock(&pm->mu);
    s->info.period_measured = s->info.update_period_ns > 0;
    if (!s->info.period_measured)
        s->info.update_period_ns = (uint64_t)ms * 1000000ull;
    pthread_mutex_lock(&pm->mu);
    pm->opened = true;
    pthread_mutex_unlock(&pm->mu);
    return 0;
fail_pipes:
    for (int i = 0; i < 2; i++) {
        if (out_p[i] >= 0)
            close(out_p[i]);
        if (err_p[i] >= 0)
            close(err_p[i]);
    }
    pm->stop_pipe[0] = pm->stop_pipe[1] = -1;
fail:
    pm_close(s);
    s->info.n_channels = 0;
    return rc;
}

static int pm_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    struct pm *pm = s->impl;
    r->t_before_ns = wl_clock_now_ns();
    pthread_mutex_lock(&pm->mu);
    bool dead = pm->eof;
    /* samples lost since the last read: their energy is missing from the
     * totals, a discontinuity of every channel (the sampler records a gap
     * from when the first of them began, lost_from_ns, to this read; the
     * read itself is good) */
    const bool lost = pm->n_lost != pm->n_lost_read;
    if (lost) {
        pm->n_lost_read = pm->n_lost;
        pm->n_disc++;
    }
    for (int i = 0; i < PM_N; i++) {
        int ci = pm->ch_of[i];
        if (ci < 0)
            continue;
        r->v[ci].energy_uj = (uint64_t)(pm->energy_mj[i] * 1000.0 + 0.5);
        r->v[ci].power_w = pm->power_mw[i] / 1000.0;
        r->v[ci].n_discontinuities = pm->n_disc;
        /* a lost sample: the sampler records a gap whose energy is not
         * counted, as it is not */
        r->v[ci].disc = lost ? WL_DISC_LOST_SAMPLE : WL_DISC_NONE;
        r->v[ci].lost_from_ns = lost ? pm->lost_from_ns : 0;
        r->v[ci].valid = WL_CH_ENERGY | WL_CH_POWER;
    }
    pm->lost_from_ns = 0;
    pthread_mutex_unlock(&pm->mu);
    r->n_channels = s->info.n_channels;
    r->t_after_ns = wl_clock_now_ns();
    return dead ? WL_ESENSOR : 0;
}

/* The period is set in open() from the samples' elapsed_ns. */
static void pm_measure_period(struct wl_sensor *s, const struct wl_sensor_params *p) {}

const struct wl_sensor_ops wl__powermetrics_ops = {
    .name = "powermetrics",
    .what = "Apple silicon CPU/GPU/ANE power via macOS powermetrics (vendor estimate)",
    .bit = WL_BACKEND_POWERMETRICS,
    .open = pm_open,
    .read = pm_read,
    .close = pm_close,
    .measure_period = pm_measure_period,
};

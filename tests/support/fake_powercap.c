/* Fake powercap tree writer, its record of its own gaps, and the checks of
 * values read through it; see fake_powercap.h. The writer thread alone
 * writes the files and raises the longest gap; the test thread reads it,
 * resets it to 0 and asks for pauses, all through atomics. */
#include "fake_powercap.h"
#include "test_support.h"

#include "util/clock.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAKE_MAX_ZONES 16

struct wl_fake_powercap {
    char root[1024];
    size_t n;
    struct wl_fake_zone z[FAKE_MAX_ZONES];
    int fd[FAKE_MAX_ZONES];
    uint64_t t0_ns, period_ns;
    _Atomic double power_w[FAKE_MAX_ZONES];
    double cum_uj[FAKE_MAX_ZONES]; /* writer thread only */
    pthread_t thread;
    atomic_int stop;
    atomic_int broken;
    _Atomic uint64_t max_gap_ns;  /* the writer raises it, a reset stores 0 */
    _Atomic uint64_t t_values_ns; /* written by the writer only: its last write's values' time */
    _Atomic uint64_t pause_ns;    /* asked by wl_fake_powercap_pause, taken by the writer */
    _Atomic uint64_t min_sep_ns;  /* the writer lowers it, a reset stores UINT64_MAX */
    uint64_t done_ns;             /* writer thread only: when its last write had ended */
};

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* Fixed width, so an in-place rewrite never leaves stale digits behind. */
static void write_value(int fd, uint64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%020llu\n", (unsigned long long)v);
    ssize_t w = pwrite(fd, buf, (size_t)n, 0);
    (void)w;
}

static void write_all(struct wl_fake_powercap *fp, uint64_t t)
{
    const uint64_t t_last = atomic_load_explicit(&fp->t_values_ns, memory_order_relaxed);
    /* This write's values land after t, the last write's before done_ns:
     * the files change at least t - done_ns after the last change. A pair
     * across a reset may count: it only lowers the minimum. */
    if (fp->done_ns) {
        const uint64_t sep = t > fp->done_ns ? t - fp->done_ns : 0;
        uint64_t was = atomic_load(&fp->min_sep_ns);
        while (sep < was && !atomic_compare_exchange_weak(&fp->min_sep_ns, &was, sep)) {
        }
    }
    int broken = atomic_load(&fp->broken);
    for (size_t i = 0; i < fp->n; i++) {
        fp->cum_uj[i] += atomic_load(&fp->power_w[i]) * (double)(t - t_last) / 1e3;
        if (broken) {
            ssize_t w = pwrite(fp->fd[i], "garbage-not-a-number\n", 21, 0);
            (void)w;
        } else {
            /* the counter shows max_range_uj itself, then 0 (as the kernel's) */
            write_value(fp->fd[i], (uint64_t)fp->cum_uj[i] % (fp->z[i].max_range_uj + 1));
        }
    }
    /* The files held the values computed at t_last until now: that is this
     * gap, raised into the maximum. A reset (a store of 0) after the load
     * fails the exchange, which retries against 0, so a gap that straddles
     * the reset counts in full; a gap the loop leaves out ended before the
     * load, so before any reset that could have dropped it. */
    const uint64_t done = wl_clock_now_ns();
    fp->done_ns = done;
    const uint64_t gap = done > t_last ? done - t_last : 0;
    uint64_t cur = atomic_load(&fp->max_gap_ns);
    while (gap > cur && !atomic_compare_exchange_weak(&fp->max_gap_ns, &cur, gap)) {
        /* cur now holds what beat this gap, 0 after a reset: try again */
    }
    atomic_store(&fp->t_values_ns, t); /* after the record: see max_gap_ns */
}

uint64_t wl_fake_powercap_max_gap_ns(const struct wl_fake_powercap *fp)
{
    /* Loads in the order opposite to the writer's stores: a record newer
     * than the time loaded only makes the open gap look longer, and a write
     * under way (or not yet recorded) is covered by the open gap. */
    const uint64_t t_values = atomic_load(&fp->t_values_ns);
    const uint64_t closed = atomic_load(&fp->max_gap_ns);
    const uint64_t now = wl_clock_now_ns();
    const uint64_t open = now > t_values ? now - t_values : 0;
    return open > closed ? open : closed;
}

void wl_fake_powercap_reset_gap(struct wl_fake_powercap *fp)
{
    atomic_store(&fp->max_gap_ns, 0);
    atomic_store(&fp->min_sep_ns, UINT64_MAX);
}

uint64_t wl_fake_powercap_min_sep_ns(const struct wl_fake_powercap *fp)
{
    return atomic_load(&fp->min_sep_ns);
}

void wl_fake_powercap_pause(struct wl_fake_powercap *fp, uint64_t ns)
{
    atomic_store(&fp->pause_ns, ns);
}

void wl_fake_powercap_set_power(struct wl_fake_powercap *fp, size_t zone, double power_w)
{
    atomic_store(&fp->power_w[zone], power_w);
}

void wl_fake_powercap_set_broken(struct wl_fake_powercap *fp, int broken)
{
    atomic_store(&fp->broken, broken);
}

static void *writer(void *arg)
{
    struct wl_fake_powercap *fp = arg;
    /* Best effort: a real-time writer keeps the files close to the truth on a
     * loaded machine (the lag of the last write is the fake's own error). */
    struct sched_param sp = {.sched_priority = 1};
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    while (!atomic_load(&fp->stop)) {
        const uint64_t pause = atomic_exchange(&fp->pause_ns, 0);
        if (pause)
            wl_clock_sleep_ns(pause);
        const uint64_t t = wl_clock_now_ns();
        write_all(fp, t);
        /* A period after this write, not on a fixed grid: after a late
         * write the grid's next slot came at once (after a stall, a burst
         * of writes microseconds apart), so the update period that tests
         * measure or learn from the fake shrank, not only grew, with the
         * host's stalls. Now every gap is at least a period. */
        wl_clock_sleep_until_ns(t + fp->period_ns);
    }
    return NULL;
}

struct wl_fake_powercap *wl_fake_powercap_start(const char *root, const struct wl_fake_zone *zones,
                                                size_t n, uint64_t period_ns)
{
    if (n > FAKE_MAX_ZONES)
        return NULL;
    struct wl_fake_powercap *fp = calloc(1, sizeof *fp);
    if (!fp)
        return NULL;
    snprintf(fp->root, sizeof fp->root, "%s", root);
    fp->n = n;
    fp->period_ns = period_ns;
    atomic_store(&fp->min_sep_ns, UINT64_MAX);
    char path[2048];
    snprintf(path, sizeof path, "%s/class", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/class/powercap", root);
    mkdir(path, 0755);
    for (size_t i = 0; i < n; i++) {
        fp->z[i] = zones[i];
        atomic_store(&fp->power_w[i], zones[i].power_w);
        char val[64];
        snprintf(path, sizeof path, "%s/class/powercap/%s", root, zones[i].dir);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/class/powercap/%s/name", root, zones[i].dir);
        write_text(path, zones[i].name);
        snprintf(path, sizeof path, "%s/class/powercap/%s/max_energy_range_uj", root, zones[i].dir);
        snprintf(val, sizeof val, "%llu\n", (unsigned long long)zones[i].max_range_uj);
        write_text(path, val);
        snprintf(path, sizeof path, "%s/class/powercap/%s/energy_uj", root, zones[i].dir);
        fp->fd[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
        if (fp->fd[i] < 0) {
            for (size_t k = 0; k < i; k++)
                close(fp->fd[k]);
            free(fp);
            return NULL;
        }
    }
    fp->t0_ns = wl_clock_now_ns();
    atomic_store(&fp->t_values_ns, fp->t0_ns);
    write_all(fp, fp->t0_ns);
    if (pthread_create(&fp->thread, NULL, writer, fp) != 0) {
        for (size_t k = 0; k < n; k++)
            close(fp->fd[k]);
        free(fp);
        return NULL;
    }
    return fp;
}

void wl_fake_powercap_stop(struct wl_fake_powercap *fp)
{
    if (!fp)
        return;
    atomic_store(&fp->stop, 1);
    pthread_join(fp->thread, NULL);
    for (size_t i = 0; i < fp->n; i++)
        close(fp->fd[i]);
    free(fp);
}

const char *wl_fake_powercap_energy_path(const struct wl_fake_powercap *fp, size_t zone)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, "%s/class/powercap/%s/energy_uj", fp->root, fp->z[zone].dir);
    return buf;
}

/* ---- checks ----------------------------------------------------------------- */

/* The bounds a gap of gap_ns explains (see fake_powercap.h): each bound b
 * moves along the line through (0, ref) and (allow, b). */
static void explained(double lo, double hi, double ref, uint64_t gap_ns, uint64_t allow_gap_ns,
                      double *lo_x, double *hi_x)
{
    const double k = (double)gap_ns / (double)allow_gap_ns;
    *lo_x = ref - (ref - lo) * k;
    *hi_x = ref + (hi - ref) * k;
}

enum wl_fake_judgement wl_fake_judge(double got, double lo, double hi, double ref, uint64_t gap_ns,
                                     uint64_t allow_gap_ns)
{
    if (got >= lo && got <= hi)
        return WL_FAKE_PASS;
    if (allow_gap_ns == 0 || gap_ns <= allow_gap_ns)
        return WL_FAKE_FAIL; /* NaN ends here too: no value is no stale value */
    double lo_x, hi_x;
    explained(lo, hi, ref, gap_ns, allow_gap_ns, &lo_x, &hi_x);
    return got >= lo_x && got <= hi_x ? WL_FAKE_INCONCLUSIVE : WL_FAKE_FAIL;
}

enum wl_fake_judgement wl_fake_judge_cond(bool ok, uint64_t gap_ns, uint64_t allow_gap_ns)
{
    if (ok)
        return WL_FAKE_PASS;
    return allow_gap_ns > 0 && gap_ns > allow_gap_ns ? WL_FAKE_INCONCLUSIVE : WL_FAKE_FAIL;
}

/* Reports judgement j of a check: nothing on a pass; on an inconclusive
 * one a line and a count in v (the test goes on); on a failure a line and
 * cmocka's _fail. want and why_x describe the check and what the gap
 * explains. */
static bool report(struct wl_fake_verdict *v, enum wl_fake_judgement j, const char *what,
                   const char *got, const char *want, const char *why_x, uint64_t gap_ns,
                   uint64_t allow_gap_ns, const char *file, int line)
{
    if (j == WL_FAKE_PASS)
        return true;
    const double gap_ms = (double)gap_ns / 1e6, allow_ms = (double)allow_gap_ns / 1e6;
    if (j == WL_FAKE_INCONCLUSIVE) {
        fprintf(stderr,
                "%s: got %s, want %s; inconclusive: the fake writer's longest gap, %.3f ms, is "
                "over the %.3f ms the tolerance allows, and %s\n",
                what, got, want, gap_ms, allow_ms, why_x);
        v->n_inconclusive++;
        return false;
    }
    if (allow_gap_ns == 0)
        fprintf(stderr, "%s: got %s, want %s (the tolerance allows the fake writer no gap)\n", what,
                got, want);
    else if (gap_ns <= allow_gap_ns)
        fprintf(stderr,
                "%s: got %s, want %s (the fake writer's longest gap, %.3f ms, is within the %.3f "
                "ms the tolerance allows)\n",
                what, got, want, gap_ms, allow_ms);
    else
        fprintf(stderr,
                "%s: got %s, want %s (the fake writer's longest gap, %.3f ms, is over the %.3f ms "
                "the tolerance allows, but %s)\n",
                what, got, want, gap_ms, allow_ms, why_x);
    _fail(file, line);
    return false; /* not reached */
}

bool wl__fake_check_range(struct wl_fake_verdict *v, const char *what, double got, double lo,
                          double hi, double ref, uint64_t gap_ns, uint64_t allow_gap_ns,
                          const char *file, int line)
{
    const enum wl_fake_judgement j = wl_fake_judge(got, lo, hi, ref, gap_ns, allow_gap_ns);
    char got_s[48], want[96], why_x[160] = "";
    snprintf(got_s, sizeof got_s, "%.6f", got);
    snprintf(want, sizeof want, "%.6f..%.6f", lo, hi);
    if (allow_gap_ns > 0 && gap_ns > allow_gap_ns) {
        double lo_x, hi_x;
        explained(lo, hi, ref, gap_ns, allow_gap_ns, &lo_x, &hi_x);
        snprintf(why_x, sizeof why_x, "a gap that long explains %s%.6f..%.6f",
                 j == WL_FAKE_FAIL ? "only " : "", lo_x, hi_x);
    }
    return report(v, j, what, got_s, want, why_x, gap_ns, allow_gap_ns, file, line);
}

bool wl__fake_check_near(struct wl_fake_verdict *v, const char *what, double got, double want,
                         double tol, uint64_t gap_ns, uint64_t allow_gap_ns, const char *file,
                         int line)
{
    const enum wl_fake_judgement j =
        wl_fake_judge(got, want - tol, want + tol, want, gap_ns, allow_gap_ns);
    char got_s[48], text[96], why_x[160] = "";
    snprintf(got_s, sizeof got_s, "%.6f", got);
    snprintf(text, sizeof text, "%.6f +- %.6f", want, tol);
    if (allow_gap_ns > 0 && gap_ns > allow_gap_ns)
        snprintf(why_x, sizeof why_x, "a gap that long explains %s+- %.6f",
                 j == WL_FAKE_FAIL ? "only " : "", tol * (double)gap_ns / (double)allow_gap_ns);
    return report(v, j, what, got_s, text, why_x, gap_ns, allow_gap_ns, file, line);
}

bool wl__fake_check_cond(struct wl_fake_verdict *v, const char *what, bool ok, uint64_t gap_ns,
                         uint64_t allow_gap_ns, const char *file, int line)
{
    const enum wl_fake_judgement j = wl_fake_judge_cond(ok, gap_ns, allow_gap_ns);
    return report(v, j, what, "false", "true", "a gap that long can make it false", gap_ns,
                  allow_gap_ns, file, line);
}

void wl__fake_verdict_end(const struct wl_fake_verdict *v, const char *file, int line)
{
    if (v->n_inconclusive == 0)
        return;
    fprintf(stderr, "skipped: %u check(s) inconclusive (the fake writer's longest gap)\n",
            v->n_inconclusive);
    wl__test_skip_inconclusive(file, line);
}

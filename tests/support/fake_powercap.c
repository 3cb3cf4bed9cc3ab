/* Fake powercap tree writer; see fake_powercap.h. */
#include "fake_powercap.h"

#include "util/clock.h"

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
    uint64_t t_last_ns;            /* writer thread only */
    pthread_t thread;
    atomic_int stop;
    atomic_int broken;
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
    int broken = atomic_load(&fp->broken);
    for (size_t i = 0; i < fp->n; i++) {
        fp->cum_uj[i] += atomic_load(&fp->power_w[i]) * (double)(t - fp->t_last_ns) / 1e3;
        if (broken) {
            ssize_t w = pwrite(fp->fd[i], "garbage-not-a-number\n", 21, 0);
            (void)w;
        } else {
            /* the counter shows max_range_uj itself, then 0 (as the kernel's) */
            write_value(fp->fd[i], (uint64_t)fp->cum_uj[i] % (fp->z[i].max_range_uj + 1));
        }
    }
    fp->t_last_ns = t;
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
    fp->t0_ns = fp->t_last_ns = wl_clock_now_ns();
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

/* Sampler cost: CPU time of the sampling thread and achieved rate at 1 kHz on
 * a fake powercap tree (package, core, dram, psys written every 1 ms), and the
 * cost of one energy mark (what a window begin/end costs the caller).
 * Prints figures and the targets; never asserts on time.
 * Usage: bench_sampler [SECONDS] (per rate; default 2) */
#include "bench_support.h"
#include "fake_powercap.h"
#include "sampler/sampler.h"
#include "sensors/sensor.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: bench_sampler [SECONDS]\n"
    "\n"
    "Sampler cost on a fake powercap tree (package, core, dram, psys written\n"
    "every 1 ms): the sampling thread's CPU time and achieved rate at 1 kHz (the\n"
    "target) and 100 Hz (the default), each run for SECONDS (0 < SECONDS <= 3600,\n"
    "default 2), and the cost of one energy mark. Prints figures and the targets;\n"
    "never asserts on time.\n"
    "\n"
    "Environment:\n"
    "  TMPDIR  where the fake tree goes (default /tmp)\n"
    "\n"
    "Exit status: 0; 1 when the fake tree, its sensor or the sampler cannot be set\n"
    "up; 2 for a bad argument.\n"
    "\n"
    "Takes about 2 x SECONDS.\n";

int main(int argc, char **argv)
{
    const char *who = "bench_sampler";
    if (argc == 2 && wl_bench_arg_is_help(argv[1])) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 2)
        return wl_bench_usage_error(who, usage, "unexpected argument '%s'", argv[2]);
    double secs = 2.0;
    if (argc == 2) {
        char *end = NULL;
        secs = strtod(argv[1], &end);
        if (argv[1][0] == '-' && !(argv[1][1] >= '0' && argv[1][1] <= '9'))
            return wl_bench_usage_error(who, usage, "unknown option '%s'", argv[1]);
        if (end == argv[1] || *end != '\0' || !(secs > 0 && secs <= 3600))
            return wl_bench_usage_error(who, usage, "SECONDS must be > 0 and <= 3600, got '%s'",
                                        argv[1]);
    }
    /* one way out (out:): the sampler closed, the fake tree's writer
     * stopped and the temporary directory removed, whatever failed */
    char root[4096];
    if (wl_bench_mkdtemp(who, "wattlens-bench", root, sizeof root) != 0)
        return 1;
    int status = 1;
    wl_sensor_set *set = NULL;
    wl_sampler *s = NULL;
    static const struct wl_fake_zone zones[] = {
        {"intel-rapl:0", "package-0", 45.0, 262143328850ull},
        {"intel-rapl:0:0", "core", 30.0, 262143328850ull},
        {"intel-rapl:0:1", "dram", 5.0, 262143328850ull},
        {"intel-rapl:1", "psys", 60.0, 262143328850ull},
    };
    struct wl_fake_powercap *fp = wl_fake_powercap_start(root, zones, 4, 1000000);
    if (!fp) {
        fprintf(stderr, "%s: cannot create the fake powercap tree in %s\n", who, root);
        goto out;
    }
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.backends = WL_BACKEND_RAPL_POWERCAP;
    p.model_use = WL_MODEL_NEVER;
    if (wl_sensor_set_open(&p, &set) != 0 || wl_sensor_set_count(set) != 1) {
        fprintf(stderr, "%s: cannot open the fake powercap tree in %s\n", who, root);
        goto out;
    }
    static const uint64_t intervals_ns[] = {1000000,
                                            10000000}; /* 1 kHz (target), 100 Hz (default) */
    double mark_cpu_us = 0;
    for (size_t k = 0; k < 2; k++) {
        struct wl_sampler_params sp;
        wl_sampler_params_default(&sp);
        sp.interval_ns = intervals_ns[k];
        if (wl_sampler_open(set, &sp, &s) != 0) {
            fprintf(stderr, "%s: cannot open the sampler\n", who);
            goto out;
        }
        if (k == 0) {
            /* cost of a mark (= half a window) on the caller's thread */
            struct wl_energy_mark m;
            int n = 20000;
            uint64_t c0 = wl_clock_thread_cpu_ns(), w0 = wl_clock_now_ns();
            for (int i = 0; i < n; i++)
                wl_sampler_mark(s, &m);
            uint64_t c1 = wl_clock_thread_cpu_ns(), w1 = wl_clock_now_ns();
            mark_cpu_us = (double)(c1 - c0) / n / 1e3;
            printf("energy mark (window begin or end): %.2f us wall, %.2f us CPU "
                   "(4 counter reads, no allocation)\n\n",
                   (double)(w1 - w0) / n / 1e3, mark_cpu_us);
        }
        uint64_t t0 = wl_clock_now_ns();
        wl_sampler_start(s);
        wl_clock_sleep_ns((uint64_t)(secs * 1e9));
        wl_sampler_stop(s);
        uint64_t wall = wl_clock_now_ns() - t0;
        struct wl_sampler_stats st;
        wl_sampler_stats(s, &st);
        double cpu_pct = 100.0 * (double)st.thread_cpu_ns / (double)wall;
        double rate_pct = 100.0 * st.achieved_hz / st.requested_hz;
        double per = st.n_samples ? (double)st.thread_cpu_ns / (double)st.n_samples / 1e3 : 0;
        printf("sampler at %.0f Hz on a fake powercap tree (4 zones), %.1f s:\n", st.requested_hz,
               (double)wall / 1e9);
        printf("  samples          %llu (missed ticks %llu, ring overflow %llu)\n",
               (unsigned long long)st.n_samples, (unsigned long long)st.n_missed_ticks,
               (unsigned long long)st.n_overflow);
        printf("  achieved rate    %.1f Hz = %.1f %% of requested%s\n", st.achieved_hz, rate_pct,
               k == 0 ? "   (target >= 95 %)" : "");
        printf("  sampler CPU      %.3f %% of one core%s\n", cpu_pct,
               k == 0 ? "             (target <= 0.5 %)" : "");
        printf(
            "  CPU per sample   %.2f us = reads+bookkeeping ~%.2f us + sleep/wake-up ~%.2f us\n\n",
            per, mark_cpu_us, per > mark_cpu_us ? per - mark_cpu_us : 0);
        wl_sampler_close(s);
        s = NULL;
    }
    status = 0;
out:
    wl_sampler_close(s);
    wl_sensor_set_close(set);
    wl_fake_powercap_stop(fp);
    wl_bench_rmtree(who, root);
    return status;
}

/* The bounds of a learned power window; see learned_window.h. */
#include "learned_window.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>

uint64_t wl_test_read_gap_ns(uint64_t t0_ns, const struct wl_sample *buf, size_t n)
{
    uint64_t prev = t0_ns, most = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i].t_ns > prev && buf[i].t_ns - prev > most)
            most = buf[i].t_ns - prev;
        if (buf[i].t_ns > prev)
            prev = buf[i].t_ns;
    }
    return most;
}

void wl_test_learned_window_explained(const struct wl_learn_measured *m, double *lo_ms,
                                      double *hi_ms)
{
    const double late = (double)m->read_gap_ns + 2.0 * (double)m->max_read_ns;
    const double floor_ms = (double)m->interval_ns / 1e6;
    /* ten times a mean of integer ns, truncated: up to 10 ns under */
    double lo = 10.0 * ((double)m->sep_ns - late) / 1e6 - 1e-5;
    double hi = 10.0 * ((double)m->gap_ns + late) / 1e6;
    *lo_ms = lo > floor_ms ? lo : floor_ms;
    *hi_ms = hi > floor_ms ? hi : floor_ms;
}

enum wl_fake_judgement wl_test_judge_learned_window(double got_ms, double lo, double hi,
                                                    const struct wl_learn_measured *m)
{
    double lo_x, hi_x;
    wl_test_learned_window_explained(m, &lo_x, &hi_x);
    if (!(got_ms >= lo_x && got_ms <= hi_x))
        return WL_FAKE_FAIL; /* NaN too */
    return got_ms >= lo && got_ms <= hi ? WL_FAKE_PASS : WL_FAKE_INCONCLUSIVE;
}

void wl__test_check_learned_window(struct wl_fake_verdict *v, const char *what, double got_ms,
                                   double lo, double hi, const struct wl_learn_measured *m,
                                   const char *file, int line)
{
    const enum wl_fake_judgement j = wl_test_judge_learned_window(got_ms, lo, hi, m);
    if (j == WL_FAKE_PASS)
        return;
    double lo_x, hi_x;
    wl_test_learned_window_explained(m, &lo_x, &hi_x);
    fprintf(stderr,
            "%s: got %.3f ms, want %.1f..%.1f ms; the counter's changes %.3f..%.3f ms apart, "
            "the sampler's reads up to %.3f ms apart and %.3f ms long explain %.3f..%.3f ms%s\n",
            what, got_ms, lo, hi, (double)m->sep_ns / 1e6, (double)m->gap_ns / 1e6,
            (double)m->read_gap_ns / 1e6, (double)m->max_read_ns / 1e6, lo_x, hi_x,
            j == WL_FAKE_INCONCLUSIVE ? ": inconclusive" : "");
    if (j == WL_FAKE_INCONCLUSIVE) {
        v->n_inconclusive++;
        return;
    }
    _fail(file, line);
}

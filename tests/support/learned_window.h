/* Test helper: what a sampler may learn as a counter's power window
 * (sampler.c learn_period: ten times the mean time between the changes its
 * thread's reads saw, never under one interval), from measured quantities:
 *   S, G  the counter's changes are at least S and at most G apart (a fake
 *         powercap writer's wl_fake_powercap_min_sep_ns / _max_gap_ns);
 *   R     the longest time between consecutive reads of the thread, from
 *         the origin read (wl_sampler_t0_ns) through its samples' times;
 *   L     the longest read (wl_sampler_stats' max_read_ns): a value read at
 *         any instant of a read is stamped with its middle.
 * A change is seen up to R + L after it happened and stamped up to L / 2
 * off, so each time between two changes seen is within
 * [S - R - 2L, G + R + 2L]: the window within ten times that. Test-only
 * code; no state. */
#ifndef WL_TEST_LEARNED_WINDOW_H
#define WL_TEST_LEARNED_WINDOW_H

#include "fake_powercap.h"
#include "sampler/sampler.h"

#include <stddef.h>
#include <stdint.h>

struct wl_learn_measured {
    uint64_t sep_ns, gap_ns; /* S, G */
    uint64_t read_gap_ns;    /* R */
    uint64_t max_read_ns;    /* L */
    uint64_t interval_ns;    /* the sampler's interval (the window's floor) */
};

/* R: the longest of t0 -> the first sample and between consecutive ones. */
uint64_t wl_test_read_gap_ns(uint64_t t0_ns, const struct wl_sample *buf, size_t n);

/* The window (ms) a correct sampler learns given m: *lo_ms..*hi_ms. */
void wl_test_learned_window_explained(const struct wl_learn_measured *m, double *lo_ms,
                                      double *hi_ms);

/* The verdict on a learned window of got_ms where the test wants lo..hi ms
 * (from the fake's configured period, never from the output): pass in
 * [lo, hi] when m explains it too; inconclusive when m explains it but it
 * is outside [lo, hi] (a sampler or writer that late makes any window in
 * m's bounds); fail outside what m explains (no stall makes it). */
enum wl_fake_judgement wl_test_judge_learned_window(double got_ms, double lo, double hi,
                                                    const struct wl_learn_measured *m);

/* The same judgement reported as wl_fake_check_range does: nothing on a
 * pass, a line and a count in *v on an inconclusive one (the test then
 * calls wl_fake_verdict_end), a line and cmocka's fail on a failure. */
#define wl_test_check_learned_window(v, what, got_ms, lo, hi, m)                                   \
    wl__test_check_learned_window((v), (what), (got_ms), (lo), (hi), (m), __FILE__, __LINE__)
void wl__test_check_learned_window(struct wl_fake_verdict *v, const char *what, double got_ms,
                                   double lo, double hi, const struct wl_learn_measured *m,
                                   const char *file, int line);

#endif

/* A fake powercap sysfs tree for tests and benchmarks: zone directories under
 * ROOT/class/powercap/ whose energy_uj files a background thread advances at a
 * known power, a period_ns after its last write (wrapping at
 * max_energy_range_uj), so the truth over any time interval is power x time,
 * up to how stale the files are: the writer records its longest gap between
 * two writes, and wl_fake_check_range tells a wrong value from one that a
 * stalled writer explains. Test-only code. One writer thread per fake; start/stop from the
 * same thread.
 */
#ifndef WL_TEST_FAKE_POWERCAP_H
#define WL_TEST_FAKE_POWERCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_fake_zone {
    const char *dir;       /* "intel-rapl:0", "intel-rapl:0:0", "intel-rapl-mmio:0" */
    const char *name;      /* contents of the name file: "package-0", "core", "psys" */
    double power_w;        /* constant power of this zone */
    uint64_t max_range_uj; /* wrap point (max_energy_range_uj) */
};

struct wl_fake_powercap;

/* Creates the tree under root (which must exist) and starts the writer.
 * Returns NULL on failure. */
struct wl_fake_powercap *wl_fake_powercap_start(const char *root, const struct wl_fake_zone *zones,
                                                size_t n, uint64_t period_ns);
/* Stops the writer and frees (the files stay). Accepts NULL. */
void wl_fake_powercap_stop(struct wl_fake_powercap *fp);
/* Changes a zone's power from now on (the truth is then piecewise). */
void wl_fake_powercap_set_power(struct wl_fake_powercap *fp, size_t zone, double power_w);
/* While broken, every zone's energy_uj holds garbage (reads fail); the
 * counters keep advancing underneath, as hardware counters do. */
void wl_fake_powercap_set_broken(struct wl_fake_powercap *fp, int broken);
/* Path of a zone's energy_uj file (static buffer until the next call). */
const char *wl_fake_powercap_energy_path(const struct wl_fake_powercap *fp, size_t zone);

/* ---- the writer's punctuality ------------------------------------------------
 * A file read at time t holds the value of the writer's last write before
 * t, which was the truth when the writer computed it: the file is stale by
 * at most the gap between that write and the next one. A punctual writer's
 * gap is its period (plus microseconds); a host that stalls the writer
 * (seen: 18 ms on a loaded 2-vCPU VM, more under sanitizers) makes it
 * longer, and a power averaged over a window of W read through the fake is
 * then off by up to gap / W either way (the stale value at either end),
 * although the code under test is right. */

/* The longest gap (ns) between two consecutive writes since the start or the
 * last wl_fake_powercap_reset_gap(): from the time a write's values were
 * computed to the end of the next write, and the gap still open (the time
 * since the last write's values), so a stall under way counts. It bounds how
 * stale any of the fake's files was over that time. Any thread; lock-free
 * (one atomic maximum that the writer raises). */
uint64_t wl_fake_powercap_max_gap_ns(const struct wl_fake_powercap *fp);
/* Starts a new interval for wl_fake_powercap_max_gap_ns() (sets the
 * maximum to 0, and wl_fake_powercap_min_sep_ns()'s to UINT64_MAX): the gap under way at the reset
 * counts in full (a file read just after it may be stale since the last write). Call it where a
 * measured interval starts. Any thread. */
void wl_fake_powercap_reset_gap(struct wl_fake_powercap *fp);
/* The shortest time between two of the writer's writes since its start or
 * the last reset (from the end of one to the start of the next: the files
 * changed at least this far apart); UINT64_MAX before a second write. At
 * least its period less a write's length. Any thread. */
uint64_t wl_fake_powercap_min_sep_ns(const struct wl_fake_powercap *fp);
/* Holds the writer for ns before its next write (as a stalled host would);
 * that write then holds the energy of the whole pause, as after any stall.
 * Returns at once. For tests of the fake and of the checks below. */
void wl_fake_powercap_pause(struct wl_fake_powercap *fp, uint64_t ns);

/* ---- checking a value read through the fake -------------------------------
 * A test's tolerance for such a value allows the fake writer a longest gap
 * A (allow_gap_ns), derived next to each check from what the test expects:
 * a power averaged over a window of W with a tolerance of f of the truth
 * allows f x W, W being the window the test configured (or the shortest a
 * correct sampler makes of the fake's period), never the window of the
 * output under test, which a bug may shrink. The gap actually seen is G
 * (gap_ns: wl_fake_powercap_max_gap_ns() at the end of the measured
 * interval, after a reset at its start).
 *
 * A value's error grows in proportion to the gap (a stale value at either
 * end of a window: up to truth x G / W), so each bound b of [lo, hi] is
 * what a gap of A gives, ref what a gap of 0 would (for a power: the truth),
 * and a gap of G > A explains the bounds moved along those lines:
 *     lo' = ref - (ref - lo) x G / A,   hi' = ref + (hi - ref) x G / A,
 * for _near (ref = want): |got - want| <= tol x G / A. A bound that no
 * gap moves (a floor the writer cannot push, as the learned window's) takes
 * a ref on its inner side: its line then only tightens it.
 *
 *   pass          got in [lo, hi], whatever the writer did;
 *   inconclusive  got outside, A > 0, G > A and got in [lo', hi']: it
 *                 prints "inconclusive: the fake writer's longest gap, X ms,
 *                 is over the Y ms the tolerance allows, and a gap that long
 *                 explains ...", counts it in *v and returns false; the test
 *                 goes on, frees what it holds and calls
 *                 wl_fake_verdict_end(), which skips it (a skip at the check
 *                 would leak the fake's thread and files);
 *   fail          anything else: A = 0 (no gap is allowed), G <= A, no value
 *                 (NaN), or a miss larger than a gap of G explains. It
 *                 prints got/want and fails the test at once (cmocka).
 * So a real defect fails unless its miss is one the stall could have made,
 * and no tolerance is widened for the fake. The judgement alone, without
 * output or cmocka, is wl_fake_judge(). */
enum wl_fake_judgement { WL_FAKE_PASS, WL_FAKE_INCONCLUSIVE, WL_FAKE_FAIL };

enum wl_fake_judgement wl_fake_judge(double got, double lo, double hi, double ref, uint64_t gap_ns,
                                     uint64_t allow_gap_ns);
/* For a condition that has no size (was the update period measured at
 * all): false is inconclusive when A > 0 and G > A, else it fails. Only
 * where a gap longer than A can make it false whatever the code does. */
enum wl_fake_judgement wl_fake_judge_cond(bool ok, uint64_t gap_ns, uint64_t allow_gap_ns);

struct wl_fake_verdict {
    unsigned n_inconclusive; /* checks out of range that the writer's gap explains */
};

#define wl_fake_check_range(v, what, got, lo, hi, ref, gap_ns, allow_gap_ns)                       \
    wl__fake_check_range((v), (what), (got), (lo), (hi), (ref), (gap_ns), (allow_gap_ns),          \
                         __FILE__, __LINE__)
/* The same for [want - tol, want + tol] with ref = want. */
#define wl_fake_check_near(v, what, got, want, tol, gap_ns, allow_gap_ns)                          \
    wl__fake_check_near((v), (what), (got), (want), (tol), (gap_ns), (allow_gap_ns), __FILE__,     \
                        __LINE__)
/* The same for a condition (wl_fake_judge_cond). */
#define wl_fake_check_cond(v, what, ok, gap_ns, allow_gap_ns)                                      \
    wl__fake_check_cond((v), (what), (ok), (gap_ns), (allow_gap_ns), __FILE__, __LINE__)
/* After the test has freed what it holds: skips it (cmocka skip()) when a
 * check was inconclusive; else returns. */
#define wl_fake_verdict_end(v) wl__fake_verdict_end((v), __FILE__, __LINE__)

bool wl__fake_check_range(struct wl_fake_verdict *v, const char *what, double got, double lo,
                          double hi, double ref, uint64_t gap_ns, uint64_t allow_gap_ns,
                          const char *file, int line);
bool wl__fake_check_near(struct wl_fake_verdict *v, const char *what, double got, double want,
                         double tol, uint64_t gap_ns, uint64_t allow_gap_ns, const char *file,
                         int line);
bool wl__fake_check_cond(struct wl_fake_verdict *v, const char *what, bool ok, uint64_t gap_ns,
                         uint64_t allow_gap_ns, const char *file, int line);
void wl__fake_verdict_end(const struct wl_fake_verdict *v, const char *file, int line);

#endif

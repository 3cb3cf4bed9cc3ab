/* The sensor gaps of a run or measure (runs.extra "n_gaps" and "gaps"):
 * their count, time (the union of their spans) and whose energy is not
 * counted, and the line show, run and measure print; see summary.h. */
#include "analysis/summary.h"

#include "util/json_text.h"
#include "wattlens/energy.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NA WL_STORE_UNSET

/* A gap's [start, end] in ms. */
struct wl__span {
    double t0, t1;
    const json_t *gap; /* the stored gap (its sensor and domains) */
};

/* Two stored gaps of one sensor that share a domain. */
static bool wl__same_counter(const json_t *a, const json_t *b)
{
    const char *sa = json_string_value(json_object_get(a, "sensor"));
    const char *sb = json_string_value(json_object_get(b, "sensor"));
    if (!sa || !sb || strcmp(sa, sb) != 0)
        return false;
    const json_t *da = json_object_get(a, "domains"), *db = json_object_get(b, "domains");
    for (size_t i = 0; i < json_array_size(da); i++)
        for (size_t j = 0; j < json_array_size(db); j++)
            if (json_equal(json_array_get(da, i), json_array_get(db, j)))
                return true;
    return false;
}

static int wl__cmp_span(const void *x, const void *y)
{
    const double a = ((const struct wl__span *)x)->t0, b = ((const struct wl__span *)y)->t0;
    return (a > b) - (a < b);
}

/* The length in seconds of the union of the n spans (sorted here): gaps
 * overlap (a failed read and the counter discontinuity its next good read
 * finds span the same time), and time in two of them is one time. */
static double wl__union_s(struct wl__span *v, size_t n)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, wl__cmp_span);
    double sum = 0.0, a = v[0].t0, b = v[0].t1;
    for (size_t i = 1; i < n; i++) {
        if (v[i].t0 > b) {
            sum += b - a;
            a = v[i].t0;
            b = v[i].t1;
        } else if (v[i].t1 > b) {
            b = v[i].t1;
        }
    }
    return (sum + (b - a)) / 1000.0;
}

int wl_summary_gap_place(double t0, double t1, double start, double end)
{
    if (!isnan(t1) && t1 <= start)
        return -1;
    if (!isnan(t0) && !isnan(end) && t0 >= end)
        return 1;
    return 0;
}

void wl_summary_gaps_from_extra(const json_t *extra, double run_start_ms, double run_end_ms,
                                struct wl_summary_gaps *g)
{
    memset(g, 0, sizeof *g);
    json_t *n = json_is_object(extra) ? json_object_get(extra, "n_gaps") : NULL;
    if (!json_is_integer(n))
        return;
    g->known = true;
    g->n = json_integer_value(n);
    json_t *arr = json_object_get(extra, "gaps");
    const size_t n_arr = json_is_array(arr) ? json_array_size(arr) : 0;
    /* the ended gaps' spans: all of them, those whose energy is not counted,
     * and those of failed reads whose counters kept counting */
    struct wl__span *all = n_arr ? malloc(3 * n_arr * sizeof *all) : NULL;
    struct wl__span *lost_v = all ? all + n_arr : NULL;
    struct wl__span *kept_v = all ? all + 2 * n_arr : NULL;
    size_t n_all = 0, n_lost = 0, n_kept = 0;
    for (size_t i = 0; i < n_arr; i++) {
        json_t *o = json_array_get(arr, i);
        if (!json_is_object(o))
            continue;
        g->n_listed++;
        json_t *st = json_object_get(o, "start_ms"), *en = json_object_get(o, "end_ms");
        const double t0 = json_is_number(st) ? json_number_value(st) : NA;
        const double t1 = json_is_number(en) ? json_number_value(en) : NA; /* NaN: open */
        const bool ended = !isnan(t0) && !isnan(t1);
        g->n_open += !ended;
        json_t *counted = json_object_get(o, "energy_counted");
        /* a counter discontinuity's energy is never counted */
        const bool lost = json_is_boolean(counted)
                              ? json_is_false(counted)
                              : json_is_true(json_object_get(o, "counter_fell"));
        /* first where it lies: wholly before the run's start (settle, idle
         * baseline) or after its end (the sampler runs on while rows are
         * stored), counted or lost, it is in none of the run's figures nor
         * in its time; an open gap reaches to the end */
        const int place = wl_summary_gap_place(t0, t1, run_start_ms, run_end_ms);
        if (place != 0) {
            g->n_outside++;
            if (place < 0) {
                g->n_before++;
                g->n_before_lost += lost;
            } else {
                g->n_after++;
            }
            continue;
        }
        if (ended && all)
            all[n_all++] = (struct wl__span){t0, t1 < t0 ? t0 : t1, o};
        else if (ended) /* no memory for the union: the plain sum */
            g->dur_s += (t1 - t0) / 1000.0;
        if (!lost) {
            g->n_counted++;
            if (ended && kept_v)
                kept_v[n_kept++] = (struct wl__span){t0, t1 < t0 ? t0 : t1, o};
        } else {
            g->n_not_counted++;
            /* runs stored before "lost_domains": a discontinuity's domains
             * are those it lost (a failed read's may be more) */
            json_t *ld = json_object_get(o, "lost_domains");
            if (!ld && json_is_true(json_object_get(o, "counter_fell")))
                ld = json_object_get(o, "domains");
            g->lost_domains |= wl_json_domain_mask(ld);
            if (ended && lost_v)
                lost_v[n_lost++] = (struct wl__span){t0, t1 < t0 ? t0 : t1, o};
            else if (ended)
                g->not_counted_s += (t1 - t0) / 1000.0;
        }
    }
    /* a failed read inside a gap of the same sensor and domain whose energy
     * is lost (the counter's next good read found a discontinuity: an
     * ambiguous wrap after a long failure) lost its energy with it, though
     * its counter kept counting */
    const size_t n_lost_read = n_lost;
    for (size_t i = 0; i < n_kept; i++) {
        for (size_t j = 0; j < n_lost_read; j++) {
            if (kept_v[i].t0 < lost_v[j].t1 && lost_v[j].t0 < kept_v[i].t1 &&
                wl__same_counter(kept_v[i].gap, lost_v[j].gap)) {
                g->n_counted--;
                g->n_not_counted++;
                lost_v[n_lost++] = kept_v[i]; /* its time is not counted either */
                break;
            }
        }
    }
    if (all) {
        g->dur_s = wl__union_s(all, n_all);
        g->not_counted_s = wl__union_s(lost_v, n_lost);
        free(all);
    }
    if (g->n < g->n_listed)
        g->n = g->n_listed;
}

/* "the A, B figures" for the domains in mask ("the figures" when none). */
static void wl__names(uint32_t mask, char *buf, size_t size)
{
    snprintf(buf, size, "the");
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (mask & (1u << d)) {
            const size_t l = strlen(buf);
            snprintf(buf + l, size - l, "%s %s", strcmp(buf, "the") ? "," : "",
                     wl_domain_name((enum wl_domain)d));
        }
    }
    const size_t l = strlen(buf);
    snprintf(buf + l, size - l, " figures");
}

const char *wl_summary_gaps_lost_effect(uint32_t lost, uint32_t na, char *buf, size_t size)
{
    char a[96], b[96];
    const uint32_t low = lost & ~na, none = lost & na;
    wl__names(low, a, sizeof a);
    wl__names(none, b, sizeof b);
    if (none && low)
        snprintf(buf, size, "%s are low by it, %s n/a (not measured)", a, b);
    else if (none)
        snprintf(buf, size, "%s are n/a (not measured)", b);
    else
        snprintf(buf, size, "%s are low by it", a);
    return buf;
}

const char *wl_summary_gaps_text(const struct wl_summary_gaps *g, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (!g->known || g->n <= 0)
        return buf;
    size_t len = 0;
#define WL__PUT(...)                                                                               \
    do {                                                                                           \
        if (len < size) {                                                                          \
            const int k_ = snprintf(buf + len, size - len, __VA_ARGS__);                           \
            len = k_ < 0 ? size : len + (size_t)k_;                                                \
        }                                                                                          \
    } while (0)
    const long long n = g->n, listed = g->n_listed;
    /* whose figures are low: "the core figures are low by it", "the
     * package, dram figures ..."; "the figures ..." when no gap names a
     * domain; a domain not measured over the whole run has no figures to be
     * low: "the core figures are n/a (not measured)" */
    char low[192];
    wl_summary_gaps_lost_effect(g->lost_domains, g->na_domains, low, sizeof low);
    WL__PUT("sensor gaps: %lld (%.3f s in all", n, g->dur_s);
    if (listed > 0 && g->n_not_counted == listed) {
        WL__PUT("; the energy in them is NOT counted, %s", low);
    } else {
        if (g->n_not_counted > 0)
            WL__PUT("; the energy in %lld of them, %.3f s, is NOT counted, %s",
                    (long long)g->n_not_counted, g->not_counted_s, low);
        if (g->n_before > 0 && g->n_before_lost > 0)
            WL__PUT("; %lld before the run (settle, idle baseline): not in its figures, but "
                    "the energy in %s%lld is NOT counted, an idle baseline across one is low "
                    "by it",
                    (long long)g->n_before, g->n_before_lost == g->n_before ? "all " : "",
                    (long long)g->n_before_lost);
        else if (g->n_before > 0)
            WL__PUT("; %lld before the run (settle, idle baseline): not in its figures",
                    (long long)g->n_before);
        if (g->n_after > 0)
            WL__PUT("; %lld after the run's end: not in any of its figures", (long long)g->n_after);
        if (g->n_counted > 0)
            WL__PUT("; %lld failed read%s of energy counters, which kept counting",
                    (long long)g->n_counted, g->n_counted == 1 ? "" : "s");
    }
    if (g->n_open > 0)
        WL__PUT("; %lld still failing at the end, not in the time", (long long)g->n_open);
    if (n > listed)
        WL__PUT("; only the first %lld are listed, the rest are not in the time", listed);
    WL__PUT(")");
#undef WL__PUT
    return buf;
}

/* A run's sensor gaps as runs.extra keys; see run_gaps.h. */
#include "profile/run_gaps.h"

#include "util/json_text.h"
#include "wattlens/energy.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>

static json_t *gap_json(const struct wl_sampler_gap *g, uint64_t origin_ns)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "start_ms",
                        json_real(((double)g->t_start_ns - (double)origin_ns) / 1e6));
    json_object_set_new(o, "end_ms",
                        g->t_end_ns ? json_real(((double)g->t_end_ns - (double)origin_ns) / 1e6)
                                    : json_null());
    char why[160];
    json_object_set_new(o, "why", json_string(wl_sampler_gap_text(g, why, sizeof why)));
    json_object_set_new(o, "error", json_string(wl_strerror_name(g->error)));
    json_object_set_new(o, "counter_fell", json_boolean(g->counter_fell));
    json_object_set_new(o, "energy_counted", json_boolean(g->lost_mask == 0));
    json_object_set_new(o, "sensor", g->backend ? json_string(g->backend) : json_null());
    json_object_set_new(o, "domains", wl_json_domain_names(g->domain_mask));
    /* those whose energy over it is not counted (lost_mask): the figures
     * low by it */
    json_object_set_new(o, "lost_domains", wl_json_domain_names(g->lost_mask));
    return o;
}

json_t *wl_run_gaps_json(const struct wl_sampler_gap *gaps, size_t n_kept, uint64_t n_total,
                         uint64_t origin_ns)
{
    json_t *j = json_object(), *arr = json_array();
    if (!j || !arr) {
        json_decref(j);
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < n_kept; i++) {
        json_t *o = gap_json(&gaps[i], origin_ns);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            json_decref(j);
            return NULL;
        }
    }
    json_object_set_new(j, "n_gaps",
                        json_integer((json_int_t)(n_total > n_kept ? n_total : n_kept)));
    json_object_set_new(j, "gaps", arr);
    return j;
}

/* Sets runs.extra key to j's value of that key, as stored JSON text. */
static int set_key(wl_store_run *run, const json_t *j, const char *key)
{
    char *text =
        json_dumps(json_object_get(j, key), JSON_COMPACT | JSON_ENCODE_ANY | WL_JSON_REAL_FLAGS);
    if (!text)
        return WL_ENOMEM;
    const int rc = wl_store_run_set_extra(run, key, text);
    free(text);
    return rc;
}

int wl_run_gaps_store(wl_store_run *run, const struct wl_sampler_gap *gaps, size_t n_kept,
                      uint64_t n_total, uint64_t origin_ns)
{
    json_t *j = wl_run_gaps_json(gaps, n_kept, n_total, origin_ns);
    if (!j)
        return WL_ENOMEM;
    int rc = set_key(run, j, "n_gaps");
    if (rc == 0)
        rc = set_key(run, j, "gaps");
    json_decref(j);
    return rc;
}

int wl_run_gaps_store_sampler(wl_store_run *run, wl_sampler *s, uint64_t origin_ns)
{
    struct wl_sampler_gap gaps[WL_SAMPLER_MAX_GAPS];
    const size_t n = wl_sampler_gaps(s, gaps, WL_SAMPLER_MAX_GAPS);
    /* under the cap every gap so far is in the list (the sampler keeps
     * every one until it is full); stats taken after the copy can count a
     * gap newer than it */
    uint64_t total = n;
    if (n == WL_SAMPLER_MAX_GAPS) {
        struct wl_sampler_stats st;
        wl_sampler_stats(s, &st);
        total = st.n_gaps;
    }
    return wl_run_gaps_store(run, gaps, n, total, origin_ns);
}

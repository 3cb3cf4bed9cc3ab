/* The energy counters' resolution: the one rule that decides whether a
 * window is too short for its counter's steps (wl_summary_below_resolution,
 * used by `measure` and the summary), and the summary's marks from it: each
 * domain's update period and step, the phases, tokens and efficiency
 * figures below it (summary.h). Pure functions; thread-safe. */
#include "analysis/summary.h"

#include "util/json_text.h"
#include "wattlens/energy.h"

#include <math.h>
#include <stdbool.h>

#define NA WL_STORE_UNSET

bool wl_summary_below_resolution(double window_ms, double update_period_ms)
{
    if (!isfinite(window_ms) || !isfinite(update_period_ms) || update_period_ms <= 0)
        return false;
    return window_ms < WL_RESOLUTION_PERIODS * update_period_ms;
}

double wl_summary_update_period_ms(double power_window_ms)
{
    if (!isfinite(power_window_ms) || power_window_ms <= 0)
        return NA;
    return power_window_ms / WL_RESOLUTION_PERIODS;
}

/* Domain d's average power over the run, from the summary's domain table
 * (NaN when absent or unknown). */
static double wl__domain_avg_w(const struct wl_summary *s, int d)
{
    for (size_t i = 0; i < s->n_domains; i++)
        if ((int)s->domains[i].domain == d)
            return s->domains[i].avg_power_w;
    return NA;
}

void wl__summary_resolution(const struct wl_store_aggregates *a,
                            const double power_window_ms[WL_DOMAIN_COUNT], struct wl_summary *s)
{
    struct wl_summary_resolution *r = &s->resolution;
    r->headline_period_ms = r->headline_step_j = NA;
    r->headline_domain = -1;
    double step_sum = 0;
    bool steps_known = true;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        r->update_period_ms[d] = wl_summary_update_period_ms(power_window_ms[d]);
        /* one step: the energy the counter adds per update at the run's
         * average power (a delta's error is within one) */
        r->step_j[d] = r->update_period_ms[d] / 1000.0 * wl__domain_avg_w(s, d);
        if (!(s->headline_mask & (1u << d)))
            continue;
        if (isnan(r->update_period_ms[d]) || isnan(r->step_j[d])) {
            steps_known = false;
        } else {
            step_sum += r->step_j[d];
        }
        if (!isnan(r->update_period_ms[d]) &&
            (r->headline_domain < 0 || r->update_period_ms[d] > r->headline_period_ms)) {
            r->headline_period_ms = r->update_period_ms[d];
            r->headline_domain = d;
        }
    }
    if (r->headline_domain >= 0 && steps_known)
        r->headline_step_j = step_sum;
    const double hp = r->headline_period_ms;
    for (size_t i = 0; i < s->n_phases; i++) {
        struct wl_summary_phase *p = &s->phases[i];
        p->below_resolution = wl_summary_below_resolution(p->dur_ms, hp);
        r->n_phases_below += p->below_resolution;
        p->domain_below = 0;
        for (int d = 0; d < WL_DOMAIN_COUNT; d++)
            if (((p->domain_mask >> d) & 1u) &&
                wl_summary_below_resolution(p->dur_ms, r->update_period_ms[d]))
                p->domain_below |= 1u << d;
    }
    for (size_t i = 0; i < a->n_output_tokens; i++) {
        const struct wl_agg_token *t = &a->output_tokens[i];
        if (!isfinite(t->energy_j) || !isfinite(t->dur_ms))
            continue;
        r->n_tokens_timed++;
        r->n_tokens_below += wl_summary_below_resolution(t->dur_ms, hp);
    }
    r->prefill_below = wl_summary_below_resolution(s->eff.prefill_dur_ms, hp);
    r->decode_below = wl_summary_below_resolution(s->eff.decode_dur_ms, hp);
    r->run_below = wl_summary_below_resolution(s->duration_ms, hp);
}

json_t *wl__summary_resolution_json(const struct wl_summary *s)
{
    const struct wl_summary_resolution *r = &s->resolution;
    json_t *j = json_object();
    json_object_set_new(j, "periods", json_integer(WL_RESOLUTION_PERIODS));
    json_t *per = json_object();
    for (size_t i = 0; i < s->n_domains; i++) {
        const int d = (int)s->domains[i].domain;
        if (d < 0 || d >= WL_DOMAIN_COUNT)
            continue;
        json_object_set_new(per, wl_domain_name((enum wl_domain)d),
                            wl_json_real_or_null(r->update_period_ms[d]));
    }
    json_object_set_new(j, "update_period_ms", per);
    json_object_set_new(j, "headline_domain",
                        r->headline_domain >= 0
                            ? json_string(wl_domain_name((enum wl_domain)r->headline_domain))
                            : json_null());
    json_object_set_new(j, "headline_update_period_ms",
                        wl_json_real_or_null(r->headline_period_ms));
    json_object_set_new(j, "headline_energy_step_j", wl_json_real_or_null(r->headline_step_j));
    /* nothing can be judged without the headline's period: null, not 0/false */
    const bool known = r->headline_domain >= 0;
    json_object_set_new(j, "output_tokens_timed", json_integer(r->n_tokens_timed));
    json_object_set_new(j, "output_tokens_below_resolution",
                        known ? json_integer(r->n_tokens_below) : json_null());
    json_object_set_new(j, "phases_below_resolution",
                        known ? json_integer(r->n_phases_below) : json_null());
    json_object_set_new(j, "prefill_below_resolution",
                        known ? json_boolean(r->prefill_below) : json_null());
    json_object_set_new(j, "decode_below_resolution",
                        known ? json_boolean(r->decode_below) : json_null());
    json_object_set_new(j, "run_below_resolution",
                        known ? json_boolean(r->run_below) : json_null());
    return j;
}

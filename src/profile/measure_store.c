/* Saving a measure run into the store; see measure_store.h.
 *
 * Times are milliseconds from the sampler's origin (its open), as for
 * inference runs: baseline samples come first, the command's window after.
 * Sample energies are cumulative since that origin. The run's energy is the
 * headline set of domains (profile/headline.h) over the command's window.
 */
#include "profile/measure_store.h"

#include "profile/headline.h"
#include "profile/run_gaps.h"
#include "util/json_text.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SAMPLE_BATCH 1024

static double rel_ms(const struct wl_measure_result *r, uint64_t t_ns)
{
    return ((double)t_ns - (double)r->t0_ns) / 1e6;
}

/* An argument a shell reads back as it is, unquoted: made only of bytes no
 * shell acts on (Python's shlex.quote set). Every other byte is quoted:
 * '#' (a comment), '~' (the home directory), '[' and '*' (globs), '{'
 * (bash's brace expansion), '!' (history), a control or non-ASCII byte.
 * The command's name (first) is quoted with a '=' (read as an assignment,
 * FOO=1) or a '%' (a job, %1) too. */
static bool needs_quotes(const char *a, bool first)
{
    if (!*a)
        return true;
    for (; *a; a++) {
        const char c = *a;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        if (strchr("_@+:,./-", c) || (!first && (c == '=' || c == '%')))
            continue;
        return true;
    }
    return false;
}

char *wl_measure_command_line(char *const *argv)
{
    /* each argument: a blank before it, its two quotes, its bytes, and 3
     * more for each ' (written as the 4 bytes '\'') */
    size_t cap = 1;
    for (int i = 0; argv && argv[i]; i++) {
        size_t n_quotes = 0;
        for (const char *a = argv[i]; *a; a++)
            n_quotes += *a == '\'';
        cap += strlen(argv[i]) + 3 + 3 * n_quotes;
    }
    char *s = malloc(cap), *o = s;
    if (!s)
        return NULL;
    for (int i = 0; argv && argv[i]; i++) {
        const char *a = argv[i];
        const bool quote = needs_quotes(a, i == 0);
        if (i)
            *o++ = ' ';
        if (quote)
            *o++ = '\'';
        for (; *a; a++) {
            if (quote && *a == '\'') {
                memcpy(o, "'\\''", 4); /* close, escaped quote, reopen */
                o += 4;
            } else {
                *o++ = *a;
            }
        }
        if (quote)
            *o++ = '\'';
    }
    *o = '\0';
    return s;
}

static char *provenance_json(const struct wl_measure_result *r, const char *scope,
                             enum wl_method method, uint16_t mask)
{
    json_t *j = json_object();
    json_object_set_new(j, "energy_scope", json_string(scope));
    json_object_set_new(j, "energy_method", json_string(wl_method_key(method)));
    json_object_set_new(j, "model_only", json_boolean(r->model_only));
    json_object_set_new(j, "command_energy",
                        json_string("energy window from the command's "
                                    "start to its exit"));
    json_object_set_new(j, "sample_interval_ms", json_real((double)r->stats.interval_ns / 1e6));
    wl_json_set_text(j, "sensors", r->sensors_desc); /* sensor names: any bytes */
    json_object_set_new(j, "sensors_not_read", json_integer(r->sensors_not_read));
    json_t *doms = wl_headline_domains_json(r->domains, mask);
    json_object_set_new(j, "domains", doms);
    char *s = json_dumps(j, JSON_COMPACT | WL_JSON_REAL_FLAGS); /* stored text: 15 digits */
    json_decref(j);
    return s;
}

static int write_samples(wl_store_run *run, const struct wl_measure_result *r)
{
    struct wl_store_sample *buf = calloc(SAMPLE_BATCH, sizeof *buf);
    if (!buf)
        return WL_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < r->n_samples && rc == 0; i += SAMPLE_BATCH) {
        const size_t n = r->n_samples - i < SAMPLE_BATCH ? r->n_samples - i : SAMPLE_BATCH;
        for (size_t k = 0; k < n; k++) {
            const struct wl_sample *s = &r->samples[i + k];
            struct wl_store_sample *o = &buf[k];
            memset(o, 0, sizeof *o);
            o->t_ms = rel_ms(r, s->t_ns);
            o->phase = wl_measure_phase_name(s->phase);
            o->domain_mask = s->valid_mask;
            for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
                if (!(s->valid_mask & (1u << d)))
                    continue;
                o->method_flags |= 1u << r->domains[d].method;
                o->power_w[d] = s->power_w[d];
                o->energy_j[d] = (double)s->energy_uj[d] / 1e6;
            }
        }
        rc = wl_store_add_samples(run, buf, n);
    }
    free(buf);
    return rc;
}

/* runs.extra: the sensor gaps ("n_gaps", "gaps": run_gaps.h); how the
 * command ended (exit_status: its status, 128 + N when signal N killed it;
 * signal: N or null; both null when it never started or its status could
 * not be read: status_unknown true then), stop_signal:
 * the signal that asked wattlens to stop (passed on to the command), or
 * null; and the samples not kept (samples_not_kept, sample_stride) when a
 * long command's samples were thinned. */
static int set_exit_extras(wl_store_run *run, const struct wl_measure_result *r)
{
    /* the sampler's gaps first: energy not counted, in the samples' time base */
    const int grc = wl_run_gaps_store(run, r->gaps, r->n_gaps, r->stats.n_gaps, r->t0_ns);
    if (grc != 0)
        return grc;
    char v[32];
    snprintf(v, sizeof v, "%d", r->exit_code);
    const bool known = r->started && !r->status_unknown;
    int rc = wl_store_run_set_extra(run, "exit_status", known ? v : "null");
    if (rc == 0 && r->status_unknown)
        rc = wl_store_run_set_extra(run, "status_unknown", "true");
    if (rc == 0 && r->n_samples_dropped) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)r->n_samples_dropped);
        rc = wl_store_run_set_extra(run, "samples_not_kept", v);
        if (rc == 0) {
            snprintf(v, sizeof v, "%u", (unsigned)r->sample_stride);
            rc = wl_store_run_set_extra(run, "sample_stride", v);
        }
    }
    if (rc == 0) {
        snprintf(v, sizeof v, "%d", r->term_signal);
        rc = wl_store_run_set_extra(run, "signal", r->term_signal ? v : "null");
    }
    if (rc == 0) {
        snprintf(v, sizeof v, "%d", r->stop_signal);
        rc = wl_store_run_set_extra(run, "stop_signal", r->stop_signal ? v : "null");
    }
    return rc;
}

int wl_measure_begin_run(wl_store *st, const struct wl_measure_save *p, wl_store_run **out,
                         char *id_out, struct wl_errmsg *err)
{
    *out = NULL;
    char *cmd = wl_measure_command_line(p->argv);
    if (!cmd)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_MEASURE,
        .created_at_ms = p->created_at_ms,
        .command = cmd,
        .host_cpu = p->host_cpu,
        .host_cores = sysconf(_SC_NPROCESSORS_ONLN),
        .host_memory_bytes = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE),
    };
    int rc = wl_store_run_begin(st, &info, out, id_out);
    if (rc != 0)
        wl_errmsg_set(err, rc, "cannot store the run: %s", wl_store_last_error(st));
    free(cmd);
    return rc;
}

void wl_measure_heartbeat_tick(struct wl_measure_heartbeat *hb, uint64_t now_ns)
{
    const uint64_t interval = hb->interval_ns ? hb->interval_ns : 600ull * 1000000000ull;
    const uint64_t retry = hb->retry_ns ? hb->retry_ns : 60ull * 1000000000ull;
    if (!hb->run)
        return;
    if (hb->next_ns == 0)
        hb->next_ns = now_ns + interval;
    if (now_ns < hb->next_ns)
        return;
    /* a failure (another writer past wait_ms; the row removed) is not the
     * measurement's: the save at the end reports what matters */
    if (wl_store_run_heartbeat(hb->run, hb->wait_ms > 0 ? hb->wait_ms : 100) == 0) {
        hb->n_ok++;
        hb->next_ns = now_ns + interval;
    } else {
        hb->n_failed++;
        hb->next_ns = now_ns + retry;
    }
}

/* runs.extra "energy_unknown" as the recorder writes it (recorder.h) for
 * the domains a stuck counter leaves unmeasured over the whole command:
 * they have no figures, and show names them instead of a method; the
 * command's one section has no energy when the headline is among them. */
static int set_not_measuring(wl_store_run *run, uint16_t lost, bool section_lost)
{
    json_t *j = json_object();
    json_object_set_new(j, "start", json_array());
    json_object_set_new(j, "end", json_array());
    json_object_set_new(j, "sections", json_integer(0));
    json_object_set_new(j, "token_rows", json_integer(0));
    json_object_set_new(j, "not_measuring", wl_json_domain_names(lost));
    json_object_set_new(j, "not_measuring_rows", wl_json_domain_names(lost));
    json_object_set_new(j, "not_measuring_sections", json_integer(section_lost ? 1 : 0));
    json_object_set_new(j, "not_measuring_token_rows", json_integer(0));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    const int rc = text ? wl_store_run_set_extra(run, "energy_unknown", text) : WL_ENOMEM;
    free(text);
    return rc;
}

double wl_measure_headline(const struct wl_measure_result *r, uint16_t *mask,
                           enum wl_method *method, char *scope, size_t scope_size)
{
    wl_headline_choose(r->domains, mask, method, scope, scope_size);
    const uint16_t lost = wl_measure_lost_domains(r);
    double total_j = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (!(*mask & (1u << d)))
            continue;
        const enum wl_domain dom = (enum wl_domain)d;
        if (!r->domains[d].present || !wl_energy_window_has(&r->window, dom) || (lost & (1u << d)))
            return WL_STORE_UNSET; /* never a partial total */
        total_j += wl_energy_window_j(&r->window, dom);
    }
    return *mask ? total_j : WL_STORE_UNSET;
}

int wl_measure_finish_run(wl_store *st, wl_store_run *run, const struct wl_measure_save *p,
                          struct wl_errmsg *err)
{
    const struct wl_measure_result *r = p->result;
    char *prov = NULL, extra[64];
    char scope[64] = "";
    uint16_t mask = 0;
    enum wl_method method = WL_METHOD_COUNTER;
    int rc;
    double total_j = WL_STORE_UNSET;
    if (r) {
        total_j = wl_measure_headline(r, &mask, &method, scope, sizeof scope);
        prov = provenance_json(r, scope, method, mask);
    }
    if (!r) {
        struct wl_run_totals tot = {.status = WL_RUN_FAILED,
                                    .duration_ms = WL_STORE_UNSET,
                                    .energy_j = WL_STORE_UNSET,
                                    .input_tokens = -1,
                                    .output_tokens = -1,
                                    .kv_cache_bytes = -1,
                                    .sample_rate_hz = WL_STORE_UNSET,
                                    .error = p->error ? p->error : "measuring could not start"};
        rc = wl_store_run_finish(run, &tot);
        run = NULL;
        if (rc != 0)
            wl_errmsg_set(err, rc, "cannot store the run: %s", wl_store_last_error(st));
        goto done;
    }

    if (!r->started) {
        /* stopped before the command started: no window, no totals; the
         * baseline's samples, if any, and why */
        rc = set_exit_extras(run, r);
        if (rc == 0)
            rc = write_samples(run, r);
        if (rc != 0)
            wl_errmsg_set(err, rc, "cannot store the run: %s", wl_store_last_error(st));
        struct wl_run_totals tot = {.status = rc == 0 ? WL_RUN_CANCELLED : WL_RUN_FAILED,
                                    .duration_ms = WL_STORE_UNSET,
                                    .energy_j = WL_STORE_UNSET,
                                    .input_tokens = -1,
                                    .output_tokens = -1,
                                    .kv_cache_bytes = -1,
                                    .sample_count = (int64_t)r->n_samples,
                                    .sample_rate_hz = WL_STORE_UNSET,
                                    .error = rc == 0 ? NULL : err->text,
                                    .sensor_provenance_json = prov};
        int frc = wl_store_run_finish(run, &tot);
        run = NULL;
        if (rc == 0 && frc != 0) {
            rc = frc;
            wl_errmsg_set(err, rc, "cannot store the run: %s", wl_store_last_error(st));
        }
        goto done;
    }

    const struct wl_energy_window *w = &r->window;
    const double dur_ms = (double)wl_energy_window_dur_ns(w) / 1e6;
    struct wl_store_section sec = {
        .phase = "measure",
        .name = "command",
        .token_index = -1,
        .start_ms = rel_ms(r, w->begin.t_ns),
        .end_ms = rel_ms(r, w->end.t_ns),
        .method = method,
    };
    struct wl_store_domain doms[WL_DOMAIN_COUNT];
    size_t nd = 0;
    /* a domain whose energy a gap loses over the whole command (a counter
     * stuck the whole run) has no figures, as measure prints it: never a
     * stored 0 J measured */
    const uint16_t lost = wl_measure_lost_domains(r);
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        const struct wl_domain_info *di = &r->domains[d];
        const enum wl_domain dom = (enum wl_domain)d;
        const bool is_lost = lost & (1u << d);
        const bool has = di->present && wl_energy_window_has(w, dom) && !is_lost;
        if (!di->present)
            continue;
        struct wl_store_domain *o = &doms[nd++];
        memset(o, 0, sizeof *o);
        o->domain = dom;
        o->method = di->method;
        o->source = di->sources;
        o->energy_j = has ? wl_energy_window_j(w, dom) : WL_STORE_UNSET;
        o->avg_power_w = has ? wl_energy_window_avg_w(w, dom) : WL_STORE_UNSET;
        o->baseline_power_w = r->baseline.valid && (r->baseline.valid_mask & (1u << d)) && !is_lost
                                  ? r->baseline.power_w[d]
                                  : WL_STORE_UNSET;
        const bool peak = r->run_peak[d].t_ns && !is_lost;
        o->peak_power_w = peak ? r->run_peak[d].power_w : WL_STORE_UNSET;
        o->peak_t_ms = peak ? rel_ms(r, r->run_peak[d].t_ns) : WL_STORE_UNSET;
        if (has) {
            sec.domain_mask |= 1u << d;
            sec.domain_energy_j[d] = o->energy_j;
        }
    }
    sec.energy_j = total_j;
    if ((rc = wl_store_add_section(run, &sec)) != 0 || (rc = write_samples(run, r)) != 0) {
        wl_errmsg_set(err, rc, "cannot store the run: %s", wl_store_last_error(st));
        goto fail_run;
    }
    rc = set_exit_extras(run, r);
    const uint16_t stuck = r->stuck_mask & lost; /* the sampler's judgement */
    if (rc == 0 && stuck)
        rc = set_not_measuring(run, stuck, (stuck & mask) != 0);
    if (rc == 0) {
        /* rusage comes with the status: none when it could not be read */
        snprintf(extra, sizeof extra, "%.6f", (double)r->cpu_ns / 1e9);
        rc = wl_store_run_set_extra(run, "cpu_time_s", r->status_unknown ? "null" : extra);
    }
    if (rc != 0) {
        wl_errmsg_set(err, rc, "cannot store the run: %s", wl_store_last_error(st));
        goto fail_run;
    }
    char why[300] = "";
    if (r->exec_errno)
        snprintf(why, sizeof why, "cannot run '%s': %s", p->argv[0], strerror(r->exec_errno));
    struct wl_run_totals tot = {
        .status = r->exec_errno                   ? WL_RUN_FAILED
                  : r->stop_signal || !r->started ? WL_RUN_CANCELLED
                                                  : WL_RUN_COMPLETE,
        .duration_ms = dur_ms,
        .energy_j = sec.energy_j,
        .energy_method = method,
        .energy_scope = scope,
        .input_tokens = -1,
        .output_tokens = -1,
        .kv_cache_bytes = -1,
        .sample_count = (int64_t)r->n_samples,
        .sample_rate_hz = r->stats.achieved_hz > 0 ? r->stats.achieved_hz : WL_STORE_UNSET,
        .error = r->exec_errno ? why : NULL,
        .domains = doms,
        .n_domains = nd,
        .sensor_provenance_json = prov,
    };
    rc = wl_store_run_finish(run, &tot);
    run = NULL;
    if (rc != 0)
        wl_errmsg_set(err, rc, "cannot store the run: %s", wl_store_last_error(st));
    goto done;

fail_run:
    if (rc == WL_EBUSY || rc == WL_ECANCELED || rc == WL_ENOENT) {
        /* the lock was not had (after run_wait_ms, or the wait was
         * stopped), or the row is gone: marking it failed would fail the
         * same way, or wait as long again. Left `running`, it reads
         * incomplete once this process has ended. */
        wl_store_run_abandon(run);
    } else {
        /* keep what was written, and say the run failed to be stored whole */
        struct wl_run_totals ftot = {.status = WL_RUN_FAILED,
                                     .duration_ms = dur_ms,
                                     .energy_j = WL_STORE_UNSET,
                                     .input_tokens = -1,
                                     .output_tokens = -1,
                                     .kv_cache_bytes = -1,
                                     .sample_rate_hz = WL_STORE_UNSET,
                                     .error = err->text,
                                     .sensor_provenance_json = prov};
        wl_store_run_finish(run, &ftot);
    }
done:
    free(prov);
    return rc;
}

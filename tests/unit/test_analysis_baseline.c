/* analysis/summary: the run-level idle baseline and dynamic energy cover
 * exactly the headline energy's domains (energy_scope), for every headline
 * shape, for finished runs (stored baselines) and unfinished ones (their
 * baseline samples). The rest of the summary is in test_analysis*.c.
 */
#include "store_fixture.h"
#include "test_support.h"

#include "analysis/summary.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The run-level baseline is the idle power of exactly the domains the
 * headline energy covers (energy_scope), whatever other domains the run
 * stored: Apple's soc holds package (cpu), gpu and ane; psys + a discrete
 * GPU needs the GPU's idle power too; a headline domain without a baseline
 * leaves the run's unknown rather than a partial sum. Finished runs read
 * the stored baselines, unfinished ones the slopes of their baseline
 * samples, with the scope from the provenance written at begin (or, with
 * none, the recorder's rule over the domains present). */
struct headline_case {
    const char *what;
    const char *scope; /* energy_scope (finished) or provenance's (unfinished) */
    bool finish;
    double base_w[WL_DOMAIN_COUNT]; /* per domain; 0 = no row / sample, -1 = row, no baseline */
    double want_w;                  /* NAN: none */
    enum wl_summary_baseline want;
    uint32_t want_missing;
};

/* prov: the provenance written at begin; NULL: {"energy_scope": scope} for
 * an unfinished run with a scope, else none */
static void write_headline_case(wl_store *st, const struct headline_case *c, const char *prov,
                                char *id)
{
    char scope_prov[128] = "";
    if (!prov && c->scope && !c->finish) {
        snprintf(scope_prov, sizeof scope_prov, "{\"energy_scope\": \"%s\"}", c->scope);
        prov = scope_prov;
    }
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_INFERENCE, .model_name = c->what, .sensor_provenance_json = prov};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(st, &info, &r, id), 0);
    /* baseline samples 0..200 ms: each domain's counter climbs at its power */
    for (int i = 0; !c->finish && i < 3; i++) {
        struct wl_store_sample smp = {
            .t_ms = 100.0 * i, .phase = "baseline", .method_flags = 1u << WL_METHOD_COUNTER};
        for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
            smp.power_w[d] = smp.energy_j[d] = WL_STORE_UNSET;
            if (c->base_w[d] > 0) {
                smp.domain_mask |= 1u << d;
                smp.power_w[d] = c->base_w[d];
                smp.energy_j[d] = c->base_w[d] * 0.1 * i;
            }
        }
        assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
    }
    struct wl_store_section sec = {.phase = "prefill",
                                   .name = "layers",
                                   .token_index = -1,
                                   .start_ms = 300,
                                   .end_ms = 1300,
                                   .energy_j = 100,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    if (!c->finish) {
        assert_int_equal(wl_store_flush(r), 0);
        wl_store_run_abandon(r);
        return;
    }
    struct wl_store_domain doms[WL_DOMAIN_COUNT];
    size_t n = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (c->base_w[d] == 0)
            continue;
        doms[n++] = (struct wl_store_domain){.domain = (enum wl_domain)d,
                                             .method = WL_METHOD_COUNTER,
                                             .source = "fake",
                                             .energy_j = 50,
                                             .avg_power_w = WL_STORE_UNSET,
                                             .baseline_power_w =
                                                 c->base_w[d] > 0 ? c->base_w[d] : WL_STORE_UNSET,
                                             .peak_power_w = WL_STORE_UNSET,
                                             .peak_t_ms = WL_STORE_UNSET};
    }
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 1000, 100, WL_METHOD_COUNTER);
    tot.energy_scope = c->scope;
    tot.domains = doms;
    tot.n_domains = n;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

/* Writes case c (with provenance prov, see write_headline_case) and checks
 * the summary's run-level baseline against it. */
static void check_headline_case(wl_store *st, const struct headline_case *c, const char *prov)
{
    char id[37];
    write_headline_case(st, c, prov, id);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(st, id, &a), 0);
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    if (s.baseline != c->want || s.baseline_missing != c->want_missing)
        fail_msg("%s: baseline %s (missing 0x%x), want %s (0x%x)", c->what,
                 wl_summary_baseline_key(s.baseline), (unsigned)s.baseline_missing,
                 wl_summary_baseline_key(c->want), (unsigned)c->want_missing);
    if (isnan(c->want_w)) {
        assert_true(isnan(s.baseline_power_w));
        assert_true(isnan(s.dynamic_energy_j));
    } else {
        if (fabs(s.baseline_power_w - c->want_w) > 1e-6)
            fail_msg("%s: baseline %g W, want %g W", c->what, s.baseline_power_w, c->want_w);
        /* 100 J in 1 s */
        assert_float_equal(s.dynamic_energy_j, 100 - c->want_w, 1e-6);
    }
    json_t *j = wl_summary_to_json(&a, &s);
    json_t *t = json_object_get(j, "totals");
    assert_string_equal(json_string_value(json_object_get(t, "baseline_status")),
                        wl_summary_baseline_key(c->want));
    json_t *miss = json_object_get(t, "baseline_missing_domains");
    assert_int_equal(json_array_size(miss), c->want_missing ? 1 : 0);
    if (c->want_missing)
        assert_string_equal(json_string_value(json_array_get(miss, 0)), "dram");
    json_decref(j);
    wl_summary_free(&s);
    wl_store_aggregates_free(&a);
}

static void test_run_baseline_covers_the_headline_domains(void **state)
{
    struct wl_test_store_fixture *f = *state;
    enum { PKG = WL_DOMAIN_PACKAGE, DRAM = WL_DOMAIN_DRAM, PSYS = WL_DOMAIN_PSYS };
    enum { GPU = WL_DOMAIN_GPU, SOC = WL_DOMAIN_SOC, ANE = WL_DOMAIN_ANE };
    const enum wl_summary_baseline STORED = WL_SUMMARY_BASELINE_STORED,
                                   SAMPLES = WL_SUMMARY_BASELINE_SAMPLES,
                                   INCOMPLETE = WL_SUMMARY_BASELINE_INCOMPLETE_DOMAINS;
    const struct headline_case cases[] = {
        /* Apple: soc = cpu (package) + gpu + ane; only soc's idle power
         * (was 7 W: all four added) */
        {"soc", "soc", true, {[PKG] = 2, [GPU] = 1, [ANE] = 0.5, [SOC] = 3.5}, 3.5, STORED, 0},
        {"soc, unfinished",
         "soc",
         false,
         {[PKG] = 2, [GPU] = 1, [ANE] = 0.5, [SOC] = 3.5},
         3.5,
         SAMPLES,
         0},
        /* no scope stored anywhere: the recorder's rule picks soc too */
        {"soc, no scope",
         NULL,
         false,
         {[PKG] = 2, [GPU] = 1, [ANE] = 0.5, [SOC] = 3.5},
         3.5,
         SAMPLES,
         0},
        /* psys + a discrete GPU: both idle powers (was 10 W: psys alone);
         * package is inside psys */
        {"psys+gpu", "psys+gpu", true, {[PKG] = 5, [PSYS] = 10, [GPU] = 20}, 30, STORED, 0},
        {"psys+gpu, unfinished",
         "psys+gpu",
         false,
         {[PKG] = 5, [PSYS] = 10, [GPU] = 20},
         30,
         SAMPLES,
         0},
        /* package+dram whose dram has no baseline: unknown, not package's
         * 10 W passed off as the whole */
        {"package+dram, dram missing",
         "package+dram",
         true,
         {[PKG] = 10, [DRAM] = -1},
         NAN,
         INCOMPLETE,
         1u << DRAM},
        {"package+dram, no dram row",
         "package+dram",
         true,
         {[PKG] = 10},
         NAN,
         INCOMPLETE,
         1u << DRAM},
        {"package+dram, unfinished",
         "package+dram",
         false,
         {[PKG] = 10},
         NAN,
         INCOMPLETE,
         1u << DRAM},
        {"package+dram", "package+dram", true, {[PKG] = 10, [DRAM] = 2}, 12, STORED, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_headline_case(f->s, &cases[i], NULL);
}

/* A scope this build cannot read (a newer build's, naming a domain it does
 * not know) is no scope: the recorder's rule over the domains stored, as
 * for a run with none; never the subset of the provenance's in_headline
 * flags this build can name (package without npu, passed off as the whole:
 * it was 10 W here). */
static void test_unreadable_scope_takes_the_recorders_rule(void **state)
{
    struct wl_test_store_fixture *f = *state;
    const struct headline_case c = {"package+npu, unfinished",
                                    "package+npu",
                                    false,
                                    {[WL_DOMAIN_PACKAGE] = 10, [WL_DOMAIN_DRAM] = 2},
                                    12,
                                    WL_SUMMARY_BASELINE_SAMPLES,
                                    0};
    check_headline_case(f->s, &c,
                        "{\"energy_scope\": \"package+npu\", \"domains\": ["
                        "{\"domain\": \"package\", \"in_headline\": true},"
                        "{\"domain\": \"dram\", \"in_headline\": false},"
                        "{\"domain\": \"npu\", \"in_headline\": true}]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_baseline_covers_the_headline_domains,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_scope_takes_the_recorders_rule,
                                        wl_test_store_setup, wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

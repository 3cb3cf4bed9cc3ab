/* analysis/summary over inputs that are not figures: energies a failed
 * sensor read left unknown (NULL rows), an infinity a hand edit stored,
 * a domain method this build cannot read, a currency stored without its
 * price. Each figure either uses only what is known or is n/a; none is
 * biased by what is missing. The rest of the summary is in test_analysis.c.
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

#define EPS 1e-9

/* Aggregates of a finished run by hand: 10 J in 1000 ms, one phase
 * "decode" of 1 J in 100 ms, no tokens. */
static void plain_run(struct wl_store_aggregates *a, struct wl_agg_phase *ph)
{
    memset(a, 0, sizeof *a);
    a->run.row.kind = WL_RUN_KIND_INFERENCE;
    a->run.row.status = WL_RUN_COMPLETE;
    a->run.row.energy_j = 10;
    a->run.row.duration_ms = 1000;
    a->run.row.input_tokens = a->run.row.output_tokens = -1;
    *ph = (struct wl_agg_phase){.name = "decode",
                                .n_sections = 1,
                                .start_ms = 0,
                                .end_ms = 100,
                                .dur_ms = 100,
                                .energy_j = 1};
    a->phases = ph;
    a->n_phases = 1;
    a->span.last_token = -1;
}

/* ---- an infinity is no figure -------------------------------------------- */

/* A hand-edited runs.energy_j of 9e999 (inf): show printed "energy n/a"
 * beside "the phases' sections account for 0.0 % of the run's energy" and
 * a cost of "inf USD". */
static void test_an_infinite_energy_is_unknown(void **state)
{
    (void)state;
    struct wl_store_aggregates a;
    struct wl_agg_phase ph;
    plain_run(&a, &ph);
    a.run.row.energy_j = INFINITY;
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(isnan(s.energy_j)); /* JSON null, as the export writes it */
    assert_true(isnan(s.covered_energy_pct));
    assert_true(isnan(s.avg_power_w));
    assert_true(isnan(s.cost.cost)); /* "inf USD" */
    assert_true(isnan(s.cost.co2_g));
    assert_true(isnan(s.eff.edp_js));
    wl_summary_free(&s);

    /* and an infinite phase energy gives no share and no power */
    plain_run(&a, &ph);
    ph.energy_j = -INFINITY;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(isnan(s.phases[0].avg_power_w));
    assert_true(isnan(s.covered_energy_pct));
    wl_summary_free(&s);
}

/* ---- a method this build cannot read ------------------------------------ */

/* A model-estimated package next to a dram whose stored method this build
 * cannot parse (another writer's, a newer build's): the dram's method is
 * not known, so show's note counts it as estimated; it printed "partly
 * ESTIMATED: package ...; dram: ?", the dram as measured. */
static void test_a_method_that_cannot_be_read_is_not_known(void **state)
{
    (void)state;
    struct wl_store_aggregates a;
    struct wl_agg_phase ph;
    plain_run(&a, &ph);
    a.run.row.energy_method = WL_METHOD_MODEL_ESTIMATE;
    a.run.row.has_energy_method = true;
    a.run.energy_scope = "package+dram";
    a.run.domains[0] = (struct wl_store_domain){.domain = WL_DOMAIN_PACKAGE,
                                                .method = WL_METHOD_MODEL_ESTIMATE,
                                                .energy_j = 9,
                                                .avg_power_w = WL_STORE_UNSET,
                                                .baseline_power_w = WL_STORE_UNSET,
                                                .peak_power_w = WL_STORE_UNSET,
                                                .peak_t_ms = WL_STORE_UNSET};
    a.run.domains[1] = a.run.domains[0];
    a.run.domains[1].domain = WL_DOMAIN_DRAM;
    a.run.domains[1].method = WL_METHOD_COUNT; /* what the store reads for "x" or NULL */
    a.run.domains[1].energy_j = 1;
    a.run.n_domains = 2;
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_int_equal(s.headline_mask, (1u << WL_DOMAIN_PACKAGE) | (1u << WL_DOMAIN_DRAM));
    assert_true(s.method_known & (1u << WL_DOMAIN_PACKAGE));
    assert_int_equal(s.domain_method[WL_DOMAIN_PACKAGE], WL_METHOD_MODEL_ESTIMATE);
    assert_false(s.method_known & (1u << WL_DOMAIN_DRAM));
    wl_summary_free(&s);
}

/* ---- a currency without its price --------------------------------------- */

/* `run --currency JPY` without --price-kwh stored the currency alone, and
 * the cost read "at 0.15 JPY/kWh (default price)": the USD default,
 * relabelled, about 150 times too low. The currency is its price's unit. */
static void test_a_currency_without_a_price_keeps_the_default_currency(void **state)
{
    (void)state;
    struct wl_store_aggregates a;
    struct wl_agg_phase ph;
    plain_run(&a, &ph);
    a.run.extra_json = "{\"currency\":\"JPY\"}";
    struct wl_summary s;
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_false(s.cost.price_from_run);
    assert_string_equal(s.cost.currency, WL_DEFAULT_CURRENCY);
    assert_float_equal(s.cost.price_per_kwh, WL_DEFAULT_PRICE_PER_KWH, EPS);
    assert_float_equal(s.cost.cost, 10 / 3.6e6 * WL_DEFAULT_PRICE_PER_KWH, 1e-15);
    wl_summary_free(&s);

    /* with its own price, the run's currency is the cost's */
    a.run.extra_json = "{\"currency\":\"JPY\",\"price_per_kwh\":30}";
    assert_int_equal(wl_summary_compute(&a, &s), 0);
    assert_true(s.cost.price_from_run);
    assert_string_equal(s.cost.currency, "JPY");
    assert_float_equal(s.cost.price_per_kwh, 30, EPS);
    wl_summary_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_infinite_energy_is_unknown),
        cmocka_unit_test(test_a_method_that_cannot_be_read_is_not_known),
        cmocka_unit_test(test_a_currency_without_a_price_keeps_the_default_currency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

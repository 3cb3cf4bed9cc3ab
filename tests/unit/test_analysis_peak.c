/* analysis/summary: the run's peak power follows its headline energy's
 * scope. A headline of one domain has that domain's peak. Of a headline of
 * several (package+dram, + a GPU; soc + a discrete GPU) no peak of the sum
 * is kept: the summary gives the highest of their peaks, a part of the
 * headline, at most the sum's peak (powers are not negative), and names its
 * domain (peak_domain; `show` labels the line with it). It used to take the
 * widest domain present (total, soc, psys, package) whatever the headline:
 * a laptop's psys, which the package+dram+gpu headline leaves out, an APU's
 * soc without the discrete GPU the headline adds, and no peak at all for a
 * headline of a GPU alone. `show` also names the domain of an unfinished
 * run, whose scope comes from its provenance (it named none).
 */
#include "cli_store_fixture.h"
#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include "analysis/summary.h"
#include "store/store.h"
#include "wattlens/energy.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

struct dom {
    enum wl_domain d;
    double peak_w, peak_t_ms;
};

static struct wl_store_domain domain_row(const struct dom *x)
{
    struct wl_store_domain o =
        wl_test_domain_row(x->d, WL_METHOD_COUNTER, "fake", 1, WL_STORE_UNSET);
    o.peak_power_w = x->peak_w;
    o.peak_t_ms = x->peak_t_ms;
    return o;
}

/* A finished run of the domains doms, its energy over scope. */
static void write_run(wl_store *s, const char *scope, const struct dom *doms, size_t n, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE, .command = "work"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "measure",
                                   .name = "command",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 1000,
                                   .energy_j = 10,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    struct wl_store_domain rows[WL_DOMAIN_COUNT];
    for (size_t i = 0; i < n; i++)
        rows[i] = domain_row(&doms[i]);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 1000, 10, WL_METHOD_COUNTER);
    tot.energy_scope = scope;
    tot.domains = rows;
    tot.n_domains = n;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

static void summarise(wl_store *s, const char *id, struct wl_store_aggregates *a,
                      struct wl_summary *sum)
{
    assert_int_equal(wl_store_summary(s, id, a), 0);
    assert_int_equal(wl_summary_compute(a, sum), 0);
}

static void check_peak(wl_store *s, const char *id, double want_w, double want_t_ms,
                       const char *want_domain)
{
    struct wl_store_aggregates a;
    struct wl_summary sum;
    summarise(s, id, &a, &sum);
    if (isnan(want_w)) {
        assert_true(isnan(sum.peak_power_w));
    } else {
        assert_float_equal(sum.peak_power_w, want_w, EPS);
        assert_float_equal(sum.peak_t_ms, want_t_ms, EPS);
    }
    json_t *j = wl_summary_to_json(&a, &sum);
    const char *pd =
        json_string_value(json_object_get(json_object_get(j, "totals"), "peak_domain"));
    assert_non_null(pd);
    assert_string_equal(pd, want_domain);
    json_decref(j);
    wl_summary_free(&sum);
    wl_store_aggregates_free(&a);
}

/* A laptop with a discrete GPU: the headline is package+dram+gpu, and psys
 * (the platform, which may hold the GPU too) is not in it. */
static void test_a_laptop_with_a_gpu_peaks_inside_its_headline(void **state)
{
    struct wl_test_store_fixture *f = *state;
    const struct dom doms[] = {{WL_DOMAIN_PACKAGE, 20, 100},
                               {WL_DOMAIN_DRAM, 5, 150},
                               {WL_DOMAIN_PSYS, 90, 200},
                               {WL_DOMAIN_GPU, 60, 300}};
    char id[37];
    write_run(f->s, "package+dram+gpu", doms, 4, id);
    check_peak(f->s, id, 60, 300, "gpu"); /* old: psys's 90 W */
}

/* An AMD APU (soc) with a discrete GPU: the headline adds the GPU. */
static void test_an_apu_with_a_discrete_gpu_peaks_inside_its_headline(void **state)
{
    struct wl_test_store_fixture *f = *state;
    const struct dom doms[] = {
        {WL_DOMAIN_PACKAGE, 14, 100}, {WL_DOMAIN_SOC, 25, 200}, {WL_DOMAIN_GPU, 80, 400}};
    char id[37];
    write_run(f->s, "soc+gpu", doms, 3, id);
    check_peak(f->s, id, 80, 400, "gpu"); /* old: soc's 25 W */
}

/* A headline of one domain has its peak; a GPU alone had none. */
static void test_a_single_domain_headline_has_its_own_peak(void **state)
{
    struct wl_test_store_fixture *f = *state;
    const struct dom gpu[] = {{WL_DOMAIN_GPU, 70, 250}};
    const struct dom laptop[] = {{WL_DOMAIN_PACKAGE, 20, 100}, {WL_DOMAIN_PSYS, 33, 120}};
    const struct dom desktop[] = {{WL_DOMAIN_PACKAGE, 30, 100}, {WL_DOMAIN_DRAM, 6, 200}};
    char id[3][37];
    write_run(f->s, "gpu", gpu, 1, id[0]);
    write_run(f->s, "psys", laptop, 2, id[1]);
    write_run(f->s, "package+dram", desktop, 2, id[2]);
    check_peak(f->s, id[0], 70, 250, "gpu"); /* old: none */
    check_peak(f->s, id[1], 33, 120, "psys");
    check_peak(f->s, id[2], 30, 100, "package"); /* as before */
}

/* The headline's domains without a peak: none, and no other domain's. */
static void test_no_peak_of_the_headline_is_no_peak(void **state)
{
    struct wl_test_store_fixture *f = *state;
    const struct dom doms[] = {{WL_DOMAIN_PACKAGE, 20, 100},
                               {WL_DOMAIN_DRAM, WL_STORE_UNSET, WL_STORE_UNSET},
                               {WL_DOMAIN_PSYS, 90, 200},
                               {WL_DOMAIN_GPU, WL_STORE_UNSET, WL_STORE_UNSET}};
    char id[37];
    write_run(f->s, "dram+gpu", doms, 4, id);
    check_peak(f->s, id, NAN, NAN, "dram");
}

/* show labels the peak with its domain when the headline covers more,
 * also for an unfinished run (its scope from the provenance), and not for
 * a headline of that one domain. */
static void test_show_names_the_peak_domain(void **state)
{
    struct wl_test_store_fixture *f = *state;
    const struct dom apu[] = {{WL_DOMAIN_SOC, 25, 200}, {WL_DOMAIN_GPU, 80, 400}};
    const struct dom one[] = {{WL_DOMAIN_PACKAGE, 30, 100}};
    char id[3][37], b[256];
    write_run(f->s, "soc+gpu", apu, 2, id[0]);
    write_run(f->s, "package", one, 1, id[1]);
    /* unfinished: its domains and scope as a writer that died left them */
    struct wl_run_info info = {.kind = WL_RUN_KIND_MEASURE,
                               .command = "work",
                               .sensor_provenance_json = "{\"energy_scope\":\"package+dram\"}"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id[2]), 0);
    const struct dom pd[] = {{WL_DOMAIN_PACKAGE, 30, 100}, {WL_DOMAIN_DRAM, 6, 200}};
    for (int i = 0; i < 2; i++) {
        struct wl_store_domain row = domain_row(&pd[i]);
        assert_int_equal(wl_store_run_set_domain(r, &row), 0);
    }
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r);
    wl_store_close(f->s);
    f->s = NULL;

    char *out = wl_test_show_text(f->path, id[0]);
    assert_string_equal(wl_test_line_value(out, "peak power (gpu)", b, sizeof b),
                        "80.00 W (at 400.00 ms)");
    free(out);
    out = wl_test_show_text(f->path, id[1]);
    assert_string_equal(wl_test_line_value(out, "\n  peak power", b, sizeof b),
                        "30.00 W (at 100.00 ms)");
    free(out);
    out = wl_test_show_text(f->path, id[2]);
    assert_string_equal(wl_test_line_value(out, "peak power (package)", b, sizeof b),
                        "30.00 W (at 100.00 ms)");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_laptop_with_a_gpu_peaks_inside_its_headline,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_an_apu_with_a_discrete_gpu_peaks_inside_its_headline,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_a_single_domain_headline_has_its_own_peak,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_no_peak_of_the_headline_is_no_peak,
                                        wl_test_store_setup, wl_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_show_names_the_peak_domain, wl_test_store_setup,
                                        wl_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

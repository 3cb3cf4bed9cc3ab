/* A counter whose window is not known (WL_PEAK_SPAN_UNKNOWN) and that did
 * not move over the whole window has no peak: its power is unknown, never
 * the 0 W its average says (a static RAPL counter gave `measure` a 0.000 W
 * peak next to power_window_ms null; sampler.md: "never 0 W"). One that
 * moved keeps its average as the peak. */
#include "test_support.h"

#include "sampler/sampler.h"

#include <string.h>

#define T0_NS 1000000000ull
#define MS_NS 1000000ull

static void window(struct wl_energy_window *w, enum wl_domain d, uint64_t e0, uint64_t e1)
{
    memset(w, 0, sizeof *w);
    w->begin.t_ns = T0_NS;
    w->end.t_ns = T0_NS + 300 * MS_NS;
    w->begin.valid_mask = w->end.valid_mask = (uint16_t)(1u << d);
    w->begin.energy_uj[d] = e0;
    w->end.energy_uj[d] = e1;
}

static void test_flat_counter_of_unknown_window_has_no_peak(void **state)
{
    (void)state;
    const enum wl_domain d = WL_DOMAIN_PACKAGE;
    struct wl_energy_window w;
    struct wl_peak pk;
    window(&w, d, 5000000, 5000000);
    wl_window_peak(NULL, 0, &w, d, WL_PEAK_SPAN_UNKNOWN, &pk);
    assert_int_equal(pk.t_ns, 0);
    assert_false(pk.too_short);
    /* moved once: the whole window is the one span, its average the peak */
    window(&w, d, 5000000, 5003000);
    wl_window_peak(NULL, 0, &w, d, WL_PEAK_SPAN_UNKNOWN, &pk);
    assert_true(pk.t_ns != 0);
    assert_true(pk.power_w == wl_energy_window_avg_w(&w, d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_counter_of_unknown_window_has_no_peak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The headline energy's domains (wl_headline_domains, profile/headline.c):
 * one table of machines, each with the domains its sensors give and the
 * sum that counts nothing twice and leaves nothing measured out, and the
 * scope text and method a run stores. End to end through the CLI with fake
 * sysfs trees: tests/integration/test_headline_scope.sh.
 */
#include "test_support.h"

#include "profile/headline.h"
#include "wattlens/energy.h"

#include <string.h>

#define B(d) (1u << WL_DOMAIN_##d)

struct rule_case {
    const char *machine;
    unsigned present;
    unsigned want;
};

/* psys is the platform's power-delivery input (the SDM's
 * MSR_PLATFORM_ENERGY_COUNTER: "all devices in the platform that receive
 * power from integrated power delivery"), which on a laptop feeds the
 * discrete GPU too: psys + gpu counted that GPU twice (75 J for 10 W
 * package, 30 W psys, 20 W dGPU over 1.5 s, where 45 J was measured). */
static void test_psys_is_never_added_to_a_gpu(void **state)
{
    (void)state;
    static const struct rule_case cases[] = {
        /* a laptop: package, psys and a discrete GPU: the disjoint sum */
        {"laptop with a dGPU", B(PACKAGE) | B(PSYS) | B(GPU), B(PACKAGE) | B(GPU)},
        {"laptop with a dGPU and dram", B(PACKAGE) | B(CORE) | B(DRAM) | B(PSYS) | B(GPU),
         B(PACKAGE) | B(DRAM) | B(GPU)},
        /* no GPU: psys holds the package and everything else */
        {"laptop", B(PACKAGE) | B(CORE) | B(UNCORE) | B(PSYS), B(PSYS)},
        {"laptop with dram", B(PACKAGE) | B(DRAM) | B(PSYS), B(PSYS)},
        /* psys and a GPU with no package to measure the CPU by: psys alone
         * (the GPU left out of it rather than maybe counted twice) */
        {"psys and a GPU only", B(PSYS) | B(GPU), B(PSYS)},
        /* core + uncore stand for the CPU only without a package */
        {"psys, core and a GPU", B(CORE) | B(UNCORE) | B(PSYS) | B(GPU),
         B(CORE) | B(UNCORE) | B(GPU)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const unsigned got = wl_headline_domains(cases[i].present);
        if (got != cases[i].want)
            fail_msg("%s: headline 0x%x, want 0x%x", cases[i].machine, got, cases[i].want);
    }
}

/* The rest of the rule, unchanged: a whole-system meter is the headline
 * alone; a desktop's package + dram + GPU; core only without a package. */
static void test_meter_desktop_and_cpu_only(void **state)
{
    (void)state;
    static const struct rule_case cases[] = {
        {"a meter", B(TOTAL) | B(PACKAGE) | B(PSYS) | B(GPU), B(TOTAL)},
        {"a meter and an APU", B(TOTAL) | B(SOC) | B(GPU), B(TOTAL)},
        {"desktop", B(PACKAGE) | B(CORE) | B(DRAM) | B(GPU), B(PACKAGE) | B(DRAM) | B(GPU)},
        {"server", B(PACKAGE) | B(DRAM), B(PACKAGE) | B(DRAM)},
        {"core only", B(CORE) | B(UNCORE), B(CORE) | B(UNCORE)},
        {"GPU only", B(GPU), B(GPU)},
        {"nothing", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const unsigned got = wl_headline_domains(cases[i].present);
        if (got != cases[i].want)
            fail_msg("%s: headline 0x%x, want 0x%x", cases[i].machine, got, cases[i].want);
    }
}

/* What a run stores: the scope text and the weakest method of the
 * headline's domains (psys, left out, does not weaken it). */
static void test_choose_gives_the_laptop_scope(void **state)
{
    (void)state;
    struct wl_domain_info dom[WL_DOMAIN_COUNT];
    memset(dom, 0, sizeof dom);
    dom[WL_DOMAIN_PACKAGE] = (struct wl_domain_info){.present = true, .method = WL_METHOD_COUNTER};
    dom[WL_DOMAIN_PSYS] =
        (struct wl_domain_info){.present = true, .method = WL_METHOD_VENDOR_ESTIMATE};
    dom[WL_DOMAIN_GPU] = (struct wl_domain_info){.present = true, .method = WL_METHOD_SAMPLED};
    uint16_t mask = 0;
    enum wl_method method = WL_METHOD_COUNT;
    char scope[64];
    wl_headline_choose(dom, &mask, &method, scope, sizeof scope);
    assert_int_equal(mask, B(PACKAGE) | B(GPU));
    assert_string_equal(scope, "package+gpu");
    assert_int_equal(method, WL_METHOD_SAMPLED);

    dom[WL_DOMAIN_GPU].present = false;
    wl_headline_choose(dom, &mask, &method, scope, sizeof scope);
    assert_int_equal(mask, B(PSYS));
    assert_string_equal(scope, "psys");
    assert_int_equal(method, WL_METHOD_VENDOR_ESTIMATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psys_is_never_added_to_a_gpu),
        cmocka_unit_test(test_meter_desktop_and_cpu_only),
        cmocka_unit_test(test_choose_gives_the_laptop_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

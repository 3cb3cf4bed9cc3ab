/* The headline energy's domains (wl_headline_domains, profile/headline.c):
 * one table of machines, each with the domains its sensors give and the
 * sum that counts nothing twice and leaves nothing measured out, and the
 * scope text and method a run stores. End to end through the CLI with fake
 * sysfs trees: tests/integration/test_headline_scope.sh.
 */
#include "test_support.h"

#include "profile/headline.h"
#include "sampler/sampler.h"
#include "sensors/sensor.h"
#include "wattlens/energy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define B(d) (1u << WL_DOMAIN_##d)

struct rule_case {
    const char *machine;
    unsigned present;
    unsigned parts; /* domains measured as parts of another channel (WL_CH_PART) */
    unsigned want;
};

static void check_cases(const struct rule_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned got = wl_headline_domains(cases[i].present, cases[i].parts);
        if (got != cases[i].want)
            fail_msg("%s: headline 0x%x, want 0x%x", cases[i].machine, got, cases[i].want);
    }
}

/* RAPL's core and uncore are parts of the package */
#define RAPL_PARTS (B(CORE) | B(UNCORE))

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
        {"laptop with a dGPU", B(PACKAGE) | B(PSYS) | B(GPU), 0, B(PACKAGE) | B(GPU)},
        {"laptop with a dGPU and dram", B(PACKAGE) | B(CORE) | B(DRAM) | B(PSYS) | B(GPU),
         RAPL_PARTS, B(PACKAGE) | B(DRAM) | B(GPU)},
        /* no GPU: psys holds the package and everything else */
        {"laptop", B(PACKAGE) | B(CORE) | B(UNCORE) | B(PSYS), RAPL_PARTS, B(PSYS)},
        {"laptop with dram", B(PACKAGE) | B(DRAM) | B(PSYS), 0, B(PSYS)},
        /* psys and a GPU with no package to measure the CPU by: psys alone
         * (the GPU left out of it rather than maybe counted twice) */
        {"psys and a GPU only", B(PSYS) | B(GPU), 0, B(PSYS)},
        /* core + uncore stand for the CPU only without a package */
        {"psys, core and a GPU", B(CORE) | B(UNCORE) | B(PSYS) | B(GPU), RAPL_PARTS,
         B(CORE) | B(UNCORE) | B(GPU)},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

/* The rest of the rule, unchanged: a whole-system meter is the headline
 * alone; a desktop's package + dram + GPU; core only without a package. */
static void test_meter_desktop_and_cpu_only(void **state)
{
    (void)state;
    static const struct rule_case cases[] = {
        {"a meter", B(TOTAL) | B(PACKAGE) | B(PSYS) | B(GPU), 0, B(TOTAL)},
        {"a meter and an APU with a dGPU", B(TOTAL) | B(SOC) | B(GPU), 0, B(TOTAL)},
        {"desktop", B(PACKAGE) | B(CORE) | B(DRAM) | B(GPU), RAPL_PARTS,
         B(PACKAGE) | B(DRAM) | B(GPU)},
        {"server", B(PACKAGE) | B(DRAM), 0, B(PACKAGE) | B(DRAM)},
        {"core only", B(CORE) | B(UNCORE), RAPL_PARTS, B(CORE) | B(UNCORE)},
        {"GPU only", B(GPU), 0, B(GPU)},
        {"nothing", 0, 0, 0},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

/* A soc holds the CPU, and a GPU or ANE only where it is measured as its
 * part: Apple's combined is cpu + gpu + ane (powermetrics marks those
 * WL_CH_PART), while an AMD APU's socket power (hwmon amdgpu with vddnb)
 * holds its CPU and iGPU but not a discrete GPU, NVIDIA's (NVML) or
 * another amdgpu/i915/xe card. The rule knew only presence, and soc alone
 * dropped that dGPU from every total (37.6 J where the GPU alone measured
 * 120.2 J). */
static void test_soc_adds_only_what_is_outside_it(void **state)
{
    (void)state;
    static const struct rule_case cases[] = {
        /* Apple silicon: every component is a part of combined */
        {"Apple", B(PACKAGE) | B(GPU) | B(ANE) | B(SOC), B(PACKAGE) | B(GPU) | B(ANE), B(SOC)},
        {"Apple without an ANE reading", B(PACKAGE) | B(GPU) | B(SOC), B(PACKAGE) | B(GPU), B(SOC)},
        /* an AMD APU with RAPL: the package is inside the socket */
        {"APU", B(PACKAGE) | B(CORE) | B(SOC), RAPL_PARTS, B(SOC)},
        /* an AMD APU and a discrete GPU: the socket + the GPU */
        {"APU + dGPU", B(PACKAGE) | B(CORE) | B(SOC) | B(GPU), RAPL_PARTS, B(SOC) | B(GPU)},
        {"APU + dGPU, no RAPL", B(SOC) | B(GPU), 0, B(SOC) | B(GPU)},
        /* a whole-system meter still holds everything */
        {"APU + dGPU + meter", B(PACKAGE) | B(SOC) | B(GPU) | B(TOTAL), 0, B(TOTAL)},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
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

    /* Apple's: cpu, gpu and ane are parts of combined (dom[].part) */
    memset(dom, 0, sizeof dom);
    const enum wl_domain apple[] = {WL_DOMAIN_PACKAGE, WL_DOMAIN_GPU, WL_DOMAIN_ANE};
    for (size_t i = 0; i < 3; i++)
        dom[apple[i]] = (struct wl_domain_info){
            .present = true, .part = true, .method = WL_METHOD_VENDOR_ESTIMATE};
    dom[WL_DOMAIN_SOC] =
        (struct wl_domain_info){.present = true, .method = WL_METHOD_VENDOR_ESTIMATE};
    wl_headline_choose(dom, &mask, &method, scope, sizeof scope);
    assert_string_equal(scope, "soc");
    /* the same domains where the GPU is no part (an APU's dGPU): added */
    dom[WL_DOMAIN_GPU].part = false;
    wl_headline_choose(dom, &mask, &method, scope, sizeof scope);
    assert_string_equal(scope, "gpu+soc");
}

/* A file under root, its folders made */
static void put(const char *root, const char *rel, const char *text)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    assert_int_equal(wl_test_write_file(path, text, strlen(text)), 0);
}

/* Through the sensors and the sampler: an AMD APU (amdgpu with vddnb) next
 * to RAPL (package and its core) and a discrete amdgpu card. The sampler
 * tells the headline which domains are parts of another (core, of the
 * package); none of the GPU's is, so the headline is the socket + the
 * dGPU, and the package inside the socket is left out. */
static void test_sampler_gives_the_apu_and_its_dgpu(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    put(root, "class/powercap/intel-rapl:0/name", "package-0\n");
    put(root, "class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
    put(root, "class/powercap/intel-rapl:0/energy_uj", "1000000\n");
    put(root, "class/powercap/intel-rapl:0:0/name", "core\n");
    put(root, "class/powercap/intel-rapl:0:0/max_energy_range_uj", "262143328850\n");
    put(root, "class/powercap/intel-rapl:0:0/energy_uj", "500000\n");
    put(root, "class/hwmon/hwmon0/name", "amdgpu\n");
    put(root, "class/hwmon/hwmon0/power1_input", "25000000\n");
    put(root, "class/hwmon/hwmon0/in1_input", "900\n");
    put(root, "class/hwmon/hwmon1/name", "amdgpu\n");
    put(root, "class/hwmon/hwmon1/power1_input", "80000000\n");
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.period_probe_ns = 0;
    p.backends = WL_BACKEND_RAPL_POWERCAP | WL_BACKEND_HWMON;
    p.model_use = WL_MODEL_NEVER;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    struct wl_sampler_params sp;
    wl_sampler_params_default(&sp);
    wl_sampler *smp = NULL;
    assert_int_equal(wl_sampler_open(set, &sp, &smp), 0);
    struct wl_domain_info dom[WL_DOMAIN_COUNT];
    for (int d = 0; d < WL_DOMAIN_COUNT; d++)
        dom[d] = *wl_sampler_domain(smp, (enum wl_domain)d);
    assert_true(dom[WL_DOMAIN_CORE].present && dom[WL_DOMAIN_CORE].part);
    assert_true(dom[WL_DOMAIN_PACKAGE].present && !dom[WL_DOMAIN_PACKAGE].part);
    assert_true(dom[WL_DOMAIN_SOC].present && !dom[WL_DOMAIN_SOC].part);
    assert_true(dom[WL_DOMAIN_GPU].present && !dom[WL_DOMAIN_GPU].part);
    uint16_t mask = 0;
    enum wl_method method = WL_METHOD_COUNT;
    char scope[64];
    wl_headline_choose(dom, &mask, &method, scope, sizeof scope);
    assert_string_equal(scope, "gpu+soc");
    assert_int_equal(method, WL_METHOD_SAMPLED);
    wl_sampler_close(smp);
    wl_sensor_set_close(set);
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psys_is_never_added_to_a_gpu),
        cmocka_unit_test(test_meter_desktop_and_cpu_only),
        cmocka_unit_test(test_soc_adds_only_what_is_outside_it),
        cmocka_unit_test(test_choose_gives_the_laptop_scope),
        cmocka_unit_test(test_sampler_gives_the_apu_and_its_dgpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

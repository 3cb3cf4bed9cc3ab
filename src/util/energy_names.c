/* Names of energy domains and methods; see include/wattlens/energy.h. */
#include "wattlens/energy.h"
#include "wattlens/error.h"

#include <string.h>

static const char *const wl_domain_names[WL_DOMAIN_COUNT] = {
    "package", "core", "uncore", "dram", "psys", "gpu", "soc", "ane", "total",
};

static const char *const wl_method_keys[WL_METHOD_COUNT] = {
    "counter", "sampled", "vendor_estimate", "model_estimate", "attributed",
};

static const char *const wl_method_labels[WL_METHOD_COUNT] = {
    "measured (energy counter)", "measured (sampled power)", "vendor estimate",
    "estimated (model)",         "attributed (share)",
};

const char *wl_domain_name(enum wl_domain d)
{
    return ((unsigned)d < WL_DOMAIN_COUNT) ? wl_domain_names[d] : "?";
}

int wl_domain_parse(const char *s, enum wl_domain *out)
{
    for (int i = 0; s && i < WL_DOMAIN_COUNT; i++) {
        if (strcmp(s, wl_domain_names[i]) == 0) {
            *out = (enum wl_domain)i;
            return 0;
        }
    }
    return WL_EINVAL;
}

const char *wl_method_key(enum wl_method m)
{
    return ((unsigned)m < WL_METHOD_COUNT) ? wl_method_keys[m] : "?";
}

const char *wl_method_key_or_null(enum wl_method m)
{
    return ((unsigned)m < WL_METHOD_COUNT) ? wl_method_keys[m] : NULL;
}

const char *wl_method_label(enum wl_method m)
{
    return ((unsigned)m < WL_METHOD_COUNT) ? wl_method_labels[m] : "?";
}

int wl_method_parse(const char *s, enum wl_method *out)
{
    for (int i = 0; s && i < WL_METHOD_COUNT; i++) {
        if (strcmp(s, wl_method_keys[i]) == 0) {
            *out = (enum wl_method)i;
            return 0;
        }
    }
    return WL_EINVAL;
}

int wl_method_is_measured(enum wl_method m)
{
    return m == WL_METHOD_COUNTER || m == WL_METHOD_SAMPLED;
}

unsigned wl_headline_domains(unsigned present, unsigned parts)
{
#define BIT(d) (1u << (d))
    if (present & BIT(WL_DOMAIN_TOTAL))
        return BIT(WL_DOMAIN_TOTAL);
    const unsigned dev = present & (BIT(WL_DOMAIN_GPU) | BIT(WL_DOMAIN_ANE));
    /* the socket holds the CPU; a GPU or ANE only when measured as its part
     * (Apple's, inside combined): an AMD APU's discrete GPU is outside */
    if (present & BIT(WL_DOMAIN_SOC))
        return BIT(WL_DOMAIN_SOC) | (dev & ~parts);
    unsigned cpu = present & (BIT(WL_DOMAIN_PACKAGE) | BIT(WL_DOMAIN_DRAM));
    if (!cpu) /* core and uncore are inside package: only when it is absent */
        cpu = present & (BIT(WL_DOMAIN_CORE) | BIT(WL_DOMAIN_UNCORE));
    /* psys is what the platform's power delivery feeds, which on a laptop
     * includes the discrete GPU: a GPU is never added to it. With a GPU the
     * disjoint cpu + GPU sum is the headline (psys stays in the domain
     * table); psys only without one, or with nothing disjoint from it to
     * measure the CPU by (a GPU left out rather than counted twice). */
    if ((present & BIT(WL_DOMAIN_PSYS)) && (!dev || !cpu))
        return BIT(WL_DOMAIN_PSYS);
    return cpu | dev;
#undef BIT
}

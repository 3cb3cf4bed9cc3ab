/* Energy provenance vocabulary shared by sensors, sampler, store and outputs.
 *
 * Every energy or power figure wattlens reports carries a domain (what was
 * measured) and a method (how). Names are static strings, stable: they are
 * written to the store and to JSON, so never rename one.
 */
#ifndef WATTLENS_ENERGY_H
#define WATTLENS_ENERGY_H

#ifdef __cplusplus
extern "C" {
#endif

enum wl_domain {
    WL_DOMAIN_PACKAGE = 0, /* CPU package (RAPL package-N, AMD package) */
    WL_DOMAIN_CORE,        /* CPU cores (RAPL pp0 / core) */
    WL_DOMAIN_UNCORE,      /* RAPL pp1 / uncore (integrated GPU on client parts) */
    WL_DOMAIN_DRAM,        /* memory */
    WL_DOMAIN_PSYS,        /* platform (contains package; never summed with it) */
    WL_DOMAIN_GPU,         /* discrete or integrated GPU */
    WL_DOMAIN_SOC,         /* whole SoC (Apple combined) */
    WL_DOMAIN_ANE,         /* Apple Neural Engine */
    WL_DOMAIN_TOTAL,       /* a backend's own total */
    WL_DOMAIN_COUNT
};

enum wl_method {
    WL_METHOD_COUNTER = 0,     /* cumulative hardware energy counter, read at boundaries */
    WL_METHOD_SAMPLED,         /* sampled power integrated over time (trapezoid) */
    WL_METHOD_VENDOR_ESTIMATE, /* vendor's own estimate (e.g. powermetrics, NVML average) */
    WL_METHOD_MODEL_ESTIMATE,  /* wattlens's CPU-time model: not a measurement */
    /* a share of another figure (by time, or equal shares): says how the row
     * was derived, not whether that figure was measured; outputs name the
     * figure's own method next to it (energy_base_method) */
    WL_METHOD_ATTRIBUTED,
    WL_METHOD_COUNT
};

/* "package", "core", ... ; "?" for out-of-range values. */
const char *wl_domain_name(enum wl_domain d);
/* Parses a domain name; returns 0 or WL_EINVAL. */
int wl_domain_parse(const char *s, enum wl_domain *out);
/* The domains a run's headline energy adds up, from the mask of domains
 * present (bit 1 << domain) and the mask of those measured as parts of
 * another channel of their sensor (parts: Apple's cpu, gpu and ane inside
 * combined; core and uncore inside package): total, else soc (Apple's
 * combined, an AMD APU's socket) plus the gpu and ane that are not parts
 * of it (an APU's discrete GPU is added, Apple's GPU is not), else
 * package+dram (core+uncore only without a package) plus gpu and ane;
 * psys instead of that only when no gpu or ane is present, or when no
 * CPU domain besides psys is (no package, dram, core or uncore: psys alone,
 * the gpu and ane left out rather than counted twice); psys may hold a
 * laptop's discrete GPU, so it is never added to one. Nested domains are
 * never added together. */
unsigned wl_headline_domains(unsigned present, unsigned parts);

/* Machine key written to the store and JSON: "counter", "sampled",
 * "vendor_estimate", "model_estimate", "attributed". */
const char *wl_method_key(enum wl_method m);
/* wl_method_key, or NULL for a value this build cannot read (another
 * writer's, a newer build's: the store gives WL_METHOD_COUNT): an unknown
 * method, which every output shows as unknown (null in JSON, "n/a" in
 * text), never as wl_method_key's "?" and never as measured. */
const char *wl_method_key_or_null(enum wl_method m);
/* Label for people: "measured (energy counter)", "measured (sampled power)",
 * "vendor estimate", "estimated (model)", "attributed (share)" (a time share
 * of a forward pass for layers, components and ops, an equal share of a
 * prompt batch or decode round for input tokens and sequences). */
const char *wl_method_label(enum wl_method m);
/* Parses a method key; returns 0 or WL_EINVAL. */
int wl_method_parse(const char *s, enum wl_method *out);
/* True for methods that are measurements (counter, sampled). */
int wl_method_is_measured(enum wl_method m);

#ifdef __cplusplus
}
#endif
#endif

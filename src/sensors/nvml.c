/* NVIDIA GPUs through NVML, loaded at run time with dlopen (no NVIDIA header or
 * library is needed to build). The few NVML types and functions used are
 * declared here from the NVML API reference.
 *
 * Per GPU the energy source is, in order of preference: the total-energy
 * counter (mJ, Volta and newer; method counter), instant power through field
 * values (NVML_FI_DEV_POWER_INSTANT = 186; method sampled), the power usage
 * call (a 1 s average on Ampere and newer; vendor estimate). Utilisation,
 * memory used and temperature are read alongside when the library has them.
 * A missing required symbol or a failing NVML call disables the backend (or
 * the GPU) with the symbol / NVML error string in the message.
 */
#include "sensors/sensor_impl.h"

#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- NVML ABI (subset) ---- */
typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;
typedef union {
    double dVal;
    unsigned int uiVal;
    unsigned long ulVal;
    unsigned long long ullVal;
    signed long long sllVal;
} nvmlValue_t;
typedef struct {
    unsigned int fieldId;
    unsigned int scopeId;
    long long timestamp;
    long long latencyUsec;
    int valueType; /* nvmlValueType_t */
    nvmlReturn_t nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;
#define NVML_SUCCESS 0
#define NVML_FI_DEV_POWER_INSTANT 186
#define NVML_VALUE_TYPE_DOUBLE 0
#define NVML_VALUE_TYPE_UNSIGNED_INT 1
#define NVML_VALUE_TYPE_UNSIGNED_LONG 2
#define NVML_VALUE_TYPE_UNSIGNED_LONG_LONG 3
#define NVML_TEMPERATURE_GPU 0
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_MAX_GPUS WL_SENSOR_MAX_CHANNELS /* more are listed in not_read */

struct nvml_api {
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*shutdown)(void);
    const char *(*error_string)(nvmlReturn_t);
    nvmlReturn_t (*get_count)(unsigned int *);
    nvmlReturn_t (*get_handle)(unsigned int, nvmlDevice_t *);
    nvmlReturn_t (*get_name)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*get_energy)(nvmlDevice_t, unsigned long long *);
    nvmlReturn_t (*get_fields)(nvmlDevice_t, int, nvmlFieldValue_t *);
    nvmlReturn_t (*get_power)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*get_util)(nvmlDevice_t, nvmlUtilization_t *);
    nvmlReturn_t (*get_mem)(nvmlDevice_t, nvmlMemory_t *);
    nvmlReturn_t (*get_temp)(nvmlDevice_t, int, unsigned int *);
};

enum gpu_source { SRC_ENERGY, SRC_INSTANT, SRC_AVERAGE };

struct nvml_gpu {
    nvmlDevice_t dev;
    enum gpu_source src;
    struct wl__counter ctr; /* SRC_ENERGY: mJ since the driver loaded, never wraps */
};

struct nvml {
    void *lib;
    struct nvml_api api;
    bool inited;
    unsigned n;
    struct nvml_gpu g[NVML_MAX_GPUS];
};

static const char *nvml_err(const struct nvml *nv, nvmlReturn_t r)
{
    const char *s = nv->api.error_string ? nv->api.error_string(r) : NULL;
    return s ? s : "unknown NVML error";
}

static void nvml_close(struct wl_sensor *s)
{
    struct nvml *nv = s->impl;
    if (!nv)
        return;
    if (nv->inited && nv->api.shutdown)
        nv->api.shutdown();
    if (nv->lib)
        dlclose(nv->lib);
    free(nv);
    s->impl = NULL;
}

static void *sym(void *lib, const char *a, const char *b)
{
    void *p = dlsym(lib, a);
    if (!p && b)
        p = dlsym(lib, b);
    return p;
}

static bool read_instant(struct nvml *nv, nvmlDevice_t dev, double *w)
{
    if (!nv->api.get_fields)
        return false;
    nvmlFieldValue_t fv;
    memset(&fv, 0, sizeof fv);
    fv.fieldId = NVML_FI_DEV_POWER_INSTANT;
    if (nv->api.get_fields(dev, 1, &fv) != NVML_SUCCESS || fv.nvmlReturn != NVML_SUCCESS)
        return false;
    switch (fv.valueType) {
    case NVML_VALUE_TYPE_DOUBLE:
        *w = fv.value.dVal / 1000.0;
        return true;
    case NVML_VALUE_TYPE_UNSIGNED_INT:
        *w = fv.value.uiVal / 1000.0;
        return true;
    case NVML_VALUE_TYPE_UNSIGNED_LONG:
        *w = (double)fv.value.ulVal / 1000.0;
        return true;
    case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
        *w = (double)fv.value.ullVal / 1000.0;
        return true;
    default:
        return false;
    }
}

static int nvml_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                     struct wl_sensor_status *st)
{
    const char *path = p->nvml_lib;
    if (!path || !*path)
        path = getenv("WATTLENS_NVML_LIB");
    if (!path || !*path)
        path = "libnvidia-ml.so.1";
    static const char *fix_driver =
        "Install the NVIDIA driver (it ships libnvidia-ml.so.1) or point WATTLENS_NVML_LIB at "
        "the library. Machines without an NVIDIA GPU have nothing to read.";
    struct nvml *nv = calloc(1, sizeof *nv);
    if (!nv)
        return WL_ENOMEM;
    s->impl = nv;
    int rc = 0;
    nv->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!nv->lib) {
        const char *e = dlerror();
        rc = wl__sensor_fail(st, WL_ENOTSUP, fix_driver, "cannot load %s: %s", path,
                             e ? e : "unknown dlopen error");
        goto fail;
    }
    struct nvml_api *a = &nv->api;
    a->init = (nvmlReturn_t(*)(void))sym(nv->lib, "nvmlInit_v2", "nvmlInit");
    a->shutdown = (nvmlReturn_t(*)(void))sym(nv->lib, "nvmlShutdown", NULL);
    a->error_string = (const char *(*)(nvmlReturn_t))sym(nv->lib, "nvmlErrorString", NULL);
    a->get_count = (nvmlReturn_t(*)(unsigned int *))sym(nv->lib, "nvmlDeviceGetCount_v2",
                                                        "nvmlDeviceGetCount");
    a->get_handle = (nvmlReturn_t(*)(unsigned int, nvmlDevice_t *))sym(
        nv->lib, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    a->get_name = (nvmlReturn_t(*)(nvmlDevice_t, char *, unsigned int))sym(
        nv->lib, "nvmlDeviceGetName", NULL);
    a->get_energy = (nvmlReturn_t(*)(nvmlDevice_t, unsigned long long *))sym(
        nv->lib, "nvmlDeviceGetTotalEnergyConsumption", NULL);
    a->get_fields = (nvmlReturn_t(*)(nvmlDevice_t, int, nvmlFieldValue_t *))sym(
        nv->lib, "nvmlDeviceGetFieldValues", NULL);
    a->get_power = (nvmlReturn_t(*)(nvmlDevice_t, unsigned int *))sym(
        nv->lib, "nvmlDeviceGetPowerUsage", NULL);
    a->get_util = (nvmlReturn_t(*)(nvmlDevice_t, nvmlUtilization_t *))sym(
        nv->lib, "nvmlDeviceGetUtilizationRates", NULL);
    a->get_mem = (nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_t *))sym(
        nv->lib, "nvmlDeviceGetMemoryInfo", NULL);
    a->get_temp = (nvmlReturn_t(*)(nvmlDevice_t, int, unsigned int *))sym(
        nv->lib, "nvmlDeviceGetTemperature", NULL);
    const char *missing = !a->init         ? "nvmlInit_v2"
                          : !a->shutdown   ? "nvmlShutdown"
                          : !a->get_count  ? "nvmlDeviceGetCount_v2"
                          : !a->get_handle ? "nvmlDeviceGetHandleByIndex_v2"
                                           : NULL;
    if (missing) {
        rc = wl__sensor_fail(st, WL_ENOTSUP,
                             "The NVML library is too old or not NVML: update the NVIDIA driver.",
                             "%s lacks the required symbol %s", path, missing);
        goto fail;
    }
    if (!a->get_energy && !a->get_fields && !a->get_power) {
        rc = wl__sensor_fail(st, WL_ENOTSUP, "Update the NVIDIA driver.",
                             "%s has none of nvmlDeviceGetTotalEnergyConsumption, "
                             "nvmlDeviceGetFieldValues, nvmlDeviceGetPowerUsage",
                             path);
        goto fail;
    }
    nvmlReturn_t r = a->init();
    if (r != NVML_SUCCESS) {
        rc = wl__sensor_fail(st, r == 4 ? WL_EACCES : WL_ENOTSUP, fix_driver,
                             "nvmlInit failed: %s (NVML error %d)", nvml_err(nv, r), r);
        goto fail;
    }
    nv->inited = true;
    unsigned count = 0;
    r = a->get_count(&count);
    if (r != NVML_SUCCESS) {
        rc = wl__sensor_fail(st, WL_ENOTSUP, fix_driver,
                             "nvmlDeviceGetCount failed: %s (NVML error %d)", nvml_err(nv, r), r);
        goto fail;
    }
    if (count == 0) {
        rc = wl__sensor_fail(st, WL_ENOTSUP, NULL, "NVML reports no GPU");
        goto fail;
    }
    for (unsigned i = 0; i < count; i++) {
        if (nv->n >= NVML_MAX_GPUS) {
            wl__sensor_not_read(s, "gpu%u%s: over the limit of %d GPUs per sensor", i,
                                i + 1 < count ? " and the ones after it" : "", NVML_MAX_GPUS);
            s->info.n_not_read += count - i - 1; /* one text, every GPU counted */
            break;
        }
        struct nvml_gpu *g = &nv->g[nv->n];
        r = a->get_handle(i, &g->dev);
        if (r != NVML_SUCCESS) {
            wl__sensor_not_read(s, "gpu%u: %s (NVML error %d)", i, nvml_err(nv, r), r);
            continue;
        }
        double w;
        unsigned int mw;
        unsigned long long mj0 = 0;
        enum wl_method method;
        if (a->get_energy && a->get_energy(g->dev, &mj0) == NVML_SUCCESS) {
            g->src = SRC_ENERGY;
            method = WL_METHOD_COUNTER;
        } else if (read_instant(nv, g->dev, &w)) {
            g->src = SRC_INSTANT;
            method = WL_METHOD_SAMPLED;
        } else if (a->get_power && a->get_power(g->dev, &mw) == NVML_SUCCESS) {
            g->src = SRC_AVERAGE;
            method = WL_METHOD_VENDOR_ESTIMATE;
        } else {
            wl__sensor_not_read(s, "gpu%u: no energy or power reading", i);
            continue;
        }
        char name[WL_SENSOR_NAME_MAX];
        snprintf(name, sizeof name, "gpu%u", i);
        unsigned flags = g->src == SRC_ENERGY ? WL_CH_ENERGY | WL_CH_POWER : WL_CH_POWER;
        if (a->get_util || a->get_mem || a->get_temp)
            flags |= WL_CH_GPU_INFO;
        int ci = wl__sensor_add_channel(s, name, WL_DOMAIN_GPU, method, flags, (int)i);
        /* The name into a buffer of NVML's own size (a 64-byte one makes
         * NVML fail on a long name), of which the library gets all but the
         * last byte: that stays NUL whatever it writes. The label is then cut
         * between characters. */
        char gpu_name[NVML_DEVICE_NAME_V2_BUFFER_SIZE + 1] = "";
        if (a->get_name && a->get_name(g->dev, gpu_name, sizeof gpu_name - 1) == NVML_SUCCESS)
            wl_utf8_copy(s->info.ch[ci].label, sizeof s->info.ch[ci].label, gpu_name);
        s->info.ch[ci].resolution_uj = g->src == SRC_ENERGY ? 1000.0 : 0;
        s->info.ch[ci].power_resolution_w = 0.001;
        if (g->src == SRC_ENERGY)
            wl__counter_init(&g->ctr, "nvml", s->info.ch[ci].name, UINT64_MAX, 1000.0, mj0,
                             wl_clock_now_ns());
        nv->n++;
    }
    if (nv->n == 0) {
        /* the first GPU's reason, as the other backends give it: only the
         * first WL_SENSOR_MAX_NOT_READ texts are kept (n_not_read counts
         * every GPU), so the last one counted may have no text */
        const unsigned more = s->info.n_not_read > 1 ? s->info.n_not_read - 1 : 0;
        char more_text[48] = "";
        if (more)
            snprintf(more_text, sizeof more_text, " (and %u more GPU%s not read)", more,
                     more == 1 ? "" : "s");
        rc = wl__sensor_fail(st, WL_ENOTSUP, NULL, "no GPU gives energy or power%s%s%s",
                             s->info.n_not_read ? "; " : "",
                             s->info.n_not_read ? s->info.not_read[0] : "", more_text);
        goto fail;
    }
    char path_part[120]; /* any bytes (WATTLENS_NVML_LIB): cut between characters */
    wl_utf8_clip(path_part, sizeof path_part, path);
    wl__sensor_set_source(s, "%s (%u GPU(s))", path_part, nv->n);
    return 0;
fail:
    nvml_close(s);
    s->info.n_channels = 0;
    return rc;
}

static int nvml_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    struct nvml *nv = s->impl;
    const struct nvml_api *a = &nv->api;
    r->t_before_ns = wl_clock_now_ns();
    r->n_channels = nv->n;
    for (unsigned i = 0; i < nv->n; i++) {
        struct nvml_gpu *g = &nv->g[i];
        struct wl_channel_value *v = &r->v[i];
        memset(v, 0, sizeof *v);
        unsigned int mw;
        double w;
        /* a GPU that fails (fallen off the bus, an XID) is not read this
         * time (valid 0): the others are, and the sampler records a gap
         * for it alone */
        if (g->src == SRC_ENERGY) {
            unsigned long long mj;
            if (a->get_energy(g->dev, &mj) != NVML_SUCCESS)
                continue;
            /* a fall (the driver reloaded) is a discontinuity, counted in
             * n_discontinuities (disc says what it was): a gap, not a
             * falling total */
            v->disc = wl__counter_update(&g->ctr, mj, wl_clock_now_ns());
            v->energy_uj = wl__counter_total_uj(&g->ctr);
            v->n_discontinuities = g->ctr.n_discontinuities;
            v->valid = WL_CH_ENERGY;
            if (read_instant(nv, g->dev, &w)) {
                v->power_w = w;
                v->valid |= WL_CH_POWER;
            }
        } else if (g->src == SRC_INSTANT) {
            if (!read_instant(nv, g->dev, &w))
                continue;
            v->power_w = w;
            v->valid = WL_CH_POWER;
        } else {
            if (a->get_power(g->dev, &mw) != NVML_SUCCESS)
                continue;
            v->power_w = mw / 1000.0;
            v->valid = WL_CH_POWER;
        }
        nvmlUtilization_t u;
        nvmlMemory_t m;
        unsigned int t;
        if (a->get_util && a->get_util(g->dev, &u) == NVML_SUCCESS) {
            v->util_pct = (float)u.gpu;
            v->valid |= WL_CH_GPU_INFO;
        }
        if (a->get_mem && a->get_mem(g->dev, &m) == NVML_SUCCESS) {
            v->mem_used_b = m.used;
            v->valid |= WL_CH_GPU_INFO;
        }
        if (a->get_temp && a->get_temp(g->dev, NVML_TEMPERATURE_GPU, &t) == NVML_SUCCESS) {
            v->temp_c = (float)t;
            v->valid |= WL_CH_GPU_INFO;
        }
    }
    r->t_after_ns = wl_clock_now_ns();
    return 0;
}

const struct wl_sensor_ops wl__nvml_ops = {
    .name = "nvml",
    .what = "NVIDIA GPUs via NVML (libnvidia-ml, loaded at run time)",
    .bit = WL_BACKEND_NVML,
    .open = nvml_open,
    .read = nvml_read,
    .close = nvml_close,
};

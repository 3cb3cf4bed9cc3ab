/* A fake NVML library (libnvidia-ml) for tests/unit/test_nvml.c, loaded with
 * dlopen through the WATTLENS_NVML_LIB / nvml_lib override. Declares the NVML
 * ABI subset from the NVML API reference, independently of src/sensors/nvml.c.
 *
 * GPU i draws 50*(i+1) W; its total-energy counter starts at i*1000000 mJ.
 * Behaviour is chosen by environment variables read at nvmlInit:
 *   FAKE_NVML_GPUS            number of GPUs (default 2, at most 128)
 *   FAKE_NVML_INIT_ERROR      nvmlInit returns this code
 *   FAKE_NVML_ENERGY_ERROR    nvmlDeviceGetTotalEnergyConsumption returns this code
 *   FAKE_NVML_FIELDS_ERROR    nvmlDeviceGetFieldValues returns this code
 *   FAKE_NVML_FAIL_AFTER_MS   every device call fails (GPU is lost) after this time
 *   FAKE_NVML_LOST_FILE       while this file exists, every device call fails
 *                             (GPU is lost; checked per call, so a test can lose
 *                             a GPU after open and bring it back)
 *   FAKE_NVML_LOST_GPU        the index of the one GPU that the two above lose
 *                             (default: every GPU)
 *   FAKE_NVML_RESET_AFTER_MS  the energy counters restart from 0 after this time
 *                             (the driver reloaded)
 *   FAKE_NVML_ENERGY_PERIOD_MS the energy counters move only every this many ms
 *                             (by that much energy at once), as real boards' do;
 *                             the instant power stays exact
 *   FAKE_NVML_SLOW_FILE       while this file exists, every energy read takes
 *                             20 ms (a slow board or bus; checked per call, so
 *                             a test can slow reads after the sensor's probe)
 *   FAKE_NVML_NAME            every GPU's name, given as a careless library
 *                             might: as many bytes as the buffer holds, with no
 *                             NUL when it does not fit, and success
 * Built without nvmlDeviceGetCount* when FAKE_NVML_NO_COUNT is defined.
 * Test-only; state is per-process globals (a fake of a global C API).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct fake_dev *nvmlDevice_t;
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
    int valueType;
    nvmlReturn_t nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;

struct fake_dev {
    unsigned index;
};

#define FAKE_MAX_GPUS 128
static struct fake_dev devs[FAKE_MAX_GPUS];
static unsigned n_gpus;
static int energy_error, fields_error;
static const char *name_override, *slow_file, *lost_file;
static long fail_after_ms = -1, reset_after_ms = -1, energy_period_ms = 0, lost_gpu = -1;
static double t_init_s;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static double power_w(const struct fake_dev *d)
{
    return 50.0 * (d->index + 1);
}

static int lost(const struct fake_dev *d)
{
    if (lost_gpu >= 0 && d->index != (unsigned)lost_gpu)
        return 0;
    return (fail_after_ms >= 0 && (now_s() - t_init_s) * 1000.0 >= (double)fail_after_ms) ||
           (lost_file && access(lost_file, F_OK) == 0);
}

nvmlReturn_t nvmlInit_v2(void)
{
    int e = env_int("FAKE_NVML_INIT_ERROR", 0);
    if (e)
        return e;
    n_gpus = (unsigned)env_int("FAKE_NVML_GPUS", 2);
    if (n_gpus > FAKE_MAX_GPUS)
        n_gpus = FAKE_MAX_GPUS;
    energy_error = env_int("FAKE_NVML_ENERGY_ERROR", 0);
    fields_error = env_int("FAKE_NVML_FIELDS_ERROR", 0);
    fail_after_ms = env_int("FAKE_NVML_FAIL_AFTER_MS", -1);
    reset_after_ms = env_int("FAKE_NVML_RESET_AFTER_MS", -1);
    energy_period_ms = env_int("FAKE_NVML_ENERGY_PERIOD_MS", 0);
    name_override = getenv("FAKE_NVML_NAME");
    slow_file = getenv("FAKE_NVML_SLOW_FILE");
    lost_file = getenv("FAKE_NVML_LOST_FILE");
    lost_gpu = env_int("FAKE_NVML_LOST_GPU", -1);
    for (unsigned i = 0; i < FAKE_MAX_GPUS; i++)
        devs[i].index = i;
    t_init_s = now_s();
    return 0;
}

nvmlReturn_t nvmlShutdown(void)
{
    return 0;
}

const char *nvmlErrorString(nvmlReturn_t r)
{
    switch (r) {
    case 0:
        return "Success";
    case 3:
        return "Not Supported";
    case 4:
        return "Insufficient Permissions";
    case 9:
        return "Driver Not Loaded";
    case 15:
        return "GPU is lost";
    default:
        return "Unknown Error";
    }
}

#ifndef FAKE_NVML_NO_COUNT
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    *count = n_gpus;
    return 0;
}
#endif

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *dev)
{
    if (i >= n_gpus)
        return 2;
    *dev = &devs[i];
    return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int len)
{
    const char *base = "Fake GPU ";
    if (name_override) {
        size_t n = strlen(name_override);
        memcpy(name, name_override, n < len ? n + 1 : len);
        return 0;
    }
    if (len < 12)
        return 2;
    strcpy(name, base);
    name[9] = (char)('0' + d->index);
    name[10] = '\0';
    return 0;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj)
{
    if (energy_error)
        return energy_error;
    if (lost(d))
        return 15;
    if (slow_file && access(slow_file, F_OK) == 0) {
        const struct timespec slow = {0, 20000000};
        nanosleep(&slow, NULL);
    }
    double since_s = now_s() - t_init_s;
    if (reset_after_ms >= 0 && since_s * 1000.0 >= (double)reset_after_ms) {
        *mj = (unsigned long long)(power_w(d) * (since_s - reset_after_ms / 1000.0) * 1000.0);
        return 0;
    }
    if (energy_period_ms > 0) {
        const long long steps = (long long)(since_s * 1000.0 / (double)energy_period_ms);
        since_s = (double)steps * (double)energy_period_ms / 1000.0;
    }
    *mj = (unsigned long long)d->index * 1000000ull +
          (unsigned long long)(power_w(d) * since_s * 1000.0);
    return 0;
}

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t d, int n, nvmlFieldValue_t *v)
{
    if (fields_error)
        return fields_error;
    if (lost(d))
        return 15;
    for (int i = 0; i < n; i++) {
        if (v[i].fieldId == 186) {
            v[i].valueType = 1;
            v[i].value.uiVal = (unsigned int)(power_w(d) * 1000.0);
            v[i].nvmlReturn = 0;
        } else {
            v[i].nvmlReturn = 3;
        }
    }
    return 0;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw)
{
    if (lost(d))
        return 15;
    *mw = (unsigned int)(power_w(d) * 1000.0);
    return 0;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
    u->gpu = 37;
    u->memory = 12;
    return 0;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
    m->total = 16ull << 30;
    m->used = 1ull << 30;
    m->free = m->total - m->used;
    return 0;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *t)
{
    *t = 55;
    return 0;
}

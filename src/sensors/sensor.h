/* Power and energy sensors: the API that the sampler, the CLI and the recorder use.
 *
 * A sensor set (wl_sensor_set) tries every backend (RAPL powercap, RAPL perf,
 * RAPL MSR, NVML, powermetrics, hwmon, CPU-time model) and keeps the ones that
 * work plus, for every other one, why it is not available and how to fix it.
 * Each open sensor has channels (one measured quantity each: a domain, a method,
 * a resolution) and is read as a whole into a wl_sensor_reading.
 *
 * Lifetimes: the set owns its sensors; pointers from wl_sensor_set_get() and the
 * info/status structs stay valid until wl_sensor_set_close().
 * Thread-safety: wl_sensor_read() may be called from any thread (each sensor has
 * its own lock, so the sampler thread and a caller reading counters at a window
 * boundary are serialised per sensor). Opening and closing are single-threaded.
 */
#ifndef WL_SENSORS_SENSOR_H
#define WL_SENSORS_SENSOR_H

#include "wattlens/energy.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Channels per sensor. 64: a 16-socket powercap tree (package, core, uncore,
 * dram each) or 64 GPUs. Cheap: a wl_sensor_info is ~14 KB and a reading
 * ~3 KB; the sampler keeps 8 sensors x 64 channels of ~180 bytes (~90 KB;
 * sizeof, gcc 12 x86-64). A backend
 * that finds more keeps the most important ones (packages before their
 * sub-zones) and lists the rest in wl_sensor_info.not_read. */
#define WL_SENSOR_MAX_CHANNELS 64
#define WL_SENSOR_NAME_MAX 64
/* Texts kept in wl_sensor_info.not_read (all are counted in n_not_read). */
#define WL_SENSOR_MAX_NOT_READ 8
#define WL_SENSOR_NOTE_MAX 192

/* Channel capability bits (wl_sensor_channel.flags) and per-read validity bits
 * (wl_channel_value.valid). */
enum wl_channel_flag {
    WL_CH_ENERGY = 1u << 0, /* reads give a cumulative energy (energy_uj) */
    WL_CH_POWER = 1u << 1,  /* reads give a power (power_w) */
    WL_CH_CONTAINS =
        1u << 2,          /* includes other channels (psys, Apple combined): never sum with them */
    WL_CH_PART = 1u << 3, /* is a part of another channel of its sensor (core/uncore inside
                             package; powermetrics' cpu/gpu/ane inside combined) */
    WL_CH_GPU_INFO = 1u << 4, /* reads fill util_pct, temp_c, mem_used_b */
};

/* One measured quantity of a sensor. Static after open. */
struct wl_sensor_channel {
    char name[WL_SENSOR_NAME_MAX];  /* "package-0", "core", "gpu0", "cpu", ... */
    char label[WL_SENSOR_NAME_MAX]; /* free text for people (GPU model name, hwmon label) or "" */
    enum wl_domain domain;
    enum wl_method method;     /* how the energy of this channel is obtained */
    unsigned flags;            /* WL_CH_* */
    int index;                 /* package / GPU number, -1 when not applicable */
    double resolution_uj;      /* smallest energy step, 0 when unknown */
    double power_resolution_w; /* smallest power step, 0 when unknown */
    /* How often the hardware updates this channel's counter, by its
     * documentation (RAPL's package, core and dram: about 1 ms); 0 when
     * not known (hwmon, a psys or uncore that may rest). Unlike
     * wl_sensor_info.update_period_ns it is not measured: a counter with
     * one that did not change once over max(100 ms, 10 x it) is not
     * measuring, and the sampler says so (WL_DISC_STUCK). */
    uint64_t nominal_period_ns;
    /* How often this channel's value changed at open, measured by the
     * period probe (wl__sensor_measure_period: each channel its own, since
     * one sensor's channels may update at different rates); 0 when it was
     * not measured (a counter slower than the probe, or one at rest: the
     * sampler learns it). A backend that gives every channel from one
     * sample stream (powermetrics, cpu-model) gives each its period. */
    uint64_t update_period_ns;
};

/* What a cumulative counter did that no wrap explains: a discontinuity
 * (sensors.md, "Counters and wraparound"). */
enum wl_counter_disc {
    WL_DISC_NONE = 0,
    WL_DISC_FELL,        /* went back where no wrap is possible: a counter that
                            never wraps (hwmon, NVML), or one back from above its
                            range (where it wraps is then unknown) */
    WL_DISC_BAD_WRAP,    /* went back by more than a wrap can explain: as a wrap
                            its step would mean more than 10 kW */
    WL_DISC_ABOVE_RANGE, /* read above its advertised range (from in range) */
    WL_DISC_BAD_RISE,    /* rose by more than 10 kW could add since its previous
                            value can have been made: a glitch or a reset */
    WL_DISC_LOST_SAMPLE, /* a sample of the source could not be read (powermetrics:
                            a document that did not parse): its interval's energy
                            is not in the total */
    WL_DISC_AMBIGUOUS,   /* changed after a read gap longer than the counter takes
                            to wrap at 1 kW (WL__COUNTER_WRAP_W): how many times
                            it wrapped is unknown (a stopped or starved reader) */
    WL_DISC_STUCK,       /* the sampler's judgement, never a backend's: a counter
                            with a nominal update period did not change once over
                            max(100 ms, 10 periods) of reads (frozen, virtualised
                            or dead): not measuring, its 0 J is no figure */
};

struct wl_channel_value {
    uint64_t energy_uj; /* cumulative since the sensor was opened; the backend unwraps counters */
    /* Counter discontinuities since open (a counter that went backwards by
     * more than a wrap can explain, or read above its range: a reset, not a
     * wrap; sensors.md). energy_uj leaves out the energy across each one,
     * which is unknown; the read that saw it succeeds, and the sampler
     * records a gap (counter_fell) where this count grows: a window across
     * it does not count the energy in that step. */
    uint32_t n_discontinuities;
    /* What this read's discontinuity was (n_discontinuities grew by one with
     * it); WL_DISC_NONE when this read saw none. Only the read that sees a
     * discontinuity says what it was: the sampler, the only reader of its
     * sensors, sees every one. */
    enum wl_counter_disc disc;
    /* With disc WL_DISC_LOST_SAMPLE: when the lost energy began
     * (CLOCK_MONOTONIC), where the backend knows it and it may be before
     * the previous read (powermetrics: a lost sample's own interval, from
     * the arrival of the sample before it); the sampler starts the gap
     * there. 0: from the previous read. */
    uint64_t lost_from_ns;
    double power_w;     /* instantaneous or short-average power */
    float util_pct;     /* GPU utilisation (WL_CH_GPU_INFO) */
    float temp_c;       /* GPU temperature (WL_CH_GPU_INFO) */
    uint64_t mem_used_b;
    unsigned valid; /* WL_CH_ENERGY / WL_CH_POWER / WL_CH_GPU_INFO present in this read; a
                       channel's own kind missing: not read this time (wl_sensor_read) */
};

/* One read of all channels of a sensor, bracketed by monotonic times. */
struct wl_sensor_reading {
    uint64_t t_before_ns; /* CLOCK_MONOTONIC just before the first channel was read */
    uint64_t t_after_ns;  /* ... and just after the last */
    unsigned n_channels;
    struct wl_channel_value v[WL_SENSOR_MAX_CHANNELS];
};

/* Read-only description of an open sensor. */
struct wl_sensor_info {
    const char *backend;       /* "rapl-powercap", "nvml", "cpu-model", ... */
    char source[256];          /* where it reads from: a path, a library, a model description */
    /* measured at open: the period the channels share (within a factor
     * of 2: the longest; counters only where there are any); 0 when it
     * could not be measured or two channels differ by more (each has its
     * own: ch[].update_period_ns) */
    uint64_t update_period_ns;
    bool period_measured;      /* false: update_period_ns is the requested/nominal period */
    unsigned n_channels;
    struct wl_sensor_channel ch[WL_SENSOR_MAX_CHANNELS];
    /* What the backend found but does not read, each with why: a zone,
     * device or GPU over WL_SENSOR_MAX_CHANNELS, or one whose files cannot
     * be read. The sensor's energies leave these out, so when n_not_read > 0
     * the measurement is PARTIAL (source ends saying so). The first
     * WL_SENSOR_MAX_NOT_READ texts are kept; n_not_read counts them all. */
    unsigned n_not_read;
    char not_read[WL_SENSOR_MAX_NOT_READ][WL_SENSOR_NOTE_MAX];
    /* What the backend found, and could read, but adds to no domain, each
     * with why: a device whose scope is unknown (an SFP module's laser
     * power, a pump, a VRM: not the system, not a known part of it), or a
     * channel of a device another channel of which is read as its whole
     * (xe's "pkg" inside "card", a PSU's rails). These leave no total
     * short, so unlike not_read they do not make the sensor PARTIAL; the
     * source says how many. The first WL_SENSOR_MAX_NOT_READ texts are
     * kept; n_not_summed counts them all. */
    unsigned n_not_summed;
    char not_summed[WL_SENSOR_MAX_NOT_READ][WL_SENSOR_NOTE_MAX];
};

/* Outcome of trying one backend. */
struct wl_sensor_status {
    const char *backend; /* static name */
    const char *what;    /* static one-line description of the backend */
    int code;            /* 0 = open and used; WL_E* otherwise */
    bool available;      /* true when open (used) */
    bool skipped;        /* not tried because another backend reads the same hardware */
    char why[384];       /* when not used: why (empty when used) */
    /* when not used: how to make it work ("" when nothing can be done); when
     * used: how to read what it lists as not read (rapl-powercap's root-only
     * zones), else "" */
    char fix[1024];
};

/* Which process the CPU-time model follows. */
enum wl_model_scope {
    WL_MODEL_SCOPE_SYSTEM = 0, /* all CPUs (busy time from /proc/stat) */
    WL_MODEL_SCOPE_TREE,       /* a process and all its descendants (/proc walk) */
    WL_MODEL_SCOPE_SELF,       /* this process (all its threads), no descendants:
                                * CLOCK_PROCESS_CPUTIME_ID, one vDSO/syscall read
                                * instead of a /proc walk (the in-process engine) */
};

/* The documented linear CPU power model (docs/internals/sensors.md):
 *   P = idle_w + busy_core_w * busy_cores
 * where busy_cores is CPU time per wall time of the followed processes. */
struct wl_cpu_model_params {
    double idle_w;      /* default WL_MODEL_DEFAULT_IDLE_W */
    double busy_core_w; /* default WL_MODEL_DEFAULT_BUSY_CORE_W */
    enum wl_model_scope scope;
    pid_t pid; /* root of the tree for WL_MODEL_SCOPE_TREE; 0 = this process */
};

#define WL_MODEL_DEFAULT_IDLE_W 10.0
#define WL_MODEL_DEFAULT_BUSY_CORE_W 7.5
/* The largest idle_w or busy_core_w taken from the environment
 * (WATTLENS_MODEL_*_W) or the CLI (measure --model-idle-w/--model-core-w),
 * which read them with one grammar (util/parse_num.h's wl_parse_decimal). */
#define WL_MODEL_MAX_W 10000.0

/* Backend selection bits for wl_sensor_params.backends. */
enum wl_backend_bit {
    WL_BACKEND_RAPL_POWERCAP = 1u << 0,
    WL_BACKEND_RAPL_PERF = 1u << 1,
    WL_BACKEND_RAPL_MSR = 1u << 2,
    WL_BACKEND_NVML = 1u << 3,
    WL_BACKEND_POWERMETRICS = 1u << 4,
    WL_BACKEND_HWMON = 1u << 5,
    WL_BACKEND_CPU_MODEL = 1u << 6,
    WL_BACKEND_ALL = 0x7f,
};

enum wl_model_use {
    WL_MODEL_AUTO = 0, /* open the model only when no CPU energy source works */
    WL_MODEL_ALWAYS,   /* open it even next to hardware sensors */
    WL_MODEL_NEVER,
};

struct wl_sensor_params {
    const char *sysfs_root; /* NULL: $WATTLENS_SYSFS_ROOT, else "/sys" */
    /* MSR device files. NULL: $WATTLENS_DEV_ROOT, else with a sysfs root
     * given the dev/ beside it (<dir>/dev for <dir>/sys), else "/dev" */
    const char *dev_root;
    const char *proc_root;  /* NULL: $WATTLENS_PROC_ROOT, else "/proc" (see below) */
    const char *nvml_lib;   /* NULL: $WATTLENS_NVML_LIB, else "libnvidia-ml.so.1" */
    const char
        *powermetrics; /* NULL: $WATTLENS_POWERMETRICS, else /usr/bin/powermetrics on macOS */
    uint32_t powermetrics_interval_ms; /* default 100 */
    unsigned backends;                 /* WL_BACKEND_* bits to try; default WL_BACKEND_ALL */
    enum wl_model_use model_use;
    struct wl_cpu_model_params model;
    uint64_t
        period_probe_ns; /* time budget per sensor to measure its update period (default 25 ms) */
};

typedef struct wl_sensor wl_sensor;
typedef struct wl_sensor_set wl_sensor_set;

/* Fills p with the defaults above (including the model defaults and the
 * WATTLENS_MODEL_IDLE_W / WATTLENS_MODEL_BUSY_CORE_W environment overrides). */
void wl_sensor_params_default(struct wl_sensor_params *p);

/* Tries every selected backend. Succeeds (returns 0) even when no sensor could
 * be opened: then wl_sensor_set_count() is 0 and every status says why.
 * Returns WL_ENOMEM / WL_EINVAL only. */
int wl_sensor_set_open(const struct wl_sensor_params *p, wl_sensor_set **out);

/* The cpuinfo file that describes the CPU the sensors of p read, for its
 * name (the run's host CPU), by the rule the RAPL readers identify the CPU
 * by: a /proc root given (p->proc_root or WATTLENS_PROC_ROOT), or no sysfs
 * root either, <proc>/cpuinfo; a sysfs root alone (another machine's tree,
 * or a test's) the proc/cpuinfo next to it when it exists, never the
 * host's. Into path (size bytes). Returns 0; WL_ENOENT when no cpuinfo
 * describes that CPU (the name is unknown), WL_ERANGE when the path does
 * not fit (path "" then). Reads only the environment and, for a sysfs root,
 * whether the file exists. */
int wl_sensor_cpuinfo_path(const struct wl_sensor_params *p, char *path, size_t size);
void wl_sensor_set_close(wl_sensor_set *set); /* accepts NULL */

unsigned wl_sensor_set_count(const wl_sensor_set *set);
wl_sensor *wl_sensor_set_get(const wl_sensor_set *set, unsigned i);
/* One status per backend tried, in the order tried. */
unsigned wl_sensor_set_status_count(const wl_sensor_set *set);
const struct wl_sensor_status *wl_sensor_set_status(const wl_sensor_set *set, unsigned i);
/* True when the open sensors only estimate: there is a channel, and every
 * channel is a model estimate. False for a set without any channel (no
 * sensor opened: nothing is measured or estimated) and for NULL. */
bool wl_sensor_set_model_only(const wl_sensor_set *set);
/* Bit (1u << method) for every method among the open sensors' channels. */
unsigned wl_sensor_set_method_mask(const wl_sensor_set *set);
/* How many zones/devices/GPUs the open sensors found but do not read (the
 * sum of their n_not_read): more than 0 means every total is partial. */
unsigned wl_sensor_set_n_not_read(const wl_sensor_set *set);
/* The open sensors with their sources, "backend (source)" joined by "; ",
 * into buf (caller buffer + size, NUL-terminated; cut at size): the run's
 * `sensors` provenance, the same for run and measure. Returns the length
 * written. WL_SENSOR_SET_DESCRIBE_SIZE holds every source whole in the
 * common case. */
#define WL_SENSOR_SET_DESCRIBE_SIZE 512
size_t wl_sensor_set_describe(const wl_sensor_set *set, char *buf, size_t size);

/* One phrase for a set of methods (bit 1u << wl_method each), for the top of a
 * report: "measured" (only counter/sampled), "estimated (model)",
 * "vendor estimate", "mixed (see each domain's method)" or "none". Static. */
const char *wl_provenance_summary(unsigned method_mask);

const struct wl_sensor_info *wl_sensor_get_info(const wl_sensor *s);
/* Reads every channel. Thread-safe (per-sensor lock). Returns 0 or a WL_E*
 * code (WL_ESENSOR, WL_EIO, ...); on error r holds no valid values. A read
 * where some channels fail (one GPU of several, one hwmon device, one
 * powercap zone or MSR package) succeeds: each failed channel is not read
 * this time, its valid without WL_CH_ENERGY (a channel with the
 * WL_CH_ENERGY flag) or WL_CH_POWER (a power-only channel) and its values
 * 0, and the others are good; the sampler records a gap for
 * the failed channels' domains alone. WL_ESENSOR when no channel could be
 * read. */
int wl_sensor_read(wl_sensor *s, struct wl_sensor_reading *r);
/* wl_sensor_read, after letting the backend bring up to date what it keeps
 * about its source. The CPU-time model with scope SELF: the process CPU
 * clock folds a thread running on another CPU in only at that CPU's
 * scheduler tick (4 ms at HZ=250), so every read first reads the clock of
 * each of the process's threads, which makes the kernel account their
 * pending time. The list of threads is taken at open and again by each
 * settled read (/proc/self/task, ~10-20 us, listed without holding the
 * sensor's lock), so that a thread started since is counted up to the read
 * too rather than up to its CPU's last tick. For periodic readers (the
 * sampler thread) and the marks that bound a run. Other backends: the same
 * as wl_sensor_read. */
int wl_sensor_read_settled(wl_sensor *s, struct wl_sensor_reading *r);

/* Opens exactly one backend (tests, tools). On failure fills st (may be NULL). */
int wl_sensor_open_backend(unsigned backend_bit, const struct wl_sensor_params *p, wl_sensor **out,
                           struct wl_sensor_status *st);
void wl_sensor_close(wl_sensor *s); /* accepts NULL; only for wl_sensor_open_backend sensors */

#endif

/* Internals shared by the sensor backends: the ops table every backend fills,
 * the sensor object, and small helpers (sysfs file reading, path building,
 * update-period measurement, resolved overrides).
 *
 * Each backend file (rapl_powercap.c, rapl_perf.c, rapl_msr.c, nvml.c,
 * powermetrics.c, hwmon.c, cpu_model.c) defines one `const struct
 * wl_sensor_ops`. open() fills s->info.ch and s->impl or returns an error with
 * why/fix in the status; read() fills one reading (called under s->lock);
 * close() frees s->impl. Only sensor.c and the backends include this header.
 */
#ifndef WL_SENSORS_SENSOR_IMPL_H
#define WL_SENSORS_SENSOR_IMPL_H

#include "sensors/sensor.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct wl_sensor_ops {
    const char *name; /* stable key: "rapl-powercap" */
    const char *what; /* one line for people */
    unsigned bit;     /* WL_BACKEND_* */
    int (*open)(struct wl_sensor *s, const struct wl_sensor_params *p, struct wl_sensor_status *st);
    /* Reads every channel it can: a channel that fails is not read this
     * time (valid 0) and the read still returns 0; the shared code
     * (wl_sensor_read and the open-time probes alike) fails a read where
     * no channel was read with WL_ESENSOR. An error code only for a
     * source that is gone as a whole (powermetrics' pipe closed). */
    int (*read)(struct wl_sensor *s, struct wl_sensor_reading *r);
    void (*close)(struct wl_sensor *s);
    /* Optional: measures the update period itself (e.g. from a source other
     * than the readings). NULL: the generic poll-until-change measurement. */
    void (*measure_period)(struct wl_sensor *s, const struct wl_sensor_params *p);
    /* Optional: refreshes what the backend keeps about its source (the CPU
     * model's thread list) before a read (wl_sensor_read_settled). NULL:
     * nothing to refresh. Called WITHOUT the sensor's lock, so that slow
     * work (a directory listing) does not hold up plain reads; it takes
     * s->lock itself to publish its result. */
    void (*settle)(struct wl_sensor *s);
};

/* A note made while the backend opens, logged once it has opened. */
struct wl__sensor_note {
    bool not_read; /* else not summed */
    char text[WL_SENSOR_NOTE_MAX];
};

struct wl_sensor {
    const struct wl_sensor_ops *ops;
    void *impl;
    struct wl_sensor_info info;
    /* info.source without its " - PARTIAL ..." / " - N not summed" suffix
     * ("" until wl__sensor_set_source): a note added after it (a psys the
     * probe drops) renders the suffix again here, in one place */
    char source_base[sizeof((struct wl_sensor_info *)0)->source];
    /* true while ops->open runs: its notes (wl__sensor_not_read,
     * wl__sensor_not_summed) are held in pending (heap, in the order made)
     * and logged only once it has opened: a backend that fails measures
     * nothing, so a warning that its measurement is partial would be
     * false (its why says what it found) */
    bool opening;
    /* the fix the backend left in the status is kept once it has opened
     * (wl__sensor_keep_fix): how to read what it lists as not read */
    bool keep_fix;
    struct wl__sensor_note *pending;
    unsigned n_pending, cap_pending;
    pthread_mutex_t lock; /* serialises read() */
};

extern const struct wl_sensor_ops wl__rapl_powercap_ops;
extern const struct wl_sensor_ops wl__rapl_perf_ops;
extern const struct wl_sensor_ops wl__rapl_msr_ops;
extern const struct wl_sensor_ops wl__nvml_ops;
extern const struct wl_sensor_ops wl__powermetrics_ops;
extern const struct wl_sensor_ops wl__hwmon_ops;
extern const struct wl_sensor_ops wl__cpu_model_ops;

/* Resolved roots and paths: explicit param, else environment, else default. */
const char *wl__sensor_sysfs_root(const struct wl_sensor_params *p);
const char *wl__sensor_proc_root(const struct wl_sensor_params *p);
/* The /dev root (MSR device files) into buf (size bytes): p->dev_root,
 * else $WATTLENS_DEV_ROOT; else, with a sysfs root given (another
 * machine's tree, or a test's), the dev/ beside it (<dir>/dev for
 * <dir>/sys), as the /proc root (wl_root_beside): never the host's /dev,
 * whose registers are this machine's, read against that tree's topology.
 * When it has no cpu/N/msr, MSR reads fail as on a host without the msr
 * driver. Else "/dev". *beside (may be NULL) gets whether it is the one
 * beside the sysfs root. 0, or WL_ERANGE when it does not fit (buf ""). */
int wl__sensor_dev_root(const struct wl_sensor_params *p, char *buf, size_t size, bool *beside);

/* Fills st->why / st->fix (printf formats; fix may be NULL) and returns code.
 * A why longer than its field is cut between characters and ends "...". */
int wl__sensor_fail(struct wl_sensor_status *st, int code, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats s->info.source (printf format); text longer than the field is cut
 * between characters and ends "...". Callers cut a path argument of any
 * length themselves (wl_utf8_clip), so what follows it stays. The suffix
 * that says how many were not read or not summed is kept up to date by
 * wl__sensor_not_read / wl__sensor_not_summed, called before or after. */
void wl__sensor_set_source(struct wl_sensor *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Opens a sysfs/procfs attribute (or, with allow_device, a device file such
 * as /dev/cpu/N/msr) for reading: O_RDONLY | O_NONBLOCK | O_CLOEXEC, so that
 * a FIFO planted in the tree can block neither the open nor a read, then
 * fstat: it must be a regular file (sysfs and procfs attributes are), or a
 * character device when allowed. Returns the fd, or a negative WL_E* code
 * with *err (may be NULL) set for wl__attr_strerror: the errno, or
 * WL__ERR_NOT_REGULAR - the file type bits for a file of the wrong type
 * (code WL_EFORMAT; a directory is EISDIR, code WL_EIO). */
int wl__attr_open(const char *path, bool allow_device, int *err);
#define WL__ERR_NOT_REGULAR (-1)
/* For people: strerror(err) for an errno, "a FIFO, not a regular file" and
 * the like for a file of the wrong type, "not a decimal number" for 0 (the
 * file was read but did not parse). Static text. */
const char *wl__attr_strerror(int err);

/* Reads a small text file (sysfs attribute, wl__attr_open) into buf
 * (NUL-terminated, trailing newline removed). Returns bytes read or a
 * negative WL_E* code; err as wl__attr_open (may be NULL). */
int wl__read_text(const char *path, char *buf, size_t size);
int wl__read_text_err(const char *path, char *buf, size_t size, int *err);
/* wl__read_text for a name or label kept as text (any bytes): one that does
 * not fit buf is cut between characters (wl_utf8_copy), never inside one.
 * Returns the bytes kept or a negative WL_E* code. */
int wl__read_name(const char *path, char *buf, size_t size);
int wl__read_name_err(const char *path, char *buf, size_t size, int *err);
/* Reads a file holding one unsigned decimal integer (wl__sysfs_parse_u64,
 * sensor_parse.h). 0 or WL_E*; err as wl__attr_open, 0 when the text did
 * not parse. */
int wl__read_u64(const char *path, uint64_t *out);
int wl__read_u64_err(const char *path, uint64_t *out, int *err);
/* pread() of a decimal integer (wl__sysfs_parse_u64) from an open fd at
 * offset 0; a file of 64 bytes or more is WL_EFORMAT. 0 or WL_E*; *err
 * (may be NULL) the errno, or 0 when the text did not parse. */
int wl__pread_u64(int fd, uint64_t *out);
int wl__pread_u64_err(int fd, uint64_t *out, int *err);

/* What <proc>/cpuinfo says of the first CPU (the RAPL readers: which
 * registers, which units). */
enum wl__cpu_vendor { WL__CPU_OTHER = -1, WL__CPU_INTEL = 0, WL__CPU_AMD = 1 /* Hygon too */ };
struct wl__cpu_ident {
    enum wl__cpu_vendor vendor;
    int family, model; /* decimal "cpu family" and "model" lines; -1 when absent */
};
/* Reads proc_root/cpuinfo (wl__attr_open: a FIFO cannot hang it) up to the
 * end of the first CPU's block. Returns 0, or a negative WL_E* code when the
 * file cannot be read (out: vendor WL__CPU_OTHER, family and model -1). */
int wl__cpu_ident_read(const char *proc_root, struct wl__cpu_ident *out);
/* The same from sysfs_root/devices/system/cpu/modalias, which x86 kernels
 * write as "cpu:type:x86,venVVVVfamFFFFmodMMMM:feature:..." (hex; vendor 0
 * Intel, 2 AMD, 9 Hygon): for a backend that reads everything else from
 * sysfs, so that a sysfs tree (WATTLENS_SYSFS_ROOT) is never judged by
 * another machine's /proc. 0 or a negative WL_E* code (out as above). */
int wl__cpu_ident_modalias(const char *sysfs_root, struct wl__cpu_ident *out);
/* The CPU that the RAPL readers' model-specific rules (which registers,
 * which units) go by, from where p says the machine is:
 *  - a /proc root given (p->proc_root or WATTLENS_PROC_ROOT), or no sysfs
 *    root given either: <proc>/cpuinfo (the host's /proc by default);
 *  - a sysfs root given without a /proc root (a tree of another machine,
 *    or a test's): never the host's cpuinfo, which describes this machine.
 *    The tree's own devices/system/cpu/modalias, else a proc/cpuinfo next
 *    to it (<dir>/proc for a root <dir>/sys), else the CPU is unknown
 *    (vendor WL__CPU_OTHER, family and model -1): the caller says so.
 * from (size bytes) gets where it came from for people: the file read, or
 * why nothing was. Returns 0 when a file was read (its vendor may still be
 * another one), or a negative WL_E* code when the CPU is unknown. */
int wl__sensor_cpu_ident(const struct wl_sensor_params *p, struct wl__cpu_ident *out, char *from,
                         size_t size);

/* The version of the kernel the machine runs, from <proc>/sys/kernel/osrelease
 * ("6.18.0-1-amd64": 6, 18), the /proc root chosen as wl__sensor_cpu_ident
 * chooses it (a sysfs root given without a /proc root: the proc/ next to
 * it, never the host's). 0, or a negative WL_E* code when it is not known
 * (*major, *minor untouched). For advice that depends on it (hwmon's fix:
 * amd_energy was in Linux 5.8 to 5.12 only). */
int wl__sensor_kernel_version(const struct wl_sensor_params *p, int *major, int *minor);

/* How the kernel reads the energy unit of each RAPL domain of an Intel
 * model (drivers/powercap/intel_rapl_common.c: rapl_ids and the
 * rapl_defaults_* it points to, applied in rapl_get_domain_unit;
 * arch/x86/events/rapl.c's unit quirks agree, except where noted): one
 * table for rapl-msr, which reads the registers, and rapl-perf, whose
 * counts the kernel scales to 2^-32 J and so hide the registers' step
 * (docs/internals/sensors.md, "rapl-msr: energy units per model"). */
enum wl__rapl_units {
    WL__RAPL_UNITS_UNKNOWN = 0,   /* not in the table: dram and psys not read */
    WL__RAPL_UNITS_CORE,          /* every domain in 0x606's unit, 2^-ESU J */
    WL__RAPL_UNITS_HSW_SERVER,    /* dram in 15.3 uJ (rapl_defaults_hsw_server) */
    WL__RAPL_UNITS_SPR_SERVER,    /* psys in 1 J (rapl_defaults_spr_server) */
    WL__RAPL_UNITS_ATOM,          /* every domain in 2^ESU uJ (rapl_check_unit_atom) */
    WL__RAPL_UNITS_DRAM_DISPUTED, /* Broadwell-DE: powercap takes dram in 0x606's unit,
                                     perf in 15.3 uJ: dram not read */
};
/* The rule of id's model; WL__RAPL_UNITS_UNKNOWN for a model not in the
 * table, or a CPU that is not Intel's. */
enum wl__rapl_units wl__rapl_intel_units(const struct wl__cpu_ident *id);
/* Whether id is a model whose RAPL the kernel reads through TPMI (Granite
 * Rapids, Sierra Forest, Grand Ridge, Clearwater Forest, Diamond Rapids):
 * mainline's intel_rapl_tpmi registers its zones as intel-rapl:N, and each
 * TPMI domain has a unit register of its own, not 0x606. */
bool wl__rapl_tpmi_model(const struct wl__cpu_ident *id);
/* The energy of one count of domain d's register in uJ, from the unit
 * register's ESU (bits 12:8) and the model's rule; 0 when it is not known
 * (*why then says why: the domain is not read rather than guessed). */
double wl__rapl_unit_uj(enum wl__rapl_units u, enum wl_domain d, unsigned esu, const char **why);
/* The unit in uJ the rule gives domain d whatever the ESU says (psys 1 J on
 * Sapphire/Emerald Rapids, dram 15.3 uJ on Haswell-X .. Ice Lake-X), or 0
 * when d counts in a unit made from the ESU (or is not known). */
double wl__rapl_fixed_unit_uj(enum wl__rapl_units u, enum wl_domain d);

/* The CPU number of a <sysfs>/devices/system/cpu entry ("cpu12" -> 12), or
 * -1 for any other entry (cpufreq, cpuidle, modalias, ...). */
int wl__sysfs_cpu_number(const char *name);
/* The energy status unit (ESU, bits 12:8 of the RAPL unit register: 0x606,
 * AMD 0xC0010299) of CPU cpu, from <dev_root>/cpu/<cpu>/msr when it can be
 * read (root with the msr driver; wl__attr_open: a character device, never
 * a FIFO); -1 otherwise, or when the vendor's registers are not known. */
int wl__rapl_read_esu(const char *dev_root, int cpu, enum wl__cpu_vendor vendor);
/* Domain d's energy unit in uJ, the step a RAPL channel's resolution
 * states: by rule from esu when it is known (>= 0), else only what the rule
 * fixes whatever the ESU (wl__rapl_fixed_unit_uj); 0 when unknown. */
double wl__rapl_resolution_uj(enum wl__rapl_units rule, enum wl_domain d, int esu);
/* The nominal update period of a RAPL counter of domain d
 * (wl_sensor_channel.nominal_period_ns): 1 ms for package, core and dram,
 * which update about every millisecond while powered; 0 for uncore (an idle
 * integrated GPU's counter may rest) and psys (checked at open, and a 1 J
 * unit can rest for seconds). */
uint64_t wl__rapl_nominal_period_ns(enum wl_domain d);

/* One set of RAPL registers: a package, or on Intel a die of one (the
 * package MSRs of multi-die parts such as Cascade Lake-AP are per die: the
 * kernel makes package-N-die-M zones, and perf's power PMU lists one CPU
 * per die in its cpumask). rapl-msr and rapl-perf name them alike. */
struct wl__rapl_unit {
    int cpu, pkg, die; /* the CPU it is read through; physical_package_id, die_id */
};
/* Reads <sysfs_root>/devices/system/cpu/cpuN/topology/physical_package_id
 * (0..65535) of CPU cpu into u (u->cpu = cpu), and with by_die its die_id
 * (a missing one, before Linux 5.3, or one above 65535 is die 0; without
 * by_die, 0). Returns 0, or a negative WL_E* code when the package id
 * cannot be read: an offline CPU has no topology/. */
int wl__rapl_unit_read(const char *sysfs_root, int cpu, bool by_die, struct wl__rapl_unit *u);
/* One CPU per RAPL unit, for the first max units, from every cpuN of
 * <sysfs>/devices/system/cpu in number order: per physical package, and
 * with by_die per (package, topology/die_id) (a die_id file that is
 * missing, before Linux 5.3, is die 0). A CPU without topology/ is offline
 * (the kernel removes its topology attributes) and is skipped: its unit is
 * read through another CPU of it. With no CPU's topology at all, one
 * package on CPU 0 is assumed. Returns the count into units; *n_more the
 * units found beyond max. rapl_units.c. */
unsigned wl__rapl_package_units(const char *sysfs, bool by_die, struct wl__rapl_unit *units,
                                unsigned max, unsigned *n_more);
/* The ESU of unit u's unit register (wl__rapl_read_esu): through u->cpu,
 * else, when that CPU's MSR device cannot be read (no cpu/N/msr node for
 * it, a read that fails), through each other online CPU of the same
 * package (and with by_die the same die) in number order until one reads;
 * not when no other can (u->cpu's open failed with EACCES or EPERM, or
 * <dev_root>/cpu is missing: no msr driver). -1 when none can be read, or
 * the vendor's registers are not known. */
int wl__rapl_unit_esu(const char *sysfs_root, const char *dev_root, const struct wl__rapl_unit *u,
                      bool by_die, enum wl__cpu_vendor vendor);
/* Whether units u[0..n) are named by die: when one is a die other than 0
 * (the kernel's zones of a multi-die part are package-N-die-M). *n_packages
 * (may be NULL) gets how many packages they are in. */
bool wl__rapl_units_by_die(const struct wl__rapl_unit *u, unsigned n, unsigned *n_packages);
/* The name of unit u, the k-th of its sensor (from 0, in CPU order):
 * package-N-die-M from its topology when by_die, else package-K. Writes
 * buf (size bytes; 32 hold any name) and returns snprintf's length. */
int wl__rapl_unit_name(char *buf, size_t size, const struct wl__rapl_unit *u, unsigned k,
                       bool by_die);
/* The name of the psys read through unit u (the first unit of its
 * package), named as the kernel's zones are and after the package as
 * wl__rapl_unit_name names it: "psys" for package 0, "psys-N" for package
 * N (its position K, or with by_die its physical_package_id). *index
 * gets N, or -1 for plain psys (as rapl-powercap's psys and psys-N). */
int wl__rapl_psys_name(char *buf, size_t size, const struct wl__rapl_unit *u, unsigned k,
                       bool by_die, int *index);

/* Records something the backend found but will not read (a zone, device or
 * GPU over the channel limit, or one that cannot be read) in s->info.not_read
 * (printf format, cut between characters) and logs it as a warning: the
 * sensor's measurement is then partial: the source says PARTIAL. A note
 * made while the backend opens is logged only once it has opened (never
 * for a backend that fails). */
void wl__sensor_not_read(struct wl_sensor *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records a channel the backend could read but adds to no domain (out of
 * every domain's scope, or inside a channel that is read) in
 * s->info.not_summed (printf format, cut between characters) and logs it
 * (info): the measurement is not partial for it; the source says how
 * many. */
void wl__sensor_not_summed(struct wl_sensor *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keeps the fix the backend wrote into its status (st->fix) once it has
 * opened: how to read what it found and lists as not read (a root-only
 * zone), which `wattlens sensors` prints under the sensor IN USE. Without
 * it, an open sensor's status has no fix. */
void wl__sensor_keep_fix(struct wl_sensor *s);

/* Removes channel ci from s->info.ch (open time only: nobody has read the
 * sensor yet), the channels after it moving down one; the backend moves
 * its own per-channel state likewise. */
void wl__sensor_drop_channel(struct wl_sensor *s, unsigned ci);

/* The generic update-period probe (what open uses when ops->measure_period
 * is NULL; a backend's own measure_period may call it and then check what
 * it read): reads s (s->ops->read, without the lock: open time only) for
 * at most p->period_probe_ns until every channel has changed
 * WL__PERIOD_PROBE_CHANGES times, sets each channel's update_period_ns
 * from the changes it saw (wl__period_estimate_ns; 0 when not measured),
 * and s->info.update_period_ns and period_measured from theirs (the
 * period they share, within a factor of 2; 0 when two differ by more;
 * left as they were when none was measured). A read where no channel was
 * read ends it. Returns how many times channel 0 changed (0 when not
 * probed). */
#define WL__PERIOD_PROBE_CHANGES 12
int wl__sensor_measure_period(struct wl_sensor *s, const struct wl_sensor_params *p);

/* One change of channel 0 seen by the probe: it happened after since_ns
 * (the start of the last read that still had the old value) and by t_ns
 * (the end of the read that saw the new one); CLOCK_MONOTONIC. */
struct wl__period_change {
    uint64_t t_ns, since_ns;
};
/* The update period from n changes in the order seen (at most
 * WL__PERIOD_PROBE_CHANGES are used): the median of the intervals between
 * consecutive changes, counting an interval of d only when each of its two
 * changes was seen within d/4 of the read before it (t_ns - since_ns <=
 * d/4). A late read makes the interval before it long (and may merge
 * several updates into one change) and the one after it short; both have
 * that read's long gap at one end and are left out, so one late read
 * anywhere moves nothing; for a steady period P an interval that is
 * counted lies within 0.8 P..1.33 P and its end is a single update. When
 * none is (a counter about as fast as the reads or faster: each read sees
 * a change, so every interval is the reads' own; or reads far apart), the
 * median of all the intervals, three at least, so that one late read is
 * not it: for a counter that changed at every read, the reads' spacing,
 * an upper bound on its period (the sampler's windows of ten of it are
 * then long enough). Else 0 (not measured: the sampler learns it). Pure;
 * for the probe and its tests. */
uint64_t wl__period_estimate_ns(const struct wl__period_change *c, int n);

/* The update-period probe of a RAPL reader with psys channels (rapl-msr,
 * rapl-perf: their measure_period calls it): wl__sensor_measure_period,
 * then a check that each psys moves with what it contains, reading on
 * 1 ms apart for up to one more probe budget until it can tell. psys is
 * the platform's counter, read through a package (the kernel reads it on
 * every package: only its platform's master package counts, the others
 * read 0); it holds at least that package. contains[i] is, for psys
 * channel i, the channels of that package (a bit each: the package, or
 * each of its dies); 0: not checked. A psys is not valid when it
 *  - is still flat once that budget is over and its package rose by two
 *    of tick_max_uj, the coarsest unit psys may count in (1 J on Sapphire
 *    Rapids; 0: psys's resolution_uj), so that a coarse psys is not judged
 *    before it can have ticked. A flat psys is watched for up to four
 *    budgets after the period probe (about 100 ms) for that rise; one in
 *    1 J units on a package under about 20 W is not seen to rise 2 J by
 *    then and is kept;
 *  - rose by less than a quarter of what its package rose, once that rose
 *    10 mJ and eight of psys's ticks (its smallest step seen, at least its
 *    resolution_uj): a psys lags by less than one tick, so a valid one is
 *    above 7/8 of its package there.
 * Each such psys is listed as not summed ("psys-1 (<what>): ...", what
 * naming the register or event) and its bit set in the mask returned: the
 * caller drops those channels (the packages are still read: no total is
 * short for them). 0 when every psys is kept: it moves with its package,
 * or there is no probe (budget 0), a failed read, or too little seen to
 * tell. A read that has no energy for a psys or its package tells nothing
 * of it. */
uint64_t wl__sensor_probe_psys(struct wl_sensor *s, const struct wl_sensor_params *p,
                               const char *what, double tick_max_uj, const uint64_t *contains);
/* wl__sensor_probe_psys, then drop_channel(s, i) for each channel it
 * failed, the highest index first (so the lower ones keep theirs): the
 * RAPL readers' whole measure_period. */
void wl__sensor_probe_psys_and_drop(struct wl_sensor *s, const struct wl_sensor_params *p,
                                    const char *what, double tick_max_uj, const uint64_t *contains,
                                    void (*drop_channel)(struct wl_sensor *s, unsigned ci));
/* What each psys channel holds for certain, for the probe: a bit for each
 * PACKAGE channel on its package (pkg_of[i]: channel i's package id);
 * contains[i] is 0 for every other channel. Over s->info.n_channels. */
void wl__rapl_psys_contains(const struct wl_sensor *s, const int *pkg_of, uint64_t *contains);

/* strcmp, except that runs of digits compare as numbers ("hwmon2" before
 * "hwmon10"), for listings in a stable, human order. */
int wl__name_cmp_natural(const char *a, const char *b);

/* Adds a channel to s->info (a name longer than the field is cut between
 * characters); returns its index or WL_EFULL. */
int wl__sensor_add_channel(struct wl_sensor *s, const char *name, enum wl_domain d,
                           enum wl_method m, unsigned flags, int index);

/* Counter unwrap: the step from last_raw to raw of a counter that shows
 * 0..top_raw and wraps to 0 after top_raw, a decrease taken as one wrap.
 * top_raw is the largest value the counter shows (inclusive; not a modulus):
 * 0xffffffff for a 32-bit MSR, max_energy_range_uj for powercap (the kernel
 * gives the register's largest value, 0xffffffff units, in uJ), UINT64_MAX
 * for a counter that never wraps. A wrap step is (top_raw - last_raw) + 1 +
 * raw, exact and without overflow for any top_raw >= last_raw > raw (at most
 * 2^64 - 1: the fall is at least 1). powercap's energy_uj moves in RAPL
 * units (~61 uJ) that its uJ values do not show, so a wrap there counts up
 * to one unit less than the hardware: within the counter's resolution. */
static inline uint64_t wl__counter_step(uint64_t last_raw, uint64_t raw, uint64_t top_raw)
{
    if (raw >= last_raw)
        return raw - last_raw;
    return (top_raw - last_raw) + 1 + raw;
}

/* The most power one counter may show across a decrease taken as a wrap,
 * and the time added to the elapsed time for it (sensors.md, "Counters and
 * wraparound"): 10 kW, twenty times the largest CPU package or GPU (~500 W),
 * over the time since the previous read plus 10 ms (RAPL updates every
 * ~1 ms, so two reads 100 us apart can see 1 ms of energy). A step above
 * this is a reset, not a wrap. */
#define WL__COUNTER_MAX_W 10000.0
#define WL__COUNTER_SLACK_NS 10000000ull

/* The most power one wrapping counter is taken to show between two reads
 * when counting its wraps: 1 kW, twice the largest CPU package (~500 W).
 * A counter read again after longer than its range takes at this power
 * (wl__counter_wrap_ns: 262 s for a 262 kJ RAPL range, 65 s for Zen's
 * 65.5 kJ) may have wrapped any number of times: a change then is
 * WL_DISC_AMBIGUOUS, not a guess of 0 or 1 wraps. Not 10 kW: that would
 * make a gap of every sample of a 10 s sampler on Zen, where a wrap takes
 * over a minute at any real draw. A range this power crosses in less than
 * WL__COUNTER_WRAP_MIN_NS (under 1 kJ; no RAPL counter's) is not checked:
 * no read rate unwraps it unambiguously, and every decrease stays one
 * wrap (sensors.md). */
#define WL__COUNTER_WRAP_W 1000.0
#define WL__COUNTER_WRAP_MIN_NS 1000000000ull

/* One cumulative hardware counter unwrapped into a 64-bit total (RAPL
 * powercap and MSR, hwmon energy*_input, the NVML total-energy counter).
 * Not thread-safe: the sensor's lock serialises reads. */
struct wl__counter {
    const char *backend, *channel; /* for the warning (channel: s->info.ch[i].name) */
    uint64_t top_raw;              /* largest value shown (wl__counter_step); UINT64_MAX:
                                      never wraps */
    double unit_uj;                /* energy of one raw count */
    uint64_t last_raw, last_t_ns;
    uint64_t total_raw; /* unwrapped since open, the steps across discontinuities left out */
    uint32_t n_discontinuities;
    uint64_t made_after_ns; /* last_raw was made after this read's time (the read before
                               the one that first showed it), when made_known */
    bool made_known;        /* false until the value has changed once after open */
    bool range_warned;      /* the "range is wrong" warning was logged */
};

/* Starts c at raw (read at t_ns). raw must be <= top_raw (the caller
 * checks at open: a counter above its range cannot be unwrapped). */
void wl__counter_init(struct wl__counter *c, const char *backend, const char *channel,
                      uint64_t top_raw, double unit_uj, uint64_t raw, uint64_t t_ns);
/* Adds the step to raw (read at t_ns) and returns WL_DISC_NONE, or, for a
 * discontinuity (a reset, not a wrap), adds nothing, restarts the counter
 * from raw, counts it in n_discontinuities, logs a warning (the first few
 * per counter) and returns what it was (the backend hands that on in
 * wl_channel_value.disc; the sampler records a gap whose energy is unknown,
 * not invented). The read itself still succeeds: its values are good from
 * here on. Discontinuities:
 *  - WL_DISC_ABOVE_RANGE: a read above top_raw after one in range. The
 *    range is then taken as wrong, not the counter: its rises while it
 *    stays above the range are counted (one warning says the range is
 *    wrong), and where it wraps is unknown, so a decrease from above the
 *    range is WL_DISC_FELL; back in range, the next read above it is
 *    WL_DISC_ABOVE_RANGE again (old: a second jump up was counted);
 *  - WL_DISC_BAD_RISE: a rise that would mean more than WL__COUNTER_MAX_W
 *    over the longest time its two values can be apart (from the read
 *    before the previous value was first seen; plus the slack); not
 *    checked for the first change after open, whose start is unknown;
 *  - WL_DISC_FELL: a decrease of a counter that never wraps (top_raw
 *    UINT64_MAX), or from above its range;
 *  - WL_DISC_BAD_WRAP: a decrease whose wrap step would mean more than
 *    WL__COUNTER_MAX_W over the elapsed time (plus WL__COUNTER_SLACK_NS);
 *  - WL_DISC_AMBIGUOUS: any change (rise or fall) of a wrapping counter,
 *    in range before and after, more than wl__counter_wrap_ns after the
 *    previous read (a range of at least WL__COUNTER_WRAP_MIN_NS): it may
 *    have wrapped any number of times. An unchanged counter is taken as
 *    unchanged. */
enum wl_counter_disc wl__counter_update(struct wl__counter *c, uint64_t raw, uint64_t t_ns);
/* The unwrapped total in microjoules. */
uint64_t wl__counter_total_uj(const struct wl__counter *c);
/* How long c's whole range takes at WL__COUNTER_WRAP_W, in ns; UINT64_MAX
 * for a counter that never wraps. */
uint64_t wl__counter_wrap_ns(const struct wl__counter *c);

#endif

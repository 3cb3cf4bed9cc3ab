/* RAPL energy counters through the perf_event `power` PMU (Linux).
 *
 * Used when powercap cannot be read. One system-wide counting event per
 * (package CPU from cpumask, energy event); counts are 64-bit and scaled to
 * joules with the event's .scale file, so they do not wrap in practice. Needs
 * kernel.perf_event_paranoid <= 0 or CAP_PERFMON (system-wide events). The fds
 * stay open for the sensor's lifetime. Events are read in a fixed order
 * (energy-pkg first: package-0 is channel 0). The kernel hides an event
 * whose register reads 0 at boot, except psys on Sapphire Rapids and later
 * servers (its probe skips the check there), and a count starts at 0 when
 * the event is opened, so a dead psys is told by the period probe instead:
 * one flat or far below its package is dropped (wl__sensor_probe_psys).
 * psys is counted on each package's first CPU (only its platform's master
 * package counts), named psys, psys-N as the kernel's zones.
 * Channels are named from the topology of each CPU in the PMU's cpumask
 * (one per package, or per die: package-N-die-M, as rapl-msr names them).
 * A channel's resolution is its register's energy unit, never the event's
 * .scale (the kernel scales every count to 2^-32 J, far finer than any
 * register steps): from the unit register (0x606, AMD 0xC0010299) when the
 * CPU's MSR device can be read (else, the topology known, another online
 * CPU's of its package and die: wl__rapl_unit_esu), by the RAPL model
 * table rapl-msr reads by
 * (wl__rapl_unit_uj); else the unit the table fixes whatever the register
 * says (psys 1 J on Sapphire/Emerald Rapids, DRAM 15.3 uJ on Haswell-X ..
 * Ice Lake-X: wl__rapl_fixed_unit_uj); else unknown (0).
 */
#include "sensors/rapl_perf.h"
#include "sensors/sensor_impl.h"

#include "util/clock.h"
#include "util/log.h"
#include "wattlens/error.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/perf_event.h>
#include <sys/syscall.h>
#endif

/* Decimal digits at *p (plain, at least one) into *v, at most max;
 * advances *p. */
static int cpu_number(const char **p, long max, long *v)
{
    const char *s = *p;
    long x = 0;
    if (*s < '0' || *s > '9')
        return WL_EFORMAT;
    for (; *s >= '0' && *s <= '9'; s++) {
        x = x * 10 + (*s - '0');
        if (x > max)
            return WL_EFORMAT;
    }
    *p = s;
    *v = x;
    return 0;
}

int wl__perf_parse_cpulist(const char *s, int *cpus, unsigned max)
{
    unsigned n = 0;
    const char *p = s;
    for (;;) {
        long a, b;
        if (cpu_number(&p, 65535, &a) != 0)
            return WL_EFORMAT;
        b = a;
        if (*p == '-') {
            p++;
            if (cpu_number(&p, 65535, &b) != 0 || b < a)
                return WL_EFORMAT;
        }
        for (long c = a; c <= b; c++) {
            if (n >= max)
                return WL_EFORMAT;
            cpus[n++] = (int)c;
        }
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\n')
            p++;
        return *p == '\0' ? (int)n : WL_EFORMAT;
    }
}

int wl__perf_parse_event(const char *s, uint64_t *config)
{
    static const char prefix[] = "event=";
    if (strncmp(s, prefix, sizeof prefix - 1) != 0)
        return WL_EFORMAT;
    const char *p = s + sizeof prefix - 1;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        p += 2;
    uint64_t v = 0;
    int nd = 0;
    for (; *p; p++, nd++) {
        int d = *p >= '0' && *p <= '9'   ? *p - '0'
                : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                         : -1;
        if (d < 0 || v >> 60 != 0)
            return WL_EFORMAT; /* not hex, or more than 64 bits */
        v = v << 4 | (uint64_t)d;
    }
    if (nd == 0)
        return WL_EFORMAT;
    *config = v;
    return 0;
}

int wl__perf_parse_scale(const char *s, double *scale_j)
{
    char *end = NULL;
    double v = strtod(s, &end);
    /* (0, 1]: NaN and infinities fail; a larger scale would overflow the
     * conversion of counts to microjoules */
    if (end == s || *end != '\0' || !(v > 0 && v <= 1))
        return WL_EFORMAT;
    *scale_j = v;
    return 0;
}

int wl__perf_parse_unit(const char *s)
{
    return strcmp(s, "Joules") == 0 ? 0 : WL_EFORMAT;
}

/* The events read, in the order their channels are added (a package's
 * own energy first). */
static const struct {
    const char *n;
    enum wl_domain d;
} event_map[] = {
    {"energy-pkg", WL_DOMAIN_PACKAGE}, {"energy-cores", WL_DOMAIN_CORE},
    {"energy-gpu", WL_DOMAIN_UNCORE},  {"energy-ram", WL_DOMAIN_DRAM},
    {"energy-psys", WL_DOMAIN_PSYS},
};
#define N_EVENT_MAP (sizeof event_map / sizeof event_map[0])

/* name's place in event_map, or -1 for an event not read. */
static int event_index(const char *name)
{
    for (size_t i = 0; i < N_EVENT_MAP; i++)
        if (strcmp(name, event_map[i].n) == 0)
            return (int)i;
    return -1;
}

int wl__perf_pmu_scan(const char *pmu_dir, struct wl_perf_pmu *out, struct wl_errmsg *err)
{
    char path[1200], buf[256];
    uint64_t type;
    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "%s/type", pmu_dir);
    int rc = wl__read_u64(path, &type);
    if (rc == WL_ENOENT)
        return wl_errmsg_set(err, WL_ENOENT, "%s does not exist: no RAPL perf PMU", path);
    if (rc != 0 || type > UINT32_MAX)
        return wl_errmsg_set(err, WL_EFORMAT, "%s: not a PMU type number", path);
    out->type = (uint32_t)type;
    snprintf(path, sizeof path, "%s/cpumask", pmu_dir);
    if (wl__read_text(path, buf, sizeof buf) <= 0)
        return wl_errmsg_set(err, WL_EFORMAT, "%s: missing or empty", path);
    int nc = wl__perf_parse_cpulist(buf, out->cpus, WL_PERF_MAX_CPUS);
    if (nc < 0)
        return wl_errmsg_set(err, WL_EFORMAT, "%s: bad CPU list '%s'", path, buf);
    out->n_cpus = (unsigned)nc;

    snprintf(path, sizeof path, "%s/events", pmu_dir);
    DIR *d = opendir(path);
    if (!d)
        return wl_errmsg_set(err, WL_EFORMAT, "%s: missing", path);
    struct dirent *e;
    char *names[32];
    unsigned n_names = 0;
    while ((e = readdir(d)) != NULL && n_names < 32) {
        if (strncmp(e->d_name, "energy-", 7) != 0 || strchr(e->d_name, '.'))
            continue;
        names[n_names] = strdup(e->d_name);
        if (names[n_names])
            n_names++;
    }
    closedir(d);
    /* in event_map's order, not readdir's (unknown events last) */
    for (unsigned i = 1; i < n_names; i++) {
        char *x = names[i];
        const unsigned kx = (unsigned)event_index(x); /* -1: the largest */
        unsigned j = i;
        for (; j > 0 && (unsigned)event_index(names[j - 1]) > kx; j--)
            names[j] = names[j - 1];
        names[j] = x;
    }
    rc = 0;
    for (unsigned i = 0; i < n_names && rc == 0; i++) {
        const int k = event_index(names[i]);
        if (k < 0 || out->n_events >= WL_PERF_MAX_EVENTS)
            continue;
        struct wl_perf_event_desc *ev = &out->ev[out->n_events];
        snprintf(ev->name, sizeof ev->name, "%s", names[i]);
        ev->domain = event_map[k].d;
        snprintf(path, sizeof path, "%s/events/%s", pmu_dir, names[i]);
        if (wl__read_text(path, buf, sizeof buf) <= 0 ||
            wl__perf_parse_event(buf, &ev->config) != 0) {
            rc = wl_errmsg_set(err, WL_EFORMAT, "%s: expected 'event=0xNN', got '%s'", path, buf);
            break;
        }
        snprintf(path, sizeof path, "%s/events/%s.scale", pmu_dir, names[i]);
        if (wl__read_text(path, buf, sizeof buf) <= 0 ||
            wl__perf_parse_scale(buf, &ev->scale_j) != 0) {
            rc = wl_errmsg_set(err, WL_EFORMAT,
                               "%s: expected a number of joules per count in (0, 1], got '%s'",
                               path, buf);
            break;
        }
        snprintf(path, sizeof path, "%s/events/%s.unit", pmu_dir, names[i]);
        if (wl__read_text(path, buf, sizeof buf) <= 0 || wl__perf_parse_unit(buf) != 0) {
            rc = wl_errmsg_set(err, WL_EFORMAT, "%s: expected 'Joules', got '%s'", path, buf);
            break;
        }
        out->n_events++;
    }
    for (unsigned i = 0; i < n_names; i++)
        free(names[i]);
    if (rc == 0 && out->n_events == 0)
        rc = wl_errmsg_set(err, WL_ENOENT, "%s/events: no energy-* event", pmu_dir);
    return rc;
}

#ifdef __linux__

struct perf_ch {
    int fd;
    double scale_j;
    uint64_t count0;
    unsigned unit; /* the CPU of the cpumask (its unit) it counts on */
};

struct rapl_perf {
    unsigned n;
    struct perf_ch c[WL_SENSOR_MAX_CHANNELS];
    uint64_t psys_contains[WL_SENSOR_MAX_CHANNELS]; /* for the probe (wl__rapl_psys_contains) */
};

/* The RAPL unit of each CPU in the PMU's cpumask, the first of its package
 * or, on a multi-die Intel part, of its die (the kernel's scope for the
 * PMU), from its topology under sysfs, so that units are named as
 * rapl-msr names them (wl__rapl_unit_name): the position in the cpumask
 * called die 1 of package 0 package-1. Dies are read on Intel only (as
 * rapl-msr: AMD's counter is per package whatever die ids the kernel
 * gives). Returns whether names go by die, *n_pkg the packages, *known
 * whether u holds the real topology. A listed CPU without a topology, or
 * two of one package and die (nothing tells them apart), leave every unit
 * named by its position, package-K (*known false: those package numbers
 * are not real). */
static bool perf_units(const char *sysfs, const struct wl_perf_pmu *pmu, bool intel,
                       struct wl__rapl_unit *u, unsigned *n_pkg, bool *known)
{
    *known = true;
    for (unsigned c = 0; c < pmu->n_cpus && *known; c++) {
        *known = wl__rapl_unit_read(sysfs, pmu->cpus[c], intel, &u[c]) == 0;
        for (unsigned j = 0; j < c && *known; j++)
            *known = u[j].pkg != u[c].pkg || u[j].die != u[c].die;
    }
    if (*known)
        return wl__rapl_units_by_die(u, pmu->n_cpus, n_pkg);
    for (unsigned c = 0; c < pmu->n_cpus; c++)
        u[c] = (struct wl__rapl_unit){.cpu = pmu->cpus[c], .pkg = (int)c, .die = 0};
    *n_pkg = pmu->n_cpus;
    return false;
}

static void perf_close(struct wl_sensor *s)
{
    struct rapl_perf *rp = s->impl;
    if (!rp)
        return;
    for (unsigned i = 0; i < rp->n; i++)
        close(rp->c[i].fd);
    free(rp);
    s->impl = NULL;
}

static int read_count(int fd, uint64_t *out)
{
    ssize_t n = read(fd, out, sizeof *out);
    return n == (ssize_t)sizeof *out ? 0 : WL_ESENSOR;
}

static int perf_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                     struct wl_sensor_status *st)
{
    char dir[1024];
    struct wl_errmsg em;
    struct wl_perf_pmu pmu;
    snprintf(dir, sizeof dir, "%s/bus/event_source/devices/power", wl__sensor_sysfs_root(p));
    int rc = wl__perf_pmu_scan(dir, &pmu, &em);
    if (rc != 0)
        return wl__sensor_fail(
            st, rc == WL_ENOENT ? WL_ENOTSUP : rc,
            "Needs an Intel CPU or AMD Zen and a kernel with the RAPL perf "
            "PMU (CONFIG_PERF_EVENTS_INTEL_RAPL, \"Intel/AMD rapl performance "
            "events\"; AMD Zen from Linux 5.8); virtual machines usually have none.",
            "%s", em.text);
    /* the model's rule gives the registers' steps, which .scale hides
     * (below); the CPU not known: no rule, resolutions unknown */
    struct wl__cpu_ident id;
    char id_from[320];
    /* a faked sysfs without its own CPU: unknown, never the host's cpuinfo */
    if (wl__sensor_cpu_ident(p, &id, id_from, sizeof id_from) != 0)
        wl_log_warn("rapl", "rapl-perf: the CPU is not known (%s): dies and units not told",
                    id_from);
    const enum wl__rapl_units unit_rule =
        id.vendor == WL__CPU_AMD ? WL__RAPL_UNITS_CORE : wl__rapl_intel_units(&id);
    struct rapl_perf *rp = calloc(1, sizeof *rp);
    if (!rp)
        return WL_ENOMEM;
    s->impl = rp;
    struct wl__rapl_unit units[WL_PERF_MAX_CPUS];
    unsigned n_pkg = 0; /* packages the CPUs in its cpumask are in, for the source */
    bool topology_known;
    const bool intel = id.vendor == WL__CPU_INTEL;
    const bool by_die = /* names say package-N-die-M */
        perf_units(wl__sensor_sysfs_root(p), &pmu, intel, units, &n_pkg, &topology_known);
    /* the unit registers' device files: the /dev root, beside a given
     * sysfs root when none is given (never the host's for another tree) */
    char dev[512];
    const bool have_dev = wl__sensor_dev_root(p, dev, sizeof dev, NULL) == 0;
    for (unsigned c = 0; c < pmu.n_cpus; c++) {
        /* psys is the platform's counter, counted on each package's first
         * unit (as the kernel's powercap reads it: only its platform's
         * master package counts; another's stays flat and the probe drops
         * it). Counted on CPU 0 alone, it was lost where the master is
         * another package. */
        bool first_of_pkg = true;
        for (unsigned j = 0; j < c; j++)
            first_of_pkg = first_of_pkg && units[j].pkg != units[c].pkg;
        /* the unit register through the cpumask's CPU, else (its device
         * missing or failing) another online CPU of its package and die,
         * as rapl-powercap finds it; by position (package numbers not
         * real) through the cpumask's CPU alone */
        int esu = -1;
        if (have_dev && topology_known)
            esu = wl__rapl_unit_esu(wl__sensor_sysfs_root(p), dev, &units[c], intel, id.vendor);
        else if (have_dev)
            esu = wl__rapl_read_esu(dev, pmu.cpus[c], id.vendor);
        for (unsigned e = 0; e < pmu.n_events; e++) {
            const struct wl_perf_event_desc *ev = &pmu.ev[e];
            if (ev->domain == WL_DOMAIN_PSYS && !first_of_pkg)
                continue; /* another die of a package whose psys is read */
            if (rp->n >= WL_SENSOR_MAX_CHANNELS) {
                wl__sensor_not_read(s, "%s on CPU %d: over the limit of %d channels per sensor",
                                    ev->name, pmu.cpus[c], WL_SENSOR_MAX_CHANNELS);
                continue;
            }
            struct perf_event_attr attr;
            memset(&attr, 0, sizeof attr);
            attr.type = pmu.type;
            attr.size = sizeof attr;
            attr.config = ev->config;
            long fd = syscall(SYS_perf_event_open, &attr, -1, pmu.cpus[c], -1, 0);
            if (fd < 0) {
                int err = errno;
                perf_close(s);
                s->info.n_channels = 0;
                if (err == EACCES || err == EPERM)
                    return wl__sensor_fail(
                        st, WL_EACCES,
                        "System-wide perf events need privileges: run as root, or sudo sysctl "
                        "kernel.perf_event_paranoid=0, or sudo setcap cap_perfmon+ep $(command -v "
                        "wattlens) (Linux >= 5.8).",
                        "perf_event_open(%s on CPU %d): %s", ev->name, pmu.cpus[c], strerror(err));
                return wl__sensor_fail(st, WL_ENOTSUP,
                                       "The PMU is described but cannot count here (virtual "
                                       "machine or unsupported CPU).",
                                       "perf_event_open(%s on CPU %d): %s", ev->name, pmu.cpus[c],
                                       strerror(err));
            }
            char unit_name[32], name[WL_SENSOR_NAME_MAX];
            int index = (int)c;
            wl__rapl_unit_name(unit_name, sizeof unit_name, &units[c], c, by_die);
            if (ev->domain == WL_DOMAIN_PSYS) /* psys, psys-N: as the kernel's zones */
                wl__rapl_psys_name(name, sizeof name, &units[c], c, by_die, &index);
            else if (ev->domain == WL_DOMAIN_PACKAGE)
                snprintf(name, sizeof name, "%s", unit_name);
            else
                snprintf(name, sizeof name, "%s/%s", unit_name, wl_domain_name(ev->domain));
            unsigned flags = WL_CH_ENERGY;
            if (ev->domain == WL_DOMAIN_CORE || ev->domain == WL_DOMAIN_UNCORE)
                flags |= WL_CH_PART;
            if (ev->domain == WL_DOMAIN_PSYS)
                flags |= WL_CH_CONTAINS;
            int ci = wl__sensor_add_channel(s, name, ev->domain, WL_METHOD_COUNTER, flags, index);
            /* .scale is the unit of a count (the kernel shifts every
             * register's count to 2^-32 J), not the counter's step, which
             * is the register's unit (psys steps by 1 J on Sapphire/Emerald
             * Rapids): `sensors` shows it and the psys probe takes it as
             * its smallest tick. Not known: 0, never .scale. */
            s->info.ch[ci].resolution_uj = wl__rapl_resolution_uj(unit_rule, ev->domain, esu);
            s->info.ch[ci].nominal_period_ns = wl__rapl_nominal_period_ns(ev->domain);
            struct perf_ch *pc = &rp->c[rp->n++];
            pc->fd = (int)fd;
            pc->scale_j = ev->scale_j;
            pc->unit = c;
            if (read_count(pc->fd, &pc->count0) != 0) {
                perf_close(s);
                s->info.n_channels = 0;
                return wl__sensor_fail(st, WL_ESENSOR, NULL, "reading %s failed", ev->name);
            }
        }
    }
    /* what each psys holds for certain: the package (each die of it) it
     * is counted on */
    int pkg_of[WL_SENSOR_MAX_CHANNELS];
    for (unsigned i = 0; i < rp->n; i++)
        pkg_of[i] = units[rp->c[i].unit].pkg;
    wl__rapl_psys_contains(s, pkg_of, rp->psys_contains);
    if (by_die) /* a die per CPU in the cpumask */
        wl__sensor_set_source(s, "perf_event power PMU (type %u, %u package(s), %u dies)", pmu.type,
                              n_pkg, pmu.n_cpus);
    else
        wl__sensor_set_source(s, "perf_event power PMU (type %u, %u package(s))", pmu.type, n_pkg);
    return 0;
}

static int perf_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    struct rapl_perf *rp = s->impl;
    r->t_before_ns = wl_clock_now_ns();
    r->n_channels = rp->n;
    for (unsigned i = 0; i < rp->n; i++) {
        uint64_t c;
        /* an event that fails is not read this time (valid 0, its values
         * 0): the others are */
        memset(&r->v[i], 0, sizeof r->v[i]);
        if (read_count(rp->c[i].fd, &c) != 0)
            continue;
        r->v[i].energy_uj = (uint64_t)((double)(c - rp->c[i].count0) * rp->c[i].scale_j * 1e6);
        r->v[i].valid = WL_CH_ENERGY;
    }
    r->t_after_ns = wl_clock_now_ns();
    return 0;
}

/* Removes channel ci, closing its event (open time only: nobody has read
 * the sensor yet). */
static void perf_drop_channel(struct wl_sensor *s, unsigned ci)
{
    struct rapl_perf *rp = s->impl;
    close(rp->c[ci].fd);
    wl__sensor_drop_channel(s, ci);
    for (unsigned i = ci; i + 1 < rp->n; i++)
        rp->c[i] = rp->c[i + 1];
    rp->n--;
}

/* The update-period probe, which also checks psys (wl__sensor_probe_psys).
 * Its tick is hidden: the kernel scales every count to 2^-32 J, and psys's
 * resolution is its true step only where the model says (1 J on Sapphire
 * Rapids); elsewhere its 2^-ESU J is not shown. So a flat one is judged
 * only after the packages rose 2 J, two of the coarsest unit psys counts
 * in. */
static void perf_measure_period(struct wl_sensor *s, const struct wl_sensor_params *p)
{
    struct rapl_perf *rp = s->impl;
    wl__sensor_probe_psys_and_drop(s, p, "energy-psys", 1e6, rp->psys_contains, perf_drop_channel);
}

#else /* !__linux__ */

static int perf_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                     struct wl_sensor_status *st)
{
    return wl__sensor_fail(st, WL_ENOTSUP, NULL, "perf_event is Linux-only");
}
static int perf_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    return WL_ENOTSUP;
}
static void perf_close(struct wl_sensor *s) {}
static void perf_measure_period(struct wl_sensor *s, const struct wl_sensor_params *p)
{
    wl__sensor_measure_period(s, p);
}

#endif

const struct wl_sensor_ops wl__rapl_perf_ops = {
    .name = "rapl-perf",
    .what = "RAPL energy counters via the perf_event power PMU",
    .bit = WL_BACKEND_RAPL_PERF,
    .open = perf_open,
    .read = perf_read,
    .close = perf_close,
    .measure_period = perf_measure_period,
};

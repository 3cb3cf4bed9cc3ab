/* RAPL energy counters through the Linux powercap sysfs interface
 * (<sysfs>/class/powercap/intel-rapl:N[:M]/{name,energy_uj,max_energy_range_uj}).
 *
 * Zones are matched by their `name` file (package-N, core, uncore, dram,
 * psys, psys-N: a second socket's platform domain), never by their number;
 * a zone of another name is listed in not_read, never dropped silently.
 * intel-rapl-mmio:* zones (processor_thermal's MMIO view of the package
 * counter) duplicate an intel-rapl package and are then skipped; one whose
 * channel no intel-rapl or TPMI zone gives (intel_rapl_msr not loaded) is
 * read, being the same counter.
 * Zones of the TPMI driver's own control type (intel-rapl-tpmi:N[:M]: Xeon
 * 6 and later, on kernels that do not register them as intel-rapl) are
 * read where no intel-rapl zone is the same channel; a duplicate is listed
 * as not summed. psys contains the packages and is flagged WL_CH_CONTAINS;
 * core and uncore are parts of their package (WL_CH_PART). On AMD (vendor
 * from <sysfs>/devices/system/cpu/modalias) the core zone is one core's
 * energy: not read, and listed as not summed. Counters wrap at
 * max_energy_range_uj and are unwrapped into 64-bit totals on every read,
 * so reads must come more often than one wrap period (minutes even at
 * 500 W: 262 kJ); a counter above its range or one that falls by more than
 * a wrap can explain is a discontinuity (wl__counter_update, counted in
 * n_discontinuities: the sampler records a gap). The energy_uj files stay
 * open for the sensor's lifetime; reads are pread(). A read that fails
 * with ENODEV (the zone was removed: kernfs fails the old file for good)
 * reopens the file by path when the zone's name there is still its own
 * (registered again), the counter's continuity rules kept. A zone that cannot be
 * read is skipped and listed in not_read (the others are kept), also a
 * root-only energy_uj (its note points at the fix, which the status keeps:
 * wl__sensor_keep_fix; its chmod names a glob per control type denied:
 * fix_for_permission); only when no package zone can be read and one was
 * root-only does the backend fail with WL_EACCES and the fix (rapl-perf
 * and rapl-msr are then tried). Zones are sorted by
 * number before any limit, which keeps packages before sub-zones. A
 * sub-zone is named after its parent zone's name (package-0/dram), never
 * its directory's number: the kernel numbers zones in the order it
 * registers them, so a psys can be intel-rapl:0 and package-0
 * intel-rapl:1. A zone's resolution is its register's energy unit (its
 * package's unit register through an MSR device when one can be read, by
 * the RAPL model table; else the units the table fixes), else unknown
 * (a TPMI zone's, also one named intel-rapl on a TPMI model): never
 * energy_uj's 1 uJ, the file's unit (zone_resolution_uj).
 */
#include "sensors/sensor_impl.h"
#include "sensors/sensor_parse.h"

#include "util/clock.h"
#include "util/log.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct powercap_zone {
    int fd;
    struct wl__counter ctr; /* unit 1 uJ, top_raw = max_energy_range_uj (its largest value) */
    /* to reopen it (powercap_reopen): its directory's path (heap) and name,
     * its parent zone's directory (heap; NULL for a top zone) and name, and
     * when it last tried (at most once a second while the zone is gone) */
    char *dir, *pdir;
    char zname[64], pname[64];
    uint64_t reopen_tried_ns;
};

struct powercap {
    unsigned n;
    struct powercap_zone z[WL_SENSOR_MAX_CHANNELS];
};

/* A zone found under class/powercap, before it becomes a channel. */
struct zone_probe {
    char *dir; /* "intel-rapl:N[:M]" or "intel-rapl-tpmi:N[:M]" (heap) */
    bool tpmi; /* an intel-rapl-tpmi zone */
    bool mmio; /* an intel-rapl-mmio zone (read only where it adds a channel) */
    int pkg, sub;
    bool named; /* name and range usable (probe_zone_name): its counter may be opened */
    bool denied; /* its energy_uj is root-only (EACCES/EPERM): listed in not_read */
    int fd;     /* energy_uj, -1 until probed or when not usable */
    uint64_t max_range, raw, t_ns;
    enum wl_domain dom;
    unsigned flags;
    int psys_index; /* psys-N: N; else -1 */
    int parent;     /* a sub-zone's: index of its parent zone in the sorted list, or -1 */
    char zname[64];
};

/* intel-rapl zones before intel-rapl-tpmi ones (the first are read, the
 * second only where they add a channel), then by package number, each
 * package's sub-zones after it (numbers, not strings: intel-rapl:10 after
 * intel-rapl:2). */
static int zone_rank(const struct zone_probe *z)
{
    return z->mmio ? 2 : z->tpmi ? 1 : 0;
}

static int cmp_zone(const void *a, const void *b)
{
    const struct zone_probe *x = a, *y = b;
    if (zone_rank(x) != zone_rank(y))
        return zone_rank(x) < zone_rank(y) ? -1 : 1;
    if (x->pkg != y->pkg)
        return x->pkg < y->pkg ? -1 : 1;
    return x->sub < y->sub ? -1 : x->sub > y->sub;
}

/* The domain, flags and number of a zone from its name file: package-N,
 * core, uncore, dram, psys, and psys-N, which the kernel's
 * rapl_init_domains names the platform domain of a package with id N > 0
 * (*index N; -1 for plain psys). -1 for any other name. */
static int domain_of(const char *zname, enum wl_domain *d, unsigned *flags, int *index)
{
    *flags = WL_CH_ENERGY;
    *index = -1;
    if (strncmp(zname, "package-", 8) == 0 || strcmp(zname, "package") == 0) {
        *d = WL_DOMAIN_PACKAGE;
    } else if (strcmp(zname, "core") == 0) {
        *d = WL_DOMAIN_CORE;
        *flags |= WL_CH_PART;
    } else if (strcmp(zname, "uncore") == 0) {
        *d = WL_DOMAIN_UNCORE;
        *flags |= WL_CH_PART;
    } else if (strcmp(zname, "dram") == 0) {
        *d = WL_DOMAIN_DRAM;
    } else if (strcmp(zname, "psys") == 0) {
        *d = WL_DOMAIN_PSYS;
        *flags |= WL_CH_CONTAINS;
    } else if (strncmp(zname, "psys-", 5) == 0 && zname[5] >= '0' && zname[5] <= '9' &&
               strlen(zname + 5) <= 4 && strspn(zname + 5, "0123456789") == strlen(zname + 5)) {
        *d = WL_DOMAIN_PSYS;
        *flags |= WL_CH_CONTAINS;
        *index = atoi(zname + 5);
    } else {
        return -1;
    }
    return 0;
}

/* A zone directory name: "intel-rapl:N[:M]" (*tpmi false) or the TPMI
 * driver's "intel-rapl-tpmi:N[:M]" (*tpmi true; kernels that register TPMI
 * RAPL under a control type of its own), numbers as
 * wl__powercap_parse_zone_id takes them. 0 or WL_EFORMAT. */
static int parse_zone_dir(const char *name, bool *tpmi, bool *mmio, int *pkg, int *sub)
{
    static const char tpmi_prefix[] = "intel-rapl-tpmi:", mmio_prefix[] = "intel-rapl-mmio:";
    *tpmi = strncmp(name, tpmi_prefix, sizeof tpmi_prefix - 1) == 0;
    *mmio = strncmp(name, mmio_prefix, sizeof mmio_prefix - 1) == 0;
    if (!*tpmi && !*mmio)
        return strncmp(name, "intel-rapl:", 11) == 0 ? wl__powercap_parse_zone_id(name, pkg, sub)
                                                     : WL_EFORMAT;
    const char *num = strchr(name + 11, ':') + 1; /* after either prefix */
    char as_msr[64];                              /* the same numbers under the intel-rapl prefix */
    if (strlen(num) > 40)
        return WL_EFORMAT;
    snprintf(as_msr, sizeof as_msr, "intel-rapl:%s", num);
    return wl__powercap_parse_zone_id(as_msr, pkg, sub);
}

/* Which control types have a root-only zone (fix_for_permission's
 * kinds): each is a glob of its own in the chmod the fix prints. */
enum {
    DENIED_RAPL = 1u << 0, /* intel-rapl:N[:M] */
    DENIED_TPMI = 1u << 1, /* intel-rapl-tpmi:N[:M] */
    DENIED_MMIO = 1u << 2, /* intel-rapl-mmio:N[:M] (read where no intel-rapl zone is) */
};

static unsigned denied_kind(const struct zone_probe *z)
{
    return z->mmio ? DENIED_MMIO : z->tpmi ? DENIED_TPMI : DENIED_RAPL;
}

/* s as one shell word into buf (4 x strlen(s) + 3 bytes hold any): as it
 * is when every byte is one a shell takes literally, else in single quotes
 * ('\'' for a quote), so that a glob after it still expands. */
static void shell_word(char *buf, size_t size, const char *s)
{
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+,-") ==
        strlen(s)) {
        wl_utf8_copy(buf, size, s);
        return;
    }
    size_t o = 0;
    buf[o++] = '\'';
    for (const char *c = s; *c && o + 6 < size; c++) { /* never cut with the size above */
        if (*c == '\'') {
            memcpy(buf + o, "'\\''", 4);
            o += 4;
        } else {
            buf[o++] = *c;
        }
    }
    buf[o++] = '\'';
    buf[o] = '\0';
}

/* The fix for root-only energy_uj files into buf; dir (any bytes) is shown
 * cut between characters to 100 bytes, one shell word. kinds (DENIED_*):
 * the control types whose zones were denied, each one glob of the chmod:
 * <dir>/intel-rapl:* also matches the sub-zones (intel-rapl:0:0), which
 * class/powercap lists beside their parents; a glob for a type with no
 * zone there would reach chmod unexpanded and fail it, so only the types
 * denied are named. */
static void fix_for_permission(char *buf, size_t size, const char *dir, unsigned kinds)
{
    static const struct {
        unsigned kind;
        const char *prefix;
    } types[] = {{DENIED_RAPL, "intel-rapl"},
                 {DENIED_MMIO, "intel-rapl-mmio"},
                 {DENIED_TPMI, "intel-rapl-tpmi"}};
    char dir_clip[101], dir_part[4 * 100 + 3], globs[3 * (sizeof dir_part + 32)] = "";
    char text[sizeof globs + 640];
    wl_utf8_clip(dir_clip, sizeof dir_clip, dir);
    shell_word(dir_part, sizeof dir_part, dir_clip);
    size_t len = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (!(kinds & types[i].kind) && !(kinds == 0 && types[i].kind == DENIED_RAPL))
            continue;
        int n = snprintf(globs + len, sizeof globs - len, "%s%s/%s:*/energy_uj", len ? " " : "",
                         dir_part, types[i].prefix);
        if (n > 0 && (size_t)n < sizeof globs - len)
            len += (size_t)n;
    }
    snprintf(text, sizeof text,
             "energy_uj is readable by root only (since the CVE-2020-8694 fix: Linux 5.10, and "
             "backported to stable and distribution kernels). Either run "
             "wattlens as root; or until reboot: sudo chmod a+r %s; or permanently with a udev "
             "rule in /etc/udev/rules.d/99-wattlens-rapl.rules: SUBSYSTEM==\"powercap\", "
             "ACTION==\"add\", RUN+=\"/bin/chmod a+r /sys%%p/energy_uj\"; or give the binary "
             "the capability: sudo setcap cap_dac_read_search+ep $(command -v wattlens)",
             globs);
    wl_utf8_clip(buf, size, text); /* fits, but for a root of many quotes */
}

/* Sets each sub-zone's parent in zs (sorted by cmp_zone: a parent comes
 * just before its sub-zones): the top-level zone of the same control type
 * and number, or -1 when there is none. */
static void link_parents(struct zone_probe *zs, size_t n)
{
    int top = -1;
    for (size_t i = 0; i < n; i++) {
        if (zs[i].sub < 0) {
            top = (int)i;
            zs[i].parent = -1;
        } else {
            const bool same =
                top >= 0 && zone_rank(&zs[top]) == zone_rank(&zs[i]) && zs[top].pkg == zs[i].pkg;
            zs[i].parent = same ? top : -1;
        }
    }
}

/* The channel name of probed zone zs[i]: its name for a top-level zone,
 * "PARENT/NAME" for a sub-zone, PARENT the name of its parent zone
 * ("package-0", "package-1-die-0"; its directory when that name could not
 * be read or there is no parent zone: "intel-rapl:1/dram"). Each part is
 * cut between characters (22 and 40 bytes), as every channel name is. */
static void zone_channel_name(const struct zone_probe *zs, size_t i, char *buf, size_t size)
{
    const struct zone_probe *z = &zs[i];
    char zpart[41], ppart[23];
    wl_utf8_copy(zpart, sizeof zpart, z->zname);
    if (z->sub < 0) {
        snprintf(buf, size, "%s", z->zname);
        return;
    }
    if (z->parent >= 0 && zs[z->parent].zname[0])
        wl_utf8_copy(ppart, sizeof ppart, zs[z->parent].zname);
    else
        snprintf(ppart, sizeof ppart, "%s:%d",
                 z->mmio   ? "intel-rapl-mmio"
                 : z->tpmi ? "intel-rapl-tpmi"
                           : "intel-rapl",
                 z->pkg);
    snprintf(buf, size, "%s/%s", ppart, zpart);
}

/* The package number of a package zone or a sub-zone's: N of its (parent's)
 * name package-N[-die-M], else its directory's number. */
static int zone_package(const struct zone_probe *zs, size_t i)
{
    const struct zone_probe *z = zs[i].sub >= 0 && zs[i].parent >= 0 ? &zs[zs[i].parent] : &zs[i];
    const char *n = z->zname;
    if (strncmp(n, "package-", 8) == 0 && n[8] >= '0' && n[8] <= '9' &&
        strspn(n + 8, "0123456789") <= 4)
        return atoi(n + 8);
    return z->pkg;
}

/* What a zone's resolution is found by: the CPU's unit rule and the ESU
 * of each package's unit register, read once per package (through the
 * CPU wl__rapl_package_units names for it, else another CPU of that
 * package whose MSR device reads: wl__rapl_unit_esu; -1 when none can be
 * read, or the vendor's registers are not known). */
#define UNIT_MAX_PKG 64
struct unit_finder {
    enum wl__rapl_units rule;
    bool tpmi_model; /* its intel-rapl zones are TPMI's too (wl__rapl_tpmi_model) */
    unsigned n;
    struct pkg_esu {
        int pkg, esu;
    } pkg[UNIT_MAX_PKG];
};

/* dev: the /dev root, NULL when none can be used (every ESU unknown). */
static void unit_finder_fill(struct unit_finder *f, const char *sysfs, const char *dev,
                             enum wl__cpu_vendor vendor)
{
    f->n = 0;
    if (!dev || (vendor != WL__CPU_INTEL && vendor != WL__CPU_AMD))
        return;
    struct wl__rapl_unit u[UNIT_MAX_PKG];
    unsigned n_more;
    f->n = wl__rapl_package_units(sysfs, false, u, UNIT_MAX_PKG, &n_more);
    for (unsigned k = 0; k < f->n; k++)
        f->pkg[k] = (struct pkg_esu){.pkg = u[k].pkg,
                                     .esu = wl__rapl_unit_esu(sysfs, dev, &u[k], false, vendor)};
}

/* The ESU of physical package pkg's unit register; -1 when not known. */
static int package_esu(const struct unit_finder *f, int pkg)
{
    for (unsigned k = 0; k < f->n; k++)
        if (f->pkg[k].pkg == pkg)
            return f->pkg[k].esu;
    return -1;
}

/* The resolution of zone i: its register's energy unit (the model's rule,
 * from its package's ESU when an MSR device can be read, else the units
 * the rule fixes), at least the 1 uJ of energy_uj; 0 when not known, and
 * for a TPMI zone (its unit is in TPMI's own register): an intel-rapl-tpmi
 * one, and on a TPMI model every zone (mainline's intel_rapl_tpmi
 * registers its zones as intel-rapl; their unit is not 0x606's). Never energy_uj's
 * 1 uJ alone: a register steps by ~61 uJ (Intel), 15.3 uJ (AMD). */
static double zone_resolution_uj(const struct unit_finder *f, const struct zone_probe *zs, size_t i)
{
    const struct zone_probe *z = &zs[i];
    if (z->tpmi || f->tpmi_model)
        return 0;
    const int pkg =
        z->dom == WL_DOMAIN_PSYS ? (z->psys_index < 0 ? 0 : z->psys_index) : zone_package(zs, i);
    const double uj = wl__rapl_resolution_uj(f->rule, z->dom, package_esu(f, pkg));
    return uj > 0 && uj < 1 ? 1 : uj;
}

static void powercap_close(struct wl_sensor *s)
{
    struct powercap *pc = s->impl;
    if (!pc)
        return;
    for (unsigned i = 0; i < pc->n; i++) {
        if (pc->z[i].fd >= 0)
            close(pc->z[i].fd);
        free(pc->z[i].dir);
        free(pc->z[i].pdir);
    }
    free(pc);
    s->impl = NULL;
}

/* Reads one zone's name and range into z, its counter not yet opened
 * (probe_zone_counter: after the duplicates are known, so that a
 * duplicate's energy_uj is never opened), or says in s's not_read why it
 * cannot be used. Returns 0 (usable so far) or 1 (skipped: not a zone of a
 * known name, or unreadable). */
static int probe_zone_name(struct wl_sensor *s, const char *dir, struct zone_probe *z, bool amd)
{
    char path[1400];
    int err = 0, rc;
    snprintf(path, sizeof path, "%s/%s/name", dir, z->dir);
    rc = wl__read_name_err(path, z->zname, sizeof z->zname, &err);
    if (rc <= 0) {
        wl__sensor_not_read(s, "%s/name: %s", z->dir, rc < 0 ? wl__attr_strerror(err) : "empty");
        return 1;
    }
    if (domain_of(z->zname, &z->dom, &z->flags, &z->psys_index) != 0) {
        /* its scope is unknown, so it is not guessed at; but it is a zone
         * the kernel shows, and what it counts is not in any total */
        wl__sensor_not_read(s,
                            "%s: unknown zone name '%s' (known: package-N, core, uncore, dram, "
                            "psys, psys-N)",
                            z->dir, z->zname);
        return 1;
    }
    if (amd && z->dom == WL_DOMAIN_CORE) {
        /* the kernel's rapl_msr_priv_amd reads PP0 from the per-core
         * MSR_AMD_CORE_ENERGY_STATUS on the package's first CPU */
        wl__sensor_not_summed(s,
                              "%s (core): on AMD one core's energy (the per-core register "
                              "0xC001029A of the package's first CPU), not all cores'",
                              z->dir);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s/max_energy_range_uj", dir, z->dir);
    rc = wl__read_u64_err(path, &z->max_range, &err);
    if (rc != 0 || z->max_range == 0) {
        wl__sensor_not_read(s, "%s (%s)/max_energy_range_uj: %s; cannot unwrap its counter", z->dir,
                            z->zname, rc != 0 ? wl__attr_strerror(err) : "0");
        return 1;
    }
    z->named = true;
    return 0;
}

/* Opens and reads the counter of a zone probe_zone_name found usable into z
 * (fd left open), or says in s's not_read why it cannot be used. Returns 0
 * (usable) or 1 (skipped: unreadable; z->denied for a root-only energy_uj,
 * whose fix powercap_open gives once for every zone). */
static int probe_zone_counter(struct wl_sensor *s, const char *dir, struct zone_probe *z)
{
    char path[1400];
    int err = 0, rc;
    snprintf(path, sizeof path, "%s/%s/energy_uj", dir, z->dir);
    int fd = wl__attr_open(path, false, &err);
    if (fd >= 0) {
        rc = wl__pread_u64_err(fd, &z->raw, &err);
        z->t_ns = wl_clock_now_ns();
    } else {
        rc = fd;
    }
    if (rc != 0 && (err == EACCES || err == EPERM)) {
        if (fd >= 0)
            close(fd);
        /* one zone's permission fails that zone alone: a partial chmod (of
         * intel-rapl:0 only) or a udev rule for top-level zones leaves its
         * package readable, which is measured, not estimated */
        z->denied = true;
        wl__sensor_not_read(s,
                            "%s (%s)/energy_uj: permission denied (root-only since the "
                            "CVE-2020-8694 fix; the fix: wattlens sensors)",
                            z->dir, z->zname);
        return 1;
    }
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        wl__sensor_not_read(s, "%s (%s)/energy_uj: %s", z->dir, z->zname, wl__attr_strerror(err));
        return 1;
    }
    if (z->raw > z->max_range) {
        close(fd);
        wl__sensor_not_read(s,
                            "%s (%s)/energy_uj: %llu is above max_energy_range_uj %llu; "
                            "cannot unwrap its counter",
                            z->dir, z->zname, (unsigned long long)z->raw,
                            (unsigned long long)z->max_range);
        return 1;
    }
    z->fd = fd;
    return 0;
}

static int powercap_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                         struct wl_sensor_status *st)
{
    char dir[1024];
    struct zone_probe *zs = NULL;
    size_t n_zs = 0, cap_zs = 0;
    unsigned n_mmio = 0;
    int rc = 0;
    struct unit_finder uf = {.n = 0}; /* filled once zones are found */
    snprintf(dir, sizeof dir, "%s/class/powercap", wl__sensor_sysfs_root(p));
    DIR *d = opendir(dir);
    if (!d) {
        static const char *fix = "On Linux with an Intel CPU, or AMD Zen with Linux 5.11 or later: "
                                 "sudo modprobe intel_rapl_msr; on Xeon 6 (Granite Rapids, Sierra "
                                 "Forest) and later, whose RAPL is TPMI: sudo modprobe "
                                 "intel_rapl_tpmi. Virtual machines usually do not expose RAPL.";
        int e = errno;
        if (e == ENOENT)
            return wl__sensor_fail(st, WL_ENOTSUP, fix,
                                   "%s does not exist (%s): no powercap framework", dir,
                                   strerror(e));
        return wl__sensor_fail(st, e == EACCES || e == EPERM ? WL_EACCES : WL_ENOTSUP, fix,
                               "%s: cannot open the directory (%s)", dir, strerror(e));
    }
    /* every zone, however many: sorted before any limit is applied */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int pkg, sub;
        bool tpmi, mmio;
        if (parse_zone_dir(e->d_name, &tpmi, &mmio, &pkg, &sub) != 0)
            continue;
        if (n_zs == cap_zs) {
            size_t nc = cap_zs ? cap_zs * 2 : 16;
            struct zone_probe *nz = realloc(zs, nc * sizeof *nz);
            if (!nz) {
                rc = WL_ENOMEM;
                break;
            }
            zs = nz;
            cap_zs = nc;
        }
        struct zone_probe *z = &zs[n_zs];
        memset(z, 0, sizeof *z);
        z->fd = -1;
        z->tpmi = tpmi;
        z->mmio = mmio;
        z->pkg = pkg;
        z->sub = sub;
        z->dir = strdup(e->d_name);
        if (!z->dir) {
            rc = WL_ENOMEM;
            break;
        }
        n_zs++;
    }
    closedir(d);
    if (rc != 0)
        goto out;
    if (n_zs == 0) {
        rc =
            wl__sensor_fail(st, WL_ENOTSUP,
                            "On an Intel CPU, or AMD Zen with Linux 5.11 or later: sudo modprobe "
                            "intel_rapl_msr; on Xeon 6 (Granite Rapids, Sierra Forest) and "
                            "later, whose RAPL is TPMI: sudo modprobe intel_rapl_tpmi (check "
                            "with: ls /sys/class/powercap). Virtual machines and other CPUs "
                            "have no RAPL.",
                            "no intel-rapl, intel-rapl-tpmi or intel-rapl-mmio zone under %s", dir);
        goto out;
    }
    qsort(zs, n_zs, sizeof zs[0], cmp_zone);
    link_parents(zs, n_zs);
    /* AMD's core zone is one core (probe_zone); the vendor from the same
     * sysfs as the zones */
    struct wl__cpu_ident id;
    const bool modalias = wl__cpu_ident_modalias(wl__sensor_sysfs_root(p), &id) == 0;
    /* the registers' units: by the same CPU, else the one the RAPL readers
     * judge the machine by (wl__sensor_cpu_ident) */
    struct wl__cpu_ident uid = id;
    char uid_from[320];
    if (!modalias)
        wl__sensor_cpu_ident(p, &uid, uid_from, sizeof uid_from);
    /* the unit registers' device files: the /dev root, beside a given
     * sysfs root when none is given (never the host's for another tree) */
    char dev[512];
    const bool have_dev = wl__sensor_dev_root(p, dev, sizeof dev, NULL) == 0;
    uf.rule = uid.vendor == WL__CPU_AMD ? WL__RAPL_UNITS_CORE : wl__rapl_intel_units(&uid);
    uf.tpmi_model = wl__rapl_tpmi_model(&uid);
    /* no ESU is read on a TPMI model: no zone's unit is 0x606's */
    unit_finder_fill(&uf, wl__sensor_sysfs_root(p), have_dev && !uf.tpmi_model ? dev : NULL,
                     uid.vendor);
    size_t n_ok = 0, n_top = 0, n_tpmi = 0, n_mmio_read = 0, n_pkg_ok = 0, n_denied = 0;
    int first_denied = -1; /* the first zone whose energy_uj is root-only */
    unsigned denied_kinds = 0; /* DENIED_*: the control types of those zones */
    for (size_t i = 0; i < n_zs; i++)
        probe_zone_name(s, dir, &zs[i], id.vendor == WL__CPU_AMD);
    /* A TPMI zone whose channel an intel-rapl zone already is (both drivers
     * registered the same domain) is a duplicate: never read twice. One
     * that adds a channel (TPMI packages next to an MSR psys) is read.
     * Found by name before the counter is opened: a root-only duplicate
     * (chmod a+r .../intel-rapl:* leaves intel-rapl-tpmi:* root-only) does
     * not fail a backend whose intel-rapl zones are readable. The
     * intel-rapl zones come first (cmp_zone), so their counters are opened
     * by then: an unreadable one lets its TPMI duplicate be read. */
    for (size_t i = 0; i < n_zs; i++) {
        struct zone_probe *z = &zs[i];
        if (!z->named)
            continue;
        char name[WL_SENSOR_NAME_MAX];
        zone_channel_name(zs, i, name, sizeof name);
        bool dup = false;
        for (size_t k = 0; zone_rank(z) > 0 && k < i && !dup; k++) {
            char other[WL_SENSOR_NAME_MAX];
            zone_channel_name(zs, k, other, sizeof other);
            dup = zone_rank(&zs[k]) < zone_rank(z) && zs[k].fd >= 0 && strcmp(name, other) == 0;
        }
        if (dup && z->mmio) {
            /* the usual case (both drivers loaded): said in the source */
            n_mmio++;
            continue;
        }
        if (dup) {
            wl__sensor_not_summed(s,
                                  "%s (%s): the same domain as an intel-rapl zone, which is read",
                                  z->dir, z->zname);
            continue;
        }
        if (probe_zone_counter(s, dir, z) != 0) {
            if (z->denied && first_denied < 0)
                first_denied = (int)i;
            n_denied += z->denied;
            if (z->denied)
                denied_kinds |= denied_kind(z);
            continue;
        }
        n_pkg_ok += z->dom == WL_DOMAIN_PACKAGE;
        n_ok++;
        n_top += z->sub < 0;
        n_tpmi += z->tpmi;
        n_mmio_read += z->mmio;
    }
    if (n_denied && n_pkg_ok == 0) {
        /* no package is measured here: fail with the fix, so that rapl-perf
         * and rapl-msr get their chance before the CPU-time model. The
         * zone's part of the path is short (wl__powercap_parse_zone_id), the
         * root's any length: cut that, so the why still names the file */
        char dir_part[301];
        wl_utf8_clip(dir_part, sizeof dir_part, dir);
        rc = wl__sensor_fail(st, WL_EACCES, NULL,
                             "%s/%s/energy_uj: permission denied (%zu zone(s) root-only, no "
                             "package zone readable)",
                             dir_part, zs[first_denied].dir, n_denied);
        fix_for_permission(st->fix, sizeof st->fix, dir, denied_kinds);
        goto out;
    }
    /* Over the limit: every package (and psys) first, then sub-zones in
     * package order, so the package total is never the one cut short. */
    size_t room_sub = n_ok > WL_SENSOR_MAX_CHANNELS
                          ? (n_top < WL_SENSOR_MAX_CHANNELS ? WL_SENSOR_MAX_CHANNELS - n_top : 0)
                          : n_ok;
    size_t room_top = WL_SENSOR_MAX_CHANNELS;
    struct powercap *pc = calloc(1, sizeof *pc);
    if (!pc) {
        rc = WL_ENOMEM;
        goto out;
    }
    s->impl = pc;
    for (size_t i = 0; i < n_zs; i++) {
        struct zone_probe *z = &zs[i];
        if (z->fd < 0)
            continue;
        size_t *room = z->sub < 0 ? &room_top : &room_sub;
        if (*room == 0) {
            wl__sensor_not_read(s, "%s (%s): over the limit of %d channels per sensor", z->dir,
                                z->zname, WL_SENSOR_MAX_CHANNELS);
            continue; /* its fd is closed below */
        }
        (*room)--;
        /* zname (any bytes from sysfs) cut between characters, as every
         * channel name is */
        char chname[WL_SENSOR_NAME_MAX];
        zone_channel_name(zs, i, chname, sizeof chname);
        int ci =
            wl__sensor_add_channel(s, chname, z->dom, WL_METHOD_COUNTER, z->flags,
                                   z->dom == WL_DOMAIN_PSYS ? z->psys_index : zone_package(zs, i));
        if (ci < 0) { /* cannot happen: room is counted above */
            wl__sensor_not_read(s, "%s (%s): no channel left", z->dir, z->zname);
            continue;
        }
        s->info.ch[ci].resolution_uj = zone_resolution_uj(&uf, zs, i);
        s->info.ch[ci].nominal_period_ns = wl__rapl_nominal_period_ns(z->dom);
        struct powercap_zone *pz = &pc->z[pc->n];
        char zdir[1400];
        snprintf(zdir, sizeof zdir, "%s/%s", dir, z->dir);
        pz->dir = strdup(zdir);
        if (!pz->dir) {
            rc = WL_ENOMEM;
            goto out;
        }
        pc->n++;
        snprintf(pz->zname, sizeof pz->zname, "%s", z->zname);
        if (z->parent >= 0) { /* a sub-zone: "dram" alone names no package */
            snprintf(zdir, sizeof zdir, "%s/%s", dir, zs[z->parent].dir);
            snprintf(pz->pname, sizeof pz->pname, "%s", zs[z->parent].zname);
            if (!(pz->pdir = strdup(zdir))) {
                rc = WL_ENOMEM;
                goto out;
            }
        }
        pz->fd = z->fd;
        z->fd = -1; /* owned by pc now */
        wl__counter_init(&pz->ctr, "rapl-powercap", s->info.ch[ci].name, z->max_range, 1.0, z->raw,
                         z->t_ns);
    }
    if (pc->n == 0) {
        if (s->info.n_not_read)
            rc = wl__sensor_fail(st, WL_ENOTSUP, NULL,
                                 "no readable RAPL zone under %s (%u not read; the first: %s)", dir,
                                 s->info.n_not_read, s->info.not_read[0]);
        else
            rc = wl__sensor_fail(st, WL_ENOTSUP, NULL,
                                 "no usable RAPL zone under %s (zone names not recognised)", dir);
        goto out;
    }
    /* The kernel registers psys only where it counts (its platform's
     * master package; TPMI: each power domain's root), so two psys zones
     * are two platforms, and their channels are summed as such. That sum
     * is not one measured counter: the source says so (were two to meter
     * one platform, the sum would count it twice). */
    unsigned n_psys = 0;
    for (unsigned i = 0; i < s->info.n_channels; i++)
        n_psys += s->info.ch[i].domain == WL_DOMAIN_PSYS;
    char psys_part[64] = "";
    if (n_psys > 1)
        snprintf(psys_part, sizeof psys_part, ", psys summed over %u zones", n_psys);
    char dir_part[181]; /* cut between characters */
    wl_utf8_clip(dir_part, sizeof dir_part, dir);
    wl__sensor_set_source(s, "%s (%u zone(s)%s%s%s%s)", dir_part, pc->n, n_tpmi ? ", TPMI" : "",
                          n_mmio_read ? ", intel-rapl-mmio (no intel-rapl zone for it)" : "",
                          psys_part, n_mmio ? ", intel-rapl-mmio duplicates skipped" : "");
    if (n_denied) { /* read what can be, and say how to read the rest */
        fix_for_permission(st->fix, sizeof st->fix, dir, denied_kinds);
        wl__sensor_keep_fix(s);
    }
    if (n_psys > 1)
        wl_log_info("rapl",
                    "rapl-powercap: %u psys zones, taken as %u platforms and summed (the kernel "
                    "registers psys on each platform's master package only)",
                    n_psys, n_psys);
out:
    for (size_t i = 0; i < n_zs; i++) {
        if (zs[i].fd >= 0)
            close(zs[i].fd);
        free(zs[i].dir);
    }
    free(zs);
    if (rc != 0) {
        powercap_close(s);
        s->info.n_channels = 0;
    }
    return rc;
}

/* True when directory dir's name file still says name. */
static bool zone_named(const char *dir, const char *name)
{
    char path[1500], now[64];
    snprintf(path, sizeof path, "%s/name", dir);
    return wl__read_name_err(path, now, sizeof now, NULL) > 0 && strcmp(now, name) == 0;
}

/* Reopens zone z's energy_uj after a read failed with ENODEV: kernfs
 * answers so, for good, on a file whose zone was removed (its package's
 * last CPU went offline, intel_rapl_msr reloaded); a zone registered again
 * is a new file at the same path. Taken only when the directory's name is
 * still the zone's, and a sub-zone's parent's name its parent's (else
 * another zone took the number: "dram" under another package is not this
 * counter). Tried at most once a second while it is gone. The hardware
 * counter kept counting, so the read after is one more value of it
 * (wl__counter_update's rules: a change after longer than a wrap takes at
 * 1 kW is ambiguous). 0, or -1 (z left as it was). */
static int powercap_reopen(struct powercap_zone *z, uint64_t now_ns)
{
    if (z->reopen_tried_ns && now_ns - z->reopen_tried_ns < 1000000000ull)
        return -1;
    z->reopen_tried_ns = now_ns;
    if (!zone_named(z->dir, z->zname) || (z->pdir && !zone_named(z->pdir, z->pname)))
        return -1;
    char path[1500];
    snprintf(path, sizeof path, "%s/energy_uj", z->dir);
    const int fd = wl__attr_open(path, false, NULL);
    if (fd < 0)
        return -1;
    close(z->fd);
    z->fd = fd;
    z->reopen_tried_ns = 0;
    wl_log_info("rapl", "rapl-powercap %s: %s was registered again; reopened", z->ctr.channel,
                z->dir);
    return 0;
}

static int powercap_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    struct powercap *pc = s->impl;
    r->t_before_ns = wl_clock_now_ns();
    r->n_channels = pc->n;
    for (unsigned i = 0; i < pc->n; i++) {
        struct powercap_zone *z = &pc->z[i];
        uint64_t raw;
        int err = 0;
        int rc = wl__pread_u64_err(z->fd, &raw, &err);
        if (rc != 0 && err == ENODEV && powercap_reopen(z, wl_clock_now_ns()) == 0)
            rc = wl__pread_u64(z->fd, &raw);
        /* a zone that fails is not read this time (valid 0): the others
         * are, and the sampler records a gap for its domain alone */
        if (rc != 0) {
            memset(&r->v[i], 0, sizeof r->v[i]);
            continue;
        }
        /* a discontinuity shows in n_discontinuities and disc: the
         * sampler records a gap there, its energy not counted */
        r->v[i].disc = wl__counter_update(&z->ctr, raw, wl_clock_now_ns());
        r->v[i].energy_uj = wl__counter_total_uj(&z->ctr);
        r->v[i].n_discontinuities = z->ctr.n_discontinuities;
        r->v[i].power_w = 0;
        r->v[i].valid = WL_CH_ENERGY;
    }
    r->t_after_ns = wl_clock_now_ns();
    return 0;
}

const struct wl_sensor_ops wl__rapl_powercap_ops = {
    .name = "rapl-powercap",
    .what = "Intel/AMD RAPL energy counters via /sys/class/powercap",
    .bit = WL_BACKEND_RAPL_POWERCAP,
    .open = powercap_open,
    .read = powercap_read,
    .close = powercap_close,
};

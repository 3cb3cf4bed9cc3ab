/* RAPL energy counters read directly from the model-specific registers
 * (<dev>/cpu/N/msr, pread at the MSR address), used when neither powercap nor
 * perf can be read. One CPU per package, on Intel per die of a package
 * (from sysfs topology; offline CPUs, which have none, skipped). Intel: unit
 * 0x606, package 0x611, pp0 0x639, pp1 0x641, dram 0x619, psys 0x64D; AMD Zen:
 * unit 0xC0010299, package 0xC001029B (the per-core 0xC001029A is not summed
 * here). Energy status registers are 32-bit and wrap (after ~44 min at
 * 100 W with 61 uJ units, ~11 min with 15.3 uJ); they are unwrapped into
 * 64-bit totals at every read, and a fall no wrap can explain is a
 * discontinuity (wl__counter_update). psys (the platform's counter) is
 * read on every package, as the kernel reads it, and named as its zones
 * are: psys, psys-N. A register that reads 0 at open is not a channel,
 * psys included (as the kernel's rapl_check_domain: psys reads 0 on a
 * package other than its platform's master); a psys that stays flat or far
 * below its package over the period probe is dropped (msr_measure_period). Device and cpuinfo files
 * are opened with wl__attr_open (a FIFO cannot hang the open). A read that
 * fails with ENXIO (its CPU went offline; EIO is the register faulting on an
 * online CPU, which another CPU would not change) moves the unit to another
 * online CPU of the same package (and die) when one reads (msr_move), the
 * counters' continuity kept; at most once a second while none can. Not every register counts in
 * 0x606's unit: the kernel's per-model rules (DRAM 15.3 uJ on Haswell-X .. Ice Lake-X, psys 1 J on
 * Sapphire/Emerald Rapids, 2^ESU uJ on Silvermont Atoms) are applied from the CPU's family and
 * model (wl__sensor_cpu_ident: cpuinfo, or a sysfs tree's own CPU), and on a model not in that
 * table DRAM and psys are listed in not_read rather than guessed (docs/internals/sensors.md,
 * "rapl-msr: energy units per model").
 */
#include "sensors/sensor_impl.h"

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

/* Packages (or dies) read (16 x 4 domains fill WL_SENSOR_MAX_CHANNELS);
 * more are listed in not_read. */
#define MSR_MAX_PKG 16

struct msr_ch {
    int fd; /* shared per package; owned by pkg_fd[] */
    uint32_t reg;
    unsigned unit;          /* the unit (package or die) it is read through */
    unsigned slot;          /* its unit's index in pkg_fd[] and units[] */
    struct wl__counter ctr; /* raw units of unit_uj, 32-bit: top_raw 0xffffffff */
};

struct rapl_msr {
    unsigned n_pkg; /* units (packages, or dies) open */
    int pkg_fd[MSR_MAX_PKG];
    /* to move a unit to another CPU (msr_move): the CPU each is read
     * through, the roots (heap), whether units are dies, the unit register,
     * and when a move last found none */
    struct wl__rapl_unit units[MSR_MAX_PKG];
    char *sysfs, *dev;
    bool by_die;
    uint32_t unit_reg;
    uint64_t move_tried_ns[MSR_MAX_PKG];
    unsigned n;
    struct msr_ch c[WL_SENSOR_MAX_CHANNELS];
    uint64_t psys_contains[WL_SENSOR_MAX_CHANNELS]; /* for the probe (wl__rapl_psys_contains) */
};

/* err: the errno of a failed pread (0 for a short read); may be NULL */
static int msr_read_err(int fd, uint32_t reg, uint64_t *out, int *err)
{
    ssize_t n = pread(fd, out, sizeof *out, (off_t)reg);
    if (err)
        *err = n < 0 ? errno : 0;
    return n == (ssize_t)sizeof *out ? 0 : WL_ESENSOR;
}

static int msr_read(int fd, uint32_t reg, uint64_t *out)
{
    return msr_read_err(fd, reg, out, NULL);
}

static void msr_close(struct wl_sensor *s)
{
    struct rapl_msr *m = s->impl;
    if (!m)
        return;
    for (unsigned i = 0; i < m->n_pkg; i++)
        close(m->pkg_fd[i]);
    free(m->sysfs);
    free(m->dev);
    free(m);
    s->impl = NULL;
}

/* Why unit device path cannot be read (fd: its open's result, err its
 * errno; else reading unit_reg failed), as st's why and fix (st may be
 * NULL); returns the code. beside: the /dev root is the one beside a given
 * sysfs root (wl__sensor_dev_root), not the host's. */
static int unit_fail(struct wl_sensor_status *st, const char *path, int fd, int err,
                     uint32_t unit_reg, bool beside)
{
    if (fd >= 0)
        return wl__sensor_fail(st, WL_ENOTSUP, NULL,
                               "%s: reading the RAPL unit register 0x%X failed (no RAPL on this "
                               "CPU, or a virtual machine)",
                               path, unit_reg);
    if (err == ENOENT && beside)
        return wl__sensor_fail(st, WL_ENOTSUP,
                               "Put the tree's MSR devices beside its sys/ (dev/cpu/N/msr), or "
                               "give its /dev root (WATTLENS_DEV_ROOT).",
                               "%s does not exist: the sysfs root is another machine's tree (or a "
                               "test's) and its /dev, beside it, has no MSR device (as a host "
                               "without the msr driver); the host's /dev is not read for it",
                               path);
    if (err == ENOENT)
        return wl__sensor_fail(st, WL_ENOTSUP,
                               "Load the msr driver: sudo modprobe msr (and make it "
                               "permanent: echo msr | sudo tee /etc/modules-load.d/msr.conf).",
                               "%s does not exist: the msr driver is not loaded", path);
    if (err == EACCES || err == EPERM)
        return wl__sensor_fail(st, WL_EACCES,
                               "MSR access needs root with CAP_SYS_RAWIO: run as root, or "
                               "sudo setcap cap_sys_rawio,cap_dac_read_search+ep $(command "
                               "-v wattlens) and make the device readable (sudo chmod o+r "
                               "/dev/cpu/*/msr).",
                               "%s: %s", path, strerror(err));
    return wl__sensor_fail(st, fd, NULL, "%s: %s", path, wl__attr_strerror(err));
}

static int msr_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                    struct wl_sensor_status *st)
{
    static const struct {
        uint32_t reg;
        enum wl_domain d;
        unsigned flags;
    } intel[] = {
        {0x611, WL_DOMAIN_PACKAGE, 0},           {0x639, WL_DOMAIN_CORE, WL_CH_PART},
        {0x641, WL_DOMAIN_UNCORE, WL_CH_PART},   {0x619, WL_DOMAIN_DRAM, 0},
        {0x64D, WL_DOMAIN_PSYS, WL_CH_CONTAINS},
    };
    static const struct {
        uint32_t reg;
        enum wl_domain d;
        unsigned flags;
    } amd[] = {
        {0xC001029B, WL_DOMAIN_PACKAGE, 0},
    };
    char dev[512];
    bool dev_beside;
    if (wl__sensor_dev_root(p, dev, sizeof dev, &dev_beside) != 0)
        return wl__sensor_fail(st, WL_ERANGE, NULL, "the /dev root is too long (%zu bytes at most)",
                               sizeof dev - 1);
    struct wl__cpu_ident id;
    char id_from[320];
    /* unreadable, or a faked sysfs without its own CPU: vendor OTHER */
    const int id_rc = wl__sensor_cpu_ident(p, &id, id_from, sizeof id_from);
    const int vendor = id.vendor == WL__CPU_INTEL ? 0 : id.vendor == WL__CPU_AMD ? 1 : -1;
    const enum wl__rapl_units unit_rule =
        vendor == 0 ? wl__rapl_intel_units(&id) : WL__RAPL_UNITS_CORE;
    unsigned unknown_noted = 0; /* bit (1 << domain): a domain of unknown unit, listed */
    if (vendor < 0 && id_rc == 0)
        return wl__sensor_fail(st, WL_ENOTSUP, NULL,
                               "CPU vendor is neither Intel nor AMD (from %s): no RAPL MSRs",
                               id_from);
    if (vendor < 0)
        return wl__sensor_fail(
            st, WL_ENOTSUP,
            "Make cpuinfo readable, or give the /proc root of the machine the sysfs tree is "
            "from (WATTLENS_PROC_ROOT).",
            "CPU vendor not known (%s): which RAPL MSRs to read is not known", id_from);
    /* AMD's package energy counter is per package, whatever the dies
     * (perf's rapl_pkg_pmu_is_pkg_scope); Intel's per die */
    struct wl__rapl_unit groups[MSR_MAX_PKG];
    unsigned n_more = 0;
    const unsigned n_pkg =
        wl__rapl_package_units(wl__sensor_sysfs_root(p), vendor == 0, groups, MSR_MAX_PKG, &n_more);
    struct rapl_msr *m = calloc(1, sizeof *m);
    if (!m)
        return WL_ENOMEM;
    s->impl = m;
    int rc = 0;
    if (n_more)
        wl__sensor_not_read(s,
                            "%u package(s) or die(s) after the first %d: over the limit of those "
                            "read",
                            n_more, MSR_MAX_PKG);
    /* some unit is a die other than 0: names say package-N-die-M */
    const bool multi_die = wl__rapl_units_by_die(groups, n_pkg, NULL);
    const uint32_t unit_reg = vendor == 0 ? 0x606 : 0xC0010299;
    struct wl__rapl_unit opened[MSR_MAX_PKG]; /* the units whose device is read */
    struct unit_bad {
        unsigned k;  /* the unit */
        bool opened; /* its device opened, its unit register did not read */
        int err;     /* else the open's errno (wl__attr_open) */
    } bad[MSR_MAX_PKG];
    unsigned n_bad = 0;
    for (unsigned k = 0; k < n_pkg; k++) {
        /* psys is the platform's counter, read through the first unit of
         * each package that can be read: only its platform's master
         * package counts (the kernel reads it on every package; others
         * read 0) */
        bool first_of_pkg = true;
        for (unsigned j = 0; j < m->n_pkg; j++)
            first_of_pkg = first_of_pkg && opened[j].pkg != groups[k].pkg;
        char path[600];
        snprintf(path, sizeof path, "%s/cpu/%d/msr", dev, groups[k].cpu);
        /* a character device (a regular file in tests), never a FIFO; one
         * that cannot be opened or read leaves the others read: it is
         * listed (the source says PARTIAL), and only when none can be is
         * the backend not used, with the first one's why and fix */
        int err = 0;
        int fd = wl__attr_open(path, true, &err);
        uint64_t unit = 0;
        const bool unit_ok = fd >= 0 && msr_read(fd, unit_reg, &unit) == 0;
        if (!unit_ok) {
            const int why = unit_fail(rc == 0 ? st : NULL, path, fd, err, unit_reg, dev_beside);
            rc = rc == 0 ? why : rc;
            if (fd >= 0)
                close(fd);
            bad[n_bad++] = (struct unit_bad){.k = k, .opened = fd >= 0, .err = err};
            continue;
        }
        opened[m->n_pkg] = groups[k];
        m->units[m->n_pkg] = groups[k];
        m->pkg_fd[m->n_pkg++] = fd;
        const unsigned esu = (unsigned)((unit >> 8) & 0x1f);
        size_t nd = vendor == 0 ? sizeof intel / sizeof intel[0] : 1;
        for (size_t i = 0; i < nd; i++) {
            uint32_t reg = vendor == 0 ? intel[i].reg : amd[i].reg;
            enum wl_domain d = vendor == 0 ? intel[i].d : amd[i].d;
            unsigned flags = vendor == 0 ? intel[i].flags : amd[i].flags;
            uint64_t v;
            if (d == WL_DOMAIN_PSYS && !first_of_pkg)
                continue; /* another die of a package whose psys is read */
            if (msr_read(fd, reg, &v) != 0)
                continue; /* domain not present on this CPU */
            /* A register that reads 0 exists but does not count: skipped as
             * the kernel skips it (rapl_check_domain). psys included: the
             * SDM's 0x64D "will read 0 if not valid" (platform and BIOS
             * must support it; on a package other than its platform's
             * master it reads 0), and a psys kept at 0 was the whole
             * headline: 0 J, labelled measured. */
            if (d != WL_DOMAIN_PACKAGE && (v & 0xffffffffu) == 0) {
                wl_log_debug("rapl", "rapl-msr: register 0x%X (%s) of package %u reads 0: not used",
                             reg, wl_domain_name(d), k);
                continue;
            }
            const char *why_unknown;
            const double unit_uj = wl__rapl_unit_uj(unit_rule, d, esu, &why_unknown);
            if (unit_uj == 0) {
                if (!(unknown_noted & 1u << d))
                    wl__sensor_not_read(s,
                                        "%s (0x%X): unit unknown on Intel family %d model %d: %s",
                                        wl_domain_name(d), reg, id.family, id.model, why_unknown);
                unknown_noted |= 1u << d;
                continue;
            }
            /* package-K (K in package order), or as the kernel names the
             * zones of a multi-die part: package-N-die-M */
            char unit_name[32], name[WL_SENSOR_NAME_MAX];
            int index = (int)k;
            wl__rapl_unit_name(unit_name, sizeof unit_name, &groups[k], k, multi_die);
            if (d == WL_DOMAIN_PACKAGE)
                snprintf(name, sizeof name, "%s", unit_name);
            else if (d == WL_DOMAIN_PSYS) /* psys, psys-N: as the kernel's zones */
                wl__rapl_psys_name(name, sizeof name, &groups[k], k, multi_die, &index);
            else
                snprintf(name, sizeof name, "%s/%s", unit_name, wl_domain_name(d));
            if (m->n >= WL_SENSOR_MAX_CHANNELS) {
                wl__sensor_not_read(s, "%s: over the limit of %d channels per sensor", name,
                                    WL_SENSOR_MAX_CHANNELS);
                continue;
            }
            int ci =
                wl__sensor_add_channel(s, name, d, WL_METHOD_COUNTER, WL_CH_ENERGY | flags, index);
            s->info.ch[ci].resolution_uj = unit_uj;
            s->info.ch[ci].nominal_period_ns = wl__rapl_nominal_period_ns(d);
            struct msr_ch *c = &m->c[m->n++];
            c->fd = fd;
            c->reg = reg;
            c->unit = k;
            c->slot = m->n_pkg - 1;
            wl__counter_init(&c->ctr, "rapl-msr", s->info.ch[ci].name, 0xffffffffull, unit_uj,
                             v & 0xffffffffu, wl_clock_now_ns());
        }
    }
    if (m->n_pkg == 0)
        goto fail; /* none could be read: the first one's why (rc) */
    m->sysfs = strdup(wl__sensor_sysfs_root(p));
    m->dev = strdup(dev);
    if (!m->sysfs || !m->dev) {
        rc = WL_ENOMEM;
        goto fail;
    }
    m->by_die = vendor == 0;
    m->unit_reg = unit_reg;
    rc = 0;
    for (unsigned b = 0; b < n_bad; b++) { /* the others are read: these are listed */
        char unit_name[32], path[600];
        wl__rapl_unit_name(unit_name, sizeof unit_name, &groups[bad[b].k], bad[b].k, multi_die);
        snprintf(path, sizeof path, "%s/cpu/%d/msr", dev, groups[bad[b].k].cpu);
        if (bad[b].opened)
            wl__sensor_not_read(s, "%s (%s): reading the RAPL unit register 0x%X failed", unit_name,
                                path, unit_reg);
        else
            wl__sensor_not_read(s, "%s (%s): %s", unit_name, path,
                                bad[b].err == ENOENT ? "does not exist"
                                                     : wl__attr_strerror(bad[b].err));
    }
    if (m->n == 0) {
        rc = wl__sensor_fail(st, WL_ENOTSUP, NULL, "no RAPL energy register is readable");
        goto fail;
    }
    /* what each psys holds for certain: the package (each die of it) it
     * is read through */
    {
        int pkg_of[WL_SENSOR_MAX_CHANNELS];
        for (unsigned i = 0; i < m->n; i++)
            pkg_of[i] = groups[m->c[i].unit].pkg;
        wl__rapl_psys_contains(s, pkg_of, m->psys_contains);
    }
    unsigned n_sockets = 0; /* of the units read */
    wl__rapl_units_by_die(opened, m->n_pkg, &n_sockets);
    /* any bytes (WATTLENS_DEV_ROOT): cut between characters */
    char dev_part[181];
    wl_utf8_clip(dev_part, sizeof dev_part, dev);
    if (multi_die)
        wl__sensor_set_source(s, "%s/cpu/N/msr (%s, %u package(s), %u dies)", dev_part,
                              vendor == 0 ? "Intel" : "AMD", n_sockets, m->n_pkg);
    else
        wl__sensor_set_source(s, "%s/cpu/N/msr (%s, %u package(s))", dev_part,
                              vendor == 0 ? "Intel" : "AMD", m->n_pkg);
    return 0;
fail:
    msr_close(s);
    s->info.n_channels = 0;
    return rc;
}

/* Moves unit slot, whose CPU's device failed with ENXIO (the CPU went
 * offline), to another online CPU of the same package (and die) whose
 * device reads the unit register, in number order: the package's
 * registers are the same through any of its CPUs, so its counters read on
 * (wl__counter_update's rules). An offline CPU has no topology directory
 * (wl__rapl_unit_read fails), and one whose online file reads 0 is skipped
 * too. Tried at most once a second while none is found (a scan of every
 * CPU). 0 when moved, -1 otherwise. */
static int msr_move(struct rapl_msr *m, unsigned slot, uint64_t now)
{
    if (m->move_tried_ns[slot] && now - m->move_tried_ns[slot] < 1000000000ull)
        return -1;
    m->move_tried_ns[slot] = now;
    const struct wl__rapl_unit *u = &m->units[slot];
    char dir[600];
    snprintf(dir, sizeof dir, "%s/devices/system/cpu", m->sysfs);
    struct dirent **list = NULL;
    const int n_list = scandir(dir, &list, NULL, alphasort);
    int fd = -1, to = -1;
    for (int i = 0; i < n_list; i++) {
        const int cpu = wl__sysfs_cpu_number(list[i]->d_name);
        free(list[i]);
        struct wl__rapl_unit v;
        if (fd >= 0 || cpu < 0 || cpu == u->cpu ||
            wl__rapl_unit_read(m->sysfs, cpu, m->by_die, &v) != 0 || v.pkg != u->pkg ||
            v.die != u->die)
            continue;
        char path[700];
        uint64_t online = 1, unit;
        snprintf(path, sizeof path, "%s/cpu%d/online", dir, cpu);
        if (wl__read_u64(path, &online) == 0 && online == 0)
            continue;
        snprintf(path, sizeof path, "%s/cpu/%d/msr", m->dev, cpu);
        fd = wl__attr_open(path, true, NULL);
        if (fd >= 0 && msr_read(fd, m->unit_reg, &unit) != 0) {
            close(fd);
            fd = -1;
        }
        to = fd >= 0 ? cpu : -1;
    }
    free(list);
    if (fd < 0)
        return -1;
    wl_log_info("rapl",
                "rapl-msr: CPU %d of package %d is not readable (offline?); reading "
                "through CPU %d",
                u->cpu, u->pkg, to);
    const int old = m->pkg_fd[slot];
    for (unsigned i = 0; i < m->n; i++)
        if (m->c[i].slot == slot)
            m->c[i].fd = fd;
    m->pkg_fd[slot] = fd;
    m->units[slot].cpu = to;
    m->move_tried_ns[slot] = 0;
    close(old);
    return 0;
}

static int msr_read_all(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    struct rapl_msr *m = s->impl;
    r->t_before_ns = wl_clock_now_ns();
    r->n_channels = m->n;
    for (unsigned i = 0; i < m->n; i++) {
        struct msr_ch *c = &m->c[i];
        uint64_t v;
        int err = 0;
        int rc = msr_read_err(c->fd, c->reg, &v, &err);
        /* ENXIO only: the msr driver's EIO is the register faulting on an
         * online CPU, and a move (which tests the unit register alone)
         * would succeed and be tried again at every read */
        if (rc != 0 && err == ENXIO && msr_move(m, c->slot, wl_clock_now_ns()) == 0)
            rc = msr_read(c->fd, c->reg, &v);
        /* a register that fails (its CPU went offline, and no other CPU
         * of its package can be read) is not read this time (valid 0, its
         * values 0): the others are */
        if (rc != 0) {
            memset(&r->v[i], 0, sizeof r->v[i]);
            continue;
        }
        /* the energy status is the low 32 bits; a fall that no wrap can
         * explain is a discontinuity (wl__counter_update), counted in
         * n_discontinuities and said in disc: the sampler records a gap */
        r->v[i].disc = wl__counter_update(&c->ctr, v & 0xffffffffu, wl_clock_now_ns());
        r->v[i].energy_uj = wl__counter_total_uj(&c->ctr);
        r->v[i].n_discontinuities = c->ctr.n_discontinuities;
        r->v[i].power_w = 0;
        r->v[i].valid = WL_CH_ENERGY;
    }
    r->t_after_ns = wl_clock_now_ns();
    return 0;
}

/* Removes channel ci (open time only: nobody has read the sensor yet). The
 * counters name their channel by pointer into s->info.ch: re-pointed. */
static void msr_drop_channel(struct wl_sensor *s, unsigned ci)
{
    struct rapl_msr *m = s->impl;
    wl__sensor_drop_channel(s, ci);
    for (unsigned i = ci; i + 1 < m->n; i++)
        m->c[i] = m->c[i + 1];
    m->n--;
    for (unsigned i = 0; i < m->n; i++)
        m->c[i].ctr.channel = s->info.ch[i].name;
}

/* A psys counter is only worth its name when it moves with the package it
 * is read through, which it contains: one that reads 0 at open is never a
 * channel (msr_open), the rest are checked over the update-period probe
 * (wl__sensor_probe_psys: flat, or far below its package), in psys's own
 * unit, its resolution (1 J on Sapphire Rapids: wl__rapl_unit_uj). A psys
 * that fails is dropped and listed as not summed. */
static void msr_measure_period(struct wl_sensor *s, const struct wl_sensor_params *p)
{
    struct rapl_msr *m = s->impl;
    /* tick 0: its resolution */
    wl__sensor_probe_psys_and_drop(s, p, "0x64D", 0, m->psys_contains, msr_drop_channel);
}

const struct wl_sensor_ops wl__rapl_msr_ops = {
    .name = "rapl-msr",
    .what = "RAPL energy counters read from /dev/cpu/N/msr",
    .bit = WL_BACKEND_RAPL_MSR,
    .open = msr_open,
    .read = msr_read_all,
    .close = msr_close,
    .measure_period = msr_measure_period,
};

/* RAPL units (sensor_impl.h), shared by rapl-msr, rapl-perf and
 * rapl-powercap: the kernel's per-model energy units, the unit register's
 * ESU, and which CPU each RAPL unit (package or die) is read through. */
#include "sensors/sensor_impl.h"

#include "wattlens/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
    return wl__name_cmp_natural((*a)->d_name, (*b)->d_name);
}

unsigned wl__rapl_package_units(const char *sysfs, bool by_die, struct wl__rapl_unit *units,
                                unsigned max, unsigned *n_more)
{
    unsigned n = 0, n_seen = 0;
    *n_more = 0;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/devices/system/cpu", sysfs);
    struct dirent **list = NULL;
    const int n_list = scandir(dir, &list, NULL, cmp_dirent);
    struct wl__rapl_unit *seen = n_list > 0 ? malloc((size_t)n_list * sizeof *seen) : NULL;
    for (int i = 0; seen && i < n_list; i++) {
        const int cpu = wl__sysfs_cpu_number(list[i]->d_name);
        struct wl__rapl_unit u;
        if (cpu < 0 || wl__rapl_unit_read(sysfs, cpu, by_die, &u) != 0)
            continue; /* not a CPU, or an offline one */
        bool dup = false;
        for (unsigned k = 0; k < n_seen && !dup; k++)
            dup = seen[k].pkg == u.pkg && seen[k].die == u.die;
        if (dup)
            continue;
        seen[n_seen++] = u;
        if (n < max)
            units[n++] = u;
        else
            (*n_more)++;
    }
    for (int i = 0; i < n_list; i++)
        free(list[i]);
    free(list);
    free(seen);
    if (n_seen == 0 && max > 0) /* no topology: assume one package on CPU 0 */
        units[n++] = (struct wl__rapl_unit){.cpu = 0, .pkg = 0, .die = 0};
    return n;
}

/* The kernel's RAPL model table (wl__rapl_intel_units, sensor_impl.h). */
static const struct {
    uint8_t family, model, units;
} intel_models[] = {
    /* Sandy Bridge .. Coffee/Comet Lake, Ice/Tiger/Rocket Lake clients */
    {6, 0x2A, WL__RAPL_UNITS_CORE},
    {6, 0x2D, WL__RAPL_UNITS_CORE},
    {6, 0x3A, WL__RAPL_UNITS_CORE},
    {6, 0x3E, WL__RAPL_UNITS_CORE},
    {6, 0x3C, WL__RAPL_UNITS_CORE},
    {6, 0x45, WL__RAPL_UNITS_CORE},
    {6, 0x46, WL__RAPL_UNITS_CORE},
    {6, 0x3D, WL__RAPL_UNITS_CORE},
    {6, 0x47, WL__RAPL_UNITS_CORE},
    {6, 0x5E, WL__RAPL_UNITS_CORE},
    {6, 0x4E, WL__RAPL_UNITS_CORE},
    {6, 0x8E, WL__RAPL_UNITS_CORE},
    {6, 0x9E, WL__RAPL_UNITS_CORE},
    {6, 0x66, WL__RAPL_UNITS_CORE},
    {6, 0x7E, WL__RAPL_UNITS_CORE},
    {6, 0x7D, WL__RAPL_UNITS_CORE},
    {6, 0x9D, WL__RAPL_UNITS_CORE},
    {6, 0xA6, WL__RAPL_UNITS_CORE},
    {6, 0xA5, WL__RAPL_UNITS_CORE},
    {6, 0x8C, WL__RAPL_UNITS_CORE},
    {6, 0x8D, WL__RAPL_UNITS_CORE},
    {6, 0xA7, WL__RAPL_UNITS_CORE},
    /* hybrid and later clients: Lakefield, Alder .. Wildcat Lake, Bartlett */
    {6, 0x8A, WL__RAPL_UNITS_CORE},
    {6, 0x97, WL__RAPL_UNITS_CORE},
    {6, 0x9A, WL__RAPL_UNITS_CORE},
    {6, 0xB7, WL__RAPL_UNITS_CORE},
    {6, 0xBA, WL__RAPL_UNITS_CORE},
    {6, 0xBF, WL__RAPL_UNITS_CORE},
    {6, 0xD7, WL__RAPL_UNITS_CORE},
    {6, 0xAC, WL__RAPL_UNITS_CORE},
    {6, 0xAA, WL__RAPL_UNITS_CORE},
    {6, 0xBD, WL__RAPL_UNITS_CORE},
    {6, 0xCC, WL__RAPL_UNITS_CORE},
    {6, 0xD5, WL__RAPL_UNITS_CORE},
    {6, 0xC5, WL__RAPL_UNITS_CORE},
    {6, 0xC6, WL__RAPL_UNITS_CORE},
    {6, 0xB5, WL__RAPL_UNITS_CORE},
    {18, 0x01, WL__RAPL_UNITS_CORE}, /* Nova Lake */
    {18, 0x03, WL__RAPL_UNITS_CORE},
    /* Atom: Goldmont and later read as cores; Silvermont/Airmont not */
    {6, 0xBE, WL__RAPL_UNITS_CORE},
    {6, 0x5C, WL__RAPL_UNITS_CORE},
    {6, 0x7A, WL__RAPL_UNITS_CORE},
    {6, 0x5F, WL__RAPL_UNITS_CORE},
    {6, 0x96, WL__RAPL_UNITS_CORE},
    {6, 0x86, WL__RAPL_UNITS_CORE},
    {6, 0x9C, WL__RAPL_UNITS_CORE},
    {6, 0x37, WL__RAPL_UNITS_ATOM},
    {6, 0x4C, WL__RAPL_UNITS_ATOM},
    {6, 0x4A, WL__RAPL_UNITS_ATOM},
    {6, 0x5A, WL__RAPL_UNITS_ATOM},
    /* servers: Haswell-X .. Ice Lake-X/D (Cascade and Cooper Lake are
     * Skylake-X's 0x55), Xeon Phi; Sapphire and Emerald Rapids */
    {6, 0x3F, WL__RAPL_UNITS_HSW_SERVER},
    {6, 0x4F, WL__RAPL_UNITS_HSW_SERVER},
    {6, 0x55, WL__RAPL_UNITS_HSW_SERVER},
    {6, 0x6A, WL__RAPL_UNITS_HSW_SERVER},
    {6, 0x6C, WL__RAPL_UNITS_HSW_SERVER},
    {6, 0x57, WL__RAPL_UNITS_HSW_SERVER},
    {6, 0x85, WL__RAPL_UNITS_HSW_SERVER},
    {6, 0x56, WL__RAPL_UNITS_DRAM_DISPUTED},
    {6, 0x8F, WL__RAPL_UNITS_SPR_SERVER},
    {6, 0xCF, WL__RAPL_UNITS_SPR_SERVER},
};

enum wl__rapl_units wl__rapl_intel_units(const struct wl__cpu_ident *id)
{
    if (id->vendor != WL__CPU_INTEL)
        return WL__RAPL_UNITS_UNKNOWN;
    for (size_t i = 0; i < sizeof intel_models / sizeof intel_models[0]; i++)
        if (intel_models[i].family == id->family && intel_models[i].model == id->model)
            return (enum wl__rapl_units)intel_models[i].units;
    return WL__RAPL_UNITS_UNKNOWN;
}

bool wl__rapl_tpmi_model(const struct wl__cpu_ident *id)
{
    static const struct {
        int family, model;
    } tpmi[] = {
        {6, 0xAD},  /* Granite Rapids X */
        {6, 0xAE},  /* Granite Rapids D */
        {6, 0xAF},  /* Sierra Forest */
        {6, 0xB6},  /* Grand Ridge */
        {6, 0xDD},  /* Clearwater Forest */
        {19, 0x01}, /* Diamond Rapids */
    };
    if (id->vendor != WL__CPU_INTEL)
        return false;
    for (size_t i = 0; i < sizeof tpmi / sizeof tpmi[0]; i++)
        if (tpmi[i].family == id->family && tpmi[i].model == id->model)
            return true;
    return false;
}

double wl__rapl_fixed_unit_uj(enum wl__rapl_units u, enum wl_domain d)
{
    if (u == WL__RAPL_UNITS_HSW_SERVER && d == WL_DOMAIN_DRAM)
        return 15.3;
    if (u == WL__RAPL_UNITS_SPR_SERVER && d == WL_DOMAIN_PSYS)
        return 1e6;
    return 0;
}

double wl__rapl_unit_uj(enum wl__rapl_units u, enum wl_domain d, unsigned esu, const char **why)
{
    *why = NULL;
    if (u == WL__RAPL_UNITS_ATOM)
        return (double)(1ull << esu);
    const double fixed_uj = wl__rapl_fixed_unit_uj(u, d);
    if (fixed_uj > 0)
        return fixed_uj;
    if (u == WL__RAPL_UNITS_DRAM_DISPUTED && d == WL_DOMAIN_DRAM) {
        *why = "the kernel's powercap and perf drivers disagree (0x606's or 15.3 uJ)";
        return 0;
    }
    if (u == WL__RAPL_UNITS_UNKNOWN && (d == WL_DOMAIN_DRAM || d == WL_DOMAIN_PSYS)) {
        *why = "not in the kernel's RAPL model table wattlens carries (servers use own units)";
        return 0;
    }
    return 1e6 / (double)(1ull << esu);
}

int wl__sysfs_cpu_number(const char *name)
{
    if (strncmp(name, "cpu", 3) != 0 || !name[3] || strlen(name + 3) > 6)
        return -1;
    for (const char *c = name + 3; *c; c++)
        if (*c < '0' || *c > '9')
            return -1;
    return atoi(name + 3);
}

/* wl__rapl_read_esu; *err the open's errno (wl__attr_open), 0 when it opened */
static int read_esu(const char *dev_root, int cpu, enum wl__cpu_vendor vendor, int *err)
{
    *err = 0;
    if (vendor != WL__CPU_INTEL && vendor != WL__CPU_AMD)
        return -1;
    char path[600];
    snprintf(path, sizeof path, "%s/cpu/%d/msr", dev_root, cpu);
    const int fd = wl__attr_open(path, true, err);
    if (fd < 0)
        return -1;
    uint64_t unit;
    const ssize_t n = pread(fd, &unit, sizeof unit, vendor == WL__CPU_INTEL ? 0x606 : 0xC0010299);
    close(fd);
    return n == (ssize_t)sizeof unit ? (int)((unit >> 8) & 0x1f) : -1;
}

int wl__rapl_read_esu(const char *dev_root, int cpu, enum wl__cpu_vendor vendor)
{
    int err;
    return read_esu(dev_root, cpu, vendor, &err);
}

int wl__rapl_unit_esu(const char *sysfs_root, const char *dev_root, const struct wl__rapl_unit *u,
                      bool by_die, enum wl__cpu_vendor vendor)
{
    int err;
    int esu = read_esu(dev_root, u->cpu, vendor, &err);
    if (esu >= 0 || (vendor != WL__CPU_INTEL && vendor != WL__CPU_AMD))
        return esu;
    /* a failure no other CPU's device gets past: not root, or without
     * CAP_SYS_RAWIO (EACCES, EPERM), or no MSR device at all (no <dev>/cpu:
     * no msr driver). Every other CPU's open would fail alike, after a
     * scan of every CPU's topology, once per package at each open. */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/cpu", dev_root);
    if (err == EACCES || err == EPERM || access(dir, F_OK) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/devices/system/cpu", sysfs_root);
    struct dirent **list = NULL;
    const int n_list = scandir(dir, &list, NULL, cmp_dirent);
    for (int i = 0; i < n_list; i++) {
        const int cpu = wl__sysfs_cpu_number(list[i]->d_name);
        struct wl__rapl_unit v;
        if (esu < 0 && cpu >= 0 && cpu != u->cpu &&
            wl__rapl_unit_read(sysfs_root, cpu, by_die, &v) == 0 && v.pkg == u->pkg &&
            v.die == u->die)
            esu = wl__rapl_read_esu(dev_root, cpu, vendor);
        free(list[i]);
    }
    free(list);
    return esu;
}

uint64_t wl__rapl_nominal_period_ns(enum wl_domain d)
{
    return d == WL_DOMAIN_PACKAGE || d == WL_DOMAIN_CORE || d == WL_DOMAIN_DRAM ? 1000000 : 0;
}

double wl__rapl_resolution_uj(enum wl__rapl_units rule, enum wl_domain d, int esu)
{
    const char *why;
    return esu >= 0 ? wl__rapl_unit_uj(rule, d, (unsigned)esu, &why)
                    : wl__rapl_fixed_unit_uj(rule, d);
}

int wl__rapl_unit_read(const char *sysfs_root, int cpu, bool by_die, struct wl__rapl_unit *u)
{
    char path[700];
    uint64_t pkg, die = 0;
    snprintf(path, sizeof path, "%s/devices/system/cpu/cpu%d/topology/physical_package_id",
             sysfs_root, cpu);
    int rc = wl__read_u64(path, &pkg);
    if (rc != 0)
        return rc;
    if (pkg > 65535)
        return WL_EFORMAT;
    snprintf(path, sizeof path, "%s/devices/system/cpu/cpu%d/topology/die_id", sysfs_root, cpu);
    if (!by_die || wl__read_u64(path, &die) != 0 || die > 65535)
        die = 0;
    *u = (struct wl__rapl_unit){.cpu = cpu, .pkg = (int)pkg, .die = (int)die};
    return 0;
}

bool wl__rapl_units_by_die(const struct wl__rapl_unit *u, unsigned n, unsigned *n_packages)
{
    bool by_die = false;
    unsigned n_pkg = 0;
    for (unsigned k = 0; k < n; k++) {
        by_die = by_die || u[k].die != 0;
        bool seen = false;
        for (unsigned j = 0; j < k && !seen; j++)
            seen = u[j].pkg == u[k].pkg;
        n_pkg += !seen;
    }
    if (n_packages)
        *n_packages = n_pkg;
    return by_die;
}

int wl__rapl_unit_name(char *buf, size_t size, const struct wl__rapl_unit *u, unsigned k,
                       bool by_die)
{
    if (by_die)
        return snprintf(buf, size, "package-%d-die-%d", u->pkg, u->die);
    return snprintf(buf, size, "package-%u", k);
}

int wl__rapl_psys_name(char *buf, size_t size, const struct wl__rapl_unit *u, unsigned k,
                       bool by_die, int *index)
{
    const int n = by_die ? u->pkg : (int)k;
    *index = n == 0 ? -1 : n;
    return n == 0 ? snprintf(buf, size, "psys") : snprintf(buf, size, "psys-%d", n);
}

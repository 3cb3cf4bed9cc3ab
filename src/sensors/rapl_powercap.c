/* RAPL energy counters through the Linux powercap sysfs interface
 * (<sysfs>/class/powercap/intel-rapl:N[:M]/{name,energy_uj,max_energy_range_uj}).
 *
 * Zones are matched by their `name` file (package-N, core, uncore, dram, psys),
 * never by their number. intel-rapl-mmio:* zones duplicate the package counter
 * and are skipped; psys contains the packages and is flagged WL_CH_CONTAINS;
 * core and uncore are parts of their package (WL_CH_PART). Counters wrap at
 * max_energy_range_uj and are unwrapped into 64-bit totals on every read, so
 * reads must come more often than one wrap period (tens of seconds at most).
 * The energy_uj files stay open for the sensor's lifetime; reads are pread().
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
    uint64_t max_range_uj;
    uint64_t last_raw_uj;
    uint64_t total_uj;
};

struct powercap {
    unsigned n;
    struct powercap_zone z[WL_SENSOR_MAX_CHANNELS];
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int domain_of(const char *zname, enum wl_domain *d, unsigned *flags)
{
    *flags = WL_CH_ENERGY;
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
    } else {
        return -1;
    }
    return 0;
}

/* The fix for a root-only energy_uj into buf; dir (any bytes) is shown cut
 * between characters to 100 bytes. */
static void fix_for_permission(char *buf, size_t size, const char *dir)
{
    char dir_part[101];
    wl_utf8_clip(dir_part, sizeof dir_part, dir);
    snprintf(buf, size,
             "energy_uj is readable by root only (Linux >= 5.10, CVE-2020-8694). Either run "
             "wattlens as root; or until reboot: sudo chmod a+r %s/intel-rapl:*/energy_uj "
             "%s/intel-rapl:*:*/energy_uj; or permanently with a udev rule in "
             "/etc/udev/rules.d/99-wattlens-rapl.rules: SUBSYSTEM==\"powercap\", "
             "ACTION==\"add\", RUN+=\"/bin/chmod a+r /sys%%p/energy_uj\"; or give the binary "
             "the capability: sudo setcap cap_dac_read_search+ep $(command -v wattlens)",
             dir_part, dir_part);
}

static void powercap_close(struct wl_sensor *s)
{
    struct powercap *pc = s->impl;
    if (!pc)
        return;
    for (unsigned i = 0; i < pc->n; i++) {
        if (pc->z[i].fd >= 0)
            close(pc->z[i].fd);
    }
    free(pc);
    s->impl = NULL;
}

static int powercap_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                         struct wl_sensor_status *st)
{
    char dir[1024], path[1400], zname[64];
    char *names[64];
    unsigned n_names = 0, n_mmio = 0;
    int rc = 0;
    snprintf(dir, sizeof dir, "%s/class/powercap", wl__sensor_sysfs_root(p));
    DIR *d = opendir(dir);
    if (!d)
        return wl__sensor_fail(st, WL_ENOTSUP,
                               "On Linux with an Intel CPU or AMD Zen (kernel >= 5.8): sudo "
                               "modprobe intel_rapl_msr. Virtual machines usually do not expose "
                               "RAPL.",
                               "%s does not exist (%s): no powercap framework", dir,
                               strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n_names < 64) {
        if (strncmp(e->d_name, "intel-rapl-mmio:", 16) == 0) {
            n_mmio++;
            continue;
        }
        if (strncmp(e->d_name, "intel-rapl:", 11) != 0)
            continue;
        names[n_names] = strdup(e->d_name);
        if (!names[n_names]) {
            rc = WL_ENOMEM;
            break;
        }
        n_names++;
    }
    closedir(d);
    if (rc != 0)
        goto fail_names;
    if (n_names == 0) {
        rc = wl__sensor_fail(st, WL_ENOTSUP,
                             "On an Intel CPU or AMD Zen (kernel >= 5.8): sudo modprobe "
                             "intel_rapl_msr (check with: ls /sys/class/powercap). Virtual "
                             "machines and other CPUs have no RAPL.",
                             "no intel-rapl zone under %s", dir);
        goto fail_names;
    }
    qsort(names, n_names, sizeof names[0], cmp_str);
    if (n_mmio)
        wl_log_debug("rapl",
                     "skipping %u intel-rapl-mmio zone(s): they duplicate the package "
                     "counter",
                     n_mmio);

    struct powercap *pc = calloc(1, sizeof *pc);
    if (!pc) {
        rc = WL_ENOMEM;
        goto fail_names;
    }
    s->impl = pc;
    for (unsigned i = 0; i < n_names; i++) {
        int pkg, sub;
        enum wl_domain dom;
        unsigned flags;
        if (wl__powercap_parse_zone_id(names[i], &pkg, &sub) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s/name", dir, names[i]);
        if (wl__read_name(path, zname, sizeof zname) <= 0)
            continue;
        if (domain_of(zname, &dom, &flags) != 0) {
            wl_log_debug("rapl", "%s: unknown zone name '%s', skipped", names[i], zname);
            continue;
        }
        uint64_t max_range = 0;
        snprintf(path, sizeof path, "%s/%s/max_energy_range_uj", dir, names[i]);
        rc = wl__read_u64(path, &max_range);
        if (rc != 0 || max_range == 0) {
            rc = wl__sensor_fail(st, rc ? rc : WL_EFORMAT, NULL,
                                 "%s: unreadable or zero (%s); cannot unwrap the counter", path,
                                 rc ? wl_strerror(rc) : "0");
            goto fail;
        }
        snprintf(path, sizeof path, "%s/%s/energy_uj", dir, names[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        uint64_t raw = 0;
        int err = fd < 0 ? errno : 0;
        if (fd >= 0) {
            rc = wl__pread_u64(fd, &raw);
            if (rc == WL_EACCES)
                err = EACCES;
        }
        if (err == EACCES || err == EPERM) {
            if (fd >= 0)
                close(fd);
            /* the zone's part of the path is short (wl__powercap_parse_zone_id), the
             * root's any length: cut that, so the why still names the file */
            char dir_part[301];
            wl_utf8_clip(dir_part, sizeof dir_part, dir);
            rc = wl__sensor_fail(st, WL_EACCES, NULL, "%s/%s/energy_uj: permission denied",
                                 dir_part, names[i]);
            fix_for_permission(st->fix, sizeof st->fix, dir);
            goto fail;
        }
        if (fd < 0 || rc != 0) {
            if (fd >= 0)
                close(fd);
            rc = wl__sensor_fail(st, fd < 0 ? wl_error_from_errno(err) : rc, NULL,
                                 "%s: cannot read (%s)", path,
                                 fd < 0 ? strerror(err) : wl_strerror(rc));
            goto fail;
        }
        /* zname (any bytes from sysfs) cut between characters, as every
         * channel name is */
        char chname[WL_SENSOR_NAME_MAX], zpart[41];
        wl_utf8_copy(zpart, sizeof zpart, zname);
        if (sub < 0)
            snprintf(chname, sizeof chname, "%s", zname);
        else
            snprintf(chname, sizeof chname, "package-%d/%s", pkg, zpart);
        int ci = wl__sensor_add_channel(s, chname, dom, WL_METHOD_COUNTER, flags,
                                        dom == WL_DOMAIN_PSYS ? -1 : pkg);
        if (ci < 0) {
            close(fd);
            break;
        }
        s->info.ch[ci].resolution_uj = 1.0;
        struct powercap_zone *z = &pc->z[pc->n++];
        z->fd = fd;
        z->max_range_uj = max_range;
        z->last_raw_uj = raw;
        z->total_uj = 0;
    }
    if (pc->n == 0) {
        rc = wl__sensor_fail(st, WL_ENOTSUP, NULL,
                             "no usable RAPL zone under %s (zone names not recognised)", dir);
        goto fail;
    }
    char dir_part[181]; /* cut between characters */
    wl_utf8_clip(dir_part, sizeof dir_part, dir);
    wl__sensor_set_source(s, "%s (%u zone(s)%s)", dir_part, pc->n,
                          n_mmio ? ", intel-rapl-mmio duplicates skipped" : "");
    for (unsigned i = 0; i < n_names; i++)
        free(names[i]);
    return 0;
fail:
    powercap_close(s);
    s->info.n_channels = 0;
fail_names:
    for (unsigned i = 0; i < n_names; i++)
        free(names[i]);
    return rc;
}

static int powercap_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    struct powercap *pc = s->impl;
    r->t_before_ns = wl_clock_now_ns();
    r->n_channels = pc->n;
    for (unsigned i = 0; i < pc->n; i++) {
        struct powercap_zone *z = &pc->z[i];
        uint64_t raw;
        int rc = wl__pread_u64(z->fd, &raw);
        if (rc != 0)
            return WL_ESENSOR;
        z->total_uj += wl__counter_step(z->last_raw_uj, raw, z->max_range_uj);
        z->last_raw_uj = raw;
        r->v[i].energy_uj = z->total_uj;
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

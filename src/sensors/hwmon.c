/* Power and energy from Linux hwmon devices
 * (<sysfs>/class/hwmon/hwmonN/{name, power*_input (uW), energy*_input (uJ), *_label}).
 *
 * The device name decides the domain: amdgpu/nouveau/i915/xe -> gpu;
 * amd_energy / zenpower "Esocket*" -> package (energy counters), "Ecore*" is
 * per core and skipped (would need a sum); power_meter (ACPI) -> total (contains
 * everything, WL_CH_CONTAINS); anything else -> total, flagged as containing
 * others because its scope is unknown. energy*_input is a cumulative counter
 * (64-bit, never wraps: a decrease is a discontinuity, wl__counter_update,
 * counted in n_discontinuities rather than the total falling); power*_input is sampled
 * power (integrated by the sampler). Files stay open. Devices and their files
 * are taken in natural order (hwmon2 before hwmon10); one that cannot be
 * read, or one over the channel limit, is listed in not_read.
 */
#include "sensors/sensor_impl.h"

#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hwmon_ch {
    int fd;
    bool is_energy;
    struct wl__counter ctr; /* energy: uJ, never wraps */
};

struct hwmon {
    unsigned n;
    struct hwmon_ch c[WL_SENSOR_MAX_CHANNELS];
};

static void hwmon_close(struct wl_sensor *s)
{
    struct hwmon *h = s->impl;
    if (!h)
        return;
    for (unsigned i = 0; i < h->n; i++)
        close(h->c[i].fd);
    free(h);
    s->impl = NULL;
}

static enum wl_domain device_domain(const char *dev, unsigned *flags)
{
    *flags = 0;
    if (strcmp(dev, "amdgpu") == 0 || strcmp(dev, "nouveau") == 0 || strcmp(dev, "i915") == 0 ||
        strcmp(dev, "xe") == 0)
        return WL_DOMAIN_GPU;
    if (strcmp(dev, "amd_energy") == 0 || strcmp(dev, "zenpower") == 0)
        return WL_DOMAIN_PACKAGE;
    *flags = WL_CH_CONTAINS;
    return WL_DOMAIN_TOTAL;
}

static void add_file(struct wl_sensor *s, struct hwmon *h, const char *dir, const char *hw,
                     const char *dev, const char *file, bool is_energy)
{
    char path[1400], label[WL_SENSOR_NAME_MAX] = "";
    unsigned flags;
    enum wl_domain d = device_domain(dev, &flags);
    /* label file: "power1_input" -> "power1_label"; base holds any d_name */
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(file) - strlen("_input")), file);
    snprintf(path, sizeof path, "%s/%s_label", dir, base);
    wl__read_name(path, label, sizeof label);
    if (strncmp(label, "Ecore", 5) == 0)
        return; /* per-core energy (amd_energy): not summed here */
    /* "hwmonN/<name>/powerM", each part cut between characters so that the
     * three fit (16 + 24 + 20 bytes and two slashes) */
    char name[WL_SENSOR_NAME_MAX], hw_part[17], dev_part[25], base_part[21];
    wl_utf8_copy(hw_part, sizeof hw_part, hw);
    wl_utf8_copy(dev_part, sizeof dev_part, dev);
    wl_utf8_copy(base_part, sizeof base_part, base);
    snprintf(name, sizeof name, "%s/%s/%s", hw_part, dev_part, base_part);
    if (h->n >= WL_SENSOR_MAX_CHANNELS) {
        wl__sensor_not_read(s, "%s: over the limit of %d channels per sensor", name,
                            WL_SENSOR_MAX_CHANNELS);
        return;
    }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int err = 0;
    int fd = wl__attr_open(path, false, &err);
    uint64_t v;
    if (fd < 0 || wl__pread_u64_err(fd, &v, &err) != 0) {
        if (fd >= 0)
            close(fd);
        wl__sensor_not_read(s, "%s: %s", name, wl__attr_strerror(err));
        return;
    }
    const uint64_t t_ns = wl_clock_now_ns();
    int ci = wl__sensor_add_channel(s, name, d, is_energy ? WL_METHOD_COUNTER : WL_METHOD_SAMPLED,
                                    flags | (is_energy ? WL_CH_ENERGY : WL_CH_POWER), -1);
    wl_utf8_copy(s->info.ch[ci].label, sizeof s->info.ch[ci].label, label);
    if (is_energy)
        s->info.ch[ci].resolution_uj = 1.0;
    else
        s->info.ch[ci].power_resolution_w = 1e-6;
    struct hwmon_ch *c = &h->c[h->n++];
    c->fd = fd;
    c->is_energy = is_energy;
    if (is_energy)
        wl__counter_init(&c->ctr, "hwmon", s->info.ch[ci].name, UINT64_MAX, 1.0, v, t_ns);
}

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
    return wl__name_cmp_natural((*a)->d_name, (*b)->d_name);
}

static void free_list(struct dirent **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static int is_input(const char *n, const char *prefix)
{
    size_t lp = strlen(prefix), ln = strlen(n);
    return strncmp(n, prefix, lp) == 0 && ln > lp + 6 && strcmp(n + ln - 6, "_input") == 0;
}

static int hwmon_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                      struct wl_sensor_status *st)
{
    char root[1024];
    snprintf(root, sizeof root, "%s/class/hwmon", wl__sensor_sysfs_root(p));
    static const char *fix =
        "hwmon power/energy comes from drivers such as amdgpu (AMD GPUs), amd_energy or zenpower "
        "(AMD CPUs: sudo modprobe amd_energy) and acpi_power_meter (servers: sudo modprobe "
        "acpi_power_meter).";
    struct dirent **devs = NULL;
    int n_list = scandir(root, &devs, NULL, cmp_dirent);
    if (n_list < 0) {
        int e = errno;
        if (e == ENOENT)
            return wl__sensor_fail(st, WL_ENOTSUP, fix, "%s does not exist (%s)", root,
                                   strerror(e));
        return wl__sensor_fail(st, WL_ENOTSUP, fix, "%s: cannot open the directory (%s)", root,
                               strerror(e));
    }
    struct hwmon *h = calloc(1, sizeof *h);
    if (!h) {
        free_list(devs, n_list);
        return WL_ENOMEM;
    }
    s->impl = h;
    unsigned n_dev = 0;
    for (int i = 0; i < n_list; i++) {
        const char *hw = devs[i]->d_name;
        if (strncmp(hw, "hwmon", 5) != 0)
            continue;
        n_dev++;
        char dir[1400], dev[64] = "?";
        snprintf(dir, sizeof dir, "%s/%s", root, hw);
        char path[1500];
        snprintf(path, sizeof path, "%s/name", dir);
        wl__read_name(path, dev, sizeof dev);
        struct dirent **files = NULL;
        int n_files = scandir(dir, &files, NULL, cmp_dirent);
        for (int k = 0; k < n_files; k++) {
            const char *f = files[k]->d_name;
            if (is_input(f, "energy"))
                add_file(s, h, dir, hw, dev, f, true);
            else if (is_input(f, "power"))
                add_file(s, h, dir, hw, dev, f, false);
        }
        free_list(files, n_files);
    }
    free_list(devs, n_list);
    if (h->n == 0) {
        hwmon_close(s);
        s->info.n_channels = 0;
        if (s->info.n_not_read)
            return wl__sensor_fail(st, WL_ENOTSUP, fix,
                                   "none of the %u hwmon device(s) under %s exposes a readable "
                                   "power*_input or energy*_input (%u unreadable; the first: %s)",
                                   n_dev, root, s->info.n_not_read, s->info.not_read[0]);
        return wl__sensor_fail(st, WL_ENOTSUP, fix,
                               "none of the %u hwmon device(s) under %s exposes a readable "
                               "power*_input or energy*_input",
                               n_dev, root);
    }
    /* the root is any bytes (WATTLENS_SYSFS_ROOT): cut between characters */
    char root_part[201];
    wl_utf8_clip(root_part, sizeof root_part, root);
    wl__sensor_set_source(s, "%s (%u channel(s))", root_part, h->n);
    return 0;
}

static int hwmon_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    struct hwmon *h = s->impl;
    r->t_before_ns = wl_clock_now_ns();
    r->n_channels = h->n;
    for (unsigned i = 0; i < h->n; i++) {
        uint64_t v;
        if (wl__pread_u64(h->c[i].fd, &v) != 0)
            return WL_ESENSOR;
        if (h->c[i].is_energy) {
            /* a decrease (a driver reloaded) is a discontinuity, not a
             * falling total: counted in n_discontinuities, the energy
             * across it unknown (the sampler records a gap; disc says
             * what it was) */
            r->v[i].disc = wl__counter_update(&h->c[i].ctr, v, wl_clock_now_ns());
            r->v[i].energy_uj = wl__counter_total_uj(&h->c[i].ctr);
            r->v[i].n_discontinuities = h->c[i].ctr.n_discontinuities;
            r->v[i].power_w = 0;
            r->v[i].valid = WL_CH_ENERGY;
        } else {
            r->v[i].energy_uj = 0;
            r->v[i].power_w = (double)v / 1e6;
            r->v[i].valid = WL_CH_POWER;
        }
    }
    r->t_after_ns = wl_clock_now_ns();
    return 0;
}

const struct wl_sensor_ops wl__hwmon_ops = {
    .name = "hwmon",
    .what = "Linux hwmon power*_input / energy*_input (AMD GPUs, amd_energy, ACPI power meter)",
    .bit = WL_BACKEND_HWMON,
    .open = hwmon_open,
    .read = hwmon_read,
    .close = hwmon_close,
};

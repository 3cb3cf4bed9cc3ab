/* Power and energy from Linux hwmon devices
 * (<sysfs>/class/hwmon/hwmonN/{name, power*_input (uW), energy*_input (uJ), *_label}).
 *
 * The device name decides the domain: amdgpu/nouveau/i915/xe -> gpu;
 * amd_energy / zenpower "Esocket*" -> package (energy counters), "Ecore*" is
 * per core and skipped (would need a sum); power_meter (ACPI) -> total (contains
 * everything, WL_CH_CONTAINS); anything else -> total, flagged as containing
 * others because its scope is unknown. The sampler sums the channels of one
 * domain, and the channels of a device of unknown scope may include one
 * another (corsair-psu: the input and its rails), as may two such devices,
 * so exactly one channel of them all is read as the total (add_unknown_device)
 * and every other one is listed in not_read with why. energy*_input is a
 * cumulative counter (64-bit, never wraps: a decrease is a discontinuity,
 * wl__counter_update, counted in n_discontinuities rather than the total
 * falling); power*_input is sampled power (integrated by the sampler). Files
 * stay open. Devices and their files are taken in natural order (hwmon2
 * before hwmon10); one that cannot be read, or one over the channel limit,
 * is listed in not_read.
 */
#include "sensors/sensor_impl.h"

#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <ctype.h>
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

/* One power*_input or energy*_input file of a device. */
struct cand {
    char base[256]; /* "power1": the file name without "_input" (any d_name) */
    char label[WL_SENSOR_NAME_MAX];
    bool is_energy;
    int rank;     /* devices of unknown scope: lower is read first (cand_rank) */
    unsigned seq; /* its place in file order (cmp_cand) */
};

/* Lower rank first, then lower seq (the order found), so that equals keep
 * that order (qsort is not stable). */
static int cmp_rank_seq(int rank_a, unsigned seq_a, int rank_b, unsigned seq_b)
{
    if (rank_a != rank_b)
        return rank_a < rank_b ? -1 : 1;
    return seq_a < seq_b ? -1 : seq_a > seq_b;
}

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return cmp_rank_seq(x->rank, x->seq, y->rank, y->seq);
}

/* "hwmonN/<name>/powerM", each part cut between characters so that the
 * three fit (16 + 24 + 20 bytes and two slashes) */
static void chan_name(char name[WL_SENSOR_NAME_MAX], const char *hw, const char *dev,
                      const char *base)
{
    char hw_part[17], dev_part[25], base_part[21];
    wl_utf8_copy(hw_part, sizeof hw_part, hw);
    wl_utf8_copy(dev_part, sizeof dev_part, dev);
    wl_utf8_copy(base_part, sizeof base_part, base);
    snprintf(name, WL_SENSOR_NAME_MAX, "%s/%s/%s", hw_part, dev_part, base_part);
}

/* Opens and reads c's file and adds it as a channel of domain d; an
 * unreadable one, or one over the limit, is listed in not_read. Returns
 * true when the channel was added. */
static bool add_cand(struct wl_sensor *s, struct hwmon *h, const char *dir, const char *hw,
                     const char *dev, const struct cand *c, enum wl_domain d, unsigned flags)
{
    char name[WL_SENSOR_NAME_MAX];
    chan_name(name, hw, dev, c->base);
    if (h->n >= WL_SENSOR_MAX_CHANNELS) {
        wl__sensor_not_read(s, "%s: over the limit of %d channels per sensor", name,
                            WL_SENSOR_MAX_CHANNELS);
        return false;
    }
    char path[1700];
    snprintf(path, sizeof path, "%s/%s_input", dir, c->base);
    int err = 0;
    int fd = wl__attr_open(path, false, &err);
    uint64_t v;
    if (fd < 0 || wl__pread_u64_err(fd, &v, &err) != 0) {
        if (fd >= 0)
            close(fd);
        wl__sensor_not_read(s, "%s: %s", name, wl__attr_strerror(err));
        return false;
    }
    const uint64_t t_ns = wl_clock_now_ns();
    const bool is_energy = c->is_energy;
    int ci = wl__sensor_add_channel(s, name, d, is_energy ? WL_METHOD_COUNTER : WL_METHOD_SAMPLED,
                                    flags | (is_energy ? WL_CH_ENERGY : WL_CH_POWER), -1);
    wl_utf8_copy(s->info.ch[ci].label, sizeof s->info.ch[ci].label, c->label);
    if (is_energy)
        s->info.ch[ci].resolution_uj = 1.0;
    else
        s->info.ch[ci].power_resolution_w = 1e-6;
    struct hwmon_ch *hc = &h->c[h->n++];
    hc->fd = fd;
    hc->is_energy = is_energy;
    if (is_energy)
        wl__counter_init(&hc->ctr, "hwmon", s->info.ch[ci].name, UINT64_MAX, 1.0, v, t_ns);
    return true;
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

/* True when text contains word (lower case), ignoring ASCII case. */
static bool contains_ci(const char *text, const char *word)
{
    const size_t n = strlen(word);
    for (; *text; text++) {
        size_t k = 0;
        while (k < n && text[k] && tolower((unsigned char)text[k]) == word[k])
            k++;
        if (k == n)
            return true;
    }
    return false;
}

/* Which channel of a device of unknown scope is read (the lowest rank; in
 * file order among equals): one labelled as the total ("power total" in
 * corsair-psu), else channel 1 (power1 of an ACPI power meter), else the
 * first; an energy counter before a power of the same rank. */
static int cand_rank(const struct cand *c)
{
    const char *digits = c->base + (c->is_energy ? strlen("energy") : strlen("power"));
    const int rank = contains_ci(c->label, "total") ? 0 : strcmp(digits, "1") == 0 ? 2 : 4;
    return rank + (c->is_energy ? 0 : 1);
}

/* The power*_input and energy*_input files of the device in dir, in
 * natural order (labels read, per-core Ecore* energies left out: they
 * would need a sum), into *out (heap, NULL when none; caller frees).
 * Returns how many. */
static unsigned scan_device(const char *dir, struct cand **out)
{
    *out = NULL;
    struct dirent **files = NULL;
    int n_files = scandir(dir, &files, NULL, cmp_dirent);
    if (n_files <= 0) {
        free_list(files, 0);
        return 0;
    }
    struct cand *c = calloc((size_t)n_files, sizeof *c);
    unsigned n = 0;
    for (int k = 0; c && k < n_files; k++) {
        const char *f = files[k]->d_name;
        const bool energy = is_input(f, "energy");
        if (!energy && !is_input(f, "power"))
            continue;
        struct cand *x = &c[n];
        snprintf(x->base, sizeof x->base, "%.*s", (int)(strlen(f) - strlen("_input")), f);
        char path[1700];
        snprintf(path, sizeof path, "%s/%s_label", dir, x->base);
        x->label[0] = '\0';
        wl__read_name(path, x->label, sizeof x->label);
        if (strncmp(x->label, "Ecore", 5) == 0)
            continue; /* per-core energy (amd_energy): not summed here */
        x->is_energy = energy;
        x->rank = cand_rank(x);
        x->seq = n;
        n++;
    }
    free_list(files, n_files);
    *out = c;
    return n;
}

/* A device of unknown scope (its name is none of the known drivers'). */
struct unknown_dev {
    const char *hw;
    char dev[64];
    char dir[1400];
    struct cand *c; /* its files, best first (cand_rank) */
    unsigned n;
    int rank;     /* which device is read: lower first (unknown_dev_rank) */
    unsigned seq; /* its place in natural order (cmp_unknown_dev) */
};

static int cmp_unknown_dev(const void *a, const void *b)
{
    const struct unknown_dev *x = a, *y = b;
    return cmp_rank_seq(x->rank, x->seq, y->rank, y->seq);
}

/* Which device of unknown scope is read: an ACPI power meter (the whole
 * system), else one with a channel labelled as a total, else the first. */
static int unknown_dev_rank(const struct unknown_dev *u)
{
    if (strcmp(u->dev, "power_meter") == 0)
        return 0;
    return u->n > 0 && u->c[0].rank < 2 ? 1 : 2;
}

/* The devices of unknown scope: their channels may include one another
 * (corsair-psu's power1 is the PSU's input, power2-4 its rails), and two
 * such devices may too (an ACPI meter of the whole system and a pump), so
 * the sampler, which sums the channels of one domain, gets exactly one
 * channel of domain total: the best one (cand_rank) of the first device
 * (unknown_dev_rank, then natural order) that can be read. Every other one
 * is listed in not_read with why. device_domain put every such device in
 * domain total with WL_CH_CONTAINS; its channel is added as that.
 * total_name: the chosen channel's name, "" until one is. */
static void add_unknown_device(struct wl_sensor *s, struct hwmon *h, const struct unknown_dev *u,
                               char total_name[WL_SENSOR_NAME_MAX])
{
    const bool other_device = total_name[0] != '\0';
    for (unsigned i = 0; i < u->n; i++) {
        char name[WL_SENSOR_NAME_MAX];
        chan_name(name, u->hw, u->dev, u->c[i].base);
        if (other_device)
            wl__sensor_not_read(s,
                                "%s: not summed with %s, read as the total (devices of unknown "
                                "scope may include each other)",
                                name, total_name);
        else if (total_name[0])
            wl__sensor_not_read(s,
                                "%s: not summed with %s, read as this device's total (channels "
                                "of a device of unknown scope may include each other)",
                                name, total_name);
        else if (add_cand(s, h, u->dir, u->hw, u->dev, &u->c[i], WL_DOMAIN_TOTAL, WL_CH_CONTAINS))
            memcpy(total_name, name, WL_SENSOR_NAME_MAX);
    }
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
    struct unknown_dev *unk = calloc((size_t)n_list + 1, sizeof *unk);
    if (!h || !unk) {
        free(h);
        free(unk);
        free_list(devs, n_list);
        return WL_ENOMEM;
    }
    s->impl = h;
    unsigned n_dev = 0, n_unk = 0;
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
        unsigned flags;
        const enum wl_domain d = device_domain(dev, &flags);
        struct cand *c = NULL;
        const unsigned n = scan_device(dir, &c);
        if (d != WL_DOMAIN_TOTAL) {
            for (unsigned k = 0; k < n; k++)
                add_cand(s, h, dir, hw, dev, &c[k], d, flags);
            free(c);
            continue;
        }
        /* scope unknown (device_domain: total, containing others): after
         * the known devices, one channel of them all */
        if (n > 1)
            qsort(c, n, sizeof *c, cmp_cand); /* best first, file order among equals */
        struct unknown_dev *u = &unk[n_unk];
        u->seq = n_unk++;
        u->hw = hw;
        memcpy(u->dev, dev, sizeof u->dev);
        memcpy(u->dir, dir, sizeof u->dir);
        u->c = c;
        u->n = n;
        u->rank = unknown_dev_rank(u);
    }
    if (n_unk > 1)
        qsort(unk, n_unk, sizeof *unk, cmp_unknown_dev); /* natural order among equals */
    char total_name[WL_SENSOR_NAME_MAX] = "";
    for (unsigned i = 0; i < n_unk; i++) {
        add_unknown_device(s, h, &unk[i], total_name);
        free(unk[i].c);
    }
    free(unk);
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

/* Power and energy from Linux hwmon devices
 * (<sysfs>/class/hwmon/hwmonN/{name, power*_input or power*_average (uW),
 * energy*_input (uJ), *_label}; a device registered the legacy way, such
 * as the ACPI power meter before its conversion, has its name and files
 * in hwmonN/device/, the device it belongs to).
 *
 * What a device measures decides what is summed, by one rule
 * (device_class: its name, and for amdgpu its files; class_domain):
 *  - amdgpu on an APU (vddnb, a fastPPT label or a known APU's PCI id;
 *    amdgpu_is_apu): soc, the socket's power with the CPU's in it
 *    (WL_CH_CONTAINS: never added to a package), one channel;
 *  - amdgpu on a discrete card, nouveau, i915, xe: gpu, one channel per
 *    device, its whole (xe's energy2 "pkg" is inside energy1 "card", and
 *    the sampler sums every channel of a domain); i915's per-GT devices
 *    (i915_gtN) are parts of the i915 one: not summed;
 *  - amd_energy, zenpower: package, every channel ("Esocket*"; the
 *    per-core "Ecore*" is skipped: it would need a sum);
 *  - a whole-system meter (ACPI power_meter; corsairpsu, a PSU that
 *    reports its total): total, containing everything (WL_CH_CONTAINS).
 *    A meter's channels may include one another (corsair-psu: the total
 *    and its rails), as may two meters, so exactly one channel of them
 *    all is read as the total (add_system_device); a rail is never it:
 *    a meter whose total cannot be read is skipped (add_device_whole);
 *  - any other device: its scope is unknown (an SFP module's laser power,
 *    a pump, a NIC, a VRM, an INA2xx rail): not the system, and which part
 *    of it is unknown, so none of its channels is summed.
 * Every channel found and not summed is listed with why (not_summed, or
 * not_read where a total may be short). energy*_input is a cumulative
 * counter (64-bit, never wraps: a decrease is a discontinuity,
 * wl__counter_update, counted in n_discontinuities rather than the total
 * falling); power*_input is sampled power (integrated by the sampler);
 * power*_average, a power the device averaged over its own interval (the
 * ACPI meter's power1_average_interval, amdgpu's SMU), is a vendor
 * estimate, integrated the same way (a channel's power*_input is read
 * instead when it has one). Files stay open. Devices and their files are
 * taken in natural order (hwmon2 before hwmon10); one that cannot be read,
 * or one over the channel limit, is listed in not_read.
 */
#include "sensors/sensor_impl.h"

#include "util/ascii.h"
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
#include <strings.h>
#include <unistd.h>

struct hwmon_ch {
    int fd;
    bool is_energy;
    bool started;           /* energy: ctr holds a first value (false while asleep since open) */
    struct wl__counter ctr; /* energy: uJ, never wraps */
    /* a discrete GPU's: its device's power/runtime_status, open for
     * device_asleep (asleep reads as 0 W); -1 for any other device, or a
     * GPU without one (never asleep) */
    int status_fd;
};

struct hwmon {
    unsigned n;
    unsigned n_asleep; /* channels asleep at open (read as 0 W) */
    struct hwmon_ch c[WL_SENSOR_MAX_CHANNELS];
};

static void hwmon_close(struct wl_sensor *s)
{
    struct hwmon *h = s->impl;
    if (!h)
        return;
    for (unsigned i = 0; i < h->n; i++) {
        close(h->c[i].fd);
        if (h->c[i].status_fd >= 0)
            close(h->c[i].status_fd);
    }
    free(h);
    s->impl = NULL;
}

/* One power or energy file of a device: energy*_input, power*_input or
 * power*_average. */
struct cand {
    char base[256]; /* "power1": the file name without its suffix (any d_name) */
    char label[WL_SENSOR_NAME_MAX];
    bool is_energy;
    bool is_average; /* power*_average, not *_input */
    int rank;     /* one channel of a device: lower is read first (cand_rank) */
    unsigned seq; /* its place in file order (cmp_cand) */
};

/* What a device measures, from its name: what its channels are summed
 * into (class_domain). */
enum dev_class {
    DEV_GPU,      /* a GPU: gpu, one channel per device */
    DEV_APU,      /* an AMD APU's socket (CPU + GPU): soc, contains package, one channel */
    DEV_CPU,      /* per-socket CPU energy: package, every channel */
    DEV_SYSTEM,   /* the whole system: total (contains everything), one channel of all */
    DEV_GPU_PART, /* a part of a GPU another device reads whole: nothing summed */
    DEV_UNKNOWN,  /* scope unknown: nothing summed */
};

static bool name_in(const char *dev, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(dev, *names) == 0)
            return true;
    return false;
}

/* True when the PCI device an amdgpu hwmon belongs to (dir/device) is an
 * APU that amdgpu gives no vddnb: the GC 9.4.3 APU, MI300A (0x74a0; the
 * same GC's MI300X, 0x74a1, is a card), whose in1 amdgpu_pm.c hides as it
 * does a card's. Its socket power holds its CPU as any APU's does. */
static bool amdgpu_pci_is_apu_without_vddnb(const char *dir)
{
    static const unsigned long ids[] = {0x74a0};
    char path[1500], text[32];
    unsigned long id[2];
    static const char *const attr[2] = {"vendor", "device"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/device/%s", dir, attr[i]);
        char *end = NULL;
        if (wl__read_name(path, text, sizeof text) <= 0)
            return false;
        errno = 0;
        id[i] = strtoul(text, &end, 16);
        if (errno || end == text || (*end && *end != '\n'))
            return false;
    }
    if (id[0] != 0x1002) /* AMD */
        return false;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (id[1] == ids[i])
            return true;
    return false;
}

/* True when a read failed with err because the device is asleep: amdgpu
 * refuses its power files with EPERM while the GPU is runtime-suspended
 * (amdgpu_pm_get_access_if_active: pm_runtime_get_if_active is 0 when the
 * device is not RPM_ACTIVE) and also in a GPU reset or a system suspend;
 * its runtime_status (status_fd: <device>/power/runtime_status, kept open,
 * read with pread as the power files are: a sleeping GPU is read on every
 * sample, under the sensor lock) tells them apart: "suspended" or
 * "suspending" is asleep, "active" (a reset) is not. No status (-1): never
 * asleep. */
static bool device_asleep(int err, int status_fd)
{
    char text[32];
    if (err != EPERM || status_fd < 0)
        return false;
    const ssize_t n = pread(status_fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return false;
    text[n] = '\0';
    text[strcspn(text, "\n")] = '\0';
    return strcmp(text, "suspended") == 0 || strcmp(text, "suspending") == 0;
}

/* The runtime PM state file of the device whose hwmon folder is dir
 * (hwmonN/device/power/runtime_status; for a legacy device, whose files
 * are in hwmonN/device, its own power/), opened for device_asleep; -1 when
 * there is none (a device without runtime PM: never asleep). */
static int status_open(const char *dir)
{
    char status[1700];
    const size_t ld = strlen(dir);
    const bool legacy = ld >= 7 && strcmp(dir + ld - 7, "/device") == 0;
    snprintf(status, sizeof status, "%s%s/power/runtime_status", dir, legacy ? "" : "/device");
    const int fd = wl__attr_open(status, false, NULL);
    return fd >= 0 ? fd : -1;
}

/* True when an amdgpu device is an APU's GPU, from what amdgpu_pm.c
 * creates only there: in1 (vddnb, the northbridge voltage: "only APUs have
 * vddnb", hwmon_attributes_visible), which must read as a number (an old
 * kernel made it on a discrete card too, where reading it fails with
 * EINVAL: amdgpu_hwmon_show_vddnb's "only APUs have vddnb"); or a
 * power channel labelled "fastPPT" (Van Gogh's slow/fast PPT pair); or a
 * PCI id of an APU whose in1 is hidden (amdgpu_pci_is_apu_without_vddnb).
 * An in1 that exists and fails with EINVAL is a card at once (no wait, no
 * warning: it cost 50 ms per card on every open), and so is one refused
 * (EPERM) while the device is runtime-suspended (device_asleep, the rule
 * the power files follow): amdgpu refuses every power file of a sleeping
 * GPU, so that EPERM tells nothing about in1, and only discrete boards are
 * runtime-suspended (BOCO, BACO); no wait, no warning. One that fails
 * otherwise is read again once after 50 ms: the driver fails it during a
 * GPU reset or a system suspend (-EPERM with the device "active"), and an
 * APU taken for a card is added to the CPU package it holds. An APU's power1 is the
 * socket's power, the CPU's included (the driver's hwmon docs: "On APUs
 * this includes the CPU"). dir: the device's folder; c, n: its files;
 * hw: its hwmon name, for the log. */
static bool amdgpu_is_apu(const char *dir, const struct cand *c, unsigned n, const char *hw)
{
    char path[1500];
    snprintf(path, sizeof path, "%s/in1_input", dir);
    uint64_t mv;
    int err = 0;
    if (wl__read_u64_err(path, &mv, &err) == 0)
        return true;
    for (unsigned i = 0; i < n; i++)
        if (strcmp(c[i].label, "fastPPT") == 0)
            return true;
    if (amdgpu_pci_is_apu_without_vddnb(dir))
        return true;
    if (err == ENOENT || err == ENOTDIR || err == EINVAL)
        return false; /* no in1, or the card's "only APUs have vddnb": a card */
    if (err == EPERM) {
        /* runtime-suspended: the driver refuses every power file then, in1
         * as well, so its EPERM says nothing about in1; and amdgpu
         * suspends discrete boards only (BOCO, BACO): a card, at once */
        const int status_fd = status_open(dir);
        const bool asleep = device_asleep(err, status_fd);
        if (status_fd >= 0)
            close(status_fd);
        if (asleep)
            return false;
    }
    wl_clock_sleep_ns(50000000ull);
    if (wl__read_u64(path, &mv) == 0)
        return true;
    wl_log_warn("hwmon",
                "%s (amdgpu): in1 (vddnb) exists but cannot be read (twice): taken for a "
                "discrete GPU (an old kernel makes it there); were it an APU in a reset or "
                "suspend, its socket power, CPU included, would be added to the CPU package",
                hw);
    return false;
}

/* The one rule for what a device is, from its name (dev) and, for amdgpu,
 * its files (amdgpu_is_apu). A whole-system meter is a driver known
 * to measure the power of the whole machine: the ACPI power meter (ACPI
 * 4.0 _PMM, "power_meter") and Corsair's HID PSUs ("corsairpsu", whose
 * power1 "power total" is the PSU's total and power2-4 its rails). Every
 * other driver that exposes power (sfp's TX/RX laser power, pumps, NICs,
 * PMBus VRMs, INA2xx rail monitors, fam15h_power) measures a part of the
 * machine, or something outside it, that is not known: never a headline. */
static enum dev_class device_class(const char *dev, const char *dir, const struct cand *c,
                                   unsigned n, const char *hw)
{
    static const char *const gpu[] = {"amdgpu", "nouveau", "i915", "xe", NULL};
    static const char *const cpu[] = {"amd_energy", "zenpower", NULL};
    static const char *const system[] = {"power_meter", "corsairpsu", NULL};
    if (strcmp(dev, "amdgpu") == 0 && amdgpu_is_apu(dir, c, n, hw))
        return DEV_APU;
    if (name_in(dev, gpu))
        return DEV_GPU;
    if (name_in(dev, cpu))
        return DEV_CPU;
    if (name_in(dev, system))
        return DEV_SYSTEM;
    if (strncmp(dev, "i915_gt", strlen("i915_gt")) == 0)
        return DEV_GPU_PART; /* one GT's energy; the "i915" device has the GPU's */
    return DEV_UNKNOWN;
}

/* The domain and channel flags of a class's summed channels;
 * WL_DOMAIN_COUNT (no domain) for a class that is not summed. */
static enum wl_domain class_domain(enum dev_class c, unsigned *flags)
{
    *flags = 0;
    switch (c) {
    case DEV_GPU:
        return WL_DOMAIN_GPU;
    case DEV_APU:
        *flags = WL_CH_CONTAINS; /* the CPU package is inside */
        return WL_DOMAIN_SOC;
    case DEV_CPU:
        return WL_DOMAIN_PACKAGE;
    case DEV_SYSTEM:
        *flags = WL_CH_CONTAINS; /* everything is inside */
        return WL_DOMAIN_TOTAL;
    case DEV_GPU_PART:
    case DEV_UNKNOWN:
        break;
    }
    return WL_DOMAIN_COUNT;
}

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

/* Why c's file could not be read, for a not_read line: EPERM is the
 * driver refusing, not a file permission: running as root does not change
 * it. Only for a GPU (gpu) is the driver's reason known: amdgpu in a GPU
 * reset or a system suspend (asleep is read as 0 W, device_asleep). */
static const char *read_strerror(int err, bool gpu)
{
    if (err == EPERM && gpu)
        return "refused by the driver (EPERM: a GPU in a reset or a system suspend; not a file "
               "permission, root does not help)";
    if (err == EPERM)
        return "refused by the driver (EPERM; not a file permission, root does not help)";
    return wl__attr_strerror(err);
}

/* Opens and reads c's file and adds it as a channel of domain d; an
 * unreadable one, or one over the limit, is listed in not_read. With
 * sleep_is_zero (a discrete GPU), a file refused because the device is
 * asleep (device_asleep) is added: it reads as 0 W while the GPU sleeps.
 * Returns true when the channel was added. */
static bool add_cand(struct wl_sensor *s, struct hwmon *h, const char *dir, const char *hw,
                     const char *dev, const struct cand *c, enum wl_domain d, unsigned flags,
                     bool sleep_is_zero)
{
    char name[WL_SENSOR_NAME_MAX];
    chan_name(name, hw, dev, c->base);
    if (h->n >= WL_SENSOR_MAX_CHANNELS) {
        wl__sensor_not_read(s, "%s: over the limit of %d channels per sensor", name,
                            WL_SENSOR_MAX_CHANNELS);
        return false;
    }
    char path[1700];
    snprintf(path, sizeof path, "%s/%s%s", dir, c->base, c->is_average ? "_average" : "_input");
    int err = 0;
    int fd = wl__attr_open(path, false, &err);
    int status_fd = -1;
    if (fd >= 0 && sleep_is_zero)
        status_fd = status_open(dir);
    uint64_t v = 0;
    bool asleep = false;
    if (fd < 0 || wl__pread_u64_err(fd, &v, &err) != 0) {
        asleep = fd >= 0 && device_asleep(err, status_fd);
        if (!asleep) {
            if (fd >= 0)
                close(fd);
            if (status_fd >= 0)
                close(status_fd);
            wl__sensor_not_read(s, "%s: %s", name, read_strerror(err, sleep_is_zero));
            return false;
        }
    }
    const uint64_t t_ns = wl_clock_now_ns();
    const bool is_energy = c->is_energy;
    const enum wl_method m = is_energy       ? WL_METHOD_COUNTER
                             : c->is_average ? WL_METHOD_VENDOR_ESTIMATE
                                             : WL_METHOD_SAMPLED;
    int ci =
        wl__sensor_add_channel(s, name, d, m, flags | (is_energy ? WL_CH_ENERGY : WL_CH_POWER), -1);
    wl_utf8_copy(s->info.ch[ci].label, sizeof s->info.ch[ci].label, c->label);
    /* energy*_input is in uJ and power*_* in uW, but those are the files'
     * units, not the steps of the driver's readings (amd_energy: the RAPL
     * unit register's, 15.3 uJ by default; the ACPI meter's mW at best; a
     * GPU's its own): not known (0, shown as -) */
    struct hwmon_ch *hc = &h->c[h->n++];
    hc->fd = fd;
    hc->is_energy = is_energy;
    hc->status_fd = status_fd;
    if (asleep) {
        h->n_asleep++;
        wl_log_info("hwmon",
                    "%s: the GPU is asleep (runtime-suspended; its driver refuses the file "
                    "until it wakes): read as 0 W while it sleeps",
                    name);
    }
    hc->started = is_energy && !asleep;
    if (hc->started)
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

/* The length of n's base when n is prefix<something>suffix, else 0. */
static size_t base_len(const char *n, const char *prefix, const char *suffix)
{
    const size_t lp = strlen(prefix), ls = strlen(suffix), ln = strlen(n);
    if (strncmp(n, prefix, lp) != 0 || ln <= lp + ls || strcmp(n + ln - ls, suffix) != 0)
        return 0;
    return ln - ls;
}

/* The channel number of c ("1" of power1, "2" of energy2). */
static const char *cand_digits(const struct cand *c)
{
    return c->base + (c->is_energy ? strlen("energy") : strlen("power"));
}

/* Which channel of a device read as one whole is read (the lowest rank;
 * in file order among equals): one labelled as the whole device (a label
 * containing "total": corsair-psu's "power total"; or "card": xe's card,
 * of which "pkg" is a part), else channel 1 (power1 of an ACPI power
 * meter, a GPU's first), else the first; an energy counter before a power
 * of the same rank. */
static int cand_rank(const struct cand *c)
{
    const char *digits = cand_digits(c);
    const bool whole = wl_ascii_contains_ci(c->label, "total") || strcasecmp(c->label, "card") == 0;
    const int rank = whole ? 0 : strcmp(digits, "1") == 0 ? 2 : 4;
    return rank + (c->is_energy ? 0 : 1);
}

/* The energy*_input, power*_input and power*_average files of the device
 * in dir, one per channel (a power*_input before the power*_average of
 * the same channel: amdgpu has both, the same power instant and
 * averaged), in natural order (labels read, per-core Ecore* energies left
 * out: they would need a sum), into *out (heap, NULL when none; caller
 * frees). Returns how many. */
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
        size_t lb = base_len(f, "energy", "_input");
        const bool energy = lb > 0;
        bool average = false;
        if (!lb)
            lb = base_len(f, "power", "_input");
        if (!lb) {
            lb = base_len(f, "power", "_average");
            average = lb > 0;
        }
        if (!lb || lb >= sizeof c->base)
            continue;
        unsigned j = 0;
        while (j < n && !(strlen(c[j].base) == lb && strncmp(c[j].base, f, lb) == 0))
            j++;
        if (j < n) { /* the channel's other file: *_input wins */
            c[j].is_average = c[j].is_average && average;
            continue;
        }
        struct cand *x = &c[n];
        memcpy(x->base, f, lb);
        x->base[lb] = '\0';
        char path[1700];
        snprintf(path, sizeof path, "%s/%s_label", dir, x->base);
        x->label[0] = '\0';
        wl__read_name(path, x->label, sizeof x->label);
        if (strncmp(x->label, "Ecore", 5) == 0)
            continue; /* per-core energy (amd_energy): not summed here */
        x->is_energy = energy;
        x->is_average = average;
        x->rank = cand_rank(x);
        x->seq = n;
        n++;
    }
    free_list(files, n_files);
    *out = c;
    return n;
}

/* One hwmon device: its name, its power and energy files and its class. */
struct hw_dev {
    const char *hw; /* "hwmon3": the listing's entry */
    char dev[64];   /* its name file, "?" when it has none */
    char dir[1400]; /* where its files are */
    struct cand *c; /* its files (heap) */
    unsigned n;
    enum dev_class cls;
    int rank;     /* whole-system meters: which is read, lower first (system_dev_rank) */
    unsigned seq; /* its place in natural order (cmp_hw_dev) */
};

static int cmp_hw_dev(const void *a, const void *b)
{
    const struct hw_dev *x = a, *y = b;
    return cmp_rank_seq(x->rank, x->seq, y->rank, y->seq);
}

/* Which whole-system meter is read: an ACPI power meter, else one with a
 * channel labelled as a total, else the first. d's files are sorted best
 * first. */
static int system_dev_rank(const struct hw_dev *d)
{
    if (strcmp(d->dev, "power_meter") == 0)
        return 0;
    return d->n > 0 && d->c[0].rank < 2 ? 1 : 2;
}

/* True when c may be read as the whole of a device whose best channel
 * (cand_rank) is best: one of the same standing (cand_rank / 2: labelled
 * as the whole, channel 1, other) and, among the others, best's own
 * channel (its energy or its power). A channel labelled as a part ("power
 * 12v", xe's "pkg") or numbered after the whole is never the whole: were
 * it read so, a PSU's 12 V rail would be the machine's total, and the
 * other rails would be dropped as inside it. */
static bool cand_may_be_whole(const struct cand *c, const struct cand *best)
{
    if (c->rank / 2 != best->rank / 2)
        return false;
    return best->rank / 2 < 2 || strcmp(cand_digits(c), cand_digits(best)) == 0;
}

/* Reads d as one whole: its best channel (d's files sorted by cand_rank)
 * that can be read and may stand for the whole (cand_may_be_whole) is
 * added, as domain dom with flags; each one tried before it that could not
 * be read is listed as not read (add_cand), the others as not summed
 * (channels of one device may include each other: xe's "pkg" is inside
 * "card", a PSU's rails inside its total). When no channel that may stand
 * for the whole can be read, none is added: the others, parts of it, are
 * listed as not read (the device is missing from its domain: PARTIAL), and
 * for a whole-system meter the next meter is tried (add_system_device).
 * name: the channel added, "" when none could be. */
static void add_device_whole(struct wl_sensor *s, struct hwmon *h, const struct hw_dev *d,
                             enum wl_domain dom, unsigned flags, char name[WL_SENSOR_NAME_MAX])
{
    name[0] = '\0';
    if (d->n == 0)
        return;
    unsigned chosen = d->n;
    for (unsigned i = 0; i < d->n && chosen == d->n; i++)
        if (cand_may_be_whole(&d->c[i], &d->c[0]) &&
            add_cand(s, h, d->dir, d->hw, d->dev, &d->c[i], dom, flags, d->cls == DEV_GPU)) {
            chosen = i;
            chan_name(name, d->hw, d->dev, d->c[i].base);
        }
    char best[WL_SENSOR_NAME_MAX];
    chan_name(best, d->hw, d->dev, d->c[0].base);
    for (unsigned i = 0; i < d->n; i++) {
        const bool tried = cand_may_be_whole(&d->c[i], &d->c[0]) && i <= chosen;
        if (tried) /* added, or listed as not read by add_cand */
            continue;
        char ch[WL_SENSOR_NAME_MAX];
        chan_name(ch, d->hw, d->dev, d->c[i].base);
        if (name[0])
            wl__sensor_not_summed(s,
                                  "%s: not summed with %s, read as this device's total (channels "
                                  "of one device may include each other)",
                                  ch, name);
        else
            wl__sensor_not_read(s,
                                "%s: not read: a part of this device, never read as its whole, "
                                "which cannot be read (%s)",
                                ch, best);
    }
}

/* The whole-system meters: their channels may include one another
 * (corsair-psu's power1 is the PSU's total, power2-4 its rails), and two
 * such meters may measure the same power (an ACPI meter and a PSU), so the
 * sampler, which sums the channels of one domain, gets exactly one channel
 * of domain total: the best one (cand_rank) of the first meter
 * (system_dev_rank, then natural order) that can be read
 * (add_device_whole: its other channels are not summed; a meter whose
 * total cannot be read is skipped, its rails never read as it). The other
 * meters' channels are listed as not read (which meter holds the true
 * total is a guess: the total may be PARTIAL). total_name: the chosen
 * channel's name, "" until one is. */
static void add_system_device(struct wl_sensor *s, struct hwmon *h, const struct hw_dev *d,
                              char total_name[WL_SENSOR_NAME_MAX])
{
    if (!total_name[0]) {
        unsigned flags;
        const enum wl_domain dom = class_domain(d->cls, &flags);
        add_device_whole(s, h, d, dom, flags, total_name);
        return;
    }
    for (unsigned i = 0; i < d->n; i++) {
        char name[WL_SENSOR_NAME_MAX];
        chan_name(name, d->hw, d->dev, d->c[i].base);
        wl__sensor_not_read(s,
                            "%s: not summed with %s, read as the total (whole-system meters "
                            "may measure the same power)",
                            name, total_name);
    }
}

/* A device whose channels are summed into no domain: each is listed with
 * why. */
static void list_not_summed(struct wl_sensor *s, const struct hw_dev *d)
{
    const char *why = d->cls == DEV_GPU_PART
                          ? "a part of a GPU (the i915 device reads the whole GPU)"
                          : "scope unknown (not a whole-system meter)";
    for (unsigned i = 0; i < d->n; i++) {
        char name[WL_SENSOR_NAME_MAX];
        chan_name(name, d->hw, d->dev, d->c[i].base);
        wl__sensor_not_summed(s, "%s: %s, not summed", name, why);
    }
}

/* The fix when no hwmon device can be used, into buf (size bytes), by the
 * kernel the machine runs (wl__sensor_kernel_version): the amd_energy
 * driver (an AMD Zen CPU's RAPL energy as hwmon) was in Linux 5.8 to 5.12
 * and removed in 5.13 (after the PLATYPUS side channel); the same counters
 * are read by rapl-perf (AMD in the RAPL perf PMU from 5.8) and
 * rapl-powercap (AMD in intel_rapl_msr from 5.11). A kernel not known
 * gets every case with its kernels. zenpower is out of tree. */
static void hwmon_fix(char *buf, size_t size, const struct wl_sensor_params *p)
{
    static const char *common =
        "hwmon power/energy comes from drivers such as amdgpu (AMD GPUs) and acpi_power_meter "
        "(servers: sudo modprobe acpi_power_meter).";
    int major = 0, minor = 0;
    const bool known = wl__sensor_kernel_version(p, &major, &minor) == 0;
    const int v = major * 10000 + minor;
    const char *amd;
    if (!known)
        amd = " AMD CPUs: their energy is RAPL, read by rapl-powercap (sudo modprobe "
              "intel_rapl_msr; Linux 5.11 and later) and rapl-perf (Linux 5.8 and later); the "
              "amd_energy hwmon driver was only in Linux 5.8 to 5.12 (sudo modprobe amd_energy "
              "there); zenpower is an out-of-tree module.";
    else if (v >= 50013)
        amd = " AMD CPUs: their energy is RAPL, read by rapl-powercap (sudo modprobe "
              "intel_rapl_msr) and rapl-perf; its hwmon driver, amd_energy, was removed in Linux "
              "5.13 (zenpower is an out-of-tree module).";
    else if (v >= 50008)
        amd = " AMD Zen CPUs: sudo modprobe amd_energy (Linux 5.8 to 5.12; removed in 5.13); "
              "rapl-perf reads the same counters without it, and rapl-powercap from Linux 5.11.";
    else
        amd = " AMD Zen CPUs: no driver of this kernel reads their energy: amd_energy and "
              "rapl-perf need Linux 5.8, rapl-powercap 5.11 (zenpower is an out-of-tree module).";
    snprintf(buf, size, "%s%s", common, amd);
}

static int hwmon_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                      struct wl_sensor_status *st)
{
    char root[1024];
    snprintf(root, sizeof root, "%s/class/hwmon", wl__sensor_sysfs_root(p));
    /* the fix reads the kernel version: built on the failure paths alone */
    char fix[640];
    struct dirent **devs = NULL;
    int n_list = scandir(root, &devs, NULL, cmp_dirent);
    if (n_list < 0) {
        int e = errno;
        hwmon_fix(fix, sizeof fix, p);
        if (e == ENOENT)
            return wl__sensor_fail(st, WL_ENOTSUP, fix, "%s does not exist (%s)", root,
                                   strerror(e));
        return wl__sensor_fail(st, WL_ENOTSUP, fix, "%s: cannot open the directory (%s)", root,
                               strerror(e));
    }
    struct hwmon *h = calloc(1, sizeof *h);
    struct hw_dev *sys = calloc((size_t)n_list + 1, sizeof *sys);
    if (!h || !sys) {
        free(h);
        free(sys);
        free_list(devs, n_list);
        return WL_ENOMEM;
    }
    s->impl = h;
    unsigned n_dev = 0, n_sys = 0;
    for (int i = 0; i < n_list; i++) {
        const char *hw = devs[i]->d_name;
        if (strncmp(hw, "hwmon", 5) != 0)
            continue;
        n_dev++;
        struct hw_dev d = {.hw = hw, .dev = "?"};
        snprintf(d.dir, sizeof d.dir, "%s/%s", root, hw);
        char path[1500];
        snprintf(path, sizeof path, "%s/name", d.dir);
        if (wl__read_name(path, d.dev, sizeof d.dev) < 0) {
            /* the legacy registration: the name is the device's */
            snprintf(path, sizeof path, "%s/%s/device/name", root, hw);
            wl__read_name(path, d.dev, sizeof d.dev);
        }
        d.n = scan_device(d.dir, &d.c);
        if (d.n == 0) {
            /* the legacy registration (the ACPI power meter before its
             * conversion): the files are the device's, hwmonN/device/ */
            free(d.c);
            snprintf(d.dir, sizeof d.dir, "%s/%s/device", root, hw);
            d.n = scan_device(d.dir, &d.c);
        }
        d.cls = device_class(d.dev, d.dir, d.c, d.n, hw);
        unsigned flags;
        const enum wl_domain dom = class_domain(d.cls, &flags);
        if ((d.cls == DEV_GPU || d.cls == DEV_APU || d.cls == DEV_SYSTEM) && d.n > 1)
            qsort(d.c, d.n, sizeof *d.c, cmp_cand); /* best first, file order among equals */
        char whole[WL_SENSOR_NAME_MAX];
        switch (d.cls) {
        case DEV_GPU:
        case DEV_APU:
            add_device_whole(s, h, &d, dom, flags, whole);
            break;
        case DEV_CPU: /* one channel per socket: all summed */
            for (unsigned k = 0; k < d.n; k++)
                add_cand(s, h, d.dir, hw, d.dev, &d.c[k], dom, flags, false);
            break;
        case DEV_GPU_PART:
        case DEV_UNKNOWN:
            list_not_summed(s, &d);
            break;
        case DEV_SYSTEM:
            /* after the other devices, one channel of them all */
            d.seq = n_sys;
            d.rank = system_dev_rank(&d);
            sys[n_sys++] = d;
            continue; /* sys[] owns d.c now */
        }
        free(d.c);
    }
    if (n_sys > 1)
        qsort(sys, n_sys, sizeof *sys, cmp_hw_dev); /* natural order among equals */
    char total_name[WL_SENSOR_NAME_MAX] = "";
    for (unsigned i = 0; i < n_sys; i++) {
        add_system_device(s, h, &sys[i], total_name);
        free(sys[i].c);
    }
    free(sys);
    free_list(devs, n_list);
    if (h->n == 0) {
        hwmon_close(s);
        s->info.n_channels = 0;
        hwmon_fix(fix, sizeof fix, p);
        if (s->info.n_not_read)
            return wl__sensor_fail(st, WL_ENOTSUP, fix,
                                   "none of the %u hwmon device(s) under %s exposes a readable "
                                   "power*_input, power*_average or energy*_input (%u "
                                   "unreadable; the first: %s)",
                                   n_dev, root, s->info.n_not_read, s->info.not_read[0]);
        if (s->info.n_not_summed)
            return wl__sensor_fail(st, WL_ENOTSUP, fix,
                                   "none of the %u hwmon device(s) under %s measures a known "
                                   "scope (%u channel(s) not summed; the first: %s)",
                                   n_dev, root, s->info.n_not_summed, s->info.not_summed[0]);
        return wl__sensor_fail(st, WL_ENOTSUP, fix,
                               "none of the %u hwmon device(s) under %s exposes a readable "
                               "power*_input, power*_average or energy*_input",
                               n_dev, root);
    }
    /* the root is any bytes (WATTLENS_SYSFS_ROOT): cut between characters */
    char root_part[201];
    wl_utf8_clip(root_part, sizeof root_part, root);
    if (h->n_asleep)
        wl__sensor_set_source(s, "%s (%u channel(s); %u of a GPU asleep, runtime-suspended: 0 W)",
                              root_part, h->n, h->n_asleep);
    else
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
        int err = 0;
        struct hwmon_ch *hc = &h->c[i];
        if (wl__pread_u64_err(hc->fd, &v, &err) != 0) {
            memset(&r->v[i], 0, sizeof r->v[i]);
            /* a discrete GPU asleep (runtime-suspended) draws about 0 W:
             * a value, not a lost sample (its counter adds nothing) */
            if (device_asleep(err, hc->status_fd)) {
                r->v[i].valid = hc->is_energy ? WL_CH_ENERGY : WL_CH_POWER;
                if (hc->started) {
                    r->v[i].energy_uj = wl__counter_total_uj(&hc->ctr);
                    r->v[i].n_discontinuities = hc->ctr.n_discontinuities;
                }
            }
            /* else a device that fails (amdgpu during a reset: -EPERM) is
             * not read this time (valid 0): the others are, and the sampler
             * records a gap for its domain alone */
            continue;
        }
        if (hc->is_energy && !hc->started) { /* first value since it woke */
            wl__counter_init(&hc->ctr, "hwmon", s->info.ch[i].name, UINT64_MAX, 1.0, v,
                             wl_clock_now_ns());
            hc->started = true;
        }
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
    .what = "Linux hwmon power*_input / power*_average / energy*_input (GPUs, amd_energy, ACPI "
            "power meter, Corsair PSUs)",
    .bit = WL_BACKEND_HWMON,
    .open = hwmon_open,
    .read = hwmon_read,
    .close = hwmon_close,
};

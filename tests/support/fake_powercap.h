/* A fake powercap sysfs tree for tests and benchmarks: zone directories under
 * ROOT/class/powercap/ whose energy_uj files a background thread advances at a
 * known power, a period_ns after its last write (wrapping at
 * max_energy_range_uj), so the truth over any time interval is power x time.
 * Test-only code.
 * One writer thread per fake; start/stop from the same thread.
 */
#ifndef WL_TEST_FAKE_POWERCAP_H
#define WL_TEST_FAKE_POWERCAP_H

#include <stddef.h>
#include <stdint.h>

struct wl_fake_zone {
    const char *dir;       /* "intel-rapl:0", "intel-rapl:0:0", "intel-rapl-mmio:0" */
    const char *name;      /* contents of the name file: "package-0", "core", "psys" */
    double power_w;        /* constant power of this zone */
    uint64_t max_range_uj; /* wrap point (max_energy_range_uj) */
};

struct wl_fake_powercap;

/* Creates the tree under root (which must exist) and starts the writer.
 * Returns NULL on failure. */
struct wl_fake_powercap *wl_fake_powercap_start(const char *root, const struct wl_fake_zone *zones,
                                                size_t n, uint64_t period_ns);
/* Stops the writer and frees (the files stay). Accepts NULL. */
void wl_fake_powercap_stop(struct wl_fake_powercap *fp);
/* Changes a zone's power from now on (the truth is then piecewise). */
void wl_fake_powercap_set_power(struct wl_fake_powercap *fp, size_t zone, double power_w);
/* While broken, every zone's energy_uj holds garbage (reads fail); the
 * counters keep advancing underneath, as hardware counters do. */
void wl_fake_powercap_set_broken(struct wl_fake_powercap *fp, int broken);
/* Path of a zone's energy_uj file (static buffer until the next call). */
const char *wl_fake_powercap_energy_path(const struct wl_fake_powercap *fp, size_t zone);

#endif

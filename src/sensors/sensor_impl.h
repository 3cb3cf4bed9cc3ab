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
#include <stddef.h>

struct wl_sensor_ops {
    const char *name; /* stable key: "rapl-powercap" */
    const char *what; /* one line for people */
    unsigned bit;     /* WL_BACKEND_* */
    int (*open)(struct wl_sensor *s, const struct wl_sensor_params *p, struct wl_sensor_status *st);
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

struct wl_sensor {
    const struct wl_sensor_ops *ops;
    void *impl;
    struct wl_sensor_info info;
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
const char *wl__sensor_dev_root(const struct wl_sensor_params *p);
const char *wl__sensor_proc_root(const struct wl_sensor_params *p);

/* Fills st->why / st->fix (printf formats; fix may be NULL) and returns code.
 * A why longer than its field is cut between characters and ends "...". */
int wl__sensor_fail(struct wl_sensor_status *st, int code, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats s->info.source (printf format); text longer than the field is cut
 * between characters and ends "...". Callers cut a path argument of any
 * length themselves (wl_utf8_clip), so what follows it stays. */
void wl__sensor_set_source(struct wl_sensor *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reads a small text file (sysfs attribute) into buf (NUL-terminated, trailing
 * newline removed). Returns bytes read or a negative WL_E* code; errno-based. */
int wl__read_text(const char *path, char *buf, size_t size);
/* wl__read_text for a name or label kept as text (any bytes): one that does
 * not fit buf is cut between characters (wl_utf8_copy), never inside one.
 * Returns the bytes kept or a negative WL_E* code. */
int wl__read_name(const char *path, char *buf, size_t size);
/* Reads a file holding one unsigned decimal integer (wl__sysfs_parse_u64,
 * sensor_parse.h). 0 or WL_E*. */
int wl__read_u64(const char *path, uint64_t *out);
/* pread() of a decimal integer (wl__sysfs_parse_u64) from an open fd at
 * offset 0; a file of 64 bytes or more is WL_EFORMAT. 0 or WL_E*. */
int wl__pread_u64(int fd, uint64_t *out);

/* Adds a channel to s->info (a name longer than the field is cut between
 * characters); returns its index or WL_EFULL. */
int wl__sensor_add_channel(struct wl_sensor *s, const char *name, enum wl_domain d,
                           enum wl_method m, unsigned flags, int index);

/* Counter unwrap: adds the step from last_raw to raw into *total, treating a
 * decrease as one wrap at max_raw (the counter runs 0..max_raw). */
static inline uint64_t wl__counter_step(uint64_t last_raw, uint64_t raw, uint64_t max_raw)
{
    if (raw >= last_raw)
        return raw - last_raw;
    return (max_raw - last_raw) + raw;
}

#endif

/* Parsing of the perf_event `power` PMU description in sysfs
 * (<sysfs>/bus/event_source/devices/power/{type,cpumask,events/<name>[.scale|.unit]}),
 * split out of rapl_perf.c so that tests can drive it with fake files.
 * Pure functions over caller-owned structs; thread-safe.
 */
#ifndef WL_SENSORS_RAPL_PERF_H
#define WL_SENSORS_RAPL_PERF_H

#include "util/errmsg.h"
#include "wattlens/energy.h"

#include <stdint.h>

#define WL_PERF_MAX_EVENTS 8
#define WL_PERF_MAX_CPUS 64

struct wl_perf_event_desc {
    char name[32];   /* "energy-pkg" */
    uint64_t config; /* from "event=0x02" */
    double scale_j;  /* joules per count, from <name>.scale */
    enum wl_domain domain;
};

struct wl_perf_pmu {
    uint32_t type; /* PMU type id for perf_event_attr.type */
    unsigned n_cpus;
    int cpus[WL_PERF_MAX_CPUS]; /* one CPU per package, from cpumask */
    unsigned n_events;
    struct wl_perf_event_desc ev[WL_PERF_MAX_EVENTS];
};

/* Reads the PMU description under pmu_dir. Returns 0, WL_ENOENT (no PMU) or
 * WL_EFORMAT with a message saying which file was wrong. Events with a unit
 * other than Joules are rejected (WL_EFORMAT). */
int wl__perf_pmu_scan(const char *pmu_dir, struct wl_perf_pmu *out, struct wl_errmsg *err);

/* Parses a cpumask list such as "0", "0,36" or "0-1,4". Returns the count or WL_EFORMAT. */
int wl__perf_parse_cpulist(const char *s, int *cpus, unsigned max);

#endif

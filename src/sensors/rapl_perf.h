/* Parsing of the perf_event `power` PMU description in sysfs
 * (<sysfs>/bus/event_source/devices/power/{type,cpumask,events/<name>[.scale|.unit]}),
 * split out of rapl_perf.c so that tests can drive it with fake files and the
 * fuzz target (tests/fuzz/fuzz_rapl_perf.c) with any text.
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

/* Reads the PMU description under pmu_dir with the parsers below. Returns 0, WL_ENOENT (no PMU) or
 * WL_EFORMAT with a message saying which file was wrong. Events with a unit
 * other than Joules are rejected (WL_EFORMAT). */
int wl__perf_pmu_scan(const char *pmu_dir, struct wl_perf_pmu *out, struct wl_errmsg *err);

/* Parses a cpumask list such as "0", "0,36" or "0-1,4" (an optional final
 * newline): CPU numbers 0..65535 as plain digits, a range's end not below its
 * start, ',' between items. Returns the count (1..max) or WL_EFORMAT (cpus
 * then unspecified), also when the list names more than max CPUs. */
int wl__perf_parse_cpulist(const char *s, int *cpus, unsigned max);

/* The text of an events/<name> file: "event=0xNN" (hex digits, "0x"
 * optional, at most 64 bits) and nothing else, since a config with more
 * terms (umask=...) would not be the whole event. 0 or WL_EFORMAT. */
int wl__perf_parse_event(const char *s, uint64_t *config);

/* The text of an events/<name>.scale file: joules per count, a finite
 * number in (0, 1] (the kernel writes 2^-ESU with ESU >= 0). 0 or WL_EFORMAT. */
int wl__perf_parse_scale(const char *s, double *scale_j);

/* The text of an events/<name>.unit file: 0 when it is "Joules", else WL_EFORMAT. */
int wl__perf_parse_unit(const char *s);

#endif

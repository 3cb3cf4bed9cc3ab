/* A run's sensor gaps in the store: the sampler's gaps (sensor reads that
 * failed, counter discontinuities; sampler.h struct wl_sampler_gap) turned
 * into runs.extra "n_gaps" (every gap) and "gaps" (the first
 * WL_SAMPLER_MAX_GAPS, the sampler's own list), so that `show`, `run`'s
 * report and the export say how much of the run's energy was not counted.
 * Written by wl_measure_finish_run and wl_recorder_finish.
 *
 * A gap is {"start_ms", "end_ms" (null: the sensor was still failing when
 * the gaps were taken), "why", "error" (WL_E* name), "counter_fell",
 * "energy_counted" (false: the energy of some of its domains over the gap
 * is not counted, every figure across it is low by it), "sensor" (its
 * backend), "domains" (names: domain_mask), "lost_domains" (names: lost_mask, whose
 * figures are low by it)}; times in ms from origin_ns, the run's time
 * base (the stored samples' and sections'). Single-threaded, like the
 * store; the store run is borrowed.
 */
#ifndef WL_PROFILE_RUN_GAPS_H
#define WL_PROFILE_RUN_GAPS_H

#include "sampler/sampler.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* {"n_gaps": n_total, "gaps": [...]} for gaps[0 .. n_kept) (new reference;
 * NULL when out of memory). n_total below n_kept counts as n_kept. */
json_t *wl_run_gaps_json(const struct wl_sampler_gap *gaps, size_t n_kept, uint64_t n_total,
                         uint64_t origin_ns);

/* Sets runs.extra "n_gaps" and "gaps" from gaps as wl_run_gaps_json makes
 * them. Returns 0 or a WL_E* (the store's; WL_ENOMEM). */
int wl_run_gaps_store(wl_store_run *run, const struct wl_sampler_gap *gaps, size_t n_kept,
                      uint64_t n_total, uint64_t origin_ns);

/* wl_run_gaps_store with the gaps sampler s has recorded so far (it may
 * still run). A failure is returned (the recorder's finish keeps it as its
 * store error, as for its other runs.extra keys). */
int wl_run_gaps_store_sampler(wl_store_run *run, wl_sampler *s, uint64_t origin_ns);

#endif

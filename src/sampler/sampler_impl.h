/* Internals of the sampler exposed for unit tests only: pure judgements
 * the sampler thread and its stats use, split out so that their
 * boundaries can be tested with scripted numbers (no thread, no clock).
 * Only sampler.c and tests include this header.
 */
#ifndef WL_SAMPLER_SAMPLER_IMPL_H
#define WL_SAMPLER_SAMPLER_IMPL_H

#include <stdbool.h>
#include <stdint.h>

/* The sampler's achieved rate and its judgement. From n samples taken
 * between t_first_ns and t_last_ns: *achieved_hz is (n - 1) over that span
 * (0 with fewer than 2 samples or no span); *judged is n >= 5; *ok is true
 * when not judged, else when achieved / requested_hz lies in 0.8..1.2
 * (a requested_hz of 0 is never ok once judged). */
void wl__sampler_judge_rate(uint64_t n, uint64_t t_first_ns, uint64_t t_last_ns,
                            double requested_hz, double *achieved_hz, bool *judged, bool *ok);

/* How long a counter of nominal update period nominal_ns
 * (wl_sensor_channel.nominal_period_ns) must read unchanged before the
 * sampler calls it stuck: max(100 ms, 10 x nominal_ns); 0 (never) for 0. */
uint64_t wl__sampler_stuck_after_ns(uint64_t nominal_ns);

#endif

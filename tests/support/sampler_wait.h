/* Test helper over a running sampler: waits for its thread to take a
 * number of samples. A condition, not a time: a loaded host delays the
 * thread, and a fixed sleep then held fewer samples than a test needs.
 * Test-only code; no state.
 */
#ifndef WL_TEST_SAMPLER_WAIT_H
#define WL_TEST_SAMPLER_WAIT_H

#include "sampler/sampler.h"

#include <stdint.h>

/* Waits until the sampler thread has taken n samples since its start
 * (wl_sampler_stats' n_samples, polled every 5 ms); fails the calling
 * cmocka test should the thread not get there within about a minute. */
void wl_test_wait_for_samples(wl_sampler *s, uint64_t n);

#endif

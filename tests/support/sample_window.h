/* Test helper over the sampler's samples: the window a sample's counter
 * power was derived over, for tests that bound that power's error by the
 * fake powercap writer's longest gap over the window (fake_powercap.h).
 * Test-only code; no state.
 */
#ifndef WL_TEST_SAMPLE_WINDOW_H
#define WL_TEST_SAMPLE_WINDOW_H

#include "sampler/sampler.h"

#include <stddef.h>
#include <stdint.h>

/* The window (ns) over which buf[i]'s power of domain d was derived: from
 * its power_from_ns to the time of the sample that closed it, the first of
 * buf[0..i] with that power_from_ns (the samples after it repeat the last
 * closed window's power and start until the next one closes). 0 when the
 * power is unknown or a read power (an instant). buf is in time order, as
 * drained, and holds the sample that closed the window unless it was
 * drained or overwritten before (then the window is overestimated). */
uint64_t wl_test_power_window_ns(const struct wl_sample *buf, size_t i, enum wl_domain d);

#endif

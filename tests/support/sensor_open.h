/* Test helpers over the sensor layer: open one backend, or a set of one
 * sensor, that the test's tree or fake is built for, so that it must open; a failure prints the
 * backend's why before the assertion fails. Test-only code; no state.
 */
#ifndef WL_TEST_SENSOR_OPEN_H
#define WL_TEST_SENSOR_OPEN_H

#include "sensors/sensor.h"

/* wl_sensor_open_backend(backend_bit, p), asserted to return 0; returns
 * the sensor (close with wl_sensor_close). */
wl_sensor *wl_test_open_backend(unsigned backend_bit, const struct wl_sensor_params *p);

/* wl_sensor_set_open over the tree at root with only backends, no CPU
 * model and no period probe, asserted to open and to hold one sensor (a
 * sample's time is then that sensor's read's); close with
 * wl_sensor_set_close. */
wl_sensor_set *wl_test_open_sensor_set(const char *root, unsigned backends);

#endif

/* Test helper over the sensor layer: opens one backend that the test's
 * tree or fake is built for, so that it must open; a failure prints the
 * backend's why before the assertion fails. Test-only code; no state.
 */
#ifndef WL_TEST_SENSOR_OPEN_H
#define WL_TEST_SENSOR_OPEN_H

#include "sensors/sensor.h"

/* wl_sensor_open_backend(backend_bit, p), asserted to return 0; returns
 * the sensor (close with wl_sensor_close). */
wl_sensor *wl_test_open_backend(unsigned backend_bit, const struct wl_sensor_params *p);

#endif

/* Opening a backend that must open, for tests; see sensor_open.h. */
#include "sensor_open.h"

#include "test_support.h"

#include <stdio.h>

wl_sensor *wl_test_open_backend(unsigned backend_bit, const struct wl_sensor_params *p)
{
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    const int rc = wl_sensor_open_backend(backend_bit, p, &s, &st);
    if (rc)
        fprintf(stderr, "%s\n", st.why);
    assert_int_equal(rc, 0);
    return s;
}

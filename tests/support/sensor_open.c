/* Opening a backend or a sensor set that must open, for tests; see
 * sensor_open.h. */
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

wl_sensor_set *wl_test_open_sensor_set(const char *root, unsigned backends)
{
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.sysfs_root = root;
    p.backends = backends;
    p.model_use = WL_MODEL_NEVER;
    p.period_probe_ns = 0;
    wl_sensor_set *set = NULL;
    assert_int_equal(wl_sensor_set_open(&p, &set), 0);
    assert_int_equal(wl_sensor_set_count(set), 1);
    return set;
}

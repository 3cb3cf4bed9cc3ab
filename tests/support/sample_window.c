/* Sample power windows for tests; see sample_window.h. */
#include "sample_window.h"

uint64_t wl_test_power_window_ns(const struct wl_sample *buf, size_t i, enum wl_domain d)
{
    if (!(buf[i].power_mask & (1u << d)))
        return 0;
    const uint64_t from = buf[i].power_from_ns[d];
    size_t k = i;
    while (k > 0 && (buf[k - 1].power_mask & (1u << d)) && buf[k - 1].power_from_ns[d] == from)
        k--;
    return buf[k].t_ns > from ? buf[k].t_ns - from : 0;
}

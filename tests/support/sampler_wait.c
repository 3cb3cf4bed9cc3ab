/* Waiting for a sampler thread's samples (sampler_wait.h). Test-only
 * code; no state.
 */
#include "sampler_wait.h"

#include "test_support.h"
#include "util/clock.h"

#include <stdio.h>

void wl_test_wait_for_samples(wl_sampler *s, uint64_t n)
{
    struct wl_sampler_stats st;
    wl_sampler_stats(s, &st);
    for (int i = 0; i < 12000 && st.n_samples < n; i++) {
        wl_clock_sleep_ns(5000000);
        wl_sampler_stats(s, &st);
    }
    if (st.n_samples < n) {
        fprintf(stderr, "the sampler thread took %llu samples, waited for %llu\n",
                (unsigned long long)st.n_samples, (unsigned long long)n);
        fail();
    }
}

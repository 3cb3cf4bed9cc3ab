/* Generation on the synthetic model; see synth_generate.h. */
#include "synth_generate.h"

#include "engine/synth.h"

void wl_test_synth_load_default(struct wl_test_synth *s)
{
    struct wl_synth_params p;
    wl_synth_default_params(&p);
    wl_test_synth_load(s, &p);
}

struct wl_generate_params wl_test_greedy_params(const char *prompt, int32_t n)
{
    struct wl_generate_params p = wl_generate_default_params();
    p.sampling.temperature = 0.0f;
    p.prompt = prompt;
    p.n_predict = n;
    return p;
}

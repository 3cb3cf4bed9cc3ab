/* Generation on the synthetic model for the engine tests that count tokens
 * (test_generate_decode_clock.c, test_generate_failed_step.c, test_batch.c,
 * test_batch_alloc.c): the default synthetic llama (synth_fixture.h) and
 * greedy parameters, so that the same prompt gives the same tokens every
 * time. Test-only code; every helper fails the calling cmocka test on
 * error.
 */
#ifndef WL_TEST_SYNTH_GENERATE_H
#define WL_TEST_SYNTH_GENERATE_H

#include "synth_fixture.h"

#include "engine/generate.h"

#include <stdint.h>

/* wl_test_synth_load with the default synthetic parameters
 * (wl_synth_default_params). */
void wl_test_synth_load_default(struct wl_test_synth *s);

/* The default parameters with temperature 0 (greedy), prompt (NULL for a
 * batch, whose prompts are its own) and n_predict n. */
struct wl_generate_params wl_test_greedy_params(const char *prompt, int32_t n);

#endif

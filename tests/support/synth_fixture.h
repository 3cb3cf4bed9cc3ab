/* A synthetic model (engine/synth) for the engine tests that generate
 * (test_batch.c, test_batch_alloc.c, test_generate_context.c): the GGUF
 * image written into memory, the model loaded from it and its tokenizer,
 * and contexts on it. Test-only code; every helper fails the calling cmocka
 * test on error. The fixture owns its three parts: wl_test_synth_free
 * frees them (each may be NULL).
 */
#ifndef WL_TEST_SYNTH_FIXTURE_H
#define WL_TEST_SYNTH_FIXTURE_H

#include "engine/context.h"
#include "engine/model.h"
#include "engine/synth.h"
#include "engine/tokenizer.h"

#include <stdint.h>

struct wl_test_synth {
    void *buf; /* the GGUF image the model reads from (NULL when not synthetic) */
    wl_model *m;
    wl_tokenizer *tok;
};

/* Writes the synthetic model of p into s->buf, loads s->m and s->tok. */
void wl_test_synth_load(struct wl_test_synth *s, const struct wl_synth_params *p);

void wl_test_synth_free(struct wl_test_synth *s);

/* A context on m with the parameters p. */
wl_context *wl_test_context_open(const wl_model *m, const struct wl_context_params *p);

/* A context on m with the default parameters but n_ctx, n_seq and one
 * thread. */
wl_context *wl_test_context_small(const wl_model *m, int32_t n_ctx, int32_t n_seq);

#endif

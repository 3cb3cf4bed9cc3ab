/* The synthetic model fixture (synth_fixture.h): synth into memory, load,
 * tokenizer; contexts on it. */
#include "synth_fixture.h"

#include "test_support.h"

#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "wattlens/error.h"

#include <stdlib.h>

void wl_test_synth_load(struct wl_test_synth *s, const struct wl_synth_params *p)
{
    wl_gguf_writer *w = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    if (wl_synth_model(p, w, &err) != 0)
        fail_msg("synth: %s", err.text);
    size_t size = 0;
    assert_int_equal(wl_gguf_writer_to_memory(w, &s->buf, &size), 0);
    wl_gguf_writer_free(w);
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open_memory(s->buf, size, &g, &err), 0);
    if (wl_model_load_gguf(g, &s->m, &err) != 0)
        fail_msg("load: %s", err.text);
    if (wl_tok_load_gguf(s->m->gguf, &s->tok, &err) != 0)
        fail_msg("tokenizer: %s", err.text);
}

void wl_test_synth_free(struct wl_test_synth *s)
{
    wl_tok_free(s->tok);
    wl_model_free(s->m);
    free(s->buf);
}

wl_context *wl_test_context_open(const wl_model *m, const struct wl_context_params *p)
{
    wl_context *ctx = NULL;
    struct wl_errmsg err = {{0}};
    if (wl_context_create(m, p, &ctx, &err) != 0)
        fail_msg("context: %s", err.text);
    return ctx;
}

wl_context *wl_test_context_small(const wl_model *m, int32_t n_ctx, int32_t n_seq)
{
    struct wl_context_params p = wl_context_default_params();
    p.n_ctx = n_ctx;
    p.n_seq = n_seq;
    p.n_threads = 1;
    return wl_test_context_open(m, &p);
}

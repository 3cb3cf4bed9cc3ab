/* The tokenizer fixture (tok_fixture.h): a written GGUF image in memory,
 * opened, its tokenizer loaded. */
#include "tok_fixture.h"

#include "test_support.h"

#include "engine/gguf.h"
#include "wattlens/error.h"

#include <stdlib.h>

int wl_test_tok_load_written(wl_gguf_writer *w, wl_tokenizer **t, struct wl_errmsg *err)
{
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(wl_gguf_writer_to_memory(w, &buf, &size), 0);
    wl_gguf_writer_free(w);
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open_memory(buf, size, &g, err), 0);
    *t = (wl_tokenizer *)g; /* any non-NULL value: the loader must reset it on failure */
    err->text[0] = '\0';
    const int rc = wl_tok_load_gguf(g, t, err);
    if (rc != 0)
        assert_null(*t);
    else
        assert_non_null(*t);
    wl_gguf_close(g);
    free(buf);
    return rc;
}

/* libFuzzer target for the GGUF writer: every input the reader accepts is
 * rewritten through the writer (keys copied verbatim, tensors re-added) and
 * read back; the copy must open, and hold the same keys, values, tensor
 * shapes (0-dimension scalars too), types and bytes, except
 * general.alignment, which the writer raises to 32 when it is below. A
 * mismatch aborts (a finding). Test code only. */
#include "engine/gguf.h"
#include "engine/gguf_write.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "round trip mismatch: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wl_gguf *g = NULL;
    if (wl_gguf_open_memory(data, size, &g, NULL) != 0)
        return 0;
    wl_gguf_writer *w = NULL;
    check(wl_gguf_writer_new(&w) == 0, "writer_new");
    for (uint64_t k = 0; k < wl_gguf_n_kv(g); k++)
        check(wl_gguf_writer_copy_kv(w, g, k) == 0, "copy_kv");
    for (uint64_t t = 0; t < wl_gguf_n_tensors(g); t++) {
        const struct wl_gguf_tensor *ti = wl_gguf_tensor(g, t);
        check(wl_gguf_writer_add_tensor(w, ti->name, ti->type, ti->n_dims, ti->ne, ti->data,
                                        ti->n_bytes) == 0,
              "add_tensor");
    }
    void *buf = NULL;
    size_t n = 0;
    check(wl_gguf_writer_to_memory(w, &buf, &n) == 0, "to_memory");
    wl_gguf *h = NULL;
    struct wl_errmsg err;
    if (wl_gguf_open_memory(buf, n, &h, &err) != 0) {
        fprintf(stderr, "copy does not open: %s\n", err.text);
        abort();
    }
    check(wl_gguf_n_kv(h) == wl_gguf_n_kv(g), "n_kv");
    /* the writer raises an alignment below the default to it */
    const uint64_t align = wl_gguf_alignment(g) < WL_GGUF_DEFAULT_ALIGNMENT
                               ? WL_GGUF_DEFAULT_ALIGNMENT
                               : wl_gguf_alignment(g);
    check(wl_gguf_alignment(h) == align, "alignment");
    for (uint64_t k = 0; k < wl_gguf_n_kv(g); k++) {
        const void *a = NULL, *b = NULL;
        uint64_t na = 0, nb = 0;
        check(strcmp(wl_gguf_kv_key(g, k), wl_gguf_kv_key(h, k)) == 0, "key");
        check(wl_gguf_kv_type(g, k) == wl_gguf_kv_type(h, k), "type");
        if (strcmp(wl_gguf_kv_key(g, k), "general.alignment") == 0)
            continue; /* checked above */
        check(wl_gguf_kv_raw(g, k, &a, &na) == 0 && wl_gguf_kv_raw(h, k, &b, &nb) == 0, "raw");
        check(na == nb && memcmp(a, b, na) == 0, "value bytes");
    }
    check(wl_gguf_n_tensors(h) == wl_gguf_n_tensors(g), "n_tensors");
    for (uint64_t t = 0; t < wl_gguf_n_tensors(g); t++) {
        const struct wl_gguf_tensor *x = wl_gguf_tensor(g, t), *y = wl_gguf_tensor(h, t);
        check(strcmp(x->name, y->name) == 0 && x->type == y->type && x->n_dims == y->n_dims &&
                  memcmp(x->ne, y->ne, sizeof x->ne) == 0 && x->n_bytes == y->n_bytes,
              "tensor info");
        check(x->n_bytes == 0 || memcmp(x->data, y->data, x->n_bytes) == 0, "tensor bytes");
    }
    wl_gguf_close(h);
    free(buf);
    wl_gguf_writer_free(w);
    wl_gguf_close(g);
    return 0;
}

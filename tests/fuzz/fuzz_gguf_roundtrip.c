/* libFuzzer target for the GGUF writer: every input the reader accepts is
 * rewritten through the writer (keys copied verbatim, tensors re-added) and
 * read back; the copy must open, and hold the same keys, values, tensor
 * shapes (0-dimension scalars too), types and bytes, except
 * general.alignment, which the writer raises to 32 when it is below.
 * Then `model quantize`'s rewrite, wl_requant_model to Q8_0 on one thread,
 * into memory: it is refused (WL_ENOTSUP) exactly when a tensor it converts
 * (wl_requant_converts, to wl_requant_pick_type's type) is of a type it
 * cannot read; its write fails only with WL_EFORMAT or WL_ERANGE (a value
 * the type cannot keep) and only when it converts something; a written
 * copy opens, with general.file_type 7 and every tensor by name and in
 * order, with its shape, the type the rule gives, the byte size of that
 * type, and the source's bytes when it is copied (tensors of 0 elements,
 * whose data is NULL, too). A mismatch aborts (a finding). Test code only. */
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/quant.h"
#include "engine/requant.h"
#include "wattlens/error.h"

#include <stdbool.h>
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

/* The type the rule gives tensor x in a copy quantized to Q8_0. */
static enum wl_ttype want_type(const struct wl_gguf_tensor *x)
{
    return wl_requant_converts(x->name, x->n_dims)
               ? wl_requant_pick_type(WL_TTYPE_Q8_0, x->n_dims, x->ne[0])
               : x->type;
}

/* The model quantized to Q8_0 against what the rule says of each tensor. */
static void check_requant(const wl_gguf *g)
{
    const uint64_t n_t = wl_gguf_n_tensors(g);
    bool unreadable = false, converts = false;
    for (uint64_t t = 0; t < n_t; t++) {
        const struct wl_gguf_tensor *x = wl_gguf_tensor(g, t);
        const enum wl_ttype want = want_type(x);
        if (want != x->type) {
            converts = converts || x->n_elements > 0;
            unreadable = unreadable || !wl_quant_is_supported(x->type);
        }
    }
    wl_gguf_writer *w = NULL;
    check(wl_gguf_writer_new(&w) == 0, "writer_new");
    struct wl_errmsg err;
    const int rc = wl_requant_model(g, WL_TTYPE_Q8_0, NULL, w, NULL, &err);
    check(unreadable ? rc == WL_ENOTSUP && err.text[0] : rc == 0, "requant verdict");
    if (rc) {
        wl_gguf_writer_free(w);
        return;
    }
    void *buf = NULL;
    size_t n = 0;
    const int wrc = wl_gguf_writer_to_memory(w, &buf, &n);
    wl_gguf_writer_free(w);
    if (wrc) {
        check((wrc == WL_EFORMAT || wrc == WL_ERANGE) && converts, "requant write");
        return;
    }
    wl_gguf *h = NULL;
    if (wl_gguf_open_memory(buf, n, &h, &err) != 0) {
        fprintf(stderr, "quantized copy does not open: %s\n", err.text);
        abort();
    }
    int64_t ft = -1;
    check(wl_gguf_get_i64(h, "general.file_type", &ft) == 0 && ft == 7, "file_type");
    check(wl_gguf_n_tensors(h) == n_t, "quantized n_tensors");
    for (uint64_t t = 0; t < n_t; t++) {
        const struct wl_gguf_tensor *x = wl_gguf_tensor(g, t), *y = wl_gguf_tensor(h, t);
        const enum wl_ttype want = want_type(x);
        uint64_t bytes = 0;
        check(strcmp(x->name, y->name) == 0 && y->type == want && x->n_dims == y->n_dims &&
                  memcmp(x->ne, y->ne, sizeof x->ne) == 0 &&
                  wl_ttype_bytes(want, x->n_elements, &bytes) == 0 && y->n_bytes == bytes,
              "quantized tensor info");
        check(want != x->type || x->n_bytes == 0 || memcmp(x->data, y->data, x->n_bytes) == 0,
              "copied tensor bytes");
        check((y->data == NULL) == (y->n_bytes == 0), "quantized data pointer");
    }
    wl_gguf_close(h);
    free(buf);
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
    check_requant(g);
    wl_gguf_close(g);
    return 0;
}

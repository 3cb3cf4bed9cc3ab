/* libFuzzer target for the GGUF reader: opens the input as an in-memory GGUF
 * and, when it parses, touches every key, value, array element and tensor
 * byte through the public accessors, so ASan/UBSan see every read the engine
 * or the tokenizer could make after a successful open. No state between runs. */
#include "engine/gguf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static volatile uint64_t wl_fuzz_sink;

static void walk_arr(const struct wl_gguf_arr *a, unsigned depth)
{
    for (uint64_t j = 0; j < a->n; j++) {
        struct wl_gguf_str s;
        struct wl_gguf_arr sub;
        int64_t i;
        double f;
        if (wl_gguf_arr_str(a, j, &s) == 0 && s.len)
            wl_fuzz_sink += (uint8_t)s.data[0] + (uint8_t)s.data[s.len - 1];
        if (wl_gguf_arr_sub(a, j, &sub) == 0 && depth < 16)
            walk_arr(&sub, depth + 1);
        if (wl_gguf_arr_i64(a, j, &i) == 0)
            wl_fuzz_sink += (uint64_t)i;
        if (wl_gguf_arr_f64(a, j, &f) == 0)
            wl_fuzz_sink += f == f;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    if (wl_gguf_open_memory(data, size, &g, &err) != 0) {
        wl_fuzz_sink += strlen(err.text);
        return 0;
    }
    for (uint64_t k = 0; k < wl_gguf_n_kv(g); k++) {
        const char *key = wl_gguf_kv_key(g, k);
        int64_t i;
        uint64_t u;
        double f;
        bool b;
        struct wl_gguf_str s;
        struct wl_gguf_arr a;
        const void *raw;
        uint64_t rn;
        wl_fuzz_sink += (uint64_t)wl_gguf_find_kv(g, key);
        if (wl_gguf_get_i64(g, key, &i) == 0)
            wl_fuzz_sink += (uint64_t)i;
        if (wl_gguf_get_u64(g, key, &u) == 0)
            wl_fuzz_sink += u;
        if (wl_gguf_get_f64(g, key, &f) == 0)
            wl_fuzz_sink += f == f;
        if (wl_gguf_get_bool(g, key, &b) == 0)
            wl_fuzz_sink += b;
        if (wl_gguf_get_str(g, key, &s) == 0 && s.len)
            wl_fuzz_sink += (uint8_t)s.data[s.len - 1];
        if (wl_gguf_get_arr_view(g, key, &a) == 0) {
            walk_arr(&a, 0);
            const uint8_t *d = wl_gguf_arr_data(&a);
            uint32_t es = wl_gguf_vtype_size(a.elem_type);
            if (d && a.n)
                wl_fuzz_sink += d[a.n * es - 1];
        }
        if (wl_gguf_kv_raw(g, k, &raw, &rn) == 0 && rn)
            wl_fuzz_sink += ((const uint8_t *)raw)[rn - 1];
    }
    for (uint64_t t = 0; t < wl_gguf_n_tensors(g); t++) {
        const struct wl_gguf_tensor *ti = wl_gguf_tensor(g, t);
        wl_fuzz_sink += (uintptr_t)wl_gguf_find_tensor(g, ti->name);
        if (ti->n_bytes)
            wl_fuzz_sink +=
                ((const uint8_t *)ti->data)[0] + ((const uint8_t *)ti->data)[ti->n_bytes - 1];
    }
    wl_gguf_close(g);
    return 0;
}

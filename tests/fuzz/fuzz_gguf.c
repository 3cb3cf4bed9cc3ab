/* libFuzzer target for the GGUF reader: opens the input as an in-memory GGUF
 * and, when it parses, checks the reader's guarantees (docs/internals/gguf.md,
 * "Validation rules") through the public accessors, trapping on failure:
 *   - version 2 or 3, the size given, alignment a power of two up to
 *     WL_GGUF_MAX_ALIGNMENT, the data section aligned;
 *   - every key is 1..65535 bytes without NUL and looks up to its own index;
 *     every value type is known; every string, raw value and array element
 *     the getters hand out lies inside the input;
 *   - every tensor name is 1..1024 bytes and looks up to its own tensor; n_dims
 *     0..4 with unused dims 1; n_elements is the product of ne[], n_bytes is
 *     wl_ttype_bytes(type, n_elements), rows are whole blocks; its offset is a
 *     multiple of the alignment and its data is exactly base + data_offset +
 *     offset (NULL when 0 bytes) and inside the input; no two non-empty
 *     tensors overlap.
 * It reads the first and last byte of every string, array and tensor (with
 * the bounds checks above and ASan, enough to see a read outside the input;
 * not every byte). No state between runs. */
#include "engine/gguf.h"
#include "wattlens/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static volatile uint64_t wl_fuzz_sink;

/* The input, for "inside the buffer" checks. */
static const uint8_t *in_base;
static size_t in_size;

/* [p, p + n) lies inside the input. */
static bool inside(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    return b >= in_base && b <= in_base + in_size && n <= (uint64_t)(in_base + in_size - b);
}

static void check_str(struct wl_gguf_str s)
{
    CHECK(s.len == 0 || inside(s.data, s.len));
    if (s.len)
        wl_fuzz_sink += (uint8_t)s.data[0] + (uint8_t)s.data[s.len - 1];
}

static void walk_arr(const struct wl_gguf_arr *a, unsigned depth)
{
    CHECK(a->elem_type < WL_GGUF_VTYPE_COUNT);
    const uint8_t *d = wl_gguf_arr_data(a);
    const uint32_t es = wl_gguf_vtype_size(a->elem_type);
    if (es) { /* fixed-size elements: their bytes are one run inside the input */
        CHECK(d != NULL && inside(d, a->n * es));
        if (a->n)
            wl_fuzz_sink += d[a->n * es - 1];
    } else {
        CHECK(d == NULL);
    }
    for (uint64_t j = 0; j < a->n; j++) {
        struct wl_gguf_str s;
        struct wl_gguf_arr sub;
        int64_t i;
        double f;
        if (wl_gguf_arr_str(a, j, &s) == 0) {
            CHECK(a->elem_type == WL_GGUF_STRING);
            check_str(s);
        }
        if (wl_gguf_arr_sub(a, j, &sub) == 0) {
            CHECK(a->elem_type == WL_GGUF_ARRAY && depth < 16);
            walk_arr(&sub, depth + 1);
        }
        if (wl_gguf_arr_i64(a, j, &i) == 0)
            wl_fuzz_sink += (uint64_t)i;
        if (wl_gguf_arr_f64(a, j, &f) == 0)
            wl_fuzz_sink += f == f;
    }
}

static void check_kv(const wl_gguf *g, uint64_t k)
{
    const char *key = wl_gguf_kv_key(g, k);
    CHECK(key != NULL);
    const size_t len = strlen(key);
    CHECK(len >= 1 && len <= 65535);
    CHECK(wl_gguf_find_kv(g, key) == (int64_t)k);
    const enum wl_gguf_vtype type = wl_gguf_kv_type(g, k);
    CHECK(type < WL_GGUF_VTYPE_COUNT);
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    struct wl_gguf_str s;
    struct wl_gguf_arr a;
    const void *raw;
    uint64_t rn;
    if (wl_gguf_get_i64(g, key, &i) == 0)
        wl_fuzz_sink += (uint64_t)i;
    if (wl_gguf_get_u64(g, key, &u) == 0)
        wl_fuzz_sink += u;
    if (wl_gguf_get_f64(g, key, &f) == 0)
        wl_fuzz_sink += f == f;
    if (wl_gguf_get_bool(g, key, &b) == 0)
        wl_fuzz_sink += b;
    if (wl_gguf_get_str(g, key, &s) == 0) {
        CHECK(type == WL_GGUF_STRING);
        check_str(s);
    }
    if (wl_gguf_get_arr_view(g, key, &a) == 0) {
        CHECK(type == WL_GGUF_ARRAY);
        walk_arr(&a, 0);
    }
    CHECK(wl_gguf_kv_raw(g, k, &raw, &rn) == 0);
    CHECK(rn == 0 || inside(raw, rn));
    if (rn)
        wl_fuzz_sink += ((const uint8_t *)raw)[rn - 1];
}

static int cmp_offset(const void *a, const void *b)
{
    const struct wl_gguf_tensor *x = *(const struct wl_gguf_tensor *const *)a;
    const struct wl_gguf_tensor *y = *(const struct wl_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset ? 1 : 0;
}

static void check_tensors(const wl_gguf *g)
{
    const uint64_t n = wl_gguf_n_tensors(g), align = wl_gguf_alignment(g);
    const uint64_t data_offset = wl_gguf_data_offset(g);
    const struct wl_gguf_tensor **order = malloc((n ? n : 1) * sizeof *order);
    CHECK(order != NULL);
    uint64_t n_data = 0;
    for (uint64_t t = 0; t < n; t++) {
        const struct wl_gguf_tensor *ti = wl_gguf_tensor(g, t);
        CHECK(ti != NULL && ti->name != NULL);
        const size_t len = strlen(ti->name);
        CHECK(len >= 1 && len <= 1024);
        CHECK(wl_gguf_find_tensor(g, ti->name) == ti);
        CHECK(ti->n_dims <= WL_GGUF_MAX_DIMS);
        uint64_t n_el = 1;
        for (uint32_t d = 0; d < WL_GGUF_MAX_DIMS; d++) {
            if (d >= ti->n_dims)
                CHECK(ti->ne[d] == 1);
            CHECK(!__builtin_mul_overflow(n_el, ti->ne[d], &n_el));
        }
        CHECK(n_el == ti->n_elements && n_el <= (uint64_t)INT64_MAX);
        CHECK(wl_ttype_is_known(ti->type));
        CHECK(ti->ne[0] % wl_ttype_block_elems(ti->type) == 0);
        uint64_t bytes;
        CHECK(wl_ttype_bytes(ti->type, ti->n_elements, &bytes) == 0 && bytes == ti->n_bytes);
        CHECK(ti->offset % align == 0);
        if (ti->n_bytes == 0) {
            CHECK(ti->data == NULL);
            continue;
        }
        CHECK(data_offset <= in_size && ti->offset <= in_size - data_offset);
        CHECK((const uint8_t *)ti->data == in_base + data_offset + ti->offset);
        CHECK(inside(ti->data, ti->n_bytes));
        wl_fuzz_sink +=
            ((const uint8_t *)ti->data)[0] + ((const uint8_t *)ti->data)[ti->n_bytes - 1];
        order[n_data++] = ti;
    }
    /* no two tensors with data overlap: in offset order, each starts at or
     * after the end of the one before (all ends are inside the input) */
    qsort(order, n_data, sizeof *order, cmp_offset);
    for (uint64_t i = 1; i < n_data; i++)
        CHECK(order[i - 1]->offset + order[i - 1]->n_bytes <= order[i]->offset);
    free(order);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    const int rc = wl_gguf_open_memory(data, size, &g, &err);
    if (rc != 0) {
        CHECK(rc < 0 && g == NULL && (err.text[0] != '\0' || rc == WL_ENOMEM));
        return 0;
    }
    in_base = data;
    in_size = size;
    const uint32_t version = wl_gguf_version(g);
    CHECK(version == 2 || version == 3);
    CHECK(wl_gguf_file_size(g) == size);
    CHECK(wl_gguf_mapping(g) == NULL); /* caller memory, not a mapping */
    const uint64_t align = wl_gguf_alignment(g);
    CHECK(align >= 1 && align <= WL_GGUF_MAX_ALIGNMENT && (align & (align - 1)) == 0);
    CHECK(wl_gguf_data_offset(g) % align == 0);
    for (uint64_t k = 0; k < wl_gguf_n_kv(g); k++)
        check_kv(g, k);
    CHECK(wl_gguf_kv_key(g, wl_gguf_n_kv(g)) == NULL);
    CHECK(wl_gguf_kv_type(g, wl_gguf_n_kv(g)) == WL_GGUF_VTYPE_COUNT);
    CHECK(wl_gguf_find_kv(g, "") == -1); /* keys are never empty */
    check_tensors(g);
    wl_gguf_close(g);
    return 0;
}

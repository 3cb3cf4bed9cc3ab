/* engine/gguf: the reader against the real model and vocabulary files in the
 * shared test data, and against small files built byte by byte here, both
 * valid (every value type, nested arrays, v2, custom alignment) and hostile
 * (each must fail with a message naming what and at which byte). */
#include "test_support.h"

#include "engine/gguf.h"
#include "wattlens/error.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a tiny GGUF byte builder ---------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_u8(struct buf *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(struct buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(struct buf *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

static void put_header(struct buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}

static void put_kv_u32(struct buf *b, const char *key, uint32_t v)
{
    put_str(b, key);
    put_u32(b, WL_GGUF_UINT32);
    put_u32(b, v);
}

static void put_tensor_info(struct buf *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                            uint32_t type, uint64_t offset)
{
    put_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        put_u64(b, ne[d]);
    put_u32(b, type);
    put_u64(b, offset);
}

static void pad_to(struct buf *b, size_t align)
{
    while (b->n % align)
        put_u8(b, 0);
}

/* Opens the built buffer; returns the code and leaves the message in err. */
static int open_buf(const struct buf *b, wl_gguf **g, struct wl_errmsg *err)
{
    return wl_gguf_open_memory(b->p, b->n, g, err);
}

/* Asserts that b fails to open with code and a message containing needle. */
static void expect_fail(const struct buf *b, int code, const char *needle)
{
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    int rc = open_buf(b, &g, &err);
    if (rc != code || !strstr(err.text, needle))
        fail_msg("expected %s with '%s', got %s: %s", wl_strerror_name(code), needle,
                 wl_strerror_name(rc), err.text);
    assert_null(g);
}

/* ---- real files ----------------------------------------------------------------- */

static void test_stories260k_header_and_metadata(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    int rc = wl_gguf_open(wl_test_data_path("models/stories260K.gguf"), &g, &err);
    if (rc)
        fail_msg("open: %s", err.text);
    assert_int_equal(wl_gguf_version(g), 3);
    assert_int_equal(wl_gguf_n_kv(g), 19);
    assert_int_equal(wl_gguf_n_tensors(g), 48);
    assert_int_equal(wl_gguf_alignment(g), 32);
    assert_int_equal(wl_gguf_file_size(g), 1185376);
    assert_int_equal(wl_gguf_data_offset(g) % 32, 0);

    struct wl_gguf_str s;
    assert_int_equal(wl_gguf_get_str(g, "general.architecture", &s), 0);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.data, "llama", 5);

    int64_t i64;
    uint64_t u64;
    double f64;
    assert_int_equal(wl_gguf_get_i64(g, "llama.block_count", &i64), 0);
    assert_int_equal(i64, 5);
    assert_int_equal(wl_gguf_get_u64(g, "llama.embedding_length", &u64), 0);
    assert_int_equal(u64, 64);
    assert_int_equal(wl_gguf_get_f64(g, "llama.attention.head_count_kv", &f64), 0);
    assert_true(f64 == 4.0);
    assert_int_equal(wl_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &f64), 0);
    assert_true(f64 > 0.99e-5 && f64 < 1.01e-5);
    /* 1e-5 is not an integer: it does not convert. */
    assert_int_equal(wl_gguf_get_i64(g, "llama.attention.layer_norm_rms_epsilon", &i64), WL_ERANGE);
    assert_int_equal(wl_gguf_get_str(g, "llama.block_count", &s), WL_EINVAL);
    assert_int_equal(wl_gguf_get_i64(g, "general.architecture", &i64), WL_EINVAL);
    assert_int_equal(wl_gguf_get_i64(g, "no.such.key", &i64), WL_ENOENT);
    assert_int_equal(wl_gguf_find_kv(g, "no.such.key"), -1);
    int64_t ki = wl_gguf_find_kv(g, "llama.block_count");
    assert_true(ki >= 0);
    assert_string_equal(wl_gguf_kv_key(g, (uint64_t)ki), "llama.block_count");
    assert_int_equal(wl_gguf_kv_type(g, (uint64_t)ki), WL_GGUF_UINT32);
    assert_null(wl_gguf_kv_key(g, 19));
    assert_int_equal(wl_gguf_kv_type(g, 19), WL_GGUF_VTYPE_COUNT);

    enum wl_gguf_vtype et;
    uint64_t n;
    assert_int_equal(wl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n), 0);
    assert_int_equal(et, WL_GGUF_STRING);
    assert_int_equal(n, 512);
    assert_int_equal(wl_gguf_get_arr_str(g, "tokenizer.ggml.tokens", 1, &s), 0);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.data, "<s>", 3);
    assert_int_equal(wl_gguf_get_arr_str(g, "tokenizer.ggml.tokens", 512, &s), WL_ERANGE);
    assert_int_equal(wl_gguf_get_arr_i64(g, "tokenizer.ggml.tokens", 0, &i64), WL_EINVAL);
    assert_null(wl_gguf_get_arr_data(g, "tokenizer.ggml.tokens"));
    assert_int_equal(wl_gguf_get_arr_i64(g, "tokenizer.ggml.token_type", 1, &i64), 0);
    assert_int_equal(i64, 3); /* <s> is a control token */
    assert_int_equal(wl_gguf_get_arr_f64(g, "tokenizer.ggml.scores", 0, &f64), 0);
    assert_non_null(wl_gguf_get_arr_data(g, "tokenizer.ggml.scores"));
    assert_int_equal(wl_gguf_get_arr(g, "general.architecture", &et, &n), WL_EINVAL);
    wl_gguf_close(g);
}

static void test_stories260k_tensors(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    const char *path = wl_test_data_path("models/stories260K.gguf");
    assert_int_equal(wl_gguf_open(path, &g, &err), 0);

    const struct wl_gguf_tensor *t = wl_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->type, WL_TTYPE_F32);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->ne[2], 1);
    assert_int_equal(t->n_elements, 64 * 512);
    assert_int_equal(t->n_bytes, 64 * 512 * 4);
    const struct wl_gguf_tensor *k = wl_gguf_find_tensor(g, "blk.4.attn_k.weight");
    assert_non_null(k);
    assert_int_equal(k->ne[1], 32); /* 4 KV heads x head dim 8 */
    assert_null(wl_gguf_find_tensor(g, "blk.5.attn_k.weight"));
    assert_null(wl_gguf_tensor(g, 48));

    /* Total parameters, and every tensor's data inside the file and aligned. */
    uint64_t params = 0;
    for (uint64_t i = 0; i < wl_gguf_n_tensors(g); i++) {
        const struct wl_gguf_tensor *ti = wl_gguf_tensor(g, i);
        params += ti->n_elements;
        assert_int_equal(ti->offset % wl_gguf_alignment(g), 0);
        assert_true(wl_gguf_data_offset(g) + ti->offset + ti->n_bytes <= wl_gguf_file_size(g));
        assert_ptr_equal(wl_gguf_find_tensor(g, ti->name), ti);
    }
    /* 2*64*512 embeddings+output, 64 norm, 5 layers of (64*64*2 + 64*32*2 + 3*64*172 + 2*64). */
    assert_int_equal(params,
                     2 * 64 * 512 + 64 + 5 * (64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 172 + 128));

    /* The data pointer shows the same bytes as a plain read of the file. */
    size_t fsize = 0;
    char *raw = wl_test_read_file(path, &fsize);
    assert_non_null(raw);
    assert_int_equal(fsize, wl_gguf_file_size(g));
    assert_memory_equal(t->data, raw + wl_gguf_data_offset(g) + t->offset, t->n_bytes);
    free(raw);
    wl_gguf_close(g);
}

static void test_every_vocab_file_opens_with_tokenizer_metadata(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    /* every *.gguf in the folder, so a vocabulary added later is covered too */
    char files[32][300]; /* "vocab/" + a d_name of up to 255 bytes */
    size_t n_files = 0;
    DIR *d = opendir(wl_test_data_path("vocab"));
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n_files < 32) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".gguf") == 0)
            snprintf(files[n_files++], sizeof files[0], "vocab/%s", e->d_name);
    }
    closedir(d);
    assert_true(n_files >= 5);
    for (size_t f = 0; f < n_files; f++) {
        struct wl_errmsg err;
        wl_gguf *g = NULL;
        int rc = wl_gguf_open(wl_test_data_path(files[f]), &g, &err);
        if (rc)
            fail_msg("%s: %s", files[f], err.text);
        assert_int_equal(wl_gguf_n_tensors(g), 0);
        struct wl_gguf_str model;
        assert_int_equal(wl_gguf_get_str(g, "tokenizer.ggml.model", &model), 0);
        assert_true(model.len > 0);
        enum wl_gguf_vtype et;
        uint64_t n;
        assert_int_equal(wl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n), 0);
        assert_int_equal(et, WL_GGUF_STRING);
        assert_true(n >= 256);
        /* Every token is reachable and lies inside the file. */
        const char *lo = NULL, *hi = NULL;
        for (uint64_t j = 0; j < n; j++) {
            struct wl_gguf_str s;
            assert_int_equal(wl_gguf_get_arr_str(g, "tokenizer.ggml.tokens", j, &s), 0);
            if (!lo || s.data < lo)
                lo = s.data;
            if (!hi || s.data + s.len > hi)
                hi = s.data + s.len;
        }
        assert_true((uint64_t)(hi - lo) < wl_gguf_file_size(g));
        int64_t tt;
        assert_int_equal(wl_gguf_get_arr_i64(g, "tokenizer.ggml.token_type", n - 1, &tt), 0);
        int64_t bos;
        assert_int_equal(wl_gguf_get_i64(g, "tokenizer.ggml.bos_token_id", &bos), 0);
        assert_true(bos >= 0 && (uint64_t)bos < n);
        if (strcmp(files[f], "vocab/ggml-vocab-llama-spm.gguf") == 0) {
            assert_int_equal(n, 32000);
            struct wl_gguf_str s;
            assert_int_equal(wl_gguf_get_arr_str(g, "tokenizer.ggml.tokens", 1, &s), 0);
            assert_memory_equal(s.data, "<s>", 3);
            bool add_bos = false;
            assert_int_equal(wl_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos), 0);
            assert_true(add_bos);
        }
        if (strcmp(files[f], "vocab/ggml-vocab-gpt-2.gguf") == 0) {
            uint64_t nm;
            assert_int_equal(wl_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &nm), 0);
            assert_int_equal(nm, 50000);
            struct wl_gguf_str s;
            assert_int_equal(wl_gguf_get_arr_str(g, "tokenizer.ggml.merges", 0, &s), 0);
            assert_memory_equal(s.data, "\xc4\xa0 t", 4); /* "Ġ t" */
        }
        wl_gguf_close(g);
    }
}

static void test_open_reports_missing_and_non_gguf_files(void **state)
{
    (void)state;
    struct wl_errmsg err;
    wl_gguf *g = (wl_gguf *)1;
    assert_int_equal(wl_gguf_open("/nonexistent/x.gguf", &g, &err), WL_ENOENT);
    assert_null(g);
    assert_non_null(strstr(err.text, "/nonexistent/x.gguf"));
    assert_int_equal(wl_gguf_open("/", &g, &err), WL_EINVAL);
    char *dir = wl_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/empty.gguf", dir);
    assert_int_equal(wl_test_write_file(path, "", 0), 0);
    assert_int_equal(wl_gguf_open(path, &g, &err), WL_EFORMAT);
    assert_non_null(strstr(err.text, "shorter than a GGUF header"));
    snprintf(path, sizeof path, "%s/text.gguf", dir);
    const char *text = "this is a text file and not a model at all\n";
    assert_int_equal(wl_test_write_file(path, text, strlen(text)), 0);
    assert_int_equal(wl_gguf_open(path, &g, &err), WL_EFORMAT);
    assert_non_null(strstr(err.text, "magic"));
    /* a FIFO with no writer is refused at once, not waited on (the old
     * open blocked for ever: the alarm ends such a test) */
    snprintf(path, sizeof path, "%s/fifo.gguf", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(20);
    assert_int_equal(wl_gguf_open(path, &g, &err), WL_EINVAL);
    alarm(0);
    assert_null(g);
    assert_non_null(strstr(err.text, "is not a regular file"));
    wl_test_rmtree(dir);
    free(dir);
    wl_gguf_close(NULL);
}

/* ---- every value type, nested arrays, v2, alignment ------------------------------ */

/* A v2 file with one key of every type, an array of arrays of strings, and
 * two tensors at general.alignment = 64. */
static void build_all_types(struct buf *b, uint32_t version)
{
    put_header(b, version, 2, 15);
    put_str(b, "t.u8"), put_u32(b, WL_GGUF_UINT8), put_u8(b, 200);
    put_str(b, "t.i8"), put_u32(b, WL_GGUF_INT8), put_u8(b, 0x80);
    put_str(b, "t.u16"), put_u32(b, WL_GGUF_UINT16), put_u8(b, 0x34), put_u8(b, 0x12);
    put_str(b, "t.i16"), put_u32(b, WL_GGUF_INT16), put_u8(b, 0xff), put_u8(b, 0xff);
    put_kv_u32(b, "t.u32", 4000000000u);
    put_str(b, "t.i32"), put_u32(b, WL_GGUF_INT32), put_u32(b, (uint32_t)-7);
    float f = 0.5f;
    uint32_t fb;
    memcpy(&fb, &f, 4);
    put_str(b, "t.f32"), put_u32(b, WL_GGUF_FLOAT32), put_u32(b, fb);
    put_str(b, "t.bool"), put_u32(b, WL_GGUF_BOOL), put_u8(b, 1);
    put_str(b, "t.str"), put_u32(b, WL_GGUF_STRING), put_str(b, "hello");
    put_str(b, "t.u64"), put_u32(b, WL_GGUF_UINT64), put_u64(b, UINT64_MAX);
    put_str(b, "t.i64"), put_u32(b, WL_GGUF_INT64), put_u64(b, (uint64_t)INT64_MIN);
    double d = -2.25;
    uint64_t db;
    memcpy(&db, &d, 8);
    put_str(b, "t.f64"), put_u32(b, WL_GGUF_FLOAT64), put_u64(b, db);
    /* [[ "a", "bc" ], [], [ "def" ]] */
    put_str(b, "t.nested"), put_u32(b, WL_GGUF_ARRAY), put_u32(b, WL_GGUF_ARRAY), put_u64(b, 3);
    put_u32(b, WL_GGUF_STRING), put_u64(b, 2), put_str(b, "a"), put_str(b, "bc");
    put_u32(b, WL_GGUF_STRING), put_u64(b, 0);
    put_u32(b, WL_GGUF_STRING), put_u64(b, 1), put_str(b, "def");
    /* [int16: -1, 2, 300] */
    put_str(b, "t.i16arr"), put_u32(b, WL_GGUF_ARRAY), put_u32(b, WL_GGUF_INT16), put_u64(b, 3);
    put_u8(b, 0xff), put_u8(b, 0xff), put_u8(b, 2), put_u8(b, 0), put_u8(b, 0x2c), put_u8(b, 1);
    put_kv_u32(b, "general.alignment", 64);
    uint64_t ne_a[2] = {4, 2}, ne_b[1] = {32};
    put_tensor_info(b, "a", 2, ne_a, WL_TTYPE_F32, 0);
    put_tensor_info(b, "b", 1, ne_b, WL_TTYPE_Q8_0, 64);
    pad_to(b, 64);
    for (int i = 0; i < 8; i++) {
        float v = (float)i;
        put(b, &v, 4);
    }
    pad_to(b, 64);
    for (int i = 0; i < 34; i++)
        put_u8(b, (uint8_t)i);
}

static void check_all_types(wl_gguf *g)
{
    int64_t i;
    uint64_t u;
    double f;
    bool bo;
    struct wl_gguf_str s;
    assert_int_equal(wl_gguf_get_i64(g, "t.u8", &i), 0), assert_int_equal(i, 200);
    assert_int_equal(wl_gguf_get_i64(g, "t.i8", &i), 0), assert_int_equal(i, -128);
    assert_int_equal(wl_gguf_get_u64(g, "t.i8", &u), WL_ERANGE);
    assert_int_equal(wl_gguf_get_i64(g, "t.u16", &i), 0), assert_int_equal(i, 0x1234);
    assert_int_equal(wl_gguf_get_i64(g, "t.i16", &i), 0), assert_int_equal(i, -1);
    assert_int_equal(wl_gguf_get_u64(g, "t.u32", &u), 0), assert_int_equal(u, 4000000000u);
    assert_int_equal(wl_gguf_get_i64(g, "t.i32", &i), 0), assert_int_equal(i, -7);
    assert_int_equal(wl_gguf_get_f64(g, "t.f32", &f), 0), assert_true(f == 0.5);
    assert_int_equal(wl_gguf_get_bool(g, "t.bool", &bo), 0), assert_true(bo);
    assert_int_equal(wl_gguf_get_i64(g, "t.bool", &i), 0), assert_int_equal(i, 1);
    assert_int_equal(wl_gguf_get_bool(g, "t.f32", &bo), WL_EINVAL);
    assert_int_equal(wl_gguf_get_bool(g, "t.u32", &bo), WL_ERANGE);
    assert_int_equal(wl_gguf_get_str(g, "t.str", &s), 0);
    assert_int_equal(s.len, 5), assert_memory_equal(s.data, "hello", 5);
    assert_int_equal(wl_gguf_get_u64(g, "t.u64", &u), 0), assert_true(u == UINT64_MAX);
    assert_int_equal(wl_gguf_get_i64(g, "t.u64", &i), WL_ERANGE);
    assert_int_equal(wl_gguf_get_i64(g, "t.i64", &i), 0), assert_true(i == INT64_MIN);
    assert_int_equal(wl_gguf_get_f64(g, "t.f64", &f), 0), assert_true(f == -2.25);
    assert_int_equal(wl_gguf_get_i64(g, "t.f64", &i), WL_ERANGE);

    struct wl_gguf_arr a, sub;
    assert_int_equal(wl_gguf_get_arr_view(g, "t.nested", &a), 0);
    assert_int_equal(a.elem_type, WL_GGUF_ARRAY);
    assert_int_equal(a.n, 3);
    assert_null(wl_gguf_arr_data(&a));
    assert_int_equal(wl_gguf_arr_str(&a, 0, &s), WL_EINVAL);
    assert_int_equal(wl_gguf_arr_sub(&a, 3, &sub), WL_ERANGE);
    assert_int_equal(wl_gguf_arr_sub(&a, 0, &sub), 0);
    assert_int_equal(sub.n, 2);
    assert_int_equal(wl_gguf_arr_str(&sub, 1, &s), 0);
    assert_int_equal(s.len, 2), assert_memory_equal(s.data, "bc", 2);
    assert_int_equal(wl_gguf_arr_sub(&a, 1, &sub), 0);
    assert_int_equal(sub.n, 0);
    assert_int_equal(wl_gguf_arr_str(&sub, 0, &s), WL_ERANGE);
    assert_int_equal(wl_gguf_arr_sub(&a, 2, &sub), 0);
    assert_int_equal(wl_gguf_arr_str(&sub, 0, &s), 0);
    assert_int_equal(s.len, 3), assert_memory_equal(s.data, "def", 3);
    assert_int_equal(wl_gguf_arr_sub(&sub, 0, &a), WL_EINVAL);

    assert_int_equal(wl_gguf_get_arr_i64(g, "t.i16arr", 0, &i), 0), assert_int_equal(i, -1);
    assert_int_equal(wl_gguf_get_arr_i64(g, "t.i16arr", 2, &i), 0), assert_int_equal(i, 300);
    assert_int_equal(wl_gguf_get_arr_f64(g, "t.i16arr", 1, &f), 0), assert_true(f == 2.0);
    assert_int_equal(wl_gguf_get_arr_i64(g, "t.i16arr", 3, &i), WL_ERANGE);
    const uint8_t *raw = wl_gguf_get_arr_data(g, "t.i16arr");
    assert_non_null(raw);
    assert_int_equal(raw[4], 0x2c);
    /* unsigned items: as wl_gguf_get_u64, a negative one is out of range */
    struct wl_gguf_arr ia;
    uint64_t ui;
    assert_int_equal(wl_gguf_get_arr_view(g, "t.i16arr", &ia), 0);
    assert_int_equal(wl_gguf_arr_u64(&ia, 2, &ui), 0), assert_true(ui == 300);
    assert_int_equal(wl_gguf_arr_u64(&ia, 0, &ui), WL_ERANGE);
    assert_int_equal(wl_gguf_arr_u64(&ia, 3, &ui), WL_ERANGE);

    assert_int_equal(wl_gguf_alignment(g), 64);
    assert_int_equal(wl_gguf_data_offset(g) % 64, 0);
    const struct wl_gguf_tensor *ta = wl_gguf_find_tensor(g, "a");
    const struct wl_gguf_tensor *tb = wl_gguf_find_tensor(g, "b");
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(ta->n_bytes, 32);
    assert_int_equal(tb->n_bytes, 34);
    float v;
    memcpy(&v, (const char *)ta->data + 12, 4);
    assert_true(v == 3.0f);
    assert_int_equal(((const uint8_t *)tb->data)[33], 33);
    assert_int_equal(((const char *)tb->data - (const char *)ta->data), 64);

    const void *rv;
    uint64_t rn;
    int64_t si = wl_gguf_find_kv(g, "t.str");
    assert_int_equal(wl_gguf_kv_raw(g, (uint64_t)si, &rv, &rn), 0);
    assert_int_equal(rn, 8 + 5);
    assert_memory_equal((const char *)rv + 8, "hello", 5);
    assert_int_equal(wl_gguf_kv_raw(g, 99, &rv, &rn), WL_ERANGE);
}

static void test_every_value_type_v2_and_v3(void **state)
{
    (void)state;
    for (uint32_t version = 2; version <= 3; version++) {
        struct buf b = {0};
        build_all_types(&b, version);
        struct wl_errmsg err;
        wl_gguf *g = NULL;
        int rc = open_buf(&b, &g, &err);
        if (rc)
            fail_msg("v%u: %s", version, err.text);
        assert_int_equal(wl_gguf_version(g), version);
        check_all_types(g);
        wl_gguf_close(g);
        free(b.p);
    }
}

/* Every strict prefix of a valid file fails cleanly (no crash, no success),
 * except prefixes that still hold every tensor's data, which cannot exist here
 * because the last tensor ends at the last byte. */
static void test_every_truncation_fails_with_a_position(void **state)
{
    (void)state;
    struct buf b = {0};
    build_all_types(&b, 3);
    for (size_t n = 0; n < b.n; n++) {
        struct wl_errmsg err;
        wl_gguf *g = NULL;
        int rc = wl_gguf_open_memory(b.p, n, &g, &err);
        if (rc == 0)
            fail_msg("prefix of %zu bytes opened", n);
        assert_int_equal(rc, WL_EFORMAT);
        assert_null(g);
        if (n >= 4 && !strstr(err.text, "byte"))
            fail_msg("prefix %zu: message without a position: %s", n, err.text);
    }
    free(b.p);
}

/* ---- hostile inputs ---------------------------------------------------------------- */

static void test_bad_header(void **state)
{
    (void)state;
    struct buf b = {0};
    put(&b, "GGUF", 4), put_u32(&b, 1), put_u64(&b, 0), put_u64(&b, 0);
    expect_fail(&b, WL_EVERSION, "version 1");
    b.n = 0;
    put(&b, "GGUF", 4), put_u32(&b, 0x03000000u), put_u64(&b, 0), put_u64(&b, 0);
    expect_fail(&b, WL_ENOTSUP, "big-endian");
    b.n = 0;
    put(&b, "GGML", 4), put_u32(&b, 3), put_u64(&b, 0), put_u64(&b, 0);
    expect_fail(&b, WL_EFORMAT, "magic");
    b.n = 0;
    put_header(&b, 3, 0, 0);
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    assert_int_equal(open_buf(&b, &g, &err), 0); /* an empty GGUF is valid */
    assert_int_equal(wl_gguf_n_kv(g), 0);
    wl_gguf_close(g);
    free(b.p);
}

static void test_huge_counts_are_rejected_before_allocation(void **state)
{
    (void)state;
    struct buf b = {0};
    put_header(&b, 3, 0, UINT64_MAX);
    expect_fail(&b, WL_EFORMAT, "metadata count 18446744073709551615 at byte 16");
    b.n = 0;
    put_header(&b, 3, 1ull << 60, 0);
    expect_fail(&b, WL_EFORMAT, "tensor count");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_ARRAY), put_u32(&b, WL_GGUF_UINT64),
        put_u64(&b, UINT64_MAX / 4);
    expect_fail(&b, WL_EFORMAT, "claims");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_ARRAY), put_u32(&b, WL_GGUF_STRING),
        put_u64(&b, 1ull << 62);
    expect_fail(&b, WL_EFORMAT, "claims");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_STRING), put_u64(&b, UINT64_MAX);
    expect_fail(&b, WL_EFORMAT, "has length 18446744073709551615");
    free(b.p);
}

static void test_bad_keys_types_and_strings(void **state)
{
    (void)state;
    struct buf b = {0};
    put_header(&b, 3, 0, 2);
    put_kv_u32(&b, "same", 1);
    put_kv_u32(&b, "same", 2);
    expect_fail(&b, WL_EFORMAT, "duplicate metadata key 'same' at byte 44");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, ""), put_u32(&b, WL_GGUF_UINT32), put_u32(&b, 0);
    expect_fail(&b, WL_EFORMAT, "metadata key at byte 24 is empty");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_u64(&b, 3), put(&b, "a\0b", 3), put_u32(&b, WL_GGUF_UINT32), put_u32(&b, 0);
    expect_fail(&b, WL_EFORMAT, "NUL");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, 13), put_u32(&b, 0);
    expect_fail(&b, WL_EFORMAT, "unknown value type 13 at byte 33");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_ARRAY), put_u32(&b, 77), put_u64(&b, 0);
    expect_fail(&b, WL_EFORMAT, "unknown element type 77");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_BOOL), put_u8(&b, 2);
    expect_fail(&b, WL_EFORMAT, "must be 0 or 1");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_ARRAY), put_u32(&b, WL_GGUF_STRING), put_u64(&b, 2);
    put_str(&b, "ok"), put_u64(&b, 1000), put(&b, "short", 5);
    expect_fail(&b, WL_EFORMAT, "key 'k': string 1 at byte 59 has length 1000");
    /* Every error inside a value names its key: the value type, a scalar, an
     * array's header, a string value. */
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "abcd"), put_u8(&b, 0), put_u8(&b, 0); /* 14 bytes: the smallest entry */
    expect_fail(
        &b, WL_EFORMAT,
        "truncated file: key 'abcd': value type at byte 36 needs 4 bytes but only 2 remain");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "tokenizer.ggml.bos_token_id"), put_u32(&b, WL_GGUF_UINT32), put_u8(&b, 1);
    put_u8(&b, 0);
    expect_fail(&b, WL_EFORMAT,
                "truncated file: key 'tokenizer.ggml.bos_token_id': UINT32 value at byte 63 "
                "needs 4 bytes but only 2 remain");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_ARRAY), put_u8(&b, 1);
    expect_fail(&b, WL_EFORMAT, "truncated file: key 'k': array element type at byte 37");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_ARRAY), put_u32(&b, WL_GGUF_STRING), put_u8(&b, 5);
    expect_fail(&b, WL_EFORMAT, "truncated file: key 'k': array length at byte 41");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_STRING), put_u64(&b, 100), put(&b, "ab", 2);
    expect_fail(&b, WL_EFORMAT, "key 'k': string value at byte 37 has length 100 but only 2");
    /* an array of arrays of strings: the inner index */
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_ARRAY), put_u32(&b, WL_GGUF_ARRAY), put_u64(&b, 1);
    put_u32(&b, WL_GGUF_STRING), put_u64(&b, 3), put_str(&b, "a"), put_str(&b, "b");
    put_u64(&b, 9);
    expect_fail(&b, WL_EFORMAT, "key 'k': string 2 at byte 79 has length 9");
    /* Arrays of arrays nested too deep. */
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_ARRAY);
    for (int i = 0; i < 20; i++)
        put_u32(&b, WL_GGUF_ARRAY), put_u64(&b, 1);
    put_u32(&b, WL_GGUF_UINT8), put_u64(&b, 0);
    expect_fail(&b, WL_EFORMAT, "nested deeper");
    free(b.p);
}

static void test_bad_alignment(void **state)
{
    (void)state;
    struct buf b = {0};
    put_header(&b, 3, 0, 1);
    put_kv_u32(&b, "general.alignment", 48);
    expect_fail(&b, WL_EFORMAT, "general.alignment = 48 at byte 53 is not a power of two");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_kv_u32(&b, "general.alignment", 0);
    expect_fail(&b, WL_EFORMAT, "not a power of two");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "general.alignment"), put_u32(&b, WL_GGUF_UINT64), put_u64(&b, 32);
    expect_fail(&b, WL_EFORMAT, "must be UINT32");
    /* at most 2 MiB (a 168-byte file at 2^26 used to be rewritten as 64 MiB) */
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_kv_u32(&b, "general.alignment", 1u << 22);
    expect_fail(&b, WL_EFORMAT,
                "general.alignment = 4194304 at byte 53 exceeds the largest alignment wattlens "
                "reads, 2097152 (2 MiB)");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_kv_u32(&b, "general.alignment", 1u << 31);
    expect_fail(&b, WL_EFORMAT, "exceeds the largest alignment");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_kv_u32(&b, "general.alignment", 1u << 21);
    wl_gguf *g = NULL;
    struct wl_errmsg err;
    assert_int_equal(open_buf(&b, &g, &err), 0);
    assert_int_equal(wl_gguf_alignment(g), 1u << 21);
    wl_gguf_close(g);
    free(b.p);
}

static void test_bad_tensor_infos(void **state)
{
    (void)state;
    struct buf b = {0};
    uint64_t ne[5] = {32, 1, 1, 1, 1};
    /* unknown tensor type */
    put_header(&b, 3, 1, 0);
    put_tensor_info(&b, "t", 1, ne, 4, 0);
    expect_fail(&b, WL_EFORMAT, "unknown tensor type 4 at byte");
    /* a tensor info cut short names the tensor and the field */
    b.n = 0;
    put_header(&b, 3, 1, 0);
    put_str(&b, "tensor"), put_u32(&b, 2), put_u64(&b, 32), put_u8(&b, 0);
    expect_fail(&b, WL_EFORMAT, "truncated file: tensor 'tensor': dimension 1 at byte 50");
    b.n = 0;
    put_header(&b, 3, 1, 0);
    put_str(&b, "t"), put_u32(&b, 1), put_u64(&b, 32), put_u32(&b, 0), put_u8(&b, 0);
    expect_fail(&b, WL_EFORMAT, "truncated file: tensor 't': data offset at byte 49");
    b.n = 0;
    put_header(&b, 3, 1, 0);
    put_str(&b, "0123456789abcdef"), put_u8(&b, 1); /* 25 bytes: the smallest info */
    expect_fail(&b, WL_EFORMAT, "truncated file: tensor '0123456789abcdef': n_dims at byte 48");
    /* five dimensions */
    b.n = 0;
    put_header(&b, 3, 1, 0);
    put_tensor_info(&b, "t", 5, ne, 0, 0);
    expect_fail(&b, WL_EFORMAT, "5 dimensions at byte 33");
    /* element count overflow */
    b.n = 0;
    uint64_t big[2] = {1ull << 40, 1ull << 40};
    put_header(&b, 3, 1, 0);
    put_tensor_info(&b, "t", 2, big, 0, 0);
    expect_fail(&b, WL_EFORMAT, "overflows");
    /* row not a multiple of the block */
    b.n = 0;
    uint64_t odd[1] = {33};
    put_header(&b, 3, 1, 0);
    put_tensor_info(&b, "t", 1, odd, WL_TTYPE_Q8_0, 0);
    expect_fail(&b, WL_EFORMAT, "not a multiple of the Q8_0 block size 32");
    /* data past the end */
    b.n = 0;
    put_header(&b, 3, 1, 0);
    put_tensor_info(&b, "t", 1, ne, WL_TTYPE_F32, 0);
    pad_to(&b, 32);
    put(&b, "0123456789", 10);
    expect_fail(&b, WL_EFORMAT, "extends past the end of the file");
    /* offset that would overflow when added */
    b.n = 0;
    put_header(&b, 3, 1, 0);
    put_tensor_info(&b, "t", 1, ne, WL_TTYPE_F32, UINT64_MAX - 31);
    pad_to(&b, 32);
    expect_fail(&b, WL_EFORMAT, "extends past the end of the file");
    /* misaligned offset */
    b.n = 0;
    put_header(&b, 3, 1, 0);
    put_tensor_info(&b, "t", 1, ne, WL_TTYPE_F32, 4);
    pad_to(&b, 32);
    for (int i = 0; i < 200; i++)
        put_u8(&b, 0);
    expect_fail(&b, WL_EFORMAT, "not a multiple of the alignment 32");
    /* duplicate names */
    b.n = 0;
    put_header(&b, 3, 2, 0);
    put_tensor_info(&b, "t", 1, ne, WL_TTYPE_F32, 0);
    put_tensor_info(&b, "t", 1, ne, WL_TTYPE_F32, 128);
    pad_to(&b, 32);
    for (int i = 0; i < 256; i++)
        put_u8(&b, 0);
    expect_fail(&b, WL_EFORMAT, "duplicate tensor name 't'");
    /* overlapping data */
    b.n = 0;
    put_header(&b, 3, 2, 0);
    put_tensor_info(&b, "t", 1, ne, WL_TTYPE_F32, 0);
    put_tensor_info(&b, "u", 1, ne, WL_TTYPE_F32, 64);
    pad_to(&b, 32);
    for (int i = 0; i < 256; i++)
        put_u8(&b, 0);
    expect_fail(&b, WL_EFORMAT, "overlap");
    /* overlapping data with a 0-byte tensor between them in offset order:
     * a = [0, 128), z at 32 (no data), b = [64, 96). Only neighbours used to
     * be compared, and a pair with a 0-byte tensor skipped, so this passed. */
    b.n = 0;
    const uint64_t ne_a[1] = {32}, ne_z[1] = {0}, ne_b[1] = {8};
    put_header(&b, 3, 3, 0);
    put_tensor_info(&b, "a", 1, ne_a, WL_TTYPE_F32, 0);
    put_tensor_info(&b, "z", 1, ne_z, WL_TTYPE_F32, 32);
    put_tensor_info(&b, "b", 1, ne_b, WL_TTYPE_F32, 64);
    pad_to(&b, 32);
    for (int i = 0; i < 128; i++)
        put_u8(&b, 0);
    expect_fail(&b, WL_EFORMAT,
                "tensors 'a' (data offset 0, 128 bytes) and 'b' (data offset 64) overlap");
    /* the same file is fine when b starts where a ends */
    b.n = 0;
    put_header(&b, 3, 3, 0);
    put_tensor_info(&b, "a", 1, ne_a, WL_TTYPE_F32, 0);
    put_tensor_info(&b, "z", 1, ne_z, WL_TTYPE_F32, 32);
    put_tensor_info(&b, "b", 1, ne_b, WL_TTYPE_F32, 128);
    pad_to(&b, 32);
    for (int i = 0; i < 160; i++)
        put_u8(&b, 0);
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    if (open_buf(&b, &g, &err) != 0)
        fail_msg("%s", err.text);
    wl_gguf_close(g);
    free(b.p);
}

/* ---- the name indexes under chosen collisions ------------------------------------
 * The low k bits of an FNV-1a state depend only on the low k bits of the
 * previous state and the byte. So pairs of 4-byte blocks that collide in the
 * low 21 bits chain: 2^12 names of 12 blocks all share their low 21 FNV-1a
 * bits. The index used to be plain FNV-1a masked to its low bits with linear
 * probing: every such name landed in one slot, and opening the file took
 * O(n^2) compares (32k keys: 4 s; 2^20: about an hour). With the keyed hash
 * the names probe like random ones. Counts probes; times nothing. */

enum { COLL_BITS = 21, COLL_STAGES = 12, COLL_NAMES = 1 << COLL_STAGES };

static uint64_t coll_rng = 0x2545f4914f6cdd1dull;

static uint32_t coll_rand(void)
{
    coll_rng ^= coll_rng << 13;
    coll_rng ^= coll_rng >> 7;
    coll_rng ^= coll_rng << 17;
    return (uint32_t)(coll_rng >> 32);
}

static uint64_t fnv1a_step(uint64_t h, uint8_t c)
{
    return (h ^ c) * 1099511628211ull;
}

struct coll_block {
    uint32_t low; /* low COLL_BITS of the state after the block */
    uint8_t b[4];
};

static int coll_cmp(const void *a, const void *b)
{
    const struct coll_block *x = a, *y = b;
    return x->low < y->low ? -1 : x->low > y->low ? 1 : memcmp(x->b, y->b, 4);
}

/* Two different printable 4-byte blocks taking low state s to the same low
 * state (returned): a birthday search over 8192 random blocks per round. */
static uint32_t coll_pair(uint32_t s, uint8_t out[2][4])
{
    enum { TRIES = 8192 };
    const uint32_t mask = (1u << COLL_BITS) - 1;
    struct coll_block *v = malloc(TRIES * sizeof *v);
    assert_non_null(v);
    for (;;) {
        for (int i = 0; i < TRIES; i++) {
            uint64_t h = s;
            for (int j = 0; j < 4; j++) {
                v[i].b[j] = (uint8_t)('A' + coll_rand() % 58);
                h = fnv1a_step(h, v[i].b[j]);
            }
            v[i].low = (uint32_t)h & mask;
        }
        qsort(v, TRIES, sizeof *v, coll_cmp);
        for (int i = 1; i < TRIES; i++) {
            if (v[i].low == v[i - 1].low && memcmp(v[i].b, v[i - 1].b, 4) != 0) {
                memcpy(out[0], v[i - 1].b, 4);
                memcpy(out[1], v[i].b, 4);
                const uint32_t low = v[i].low;
                free(v);
                return low;
            }
        }
    }
}

static void test_chosen_fnv_collisions_do_not_share_a_slot(void **state)
{
    (void)state;
    uint8_t blocks[COLL_STAGES][2][4];
    uint32_t low = (uint32_t)1469598103934665603ull & ((1u << COLL_BITS) - 1);
    for (int j = 0; j < COLL_STAGES; j++)
        low = coll_pair(low, blocks[j]);
    char(*names)[4 * COLL_STAGES + 1] = calloc(COLL_NAMES, sizeof *names);
    assert_non_null(names);
    for (int i = 0; i < COLL_NAMES; i++) {
        for (int j = 0; j < COLL_STAGES; j++)
            memcpy(names[i] + 4 * j, blocks[j][(i >> j) & 1], 4);
        /* the construction works: plain FNV-1a, low 21 bits, all equal */
        uint64_t h = 1469598103934665603ull;
        for (const char *c = names[i]; *c; c++)
            h = fnv1a_step(h, (uint8_t)*c);
        assert_int_equal(h & ((1u << COLL_BITS) - 1), low);
    }
    /* every name as a key and as a tensor (8 floats each) */
    struct buf b = {0};
    put_header(&b, 3, COLL_NAMES, COLL_NAMES);
    for (int i = 0; i < COLL_NAMES; i++) {
        put_str(&b, names[i]);
        put_u32(&b, WL_GGUF_UINT8);
        put_u8(&b, 1);
    }
    const uint64_t ne[1] = {8};
    for (int i = 0; i < COLL_NAMES; i++)
        put_tensor_info(&b, names[i], 1, ne, WL_TTYPE_F32, (uint64_t)i * 32);
    pad_to(&b, 32);
    for (int i = 0; i < COLL_NAMES * 32; i++)
        put_u8(&b, 0);
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    assert_int_equal(open_buf(&b, &g, &err), 0);
    assert_int_equal(wl_gguf_find_kv(g, names[COLL_NAMES - 1]), COLL_NAMES - 1);
    assert_non_null(wl_gguf_find_tensor(g, names[7]));
    struct wl__gguf_probe_stats st;
    wl__gguf_probe_stats(g, &st);
    /* Random names in a half-full table: about 1.5 probes each on average
     * (10000 opens of this file: at most 1.7 per name, the longest probe 56).
     * The colliding names used to need 2048 on average, the last one 4096. */
    if (st.kv_total > 3 * COLL_NAMES || st.tensor_total > 3 * COLL_NAMES || st.kv_max > 512 ||
        st.tensor_max > 512)
        fail_msg("probes: keys %llu (longest %llu), tensors %llu (longest %llu) for %d names",
                 (unsigned long long)st.kv_total, (unsigned long long)st.kv_max,
                 (unsigned long long)st.tensor_total, (unsigned long long)st.tensor_max,
                 COLL_NAMES);
    wl_gguf_close(g);
    free(b.p);
    free(names);
}

/* ---- the hostile seed corpus of the fuzz target ---------------------------------
 * tests/fuzz/corpus/fuzz_gguf/hostile-*.gguf (written by tests/data/gen_gguf_corpus.py):
 * each must fail with this code and a message containing this text. */
static const struct {
    const char *file;
    int code;
    const char *msg;
} hostile[] = {
    {"hostile-alignment-not-power-of-two.gguf", WL_EFORMAT, "general.alignment = 48 at byte"},
    {"hostile-alignment-wrong-type.gguf", WL_EFORMAT, "has type UINT64 (must be UINT32)"},
    {"hostile-alignment-zero.gguf", WL_EFORMAT, "general.alignment = 0 at byte 53"},
    {"hostile-bad-magic.gguf", WL_EFORMAT, "magic"},
    {"hostile-big-endian.gguf", WL_ENOTSUP, "big-endian"},
    {"hostile-bool-array-value.gguf", WL_EFORMAT, "bool array element 1 at byte 50 is 7"},
    {"hostile-bool-value-2.gguf", WL_EFORMAT, "bool value at byte 37 is 2"},
    {"hostile-deep-nesting.gguf", WL_EFORMAT, "nested deeper than"},
    {"hostile-duplicate-key.gguf", WL_EFORMAT, "duplicate metadata key 'same' at byte 44"},
    {"hostile-huge-array-count.gguf", WL_EFORMAT, "array at byte 37 claims 2305843009213693952"},
    {"hostile-huge-key-length.gguf", WL_EFORMAT,
     "metadata key at byte 24 has length 1099511627776"},
    {"hostile-huge-kv-count.gguf", WL_EFORMAT, "metadata count 18446744073709551615 at byte 16"},
    {"hostile-huge-string-array.gguf", WL_EFORMAT,
     "claims 1152921504606846976 elements of type STRING"},
    {"hostile-huge-string-length.gguf", WL_EFORMAT, "key 'k': string value at byte 37 has length"},
    {"hostile-huge-tensor-count.gguf", WL_EFORMAT, "tensor count 4611686018427387904 at byte 8"},
    {"hostile-key-empty.gguf", WL_EFORMAT, "metadata key at byte 24 is empty"},
    {"hostile-key-with-nul.gguf", WL_EFORMAT, "metadata key at byte 24 contains a NUL"},
    {"hostile-string-array-element-past-end.gguf", WL_EFORMAT,
     "key 'k': string 1 at byte 59 has length 1000"},
    {"hostile-tensor-block-mismatch.gguf", WL_EFORMAT, "row length 33 is not a multiple"},
    {"hostile-tensor-dim-negative.gguf", WL_EFORMAT, "at byte 37 is out of range"},
    {"hostile-tensor-duplicate-name.gguf", WL_EFORMAT, "duplicate tensor name 't' at byte 57"},
    {"hostile-tensor-element-overflow.gguf", WL_EFORMAT,
     "element count overflows at dimension 1 (byte 45)"},
    {"hostile-tensor-empty-name.gguf", WL_EFORMAT, "tensor name at byte 24 is empty"},
    {"hostile-tensor-misaligned.gguf", WL_EFORMAT,
     "data offset 4 (file byte 68) is not a multiple"},
    {"hostile-tensor-offset-overflow.gguf", WL_EFORMAT, "extends past the end of the file"},
    {"hostile-tensor-overlap.gguf", WL_EFORMAT, "overlap"},
    {"hostile-tensor-past-end.gguf", WL_EFORMAT, "data [0, +4096) of the data section at byte 64"},
    {"hostile-tensor-too-many-dims.gguf", WL_EFORMAT, "5 dimensions at byte 33"},
    {"hostile-tensor-type-huge.gguf", WL_EFORMAT, "unknown tensor type 4294967295 at byte 45"},
    {"hostile-tensor-unknown-type.gguf", WL_EFORMAT, "unknown tensor type 4 at byte 45"},
    {"hostile-truncated-header.gguf", WL_EFORMAT, "shorter than a GGUF header"},
    {"hostile-truncated-in-metadata.gguf", WL_EFORMAT, "at byte 140 has length 26 but only 2"},
    {"hostile-truncated-in-tensor-infos.gguf", WL_EFORMAT,
     "truncated file: tensor 'blk.0.attn_q.weight': n_dims at byte 417"},
    {"hostile-truncated-tensor-data.gguf", WL_EFORMAT, "'output_norm.weight': data [1600, +128)"},
    {"hostile-unknown-array-type.gguf", WL_EFORMAT, "has unknown element type 200"},
    {"hostile-unknown-value-type.gguf", WL_EFORMAT, "unknown value type 13 at byte 33"},
    {"hostile-version-1.gguf", WL_EVERSION, "GGUF version 1 at byte 4"},
    {"hostile-version-99.gguf", WL_EVERSION, "GGUF version 99 at byte 4"},
};

static void test_hostile_corpus_fails_with_clear_errors(void **state)
{
    (void)state;
    char path[1024];
    size_t n = sizeof hostile / sizeof hostile[0];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_gguf/%s", WL_SOURCE_DIR,
                 hostile[i].file);
        struct wl_errmsg err;
        wl_gguf *g = NULL;
        int rc = wl_gguf_open(path, &g, &err);
        if (rc != hostile[i].code || !strstr(err.text, hostile[i].msg))
            fail_msg("%s: expected %s with '%s', got %s: %s", hostile[i].file,
                     wl_strerror_name(hostile[i].code), hostile[i].msg, wl_strerror_name(rc),
                     err.text);
        assert_null(g);
        /* The same bytes from memory fail the same way. */
        size_t size = 0;
        char *data = wl_test_read_file(path, &size);
        assert_non_null(data);
        int rc2 = wl_gguf_open_memory(data, size, &g, &err);
        assert_int_equal(rc2, size < 24 ? WL_EFORMAT : rc);
        free(data);
    }
    /* Every hostile file in the corpus has an expectation above. */
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_gguf", WL_SOURCE_DIR);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    size_t seen = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "hostile-", 8) != 0)
            continue;
        bool listed = false;
        for (size_t i = 0; i < n; i++)
            listed = listed || strcmp(hostile[i].file, e->d_name) == 0;
        if (!listed)
            fail_msg("%s has no expected error in test_gguf.c", e->d_name);
        seen++;
    }
    closedir(d);
    assert_int_equal(seen, n);
}

static void test_valid_corpus_opens(void **state)
{
    (void)state;
    static const char *const valid[] = {
        "valid-all-types-v2.gguf",       "valid-all-types-v3.gguf",      "valid-empty-v3.gguf",
        "valid-model-align64.gguf",      "valid-model-v2.gguf",          "valid-model-v3.gguf",
        "valid-quant-types.gguf",        "valid-model-align1.gguf",      "valid-zero-elements.gguf",
        "valid-zero-elements-only.gguf", "valid-unreadable-matrix.gguf",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_gguf/%s", WL_SOURCE_DIR, valid[i]);
        struct wl_errmsg err;
        wl_gguf *g = NULL;
        if (wl_gguf_open(path, &g, &err) != 0)
            fail_msg("%s: %s", valid[i], err.text);
        wl_gguf_close(g);
    }
}

/* Limits that bound the index memory a hostile file can cause, and names
 * from the file shown safely in messages. */
static void test_limits_and_printable_messages(void **state)
{
    (void)state;
    struct buf b = {0};
    /* 2^20 + 1 keys: enough bytes for each, over the key limit */
    put_header(&b, 3, 0, (1u << 20) + 1);
    size_t need = ((size_t)(1u << 20) + 1) * 14;
    uint8_t *zeros = calloc(1, need);
    put(&b, zeros, need);
    expect_fail(&b, WL_EFORMAT, "exceeds the limit of 1048576 keys");
    /* an array of 2^20 + 1 empty arrays */
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k"), put_u32(&b, WL_GGUF_ARRAY), put_u32(&b, WL_GGUF_ARRAY),
        put_u64(&b, (1u << 20) + 1);
    for (uint32_t i = 0; i < (1u << 20) + 1; i++)
        put_u32(&b, WL_GGUF_UINT8), put_u64(&b, 0);
    expect_fail(&b, WL_EFORMAT, "exceeds the limit of 1048576 nested arrays");
    free(zeros);
    /* a key with terminal escape bytes is shown with '?' */
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "evil\x1b[2J"), put_u32(&b, 99), put_u32(&b, 0);
    expect_fail(&b, WL_EFORMAT, "key 'evil?[2J'");
    /* a long multibyte key is cut between characters: "xx" and 60 x "é"
     * (122 bytes), of which 77 bytes end inside the 38th "é" */
    char key[128] = "xx", want[128] = "key 'xx";
    for (int i = 0; i < 60; i++)
        strcat(key, "\xC3\xA9");
    for (int i = 0; i < 37; i++)
        strcat(want, "\xC3\xA9");
    strcat(want, "...'");
    b.n = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, key), put_u32(&b, 99), put_u32(&b, 0);
    expect_fail(&b, WL_EFORMAT, want);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k_header_and_metadata),
        cmocka_unit_test(test_stories260k_tensors),
        cmocka_unit_test(test_every_vocab_file_opens_with_tokenizer_metadata),
        cmocka_unit_test(test_open_reports_missing_and_non_gguf_files),
        cmocka_unit_test(test_every_value_type_v2_and_v3),
        cmocka_unit_test(test_every_truncation_fails_with_a_position),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_huge_counts_are_rejected_before_allocation),
        cmocka_unit_test(test_bad_keys_types_and_strings),
        cmocka_unit_test(test_bad_alignment),
        cmocka_unit_test(test_bad_tensor_infos),
        cmocka_unit_test(test_hostile_corpus_fails_with_clear_errors),
        cmocka_unit_test(test_valid_corpus_opens),
        cmocka_unit_test(test_chosen_fnv_collisions_do_not_share_a_slot),
        cmocka_unit_test(test_limits_and_printable_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* engine/requant: which tensors `model quantize` converts. llama.cpp's
 * rules: a weight matrix (2-D or more, named ...weight) is converted; norms
 * (2-D ones too), MoE routers, position embeddings and the other tensors
 * llama.cpp keeps stay in their source type, byte for byte, and count as
 * "other" tensors, not as matrices. */
#include "test_support.h"

#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/requant.h"
#include "engine/threadpool.h"
#include "wattlens/error.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_converts_weight_matrices_only(void **state)
{
    (void)state;
    assert_true(wl_requant_converts("blk.0.attn_q.weight", 2));
    assert_true(wl_requant_converts("token_embd.weight", 2));
    assert_true(wl_requant_converts("output.weight", 2));
    assert_true(wl_requant_converts("blk.3.ffn_down_exps.weight", 3));
    /* shape and suffix */
    assert_false(wl_requant_converts("blk.0.attn_norm.weight", 1));
    assert_false(wl_requant_converts("blk.0.attn_q.bias", 1));
    assert_false(wl_requant_converts("blk.0.attn_q.bias", 2));
    assert_false(wl_requant_converts("weight", 1));
    assert_false(wl_requant_converts("", 2));
    /* kept whatever the shape */
    assert_false(wl_requant_converts("blk.0.attn_q_norm.weight", 2));
    assert_false(wl_requant_converts("blk.11.attn_k_norm.weight", 2));
    assert_false(wl_requant_converts("output_norm.weight", 2));
    assert_false(wl_requant_converts("blk.0.ffn_gate_inp.weight", 2));
    assert_false(wl_requant_converts("position_embd.weight", 2));
    assert_false(wl_requant_converts("token_types.weight", 2));
    assert_false(wl_requant_converts("blk.0.ssm_conv1d.weight", 2));
    assert_false(wl_requant_converts("blk.0.shortconv.conv.weight", 2));
    assert_false(wl_requant_converts("blk.0.time_mix_w1.weight", 2));
    assert_false(wl_requant_converts("blk.0.time_mix_lerp_fused.weight", 3));
    assert_false(wl_requant_converts("blk.0.attn_rel_b.weight", 2));
    assert_false(wl_requant_converts("blk.0.altup_router.weight", 2));
    assert_false(wl_requant_converts("blk.0.laurel_l.weight", 2));
    assert_false(wl_requant_converts("per_layer_model_proj.weight", 2));
    /* matched whole only: a block's own position_embd is not llama.cpp's */
    assert_true(wl_requant_converts("blk.0.position_embd.weight", 2));
}

struct case_tensor {
    const char *name;
    enum wl_ttype type;
    uint32_t n_dims;
    uint64_t ne[2];
    bool converted; /* to the requested type */
};

/* A model of the tensors in cases, with values that vary (so a conversion
 * changes the bytes); returns its bytes (caller frees). */
static void *model_bytes(const struct case_tensor *cases, size_t n, size_t *size)
{
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "general.architecture", "llama"), 0);
    for (size_t i = 0; i < n; i++) {
        const uint64_t n_el = cases[i].ne[0] * (cases[i].n_dims > 1 ? cases[i].ne[1] : 1);
        uint64_t n_bytes;
        assert_int_equal(wl_ttype_bytes(cases[i].type, n_el, &n_bytes), 0);
        uint8_t *data = malloc((size_t)n_bytes);
        assert_non_null(data);
        if (cases[i].type == WL_TTYPE_F32) {
            for (uint64_t k = 0; k < n_el; k++)
                ((float *)data)[k] = (float)((k * 37 + i * 11) % 101) / 50.0f - 1.0f;
        } else {
            for (uint64_t k = 0; k < n_bytes / 2; k++) /* F16: 0x3c00 = 1.0 and 0x3800 = 0.5 */
                ((uint16_t *)data)[k] = k % 2 ? 0x3c00 : 0x3800;
        }
        assert_int_equal(wl_gguf_writer_add_tensor_owned(w, cases[i].name, cases[i].type,
                                                         cases[i].n_dims, cases[i].ne, data,
                                                         n_bytes),
                         0);
    }
    void *buf = NULL;
    assert_int_equal(wl_gguf_writer_to_memory(w, &buf, size), 0);
    wl_gguf_writer_free(w);
    return buf;
}

static void test_quantize_keeps_norms_routers_and_position_embeddings(void **state)
{
    (void)state;
    static const struct case_tensor cases[] = {
        {"token_embd.weight", WL_TTYPE_F32, 2, {64, 16}, true},
        {"blk.0.attn_norm.weight", WL_TTYPE_F16, 1, {64, 0}, false},
        {"blk.0.attn_q.weight", WL_TTYPE_F32, 2, {64, 64}, true},
        {"blk.0.attn_q.bias", WL_TTYPE_F32, 1, {64, 0}, false},
        {"blk.0.attn_q_norm.weight", WL_TTYPE_F32, 2, {32, 4}, false},
        {"blk.0.attn_k_norm.weight", WL_TTYPE_F16, 2, {32, 2}, false},
        {"blk.0.ffn_gate_inp.weight", WL_TTYPE_F32, 2, {64, 8}, false},
        {"blk.0.ffn_down_exps.weight", WL_TTYPE_F32, 2, {64, 32}, true},
        {"position_embd.weight", WL_TTYPE_F32, 2, {64, 16}, false},
        {"output_norm.weight", WL_TTYPE_F32, 1, {64, 0}, false},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    size_t size;
    void *buf = model_bytes(cases, n, &size);
    struct wl_errmsg err;
    wl_gguf *in = NULL;
    assert_int_equal(wl_gguf_open_memory(buf, size, &in, &err), 0);

    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    struct wl_requant_stats st;
    assert_int_equal(wl_requant_model(in, WL_TTYPE_Q8_0, NULL, w, &st, &err), 0);
    assert_int_equal(st.n_matrices, 3);
    assert_int_equal(st.n_requested, 3);
    assert_int_equal(st.n_converted, 3);
    assert_int_equal(st.n_copied, n - 3);
    void *qbuf;
    size_t qsize;
    assert_int_equal(wl_gguf_writer_to_memory(w, &qbuf, &qsize), 0);
    wl_gguf_writer_free(w);
    wl_gguf *q = NULL;
    assert_int_equal(wl_gguf_open_memory(qbuf, qsize, &q, &err), 0);
    for (size_t i = 0; i < n; i++) {
        const struct wl_gguf_tensor *a = wl_gguf_find_tensor(in, cases[i].name);
        const struct wl_gguf_tensor *b = wl_gguf_find_tensor(q, cases[i].name);
        assert_non_null(a);
        assert_non_null(b);
        if (cases[i].converted) {
            assert_int_equal(b->type, WL_TTYPE_Q8_0);
            continue;
        }
        if (b->type != a->type)
            fail_msg("%s: %s, expected its source type %s", cases[i].name, wl_ttype_name(b->type),
                     wl_ttype_name(a->type));
        assert_int_equal(b->n_bytes, a->n_bytes);
        assert_memory_equal(b->data, a->data, a->n_bytes);
    }
    wl_gguf_close(q);
    free(qbuf);
    wl_gguf_close(in);
    free(buf);
}

/* As quantize_poked, with n pokes (rows[i], column 7 = values[i]) and rows
 * split over pool's threads (NULL: the caller's). */
static int quantize_poked_n(const char *path, enum wl_ttype type, const int *rows,
                            const float *values, int n, struct wl_threadpool *pool,
                            struct wl_errmsg *err)
{
    static const struct case_tensor cases[] = {
        {"token_embd.weight", WL_TTYPE_F32, 2, {256, 16}, true},
        {"blk.0.attn_q.weight", WL_TTYPE_F32, 2, {256, 8}, true},
    };
    size_t size;
    uint8_t *buf = model_bytes(cases, 2, &size);
    wl_gguf *in = NULL;
    assert_int_equal(wl_gguf_open_memory(buf, size, &in, err), 0);
    /* the model is in memory: writable */
    const struct wl_gguf_tensor *t = wl_gguf_find_tensor(in, "blk.0.attn_q.weight");
    assert_true((const uint8_t *)t->data > buf && (const uint8_t *)t->data < buf + size);
    for (int i = 0; i < n; i++)
        ((float *)(uintptr_t)t->data)[rows[i] * 256 + 7] = values[i];
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    struct wl_requant_stats st;
    const struct wl_requant_opts opts = {.pool = pool};
    assert_int_equal(wl_requant_model(in, type, &opts, w, &st, err), 0);
    const int rc = wl_gguf_writer_write(w, path, err);
    assert_int_equal(access(path, F_OK), rc == 0 ? 0 : -1); /* nothing written on failure */
    unlink(path);
    wl_gguf_writer_free(w);
    wl_gguf_close(in);
    free(buf);
    return rc;
}

/* Quantizes a two-matrix F32 model (rows of 256 values in [-1, 1]: one
 * Q4_K or Q6_K block, eight Q8_0 or Q4_0 blocks) to type, with
 * blk.0.attn_q.weight's row `row`, column 7 set to value, into path; returns
 * the writer's result, its message in err. Whatever the result, nothing is
 * left at path unless it succeeded (checked here). */
static int quantize_poked(const char *path, enum wl_ttype type, int row, float value,
                          struct wl_errmsg *err)
{
    return quantize_poked_n(path, type, &row, &value, 1, NULL, err);
}

/* A weight row that holds NaN or an infinity is refused, naming the tensor
 * and the row, when the requested type is a block type (it would hide the
 * value: the block's scale comes from its finite values); F16 keeps it. */
static void test_non_finite_weights_are_refused_for_block_types(void **state)
{
    (void)state;
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    static const enum wl_ttype types[] = {WL_TTYPE_Q8_0, WL_TTYPE_Q4_0, WL_TTYPE_F16};
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/out.gguf", dir);
    for (size_t b = 0; b < 3; b++) {
        for (size_t k = 0; k < 3; k++) {
            struct wl_errmsg err;
            const int rc = quantize_poked(path, types[k], 5, bad[b], &err);
            if (types[k] == WL_TTYPE_F16) {
                assert_int_equal(rc, 0);
            } else {
                assert_int_equal(rc, WL_EFORMAT);
                if (!strstr(err.text, "tensor 'blk.0.attn_q.weight': row 5 holds NaN or an "
                                      "infinity"))
                    fail_msg("message: %s", err.text);
            }
        }
    }
    wl_test_rmtree(dir);
    free(dir);
}

/* A finite weight that the target would make infinite or NaN is refused,
 * naming the tensor, the row and the value; one inside the range is
 * written. A float type makes the value itself infinite (F16 beyond
 * +-65504, BF16 at FLT_MAX, which rounds up); a block type stores its scale
 * as fp16, and a weight too large for it breaks its whole block (Q4_0:
 * d = x/-8 overflows from |x| = 524160, Q8_0: d = |x|/127 from 8321040; Q4_K
 * and Q6_K pick their scales by a search, so their limits, measured on this
 * row, are not sharp: Q4_K's dmin from about -4.13e6, its d from about
 * 6.19e7, Q6_K's d from about 2.6e8). Column 7 is in block 0 for each. */
static void test_weights_beyond_a_types_range_are_refused(void **state)
{
    (void)state;
    static const struct {
        enum wl_ttype type;
        float value;
        bool refused;
    } runs[] = {
        {WL_TTYPE_F16, 1e5f, true},        {WL_TTYPE_F16, -70000.0f, true},
        {WL_TTYPE_F16, 65504.0f, false},   {WL_TTYPE_BF16, 1e5f, false},
        {WL_TTYPE_BF16, FLT_MAX, true},    {WL_TTYPE_Q8_0, 1e5f, false},
        {WL_TTYPE_Q4_0, 524159.0f, false}, {WL_TTYPE_Q4_0, 524160.0f, true},
        {WL_TTYPE_Q4_0, -6e5f, true},      {WL_TTYPE_Q8_0, 8321039.0f, false},
        {WL_TTYPE_Q8_0, 8321040.0f, true}, {WL_TTYPE_Q8_0, -1e7f, true},
        {WL_TTYPE_Q4_K, -4.1e6f, false},   {WL_TTYPE_Q4_K, -4.2e6f, true},
        {WL_TTYPE_Q4_K, 6.1e7f, false},    {WL_TTYPE_Q4_K, 7e7f, true},
        {WL_TTYPE_Q6_K, 2.5e8f, false},    {WL_TTYPE_Q6_K, 3e8f, true},
        {WL_TTYPE_Q6_K, -3e8f, true},
    };
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/out.gguf", dir);
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        struct wl_errmsg err;
        const int rc = quantize_poked(path, runs[k].type, 3, runs[k].value, &err);
        if (!runs[k].refused) {
            if (rc != 0)
                fail_msg("case %zu: %s", k, err.text);
            continue;
        }
        if (rc != WL_ERANGE)
            fail_msg("case %zu (%s, %g): %d, expected WL_ERANGE", k, wl_ttype_name(runs[k].type),
                     (double)runs[k].value, rc);
        const bool block = wl_ttype_block_elems(runs[k].type) > 1;
        char where[128];
        snprintf(where, sizeof where, "tensor 'blk.0.attn_q.weight': row 3%s holds %g,",
                 block ? ", block 0" : "", (double)runs[k].value);
        if (!strstr(err.text, where) || !strstr(err.text, wl_ttype_name(runs[k].type)) ||
            !strstr(err.text, block ? "fp16 block scale" : "would become an infinity"))
            fail_msg("case %zu: message: %s", k, err.text);
    }
    wl_test_rmtree(dir);
    free(dir);
}

/* Two rows beyond F16's range, converted by two threads: the message names
 * one of them with its own value, whichever thread found its row first. */
static void test_the_refused_row_is_named_with_its_own_value(void **state)
{
    (void)state;
    struct wl_threadpool *pool = NULL;
    assert_int_equal(wl_threadpool_create(2, &pool), 0);
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/out.gguf", dir);
    static const int rows[] = {1, 6};
    static const float values[] = {100000.0f, 200000.0f};
    for (int k = 0; k < 50; k++) {
        struct wl_errmsg err;
        assert_int_equal(quantize_poked_n(path, WL_TTYPE_F16, rows, values, 2, pool, &err),
                         WL_ERANGE);
        if (!strstr(err.text, "row 1 holds 100000,") && !strstr(err.text, "row 6 holds 200000,"))
            fail_msg("message: %s", err.text);
    }
    wl_test_rmtree(dir);
    free(dir);
    wl_threadpool_destroy(pool);
}

struct progress_count {
    uint64_t calls, last_done, n_tensors;
};

static void count_progress(void *arg, uint64_t done, uint64_t n_tensors, uint64_t bytes_done,
                           uint64_t bytes_total)
{
    struct progress_count *c = arg;
    (void)bytes_done;
    (void)bytes_total;
    c->calls++;
    c->last_done = done;
    c->n_tensors = n_tensors;
}

/* Tensors of 0 elements (a dimension of 0: valid GGUF, which the reader
 * gives data == NULL) are copied or converted like any other: the copy
 * holds every tensor with its name, shape and count, and progress counts
 * each. Once next to a tensor with data, once alone (no tensor has a byte:
 * the writer's fill buffer is never allocated). Under the sanitizer build
 * the copy once passed NULL to memcpy (undefined, and fatal there). */
static void test_zero_element_tensors_are_copied(void **state)
{
    (void)state;
    static const struct case_tensor cases[] = {
        {"z", WL_TTYPE_F32, 1, {0, 0}, false},
        {"blk.0.attn_q.weight", WL_TTYPE_F32, 2, {32, 0}, true},
        {"blk.0.attn_k.weight", WL_TTYPE_F16, 2, {0, 32}, true},
        /* rows of 2^46 and of 2^62 values, none of them: nothing to convert,
         * and no row buffer (256 TiB), nor a row's bytes (past 64 bits), to
         * have (quantize once failed "conversion failed") */
        {"blk.0.attn_v.weight", WL_TTYPE_F32, 2, {1ull << 46, 0}, true},
        {"blk.0.attn_output.weight", WL_TTYPE_F32, 2, {1ull << 62, 0}, true},
        {"a.weight", WL_TTYPE_F32, 2, {32, 2}, true},
    };
    for (size_t n = 5; n <= 6; n++) { /* without, then with a tensor of data */
        size_t size;
        void *buf = model_bytes(cases, n, &size);
        struct wl_errmsg err;
        wl_gguf *in = NULL;
        assert_int_equal(wl_gguf_open_memory(buf, size, &in, &err), 0);
        assert_null(wl_gguf_find_tensor(in, "z")->data);
        wl_gguf_writer *w = NULL;
        assert_int_equal(wl_gguf_writer_new(&w), 0);
        struct progress_count pc = {0};
        const struct wl_requant_opts opts = {.progress = count_progress, .progress_arg = &pc};
        struct wl_requant_stats st;
        assert_int_equal(wl_requant_model(in, WL_TTYPE_Q8_0, &opts, w, &st, &err), 0);
        void *qbuf;
        size_t qsize;
        assert_int_equal(wl_gguf_writer_to_memory(w, &qbuf, &qsize), 0);
        wl_gguf_writer_free(w);
        assert_int_equal(pc.calls, n);
        assert_int_equal(pc.last_done, n);
        wl_gguf *q = NULL;
        assert_int_equal(wl_gguf_open_memory(qbuf, qsize, &q, &err), 0);
        assert_int_equal(wl_gguf_n_tensors(q), n);
        for (size_t i = 0; i < n; i++) {
            const struct wl_gguf_tensor *a = wl_gguf_find_tensor(in, cases[i].name);
            const struct wl_gguf_tensor *b = wl_gguf_find_tensor(q, cases[i].name);
            assert_non_null(b);
            assert_int_equal(b->n_dims, a->n_dims);
            assert_int_equal(b->ne[0], a->ne[0]);
            assert_int_equal(b->ne[1], a->ne[1]);
            assert_int_equal(b->n_elements, a->n_elements);
            if (a->n_elements)
                assert_int_equal(b->type, WL_TTYPE_Q8_0);
        }
        wl_gguf_close(q);
        free(qbuf);
        wl_gguf_close(in);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converts_weight_matrices_only),
        cmocka_unit_test(test_quantize_keeps_norms_routers_and_position_embeddings),
        cmocka_unit_test(test_non_finite_weights_are_refused_for_block_types),
        cmocka_unit_test(test_weights_beyond_a_types_range_are_refused),
        cmocka_unit_test(test_the_refused_row_is_named_with_its_own_value),
        cmocka_unit_test(test_zero_element_tensors_are_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* engine/model: loading from GGUF. A small valid llama file (written with the
 * GGUF writer) loads with the right config, in-place weights and tied output;
 * each kind of bad file gives a clear error naming the key or tensor:
 * missing tensor, wrong shape, unsupported weight type, unknown
 * architecture, missing metadata, bad head grouping, an architecture
 * holding a NUL byte, metadata of the wrong type or out of range; and the
 * features (`model info`) say that the engine refuses such a file. */
#include "test_support.h"

#include "engine/arch.h"
#include "engine/context.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DIM = 64, FFN = 96, NH = 4, NKV = 2, VOCAB = 32, NL = 2 };

struct opts {
    const char *arch;
    uint64_t arch_len;           /* 0: strlen(arch); else the first arch_len bytes (NULs too) */
    bool arch_u32;               /* general.architecture as the UINT32 7 */
    const char *block_count_str; /* <arch>.block_count as this STRING */
    uint64_t block_count_u64;    /* <arch>.block_count as this UINT64 */
    float block_count_f32;       /* <arch>.block_count as this FLOAT32 (0: not) */
    const char *eps_str;         /* the epsilon as this STRING */
    const char *skip_tensor;   /* leave this tensor out */
    const char *bad_shape;     /* give this tensor a wrong row count */
    const char *q5_tensor;     /* store this tensor as Q5_0 */
    bool no_output;            /* tied output */
    bool no_block_count;
    uint32_t block_count; /* 0: NL */
    uint32_t n_head_kv;
    uint32_t n_head;     /* <arch>.attention.head_count (0: NH; the tensors keep NH) */
    uint32_t dim;        /* <arch>.embedding_length (0: DIM; the tensors keep DIM) */
    uint32_t key_length; /* <arch>.attention.key_length (0: absent) */
    uint32_t rope_dim;   /* <arch>.rope.dimension_count (0: absent) */
};

static void add(wl_gguf_writer *w, const struct opts *o, const char *name, uint64_t n0, uint64_t n1)
{
    if (o->skip_tensor && strcmp(name, o->skip_tensor) == 0)
        return;
    if (o->bad_shape && strcmp(name, o->bad_shape) == 0)
        n1 += 1;
    uint64_t ne[2] = {n0, n1};
    enum wl_ttype t = WL_TTYPE_F32;
    uint64_t bytes = n0 * n1 * 4;
    if (o->q5_tensor && strcmp(name, o->q5_tensor) == 0) {
        t = WL_TTYPE_Q5_0;
        assert_int_equal(wl_ttype_bytes(t, n0 * n1, &bytes), 0);
    }
    void *data = calloc(1, bytes);
    float *f = data;
    if (t == WL_TTYPE_F32)
        for (uint64_t i = 0; i < n0 * n1; i++)
            f[i] = (float)((i * 2654435761u) % 1000) / 10000.0f - 0.05f + (n1 == 1 ? 1.0f : 0.0f);
    assert_int_equal(wl_gguf_writer_add_tensor_owned(w, name, t, n1 == 1 ? 1 : 2, ne, data, bytes), 0);
}

/* The file o describes, into *buf (malloc'd, *size bytes). */
static void build(const struct opts *o, void **buf, size_t *size)
{
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    const char *a = o->arch ? o->arch : "llama";
    char key[96];
    if (o->arch_u32)
        wl_gguf_writer_set_u32(w, "general.architecture", 7);
    else
        wl_gguf_writer_set_strn(w, "general.architecture", a,
                                o->arch_len ? o->arch_len : strlen(a));
#define U32(k, v)                                                                              \
    snprintf(key, sizeof key, "%s.%s", a, k);                                                  \
    wl_gguf_writer_set_u32(w, key, v)
    snprintf(key, sizeof key, "%s.block_count", a);
    if (o->block_count_str)
        wl_gguf_writer_set_str(w, key, o->block_count_str);
    else if (o->block_count_u64)
        wl_gguf_writer_set_u64(w, key, o->block_count_u64);
    else if (o->block_count_f32 != 0.0f)
        wl_gguf_writer_set_f32(w, key, o->block_count_f32);
    else if (!o->no_block_count) {
        U32("block_count", o->block_count ? o->block_count : NL);
    }
    U32("embedding_length", o->dim ? o->dim : DIM);
    if (o->key_length) {
        U32("attention.key_length", o->key_length);
    }
    if (o->rope_dim) {
        U32("rope.dimension_count", o->rope_dim);
    }
    U32("feed_forward_length", FFN);
    U32("attention.head_count", o->n_head ? o->n_head : NH);
    U32("attention.head_count_kv", o->n_head_kv ? o->n_head_kv : NKV);
    U32("context_length", 128);
#undef U32
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
    if (o->eps_str)
        wl_gguf_writer_set_str(w, key, o->eps_str);
    else
        wl_gguf_writer_set_f32(w, key, 1e-5f);
    wl_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    wl_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    add(w, o, "token_embd.weight", DIM, VOCAB);
    add(w, o, "output_norm.weight", DIM, 1);
    if (!o->no_output)
        add(w, o, "output.weight", DIM, VOCAB);
    char n[64];
    for (int l = 0; l < NL; l++) {
        const struct {
            const char *s;
            uint64_t n0, n1;
        } t[] = {{"attn_norm", DIM, 1},       {"attn_q", DIM, NH * 16},   {"attn_k", DIM, NKV * 16},
                 {"attn_v", DIM, NKV * 16},   {"attn_output", NH * 16, DIM}, {"ffn_norm", DIM, 1},
                 {"ffn_gate", DIM, FFN},      {"ffn_up", DIM, FFN},       {"ffn_down", FFN, DIM}};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            snprintf(n, sizeof n, "blk.%d.%s.weight", l, t[i].s);
            add(w, o, n, t[i].n0, t[i].n1);
        }
    }
    assert_int_equal(wl_gguf_writer_to_memory(w, buf, size), 0);
    wl_gguf_writer_free(w);
}

static int load(const struct opts *o, wl_model **m, struct wl_errmsg *err, void **buf)
{
    size_t size = 0;
    build(o, buf, &size);
    return wl_test_model_from_memory(*buf, size, m, err);
}

static void test_valid_model_loads_in_place(void **state)
{
    (void)state;
    struct opts o = {0};
    wl_model *m = NULL;
    void *buf = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(load(&o, &m, &err, &buf), 0);
    assert_string_equal(m->config.arch, "llama");
    assert_int_equal(m->config.n_layer, NL);
    assert_int_equal(m->config.dim, DIM);
    assert_int_equal(m->config.head_dim, DIM / NH);
    assert_int_equal(m->config.n_head_kv, NKV);
    assert_int_equal(m->config.vocab_size, VOCAB);
    assert_int_equal(m->bos_id, 1);
    assert_true(wl_model_is_eog(m, 2));
    assert_false(wl_model_is_eog(m, 3));
    assert_false(m->config.tied_output);
    /* every tensor: 2 layers of 2 norms and 7 matrices, embedding, output
     * norm, output; decode reads all but the embedding table, of which one row */
    const uint64_t layer = 4 * (2 * DIM + DIM * NH * 16 * 2 + DIM * NKV * 16 * 2 + 3 * DIM * FFN);
    assert_int_equal(m->weight_bytes, NL * layer + 4 * (2 * DIM * VOCAB + DIM));
    assert_int_equal(m->decode_bytes, NL * layer + 4 * (DIM * VOCAB + DIM + DIM));
    /* weights point into the (in-memory) file: no copy */
    const char *lo = buf, *hi = lo + wl_gguf_file_size(m->gguf);
    const char *q = m->weights.layers[1].wq.data;
    assert_true(q >= lo && q < hi);
    assert_true((const char *)m->weights.layers[0].attn_norm >= lo);
    /* no file mapping to account for */
    uint64_t res = 1, huge = 1;
    assert_int_equal(wl_model_weight_pages(m, &res, &huge), WL_ENOTSUP);
    /* and it runs */
    wl_context *ctx = NULL;
    assert_int_equal(wl_context_create(m, NULL, &ctx, &err), 0);
    int32_t toks[3] = {1, 5, 9};
    assert_int_equal(wl_context_prefill(ctx, toks, 3, &err), 0);
    wl_context_free(ctx);
    wl_model_free(m);
    free(buf);
}

static void test_tied_output(void **state)
{
    (void)state;
    struct opts o = {.no_output = true};
    wl_model *m = NULL;
    void *buf = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(load(&o, &m, &err, &buf), 0);
    assert_true(m->config.tied_output);
    assert_ptr_equal(m->weights.output.data, m->weights.tok_embd.data);
    /* the output projection streams the whole table, and one row is embedded */
    assert_int_equal(m->decode_bytes, m->weight_bytes + 4 * DIM);
    wl_model_free(m);
    free(buf);
}

static void expect_error(const struct opts *o, int code, const char *needle)
{
    wl_model *m = NULL;
    void *buf = NULL;
    struct wl_errmsg err = {{0}};
    int rc = load(o, &m, &err, &buf);
    if (rc != code || !strstr(err.text, needle))
        fail_msg("expected %d with '%s', got %d: %s", code, needle, rc, err.text);
    assert_null(m);
    free(buf);
}

static void test_bad_files_give_clear_errors(void **state)
{
    (void)state;
    struct opts o = {.skip_tensor = "blk.1.ffn_up.weight"};
    expect_error(&o, WL_EFORMAT, "blk.1.ffn_up.weight' is missing");
    struct opts s = {.bad_shape = "blk.0.attn_k.weight"};
    expect_error(&s, WL_EFORMAT, "blk.0.attn_k.weight' has shape");
    struct opts q = {.q5_tensor = "blk.0.ffn_down.weight"};
    expect_error(&q, WL_ENOTSUP, "Q5_0");
    struct opts a = {.arch = "mamba"};
    expect_error(&a, WL_ENOTSUP, "architecture 'mamba'");
    struct opts b = {.no_block_count = true};
    expect_error(&b, WL_EFORMAT, "llama.block_count");
    /* a block count past the tensor count (3 + 9 per layer) is refused before
     * anything is allocated for the layers, naming the key and both counts;
     * up to the tensor count, the first missing layer's tensor is named */
    enum { N_TENSORS = 3 + 9 * NL };
    char msg[128];
    struct opts huge = {.block_count = 1u << 30};
    snprintf(msg, sizeof msg,
             "metadata 'llama.block_count' = 1073741824 but the file has only %d tensors "
             "(every layer needs several)",
             N_TENSORS);
    expect_error(&huge, WL_EFORMAT, msg);
    struct opts over = {.block_count = N_TENSORS + 1};
    snprintf(msg, sizeof msg, "metadata 'llama.block_count' = %d but the file has only %d tensors",
             N_TENSORS + 1, N_TENSORS);
    expect_error(&over, WL_EFORMAT, msg);
    struct opts most = {.block_count = N_TENSORS};
    snprintf(msg, sizeof msg, "tensor 'blk.%d.attn_norm.weight' is missing", NL);
    expect_error(&most, WL_EFORMAT, msg);
    struct opts h = {.n_head_kv = 3};
    expect_error(&h, WL_EFORMAT, "grouped");
    struct opts e = {.skip_tensor = "token_embd.weight"};
    expect_error(&e, WL_EFORMAT, "token_embd.weight");
}

/* The features (`model info`) of the file o describes, which must parse. */
static void features_of(const struct opts *o, struct wl_model_features *f)
{
    void *buf = NULL;
    size_t size = 0;
    build(o, &buf, &size);
    wl_gguf *g = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_open_memory(buf, size, &g, &err), 0);
    assert_int_equal(wl_model_features_from_gguf(g, f, &err), 0);
    wl_gguf_close(g);
    free(buf);
}

/* A file the loader refuses for its metadata: the loader names the key and
 * what is wrong with it (never "missing" for a key that is there, never a
 * bare "invalid argument"), and the features that `model info` shows say
 * the same after "the engine refuses this model: ". */
static void expect_refused(const struct opts *o, const char *msg)
{
    expect_error(o, WL_EFORMAT, msg);
    struct wl_model_features f;
    features_of(o, &f);
    char warning[256];
    snprintf(warning, sizeof warning, "the engine refuses this model: %s", msg);
    if (!strstr(f.warning, warning))
        fail_msg("expected a warning with '%s', got: %s", warning, f.warning);
    assert_null(strstr(f.warning, " missing"));
}

/* "llama\0x" is not "llama": the loader refuses to read it as its C-string
 * prefix (the tokenizer refuses the same), and the features say why
 * instead of quoting the name cut at the NUL as an unknown architecture. */
static void test_architecture_with_a_nul_byte_is_refused(void **state)
{
    (void)state;
    struct opts o = {.arch = "llama\0x", .arch_len = 7};
    expect_refused(&o, "metadata 'general.architecture' holds a NUL byte (at offset 5 of its 7 "
                       "bytes)");
    struct wl_model_features f;
    features_of(&o, &f);
    assert_null(strstr(f.warning, "is not known")); /* not quoted cut, as another name */
    /* the family from the tensors, its keys read under that name (no key can
     * hold the NUL: the reader refuses one) */
    assert_true(f.arch_inferred);
    assert_int_equal(f.arch, WL_ARCH_LLAMA);
    assert_int_equal(f.n_layers, NL);
    assert_int_equal(f.n_heads, NH);
    assert_int_equal(f.attention, WL_ATTN_GQA);
}

static void test_metadata_of_the_wrong_type_is_named(void **state)
{
    (void)state;
    struct opts a = {.arch_u32 = true};
    expect_refused(&a, "metadata 'general.architecture' has type UINT32, not a string");
    struct opts b = {.block_count_str = "2"};
    expect_refused(&b, "metadata 'llama.block_count' has type STRING, not an integer");
    struct opts e = {.eps_str = "1e-5"};
    expect_refused(&e, "metadata 'llama.attention.layer_norm_rms_epsilon' has type STRING, not a "
                       "number");
    /* a value no int64 holds, or not a whole number: the value is printed */
    struct opts u = {.block_count_u64 = UINT64_MAX};
    expect_refused(&u, "metadata 'llama.block_count' = 18446744073709551615 is out of range");
    struct opts h = {.block_count_f32 = 2.5f};
    expect_refused(&h, "metadata 'llama.block_count' = 2.5 is not a whole number");
}

/* KV heads above the head count, or not dividing it, are no grouping: the
 * loader refuses them, and the features call the attention unknown (not
 * GQA) and say the engine refuses the model. */
static void test_kv_heads_that_do_not_group_are_not_gqa(void **state)
{
    (void)state;
    const uint32_t kv[] = {8, 3};
    for (size_t i = 0; i < 2; i++) {
        struct opts o = {.n_head_kv = kv[i]};
        char msg[96];
        snprintf(msg, sizeof msg, "%d heads cannot be grouped over %u KV heads", NH, kv[i]);
        expect_refused(&o, msg);
        struct wl_model_features f;
        features_of(&o, &f);
        assert_int_equal(f.n_kv_heads, kv[i]);
        assert_int_equal(f.attention, WL_ATTN_UNKNOWN);
    }
}

/* An embedding length the embeddings contradict, heads that do not split
 * the embedding length, and a RoPE dimension that is odd or larger than the
 * head dimension (rope.dimension_count, or the head dimension itself when
 * the key is absent), are refused by the loader (RoPE turns pairs of a
 * head's values: one left over, or those of the next head) and the
 * features (`model info`) say so in its words; a partial RoPE (an even
 * dimension below the head's) loads, without a warning. */
static void test_head_shape_the_engine_cannot_run_is_refused(void **state)
{
    (void)state;
    struct opts heads = {.n_head = 3};
    char msg[160];
    snprintf(msg, sizeof msg, "embedding length %d is not a multiple of 3 heads", DIM);
    expect_refused(&heads, msg);
    /* a wrong embedding length is named as such, before the head shape
     * derived from it: with a correct rope.dimension_count it read "rope
     * dimension 16 does not fit head dimension 8", blaming the RoPE key
     * (until session 36) */
    const uint32_t dims[] = {DIM / 2, DIM + 2};
    for (size_t i = 0; i < 2; i++) {
        struct opts dim = {.dim = dims[i], .rope_dim = DIM / NH};
        snprintf(msg, sizeof msg,
                 "metadata 'llama.embedding_length' = %u but tensor 'token_embd.weight' has rows "
                 "of %d values",
                 dims[i], DIM);
        expect_refused(&dim, msg);
        struct wl_model_features f;
        features_of(&dim, &f);
        if (strstr(f.warning, "rope dimension") || strstr(f.warning, "not a multiple"))
            fail_msg("dim %u: the warning blames the head shape: %s", dims[i], f.warning);
    }
    const char *const must = "(it must be even and at most the head dimension)";
    const struct {
        uint32_t rope_dim, key_length, want_rope, want_head;
    } rope[] = {
        {DIM / NH - 1, 0, DIM / NH - 1, DIM / NH},     /* odd */
        {DIM / NH + 2, 0, DIM / NH + 2, DIM / NH},     /* past the head */
        {0, DIM / NH - 1, DIM / NH - 1, DIM / NH - 1}, /* the default, an odd head dimension */
    };
    for (size_t i = 0; i < sizeof rope / sizeof rope[0]; i++) {
        struct opts o = {.rope_dim = rope[i].rope_dim, .key_length = rope[i].key_length};
        snprintf(msg, sizeof msg, "rope dimension %u does not fit head dimension %u %s",
                 rope[i].want_rope, rope[i].want_head, must);
        expect_refused(&o, msg);
    }
    struct opts partial = {.rope_dim = DIM / NH / 2};
    wl_model *m = NULL;
    struct wl_errmsg err = {{0}};
    void *buf = NULL;
    if (load(&partial, &m, &err, &buf) != 0)
        fail_msg("a partial RoPE is refused: %s", err.text);
    assert_int_equal(m->config.rope_dim, DIM / NH / 2);
    wl_model_free(m);
    free(buf);
    struct wl_model_features f;
    features_of(&partial, &f);
    assert_null(strstr(f.warning, "refuses"));
    assert_int_equal(f.rope_dim, DIM / NH / 2);
}

/* A model loaded from a file reports its mapping's resident and huge-page
 * bytes (how many are huge depends on the kernel and the page cache). */
static void test_weight_pages_of_a_file(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", WL_TESTDATA_DIR);
    wl_model *m = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_model_load(path, &m, &err), 0);
    wl_context *ctx = NULL;
    assert_int_equal(wl_context_create(m, NULL, &ctx, &err), 0);
    int32_t toks[2] = {1, 5};
    assert_int_equal(wl_context_prefill(ctx, toks, 2, &err), 0);
    uint64_t res = 0, huge = UINT64_MAX;
    const int rc = wl_model_weight_pages(m, &res, &huge);
    if (rc == WL_ENOTSUP) {
        wl_context_free(ctx);
        wl_model_free(m);
        skip(); /* no /proc/self/smaps */
    }
    assert_int_equal(rc, 0);
    /* the forward pass read every weight, so all of them are resident */
    assert_true(res >= m->decode_bytes);
    assert_true(res <= wl_gguf_file_size(m->gguf) + 4096);
    assert_true(huge <= res);
    assert_int_equal(wl_model_weight_pages(m, NULL, &huge), WL_EINVAL);
    wl_context_free(ctx);
    wl_model_free(m);
}

static void test_missing_file(void **state)
{
    (void)state;
    wl_model *m = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_not_equal(wl_model_load("/nonexistent/model.gguf", &m, &err), 0);
    assert_null(m);
    wl_model_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_model_loads_in_place),
        cmocka_unit_test(test_tied_output),
        cmocka_unit_test(test_weight_pages_of_a_file),
        cmocka_unit_test(test_bad_files_give_clear_errors),
        cmocka_unit_test(test_architecture_with_a_nul_byte_is_refused),
        cmocka_unit_test(test_metadata_of_the_wrong_type_is_named),
        cmocka_unit_test(test_kv_heads_that_do_not_group_are_not_gqa),
        cmocka_unit_test(test_head_shape_the_engine_cannot_run_is_refused),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* engine/arch: architecture detection and model features on the real model,
 * the vocabulary files (no tensors), and small files built with the writer
 * that exercise inference from tensor names, GQA/MQA/MHA and MoE counts, and
 * long multibyte names cut between characters, also where the warning
 * quotes them; the RoPE scaling rule the loader and the features share. */
#include "test_support.h"

#include "engine/arch.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_stories260k_features(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open(wl_test_data_path("models/stories260K.gguf"), &g, &err), 0);
    struct wl_model_features f;
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    assert_int_equal(f.arch, WL_ARCH_LLAMA);
    assert_false(f.arch_inferred);
    assert_string_equal(f.arch_string, "llama");
    assert_string_equal(f.warning, "");
    assert_int_equal(f.n_layers, 5);
    assert_int_equal(f.hidden_size, 64);
    assert_int_equal(f.intermediate_size, 172);
    assert_int_equal(f.n_heads, 8);
    assert_int_equal(f.n_kv_heads, 4);
    assert_int_equal(f.head_dim, 8);
    assert_int_equal(f.attention, WL_ATTN_GQA);
    assert_string_equal(wl_attention_name(f.attention), "GQA");
    assert_int_equal(f.vocab_size, 512);
    assert_int_equal(f.context_length, 2048);
    assert_int_equal(f.rope_dim, 8);
    assert_true(f.rope_freq_base == 10000.0);
    assert_int_equal(f.n_experts, 0);
    assert_false(f.tied_embeddings);
    /* From the shapes: embeddings 64*512, output 64*512, per layer attention
     * q 64*64 + k 64*32 + v 64*32 + o 64*64, FFN 3*64*172, norms 2*64 per layer + 64. */
    assert_int_equal(f.n_params_embedding, 32768);
    assert_int_equal(f.n_params_output, 32768);
    assert_int_equal(f.n_params_attention_per_layer, 12288);
    assert_int_equal(f.n_params_ffn_per_layer, 33024);
    assert_int_equal(f.n_params_norm, 5 * 128 + 64);
    assert_int_equal(f.n_params_other, 0);
    assert_int_equal(f.n_params, 32768 * 2 + 5 * (12288 + 33024 + 128) + 64);
    assert_int_equal(f.n_params, 292800);
    assert_int_equal(f.n_params_active, f.n_params);
    assert_int_equal(f.type_tensors[WL_TTYPE_F32], 48);
    assert_int_equal(f.type_params[WL_TTYPE_F32], f.n_params);
    assert_true(f.bits_per_weight == 32.0);
    assert_int_equal(f.file_size, 1185376);
    uint64_t kv;
    /* 2 (K,V) * 5 layers * 4 heads * 8 dims * 2 bytes */
    assert_int_equal(wl_model_kv_bytes_per_token(&f, WL_TTYPE_F16, &kv), 0);
    assert_int_equal(kv, 640);
    assert_int_equal(wl_model_kv_bytes_per_token(&f, WL_TTYPE_F32, &kv), 0);
    assert_int_equal(kv, 1280);
    assert_int_equal(wl_model_kv_bytes_per_token(&f, WL_TTYPE_Q8_0, &kv), 0);
    assert_int_equal(kv, 2 * 5 * 34);
    assert_int_equal(wl_model_kv_bytes_per_token(&f, WL_TTYPE_Q4_K, &kv), WL_EINVAL);
    wl_gguf_close(g);
}

static void test_vocab_files_have_features_without_tensors(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open(wl_test_data_path("vocab/ggml-vocab-phi-3.gguf"), &g, &err), 0);
    struct wl_model_features f;
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    assert_int_equal(f.arch, WL_ARCH_PHI3);
    assert_int_equal(f.n_layers, 32);
    assert_int_equal(f.n_heads, 32);
    assert_int_equal(f.attention, WL_ATTN_MHA);
    assert_int_equal(f.vocab_size, 32064);
    assert_int_equal(f.n_params, 0);
    wl_gguf_close(g);
    assert_int_equal(wl_gguf_open(wl_test_data_path("vocab/ggml-vocab-starcoder.gguf"), &g, &err),
                     0);
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    assert_int_equal(f.arch, WL_ARCH_UNKNOWN);
    assert_string_equal(f.arch_string, "starcoder2");
    assert_non_null(strstr(f.warning, "'starcoder2' is not known"));
    assert_int_equal(f.n_heads, 24);
    assert_int_equal(f.n_kv_heads, 2);
    assert_int_equal(f.attention, WL_ATTN_GQA);
    wl_gguf_close(g);
}

/* A model of F32 tensors with the given names and shapes (data zero). */
struct spec {
    const char *name;
    uint64_t ne0, ne1;
};

static wl_gguf *build(const struct spec *s, size_t n, const char *arch, uint32_t heads,
                      uint32_t kv_heads, void **buf)
{
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    char key[128];
    if (arch) {
        assert_int_equal(wl_gguf_writer_set_str(w, "general.architecture", arch), 0);
        snprintf(key, sizeof key, "%s.attention.head_count", arch);
        assert_int_equal(wl_gguf_writer_set_u32(w, key, heads), 0);
        snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
        if (kv_heads)
            assert_int_equal(wl_gguf_writer_set_u32(w, key, kv_heads), 0);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t ne[2] = {s[i].ne0, s[i].ne1};
        uint64_t bytes = s[i].ne0 * s[i].ne1 * 4;
        void *d = calloc(1, bytes);
        assert_int_equal(wl_gguf_writer_add_tensor_owned(w, s[i].name, WL_TTYPE_F32,
                                                         s[i].ne1 > 1 ? 2 : 1, ne, d, bytes),
                         0);
    }
    size_t size;
    assert_int_equal(wl_gguf_writer_to_memory(w, buf, &size), 0);
    wl_gguf_writer_free(w);
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open_memory(*buf, size, &g, NULL), 0);
    return g;
}

static void test_inference_from_tensor_names(void **state)
{
    (void)state;
    static const struct spec qwen[] = {
        {"token_embd.weight", 32, 10},     {"blk.0.attn_q.weight", 32, 32},
        {"blk.0.attn_q.bias", 32, 1},      {"blk.0.attn_k.weight", 32, 8},
        {"blk.0.ffn_gate.weight", 32, 64}, {"blk.0.ffn_up.weight", 32, 64},
        {"blk.1.attn_norm.weight", 32, 1},
    };
    void *buf = NULL;
    struct wl_model_features f;
    struct wl_errmsg err;
    /* no general.architecture at all */
    wl_gguf *g = build(qwen, sizeof qwen / sizeof qwen[0], NULL, 0, 0, &buf);
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    assert_int_equal(f.arch, WL_ARCH_QWEN2);
    assert_true(f.arch_inferred);
    assert_non_null(strstr(f.warning, "inferred qwen2"));
    assert_int_equal(f.n_layers, 2);
    assert_int_equal(f.hidden_size, 32);
    assert_int_equal(f.intermediate_size, 64);
    assert_int_equal(f.vocab_size, 10);
    assert_true(f.tied_embeddings);
    wl_gguf_close(g);
    free(buf);
    /* an unknown architecture name with llama-shaped tensors; MQA from k rows */
    static const struct spec llama[] = {
        {"token_embd.weight", 64, 10},   {"blk.0.attn_q.weight", 64, 64},
        {"blk.0.attn_k.weight", 64, 16}, {"blk.0.ffn_gate.weight", 64, 96},
        {"output.weight", 64, 10},
    };
    g = build(llama, sizeof llama / sizeof llama[0], "mybrandnewllm", 4, 0, &buf);
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    assert_int_equal(f.arch, WL_ARCH_LLAMA);
    assert_non_null(strstr(f.warning, "'mybrandnewllm' is not known; treated as llama"));
    assert_int_equal(f.n_heads, 4);
    assert_int_equal(f.head_dim, 16);
    assert_int_equal(f.n_kv_heads, 1);
    assert_int_equal(f.attention, WL_ATTN_MQA);
    assert_false(f.tied_embeddings);
    wl_gguf_close(g);
    free(buf);
    /* gemma2 and phi3 layouts */
    static const struct spec gemma2[] = {{"blk.0.post_ffw_norm.weight", 8, 1}};
    g = build(gemma2, 1, NULL, 0, 0, &buf);
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    assert_int_equal(f.arch, WL_ARCH_GEMMA2);
    wl_gguf_close(g);
    free(buf);
    static const struct spec phi3[] = {{"blk.0.attn_qkv.weight", 8, 24},
                                       {"blk.0.ffn_up.weight", 8, 32}};
    g = build(phi3, 2, NULL, 0, 0, &buf);
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    assert_int_equal(f.arch, WL_ARCH_PHI3);
    wl_gguf_close(g);
    free(buf);
    /* nothing recognisable */
    static const struct spec junk[] = {{"weights", 8, 1}};
    g = build(junk, 1, NULL, 0, 0, &buf);
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), WL_EFORMAT);
    assert_non_null(strstr(err.text, "no general.architecture"));
    wl_gguf_close(g);
    free(buf);
}

/* prefix, n copies of the 2-byte "é", into buf */
static char *e_acute(char *buf, size_t size, const char *prefix, unsigned n)
{
    size_t len = (size_t)snprintf(buf, size, "%s", prefix);
    for (unsigned i = 0; i < n && len + 3 <= size; i++)
        len += (size_t)snprintf(buf + len, size - len, "\xC3\xA9");
    return buf;
}

/* general.name (127 bytes kept) and general.architecture (63) longer than
 * their fields are cut between characters; a NUL or control byte in them
 * still shows as '?'. */
static void test_long_multibyte_names_are_cut_between_characters(void **state)
{
    (void)state;
    char name[256], arch[256], want[256];
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    /* "n", NUL, 80 x "é": 127 bytes end inside the 63rd "é" */
    e_acute(name + 2, sizeof name - 2, "", 80);
    name[0] = 'n';
    name[1] = '\0';
    assert_int_equal(wl_gguf_writer_set_strn(w, "general.name", name, 2 + 160), 0);
    /* 40 x "é": 63 bytes end inside the 32nd */
    assert_int_equal(
        wl_gguf_writer_set_str(w, "general.architecture", e_acute(arch, sizeof arch, "", 40)), 0);
    uint64_t ne[2] = {8, 10};
    float *d = calloc(80, sizeof *d);
    assert_int_equal(
        wl_gguf_writer_add_tensor_owned(w, "token_embd.weight", WL_TTYPE_F32, 2, ne, d, 320), 0);
    void *buf = NULL;
    size_t size;
    assert_int_equal(wl_gguf_writer_to_memory(w, &buf, &size), 0);
    wl_gguf_writer_free(w);
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open_memory(buf, size, &g, NULL), 0);
    struct wl_model_features f;
    struct wl_errmsg err;
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    assert_string_equal(f.name, e_acute(want, sizeof want, "n?", 62));
    assert_string_equal(f.arch_string, e_acute(want, sizeof want, "", 31));
    wl_gguf_close(g);
    free(buf);
}

/* The warning quotes the architecture string in each note; notes that no
 * longer fit are cut between characters and end "...". Each prefix puts the
 * cut in another place in the "é"s. */
static void test_long_warning_is_cut_between_characters(void **state)
{
    (void)state;
    static const char *const prefixes[] = {"", "x"};
    for (size_t k = 0; k < 2; k++) {
        char arch[256];
        wl_gguf_writer *w = NULL;
        assert_int_equal(wl_gguf_writer_new(&w), 0);
        assert_int_equal(wl_gguf_writer_set_str(w, "general.architecture",
                                                e_acute(arch, sizeof arch, prefixes[k], 40)),
                         0);
        /* a RoPE scaling type of 200 "é"s under the architecture as cut
         * (31 "é"s after the prefix), which the engine refuses, quoting it */
        char key[320], type[512];
        char cut[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type",
                 e_acute(cut, sizeof cut, prefixes[k], 31));
        assert_int_equal(wl_gguf_writer_set_str(w, key, e_acute(type, sizeof type, "", 200)), 0);
        /* a tensor to infer nothing from, no block_count or head_count:
         * four notes, the fourth cut inside its quote */
        uint64_t ne[2] = {8, 8};
        float *d = calloc(64, sizeof *d);
        assert_int_equal(wl_gguf_writer_add_tensor_owned(w, "weights", WL_TTYPE_F32, 2, ne, d, 256),
                         0);
        void *buf = NULL;
        size_t size;
        assert_int_equal(wl_gguf_writer_to_memory(w, &buf, &size), 0);
        wl_gguf_writer_free(w);
        wl_gguf *g = NULL;
        assert_int_equal(wl_gguf_open_memory(buf, size, &g, NULL), 0);
        struct wl_model_features f;
        struct wl_errmsg err;
        assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
        size_t n = strlen(f.warning);
        assert_true(n > 3 && n < sizeof f.warning);
        assert_true(wl_utf8_valid(f.warning, n));
        assert_string_equal(f.warning + n - 3, "...");
        assert_non_null(strstr(f.warning, "could not be inferred"));
        assert_non_null(strstr(f.warning, ".block_count missing"));
        assert_non_null(strstr(f.warning, "RoPE scaling type '\xC3\xA9\xC3\xA9"));
        wl_gguf_close(g);
        free(buf);
    }
}

static void test_moe_active_parameters(void **state)
{
    (void)state;
    static const struct spec moe[] = {
        {"token_embd.weight", 16, 4},
        {"blk.0.attn_q.weight", 16, 16},
        {"blk.0.ffn_gate_inp.weight", 16, 8},
        {"blk.0.ffn_gate_exps.weight", 16, 8 * 32},
        {"blk.0.ffn_up_exps.weight", 16, 8 * 32},
        {"blk.0.ffn_down_exps.weight", 32, 8 * 16},
    };
    void *buf = NULL;
    wl_gguf *g = build(moe, sizeof moe / sizeof moe[0], "llama", 2, 2, &buf);
    /* expert counts are not in build(): patch them in through a second writer pass */
    wl_gguf_writer *w2 = NULL;
    assert_int_equal(wl_gguf_writer_new(&w2), 0);
    for (uint64_t k = 0; k < wl_gguf_n_kv(g); k++)
        assert_int_equal(wl_gguf_writer_copy_kv(w2, g, k), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w2, "llama.expert_count", 8), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w2, "llama.expert_used_count", 2), 0);
    for (uint64_t t = 0; t < wl_gguf_n_tensors(g); t++) {
        const struct wl_gguf_tensor *ti = wl_gguf_tensor(g, t);
        assert_int_equal(wl_gguf_writer_add_tensor(w2, ti->name, ti->type, ti->n_dims, ti->ne,
                                                   ti->data, ti->n_bytes),
                         0);
    }
    void *buf2 = NULL;
    size_t size2;
    assert_int_equal(wl_gguf_writer_to_memory(w2, &buf2, &size2), 0);
    wl_gguf_writer_free(w2);
    wl_gguf_close(g);
    free(buf);
    assert_int_equal(wl_gguf_open_memory(buf2, size2, &g, NULL), 0);
    struct wl_model_features f;
    struct wl_errmsg err;
    assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
    assert_int_equal(f.n_experts, 8);
    assert_int_equal(f.n_experts_used, 2);
    uint64_t exps = 16 * 256 * 2 + 32 * 128;
    assert_int_equal(f.n_params_ffn, exps + 16 * 8);
    assert_int_equal(f.n_params_active, f.n_params - exps + exps / 8 * 2);
    wl_gguf_close(g);
    free(buf2);
}

/* Opens an in-memory file holding only w's metadata; *buf owns the bytes. */
static wl_gguf *open_writer(wl_gguf_writer *w, void **buf)
{
    size_t size = 0;
    assert_int_equal(wl_gguf_writer_to_memory(w, buf, &size), 0);
    wl_gguf_writer_free(w);
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open_memory(*buf, size, &g, NULL), 0);
    return g;
}

/* The RoPE scaling rule the loader applies and the features report: the
 * factor (rope.scaling.factor, else its old name rope.scale_linear, as
 * llama.cpp reads them) counts when > 0 and the type is linear or absent; a factor that is
 * not a finite number (or not a number), a type that is not a string, or a
 * type other than none/linear is refused, with the loader's message, and
 * the features say so. */
/* The loader's value rules (model.c) and the features' warnings (arch.c)
 * both come from these: a count is 1..2^30, a positive number is > 0 as a
 * float, the block count fits the tensor count, heads group evenly, the
 * heads split the embedding length, the RoPE dimension is even and at most
 * the head dimension. */
static void test_metadata_value_rules(void **state)
{
    (void)state;
    char why[WL__METADATA_WHY_SIZE];
    assert_int_equal(wl__metadata_count_check(1, why, sizeof why), 0);
    assert_string_equal(why, "");
    assert_int_equal(wl__metadata_count_check(1 << 30, why, sizeof why), 0);
    assert_int_equal(wl__metadata_count_check(0, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "= 0 is out of range");
    assert_int_equal(wl__metadata_count_check((1 << 30) + 1, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "= 1073741825 is out of range");
    assert_int_equal(wl__metadata_count_check(-3, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "= -3 is out of range");

    assert_int_equal(wl__metadata_layers_fit(8, 8, why, sizeof why), 0);
    assert_int_equal(wl__metadata_layers_fit(9, 8, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "= 9 but the file has only 8 tensors (every layer needs several)");
    assert_int_equal(wl__metadata_layers_fit(2, 1, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "= 2 but the file has only 1 tensor (every layer needs several)");

    assert_int_equal(wl__metadata_grouping(8, 8, why, sizeof why), 0);
    assert_int_equal(wl__metadata_grouping(8, 2, why, sizeof why), 0);
    assert_int_equal(wl__metadata_grouping(8, 1, why, sizeof why), 0);
    assert_int_equal(wl__metadata_grouping(7, 2, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "7 heads cannot be grouped over 2 KV heads");
    assert_int_equal(wl__metadata_grouping(2, 4, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "2 heads cannot be grouped over 4 KV heads");

    assert_int_equal(wl__metadata_heads_divide(64, 4, why, sizeof why), 0);
    assert_int_equal(wl__metadata_heads_divide(66, 4, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "embedding length 66 is not a multiple of 4 heads");

    assert_int_equal(wl__metadata_rope_fits(16, 16, why, sizeof why), 0);
    assert_int_equal(wl__metadata_rope_fits(8, 16, why, sizeof why), 0); /* partial */
    assert_int_equal(wl__metadata_rope_fits(15, 16, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "rope dimension 15 does not fit head dimension 16 (it must be even "
                             "and at most the head dimension)");
    assert_int_equal(wl__metadata_rope_fits(18, 16, why, sizeof why), WL_EFORMAT);
    assert_int_equal(wl__metadata_rope_fits(7, 7, why, sizeof why), WL_EFORMAT);
    /* the longest message fits the callers' buffers (WL__METADATA_WHY_SIZE) */
    assert_int_equal(wl__metadata_rope_fits(1 << 30, (1 << 30) - 1, why, sizeof why), WL_EFORMAT);
    assert_true(strlen(why) < sizeof why - 1);

    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "k.count", 5), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "k.zero", 0), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "k.str", "5"), 0);
    assert_int_equal(wl_gguf_writer_set_f32(w, "k.pos", 1e-5f), 0);
    assert_int_equal(wl_gguf_writer_set_f32(w, "k.neg", -2.0f), 0);
    /* > 0 as a double, 0 as the float the loader keeps */
    assert_int_equal(wl_gguf_writer_set_f64(w, "k.tiny", 1e-300), 0);
    void *buf = NULL;
    wl_gguf *g = open_writer(w, &buf);
    int64_t v;
    double d;
    assert_int_equal(wl__metadata_count(g, "k.count", &v, why, sizeof why), 0);
    assert_int_equal(v, 5);
    assert_int_equal(wl__metadata_count(g, "k.zero", &v, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "= 0 is out of range");
    assert_int_equal(wl__metadata_count(g, "k.str", &v, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "has type STRING, not an integer");
    assert_int_equal(wl__metadata_count(g, "k.none", &v, why, sizeof why), WL_ENOENT);
    assert_int_equal(wl__metadata_positive(g, "k.pos", &d, why, sizeof why), 0);
    assert_true((float)d == 1e-5f);
    assert_int_equal(wl__metadata_positive(g, "k.neg", &d, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "= -2 must be > 0");
    assert_true(d == -2.0);
    assert_int_equal(wl__metadata_positive(g, "k.tiny", &d, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "= 0 must be > 0");
    assert_int_equal(wl__metadata_positive(g, "k.str", &d, why, sizeof why), WL_EFORMAT);
    assert_string_equal(why, "has type STRING, not a number");
    assert_int_equal(wl__metadata_positive(g, "k.none", &d, why, sizeof why), WL_ENOENT);
    wl_gguf_close(g);
    free(buf);

    /* every key in the table is named once */
    for (int i = 0; i < WL__CONFIG_INT_COUNT; i++) {
        assert_non_null(wl__config_int_keys[i]);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(wl__config_int_keys[i], wl__config_int_keys[j]);
    }
}

static void test_rope_scaling_rule(void **state)
{
    (void)state;
    static const struct {
        int factor_kind; /* 0 absent, 1 number, 2 string, 3 the old key rope.scale_linear,
                          * 4 both keys (factor, and 2 * factor under the old one) */
        float factor;
        const char *type;
        double scale; /* NAN: refused */
        int rc;
        const char *msg;
    } cases[] = {
        {0, 0, NULL, 1.0, 0, ""},
        {0, 0, "yarn", NAN, WL_ENOTSUP, "RoPE scaling type 'yarn' is not supported"},
        {1, 2.0f, NULL, 2.0, 0, ""},
        {1, 2.0f, "linear", 2.0, 0, ""},
        {1, 2.0f, "none", 1.0, 0, ""},
        {1, -3.0f, NULL, 1.0, 0, ""},
        /* a float subnormal is > 0, but 1/factor is infinite: every angle NaN */
        {1, 1e-40f, NULL, NAN, WL_EFORMAT, "is too small: 1/factor is not a finite float"},
        {1, NAN, NULL, NAN, WL_EFORMAT, "'llama.rope.scaling.factor' = nan is not a finite number"},
        {1, INFINITY, "none", NAN, WL_EFORMAT, "= inf is not a finite number"},
        /* another type: said so (it read "is not a finite number") */
        {2, 0, NULL, NAN, WL_EFORMAT, "'llama.rope.scaling.factor' has type STRING, not a number"},
        /* a type that is not a string is refused, as llama.cpp refuses it
         * (it read as absent, and the factor applied as linear) */
        {1, 4.0f, "", NAN, WL_EFORMAT, "'llama.rope.scaling.type' has type UINT32, not a string"},
        {1, 4.0f, "yarn", NAN, WL_ENOTSUP, "RoPE scaling type 'yarn' is not supported"},
        /* the old key counts when rope.scaling.factor is absent, as in llama.cpp */
        {3, 4.0f, NULL, 4.0, 0, ""},
        {3, 4.0f, "none", 1.0, 0, ""},
        {3, NAN, NULL, NAN, WL_EFORMAT, "'llama.rope.scale_linear' = nan is not a finite number"},
        {4, 2.0f, NULL, 2.0, 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wl_gguf_writer *w = NULL;
        assert_int_equal(wl_gguf_writer_new(&w), 0);
        assert_int_equal(wl_gguf_writer_set_str(w, "general.architecture", "llama"), 0);
        /* without its norm epsilon or training context the engine would
         * refuse the file for that */
        assert_int_equal(wl_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f),
                         0);
        assert_int_equal(wl_gguf_writer_set_u32(w, "llama.context_length", 2048), 0);
        if (cases[i].factor_kind == 1)
            assert_int_equal(
                wl_gguf_writer_set_f32(w, "llama.rope.scaling.factor", cases[i].factor), 0);
        else if (cases[i].factor_kind == 2)
            assert_int_equal(wl_gguf_writer_set_str(w, "llama.rope.scaling.factor", "4"), 0);
        if (cases[i].factor_kind == 3)
            assert_int_equal(wl_gguf_writer_set_f32(w, "llama.rope.scale_linear", cases[i].factor),
                             0);
        if (cases[i].factor_kind == 4) {
            assert_int_equal(
                wl_gguf_writer_set_f32(w, "llama.rope.scaling.factor", cases[i].factor), 0);
            assert_int_equal(
                wl_gguf_writer_set_f32(w, "llama.rope.scale_linear", 2 * cases[i].factor), 0);
        }
        if (cases[i].type && !cases[i].type[0]) /* "": the UINT32 2 */
            assert_int_equal(wl_gguf_writer_set_u32(w, "llama.rope.scaling.type", 2), 0);
        else if (cases[i].type)
            assert_int_equal(wl_gguf_writer_set_str(w, "llama.rope.scaling.type", cases[i].type),
                             0);
        void *buf = NULL;
        wl_gguf *g = open_writer(w, &buf);
        struct wl_rope_scaling r;
        struct wl_errmsg err = {{0}};
        const bool refused = isnan(cases[i].scale);
        const int rc = wl__rope_scaling_read(g, "llama", &r, &err);
        if (rc != cases[i].rc || !strstr(err.text, cases[i].msg))
            fail_msg("case %zu: %d %s", i, rc, err.text);
        assert_true(r.refused == refused);
        assert_true(refused ? isnan(r.scale) : r.scale == cases[i].scale);
        assert_true(r.in_file == (cases[i].factor_kind == 1 || cases[i].factor_kind >= 3));
        if (cases[i].factor_kind != 2 && cases[i].factor_kind != 0 && isfinite(cases[i].factor))
            assert_true(r.factor == cases[i].factor);
        assert_true(r.type_none == (cases[i].type && strcmp(cases[i].type, "none") == 0));
        /* the features carry the same, and a refusal is a warning */
        struct wl_model_features f;
        assert_int_equal(wl_model_features_from_gguf(g, &f, &err), 0);
        assert_true(f.rope_scaling.refused == refused);
        assert_true(refused ? isnan(f.rope_scaling.scale) : f.rope_scaling.scale == cases[i].scale);
        assert_true(f.rope_scaling.in_file == r.in_file);
        assert_true(f.rope_scaling.type_none == r.type_none);
        if (r.in_file && isfinite(r.factor))
            assert_true(f.rope_scaling.factor == r.factor);
        if (refused)
            assert_non_null(strstr(f.warning, cases[i].msg));
        else
            assert_null(strstr(f.warning, "refuses"));
        wl_gguf_close(g);
        free(buf);
    }
}

/* Absurd hyperparameters (the file's, which the engine refuses) give a KV
 * size that does not fit in 64 bits: refused, never a wrapped number such
 * as the 0 that `model info` used to print. */
static void test_kv_bytes_per_token_overflow_is_erange(void **state)
{
    (void)state;
    struct wl_model_features f = {0};
    uint64_t kv = 12345;
    /* row 2^33 F16 elements = 2^34 bytes; times 2^31 layers overflows */
    f.n_layers = 1u << 31;
    f.n_kv_heads = 1u << 31;
    f.head_dim = 4;
    assert_int_equal(wl_model_kv_bytes_per_token(&f, WL_TTYPE_F16, &kv), WL_ERANGE);
    assert_int_equal(kv, 12345);
    /* 2^32 bytes a row times 2^31 layers is 2^63: only the K+V doubling overflows */
    f.n_kv_heads = 1u << 29;
    assert_int_equal(wl_model_kv_bytes_per_token(&f, WL_TTYPE_F16, &kv), WL_ERANGE);
    assert_int_equal(kv, 12345);
    /* one layer fewer in the exponent fits exactly */
    f.n_layers = 1u << 30;
    assert_int_equal(wl_model_kv_bytes_per_token(&f, WL_TTYPE_F16, &kv), 0);
    assert_true(kv == 1ull << 63);
    /* the largest 32-bit values: the row alone fits, the total does not */
    f.n_layers = UINT32_MAX;
    f.n_kv_heads = UINT32_MAX;
    f.head_dim = UINT32_MAX;
    assert_int_equal(wl_model_kv_bytes_per_token(&f, WL_TTYPE_F32, &kv), WL_ERANGE);
}

static void test_arch_names(void **state)
{
    (void)state;
    assert_int_equal(wl_arch_from_string("mistral", 7), WL_ARCH_LLAMA);
    assert_int_equal(wl_arch_from_string("gemma2", 6), WL_ARCH_GEMMA2);
    assert_int_equal(wl_arch_from_string("gemma2", 5), WL_ARCH_GEMMA);
    assert_int_equal(wl_arch_from_string("gpt2", 4), WL_ARCH_UNKNOWN);
    assert_string_equal(wl_arch_name(WL_ARCH_STABLELM), "stablelm");
    assert_string_equal(wl_arch_name(WL_ARCH_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k_features),
        cmocka_unit_test(test_vocab_files_have_features_without_tensors),
        cmocka_unit_test(test_inference_from_tensor_names),
        cmocka_unit_test(test_moe_active_parameters),
        cmocka_unit_test(test_long_multibyte_names_are_cut_between_characters),
        cmocka_unit_test(test_long_warning_is_cut_between_characters),
        cmocka_unit_test(test_metadata_value_rules),
        cmocka_unit_test(test_rope_scaling_rule),
        cmocka_unit_test(test_kv_bytes_per_token_overflow_is_erange),
        cmocka_unit_test(test_arch_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

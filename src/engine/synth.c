/* Synthetic models; see synth.h. Each family is a row of wl__synth_families:
 * a function that adds its metadata keys and tensors through the helpers
 * below. Random numbers: splitmix64 seeded per tensor from (seed, tensor
 * index), so one tensor's values do not depend on the others' sizes. */
#include "engine/synth.h"

#include "engine/quant.h"
#include "engine/requant.h"
#include "wattlens/error.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wl_synth_default_params(struct wl_synth_params *p)
{
    *p = (struct wl_synth_params){
        .arch = WL_ARCH_LLAMA,
        .n_layers = 2,
        .dim = 64,
        .ffn = 172,
        .n_heads = 8,
        .n_kv_heads = 4,
        .vocab_size = 512,
        .vocab_from = NULL,
        .type = WL_TTYPE_F32,
        .seed = 1,
        .context_length = 2048,
        .rope_freq_base = 10000.0,
        .norm_eps = 1e-5,
    };
}

struct wl__synth {
    const struct wl_synth_params *p;
    wl_gguf_writer *w;
    struct wl_errmsg *err;
    struct wl_requant_stats *stats; /* every tensor added is counted here */
    uint32_t vocab;
    uint64_t n_tensors;
};

static uint64_t wl__splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Counts one tensor added as type in s->stats. */
static void wl__count(struct wl__synth *s, enum wl_ttype type, uint32_t n_dims, uint64_t ne0,
                      uint64_t bytes)
{
    s->stats->n_converted++;
    s->stats->bytes_out += bytes;
    if (n_dims >= 2)
        wl_requant_count_matrix(s->stats, s->p->type, type, ne0);
}

/* Adds a tensor of ne0 x ne1 (ne1 = 0: 1-D) filled with
 * constant + uniform(-scale, scale) (just `constant` when scale is 0), stored as requant's pick for p->type. */
static int wl__tensor(struct wl__synth *s, const char *name, uint64_t ne0, uint64_t ne1,
                      double scale, float constant)
{
    uint32_t n_dims = ne1 ? 2 : 1;
    uint64_t rows = ne1 ? ne1 : 1, n = ne0 * rows;
    enum wl_ttype type = wl_requant_pick_type(s->p->type, n_dims, ne0);
    uint64_t bytes;
    int rc = wl_ttype_bytes(type, n, &bytes);
    if (rc)
        return wl_errmsg_set(s->err, rc, "tensor %s: bad size", name);
    size_t row_bytes = wl_quant_row_bytes(type, (int64_t)ne0);
    uint8_t *data = malloc(bytes ? bytes : 1);
    float *row = malloc(ne0 * sizeof *row);
    if (!data || !row) {
        free(data);
        free(row);
        return wl_errmsg_set(s->err, WL_ENOMEM, "out of memory for tensor %s (%" PRIu64 " bytes)",
                             name, bytes);
    }
    uint64_t state = s->p->seed * 0x100000001b3ull + s->n_tensors * 0x9e3779b97f4a7c15ull + 1;
    for (uint64_t r = 0; r < rows && rc == 0; r++) {
        for (uint64_t i = 0; i < ne0; i++) {
            if (scale == 0.0) {
                row[i] = constant;
            } else {
                double u = (double)(wl__splitmix(&state) >> 11) * 0x1p-53; /* [0, 1) */
                row[i] = (float)((double)constant + (2.0 * u - 1.0) * scale);
            }
        }
        rc = wl_quantize_row(type, row, data + r * row_bytes, (int64_t)ne0);
    }
    free(row);
    if (rc) {
        free(data);
        return wl_errmsg_set(s->err, rc, "tensor %s: quantization to %s failed", name,
                             wl_ttype_name(type));
    }
    uint64_t ne[2] = {ne0, ne1};
    s->n_tensors++;
    rc = wl_gguf_writer_add_tensor_owned(s->w, name, type, n_dims, ne, data, bytes);
    if (rc)
        return wl_errmsg_set(s->err, rc, "cannot add tensor %s", name);
    wl__count(s, type, n_dims, ne0, bytes);
    return 0;
}

static int wl__matrix(struct wl__synth *s, const char *name, uint64_t fan_in, uint64_t n_out)
{
    return wl__tensor(s, name, fan_in, n_out, sqrt(3.0 / (double)fan_in), 0.0f);
}

static int wl__norm(struct wl__synth *s, const char *name, uint64_t n)
{
    return wl__tensor(s, name, n, 0, 0.0, 1.0f);
}

/* ---- tokenizer ------------------------------------------------------------------- */

/* Byte-level SentencePiece-style vocabulary: <unk> <s> </s>, the 256 byte
 * tokens <0x00>..<0xFF>, then distinct lowercase pieces "▁a", "▁b", ...,
 * "▁aa", ... with decreasing scores until vocab_size. */
static int wl__byte_vocab(struct wl__synth *s)
{
    uint32_t n = s->p->vocab_size;
    struct wl_gguf_str *tok = calloc(n, sizeof *tok);
    char *pool = malloc((size_t)n * 16);
    float *scores = malloc(n * sizeof *scores);
    int32_t *types = malloc(n * sizeof *types);
    int rc = WL_ENOMEM;
    if (!tok || !pool || !scores || !types)
        goto fail;
    for (uint32_t i = 0; i < n; i++) {
        char *t = pool + (size_t)i * 16;
        if (i < 3) {
            strcpy(t, i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
            types[i] = i == 0 ? 2 : 3; /* unknown, control */
            scores[i] = 0.0f;
        } else if (i < 259) {
            snprintf(t, 16, "<0x%02X>", i - 3);
            types[i] = 6; /* byte */
            scores[i] = 0.0f;
        } else {
            /* k-th piece in bijective base 26: a..z, aa..zz, ... */
            char letters[12];
            int len = 0;
            for (uint64_t k = (uint64_t)(i - 259) + 1; k > 0 && len < 11; k = (k - 1) / 26)
                letters[len++] = (char)('a' + (k - 1) % 26);
            memcpy(t, "\xe2\x96\x81", 3); /* U+2581, SentencePiece's space marker */
            for (int j = 0; j < len; j++)
                t[3 + j] = letters[len - 1 - j];
            t[3 + len] = '\0';
            types[i] = 1; /* normal */
            scores[i] = -(float)(i - 259);
        }
        tok[i].data = t;
        tok[i].len = strlen(t);
    }
    rc = wl_gguf_writer_set_str(s->w, "tokenizer.ggml.model", "llama");
    if (rc == 0)
        rc = wl_gguf_writer_set_arr_str(s->w, "tokenizer.ggml.tokens", tok, n);
    if (rc == 0)
        rc = wl_gguf_writer_set_arr(s->w, "tokenizer.ggml.scores", WL_GGUF_FLOAT32, scores, n);
    if (rc == 0)
        rc = wl_gguf_writer_set_arr(s->w, "tokenizer.ggml.token_type", WL_GGUF_INT32, types, n);
    if (rc == 0)
        rc = wl_gguf_writer_set_u32(s->w, "tokenizer.ggml.unknown_token_id", 0);
    if (rc == 0)
        rc = wl_gguf_writer_set_u32(s->w, "tokenizer.ggml.bos_token_id", 1);
    if (rc == 0)
        rc = wl_gguf_writer_set_u32(s->w, "tokenizer.ggml.eos_token_id", 2);
    if (rc == 0)
        rc = wl_gguf_writer_set_bool(s->w, "tokenizer.ggml.add_bos_token", true);
    if (rc == 0)
        rc = wl_gguf_writer_set_bool(s->w, "tokenizer.ggml.add_eos_token", false);
    s->vocab = n;
fail:
    free(tok);
    free(pool);
    free(scores);
    free(types);
    return rc ? wl_errmsg_set(s->err, rc, "cannot build the byte-level vocabulary") : 0;
}

static int wl__copy_vocab(struct wl__synth *s)
{
    const wl_gguf *v = s->p->vocab_from;
    enum wl_gguf_vtype et;
    uint64_t n;
    if (wl_gguf_get_arr(v, "tokenizer.ggml.tokens", &et, &n) != 0 || et != WL_GGUF_STRING ||
        n == 0 || n > UINT32_MAX)
        return wl_errmsg_set(s->err, WL_EINVAL,
                             "the vocabulary file has no tokenizer.ggml.tokens array of strings");
    for (uint64_t k = 0; k < wl_gguf_n_kv(v); k++) {
        if (strncmp(wl_gguf_kv_key(v, k), "tokenizer.", 10) != 0)
            continue;
        int rc = wl_gguf_writer_copy_kv(s->w, v, k);
        if (rc)
            return wl_errmsg_set(s->err, rc, "cannot copy %s", wl_gguf_kv_key(v, k));
    }
    s->vocab = (uint32_t)n;
    return 0;
}

/* ---- families ------------------------------------------------------------------------ */

static int wl__llama(struct wl__synth *s)
{
    const struct wl_synth_params *p = s->p;
    wl_gguf_writer *w = s->w;
    uint32_t head_dim = p->dim / p->n_heads, kv_dim = head_dim * p->n_kv_heads;
    int rc = 0;
    rc = rc ? rc : wl_gguf_writer_set_u32(w, "llama.vocab_size", s->vocab);
    rc = rc ? rc : wl_gguf_writer_set_u32(w, "llama.context_length", p->context_length);
    rc = rc ? rc : wl_gguf_writer_set_u32(w, "llama.embedding_length", p->dim);
    rc = rc ? rc : wl_gguf_writer_set_u32(w, "llama.block_count", p->n_layers);
    rc = rc ? rc : wl_gguf_writer_set_u32(w, "llama.feed_forward_length", p->ffn);
    rc = rc ? rc : wl_gguf_writer_set_u32(w, "llama.rope.dimension_count", head_dim);
    rc = rc ? rc : wl_gguf_writer_set_u32(w, "llama.attention.head_count", p->n_heads);
    rc = rc ? rc : wl_gguf_writer_set_u32(w, "llama.attention.head_count_kv", p->n_kv_heads);
    rc = rc ? rc : wl_gguf_writer_set_f32(w, "llama.rope.freq_base", (float)p->rope_freq_base);
    rc = rc ? rc
            : wl_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon",
                                     (float)p->norm_eps);
    if (rc)
        return wl_errmsg_set(s->err, rc, "cannot write llama metadata");

    if ((rc = wl__matrix(s, "token_embd.weight", p->dim, s->vocab)) != 0)
        return rc;
    for (uint32_t l = 0; l < p->n_layers; l++) {
        char name[64];
#define WL__NAME(suffix) (snprintf(name, sizeof name, "blk.%" PRIu32 "." suffix, l), name)
        if ((rc = wl__norm(s, WL__NAME("attn_norm.weight"), p->dim)) ||
            (rc = wl__matrix(s, WL__NAME("attn_q.weight"), p->dim, p->dim)) ||
            (rc = wl__matrix(s, WL__NAME("attn_k.weight"), p->dim, kv_dim)) ||
            (rc = wl__matrix(s, WL__NAME("attn_v.weight"), p->dim, kv_dim)) ||
            (rc = wl__matrix(s, WL__NAME("attn_output.weight"), p->dim, p->dim)) ||
            (rc = wl__norm(s, WL__NAME("ffn_norm.weight"), p->dim)) ||
            (rc = wl__matrix(s, WL__NAME("ffn_gate.weight"), p->dim, p->ffn)) ||
            (rc = wl__matrix(s, WL__NAME("ffn_up.weight"), p->dim, p->ffn)) ||
            (rc = wl__matrix(s, WL__NAME("ffn_down.weight"), p->ffn, p->dim)))
            return rc;
#undef WL__NAME
    }
    if ((rc = wl__norm(s, "output_norm.weight", p->dim)) != 0)
        return rc;
    return wl__matrix(s, "output.weight", p->dim, s->vocab);
}

/* The other families: one builder driven by what each family's real GGUF
 * files contain (tensor names and metadata keys as llama.cpp's converter
 * writes them). Norm weights are 1 + uniform(+-0.2) and biases
 * uniform(+-0.1), so the family-specific parts change the result. */
struct wl__fam {
    enum wl_arch arch;
    bool qkv_bias;        /* attn_{q,k,v}.bias */
    bool fused;           /* attn_qkv and a 2 * ffn ffn_up (no ffn_gate) */
    bool post_norms;      /* post_attention_norm, post_ffw_norm */
    bool norm_bias;       /* LayerNorm: every *norm has a .bias */
    bool tied;            /* no output.weight */
    bool key_length;      /* writes attention.key_length / value_length */
    uint32_t rope_div;    /* rope dimensions = head_dim / rope_div (partial rotary) */
};

static const struct wl__fam wl__fams[] = {
    {WL_ARCH_QWEN2, true, false, false, false, false, false, 1},
    {WL_ARCH_PHI3, false, true, false, false, false, false, 1},
    {WL_ARCH_GEMMA, false, false, false, false, true, true, 1},
    {WL_ARCH_GEMMA2, false, false, true, false, true, true, 1},
    {WL_ARCH_STABLELM, true, false, false, true, false, false, 4},
};

static int wl__key_u32(struct wl__synth *s, const char *suffix, uint32_t v)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", wl_arch_name(s->p->arch), suffix);
    return wl_gguf_writer_set_u32(s->w, key, v);
}

static int wl__key_f32(struct wl__synth *s, const char *suffix, float v)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", wl_arch_name(s->p->arch), suffix);
    return wl_gguf_writer_set_f32(s->w, key, v);
}

static int wl__nrm(struct wl__synth *s, const struct wl__fam *f, const char *base, uint64_t n)
{
    char name[96];
    snprintf(name, sizeof name, "%s.weight", base);
    int rc = wl__tensor(s, name, n, 0, 0.2, 1.0f);
    if (rc == 0 && f->norm_bias) {
        snprintf(name, sizeof name, "%s.bias", base);
        rc = wl__tensor(s, name, n, 0, 0.1, 0.0f);
    }
    return rc;
}

/* phi3 LongRoPE (as in the 128k-context models): short factors near 1,
 * long factors growing with the dimension, the original context 1/32 of
 * the trained one and the attention factor the converter computes. */
static int wl__phi3_rope(struct wl__synth *s, uint32_t rope_dim)
{
    const struct wl_synth_params *p = s->p;
    uint32_t orig = p->context_length / 32 ? p->context_length / 32 : 1;
    double scale = (double)p->context_length / orig;
    double attn = scale > 1.0 && orig > 1 ? sqrt(1.0 + log(scale) / log((double)orig)) : 1.0;
    uint32_t half = rope_dim / 2;
    float *fl = malloc(half * sizeof *fl), *fs = malloc(half * sizeof *fs);
    if (!fl || !fs) {
        free(fl);
        free(fs);
        return wl_errmsg_set(s->err, WL_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < half; i++) {
        fs[i] = 1.0f + 0.05f * (float)i / (float)half;
        fl[i] = 1.0f + 4.0f * (float)i / (float)half;
    }
    uint64_t ne[2] = {half, 0};
    /* the writer owns both buffers from here, even on failure */
    int rc = wl_gguf_writer_add_tensor_owned(s->w, "rope_factors_long.weight", WL_TTYPE_F32, 1, ne,
                                             fl, half * sizeof(float));
    if (rc == 0)
        rc = wl_gguf_writer_add_tensor_owned(s->w, "rope_factors_short.weight", WL_TTYPE_F32, 1,
                                             ne, fs, half * sizeof(float));
    else
        free(fs);
    for (int i = 0; rc == 0 && i < 2; i++)
        wl__count(s, WL_TTYPE_F32, 1, half, half * sizeof(float));
    rc = rc ? rc : wl__key_u32(s, "rope.scaling.original_context_length", orig);
    rc = rc ? rc : wl__key_f32(s, "rope.scaling.attn_factor", (float)attn);
    return rc ? wl_errmsg_set(s->err, rc, "cannot write phi3 rope factors") : 0;
}

static int wl__family(struct wl__synth *s, const struct wl__fam *f)
{
    const struct wl_synth_params *p = s->p;
    const uint32_t head_dim = p->dim / p->n_heads, kv_dim = head_dim * p->n_kv_heads;
    uint32_t rope_dim = head_dim / f->rope_div;
    rope_dim -= rope_dim % 2;
    if (rope_dim < 2)
        return wl_errmsg_set(s->err, WL_EINVAL, "head dim %" PRIu32 " leaves no rotary dimensions",
                             head_dim);
    int rc = 0;
    rc = rc ? rc : wl__key_u32(s, "context_length", p->context_length);
    rc = rc ? rc : wl__key_u32(s, "embedding_length", p->dim);
    rc = rc ? rc : wl__key_u32(s, "block_count", p->n_layers);
    rc = rc ? rc : wl__key_u32(s, "feed_forward_length", p->ffn);
    rc = rc ? rc : wl__key_u32(s, "rope.dimension_count", rope_dim);
    rc = rc ? rc : wl__key_u32(s, "attention.head_count", p->n_heads);
    rc = rc ? rc : wl__key_u32(s, "attention.head_count_kv", p->n_kv_heads);
    rc = rc ? rc : wl__key_f32(s, "rope.freq_base", (float)p->rope_freq_base);
    rc = rc ? rc : wl__key_f32(s, wl__arch_norm_eps_key(f->arch), (float)p->norm_eps);
    if (f->key_length) {
        rc = rc ? rc : wl__key_u32(s, "attention.key_length", head_dim);
        rc = rc ? rc : wl__key_u32(s, "attention.value_length", head_dim);
    }
    if (f->arch == WL_ARCH_GEMMA2) {
        /* the released models' values; the window is half the context, as
         * gemma2's 4096 of 8192 */
        rc = rc ? rc : wl__key_f32(s, "attn_logit_softcapping", 50.0f);
        rc = rc ? rc : wl__key_f32(s, "final_logit_softcapping", 30.0f);
        rc = rc ? rc
                : wl__key_u32(s, "attention.sliding_window",
                              p->context_length / 2 ? p->context_length / 2 : 1);
    }
    if (rc)
        return wl_errmsg_set(s->err, rc, "cannot write %s metadata", wl_arch_name(p->arch));
    if (f->arch == WL_ARCH_PHI3 && (rc = wl__phi3_rope(s, rope_dim)) != 0)
        return rc;

    if ((rc = wl__matrix(s, "token_embd.weight", p->dim, s->vocab)) != 0)
        return rc;
    for (uint32_t l = 0; l < p->n_layers; l++) {
        char name[64], base[64];
#define WL__NAME(suffix) (snprintf(name, sizeof name, "blk.%" PRIu32 "." suffix, l), name)
#define WL__BASE(suffix) (snprintf(base, sizeof base, "blk.%" PRIu32 "." suffix, l), base)
        if ((rc = wl__nrm(s, f, WL__BASE("attn_norm"), p->dim)) != 0)
            return rc;
        if (f->fused) {
            rc = wl__matrix(s, WL__NAME("attn_qkv.weight"), p->dim, p->dim + 2 * kv_dim);
        } else if ((rc = wl__matrix(s, WL__NAME("attn_q.weight"), p->dim, p->dim)) == 0 &&
                   (rc = wl__matrix(s, WL__NAME("attn_k.weight"), p->dim, kv_dim)) == 0) {
            rc = wl__matrix(s, WL__NAME("attn_v.weight"), p->dim, kv_dim);
        }
        if (rc == 0 && f->qkv_bias &&
            ((rc = wl__tensor(s, WL__NAME("attn_q.bias"), p->dim, 0, 0.1, 0.0f)) == 0) &&
            ((rc = wl__tensor(s, WL__NAME("attn_k.bias"), kv_dim, 0, 0.1, 0.0f)) == 0))
            rc = wl__tensor(s, WL__NAME("attn_v.bias"), kv_dim, 0, 0.1, 0.0f);
        if (rc == 0)
            rc = wl__matrix(s, WL__NAME("attn_output.weight"), p->dim, p->dim);
        if (rc == 0 && f->post_norms)
            rc = wl__nrm(s, f, WL__BASE("post_attention_norm"), p->dim);
        if (rc == 0)
            rc = wl__nrm(s, f, WL__BASE("ffn_norm"), p->dim);
        if (rc == 0 && f->fused) {
            rc = wl__matrix(s, WL__NAME("ffn_up.weight"), p->dim, 2 * p->ffn);
        } else if (rc == 0 && (rc = wl__matrix(s, WL__NAME("ffn_gate.weight"), p->dim, p->ffn)) == 0) {
            rc = wl__matrix(s, WL__NAME("ffn_up.weight"), p->dim, p->ffn);
        }
        if (rc == 0)
            rc = wl__matrix(s, WL__NAME("ffn_down.weight"), p->ffn, p->dim);
        if (rc == 0 && f->post_norms)
            rc = wl__nrm(s, f, WL__BASE("post_ffw_norm"), p->dim);
        if (rc)
            return rc;
#undef WL__NAME
#undef WL__BASE
    }
    if ((rc = wl__nrm(s, f, "output_norm", p->dim)) != 0)
        return rc;
    return f->tied ? 0 : wl__matrix(s, "output.weight", p->dim, s->vocab);
}

static int wl__other(struct wl__synth *s)
{
    for (size_t i = 0; i < sizeof wl__fams / sizeof wl__fams[0]; i++)
        if (wl__fams[i].arch == s->p->arch)
            return wl__family(s, &wl__fams[i]);
    return wl_errmsg_set(s->err, WL_ENOTSUP, "no synth family for %s", wl_arch_name(s->p->arch));
}

static const struct {
    enum wl_arch arch;
    int (*build)(struct wl__synth *s);
} wl__synth_families[] = {
    {WL_ARCH_LLAMA, wl__llama},     {WL_ARCH_QWEN2, wl__other},  {WL_ARCH_PHI3, wl__other},
    {WL_ARCH_GEMMA, wl__other},     {WL_ARCH_GEMMA2, wl__other}, {WL_ARCH_STABLELM, wl__other},
};

int wl_synth_check(const struct wl_synth_params *p, struct wl_errmsg *err)
{
    wl_errmsg_clear(err);
    int (*build)(struct wl__synth *) = NULL;
    for (size_t i = 0; i < sizeof wl__synth_families / sizeof wl__synth_families[0]; i++) {
        if (wl__synth_families[i].arch == p->arch)
            build = wl__synth_families[i].build;
    }
    if (!build)
        return wl_errmsg_set(err, WL_ENOTSUP, "no synth family for architecture %s",
                             wl_arch_name(p->arch));
    if (p->n_layers < 1 || p->n_layers > 4096 || p->dim < 2 || p->dim > (1u << 20) || p->ffn < 1 ||
        p->ffn > (1u << 22))
        return wl_errmsg_set(err, WL_EINVAL,
                             "layers must be 1..4096, dim 2..1048576 and ffn 1..4194304");
    if (p->n_heads < 1 || p->dim % p->n_heads != 0)
        return wl_errmsg_set(err, WL_EINVAL,
                             "dim %" PRIu32 " is not a multiple of %" PRIu32 " heads", p->dim,
                             p->n_heads);
    if ((p->dim / p->n_heads) % 2 != 0)
        return wl_errmsg_set(err, WL_EINVAL, "head dim %" PRIu32 " must be even for RoPE",
                             p->dim / p->n_heads);
    if (p->n_kv_heads < 1 || p->n_heads % p->n_kv_heads != 0)
        return wl_errmsg_set(err, WL_EINVAL,
                             "%" PRIu32 " heads are not a multiple of %" PRIu32 " KV heads",
                             p->n_heads, p->n_kv_heads);
    if (!p->vocab_from && (p->vocab_size < 259 || p->vocab_size > (1u << 20)))
        return wl_errmsg_set(err, WL_EINVAL,
                             "a byte-level vocabulary needs 259..1048576 tokens (3 specials + 256 "
                             "bytes), got %" PRIu32,
                             p->vocab_size);
    if (wl_requant_file_type(p->type) < 0 || !wl_quant_is_supported(p->type))
        return wl_errmsg_set(err, WL_EINVAL,
                             "cannot synthesize %s weights (supported: F32, F16, BF16, Q8_0, "
                             "Q4_0, Q4_K, Q6_K)",
                             wl_ttype_name(p->type));
    if (!(p->rope_freq_base > 0.0) || !(p->norm_eps > 0.0) || p->context_length < 1)
        return wl_errmsg_set(err, WL_EINVAL, "rope base, norm epsilon and context must be > 0");
    /* a family that rotates part of each head (stablelm: a quarter) needs
     * two rotary dimensions or more */
    uint32_t rope_div = 1;
    for (size_t i = 0; i < sizeof wl__fams / sizeof wl__fams[0]; i++)
        if (wl__fams[i].arch == p->arch)
            rope_div = wl__fams[i].rope_div;
    uint32_t rope_dim = p->dim / p->n_heads / rope_div;
    if (rope_dim - rope_dim % 2 < 2)
        return wl_errmsg_set(err, WL_EINVAL,
                             "head dim %" PRIu32 " leaves no rotary dimensions for %s (dim / heads "
                             "must be at least %" PRIu32 ")",
                             p->dim / p->n_heads, wl_arch_name(p->arch), 2 * rope_div);
    return 0;
}

int wl_synth_model(const struct wl_synth_params *p, wl_gguf_writer *w, struct wl_errmsg *err)
{
    struct wl_requant_stats st;
    return wl_synth_model_stats(p, w, &st, err);
}

int wl_synth_model_stats(const struct wl_synth_params *p, wl_gguf_writer *w,
                         struct wl_requant_stats *stats, struct wl_errmsg *err)
{
    *stats = (struct wl_requant_stats){0};
    int rc = wl_synth_check(p, err);
    if (rc)
        return rc;
    int (*build)(struct wl__synth *) = NULL;
    for (size_t i = 0; i < sizeof wl__synth_families / sizeof wl__synth_families[0]; i++) {
        if (wl__synth_families[i].arch == p->arch)
            build = wl__synth_families[i].build;
    }

    struct wl__synth s = {.p = p, .w = w, .err = err, .stats = stats};
    /* general.name is a tokenizer hint (a name with "phi3" turns on the
     * Phi-3 rules, tokenizer_vocab.c), so the family never goes into it: a
     * copied vocabulary keeps its source's name (none if it has none) and
     * tokenizes as the source does; the generated one gets a name without
     * the family and tokenizes the same for every family. What synth made
     * is in wattlens.synth.name. */
    char name[96], general_name[96];
    snprintf(name, sizeof name, "wattlens synth %s L%" PRIu32 " D%" PRIu32 " seed %" PRIu64,
             wl_arch_name(p->arch), p->n_layers, p->dim, p->seed);
    snprintf(general_name, sizeof general_name,
             "wattlens synth L%" PRIu32 " D%" PRIu32 " seed %" PRIu64, p->n_layers, p->dim,
             p->seed);
    rc = wl_gguf_writer_set_str(w, "general.architecture", wl_arch_name(p->arch));
    if (rc == 0 && !p->vocab_from)
        rc = wl_gguf_writer_set_str(w, "general.name", general_name);
    if (rc == 0 && p->vocab_from) {
        int64_t k = wl_gguf_find_kv(p->vocab_from, "general.name");
        if (k >= 0)
            rc = wl_gguf_writer_copy_kv(w, p->vocab_from, (uint64_t)k);
    }
    rc = rc ? rc
            : wl_gguf_writer_set_u32(w, "general.file_type",
                                     (uint32_t)wl_requant_file_type(p->type));
    if (rc == 0 && wl_ttype_block_elems(p->type) > 1)
        rc = wl_gguf_writer_set_u32(w, "general.quantization_version", 2);
    rc = rc ? rc : wl_gguf_writer_set_str(w, "wattlens.synth.name", name);
    rc = rc ? rc : wl_gguf_writer_set_u64(w, "wattlens.synth.seed", p->seed);
    if (rc)
        return wl_errmsg_set(err, rc, "cannot write general metadata");
    rc = p->vocab_from ? wl__copy_vocab(&s) : wl__byte_vocab(&s);
    if (rc)
        return rc;
    return build(&s);
}

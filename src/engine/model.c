/* Model loading: config from GGUF metadata, weights bound in place from the
 * mapping; see model.h. The family table (engine/forward.c) supplies the
 * architecture-specific part of loading.
 */
#include "engine/model.h"

#include "engine/arch.h"
#include "engine/forward.h"
#include "engine/kernels/kernels.h"
#include "engine/quant.h"
#include "util/hugepage.h"
#include "util/log.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t wl_weight_bytes(const struct wl_weight *w)
{
    return w->data ? (uint64_t)w->row_bytes * (uint64_t)w->n_out : 0;
}

bool wl_model_is_eog(const wl_model *m, int32_t id)
{
    for (int32_t i = 0; i < m->n_eog; i++)
        if (m->eog_ids[i] == id)
            return true;
    return false;
}

/* Types the matrix kernels accept. */
static bool matrix_type_supported(enum wl_ttype t)
{
    switch (t) {
    case WL_TTYPE_F32:
    case WL_TTYPE_F16:
    case WL_TTYPE_BF16:
    case WL_TTYPE_Q8_0:
    case WL_TTYPE_Q4_0:
    case WL_TTYPE_Q4_K:
    case WL_TTYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

/* A buffer of n_bytes the model owns (freed at wl_model_free), aligned to a
 * cache line; NULL when out of memory. */
static void *own_buffer(wl_model *m, size_t n_bytes)
{
    void **grown = realloc(m->owned, (m->n_owned + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    m->owned = grown;
    if (n_bytes > SIZE_MAX - 64)
        return NULL;
    /* aligned_alloc wants a size that is a multiple of the alignment */
    void *buf = aligned_alloc(64, (n_bytes / 64 + 1) * 64);
    if (buf)
        m->owned[m->n_owned++] = buf;
    return buf;
}

/* F16 or BF16 values at an odd address, widened to F32 one element at a
 * time (the row converters read uint16_t, which must be aligned). */
static void widen_unaligned_16(enum wl_ttype type, const void *src, float *dst, int64_t n)
{
    const unsigned char *p = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, sizeof h);
        dst[i] = type == WL_TTYPE_F16 ? wl_fp16_to_fp32(h) : wl_bf16_to_fp32(h);
    }
}

/* Notes that a part of the model took tensor t (see check_all_bound). */
static void mark_bound(wl_model *m, const struct wl_gguf_tensor *t)
{
    if (m->tensor_bound)
        m->tensor_bound[t - wl_gguf_tensor(m->gguf, 0)] = true;
}

int wl__model_bind_matrix(wl_model *m, const char *name, int64_t n_in, int64_t n_out,
                          bool optional, struct wl_weight *w, struct wl_errmsg *err)
{
    memset(w, 0, sizeof *w);
    const struct wl_gguf_tensor *t = wl_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (optional)
            return 0;
        return wl_errmsg_set(err, WL_EFORMAT, "tensor '%s' is missing", name);
    }
    mark_bound(m, t);
    if ((int64_t)t->ne[0] != n_in || (int64_t)t->ne[1] != n_out || t->ne[2] != 1 || t->ne[3] != 1)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]",
                             name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                             (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                             (long long)n_in, (long long)n_out);
    if (!matrix_type_supported(t->type))
        return wl_errmsg_set(err, WL_ENOTSUP,
                             "tensor '%s' has type %s; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K",
                             name, wl_ttype_name(t->type));
    uint64_t row_bytes = 0;
    int rc = wl_ttype_bytes(t->type, (uint64_t)n_in, &row_bytes);
    if (rc != 0)
        return wl_errmsg_set(err, rc, "tensor '%s': row of %lld %s elements is not whole blocks",
                             name, (long long)n_in, wl_ttype_name(t->type));
    /* The file's alignment is only general.alignment: at 1 or 2 a tensor can
     * start at an address the kernels cannot read (they refuse it). Such a
     * tensor is copied once to memory the model owns, so that the file
     * still runs, and gives the same results; the load warns (see below). */
    const void *data = t->data;
    if ((uintptr_t)data % wl_kernel_weight_align(t->type) != 0) {
        void *copy = own_buffer(m, (size_t)t->n_bytes);
        if (!copy)
            return wl_errmsg_set(err, WL_ENOMEM,
                                 "out of memory copying tensor '%s' (%llu bytes) to aligned memory",
                                 name, (unsigned long long)t->n_bytes);
        memcpy(copy, data, (size_t)t->n_bytes);
        data = copy;
        m->realigned_tensors++;
        m->realigned_bytes += t->n_bytes;
    }
    w->type = t->type;
    w->data = data;
    w->n_in = n_in;
    w->n_out = n_out;
    w->row_bytes = (size_t)row_bytes;
    w->name = t->name;
    /* What the kernels will check on every product, checked once here: a
     * weight bound at load can then never be refused while the model runs. */
    const struct wl_kernel_weight kw = {.type = w->type,
                                        .data = w->data,
                                        .rows = w->n_out,
                                        .cols = w->n_in,
                                        .row_bytes = w->row_bytes};
    rc = wl_kernel_weight_check(&kw);
    if (rc != 0)
        return wl_errmsg_set(err, rc,
                             "tensor '%s' (%s, [%lld, %lld]) cannot be read by the matrix kernels",
                             name, wl_ttype_name(t->type), (long long)n_in, (long long)n_out);
    m->weight_bytes += t->n_bytes;
    m->n_params += t->n_elements;
    return 0;
}

int wl__model_bind_vector(wl_model *m, const char *name, int64_t n, bool optional,
                          const float **out, struct wl_errmsg *err)
{
    *out = NULL;
    const struct wl_gguf_tensor *t = wl_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (optional)
            return 0;
        return wl_errmsg_set(err, WL_EFORMAT, "tensor '%s' is missing", name);
    }
    mark_bound(m, t);
    if ((int64_t)t->n_elements != n || (int64_t)t->ne[0] != n)
        return wl_errmsg_set(err, WL_EFORMAT, "tensor '%s' has %llu elements, expected %lld", name,
                             (unsigned long long)t->n_elements, (long long)n);
    m->weight_bytes += t->n_bytes;
    m->n_params += t->n_elements;
    if (t->type == WL_TTYPE_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data;
        return 0;
    }
    if (t->type != WL_TTYPE_F32 && t->type != WL_TTYPE_F16 && t->type != WL_TTYPE_BF16)
        return wl_errmsg_set(err, WL_ENOTSUP, "tensor '%s' has type %s; expected F32, F16 or BF16",
                             name, wl_ttype_name(t->type));
    float *buf = own_buffer(m, (size_t)n * sizeof(float));
    if (!buf)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory converting '%s'", name);
    if (t->type == WL_TTYPE_F32)
        memcpy(buf, t->data, (size_t)n * sizeof(float));
    else if ((uintptr_t)t->data % sizeof(uint16_t) != 0)
        widen_unaligned_16(t->type, t->data, buf, n);
    else if (t->type == WL_TTYPE_F16)
        wl_dequantize_row_f16(t->data, buf, n);
    else
        wl_dequantize_row_bf16(t->data, buf, n);
    *out = buf;
    return 0;
}

int wl__model_bind_layer_matrix(wl_model *m, int32_t il, const char *suffix, int64_t n_in,
                                int64_t n_out, bool optional, struct wl_weight *w,
                                struct wl_errmsg *err)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s", (int)il, suffix);
    return wl__model_bind_matrix(m, name, n_in, n_out, optional, w, err);
}

int wl__model_bind_layer_vector(wl_model *m, int32_t il, const char *suffix, int64_t n,
                                bool optional, const float **out, struct wl_errmsg *err)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s", (int)il, suffix);
    return wl__model_bind_vector(m, name, n, optional, out, err);
}

/* ---- metadata helpers ------------------------------------------------------ */

static void add_eog(wl_model *m, const wl_gguf *g, const char *key)
{
    int64_t v = 0;
    if (wl_gguf_get_i64(g, key, &v) != 0 || v < 0 || v >= m->config.vocab_size)
        return;
    for (int32_t i = 0; i < m->n_eog; i++)
        if (m->eog_ids[i] == (int32_t)v)
            return;
    if (m->n_eog < (int32_t)(sizeof m->eog_ids / sizeof m->eog_ids[0]))
        m->eog_ids[m->n_eog++] = (int32_t)v;
}

/* Control tokens that end a turn in common chat vocabularies; like the
 * reference implementation, these stop generation even when the metadata
 * names only eos. */
static void add_eog_by_text(wl_model *m, const wl_gguf *g)
{
    static const char *const texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                        "<|endoftext|>", "<|eom_id|>", "<EOT>"};
    enum wl_gguf_vtype et;
    uint64_t n = 0;
    if (wl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) != 0 || et != WL_GGUF_STRING)
        return;
    bool have_types = false;
    uint64_t n_types = 0;
    enum wl_gguf_vtype tt;
    if (wl_gguf_get_arr(g, "tokenizer.ggml.token_type", &tt, &n_types) == 0 && n_types == n)
        have_types = true;
    for (uint64_t i = 0; i < n && i < (uint64_t)m->config.vocab_size; i++) {
        struct wl_gguf_str s;
        if (wl_gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &s) != 0 || s.len < 5 || s.len > 16 ||
            s.data[0] != '<')
            continue;
        for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
            if (strlen(texts[k]) != s.len || memcmp(texts[k], s.data, s.len) != 0)
                continue;
            int64_t type = 3; /* control */
            if (have_types)
                wl_gguf_get_arr_i64(g, "tokenizer.ggml.token_type", i, &type);
            if (type != 3 && type != 4) /* control or user-defined */
                continue;
            bool dup = false;
            for (int32_t e = 0; e < m->n_eog; e++)
                dup |= m->eog_ids[e] == (int32_t)i;
            if (!dup && m->n_eog < (int32_t)(sizeof m->eog_ids / sizeof m->eog_ids[0]))
                m->eog_ids[m->n_eog++] = (int32_t)i;
        }
    }
}

static int read_config(wl_model *m, struct wl_errmsg *err)
{
    const wl_gguf *g = m->gguf;
    struct wl_model_config *c = &m->config;
    const char *a = c->arch;
    int rc;
    /* the keys are wl__config_int_keys' (arch.c), which the features check
     * in the same words */
    const char *const *keys = wl__config_int_keys;
    char why[WL__METADATA_WHY_SIZE];
    if ((rc = wl__metadata_get_i32(g, a, keys[WL__CONFIG_BLOCK_COUNT], false, 0, &c->n_layer,
                                   err)) != 0 ||
        (rc = wl__metadata_get_i32(g, a, keys[WL__CONFIG_EMBEDDING_LENGTH], false, 0, &c->dim,
                                   err)) != 0 ||
        (rc = wl__metadata_get_i32(g, a, keys[WL__CONFIG_FEED_FORWARD_LENGTH], false, 0,
                                   &c->ffn_dim, err)) != 0 ||
        (rc = wl__metadata_get_i32(g, a, keys[WL__CONFIG_HEAD_COUNT], false, 0, &c->n_head, err)) !=
            0 ||
        (rc = wl__metadata_get_i32(g, a, keys[WL__CONFIG_HEAD_COUNT_KV], true, c->n_head,
                                   &c->n_head_kv, err)) != 0 ||
        /* the training context is required as llama.cpp requires it: it caps
         * the default context and picks phi3's LongRoPE factors, so a guess
         * would run (and report) another model */
        (rc = wl__metadata_get_i32(g, a, keys[WL__CONFIG_CONTEXT_LENGTH], false, 0, &c->n_ctx_train,
                                   err)) != 0)
        return rc;
    /* every layer has several tensors: a block count past the file's tensor
     * count is refused before the per-layer tables are allocated (a count
     * near 2^30 would otherwise read as the machine being out of memory) */
    if (wl__metadata_layers_fit(c->n_layer, wl_gguf_n_tensors(g), why, sizeof why) != 0)
        return wl_errmsg_set(err, WL_EFORMAT, "metadata '%s.%s' %s", a,
                             keys[WL__CONFIG_BLOCK_COUNT], why);
    /* the embedding length against the embeddings first: the head shape
     * is derived from it, and a wrong one would be reported as a RoPE
     * dimension that does not fit, naming a correct key */
    if (wl__metadata_embd_fits(g, c->dim, why, sizeof why) != 0)
        return wl_errmsg_set(err, WL_EFORMAT, "metadata '%s.%s' %s", a,
                             keys[WL__CONFIG_EMBEDDING_LENGTH], why);
    if (wl__metadata_heads_divide(c->dim, c->n_head, why, sizeof why) != 0)
        return wl_errmsg_set(err, WL_EFORMAT, "%s", why);
    /* llama.cpp runs "<arch>.expert_count" > 0 (Mixtral's router and stacked
     * experts) with a MoE feed-forward this engine does not have */
    char key[128];
    snprintf(key, sizeof key, "%s.expert_count", a);
    int64_t n_expert = 0;
    if (wl_gguf_get_i64(g, key, &n_expert) == 0 && n_expert > 0)
        return wl_errmsg_set(err, WL_ENOTSUP,
                             "mixture-of-experts models (%lld experts, metadata '%s') are not "
                             "supported by the engine",
                             (long long)n_expert, key);
    if ((rc = wl__metadata_get_i32(g, a, keys[WL__CONFIG_KEY_LENGTH], true, c->dim / c->n_head,
                                   &c->head_dim, err)) != 0)
        return rc;
    if (wl__metadata_grouping(c->n_head, c->n_head_kv, why, sizeof why) != 0)
        return wl_errmsg_set(err, WL_EFORMAT, "%s", why);
    if ((rc = wl__metadata_get_i32(g, a, keys[WL__CONFIG_ROPE_DIMENSION_COUNT], true, c->head_dim,
                                   &c->rope_dim, err)) != 0)
        return rc;
    if (wl__metadata_rope_fits(c->rope_dim, c->head_dim, why, sizeof why) != 0)
        return wl_errmsg_set(err, WL_EFORMAT, "%s", why);
    /* the family's norm epsilon: llama.cpp requires it (a guess, 1e-5 where
     * the model was trained with 1e-6, would run another model) */
    const char *eps_key = wl__arch_norm_eps_key(wl_arch_from_string(a, strlen(a)));
    /* > 0: RMSNorm and LayerNorm divide by sqrt(mean + eps): a zero row
     * with eps <= 0 (or one below float's range) would divide by zero */
    if ((rc = wl__metadata_get_f32(g, a, eps_key, wl__metadata_positive, false, 0.0f, NULL,
                                   &c->norm_eps, err)) != 0)
        return rc;
    /* > 0: the frequencies are base^(-2i/rope_dim): a base of 0 makes them
     * infinite (NaN angles at position 0), a negative one NaN (a fractional
     * power), and every logit NaN */
    if ((rc = wl__metadata_get_f32(g, a, "rope.freq_base", wl__metadata_positive, true, 10000.0f,
                                   NULL, &c->rope_freq_base, err)) != 0)
        return rc;
    struct wl_rope_scaling rs;
    if ((rc = wl__rope_scaling_read(g, a, &rs, err)) != 0)
        return rc;
    c->rope_freq_scale = 1.0f / (float)rs.scale;

    /* vocabulary size from the embedding matrix (the metadata key is optional) */
    const struct wl_gguf_tensor *te = wl_gguf_find_tensor(g, "token_embd.weight");
    if (!te)
        return wl_errmsg_set(err, WL_EFORMAT, "tensor 'token_embd.weight' is missing");
    if (te->ne[1] == 0 || te->ne[1] > (1u << 30))
        return wl_errmsg_set(err, WL_EFORMAT, "tensor 'token_embd.weight' has a bad vocabulary size");
    c->vocab_size = (int32_t)te->ne[1];
    return 0;
}

/* The RoPE frequency factors a family bound (llama 3's rope_freqs, phi3's
 * LongRoPE pair) divide the frequencies: a factor of 0 makes them
 * infinite, a negative or non-finite one gives NaN or wrong angles, and
 * every logit NaN. Refused as the base is, naming the tensor and the index
 * (llama.cpp does not check them). */
static int check_rope_factors(const wl_model *m, struct wl_errmsg *err)
{
    const struct {
        const char *name;
        const float *f;
    } t[] = {
        {"rope_freqs.weight", m->weights.rope_freq_factors},
        {"rope_factors_long.weight", m->weights.rope_factors_long},
        {"rope_factors_short.weight", m->weights.rope_factors_short},
    };
    const int32_t half = m->config.rope_dim / 2;
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        for (int32_t i = 0; t[k].f && i < half; i++)
            if (!(t[k].f[i] > 0.0f) || !isfinite(t[k].f[i]))
                return wl_errmsg_set(err, WL_EFORMAT,
                                     "tensor '%s' has %g at index %d; RoPE frequency factors "
                                     "must be finite and > 0",
                                     t[k].name, (double)t[k].f[i], (int)i);
    return 0;
}

/* The vocabulary against the embedding table. llama.cpp refuses any
 * mismatch; a table padded past the vocabulary (as HF checkpoints pad to a
 * multiple of 64) is run here the way vLLM runs it: the padding rows' logits
 * are never sampled. A vocabulary larger than the table cannot be run. */
static int check_vocab_size(wl_model *m, struct wl_errmsg *err)
{
    const int32_t rows = m->config.vocab_size;
    enum wl_gguf_vtype et;
    uint64_t n = 0;
    m->n_vocab_tok = rows;
    if (wl_gguf_get_arr(m->gguf, "tokenizer.ggml.tokens", &et, &n) != 0 || n == 0)
        return 0; /* no vocabulary: ids are embedding rows */
    if (n > (uint64_t)rows)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "the vocabulary (tokenizer.ggml.tokens) has %llu tokens but "
                             "'token_embd.weight' only %d rows: ids from %d on have no embedding",
                             (unsigned long long)n, rows, rows);
    if (n < (uint64_t)rows) {
        m->n_vocab_tok = (int32_t)n;
        wl_log_warn("model",
                    "the vocabulary has %llu tokens but 'token_embd.weight' has %d rows; ids "
                    "%llu..%d are padding without text and are never sampled",
                    (unsigned long long)n, rows, (unsigned long long)n, rows - 1);
    }
    return 0;
}

static int read_vocab_meta(wl_model *m)
{
    const wl_gguf *g = m->gguf;
    int64_t v = -1;
    m->bos_id = -1;
    if (wl_gguf_get_i64(g, "tokenizer.ggml.bos_token_id", &v) == 0 && v >= 0 &&
        v < m->config.vocab_size)
        m->bos_id = (int32_t)v;
    bool add_bos = m->bos_id >= 0;
    bool b;
    if (wl_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b) == 0)
        add_bos = b && m->bos_id >= 0;
    m->add_bos = add_bos;
    add_eog(m, g, "tokenizer.ggml.eos_token_id");
    add_eog(m, g, "tokenizer.ggml.eot_token_id");
    add_eog(m, g, "tokenizer.ggml.eom_token_id");
    add_eog_by_text(m, g);
    return 0;
}

/* Tensors every family shares: embedding, final norm, output projection
 * (absent = tied to the embedding). */
static int bind_common(wl_model *m, struct wl_errmsg *err)
{
    struct wl_model_config *c = &m->config;
    struct wl_model_weights *w = &m->weights;
    int rc;
    if ((rc = wl__model_bind_matrix(m, "token_embd.weight", c->dim, c->vocab_size, false,
                                    &w->tok_embd, err)) != 0 ||
        (rc = wl__model_bind_vector(m, "output_norm.weight", c->dim, false, &w->output_norm,
                                    err)) != 0 ||
        (rc = wl__model_bind_matrix(m, "output.weight", c->dim, c->vocab_size, true, &w->output,
                                    err)) != 0)
        return rc;
    if (!w->output.data) {
        w->output = w->tok_embd;
        c->tied_output = true;
    }
    return 0;
}

/* llama.cpp creates the tensors an architecture has and refuses a file with
 * any other ("wrong number of tensors"): a tensor no part of the family
 * took would be left out of the arithmetic without a word, and the model
 * run would not be the one in the file. Names the first few. */
static int check_all_bound(const wl_model *m, struct wl_errmsg *err)
{
    enum { SHOW = 3 };
    const char *names[SHOW];
    uint64_t n_unused = 0;
    for (uint64_t i = 0; i < wl_gguf_n_tensors(m->gguf); i++) {
        if (m->tensor_bound[i])
            continue;
        if (n_unused < SHOW)
            names[n_unused] = wl_gguf_tensor(m->gguf, i)->name;
        n_unused++;
    }
    if (n_unused == 0)
        return 0;
    if (n_unused == 1)
        return wl_errmsg_set(err, WL_ENOTSUP,
                             "tensor '%s' is not used by the engine's %s family: the model "
                             "would run without it and compute something else",
                             names[0], m->family->arch);
    char list[WL_ERRMSG_SIZE];
    size_t len = 0;
    for (uint64_t k = 0; k < n_unused && k < SHOW && len < sizeof list; k++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", k ? ", " : "", names[k]);
    return wl_errmsg_set(err, WL_ENOTSUP,
                         "%llu tensors are not used by the engine's %s family (%s%s): the model "
                         "would run without them and compute something else",
                         (unsigned long long)n_unused, m->family->arch, list,
                         n_unused > SHOW ? ", ..." : "");
}

int wl_model_load_gguf(wl_gguf *g, wl_model **out, struct wl_errmsg *err)
{
    *out = NULL;
    wl_model *m = calloc(1, sizeof *m);
    if (!m)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    m->gguf = g;
    int rc;
    struct wl_gguf_str arch;
    char why[WL__METADATA_WHY_SIZE];
    /* a NUL byte is refused, not read as the name before it ("llama\0x"
     * would run as llama while `model info` calls it unknown) */
    rc = wl__metadata_name(g, "general.architecture", &arch, why, sizeof why);
    if (rc == WL_ENOENT) {
        rc = wl_errmsg_set(err, WL_EFORMAT, "metadata 'general.architecture' is missing");
        goto fail;
    }
    if (rc != 0) {
        rc = wl_errmsg_set(err, WL_EFORMAT, "metadata 'general.architecture' %s", why);
        goto fail;
    }
    if (arch.len == 0 || arch.len >= sizeof m->config.arch) {
        rc = wl_errmsg_set(err, WL_EFORMAT, "bad 'general.architecture'");
        goto fail;
    }
    memcpy(m->config.arch, arch.data, arch.len);
    m->config.arch[arch.len] = '\0';
    m->family = wl__family_find(m->config.arch);
    if (!m->family) {
        rc = wl_errmsg_set(err, WL_ENOTSUP, "architecture '%s' is not supported by the engine",
                           m->config.arch);
        goto fail;
    }
    if ((rc = read_config(m, err)) != 0)
        goto fail;
    if ((rc = check_vocab_size(m, err)) != 0 || (rc = read_vocab_meta(m)) != 0)
        goto fail;
    m->weights.layers = calloc((size_t)m->config.n_layer, sizeof *m->weights.layers);
    if (!m->weights.layers) {
        rc = wl_errmsg_set(err, WL_ENOMEM, "out of memory");
        goto fail;
    }
    m->tensor_bound = calloc(wl_gguf_n_tensors(g) + 1, sizeof *m->tensor_bound);
    if (!m->tensor_bound) {
        rc = wl_errmsg_set(err, WL_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = bind_common(m, err)) != 0 || (rc = m->family->load(m, err)) != 0 ||
        (rc = check_all_bound(m, err)) != 0 || (rc = check_rope_factors(m, err)) != 0)
        goto fail;
    free(m->tensor_bound);
    m->tensor_bound = NULL;
    if (m->realigned_tensors > 0)
        wl_log_warn("model",
                    "%llu tensors (%.1f MiB) are not aligned in memory for the kernels "
                    "(general.alignment = %llu): copied to aligned memory at load; a copy "
                    "written by 'wattlens model quantize IN OUT --type T' (alignment 32) "
                    "loads in place",
                    (unsigned long long)m->realigned_tensors,
                    (double)m->realigned_bytes / (1024.0 * 1024.0),
                    (unsigned long long)wl_gguf_alignment(g));
    const struct wl_weight *emb = &m->weights.tok_embd;
    m->decode_bytes = m->weight_bytes + emb->row_bytes -
                      (m->config.tied_output ? 0 : wl_weight_bytes(emb));
    m->owns_gguf = true; /* as model.h says: g is the model's from here on */
    *out = m;
    return 0;
fail:
    m->gguf = NULL; /* not owned on failure */
    wl_model_free(m);
    return rc;
}

int wl_model_load(const char *path, wl_model **out, struct wl_errmsg *err)
{
    wl_gguf *g = NULL;
    int rc = wl_gguf_open(path, &g, err);
    if (rc != 0)
        return rc;
    rc = wl_model_load_gguf(g, out, err);
    if (rc != 0) {
        wl_gguf_close(g);
        return wl_errmsg_prefix(err, rc, path); /* as wl_gguf_open's messages */
    }
    return 0;
}

int wl_model_weight_pages(const wl_model *m, uint64_t *resident, uint64_t *huge)
{
    if (!m || !resident || !huge)
        return WL_EINVAL;
    const void *map = m->gguf ? wl_gguf_mapping(m->gguf) : NULL;
    if (!map)
        return WL_ENOTSUP;
    int rc = wl_hugepage_mapped_bytes(map, resident, huge);
    return rc == 0 ? 0 : WL_ENOTSUP;
}

void wl_model_free(wl_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m->tensor_bound);
    free(m->weights.layers);
    if (m->owns_gguf)
        wl_gguf_close(m->gguf);
    free(m);
}

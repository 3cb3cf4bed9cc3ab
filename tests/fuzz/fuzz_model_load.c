/* Fuzz target: a model file's metadata and tensor shapes into engine state,
 * the parser after the container (fuzz_gguf covers that): the features
 * `model info` shows (wl_model_features_from_gguf,
 * wl_model_kv_bytes_per_token, engine/arch.c), the loader's checks
 * (wl_model_load_gguf, engine/model.c and the families' load functions)
 * and, when it loads, one or two tokens through the forward pass
 * single-threaded, which trusts all of it. The file is written by the
 * project's GGUF writer from the input, so that nearly every input is a
 * well-formed file:
 *   byte 0: bits 0-2 general.architecture: llama, qwen2, phi3, gemma,
 *           gemma2, stablelm, mistral, or none (7: a record may set it);
 *           bit 3 tensor data as raw pseudo-random bytes (any bits: NaN,
 *           infinities, any block scale) instead of values of the size a
 *           trained model has, quantized to the tensor's type; bits 4-5 the
 *           evaluation: none, one decode, a prefill of 2 tokens, two
 *           decodes; bit 6 an F32 KV cache (else F16); bit 7 the file at an
 *           odd address (tensors the loader must copy to aligned memory);
 *   bytes 1-2: the two token ids (modulo the vocabulary) and the data seed;
 *   then records to the end, each an op byte (low 2 bits):
 *     0 set a key: key, value;  1 remove a key: key;
 *     2 add a tensor: name, type byte (any ggml type id, unknown ones
 *       too), n_dims byte (mod 5), n_dims dimensions as u32 LE;
 *     3 drop the tensor added so far under that name;
 *   a key is a mode byte (bit 0: prefixed with "<architecture>.", the
 *   byte 0 one, llama for none), a length byte and its bytes; a name a
 *   length byte and its bytes; a value a type byte (mod 13), then a scalar's
 *   little-endian bytes (a BOOL one byte & 1), a string's length byte and
 *   bytes, or an array's element type byte (an array of arrays holds
 *   INT32s), a u16 LE count and the elements, strings each with a length
 *   byte. A value, key or tensor the writer refuses is skipped.
 * The seeds (tests/fuzz/corpus/fuzz_model_load/synth-*) are `wattlens model
 * synth` files of every family and several types in this form, written by
 * tests/data/gen_model_load_corpus.py.
 * Bounded per input: at most 2^19 tensor elements in all (larger tensors
 * are skipped) and MAX_TENSORS tensors, so the loader refuses a larger
 * block_count before it allocates its per-layer table.
 * Checks, trapping on failure: the file opens; the features succeed or
 * fail with WL_EFORMAT and a message, and then the loader refuses too;
 * KV bytes per token (F16, F32, Q8_0) are exactly 2 * layers * KV heads *
 * head dim elements, WL_EINVAL without a dimension or with a row that is
 * not whole blocks, WL_ERANGE when that does not fit in 64 bits; a refused
 * load gives a code and a message (but for WL_ENOMEM); a loaded model is
 * what the features say (architecture, layers, sizes, heads, head and rope
 * dims, epsilon, rope base and scale, tied output, parameters and bytes,
 * no "the engine refuses" warning), its special ids are in range, its
 * context's KV cache is n_ctx times the KV bytes per token, and evaluating
 * its tokens succeeds and leaves logits.
 * Logs warnings (vocabulary padding, copied tensors): run with
 * -close_fd_mask=2.
 */
#include "engine/arch.h"
#include "engine/context.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "engine/quant.h"
#include "engine/tensor_type.h"

#include "wattlens/error.h"

#include "fuzz_input.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_ELEMENTS (1u << 19) /* all tensors of one input */
#define MAX_TENSORS 1024
#define N_CTX 4

static uint32_t take_u32(struct wl_fuzz_input *in)
{
    uint8_t b[4];
    wl_fuzz_take_into(in, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static const char *const archs[7] = {"llama",  "qwen2",    "phi3",   "gemma",
                                     "gemma2", "stablelm", "mistral"};

/* A key or name into buf (NUL-terminated; it may hold NULs, which the
 * writer refuses). */
static void take_key(struct wl_fuzz_input *in, const char *arch, char *buf, size_t cap)
{
    const bool prefixed = wl_fuzz_take_u8(in) & 1;
    size_t len;
    const uint8_t *s = wl_fuzz_take_bytes(in, wl_fuzz_take_u8(in), &len);
    int k = prefixed ? snprintf(buf, cap, "%s.", arch) : 0;
    memcpy(buf + k, s, len);
    buf[k + len] = '\0';
}

static void take_name(struct wl_fuzz_input *in, char *buf)
{
    size_t len;
    const uint8_t *s = wl_fuzz_take_bytes(in, wl_fuzz_take_u8(in), &len);
    memcpy(buf, s, len);
    buf[len] = '\0';
}

/* One value, serialized as in a GGUF file, set under key (or skipped). */
static void set_value(wl_gguf_writer *w, const char *key, struct wl_fuzz_input *in)
{
    const enum wl_gguf_vtype t = (enum wl_gguf_vtype)(wl_fuzz_take_u8(in) % WL_GGUF_VTYPE_COUNT);
    if (t == WL_GGUF_STRING) {
        size_t len;
        const uint8_t *s = wl_fuzz_take_bytes(in, wl_fuzz_take_u8(in), &len);
        (void)wl_gguf_writer_set_strn(w, key, (const char *)s, len);
        return;
    }
    if (t != WL_GGUF_ARRAY) {
        uint8_t v[8];
        wl_fuzz_take_into(in, v, wl_gguf_vtype_size(t));
        if (t == WL_GGUF_BOOL)
            v[0] &= 1;
        (void)wl_gguf_writer_set_raw(w, key, t, v, wl_gguf_vtype_size(t));
        return;
    }
    enum wl_gguf_vtype et = (enum wl_gguf_vtype)(wl_fuzz_take_u8(in) % WL_GGUF_VTYPE_COUNT);
    const uint32_t n = (uint32_t)wl_fuzz_take_u8(in) | (uint32_t)wl_fuzz_take_u8(in) << 8;
    if (et == WL_GGUF_STRING) {
        struct wl_gguf_str *items = malloc((n ? n : 1) * sizeof *items);
        CHECK(items != NULL);
        for (uint32_t i = 0; i < n; i++) {
            size_t len;
            items[i].data = (const char *)wl_fuzz_take_bytes(in, wl_fuzz_take_u8(in), &len);
            items[i].len = len;
        }
        (void)wl_gguf_writer_set_arr_str(w, key, items, n);
        free(items);
        return;
    }
    /* element type, count, elements; an array of arrays holds INT32s */
    const uint32_t es = et == WL_GGUF_ARRAY ? 12 + 4 : wl_gguf_vtype_size(et);
    uint8_t *raw = malloc(12 + (size_t)n * es);
    CHECK(raw != NULL);
    size_t len = 12;
    const uint64_t n64 = n;
    memcpy(raw, &et, 4); /* the reader reads little-endian: so does this host */
    memcpy(raw + 4, &n64, 8);
    for (uint32_t i = 0; i < n; i++) {
        if (et == WL_GGUF_ARRAY) {
            const uint32_t it = WL_GGUF_INT32;
            const uint64_t one = 1;
            memcpy(raw + len, &it, 4);
            memcpy(raw + len + 4, &one, 8);
            wl_fuzz_take_into(in, raw + len + 12, 4);
        } else {
            wl_fuzz_take_into(in, raw + len, es);
            if (et == WL_GGUF_BOOL)
                raw[len] &= 1;
        }
        len += es;
    }
    (void)wl_gguf_writer_set_raw(w, key, WL_GGUF_ARRAY, raw, len);
    free(raw);
}

struct tensor {
    char name[256];
    enum wl_ttype type;
    uint32_t n_dims;
    uint64_t ne[WL_GGUF_MAX_DIMS];
    uint64_t n_elements;
    bool dropped;
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The tensor's bytes (malloc'd, *n_bytes of them), or NULL when the type
 * and shape have no byte size (the writer would refuse the tensor). Values
 * uniform in +-sqrt(3 / row length), quantized to the type, or (raw, or a
 * type this engine cannot quantize) pseudo-random bytes. */
static void *tensor_data(const struct tensor *t, uint64_t seed, bool raw, uint64_t *n_bytes)
{
    if (!wl_ttype_is_known(t->type) || wl_ttype_bytes(t->type, t->n_elements, n_bytes) != 0)
        return NULL;
    uint8_t *data = malloc(*n_bytes ? *n_bytes : 1);
    CHECK(data != NULL);
    uint64_t s = seed;
    const uint64_t ne0 = t->n_dims ? t->ne[0] : 1;
    if (raw || !wl_quant_is_supported(t->type) || ne0 == 0 ||
        t->n_elements % wl_ttype_block_elems(t->type) != 0) {
        for (uint64_t i = 0; i < *n_bytes; i += 8) {
            uint64_t r = splitmix(&s);
            memcpy(data + i, &r, *n_bytes - i < 8 ? *n_bytes - i : 8);
        }
        return data;
    }
    float *x = malloc((t->n_elements ? t->n_elements : 1) * sizeof *x);
    CHECK(x != NULL);
    const double scale = sqrt(3.0 / (double)ne0);
    for (uint64_t i = 0; i < t->n_elements; i++)
        x[i] = (float)(((double)(splitmix(&s) >> 11) * 0x1p-53 * 2.0 - 1.0) * scale);
    if (t->n_elements)
        CHECK(wl_quantize_row(t->type, x, data, (int64_t)t->n_elements) == 0);
    free(x);
    return data;
}

/* The file from the input, into *file (malloc'd, *size bytes). */
static void build_file(struct wl_fuzz_input *in, uint8_t h, uint64_t seed, void **file,
                       size_t *size)
{
    const char *arch = (h & 7) < 7 ? archs[h & 7] : "llama";
    wl_gguf_writer *w = NULL;
    CHECK(wl_gguf_writer_new(&w) == 0);
    if ((h & 7) < 7)
        CHECK(wl_gguf_writer_set_str(w, "general.architecture", arch) == 0);
    static struct tensor tensors[MAX_TENSORS];
    size_t n_t = 0;
    uint64_t total = 0;
    char key[64 + 256];
    while (in->n > 0) {
        switch (wl_fuzz_take_u8(in) & 3) {
        case 0:
            take_key(in, arch, key, sizeof key);
            set_value(w, key, in);
            break;
        case 1:
            take_key(in, arch, key, sizeof key);
            (void)wl_gguf_writer_remove(w, key);
            break;
        case 2: {
            struct tensor t = {0};
            take_name(in, t.name);
            t.type = (enum wl_ttype)wl_fuzz_take_u8(in);
            t.n_dims = wl_fuzz_take_u8(in) % (WL_GGUF_MAX_DIMS + 1);
            uint64_t n = 1;
            bool fits = true;
            for (uint32_t d = 0; d < t.n_dims; d++) {
                t.ne[d] = take_u32(in);
                fits = fits && !__builtin_mul_overflow(n, t.ne[d], &n);
            }
            t.n_elements = n;
            /* bounded work: the 0-element tensors of any shape, and the
             * others while they fit in the budget */
            if (fits && (n == 0 || (n <= MAX_ELEMENTS - total)) && n_t < MAX_TENSORS) {
                total += n;
                tensors[n_t++] = t;
            }
            break;
        }
        default:
            take_name(in, key);
            for (size_t i = 0; i < n_t; i++)
                if (strcmp(tensors[i].name, key) == 0)
                    tensors[i].dropped = true;
            break;
        }
    }
    for (size_t i = 0; i < n_t; i++) {
        const struct tensor *t = &tensors[i];
        uint64_t n_bytes = 0;
        void *data =
            t->dropped ? NULL : tensor_data(t, seed + i * 0x100000001b3ull, h & 8, &n_bytes);
        if (data) /* owned by the writer, even when refused (a duplicate name, ...) */
            (void)wl_gguf_writer_add_tensor_owned(w, t->name, t->type, t->n_dims, t->ne, data,
                                                  n_bytes);
    }
    CHECK(wl_gguf_writer_to_memory(w, file, size) == 0);
    wl_gguf_writer_free(w);
}

/* KV bytes per token of one cache type, against the harness's own product. */
static void check_kv_bytes(const struct wl_model_features *f, enum wl_ttype type)
{
    uint64_t got = 12345;
    const int rc = wl_model_kv_bytes_per_token(f, type, &got);
    const unsigned __int128 row = (unsigned __int128)f->n_kv_heads * f->head_dim;
    const uint32_t be = wl_ttype_block_elems(type), bb = wl_ttype_block_bytes(type);
    if (!f->n_layers || !row || row % be != 0) {
        CHECK(rc == WL_EINVAL && got == 12345);
        return;
    }
    const unsigned __int128 want = 2 * (unsigned __int128)f->n_layers * (row / be) * bb;
    if (want > UINT64_MAX) {
        CHECK(rc == WL_ERANGE && got == 12345);
        return;
    }
    CHECK(rc == 0 && got == (uint64_t)want);
}

/* A loaded model is what the features of its file say. */
static void check_model(const wl_model *m, const struct wl_model_features *f)
{
    const struct wl_model_config *c = &m->config;
    CHECK(f->arch == wl_arch_from_string(c->arch, strlen(c->arch)) && !f->arch_inferred);
    CHECK(f->n_layers == (uint32_t)c->n_layer && f->hidden_size == (uint32_t)c->dim);
    CHECK(f->intermediate_size == (uint32_t)c->ffn_dim && f->n_heads == (uint32_t)c->n_head);
    CHECK(f->n_kv_heads == (uint32_t)c->n_head_kv && f->head_dim == (uint32_t)c->head_dim);
    CHECK(f->rope_dim == (uint32_t)c->rope_dim);
    CHECK((float)f->norm_eps == c->norm_eps && c->norm_eps > 0.0f);
    CHECK((float)f->rope_freq_base == c->rope_freq_base);
    CHECK(!f->rope_scaling.refused && 1.0f / (float)f->rope_scaling.scale == c->rope_freq_scale);
    CHECK(f->tied_embeddings == c->tied_output);
    CHECK(f->n_params == m->n_params && f->tensor_bytes == m->weight_bytes);
    CHECK(strstr(f->warning, "the engine refuses") == NULL);
    /* the loader requires the key, so the features read it too */
    CHECK(f->context_length == (uint32_t)c->n_ctx_train);
    CHECK(c->vocab_size > 0 && m->n_vocab_tok > 0 && m->n_vocab_tok <= c->vocab_size);
    CHECK(m->bos_id >= -1 && m->bos_id < c->vocab_size);
    CHECK(m->n_eog >= 0 && m->n_eog <= 8);
    for (int32_t i = 0; i < m->n_eog; i++)
        CHECK(m->eog_ids[i] >= 0 && m->eog_ids[i] < c->vocab_size);
}

/* One or two tokens through a context of N_CTX positions, one thread. */
static void evaluate(const wl_model *m, const struct wl_model_features *f, unsigned mode,
                     enum wl_ttype kv_type, const int32_t tok[2])
{
    struct wl_context_params p = wl_context_default_params();
    p.n_ctx = N_CTX;
    p.n_threads = 1;
    p.kv_type = kv_type;
    wl_context *ctx = NULL;
    struct wl_errmsg err;
    int rc = wl_context_create(m, &p, &ctx, &err);
    if (rc == WL_ENOMEM)
        return;
    CHECK(rc == 0 && ctx != NULL);
    uint64_t per_token;
    CHECK(wl_model_kv_bytes_per_token(f, kv_type, &per_token) == 0);
    CHECK(wl_context_kv_bytes(ctx) == N_CTX * per_token);
    if (mode == 2) {
        CHECK(wl_context_prefill(ctx, tok, 2, &err) == 0);
    } else {
        for (unsigned i = 0; i < (mode == 1 ? 1u : 2u); i++)
            CHECK(wl_context_decode(ctx, tok[i], &err) == 0);
    }
    CHECK(wl_context_logits(ctx) != NULL);
    CHECK(wl_context_n_past(ctx) == (mode == 1 ? 1 : 2));
    wl_context_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    struct wl_fuzz_input in = {data, size};
    const uint8_t h = wl_fuzz_take_u8(&in);
    const uint8_t t0 = wl_fuzz_take_u8(&in), t1 = wl_fuzz_take_u8(&in);
    void *file = NULL;
    size_t file_size = 0;
    build_file(&in, h, (uint64_t)t0 << 8 | t1, &file, &file_size);

    /* the file at an odd address, or 64-byte aligned */
    const size_t off = (h & 0x80) ? 1 : 0;
    uint8_t *buf = aligned_alloc(64, (file_size + off) / 64 * 64 + 64);
    CHECK(buf != NULL);
    memcpy(buf + off, file, file_size);
    free(file);
    wl_gguf *g = NULL;
    struct wl_errmsg err;
    CHECK(wl_gguf_open_memory(buf + off, file_size, &g, &err) == 0);

    struct wl_model_features f;
    const int frc = wl_model_features_from_gguf(g, &f, &err);
    if (frc != 0) {
        CHECK(frc == WL_EFORMAT && err.text[0] != '\0');
    } else {
        check_kv_bytes(&f, WL_TTYPE_F16);
        check_kv_bytes(&f, WL_TTYPE_F32);
        check_kv_bytes(&f, WL_TTYPE_Q8_0);
    }
    wl_model *m = (wl_model *)buf; /* must be reset on failure */
    err.text[0] = '\0';
    const int rc = wl_model_load_gguf(g, &m, &err);
    if (rc != 0) {
        CHECK(rc < 0 && m == NULL && (err.text[0] != '\0' || rc == WL_ENOMEM));
        wl_gguf_close(g);
        free(buf);
        return 0;
    }
    CHECK(frc == 0); /* a file the features refuse does not load */
    check_model(m, &f);
    const unsigned mode = (h >> 4) & 3;
    if (mode) {
        const int32_t tok[2] = {t0 % m->config.vocab_size, t1 % m->config.vocab_size};
        evaluate(m, &f, mode, (h & 0x40) ? WL_TTYPE_F32 : WL_TTYPE_F16, tok);
    }
    wl_model_free(m); /* closes g */
    free(buf);
    return 0;
}

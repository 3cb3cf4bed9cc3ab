/* Architecture detection and model features; see arch.h.
 * Hyperparameters come from "<arch>.*" metadata keys (the prefix is the
 * general.architecture string as written, so unknown architectures still
 * read their own keys); what is missing is derived from tensor shapes and
 * said so in the warning. Parameter counts always come from tensor shapes. */
#include "engine/arch.h"

#include "util/utf8.h"
#include "wattlens/error.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const wl_arch_names[WL_ARCH_COUNT] = {
    [WL_ARCH_UNKNOWN] = "unknown",   [WL_ARCH_LLAMA] = "llama", [WL_ARCH_QWEN2] = "qwen2",
    [WL_ARCH_PHI3] = "phi3",         [WL_ARCH_GEMMA] = "gemma", [WL_ARCH_GEMMA2] = "gemma2",
    [WL_ARCH_STABLELM] = "stablelm",
};

const char *wl_arch_name(enum wl_arch a)
{
    return (unsigned)a < WL_ARCH_COUNT ? wl_arch_names[a] : "unknown";
}

enum wl_arch wl_arch_from_string(const char *s, uint64_t len)
{
    /* Architectures that are llama-shaped (same tensors and keys) map to llama. */
    static const struct {
        const char *name;
        enum wl_arch arch;
    } map[] = {
        {"llama", WL_ARCH_LLAMA},       {"mistral", WL_ARCH_LLAMA}, {"qwen2", WL_ARCH_QWEN2},
        {"phi3", WL_ARCH_PHI3},         {"gemma", WL_ARCH_GEMMA},   {"gemma2", WL_ARCH_GEMMA2},
        {"stablelm", WL_ARCH_STABLELM},
    };
    if (!s)
        return WL_ARCH_UNKNOWN;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strlen(map[i].name) == len && memcmp(map[i].name, s, len) == 0)
            return map[i].arch;
    }
    return WL_ARCH_UNKNOWN;
}

const char *wl_attention_name(enum wl_attention a)
{
    switch (a) {
    case WL_ATTN_MHA:
        return "MHA";
    case WL_ATTN_GQA:
        return "GQA";
    case WL_ATTN_MQA:
        return "MQA";
    default:
        return "unknown";
    }
}

/* ---- tensor names -------------------------------------------------------------- */

enum wl__tclass { WL__T_EMB, WL__T_OUTPUT, WL__T_ATTN, WL__T_FFN, WL__T_NORM, WL__T_OTHER };

/* Parses "blk.N.rest": returns rest and sets *layer, or NULL. */
static const char *wl__blk(const char *name, uint32_t *layer)
{
    if (strncmp(name, "blk.", 4) != 0)
        return NULL;
    const char *p = name + 4;
    uint64_t n = 0;
    if (*p < '0' || *p > '9')
        return NULL;
    while (*p >= '0' && *p <= '9') {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > UINT32_MAX - 1)
            return NULL;
        p++;
    }
    if (*p != '.')
        return NULL;
    *layer = (uint32_t)n;
    return p + 1;
}

static enum wl__tclass wl__classify(const char *name)
{
    uint32_t layer;
    const char *rest = wl__blk(name, &layer);
    if (strstr(name, "norm"))
        return WL__T_NORM;
    if (rest) {
        if (strncmp(rest, "attn_", 5) == 0)
            return WL__T_ATTN;
        if (strncmp(rest, "ffn_", 4) == 0)
            return WL__T_FFN;
        return WL__T_OTHER;
    }
    if (strncmp(name, "token_embd.", 11) == 0)
        return WL__T_EMB;
    if (strncmp(name, "output.", 7) == 0)
        return WL__T_OUTPUT;
    return WL__T_OTHER;
}

static bool wl__has(const wl_gguf *g, const char *name)
{
    return wl_gguf_find_tensor(g, name) != NULL;
}

/* Infers the architecture from layer-0 tensor names; *why says which. */
static enum wl_arch wl__infer_arch(const wl_gguf *g, const char **why)
{
    if (wl__has(g, "blk.0.post_ffw_norm.weight")) {
        *why = "post_ffw_norm tensors (gemma2)";
        return WL_ARCH_GEMMA2;
    }
    if (wl__has(g, "blk.0.attn_qkv.weight") && !wl__has(g, "blk.0.ffn_gate.weight")) {
        *why = "fused attn_qkv and gate+up in ffn_up (phi3)";
        return WL_ARCH_PHI3;
    }
    if (wl__has(g, "blk.0.attn_q.bias") && wl__has(g, "blk.0.ffn_gate.weight")) {
        *why = "q/k/v biases with a gated FFN (qwen2)";
        return WL_ARCH_QWEN2;
    }
    if (wl__has(g, "blk.0.attn_norm.bias") && wl__has(g, "blk.0.attn_q.weight")) {
        *why = "LayerNorm with bias (stablelm)";
        return WL_ARCH_STABLELM;
    }
    if (wl__has(g, "blk.0.attn_q.weight") &&
        (wl__has(g, "blk.0.ffn_gate.weight") || wl__has(g, "blk.0.ffn_gate_exps.weight"))) {
        *why = "separate q/k/v, RMSNorm, gated FFN (llama-shaped)";
        return WL_ARCH_LLAMA;
    }
    *why = "no known tensor layout";
    return WL_ARCH_UNKNOWN;
}

/* ---- metadata helpers ---------------------------------------------------------- */

/* Reads "<prefix>.<suffix>" as a uint32; a per-layer array gives element 0.
 * Returns 0 when found. */
static int wl__get_u32(const wl_gguf *g, const char *prefix, const char *suffix, uint32_t *out)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", prefix, suffix);
    uint64_t v;
    int rc = wl_gguf_get_u64(g, key, &v);
    if (rc == WL_EINVAL) {
        int64_t e;
        rc = wl_gguf_get_arr_i64(g, key, 0, &e);
        if (rc == 0 && e < 0)
            rc = WL_ERANGE;
        v = (uint64_t)e;
    }
    if (rc)
        return rc;
    if (v > UINT32_MAX)
        return WL_ERANGE;
    *out = (uint32_t)v;
    return 0;
}

static int wl__get_f64(const wl_gguf *g, const char *prefix, const char *suffix, double *out)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", prefix, suffix);
    return wl_gguf_get_f64(g, key, out);
}

/* The type of key's value as the file names it ("STRING"). */
static const char *wl__kv_type_name(const wl_gguf *g, const char *key)
{
    const int64_t i = wl_gguf_find_kv(g, key);
    return wl_gguf_vtype_name(i < 0 ? WL_GGUF_VTYPE_COUNT : wl_gguf_kv_type(g, (uint64_t)i));
}

int wl__metadata_int(const wl_gguf *g, const char *key, int64_t *out, char *why, size_t size)
{
    why[0] = '\0';
    const int rc = wl_gguf_get_i64(g, key, out);
    if (rc == 0 || rc == WL_ENOENT)
        return rc;
    uint64_t u;
    double d = 0.0;
    if (rc != WL_ERANGE)
        snprintf(why, size, "has type %s, not an integer", wl__kv_type_name(g, key));
    else if (wl_gguf_get_u64(g, key, &u) == 0) /* above INT64_MAX */
        snprintf(why, size, "= %" PRIu64 " is out of range", u);
    else if (wl_gguf_get_f64(g, key, &d) == 0 && (isinf(d) || d == floor(d)))
        snprintf(why, size, "= %g is out of range", d);
    else
        snprintf(why, size, "= %g is not a whole number", d);
    return WL_EFORMAT;
}

int wl__metadata_num(const wl_gguf *g, const char *key, double *out, char *why, size_t size)
{
    why[0] = '\0';
    const int rc = wl_gguf_get_f64(g, key, out);
    if (rc == WL_ENOENT)
        return rc;
    if (rc != 0)
        snprintf(why, size, "has type %s, not a number", wl__kv_type_name(g, key));
    else if (!isfinite(*out))
        snprintf(why, size, "= %g is not a finite number", *out);
    else
        return 0;
    return WL_EFORMAT;
}

int wl__metadata_name(const wl_gguf *g, const char *key, struct wl_gguf_str *out, char *why,
                      size_t size)
{
    why[0] = '\0';
    const int rc = wl_gguf_get_str(g, key, out);
    if (rc == WL_ENOENT)
        return rc;
    if (rc != 0) {
        snprintf(why, size, "has type %s, not a string", wl__kv_type_name(g, key));
        return WL_EFORMAT;
    }
    const char *nul = memchr(out->data, '\0', (size_t)out->len);
    if (nul) {
        snprintf(why, size, "holds a NUL byte (at offset %zu of its %" PRIu64 " bytes)",
                 (size_t)(nul - out->data), out->len);
        return WL_EFORMAT;
    }
    return 0;
}

int wl__metadata_count_check(int64_t v, char *why, size_t size)
{
    why[0] = '\0';
    if (v >= 1 && v <= (1 << 30))
        return 0;
    snprintf(why, size, "= %lld is out of range", (long long)v);
    return WL_EFORMAT;
}

int wl__metadata_count(const wl_gguf *g, const char *key, int64_t *out, char *why, size_t size)
{
    const int rc = wl__metadata_int(g, key, out, why, size);
    return rc != 0 ? rc : wl__metadata_count_check(*out, why, size);
}

int wl__metadata_positive(const wl_gguf *g, const char *key, double *out, char *why, size_t size)
{
    const int rc = wl__metadata_num(g, key, out, why, size);
    if (rc != 0 || (float)*out > 0.0f)
        return rc;
    snprintf(why, size, "= %g must be > 0", (double)(float)*out);
    return WL_EFORMAT;
}

int wl__metadata_get_i32(const wl_gguf *g, const char *prefix, const char *suffix, bool optional,
                         int32_t def, int32_t *out, struct wl_errmsg *err)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", prefix, suffix);
    int64_t v = 0;
    char why[WL__METADATA_WHY_SIZE];
    const int rc = wl__metadata_count(g, key, &v, why, sizeof why);
    if (rc == WL_ENOENT && optional) {
        *out = def;
        return 0;
    }
    if (rc == WL_ENOENT)
        return wl_errmsg_set(err, WL_EFORMAT, "metadata '%s' is missing", key);
    if (rc != 0) /* another type, a value no int64 holds, or not a count: say which */
        return wl_errmsg_set(err, WL_EFORMAT, "metadata '%s' %s", key, why);
    *out = (int32_t)v;
    return 0;
}

int wl__metadata_get_f32(const wl_gguf *g, const char *prefix, const char *suffix,
                         wl__metadata_num_fn read, bool optional, float def,
                         const struct wl__metadata_range *range, float *out, struct wl_errmsg *err)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", prefix, suffix);
    double v = 0;
    char why[WL__METADATA_WHY_SIZE];
    const int rc = read(g, key, &v, why, sizeof why);
    if (rc == WL_ENOENT && optional) {
        *out = def;
        return 0;
    }
    if (rc == WL_ENOENT)
        return wl_errmsg_set(err, WL_EFORMAT, "metadata '%s' is missing", key);
    if (rc != 0)
        return wl_errmsg_set(err, WL_EFORMAT, "metadata '%s' %s", key, why);
    const double f = (double)(float)v; /* inf past float's range */
    if (range && (!(range->lo_closed ? f >= range->lo : f > range->lo) || !(f <= range->hi)))
        return wl_errmsg_set(err, WL_EFORMAT, "metadata '%s' = %g must be %s", key, v,
                             range->words);
    *out = (float)f;
    return 0;
}

int wl__metadata_layers_fit(int64_t n_layer, uint64_t n_tensors, char *why, size_t size)
{
    why[0] = '\0';
    if ((uint64_t)n_layer <= n_tensors)
        return 0;
    snprintf(why, size,
             "= %lld but the file has only %llu tensor%s (every layer needs several)",
             (long long)n_layer, (unsigned long long)n_tensors, n_tensors == 1 ? "" : "s");
    return WL_EFORMAT;
}

int wl__metadata_grouping(int64_t n_head, int64_t n_head_kv, char *why, size_t size)
{
    why[0] = '\0';
    if (n_head_kv <= n_head && n_head % n_head_kv == 0)
        return 0;
    snprintf(why, size, "%lld heads cannot be grouped over %lld KV heads", (long long)n_head,
             (long long)n_head_kv);
    return WL_EFORMAT;
}

int wl__metadata_embd_fits(const wl_gguf *g, int64_t dim, char *why, size_t size)
{
    why[0] = '\0';
    const struct wl_gguf_tensor *t = wl_gguf_find_tensor(g, "token_embd.weight");
    if (!t || t->ne[0] == (uint64_t)dim)
        return 0;
    snprintf(why, size, "= %lld but tensor 'token_embd.weight' has rows of %llu values",
             (long long)dim, (unsigned long long)t->ne[0]);
    return WL_EFORMAT;
}

int wl__metadata_heads_divide(int64_t dim, int64_t n_head, char *why, size_t size)
{
    why[0] = '\0';
    if (dim % n_head == 0)
        return 0;
    snprintf(why, size, "embedding length %lld is not a multiple of %lld heads", (long long)dim,
             (long long)n_head);
    return WL_EFORMAT;
}

int wl__metadata_rope_fits(int64_t rope_dim, int64_t head_dim, char *why, size_t size)
{
    why[0] = '\0';
    /* the forward pass's RoPE turns pairs of each head's first rope_dim
     * values (forward_ops.c): an odd count would leave one value unturned
     * and a larger one turn values of the next head (the last head's past
     * the row) */
    if (rope_dim <= head_dim && rope_dim % 2 == 0)
        return 0;
    snprintf(why, size,
             "rope dimension %lld does not fit head dimension %lld (it must be even and at most "
             "the head dimension)",
             (long long)rope_dim, (long long)head_dim);
    return WL_EFORMAT;
}

const char *const wl__config_int_keys[WL__CONFIG_INT_COUNT] = {
    [WL__CONFIG_BLOCK_COUNT] = "block_count",
    [WL__CONFIG_EMBEDDING_LENGTH] = "embedding_length",
    [WL__CONFIG_FEED_FORWARD_LENGTH] = "feed_forward_length",
    [WL__CONFIG_HEAD_COUNT] = "attention.head_count",
    [WL__CONFIG_HEAD_COUNT_KV] = "attention.head_count_kv",
    [WL__CONFIG_KEY_LENGTH] = "attention.key_length",
    [WL__CONFIG_ROPE_DIMENSION_COUNT] = "rope.dimension_count",
    [WL__CONFIG_CONTEXT_LENGTH] = "context_length",
};

/* r refused: the engine cannot run it (scale NaN); returns rc. */
static int wl__rope_refuse(struct wl_rope_scaling *r, int rc)
{
    r->refused = true;
    r->scale = NAN;
    return rc;
}

int wl__rope_scaling_read(const wl_gguf *g, const char *prefix, struct wl_rope_scaling *r,
                          struct wl_errmsg *err)
{
    char key[256];
    *r = (struct wl_rope_scaling){.scale = 1.0, .factor = 1.0};
    char type_key[256], why[WL__METADATA_WHY_SIZE], type_why[WL__METADATA_WHY_SIZE];
    snprintf(type_key, sizeof type_key, "%s.rope.scaling.type", prefix);
    struct wl_gguf_str type;
    /* a type of another type (or with a NUL byte) is refused, as llama.cpp
     * refuses it: read as absent, the factor would apply as linear */
    const int type_rc = wl__metadata_name(g, type_key, &type, type_why, sizeof type_why);
    const bool have_type = type_rc == 0;
    r->type_none = have_type && type.len == 4 && memcmp(type.data, "none", 4) == 0;
    snprintf(key, sizeof key, "%s.rope.scaling.factor", prefix);
    int rc = wl__metadata_num(g, key, &r->factor, why, sizeof why);
    if (rc == WL_ENOENT) { /* the key's old name, which llama.cpp still reads */
        snprintf(key, sizeof key, "%s.rope.scale_linear", prefix);
        rc = wl__metadata_num(g, key, &r->factor, why, sizeof why);
    }
    /* a number that is not finite is in the file (and refused below); one
     * of another type is not, and leaves r->factor at 1 */
    r->in_file = rc == 0 || !isfinite(r->factor);
    if (rc != 0 && rc != WL_ENOENT) /* another type, or not finite: in wl__metadata_num's words */
        return wl__rope_refuse(r, wl_errmsg_set(err, WL_EFORMAT, "metadata '%s' %s", key, why));
    if (type_rc != 0 && type_rc != WL_ENOENT)
        return wl__rope_refuse(
            r, wl_errmsg_set(err, WL_EFORMAT, "metadata '%s' %s", type_key, type_why));
    if (have_type && !r->type_none && !(type.len == 6 && memcmp(type.data, "linear", 6) == 0))
        return wl__rope_refuse(r, wl_errmsg_set(err, WL_ENOTSUP,
                                                "RoPE scaling type '%.*s' is not supported",
                                                (int)type.len, type.data));
    /* the engine uses 1 / factor as a float: a factor so small that this is
     * infinite (a subnormal) would make every RoPE angle NaN */
    if (r->in_file && !r->type_none && (float)r->factor > 0.0f &&
        !isfinite(1.0f / (float)r->factor))
        return wl__rope_refuse(
            r, wl_errmsg_set(err, WL_EFORMAT,
                             "metadata '%s' (%g) is too small: 1/factor is not a finite float", key,
                             r->factor));
    /* > 0 as the engine's float: a factor that underflows it counts as 0 */
    if (r->in_file && (float)r->factor > 0.0f && !r->type_none)
        r->scale = r->factor;
    return 0;
}

int wl__family_meta_read(const wl_gguf *g, enum wl_arch a, const char *prefix, int32_t n_ctx_train,
                         struct wl__family_meta *m, struct wl_errmsg *err)
{
    *m = (struct wl__family_meta){.attn_softcap = 50.0f,
                                  .final_softcap = 30.0f,
                                  .sliding_window = 4096,
                                  .rope_attn_factor = 1.0f,
                                  .rope_n_ctx_orig = n_ctx_train};
    int rc;
    if (a == WL_ARCH_GEMMA2) {
        /* cap * tanh(x / cap): a negative cap flips the scores' order, an
         * infinite one gives inf * 0 */
        static const struct wl__metadata_range softcap = {
            0.0, true, FLT_MAX, "a finite float >= 0 (0 turns the soft-cap off)"};
        if ((rc = wl__metadata_get_f32(g, prefix, "attn_logit_softcapping", wl__metadata_num, true,
                                       50.0f, &softcap, &m->attn_softcap, err)) != 0 ||
            (rc = wl__metadata_get_f32(g, prefix, "final_logit_softcapping", wl__metadata_num, true,
                                       30.0f, &softcap, &m->final_softcap, err)) != 0)
            return rc;
        return wl__metadata_get_i32(g, prefix, "attention.sliding_window", true, 4096,
                                    &m->sliding_window, err);
    }
    if (a != WL_ARCH_PHI3)
        return 0;
    char words[160];
    snprintf(words, sizeof words,
             "in (0, %g] (it multiplies cos and sin, so each attention score by its square; "
             "LongRoPE's is about 1.0-1.2)",
             WL__ROPE_ATTN_FACTOR_MAX);
    const struct wl__metadata_range attn_factor = {0.0, false, WL__ROPE_ATTN_FACTOR_MAX, words};
    if ((rc = wl__metadata_get_f32(g, prefix, "rope.scaling.attn_factor", wl__metadata_num, true,
                                   1.0f, &attn_factor, &m->rope_attn_factor, err)) != 0 ||
        /* absent: the training context, as llama.cpp defaults n_ctx_orig_yarn */
        (rc = wl__metadata_get_i32(g, prefix, "rope.scaling.original_context_length", true,
                                   n_ctx_train, &m->rope_n_ctx_orig, err)) != 0)
        return rc;
    const bool has_long = wl__has(g, "rope_factors_long.weight"),
               has_short = wl__has(g, "rope_factors_short.weight");
    if (has_long != has_short)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "tensor '%s' is missing: phi3's LongRoPE factors come in pairs, and "
                             "the file has '%s'",
                             has_long ? "rope_factors_short.weight" : "rope_factors_long.weight",
                             has_long ? "rope_factors_long.weight" : "rope_factors_short.weight");
    return 0;
}

const char *wl__arch_norm_eps_key(enum wl_arch a)
{
    return a == WL_ARCH_STABLELM ? "attention.layer_norm_epsilon"
                                 : "attention.layer_norm_rms_epsilon";
}

static void wl__warn(struct wl_model_features *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one "; "-separated note to f->warning. When full, the note is cut
 * between characters and ends "..." (wl_utf8_vformat): the notes quote the
 * file's architecture string, which can be any text. */
static void wl__warn(struct wl_model_features *f, const char *fmt, ...)
{
    size_t n = strlen(f->warning);
    if (n + 3 >= sizeof f->warning)
        return;
    if (n)
        n += (size_t)snprintf(f->warning + n, sizeof f->warning - n, "; ");
    va_list ap;
    va_start(ap, fmt);
    wl_utf8_vformat(f->warning + n, sizeof f->warning - n, fmt, ap);
    va_end(ap);
}

/* The string value of key into dst (cap <= WL__COPY_MAX bytes), cut between
 * characters (a name is shown and stored as text: a cut inside a character
 * would leave bytes that were never in it). Control bytes and NULs become
 * '?', which keeps every character boundary where it was. */
#define WL__COPY_MAX 128
static void wl__copy_str(const wl_gguf *g, const char *key, char *dst, size_t cap)
{
    /* cap - 1 bytes and the 3 after them hold every character that starts
     * before the cut, which is all wl_utf8_copy looks at */
    char tmp[WL__COPY_MAX + 3];
    struct wl_gguf_str s;
    dst[0] = '\0';
    if (cap > WL__COPY_MAX || wl_gguf_get_str(g, key, &s) != 0)
        return;
    size_t n = s.len < sizeof tmp - 1 ? (size_t)s.len : sizeof tmp - 1;
    memcpy(tmp, s.data, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++) { /* keep it printable: no control bytes or NULs */
        if ((unsigned char)tmp[i] < 0x20 || tmp[i] == 0x7f)
            tmp[i] = '?';
    }
    wl_utf8_copy(dst, cap, tmp);
}
_Static_assert(sizeof((struct wl_model_features *)0)->name <= WL__COPY_MAX, "name fits");
_Static_assert(sizeof((struct wl_model_features *)0)->arch_string <= WL__COPY_MAX,
               "arch_string fits");

/* A note when the loader refuses key, whose value it cannot use (rc
 * WL_EFORMAT from a wl__metadata_* rule, why its words): in the loader's
 * words, "metadata 'K' <why>" (model.c). */
static void wl__note_refused(struct wl_model_features *f, const char *key, int rc, const char *why)
{
    if (rc == WL_EFORMAT)
        wl__warn(f, "the engine refuses this model: metadata '%s' %s", key, why);
}

/* ---- features -------------------------------------------------------------------- */

/* The loader's checks of the head shape (read_config in model.c), on the
 * features' head shape, which is derived as the loader derives it (the head
 * dimension: attention.key_length, else hidden_size / n_heads; the RoPE
 * dimension: rope.dimension_count, else the head dimension). A check runs
 * only where the loader reads its keys (cfg_rc 0; WL_ENOENT for the
 * defaulted ones): a key it refuses is left to that key's note, so nothing
 * is warned about twice. */
static void wl__note_shape(const wl_gguf *g, const char *prefix, struct wl_model_features *f,
                           const int *cfg_rc)
{
    char why[WL__METADATA_WHY_SIZE];
    if (cfg_rc[WL__CONFIG_EMBEDDING_LENGTH] != 0 || cfg_rc[WL__CONFIG_HEAD_COUNT] != 0)
        return;
    /* an embedding length the embeddings contradict is named first: the
     * head dimension derived from it would not be the model's, and the
     * checks on it would blame correct keys */
    const bool embd_fits = wl__metadata_embd_fits(g, f->hidden_size, why, sizeof why) == 0;
    if (!embd_fits)
        wl__warn(f, "the engine refuses this model: metadata '%s.%s' %s", prefix,
                 wl__config_int_keys[WL__CONFIG_EMBEDDING_LENGTH], why);
    const bool divides =
        embd_fits && wl__metadata_heads_divide(f->hidden_size, f->n_heads, why, sizeof why) == 0;
    if (embd_fits && !divides)
        wl__warn(f, "the engine refuses this model: %s", why);
    /* a defaulted head dimension is none when the heads do not divide the
     * embedding length (refused above) */
    const int key_rc = cfg_rc[WL__CONFIG_KEY_LENGTH],
              rope_rc = cfg_rc[WL__CONFIG_ROPE_DIMENSION_COUNT];
    const bool head_dim_read = key_rc == 0 || (key_rc == WL_ENOENT && divides);
    const bool rope_dim_read = rope_rc == 0 || rope_rc == WL_ENOENT;
    if (head_dim_read && rope_dim_read &&
        wl__metadata_rope_fits(f->rope_dim, f->head_dim, why, sizeof why) != 0)
        wl__warn(f, "the engine refuses this model: %s", why);
}

static void wl__count_params(const wl_gguf *g, struct wl_model_features *f, uint32_t *max_layer,
                             uint64_t *expert_params)
{
    *max_layer = 0;
    *expert_params = 0;
    bool any_layer = false;
    for (uint64_t i = 0; i < wl_gguf_n_tensors(g); i++) {
        const struct wl_gguf_tensor *t = wl_gguf_tensor(g, i);
        uint64_t n = t->n_elements;
        f->n_params += n;
        f->tensor_bytes += t->n_bytes;
        f->type_tensors[t->type]++;
        f->type_params[t->type] += n;
        f->type_bytes[t->type] += t->n_bytes;
        uint32_t layer;
        if (wl__blk(t->name, &layer)) {
            any_layer = true;
            if (layer > *max_layer)
                *max_layer = layer;
        }
        if (strstr(t->name, "_exps."))
            *expert_params += n;
        switch (wl__classify(t->name)) {
        case WL__T_EMB:
            f->n_params_embedding += n;
            break;
        case WL__T_OUTPUT:
            f->n_params_output += n;
            break;
        case WL__T_ATTN:
            f->n_params_attention += n;
            break;
        case WL__T_FFN:
            f->n_params_ffn += n;
            break;
        case WL__T_NORM:
            f->n_params_norm += n;
            break;
        default:
            f->n_params_other += n;
            break;
        }
    }
    if (any_layer)
        *max_layer += 1; /* now a count */
}

int wl_model_features_from_gguf(const wl_gguf *g, struct wl_model_features *f,
                                struct wl_errmsg *err)
{
    memset(f, 0, sizeof *f);
    wl_errmsg_clear(err);
    f->file_size = wl_gguf_file_size(g);
    f->n_tensors = wl_gguf_n_tensors(g);
    wl__copy_str(g, "general.architecture", f->arch_string, sizeof f->arch_string);
    wl__copy_str(g, "general.name", f->name, sizeof f->name);

    /* a string the engine cannot take as a name (another type, a NUL byte)
     * is as good as none: the tensor names tell the family, and no key can
     * be under it (keys hold no NUL) */
    struct wl_gguf_str as;
    char unusable[WL__METADATA_WHY_SIZE];
    const int arch_rc =
        wl__metadata_name(g, "general.architecture", &as, unusable, sizeof unusable);
    const bool have_arch = arch_rc == 0;
    if (arch_rc == WL_EFORMAT)
        wl__warn(f, "the engine refuses this model: metadata 'general.architecture' %s", unusable);
    f->arch = have_arch ? wl_arch_from_string(as.data, as.len) : WL_ARCH_UNKNOWN;
    if (f->arch == WL_ARCH_UNKNOWN) {
        /* the warnings quote the string as the file has it (cut between
         * characters), control bytes included: whoever shows a warning
         * escapes it as any text from a file (the CLI shows ESC as \x1b,
         * JSON keeps it), where arch_string's '?' would hide which byte it was */
        char raw[sizeof f->arch_string + 4], quoted[sizeof f->arch_string];
        size_t n = have_arch ? (as.len < sizeof raw - 1 ? (size_t)as.len : sizeof raw - 1) : 0;
        if (n)
            memcpy(raw, as.data, n);
        raw[n] = '\0';
        wl_utf8_clip(quoted, sizeof quoted, raw);
        const char *why = "";
        enum wl_arch inf = wl__infer_arch(g, &why);
        if (inf != WL_ARCH_UNKNOWN) {
            f->arch = inf;
            f->arch_inferred = true;
            if (have_arch)
                wl__warn(f, "architecture '%s' is not known; treated as %s from tensor names (%s)",
                         quoted, wl_arch_name(inf), why);
            else
                wl__warn(f, "%s general.architecture; inferred %s from tensor names (%s)",
                         arch_rc == WL_ENOENT ? "no" : "no usable", wl_arch_name(inf), why);
        } else if (have_arch) {
            wl__warn(f,
                     "architecture '%s' is not known and could not be inferred from tensor names",
                     quoted);
        } else if (f->n_tensors > 0) {
            return wl_errmsg_set(err, WL_EFORMAT,
                                 "no %sgeneral.architecture and no recognisable tensor names: "
                                 "not a transformer model this tool knows",
                                 arch_rc == WL_ENOENT ? "" : "usable ");
        }
    }
    /* Keys are prefixed with the architecture string as written in the file. */
    const char *prefix = have_arch && f->arch_string[0] ? f->arch_string : wl_arch_name(f->arch);
    /* the engine reads its keys under exactly this name (model.c): a key
     * there that it cannot read makes it refuse the model */
    const bool engine_reads = f->arch != WL_ARCH_UNKNOWN && !f->arch_inferred;

    uint32_t tensor_layers;
    uint64_t expert_params;
    wl__count_params(g, f, &tensor_layers, &expert_params);

    /* the integer keys the loader reads (read_config): one it cannot read
     * is named, with what is wrong with it. (Other architectures' files,
     * which the loader does not read, may hold per-layer arrays, whose
     * first element the features show.) */
    char key[256], why[WL__METADATA_WHY_SIZE];
    int cfg_rc[WL__CONFIG_INT_COUNT]; /* 0: the loader reads the key as the features do */
    for (size_t i = 0; engine_reads && i < WL__CONFIG_INT_COUNT; i++) {
        snprintf(key, sizeof key, "%s.%s", prefix, wl__config_int_keys[i]);
        int64_t v;
        cfg_rc[i] = wl__metadata_count(g, key, &v, why, sizeof why);
        wl__note_refused(f, key, cfg_rc[i], why);
    }
    const int layers_rc = wl__get_u32(g, prefix, "block_count", &f->n_layers);
    if (layers_rc != 0) {
        f->n_layers = tensor_layers;
        if (f->n_tensors)
            wl__warn(f, "%s.block_count %s; counted blk.N tensors", prefix,
                     layers_rc == WL_ENOENT ? "missing" : "not usable");
    } else if (f->n_tensors && tensor_layers != f->n_layers) {
        wl__warn(f, "%s.block_count = %" PRIu32 " but the tensors have %" PRIu32 " layers", prefix,
                 f->n_layers, tensor_layers);
    }
    /* the loader's check before it sizes its per-layer tables (model.c) */
    if (engine_reads && layers_rc == 0 && wl__metadata_count_check(f->n_layers, why, sizeof why) == 0) {
        snprintf(key, sizeof key, "%s.block_count", prefix);
        wl__note_refused(f, key, wl__metadata_layers_fit(f->n_layers, f->n_tensors, why, sizeof why),
                         why);
    }
    const struct wl_gguf_tensor *emb = wl_gguf_find_tensor(g, "token_embd.weight");
    if (wl__get_u32(g, prefix, "embedding_length", &f->hidden_size) != 0 && emb &&
        emb->ne[0] <= UINT32_MAX)
        f->hidden_size = (uint32_t)emb->ne[0];
    if (wl__get_u32(g, prefix, "feed_forward_length", &f->intermediate_size) != 0) {
        const struct wl_gguf_tensor *up = wl_gguf_find_tensor(g, "blk.0.ffn_up.weight");
        if (!up)
            up = wl_gguf_find_tensor(g, "blk.0.ffn_up_exps.weight");
        if (up && up->ne[1] <= UINT32_MAX)
            f->intermediate_size = (uint32_t)up->ne[1];
    }
    const int heads_rc = wl__get_u32(g, prefix, "attention.head_count", &f->n_heads);
    if (heads_rc != 0 && f->n_tensors)
        wl__warn(f, "%s.attention.head_count %s; head count unknown", prefix,
                 heads_rc == WL_ENOENT ? "missing" : "not usable");
    if (wl__get_u32(g, prefix, "attention.key_length", &f->head_dim) != 0 && f->n_heads)
        f->head_dim = f->hidden_size / f->n_heads;
    if (wl__get_u32(g, prefix, "attention.head_count_kv", &f->n_kv_heads) != 0) {
        const struct wl_gguf_tensor *k = wl_gguf_find_tensor(g, "blk.0.attn_k.weight");
        if (k && f->head_dim && k->ne[1] % f->head_dim == 0 && k->ne[1] / f->head_dim <= UINT32_MAX)
            f->n_kv_heads = (uint32_t)(k->ne[1] / f->head_dim);
        else
            f->n_kv_heads = f->n_heads; /* the GGUF default: no grouping */
    }
    const struct wl_gguf_tensor *k0 = wl_gguf_find_tensor(g, "blk.0.attn_k.weight");
    if (k0 && f->head_dim && f->n_kv_heads && k0->ne[1] != (uint64_t)f->head_dim * f->n_kv_heads)
        wl__warn(f,
                 "blk.0.attn_k.weight has %" PRIu64 " rows, not n_kv_heads * head_dim = %" PRIu64,
                 k0->ne[1], (uint64_t)f->head_dim * f->n_kv_heads);
    if (f->n_heads && f->n_kv_heads) {
        if (f->n_kv_heads == f->n_heads)
            f->attention = WL_ATTN_MHA;
        else if (f->n_kv_heads == 1)
            f->attention = WL_ATTN_MQA;
        else if (wl__metadata_grouping(f->n_heads, f->n_kv_heads, why, sizeof why) == 0)
            f->attention = WL_ATTN_GQA;
        else /* no grouping: unknown, as the loader refuses it (model.c) */
            wl__warn(f, "%s%s", engine_reads ? "the engine refuses this model: " : "", why);
    }
    wl__get_u32(g, prefix, "expert_count", &f->n_experts);
    wl__get_u32(g, prefix, "expert_used_count", &f->n_experts_used);
    if (f->n_experts > 0 && f->arch != WL_ARCH_UNKNOWN) /* as the loader (model.c) */
        wl__warn(f,
                 "the engine refuses this model: mixture-of-experts models (%" PRIu32
                 " experts) are not supported",
                 f->n_experts);

    if (wl__get_u32(g, prefix, "vocab_size", &f->vocab_size) != 0) {
        enum wl_gguf_vtype et;
        uint64_t n;
        if (wl_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) == 0 && n <= UINT32_MAX)
            f->vocab_size = (uint32_t)n;
        else if (emb && emb->ne[1] <= UINT32_MAX)
            f->vocab_size = (uint32_t)emb->ne[1];
    }
    /* the loader requires it (model.c); a value it cannot use is noted
     * with the other integer keys above */
    if (wl__get_u32(g, prefix, "context_length", &f->context_length) == WL_ENOENT && engine_reads)
        wl__warn(f, "the engine refuses this model: metadata '%s.context_length' is missing",
                 prefix);
    if (wl__get_u32(g, prefix, "rope.dimension_count", &f->rope_dim) != 0)
        f->rope_dim = f->head_dim; /* as the engine (model.c) and llama.cpp default it */
    if (engine_reads)
        wl__note_shape(g, prefix, f, cfg_rc);
    if (wl__get_f64(g, prefix, "rope.freq_base", &f->rope_freq_base) != 0)
        f->rope_freq_base = 10000.0;
    if (engine_reads) {
        double base;
        snprintf(key, sizeof key, "%s.rope.freq_base", prefix);
        wl__note_refused(f, key, wl__metadata_positive(g, key, &base, why, sizeof why), why);
    }
    struct wl_rope_scaling rs;
    struct wl_errmsg rope_err;
    if (wl__rope_scaling_read(g, prefix, &rs, &rope_err) != 0)
        wl__warn(f, "the engine refuses this model: %s", rope_err.text);
    f->rope_scaling = rs;
    struct wl__family_meta fm;
    struct wl_errmsg fam_err;
    if (engine_reads &&
        wl__family_meta_read(g, f->arch, prefix, (int32_t)f->context_length, &fm, &fam_err) != 0)
        wl__warn(f, "the engine refuses this model: %s", fam_err.text);
    if (engine_reads) {
        /* the family's key, which the engine requires */
        snprintf(key, sizeof key, "%s.%s", prefix, wl__arch_norm_eps_key(f->arch));
        const int eps_rc = wl__metadata_positive(g, key, &f->norm_eps, why, sizeof why);
        if (eps_rc == WL_ENOENT)
            wl__warn(f, "the engine refuses this model: metadata '%s' is missing", key);
        else
            wl__note_refused(f, key, eps_rc, why);
    } else if (wl__get_f64(g, prefix, "attention.layer_norm_rms_epsilon", &f->norm_eps) != 0) {
        wl__get_f64(g, prefix, "attention.layer_norm_epsilon", &f->norm_eps);
    }
    f->tied_embeddings = f->n_tensors > 0 && emb && !wl__has(g, "output.weight");

    if (f->n_layers) {
        f->n_params_attention_per_layer = f->n_params_attention / f->n_layers;
        f->n_params_ffn_per_layer = f->n_params_ffn / f->n_layers;
    }
    f->n_params_active = f->n_params;
    if (f->n_experts && f->n_experts_used && f->n_experts_used < f->n_experts)
        f->n_params_active =
            f->n_params - expert_params + expert_params / f->n_experts * f->n_experts_used;
    /* no weights (a vocabulary-only file): 0/0, not known */
    f->bits_per_weight =
        f->n_params ? 8.0 * (double)f->tensor_bytes / (double)f->n_params : (double)NAN;
    return 0;
}

int wl_model_kv_bytes_per_token(const struct wl_model_features *f, enum wl_ttype cache_type,
                                uint64_t *bytes)
{
    if (!f->n_layers || !f->n_kv_heads || !f->head_dim)
        return WL_EINVAL;
    /* the row cannot overflow (two 32-bit factors); the rest can, for
     * absurd hyperparameters, and a wrapped total would be a wrong number */
    uint64_t row = (uint64_t)f->n_kv_heads * f->head_dim, row_bytes, layer_bytes, all;
    int rc = wl_ttype_bytes(cache_type, row, &row_bytes);
    if (rc)
        return rc;
    if (__builtin_mul_overflow(row_bytes, (uint64_t)f->n_layers, &layer_bytes) ||
        __builtin_mul_overflow(layer_bytes, (uint64_t)2, &all))
        return WL_ERANGE;
    *bytes = all;
    return 0;
}

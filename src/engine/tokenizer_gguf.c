/* GGUF front end of the tokenizers: reads the tokenizer.ggml.* keys (model,
 * pre-tokenizer, tokens, scores, token types, merges, special ids, add_*
 * flags) into a wl_tok_vocab_desc that points into the file's mapping, and
 * builds the tokenizer from it (which copies everything, so the file may be
 * closed afterwards). The FIM ids come from tokenizer.ggml.fim_*_token_id
 * or the deprecated prefix/suffix/middle_token_id keys. Errors name the key
 * that is missing or malformed: a
 * tokenizer key of another type than the loader reads is refused, never
 * taken as absent (a pre-tokenizer stored as a number would otherwise
 * tokenize with the default rules). general.name is only a hint (the Phi-3
 * rules): one that is not a plain string counts as absent.
 */
#include "engine/tokenizer_impl.h"

#include "util/log.h"
#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

/* A token id key into *out: -2 when missing ("the model type's default").
 * llama.cpp reads these as UINT32 and refuses any other type; we also take
 * the other integer types, but a float, bool, string or array is
 * WL_EFORMAT naming the key (it used to fall back to the default silently
 * when the number was not an exact integer). Converters write "no such
 * token" as -1 stored in a UINT32 (0xFFFFFFFF), e.g. stories260K's separator
 * and padding ids: absent, as -1 in a signed type. Another value of the
 * UINT32 range outside the vocabulary keeps the default with a warning, as
 * llama.cpp (pick_id); one outside that range (negative, or 2^32 and up),
 * which only a type llama.cpp refuses can hold, is WL_EFORMAT. */
static int gguf_id(const wl_gguf *g, const char *key, int32_t *out, struct wl_errmsg *err)
{
    *out = -2;
    int64_t i = wl_gguf_find_kv(g, key);
    if (i < 0)
        return 0;
    enum wl_gguf_vtype ty = wl_gguf_kv_type(g, (uint64_t)i);
    switch (ty) {
    case WL_GGUF_UINT8:
    case WL_GGUF_INT8:
    case WL_GGUF_UINT16:
    case WL_GGUF_INT16:
    case WL_GGUF_UINT32:
    case WL_GGUF_INT32:
    case WL_GGUF_UINT64:
    case WL_GGUF_INT64:
        break;
    default:
        return wl_errmsg_set(err, WL_EFORMAT, "%s has type %s (a token id is an integer)", key,
                             wl_gguf_vtype_name(ty));
    }
    /* the key is there and an integer: the only failure is a UINT64 above
     * INT64_MAX (WL_ERANGE) */
    int64_t v = 0;
    if (wl_gguf_get_i64(g, key, &v) == WL_ERANGE) {
        uint64_t u = 0;
        wl_gguf_get_u64(g, key, &u);
        return wl_errmsg_set(err, WL_EFORMAT, "%s = %llu is not a token id", key,
                             (unsigned long long)u);
    }
    if (v == -1 || v == (int64_t)UINT32_MAX)
        *out = WL_TOK_NULL;
    else if (v >= 0 && v <= INT32_MAX)
        *out = (int32_t)v; /* checked against the vocabulary by wl_tok_build */
    else if (v > INT32_MAX && v < (int64_t)UINT32_MAX)
        wl_log_warn("tokenizer", "%s = %lld is outside the vocabulary; using the default", key,
                    (long long)v);
    else
        return wl_errmsg_set(err, WL_EFORMAT, "%s = %lld is not a token id", key, (long long)v);
    return 0;
}

static int gguf_flag(const wl_gguf *g, const char *key, int *out)
{
    bool b;
    int rc = wl_gguf_get_bool(g, key, &b);
    if (rc == WL_ENOENT) {
        *out = -1;
        return 0;
    }
    if (rc)
        return rc;
    *out = b;
    return 0;
}

/* The string under key as a NUL-terminated copy (*out NULL when the key is
 * missing). Another type, or a string holding a NUL byte (whose copy would
 * read as a shorter name: "llama\0x" as "llama"), is WL_EFORMAT naming
 * the key. */
static int gguf_text(const wl_gguf *g, const char *key, char **out, struct wl_errmsg *err)
{
    struct wl_gguf_str s;
    *out = NULL;
    int rc = wl_gguf_get_str(g, key, &s);
    if (rc == WL_ENOENT)
        return 0;
    if (rc)
        return wl_errmsg_set(err, WL_EFORMAT, "%s is not a string", key);
    if (memchr(s.data, '\0', (size_t)s.len))
        return wl_errmsg_set(err, WL_EFORMAT, "%s holds a NUL byte", key);
    char *p = malloc((size_t)s.len + 1);
    if (!p)
        return WL_ENOMEM;
    memcpy(p, s.data, (size_t)s.len);
    p[s.len] = 0;
    *out = p;
    return 0;
}

static int gguf_texts(const wl_gguf *g, const char *key, struct wl_tok_text **out, size_t *n,
                      struct wl_errmsg *err)
{
    struct wl_gguf_arr a;
    int rc = wl_gguf_get_arr_view(g, key, &a);
    if (rc == WL_ENOENT)
        return rc; /* the caller says why it is needed */
    if (rc || a.elem_type != WL_GGUF_STRING)
        return wl_errmsg_set(err, WL_EFORMAT, "%s is not an array of strings", key);
    if (a.n > INT32_MAX / 2)
        return wl_errmsg_set(err, WL_ERANGE, "%s has too many entries (%llu)", key,
                             (unsigned long long)a.n);
    struct wl_tok_text *v = malloc((a.n ? a.n : 1) * sizeof(*v));
    if (!v)
        return WL_ENOMEM;
    for (uint64_t j = 0; j < a.n; j++) {
        struct wl_gguf_str s;
        if ((rc = wl_gguf_arr_str(&a, j, &s)) != 0) {
            free(v);
            return wl_errmsg_set(err, rc, "%s[%llu] cannot be read", key, (unsigned long long)j);
        }
        v[j].data = s.data;
        v[j].len = (size_t)s.len;
    }
    *out = v;
    *n = (size_t)a.n;
    return 0;
}

int wl_tok_load_gguf(const wl_gguf *g, wl_tokenizer **out, struct wl_errmsg *err)
{
    struct wl_tok_vocab_desc d;
    struct wl_tok_text *tokens = NULL, *merges = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    char *model = NULL, *pre = NULL, *name = NULL;
    int rc = 0;

    *out = NULL;
    wl_tok_vocab_desc_init(&d);
    if ((rc = gguf_text(g, "tokenizer.ggml.model", &model, err)) != 0)
        return rc;
    if (!model)
        return wl_errmsg_set(err, WL_ENOENT,
                             "no tokenizer in this file (tokenizer.ggml.model missing)");
    if (strcmp(model, "llama") == 0) {
        d.model = WL_TOK_MODEL_SPM;
    } else if (strcmp(model, "gpt2") == 0) {
        d.model = WL_TOK_MODEL_BPE;
    } else {
        rc =
            wl_errmsg_set(err, WL_ENOTSUP,
                          "tokenizer model '%s' is not supported (only 'llama' and 'gpt2')", model);
        goto done;
    }
    if ((rc = gguf_text(g, "tokenizer.ggml.pre", &pre, err)) != 0)
        goto done;
    if (gguf_text(g, "general.name", &name, NULL) == WL_ENOMEM) {
        rc = WL_ENOMEM;
        goto done;
    }
    d.pre = pre;
    d.name = name;

    rc = gguf_texts(g, "tokenizer.ggml.tokens", &tokens, &d.n_tokens, err);
    if (rc == WL_ENOENT)
        rc = wl_errmsg_set(err, rc, "tokenizer.ggml.tokens is missing");
    if (rc)
        goto done;
    d.tokens = tokens;

    enum wl_gguf_vtype et;
    uint64_t n;
    rc = wl_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &n);
    if (rc != WL_ENOENT) {
        if (rc || (et != WL_GGUF_FLOAT32 && et != WL_GGUF_INT32)) {
            rc = wl_errmsg_set(err, WL_EFORMAT,
                               "tokenizer.ggml.scores must be an array of float32 or int32");
            goto done;
        }
        if (n < d.n_tokens) {
            rc = wl_errmsg_set(err, WL_EFORMAT,
                               "tokenizer.ggml.scores has %llu entries for %zu tokens",
                               (unsigned long long)n, d.n_tokens);
            goto done;
        }
        const unsigned char *raw = wl_gguf_get_arr_data(g, "tokenizer.ggml.scores");
        scores = malloc(d.n_tokens * sizeof(*scores));
        if (!scores) {
            rc = WL_ENOMEM;
            goto done;
        }
        if (!raw) {
            rc = wl_errmsg_set(err, WL_EFORMAT, "tokenizer.ggml.scores cannot be read");
            goto done;
        }
        for (size_t i = 0; i < d.n_tokens; i++) {
            if (et == WL_GGUF_FLOAT32) {
                memcpy(&scores[i], raw + 4 * i, 4);
            } else {
                int32_t v;
                memcpy(&v, raw + 4 * i, 4);
                scores[i] = (float)v;
            }
        }
        d.scores = scores;
    }
    rc = wl_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &n);
    if (rc != WL_ENOENT) {
        if (rc) {
            rc = wl_errmsg_set(err, WL_EFORMAT,
                               "tokenizer.ggml.token_type must be an array of integers");
            goto done;
        }
        if (n < d.n_tokens) {
            rc = wl_errmsg_set(err, WL_EFORMAT,
                               "tokenizer.ggml.token_type has %llu entries for %zu tokens",
                               (unsigned long long)n, d.n_tokens);
            goto done;
        }
        types = malloc(d.n_tokens * sizeof(*types));
        if (!types) {
            rc = WL_ENOMEM;
            goto done;
        }
        const unsigned char *raw =
            et == WL_GGUF_INT32 ? wl_gguf_get_arr_data(g, "tokenizer.ggml.token_type") : NULL;
        for (size_t i = 0; i < d.n_tokens; i++) {
            int64_t v;
            if (raw) {
                int32_t x;
                memcpy(&x, raw + 4 * i, 4);
                v = x;
            } else if (wl_gguf_get_arr_i64(g, "tokenizer.ggml.token_type", i, &v) != 0) {
                rc = wl_errmsg_set(err, WL_EFORMAT,
                                   "tokenizer.ggml.token_type must be an array of integers");
                goto done;
            }
            types[i] = (v < 0 || v > 255) ? 0 : (int32_t)v;
        }
        d.types = types;
    }
    rc = 0;
    if (d.model == WL_TOK_MODEL_BPE) {
        rc = gguf_texts(g, "tokenizer.ggml.merges", &merges, &d.n_merges, err);
        if (rc == WL_ENOENT)
            rc = wl_errmsg_set(err, rc, "tokenizer.ggml.merges is missing (needed by BPE)");
        if (rc)
            goto done;
        d.merges = merges;
    }
    /* The deprecated FIM keys come last, as in llama.cpp's list: a later key
     * that names a token of the vocabulary replaces what an earlier one
     * said; any other value of it leaves that. */
    struct {
        const char *key;
        int32_t *dst;
        bool later;
    } ids[] = {
        {"tokenizer.ggml.bos_token_id", &d.bos, false},
        {"tokenizer.ggml.eos_token_id", &d.eos, false},
        {"tokenizer.ggml.eot_token_id", &d.eot, false},
        {"tokenizer.ggml.eom_token_id", &d.eom, false},
        {"tokenizer.ggml.unknown_token_id", &d.unk, false},
        {"tokenizer.ggml.seperator_token_id", &d.sep, false},
        {"tokenizer.ggml.padding_token_id", &d.pad, false},
        {"tokenizer.ggml.fim_pre_token_id", &d.fim_pre, false},
        {"tokenizer.ggml.fim_suf_token_id", &d.fim_suf, false},
        {"tokenizer.ggml.fim_mid_token_id", &d.fim_mid, false},
        {"tokenizer.ggml.fim_pad_token_id", &d.fim_pad, false},
        {"tokenizer.ggml.fim_rep_token_id", &d.fim_rep, false},
        {"tokenizer.ggml.fim_sep_token_id", &d.fim_sep, false},
        {"tokenizer.ggml.prefix_token_id", &d.fim_pre, true},
        {"tokenizer.ggml.suffix_token_id", &d.fim_suf, true},
        {"tokenizer.ggml.middle_token_id", &d.fim_mid, true},
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        int32_t id;
        if ((rc = gguf_id(g, ids[i].key, &id, err)) != 0)
            goto done;
        if (!ids[i].later || (id >= 0 && (size_t)id < d.n_tokens))
            *ids[i].dst = id;
    }
    struct {
        const char *key;
        int *dst;
    } flags[] = {
        {"tokenizer.ggml.add_bos_token", &d.add_bos},
        {"tokenizer.ggml.add_eos_token", &d.add_eos},
        {"tokenizer.ggml.add_space_prefix", &d.add_space_prefix},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (gguf_flag(g, flags[i].key, flags[i].dst) != 0) {
            rc = wl_errmsg_set(err, WL_EFORMAT, "%s is not a boolean", flags[i].key);
            goto done;
        }
    }
    rc = wl_tok_build(&d, out, err);
done:
    free(tokens);
    free(merges);
    free(scores);
    free(types);
    free(model);
    free(pre);
    free(name);
    return rc;
}

int wl_tok_load_file(const char *path, wl_tokenizer **out, struct wl_errmsg *err)
{
    wl_gguf *g = NULL;
    *out = NULL;
    int rc = wl_gguf_open(path, &g, err);
    if (rc)
        return rc;
    rc = wl_tok_load_gguf(g, out, err);
    wl_gguf_close(g);
    return rc ? wl_errmsg_prefix(err, rc, path) : 0; /* as wl_gguf_open's messages */
}

/* Fuzz target: loading a tokenizer from a GGUF file's tokenizer.ggml.* keys
 * (wl_tok_load_gguf, engine/tokenizer_gguf.c), the step before what
 * fuzz_tok_vocab fuzzes. The file is written by the project's GGUF writer
 * (engine/gguf_write.h) from the input, so that nearly every input is a
 * well-formed file and the fuzzing goes into the keys' types, lengths and
 * values rather than the container (fuzz_gguf covers that):
 *   byte 0: bit 0 model "llama" / "gpt2", bits 1-3 tokenizer.ggml.pre (one
 *           unknown name, one absent), bit 4 scores (FLOAT32), bit 5 token
 *           types (INT32), bit 6 general.name "Phi-3 mini";
 *   tokens: a count byte, then per token a byte (bits 0-4 its length,
 *           bits 5-7 its type) and its bytes; for "gpt2" the merges: a
 *           count byte, then per merge a length byte (0..31) and its bytes;
 *   then records to the end, each replacing one key (any of the 25
 *           tokenizer.ggml.* keys the loader reads, or general.name) with a
 *           value of a fuzzed type, or removing it: a key byte, an op byte
 *           (0 remove, 1-12 a scalar of each type, 13 a numeric array, 14 an
 *           array of strings, 15 an array of arrays) and the value's bytes.
 * Checks, trapping on failure: a refused file gives a negative code, a
 * message (but for WL_ENOMEM) and no tokenizer. A loaded one comes from a
 * file whose model is the string "llama" or "gpt2" (and is that model),
 * whose tokens are an array of strings with one token per string, each at
 * its id with that text (an empty one "[EMPTY_<id>]"), whose pre-tokenizer,
 * scores, token types and (gpt2) merges are absent or of the types the
 * loader reads, never ignored when present: the pre-tokenizer's name is
 * the string's (without a NUL; a long one cut between characters as
 * wl_utf8_copy cuts it to 47 bytes); special ids are absent or in range,
 * and each id key given as an integer in range is that id (the six FIM
 * kinds too: a deprecated prefix/suffix/middle key in range wins over the
 * fim_pre/suf/mid one); each add_*
 * flag given as a boolean is that flag; tokenizing its texts in a row and
 * a fixed text succeeds (or runs out of memory: never another error) and
 * gives ids in range that detokenize, and the streaming
 * decoder gives valid UTF-8.
 * Logs warnings (a pre-tokenizer missing, an id out of range): run with
 * -close_fd_mask=2.
 */
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/tokenizer.h"
#include "util/utf8.h"

#include "wattlens/error.h"

#include "fuzz_input.h"

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

enum {
    K_MODEL,
    K_PRE,
    K_TOKENS,
    K_SCORES,
    K_TYPES,
    K_MERGES,
    K_BOS,
    K_ADD_BOS = K_BOS + 7,
    K_NAME = K_ADD_BOS + 3,
    K_FIM_PRE,
    K_PREFIX = K_FIM_PRE + 6, /* the deprecated prefix/suffix/middle keys */
};
static const char *const keys[] = {
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.scores",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.eom_token_id",
    "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id",
    "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_eos_token",
    "tokenizer.ggml.add_space_prefix",
    "general.name",
    "tokenizer.ggml.fim_pre_token_id",
    "tokenizer.ggml.fim_suf_token_id",
    "tokenizer.ggml.fim_mid_token_id",
    "tokenizer.ggml.fim_pad_token_id",
    "tokenizer.ggml.fim_rep_token_id",
    "tokenizer.ggml.fim_sep_token_id",
    "tokenizer.ggml.prefix_token_id",
    "tokenizer.ggml.suffix_token_id",
    "tokenizer.ggml.middle_token_id",
};
#define N_KEYS (sizeof keys / sizeof keys[0])
_Static_assert(sizeof keys / sizeof keys[0] == K_PREFIX + 3, "one name per key index");

#define MAX_ITEMS 255

/* An array of strings from the input: a count byte, then per string a
 * length byte (low five bits) and its bytes. */
static int set_strings(wl_gguf_writer *w, const char *key, struct wl_fuzz_input *in, bool typed,
                       int32_t *types)
{
    static struct wl_gguf_str items[MAX_ITEMS];
    size_t n = wl_fuzz_take_u8(in);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = wl_fuzz_take_u8(in);
        items[i].data = (const char *)wl_fuzz_take_bytes(in, b & 31, &items[i].len);
        if (typed)
            types[i] = b >> 5;
    }
    return wl_gguf_writer_set_arr_str(w, key, items, n);
}

static const enum wl_gguf_vtype scalar_types[12] = {
    WL_GGUF_UINT8,   WL_GGUF_INT8, WL_GGUF_UINT16, WL_GGUF_INT16,  WL_GGUF_UINT32, WL_GGUF_INT32,
    WL_GGUF_FLOAT32, WL_GGUF_BOOL, WL_GGUF_STRING, WL_GGUF_UINT64, WL_GGUF_INT64,  WL_GGUF_FLOAT64,
};

/* One record: a key replaced with a value of the op's type, or removed (a
 * value the writer refuses leaves the key as it was). */
static void apply_record(wl_gguf_writer *w, struct wl_fuzz_input *in)
{
    const char *key = keys[wl_fuzz_take_u8(in) % N_KEYS];
    const unsigned op = wl_fuzz_take_u8(in) % 16;
    if (op == 0) {
        (void)wl_gguf_writer_remove(w, key);
    } else if (op <= 12) {
        enum wl_gguf_vtype t = scalar_types[op - 1];
        if (t == WL_GGUF_STRING) {
            size_t len;
            const char *s = (const char *)wl_fuzz_take_bytes(in, wl_fuzz_take_u8(in), &len);
            (void)wl_gguf_writer_set_strn(w, key, s, len);
        } else if (t == WL_GGUF_BOOL) {
            (void)wl_gguf_writer_set_bool(w, key, wl_fuzz_take_u8(in) & 1);
        } else {
            uint8_t v[8]; /* the value's bytes as stored: little-endian */
            wl_fuzz_take_into(in, v, wl_gguf_vtype_size(t));
            (void)wl_gguf_writer_set_raw(w, key, t, v, wl_gguf_vtype_size(t));
        }
    } else if (op == 13) {
        enum wl_gguf_vtype t = scalar_types[wl_fuzz_take_u8(in) % 12];
        if (t == WL_GGUF_STRING)
            t = WL_GGUF_INT32;
        size_t n = wl_fuzz_take_u8(in), es = wl_gguf_vtype_size(t);
        uint8_t *v = malloc(n * es + 1);
        CHECK(v);
        wl_fuzz_take_into(in, v, n * es);
        if (t == WL_GGUF_BOOL)
            for (size_t i = 0; i < n; i++)
                v[i] &= 1;
        (void)wl_gguf_writer_set_arr(w, key, t, v, n);
        free(v);
    } else if (op == 14) {
        (void)set_strings(w, key, in, false, NULL);
    } else {
        /* up to 3 arrays of up to 3 INT32 */
        uint8_t raw[12 + 3 * (12 + 12)];
        size_t len = 0, n = wl_fuzz_take_u8(in) % 4;
        uint32_t et = WL_GGUF_ARRAY, it = WL_GGUF_INT32;
        uint64_t n64 = n;
        memcpy(raw + len, &et, 4);
        memcpy(raw + len + 4, &n64, 8);
        len += 12;
        for (size_t i = 0; i < n; i++) {
            uint64_t m = wl_fuzz_take_u8(in) % 4;
            memcpy(raw + len, &it, 4);
            memcpy(raw + len + 4, &m, 8);
            len += 12;
            wl_fuzz_take_into(in, raw + len, 4 * m);
            len += 4 * m;
        }
        (void)wl_gguf_writer_set_raw(w, key, WL_GGUF_ARRAY, raw, len);
    }
}

static void check_tokenize(const wl_tokenizer *t, uint32_t n_vocab, const char *text, size_t len)
{
    int32_t *ids = NULL;
    size_t n = 0;
    /* Tokenizing never fails on bytes (docs/internals/tokenizer.md: a byte
     * no token matches is dropped and counted); a text this short can only
     * run out of memory. Any other code is a bug. */
    const int rc =
        wl_tok_tokenize_alloc(t, text, len, WL_TOK_PARSE_SPECIAL | WL_TOK_ADD_BOS, &ids, &n, NULL);
    CHECK(rc == 0 || rc == WL_ENOMEM);
    if (rc != 0)
        return;
    for (size_t i = 0; i < n; i++)
        CHECK(ids[i] >= 0 && (uint32_t)ids[i] < n_vocab);
    char *back = NULL;
    size_t bl = 0;
    CHECK(wl_tok_detokenize_alloc(t, ids, n, WL_DETOK_SPECIAL, &back, &bl) == 0);
    free(back);
    struct wl_tok_decoder dec;
    wl_tok_decoder_init(&dec, t, 0);
    size_t cap = wl_tok_decoder_out_max(t);
    char *out = malloc(cap ? cap : 1);
    CHECK(out);
    for (size_t i = 0; i <= n; i++) {
        size_t got = 0;
        if (i < n)
            CHECK(wl_tok_decoder_push(&dec, ids[i], out, cap, &got) == 0);
        else
            CHECK(wl_tok_decoder_flush(&dec, out, cap, &got) == 0);
        CHECK(got <= cap && wl_utf8_valid(out, got));
    }
    free(out);
    free(ids);
}

/* The string under key, when it is one (its bytes, not NUL-terminated). */
static bool gguf_string(const wl_gguf *g, const char *key, struct wl_gguf_str *s)
{
    return wl_gguf_get_str(g, key, s) == 0;
}

static bool str_is(struct wl_gguf_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}

/* What a loaded tokenizer must be, given the file it came from. */
static void check_loaded(const wl_gguf *g, const wl_tokenizer *t)
{
    struct wl_tok_info inf;
    wl_tok_get_info(t, &inf);
    struct wl_gguf_str model;
    CHECK(gguf_string(g, keys[K_MODEL], &model));
    CHECK(str_is(model, "llama") ? inf.model == WL_TOK_MODEL_SPM
                                 : str_is(model, "gpt2") && inf.model == WL_TOK_MODEL_BPE);

    enum wl_gguf_vtype et;
    uint64_t n;
    CHECK(wl_gguf_get_arr(g, keys[K_TOKENS], &et, &n) == 0 && et == WL_GGUF_STRING);
    CHECK(inf.n_vocab == n);
    /* present keys are of a type the loader reads */
    if (wl_gguf_find_kv(g, keys[K_SCORES]) >= 0)
        CHECK(wl_gguf_get_arr(g, keys[K_SCORES], &et, &n) == 0 &&
              (et == WL_GGUF_FLOAT32 || et == WL_GGUF_INT32) && n >= inf.n_vocab);
    if (wl_gguf_find_kv(g, keys[K_TYPES]) >= 0) {
        CHECK(wl_gguf_get_arr(g, keys[K_TYPES], &et, &n) == 0 && n >= inf.n_vocab);
        for (uint32_t i = 0; i < inf.n_vocab; i++) {
            int64_t v;
            CHECK(wl_gguf_get_arr_i64(g, keys[K_TYPES], i, &v) == 0);
        }
    }
    if (inf.model == WL_TOK_MODEL_BPE)
        CHECK(wl_gguf_get_arr(g, keys[K_MERGES], &et, &n) == 0 && et == WL_GGUF_STRING);
    struct wl_gguf_str pre;
    if (wl_gguf_find_kv(g, keys[K_PRE]) >= 0) {
        /* the file's string, without a NUL, cut between characters */
        CHECK(gguf_string(g, keys[K_PRE], &pre) && !memchr(pre.data, '\0', pre.len));
        char *whole = malloc(pre.len + 1), cut[48];
        CHECK(whole);
        memcpy(whole, pre.data, pre.len);
        whole[pre.len] = '\0';
        wl_utf8_copy(cut, sizeof cut, whole);
        CHECK(strcmp(inf.pre_name, cut) == 0);
        free(whole);
    } else {
        CHECK(strcmp(inf.pre_name, "default") == 0);
    }

    const int32_t got[7] = {inf.bos, inf.eos, inf.eot, inf.eom, inf.unk, inf.sep, inf.pad};
    for (int i = 0; i < 7; i++) {
        CHECK(got[i] == WL_TOK_NULL || (got[i] >= 0 && (uint32_t)got[i] < inf.n_vocab));
        int64_t v;
        if (wl_gguf_get_i64(g, keys[K_BOS + i], &v) == 0 && v >= 0 && v < (int64_t)inf.n_vocab)
            CHECK(got[i] == v);
    }
    /* FIM: absent or in range; a kind whose key gives an id in range has
     * that id, and the deprecated prefix/suffix/middle key wins when it
     * gives one (it comes later in llama.cpp's list) */
    const int32_t got_fim[6] = {inf.fim_pre, inf.fim_suf, inf.fim_mid,
                                inf.fim_pad, inf.fim_rep, inf.fim_sep};
    for (int i = 0; i < 6; i++) {
        CHECK(got_fim[i] == WL_TOK_NULL || (got_fim[i] >= 0 && (uint32_t)got_fim[i] < inf.n_vocab));
        int64_t want = -1, v;
        if (wl_gguf_get_i64(g, keys[K_FIM_PRE + i], &v) == 0 && v >= 0 && v < (int64_t)inf.n_vocab)
            want = v;
        if (i < 3 && wl_gguf_get_i64(g, keys[K_PREFIX + i], &v) == 0 && v >= 0 &&
            v < (int64_t)inf.n_vocab)
            want = v;
        if (want >= 0)
            CHECK(got_fim[i] == want);
    }
    const bool flags[3] = {inf.add_bos, inf.add_eos, inf.add_space_prefix};
    for (int i = 0; i < 3; i++) {
        bool b;
        if (wl_gguf_get_bool(g, keys[K_ADD_BOS + i], &b) == 0)
            CHECK(flags[i] == b);
    }

    size_t all_len = 0;
    for (uint32_t i = 0; i < inf.n_vocab; i++) {
        struct wl_gguf_str s;
        CHECK(wl_gguf_get_arr_str(g, keys[K_TOKENS], i, &s) == 0);
        size_t len = 0;
        const char *txt = wl_tok_token_text(t, (int32_t)i, &len);
        CHECK(txt != NULL);
        if (s.len == 0) {
            char empty[32];
            int el = snprintf(empty, sizeof empty, "[EMPTY_%u]", i);
            CHECK(len == (size_t)el && memcmp(txt, empty, len) == 0);
        } else {
            CHECK(len == s.len && memcmp(txt, s.data, len) == 0);
        }
        CHECK(wl_tok_find_token(t, txt, len) == (int32_t)i);
        all_len += len;
    }
    /* every token's text in a row, then a fixed text with specials and bytes */
    char *all = malloc(all_len + 1);
    CHECK(all);
    size_t k = 0;
    for (uint32_t i = 0; i < inf.n_vocab; i++) {
        size_t len = 0;
        const char *txt = wl_tok_token_text(t, (int32_t)i, &len);
        memcpy(all + k, txt, len);
        k += len;
    }
    check_tokenize(t, inf.n_vocab, all, k);
    free(all);
    static const char fixed[] = "Hello world! <s> 123 \xe2\x96\x81x \xff\xc3\xa9 <|endoftext|>\n";
    check_tokenize(t, inf.n_vocab, fixed, sizeof fixed - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const pres[8] = {"default", "gpt-2",          "llama-bpe",   "qwen2",
                                        "falcon",  "deepseek-coder", "no-such-pre", NULL};
    if (size == 0)
        return 0;
    struct wl_fuzz_input in = {data, size};
    const uint8_t h = wl_fuzz_take_u8(&in);
    const bool bpe = h & 1;
    wl_gguf_writer *w = NULL;
    CHECK(wl_gguf_writer_new(&w) == 0);
    CHECK(wl_gguf_writer_set_str(w, "general.architecture", "llama") == 0);
    if (h & 0x40)
        CHECK(wl_gguf_writer_set_str(w, "general.name", "Phi-3 mini") == 0);
    CHECK(wl_gguf_writer_set_str(w, keys[K_MODEL], bpe ? "gpt2" : "llama") == 0);
    if (pres[(h >> 1) & 7])
        CHECK(wl_gguf_writer_set_str(w, keys[K_PRE], pres[(h >> 1) & 7]) == 0);
    static int32_t types[MAX_ITEMS];
    static float scores[MAX_ITEMS];
    const size_t n_tok = in.n ? in.p[0] : 0;
    CHECK(set_strings(w, keys[K_TOKENS], &in, true, types) == 0);
    for (size_t i = 0; i < n_tok; i++)
        scores[i] = -(float)i;
    if (h & 0x10)
        CHECK(wl_gguf_writer_set_arr(w, keys[K_SCORES], WL_GGUF_FLOAT32, scores, n_tok) == 0);
    if (h & 0x20)
        CHECK(wl_gguf_writer_set_arr(w, keys[K_TYPES], WL_GGUF_INT32, types, n_tok) == 0);
    if (bpe)
        CHECK(set_strings(w, keys[K_MERGES], &in, false, NULL) == 0);
    while (in.n > 0)
        apply_record(w, &in);

    void *file = NULL;
    size_t file_size = 0;
    CHECK(wl_gguf_writer_to_memory(w, &file, &file_size) == 0);
    wl_gguf_writer_free(w);
    wl_gguf *g = NULL;
    struct wl_errmsg err;
    CHECK(wl_gguf_open_memory(file, file_size, &g, &err) == 0);

    wl_tokenizer *t = (wl_tokenizer *)g; /* must be reset on failure */
    err.text[0] = '\0';
    int rc = wl_tok_load_gguf(g, &t, &err);
    if (rc != 0) {
        CHECK(rc < 0 && t == NULL);
        CHECK(err.text[0] != '\0' || rc == WL_ENOMEM);
    } else {
        check_loaded(g, t);
        wl_tok_free(t);
    }
    wl_gguf_close(g);
    free(file);
    return 0;
}

/* libFuzzer target for the tokenizers: the first input byte picks a
 * tokenizer and flags, the rest is the text. Tokenizers: the real
 * vocabularies under WL_TESTDATA_DIR (loaded once, when present; when one
 * does not load and WL_REQUIRE_TESTDATA is set, the harness exits 1) and tiny
 * built-in ones (one SPM, one byte-level BPE per pre-tokenizer), so every
 * pre-tokenizer runs even without test data. Checks, trapping on failure:
 * ids are in range; detokenize(tokenize(x)) == x for vocabularies that have a
 * token for every byte; the streaming decoder emits valid UTF-8 and, when the
 * text is valid UTF-8, exactly the detokenized bytes.
 * The tokenizers are process-wide statics of this harness only.
 */
#include "engine/tokenizer.h"
#include "engine/tokenizer_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WL_TESTDATA_DIR
#define WL_TESTDATA_DIR "."
#endif

#define N_REAL 3
static const char *const real_names[N_REAL] = {"llama-spm", "gpt-2", "deepseek-llm"};
static const bool real_lossless[N_REAL] = {true, true, false};
static const char *const pre_names[] = {"default",   "gpt-2",        "llama-bpe",      "qwen2",
                                        "starcoder", "deepseek-llm", "deepseek-coder", "falcon"};
#define N_PRE (sizeof(pre_names) / sizeof(pre_names[0]))

static wl_tokenizer *real[N_REAL];
static wl_tokenizer *tiny_bpe[N_PRE];
static wl_tokenizer *tiny_spm;
static bool ready;

/* 256 byte tokens spelled GPT-2 style, a few merges and special tokens. */
static wl_tokenizer *build_tiny_bpe(const char *pre)
{
    static char spell[256][4];
    struct wl_tok_text tok[262];
    int32_t type[262];
    for (int b = 0; b < 256; b++) {
        size_t l = wl__utf8_encode(wl__tok_byte_to_cp((uint8_t)b), spell[b]);
        tok[b] = (struct wl_tok_text){spell[b], l};
        type[b] = 1;
    }
    const char *extra[] = {"he", "ll", "hell", "hello", "<|endoftext|>", "<|im_end|>"};
    for (int i = 0; i < 6; i++) {
        tok[256 + i] = (struct wl_tok_text){extra[i], strlen(extra[i])};
        type[256 + i] = i < 4 ? 1 : 3;
    }
    static const struct wl_tok_text merges[] = {
        {"h e", 3}, {"l l", 3}, {"he ll", 5}, {"hell o", 6}, {"\xc4\xa0 h", 4}, {"x y", 3},
    };
    struct wl_tok_vocab_desc d;
    wl_tok_vocab_desc_init(&d);
    d.model = WL_TOK_MODEL_BPE;
    d.pre = pre;
    d.n_tokens = 262;
    d.tokens = tok;
    d.types = type;
    d.n_merges = sizeof(merges) / sizeof(merges[0]);
    d.merges = merges;
    d.bos = 260;
    d.eos = 260;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    if (wl_tok_build(&d, &t, &err) != 0) {
        fprintf(stderr, "fuzz_tokenizer: tiny BPE '%s': %s\n", pre, err.text);
        abort();
    }
    return t;
}

static wl_tokenizer *build_tiny_spm(void)
{
    static char hex[256][8];
    struct wl_tok_text tok[266];
    int32_t type[266];
    float score[266];
    const char *head[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        tok[i] = (struct wl_tok_text){head[i], strlen(head[i])};
        type[i] = i == 0 ? 2 : 3;
        score[i] = 0;
    }
    for (int b = 0; b < 256; b++) {
        snprintf(hex[b], sizeof(hex[b]), "<0x%02X>", b);
        tok[3 + b] = (struct wl_tok_text){hex[b], 6};
        type[3 + b] = 6;
        score[3 + b] = 0;
    }
    const char *extra[] = {"\xe2\x96\x81",
                           "a",
                           "b",
                           ("\xe2\x96\x81"
                            "a"),
                           "ab",
                           "bc",
                           "xyz"};
    for (int i = 0; i < 7; i++) {
        tok[259 + i] = (struct wl_tok_text){extra[i], strlen(extra[i])};
        type[259 + i] = i == 6 ? 4 : 1;
        score[259 + i] = -(float)i;
    }
    struct wl_tok_vocab_desc d;
    wl_tok_vocab_desc_init(&d);
    d.model = WL_TOK_MODEL_SPM;
    d.n_tokens = 266;
    d.tokens = tok;
    d.types = type;
    d.scores = score;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    if (wl_tok_build(&d, &t, &err) != 0) {
        fprintf(stderr, "fuzz_tokenizer: tiny SPM: %s\n", err.text);
        abort();
    }
    return t;
}

static void setup(void)
{
    for (size_t i = 0; i < N_REAL; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/vocab/ggml-vocab-%s.gguf", WL_TESTDATA_DIR, real_names[i]);
        struct wl_errmsg err;
        if (wl_tok_load_file(path, &real[i], &err) == 0)
            continue;
        real[i] = NULL; /* no test data: the built-in vocabularies still run */
        const char *req = getenv("WL_REQUIRE_TESTDATA");
        if (req && *req) { /* CI: missing data is a broken set-up, as in test_support.c */
            fprintf(stderr, "fuzz_tokenizer: %s (WL_REQUIRE_TESTDATA is set)\n", err.text);
            exit(1);
        }
        fprintf(stderr, "fuzz_tokenizer: skipping the %s vocabulary: %s\n", real_names[i],
                err.text);
    }
    for (size_t i = 0; i < N_PRE; i++)
        tiny_bpe[i] = build_tiny_bpe(pre_names[i]);
    tiny_spm = build_tiny_spm();
    ready = true;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = wl__utf8_decode(s + i, n - i, &cp);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

static void check(const wl_tokenizer *t, bool lossless, unsigned flags, const char *text,
                  size_t len)
{
    struct wl_tok_info inf;
    wl_tok_get_info(t, &inf);
    int32_t *ids = NULL;
    size_t n = 0;
    struct wl_tok_stats st = {0};
    if (wl_tok_tokenize_alloc(t, text, len, flags, &ids, &n, &st) != 0)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= inf.n_vocab)
            __builtin_trap();
    if (st.n_tokens != n || st.n_bytes != len)
        __builtin_trap();

    char *back = NULL;
    size_t bl = 0;
    if (wl_tok_detokenize_alloc(t, ids, n, WL_DETOK_SPECIAL, &back, &bl) != 0)
        __builtin_trap();
    /* lossless: plain text round trip (specials parsed re-render the same text, but a
     * BOS/EOS added by flags is not in the input). Bytes the reference drops (a merge
     * whose result is no token, spelled with characters that have no one-byte token;
     * the tiny BPE vocabulary has such merges on purpose) are counted, and only then
     * may the round trip lose them. */
    if (lossless && !(flags & (WL_TOK_ADD_BOS | WL_TOK_ADD_EOS))) {
        if (st.n_bytes_dropped == 0 && (bl != len || memcmp(back, text, len) != 0))
            __builtin_trap();
        if (st.n_bytes_dropped > 0 && bl + st.n_bytes_dropped != len)
            __builtin_trap();
    }

    struct wl_tok_decoder d;
    wl_tok_decoder_init(&d, t, WL_DETOK_SPECIAL);
    size_t cap = wl_tok_decoder_out_max(t);
    char *piece = malloc(cap);
    char *stream = malloc(3 * bl + 8);
    size_t sl = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        if (wl_tok_decoder_push(&d, ids[i], piece, cap, &k) != 0 ||
            !utf8_valid((unsigned char *)piece, k))
            __builtin_trap();
        if (sl + k > 3 * bl + 8)
            __builtin_trap();
        memcpy(stream + sl, piece, k);
        sl += k;
    }
    size_t k = 0;
    if (wl_tok_decoder_flush(&d, piece, cap, &k) != 0)
        __builtin_trap();
    memcpy(stream + sl, piece, k);
    sl += k;
    if (utf8_valid((unsigned char *)back, bl) && (sl != bl || memcmp(stream, back, bl) != 0))
        __builtin_trap();
    free(piece);
    free(stream);
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        setup();
    if (size == 0)
        return 0;
    uint8_t sel = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    unsigned flags = 0;
    if (sel & 0x80)
        flags |= WL_TOK_PARSE_SPECIAL;
    if (sel & 0x40)
        flags |= WL_TOK_ADD_BOS | WL_TOK_ADD_EOS;
    unsigned which = sel & 0x3F;
    /* 0..2 real, 3..10 tiny BPE per pre-tokenizer, 11 tiny SPM, others: all of them */
    if (which < N_REAL) {
        if (real[which])
            check(real[which], real_lossless[which], flags, text, len);
    } else if (which < N_REAL + N_PRE) {
        check(tiny_bpe[which - N_REAL], true, flags, text, len);
    } else if (which == N_REAL + N_PRE) {
        check(tiny_spm, true, flags, text, len);
    } else {
        for (size_t i = 0; i < N_REAL; i++)
            if (real[i])
                check(real[i], real_lossless[i], flags, text, len);
        for (size_t i = 0; i < N_PRE; i++)
            check(tiny_bpe[i], true, flags, text, len);
        check(tiny_spm, true, flags, text, len);
    }
    return 0;
}

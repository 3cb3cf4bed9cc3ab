/* Fuzz target: building a tokenizer from a vocabulary description
 * (wl_tok_build, engine/tokenizer_vocab.c): what tokenizer_gguf.c hands over
 * from a model file's tokenizer.ggml.* keys, which fuzz_gguf does not load
 * and fuzz_tokenizer only builds from fixed vocabularies. Input:
 *   byte 0: bit 0 model (SPM / BPE), bits 1-3 pre-tokenizer name (one
 *           unknown), bit 4 scores, bit 5 a Phi-3 model name, bits 6-7
 *           add_bos / add_eos forced on;
 *   bytes 1-7: BOS, EOS, EOT, EOM, UNK, SEP, PAD ids (0xFF the model's
 *           default, 0xFE absent, else any id, out of range included);
 *   bytes 8-13: the FIM prefix, suffix, middle, pad, repo and separator
 *           ids (tokenizer.ggml.fim_*_token_id as tokenizer_gguf.c hands
 *           them over), coded as the special ids;
 *   the rest: one token per line ('\n'); "M\t<left right>" is a merge
 *           instead, "<1-6>\t<text>" a token with that GGUF type.
 * Checks, trapping on failure: a refused vocabulary gives an error code and
 * a message and no tokenizer; a built one has one id per token, keeps every
 * token's text (an empty one is "[EMPTY_<id>]") and finds each text at its
 * id, its special ids are absent or in range, and tokenizing its own
 * texts (specials parsed) and a fixed text succeeds (or runs out of
 * memory: never another error, whatever the bytes) and gives ids in range
 * that detokenize without error. Its six FIM ids are absent or in range; an
 * id given in range is used as it is; a kind given none (or one outside the
 * vocabulary) takes the first of its names (llama.cpp's list, copied below
 * from tokenizer_vocab.c as the specification) that the vocabulary has,
 * which becomes a control token, or none; pad, repo and separator ids end
 * generation.
 */
#include "engine/tokenizer.h"

#include "wattlens/error.h"

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

#define MAX_TOKENS 512

static const char *const pres[8] = {"default", "gpt-2",     "llama-bpe",      "qwen2",
                                    "falcon",  "starcoder", "deepseek-coder", "no-such-pre"};

/* The FIM names per kind, in order (docs/internals/tokenizer.md). */
static const char *const fim_names[6][9] = {
    {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
     "<\xef\xbd\x9c"
     "fim\xe2\x96\x81"
     "begin\xef\xbd\x9c>",
     "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL},
    {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
     "<\xef\xbd\x9c"
     "fim\xe2\x96\x81hole\xef\xbd\x9c>",
     "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL},
    {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
     "<\xef\xbd\x9c"
     "fim\xe2\x96\x81"
     "end\xef\xbd\x9c>",
     "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL},
    {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL},
    {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL},
    {"<|file_sep|>", NULL},
};

/* The first of names that t's vocabulary has, or WL_TOK_NULL. */
static int32_t first_named(const wl_tokenizer *t, const char *const *names)
{
    for (; *names; names++) {
        const int32_t id = wl_tok_find_token(t, *names, strlen(*names));
        if (id != WL_TOK_NULL)
            return id;
    }
    return WL_TOK_NULL;
}

static int32_t special_id(uint8_t b)
{
    return b == 0xFF ? -2 : b == 0xFE ? WL_TOK_NULL : (int32_t)b - 8; /* -8..245 */
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
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 14)
        return 0;
    const uint8_t h = data[0];
    struct wl_tok_vocab_desc d;
    wl_tok_vocab_desc_init(&d);
    d.model = (h & 1) ? WL_TOK_MODEL_BPE : WL_TOK_MODEL_SPM;
    d.pre = pres[(h >> 1) & 7];
    d.name = (h & 0x20) ? "Phi-3 mini" : "fuzz";
    if (h & 0x40)
        d.add_bos = 1;
    if (h & 0x80)
        d.add_eos = 1;
    int32_t *sp[7] = {&d.bos, &d.eos, &d.eot, &d.eom, &d.unk, &d.sep, &d.pad};
    for (int i = 0; i < 7; i++)
        *sp[i] = special_id(data[1 + i]);
    int32_t *fim[6] = {&d.fim_pre, &d.fim_suf, &d.fim_mid, &d.fim_pad, &d.fim_rep, &d.fim_sep};
    for (int i = 0; i < 6; i++)
        *fim[i] = special_id(data[8 + i]);

    static struct wl_tok_text tokens[MAX_TOKENS], merges[MAX_TOKENS];
    static int32_t types[MAX_TOKENS];
    static float scores[MAX_TOKENS];
    size_t nt = 0, nm = 0;
    const char *p = (const char *)data + 14, *end = (const char *)data + size;
    while (p < end && nt < MAX_TOKENS && nm < MAX_TOKENS) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t len = (size_t)(e - p);
        if (len >= 2 && p[0] == 'M' && p[1] == '\t') {
            merges[nm++] = (struct wl_tok_text){p + 2, len - 2};
        } else {
            int32_t type = 1;
            if (len >= 2 && p[0] >= '1' && p[0] <= '6' && p[1] == '\t') {
                type = p[0] - '0';
                p += 2;
                len -= 2;
            }
            tokens[nt] = (struct wl_tok_text){p, len};
            types[nt] = type;
            scores[nt] = -(float)nt;
            nt++;
        }
        p = e + 1;
    }
    d.n_tokens = nt;
    d.tokens = tokens;
    d.types = types;
    d.scores = (h & 0x10) ? scores : NULL;
    d.n_merges = nm;
    d.merges = merges;

    wl_tokenizer *t = (wl_tokenizer *)&d; /* must be reset on failure */
    struct wl_errmsg err;
    int rc = wl_tok_build(&d, &t, &err);
    if (rc != 0) {
        CHECK(rc < 0 && t == NULL);
        CHECK(err.text[0] != '\0' || rc == WL_ENOMEM);
        return 0;
    }
    struct wl_tok_info inf;
    wl_tok_get_info(t, &inf);
    CHECK(inf.n_vocab == nt);
    const int32_t got[7] = {inf.bos, inf.eos, inf.eot, inf.eom, inf.unk, inf.sep, inf.pad};
    for (int i = 0; i < 7; i++)
        CHECK(got[i] == WL_TOK_NULL || (got[i] >= 0 && (uint32_t)got[i] < nt));
    const int32_t got_fim[6] = {inf.fim_pre, inf.fim_suf, inf.fim_mid,
                                inf.fim_pad, inf.fim_rep, inf.fim_sep};
    for (int i = 0; i < 6; i++) {
        const int32_t given = *fim[i];
        if (given >= 0 && (uint32_t)given < nt) {
            CHECK(got_fim[i] == given);
        } else {
            CHECK(got_fim[i] == first_named(t, fim_names[i]));
            if (got_fim[i] != WL_TOK_NULL)
                CHECK(wl_tok_token_attr(t, got_fim[i]) & WL_TOK_ATTR_CONTROL);
        }
        CHECK(got_fim[i] == WL_TOK_NULL || (uint32_t)got_fim[i] < nt);
        if (i >= 3 && got_fim[i] != WL_TOK_NULL)
            CHECK(wl_tok_is_eog(t, got_fim[i]));
    }
    size_t all_len = 0;
    for (uint32_t i = 0; i < nt; i++) {
        size_t len = 0;
        const char *txt = wl_tok_token_text(t, (int32_t)i, &len);
        CHECK(txt != NULL);
        if (tokens[i].len == 0) {
            char empty[32];
            int el = snprintf(empty, sizeof empty, "[EMPTY_%u]", i);
            CHECK(len == (size_t)el && memcmp(txt, empty, len) == 0);
        } else {
            CHECK(len == tokens[i].len && memcmp(txt, tokens[i].data, len) == 0);
        }
        CHECK(wl_tok_find_token(t, txt, len) == (int32_t)i);
        all_len += len;
    }
    /* every token's text in a row, then a fixed text with specials and bytes */
    char *all = malloc(all_len + 1);
    CHECK(all);
    size_t k = 0;
    for (uint32_t i = 0; i < nt; i++) {
        size_t len = 0;
        const char *txt = wl_tok_token_text(t, (int32_t)i, &len);
        memcpy(all + k, txt, len);
        k += len;
    }
    check_tokenize(t, nt, all, k);
    static const char fixed[] = "Hello world! <s> 123 \xe2\x96\x81x \xff\xc3\xa9 <|endoftext|>\n";
    check_tokenize(t, nt, fixed, sizeof fixed - 1);
    free(all);
    wl_tok_free(t);
    return 0;
}

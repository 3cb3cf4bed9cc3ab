/* Builds a wl_tokenizer from a vocabulary description: token texts, scores and
 * types, special ids and flags with llama.cpp's per-model defaults, the
 * attribute adjustments llama.cpp makes by token text (end-of-generation
 * tokens, and per FIM kind without an id in the file its first token by
 * name, become control tokens; Phi-3 special tokens strip spaces to their
 * right), the special-token trie, detokenized pieces, and for
 * byte-level BPE the vocabulary and merges decoded back to raw bytes.
 * The GGUF front end is tokenizer_gguf.c.
 *
 * Everything is copied into one pool owned by the tokenizer; the result is
 * immutable, so lookups are thread-safe. Loading is O(vocab + merges).
 */
#include "engine/tokenizer_impl.h"

#include "util/ascii.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/random.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pool --------------------------------------------------------------------- */

struct pool {
    char *p;
    size_t n, cap;
};

static int pool_add(struct pool *pl, const void *d, size_t n, uint32_t *off)
{
    if (n > UINT32_MAX - pl->n)
        return WL_ERANGE;
    if (pl->n + n > pl->cap) {
        size_t nc = pl->cap ? pl->cap : 4096;
        while (nc < pl->n + n)
            nc *= 2;
        char *q = realloc(pl->p, nc);
        if (!q)
            return WL_ENOMEM;
        pl->p = q;
        pl->cap = nc;
    }
    if (n)
        memcpy(pl->p + pl->n, d, n);
    *off = (uint32_t)pl->n;
    pl->n += n;
    return 0;
}

/* ---- pre-tokenizer names ------------------------------------------------------- */

struct pre_name {
    const char *name;
    enum wl_tok_pre pre;
    bool ignore_merges, add_bos;
};

/* Every name llama.cpp's llama_vocab::impl::load maps to a rule implemented
 * here, with the flags it sets (clean_spaces only changes llama.cpp's
 * detokenize, which we do not reproduce; add_sep is not used by tokenize).
 * Left out: names whose rule we lack, and two whose rule we have but that
 * need more than the rule: "modern-bert" (llama.cpp gives [MASK] LSTRIP when
 * general.name contains it) and "solar-open" (its <|end|> must leave the
 * end-of-generation set when <|calls|> and <|flush|> exist). */
static const struct pre_name pre_names[] = {
    {"default", WL_TOK_PRE_DEFAULT, false, false},
    {"llama3", WL_TOK_PRE_LLAMA3, true, true},
    {"llama-v3", WL_TOK_PRE_LLAMA3, true, true},
    {"llama-bpe", WL_TOK_PRE_LLAMA3, true, true},
    {"falcon3", WL_TOK_PRE_LLAMA3, true, true},
    {"falcon-h1", WL_TOK_PRE_LLAMA3, true, true},
    {"pixtral", WL_TOK_PRE_LLAMA3, true, true},
    {"midm-2.0", WL_TOK_PRE_LLAMA3, true, true},
    {"lfm2", WL_TOK_PRE_LLAMA3, true, true},
    {"jina-v5-nano", WL_TOK_PRE_LLAMA3, true, true},
    {"dbrx", WL_TOK_PRE_LLAMA3, false, false},
    {"smaug-bpe", WL_TOK_PRE_LLAMA3, false, false},
    {"deepseek-llm", WL_TOK_PRE_DEEPSEEK_LLM, false, false},
    {"deepseek-coder", WL_TOK_PRE_DEEPSEEK_CODER, false, false},
    {"falcon", WL_TOK_PRE_FALCON, false, false},
    {"gpt-2", WL_TOK_PRE_GPT2, false, false},
    {"mpt", WL_TOK_PRE_GPT2, false, false},
    {"olmo", WL_TOK_PRE_GPT2, false, false},
    {"phi-2", WL_TOK_PRE_GPT2, false, false},
    {"jais", WL_TOK_PRE_GPT2, false, false},
    {"jina-es", WL_TOK_PRE_GPT2, false, false},
    {"jina-de", WL_TOK_PRE_GPT2, false, false},
    {"jina-v2-es", WL_TOK_PRE_GPT2, false, false},
    {"jina-v2-de", WL_TOK_PRE_GPT2, false, false},
    {"jina-v1-en", WL_TOK_PRE_GPT2, false, false},
    {"jina-v2-code", WL_TOK_PRE_GPT2, false, false},
    {"roberta-bpe", WL_TOK_PRE_GPT2, false, false},
    {"gigachat", WL_TOK_PRE_GPT2, false, false},
    {"a.x-4.0", WL_TOK_PRE_GPT2, false, false},
    {"mellum", WL_TOK_PRE_GPT2, false, false},
    {"granite-docling", WL_TOK_PRE_GPT2, false, false},
    {"trillion", WL_TOK_PRE_GPT2, false, false},
    {"exaone4", WL_TOK_PRE_GPT2, false, false},
    {"starcoder", WL_TOK_PRE_STARCODER, false, false},
    {"refact", WL_TOK_PRE_STARCODER, false, false},
    {"command-r", WL_TOK_PRE_STARCODER, false, false},
    {"smollm", WL_TOK_PRE_STARCODER, false, false},
    {"codeshell", WL_TOK_PRE_STARCODER, false, false},
    {"exaone", WL_TOK_PRE_STARCODER, false, false},
    {"minerva-7b", WL_TOK_PRE_STARCODER, false, false},
    {"mellum2", WL_TOK_PRE_STARCODER, false, false},
    {"qwen2", WL_TOK_PRE_QWEN2, false, false},
    {"deepseek-r1-qwen", WL_TOK_PRE_QWEN2, false, false},
    {"kormo", WL_TOK_PRE_QWEN2, false, false},
    {"f2llmv2", WL_TOK_PRE_QWEN2, false, false},
    {"stablelm2", WL_TOK_PRE_QWEN2, false, false},
    {"megrez", WL_TOK_PRE_QWEN2, false, false},
    {"hunyuan", WL_TOK_PRE_QWEN2, false, false},
};

/* ---- token texts that llama.cpp treats specially -------------------------------- */

static const char *const eot_names[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<end_of_utterance>",
    NULL,
};
static const char *const eom_names[] = {"<|eom_id|>", NULL};
/* FIM token names per kind, in llama.cpp's order. For a kind whose id the
 * file does not give, the first name the vocabulary has is that kind's token
 * and becomes a control token; pad/repo/sep ids also end generation. */
static const char *const fim_pre_names[] = {
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<\xef\xbd\x9c"
    "fim\xe2\x96\x81"
    "begin\xef\xbd\x9c>",
    "<PRE>",
    "\xe2\x96\x81<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
    NULL,
};
static const char *const fim_suf_names[] = {
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<\xef\xbd\x9c"
    "fim\xe2\x96\x81hole\xef\xbd\x9c>",
    "<SUF>",
    "\xe2\x96\x81<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
    NULL,
};
static const char *const fim_mid_names[] = {
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<\xef\xbd\x9c"
    "fim\xe2\x96\x81"
    "end\xef\xbd\x9c>",
    "<MID>",
    "\xe2\x96\x81<MID>",
    "<|code_middle|>",
    "<|middle|>",
    NULL,
};
static const char *const fim_pad_names[] = {
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL,
};
static const char *const fim_rep_names[] = {
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL,
};
static const char *const fim_sep_names[] = {"<|file_sep|>", NULL};
static const char *const eog_names[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "[e~[",
    NULL,
};

static int32_t find_text(const wl_tokenizer *t, const char *s)
{
    return wl__tok_map_get(&t->text_map, t->pool, s, strlen(s), 0);
}

void wl_tok_vocab_desc_init(struct wl_tok_vocab_desc *d)
{
    memset(d, 0, sizeof(*d));
    d->bos = d->eos = d->eot = d->eom = d->unk = d->sep = d->pad = -2;
    d->fim_pre = d->fim_suf = d->fim_mid = d->fim_pad = d->fim_rep = d->fim_sep = -2;
    d->add_bos = d->add_eos = d->add_space_prefix = -1;
}

static unsigned attr_from_type(int32_t type)
{
    switch (type) {
    case 1:
        return WL_TOK_ATTR_NORMAL;
    case 2:
        return WL_TOK_ATTR_UNKNOWN;
    case 3:
        return WL_TOK_ATTR_CONTROL;
    case 4:
        return WL_TOK_ATTR_USER_DEFINED;
    case 5:
        return WL_TOK_ATTR_UNUSED;
    case 6:
        return WL_TOK_ATTR_BYTE;
    default:
        return WL_TOK_ATTR_UNDEFINED;
    }
}

static int32_t pick_id(int32_t given, int32_t dflt, uint32_t n_vocab, const char *what)
{
    if (dflt >= 0 && (uint32_t)dflt >= n_vocab)
        dflt = WL_TOK_NULL;
    if (given == -2)
        return dflt;
    if (given < 0)
        return WL_TOK_NULL;
    if ((uint32_t)given >= n_vocab) {
        wl_log_warn("tokenizer", "%s token id %d is outside the vocabulary (%u); using %d", what,
                    (int)given, n_vocab, (int)dflt);
        return dflt;
    }
    return given;
}

static int eog_add(wl_tokenizer *t, int32_t id)
{
    if (id == WL_TOK_NULL)
        return 0;
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return 0;
    int32_t *e = realloc(t->eog, (t->n_eog + 1) * sizeof(*e));
    if (!e)
        return WL_ENOMEM;
    t->eog = e;
    t->eog[t->n_eog++] = id;
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : (x > y);
}

/* Decodes a byte-level BPE spelling (GPT-2 byte-to-unicode characters) back to
 * raw bytes in out (capacity >= len). Returns the length or -1 when a
 * character is not in the map (the text cannot come out of byte-level BPE). */
static long bpe_decode(const char *s, size_t len, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = wl__utf8_decode((const unsigned char *)s + i, len - i, &cp);
        int b = l ? wl__tok_cp_to_byte(cp) : -1;
        if (b < 0)
            return -1;
        out[k++] = (char)b;
        i += l;
    }
    return (long)k;
}

static int trie_insert(wl_tokenizer *t, const char *s, size_t n, int32_t id, uint32_t *cap)
{
    if (n == 0)
        return 0;
    /* room for every node this text could add, so no pointer below moves */
    if ((size_t)t->n_trie + n > UINT32_MAX / 2)
        return WL_ERANGE;
    if (t->n_trie + n > *cap) {
        uint32_t nc = *cap;
        while (nc < t->n_trie + n)
            nc *= 2;
        struct wl__tok_trie_node *q = realloc(t->trie, nc * sizeof(*q));
        if (!q)
            return WL_ENOMEM;
        t->trie = q;
        *cap = nc;
    }
    uint32_t *slot = &t->trie_root[(unsigned char)s[0]];
    for (size_t i = 0;; i++) {
        uint32_t node = *slot;
        if (!node) {
            node = t->n_trie++;
            t->trie[node] = (struct wl__tok_trie_node){WL_TOK_NULL, 0, 0, (uint8_t)s[i]};
            *slot = node;
        }
        if (i + 1 == n) {
            if (t->trie[node].token == WL_TOK_NULL)
                t->trie[node].token = id;
            return 0;
        }
        /* find or append the child for s[i + 1] */
        slot = &t->trie[node].first_child;
        while (*slot && t->trie[*slot].byte != (uint8_t)s[i + 1])
            slot = &t->trie[*slot].next;
    }
}

/* llama.cpp lower-cases the whole general.name and looks for either form. */
static bool name_has_phi3(const char *name)
{
    return name && (wl_ascii_contains_ci(name, "phi-3") || wl_ascii_contains_ci(name, "phi3"));
}

/* llama.cpp gives <mask> LSTRIP when the pre-tokenizer name contains one of
 * these (jina-v2 embedding models), and then skips the Phi-3 name rule. */
static bool pre_has_jina_v2(const char *pre)
{
    return pre &&
           (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") || strstr(pre, "jina-v2-code"));
}

static void set_attr_by_text(wl_tokenizer *t, const char *text, unsigned bit, bool on)
{
    int32_t id = find_text(t, text);
    if (id == WL_TOK_NULL)
        return;
    if (on)
        t->tok[id].attr |= bit;
    else
        t->tok[id].attr &= (uint16_t)~bit;
}

static int build_pieces(wl_tokenizer *t, struct pool *pl)
{
    char *tmp = NULL;
    size_t tmp_cap = 0;
    int rc = 0;
    for (uint32_t i = 0; i < t->n_vocab && rc == 0; i++) {
        struct wl__tok_token *tk = &t->tok[i];
        const char *txt = pl->p + tk->text_off;
        size_t n = tk->text_len;
        if (n + 1 > tmp_cap) {
            tmp_cap = (n + 1) * 2;
            char *q = realloc(tmp, tmp_cap);
            if (!q) {
                rc = WL_ENOMEM;
                break;
            }
            tmp = q;
        }
        size_t k = 0;
        unsigned a = tk->attr;
        if (a & (WL_TOK_ATTR_CONTROL | WL_TOK_ATTR_UNKNOWN | WL_TOK_ATTR_USER_DEFINED)) {
            memcpy(tmp, txt, n);
            k = n;
        } else if (a & WL_TOK_ATTR_NORMAL) {
            if (t->model == WL_TOK_MODEL_SPM) {
                for (size_t j = 0; j < n;) {
                    if (j + 3 <= n && memcmp(txt + j, "\xe2\x96\x81", 3) == 0) {
                        tmp[k++] = ' ';
                        j += 3;
                    } else {
                        tmp[k++] = txt[j++];
                    }
                }
            } else {
                /* byte-level: map each character back to its byte; a character
                 * outside the map is kept as its own UTF-8 bytes */
                for (size_t j = 0; j < n;) {
                    uint32_t cp;
                    size_t l = wl__utf8_decode((const unsigned char *)txt + j, n - j, &cp);
                    int b = l ? wl__tok_cp_to_byte(cp) : -1;
                    if (b >= 0) {
                        tmp[k++] = (char)b;
                    } else {
                        l = l ? l : 1;
                        memcpy(tmp + k, txt + j, l);
                        k += l;
                    }
                    j += l;
                }
            }
        } else if (a & WL_TOK_ATTR_BYTE) {
            unsigned v = 0;
            char hex[3] = {0};
            if (n == 6 && memcmp(txt, "<0x", 3) == 0 && txt[5] == '>' &&
                isxdigit((unsigned char)txt[3]) && isxdigit((unsigned char)txt[4])) {
                hex[0] = txt[3];
                hex[1] = txt[4];
                sscanf(hex, "%x", &v);
                tmp[k++] = (char)v;
            }
        }
        uint32_t off = 0;
        rc = pool_add(pl, tmp, k, &off);
        tk->piece_off = off;
        tk->piece_len = (uint32_t)k;
        if (k > t->max_piece_len)
            t->max_piece_len = k;
    }
    free(tmp);
    return rc;
}

/* SPM: the set of adjacent character pairs inside any token (see impl.h). */
static int build_spm_pairs(wl_tokenizer *t, const struct pool *pl)
{
    size_t n_pairs = 0;
    for (uint32_t i = 0; i < t->n_vocab; i++)
        n_pairs += t->tok[i].text_len;
    size_t cap = 1024;
    while (cap < n_pairs * 2)
        cap *= 2;
    t->spm_pairs = calloc(cap, sizeof(*t->spm_pairs));
    if (!t->spm_pairs)
        return WL_ENOMEM;
    t->spm_pairs_mask = cap - 1;
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        const unsigned char *s = (const unsigned char *)pl->p + t->tok[i].text_off;
        size_t n = t->tok[i].text_len;
        uint32_t prev = 0;
        for (size_t j = 0; j < n;) {
            uint32_t cp;
            size_t l = wl__utf8_decode(s + j, n - j, &cp);
            if (l == 0) {
                cp = 0x110000u + s[j];
                l = 1;
            }
            if (j > 0) {
                uint64_t key = (((uint64_t)prev << 21) | cp) + 1;
                size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & t->spm_pairs_mask;
                while (t->spm_pairs[h] && t->spm_pairs[h] != key)
                    h = (h + 1) & t->spm_pairs_mask;
                t->spm_pairs[h] = key;
            }
            prev = cp;
            j += l;
        }
    }
    return 0;
}

static int build_bpe_tables(wl_tokenizer *t, struct pool *pl, const struct wl_tok_vocab_desc *d,
                            struct wl_errmsg *err)
{
    int rc = wl__tok_map_init(&t->bpe_map, t->n_vocab, t->hash_key);
    if (rc == 0)
        rc = wl__tok_map_init(&t->merge_map, d->n_merges, t->hash_key);
    if (rc)
        return rc;
    size_t maxlen = 0;
    for (uint32_t i = 0; i < t->n_vocab; i++)
        if (t->tok[i].text_len > maxlen)
            maxlen = t->tok[i].text_len;
    for (size_t i = 0; i < d->n_merges; i++)
        if (d->merges[i].len > maxlen)
            maxlen = d->merges[i].len;
    char *tmp = malloc(maxlen + 1);
    if (!tmp)
        return WL_ENOMEM;
    for (uint32_t i = 0; i < t->n_vocab && rc == 0; i++) {
        long k = bpe_decode(pl->p + t->tok[i].text_off, t->tok[i].text_len, tmp);
        if (k <= 0)
            continue; /* not reachable by byte-level merging */
        uint32_t off;
        rc = pool_add(pl, tmp, (size_t)k, &off);
        if (rc == 0)
            rc = wl__tok_map_put(&t->bpe_map, pl->p, off, (uint32_t)k, 0, (int32_t)i, true, NULL);
    }
    for (size_t i = 0; i < d->n_merges && rc == 0; i++) {
        const char *m = d->merges[i].data;
        size_t n = d->merges[i].len;
        const char *sp = n > 1 ? memchr(m + 1, ' ', n - 1) : NULL;
        if (!sp)
            continue;
        size_t la = (size_t)(sp - m);
        long ka = bpe_decode(m, la, tmp);
        if (ka <= 0)
            continue;
        long kb = bpe_decode(sp + 1, n - la - 1, tmp + ka);
        if (kb <= 0)
            continue;
        uint32_t off;
        rc = pool_add(pl, tmp, (size_t)(ka + kb), &off);
        if (rc == 0)
            rc = wl__tok_map_put(&t->merge_map, pl->p, off, (uint32_t)ka, (uint32_t)kb, (int32_t)i,
                                 true, NULL);
    }
    t->n_merges = (uint32_t)t->merge_map.n;
    free(tmp);
    if (rc == 0 && d->n_merges > 0 && t->n_merges == 0)
        rc = wl_errmsg_set(err, WL_EFORMAT, "none of the %zu BPE merges is usable", d->n_merges);
    /* last-resort single-byte lookups: each byte of a raw byte's spelling */
    for (int b = 0; b < 256; b++) {
        char enc[4];
        size_t l = wl__utf8_encode(wl__tok_byte_to_cp((uint8_t)b), enc);
        t->bpe_fb[b][0] = t->bpe_fb[b][1] = WL_TOK_NULL;
        for (size_t j = 0; j < l && j < 2; j++)
            t->bpe_fb[b][j] = wl__tok_map_get(&t->text_map, pl->p, enc + j, 1, 0);
        const char raw = (char)b;
        const int32_t id = wl__tok_map_get(&t->bpe_map, pl->p, &raw, 1, 0);
        t->bpe_lost[b] = id == WL_TOK_NULL ||
                         (t->tok[id].attr &
                          (WL_TOK_ATTR_CONTROL | WL_TOK_ATTR_USER_DEFINED | WL_TOK_ATTR_UNKNOWN));
    }
    return rc;
}

int wl_tok_build(const struct wl_tok_vocab_desc *d, wl_tokenizer **out, struct wl_errmsg *err)
{
    uint64_t t0 = wl_clock_now_ns();
    struct pool pl = {0};
    wl_tokenizer *t = NULL;
    uint32_t trie_cap = 64;
    int rc = 0;

    *out = NULL;
    wl_errmsg_clear(err);
    if (!d || (d->model != WL_TOK_MODEL_SPM && d->model != WL_TOK_MODEL_BPE))
        return wl_errmsg_set(err, WL_EINVAL, "unknown tokenizer model type");
    if (d->n_tokens == 0 || !d->tokens)
        return wl_errmsg_set(err, WL_EFORMAT, "the vocabulary has no tokens");
    if (d->n_tokens > INT32_MAX / 2)
        return wl_errmsg_set(err, WL_ERANGE, "vocabulary of %zu tokens is too large", d->n_tokens);
    if (d->n_merges && !d->merges)
        return wl_errmsg_set(err, WL_EINVAL, "merges count without merges");

    t = calloc(1, sizeof(*t));
    if (!t)
        return WL_ENOMEM;
    t->model = d->model;
    t->n_vocab = (uint32_t)d->n_tokens;
    wl_random_bytes(t->hash_key, sizeof t->hash_key); /* unknown to the file's author */

    /* pre-tokenizer and per-model defaults (llama.cpp's) */
    int32_t dbos, deos, dunk;
    if (d->model == WL_TOK_MODEL_SPM) {
        t->pre = WL_TOK_PRE_NONE;
        /* any name (SPM has no pre-tokenizer): cut between characters */
        wl_utf8_copy(t->pre_name, sizeof(t->pre_name), d->pre ? d->pre : "default");
        t->add_bos = true;
        t->add_space_prefix = true;
        dbos = 1;
        deos = 2;
        dunk = 0;
    } else {
        const char *pn = d->pre ? d->pre : "default";
        const struct pre_name *hit = NULL;
        for (size_t i = 0; i < sizeof(pre_names) / sizeof(pre_names[0]); i++)
            if (strcmp(pre_names[i].name, pn) == 0)
                hit = &pre_names[i];
        if (!hit) {
            /* llama.cpp may know the name: it is not ours that it is unknown */
            rc = wl_errmsg_set(err, WL_ENOTSUP,
                               "pre-tokenizer '%s' (tokenizer.ggml.pre) is not supported", pn);
            goto fail;
        }
        if (!d->pre)
            wl_log_warn("tokenizer", "no pre-tokenizer type in the model; using 'default'");
        snprintf(t->pre_name, sizeof(t->pre_name), "%s", pn);
        t->pre = hit->pre;
        t->ignore_merges = hit->ignore_merges;
        t->add_bos = hit->add_bos;
        dbos = deos = 11;
        dunk = WL_TOK_NULL;
    }
    if (d->add_space_prefix >= 0)
        t->add_space_prefix = d->add_space_prefix;

    /* tokens */
    t->tok = calloc(t->n_vocab, sizeof(*t->tok));
    if (!t->tok) {
        rc = WL_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        const char *s = d->tokens[i].data;
        size_t n = d->tokens[i].len;
        char empty[32];
        if (n == 0 || !s) {
            n = (size_t)snprintf(empty, sizeof(empty), "[EMPTY_%u]", i);
            s = empty;
        }
        if ((rc = pool_add(&pl, s, n, &t->tok[i].text_off)) != 0)
            goto fail;
        t->tok[i].text_len = (uint32_t)n;
        t->tok[i].score = d->scores ? d->scores[i] : 0.0f;
        t->tok[i].attr = (uint16_t)(d->types ? attr_from_type(d->types[i]) : WL_TOK_ATTR_NORMAL);
    }
    if ((rc = wl__tok_map_init(&t->text_map, t->n_vocab, t->hash_key)) != 0)
        goto fail;
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        int32_t prev;
        rc = wl__tok_map_put(&t->text_map, pl.p, t->tok[i].text_off, t->tok[i].text_len, 0,
                             (int32_t)i, true, &prev);
        if (rc)
            goto fail;
        if (prev != WL_TOK_NULL) {
            /* the text from the file, 64 bytes or 61 cut between characters
             * and "..." (head holds every character that starts before the
             * cut) */
            char head[68], shown[65];
            uint32_t n = t->tok[i].text_len < sizeof head - 1 ? t->tok[i].text_len
                                                              : (uint32_t)sizeof head - 1;
            memcpy(head, pl.p + t->tok[i].text_off, n);
            head[n] = '\0';
            wl_utf8_clip(shown, sizeof shown, head);
            rc = wl_errmsg_set(err, WL_EFORMAT,
                               "duplicate token in vocabulary: '%s' has ids %d and %u", shown,
                               (int)prev, i);
            goto fail;
        }
    }
    t->pool = pl.p; /* find_text() reads through t->pool until the pool moves again */

    /* special ids and flags */
    t->bos = pick_id(d->bos, dbos, t->n_vocab, "BOS");
    t->eos = pick_id(d->eos, deos, t->n_vocab, "EOS");
    t->eot = pick_id(d->eot, WL_TOK_NULL, t->n_vocab, "EOT");
    t->eom = pick_id(d->eom, WL_TOK_NULL, t->n_vocab, "EOM");
    t->unk = pick_id(d->unk, dunk, t->n_vocab, "UNK");
    t->sep = pick_id(d->sep, WL_TOK_NULL, t->n_vocab, "SEP");
    t->pad = pick_id(d->pad, WL_TOK_NULL, t->n_vocab, "PAD");
    if (d->add_bos >= 0)
        t->add_bos = d->add_bos;
    if (d->add_eos >= 0)
        t->add_eos = d->add_eos;
    if (t->add_bos && t->bos == WL_TOK_NULL) {
        rc = wl_errmsg_set(err, WL_EFORMAT, "add_bos_token is true but there is no BOS token");
        goto fail;
    }
    if (t->add_eos && t->eos == WL_TOK_NULL) {
        rc = wl_errmsg_set(err, WL_EFORMAT, "add_eos_token is true but there is no EOS token");
        goto fail;
    }

    /* attribute adjustments by token text, end-of-generation set */
    for (const char *const *n = eot_names; *n; n++) {
        int32_t id = find_text(t, *n);
        if (id == WL_TOK_NULL)
            continue;
        if (t->eot == WL_TOK_NULL)
            t->eot = id;
        t->tok[id].attr |= WL_TOK_ATTR_CONTROL;
    }
    for (const char *const *n = eom_names; *n; n++) {
        int32_t id = find_text(t, *n);
        if (id == WL_TOK_NULL)
            continue;
        if (t->eom == WL_TOK_NULL)
            t->eom = id;
        t->tok[id].attr |= WL_TOK_ATTR_CONTROL;
    }
    /* FIM, as llama.cpp: an id from the file stays as it is; only a kind
     * without one is looked up by name, and only its first match changes */
    const struct {
        int32_t given, *id;
        const char *what;
        const char *const *names;
    } fim[] = {
        {d->fim_pre, &t->fim_pre, "FIM prefix", fim_pre_names},
        {d->fim_suf, &t->fim_suf, "FIM suffix", fim_suf_names},
        {d->fim_mid, &t->fim_mid, "FIM middle", fim_mid_names},
        {d->fim_pad, &t->fim_pad, "FIM pad", fim_pad_names},
        {d->fim_rep, &t->fim_rep, "FIM repo", fim_rep_names},
        {d->fim_sep, &t->fim_sep, "FIM separator", fim_sep_names},
    };
    for (size_t k = 0; k < sizeof(fim) / sizeof(fim[0]); k++) {
        *fim[k].id = pick_id(fim[k].given, WL_TOK_NULL, t->n_vocab, fim[k].what);
        for (const char *const *n = fim[k].names; *fim[k].id == WL_TOK_NULL && *n; n++) {
            int32_t id = find_text(t, *n);
            if (id == WL_TOK_NULL)
                continue;
            *fim[k].id = id;
            t->tok[id].attr |= WL_TOK_ATTR_CONTROL;
        }
    }
    if ((rc = eog_add(t, t->fim_pad)) || (rc = eog_add(t, t->fim_rep)) ||
        (rc = eog_add(t, t->fim_sep)))
        goto fail;
    for (const char *const *n = eog_names; *n; n++) {
        int32_t id = find_text(t, *n);
        if (id == WL_TOK_NULL)
            continue;
        t->tok[id].attr |= WL_TOK_ATTR_CONTROL;
        if ((rc = eog_add(t, id)) != 0)
            goto fail;
    }
    if ((rc = eog_add(t, t->eos)) || (rc = eog_add(t, t->eot)) || (rc = eog_add(t, t->eom)))
        goto fail;
    if (t->n_eog)
        qsort(t->eog, t->n_eog, sizeof(*t->eog), cmp_i32);

    /* special tokens: the ones matched in text */
    t->trie = malloc(trie_cap * sizeof(*t->trie));
    if (!t->trie) {
        rc = WL_ENOMEM;
        goto fail;
    }
    t->n_trie = 1; /* node 0 means "none" */
    const unsigned special = WL_TOK_ATTR_CONTROL | WL_TOK_ATTR_USER_DEFINED | WL_TOK_ATTR_UNKNOWN;
    bool jina = pre_has_jina_v2(d->pre);
    bool phi3 = !jina && name_has_phi3(d->name);
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        if (!(t->tok[i].attr & special))
            continue;
        t->n_special++;
        if (phi3)
            t->tok[i].attr |= WL_TOK_ATTR_RSTRIP;
        rc = trie_insert(t, pl.p + t->tok[i].text_off, t->tok[i].text_len, (int32_t)i, &trie_cap);
        if (rc)
            goto fail;
    }
    if (jina)
        set_attr_by_text(t, "<mask>", WL_TOK_ATTR_LSTRIP, true);
    if (phi3) {
        set_attr_by_text(t, "</s>", WL_TOK_ATTR_RSTRIP, true);
        set_attr_by_text(t, "<unk>", WL_TOK_ATTR_RSTRIP, false);
        set_attr_by_text(t, "<s>", WL_TOK_ATTR_RSTRIP, false);
        set_attr_by_text(t, "<|endoftext|>", WL_TOK_ATTR_RSTRIP, false);
    }

    /* byte fallback (SPM) */
    for (int b = 0; b < 256; b++) {
        char hx[8];
        snprintf(hx, sizeof(hx), "<0x%02X>", (unsigned)b);
        int32_t id = find_text(t, hx);
        if (id == WL_TOK_NULL) {
            char c = (char)b;
            id = wl__tok_map_get(&t->text_map, pl.p, &c, 1, 0);
        }
        t->spm_byte[b] = id;
    }

    if ((rc = build_pieces(t, &pl)) != 0)
        goto fail;
    t->pool = pl.p;
    if (d->model == WL_TOK_MODEL_BPE && (rc = build_bpe_tables(t, &pl, d, err)) != 0)
        goto fail;
    if (d->model == WL_TOK_MODEL_SPM && (rc = build_spm_pairs(t, &pl)) != 0)
        goto fail;
    t->pool = pl.p;
    t->pool_len = pl.n;
    t->load_ns = wl_clock_now_ns() - t0;
    *out = t;
    return 0;
fail:
    if (t) {
        t->pool = pl.p;
        wl_tok_free(t);
    } else {
        free(pl.p);
    }
    if (rc == WL_ENOMEM && err && err->text[0] == 0)
        wl_errmsg_set(err, rc, "out of memory while building the tokenizer");
    return rc;
}

void wl_tok_free(wl_tokenizer *t)
{
    if (!t)
        return;
    wl__tok_map_free(&t->text_map);
    wl__tok_map_free(&t->bpe_map);
    wl__tok_map_free(&t->merge_map);
    free(t->tok);
    free(t->pool);
    free(t->trie);
    free(t->eog);
    free(t->spm_pairs);
    free(t);
}

/* ---- queries --------------------------------------------------------------------- */

void wl_tok_get_info(const wl_tokenizer *t, struct wl_tok_info *o)
{
    memset(o, 0, sizeof(*o));
    o->model = t->model;
    o->pre = t->pre;
    o->model_name = t->model == WL_TOK_MODEL_SPM ? "llama" : "gpt2";
    o->pre_name = t->pre_name;
    o->n_vocab = t->n_vocab;
    o->n_merges = t->n_merges;
    o->n_special = t->n_special;
    o->bos = t->bos;
    o->eos = t->eos;
    o->eot = t->eot;
    o->eom = t->eom;
    o->unk = t->unk;
    o->sep = t->sep;
    o->pad = t->pad;
    o->fim_pre = t->fim_pre;
    o->fim_suf = t->fim_suf;
    o->fim_mid = t->fim_mid;
    o->fim_pad = t->fim_pad;
    o->fim_rep = t->fim_rep;
    o->fim_sep = t->fim_sep;
    o->add_bos = t->add_bos;
    o->add_eos = t->add_eos;
    o->add_space_prefix = t->add_space_prefix;
    o->ignore_merges = t->ignore_merges;
    o->max_piece_len = t->max_piece_len;
    o->load_ns = t->load_ns;
}

unsigned wl_tok_token_attr(const wl_tokenizer *t, int32_t id)
{
    return (id >= 0 && (uint32_t)id < t->n_vocab) ? t->tok[id].attr : 0;
}

const char *wl_tok_token_text(const wl_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (uint32_t)id >= t->n_vocab) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = t->tok[id].text_len;
    return t->pool + t->tok[id].text_off;
}

int32_t wl_tok_find_token(const wl_tokenizer *t, const char *text, size_t len)
{
    return wl__tok_map_get(&t->text_map, t->pool, text, len, 0);
}

bool wl_tok_is_eog(const wl_tokenizer *t, int32_t id)
{
    return id != WL_TOK_NULL && t->n_eog &&
           bsearch(&id, t->eog, t->n_eog, sizeof(*t->eog), cmp_i32) != NULL;
}

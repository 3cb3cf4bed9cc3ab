/* Tokenizers loaded from GGUF `tokenizer.ggml.*` metadata: SentencePiece-style
 * BPE ("llama": score-driven merges, byte fallback) and byte-level BPE
 * ("gpt2": byte-to-unicode map, merge ranks, per-model pre-tokenizer), plus
 * detokenization and an incremental UTF-8-safe decoder for streaming.
 * llama.cpp's tokenizer is the reference; docs/internals/tokenizer.md lists the
 * rules and the few documented deviations (invalid UTF-8 is kept losslessly).
 *
 * Lifetimes: a wl_tokenizer owns copies of everything it needs (the GGUF file
 * may be closed after loading). Every pointer it returns stays valid until
 * wl_tok_free(). Thread-safety: read-only after loading, so any number of
 * threads may tokenize/detokenize concurrently (all scratch memory is per
 * call); a struct wl_tok_decoder belongs to one thread.
 */
#ifndef WL_ENGINE_TOKENIZER_H
#define WL_ENGINE_TOKENIZER_H

#include "engine/gguf.h"
#include "util/errmsg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_TOK_NULL (-1) /* "no such token" */

typedef struct wl_tokenizer wl_tokenizer;

enum wl_tok_model {
    WL_TOK_MODEL_SPM = 1, /* tokenizer.ggml.model = "llama" */
    WL_TOK_MODEL_BPE = 2, /* tokenizer.ggml.model = "gpt2" */
};

/* Pre-tokenizers of byte-level BPE (tokenizer.ggml.pre); SPM uses NONE. */
enum wl_tok_pre {
    WL_TOK_PRE_NONE = 0,
    WL_TOK_PRE_DEFAULT,      /* "default" or missing */
    WL_TOK_PRE_GPT2,         /* "gpt-2", "mpt", "olmo", "phi-2", "jais", "jina-v2-code", ... */
    WL_TOK_PRE_LLAMA3,       /* "llama3", "llama-bpe", "falcon3", "pixtral", "lfm2", "dbrx", ... */
    WL_TOK_PRE_QWEN2,        /* "qwen2", "deepseek-r1-qwen", "kormo", "stablelm2", "megrez", ... */
    WL_TOK_PRE_STARCODER,    /* "starcoder", "refact", "command-r", "smollm", "mellum2", ... */
    WL_TOK_PRE_DEEPSEEK_LLM, /* "deepseek-llm" */
    WL_TOK_PRE_DEEPSEEK_CODER, /* "deepseek-coder" */
    WL_TOK_PRE_FALCON,         /* "falcon" */
};

/* Token attributes (bit set), from tokenizer.ggml.token_type plus the
 * adjustments llama.cpp makes at load time. */
enum wl_tok_attr {
    WL_TOK_ATTR_UNDEFINED = 0,
    WL_TOK_ATTR_UNKNOWN = 1 << 0,
    WL_TOK_ATTR_UNUSED = 1 << 1,
    WL_TOK_ATTR_NORMAL = 1 << 2,
    WL_TOK_ATTR_CONTROL = 1 << 3,
    WL_TOK_ATTR_USER_DEFINED = 1 << 4,
    WL_TOK_ATTR_BYTE = 1 << 5,
    WL_TOK_ATTR_LSTRIP = 1 << 7, /* strip whitespace left of it when splitting specials */
    WL_TOK_ATTR_RSTRIP = 1 << 8, /* ... and right of it */
};

/* One string of a vocabulary description: len bytes, need not be NUL-terminated. */
struct wl_tok_text {
    const char *data;
    size_t len;
};

/* A vocabulary described in memory (what the GGUF loader extracts; tests build
 * small ones by hand). Nothing is retained: wl_tok_build copies it all. */
struct wl_tok_vocab_desc {
    enum wl_tok_model model;
    const char *pre;  /* BPE pre-tokenizer name; NULL = "default" */
    const char *name; /* general.name (some per-model rules key on it); may be NULL */
    size_t n_tokens;
    const struct wl_tok_text *tokens;
    const float *scores;  /* n_tokens or NULL (all 0) */
    const int32_t *types; /* GGUF token types (1 normal, 2 unknown, 3 control,
                             4 user-defined, 5 unused, 6 byte) or NULL (all normal) */
    size_t n_merges;
    const struct wl_tok_text *merges; /* BPE: "left right", rank = index */
    /* Special ids: WL_TOK_NULL = absent, -2 = the model type's default. */
    int32_t bos, eos, eot, eom, unk, sep, pad;
    /* Fill-in-the-middle ids (prefix, suffix, middle, pad, repo, file
     * separator), same convention (no default: a kind without an id takes
     * the first token named like it, see tokenizer.md). */
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    /* -1 = the model type's default, 0 = false, 1 = true. */
    int add_bos, add_eos, add_space_prefix;
};

/* Fills d with "everything default" (ids -2, flags -1). */
void wl_tok_vocab_desc_init(struct wl_tok_vocab_desc *d);

/* Builds a tokenizer from d. WL_EINVAL / WL_EFORMAT / WL_ENOTSUP with a
 * message in err (e.g. "pre-tokenizer 'x' (tokenizer.ggml.pre) is not
 * supported", "duplicate token ..."). */
int wl_tok_build(const struct wl_tok_vocab_desc *d, wl_tokenizer **out, struct wl_errmsg *err);

/* Loads from an open GGUF (tokenizer.ggml.* keys). */
int wl_tok_load_gguf(const wl_gguf *g, wl_tokenizer **out, struct wl_errmsg *err);

/* Opens path, loads the tokenizer, closes the file. Every message of err
 * names the file, as wl_model_load's do. */
int wl_tok_load_file(const char *path, wl_tokenizer **out, struct wl_errmsg *err);

/* Frees; accepts NULL. */
void wl_tok_free(wl_tokenizer *t);

struct wl_tok_info {
    enum wl_tok_model model;
    enum wl_tok_pre pre;
    const char *model_name; /* "llama" or "gpt2" */
    const char *pre_name;   /* as given in the file ("default" when missing), at most
                               47 bytes cut between characters; not escaped */
    uint32_t n_vocab;
    uint32_t n_merges;  /* merges actually usable (BPE) */
    uint32_t n_special; /* control/user-defined/unknown tokens matched in text */
    int32_t bos, eos, eot, eom, unk, sep, pad; /* WL_TOK_NULL when absent */
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    size_t max_piece_len; /* longest detokenized piece, bytes */
    uint64_t load_ns;     /* time spent building the tables */
};

void wl_tok_get_info(const wl_tokenizer *t, struct wl_tok_info *out);

/* Attribute bits of id (0 for an id out of range). */
unsigned wl_tok_token_attr(const wl_tokenizer *t, int32_t id);
/* Vocabulary text of id (as stored, e.g. "▁the" or "Ġthe"); NULL when out of range. */
const char *wl_tok_token_text(const wl_tokenizer *t, int32_t id, size_t *len);
/* Exact lookup of a vocabulary text; WL_TOK_NULL when absent. */
int32_t wl_tok_find_token(const wl_tokenizer *t, const char *text, size_t len);
/* True for tokens that end generation (EOS, EOT, EOM, "<|im_end|>"-like). */
bool wl_tok_is_eog(const wl_tokenizer *t, int32_t id);

/* ---- tokenize --------------------------------------------------------------- */

#define WL_TOK_ADD_BOS (1u << 0)       /* prepend BOS if the model asks for it */
#define WL_TOK_ADD_EOS (1u << 1)       /* append EOS if the model asks for it */
#define WL_TOK_PARSE_SPECIAL (1u << 2) /* recognise control tokens written in the text */

/* Profiling counters. Every tokenize call ADDS to the struct (zero it first),
 * so a caller can sum over many calls. */
struct wl_tok_stats {
    uint64_t n_calls;
    uint64_t n_bytes;         /* input bytes */
    uint64_t n_tokens;        /* output tokens */
    uint64_t n_special;       /* special tokens recognised in the text */
    uint64_t n_fragments;     /* text pieces between special tokens */
    uint64_t n_words;         /* pre-tokenizer words (BPE) */
    uint64_t n_symbols;       /* initial symbols fed to merging */
    uint64_t n_lookups;       /* vocabulary hash lookups */
    uint64_t n_rank_lookups;  /* BPE merge-rank hash lookups */
    uint64_t n_candidates;    /* merge candidates queued */
    uint64_t n_merges;        /* merges applied */
    uint64_t n_stale;         /* queued candidates discarded as outdated */
    uint64_t n_byte_fallback; /* tokens emitted by byte fallback */
    uint64_t n_bytes_dropped; /* bytes with no token (as llama.cpp: dropped) */
    uint64_t n_bytes_replaced; /* BPE: invalid UTF-8 bytes tokenized as U+FFFD */
    uint64_t n_cache_hits;    /* BPE word cache (per call) */
    uint64_t n_cache_misses;
    uint64_t t_total_ns;   /* wall time (monotonic clock) */
    uint64_t t_cpu_ns;     /* CPU time of the calling thread (robust on busy machines) */
    uint64_t t_special_ns; /* splitting out special tokens */
    uint64_t t_pretok_ns;  /* pre-tokenizer (word splitting) */
    uint64_t t_merge_ns;   /* merging + lookups */
};

/* The longest text one call tokenizes: 1 GiB. Offsets are 32-bit, and a
 * SentencePiece fragment grows up to 3x when its spaces become "▁". */
#define WL_TOK_MAX_TEXT_BYTES ((size_t)1 << 30)

/* Tokenizes len bytes of text (any bytes; invalid UTF-8 is handled, see the
 * internals doc) into ids[0..cap). Returns 0 with *n_out tokens, or WL_EFULL
 * with *n_out = the number needed; WL_ERANGE when len exceeds
 * WL_TOK_MAX_TEXT_BYTES (checked before text is read). stats may be NULL. */
int wl_tok_tokenize(const wl_tokenizer *t, const char *text, size_t len, unsigned flags,
                    int32_t *ids, size_t cap, size_t *n_out, struct wl_tok_stats *stats);

/* Same, into a malloc'ed array (*ids_out, caller frees; NULL when 0 tokens). */
int wl_tok_tokenize_alloc(const wl_tokenizer *t, const char *text, size_t len, unsigned flags,
                          int32_t **ids_out, size_t *n_out, struct wl_tok_stats *stats);

/* Derived figures (wall time; *_cpu: per CPU second); 0 when the denominator is 0. */
double wl_tok_stats_tokens_per_s(const struct wl_tok_stats *s);
double wl_tok_stats_mb_per_s(const struct wl_tok_stats *s);
double wl_tok_stats_mb_per_cpu_s(const struct wl_tok_stats *s);
double wl_tok_stats_cache_hit_rate(const struct wl_tok_stats *s);

/* True when the tokenizer did not take every input byte as it is: invalid
 * UTF-8 bytes the vocabulary cannot spell were tokenized as U+FFFD
 * (n_bytes_replaced) or bytes without any token were dropped
 * (n_bytes_dropped). buf then says so with the counts, in one line without
 * a trailing period, for the commands to print as a warning; "" otherwise. */
bool wl_tok_stats_input_changed(const struct wl_tok_stats *s, char *buf, size_t cap);

/* ---- detokenize ------------------------------------------------------------- */

#define WL_DETOK_SPECIAL (1u << 0)    /* render control/unknown tokens as their text */
#define WL_DETOK_KEEP_SPACE (1u << 1) /* keep the SentencePiece prefix space */

/* The bytes one token stands for (no prefix-space stripping): SPM "▁" -> ' ',
 * byte tokens -> their byte, byte-level BPE -> original bytes, user-defined ->
 * text; control/unknown -> "" unless WL_DETOK_SPECIAL. Points into t.
 * WL_EINVAL for an id out of range. */
int wl_tok_token_piece(const wl_tokenizer *t, int32_t id, unsigned flags, const char **piece,
                       size_t *len);

/* Concatenated pieces of ids. With SPM models that have add_space_prefix,
 * one leading space is dropped from the first text piece at the start and
 * after BOS or any special token (the space the tokenizer inserted there),
 * unless WL_DETOK_KEEP_SPACE; byte-level BPE inserts none, so nothing is
 * dropped there even when the file sets add_space_prefix. Writes raw bytes (may be invalid UTF-8 if
 * the ids are), NUL-terminated when there is room. Returns 0 with *len_out, or WL_EFULL with
 * *len_out = bytes needed (without NUL), WL_EINVAL on a bad id. */
int wl_tok_detokenize(const wl_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                      char *buf, size_t cap, size_t *len_out);
/* Same into a malloc'ed NUL-terminated string (caller frees). */
int wl_tok_detokenize_alloc(const wl_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                            char **text_out, size_t *len_out);

/* ---- streaming decoder -------------------------------------------------------
 * Feed tokens one at a time; each push returns only complete UTF-8 characters
 * (bytes of a character split across tokens are held back). Bytes that can
 * never form a valid character are replaced by U+FFFD, one per maximal
 * invalid subsequence (Unicode "best practice"), so the output is always
 * valid UTF-8. The leading-space rule is the same as wl_tok_detokenize. */
struct wl_tok_decoder {
    const wl_tokenizer *tok;
    unsigned flags;
    bool strip_next; /* drop one leading space from the next text piece */
    uint8_t n_pend;  /* held-back bytes of an incomplete character */
    uint8_t need;    /* total length of that character */
    uint8_t pend[4];
};

void wl_tok_decoder_init(struct wl_tok_decoder *d, const wl_tokenizer *t, unsigned flags);
/* Output capacity that always suffices for one push or flush. */
size_t wl_tok_decoder_out_max(const wl_tokenizer *t);
/* Decodes id, writing up to cap bytes to out (not NUL-terminated); *n_out is
 * the byte count. WL_EINVAL bad id, WL_EFULL cap too small (state unchanged). */
int wl_tok_decoder_push(struct wl_tok_decoder *d, int32_t id, char *out, size_t cap, size_t *n_out);
/* Emits U+FFFD for a held-back incomplete character (end of stream). */
int wl_tok_decoder_flush(struct wl_tok_decoder *d, char *out, size_t cap, size_t *n_out);
/* Forgets a held-back incomplete character without emitting anything,
 * keeping the leading-space state: for text pushed only to set that state
 * (a prompt whose output is discarded), so that the prompt's own trailing
 * partial character never shows up as U+FFFD in the text that follows. */
void wl_tok_decoder_drop_pending(struct wl_tok_decoder *d);

#endif

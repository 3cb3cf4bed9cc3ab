/* Internal layout of wl_tokenizer and the helpers shared by the tokenizer_*.c
 * files (vocabulary tables, Unicode classification, pre-tokenizer, SPM and
 * BPE merging, candidate heap). Not part of any public API.
 *
 * Ownership: every table here belongs to its wl_tokenizer and is immutable
 * after wl_tok_build(); per-call scratch (vectors, heaps, units) belongs to
 * the call that allocated it.
 */
#ifndef WL_ENGINE_TOKENIZER_IMPL_H
#define WL_ENGINE_TOKENIZER_IMPL_H

#include "engine/tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable vectors (per call) ------------------------------------------- */

struct wl__tok_ivec {
    int32_t *v;
    size_t n, cap;
};
int wl__tok_ivec_push(struct wl__tok_ivec *a, int32_t x);
int wl__tok_ivec_reserve(struct wl__tok_ivec *a, size_t extra);

struct wl__tok_uvec {
    uint32_t *v;
    size_t n, cap;
};
int wl__tok_uvec_push(struct wl__tok_uvec *a, uint32_t x);

/* ---- string-pair hash map ----------------------------------------------------
 * Keys are (a, b) byte-string pairs stored contiguously in a pool owned by the
 * tokenizer (b may be empty: plain string keys). Open addressing, linear
 * probing, power-of-two capacity, load <= 1/2. Values are int32. */
struct wl__tok_map_slot {
    uint64_t hash; /* 0 = empty slot (real hashes are forced non-zero) */
    uint32_t off;  /* key bytes in the pool: a then b */
    uint32_t len_a;
    uint32_t len_b;
    int32_t value;
};

struct wl__tok_map {
    struct wl__tok_map_slot *slots;
    size_t mask;
    size_t n;
    uint64_t key[2]; /* the tokenizer's hash key */
};

/* Keyed hash of the pair (a, b) held side by side at a (la bytes, then lb),
 * never 0: SipHash-1-3 of the la + lb bytes under key (the tokenizer's
 * hash_key, from wl_random_bytes), so vocabulary entries or prompt words
 * cannot be chosen to collide, with la mixed in after. */
uint64_t wl__tok_hash(const uint64_t key[2], const char *a, size_t la, size_t lb);
/* Empty map for about `expected` keys hashed under key. */
int wl__tok_map_init(struct wl__tok_map *m, size_t expected, const uint64_t key[2]);
void wl__tok_map_free(struct wl__tok_map *m);
/* Inserts the key at pool+off. If the key exists, keeps the old value when
 * keep_first, else overwrites; *existing receives the previous value or
 * WL_TOK_NULL. */
int wl__tok_map_put(struct wl__tok_map *m, const char *pool, uint32_t off, uint32_t la, uint32_t lb,
                    int32_t value, bool keep_first, int32_t *existing);
/* Value for (a, b) or WL_TOK_NULL, b being the lb bytes right after a's la
 * (keys are always spans of one text: a merge pair's two symbols are
 * neighbours in their word). */
int32_t wl__tok_map_get(const struct wl__tok_map *m, const char *pool, const char *a, size_t la,
                        size_t lb);

/* ---- the tokenizer ------------------------------------------------------------ */

struct wl__tok_token {
    uint32_t text_off, text_len;   /* vocabulary text, in pool */
    uint32_t piece_off, piece_len; /* detokenized bytes, in pool */
    float score;
    uint16_t attr; /* enum wl_tok_attr bits */
};

/* Trie of the special (control / user-defined / unknown) token texts. */
struct wl__tok_trie_node {
    int32_t token;        /* token ending here or WL_TOK_NULL */
    uint32_t first_child; /* node index, 0 = none (node 0 is unused) */
    uint32_t next;        /* next sibling, 0 = none */
    uint8_t byte;
};

struct wl_tokenizer {
    enum wl_tok_model model;
    enum wl_tok_pre pre;
    char pre_name[48];
    uint32_t n_vocab;
    struct wl__tok_token *tok; /* (n_vocab) */
    char *pool;
    size_t pool_len;

    uint64_t hash_key[2];         /* random, per tokenizer: its maps and word cache */
    struct wl__tok_map text_map;  /* vocabulary text -> id */
    struct wl__tok_map bpe_map;   /* BPE: raw (byte-decoded) text -> id */
    struct wl__tok_map merge_map; /* BPE: (raw left, raw right) -> rank */
    uint32_t n_merges;

    struct wl__tok_trie_node *trie; /* (n_trie) */
    uint32_t n_trie;
    uint32_t trie_root[256];
    uint32_t n_special;

    int32_t bos, eos, eot, eom, unk, sep, pad;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;

    /* SPM: every pair of adjacent characters occurring inside some token. A
     * merge can only cross a character boundary whose pair is in this set, so
     * the text is cut into independent segments everywhere else. */
    uint64_t *spm_pairs; /* open addressing, 0 = empty */
    size_t spm_pairs_mask;
    int32_t spm_byte[256];  /* SPM byte fallback token per byte (WL_TOK_NULL: none) */
    int32_t bpe_fb[256][2]; /* BPE last-resort single-byte lookups per raw byte */
    /* BPE: raw bytes without a byte-level token of their own (none, or only a
     * special token's look-alike, e.g. deepseek-llm's user-defined "ø" for
     * F8). As an invalid UTF-8 unit such a byte is tokenized as U+FFFD. */
    bool bpe_lost[256];
    int32_t *eog;           /* sorted end-of-generation ids */
    size_t n_eog;
    size_t max_piece_len;
    uint64_t load_ns;
};

/* ---- Unicode (tokenizer_unicode.c) ---------------------------------------------- */

enum {
    WL__CF_ANY = 1 << 0, /* set for every code point (and invalid byte) in range */
    WL__CF_L = 1 << 1,   /* letter (L*) */
    WL__CF_N = 1 << 2,   /* number (N*) */
    WL__CF_P = 1 << 3,   /* punctuation (P*) */
    WL__CF_M = 1 << 4,   /* mark (M*) */
    WL__CF_S = 1 << 5,   /* symbol (S*) */
    WL__CF_WS = 1 << 6,  /* White_Space (llama.cpp's list) */
};

#define WL__CP_INVALID 0xFFFDu /* classification used for a byte that is not valid UTF-8 */

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..n) and its code
 * point, or 0 when s[0] does not start one (RFC 3629: no overlongs,
 * surrogates or values above U+10FFFF). */
size_t wl__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Length of the sequence a lead byte announces (1 for ASCII/invalid). */
size_t wl__utf8_lead_len(unsigned char c);
/* Encodes cp; returns 1..4 bytes written. */
size_t wl__utf8_encode(uint32_t cp, char *out);
unsigned wl__tok_cp_flags(uint32_t cp);
uint32_t wl__tok_cp_lower(uint32_t cp);
/* GPT-2 byte-to-unicode map and its inverse (-1 when cp is not in the map). */
uint32_t wl__tok_byte_to_cp(uint8_t b);
int wl__tok_cp_to_byte(uint32_t cp);

/* ---- special tokens in text (tokenizer.c) -------------------------------------- */

struct wl__tok_frag {
    uint32_t off, len; /* text fragment, or the matched special token's span */
    int32_t token;     /* WL_TOK_NULL for text */
};
/* Splits text (len < 2^32) into plain-text fragments and special tokens, as
 * llama.cpp does (tokenizer.md, "Special tokens in text"): *frags (malloc'ed,
 * caller frees) gets them in text order, *n_frags their count, and
 * *n_special is increased by the number of special tokens. Whitespace that
 * LSTRIP/RSTRIP removed is in no fragment. WL_ENOMEM. */
int wl__tok_partition(const wl_tokenizer *t, const char *text, size_t len, bool parse_special,
                      struct wl__tok_frag **frags, size_t *n_frags, uint64_t *n_special);

/* ---- pre-tokenizer (tokenizer_pretok.c) ----------------------------------------
 * Splits text into words with the rules of t->pre; appends the end offset
 * (bytes, exclusive) of each word to ends. */
int wl__tok_pretokenize(const wl_tokenizer *t, const char *text, size_t len,
                        struct wl__tok_uvec *ends);

/* ---- candidate heap (tokenizer_heap.c) -------------------------------------------- */

struct wl__tok_cand {
    uint64_t key; /* priority (smaller first); low 32 bits = left symbol */
    int32_t right;
    uint32_t size; /* bytes of left + right when queued */
};
struct wl__tok_heap {
    struct wl__tok_cand *v;
    size_t n, cap;
};
int wl__tok_heap_push(struct wl__tok_heap *h, struct wl__tok_cand c);
struct wl__tok_cand wl__tok_heap_pop(struct wl__tok_heap *h);

/* Doubly linked symbol of a word being merged. */
struct wl__tok_sym {
    int32_t prev, next;
    uint32_t off; /* bytes into the text being merged */
    uint32_t n;   /* 0 once merged into its left neighbour */
};

/* ---- merging (tokenizer_spm.c, tokenizer_bpe.c) --------------------------------
 * Scratch reused across fragments of one call, including a word cache
 * (tokenizer_cache.c): word bytes -> ids, valid for one call only. */
struct wl__tok_wc_slot {
    uint64_t hash;           /* 0 = empty */
    uint32_t key_off, len;   /* copy of the word in wc_keys */
    uint32_t ids_off, n_ids; /* in wc_ids */
    uint32_t n_fallback;     /* how many of those ids are byte-fallback tokens */
};

struct wl__tok_scratch {
    struct wl__tok_sym *sym;
    size_t sym_cap;
    struct wl__tok_heap heap;
    char *buf; /* SPM: escaped text; BPE: a word with U+FFFD replacements */
    size_t buf_cap;
    struct wl__tok_uvec ends;
    struct wl__tok_wc_slot *wc;
    size_t wc_mask, wc_n;
    struct wl__tok_ivec wc_ids;
    char *wc_keys;
    size_t wc_keys_n, wc_keys_cap;
};

/* Looks word up; on a hit appends its ids to out, adds the number of them
 * that are byte-fallback tokens to *n_fallback (so the stats count a cached
 * word like a merged one) and returns true. */
bool wl__tok_cache_get(struct wl__tok_scratch *s, const char *w, size_t n, uint64_t h,
                       struct wl__tok_ivec *out, uint64_t *n_fallback, int *rc);
/* Remembers ids for word, n_fallback of them byte-fallback tokens (silently
 * skipped when the cache is full or the word long). */
int wl__tok_cache_put(struct wl__tok_scratch *s, const char *w, size_t n, uint64_t h,
                      const int32_t *ids, size_t n_ids, uint64_t n_fallback);
#define WL__TOK_CACHE_MAX_WORD 256

void wl__tok_scratch_free(struct wl__tok_scratch *s);

/* Scores the pair (symbol l, symbol r) of text and queues it on s->heap when
 * it may merge; a negative l or r is no pair. SPM scores by token score, BPE
 * by merge rank. */
typedef int (*wl__tok_pair_fn)(const wl_tokenizer *t, struct wl__tok_scratch *s, const char *text,
                               int32_t l, int32_t r, struct wl_tok_stats *st);

/* The merge loop shared by SPM and BPE (tokenizer_heap.c): queues every
 * adjacent pair of the n_sym linked symbols in s->sym through add, then
 * repeatedly merges the best pair that is still valid (a stale candidate,
 * whose symbols changed since it was queued, is skipped and counted) and
 * queues the merged symbol's new pairs. The result is the list from s->sym[0]. */
int wl__tok_merge_symbols(const wl_tokenizer *t, struct wl__tok_scratch *s, const char *text,
                          int32_t n_sym, wl__tok_pair_fn add, struct wl_tok_stats *st);

/* False when no token contains unit a directly followed by unit b (units:
 * code points, or 0x110000 + byte for invalid UTF-8). */
bool wl__tok_spm_pair_possible(const wl_tokenizer *t, uint32_t a, uint32_t b);
/* The bytes SentencePiece's escaped copy of a fragment of len bytes with
 * n_space spaces needs (each space becomes U+2581's 3 bytes; space_prefix
 * adds one), in *need; WL_ERANGE when byte offsets (uint32) or symbol
 * indices (int32, one per character) could not hold it. */
int wl__tok_spm_need(size_t len, size_t n_space, bool space_prefix, size_t *need);
int wl__tok_spm_fragment(const wl_tokenizer *t, const char *text, size_t len, bool space_prefix,
                         struct wl__tok_scratch *s, struct wl__tok_ivec *out,
                         struct wl_tok_stats *st);
int wl__tok_bpe_fragment(const wl_tokenizer *t, const char *text, size_t len,
                         struct wl__tok_scratch *s, struct wl__tok_ivec *out,
                         struct wl_tok_stats *st);

#endif

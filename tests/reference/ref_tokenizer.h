/* The reference of engine/tokenizer's special-token partition
 * (wl__tok_partition): the algorithm before the lazy heap, which agreed with
 * llama.cpp. Every occurrence of every enabled special token is listed,
 * sorted by (length descending, id, position) and accepted greedily when its
 * bytes are all still plain text; LSTRIP/RSTRIP eat the whitespace beside an
 * accepted token. tests/unit/test_tokenizer_partition.c checks the partition
 * against it; bench/bench_tokenizer.c times the two.
 * Test and bench code only (the wl_reference library), not libwattlens.
 */
#ifndef WL_REF_TOKENIZER_H
#define WL_REF_TOKENIZER_H

#include "engine/tokenizer_impl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One listed occurrence: the memory the old algorithm spent on each. */
struct wl_ref_tok_occ {
    uint32_t pos, len;
    int32_t token;
};

/* Splits text[0..len) as wl__tok_partition does: *frags (malloc'ed, the
 * caller frees) gets n_frags fragments in text order, special tokens and
 * plain text; *n_special grows by the special tokens accepted; *n_listed
 * (may be NULL) gets the occurrences the algorithm had to store. Returns 0,
 * or -1 when out of memory (nothing to free). */
int wl_ref_tok_partition(const wl_tokenizer *t, const char *text, size_t len, bool parse_special,
                         struct wl__tok_frag **frags, size_t *n_frags, uint64_t *n_special,
                         size_t *n_listed);

#endif

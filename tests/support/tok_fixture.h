/* Tokenizers loaded from a GGUF file a test writes (engine/gguf_write.h),
 * in memory, for the tokenizer tests (test_tokenizer.c,
 * test_tokenizer_vocab.c). Test-only code; a step that must not fail fails
 * the calling cmocka test.
 */
#ifndef WL_TEST_TOK_FIXTURE_H
#define WL_TEST_TOK_FIXTURE_H

#include "engine/gguf_write.h"
#include "engine/tokenizer.h"

struct wl_errmsg;

/* Writes w's file to memory (takes w: freed), opens it and loads its
 * tokenizer with wl_tok_load_gguf into *t; the image is freed before
 * return (the tokenizer keeps nothing of it). Returns the loader's status,
 * its message in err ("" when it gave none). Checks the loader's contract:
 * *t is NULL after a failure, and a tokenizer after success. */
int wl_test_tok_load_written(wl_gguf_writer *w, wl_tokenizer **t, struct wl_errmsg *err);

#endif

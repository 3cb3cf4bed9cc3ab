/* The inference context of `generate` and `run`: one place sizes it and says
 * what the user should know about it, so the two commands cannot drift.
 *
 * Without -c the context holds the longest prompt's tokens + N, at most the
 * model's training context (a prompt longer than that is an error), and
 * phi3 LongRoPE picks its factors for the training context, so the text
 * does not depend on -n. With -c the context has exactly that many
 * positions per sequence; a warning says when that is more than the model
 * was trained for, and a note when it makes phi3 use its long factors.
 */
#ifndef WL_CLI_CONTEXT_H
#define WL_CLI_CONTEXT_H

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/tokenizer.h"

/* Sizes cp->n_ctx (and cp->n_ctx_rope) for n_prompts prompts (n_seq of
 * them when cp->n_seq > 1: NULL entries are empty) generating gp->n_predict
 * tokens each, n_ctx_opt being -c (0: not given), and creates *out. Returns
 * WL_EXIT_OK, or WL_EXIT_FAIL after printing why ("wattlens CMD: ..."). */
int wl_cli_context_create(const char *cmd, const wl_model *m, const wl_tokenizer *tok,
                          const struct wl_generate_params *gp, const char *const *prompts,
                          int32_t n_prompts, long n_ctx_opt, struct wl_context_params *cp,
                          wl_context **out);

#endif

/* Context sizing for `generate` and `run`; see cli_context.h. */
#include "cli_context.h"

#include "cli.h"
#include "cli_store.h"

#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

/* Warns when a prompt is not tokenized as given (invalid UTF-8 bytes the
 * vocabulary cannot spell become U+FFFD, bytes without a token are dropped):
 * the model then runs on another text than the user's. Tokenizes as
 * wl_generate does. */
static void warn_prompt_bytes(const char *cmd, const wl_tokenizer *tok,
                              const struct wl_generate_params *gp, const char *const *prompts,
                              int32_t n_prompts)
{
    if (!prompts)
        return;
    const unsigned flags = WL_TOK_ADD_BOS | (gp->parse_special ? WL_TOK_PARSE_SPECIAL : 0);
    /* run repeats the user's prompts over the batch's sequences: each once,
     * and named only when there are several */
    bool several = false;
    for (int32_t i = 1; i < n_prompts && !several; i++)
        several = prompts[i] != prompts[0];
    for (int32_t i = 0; i < n_prompts; i++) {
        bool seen = false;
        for (int32_t j = 0; j < i && !seen; j++)
            seen = prompts[j] == prompts[i];
        if (seen)
            continue;
        const char *text = prompts[i] ? prompts[i] : "";
        struct wl_tok_stats st = {0};
        int32_t *ids = NULL;
        size_t n = 0;
        char msg[256];
        /* a failure is reported where the prompt is tokenized for the run */
        if (wl_tok_tokenize_alloc(tok, text, strlen(text), flags, &ids, &n, &st) == 0 &&
            wl_tok_stats_input_changed(&st, msg, sizeof msg)) {
            if (several)
                wl_cli_note(cmd, "warning: prompt %d: %s", (int)i, msg);
            else
                wl_cli_note(cmd, "warning: prompt: %s", msg);
        }
        free(ids);
    }
}

int wl_cli_context_create(const char *cmd, const wl_model *m, const wl_tokenizer *tok,
                          const struct wl_generate_params *gp, const char *const *prompts,
                          int32_t n_prompts, long n_ctx_opt, struct wl_context_params *cp,
                          wl_context **out)
{
    struct wl_errmsg err = {{0}};
    const int32_t n_train = m->config.n_ctx_train;
    *out = NULL;
    if (!wl_cli_quiet())
        warn_prompt_bytes(cmd, tok, gp, prompts, n_prompts);
    if (n_ctx_opt == 0) {
        int32_t n_ctx = 0;
        int rc = wl_generate_default_n_ctx(m, tok, gp, prompts, n_prompts, &n_ctx, NULL, &err);
        if (rc == WL_EFULL)
            return wl_cli_fail(cmd,
                               "%s; -c N gives a larger context, past what the model was "
                               "trained for",
                               err.text);
        if (rc != 0)
            return wl_cli_fail(cmd, "%s", err.text);
        cp->n_ctx = n_ctx;
        /* LongRoPE's choice as for the whole training context (llama.cpp's
         * -c 0), not for this request's size: greedy text then does not
         * change with -n */
        cp->n_ctx_rope = n_train;
    } else {
        /* a prompt longer than -c is a mistake of the command line: said
         * before anything is created or recorded (run stored a failed run) */
        if (wl_generate_check_prompts_fit(tok, gp, prompts, n_prompts, (int32_t)n_ctx_opt, &err) !=
            0)
            return wl_cli_fail(cmd, "%s", err.text);
        cp->n_ctx = (int32_t)n_ctx_opt;
        cp->n_ctx_rope = 0;
        if (n_ctx_opt > n_train) /* llama.cpp warns the same way */
            wl_cli_note(cmd,
                        "warning: -c %ld is more than the model's training context (%d "
                        "position%s): the model has not learnt the positions past it",
                        n_ctx_opt, (int)n_train, n_train == 1 ? "" : "s");
    }
    if (wl_context_create(m, cp, out, &err) != 0)
        return wl_cli_fail(cmd, "%s", err.text);
    if (n_ctx_opt > n_train) {
        /* its run state grows with -c too (attention scores: n_ubatch x
         * n_head floats a position), so say what the context costs */
        const int64_t kv = (int64_t)wl_context_kv_bytes(*out);
        char b[2][32];
        wl_cli_note(cmd, "the context takes %s (KV cache %s)",
                    wl_cli_fmt_bytes(kv + (int64_t)wl_context_state_bytes(*out), b[0], sizeof b[0]),
                    wl_cli_fmt_bytes(kv, b[1], sizeof b[1]));
    }
    const int32_t n_orig = m->config.rope_n_ctx_orig;
    if (n_ctx_opt > 0 && wl_context_rope_long(*out))
        wl_cli_note(
            cmd,
            "note: -c %ld is above the model's original context (%d positions), so the model "
            "uses its long RoPE factors (LongRoPE)%s; -c %d or less uses the short "
            "ones, which give different text",
            n_ctx_opt, (int)n_orig, n_train > n_orig ? ", as it does without -c" : "", (int)n_orig);
    return WL_EXIT_OK;
}

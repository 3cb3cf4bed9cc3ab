/* The generation loop; see generate.h for the phases it reports and the
 * stop conditions. Everything a step needs (token array, text buffer,
 * sampler) is allocated before prefill starts.
 */
#include "engine/generate.h"

#include "engine/forward.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wl_stop_reason_name(enum wl_stop_reason r)
{
    switch (r) {
    case WL_STOP_ERROR:
        return "error";
    case WL_STOP_EOG:
        return "end of generation token";
    case WL_STOP_MAX_TOKENS:
        return "token limit";
    case WL_STOP_CONTEXT_FULL:
        return "context full";
    case WL_STOP_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

struct wl_generate_params wl_generate_default_params(void)
{
    struct wl_generate_params p = {
        .prompt = NULL,
        .n_predict = 128,
        .sampling = wl_token_sampler_default_params(),
        .parse_special = true,
    };
    return p;
}

void wl_generate_result_free(struct wl_generate_result *res)
{
    if (!res)
        return;
    free(res->text);
    res->text = NULL;
    res->text_len = 0;
}

/* Tokenizes the n prompts (NULL: empty) in order, each once, as wl_generate
 * will, until one has more than limit tokens, as wl_generate_batch meets
 * them: *longest the most tokens of those tokenized (so the count of that
 * one, when there is one), *first_over its index (-1: none). A tokenizer
 * error is returned in the words of wl_generate (n == 1) or
 * wl_generate_batch ("prompt I"). */
static int wl__prompts_scan(const wl_tokenizer *tok, const struct wl_generate_params *p,
                            const char *const *prompts, int32_t n, int64_t limit, size_t *longest,
                            int32_t *first_over, struct wl_errmsg *err)
{
    const unsigned flags = WL_TOK_ADD_BOS | (p->parse_special ? WL_TOK_PARSE_SPECIAL : 0);
    *longest = 0;
    *first_over = -1;
    for (int32_t i = 0; i < n; i++) {
        const char *text = prompts[i] ? prompts[i] : "";
        int32_t *ids = NULL;
        size_t n_tok = 0;
        const int rc = wl_tok_tokenize_alloc(tok, text, strlen(text), flags, &ids, &n_tok, NULL);
        free(ids);
        if (rc != 0)
            return n > 1
                       ? wl_errmsg_set(err, rc, "cannot tokenize prompt %d: %s", (int)i,
                                       wl_strerror(rc))
                       : wl_errmsg_set(err, rc, "cannot tokenize the prompt: %s", wl_strerror(rc));
        *longest = n_tok > *longest ? n_tok : *longest;
        if ((int64_t)n_tok > limit) {
            *first_over = i;
            break;
        }
    }
    return 0;
}

int wl_generate_default_n_ctx(const wl_model *m, const wl_tokenizer *tok,
                              const struct wl_generate_params *p, const char *const *prompts,
                              int32_t n, int32_t *n_ctx, int32_t *n_prompt_max,
                              struct wl_errmsg *err)
{
    if (p->n_predict <= 0)
        return wl_errmsg_set(err, WL_EINVAL, "n_predict must be positive");
    if (n < 1 || !prompts)
        return wl_errmsg_set(err, WL_EINVAL, "no prompt to size the context for");
    const int64_t n_train = m->config.n_ctx_train;
    size_t longest;
    int32_t first_over;
    /* every prompt, for the longest (the one the message names) */
    const int rc = wl__prompts_scan(tok, p, prompts, n, INT64_MAX, &longest, &first_over, err);
    if (rc != 0)
        return rc;
    /* the prompt may fill the training context exactly: it still gives one token */
    if ((int64_t)longest > n_train)
        return wl_errmsg_set(err, WL_EFULL,
                             "the %s (%zu tokens) is longer than the model's training context "
                             "(%lld position%s)",
                             n > 1 ? "longest prompt" : "prompt", longest, (long long)n_train,
                             n_train == 1 ? "" : "s");
    /* prompt + N, as the help texts say (the last token needs no position,
     * since nothing reads its K/V: one is to spare) */
    const int64_t want = (int64_t)longest + p->n_predict;
    *n_ctx = (int32_t)(want < n_train ? want : n_train);
    if (n_prompt_max)
        *n_prompt_max = (int32_t)longest;
    return 0;
}

int wl_generate_check_prompts_fit(const wl_tokenizer *tok, const struct wl_generate_params *p,
                                  const char *const *prompts, int32_t n, int32_t n_ctx,
                                  struct wl_errmsg *err)
{
    if (n < 1 || !prompts)
        return wl_errmsg_set(err, WL_EINVAL, "no prompt to check");
    size_t longest;
    int32_t first_over;
    /* as wl_generate: a prompt that fills the context still gives one token */
    const int rc = wl__prompts_scan(tok, p, prompts, n, n_ctx, &longest, &first_over, err);
    if (rc != 0 || first_over < 0)
        return rc;
    return wl__generate_prompt_too_long(n > 1 ? first_over : -1, longest, n_ctx, err);
}

static bool cancelled(const struct wl_generate_params *p)
{
    return p->cancel && *p->cancel;
}

/* A non-finite logit means the model (or a kernel) produced garbage; say so
 * instead of sampling from it. Only ids that can be sampled are looked at:
 * padding rows past the tokenizer's vocabulary never are (model.h), so
 * their logits cannot matter. An F16 KV cache is a likely cause the message
 * names: keys and values above 65504 become infinite there, and attention
 * over them NaN (the type is known; checking the stores would slow every
 * step). */
int wl__generate_check_logits(const wl_context *ctx, const float *l, int32_t n, int32_t seq,
                              int32_t step, struct wl_errmsg *err)
{
    for (int32_t i = 0; i < n; i++) {
        if (isfinite(l[i]))
            continue;
        char where[64] = "";
        if (seq >= 0)
            snprintf(where, sizeof where, " of sequence %d", seq);
        const bool f16 = ctx->kv.type == WL_TTYPE_F16;
        return wl_errmsg_set(err, WL_ERANGE,
                             "non-finite logit (%g) for token %d%s at generation step %d%s",
                             (double)l[i], i, where, step,
                             f16 ? " (with the F16 KV cache, a key or value above 65504, "
                                   "F16's largest, overflows; an F32 cache may help: "
                                   "--cache-type f32)"
                                 : "");
    }
    return 0;
}

int wl__generate_n_sample(const wl_context *ctx, const wl_tokenizer *tok, int32_t *n,
                          struct wl_errmsg *err)
{
    const int32_t vocab = wl_context_model(ctx)->config.vocab_size;
    struct wl_tok_info ti;
    wl_tok_get_info(tok, &ti);
    if ((int64_t)ti.n_vocab > vocab)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "the tokenizer has %u tokens but the model only %d embeddings",
                             ti.n_vocab, vocab);
    *n = (int32_t)ti.n_vocab;
    return 0;
}

int64_t wl__generate_text_tokens(const wl_context *ctx, size_t n_prompt, int32_t n_predict)
{
    const int64_t free_tok = (int64_t)wl_context_n_ctx(ctx) - (int64_t)n_prompt + 1;
    return free_tok < n_predict ? free_tok : n_predict;
}

size_t wl__generate_text_cap(const wl_context *ctx, size_t n_prompt, int32_t n_predict,
                             size_t piece_cap)
{
    const int64_t n_tok = wl__generate_text_tokens(ctx, n_prompt, n_predict);
    if (piece_cap > WL__GENERATE_ALLOC_MAX - 4 ||
        (uint64_t)n_tok > (WL__GENERATE_ALLOC_MAX - 1) / (piece_cap + 4))
        return 0;
    return (size_t)n_tok * (piece_cap + 4) + 1;
}

const char *wl__generate_bytes_text(char *buf, size_t size, double bytes)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = -1;
    while (bytes >= 1024.0 && u + 1 < (int)(sizeof unit / sizeof unit[0])) {
        bytes /= 1024.0;
        u++;
    }
    if (u < 0)
        snprintf(buf, size, "%.0f byte%s", bytes, bytes == 1.0 ? "" : "s");
    else
        snprintf(buf, size, "%.1f %s", bytes, unit[u]);
    return buf;
}

int wl__generate_text_oom(struct wl_errmsg *err, int32_t seq, int32_t n_seq, double total,
                          int64_t n_tok, size_t piece_cap, bool refused)
{
    char need[32], piece[32], of[32] = "", all[80] = "";
    const double piece_bytes = (double)piece_cap + 4.0;
    if (piece_cap <= SIZE_MAX - 4) /* exact */
        snprintf(piece, sizeof piece, "%zu", piece_cap + 4);
    else
        snprintf(piece, sizeof piece, "%.0f", piece_bytes);
    if (seq >= 0) {
        char together[32];
        snprintf(of, sizeof of, " of sequence %d", (int)seq);
        snprintf(all, sizeof all, "; the %d sequences' text buffers need %s together", (int)n_seq,
                 wl__generate_bytes_text(together, sizeof together, total));
    }
    return wl_errmsg_set(
        err, WL_ENOMEM,
        "out of memory: the text buffer%s needs %s%s (%lld tokens x %s bytes, the "
        "longest piece, + 1%s)",
        of, wl__generate_bytes_text(need, sizeof need, (double)n_tok * piece_bytes + 1.0),
        refused ? WL__GENERATE_TOO_LARGE : "", (long long)n_tok, piece, all);
}

int wl__generate_prompt_too_long(int32_t seq, size_t n_prompt, int32_t n_ctx, struct wl_errmsg *err)
{
    char which[32];
    if (seq >= 0)
        snprintf(which, sizeof which, "prompt %d", (int)seq);
    else
        snprintf(which, sizeof which, "the prompt");
    return wl_errmsg_set(err, WL_EFULL,
                         "%s (%zu token%s) does not fit in the context (%d position%s): use -c "
                         "%zu or more",
                         which, n_prompt, n_prompt == 1 ? "" : "s", (int)n_ctx,
                         n_ctx == 1 ? "" : "s", n_prompt);
}

int wl__generate_empty_prompt(const wl_tokenizer *tok, int32_t seq, size_t n_bytes,
                              struct wl_errmsg *err)
{
    struct wl_tok_info info;
    wl_tok_get_info(tok, &info);
    char which[160];
    int n = seq >= 0 ? snprintf(which, sizeof which, "prompt %d", (int)seq)
                     : snprintf(which, sizeof which, "the prompt");
    /* a prompt of bytes the vocabulary has no token for (and no byte
     * fallback): each was dropped, so it is not empty, but gives nothing;
     * another prompt helps, not -p (it was given) */
    const bool dropped = n_bytes > 0;
    if (dropped && n > 0 && (size_t)n < sizeof which)
        snprintf(which + n, sizeof which - (size_t)n,
                 " (%zu byte%s) gives no token (the vocabulary has none for any of its bytes), "
                 "and",
                 n_bytes, n_bytes == 1 ? "" : "s");
    else
        snprintf(which + n, sizeof which - (size_t)n, " is empty and");
    const char *remedy =
        dropped ? "use text this vocabulary can tokenize" : "give a prompt with -p";
    if (info.bos == WL_TOK_NULL)
        return wl_errmsg_set(err, WL_EINVAL, "%s the vocabulary has no BOS token to start from: %s",
                             which, remedy);
    /* A BOS id that is not added: the key says so, or, for a byte-level BPE
     * vocabulary (GPT-2, Qwen2), it is unset and the pre-tokenizer's
     * default adds none. An SPM (llama) vocabulary adds BOS when the key is
     * unset, so there only "false" can be the reason. */
    char why[192];
    if (info.model == WL_TOK_MODEL_SPM)
        snprintf(why, sizeof why, "tokenizer.ggml.add_bos_token is false");
    else
        snprintf(why, sizeof why,
                 "tokenizer.ggml.add_bos_token is false, or unset and the %s vocabulary's "
                 "pre-tokenizer '%s' adds none by default",
                 info.model_name, info.pre_name);
    return wl_errmsg_set(err, WL_EINVAL,
                         "%s this vocabulary does not add its BOS token (id %d; %s): %s", which,
                         (int)info.bos, why, remedy);
}

int wl__generate_sampler_error(struct wl_errmsg *err, int rc,
                               const struct wl_token_sampler_params *sp, int32_t n_sample,
                               int32_t seq)
{
    if (rc == WL_EINVAL)
        return wl_errmsg_set(err, rc, "bad sampling parameters");
    char need[32], of[32] = "";
    if (seq >= 0)
        snprintf(of, sizeof of, " of sequence %d", (int)seq);
    return wl_errmsg_set(
        err, rc, "out of memory: the sampler%s (%d token ids) needs %s", of, (int)n_sample,
        wl__generate_bytes_text(need, sizeof need, (double)wl_token_sampler_bytes(sp, n_sample)));
}

void wl__generate_decoder_prime(struct wl_tok_decoder *dec, const int32_t *prompt, size_t n_prompt,
                                char *piece, size_t piece_cap)
{
    for (size_t i = 0; i < n_prompt; i++) {
        size_t nb = 0;
        wl_tok_decoder_push(dec, prompt[i], piece, piece_cap, &nb);
    }
    wl_tok_decoder_drop_pending(dec);
}

/* Output text buffer, allocated once before the loop for the worst case
 * (wl__generate_text_cap). */
struct textbuf {
    char *data;
    size_t len, cap;
};

int wl_generate(wl_context *ctx, const wl_tokenizer *tok, const struct wl_generate_params *p,
                struct wl_generate_result *res, struct wl_errmsg *err)
{
    memset(res, 0, sizeof *res);
    const wl_model *m = wl_context_model(ctx);
    if (p->n_predict <= 0)
        return wl_errmsg_set(err, WL_EINVAL, "n_predict must be positive");
    int32_t n_sample = 0;
    const int nrc = wl__generate_n_sample(ctx, tok, &n_sample, err);
    if (nrc != 0)
        return nrc;

    const uint64_t t_start = wl_clock_now_ns();
    int32_t *prompt = NULL;
    wl_token_sampler *smp = NULL;
    struct textbuf tb = {0};
    char *piece = NULL;
    const size_t piece_cap = wl_tok_decoder_out_max(tok);
    struct wl_tok_decoder dec;
    wl_tok_decoder_init(&dec, tok, 0);
    int rc = 0;

    /* ---- pre_inference: tokenize, input setup, KV init ---------------------- */
    wl_context_emit_phase(ctx, WL_PHASE_PRE_INFERENCE, true);
    wl_context_emit_section(ctx, WL_SECTION_TOKENIZE, true);
    const char *text = p->prompt ? p->prompt : "";
    size_t n_prompt = 0;
    unsigned flags = WL_TOK_ADD_BOS | (p->parse_special ? WL_TOK_PARSE_SPECIAL : 0);
    rc = wl_tok_tokenize_alloc(tok, text, strlen(text), flags, &prompt, &n_prompt, &res->tok_stats);
    wl_context_emit_section(ctx, WL_SECTION_TOKENIZE, false);
    res->t_tokenize_ns = wl_clock_now_ns() - t_start;
    if (rc != 0) {
        wl_errmsg_set(err, rc, "cannot tokenize the prompt: %s", wl_strerror(rc));
        goto end_pre;
    }
    if (n_prompt == 0) {
        /* an empty prompt and no BOS added: nothing to start from */
        rc = wl__generate_empty_prompt(tok, -1, strlen(text), err);
        goto end_pre;
    }
    res->n_prompt = (int32_t)n_prompt;
    /* a prompt that fills the context still gives one token: the first is
     * sampled from the prefill's logits and needs no position of its own */
    if ((int64_t)n_prompt > wl_context_n_ctx(ctx)) {
        rc = wl__generate_prompt_too_long(-1, n_prompt, wl_context_n_ctx(ctx), err);
        goto end_pre;
    }
    wl_context_emit_section(ctx, WL_SECTION_INPUT_SETUP, true);
    rc = wl_token_sampler_create(&p->sampling, n_sample, &smp);
    if (rc != 0) {
        wl__generate_sampler_error(err, rc, &p->sampling, n_sample, -1);
    } else {
        const int64_t n_tok = wl__generate_text_tokens(ctx, n_prompt, p->n_predict);
        tb.cap = wl__generate_text_cap(ctx, n_prompt, p->n_predict, piece_cap);
        if (tb.cap == 0) {
            rc = wl__generate_text_oom(err, -1, 1, 0.0, n_tok, piece_cap, true);
        } else {
            tb.data = malloc(tb.cap);
            piece = malloc(piece_cap + 4);
            if (!tb.data || !piece)
                rc = wl__generate_text_oom(err, -1, 1, 0.0, n_tok, piece_cap, false);
        }
    }
    wl_context_emit_section(ctx, WL_SECTION_INPUT_SETUP, false);
    if (rc != 0)
        goto end_pre;
    for (size_t i = 0; i < n_prompt; i++)
        wl_token_sampler_accept(smp, prompt[i]);
    wl__generate_decoder_prime(&dec, prompt, n_prompt, piece, piece_cap);
    wl_context_emit_section(ctx, WL_SECTION_KV_INIT, true);
    wl_context_reset(ctx);
    wl_context_emit_section(ctx, WL_SECTION_KV_INIT, false);
end_pre:
    wl_context_emit_phase(ctx, WL_PHASE_PRE_INFERENCE, false);
    if (rc != 0)
        goto done;

    /* ---- prefill ---------------------------------------------------------------- */
    wl_context_emit_phase(ctx, WL_PHASE_PREFILL, true);
    uint64_t t0 = wl_clock_now_ns();
    /* a long prompt is several forward batches: a cancel is honoured between them */
    wl_context_set_cancel(ctx, p->cancel);
    rc = cancelled(p) ? WL_ECANCELED : wl_context_prefill(ctx, prompt, (int32_t)n_prompt, err);
    wl_context_set_cancel(ctx, NULL);
    res->t_prefill_ns = wl_clock_now_ns() - t0;
    wl_context_emit_phase(ctx, WL_PHASE_PREFILL, false);
    /* cancelled in prefill: no logits to sample; decode opens and stops at once */
    const bool prefill_cancelled = rc == WL_ECANCELED;
    if (prefill_cancelled)
        rc = 0;
    if (rc != 0)
        goto done;

    /* ---- decode --------------------------------------------------------------------- */
    wl_context_emit_phase(ctx, WL_PHASE_DECODE, true);
    res->stop = WL_STOP_MAX_TOKENS;
    int32_t prev = -1;
    /* the decode clock starts once token 0 is done: it is sampled from the
     * prefill's logits, so it is not a decode step, and the rate
     * (n_generated - 1 tokens over t_decode_ns) must not hold its sampling */
    uint64_t t_dec0 = 0;
    for (int32_t i = 0; i < p->n_predict; i++) {
        if (prefill_cancelled || cancelled(p)) {
            res->stop = WL_STOP_CANCELLED;
            break;
        }
        if (i > 0 && wl_context_n_past(ctx) >= wl_context_n_ctx(ctx)) {
            res->stop = WL_STOP_CONTEXT_FULL;
            break;
        }
        wl_context_emit_token(ctx, i, true, 1, -1, NULL, 0);
        /* a failed step produced no token: its end says so (no sequence,
         * id -1; hooks.h), and a profiler keeps its time but stores no token */
        if (i > 0 && (rc = wl_context_decode(ctx, prev, err)) != 0) {
            wl_context_emit_token(ctx, i, false, 0, -1, NULL, 0);
            break;
        }
        wl_context_emit_section(ctx, WL_SECTION_SAMPLING, true);
        float *logits = wl_context_logits(ctx);
        rc = wl__generate_check_logits(ctx, logits, n_sample, -1, i, err);
        int32_t id = rc == 0 ? wl_token_sampler_sample(smp, logits) : -1;
        wl_context_emit_section(ctx, WL_SECTION_SAMPLING, false);
        if (rc != 0) {
            wl_context_emit_token(ctx, i, false, 0, -1, NULL, 0);
            break;
        }
        wl_token_sampler_accept(smp, id);
        res->n_generated = i + 1;
        if (i == 0)
            res->t_first_token_ns = wl_clock_now_ns() - t_start;

        bool eog = wl_tok_is_eog(tok, id) || wl_model_is_eog(m, id);
        size_t nb = 0;
        wl_context_emit_section(ctx, WL_SECTION_DETOKENIZE, true);
        if (!eog) /* a sampled id is below n_sample: the tokenizer's */
            wl_tok_decoder_push(&dec, id, piece, piece_cap, &nb);
        wl_context_emit_section(ctx, WL_SECTION_DETOKENIZE, false);
        wl_context_emit_token(ctx, i, false, 1, id, piece, nb);
        if (nb > 0 && tb.len + nb < tb.cap) {
            memcpy(tb.data + tb.len, piece, nb);
            tb.len += nb;
        }
        if (nb > 0 && p->on_text)
            p->on_text(p->user_data, piece, nb);
        if (eog) {
            res->stop = WL_STOP_EOG;
            break;
        }
        if (i == 0) /* token 0 done, its text given out too (each step holds its own) */
            t_dec0 = wl_clock_now_ns();
        prev = id;
    }
    /* no decode step completed (one token at most): no decode time */
    res->t_decode_ns = res->n_generated > 1 ? wl_clock_now_ns() - t_dec0 : 0;
    wl_context_emit_phase(ctx, WL_PHASE_DECODE, false);
    if (rc != 0)
        goto done;

    /* ---- post_inference: the whole text, cleanup -------------------------------- */
    wl_context_emit_phase(ctx, WL_PHASE_POST_INFERENCE, true);
    wl_context_emit_section(ctx, WL_SECTION_DETOKENIZE, true);
    size_t nb = 0;
    wl_tok_decoder_flush(&dec, piece, piece_cap, &nb);
    if (nb > 0 && tb.len + nb < tb.cap) {
        memcpy(tb.data + tb.len, piece, nb);
        tb.len += nb;
        if (p->on_text)
            p->on_text(p->user_data, piece, nb);
    }
    tb.data[tb.len] = '\0';
    res->text = tb.data;
    res->text_len = tb.len;
    tb.data = NULL;
    wl_context_emit_section(ctx, WL_SECTION_DETOKENIZE, false);
    wl_context_emit_section(ctx, WL_SECTION_CLEANUP, true);
    free(prompt);
    prompt = NULL;
    wl_token_sampler_free(smp);
    smp = NULL;
    wl_context_emit_section(ctx, WL_SECTION_CLEANUP, false);
    wl_context_emit_phase(ctx, WL_PHASE_POST_INFERENCE, false);
done:
    if (rc != 0)
        res->stop = WL_STOP_ERROR; /* also after a failure in decode */
    res->t_total_ns = wl_clock_now_ns() - t_start;
    free(prompt);
    free(piece);
    free(tb.data);
    wl_token_sampler_free(smp);
    return rc;
}

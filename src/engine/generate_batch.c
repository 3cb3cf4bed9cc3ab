/* Batched generation: several prompts through one context together (see
 * generate.h). Per sequence: prompt tokens, sampler, streaming decoder,
 * text buffer and stop state, all allocated before prefill (a size that
 * cannot be allocated is refused first; a failed allocation names the
 * buffer and its bytes); each decode round is one wl_context_eval_seqs
 * over the running sequences.
 * Thread-safety: one generation per context; cancel as wl_generate.
 */
#include "engine/generate.h"

#include "engine/forward.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seq_state {
    int32_t *prompt;
    size_t n_prompt;
    wl_token_sampler *smp;
    struct wl_tok_decoder dec;
    char *text;
    size_t len, cap;
    int32_t prev; /* last sampled token, decoded in the next round */
    int32_t row;  /* logits row in the current evaluation, -1 when not run */
    bool done;
};

struct batch {
    struct seq_state *s;
    int32_t n;
    int32_t *tokens, *seqs; /* (max(n_prompt total, n)) evaluation inputs */
    bool *want;
    char *piece;
    size_t piece_cap;
    int32_t n_sample; /* ids that can be sampled: padding rows (model.h) never are */
};

static void batch_free(struct batch *b)
{
    for (int32_t i = 0; b->s && i < b->n; i++) {
        free(b->s[i].prompt);
        wl_token_sampler_free(b->s[i].smp);
        free(b->s[i].text);
    }
    free(b->s);
    free(b->tokens);
    free(b->seqs);
    free(b->want);
    free(b->piece);
}

static void append(struct seq_state *s, const char *t, size_t n)
{
    if (n > 0 && s->len + n < s->cap) {
        memcpy(s->text + s->len, t, n);
        s->len += n;
    }
}

/* The out-of-memory messages: WL_ENOMEM, what could not be allocated and
 * its bytes, so a user can tell a huge --batch or n_predict from a machine
 * short of memory. refused: the size was refused before any allocation. */
static int piece_oom(struct wl_errmsg *err, double bytes, bool refused)
{
    char need[32];
    return wl_errmsg_set(err, WL_ENOMEM,
                         "out of memory: the decoder's piece buffer (the longest token's text) "
                         "needs %s%s",
                         wl__generate_bytes_text(need, sizeof need, bytes),
                         refused ? WL__GENERATE_TOO_LARGE : "");
}

static int inputs_oom(struct wl_errmsg *err, const struct batch *b, size_t n_in, size_t bytes_each,
                      bool refused)
{
    char need[32];
    return wl_errmsg_set(
        err, WL_ENOMEM,
        "out of memory: the evaluation input of %zu tokens (the %d prompts "
        "together; an id, a sequence and a logits flag each) needs %s%s",
        n_in, b->n, wl__generate_bytes_text(need, sizeof need, (double)n_in * (double)bytes_each),
        refused ? WL__GENERATE_TOO_LARGE : "");
}

/* Sequence seq's text buffer could not be had (refused: its size was
 * refused before allocating); the message adds every sequence's together. */
static int text_oom(struct wl_errmsg *err, const wl_context *ctx, int32_t n_predict,
                    const struct batch *b, int32_t seq, bool refused)
{
    double total = 0.0;
    for (int32_t i = 0; i < b->n; i++)
        total += (double)wl__generate_text_tokens(ctx, b->s[i].n_prompt, n_predict) *
                     ((double)b->piece_cap + 4.0) +
                 1.0;
    return wl__generate_text_oom(err, seq, b->n, total,
                                 wl__generate_text_tokens(ctx, b->s[seq].n_prompt, n_predict),
                                 b->piece_cap, refused);
}

/* Tokenizes every prompt, then sizes every buffer the loop needs (refusing
 * a size past WL__GENERATE_ALLOC_MAX before allocating anything), then allocates them.
 * An allocation that fails says what it was for and how many bytes. */
static int setup(wl_context *ctx, const wl_tokenizer *tok, const struct wl_generate_params *p,
                 const struct wl_generate_batch_params *bp, struct batch *b,
                 int32_t *n_prompt_total, struct wl_errmsg *err)
{
    b->s = calloc((size_t)b->n, sizeof *b->s);
    if (!b->s) {
        char need[32];
        return wl_errmsg_set(
            err, WL_ENOMEM, "out of memory: the state of %d sequences needs %s", b->n,
            wl__generate_bytes_text(need, sizeof need, (double)b->n * sizeof *b->s));
    }
    size_t total = 0;
    unsigned flags = WL_TOK_ADD_BOS | (p->parse_special ? WL_TOK_PARSE_SPECIAL : 0);
    wl_context_emit_section(ctx, WL_SECTION_TOKENIZE, true);
    int rc = 0;
    for (int32_t i = 0; i < b->n && rc == 0; i++) {
        struct seq_state *s = &b->s[i];
        const char *text = bp->prompts[i] ? bp->prompts[i] : "";
        rc = wl_tok_tokenize_alloc(tok, text, strlen(text), flags, &s->prompt, &s->n_prompt, NULL);
        if (rc != 0)
            wl_errmsg_set(err, rc, "cannot tokenize prompt %d: %s", i, wl_strerror(rc));
        else if (s->n_prompt == 0)
            rc = wl__generate_empty_prompt(tok, i, strlen(text), err);
        else if ((int64_t)s->n_prompt > wl_context_n_ctx(ctx)) /* as wl_generate */
            rc = wl__generate_prompt_too_long(i, s->n_prompt, wl_context_n_ctx(ctx), err);
        total += s->n_prompt;
    }
    wl_context_emit_section(ctx, WL_SECTION_TOKENIZE, false);
    if (rc != 0)
        return rc;
    if (total > INT32_MAX / 2)
        return wl_errmsg_set(err, WL_EINVAL, "the prompts are too long together");
    *n_prompt_total = (int32_t)total;

    wl_context_emit_section(ctx, WL_SECTION_INPUT_SETUP, true);
    /* sizes first: the decoder's piece buffer, the evaluation inputs (a
     * token id, a sequence id and a logits flag per prompt token), each
     * sequence's text buffer (wl__generate_text_tokens pieces of piece_cap + 4 bytes,
     * and a NUL) */
    const size_t n_in = total > (size_t)b->n ? total : (size_t)b->n;
    const size_t in_bytes = sizeof *b->tokens + sizeof *b->seqs + sizeof *b->want;
    b->piece_cap = wl_tok_decoder_out_max(tok);
    const size_t piece_bytes = b->piece_cap + 4; /* checked below before any use */
    if (b->piece_cap > WL__GENERATE_ALLOC_MAX - 4)
        rc = piece_oom(err, (double)b->piece_cap + 4.0, true);
    else if (n_in > WL__GENERATE_ALLOC_MAX / sizeof *b->tokens)
        rc = inputs_oom(err, b, n_in, in_bytes, true);
    for (int32_t i = 0; i < b->n && rc == 0; i++) {
        b->s[i].cap = wl__generate_text_cap(ctx, b->s[i].n_prompt, p->n_predict, b->piece_cap);
        if (b->s[i].cap == 0)
            rc = text_oom(err, ctx, p->n_predict, b, i, true);
    }
    if (rc == 0) {
        b->piece = malloc(piece_bytes);
        if (!b->piece)
            rc = piece_oom(err, (double)piece_bytes, false);
    }
    if (rc == 0) {
        b->tokens = malloc(n_in * sizeof *b->tokens);
        b->seqs = malloc(n_in * sizeof *b->seqs);
        b->want = calloc(n_in, sizeof *b->want);
        if (!b->tokens || !b->seqs || !b->want)
            rc = inputs_oom(err, b, n_in, in_bytes, false);
    }
    for (int32_t i = 0; i < b->n && rc == 0; i++) {
        struct seq_state *s = &b->s[i];
        struct wl_token_sampler_params sp = p->sampling;
        sp.seed += (uint64_t)i;
        if ((rc = wl_token_sampler_create(&sp, b->n_sample, &s->smp)) != 0) {
            wl__generate_sampler_error(err, rc, &sp, b->n_sample, i);
            break;
        }
        s->text = malloc(s->cap); /* s->cap: sized above */
        if (!s->text) {
            rc = text_oom(err, ctx, p->n_predict, b, i, false);
            break;
        }
        for (size_t k = 0; k < s->n_prompt; k++)
            wl_token_sampler_accept(s->smp, s->prompt[k]);
        wl_tok_decoder_init(&s->dec, tok, 0);
        wl__generate_decoder_prime(&s->dec, s->prompt, s->n_prompt, b->piece, b->piece_cap);
        s->row = -1;
    }
    wl_context_emit_section(ctx, WL_SECTION_INPUT_SETUP, false);
    return rc;
}

/* Samples the next token of every sequence that ran (row >= 0); returns 0
 * or an error for a non-finite logit. */
static int sample_round(wl_context *ctx, const wl_tokenizer *tok,
                        const struct wl_generate_params *p,
                        const struct wl_generate_batch_params *bp, struct batch *b, int32_t step,
                        struct wl_generate_result *res, int32_t *first_id, size_t *first_len,
                        int32_t *n_sampled, struct wl_errmsg *err)
{
    const wl_model *m = wl_context_model(ctx);
    *first_id = -1;
    *first_len = 0;
    *n_sampled = 0;
    for (int32_t i = 0; i < b->n; i++) {
        struct seq_state *s = &b->s[i];
        if (s->done || s->row < 0)
            continue;
        wl_context_emit_section(ctx, WL_SECTION_SAMPLING, true);
        float *logits = wl_context_logits_row(ctx, s->row);
        int rc = wl__generate_check_logits(ctx, logits, b->n_sample, i, step, err);
        if (rc != 0) {
            wl_context_emit_section(ctx, WL_SECTION_SAMPLING, false);
            return rc;
        }
        const int32_t id = wl_token_sampler_sample(s->smp, logits);
        wl_context_emit_section(ctx, WL_SECTION_SAMPLING, false);
        wl_token_sampler_accept(s->smp, id);
        res[i].n_generated++;
        (*n_sampled)++;
        const bool eog = wl_tok_is_eog(tok, id) || wl_model_is_eog(m, id);
        size_t nb = 0;
        wl_context_emit_section(ctx, WL_SECTION_DETOKENIZE, true);
        if (!eog) /* a sampled id is below n_sample: the tokenizer's */
            wl_tok_decoder_push(&s->dec, id, b->piece, b->piece_cap, &nb);
        wl_context_emit_section(ctx, WL_SECTION_DETOKENIZE, false);
        append(s, b->piece, nb);
        if (nb > 0 && bp->on_text)
            bp->on_text(bp->user_data, i, b->piece, nb);
        if (*first_id < 0) {
            *first_id = id;
            *first_len = nb;
        }
        s->prev = id;
        if (eog) {
            s->done = true;
            res[i].stop = WL_STOP_EOG;
        } else if (res[i].n_generated >= p->n_predict) {
            s->done = true;
            res[i].stop = WL_STOP_MAX_TOKENS;
        }
    }
    return 0;
}

int wl_generate_batch(wl_context *ctx, const wl_tokenizer *tok, const struct wl_generate_params *p,
                      const struct wl_generate_batch_params *bp, struct wl_generate_result *res,
                      struct wl_generate_batch_stats *stats, struct wl_errmsg *err)
{
    memset(stats, 0, sizeof *stats);
    if (bp->n_seq < 1 || !bp->prompts)
        return wl_errmsg_set(err, WL_EINVAL, "a batch needs at least one prompt");
    memset(res, 0, (size_t)bp->n_seq * sizeof *res);
    if (p->n_predict <= 0)
        return wl_errmsg_set(err, WL_EINVAL, "n_predict must be positive");
    if (bp->n_seq > wl_context_n_seq(ctx))
        return wl_errmsg_set(err, WL_EINVAL,
                             "%d sequences asked for, the context was created for %d (n_seq)",
                             bp->n_seq, wl_context_n_seq(ctx));

    struct batch b = {.n = bp->n_seq};
    const int nrc = wl__generate_n_sample(ctx, tok, &b.n_sample, err);
    if (nrc != 0)
        return nrc;
    const uint64_t t_start = wl_clock_now_ns();
    int32_t n_prompt = 0;

    /* ---- pre_inference ----------------------------------------------------------- */
    wl_context_emit_phase(ctx, WL_PHASE_PRE_INFERENCE, true);
    int rc = setup(ctx, tok, p, bp, &b, &n_prompt, err);
    stats->t_tokenize_ns = wl_clock_now_ns() - t_start;
    if (rc == 0) {
        wl_context_emit_section(ctx, WL_SECTION_KV_INIT, true);
        wl_context_reset(ctx);
        wl_context_emit_section(ctx, WL_SECTION_KV_INIT, false);
    }
    wl_context_emit_phase(ctx, WL_PHASE_PRE_INFERENCE, false);
    if (rc != 0)
        goto done;
    stats->n_prompt = n_prompt;

    /* ---- prefill: every prompt in one evaluation ------------------------------ */
    wl_context_emit_phase(ctx, WL_PHASE_PREFILL, true);
    uint64_t t0 = wl_clock_now_ns();
    int32_t k = 0;
    for (int32_t i = 0; i < b.n; i++) {
        for (size_t j = 0; j < b.s[i].n_prompt; j++, k++) {
            b.tokens[k] = b.s[i].prompt[j];
            b.seqs[k] = i;
            b.want[k] = j + 1 == b.s[i].n_prompt;
        }
        b.s[i].row = i;
        res[i].n_prompt = (int32_t)b.s[i].n_prompt;
    }
    /* several forward batches: a cancel is honoured between them (as wl_generate) */
    const bool cancel_early = p->cancel && *p->cancel;
    wl_context_set_cancel(ctx, p->cancel);
    rc = cancel_early ? WL_ECANCELED : wl_context_eval_seqs(ctx, b.tokens, b.seqs, b.want, k, err);
    wl_context_set_cancel(ctx, NULL);
    stats->t_prefill_ns = wl_clock_now_ns() - t0;
    wl_context_emit_phase(ctx, WL_PHASE_PREFILL, false);
    const bool prefill_cancelled = rc == WL_ECANCELED;
    if (prefill_cancelled)
        rc = 0;
    if (rc != 0)
        goto done;

    /* ---- decode: one round per step for the running sequences -------------------- */
    wl_context_emit_phase(ctx, WL_PHASE_DECODE, true);
    for (int32_t i = 0; i < b.n; i++)
        res[i].stop = WL_STOP_MAX_TOKENS;
    /* the decode clock starts once round 0 is done: it samples from the
     * prefill's logits, so it is no decode round, and the rate (the tokens
     * after each sequence's first over t_decode_ns) must not hold its
     * samplings (as wl_generate) */
    uint64_t t_dec0 = 0;
    for (int32_t step = 0; step < p->n_predict; step++) {
        if (prefill_cancelled || (p->cancel && *p->cancel)) {
            for (int32_t i = 0; i < b.n; i++)
                if (!b.s[i].done) {
                    b.s[i].done = true;
                    res[i].stop = WL_STOP_CANCELLED;
                }
            break;
        }
        int32_t n_run = 0;
        if (step > 0) {
            for (int32_t i = 0; i < b.n; i++) {
                struct seq_state *s = &b.s[i];
                s->row = -1;
                if (s->done)
                    continue;
                if (wl_context_seq_n_past(ctx, i) >= wl_context_n_ctx(ctx)) {
                    s->done = true;
                    res[i].stop = WL_STOP_CONTEXT_FULL;
                    continue;
                }
                b.tokens[n_run] = s->prev;
                b.seqs[n_run] = i;
                b.want[n_run] = true;
                s->row = n_run++;
            }
            if (n_run == 0)
                break;
        }
        /* the round's sequences: all of them at step 0 (sampled from the
         * prefill's logits; none is done yet), else the ones evaluated */
        const int32_t n_round = step == 0 ? b.n : n_run;
        wl_context_emit_token(ctx, step, true, n_round, -1, NULL, 0);
        if (step > 0 &&
            (rc = wl_context_eval_seqs(ctx, b.tokens, b.seqs, b.want, n_run, err)) != 0) {
            wl_context_emit_token(ctx, step, false, 0, -1, NULL, 0); /* no token: hooks.h */
            break;
        }
        int32_t first_id = -1, n_sampled = 0;
        size_t first_len = 0;
        rc = sample_round(ctx, tok, p, bp, &b, step, res, &first_id, &first_len, &n_sampled, err);
        if (step == 0)
            for (int32_t i = 0; i < b.n; i++)
                res[i].t_first_token_ns = wl_clock_now_ns() - t_start;
        else
            stats->n_rounds++;
        /* the event carries the first running sequence's id and, as its
         * sequence count, those that sampled a token: all that ran, unless
         * a sequence's sampling failed (the round stops there; none: a
         * failed round, hooks.h). A piece is not kept separately, so the
         * text is given only when one sequence sampled (then b.piece holds
         * exactly its piece) */
        const bool one = n_sampled == 1;
        wl_context_emit_token(ctx, step, false, n_sampled, first_id, one ? b.piece : NULL,
                              one ? first_len : 0);
        if (rc != 0)
            break;
        if (step == 0)
            t_dec0 = wl_clock_now_ns();
        bool all_done = true;
        for (int32_t i = 0; i < b.n; i++)
            all_done &= b.s[i].done;
        if (all_done)
            break;
    }
    /* no decode round ran (one token per sequence at most): no decode time */
    stats->t_decode_ns = stats->n_rounds > 0 ? wl_clock_now_ns() - t_dec0 : 0;
    wl_context_emit_phase(ctx, WL_PHASE_DECODE, false);
    if (rc != 0)
        goto done;

    /* ---- post_inference: every text, cleanup ------------------------------------ */
    wl_context_emit_phase(ctx, WL_PHASE_POST_INFERENCE, true);
    wl_context_emit_section(ctx, WL_SECTION_DETOKENIZE, true);
    for (int32_t i = 0; i < b.n; i++) {
        struct seq_state *s = &b.s[i];
        size_t nb = 0;
        wl_tok_decoder_flush(&s->dec, b.piece, b.piece_cap, &nb);
        append(s, b.piece, nb);
        if (nb > 0 && bp->on_text)
            bp->on_text(bp->user_data, i, b.piece, nb);
        s->text[s->len] = '\0';
        res[i].text = s->text;
        res[i].text_len = s->len;
        s->text = NULL;
        stats->n_generated += res[i].n_generated;
    }
    wl_context_emit_section(ctx, WL_SECTION_DETOKENIZE, false);
    wl_context_emit_section(ctx, WL_SECTION_CLEANUP, true);
    batch_free(&b);
    memset(&b, 0, sizeof b);
    wl_context_emit_section(ctx, WL_SECTION_CLEANUP, false);
    wl_context_emit_phase(ctx, WL_PHASE_POST_INFERENCE, false);
done:
    stats->t_total_ns = wl_clock_now_ns() - t_start;
    for (int32_t i = 0; i < bp->n_seq; i++) {
        if (rc != 0)
            res[i].stop = WL_STOP_ERROR; /* also after a failure in decode */
        res[i].t_tokenize_ns = stats->t_tokenize_ns;
        res[i].t_prefill_ns = stats->t_prefill_ns;
        res[i].t_decode_ns = stats->t_decode_ns;
        res[i].t_total_ns = stats->t_total_ns;
    }
    batch_free(&b);
    if (rc != 0)
        for (int32_t i = 0; i < bp->n_seq; i++)
            wl_generate_result_free(&res[i]);
    return rc;
}

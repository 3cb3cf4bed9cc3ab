/* The forward pass over one batch: embedding, the family's layers, final
 * norm and output projection, with their section/layer boundaries; the
 * family table; and the engine's single call sites into the kernels and the
 * thread pool (wl__matmul, wl__parallel). See forward.h.
 */
#include "engine/forward.h"

#include "engine/context.h"
#include "wattlens/error.h"

#include <math.h>
#include <string.h>

extern const struct wl_family wl__family_llama;
extern const struct wl_family wl__family_mistral;
extern const struct wl_family wl__family_qwen2;
extern const struct wl_family wl__family_phi3;
extern const struct wl_family wl__family_gemma;
extern const struct wl_family wl__family_gemma2;
extern const struct wl_family wl__family_stablelm;

/* Adding a family: its forward_<family>.c defines a struct wl_family, and it
 * gets a line here. */
static const struct wl_family *const families[] = {
    &wl__family_llama,
    &wl__family_mistral,
    &wl__family_qwen2,
    &wl__family_phi3,
    &wl__family_gemma,
    &wl__family_gemma2,
    &wl__family_stablelm,
};

const struct wl_family *wl__family_find(const char *arch)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (strcmp(families[i]->arch, arch) == 0)
            return families[i];
    return NULL;
}

void wl__hook_emit(struct wl_context *ctx, struct wl_hook_event *ev)
{
    ev->phase = ctx->phase;
    if (ev->kind != WL_HOOK_TOKEN) /* a token event carries its round's sequence count */
        ev->n_tok = ctx->batch.n_tok;
    ev->pos = ctx->batch.pos0;
    if (ev->kind != WL_HOOK_LAYER && ev->kind != WL_HOOK_COMPONENT && ev->kind != WL_HOOK_OP)
        ev->layer = -1;
    ctx->hooks.fn(ctx->hooks.user_data, ev);
}

static void emit_section(struct wl_context *ctx, enum wl_section s, bool begin)
{
    struct wl_hook_event ev = {.kind = WL_HOOK_SECTION, .begin = begin, .section = s};
    wl__hook_emit(ctx, &ev);
}

static void emit_layer(struct wl_context *ctx, int32_t il, bool begin)
{
    struct wl_hook_event ev = {.kind = WL_HOOK_LAYER, .begin = begin, .layer = il};
    wl__hook_emit(ctx, &ev);
}

/* ---- RoPE angles for the batch ------------------------------------------------ */

static void rope_angles(struct wl_context *ctx)
{
    const struct wl_model_config *c = &ctx->model->config;
    const float *factors = ctx->rope_factors;
    const int32_t half = c->rope_dim / 2;
    const double mscale = c->rope_attn_factor > 0.0f ? (double)c->rope_attn_factor : 1.0;
    for (int32_t t = 0; t < ctx->batch.n_tok; t++) {
        const double pos = (double)ctx->rs.tok_pos[t] * (double)c->rope_freq_scale;
        for (int32_t i = 0; i < half; i++) {
            double freq = pow((double)c->rope_freq_base, -2.0 * i / (double)c->rope_dim);
            if (factors)
                freq /= (double)factors[i];
            const double th = pos * freq;
            ctx->rs.rope_cos[(size_t)t * half + i] = (float)(cos(th) * mscale);
            ctx->rs.rope_sin[(size_t)t * half + i] = (float)(sin(th) * mscale);
        }
    }
}

/* ---- one batch ------------------------------------------------------------------ */

/* Final norm of one row (RMSNorm, or LayerNorm with bias), in double like
 * the reference so the last step adds no error of its own. */
static void final_norm_row(const wl_model *m, const float *x, float *out)
{
    const struct wl_model_config *c = &m->config;
    const float *w = m->weights.output_norm, *b = m->weights.output_norm_b;
    double mean = 0.0;
    if (c->layer_norm) {
        for (int32_t i = 0; i < c->dim; i++)
            mean += (double)x[i];
        mean /= c->dim;
    }
    double ss = 0.0;
    for (int32_t i = 0; i < c->dim; i++)
        ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    const float inv = (float)(1.0 / sqrt(ss / c->dim + (double)c->norm_eps));
    for (int32_t i = 0; i < c->dim; i++) {
        out[i] = ((float)((double)x[i] - mean) * inv) * w[i];
        if (b)
            out[i] += b[i];
    }
}

/* The logits of the n_out batch rows listed in rs.out_rows into rs.logits
 * starting at row logit0. Only the requested rows are normed and projected
 * (one matrix product over n_out rows: the output matrix is read once for
 * all of them). */
static void output_rows(struct wl_context *ctx, int32_t n_out, int32_t logit0)
{
    const wl_model *m = ctx->model;
    const struct wl_model_config *c = &m->config;
    struct wl_run_state *rs = &ctx->rs;
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN))
        emit_section(ctx, WL_SECTION_FINAL_NORM, true);
    for (int32_t r = 0; r < n_out; r++)
        final_norm_row(m, rs->x + (size_t)rs->out_rows[r] * c->dim, rs->xb + (size_t)r * c->dim);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN)) {
        emit_section(ctx, WL_SECTION_FINAL_NORM, false);
        emit_section(ctx, WL_SECTION_OUTPUT, true);
    }
    float *logits = rs->logits + (size_t)logit0 * c->vocab_size;
    wl__matmul(ctx, &m->weights.output, rs->xb, n_out, logits);
    /* qwen2's optional output.bias, before any soft-cap */
    wl__fwd_add_bias(logits, m->weights.output_b, n_out, c->vocab_size);
    if (c->final_softcap > 0.0f) {
        const float cap = c->final_softcap;
        for (size_t i = 0; i < (size_t)n_out * c->vocab_size; i++)
            logits[i] = cap * tanhf(logits[i] / cap);
    }
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN))
        emit_section(ctx, WL_SECTION_OUTPUT, false);
}

/* Runs the n (<= n_ubatch) tokens whose rs.tok_pos / rs.tok_seq are set;
 * then the logits of the n_out rows listed in rs.out_rows into rs.logits
 * starting at row logit0. Returns ctx->kernel_rc: not 0 when the kernels
 * refused a weight, and then no logits are left (n_logits 0). */
static int forward_batch(struct wl_context *ctx, const int32_t *tokens, int32_t n, int32_t n_out,
                         int32_t logit0)
{
    const wl_model *m = ctx->model;
    const struct wl_model_config *c = &m->config;
    struct wl_run_state *rs = &ctx->rs;
    ctx->batch.n_tok = n;
    ctx->batch.pos0 = rs->tok_pos[0];

    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN))
        emit_section(ctx, WL_SECTION_EMBEDDING, true);
    for (int32_t t = 0; t < n; t++) {
        float *x = rs->x + (size_t)t * c->dim;
        wl__weight_row_f32(&m->weights.tok_embd, tokens[t], x);
        if (c->embd_scale > 0.0f && c->embd_scale != 1.0f)
            for (int32_t i = 0; i < c->dim; i++)
                x[i] *= c->embd_scale;
    }
    rope_angles(ctx);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN)) {
        emit_section(ctx, WL_SECTION_EMBEDDING, false);
        emit_section(ctx, WL_SECTION_LAYERS, true);
    }

    for (int32_t il = 0; il < c->n_layer; il++) {
        if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_LAYER))
            emit_layer(ctx, il, true);
        m->family->layer(ctx, il);
        if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_LAYER))
            emit_layer(ctx, il, false);
    }
    for (int32_t t = 0; t < n; t++)
        ctx->seq_past[rs->tok_seq[t]] = rs->tok_pos[t] + 1;
    ctx->n_past = ctx->seq_past[0];
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN))
        emit_section(ctx, WL_SECTION_LAYERS, false);
    if (n_out > 0)
        output_rows(ctx, n_out, logit0);
    if (ctx->kernel_rc != 0)
        ctx->n_logits = 0;
    return ctx->kernel_rc;
}

static int check_tokens(struct wl_context *ctx, const int32_t *tokens, int32_t n,
                        struct wl_errmsg *err)
{
    if (n <= 0)
        return wl_errmsg_set(err, WL_EINVAL, "nothing to evaluate (0 tokens)");
    if (n > ctx->n_ctx - ctx->n_past)
        return wl_errmsg_set(err, WL_EFULL,
                             "context full: %d positions used of %d, cannot add %d more "
                             "(create the context with a larger n_ctx)",
                             ctx->n_past, ctx->n_ctx, n);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= ctx->model->config.vocab_size)
            return wl_errmsg_set(err, WL_EINVAL, "token %d at index %d is outside the vocabulary (%d)",
                                 tokens[i], i, ctx->model->config.vocab_size);
    return 0;
}

/* The cancel flag between forward batches (context.h): true, with the
 * message set and no logits left, when the evaluation must stop after done
 * of its n tokens. */
static bool stop_requested(struct wl_context *ctx, int32_t done, int32_t n, struct wl_errmsg *err)
{
    if (!ctx->cancel || !*ctx->cancel)
        return false;
    ctx->n_logits = 0;
    wl_errmsg_set(err, WL_ECANCELED, "cancelled after %d of %d tokens", done, n);
    return true;
}

int wl__forward(struct wl_context *ctx, const int32_t *tokens, int32_t n, struct wl_errmsg *err)
{
    int rc = check_tokens(ctx, tokens, n, err);
    if (rc == 0)
        rc = wl__kernel_status(ctx, err);
    if (rc != 0)
        return rc;
    for (int32_t i = 0; i < n; i += ctx->n_ubatch) {
        if (i > 0 && stop_requested(ctx, i, n, err))
            return WL_ECANCELED;
        int32_t nb = n - i < ctx->n_ubatch ? n - i : ctx->n_ubatch;
        for (int32_t t = 0; t < nb; t++) {
            ctx->rs.tok_pos[t] = ctx->n_past + t;
            ctx->rs.tok_seq[t] = 0;
        }
        const bool last = i + nb == n;
        ctx->rs.out_rows[0] = nb - 1;
        rc = forward_batch(ctx, tokens + i, nb, last ? 1 : 0, 0);
        if (rc != 0)
            return wl__kernel_status(ctx, err);
    }
    ctx->n_logits = 1;
    return 0;
}

int wl__forward_multi(struct wl_context *ctx, const int32_t *tokens, const int32_t *seq,
                      const bool *want, int32_t n, struct wl_errmsg *err)
{
    if (n <= 0)
        return wl_errmsg_set(err, WL_EINVAL, "nothing to evaluate (0 tokens)");
    int32_t n_want = 0;
    for (int32_t i = 0; i < n; i++) {
        if (seq[i] < 0 || seq[i] >= ctx->n_seq)
            return wl_errmsg_set(err, WL_EINVAL, "sequence %d at index %d is outside 0..%d", seq[i],
                                 i, ctx->n_seq - 1);
        if (tokens[i] < 0 || tokens[i] >= ctx->model->config.vocab_size)
            return wl_errmsg_set(err, WL_EINVAL, "token %d at index %d is outside the vocabulary (%d)",
                                 tokens[i], i, ctx->model->config.vocab_size);
        n_want += want && want[i];
    }
    if (n_want > ctx->n_seq)
        return wl_errmsg_set(err, WL_EINVAL, "%d logits rows asked for, the context holds %d",
                             n_want, ctx->n_seq);
    /* capacity of every sequence, checked before anything runs */
    for (int32_t s = 0; s < ctx->n_seq; s++) {
        int32_t add = 0;
        for (int32_t i = 0; i < n; i++)
            add += seq[i] == s;
        if (add > ctx->n_ctx - ctx->seq_past[s])
            return wl_errmsg_set(err, WL_EFULL,
                                 "context full: sequence %d uses %d positions of %d, cannot add %d "
                                 "more (create the context with a larger n_ctx)",
                                 s, ctx->seq_past[s], ctx->n_ctx, add);
    }
    int rc = wl__kernel_status(ctx, err);
    if (rc != 0)
        return rc;
    int32_t logit0 = 0;
    for (int32_t i = 0; i < n; i += ctx->n_ubatch) {
        if (i > 0 && stop_requested(ctx, i, n, err))
            return WL_ECANCELED;
        int32_t nb = n - i < ctx->n_ubatch ? n - i : ctx->n_ubatch;
        int32_t n_out = 0;
        for (int32_t t = 0; t < nb; t++) {
            const int32_t s = seq[i + t];
            /* a sequence's tokens take consecutive positions in batch order */
            int32_t pos = ctx->seq_past[s];
            for (int32_t u = 0; u < t; u++)
                pos += ctx->rs.tok_seq[u] == s;
            ctx->rs.tok_pos[t] = pos;
            ctx->rs.tok_seq[t] = s;
            if (want && want[i + t])
                ctx->rs.out_rows[n_out++] = t;
        }
        rc = forward_batch(ctx, tokens + i, nb, n_out, logit0);
        if (rc != 0)
            return wl__kernel_status(ctx, err);
        logit0 += n_out;
    }
    ctx->n_logits = logit0;
    return 0;
}

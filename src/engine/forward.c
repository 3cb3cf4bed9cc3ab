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

/* Adding a family: its forward_<family>.c defines a struct wl_family, and it
 * gets a line here. */
static const struct wl_family *const families[] = {
    &wl__family_llama,
    &wl__family_mistral,
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
    const float *factors = ctx->model->weights.rope_freq_factors;
    const int32_t half = c->rope_dim / 2;
    for (int32_t t = 0; t < ctx->batch.n_tok; t++) {
        const double pos = (double)ctx->rs.tok_pos[t] * (double)c->rope_freq_scale;
        for (int32_t i = 0; i < half; i++) {
            double freq = pow((double)c->rope_freq_base, -2.0 * i / (double)c->rope_dim);
            if (factors)
                freq /= (double)factors[i];
            const double th = pos * freq;
            ctx->rs.rope_cos[(size_t)t * half + i] = (float)cos(th);
            ctx->rs.rope_sin[(size_t)t * half + i] = (float)sin(th);
        }
    }
}

/* ---- one batch ------------------------------------------------------------------ */

/* Runs n (<= n_ubatch) tokens at position n_past. want_logits: compute the
 * last token's logits (only the final batch of a prompt needs them). */
static void forward_batch(struct wl_context *ctx, const int32_t *tokens, int32_t n, bool want_logits)
{
    const wl_model *m = ctx->model;
    const struct wl_model_config *c = &m->config;
    struct wl_run_state *rs = &ctx->rs;
    ctx->batch.n_tok = n;
    ctx->batch.pos0 = ctx->n_past;

    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN))
        emit_section(ctx, WL_SECTION_EMBEDDING, true);
    for (int32_t t = 0; t < n; t++) {
        rs->tok_pos[t] = ctx->n_past + t;
        rs->tok_seq[t] = 0;
        wl__weight_row_f32(&m->weights.tok_embd, tokens[t], rs->x + (size_t)t * c->dim);
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
    ctx->n_past += n;
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN))
        emit_section(ctx, WL_SECTION_LAYERS, false);
    if (!want_logits)
        return;

    /* Only the last token's logits are needed: norm and project one row. */
    const float *last = rs->x + (size_t)(n - 1) * c->dim;
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN))
        emit_section(ctx, WL_SECTION_FINAL_NORM, true);
    double ss = 0.0;
    for (int32_t i = 0; i < c->dim; i++)
        ss += (double)last[i] * (double)last[i];
    const float inv = (float)(1.0 / sqrt(ss / c->dim + (double)c->norm_eps));
    for (int32_t i = 0; i < c->dim; i++)
        rs->xb[i] = (last[i] * inv) * m->weights.output_norm[i];
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN)) {
        emit_section(ctx, WL_SECTION_FINAL_NORM, false);
        emit_section(ctx, WL_SECTION_OUTPUT, true);
    }
    wl__matmul(ctx, &m->weights.output, rs->xb, 1, rs->logits);
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN))
        emit_section(ctx, WL_SECTION_OUTPUT, false);
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

int wl__forward(struct wl_context *ctx, const int32_t *tokens, int32_t n, struct wl_errmsg *err)
{
    int rc = check_tokens(ctx, tokens, n, err);
    if (rc != 0)
        return rc;
    for (int32_t i = 0; i < n; i += ctx->n_ubatch) {
        int32_t nb = n - i < ctx->n_ubatch ? n - i : ctx->n_ubatch;
        forward_batch(ctx, tokens + i, nb, i + nb == n);
    }
    return 0;
}

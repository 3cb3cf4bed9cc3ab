/* Context lifecycle: one allocation for every run-state buffer, the KV
 * cache, the thread pool, hooks; prefill/decode entry points. See context.h.
 */
#include "engine/context.h"

#include "engine/forward.h"
#include "engine/threadpool.h"
#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

struct wl_context_params wl_context_default_params(void)
{
    struct wl_context_params p = {
        .n_ctx = 0,
        .n_ubatch = 64,
        .n_threads = 0,
        .kv_type = WL_TTYPE_F16,
        .n_seq = 1,
        .n_ctx_rope = 0,
    };
    return p;
}

/* Buffer plan: sizes in floats, laid out in one block, each 64-byte aligned. */
struct plan {
    size_t x, xb, xb2, q, k, v, att, scores, hb, hb2, logits, rope, norm, fused, att_scratch,
        work_bytes;
};

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static int plan_sizes(const wl_model *m, int32_t B, int32_t T, int32_t n_seq, int32_t n_threads,
                      struct plan *p)
{
    const struct wl_model_config *c = &m->config;
    const size_t q_dim = (size_t)c->n_head * (size_t)c->head_dim;
    const size_t kv_dim = (size_t)c->n_head_kv * (size_t)c->head_dim;
    int64_t max_in = c->dim > c->ffn_dim ? c->dim : c->ffn_dim;
    if ((int64_t)q_dim > max_in)
        max_in = (int64_t)q_dim;
    p->x = p->xb = p->xb2 = (size_t)B * (size_t)c->dim;
    p->q = p->att = (size_t)B * q_dim;
    p->k = p->v = (size_t)B * kv_dim;
    p->scores = (size_t)B * (size_t)c->n_head * (size_t)T;
    p->hb = p->hb2 = (size_t)B * (size_t)c->ffn_dim;
    p->logits = (size_t)n_seq * (size_t)c->vocab_size;
    p->fused = 0;
    for (int32_t il = 0; il < c->n_layer; il++) {
        const struct wl_layer_weights *l = &m->weights.layers[il];
        size_t f = l->wqkv.data ? (size_t)l->wqkv.n_out : 0;
        if (l->w_gate_up.data && (size_t)l->w_gate_up.n_out > f)
            f = (size_t)l->w_gate_up.n_out;
        f *= (size_t)B;
        p->fused = f > p->fused ? f : p->fused;
    }
    p->rope = (size_t)B * (size_t)(c->rope_dim / 2);
    p->norm = (size_t)B;
    p->att_scratch = (size_t)n_threads * wl_kv_cache_group_scratch_floats(c->head_dim);
    (void)max_in;
    p->work_bytes = wl__matmul_work_bytes(m, B);
    return 0;
}

int wl_context_create(const wl_model *m, const struct wl_context_params *params, wl_context **out,
                      struct wl_errmsg *err)
{
    *out = NULL;
    struct wl_context_params p = params ? *params : wl_context_default_params();
    const struct wl_model_config *c = &m->config;
    if (p.n_ctx < 0 || p.n_ubatch < 0 || p.n_threads < 0 || p.n_seq < 0 || p.n_ctx_rope < 0)
        return wl_errmsg_set(err, WL_EINVAL, "negative context parameter");
    if (p.n_seq == 0)
        p.n_seq = 1;
    if (p.n_seq > WL_CONTEXT_MAX_SEQ)
        return wl_errmsg_set(err, WL_EINVAL, "%d sequences is more than %d", p.n_seq,
                             WL_CONTEXT_MAX_SEQ);
    if (p.n_ctx == 0)
        p.n_ctx = c->n_ctx_train < 4096 ? c->n_ctx_train : 4096;
    if (p.n_ubatch == 0)
        p.n_ubatch = 64;
    if ((int64_t)p.n_ctx * p.n_seq > INT32_MAX / 2)
        return wl_errmsg_set(err, WL_EINVAL, "%d positions x %d sequences is too many", p.n_ctx,
                             p.n_seq);
    /* one decode step of every sequence must fit in one batch, so the
     * weights are read once per step for all of them */
    if (p.n_ubatch < p.n_seq)
        p.n_ubatch = p.n_seq;
    if (p.n_ubatch > p.n_ctx * p.n_seq)
        p.n_ubatch = p.n_ctx * p.n_seq;
    if (p.n_threads == 0)
        p.n_threads = wl_threadpool_default_threads();
    if (p.n_threads > WL_THREADPOOL_MAX_THREADS)
        return wl_errmsg_set(err, WL_EINVAL, "%d threads is more than %d", p.n_threads,
                             WL_THREADPOOL_MAX_THREADS);

    wl_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    ctx->model = m;
    ctx->n_ctx = p.n_ctx;
    ctx->n_ubatch = p.n_ubatch;
    ctx->n_threads = p.n_threads;
    ctx->n_seq = p.n_seq;
    /* phi3 LongRoPE: the long factors when the context (n_ctx_rope, else
     * n_ctx) exceeds the original training length, else the short ones (as
     * the reference does per context: llama.cpp compares n_ctx_per_seq) */
    const int32_t n_ctx_rope = p.n_ctx_rope > 0 ? p.n_ctx_rope : p.n_ctx;
    ctx->rope_factors = m->weights.rope_freq_factors;
    if (m->weights.rope_factors_long && m->weights.rope_factors_short)
        ctx->rope_factors = (c->rope_n_ctx_orig > 0 && n_ctx_rope > c->rope_n_ctx_orig)
                                ? m->weights.rope_factors_long
                                : m->weights.rope_factors_short;
    /* sequence s owns KV cells [s * n_ctx, (s + 1) * n_ctx) */
    int rc = wl_kv_cache_init(&ctx->kv, p.kv_type, c->n_layer, p.n_ctx * p.n_seq, c->n_head_kv,
                              c->head_dim, err);
    if (rc != 0)
        goto fail;

    struct plan pl;
    plan_sizes(m, p.n_ubatch, p.n_ctx, p.n_seq, p.n_threads, &pl);
    const size_t floats[] = {pl.x, pl.xb, pl.xb2, pl.q, pl.k, pl.v, pl.att, pl.scores,
                             pl.hb, pl.hb2, pl.logits, pl.rope, pl.rope, pl.norm, pl.fused,
                             pl.att_scratch};
    float **slots[] = {&ctx->rs.x, &ctx->rs.xb, &ctx->rs.xb2, &ctx->rs.q, &ctx->rs.k,
                       &ctx->rs.v, &ctx->rs.att, &ctx->rs.scores, &ctx->rs.hb, &ctx->rs.hb2,
                       &ctx->rs.logits, &ctx->rs.rope_cos, &ctx->rs.rope_sin, &ctx->rs.norm_tmp,
                       &ctx->rs.fused, &ctx->rs.att_scratch};
    size_t total = 0;
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        total += align64(floats[i] * sizeof(float));
    total += 2 * align64((size_t)p.n_ubatch * sizeof(int32_t)); /* tok_pos, tok_seq */
    total += 2 * align64((size_t)p.n_seq * sizeof(int32_t));    /* out_rows, seq_past */
    total += align64(pl.work_bytes);
    ctx->block = aligned_alloc(64, total);
    if (!ctx->block) {
        rc = wl_errmsg_set(err, WL_ENOMEM, "cannot allocate %.1f MiB of run state",
                           (double)total / (1024.0 * 1024.0));
        goto fail;
    }
    /* zeroed so a buffer read before it is written holds zeros, not garbage */
    memset(ctx->block, 0, total);
    char *cur = ctx->block;
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        *slots[i] = (float *)cur;
        cur += align64(floats[i] * sizeof(float));
    }
    ctx->rs.tok_pos = (int32_t *)cur;
    cur += align64((size_t)p.n_ubatch * sizeof(int32_t));
    ctx->rs.tok_seq = (int32_t *)cur;
    cur += align64((size_t)p.n_ubatch * sizeof(int32_t));
    ctx->rs.out_rows = (int32_t *)cur;
    cur += align64((size_t)p.n_seq * sizeof(int32_t));
    ctx->seq_past = (int32_t *)cur;
    cur += align64((size_t)p.n_seq * sizeof(int32_t));
    if (pl.fused == 0)
        ctx->rs.fused = NULL;
    ctx->rs.work = cur;
    ctx->rs.work_bytes = pl.work_bytes;
    ctx->state_bytes = total;

    if ((rc = wl__pool_create(ctx, err)) != 0)
        goto fail;
    *out = ctx;
    return 0;
fail:
    wl_context_free(ctx);
    return rc;
}

void wl_context_free(wl_context *ctx)
{
    if (!ctx)
        return;
    wl__pool_free(ctx);
    wl_kv_cache_free(&ctx->kv);
    free(ctx->block);
    free(ctx);
}

void wl_context_set_cancel(wl_context *ctx, volatile sig_atomic_t *cancel)
{
    ctx->cancel = cancel;
}

void wl_context_set_hooks(wl_context *ctx, const struct wl_hooks *hooks)
{
    if (hooks && hooks->fn && hooks->depth != WL_HOOK_DEPTH_NONE) {
        ctx->hooks = *hooks;
        ctx->hook_depth = (int32_t)hooks->depth;
    } else {
        memset(&ctx->hooks, 0, sizeof ctx->hooks);
        ctx->hook_depth = 0;
    }
}

const struct wl_hooks *wl_context_hooks(const wl_context *ctx)
{
    return ctx->hook_depth > 0 ? &ctx->hooks : NULL;
}

void wl_context_emit_phase(wl_context *ctx, enum wl_phase phase, bool begin)
{
    if (begin)
        ctx->phase = phase;
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN)) {
        struct wl_hook_event ev = {.kind = WL_HOOK_PHASE, .begin = begin};
        ctx->phase = phase;
        wl__hook_emit(ctx, &ev);
    }
}

void wl_context_emit_section(wl_context *ctx, enum wl_section section, bool begin)
{
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN)) {
        struct wl_hook_event ev = {.kind = WL_HOOK_SECTION, .begin = begin, .section = section};
        wl__hook_emit(ctx, &ev);
    }
}

void wl_context_emit_token(wl_context *ctx, int32_t index, bool begin, int32_t n_seq, int32_t id,
                           const char *text, size_t text_len)
{
    if (WL_HOOK_ON(ctx, WL_HOOK_DEPTH_TOKEN)) {
        struct wl_hook_event ev = {.kind = WL_HOOK_TOKEN, .begin = begin, .n_tok = n_seq,
                                   .token_index = index, .token_id = id, .text = text,
                                   .text_len = text_len};
        wl__hook_emit(ctx, &ev);
    }
}

int wl_context_prefill(wl_context *ctx, const int32_t *tokens, int32_t n, struct wl_errmsg *err)
{
    return wl__forward(ctx, tokens, n, err);
}

int wl_context_decode(wl_context *ctx, int32_t token, struct wl_errmsg *err)
{
    return wl__forward(ctx, &token, 1, err);
}

float *wl_context_logits(wl_context *ctx)
{
    return ctx->rs.logits;
}

int wl_context_eval_seqs(wl_context *ctx, const int32_t *tokens, const int32_t *seq,
                         const bool *want_logits, int32_t n, struct wl_errmsg *err)
{
    return wl__forward_multi(ctx, tokens, seq, want_logits, n, err);
}

float *wl_context_logits_row(wl_context *ctx, int32_t i)
{
    if (i < 0 || i >= ctx->n_logits)
        return NULL;
    return ctx->rs.logits + (size_t)i * (size_t)ctx->model->config.vocab_size;
}

int32_t wl_context_n_seq(const wl_context *ctx)
{
    return ctx->n_seq;
}

int32_t wl_context_seq_n_past(const wl_context *ctx, int32_t seq)
{
    return seq >= 0 && seq < ctx->n_seq ? ctx->seq_past[seq] : 0;
}

void wl_context_seq_reset(wl_context *ctx, int32_t seq)
{
    if (seq < 0 || seq >= ctx->n_seq)
        return;
    ctx->seq_past[seq] = 0;
    ctx->n_past = ctx->seq_past[0];
}

int32_t wl_context_n_past(const wl_context *ctx)
{
    return ctx->n_past;
}

int32_t wl_context_n_ctx(const wl_context *ctx)
{
    return ctx->n_ctx;
}

int32_t wl_context_n_ubatch(const wl_context *ctx)
{
    return ctx->n_ubatch;
}

void wl_context_reset(wl_context *ctx)
{
    /* stale cache entries are never read: attention only reads positions
     * below n_past, each written before it is read */
    ctx->n_past = 0;
    for (int32_t s = 0; s < ctx->n_seq; s++)
        ctx->seq_past[s] = 0;
}

uint64_t wl_context_kv_bytes(const wl_context *ctx)
{
    return ctx->kv.bytes;
}

uint64_t wl_context_state_bytes(const wl_context *ctx)
{
    return ctx->state_bytes;
}

int32_t wl_context_n_threads(const wl_context *ctx)
{
    return ctx->n_threads;
}

bool wl_context_rope_long(const wl_context *ctx)
{
    return ctx->rope_factors && ctx->rope_factors == ctx->model->weights.rope_factors_long;
}

const wl_model *wl_context_model(const wl_context *ctx)
{
    return ctx->model;
}

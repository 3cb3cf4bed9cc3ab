/* Engine throughput tests (llama-bench's pp/tg); see bench.h. */
#include "engine/bench.h"

#include "engine/context.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wl_bench_params wl_bench_default_params(void)
{
    struct wl_bench_params p = {
        .n_prompt = 512,
        .n_gen = 128,
        .reps = 5,
        .n_threads = 0,
        .n_ubatch = 0,
        .kv_type = WL_TTYPE_F16,
        .warmup = true,
        .n_batch = 1,
    };
    return p;
}

static void add_type_bytes(uint64_t *by_type, const struct wl_weight *w)
{
    if (w->data && (unsigned)w->type < WL_TTYPE_COUNT)
        by_type[w->type] += wl_weight_bytes(w);
}

enum wl_ttype wl_model_main_type(const wl_model *m)
{
    uint64_t by_type[WL_TTYPE_COUNT] = {0};
    for (int32_t il = 0; il < m->config.n_layer; il++) {
        const struct wl_layer_weights *l = &m->weights.layers[il];
        const struct wl_weight *ws[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up,
                                        &l->w_down, &l->wqkv, &l->w_gate_up};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            add_type_bytes(by_type, ws[i]);
    }
    int best = 0;
    for (int t = 1; t < WL_TTYPE_COUNT; t++)
        if (by_type[t] > by_type[best])
            best = t;
    return (enum wl_ttype)best;
}

void wl_model_describe(const wl_model *m, char *buf, size_t size)
{
    const double n = (double)m->n_params;
    char sz[32];
    if (n >= 1e9)
        snprintf(sz, sizeof sz, "%.1fB", n / 1e9);
    else if (n >= 1e6)
        snprintf(sz, sizeof sz, "%.0fM", n / 1e6);
    else
        snprintf(sz, sizeof sz, "%.0fK", n / 1e3);
    snprintf(buf, size, "%s %s %s", m->config.arch, sz, wl_ttype_name(wl_model_main_type(m)));
}

/* Deterministic pseudo-random token ids (LCG), avoiding nothing: the
 * engine's speed does not depend on which ids are used. */
static void fill_tokens(int32_t *t, int32_t n, int32_t vocab)
{
    uint64_t s = 0x5DEECE66Dull;
    for (int32_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (int32_t)((s >> 33) % (uint64_t)vocab);
    }
}

static int run_pp(wl_context *ctx, const int32_t *tokens, int32_t n, struct wl_errmsg *err)
{
    wl_context_reset(ctx);
    return wl_context_prefill(ctx, tokens, n, err);
}

static int run_tg(wl_context *ctx, const int32_t *tokens, int32_t n, struct wl_errmsg *err)
{
    wl_context_reset(ctx);
    for (int32_t i = 0; i < n; i++) {
        int rc = wl_context_decode(ctx, tokens[i], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Batched variants: every sequence gets the same token ids (the speed does
 * not depend on them); pp is one evaluation of all prompts, tg one
 * evaluation per step with one token (and its logits) per sequence. */
struct batch_buf {
    int32_t n_batch;
    int32_t *tokens, *seq;
    bool *want;
};

static int run_pp_batch(wl_context *ctx, const struct batch_buf *b, const int32_t *tokens, int32_t n,
                        struct wl_errmsg *err)
{
    wl_context_reset(ctx);
    for (int32_t s = 0; s < b->n_batch; s++)
        for (int32_t i = 0; i < n; i++) {
            b->tokens[s * n + i] = tokens[i];
            b->seq[s * n + i] = s;
            b->want[s * n + i] = i + 1 == n;
        }
    return wl_context_eval_seqs(ctx, b->tokens, b->seq, b->want, n * b->n_batch, err);
}

static int run_tg_batch(wl_context *ctx, const struct batch_buf *b, const int32_t *tokens, int32_t n,
                        struct wl_errmsg *err)
{
    wl_context_reset(ctx);
    for (int32_t s = 0; s < b->n_batch; s++) {
        b->seq[s] = s;
        b->want[s] = true;
    }
    for (int32_t i = 0; i < n; i++) {
        for (int32_t s = 0; s < b->n_batch; s++)
            b->tokens[s] = tokens[i];
        int rc = wl_context_eval_seqs(ctx, b->tokens, b->seq, b->want, b->n_batch, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void finish_stats(struct wl_bench_result *r, int32_t n_tokens)
{
    double sum_ns = 0, sum_ts = 0;
    for (int i = 0; i < r->reps; i++) {
        r->samples_ts[i] = r->samples_ns[i] ? 1e9 * n_tokens / (double)r->samples_ns[i] : 0.0;
        sum_ns += (double)r->samples_ns[i];
        sum_ts += r->samples_ts[i];
    }
    r->avg_ns = sum_ns / r->reps;
    r->avg_ts = sum_ts / r->reps;
    double v_ns = 0, v_ts = 0;
    for (int i = 0; i < r->reps; i++) {
        v_ns += ((double)r->samples_ns[i] - r->avg_ns) * ((double)r->samples_ns[i] - r->avg_ns);
        v_ts += (r->samples_ts[i] - r->avg_ts) * (r->samples_ts[i] - r->avg_ts);
    }
    /* sample standard deviation, 0 for a single repetition (as llama-bench) */
    r->stddev_ns = r->reps > 1 ? sqrt(v_ns / (r->reps - 1)) : 0.0;
    r->stddev_ts = r->reps > 1 ? sqrt(v_ts / (r->reps - 1)) : 0.0;
}

int wl_bench_run(const wl_model *m, const struct wl_bench_params *p, struct wl_bench_result out[2],
                 int *n_out, void (*progress)(void *ud, const char *test, int rep), void *ud,
                 struct wl_errmsg *err)
{
    *n_out = 0;
    if (p->n_prompt < 0 || p->n_gen < 0 || (p->n_prompt == 0 && p->n_gen == 0))
        return wl_errmsg_set(err, WL_EINVAL, "nothing to run: both -p and -n are 0");
    if (p->reps < 1 || p->reps > WL_BENCH_MAX_REPS)
        return wl_errmsg_set(err, WL_EINVAL, "repetitions must be in 1..%d", WL_BENCH_MAX_REPS);
    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = p->n_prompt > p->n_gen ? p->n_prompt : p->n_gen;
    cp.n_threads = p->n_threads;
    if (p->n_ubatch > 0)
        cp.n_ubatch = p->n_ubatch;
    cp.kv_type = p->kv_type;
    const int32_t nb = p->n_batch > 0 ? p->n_batch : 1;
    if (nb > WL_CONTEXT_MAX_SEQ)
        return wl_errmsg_set(err, WL_EINVAL, "batch must be in 1..%d", WL_CONTEXT_MAX_SEQ);
    cp.n_seq = nb;
    wl_context *ctx = NULL;
    int rc = wl_context_create(m, &cp, &ctx, err);
    if (rc != 0)
        return rc;
    const size_t n_in = (size_t)cp.n_ctx * (size_t)nb;
    int32_t *tokens = malloc((size_t)cp.n_ctx * sizeof *tokens);
    struct batch_buf bb = {.n_batch = nb, .tokens = malloc(n_in * sizeof(int32_t)),
                           .seq = malloc(n_in * sizeof(int32_t)), .want = malloc(n_in)};
    if (!tokens || !bb.tokens || !bb.seq || !bb.want) {
        rc = wl_errmsg_set(err, WL_ENOMEM, "out of memory");
        goto done;
    }
    fill_tokens(tokens, cp.n_ctx, m->config.vocab_size);

    for (int kind = 0; kind < 2; kind++) {
        const int32_t n = kind == 0 ? p->n_prompt : p->n_gen;
        if (n == 0)
            continue;
        struct wl_bench_result *r = &out[*n_out];
        memset(r, 0, sizeof *r);
        if (nb > 1)
            snprintf(r->test, sizeof r->test, "%s%d x%d", kind == 0 ? "pp" : "tg", (int)n, (int)nb);
        else
            snprintf(r->test, sizeof r->test, "%s%d", kind == 0 ? "pp" : "tg", (int)n);
        r->n_batch = nb;
        r->n_prompt = kind == 0 ? n : 0;
        r->n_gen = kind == 0 ? 0 : n;
        r->reps = p->reps;
        r->test_time_s = wl_clock_realtime_ns() / 1000000000;
        int (*run)(wl_context *, const int32_t *, int32_t, struct wl_errmsg *) =
            kind == 0 ? run_pp : run_tg;
        int (*run_b)(wl_context *, const struct batch_buf *, const int32_t *, int32_t,
                     struct wl_errmsg *) = kind == 0 ? run_pp_batch : run_tg_batch;
        if (p->warmup) {
            /* warm-up: fault in the weights and wake the pool, untimed
             * (a short run is enough: every weight is read by one token) */
            const int32_t nw = n < 16 ? n : 16;
            if ((rc = nb > 1 ? run_b(ctx, &bb, tokens, nw, err) : run(ctx, tokens, nw, err)) != 0)
                goto done;
        }
        for (int i = 0; i < p->reps; i++) {
            if (progress)
                progress(ud, r->test, i);
            uint64_t t0 = wl_clock_now_ns();
            if ((rc = nb > 1 ? run_b(ctx, &bb, tokens, n, err) : run(ctx, tokens, n, err)) != 0)
                goto done;
            r->samples_ns[i] = wl_clock_now_ns() - t0;
        }
        finish_stats(r, n * nb);
        (*n_out)++;
    }
done:
    free(tokens);
    free(bb.tokens);
    free(bb.seq);
    free(bb.want);
    wl_context_free(ctx);
    return rc;
}

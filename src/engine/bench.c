/* Engine throughput tests (llama-bench's pp/tg); see bench.h. */
#include "engine/bench.h"

#include "engine/context.h"
#include "engine/gguf.h"
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

void wl_model_file_totals(const wl_model *m, uint64_t *bytes, uint64_t *params)
{
    *bytes = *params = 0;
    for (uint64_t i = 0; m->gguf && i < wl_gguf_n_tensors(m->gguf); i++) {
        const struct wl_gguf_tensor *t = wl_gguf_tensor(m->gguf, i);
        *bytes += t->n_bytes;
        *params += t->n_elements;
    }
}

/* llama.cpp's size class ("1B", "7B") from its per-architecture tables of
 * layer counts (llama_model::load_hparams, src/llama-model.cpp), for the
 * families the engine runs; NULL where llama.cpp has none ("?B"). */
static const char *size_class(const struct wl_model_config *c, uint64_t n_vocab)
{
    const int32_t L = c->n_layer;
    if (strcmp(c->arch, "llama") == 0) {
        switch (L) {
        case 16:
        case 22:
            return "1B";
        case 26:
        case 28:
            return "3B";
        case 30:
            return "256M";
        case 32:
            return n_vocab == 49152 ? "3B" : n_vocab < 40000 ? "7B" : "8B";
        case 36:
            return "8B";
        case 40:
            return "13B";
        case 48:
            return "34B";
        case 60:
            return "30B";
        case 80:
            return c->n_head == c->n_head_kv ? "65B" : "70B";
        default:
            return NULL;
        }
    }
    if (strcmp(c->arch, "qwen2") == 0) {
        switch (L) {
        case 24:
            return c->dim == 1024 ? "0.5B" : "1B";
        case 28:
            return c->dim == 1536 ? "1.5B" : "7B";
        case 32:
            return "7B";
        case 36:
            return "3B";
        case 40:
            return c->n_head == 20 ? "4B" : "13B";
        case 48:
            return "14B";
        case 64:
            return "32B";
        case 80:
            return "70B";
        default:
            return NULL;
        }
    }
    if (strcmp(c->arch, "phi3") == 0)
        return L == 24 ? "1B" : L == 32 ? "3B" : L == 40 ? "14B" : NULL;
    if (strcmp(c->arch, "gemma") == 0)
        return L == 18 ? "2B" : L == 28 ? "7B" : NULL;
    if (strcmp(c->arch, "gemma2") == 0)
        return L == 26 ? "2B" : L == 42 ? "9B" : L == 46 ? "27B" : NULL;
    if (strcmp(c->arch, "stablelm") == 0)
        return L == 24 ? "1B" : L == 32 ? "3B" : L == 40 ? "12B" : NULL;
    return NULL;
}

/* llama.cpp's file type names (llama_ftype_name, src/llama-model-loader.cpp)
 * by general.file_type value. */
static const char *ftype_name(uint64_t ft)
{
    static const char *const names[] = {
        [0] = "all F32",
        [1] = "F16",
        [2] = "Q4_0",
        [3] = "Q4_1",
        [7] = "Q8_0",
        [8] = "Q5_0",
        [9] = "Q5_1",
        [10] = "Q2_K - Medium",
        [11] = "Q3_K - Small",
        [12] = "Q3_K - Medium",
        [13] = "Q3_K - Large",
        [14] = "Q4_K - Small",
        [15] = "Q4_K - Medium",
        [16] = "Q5_K - Small",
        [17] = "Q5_K - Medium",
        [18] = "Q6_K",
        [19] = "IQ2_XXS - 2.0625 bpw",
        [20] = "IQ2_XS - 2.3125 bpw",
        [21] = "Q2_K - Small",
        [22] = "IQ3_XS - 3.3 bpw",
        [23] = "IQ3_XXS - 3.0625 bpw",
        [24] = "IQ1_S - 1.5625 bpw",
        [25] = "IQ4_NL - 4.5 bpw",
        [26] = "IQ3_S - 3.4375 bpw",
        [27] = "IQ3_S mix - 3.66 bpw",
        [28] = "IQ2_S - 2.5 bpw",
        [29] = "IQ2_M - 2.7 bpw",
        [30] = "IQ4_XS - 4.25 bpw",
        [31] = "IQ1_M - 1.75 bpw",
        [32] = "BF16",
        [36] = "TQ1_0 - 1.69 bpw ternary",
        [37] = "TQ2_0 - 2.06 bpw ternary",
    };
    const char *n = ft < sizeof names / sizeof names[0] ? names[ft] : NULL;
    return n ? n : "unknown, may not work";
}

/* The file type llama.cpp guesses without general.file_type: from the
 * tensor type that most tensors have (counted, not weighed by size). */
static uint64_t guessed_ftype(const wl_gguf *g)
{
    uint64_t count[WL_TTYPE_COUNT] = {0}, best_n = 0;
    enum wl_ttype best = WL_TTYPE_F32;
    for (uint64_t i = 0; g && i < wl_gguf_n_tensors(g); i++) {
        enum wl_ttype t = wl_gguf_tensor(g, i)->type;
        if ((unsigned)t < WL_TTYPE_COUNT && ++count[t] > best_n) {
            best_n = count[t];
            best = t;
        }
    }
    switch (best) {
    case WL_TTYPE_F16:
        return 1;
    case WL_TTYPE_BF16:
        return 32;
    case WL_TTYPE_Q4_0:
        return 2;
    case WL_TTYPE_Q4_1:
        return 3;
    case WL_TTYPE_Q5_0:
        return 8;
    case WL_TTYPE_Q5_1:
        return 9;
    case WL_TTYPE_Q8_0:
        return 7;
    case WL_TTYPE_Q2_K:
        return 10;
    case WL_TTYPE_Q3_K:
        return 12;
    case WL_TTYPE_Q4_K:
        return 15;
    case WL_TTYPE_Q5_K:
        return 17;
    case WL_TTYPE_Q6_K:
        return 18;
    default:
        return 0; /* F32, and llama.cpp's fallback for a type it does not map */
    }
}

void wl_model_describe(const wl_model *m, char *buf, size_t size)
{
    uint64_t n_vocab = (uint64_t)m->config.vocab_size, ft;
    struct wl_gguf_arr tokens;
    if (m->gguf && wl_gguf_get_arr_view(m->gguf, "tokenizer.ggml.tokens", &tokens) == 0)
        n_vocab = tokens.n;
    const char *cls = size_class(&m->config, n_vocab);
    if (m->gguf && wl_gguf_get_u64(m->gguf, "general.file_type", &ft) == 0)
        snprintf(buf, size, "%s %s %s", m->config.arch, cls ? cls : "?B", ftype_name(ft));
    else
        snprintf(buf, size, "%s %s %s (guessed)", m->config.arch, cls ? cls : "?B",
                 ftype_name(guessed_ftype(m->gguf))); /* llama_model_ftype_name's order */
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
    uint64_t sum_ns = 0; /* 100 samples of up to ~5.8 years each */
    double sum_ts = 0;
    for (int i = 0; i < r->reps; i++) {
        r->samples_ts[i] = r->samples_ns[i] ? 1e9 * n_tokens / (double)r->samples_ns[i] : 0.0;
        sum_ns += r->samples_ns[i];
        sum_ts += r->samples_ts[i];
    }
    const double mean_ns = (double)sum_ns / r->reps;
    r->avg_ns = sum_ns / (uint64_t)r->reps; /* truncated, as llama-bench's */
    r->avg_ts = sum_ts / r->reps;
    double v_ns = 0, v_ts = 0;
    for (int i = 0; i < r->reps; i++) {
        v_ns += ((double)r->samples_ns[i] - mean_ns) * ((double)r->samples_ns[i] - mean_ns);
        v_ts += (r->samples_ts[i] - r->avg_ts) * (r->samples_ts[i] - r->avg_ts);
    }
    /* sample standard deviation, 0 for a single repetition (as llama-bench) */
    r->stddev_ns = r->reps > 1 ? (uint64_t)sqrt(v_ns / (r->reps - 1)) : 0;
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
        r->n_ubatch = wl_context_n_ubatch(ctx); /* what ran, not what was asked for */
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

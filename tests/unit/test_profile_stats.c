/* profile/recorder's activation statistics (depth deep, --activations) on
 * a synthetic gemma2, the family with post-norms and sliding-window
 * layers. A hook placed in front of the recorder's computes, from the same
 * tensors the engine hands out, what each statistic should be, and the test
 * compares that with the stored op rows, forward pass by forward pass.
 * Checks: the norm variance ratio of the post-attention and post-FFN norms
 * is var(output) / var(input), the input being the O (or down)
 * projection's output; attention sparsity (op and per head), entropy and
 * largest weight are over the positions a token sees, so in a
 * sliding-window layer the masked positions before the window do not
 * count as sparse weights.
 */
#include "test_support.h"

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "engine/synth.h"
#include "engine/tokenizer.h"
#include "profile/recorder.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_LAYER 2
#define N_CTX 32 /* synth gives gemma2 a window of half the context: 16 */
#define MAX_PASS 64
#define N_HEAD 4
#define ATT_ZERO 1e-3 /* the recorder's default attn_zero_threshold */

/* What the statistics should be, per forward pass and layer. */
struct expect {
    struct wl_hooks inner;
    int32_t window[N_LAYER]; /* positions a token sees in each layer; 0 = all */
    int32_t pass;            /* forward passes begun so far */
    /* softmax statistics: averages over the pass's tokens (and heads) */
    double sparsity[MAX_PASS][N_LAYER], entropy[MAX_PASS][N_LAYER];
    double head_sparsity[MAX_PASS][N_LAYER][N_HEAD];
    bool masked[MAX_PASS][N_LAYER]; /* some token of the pass had positions before its window */
    /* variance of the tensor each post-norm reads: the O and down projections' outputs */
    double var_o[N_LAYER], var_down[N_LAYER];
    /* [pass][layer][0: attn_post_norm, 1: ffn_post_norm][0: normalise, 1: scale] */
    double norm_ratio[MAX_PASS][N_LAYER][2][2];
};

static double variance(const struct wl_hook_tensor *t)
{
    double s = 0, sq = 0;
    for (int32_t i = 0; i < t->n_rows; i++) {
        const float *x = t->data + (size_t)i * t->row_stride;
        for (int32_t j = 0; j < t->n_cols; j++) {
            s += x[j];
            sq += (double)x[j] * x[j];
        }
    }
    const double n = (double)t->n_rows * t->n_cols;
    return sq / n - (s / n) * (s / n);
}

/* The softmax's statistics over each token's visible positions. */
static void expect_attention(struct expect *e, int32_t p, int32_t l,
                             const struct wl_hook_attention *a)
{
    assert_int_equal(a->n_head, N_HEAD);
    double sp = 0, ent = 0, head_sp[N_HEAD] = {0};
    for (int32_t t = 0; t < a->n_tok; t++) {
        const int32_t n_all = a->pos[t] + 1, w = e->window[l];
        const int32_t j0 = w > 0 && n_all > w ? n_all - w : 0;
        e->masked[p][l] |= j0 > 0;
        for (int32_t h = 0; h < N_HEAD; h++) {
            const float *row = a->probs + ((size_t)t * N_HEAD + h) * a->row_stride;
            int32_t sparse = 0;
            for (int32_t j = j0; j < n_all; j++) {
                sparse += row[j] < ATT_ZERO;
                if (row[j] > 0)
                    ent -= row[j] * log(row[j]);
            }
            sp += (double)sparse / (n_all - j0);
            head_sp[h] += (double)sparse / (n_all - j0);
        }
    }
    e->sparsity[p][l] = sp / (a->n_tok * N_HEAD);
    e->entropy[p][l] = ent / (a->n_tok * N_HEAD);
    for (int32_t h = 0; h < N_HEAD; h++)
        e->head_sparsity[p][l][h] = head_sp[h] / a->n_tok;
}

static void expect_hook(void *ud, const struct wl_hook_event *ev)
{
    struct expect *e = ud;
    if (ev->kind == WL_HOOK_SECTION && ev->begin && ev->section == WL_SECTION_EMBEDDING)
        e->pass++;
    const int32_t p = e->pass - 1, l = ev->layer;
    if (!ev->begin && ev->kind == WL_HOOK_COMPONENT && ev->out && l >= 0 && l < N_LAYER) {
        if (ev->component == WL_COMP_O)
            e->var_o[l] = variance(ev->out);
        else if (ev->component == WL_COMP_DOWN)
            e->var_down[l] = variance(ev->out);
    }
    if (!ev->begin && ev->kind == WL_HOOK_OP && ev->out && p >= 0 && p < MAX_PASS && l >= 0 &&
        l < N_LAYER && (ev->op == WL_OP_NORM_NORMALISE || ev->op == WL_OP_NORM_SCALE)) {
        const int k = ev->op == WL_OP_NORM_SCALE;
        if (ev->component == WL_COMP_ATTN_POST_NORM)
            e->norm_ratio[p][l][0][k] = variance(ev->out) / e->var_o[l];
        else if (ev->component == WL_COMP_FFN_POST_NORM)
            e->norm_ratio[p][l][1][k] = variance(ev->out) / e->var_down[l];
    }
    if (!ev->begin && ev->kind == WL_HOOK_OP && ev->op == WL_OP_SOFTMAX && ev->attention &&
        p >= 0 && p < MAX_PASS && l >= 0 && l < N_LAYER)
        expect_attention(e, p, l, ev->attention);
    e->inner.fn(e->inner.user_data, ev);
}

/* The stored op rows, in (token_index, layer, component, op) order: the
 * k-th distinct token_index is the k-th forward pass. */
struct stored {
    int64_t last_index;
    int32_t pass;
    int64_t n_norm_rows, n_softmax_rows;
    double norm_ratio[MAX_PASS][N_LAYER][2][2];
    double sparsity[MAX_PASS][N_LAYER], entropy[MAX_PASS][N_LAYER];
    float head_sparsity[MAX_PASS][N_LAYER][N_HEAD];
};

static int op_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct stored *s = ud;
    int64_t idx = -1, layer = -1, comp = -1, op = -1;
    double var_ratio = NAN, sparsity = NAN, entropy = NAN;
    const struct wl_store_value *heads = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "token_index") == 0)
            idx = v[i].i;
        else if (strcmp(names[i], "layer") == 0)
            layer = v[i].i;
        else if (strcmp(names[i], "component") == 0)
            comp = v[i].i;
        else if (strcmp(names[i], "op") == 0)
            op = v[i].i;
        else if (strcmp(names[i], "var_ratio") == 0 && v[i].type == WL_VALUE_REAL)
            var_ratio = v[i].r;
        else if (strcmp(names[i], "sparsity") == 0 && v[i].type == WL_VALUE_REAL)
            sparsity = v[i].r;
        else if (strcmp(names[i], "entropy") == 0 && v[i].type == WL_VALUE_REAL)
            entropy = v[i].r;
        else if (strcmp(names[i], "head_sparsity") == 0 && v[i].type == WL_VALUE_BLOB)
            heads = &v[i];
    }
    if (idx != s->last_index) {
        s->pass++;
        s->last_index = idx;
    }
    const int32_t p = s->pass - 1;
    assert_true(p >= 0 && p < MAX_PASS && layer >= 0 && layer < N_LAYER);
    if ((comp == WL_COMP_ATTN_POST_NORM || comp == WL_COMP_FFN_POST_NORM) &&
        (op == WL_OP_NORM_NORMALISE || op == WL_OP_NORM_SCALE)) {
        s->norm_ratio[p][layer][comp == WL_COMP_FFN_POST_NORM][op == WL_OP_NORM_SCALE] = var_ratio;
        s->n_norm_rows++;
    }
    if (comp == WL_COMP_ATTENTION && op == WL_OP_SOFTMAX) {
        s->sparsity[p][layer] = sparsity;
        s->entropy[p][layer] = entropy;
        assert_non_null(heads);
        assert_int_equal(heads->n, sizeof s->head_sparsity[p][layer]);
        memcpy(s->head_sparsity[p][layer], heads->s, heads->n);
        s->n_softmax_rows++;
    }
    return 0;
}

static bool close_to(double a, double b)
{
    return fabs(a - b) <= 1e-9 + 1e-6 * fabs(b);
}

static void test_gemma2_statistics(void **state)
{
    (void)state;
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    struct wl_errmsg err;
    struct wl_synth_params sp;
    wl_synth_default_params(&sp);
    sp.arch = WL_ARCH_GEMMA2;
    sp.n_layers = N_LAYER;
    sp.dim = 64;
    sp.ffn = 128;
    sp.n_heads = 4;
    sp.n_kv_heads = 2;
    sp.vocab_size = 300;
    sp.context_length = N_CTX;
    char path[1024];
    snprintf(path, sizeof path, "%s/g2.gguf", dir);
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_synth_model(&sp, w, &err), 0);
    assert_int_equal(wl_gguf_writer_write(w, path, &err), 0);
    wl_gguf_writer_free(w);
    wl_model *m = NULL;
    assert_int_equal(wl_model_load(path, &m, &err), 0);
    wl_tokenizer *tok = NULL;
    assert_int_equal(wl_tok_load_gguf(m->gguf, &tok, &err), 0);

    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = N_CTX;
    cp.n_threads = 1;
    cp.n_ubatch = 8; /* several prompt batches */
    wl_context *ctx = NULL;
    assert_int_equal(wl_context_create(m, &cp, &ctx, &err), 0);

    struct wl_store_params stp;
    wl_store_default_params(&stp);
    snprintf(path, sizeof path, "%s/runs.db", dir);
    stp.path = path;
    wl_store *st = NULL;
    assert_int_equal(wl_store_open(&stp, &st, &err), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .depth = "deep"};
    wl_store_run *run = NULL;
    char id[40];
    assert_int_equal(wl_store_run_begin(st, &info, &run, id), 0);

    struct wl_sensor_params sens;
    wl_sensor_params_default(&sens);
    sens.backends = WL_BACKEND_CPU_MODEL;
    sens.model_use = WL_MODEL_ALWAYS;
    sens.model.scope = WL_MODEL_SCOPE_SELF;
    struct wl_recorder_params rp;
    wl_recorder_default_params(&rp);
    rp.depth = WL_PROFILE_DEEP;
    rp.activations = true;
    rp.n_layer = m->config.n_layer;
    rp.n_head = m->config.n_head;
    rp.max_input_tokens = N_CTX;
    rp.max_output_tokens = N_CTX;
    rp.n_ubatch = cp.n_ubatch;
    rp.sensors = &sens;
    rp.run = run;
    wl_recorder *rec = NULL;
    assert_int_equal(wl_recorder_create(&rp, &rec, &err), 0);
    struct expect *e = calloc(1, sizeof *e);
    assert_non_null(e);
    const struct wl_model_config *mc = &m->config;
    assert_true(mc->sliding_window > 0 && mc->sliding_window < N_CTX);
    for (int32_t l = 0; l < N_LAYER; l++)
        e->window[l] = mc->swa_period <= 0 || l % mc->swa_period == 0 ? mc->sliding_window : 0;
    e->inner = wl_recorder_hooks(rec);
    struct wl_hooks h = e->inner;
    h.fn = expect_hook;
    h.user_data = e;
    wl_context_set_hooks(ctx, &h);

    struct wl_generate_params gp = wl_generate_default_params();
    gp.prompt = "abcdefghijklmnopqrstuvwxyz";
    gp.n_predict = 5;
    gp.sampling.temperature = 0;
    struct wl_generate_result res;
    assert_int_equal(wl_recorder_start(rec, NULL), 0);
    assert_int_equal(wl_generate(ctx, tok, &gp, &res, &err), 0);
    struct wl_recorder_finish fin = {.status = WL_RUN_COMPLETE, .response = res.text};
    assert_int_equal(wl_recorder_finish(rec, &fin), 0);
    assert_true(e->pass >= 4 && e->pass <= MAX_PASS);

    struct stored *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->last_index = -2;
    assert_int_equal(wl_store_foreach(st, id, WL_TABLE_OPS, -1, -1, op_row, s), 0);
    assert_int_equal(s->pass, e->pass);

    /* post-norms: every pass, layer, norm and op has its ratio, the one
     * computed from the projection's output (it read exactly 1 when the
     * norm ran in place and handed out its output as its input) */
    assert_int_equal(s->n_norm_rows, (int64_t)e->pass * N_LAYER * 2 * 2);
    for (int32_t p = 0; p < e->pass; p++)
        for (int l = 0; l < N_LAYER; l++)
            for (int c = 0; c < 2; c++)
                for (int k = 0; k < 2; k++) {
                    const double want = e->norm_ratio[p][l][c][k], got = s->norm_ratio[p][l][c][k];
                    if (!close_to(got, want))
                        fail_msg("pass %d layer %d %s %s: var_ratio %.9g, want %.9g", p, l,
                                 c ? "ffn_post_norm" : "attn_post_norm", k ? "scale" : "normalise",
                                 got, want);
                }

    /* attention: over the positions each token sees (sparsity once
     * counted the masked positions of a sliding-window layer as sparse) */
    assert_int_equal(s->n_softmax_rows, (int64_t)e->pass * N_LAYER);
    bool masked = false;
    for (int32_t p = 0; p < e->pass; p++)
        for (int l = 0; l < N_LAYER; l++) {
            masked |= e->masked[p][l];
            if (!close_to(s->sparsity[p][l], e->sparsity[p][l]) ||
                !close_to(s->entropy[p][l], e->entropy[p][l]))
                fail_msg("pass %d layer %d%s: sparsity %.9g, want %.9g; entropy %.9g, want %.9g", p,
                         l, e->window[l] ? " (sliding)" : "", s->sparsity[p][l], e->sparsity[p][l],
                         s->entropy[p][l], e->entropy[p][l]);
            for (int k = 0; k < N_HEAD; k++)
                if (fabs(s->head_sparsity[p][l][k] - e->head_sparsity[p][l][k]) > 1e-5)
                    fail_msg("pass %d layer %d head %d: sparsity %.7g, want %.7g", p, l, k,
                             (double)s->head_sparsity[p][l][k], e->head_sparsity[p][l][k]);
        }
    assert_true(masked); /* the prompt is longer than the window */

    free(s);
    free(e);
    wl_generate_result_free(&res);
    wl_store_close(st);
    wl_recorder_free(rec);
    wl_context_free(ctx);
    wl_tok_free(tok);
    wl_model_free(m);
    wl_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma2_statistics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

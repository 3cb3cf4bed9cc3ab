/* profile/recorder's activation statistics (depth deep, --activations) on
 * a synthetic gemma2, the family with post-norms and sliding-window
 * layers. A hook placed in front of the recorder's computes, from the same
 * tensors the engine hands out, what each statistic should be, and the test
 * compares that with the stored op rows, forward pass by forward pass.
 * Checks: the norm variance ratio of the post-attention and post-FFN norms
 * is var(output) / var(input), the input being the O (or down)
 * projection's output.
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

/* What the statistics should be, per forward pass and layer. */
struct expect {
    struct wl_hooks inner;
    int32_t pass; /* forward passes begun so far */
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
    e->inner.fn(e->inner.user_data, ev);
}

/* The stored op rows, in (token_index, layer, component, op) order: the
 * k-th distinct token_index is the k-th forward pass. */
struct stored {
    int64_t last_index;
    int32_t pass;
    int64_t n_norm_rows;
    double norm_ratio[MAX_PASS][N_LAYER][2][2];
};

static int op_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct stored *s = ud;
    int64_t idx = -1, layer = -1, comp = -1, op = -1;
    double var_ratio = NAN;
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
    assert_int_equal(wl_recorder_start(rec), 0);
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

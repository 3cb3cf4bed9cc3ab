/* Batching (several sequences in one context): with greedy sampling each
 * sequence of a batch produces exactly the tokens it produces alone, on
 * synthetic models (llama at Q8_0 and Q4_K, so the quantized kernels' multi-row
 * path is used; gemma2 and phi3 at F32, with sliding window and fused
 * projections) and on the real stories260K model when the shared data is
 * there. Below that: wl_context_eval_seqs gives bit-identical logits to
 * running each sequence alone, per-sequence stop conditions, and the
 * argument checks of the batch API, and hook events that nest with one
 * forward pass per decode round.
 */
#include "synth_fixture.h"
#include "synth_generate.h"
#include "test_support.h"

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/synth.h"
#include "engine/tokenizer.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void load_synth(struct wl_test_synth *f, enum wl_arch arch, enum wl_ttype type)
{
    struct wl_synth_params p;
    wl_synth_default_params(&p);
    p.arch = arch;
    p.type = type;
    /* Q4_K blocks are 256 wide: rows that fit them */
    p.dim = type == WL_TTYPE_Q4_K ? 256 : 64;
    p.ffn = type == WL_TTYPE_Q4_K ? 512 : 128;
    p.context_length = 64; /* gemma2: window 32 */
    wl_test_synth_load(f, &p);
}

static bool load_stories(struct wl_test_synth *f)
{
    if (!wl_test_have_data())
        return false;
    struct wl_errmsg err = {{0}};
    if (wl_model_load(wl_test_data_path("models/stories260K.gguf"), &f->m, &err) != 0 ||
        wl_tok_load_gguf(f->m->gguf, &f->tok, &err) != 0)
        fail_msg("stories260K: %s", err.text);
    return true;
}

static wl_context *make_ctx(const wl_model *m, int n_ctx, int n_seq, int threads)
{
    struct wl_context_params p = wl_context_default_params();
    p.n_ctx = n_ctx;
    p.n_seq = n_seq;
    p.n_threads = threads;
    p.n_ubatch = 8; /* prompts span several batches, mixed sequences in one */
    return wl_test_context_open(m, &p);
}

/* Token ids of one generation, from the TOKEN end events (single sequence). */
struct ids {
    int32_t id[64];
    int n;
};

static void on_token(void *ud, const struct wl_hook_event *ev)
{
    struct ids *ids = ud;
    if (ev->kind == WL_HOOK_TOKEN && !ev->begin && ids->n < 64)
        ids->id[ids->n++] = ev->token_id;
}

static const char *const prompts[] = {"Once upon a time", "The sky", "a", "Lily and Tom went to"};
#define N_PROMPTS 4

static void check_batch_equals_alone(const struct wl_test_synth *f, int n_predict, int threads)
{
    struct wl_generate_params gp = wl_test_greedy_params(NULL, n_predict);
    struct wl_errmsg err = {{0}};

    struct wl_generate_result alone[N_PROMPTS];
    for (int i = 0; i < N_PROMPTS; i++) {
        wl_context *ctx = make_ctx(f->m, 64, 1, threads);
        struct ids ids = {0};
        struct wl_hooks h = {.fn = on_token, .user_data = &ids, .depth = WL_HOOK_DEPTH_TOKEN};
        wl_context_set_hooks(ctx, &h);
        gp.prompt = prompts[i];
        if (wl_generate(ctx, f->tok, &gp, &alone[i], &err) != 0)
            fail_msg("alone %d: %s", i, err.text);
        assert_int_equal(ids.n, alone[i].n_generated);
        wl_context_free(ctx);
    }

    wl_context *ctx = make_ctx(f->m, 64, N_PROMPTS, threads);
    struct wl_generate_result res[N_PROMPTS];
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = N_PROMPTS};
    struct wl_generate_batch_stats st;
    if (wl_generate_batch(ctx, f->tok, &gp, &bp, res, &st, &err) != 0)
        fail_msg("batch: %s", err.text);
    int total = 0;
    for (int i = 0; i < N_PROMPTS; i++) {
        assert_int_equal(res[i].n_prompt, alone[i].n_prompt);
        assert_int_equal(res[i].n_generated, alone[i].n_generated);
        assert_int_equal(res[i].stop, alone[i].stop);
        assert_int_equal(res[i].text_len, alone[i].text_len);
        assert_memory_equal(res[i].text, alone[i].text, res[i].text_len);
        total += res[i].n_generated;
        wl_generate_result_free(&res[i]);
        wl_generate_result_free(&alone[i]);
    }
    assert_int_equal(st.n_generated, total);
    assert_true(st.n_rounds >= 1);
    wl_context_free(ctx);
}

static void test_greedy_batch_equals_alone_llama_q8_0(void **state)
{
    (void)state;
    struct wl_test_synth f = {0};
    load_synth(&f, WL_ARCH_LLAMA, WL_TTYPE_Q8_0);
    check_batch_equals_alone(&f, 16, 2);
    wl_test_synth_free(&f);
}

static void test_greedy_batch_equals_alone_llama_q4_k(void **state)
{
    (void)state;
    struct wl_test_synth f = {0};
    load_synth(&f, WL_ARCH_LLAMA, WL_TTYPE_Q4_K);
    check_batch_equals_alone(&f, 16, 1);
    wl_test_synth_free(&f);
}

static void test_greedy_batch_equals_alone_gemma2_and_phi3(void **state)
{
    (void)state;
    struct wl_test_synth f = {0};
    load_synth(&f, WL_ARCH_GEMMA2, WL_TTYPE_F32);
    check_batch_equals_alone(&f, 40, 2); /* past the 32-position window */
    wl_test_synth_free(&f);
    memset(&f, 0, sizeof f);
    load_synth(&f, WL_ARCH_PHI3, WL_TTYPE_F32);
    check_batch_equals_alone(&f, 16, 1);
    wl_test_synth_free(&f);
}

static void test_greedy_batch_equals_alone_stories260k(void **state)
{
    (void)state;
    struct wl_test_synth f = {0};
    if (!load_stories(&f)) {
        skip();
        return;
    }
    check_batch_equals_alone(&f, 40, 2);
    wl_test_synth_free(&f);
}

/* wl_context_eval_seqs: interleaved sequences give the logits each gives alone, bit for bit. */
static void test_eval_seqs_logits_equal_single(void **state)
{
    (void)state;
    struct wl_test_synth f = {0};
    load_synth(&f, WL_ARCH_LLAMA, WL_TTYPE_Q8_0);
    const int32_t a[] = {1, 300, 301, 302, 400, 5}, b[] = {1, 260, 270};
    const int vocab = f.m->config.vocab_size;
    struct wl_errmsg err = {{0}};
    float *la = malloc(sizeof(float) * vocab), *lb = malloc(sizeof(float) * vocab);
    wl_context *one = make_ctx(f.m, 16, 1, 1);
    assert_int_equal(wl_context_prefill(one, a, 6, &err), 0);
    memcpy(la, wl_context_logits(one), sizeof(float) * vocab);
    wl_context_reset(one);
    assert_int_equal(wl_context_prefill(one, b, 3, &err), 0);
    memcpy(lb, wl_context_logits(one), sizeof(float) * vocab);

    /* both prompts in one evaluation: b's tokens interleaved into a's */
    wl_context *two = make_ctx(f.m, 16, 2, 2);
    const int32_t tok[] = {1, 1, 300, 260, 301, 302, 270, 400, 5};
    const int32_t seq[] = {0, 1, 0, 1, 0, 0, 1, 0, 0};
    const bool want[] = {false, false, false, false, false, false, true, false, true};
    assert_int_equal(wl_context_eval_seqs(two, tok, seq, want, 9, &err), 0);
    assert_int_equal(wl_context_seq_n_past(two, 0), 6);
    assert_int_equal(wl_context_seq_n_past(two, 1), 3);
    assert_memory_equal(wl_context_logits_row(two, 0), lb, sizeof(float) * vocab);
    assert_memory_equal(wl_context_logits_row(two, 1), la, sizeof(float) * vocab);
    assert_null(wl_context_logits_row(two, 2));

    /* one decode step of both, against each alone */
    const int32_t step[] = {7, 8}, sseq[] = {1, 0};
    const bool all[] = {true, true};
    assert_int_equal(wl_context_eval_seqs(two, step, sseq, all, 2, &err), 0);
    assert_int_equal(wl_context_decode(one, 7, &err), 0); /* one holds b */
    assert_memory_equal(wl_context_logits_row(two, 0), wl_context_logits(one),
                        sizeof(float) * vocab);
    wl_context_reset(one);
    assert_int_equal(wl_context_prefill(one, a, 6, &err), 0);
    assert_int_equal(wl_context_decode(one, 8, &err), 0);
    assert_memory_equal(wl_context_logits_row(two, 1), wl_context_logits(one),
                        sizeof(float) * vocab);

    /* forgetting one sequence leaves the other */
    wl_context_seq_reset(two, 1);
    assert_int_equal(wl_context_seq_n_past(two, 1), 0);
    assert_int_equal(wl_context_seq_n_past(two, 0), 7);
    wl_context_free(one);
    wl_context_free(two);
    free(la);
    free(lb);
    wl_test_synth_free(&f);
}

static void test_eval_seqs_errors(void **state)
{
    (void)state;
    struct wl_test_synth f = {0};
    load_synth(&f, WL_ARCH_LLAMA, WL_TTYPE_F32);
    wl_context *ctx = make_ctx(f.m, 4, 2, 1);
    struct wl_errmsg err = {{0}};
    const int32_t tok[] = {1, 2, 3, 4, 5};
    const int32_t bad_seq[] = {0, 2};
    assert_int_equal(wl_context_eval_seqs(ctx, tok, bad_seq, NULL, 2, &err), WL_EINVAL);
    assert_non_null(strstr(err.text, "sequence 2"));
    const int32_t seq5[] = {1, 1, 1, 1, 1};
    assert_int_equal(wl_context_eval_seqs(ctx, tok, seq5, NULL, 5, &err), WL_EFULL);
    assert_non_null(strstr(err.text, "sequence 1"));
    const bool want3[] = {true, true, true};
    const int32_t seq3[] = {0, 0, 1};
    assert_int_equal(wl_context_eval_seqs(ctx, tok, seq3, want3, 3, &err), WL_EINVAL);
    const int32_t bad_tok[] = {1, 1 << 20};
    const int32_t seq2[] = {0, 1};
    assert_int_equal(wl_context_eval_seqs(ctx, bad_tok, seq2, NULL, 2, &err), WL_EINVAL);
    /* nothing ran */
    assert_int_equal(wl_context_seq_n_past(ctx, 0), 0);
    assert_int_equal(wl_context_seq_n_past(ctx, 1), 0);

    /* a batch larger than the context's n_seq */
    struct wl_generate_params gp = wl_generate_default_params();
    gp.n_predict = 2;
    struct wl_generate_result res[3];
    struct wl_generate_batch_stats st;
    const char *three[] = {"a", "b", "c"};
    struct wl_generate_batch_params bp = {.prompts = three, .n_seq = 3};
    assert_int_equal(wl_generate_batch(ctx, f.tok, &gp, &bp, res, &st, &err), WL_EINVAL);
    assert_non_null(strstr(err.text, "n_seq"));
    for (int i = 0; i < 3; i++)
        assert_int_equal(res[i].stop, WL_STOP_ERROR);
    wl_context_free(ctx);
    wl_test_synth_free(&f);
}

/* The context's own prompt batch size: the one asked for, raised to n_seq
 * (a decode round of every sequence is one batch) and capped at all the
 * context's positions; a caller stores and sizes with this one. */
static void test_n_ubatch_is_the_contexts(void **state)
{
    (void)state;
    struct wl_test_synth f = {0};
    load_synth(&f, WL_ARCH_LLAMA, WL_TTYPE_F32);
    wl_context *ctx = make_ctx(f.m, 64, 2, 1); /* asks for 8 */
    assert_int_equal(wl_context_n_ubatch(ctx), 8);
    wl_context_free(ctx);
    ctx = make_ctx(f.m, 64, 12, 1); /* 12 sequences: 12 per batch */
    assert_int_equal(wl_context_n_ubatch(ctx), 12);
    wl_context_free(ctx);
    ctx = make_ctx(f.m, 2, 3, 1); /* at most n_ctx x n_seq = 6 */
    assert_int_equal(wl_context_n_ubatch(ctx), 6);
    wl_context_free(ctx);
    wl_test_synth_free(&f);
}

/* Each sequence stops on its own: the long prompt fills its context first. */
static void test_per_sequence_stop(void **state)
{
    (void)state;
    struct wl_test_synth f = {0};
    load_synth(&f, WL_ARCH_LLAMA, WL_TTYPE_F32);
    wl_context *ctx = make_ctx(f.m, 12, 2, 1);
    struct wl_generate_params gp = wl_test_greedy_params(NULL, 6);
    const char *two[] = {"a", "abcdefgh"}; /* 2 tokens, and 8 or more (byte fallback) */
    struct wl_generate_batch_params bp = {.prompts = two, .n_seq = 2};
    struct wl_generate_result res[2];
    struct wl_generate_batch_stats st;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_generate_batch(ctx, f.tok, &gp, &bp, res, &st, &err), 0);
    assert_int_equal(res[0].stop, WL_STOP_MAX_TOKENS);
    assert_int_equal(res[0].n_generated, 6);
    assert_true(res[1].n_prompt >= 8);
    assert_int_equal(res[1].stop, WL_STOP_CONTEXT_FULL);
    /* 12 positions: the prompt, then one per decoded token, plus the last sampled one */
    assert_int_equal(res[1].n_generated, 12 - res[1].n_prompt + 1);
    assert_true(res[1].n_generated < 6);
    assert_int_equal(st.n_generated, res[0].n_generated + res[1].n_generated);
    wl_generate_result_free(&res[0]);
    wl_generate_result_free(&res[1]);
    wl_context_free(ctx);
    wl_test_synth_free(&f);
}

/* Hook events of a batched generation nest properly at every depth; a TOKEN
 * span is one round whose forward pass has one token per running sequence. */
struct nest {
    enum wl_hook_kind stack[16];
    int depth;
    bool bad;
    int rounds_with_batch; /* decode forward passes over more than one token */
    bool in_decode;
};

static void on_nest(void *ud, const struct wl_hook_event *ev)
{
    struct nest *n = ud;
    if (ev->begin) {
        if (n->depth == 16) {
            n->bad = true;
            return;
        }
        n->stack[n->depth++] = ev->kind;
        if (ev->kind == WL_HOOK_PHASE)
            n->in_decode = ev->phase == WL_PHASE_DECODE;
        if (ev->kind == WL_HOOK_LAYER && ev->layer == 0 && n->in_decode && ev->n_tok > 1)
            n->rounds_with_batch++;
    } else if (n->depth == 0 || n->stack[--n->depth] != ev->kind) {
        n->bad = true;
    }
}

static void test_batch_hook_events_nest(void **state)
{
    (void)state;
    struct wl_test_synth f = {0};
    load_synth(&f, WL_ARCH_GEMMA2, WL_TTYPE_F32);
    wl_context *ctx = make_ctx(f.m, 32, 3, 2);
    struct nest n = {0};
    struct wl_hooks h = {.fn = on_nest, .user_data = &n, .depth = WL_HOOK_DEPTH_OP};
    wl_context_set_hooks(ctx, &h);
    struct wl_generate_params gp = wl_test_greedy_params(NULL, 5);
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 3};
    struct wl_generate_result res[3];
    struct wl_generate_batch_stats st;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_generate_batch(ctx, f.tok, &gp, &bp, res, &st, &err), 0);
    assert_false(n.bad);
    assert_int_equal(n.depth, 0);
    /* 4 decode rounds after the first token, each one forward pass of 3 tokens */
    assert_int_equal(st.n_rounds, 4);
    assert_int_equal(n.rounds_with_batch, 4);
    for (int i = 0; i < 3; i++)
        wl_generate_result_free(&res[i]);
    wl_context_free(ctx);
    wl_test_synth_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_batch_equals_alone_llama_q8_0),
        cmocka_unit_test(test_greedy_batch_equals_alone_llama_q4_k),
        cmocka_unit_test(test_greedy_batch_equals_alone_gemma2_and_phi3),
        cmocka_unit_test(test_greedy_batch_equals_alone_stories260k),
        cmocka_unit_test(test_eval_seqs_logits_equal_single),
        cmocka_unit_test(test_eval_seqs_errors),
        cmocka_unit_test(test_n_ubatch_is_the_contexts),
        cmocka_unit_test(test_per_sequence_stop),
        cmocka_unit_test(test_batch_hook_events_nest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The context a generation needs, on synthetic models (no test data):
 * wl_generate_default_n_ctx sizes it in tokens, not bytes (the byte-level
 * synth vocabulary spends three tokens on SentencePiece's 3-byte space), and
 * caps it at the training context; a prompt that fills the context exactly
 * still gives one token (alone and in a batch); phi3 LongRoPE picks its
 * factors from n_ctx_rope when it is set, so a context sized to the request
 * gives the same greedy tokens as a large one; a huge n_predict with a small
 * context costs memory for the context's tokens only (alone and in a batch);
 * keys too large for an F16 KV cache give a non-finite logit error that
 * names the cache type and the remedy; an empty prompt on a vocabulary that
 * adds no BOS is refused with the reason and the remedy; a tokenizer error
 * names the prompt as the generation does.
 */
#include "synth_fixture.h"
#include "test_support.h"

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/synth.h"
#include "engine/tokenizer.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void synth_load(struct wl_test_synth *s, enum wl_arch arch, uint32_t context_length)
{
    struct wl_synth_params p;
    wl_synth_default_params(&p);
    p.arch = arch;
    p.context_length = context_length;
    wl_test_synth_load(s, &p);
}

static wl_context *make_ctx(const wl_model *m, int32_t n_ctx, int32_t n_ctx_rope, int32_t n_seq)
{
    struct wl_context_params p = wl_context_default_params();
    p.n_ctx = n_ctx;
    p.n_ctx_rope = n_ctx_rope;
    p.n_seq = n_seq;
    p.n_threads = 1;
    return wl_test_context_open(m, &p);
}

static struct wl_generate_params greedy(const char *prompt, int32_t n)
{
    struct wl_generate_params p = wl_generate_default_params();
    p.sampling.temperature = 0.0f;
    p.prompt = prompt;
    p.n_predict = n;
    return p;
}

static void test_default_n_ctx_counts_tokens(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    synth_load(&s, WL_ARCH_LLAMA, 2048);
    struct wl_errmsg err = {{0}};
    /* 9 bytes: BOS, then each letter and each "▁" (3 byte tokens) */
    const char *prompts[] = {"A B C D E", "Hi"};
    struct wl_generate_params p = greedy(prompts[0], 10);
    int32_t n_ctx = 0, n_prompt = 0;
    assert_int_equal(wl_generate_default_n_ctx(s.m, s.tok, &p, prompts, 1, &n_ctx, &n_prompt, &err),
                     0);
    assert_int_equal(n_prompt, 21);
    assert_int_equal(n_ctx, 21 + 10);
    /* the longest of several prompts */
    assert_int_equal(wl_generate_default_n_ctx(s.m, s.tok, &p, prompts, 2, &n_ctx, NULL, &err), 0);
    assert_int_equal(n_ctx, 31);
    /* that context gives every token asked for */
    wl_context *ctx = make_ctx(s.m, n_ctx, 0, 1);
    struct wl_generate_result r;
    assert_int_equal(wl_generate(ctx, s.tok, &p, &r, &err), 0);
    assert_int_equal(r.n_prompt, 21);
    assert_int_equal(r.n_generated, 10);
    assert_int_equal(r.stop, WL_STOP_MAX_TOKENS);
    wl_generate_result_free(&r);
    wl_context_free(ctx);
    /* bad parameters */
    p.n_predict = 0;
    assert_int_equal(wl_generate_default_n_ctx(s.m, s.tok, &p, prompts, 1, &n_ctx, NULL, &err),
                     WL_EINVAL);
    wl_test_synth_free(&s);
}

static void test_default_n_ctx_capped_at_training(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    synth_load(&s, WL_ARCH_LLAMA, 16);
    struct wl_errmsg err = {{0}};
    const char *fits[] = {"Hello"}; /* 9 tokens */
    struct wl_generate_params p = greedy(fits[0], 100);
    int32_t n_ctx = 0;
    assert_int_equal(wl_generate_default_n_ctx(s.m, s.tok, &p, fits, 1, &n_ctx, NULL, &err), 0);
    assert_int_equal(n_ctx, 16);
    const char *too_long[] = {"Hello World"}; /* 17 tokens */
    assert_int_equal(wl_generate_default_n_ctx(s.m, s.tok, &p, too_long, 1, &n_ctx, NULL, &err),
                     WL_EFULL);
    assert_non_null(strstr(err.text, "the prompt (17 tokens) is longer than the model's training "
                                     "context (16 positions)"));
    wl_test_synth_free(&s);
}

static void test_prompt_filling_the_context_gives_one_token(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    synth_load(&s, WL_ARCH_LLAMA, 1);
    struct wl_errmsg err = {{0}};
    const char *bos[] = {""};
    struct wl_generate_params p = greedy(NULL, 5);
    int32_t n_ctx = 0;
    assert_int_equal(wl_generate_default_n_ctx(s.m, s.tok, &p, bos, 1, &n_ctx, NULL, &err), 0);
    assert_int_equal(n_ctx, 1);
    /* a BOS-only prompt in one position: one token from its logits */
    wl_context *ctx = make_ctx(s.m, 1, 0, 1);
    struct wl_generate_result r;
    assert_int_equal(wl_generate(ctx, s.tok, &p, &r, &err), 0);
    assert_int_equal(r.n_prompt, 1);
    assert_int_equal(r.n_generated, 1);
    assert_int_equal(r.stop, WL_STOP_CONTEXT_FULL);
    wl_generate_result_free(&r);
    p.n_predict = 1;
    assert_int_equal(wl_generate(ctx, s.tok, &p, &r, &err), 0);
    assert_int_equal(r.stop, WL_STOP_MAX_TOKENS);
    wl_generate_result_free(&r);
    /* one token more than the context: an error, worded in the singular */
    p.prompt = "H"; /* BOS, the 3 bytes of "▁", H */
    assert_int_equal(wl_generate(ctx, s.tok, &p, &r, &err), WL_EFULL);
    assert_string_equal(err.text, "the prompt (5 tokens) does not fit in the context (1 position): "
                                  "use -c 5 or more");
    wl_generate_result_free(&r);
    wl_context_free(ctx);

    /* a batch: each sequence's prompt fills its positions exactly */
    ctx = make_ctx(s.m, 1, 0, 2);
    const char *two[] = {"", ""};
    struct wl_generate_batch_params bp = {.prompts = two, .n_seq = 2};
    struct wl_generate_result res[2];
    struct wl_generate_batch_stats st;
    p.n_predict = 3;
    assert_int_equal(wl_generate_batch(ctx, s.tok, &p, &bp, res, &st, &err), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(res[i].n_generated, 1);
        assert_int_equal(res[i].stop, WL_STOP_CONTEXT_FULL);
        wl_generate_result_free(&res[i]);
    }
    /* a prompt too long for a sequence's positions: its error names the
     * -c that holds it, as wl_generate's */
    const char *one_long[] = {"", "H"};
    bp.prompts = one_long;
    assert_int_equal(wl_generate_batch(ctx, s.tok, &p, &bp, res, &st, &err), WL_EFULL);
    assert_string_equal(err.text, "prompt 1 (5 tokens) does not fit in the context (1 position): "
                                  "use -c 5 or more");
    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

/* The one message wl_generate and wl_generate_batch give for a prompt past
 * the context: whose prompt, singular and plural, and the -c that holds it. */
static void test_prompt_too_long_message(void **state)
{
    (void)state;
    struct wl_errmsg err;
    assert_int_equal(wl__generate_prompt_too_long(-1, 1, 0, &err), WL_EFULL);
    assert_string_equal(err.text, "the prompt (1 token) does not fit in the context (0 positions): "
                                  "use -c 1 or more");
    assert_int_equal(wl__generate_prompt_too_long(3, 9, 8, &err), WL_EFULL);
    assert_string_equal(err.text, "prompt 3 (9 tokens) does not fit in the context (8 positions): "
                                  "use -c 9 or more");
    assert_int_equal(wl__generate_prompt_too_long(0, 2, 1, &err), WL_EFULL);
    assert_string_equal(err.text, "prompt 0 (2 tokens) does not fit in the context (1 position): "
                                  "use -c 2 or more");
}

/* The greedy text of one generation from "Hello" (its bytes stand for the ids). */
static void greedy_text(const wl_model *m, const wl_tokenizer *tok, int32_t n_ctx,
                        int32_t n_ctx_rope, int32_t n, char *out, size_t cap, bool *rope_long)
{
    wl_context *ctx = make_ctx(m, n_ctx, n_ctx_rope, 1);
    *rope_long = wl_context_rope_long(ctx);
    struct wl_generate_params p = greedy("Hello", n);
    struct wl_generate_result r;
    struct wl_errmsg err = {{0}};
    if (wl_generate(ctx, tok, &p, &r, &err) != 0)
        fail_msg("generate: %s", err.text);
    assert_true(r.text_len < cap);
    memcpy(out, r.text, r.text_len + 1);
    wl_generate_result_free(&r);
    wl_context_free(ctx);
}

static void test_phi3_rope_factors_follow_n_ctx_rope(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    synth_load(&s, WL_ARCH_PHI3, 2048); /* original context 64 */
    assert_int_equal(s.m->config.rope_n_ctx_orig, 64);
    char small[4096], large[4096], short_f[4096];
    bool long_small, long_large, long_short;
    /* 9 prompt tokens + 20: sized to the request, LongRoPE as for 2048 */
    greedy_text(s.m, s.tok, 29, 2048, 20, small, sizeof small, &long_small);
    greedy_text(s.m, s.tok, 200, 0, 20, large, sizeof large, &long_large);
    greedy_text(s.m, s.tok, 29, 0, 20, short_f, sizeof short_f, &long_short);
    assert_true(long_small);
    assert_true(long_large);
    assert_false(long_short);
    assert_string_equal(small, large);
    assert_string_not_equal(small, short_f); /* the factors do matter */
    wl_test_synth_free(&s);
}

/* In a child under an address-space limit of 256 MiB above what it uses
 * (Linux, no sanitizer: they reserve terabytes of shadow), generation with
 * n_predict INT32_MAX: 0 when alone and batched both ran to a full context. */
static int huge_n_predict_child(wl_context *alone, wl_context *batched, const wl_tokenizer *tok)
{
#if !WL_TEST_UNDER_SANITIZER
    const uint64_t vm = wl_test_vm_size_bytes();
    if (vm > 0) {
        struct rlimit rl = {.rlim_cur = vm + (256u << 20), .rlim_max = vm + (256u << 20)};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            return 3;
    }
#endif
    struct wl_errmsg err = {{0}};
    struct wl_generate_params p = greedy("A", INT32_MAX); /* these prompts fill the context */
    struct wl_generate_result r;
    if (wl_generate(alone, tok, &p, &r, &err) != 0 || r.stop != WL_STOP_CONTEXT_FULL) {
        fprintf(stderr, "alone: %s (stop: %s)\n", err.text, wl_stop_reason_name(r.stop));
        return 1;
    }
    wl_generate_result_free(&r);
    const char *prompts[] = {"A", "", "ab", "x"};
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 4};
    struct wl_generate_result res[4];
    struct wl_generate_batch_stats st;
    if (wl_generate_batch(batched, tok, &p, &bp, res, &st, &err) != 0) {
        fprintf(stderr, "batch: %s\n", err.text);
        return 2;
    }
    for (int i = 0; i < 4; i++) {
        if (res[i].stop != WL_STOP_CONTEXT_FULL || res[i].n_generated < 1) {
            fprintf(stderr, "batch: sequence %d stopped: %s\n", i,
                    wl_stop_reason_name(res[i].stop));
            return 2;
        }
        wl_generate_result_free(&res[i]);
    }
    return 0;
}

static void test_huge_n_predict_costs_the_context_only(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    synth_load(&s, WL_ARCH_LLAMA, 2048);
    /* INT32_MAX tokens of the longest piece would be tens of GiB a sequence */
    wl_context *alone = make_ctx(s.m, 8, 0, 1), *batched = make_ctx(s.m, 8, 0, 4);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(huge_n_predict_child(alone, batched, s.tok));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    wl_context_free(alone);
    wl_context_free(batched);
    wl_test_synth_free(&s);
}

/* Keys past F16's largest value (65504) become infinite in an F16 cache and
 * attention turns them into NaN logits: the error says so and names the F32
 * cache; with an F32 cache the same model generates. */
static void test_f16_cache_overflow_is_named(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    synth_load(&s, WL_ARCH_LLAMA, 2048);
    struct wl_weight *wk = &s.m->weights.layers[0].wk;
    assert_int_equal(wk->type, WL_TTYPE_F32);
    float *w = (float *)(uintptr_t)wk->data; /* the weights point into s.buf */
    for (int64_t i = 0; i < wk->n_in * wk->n_out; i++)
        w[i] *= 1e6f; /* keys ~1e6 */
    struct wl_generate_params p = greedy("A", 4);
    struct wl_generate_result r[2];
    struct wl_errmsg err = {{0}};
    const char *hint = "(with the F16 KV cache, a key or value above 65504, F16's largest, "
                       "overflows; an F32 cache may help: --cache-type f32)";

    wl_context *ctx = make_ctx(s.m, 16, 0, 2); /* F16, the default */
    assert_int_equal(wl_generate(ctx, s.tok, &p, &r[0], &err), WL_ERANGE);
    assert_non_null(strstr(err.text, "non-finite logit"));
    assert_non_null(strstr(err.text, "at generation step 0 "));
    assert_non_null(strstr(err.text, hint));
    const char *prompts[] = {"A", "ab"};
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 2};
    struct wl_generate_batch_stats st;
    assert_int_equal(wl_generate_batch(ctx, s.tok, &p, &bp, r, &st, &err), WL_ERANGE);
    assert_non_null(strstr(err.text, "of sequence 0 at generation step 0 "));
    assert_non_null(strstr(err.text, hint));
    wl_context_free(ctx);

    struct wl_context_params cp = wl_context_default_params();
    cp.n_ctx = 16;
    cp.n_threads = 1;
    cp.kv_type = WL_TTYPE_F32;
    assert_int_equal(wl_context_create(s.m, &cp, &ctx, &err), 0);
    if (wl_generate(ctx, s.tok, &p, &r[0], &err) != 0)
        fail_msg("F32 cache: %s", err.text);
    assert_int_equal(r[0].n_generated, 4);
    wl_generate_result_free(&r[0]);
    /* a non-finite logit with an F32 cache has other causes: no such hint */
    float *wo = (float *)(uintptr_t)s.m->weights.output.data;
    wo[5 * s.m->weights.output.n_in] = NAN;
    assert_int_equal(wl_generate(ctx, s.tok, &p, &r[0], &err), WL_ERANGE);
    assert_non_null(strstr(err.text, "for token 5 at generation step 0"));
    assert_null(strstr(err.text, "KV cache"));
    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

/* A tokenizer of the byte-level kind the synth models have (<unk> <s> </s>
 * and 256 byte tokens): bos its BOS id (WL_TOK_NULL: none), add_bos whether
 * it adds it. */
static wl_tokenizer *bytes_tokenizer_n(int32_t bos, int add_bos, size_t n_tokens)
{
    static struct wl_tok_text tok[259];
    static int32_t type[259];
    static char text[259][8];
    for (int i = 0; i < 259; i++) {
        if (i < 3)
            snprintf(text[i], sizeof text[i], "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else
            snprintf(text[i], sizeof text[i], "<0x%02X>", i - 3);
        tok[i] = (struct wl_tok_text){text[i], strlen(text[i])};
        type[i] = i == 0 ? 2 : i < 3 ? 3 : 6;
    }
    struct wl_tok_vocab_desc d;
    wl_tok_vocab_desc_init(&d);
    d.model = WL_TOK_MODEL_SPM;
    d.n_tokens = n_tokens;
    d.tokens = tok;
    d.types = type;
    d.bos = bos;
    d.add_bos = add_bos;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err = {{0}};
    if (wl_tok_build(&d, &t, &err) != 0)
        fail_msg("tokenizer: %s", err.text);
    return t;
}

static wl_tokenizer *bytes_tokenizer(int32_t bos, int add_bos)
{
    return bytes_tokenizer_n(bos, add_bos, 259);
}

/* An empty prompt gives no tokens when the vocabulary adds no BOS: the
 * error says which case it is (no BOS at all, or a BOS that the vocabulary
 * does not add, as GPT-2 and Qwen2 vocabularies) and asks for -p, alone and
 * in a batch; the same vocabulary with a prompt generates. */
static void test_empty_prompt_without_bos_is_named(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    synth_load(&s, WL_ARCH_LLAMA, 2048);
    wl_context *ctx = make_ctx(s.m, 16, 0, 2);
    struct wl_generate_params p = greedy("", 2);
    struct wl_generate_result r[2];
    struct wl_generate_batch_stats st;
    struct wl_errmsg err = {{0}};
    const char *prompts[] = {"", "ab"};
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 2};

    wl_tokenizer *none = bytes_tokenizer(WL_TOK_NULL, 0);
    assert_int_equal(wl_generate(ctx, none, &p, &r[0], &err), WL_EINVAL);
    assert_string_equal(err.text, "the prompt is empty and the vocabulary has no BOS token to "
                                  "start from: give a prompt with -p");
    assert_int_equal(wl_generate_batch(ctx, none, &p, &bp, r, &st, &err), WL_EINVAL);
    assert_non_null(strstr(err.text, "prompt 0 is empty and the vocabulary has no BOS token"));

    /* an SPM (llama) vocabulary adds BOS when the key is unset: only
     * "false" is named (it said "or unset for a llama vocabulary") */
    wl_tokenizer *unadded = bytes_tokenizer(1, 0);
    const char *why = "is empty and this vocabulary does not add its BOS token (id 1; "
                      "tokenizer.ggml.add_bos_token is false): give a prompt with -p";
    assert_int_equal(wl_generate(ctx, unadded, &p, &r[0], &err), WL_EINVAL);
    assert_true(strncmp(err.text, "the prompt ", 11) == 0);
    assert_string_equal(err.text + 11, why);
    assert_int_equal(wl_generate_batch(ctx, unadded, &p, &bp, r, &st, &err), WL_EINVAL);
    assert_true(strncmp(err.text, "prompt 0 ", 9) == 0);
    assert_string_equal(err.text + 9, why);
    p.prompt = "ab";
    if (wl_generate(ctx, unadded, &p, &r[0], &err) != 0)
        fail_msg("with a prompt: %s", err.text);
    assert_int_equal(r[0].n_generated, 2);
    wl_generate_result_free(&r[0]);

    /* the same vocabulary without its byte tokens drops every byte of "ab":
     * the prompt is not empty, and the message says what happened to it */
    wl_tokenizer *bare = bytes_tokenizer_n(1, 0, 3);
    assert_int_equal(wl_generate(ctx, bare, &p, &r[0], &err), WL_EINVAL);
    /* -p was given: the remedy is other text (it asked for -p) */
    assert_string_equal(err.text, "the prompt (2 bytes) gives no token (the vocabulary has none "
                                  "for any of its bytes), and this vocabulary does not add its "
                                  "BOS token (id 1; tokenizer.ggml.add_bos_token is false): use "
                                  "text this vocabulary can tokenize");
    assert_int_equal(wl_generate_batch(ctx, bare, &p, &bp, r, &st, &err), WL_EINVAL);
    assert_non_null(strstr(err.text, "prompt 0 is empty and this vocabulary"));

    wl_tok_free(bare);
    wl_tok_free(none);
    wl_tok_free(unadded);
    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

/* A tokenizer error names the prompt as wl_generate and wl_generate_batch
 * do: "the prompt" alone, "prompt I" of several, in
 * wl_generate_default_n_ctx as in wl_generate_check_prompts_fit (the
 * former said "the prompt" of any of several). The prompt the tokenizer
 * refuses is longer than WL_TOK_MAX_TEXT_BYTES: one MiB of 'a' (a file) mapped
 * 1025 times, then a zero page (its NUL), so it costs a MiB of memory. */
static void test_tokenizer_error_names_the_prompt(void **state)
{
    (void)state;
    const size_t mib = (size_t)1 << 20, n_maps = (WL_TOK_MAX_TEXT_BYTES >> 20) + 1;
    FILE *f = tmpfile();
    assert_non_null(f);
    const int fd = fileno(f);
    assert_int_equal(ftruncate(fd, (off_t)mib), 0);
    char *one = mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(one != MAP_FAILED);
    memset(one, 'a', mib);
    char *huge = mmap(NULL, (n_maps + 1) * mib, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(huge != MAP_FAILED);
    for (size_t i = 0; i < n_maps; i++)
        assert_true(mmap(huge + i * mib, mib, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) !=
                    MAP_FAILED);
    struct wl_test_synth s = {0};
    synth_load(&s, WL_ARCH_LLAMA, 2048);
    struct wl_errmsg err = {{0}};
    const char *prompts[] = {"Hi", huge};
    struct wl_generate_params p = greedy(prompts[0], 10);
    int32_t n_ctx = 0;
    assert_int_equal(wl_generate_default_n_ctx(s.m, s.tok, &p, prompts, 2, &n_ctx, NULL, &err),
                     WL_ERANGE);
    assert_non_null(strstr(err.text, "cannot tokenize prompt 1: "));
    assert_int_equal(wl_generate_check_prompts_fit(s.tok, &p, prompts, 2, 2048, &err), WL_ERANGE);
    assert_non_null(strstr(err.text, "cannot tokenize prompt 1: "));
    assert_int_equal(wl_generate_default_n_ctx(s.m, s.tok, &p, prompts + 1, 1, &n_ctx, NULL, &err),
                     WL_ERANGE);
    assert_non_null(strstr(err.text, "cannot tokenize the prompt: "));
    assert_int_equal(wl_generate_check_prompts_fit(s.tok, &p, prompts + 1, 1, 2048, &err),
                     WL_ERANGE);
    assert_non_null(strstr(err.text, "cannot tokenize the prompt: "));
    wl_test_synth_free(&s);
    munmap(huge, (n_maps + 1) * mib);
    munmap(one, mib);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_too_long_message),
        cmocka_unit_test(test_default_n_ctx_counts_tokens),
        cmocka_unit_test(test_default_n_ctx_capped_at_training),
        cmocka_unit_test(test_prompt_filling_the_context_gives_one_token),
        cmocka_unit_test(test_phi3_rope_factors_follow_n_ctx_rope),
        cmocka_unit_test(test_huge_n_predict_costs_the_context_only),
        cmocka_unit_test(test_f16_cache_overflow_is_named),
        cmocka_unit_test(test_empty_prompt_without_bos_is_named),
        cmocka_unit_test(test_tokenizer_error_names_the_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

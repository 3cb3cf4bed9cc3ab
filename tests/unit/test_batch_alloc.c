/* wl_generate_batch's buffers (generate_batch.c) and wl_generate's
 * (generate.c): a buffer that cannot be allocated is named in the error with its bytes, not just
 * "out of memory". Sizes that cannot be allocated at all (past PTRDIFF_MAX, or whose size
 * arithmetic would wrap) are refused before anything is allocated, on every
 * build; an allocation the system refuses (an address-space limit in a
 * child process, Linux without sanitizers) says the same. The sizes come
 * from a tokenizer whose longest piece is made absurdly long (the decoder
 * sizes its buffers by it, tokenizer_impl.h) on a synthetic model.
 */
#include "synth_fixture.h"
#include "synth_generate.h"
#include "test_support.h"

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "engine/tokenizer_impl.h"
#include "wattlens/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Two sequences ("A", "B") of n_predict greedy tokens: the return code
 * (-1000 when it failed but a result does not say so), the message in err. */
static int run_two(wl_context *ctx, const wl_tokenizer *tok, int32_t n_predict,
                   struct wl_errmsg *err)
{
    struct wl_generate_params p = wl_test_greedy_params(NULL, n_predict);
    const char *prompts[] = {"A", "B"};
    struct wl_generate_batch_params bp = {.prompts = prompts, .n_seq = 2};
    struct wl_generate_result res[2];
    struct wl_generate_batch_stats st;
    const int rc = wl_generate_batch(ctx, tok, &p, &bp, res, &st, err);
    bool stop_error = true;
    for (int i = 0; i < 2; i++) {
        stop_error &= res[i].stop == WL_STOP_ERROR && !res[i].text;
        wl_generate_result_free(&res[i]);
    }
    return rc != 0 && !stop_error ? -1000 : rc;
}

/* One sequence ("A") of n_predict greedy tokens through wl_generate: as
 * run_two. */
static int run_one(wl_context *ctx, const wl_tokenizer *tok, int32_t n_predict,
                   struct wl_errmsg *err)
{
    struct wl_generate_params p = wl_test_greedy_params("A", n_predict);
    struct wl_generate_result res;
    const int rc = wl_generate(ctx, tok, &p, &res, err);
    const bool stop_error = res.stop == WL_STOP_ERROR && !res.text;
    wl_generate_result_free(&res);
    return rc != 0 && !stop_error ? -1000 : rc;
}

static void test_one_sequence_sizes_past_ptrdiff_max_are_refused(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    wl_test_synth_load_default(&s);
    wl_context *ctx = wl_test_context_small(s.m, 16, 1);
    const size_t piece_len = s.tok->max_piece_len;
    struct wl_errmsg err = {{0}};

    /* pieces above PTRDIFF_MAX: the text buffer is refused first (it holds
     * them), before anything is allocated */
    s.tok->max_piece_len = SIZE_MAX / 4;
    assert_int_equal(run_one(ctx, s.tok, 3, &err), WL_ENOMEM);
    assert_non_null(strstr(err.text, "out of memory: the text buffer needs "));
    assert_non_null(strstr(err.text, ", more than can be allocated (3 tokens x "));

    /* 3 pieces of 6.0 EiB wrap a size_t: before, the wrapped size was
     * allocated (a buffer far smaller than the text it was meant to hold) */
    s.tok->max_piece_len = (size_t)1 << 61;
    memset(&err, 0, sizeof err);
    assert_int_equal(run_one(ctx, s.tok, 3, &err), WL_ENOMEM);
    assert_string_equal(err.text, "out of memory: the text buffer needs 18.0 EiB, more than can be "
                                  "allocated (3 tokens x 6917529027641081872 bytes, the longest "
                                  "piece, + 1)");

    s.tok->max_piece_len = piece_len;
    assert_int_equal(run_one(ctx, s.tok, 3, &err), 0);
    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

static void test_sizes_past_ptrdiff_max_are_refused_with_what_and_bytes(void **state)
{
    (void)state;
    struct wl_test_synth s = {0};
    wl_test_synth_load_default(&s);
    wl_context *ctx = wl_test_context_small(s.m, 16, 2);
    const size_t piece_len = s.tok->max_piece_len;
    struct wl_errmsg err = {{0}};

    /* a piece buffer of 3 x (2^62 + 3) + 4 bytes: above PTRDIFF_MAX, so
     * malloc could only refuse it (and a sanitizer abort on it) */
    s.tok->max_piece_len = SIZE_MAX / 4;
    assert_int_equal(run_two(ctx, s.tok, 3, &err), WL_ENOMEM);
    assert_string_equal(err.text, "out of memory: the decoder's piece buffer (the longest token's "
                                  "text) needs 12.0 EiB, more than can be allocated");

    /* a piece buffer of 3 x (2^61 + 4) + 4 bytes (6.0 EiB, below PTRDIFF_MAX):
     * 3 of them for each text buffer wrap a size_t; refused before the piece
     * buffer (which malloc would refuse too) is asked for */
    s.tok->max_piece_len = (size_t)1 << 61;
    memset(&err, 0, sizeof err);
    assert_int_equal(run_two(ctx, s.tok, 3, &err), WL_ENOMEM);
    assert_string_equal(err.text,
                        "out of memory: the text buffer of sequence 0 needs 18.0 EiB, more than "
                        "can be allocated (3 tokens x 6917529027641081872 bytes, the longest "
                        "piece, + 1; the 2 sequences' text buffers need 36.0 EiB together)");

    /* the same tokenizer with its own pieces generates */
    s.tok->max_piece_len = piece_len;
    assert_int_equal(run_two(ctx, s.tok, 3, &err), 0);
    wl_context_free(ctx);
    wl_test_synth_free(&s);
}

#if !WL_TEST_UNDER_SANITIZER && defined(__linux__)

/* In a child under an address-space limit of 256 MiB above what it uses:
 * 0 when the batch failed with want. */
static int refused_child(wl_context *ctx, const wl_tokenizer *tok, bool one, const char *want)
{
    const uint64_t vm = wl_test_vm_size_bytes();
    struct rlimit rl = {.rlim_cur = vm + (256u << 20), .rlim_max = vm + (256u << 20)};
    if (vm == 0 || setrlimit(RLIMIT_AS, &rl) != 0)
        return 3;
    struct wl_errmsg err = {{0}};
    const int rc = one ? run_one(ctx, tok, 1000, &err) : run_two(ctx, tok, 1000, &err);
    if (rc != WL_ENOMEM || strcmp(err.text, want) != 0) {
        fprintf(stderr, "rc %d: %s\nwanted: %s\n", rc, err.text, want);
        return 1;
    }
    return 0;
}
#endif

static void test_a_refused_allocation_says_what_and_how_many_bytes(void **state)
{
    (void)state;
#if WL_TEST_UNDER_SANITIZER || !defined(__linux__)
    skip(); /* sanitizers reserve terabytes of shadow: no address-space limit */
#else
    struct wl_test_synth s = {0};
    wl_test_synth_load_default(&s);
    wl_context *ctx = wl_test_context_small(s.m, 1024, 2);
    /* pieces of 3 x (2^20 + 4) + 4 bytes: 1000 of them, 2.9 GiB a sequence */
    s.tok->max_piece_len = (size_t)1 << 20;
    const char *want = "out of memory: the text buffer of sequence 0 needs 2.9 GiB (1000 tokens x "
                       "3145744 bytes, the longest piece, + 1; the 2 sequences' text buffers need "
                       "5.9 GiB together)";
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(refused_child(ctx, s.tok, false, want));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* one sequence through wl_generate: the same text buffer */
    want = "out of memory: the text buffer needs 2.9 GiB (1000 tokens x 3145744 bytes, the "
           "longest piece, + 1)";
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(refused_child(ctx, s.tok, true, want));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    wl_context_free(ctx);
    wl_test_synth_free(&s);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_past_ptrdiff_max_are_refused_with_what_and_bytes),
        cmocka_unit_test(test_one_sequence_sizes_past_ptrdiff_max_are_refused),
        cmocka_unit_test(test_a_refused_allocation_says_what_and_how_many_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ctest-labels: no-asan no-tsan (denies thread creation in a forked child, which the sanitizers'
 * runtimes need) */
/* profile/recorder when its writer thread cannot be created
 * (wl_recorder_start): in a forked child whose clone and clone3 system
 * calls a seccomp filter makes fail with EAGAIN, as at a thread limit,
 * after the recorder (and its sampler thread) exists.
 * Checks: the start fails, with the system's reason (EAGAIN's text) for the
 * caller, and can be tried again (not "already started");
 * the events of a generation that runs anyway are not recorded, and the
 * run is stored as failed with the reason, not as complete with nothing.
 * Skipped where seccomp filters are not available (not Linux, or refused).
 */
#include "test_support.h"

#include "profile/recorder.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __NR_clone3
#define __NR_clone3 435 /* the same number on every architecture */
#endif

#define SKIPPED 77

/* From now on every clone and clone3 of this process fails with EAGAIN
 * (pthread_create then returns EAGAIN). False when seccomp is refused. */
static bool deny_threads(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EAGAIN & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

static void emit(const struct wl_hooks *h, enum wl_hook_kind kind, bool begin, enum wl_phase p,
                 enum wl_section s)
{
    struct wl_hook_event ev = {.kind = kind,
                               .begin = begin,
                               .phase = p,
                               .section = s,
                               .layer = -1,
                               .n_tok = 1,
                               .text = "x",
                               .text_len = 1};
    h->fn(h->user_data, &ev);
}

struct run_row {
    char status[32], error[256];
    int64_t n_tokens;
};

static int run_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    struct run_row *r = ud;
    for (size_t i = 0; i < n; i++) {
        if (v[i].type != WL_VALUE_TEXT)
            continue;
        if (strcmp(names[i], "status") == 0)
            snprintf(r->status, sizeof r->status, "%s", v[i].s);
        else if (strcmp(names[i], "error") == 0)
            snprintf(r->error, sizeof r->error, "%s", v[i].s);
    }
    return 0;
}

static int token_row(void *ud, size_t n, const char *const *names, const struct wl_store_value *v)
{
    (void)n;
    (void)names;
    (void)v;
    ((struct run_row *)ud)->n_tokens++;
    return 0;
}

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "child: check failed at line %d: %s\n", __LINE__, #c);                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* The child's whole test; returns its exit status (0: passed). */
static int child(const char *dir)
{
    struct wl_errmsg err;
    struct wl_store_params stp;
    wl_store_default_params(&stp);
    char path[1024];
    snprintf(path, sizeof path, "%s/runs.db", dir);
    stp.path = path;
    wl_store *st = NULL;
    CHECK(wl_store_open(&stp, &st, &err) == 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .depth = "off"};
    wl_store_run *run = NULL;
    char id[40];
    CHECK(wl_store_run_begin(st, &info, &run, id) == 0);
    struct wl_sensor_params sp;
    wl_sensor_params_default(&sp);
    sp.backends = WL_BACKEND_CPU_MODEL;
    sp.model_use = WL_MODEL_ALWAYS;
    sp.model.scope = WL_MODEL_SCOPE_SELF;
    struct wl_recorder_params rp;
    wl_recorder_default_params(&rp);
    rp.depth = WL_PROFILE_OFF;
    rp.n_layer = rp.n_head = 1;
    rp.max_input_tokens = rp.max_output_tokens = 8;
    rp.sensors = &sp;
    rp.run = run;
    wl_recorder *rec = NULL;
    CHECK(wl_recorder_create(&rp, &rec, &err) == 0); /* its sampler thread runs */

    if (!deny_threads())
        return SKIPPED;
    /* the caller gets the reason with the system's text (what run prints
     * and stores), not the error code's "out of memory" */
    struct wl_errmsg serr;
    wl_errmsg_clear(&serr);
    CHECK(wl_recorder_start(rec, &serr) == WL_ENOMEM);
    CHECK(strstr(serr.text, "writer thread") != NULL);
    CHECK(strstr(serr.text, strerror(EAGAIN)) != NULL);
    wl_errmsg_clear(&serr);
    CHECK(wl_recorder_start(rec, &serr) == WL_ENOMEM); /* tried again, not "already started" */
    CHECK(strstr(serr.text, strerror(EAGAIN)) != NULL);
    /* a generation of one token that runs all the same */
    const struct wl_hooks h = wl_recorder_hooks(rec);
    emit(&h, WL_HOOK_PHASE, true, WL_PHASE_DECODE, 0);
    emit(&h, WL_HOOK_TOKEN, true, WL_PHASE_DECODE, 0);
    emit(&h, WL_HOOK_SECTION, true, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    emit(&h, WL_HOOK_SECTION, false, WL_PHASE_DECODE, WL_SECTION_SAMPLING);
    emit(&h, WL_HOOK_TOKEN, false, WL_PHASE_DECODE, 0);
    emit(&h, WL_HOOK_PHASE, false, WL_PHASE_DECODE, 0);
    struct wl_recorder_finish fin = {.status = WL_RUN_COMPLETE, .response = "x"};
    CHECK(wl_recorder_finish(rec, &fin) == 0);

    struct run_row r = {0};
    CHECK(wl_store_foreach(st, id, WL_TABLE_RUN, -1, -1, run_row, &r) == 0);
    CHECK(wl_store_foreach(st, id, WL_TABLE_TOKENS, -1, -1, token_row, &r) == 0);
    fprintf(stderr, "child: stored status '%s', error '%s', %lld tokens\n", r.status, r.error,
            (long long)r.n_tokens);
    CHECK(strcmp(r.status, "failed") == 0);
    CHECK(strcmp(r.error, serr.text) == 0); /* the reason the caller was given */
    CHECK(r.n_tokens == 0);
    wl_recorder_free(rec);
    wl_store_close(st);
    return 0;
}
#endif

static void test_start_failure_is_stored_as_failed(void **state)
{
    (void)state;
#ifdef __linux__
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    fflush(NULL);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child(dir));
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    wl_test_rmtree(dir);
    free(dir);
    assert_true(WIFEXITED(ws));
    if (WEXITSTATUS(ws) == SKIPPED)
        skip();
    assert_int_equal(WEXITSTATUS(ws), 0);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_failure_is_stored_as_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

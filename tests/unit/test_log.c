/* util/log: progress lines on stderr and the messages written while one is
 * shown. A message ends an open progress line first, so it starts a line
 * of its own, and the next update starts the line after it; a progress
 * line is ended once; a message below the level writes nothing, so it
 * leaves the line open. stderr is captured in a file for each check.
 */
#include "test_support.h"

#include "util/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct capture {
    char path[4200];
    int saved; /* the real stderr */
};

static void capture_begin(struct capture *c)
{
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    snprintf(c->path, sizeof c->path, "%s/stderr", dir);
    free(dir);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

/* Puts stderr back (cmocka reports on it) and returns what was written. */
static char *capture_end(struct capture *c)
{
    fflush(stderr);
    assert_int_equal(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
    close(c->saved);
    char *text = wl_test_read_file(c->path, NULL);
    assert_non_null(text);
    char *dir = strdup(c->path);
    *strrchr(dir, '/') = '\0';
    wl_test_rmtree(dir);
    free(dir);
    return text;
}

static void assert_text(char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        fail_msg("stderr: got '%s', want '%s'", got, want);
    free(got);
}

static int setup(void **state)
{
    (void)state;
    wl_log_set_level(WL_LOG_WARN);
    return 0;
}

static void test_a_message_ends_an_open_progress_line(void **state)
{
    (void)state;
    struct capture c;
    capture_begin(&c);
    wl_log_progress("  step %d/%d", 1, 3);
    wl_log_progress("  step %d/%d", 2, 3);
    wl_log_warn("test", "counter went back");
    wl_log_progress("  step %d/%d", 3, 3); /* on the line after the message */
    wl_log_progress_end();
    assert_text(capture_end(&c), "\r  step 1/3\r  step 2/3\nwattlens: warn: [test] counter went "
                                 "back\n\r  step 3/3\n");
}

static void test_a_progress_line_is_ended_once(void **state)
{
    (void)state;
    struct capture c;
    capture_begin(&c);
    wl_log_progress_end(); /* none open: nothing */
    wl_log_progress("a");
    wl_log_progress_end();
    wl_log_progress_end();
    wl_log_error("test", "after"); /* no empty line before it */
    assert_text(capture_end(&c), "\ra\nwattlens: error: [test] after\n");
}

static void test_a_message_below_the_level_leaves_the_line_open(void **state)
{
    (void)state;
    struct capture c;
    capture_begin(&c);
    wl_log_progress("a");
    wl_log_debug("test", "not shown");
    wl_log_progress("b");
    wl_log_progress_end();
    assert_text(capture_end(&c), "\ra\rb\n");
}

enum { N_THREADS = 4, N_MESSAGES = 200, N_UPDATES = 2000 };

static void *log_messages(void *arg)
{
    (void)arg;
    for (int i = 0; i < N_MESSAGES; i++)
        wl_log_warn("test", "message %d", i);
    return NULL;
}

/* Messages from other threads while the line is updated: every message is a
 * line of its own, whole (each write holds stderr). */
static void test_messages_from_threads_never_land_inside_the_line(void **state)
{
    (void)state;
    struct capture c;
    capture_begin(&c);
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_messages, NULL), 0);
    for (int i = 0; i < N_UPDATES; i++)
        wl_log_progress("  update %d", i);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    wl_log_progress_end();
    char *text = capture_end(&c);
    int n_messages = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '\r') { /* updates only */
            if (strstr(line, "wattlens"))
                fail_msg("a message inside the progress line: '%s'", line);
            continue;
        }
        int k = -1, end = 0;
        if (sscanf(line, "wattlens: warn: [test] message %d%n", &k, &end) != 1 || line[end])
            fail_msg("not a whole message: '%s'", line);
        n_messages++;
    }
    assert_int_equal(n_messages, N_THREADS * N_MESSAGES);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_a_message_ends_an_open_progress_line, setup),
        cmocka_unit_test_setup(test_a_progress_line_is_ended_once, setup),
        cmocka_unit_test_setup(test_a_message_below_the_level_leaves_the_line_open, setup),
        cmocka_unit_test_setup(test_messages_from_threads_never_land_inside_the_line, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

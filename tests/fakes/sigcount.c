/* Test helper for tests/integration/test_measure_signals.sh: counts the
 * SIGTERMs it gets. Runs until 0.5 s after the first one (or SEC seconds,
 * default 10), then prints "TERM N other M" on stdout and exits 0: M of the
 * N came from a process other than its parent (a group kill, not the
 * parent passing a signal on; two signals that land before the first is
 * handled are one, so M tells a doubled delivery when N cannot). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t n_term, n_other;
static pid_t parent;

static void on_term(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    n_term++;
    if (si->si_pid != parent)
        n_other++;
}

int main(int argc, char **argv)
{
    double max_s = argc > 1 ? atof(argv[1]) : 10;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    parent = getppid();
    sa.sa_sigaction = on_term;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    struct timespec tick = {0, 10000000};
    int after = -1; /* ticks left once the first SIGTERM came */
    for (int i = 0; i < (int)(max_s * 100) && after != 0; i++) {
        nanosleep(&tick, NULL);
        if (after < 0 && n_term > 0)
            after = 50;
        else if (after > 0)
            after--;
    }
    printf("TERM %d other %d\n", (int)n_term, (int)n_other);
    return 0;
}

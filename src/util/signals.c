/* Signal names and masks; see signals.h. */
#include "util/signals.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

/* By macro, not by number: numbers differ between Linux and macOS. */
static const struct {
    int sig;
    const char *name;
} names[] = {
    {SIGHUP, "SIGHUP"},     {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"},   {SIGABRT, "SIGABRT"},     {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"},   {SIGUSR1, "SIGUSR1"},     {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"},   {SIGALRM, "SIGALRM"},     {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
    {SIGCONT, "SIGCONT"},   {SIGSTOP, "SIGSTOP"},     {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
    {SIGTTOU, "SIGTTOU"},   {SIGURG, "SIGURG"},       {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    {SIGPROF, "SIGPROF"},   {SIGVTALRM, "SIGVTALRM"}, {SIGSYS, "SIGSYS"},
#ifdef SIGWINCH
    {SIGWINCH, "SIGWINCH"},
#endif
#ifdef SIGIO
    {SIGIO, "SIGIO"},
#endif
};

const char *wl_signal_name(int sig)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].sig == sig)
            return names[i].name;
    }
    return NULL;
}

const char *wl_signal_label(int sig, char *buf, size_t size)
{
    const char *name = wl_signal_name(sig);
    if (name)
        return name;
    snprintf(buf, size, "signal %d", sig);
    return buf;
}

/* Blocks every asynchronous signal in the calling thread; its previous mask
 * goes to *old. */
static void block_async(sigset_t *old)
{
    static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    sigset_t set;
    sigfillset(&set);
    for (size_t i = 0; i < sizeof sync_signals / sizeof sync_signals[0]; i++)
        sigdelset(&set, sync_signals[i]);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void restore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

int wl_signals_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    sigset_t old;
    block_async(&old);
    int e = pthread_create(t, attr, fn, arg);
    restore(&old);
    return e;
}

bool wl_signal_catch_unless_ignored(int sig, const struct sigaction *sa, struct sigaction *old)
{
    return sigaction(sig, NULL, old) == 0 && old->sa_handler != SIG_IGN &&
           sigaction(sig, sa, NULL) == 0;
}

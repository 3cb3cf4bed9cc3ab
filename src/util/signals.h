/* Signal helpers: a signal's name for reports, and background threads that
 * never run a program's signal handlers.
 *
 * A process-directed signal runs its handler on any thread that does not
 * block it. Threads started by wl_signals_thread_create() block every
 * asynchronous signal,
 * so the caller's handlers run on the caller's own threads: a handler that
 * sets a volatile sig_atomic_t flag read by the thread it interrupted is
 * then race-free (also for TSan). Synchronous signals (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT) stay unblocked, so a crash in
 * such a thread is still reported. Stateless; thread-safe.
 */
#ifndef WL_UTIL_SIGNALS_H
#define WL_UTIL_SIGNALS_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* "SIGTERM" for a standard signal's number; NULL for any other number. */
const char *wl_signal_name(int sig);
/* wl_signal_name, or "signal N" written into buf (size >= 20) for a number
 * without a name. Returns the name or buf. */
const char *wl_signal_label(int sig, char *buf, size_t size);

/* sigaction(sig, sa, old) unless sig is ignored on entry (nohup, a
 * background job of a script): an ignored signal stays ignored, as shells
 * leave it. True when sa was installed; *old then holds what to restore. */
bool wl_signal_catch_unless_ignored(int sig, const struct sigaction *sa, struct sigaction *old);

/* pthread_create(t, attr, fn, arg) with every asynchronous signal blocked in
 * the new thread (the caller's mask is unchanged): for a library's
 * background threads, so that a program's SIGINT/SIGTERM handler never runs
 * on them. Returns pthread_create's value. */
int wl_signals_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg);

#endif

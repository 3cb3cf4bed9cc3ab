/* Leveled logging to stderr; see log.h. The level is read lazily from
 * WATTLENS_LOG the first time it is needed unless set explicitly. A
 * progress line's state is changed only with stderr locked, so a message
 * and a progress update never interleave; it is atomic all the same, for
 * the thread sanitizer, which does not see stdio's own lock. */
#include "util/log.h"

#include "util/utf8.h"

#include "wattlens/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -1: not yet initialised from the environment. */
static atomic_int wl_log_level_value = -1;

/* true while a progress line is shown on stderr and not ended */
static atomic_bool wl_log_progress_open;

static const char *const wl_log_names[] = {"error", "warn", "info", "debug", "trace"};

int wl_log_parse_level(const char *s, enum wl_log_level *out)
{
    if (!s)
        return WL_EINVAL;
    for (int i = 0; i < 5; i++) {
        if (strcmp(s, wl_log_names[i]) == 0) {
            *out = (enum wl_log_level)i;
            return 0;
        }
    }
    return WL_EINVAL;
}

void wl_log_set_level(enum wl_log_level level)
{
    atomic_store(&wl_log_level_value, (int)level);
}

enum wl_log_level wl_log_get_level(void)
{
    int v = atomic_load(&wl_log_level_value);
    if (v < 0) {
        enum wl_log_level l = WL_LOG_WARN;
        const char *env = getenv("WATTLENS_LOG");
        const bool bad = env && wl_log_parse_level(env, &l) != 0;
        if (bad)
            l = WL_LOG_WARN;
        int expected = -1;
        /* said once: only the thread that sets the level from the
         * environment warns (an empty value is a level not given) */
        if (atomic_compare_exchange_strong(&wl_log_level_value, &expected, (int)l) && bad &&
            env[0]) {
            char shown[64];
            wl_utf8_escape(shown, sizeof shown, env, strlen(env));
            fprintf(stderr,
                    "wattlens: warning: WATTLENS_LOG='%s' is not a log level (error, warn, info, "
                    "debug, trace); using warn\n",
                    shown);
        }
        v = atomic_load(&wl_log_level_value);
    }
    return (enum wl_log_level)v;
}

void wl_log(enum wl_log_level level, const char *module, const char *fmt, ...)
{
    if ((int)level > (int)wl_log_get_level())
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* a message can quote a sysfs name or a file's text: escaped, so that
     * nothing in it drives the terminal (a cut one ends between escapes) */
    char shown[4 * sizeof buf];
    wl_utf8_escape(shown, sizeof shown, buf, strlen(buf));
    flockfile(stderr);
    wl_log_progress_end(); /* the message starts a line of its own */
    fprintf(stderr, "wattlens: %s: [%s] %s\n", wl_log_names[level], module ? module : "-", shown);
    funlockfile(stderr);
}

void wl_log_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fputc('\r', stderr);
    vfprintf(stderr, fmt, ap);
    atomic_store(&wl_log_progress_open, true);
    funlockfile(stderr);
    va_end(ap);
}

void wl_log_progress_end(void)
{
    flockfile(stderr); /* recursive: wl_log calls it with stderr locked */
    if (atomic_exchange(&wl_log_progress_open, false))
        fputc('\n', stderr);
    funlockfile(stderr);
}

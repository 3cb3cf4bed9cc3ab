/* Leveled logging to stderr.
 *
 * The level is process-wide (an atomic int): set it with wl_log_set_level()
 * or the WATTLENS_LOG environment variable (error|warn|info|debug|trace).
 * So is whether a progress line is open on stderr (an atomic bool; see
 * wl_log_progress): stderr is one per process. These two are the only
 * globals in util/. Thread-safe: each message is written with stderr
 * locked (flockfile). Never call from the engine's forward pass (hot path).
 */
#ifndef WL_UTIL_LOG_H
#define WL_UTIL_LOG_H

enum wl_log_level {
    WL_LOG_ERROR = 0,
    WL_LOG_WARN = 1,
    WL_LOG_INFO = 2,
    WL_LOG_DEBUG = 3,
    WL_LOG_TRACE = 4,
};

void wl_log_set_level(enum wl_log_level level);
enum wl_log_level wl_log_get_level(void);

/* Parses "error", "warn", "info", "debug", "trace"; returns 0 or WL_EINVAL. */
int wl_log_parse_level(const char *s, enum wl_log_level *out);

/* module: short subsystem name shown in brackets, e.g. "rapl". The message
 * (cut at 1023 bytes) is printed escaped by wl_utf8_escape (util/utf8.h):
 * it may quote a sysfs name or an environment value, and a control byte in
 * it must not drive the terminal. */
void wl_log(enum wl_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Progress lines. A progress display rewrites one line of stderr in place
 * ('\r', then its text, no newline) while work goes on; anything else
 * written to stderr meanwhile would land in the middle of that line.
 * wl_log_progress writes the line (the formatted text after a '\r', as it
 * is: numbers and fixed words, not escaped) and marks it open. wl_log ends
 * an open line with '\n' before its message, so the message starts a line
 * of its own and the display's next update starts the next one; any other
 * writer to stderr calls wl_log_progress_end first (the CLI's messages do).
 * The caller decides whether to show progress at all (stderr a terminal).
 * Thread-safe: each call writes with stderr locked. */
void wl_log_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ends an open progress line with '\n': the display is done, or something
 * else is about to be written to stderr. Nothing when no line is open. */
void wl_log_progress_end(void);

#define wl_log_error(mod, ...) wl_log(WL_LOG_ERROR, mod, __VA_ARGS__)
#define wl_log_warn(mod, ...) wl_log(WL_LOG_WARN, mod, __VA_ARGS__)
#define wl_log_info(mod, ...) wl_log(WL_LOG_INFO, mod, __VA_ARGS__)
#define wl_log_debug(mod, ...) wl_log(WL_LOG_DEBUG, mod, __VA_ARGS__)

#endif

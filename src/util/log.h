/* Leveled logging to stderr.
 *
 * The level is process-wide (one atomic int, the only global in util/): set it
 * with wl_log_set_level() or the WATTLENS_LOG environment variable
 * (error|warn|info|debug|trace). Thread-safe: each message is one fprintf.
 * Never call from the engine's forward pass (hot path).
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

#define wl_log_error(mod, ...) wl_log(WL_LOG_ERROR, mod, __VA_ARGS__)
#define wl_log_warn(mod, ...) wl_log(WL_LOG_WARN, mod, __VA_ARGS__)
#define wl_log_info(mod, ...) wl_log(WL_LOG_INFO, mod, __VA_ARGS__)
#define wl_log_debug(mod, ...) wl_log(WL_LOG_DEBUG, mod, __VA_ARGS__)

#endif

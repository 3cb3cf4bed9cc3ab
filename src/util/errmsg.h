/* A fixed-size error message that parsers and loaders fill alongside their
 * WL_E* return code, so the caller can say what was wrong and where.
 * Caller-owned; no allocation. Not thread-shared.
 */
#ifndef WL_UTIL_ERRMSG_H
#define WL_UTIL_ERRMSG_H

#define WL_ERRMSG_SIZE 512

struct wl_errmsg {
    char text[WL_ERRMSG_SIZE];
};

/* Formats the message into e (if e is not NULL) and returns code, so that
 * `return wl_errmsg_set(e, WL_EFORMAT, "bad count at byte %zu", off);` works.
 * A message longer than the buffer is cut between characters and ends "..."
 * (wl_utf8_vformat). */
int wl_errmsg_set(struct wl_errmsg *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "prefix: " before the message (before wl_strerror(code) when it is
 * empty) and returns code: a loader names the file it was given once, for
 * every error, so callers print err->text as it is. e may be NULL. */
int wl_errmsg_prefix(struct wl_errmsg *e, int code, const char *prefix);

/* Clears the message. */
void wl_errmsg_clear(struct wl_errmsg *e);

#endif

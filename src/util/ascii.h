/* ASCII text helpers for names read from files (model metadata, sysfs
 * labels) that are matched against fixed English words. Only the bytes
 * A-Z are folded, whatever the locale; other bytes (UTF-8 included) are
 * compared as they are. Pure functions; thread-safe.
 */
#ifndef WL_UTIL_ASCII_H
#define WL_UTIL_ASCII_H

#include <stdbool.h>

/* True when lower_word (lower-case ASCII, NUL-terminated) occurs anywhere
 * in text (NUL-terminated), ignoring ASCII case: "Power TOTAL" contains
 * "total". An empty lower_word occurs in any text. */
bool wl_ascii_contains_ci(const char *text, const char *lower_word);

#endif

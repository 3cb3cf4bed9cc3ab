/* Text into JSON without losing it. JSON strings must be valid UTF-8 (and
 * jansson's json_string() returns NULL otherwise, which silently drops the
 * field it was meant for), but the text wattlens keeps need not be: a
 * prompt, a command line, a model path, a tag, a token's text (a token can
 * be part of a character) keep the bytes they were given.
 *
 * One rule for every JSON output built from such text: text that is valid
 * UTF-8 is the string itself; otherwise the string shows each invalid byte
 * as U+FFFD, and a sibling field named "<name>_hex" holds the exact bytes in
 * lowercase hex (for an array of texts, an array with every element's bytes,
 * in order). The sibling is present only when needed, so it also says that
 * the string is not the stored text. Documented in docs/internals/store.md
 * ("JSON shapes"). Also how every JSON output writes a number (below).
 * Pure functions, thread-safe; a json_t returned is a new
 * reference, NULL only when out of memory.
 */
#ifndef WL_UTIL_JSON_TEXT_H
#define WL_UTIL_JSON_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* How every JSON output writes a real number (jansson's dump flag): 15
 * significant digits (%.15g, DBL_DIG: every decimal of 15 digits survives
 * the trip through a double), so the same stored value reads the same in
 * `runs --json`, `show --json`, `run --json` and the export (the CSV export
 * prints %.15g too), and a 0.7 given by the user reads 0.7, not the
 * 0.69999999999999996 that 17 digits would show. The last bit or two of a
 * double is not printed. docs/internals/store.md, "JSON shapes". */
#define WL_JSON_REAL_FLAGS JSON_REAL_PRECISION(15)

/* A real as JSON, or null when it is not finite: NaN (unknown), and an
 * infinity from another writer or a hand edit, which JSON cannot write and
 * json_real refuses (the key set to it would be dropped, the array item
 * lost and every later one shifted). One rule for every JSON output. */
json_t *wl_json_real_or_null(double v);

/* A mask of domains (bit d: enum wl_domain d) as a JSON array of their
 * names (wl_domain_name), in domain order; the one way every JSON output
 * and runs.extra key writes a set of domains. */
json_t *wl_json_domain_names(uint32_t mask);
/* The inverse: the mask of the names in arr that wl_domain_parse knows
 * (others, and anything not a string, are skipped); 0 for a non-array. */
uint32_t wl_json_domain_mask(const json_t *arr);

/* Suffix of the field that carries the exact bytes of a text field. */
#define WL_JSON_HEX_SUFFIX "_hex"

/* A JSON string of the n bytes at s, each byte that is not valid UTF-8
 * replaced by U+FFFD; *lossy (may be NULL) is set to true when one was. */
json_t *wl_json_text(const char *s, size_t n, bool *lossy);

/* A run's extra fields (runs.extra) as the object they must be: a new
 * reference, or NULL when text is NULL or is not a JSON object jansson
 * reads (a byte that is not UTF-8, a hand edit, another writer). The one
 * rule of "unreadable extra": text not NULL and the result NULL
 * (the summary's extra_unreadable, the run list's). */
json_t *wl_json_load_object(const char *text);

/* The n bytes at s in lowercase hex, as a JSON string ("" for none). */
json_t *wl_json_hex(const char *s, size_t n);

/* Sets obj[key_hex] to the n bytes at s in hex: for a caller that shows
 * the text under key in a form of its own. Returns 0 or -1. */
int wl_json_set_hex(json_t *obj, const char *key, const char *s, size_t n);

/* Sets obj[key] to the text and, when it is not valid UTF-8, obj[key_hex]
 * to its bytes (the rule above). wl_json_set_text takes a NUL-terminated s;
 * NULL sets null. Returns 0, or -1 when out of memory (obj may then hold
 * part of it). */
int wl_json_set_text(json_t *obj, const char *key, const char *s);
int wl_json_set_textn(json_t *obj, const char *key, const char *s, size_t n);

/* Sets obj[key] to an array of the n texts v[i] (len[i] bytes each; len
 * NULL: NUL-terminated) and, when any is not valid UTF-8, obj[key_hex] to
 * the array of every text's bytes in hex. Returns 0 or -1 (out of memory). */
int wl_json_set_texts(json_t *obj, const char *key, const char *const *v, const size_t *len,
                      size_t n);

/* Dumps j to f as json_dumpf(j, f, flags) does, or, when terminal (the
 * caller's test: isatty, an export's escape option), escaped for a terminal:
 * the dump goes through wl_utf8_put_terminal_json (utf8.h), since jansson
 * escapes only the C0 controls and writes C1 controls (U+009B is CSI to
 * some terminals), bidirectional controls and DEL as they are. Returns 0,
 * WL_ENOMEM when the escaped dump could not be built, or WL_EIO when the
 * dump or a write failed (errno says why when a write did). */
int wl_json_put(FILE *f, const json_t *j, size_t flags, bool terminal);

#endif

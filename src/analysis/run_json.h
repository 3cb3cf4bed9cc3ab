/* JSON shapes of a stored run's own fields, shared by `runs --json`, `show
 * --json` (and the summary in `run --json`) and `export --format json`, so a
 * field has one shape wherever it appears: tags are an array of strings,
 * created_at is ISO 8601 in UTC with milliseconds, and the fields the store
 * keeps as JSON text (sampling, sensor_provenance, model_features, extra)
 * are JSON values, not strings holding JSON; stored text that is not valid
 * UTF-8 keeps its bytes in a "<field>_hex" sibling (util/json_text.h).
 * Documented in docs/internals/store.md ("JSON shapes"). Pure functions,
 * thread-safe; every json_t returned is a new reference, NULL only when out
 * of memory.
 */
#ifndef WL_ANALYSIS_RUN_JSON_H
#define WL_ANALYSIS_RUN_JSON_H

#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Unix ms as ISO 8601 in UTC with milliseconds, "2026-11-21T10:04:05.123Z"
 * (the store keeps created_at_ms, so this is the exact instant), into buf
 * (25 bytes are enough). Returns buf ("?" when it is too small), or NULL
 * for a time outside the years 0000-9999, which ISO 8601's four digits
 * cannot write. The one formatter of created_at: runs, show and the export
 * (JSON and CSV) write it with this. */
const char *wl_run_json_format_time(int64_t unix_ms, char *buf, size_t size);

/* Sets o["tags"] to the tags as the store lists them (wl_run_row.tags: n
 * bytes, comma separated, sorted; NULL = none) as an array of strings, and
 * o["tags_hex"] when one is not valid UTF-8 (util/json_text.h). A NUL byte
 * in a tag is kept ("\u0000"), as in any other text. Returns 0 or -1 (out
 * of memory). */
int wl_run_json_set_tags(json_t *o, const char *tags, size_t n);

/* A field stored as JSON text (n bytes) as its JSON value. Text that is not
 * valid JSON (older writers, hand edits) stays a string, so nothing stored is
 * lost or fails the output; NULL text is null. Text that is not valid UTF-8
 * is read with each invalid byte as U+FFFD, and *lossy (may be NULL) set. */
json_t *wl_run_json_text(const char *text, size_t n, bool *lossy);

/* Sets o[key] to wl_run_json_text's value and, when the text is not valid
 * UTF-8, o[key_hex] to its exact bytes. Returns 0 or -1 (out of memory). */
int wl_run_json_set_json(json_t *o, const char *key, const char *text, size_t n);

/* A run's identity as an object: id, created_at_ms, created_at, status,
 * kind, command, model, prompt, experiment, tags (null for unknown
 * strings; "<field>_hex" beside a text that is not valid UTF-8). Each text
 * keeps all its stored bytes (the row's lengths), a NUL byte too
 * ("\u0000"). Callers add their own figures. */
json_t *wl_run_json_identity(const struct wl_run_row *r);

#endif

/* Exports of one stored run: JSON (the nested run: run -> domains, samples,
 * sections, tokens -> layers -> components -> ops, plus its summary) and CSV
 * (one table after another: metadata, domains, power samples, sections,
 * tokens, layer, component and op metrics). Both stream from the store in
 * token chunks, so a deep run of a million rows needs little memory.
 * Field names are the store's column names (stable). In the JSON, the
 * run's JSON-text columns (sampling, sensor_provenance, model_features,
 * extra) are JSON values and its tags an array, as in `runs --json` and
 * `show --json` (analysis/run_json.h); the CSV keeps the stored text.
 * Every token row also gets layers_first_token and layers_last_token: the
 * tokens whose energies hold its layer rows (a prompt batch's input tokens,
 * a decode step's own token; null without layers), since a prompt batch's
 * rows are stored under its last token alone (docs/internals/profile.md).
 * Every CSV table has its header line, rows or not. Stateless.
 */
#ifndef WL_EXPORT_RUN_EXPORT_H
#define WL_EXPORT_RUN_EXPORT_H

#include "store/store.h"
#include "util/errmsg.h"

#include <stdio.h>

/* id is a full run id (see wl_store_resolve_id). Returns 0, a store error,
 * or WL_EIO when writing to out fails; err says what. */
int wl_export_run_json(wl_store *s, const char *id, FILE *out, struct wl_errmsg *err);
int wl_export_run_csv(wl_store *s, const char *id, FILE *out, struct wl_errmsg *err);

#endif

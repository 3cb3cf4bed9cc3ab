/* Exports of one stored run: JSON (the nested run: run -> domains, samples,
 * sections, tokens -> layers -> components -> ops, plus its summary) and CSV
 * (one table after another: metadata, domains, power samples, sections,
 * tokens, layer, component and op metrics). Both stream from the store:
 * rows are written as they are read (tokens in chunks, each with its
 * layers, components and ops), so a run of a million samples or a deep run
 * of a million rows needs little memory.
 * Unknown values are null in the JSON and empty cells in the CSV: NULL, a
 * stored real that is not finite, and the 0 ms / 0 J a run that recorded
 * nothing stored (as `runs` and `show` give n/a). Reals are written with
 * 15 significant digits, as every JSON output (util/json_text.h).
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

/* Options of the exports (bits; each export reads its own and ignores the
 * other's, so a caller writing to a terminal can give both). */
enum {
    /* CSV: every text cell escaped as the CLI's text outputs are
     * (wl_utf8_escape: a control byte as \xNN, ...): for a terminal, which a
     * stored text must not drive; a file or a pipe gets the exact bytes */
    WL_EXPORT_CSV_ESCAPE_TEXT = 1u << 0,
    /* JSON: each C1 control, bidirectional control and DEL written as the
     * JSON escape \uNNNN (wl_utf8_put_terminal_json), which jansson writes
     * as they are (it escapes the C0 controls only): for a terminal; the
     * document parses to the same value. Without it, jansson's bytes. */
    WL_EXPORT_JSON_ESCAPE_CONTROLS = 1u << 1,
};

/* id is a full run id (see wl_store_resolve_id). Each export reads the run
 * in one read snapshot of s (wl_store_read_begin), so a run being recorded
 * is written as it was at one moment; s must have no transaction open.
 * Returns 0, a store error, or WL_EIO when writing to out fails; err says
 * what, and on WL_EIO errno is the failed write's (taken when it failed:
 * closing the read it was streaming may change errno). */
int wl_export_run_json(wl_store *s, const char *id, unsigned flags, FILE *out,
                       struct wl_errmsg *err);
int wl_export_run_csv(wl_store *s, const char *id, unsigned flags, FILE *out,
                      struct wl_errmsg *err);

#endif

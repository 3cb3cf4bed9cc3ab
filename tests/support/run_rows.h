/* Rows and runs that the store, summary, export and show tests write
 * through the store API (test_store*.c, test_analysis*.c,
 * test_run_export.c, test_cli_show.c): a domain, component and op row with
 * what a test rarely means preset as unknown, finished runs that fill a few
 * pages of the file, a run stopped between two saves with its decode
 * sections and its token rows out of step, and a summary's aggregates of a
 * finished run built by hand. Test-only code; every helper fails the
 * calling cmocka test on error.
 */
#ifndef WL_TEST_RUN_ROWS_H
#define WL_TEST_RUN_ROWS_H

#include "store/store.h"

#include <stdint.h>

/* A domain row of energy_j and avg_power_w (WL_STORE_UNSET: unknown) by
 * method from source (NULL: none); no baseline, no peak. A test sets the
 * rest it means (row.peak_power_w = 30, ...). */
struct wl_store_domain wl_test_domain_row(enum wl_domain d, enum wl_method method,
                                          const char *source, double energy_j, double avg_power_w);

/* A component row: component `component` (its position in the layer),
 * named name, of token token_index in layer, dur_ms and energy_j; its
 * activation statistics not collected (WL_STORE_UNSET). */
struct wl_store_component_metric wl_test_component_row(int64_t token_index, int32_t layer,
                                                       int32_t component, const char *name,
                                                       double dur_ms, double energy_j);

/* An op row: op `op` (its position in the component), named name, of
 * component `component` in layer of token token_index, dur_ms and
 * energy_j; no attention statistics (WL_STORE_UNSET, no per-head values).
 * A test sets the rest it means (row.n_heads = 2, ...). */
struct wl_store_op_metric wl_test_op_row(int64_t token_index, int32_t layer, int32_t component,
                                         int32_t op, const char *name, double dur_ms,
                                         double energy_j);

/* Writes n finished runs of 20 input and 200 output tokens
 * (wl_test_store_make_run: 1 ms, 1 J), created at WL_TEST_T0_MS + i ms:
 * a file of several pages, for the tests that cut it or fail its reads. */
void wl_test_store_make_filler_runs(wl_store *s, int n);

/* Writes an unfinished run (model "parted", flushed, then abandoned as by
 * a writer that died between two commits) whose decode sections and
 * output token rows stop at different tokens (times in ms from its start):
 *   pre_inference  tokenize   0..100   0.5 J
 *   prefill        layers   100..300   3.0 J  (input tokens 0-2, 1 J each)
 *   decode         token t  from 300, 200 ms each, energies 2.0 2.5 1.5 3.0 4.0
 * with decode sections for the first n_sec output tokens (3, 4, ...) and
 * token rows (same energy and times) for the first n_rows; n_sec and
 * n_rows at most 5. Its id into id (37 bytes). */
void wl_test_store_make_parted_run(wl_store *s, int n_sec, int n_rows, char *id);

/* Aggregates (a summary's input) of a finished inference run built by
 * hand: all zero but energy_j in duration_ms, token counts unknown (-1)
 * and no token in the span (last_token -1). A test adds the phases and
 * tokens it means. */
void wl_test_agg_finished_run(struct wl_store_aggregates *a, double energy_j, double duration_ms);

#endif

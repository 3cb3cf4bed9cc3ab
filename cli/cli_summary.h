/* The summary of one stored run printed as tables (shared by `show` and
 * `run`, so that what `run` prints is exactly what `show` reproduces from
 * the store): header, phases, per-token energy, efficiency, cost and CO2,
 * hardware domains, layers, components and the hottest components.
 * Stateless; writes to stdout.
 */
#ifndef WL_CLI_SUMMARY_H
#define WL_CLI_SUMMARY_H

#include "analysis/summary.h"
#include "store/store.h"

/* max_layers: rows of the layer table (0 = all). Everything printed comes
 * from a and sum (the per-token energy chart from a's output rows), so the
 * tables of a run being recorded are one snapshot of it. */
void wl_cli_print_summary(const struct wl_store_aggregates *a, const struct wl_summary *sum,
                          long max_layers);

#endif

/* Saving a `wattlens measure` result as a run of kind measure in the store:
 * the command, its window (duration, energy and average power per domain
 * with its method, baseline, peaks), one section (phase "measure", name
 * "command") holding the headline energy, every power sample, sampling
 * statistics, and in runs.extra the exit status, signal, stop signal and CPU
 * time.
 *
 * Lives in profile/ because it joins the sampler layer (which must not know
 * the store) and the store. Single-threaded; the store connection is
 * borrowed.
 */
#ifndef WL_PROFILE_MEASURE_STORE_H
#define WL_PROFILE_MEASURE_STORE_H

#include "sampler/measure.h"
#include "store/store.h"
#include "util/errmsg.h"

#include <stdint.h>

struct wl_measure_save {
    char *const *argv;                      /* the command (NULL-terminated) */
    const struct wl_measure_result *result; /* NULL when measuring could not start */
    const char *error;                      /* why it failed (NULL when the command ran) */
    int64_t created_at_ms;                  /* used when result is NULL; 0 = now */
    const char *host_cpu;                   /* optional */
};

/* Writes the run and finishes it: status failed when the command could not be
 * started (exec failed, or no result); cancelled when a stop request
 * (result->stop_signal) came while measuring -- before the command started
 * (then without totals) or while it ran (its window and status are kept);
 * else complete: a command's own non-zero exit or death by a signal is still
 * a complete measurement. runs.extra gets exit_status, signal and
 * stop_signal (null when not applicable) and cpu_time_s. id_out (>= 37
 * bytes) gets the run id. Returns 0 or a WL_E* with a message in err. */
int wl_measure_save_run(wl_store *st, const struct wl_measure_save *p, char *id_out,
                        struct wl_errmsg *err);

#endif

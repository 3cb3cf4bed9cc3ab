/* Saving a `wattlens measure` result as a run of kind measure in the store:
 * the command, its window (duration, energy and average power per domain
 * with its method, baseline, peaks), one section (phase "measure", name
 * "command") holding the headline energy, every power sample, sampling
 * statistics, and in runs.extra the exit status, signal, stop signal, CPU
 * time and the sensor gaps.
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
    int64_t created_at_ms;                  /* the run's creation time; 0 = now */
    const char *host_cpu;                   /* optional */
};

/* The command line argv (NULL-terminated; NULL is an empty command) as one
 * string, as it is stored with the run and as a shell reads it back: an
 * argument that is empty or holds any byte but [A-Za-z0-9_@%+=:,./-] (the
 * command's name: '=' and '%' too) is written in '...', each ' in it as
 * '\''. The bytes are kept (a newline too): escape them before printing.
 * Returns a malloc'd string the caller frees, or NULL when out of memory. */
char *wl_measure_command_line(char *const *argv);

/* Creates the run's row before the command runs (status running; the
 * command line, the host; created_at_ms), so that a database that cannot be
 * written is found before, not after, and a measure killed before
 * wl_measure_finish_run leaves a row that reads incomplete.
 * p->result is not used. *out gets the writer, id_out (>= 37 bytes) the run
 * id. Returns 0 or a WL_E* with a message in err (WL_EBUSY: another writer
 * held the database past the busy timeout; WL_EACCES). */
int wl_measure_begin_run(wl_store *st, const struct wl_measure_save *p, wl_store_run **out,
                         char *id_out, struct wl_errmsg *err);

/* Keeps a measure run's row alive while its command runs, when nothing else
 * is written to it: a reader on another host takes a `running` run without
 * a sign of life for 24 hours as dead (docs/internals/store.md). Call
 * wl_measure_heartbeat_tick often (measure does from its samples callback,
 * on the thread that waits for the command); every interval_ns it stamps
 * the run (wl_store_run_heartbeat), waiting at most wait_ms for another
 * writer's lock so that the wait for the command is not held up, and when
 * that fails it tries again after retry_ns. Zeroed fields take the
 * defaults: 10 min, 1 min, 100 ms. Single-threaded, like the store. */
struct wl_measure_heartbeat {
    wl_store_run *run; /* NULL: nothing to do */
    uint64_t interval_ns, retry_ns;
    int wait_ms;
    uint64_t next_ns;        /* when the next stamp is due; 0: one interval after the first tick */
    unsigned n_ok, n_failed; /* stamps written / given up (for tests and logs) */
};

void wl_measure_heartbeat_tick(struct wl_measure_heartbeat *hb, uint64_t now_ns);

/* Writes p->result into run (from wl_measure_begin_run on st) and finishes
 * it: status failed when the command could not be started (exec failed, or
 * no result); cancelled when a stop request (result->stop_signal) came while
 * measuring -- before the command started (then without totals) or while it
 * ran (its window and status are kept); else complete: a command's own
 * non-zero exit or death by a signal is still a complete measurement.
 * runs.extra gets exit_status, signal and stop_signal (null when not
 * applicable), cpu_time_s, and the sampler's gaps as n_gaps and gaps
 * (profile/run_gaps.h); the sensor provenance is set here. Waits for
 * another writer up to the store's run_wait_ms, or until the store's cancel
 * flag is set (wl_store_set_cancel). Frees run, also on error.
 * Returns 0 or a WL_E* with a message in err; the row then stays as far as
 * it was written: `failed` with the error when that could still be stored;
 * `running` (read as incomplete once this process is gone) after WL_EBUSY
 * (no lock in run_wait_ms), WL_ECANCELED (the wait was stopped) or
 * WL_ENOENT (the row was removed while the command ran). */
/* The headline total of a measured command, as its stored run has it
 * (runs.energy_j, energy_method, energy_scope): the domains
 * wl_headline_choose picks (*mask, *method, scope: "package+dram"), and
 * their window energies summed into the return value; NaN (WL_STORE_UNSET)
 * when the mask is empty or a domain in it has no figure (its sensor
 * failed, or a gap lost it over the whole command): never a partial
 * total. `measure` prints and stores this one figure. */
double wl_measure_headline(const struct wl_measure_result *r, uint16_t *mask,
                           enum wl_method *method, char *scope, size_t scope_size);

int wl_measure_finish_run(wl_store *st, wl_store_run *run, const struct wl_measure_save *p,
                          struct wl_errmsg *err);

#endif

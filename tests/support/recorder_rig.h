/* Test helper for the recorder tests that drive its hooks by hand over a
 * fake powercap package (test_profile_*.c): the temporary folder, the fake
 * writer, the store and its run, and the sensor and recorder parameters
 * they share. The test sets the parameters it means, creates the
 * recorder, and tears the rig down itself (the order differs: one reads
 * the file after the store closed). Test-only code; failures are cmocka
 * assertions.
 */
#ifndef WL_TEST_RECORDER_RIG_H
#define WL_TEST_RECORDER_RIG_H

#include "fake_powercap.h"
#include "profile/recorder.h"
#include "sensors/sensor.h"
#include "store/store.h"

#include <stdint.h>

/* sp: the rapl-powercap backend over the tree at root, no CPU model; rp:
 * the recorder's defaults with depth off, 1 layer, 1 head, 4 input and 4
 * output tokens, sensors sp (which must outlive rp) and run run. */
void wl_test_recorder_powercap_params(struct wl_sensor_params *sp, struct wl_recorder_params *rp,
                                      const char *root, wl_store_run *run);

struct wl_test_recorder_rig {
    char *dir;                   /* a new temporary folder (heap): wl_test_rmtree + free */
    struct wl_fake_powercap *fp; /* its package zone (wl_fake_powercap_stop) */
    char db[1024];               /* dir/runs.db */
    wl_store *st;                /* open on db (wl_store_close) */
    wl_store_run *run;           /* begun: kind inference, depth "off" */
    char id[40];                 /* the run's id */
    struct wl_sensor_params sp;  /* wl_test_recorder_powercap_params over dir */
    struct wl_recorder_params rp;
};

/* Fills r: a new temporary folder with a fake powercap package
 * (intel-rapl:0, package-0, 2^40 uJ range) drawing package_w, its counter
 * written every period_ns; a store at runs.db in it with a run begun; sp
 * and rp as wl_test_recorder_powercap_params over them. r must not move
 * afterwards (rp points at r->sp). */
void wl_test_recorder_rig_open(struct wl_test_recorder_rig *r, double package_w,
                               uint64_t period_ns);

#endif

/* The recorder tests' rig over a fake powercap package (recorder_rig.h).
 * Test-only code; no state.
 */
#include "recorder_rig.h"

#include "test_support.h"
#include "wattlens/error.h"

#include <stdio.h>

void wl_test_recorder_powercap_params(struct wl_sensor_params *sp, struct wl_recorder_params *rp,
                                      const char *root, wl_store_run *run)
{
    wl_sensor_params_default(sp);
    sp->sysfs_root = root;
    sp->backends = WL_BACKEND_RAPL_POWERCAP;
    sp->model_use = WL_MODEL_NEVER;
    wl_recorder_default_params(rp);
    rp->depth = WL_PROFILE_OFF;
    rp->n_layer = 1;
    rp->n_head = 1;
    rp->max_input_tokens = 4;
    rp->max_output_tokens = 4;
    rp->sensors = sp;
    rp->run = run;
}

void wl_test_recorder_rig_open(struct wl_test_recorder_rig *r, double package_w, uint64_t period_ns)
{
    const struct wl_fake_zone z[] = {{"intel-rapl:0", "package-0", package_w, 1ull << 40}};
    r->dir = wl_test_tmpdir();
    assert_non_null(r->dir);
    r->fp = wl_fake_powercap_start(r->dir, z, 1, period_ns);
    assert_non_null(r->fp);
    snprintf(r->db, sizeof r->db, "%s/runs.db", r->dir);
    struct wl_store_params stp;
    wl_store_default_params(&stp);
    stp.path = r->db;
    struct wl_errmsg err = {{0}};
    r->st = NULL;
    assert_int_equal(wl_store_open(&stp, &r->st, &err), 0);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .depth = "off"};
    r->run = NULL;
    assert_int_equal(wl_store_run_begin(r->st, &info, &r->run, r->id), 0);
    wl_test_recorder_powercap_params(&r->sp, &r->rp, r->dir, r->run);
}

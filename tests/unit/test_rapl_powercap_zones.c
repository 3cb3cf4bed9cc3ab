/* rapl_powercap zones in static fake trees (no writer, no timing): which
 * zones become channels and which are listed. The kernel's per-socket psys
 * (psys-N) is a psys channel with its number; a zone of an unknown name is
 * listed in not_read, so the source says PARTIAL instead of dropping it
 * without a word. intel-rapl-tpmi zones are read where they add a channel,
 * never twice. On AMD the core zone (one core) is not summed. A sub-zone is
 * named after its parent zone's name, not its directory's number. */
#include "fake_machine.h"
#include "fake_msr.h"
#include "sensor_open.h"
#include "test_support.h"

#include "sensors/sensor.h"
#include "wattlens/wattlens.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void params_for(struct wl_sensor_params *p, const char *sysfs, const char *proc)
{
    wl_sensor_params_default(p);
    p->sysfs_root = sysfs;
    p->proc_root = proc;
    p->period_probe_ns = 0;
}

static int find_channel(const struct wl_sensor_info *in, const char *name)
{
    for (unsigned i = 0; i < in->n_channels; i++)
        if (strcmp(in->ch[i].name, name) == 0)
            return (int)i;
    return -1;
}

static bool has_note(unsigned n, const char (*notes)[WL_SENSOR_NOTE_MAX], const char *a,
                     const char *b)
{
    for (unsigned i = 0; i < n && i < WL_SENSOR_MAX_NOT_READ; i++)
        if (strstr(notes[i], a) && (!b || strstr(notes[i], b)))
            return true;
    return false;
}

/* Two sockets, each with its psys (the kernel names the second "psys-1"):
 * both are psys channels, numbered, never summed with the packages; the
 * source says the psys total is their sum, not one counter. Before,
 * psys-1 was skipped with a debug line and socket 0's psys stood for the
 * whole machine. */
static void test_second_socket_psys_is_a_psys_channel(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl:1", "package-1", 1000);
    wl_test_put_zone(root, "intel-rapl:2", "psys", 1000);
    wl_test_put_zone(root, "intel-rapl:3", "psys-1", 1000);
    struct wl_sensor_params p;
    params_for(&p, root, root);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 4);
    const int a = find_channel(in, "psys"), b = find_channel(in, "psys-1");
    assert_true(a >= 0 && b >= 0);
    assert_int_equal(in->ch[a].domain, WL_DOMAIN_PSYS);
    assert_int_equal(in->ch[b].domain, WL_DOMAIN_PSYS);
    assert_true(in->ch[b].flags & WL_CH_CONTAINS);
    assert_int_equal(in->ch[a].index, -1);
    assert_int_equal(in->ch[b].index, 1);
    assert_int_equal(in->n_not_read, 0);
    /* their sum is no one measured counter: the source says it is a sum */
    assert_non_null(strstr(in->source, "psys summed over 2 zones"));
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* A zone whose name wattlens does not know is not guessed at, but it is
 * listed: the source says PARTIAL (the docs' "never dropped silently").
 * "psys-" with no number, or with other characters, is not psys-N. */
static void test_unknown_zone_name_is_not_read(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl:0:0", "mystery", 1000);
    wl_test_put_zone(root, "intel-rapl:1", "psys-", 1000);
    wl_test_put_zone(root, "intel-rapl:2", "psys-1x", 1000);
    struct wl_sensor_params p;
    params_for(&p, root, root);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_int_equal(in->n_not_read, 3);
    assert_true(has_note(in->n_not_read, in->not_read, "intel-rapl:0:0", "'mystery'"));
    assert_true(has_note(in->n_not_read, in->not_read, "intel-rapl:1", "'psys-'"));
    assert_true(has_note(in->n_not_read, in->not_read, "intel-rapl:2", "'psys-1x'"));
    assert_non_null(strstr(in->source, "PARTIAL: 3 found but not read"));
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* Kernels whose TPMI RAPL driver registers its own control type show
 * intel-rapl-tpmi:N[:M] zones (Xeon 6 and later); with no intel-rapl zone
 * they were ignored and the backend said "no intel-rapl zone ... modprobe
 * intel_rapl_msr" although the zones were there and readable. */
static void test_tpmi_zones_are_read(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    wl_test_put_zone(root, "intel-rapl-tpmi:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl-tpmi:0:0", "dram", 1000);
    wl_test_put_zone(root, "intel-rapl-tpmi:1", "package-1", 1000);
    struct wl_sensor_params p;
    params_for(&p, root, root);
    wl_sensor *s = wl_test_open_backend(WL_BACKEND_RAPL_POWERCAP, &p);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 3);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_string_equal(in->ch[1].name, "package-0/dram");
    assert_int_equal(in->ch[1].domain, WL_DOMAIN_DRAM);
    assert_string_equal(in->ch[2].name, "package-1");
    assert_int_equal(in->n_not_read, 0);
    assert_non_null(strstr(in->source, "3 zone(s), TPMI"));
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* An MSR psys next to TPMI packages: both are read (the packages vanished
 * before, without a note). Where both drivers show the same domain, the
 * intel-rapl zone is read and the TPMI one listed as not summed: never
 * counted twice; a TPMI sub-zone that adds a domain is read. */
static void test_tpmi_next_to_intel_rapl_adds_but_never_doubles(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    wl_test_put_zone(root, "intel-rapl:0", "psys", 1000);
    wl_test_put_zone(root, "intel-rapl-tpmi:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl-tpmi:0:0", "dram", 1000);
    struct wl_sensor_params p;
    params_for(&p, root, root);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 3);
    assert_true(find_channel(in, "psys") >= 0);
    assert_true(find_channel(in, "package-0") >= 0);
    assert_true(find_channel(in, "package-0/dram") >= 0);
    assert_int_equal(in->n_not_read + in->n_not_summed, 0);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);

    root = wl_test_tmpdir();
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl:0:0", "dram", 1000);
    wl_test_put_zone(root, "intel-rapl-tpmi:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl-tpmi:0:0", "dram", 1000);
    wl_test_put_zone(root, "intel-rapl-tpmi:0:1", "core", 1000);
    params_for(&p, root, root);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 3);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_string_equal(in->ch[1].name, "package-0/dram");
    assert_string_equal(in->ch[2].name, "package-0/core");
    assert_int_equal(in->n_not_read, 0);
    assert_int_equal(in->n_not_summed, 2);
    assert_true(
        has_note(in->n_not_summed, in->not_summed, "intel-rapl-tpmi:0 (package-0)", "same domain"));
    assert_true(
        has_note(in->n_not_summed, in->not_summed, "intel-rapl-tpmi:0:0 (dram)", "same domain"));
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* What an open of rapl-powercap on root saw, from a child process: the
 * counts, the status, and the first not-read note. */
struct open_seen {
    int rc;
    unsigned n_channels, n_not_read, n_not_summed;
};
struct denied_seen {
    struct open_seen o;
    int domain_of_dram; /* 1 when a dram channel was opened */
    char why[384];      /* the status's why (when it failed) */
    char source[384];   /* the sensor's source (when it opened: PARTIAL said here) */
    char fix[1024], note[WL_SENSOR_NOTE_MAX];
};

/* Opens rapl-powercap on root in a child that cannot read a 0000-mode file
 * (uid 65534 when run as root, where mode bits do not stop reads). Returns
 * false when the child cannot become uid 65534 here. */
static bool open_without_root(const char *root, struct denied_seen *seen)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(errno == EPERM || errno == EINVAL ? 5 : 3);
        struct wl_sensor_params p;
        params_for(&p, root, root);
        wl_sensor *s = NULL;
        struct wl_sensor_status st;
        struct denied_seen c;
        memset(&c, 0, sizeof c);
        c.o.rc = wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, &st);
        snprintf(c.why, sizeof c.why, "%s", st.why);
        snprintf(c.fix, sizeof c.fix, "%s", st.fix);
        if (s) {
            const struct wl_sensor_info *in = wl_sensor_get_info(s);
            c.o.n_channels = in->n_channels;
            c.o.n_not_read = in->n_not_read;
            c.o.n_not_summed = in->n_not_summed;
            if (in->n_not_read)
                snprintf(c.note, sizeof c.note, "%s", in->not_read[0]);
            for (unsigned i = 0; i < in->n_channels; i++)
                c.domain_of_dram |= in->ch[i].domain == WL_DOMAIN_DRAM;
            snprintf(c.source, sizeof c.source, "%s", in->source);
        }
        _exit(write(fds[1], &c, sizeof c) == (ssize_t)sizeof c ? 0 : 4);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], seen, sizeof *seen);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 5)
        return false;
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(n, (ssize_t)sizeof *seen);
    return true;
}

/* A TPMI duplicate is found by name before any counter is opened: its
 * energy_uj is never opened. A root-only one (chmod a+r on intel-rapl:*
 * leaves intel-rapl-tpmi:* as it was) failed the whole backend with
 * "permission denied" though every zone read is readable; one with no
 * energy_uj at all was listed as not read (PARTIAL) instead of as the
 * duplicate it is. */
static void test_tpmi_duplicate_counter_is_never_opened(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    assert_int_equal(chmod(root, 0755), 0);
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl-tpmi:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl-tpmi:1", "package-1", 1000);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl-tpmi:1/energy_uj", root);
    assert_int_equal(unlink(path), 0);
    wl_test_put_zone(root, "intel-rapl:1", "package-1", 1000);
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl-tpmi:0/energy_uj", root);
    assert_int_equal(chmod(path, 0), 0);
    struct denied_seen seen;
    if (!open_without_root(root, &seen)) {
        wl_test_rmtree(root);
        free(root);
        wl_test_skip_other_user("cannot become uid 65534 here");
    }
    assert_int_equal(seen.o.rc, 0);
    assert_int_equal(seen.o.n_channels, 2);
    assert_int_equal(seen.o.n_not_read, 0);
    assert_int_equal(seen.o.n_not_summed, 2);
    wl_test_rmtree(root);
    free(root);
}

/* One root-only energy_uj (the dram sub-zone, left by a chmod of the
 * top-level zones only) failed the whole backend with "permission denied":
 * the readable package counters were thrown away for the CPU-time model.
 * Now that zone alone is not read (PARTIAL; dram is unknown, never 0), its
 * note points at the fix, and the status keeps the fix. With no package
 * zone readable, the backend still fails with the fix (rapl-perf is then
 * tried). */
static void test_root_only_sub_zone_leaves_the_package_read(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    assert_int_equal(chmod(root, 0755), 0);
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl:0:0", "core", 1000);
    wl_test_put_zone(root, "intel-rapl:0:1", "dram", 1000);
    wl_test_put_zone(root, "intel-rapl:1", "psys", 1000);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0:1/energy_uj", root);
    assert_int_equal(chmod(path, 0), 0);
    struct denied_seen seen;
    if (!open_without_root(root, &seen)) {
        wl_test_rmtree(root);
        free(root);
        wl_test_skip_other_user("cannot become uid 65534 here");
    }
    assert_int_equal(seen.o.rc, 0);
    assert_int_equal(seen.o.n_channels, 3);
    assert_int_equal(seen.domain_of_dram, 0);
    assert_int_equal(seen.o.n_not_read, 1);
    assert_non_null(strstr(seen.note, "intel-rapl:0:1 (dram)/energy_uj: permission denied"));
    assert_non_null(strstr(seen.note, "CVE-2020-8694"));
    assert_non_null(strstr(seen.source, "PARTIAL"));
    assert_non_null(strstr(seen.fix, "sudo chmod a+r"));
    assert_non_null(strstr(seen.fix, "cap_dac_read_search"));

    /* the package root-only too: no package is measured, so it fails */
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    assert_int_equal(chmod(path, 0), 0);
    assert_true(open_without_root(root, &seen));
    assert_int_equal(seen.o.rc, WL_EACCES);
    assert_non_null(strstr(seen.why, "intel-rapl:0/energy_uj: permission denied"));
    assert_non_null(strstr(seen.fix, "sudo chmod a+r"));
    wl_test_rmtree(root);
    free(root);
}

/* The fix printed for root-only counters named intel-rapl:* and
 * intel-rapl:*:* (and intel-rapl-tpmi:* when a TPMI zone was denied), never
 * intel-rapl-mmio:*, which the backend reads where no intel-rapl zone gives
 * its channel: run as printed, it left that package root-only. It also
 * pasted the sysfs root unquoted. Now it names a glob per control type
 * whose zones were denied (a glob of no match would reach chmod as it is
 * and fail it), with the root as one shell word; run here, as root, it
 * makes every zone readable. */
static void test_permission_fix_covers_every_denied_zone_type(void **state)
{
    (void)state;
    char *top = wl_test_tmpdir();
    assert_int_equal(chmod(top, 0755), 0);
    char root[1024];
    snprintf(root, sizeof root, "%s/it's a tree", top);
    assert_int_equal(mkdir(root, 0755), 0);
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl:0:0", "dram", 1000);
    wl_test_put_zone(root, "intel-rapl-mmio:0", "package-0", 1000); /* intel-rapl:0's */
    wl_test_put_zone(root, "intel-rapl-mmio:1", "package-1", 1000); /* no intel-rapl:1 */
    wl_test_put_zone(root, "intel-rapl-tpmi:2", "package-2", 1000);
    static const char *const zones[] = {"intel-rapl:0", "intel-rapl:0:0", "intel-rapl-mmio:0",
                                        "intel-rapl-mmio:1", "intel-rapl-tpmi:2"};
    char path[2048];
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        snprintf(path, sizeof path, "%s/class/powercap/%s/energy_uj", root, zones[i]);
        assert_int_equal(chmod(path, 0), 0);
    }
    struct denied_seen seen;
    if (!open_without_root(root, &seen)) {
        wl_test_rmtree(top);
        free(top);
        wl_test_skip_other_user("cannot become uid 65534 here");
    }
    assert_int_equal(seen.o.rc, WL_EACCES);
    const char *from = strstr(seen.fix, "until reboot: sudo ");
    assert_non_null(from);
    from += strlen("until reboot: sudo ");
    const char *to = strstr(from, "; or permanently");
    assert_non_null(to);
    assert_non_null(strstr(from, "intel-rapl-mmio:*/energy_uj"));
    assert_null(strstr(from, "intel-rapl:*:*")); /* intel-rapl:* matches the sub-zones */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%.*s", (int)(to - from), from);
    assert_int_equal(system(cmd), 0);
    assert_true(open_without_root(root, &seen));
    assert_int_equal(seen.o.rc, 0);
    assert_int_equal(seen.o.n_not_read, 0);
    assert_int_equal(seen.o.n_channels, 4); /* package-0, its dram, package-1 and -2 */
    assert_string_equal(seen.fix, "");

    /* only the sub-zone denied: one glob, intel-rapl's, and it runs */
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0:0/energy_uj", root);
    assert_int_equal(chmod(path, 0), 0);
    assert_true(open_without_root(root, &seen));
    assert_int_equal(seen.o.rc, 0);
    assert_int_equal(seen.o.n_not_read, 1);
    from = strstr(seen.fix, "until reboot: sudo ");
    assert_non_null(from);
    from += strlen("until reboot: sudo ");
    to = strstr(from, "; or permanently");
    assert_non_null(to);
    snprintf(cmd, sizeof cmd, "%.*s", (int)(to - from), from);
    assert_null(strstr(cmd, "mmio"));
    assert_null(strstr(cmd, "tpmi"));
    assert_int_equal(system(cmd), 0);
    assert_true(open_without_root(root, &seen));
    assert_int_equal(seen.o.n_not_read, 0);
    wl_test_rmtree(top);
    free(top);
}

/* The kernel numbers zones in the order it registers them: with psys as
 * intel-rapl:0, package-0 is intel-rapl:1 and package-1 intel-rapl:2. Their
 * sub-zones are package-0/dram and package-1/dram, after the parent's name,
 * and numbered by it; they were package-1/dram and package-2/dram (package
 * 1's dram under package-0's name). A sub-zone whose parent's name cannot
 * be read is named by the parent's directory, not by a guessed package. */
static void test_sub_zones_are_named_after_their_parent_zone(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    wl_test_put_zone(root, "intel-rapl:0", "psys", 1000);
    wl_test_put_zone(root, "intel-rapl:1", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl:1:0", "dram", 1000);
    wl_test_put_zone(root, "intel-rapl:1:1", "core", 1000);
    wl_test_put_zone(root, "intel-rapl:2", "package-1", 1000);
    wl_test_put_zone(root, "intel-rapl:2:0", "dram", 1000);
    wl_test_put_zone(root, "intel-rapl:3", "package-2", 1000);
    wl_test_put_zone(root, "intel-rapl:3:0", "dram", 1000);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:3/name", root);
    assert_int_equal(unlink(path), 0);
    struct wl_sensor_params p;
    params_for(&p, root, root);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    static const char *const want[] = {
        "psys",      "package-0",      "package-0/dram",   "package-0/core",
        "package-1", "package-1/dram", "intel-rapl:3/dram"};
    static const int index[] = {-1, 0, 0, 0, 1, 1, 3};
    assert_int_equal(in->n_channels, 7);
    for (unsigned i = 0; i < 7; i++)
        assert_string_equal(in->ch[i].name, want[i]);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(in->ch[i].index, index[i]);
    assert_int_equal(in->n_not_read, 1); /* intel-rapl:3's name */
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* No zone at all: the why names both kinds and the fix both drivers, and
 * the kernel from which AMD Zen has zones: 5.11 (intel_rapl_msr's AMD
 * support, "powercap: Add AMD Fam17h RAPL support"), not 5.8, which is
 * when AMD came to the RAPL perf PMU (rapl-perf). */
static void test_no_zone_why_and_fix_name_tpmi(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char d[2048];
    snprintf(d, sizeof d, "%s/class", root);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/class/powercap", root);
    mkdir(d, 0755);
    struct wl_sensor_params p;
    params_for(&p, root, root);
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, &st), WL_ENOTSUP);
    assert_non_null(strstr(st.why, "no intel-rapl, intel-rapl-tpmi or intel-rapl-mmio zone"));
    assert_non_null(strstr(st.fix, "modprobe intel_rapl_msr"));
    assert_non_null(strstr(st.fix, "modprobe intel_rapl_tpmi"));
    assert_non_null(strstr(st.fix, "AMD Zen with Linux 5.11 or later"));
    assert_null(strstr(st.fix, "5.8"));
    wl_test_rmtree(root);
    free(root);
}

/* On AMD the kernel reads the core zone from the per-core register of the
 * package's first CPU: one core's energy, not the cores'. It was shown as
 * "core" next to package, as if it were all cores' share; it is now listed
 * as not summed. On Intel it is the cores' (PP0) and read. The vendor
 * comes from the tree's own devices/system/cpu/modalias, never from
 * another machine's /proc. */
static void test_amd_core_zone_is_one_core_not_summed(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl:0:0", "core", 1000);
    char path[2048];
    snprintf(path, sizeof path, "%s/devices", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/devices/system", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/devices/system/cpu", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/devices/system/cpu/modalias", root);
    /* the kernel's cpu modalias: vendor 2 AMD, 9 Hygon, 0 Intel; none
     * (a tree without it) reads the zone as before */
    static const char *modalias[] = {
        "cpu:type:x86,ven0002fam0019mod0021:feature:,0000,0001\n",
        "cpu:type:x86,ven0009fam0018mod0000:feature:,0000\n",
        "cpu:type:x86,ven0000fam0006mod009E:feature:,0000\n",
        NULL,
    };
    for (int k = 0; k < 4; k++) {
        if (modalias[k])
            assert_int_equal(wl_test_write_file(path, modalias[k], strlen(modalias[k])), 0);
        else
            unlink(path);
        struct wl_sensor_params p;
        params_for(&p, root, root);
        wl_sensor *s = NULL;
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        if (k < 2) {
            assert_int_equal(in->n_channels, 1);
            assert_string_equal(in->ch[0].name, "package-0");
            assert_int_equal(in->n_not_summed, 1);
            assert_true(has_note(in->n_not_summed, in->not_summed, "intel-rapl:0:0 (core)",
                                 "one core's energy"));
            assert_int_equal(in->n_not_read, 0); /* the package total is whole */
        } else {
            assert_int_equal(in->n_channels, 2);
            assert_int_equal(in->ch[1].domain, WL_DOMAIN_CORE);
            assert_int_equal(in->n_not_summed, 0);
        }
        wl_sensor_close(s);
    }
    wl_test_rmtree(root);
    free(root);
}

/* A zone whose energy_uj fails at a read (EIO, garbage) no longer fails
 * the read of every zone: the read succeeds, that zone is not read this
 * time (no energy in valid, its values 0), the others are; once
 * readable it counts on. Only when every zone fails does the read fail. */
static void test_one_failing_zone_leaves_the_others_read(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(root, "intel-rapl:1", "package-1", 1000);
    struct wl_sensor_params p;
    params_for(&p, root, NULL);
    p.backends = WL_BACKEND_RAPL_POWERCAP;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    const int p0 = find_channel(in, "package-0"), p1 = find_channel(in, "package-1");
    assert_true(p0 >= 0 && p1 >= 0);
    struct wl_sensor_reading r;
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 3000);
    wl_test_put_zone(root, "intel-rapl:1", "package-1", 2000);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    char path[2048];
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:1/energy_uj", root);
    assert_int_equal(wl_test_write_file(path, "garbage\n", 8), 0);
    wl_test_put_zone(root, "intel-rapl:0", "package-0", 5000);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.n_channels, 2);
    assert_int_equal(r.v[p0].valid, WL_CH_ENERGY);
    assert_int_equal(r.v[p0].energy_uj, 4000);
    assert_int_equal(r.v[p1].valid, 0);
    assert_int_equal(r.v[p1].energy_uj, 0); /* not read: its values 0 */
    wl_test_put_zone(root, "intel-rapl:1", "package-1", 2500);
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.v[p1].valid, WL_CH_ENERGY);
    assert_int_equal(r.v[p1].energy_uj, 1500);
    /* every zone fails: the read fails */
    assert_int_equal(wl_test_write_file(path, "garbage\n", 8), 0);
    snprintf(path, sizeof path, "%s/class/powercap/intel-rapl:0/energy_uj", root);
    assert_int_equal(wl_test_write_file(path, "garbage\n", 8), 0);
    assert_int_equal(wl_sensor_read(s, &r), WL_ESENSOR);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* A fake MSR device of cpu under dev: the unit register reg holding an
 * ESU (bits 12:8). */
static void put_msr_esu(const char *dev, int cpu, uint32_t reg, unsigned esu)
{
    wl_test_put_msr(dev, cpu, reg, (uint64_t)esu << 8 | 0x3);
}

/* A zone's resolution is its register's energy unit, never the 1 uJ of
 * energy_uj (the sysfs unit: a package counts in 61 uJ on most Intel
 * parts, 15.3 uJ on AMD): from the unit register when the package's MSR
 * device can be read (0x606, AMD 0xC0010299; read once per package,
 * through its first online CPU in the topology, as rapl-msr reads it) by the model's rule, else the
 * units the rule fixes (DRAM 15.3 uJ on Haswell-X .. Ice Lake-X, psys 1 J on Sapphire Rapids), else
 * unknown (0, shown as -). A TPMI zone's unit is in TPMI's own register:
 * unknown, also where mainline names it intel-rapl (a TPMI model). Every
 * channel claimed 1 uJ. */
static void test_resolution_is_the_register_unit_never_the_sysfs_uj(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char sys[1100], proc[1100], dev[1100];
    wl_test_machine_dirs(root, sys, proc, dev, sizeof sys);
    wl_test_put_zone(sys, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(sys, "intel-rapl:0:0", "core", 1000);
    wl_test_put_zone(sys, "intel-rapl:0:1", "dram", 1000);
    wl_test_put_zone(sys, "intel-rapl:1", "package-1", 1000);
    wl_test_put_zone(sys, "intel-rapl:2", "psys", 1000);
    wl_test_put_two_packages(sys); /* cpu0, 1 on package 0; cpu2, 3 on package 1 */
    struct wl_sensor_params p;
    params_for(&p, sys, proc);
    p.dev_root = dev;
    static const char *intel = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n";
    static const struct {
        const char *model;                   /* cpuinfo's model line */
        int esu0, esu1;                      /* the packages' ESUs; -1: no readable MSR device */
        double pkg0, pkg1, core, dram, psys; /* uJ, 0 unknown */
    } cases[] = {
        /* Skylake-X: DRAM 15.3 uJ whatever 0x606 says */
        {"model\t\t: 85\n", -1, -1, 0, 0, 0, 15.3, 0},
        {"model\t\t: 85\n", 14, 14, 1e6 / 16384, 1e6 / 16384, 1e6 / 16384, 15.3, 1e6 / 16384},
        /* each package by its own register */
        {"model\t\t: 85\n", 14, 16, 1e6 / 16384, 1e6 / 65536, 1e6 / 16384, 15.3, 1e6 / 16384},
        /* Sapphire Rapids: psys 1 J */
        {"model\t\t: 143\n", -1, -1, 0, 0, 0, 0, 1e6},
        /* a model the table does not know: package by 0x606, DRAM and psys not known */
        {"model\t\t: 250\n", 14, 14, 1e6 / 16384, 1e6 / 16384, 1e6 / 16384, 0, 0},
        /* Kaby Lake client: every domain 0x606's; ESU 20 is below the 1 uJ of energy_uj */
        {"model\t\t: 158\n", 20, 20, 1, 1, 1, 1, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char text[256];
        snprintf(text, sizeof text, "%s%s\n", intel, cases[k].model);
        wl_test_put_file(proc, "cpuinfo", text);
        wl_test_rmtree(dev);
        mkdir(dev, 0755);
        if (cases[k].esu0 >= 0)
            put_msr_esu(dev, 0, 0x606, (unsigned)cases[k].esu0);
        if (cases[k].esu1 >= 0)
            put_msr_esu(dev, 2, 0x606, (unsigned)cases[k].esu1); /* package 1's first CPU */
        wl_sensor *s = NULL;
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        assert_int_equal(in->n_channels, 5);
        static const char *names[] = {"package-0", "package-0/core", "package-0/dram", "package-1",
                                      "psys"};
        const double want[] = {cases[k].pkg0, cases[k].core, cases[k].dram, cases[k].pkg1,
                               cases[k].psys};
        for (int i = 0; i < 5; i++) {
            const int ci = find_channel(in, names[i]);
            assert_true(ci >= 0);
            fprintf(stderr, "case %zu %s: %g uJ (want %g)\n", k, names[i], in->ch[ci].resolution_uj,
                    want[i]);
            assert_float_equal(in->ch[ci].resolution_uj, want[i], 1e-9);
        }
        wl_sensor_close(s);
    }
    /* AMD: 0xC0010299's ESU, 15.3 uJ at 16 */
    wl_test_put_file(proc, "cpuinfo",
                     "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n\n");
    wl_test_rmtree(dev);
    mkdir(dev, 0755);
    put_msr_esu(dev, 0, 0xC0010299, 16);
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    int ci = find_channel(in, "package-0");
    assert_true(ci >= 0);
    assert_float_equal(in->ch[ci].resolution_uj, 1e6 / 65536, 1e-9);
    ci = find_channel(in, "package-1"); /* no device of its own: not known */
    assert_float_equal(in->ch[ci].resolution_uj, 0, 0);
    wl_sensor_close(s);
    /* no CPU topology (a container's sysfs): one package on CPU 0, as
     * rapl-msr reads it (wl__rapl_package_units), whose ESU is package-0's;
     * listing the CPUs by topology alone finds none, and the unit unknown */
    char rel[1200];
    for (int c = 0; c < 4; c++) {
        snprintf(rel, sizeof rel, "%s/devices/system/cpu/cpu%d", sys, c);
        wl_test_rmtree(rel);
    }
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    in = wl_sensor_get_info(s);
    ci = find_channel(in, "package-0");
    assert_true(ci >= 0);
    assert_float_equal(in->ch[ci].resolution_uj, 1e6 / 65536, 1e-9);
    wl_sensor_close(s);
    /* TPMI: unknown, whatever 0x606 says */
    char *root2 = wl_test_tmpdir();
    wl_test_put_zone(root2, "intel-rapl-tpmi:0", "package-0", 1000);
    wl_test_put_file(root2, "devices/system/cpu/cpu0/topology/physical_package_id", "0\n");
    wl_test_put_intel_cpuinfo(proc, 173);
    put_msr_esu(dev, 0, 0x606, 14);
    params_for(&p, root2, proc);
    p.dev_root = dev;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_float_equal(in->ch[0].resolution_uj, 0, 0);
    wl_sensor_close(s);
    /* mainline's intel_rapl_tpmi registers its zones as intel-rapl:N: on
     * a TPMI model (Granite Rapids, 173) their unit is not 0x606's either */
    char zdir[1200];
    snprintf(zdir, sizeof zdir, "%s/class/powercap/intel-rapl-tpmi:0", root2);
    wl_test_rmtree(zdir);
    wl_test_put_zone(root2, "intel-rapl:0", "package-0", 1000);
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_string_equal(in->ch[0].name, "package-0");
    assert_float_equal(in->ch[0].resolution_uj, 0, 0);
    wl_sensor_close(s);
    wl_test_rmtree(root2);
    free(root2);
    wl_test_rmtree(root);
    free(root);
}

/* A package's unit register is read through another of its CPUs when
 * the first one's MSR device cannot be read (no cpu/0/msr: a node not
 * made, a device that does not open). Package 0's first CPU is cpu0,
 * whose device is missing; cpu1's holds the ESU. Before, the unit was
 * read through cpu0 alone and package-0's resolution was unknown. */
static void test_resolution_read_through_another_cpu_of_the_package(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char sys[1100], proc[1100], dev[1100];
    wl_test_machine_dirs(root, sys, proc, dev, sizeof sys);
    wl_test_put_zone(sys, "intel-rapl:0", "package-0", 1000);
    wl_test_put_zone(sys, "intel-rapl:1", "package-1", 1000);
    wl_test_put_two_packages(sys); /* cpu0, 1 on package 0; cpu2, 3 on package 1 */
    wl_test_put_intel_cpuinfo(proc, 85);
    put_msr_esu(dev, 1, 0x606, 14); /* package 0: not cpu0, cpu1 */
    put_msr_esu(dev, 3, 0x606, 16); /* package 1: its second CPU; never package 0's */
    struct wl_sensor_params p;
    params_for(&p, sys, proc);
    p.dev_root = dev;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    int ci = find_channel(in, "package-0");
    assert_true(ci >= 0);
    assert_float_equal(in->ch[ci].resolution_uj, 1e6 / 16384, 1e-9);
    ci = find_channel(in, "package-1");
    assert_true(ci >= 0);
    assert_float_equal(in->ch[ci].resolution_uj, 1e6 / 65536, 1e-9);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* A sysfs root given without a /dev root is another machine's tree (or a
 * test's): the packages' unit registers are read from the dev/ beside it
 * (<dir>/dev for <dir>/sys, as its /proc is <dir>/proc), never from the
 * host's /dev; with no dev/ beside it the units are not known, as on a
 * host without the msr driver. */
static void test_sysfs_tree_without_dev_root_reads_the_dev_beside_it(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    char sys[1100], proc[1100], dev[1100];
    wl_test_machine_dirs(root, sys, proc, dev, sizeof sys);
    wl_test_put_zone(sys, "intel-rapl:0", "package-0", 1000);
    wl_test_put_file(sys, "devices/system/cpu/cpu0/topology/physical_package_id", "0\n");
    wl_test_put_intel_cpuinfo(proc, 158);
    put_msr_esu(dev, 0, 0x606, 14);
    unsetenv("WATTLENS_DEV_ROOT");
    struct wl_sensor_params p;
    params_for(&p, sys, proc);
    p.dev_root = NULL;
    for (int beside = 1; beside >= 0; beside--) {
        if (!beside)
            wl_test_rmtree(dev);
        wl_sensor *s = NULL;
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_RAPL_POWERCAP, &p, &s, NULL), 0);
        const struct wl_sensor_info *in = wl_sensor_get_info(s);
        const int ci = find_channel(in, "package-0");
        assert_true(ci >= 0);
        assert_float_equal(in->ch[ci].resolution_uj, beside ? 1e6 / 16384 : 0, 1e-9);
        wl_sensor_close(s);
    }
    wl_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_socket_psys_is_a_psys_channel),
        cmocka_unit_test(test_unknown_zone_name_is_not_read),
        cmocka_unit_test(test_tpmi_zones_are_read),
        cmocka_unit_test(test_tpmi_next_to_intel_rapl_adds_but_never_doubles),
        cmocka_unit_test(test_tpmi_duplicate_counter_is_never_opened),
        cmocka_unit_test(test_root_only_sub_zone_leaves_the_package_read),
        cmocka_unit_test(test_permission_fix_covers_every_denied_zone_type),
        cmocka_unit_test(test_no_zone_why_and_fix_name_tpmi),
        cmocka_unit_test(test_amd_core_zone_is_one_core_not_summed),
        cmocka_unit_test(test_sub_zones_are_named_after_their_parent_zone),
        cmocka_unit_test(test_one_failing_zone_leaves_the_others_read),
        cmocka_unit_test(test_resolution_is_the_register_unit_never_the_sysfs_uj),
        cmocka_unit_test(test_resolution_read_through_another_cpu_of_the_package),
        cmocka_unit_test(test_sysfs_tree_without_dev_root_reads_the_dev_beside_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

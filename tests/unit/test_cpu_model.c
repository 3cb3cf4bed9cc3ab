/* cpu_model: the documented linear model (idle W + W per busy core) over CPU
 * time from a fake /proc: whole system from /proc/stat, or a process tree
 * (found through children links or a full scan), monotonic when a descendant
 * leaves the tree; always labelled model_estimate. Plus a real run on this
 * process's own tree, and the SELF scope (the process clock) on this process,
 * which counts a thread running on another CPU up to the read. A long
 * multibyte /proc root is cut between characters in the source; one longer
 * than the model can hold is an error. */
#define _GNU_SOURCE /* CPU affinity */
#include "sensor_open.h"
#include "test_support.h"

#include "sensors/sensor.h"
#include "util/clock.h"
#include "util/utf8.h"
#include "wattlens/wattlens.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void put(const char *root, const char *rel, const char *text)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    assert_int_equal(wl_test_write_file(path, text, strlen(text)), 0);
}

/* /proc/PID/stat with the given ppid and utime/stime/cutime/cstime ticks. */
static void put_stat(const char *root, int pid, int ppid, int ut, int st, int cut, int cst)
{
    char rel[64], text[512];
    snprintf(rel, sizeof rel, "%d", pid);
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    mkdir(path, 0755);
    snprintf(rel, sizeof rel, "%d/stat", pid);
    snprintf(text, sizeof text,
             "%d (a (b) c) S %d %d %d 0 -1 4194560 100 0 0 0 %d %d %d %d 20 0 1 0 12345 1000 "
             "200\n",
             pid, ppid, pid, pid, ut, st, cut, cst);
    put(root, rel, text);
}

static void put_children(const char *root, int pid, const char *kids)
{
    char rel[128], path[2048];
    snprintf(path, sizeof path, "%s/%d/task", root, pid);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%d/task/%d", root, pid, pid);
    mkdir(path, 0755);
    snprintf(rel, sizeof rel, "%d/task/%d/children", pid, pid);
    put(root, rel, kids);
}

static double energy_j(wl_sensor *s, uint64_t *t_after)
{
    struct wl_sensor_reading r;
    assert_int_equal(wl_sensor_read(s, &r), 0);
    assert_int_equal(r.n_channels, 1);
    assert_true(r.v[0].valid & WL_CH_ENERGY);
    if (t_after)
        *t_after = r.t_after_ns;
    return (double)r.v[0].energy_uj / 1e6;
}

/* Sleeps until cpu_s seconds of CPU time fit under the model's bound of
 * n_cpus per second of wall time since its last read (a read sooner
 * gives only what fits, and carries the rest: test_never_above_ceiling),
 * with a margin; n_cpus 0: this machine's online CPUs (the tree scope's). */
static void wait_for_room(double cpu_s, unsigned n_cpus)
{
    if (n_cpus == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_cpus = n > 0 ? (unsigned)n : 1;
    }
    wl_clock_sleep_ns((uint64_t)(cpu_s / n_cpus * 1e9) + 20000000ull);
}

/* A /proc/stat of n_cpus CPUs with total busy ticks busy (user) and idle
 * ticks idle, into text. */
static void stat_text(char *text, size_t size, long busy, long idle, unsigned n_cpus)
{
    size_t len = (size_t)snprintf(text, size, "cpu  %ld 0 0 %ld 0 0 0 0 0 0\n", busy, idle);
    for (unsigned i = 0; i < n_cpus && len < size; i++)
        len += (size_t)snprintf(text + len, size - len, "cpu%u 0 0 0 0 0 0 0 0 0 0\n", i);
}

static void params_for(struct wl_sensor_params *p, const char *proc)
{
    wl_sensor_params_default(p);
    p->proc_root = proc;
    p->model.idle_w = 10.0;
    p->model.busy_core_w = 7.5;
    p->period_probe_ns = 0;
}

static void test_system_scope_follows_proc_stat(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    long tck = sysconf(_SC_CLK_TCK);
    /* 16 CPUs (its cpuN lines): 2 s of CPU time fit in 125 ms */
    char text[1024];
    stat_text(text, sizeof text, 158, 100000, 16); /* as busy as the line below, less 2 s */
    put(root, "stat", text);
    struct wl_sensor_params p;
    params_for(&p, root);
    p.model.scope = WL_MODEL_SCOPE_SYSTEM;
    uint64_t t_before = wl_clock_now_ns();
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->n_channels, 1);
    assert_int_equal(in->ch[0].method, WL_METHOD_MODEL_ESTIMATE);
    assert_int_equal(in->ch[0].domain, WL_DOMAIN_PACKAGE);
    assert_non_null(strstr(in->source, "10.00 W idle + 7.50 W per busy core"));
    /* busy = user+nice+system+irq+softirq; idle, iowait and steal (2 s of
     * another tenant's time: counted, the estimate went to its ceiling,
     * well above 15 J) do not count, nor guest (inside user) */
    snprintf(text, sizeof text, "cpu  %ld 5 50 200000 900 1 2 %ld 7 0\n", 100 + 2 * tck,
             3 + 2 * tck);
    put(root, "stat", text);
    wait_for_room(2.0, 16);
    uint64_t t_after;
    double e = energy_j(s, &t_after);
    double wall_max = (double)(t_after - t_before) / 1e9;
    /* 2 s of CPU at 7.5 W plus idle power for the (short) wall time */
    assert_true(e >= 15.0 && e <= 15.0 + 10.0 * wall_max + 1e-6);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

/* The /proc scopes count CPU time in whole clock ticks: a reading can
 * rise by more than every CPU could have run since the last one (a tick
 * cut, a reaped child seen at once). The estimate never goes above its own
 * ceiling (idle_w + busy_core_w x n_cpus) between two reads: the CPU time
 * used rises at most n_cpus per second, the rest is carried and given
 * later. Here 0.5 s of CPU appears at once on 2 CPUs (the cpuN lines of
 * the system's stat; the tree follows this machine's online CPUs). */
static void never_above_ceiling(enum wl_model_scope scope)
{
    char *root = wl_test_tmpdir();
    const long tck = sysconf(_SC_CLK_TCK);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    const unsigned n_cpus =
        scope == WL_MODEL_SCOPE_SYSTEM ? 2 : (unsigned)(online > 0 ? online : 1);
    char text[1024];
    stat_text(text, sizeof text, 100, 100000, 2);
    put(root, "stat", text);
    put_stat(root, 100, 1, 10, 0, 0, 0);
    struct wl_sensor_params p;
    params_for(&p, root);
    p.model.scope = scope;
    p.model.pid = 100;
    p.model.idle_w = 0; /* the CPU part alone: 7.5 W per busy core */
    uint64_t t_open = wl_clock_now_ns();
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, NULL), 0);
    if (scope == WL_MODEL_SCOPE_SYSTEM)
        stat_text(text, sizeof text, 100 + tck / 2, 100000, 2);
    else
        put_stat(root, 100, 1, 10 + (int)tck / 2, 0, 0, 0);
    put(root, "stat", text);
    /* reads back to back: each rise is at most 7.5 W x n_cpus over the
     * time between them (from the start of one read's bracket to the end
     * of the next's: the time it uses lies inside) */
    double e_prev = 0;
    uint64_t t_prev = t_open;
    for (int i = 0; i < 5; i++) {
        struct wl_sensor_reading r;
        assert_int_equal(wl_sensor_read(s, &r), 0);
        const double e = (double)r.v[0].energy_uj / 1e6;
        const double bound = 7.5 * n_cpus * (double)(r.t_after_ns - t_prev) / 1e9;
        if (!(e - e_prev <= bound + 2e-6))
            fail_msg("read %d: %.6f J more in %.6f s, above the ceiling's %.6f J", i, e - e_prev,
                     (double)(r.t_after_ns - t_prev) / 1e9, bound);
        e_prev = e;
        t_prev = r.t_before_ns;
    }
    /* once every CPU could have run it, all of it is counted */
    wait_for_room(0.5, n_cpus);
    assert_float_equal(energy_j(s, NULL), 3.75, 1e-6);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

static void test_system_scope_never_above_ceiling(void **state)
{
    (void)state;
    never_above_ceiling(WL_MODEL_SCOPE_SYSTEM);
}

static void test_tree_scope_never_above_ceiling(void **state)
{
    (void)state;
    never_above_ceiling(WL_MODEL_SCOPE_TREE);
}

static void tree_case(int use_children)
{
    char *root = wl_test_tmpdir();
    long tck = sysconf(_SC_CLK_TCK);
    put(root, "stat", "cpu  1 1 1 1 1 1 1 1 0 0\n");
    put_stat(root, 100, 1, 10, 5, 0, 0);
    put_stat(root, 101, 100, 20, 0, 3, 0);
    put_stat(root, 102, 101, 0, 0, 0, 0);
    put_stat(root, 200, 1, 500, 500, 0, 0); /* not in the tree */
    if (use_children) {
        /* the model checks for this process's own children file to pick the mode */
        put_stat(root, (int)getpid(), 1, 0, 0, 0, 0);
        put_children(root, (int)getpid(), "");
        put_children(root, 100, "101 ");
        put_children(root, 101, "102");
        put_children(root, 102, "");
        put_children(root, 200, "");
    }
    struct wl_sensor_params p;
    params_for(&p, root);
    p.model.scope = WL_MODEL_SCOPE_TREE;
    p.model.pid = 100;
    p.model.idle_w = 0; /* isolate the CPU part */
    struct wl_sensor_status st;
    wl_sensor *s = wl_test_open_backend(WL_BACKEND_CPU_MODEL, &p);
    assert_non_null(
        strstr(wl_sensor_get_info(s)->source, use_children ? "children links" : "full /proc scan"));
    assert_float_equal(energy_j(s, NULL), 0, 1e-9);
    /* the grandchild uses 1 s of CPU; the unrelated process 10 s */
    put_stat(root, 102, 101, (int)tck, 0, 0, 0);
    put_stat(root, 200, 1, 500 + 10 * (int)tck, 500, 0, 0);
    wait_for_room(1.0, 0);
    assert_float_equal(energy_j(s, NULL), 7.5, 1e-6);
    /* the grandchild is reaped by its parent: its time moves to cutime */
    put_stat(root, 101, 100, 20, 0, 3 + (int)tck, 0);
    char path[2048];
    snprintf(path, sizeof path, "%s/102", root);
    wl_test_rmtree(path);
    if (use_children)
        put_children(root, 101, "");
    assert_float_equal(energy_j(s, NULL), 7.5, 1e-6);
    /* a descendant re-parented away takes its time along: never counted backwards */
    put_stat(root, 101, 1, 20, 0, 3 + (int)tck, 0);
    if (use_children)
        put_children(root, 100, "");
    assert_float_equal(energy_j(s, NULL), 7.5, 1e-6);
    wl_sensor_close(s);
    /* a process that does not exist */
    p.model.pid = 4242;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, &st), WL_ENOENT);
    assert_non_null(strstr(st.why, "cannot read the CPU time of process 4242"));
    wl_test_rmtree(root);
    free(root);
}

/* The source quotes the /proc root: a long multibyte one is cut between
 * characters and ends "...", and "/stat)" stays after it. Each pad puts the
 * cut in another place in the "é"s. */
static void test_long_multibyte_proc_root_is_cut_between_characters(void **state)
{
    (void)state;
    char *tmp = wl_test_tmpdir();
    for (int pad = 0; pad < 2; pad++) {
        char *root = wl_test_mkdir_multibyte(tmp, pad, 1);
        assert_non_null(root);
        put(root, "stat", "cpu  100 5 50 100000 7 1 2 3 0 0\n");
        struct wl_sensor_params p;
        params_for(&p, root);
        p.model.scope = WL_MODEL_SCOPE_SYSTEM;
        wl_sensor *s = NULL;
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, NULL), 0);
        const char *src = wl_sensor_get_info(s)->source;
        assert_true(wl_utf8_valid(src, strlen(src)));
        const char *tail = ".../stat)";
        assert_true(strlen(src) > strlen(tail) &&
                    strcmp(src + strlen(src) - strlen(tail), tail) == 0);
        wl_sensor_close(s);
        free(root);
    }
    wl_test_rmtree(tmp);
    free(tmp);
}

/* A /proc root longer than the model's 511 bytes is an error that says
 * so. Cut, it would name another directory: here the cut is exactly a
 * directory with a /proc/stat of its own, which must not be read. */
static void test_too_long_proc_root_is_an_error(void **state)
{
    (void)state;
    char *tmp = wl_test_tmpdir();
    char cut[600], root[700];
    size_t n = (size_t)snprintf(cut, sizeof cut, "%s", tmp);
    while (n < 511) { /* directories of up to 200 bytes until the cut is 511 long */
        size_t part = 511 - n - 1 < 200 ? 511 - n - 1 : 200;
        cut[n++] = '/';
        memset(cut + n, part < 200 ? 'c' : 'p', part);
        n += part;
        cut[n] = '\0';
        assert_int_equal(mkdir(cut, 0755), 0);
    }
    assert_int_equal(strlen(cut), 511);
    put(cut, "stat", "cpu  1 1 1 1 1 1 1 1 0 0\n");
    snprintf(root, sizeof root, "%s/proc", cut);
    assert_int_equal(mkdir(root, 0755), 0);
    put(root, "stat", "cpu  100 5 50 100000 7 1 2 3 0 0\n");
    struct wl_sensor_params p;
    params_for(&p, root);
    p.model.scope = WL_MODEL_SCOPE_SYSTEM;
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, &st), WL_ERANGE);
    assert_null(s);
    assert_non_null(strstr(st.why, "516 bytes long, more than the 511"));
    assert_non_null(strstr(st.fix, "WATTLENS_PROC_ROOT"));
    /* one byte shorter fits and is used as it is */
    p.proc_root = cut;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, &st), 0);
    wl_sensor_close(s);
    wl_test_rmtree(tmp);
    free(tmp);
}

/* An unreadable /proc/stat is reported with its real cause (old: every
 * failure to read it said "input/output error"). */
static void test_unreadable_proc_stat_says_why(void **state)
{
    (void)state;
    static const struct {
        const char *kind, *why;
    } cases[] = {
        {"missing", "(No such file or directory)"},
        {"fifo", "(a FIFO, not a regular file)"},
        {"empty", "(its first line is not 'cpu' and its tick counts)"},
        {"other", "(its first line is not 'cpu' and its tick counts)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *root = wl_test_tmpdir();
        char path[1024];
        snprintf(path, sizeof path, "%s/stat", root);
        if (strcmp(cases[i].kind, "fifo") == 0)
            assert_int_equal(mkfifo(path, 0644), 0);
        else if (strcmp(cases[i].kind, "empty") == 0)
            put(root, "stat", "");
        else if (strcmp(cases[i].kind, "other") == 0)
            put(root, "stat", "intr 1 2 3\n");
        struct wl_sensor_params p;
        params_for(&p, root);
        p.model.scope = WL_MODEL_SCOPE_SYSTEM;
        wl_sensor *s = NULL;
        struct wl_sensor_status st;
        assert_true(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, &st) < 0);
        assert_null(s);
        if (!strstr(st.why, cases[i].why))
            fail_msg("%s: %s", cases[i].kind, st.why);
        assert_null(strstr(st.why, "input/output error"));
        wl_test_rmtree(root);
        free(root);
    }
}

static void test_tree_scope_by_scan(void **state)
{
    (void)state;
    tree_case(0);
}

static void test_tree_scope_by_children_links(void **state)
{
    (void)state;
    tree_case(1);
}

/* A children list longer than a page is read whole: 900 children take
 * 6300 bytes, and the last one's CPU time counts (a list cut at 4 KiB
 * would drop it, or end in part of its pid: another process). */
static void test_tree_scope_long_children_list(void **state)
{
    (void)state;
    char *root = wl_test_tmpdir();
    long tck = sysconf(_SC_CLK_TCK);
    put(root, "stat", "cpu  1 1 1 1 1 1 1 1 0 0\n");
    put_stat(root, (int)getpid(), 1, 0, 0, 0, 0);
    put_children(root, (int)getpid(), "");
    put_stat(root, 100, 1, 0, 0, 0, 0);
    enum { N_KIDS = 900 };
    char *kids = malloc(N_KIDS * 7 + 1);
    assert_non_null(kids);
    size_t len = 0;
    for (int i = 0; i < N_KIDS; i++) {
        put_stat(root, 100000 + i, 100, 1, 0, 0, 0);
        len += (size_t)sprintf(kids + len, "%d ", 100000 + i);
    }
    assert_true(len > 4096);
    put_children(root, 100, kids);
    free(kids);
    struct wl_sensor_params p;
    params_for(&p, root);
    p.model.scope = WL_MODEL_SCOPE_TREE;
    p.model.pid = 100;
    p.model.idle_w = 0;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, NULL), 0);
    assert_non_null(strstr(wl_sensor_get_info(s)->source, "children links"));
    assert_float_equal(energy_j(s, NULL), 0, 1e-9);
    /* the last child uses 1 s of CPU */
    put_stat(root, 100000 + N_KIDS - 1, 100, 1 + (int)tck, 0, 0, 0);
    wait_for_room(1.0, 0);
    assert_float_equal(energy_j(s, NULL), 7.5, 1e-6);
    wl_sensor_close(s);
    wl_test_rmtree(root);
    free(root);
}

static void test_own_tree_on_real_proc(void **state)
{
    (void)state;
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.model.scope = WL_MODEL_SCOPE_TREE;
    p.model.pid = 0; /* this process */
    p.model.idle_w = 10.0;
    p.model.busy_core_w = 7.5;
    wl_sensor *s = NULL;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, NULL), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_true(in->update_period_ns > 0); /* CPU-time accounting granularity */
    uint64_t t0;
    double e0 = energy_j(s, &t0);
    uint64_t c0 = wl_clock_process_cpu_ns();
    volatile uint64_t x = 0;
    while (wl_clock_process_cpu_ns() - c0 < 300000000ull)
        x += 1;
    uint64_t t1;
    double e1 = energy_j(s, &t1);
    double wall = (double)(t1 - t0) / 1e9;
    double cpu = (double)(wl_clock_process_cpu_ns() - c0) / 1e9;
    /* /proc CPU time is in clock ticks: allow two ticks of slack */
    double tick = 1.0 / (double)sysconf(_SC_CLK_TCK);
    double want = 10.0 * wall + 7.5 * cpu;
    if (e1 - e0 < want - 7.5 * 2 * tick || e1 - e0 > want + 7.5 * 2 * tick) {
        fprintf(stderr, "model energy %.4f J, expected %.4f J (wall %.3f s, cpu %.3f s)\n", e1 - e0,
                want, wall, cpu);
        fail();
    }
    wl_sensor_close(s);
}

static void *spin_thread(void *arg)
{
    const uint64_t want_ns = *(const uint64_t *)arg;
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    volatile uint64_t x = 0;
    do {
        x += 1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    } while ((uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec -
                 (uint64_t)a.tv_nsec <
             want_ns);
    return NULL;
}

static double rusage_cpu_s(int who)
{
    struct rusage ru;
    assert_int_equal(getrusage(who, &ru), 0);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Scope SELF: the CPU time of every thread of this process (checked against
 * getrusage, an independent reading of the same accounting), at sub-tick
 * resolution, and not the time of a waited-for child (unlike TREE). */
static void test_self_scope_counts_threads_not_children(void **state)
{
    (void)state;
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.model.scope = WL_MODEL_SCOPE_SELF;
    p.model.idle_w = 10.0;
    p.model.busy_core_w = 7.5;
    p.proc_root = "/nonexistent"; /* never read for this scope */
    wl_sensor *s = NULL;
    struct wl_sensor_status st;
    assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, &st), 0);
    const struct wl_sensor_info *in = wl_sensor_get_info(s);
    assert_int_equal(in->ch[0].method, WL_METHOD_MODEL_ESTIMATE);
    assert_non_null(strstr(in->source, "CLOCK_PROCESS_CPUTIME_ID"));
    /* far finer than one clock tick (7.5 W x 10 ms = 75 mJ) */
    assert_true(in->ch[0].resolution_uj > 0 && in->ch[0].resolution_uj < 1000);
    uint64_t t0;
    double e0 = energy_j(s, &t0);
    double c0 = rusage_cpu_s(RUSAGE_SELF);
    /* 60 ms on a second thread, 40 ms on this one */
    uint64_t thread_ns = 60000000ull, self_ns = 40000000ull;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, spin_thread, &thread_ns), 0);
    spin_thread(&self_ns);
    assert_int_equal(pthread_join(th, NULL), 0);
    /* a child that burns 50 ms and is waited for: not this process's time */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t child_ns = 50000000ull;
        spin_thread(&child_ns);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(rusage_cpu_s(RUSAGE_CHILDREN) >= 0.05);
    double c1 = rusage_cpu_s(RUSAGE_SELF);
    uint64_t t1;
    double e1 = energy_j(s, &t1);
    double wall = (double)(t1 - t0) / 1e9, cpu = c1 - c0;
    assert_true(cpu >= 0.1);
    /* getrusage has microsecond resolution and is read just inside the sensor
     * reads: allow 1 ms of CPU time either way (7.5 mJ), far below a tick */
    double want = 10.0 * wall + 7.5 * cpu;
    if (fabs((e1 - e0) - want) > 7.5 * 0.001 + 10.0 * 0.001) {
        fprintf(stderr, "model energy %.5f J, expected %.5f J (wall %.4f s, cpu %.4f s)\n", e1 - e0,
                want, wall, cpu);
        fail();
    }
    wl_sensor_close(s);
}

/* A thread that spins without a system call, so the kernel accounts its run
 * time only at its CPU's ticks (or when something asks for it). */
struct busy {
    atomic_int stop;
    int cpu;
};

static void *busy_thread(void *arg)
{
    struct busy *b = arg;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(b->cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed))
        ;
    return NULL;
}

static uint64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(c, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Scope SELF: a thread busy on another CPU is counted up to each read, not
 * up to that CPU's last scheduler tick (a plain read of the process clock
 * lags by up to a tick, 4 ms at HZ=250). With 0 W idle and 1 W per core the
 * model's energy in uJ is the CPU time in us. The busy thread's own clock,
 * read just after the model (reading it is what accounts it), bounds it:
 * above (plus this thread's own CPU time), and below less the wall time
 * since the read began. A thread started before the sensor was opened is
 * counted by plain and settled reads; one started after it, by a settled
 * read at once (a plain one re-lists the threads only every 10 ms). */
static void check_busy_thread_counted(bool start_after_open)
{
    cpu_set_t saved, one;
    assert_int_equal(sched_getaffinity(0, sizeof saved, &saved), 0);
    int a = -1, b = -1;
    for (int c = 0; c < CPU_SETSIZE && b < 0; c++)
        if (CPU_ISSET(c, &saved)) {
            if (a < 0)
                a = c;
            else
                b = c;
        }
    if (b < 0)
        skip(); /* one CPU: threads take turns, and a switch accounts exactly */
    CPU_ZERO(&one);
    CPU_SET(a, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    p.model.scope = WL_MODEL_SCOPE_SELF;
    p.model.idle_w = 0.0;
    p.model.busy_core_w = 1.0;
    p.period_probe_ns = 0;
    wl_sensor *s = NULL;
    struct busy bz = {.cpu = b};
    pthread_t th;
    clockid_t th_clock;
    uint64_t th0_lo = 0, th0_hi = 0; /* a new thread's clock starts at 0 */
    const uint64_t me0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (start_after_open)
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, NULL), 0);
    assert_int_equal(pthread_create(&th, NULL, busy_thread, &bz), 0);
    assert_int_equal(pthread_getcpuclockid(th, &th_clock), 0);
    if (!start_after_open) {
        wl_clock_sleep_ns(5000000);
        th0_lo = clock_ns(th_clock);
        assert_int_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, NULL), 0);
        th0_hi = clock_ns(th_clock);
    }
    int bad = 0;
    const int n = start_after_open ? 1 : 20;
    for (int i = 0; i < n; i++) {
        wl_clock_sleep_ns(3000000 + 173000ull * (uint64_t)i); /* not in step with the tick */
        const uint64_t w0 = wl_clock_now_ns();
        struct wl_sensor_reading r;
        /* no assert before the thread is stopped and the affinity restored */
        const int rc =
            start_after_open || i % 2 ? wl_sensor_read_settled(s, &r) : wl_sensor_read(s, &r);
        if (rc != 0) {
            bad++;
            continue;
        }
        const uint64_t t_th = clock_ns(th_clock), me = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        const uint64_t w = wl_clock_now_ns() - w0; /* it ran at most this long since */
        /* uJ to ns; 1 us of rounding either way */
        const double got = (double)r.v[0].energy_uj * 1e3;
        const double lo = (double)(t_th - th0_hi) - (double)w - 1e3;
        const double hi = (double)(t_th - th0_lo) + (double)(me - me0) + 1e3;
        if (got < lo || got > hi) {
            fprintf(stderr, "read %d: model CPU time %.3f ms, busy thread %.3f..%.3f ms\n", i,
                    got / 1e6, lo / 1e6, hi / 1e6);
            bad++;
        }
    }
    atomic_store(&bz.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(sched_setaffinity(0, sizeof saved, &saved), 0);
    wl_sensor_close(s);
    assert_int_equal(bad, 0);
}

static void test_self_scope_counts_other_cpus_up_to_the_read(void **state)
{
    (void)state;
    check_busy_thread_counted(false);
}

static void test_self_scope_settled_read_counts_a_new_thread(void **state)
{
    (void)state;
    check_busy_thread_counted(true);
}

/* WATTLENS_MODEL_IDLE_W / _BUSY_CORE_W: a decimal number from 0 to 10000 is
 * taken, as measure --model-idle-w / --model-core-w take it; anything else
 * (NaN, inf, negative, hex, blanks, a '+', above 10000, not a number) leaves
 * the default. */
static void test_model_watts_from_environment(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        double idle;
    } cases[] = {{"12.5", 12.5},
                 {"0", 0.0},
                 {"nan", WL_MODEL_DEFAULT_IDLE_W},
                 {"-nan", WL_MODEL_DEFAULT_IDLE_W},
                 {"inf", WL_MODEL_DEFAULT_IDLE_W},
                 {"-5", WL_MODEL_DEFAULT_IDLE_W},
                 {"1e9", WL_MODEL_DEFAULT_IDLE_W},
                 {"abc", WL_MODEL_DEFAULT_IDLE_W},
                 {"1e3", 1000.0},
                 {".5", 0.5},
                 {"10000", 10000.0},
                 {"10000.5", WL_MODEL_DEFAULT_IDLE_W},
                 {"50000", WL_MODEL_DEFAULT_IDLE_W},
                 {"0x1p6", WL_MODEL_DEFAULT_IDLE_W},
                 {" 0x1p6", WL_MODEL_DEFAULT_IDLE_W},
                 {" 12", WL_MODEL_DEFAULT_IDLE_W},
                 {"12 ", WL_MODEL_DEFAULT_IDLE_W},
                 {"+12", WL_MODEL_DEFAULT_IDLE_W},
                 {"infinity", WL_MODEL_DEFAULT_IDLE_W},
                 {"", WL_MODEL_DEFAULT_IDLE_W}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(setenv("WATTLENS_MODEL_IDLE_W", cases[i].v, 1), 0);
        assert_int_equal(setenv("WATTLENS_MODEL_BUSY_CORE_W", cases[i].v, 1), 0);
        struct wl_sensor_params p;
        wl_sensor_params_default(&p);
        const double busy =
            cases[i].idle == WL_MODEL_DEFAULT_IDLE_W ? WL_MODEL_DEFAULT_BUSY_CORE_W : cases[i].idle;
        if (!(p.model.idle_w == cases[i].idle && p.model.busy_core_w == busy))
            fail_msg("'%s': idle %g busy %g", cases[i].v, p.model.idle_w, p.model.busy_core_w);
    }
    unsetenv("WATTLENS_MODEL_IDLE_W");
    unsetenv("WATTLENS_MODEL_BUSY_CORE_W");
}

/* /proc files that are FIFOs (stat, a children list) hang nothing: the
 * model cannot open (system scope) or falls back (tree scope) at once.
 * SIGALRM's default action ends the test (a failure) instead of a hang. */
static void test_proc_fifos_do_not_hang(void **state)
{
    (void)state;
    alarm(20);
    char *root = wl_test_tmpdir();
    char path[2048];
    snprintf(path, sizeof path, "%s/stat", root);
    assert_int_equal(mkfifo(path, 0644), 0);
    struct wl_sensor_params p;
    params_for(&p, root);
    p.model.scope = WL_MODEL_SCOPE_SYSTEM;
    wl_sensor *s = NULL;
    assert_int_not_equal(wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, NULL), 0);

    put_stat(root, 100, 1, 10, 10, 0, 0);
    put_children(root, 100, "");
    snprintf(path, sizeof path, "%s/100/task/100/children", root);
    unlink(path);
    assert_int_equal(mkfifo(path, 0644), 0);
    p.model.scope = WL_MODEL_SCOPE_TREE;
    p.model.pid = 100;
    if (wl_sensor_open_backend(WL_BACKEND_CPU_MODEL, &p, &s, NULL) == 0) {
        struct wl_sensor_reading r;
        wl_sensor_read(s, &r); /* returns, whatever it says */
        wl_sensor_close(s);
    }
    wl_test_rmtree(root);
    free(root);
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_watts_from_environment),
        cmocka_unit_test(test_proc_fifos_do_not_hang),
        cmocka_unit_test(test_system_scope_follows_proc_stat),
        cmocka_unit_test(test_system_scope_never_above_ceiling),
        cmocka_unit_test(test_tree_scope_never_above_ceiling),
        cmocka_unit_test(test_long_multibyte_proc_root_is_cut_between_characters),
        cmocka_unit_test(test_too_long_proc_root_is_an_error),
        cmocka_unit_test(test_tree_scope_by_scan),
        cmocka_unit_test(test_tree_scope_by_children_links),
        cmocka_unit_test(test_tree_scope_long_children_list),
        cmocka_unit_test(test_own_tree_on_real_proc),
        cmocka_unit_test(test_unreadable_proc_stat_says_why),
        cmocka_unit_test(test_self_scope_counts_threads_not_children),
        cmocka_unit_test(test_self_scope_counts_other_cpus_up_to_the_read),
        cmocka_unit_test(test_self_scope_settled_read_counts_a_new_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

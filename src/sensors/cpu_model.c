/* The CPU-time power model: an estimate, never a measurement.
 *
 *   P = idle_w + busy_core_w * busy_cores,   busy_cores = d(CPU time) / d(wall time)
 *
 * CPU time comes from /proc: either the whole system (busy jiffies of
 * /proc/stat) or a process tree (utime+stime+cutime+cstime of the root and all
 * live descendants, found through /proc/PID/task/TID/children, or a full /proc
 * scan when that file does not exist); or, for this process alone (scope
 * SELF), from clock_gettime(CLOCK_PROCESS_CPUTIME_ID): the same quantity as
 * the process's utime+stime (the kernel derives those from the same runtime)
 * at nanosecond instead of clock-tick resolution, for one syscall (~0.6 us)
 * plus one clock read per thread of the process (~0.2-0.4 us each; see
 * account_threads) instead of a /proc walk (tens of microseconds) -- what
 * makes per-section marks in the profiler affordable. The tree total is kept monotonic: a
 * descendant re-parented away from the tree takes its time with it, so the largest total seen is
 * used. The single channel is labelled model_estimate. Energy since open = idle_w * wall +
 * busy_core_w * cpu, in microjoules, wall up to the middle of the read's bracket (the time
 * the sampler gives the sample). In the /proc scopes (SYSTEM, TREE) the CPU time is in clock
 * ticks, cut to whole ticks per CPU or per process, and a child never seen by the walk shows
 * up whole when it is reaped: a reading may rise by more than n_cpus x the wall time since
 * the last one, which would put the estimate above its own ceiling (idle_w + busy_core_w x
 * n_cpus). So the CPU time used rises at most n_cpus per second of wall time; the excess is
 * carried into the next reads (see limit_cpu).
 */
#include "sensors/sensor_impl.h"
#include "sensors/sensor_parse.h"

#include "util/clock.h"
#include "util/log.h"
#include "util/proc_stat.h"
#include "util/read_all.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MODEL_MAX_TREE 4096

struct cpu_model {
    struct wl_cpu_model_params mp;
    char proc[512];
    long clk_tck;
    bool use_children;  /* /proc/PID/task/TID/children exists */
    int stat_err;       /* why /proc/stat last failed to read (wl__attr_strerror), 0 if it did */
    uint64_t t0_ns;
    uint64_t cpu0_ns;            /* CPU time at open */
    uint64_t cpu_max_ns;         /* largest CPU time seen (the tree total stays monotonic) */
    uint64_t cpu_used_ns;        /* the CPU time the energy uses: cpu_max_ns, or less while
                                    limit_cpu carries an excess (SYSTEM, TREE) */
    uint64_t t_used_ns;          /* the time cpu_used_ns was last set (t0_ns at open) */
    unsigned n_cpus;             /* the CPUs whose time can be counted (limit_cpu) */
    pid_t *tids; /* SELF: this process's threads (listed at open and by settled reads) */
    size_t n_tids;
    pid_t stack[MODEL_MAX_TREE]; /* tree walk work list */
    /* full-scan fallback: (pid, ppid, ticks), grown on demand */
    struct proc_ent {
        pid_t pid, ppid;
        uint64_t ticks;
    } * ents;
    size_t n_ents, cap_ents;
};

/* Reads /proc/PID/stat: ppid and utime+stime+cutime+cstime (clock ticks). */
static int read_pid_stat(const char *proc, pid_t pid, pid_t *ppid, uint64_t *ticks)
{
    char path[600], buf[1024];
    snprintf(path, sizeof path, "%s/%d/stat", proc, (int)pid);
    int n = wl__read_text(path, buf, sizeof buf);
    if (n <= 0)
        return n < 0 ? n : WL_EFORMAT;
    struct wl__proc_stat st;
    int rc = wl__proc_stat_parse(buf, &st);
    if (rc != 0)
        return rc;
    *ppid = st.ppid;
    *ticks = st.cpu_ticks;
    return 0;
}

/* The whole system's CPU ticks from /proc/stat; *err as wl__read_text_err
 * (0 when the file was read: empty, or its cpu line did not parse). */
static int read_system_ticks(const char *proc, uint64_t *ticks, int *err)
{
    char path[600], buf[512];
    snprintf(path, sizeof path, "%s/stat", proc);
    *err = 0;
    int n = wl__read_text_err(path, buf, sizeof buf, err);
    if (n < 0)
        return n;
    if (n == 0)
        return WL_EFORMAT;
    return wl__proc_parse_stat_cpu(buf, ticks);
}

/* The whole of a small procfs file, NUL-terminated, into a heap buffer
 * (*out; NULL on error). procfs reports no size, so it is read until
 * end of file: a children list has no length limit, and one cut at a fixed
 * buffer would end in part of a pid (another process). */
static int read_all(const char *path, char **out)
{
    *out = NULL;
    int fd = wl__attr_open(path, false, NULL); /* a regular file: a FIFO cannot hang */
    if (fd < 0)
        return fd;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        const int e = errno;
        close(fd);
        return wl_error_from_errno(e);
    }
    size_t n;
    int rc = wl_read_stream(f, 4096, SIZE_MAX, out, &n);
    fclose(f);
    return rc ? wl_error_from_errno(rc) : 0;
}

/* Adds the children of pid (all its threads) to the work list. */
static void push_children(struct cpu_model *m, pid_t pid, unsigned *top)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%d/task", m->proc, (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "%s/%d/task/%s/children", m->proc, (int)pid, e->d_name);
        char *text;
        if (read_all(path, &text) != 0)
            continue;
        /* a malformed list adds no one (the whole tree is never guessed) */
        int n = wl__proc_parse_pids(text, m->stack + *top, MODEL_MAX_TREE - *top);
        free(text);
        if (n > 0)
            *top += (unsigned)n < MODEL_MAX_TREE - *top ? (unsigned)n : MODEL_MAX_TREE - *top;
    }
    closedir(d);
}

static int tree_ticks_children(struct cpu_model *m, uint64_t *out)
{
    unsigned top = 0;
    uint64_t sum = 0;
    int found_root = 0;
    m->stack[top++] = m->mp.pid;
    while (top > 0) {
        pid_t pid = m->stack[--top];
        pid_t ppid;
        uint64_t t;
        if (read_pid_stat(m->proc, pid, &ppid, &t) != 0)
            continue; /* exited between listing and reading */
        if (pid == m->mp.pid)
            found_root = 1;
        sum += t;
        push_children(m, pid, &top);
    }
    if (!found_root)
        return WL_ENOENT;
    *out = sum;
    return 0;
}

static int tree_ticks_scan(struct cpu_model *m, uint64_t *out)
{
    DIR *d = opendir(m->proc);
    if (!d)
        return WL_EIO;
    m->n_ents = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (m->n_ents == m->cap_ents) {
            size_t cap = m->cap_ents ? m->cap_ents * 2 : 1024;
            struct proc_ent *ne = realloc(m->ents, cap * sizeof *ne);
            if (!ne) {
                closedir(d);
                return WL_ENOMEM;
            }
            m->ents = ne;
            m->cap_ents = cap;
        }
        struct proc_ent *pe = &m->ents[m->n_ents];
        pe->pid = (pid_t)atoi(e->d_name);
        if (read_pid_stat(m->proc, pe->pid, &pe->ppid, &pe->ticks) == 0)
            m->n_ents++;
    }
    closedir(d);
    /* descendants: repeat marking until no change (trees are shallow) */
    uint64_t sum = 0;
    int found_root = 0;
    unsigned top = 0;
    m->stack[top++] = m->mp.pid;
    for (unsigned i = 0; i < top; i++) {
        for (size_t k = 0; k < m->n_ents; k++) {
            if (m->ents[k].pid == m->stack[i]) {
                sum += m->ents[k].ticks;
                if (i == 0)
                    found_root = 1;
            }
            if (m->ents[k].ppid == m->stack[i] && top < MODEL_MAX_TREE)
                m->stack[top++] = m->ents[k].pid;
        }
    }
    if (!found_root)
        return WL_ENOENT;
    *out = sum;
    return 0;
}

static int self_cpu_ns(uint64_t *out)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return WL_EIO;
    *out = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    return 0;
}

/* The CPU clock of thread tid of this process: the kernel's encoding of a
 * per-thread CPUCLOCK_SCHED clock id (the one glibc's pthread_getcpuclockid
 * builds, ~tid << 3 | CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED; Linux ABI). */
static clockid_t thread_cpu_clock(pid_t tid)
{
    return (clockid_t)(((unsigned)~tid << 3) | 4u | 2u);
}

/* Scope SELF: CLOCK_PROCESS_CPUTIME_ID adds the reading thread's pending
 * run time, but that of another thread running on another CPU only at that
 * CPU's next scheduler tick or context switch (the kernel skips it to keep
 * the syscall cheap; 4 ms at HZ=250). Reading that thread's own clock does
 * account its pending time (the kernel locks its run queue and updates it:
 * ~0.4 us, ~0.2 us for a thread that is not running), so every read of the
 * model first reads the clock of each thread it knows of, which makes the
 * process clock exact for the read that follows. The thread list comes from
 * /proc/self/task (~10-20 us): at open, and again at every settled read
 * (the sampler thread's ticks), never in a plain read. Errors (a thread that
 * has exited since) are ignored. */

/* This process's threads into a new array (*out, *n; NULL when /proc cannot
 * be read or out of memory). */
static void list_threads(pid_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    /* the real process's threads, whatever the proc root: the clocks read
     * are this process's real ones */
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    size_t cap = 0;
    pid_t *v = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            pid_t *nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                break;
            v = nv;
            cap = nc;
        }
        v[(*n)++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    *out = v;
}

/* Reads every known thread's clock (under the sensor's lock). */
static void account_threads(struct cpu_model *m)
{
    for (size_t i = 0; i < m->n_tids; i++) {
        struct timespec ts;
        (void)clock_gettime(thread_cpu_clock(m->tids[i]), &ts);
    }
}

/* At open: the first list, and a warning when it is of no use: the tids in
 * /proc/self/task must be this process's (not so when /proc belongs to
 * another PID namespace), or every clock read fails and the model lags. */
static void open_thread_list(struct cpu_model *m)
{
    list_threads(&m->tids, &m->n_tids);
    const pid_t self = (pid_t)syscall(SYS_gettid);
    bool found = false;
    for (size_t i = 0; i < m->n_tids && !found; i++)
        found = m->tids[i] == self;
    if (!found)
        wl_log_warn("cpu-model",
                    "this thread (%d) is not in /proc/self/task (a /proc of another PID "
                    "namespace?): other threads' CPU time is counted only up to their "
                    "CPU's last scheduler tick",
                    (int)self);
    account_threads(m);
}

/* Lists the threads without the sensor's lock (a mark on the engine thread
 * never waits for the listing) and swaps the new list in under it. */
static void model_settle(struct wl_sensor *s)
{
    struct cpu_model *m = s->impl;
    if (m->mp.scope != WL_MODEL_SCOPE_SELF)
        return;
    pid_t *v;
    size_t n;
    list_threads(&v, &n);
    if (!v)
        return;
    pthread_mutex_lock(&s->lock);
    pid_t *old = m->tids;
    m->tids = v;
    m->n_tids = n;
    pthread_mutex_unlock(&s->lock);
    free(old);
}

/* CPU time of the followed scope, in nanoseconds. */
static int model_cpu_ns(struct cpu_model *m, uint64_t *out)
{
    if (m->mp.scope == WL_MODEL_SCOPE_SELF)
        return self_cpu_ns(out);
    uint64_t ticks;
    int rc;
    if (m->mp.scope == WL_MODEL_SCOPE_SYSTEM)
        rc = read_system_ticks(m->proc, &ticks, &m->stat_err);
    else
        rc = m->use_children ? tree_ticks_children(m, &ticks) : tree_ticks_scan(m, &ticks);
    if (rc == 0)
        *out = ticks / (uint64_t)m->clk_tck * 1000000000ull +
               ticks % (uint64_t)m->clk_tck * 1000000000ull / (uint64_t)m->clk_tck;
    return rc;
}

/* The CPUs of the /proc root's stat (its cpuN lines: another machine's
 * under WATTLENS_PROC_ROOT), else this machine's online ones; at least 1. */
static unsigned count_cpus(const struct cpu_model *m)
{
    unsigned n = 0;
    char path[600], *text;
    snprintf(path, sizeof path, "%s/stat", m->proc);
    if (m->mp.scope == WL_MODEL_SCOPE_SYSTEM && read_all(path, &text) == 0) {
        for (const char *l = text; l;) {
            if (strncmp(l, "cpu", 3) == 0 && l[3] >= '0' && l[3] <= '9')
                n++;
            l = strchr(l, '\n');
            l = l ? l + 1 : NULL;
        }
        free(text);
    }
    if (n == 0) {
        const long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (unsigned)online : 1;
    }
    return n;
}

/* The CPU time the energy at time t uses (SYSTEM, TREE): cpu_max_ns, but
 * risen by at most n_cpus x (t - t_used_ns) since the last read, since no
 * more CPU time can have been spent. What a tick's cut or a reaped child
 * adds beyond that is carried, and given in the next reads as far as that
 * bound allows: no window of the estimate is above its ceiling, a total
 * keeps what was carried (a window ending at the carry's read leaves out
 * at most about a tick per CPU plus what a reap added at once). */
static uint64_t limit_cpu(struct cpu_model *m, uint64_t t)
{
    if (m->mp.scope == WL_MODEL_SCOPE_SELF || t <= m->t_used_ns) {
        /* SELF: the process clock at ns, accounted per thread (exact) */
        if (m->mp.scope == WL_MODEL_SCOPE_SELF)
            m->cpu_used_ns = m->cpu_max_ns;
        return m->cpu_used_ns;
    }
    const uint64_t room = (t - m->t_used_ns) * (uint64_t)m->n_cpus;
    const uint64_t want = m->cpu_max_ns - m->cpu_used_ns;
    m->cpu_used_ns += want < room ? want : room;
    m->t_used_ns = t;
    return m->cpu_used_ns;
}

static void model_close(struct wl_sensor *s)
{
    struct cpu_model *m = s->impl;
    if (m) {
        free(m->ents);
        free(m->tids);
        free(m);
    }
    s->impl = NULL;
}

static int model_open(struct wl_sensor *s, const struct wl_sensor_params *p,
                      struct wl_sensor_status *st)
{
    if (!(p->model.idle_w >= 0) || !(p->model.busy_core_w >= 0))
        return wl__sensor_fail(st, WL_EINVAL, "pass idle and per-core watts >= 0",
                               "invalid model parameters (idle %g W, %g W per busy core)",
                               p->model.idle_w, p->model.busy_core_w);
    struct cpu_model *m = calloc(1, sizeof *m);
    if (!m)
        return WL_ENOMEM;
    s->impl = m;
    m->mp = p->model;
    if (m->mp.scope == WL_MODEL_SCOPE_TREE && m->mp.pid <= 0)
        m->mp.pid = getpid();
    const char *proc = wl__sensor_proc_root(p);
    size_t proc_len = strlen(proc);
    if (proc_len >= sizeof m->proc) {
        /* cut, it would name another directory: say so instead */
        model_close(s);
        char proc_part[151];
        wl_utf8_clip(proc_part, sizeof proc_part, proc);
        return wl__sensor_fail(st, WL_ERANGE,
                               "give a /proc root (WATTLENS_PROC_ROOT) of at most 511 bytes",
                               "the /proc root %s is %zu bytes long, more than the %zu this model "
                               "can use",
                               proc_part, proc_len, sizeof m->proc - 1);
    }
    memcpy(m->proc, proc, proc_len + 1);
    m->clk_tck = sysconf(_SC_CLK_TCK);
    if (m->clk_tck <= 0)
        m->clk_tck = 100;
    char path[700];
    snprintf(path, sizeof path, "%s/%d/task/%d/children", m->proc, (int)getpid(), (int)getpid());
    m->use_children = access(path, R_OK) == 0;
    if (m->mp.scope == WL_MODEL_SCOPE_SELF)
        open_thread_list(m);
    uint64_t cpu_ns;
    int rc = model_cpu_ns(m, &cpu_ns);
    if (rc != 0) {
        const int stat_err = m->stat_err; /* m goes with the close */
        model_close(s);
        if (p->model.scope == WL_MODEL_SCOPE_SELF)
            return wl__sensor_fail(st, rc, "", "cannot read this process's CPU-time clock (%s)",
                                   wl_strerror(rc));
        if (p->model.scope == WL_MODEL_SCOPE_TREE)
            return wl__sensor_fail(st, rc, "check that the process exists and /proc is mounted",
                                   "cannot read the CPU time of process %d under %s (%s)",
                                   (int)p->model.pid, wl__sensor_proc_root(p), wl_strerror(rc));
        return wl__sensor_fail(st, rc, "mount procfs on /proc (Linux)", "cannot read %s/stat (%s)",
                               wl__sensor_proc_root(p),
                               stat_err ? wl__attr_strerror(stat_err)
                               : rc == WL_EFORMAT
                                   ? "its first line is not 'cpu' and its tick counts"
                                   : wl_strerror(rc));
    }
    m->t0_ns = m->t_used_ns = wl_clock_now_ns();
    m->cpu0_ns = m->cpu_max_ns = m->cpu_used_ns = cpu_ns;
    m->n_cpus = count_cpus(m);
    int ci = wl__sensor_add_channel(s, "cpu", WL_DOMAIN_PACKAGE, WL_METHOD_MODEL_ESTIMATE,
                                    WL_CH_ENERGY, -1);
    snprintf(s->info.ch[ci].label, sizeof s->info.ch[ci].label, "CPU-time model");
    s->info.ch[ci].resolution_uj = m->mp.busy_core_w * 1e6 / (double)m->clk_tck;
    if (m->mp.scope == WL_MODEL_SCOPE_SELF) {
        struct timespec res;
        if (clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res) == 0)
            s->info.ch[ci].resolution_uj =
                m->mp.busy_core_w * ((double)res.tv_sec * 1e6 + (double)res.tv_nsec / 1e3);
        wl__sensor_set_source(
            s,
            "model: %.2f W idle + %.2f W per busy core; CPU time of this process, %d "
            "(CLOCK_PROCESS_CPUTIME_ID; no descendants)",
            m->mp.idle_w, m->mp.busy_core_w, (int)getpid());
    } else if (m->mp.scope == WL_MODEL_SCOPE_TREE)
        wl__sensor_set_source(
            s,
            "model: %.2f W idle + %.2f W per busy core; CPU time of process %d and its "
            "descendants (%s)",
            m->mp.idle_w, m->mp.busy_core_w, (int)m->mp.pid,
            m->use_children ? "children links" : "full /proc scan");
    else {
        char proc_part[151]; /* the root is any bytes: cut between characters */
        wl_utf8_clip(proc_part, sizeof proc_part, m->proc);
        wl__sensor_set_source(
            s, "model: %.2f W idle + %.2f W per busy core; whole-system CPU time (%s/stat)",
            m->mp.idle_w, m->mp.busy_core_w, proc_part);
    }
    return 0;
}

static int model_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    struct cpu_model *m = s->impl;
    account_threads(m); /* SELF: before the read's bracket, whose middle stands for it */
    r->t_before_ns = wl_clock_now_ns();
    uint64_t cpu_ns;
    int rc = model_cpu_ns(m, &cpu_ns);
    r->t_after_ns = wl_clock_now_ns();
    if (rc != 0)
        return WL_ESENSOR;
    if (cpu_ns > m->cpu_max_ns)
        m->cpu_max_ns = cpu_ns;
    /* the sample's time: the middle of the bracket, where the sampler puts it */
    const uint64_t t = r->t_before_ns / 2 + r->t_after_ns / 2;
    double wall_s = t > m->t0_ns ? (double)(t - m->t0_ns) / 1e9 : 0;
    double cpu_s = (double)(limit_cpu(m, t) - m->cpu0_ns) / 1e9;
    double energy_j = m->mp.idle_w * wall_s + m->mp.busy_core_w * cpu_s;
    r->n_channels = 1;
    r->v[0].energy_uj = (uint64_t)(energy_j * 1e6 + 0.5);
    r->v[0].power_w = 0;
    r->v[0].valid = WL_CH_ENERGY;
    return 0;
}

/* The model's update period is the granularity of CPU-time accounting: read
 * this process's own CPU time (from /proc, or the process clock for scope
 * SELF) while spinning on it and average the intervals between changes (the
 * read loop itself consumes the CPU time). */
static void model_measure_period(struct wl_sensor *s, const struct wl_sensor_params *p)
{
    struct cpu_model *m = s->impl;
    uint64_t budget = p->period_probe_ns;
    if (budget == 0)
        return;
    if (m->mp.scope == WL_MODEL_SCOPE_SELF) {
        /* the process CPU clock advances continuously: its period is the
         * interval between distinct readings while this thread runs */
        uint64_t first = wl_clock_process_cpu_ns(), last = first, t0 = wl_clock_now_ns();
        int changes = 0;
        while (changes < 100 && wl_clock_now_ns() - t0 < budget) {
            uint64_t c = wl_clock_process_cpu_ns();
            if (c != last) {
                changes++;
                last = c;
            }
        }
        if (changes > 0) {
            s->info.update_period_ns = (wl_clock_now_ns() - t0) / (uint64_t)changes;
            s->info.period_measured = true;
        }
        return;
    }
    if (budget < 35000000ull)
        budget = 35000000ull; /* at least three 10 ms ticks */
    uint64_t t_end = wl_clock_now_ns() + budget, t_first = 0, t_last = 0, last = 0;
    int changes = 0, have = 0;
    while (wl_clock_now_ns() < t_end && changes < 5) {
        pid_t ppid;
        uint64_t t;
        /* scope SELF returned above: this is /proc's tick-granular count */
        if (read_pid_stat(m->proc, getpid(), &ppid, &t) != 0)
            return;
        if (have && t != last) {
            uint64_t now = wl_clock_now_ns();
            if (changes == 0)
                t_first = now;
            t_last = now;
            changes++;
        }
        last = t;
        have = 1;
    }
    if (changes >= 2) {
        s->info.update_period_ns = (t_last - t_first) / (uint64_t)(changes - 1);
        s->info.period_measured = true;
    } else {
        s->info.update_period_ns = 1000000000ull / (uint64_t)m->clk_tck;
        s->info.period_measured = false;
    }
}

const struct wl_sensor_ops wl__cpu_model_ops = {
    .name = "cpu-model",
    .what = "CPU-time power model (an estimate, not a measurement)",
    .bit = WL_BACKEND_CPU_MODEL,
    .open = model_open,
    .read = model_read,
    .close = model_close,
    .measure_period = model_measure_period,
    .settle = model_settle,
};

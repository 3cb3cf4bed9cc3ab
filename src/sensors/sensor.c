/* Sensor registry and shared backend helpers.
 *
 * wl_sensor_set_open() tries the backends in a fixed order: the three RAPL
 * readers are alternatives (powercap, else perf, else MSR: they read the same
 * hardware counters, so at most one is used), NVML, powermetrics and hwmon are
 * added when present, and the CPU-time model is added when no CPU energy source
 * works (or when asked). Every backend not used gets a status with why and fix.
 * After a backend opens, each channel's update period is measured (bounded
 * time), and the sensor's is the one they share.
 */
#include "sensors/sensor_impl.h"
#include "sensors/sensor_parse.h"

#include "util/clock.h"
#include "util/log.h"
#include "util/parse_num.h"
#include "util/proc_root.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct wl_sensor_set {
    unsigned n_sensors;
    wl_sensor *sensors[8];
    unsigned n_status;
    struct wl_sensor_status status[8];
};

static const struct wl_sensor_ops *const wl__backends[] = {
    &wl__rapl_powercap_ops, &wl__rapl_perf_ops, &wl__rapl_msr_ops,  &wl__nvml_ops,
    &wl__powermetrics_ops,  &wl__hwmon_ops,     &wl__cpu_model_ops,
};
#define WL_N_BACKENDS (sizeof wl__backends / sizeof wl__backends[0])

static double env_double(const char *name, double def)
{
    const char *v = getenv(name);
    double d;
    if (!v || !*v)
        return def;
    if (wl__sensor_parse_watts(v, &d) != 0) {
        wl_log_warn("sensors", "ignoring %s='%s' (expected watts, a decimal number from 0 to %g)",
                    name, v, WL_MODEL_MAX_W);
        return def;
    }
    return d;
}

void wl_sensor_params_default(struct wl_sensor_params *p)
{
    memset(p, 0, sizeof *p);
    p->powermetrics_interval_ms = 100;
    p->backends = WL_BACKEND_ALL;
    p->model_use = WL_MODEL_AUTO;
    p->model.idle_w = env_double("WATTLENS_MODEL_IDLE_W", WL_MODEL_DEFAULT_IDLE_W);
    p->model.busy_core_w = env_double("WATTLENS_MODEL_BUSY_CORE_W", WL_MODEL_DEFAULT_BUSY_CORE_W);
    p->model.scope = WL_MODEL_SCOPE_SYSTEM;
    p->period_probe_ns = 25000000ull;
}

const char *wl__sensor_sysfs_root(const struct wl_sensor_params *p)
{
    return wl_root_pick(p->sysfs_root, "WATTLENS_SYSFS_ROOT", "/sys");
}

/* The sysfs root when one is given (another machine's tree, or a test's),
 * else NULL: the host's. */
static const char *sysfs_given(const struct wl_sensor_params *p)
{
    return wl_root_pick(p->sysfs_root, "WATTLENS_SYSFS_ROOT", NULL);
}

int wl__sensor_dev_root(const struct wl_sensor_params *p, char *buf, size_t size, bool *beside)
{
    bool b;
    const int rc = wl_root_beside(p->dev_root, "WATTLENS_DEV_ROOT", "/dev", sysfs_given(p), "dev",
                                  buf, size, &b);
    if (beside)
        *beside = b;
    return rc;
}

const char *wl__sensor_proc_root(const struct wl_sensor_params *p)
{
    return wl_proc_root(p->proc_root);
}

int wl__sensor_fail(struct wl_sensor_status *st, int code, const char *fix, const char *fmt, ...)
{
    if (st) {
        va_list ap;
        va_start(ap, fmt);
        wl_utf8_vformat(st->why, sizeof st->why, fmt, ap); /* a long path: cut between characters */
        va_end(ap);
        snprintf(st->fix, sizeof st->fix, "%s", fix ? fix : "");
        st->code = code;
        st->available = false;
    }
    return code;
}

/* info.source from source_base and the current counts */
static void render_source(struct wl_sensor *s)
{
    /* a partial sensor says so at the end, in room kept for it, so that no
     * cut of a long path can drop it: the source goes into every record of
     * a run's sensors */
    char suffix[96] = "";
    size_t n = 0;
    if (s->info.n_not_read)
        n = (size_t)snprintf(suffix, sizeof suffix, " - PARTIAL: %u found but not read",
                             s->info.n_not_read);
    if (s->info.n_not_summed && n < sizeof suffix)
        snprintf(suffix + n, sizeof suffix - n, " - %u not summed", s->info.n_not_summed);
    wl_utf8_clip(s->info.source, sizeof s->info.source - strlen(suffix), s->source_base);
    strcat(s->info.source, suffix);
}

void wl__sensor_set_source(struct wl_sensor *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wl_utf8_vformat(s->source_base, sizeof s->source_base, fmt, ap);
    va_end(ap);
    render_source(s);
}

void wl__sensor_drop_channel(struct wl_sensor *s, unsigned ci)
{
    for (unsigned i = ci; i + 1 < s->info.n_channels; i++)
        s->info.ch[i] = s->info.ch[i + 1];
    s->info.n_channels--;
}

int wl__attr_open(const char *path, bool allow_device, int *err)
{
    int e = 0;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer, and
     * reading it for data; on a regular file it changes nothing */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        if (err)
            *err = e;
        return wl_error_from_errno(e);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        e = errno;
        close(fd);
        if (err)
            *err = e;
        return wl_error_from_errno(e);
    }
    if (S_ISREG(sb.st_mode) || (allow_device && S_ISCHR(sb.st_mode)))
        return fd;
    close(fd);
    if (S_ISDIR(sb.st_mode)) {
        if (err)
            *err = EISDIR;
        return wl_error_from_errno(EISDIR);
    }
    if (err)
        *err = WL__ERR_NOT_REGULAR - (int)(sb.st_mode & S_IFMT);
    return WL_EFORMAT;
}

const char *wl__attr_strerror(int err)
{
    if (err > 0)
        return strerror(err);
    if (err == 0)
        return "not a decimal number";
    switch ((mode_t)(WL__ERR_NOT_REGULAR - err)) {
    case S_IFIFO:
        return "a FIFO, not a regular file";
    case S_IFSOCK:
        return "a socket, not a regular file";
    case S_IFCHR:
        return "a character device, not a regular file";
    case S_IFBLK:
        return "a block device, not a regular file";
    default:
        return "not a regular file";
    }
}

int wl__read_text_err(const char *path, char *buf, size_t size, int *err)
{
    int fd = wl__attr_open(path, false, err);
    if (fd < 0)
        return fd;
    ssize_t n = read(fd, buf, size - 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        if (err)
            *err = e;
        return wl_error_from_errno(e);
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return (int)n;
}

int wl__read_text(const char *path, char *buf, size_t size)
{
    return wl__read_text_err(path, buf, size, NULL);
}

int wl__read_name_err(const char *path, char *buf, size_t size, int *err)
{
    /* A sysfs attribute is at most a page, so the whole text is read and the
     * cut made on it: reading straight into buf would end it wherever the
     * buffer does, possibly inside a character. */
    char page[4096];
    int n = wl__read_text_err(path, page, sizeof page, err);
    if (n < 0)
        return n;
    wl_utf8_copy(buf, size, page);
    return (int)strlen(buf);
}

int wl__read_name(const char *path, char *buf, size_t size)
{
    return wl__read_name_err(path, buf, size, NULL);
}

int wl__read_u64_err(const char *path, uint64_t *out, int *err)
{
    int fd = wl__attr_open(path, false, err);
    if (fd < 0)
        return fd;
    int rc = wl__pread_u64_err(fd, out, err);
    close(fd);
    return rc;
}

int wl__read_u64(const char *path, uint64_t *out)
{
    return wl__read_u64_err(path, out, NULL);
}

int wl__pread_u64_err(int fd, uint64_t *out, int *err)
{
    /* a counter and its newline take 21 bytes at most: a file that fills
     * the buffer is not one (and would be parsed cut) */
    char buf[64];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    if (n < 0) {
        int e = errno;
        if (err)
            *err = e;
        return wl_error_from_errno(e);
    }
    if (err)
        *err = 0;
    if (n == 0 || n == (ssize_t)sizeof buf)
        return WL_EFORMAT;
    return wl__sysfs_parse_u64(buf, (size_t)n, out);
}

int wl__pread_u64(int fd, uint64_t *out)
{
    return wl__pread_u64_err(fd, out, NULL);
}

/* How a note is logged: a not-read one as a warning, a not-summed one as
 * information. */
static void log_note(const struct wl_sensor *s, bool not_read, const char *text)
{
    if (not_read)
        wl_log(WL_LOG_WARN, "sensors", "%s: not read, the measurement is partial: %s", s->ops->name,
               text);
    else
        wl_log(WL_LOG_INFO, "sensors", "%s: not summed: %s", s->ops->name, text);
}

/* Holds a note made while the backend opens (s->pending); false when
 * there is no memory for it (it is then logged at once). */
static bool hold_note(struct wl_sensor *s, bool not_read, const char *text)
{
    if (s->n_pending == s->cap_pending) {
        const unsigned cap = s->cap_pending ? 2 * s->cap_pending : 8;
        struct wl__sensor_note *n = realloc(s->pending, cap * sizeof *n);
        if (!n)
            return false;
        s->pending = n;
        s->cap_pending = cap;
    }
    s->pending[s->n_pending].not_read = not_read;
    memcpy(s->pending[s->n_pending].text, text, WL_SENSOR_NOTE_MAX);
    s->n_pending++;
    return true;
}

/* One note of wl__sensor_not_read or wl__sensor_not_summed: formatted (cut
 * between characters), logged (log_note; while the backend opens, held
 * until it has: hold_note), kept in texts while there is room, counted in
 * *n either way. */
static void wl__sensor_note(struct wl_sensor *s, unsigned *n, char (*texts)[WL_SENSOR_NOTE_MAX],
                            bool not_read, const char *fmt, va_list ap)
{
    char text[WL_SENSOR_NOTE_MAX];
    wl_utf8_vformat(text, sizeof text, fmt, ap); /* names and paths: any bytes */
    if (!s->opening || !hold_note(s, not_read, text))
        log_note(s, not_read, text);
    if (*n < WL_SENSOR_MAX_NOT_READ)
        memcpy(texts[*n], text, sizeof text);
    (*n)++;
    if (s->source_base[0])
        render_source(s); /* the source was set: its count is refreshed */
}

void wl__sensor_not_read(struct wl_sensor *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wl__sensor_note(s, &s->info.n_not_read, s->info.not_read, true, fmt, ap);
    va_end(ap);
}

void wl__sensor_not_summed(struct wl_sensor *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wl__sensor_note(s, &s->info.n_not_summed, s->info.not_summed, false, fmt, ap);
    va_end(ap);
}

/* The decimal number after the ':' of a cpuinfo line, or -1. */
static int cpuinfo_number(const char *line)
{
    const char *c = strchr(line, ':');
    if (!c)
        return -1;
    c++;
    while (*c == ' ' || *c == '\t')
        c++;
    if (*c < '0' || *c > '9')
        return -1;
    long v = 0;
    for (; *c >= '0' && *c <= '9' && v < 100000; c++)
        v = v * 10 + (*c - '0');
    return (int)v;
}

/* The line names key: key, then only blanks up to the ':' ("model" is not
 * "model name"). */
static bool cpuinfo_key(const char *line, const char *key)
{
    size_t n = strlen(key);
    if (strncmp(line, key, n) != 0)
        return false;
    line += n;
    while (*line == ' ' || *line == '\t')
        line++;
    return *line == ':';
}

/* One line of f, up to its '\n' or the end of the file: its first size - 1
 * bytes into line, NUL-terminated (the rest of a longer one, such as flags,
 * is read and dropped, never taken for a line of its own). A NUL byte in
 * the line ends its text there, not the line: the next line is still a line
 * (fgets cannot tell a NUL it read from its own terminator). Returns the
 * line's length in bytes (0: an empty line) capped at size, or -1 at the
 * end of the file. */
static long cpuinfo_line(FILE *f, char *line, size_t size)
{
    size_t n = 0, whole = 0;
    int c;
    for (;;) {
        c = getc(f);
        if (c == EOF || c == '\n')
            break;
        if (n < size - 1)
            line[n++] = (char)c;
        if (whole < size)
            whole++;
    }
    line[n] = '\0';
    if (c == EOF && whole == 0)
        return -1;
    return (long)whole;
}

int wl__cpu_ident_read(const char *proc_root, struct wl__cpu_ident *out)
{
    out->vendor = WL__CPU_OTHER;
    out->family = out->model = -1;
    char path[600];
    snprintf(path, sizeof path, "%s/cpuinfo", proc_root);
    int fd = wl__attr_open(path, false, NULL); /* never a FIFO: no hang */
    if (fd < 0)
        return fd;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return WL_ENOMEM;
    }
    char line[256];
    bool in_block = false;
    for (;;) {
        const long len = cpuinfo_line(f, line, sizeof line);
        if (len < 0)
            break;
        if (len == 0) {
            if (in_block)
                break; /* the first CPU's block ends */
            continue;
        }
        in_block = true;
        if (cpuinfo_key(line, "vendor_id")) {
            if (strstr(line, "GenuineIntel"))
                out->vendor = WL__CPU_INTEL;
            else if (strstr(line, "AuthenticAMD") || strstr(line, "HygonGenuine"))
                out->vendor = WL__CPU_AMD;
        } else if (cpuinfo_key(line, "cpu family")) {
            out->family = cpuinfo_number(line);
        } else if (cpuinfo_key(line, "model")) {
            out->model = cpuinfo_number(line);
        }
    }
    fclose(f);
    return 0;
}

/* n hex digits at s into *v; false when one is not a hex digit. */
static bool hex_field(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        const char c = s[i];
        const int d = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : -1;
        if (d < 0)
            return false;
        x = x * 16 + d;
    }
    *v = x;
    return true;
}

int wl__cpu_ident_modalias(const char *sysfs_root, struct wl__cpu_ident *out)
{
    out->vendor = WL__CPU_OTHER;
    out->family = out->model = -1;
    char path[600], text[64];
    snprintf(path, sizeof path, "%s/devices/system/cpu/modalias", sysfs_root);
    int fd = wl__attr_open(path, false, NULL); /* never a FIFO: no hang */
    if (fd < 0)
        return fd;
    const ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    if (n < 0)
        return WL_EIO;
    text[n] = '\0';
    static const char prefix[] = "cpu:type:x86,ven";
    const char *t = text + sizeof prefix - 1;
    int ven, fam, mod;
    if (strncmp(text, prefix, sizeof prefix - 1) != 0 || (size_t)n < sizeof prefix - 1 + 18 ||
        !hex_field(t, 4, &ven) || strncmp(t + 4, "fam", 3) != 0 || !hex_field(t + 7, 4, &fam) ||
        strncmp(t + 11, "mod", 3) != 0 || !hex_field(t + 14, 4, &mod))
        return WL_EFORMAT;
    out->vendor = ven == 0 ? WL__CPU_INTEL : ven == 2 || ven == 9 ? WL__CPU_AMD : WL__CPU_OTHER;
    out->family = fam;
    out->model = mod;
    return 0;
}

/* The machine's proc directory into buf: the /proc root when it is the
 * machine's (*is_proc_root true: one given, or neither it nor a sysfs root
 * given), else the proc/ next to another machine's sysfs root (WL_ENOENT
 * when that does not fit): wl_root_beside, the rule the /dev root follows.
 * One choice for cpuinfo, the CPU's identity and the kernel version. */
static int machine_proc_dir(const struct wl_sensor_params *p, char *buf, size_t size,
                            bool *is_proc_root)
{
    bool beside;
    const int rc = wl_root_beside(p->proc_root, "WATTLENS_PROC_ROOT", "/proc", sysfs_given(p),
                                  "proc", buf, size, &beside);
    *is_proc_root = !beside;
    return rc == 0 || !beside ? rc : WL_ENOENT;
}

int wl_sensor_cpuinfo_path(const struct wl_sensor_params *p, char *path, size_t size)
{
    char proc[1024];
    bool is_proc_root;
    path[0] = '\0';
    const int rc = machine_proc_dir(p, proc, sizeof proc, &is_proc_root);
    if (rc != 0)
        return rc;
    if ((size_t)snprintf(path, size, "%s/cpuinfo", proc) >= size) {
        path[0] = '\0';
        return WL_ERANGE;
    }
    /* another machine's tree without a cpuinfo next to it (its modalias
     * holds no name, and the host's describes this machine): unknown */
    if (!is_proc_root && access(path, F_OK) != 0) {
        path[0] = '\0';
        return WL_ENOENT;
    }
    return 0;
}

int wl__sensor_cpu_ident(const struct wl_sensor_params *p, struct wl__cpu_ident *out, char *from,
                         size_t size)
{
    const char *sysfs = wl__sensor_sysfs_root(p);
    char clip[160], proc[1024];
    bool is_proc_root;
    const int have_proc = machine_proc_dir(p, proc, sizeof proc, &is_proc_root);
    if (is_proc_root) {
        if (have_proc != 0) { /* never read a cut path: another directory */
            wl_utf8_clip(clip, sizeof clip, wl__sensor_proc_root(p));
            snprintf(from, size, "%s/cpuinfo: the /proc root is too long (%zu bytes at most)", clip,
                     sizeof proc - 1);
            return have_proc;
        }
        wl_utf8_clip(clip, sizeof clip, proc); /* any bytes: cut between characters */
        const int rc = wl__cpu_ident_read(proc, out);
        snprintf(from, size, "%s/cpuinfo%s", clip, rc == 0 ? "" : ": cannot be read");
        return rc;
    }
    /* another machine's sysfs: its own CPU, never the host's cpuinfo */
    wl_utf8_clip(clip, sizeof clip, sysfs);
    if (wl__cpu_ident_modalias(sysfs, out) == 0) {
        snprintf(from, size, "%s/devices/system/cpu/modalias", clip);
        return 0;
    }
    if (have_proc == 0 && wl__cpu_ident_read(proc, out) == 0) {
        wl_utf8_clip(clip, sizeof clip, proc);
        snprintf(from, size, "%s/cpuinfo", clip);
        return 0;
    }
    snprintf(from, size,
             "unknown: the sysfs root %s has no devices/system/cpu/modalias nor a proc/cpuinfo "
             "next to it, and no /proc root is given (WATTLENS_PROC_ROOT)",
             clip);
    return WL_ENOENT;
}

/* The leading "MAJOR.MINOR" of a kernel release ("6.18.0-1-amd64"): each
 * 0..9999, the minor followed by anything but a digit. */
static int parse_kernel_release(const char *s, int *major, int *minor)
{
    const char *p = s, *end = s + strlen(s);
    uint64_t a, b;
    if (wl_parse_u64_digits(&p, end, &a) != 0 || a > 9999 || *p != '.')
        return WL_EFORMAT;
    p++;
    if (wl_parse_u64_digits(&p, end, &b) != 0 || b > 9999)
        return WL_EFORMAT;
    *major = (int)a;
    *minor = (int)b;
    return 0;
}

int wl__sensor_kernel_version(const struct wl_sensor_params *p, int *major, int *minor)
{
    char proc[1024], path[1100], text[128];
    bool is_proc_root;
    const int rc_dir = machine_proc_dir(p, proc, sizeof proc, &is_proc_root);
    if (rc_dir != 0)
        return rc_dir;
    snprintf(path, sizeof path, "%s/sys/kernel/osrelease", proc);
    const int rc = wl__read_text(path, text, sizeof text);
    if (rc < 0)
        return rc;
    return parse_kernel_release(text, major, minor);
}

int wl__name_cmp_natural(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            const char *ea = a, *eb = b;
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            const char *da = a, *db = b;
            while (*a >= '0' && *a <= '9')
                a++;
            while (*b >= '0' && *b <= '9')
                b++;
            /* more significant digits: larger; same count: compare them */
            if (a - da != b - db)
                return a - da < b - db ? -1 : 1;
            int c = strncmp(da, db, (size_t)(a - da));
            if (c != 0)
                return c;
            if (a - ea != b - eb) /* "01" after "1": a total order */
                return a - ea < b - eb ? -1 : 1;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

void wl__counter_init(struct wl__counter *c, const char *backend, const char *channel,
                      uint64_t top_raw, double unit_uj, uint64_t raw, uint64_t t_ns)
{
    memset(c, 0, sizeof *c);
    c->backend = backend;
    c->channel = channel;
    c->top_raw = top_raw;
    c->unit_uj = unit_uj;
    c->last_raw = raw;
    c->last_t_ns = t_ns;
}

enum wl_counter_disc wl__counter_update(struct wl__counter *c, uint64_t raw, uint64_t t_ns)
{
    const uint64_t last = c->last_raw, dt = t_ns > c->last_t_ns ? t_ns - c->last_t_ns : 0;
    const bool in_range = raw <= c->top_raw, was_above = last > c->top_raw;
    /* last was made after made_after_ns; raw after the previous read */
    const uint64_t made_after = c->made_after_ns;
    const bool made_known = c->made_known;
    if (raw != last) {
        c->made_after_ns = c->last_t_ns;
        c->made_known = true;
    }
    c->last_raw = raw;
    c->last_t_ns = t_ns;
    double step_uj = 0;
    bool bad_rise = false;
    /* after a gap longer than a wrap takes at a real draw, a change can
     * hide any number of wraps: a rise is not "no wrap", a fall not "one" */
    const uint64_t wrap_ns = wl__counter_wrap_ns(c);
    const bool ambiguous = raw != last && in_range && !was_above && wrap_ns != UINT64_MAX &&
                           wrap_ns >= WL__COUNTER_WRAP_MIN_NS && dt > wrap_ns;
    if (raw > last && made_known) {
        /* a rise is at most what the most power could add between the two
         * values' making (a coarse counter, such as hwmon's updated once a
         * second, has values far apart) */
        step_uj = (double)(raw - last) * c->unit_uj;
        const double span_ns = t_ns > made_after ? (double)(t_ns - made_after) : 0;
        bad_rise = step_uj > WL__COUNTER_MAX_W * (span_ns + WL__COUNTER_SLACK_NS) / 1e3;
    }
    /* a rise: in range, or above it while the counter stays there (its
     * advertised range is wrong, not its counting) */
    if (!ambiguous && !bad_rise && raw >= last && (in_range || was_above)) {
        if (!in_range && raw > last && !c->range_warned) {
            c->range_warned = true;
            wl_log_warn("sensors",
                        "%s %s: counter keeps rising above its range (%llu, range 0..%llu): the "
                        "range is wrong; its rises are counted from here on, and a fall from "
                        "above the range is a gap (where it wraps is unknown)",
                        c->backend, c->channel, (unsigned long long)raw,
                        (unsigned long long)c->top_raw);
        }
        c->total_raw += raw - last;
        return WL_DISC_NONE;
    }
    enum wl_counter_disc why;
    if (ambiguous) {
        why = WL_DISC_AMBIGUOUS;
    } else if (bad_rise) {
        why = WL_DISC_BAD_RISE;
    } else if (!in_range) {
        /* a read above the range from in range, or a fall while above it */
        why = was_above ? WL_DISC_FELL : WL_DISC_ABOVE_RANGE;
    } else if (was_above || c->top_raw == UINT64_MAX) {
        why = WL_DISC_FELL; /* back from above the range, or never wraps */
    } else {
        /* a decrease in range: a wrap when its step is possible */
        const uint64_t step = wl__counter_step(last, raw, c->top_raw);
        step_uj = (double)step * c->unit_uj;
        const double bound_uj =
            WL__COUNTER_MAX_W * (double)(dt + WL__COUNTER_SLACK_NS) / 1e3; /* W*us */
        if (step_uj <= bound_uj) {
            c->total_raw += step;
            return WL_DISC_NONE;
        }
        why = WL_DISC_BAD_WRAP;
    }
    c->n_discontinuities++;
    if (c->n_discontinuities <= 3) {
        if (why == WL_DISC_AMBIGUOUS)
            wl_log_warn("sensors",
                        "%s %s: counter changed from %llu to %llu after %.1f s without a read, "
                        "longer than its range takes at %.0f W (%.1f s): how many times it "
                        "wrapped is unknown; the energy since the previous read is unknown (a "
                        "gap)",
                        c->backend, c->channel, (unsigned long long)last, (unsigned long long)raw,
                        (double)dt / 1e9, WL__COUNTER_WRAP_W, (double)wrap_ns / 1e9);
        else if (why == WL_DISC_BAD_RISE)
            wl_log_warn("sensors",
                        "%s %s: counter rose from %llu to %llu: %.0f J, more than %.0f W could "
                        "add in the time its values can be apart: a glitch or a reset; the "
                        "energy since the previous read is unknown (a gap)",
                        c->backend, c->channel, (unsigned long long)last, (unsigned long long)raw,
                        step_uj / 1e6, WL__COUNTER_MAX_W);
        else if (why == WL_DISC_ABOVE_RANGE)
            wl_log_warn("sensors",
                        "%s %s: counter read %llu, above its range (0..%llu): a reset or a wrong "
                        "range, not a wrap; the energy since the previous read is unknown (a "
                        "gap); should it keep rising there, its rises are counted",
                        c->backend, c->channel, (unsigned long long)raw,
                        (unsigned long long)c->top_raw);
        else if (last > c->top_raw)
            wl_log_warn("sensors",
                        "%s %s: counter went back from %llu, above its range (0..%llu), to %llu: "
                        "where it wraps is unknown; the energy since the previous read is "
                        "unknown (a gap)",
                        c->backend, c->channel, (unsigned long long)last,
                        (unsigned long long)c->top_raw, (unsigned long long)raw);
        else if (why == WL_DISC_FELL)
            wl_log_warn("sensors",
                        "%s %s: counter went back from %llu to %llu (it never wraps): a reset; "
                        "the energy since the previous read is unknown (a gap)",
                        c->backend, c->channel, (unsigned long long)last, (unsigned long long)raw);
        else
            wl_log_warn("sensors",
                        "%s %s: counter went back from %llu to %llu; as a wrap that is %.0f J in "
                        "%.3f ms, more than %.0f W can draw: a reset, not a wrap; the energy "
                        "since the previous read is unknown (a gap)",
                        c->backend, c->channel, (unsigned long long)last, (unsigned long long)raw,
                        step_uj / 1e6, (double)dt / 1e6, WL__COUNTER_MAX_W);
        if (c->n_discontinuities == 3)
            wl_log_warn("sensors", "%s %s: further discontinuities are counted, not logged",
                        c->backend, c->channel);
    }
    return why;
}

uint64_t wl__counter_total_uj(const struct wl__counter *c)
{
    return (uint64_t)((double)c->total_raw * c->unit_uj);
}

uint64_t wl__counter_wrap_ns(const struct wl__counter *c)
{
    if (c->top_raw == UINT64_MAX)
        return UINT64_MAX;
    /* uJ / W = us */
    const double ns = ((double)c->top_raw + 1.0) * c->unit_uj / WL__COUNTER_WRAP_W * 1e3;
    return ns >= 1.8e19 ? UINT64_MAX : (uint64_t)ns;
}

int wl__sensor_add_channel(struct wl_sensor *s, const char *name, enum wl_domain d,
                           enum wl_method m, unsigned flags, int index)
{
    if (s->info.n_channels >= WL_SENSOR_MAX_CHANNELS)
        return WL_EFULL;
    struct wl_sensor_channel *c = &s->info.ch[s->info.n_channels];
    memset(c, 0, sizeof *c);
    wl_utf8_copy(c->name, sizeof c->name, name);
    c->domain = d;
    c->method = m;
    c->flags = flags;
    c->index = index;
    return (int)s->info.n_channels++;
}

static bool any_channel_read(const struct wl_sensor_reading *r)
{
    for (unsigned i = 0; i < r->n_channels && i < WL_SENSOR_MAX_CHANNELS; i++)
        if (r->v[i].valid & (WL_CH_ENERGY | WL_CH_POWER))
            return true;
    return false;
}

/* s->ops->read with the rule every caller sees: the backends read what
 * they can and return 0; a read where no channel could be read fails here
 * (WL_ESENSOR), for every backend alike. wl_sensor_read and the open-time
 * probes read through it, so a sensor whose reads all fail right after
 * open is not polled until the probe budgets run out. */
static int backend_read(struct wl_sensor *s, struct wl_sensor_reading *r)
{
    int rc = s->ops->read(s, r);
    if (rc == 0 && !any_channel_read(r))
        rc = WL_ESENSOR;
    return rc;
}

/* Whether the read that saw change c came soon enough after the read
 * before it for an interval of d_ns ending or starting at c: within a
 * quarter of it (sensor_impl.h, wl__period_estimate_ns). */
static bool period_change_sharp(const struct wl__period_change *c, uint64_t d_ns)
{
    return c->t_ns >= c->since_ns && (c->t_ns - c->since_ns) <= d_ns / 4;
}

/* Inserts v into the sorted d[0..*m). */
static void period_insert(uint64_t *d, int *m, uint64_t v)
{
    int i = (*m)++;
    for (; i > 0 && d[i - 1] > v; i--) /* insertion sort: at most 11 */
        d[i] = d[i - 1];
    d[i] = v;
}

uint64_t wl__period_estimate_ns(const struct wl__period_change *c, int n)
{
    uint64_t d[WL__PERIOD_PROBE_CHANGES];
    int m = 0;
    if (n > WL__PERIOD_PROBE_CHANGES)
        n = WL__PERIOD_PROBE_CHANGES;
    for (int k = 1; k < n; k++) {
        if (c[k].t_ns <= c[k - 1].t_ns)
            return 0; /* not in time order: nothing to tell */
        const uint64_t dk = c[k].t_ns - c[k - 1].t_ns;
        if (period_change_sharp(&c[k - 1], dk) && period_change_sharp(&c[k], dk))
            period_insert(d, &m, dk);
    }
    /* none counted (a counter about as fast as the reads or faster, or
     * reads far apart): the median of them all, when one late read cannot
     * be it (three intervals at least); an upper bound when every read saw
     * a change */
    if (m == 0 && n >= 4)
        for (int k = 1; k < n; k++)
            period_insert(d, &m, c[k].t_ns - c[k - 1].t_ns);
    if (m == 0)
        return 0;
    return m % 2 ? d[m / 2] : d[m / 2 - 1] / 2 + d[m / 2] / 2;
}

/* The sensor's one period from its channels' (after the probe measured
 * each): the period they share, within a factor of 2, the longest of them
 * (a window long enough for each); 0, not measured, when two differ by
 * more (a consumer that takes one period for every channel learns each
 * instead). Only the counters count where there are any: a power-only
 * channel's period windows nothing. A channel not measured (a counter
 * slower than the probe, a uncore or psys at rest) tells nothing; with
 * none measured the sensor's period is left as it was. */
static void sensor_period_from_channels(struct wl_sensor *s)
{
    unsigned any_counter = 0;
    for (unsigned i = 0; i < s->info.n_channels; i++)
        any_counter |= s->info.ch[i].flags & WL_CH_ENERGY;
    uint64_t lo = 0, hi = 0;
    for (unsigned i = 0; i < s->info.n_channels; i++) {
        const uint64_t t = s->info.ch[i].update_period_ns;
        if (t == 0 || (any_counter && !(s->info.ch[i].flags & WL_CH_ENERGY)))
            continue;
        lo = lo == 0 || t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    if (hi == 0)
        return;
    const bool shared = hi <= 2 * lo;
    s->info.update_period_ns = shared ? hi : 0;
    s->info.period_measured = shared;
}

/* Generic update-period measurement (wl__sensor_measure_period, sensor_impl.h):
 * read until every channel's value has changed several times (or the
 * budget runs out) and estimate each channel's period from the intervals
 * between its changes (wl__period_estimate_ns). For a counter that value
 * is its energy alone: the period is the counter's granularity (the
 * sampler's power windows and peak spans are ten of it), and a power read
 * next to it (NVML's instant power) that changes more often made a 100 ms
 * counter look like a fast one. Each channel has its own: one sensor's
 * channels may update at different rates (two hwmon devices, two GPUs of
 * different generations, a psys next to its packages), and the period of
 * channel 0 given to all made a slower counter's windows too short (its
 * power jumping between too little and too much). Sleeps 100 us between reads, so it costs little
 * CPU. A counter slower than the budget allows is not measured here; the
 * sampler learns its period. */
int wl__sensor_measure_period(struct wl_sensor *s, const struct wl_sensor_params *p)
{
    const unsigned n = s->info.n_channels;
    uint64_t budget = p->period_probe_ns;
    if (budget == 0 || n == 0)
        return 0;
    struct probe_ch {
        struct wl__period_change seen[WL__PERIOD_PROBE_CHANGES];
        uint64_t last_e, last_before;
        double last_p;
        int have, changes;
    } *pc = calloc(n, sizeof *pc);
    if (!pc)
        return 0;
    struct wl_sensor_reading r;
    uint64_t t_end = wl_clock_now_ns() + budget;
    unsigned n_done = 0; /* channels with all their changes seen */
    memset(&r, 0, sizeof r);
    while (wl_clock_now_ns() < t_end && n_done < n) {
        if (backend_read(s, &r) != 0)
            break;
        for (unsigned i = 0; i < n; i++) {
            struct probe_ch *c = &pc[i];
            const struct wl_channel_value *v = &r.v[i];
            const bool energy_only = (s->info.ch[i].flags & WL_CH_ENERGY) != 0;
            if (c->changes >= WL__PERIOD_PROBE_CHANGES ||
                !(v->valid & (WL_CH_ENERGY | WL_CH_POWER))) /* done, or not read this time */
                continue;
            if (c->have &&
                (v->energy_uj != c->last_e || (!energy_only && v->power_w != c->last_p))) {
                /* it changed after the last read of it began and before this one ended */
                c->seen[c->changes].since_ns = c->last_before;
                c->seen[c->changes].t_ns = r.t_after_ns;
                n_done += ++c->changes == WL__PERIOD_PROBE_CHANGES;
            }
            c->last_e = v->energy_uj;
            c->last_p = v->power_w;
            c->last_before = r.t_before_ns;
            c->have = 1;
        }
        wl_clock_sleep_ns(100000);
    }
    for (unsigned i = 0; i < n; i++)
        s->info.ch[i].update_period_ns = wl__period_estimate_ns(pc[i].seen, pc[i].changes);
    const int changes0 = pc[0].changes;
    free(pc);
    sensor_period_from_channels(s);
    return changes0;
}

/* The two rules and their thresholds: sensor_impl.h. The rise of each
 * psys is watched read by read after the period probe, and its smallest
 * step is its tick (a counter steps by whole ticks), taken as at most
 * psys's whole rise since the probe began until a single step is seen.
 * Flat is judged by time and energy, not by a count of package changes: at
 * 1 ms per change no count above the period probe's fits in its budget. */
#define PSYS_MIN_PKG_UJ 10000.0
#define PSYS_FLAT_BUDGETS 4

/* One psys channel under the probe. */
struct psys_watch {
    unsigned ci;                            /* the psys channel */
    uint64_t pkg_mask;                      /* the channels of its package */
    uint64_t psys0, pkg0;                   /* at the probe's start */
    uint64_t last;                          /* psys at the last read */
    double step_uj;                         /* its smallest step seen (0: none yet) */
    bool have0, decided;                    /* a start was read; kept or dropped */
    char pkg_name[WL_SENSOR_NAME_MAX + 16]; /* "package-1", "package-0-die-0 and 1 more" */
};

/* The energy of w's psys and package in r; false when r has none of
 * them (a channel not read this time). */
static bool psys_watch_read(const struct wl_sensor *s, const struct psys_watch *w,
                            const struct wl_sensor_reading *r, uint64_t *psys, uint64_t *pkg)
{
    if (!(r->v[w->ci].valid & WL_CH_ENERGY))
        return false;
    *psys = r->v[w->ci].energy_uj;
    *pkg = 0;
    for (unsigned i = 0; i < s->info.n_channels; i++) {
        if (!(w->pkg_mask & (UINT64_C(1) << i)))
            continue;
        if (!(r->v[i].valid & WL_CH_ENERGY))
            return false;
        *pkg += r->v[i].energy_uj;
    }
    return true;
}

/* Judges w at a read (psys_uj, pkg_uj since the start; now): drops it
 * (a not-summed note, returns 1), keeps it (returns 0), or waits (-1). */
static int psys_watch_judge(struct wl_sensor *s, struct psys_watch *w, const char *what,
                            double tick_max_uj, uint64_t psys, uint64_t pkg, uint64_t now,
                            uint64_t t_end, uint64_t t_flat_end)
{
    const struct wl_sensor_channel *ch = &s->info.ch[w->ci];
    const double pkg_uj = pkg > w->pkg0 ? (double)(pkg - w->pkg0) : 0;
    const bool flat = psys <= w->psys0;
    const double psys_uj = flat ? 0 : (double)(psys - w->psys0);
    const double res_uj = ch->resolution_uj;
    const double tick_uj = w->step_uj > res_uj ? w->step_uj : res_uj;
    const double tick_max = tick_max_uj > 0 ? tick_max_uj : res_uj;
    if (flat && now >= t_end && pkg_uj >= 2 * tick_max) {
        wl__sensor_not_summed(s,
                              "%s (%s): did not move while %s rose %.3f mJ: not valid on this "
                              "platform; not used",
                              ch->name, what, w->pkg_name, pkg_uj / 1e3);
        return 1;
    }
    if (!flat && psys_uj * 4 >= pkg_uj)
        return 0; /* it moves with its package */
    if (!flat && pkg_uj >= PSYS_MIN_PKG_UJ && pkg_uj >= 8 * tick_uj) {
        wl__sensor_not_summed(s,
                              "%s (%s): rose %.3f mJ while %s, which it contains, rose %.3f mJ: "
                              "not valid, or not in the unit read with it; not used",
                              ch->name, what, psys_uj / 1e3, w->pkg_name, pkg_uj / 1e3);
        return 1;
    }
    /* a flat psys in a coarse unit (1 J on Sapphire Rapids) may not have
     * had two of its ticks yet: waited for up to a few budgets, which a
     * psys that moves ends at its first tick */
    return now >= (flat ? t_flat_end : t_end) ? 0 : -1; /* not enough seen: kept */
}

void wl__rapl_psys_contains(const struct wl_sensor *s, const int *pkg_of, uint64_t *contains)
{
    const unsigned n = s->info.n_channels;
    for (unsigned i = 0; i < n; i++) {
        contains[i] = 0;
        for (unsigned j = 0; j < n && s->info.ch[i].domain == WL_DOMAIN_PSYS; j++)
            if (s->info.ch[j].domain == WL_DOMAIN_PACKAGE && pkg_of[j] == pkg_of[i])
                contains[i] |= UINT64_C(1) << j;
    }
}

void wl__sensor_probe_psys_and_drop(struct wl_sensor *s, const struct wl_sensor_params *p,
                                    const char *what, double tick_max_uj, const uint64_t *contains,
                                    void (*drop_channel)(struct wl_sensor *s, unsigned ci))
{
    const uint64_t drop = wl__sensor_probe_psys(s, p, what, tick_max_uj, contains);
    for (unsigned i = s->info.n_channels; i-- > 0;)
        if (drop & (UINT64_C(1) << i))
            drop_channel(s, i);
}

uint64_t wl__sensor_probe_psys(struct wl_sensor *s, const struct wl_sensor_params *p,
                               const char *what, double tick_max_uj, const uint64_t *contains)
{
    struct psys_watch w[WL_SENSOR_MAX_CHANNELS];
    unsigned n = 0;
    for (unsigned i = 0; i < s->info.n_channels; i++) {
        if (s->info.ch[i].domain != WL_DOMAIN_PSYS || !contains[i])
            continue;
        struct psys_watch *x = &w[n++];
        memset(x, 0, sizeof *x);
        x->ci = i;
        x->pkg_mask = contains[i];
        unsigned n_pkg = 0;
        for (unsigned k = 0; k < s->info.n_channels; k++) {
            if (!(x->pkg_mask & (UINT64_C(1) << k)))
                continue;
            if (n_pkg++ == 0)
                snprintf(x->pkg_name, sizeof x->pkg_name, "%s", s->info.ch[k].name);
        }
        if (n_pkg > 1) {
            const size_t len = strlen(x->pkg_name);
            snprintf(x->pkg_name + len, sizeof x->pkg_name - len, " and %u more", n_pkg - 1);
        }
    }
    struct wl_sensor_reading r;
    memset(&r, 0, sizeof r);
    if (n == 0 || p->period_probe_ns == 0 || backend_read(s, &r) != 0) {
        wl__sensor_measure_period(s, p);
        return 0;
    }
    for (unsigned k = 0; k < n; k++)
        w[k].have0 = psys_watch_read(s, &w[k], &r, &w[k].psys0, &w[k].pkg0);
    if (wl__sensor_measure_period(s, p) == 0 || backend_read(s, &r) != 0)
        return 0;
    for (unsigned k = 0; k < n; k++) {
        uint64_t psys, pkg;
        if (w[k].have0 && psys_watch_read(s, &w[k], &r, &psys, &pkg)) {
            w[k].last = psys;
            w[k].step_uj = psys > w[k].psys0 ? (double)(psys - w[k].psys0) : 0;
        } else {
            w[k].decided = true; /* no start, or no read after the period probe: kept */
        }
    }
    const uint64_t t0 = wl_clock_now_ns();
    const uint64_t t_end = t0 + p->period_probe_ns;
    const uint64_t t_flat_end = t0 + PSYS_FLAT_BUDGETS * p->period_probe_ns;
    uint64_t drop = 0;
    for (;;) {
        const uint64_t now = wl_clock_now_ns();
        unsigned n_open = 0;
        for (unsigned k = 0; k < n; k++) {
            uint64_t psys, pkg;
            if (w[k].decided)
                continue;
            int v = -1;
            if (psys_watch_read(s, &w[k], &r, &psys, &pkg))
                v = psys_watch_judge(s, &w[k], what, tick_max_uj, psys, pkg, now, t_end,
                                     t_flat_end);
            else if (now >= t_flat_end)
                v = 0; /* never read again: kept */
            if (v > 0)
                drop |= UINT64_C(1) << w[k].ci;
            w[k].decided = v >= 0;
            n_open += !w[k].decided;
        }
        if (n_open == 0)
            return drop;
        wl_clock_sleep_ns(1000000);
        if (backend_read(s, &r) != 0)
            return drop; /* the undecided are kept */
        for (unsigned k = 0; k < n; k++) {
            uint64_t psys, pkg;
            if (w[k].decided || !psys_watch_read(s, &w[k], &r, &psys, &pkg))
                continue;
            if (psys > w[k].last) {
                const double d = (double)(psys - w[k].last);
                if (w[k].step_uj == 0 || d < w[k].step_uj)
                    w[k].step_uj = d;
            }
            w[k].last = psys;
        }
    }
}

/* Ends the backend's open: logs the notes it made (ok: it opened) or
 * drops them (it failed), and frees them. */
void wl__sensor_keep_fix(struct wl_sensor *s)
{
    s->keep_fix = true;
}

static void end_open(struct wl_sensor *s, bool ok)
{
    s->opening = false;
    for (unsigned i = 0; ok && i < s->n_pending; i++)
        log_note(s, s->pending[i].not_read, s->pending[i].text);
    free(s->pending);
    s->pending = NULL;
    s->n_pending = s->cap_pending = 0;
}

static int open_one(const struct wl_sensor_ops *ops, const struct wl_sensor_params *p,
                    wl_sensor **out, struct wl_sensor_status *st)
{
    memset(st, 0, sizeof *st);
    st->backend = ops->name;
    st->what = ops->what;
    wl_sensor *s = calloc(1, sizeof *s);
    if (!s)
        return wl__sensor_fail(st, WL_ENOMEM, NULL, "out of memory");
    s->ops = ops;
    s->info.backend = ops->name;
    s->opening = true; /* its notes are logged once it has opened */
    int rc = ops->open(s, p, st);
    if (rc != 0) {
        end_open(s, false);
        if (st->why[0] == '\0')
            wl__sensor_fail(st, rc, NULL, "%s", wl_strerror(rc));
        st->code = rc;
        free(s);
        return rc;
    }
    if (s->info.n_channels == 0) {
        end_open(s, false);
        ops->close(s);
        free(s);
        return wl__sensor_fail(st, WL_ENOTSUP, NULL, "no channel found");
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        end_open(s, false);
        ops->close(s);
        free(s);
        return wl__sensor_fail(st, WL_ENOMEM, NULL, "cannot create a mutex");
    }
    end_open(s, true);
    if (ops->measure_period)
        ops->measure_period(s, p);
    else
        wl__sensor_measure_period(s, p);
    /* a backend whose one sample stream gives every channel (powermetrics,
     * the CPU model) sets the sensor's period alone: it is each channel's */
    bool per_channel = false;
    for (unsigned i = 0; i < s->info.n_channels; i++)
        per_channel |= s->info.ch[i].update_period_ns != 0;
    for (unsigned i = 0; !per_channel && i < s->info.n_channels; i++)
        s->info.ch[i].update_period_ns = s->info.update_period_ns;
    st->code = 0;
    st->available = true;
    st->why[0] = '\0';
    if (!s->keep_fix)
        st->fix[0] = '\0';
    *out = s;
    return 0;
}

int wl_sensor_open_backend(unsigned backend_bit, const struct wl_sensor_params *p, wl_sensor **out,
                           struct wl_sensor_status *st)
{
    struct wl_sensor_status tmp;
    *out = NULL;
    for (size_t i = 0; i < WL_N_BACKENDS; i++) {
        if (wl__backends[i]->bit == backend_bit)
            return open_one(wl__backends[i], p, out, st ? st : &tmp);
    }
    return WL_EINVAL;
}

void wl_sensor_close(wl_sensor *s)
{
    if (!s)
        return;
    s->ops->close(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static bool set_has_cpu_source(const wl_sensor_set *set)
{
    for (unsigned i = 0; i < set->n_sensors; i++) {
        const struct wl_sensor_info *in = &set->sensors[i]->info;
        for (unsigned c = 0; c < in->n_channels; c++) {
            enum wl_domain d = in->ch[c].domain;
            if (d == WL_DOMAIN_PACKAGE || d == WL_DOMAIN_CORE || d == WL_DOMAIN_SOC ||
                d == WL_DOMAIN_PSYS)
                return true;
        }
    }
    return false;
}

int wl_sensor_set_open(const struct wl_sensor_params *p_in, wl_sensor_set **out)
{
    struct wl_sensor_params defaults;
    if (!out)
        return WL_EINVAL;
    *out = NULL;
    if (!p_in) {
        wl_sensor_params_default(&defaults);
        p_in = &defaults;
    }
    wl_sensor_set *set = calloc(1, sizeof *set);
    if (!set)
        return WL_ENOMEM;
    const char *rapl_used = NULL;
    for (size_t i = 0; i < WL_N_BACKENDS; i++) {
        const struct wl_sensor_ops *ops = wl__backends[i];
        struct wl_sensor_status *st = &set->status[set->n_status++];
        memset(st, 0, sizeof *st);
        st->backend = ops->name;
        st->what = ops->what;
        bool is_rapl =
            ops->bit & (WL_BACKEND_RAPL_POWERCAP | WL_BACKEND_RAPL_PERF | WL_BACKEND_RAPL_MSR);
        if (!(p_in->backends & ops->bit)) {
            st->skipped = true;
            wl__sensor_fail(st, WL_ENOTSUP, NULL, "not tried (disabled by the caller)");
            continue;
        }
        if (is_rapl && rapl_used) {
            st->skipped = true;
            wl__sensor_fail(st, 0, NULL, "not needed: %s already reads the RAPL counters",
                            rapl_used);
            continue;
        }
        if (ops->bit == WL_BACKEND_CPU_MODEL) {
            if (p_in->model_use == WL_MODEL_NEVER) {
                st->skipped = true;
                wl__sensor_fail(st, 0, NULL, "not used (disabled by the caller)");
                continue;
            }
            if (p_in->model_use == WL_MODEL_AUTO && set_has_cpu_source(set)) {
                st->skipped = true;
                wl__sensor_fail(st, 0, NULL,
                                "not needed: a CPU energy source is readable (the model is only a "
                                "fallback)");
                continue;
            }
        }
        wl_sensor *s = NULL;
        if (open_one(ops, p_in, &s, st) == 0) {
            set->sensors[set->n_sensors++] = s;
            if (is_rapl)
                rapl_used = ops->name;
            wl_log_debug("sensors", "%s: %u channel(s), update period %.3f ms", ops->name,
                         s->info.n_channels, (double)s->info.update_period_ns / 1e6);
        } else {
            wl_log_debug("sensors", "%s: not available: %s", ops->name, st->why);
        }
    }
    *out = set;
    return 0;
}

void wl_sensor_set_close(wl_sensor_set *set)
{
    if (!set)
        return;
    for (unsigned i = 0; i < set->n_sensors; i++)
        wl_sensor_close(set->sensors[i]);
    free(set);
}

unsigned wl_sensor_set_count(const wl_sensor_set *set)
{
    return set ? set->n_sensors : 0;
}

wl_sensor *wl_sensor_set_get(const wl_sensor_set *set, unsigned i)
{
    return (set && i < set->n_sensors) ? set->sensors[i] : NULL;
}

unsigned wl_sensor_set_status_count(const wl_sensor_set *set)
{
    return set ? set->n_status : 0;
}

const struct wl_sensor_status *wl_sensor_set_status(const wl_sensor_set *set, unsigned i)
{
    return (set && i < set->n_status) ? &set->status[i] : NULL;
}

bool wl_sensor_set_model_only(const wl_sensor_set *set)
{
    bool any = false; /* no channel at all: nothing is estimated either */
    for (unsigned i = 0; set && i < set->n_sensors; i++) {
        const struct wl_sensor_info *in = &set->sensors[i]->info;
        for (unsigned c = 0; c < in->n_channels; c++) {
            if (in->ch[c].method != WL_METHOD_MODEL_ESTIMATE)
                return false;
            any = true;
        }
    }
    return any;
}

unsigned wl_sensor_set_method_mask(const wl_sensor_set *set)
{
    unsigned mask = 0;
    for (unsigned i = 0; set && i < set->n_sensors; i++) {
        const struct wl_sensor_info *in = &set->sensors[i]->info;
        for (unsigned c = 0; c < in->n_channels; c++)
            mask |= 1u << in->ch[c].method;
    }
    return mask;
}

unsigned wl_sensor_set_n_not_read(const wl_sensor_set *set)
{
    unsigned n = 0;
    for (unsigned i = 0; set && i < set->n_sensors; i++)
        n += set->sensors[i]->info.n_not_read;
    return n;
}

size_t wl_sensor_set_describe(const wl_sensor_set *set, char *buf, size_t size)
{
    if (size == 0)
        return 0;
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; set && i < set->n_sensors && len < size; i++) {
        const struct wl_sensor_info *in = &set->sensors[i]->info;
        len += (size_t)snprintf(buf + len, size - len, "%s%s (%s)", i ? "; " : "", in->backend,
                                in->source);
    }
    return len < size ? len : size - 1;
}

const char *wl_provenance_summary(unsigned method_mask)
{
    const unsigned measured = (1u << WL_METHOD_COUNTER) | (1u << WL_METHOD_SAMPLED);
    if (method_mask == 0)
        return "none";
    if ((method_mask & ~measured) == 0)
        return "measured";
    if (method_mask == (1u << WL_METHOD_MODEL_ESTIMATE))
        return wl_method_label(WL_METHOD_MODEL_ESTIMATE);
    if (method_mask == (1u << WL_METHOD_VENDOR_ESTIMATE))
        return wl_method_label(WL_METHOD_VENDOR_ESTIMATE);
    return "mixed (see each domain's method)";
}

const struct wl_sensor_info *wl_sensor_get_info(const wl_sensor *s)
{
    return &s->info;
}

static int sensor_read(wl_sensor *s, struct wl_sensor_reading *r, bool settle)
{
    if (settle && s->ops->settle)
        s->ops->settle(s); /* takes the lock itself, for as short as it can */
    /* fields a backend does not fill (n_discontinuities of one without
     * counters) read 0 */
    memset(r, 0, sizeof *r);
    pthread_mutex_lock(&s->lock);
    int rc = backend_read(s, r);
    pthread_mutex_unlock(&s->lock);
    if (rc != 0)
        r->n_channels = 0;
    return rc;
}

int wl_sensor_read(wl_sensor *s, struct wl_sensor_reading *r)
{
    return sensor_read(s, r, false);
}

int wl_sensor_read_settled(wl_sensor *s, struct wl_sensor_reading *r)
{
    return sensor_read(s, r, true);
}

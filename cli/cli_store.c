/* CLI helpers for the commands that use the run store; see cli_store.h. */
#include "cli_store.h"

#include "analysis/run_json.h"
#include "cli.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void wl_cli_store_opts_init(struct wl_cli_store_opts *o, const char *cmd, void (*usage)(FILE *out),
                            const struct option *opts)
{
    *o = (struct wl_cli_store_opts){
        .cmd = cmd, .opts = opts, .usage = usage, .exit_status = WL_EXIT_OK};
    optind = 1;
    opterr = 0;
}

bool wl_cli_store_option(struct wl_cli_store_opts *o, int c, char *const argv[])
{
    switch (c) {
    case WL_CLI_OPT_DB:
        o->db = optarg;
        return true;
    case WL_CLI_OPT_JSON:
        o->json = true;
        return true;
    case 'h':
        wl_cli_print_help(o->usage);
        o->exit_status = WL_EXIT_OK;
        return false;
    default:
        o->exit_status = wl_cli_option_error(o->cmd, c, argv, o->opts);
        return false;
    }
}

/* After a run or measure made the directories of a database path the user
 * named (--db, WATTLENS_DB): a note naming each one, from the highest made
 * down to the file's own, since a typo in the path would otherwise send the
 * runs to a new database no later `runs` finds. The default path's
 * directories (~/.local/share/wattlens) are made without a word. */
static void wl__note_made_dirs(const char *cmd, const char *db_path, const wl_store *s)
{
    const char *made = wl_store_made_dir(s);
    const char *env = getenv("WATTLENS_DB");
    if (!made[0] || (!db_path && !(env && *env)))
        return;
    const char *path = wl_store_path(s);
    const size_t n_made = strlen(made);
    /* the file's directory: path up to its last '/' ("/" for "/x.db") */
    const char *slash = strrchr(path, '/');
    size_t n_dir = slash ? (size_t)(slash - path) : 0;
    if (n_dir == 0 && slash)
        n_dir = 1;
    char list[3 * WL_STORE_PATH_MAX];
    size_t used = 0;
    int n = 0;
    /* made, then each longer prefix of the directory that ends at a '/' or its end */
    for (size_t i = n_made; i <= n_dir && used < sizeof list; i++) {
        if (i != n_dir && path[i] != '/')
            continue;
        if (i > n_made && path[i - 1] == '/') /* "a//b": one directory */
            continue;
        const int w =
            snprintf(list + used, sizeof list - used, "%s%.*s", n ? ", " : "", (int)i, path);
        if (w < 0)
            break;
        used += (size_t)w;
        n++;
    }
    wl_cli_note(cmd, "note: made the director%s %s for the run database %s (%s named it)",
                n == 1 ? "y" : "ies", list, path, db_path ? "--db" : "WATTLENS_DB");
}

int wl_cli_store_open(const char *cmd, const char *db_path, enum wl_cli_store_mode mode,
                      wl_store **out)
{
    if (db_path && !*db_path)
        return wl_cli_usage_error(cmd, "--db needs a file name (it is empty)");
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = db_path;
    p.no_create = mode != WL_CLI_STORE_CREATE;
    p.read_only = mode == WL_CLI_STORE_READ_ONLY;
    /* a reader never migrates: an older schema is read through the store's
     * bridges, with the usual locks, and the file (which an older wattlens
     * may still use) stays as it was */
    p.no_migrate = mode == WL_CLI_STORE_READ;
    struct wl_errmsg e = {{0}};
    int rc = wl_store_open(&p, out, &e);
    if (rc == WL_EACCES && mode == WL_CLI_STORE_READ) {
        /* a file (or directory) this user cannot write: read it as it is */
        p.read_only = true;
        e = (struct wl_errmsg){{0}};
        rc = wl_store_open(&p, out, &e);
    }
    if (rc == WL_ENOENT && mode != WL_CLI_STORE_CREATE) {
        char def[WL_STORE_PATH_MAX];
        const char *path = db_path;
        struct stat st;
        if (!path && wl_store_default_path(def, sizeof def) == 0)
            path = def;
        if (path && stat(path, &st) == 0) /* there, but empty: the store says which way */
            return wl_cli_fail(cmd, "%s; `wattlens run` and `wattlens measure` create one there",
                               e.text);
        return wl_cli_fail(cmd,
                           "no run database at %s (nothing was recorded there yet: `wattlens "
                           "run` and `wattlens measure` create it; --db or WATTLENS_DB choose "
                           "another)",
                           path ? path : "the default path");
    }
    if (rc != 0)
        return wl_cli_fail(cmd, "cannot open the run database: %s",
                           e.text[0] ? e.text : wl_strerror(rc));
    wl__note_made_dirs(cmd, db_path, *out);
    return WL_EXIT_OK;
}

int wl_cli_check_run_id(const char *cmd, const char *arg)
{
    struct wl_errmsg e = {{0}};
    if (wl_store_check_id(arg, &e) == 0)
        return WL_EXIT_OK;
    return wl_cli_usage_error(cmd, "%s", e.text);
}

bool wl_cli_resolve_run(const char *cmd, wl_store *s, const char *arg, char *id_out)
{
    if (wl_store_resolve_id(s, arg, id_out) == 0)
        return true;
    wl_cli_fail(cmd, "%s", wl_store_last_error(s));
    return false;
}

/* The earliest time --since/--until can name: 0000-01-01T00:00:00Z, the
 * first instant the YYYY-MM-DD form writes. An age reaching further back
 * is refused rather than computed (it would overflow for 1e30 days). */
#define WL__TIME_MIN_MS (-62167219200000LL)

static bool wl__leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int wl__days_in_month(int y, int mo)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mo == 2 && wl__leap_year(y) ? 29 : days[mo - 1];
}

/* Exactly n decimal digits at *p into *out; advances *p. */
static bool wl__digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* An age as documented: decimal digits, optionally a '.' and more digits,
 * then one unit letter (m, h, d, w); no sign, exponent or hex. Its length
 * in ms into *ms; false when s does not have that shape. */
static bool wl__parse_age(const char *s, double *ms)
{
    static const char digits[] = "0123456789";
    size_t n = strspn(s, digits);
    if (n == 0)
        return false;
    if (s[n] == '.') {
        size_t frac = strspn(s + n + 1, digits);
        if (frac == 0)
            return false;
        n += 1 + frac;
    }
    double unit;
    switch (s[n]) {
    case 'm':
        unit = 60e3;
        break;
    case 'h':
        unit = 3600e3;
        break;
    case 'd':
        unit = 86400e3;
        break;
    case 'w':
        unit = 7 * 86400e3;
        break;
    default:
        return false;
    }
    if (s[n + 1] != '\0')
        return false;
    *ms = strtod(s, NULL) * unit; /* s is digits[.digits] then a letter: no surprise */
    return true;
}

/* YYYY-MM-DD, optionally followed by T or a space and HH:MM[:SS], then an
 * optional Z; every field its exact number of digits, every value valid
 * (February 29 in leap years only). Unix ms into *ms. */
static bool wl__parse_date(const char *s, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    const char *p = s;
    if (!wl__digits(&p, 4, &y) || *p++ != '-' || !wl__digits(&p, 2, &mo) || *p++ != '-' ||
        !wl__digits(&p, 2, &d))
        return false;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!wl__digits(&p, 2, &h) || *p++ != ':' || !wl__digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!wl__digits(&p, 2, &sec))
                return false;
        }
        if (*p == 'Z')
            p++;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > wl__days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 60)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = (int64_t)timegm(&tm) * 1000;
    return true;
}

int wl_cli_time_parse(const char *s, int64_t now_ms, int64_t *unix_ms)
{
    double age_ms;
    if (wl__parse_age(s, &age_ms)) {
        /* the first test keeps the conversion below defined for any now_ms */
        if (!(age_ms < 0x1p62) || (double)now_ms - age_ms < (double)WL__TIME_MIN_MS)
            return WL_ERANGE;
        *unix_ms = now_ms - (int64_t)age_ms;
        return 0;
    }
    return wl__parse_date(s, unix_ms) ? 0 : WL_EFORMAT;
}

bool wl_cli_parse_time(const char *cmd, const char *opt, const char *s, int64_t *unix_ms)
{
    const int64_t now_ms = (int64_t)(wl_clock_realtime_ns() / 1000000);
    int rc = s ? wl_cli_time_parse(s, now_ms, unix_ms) : WL_EFORMAT;
    if (rc == 0)
        return true;
    if (rc == WL_ERANGE)
        wl_cli_usage_error(cmd,
                           "age '%s' for %s reaches before the year 0000; give a smaller "
                           "age or a date (YYYY-MM-DD)",
                           s, opt);
    else
        wl_cli_usage_error(cmd,
                           "invalid time '%s' for %s (expected a date YYYY-MM-DD or "
                           "YYYY-MM-DDTHH:MM[:SS] in UTC, or an age: a number, fractions "
                           "allowed, and a unit m, h, d or w, like 90m, 1.5h, 7d)",
                           s ? s : "", opt);
    return false;
}

const char *wl_cli_format_date(int64_t unix_ms, char *buf, size_t size)
{
    /* the JSON's formatter cut to the minute, so the table and the JSON
     * agree: a time before 1970 rounded down (old: toward zero, so -1 ms
     * read 1970-01-01 00:00), "?" where the JSON has null (old: the table
     * wrote a year 10000 with five digits) */
    char iso[32];
    if (!wl_run_json_format_time(unix_ms, iso, sizeof iso) || strlen(iso) < 16) {
        snprintf(buf, size, "?");
        return buf;
    }
    iso[10] = ' ';
    snprintf(buf, size, "%.16s", iso);
    return buf;
}

const char *wl_cli_fmt(double v, int decimals, const char *unit, char *buf, size_t size)
{
    const char *sep = unit && *unit ? " " : "", *u = unit ? unit : "";
    if (isnan(v) || isinf(v)) {
        snprintf(buf, size, "n/a");
        return buf;
    }
    /* a huge value (another writer, a hand edit) in three significant
     * digits: %f would write all of its 300 digits and cut the unit off */
    if (fabs(v) >= 1e9) {
        snprintf(buf, size, "%.3g%s%s", v, sep, u);
        return buf;
    }
    snprintf(buf, size, "%.*f%s%s", decimals, v, sep, u);
    /* a value that is not zero is never shown as zero: when every digit
     * printed is 0, two significant digits instead (a 0.004 % share reads
     * "0.004", not "0.0") */
    if (v != 0 && strcspn(buf, "123456789") >= strcspn(buf, " "))
        snprintf(buf, size, "%.2g%s%s", v, sep, u);
    return buf;
}

const char *wl_cli_fmt_sig(double v, int digits, const char *unit, char *buf, size_t size)
{
    if (isnan(v) || isinf(v))
        snprintf(buf, size, "n/a");
    else
        snprintf(buf, size, "%.*g%s%s", digits, v, unit && *unit ? " " : "", unit ? unit : "");
    return buf;
}

const char *wl_cli_fmt_energy(double j, char *buf, size_t size)
{
    if (isnan(j) || isinf(j))
        return wl_cli_fmt(j, 0, NULL, buf, size);
    double a = fabs(j);
    if (a >= 1e4)
        return wl_cli_fmt(j / 1e3, 2, "kJ", buf, size);
    if (a >= 1 || a == 0)
        return wl_cli_fmt(j, 3, "J", buf, size);
    if (a >= 1e-3)
        return wl_cli_fmt(j * 1e3, 2, "mJ", buf, size);
    if (a >= 1e-6)
        return wl_cli_fmt(j * 1e6, 2, "uJ", buf, size);
    return wl_cli_fmt(j * 1e9, 2, "nJ", buf, size);
}

const char *wl_cli_fmt_duration(double ms, char *buf, size_t size)
{
    if (isnan(ms) || isinf(ms))
        return wl_cli_fmt(ms, 0, NULL, buf, size);
    double a = fabs(ms);
    if (a >= 120e3)
        return wl_cli_fmt(ms / 60e3, 1, "min", buf, size);
    if (a >= 1000)
        return wl_cli_fmt(ms / 1e3, 2, "s", buf, size);
    if (a >= 1 || a == 0)
        return wl_cli_fmt(ms, 2, "ms", buf, size);
    if (a >= 1e-3)
        return wl_cli_fmt(ms * 1e3, 2, "us", buf, size);
    return wl_cli_fmt(ms * 1e6, 2, "ns", buf, size);
}

const char *wl_cli_fmt_bytes(int64_t bytes, char *buf, size_t size)
{
    if (bytes < 0)
        return wl_cli_fmt(NAN, 0, NULL, buf, size);
    if (bytes < 1024) {
        snprintf(buf, size, "%lld B", (long long)bytes);
        return buf;
    }
    static const char *const unit[] = {"KiB", "MiB", "GiB"};
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof unit / sizeof unit[0]) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, size, "%.2f %s", v, unit[u]);
    return buf;
}

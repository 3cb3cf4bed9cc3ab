/* CLI helpers for the commands that use the run store; see cli_store.h. */
#include "cli_store.h"

#include "cli.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void wl_cli_store_opts_init(struct wl_cli_store_opts *o, const char *cmd, void (*usage)(FILE *out))
{
    *o = (struct wl_cli_store_opts){.cmd = cmd, .usage = usage, .exit_status = WL_EXIT_OK};
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
        o->usage(stdout);
        o->exit_status = WL_EXIT_OK;
        return false;
    default:
        o->exit_status = wl_cli_option_error(o->cmd, c, argv);
        return false;
    }
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
        if (!path && wl_store_default_path(def, sizeof def) == 0)
            path = def;
        return wl_cli_fail(cmd,
                           "no run database at %s (nothing was recorded there yet: `wattlens "
                           "run` and `wattlens measure` create it; --db or WATTLENS_DB choose "
                           "another)",
                           path ? path : "the default path");
    }
    if (rc != 0)
        return wl_cli_fail(cmd, "cannot open the run database: %s",
                           e.text[0] ? e.text : wl_strerror(rc));
    return WL_EXIT_OK;
}

bool wl_cli_resolve_run(const char *cmd, wl_store *s, const char *arg, char *id_out)
{
    if (wl_store_resolve_id(s, arg, id_out) == 0)
        return true;
    wl_cli_fail(cmd, "%s", wl_store_last_error(s));
    return false;
}

bool wl_cli_parse_time(const char *cmd, const char *opt, const char *s, int64_t *unix_ms)
{
    char *end = NULL;
    if (s && *s >= '0' && *s <= '9') {
        double n = strtod(s, &end);
        double unit = 0;
        if (end && end[0] && !end[1]) {
            switch (end[0]) {
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
                break;
            }
        }
        if (unit > 0 && isfinite(n) && n >= 0) {
            *unix_ms = wl_clock_realtime_ns() / 1000000 - (int64_t)(n * unit);
            return true;
        }
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    bool ok = false;
    if (s && sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) == 3) {
        const char *rest = s + used;
        if (*rest == '\0') {
            ok = true;
        } else if (*rest == 'T' || *rest == ' ') {
            int u2 = 0;
            if (sscanf(rest + 1, "%2d:%2d%n", &h, &mi, &u2) == 2) {
                rest += 1 + u2;
                int u3 = 0;
                if (*rest == ':' && sscanf(rest + 1, "%2d%n", &sec, &u3) == 1)
                    rest += 1 + u3;
                if (*rest == 'Z')
                    rest++;
                ok = *rest == '\0';
            }
        }
        ok = ok && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h <= 23 && mi >= 0 &&
             mi <= 59 && sec >= 0 && sec <= 60;
    }
    if (!ok) {
        wl_cli_usage_error(cmd,
                           "invalid time '%s' for %s (expected YYYY-MM-DD, "
                           "YYYY-MM-DDTHH:MM[:SS] in UTC, or an age like 12h or 7d)",
                           s ? s : "", opt);
        return false;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *unix_ms = (int64_t)timegm(&tm) * 1000;
    return true;
}

const char *wl_cli_format_date(int64_t unix_ms, char *buf, size_t size)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, size, "?");
    return buf;
}

const char *wl_cli_fmt(double v, int decimals, const char *unit, char *buf, size_t size)
{
    const char *sep = unit && *unit ? " " : "", *u = unit ? unit : "";
    if (isnan(v) || isinf(v)) {
        snprintf(buf, size, "n/a");
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

/* Fuzz target: the CLI's option value parsers (cli/, compiled into this
 * target by cmake/extra/cli_fuzz.cmake): --since/--until times
 * (wl_cli_time_parse, with a "now" picked from four, the range's ends
 * included), strict integers and numbers (wl_cli_parse_long/double, within
 * a few bounds) and detokenize's id lists (wl_cli_ids_parse). The first
 * byte picks the parser and its parameters; the rest is the argument.
 * Checks, trapping on failure: a rejected value leaves the output
 * untouched; an accepted time lies from year 0000 on, an age is now minus
 * the age (never after now), and a date written back as
 * YYYY-MM-DDTHH:MM:SSZ parses to the same instant; an integer is accepted
 * exactly when it is -?[0-9]+ within its bounds (no blank, no '+'); a
 * number exactly when it is a decimal -?(D+.?D*|.D+)([eE][+-]?D+)? whose
 * value is within its bounds (no hex, inf or nan), and round-trips
 * through printf; an id list written
 * back with commas parses to the same ids, and a rejected one names a
 * token of the input that is not an id and keeps the ids before it.
 * The parsers' usage messages go to stderr (run with -close_fd_mask=2).
 */
#include "cli.h"
#include "cli_ids.h"
#include "cli_store.h"

#include "wattlens/error.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define TIME_MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00Z */

static void check_time(const char *s, unsigned sel)
{
    static const int64_t nows[4] = {1700000000000LL, 0, 253402300799000LL, TIME_MIN_MS};
    const int64_t now = nows[sel % 4];
    int64_t t = 42;
    int rc = wl_cli_time_parse(s, now, &t);
    if (rc != 0) {
        CHECK(rc == WL_EFORMAT || rc == WL_ERANGE);
        CHECK(t == 42);
        return;
    }
    CHECK(t >= TIME_MIN_MS);
    size_t n = strlen(s);
    char unit = n ? s[n - 1] : 0;
    if (unit == 'm' || unit == 'h' || unit == 'd' || unit == 'w') {
        CHECK(t <= now); /* an age: back from now */
        return;
    }
    /* a date: whole seconds, and written back it is the same instant */
    CHECK(t % 1000 == 0);
    time_t sec = (time_t)(t / 1000);
    struct tm tm;
    CHECK(gmtime_r(&sec, &tm) != NULL);
    if (tm.tm_year + 1900 > 9999) { /* only 9999-12-31T23:59:60 (a leap second) gets there */
        CHECK(strstr(s, "9999-12-31") == s && strstr(s, ":59:60") != NULL);
        return;
    }
    char text[64];
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    int64_t again = 0;
    CHECK(wl_cli_time_parse(text, now, &again) == 0 && again == t);
}

static void check_long(const char *s, unsigned sel)
{
    static const long bounds[4][2] = {{0, LONG_MAX}, {1, 512}, {-5, 5}, {LONG_MIN, LONG_MAX}};
    const long *b = bounds[sel % 4];
    /* the harness's own reading: -?[0-9]+ within the bounds */
    const char *digits = *s == '-' ? s + 1 : s;
    const bool plain = *digits && strspn(digits, "0123456789") == strlen(digits);
    errno = 0;
    const long mine = plain ? strtol(s, NULL, 10) : 0;
    const bool fits = plain && errno == 0 && mine >= b[0] && mine <= b[1];
    long v = 42;
    if (!wl_cli_parse_long("fuzz", "--n", s, b[0], b[1], &v)) {
        CHECK(v == 42);
        CHECK(!fits);
        return;
    }
    CHECK(fits && v == mine);
    char text[32];
    snprintf(text, sizeof text, "%ld", v);
    long again = 0;
    CHECK(wl_cli_parse_long("fuzz", "--n", text, b[0], b[1], &again) && again == v);
}

/* The harness's own reading of a decimal number, written apart from the
 * parser's: -?(D+\.?D*|\.D+)([eE][+-]?D+)? with D a digit, the whole of s. */
static bool decimal_number(const char *s)
{
    const char *p = s + (*s == '-');
    size_t whole = strspn(p, "0123456789");
    p += whole;
    size_t frac = 0;
    if (*p == '.') {
        p++;
        frac = strspn(p, "0123456789");
        p += frac;
    }
    if (whole == 0 && frac == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t exp = strspn(p, "0123456789");
        if (exp == 0)
            return false;
        p += exp;
    }
    return *p == '\0';
}

static void check_double(const char *s, unsigned sel)
{
    static const double bounds[4][2] = {{0, 1e9}, {0, 1}, {-1e308, 1e308}, {1e-3, 3600}};
    const double *b = bounds[sel % 4];
    /* accepted exactly when decimal_number (no blank, '+' first, hex, inf
     * or nan) and its value (an underflow is the nearest value, an
     * overflow is none) is within the bounds */
    const double mine = decimal_number(s) ? strtod(s, NULL) : NAN;
    const bool fits = isfinite(mine) && mine >= b[0] && mine <= b[1];
    double v = 42;
    if (!wl_cli_parse_double("fuzz", "--x", s, b[0], b[1], &v)) {
        CHECK(v == 42);
        CHECK(!fits);
        return;
    }
    CHECK(fits && v == mine);
    char text[64];
    snprintf(text, sizeof text, "%.17g", v);
    double again = 0;
    CHECK(wl_cli_parse_double("fuzz", "--x", text, b[0], b[1], &again) && again == v);
}

static void check_ids(const char *s)
{
    struct wl_cli_ids l = {0};
    const char *bad = NULL;
    size_t bad_len = 0;
    int rc = wl_cli_ids_parse(&l, s, &bad, &bad_len);
    if (rc == WL_ENOMEM) {
        wl_cli_ids_free(&l);
        return;
    }
    for (size_t i = 0; i < l.n; i++)
        CHECK(l.v[i] >= 0);
    size_t stop = strlen(s);
    if (rc != 0) {
        CHECK(rc == WL_EINVAL);
        /* a whole token of s, not an id */
        CHECK(bad >= s && bad + bad_len <= s + stop && bad_len > 0);
        CHECK(bad == s || strchr(" \t\n\r\v\f,", bad[-1]) != NULL);
        CHECK(bad[bad_len] == '\0' || strchr(" \t\n\r\v\f,", bad[bad_len]) != NULL);
        char *tok = strndup(bad, bad_len);
        struct wl_cli_ids one = {0};
        const char *b2;
        size_t l2;
        CHECK(tok && wl_cli_ids_parse(&one, tok, &b2, &l2) == WL_EINVAL && b2 == tok);
        free(tok);
        wl_cli_ids_free(&one);
        stop = (size_t)(bad - s);
    }
    /* the ids (all of them, or those before the bad token) written back */
    char *text = malloc(l.n * 12 + 1);
    CHECK(text);
    size_t len = 0;
    for (size_t i = 0; i < l.n; i++)
        len += (size_t)sprintf(text + len, "%s%d", i ? "," : "", (int)l.v[i]);
    text[len] = '\0';
    struct wl_cli_ids again = {0};
    const char *b3;
    size_t l3;
    CHECK(wl_cli_ids_parse(&again, text, &b3, &l3) == 0 && again.n == l.n);
    CHECK(l.n == 0 || memcmp(again.v, l.v, l.n * sizeof l.v[0]) == 0);
    /* the prefix before a bad token alone gives the same ids */
    char *prefix = strndup(s, stop);
    struct wl_cli_ids pre = {0};
    CHECK(prefix && wl_cli_ids_parse(&pre, prefix, &b3, &l3) == 0 && pre.n == l.n);
    free(prefix);
    free(text);
    wl_cli_ids_free(&pre);
    wl_cli_ids_free(&again);
    wl_cli_ids_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = data[0] & 3, sel = data[0] >> 2;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (mode) {
    case 0:
        check_time(s, sel);
        break;
    case 1:
        check_long(s, sel);
        break;
    case 2:
        check_double(s, sel);
        break;
    default:
        check_ids(s);
        break;
    }
    free(s);
    return 0;
}

/* Fuzz target: the /proc/PID/stat parser (util/proc_stat.h) shared by the
 * CPU-time model and the store's writer tokens. The first byte picks the
 * mode (its value mod 2):
 *   0 text: the rest, NUL-terminated, as a stat line;
 *   1 built: a line the harness writes in the kernel's format from the rest:
 *     ppid (8 bytes), four CPU times and the start time (8 bytes each, each
 *     shifted right by the next byte mod 64), where the line ends (a byte:
 *     after field 17..21 with or without spaces and a newline, after field
 *     22, or all 52 fields), a field 18..25 to spoil and how (a byte; 23..25
 *     are past field 22 and never read), then up to 64 bytes of command name (NUL bytes
 *     become ')').
 * Checks, trapping on failure: a rejected text leaves the output untouched
 * with WL_EFORMAT or WL_ERANGE; the verdict, the code and every number are
 * exactly those of the harness's own reading of the format (split the line
 * after the last ')' at spaces); an accepted line round-trips through the
 * kernel's format; a built line parses to exactly the numbers written,
 * without a start time exactly when it ends before field 22, WL_ERANGE
 * exactly when the CPU times' sum or the start time overflows, and a spoilt
 * field is refused unless the kernel could write it there (a negative or
 * overlong number in an unused field).
 */
#include "util/proc_stat.h"

#include "wattlens/error.h"

#include "fuzz_input.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static const struct wl__proc_stat SENTINEL = {-7, 0x5eed5eed5eed5eedull, 0x5eedull, true, 0x5e};

static bool same(const struct wl__proc_stat *a, const struct wl__proc_stat *b)
{
    return a->ppid == b->ppid && a->cpu_ticks == b->cpu_ticks && a->start_ticks == b->start_ticks &&
           a->has_start == b->has_start && a->state == b->state;
}

/* One field as the harness reads it: an optional '-', decimal digits, nothing
 * else. used: a field whose value is read (an overflow is then WL_ERANGE,
 * and comes before a bad character after the digits, as in the parser). */
static int oracle_field(const char *t, bool used, bool *neg, uint64_t *v)
{
    *neg = *t == '-';
    if (*neg)
        t++;
    if (*t < '0' || *t > '9')
        return WL_EFORMAT;
    bool over = false;
    uint64_t x = 0;
    for (; *t >= '0' && *t <= '9'; t++)
        over |= __builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *t - '0', &x);
    if (over && used)
        return WL_ERANGE;
    if (*t != '\0')
        return WL_EFORMAT;
    *v = x;
    return 0;
}

/* The format of proc_stat.h read another way: the line after the last ')'
 * up to its first newline, split at runs of spaces. */
static int oracle(const char *s, struct wl__proc_stat *out)
{
    const char *p = strrchr(s, ')');
    if (!p)
        return WL_EFORMAT;
    p++;
    if (*p != ' ')
        return WL_EFORMAT;
    char *line = strndup(p, strcspn(p, "\n"));
    if (!line)
        abort();
    struct wl__proc_stat r = {0, 0, 0, false, 0};
    int field = 3, rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t && field <= 22 && rc == 0;
         t = strtok_r(NULL, " ", &save), field++) {
        if (field == 3) {
            r.state = t[0];
            continue;
        }
        const bool used = field == 4 || (field >= 14 && field <= 17) || field == 22;
        bool neg;
        uint64_t v = 0;
        rc = oracle_field(t, used, &neg, &v);
        if (rc != 0)
            break;
        if (field == 4) {
            if (neg || v > INT32_MAX)
                rc = WL_EFORMAT;
            r.ppid = (pid_t)v;
        } else if (field >= 14 && field <= 17 && !neg) {
            if (__builtin_add_overflow(r.cpu_ticks, v, &r.cpu_ticks))
                rc = WL_ERANGE;
        } else if (field == 22) {
            if (neg)
                rc = WL_EFORMAT;
            r.start_ticks = v;
            r.has_start = true;
        }
    }
    free(line);
    if (rc == 0 && field <= 17)
        rc = WL_EFORMAT; /* the line ended before field 17 */
    if (rc == 0)
        *out = r;
    return rc;
}

/* A stat line in the kernel's format with these numbers; no start time:
 * it ends after field 17. */
static void write_line(char *text, size_t size, const struct wl__proc_stat *st)
{
    int n = snprintf(text, size, "42 (x) S %d 42 42 0 -1 4194560 1 0 0 0 %" PRIu64 " 0 0 0",
                     (int)st->ppid, st->cpu_ticks);
    if (st->has_start)
        snprintf(text + n, size - (size_t)n, " 20 0 1 0 %" PRIu64 " 10000 200\n", st->start_ticks);
    else
        snprintf(text + n, size - (size_t)n, "\n");
}

static void check_text(const char *s)
{
    struct wl__proc_stat got = SENTINEL, want = SENTINEL;
    const int rc = wl__proc_stat_parse(s, &got);
    CHECK(rc == oracle(s, &want));
    CHECK(same(&got, &want));
    if (rc != 0) {
        CHECK(rc == WL_EFORMAT || rc == WL_ERANGE);
        return;
    }
    CHECK(got.ppid >= 0 && (got.has_start || got.start_ticks == 0));
    char text[256];
    write_line(text, sizeof text, &got);
    struct wl__proc_stat again = SENTINEL, written = got;
    written.state = 'S'; /* as write_line writes it */
    CHECK(wl__proc_stat_parse(text, &again) == 0 && same(&again, &written));
}

/* How a built line spoils a field, and whether the parser may take it in
 * an unused field (18-21) and in field 22 (0, or the code it must give). */
static const struct spoil {
    const char *text;
    int unused_rc, start_rc;
} SPOILS[] = {
    {"x", WL_EFORMAT, WL_EFORMAT},
    {"12x", WL_EFORMAT, WL_EFORMAT},
    {"-", WL_EFORMAT, WL_EFORMAT},
    {"+5", WL_EFORMAT, WL_EFORMAT},
    {"0x10", WL_EFORMAT, WL_EFORMAT},
    {"1\t2", WL_EFORMAT, WL_EFORMAT},
    {"-7", 0, WL_EFORMAT},
    {"18446744073709551616", 0, WL_ERANGE},
    {"99999999999999999999999x", WL_EFORMAT, WL_ERANGE},
    {"-99999999999999999999999", 0, WL_ERANGE},
};

static void check_built(const uint8_t *data, size_t n_data)
{
    struct wl_fuzz_input in = {data, n_data};
    const pid_t ppid = (pid_t)(wl_fuzz_take_u64(&in) & 0x7fffffff);
    uint64_t v[5]; /* utime, stime, cutime, cstime, starttime */
    for (int i = 0; i < 5; i++) {
        v[i] = wl_fuzz_take_u64(&in);
        v[i] >>= wl_fuzz_take_u8(&in) % 64;
    }
    const unsigned how_end = wl_fuzz_take_u8(&in);
    const unsigned how_spoil = wl_fuzz_take_u8(&in);
    /* the line ends after field last (17..22; 23: all 52 fields) */
    const int last = 17 + (int)(how_end % 7);
    const int spoilt = 18 + (int)(how_spoil % 8); /* 23..25: after 22, never read */
    const struct spoil *sp = &SPOILS[(how_spoil / 8) % (sizeof SPOILS / sizeof SPOILS[0])];
    char comm[65];
    size_t cl = 0;
    for (; cl < in.n && cl < 64; cl++)
        comm[cl] = in.p[cl] ? (char)in.p[cl] : ')';
    comm[cl] = '\0';

    char text[1024];
    int len = snprintf(text, sizeof text,
                       "1234 (%s) R %d 1234 1234 34816 1234 4194304 100 0 0 0 %" PRIu64 " %" PRIu64
                       " %" PRIu64 " %" PRIu64,
                       comm, (int)ppid, v[0], v[1], v[2], v[3]);
    const char *const after[] = {"20", "0", "1", "0"}; /* fields 18-21 */
    for (int f = 18; f <= 52 && f <= (last == 23 ? 52 : last); f++) {
        char num[32];
        const char *t = num;
        if (f == spoilt)
            t = sp->text;
        else if (f <= 21)
            t = after[f - 18];
        else if (f == 22)
            snprintf(num, sizeof num, "%" PRIu64, v[4]);
        else
            snprintf(num, sizeof num, "%d", f * 1000);
        len += snprintf(text + len, sizeof text - (size_t)len, " %s", t);
    }
    /* where it ends early: spaces, a newline, both or neither */
    static const char *const ends[] = {"\n", "", " \n", "  "};
    snprintf(text + len, sizeof text - (size_t)len, "%s", ends[(how_end / 8) % 4]);

    uint64_t sum = 0;
    bool over = false;
    for (int i = 0; i < 4; i++)
        over |= __builtin_add_overflow(sum, v[i], &sum);
    int want_rc = 0;
    if (over)
        want_rc = WL_ERANGE;
    else if (spoilt <= 22 && spoilt <= last)
        want_rc = spoilt == 22 ? sp->start_rc : sp->unused_rc;

    struct wl__proc_stat got = SENTINEL;
    const int rc = wl__proc_stat_parse(text, &got);
    CHECK(rc == want_rc);
    if (rc != 0) {
        CHECK(same(&got, &SENTINEL));
        return;
    }
    const bool has_start = last >= 22;
    CHECK(got.ppid == ppid && got.cpu_ticks == sum && got.has_start == has_start);
    CHECK(got.start_ticks == (has_start ? v[4] : 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const unsigned mode = data[0] % 2;
    data++;
    size--;
    if (mode == 1) {
        check_built(data, size);
        return 0;
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_text(s);
    free(s);
    return 0;
}

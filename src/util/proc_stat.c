/* /proc/PID/stat into numbers; see proc_stat.h. Numbers are read digit by
 * digit rather than with strtoull/sscanf, which accept signs, "0x" and
 * leading white space of any kind and (sscanf) overflow with undefined
 * behaviour, none of which the kernel writes. Strict on purpose: a line of
 * another shape is refused whole rather than read as far as it looks right,
 * since a start time read from the wrong field would make a live writer
 * look dead (store) and wrong ticks a wrong estimate (cpu_model).
 */
#include "util/proc_stat.h"

#include "util/parse_num.h"
#include "wattlens/error.h"

#include <string.h>

/* An integer field at *p: an optional '-' (*neg), then at least one decimal
 * digit before end; *v is the magnitude. Advances *p past the sign and all the digits.
 * WL_EFORMAT when there is no digit, WL_ERANGE when the magnitude exceeds
 * UINT64_MAX (*v then unspecified). */
static int int_field(const char **p, const char *end, bool *neg, uint64_t *v)
{
    const char *s = *p;
    *neg = *s == '-';
    if (*neg)
        s++;
    const int rc = wl_parse_u64_digits(&s, end, v);
    if (rc != WL_EFORMAT)
        *p = s;
    return rc;
}

static bool ends_line(char c)
{
    return c == '\0' || c == '\n';
}

int wl__proc_stat_parse(const char *s, struct wl__proc_stat *out)
{
    const char *p = strrchr(s, ')'), *const end = s + strlen(s);
    if (!p)
        return WL_EFORMAT;
    p++;
    /* fields after the command: 3 state, 4 ppid, 5-13 (not used), 14 utime,
     * 15 stime, 16 cutime, 17 cstime, 18-21 (not used), 22 starttime; then
     * 23-52, not read */
    uint64_t ppid = 0, sum = 0, start = 0;
    bool has_start = false;
    char state = 0;
    for (int field = 3; field <= 22; field++) {
        if (field > 17 && ends_line(*p))
            break;
        if (*p != ' ')
            return WL_EFORMAT;
        while (*p == ' ')
            p++;
        if (field > 17 && ends_line(*p))
            break; /* spaces at the end of the line */
        if (field == 3) {
            if (ends_line(*p))
                return WL_EFORMAT;
            state = *p;
            while (*p != ' ' && !ends_line(*p))
                p++;
            continue;
        }
        const bool used = field == 4 || (field >= 14 && field <= 17) || field == 22;
        bool neg;
        uint64_t v = 0;
        int rc = int_field(&p, end, &neg, &v);
        if (rc == WL_ERANGE && !used)
            rc = 0; /* only its shape matters */
        if (rc != 0)
            return rc;
        if (*p != ' ' && !ends_line(*p))
            return WL_EFORMAT;
        if (field == 4) {
            if (neg || v > INT32_MAX)
                return WL_EFORMAT;
            ppid = v;
        } else if (field >= 14 && field <= 17) {
            if (!neg) {
                if (v > UINT64_MAX - sum)
                    return WL_ERANGE;
                sum += v;
            }
        } else if (field == 22) {
            if (neg)
                return WL_EFORMAT;
            start = v;
            has_start = true;
        }
    }
    out->state = state;
    out->ppid = (pid_t)ppid;
    out->cpu_ticks = sum;
    out->start_ticks = start;
    out->has_start = has_start;
    return 0;
}

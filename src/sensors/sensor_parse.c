/* Pure parsers for sysfs, procfs and environment text read by the sensor
 * backends; see sensor_parse.h. Numbers are read digit by digit rather than
 * with strtoull/sscanf: those accept signs, "0x", leading white space of any
 * kind and (sscanf) overflow with undefined behaviour, none of which a
 * kernel file holds.
 */
#include "sensors/sensor_parse.h"

#include "sensors/sensor.h"
#include "util/parse_num.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The end of the NUL-terminated s, for wl_parse_u64_digits. */
static const char *str_end(const char *s)
{
    return s + strlen(s);
}

int wl__sysfs_parse_u64(const char *s, size_t n, uint64_t *out)
{
    const char *p = s, *end = s + n;
    while (p != end && (*p == ' ' || *p == '\t'))
        p++;
    uint64_t v = 0;
    int rc = wl_parse_u64_digits(&p, end, &v);
    if (rc == WL_EFORMAT)
        return rc;
    while (p != end && (*p == '\n' || *p == ' '))
        p++;
    if (p != end)
        return WL_EFORMAT;
    if (rc != 0)
        return rc;
    *out = v;
    return 0;
}

/* A zone number as the kernel writes it: "0", or digits without a leading
 * zero, at most 4096. */
static int zone_number(const char **p, int *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (wl_parse_u64_digits(p, str_end(s), &v) != 0 || v > 4096 || (*s == '0' && *p - s > 1))
        return WL_EFORMAT;
    *out = (int)v;
    return 0;
}

int wl__powercap_parse_zone_id(const char *name, int *pkg, int *sub)
{
    static const char prefix[] = "intel-rapl:";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return WL_EFORMAT;
    const char *p = name + sizeof prefix - 1;
    int a, b = -1;
    if (zone_number(&p, &a) != 0)
        return WL_EFORMAT;
    if (*p == ':') {
        p++;
        if (zone_number(&p, &b) != 0)
            return WL_EFORMAT;
    }
    if (*p != '\0')
        return WL_EFORMAT;
    *pkg = a;
    *sub = b;
    return 0;
}

int wl__sensor_parse_watts(const char *s, double *out)
{
    /* the grammar and bound of measure --model-idle-w / --model-core-w */
    return wl_parse_decimal(s, 0, WL_MODEL_MAX_W, out) == 0 ? 0 : WL_EFORMAT;
}

int wl__proc_parse_stat_cpu(const char *s, uint64_t *busy_ticks)
{
    if (strncmp(s, "cpu ", 4) != 0)
        return WL_EFORMAT;
    const char *p = s + 3, *end = str_end(s);
    uint64_t v[8] = {0};
    unsigned n = 0;
    /* user nice system idle iowait irq softirq steal; later fields (guest,
     * guest_nice, ...) are not read: the kernel counts a guest's time in
     * user (and guest_nice's in nice) already */
    while (n < 8 && *p == ' ') {
        while (*p == ' ')
            p++;
        if (*p == '\n' || *p == '\0')
            break;
        int rc = wl_parse_u64_digits(&p, end, &v[n]);
        if (rc != 0)
            return rc;
        if (*p != ' ' && *p != '\n' && *p != '\0')
            return WL_EFORMAT;
        n++;
    }
    if (n < 7)
        return WL_EFORMAT;
    /* the time this machine's CPUs ran: steal (7) is time a hypervisor ran
     * another tenant instead of this VM's vCPUs, which /proc/PID/stat's
     * utime+stime (the tree scope) and the process clock (self) leave out
     * too; counted, the whole-system estimate rose with the neighbours'
     * load */
    const unsigned busy[] = {0, 1, 2, 5, 6};
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++) {
        if (v[busy[i]] > UINT64_MAX - sum)
            return WL_ERANGE;
        sum += v[busy[i]];
    }
    *busy_ticks = sum;
    return 0;
}

int wl__proc_parse_pids(const char *s, pid_t *pids, size_t max)
{
    const char *p = s, *end = str_end(s);
    size_t n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (*p == '\0')
            break;
        uint64_t v = 0;
        if (wl_parse_u64_digits(&p, end, &v) != 0 || v == 0 || v > INT32_MAX)
            return WL_EFORMAT;
        if (*p != ' ' && *p != '\n' && *p != '\0')
            return WL_EFORMAT;
        if (n < max)
            pids[n] = (pid_t)v;
        if (n == INT32_MAX)
            return WL_EFORMAT; /* cannot be counted in the return value */
        n++;
    }
    return (int)n;
}

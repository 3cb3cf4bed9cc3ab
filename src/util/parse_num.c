/* Decimal digits and decimal reals; see parse_num.h. */
#include "util/parse_num.h"

#include "wattlens/error.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int wl_parse_u64_digits(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    if (s == end || *s < '0' || *s > '9')
        return WL_EFORMAT;
    uint64_t x = 0;
    bool over = false;
    for (; s != end && *s >= '0' && *s <= '9'; s++) {
        const unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            over = true;
        else
            x = x * 10 + d;
    }
    *p = s;
    *v = x;
    return over ? WL_ERANGE : 0;
}

int wl_parse_decimal(const char *s, double min, double max, double *out)
{
    /* strtod alone would take leading blanks, a '+', hex ("0x1p-1" is 0.5),
     * "inf" and "nan"; a first character that starts a number and only
     * digits, '.', an exponent and signs after it leave the decimal forms,
     * and strtod's end says whether they made one number */
    const char *p = s + (*s == '-');
    if (!((*p >= '0' && *p <= '9') || *p == '.') || s[strspn(s, "0123456789.eE+-")] != '\0')
        return WL_EFORMAT;
    char *end = NULL;
    const int saved = errno;
    errno = 0;
    const double v = strtod(s, &end);
    /* ERANGE for an underflow (1e-320, a denormal, or 1e-400, 0) still gives
     * the nearest value; for an overflow it gives HUGE_VAL */
    const bool bad_range = errno == ERANGE && !(fabs(v) <= DBL_MIN);
    errno = saved;
    if (end == s || *end != '\0')
        return WL_EFORMAT;
    if (bad_range || !isfinite(v) || v < min || v > max)
        return WL_ERANGE;
    *out = v;
    return 0;
}

/* Decimal digits; see parse_num.h. */
#include "util/parse_num.h"

#include "wattlens/error.h"

#include <stdbool.h>

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

/* Rows of a run writer's batch, counted and described; see
 * sqlite_rowcount.h. */
#include "store/sqlite_rowcount.h"

#include "wattlens/energy.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Adds the extra field key (len bytes) to x, unless it is there. */
void wl__rows_extra(struct wl__rows *x, const char *key, size_t len)
{
    const size_t have = strlen(x->extra);
    for (const char *p = x->extra; *p;) {
        const size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, key, len) == 0)
            return;
        p += p[n] ? n + 1 : n;
    }
    if (have + (have ? 1 : 0) + len >= sizeof x->extra) {
        x->n_extra_cut++;
        return;
    }
    snprintf(x->extra + have, sizeof x->extra - have, "%s%.*s", have ? "," : "", (int)len, key);
}

void wl__rows_add(struct wl__rows *to, const struct wl__rows *from)
{
    if (from->n[WL__ROWS_TOKEN] > 0) {
        const bool first = to->n[WL__ROWS_TOKEN] == 0;
        to->token_lo = first || from->token_lo < to->token_lo ? from->token_lo : to->token_lo;
        to->token_hi = first || from->token_hi > to->token_hi ? from->token_hi : to->token_hi;
    }
    for (int k = 0; k < WL__ROWS_KINDS; k++)
        to->n[k] += from->n[k];
    to->domains |= from->domains;
    for (const char *p = from->extra; *p;) {
        const size_t n = strcspn(p, ",");
        wl__rows_extra(to, p, n);
        p += p[n] ? n + 1 : n;
    }
    to->n_extra_cut += from->n_extra_cut;
}

void wl__rows_token(struct wl__rows *x, int64_t index)
{
    if (x->n[WL__ROWS_TOKEN]++ == 0 || index < x->token_lo)
        x->token_lo = index;
    if (x->n[WL__ROWS_TOKEN] == 1 || index > x->token_hi)
        x->token_hi = index;
}

/* Appends printf text at buf + *n (size bytes in all), cut at the end. */
static void wl__cat(char *buf, size_t size, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void wl__cat(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
    if (*n + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    const int w = vsnprintf(buf + *n, size - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n = (size_t)w < size - *n ? *n + (size_t)w : size - 1;
}

/* "12 power samples, 5 tokens (indices 40-44), 120 layer rows, 1 domain
 * row (package), the run's extra fields currency, kv_cache_type" into buf:
 * the kinds with rows, or "no rows". */
const char *wl__rows_describe(const struct wl__rows *x, char *buf, size_t size)
{
    static const char *const what[WL__ROWS_KINDS] = {"power sample", "section",       "token",
                                                     "layer row",    "component row", "op row"};
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < WL__ROWS_KINDS; k++) {
        if (x->n[k] == 0)
            continue;
        wl__cat(buf, size, &n, "%s%lld %s%s", n ? ", " : "", (long long)x->n[k], what[k],
                x->n[k] == 1 ? "" : "s");
        if (k == WL__ROWS_TOKEN)
            wl__cat(buf, size, &n, " (indices %lld-%lld)", (long long)x->token_lo,
                    (long long)x->token_hi);
    }
    int n_domains = 0;
    for (int dm = 0; dm < WL_DOMAIN_COUNT; dm++)
        n_domains += (x->domains >> dm) & 1u;
    for (int dm = 0, i = 0; dm < WL_DOMAIN_COUNT; dm++) {
        if (!((x->domains >> dm) & 1u))
            continue;
        if (i++ == 0)
            wl__cat(buf, size, &n, "%s%d domain row%s (", n ? ", " : "", n_domains,
                    n_domains == 1 ? "" : "s");
        wl__cat(buf, size, &n, "%s%s%s", i > 1 ? ", " : "", wl_domain_name((enum wl_domain)dm),
                i == n_domains ? ")" : "");
    }
    if (x->extra[0] || x->n_extra_cut > 0) {
        const bool one = !strchr(x->extra, ',') && x->n_extra_cut == 0;
        wl__cat(buf, size, &n, "%sthe run's extra field%s ", n ? ", " : "", one ? "" : "s");
        for (const char *p = x->extra; *p;) {
            const size_t len = strcspn(p, ",");
            wl__cat(buf, size, &n, "%s%.*s", p == x->extra ? "" : ", ", (int)len, p);
            p += p[len] ? len + 1 : len;
        }
        if (x->n_extra_cut > 0)
            wl__cat(buf, size, &n, "%s%lld more", x->extra[0] ? " and " : "",
                    (long long)x->n_extra_cut);
    }
    if (n == 0)
        snprintf(buf, size, "no rows");
    return buf;
}

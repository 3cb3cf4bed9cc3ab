/* Rows of a run writer's batch, counted and described; see
 * sqlite_rowcount.h. */
#include "store/sqlite_rowcount.h"

#include "util/siphash.h"
#include "wattlens/energy.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The key at *p in a comma-joined list (extra): its start, its length in
 * *len, and *p moved past it; NULL at the end of the list. */
static const char *wl__next_key(const char **p, size_t *len)
{
    if (**p == '\0')
        return NULL;
    const char *key = *p;
    *len = strcspn(key, ",");
    *p = key[*len] ? key + *len + 1 : key + *len;
    return key;
}

/* A key's fingerprint, what the keys that did not fit are remembered by.
 * A fixed SipHash key: the keys come from the program; two keys whose
 * 64-bit hashes collide would be counted as one. */
static uint64_t wl__key_hash(const char *key, size_t len)
{
    static const uint64_t k[2] = {0x77617474u, 0x6c656e73u};
    return wl_siphash13(k, key, len);
}

/* Whether x has the key whose hash is h: named in extra (compared by
 * bytes, or by hash when the key itself is gone, key NULL: a key another
 * count remembers only as cut), or remembered as cut. */
static bool wl__rows_has(const struct wl__rows *x, const char *key, size_t len, uint64_t h)
{
    size_t n;
    for (const char *p = x->extra, *k; (k = wl__next_key(&p, &n));)
        if (key ? n == len && memcmp(k, key, len) == 0 : wl__key_hash(k, n) == h)
            return true;
    for (int64_t i = 0; i < x->n_extra_cut; i++)
        if (x->cut[i] == h)
            return true;
    return false;
}

/* Counts a key that did not fit in x->extra (hash h; the key itself, or
 * NULL when only its hash is known), unless x has it. With
 * WL__ROWS_CUT_KEYS remembered, a new one is not: whether a later key is
 * it again cannot be told, so the count stops and is only a lower bound
 * (old: each such key was counted as it came, 24 for 20 keys set twice). */
static void wl__rows_cut(struct wl__rows *x, const char *key, size_t len, uint64_t h)
{
    if (wl__rows_has(x, key, len, h))
        return;
    if (x->n_extra_cut < WL__ROWS_CUT_KEYS)
        x->cut[x->n_extra_cut++] = h;
    else
        x->extra_cut_more = true;
}

void wl__rows_extra(struct wl__rows *x, const char *key, size_t len)
{
    const uint64_t h = wl__key_hash(key, len);
    if (wl__rows_has(x, key, len, h))
        return;
    const size_t have = strlen(x->extra);
    if (have + (have ? 1 : 0) + len >= sizeof x->extra) {
        wl__rows_cut(x, key, len, h);
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
    size_t n;
    for (const char *p = from->extra, *k; (k = wl__next_key(&p, &n));)
        wl__rows_extra(to, k, n);
    /* from's cut keys: those it remembers each once, unless to has them;
     * those it did not remember leave to's count a lower bound too */
    for (int64_t i = 0; i < from->n_extra_cut; i++)
        wl__rows_cut(to, NULL, 0, from->cut[i]);
    to->extra_cut_more |= from->extra_cut_more;
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
        size_t len;
        for (const char *p = x->extra, *k; (k = wl__next_key(&p, &len));)
            wl__cat(buf, size, &n, "%s%.*s", k == x->extra ? "" : ", ", (int)len, k);
        if (x->n_extra_cut > 0)
            wl__cat(buf, size, &n, "%s%s%lld more", x->extra[0] ? " and " : "",
                    x->extra_cut_more ? "at least " : "", (long long)x->n_extra_cut);
    }
    if (n == 0)
        snprintf(buf, size, "no rows");
    return buf;
}

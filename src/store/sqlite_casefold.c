/* wl_casefold(X), the SQL function behind the run filters' caseless
 * matching (instr(wl_casefold(text), wl_casefold(pattern)) > 0): X under
 * Unicode full case folding and canonical composition (NFC), from utf8proc,
 * so "ÉCOLE" finds "école" and "STRASSE" finds "straße", with accents
 * precomposed or not. The valid text around bytes that are not valid UTF-8
 * is still folded: a bad prompt neither fails a query nor hides the rest of
 * its text. NULL stays NULL. The result is only ever compared with another
 * result, never shown or stored.
 *
 * Each such byte b becomes the 3-byte form of U+DC00 + b (a lone surrogate,
 * as Python's "surrogateescape"), not b itself: SQLite's instr() tries a
 * match only where a character starts, stepping over bytes 0x80-0xBF as
 * continuations, so a pattern that starts with a stray continuation byte
 * (or one after an unfinished character in the text) was never found; and
 * a stray lead byte such as 0xC3 matched the first byte of "é". The escape
 * starts with a lead byte (0xED), and valid UTF-8 never holds a surrogate,
 * so an invalid byte matches exactly the same invalid byte, wherever it is,
 * and nothing else.
 * Deterministic and stateless; registered on each connection (sqlite_impl.h).
 */
#include "store/sqlite_impl.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* A growing result, in sqlite3_malloc memory so SQLite can free it. */
struct wl__fold_buf {
    unsigned char *p;
    size_t n, cap;
};

static bool wl__fold_reserve(struct wl__fold_buf *b, size_t more)
{
    if (b->n + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + more)
        cap *= 2;
    unsigned char *p = sqlite3_realloc64(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

static bool wl__fold_add(struct wl__fold_buf *b, const unsigned char *s, size_t n)
{
    if (n == 0)
        return true;
    if (!wl__fold_reserve(b, n))
        return false;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return true;
}

/* Appends the fold of s[0, n), which is valid UTF-8. ASCII folds to its
 * lower case and is already NFC, so it skips utf8proc (most prompts). */
static bool wl__fold_valid(struct wl__fold_buf *b, const unsigned char *s, size_t n, bool ascii)
{
    if (ascii) {
        if (!wl__fold_reserve(b, n))
            return false;
        for (size_t i = 0; i < n; i++)
            b->p[b->n++] = s[i] >= 'A' && s[i] <= 'Z' ? (unsigned char)(s[i] + 32) : s[i];
        return true;
    }
    utf8proc_uint8_t *m = NULL;
    utf8proc_ssize_t r = utf8proc_map(s, (utf8proc_ssize_t)n, &m,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (r == UTF8PROC_ERROR_NOMEM)
        return false;
    bool ok = r >= 0 ? wl__fold_add(b, m, (size_t)r) : wl__fold_add(b, s, n); /* bytes as is */
    free(m);
    return ok;
}

/* Appends invalid byte b (0x80-0xFF: ASCII is always valid) as U+DC00 + b
 * in UTF-8 form: 0xED, 0xB2 or 0xB3, 0x80 | (b & 0x3F). */
static bool wl__fold_escape(struct wl__fold_buf *b, unsigned char byte)
{
    const unsigned cp = 0xDC00u + byte;
    const unsigned char e[3] = {(unsigned char)(0xE0 | cp >> 12),
                                (unsigned char)(0x80 | (cp >> 6 & 0x3F)),
                                (unsigned char)(0x80 | (cp & 0x3F))};
    return wl__fold_add(b, e, sizeof e);
}

static void wl__sql_casefold(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const unsigned char *s = sqlite3_value_text(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    struct wl__fold_buf out = {0};
    bool ok = true;
    size_t i = 0;
    while (ok && i < n) {
        size_t j = i; /* s[i, j) is the longest valid UTF-8 run from i */
        bool ascii = true;
        while (j < n) {
            utf8proc_int32_t cp = 0;
            utf8proc_ssize_t k = utf8proc_iterate(s + j, (utf8proc_ssize_t)(n - j), &cp);
            if (k <= 0)
                break;
            ascii = ascii && cp < 0x80;
            j += (size_t)k;
        }
        ok = j == i || wl__fold_valid(&out, s + i, j - i, ascii);
        if (ok && j < n)
            ok = wl__fold_escape(&out, s[j]); /* a byte that starts no valid character */
        i = j < n ? j + 1 : n;
    }
    if (!ok) {
        sqlite3_free(out.p);
        sqlite3_result_error_nomem(ctx);
    } else if (!out.p) {
        sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
    } else {
        sqlite3_result_text64(ctx, (const char *)out.p, out.n, sqlite3_free, SQLITE_UTF8);
    }
}

int wl__register_casefold(struct wl__db *d, struct wl_errmsg *err)
{
    int s = sqlite3_create_function_v2(d->db, "wl_casefold", 1,
                                       SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                       wl__sql_casefold, NULL, NULL, NULL);
    return s == SQLITE_OK ? 0 : wl__fail(d, s, err, "registering wl_casefold");
}

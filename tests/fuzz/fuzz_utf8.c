/* Fuzz target: the text functions of util/utf8.h that every output leans
 * on. The first byte gives a buffer size (1..64) and a cell width (0..31);
 * the rest is the text (raw bytes for wl_utf8_escape, up to the first NUL
 * for the others). UTF-8 is checked with this file's own strict decoder
 * (RFC 3629), not the library's. Checks, trapping on failure:
 * - escape: the whole result is valid UTF-8 with no C0, DEL, C1 or bidi
 *   control in it, every escape is one the header lists (a printable ASCII
 *   byte is never escaped), and unescaping gives back exactly the input
 *   (so two inputs never look the same); a cut result is a prefix of the
 *   whole, ends between two pieces and is the longest that fits;
 * - copy and clip: the copy is the input when it fits, else the longest
 *   prefix ending between characters that fits (clip: room left for "..."
 *   and the dots there); valid input gives valid output;
 * - md_escape: removing the added '\' before each '|' gives the input,
 *   there is no bare '|', and a cut never splits a character or "\|";
 * - cell: valid UTF-8 without control or bidi characters, never wider
 *   than asked, exactly that wide when padded into a buffer big enough;
 * - vformat: the result fits, is the whole text when it fits, and is valid
 *   UTF-8 when the text is (a cut ends "...").
 */
#include "util/utf8.h"

#include <stdarg.h>
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

/* Length of the strict UTF-8 character at s (n bytes there) and its code
 * point; 0 when the bytes are not one. */
static size_t dec(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xE0) == 0xC0 ? 2
                 : (s[0] & 0xF0) == 0xE0 ? 3
                 : (s[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t v = len == 1 ? s[0] : s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static bool valid(const char *s, size_t n)
{
    uint32_t cp;
    for (size_t i = 0, l; i < n; i += l)
        if ((l = dec((const unsigned char *)s + i, n - i, &cp)) == 0)
            return false;
    return true;
}

static bool is_bidi(uint32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* The character boundaries of s as wl_utf8_copy counts them (a byte that
 * is not valid UTF-8 is one piece): true when k is one. */
static bool is_boundary(const char *s, size_t n, size_t k)
{
    uint32_t cp;
    size_t i = 0;
    while (i < k) {
        size_t l = dec((const unsigned char *)s + i, n - i, &cp);
        i += l ? l : 1;
    }
    return i == k;
}

/* The length of the piece (character or lone byte) at s[k]. */
static size_t piece_len(const char *s, size_t n, size_t k)
{
    uint32_t cp;
    size_t l = dec((const unsigned char *)s + k, n - k, &cp);
    return l ? l : 1;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undoes wl_utf8_escape on the e_len bytes at e into out (room for e_len
 * bytes; unescaping never grows); false when e is not something the escape
 * writes. The length into *out_len. */
static bool unescape(const char *e, size_t e_len, char *out, size_t *out_len)
{
    size_t k = 0;
    for (size_t i = 0; i < e_len;) {
        if (e[i] == '\\') {
            if (i + 1 >= e_len)
                return false;
            if (e[i + 1] == '\\') {
                out[k++] = '\\';
                i += 2;
            } else if (e[i + 1] == 'x') {
                if (i + 4 > e_len || hexval(e[i + 2]) < 0 || hexval(e[i + 3]) < 0)
                    return false;
                int b = hexval(e[i + 2]) * 16 + hexval(e[i + 3]);
                if (b >= 0x20 && b < 0x7F)
                    return false; /* printable ASCII is never escaped */
                out[k++] = (char)b;
                i += 4;
            } else if (e[i + 1] == 'u') {
                uint32_t cp = 0;
                if (i + 6 > e_len)
                    return false;
                for (int j = 0; j < 4; j++) {
                    int h = hexval(e[i + 2 + j]);
                    if (h < 0)
                        return false;
                    cp = cp << 4 | (uint32_t)h;
                }
                if (!((cp >= 0x80 && cp < 0xA0) || is_bidi(cp)))
                    return false;
                if (cp < 0x800) {
                    out[k++] = (char)(0xC0 | cp >> 6);
                } else {
                    out[k++] = (char)(0xE0 | cp >> 12);
                    out[k++] = (char)(0x80 | (cp >> 6 & 0x3F));
                }
                out[k++] = (char)(0x80 | (cp & 0x3F));
                i += 6;
            } else {
                return false;
            }
            continue;
        }
        uint32_t cp;
        size_t l = dec((const unsigned char *)e + i, e_len - i, &cp);
        if (l == 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || is_bidi(cp))
            return false; /* raw bytes or controls must have been escaped */
        memcpy(out + k, e + i, l);
        k += l;
        i += l;
    }
    *out_len = k;
    return true;
}

static void check_escape(const char *src, size_t n, size_t size)
{
    size_t need = wl_utf8_escape(NULL, 0, src, n);
    char *full = malloc(need + 1), *back = malloc(need + 1), *cut = malloc(size);
    CHECK(full && back && cut);
    CHECK(wl_utf8_escape(full, need + 1, src, n) == need);
    CHECK(strlen(full) == need && valid(full, need));
    size_t bl = 0;
    CHECK(unescape(full, need, back, &bl) && bl == n && memcmp(back, src, n) == 0);

    CHECK(wl_utf8_escape(cut, size, src, n) == need);
    size_t k = strlen(cut);
    CHECK(k < size && k <= need && memcmp(cut, full, k) == 0);
    CHECK(unescape(cut, k, back, &bl) && bl <= n && memcmp(back, src, bl) == 0);
    if (k < need) { /* the next piece did not fit */
        size_t next = full[k] != '\\'      ? piece_len(full, need, k)
                      : full[k + 1] == 'x' ? 4
                      : full[k + 1] == 'u' ? 6
                                           : 2;
        CHECK(k + next > size - 1);
    }
    free(full);
    free(back);
    free(cut);
}

static void check_copy_clip(const char *s, size_t size)
{
    size_t n = strlen(s);
    char *dst = malloc(size);
    CHECK(dst);
    CHECK(wl_utf8_copy(dst, size, s) == n);
    size_t k = strlen(dst);
    if (n < size) {
        CHECK(k == n && memcmp(dst, s, n) == 0);
    } else {
        CHECK(k <= size - 1 && memcmp(dst, s, k) == 0 && is_boundary(s, n, k));
        CHECK(k + piece_len(s, n, k) > size - 1);
    }
    if (valid(s, n))
        CHECK(valid(dst, k));

    CHECK(wl_utf8_clip(dst, size, s) == n);
    k = strlen(dst);
    if (n < size) {
        CHECK(k == n && memcmp(dst, s, n) == 0);
    } else if (size >= 4) {
        CHECK(k >= 3 && k <= size - 1 && memcmp(dst + k - 3, "...", 3) == 0);
        size_t kept = k - 3;
        CHECK(memcmp(dst, s, kept) == 0 && is_boundary(s, n, kept));
        CHECK(kept + piece_len(s, n, kept) > size - 4);
    } else {
        CHECK(k <= size - 1 && memcmp(dst, s, k) == 0 && is_boundary(s, n, k));
    }
    if (valid(s, n))
        CHECK(valid(dst, k));
    free(dst);
}

static void check_md_escape(const char *s, size_t size)
{
    size_t n = strlen(s), bars = 0;
    for (size_t i = 0; i < n; i++)
        bars += s[i] == '|';
    char *full = malloc(n + bars + 1), *cut = malloc(size);
    CHECK(full && cut);
    CHECK(wl_utf8_md_escape(full, n + bars + 1, s) == n + bars);
    /* left to right, "\|" is a '|' and anything else itself */
    size_t k = 0;
    for (size_t i = 0; i < n + bars; i++) {
        if (full[i] == '\\' && full[i + 1] == '|')
            i++;
        else
            CHECK(full[i] != '|');
        CHECK(full[i] == s[k++]);
    }
    CHECK(k == n);
    CHECK(wl_utf8_md_escape(cut, size, s) == n + bars);
    size_t c = strlen(cut);
    CHECK(c < size && memcmp(cut, full, c) == 0);
    CHECK(c == n + bars || full[c] != '|'); /* never between '\' and '|' */
    CHECK(is_boundary(full, n + bars, c));  /* nor inside a character */
    free(full);
    free(cut);
}

static void check_cell(const char *s, size_t width, size_t size)
{
    size_t n = strlen(s);
    for (int pad = 0; pad < 2; pad++) {
        /* big enough for any cell: 3 bytes per input byte (U+FFFD) plus pad */
        size_t big = 3 * n + width + 4;
        char *buf = malloc(big);
        CHECK(buf);
        wl_utf8_cell(s, width, pad, buf, big);
        size_t k = strlen(buf);
        CHECK(k < big && valid(buf, k));
        uint32_t cp;
        for (size_t i = 0, l; i < k; i += l) {
            l = dec((const unsigned char *)buf + i, k - i, &cp);
            CHECK(cp >= 0x20 && !(cp >= 0x7F && cp < 0xA0) && !is_bidi(cp));
        }
        size_t w = wl_utf8_width(buf, k);
        CHECK(pad ? w == width : w <= width);
        /* a small buffer: the same cell ended early, still whole characters */
        wl_utf8_cell(s, width, pad, buf, size);
        k = strlen(buf);
        CHECK(k < size && valid(buf, k) && wl_utf8_width(buf, k) <= width);
        free(buf);
    }
}

static int vformat(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = wl_utf8_vformat(dst, size, fmt, ap);
    va_end(ap);
    return r;
}

static void check_vformat(const char *s, size_t size)
{
    size_t n = strlen(s);
    char *dst = malloc(size);
    CHECK(dst);
    int r = vformat(dst, size, "<%s>", s);
    CHECK(r == (int)n + 2);
    size_t k = strlen(dst);
    CHECK(k < size);
    if ((size_t)r < size)
        CHECK(dst[0] == '<' && memcmp(dst + 1, s, n) == 0 && dst[n + 1] == '>');
    else if (size >= 4)
        CHECK(k >= 3 && memcmp(dst + k - 3, "...", 3) == 0);
    if (valid(s, n))
        CHECK(valid(dst, k));
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t buf_size = (size_t)(data[0] & 63) + 1, width = (size_t)(data[0] >> 3) & 31;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    char *s = malloc(n + 1);
    if (!s)
        return 0;
    memcpy(s, text, n);
    s[n] = '\0';
    check_escape(text, n, buf_size);
    check_copy_clip(s, buf_size);
    check_md_escape(s, buf_size);
    check_cell(s, width, buf_size);
    check_vformat(s, buf_size);
    free(s);
    return 0;
}

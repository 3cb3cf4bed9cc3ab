/* UTF-8 decoding and display widths; see utf8.h. Widths come from
 * utf8proc_charwidth; no state.
 */
#include "util/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

size_t wl_utf8_char_len(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    size_t need = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (need == 0 || need > n)
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    /* overlong 3- and 4-byte forms, surrogates, above U+10FFFF */
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return need;
}

bool wl_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t l = wl_utf8_char_len(s + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

/* Bytes a character starting with lead byte c takes when valid (2..4); 1
 * for ASCII and for bytes that start no character. */
static size_t wl__lead_len(unsigned char c)
{
    return c < 0xC2 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 1;
}

/* The longest prefix of the n bytes at s, at most max bytes long, that ends
 * between two characters (each byte that is not valid UTF-8 counts as one).
 * more: the text goes on after s[n], unseen, so a lead byte whose character
 * would run past n may start a valid character that s ends inside of, and
 * the prefix stops before it. */
static size_t wl__utf8_prefix(const char *s, size_t n, size_t max, bool more)
{
    size_t k = 0; /* the boundary reached so far */
    while (k < n) {
        size_t l = wl_utf8_char_len(s + k, n - k);
        if (l == 0) {
            if (more && wl__lead_len((unsigned char)s[k]) > n - k)
                break;
            l = 1;
        }
        if (k + l > max)
            break;
        k += l;
    }
    return k;
}

size_t wl_utf8_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    size_t k = n < size ? n : wl__utf8_prefix(src, n, size - 1, false);
    memcpy(dst, src, k);
    dst[k] = '\0';
    return n;
}

size_t wl_utf8_clip(char *dst, size_t size, const char *src)
{
    size_t n = wl_utf8_copy(dst, size, src);
    if (n >= size && size >= 4) {
        size_t k = wl__utf8_prefix(src, n, size - 4, false);
        memcpy(dst, src, k);
        memcpy(dst + k, "...", 4);
    }
    return n;
}

int wl_utf8_vformat(char *dst, size_t size, const char *fmt, va_list ap)
{
    int r = vsnprintf(dst, size, fmt, ap);
    if (r < 0) {
        dst[0] = '\0';
        return r;
    }
    if ((size_t)r < size)
        return r;
    /* dst holds the first size - 1 bytes of the text */
    bool dots = size >= 4;
    size_t k = wl__utf8_prefix(dst, size - 1, dots ? size - 4 : size - 1, true);
    if (dots) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
    return r;
}

size_t wl_utf8_md_escape(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src), n = 0, k = 0; /* n: escaped length so far; k: kept in dst */
    bool full = false;
    for (size_t i = 0; i < len;) {
        size_t l = wl_utf8_char_len(src + i, len - i);
        if (l == 0)
            l = 1;
        size_t out = src[i] == '|' ? 2 : l;
        if (!full && k + out < size) {
            if (src[i] == '|')
                dst[k++] = '\\';
            memcpy(dst + k, src + i, l);
            k += l;
        } else {
            full = true;
        }
        n += out;
        i += l;
    }
    dst[k] = '\0';
    return n;
}

/* The code point of the valid l-byte character at s. */
static int32_t wl__decode(const char *s, size_t l)
{
    static const unsigned char lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    const unsigned char *u = (const unsigned char *)s;
    int32_t cp = u[0] & lead_mask[l];
    for (size_t i = 1; i < l; i++)
        cp = cp << 6 | (u[i] & 0x3F);
    return cp;
}

/* The characters that reorder the text around them when displayed (ALM,
 * LRM, RLM, the embeddings and overrides U+202A-U+202E, the isolates
 * U+2066-U+2069): shown as they are, they make a line read differently
 * from its bytes ("Trojan Source"). */
static bool wl__is_bidi_control(int32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* The characters above ASCII that wl_utf8_escape and
 * wl_utf8_put_terminal_json write as \uNNNN: the C1 controls (some
 * terminals take U+009B as CSI) and the bidirectional controls. */
static bool wl__is_unicode_control(int32_t cp)
{
    return (cp >= 0x80 && cp < 0xA0) || wl__is_bidi_control(cp);
}

/* What wl_utf8_escape writes for the text at s (n > 0 bytes): the bytes it
 * takes (the return value) and what stands for them (*out, *out_len; an
 * escape is built in esc, 6 bytes at most). */
static size_t wl__escape_piece(const char *s, size_t n, char *esc, const char **out,
                               size_t *out_len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char c = (unsigned char)s[0];
    size_t l = wl_utf8_char_len(s, n);
    int32_t cp = l ? wl__decode(s, l) : -1;
    *out = esc;
    if (c == '\\') {
        memcpy(esc, "\\\\", 2);
        *out_len = 2;
    } else if (l == 0 || cp < 0x20 || cp == 0x7F) { /* a raw byte, C0 or DEL */
        esc[0] = '\\';
        esc[1] = 'x';
        esc[2] = hex[c >> 4];
        esc[3] = hex[c & 15];
        *out_len = 4;
        l = 1;
    } else if (wl__is_unicode_control(cp)) { /* C1, bidi */
        esc[0] = '\\';
        esc[1] = 'u';
        for (int k = 0; k < 4; k++)
            esc[2 + k] = hex[(cp >> (12 - 4 * k)) & 15];
        *out_len = 6;
    } else {
        *out = s;
        *out_len = l;
    }
    return l;
}

size_t wl_utf8_escape(char *dst, size_t size, const char *src, size_t n)
{
    size_t need = 0, k = 0; /* bytes of the whole escaped text; bytes written */
    bool cut = false;
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *o;
        size_t ol;
        i += wl__escape_piece(src + i, n - i, esc, &o, &ol);
        need += ol;
        if (cut || size == 0 || k + ol > size - 1) {
            cut = true; /* what follows is counted, not written */
            continue;
        }
        memcpy(dst + k, o, ol);
        k += ol;
    }
    if (size > 0)
        dst[k] = '\0';
    return need;
}

int wl_utf8_put_terminal_json(FILE *f, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF"; /* uppercase, as jansson's \u001B */
    size_t kept = 0;                              /* start of the bytes not written yet */
    for (size_t i = 0; i < n;) {
        size_t l = wl_utf8_char_len(s + i, n - i);
        if (l == 0) { /* not UTF-8 (jansson writes none): kept as it is */
            i++;
            continue;
        }
        const int32_t cp = wl__decode(s + i, l);
        if (cp != 0x7F && !wl__is_unicode_control(cp)) {
            i += l;
            continue;
        }
        /* above U+001F, so inside a string: \uNNNN is the same character there */
        const char esc[6] = {
            '\\',        'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
            hex[cp & 15]};
        if (fwrite(s + kept, 1, i - kept, f) != i - kept || fwrite(esc, 1, 6, f) != 6)
            return -1;
        i += l;
        kept = i;
    }
    return fwrite(s + kept, 1, n - kept, f) == n - kept ? 0 : -1;
}

/* What a cell shows for the text at s (n > 0 bytes): the bytes it takes
 * (the return value), what is printed for them (*out, *out_len) and how many
 * columns that is (*cols). */
static size_t wl__cell_piece(const char *s, size_t n, const char **out, size_t *out_len,
                             size_t *cols)
{
    size_t l = wl_utf8_char_len(s, n);
    if (l == 0) { /* not UTF-8: one replacement character per byte */
        *out = "\xEF\xBF\xBD";
        *out_len = 3;
        *cols = 1;
        return 1;
    }
    int32_t cp = wl__decode(s, l);
    if (cp < 0x20 || cp == 0x7F || wl__is_unicode_control(cp)) {
        /* C0, DEL, C1 would break the row; a bidi control would reorder it */
        *out = " ";
        *out_len = 1;
        *cols = 1;
        return l;
    }
    int w = utf8proc_charwidth(cp);
    *out = s;
    *out_len = l;
    *cols = w > 0 ? (size_t)w : 0;
    return l;
}

size_t wl_utf8_width(const char *s, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n;) {
        const char *o;
        size_t ol, c;
        i += wl__cell_piece(s + i, n - i, &o, &ol, &c);
        cols += c;
    }
    return cols;
}

const char *wl_utf8_cell(const char *s, size_t width, bool pad, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (!s)
        s = "-";
    size_t n = strlen(s);
    bool dots = wl_utf8_width(s, n) > width && width >= 4;
    size_t room = dots ? width - 3 : width;
    size_t k = 0, used = 0;
    for (size_t i = 0; i < n;) {
        const char *o;
        size_t ol, c;
        size_t take = wl__cell_piece(s + i, n - i, &o, &ol, &c);
        if (used + c > room || k + ol >= size)
            break;
        memcpy(buf + k, o, ol);
        k += ol;
        used += c;
        i += take;
    }
    if (dots && k + 3 < size) {
        memcpy(buf + k, "...", 3);
        k += 3;
        used += 3;
    }
    while (pad && used < width && k + 1 < size) {
        buf[k++] = ' ';
        used++;
    }
    buf[k] = '\0';
    return buf;
}

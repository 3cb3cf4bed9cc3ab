/* Escaped text for the CLI's text outputs, and JSON for a terminal; see
 * cli_text.h. Text that fits a stack buffer is escaped there; longer text
 * gets a heap buffer for the one write (or, without memory, is cut with
 * "..."). JSON for a terminal is dumped into a heap string first (a
 * document the caller holds as json_t already), then written. */
#include "cli_text.h"

#include "util/json_text.h"
#include "util/utf8.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes the n bytes at s to f escaped; returns the display columns written. */
static size_t put_escaped(FILE *f, const char *s, size_t n)
{
    char small[512], *big = NULL;
    const char *out = small;
    size_t need = wl_utf8_escape(small, sizeof small, s, n);
    if (need >= sizeof small) {
        big = malloc(need + 1);
        if (big)
            wl_utf8_escape(big, need + 1, s, n);
        out = big ? big : wl_cli_textn(s, n, small, sizeof small);
    }
    fputs(out, f);
    size_t cols = wl_utf8_width(out, strlen(out));
    free(big);
    return cols;
}

void wl_cli_put_textn(FILE *f, const char *s, size_t n)
{
    put_escaped(f, s, n);
}

void wl_cli_put_text(FILE *f, const char *s)
{
    if (s)
        put_escaped(f, s, strlen(s));
}

void wl_cli_put_text_padded(FILE *f, const char *s, size_t width)
{
    for (size_t w = s ? put_escaped(f, s, strlen(s)) : 0; w < width; w++)
        fputc(' ', f);
}

const char *wl_cli_textn(const char *s, size_t n, char *buf, size_t size)
{
    if (wl_utf8_escape(buf, size, s, n) >= size) {
        /* escaped text holds no NUL (a NUL byte is "\x00"), so strlen is its end */
        wl_utf8_escape(buf, size - 3, s, n);
        memcpy(buf + strlen(buf), "...", 4);
    }
    return buf;
}

const char *wl_cli_textn_cols(const char *s, size_t n, size_t width, char *buf, size_t size)
{
    /* every column takes at least one byte, so each round drops at least
     * the excess columns' bytes and the cut ends within width */
    size_t room = size;
    for (;;) {
        wl_cli_textn(s, n, buf, room);
        size_t w = wl_utf8_width(buf, strlen(buf));
        if (w <= width || room <= 4)
            return buf;
        room = w - width < room - 4 ? room - (w - width) : 4;
    }
}

const char *wl_cli_textn_cell(const char *s, size_t n, size_t width, bool pad, char *buf,
                              size_t size)
{
    wl_cli_textn_cols(s ? s : "", s ? n : 0, width, buf, size);
    size_t k = strlen(buf);
    for (size_t w = wl_utf8_width(buf, k); pad && w < width && k + 1 < size; w++)
        buf[k++] = ' ';
    buf[k] = '\0';
    return buf;
}

const char *wl_cli_text(const char *s, char *buf, size_t size)
{
    return wl_cli_textn(s ? s : "", s ? strlen(s) : 0, buf, size);
}

const char *wl_cli_text_pad(const char *s, size_t width, char *buf, size_t size)
{
    wl_cli_text(s, buf, size);
    size_t k = strlen(buf);
    for (size_t w = wl_utf8_width(buf, k); w < width && k + 1 < size; w++)
        buf[k++] = ' ';
    buf[k] = '\0';
    return buf;
}

int wl_cli_put_json(FILE *f, const json_t *j, size_t flags)
{
    return wl_json_put(f, j, flags, isatty(fileno(f)) == 1) == 0 ? 0 : -1;
}

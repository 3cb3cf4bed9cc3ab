/* One CSV field; see csv_text.h. */
#include "util/csv_text.h"

#include <stdbool.h>
#include <stdlib.h>

#include "util/utf8.h"

void wl_csv_put(FILE *out, const char *s, size_t n, unsigned flags)
{
    char small[256], *big = NULL;
    if (flags & WL_CSV_ESCAPE) {
        size_t need = wl_utf8_escape(small, sizeof small, s, n);
        if (need >= sizeof small) {
            big = malloc(need + 1);
            if (!big) {
                fputc('?', out);
                return;
            }
            wl_utf8_escape(big, need + 1, s, n);
        }
        s = big ? big : small;
        n = need;
    }
    bool quote = (flags & WL_CSV_QUOTE_ALWAYS) != 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        fwrite(s, 1, n, out);
    } else {
        fputc('"', out);
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '"')
                fputc('"', out);
            fputc(s[i], out);
        }
        fputc('"', out);
    }
    free(big);
}

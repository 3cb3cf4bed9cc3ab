/* Token id lists for `wattlens detokenize`; see cli_ids.h. */
#include "cli_ids.h"

#include "wattlens/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Separators: ASCII white space (not the locale's) and commas. */
static bool is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == ',';
}

int wl_cli_ids_parse(struct wl_cli_ids *l, const char *s, const char **bad, size_t *bad_len)
{
    while (*s) {
        if (is_sep(*s)) {
            s++;
            continue;
        }
        size_t len = 0;
        while (s[len] && !is_sep(s[len]))
            len++;
        /* digits only: strtol would take a sign, and "-0" or "+5" is not
         * what `tokenize --ids` writes */
        int64_t v = 0;
        bool ok = true;
        for (size_t i = 0; i < len && ok; i++) {
            ok = s[i] >= '0' && s[i] <= '9';
            if (ok)
                v = v * 10 + (s[i] - '0');
            if (v > INT32_MAX)
                ok = false;
        }
        if (!ok) {
            *bad = s;
            *bad_len = len;
            return WL_EINVAL;
        }
        if (l->n == l->cap) {
            size_t nc = l->cap ? l->cap * 2 : 64;
            int32_t *nv = realloc(l->v, nc * sizeof(*nv));
            if (!nv)
                return WL_ENOMEM;
            l->v = nv;
            l->cap = nc;
        }
        l->v[l->n++] = (int32_t)v;
        s += len;
    }
    return 0;
}

void wl_cli_ids_free(struct wl_cli_ids *l)
{
    free(l->v);
    *l = (struct wl_cli_ids){0};
}

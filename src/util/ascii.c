/* ASCII case-insensitive matching (see ascii.h). Pure; thread-safe. */
#include "util/ascii.h"

#include <string.h>

/* tolower without the locale: only A-Z fold. */
static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

bool wl_ascii_contains_ci(const char *text, const char *lower_word)
{
    const size_t n = strlen(lower_word);
    if (n == 0)
        return true;
    for (; *text; text++) {
        size_t k = 0;
        while (k < n && text[k] &&
               ascii_lower((unsigned char)text[k]) == (unsigned char)lower_word[k])
            k++;
        if (k == n)
            return true;
    }
    return false;
}

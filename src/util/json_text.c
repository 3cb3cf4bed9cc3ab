/* Text into JSON strings, lossless through a hex sibling; see json_text.h.
 * Built on jansson and util/utf8; no state. Also the one rule for a
 * number that is not finite (null).
 */
#include "util/json_text.h"

#include "util/utf8.h"
#include "wattlens/energy.h"
#include "wattlens/error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *wl_json_load_object(const char *text)
{
    if (!text)
        return NULL;
    json_t *x = json_loads(text, 0, NULL);
    if (json_is_object(x))
        return x;
    json_decref(x);
    return NULL;
}

json_t *wl_json_real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *wl_json_text(const char *s, size_t n, bool *lossy)
{
    if (wl_utf8_valid(s, n))
        return json_stringn(s, n);
    char *b = malloc(3 * n + 1);
    if (!b)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t l = wl_utf8_char_len(s + i, n - i);
        if (l == 0) {
            memcpy(b + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        } else {
            memcpy(b + k, s + i, l);
            k += l;
            i += l;
        }
    }
    if (lossy)
        *lossy = true;
    json_t *j = json_stringn(b, k);
    free(b);
    return j;
}

json_t *wl_json_hex(const char *s, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *b = malloc(2 * n + 1);
    if (!b)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        b[2 * i] = digits[c >> 4];
        b[2 * i + 1] = digits[c & 0xF];
    }
    json_t *j = json_stringn(b, 2 * n);
    free(b);
    return j;
}

/* key + WL_JSON_HEX_SUFFIX into a heap string (NULL when out of memory). */
static char *wl__hex_key(const char *key)
{
    size_t n = strlen(key);
    char *k = malloc(n + sizeof WL_JSON_HEX_SUFFIX);
    if (k) {
        memcpy(k, key, n);
        memcpy(k + n, WL_JSON_HEX_SUFFIX, sizeof WL_JSON_HEX_SUFFIX);
    }
    return k;
}

static int wl__set_hex_field(json_t *obj, const char *key, json_t *value)
{
    char *k = wl__hex_key(key);
    int rc = k && value ? json_object_set_new(obj, k, value) : -1;
    if (!k)
        json_decref(value);
    free(k);
    return rc;
}

int wl_json_set_hex(json_t *obj, const char *key, const char *s, size_t n)
{
    return wl__set_hex_field(obj, key, wl_json_hex(s, n));
}

int wl_json_set_textn(json_t *obj, const char *key, const char *s, size_t n)
{
    bool lossy = false;
    if (json_object_set_new(obj, key, wl_json_text(s, n, &lossy)) != 0)
        return -1;
    return lossy ? wl_json_set_hex(obj, key, s, n) : 0;
}

int wl_json_set_text(json_t *obj, const char *key, const char *s)
{
    if (!s)
        return json_object_set_new(obj, key, json_null());
    return wl_json_set_textn(obj, key, s, strlen(s));
}

int wl_json_set_texts(json_t *obj, const char *key, const char *const *v, const size_t *len,
                      size_t n)
{
    json_t *a = json_array();
    bool lossy = false;
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, wl_json_text(v[i], len ? len[i] : strlen(v[i]), &lossy)) !=
            0) {
            json_decref(a);
            a = NULL;
        }
    }
    if (json_object_set_new(obj, key, a) != 0)
        return -1;
    if (!lossy)
        return 0;
    json_t *h = json_array();
    for (size_t i = 0; h && i < n; i++) {
        if (json_array_append_new(h, wl_json_hex(v[i], len ? len[i] : strlen(v[i]))) != 0) {
            json_decref(h);
            h = NULL;
        }
    }
    return wl__set_hex_field(obj, key, h);
}

/* Where a plain dump goes: the stream and its first failed write's errno. */
struct wl__put {
    FILE *f;
    int err; /* 0 until a write failed */
};

/* jansson's dump callback for wl_json_put. jansson does not check every
 * callback's result (an object key's write is not), and a stream whose
 * buffer failed to flush takes the next writes again: so the failure is
 * kept here, with the errno of the write that failed, and nothing more is
 * written. */
static int wl__put_cb(const char *buf, size_t size, void *data)
{
    struct wl__put *p = data;
    if (p->err)
        return -1;
    if (size && fwrite(buf, size, 1, p->f) != 1) {
        p->err = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

int wl_json_put(FILE *f, const json_t *j, size_t flags, bool terminal)
{
    if (!terminal) {
        struct wl__put p = {f, 0};
        errno = 0;
        const int rc = json_dump_callback(j, wl__put_cb, &p, flags);
        if (p.err) {
            errno = p.err;
            return WL_EIO;
        }
        return rc == 0 ? 0 : WL_EIO;
    }
    char *text = json_dumps(j, flags);
    if (!text)
        return WL_ENOMEM;
    int rc = wl_utf8_put_terminal_json(f, text, strlen(text));
    free(text);
    return rc == 0 ? 0 : WL_EIO;
}

json_t *wl_json_domain_names(uint32_t mask)
{
    json_t *a = json_array();
    for (int d = 0; a && d < WL_DOMAIN_COUNT; d++)
        if (mask & (1u << d))
            json_array_append_new(a, json_string(wl_domain_name((enum wl_domain)d)));
    return a;
}

uint32_t wl_json_domain_mask(const json_t *arr)
{
    uint32_t bits = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        enum wl_domain d;
        if (json_is_string(v) && wl_domain_parse(json_string_value(v), &d) == 0)
            bits |= 1u << d;
    }
    return bits;
}

/* JSON shapes of a run's own fields; see run_json.h. Built with jansson;
 * no state.
 */
#include "analysis/run_json.h"

#include "util/json_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *wl_run_json_format_time(int64_t unix_ms, char *buf, size_t size)
{
    /* floor division, so times before 1970 keep a positive millisecond part */
    int64_t s = unix_ms / 1000, ms = unix_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        s--;
    }
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return NULL;
    /* the year with its four digits (glibc's %Y writes year 0 as "0") */
    if (snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms) >= (int)size)
        snprintf(buf, size, "?");
    return buf;
}

/* Splits tags (n bytes, comma separated) into *v and *len; the pointers
 * point into tags. A tag may hold a NUL byte (another writer's), so the
 * bytes are counted, not read to a NUL. Returns the count, or -1 when out
 * of memory. */
static long wl__split_tags(const char *tags, size_t n, const char ***v, size_t **len)
{
    size_t cap = 1;
    for (size_t i = 0; tags && i < n; i++)
        cap += tags[i] == ',';
    *v = malloc(cap * sizeof **v);
    *len = malloc(cap * sizeof **len);
    if (!*v || !*len)
        return -1;
    long count = 0;
    const char *end = tags ? tags + n : NULL;
    for (const char *p = tags; p && p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t l = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (l > 0) {
            (*v)[count] = p;
            (*len)[count++] = l;
        }
        p += l + 1;
    }
    return count;
}

int wl_run_json_set_tags(json_t *o, const char *tags, size_t n)
{
    const char **v = NULL;
    size_t *len = NULL;
    long count = wl__split_tags(tags, n, &v, &len);
    int rc = count < 0 ? -1 : wl_json_set_texts(o, "tags", v, len, (size_t)count);
    free(v);
    free(len);
    return rc;
}

json_t *wl_run_json_text(const char *text, size_t n, bool *lossy)
{
    if (!text)
        return json_null();
    bool bad = false;
    json_t *shown = wl_json_text(text, n, &bad);
    if (!shown)
        return NULL;
    if (bad && lossy)
        *lossy = true;
    /* Text that is not UTF-8 is parsed as shown (each invalid byte U+FFFD),
     * so a JSON object with one odd byte inside still reads as an object. */
    json_t *v =
        json_loadb(json_string_value(shown), json_string_length(shown), JSON_DECODE_ANY, NULL);
    if (!v)
        return shown;
    json_decref(shown);
    return v;
}

int wl_run_json_set_json(json_t *o, const char *key, const char *text, size_t n)
{
    bool lossy = false;
    if (json_object_set_new(o, key, wl_run_json_text(text, n, &lossy)) != 0)
        return -1;
    return lossy ? wl_json_set_hex(o, key, text, n) : 0;
}

/* o[key] = the n bytes at s (a NUL byte inside kept: "\u0000"), null for
 * NULL s; 0 or -1 */
static int wl__set_stored_text(json_t *o, const char *key, const char *s, size_t n)
{
    return s ? wl_json_set_textn(o, key, s, n) : json_object_set_new(o, key, json_null());
}

json_t *wl_run_json_identity(const struct wl_run_row *r)
{
    char when[32];
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = wl_json_set_text(o, "id", r->id);
    rc |= json_object_set_new(o, "created_at_ms", json_integer(r->created_at_ms));
    const char *at = wl_run_json_format_time(r->created_at_ms, when, sizeof when);
    rc |= json_object_set_new(o, "created_at", at ? json_string(at) : json_null());
    rc |= json_object_set_new(o, "status", json_string(wl_run_status_name(r->status)));
    rc |= json_object_set_new(o, "kind", json_string(wl_run_kind_name(r->kind)));
    rc |= wl__set_stored_text(o, "command", r->command, r->command_len);
    rc |= wl__set_stored_text(o, "model", r->model_name, r->model_name_len);
    rc |= wl__set_stored_text(o, "prompt", r->prompt, r->prompt_len);
    rc |= wl__set_stored_text(o, "experiment", r->experiment, r->experiment_len);
    rc |= wl_run_json_set_tags(o, r->tags, r->tags_len);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

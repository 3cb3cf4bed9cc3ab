/* JSON shapes of a run's own fields; see run_json.h. Built with jansson;
 * no state.
 */
#include "analysis/run_json.h"

#include <stdio.h>
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
    char day[32];
    if (!gmtime_r(&t, &tm) || strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
        snprintf(buf, size, "%s.%03dZ", day, (int)ms) >= (int)size)
        snprintf(buf, size, "?");
    return buf;
}

json_t *wl_run_json_tags(const char *tags)
{
    json_t *a = json_array();
    for (const char *p = tags; a && p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0 && json_array_append_new(a, json_stringn(p, n)) != 0) {
            json_decref(a);
            return NULL;
        }
        p = end ? end + 1 : p + n;
    }
    return a;
}

json_t *wl_run_json_text(const char *text, size_t n)
{
    if (!text)
        return json_null();
    json_t *v = json_loadb(text, n, JSON_DECODE_ANY, NULL);
    return v ? v : json_stringn(text, n);
}

static json_t *wl__str(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *wl_run_json_identity(const struct wl_run_row *r)
{
    char when[32];
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "created_at_ms", json_integer(r->created_at_ms));
    json_object_set_new(o, "created_at",
                        json_string(wl_run_json_format_time(r->created_at_ms, when, sizeof when)));
    json_object_set_new(o, "status", json_string(wl_run_status_name(r->status)));
    json_object_set_new(o, "kind", json_string(wl_run_kind_name(r->kind)));
    json_object_set_new(o, "command", wl__str(r->command));
    json_object_set_new(o, "model", wl__str(r->model_name));
    json_object_set_new(o, "prompt", wl__str(r->prompt));
    json_object_set_new(o, "experiment", wl__str(r->experiment));
    json_object_set_new(o, "tags", wl_run_json_tags(r->tags));
    return o;
}

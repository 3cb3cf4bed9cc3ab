/* Fuzz target: a run's stored JSON text read back (runs.extra and the other
 * fields kept as JSON text: analysis/run_json.h's wl_run_json_text and
 * wl_run_json_set_json, which `show --json` and the exports use), and the
 * sensor gaps read from such an extra object (analysis/summary.h's
 * wl_summary_gaps_from_extra and the line wl_summary_gaps_text makes of
 * them). A store file is anyone's: older writers and hand edits included.
 * The first byte picks the run's window (its low two bits: [0, open),
 * [0, 1000], [-1000, 5000], [1.7e12, 1.7e12 + 60000] ms) and the size of
 * the line's buffer (the other six: 0..62 bytes, 63 for 512); the rest is
 * the text. Checks, trapping on failure:
 *   - the text reads as a value (never NULL): lossy exactly when jansson
 *     refuses it as UTF-8; valid JSON (as jansson reads it, any value) is
 *     that value, anything else a string, the text itself when it is UTF-8;
 *     set as a field, "<key>_hex" is there exactly when lossy and holds the
 *     text's bytes in hex;
 *   - the gaps are known exactly when the value is an object with an
 *     integer "n_gaps" (else all zero); then the listed ones are the
 *     objects of "gaps", each counted, not counted or outside the run; the
 *     open ones are those without a number for "start_ms" or "end_ms";
 *     n >= listed; the times are >= 0, the time not counted no more than
 *     the time in all;
 *   - the line is NUL-terminated inside its buffer, a prefix of the whole
 *     line, "" exactly when the gaps are not known or n <= 0, and the whole
 *     line begins "sensor gaps: " and ends with ')'.
 */
#include "analysis/run_json.h"
#include "analysis/summary.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static void check_hex(const json_t *hex, const char *s, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    CHECK(json_is_string(hex) && json_string_length(hex) == 2 * n);
    const char *h = json_string_value(hex);
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        CHECK(h[2 * i] == digits[c >> 4] && h[2 * i + 1] == digits[c & 0xF]);
    }
}

/* The text as a stored field's value; returns it (the caller's). */
static json_t *check_text(const char *s, size_t n)
{
    json_t *as_string = json_stringn(s, n); /* NULL: not UTF-8, as jansson reads it */
    const bool utf8 = as_string != NULL;
    bool lossy = false;
    json_t *v = wl_run_json_text(s, n, &lossy);
    CHECK(v != NULL);
    CHECK(lossy == !utf8);
    if (utf8) {
        json_t *parsed = json_loadb(s, n, JSON_DECODE_ANY, NULL);
        CHECK(json_equal(v, parsed ? parsed : as_string));
        json_decref(parsed);
    } else if (json_is_string(v)) {
        /* every invalid byte became U+FFFD (3 bytes): never shorter */
        CHECK(json_string_length(v) >= n);
    }
    json_decref(as_string);
    char *dumped = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    CHECK(dumped != NULL);
    free(dumped);

    json_t *o = json_object();
    CHECK(o != NULL);
    CHECK(wl_run_json_set_json(o, "extra", s, n) == 0);
    CHECK(json_object_get(o, "extra") != NULL);
    const json_t *hex = json_object_get(o, "extra_hex");
    if (lossy)
        check_hex(hex, s, n);
    else
        CHECK(hex == NULL);
    json_decref(o);
    return v;
}

static void check_gaps(const json_t *x, double start_ms, double end_ms, size_t line_size)
{
    struct wl_summary_gaps g;
    memset(&g, 0x55, sizeof g);
    wl_summary_gaps_from_extra(x, start_ms, end_ms, &g);
    const json_t *n_gaps = json_is_object(x) ? json_object_get(x, "n_gaps") : NULL;
    const bool known = json_is_integer(n_gaps);
    CHECK(g.known == known);
    if (!known) {
        CHECK(g.n == 0 && g.n_listed == 0 && g.n_not_counted == 0 && g.n_outside == 0 &&
              g.n_counted == 0 && g.n_open == 0 && g.dur_s == 0.0 && g.not_counted_s == 0.0);
    } else {
        int64_t listed = 0, open = 0;
        const json_t *arr = json_object_get(x, "gaps");
        for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
            const json_t *o = json_array_get(arr, i);
            if (!json_is_object(o))
                continue;
            listed++;
            open += !json_is_number(json_object_get(o, "start_ms")) ||
                    !json_is_number(json_object_get(o, "end_ms"));
        }
        CHECK(g.n_listed == listed);
        CHECK(g.n_open == open);
        CHECK(g.n_counted >= 0 && g.n_not_counted >= 0 && g.n_outside >= 0);
        CHECK(g.n_counted + g.n_not_counted + g.n_outside == listed);
        const json_int_t stored = json_integer_value(n_gaps);
        CHECK(g.n == (stored > listed ? stored : listed));
        CHECK(g.dur_s >= 0.0 && g.not_counted_s >= 0.0);
        /* the union of a subset of the spans (rounding aside) */
        CHECK(g.not_counted_s <= g.dur_s * (1.0 + 1e-9));
    }

    char whole[4096];
    CHECK(wl_summary_gaps_text(&g, whole, sizeof whole) == whole);
    const size_t len = strlen(whole);
    CHECK(len < sizeof whole - 1); /* never near the limit: the whole line */
    if (!known || g.n <= 0) {
        CHECK(len == 0);
    } else {
        CHECK(strncmp(whole, "sensor gaps: ", 13) == 0);
        CHECK(whole[len - 1] == ')');
    }
    /* an exact-size buffer, so that ASan sees a write past it */
    char *buf = malloc(line_size ? line_size : 1);
    CHECK(buf != NULL);
    memset(buf, 'x', line_size ? line_size : 1);
    CHECK(wl_summary_gaps_text(&g, buf, line_size) == buf);
    if (line_size == 0) {
        CHECK(buf[0] == 'x'); /* nothing written */
    } else {
        const size_t k = strnlen(buf, line_size);
        CHECK(k < line_size);
        CHECK(k == (len < line_size - 1 ? len : line_size - 1));
        CHECK(memcmp(buf, whole, k) == 0);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const double windows[4][2] = {
        {0.0, NAN}, {0.0, 1000.0}, {-1000.0, 5000.0}, {1.7e12, 1.7e12 + 60000.0}};
    static bool once;
    if (!once) {
        once = true;
        bool lossy = false;
        json_t *v = wl_run_json_text(NULL, 0, &lossy);
        CHECK(json_is_null(v) && !lossy);
        json_decref(v);
    }
    if (size == 0)
        return 0;
    const uint8_t sel = data[0];
    const size_t line_size = (sel >> 2) == 63 ? 512 : (size_t)(sel >> 2);
    /* an exact-size copy, so that ASan sees a read past the text */
    const size_t n = size - 1;
    char *s = malloc(n ? n : 1);
    CHECK(s != NULL);
    memcpy(s, data + 1, n);
    json_t *v = check_text(s, n);
    check_gaps(v, windows[sel & 3][0], windows[sel & 3][1], line_size);
    json_decref(v);
    free(s);
    return 0;
}

/* Fuzz target: the powermetrics stream splitter and plist sample parser
 * (sensors/powermetrics_parse.h). Input: byte 0 picks the chunk size the
 * stream is fed in (bits 0-5: 1..64 bytes) and the splitter's largest
 * document (bits 6-7: 16 MiB as the backend uses, 64, 1024 or 8192 bytes);
 * the rest is the stream. Checks, trapping on failure:
 *   - the documents delivered are exactly the harness's own one-shot split
 *     of the stream at its NUL bytes, whatever the chunking: every part
 *     (the last one too, delivered by finish) that is neither blank nor
 *     longer than the largest document, in order; the others are counted
 *     as oversized when longer;
 *   - each document is parsed from an exact-size copy (so ASan sees a read
 *     past its end); a refused one gives WL_EFORMAT and a message; a parsed
 *     one has at least one power or energy field, every value it has is
 *     finite and >= 0 and every value it lacks 0, and hw_model is
 *     NUL-terminated (the file's bytes, cut between characters: valid UTF-8
 *     when the document is, without character references); parsing it
 *     again gives the same.
 */
#include "sensors/powermetrics_parse.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

/* What the harness expects next: its own split of the stream. */
struct expect {
    const char *stream;
    size_t size, max_doc;
    size_t pos;      /* where the next part starts */
    size_t n_docs;   /* documents delivered */
    size_t n_parsed; /* of them parsed */
};

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t')
            return false;
    return true;
}

/* The next part of the stream the splitter must deliver, or false when
 * none is left; *oversized counts the parts skipped for their length. */
static bool next_part(struct expect *e, const char **doc, size_t *len, size_t *oversized)
{
    while (e->pos < e->size) {
        const char *p = e->stream + e->pos;
        const char *nul = memchr(p, '\0', e->size - e->pos);
        size_t n = nul ? (size_t)(nul - p) : e->size - e->pos;
        e->pos += n + (nul != NULL);
        if (n > e->max_doc) {
            (*oversized)++;
            continue;
        }
        if (n == 0 || blank(p, n))
            continue;
        *doc = p;
        *len = n;
        return true;
    }
    return false;
}

static void check_parse(const char *doc, size_t len, struct expect *e)
{
    char *copy = malloc(len ? len : 1); /* exactly len bytes: no NUL after them */
    CHECK(copy != NULL);
    memcpy(copy, doc, len);
    struct wl_pm_sample s;
    struct wl_errmsg em;
    wl_errmsg_clear(&em);
    int rc = wl_pm_parse(copy, len, &s, &em);
    if (rc != 0) {
        CHECK(rc == WL_EFORMAT && em.text[0] != '\0');
        free(copy);
        return;
    }
    e->n_parsed++;
    const unsigned fields = WL_PM_CPU_ENERGY | WL_PM_GPU_ENERGY | WL_PM_ANE_ENERGY |
                            WL_PM_CPU_POWER | WL_PM_GPU_POWER | WL_PM_ANE_POWER |
                            WL_PM_COMBINED_POWER;
    CHECK((s.present & fields) != 0 && (s.present & ~(fields | WL_PM_ELAPSED)) == 0);
    const struct {
        unsigned bit;
        double v;
    } values[] = {
        {WL_PM_CPU_ENERGY, s.cpu_energy_mj},         {WL_PM_GPU_ENERGY, s.gpu_energy_mj},
        {WL_PM_ANE_ENERGY, s.ane_energy_mj},         {WL_PM_CPU_POWER, s.cpu_power_mw},
        {WL_PM_GPU_POWER, s.gpu_power_mw},           {WL_PM_ANE_POWER, s.ane_power_mw},
        {WL_PM_COMBINED_POWER, s.combined_power_mw},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        if (s.present & values[i].bit)
            CHECK(isfinite(values[i].v) && values[i].v >= 0);
        else
            CHECK(values[i].v == 0);
    }
    if (!(s.present & WL_PM_ELAPSED))
        CHECK(s.elapsed_ns == 0);
    /* hw_model keeps the file's bytes (outputs escape them), cut between
     * characters: from a document of valid UTF-8 without character
     * references (libplist writes "&#xD800;" as the bytes of a surrogate),
     * valid UTF-8 */
    const void *nul = memchr(s.hw_model, '\0', sizeof s.hw_model);
    CHECK(nul != NULL);
    if (wl_utf8_valid(copy, len) && !memchr(copy, '&', len))
        CHECK(wl_utf8_valid(s.hw_model, (size_t)((const char *)nul - s.hw_model)));
    struct wl_pm_sample again;
    CHECK(wl_pm_parse(copy, len, &again, &em) == 0 && memcmp(&again, &s, sizeof s) == 0);
    free(copy);
}

static void on_doc(void *ud, const char *doc, size_t len)
{
    struct expect *e = ud;
    const char *want;
    size_t want_len, oversized = 0;
    CHECK(next_part(e, &want, &want_len, &oversized));
    CHECK(len == want_len && memcmp(doc, want, len) == 0);
    e->n_docs++;
    check_parse(doc, len, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_docs[4] = {16u << 20, 64, 1024, 8192};
    if (size == 0)
        return 0;
    const size_t chunk = (size_t)(data[0] & 63) + 1, max_doc = max_docs[data[0] >> 6];
    data++;
    size--;
    struct expect e = {.stream = (const char *)data, .size = size, .max_doc = max_doc};
    struct wl_pm_splitter sp;
    wl_pm_splitter_init(&sp, max_doc);
    for (size_t off = 0; off < size; off += chunk) {
        size_t k = size - off < chunk ? size - off : chunk;
        CHECK(wl_pm_splitter_feed(&sp, (const char *)data + off, k, on_doc, &e) == 0);
    }
    wl_pm_splitter_finish(&sp, on_doc, &e);
    /* nothing left undelivered, and the oversized parts counted */
    struct expect all = {.stream = e.stream, .size = size, .max_doc = max_doc};
    const char *doc;
    size_t len, n_docs = 0, oversized = 0;
    while (next_part(&all, &doc, &len, &oversized))
        n_docs++;
    CHECK(n_docs == e.n_docs);
    CHECK(sp.n_oversized == oversized);
    wl_pm_splitter_free(&sp);
    return 0;
}

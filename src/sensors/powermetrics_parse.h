/* Parsing of macOS `powermetrics -f plist` output: a stream of XML plist
 * documents separated by NUL bytes, each holding one sample.
 *
 * The splitter cuts a byte stream (fed in arbitrary chunks) into documents; it
 * owns a growable buffer bounded by max_doc bytes. The parser reads one
 * document with libplist and extracts processor cpu/gpu/ane *_energy (mJ over
 * the sample interval) and *_power / combined_power (mW); every key is
 * optional (key sets differ between macOS versions) but at least one must be
 * there. Both are pure over caller-owned state; no globals; not thread-shared.
 */
#ifndef WL_SENSORS_POWERMETRICS_PARSE_H
#define WL_SENSORS_POWERMETRICS_PARSE_H

#include "util/errmsg.h"

#include <stddef.h>
#include <stdint.h>

enum wl_pm_field {
    WL_PM_CPU_ENERGY = 1u << 0,
    WL_PM_GPU_ENERGY = 1u << 1,
    WL_PM_ANE_ENERGY = 1u << 2,
    WL_PM_CPU_POWER = 1u << 3,
    WL_PM_GPU_POWER = 1u << 4,
    WL_PM_ANE_POWER = 1u << 5,
    WL_PM_COMBINED_POWER = 1u << 6,
    WL_PM_ELAPSED = 1u << 7,
};

struct wl_pm_sample {
    unsigned present;    /* WL_PM_* bits of the fields found */
    uint64_t elapsed_ns; /* sample interval */
    double cpu_energy_mj, gpu_energy_mj, ane_energy_mj;
    double cpu_power_mw, gpu_power_mw, ane_power_mw, combined_power_mw;
    char hw_model[32]; /* "MacBookPro17,1" or "" */
};

/* The deepest nesting of <array> and <dict> a document may have (the root
 * dictionary counts 1; real samples nest 8 deep). libplist builds and frees
 * its tree recursively, so a deeper document is refused before it is
 * parsed: thousands of levels overflow the reader thread's stack. */
#define WL_PM_MAX_DEPTH 64

/* Parses one plist document (len bytes, need not be NUL-terminated; leading
 * whitespace is skipped). Returns 0, or WL_EFORMAT with a message in err
 * (for a document nested deeper than WL_PM_MAX_DEPTH too). */
int wl_pm_parse(const char *doc, size_t len, struct wl_pm_sample *out, struct wl_errmsg *err);

struct wl_pm_splitter {
    char *buf;
    size_t len, cap, max_doc;
    int skipping; /* discarding an oversized document until the next NUL */
    uint64_t n_oversized;
};

typedef void (*wl_pm_doc_fn)(void *user_data, const char *doc, size_t len);

/* max_doc: largest document accepted (bytes); bigger ones are dropped and counted. */
void wl_pm_splitter_init(struct wl_pm_splitter *sp, size_t max_doc);
/* Feeds n bytes; calls on_doc for every complete (NUL-terminated) non-blank
 * document. Returns 0 or WL_ENOMEM. */
int wl_pm_splitter_feed(struct wl_pm_splitter *sp, const char *data, size_t n, wl_pm_doc_fn on_doc,
                        void *user_data);
/* End of stream: delivers a last document not followed by NUL (if non-blank). */
void wl_pm_splitter_finish(struct wl_pm_splitter *sp, wl_pm_doc_fn on_doc, void *user_data);
void wl_pm_splitter_free(struct wl_pm_splitter *sp);

#endif

/* powermetrics stream splitting and plist sample parsing; see powermetrics_parse.h. */
#include "sensors/powermetrics_parse.h"

#include "util/utf8.h"
#include "wattlens/error.h"

#include <plist/plist.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t')
            return 0;
    }
    return 1;
}

/* Number from a PLIST_UINT or PLIST_REAL node; false for other types or
 * negative integers (libplist stores those as huge unsigned values). */
static int node_number(plist_t n, double *out)
{
    if (!n)
        return 0;
    plist_type t = plist_get_node_type(n);
    if (t == PLIST_UINT) {
        uint64_t v = 0;
        plist_get_uint_val(n, &v);
        if (v > (uint64_t)INT64_MAX)
            return 0;
        *out = (double)v;
        return 1;
    }
    if (t == PLIST_REAL) {
        double v = 0;
        plist_get_real_val(n, &v);
        if (!(v >= 0) || v > 1e15)
            return 0;
        *out = v;
        return 1;
    }
    return 0;
}

/* The first occurrence of the n-byte string pat in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *pat, size_t n)
{
    for (; (size_t)(end - p) >= n; p++) {
        if (memcmp(p, pat, n) == 0)
            return p;
    }
    return NULL;
}

/* Past the tag name at p (it ends at a blank, '<' or '>', as libplist
 * reads it); *name_len its length. */
static const char *tag_name(const char *p, const char *end, size_t *name_len)
{
    const char *q = p;
    while (q < end && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n' && *q != '<' && *q != '>')
        q++;
    *name_len = (size_t)(q - p);
    return q;
}

/* 'a' for an <array> tag name, 'd' for <dict>, else 0 (a trailing '/' of
 * an empty tag written without a blank, "<array/>", is not part of it). */
static char container(const char *name, size_t n)
{
    if (n > 0 && name[n - 1] == '/')
        n--;
    if (n == 5 && memcmp(name, "array", 5) == 0)
        return 'a';
    if (n == 4 && memcmp(name, "dict", 4) == 0)
        return 'd';
    return 0;
}

/* The deepest nesting of <array> and <dict> elements in doc, scanned as
 * libplist's XML reader scans it, stopping as soon as it exceeds
 * WL_PM_MAX_DEPTH (then *at is the byte offset of the tag that did). Only
 * what libplist also reads as markup can close an element: comments,
 * CDATA, <?...?> and the DOCTYPE are skipped as it skips them, and a close
 * tag counts only when it closes the innermost element open here (any
 * other would be a libplist error, which stops its parse). Anything else,
 * malformed input included, can only make the count larger than libplist's
 * depth, never smaller: a refusal is on the safe side. */
static int plist_depth(const char *doc, size_t len, size_t *at)
{
    const char *p = doc, *end = doc + len;
    char open[WL_PM_MAX_DEPTH + 1];
    int depth = 0;
    while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        const char *tag = p++;
        if (p < end && *p == '?') {
            p = find(p, end, "?>", 2);
        } else if ((size_t)(end - p) >= 3 && memcmp(p, "!--", 3) == 0) {
            p = find(p + 3, end, "-->", 3);
        } else if ((size_t)(end - p) >= 8 && memcmp(p, "![CDATA[", 8) == 0) {
            p = find(p + 8, end, "]]>", 3);
        } else if ((size_t)(end - p) >= 8 && memcmp(p, "!DOCTYPE", 8) == 0) {
            /* up to '>', or, when a '[' comes first, an internal subset up to "]>" */
            const char *q = p + 8;
            while (q < end && *q != '[' && *q != '>')
                q++;
            p = q < end && *q == '[' ? find(q, end, "]>", 2) : q;
        } else if (p < end && *p == '/') {
            size_t n;
            const char *name = p + 1;
            p = tag_name(name, end, &n);
            const char c = container(name, n);
            if (c && depth > 0 && open[depth - 1] == c)
                depth--;
        } else if (p < end && *p != '!') {
            size_t n;
            const char *name = p;
            p = tag_name(name, end, &n);
            const char c = container(name, n);
            /* the end of the tag: an empty one has '/' just before its '>' */
            const char *gt = p;
            while (gt < end && *gt != '<' && *gt != '>')
                gt++;
            const bool empty = gt < end && *gt == '>' && gt[-1] == '/';
            if (c && !empty) {
                if (depth == WL_PM_MAX_DEPTH) {
                    *at = (size_t)(tag - doc);
                    return depth + 1;
                }
                open[depth++] = c;
            }
        }
        if (!p) /* an unterminated comment, CDATA, ...: libplist refuses it */
            break;
    }
    return depth;
}

static void take(plist_t dict, const char *key, unsigned bit, double *dst, unsigned *present)
{
    if (*present & bit)
        return;
    if (node_number(plist_dict_get_item(dict, key), dst))
        *present |= bit;
}

int wl_pm_parse(const char *doc, size_t len, struct wl_pm_sample *out, struct wl_errmsg *err)
{
    memset(out, 0, sizeof *out);
    while (len > 0 && (*doc == ' ' || *doc == '\n' || *doc == '\r' || *doc == '\t')) {
        doc++;
        len--;
    }
    if (len == 0)
        return wl_errmsg_set(err, WL_EFORMAT, "empty powermetrics document");
    if (len > UINT32_MAX)
        return wl_errmsg_set(err, WL_EFORMAT, "powermetrics document too large (%zu bytes)", len);
    if (len < 6 || (memcmp(doc, "<?xml", 5) != 0 && memcmp(doc, "<plist", 6) != 0)) {
        /* what it starts with, from its len bytes only (doc need not end
         * in a NUL): 16 bytes, or 13 cut between characters and "..."
         * (head holds every character that starts before the cut) */
        char head[20], shown[17];
        size_t n = len < sizeof head - 1 ? len : sizeof head - 1;
        memcpy(head, doc, n);
        head[n] = '\0';
        wl_utf8_clip(shown, sizeof shown, head);
        return wl_errmsg_set(err, WL_EFORMAT,
                             "not an XML plist (document starts with '%s'); was powermetrics "
                             "run with -f plist?",
                             shown);
    }
    /* libplist 2.2 frees (and builds) a tree recursively: a document nested
     * some ten thousand levels deep overflows a thread's stack (the reader
     * thread's 512 KiB on macOS sooner). Real samples nest 8 deep. */
    size_t deep_at = 0;
    if (plist_depth(doc, len, &deep_at) > WL_PM_MAX_DEPTH)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "plist nested more than %d arrays and dictionaries deep (at byte %zu "
                             "of a %zu-byte powermetrics document): refused, not parsed",
                             WL_PM_MAX_DEPTH, deep_at, len);
    plist_t root = NULL;
    plist_from_xml(doc, (uint32_t)len, &root);
    if (!root)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "malformed plist XML in a %zu-byte powermetrics document", len);
    int rc = 0;
    if (plist_get_node_type(root) != PLIST_DICT) {
        rc = wl_errmsg_set(err, WL_EFORMAT, "plist root is not a dictionary");
        goto done;
    }
    plist_t proc = plist_dict_get_item(root, "processor");
    if (!proc || plist_get_node_type(proc) != PLIST_DICT) {
        rc = wl_errmsg_set(err, WL_EFORMAT,
                           "no 'processor' dictionary (was the cpu_power sampler enabled?)");
        goto done;
    }
    unsigned pr = 0;
    take(proc, "cpu_energy", WL_PM_CPU_ENERGY, &out->cpu_energy_mj, &pr);
    take(proc, "gpu_energy", WL_PM_GPU_ENERGY, &out->gpu_energy_mj, &pr);
    take(proc, "ane_energy", WL_PM_ANE_ENERGY, &out->ane_energy_mj, &pr);
    take(proc, "cpu_power", WL_PM_CPU_POWER, &out->cpu_power_mw, &pr);
    take(proc, "gpu_power", WL_PM_GPU_POWER, &out->gpu_power_mw, &pr);
    take(proc, "ane_power", WL_PM_ANE_POWER, &out->ane_power_mw, &pr);
    take(proc, "combined_power", WL_PM_COMBINED_POWER, &out->combined_power_mw, &pr);
    /* older releases: package_watts (W) for the whole package */
    double w;
    if (!(pr & WL_PM_COMBINED_POWER) &&
        node_number(plist_dict_get_item(proc, "package_watts"), &w)) {
        out->combined_power_mw = w * 1000.0;
        pr |= WL_PM_COMBINED_POWER;
    }
    /* some releases report the GPU only in the top-level "gpu" dictionary */
    plist_t gpu = plist_dict_get_item(root, "gpu");
    if (gpu && plist_get_node_type(gpu) == PLIST_DICT)
        take(gpu, "gpu_energy", WL_PM_GPU_ENERGY, &out->gpu_energy_mj, &pr);
    if ((pr & ~(unsigned)WL_PM_ELAPSED) == 0) {
        rc = wl_errmsg_set(err, WL_EFORMAT,
                           "'processor' has no *_energy or *_power key (samplers cpu_power, "
                           "gpu_power, ane_power expected)");
        goto done;
    }
    double el;
    if (node_number(plist_dict_get_item(root, "elapsed_ns"), &el)) {
        out->elapsed_ns = (uint64_t)el;
        pr |= WL_PM_ELAPSED;
    }
    plist_t hw = plist_dict_get_item(root, "hw_model");
    if (hw && plist_get_node_type(hw) == PLIST_STRING) {
        char *s = NULL;
        plist_get_string_val(hw, &s);
        if (s) {
            wl_utf8_copy(out->hw_model, sizeof out->hw_model, s); /* cut between characters */
            free(s);
        }
    }
    out->present = pr;
done:
    plist_free(root);
    return rc;
}

void wl_pm_splitter_init(struct wl_pm_splitter *sp, size_t max_doc)
{
    memset(sp, 0, sizeof *sp);
    sp->max_doc = max_doc ? max_doc : (8u << 20);
}

void wl_pm_splitter_free(struct wl_pm_splitter *sp)
{
    free(sp->buf);
    memset(sp, 0, sizeof *sp);
}

static int append(struct wl_pm_splitter *sp, const char *data, size_t n)
{
    /* an empty part (a stream starting with NUL) adds nothing: buf is
     * still NULL then, and memcpy from or to NULL is undefined even for 0 */
    if (sp->skipping || n == 0)
        return 0;
    if (sp->len + n > sp->max_doc) {
        sp->skipping = 1;
        sp->n_oversized++;
        sp->len = 0;
        return 0;
    }
    if (sp->len + n > sp->cap) {
        size_t cap = sp->cap ? sp->cap : 65536;
        while (cap < sp->len + n)
            cap *= 2;
        char *nb = realloc(sp->buf, cap);
        if (!nb)
            return WL_ENOMEM;
        sp->buf = nb;
        sp->cap = cap;
    }
    memcpy(sp->buf + sp->len, data, n);
    sp->len += n;
    return 0;
}

int wl_pm_splitter_feed(struct wl_pm_splitter *sp, const char *data, size_t n, wl_pm_doc_fn on_doc,
                        void *user_data)
{
    while (n > 0) {
        const char *nul = memchr(data, '\0', n);
        size_t part = nul ? (size_t)(nul - data) : n;
        int rc = append(sp, data, part);
        if (rc != 0)
            return rc;
        if (!nul)
            break;
        if (!sp->skipping && sp->len > 0 && !is_blank(sp->buf, sp->len))
            on_doc(user_data, sp->buf, sp->len);
        sp->len = 0;
        sp->skipping = 0;
        data += part + 1;
        n -= part + 1;
    }
    return 0;
}

void wl_pm_splitter_finish(struct wl_pm_splitter *sp, wl_pm_doc_fn on_doc, void *user_data)
{
    if (!sp->skipping && sp->len > 0 && !is_blank(sp->buf, sp->len))
        on_doc(user_data, sp->buf, sp->len);
    sp->len = 0;
    sp->skipping = 0;
}

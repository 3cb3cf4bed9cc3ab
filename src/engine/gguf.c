/* GGUF reader; see gguf.h and docs/internals/gguf.md.
 *
 * Owns: the file mapping (or borrows a caller buffer), copies of keys and
 * tensor names, an index per array of variable-size elements (offsets of each
 * string / sub-array, so element access is O(1)), and two hash indexes (keys,
 * tensor names, keyed with a random key per open) used both for O(1) lookup
 * and for rejecting duplicates.
 * Every read during parsing goes through a cursor that checks the remaining
 * byte count first, so nothing past the end of the buffer is ever touched and
 * every count is bounded by the bytes that are left before anything is
 * allocated for it. Read-only after open; thread-safe for concurrent readers.
 */
#include "engine/gguf.h"

#include "util/hugepage.h"
#include "util/random.h"
#include "util/siphash.h"
#include "util/utf8.h"

#include "wattlens/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WL_GGUF_HEADER_BYTES 24u
#define WL_GGUF_MAX_KEY_BYTES 65535u /* spec: keys are at most 65535 bytes */
#define WL_GGUF_MAX_NAME_BYTES 1024u /* spec says 64; llama.cpp 63; we allow more */
#define WL_GGUF_MAX_ARRAY_DEPTH 8u   /* arrays of arrays nest at most this deep */
/* Caps that bound the memory of the index a hostile file can make us build
 * (real models have tens of keys, a few thousand tensors, and rarely any
 * nested array): */
#define WL_GGUF_MAX_KV (1u << 20)
#define WL_GGUF_MAX_TENSORS (1u << 20)
#define WL_GGUF_MAX_SUBARRAYS (1u << 20) /* array elements that are arrays, whole file */
/* Smallest possible serialized kv: key len 8 + 1 key byte + type 4 + 1 value byte. */
#define WL_GGUF_MIN_KV_BYTES 14u
/* Smallest tensor info: name len 8 + 1 byte + n_dims 4 + type 4 + offset 8. */
#define WL_GGUF_MIN_TENSOR_BYTES 25u

/* An array value: element type, count, where the elements start, and for
 * variable-size elements an index to reach element j in O(1). */
struct wl__gguf_arr {
    enum wl_gguf_vtype elem_type;
    uint64_t n;
    uint64_t data_off;        /* file offset of element 0 */
    uint64_t *str_off;        /* STRING elements: offset of element j's length field */
    struct wl__gguf_arr *sub; /* ARRAY elements: n child nodes */
};

struct wl__gguf_kv {
    char *key; /* NUL-terminated copy */
    enum wl_gguf_vtype type;
    uint64_t val_off;        /* file offset of the value (after the type field) */
    uint64_t val_len;        /* serialized bytes of the value */
    struct wl__gguf_arr arr; /* type == ARRAY */
};

/* Open-addressing hash set of indexes (slot holds index + 1; 0 = empty),
 * linear probing. Names come from the file, so the hash is keyed with a
 * random key per index: with a fixed hash a file can hold 2^20 names that
 * all land in one slot, and building the index takes O(n^2) string
 * compares (~4 s measured at 32k names with the old unkeyed FNV-1a; quadratic,
 * so about an hour extrapolated to 2^20 names, a 100 MB file). */
struct wl__gguf_index {
    uint64_t *slots;
    uint64_t mask;
    uint64_t key[2]; /* SipHash key */
};

struct wl_gguf {
    const uint8_t *base;
    uint64_t size;
    void *map; /* non-NULL when we own an mmap of map_len bytes */
    size_t map_len;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    uint64_t n_kv;
    struct wl__gguf_kv *kv;
    struct wl__gguf_index kv_index;
    uint64_t n_tensors;
    struct wl_gguf_tensor *tensors;
    struct wl__gguf_index tensor_index;
};

/* ---- little-endian reads (host-independent) ------------------------------ */

static uint16_t wl__rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static uint32_t wl__rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t wl__rd64(const uint8_t *p)
{
    return (uint64_t)wl__rd32(p) | (uint64_t)wl__rd32(p + 4) << 32;
}

/* ---- value types ------------------------------------------------------------ */

static const char *const wl__vtype_names[WL_GGUF_VTYPE_COUNT] = {
    "UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",   "FLOAT32",
    "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64",
};
static const uint8_t wl__vtype_sizes[WL_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *wl_gguf_vtype_name(uint32_t t)
{
    return t < WL_GGUF_VTYPE_COUNT ? wl__vtype_names[t] : "unknown";
}

uint32_t wl_gguf_vtype_size(uint32_t t)
{
    return t < WL_GGUF_VTYPE_COUNT ? wl__vtype_sizes[t] : 0;
}

/* ---- hash index ------------------------------------------------------------- */

/* SipHash-1-3 (util/siphash.h) of a NUL-terminated name under the index's
 * random key: whoever wrote the file cannot choose names that collide, in
 * the low bits or at all. */
static uint64_t wl__hash(const uint64_t key[2], const char *s)
{
    return wl_siphash13(key, s, strlen(s));
}

static int wl__index_init(struct wl__gguf_index *ix, uint64_t n, const uint64_t key[2])
{
    uint64_t cap = 8;
    while (cap < 2 * n)
        cap <<= 1;
    ix->slots = calloc(cap, sizeof *ix->slots);
    if (!ix->slots)
        return WL_ENOMEM;
    ix->mask = cap - 1;
    ix->key[0] = key[0];
    ix->key[1] = key[1];
    return 0;
}

static const char *wl__kv_name(const wl_gguf *g, uint64_t i)
{
    return g->kv[i].key;
}

static const char *wl__tensor_name(const wl_gguf *g, uint64_t i)
{
    return g->tensors[i].name;
}

/* Returns the index stored under name, or -1; name_of(g, i) names index i. */
static int64_t wl__index_find(const struct wl__gguf_index *ix, const char *name, const wl_gguf *g,
                              const char *(*name_of)(const wl_gguf *, uint64_t))
{
    for (uint64_t h = wl__hash(ix->key, name) & ix->mask;; h = (h + 1) & ix->mask) {
        uint64_t s = ix->slots[h];
        if (s == 0)
            return -1;
        if (strcmp(name_of(g, s - 1), name) == 0)
            return (int64_t)(s - 1);
    }
}

/* Inserts index i (name already known absent). */
static void wl__index_put(struct wl__gguf_index *ix, const char *name, uint64_t i)
{
    uint64_t h = wl__hash(ix->key, name) & ix->mask;
    while (ix->slots[h] != 0)
        h = (h + 1) & ix->mask;
    ix->slots[h] = i + 1;
}

/* Slots visited to find index i (1 when it sits in its home slot). */
static uint64_t wl__index_probes(const struct wl__gguf_index *ix, const char *name, uint64_t i)
{
    uint64_t n = 1;
    for (uint64_t h = wl__hash(ix->key, name) & ix->mask; ix->slots[h] != i + 1;
         h = (h + 1) & ix->mask)
        n++;
    return n;
}

void wl__gguf_probe_stats(const wl_gguf *g, struct wl__gguf_probe_stats *out)
{
    memset(out, 0, sizeof *out);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const uint64_t n = wl__index_probes(&g->kv_index, g->kv[i].key, i);
        out->kv_total += n;
        out->kv_max = n > out->kv_max ? n : out->kv_max;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const uint64_t n = wl__index_probes(&g->tensor_index, g->tensors[i].name, i);
        out->tensor_total += n;
        out->tensor_max = n > out->tensor_max ? n : out->tensor_max;
    }
}

/* ---- parsing cursor ------------------------------------------------------- */

struct wl__cur {
    const uint8_t *p;
    uint64_t size;
    uint64_t off;
    struct wl_errmsg *err;
    uint64_t n_subarrays; /* nested arrays indexed so far */
    /* For messages, so that each names its item: "key 'K': " or
     * "tensor 'T': " while inside one ("" otherwise), and the index of the
     * array string being read (-1 otherwise). */
    char ctx[112];
    int64_t elem;
};

/* A printable, bounded copy of a name from the file for error messages:
 * control bytes become '?' (which keeps every character boundary), names
 * longer than 80 bytes are cut between characters and end "...". */
struct wl__shown {
    char s[81];
};

static struct wl__shown wl__show(const char *name)
{
    char head[sizeof((struct wl__shown *)0)->s + 3]; /* + the rest of a cut character */
    size_t i = 0;
    for (; name[i] && i < sizeof head - 1; i++)
        head[i] = ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) ? '?' : name[i];
    head[i] = '\0';
    struct wl__shown r;
    wl_utf8_clip(r.s, sizeof r.s, head);
    return r;
}

static uint64_t wl__left(const struct wl__cur *c)
{
    return c->size - c->off;
}

/* " 3" when an array's string 3 is being read, else "". */
struct wl__elem_str {
    char s[24];
};
static struct wl__elem_str wl__elem(const struct wl__cur *c)
{
    struct wl__elem_str r = {""};
    if (c->elem >= 0)
        snprintf(r.s, sizeof r.s, " %" PRId64, c->elem);
    return r;
}

static int wl__need(struct wl__cur *c, uint64_t n, const char *what)
{
    if (n > wl__left(c))
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "truncated file: %s%s%s at byte %" PRIu64 " needs %" PRIu64
                             " bytes but only %" PRIu64 " remain (file size %" PRIu64 ")",
                             c->ctx, what, wl__elem(c).s, c->off, n, wl__left(c), c->size);
    return 0;
}

static int wl__get_u32(struct wl__cur *c, const char *what, uint32_t *v)
{
    int rc = wl__need(c, 4, what);
    if (rc)
        return rc;
    *v = wl__rd32(c->p + c->off);
    c->off += 4;
    return 0;
}

static int wl__get_u64(struct wl__cur *c, const char *what, uint64_t *v)
{
    int rc = wl__need(c, 8, what);
    if (rc)
        return rc;
    *v = wl__rd64(c->p + c->off);
    c->off += 8;
    return 0;
}

/* Reads a string header and checks its bytes are inside the file; leaves the
 * cursor after the string. *data_off receives the offset of the first byte. */
static int wl__get_str(struct wl__cur *c, const char *what, uint64_t *data_off, uint64_t *len)
{
    uint64_t at = c->off;
    int rc = wl__get_u64(c, what, len);
    if (rc)
        return rc;
    if (*len > wl__left(c))
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "%s%s%s at byte %" PRIu64 " has length %" PRIu64 " but only %" PRIu64
                             " bytes remain in the file",
                             c->ctx, what, wl__elem(c).s, at, *len, wl__left(c));
    *data_off = c->off;
    c->off += *len;
    return 0;
}

/* Copies a name (key or tensor name): non-empty, at most max bytes, no NUL. */
static int wl__get_name(struct wl__cur *c, const char *what, uint64_t max, char **out)
{
    uint64_t at = c->off, doff = 0, len = 0;
    int rc = wl__get_str(c, what, &doff, &len);
    if (rc)
        return rc;
    if (len == 0)
        return wl_errmsg_set(c->err, WL_EFORMAT, "%s at byte %" PRIu64 " is empty", what, at);
    if (len > max)
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "%s at byte %" PRIu64 " is %" PRIu64 " bytes long (limit %" PRIu64 ")",
                             what, at, len, max);
    if (memchr(c->p + doff, 0, (size_t)len))
        return wl_errmsg_set(c->err, WL_EFORMAT, "%s at byte %" PRIu64 " contains a NUL byte", what,
                             at);
    char *s = malloc((size_t)len + 1);
    if (!s)
        return wl_errmsg_set(c->err, WL_ENOMEM, "out of memory reading %s at byte %" PRIu64, what,
                             at);
    memcpy(s, c->p + doff, (size_t)len);
    s[len] = '\0';
    *out = s;
    return 0;
}

static void wl__arr_free(struct wl__gguf_arr *a)
{
    if (a->sub) {
        for (uint64_t j = 0; j < a->n; j++)
            wl__arr_free(&a->sub[j]);
        free(a->sub);
    }
    free(a->str_off);
    a->sub = NULL;
    a->str_off = NULL;
}

/* Parses an array value at the cursor (element type, count, elements);
 * messages start with c->ctx, which names the key. */
static int wl__parse_arr(struct wl__cur *c, struct wl__gguf_arr *a, unsigned depth)
{
    uint64_t at = c->off;
    uint32_t et;
    uint64_t n;
    int rc = wl__get_u32(c, "array element type", &et);
    if (rc)
        return rc;
    rc = wl__get_u64(c, "array length", &n);
    if (rc)
        return rc;
    if (et >= WL_GGUF_VTYPE_COUNT)
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "%sarray at byte %" PRIu64 " has unknown element type %" PRIu32,
                             c->ctx, at, et);
    if (et == WL_GGUF_ARRAY && depth + 1 >= WL_GGUF_MAX_ARRAY_DEPTH)
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "%sarrays nested deeper than %u levels at byte %" PRIu64, c->ctx,
                             WL_GGUF_MAX_ARRAY_DEPTH, at);
    a->elem_type = (enum wl_gguf_vtype)et;
    a->data_off = c->off;
    uint64_t min_elem = wl__vtype_sizes[et];
    if (et == WL_GGUF_STRING)
        min_elem = 8;
    else if (et == WL_GGUF_ARRAY)
        min_elem = 12;
    if (n > wl__left(c) / min_elem)
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "%sarray at byte %" PRIu64 " claims %" PRIu64
                             " elements of type %s, which needs at least %" PRIu64
                             "-byte elements but only %" PRIu64 " bytes remain",
                             c->ctx, at, n, wl__vtype_names[et], min_elem, wl__left(c));
    if (et == WL_GGUF_STRING) {
        a->str_off = malloc((n ? n : 1) * sizeof *a->str_off);
        if (!a->str_off)
            return wl_errmsg_set(c->err, WL_ENOMEM, "%sout of memory indexing the array", c->ctx);
        a->n = n;
        for (uint64_t j = 0; j < n; j++) {
            uint64_t doff, len;
            a->str_off[j] = c->off;
            c->elem = (int64_t)j;
            rc = wl__get_str(c, "string", &doff, &len);
            if (rc)
                return rc;
        }
        c->elem = -1;
    } else if (et == WL_GGUF_ARRAY) {
        if (n > WL_GGUF_MAX_SUBARRAYS - c->n_subarrays)
            return wl_errmsg_set(c->err, WL_EFORMAT,
                                 "%sarray of %" PRIu64 " arrays at byte %" PRIu64
                                 " exceeds the limit of %u nested arrays per file",
                                 c->ctx, n, at, WL_GGUF_MAX_SUBARRAYS);
        c->n_subarrays += n;
        a->sub = calloc(n ? n : 1, sizeof *a->sub);
        if (!a->sub)
            return wl_errmsg_set(c->err, WL_ENOMEM, "%sout of memory indexing the array", c->ctx);
        a->n = n; /* calloc'd children are safe to free even if parsing stops early */
        for (uint64_t j = 0; j < n; j++) {
            rc = wl__parse_arr(c, &a->sub[j], depth + 1);
            if (rc)
                return rc;
        }
    } else {
        a->n = n;
        uint64_t bytes = n * min_elem; /* cannot overflow: n <= left / min_elem */
        if (et == WL_GGUF_BOOL) {
            for (uint64_t j = 0; j < n; j++) {
                uint8_t b = c->p[c->off + j];
                if (b > 1)
                    return wl_errmsg_set(c->err, WL_EFORMAT,
                                         "%sbool array element %" PRIu64 " at byte %" PRIu64
                                         " is %u (must be 0 or 1)",
                                         c->ctx, j, c->off + j, b);
            }
        }
        c->off += bytes;
    }
    return 0;
}

static int wl__parse_kv(struct wl__cur *c, struct wl__gguf_kv *kv)
{
    uint64_t at = c->off;
    int rc = wl__get_name(c, "metadata key", WL_GGUF_MAX_KEY_BYTES, &kv->key);
    if (rc)
        return rc;
    uint64_t tat = c->off;
    uint32_t t;
    snprintf(c->ctx, sizeof c->ctx, "key '%s': ", wl__show(kv->key).s);
    rc = wl__get_u32(c, "value type", &t);
    if (rc)
        return rc;
    if (t >= WL_GGUF_VTYPE_COUNT)
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "key '%s' (at byte %" PRIu64 "): unknown value type %" PRIu32
                             " at byte %" PRIu64,
                             wl__show(kv->key).s, at, t, tat);
    kv->type = (enum wl_gguf_vtype)t;
    kv->val_off = c->off;
    if (t == WL_GGUF_STRING) {
        uint64_t doff, len;
        rc = wl__get_str(c, "string value", &doff, &len);
    } else if (t == WL_GGUF_ARRAY) {
        rc = wl__parse_arr(c, &kv->arr, 0);
    } else {
        char what[32];
        snprintf(what, sizeof what, "%s value", wl__vtype_names[t]);
        rc = wl__need(c, wl__vtype_sizes[t], what);
        if (rc == 0 && t == WL_GGUF_BOOL && c->p[c->off] > 1)
            rc = wl_errmsg_set(c->err, WL_EFORMAT,
                               "%sbool value at byte %" PRIu64 " is %u (must be 0 or 1)", c->ctx,
                               c->off, c->p[c->off]);
        if (rc == 0)
            c->off += wl__vtype_sizes[t];
    }
    if (rc)
        return rc;
    c->ctx[0] = '\0';
    kv->val_len = c->off - kv->val_off;
    return 0;
}

static int wl__parse_tensor(struct wl__cur *c, struct wl_gguf_tensor *t, uint64_t idx)
{
    uint64_t at = c->off;
    char *name = NULL;
    int rc = wl__get_name(c, "tensor name", WL_GGUF_MAX_NAME_BYTES, &name);
    if (rc)
        return rc;
    t->name = name;
    const struct wl__shown shown = wl__show(name);
    snprintf(c->ctx, sizeof c->ctx, "tensor '%s': ", shown.s);
    uint32_t n_dims;
    uint64_t dat = c->off;
    rc = wl__get_u32(c, "n_dims", &n_dims);
    if (rc)
        return rc;
    if (n_dims > WL_GGUF_MAX_DIMS)
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "tensor %" PRIu64 " '%s': %" PRIu32 " dimensions at byte %" PRIu64
                             " (at most %d)",
                             idx, shown.s, n_dims, dat, WL_GGUF_MAX_DIMS);
    t->n_dims = n_dims;
    uint64_t n_el = 1;
    for (int d = 0; d < WL_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t eat = c->off;
        char what[24];
        snprintf(what, sizeof what, "dimension %" PRIu32, d);
        rc = wl__get_u64(c, what, &t->ne[d]);
        if (rc)
            return rc;
        if (t->ne[d] > (uint64_t)INT64_MAX)
            return wl_errmsg_set(c->err, WL_EFORMAT,
                                 "tensor '%s': dimension %" PRIu32 " = %" PRIu64 " at byte %" PRIu64
                                 " is out of range",
                                 shown.s, d, t->ne[d], eat);
        if (__builtin_mul_overflow(n_el, t->ne[d], &n_el) || n_el > (uint64_t)INT64_MAX)
            return wl_errmsg_set(c->err, WL_EFORMAT,
                                 "tensor '%s': element count overflows at dimension %" PRIu32
                                 " (byte %" PRIu64 ")",
                                 shown.s, d, eat);
    }
    t->n_elements = n_el;
    uint64_t tat = c->off;
    uint32_t type;
    rc = wl__get_u32(c, "type", &type);
    if (rc)
        return rc;
    if (!wl_ttype_is_known(type))
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "tensor '%s': unknown tensor type %" PRIu32 " at byte %" PRIu64,
                             shown.s, type, tat);
    t->type = (enum wl_ttype)type;
    uint32_t be = wl_ttype_block_elems(type);
    if (t->ne[0] % be != 0)
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "tensor '%s' (at byte %" PRIu64 "): row length %" PRIu64
                             " is not a multiple of the %s block size %" PRIu32,
                             shown.s, at, t->ne[0], wl_ttype_name(type), be);
    rc = wl_ttype_bytes(type, n_el, &t->n_bytes);
    if (rc)
        return wl_errmsg_set(c->err, WL_EFORMAT,
                             "tensor '%s' (at byte %" PRIu64 "): byte size of %" PRIu64
                             " %s elements overflows",
                             shown.s, at, n_el, wl_ttype_name(type));
    rc = wl__get_u64(c, "data offset", &t->offset);
    if (rc == 0)
        c->ctx[0] = '\0';
    return rc;
}

static int wl__cmp_tensor_off(const void *a, const void *b)
{
    const struct wl_gguf_tensor *x = *(const struct wl_gguf_tensor *const *)a;
    const struct wl_gguf_tensor *y = *(const struct wl_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset ? 1 : 0;
}

/* Tensor data: aligned, inside the file, and no two tensors overlap. */
static int wl__check_tensor_data(wl_gguf *g, struct wl_errmsg *err)
{
    uint64_t ds = g->size > g->data_offset ? g->size - g->data_offset : 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct wl_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return wl_errmsg_set(err, WL_EFORMAT,
                                 "tensor '%s': data offset %" PRIu64 " (file byte %" PRIu64
                                 ") is not a multiple of the alignment %" PRIu64,
                                 wl__show(t->name).s, t->offset, g->data_offset + t->offset,
                                 g->alignment);
        if (t->offset > ds || t->n_bytes > ds - t->offset)
            return wl_errmsg_set(
                err, WL_EFORMAT,
                "tensor '%s': data [%" PRIu64 ", +%" PRIu64 ") of the data section at byte %" PRIu64
                " extends past the end of the file (data section is %" PRIu64 " bytes)",
                wl__show(t->name).s, t->offset, t->n_bytes, g->data_offset, ds);
        t->data = t->n_bytes ? g->base + g->data_offset + t->offset : NULL;
    }
    if (g->n_tensors < 2)
        return 0;
    const struct wl_gguf_tensor **order = malloc(g->n_tensors * sizeof *order);
    if (!order)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory checking tensor offsets");
    for (uint64_t i = 0; i < g->n_tensors; i++)
        order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, wl__cmp_tensor_off);
    /* In offset order, each tensor against the one whose data reaches
     * furthest so far (not just its neighbour: a 0-byte tensor between two
     * overlapping ones used to hide the overlap). 0-byte tensors hold no
     * data and overlap nothing. Ends cannot overflow: checked above. */
    int rc = 0;
    const struct wl_gguf_tensor *reach = NULL;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct wl_gguf_tensor *b = order[i];
        if (b->n_bytes == 0)
            continue;
        if (reach && reach->offset + reach->n_bytes > b->offset) {
            rc = wl_errmsg_set(err, WL_EFORMAT,
                               "tensors '%s' (data offset %" PRIu64 ", %" PRIu64
                               " bytes) and '%s' (data offset %" PRIu64 ") overlap",
                               wl__show(reach->name).s, reach->offset, reach->n_bytes,
                               wl__show(b->name).s, b->offset);
            break;
        }
        if (!reach || b->offset + b->n_bytes > reach->offset + reach->n_bytes)
            reach = b;
    }
    free(order);
    return rc;
}

static int wl__parse(wl_gguf *g, struct wl_errmsg *err)
{
    struct wl__cur c = {.p = g->base, .size = g->size, .off = 0, .err = err, .elem = -1};
    int rc;
    if (g->size < 4 || memcmp(g->base, "GGUF", 4) != 0)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "not a GGUF file: the first 4 bytes are not the magic \"GGUF\"");
    c.off = 4;
    uint32_t version;
    rc = wl__get_u32(&c, "header version", &version);
    if (rc)
        return rc;
    if (version == 0x02000000u || version == 0x03000000u)
        return wl_errmsg_set(err, WL_ENOTSUP,
                             "big-endian GGUF (version field at byte 4 reads 0x%08" PRIx32
                             ") is not supported",
                             version);
    if (version != 2 && version != 3)
        return wl_errmsg_set(err, WL_EVERSION,
                             "GGUF version %" PRIu32 " at byte 4 is not supported (2 and 3 are)",
                             version);
    g->version = version;
    rc = wl__get_u64(&c, "tensor count", &g->n_tensors);
    if (rc)
        return rc;
    uint64_t n_kv;
    rc = wl__get_u64(&c, "metadata count", &n_kv);
    if (rc)
        return rc;
    /* Bound the counts by the bytes left before allocating anything for them. */
    if (n_kv > wl__left(&c) / WL_GGUF_MIN_KV_BYTES)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "metadata count %" PRIu64 " at byte 16 is impossible: %" PRIu64
                             " bytes remain and each entry needs at least %u",
                             n_kv, wl__left(&c), WL_GGUF_MIN_KV_BYTES);
    if (g->n_tensors > wl__left(&c) / WL_GGUF_MIN_TENSOR_BYTES)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "tensor count %" PRIu64 " at byte 8 is impossible: %" PRIu64
                             " bytes remain and each tensor info needs at least %u",
                             g->n_tensors, wl__left(&c), WL_GGUF_MIN_TENSOR_BYTES);
    if (n_kv > WL_GGUF_MAX_KV)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "metadata count %" PRIu64 " at byte 16 exceeds the limit of %u keys",
                             n_kv, WL_GGUF_MAX_KV);
    if (g->n_tensors > WL_GGUF_MAX_TENSORS)
        return wl_errmsg_set(err, WL_EFORMAT,
                             "tensor count %" PRIu64 " at byte 8 exceeds the limit of %u tensors",
                             g->n_tensors, WL_GGUF_MAX_TENSORS);
    g->kv = calloc(n_kv ? n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors)
        return wl_errmsg_set(err, WL_ENOMEM,
                             "out of memory for %" PRIu64 " keys and %" PRIu64 " tensors", n_kv,
                             g->n_tensors);
    uint64_t keys[4]; /* unknown to whoever wrote the file (wl_random_bytes) */
    wl_random_bytes(keys, sizeof keys);
    rc = wl__index_init(&g->kv_index, n_kv, keys);
    if (rc == 0)
        rc = wl__index_init(&g->tensor_index, g->n_tensors, keys + 2);
    if (rc)
        return wl_errmsg_set(err, rc, "out of memory for the lookup indexes");

    for (uint64_t i = 0; i < n_kv; i++) {
        uint64_t at = c.off;
        rc = wl__parse_kv(&c, &g->kv[i]);
        g->n_kv = i + 1; /* so close() frees what this entry allocated */
        if (rc)
            return rc;
        int64_t dup = wl__index_find(&g->kv_index, g->kv[i].key, g, wl__kv_name);
        if (dup >= 0)
            return wl_errmsg_set(err, WL_EFORMAT,
                                 "duplicate metadata key '%s' at byte %" PRIu64
                                 " (first seen as entry %" PRId64 ")",
                                 wl__show(g->kv[i].key).s, at, dup);
        wl__index_put(&g->kv_index, g->kv[i].key, i);
    }

    g->alignment = WL_GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = wl_gguf_find_kv(g, "general.alignment");
    if (ai >= 0) {
        const struct wl__gguf_kv *kv = &g->kv[ai];
        if (kv->type != WL_GGUF_UINT32)
            return wl_errmsg_set(err, WL_EFORMAT,
                                 "general.alignment at byte %" PRIu64
                                 " has type %s (must be UINT32)",
                                 kv->val_off, wl__vtype_names[kv->type]);
        uint32_t a = wl__rd32(g->base + kv->val_off);
        if (a == 0 || (a & (a - 1)) != 0)
            return wl_errmsg_set(err, WL_EFORMAT,
                                 "general.alignment = %" PRIu32 " at byte %" PRIu64
                                 " is not a power of two",
                                 a, kv->val_off);
        if (a > WL_GGUF_MAX_ALIGNMENT)
            return wl_errmsg_set(err, WL_EFORMAT,
                                 "general.alignment = %" PRIu32 " at byte %" PRIu64
                                 " exceeds the largest alignment wattlens reads, %u (2 MiB)",
                                 a, kv->val_off, WL_GGUF_MAX_ALIGNMENT);
        g->alignment = a;
    }

    uint64_t n_t = g->n_tensors;
    g->n_tensors = 0; /* counts parsed entries for cleanup and lookups */
    for (uint64_t i = 0; i < n_t; i++) {
        uint64_t at = c.off;
        rc = wl__parse_tensor(&c, &g->tensors[i], i);
        g->n_tensors = i + 1;
        if (rc)
            return rc;
        int64_t dup = wl__index_find(&g->tensor_index, g->tensors[i].name, g, wl__tensor_name);
        if (dup >= 0)
            return wl_errmsg_set(err, WL_EFORMAT,
                                 "duplicate tensor name '%s' at byte %" PRIu64
                                 " (first seen as tensor %" PRId64 ")",
                                 wl__show(g->tensors[i].name).s, at, dup);
        wl__index_put(&g->tensor_index, g->tensors[i].name, i);
    }
    /* alignment <= 2 MiB and c.off <= size, so this cannot overflow. */
    g->data_offset = (c.off + g->alignment - 1) / g->alignment * g->alignment;
    return wl__check_tensor_data(g, err);
}

/* ---- open / close ------------------------------------------------------------ */

static int wl__open_common(wl_gguf *g, wl_gguf **out, struct wl_errmsg *err)
{
    int rc = wl__parse(g, err);
    if (rc) {
        wl_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int wl_gguf_open_memory(const void *data, size_t size, wl_gguf **out, struct wl_errmsg *err)
{
    wl_errmsg_clear(err);
    if (!out || (!data && size))
        return wl_errmsg_set(err, WL_EINVAL, "invalid argument");
    *out = NULL;
    wl_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    g->base = data ? data : (const uint8_t *)"";
    g->size = size;
    return wl__open_common(g, out, err);
}

int wl_gguf_open(const char *path, wl_gguf **out, struct wl_errmsg *err)
{
    wl_errmsg_clear(err);
    if (!path || !out)
        return wl_errmsg_set(err, WL_EINVAL, "invalid argument");
    *out = NULL;
    /* O_NONBLOCK: a FIFO without a writer is refused below (not a regular
     * file) instead of waited on; the file is only mapped, never read */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return wl_errmsg_set(err, wl_error_from_errno(e), "cannot open %s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return wl_errmsg_set(err, wl_error_from_errno(e), "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return wl_errmsg_set(err, WL_EINVAL, "%s is not a regular file", path);
    }
    if (st.st_size < (off_t)WL_GGUF_HEADER_BYTES) {
        close(fd);
        return wl_errmsg_set(err, WL_EFORMAT,
                             "%s is %lld bytes, shorter than a GGUF header (%u bytes)", path,
                             (long long)st.st_size, WL_GGUF_HEADER_BYTES);
    }
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return wl_errmsg_set(err, wl_error_from_errno(e), "cannot map %s: %s", path, strerror(e));
    /* tensor data is streamed once per token: 2 MiB pages where the kernel
     * can (see util/hugepage.h) */
    wl_hugepage_advise(map, len);
    wl_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        munmap(map, len);
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
    }
    g->map = map;
    g->map_len = len;
    g->base = map;
    g->size = len;
    int rc = wl__open_common(g, out, err);
    if (rc)
        wl_errmsg_prefix(err, rc, path); /* so that the message stands alone */
    return rc;
}

void wl_gguf_close(wl_gguf *g)
{
    if (!g)
        return;
    if (g->kv) {
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            wl__arr_free(&g->kv[i].arr);
        }
        free(g->kv);
    }
    if (g->tensors) {
        for (uint64_t i = 0; i < g->n_tensors; i++)
            free((char *)g->tensors[i].name);
        free(g->tensors);
    }
    free(g->kv_index.slots);
    free(g->tensor_index.slots);
    if (g->map)
        munmap(g->map, g->map_len);
    free(g);
}

uint32_t wl_gguf_version(const wl_gguf *g)
{
    return g->version;
}

uint64_t wl_gguf_file_size(const wl_gguf *g)
{
    return g->size;
}

const void *wl_gguf_mapping(const wl_gguf *g)
{
    return g->map;
}

uint64_t wl_gguf_alignment(const wl_gguf *g)
{
    return g->alignment;
}

uint64_t wl_gguf_data_offset(const wl_gguf *g)
{
    return g->data_offset;
}

/* ---- metadata ------------------------------------------------------------ */

uint64_t wl_gguf_n_kv(const wl_gguf *g)
{
    return g->n_kv;
}

int64_t wl_gguf_find_kv(const wl_gguf *g, const char *key)
{
    if (!key)
        return -1;
    return wl__index_find(&g->kv_index, key, g, wl__kv_name);
}

const char *wl_gguf_kv_key(const wl_gguf *g, uint64_t i)
{
    return i < g->n_kv ? g->kv[i].key : NULL;
}

enum wl_gguf_vtype wl_gguf_kv_type(const wl_gguf *g, uint64_t i)
{
    return i < g->n_kv ? g->kv[i].type : WL_GGUF_VTYPE_COUNT;
}

int wl_gguf_kv_raw(const wl_gguf *g, uint64_t i, const void **data, uint64_t *n_bytes)
{
    if (i >= g->n_kv)
        return WL_ERANGE;
    *data = g->base + g->kv[i].val_off;
    *n_bytes = g->kv[i].val_len;
    return 0;
}

/* A decoded scalar: exactly one of the three representations is meaningful. */
struct wl__num {
    enum { WL__NUM_S, WL__NUM_U, WL__NUM_F } kind;
    int64_t s;
    uint64_t u;
    double f;
};

/* Decodes the fixed-size value of type t at p; WL_EINVAL for STRING/ARRAY. */
static int wl__decode(enum wl_gguf_vtype t, const uint8_t *p, struct wl__num *n)
{
    switch (t) {
    case WL_GGUF_UINT8:
    case WL_GGUF_BOOL:
        n->kind = WL__NUM_U, n->u = p[0];
        return 0;
    case WL_GGUF_INT8:
        n->kind = WL__NUM_S, n->s = (int8_t)p[0];
        return 0;
    case WL_GGUF_UINT16:
        n->kind = WL__NUM_U, n->u = wl__rd16(p);
        return 0;
    case WL_GGUF_INT16:
        n->kind = WL__NUM_S, n->s = (int16_t)wl__rd16(p);
        return 0;
    case WL_GGUF_UINT32:
        n->kind = WL__NUM_U, n->u = wl__rd32(p);
        return 0;
    case WL_GGUF_INT32:
        n->kind = WL__NUM_S, n->s = (int32_t)wl__rd32(p);
        return 0;
    case WL_GGUF_UINT64:
        n->kind = WL__NUM_U, n->u = wl__rd64(p);
        return 0;
    case WL_GGUF_INT64:
        n->kind = WL__NUM_S, n->s = (int64_t)wl__rd64(p);
        return 0;
    case WL_GGUF_FLOAT32: {
        uint32_t b = wl__rd32(p);
        float f;
        memcpy(&f, &b, 4);
        n->kind = WL__NUM_F, n->f = f;
        return 0;
    }
    case WL_GGUF_FLOAT64: {
        uint64_t b = wl__rd64(p);
        memcpy(&n->f, &b, 8);
        n->kind = WL__NUM_F;
        return 0;
    }
    default:
        return WL_EINVAL;
    }
}

static int wl__num_to_i64(const struct wl__num *n, int64_t *out)
{
    switch (n->kind) {
    case WL__NUM_S:
        *out = n->s;
        return 0;
    case WL__NUM_U:
        if (n->u > (uint64_t)INT64_MAX)
            return WL_ERANGE;
        *out = (int64_t)n->u;
        return 0;
    default:
        /* A float converts only when it holds an integer in range. */
        if (!(n->f >= -9223372036854775808.0 && n->f < 9223372036854775808.0) ||
            n->f != (double)(int64_t)n->f)
            return WL_ERANGE;
        *out = (int64_t)n->f;
        return 0;
    }
}

static int wl__num_to_f64(const struct wl__num *n, double *out)
{
    *out = n->kind == WL__NUM_S ? (double)n->s : n->kind == WL__NUM_U ? (double)n->u : n->f;
    return 0;
}

static const struct wl__gguf_kv *wl__kv(const wl_gguf *g, const char *key)
{
    int64_t i = wl_gguf_find_kv(g, key);
    return i < 0 ? NULL : &g->kv[i];
}

static int wl__get_num(const wl_gguf *g, const char *key, struct wl__num *n)
{
    const struct wl__gguf_kv *kv = wl__kv(g, key);
    if (!kv)
        return WL_ENOENT;
    return wl__decode(kv->type, g->base + kv->val_off, n);
}

int wl_gguf_get_i64(const wl_gguf *g, const char *key, int64_t *out)
{
    struct wl__num n;
    int rc = wl__get_num(g, key, &n);
    return rc ? rc : wl__num_to_i64(&n, out);
}

/* n as a uint64_t: negative or fractional is WL_ERANGE. */
static int wl__num_to_u64(const struct wl__num *n, uint64_t *out)
{
    if (n->kind == WL__NUM_U) {
        *out = n->u;
        return 0;
    }
    if (n->kind == WL__NUM_S) {
        if (n->s < 0)
            return WL_ERANGE;
        *out = (uint64_t)n->s;
        return 0;
    }
    if (!(n->f >= 0.0 && n->f < 18446744073709551616.0) || n->f != (double)(uint64_t)n->f)
        return WL_ERANGE;
    *out = (uint64_t)n->f;
    return 0;
}

int wl_gguf_get_u64(const wl_gguf *g, const char *key, uint64_t *out)
{
    struct wl__num n;
    int rc = wl__get_num(g, key, &n);
    return rc ? rc : wl__num_to_u64(&n, out);
}

int wl_gguf_get_f64(const wl_gguf *g, const char *key, double *out)
{
    struct wl__num n;
    int rc = wl__get_num(g, key, &n);
    return rc ? rc : wl__num_to_f64(&n, out);
}

int wl_gguf_get_bool(const wl_gguf *g, const char *key, bool *out)
{
    struct wl__num n;
    int rc = wl__get_num(g, key, &n);
    if (rc)
        return rc;
    if (n.kind == WL__NUM_F)
        return WL_EINVAL;
    int64_t v;
    rc = wl__num_to_i64(&n, &v);
    if (rc || (v != 0 && v != 1))
        return WL_ERANGE;
    *out = v == 1;
    return 0;
}

int wl_gguf_get_str(const wl_gguf *g, const char *key, struct wl_gguf_str *out)
{
    const struct wl__gguf_kv *kv = wl__kv(g, key);
    if (!kv)
        return WL_ENOENT;
    if (kv->type != WL_GGUF_STRING)
        return WL_EINVAL;
    out->len = wl__rd64(g->base + kv->val_off);
    out->data = (const char *)g->base + kv->val_off + 8;
    return 0;
}

/* ---- arrays ------------------------------------------------------------------ */

static void wl__view(const wl_gguf *g, const struct wl__gguf_arr *a, struct wl_gguf_arr *out)
{
    out->g = g;
    out->node = a;
    out->elem_type = a->elem_type;
    out->n = a->n;
}

int wl_gguf_get_arr_view(const wl_gguf *g, const char *key, struct wl_gguf_arr *out)
{
    const struct wl__gguf_kv *kv = wl__kv(g, key);
    if (!kv)
        return WL_ENOENT;
    if (kv->type != WL_GGUF_ARRAY)
        return WL_EINVAL;
    wl__view(g, &kv->arr, out);
    return 0;
}

int wl_gguf_arr_sub(const struct wl_gguf_arr *a, uint64_t j, struct wl_gguf_arr *out)
{
    const struct wl__gguf_arr *n = a->node;
    if (n->elem_type != WL_GGUF_ARRAY)
        return WL_EINVAL;
    if (j >= n->n)
        return WL_ERANGE;
    wl__view(a->g, &n->sub[j], out);
    return 0;
}

int wl_gguf_arr_str(const struct wl_gguf_arr *a, uint64_t j, struct wl_gguf_str *out)
{
    const struct wl__gguf_arr *n = a->node;
    if (n->elem_type != WL_GGUF_STRING)
        return WL_EINVAL;
    if (j >= n->n)
        return WL_ERANGE;
    const uint8_t *p = a->g->base + n->str_off[j];
    out->len = wl__rd64(p);
    out->data = (const char *)p + 8;
    return 0;
}

static int wl__arr_num(const struct wl_gguf_arr *a, uint64_t j, struct wl__num *num)
{
    const struct wl__gguf_arr *n = a->node;
    uint32_t sz = wl__vtype_sizes[n->elem_type];
    if (sz == 0)
        return WL_EINVAL;
    if (j >= n->n)
        return WL_ERANGE;
    return wl__decode(n->elem_type, a->g->base + n->data_off + j * sz, num);
}

int wl_gguf_arr_i64(const struct wl_gguf_arr *a, uint64_t j, int64_t *out)
{
    struct wl__num num;
    int rc = wl__arr_num(a, j, &num);
    return rc ? rc : wl__num_to_i64(&num, out);
}

int wl_gguf_arr_u64(const struct wl_gguf_arr *a, uint64_t j, uint64_t *out)
{
    struct wl__num num;
    int rc = wl__arr_num(a, j, &num);
    return rc ? rc : wl__num_to_u64(&num, out);
}

int wl_gguf_arr_f64(const struct wl_gguf_arr *a, uint64_t j, double *out)
{
    struct wl__num num;
    int rc = wl__arr_num(a, j, &num);
    return rc ? rc : wl__num_to_f64(&num, out);
}

const void *wl_gguf_arr_data(const struct wl_gguf_arr *a)
{
    const struct wl__gguf_arr *n = a->node;
    if (wl__vtype_sizes[n->elem_type] == 0)
        return NULL;
    return a->g->base + n->data_off;
}

int wl_gguf_get_arr(const wl_gguf *g, const char *key, enum wl_gguf_vtype *elem_type, uint64_t *n)
{
    struct wl_gguf_arr a;
    int rc = wl_gguf_get_arr_view(g, key, &a);
    if (rc)
        return rc;
    *elem_type = a.elem_type;
    *n = a.n;
    return 0;
}

int wl_gguf_get_arr_str(const wl_gguf *g, const char *key, uint64_t j, struct wl_gguf_str *out)
{
    struct wl_gguf_arr a;
    int rc = wl_gguf_get_arr_view(g, key, &a);
    return rc ? rc : wl_gguf_arr_str(&a, j, out);
}

int wl_gguf_get_arr_i64(const wl_gguf *g, const char *key, uint64_t j, int64_t *out)
{
    struct wl_gguf_arr a;
    int rc = wl_gguf_get_arr_view(g, key, &a);
    return rc ? rc : wl_gguf_arr_i64(&a, j, out);
}

int wl_gguf_get_arr_f64(const wl_gguf *g, const char *key, uint64_t j, double *out)
{
    struct wl_gguf_arr a;
    int rc = wl_gguf_get_arr_view(g, key, &a);
    return rc ? rc : wl_gguf_arr_f64(&a, j, out);
}

const void *wl_gguf_get_arr_data(const wl_gguf *g, const char *key)
{
    struct wl_gguf_arr a;
    if (wl_gguf_get_arr_view(g, key, &a) != 0)
        return NULL;
    return wl_gguf_arr_data(&a);
}

/* ---- tensors ----------------------------------------------------------------- */

uint64_t wl_gguf_n_tensors(const wl_gguf *g)
{
    return g->n_tensors;
}

const struct wl_gguf_tensor *wl_gguf_tensor(const wl_gguf *g, uint64_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const struct wl_gguf_tensor *wl_gguf_find_tensor(const wl_gguf *g, const char *name)
{
    if (!name)
        return NULL;
    int64_t r = wl__index_find(&g->tensor_index, name, g, wl__tensor_name);
    return r < 0 ? NULL : &g->tensors[r];
}

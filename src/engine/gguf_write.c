/* GGUF writer; see gguf_write.h. Values are serialized (little-endian) when
 * they are set, so writing is a straight copy: header, key/values, tensor
 * infos with offsets assigned in insertion order, padding to the alignment,
 * then each tensor's bytes padded to the alignment (as llama.cpp does). */
#include "engine/gguf_write.h"

#include "util/outfile.h"
#include "wattlens/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF writer serializes host values as little-endian; port wl__put_le first"
#endif

#define WL_GGUF_WRITER_MAX_KEY 65535u
#define WL_GGUF_WRITER_MAX_NAME 1024u

struct wl__wkv {
    char *key;
    enum wl_gguf_vtype type;
    uint8_t *val;
    uint64_t len;
};

struct wl__wtensor {
    char *name;
    enum wl_ttype type;
    uint32_t n_dims;
    uint64_t ne[WL_GGUF_MAX_DIMS];
    const void *data;
    void *owned;          /* free()d with the writer: data, or fill's argument */
    wl_gguf_fill_fn fill; /* non-NULL: the bytes come from fill(owned, ...) when written */
    uint64_t n_bytes;
};

struct wl_gguf_writer {
    struct wl__wkv *kv;
    uint64_t n_kv, cap_kv;
    struct wl__wtensor *t;
    uint64_t n_t, cap_t;
    uint32_t alignment;
};

int wl_gguf_writer_new(wl_gguf_writer **out)
{
    wl_gguf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return WL_ENOMEM;
    w->alignment = WL_GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return 0;
}

void wl_gguf_writer_free(wl_gguf_writer *w)
{
    if (!w)
        return;
    for (uint64_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (uint64_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].owned);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

static bool wl__name_ok(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t n = strnlen(s, max + 1);
    return n > 0 && n <= max;
}

static int64_t wl__find(const wl_gguf_writer *w, const char *key)
{
    for (uint64_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0)
            return (int64_t)i;
    }
    return -1;
}

/* Stores an already serialized value (takes ownership of val). */
static int wl__set(wl_gguf_writer *w, const char *key, enum wl_gguf_vtype type, uint8_t *val,
                   uint64_t len)
{
    if (!wl__name_ok(key, WL_GGUF_WRITER_MAX_KEY)) {
        free(val);
        return WL_EINVAL;
    }
    if (strcmp(key, "general.alignment") == 0) {
        uint32_t a = 0;
        if (type != WL_GGUF_UINT32) {
            free(val);
            return WL_EINVAL;
        }
        memcpy(&a, val, 4);
        if (a == 0 || (a & (a - 1)) != 0) {
            free(val);
            return WL_EINVAL;
        }
        if (a > WL_GGUF_MAX_ALIGNMENT) { /* as the reader: no file of padding */
            free(val);
            return WL_ERANGE;
        }
        /* Never below the default: at 1 or 2 tensor data can land at odd
         * addresses, which the matrix kernels cannot read (the engine then
         * has to copy each such tensor at load). A file copied from one
         * with a smaller alignment gets 32. */
        if (a < WL_GGUF_DEFAULT_ALIGNMENT) {
            a = WL_GGUF_DEFAULT_ALIGNMENT;
            memcpy(val, &a, 4);
        }
        w->alignment = a;
    }
    int64_t i = wl__find(w, key);
    if (i >= 0) {
        free(w->kv[i].val);
        w->kv[i].type = type;
        w->kv[i].val = val;
        w->kv[i].len = len;
        return 0;
    }
    if (w->n_kv == w->cap_kv) {
        uint64_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        struct wl__wkv *nk = realloc(w->kv, cap * sizeof *nk);
        if (!nk) {
            free(val);
            return WL_ENOMEM;
        }
        w->kv = nk;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(val);
        return WL_ENOMEM;
    }
    w->kv[w->n_kv++] = (struct wl__wkv){.key = k, .type = type, .val = val, .len = len};
    return 0;
}

static int wl__set_copy(wl_gguf_writer *w, const char *key, enum wl_gguf_vtype type,
                        const void *bytes, uint64_t len)
{
    uint8_t *v = malloc(len ? len : 1);
    if (!v)
        return WL_ENOMEM;
    if (len)
        memcpy(v, bytes, len);
    return wl__set(w, key, type, v, len);
}

int wl_gguf_writer_set_u8(wl_gguf_writer *w, const char *key, uint8_t v)
{
    return wl__set_copy(w, key, WL_GGUF_UINT8, &v, 1);
}

int wl_gguf_writer_set_i8(wl_gguf_writer *w, const char *key, int8_t v)
{
    return wl__set_copy(w, key, WL_GGUF_INT8, &v, 1);
}

int wl_gguf_writer_set_u16(wl_gguf_writer *w, const char *key, uint16_t v)
{
    return wl__set_copy(w, key, WL_GGUF_UINT16, &v, 2);
}

int wl_gguf_writer_set_i16(wl_gguf_writer *w, const char *key, int16_t v)
{
    return wl__set_copy(w, key, WL_GGUF_INT16, &v, 2);
}

int wl_gguf_writer_set_u32(wl_gguf_writer *w, const char *key, uint32_t v)
{
    return wl__set_copy(w, key, WL_GGUF_UINT32, &v, 4);
}

int wl_gguf_writer_set_i32(wl_gguf_writer *w, const char *key, int32_t v)
{
    return wl__set_copy(w, key, WL_GGUF_INT32, &v, 4);
}

int wl_gguf_writer_set_u64(wl_gguf_writer *w, const char *key, uint64_t v)
{
    return wl__set_copy(w, key, WL_GGUF_UINT64, &v, 8);
}

int wl_gguf_writer_set_i64(wl_gguf_writer *w, const char *key, int64_t v)
{
    return wl__set_copy(w, key, WL_GGUF_INT64, &v, 8);
}

int wl_gguf_writer_set_f32(wl_gguf_writer *w, const char *key, float v)
{
    return wl__set_copy(w, key, WL_GGUF_FLOAT32, &v, 4);
}

int wl_gguf_writer_set_f64(wl_gguf_writer *w, const char *key, double v)
{
    return wl__set_copy(w, key, WL_GGUF_FLOAT64, &v, 8);
}

int wl_gguf_writer_set_bool(wl_gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return wl__set_copy(w, key, WL_GGUF_BOOL, &b, 1);
}

int wl_gguf_writer_set_strn(wl_gguf_writer *w, const char *key, const char *s, uint64_t len)
{
    if (!s && len)
        return WL_EINVAL;
    if (len > SIZE_MAX - 8)
        return WL_ERANGE;
    uint8_t *v = malloc(8 + len);
    if (!v)
        return WL_ENOMEM;
    memcpy(v, &len, 8);
    if (len)
        memcpy(v + 8, s, len);
    return wl__set(w, key, WL_GGUF_STRING, v, 8 + len);
}

int wl_gguf_writer_set_str(wl_gguf_writer *w, const char *key, const char *s)
{
    if (!s)
        return WL_EINVAL;
    return wl_gguf_writer_set_strn(w, key, s, strlen(s));
}

int wl_gguf_writer_set_arr(wl_gguf_writer *w, const char *key, enum wl_gguf_vtype elem_type,
                           const void *data, uint64_t n)
{
    uint32_t es = wl_gguf_vtype_size(elem_type);
    if (es == 0 || (!data && n))
        return WL_EINVAL;
    if (n > (SIZE_MAX - 12) / es)
        return WL_ERANGE;
    if (elem_type == WL_GGUF_BOOL) {
        for (uint64_t j = 0; j < n; j++) {
            if (((const uint8_t *)data)[j] > 1)
                return WL_EINVAL;
        }
    }
    uint8_t *v = malloc(12 + n * es);
    if (!v)
        return WL_ENOMEM;
    uint32_t et = elem_type;
    memcpy(v, &et, 4);
    memcpy(v + 4, &n, 8);
    if (n)
        memcpy(v + 12, data, n * es);
    return wl__set(w, key, WL_GGUF_ARRAY, v, 12 + n * es);
}

int wl_gguf_writer_set_arr_str(wl_gguf_writer *w, const char *key, const struct wl_gguf_str *items,
                               uint64_t n)
{
    if (!items && n)
        return WL_EINVAL;
    uint64_t len = 12;
    for (uint64_t j = 0; j < n; j++) {
        if (!items[j].data && items[j].len)
            return WL_EINVAL;
        if (items[j].len > SIZE_MAX - 8 - len)
            return WL_ERANGE;
        len += 8 + items[j].len;
    }
    uint8_t *v = malloc(len);
    if (!v)
        return WL_ENOMEM;
    uint32_t et = WL_GGUF_STRING;
    memcpy(v, &et, 4);
    memcpy(v + 4, &n, 8);
    uint64_t off = 12;
    for (uint64_t j = 0; j < n; j++) {
        memcpy(v + off, &items[j].len, 8);
        if (items[j].len)
            memcpy(v + off + 8, items[j].data, items[j].len);
        off += 8 + items[j].len;
    }
    return wl__set(w, key, WL_GGUF_ARRAY, v, len);
}

int wl_gguf_writer_set_raw(wl_gguf_writer *w, const char *key, enum wl_gguf_vtype type,
                           const void *bytes, uint64_t n_bytes)
{
    if (!wl__name_ok(key, WL_GGUF_WRITER_MAX_KEY) || (!bytes && n_bytes) ||
        (uint32_t)type >= WL_GGUF_VTYPE_COUNT)
        return WL_EINVAL;
    /* Validate by parsing a one-key file holding exactly this value. */
    size_t klen = strlen(key);
    if (n_bytes > SIZE_MAX - 24 - 12 - klen)
        return WL_ERANGE;
    size_t total = 24 + 8 + klen + 4 + (size_t)n_bytes;
    uint8_t *f = malloc(total);
    if (!f)
        return WL_ENOMEM;
    uint32_t ver = 3, t = type;
    uint64_t n_t = 0, n_kv = 1, kl = klen;
    memcpy(f, "GGUF", 4);
    memcpy(f + 4, &ver, 4);
    memcpy(f + 8, &n_t, 8);
    memcpy(f + 16, &n_kv, 8);
    memcpy(f + 24, &kl, 8);
    memcpy(f + 32, key, klen);
    memcpy(f + 32 + klen, &t, 4);
    if (n_bytes)
        memcpy(f + 36 + klen, bytes, (size_t)n_bytes);
    wl_gguf *g = NULL;
    int rc = wl_gguf_open_memory(f, total, &g, NULL);
    if (rc == 0) {
        const void *raw;
        uint64_t rn = 0;
        rc = wl_gguf_kv_raw(g, 0, &raw, &rn);
        if (rc == 0 && rn != n_bytes)
            rc = WL_EFORMAT; /* trailing bytes after the value */
        wl_gguf_close(g);
    } else if (rc != WL_ENOMEM) {
        rc = WL_EFORMAT;
    }
    free(f);
    if (rc)
        return rc;
    return wl__set_copy(w, key, type, bytes, n_bytes);
}

int wl_gguf_writer_copy_kv(wl_gguf_writer *w, const wl_gguf *src, uint64_t i)
{
    const void *raw;
    uint64_t n;
    int rc = wl_gguf_kv_raw(src, i, &raw, &n);
    if (rc)
        return rc;
    /* The reader already validated the value; copy without re-parsing. */
    return wl__set_copy(w, wl_gguf_kv_key(src, i), wl_gguf_kv_type(src, i), raw, n);
}

int wl_gguf_writer_remove(wl_gguf_writer *w, const char *key)
{
    int64_t i = key ? wl__find(w, key) : -1;
    if (i < 0)
        return WL_ENOENT;
    free(w->kv[i].key);
    free(w->kv[i].val);
    memmove(&w->kv[i], &w->kv[i + 1], (w->n_kv - (uint64_t)i - 1) * sizeof *w->kv);
    w->n_kv--;
    if (strcmp(key, "general.alignment") == 0)
        w->alignment = WL_GGUF_DEFAULT_ALIGNMENT;
    return 0;
}

uint64_t wl_gguf_writer_n_kv(const wl_gguf_writer *w)
{
    return w->n_kv;
}

static int wl__add_tensor(wl_gguf_writer *w, const char *name, enum wl_ttype type, uint32_t n_dims,
                          const uint64_t *ne, const void *data, void *owned, wl_gguf_fill_fn fill,
                          uint64_t n_bytes)
{
    int rc = WL_EINVAL;
    /* n_dims 0 is a scalar (one element), as the reader and llama.cpp's
     * reader accept; ne may then be NULL */
    if (!wl__name_ok(name, WL_GGUF_WRITER_MAX_NAME) || n_dims > WL_GGUF_MAX_DIMS ||
        (!ne && n_dims) || !wl_ttype_is_known(type) || (!data && !fill && n_bytes))
        goto fail;
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] > (uint64_t)INT64_MAX || __builtin_mul_overflow(n_el, ne[d], &n_el)) {
            rc = WL_ERANGE;
            goto fail;
        }
    }
    uint64_t want;
    const uint64_t ne0 = n_dims ? ne[0] : 1;
    if (ne0 % wl_ttype_block_elems(type) != 0 || wl_ttype_bytes(type, n_el, &want) != 0 ||
        want != n_bytes)
        goto fail;
    for (uint64_t i = 0; i < w->n_t; i++) {
        if (strcmp(w->t[i].name, name) == 0) {
            rc = WL_EEXIST;
            goto fail;
        }
    }
    if (w->n_t == w->cap_t) {
        uint64_t cap = w->cap_t ? w->cap_t * 2 : 16;
        struct wl__wtensor *nt = realloc(w->t, cap * sizeof *nt);
        if (!nt) {
            rc = WL_ENOMEM;
            goto fail;
        }
        w->t = nt;
        w->cap_t = cap;
    }
    char *nm = strdup(name);
    if (!nm) {
        rc = WL_ENOMEM;
        goto fail;
    }
    struct wl__wtensor *t = &w->t[w->n_t++];
    *t = (struct wl__wtensor){.name = nm,
                              .type = type,
                              .n_dims = n_dims,
                              .data = data,
                              .owned = owned,
                              .fill = fill,
                              .n_bytes = n_bytes};
    for (int d = 0; d < WL_GGUF_MAX_DIMS; d++)
        t->ne[d] = (uint32_t)d < n_dims ? ne[d] : 1;
    return 0;
fail:
    free(owned);
    return rc;
}

int wl_gguf_writer_add_tensor(wl_gguf_writer *w, const char *name, enum wl_ttype type,
                              uint32_t n_dims, const uint64_t *ne, const void *data,
                              uint64_t n_bytes)
{
    return wl__add_tensor(w, name, type, n_dims, ne, data, NULL, NULL, n_bytes);
}

int wl_gguf_writer_add_tensor_owned(wl_gguf_writer *w, const char *name, enum wl_ttype type,
                                    uint32_t n_dims, const uint64_t *ne, void *data,
                                    uint64_t n_bytes)
{
    return wl__add_tensor(w, name, type, n_dims, ne, data, data, NULL, n_bytes);
}

int wl_gguf_writer_add_tensor_fill(wl_gguf_writer *w, const char *name, enum wl_ttype type,
                                   uint32_t n_dims, const uint64_t *ne, uint64_t n_bytes,
                                   wl_gguf_fill_fn fill, void *arg)
{
    if (!fill) {
        free(arg);
        return WL_EINVAL;
    }
    return wl__add_tensor(w, name, type, n_dims, ne, NULL, arg, fill, n_bytes);
}

uint64_t wl_gguf_writer_n_tensors(const wl_gguf_writer *w)
{
    return w->n_t;
}

static uint64_t wl__align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

static int wl__emit(FILE *f, const void *p, uint64_t n)
{
    return n == 0 || fwrite(p, 1, (size_t)n, f) == n ? 0 : WL_EIO;
}

static int wl__emit_pad(FILE *f, uint64_t pos, uint64_t align)
{
    static const uint8_t zeros[64] = {0};
    uint64_t n = wl__align_up(pos, align) - pos;
    while (n > 0) {
        uint64_t k = n < sizeof zeros ? n : sizeof zeros;
        if (wl__emit(f, zeros, k))
            return WL_EIO;
        n -= k;
    }
    return 0;
}

static int wl__emit_u32(FILE *f, uint32_t v)
{
    return wl__emit(f, &v, 4);
}

static int wl__emit_u64(FILE *f, uint64_t v)
{
    return wl__emit(f, &v, 8);
}

static int wl__emit_str(FILE *f, const char *s)
{
    uint64_t n = strlen(s);
    return wl__emit_u64(f, n) || wl__emit(f, s, n) ? WL_EIO : 0;
}

/* Writes the file to f. A fill tensor's bytes go through one buffer the
 * size of the largest of them. When a fill fails, *fill_err says so and err
 * holds its message; other failures are WL_EIO with errno set. */
static int wl__serialize(const wl_gguf_writer *w, FILE *f, bool *fill_err, struct wl_errmsg *err)
{
    *fill_err = false;
    uint64_t pos = 0;
    if (wl__emit(f, "GGUF", 4) || wl__emit_u32(f, 3) || wl__emit_u64(f, w->n_t) ||
        wl__emit_u64(f, w->n_kv))
        return WL_EIO;
    pos = 24;
    for (uint64_t i = 0; i < w->n_kv; i++) {
        const struct wl__wkv *kv = &w->kv[i];
        if (wl__emit_str(f, kv->key) || wl__emit_u32(f, kv->type) || wl__emit(f, kv->val, kv->len))
            return WL_EIO;
        pos += 8 + strlen(kv->key) + 4 + kv->len;
    }
    uint64_t off = 0;
    for (uint64_t i = 0; i < w->n_t; i++) {
        const struct wl__wtensor *t = &w->t[i];
        if (wl__emit_str(f, t->name) || wl__emit_u32(f, t->n_dims))
            return WL_EIO;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            if (wl__emit_u64(f, t->ne[d]))
                return WL_EIO;
        }
        if (wl__emit_u32(f, t->type) || wl__emit_u64(f, off))
            return WL_EIO;
        pos += 8 + strlen(t->name) + 4 + 8ull * t->n_dims + 4 + 8;
        off = wl__align_up(off + t->n_bytes, w->alignment);
    }
    if (w->n_t == 0)
        return 0; /* like llama.cpp's vocabulary files: no data section, no padding */
    if (wl__emit_pad(f, pos, w->alignment))
        return WL_EIO;
    uint64_t fill_max = 0;
    for (uint64_t i = 0; i < w->n_t; i++)
        if (w->t[i].fill && w->t[i].n_bytes > fill_max)
            fill_max = w->t[i].n_bytes;
    /* at least one byte: a fill gets a buffer even for 0 bytes (one that
     * copies with memcpy may not pass it NULL) */
    uint8_t *buf = NULL;
    if (fill_max > SIZE_MAX - 1 || !(buf = malloc((size_t)fill_max + 1))) {
        *fill_err = true;
        return wl_errmsg_set(err, WL_ENOMEM, "out of memory (a %" PRIu64 "-byte tensor buffer)",
                             fill_max);
    }
    int rc = 0;
    for (uint64_t i = 0; i < w->n_t && rc == 0; i++) {
        const struct wl__wtensor *t = &w->t[i];
        const void *data = t->data;
        if (t->fill) {
            wl_errmsg_clear(err);
            rc = t->fill(t->owned, buf, t->n_bytes, err);
            if (rc) {
                *fill_err = true;
                if (!err || !err->text[0])
                    wl_errmsg_set(err, rc, "tensor '%s': its data could not be produced", t->name);
                break;
            }
            data = buf;
        }
        if (wl__emit(f, data, t->n_bytes) || wl__emit_pad(f, t->n_bytes, w->alignment))
            rc = WL_EIO;
    }
    free(buf);
    return rc;
}

int wl_gguf_writer_write(const wl_gguf_writer *w, const char *path, struct wl_errmsg *err)
{
    wl_errmsg_clear(err);
    if (!w || !path || !*path)
        return wl_errmsg_set(err, WL_EINVAL, "invalid argument");
    /* util/outfile.h: a regular file (through its symlinks) is replaced
     * atomically, synced first, so a crash or a failure leaves the old
     * file or the whole new one; a FIFO or a device is written in place,
     * sequentially, which is all the writer needs. Then drop the pages just
     * written from the page cache: they were cached as small pages, and a
     * file mapping is PMD-mapped only when its cache is read in through a
     * huge-page-advised mapping (util/hugepage.h). The first load then reads
     * the file from disk once and decodes on 2 MiB pages
     * (docs/internals/kernels-decode.md, "Session 9"). */
    struct wl_outfile o;
    int rc = wl_outfile_open(&o, path, WL_OUTFILE_DROP_CACHE);
    if (rc)
        return wl_errmsg_set(err, rc, "cannot write %s: %s%s", path, o.hint, strerror(o.errnum));
    FILE *f = wl_outfile_stream(&o);
    if (!f) {
        rc = wl_errmsg_set(err, wl_error_from_errno(o.errnum), "cannot write %s: %s%s", path,
                           o.hint, strerror(o.errnum));
        wl_outfile_close(&o, false);
        return rc;
    }
    bool fill_err;
    errno = 0;
    rc = wl__serialize(w, f, &fill_err, err);
    int e = errno ? errno : EIO;
    if (rc) {
        wl_outfile_close(&o, false);
        if (!fill_err) /* a fill's own message names the tensor; keep it */
            rc = wl_errmsg_set(err, rc, "cannot write %s: %s", path, strerror(e));
        return rc;
    }
    rc = wl_outfile_close(&o, true);
    if (rc)
        return wl_errmsg_set(err, rc, "cannot %s %s: %s",
                             o.step == WL_OUTFILE_STEP_RENAME ? "replace" : "write", path,
                             strerror(o.errnum));
    return 0;
}

int wl_gguf_writer_write_stream(const wl_gguf_writer *w, FILE *f, const char *name,
                                struct wl_errmsg *err)
{
    wl_errmsg_clear(err);
    if (!w || !f || !name)
        return wl_errmsg_set(err, WL_EINVAL, "invalid argument");
    bool fill_err;
    errno = 0;
    int rc = wl__serialize(w, f, &fill_err, err);
    if (rc == 0 && (fflush(f) != 0 || ferror(f)))
        rc = WL_EIO;
    int e = errno ? errno : EIO;
    if (rc && !fill_err)
        rc = wl_errmsg_set(err, rc, "cannot write %s: %s", name, strerror(e));
    errno = rc && !fill_err ? e : 0;
    return rc;
}

int wl_gguf_writer_to_memory(const wl_gguf_writer *w, void **buf, size_t *size)
{
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    if (!f)
        return WL_ENOMEM;
    bool fill_err;
    struct wl_errmsg err;
    int rc = wl__serialize(w, f, &fill_err, &err);
    if (fclose(f) != 0 && rc == 0)
        rc = WL_EIO;
    if (rc) {
        free(p);
        return rc;
    }
    *buf = p;
    *size = n;
    return 0;
}

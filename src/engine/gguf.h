/* GGUF reader (versions 2 and 3): the engine's view of a model file.
 *
 * wl_gguf_open() maps the file read-only and validates everything up front:
 * header, every metadata key/value (all types, nested arrays), tensor infos,
 * alignment and data offsets are checked against the file size, overflow-safe,
 * before any of it is used. After a successful open every accessor below is a
 * bounds-checked lookup that cannot read outside the mapping.
 *
 * Lifetimes: a wl_gguf owns its mapping; every pointer it hands out (strings,
 * array data, tensor data) stays valid until wl_gguf_close(). Strings from the
 * file are NOT NUL-terminated (struct wl_gguf_str), except keys and tensor
 * names, which the reader copies. Thread-safety: read-only after open, so
 * concurrent readers are fine.
 */
#ifndef WL_ENGINE_GGUF_H
#define WL_ENGINE_GGUF_H

#include "engine/tensor_type.h"
#include "util/errmsg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Metadata value types, numbered as in the GGUF format. */
enum wl_gguf_vtype {
    WL_GGUF_UINT8 = 0,
    WL_GGUF_INT8 = 1,
    WL_GGUF_UINT16 = 2,
    WL_GGUF_INT16 = 3,
    WL_GGUF_UINT32 = 4,
    WL_GGUF_INT32 = 5,
    WL_GGUF_FLOAT32 = 6,
    WL_GGUF_BOOL = 7,
    WL_GGUF_STRING = 8,
    WL_GGUF_ARRAY = 9,
    WL_GGUF_UINT64 = 10,
    WL_GGUF_INT64 = 11,
    WL_GGUF_FLOAT64 = 12,
    WL_GGUF_VTYPE_COUNT
};

#define WL_GGUF_MAX_DIMS 4
#define WL_GGUF_DEFAULT_ALIGNMENT 32
/* The largest general.alignment read or written: 2 MiB (the x86-64 huge
 * page; nothing gains from more). GGUF allows any power of two up to 2^31,
 * and the writer pads the header and every tensor to the alignment, so a
 * tiny file declaring 2^31 became 2 GiB of padding when rewritten. */
#define WL_GGUF_MAX_ALIGNMENT (1u << 21)

/* A string inside the file: data points into the mapping, len bytes, no NUL. */
struct wl_gguf_str {
    const char *data;
    uint64_t len;
};

struct wl_gguf_tensor {
    const char *name;        /* NUL-terminated copy */
    enum wl_ttype type;
    uint32_t n_dims;
    uint64_t ne[WL_GGUF_MAX_DIMS]; /* ne[0] is the innermost (row length); unused dims are 1 */
    uint64_t n_elements;
    uint64_t offset;         /* from the start of the data section */
    uint64_t n_bytes;
    const void *data;        /* into the mapping, aligned to the file's alignment */
};

typedef struct wl_gguf wl_gguf;

/* Opens and validates path. On failure returns a WL_E* code and, when err is
 * not NULL, says what was wrong and at which byte offset, naming path. */
int wl_gguf_open(const char *path, wl_gguf **out, struct wl_errmsg *err);

/* Same over a caller-owned buffer (not copied; must outlive the handle).
 * Used by the fuzzer and by tests. */
int wl_gguf_open_memory(const void *data, size_t size, wl_gguf **out, struct wl_errmsg *err);

/* Unmaps and frees; accepts NULL. */
void wl_gguf_close(wl_gguf *g);

uint32_t wl_gguf_version(const wl_gguf *g);
uint64_t wl_gguf_file_size(const wl_gguf *g);
/* Start of the file mapping when g was opened from a path (wl_gguf_open);
 * NULL when it reads caller memory (wl_gguf_open_memory). */
const void *wl_gguf_mapping(const wl_gguf *g);
uint64_t wl_gguf_alignment(const wl_gguf *g);
uint64_t wl_gguf_data_offset(const wl_gguf *g); /* byte offset of the data section */

/* ---- metadata ---------------------------------------------------------------
 * Keys are indexed 0..n_kv-1 in file order. Typed getters convert between
 * numeric types when the value fits (e.g. a UINT32 read as int64), and return
 * WL_ENOENT for a missing key, WL_EINVAL for a type that does not convert,
 * WL_ERANGE when the value does not fit. */
uint64_t wl_gguf_n_kv(const wl_gguf *g);
/* Out-of-range i: wl_gguf_kv_key returns NULL, wl_gguf_kv_type WL_GGUF_VTYPE_COUNT. */
int64_t wl_gguf_find_kv(const wl_gguf *g, const char *key); /* index or -1 */
const char *wl_gguf_kv_key(const wl_gguf *g, uint64_t i);  /* NUL-terminated */
enum wl_gguf_vtype wl_gguf_kv_type(const wl_gguf *g, uint64_t i);

int wl_gguf_get_i64(const wl_gguf *g, const char *key, int64_t *out);
int wl_gguf_get_u64(const wl_gguf *g, const char *key, uint64_t *out);
int wl_gguf_get_f64(const wl_gguf *g, const char *key, double *out);
int wl_gguf_get_bool(const wl_gguf *g, const char *key, bool *out);
int wl_gguf_get_str(const wl_gguf *g, const char *key, struct wl_gguf_str *out);

/* Arrays: element type and length of the array under key. */
int wl_gguf_get_arr(const wl_gguf *g, const char *key, enum wl_gguf_vtype *elem_type,
                    uint64_t *n);
/* Element j of an array of strings (O(1): the reader indexes string arrays). */
int wl_gguf_get_arr_str(const wl_gguf *g, const char *key, uint64_t j, struct wl_gguf_str *out);
/* Element j of a numeric or bool array, converted as by the scalar getters. */
int wl_gguf_get_arr_i64(const wl_gguf *g, const char *key, uint64_t j, int64_t *out);
int wl_gguf_get_arr_f64(const wl_gguf *g, const char *key, uint64_t j, double *out);
/* Raw little-endian element bytes of a fixed-size numeric array (may be
 * unaligned: read with memcpy). NULL for string/array element types. */
const void *wl_gguf_get_arr_data(const wl_gguf *g, const char *key);

/* ---- nested arrays and raw values (additions) -------------------------------
 * An array view walks arrays of any depth, including arrays of arrays. A view
 * is a small value the caller keeps; it stays valid until wl_gguf_close(). */
struct wl_gguf_arr {
    const wl_gguf *g;
    const void *node;             /* reader-internal */
    enum wl_gguf_vtype elem_type;
    uint64_t n;
};

/* View of the array under key (WL_ENOENT missing, WL_EINVAL not an array). */
int wl_gguf_get_arr_view(const wl_gguf *g, const char *key, struct wl_gguf_arr *out);
/* Element j of an array of arrays (WL_EINVAL wrong element type, WL_ERANGE j >= n). */
int wl_gguf_arr_sub(const struct wl_gguf_arr *a, uint64_t j, struct wl_gguf_arr *out);
/* Element j of an array of strings, O(1). */
int wl_gguf_arr_str(const struct wl_gguf_arr *a, uint64_t j, struct wl_gguf_str *out);
/* Element j of a numeric or bool array, converted as by the scalar getters. */
int wl_gguf_arr_i64(const struct wl_gguf_arr *a, uint64_t j, int64_t *out);
int wl_gguf_arr_u64(const struct wl_gguf_arr *a, uint64_t j, uint64_t *out);
int wl_gguf_arr_f64(const struct wl_gguf_arr *a, uint64_t j, double *out);
/* Raw little-endian bytes of a fixed-size element array; NULL otherwise. */
const void *wl_gguf_arr_data(const struct wl_gguf_arr *a);

/* The serialized value of key i exactly as stored in the file (the bytes after
 * the value type field; for an array: element type, count, elements). Used by
 * the writer to copy metadata verbatim. WL_ERANGE when i >= n_kv. */
int wl_gguf_kv_raw(const wl_gguf *g, uint64_t i, const void **data, uint64_t *n_bytes);

/* "UINT8", "STRING", "ARRAY", ...; "unknown" otherwise. */
const char *wl_gguf_vtype_name(uint32_t t);
/* Bytes of one value of a fixed-size type; 0 for STRING, ARRAY and unknown. */
uint32_t wl_gguf_vtype_size(uint32_t t);

/* ---- tensors ------------------------------------------------------------- */
uint64_t wl_gguf_n_tensors(const wl_gguf *g);
const struct wl_gguf_tensor *wl_gguf_tensor(const wl_gguf *g, uint64_t i);
const struct wl_gguf_tensor *wl_gguf_find_tensor(const wl_gguf *g, const char *name);

/* ---- test hook ------------------------------------------------------------
 * The name indexes' probe lengths: for every key (tensor name), the slots
 * looked at to find it, 1 in its home slot; the longest and the sum. With a
 * good hash both stay small whatever the names (see gguf.c). */
struct wl__gguf_probe_stats {
    uint64_t kv_max, kv_total;
    uint64_t tensor_max, tensor_total;
};
void wl__gguf_probe_stats(const wl_gguf *g, struct wl__gguf_probe_stats *out);

#endif

/* GGUF writer: builds a GGUF v3 file from metadata and tensors.
 *
 * Metadata is kept in insertion order; setting a key that already exists
 * replaces its value in place (so a tool can copy every key of a source file,
 * then override a few). Values of every type are supported: scalar setters,
 * numeric and string arrays, and wl_gguf_writer_set_raw() for any serialized
 * value including arrays of arrays (it is validated by the reader's parser).
 * "general.alignment" (UINT32, power of two) sets the data alignment;
 * a value below 32 (the GGUF default) is stored and used as 32, so no file
 * written here puts tensor data where the engine's kernels cannot read it
 * in place (see engine/model.h); one above WL_GGUF_MAX_ALIGNMENT (2 MiB,
 * which the reader refuses too) is WL_ERANGE. Another type or a value that
 * is not a power of two is WL_EINVAL.
 *
 * Tensor data is either borrowed (must stay valid until the writer is freed),
 * owned (the writer free()s it), or filled in when the file is written (a
 * callback produces it then, so a whole model need not be in memory at
 * once). Nothing is written until wl_gguf_writer_write(), through
 * util/outfile.h: a regular file appears atomically (temp file + rename),
 * symlinks are followed, FIFOs and devices are written in place.
 * One writer per thread; not thread-safe.
 */
#ifndef WL_ENGINE_GGUF_WRITE_H
#define WL_ENGINE_GGUF_WRITE_H

#include "engine/gguf.h"
#include "util/errmsg.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct wl_gguf_writer wl_gguf_writer;

int wl_gguf_writer_new(wl_gguf_writer **out);
void wl_gguf_writer_free(wl_gguf_writer *w); /* accepts NULL */

/* Scalars. Keys: non-empty, at most 65535 bytes, no NUL (WL_EINVAL otherwise). */
int wl_gguf_writer_set_u8(wl_gguf_writer *w, const char *key, uint8_t v);
int wl_gguf_writer_set_i8(wl_gguf_writer *w, const char *key, int8_t v);
int wl_gguf_writer_set_u16(wl_gguf_writer *w, const char *key, uint16_t v);
int wl_gguf_writer_set_i16(wl_gguf_writer *w, const char *key, int16_t v);
int wl_gguf_writer_set_u32(wl_gguf_writer *w, const char *key, uint32_t v);
int wl_gguf_writer_set_i32(wl_gguf_writer *w, const char *key, int32_t v);
int wl_gguf_writer_set_u64(wl_gguf_writer *w, const char *key, uint64_t v);
int wl_gguf_writer_set_i64(wl_gguf_writer *w, const char *key, int64_t v);
int wl_gguf_writer_set_f32(wl_gguf_writer *w, const char *key, float v);
int wl_gguf_writer_set_f64(wl_gguf_writer *w, const char *key, double v);
int wl_gguf_writer_set_bool(wl_gguf_writer *w, const char *key, bool v);
int wl_gguf_writer_set_str(wl_gguf_writer *w, const char *key, const char *s);
int wl_gguf_writer_set_strn(wl_gguf_writer *w, const char *key, const char *s, uint64_t len);

/* Array of n fixed-size elements of elem_type (not STRING or ARRAY), given in
 * host representation (e.g. const float * for FLOAT32, bool as 1 byte 0/1). */
int wl_gguf_writer_set_arr(wl_gguf_writer *w, const char *key, enum wl_gguf_vtype elem_type,
                           const void *data, uint64_t n);
/* Array of n strings. */
int wl_gguf_writer_set_arr_str(wl_gguf_writer *w, const char *key, const struct wl_gguf_str *items,
                               uint64_t n);
/* Any value, already serialized as in a GGUF file (the bytes after the type
 * field). Checked with the reader's rules; WL_EFORMAT if malformed. */
int wl_gguf_writer_set_raw(wl_gguf_writer *w, const char *key, enum wl_gguf_vtype type,
                           const void *bytes, uint64_t n_bytes);
/* Copies key i of src (type and value, verbatim). */
int wl_gguf_writer_copy_kv(wl_gguf_writer *w, const wl_gguf *src, uint64_t i);
/* Removes key; WL_ENOENT when absent. */
int wl_gguf_writer_remove(wl_gguf_writer *w, const char *key);
uint64_t wl_gguf_writer_n_kv(const wl_gguf_writer *w);

/* Adds a tensor. ne[0] is the row length; n_dims 0..4 (0: a scalar, one
 * element, ne may be NULL; as the reader accepts); data must hold exactly
 * the type's byte size for the shape (n_bytes is checked). Names must be
 * unique. The _owned variant takes ownership of data (malloc'd) even when it
 * fails. */
int wl_gguf_writer_add_tensor(wl_gguf_writer *w, const char *name, enum wl_ttype type,
                              uint32_t n_dims, const uint64_t *ne, const void *data,
                              uint64_t n_bytes);
int wl_gguf_writer_add_tensor_owned(wl_gguf_writer *w, const char *name, enum wl_ttype type,
                                    uint32_t n_dims, const uint64_t *ne, void *data,
                                    uint64_t n_bytes);
/* Produces a tensor's n_bytes bytes into dst when the file is written: 0, or
 * a WL_E* code with err (which may be NULL) saying what failed. dst is never
 * NULL, also when n_bytes is 0 (a dimension of 0). */
typedef int (*wl_gguf_fill_fn)(void *arg, void *dst, uint64_t n_bytes, struct wl_errmsg *err);
/* Adds a tensor whose bytes fill(arg, ...) produces in tensor order at each
 * write, through one buffer the size of the largest such tensor. The writer
 * owns arg (malloc'd or NULL: free()d with the writer, even when this
 * fails). When a fill fails, the write fails with its code and message and
 * leaves no new file behind (the old one, if any, as it was). */
int wl_gguf_writer_add_tensor_fill(wl_gguf_writer *w, const char *name, enum wl_ttype type,
                                   uint32_t n_dims, const uint64_t *ne, uint64_t n_bytes,
                                   wl_gguf_fill_fn fill, void *arg);
uint64_t wl_gguf_writer_n_tensors(const wl_gguf_writer *w);

/* Writes the file to path as util/outfile.h writes an output: symlinks are
 * followed and their final target written; a regular file, new or existing,
 * is replaced atomically (a temporary file next to it with the old file's
 * mode, or 0666 less the umask for a new one; fsync; rename), so a failure
 * leaves the old file as it was and no temporary file; a FIFO, a device or
 * anything in /dev or /proc is written in place, sequentially (a failure
 * there leaves what was written so far). A directory, a missing directory
 * or a file that cannot be written fail before anything is produced, with
 * "cannot write PATH: <cause>" in err. The written pages are dropped from
 * the page cache, so that the first load maps the weights on 2 MiB pages
 * where the kernel can (util/hugepage.h). */
int wl_gguf_writer_write(const wl_gguf_writer *w, const char *path, struct wl_errmsg *err);
/* Writes the file to the open stream f (stdout, a pipe: sequential writes
 * only) and flushes it; name is what messages call it. A failure leaves
 * what was written so far, with "cannot write NAME: <cause>" in err and
 * errno set to the cause (a failing fill's own message instead, as above,
 * and errno 0). */
int wl_gguf_writer_write_stream(const wl_gguf_writer *w, FILE *f, const char *name,
                                struct wl_errmsg *err);
/* Serializes into a malloc'd buffer the caller frees (a failing fill's
 * code is returned; its message is dropped). */
int wl_gguf_writer_to_memory(const wl_gguf_writer *w, void **buf, size_t *size);

#endif

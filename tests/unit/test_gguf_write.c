/* engine/gguf_write: round trips through the reader (every value type, nested
 * arrays, alignment, tensor bytes), byte-exact rewrites of the real model and
 * vocabulary files, the written file's pages dropped from the page cache, tensors
 * filled at write time, where the file goes (symlinks, modes, FIFOs, bad
 * directories), 0-dimension tensors (written, and copied by model
 * quantize), and the writer's own argument checks. */
#include "test_support.h"

#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "wattlens/error.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static wl_gguf *reopen(const wl_gguf_writer *w, void **buf)
{
    size_t size = 0;
    assert_int_equal(wl_gguf_writer_to_memory(w, buf, &size), 0);
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    int rc = wl_gguf_open_memory(*buf, size, &g, &err);
    if (rc)
        fail_msg("reopen: %s", err.text);
    return g;
}

static void test_every_value_type_round_trips(void **state)
{
    (void)state;
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_u8(w, "u8", 250), 0);
    assert_int_equal(wl_gguf_writer_set_i8(w, "i8", -100), 0);
    assert_int_equal(wl_gguf_writer_set_u16(w, "u16", 65535), 0);
    assert_int_equal(wl_gguf_writer_set_i16(w, "i16", -30000), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "u32", 4000000000u), 0);
    assert_int_equal(wl_gguf_writer_set_i32(w, "i32", -2000000000), 0);
    assert_int_equal(wl_gguf_writer_set_u64(w, "u64", UINT64_MAX), 0);
    assert_int_equal(wl_gguf_writer_set_i64(w, "i64", INT64_MIN), 0);
    assert_int_equal(wl_gguf_writer_set_f32(w, "f32", 1.5f), 0);
    assert_int_equal(wl_gguf_writer_set_f64(w, "f64", 1e300), 0);
    assert_int_equal(wl_gguf_writer_set_bool(w, "bool", true), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "str", "héllo"), 0);
    assert_int_equal(wl_gguf_writer_set_strn(w, "bin", "a\0b", 3), 0);
    float fa[3] = {0.25f, -1.0f, 3.0f};
    assert_int_equal(wl_gguf_writer_set_arr(w, "farr", WL_GGUF_FLOAT32, fa, 3), 0);
    int32_t ia[2] = {-5, 7};
    assert_int_equal(wl_gguf_writer_set_arr(w, "iarr", WL_GGUF_INT32, ia, 2), 0);
    assert_int_equal(wl_gguf_writer_set_arr(w, "empty", WL_GGUF_UINT64, NULL, 0), 0);
    struct wl_gguf_str sa[3] = {{"x", 1}, {"", 0}, {"yz", 2}};
    assert_int_equal(wl_gguf_writer_set_arr_str(w, "sarr", sa, 3), 0);
    /* [[1, 2], [3]] as UINT8 arrays, serialized by hand. */
    const uint8_t nested[] = {9, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,       /* ARRAY x 2 */
                              0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2, /* [1, 2] */
                              0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3};   /* [3] */
    assert_int_equal(wl_gguf_writer_set_raw(w, "nested", WL_GGUF_ARRAY, nested, sizeof nested), 0);
    assert_int_equal(wl_gguf_writer_set_raw(w, "bad", WL_GGUF_ARRAY, nested, sizeof nested - 1),
                     WL_EFORMAT);
    assert_int_equal(wl_gguf_writer_set_raw(w, "trailing", WL_GGUF_UINT8, nested, 2), WL_EFORMAT);
    assert_int_equal(wl_gguf_writer_set_u32(w, "general.alignment", 64), 0);
    assert_int_equal(wl_gguf_writer_n_kv(w), 19);

    float t0[8];
    for (int i = 0; i < 8; i++)
        t0[i] = (float)i * 0.5f;
    uint8_t *t1 = malloc(34 * 2);
    for (int i = 0; i < 68; i++)
        t1[i] = (uint8_t)(i * 13);
    uint64_t ne0[2] = {4, 2}, ne1[2] = {32, 2};
    assert_int_equal(wl_gguf_writer_add_tensor(w, "t0", WL_TTYPE_F32, 2, ne0, t0, sizeof t0), 0);
    assert_int_equal(wl_gguf_writer_add_tensor_owned(w, "t1", WL_TTYPE_Q8_0, 2, ne1, t1, 68), 0);

    void *buf = NULL;
    wl_gguf *g = reopen(w, &buf);
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    struct wl_gguf_str s;
    assert_int_equal(wl_gguf_get_i64(g, "u8", &i), 0), assert_int_equal(i, 250);
    assert_int_equal(wl_gguf_get_i64(g, "i8", &i), 0), assert_int_equal(i, -100);
    assert_int_equal(wl_gguf_get_i64(g, "u16", &i), 0), assert_int_equal(i, 65535);
    assert_int_equal(wl_gguf_get_i64(g, "i16", &i), 0), assert_int_equal(i, -30000);
    assert_int_equal(wl_gguf_get_u64(g, "u32", &u), 0), assert_int_equal(u, 4000000000u);
    assert_int_equal(wl_gguf_get_i64(g, "i32", &i), 0), assert_int_equal(i, -2000000000);
    assert_int_equal(wl_gguf_get_u64(g, "u64", &u), 0), assert_true(u == UINT64_MAX);
    assert_int_equal(wl_gguf_get_i64(g, "i64", &i), 0), assert_true(i == INT64_MIN);
    assert_int_equal(wl_gguf_get_f64(g, "f32", &f), 0), assert_true(f == 1.5);
    assert_int_equal(wl_gguf_get_f64(g, "f64", &f), 0), assert_true(f == 1e300);
    assert_int_equal(wl_gguf_get_bool(g, "bool", &b), 0), assert_true(b);
    assert_int_equal(wl_gguf_get_str(g, "str", &s), 0);
    assert_int_equal(s.len, 6), assert_memory_equal(s.data, "héllo", 6);
    assert_int_equal(wl_gguf_get_str(g, "bin", &s), 0);
    assert_int_equal(s.len, 3), assert_memory_equal(s.data, "a\0b", 3);
    assert_int_equal(wl_gguf_get_arr_f64(g, "farr", 1, &f), 0), assert_true(f == -1.0);
    assert_int_equal(wl_gguf_get_arr_i64(g, "iarr", 0, &i), 0), assert_int_equal(i, -5);
    enum wl_gguf_vtype et;
    assert_int_equal(wl_gguf_get_arr(g, "empty", &et, &u), 0);
    assert_int_equal(et, WL_GGUF_UINT64), assert_int_equal(u, 0);
    assert_int_equal(wl_gguf_get_arr_str(g, "sarr", 2, &s), 0);
    assert_int_equal(s.len, 2), assert_memory_equal(s.data, "yz", 2);
    assert_int_equal(wl_gguf_get_arr_str(g, "sarr", 1, &s), 0), assert_int_equal(s.len, 0);
    struct wl_gguf_arr a, sub;
    assert_int_equal(wl_gguf_get_arr_view(g, "nested", &a), 0);
    assert_int_equal(a.n, 2);
    assert_int_equal(wl_gguf_arr_sub(&a, 1, &sub), 0);
    assert_int_equal(wl_gguf_arr_i64(&sub, 0, &i), 0), assert_int_equal(i, 3);
    assert_int_equal(wl_gguf_find_kv(g, "bad"), -1);

    assert_int_equal(wl_gguf_alignment(g), 64);
    const struct wl_gguf_tensor *r0 = wl_gguf_find_tensor(g, "t0");
    const struct wl_gguf_tensor *r1 = wl_gguf_find_tensor(g, "t1");
    assert_non_null(r0), assert_non_null(r1);
    assert_int_equal(r1->offset, 64);
    assert_int_equal(r1->ne[0], 32), assert_int_equal(r1->ne[1], 2);
    assert_memory_equal(r0->data, t0, sizeof t0);
    assert_memory_equal(r1->data, t1, 68);
    assert_int_equal((uintptr_t)((const char *)r0->data - (const char *)buf) % 64, 0);
    wl_gguf_close(g);
    free(buf);
    wl_gguf_writer_free(w);
}

/* Rewriting a real file from what the reader sees reproduces it byte for byte. */
static void rewrite_and_compare(const char *rel)
{
    const char *path = wl_test_data_path(rel);
    size_t orig_size = 0;
    char *orig = wl_test_read_file(path, &orig_size);
    assert_non_null(orig);
    struct wl_errmsg err;
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open(path, &g, &err), 0);
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    for (uint64_t k = 0; k < wl_gguf_n_kv(g); k++)
        assert_int_equal(wl_gguf_writer_copy_kv(w, g, k), 0);
    for (uint64_t t = 0; t < wl_gguf_n_tensors(g); t++) {
        const struct wl_gguf_tensor *ti = wl_gguf_tensor(g, t);
        assert_int_equal(wl_gguf_writer_add_tensor(w, ti->name, ti->type, ti->n_dims, ti->ne,
                                                   ti->data, ti->n_bytes),
                         0);
    }
    char *dir = wl_test_tmpdir();
    char out[1024];
    snprintf(out, sizeof out, "%s/copy.gguf", dir);
    assert_int_equal(wl_gguf_writer_write(w, out, &err), 0);
    size_t copy_size = 0;
    char *copy = wl_test_read_file(out, &copy_size);
    assert_non_null(copy);
    assert_int_equal(copy_size, orig_size);
    assert_memory_equal(copy, orig, orig_size);
    free(copy);
    free(orig);
    wl_gguf_writer_free(w);
    wl_gguf_close(g);
    wl_test_rmtree(dir);
    free(dir);
}

static void test_rewrite_of_real_files_is_byte_identical(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    rewrite_and_compare("models/stories260K.gguf");
    rewrite_and_compare("vocab/ggml-vocab-llama-spm.gguf");
    rewrite_and_compare("vocab/ggml-vocab-gpt-2.gguf");
}

/* Pages of path in the page cache (mincore on a fresh mapping reports the
 * cache without faulting anything in); -1 when it cannot tell. */
static long cached_pages(const char *path, long *total)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const long page = sysconf(_SC_PAGESIZE);
    const size_t len = (size_t)st.st_size;
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    *total = (long)((len + (size_t)page - 1) / (size_t)page);
    unsigned char *vec = malloc((size_t)*total);
    long n = -1;
    if (vec && mincore(p, len, vec) == 0) {
        n = 0;
        for (long i = 0; i < *total; i++)
            n += vec[i] & 1;
    }
    free(vec);
    munmap(p, len);
    return n;
}

/* A new directory (heap; the caller removes and frees it) on a file system
 * that drops pages from its cache: TMPDIR's, else, where that is a tmpfs
 * (Debian 13's /tmp), one in the build tree; NULL when both are tmpfs. */
static char *disk_backed_tmpdir(void)
{
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    struct statfs fs;
    assert_int_equal(statfs(dir, &fs), 0);
    if (fs.f_type != TMPFS_MAGIC)
        return dir;
    wl_test_rmtree(dir);
    free(dir);
    char tmpl[] = WL_BINARY_DIR "/test_gguf_write.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    assert_int_equal(statfs(tmpl, &fs), 0);
    if (fs.f_type == TMPFS_MAGIC) {
        wl_test_rmtree(tmpl);
        return NULL;
    }
    dir = strdup(tmpl);
    assert_non_null(dir);
    return dir;
}

/* The writer drops what it wrote from the page cache (gguf_write.h: a
 * cache filled by writing is small pages; the first load should read the
 * file in through its huge-page mapping). tmpfs keeps its pages by design,
 * so the check needs a disk-backed directory: TMPDIR's, or the build
 * tree's. */
static void test_written_file_leaves_the_page_cache(void **state)
{
    char *dir = disk_backed_tmpdir();
    *state = dir; /* removed by remove_state_dir, on a failure too */
    if (!dir) {
        print_message("TMPDIR and the build tree are tmpfs: the page cache is not checked\n");
        skip();
    }
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    enum { N = 1 << 18 }; /* 1 MiB of F32 */
    float *t = malloc(N * sizeof *t);
    assert_non_null(t);
    for (int i = 0; i < N; i++)
        t[i] = (float)i;
    uint64_t ne[2] = {1024, N / 1024};
    assert_int_equal(wl_gguf_writer_add_tensor_owned(w, "t", WL_TTYPE_F32, 2, ne, t, N * sizeof *t),
                     0);
    char path[1024];
    snprintf(path, sizeof path, "%s/big.gguf", dir);
    struct wl_errmsg err;
    assert_int_equal(wl_gguf_writer_write(w, path, &err), 0);
    long total = 0;
    const long cached = cached_pages(path, &total);
    assert_true(total >= 256);
    assert_int_equal(cached, 0);
    /* and the file is whole */
    wl_gguf *g = NULL;
    assert_int_equal(wl_gguf_open(path, &g, &err), 0);
    const struct wl_gguf_tensor *ti = wl_gguf_tensor(g, 0);
    assert_non_null(ti);
    assert_true(((const float *)ti->data)[N - 1] == (float)(N - 1));
    wl_gguf_close(g);
    wl_gguf_writer_free(w);
}

/* Teardown: removes and frees the directory a test left in *state (one in
 * the build tree is cleaned by nothing else), whether it passed or not. */
static int remove_state_dir(void **state)
{
    char *dir = *state;
    if (dir) {
        wl_test_rmtree(dir);
        free(dir);
        *state = NULL;
    }
    return 0;
}

/* A fill tensor's argument: the value to write, how many times fill ran,
 * and whether it fails. */
struct fill_arg {
    float value;
    int *calls;
    bool fail;
};

static int fill_floats(void *arg, void *dst, uint64_t n_bytes, struct wl_errmsg *err)
{
    const struct fill_arg *a = arg;
    (*a->calls)++;
    if (a->fail)
        return wl_errmsg_set(err, WL_EFORMAT, "tensor 'bad': made to fail");
    float *f = dst;
    for (uint64_t i = 0; i < n_bytes / sizeof *f; i++)
        f[i] = a->value + (float)i;
    return 0;
}

static struct fill_arg *new_fill_arg(float value, int *calls, bool fail)
{
    struct fill_arg *a = malloc(sizeof *a);
    assert_non_null(a);
    *a = (struct fill_arg){value, calls, fail};
    return a;
}

/* Tensors filled at write time give the same bytes as the same tensors
 * borrowed, at every write, with fills of different sizes sharing one
 * buffer; a failing fill fails the write with its own message, and leaves
 * the file that was there (and no temporary file) behind. */
static void test_fill_tensors_write_the_same_bytes_and_fail_cleanly(void **state)
{
    (void)state;
    enum { A = 96, B = 32 };
    float a[A], b[B];
    for (int i = 0; i < A; i++)
        a[i] = 1.0f + (float)i;
    for (int i = 0; i < B; i++)
        b[i] = -7.0f + (float)i;
    uint64_t ne_a[2] = {32, 3}, ne_b[1] = {B};
    wl_gguf_writer *ref = NULL, *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&ref), 0);
    assert_int_equal(wl_gguf_writer_add_tensor(ref, "b", WL_TTYPE_F32, 1, ne_b, b, sizeof b), 0);
    assert_int_equal(wl_gguf_writer_add_tensor(ref, "a", WL_TTYPE_F32, 2, ne_a, a, sizeof a), 0);
    assert_int_equal(wl_gguf_writer_add_tensor(ref, "b2", WL_TTYPE_F32, 1, ne_b, b, sizeof b), 0);
    int calls = 0;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_add_tensor_fill(w, "b", WL_TTYPE_F32, 1, ne_b, sizeof b,
                                                    fill_floats,
                                                    new_fill_arg(-7.0f, &calls, false)),
                     0);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "a", WL_TTYPE_F32, 2, ne_a, a, sizeof a), 0);
    assert_int_equal(wl_gguf_writer_add_tensor_fill(w, "b2", WL_TTYPE_F32, 1, ne_b, sizeof b,
                                                    fill_floats,
                                                    new_fill_arg(-7.0f, &calls, false)),
                     0);
    /* bad arguments: no callback, wrong size, duplicate name (arg freed) */
    assert_int_equal(wl_gguf_writer_add_tensor_fill(w, "c", WL_TTYPE_F32, 1, ne_b, sizeof b, NULL,
                                                    new_fill_arg(0, &calls, false)),
                     WL_EINVAL);
    assert_int_equal(wl_gguf_writer_add_tensor_fill(w, "c", WL_TTYPE_F32, 1, ne_b, 4, fill_floats,
                                                    new_fill_arg(0, &calls, false)),
                     WL_EINVAL);
    assert_int_equal(wl_gguf_writer_add_tensor_fill(w, "a", WL_TTYPE_F32, 1, ne_b, sizeof b,
                                                    fill_floats, new_fill_arg(0, &calls, false)),
                     WL_EEXIST);
    void *want, *got;
    size_t want_n, got_n;
    assert_int_equal(wl_gguf_writer_to_memory(ref, &want, &want_n), 0);
    for (int rep = 1; rep <= 2; rep++) {
        assert_int_equal(wl_gguf_writer_to_memory(w, &got, &got_n), 0);
        assert_int_equal(calls, 2 * rep);
        assert_int_equal(got_n, want_n);
        assert_memory_equal(got, want, want_n);
        free(got);
    }

    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    struct wl_errmsg err;
    assert_int_equal(wl_gguf_writer_write(w, path, &err), 0);
    assert_int_equal(calls, 6);
    assert_int_equal(wl_gguf_writer_add_tensor_fill(w, "bad", WL_TTYPE_F32, 1, ne_b, sizeof b,
                                                    fill_floats, new_fill_arg(0, &calls, true)),
                     0);
    assert_int_equal(wl_gguf_writer_write(w, path, &err), WL_EFORMAT);
    assert_string_equal(err.text, "tensor 'bad': made to fail");
    got = NULL;
    assert_int_equal(wl_gguf_writer_to_memory(w, &got, &got_n), WL_EFORMAT);
    assert_null(got);
    /* the earlier file is still whole, and it is the only file */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    got = malloc(want_n + 1);
    assert_int_equal(fread(got, 1, want_n + 1, f), want_n);
    fclose(f);
    assert_memory_equal(got, want, want_n);
    free(got);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s')\" = m.gguf", dir);
    assert_int_equal(system(cmd), 0);
    wl_test_rmtree(dir);
    free(dir);
    free(want);
    wl_gguf_writer_free(w);
    wl_gguf_writer_free(ref);
}

/* The file is written where PATH points and PATH stays what it was
 * (util/outfile.h): a symlink's target is written and the link kept, an
 * existing file keeps its mode, a new one gets 0666 less the umask, a FIFO
 * gets the bytes in place and stays a FIFO; a failed write leaves the old
 * file behind the link as it was. */
static void test_write_follows_links_keeps_modes_and_fifos(void **state)
{
    (void)state;
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "general.name", "out"), 0);
    void *want;
    size_t want_n;
    assert_int_equal(wl_gguf_writer_to_memory(w, &want, &want_n), 0);
    char *dir = wl_test_tmpdir();
    assert_non_null(dir);
    char real[1024], link[1024], fresh[1024], fifo[1024];
    snprintf(real, sizeof real, "%s/real.gguf", dir);
    snprintf(link, sizeof link, "%s/link.gguf", dir);
    snprintf(fresh, sizeof fresh, "%s/fresh.gguf", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(wl_test_write_file(real, "old", 3), 0);
    assert_int_equal(chmod(real, 0600), 0);
    assert_int_equal(symlink("real.gguf", link), 0);
    struct wl_errmsg err;
    assert_int_equal(wl_gguf_writer_write(w, link, &err), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(real, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    size_t n = 0;
    char *got = wl_test_read_file(real, &n);
    assert_non_null(got);
    assert_int_equal(n, want_n);
    assert_memory_equal(got, want, want_n);
    free(got);

    mode_t mask = umask(077);
    int rc = wl_gguf_writer_write(w, fresh, &err);
    umask(mask);
    assert_int_equal(rc, 0);
    assert_int_equal(stat(fresh, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK); /* a reader, so the write does not wait */
    assert_true(rd >= 0);
    assert_int_equal(wl_gguf_writer_write(w, fifo, &err), 0);
    got = malloc(want_n + 1);
    assert_non_null(got);
    assert_int_equal(read(rd, got, want_n + 1), (ssize_t)want_n);
    assert_memory_equal(got, want, want_n);
    free(got);
    close(rd);
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));

    /* a missing directory and a directory: a clear message naming PATH */
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/missing/x.gguf", dir);
    assert_int_equal(wl_gguf_writer_write(w, bad, &err), WL_ENOENT);
    assert_non_null(strstr(err.text, "cannot write"));
    assert_non_null(strstr(err.text, "No such file or directory"));
    assert_int_not_equal(wl_gguf_writer_write(w, dir, &err), 0);
    assert_non_null(strstr(err.text, "Is a directory"));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "! ls -A '%s' | grep -q tmp", dir);
    assert_int_equal(system(cmd), 0);
    wl_test_rmtree(dir);
    free(dir);
    free(want);
    wl_gguf_writer_free(w);
}

/* An alignment below 32 is written as 32, set directly or copied from a
 * file that has one (data at alignment 1 or 2 can sit at odd addresses,
 * which the engine's kernels cannot read in place); above 32 it is kept. */
static void test_alignment_below_32_is_written_as_32(void **state)
{
    (void)state;
    const uint32_t asked[] = {1, 2, 16, 32, 64};
    for (size_t k = 0; k < sizeof asked / sizeof asked[0]; k++) {
        const uint32_t want = asked[k] < 32 ? 32 : asked[k];
        wl_gguf_writer *w = NULL;
        assert_int_equal(wl_gguf_writer_new(&w), 0);
        assert_int_equal(wl_gguf_writer_set_str(w, "general.name", "x"), 0); /* odd header */
        assert_int_equal(wl_gguf_writer_set_u32(w, "general.alignment", asked[k]), 0);
        const float t0[3] = {1, 2, 3}, t1[8] = {4};
        const uint64_t ne0[1] = {3}, ne1[1] = {8};
        assert_int_equal(wl_gguf_writer_add_tensor(w, "t0", WL_TTYPE_F32, 1, ne0, t0, sizeof t0),
                         0);
        assert_int_equal(wl_gguf_writer_add_tensor(w, "t1", WL_TTYPE_F32, 1, ne1, t1, sizeof t1),
                         0);
        void *buf = NULL;
        wl_gguf *g = reopen(w, &buf);
        int64_t v = 0;
        assert_int_equal(wl_gguf_get_i64(g, "general.alignment", &v), 0);
        assert_int_equal(v, want);
        assert_int_equal(wl_gguf_alignment(g), want);
        assert_int_equal(wl_gguf_data_offset(g) % want, 0);
        assert_int_equal(wl_gguf_find_tensor(g, "t1")->offset % want, 0);
        wl_gguf_close(g);
        free(buf);
        wl_gguf_writer_free(w);
    }
    /* copied from a file at alignment 1 (as model quantize copies every key) */
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_gguf/valid-model-align1.gguf",
             WL_SOURCE_DIR);
    wl_gguf *src = NULL;
    assert_int_equal(wl_gguf_open(path, &src, NULL), 0);
    assert_int_equal(wl_gguf_alignment(src), 1);
    wl_gguf_writer *c = NULL;
    assert_int_equal(wl_gguf_writer_new(&c), 0);
    for (uint64_t k = 0; k < wl_gguf_n_kv(src); k++)
        assert_int_equal(wl_gguf_writer_copy_kv(c, src, k), 0);
    for (uint64_t i = 0; i < wl_gguf_n_tensors(src); i++) {
        const struct wl_gguf_tensor *t = wl_gguf_tensor(src, i);
        assert_int_equal(
            wl_gguf_writer_add_tensor(c, t->name, t->type, t->n_dims, t->ne, t->data, t->n_bytes),
            0);
    }
    void *cbuf = NULL;
    wl_gguf *h = reopen(c, &cbuf);
    assert_int_equal(wl_gguf_alignment(h), 32);
    for (uint64_t i = 0; i < wl_gguf_n_tensors(h); i++)
        assert_int_equal((wl_gguf_data_offset(h) + wl_gguf_tensor(h, i)->offset) % 32, 0);
    wl_gguf_close(h);
    free(cbuf);
    wl_gguf_writer_free(c);
    wl_gguf_close(src);
}

/* A 0-dimension tensor (a scalar: one element) is valid GGUF and the reader
 * accepts it, so the writer writes it too, and model quantize copies it
 * (it used to fail with "cannot add tensor 'X'" and no reason). */
static void test_zero_dim_tensor_is_written_and_quantized(void **state)
{
    (void)state;
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "general.architecture", "llama"), 0);
    const float scalar = 2.5f, row[4] = {1, 2, 3, 4};
    const uint64_t ne[1] = {4};
    assert_int_equal(
        wl_gguf_writer_add_tensor(w, "s", WL_TTYPE_F32, 0, NULL, &scalar, sizeof scalar), 0);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "r", WL_TTYPE_F32, 1, ne, row, sizeof row), 0);
    /* and 0 elements, of a dimension of 0 (data == NULL when read): copied,
     * or converted, by quantize (which once passed NULL to memcpy) */
    const uint64_t ne_z[1] = {0}, ne_zm[2] = {32, 0};
    assert_int_equal(wl_gguf_writer_add_tensor(w, "z", WL_TTYPE_F32, 1, ne_z, NULL, 0), 0);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "zm.weight", WL_TTYPE_F32, 2, ne_zm, NULL, 0), 0);
    /* one element: 4 bytes of F32, and no block type whose block is longer */
    assert_int_equal(wl_gguf_writer_add_tensor(w, "x", WL_TTYPE_F32, 0, NULL, row, 8), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "q", WL_TTYPE_Q8_0, 0, NULL, row, 34), WL_EINVAL);
    void *buf = NULL;
    wl_gguf *g = reopen(w, &buf);
    const struct wl_gguf_tensor *t = wl_gguf_find_tensor(g, "s");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 0);
    assert_int_equal(t->n_elements, 1);
    assert_int_equal(t->n_bytes, 4);
    assert_memory_equal(t->data, &scalar, 4);
    wl_gguf_close(g);
    free(buf);

    char *dir = wl_test_tmpdir();
    char in[1024], out[1024], args[3072];
    snprintf(in, sizeof in, "%s/in.gguf", dir);
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    struct wl_errmsg err;
    assert_int_equal(wl_gguf_writer_write(w, in, &err), 0);
    snprintf(args, sizeof args, "model quantize '%s' '%s' --type q8_0 -t 1", in, out);
    char *so = NULL, *se = NULL;
    int rc = wl_test_run_cli(args, &so, &se);
    if (rc != 0)
        fprintf(stderr, "quantize: rc %d: %s\n", rc, se ? se : "");
    assert_int_equal(rc, 0);
    wl_gguf *q = NULL;
    assert_int_equal(wl_gguf_open(out, &q, NULL), 0);
    t = wl_gguf_find_tensor(q, "s");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 0);
    assert_int_equal(t->type, WL_TTYPE_F32);
    assert_memory_equal(t->data, &scalar, 4);
    t = wl_gguf_find_tensor(q, "z");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->ne[0], 0);
    assert_null(t->data);
    t = wl_gguf_find_tensor(q, "zm.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 32);
    assert_int_equal(t->ne[1], 0);
    assert_int_equal(t->n_bytes, 0);
    wl_gguf_close(q);
    free(so);
    free(se);
    wl_test_rmtree(dir);
    free(dir);
    wl_gguf_writer_free(w);
}

static int fill_checks_dst(void *arg, void *dst, uint64_t n_bytes, struct wl_errmsg *err)
{
    (void)err;
    int *calls = arg;
    (*calls)++;
    assert_non_null(dst); /* a buffer, even for 0 bytes (memcpy's arguments may not be NULL) */
    memset(dst, 0x11, (size_t)n_bytes);
    return 0;
}

/* A fill is called with a buffer, never NULL, also for a tensor of 0 bytes
 * and when every filled tensor has 0 (the buffer the size of the largest
 * one then has none): a fill that copies with memcpy(dst, src, 0) would
 * pass NULL, which is undefined. */
static void test_fill_of_zero_bytes_gets_a_buffer(void **state)
{
    (void)state;
    for (int with_data = 0; with_data < 2; with_data++) {
        wl_gguf_writer *w = NULL;
        assert_int_equal(wl_gguf_writer_new(&w), 0);
        int *calls = malloc(sizeof *calls); /* owned by the writer */
        assert_non_null(calls);
        *calls = 0;
        const uint64_t ne_z[1] = {0}, ne_d[1] = {32};
        assert_int_equal(wl_gguf_writer_add_tensor_fill(w, "z", WL_TTYPE_F32, 1, ne_z, 0,
                                                        fill_checks_dst, calls),
                         0);
        if (with_data) {
            int *other = malloc(sizeof *other);
            assert_non_null(other);
            *other = 0;
            assert_int_equal(wl_gguf_writer_add_tensor_fill(w, "d", WL_TTYPE_F32, 1, ne_d, 128,
                                                            fill_checks_dst, other),
                             0);
        }
        void *buf = NULL;
        size_t size = 0;
        assert_int_equal(wl_gguf_writer_to_memory(w, &buf, &size), 0);
        assert_int_equal(*calls, 1);
        free(buf);
        wl_gguf_writer_free(w);
    }
}

static void test_writer_rejects_bad_arguments(void **state)
{
    (void)state;
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "", 1), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_set_u32(w, NULL, 1), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_set_u32(w, "general.alignment", 48), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_set_u64(w, "general.alignment", 64), WL_EINVAL);
    /* at most 2 MiB, the reader's bound: the writer pads to it */
    assert_int_equal(wl_gguf_writer_set_u32(w, "general.alignment", 1u << 22), WL_ERANGE);
    assert_int_equal(wl_gguf_writer_set_u32(w, "general.alignment", 1u << 31), WL_ERANGE);
    assert_int_equal(wl_gguf_writer_n_kv(w), 0);
    assert_int_equal(wl_gguf_writer_set_u32(w, "general.alignment", 1u << 21), 0);
    assert_int_equal(wl_gguf_writer_remove(w, "general.alignment"), 0);
    assert_int_equal(wl_gguf_writer_set_arr(w, "a", WL_GGUF_STRING, "x", 1), WL_EINVAL);
    uint8_t bools[2] = {1, 2};
    assert_int_equal(wl_gguf_writer_set_arr(w, "b", WL_GGUF_BOOL, bools, 2), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_n_kv(w), 0);
    /* replace keeps one entry and the new value; remove deletes */
    assert_int_equal(wl_gguf_writer_set_u32(w, "k", 1), 0);
    assert_int_equal(wl_gguf_writer_set_str(w, "k", "two"), 0);
    assert_int_equal(wl_gguf_writer_n_kv(w), 1);
    assert_int_equal(wl_gguf_writer_remove(w, "k"), 0);
    assert_int_equal(wl_gguf_writer_remove(w, "k"), WL_ENOENT);

    float d[64] = {0};
    uint64_t ne[2] = {32, 2}, odd[1] = {33};
    assert_int_equal(wl_gguf_writer_add_tensor(w, "t", WL_TTYPE_F32, 2, ne, d, 100), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "t", WL_TTYPE_F32, 0, ne, d, 256), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "t", WL_TTYPE_F32, 5, ne, d, 256), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "t", 4, 2, ne, d, 256), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "t", WL_TTYPE_Q8_0, 1, odd, d, 34), WL_EINVAL);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "t", WL_TTYPE_F32, 2, ne, d, 256), 0);
    assert_int_equal(wl_gguf_writer_add_tensor(w, "t", WL_TTYPE_F32, 2, ne, d, 256), WL_EEXIST);
    assert_int_equal(wl_gguf_writer_n_tensors(w), 1);

    struct wl_errmsg err;
    assert_int_equal(wl_gguf_writer_write(w, "/nonexistent-dir/x.gguf", &err), WL_ENOENT);
    assert_non_null(strstr(err.text, "/nonexistent-dir/x.gguf"));
    wl_gguf_writer_free(w);
    wl_gguf_writer_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_value_type_round_trips),
        cmocka_unit_test(test_rewrite_of_real_files_is_byte_identical),
        cmocka_unit_test_teardown(test_written_file_leaves_the_page_cache, remove_state_dir),
        cmocka_unit_test(test_fill_tensors_write_the_same_bytes_and_fail_cleanly),
        cmocka_unit_test(test_write_follows_links_keeps_modes_and_fifos),
        cmocka_unit_test(test_alignment_below_32_is_written_as_32),
        cmocka_unit_test(test_zero_dim_tensor_is_written_and_quantized),
        cmocka_unit_test(test_fill_of_zero_bytes_gets_a_buffer),
        cmocka_unit_test(test_writer_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
